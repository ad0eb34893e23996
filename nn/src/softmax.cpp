// softmax, log_softmax and softmin: fused, numerically stable row kernels along any dim, with
// fused backwards that are themselves differentiable (so they can be differentiated again).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/kernel/kernel.hpp"
#include "xgrad/autograd/node.hpp"
#include "xgrad/autograd/reduction.hpp"
#include "xgrad/nn/activation.hpp"
#include "xgrad/autograd/profile_scope.hpp"

namespace xgrad::nn {

namespace {

using Grads = std::vector<Tensor>;

// Columns of the inner dimension handled together when dim is not the last one.
constexpr std::int64_t kColumnBlock = 256;

// The tensor seen as [outer, n, inner] with n the size of the softmax dim.
struct RowLayout {
  std::int64_t outer = 1, n = 1, inner = 1;
};

// Checks x and wraps dim (a 0-d tensor accepts 0 and -1, like PyTorch).
std::int64_t check_softmax_args(const Tensor& x, std::int64_t dim, std::string_view op) {
  detail::check_defined(x, op);
  if (!is_floating(x.dtype()))
    throw Error(fmt::format("{}: expected a floating tensor (float32 or float64), got int64 tensor of shape {}", op,
                            x.shape()));
  const std::int64_t nd = std::max<std::int64_t>(x.dim(), 1);
  if (dim < -nd || dim >= nd)
    throw Error(fmt::format("{}: dim {} out of range for tensor of shape {} (expected in [{}, {}])", op, dim, x.shape(),
                            -nd, nd - 1));
  return dim < 0 ? dim + nd : dim;
}

RowLayout make_layout(const Shape& s, std::int64_t dim) {
  RowLayout l;
  if (s.empty()) return l;  // 0-d: one row of one element
  for (std::int64_t d = 0; d < dim; ++d) l.outer *= s[d];
  l.n = s[dim];
  for (std::size_t d = static_cast<std::size_t>(dim) + 1; d < s.size(); ++d) l.inner *= s[d];
  return l;
}

// Which row computation a kernel runs. Forwards read x; backwards read g (the gradient of
// the output) and y (the forward's output).
enum class Kind { softmax, log_softmax, softmax_backward, log_softmax_backward };

// Independent partial sums per row: they let the sums vectorise, and fix the order of the
// additions, so results do not depend on the thread count.
constexpr int kLanes = 16;

// std::max by value: the reference form turns into a conditional load that does not vectorise.
template <class T>
[[gnu::always_inline]] inline T max_of(T a, T b) {
  return a < b ? b : a;
}

[[gnu::always_inline]] inline double lane_sum(double* s) {
  for (int w = kLanes / 2; w > 0; w /= 2)
    for (int k = 0; k < w; ++k) s[k] += s[k + w];
  return s[0];
}

// Sum over a row of f(j), accumulated in double.
template <class F>
[[gnu::always_inline]] inline double row_sum(std::int64_t n, F f) {
  double s[kLanes] = {};
  std::int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (int k = 0; k < kLanes; ++k) s[k] += f(j + k);
  for (int k = 0; j < n; ++j, ++k) s[k] += f(j);
  return lane_sum(s);
}

// Maximum of a row. GCC does not vectorise a float max reduction without -ffast-math, so the
// lanes are an explicit 64-byte vector (one zmm, two ymm or four xmm registers).
template <class T>
[[gnu::always_inline]] inline T row_max(const T* x, std::int64_t n) {
  constexpr std::int64_t kWidth = 64 / sizeof(T);
  typedef T V __attribute__((vector_size(64)));
  T m = x[0];
  std::int64_t j = 0;
  if (n >= kWidth) {
    V mv, v;
    std::memcpy(&mv, x, sizeof(V));
    for (j = kWidth; j + kWidth <= n; j += kWidth) {
      std::memcpy(&v, x + j, sizeof(V));
      mv = mv < v ? v : mv;
    }
    for (std::int64_t k = 0; k < kWidth; ++k) m = max_of(m, mv[k]);
  }
  for (; j < n; ++j) m = max_of(m, x[j]);
  return m;
}

// NOTE: stable form. m = max along the row, then e^(x - m) <= 1 never overflows; the sum is at
// least 1 (the maximum contributes e^0), so neither the division nor the log can blow up.
// A row that is all -inf, or holds +inf or NaN, gives NaN like PyTorch (a NaN the lane maxima
// skip still reaches the sum through e^(NaN - m)).
template <class T, bool Log>
[[gnu::always_inline]] inline void softmax_row(const T* __restrict x, T* __restrict y, std::int64_t n) {
  const T m = row_max(x, n);
  std::int64_t j;
  for (j = 0; j < n; ++j) y[j] = kernel::fast_exp(x[j] - m);
  const double s = row_sum(n, [&](std::int64_t i) { return static_cast<double>(y[i]); });
  if constexpr (Log) {
    const T ls = static_cast<T>(std::log(s));
    for (j = 0; j < n; ++j) y[j] = (x[j] - m) - ls;
  } else {
    const T inv = static_cast<T>(1.0 / s);
    for (j = 0; j < n; ++j) y[j] *= inv;
  }
}

// softmax: out = y (g - sum(g y)); log_softmax: out = g - e^y sum(g).
template <class T, bool Log>
[[gnu::always_inline]] inline void softmax_backward_row(const T* __restrict g, const T* __restrict y, T* __restrict out,
                                                        std::int64_t n) {
  if constexpr (Log) {
    const T s = static_cast<T>(row_sum(n, [&](std::int64_t i) { return static_cast<double>(g[i]); }));
    for (std::int64_t j = 0; j < n; ++j) out[j] = g[j] - kernel::fast_exp(y[j]) * s;
  } else {
    const T s = static_cast<T>(
        row_sum(n, [&](std::int64_t i) { return static_cast<double>(g[i]) * static_cast<double>(y[i]); }));
    for (std::int64_t j = 0; j < n; ++j) out[j] = y[j] * (g[j] - s);
  }
}

// Contiguous rows [rb, re) of length n.
template <class T>
[[gnu::always_inline]] inline void run_rows(Kind kind, const T* a, const T* b, T* out, std::int64_t rb, std::int64_t re,
                                            std::int64_t n) {
  for (std::int64_t r = rb; r < re; ++r) {
    const T* ar = a + r * n;
    const T* br = b ? b + r * n : nullptr;
    T* o = out + r * n;
    switch (kind) {
      case Kind::softmax:
        softmax_row<T, false>(ar, o, n);
        break;
      case Kind::log_softmax:
        softmax_row<T, true>(ar, o, n);
        break;
      case Kind::softmax_backward:
        softmax_backward_row<T, false>(ar, br, o, n);
        break;
      case Kind::log_softmax_backward:
        softmax_backward_row<T, true>(ar, br, o, n);
        break;
    }
  }
}

// Strided rows: element (o, j, c) sits at (o n + j) inner + c. One unit is a block of up to
// kColumnBlock adjacent columns of one o, so every inner loop runs over contiguous memory and
// the per-column maxima and sums vectorise across columns.
template <class T>
[[gnu::always_inline]] inline void run_blocks(Kind kind, const T* a, const T* b, T* out, const RowLayout& l,
                                              std::int64_t ub, std::int64_t ue) {
  const std::int64_t n = l.n, inner = l.inner;
  const std::int64_t blocks = (inner + kColumnBlock - 1) / kColumnBlock;
  alignas(64) T m[kColumnBlock];
  alignas(64) double s[kColumnBlock];
  for (std::int64_t unit = ub; unit < ue; ++unit) {
    const std::int64_t base = (unit / blocks) * n * inner + (unit % blocks) * kColumnBlock;
    const std::int64_t w = std::min(kColumnBlock, inner - (unit % blocks) * kColumnBlock);
    const T* __restrict ab = a + base;
    const T* __restrict bb = b ? b + base : nullptr;
    T* __restrict ob = out + base;
    std::fill(s, s + w, 0.0);
    if (kind == Kind::softmax || kind == Kind::log_softmax) {
      std::copy(ab, ab + w, m);
      for (std::int64_t j = 1; j < n; ++j) {
        const T* xr = ab + j * inner;
        for (std::int64_t c = 0; c < w; ++c) m[c] = max_of(m[c], xr[c]);
      }
      for (std::int64_t j = 0; j < n; ++j) {
        const T* xr = ab + j * inner;
        T* yr = ob + j * inner;
        for (std::int64_t c = 0; c < w; ++c) {
          yr[c] = kernel::fast_exp(xr[c] - m[c]);
          s[c] += static_cast<double>(yr[c]);
        }
      }
      if (kind == Kind::log_softmax) {
        for (std::int64_t c = 0; c < w; ++c) s[c] = std::log(s[c]);
        for (std::int64_t j = 0; j < n; ++j) {
          const T* xr = ab + j * inner;
          T* yr = ob + j * inner;
          for (std::int64_t c = 0; c < w; ++c) yr[c] = (xr[c] - m[c]) - static_cast<T>(s[c]);
        }
      } else {
        for (std::int64_t c = 0; c < w; ++c) m[c] = static_cast<T>(1.0 / s[c]);
        for (std::int64_t j = 0; j < n; ++j) {
          T* yr = ob + j * inner;
          for (std::int64_t c = 0; c < w; ++c) yr[c] *= m[c];
        }
      }
      continue;
    }
    const bool is_log = kind == Kind::log_softmax_backward;
    for (std::int64_t j = 0; j < n; ++j) {
      const T* gr = ab + j * inner;
      const T* yr = bb + j * inner;
      if (is_log)
        for (std::int64_t c = 0; c < w; ++c) s[c] += static_cast<double>(gr[c]);
      else
        for (std::int64_t c = 0; c < w; ++c) s[c] += static_cast<double>(gr[c]) * static_cast<double>(yr[c]);
    }
    for (std::int64_t c = 0; c < w; ++c) m[c] = static_cast<T>(s[c]);
    for (std::int64_t j = 0; j < n; ++j) {
      const T* gr = ab + j * inner;
      const T* yr = bb + j * inner;
      T* o = ob + j * inner;
      if (is_log)
        for (std::int64_t c = 0; c < w; ++c) o[c] = gr[c] - kernel::fast_exp(yr[c]) * m[c];
      else
        for (std::int64_t c = 0; c < w; ++c) o[c] = yr[c] * (gr[c] - m[c]);
    }
  }
}

// float32 entry points, compiled once per instruction set and picked at load time
// (kernel/simd.hpp). Rows and column blocks are computed independently (fixed lanes within a
// row), so the split across tasks never changes a result.
XGRAD_SIMD_CLONES void rows_f32(Kind kind, const float* a, const float* b, float* out, std::int64_t rb, std::int64_t re,
                                std::int64_t n) {
  run_rows<float>(kind, a, b, out, rb, re, n);
}

XGRAD_SIMD_CLONES void blocks_f32(Kind kind, const float* a, const float* b, float* out, const RowLayout& l,
                                  std::int64_t ub, std::int64_t ue) {
  run_blocks<float>(kind, a, b, out, l, ub, ue);
}

// Runs `kind` over the rows of a (and b) along l's dim, into out.
template <class T>
void row_kernel(Kind kind, const T* a, const T* b, T* out, const RowLayout& l) {
  const std::int64_t n = l.n, inner = l.inner;
  const std::int64_t numel = l.outer * n * inner;
  if (numel == 0) return;
  if (inner == 1) {
    kernel::parallel_for(l.outer, kernel::grain_for(n), [&](std::int64_t b0, std::int64_t e0) {
      if constexpr (std::is_same_v<T, float>)
        rows_f32(kind, a, b, out, b0, e0, n);
      else
        run_rows<T>(kind, a, b, out, b0, e0, n);
    });
    return;
  }
  const std::int64_t blocks = (inner + kColumnBlock - 1) / kColumnBlock;
  const std::int64_t block_elems = n * std::min(inner, kColumnBlock);
  kernel::parallel_for(l.outer * blocks, kernel::grain_for(block_elems), [&](std::int64_t b0, std::int64_t e0) {
    if constexpr (std::is_same_v<T, float>)
      blocks_f32(kind, a, b, out, l, b0, e0);
    else
      run_blocks<T>(kind, a, b, out, l, b0, e0);
  });
}

// b is undefined for the forwards; dim already wrapped.
Tensor run_kernel(Kind kind, const Tensor& a_in, const Tensor& b_in, std::int64_t dim) {
  // The row kernels read packed data (views and expanded gradients are copied first).
  NoGradGuard ng;
  const Tensor a = a_in.contiguous(), b = b_in.defined() ? b_in.contiguous() : Tensor();
  Tensor out = detail::make_tensor(a.shape(), a.dtype());
  const RowLayout l = make_layout(a.shape(), dim);
  if (a.dtype() == Dtype::float32)
    row_kernel<float>(kind, a.data_ptr<float>(), b.defined() ? b.data_ptr<float>() : nullptr, out.data_ptr<float>(), l);
  else
    row_kernel<double>(kind, a.data_ptr<double>(), b.defined() ? b.data_ptr<double>() : nullptr, out.data_ptr<double>(),
                       l);
  return out;
}

// Fused gradient of softmax, y (g - sum(g y, dim)), differentiable again (like PyTorch's
// _softmax_backward_data). With S = sum(g y) and h the gradient of out:
//   d/dg: y (h - sum(h y))  (this same op applied to h),
//   d/dy: h (g - S) - g sum(h y).
Tensor softmax_backward(const Tensor& g, const Tensor& y, std::int64_t dim) {
  Tensor out = run_kernel(Kind::softmax_backward, g, y, dim);
  if (any_requires_grad({&g, &y})) {
    const bool rg = g.requires_grad(), ry = y.requires_grad();
    record("SoftmaxBackwardBackward", {g, y}, {out}, {g, y}, [dim, rg, ry](const Grads& h, const Grads& s) {
      const Tensor &gs = s[0], &ys = s[1];
      Tensor gg, gy;
      if (rg) gg = softmax_backward(h[0], ys, dim);
      if (ry) gy = sub(mul(h[0], sub(gs, sum(mul(gs, ys), {dim}, true))), mul(gs, sum(mul(h[0], ys), {dim}, true)));
      return Grads{gg, gy};
    });
  }
  return out;
}

// Fused gradient of log_softmax, g - e^y sum(g, dim) (PyTorch's _log_softmax_backward_data).
// With h the gradient of out:
//   d/dg: h - sum(h e^y),
//   d/dy: -h e^y sum(g).
Tensor log_softmax_backward(const Tensor& g, const Tensor& y, std::int64_t dim) {
  Tensor out = run_kernel(Kind::log_softmax_backward, g, y, dim);
  if (any_requires_grad({&g, &y})) {
    const bool rg = g.requires_grad(), ry = y.requires_grad();
    record("LogSoftmaxBackwardBackward", {g, y}, {out}, {g, y}, [dim, rg, ry](const Grads& h, const Grads& s) {
      const Tensor &gs = s[0], &ys = s[1];
      const Tensor he = mul(h[0], exp(ys));
      Tensor gg, gy;
      if (rg) gg = sub(h[0], sum(he, {dim}, true));
      if (ry) gy = neg(mul(he, sum(gs, {dim}, true)));
      return Grads{gg, gy};
    });
  }
  return out;
}

// x already checked, dim already wrapped.
Tensor softmax_impl(const Tensor& x, std::int64_t dim) {
  Tensor y = run_kernel(Kind::softmax, x, Tensor(), dim);
  if (any_requires_grad({&x})) {
    // dy_i/dx_k = y_i (delta_ik - y_k)  =>  g_x = y (g - sum(g y, dim)).
    record("SoftmaxBackward", {x}, {y}, {y},
           [dim](const Grads& g, const Grads& s) { return Grads{softmax_backward(g[0], s[0], dim)}; });
  }
  return y;
}

}  // namespace

namespace functional {

Tensor softmax(const Tensor& x, std::int64_t dim) {
  XGRAD_PROFILE_OP("softmax", x);
  return softmax_impl(x, check_softmax_args(x, dim, "softmax"));
}

Tensor log_softmax(const Tensor& x, std::int64_t dim) {
  XGRAD_PROFILE_OP("log_softmax", x);
  const std::int64_t d = check_softmax_args(x, dim, "log_softmax");
  Tensor y = run_kernel(Kind::log_softmax, x, Tensor(), d);
  if (any_requires_grad({&x})) {
    // dy_i/dx_k = delta_ik - softmax_k  =>  g_x = g - e^y sum(g, dim).
    record("LogSoftmaxBackward", {x}, {y}, {y},
           [d](const Grads& g, const Grads& s) { return Grads{log_softmax_backward(g[0], s[0], d)}; });
  }
  return y;
}

Tensor softmin(const Tensor& x, std::int64_t dim) {
  XGRAD_PROFILE_OP("softmin", x);
  const std::int64_t d = check_softmax_args(x, dim, "softmin");
  return softmax_impl(neg(x), d);
}

}  // namespace functional

}  // namespace xgrad::nn
