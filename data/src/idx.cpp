// read_idx (plain or gzipped IDX files) and the MNIST / Fashion-MNIST datasets.
#include "xgrad/data/idx.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <new>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>
#include <zlib.h>

#include "common.hpp"
#include "xgrad/autograd/kernel/kernel.hpp"

namespace xgrad::data {

namespace {

constexpr std::uint8_t kTypeUnsignedByte = 0x08;
constexpr int kMaxDims = 4;
/// Hard ceiling on prod(dims), whatever max_bytes says: keeps prod(dims) * 8 (an int64
/// tensor's bytes) far from overflowing std::size_t and int64.
constexpr std::uint64_t kMaxElements = std::uint64_t{1} << 48;
/// How much data past the declared end is decoded to report it (bounded work on a bomb).
constexpr std::uint64_t kMaxExcessCounted = std::uint64_t{1} << 20;

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

/// Sequential reader over a plain or gzipped file. read() returns fewer than n bytes only at
/// the end of the data; I/O and decompression errors throw.
class Source {
 public:
  virtual ~Source() = default;
  virtual std::size_t read(std::uint8_t* dst, std::size_t n) = 0;
  /// Bytes left after the current position, counted by reading them, but at most about
  /// `cap` (bounded memory and time).
  std::uint64_t count_rest(std::uint64_t cap) {
    std::array<std::uint8_t, 1 << 16> scratch;
    std::uint64_t total = 0;
    for (std::size_t got; total < cap && (got = read(scratch.data(), scratch.size())) > 0;) total += got;
    return total;
  }
  /// Why the data ended early, when known ("" otherwise).
  virtual std::string early_end_reason() const { return ""; }
  /// Called once all the data has been read: throws if the file did not end properly.
  virtual void finish(std::uint64_t /*decoded*/) {}
};

class PlainSource : public Source {
 public:
  PlainSource(File f, std::string path) : f_(std::move(f)), path_(std::move(path)) {}
  std::size_t read(std::uint8_t* dst, std::size_t n) override {
    const std::size_t got = std::fread(dst, 1, n, f_.get());
    if (got < n && std::ferror(f_.get()))
      throw Error(fmt::format("read_idx: error reading '{}': {}", path_, std::strerror(errno)));
    return got;
  }

 private:
  File f_;
  std::string path_;
};

/// A gzip stream decoded with zlib's inflate (not gzread: gzread treats a stream cut off
/// before its trailer as a normal end of file and silently skips garbage after it).
class GzSource : public Source {
 public:
  GzSource(File f, std::string path) : f_(std::move(f)), path_(std::move(path)) {
    // NOTE: windowBits 15 + 16 accepts the gzip wrapper only; inflate then returns
    // Z_STREAM_END only after checking the member's CRC-32 and ISIZE trailer.
    if (inflateInit2(&z_, 15 + 16) != Z_OK)
      throw Error(fmt::format("read_idx: cannot initialise zlib to read '{}': {}", path_,
                              z_.msg != nullptr ? z_.msg : "out of memory"));
  }
  ~GzSource() override { inflateEnd(&z_); }
  GzSource(const GzSource&) = delete;
  GzSource& operator=(const GzSource&) = delete;

  std::size_t read(std::uint8_t* dst, std::size_t n) override {
    std::size_t total = 0;
    while (total < n && !ended_) {
      if (z_.avail_in == 0 && !fill()) {
        cut_short_ = true;  // end of file inside a member
        ended_ = true;
        break;
      }
      const auto chunk = static_cast<uInt>(std::min<std::size_t>(n - total, std::size_t{1} << 30));
      z_.next_out = dst + total;
      z_.avail_out = chunk;
      const int rc = inflate(&z_, Z_NO_FLUSH);
      total += chunk - z_.avail_out;
      if (rc == Z_STREAM_END) {
        next_member();
      } else if (rc == Z_BUF_ERROR && z_.avail_in == 0) {
        continue;  // needs more input: fill() above
      } else if (rc != Z_OK) {
        throw Error(fmt::format("read_idx: '{}' is not a valid gzip file: {} (at compressed byte {})", path_,
                                z_.msg != nullptr ? z_.msg : zError(rc), offset()));
      }
    }
    return total;
  }
  std::string early_end_reason() const override { return cut_short_ ? " (the gzip stream itself is cut short)" : ""; }
  void finish(std::uint64_t decoded) override {
    if (cut_short_)
      throw Error(fmt::format(
          "read_idx: '{}' is truncated: the gzip stream is cut short before its end (the CRC-32/length trailer is "
          "missing or incomplete), so its {} decoded bytes cannot be verified",
          path_, decoded));
  }

 private:
  /// Refills the input buffer; false at the end of the file.
  bool fill() {
    const std::size_t got = std::fread(in_.data(), 1, in_.size(), f_.get());
    if (got == 0 && std::ferror(f_.get()))
      throw Error(fmt::format("read_idx: error reading '{}': {}", path_, std::strerror(errno)));
    consumed_ += got;
    z_.next_in = in_.data();
    z_.avail_in = static_cast<uInt>(got);
    return got > 0;
  }
  /// Offset in the file of the next unprocessed compressed byte.
  std::uint64_t offset() const { return consumed_ - z_.avail_in; }
  /// After a member's verified end: the end of the data, zero padding, or another member.
  void next_member() {
    for (;;) {
      while (z_.avail_in > 0 && *z_.next_in == 0) {
        ++z_.next_in;
        --z_.avail_in;
      }
      if (z_.avail_in > 0) break;
      if (!fill()) {
        ended_ = true;
        return;
      }
    }
    if (*z_.next_in != 0x1f)
      throw Error(fmt::format(
          "read_idx: '{}' is not a valid gzip file: trailing garbage (byte 0x{:02x}) at compressed byte {}, after "
          "the end of the gzip stream",
          path_, *z_.next_in, offset()));
    inflateReset(&z_);  // another member (keeps the gzip-only mode); its header is checked by inflate
  }

  File f_;
  std::string path_;
  z_stream z_{};
  std::array<Bytef, 1 << 18> in_{};
  std::uint64_t consumed_ = 0;
  bool ended_ = false;
  bool cut_short_ = false;
};

std::unique_ptr<Source> open_source(const std::string& path, bool& gzipped, std::uint64_t& plain_size) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw Error(fmt::format("read_idx: '{}' is a directory", path));
  File f(std::fopen(path.c_str(), "rb"));
  if (f == nullptr) throw Error(fmt::format("read_idx: cannot open '{}': {}", path, std::strerror(errno)));
  std::array<unsigned char, 2> head{};
  const std::size_t got = std::fread(head.data(), 1, 2, f.get());
  gzipped = got == 2 && head[0] == 0x1f && head[1] == 0x8b;
  const bool seekable = std::fseek(f.get(), 0, SEEK_END) == 0;
  const long size = seekable ? std::ftell(f.get()) : -1;
  if (size < 0 || std::fseek(f.get(), 0, SEEK_SET) != 0)
    throw Error(fmt::format("read_idx: cannot seek in '{}' (not a regular file?)", path));
  plain_size = static_cast<std::uint64_t>(size);
  if (!gzipped) return std::make_unique<PlainSource>(std::move(f), path);
  return std::make_unique<GzSource>(std::move(f), path);
}

std::uint32_t big_endian_u32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | std::uint32_t{p[3]};
}

/// Runs f(), turning an allocation failure into xgrad::Error naming the file and the size.
template <class F>
auto guard_alloc(const std::string& path, std::string_view what, std::uint64_t nbytes, const F& f) -> decltype(f()) {
  try {
    return f();
  } catch (const std::bad_alloc&) {
    throw Error(fmt::format("read_idx: '{}': out of memory allocating {} ({} bytes)", path, what, nbytes));
  } catch (const std::length_error&) {
    throw Error(fmt::format("read_idx: '{}': cannot allocate {} ({} bytes)", path, what, nbytes));
  }
}

/// The dims and the raw bytes of a validated IDX file of unsigned bytes.
struct RawIdx {
  std::string path;
  Shape dims;
  std::vector<std::uint8_t> bytes;
};

RawIdx read_idx_raw(const std::string& path, std::uint64_t max_bytes) {
  bool gzipped = false;
  std::uint64_t plain_size = 0;
  std::unique_ptr<Source> src =
      guard_alloc(path, "the read buffer", 1 << 18, [&] { return open_source(path, gzipped, plain_size); });
  const char* kind = gzipped ? " (uncompressed)" : "";

  std::array<std::uint8_t, 4> magic{};
  const std::size_t got_magic = src->read(magic.data(), magic.size());
  if (got_magic < magic.size())
    throw Error(fmt::format("read_idx: '{}' is truncated: {} bytes{}, shorter than the 4-byte IDX magic number{}", path,
                            got_magic, kind, src->early_end_reason()));
  const std::uint32_t m = big_endian_u32(magic.data());
  if (magic[0] != 0 || magic[1] != 0)
    throw Error(
        fmt::format("read_idx: '{}' is not an IDX file: bad magic number 0x{:08x} (expected 0x000008NN: two "
                    "zero bytes, the type 0x08, the number of dims)",
                    path, m));
  if (magic[2] != kTypeUnsignedByte) {
    const bool known = magic[2] == 0x09 || magic[2] == 0x0B || magic[2] == 0x0C || magic[2] == 0x0D || magic[2] == 0x0E;
    throw Error(
        fmt::format("read_idx: '{}': {} element type 0x{:02x} in magic number 0x{:08x} (only 0x08, unsigned "
                    "byte, is supported)",
                    path, known ? "unsupported" : "bad", magic[2], m));
  }
  const int ndim = magic[3];
  if (ndim < 1 || ndim > kMaxDims)
    throw Error(fmt::format("read_idx: '{}': bad number of dims {} in magic number 0x{:08x} (expected 1 to {})", path,
                            ndim, m, kMaxDims));

  std::array<std::uint8_t, 4 * kMaxDims> raw_dims{};
  const std::size_t dims_bytes = 4 * static_cast<std::size_t>(ndim);
  const std::size_t header = 4 + dims_bytes;
  const std::size_t got_dims = src->read(raw_dims.data(), dims_bytes);
  if (got_dims < dims_bytes)
    throw Error(fmt::format("read_idx: '{}' is truncated: {} bytes{}, shorter than its {}-byte header ({} dims){}",
                            path, 4 + got_dims, kind, header, ndim, src->early_end_reason()));
  RawIdx out;
  out.path = path;
  for (int d = 0; d < ndim; ++d) out.dims.push_back(big_endian_u32(raw_dims.data() + 4 * d));
  for (int d = 0; d < ndim; ++d)
    if (out.dims[static_cast<std::size_t>(d)] == 0)
      throw Error(
          fmt::format("read_idx: '{}': dimension {} is 0 (dims {}); IDX dims must be positive", path, d, out.dims));
  // NOTE: each factor is checked against the ceiling before multiplying, so the product
  // never wraps (dims [2^31, 4, 2^31] would wrap a uint64 to 0).
  std::uint64_t count = 1;
  for (const std::int64_t size : out.dims) {
    if (count > kMaxElements / static_cast<std::uint64_t>(size))
      throw Error(fmt::format("read_idx: '{}': declared dims {} describe more than 2^48 elements; corrupt header?",
                              path, out.dims));
    count *= static_cast<std::uint64_t>(size);
  }
  if (count > max_bytes)
    throw Error(
        fmt::format("read_idx: '{}': declared dims {} need {} data bytes, more than the size limit of {} bytes "
                    "(IdxOptions::max_bytes / MnistOptions::max_idx_bytes, default 4 x Fashion-MNIST's "
                    "training images; raise it to read a larger file)",
                    path, out.dims, count, max_bytes));
  const std::uint64_t expected = header + count;
  auto size_error = [&](std::uint64_t actual, std::string_view reason, bool at_least = false) {
    return Error(
        fmt::format("read_idx: '{}' {}: expected {} bytes{} ({}-byte header + {} data bytes for dims {}), got {}{}{}",
                    path, actual < expected ? "is truncated" : "has trailing data", expected, kind, header, count,
                    out.dims, at_least ? "at least " : "", actual, reason));
  };
  if (!gzipped && plain_size != expected) throw size_error(plain_size, "");

  // Grow the buffer as the data arrives: a corrupt gzipped header cannot make us allocate
  // more than the stream really holds.
  constexpr std::size_t kStep = std::size_t{1} << 24;
  std::size_t have = 0;
  while (have < count) {
    const std::size_t want = std::min<std::uint64_t>(count - have, gzipped ? kStep : count - have);
    guard_alloc(path, "the data", have + want, [&] { out.bytes.resize(have + want); });
    const std::size_t got = src->read(out.bytes.data() + have, want);
    have += got;
    if (got < want) throw size_error(header + have, src->early_end_reason());
  }
  if (const std::uint64_t rest = src->count_rest(kMaxExcessCounted); rest > 0)
    throw size_error(expected + rest, "", rest >= kMaxExcessCounted);
  src->finish(expected);
  return out;
}

/// Maps each byte b to value(b) (all 256 values tabulated once, so the result does not
/// depend on how the work is split).
template <class T, class F>
Tensor convert(const RawIdx& raw, Dtype dtype, const F& value) {
  std::array<T, 256> table{};
  for (int b = 0; b < 256; ++b) table[static_cast<std::size_t>(b)] = static_cast<T>(value(b));
  Tensor out = xgrad::detail::make_tensor(raw.dims, dtype);
  T* dst = out.data_ptr<T>();
  const std::uint8_t* src = raw.bytes.data();
  const auto n = static_cast<std::int64_t>(raw.bytes.size());
  kernel::parallel_for(n, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) dst[i] = table[src[i]];
  });
  return out;
}

/// value(byte) in `dtype` (int64 tensors get the raw byte values).
template <class F>
Tensor to_tensor(const RawIdx& raw, Dtype dtype, const F& value) {
  if (dtype != Dtype::float32 && dtype != Dtype::float64 && dtype != Dtype::int64)
    throw Error(fmt::format("read_idx: '{}': bad dtype (enum value {})", raw.path, static_cast<int>(dtype)));
  const std::uint64_t nbytes = raw.bytes.size() * dtype_size(dtype);
  return guard_alloc(raw.path, fmt::format("a {} tensor of shape {}", dtype, raw.dims), nbytes, [&] {
    switch (dtype) {
      case Dtype::float32:
        return convert<float>(raw, dtype, value);
      case Dtype::float64:
        return convert<double>(raw, dtype, value);
      case Dtype::int64:
        break;
    }
    return convert<std::int64_t>(raw, dtype, [](int b) { return b; });
  });
}

}  // namespace

Tensor read_idx(const std::string& path, const IdxOptions& options) {
  return to_tensor(read_idx_raw(path, options.max_bytes_), options.dtype_,
                   [](int b) { return static_cast<double>(b); });
}

Tensor read_idx(const std::string& path, Dtype dtype) { return read_idx(path, IdxOptions().dtype(dtype)); }

// ---- MNIST ------------------------------------------------------------------------------

namespace {

constexpr std::int64_t kNumClasses = 10;

/// root/name, or root/name.gz, or "" when neither is a file.
std::string find_file(const std::filesystem::path& root, const std::string& name) {
  std::error_code ec;
  for (const std::string& candidate : {name, name + ".gz"})
    if (std::filesystem::is_regular_file(root / candidate, ec)) return (root / candidate).string();
  return "";
}

}  // namespace

MNIST::MNIST(const std::string& root, bool train, MnistOptions options)
    : MNIST(root, train, options, "MNIST",
            "the MNIST IDX files are distributed at http://yann.lecun.com/exdb/mnist/ (plain or .gz)") {}

MNIST::MNIST(const std::string& root, bool train, MnistOptions options, std::string_view name, std::string_view hint)
    : train_(train) {
  if (!(options.stddev_ > 0.0))
    throw Error(fmt::format("{}: options.stddev must be positive, got {}", name, options.stddev_));
  const std::string prefix = train ? "train" : "t10k";
  const std::string image_name = prefix + "-images-idx3-ubyte";
  const std::string label_name = prefix + "-labels-idx1-ubyte";
  std::error_code ec;
  if (!std::filesystem::is_directory(root, ec))
    throw Error(fmt::format("{}: data directory '{}' does not exist; it should hold {}(.gz) and {}(.gz); {}", name,
                            root, image_name, label_name, hint));
  const std::string image_path = find_file(root, image_name);
  const std::string label_path = find_file(root, label_name);
  if (image_path.empty() || label_path.empty()) {
    std::vector<std::string> missing;
    if (image_path.empty()) missing.push_back(image_name + "(.gz)");
    if (label_path.empty()) missing.push_back(label_name + "(.gz)");
    throw Error(fmt::format("{}: missing {} in '{}'; {}", name, fmt::join(missing, " and "), root, hint));
  }

  const RawIdx images = read_idx_raw(image_path, options.max_idx_bytes_);
  if (images.dims.size() != 3)
    throw Error(fmt::format("{}: '{}' should hold 3-d images [N, H, W], got dims {}", name, image_path, images.dims));
  const RawIdx labels = read_idx_raw(label_path, options.max_idx_bytes_);
  if (labels.dims.size() != 1)
    throw Error(fmt::format("{}: '{}' should hold 1-d labels [N], got dims {}", name, label_path, labels.dims));
  if (labels.dims[0] != images.dims[0])
    throw Error(fmt::format("{}: '{}' has {} images but '{}' has {} labels", name, image_path, images.dims[0],
                            label_path, labels.dims[0]));
  for (std::size_t i = 0; i < labels.bytes.size(); ++i)
    if (labels.bytes[i] >= kNumClasses)
      throw Error(fmt::format("{}: '{}': label {} of example {} is outside [0, {})", name, label_path, labels.bytes[i],
                              i, kNumClasses));

  images_ = to_tensor(images, Dtype::float32, [&](int b) {
              const double x = b / 255.0;
              return options.normalize_ ? (x - options.mean_) / options.stddev_ : x;
            }).unsqueeze(1);
  labels_ = to_tensor(labels, Dtype::int64, [](int b) { return b; });
}

std::int64_t MNIST::size() const { return labels_.size(0); }

std::optional<TensorRows> MNIST::tensor_rows() const { return TensorRows{images_, labels_, nullptr}; }

Example MNIST::get_unchecked(std::int64_t index) const {
  Tensor image = xgrad::detail::make_tensor(detail::row_shape(images_), Dtype::float32);
  const std::size_t nbytes = detail::row_bytes(images_);
  std::memcpy(detail::raw_bytes(image), detail::raw_bytes(images_) + static_cast<std::size_t>(index) * nbytes, nbytes);
  Tensor label = xgrad::detail::make_tensor({}, Dtype::int64);
  *label.data_ptr<std::int64_t>() = labels_.data_ptr<std::int64_t>()[index];
  return {image, label};
}

// ---- FashionMNIST -----------------------------------------------------------------------

FashionMNIST::FashionMNIST(const std::string& root, bool train, MnistOptions options)
    : MNIST(root, train, options, "FashionMNIST",
            fmt::format("on Debian, `apt-get install dataset-fashion-mnist` provides them in {}",
                        kFashionMnistDefaultRoot)) {}

std::string_view FashionMNIST::class_name(std::int64_t label) {
  static constexpr std::array<std::string_view, kNumClasses> kNames = {
      "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
  if (label < 0 || label >= kNumClasses)
    throw Error(fmt::format("FashionMNIST::class_name: label {} is outside [0, {})", label, kNumClasses));
  return kNames[static_cast<std::size_t>(label)];
}

}  // namespace xgrad::data
