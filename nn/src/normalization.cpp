// instance_norm (through batch_norm on a [1, N*C, *] view), group_norm and
// local_response_norm (composed from differentiable ops), and their modules.
#include <cstdint>
#include <vector>

#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/node.hpp"
#include "xgrad/autograd/reduction.hpp"
#include "xgrad/autograd/shape.hpp"
#include "xgrad/autograd/structure.hpp"
#include "xgrad/nn/normalization.hpp"
#include "xgrad/autograd/profile_scope.hpp"

namespace xgrad::nn {

namespace {

void check_floating(const Tensor& x, std::string_view op) {
  xgrad::detail::check_defined(x, op);
  if (!is_floating(x.dtype()))
    throw Error(fmt::format("{}: expected a floating dtype (float32 or float64), got {} for input of shape {}", op,
                            x.dtype(), x.shape()));
}

void check_affine_arg(const Tensor& t, const Tensor& x, std::string_view what, std::string_view op) {
  if (!t.defined()) return;
  if (t.shape() != Shape{x.size(1)})
    throw Error(
        fmt::format("{}: {} of shape {} does not match input of shape {} (expected [{}], one value per channel)", op,
                    what, t.shape(), x.shape(), x.size(1)));
  if (t.dtype() != x.dtype())
    throw Error(fmt::format("{}: {} has dtype {} but the input has dtype {}", op, what, t.dtype(), x.dtype()));
}

// [1, C, 1, ...] matching x's rank.
Shape channel_shape(const Tensor& x) {
  Shape s(static_cast<std::size_t>(x.dim()), 1);
  s[1] = x.size(1);
  return s;
}

}  // namespace

namespace norm_impl {

Tensor instance_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                     const Tensor& bias, bool use_input_stats, double momentum, double eps, std::string_view op) {
  check_floating(input, op);
  if (input.dim() < 3)
    throw Error(
        fmt::format("{}: expected an input of at least 3 dims [N, C, *] (one spatial dim or more), got shape {}", op,
                    input.shape()));
  const std::int64_t n = input.size(0), c = input.size(1);
  check_affine_arg(weight, input, "weight", op);
  check_affine_arg(bias, input, "bias", op);
  check_affine_arg(running_mean, input, "running_mean", op);
  check_affine_arg(running_var, input, "running_var", op);
  std::int64_t spatial = 1;
  for (std::int64_t d = 2; d < input.dim(); ++d) spatial *= input.size(d);
  if (use_input_stats && spatial == 1)
    throw Error(fmt::format("{}: Expected more than 1 spatial element when training, got input of shape {}", op,
                            input.shape()));
  // [N, C, *] -> [1, N*C, *]: each instance is a channel of a batch of one.
  Shape folded = input.shape();
  folded[0] = 1;
  folded[1] = n * c;
  const Tensor w = weight.defined() ? repeat(weight, {n}) : Tensor();
  const Tensor b = bias.defined() ? repeat(bias, {n}) : Tensor();
  Tensor rm, rv;
  if (running_mean.defined()) {
    NoGradGuard ng;
    rm = repeat(running_mean.detach(), {n});
    rv = repeat(running_var.detach(), {n});
  }
  Tensor out = batch_norm(reshape(input, folded), rm, rv, w, b, use_input_stats, momentum, eps, op);
  if (use_input_stats && running_mean.defined() && n > 0) {
    NoGradGuard ng;
    Tensor(running_mean).copy_(mean(reshape(rm, {n, c}), {0}));
    Tensor(running_var).copy_(mean(reshape(rv, {n, c}), {0}));
  }
  return reshape(out, input.shape());
}

Tensor group_norm(const Tensor& input, std::int64_t num_groups, const Tensor& weight, const Tensor& bias, double eps,
                  std::string_view op) {
  check_floating(input, op);
  if (input.dim() < 2)
    throw Error(fmt::format("{}: expected an input of at least 2 dims [N, C, *], got shape {}", op, input.shape()));
  if (num_groups <= 0) throw Error(fmt::format("{}: num_groups must be > 0, got {}", op, num_groups));
  const std::int64_t n = input.size(0), c = input.size(1);
  if (c % num_groups != 0)
    throw Error(fmt::format(
        "{}: Expected number of channels in input to be divisible by num_groups, but got input of shape {} and "
        "num_groups={}",
        op, input.shape(), num_groups));
  check_affine_arg(weight, input, "weight", op);
  check_affine_arg(bias, input, "bias", op);
  std::int64_t spatial = 1;
  for (std::int64_t d = 2; d < input.dim(); ++d) spatial *= input.size(d);
  // [N, C, *] -> [N, G, C/G * prod(*)]: statistics per (sample, group) over the last dim.
  const Tensor xg = reshape(input, {n, num_groups, c / num_groups * spatial});
  const Tensor mu = mean(xg, {2}, true);
  const Tensor xc = sub(xg, mu);
  const Tensor var = mean(mul(xc, xc), {2}, true);  // biased
  Tensor out = reshape(mul(xc, rsqrt(add(var, eps))), input.shape());
  const Shape cs = channel_shape(input);
  if (weight.defined()) out = mul(out, reshape(weight, cs));
  if (bias.defined()) out = add(out, reshape(bias, cs));
  return out;
}

}  // namespace norm_impl

namespace functional {

Tensor instance_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                     const Tensor& bias, bool use_input_stats, double momentum, double eps) {
  XGRAD_PROFILE_OP("instance_norm", input, running_mean, running_var, weight, bias);
  return norm_impl::instance_norm(input, running_mean, running_var, weight, bias, use_input_stats, momentum, eps,
                                  "instance_norm");
}

Tensor group_norm(const Tensor& input, std::int64_t num_groups, const Tensor& weight, const Tensor& bias, double eps) {
  XGRAD_PROFILE_OP("group_norm", input, weight, bias);
  return norm_impl::group_norm(input, num_groups, weight, bias, eps, "group_norm");
}

Tensor local_response_norm(const Tensor& input, std::int64_t size, double alpha, double beta, double k) {
  XGRAD_PROFILE_OP("local_response_norm", input);
  constexpr std::string_view op = "local_response_norm";
  check_floating(input, op);
  if (input.dim() < 3)
    throw Error(fmt::format("{}: Expected 3D or higher dimensionality input (got {} dimensions, shape {})", op,
                            input.dim(), input.shape()));
  if (size <= 0) throw Error(fmt::format("{}: size must be > 0, got {}", op, size));
  if (input.numel() == 0) return input;
  const std::int64_t c = input.size(1);
  // Zero-pad the channel dim by size/2 before and (size-1)/2 after, then the window sum of
  // x^2 over `size` channels is the sum of `size` shifted slices (PyTorch's avg_pool with
  // count_include_pad: divided by size everywhere).
  const Tensor sq = mul(input, input);
  std::vector<Tensor> parts;
  Shape before = input.shape(), after = input.shape();
  before[1] = size / 2;
  after[1] = (size - 1) / 2;
  if (before[1] > 0) parts.push_back(zeros(before, dtype(input.dtype())));
  parts.push_back(sq);
  if (after[1] > 0) parts.push_back(zeros(after, dtype(input.dtype())));
  const Tensor padded = parts.size() == 1 ? sq : cat(parts, 1);
  Tensor window = narrow(padded, 1, 0, c);
  for (std::int64_t j = 1; j < size; ++j) window = add(window, narrow(padded, 1, j, c));
  const Tensor div_t = pow(add(mul(window, alpha / static_cast<double>(size)), k), beta);
  return div(input, div_t);
}

}  // namespace functional

// ---- InstanceNorm modules --------------------------------------------------------------------

InstanceNormBase::InstanceNormBase(std::string name, std::int64_t batched_dim, const InstanceNormOptions& options)
    : Module(std::move(name)), batched_dim_(batched_dim), options_(options) {
  ::xgrad::options::validate_options(options_, name_);
  const std::int64_t c = options_.num_features();
  if (options_.affine()) {
    weight = register_parameter("weight", ones({c}));
    bias = register_parameter("bias", zeros({c}));
  }
  if (options_.track_running_stats()) {
    running_mean = register_buffer("running_mean", zeros({c}));
    running_var = register_buffer("running_var", ones({c}));
    num_batches_tracked = register_buffer("num_batches_tracked", zeros({}, dtype(int64)));
  }
}

void InstanceNormBase::reset_running_stats() {
  if (!options_.track_running_stats()) return;
  NoGradGuard ng;
  running_mean.zero_();
  running_var.fill_(1.0);
  num_batches_tracked.zero_();
}

void InstanceNormBase::reset_parameters() {
  reset_running_stats();
  if (!options_.affine()) return;
  NoGradGuard ng;
  weight.fill_(1.0);
  bias.zero_();
}

Tensor InstanceNormBase::forward(const Tensor& input) {
  xgrad::detail::check_defined(input, name_);
  const std::int64_t nd = input.dim();
  if (nd != batched_dim_ && nd != batched_dim_ - 1)
    throw Error(fmt::format("{}: expected {}D or {}D input (got {}D input of shape {})", name_, batched_dim_ - 1,
                            batched_dim_, nd, input.shape()));
  const bool batched = nd == batched_dim_;
  const Tensor x = batched ? input : unsqueeze(input, 0);
  if (options_.affine() && x.size(1) != options_.num_features())
    throw Error(fmt::format("{}: input of shape {} has {} channels but num_features = {} (affine=true)", name_,
                            input.shape(), x.size(1), options_.num_features()));
  const bool use_input_stats = is_training() || !options_.track_running_stats();
  Tensor out = norm_impl::instance_norm(x, running_mean, running_var, weight, bias, use_input_stats,
                                        options_.momentum().value_or(0.0), options_.eps(), name_);
  return batched ? out : squeeze(out, 0);
}

std::string InstanceNormBase::extra_repr() const {
  const auto& o = options_;
  return fmt::format("{}, eps={}, momentum={}, affine={}, track_running_stats={}", o.num_features(), py_float(o.eps()),
                     o.momentum() ? py_float(*o.momentum()) : std::string("None"), o.affine(), o.track_running_stats());
}

// ---- GroupNorm / LocalResponseNorm -----------------------------------------------------------

GroupNorm::GroupNorm(const GroupNormOptions& options) : Module("GroupNorm"), options_(options) {
  ::xgrad::options::validate_options(options_, "GroupNorm");
  if (options_.num_channels() % options_.num_groups() != 0)
    throw Error(
        fmt::format("GroupNorm: num_channels must be divisible by num_groups, got num_channels={} and "
                    "num_groups={}",
                    options_.num_channels(), options_.num_groups()));
  if (options_.affine()) {
    weight = register_parameter("weight", ones({options_.num_channels()}));
    bias = register_parameter("bias", zeros({options_.num_channels()}));
  }
}

void GroupNorm::reset_parameters() {
  if (!options_.affine()) return;
  NoGradGuard ng;
  weight.fill_(1.0);
  bias.zero_();
}

Tensor GroupNorm::forward(const Tensor& input) {
  return norm_impl::group_norm(input, options_.num_groups(), weight, bias, options_.eps(), "GroupNorm");
}

std::string GroupNorm::extra_repr() const {
  return fmt::format("{}, {}, eps={}, affine={}", options_.num_groups(), options_.num_channels(),
                     py_float(options_.eps()), options_.affine());
}

LocalResponseNorm::LocalResponseNorm(const LocalResponseNormOptions& options)
    : Module("LocalResponseNorm"), options_(options) {
  ::xgrad::options::validate_options(options_, "LocalResponseNorm");
}

Tensor LocalResponseNorm::forward(const Tensor& input) {
  return functional::local_response_norm(input, options_.size(), options_.alpha(), options_.beta(), options_.k());
}

std::string LocalResponseNorm::extra_repr() const {
  return fmt::format("{}, alpha={}, beta={}, k={}", options_.size(), py_float(options_.alpha()),
                     py_float(options_.beta()), py_float(options_.k()));
}

}  // namespace xgrad::nn
