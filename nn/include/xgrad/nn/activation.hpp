// Activation functions: the functional forms in xgrad::nn::functional and the matching
// parameter-free modules in xgrad::nn. Definitions and defaults are PyTorch's.
//
// Common rules (every function below):
// * Input of any shape; the output has the input's shape and dtype.
// * Floating dtypes only (float32, float64): an int64 input throws xgrad::Error naming the op
//   (relu alone also accepts int64, like PyTorch). An undefined tensor throws.
// * All are differentiable twice or more (gradgradcheck passes); at a kink the derivative takes
//   PyTorch's value, noted per function.
// * Element-wise functions run in one fused pass over the data (TBB-parallel above 32768
//   elements, inline below); softmax / log_softmax are fused row kernels with a stable backward.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "xgrad/autograd/tensor.hpp"
#include "xgrad/nn/module.hpp"
#include "xgrad/nn/options.hpp"

namespace xgrad::nn {

namespace functional {

/// 1 / (1 + e^-x). d/dx = s (1 - s).
Tensor sigmoid(const Tensor& x);
/// tanh x. d/dx = 1 - tanh^2 x.
Tensor tanh(const Tensor& x);
/// max(x, 0). d/dx = 1 where x > 0, else 0 (0 at x == 0). int64 allowed (not differentiable).
Tensor relu(const Tensor& x);
/// x where x > 0, else negative_slope * x. d/dx = 1 where x > 0, else negative_slope.
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);
/// GELU. approximate "none" (default): x/2 (1 + erf(x / sqrt 2)) = x Phi(x);
/// d/dx = Phi(x) + x phi(x), phi the standard normal density.
/// approximate "tanh": x/2 (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3);
/// d/dx = (1 + tanh u)/2 + x/2 (1 - tanh^2 u) sqrt(2/pi) (1 + 3 * 0.044715 x^2).
/// Throws xgrad::Error for any other `approximate` string.
Tensor gelu(const Tensor& x, std::string_view approximate = "none");
/// x where x > 0, else alpha (e^x - 1). d/dx = 1 where x > 0, else alpha e^x (alpha at 0).
Tensor elu(const Tensor& x, double alpha = 1.0);
/// scale * elu(x, alpha) with the fixed constants of Klambauer et al. (kSeluScale, kSeluAlpha).
Tensor selu(const Tensor& x);
/// x sigmoid(x) (a.k.a. swish). d/dx = s (1 + x (1 - s)), s = sigmoid(x).
Tensor silu(const Tensor& x);
/// log(1 + e^(beta x)) / beta, and x itself where beta x > threshold (linear regime, no
/// overflow). d/dx = sigmoid(beta x) where beta x <= threshold, else 1.
Tensor softplus(const Tensor& x, double beta = 1.0, double threshold = 20.0);
/// Softmax along `dim` (negative counts from the end): y_i = e^(x_i - m) / sum_j e^(x_j - m),
/// m the maximum along dim (never exp() of raw logits: logits of +-1000 are fine). Each slice
/// along dim sums to 1. Backward: g_x = y (g - sum(g y, dim)). A 0-d tensor takes dim 0 or -1.
/// Throws when dim is out of range, naming the op, the dim and the shape.
Tensor softmax(const Tensor& x, std::int64_t dim);
/// log(softmax(x, dim)) computed stably as x - m - log(sum_j e^(x_j - m)).
/// Backward: g_x = g - e^y sum(g, dim). Throws like softmax.
///
/// Both ops (and their backwards, each one fused row kernel that is itself differentiable:
/// grad_fn SoftmaxBackwardBackward / LogSoftmaxBackwardBackward under create_graph) use a
/// vectorised exp for float32, within about 1 ulp of libm's; float64 uses std::exp. Row sums
/// accumulate in double, so results do not depend on the thread count.
Tensor log_softmax(const Tensor& x, std::int64_t dim);
/// softmax(-x, dim). Throws like softmax (errors name "softmin").
Tensor softmin(const Tensor& x, std::int64_t dim);
/// min(max(x, min_val), max_val). d/dx = 1 where min_val < x < max_val, else 0 (0 at both
/// bounds, like PyTorch's hardtanh). Throws when min_val > max_val.
Tensor hardtanh(const Tensor& x, double min_val = -1.0, double max_val = 1.0);
/// hardtanh(x, 0, 6).
Tensor relu6(const Tensor& x);
/// x tanh(softplus(x)). d/dx = tanh(sp) + x sigmoid(x) (1 - tanh^2(sp)), sp = softplus(x).
Tensor mish(const Tensor& x);

}  // namespace functional

/// SELU's constants (Klambauer et al. 2017, as in PyTorch).
inline constexpr double kSeluAlpha = 1.6732632423543772848170429916717;
inline constexpr double kSeluScale = 1.0507009873554804934193349852946;

// ---- options (one field list each, on the option mechanism of xgrad/nn/options.hpp:
//      chainable setters, getters, printing) -------------------------------------------------

struct LeakyReLUOptions {
#define XGRAD_NN_FIELDS(X) X(double, negative_slope, 0.01, ::xgrad::options::any)
  XGRAD_OPTIONS(LeakyReLUOptions, XGRAD_NN_FIELDS)
#undef XGRAD_NN_FIELDS
};

struct GELUOptions {
  /// approximate: "none" (exact erf form) or "tanh".
#define XGRAD_NN_FIELDS(X) X(std::string, approximate, "none", ::xgrad::options::any)
  XGRAD_OPTIONS(GELUOptions, XGRAD_NN_FIELDS)
#undef XGRAD_NN_FIELDS
};

struct ELUOptions {
#define XGRAD_NN_FIELDS(X) X(double, alpha, 1.0, ::xgrad::options::any)
  XGRAD_OPTIONS(ELUOptions, XGRAD_NN_FIELDS)
#undef XGRAD_NN_FIELDS
};

struct SoftplusOptions {
#define XGRAD_NN_FIELDS(X)                             \
  X(double, beta, 1.0, ::xgrad::options::any)          \
  X(double, threshold, 20.0, ::xgrad::options::any)
  XGRAD_OPTIONS(SoftplusOptions, XGRAD_NN_FIELDS)
#undef XGRAD_NN_FIELDS
};

/// min_val must not be greater than max_val (checked by Hardtanh).
struct HardtanhOptions {
#define XGRAD_NN_FIELDS(X)                             \
  X(double, min_val, -1.0, ::xgrad::options::any)      \
  X(double, max_val, 1.0, ::xgrad::options::any)
  XGRAD_OPTIONS(HardtanhOptions, XGRAD_NN_FIELDS)
#undef XGRAD_NN_FIELDS
};

// ---- modules: forward(x) calls the functional form; extra_repr() prints the hyper-parameters
//      like PyTorch ("negative_slope=0.01", "approximate='tanh'", "dim=1") ----

class Sigmoid : public Module {
 public:
  Sigmoid() : Module("Sigmoid") {}
  Tensor forward(const Tensor& input) override;
};

class Tanh : public Module {
 public:
  Tanh() : Module("Tanh") {}
  Tensor forward(const Tensor& input) override;
};

class ReLU : public Module {
 public:
  ReLU() : Module("ReLU") {}
  Tensor forward(const Tensor& input) override;
};

class LeakyReLU : public Module {
 public:
  explicit LeakyReLU(LeakyReLUOptions options = {});
  explicit LeakyReLU(double negative_slope) : LeakyReLU(LeakyReLUOptions().negative_slope(negative_slope)) {}
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;
  const LeakyReLUOptions& options() const { return options_; }

 private:
  LeakyReLUOptions options_;
};

class GELU : public Module {
 public:
  /// Throws xgrad::Error when approximate is neither "none" nor "tanh".
  explicit GELU(GELUOptions options = {});
  explicit GELU(std::string approximate) : GELU(GELUOptions().approximate(std::move(approximate))) {}
  explicit GELU(const char* approximate) : GELU(std::string(approximate)) {}
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;
  const GELUOptions& options() const { return options_; }

 private:
  GELUOptions options_;
};

class ELU : public Module {
 public:
  explicit ELU(ELUOptions options = {});
  explicit ELU(double alpha) : ELU(ELUOptions().alpha(alpha)) {}
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;
  const ELUOptions& options() const { return options_; }

 private:
  ELUOptions options_;
};

class SELU : public Module {
 public:
  SELU() : Module("SELU") {}
  Tensor forward(const Tensor& input) override;
};

class SiLU : public Module {
 public:
  SiLU() : Module("SiLU") {}
  Tensor forward(const Tensor& input) override;
};

class Softplus : public Module {
 public:
  explicit Softplus(SoftplusOptions options = {});
  explicit Softplus(double beta, double threshold = 20.0)
      : Softplus(SoftplusOptions().beta(beta).threshold(threshold)) {}
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;
  const SoftplusOptions& options() const { return options_; }

 private:
  SoftplusOptions options_;
};

/// Options of Softmax, LogSoftmax and Softmin: the dim the distribution is taken over
/// (required: PyTorch's implicit-dim form is deprecated; its range is checked in forward).
struct SoftmaxOptions {
  SoftmaxOptions(std::int64_t dim) { dim_ = dim; }  // NOLINT: implicit on purpose
#define XGRAD_NN_SOFTMAX_FIELDS(X) X(std::int64_t, dim, 0, ::xgrad::nn::checks::dim)
  XGRAD_OPTIONS(SoftmaxOptions, XGRAD_NN_SOFTMAX_FIELDS)
};

/// A module applying functional::softmax / log_softmax / softmin over options().dim().
template <Tensor (*F)(const Tensor&, std::int64_t)>
class SoftmaxFamily : public Module {
 public:
  SoftmaxFamily(std::string name, const SoftmaxOptions& options) : Module(std::move(name)), options_(options) {}
  Tensor forward(const Tensor& input) override { return F(input, options_.dim()); }
  std::string extra_repr() const override { return repr_options(options_); }
  std::int64_t dim() const { return options_.dim(); }
  const SoftmaxOptions& options() const { return options_; }

 private:
  SoftmaxOptions options_;
};

/// Softmax over `dim`.
class Softmax : public SoftmaxFamily<functional::softmax> {
 public:
  explicit Softmax(const SoftmaxOptions& options) : SoftmaxFamily("Softmax", options) {}
};

class LogSoftmax : public SoftmaxFamily<functional::log_softmax> {
 public:
  explicit LogSoftmax(const SoftmaxOptions& options) : SoftmaxFamily("LogSoftmax", options) {}
};

class Softmin : public SoftmaxFamily<functional::softmin> {
 public:
  explicit Softmin(const SoftmaxOptions& options) : SoftmaxFamily("Softmin", options) {}
};

class Hardtanh : public Module {
 public:
  /// Throws xgrad::Error when min_val > max_val.
  explicit Hardtanh(HardtanhOptions options = {});
  Hardtanh(double min_val, double max_val) : Hardtanh(HardtanhOptions().min_val(min_val).max_val(max_val)) {}
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;
  const HardtanhOptions& options() const { return options_; }

 private:
  HardtanhOptions options_;
};

class ReLU6 : public Module {
 public:
  ReLU6() : Module("ReLU6") {}
  Tensor forward(const Tensor& input) override;
};

class Mish : public Module {
 public:
  Mish() : Module("Mish") {}
  Tensor forward(const Tensor& input) override;
};

}  // namespace xgrad::nn

namespace xgrad {
/// The activations a libtorch port calls as torch::gelu / torch::softmax /
/// torch::log_softmax, under the same names: the nn::functional ops above.
using nn::functional::gelu;
using nn::functional::log_softmax;
using nn::functional::softmax;
}  // namespace xgrad
