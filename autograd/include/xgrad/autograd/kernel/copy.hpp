// Copy of a strided box: the one kernel that moves elements between layouts (contiguous(),
// writes into views, cat, permuted copies). Rows that are contiguous on both sides are
// copied with std::copy; a permutation that moves the source's contiguous dim away from the
// innermost position is copied in tiles so that both sides stay in cache. Parallel above
// kGrain elements. detail: no stable API.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "xgrad/autograd/dtype.hpp"
#include "xgrad/autograd/kernel/parallel.hpp"

namespace xgrad::kernel {

inline constexpr std::int64_t kTile = 32;  // square tile edge of the blocked transpose

// One dimension of a box copy: its size and the strides (in elements) on both sides.
struct CopyDim {
  std::int64_t size, src, dst;
};

// Drops size-1 dims and merges neighbours that are contiguous on both sides, so a copy of
// whole rows becomes one long dim and can be done with std::copy.
inline std::vector<CopyDim> simplify(const Shape& box, const std::vector<std::int64_t>& src_st, const std::vector<std::int64_t>& dst_st) {
  std::vector<CopyDim> dims;
  for (std::size_t d = 0; d < box.size(); ++d) {
    if (box[d] == 1) continue;
    CopyDim c{box[d], src_st[d], dst_st[d]};
    if (!dims.empty() && dims.back().src == c.src * c.size && dims.back().dst == c.dst * c.size) {
      dims.back() = {dims.back().size * c.size, c.src, c.dst};
    } else {
      dims.push_back(c);
    }
  }
  return dims;
}

// Runs f(row, src_offset, dst_offset) for rows [r0, r1) of the outer dims `outer`
// (row-major), tracking both offsets with an odometer.
template <class F>
void for_rows(const std::vector<CopyDim>& outer, std::int64_t r0, std::int64_t r1, F&& f) {
  const std::size_t n = outer.size();
  std::vector<std::int64_t> idx(n);
  std::int64_t so = 0, d_o = 0, rem = r0;
  for (std::size_t d = n; d-- > 0;) {
    idx[d] = rem % outer[d].size;
    rem /= outer[d].size;
    so += idx[d] * outer[d].src;
    d_o += idx[d] * outer[d].dst;
  }
  for (std::int64_t r = r0; r < r1; ++r) {
    f(so, d_o);
    for (std::size_t d = n; d-- > 0;) {
      ++idx[d];
      so += outer[d].src;
      d_o += outer[d].dst;
      if (idx[d] < outer[d].size) break;
      so -= idx[d] * outer[d].src;
      d_o -= idx[d] * outer[d].dst;
      idx[d] = 0;
    }
  }
}

// dst[dst_off + sum_d i_d dst_st[d]] = src[src_off + sum_d i_d src_st[d]] for every index i of
// `box`. Contiguous inner rows are copied with std::copy; a permutation that moves the
// input's contiguous dim away from the innermost position is copied in kTile x kTile tiles
// so that both sides stay in cache. Parallel above kGrain elements.
template <class T>
void copy_box(const T* src, std::int64_t src_off, const std::vector<std::int64_t>& src_st, T* dst, std::int64_t dst_off, const std::vector<std::int64_t>& dst_st,
              const Shape& box) {
  const std::int64_t total = shape_numel(box);
  if (total == 0) return;
  std::vector<CopyDim> dims = simplify(box, src_st, dst_st);
  src += src_off;
  dst += dst_off;
  if (dims.empty()) {
    *dst = *src;
    return;
  }
  const CopyDim last = dims.back();
  // Tiled path: the innermost output dim is contiguous in dst but strided in src, and some
  // other dim k is contiguous in src.
  std::size_t k = dims.size();
  if (last.dst == 1 && last.src != 1 && last.size >= kTile)
    for (std::size_t d = 0; d + 1 < dims.size(); ++d)
      if (dims[d].src == 1 && dims[d].size >= kTile) k = d;
  if (k < dims.size()) {
    const CopyDim kd = dims[k];
    std::vector<CopyDim> outer;
    for (std::size_t d = 0; d + 1 < dims.size(); ++d)
      if (d != k) outer.push_back(dims[d]);
    std::int64_t n_outer = 1;
    for (const auto& c : outer) n_outer *= c.size;
    const std::int64_t k_tiles = (kd.size + kTile - 1) / kTile;
    const std::int64_t per_unit = kTile * last.size;
    parallel_for(n_outer * k_tiles, std::max<std::int64_t>(1, kGrain / per_unit),
                         [&](std::int64_t u0, std::int64_t u1) {
                           for (std::int64_t u = u0; u < u1; ++u) {
                             const std::int64_t row = u / k_tiles, kt = u % k_tiles;
                             for_rows(outer, row, row + 1, [&](std::int64_t so, std::int64_t d_o) {
                               const std::int64_t k0 = kt * kTile, k1 = std::min(kd.size, k0 + kTile);
                               for (std::int64_t l0 = 0; l0 < last.size; l0 += kTile) {
                                 const std::int64_t l1 = std::min(last.size, l0 + kTile);
                                 for (std::int64_t i = k0; i < k1; ++i)
                                   for (std::int64_t l = l0; l < l1; ++l)
                                     dst[d_o + i * kd.dst + l] = src[so + i + l * last.src];
                               }
                             });
                           }
                         });
    return;
  }
  std::vector<CopyDim> outer(dims.begin(), dims.end() - 1);
  const std::int64_t rows = total / last.size;
  parallel_for(rows, std::max<std::int64_t>(1, kGrain / last.size),
                       [&](std::int64_t r0, std::int64_t r1) {
                         for_rows(outer, r0, r1, [&](std::int64_t so, std::int64_t d_o) {
                           if (last.src == 1 && last.dst == 1) {
                             std::copy(src + so, src + so + last.size, dst + d_o);
                           } else {
                             for (std::int64_t j = 0; j < last.size; ++j)
                               dst[d_o + j * last.dst] = src[so + j * last.src];
                           }
                         });
                       });
}

}  // namespace xgrad::kernel
