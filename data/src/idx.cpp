// read_idx (plain or gzipped IDX files) and the MNIST / Fashion-MNIST datasets.
#include "xgrad/data/idx.hpp"

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <vector>

#include <fmt/format.h>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <zlib.h>

#include "common.hpp"

namespace xgrad::data {

namespace {

constexpr std::uint8_t kTypeUnsignedByte = 0x08;
constexpr int kMaxDims = 4;
constexpr std::uint64_t kMaxElements = std::uint64_t{1} << 33;
constexpr std::int64_t kConvertGrain = 32768;

/// Sequential reader over a plain or gzipped file. read() returns fewer than n bytes only at
/// the end of the data; I/O and decompression errors throw.
class Source {
 public:
  virtual ~Source() = default;
  virtual std::size_t read(std::uint8_t* dst, std::size_t n) = 0;
  /// Bytes left after the current position, counted by reading them (bounded memory).
  std::uint64_t count_rest() {
    std::array<std::uint8_t, 1 << 16> scratch;
    std::uint64_t total = 0;
    for (std::size_t got; (got = read(scratch.data(), scratch.size())) > 0;) total += got;
    return total;
  }
  /// Why the data ended early, when known ("" otherwise).
  virtual std::string early_end_reason() const { return ""; }
};

class PlainSource : public Source {
 public:
  PlainSource(std::FILE* f, std::string path) : f_(f), path_(std::move(path)) {}
  ~PlainSource() override { std::fclose(f_); }
  std::size_t read(std::uint8_t* dst, std::size_t n) override {
    const std::size_t got = std::fread(dst, 1, n, f_);
    if (got < n && std::ferror(f_)) throw Error(fmt::format("read_idx: error reading '{}'", path_));
    return got;
  }

 private:
  std::FILE* f_;
  std::string path_;
};

class GzSource : public Source {
 public:
  GzSource(gzFile f, std::string path) : f_(f), path_(std::move(path)) {}
  ~GzSource() override { gzclose(f_); }
  std::size_t read(std::uint8_t* dst, std::size_t n) override {
    std::size_t total = 0;
    while (total < n) {
      const auto chunk = static_cast<unsigned>(std::min<std::size_t>(n - total, std::size_t{1} << 30));
      const int got = gzread(f_, dst + total, chunk);
      if (got < 0) throw Error(fmt::format("read_idx: '{}' is not a valid gzip file: {}", path_, message()));
      if (got == 0) break;
      total += static_cast<std::size_t>(got);
    }
    return total;
  }
  std::string early_end_reason() const override {
    int err = Z_OK;
    gzerror(f_, &err);
    return err == Z_BUF_ERROR ? " (the gzip stream itself is cut short)" : "";
  }

 private:
  std::string message() const {
    int err = Z_OK;
    const char* msg = gzerror(f_, &err);
    return msg != nullptr ? msg : "unknown zlib error";
  }
  gzFile f_;
  std::string path_;
};

std::unique_ptr<Source> open_source(const std::string& path, bool& gzipped, std::uint64_t& plain_size) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw Error(fmt::format("read_idx: '{}' is a directory", path));
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) throw Error(fmt::format("read_idx: cannot open '{}': {}", path, std::strerror(errno)));
  std::array<unsigned char, 2> head{};
  const std::size_t got = std::fread(head.data(), 1, 2, f);
  gzipped = got == 2 && head[0] == 0x1f && head[1] == 0x8b;
  if (!gzipped) {
    std::fseek(f, 0, SEEK_END);
    const long size = std::ftell(f);
    std::fseek(f, 0, SEEK_SET);
    plain_size = size < 0 ? 0 : static_cast<std::uint64_t>(size);
    return std::make_unique<PlainSource>(f, path);
  }
  std::fclose(f);
  gzFile gz = gzopen(path.c_str(), "rb");
  if (gz == nullptr) throw Error(fmt::format("read_idx: cannot open '{}' with zlib", path));
  gzbuffer(gz, 1u << 18);
  return std::make_unique<GzSource>(gz, path);
}

std::uint32_t big_endian_u32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | std::uint32_t{p[3]};
}

/// The dims and the raw bytes of a validated IDX file of unsigned bytes.
struct RawIdx {
  Shape dims;
  std::vector<std::uint8_t> bytes;
};

RawIdx read_idx_raw(const std::string& path) {
  bool gzipped = false;
  std::uint64_t plain_size = 0;
  std::unique_ptr<Source> src = open_source(path, gzipped, plain_size);
  const char* kind = gzipped ? " (uncompressed)" : "";

  std::array<std::uint8_t, 4> magic{};
  const std::size_t got_magic = src->read(magic.data(), magic.size());
  if (got_magic < magic.size())
    throw Error(fmt::format("read_idx: '{}' is truncated: {} bytes{}, shorter than the 4-byte IDX magic number", path,
                            got_magic, kind));
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
  std::uint64_t count = 1;
  for (int d = 0; d < ndim; ++d) {
    const std::uint32_t size = big_endian_u32(raw_dims.data() + 4 * d);
    out.dims.push_back(size);
    if (size == 0)
      throw Error(
          fmt::format("read_idx: '{}': dimension {} is 0 (dims {}); IDX dims must be positive", path, d, out.dims));
    count *= size;  // at most 4 factors: check after each so it cannot overflow
    if (count > kMaxElements)
      throw Error(
          fmt::format("read_idx: '{}': dims {}... describe more than 2^33 elements; corrupt header?", path, out.dims));
  }
  const std::uint64_t expected = header + count;
  auto size_error = [&](std::uint64_t actual, std::string_view reason) {
    return Error(
        fmt::format("read_idx: '{}' {}: expected {} bytes{} ({}-byte header + {} data bytes for dims {}), got {}{}",
                    path, actual < expected ? "is truncated" : "has trailing data", expected, kind, header, count,
                    out.dims, actual, reason));
  };
  if (!gzipped && plain_size != expected) throw size_error(plain_size, "");

  // Grow the buffer as the data arrives: a corrupt gzipped header cannot make us allocate
  // more than the stream really holds.
  constexpr std::size_t kStep = std::size_t{1} << 24;
  std::size_t have = 0;
  while (have < count) {
    const std::size_t want = std::min<std::uint64_t>(count - have, gzipped ? kStep : count - have);
    out.bytes.resize(have + want);
    const std::size_t got = src->read(out.bytes.data() + have, want);
    have += got;
    if (got < want) throw size_error(header + have, src->early_end_reason());
  }
  if (const std::uint64_t rest = src->count_rest(); rest > 0) throw size_error(expected + rest, "");
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
  auto body = [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) dst[i] = table[src[i]];
  };
  if (n <= kConvertGrain) {
    body(0, n);
  } else {
    tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, n, kConvertGrain),
                      [&](const tbb::blocked_range<std::int64_t>& r) { body(r.begin(), r.end()); });
  }
  return out;
}

/// value(byte) in `dtype` (int64 tensors get the raw byte values).
template <class F>
Tensor to_tensor(const RawIdx& raw, Dtype dtype, const F& value) {
  switch (dtype) {
    case Dtype::float32:
      return convert<float>(raw, dtype, value);
    case Dtype::float64:
      return convert<double>(raw, dtype, value);
    case Dtype::int64:
      break;
  }
  return convert<std::int64_t>(raw, dtype, [](int b) { return b; });
}

}  // namespace

Tensor read_idx(const std::string& path, Dtype dtype) {
  return to_tensor(read_idx_raw(path), dtype, [](int b) { return static_cast<double>(b); });
}

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

  const RawIdx images = read_idx_raw(image_path);
  if (images.dims.size() != 3)
    throw Error(fmt::format("{}: '{}' should hold 3-d images [N, H, W], got dims {}", name, image_path, images.dims));
  const RawIdx labels = read_idx_raw(label_path);
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
