// Internal: the two places the autograd core calls into the profiler (profiler.cpp).
#pragma once

#include "xgrad/autograd/profile_scope.hpp"

namespace xgrad::detail {
// profiler_active() (one relaxed atomic load) comes from profile_scope.hpp.

/// Called by record() for every recorded node while the profiler is active: remembers the
/// module current on this thread, so that the node's backward event is grouped with it.
void profiler_on_record(const Node& node);

/// RAII around one node's backward in the engine: a backward event named by node.name().
class ProfileBackwardScope {
 public:
  explicit ProfileBackwardScope(const Node& node) noexcept {
    if (profiler_active()) scope_.begin_backward(node);
  }

 private:
  OpScope scope_;
};
}  // namespace xgrad::detail
