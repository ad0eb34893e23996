// Activation checkpointing, like PyTorch's torch.utils.checkpoint (the reentrant variant):
// trade compute for memory by not keeping a block's intermediates and recomputing them in
// backward.
//
// checkpoint(fn, inputs) runs fn(inputs) with grad mode off (nothing inside fn is recorded or
// saved) and records one node "CheckpointBackward" holding only `inputs`. Its backward re-runs
// fn with grad mode on, on detached copies of the inputs (requiring grad where the originals
// do), then backpropagates the incoming gradients through the recomputed graph with
// autograd::backward: the inputs receive their gradients through the node, and tensors that
// fn captures (parameters) get theirs accumulated into .grad() directly, as in PyTorch.
// Gradients are bit-identical to running fn without checkpointing when fn is deterministic
// given the random state.
//
// Random state (as PyTorch): with preserve_rng_state = true, checkpoint saves the global
// generator's state before running fn (get_rng_state, random_state.hpp) and replays it for
// the recomputation, restoring afterwards the state backward found: the recomputation's
// dropout masks are the forward's, and the program's random stream is exactly that of a run
// without checkpoint. preserve_rng_state = false leaves the generator alone (recomputed
// random ops then draw new values).
//
// Also unlike PyTorch's reentrant checkpoint: when grad mode is on but no input requires grad,
// the node is still recorded (on a hidden dummy input), so captured parameters still get
// gradients. With grad mode off, checkpoint just returns fn(inputs).
// Not supported: differentiating the gradients again (create_graph through the node computes
// the recomputation's backward without recording it) and autograd::grad with respect to a
// captured parameter (its gradient goes to .grad(), as PyTorch's reentrant variant).
//
// Throws xgrad::Error: "checkpoint: ..." for an undefined input, fn returning no tensor or an
// undefined one; "checkpoint_sequential: ..." for segments < 1 or more segments than functions.
#pragma once

#include <cstdint>
#include <functional>
#include <type_traits>
#include <utility>
#include <vector>

#include "xgrad/autograd/tensor.hpp"

namespace xgrad::autograd {

/// Several outputs: returns fn(inputs) (values bit-identical to the plain call).
std::vector<Tensor> checkpoint(const std::function<std::vector<Tensor>(const std::vector<Tensor>&)>& fn,
                               const std::vector<Tensor>& inputs, bool preserve_rng_state = true);

/// fn returning one Tensor (a std::function<Tensor(const std::vector<Tensor>&)> or lambda).
template <class F>
  requires std::is_invocable_r_v<Tensor, const F&, const std::vector<Tensor>&> &&
           (!std::is_invocable_r_v<std::vector<Tensor>, const F&, const std::vector<Tensor>&>)
Tensor checkpoint(const F& fn, const std::vector<Tensor>& inputs, bool preserve_rng_state = true) {
  return checkpoint([fn](const std::vector<Tensor>& xs) { return std::vector<Tensor>{fn(xs)}; }, inputs,
                    preserve_rng_state)[0];
}

namespace detail {
[[noreturn]] void throw_bad_segments(std::int64_t segments, std::int64_t n);

/// Calls one element of a sequence: a callable f(x), or a module-like f->forward(x) or f.forward(x).
template <class E>
Tensor call_element(const E& e, const Tensor& x) {
  if constexpr (std::is_invocable_v<const E&, const Tensor&>)
    return e(x);
  else if constexpr (requires { e->forward(x); })
    return e->forward(x);
  else
    return e.forward(x);
}
}  // namespace detail

/// PyTorch's checkpoint_sequential: splits `functions` (anything with size() and operator[]
/// returning callables Tensor(const Tensor&), or (pointers to) modules with forward(Tensor),
/// e.g. a std::vector<std::function<Tensor(const Tensor&)>>) into `segments` consecutive
/// segments of size()/segments functions, the last one taking the remainder; runs every
/// segment but the last through checkpoint and the last one normally. Returns the output of
/// the last function. Requires 1 <= segments <= size(). `functions` must outlive backward.
template <class Seq>
Tensor checkpoint_sequential(const Seq& functions, std::int64_t segments, const Tensor& input,
                             bool preserve_rng_state = true) {
  const auto n = static_cast<std::int64_t>(functions.size());
  if (segments < 1 || segments > n) detail::throw_bad_segments(segments, n);
  const std::int64_t size = n / segments;
  auto run = [&functions](std::int64_t begin, std::int64_t end, Tensor x) {
    for (std::int64_t k = begin; k < end; ++k) x = detail::call_element(functions[static_cast<std::size_t>(k)], x);
    return x;
  };
  Tensor x = input;
  std::int64_t start = 0;
  for (std::int64_t s = 0; s + 1 < segments; ++s, start += size) {
    const std::int64_t b = start, e = start + size;
    x = checkpoint([run, b, e](const std::vector<Tensor>& xs) { return run(b, e, xs[0]); }, std::vector<Tensor>{x},
                   preserve_rng_state);
  }
  return run(start, n, x);
}

}  // namespace xgrad::autograd
