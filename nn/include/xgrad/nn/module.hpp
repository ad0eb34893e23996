// nn::Module: the base of every layer. Parameters, buffers and child modules are registered
// by name in ordered registries and returned recursively with dotted names, like
// torch::nn::Module. Modules are held by std::shared_ptr.
//
//   struct Net : xgrad::nn::Module {
//     Net() {
//       fc1 = register_module("fc1", std::make_shared<xgrad::nn::Linear>(784, 128));
//       fc2 = register_module("fc2", std::make_shared<xgrad::nn::Linear>(128, 10));
//     }
//     xgrad::Tensor forward(const xgrad::Tensor& x) override { return fc2->forward(fc1->forward(x).relu()); }
//     std::shared_ptr<xgrad::nn::Linear> fc1, fc2;
//   };
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "xgrad/autograd/serialize.hpp"
#include "xgrad/autograd/tensor.hpp"

namespace xgrad::nn {

class Module;

/// Removes the hook it was returned for (idempotent). Destroying the handle does NOT remove
/// the hook (PyTorch semantics).
class HookHandle {
 public:
  HookHandle() = default;
  HookHandle(std::weak_ptr<void> owner, std::function<void()> remover);
  void remove();

 private:
  std::weak_ptr<void> owner_;
  std::function<void()> remover_;
};

/// Runs before forward; may return a replacement input (undefined = keep).
using ForwardPreHook = std::function<Tensor(Module& module, const Tensor& input)>;
/// Runs after forward; sees input and output, may return a replacement output (undefined = keep).
using ForwardHook = std::function<Tensor(Module& module, const Tensor& input, const Tensor& output)>;
/// Full backward hook: runs when the gradient w.r.t. the module's input has been computed;
/// sees grad_input (d loss / d input; undefined if the input does not require grad) and
/// grad_output (d loss / d output); may return a replacement grad_input (undefined = keep).
using BackwardHook = std::function<Tensor(Module& module, const Tensor& grad_input, const Tensor& grad_output)>;

class Module : public std::enable_shared_from_this<Module> {
 public:
  explicit Module(std::string name = "Module");
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  /// The layer's computation. The base throws xgrad::Error naming the module type: modules
  /// with several inputs (Bilinear, losses) provide their own forward overloads instead.
  virtual Tensor forward(const Tensor& input);
  /// forward() wrapped in the registered hooks: pre-hooks, forward, forward hooks, and (when
  /// backward hooks exist and grad mode is on) the full backward hook plumbing: the input and
  /// the output pass through identity nodes ("BackwardHookFunctionBackward"); the output's
  /// node captures grad_output, the input's node calls the hooks (registered at the time of
  /// the forward call, in registration order) with grad_input and grad_output. If the input
  /// does not require grad, the hooks run with an undefined grad_input when grad_output
  /// arrives. Hooks run in registration order; a hook may remove itself. Call modules through
  /// this; forward() directly runs no hooks.
  Tensor operator()(const Tensor& input);

  /// Type name used in printouts ("Linear").
  const std::string& name() const { return name_; }

  // ---- registration (names: non-empty, no '.', unique among this module's parameters,
  //      buffers and children; otherwise xgrad::Error naming the module and the name) ----
  /// Registers a parameter; it is made a leaf that requires grad (when floating; a non-leaf is
  /// detached first). Returns a handle to the registered tensor (it shares the TensorImpl, like
  /// libtorch's): layers keep it (`weight = register_parameter(...)`), and it stays valid
  /// across later registrations because to(), set_tensor() and load_state_dict() change
  /// registered tensors in place, never rebind them. Throws xgrad::Error for an undefined
  /// tensor.
  Tensor register_parameter(const std::string& name, Tensor tensor, bool requires_grad = true);
  /// Registers persistent state that is not trained (e.g. running means); saved in state_dict.
  /// Returns a handle to the registered tensor, like register_parameter.
  Tensor register_buffer(const std::string& name, Tensor tensor);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    register_module_impl(name, module);
    return module;
  }
  /// Replaces the data of a registered parameter or buffer by name (used by init and loading):
  /// the registered tensor keeps its identity (every handle to it sees the change, like
  /// PyTorch's `param.data = tensor`) and takes `tensor`'s storage (shared), shape and dtype;
  /// a parameter stays a leaf that requires grad. Throws if the name is not registered here.
  void set_tensor(const std::string& name, const Tensor& tensor);

  // ---- access, in registration order ----
  std::vector<Tensor> parameters(bool recurse = true) const;
  std::vector<std::pair<std::string, Tensor>> named_parameters(bool recurse = true) const;
  std::vector<Tensor> buffers(bool recurse = true) const;
  std::vector<std::pair<std::string, Tensor>> named_buffers(bool recurse = true) const;
  std::vector<std::shared_ptr<Module>> children() const;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_children() const;
  /// This module (name "") and all descendants, depth first, with dotted names.
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_modules();
  std::vector<std::shared_ptr<Module>> modules();

  // ---- modes and utilities ----
  /// Sets training mode here and in all descendants (Dropout, BatchNorm read it).
  virtual void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  /// Clears (set_to_none = true) or zeroes every parameter's gradient.
  void zero_grad(bool set_to_none = true);
  /// Converts every floating parameter and buffer to dtype (in place: handles held by layers
  /// and optimizers see the new dtype; parameters stay leaves that require grad; existing
  /// .grad()s are converted). Throws xgrad::Error for int64.
  void to(Dtype dtype);
  /// Calls fn on this module and every descendant (children first, like PyTorch's apply).
  void apply(const std::function<void(Module&)>& fn);
  /// Total number of elements over parameters().
  std::int64_t num_parameters() const;

  // ---- state ----
  /// Parameters and buffers with dotted names (detached tensors sharing storage).
  TensorDict state_dict() const;
  /// Copies values into the registered tensors (under no-grad). strict: every missing key,
  /// every unexpected key and every shape or dtype mismatch is listed in ONE xgrad::Error.
  /// Non-strict: missing/unexpected keys are ignored but shape or dtype mismatches still throw.
  /// Everything is validated before the first copy, so a failed load changes nothing.
  void load_state_dict(const TensorDict& dict, bool strict = true);
  /// Writes state_dict() as an atomic safetensors file (readable by Python's safetensors).
  void save(const std::string& path, const Metadata& metadata = {}) const;
  /// Loads a safetensors file written by save() (or PyTorch) into this module (strict).
  void load(const std::string& path, bool strict = true);

  // ---- printing ----
  /// One-line description of this module's hyper-parameters, e.g. "in_features=2,
  /// out_features=3, bias=true". Override in layers.
  virtual std::string extra_repr() const { return ""; }
  /// PyTorch-style tree: "Sequential(\n  (0): Linear(in_features=2, ...)\n)".
  std::string repr() const;
  /// Runs a zero input of `input_shape` (batch dim included) through the module, recording
  /// each submodule's output shape with forward hooks, and returns a table: one row per
  /// module (the root first, then descendants indented by depth: "name (Type)", output shape
  /// or "-" when it was not called through operator(), recursive parameter count), then
  /// "Total params: N" and "Trainable params: N". Runs in eval mode under no-grad and restores
  /// every module's mode; shape errors of the forward propagate.
  std::string summary(const Shape& input_shape, Dtype dtype = Dtype::float32);

  // ---- hooks ----
  HookHandle register_forward_pre_hook(ForwardPreHook hook);
  HookHandle register_forward_hook(ForwardHook hook);
  HookHandle register_full_backward_hook(BackwardHook hook);

 protected:
  void register_module_impl(const std::string& name, std::shared_ptr<Module> module);
  void check_new_name(const std::string& name, std::string_view what) const;

  std::string name_;
  bool training_ = true;
  std::vector<std::pair<std::string, Tensor>> parameters_;
  std::vector<std::pair<std::string, Tensor>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;

 private:
  std::shared_ptr<int> hook_token_ = std::make_shared<int>(0);  // HookHandle liveness
  std::vector<std::pair<std::size_t, ForwardPreHook>> pre_hooks_;
  std::vector<std::pair<std::size_t, ForwardHook>> forward_hooks_;
  std::vector<std::pair<std::size_t, BackwardHook>> backward_hooks_;
};

std::ostream& operator<<(std::ostream& os, const Module& m);

}  // namespace xgrad::nn
