// Private helpers for the optimizers' fused element-wise update loops. The loops themselves
// run on the kernel layer: kernel::parallel_for (inline at or below kernel::kGrain; every
// element is independent, so the split never changes a result) and kernel::dispatch_floating.
#pragma once

#include <cstdint>
#include <string_view>

#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/kernel/kernel.hpp"
#include "xgrad/autograd/tensor.hpp"

namespace xgrad::optim::detail {

/// The parameter's gradient checked against it (same shape and dtype).
inline void check_grad(const Tensor& p, const Tensor& g, std::string_view op) {
  if (g.shape() != p.shape() || g.dtype() != p.dtype()) {
    throw Error(fmt::format("{}: the gradient {} does not match its parameter {}", op, g.describe(), p.describe()));
  }
}

/// Marks an in-place update of `t` (a graph that saved it then refuses to backward).
inline void bump_version(const Tensor& t) { t.impl()->storage->version += 1; }

/// PyTorch's lerp: self + w * (end - self), computed as end - (end - self) * (1 - w) when
/// w >= 0.5 (exact at w = 1).
template <class T>
inline T lerp(T self, T end, T w) {
  return w < T(0.5) ? self + w * (end - self) : end - (end - self) * (T(1) - w);
}

/// The gradient as the update reads it: negated when maximize, plus wd * theta when the
/// (coupled, L2) weight decay wd != 0.
template <class T>
struct DecayedGrad {
  T wd;
  bool has_wd, maximize;
  DecayedGrad(double weight_decay, bool maximize_)
      : wd(static_cast<T>(weight_decay)), has_wd(weight_decay != 0.0), maximize(maximize_) {}
  T operator()(T g, T theta) const {
    const T d = maximize ? -g : g;
    return has_wd ? d + wd * theta : d;
  }
};

/// v <- beta * v + (1 - beta) * g^2 (PyTorch's v.mul_(beta).addcmul_(g, g, value=1 - beta));
/// returns the new v.
template <class T>
inline T square_avg(T& v, T g, T beta, T one_minus_beta) {
  v = v * beta + one_minus_beta * g * g;
  return v;
}

/// The first moments of the Adam family (Adam, NAdam, RAdam) for one element, in PyTorch's
/// order: g <- -g if maximize; theta <- theta * (1 - lr * wd) with decoupled weight decay, else
/// g <- g + wd * theta; m <- lerp(m, g, 1 - beta1); v <- beta2 * v + (1 - beta2) * g^2.
template <class T>
struct AdamMoments {
  T* m;
  T* v;
  T w1, b2, w2, wd, decay;
  bool maximize, decoupled, coupled;
  AdamMoments(Tensor& exp_avg, Tensor& exp_avg_sq, double beta1, double beta2, double lr, double weight_decay,
              bool decoupled_wd, bool maximize_)
      : m(exp_avg.data_ptr<T>()),
        v(exp_avg_sq.data_ptr<T>()),
        w1(static_cast<T>(1.0 - beta1)),
        b2(static_cast<T>(beta2)),
        w2(static_cast<T>(1.0 - beta2)),
        wd(static_cast<T>(weight_decay)),
        decay(static_cast<T>(1.0 - lr * weight_decay)),
        maximize(maximize_),
        decoupled(weight_decay != 0.0 && decoupled_wd),
        coupled(weight_decay != 0.0 && !decoupled_wd) {}
  /// Updates m[i] and v[i] from the gradient g and the parameter theta; returns theta after
  /// the decoupled decay and sets g to the gradient the moments used.
  T operator()(std::int64_t i, T& g, T theta) const {
    if (maximize) g = -g;
    if (decoupled) theta = theta * decay;
    if (coupled) g = g + wd * theta;
    m[i] = lerp(m[i], g, w1);
    square_avg(v[i], g, b2, w2);
    return theta;
  }
};

/// zeros_like(p) (a fresh state buffer).
inline Tensor zeros_state(const Tensor& p) { return zeros(p.shape(), dtype(p.dtype())); }

/// Sets each undefined buffer to zeros_state(p) (the lazy creation of state tensors).
template <class... Buffers>
void zeros_if_undefined(const Tensor& p, Buffers&... buffers) {
  ((buffers.defined() ? void() : void(buffers = zeros_state(p))), ...);
}

}  // namespace xgrad::optim::detail
