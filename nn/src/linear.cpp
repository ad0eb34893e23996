#include "xgrad/nn/linear.hpp"

#include <cmath>

#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/kernel/kernel.hpp"
#include "xgrad/autograd/linalg.hpp"
#include "xgrad/autograd/node.hpp"
#include "xgrad/autograd/reduction.hpp"
#include "xgrad/autograd/shape.hpp"
#include "xgrad/autograd/profile_scope.hpp"

namespace xgrad::nn {

namespace functional {

namespace {

void check_same_dtype(const Tensor& a, const Tensor& b, std::string_view op, std::string_view what) {
  if (a.dtype() != b.dtype())
    throw Error(fmt::format("{}: {} has dtype {} but the input has dtype {}", op, what, b.dtype(), a.dtype()));
}

Shape leading(const Tensor& x) { return Shape(x.shape().begin(), x.shape().end() - 1); }

}  // namespace

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  XGRAD_PROFILE_OP("linear", x, weight, bias);
  detail::check_defined(x, "linear");
  detail::check_defined(weight, "linear");
  if (weight.dim() != 2) throw Error(fmt::format("linear: weight must be 2-d [out, in], got shape {}", weight.shape()));
  if (x.dim() < 1 || x.size(-1) != weight.size(1))
    throw Error(
        fmt::format("linear: input of shape {} does not match weight of shape {} (the input's last dim must "
                    "be in_features = {})",
                    x.shape(), weight.shape(), weight.size(1)));
  check_same_dtype(x, weight, "linear", "weight");
  if (bias.defined()) {
    if (bias.shape() != Shape{weight.size(0)})
      throw Error(fmt::format("linear: bias of shape {} does not match weight of shape {} (expected [{}])",
                              bias.shape(), weight.shape(), weight.size(0)));
    check_same_dtype(x, bias, "linear", "bias");
  }
  // [..., in] -> [N, in] (a view), one matrix product, then back to [..., out].
  Shape lead = leading(x);
  const std::int64_t n = shape_numel(lead);
  XGRAD_PROFILE_FLOPS(2 * n * weight.size(1) * weight.size(0));
  // x W^T through BLAS's transpose flag (t(weight) would copy W); the product's backward
  // produces dW = g^T x in W's own layout and skips gradients nobody needs.
  Tensor y = mm(x.dim() == 2 ? x : reshape(x, {n, weight.size(1)}), weight, false, true);
  if (bias.defined()) y = y + bias;
  lead.push_back(weight.size(0));
  return x.dim() == 2 ? y : reshape(y, lead);
}

Tensor bilinear(const Tensor& x1, const Tensor& x2, const Tensor& weight, const Tensor& bias) {
  XGRAD_PROFILE_OP("bilinear", x1, x2, weight, bias);
  for (const Tensor* t : {&x1, &x2, &weight}) detail::check_defined(*t, "bilinear");
  if (weight.dim() != 3)
    throw Error(fmt::format("bilinear: weight must be 3-d [out, in1, in2], got shape {}", weight.shape()));
  const std::int64_t out = weight.size(0), in1 = weight.size(1), in2 = weight.size(2);
  if (x1.dim() < 1 || x2.dim() < 1 || leading(x1) != leading(x2) || x1.size(-1) != in1 || x2.size(-1) != in2)
    throw Error(
        fmt::format("bilinear: inputs of shapes {} and {} do not match weight of shape {} (expected [..., {}] "
                    "and [..., {}] with the same leading dims)",
                    x1.shape(), x2.shape(), weight.shape(), in1, in2));
  check_same_dtype(x1, x2, "bilinear", "the second input");
  check_same_dtype(x1, weight, "bilinear", "weight");
  if (bias.defined()) {
    if (bias.shape() != Shape{out})
      throw Error(fmt::format("bilinear: bias of shape {} does not match weight of shape {} (expected [{}])",
                              bias.shape(), weight.shape(), out));
    check_same_dtype(x1, bias, "bilinear", "bias");
  }
  Shape lead = leading(x1);
  const std::int64_t n = shape_numel(lead);
  // t[n, k, j] = sum_i x1[n, i] A[k, i, j]: one product with A laid out as [in1, out * in2].
  Tensor a = reshape(permute(weight, {1, 0, 2}), {in1, out * in2});
  Tensor tmp = reshape(mm(reshape(x1, {n, in1}), a), {n, out, in2});
  // y[n, k] = sum_j t[n, k, j] x2[n, j]
  Tensor y = sum(tmp * reshape(x2, {n, 1, in2}), {2});
  if (bias.defined()) y = y + bias;
  lead.push_back(out);
  return reshape(y, lead);
}

Tensor dropout(const Tensor& x, double p, bool training) {
  XGRAD_PROFILE_OP("dropout", x);
  detail::check_defined(x, "dropout");
  if (!(p >= 0.0 && p <= 1.0)) throw Error(fmt::format("dropout: probability p must be in [0, 1], got {}", p));
  if (!training || p == 0.0) return x;
  if (!is_floating(x.dtype())) throw Error(fmt::format("dropout: needs a floating tensor, got {}", x.describe()));
  // The mask is drawn serially (reproducible under manual_seed), then turned into 0 or
  // 1/(1-p) in place; y = x * mask gives the gradient mask for free.
  Tensor mask = rand(x.shape(), dtype(x.dtype()));
  const double scale = p < 1.0 ? 1.0 / (1.0 - p) : 0.0;
  auto fill = [&]<class T>(T* m) {
    const T s = static_cast<T>(scale);
    kernel::parallel_for(mask.numel(), [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i) m[i] = static_cast<double>(m[i]) >= p ? s : T(0);
    });
  };
  if (x.dtype() == float32) {
    fill(mask.data_ptr<float>());
  } else {
    fill(mask.data_ptr<double>());
  }
  return x * mask;
}

}  // namespace functional

namespace {

void check_sizes(std::string_view who, std::initializer_list<std::int64_t> sizes) {
  for (std::int64_t s : sizes)
    if (s < 0) throw Error(fmt::format("{}: feature sizes must be non-negative, got {}", who, fmt::join(sizes, ", ")));
}

// U(-bound, bound) from the global generator, as a leaf.
Tensor uniform(const Shape& shape, double bound) {
  Tensor u = rand(shape, dtype(float32));
  NoGradGuard ng;
  return (u * (2.0 * bound) - bound).detach();
}

}  // namespace

// ---- Linear ------------------------------------------------------------------------------------

Linear::Linear(std::int64_t in_features, std::int64_t out_features, bool bias)
    : Linear(LinearOptions(in_features, out_features).bias(bias)) {}

Linear::Linear(const LinearOptions& options) : Module("Linear"), options_(options) {
  check_sizes("Linear", {options.in_features_, options.out_features_});
  weight = register_parameter("weight", zeros({options.out_features_, options.in_features_}));
  if (options.bias_) bias = register_parameter("bias", zeros({options.out_features_}));
  reset_parameters();
}

void Linear::reset_parameters() {
  // kaiming_uniform(a = sqrt(5)): gain = sqrt(2 / (1 + 5)), bound = gain * sqrt(3 / fan_in)
  // = 1 / sqrt(fan_in).
  const std::int64_t fan_in = options_.in_features_;
  const double bound = fan_in > 0 ? 1.0 / std::sqrt(static_cast<double>(fan_in)) : 0.0;
  NoGradGuard ng;
  weight.copy_(uniform(weight.shape(), bound).to(weight.dtype()));
  if (bias.defined()) bias.copy_(uniform(bias.shape(), bound).to(bias.dtype()));
}

Tensor Linear::forward(const Tensor& input) { return functional::linear(input, weight, bias); }

std::string Linear::extra_repr() const { return repr_options(options_); }

// ---- Bilinear ------------------------------------------------------------------------------------

Bilinear::Bilinear(std::int64_t in1_features, std::int64_t in2_features, std::int64_t out_features, bool bias)
    : Bilinear(BilinearOptions(in1_features, in2_features, out_features).bias(bias)) {}

Bilinear::Bilinear(const BilinearOptions& options) : Module("Bilinear"), options_(options) {
  check_sizes("Bilinear", {options.in1_features_, options.in2_features_, options.out_features_});
  weight = register_parameter("weight", zeros({options.out_features_, options.in1_features_, options.in2_features_}));
  if (options.bias_) bias = register_parameter("bias", zeros({options.out_features_}));
  reset_parameters();
}

void Bilinear::reset_parameters() {
  const std::int64_t fan = options_.in1_features_;
  const double bound = fan > 0 ? 1.0 / std::sqrt(static_cast<double>(fan)) : 0.0;
  NoGradGuard ng;
  weight.copy_(uniform(weight.shape(), bound).to(weight.dtype()));
  if (bias.defined()) bias.copy_(uniform(bias.shape(), bound).to(bias.dtype()));
}

Tensor Bilinear::forward(const Tensor& x1, const Tensor& x2) { return functional::bilinear(x1, x2, weight, bias); }

std::string Bilinear::extra_repr() const { return repr_options(options_); }

// ---- Flatten / Unflatten ---------------------------------------------------------------------------

Flatten::Flatten(const FlattenOptions& options) : Module("Flatten"), options_(options) {}

Tensor Flatten::forward(const Tensor& input) { return flatten(input, options_.start_dim(), options_.end_dim()); }

std::string Flatten::extra_repr() const { return repr_options(options_); }

Unflatten::Unflatten(const UnflattenOptions& options) : Module("Unflatten"), options_(options) {
  ::xgrad::options::validate_options(options_, "Unflatten");
}

Tensor Unflatten::forward(const Tensor& input) {
  detail::check_defined(input, "Unflatten");
  const std::int64_t dim = options_.dim();
  const Shape& sizes = options_.sizes();
  const std::int64_t nd = input.dim();
  const std::int64_t d = dim < 0 ? dim + nd : dim;
  if (d < 0 || d >= nd)
    throw Error(fmt::format("Unflatten: dim {} is out of range for input of shape {}", dim, input.shape()));
  std::int64_t known = 1;
  bool infer = false;
  for (std::int64_t s : sizes) {
    if (s == -1)
      infer = true;
    else
      known *= s;
  }
  const std::int64_t size = input.size(d);
  if (infer ? (known == 0 || size % known != 0) : known != size)
    throw Error(fmt::format("Unflatten: sizes {} do not multiply to the size {} of dim {} of input shape {}", sizes,
                            size, dim, input.shape()));
  Shape s(input.shape().begin(), input.shape().begin() + d);
  for (std::int64_t v : sizes) s.push_back(v == -1 ? size / known : v);
  s.insert(s.end(), input.shape().begin() + d + 1, input.shape().end());
  return reshape(input, s);
}

std::string Unflatten::extra_repr() const {
  return fmt::format("dim={}, unflattened_size=({})", options_.dim(), fmt::join(options_.sizes(), ", "));
}

// ---- Dropout -------------------------------------------------------------------------------------

Dropout::Dropout(const DropoutOptions& options) : Module("Dropout"), options_(options) {
  ::xgrad::options::validate_options(options_, "Dropout");
}

Tensor Dropout::forward(const Tensor& input) { return functional::dropout(input, options_.p(), is_training()); }

std::string Dropout::extra_repr() const { return fmt::format("p={}", options_.p()); }

}  // namespace xgrad::nn
