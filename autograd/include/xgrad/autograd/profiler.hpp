// The op profiler (like torch.autograd.profiler.profile): an RAII guard that records every op's
// forward and every node's backward with its time, FLOPs, bytes allocated, input shapes and
// module, then prints a table or writes a Chrome trace (chrome://tracing, ui.perfetto.dev).
//
//   {
//     xgrad::profiler::Profiler prof;              // starts recording
//     auto modules = xgrad::nn::profile_modules(*net);  // optional (xgrad/nn/profiling.hpp)
//     Tensor loss = (*net)(x).sum();
//     loss.backward();
//     prof.stop();
//     std::cout << prof.table();                    // sorted by total time
//     prof.write_chrome_trace("trace.json");
//   }
//
// What is an event. Every public op entry point (the free functions of the autograd headers,
// the nn::functional ops, the in-place Tensor methods) opens one forward event named by its
// public name ("exp", "matmul", "conv2d"); Tensor methods call the free functions, so `x.exp()`
// records "exp". The engine opens one backward event per node it runs, named by the node
// ("ExpBackward", "AccumulateGrad"). An op implemented with other ops records those too, nested
// inside it (depth + 1, parent = the enclosing event), as PyTorch does; ops a backward calls are
// nested inside the backward event. An overload that calls another overload of the same op
// records one event. Pure factories (zeros, ones, randn, ...) are not ops and record nothing.
// The engine's own arithmetic between nodes (summing a gradient back to a broadcast input's
// shape, adding up the gradients of a tensor used twice) shows as forward events at depth 0
// during backward.
//
// Times. total (an event's duration) runs from the op's entry to its return; self = total
// minus the totals of the events directly nested in it (on the same thread), i.e. the time
// spent in the op itself (PyTorch's "Self CPU"). Summed over all events, self times give the
// whole recorded op time once.
//
// FLOPs (with_flops): counted for products and convolutions only, multiply and add counted
// separately: mm/matmul/bmm/addmm/baddbmm/linear with an [M, K] x [K, N] product (per batch
// element) = 2 * M * N * K * batch; dot/outer and matrix-vector products are the same formula
// with a dimension of 1. conv{1,2,3}d = 2 * N * Cout * (Cin / groups) * prod(kernel) *
// prod(output spatial); conv_transpose{1,2}d = 2 * N * Cin * (Cout / groups) * prod(kernel) *
// prod(input spatial). Bias additions are not counted. An op that calls a counted op (linear
// calls mm) reports the FLOPs too, so FLOPs of nested rows overlap like total times do.
//
// Bytes (profile_memory): the tensor storage handed out by xgrad's allocator on the op's
// thread while the op ran, nested ops included (cache hits count: it is what the op asked for,
// not what the operating system gave).
//
// Threads. Events are kept per thread (the buffers live on after their thread ends); ops
// called on any std::thread are recorded, each thread with its own small id (1, 2, ... in the
// order threads first record). The oneTBB workers inside a kernel never open events: an op is
// one event on the thread that called it. Module paths are per thread too.
//
// Overhead. While no profiler is active every hook is one relaxed atomic load and a branch:
// no clock read, no allocation, no lock, no call (the profiler's functions do not appear in a
// callgrind profile of the tiny_graph bench line). While recording, each event costs two clock
// reads, a few uncontended locks and its bookkeeping (shapes, module name): the bench line
// tiny_graph_profiled (tiny_graph's 14 events per step, recorded) measures it against
// tiny_graph, about 1 us per event on the 2-core reference machine.
//
// Thread safety: one Profiler may be active in the process at a time; start and stop it on
// one thread; ops may run on any threads meanwhile. Events of ops still running when the
// profiler stops are dropped.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "xgrad/autograd/options.hpp"
#include "xgrad/autograd/profile_scope.hpp"

namespace xgrad::profiler {

/// What a Profiler records besides names and times.
struct ProfilerOptions {
#define XGRAD_AUTOGRAD_FIELDS(X)                       \
  X(bool, record_shapes, true, ::xgrad::options::any)  \
  X(bool, profile_memory, true, ::xgrad::options::any) \
  X(bool, with_flops, true, ::xgrad::options::any)
  XGRAD_OPTIONS(ProfilerOptions, XGRAD_AUTOGRAD_FIELDS)
#undef XGRAD_AUTOGRAD_FIELDS
};

enum class EventKind { forward, backward };

/// One recorded op call (forward) or node run (backward).
struct Event {
  std::string name;  ///< the op's public name, or the node's name for backward
  EventKind kind = EventKind::forward;
  std::uint64_t thread_id = 0;       ///< 1, 2, ... in the order threads first recorded (in this process)
  std::int64_t start_ns = 0;         ///< from the profiler's start
  std::int64_t duration_ns = 0;      ///< total time
  std::int64_t self_ns = 0;          ///< total minus the events directly nested in this one
  int depth = 0;                     ///< 0 for an event with no enclosing event on its thread
  std::int64_t parent = -1;          ///< index in events() of the enclosing event, or -1
  std::int64_t flops = 0;            ///< 0 when not counted (see the header comment for formulas)
  std::int64_t bytes_allocated = 0;  ///< 0 unless profile_memory
  /// The innermost module (see push_module) when the op ran; backward events: the module
  /// current when the node was recorded; ops nested in an event without a module of their own
  /// inherit the enclosing event's. Empty: none.
  std::string module;
  std::vector<Shape> input_shapes;  ///< record_shapes: shapes of the Tensor inputs ([] for undefined)
};

/// RAII guard: construction starts recording, stop() or destruction stops. Only one Profiler
/// may record at a time: constructing a second while one records throws xgrad::Error.
class Profiler {
 public:
  explicit Profiler(const ProfilerOptions& options = {});
  ~Profiler();
  Profiler(const Profiler&) = delete;
  Profiler& operator=(const Profiler&) = delete;

  /// Stops recording and collects the events of every thread (idempotent).
  void stop();
  bool recording() const { return recording_; }

  /// The recorded events, grouped by thread id, in start order within a thread. Throws
  /// xgrad::Error while still recording (call stop() first); so do table() and
  /// write_chrome_trace().
  const std::vector<Event>& events() const;

  /// A text table, one row per op name (group_by "op"; forward and backward names differ,
  /// "exp" vs "ExpBackward") or per module (group_by "module"; an event counts for its
  /// innermost module, "<none>" when it has none), sorted descending by sort_by: "total"
  /// (default), "self", "calls", "avg" (total / calls), "flops" or "bytes". Columns: name,
  /// calls, self ms, total ms, avg ms, % (self time over the summed self time of all
  /// events), GFLOP (with the row's GFLOP/s = FLOPs / total time; "-" when not counted),
  /// bytes allocated. A module row's total sums only its events not nested in an event of the
  /// same module (no double counting). row_limit > 0 keeps that many rows. Throws
  /// xgrad::Error for an unknown sort_by or group_by, or a negative row_limit.
  std::string table(std::string_view sort_by = "total", std::string_view group_by = "op",
                    std::int64_t row_limit = 0) const;

  /// Writes the events as Chrome trace-event JSON: {"traceEvents": [...],
  /// "displayTimeUnit": "ms"}, one complete event per recorded event ("ph": "X", "ts" and
  /// "dur" in microseconds from the start, "pid", "tid" = thread_id, "cat" "forward" or
  /// "backward", "args": {"flops", "bytes", "shapes", "module", "depth"}). Opens in
  /// chrome://tracing and ui.perfetto.dev. Throws xgrad::Error when the file cannot be
  /// written.
  void write_chrome_trace(const std::string& path) const;

  const ProfilerOptions& options() const { return options_; }

 private:
  void check_stopped(std::string_view what) const;

  ProfilerOptions options_;
  bool recording_ = false;
  std::uint64_t generation_ = 0;
  std::vector<Event> events_;
};

/// The calling thread's module stack, which events are attributed to (nn::profile_modules
/// pushes and pops the qualified module names around each module's forward). Cheap when no
/// profiler records; usable without one.
void push_module(std::string name);
/// Pops the innermost module; does nothing on an empty stack.
void pop_module();
/// The innermost module of the calling thread, "" when none.
std::string current_module();
/// Number of modules on the calling thread's stack.
std::size_t module_depth();
/// Pops the calling thread's stack down to `depth` entries (restores it after an exception
/// skipped pop_module calls).
void truncate_modules(std::size_t depth);

}  // namespace xgrad::profiler
