#include "xgrad/autograd/threading.hpp"

#include <cstdlib>
#include <memory>
#include <mutex>

#include <cblas.h>
#include <fmt/format.h>
#include <tbb/global_control.h>
#include <tbb/info.h>

#include "xgrad/autograd/dtype.hpp"

namespace xgrad {

namespace {

std::mutex g_mutex;
std::unique_ptr<tbb::global_control> g_control;
int g_threads = 0;

// OpenBLAS must never start its own pool: every parallel region is a TBB task and BLAS is
// called single-threaded inside it (oversubscription otherwise). Runs when the library loads.
struct OpenBlasSingleThread {
  OpenBlasSingleThread() {
    if (openblas_get_num_threads() != 1) openblas_set_num_threads(1);
  }
} g_openblas_single_thread;

}  // namespace

void set_num_threads(int n) {
  if (n < 1) throw Error(fmt::format("set_num_threads: expected a thread count >= 1, got {}", n));
  std::lock_guard<std::mutex> lock(g_mutex);
  g_control.reset();
  g_control = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism,
                                                    static_cast<std::size_t>(n));
  g_threads = n;
}

int get_num_threads() {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_threads > 0) return g_threads;
  return static_cast<int>(tbb::global_control::active_value(tbb::global_control::max_allowed_parallelism));
}

}  // namespace xgrad
