// IDX files (the MNIST format) and the MNIST / Fashion-MNIST datasets.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "xgrad/autograd/tensor.hpp"
#include "xgrad/data/dataset.hpp"

namespace xgrad::data {

/// Default of IdxOptions::max_bytes and MnistOptions::max_idx_bytes: 188,160,000 bytes, four
/// times the largest IDX file of MNIST / Fashion-MNIST (the training images, 60000 * 28 * 28 =
/// 47,040,000 data bytes). Room for a somewhat larger MNIST-style data set; EMNIST's bigger
/// splits (up to ~550 MB) need a higher limit.
inline constexpr std::uint64_t kIdxDefaultMaxBytes = 4 * std::uint64_t{60000} * 28 * 28;

/// Options of read_idx, libtorch style: `read_idx(path, IdxOptions().dtype(float32).max_bytes(1 << 30))`.
struct IdxOptions {
  /// The dtype of the returned tensor.
  IdxOptions& dtype(Dtype d) {
    dtype_ = d;
    return *this;
  }
  /// The most data bytes, prod(dims), a file may declare in its header. Larger files are
  /// rejected from the header alone, before anything is allocated or decompressed: a small
  /// corrupt or malicious .gz cannot make read_idx allocate or inflate gigabytes. Raise it
  /// for genuinely larger files; the output tensor takes prod(dims) * sizeof(dtype) bytes.
  IdxOptions& max_bytes(std::uint64_t n) {
    max_bytes_ = n;
    return *this;
  }

  Dtype dtype_ = Dtype::int64;
  std::uint64_t max_bytes_ = kIdxDefaultMaxBytes;
};

/// Reads an IDX file of unsigned bytes (http://yann.lecun.com/exdb/mnist/), plain or gzipped
/// (detected by the gzip magic 1f 8b), into a tensor of the file's dims holding the raw byte
/// values 0..255 converted to options.dtype (no scaling).
///
/// Format: two zero bytes, the type byte 0x08 (unsigned byte), the number of dims n
/// (1 <= n <= 4), n big-endian uint32 dims, then prod(dims) bytes of data, row-major. MNIST's
/// images have magic 0x00000803 ([N, 28, 28]) and its labels 0x00000801 ([N]).
///
/// Sizes are strict: the (decompressed) file must hold exactly 4 + 4n + prod(dims) bytes;
/// shorter is a truncated file and longer is trailing data, both errors (as in torchvision,
/// whose read_sn3_pascalvincent_tensor asserts it with strict=True and whose final
/// .view(*dims) fails on any mismatch otherwise). A gzipped file must be a complete gzip
/// stream: each member's CRC-32 and length trailer is verified (a file with its last bytes
/// cut off is an error even when all the IDX data came through), concatenated members are
/// read as one stream (RFC 1952, as gzip -d does), zero padding after the last member is
/// ignored (as Python's gzip module does), and any other bytes after it are an error.
///
/// Throws xgrad::Error whose message starts with "read_idx:" and names the path when: the
/// file cannot be opened or read; the magic is wrong; the type is not 0x08; a dim is 0;
/// prod(dims) exceeds 2^48 (checked without overflow, e.g. for dims [2^31, 4, 2^31]);
/// prod(dims) exceeds options.max_bytes (the message gives the declared dims, their byte count
/// and the limit; checked from the header, before the data is allocated or decompressed);
/// the gzip stream is corrupt (bad header, deflate data, CRC-32 or length check), cut short
/// or followed by garbage; the length is not exactly 4 + 4n + prod(dims) bytes (the message
/// gives the expected and actual sizes); or memory for the data or the tensor cannot be
/// allocated. No other exception escapes, nothing is read out of bounds, and no output is
/// allocated before the header has been validated.
Tensor read_idx(const std::string& path, const IdxOptions& options);
/// read_idx(path, IdxOptions().dtype(dtype)): the default size limit, kIdxDefaultMaxBytes.
Tensor read_idx(const std::string& path, Dtype dtype = Dtype::int64);

/// Options of the MNIST-style datasets. With normalize, images are (x - mean) / stddev
/// instead of x in [0, 1]. max_idx_bytes is the size limit of each IDX file read (see
/// IdxOptions::max_bytes; default kIdxDefaultMaxBytes, 188,160,000 data bytes).
struct MnistOptions {
  MnistOptions(double mean, double stddev) : mean_(mean), stddev_(stddev) {}
  MnistOptions& normalize(bool on = true) {
    normalize_ = on;
    return *this;
  }
  MnistOptions& mean(double m) {
    mean_ = m;
    return *this;
  }
  MnistOptions& stddev(double s) {
    stddev_ = s;
    return *this;
  }
  MnistOptions& max_idx_bytes(std::uint64_t n) {
    max_idx_bytes_ = n;
    return *this;
  }

  bool normalize_ = false;
  double mean_;
  double stddev_;
  std::uint64_t max_idx_bytes_ = kIdxDefaultMaxBytes;
};

/// Defaults for MNIST: mean 0.1307, std 0.3081 (torchvision's values).
struct MNISTOptions : MnistOptions {
  MNISTOptions() : MnistOptions(0.1307, 0.3081) {}
};
/// Defaults for Fashion-MNIST: mean 0.2860, std 0.3530.
struct FashionMNISTOptions : MnistOptions {
  FashionMNISTOptions() : MnistOptions(0.2860, 0.3530) {}
};

/// MNIST handwritten digits from IDX files under `root`: train-images-idx3-ubyte,
/// train-labels-idx1-ubyte (train = true, 60000 examples) or t10k-images-idx3-ubyte,
/// t10k-labels-idx1-ubyte (train = false, 10000 examples), each plain or with a ".gz"
/// suffix (the plain name is preferred when both exist).
///
/// Examples: data float32 [1, H, W] (H = W = 28 for MNIST) with x = byte / 255 in [0, 1]
/// (or (x - mean) / stddev with options.normalize), target a 0-d int64 label in [0, 10).
/// The whole split is loaded into memory at construction; images() / labels() expose it as
/// tensors and the DataLoader copies batches straight from them (tensor_rows()).
///
/// Throws xgrad::Error when the root or a file is missing (naming the missing files),
/// for any read_idx error (a file declaring more than options.max_idx_bytes data bytes
/// included), when the images are not 3-d, the labels not 1-d, their counts differ, a label
/// is not in [0, 10), or options.stddev is not > 0.
class MNIST : public Dataset {
 public:
  MNIST(const std::string& root, bool train = true, MnistOptions options = MNISTOptions());

  std::int64_t size() const override;
  std::optional<TensorRows> tensor_rows() const override;

  /// float32 [N, 1, H, W].
  const Tensor& images() const { return images_; }
  /// int64 [N].
  const Tensor& labels() const { return labels_; }
  bool train() const { return train_; }

 protected:
  /// For subclasses: `name` prefixes error messages, `hint` is appended to the message for
  /// missing files.
  MNIST(const std::string& root, bool train, MnistOptions options, std::string_view name, std::string_view hint);
  Example get_unchecked(std::int64_t index) const override;

 private:
  Tensor images_;
  Tensor labels_;
  bool train_;
};

/// Where Debian's package dataset-fashion-mnist installs the gzipped IDX files.
inline constexpr std::string_view kFashionMnistDefaultRoot = "/usr/share/datasets/fashion-mnist";

/// Fashion-MNIST (Zalando's 28x28 grey clothing images, 10 classes: T-shirt/top, Trouser,
/// Pullover, Dress, Coat, Sandal, Shirt, Sneaker, Bag, Ankle boot), same files, format and
/// examples as MNIST. The default root is where `apt-get install dataset-fashion-mnist`
/// puts the files; a missing root or file throws xgrad::Error naming the missing files and
/// that package.
class FashionMNIST : public MNIST {
 public:
  explicit FashionMNIST(const std::string& root = std::string(kFashionMnistDefaultRoot), bool train = true,
                        MnistOptions options = FashionMNISTOptions());

  /// The class names, index = label.
  /// Throws xgrad::Error for a label outside [0, 10).
  static std::string_view class_name(std::int64_t label);
};

}  // namespace xgrad::data
