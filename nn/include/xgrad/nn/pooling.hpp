// Pooling layers: max, average, adaptive and power-average pooling over 1-d and 2-d windows,
// and max unpooling. Functional forms in xgrad::nn::functional (taking the layer's options
// struct, like libtorch's F::max_pool2d(x, F::MaxPool2dFuncOptions(3))) and modules in
// xgrad::nn. Definitions, defaults and output sizes are PyTorch's.
//
// Common rules (every function below):
// * Shapes. 2-d pooling takes [N, C, H, W] (batched) or [C, H, W] (unbatched: the result has
//   no batch dim either); 1-d pooling takes [N, C, L] or [C, L]. N may be 0 (empty result);
//   C, H, W, L must be >= 1. Every other rank throws.
// * Each plane (one n, one c) is pooled independently; windows cover the last two dims (or
//   the last one for 1-d pooling).
// * Output size along a dim of input size I, kernel k, stride s, padding p, dilation d:
//     O = floor((I + 2p - d (k - 1) - 1 + (ceil_mode ? s - 1 : 0)) / s) + 1,
//   and with ceil_mode, O is decreased by one when the last window would start at or past
//   I + p (a window must start inside the input or the left padding).
//   Window o covers the positions o s - p + j d, j = 0..k-1; padded positions are ignored
//   by max pooling (they act as -inf) and count as zeros for average pooling.
// * dtypes: float32 and float64 (an integer input throws "... expected a floating dtype").
//   Indices are int64. Results are bit-identical at every thread count: the work is split
//   over the N*C planes, each plane computed by one task in a fixed order.
// * Gradients: max pooling sends each output gradient to its argmax (accumulated when
//   windows overlap); the indices are not differentiable. Average pooling distributes each
//   output gradient evenly (divided by the window's divisor). Every backward is itself a
//   recorded, differentiable op, so second derivatives work (gradgradcheck passes).
// * Errors (xgrad::Error naming the op and the shapes or values): wrong rank or an empty
//   plane; kernel_size, stride or dilation < 1; padding < 0 or larger than half the
//   (dilated) kernel; a kernel larger than the padded input (the output size would be < 1);
//   a max window that (through dilation) covers only padding, where PyTorch returns -inf with
//   an index outside the plane; a bad output_size or out-of-range indices for max_unpool2d.
//
// Departures from PyTorch: return_indices is not an option: the *_with_indices functions
// and the modules' forward_with_indices return (output, indices), as in libtorch. Adaptive
// pooling takes explicit output sizes (no None entries).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "xgrad/autograd/tensor.hpp"
#include "xgrad/nn/module.hpp"
#include "xgrad/nn/options.hpp"

namespace xgrad::nn {

/// D sizes (one per spatial dim), given as one number for all dims, or as a braced list of
/// one number (for all dims, like the conv options' lists) or of exactly D numbers
/// (libtorch's ExpandingArray): `PoolSize<2>(3)` and `PoolSize<2>({3})` are (3, 3),
/// `PoolSize<2>({2, 3})` is (2, 3). A list of another length throws xgrad::Error.
template <std::size_t D>
struct PoolSize {
  std::array<std::int64_t, D> v{};
  PoolSize(std::int64_t x) { v.fill(x); }  // NOLINT: implicit on purpose
  PoolSize(std::initializer_list<std::int64_t> l) {
    if (l.size() != D && l.size() != 1)
      throw Error(fmt::format("pooling: expected {} (one per spatial dim), got {}",
                              D == 1 ? std::string("1 size") : fmt::format("1 or {} sizes", D),
                              std::vector<std::int64_t>(l)));
    if (l.size() == 1) {
      v.fill(*l.begin());
    } else {
      std::size_t i = 0;
      for (std::int64_t x : l) v[i++] = x;
    }
  }
  std::int64_t operator[](std::size_t i) const { return v[i]; }
  bool operator==(const PoolSize&) const = default;
};

/// "3" for one size, "(2, 3)" for two (PyTorch's printing of int and tuple arguments).
template <std::size_t D>
std::string to_string(const PoolSize<D>& s) {
  if constexpr (D == 1) {
    return fmt::format("{}", s.v[0]);
  } else {
    return fmt::format("({})", fmt::join(s.v, ", "));
  }
}

// ---- options (stride defaults to kernel_size, set by the constructor as in libtorch) ------

struct MaxPool1dOptions {
  MaxPool1dOptions(PoolSize<1> kernel_size) : kernel_size_(kernel_size), stride_(kernel_size) {}  // NOLINT
#define XGRAD_NN_FIELDS(X)                              \
  X(PoolSize<1>, kernel_size, 1, ::xgrad::options::any) \
  X(PoolSize<1>, stride, 1, ::xgrad::options::any)      \
  X(PoolSize<1>, padding, 0, ::xgrad::options::any)     \
  X(PoolSize<1>, dilation, 1, ::xgrad::options::any)    \
  X(bool, ceil_mode, false, ::xgrad::options::any)
  XGRAD_OPTIONS(MaxPool1dOptions, XGRAD_NN_FIELDS)
#undef XGRAD_NN_FIELDS
};

struct MaxPool2dOptions {
  MaxPool2dOptions(PoolSize<2> kernel_size) : kernel_size_(kernel_size), stride_(kernel_size) {}  // NOLINT
#define XGRAD_NN_FIELDS(X)                              \
  X(PoolSize<2>, kernel_size, 1, ::xgrad::options::any) \
  X(PoolSize<2>, stride, 1, ::xgrad::options::any)      \
  X(PoolSize<2>, padding, 0, ::xgrad::options::any)     \
  X(PoolSize<2>, dilation, 1, ::xgrad::options::any)    \
  X(bool, ceil_mode, false, ::xgrad::options::any)
  XGRAD_OPTIONS(MaxPool2dOptions, XGRAD_NN_FIELDS)
#undef XGRAD_NN_FIELDS
};

struct AvgPool1dOptions {
  AvgPool1dOptions(PoolSize<1> kernel_size) : kernel_size_(kernel_size), stride_(kernel_size) {}  // NOLINT
#define XGRAD_NN_FIELDS(X)                              \
  X(PoolSize<1>, kernel_size, 1, ::xgrad::options::any) \
  X(PoolSize<1>, stride, 1, ::xgrad::options::any)      \
  X(PoolSize<1>, padding, 0, ::xgrad::options::any)     \
  X(bool, ceil_mode, false, ::xgrad::options::any)      \
  X(bool, count_include_pad, true, ::xgrad::options::any)
  XGRAD_OPTIONS(AvgPool1dOptions, XGRAD_NN_FIELDS)
#undef XGRAD_NN_FIELDS
};

/// divisor_override: when set, every window sum is divided by it instead of the window size
/// (must be != 0).
struct AvgPool2dOptions {
  AvgPool2dOptions(PoolSize<2> kernel_size) : kernel_size_(kernel_size), stride_(kernel_size) {}  // NOLINT
#define XGRAD_NN_FIELDS(X)                                \
  X(PoolSize<2>, kernel_size, 1, ::xgrad::options::any)   \
  X(PoolSize<2>, stride, 1, ::xgrad::options::any)        \
  X(PoolSize<2>, padding, 0, ::xgrad::options::any)       \
  X(bool, ceil_mode, false, ::xgrad::options::any)        \
  X(bool, count_include_pad, true, ::xgrad::options::any) \
  X(std::optional<std::int64_t>, divisor_override, std::nullopt, ::xgrad::options::any)
  XGRAD_OPTIONS(AvgPool2dOptions, XGRAD_NN_FIELDS)
#undef XGRAD_NN_FIELDS
};

/// output_size: the (H, W) of every output plane (>= 0).
struct AdaptiveAvgPool2dOptions {
  AdaptiveAvgPool2dOptions(PoolSize<2> output_size) : output_size_(output_size) {}  // NOLINT
#define XGRAD_NN_FIELDS(X) X(PoolSize<2>, output_size, 1, ::xgrad::options::any)
  XGRAD_OPTIONS(AdaptiveAvgPool2dOptions, XGRAD_NN_FIELDS)
#undef XGRAD_NN_FIELDS
};

struct AdaptiveMaxPool2dOptions {
  AdaptiveMaxPool2dOptions(PoolSize<2> output_size) : output_size_(output_size) {}  // NOLINT
#define XGRAD_NN_FIELDS(X) X(PoolSize<2>, output_size, 1, ::xgrad::options::any)
  XGRAD_OPTIONS(AdaptiveMaxPool2dOptions, XGRAD_NN_FIELDS)
#undef XGRAD_NN_FIELDS
};

/// The max_pool2d whose indices are being inverted (stride defaults to kernel_size).
struct MaxUnpool2dOptions {
  MaxUnpool2dOptions(PoolSize<2> kernel_size) : kernel_size_(kernel_size), stride_(kernel_size) {}  // NOLINT
#define XGRAD_NN_FIELDS(X)                              \
  X(PoolSize<2>, kernel_size, 1, ::xgrad::options::any) \
  X(PoolSize<2>, stride, 1, ::xgrad::options::any)      \
  X(PoolSize<2>, padding, 0, ::xgrad::options::any)
  XGRAD_OPTIONS(MaxUnpool2dOptions, XGRAD_NN_FIELDS)
#undef XGRAD_NN_FIELDS
};

/// norm_type p (non-zero, finite), kernel and stride (defaults to kernel_size); no padding.
struct LPPool2dOptions {
  LPPool2dOptions(double norm_type, PoolSize<2> kernel_size)  // NOLINT
      : norm_type_(norm_type), kernel_size_(kernel_size), stride_(kernel_size) {}
#define XGRAD_NN_FIELDS(X)                              \
  X(double, norm_type, 2.0, ::xgrad::options::any)      \
  X(PoolSize<2>, kernel_size, 1, ::xgrad::options::any) \
  X(PoolSize<2>, stride, 1, ::xgrad::options::any)      \
  X(bool, ceil_mode, false, ::xgrad::options::any)
  XGRAD_OPTIONS(LPPool2dOptions, XGRAD_NN_FIELDS)
#undef XGRAD_NN_FIELDS
};

namespace functional {

/// out[n, c, oh, ow] = max over the window (kh x kw, dilated) of the padded input; see the
/// output size rule above. A NaN in a window makes the output NaN (PyTorch's rule: a value
/// is taken when it is > the running maximum or NaN, so the index is that of the last NaN).
/// Among equal maxima the first in window order (row by row) wins and gets the gradient.
/// Throws per the common rules; padding must be <= ((k - 1) d + 1) / 2 per dim.
Tensor max_pool2d(const Tensor& input, const MaxPool2dOptions& options);
/// (max_pool2d's output, indices): int64 tensor of the output's shape holding, for each
/// output, the position h * W + w of its argmax within its input plane (PyTorch's flattened
/// per-plane index; what max_unpool2d takes). The indices do not require grad.
std::pair<Tensor, Tensor> max_pool2d_with_indices(const Tensor& input, const MaxPool2dOptions& options);
/// max_pool2d over the last dim: [N, C, L] -> [N, C, L_out] (or [C, L] -> [C, L_out]).
Tensor max_pool1d(const Tensor& input, const MaxPool1dOptions& options);
/// (max_pool1d's output, indices in [0, L)).
std::pair<Tensor, Tensor> max_pool1d_with_indices(const Tensor& input, const MaxPool1dOptions& options);

/// The partial inverse of max_pool2d: a zero tensor [N, C, H_out, W_out] (or [C, ...]) with
/// out[n, c].flat[indices[n, c, i, j]] = input[n, c, i, j] (a later element wins a repeated
/// index). H_out = (H - 1) s - 2p + k by default; `output_size` ({H_out, W_out}, or the full
/// shape whose last two entries are used) may pick any size strictly between default - s and
/// default + s per dim. indices: int64, the input's shape. Backward: gather of the gradient
/// at the indices. Throws for a rank mismatch, indices of another shape or dtype, an index
/// outside [0, H_out W_out), or an output_size of the wrong length or out of range.
Tensor max_unpool2d(const Tensor& input, const Tensor& indices, const MaxUnpool2dOptions& options,
                    const std::vector<std::int64_t>& output_size = {});

/// out = (sum of the window of the zero-padded input) / divisor, where divisor =
/// divisor_override if set, else the window size kh kw clipped to the padded input when
/// count_include_pad (default), else the number of input (non-padding) positions in the
/// window. A window entirely inside the right padding (possible with ceil_mode) gives 0.
/// Sums accumulate in double. Throws per the common rules; padding must be <= k / 2 per dim,
/// and divisor_override must not be 0.
Tensor avg_pool2d(const Tensor& input, const AvgPool2dOptions& options);
/// avg_pool2d over the last dim (no divisor_override, as in PyTorch).
Tensor avg_pool1d(const Tensor& input, const AvgPool1dOptions& options);

/// Output [N, C, OH, OW] for output_size (OH, OW): window (i, j) covers rows
/// [floor(i H / OH), ceil((i + 1) H / OH)) and columns likewise; out = window mean.
/// Throws for a negative output_size.
Tensor adaptive_avg_pool2d(const Tensor& input, const AdaptiveAvgPool2dOptions& options);
/// Same windows, out = window max (NaN and ties as max_pool2d).
Tensor adaptive_max_pool2d(const Tensor& input, const AdaptiveMaxPool2dOptions& options);
/// (adaptive_max_pool2d's output, int64 indices h * W + w within each plane).
std::pair<Tensor, Tensor> adaptive_max_pool2d_with_indices(const Tensor& input,
                                                           const AdaptiveMaxPool2dOptions& options);

/// Power-average pooling, PyTorch's formula: with a = avg_pool2d(x^p, kernel, stride,
/// padding 0, ceil_mode), out = (sign(a) relu(|a|) kh kw)^(1/p), i.e. the p-norm of each
/// window (x^p uses pow, so a negative x with a fractional p gives NaN as in PyTorch).
/// Differentiable through those ops (the gradient is infinite where a window sums to 0).
/// Throws per avg_pool2d, and for norm_type 0 or not finite.
Tensor lp_pool2d(const Tensor& input, const LPPool2dOptions& options);

}  // namespace functional

// ---- modules: forward calls the functional form; extra_repr prints the options in PyTorch's
//      style, 2-d sizes always as tuples ("kernel_size=(2, 2), stride=(2, 2), padding=(0, 0),
//      dilation=(1, 1), ceil_mode=False"; PyTorch prints an int given as an int) ----

class MaxPool1d : public Module {
 public:
  explicit MaxPool1d(const MaxPool1dOptions& options) : Module("MaxPool1d"), options_(options) {}
  /// MaxPool1d(2) as in libtorch: the options with this kernel_size and their defaults.
  explicit MaxPool1d(PoolSize<1> kernel_size) : MaxPool1d(MaxPool1dOptions(kernel_size)) {}
  Tensor forward(const Tensor& input) override;
  std::pair<Tensor, Tensor> forward_with_indices(const Tensor& input);
  std::string extra_repr() const override;
  const MaxPool1dOptions& options() const { return options_; }

 private:
  MaxPool1dOptions options_;
};

class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(const MaxPool2dOptions& options) : Module("MaxPool2d"), options_(options) {}
  /// MaxPool2d(2) as in libtorch: the options with this kernel_size and their defaults.
  explicit MaxPool2d(PoolSize<2> kernel_size) : MaxPool2d(MaxPool2dOptions(kernel_size)) {}
  Tensor forward(const Tensor& input) override;
  std::pair<Tensor, Tensor> forward_with_indices(const Tensor& input);
  std::string extra_repr() const override;
  const MaxPool2dOptions& options() const { return options_; }

 private:
  MaxPool2dOptions options_;
};

class MaxUnpool2d : public Module {
 public:
  explicit MaxUnpool2d(const MaxUnpool2dOptions& options) : Module("MaxUnpool2d"), options_(options) {}
  /// MaxUnpool2d(2) as in libtorch: the options with this kernel_size and their defaults.
  explicit MaxUnpool2d(PoolSize<2> kernel_size) : MaxUnpool2d(MaxUnpool2dOptions(kernel_size)) {}
  using Module::forward;  // the one-input form throws: MaxUnpool2d takes the indices too
  Tensor forward(const Tensor& input, const Tensor& indices, const std::vector<std::int64_t>& output_size = {});
  /// Same as forward(input, indices, output_size) (module hooks, which take one input, are not run).
  Tensor operator()(const Tensor& input, const Tensor& indices, const std::vector<std::int64_t>& output_size = {}) {
    return forward(input, indices, output_size);
  }
  using Module::operator();
  std::string extra_repr() const override;
  const MaxUnpool2dOptions& options() const { return options_; }

 private:
  MaxUnpool2dOptions options_;
};

class AvgPool1d : public Module {
 public:
  explicit AvgPool1d(const AvgPool1dOptions& options) : Module("AvgPool1d"), options_(options) {}
  /// AvgPool1d(2) as in libtorch: the options with this kernel_size and their defaults.
  explicit AvgPool1d(PoolSize<1> kernel_size) : AvgPool1d(AvgPool1dOptions(kernel_size)) {}
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;
  const AvgPool1dOptions& options() const { return options_; }

 private:
  AvgPool1dOptions options_;
};

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(const AvgPool2dOptions& options) : Module("AvgPool2d"), options_(options) {}
  /// AvgPool2d(2) as in libtorch: the options with this kernel_size and their defaults.
  explicit AvgPool2d(PoolSize<2> kernel_size) : AvgPool2d(AvgPool2dOptions(kernel_size)) {}
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;
  const AvgPool2dOptions& options() const { return options_; }

 private:
  AvgPool2dOptions options_;
};

class AdaptiveAvgPool2d : public Module {
 public:
  explicit AdaptiveAvgPool2d(const AdaptiveAvgPool2dOptions& options)
      : Module("AdaptiveAvgPool2d"), options_(options) {}
  /// AdaptiveAvgPool2d(7) as in libtorch: this output_size.
  explicit AdaptiveAvgPool2d(PoolSize<2> output_size) : AdaptiveAvgPool2d(AdaptiveAvgPool2dOptions(output_size)) {}
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;
  const AdaptiveAvgPool2dOptions& options() const { return options_; }

 private:
  AdaptiveAvgPool2dOptions options_;
};

class AdaptiveMaxPool2d : public Module {
 public:
  explicit AdaptiveMaxPool2d(const AdaptiveMaxPool2dOptions& options)
      : Module("AdaptiveMaxPool2d"), options_(options) {}
  /// AdaptiveMaxPool2d(7) as in libtorch: this output_size.
  explicit AdaptiveMaxPool2d(PoolSize<2> output_size) : AdaptiveMaxPool2d(AdaptiveMaxPool2dOptions(output_size)) {}
  Tensor forward(const Tensor& input) override;
  std::pair<Tensor, Tensor> forward_with_indices(const Tensor& input);
  std::string extra_repr() const override;
  const AdaptiveMaxPool2dOptions& options() const { return options_; }

 private:
  AdaptiveMaxPool2dOptions options_;
};

class LPPool2d : public Module {
 public:
  explicit LPPool2d(const LPPool2dOptions& options) : Module("LPPool2d"), options_(options) {}
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;
  const LPPool2dOptions& options() const { return options_; }

 private:
  LPPool2dOptions options_;
};

}  // namespace xgrad::nn
