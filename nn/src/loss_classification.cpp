// Classification losses: cross_entropy (fused log-softmax + NLL with class weights,
// ignore_index and label smoothing), nll_loss, binary_cross_entropy (fused, PyTorch's clamped
// logs and backward), binary_cross_entropy_with_logits (fused, stable) and multi_margin_loss.
//
// The fused ops follow the core ops' pattern: a raw forward loop (TBB-parallel above 32768
// units of work, inline below), then `record` with a backward built from differentiable xgrad
// ops, so second derivatives work. cross_entropy's backward additionally has a direct loop for
// the common case (no create_graph), which is what training runs.
#include <atomic>
#include <cmath>
#include <limits>
#include <optional>

#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/kernel/kernel.hpp"
#include "xgrad/autograd/node.hpp"
#include "xgrad/autograd/reduction.hpp"
#include "xgrad/autograd/shape.hpp"
#include "xgrad/nn/loss.hpp"
#include "loss_checks.hpp"
#include "xgrad/autograd/profile_scope.hpp"

namespace xgrad::nn {

namespace {

using namespace loss_checks;
using Grads = std::vector<Tensor>;

void check_reduction(Reduction r, std::string_view op) {
  if (r == Reduction::BatchMean)
    throw Error(fmt::format("{}: reduction 'batchmean' is only supported by kl_div (use none, mean or sum)", op));
}

// `w` (optional) must broadcast to `shape` without changing it, with input's dtype.
void check_broadcast_weight(const Tensor& w, const Tensor& input, std::string_view op, std::string_view what) {
  if (!w.defined()) return;
  check_same_dtype(input, w, op, "input", what);
  bool ok = w.dim() <= input.dim();
  for (std::int64_t i = 1; ok && i <= w.dim(); ++i) {
    const std::int64_t ws = w.size(-i), is = input.size(-i);
    ok = ws == is || ws == 1;
  }
  if (!ok)
    throw Error(
        fmt::format("{}: {} of shape {} does not broadcast to the input shape {}", op, what, w.shape(), input.shape()));
}

// The checks cross_entropy and multi_margin_loss start with: a floating input, a defined target,
// a reduction other than batchmean and valid options.
template <class Options>
void check_scores_call(const Tensor& input, const Tensor& target, const Options& options, std::string_view op) {
  check_floating(input, op, "input");
  detail::check_defined(target, op);
  check_reduction(options.reduction_, op);
  xgrad::options::validate_options(options, op);
}

// ---- class-index targets ------------------------------------------------------------------

// input [N, C, d1, ...] viewed as [N, C, S]; [C] is one sample (N = 1, S = 1).
struct ClassLayout {
  std::int64_t n = 1, c = 1, s = 1;
  Shape sample_shape;  // shape of the per-sample losses (= the class-index target's shape)
};

ClassLayout class_layout(const Tensor& input, std::string_view op) {
  if (input.dim() == 0)
    throw Error(
        fmt::format("{}: input must have a class dimension (shape [C], [N, C] or [N, C, d1, ...]), got a 0-d "
                    "tensor",
                    op));
  ClassLayout l;
  const Shape& sh = input.shape();
  if (sh.size() == 1) {
    l.c = sh[0];
    return l;
  }
  l.n = sh[0];
  l.c = sh[1];
  l.sample_shape.push_back(sh[0]);
  for (std::size_t i = 2; i < sh.size(); ++i) {
    l.s *= sh[i];
    l.sample_shape.push_back(sh[i]);
  }
  return l;
}

void check_index_target(const Tensor& target, const Tensor& input, const ClassLayout& l, std::string_view op) {
  detail::check_defined(target, op);
  if (target.dtype() != Dtype::int64)
    throw Error(fmt::format("{}: class-index target must be int64, got {} of shape {} (for input of shape {})", op,
                            target.dtype(), target.shape(), input.shape()));
  if (target.shape() != l.sample_shape)
    throw Error(fmt::format("{}: expected a class-index target of shape {} for input of shape {}, got target shape {}",
                            op, l.sample_shape, input.shape(), target.shape()));
}

void check_class_weight(const Tensor& w, const Tensor& input, std::int64_t c, std::string_view op) {
  if (!w.defined()) return;
  if (w.dim() != 1 || w.size(0) != c)
    throw Error(fmt::format("{}: weight must have shape [{}] (one entry per class), got shape {}", op, c, w.shape()));
  check_same_dtype(input, w, op, "input", "weight");
  if (w.requires_grad())
    throw Error(
        fmt::format("{}: weight requires grad, but class weights are constants here (pass weight.detach())", op));
}

// Checks every target (in [0, C), or equal to ignore_index) and returns the mean's denominator:
// the sum of w_y over non-ignored targets (their count when w is absent).
double validate_targets(const Tensor& target_in, const Tensor& w_in, std::int64_t c, std::optional<std::int64_t> ignore,
                        std::string_view op) {
  // The kernels below read packed data.
  const Tensor target = target_in.defined() ? target_in.contiguous() : Tensor();
  const Tensor w = w_in.defined() ? w_in.contiguous() : Tensor();
  const std::int64_t* y = target.data_ptr<std::int64_t>();
  const std::int64_t n = target.numel();
  double denom = 0.0;
  kernel::dispatch_floating(w.defined() ? w.dtype() : Dtype::float64, op, [&]<class T>() {
    const T* wp = w.defined() ? w.data_ptr<T>() : nullptr;
    for (std::int64_t i = 0; i < n; ++i) {
      const std::int64_t yi = y[i];
      if (ignore && yi == *ignore) continue;
      if (yi < 0 || yi >= c) {
        if (ignore)
          throw Error(fmt::format("{}: target {} is out of bounds for {} classes (expected [0, {}) or ignore_index {})",
                                  op, yi, c, c, *ignore));
        throw Error(fmt::format("{}: target {} is out of bounds for {} classes (expected [0, {}))", op, yi, c, c));
      }
      denom += wp ? static_cast<double>(wp[yi]) : 1.0;
    }
  });
  return denom;
}

// For each class-index target y_r (checked): the class to gather (y_r; 0 where y_r is ignore)
// and its weight (w_y, 1 without w; 0 where ignored), as int64 [rows] and `dtype` [rows].
std::pair<Tensor, Tensor> target_index_and_weight(const Tensor& target_in, const Tensor& w_in, Dtype dtype,
                                                  std::optional<std::int64_t> ignore, std::string_view op) {
  // The kernels below read packed data.
  const Tensor target = target_in.defined() ? target_in.contiguous() : Tensor();
  const Tensor w = w_in.defined() ? w_in.contiguous() : Tensor();
  const std::int64_t rows = target.numel();
  Tensor idx = detail::make_tensor({rows}, Dtype::int64);
  Tensor wy = detail::make_tensor({rows}, dtype);
  kernel::dispatch_floating(dtype, op, [&]<class T>() {
    const std::int64_t* y = target.data_ptr<std::int64_t>();
    const T* wp = w.defined() ? w.data_ptr<T>() : nullptr;
    std::int64_t* ip = idx.data_ptr<std::int64_t>();
    T* wo = wy.data_ptr<T>();
    for (std::int64_t r = 0; r < rows; ++r) {
      const bool ok = !ignore || y[r] != *ignore;
      ip[r] = ok ? y[r] : 0;
      wo[r] = ok ? (wp ? wp[y[r]] : T(1)) : T(0);
    }
  });
  return {idx, wy};
}

// Reduces per-sample losses `l` ([N, S] or any shape with the samples' count) using PyTorch's
// weighted mean (divide by `denom`).
Tensor reduce_weighted(const Tensor& l, Reduction r, double denom, const Shape& sample_shape) {
  switch (r) {
    case Reduction::None:
      return reshape(l, sample_shape);
    case Reduction::Sum:
      return sum(l);
    default:
      return div(sum(l), denom);
  }
}

// ---- fused log_softmax over dim 1 of [N, C, S] ------------------------------------------

// out = x - lse along dim 1; lse (optional, [N * S]) receives log(sum_c exp(x_c)).
template <class T>
void log_softmax_kernel(const T* x, T* out, T* lse_out, std::int64_t n, std::int64_t c, std::int64_t s) {
  kernel::parallel_for(n * s, kernel::grain_for(c), [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t r = b; r < e; ++r) {
      const std::int64_t off = (r / s) * c * s + r % s;
      const T* xp = x + off;
      // NOTE: log-sum-exp with max subtraction; never exp() the raw logits. An infinite max is
      // replaced by 0 (all -inf gives -inf; +inf gives +inf, not inf - inf).
      T m = -std::numeric_limits<T>::infinity();
      for (std::int64_t k = 0; k < c; ++k)
        if (xp[k * s] > m) m = xp[k * s];
      const T shift = std::isinf(m) ? T(0) : m;
      double acc = 0.0;
      for (std::int64_t k = 0; k < c; ++k) acc += std::exp(xp[k * s] - shift);
      const T lse = static_cast<T>(static_cast<double>(shift) + std::log(acc));
      if (out)
        for (std::int64_t k = 0; k < c; ++k) out[off + k * s] = xp[k * s] - lse;
      if (lse_out) lse_out[r] = lse;
    }
  });
}

// log_softmax over dim 1 of a 3-d [N, C, S] tensor. Backward: g - e^out sum(g, 1).
Tensor log_softmax_dim1(const Tensor& x3_in) {
  // The kernels below read packed data.
  const Tensor x3 = x3_in.defined() ? x3_in.contiguous() : Tensor();
  const Shape& sh = x3.shape();
  Tensor out = detail::make_tensor(sh, x3.dtype());
  kernel::dispatch_floating(x3.dtype(), "cross_entropy", [&]<class T>() {
    log_softmax_kernel<T>(x3.data_ptr<T>(), out.data_ptr<T>(), nullptr, sh[0], sh[1], sh[2]);
  });
  if (any_requires_grad({&x3})) {
    record("LogSoftmaxBackward", {x3}, {out}, {out}, [](const Grads& g, const Grads& s) {
      return Grads{sub(g[0], mul(exp(s[0]), sum(g[0], {1}, /*keepdim=*/true)))};
    });
  }
  return out;
}

// ---- cross_entropy with class indices (fused) ----------------------------------------------

struct CeParams {
  std::int64_t n, c, s;
  std::int64_t ignore;
  double eps;
};

// Per-sample a_r and b_{r,c} of the gradient d l_r / d x_{r,c} = p_c a_r - b_{r,c}:
// a_r = (1 - eps) w_y + eps W / C, b_{r,c} = (1 - eps) w_y [c = y] + (eps / C) w_c (0 when ignored).
template <class T>
struct CeCoef {
  const T* w;
  double wsum;
  const CeParams& p;
  double wy(std::int64_t y) const { return w ? static_cast<double>(w[y]) : 1.0; }
  double wc(std::int64_t k) const { return w ? static_cast<double>(w[k]) : 1.0; }
  double a(std::int64_t y) const { return (1.0 - p.eps) * wy(y) + p.eps * wsum / static_cast<double>(p.c); }
  double b(std::int64_t y, std::int64_t k) const {
    return (k == y ? (1.0 - p.eps) * wy(y) : 0.0) + p.eps / static_cast<double>(p.c) * wc(k);
  }
};

template <class T>
double weight_sum(const T* w, std::int64_t c) {
  if (!w) return static_cast<double>(c);
  double s = 0.0;
  for (std::int64_t k = 0; k < c; ++k) s += static_cast<double>(w[k]);
  return s;
}

// Backward of ce_index_op, differentiable (used under create_graph): the gradient
// g (e^(log_softmax x) a - b), with a, b constants built here and ignored samples masked.
Tensor ce_index_backward_graph(const Tensor& g, const Tensor& x3, const Tensor& target_in, const Tensor& w_in,
                               const CeParams& p) {
  // The kernels below read packed data.
  const Tensor target = target_in.defined() ? target_in.contiguous() : Tensor();
  const Tensor w = w_in.defined() ? w_in.contiguous() : Tensor();
  Tensor a = detail::make_tensor({p.n, 1, p.s}, x3.dtype());
  Tensor b = detail::make_tensor({p.n, p.c, p.s}, x3.dtype());
  Tensor valid = detail::make_tensor({p.n, p.s}, x3.dtype());
  kernel::dispatch_floating(x3.dtype(), "cross_entropy", [&]<class T>() {
    const T* wp = w.defined() ? w.data_ptr<T>() : nullptr;
    const CeCoef<T> cf{wp, weight_sum(wp, p.c), p};
    const std::int64_t* y = target.data_ptr<std::int64_t>();
    T *ap = a.data_ptr<T>(), *bp = b.data_ptr<T>(), *vp = valid.data_ptr<T>();
    for (std::int64_t r = 0; r < p.n * p.s; ++r) {
      const std::int64_t off = (r / p.s) * p.c * p.s + r % p.s;
      const bool ok = y[r] != p.ignore;
      vp[r] = ok ? T(1) : T(0);
      ap[r] = ok ? static_cast<T>(cf.a(y[r])) : T(0);
      for (std::int64_t k = 0; k < p.c; ++k) bp[off + k * p.s] = ok ? static_cast<T>(cf.b(y[r], k)) : T(0);
    }
  });
  Tensor prob = exp(log_softmax_dim1(x3));
  Tensor gm = reshape(where(valid, g, scalar_tensor(0.0, dtype(g.dtype()))), {p.n, 1, p.s});
  return mul(gm, sub(mul(prob, a), b));
}

// Per-sample losses [N, S] of logits x3 [N, C, S] against targets (int64, N * S elements):
// l = (1 - eps) w_y (lse - x_y) + (eps / C) sum_c w_c (lse - x_c); 0 where ignored.
Tensor ce_index_op(const Tensor& x3_in, const Tensor& target_in, const Tensor& w_in, const CeParams& p) {
  // The kernels below read packed data.
  const Tensor x3 = x3_in.defined() ? x3_in.contiguous() : Tensor();
  const Tensor target = target_in.defined() ? target_in.contiguous() : Tensor();
  const Tensor w = w_in.defined() ? w_in.contiguous() : Tensor();
  Tensor out = detail::make_tensor({p.n, p.s}, x3.dtype());
  Tensor lse = detail::make_tensor({p.n * p.s}, x3.dtype());
  kernel::dispatch_floating(x3.dtype(), "cross_entropy", [&]<class T>() {
    const T* x = x3.data_ptr<T>();
    const T* wp = w.defined() ? w.data_ptr<T>() : nullptr;
    const std::int64_t* y = target.data_ptr<std::int64_t>();
    T* o = out.data_ptr<T>();
    T* lp = lse.data_ptr<T>();
    log_softmax_kernel<T>(x, nullptr, lp, p.n, p.c, p.s);
    const CeCoef<T> cf{wp, 0.0, p};
    kernel::parallel_for(p.n * p.s, kernel::grain_for(p.eps > 0.0 ? p.c : 1), [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t r = b; r < e; ++r) {
        const std::int64_t yi = y[r];
        if (yi == p.ignore) {
          o[r] = T(0);
          continue;
        }
        const T* xp = x + (r / p.s) * p.c * p.s + r % p.s;
        const double l = static_cast<double>(lp[r]);
        double v = (1.0 - p.eps) * cf.wy(yi) * (l - static_cast<double>(xp[yi * p.s]));
        if (p.eps > 0.0) {
          double sm = 0.0;
          for (std::int64_t k = 0; k < p.c; ++k) sm += cf.wc(k) * (l - static_cast<double>(xp[k * p.s]));
          v += p.eps / static_cast<double>(p.c) * sm;
        }
        o[r] = static_cast<T>(v);
      }
    });
  });
  if (any_requires_grad({&x3})) {
    record("CrossEntropyBackward", {x3}, {out}, {x3, target, w, lse}, [p](const Grads& g, const Grads& s) {
      const Tensor &x3s = s[0], &tgt = s[1], &ws = s[2], &lses = s[3];
      if (grad_mode_enabled()) return Grads{ce_index_backward_graph(g[0], x3s, tgt, ws, p)};
      // Direct loop: d l_r / d x_{r,c} = g_r (e^(x_c - lse_r) a_r - b_{r,c}).
      Tensor gx = detail::make_tensor(x3s.shape(), x3s.dtype());
      kernel::dispatch_floating(x3s.dtype(), "cross_entropy", [&]<class T>() {
        const T* x = x3s.data_ptr<T>();
        const T* wp = ws.defined() ? ws.data_ptr<T>() : nullptr;
        const CeCoef<T> cf{wp, weight_sum(wp, p.c), p};
        const std::int64_t* y = tgt.data_ptr<std::int64_t>();
        const T* lp = lses.data_ptr<T>();
        const Tensor g0 = g[0].contiguous();
        const T* gp = g0.data_ptr<T>();
        T* out = gx.data_ptr<T>();
        kernel::parallel_for(p.n * p.s, kernel::grain_for(p.c), [&](std::int64_t b, std::int64_t e) {
          for (std::int64_t r = b; r < e; ++r) {
            const std::int64_t off = (r / p.s) * p.c * p.s + r % p.s;
            const std::int64_t yi = y[r];
            if (yi == p.ignore) {
              for (std::int64_t k = 0; k < p.c; ++k) out[off + k * p.s] = T(0);
              continue;
            }
            const double gr = static_cast<double>(gp[r]), ar = cf.a(yi);
            for (std::int64_t k = 0; k < p.c; ++k) {
              const double pk = std::exp(static_cast<double>(x[off + k * p.s] - lp[r]));
              out[off + k * p.s] = static_cast<T>(gr * (pk * ar - cf.b(yi, k)));
            }
          }
        });
      });
      return Grads{gx};
    });
  }
  return out;
}

// ---- binary cross-entropy (fused element-wise) ---------------------------------------------

// l = -(y max(log x, -100) + (1 - y) max(log(1 - x), -100)), PyTorch's formula.
Tensor bce_op(const Tensor& x_in, const Tensor& y_in) {
  // The kernels below read packed data.
  const Tensor x = x_in.defined() ? x_in.contiguous() : Tensor();
  const Tensor y = y_in.defined() ? y_in.contiguous() : Tensor();
  Tensor out = detail::make_tensor(x.shape(), x.dtype());
  const std::int64_t n = x.numel();
  std::atomic<bool> bad{false};
  kernel::dispatch_floating(x.dtype(), "binary_cross_entropy", [&]<class T>() {
    const T *xp = x.data_ptr<T>(), *yp = y.data_ptr<T>();
    T* o = out.data_ptr<T>();
    kernel::parallel_for(n, [&](std::int64_t b, std::int64_t e) {
      bool chunk_bad = false;
      for (std::int64_t i = b; i < e; ++i) {
        const T xi = xp[i], yi = yp[i];
        chunk_bad = chunk_bad || !(xi >= T(0) && xi <= T(1));
        o[i] = (yi - T(1)) * std::max(static_cast<T>(std::log(T(1) - xi)), T(-100)) -
               yi * std::max(static_cast<T>(std::log(xi)), T(-100));
      }
      if (chunk_bad) bad.store(true, std::memory_order_relaxed);
    });
    if (bad.load()) {
      for (std::int64_t i = 0; i < n; ++i)
        if (!(xp[i] >= T(0) && xp[i] <= T(1)))
          throw Error(
              fmt::format("binary_cross_entropy: every element of input must be in [0, 1] (probabilities; "
                          "use binary_cross_entropy_with_logits for logits), got {} at flat index {}",
                          static_cast<double>(xp[i]), i));
    }
  });
  if (any_requires_grad({&x, &y})) {
    const bool rx = x.requires_grad(), ry = y.requires_grad();
    // d l/dx = (x - y) / max(x (1 - x), 1e-12) (PyTorch's EPSILON keeps x = 0 or 1 finite);
    // d l/dy = log(1 - x) - log(x).
    record("BinaryCrossEntropyBackward", {x, y}, {out}, {x, y}, [rx, ry](const Grads& g, const Grads& s) {
      Tensor gx, gy;
      if (rx) gx = div(mul(g[0], sub(s[0], s[1])), clamp(mul(s[0], rsub(s[0], 1.0)), 1e-12, std::nullopt));
      if (ry) gy = mul(g[0], sub(log(rsub(s[0], 1.0)), log(s[0])));
      return Grads{gx, gy};
    });
  }
  return out;
}

// ---- binary cross-entropy with logits (fused element-wise) ---------------------------------

// softplus(-x) = log(1 + e^-x) = log(1 + e^-|x|) + max(-x, 0), stable. d/dx = sigmoid(x) - 1.
template <class T>
T softplus_neg_value(T x) {
  return std::log1p(std::exp(-std::abs(x))) + std::max(-x, T(0));
}

Tensor softplus_neg(const Tensor& x_in) {
  // The kernels below read packed data.
  const Tensor x = x_in.defined() ? x_in.contiguous() : Tensor();
  Tensor out = detail::make_tensor(x.shape(), x.dtype());
  kernel::dispatch_floating(x.dtype(), "binary_cross_entropy_with_logits", [&]<class T>() {
    const T* xp = x.data_ptr<T>();
    T* o = out.data_ptr<T>();
    kernel::parallel_for(x.numel(), [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i) o[i] = softplus_neg_value(xp[i]);
    });
  });
  if (any_requires_grad({&x})) {
    record("SoftplusBackward", {x}, {out}, {x},
           [](const Grads& g, const Grads& s) { return Grads{mul(g[0], sub(sigmoid(s[0]), 1.0))}; });
  }
  return out;
}

// l = (1 - y) x + (1 + (pw - 1) y) softplus(-x); pw (optional) already has x's shape.
Tensor bce_logits_op(const Tensor& x_in, const Tensor& y_in, const Tensor& pw_in) {
  // The kernels below read packed data.
  const Tensor x = x_in.defined() ? x_in.contiguous() : Tensor();
  const Tensor y = y_in.defined() ? y_in.contiguous() : Tensor();
  const Tensor pw = pw_in.defined() ? pw_in.contiguous() : Tensor();
  Tensor out = detail::make_tensor(x.shape(), x.dtype());
  kernel::dispatch_floating(x.dtype(), "binary_cross_entropy_with_logits", [&]<class T>() {
    const T *xp = x.data_ptr<T>(), *yp = y.data_ptr<T>();
    const T* pp = pw.defined() ? pw.data_ptr<T>() : nullptr;
    T* o = out.data_ptr<T>();
    kernel::parallel_for(x.numel(), [&](std::int64_t b, std::int64_t e) {
      // NOTE: never exp() the raw logit: only e^-|x| <= 1 is computed.
      if (pp) {
        for (std::int64_t i = b; i < e; ++i)
          o[i] = (T(1) - yp[i]) * xp[i] + (T(1) + (pp[i] - T(1)) * yp[i]) * softplus_neg_value(xp[i]);
      } else {
        for (std::int64_t i = b; i < e; ++i) o[i] = (T(1) - yp[i]) * xp[i] + softplus_neg_value(xp[i]);
      }
    });
  });
  if (any_requires_grad({&x, &y, &pw})) {
    const bool rx = x.requires_grad(), ry = y.requires_grad(), rp = pw.defined() && pw.requires_grad();
    const bool has_pw = pw.defined();
    record("BinaryCrossEntropyWithLogitsBackward", {x, y, pw}, {out}, {x, y, pw},
           [rx, ry, rp, has_pw](const Grads& g, const Grads& s) {
             const Tensor &xs = s[0], &ys = s[1], &ps = s[2];
             Tensor gx, gy, gp;
             if (!has_pw) {
               // d l/dx = sigmoid(x) - y; d l/dy = -x.
               if (rx) gx = mul(g[0], sub(sigmoid(xs), ys));
               if (ry) gy = neg(mul(g[0], xs));
               return Grads{gx, gy, gp};
             }
             // With lw = 1 + (pw - 1) y: d l/dx = lw sigmoid(x) - pw y;
             // d l/dy = -x + (pw - 1) softplus(-x); d l/dpw = y softplus(-x).
             if (rx) gx = mul(g[0], sub(mul(add(mul(sub(ps, 1.0), ys), 1.0), sigmoid(xs)), mul(ps, ys)));
             if (ry || rp) {
               Tensor sp = softplus_neg(xs);
               if (ry) gy = mul(g[0], sub(mul(sub(ps, 1.0), sp), xs));
               if (rp) gp = mul(g[0], mul(ys, sp));
             }
             return Grads{gx, gy, gp};
           });
  }
  return out;
}

}  // namespace

namespace functional {

// ---- cross_entropy / nll_loss ----------------------------------------------------------------

Tensor cross_entropy(const Tensor& input, const Tensor& target, const CrossEntropyLossOptions& options) {
  XGRAD_PROFILE_OP("cross_entropy", input, target);
  constexpr std::string_view op = "cross_entropy";
  check_scores_call(input, target, options, op);
  const double eps = options.label_smoothing_;
  const ClassLayout l = class_layout(input, op);
  const Tensor& w = options.weight_;
  check_class_weight(w, input, l.c, op);
  const Tensor x3 = reshape(input, {l.n, l.c, l.s});

  if (is_floating(target.dtype())) {
    // Probability targets: q = (1 - eps) t + eps / C; l = -sum_c w_c q_c log p_c.
    if (target.shape() != input.shape())
      throw Error(
          fmt::format("{}: probability target shape {} must equal the input shape {} (class-index targets "
                      "must be int64)",
                      op, target.shape(), input.shape()));
    check_same_dtype(input, target, op, "input", "target");
    if (options.ignore_index_ >= 0)
      throw Error(
          fmt::format("{}: ignore_index ({}) is not supported for probability targets", op, options.ignore_index_));
    Tensor q = reshape(target, {l.n, l.c, l.s});
    if (eps > 0.0) q = add(mul(q, 1.0 - eps), eps / static_cast<double>(l.c));
    Tensor prod = mul(log_softmax_dim1(x3), q);
    if (w.defined()) prod = mul(prod, reshape(w, {1, l.c, 1}));
    Tensor per_sample = neg(sum(prod, {1}));
    return reduce_weighted(per_sample, options.reduction_, static_cast<double>(l.n * l.s), l.sample_shape);
  }

  check_index_target(target, input, l, op);
  const double denom = validate_targets(target, w, l.c, options.ignore_index_, op);
  const CeParams p{l.n, l.c, l.s, options.ignore_index_, eps};
  Tensor per_sample = ce_index_op(x3, reshape(target, {l.n * l.s}), w, p);
  return reduce_weighted(per_sample, options.reduction_, denom, l.sample_shape);
}

Tensor nll_loss(const Tensor& input, const Tensor& target, const NLLLossOptions& options) {
  XGRAD_PROFILE_OP("nll_loss", input, target);
  constexpr std::string_view op = "nll_loss";
  check_floating(input, op, "input");
  check_reduction(options.reduction_, op);
  xgrad::options::validate_options(options, op);
  const ClassLayout l = class_layout(input, op);
  check_index_target(target, input, l, op);
  const Tensor& w = options.weight_;
  check_class_weight(w, input, l.c, op);
  const double denom = validate_targets(target, w, l.c, options.ignore_index_, op);
  // l = -w_y input[y] through gather (differentiable twice); ignored targets gather class 0
  // with weight 0.
  const auto [idx, wy] = target_index_and_weight(target, w, input.dtype(), options.ignore_index_, op);
  Tensor picked = reshape(gather(reshape(input, {l.n, l.c, l.s}), 1, reshape(idx, {l.n, 1, l.s})), {l.n, l.s});
  return reduce_weighted(neg(mul(picked, reshape(wy, {l.n, l.s}))), options.reduction_, denom, l.sample_shape);
}

// ---- binary cross-entropy ----------------------------------------------------------------

Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const BCELossOptions& options) {
  XGRAD_PROFILE_OP("binary_cross_entropy", input, target);
  constexpr std::string_view op = "binary_cross_entropy";
  check_pair(input, target, op);
  check_reduction(options.reduction_, op);
  xgrad::options::validate_options(options, op);
  check_broadcast_weight(options.weight_, input, op, "weight");
  Tensor l = bce_op(input, target);
  if (options.weight_.defined()) l = mul(l, options.weight_);
  return apply_reduction(l, options.reduction_, op);
}

Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target,
                                        const BCEWithLogitsLossOptions& options) {
  XGRAD_PROFILE_OP("binary_cross_entropy_with_logits", input, target);
  constexpr std::string_view op = "binary_cross_entropy_with_logits";
  check_pair(input, target, op);
  check_reduction(options.reduction_, op);
  xgrad::options::validate_options(options, op);
  check_broadcast_weight(options.weight_, input, op, "weight");
  check_broadcast_weight(options.pos_weight_, input, op, "pos_weight");
  Tensor pw = options.pos_weight_;
  if (pw.defined() && pw.shape() != input.shape()) pw = expand(pw, input.shape());
  Tensor l = bce_logits_op(input, target, pw);
  if (options.weight_.defined()) l = mul(l, options.weight_);
  return apply_reduction(l, options.reduction_, op);
}

// ---- multi_margin_loss -------------------------------------------------------------------

Tensor multi_margin_loss(const Tensor& input, const Tensor& target, const MultiMarginLossOptions& options) {
  XGRAD_PROFILE_OP("multi_margin_loss", input, target);
  constexpr std::string_view op = "multi_margin_loss";
  check_scores_call(input, target, options, op);
  if (input.dim() != 1 && input.dim() != 2)
    throw Error(fmt::format("{}: expected input of shape [C] or [N, C], got shape {}", op, input.shape()));
  const ClassLayout l = class_layout(input, op);
  if (l.c == 0) throw Error(fmt::format("{}: input of shape {} has no classes", op, input.shape()));
  check_index_target(target, input, l, op);
  const Tensor& w = options.weight_;
  check_class_weight(w, input, l.c, op);
  validate_targets(target, w, l.c, std::nullopt, op);
  // l_n = sum_j mask_{n,j} relu(margin - x_y + x_j)^p, mask_{n,j} = [j != y] w_y / C (constant).
  const auto [idx, wy] = target_index_and_weight(target, w, input.dtype(), std::nullopt, op);
  Tensor mask = detail::make_tensor({l.n, l.c}, input.dtype());
  kernel::dispatch_floating(input.dtype(), "multi_margin_loss", [&]<class T>() {
    const Tensor tc = target.contiguous();
    const std::int64_t* y = tc.data_ptr<std::int64_t>();
    const T* wyp = wy.data_ptr<T>();
    T* mp = mask.data_ptr<T>();
    for (std::int64_t r = 0; r < l.n; ++r)
      for (std::int64_t k = 0; k < l.c; ++k) mp[r * l.c + k] = k == y[r] ? T(0) : wyp[r] / static_cast<T>(l.c);
  });
  const Tensor x2 = reshape(input, {l.n, l.c});
  // relu: gradient 0 at z == 0, like PyTorch's `if (z > 0)`.
  Tensor z = relu(add(sub(x2, gather(x2, 1, reshape(idx, {l.n, 1}))), options.margin_));
  if (options.p_ == 2) z = mul(z, z);
  Tensor per_sample = sum(mul(z, mask), {1});
  if (options.reduction_ == Reduction::None) return reshape(per_sample, l.sample_shape);
  return apply_reduction(per_sample, options.reduction_, op);
}

}  // namespace functional

}  // namespace xgrad::nn
