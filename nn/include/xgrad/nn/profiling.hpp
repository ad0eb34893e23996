// Module-level grouping for the profiler (xgrad/autograd/profiler.hpp): events recorded while
// a module's forward runs carry the module's name, so Profiler::table("total", "module")
// groups the time by module.
//
//   xgrad::profiler::Profiler prof;
//   auto scope = xgrad::nn::profile_modules(*net);
//   net->forward ... ; loss.backward(); prof.stop();
//   std::cout << prof.table("total", "module");
#pragma once

#include <cstddef>
#include <thread>
#include <vector>

#include "xgrad/autograd/profiler.hpp"
#include "xgrad/nn/module.hpp"

namespace xgrad::nn {

/// RAII: removes the hooks profile_modules() registered.
class ModuleProfiling {
 public:
  ModuleProfiling() = default;
  explicit ModuleProfiling(std::vector<HookHandle> handles);
  ModuleProfiling(ModuleProfiling&&) = default;
  ModuleProfiling& operator=(ModuleProfiling&&) = default;
  ModuleProfiling(const ModuleProfiling&) = delete;
  ModuleProfiling& operator=(const ModuleProfiling&) = delete;
  ~ModuleProfiling() { remove(); }
  /// Removes the hooks now (idempotent); on the constructing thread also pops module entries
  /// left by forwards that threw.
  void remove();

 private:
  std::vector<HookHandle> handles_;
  std::thread::id thread_;
  std::size_t depth_ = 0;  // the module stack's depth on thread_ at construction
};

/// Registers a forward pre-hook and a forward hook on `root` and on every descendant
/// (named_modules()) that push and pop the module's label on the calling thread's profiler
/// module stack (profiler::push_module / pop_module) around its forward: "<qualified name>
/// (<Type>)", e.g. "0 (Linear)" or "encoder.layers.1 (TransformerEncoderLayer)", and the root's
/// type alone ("Sequential"). Only forwards called through operator() run hooks. The hooks
/// cost a push and a pop per call also when no profiler records; they are removed when the
/// returned object is destroyed. Modules added after the call are not covered. If a forward
/// throws, its pop is skipped: the stack is restored when the returned object is destroyed
/// (on the thread that called profile_modules).
[[nodiscard]] ModuleProfiling profile_modules(Module& root);

}  // namespace xgrad::nn
