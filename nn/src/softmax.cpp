// softmax, log_softmax and softmin: fused, numerically stable row kernels along any dim, with
// backwards built from differentiable ops (so they can be differentiated again).
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/node.hpp"
#include "xgrad/autograd/reduction.hpp"
#include "xgrad/nn/activation.hpp"

namespace xgrad::nn {

namespace {

using Grads = std::vector<Tensor>;

// Below this many elements a kernel runs inline on the calling thread.
constexpr std::int64_t kGrain = 32768;
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

// Runs body(b, e) over [0, count): inline when the whole tensor is small, else over TBB with
// `grain` units per task at least.
template <class Body>
void for_units(std::int64_t count, std::int64_t numel, std::int64_t grain, Body body) {
  if (count <= 0) return;
  if (numel <= kGrain || count == 1) {
    body(std::int64_t{0}, count);
    return;
  }
  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, count, std::max<std::int64_t>(grain, 1)),
                    [&](const tbb::blocked_range<std::int64_t>& r) { body(r.begin(), r.end()); });
}

// NOTE: stable form. m = max along the row, then e^(x - m) <= 1 never overflows; the sum is at
// least 1 (the maximum contributes e^0), so neither the division nor the log can blow up.
// A row that is all -inf, or holds +inf or NaN, gives NaN like PyTorch.
template <class T, bool Log>
void softmax_kernel(const T* x, T* y, const RowLayout& l) {
  using A = double;  // accumulate the sum in double for both float types
  const std::int64_t n = l.n, inner = l.inner;
  const std::int64_t numel = l.outer * n * inner;
  if (numel == 0) return;
  if (inner == 1) {
    // Contiguous rows.
    for_units(l.outer, numel, kGrain / n + 1, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t row = b; row < e; ++row) {
        const T* xr = x + row * n;
        T* yr = y + row * n;
        T m = xr[0];
        for (std::int64_t j = 1; j < n; ++j) m = std::max(m, xr[j]);
        A s = 0;
        for (std::int64_t j = 0; j < n; ++j) {
          const T ex = std::exp(xr[j] - m);
          if constexpr (!Log) yr[j] = ex;
          s += static_cast<A>(ex);
        }
        if constexpr (Log) {
          const T ls = static_cast<T>(std::log(s));
          for (std::int64_t j = 0; j < n; ++j) yr[j] = (xr[j] - m) - ls;
        } else {
          const T inv = static_cast<T>(A(1) / s);
          for (std::int64_t j = 0; j < n; ++j) yr[j] *= inv;
        }
      }
    });
    return;
  }
  // Strided rows: element (o, j, c) sits at (o n + j) inner + c. Work on blocks of adjacent
  // columns so every inner loop runs over contiguous memory.
  const std::int64_t blocks = (inner + kColumnBlock - 1) / kColumnBlock;
  const std::int64_t block_elems = n * std::min(inner, kColumnBlock);
  for_units(l.outer * blocks, numel, kGrain / block_elems + 1, [&](std::int64_t b, std::int64_t e) {
    std::vector<T> m(static_cast<std::size_t>(kColumnBlock));
    std::vector<A> s(static_cast<std::size_t>(kColumnBlock));
    for (std::int64_t unit = b; unit < e; ++unit) {
      const std::int64_t o = unit / blocks;
      const std::int64_t c0 = (unit % blocks) * kColumnBlock;
      const std::int64_t w = std::min(kColumnBlock, inner - c0);
      const T* xb = x + o * n * inner + c0;
      T* yb = y + o * n * inner + c0;
      std::copy(xb, xb + w, m.begin());
      for (std::int64_t j = 1; j < n; ++j) {
        const T* xr = xb + j * inner;
        for (std::int64_t c = 0; c < w; ++c) m[c] = std::max(m[c], xr[c]);
      }
      std::fill(s.begin(), s.end(), A(0));
      for (std::int64_t j = 0; j < n; ++j) {
        const T* xr = xb + j * inner;
        T* yr = yb + j * inner;
        for (std::int64_t c = 0; c < w; ++c) {
          const T ex = std::exp(xr[c] - m[c]);
          if constexpr (!Log) yr[c] = ex;
          s[c] += static_cast<A>(ex);
        }
      }
      if constexpr (Log) {
        for (std::int64_t c = 0; c < w; ++c) s[c] = std::log(s[c]);
        for (std::int64_t j = 0; j < n; ++j) {
          const T* xr = xb + j * inner;
          T* yr = yb + j * inner;
          for (std::int64_t c = 0; c < w; ++c) yr[c] = (xr[c] - m[c]) - static_cast<T>(s[c]);
        }
      } else {
        for (std::int64_t c = 0; c < w; ++c) s[c] = A(1) / s[c];
        for (std::int64_t j = 0; j < n; ++j) {
          T* yr = yb + j * inner;
          for (std::int64_t c = 0; c < w; ++c) yr[c] *= static_cast<T>(s[c]);
        }
      }
    }
  });
}

template <bool Log>
Tensor softmax_forward(const Tensor& x, std::int64_t dim) {
  Tensor y = detail::make_tensor(x.shape(), x.dtype());
  const RowLayout l = make_layout(x.shape(), dim);
  if (x.dtype() == Dtype::float32)
    softmax_kernel<float, Log>(x.data_ptr<float>(), y.data_ptr<float>(), l);
  else
    softmax_kernel<double, Log>(x.data_ptr<double>(), y.data_ptr<double>(), l);
  return y;
}

// x already checked, dim already wrapped.
Tensor softmax_impl(const Tensor& x, std::int64_t dim) {
  Tensor y = softmax_forward<false>(x, dim);
  if (any_requires_grad({&x})) {
    // dy_i/dx_k = y_i (delta_ik - y_k)  =>  g_x = y (g - sum(g y, dim)).
    record("SoftmaxBackward", {x}, {y}, {y}, [dim](const Grads& g, const Grads& s) {
      const Tensor& y = s[0];
      return Grads{mul(y, sub(g[0], sum(mul(g[0], y), {dim}, true)))};
    });
  }
  return y;
}

}  // namespace

namespace functional {

Tensor softmax(const Tensor& x, std::int64_t dim) { return softmax_impl(x, check_softmax_args(x, dim, "softmax")); }

Tensor log_softmax(const Tensor& x, std::int64_t dim) {
  const std::int64_t d = check_softmax_args(x, dim, "log_softmax");
  Tensor y = softmax_forward<true>(x, d);
  if (any_requires_grad({&x})) {
    // dy_i/dx_k = delta_ik - softmax_k  =>  g_x = g - e^y sum(g, dim).
    record("LogSoftmaxBackward", {x}, {y}, {y},
           [d](const Grads& g, const Grads& s) { return Grads{sub(g[0], mul(exp(s[0]), sum(g[0], {d}, true)))}; });
  }
  return y;
}

Tensor softmin(const Tensor& x, std::int64_t dim) {
  const std::int64_t d = check_softmax_args(x, dim, "softmin");
  return softmax_impl(neg(x), d);
}

}  // namespace functional

Tensor Softmax::forward(const Tensor& input) { return functional::softmax(input, dim_); }
std::string Softmax::extra_repr() const { return fmt::format("dim={}", dim_); }

Tensor LogSoftmax::forward(const Tensor& input) { return functional::log_softmax(input, dim_); }
std::string LogSoftmax::extra_repr() const { return fmt::format("dim={}", dim_); }

Tensor Softmin::forward(const Tensor& input) { return functional::softmin(input, dim_); }
std::string Softmin::extra_repr() const { return fmt::format("dim={}", dim_); }

}  // namespace xgrad::nn
