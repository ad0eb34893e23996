// safetensors reader and writer. The reader treats the file as hostile: every length, offset
// and shape is checked (with overflow-safe arithmetic) before a single data byte is touched.
#include "xgrad/autograd/serialize.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

namespace xgrad {

// NOTE: safetensors data is little-endian; tensors are copied byte for byte.
static_assert(std::endian::native == std::endian::little, "xgrad's safetensors I/O assumes a little-endian host");

namespace {

using Json = nlohmann::ordered_json;

constexpr std::size_t kLengthBytes = 8;
constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;  // the reference implementation's limit
constexpr const char* kMetadataKey = "__metadata__";

const char* dtype_tag(Dtype d) {
  switch (d) {
    case Dtype::float32:
      return "F32";
    case Dtype::float64:
      return "F64";
    case Dtype::int64:
      return "I64";
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

std::uint64_t json_to_u64(const Json& v, const std::string& name, const char* field) {
  if (!v.is_number_integer())
    throw Error(fmt::format("safetensors: tensor '{}': {} entries must be integers, got {}", name, field, v.dump()));
  if (!v.is_number_unsigned() && v.get<std::int64_t>() < 0)
    throw Error(fmt::format("safetensors: tensor '{}': {} entries must be non-negative, got {}", name, field,
                            v.get<std::int64_t>()));
  return v.get<std::uint64_t>();
}

Entry parse_entry(const std::string& name, const Json& v, std::uint64_t data_size) {
  if (!v.is_object())
    throw Error(fmt::format("safetensors: tensor '{}': expected a JSON object, got {}", name, v.type_name()));
  Entry e{name, Dtype::float32, {}, 0, 0};

  const auto dt = v.find("dtype");
  if (dt == v.end()) throw Error(fmt::format("safetensors: tensor '{}': missing 'dtype'", name));
  if (!dt->is_string())
    throw Error(fmt::format("safetensors: tensor '{}': 'dtype' must be a string, got {}", name, dt->dump()));
  if (!parse_dtype_tag(dt->get<std::string>(), e.dtype))
    throw Error(fmt::format("safetensors: unknown dtype '{}' for tensor '{}' (xgrad reads F32, F64 and I64)",
                            dt->get<std::string>(), name));

  const auto sh = v.find("shape");
  if (sh == v.end()) throw Error(fmt::format("safetensors: tensor '{}': missing 'shape'", name));
  if (!sh->is_array())
    throw Error(fmt::format("safetensors: tensor '{}': 'shape' must be an array, got {}", name, sh->dump()));
  // Overflow-checked product of the sizes times the element size.
  std::uint64_t nbytes = dtype_size(e.dtype);
  bool overflow = false;
  for (const auto& d : *sh) {
    const std::uint64_t n = json_to_u64(d, name, "shape");
    if (n > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      throw Error(fmt::format("safetensors: tensor '{}': dimension {} is too large", name, n));
    e.shape.push_back(static_cast<std::int64_t>(n));
    overflow = overflow || __builtin_mul_overflow(nbytes, n, &nbytes);
  }
  if (overflow) throw Error(fmt::format("safetensors: tensor '{}': shape {} overflows the byte count", name, e.shape));

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
    if (nbytes > 0) out.append(reinterpret_cast<const char*>(t.impl()->storage->data), nbytes);
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

  Json header;
  try {
    header = Json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("safetensors: the header is not valid JSON: {}", e.what()));
  }
  if (!header.is_object())
    throw Error(fmt::format("safetensors: the header must be a JSON object, got {}", header.type_name()));

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
    Tensor t = detail::make_tensor(e.shape, e.dtype);
    if (e.end > e.begin) std::memcpy(t.impl()->storage->data, data + e.begin, e.end - e.begin);
    file.tensors.emplace(e.name, std::move(t));
  }
  return file;
}

void save_safetensors(const std::string& path, const TensorDict& tensors, const Metadata& metadata) {
  const std::string bytes = to_safetensors_bytes(tensors, metadata);
  // Unique per process and per call, so concurrent saves to one path never share a temp file.
  static std::atomic<std::uint64_t> counter{0};
  const std::string tmp = fmt::format("{}.tmp.{}.{}", path, static_cast<long>(::getpid()), counter++);
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
