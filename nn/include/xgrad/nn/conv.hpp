// Convolutions: conv1d/2d/3d and conv_transpose1d/2d (function form in xgrad::nn::functional)
// and the modules Conv1d/2d/3d, ConvTranspose1d/2d. PyTorch's definitions, argument order and
// defaults (torch.nn.functional.conv2d, torch.nn.Conv2d).
//
// Convolution (cross-correlation, as in PyTorch), for d spatial dims, G groups:
//   y[n, o, p] = b[o] + sum_{c in group(o)} sum_{k} w[o, c - g(o) Cin/G, k] x[n, c, p s - pad + k dil]
// with x read as 0 outside its bounds (zero padding). Shapes: input [N, Cin, L...] (or unbatched
// [Cin, L...]), weight [Cout, Cin / G, K...], bias [Cout]; output [N, Cout, Lout...] with, per dim,
//   Lout = floor((L + 2 pad - dil (K - 1) - 1) / stride) + 1.
// Transposed convolution is the adjoint of convolution in its input (the input gradient of a
// convolution): weight [Cin, Cout / G, K...], input [N, Cin, L...], output [N, Cout, Lout...] with
//   Lout = (L - 1) stride - 2 pad + dil (K - 1) + output_padding + 1.
//
// Implementation: every call runs as a 3-d convolution (1-d and 2-d have size-1 dims added),
// im2col into one packed buffer [Cin K, N Lout], then the library's (TBB-split, deterministic)
// matrix product; a 1x1, stride-1, unpadded convolution is one product with no packing.
// Backward is its own node: input gradient = conv_transpose of the output gradient (product
// and col2im), weight gradient = one product over the packed columns, bias gradient = a sum.
// These three are one trilinear form <conv(x, w), g>, so every derivative is again one of
// them: gradients of any order exist (gradgradcheck passes). Results are bit-identical at
// every thread count. float32 and float64 only (PyTorch also has no integer CPU convolution):
// other dtypes throw "conv2d: expected a floating dtype ...".
//
// Errors (xgrad::Error naming the op and the shapes): input of the wrong rank (conv2d wants
// 3-d or 4-d), weight of the wrong rank or channels (weight.size(1) * groups != Cin), Cout not
// divisible by groups, groups < 1, negative padding, stride or dilation < 1, a kernel larger
// than the padded input ("kernel size can't be greater than actual input size"), an output size
// < 1, a bias that is not [Cout], dtype mismatch, padding "same" with a stride > 1, an unknown
// padding string, output_padding >= stride and >= dilation (conv_transpose).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "xgrad/nn/module.hpp"
#include "xgrad/nn/options.hpp"

namespace xgrad::nn {

/// Padding of a convolution: one number for every spatial dim, one number per dim, or the
/// strings "valid" (no padding) and "same" (output size = input size; stride must be 1; for
/// an even total padding dil (K - 1) the extra element goes to the end, as in PyTorch).
/// Implicit from an integer, a list and a string: conv2d(x, w, {}, {1}, "same").
struct ConvPadding {
  ConvPadding(std::int64_t p = 0) : values{p} {}                      // NOLINT: implicit
  ConvPadding(int p) : values{p} {}                                   // NOLINT: implicit (0 is no pointer)
  ConvPadding(std::initializer_list<std::int64_t> p) : values(p) {}   // NOLINT: implicit
  ConvPadding(std::vector<std::int64_t> p) : values(std::move(p)) {}  // NOLINT: implicit
  ConvPadding(const char* s) : mode(s) {}                             // NOLINT: implicit
  ConvPadding(std::string s) : mode(std::move(s)) {}                  // NOLINT: implicit
  std::vector<std::int64_t> values;                                   ///< used when mode is empty
  std::string mode;                                                   ///< "", "same" or "valid"
  bool operator==(const ConvPadding&) const = default;
};
/// "1", "(1, 2)" or "'same'" (as PyTorch prints a module's padding).
std::string to_string(const ConvPadding& p);

/// How a Conv module pads (torch's padding_mode): zeros (inside the convolution), or an
/// explicit pad(..., PadMode) of the input before an unpadded convolution.
enum class ConvPaddingMode { zeros, reflect, replicate, circular };
/// "zeros", "reflect", "replicate", "circular".
std::string to_string(ConvPaddingMode m);

namespace functional {

/// 1-d convolution. input [N, Cin, L] or [Cin, L], weight [Cout, Cin/groups, K], bias [Cout]
/// or undefined; stride, padding, dilation: one value or one per spatial dim.
Tensor conv1d(const Tensor& input, const Tensor& weight, const Tensor& bias = Tensor(),
              const std::vector<std::int64_t>& stride = {1}, const ConvPadding& padding = 0,
              const std::vector<std::int64_t>& dilation = {1}, std::int64_t groups = 1);
/// 2-d convolution. input [N, Cin, H, W] or [Cin, H, W], weight [Cout, Cin/groups, KH, KW].
Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias = Tensor(),
              const std::vector<std::int64_t>& stride = {1}, const ConvPadding& padding = 0,
              const std::vector<std::int64_t>& dilation = {1}, std::int64_t groups = 1);
/// 3-d convolution. input [N, Cin, D, H, W] or [Cin, D, H, W], weight [Cout, Cin/groups, KD, KH, KW].
Tensor conv3d(const Tensor& input, const Tensor& weight, const Tensor& bias = Tensor(),
              const std::vector<std::int64_t>& stride = {1}, const ConvPadding& padding = 0,
              const std::vector<std::int64_t>& dilation = {1}, std::int64_t groups = 1);

/// 1-d transposed convolution ("deconvolution"). input [N, Cin, L] or [Cin, L], weight
/// [Cin, Cout/groups, K], bias [Cout]; output [N, Cout, (L-1) stride - 2 pad + dil (K-1) +
/// output_padding + 1]. output_padding must be < stride or < dilation (per dim).
Tensor conv_transpose1d(const Tensor& input, const Tensor& weight, const Tensor& bias = Tensor(),
                        const std::vector<std::int64_t>& stride = {1}, const std::vector<std::int64_t>& padding = {0},
                        const std::vector<std::int64_t>& output_padding = {0}, std::int64_t groups = 1,
                        const std::vector<std::int64_t>& dilation = {1});
/// 2-d transposed convolution. input [N, Cin, H, W] or [Cin, H, W], weight [Cin, Cout/groups, KH, KW].
Tensor conv_transpose2d(const Tensor& input, const Tensor& weight, const Tensor& bias = Tensor(),
                        const std::vector<std::int64_t>& stride = {1}, const std::vector<std::int64_t>& padding = {0},
                        const std::vector<std::int64_t>& output_padding = {0}, std::int64_t groups = 1,
                        const std::vector<std::int64_t>& dilation = {1});

}  // namespace functional

/// Options of Conv1d/2d/3d: ConvOptions(in, out, kernel_size).stride(2).padding(1)...
/// kernel_size, stride and dilation: one value (used for every dim) or one per dim.
struct ConvOptions {
  ConvOptions(std::int64_t in_channels, std::int64_t out_channels, std::vector<std::int64_t> kernel_size) {
    in_channels_ = in_channels;
    out_channels_ = out_channels;
    kernel_size_ = std::move(kernel_size);
  }
#define XGRAD_NN_CONV_FIELDS(X)                                        \
  X(std::int64_t, in_channels, 0, ::xgrad::options::any)               \
  X(std::int64_t, out_channels, 0, ::xgrad::options::any)              \
  X(std::vector<std::int64_t>, kernel_size, {}, ::xgrad::options::any) \
  X(std::vector<std::int64_t>, stride, {1}, ::xgrad::options::any)     \
  X(ConvPadding, padding, 0, ::xgrad::options::any)                    \
  X(std::vector<std::int64_t>, dilation, {1}, ::xgrad::options::any)   \
  X(std::int64_t, groups, 1, ::xgrad::options::any)                    \
  X(bool, bias, true, ::xgrad::options::any)                           \
  X(ConvPaddingMode, padding_mode, ConvPaddingMode::zeros, ::xgrad::options::any)
  XGRAD_OPTIONS(ConvOptions, XGRAD_NN_CONV_FIELDS)
#undef XGRAD_NN_CONV_FIELDS
};
using Conv1dOptions = ConvOptions;
using Conv2dOptions = ConvOptions;
using Conv3dOptions = ConvOptions;

/// Convolution layer over D = 1, 2 or 3 spatial dims (Conv1d, Conv2d, Conv3d).
/// weight: [out, in/groups, K...], bias: [out] (absent with bias(false)). padding_mode other
/// than zeros pads the input with pad(..., PadMode) by the numeric padding (or the "same"
/// amounts), then runs an unpadded convolution, as PyTorch does.
/// Init (PyTorch's): kaiming_uniform_(a = sqrt(5)) for the weight, i.e. U(-1/sqrt(fan_in),
/// 1/sqrt(fan_in)) with fan_in = in/groups * prod(K), and U(-1/sqrt(fan_in), 1/sqrt(fan_in))
/// for the bias; both from the global generator.
/// Throws xgrad::Error (at construction) for sizes < 1 (in, out, kernel, stride, dilation,
/// groups), in or out not divisible by groups, a list of the wrong length, negative padding,
/// an unknown padding string, and "same" with a stride > 1.
template <int D>
class ConvNd : public Module {
 public:
  ConvNd(std::int64_t in_channels, std::int64_t out_channels, std::vector<std::int64_t> kernel_size)
      : ConvNd(ConvOptions(in_channels, out_channels, std::move(kernel_size))) {}
  explicit ConvNd(const ConvOptions& options);
  Tensor forward(const Tensor& input) override;
  /// Re-draws the parameters with the default init.
  void reset_parameters();
  std::string extra_repr() const override;
  const ConvOptions& options() const { return options_; }

  Tensor weight;
  Tensor bias;  ///< undefined without bias

 private:
  ConvOptions options_;
};
using Conv1d = ConvNd<1>;
using Conv2d = ConvNd<2>;
using Conv3d = ConvNd<3>;

/// Options of ConvTranspose1d/2d: ConvTransposeOptions(in, out, kernel_size).stride(2)...
struct ConvTransposeOptions {
  ConvTransposeOptions(std::int64_t in_channels, std::int64_t out_channels, std::vector<std::int64_t> kernel_size) {
    in_channels_ = in_channels;
    out_channels_ = out_channels;
    kernel_size_ = std::move(kernel_size);
  }
#define XGRAD_NN_CONVT_FIELDS(X)                                           \
  X(std::int64_t, in_channels, 0, ::xgrad::options::any)                   \
  X(std::int64_t, out_channels, 0, ::xgrad::options::any)                  \
  X(std::vector<std::int64_t>, kernel_size, {}, ::xgrad::options::any)     \
  X(std::vector<std::int64_t>, stride, {1}, ::xgrad::options::any)         \
  X(std::vector<std::int64_t>, padding, {0}, ::xgrad::options::any)        \
  X(std::vector<std::int64_t>, output_padding, {0}, ::xgrad::options::any) \
  X(std::int64_t, groups, 1, ::xgrad::options::any)                        \
  X(bool, bias, true, ::xgrad::options::any)                               \
  X(std::vector<std::int64_t>, dilation, {1}, ::xgrad::options::any)
  XGRAD_OPTIONS(ConvTransposeOptions, XGRAD_NN_CONVT_FIELDS)
#undef XGRAD_NN_CONVT_FIELDS
};
using ConvTranspose1dOptions = ConvTransposeOptions;
using ConvTranspose2dOptions = ConvTransposeOptions;

/// Transposed convolution layer (ConvTranspose1d, ConvTranspose2d). weight: [in, out/groups,
/// K...], bias: [out]. Only zero padding (as PyTorch). Init (PyTorch's): kaiming_uniform_(a =
/// sqrt(5)) with fan_in computed from the weight's shape (size(1) * prod(K) = out/groups *
/// prod(K)), bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)). forward(input) uses the options'
/// output_padding. Throws like ConvNd, plus output_padding >= both stride and dilation.
template <int D>
class ConvTransposeNd : public Module {
 public:
  ConvTransposeNd(std::int64_t in_channels, std::int64_t out_channels, std::vector<std::int64_t> kernel_size)
      : ConvTransposeNd(ConvTransposeOptions(in_channels, out_channels, std::move(kernel_size))) {}
  explicit ConvTransposeNd(const ConvTransposeOptions& options);
  Tensor forward(const Tensor& input) override;
  void reset_parameters();
  std::string extra_repr() const override;
  const ConvTransposeOptions& options() const { return options_; }

  Tensor weight;
  Tensor bias;

 private:
  ConvTransposeOptions options_;
};
using ConvTranspose1d = ConvTransposeNd<1>;
using ConvTranspose2d = ConvTransposeNd<2>;

}  // namespace xgrad::nn
