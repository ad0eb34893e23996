// The compiled side of kernel/parallel.hpp: the calls of tbb::parallel_for and tbb::task_group.
// The ThreadSanitizer build compiles this file without instrumentation (top-level
// CMakeLists.txt), so that TBB's header code is as opaque to TSan as libtbb itself
// (parallel.hpp says why).
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/task_group.h>

#include "xgrad/autograd/kernel/parallel.hpp"

namespace xgrad::kernel {

void tbb_for_ranges(std::int64_t n, std::int64_t grain, RangeFn fn, void* ctx) {
  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, n, static_cast<std::size_t>(grain)),
                    [fn, ctx](const tbb::blocked_range<std::int64_t>& r) { fn(ctx, r.begin(), r.end()); });
}

struct TaskGroup::Impl {
  tbb::task_group group;
};

TaskGroup::TaskGroup() : impl_(new Impl) {}

void TaskGroup::close_erased() noexcept {
  try {
    impl_->group.wait();
  } catch (...) {  // NOLINT: the owner is being destroyed; nobody to report it to
  }
  delete impl_;
}

void TaskGroup::run_erased(void (*fn)(void*), void* ctx) {
  impl_->group.run([fn, ctx] { fn(ctx); });
}

void TaskGroup::wait_erased() { impl_->group.wait(); }

}  // namespace xgrad::kernel
