// xgrad_bench: runs every workload on xgrad and on its libtorch twin (xgrad_bench_torch),
// interleaved (xgrad process, libtorch process, xgrad process, ... --repeat times per
// workload), both with the same thread count, and prints per workload exactly one line
//   <workload> xgrad=<median> libtorch=<median> ratio=<xgrad/libtorch> unit=<ms|us>
// then a human-readable table with the targets of issue 6 and the epoch_overhead of tutorial
// 06's loop (fashion_mlp_epoch / (batches x mlp_step)). Every measurement runs in a fresh
// child process (`<exe> --worker NAME ...`, protocol in bench_common.hpp), so the two
// frameworks never share a process (their BLAS / OpenMP / TBB pools would clash) and the
// driver's own state cannot disturb them.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iostream>
#include <limits>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "bench_common.hpp"
#include "xgrad/autograd/threading.hpp"
#include "xgrad_worker.hpp"

extern char** environ;

namespace fs = std::filesystem;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

namespace {

struct Options {
  int threads = 1;
  std::string filter = ".*";
  int repeat = 3;
  bool smoke = false;
  std::string twin;  // empty: next to this executable, then the configured path; "none": off
  std::string data = "/usr/share/datasets/fashion-mnist";
  int rss_steps = 1000;
};

/// What one worker process reported.
struct ChildResult {
  bool ok = false;
  std::string error;
  std::vector<double> samples;  // seconds per iteration
  std::vector<double> refs;     // matmul_1024: raw single-thread sgemm seconds
  std::vector<std::pair<int, long>> rss;  // (step, KiB)
  long hwm_kib = -1;
  long rss_base_kib = -1;  // sdpa_long: RSS before the first iteration
  int batches = 0;  // fashion_mlp_epoch: batches in a timed epoch
  long heap_peak_kib = -1;  // checkpoint_mlp32*: peak heap growth of one step (mallinfo2)
  long heap_fwd_kib = -1;   // checkpoint_mlp32*: heap growth at the end of the step's forward
};

std::string self_exe() {
  std::error_code ec;
  auto p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : p.string();
}

bool is_executable(const std::string& p) { return !p.empty() && ::access(p.c_str(), X_OK) == 0; }

std::string find_twin(const Options& o, const std::string& self) {
  if (o.twin == "none") return {};
  if (!o.twin.empty()) return is_executable(o.twin) ? o.twin : std::string();
  if (!self.empty()) {
    const auto next = (fs::path(self).parent_path() / "xgrad_bench_torch").string();
    if (is_executable(next)) return next;
  }
#ifdef XGRAD_BENCH_TWIN
  if (is_executable(XGRAD_BENCH_TWIN)) return XGRAD_BENCH_TWIN;
#endif
  return {};
}

/// Runs `exe args...` with OPENBLAS_NUM_THREADS / OMP_NUM_THREADS / MKL_NUM_THREADS = threads
/// and collects the protocol lines of its stdout (its stderr passes through).
ChildResult run_child(const std::string& exe, const std::vector<std::string>& args, int threads) {
  ChildResult r;
  std::vector<std::string> env_store;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view kv(*e);
    if (kv.starts_with("OPENBLAS_NUM_THREADS=") || kv.starts_with("OMP_NUM_THREADS=") ||
        kv.starts_with("MKL_NUM_THREADS="))
      continue;
    env_store.emplace_back(kv);
  }
  for (const char* k : {"OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"})
    env_store.push_back(fmt::format("{}={}", k, threads));
  std::vector<char*> envp, argv;
  for (auto& s : env_store) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> arg_store{exe};
  arg_store.insert(arg_store.end(), args.begin(), args.end());
  for (auto& s : arg_store) argv.push_back(s.data());
  argv.push_back(nullptr);

  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    r.error = fmt::format("pipe: {}", std::strerror(errno));
    return r;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, exe.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    r.error = fmt::format("cannot start {}: {}", exe, std::strerror(rc));
    return r;
  }
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n > 0) out.append(buf, static_cast<std::size_t>(n));
    else if (n == 0 || errno != EINTR) break;
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }

  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream in(line);
    std::string key;
    in >> key;
    if (key == "sample") {
      double v = 0;
      if (in >> v) r.samples.push_back(v);
    } else if (key == "ref") {
      double v = 0;
      if (in >> v) r.refs.push_back(v);
    } else if (key == "rss_kib") {
      int step = 0;
      long kib = 0;
      if (in >> step >> kib) r.rss.emplace_back(step, kib);
    } else if (key == "hwm_kib") {
      in >> r.hwm_kib;
    } else if (key == "rss_base_kib") {
      in >> r.rss_base_kib;
    } else if (key == "batches") {
      in >> r.batches;
    } else if (key == "heap_peak_kib") {
      in >> r.heap_peak_kib;
    } else if (key == "heap_fwd_kib") {
      in >> r.heap_fwd_kib;
    } else if (key == "error") {
      r.error = line.substr(6);
    }
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    r.ok = r.error.empty();
  } else if (r.error.empty()) {
    r.error = WIFSIGNALED(status) ? fmt::format("killed by signal {}", WTERMSIG(status))
                                  : fmt::format("exit status {}", WEXITSTATUS(status));
  }
  return r;
}

std::optional<double> median(std::vector<double> v) {
  if (v.empty()) return std::nullopt;
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

std::string fmt_value(std::optional<double> v) {
  if (!v) return "NA";
  const double x = *v;
  return x >= 1000 ? fmt::format("{:.1f}", x) : x >= 10 ? fmt::format("{:.2f}", x) : fmt::format("{:.3f}", x);
}

std::string fmt_ratio(std::optional<double> r) { return r ? fmt::format("{:.3f}", *r) : "NA"; }

/// A per-run target: "ratio <= bound" (the ratio of the workload line) unless described otherwise.
struct Target {
  std::string text;
  std::optional<double> max_ratio;
};

Target target_for(const std::string& w, int threads) {
  if (w == "tiny_graph") return {"ratio <= 0.2", 0.2};
  if (w == "elementwise_4m") return {"ratio <= 0.7", 0.7};
  if (w == "matmul_1024")
    return {threads == 1 ? ">= 90% of 1-thread OpenBLAS GFLOP/s" : "2 threads >= 1.8x of 1 (compare runs)", {}};
  if (w == "mlp_step")
    return threads == 1 ? Target{"ratio <= 0.5", 0.5} : Target{"xgrad >= 1.6x faster than at 1 thread", {}};
  if (w == "adam_step_10m") return {"ratio <= 0.7", 0.7};
  if (w == "softmax_ce_b128") return {"ratio <= 0.8", 0.8};
  if (w == "fashion_mlp_epoch") return {"ratio <= 0.5", 0.5};
  // Issue 14.
  if (w == "cnn_step")
    return threads == 1 ? Target{"ratio <= 0.5; efficiency >= 0.6 (below)", 0.5}
                        : Target{"xgrad >= 1.7x faster than at 1 thread", {}};
  if (w == "conv_3x3_256") return {"efficiency >= 0.7 at 1 thread (below)", {}};
  if (w == "fashion_cnn_epoch") return {"ratio <= 0.6", 0.6};
  if (w == "topk_b128" || w == "sort_1m") return {"ratio <= 1.0", 1.0};  // issue 13: at least as fast
  // Issue 15.
  if (w == "lstm_step") return threads == 1 ? Target{"ratio <= 0.6", 0.6} : Target{"ratio <= 0.6 at 1 thread", {}};
  if (w == "transformer_step") return {"ratio <= 0.6", 0.6};
  if (w == "sdpa_long") return {"ratio <= 1.0; RSS <= 1/4 (below)", 1.0};
  return {"-", {}};
}

std::string verdict(std::optional<double> ratio, std::optional<double> bound) {
  if (!bound) return "-";
  if (!ratio) return "NA";
  if (*ratio <= *bound) return "met";
  return fmt::format("MISSED by {:.0f}%", (*ratio / *bound - 1) * 100);
}

struct Row {
  std::string name, unit;
  std::optional<double> xgrad, torch, ratio;
  std::size_t nx = 0, nt = 0;
  std::string target, status;
  std::optional<double> ref_gflops;  ///< the worker's raw 1-thread sgemm, when it measured one
  std::optional<double> growth_x, growth_t;  ///< sdpa_long: median peak RSS growth per side, MiB
  std::optional<double> heap_peak_x;  ///< checkpoint_mlp32*: median peak heap growth of a step, MiB
  std::optional<double> heap_fwd_x;   ///< checkpoint_mlp32*: median heap growth at the end of forward, MiB
};

/// Peak RSS growth of one worker in MiB: its peak (hwm_kib) minus its RSS before the first
/// iteration (rss_base_kib); nothing unless it reported both.
std::optional<double> rss_growth_mib(const ChildResult& r) {
  if (!r.ok || r.hwm_kib < 0 || r.rss_base_kib < 0) return std::nullopt;
  return static_cast<double>(r.hwm_kib - r.rss_base_kib) / 1024.0;
}

/// The issue-15 bound on sdpa_long's memory: xgrad's peak RSS growth at most 1/4 of libtorch's.
constexpr double kSdpaRssTarget = 0.25;

/// epoch_overhead = fashion_mlp_epoch / (batches x mlp_step): what one epoch of tutorial 06's
/// loop costs beyond the Adam steps it is made of (the data path: shuffling, collation, the
/// loss read back each step), from the medians of the two workloads. 1.0 = no overhead.
std::optional<double> epoch_overhead(std::optional<double> epoch, std::optional<double> step, int batches) {
  if (!epoch || !step || *step <= 0 || batches <= 0) return std::nullopt;
  return *epoch / (batches * *step);
}

/// The target of epoch_overhead (the training-loop overhead issue): at 1 thread.
constexpr double kEpochOverheadTarget = 1.05;

bool data_present(const std::string& dir) {
  for (const char* f : {"train-images-idx3-ubyte.gz", "train-images-idx3-ubyte"})
    if (fs::exists(fs::path(dir) / f)) return true;
  return false;
}

int run_driver(const Options& o) {
  const std::string self = self_exe();
  if (self.empty()) {
    std::cerr << "xgrad_bench: cannot read /proc/self/exe\n";
    return 1;
  }
  const std::string twin = find_twin(o, self);
  if (twin.empty() && o.twin != "none")
    std::cerr << "xgrad_bench: libtorch twin not found (built only when find_package(Torch) succeeds); libtorch=NA\n";
  // xgrad replaced OpenBLAS's Prescott fallback in this process (and will in its workers):
  // libtorch's OpenBLAS gets the same kernels through the variable OpenBLAS reads itself.
  const std::string blas_core =
      xgrad::blas_core() + (xgrad::blas_core_replaced() ? " (xgrad replaced OpenBLAS's Prescott fallback)" : "");
  const bool core_exported = std::getenv("OPENBLAS_CORETYPE") == nullptr && xgrad::blas_core_replaced();
  if (core_exported) ::setenv("OPENBLAS_CORETYPE", "SkylakeX", 1);
  const std::regex filter(o.filter);
  bool failed = false;
  std::vector<Row> rows;
  std::vector<std::string> notes;
  std::optional<double> gflops_x, gflops_t, gflops_ref;
  int epoch_batches = 0;  // batches of a timed fashion_mlp_epoch (reported by the xgrad worker)

  auto report_failure = [&](const std::string& side, const std::string& w, const ChildResult& r) {
    failed = true;
    std::cerr << fmt::format("xgrad_bench: {} worker for {} failed: {}\n", side, w, r.error);
  };

  for (const auto& spec : bench::kWorkloads) {
    const std::string name = spec.name;
    if (!std::regex_search(name, filter)) continue;
    const bool fashion = name.starts_with("fashion_");
    if (fashion && !data_present(o.data)) {
      notes.push_back(fmt::format("{} skipped: no Fashion-MNIST IDX files in {}", name, o.data));
      continue;
    }
    std::vector<std::string> args{"--worker", name, "--threads", std::to_string(o.threads), "--samples",
                                  std::to_string(o.smoke ? 1 : spec.samples), "--inner",
                                  std::to_string(o.smoke ? 1 : spec.inner), "--warmup",
                                  std::to_string(o.smoke ? 0 : spec.warmup)};
    if (fashion) {
      args.insert(args.end(), {"--data", o.data, "--max-batches", o.smoke ? "3" : "0"});
    }
    ChildResult all_x, all_t;
    std::vector<double> growths_x, growths_t;  // MiB, one per worker that reported RSS
    std::vector<double> heap_peaks_x, heap_fwds_x;  // MiB, checkpoint_mlp32*
    // xgrad only: maml_* (libtorch has no functional optimizers to compare with), jacobian_*
    // and checkpoint_* (libtorch's C++ API has no functional jacobian or checkpoint).
    const bool xgrad_only = name.starts_with("maml_") || name.starts_with("jacobian_") || name.starts_with("checkpoint_") ||
                            name.ends_with("_profiled");  // issue 16: the profiler's cost, xgrad only
    bool x_ok = true, t_ok = !twin.empty() && !xgrad_only;
    for (int rep = 0; rep < o.repeat; ++rep) {
      std::cerr << fmt::format("[{}] repetition {}/{}\n", name, rep + 1, o.repeat);
      auto rx = run_child(self, args, o.threads);
      if (!rx.ok) x_ok = false, report_failure("xgrad", name, rx);
      all_x.samples.insert(all_x.samples.end(), rx.samples.begin(), rx.samples.end());
      all_x.refs.insert(all_x.refs.end(), rx.refs.begin(), rx.refs.end());
      if (rx.batches > 0 && name == "fashion_mlp_epoch") epoch_batches = rx.batches;
      if (auto g = rss_growth_mib(rx)) growths_x.push_back(*g);
      if (rx.ok && rx.heap_peak_kib >= 0) heap_peaks_x.push_back(static_cast<double>(rx.heap_peak_kib) / 1024.0);
      if (rx.ok && rx.heap_fwd_kib >= 0) heap_fwds_x.push_back(static_cast<double>(rx.heap_fwd_kib) / 1024.0);
      if (!twin.empty() && !xgrad_only) {
        auto rt = run_child(twin, args, o.threads);
        if (!rt.ok) t_ok = false, report_failure("libtorch", name, rt);
        all_t.samples.insert(all_t.samples.end(), rt.samples.begin(), rt.samples.end());
        if (auto g = rss_growth_mib(rt)) growths_t.push_back(*g);
      }
    }
    const double scale = spec.unit == bench::Unit::us ? 1e6 : 1e3;
    Row row;
    row.name = name;
    row.unit = spec.unit == bench::Unit::us ? "us" : "ms";
    // Seconds per iteration (NaN: no result).
    const double mx = x_ok ? median(all_x.samples).value_or(kNaN) : kNaN;
    const double mt = t_ok ? median(all_t.samples).value_or(kNaN) : kNaN;
    if (!std::isnan(mx)) row.xgrad = mx * scale;
    if (!std::isnan(mt)) row.torch = mt * scale;
    if (row.xgrad && row.torch) row.ratio = *row.xgrad / *row.torch;
    row.nx = all_x.samples.size();
    row.nt = all_t.samples.size();
    if (auto mr = median(all_x.refs)) row.ref_gflops = bench::flops_matmul() / *mr / 1e9;
    if (x_ok) row.growth_x = median(growths_x);
    if (t_ok) row.growth_t = median(growths_t);
    if (x_ok) row.heap_peak_x = median(heap_peaks_x);
    if (x_ok) row.heap_fwd_x = median(heap_fwds_x);
    const Target target = target_for(name, o.threads);
    row.target = target.text;
    row.status = verdict(row.ratio, target.max_ratio);
    if (name == "matmul_1024") {
      if (!std::isnan(mx)) gflops_x = bench::flops_matmul() / mx / 1e9;
      if (!std::isnan(mt)) gflops_t = bench::flops_matmul() / mt / 1e9;
      gflops_ref = row.ref_gflops;
      if (o.threads == 1 && gflops_x && gflops_ref) {
        const double frac = *gflops_x / *gflops_ref;
        row.status = frac >= 0.9 ? fmt::format("met ({:.0f}%)", frac * 100)
                                 : fmt::format("MISSED ({:.0f}% of OpenBLAS)", frac * 100);
      }
    }
    std::cout << fmt::format("{} xgrad={} libtorch={} ratio={} unit={}\n", name, fmt_value(row.xgrad),
                             fmt_value(row.torch), fmt_ratio(row.ratio), row.unit)
              << std::flush;
    rows.push_back(row);
  }

  // Peak memory of the mlp_step loop, each side in its own process.
  std::optional<long> hwm_x, hwm_t, growth_x;
  std::optional<std::pair<int, long>> rss_first;
  const bool run_rss = std::regex_search(std::string(bench::kRssWorkload), filter);
  const int steps = o.smoke ? 20 : o.rss_steps;
  if (run_rss) {
    const std::vector<std::string> args{"--worker", bench::kRssWorkload, "--threads", std::to_string(o.threads),
                                        "--steps", std::to_string(steps)};
    std::cerr << fmt::format("[{}] {} steps per side\n", bench::kRssWorkload, steps);
    auto rx = run_child(self, args, o.threads);
    if (!rx.ok) {
      report_failure("xgrad", bench::kRssWorkload, rx);
    } else {
      hwm_x = rx.hwm_kib;
      if (rx.rss.size() == 2) {
        rss_first = rx.rss.front();
        growth_x = rx.rss.back().second - rx.rss.front().second;
      }
    }
    if (!twin.empty()) {
      auto rt = run_child(twin, args, o.threads);
      if (!rt.ok) report_failure("libtorch", bench::kRssWorkload, rt);
      else hwm_t = rt.hwm_kib;
    }
  }

  // ---- the human-readable table ----
  std::cout << fmt::format("\nxgrad {} vs libtorch | threads {} | repeat {} | {}{}\n", XGRAD_BENCH_VERSION, o.threads,
                           o.repeat, o.smoke ? "SMOKE (timings meaningless) | " : "",
                           twin.empty() ? "libtorch twin: not built" : "twin: " + twin);
  std::cout << fmt::format("OpenBLAS core: {}\n", blas_core);
  if (const char* core = std::getenv("OPENBLAS_CORETYPE"))
    std::cout << fmt::format("OPENBLAS_CORETYPE={} (exported for both sides{})\n", core,
                             core_exported ? ", by xgrad_bench, so libtorch's OpenBLAS uses the same kernels" : "");
  const std::string sep(118, '-');
  std::cout << sep << '\n'
            << fmt::format("{:<18} {:>4} {:>11} {:>11} {:>7} {:>9}  {:<38} {}\n", "workload", "unit", "xgrad",
                           "libtorch", "ratio", "samples", "target", "status")
            << sep << '\n';
  for (const auto& r : rows)
    std::cout << fmt::format("{:<18} {:>4} {:>11} {:>11} {:>7} {:>9}  {:<38} {}\n", r.name, r.unit,
                             fmt_value(r.xgrad), fmt_value(r.torch), fmt_ratio(r.ratio),
                             fmt::format("{}/{}", r.nx, r.nt), r.target, r.status);
  std::cout << sep << '\n';
  if (gflops_x || gflops_t || gflops_ref)
    std::cout << fmt::format("matmul_1024 GFLOP/s: xgrad {} | libtorch {} | raw cblas_sgemm, 1 thread {}\n",
                             fmt_value(gflops_x), fmt_value(gflops_t), fmt_value(gflops_ref));
  {
    // Both workloads of the ratio must have run; the twin times the same epoch (same batch
    // size, same --max-batches), so the xgrad worker's batch count serves both sides.
    auto find = [&](const char* name) -> const Row* {
      for (const auto& r : rows)
        if (r.name == name) return &r;
      return nullptr;
    };
    // Issue 13: xgrad's einsum of the attention scores within 10% of the same matmul.
    const Row* es = find("einsum_attention");
    const Row* em = find("einsum_attention_matmul");
    if (es && em && es->xgrad && em->xgrad && *em->xgrad > 0) {
      const double r = *es->xgrad / *em->xgrad;
      std::cout << fmt::format("einsum_attention / einsum_attention_matmul (xgrad, same run): {} | target <= 1.10: {}\n",
                               fmt_ratio(r), verdict(r, 1.10));
    }
    // Issue 14: efficiency = the products' FLOPs / (time x threads x the raw 1-thread sgemm
    // GFLOP/s the xgrad worker measured right after its timed loop).
    for (const auto& [name, flops, bound] : {std::tuple{"cnn_step", bench::flops_cnn_step(), 0.6},
                                             std::tuple{"conv_3x3_256", bench::flops_conv_3x3_256(), 0.7}}) {
      const Row* r = find(name);
      if (!r || !r->ref_gflops) continue;
      auto efficiency = [&](std::optional<double> ms) -> std::optional<double> {
        if (!ms || *ms <= 0) return std::nullopt;
        return flops / (*ms * 1e-3) / 1e9 / (o.threads * *r->ref_gflops);
      };
      const auto ex = efficiency(r->xgrad), et = efficiency(r->torch);
      auto at_least = [&](std::optional<double> e) {
        return !e ? std::string("NA") : *e >= bound ? std::string("met") : fmt::format("MISSED by {:.0f}%", (1 - *e / bound) * 100);
      };
      std::cout << fmt::format(
          "{} efficiency = {:.2f} GFLOP / (time x {} thread(s) x {} GFLOP/s raw 1-thread sgemm): xgrad {} | "
          "libtorch {} | {}\n",
          name, flops / 1e9, o.threads, fmt_value(r->ref_gflops), fmt_ratio(ex), fmt_ratio(et),
          o.threads == 1 ? fmt::format("target (xgrad) >= {}: {}", bound, at_least(ex))
                         : fmt::format("target (xgrad) >= {} at 1 thread", bound));
    }
    // Issue 17: the InnerLoop's MAML outer step against the same computation by hand.
    const Row* ms = find("maml_outer_step");
    const Row* mm = find("maml_outer_step_manual");
    if (ms && mm && ms->xgrad && mm->xgrad && *mm->xgrad > 0)
      std::cout << fmt::format("maml_outer_step / maml_outer_step_manual (xgrad, same run): {}\n",
                               fmt_ratio(*ms->xgrad / *mm->xgrad));
    // Issue 20: the vectorised Jacobian's speed-up over the looped one, and what
    // checkpoint_sequential (4 segments) costs in time and saves in peak heap growth.
    const Row* jv = find("jacobian_vectorized");
    const Row* jl = find("jacobian_looped");
    if (jv && jl && jv->xgrad && jl->xgrad && *jv->xgrad > 0)
      std::cout << fmt::format("jacobian_looped / jacobian_vectorized (xgrad, same run): {}\n",
                               fmt_ratio(*jl->xgrad / *jv->xgrad));
    const Row* cc = find("checkpoint_mlp32");
    const Row* cp = find("checkpoint_mlp32_plain");
    if (cc && cp && cc->xgrad && cp->xgrad && *cp->xgrad > 0) {
      auto saved = [](std::optional<double> ckpt, std::optional<double> plain) -> std::optional<double> {
        if (!ckpt || !plain || *ckpt <= 0) return std::nullopt;
        return *plain / *ckpt;
      };
      std::cout << fmt::format(
          "checkpoint_mlp32 / checkpoint_mlp32_plain (xgrad, same run): time {} | heap growth (MiB), peak of the step: "
          "checkpointed {} | plain {} | plain / checkpointed {}; at the end of forward: checkpointed {} | plain {} | "
          "plain / checkpointed {}\n",
          fmt_ratio(*cc->xgrad / *cp->xgrad), fmt_value(cc->heap_peak_x), fmt_value(cp->heap_peak_x),
          fmt_ratio(saved(cc->heap_peak_x, cp->heap_peak_x)), fmt_value(cc->heap_fwd_x), fmt_value(cp->heap_fwd_x),
          fmt_ratio(saved(cc->heap_fwd_x, cp->heap_fwd_x)));
    }
    // Issue 15: the peak RSS growth of the long attention (peak minus the RSS before the first
    // iteration, medians over the repetitions).
    if (const Row* r = find("sdpa_long"); r && (r->growth_x || r->growth_t)) {
      std::optional<double> ratio;
      if (r->growth_x && r->growth_t && *r->growth_t > 0) ratio = *r->growth_x / *r->growth_t;
      std::cout << fmt::format(
          "sdpa_long peak RSS growth (MiB, peak minus RSS before the first step): xgrad {} | libtorch {} | ratio {} | "
          "target <= {}: {}\n",
          fmt_value(r->growth_x), fmt_value(r->growth_t), fmt_ratio(ratio), kSdpaRssTarget,
          verdict(ratio, kSdpaRssTarget));
    }
    const Row* epoch = find("fashion_mlp_epoch");
    const Row* step = find("mlp_step");
    if (epoch && step) {
      const auto ox = epoch_overhead(epoch->xgrad, step->xgrad, epoch_batches);
      const auto ot = epoch_overhead(epoch->torch, step->torch, epoch_batches);
      std::cout << fmt::format(
          "epoch_overhead = fashion_mlp_epoch / ({} batches x mlp_step): xgrad {} | libtorch {} | {}\n", epoch_batches,
          fmt_ratio(ox), fmt_ratio(ot),
          o.threads == 1
              ? fmt::format("target (xgrad) <= {}: {}", kEpochOverheadTarget, verdict(ox, kEpochOverheadTarget))
              : fmt::format("target (xgrad) <= {} at 1 thread", kEpochOverheadTarget));
    }
  }
  if (run_rss) {
    auto mib = [](std::optional<long> k) { return k ? std::optional<double>(*k / 1024.0) : std::nullopt; };
    std::optional<double> rss_ratio;
    if (hwm_x && hwm_t && *hwm_t > 0) rss_ratio = static_cast<double>(*hwm_x) / static_cast<double>(*hwm_t);
    std::cout << fmt::format("peak RSS of {} mlp_step steps (MiB): xgrad {} | libtorch {} | ratio {} | target <= 1.0: {}\n",
                             steps, fmt_value(mib(hwm_x)), fmt_value(mib(hwm_t)), fmt_ratio(rss_ratio),
                             verdict(rss_ratio, 1.0));
    if (growth_x && rss_first) {
      const bool flat = *growth_x <= std::max(1024L, rss_first->second / 50);
      std::cout << fmt::format("xgrad RSS growth from step {} to step {}: {} KiB ({})\n", rss_first->first, steps,
                               *growth_x, flat ? "~0: no leak" : "GROWING");
    }
  }
#ifdef XGRAD_BENCH_DDP
  // Issue 18: mlp_step data-parallel on 2 ranks x 1 thread, next to mlp_step at 2 threads.
  if (o.threads == 2 && std::regex_search("ddp_mlp_step", filter) && is_executable(XGRAD_BENCH_DDP)) {
    const std::string cmd = fmt::format(
        "OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 {} --allow-run-as-root --oversubscribe -np 2 {} --threads 1 "
        "--steps {} 2>&1",
        XGRAD_BENCH_MPIEXEC, XGRAD_BENCH_DDP, o.smoke ? 3 : 200);
    std::string line;
    if (FILE* p = ::popen(cmd.c_str(), "r")) {
      char buf[4096];
      while (std::fgets(buf, sizeof buf, p))
        if (std::string_view(buf).rfind("ddp_mlp_step ", 0) == 0) line = buf;
      if (::pclose(p) != 0) line.clear();
    }
    if (line.empty()) {
      failed = true;
      std::cerr << "xgrad_bench: " << cmd << " failed\n";
    } else {
      std::cout << line;
    }
  }
#endif
  for (const auto& n : notes) std::cout << n << '\n';
  std::cout << "ratio = xgrad / libtorch (lower is better); medians over all samples of all repetitions;\n"
               "samples = xgrad/libtorch sample counts.\n";
  return failed ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::string_view(argv[1]) == "--worker") {
    try {
      return run_xgrad_worker(bench::parse_worker_args(argc, argv));
    } catch (const std::exception& e) {
      std::printf("error %s\n", e.what());
      return 1;
    }
  }
  Options o;
  CLI::App app{"xgrad vs libtorch benchmarks (each workload interleaved, one child process per repetition)"};
  app.add_option("--threads", o.threads, "threads for both sides (xgrad::set_num_threads, torch::set_num_threads, "
                                         "OPENBLAS_NUM_THREADS, OMP_NUM_THREADS)")
      ->check(CLI::Range(1, 1024));
  app.add_option("--filter", o.filter, "ECMAScript regex: run the workloads whose name it matches "
                                       "(mlp_step_rss is the peak-memory loop)");
  app.add_option("--repeat", o.repeat, "worker processes per side and workload, interleaved")->check(CLI::Range(1, 1000));
  app.add_flag("--smoke", o.smoke, "one iteration per process, 3 Fashion-MNIST batches, 20 RSS steps (CTest)");
  app.add_option("--twin", o.twin, "path of xgrad_bench_torch, or 'none' (default: next to this program)");
  app.add_option("--data", o.data, "Fashion-MNIST directory (IDX files, gzipped or not)");
  app.add_option("--rss-steps", o.rss_steps, "steps of the peak-memory mlp_step loop")->check(CLI::Range(10, 1000000));
  CLI11_PARSE(app, argc, argv);
  try {
    return run_driver(o);
  } catch (const std::exception& e) {
    std::cerr << "xgrad_bench: " << e.what() << '\n';
    return 1;
  }
}
