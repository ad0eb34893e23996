// batch_norm: a fused forward (per-channel statistics, normalisation and affine map in one
// task per channel) and a fused backward (PyTorch's formula), plus the BatchNorm modules.
#include <cmath>
#include <cstdint>
#include <vector>

#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/kernel/kernel.hpp"
#include "xgrad/autograd/node.hpp"
#include "xgrad/autograd/reduction.hpp"
#include "xgrad/autograd/shape.hpp"
#include "xgrad/nn/normalization.hpp"
#include "xgrad/autograd/profile_scope.hpp"

namespace xgrad::nn {

namespace {

using Grads = std::vector<Tensor>;

// input seen as [n, c, s]: s the product of the spatial dims.
struct Layout {
  std::int64_t n = 0, c = 0, s = 1;
  std::int64_t per_channel() const { return n * s; }
};

Layout layout_of(const Tensor& x) {
  Layout l;
  l.n = x.size(0);
  l.c = x.size(1);
  for (std::int64_t d = 2; d < x.dim(); ++d) l.s *= x.size(d);
  return l;
}

// [1, C, 1, ...] with as many trailing ones as x has spatial dims.
Shape channel_shape(const Tensor& x) {
  Shape s(static_cast<std::size_t>(x.dim()), 1);
  s[1] = x.size(1);
  return s;
}

// Every dim but the channel dim.
std::vector<std::int64_t> reduce_dims(const Tensor& x) {
  std::vector<std::int64_t> d{0};
  for (std::int64_t i = 2; i < x.dim(); ++i) d.push_back(i);
  return d;
}

void check_channel_arg(const Tensor& t, const Tensor& x, std::string_view what, std::string_view op) {
  if (!t.defined()) return;
  if (t.shape() != Shape{x.size(1)})
    throw Error(
        fmt::format("{}: {} of shape {} does not match input of shape {} (expected [{}], one value per channel)", op,
                    what, t.shape(), x.shape(), x.size(1)));
  if (t.dtype() != x.dtype())
    throw Error(fmt::format("{}: {} has dtype {} but the input has dtype {}", op, what, t.dtype(), x.dtype()));
}

// Per-channel arrays in double, read from an optional [C] tensor (default `fill`).
std::vector<double> channel_values(const Tensor& t, std::int64_t c, double fill) {
  if (!t.defined()) return std::vector<double>(static_cast<std::size_t>(c), fill);
  const Tensor d = t.detach().to(float64).contiguous();
  const double* p = d.data_ptr<double>();
  return std::vector<double>(p, p + c);
}

Tensor channel_tensor(const std::vector<double>& v, Dtype dt) {
  return from_vector<double>(v, {static_cast<std::int64_t>(v.size())}).to(dt);
}

// The forward kernel. training: computes mean and biased var per channel (two passes, in
// double, fixed order) into mean/var; otherwise mean/var come in. Then writes
// y = (x - mean) invstd w + b and invstd.
template <class T>
void forward_kernel(const T* x, T* y, const Layout& l, bool training, std::vector<double>& mean,
                    std::vector<double>& var, std::vector<double>& invstd, const std::vector<double>& w,
                    const std::vector<double>& b, double eps) {
  const std::int64_t m = l.per_channel();
  kernel::parallel_for(l.c, kernel::grain_for(m), [&](std::int64_t cb, std::int64_t ce) {
    for (std::int64_t c = cb; c < ce; ++c) {
      const auto k = static_cast<std::size_t>(c);
      if (training) {
        double s = 0.0;
        for (std::int64_t i = 0; i < l.n; ++i) {
          const T* p = x + (i * l.c + c) * l.s;
          for (std::int64_t j = 0; j < l.s; ++j) s += static_cast<double>(p[j]);
        }
        const double mu = s / static_cast<double>(m);
        double q = 0.0;
        for (std::int64_t i = 0; i < l.n; ++i) {
          const T* p = x + (i * l.c + c) * l.s;
          for (std::int64_t j = 0; j < l.s; ++j) {
            const double d = static_cast<double>(p[j]) - mu;
            q += d * d;
          }
        }
        mean[k] = mu;
        var[k] = q / static_cast<double>(m);
      }
      invstd[k] = 1.0 / std::sqrt(var[k] + eps);
      const double alpha = invstd[k] * w[k];
      const double beta = b[k] - mean[k] * alpha;
      for (std::int64_t i = 0; i < l.n; ++i) {
        const T* p = x + (i * l.c + c) * l.s;
        T* q = y + (i * l.c + c) * l.s;
        for (std::int64_t j = 0; j < l.s; ++j) q[j] = static_cast<T>(static_cast<double>(p[j]) * alpha + beta);
      }
    }
  });
}

// The fused backward: per channel, sum_g = sum g and sum_gxc = sum g (x - mean) in one pass,
// then (when dx is wanted) a second pass writing dx. dw = sum_gxc invstd, db = sum_g.
template <class T>
void backward_kernel(const T* g, const T* x, T* dx, const Layout& l, bool training, const std::vector<double>& mean,
                     const std::vector<double>& invstd, const std::vector<double>& w, std::vector<double>& sum_g,
                     std::vector<double>& sum_gxc) {
  const std::int64_t m = l.per_channel();
  kernel::parallel_for(l.c, kernel::grain_for(m), [&](std::int64_t cb, std::int64_t ce) {
    for (std::int64_t c = cb; c < ce; ++c) {
      const auto k = static_cast<std::size_t>(c);
      const double mu = mean[k];
      double sg = 0.0, sgx = 0.0;
      for (std::int64_t i = 0; i < l.n; ++i) {
        const std::int64_t off = (i * l.c + c) * l.s;
        for (std::int64_t j = 0; j < l.s; ++j) {
          const double gv = static_cast<double>(g[off + j]);
          sg += gv;
          sgx += gv * (static_cast<double>(x[off + j]) - mu);
        }
      }
      sum_g[k] = sg;
      sum_gxc[k] = sgx;
      if (dx == nullptr) continue;
      const double is = invstd[k], scale = is * w[k];
      // training: dx = w invstd (g - sum_g / M - (x - mean) invstd^2 sum_gxc / M)
      const double gm = training ? sg / static_cast<double>(m) : 0.0;
      const double proj = training ? is * is * sgx / static_cast<double>(m) : 0.0;
      for (std::int64_t i = 0; i < l.n; ++i) {
        const std::int64_t off = (i * l.c + c) * l.s;
        for (std::int64_t j = 0; j < l.s; ++j) {
          const double xc = static_cast<double>(x[off + j]) - mu;
          dx[off + j] = static_cast<T>((static_cast<double>(g[off + j]) - gm - xc * proj) * scale);
        }
      }
    }
  });
}

// The backward composed from differentiable ops (create_graph): the same formulas, with the
// batch statistics recomputed from x so that their dependence on x is differentiated too.
Grads composed_backward(const Tensor& g, const Tensor& x, const Tensor& w, const Tensor& saved_mean,
                        const Tensor& saved_invstd, bool training, double eps, bool need_x, bool need_w, bool need_b) {
  const Shape cs = channel_shape(x);
  const auto dims = reduce_dims(x);
  Tensor mu, invstd;
  if (training) {
    mu = mean(x, dims, true);
    const Tensor xc0 = sub(x, mu);
    invstd = rsqrt(add(mean(mul(xc0, xc0), dims, true), eps));
  } else {
    mu = reshape(saved_mean, cs);
    invstd = reshape(saved_invstd, cs);
  }
  const Tensor xhat = mul(sub(x, mu), invstd);
  const Tensor sum_g = sum(g, dims, true);
  const Tensor sum_gx = sum(mul(g, xhat), dims, true);
  Tensor dx, dw, db;
  if (need_x) {
    Tensor scale = w.defined() ? mul(invstd, reshape(w, cs)) : invstd;
    if (training) {
      const double m = static_cast<double>(layout_of(x).per_channel());
      dx = mul(sub(sub(g, div(sum_g, m)), mul(xhat, div(sum_gx, m))), scale);
    } else {
      dx = mul(g, scale);
    }
  }
  if (need_w) dw = reshape(sum_gx, {x.size(1)});
  if (need_b) db = reshape(sum_g, {x.size(1)});
  return Grads{dx, dw, db};
}

// The fused backward; gradients only for the inputs that need them.
Grads fused_backward(const Tensor& g_in, const Tensor& x_in, const Tensor& w, const Tensor& saved_mean,
                     const Tensor& saved_invstd, bool training, bool need_x, bool need_w, bool need_b) {
  NoGradGuard ng;
  const Tensor g = g_in.contiguous(), x = x_in.contiguous();
  const Layout l = layout_of(x);
  const auto c = static_cast<std::size_t>(l.c);
  const std::vector<double> mean = channel_values(saved_mean, l.c, 0.0),
                            invstd = channel_values(saved_invstd, l.c, 1.0), wv = channel_values(w, l.c, 1.0);
  std::vector<double> sum_g(c), sum_gxc(c);
  Tensor dx = need_x ? xgrad::detail::make_tensor(x.shape(), x.dtype()) : Tensor();
  kernel::dispatch_floating(x, "batch_norm", [&]<class T>() {
    backward_kernel<T>(g.data_ptr<T>(), x.data_ptr<T>(), need_x ? dx.data_ptr<T>() : nullptr, l, training, mean, invstd,
                       wv, sum_g, sum_gxc);
  });
  Tensor dw, db;
  if (need_w) {
    std::vector<double> v(c);
    for (std::size_t k = 0; k < c; ++k) v[k] = sum_gxc[k] * invstd[k];
    dw = channel_tensor(v, x.dtype());
  }
  if (need_b) db = channel_tensor(sum_g, x.dtype());
  return Grads{dx, dw, db};
}

}  // namespace

namespace norm_impl {

Tensor batch_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum, double eps, std::string_view op) {
  xgrad::detail::check_defined(input, op);
  if (!is_floating(input.dtype()))
    throw Error(fmt::format("{}: expected a floating dtype (float32 or float64), got {} for input of shape {}", op,
                            input.dtype(), input.shape()));
  if (input.dim() < 2)
    throw Error(fmt::format("{}: expected an input of at least 2 dims [N, C, *], got shape {}", op, input.shape()));
  check_channel_arg(running_mean, input, "running_mean", op);
  check_channel_arg(running_var, input, "running_var", op);
  check_channel_arg(weight, input, "weight", op);
  check_channel_arg(bias, input, "bias", op);
  if (running_mean.defined() != running_var.defined())
    throw Error(fmt::format("{}: running_mean and running_var must both be defined or both undefined", op));
  if (!training && !running_mean.defined())
    throw Error(fmt::format("{}: running_mean and running_var must be defined when not training (input of shape {})",
                            op, input.shape()));
  const Layout l = layout_of(input);
  if (training && l.per_channel() == 1)
    throw Error(fmt::format("{}: Expected more than 1 value per channel when training, got input of shape {}", op,
                            input.shape()));
  const Shape cs = channel_shape(input);
  if (input.numel() == 0) {
    // PyTorch: an empty batch gives x weight + bias (keeps the graph) and updates nothing.
    Tensor out = input.clone();
    if (weight.defined()) out = mul(out, reshape(weight, cs));
    if (bias.defined()) out = add(out, reshape(bias, cs));
    return out;
  }

  const auto c = static_cast<std::size_t>(l.c);
  std::vector<double> mean(c), var(c), invstd(c);
  if (!training) {
    mean = channel_values(running_mean, l.c, 0.0);
    var = channel_values(running_var, l.c, 1.0);
  }
  const std::vector<double> wv = channel_values(weight, l.c, 1.0), bv = channel_values(bias, l.c, 0.0);
  Tensor out;
  {
    NoGradGuard ng;
    const Tensor x = input.contiguous();
    out = xgrad::detail::make_tensor(x.shape(), x.dtype());
    kernel::dispatch_floating(x, op, [&]<class T>() {
      forward_kernel<T>(x.data_ptr<T>(), out.data_ptr<T>(), l, training, mean, var, invstd, wv, bv, eps);
    });
    if (training && running_mean.defined()) {
      const double m = static_cast<double>(l.per_channel());
      std::vector<double> rm = channel_values(running_mean, l.c, 0.0), rv = channel_values(running_var, l.c, 1.0);
      for (std::size_t k = 0; k < c; ++k) {
        rm[k] = momentum * mean[k] + (1.0 - momentum) * rm[k];
        rv[k] = momentum * var[k] * m / (m - 1.0) + (1.0 - momentum) * rv[k];
      }
      Tensor(running_mean).copy_(channel_tensor(rm, running_mean.dtype()));  // a handle: writes the caller's buffer
      Tensor(running_var).copy_(channel_tensor(rv, running_var.dtype()));
    }
  }
  if (any_requires_grad({&input, &weight, &bias})) {
    const Tensor saved_mean = channel_tensor(mean, input.dtype()), saved_invstd = channel_tensor(invstd, input.dtype());
    const bool need_x = input.requires_grad(), need_w = weight.defined() && weight.requires_grad(),
               need_b = bias.defined() && bias.requires_grad();
    record("NativeBatchNormBackward", {input, weight, bias}, {out}, {input, weight, saved_mean, saved_invstd},
           [training, eps, need_x, need_w, need_b](const Grads& g, const Grads& s) {
             // Under create_graph (grad mode on during backward) the differentiable form.
             if (grad_mode_enabled())
               return composed_backward(g[0], s[0], s[1], s[2], s[3], training, eps, need_x, need_w, need_b);
             return fused_backward(g[0], s[0], s[1], s[2], s[3], training, need_x, need_w, need_b);
           });
  }
  return out;
}

}  // namespace norm_impl

namespace functional {

Tensor batch_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum, double eps) {
  XGRAD_PROFILE_OP("batch_norm", input, running_mean, running_var, weight, bias);
  return norm_impl::batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps, "batch_norm");
}

}  // namespace functional

// ---- BatchNorm modules -----------------------------------------------------------------------

BatchNormBase::BatchNormBase(std::string name, const BatchNormOptions& options)
    : Module(std::move(name)), options_(options) {
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

void BatchNormBase::reset_running_stats() {
  if (!options_.track_running_stats()) return;
  NoGradGuard ng;
  running_mean.zero_();
  running_var.fill_(1.0);
  num_batches_tracked.zero_();
}

void BatchNormBase::reset_parameters() {
  reset_running_stats();
  if (!options_.affine()) return;
  NoGradGuard ng;
  weight.fill_(1.0);
  bias.zero_();
}

Tensor BatchNormBase::forward(const Tensor& input) {
  xgrad::detail::check_defined(input, name_);
  check_input_dim(input);
  if ((options_.affine() || options_.track_running_stats()) && input.size(1) != options_.num_features())
    throw Error(fmt::format("{}: input of shape {} has {} channels (dim 1) but num_features = {}", name_, input.shape(),
                            input.size(1), options_.num_features()));
  if (is_training()) {
    std::int64_t m = input.size(0);
    for (std::int64_t d = 2; d < input.dim(); ++d) m *= input.size(d);
    if (m == 1)
      throw Error(fmt::format("{}: Expected more than 1 value per channel when training, got input of shape {}", name_,
                              input.shape()));
  }
  double factor = options_.momentum().value_or(0.0);
  if (is_training() && options_.track_running_stats()) {
    {
      NoGradGuard ng;
      num_batches_tracked.add_(1.0);
    }
    if (!options_.momentum()) factor = 1.0 / static_cast<double>(num_batches_tracked.item<std::int64_t>());
  }
  const bool use_batch_stats = is_training() || !options_.track_running_stats();
  const bool pass_stats = !is_training() || options_.track_running_stats();
  return norm_impl::batch_norm(input, pass_stats ? running_mean : Tensor(), pass_stats ? running_var : Tensor(), weight,
                               bias, use_batch_stats, factor, options_.eps(), name_);
}

std::string BatchNormBase::extra_repr() const {
  const auto& o = options_;
  return fmt::format("{}, eps={}, momentum={}, affine={}, track_running_stats={}", o.num_features(), py_float(o.eps()),
                     o.momentum() ? py_float(*o.momentum()) : std::string("None"), o.affine(), o.track_running_stats());
}

void BatchNorm1d::check_input_dim(const Tensor& input) const {
  if (input.dim() != 2 && input.dim() != 3)
    throw Error(
        fmt::format("{}: expected 2D or 3D input (got {}D input of shape {})", name_, input.dim(), input.shape()));
}

void BatchNorm2d::check_input_dim(const Tensor& input) const {
  if (input.dim() != 4)
    throw Error(fmt::format("{}: expected 4D input (got {}D input of shape {})", name_, input.dim(), input.shape()));
}

void BatchNorm3d::check_input_dim(const Tensor& input) const {
  if (input.dim() != 5)
    throw Error(fmt::format("{}: expected 5D input (got {}D input of shape {})", name_, input.dim(), input.shape()));
}

}  // namespace xgrad::nn
