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
//
// Background tasks. TaskGroup runs a function on a TBB task while the caller goes on (the
// DataLoader's prefetch); wait() joins it.
//
// ThreadSanitizer. Debian's libtbb is not instrumented, so TSan sees neither its memory
// accesses nor the happens-before edges it creates: from the caller, before it spawns tasks, to
// each task's body on a worker thread, and from each body to the caller once the loop returns.
// TBB's header templates would be instrumented, though, and their task objects, handed between
// threads inside libtbb, would be reported as races, as would every hand-over of data through a
// task in xgrad's own code. So the TBB calls live in one compiled file,
// autograd/src/parallel_tbb.cpp, behind plain function pointers (one indirect call per range or
// task), and the TSan build compiles that file without instrumentation: TBB is then a black box
// to TSan, like libtbb itself. The edges are stated here instead, under __SANITIZE_THREAD__:
// tsan::release before the tasks start and tsan::acquire at the start of each body,
// tsan::release at the end of each body and tsan::acquire after the join. Two tokens per call,
// so that bodies do not become ordered among themselves: real races between concurrent tasks
// are still reported. A body finds its tokens by address arithmetic only (it reads nothing
// before its acquire). Without TSan the annotations compile to nothing.
#pragma once

#include <algorithm>
#include <cstddef>
#include <atomic>
#include <cstdint>
#include <exception>
#include <memory>
#include <utility>
#include <vector>

#if defined(__SANITIZE_THREAD__)
// ThreadSanitizer's annotation interface (libtsan; GCC installs no header for it).
extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);
#endif

namespace xgrad::kernel {

namespace tsan {

/// Under ThreadSanitizer: what the calling thread did so far happens before whatever a later
/// acquire(token) on any thread does next. Nothing otherwise.
inline void release([[maybe_unused]] void* token) {
#if defined(__SANITIZE_THREAD__)
  __tsan_release(token);
#endif
}

/// Under ThreadSanitizer: every release(token) so far happens before what the calling thread
/// does next. Nothing otherwise.
inline void acquire([[maybe_unused]] void* token) {
#if defined(__SANITIZE_THREAD__)
  __tsan_acquire(token);
#endif
}

/// The edges of one fork/join (see the file comment): constructed by the caller before it
/// spawns the tasks, destroyed after it has joined them (also when a task threw); each task
/// body holds a Task for its whole run.
class ForkJoin {
 public:
  ForkJoin() { release(&fork_); }
  ~ForkJoin() { acquire(&join_); }
  ForkJoin(const ForkJoin&) = delete;
  ForkJoin& operator=(const ForkJoin&) = delete;

  class Task {
   public:
    explicit Task(ForkJoin& fj) : fj_(fj) { acquire(&fj_.fork_); }
    ~Task() { release(&fj_.join_); }
    Task(const Task&) = delete;
    Task& operator=(const Task&) = delete;

   private:
    ForkJoin& fj_;
  };

 private:
  char fork_ = 0;
  char join_ = 0;
};

}  // namespace tsan

/// A loop body behind a plain function pointer: fn(ctx, begin, end).
using RangeFn = void (*)(void* ctx, std::int64_t begin, std::int64_t end);

/// tbb::parallel_for over tbb::blocked_range(0, n, grain) with the auto partitioner: fn(ctx,
/// begin, end) per range, on TBB tasks; returns when all have run and rethrows an exception a
/// body threw. No ThreadSanitizer edges (see the file comment): use tbb_parallel_for below.
void tbb_for_ranges(std::int64_t n, std::int64_t grain, RangeFn fn, void* ctx);

/// tbb_for_ranges with f(begin, end) as the body and the fork/join edges stated to
/// ThreadSanitizer. Use parallel_for (the grain policy) or chunked_reduce, which call it.
template <class F>
void tbb_parallel_for(std::int64_t n, std::int64_t grain, F& f) {
  struct Call {
    F& f;
    tsan::ForkJoin edges;
  } call{f, {}};
  tbb_for_ranges(
      n, grain,
      [](void* ctx, std::int64_t begin, std::int64_t end) {
        Call& c = *static_cast<Call*>(ctx);
        tsan::ForkJoin::Task task(c.edges);
        c.f(begin, end);
      },
      &call);
}

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
  tbb_parallel_for(n, grain, f);
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
  auto chunks = [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t c = begin; c < end; ++c)
      partial[static_cast<std::size_t>(c)] = chunk(c * kReduceChunk, std::min(n, (c + 1) * kReduceChunk));
  };
  tbb_parallel_for(nchunks, 1, chunks);
  Acc acc = init;
  for (const Acc& p : partial) acc = combine(acc, p);
  return acc;
}

/// Functions run on TBB tasks in the background (a tbb::task_group): run(f) starts f() and
/// returns at once; wait() blocks until every started function has returned, then rethrows the
/// first exception one of them threw (the others still run to their end). What the caller did
/// before run(f) happens before f; every f before what the caller does after wait() (also
/// stated to ThreadSanitizer). The destructor waits for functions still running and drops
/// their exceptions. One thread calls run() and wait(), as with tbb::task_group.
class TaskGroup {
 public:
  TaskGroup();
  ~TaskGroup() {
    close_erased();
    tsan::acquire(&join_);
  }
  TaskGroup(const TaskGroup&) = delete;
  TaskGroup& operator=(const TaskGroup&) = delete;

  template <class F>
  void run(F&& f) {
    auto* task = new Task<std::decay_t<F>>(std::forward<F>(f), *this);
    tsan::release(&task->fork);
    try {
      run_erased(&Task<std::decay_t<F>>::invoke, task);
    } catch (...) {
      delete task;
      throw;
    }
  }

  void wait() {
    {
      struct Joined {
        char& token;
        ~Joined() { tsan::acquire(&token); }
      } joined{join_};
      wait_erased();
    }
    failed_.store(false, std::memory_order_relaxed);
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
  }

 private:
  template <class F>
  struct Task {
    Task(F&& fn, TaskGroup& g) : f(std::move(fn)), group(g) {}
    Task(const F& fn, TaskGroup& g) : f(fn), group(g) {}
    F f;
    TaskGroup& group;
    char fork = 0;

    // Exceptions stay here: one escaping into TBB would cancel the tasks not yet started, and
    // their Task objects would leak.
    static void invoke(void* ctx) noexcept {
      auto* t = static_cast<Task*>(ctx);
      tsan::acquire(&t->fork);
      TaskGroup& g = t->group;
      try {
        std::unique_ptr<Task> owned(t);
        owned->f();
      } catch (...) {
        if (!g.failed_.exchange(true)) g.error_ = std::current_exception();
      }
      tsan::release(&g.join_);
    }
  };

  void run_erased(void (*fn)(void*), void* ctx);  // tbb::task_group::run([=] { fn(ctx); })
  void wait_erased();                              // tbb::task_group::wait()
  void close_erased() noexcept;                    // wait, dropping exceptions; free the group

  struct Impl;
  Impl* impl_;
  std::atomic<bool> failed_{false};  // an exception was stored in error_
  std::exception_ptr error_;
  char join_ = 0;
};

}  // namespace xgrad::kernel
