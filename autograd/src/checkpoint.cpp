// Activation checkpointing (see checkpoint.hpp).
#include "xgrad/autograd/checkpoint.hpp"

#include <fmt/format.h>

#include <memory>

#include "xgrad/autograd/autograd.hpp"
#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/function.hpp"
#include "xgrad/autograd/node.hpp"
#include "xgrad/autograd/random_state.hpp"

namespace xgrad::autograd {

namespace detail {
void throw_bad_segments(std::int64_t segments, std::int64_t n) {
  throw Error(fmt::format("checkpoint_sequential: segments must be between 1 and the number of functions ({}), got {}",
                          n, segments));
}
}  // namespace detail

namespace {

std::vector<Tensor> call_fn(const std::function<std::vector<Tensor>(const std::vector<Tensor>&)>& fn,
                            const std::vector<Tensor>& xs) {
  std::vector<Tensor> outs = fn(xs);
  if (outs.empty()) throw Error("checkpoint: the function returned no tensor");
  for (std::size_t i = 0; i < outs.size(); ++i)
    if (!outs[i].defined()) throw Error(fmt::format("checkpoint: output {} of the function is undefined", i));
  return outs;
}

}  // namespace

std::vector<Tensor> checkpoint(const std::function<std::vector<Tensor>(const std::vector<Tensor>&)>& fn,
                               const std::vector<Tensor>& inputs, bool preserve_rng_state) {
  for (std::size_t i = 0; i < inputs.size(); ++i)
    if (!inputs[i].defined()) throw Error(fmt::format("checkpoint: input {} is undefined", i));
  if (!grad_mode_enabled()) return call_fn(fn, inputs);

  std::vector<Tensor> node_inputs = inputs;
  bool any = false;
  for (const Tensor& x : inputs) any = any || x.requires_grad();
  // A dummy input that requires grad, so the node is recorded and captured parameters get
  // gradients even when no real input requires grad.
  if (!any) node_inputs.push_back(zeros({0}, TensorOptions().dtype(Dtype::float32)).requires_grad_(true));
  const std::size_t n = inputs.size();

  // The generator as fn found it, replayed by the recomputation.
  auto state = std::make_shared<std::mt19937_64>();
  auto outs = xgrad::detail::apply_custom(
      "CheckpointBackward", node_inputs,
      [&](FunctionCtx& ctx) {
        ctx.save_for_backward(inputs);
        if (preserve_rng_state) *state = get_rng_state();
        return call_fn(fn, inputs);
      },
      [fn, state, preserve_rng_state, n, extra = node_inputs.size() - n](FunctionCtx& ctx,
                                                                          const std::vector<Tensor>& grads) {
        const std::vector<Tensor>& saved = ctx.saved();
        std::vector<Tensor> xs;
        for (std::size_t i = 0; i < n; ++i) {
          Tensor d = saved[i].detach();
          if (ctx.needs_input_grad[i]) d.requires_grad_(true);
          xs.push_back(d);
        }
        std::vector<Tensor> outs;
        {
          GradModeGuard on(true);
          if (preserve_rng_state) {
            const std::mt19937_64 now = get_rng_state();
            set_rng_state(*state);
            outs = call_fn(fn, xs);
            set_rng_state(now);
          } else {
            outs = call_fn(fn, xs);
          }
        }
        std::vector<Tensor> o, g;
        for (std::size_t i = 0; i < outs.size() && i < grads.size(); ++i)
          if (outs[i].requires_grad() && grads[i].defined()) {
            o.push_back(outs[i]);
            g.push_back(grads[i]);
          }
        if (!o.empty()) {
          GradModeGuard off(false);
          backward(o, g);
        }
        std::vector<Tensor> result(n + extra);
        for (std::size_t i = 0; i < n; ++i)
          if (xs[i].requires_grad()) result[i] = xs[i].grad();
        return result;
      });
  return outs;
}

}  // namespace xgrad::autograd
