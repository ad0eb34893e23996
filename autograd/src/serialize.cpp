// safetensors reader and writer. The reader treats the file as hostile: every length, offset
// and shape is checked (with overflow-safe arithmetic) before a single data byte is touched.
#include "xgrad/autograd/serialize.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <limits>
#include <set>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

namespace xgrad {

// NOTE: safetensors data is little-endian; tensors are copied byte for byte.
static_assert(std::endian::native == std::endian::little, "xgrad's safetensors I/O assumes a little-endian host");

namespace {

// The writer keeps insertion order (__metadata__ first); the reader uses std::map objects, whose
// inserts stay O(log n) on a hostile 100 MB header (ordered_json's are linear).
using Json = nlohmann::ordered_json;
using ReadJson = nlohmann::json;

constexpr std::size_t kLengthBytes = 8;
constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;  // the reference implementation's limit
constexpr int kMaxHeaderDepth = 128;                    // the reference parser's (serde_json) limit
constexpr const char* kMetadataKey = "__metadata__";
constexpr std::string_view kTempTag = ".xgrad-tmp.";

const char* dtype_tag(Dtype d) {
  switch (d) {
    case Dtype::float32:
      return "F32";
    case Dtype::float64:
      return "F64";
    case Dtype::int64:
      return "I64";
    case Dtype::int32:
      return "I32";
    case Dtype::boolean:
      return "BOOL";
  }
  throw Error("safetensors: invalid dtype");
}

bool parse_dtype_tag(const std::string& s, Dtype& out) {
  if (s == "F32")
    out = Dtype::float32;
  else if (s == "F64")
    out = Dtype::float64;
  else if (s == "I64")
    out = Dtype::int64;
  else if (s == "I32")
    out = Dtype::int32;
  else if (s == "BOOL")
    out = Dtype::boolean;
  else
    return false;
  return true;
}

std::string system_error() { return std::strerror(errno); }

// A validated header entry.
struct Entry {
  std::string name;
  Dtype dtype;
  Shape shape;
  std::uint64_t begin, end;
};

std::uint64_t json_to_u64(const ReadJson& v, const std::string& name, const char* field) {
  if (!v.is_number_integer())
    throw Error(fmt::format("safetensors: tensor '{}': {} entries must be integers, got {}", name, field, v.dump()));
  if (!v.is_number_unsigned() && v.get<std::int64_t>() < 0)
    throw Error(fmt::format("safetensors: tensor '{}': {} entries must be non-negative, got {}", name, field,
                            v.get<std::int64_t>()));
  return v.get<std::uint64_t>();
}

Entry parse_entry(const std::string& name, const ReadJson& v, std::uint64_t data_size) {
  if (!v.is_object())
    throw Error(fmt::format("safetensors: tensor '{}': expected a JSON object, got {}", name, v.type_name()));
  Entry e{name, Dtype::float32, {}, 0, 0};

  const auto dt = v.find("dtype");
  if (dt == v.end()) throw Error(fmt::format("safetensors: tensor '{}': missing 'dtype'", name));
  if (!dt->is_string())
    throw Error(fmt::format("safetensors: tensor '{}': 'dtype' must be a string, got {}", name, dt->dump()));
  if (!parse_dtype_tag(dt->get<std::string>(), e.dtype))
    throw Error(fmt::format("safetensors: unknown dtype '{}' for tensor '{}' (xgrad reads F32, F64, I64, I32 and BOOL)",
                            dt->get<std::string>(), name));

  const auto sh = v.find("shape");
  if (sh == v.end()) throw Error(fmt::format("safetensors: tensor '{}': missing 'shape'", name));
  if (!sh->is_array())
    throw Error(fmt::format("safetensors: tensor '{}': 'shape' must be an array, got {}", name, sh->dump()));
  // Overflow-checked product of the sizes times the element size. A zero dimension makes it 0
  // however large the others are ([2^62, 0] is valid), so only a true product can overflow.
  std::uint64_t nbytes = dtype_size(e.dtype);
  bool overflow = false, empty = false;
  for (const auto& d : *sh) {
    const std::uint64_t n = json_to_u64(d, name, "shape");
    if (n > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      throw Error(fmt::format("safetensors: tensor '{}': dimension {} is too large", name, n));
    e.shape.push_back(static_cast<std::int64_t>(n));
    empty = empty || n == 0;
    overflow = overflow || __builtin_mul_overflow(nbytes, n, &nbytes);
  }
  if (empty)
    nbytes = 0;
  else if (overflow)
    throw Error(fmt::format("safetensors: tensor '{}': shape {} overflows the byte count", name, e.shape));

  const auto off = v.find("data_offsets");
  if (off == v.end()) throw Error(fmt::format("safetensors: tensor '{}': missing 'data_offsets'", name));
  if (!off->is_array() || off->size() != 2)
    throw Error(fmt::format("safetensors: tensor '{}': 'data_offsets' must be an array [begin, end], got {}", name,
                            off->dump()));
  e.begin = json_to_u64((*off)[0], name, "data_offsets");
  e.end = json_to_u64((*off)[1], name, "data_offsets");
  if (e.begin > e.end)
    throw Error(fmt::format("safetensors: tensor '{}': data_offsets [{}, {}] have begin > end", name, e.begin, e.end));
  if (e.end > data_size)
    throw Error(fmt::format(
        "safetensors: tensor '{}': data_offsets [{}, {}] out of range: the data section has {} bytes (truncated file?)",
        name, e.begin, e.end, data_size));
  if (e.end - e.begin != nbytes)
    throw Error(
        fmt::format("safetensors: tensor '{}': shape {} with dtype {} needs {} bytes but data_offsets [{}, {}] "
                    "span {} bytes",
                    name, e.shape, dt->get<std::string>(), nbytes, e.begin, e.end, e.end - e.begin));
  return e;
}

// Checks the framing of the header text and returns the length of its JSON object. A linear
// scan tracks the bracket depth outside strings, so nesting is bounded before any recursive
// code (dump() in the error messages) can meet it. A text that never closes its object is left
// whole for the parser to report.
std::size_t header_object_length(std::string_view text) {
  if (text.empty() || text[0] != '{')
    throw Error(fmt::format("safetensors: the header must be a JSON object starting with '{{', got {}",
                            text.empty() ? std::string("an empty header")
                                         : fmt::format("byte {:#04x}", static_cast<unsigned char>(text[0]))));
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > kMaxHeaderDepth)
        throw Error(fmt::format("safetensors: the header nests deeper than {} levels (at header offset {})",
                                kMaxHeaderDepth, i));
    } else if ((c == '}' || c == ']') && --depth == 0) {
      return i + 1;
    }
  }
  return text.size();
}

// Parses the header object, rejecting a key repeated within one object (nlohmann would keep the
// last one silently).
ReadJson parse_header(std::string_view text) {
  std::vector<std::set<std::string>> open_objects;
  const ReadJson::parser_callback_t check_keys = [&](int, ReadJson::parse_event_t event, ReadJson& parsed) {
    if (event == ReadJson::parse_event_t::object_start) {
      open_objects.emplace_back();
    } else if (event == ReadJson::parse_event_t::object_end) {
      open_objects.pop_back();
    } else if (event == ReadJson::parse_event_t::key) {
      const auto& key = parsed.get_ref<const std::string&>();
      if (!open_objects.back().insert(key).second)
        throw Error(fmt::format("safetensors: duplicate key '{}' in the header", key));
    }
    return true;
  };
  try {
    return ReadJson::parse(text.begin(), text.end(), check_keys);
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("safetensors: the header is not valid JSON: {}", e.what()));
  }
}

// Removes "<target>.xgrad-tmp.<pid>.<n>" files whose process no longer exists (kill(pid, 0)
// fails with ESRCH): what a save killed midway leaves behind. Best effort; errors are ignored.
void remove_stale_temporaries(const std::filesystem::path& target) {
  namespace fs = std::filesystem;
  const std::string base = target.filename().string();
  if (base.empty()) return;
  const std::string prefix = base + std::string(kTempTag);
  std::error_code ec;
  fs::directory_iterator it(target.parent_path().empty() ? fs::path(".") : target.parent_path(), ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!name.starts_with(prefix)) continue;
    // The rest must be exactly "<pid>.<n>", both decimal.
    const char* first = name.data() + prefix.size();
    const char* last = name.data() + name.size();
    pid_t pid = 0;
    const auto [dot, pid_ec] = std::from_chars(first, last, pid);
    if (pid_ec != std::errc() || pid <= 0 || dot == last || *dot != '.') continue;
    std::uint64_t n = 0;
    const auto [end, n_ec] = std::from_chars(dot + 1, last, n);
    if (n_ec != std::errc() || end != last) continue;
    if (pid == ::getpid() || ::kill(pid, 0) == 0 || errno != ESRCH) continue;
    std::error_code status_ec;
    if (it->symlink_status(status_ec).type() == fs::file_type::regular) ::unlink(it->path().c_str());
  }
}

}  // namespace

std::string to_safetensors_bytes(const TensorDict& tensors, const Metadata& metadata) {
  // The reference writer puts __metadata__ first, then the tensors; ordered_json keeps that.
  Json header = Json::object();
  if (!metadata.empty()) {
    Json m = Json::object();
    for (const auto& [k, v] : metadata) m[k] = v;
    header[kMetadataKey] = std::move(m);
  }
  std::uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    if (name.empty()) throw Error("to_safetensors_bytes: tensor names must not be empty");
    if (name == kMetadataKey)
      throw Error(fmt::format("to_safetensors_bytes: '{}' is reserved and cannot name a tensor", kMetadataKey));
    if (!t.defined()) throw Error(fmt::format("to_safetensors_bytes: tensor '{}' is undefined", name));
    const std::uint64_t nbytes = static_cast<std::uint64_t>(t.numel()) * dtype_size(t.dtype());
    header[name] = {{"dtype", dtype_tag(t.dtype())}, {"shape", t.shape()}, {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
  }
  std::string json;
  try {
    json = header.dump();  // compact; non-ASCII is written as UTF-8
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("to_safetensors_bytes: tensor names and metadata must be valid UTF-8 ({})", e.what()));
  }
  // Pad with spaces so the data section starts 8-byte aligned (8 + len is a multiple of 8).
  json.append((kLengthBytes - json.size() % kLengthBytes) % kLengthBytes, ' ');

  std::string out;
  out.reserve(kLengthBytes + json.size() + offset);
  const std::uint64_t n = json.size();
  out.append(reinterpret_cast<const char*>(&n), kLengthBytes);
  out += json;
  for (const auto& [name, t] : tensors) {
    const auto nbytes = static_cast<std::size_t>(t.numel()) * dtype_size(t.dtype());
    if (nbytes == 0) continue;
    const Tensor c = t.contiguous();
    const auto* p = reinterpret_cast<const char*>(c.impl()->storage->data);
    out.append(p + c.storage_offset() * static_cast<std::int64_t>(dtype_size(c.dtype())), nbytes);
  }
  return out;
}

SafetensorsFile from_safetensors_bytes(std::string_view bytes) {
  if (bytes.size() < kLengthBytes)
    throw Error(fmt::format("safetensors: {} bytes is too short to hold the 8-byte header length", bytes.size()));
  std::uint64_t n = 0;
  std::memcpy(&n, bytes.data(), kLengthBytes);
  const std::uint64_t rest = bytes.size() - kLengthBytes;
  if (n > kMaxHeaderBytes)
    throw Error(
        fmt::format("safetensors: header length {} exceeds the {} byte limit (corrupt file?)", n, kMaxHeaderBytes));
  if (n > rest)
    throw Error(
        fmt::format("safetensors: header length {} is larger than the {} bytes that follow it (truncated "
                    "file?)",
                    n, rest));
  const std::string_view text = bytes.substr(kLengthBytes, n);
  const std::uint64_t data_size = rest - n;
  const char* data = bytes.data() + kLengthBytes + n;

  // The format: the header starts with '{' and only spaces may pad it after the closing '}'.
  const std::size_t json_size = header_object_length(text);
  const ReadJson header = parse_header(text.substr(0, json_size));
  for (std::size_t i = json_size; i < text.size(); ++i)
    if (text[i] != ' ')
      throw Error(
          fmt::format("safetensors: byte {:#04x} at header offset {} follows the JSON object (only spaces may pad "
                      "the header)",
                      static_cast<unsigned char>(text[i]), i));

  SafetensorsFile file;
  std::vector<Entry> entries;
  for (const auto& [key, value] : header.items()) {
    if (key == kMetadataKey) {
      if (!value.is_object())
        throw Error(
            fmt::format("safetensors: '{}' must be an object of strings, got {}", kMetadataKey, value.type_name()));
      for (const auto& [mk, mv] : value.items()) {
        if (!mv.is_string())
          throw Error(
              fmt::format("safetensors: '{}' value for key '{}' is not a string: {}", kMetadataKey, mk, mv.dump()));
        file.metadata[mk] = mv.get<std::string>();
      }
      continue;
    }
    if (key.empty()) throw Error("safetensors: empty tensor name in the header");
    entries.push_back(parse_entry(key, value, data_size));
  }

  // The tensors must tile the data section exactly: sorted by offset, each starts where the
  // previous one ended, and the last one ends at the end of the file (as the reference checks).
  std::vector<const Entry*> order;
  for (const auto& e : entries) order.push_back(&e);
  std::sort(order.begin(), order.end(),
            [](const Entry* a, const Entry* b) { return std::tie(a->begin, a->end) < std::tie(b->begin, b->end); });
  std::uint64_t pos = 0;
  const Entry* prev = nullptr;
  for (const Entry* e : order) {
    if (e->begin < pos)
      throw Error(fmt::format("safetensors: tensors '{}' [{}, {}] and '{}' [{}, {}] have overlapping data_offsets",
                              prev->name, prev->begin, prev->end, e->name, e->begin, e->end));
    if (e->begin > pos)
      throw Error(
          fmt::format("safetensors: tensor '{}' starts at byte {} but the previous tensor ends at {} (gap in "
                      "the data section)",
                      e->name, e->begin, pos));
    pos = e->end;
    prev = e;
  }
  if (pos != data_size)
    throw Error(fmt::format("safetensors: the data section has {} bytes but the tensors cover {} (trailing bytes)",
                            data_size, pos));

  for (const auto& e : entries) {
    if (e.dtype == Dtype::boolean)  // any other byte would be an invalid C++ bool
      for (std::uint64_t i = e.begin; i < e.end; ++i)
        if (const auto byte = static_cast<unsigned char>(data[i]); byte > 1)
          throw Error(fmt::format("safetensors: tensor '{}' of dtype BOOL has the byte {} at element {} (expected 0 or 1)",
                                  e.name, byte, i - e.begin));
    Tensor t = detail::make_tensor(e.shape, e.dtype);
    if (e.end > e.begin) std::memcpy(t.impl()->storage->data, data + e.begin, e.end - e.begin);
    file.tensors.emplace(e.name, std::move(t));
  }
  return file;
}

void save_safetensors(const std::string& path, const TensorDict& tensors, const Metadata& metadata) {
  const std::string bytes = to_safetensors_bytes(tensors, metadata);
  remove_stale_temporaries(path);
  // Unique per process and per call, so concurrent saves to one path never share a temp file.
  static std::atomic<std::uint64_t> counter{0};
  const std::string tmp = fmt::format("{}{}{}.{}", path, kTempTag, static_cast<long>(::getpid()), counter++);
  auto fail = [&](const std::string& what) {
    const std::string reason = system_error();
    ::unlink(tmp.c_str());
    throw Error(fmt::format("save_safetensors: cannot write '{}': {} failed: {}", path, what, reason));
  };
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    const std::string reason = system_error();
    throw Error(
        fmt::format("save_safetensors: cannot write '{}': cannot create temporary file '{}': {}", path, tmp, reason));
  }
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      fail("write");
    }
    done += static_cast<std::size_t>(w);
  }
  if (::fsync(fd) != 0) {
    ::close(fd);
    fail("fsync");
  }
  if (::close(fd) != 0) fail("close");
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    ::unlink(tmp.c_str());
    throw Error(
        fmt::format("save_safetensors: cannot write '{}': rename from '{}' failed: {}", path, tmp, ec.message()));
  }
  // Make the rename itself durable (best effort: some file systems refuse fsync on directories).
  const auto dir = std::filesystem::path(path).parent_path();
  const int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

SafetensorsFile load_safetensors(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(fmt::format("load_safetensors: cannot open '{}': {}", path, system_error()));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(fmt::format("load_safetensors: '{}' is not a regular file", path));
  }
  std::string bytes(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t r = ::read(fd, bytes.data() + done, bytes.size() - done);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      const std::string reason = system_error();
      ::close(fd);
      throw Error(fmt::format("load_safetensors: cannot read '{}': {}", path, reason));
    }
    if (r == 0) break;  // the file shrank while we read it; the parser reports the truncation
    done += static_cast<std::size_t>(r);
  }
  ::close(fd);
  bytes.resize(done);
  try {
    return from_safetensors_bytes(bytes);
  } catch (const Error& e) {
    throw Error(fmt::format("load_safetensors: '{}': {}", path, e.what()));
  }
}

}  // namespace xgrad
