// Element-wise kernels over strided operands: the row iterator every strided loop is built
// on, and unary/binary maps with NumPy broadcasting. Contiguous operands take flat loops
// (the hand-tuned fast path); anything else is walked row by row through its strides.
// detail: no stable API.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "xgrad/autograd/kernel/parallel.hpp"
#include "xgrad/autograd/tensor.hpp"

namespace xgrad::kernel {

/// t itself when contiguous, else a contiguous copy (nothing recorded): for kernels that
/// read packed data. Keep the result in a named local while using its data_ptr.
Tensor packed(const Tensor& t);

/// Strides of t's elements read as if t were broadcast to `out` (t's own strides, 0 on
/// broadcast dims).
std::vector<std::int64_t> broadcast_strides(const Tensor& t, const Shape& out);

/// Like broadcast_rows, but every operand (the output included, if any) brings its own
/// strides against `shape`: f(offsets[k], inner_len, inner_strides[k]) for each row of the
/// last dim, rows in row-major order. Parallel over rows above kGrain elements (the writes
/// of different rows must not overlap).
template <std::size_t K, class F>
void strided_rows(const Shape& shape, const std::array<std::vector<std::int64_t>, K>& strides, F&& f) {
  const std::int64_t nd = static_cast<std::int64_t>(shape.size());
  const std::int64_t inner = nd == 0 ? 1 : shape.back();
  const std::int64_t total = shape_numel(shape);
  if (total == 0) return;
  const std::int64_t rows = total / inner;
  std::array<std::int64_t, K> inner_stride{};
  for (std::size_t k = 0; k < K; ++k) inner_stride[k] = nd == 0 ? 0 : strides[k][nd - 1];
  auto run = [&](std::int64_t r0, std::int64_t r1) {
    std::vector<std::int64_t> idx(static_cast<std::size_t>(std::max<std::int64_t>(nd - 1, 0)));
    std::int64_t rem = r0;
    for (std::int64_t d = nd - 2; d >= 0; --d) {
      idx[d] = rem % shape[d];
      rem /= shape[d];
    }
    std::array<std::int64_t, K> off{};
    for (std::size_t k = 0; k < K; ++k)
      for (std::int64_t d = 0; d < nd - 1; ++d) off[k] += idx[d] * strides[k][d];
    for (std::int64_t r = r0; r < r1; ++r) {
      f(off, inner, inner_stride);
      for (std::int64_t d = nd - 2; d >= 0; --d) {
        ++idx[d];
        for (std::size_t k = 0; k < K; ++k) off[k] += strides[k][d];
        if (idx[d] < shape[d]) break;
        for (std::size_t k = 0; k < K; ++k) off[k] -= idx[d] * strides[k][d];
        idx[d] = 0;
      }
    }
  };
  const std::int64_t grain_rows = std::max<std::int64_t>(1, kGrain / std::max<std::int64_t>(inner, 1));
  parallel_for(rows, grain_rows, run);
}

/// out[i] = f(a[i]); a and out have the same shape and any strides (out's must not
/// overlap). Contiguous operands take a flat loop (inline below kGrain).
template <class T, class R, class F>
void unary_kernel(const Tensor& a, const Tensor& out, F f) {
  const T* pa = a.strided_data_ptr<T>();
  R* po = out.strided_data_ptr<R>();
  if (a.is_contiguous() && out.is_contiguous()) {
    parallel_for(a.numel(), kGrain, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i) po[i] = f(pa[i]);
    });
    return;
  }
  std::array<std::vector<std::int64_t>, 2> st{out.strides(), broadcast_strides(a, out.shape())};
  strided_rows<2>(out.shape(), st, [&](const std::array<std::int64_t, 2>& off, std::int64_t len,
                                      const std::array<std::int64_t, 2>& is) {
    for (std::int64_t j = 0; j < len; ++j) po[off[0] + j * is[0]] = f(pa[off[1] + j * is[1]]);
  });
}

/// out = f(a, b) with NumPy broadcasting; out must already have the broadcast shape. Any
/// strides (out's must not overlap); contiguous same-shape and scalar operands take flat
/// loops.
template <class T, class R, class F>
void binary_kernel(const Tensor& a, const Tensor& b, const Tensor& out, F f) {
  const T* pa = a.strided_data_ptr<T>();
  const T* pb = b.strided_data_ptr<T>();
  R* po = out.strided_data_ptr<R>();
  const Shape& os = out.shape();
  const std::int64_t n = out.numel();
  const bool ca = a.is_contiguous(), cb = b.is_contiguous();
  // An operand whose strides are all 0 (a scalar, or the expanded gradient of a sum) is read once.
  auto scalar_like = [](const Tensor& t) {
    return t.numel() == 1 || std::all_of(t.strides().begin(), t.strides().end(), [](std::int64_t s) { return s == 0; });
  };
  if (out.is_contiguous()) {
    if (ca && cb && a.shape() == os && b.shape() == os) {
      parallel_for(n, kGrain, [&](std::int64_t s, std::int64_t e) {
        for (std::int64_t i = s; i < e; ++i) po[i] = f(pa[i], pb[i]);
      });
      return;
    }
    if (ca && a.numel() == n && scalar_like(b)) {
      const T sb = pb[0];
      parallel_for(n, kGrain, [&](std::int64_t s, std::int64_t e) {
        for (std::int64_t i = s; i < e; ++i) po[i] = f(pa[i], sb);
      });
      return;
    }
    if (cb && b.numel() == n && scalar_like(a)) {
      const T sa = pa[0];
      parallel_for(n, kGrain, [&](std::int64_t s, std::int64_t e) {
        for (std::int64_t i = s; i < e; ++i) po[i] = f(sa, pb[i]);
      });
      return;
    }
  }
  std::array<std::vector<std::int64_t>, 3> st{out.strides(), broadcast_strides(a, os), broadcast_strides(b, os)};
  strided_rows<3>(os, st, [&](const std::array<std::int64_t, 3>& off, std::int64_t len,
                              const std::array<std::int64_t, 3>& is) {
    if (is[0] == 1 && is[1] == 1 && is[2] == 1) {
      for (std::int64_t j = 0; j < len; ++j) po[off[0] + j] = f(pa[off[1] + j], pb[off[2] + j]);
    } else {
      for (std::int64_t j = 0; j < len; ++j)
        po[off[0] + j * is[0]] = f(pa[off[1] + j * is[1]], pb[off[2] + j * is[2]]);
    }
  });
}

}  // namespace xgrad::kernel
