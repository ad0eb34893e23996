#include "xgrad/nn/profiling.hpp"

#include <memory>
#include <string>

#include <fmt/format.h>

namespace xgrad::nn {

ModuleProfiling::ModuleProfiling(std::vector<HookHandle> handles)
    : handles_(std::move(handles)), thread_(std::this_thread::get_id()), depth_(profiler::module_depth()) {}

void ModuleProfiling::remove() {
  if (handles_.empty()) return;
  for (HookHandle& h : handles_) h.remove();
  handles_.clear();
  if (std::this_thread::get_id() == thread_) profiler::truncate_modules(depth_);
}

ModuleProfiling profile_modules(Module& root) {
  std::vector<HookHandle> handles;
  for (const auto& [qualified, module] : root.named_modules()) {
    auto label = std::make_shared<const std::string>(
        qualified.empty() ? module->name() : fmt::format("{} ({})", qualified, module->name()));
    handles.push_back(module->register_forward_pre_hook([label](Module&, const Tensor&) {
      profiler::push_module(*label);
      return Tensor();
    }));
    handles.push_back(module->register_forward_hook([](Module&, const Tensor&, const Tensor&) {
      profiler::pop_module();
      return Tensor();
    }));
  }
  return ModuleProfiling(std::move(handles));
}

}  // namespace xgrad::nn
