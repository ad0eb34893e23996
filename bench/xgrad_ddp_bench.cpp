// ddp_mlp_step: the mlp_step workload of xgrad_bench (784-512-256-10 ReLU MLP with the shared
// initial weights, Adam lr 1e-3, zero_grad + forward + cross-entropy + backward + step) trained
// data-parallel over MPI: the global batch of 128 rows (mlp_step's inputs) is split over the
// R ranks, rank r taking rows [r * 128 / R, (r + 1) * 128 / R), and DistributedDataParallel
// averages the gradients. A standalone MPI program (the xgrad_bench driver starts one process
// per workload and cannot start an MPI job):
//
//   mpirun -np R ./build/bench/xgrad_ddp_bench --threads T --steps N [--bucket-mb B]
//
// Every rank runs --warmup untimed steps, then --steps timed ones, and records per step: the
// step's wall time, its phases (forward, backward, optimizer step), and DDP's GradSyncStats:
// `communication`, the span from the start of the first bucket's all-reduce to the completion
// of the last, and `exposed`, the part of it spent blocked after the last gradient was
// produced. communication - exposed ran while backward was still computing: hidden. Then the
// same steps under no_sync() (no communication; each rank at its own pace) give the compute
// time of a step while R ranks share the machine. Last, a pure all-reduce (blocking, after a
// barrier) of the whole gradient's size and of one float measures bandwidth and latency
// without compute: the inputs of the scaling model of README.md "Distributed training".
//
// Rank 0 prints the medians over steps (per rank, and the maximum over ranks: a data-parallel
// step is as slow as its slowest rank), then one harness line:
//   ddp_mlp_step xgrad=<median step ms> ranks=R threads=T compute=<ms> comm=<ms> exposed=<ms>
//                hidden=<0..1> allreduce_pure=<ms> allreduce_1float_us=<us> unit=ms
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "bench_common.hpp"
#include "xgrad/distributed/collectives.hpp"
#include "xgrad/distributed/ddp.hpp"
#include "xgrad/distributed/environment.hpp"
#include "xgrad/xgrad.hpp"

namespace dist = xgrad::distributed;
namespace nn = xgrad::nn;
namespace optim = xgrad::optim;
using xgrad::Tensor;

namespace {

using Clock = std::chrono::steady_clock;

double seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double sum(const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0); }

/// mlp_step's model: 784-512-256-10 ReLU with the shared initial weights (bench::linear_init).
std::shared_ptr<nn::Sequential> make_mlp() {
  auto l1 = std::make_shared<nn::Linear>(bench::kMlpIn, bench::kMlpH1);
  auto l2 = std::make_shared<nn::Linear>(bench::kMlpH1, bench::kMlpH2);
  auto l3 = std::make_shared<nn::Linear>(bench::kMlpH2, bench::kMlpOut);
  std::uint64_t seed = 100;
  {
    xgrad::NoGradGuard no_grad;
    for (const auto& l : {l1, l2, l3}) {
      const auto init = bench::linear_init(l->options().in_features_, l->options().out_features_, seed);
      seed += 2;
      l->weight.copy_(xgrad::from_vector(init.weight, l->weight.shape()));
      l->bias.copy_(xgrad::from_vector(init.bias, l->bias.shape()));
    }
  }
  return std::make_shared<nn::Sequential>(l1, std::make_shared<nn::ReLU>(), l2, std::make_shared<nn::ReLU>(), l3);
}

/// Per-step measurements of one rank, in seconds.
struct Samples {
  std::vector<double> step, forward, backward, optimizer, comm, exposed;
};

/// One value per rank, in rank order (on every rank).
std::vector<double> gather(double value) {
  return dist::all_gather_into_tensor(xgrad::from_vector(std::vector<double>{value}, {1})).to_vector<double>();
}

/// Median seconds of a blocking all_reduce (sum) of `numel` floats, each call after a barrier
/// so that it starts together on every rank: pure communication, no compute to hide behind.
double allreduce_seconds(std::int64_t numel, int repeats) {
  Tensor t = xgrad::ones({numel});
  std::vector<double> times;
  for (int i = 0; i < repeats + 2; ++i) {
    dist::barrier();
    const auto t0 = Clock::now();
    dist::all_reduce(t);
    const double dt = seconds(t0, Clock::now());
    if (i >= 2) times.push_back(dt);  // the first two set up MPI's buffers
  }
  return gather(median(times))[0];  // rank 0's
}

}  // namespace

int main(int argc, char** argv) {
  dist::Environment env(argc, argv);
  int threads = 1, steps = 200, warmup = 20, global_batch = static_cast<int>(bench::kMlpBatch), repeats = 50;
  double bucket_mb = 25.0;
  CLI::App app{"ddp_mlp_step: mlp_step trained data-parallel over MPI (run under mpirun -np R)"};
  app.add_option("--threads", threads, "kernel threads per rank")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--steps", steps, "timed steps")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--warmup", warmup, "untimed steps first")->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--global-batch", global_batch, "rows per step over all ranks (mlp_step: 128)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--bucket-mb", bucket_mb, "DDP gradient bucket size in MiB")->capture_default_str();
  app.add_option("--allreduce-repeats", repeats, "timed calls of the pure all-reduce measurement")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return dist::rank() == 0 ? app.exit(e) : e.get_exit_code();
  }

  try {
    const int world = dist::world_size(), rank = dist::rank();
    if (global_batch % world != 0)
      throw xgrad::Error(fmt::format("--global-batch {} is not divisible by the {} ranks", global_batch, world));
    xgrad::set_num_threads(threads);
    const std::int64_t local = global_batch / world;

    // mlp_step's data: x [128, 784] uniform in [-1, 1) (seed 7), labels seed 8; this rank's rows.
    const Tensor x_all =
        xgrad::from_vector(bench::uniform_floats(static_cast<std::size_t>(global_batch * bench::kMlpIn), 7, -1, 1),
                           {global_batch, bench::kMlpIn});
    const Tensor y_all = xgrad::from_vector(bench::labels(static_cast<std::size_t>(global_batch), bench::kMlpOut, 8),
                                            xgrad::Shape{global_batch});
    const Tensor x = x_all.narrow(0, rank * local, local).contiguous();
    const Tensor y = y_all.narrow(0, rank * local, local).contiguous();

    auto model = make_mlp();
    auto ddp = std::make_shared<dist::DistributedDataParallel>(
        model, dist::DistributedDataParallelOptions().bucket_cap_mb(bucket_mb));
    optim::Adam opt(ddp->parameters(), optim::AdamOptions(bench::kLr));

    Samples s;
    dist::GradSyncStats last;
    auto step = [&](bool record) {
      const auto t0 = Clock::now();
      opt.zero_grad();
      const Tensor loss = nn::functional::cross_entropy(ddp->forward(x), y);
      const auto t1 = Clock::now();
      loss.backward();  // DDP's all-reduces start from its hooks and are waited on before it returns
      ddp->synchronize();
      const auto t2 = Clock::now();
      opt.step();
      const auto t3 = Clock::now();
      last = ddp->last_sync_stats();
      if (!record) return;
      s.step.push_back(seconds(t0, t3));
      s.forward.push_back(seconds(t0, t1));
      s.backward.push_back(seconds(t1, t2));
      s.optimizer.push_back(seconds(t2, t3));
      s.comm.push_back(last.communication);
      s.exposed.push_back(last.exposed);
    };
    for (int i = 0; i < warmup; ++i) step(false);
    dist::barrier();
    const auto start = Clock::now();
    for (int i = 0; i < steps; ++i) step(true);
    const double wall = seconds(start, Clock::now()) / steps;  // includes the ranks' waits for each other

    // The same steps without communication (under no_sync: gradients stay local, each rank runs
    // at its own pace): the compute time of a step with R ranks sharing the machine.
    std::vector<double> local_steps;
    {
      auto no_sync = ddp->no_sync();
      for (int i = 0; i < steps; ++i) {
        const auto t0 = Clock::now();
        opt.zero_grad();
        nn::functional::cross_entropy(ddp->forward(x), y).backward();
        opt.step();
        local_steps.push_back(seconds(t0, Clock::now()));
      }
    }
    dist::barrier();

    const std::int64_t numel = model->num_parameters();
    const double ar_full = allreduce_seconds(numel, repeats);
    const double ar_one = allreduce_seconds(1, repeats);

    // Gathered per rank: medians of the step and its phases, and communication totals (with 1
    // rank the all-reduce is a no-op: nothing hidden).
    const std::vector<double> step_ms = gather(1e3 * median(s.step)), fwd_ms = gather(1e3 * median(s.forward)),
                              bwd_ms = gather(1e3 * median(s.backward)), opt_ms = gather(1e3 * median(s.optimizer)),
                              comm_ms = gather(1e3 * median(s.comm)), exposed_ms = gather(1e3 * median(s.exposed)),
                              hidden = gather(world > 1 && sum(s.comm) > 0 ? 1.0 - sum(s.exposed) / sum(s.comm) : 0.0),
                              wall_ms = gather(1e3 * wall), local_ms = gather(1e3 * median(local_steps));
    if (rank == 0) {
      const auto buckets = ddp->bucket_parameter_names();
      fmt::print(
          "ddp_mlp_step: {} ranks x {} threads, global batch {} ({} rows per rank), bucket_cap_mb {}: {} "
          "bucket(s), {} bytes all-reduced per step; {} timed steps after {} warm-up\n",
          world, threads, global_batch, local, bucket_mb, buckets.size(), last.bytes, steps, warmup);
      for (std::size_t b = 0; b < buckets.size(); ++b) fmt::print("  bucket {}: {}\n", b, fmt::join(buckets[b], ", "));
      fmt::print("{:>4}  {:>9}  {:>9}  {:>9}  {:>9}  {:>10}  {:>10}  {:>6}  {:>10}  {:>13}\n", "rank", "step ms",
                 "forward", "backward", "adam", "allreduce", "exposed", "hidden", "wall/step", "no_sync step");
      for (int r = 0; r < world; ++r)
        fmt::print("{:>4}  {:9.3f}  {:9.3f}  {:9.3f}  {:9.3f}  {:10.3f}  {:10.3f}  {:5.0f}%  {:10.3f}  {:13.3f}\n", r,
                   step_ms[r], fwd_ms[r], bwd_ms[r], opt_ms[r], comm_ms[r], exposed_ms[r], 100.0 * hidden[r],
                   wall_ms[r], local_ms[r]);
      auto max_of = [](const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); };
      const double step_max = max_of(step_ms), comm_max = max_of(comm_ms), exposed_max = max_of(exposed_ms);
      const double hidden_mean = sum(hidden) / world;
      fmt::print(
          "pure all_reduce (after a barrier, median of {}): {} floats ({} bytes) {:.3f} ms = {:.2f} GB/s "
          "bus bandwidth; 1 float {:.1f} us\n",
          repeats, numel, 4 * numel, 1e3 * ar_full,
          world > 1 ? 2.0 * (world - 1) / world * 4.0 * static_cast<double>(numel) / ar_full / 1e9 : 0.0, 1e6 * ar_one);
      const double compute = max_of(local_ms);
      fmt::print(
          "compute per step (no_sync steps, slowest rank): {:.3f} ms; the synchronised step takes {:.3f} ms "
          "more (communication not hidden, and waiting for the slowest rank)\n",
          compute, step_max - compute);
      fmt::print(
          "ddp_mlp_step xgrad={:.3f} ranks={} threads={} compute={:.3f} comm={:.3f} exposed={:.3f} hidden={:.2f} "
          "allreduce_pure={:.3f} allreduce_1float_us={:.1f} unit=ms\n",
          step_max, world, threads, compute, comm_max, exposed_max, hidden_mean, 1e3 * ar_full, 1e6 * ar_one);
      std::fflush(stdout);
    }
  } catch (const std::exception& e) {
    if (dist::world_size() > 1) dist::abort_job(fmt::format("xgrad_ddp_bench: {}", e.what()));
    fmt::print(stderr, "xgrad_ddp_bench: {}\n", e.what());
    return 1;
  }
  return 0;
}
