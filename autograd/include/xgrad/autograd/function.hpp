// User-defined differentiable ops, like torch::autograd::Function.
//
//   struct Cube : xgrad::Function<Cube> {
//     static xgrad::Tensor forward(xgrad::FunctionCtx& ctx, const xgrad::Tensor& x) {
//       ctx.save_for_backward({x});
//       return x * x * x;            // computed without recording
//     }
//     static std::vector<xgrad::Tensor> backward(xgrad::FunctionCtx& ctx,
//                                                const std::vector<xgrad::Tensor>& g) {
//       auto x = ctx.saved()[0];
//       return {g[0] * 3.0 * x * x};  // d(x^3)/dx = 3x^2
//     }
//   };
//   auto y = Cube::apply(x);
//
// forward(ctx, args...) receives apply's arguments as given, like libtorch's
// torch::autograd::Function: Tensor arguments (and each element of a std::vector<Tensor>
// argument) are the node's inputs; anything else (numbers, bools, strings, options structs,
// std::vector<int64_t>, ...) is passed through untouched. forward runs with grad mode off.
//
// backward returns one gradient per forward argument, libtorch's rule: an undefined Tensor
// for a non-tensor argument (a defined one throws) and for a tensor that needs none, one entry
// per element of a tensor-list argument; extra trailing undefined entries are ignored. A wrong
// count throws xgrad::Error "<Name>: backward returned 1 gradients, expected 2 (one per
// forward argument; undefined for non-tensor ones)"; a gradient whose shape neither equals
// nor broadcasts to its input's throws "<Name>: backward returned a gradient of shape [5] for
// argument 0, a tensor of shape [2]" (a broadcast one is summed back by the engine).
// backward runs with grad mode on only under create_graph, so a backward made of xgrad ops
// supports second derivatives, provided it uses saved inputs or outputs: an intermediate
// computed in forward has no history (recompute it in backward instead). Tensor arguments
// must be defined ("<Name>: expected a defined tensor"; libtorch accepts undefined ones).
//
// In-place custom ops: forward may modify a tensor argument in place and return it after
// ctx.mark_dirty({x}); apply then returns that same handle, its version counter bumped and
// its history rebased onto the custom node (PyTorch's mark_dirty; see FunctionCtx).
#pragma once

#include <any>
#include <functional>
#include <map>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "xgrad/autograd/node.hpp"

namespace xgrad {

/// Context shared by forward and backward of one call.
class FunctionCtx {
 public:
  /// Saves tensors (inputs or outputs) for backward. Each is checked on unpacking: backward
  /// throws "...has been modified by an in-place operation..." when its version changed.
  void save_for_backward(std::vector<Tensor> tensors) { to_save_ = std::move(tensors); }
  /// The saved tensors (available in backward).
  const std::vector<Tensor>& saved() const { return saved_; }
  /// Arbitrary non-tensor data (sizes, flags, ...).
  std::map<std::string, std::any> saved_data;
  /// Marks outputs of forward that are not differentiable (e.g. indices): they do not require
  /// grad and backward receives a zero gradient for them. Integer outputs are always so. An
  /// input returned as such an output comes back as a detached alias (no history).
  void mark_non_differentiable(std::vector<Tensor> outputs) { non_differentiable_ = std::move(outputs); }
  /// Declares that forward modified these tensor arguments in place (PyTorch's mark_dirty).
  /// Each must also be returned by forward. apply then returns the input's own handle, bumps
  /// its version counter (so tensors saved earlier by other ops detect the change) and rebases
  /// its history onto the custom node, as a built-in in-place op does (for a view: its base
  /// gets a CopySlices node). Throws after forward, with grad mode on, for a leaf that
  /// requires grad ("<Name>: a leaf tensor that requires grad (...) is being used in an
  /// in-place operation"; the data has been modified by then, as in PyTorch), for a view of
  /// such a leaf, and when a dirty tensor is not among the outputs.
  void mark_dirty(std::vector<Tensor> inputs) { dirty_ = std::move(inputs); }
  /// Per forward argument (set before backward): true when that argument is a tensor that
  /// requires grad; false for non-tensor arguments. A tensor-list argument has one entry per
  /// element. Indexed like backward's result (Python's ctx.needs_input_grad; libtorch's
  /// needs_input_grad(i) counts tensor inputs only).
  std::vector<bool> needs_input_grad;

  // internal
  std::vector<Tensor> to_save_;
  std::vector<Tensor> saved_;
  std::vector<Tensor> non_differentiable_;
  std::vector<Tensor> dirty_;
};

namespace detail {
/// Runs a custom function: `forward` computes outputs with grad mode off, then a node named
/// `name` is recorded whose backward calls `backward` and checks its result.
/// `arg_is_tensor` has one entry per (flattened) forward argument, true for the tensors,
/// which are `inputs` in order; empty means every argument is a tensor.
std::vector<Tensor> apply_custom(
    const std::string& name, const std::vector<Tensor>& inputs,
    const std::function<std::vector<Tensor>(FunctionCtx&)>& forward,
    std::function<std::vector<Tensor>(FunctionCtx&, const std::vector<Tensor>&)> backward,
    std::vector<bool> arg_is_tensor = {});

/// Splits one apply() argument into node inputs: a Tensor (or a class derived from it) is one
/// input, a std::vector<Tensor> one input per element, anything else none.
template <class A>
void collect_argument(const A& a, std::vector<Tensor>& inputs, std::vector<bool>& is_tensor) {
  using D = std::remove_cvref_t<A>;
  if constexpr (std::is_base_of_v<Tensor, D>) {
    inputs.push_back(a);
    is_tensor.push_back(true);
  } else if constexpr (std::is_same_v<D, std::vector<Tensor>>) {
    for (const Tensor& t : a) {
      inputs.push_back(t);
      is_tensor.push_back(true);
    }
  } else {
    is_tensor.push_back(false);
  }
}
}  // namespace detail

/// CRTP base: Derived provides static forward(FunctionCtx&, Args...) returning a Tensor or
/// std::vector<Tensor>, and static backward(FunctionCtx&, const std::vector<Tensor>& grads)
/// returning std::vector<Tensor> (one entry per forward argument, see above). Override
/// `static std::string name()` to name the node (default "CustomFunctionBackward").
template <class Derived>
struct Function {
  static std::string name() { return "CustomFunctionBackward"; }

  /// Calls Derived::forward(ctx, args...) (arguments forwarded as given) and records the
  /// node when grad mode is on and a tensor argument requires grad.
  template <class... Args>
  static auto apply(Args&&... args) {
    std::vector<Tensor> inputs;
    std::vector<bool> is_tensor;
    (detail::collect_argument(args, inputs, is_tensor), ...);
    using Ret = decltype(Derived::forward(std::declval<FunctionCtx&>(), std::forward<Args>(args)...));
    static_assert(std::is_same_v<Ret, Tensor> || std::is_same_v<Ret, std::vector<Tensor>>,
                  "Function: forward must return xgrad::Tensor or std::vector<xgrad::Tensor>");
    auto outs = detail::apply_custom(
        Derived::name(), inputs,
        [&](FunctionCtx& ctx) -> std::vector<Tensor> {
          if constexpr (std::is_same_v<Ret, Tensor>) {
            return {Derived::forward(ctx, std::forward<Args>(args)...)};
          } else {
            return Derived::forward(ctx, std::forward<Args>(args)...);
          }
        },
        [](FunctionCtx& ctx, const std::vector<Tensor>& g) { return Derived::backward(ctx, g); },
        std::move(is_tensor));
    if constexpr (std::is_same_v<Ret, Tensor>) {
      return outs[0];
    } else {
      return outs;
    }
  }
};

/// The lighter form: two lambdas. forward(inputs) -> output (grad mode off);
/// backward(inputs, output, grad_output) -> one gradient per input (undefined = none). The
/// inputs and the output are saved for backward (with version checks). The same count and
/// shape checks as Function apply, naming the node `name`.
using LambdaForward = std::function<Tensor(const std::vector<Tensor>& inputs)>;
using LambdaBackward = std::function<std::vector<Tensor>(const std::vector<Tensor>& inputs, const Tensor& output,
                                                         const Tensor& grad_output)>;
Tensor apply_lambda(const std::string& name, const std::vector<Tensor>& inputs, const LambdaForward& forward,
                    LambdaBackward backward);

}  // namespace xgrad
