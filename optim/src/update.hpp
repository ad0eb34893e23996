// Private helpers for the optimizers' fused element-wise update loops.
#pragma once

#include <cstdint>
#include <string_view>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/tensor.hpp"

namespace xgrad::optim::detail {

/// Below this many elements an update runs inline on the calling thread.
inline constexpr std::int64_t kGrain = 32768;

/// Calls f(begin, end) over [0, n): inline below kGrain, split across TBB tasks above.
/// Every element's arithmetic is independent, so the result does not depend on the split.
template <class F>
void for_range(std::int64_t n, F&& f) {
  if (n < kGrain) {
    if (n > 0) f(std::int64_t{0}, n);
    return;
  }
  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, n, kGrain),
                    [&](const tbb::blocked_range<std::int64_t>& r) { f(r.begin(), r.end()); });
}

/// Calls f(T{}) with T = float or double for the parameter's dtype.
template <class F>
void dispatch_floating(Dtype d, std::string_view op, F&& f) {
  switch (d) {
    case Dtype::float32:
      f(float{});
      return;
    case Dtype::float64:
      f(double{});
      return;
    default:
      throw Error(fmt::format("{}: expected a float32 or float64 parameter, got {}", op, d));
  }
}

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

/// zeros_like(p) (a fresh state buffer).
inline Tensor zeros_state(const Tensor& p) { return zeros(p.shape(), dtype(p.dtype())); }

}  // namespace xgrad::optim::detail
