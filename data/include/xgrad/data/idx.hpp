// IDX files (the MNIST format) and the MNIST / Fashion-MNIST datasets.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "xgrad/autograd/tensor.hpp"
#include "xgrad/data/dataset.hpp"

namespace xgrad::data {

/// Reads an IDX file of unsigned bytes (http://yann.lecun.com/exdb/mnist/), plain or gzipped
/// (detected by the gzip magic 1f 8b and read through zlib), into a tensor of the file's
/// dims holding the raw byte values 0..255 converted to `dtype` (no scaling).
///
/// Format: two zero bytes, the type byte 0x08 (unsigned byte), the number of dims n
/// (1 <= n <= 4), n big-endian uint32 dims, then prod(dims) bytes of data, row-major. MNIST's
/// images have magic 0x00000803 ([N, 28, 28]) and its labels 0x00000801 ([N]).
///
/// Throws xgrad::Error naming the path when the file cannot be opened, the magic is wrong,
/// the type is not 0x08, a dim is 0, prod(dims) exceeds 2^33, the gzip stream is corrupt, or
/// the (uncompressed) length is not exactly 4 + 4n + prod(dims) bytes (truncated file or
/// trailing data; the message gives the expected and actual sizes). Nothing is read out of
/// bounds and no output is allocated before the header has been validated.
Tensor read_idx(const std::string& path, Dtype dtype = Dtype::int64);

/// Options of the MNIST-style datasets. With normalize, images are (x - mean) / stddev
/// instead of x in [0, 1].
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

  bool normalize_ = false;
  double mean_;
  double stddev_;
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
/// for any read_idx error, when the images are not 3-d, the labels not 1-d, their counts
/// differ, a label is not in [0, 10), or options.stddev is not > 0.
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
