// The profiler's overhead line (issue 16; run by `xgrad_bench --worker NAME ...` through
// run_xgrad_worker). xgrad only (a libtorch profiler run measures libtorch's profiler):
//   tiny_graph_profiled  tiny_graph (xgrad_workloads.cpp: grads of x, w, b reset,
//                        `(x*w+b).tanh().mul(x).sum()` + backward, 4 elements) with one
//                        profiler::Profiler (default options: shapes, memory, FLOPs) recording
//                        over the whole worker run, warm-up included.
// Against tiny_graph it gives the cost of recording (about 12 events per step); the cost of
// the hooks while no profiler records is tiny_graph itself (compare with a build before
// issue 16).
#include <string>

#include "bench_common.hpp"
#include "xgrad/xgrad.hpp"
#include "xgrad_worker.hpp"

using xgrad::Tensor;

namespace {

Tensor tiny_leaf(std::uint64_t seed) {
  return xgrad::from_vector(bench::uniform_floats(static_cast<std::size_t>(bench::kTinyN), seed, -1, 1),
                            {bench::kTinyN}, true);
}

void tiny_graph_profiled(const bench::WorkerArgs& a) {
  Tensor x = tiny_leaf(1), w = tiny_leaf(2), b = tiny_leaf(3);
  xgrad::profiler::Profiler prof;
  bench::time_loop(a, [&] {
    for (const Tensor* t : {&x, &w, &b}) t->set_grad(Tensor());
    (x * w + b).tanh().mul(x).sum().backward();
  });
  prof.stop();
  std::printf("note %zu events recorded\n", prof.events().size());
}

}  // namespace

/// Runs `a.workload` if it is one of the profiler workloads, else returns false.
bool run_xgrad_profiler_workload(const bench::WorkerArgs& a);
bool run_xgrad_profiler_workload(const bench::WorkerArgs& a) {
  if (a.workload != "tiny_graph_profiled") return false;
  tiny_graph_profiled(a);
  return true;
}
