// Layer normalisation and RMS normalisation over the trailing dims: layer_norm and rms_norm
// (xgrad::nn::functional), LayerNorm and RMSNorm (xgrad::nn). Definitions, defaults and
// parameter names are PyTorch's (a state dict saved by PyTorch loads here).
//
// Common rules:
// * normalized_shape S = [s_1, ..., s_k] (k >= 1) must equal input's last k sizes; the input
//   is read as R rows of N = prod(S) values (R = product of the leading sizes), each row
//   normalised on its own. The output has input's shape and dtype.
// * Floating dtypes only (float32, float64); weight and bias must have shape S and input's
//   dtype (PyTorch would also accept a weight of another floating dtype; we throw).
// * Fused kernels: one task per row computes the row's statistics (in double, two passes: the
//   mean, then the centred sum of squares, so a row with a large mean keeps its precision)
//   and writes the row's output; rows are split across threads with kernel::parallel_for, so
//   results are bit-identical at every thread count. mean and rstd ([R], float64) are saved
//   for the backward. The backward is one fused task per row for dx (PyTorch's formula
//   below) and, for dweight / dbias, blocks of columns each summed over the rows in row
//   order by one task (bit-identical at every thread count too). Under create_graph the
//   backward is composed from differentiable ops instead (the same formulas, statistics
//   recomputed from x), so it differentiates again (gradgradcheck passes).
// * An empty input gives an empty output (x weight + bias, keeping the graph).
// * Every user mistake throws xgrad::Error naming the op (or the layer) and the shapes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "xgrad/autograd/tensor.hpp"
#include "xgrad/nn/module.hpp"
#include "xgrad/nn/options.hpp"

namespace xgrad::nn {

namespace functional {

/// Layer normalisation (PyTorch's F.layer_norm): per row (the last k = len(normalized_shape)
/// dims),
///   y = (x - mean) / sqrt(var + eps) * weight + bias,
/// mean and var the row's mean and BIASED variance (divided by N). weight, bias: shape
/// normalized_shape, or undefined (1 and 0). grad_fn NativeLayerNormBackward; with
/// xhat = (x - mean) rstd, rstd = 1 / sqrt(var + eps), gw = g weight:
///   dx = rstd (gw - mean(gw) - xhat mean(gw xhat))   (means over the row),
///   dweight = sum over rows of g xhat,  dbias = sum over rows of g.
/// Throws xgrad::Error: undefined or non-floating input ("expected a floating dtype (float32
/// or float64)"), empty normalized_shape, normalized_shape other than input's trailing sizes,
/// weight or bias of another shape than normalized_shape or of another dtype than input.
Tensor layer_norm(const Tensor& input, const std::vector<std::int64_t>& normalized_shape,
                  const Tensor& weight = Tensor(), const Tensor& bias = Tensor(), double eps = 1e-5);

/// Root-mean-square normalisation (PyTorch's F.rms_norm): per row,
///   y = x / sqrt(mean(x^2) + eps) * weight,
/// eps = std::nullopt meaning the machine epsilon of input's dtype
/// (std::numeric_limits<T>::epsilon(), PyTorch's torch.finfo(dtype).eps: 1.19e-7 for float32,
/// 2.22e-16 for float64). weight: shape normalized_shape or undefined (1). grad_fn
/// FusedRmsNormBackward; with rstd = 1 / sqrt(mean(x^2) + eps), xhat = x rstd, gw = g weight:
///   dx = rstd (gw - xhat mean(gw xhat)),  dweight = sum over rows of g xhat.
/// Throws like layer_norm (naming rms_norm).
Tensor rms_norm(const Tensor& input, const std::vector<std::int64_t>& normalized_shape, const Tensor& weight = Tensor(),
                std::optional<double> eps = std::nullopt);

}  // namespace functional

namespace checks {
/// A normalized_shape option: at least one entry, none negative.
struct NormalizedShape {
  void operator()(std::string_view owner, std::string_view name, const std::vector<std::int64_t>& s) const;
};
inline constexpr NormalizedShape normalized_shape{};
}  // namespace checks

// ---- options --------------------------------------------------------------------------------

/// Options of LayerNorm: LayerNormOptions({2, 3}).eps(1e-6).elementwise_affine(false).bias(false).
struct LayerNormOptions {
  LayerNormOptions(std::vector<std::int64_t> normalized_shape) {  // NOLINT: implicit on purpose
    normalized_shape_ = std::move(normalized_shape);
  }
  LayerNormOptions(std::int64_t n) : LayerNormOptions(std::vector<std::int64_t>{n}) {}  // NOLINT
#define XGRAD_NN_FIELDS(X)                                                                  \
  X(std::vector<std::int64_t>, normalized_shape, {}, ::xgrad::nn::checks::normalized_shape) \
  X(double, eps, 1e-5, ::xgrad::options::any)                                               \
  X(bool, elementwise_affine, true, ::xgrad::options::any)                                  \
  X(bool, bias, true, ::xgrad::options::any)
  XGRAD_OPTIONS(LayerNormOptions, XGRAD_NN_FIELDS)
#undef XGRAD_NN_FIELDS
};

/// Options of RMSNorm: RMSNormOptions({4}).eps(1e-6).elementwise_affine(false). eps
/// std::nullopt (the default): the machine epsilon of the input's dtype.
struct RMSNormOptions {
  RMSNormOptions(std::vector<std::int64_t> normalized_shape) {  // NOLINT: implicit on purpose
    normalized_shape_ = std::move(normalized_shape);
  }
  RMSNormOptions(std::int64_t n) : RMSNormOptions(std::vector<std::int64_t>{n}) {}  // NOLINT
#define XGRAD_NN_FIELDS(X)                                                                  \
  X(std::vector<std::int64_t>, normalized_shape, {}, ::xgrad::nn::checks::normalized_shape) \
  X(std::optional<double>, eps, std::nullopt, ::xgrad::options::any)                        \
  X(bool, elementwise_affine, true, ::xgrad::options::any)
  XGRAD_OPTIONS(RMSNormOptions, XGRAD_NN_FIELDS)
#undef XGRAD_NN_FIELDS
};

// ---- modules --------------------------------------------------------------------------------

/// functional::layer_norm with parameters weight (ones) and bias (zeros), both of shape
/// normalized_shape, when elementwise_affine (bias only when options.bias()). Parameters are
/// float32 like every module's; .to(float64) converts them. Throws xgrad::Error at
/// construction for an empty or negative normalized_shape, and in forward like layer_norm
/// (naming LayerNorm).
class LayerNorm : public Module {
 public:
  explicit LayerNorm(const LayerNormOptions& options);
  explicit LayerNorm(std::vector<std::int64_t> normalized_shape)
      : LayerNorm(LayerNormOptions(std::move(normalized_shape))) {}
  explicit LayerNorm(std::int64_t n) : LayerNorm(LayerNormOptions(n)) {}
  Tensor forward(const Tensor& input) override;
  /// weight = 1, bias = 0.
  void reset_parameters();
  /// PyTorch's: "(4,), eps=1e-05, elementwise_affine=True" (normalized_shape as a tuple).
  std::string extra_repr() const override;
  const LayerNormOptions& options() const { return options_; }

  Tensor weight, bias;  ///< undefined without elementwise_affine (bias: or without bias)

 private:
  LayerNormOptions options_;
};

/// functional::rms_norm with parameter weight (ones, shape normalized_shape) when
/// elementwise_affine. Throws like LayerNorm.
class RMSNorm : public Module {
 public:
  explicit RMSNorm(const RMSNormOptions& options);
  explicit RMSNorm(std::vector<std::int64_t> normalized_shape) : RMSNorm(RMSNormOptions(std::move(normalized_shape))) {}
  explicit RMSNorm(std::int64_t n) : RMSNorm(RMSNormOptions(n)) {}
  Tensor forward(const Tensor& input) override;
  /// weight = 1.
  void reset_parameters();
  /// PyTorch's: "(4,), eps=None, elementwise_affine=True".
  std::string extra_repr() const override;
  const RMSNormOptions& options() const { return options_; }

  Tensor weight;  ///< undefined without elementwise_affine

 private:
  RMSNormOptions options_;
};

}  // namespace xgrad::nn
