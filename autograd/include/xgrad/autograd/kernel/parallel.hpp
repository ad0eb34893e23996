// Kernel layer (detail: no stable API): the one grain policy and deterministic reductions.
//
// Grain policy. A loop over n items runs inline on the calling thread when n <= grain (a
// 4-element op must not pay for task scheduling) and is split across oneTBB tasks above it,
// never into ranges shorter than about grain / 2 (tbb::blocked_range halves a range only while
// it is longer than the grain). The default grain, kGrain, is counted in elements of an element-wise
// op; a loop whose items are heavier (a row of w elements, a column block) passes
// grain_for(w), so that every task still holds about kGrain elements of work.
//
// Determinism (DESIGN.md §4). parallel_for suits loops whose items are computed
// independently: the split changes which thread computes an item, never its value. A loop
// that combines items (a sum, a norm) goes through chunked_reduce, whose chunks are fixed by
// n alone; results are then bit-identical at every thread count.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

namespace xgrad::kernel {

/// Items (elements of an element-wise op) at or below which a loop runs inline, and the
/// least a TBB task holds above it.
inline constexpr std::int64_t kGrain = 32768;

/// Elements per chunk of chunked_reduce. Part of the numerical contract, not a tuning knob:
/// changing it changes the order of the additions, hence the last bits of every large sum.
inline constexpr std::int64_t kReduceChunk = 16384;

/// The grain, in items, of a loop whose items each do about `work_per_item` elements of
/// work: kGrain / work_per_item, at least 1.
constexpr std::int64_t grain_for(std::int64_t work_per_item) {
  return std::max<std::int64_t>(1, kGrain / std::max<std::int64_t>(work_per_item, 1));
}

/// f(begin, end) over [0, n): one call f(0, n) on the calling thread when 0 < n <= grain,
/// else calls over disjoint ranges covering [0, n) on TBB tasks (ranges are split while they
/// hold more than `grain` items). Nothing for n <= 0. grain must be >= 1.
template <class F>
void parallel_for(std::int64_t n, std::int64_t grain, F&& f) {
  if (n <= grain) {
    if (n > 0) f(std::int64_t{0}, n);
    return;
  }
  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, n, static_cast<std::size_t>(grain)),
                    [&](const tbb::blocked_range<std::int64_t>& r) { f(r.begin(), r.end()); });
}

/// parallel_for with the default grain, kGrain (element-wise loops).
template <class F>
void parallel_for(std::int64_t n, F&& f) {
  parallel_for(n, kGrain, f);
}

/// Deterministic reduction of [0, n): chunk(begin, end) -> Acc over the fixed chunks
/// [c kReduceChunk, (c + 1) kReduceChunk), which may run in parallel, then
/// combine(... combine(combine(init, p0), p1) ..., p_last) left to right on the calling thread.
/// The chunks depend on n only, so the result is the same at every thread count. Returns init
/// for n <= 0.
template <class Acc, class Chunk, class Combine>
Acc chunked_reduce(std::int64_t n, Acc init, Chunk&& chunk, Combine&& combine) {
  if (n <= kReduceChunk) return n > 0 ? combine(init, chunk(std::int64_t{0}, n)) : init;
  const std::int64_t nchunks = (n + kReduceChunk - 1) / kReduceChunk;
  std::vector<Acc> partial(static_cast<std::size_t>(nchunks));
  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, nchunks, 1), [&](const tbb::blocked_range<std::int64_t>& r) {
    for (std::int64_t c = r.begin(); c < r.end(); ++c)
      partial[static_cast<std::size_t>(c)] = chunk(c * kReduceChunk, std::min(n, (c + 1) * kReduceChunk));
  });
  Acc acc = init;
  for (const Acc& p : partial) acc = combine(acc, p);
  return acc;
}

}  // namespace xgrad::kernel
