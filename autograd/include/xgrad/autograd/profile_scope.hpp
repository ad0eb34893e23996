// Detail (public only so that nn and users' own ops can use it): the hooks that op entry points
// call into the profiler of profiler.hpp. Light on purpose: every op source includes it.
//
//   Tensor my_op(const Tensor& a, const Tensor& b) {
//     XGRAD_PROFILE_OP("my_op", a, b);  // one event per call while a Profiler records
//     Tensor out = ...;
//     XGRAD_PROFILE_FLOPS(2 * out.numel() * k);  // evaluated only while recording
//     return out;
//   }
//
// When no Profiler is active, XGRAD_PROFILE_OP costs one relaxed atomic load and a branch: no
// clock read, no allocation, no lock.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace xgrad {
class Node;
}

namespace xgrad::detail {

/// True while a Profiler records. Written only by Profiler start/stop (profiler.cpp).
extern std::atomic<bool> g_profiler_active;

/// One relaxed atomic load: the whole cost of every profiler hook when no profiler is active.
inline bool profiler_active() noexcept { return g_profiler_active.load(std::memory_order_relaxed); }

/// Adds n bytes to the calling thread's allocation counter (the allocator calls it while a
/// profiler is active; OpScope reads the counter at the start and end of an op).
void profiler_count_bytes(std::size_t n) noexcept;

/// RAII: one profiler event (an op's forward, or a node's backward) from construction to
/// destruction, on the calling thread. Inactive (and free) when no profiler is active at
/// construction. An op that calls another overload of the same op (same name, directly
/// nested) records one event, not two.
class OpScope {
 public:
  OpScope() noexcept = default;
  /// Starts a forward event named `name` (a string literal: the op's public name). The
  /// shapes of the Tensor arguments are recorded when the profiler records shapes.
  template <class... Tensors>
  explicit OpScope(const char* name, const Tensors&... inputs) noexcept {
    if (profiler_active() && begin_forward(name)) {
      if (record_shapes()) (add_shape(inputs), ...);
    }
  }
  ~OpScope() {
    if (index_ >= 0) end();
  }
  OpScope(const OpScope&) = delete;
  OpScope& operator=(const OpScope&) = delete;

  /// True when this scope records an event.
  bool active() const noexcept { return index_ >= 0; }
  /// Floating-point operations of the op (see profiler.hpp for the formulas). Call only when
  /// active() (XGRAD_PROFILE_FLOPS does).
  void set_flops(std::int64_t flops) noexcept;
  /// Starts a backward event named by node.name(), attributed to the module current when the
  /// node was recorded. Call only when profiler_active() and the scope is not active yet.
  void begin_backward(const Node& node) noexcept;

 private:
  bool begin_forward(const char* name) noexcept;
  static bool record_shapes() noexcept;
  template <class T>
  void add_shape(const T& t) noexcept {
    if (t.defined())
      add_shape_raw(t.shape().data(), t.shape().size());
    else
      add_shape_raw(nullptr, 0);
  }
  void add_shape_raw(const std::int64_t* dims, std::size_t rank) noexcept;
  void end() noexcept;

  std::int64_t index_ = -1;       // the event's slot in the thread's buffer; -1: inactive
  std::uint64_t generation_ = 0;  // the recording session the slot belongs to
};

}  // namespace xgrad::detail

/// An OpScope named `name` for the rest of the enclosing block; extra arguments are the op's
/// Tensor inputs (their shapes are recorded). Use once per function, at its top.
#define XGRAD_PROFILE_OP(...) ::xgrad::detail::OpScope xgrad_profile_scope_(__VA_ARGS__)
/// Sets the FLOPs of the enclosing XGRAD_PROFILE_OP's event; `expr` is evaluated only while the
/// event records.
#define XGRAD_PROFILE_FLOPS(expr)                                                                       \
  do {                                                                                                  \
    if (xgrad_profile_scope_.active()) xgrad_profile_scope_.set_flops(static_cast<std::int64_t>(expr)); \
  } while (false)
