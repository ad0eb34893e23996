#include "xgrad/autograd/threading.hpp"

#include <dlfcn.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>

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

// OpenBLAS must never use its own pool: every parallel region is a TBB task and BLAS is
// called single-threaded inside it (oversubscription otherwise). Runs when the library loads.
// By then OpenBLAS has already started its pool (one thread per core), whose threads spin on
// sched_yield for about 0.1 s before they sleep: on a 2-core machine that stole the second
// core from TBB at the start of every process. Its own shutdown call joins them; they are
// only restarted if someone raises OpenBLAS's thread count again.
struct OpenBlasSingleThread {
  OpenBlasSingleThread() {
    if (openblas_get_num_threads() != 1) openblas_set_num_threads(1);
    using Fn = int (*)();
    if (auto shutdown = reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, "blas_thread_shutdown_"))) shutdown();
  }
} g_openblas_single_thread;

bool g_blas_core_switched = false;

// OpenBLAS 0.3.21 (Debian 12) does not know recent Intel models (Emerald Rapids, family 6
// model 0xCF, among them) and falls back to its SSE3 "Prescott" kernels, 3-4x slower than
// its AVX-512 ones. On such a CPU, rerun OpenBLAS's own core selection of its DYNAMIC_ARCH
// build, asking for SkylakeX, the AVX-512 core whose instructions the CPU does have. The
// symbols are looked up at run time: a BLAS without them is left as it is. Runs when the
// library loads, before any BLAS call.
struct OpenBlasCoreFix {
  OpenBlasCoreFix() {
    if (std::getenv("OPENBLAS_CORETYPE") != nullptr) return;
    if (const char* keep = std::getenv("XGRAD_OPENBLAS_CORETYPE"); keep != nullptr && std::strcmp(keep, "keep") == 0)
      return;
    const char* core = openblas_get_corename();
    if (core == nullptr || std::strcmp(core, "Prescott") != 0) return;
    __builtin_cpu_init();
    if (!(__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
          __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
          __builtin_cpu_supports("avx512vl")))
      return;
    using Fn = void (*)();
    auto init = reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, "gotoblas_dynamic_init"));
    auto quit = reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, "gotoblas_dynamic_quit"));
    if (init == nullptr || quit == nullptr) return;
    // gotoblas_dynamic_init reads OPENBLAS_CORETYPE; it is set only for this call.
    setenv("OPENBLAS_CORETYPE", "SkylakeX", 1);
    quit();
    init();
    unsetenv("OPENBLAS_CORETYPE");
    g_blas_core_switched = std::strcmp(openblas_get_corename(), "Prescott") != 0;
  }
} g_openblas_core_fix;

}  // namespace

void set_num_threads(int n) {
  if (n < 1) throw Error(fmt::format("set_num_threads: expected a thread count >= 1, got {}", n));
  std::lock_guard<std::mutex> lock(g_mutex);
  g_control.reset();
  g_control = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism,
                                                    static_cast<std::size_t>(n));
  g_threads = n;
}

std::string blas_core() {
  const char* core = openblas_get_corename();
  return core != nullptr ? core : "unknown";
}

bool blas_core_replaced() { return g_blas_core_switched; }

int get_num_threads() {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_threads > 0) return g_threads;
  return static_cast<int>(tbb::global_control::active_value(tbb::global_control::max_allowed_parallelism));
}

}  // namespace xgrad
