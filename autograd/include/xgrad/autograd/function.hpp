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
// forward runs with grad mode off. backward returns one gradient per tensor argument of
// forward (undefined = none); the engine checks the count and each shape against the input
// and throws xgrad::Error naming the function otherwise. backward runs with grad mode on only
// under create_graph, so a backward made of xgrad ops supports second derivatives.
#pragma once

#include <any>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "xgrad/autograd/node.hpp"

namespace xgrad {

/// Context shared by forward and backward of one call.
class FunctionCtx {
 public:
  /// Saves tensors (inputs or outputs) for backward with version checks.
  void save_for_backward(std::vector<Tensor> tensors) { to_save_ = std::move(tensors); }
  /// The saved tensors (available in backward).
  const std::vector<Tensor>& saved() const { return saved_; }
  /// Arbitrary non-tensor data (sizes, flags, ...).
  std::map<std::string, std::any> saved_data;
  /// Marks outputs of forward that are not differentiable (e.g. indices): they do not require
  /// grad and backward receives a zero gradient for them. Integer outputs are always so.
  void mark_non_differentiable(std::vector<Tensor> outputs) { non_differentiable_ = std::move(outputs); }
  /// Which forward inputs need a gradient (set before backward).
  std::vector<bool> needs_input_grad;

  // internal
  std::vector<Tensor> to_save_;
  std::vector<Tensor> saved_;
  std::vector<Tensor> non_differentiable_;
};

namespace detail {
/// Runs a custom function: `forward` computes outputs with grad mode off, then a node named
/// `name` is recorded whose backward calls `backward` and checks its result.
std::vector<Tensor> apply_custom(
    const std::string& name, const std::vector<Tensor>& inputs,
    const std::function<std::vector<Tensor>(FunctionCtx&)>& forward,
    std::function<std::vector<Tensor>(FunctionCtx&, const std::vector<Tensor>&)> backward);
}  // namespace detail

/// CRTP base: Derived provides static forward(FunctionCtx&, const Tensor&...) returning a
/// Tensor or std::vector<Tensor>, and static backward(FunctionCtx&, const std::vector<Tensor>&)
/// returning std::vector<Tensor>. Override `static std::string name()` to name the node
/// (default "CustomFunctionBackward").
template <class Derived>
struct Function {
  static std::string name() { return "CustomFunctionBackward"; }

  template <class... Args>
  static auto apply(const Args&... args) {
    std::vector<Tensor> inputs{args...};
    using Ret = decltype(Derived::forward(std::declval<FunctionCtx&>(), args...));
    auto outs = detail::apply_custom(
        Derived::name(), inputs,
        [&](FunctionCtx& ctx) -> std::vector<Tensor> {
          if constexpr (std::is_same_v<Ret, Tensor>) {
            return {Derived::forward(ctx, args...)};
          } else {
            return Derived::forward(ctx, args...);
          }
        },
        [](FunctionCtx& ctx, const std::vector<Tensor>& g) { return Derived::backward(ctx, g); });
    if constexpr (std::is_same_v<Ret, Tensor>) {
      return outs[0];
    } else {
      return outs;
    }
  }
};

/// The lighter form: two lambdas. forward(inputs) -> output (grad mode off);
/// backward(inputs, output, grad_output) -> one gradient per input.
using LambdaForward = std::function<Tensor(const std::vector<Tensor>& inputs)>;
using LambdaBackward = std::function<std::vector<Tensor>(const std::vector<Tensor>& inputs, const Tensor& output,
                                                         const Tensor& grad_output)>;
Tensor apply_lambda(const std::string& name, const std::vector<Tensor>& inputs, const LambdaForward& forward,
                    LambdaBackward backward);

}  // namespace xgrad
