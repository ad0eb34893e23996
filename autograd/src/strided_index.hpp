// Index arithmetic shared by the gather/scatter family (shape_index.cpp, scatter.cpp): flat
// positions of a sub-shape to strided offsets, and the (pre, post) column loop those ops
// split across tasks. Private; not installed.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernel.hpp"

namespace xgrad::detail {

/// Product of shape[b, e).
inline std::int64_t prod(const Shape& s, std::size_t b, std::size_t e) {
  std::int64_t n = 1;
  for (std::size_t i = b; i < e; ++i) n *= s[i];
  return n;
}

/// Offset, in a tensor with strides `st`, of flat position `flat` of the sub-shape
/// shape[b, e) (row-major).
inline std::int64_t offset_of(std::int64_t flat, const Shape& shape, const std::vector<std::int64_t>& st,
                              std::size_t b, std::size_t e) {
  std::int64_t off = 0;
  for (std::size_t d = e; d-- > b;) {
    off += (flat % shape[d]) * st[d];
    flat /= shape[d];
  }
  return off;
}

/// Offsets of every flat position of shape[b, e) in a tensor with strides `st`.
inline std::vector<std::int64_t> offset_table(const Shape& shape, const std::vector<std::int64_t>& st,
                                              std::size_t b, std::size_t e) {
  std::vector<std::int64_t> t(static_cast<std::size_t>(prod(shape, b, e)));
  for (std::size_t q = 0; q < t.size(); ++q) t[q] = offset_of(static_cast<std::int64_t>(q), shape, st, b, e);
  return t;
}

/// f(p, q0, q1) for the columns (p, q) of [0, pre) x [0, post), split across tasks (each call
/// covers a run of q within one p; a column is never split). `m` is the work per column.
template <class F>
void for_columns(std::int64_t pre, std::int64_t post, std::int64_t m, const F& f) {
  parallel_for(pre * post, grain_for(m), [&](std::int64_t c0, std::int64_t c1) {
    while (c0 < c1) {
      const std::int64_t p = c0 / post, q0 = c0 % post;
      const std::int64_t q1 = std::min(post, q0 + (c1 - c0));
      f(p, q0, q1);
      c0 += q1 - q0;
    }
  });
}

}  // namespace xgrad::detail
