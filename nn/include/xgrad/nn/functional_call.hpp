// nn::functional_call: run a Module's forward with given parameters and buffers instead of its
// own, without changing the module (like torch.func.functional_call). The given tensors may
// carry a graph (e.g. parameters after a differentiable optimizer step), so the output is
// differentiable w.r.t. them, to any order:
//
//   auto net = std::make_shared<xgrad::nn::Sequential>(...);
//   std::map<std::string, xgrad::Tensor> fast;              // "0.weight", "0.bias", ...
//   for (auto& [name, p] : net->named_parameters()) fast[name] = p - 0.1 * grads[name];
//   xgrad::Tensor y = xgrad::nn::functional_call(*net, fast, x);   // y depends on `fast`
//
// Names are those of named_parameters() / named_buffers() (dotted: "fc1.weight",
// "0.running_mean"); a tensor registered under several names (tied weights) may be given
// under any of them and is substituted everywhere it is registered (PyTorch's
// tie_weights=True); giving two of its names different tensors throws.
//
// Missing names keep the module's own tensors (PyTorch's default strict=false; strict=true
// throws for them). Unexpected names always throw (PyTorch with strict=false would silently
// set them as new attributes of the Python module, which has no C++ equivalent). The given
// tensors are not checked against the registered shapes or dtypes (as in PyTorch): a
// mismatch surfaces as the forward's own error. Buffers updated in place by the forward
// (BatchNorm's running statistics in training mode) are updated in the GIVEN tensors when
// they are substituted, as in PyTorch.
//
// Mechanism and guarantees. A layer keeps handles to its registered tensors in member fields
// (Linear::weight), sharing the TensorImpl with the module's registry, and the graph recorded
// by the forward keeps handles to the tensors it saved for backward. So the substitution must
// not change the registered TensorImpl: a saved handle to it would see the old values again
// once the call is over. functional_call therefore REBINDS handles: for the duration of the
// call every registry entry and every known member field that holds a substituted tensor is
// pointed at the given tensor, then pointed back (also when the forward throws). The graph
// then references only the given tensors, the module's tensors are never written, and after
// the call the module holds exactly its old tensors (same TensorImpl, values, requires_grad,
// grad). Other handles to the module's tensors (an optimizer's, a closure's) keep seeing the
// module's own values during the call.
//
// Member fields are known for the built-in layers (Linear, Bilinear, Conv1d/2d/3d,
// ConvTranspose1d/2d, BatchNorm1d/2d/3d, InstanceNorm1d/2d/3d, GroupNorm, LayerNorm, RMSNorm,
// Embedding, EmbeddingBag, MultiheadAttention, RNNCell, LSTMCell, GRUCell, RNN, LSTM, GRU)
// and for the types registered with register_functional_slots() (matched by exact dynamic
// type; a subclass must register itself). Containers and user modules that own no tensors of
// their own (only children) need nothing. For a tensor registered directly in a module of
// another type, whose member fields are unknown, functional_call falls back to substituting
// the CONTENTS of the registered TensorImpl for the duration of the call (its data and
// autograd identity become the given tensor's, then are restored), and afterwards checks
// that nothing created during the call kept a handle to that TensorImpl (a tensor saved for
// backward, a view, the result): if something did, the result would silently read the old
// values later, so functional_call throws instead, telling to register the type's slots.
// During such a fallback call, other handles to that module tensor see the given values.
//
// Thread safety: the module is modified while the call runs (handles rebound, contents
// substituted) and restored after: the module, and for the fallback its tensors, must not be
// used by another thread during the call. Modules must not register new parameters, buffers
// or children during the call.
//
// Throws xgrad::Error naming the module type: unexpected names ("functional_call: Linear has
// no parameter or buffer named 'weights' (it has: weight, bias)"), missing names when strict,
// an undefined given tensor, tied names given different tensors, and the fallback's retained
// handle. Errors of the forward propagate (after the module is restored).
#pragma once

#include <concepts>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <typeindex>
#include <utility>
#include <vector>

#include "xgrad/autograd/node.hpp"
#include "xgrad/autograd/tensor.hpp"
#include "xgrad/nn/module.hpp"

namespace xgrad::nn {

/// The member fields of a module that hold handles to its own registered tensors (the Tensor
/// objects themselves, so functional_call can rebind them).
using TensorSlots = std::vector<Tensor*>;

namespace detail {
void register_functional_slots(std::type_index type, std::function<TensorSlots(Module&)> slots);

/// Substitutes on construction, restores on destruction (never throws there). finish()
/// runs the fallback's retained-handle check; call it after the computation.
class FunctionalCallScope {
 public:
  FunctionalCallScope(Module& module, const std::map<std::string, Tensor>& tensors, bool strict);
  ~FunctionalCallScope();
  FunctionalCallScope(const FunctionalCallScope&) = delete;
  FunctionalCallScope& operator=(const FunctionalCallScope&) = delete;
  void finish();

 private:
  struct Rebound {
    Tensor* slot;
    Tensor old;
  };
  struct Patched {
    std::shared_ptr<TensorImpl> target;  // the module's TensorImpl whose contents were replaced
    TensorImpl saved;                    // its own contents, restored at the end
    long baseline = 0;                   // target.use_count() when the computation started
    std::string name, owner;
  };
  void setup(Module& module, const std::map<std::string, Tensor>& tensors, bool strict);
  void restore() noexcept;

  std::string module_name_;
  std::vector<Rebound> rebound_;
  std::vector<Patched> patched_;
  std::vector<Edge> keep_;  // accumulators of given leaves, alive while patched contents point at them
  bool restored_ = false;
};
}  // namespace detail

/// Tells functional_call where modules of exact dynamic type M keep handles to their own
/// parameters and buffers: `slots(m)` returns pointers to those member fields (undefined
/// fields may be included; pointers must stay valid while m lives). Registering a type again
/// replaces its entry. Thread-safe.
///
///   struct Scale : xgrad::nn::Module {
///     Scale() { s = register_parameter("s", xgrad::ones({1})); }
///     xgrad::Tensor forward(const xgrad::Tensor& x) override { return x * s; }
///     xgrad::Tensor s;
///   };
///   xgrad::nn::register_functional_slots<Scale>([](Scale& m) { return xgrad::nn::TensorSlots{&m.s}; });
template <class M>
void register_functional_slots(std::function<TensorSlots(M&)> slots) {
  static_assert(std::is_base_of_v<Module, M>, "register_functional_slots: M must derive from nn::Module");
  detail::register_functional_slots(typeid(M),
                                    [slots = std::move(slots)](Module& m) { return slots(static_cast<M&>(m)); });
}

/// Calls f() with `tensors` substituted for the module's parameters and buffers of the same
/// names (see the top of this file), and returns what f returns. For modules with several
/// inputs or outputs: functional_call(mha, params, [&] { return mha(q, k, v); }).
template <class F>
requires std::invocable<F&>
decltype(auto) functional_call(Module& module, const std::map<std::string, Tensor>& tensors, F&& f,
                               bool strict = false) {
  detail::FunctionalCallScope scope(module, tensors, strict);
  if constexpr (std::is_void_v<std::invoke_result_t<F&>>) {
    std::invoke(f);
    scope.finish();
  } else {
    std::invoke_result_t<F&> result = std::invoke(f);
    scope.finish();
    return result;
  }
}

/// module(input) (forward hooks included) with `tensors` substituted for the module's
/// parameters and buffers of the same names (see the top of this file).
Tensor functional_call(Module& module, const std::map<std::string, Tensor>& tensors, const Tensor& input,
                       bool strict = false);

}  // namespace xgrad::nn
