#include "xgrad/autograd/function.hpp"

#include "kernel.hpp"

namespace xgrad {

namespace detail {

std::vector<Tensor> apply_custom(
    const std::string& name, const std::vector<Tensor>& inputs,
    const std::function<std::vector<Tensor>(FunctionCtx&)>& forward,
    std::function<std::vector<Tensor>(FunctionCtx&, const std::vector<Tensor>&)> backward) {
  for (const Tensor& t : inputs) check_defined(t, name);
  auto ctx = std::make_shared<FunctionCtx>();
  std::vector<Tensor> outs;
  {
    NoGradGuard ng;
    outs = forward(*ctx);
  }
  // An output that is one of the inputs (or shares its handle) gets a fresh handle, so that
  // recording does not rewrite the input's history.
  for (Tensor& o : outs) {
    check_defined(o, name);
    for (const Tensor& in : inputs)
      if (o.is_same(in)) o = o.detach();
    if (o.requires_grad()) o = o.detach();
  }
  if (!any_requires_grad(inputs)) return outs;

  ctx->needs_input_grad.clear();
  std::vector<Shape> shapes;
  for (const Tensor& in : inputs) {
    ctx->needs_input_grad.push_back(in.requires_grad());
    shapes.push_back(in.shape());
  }
  // Saved tensors go through record() (version checks, no cycle); the ctx must not keep them.
  std::vector<Tensor> to_save = std::move(ctx->to_save_);
  ctx->to_save_.clear();
  record(name, inputs, outs, to_save,
         [ctx, backward = std::move(backward), shapes, name](const std::vector<Tensor>& g, const std::vector<Tensor>& s) {
           ctx->saved_ = s;
           std::vector<Tensor> r = backward(*ctx, g);
           ctx->saved_.clear();
           if (r.size() != shapes.size())
             throw Error(fmt::format("{}: backward returned {} gradients but forward took {} tensor inputs", name,
                                     r.size(), shapes.size()));
           for (std::size_t i = 0; i < r.size(); ++i) {
             if (!r[i].defined()) continue;
             if (r[i].shape() != shapes[i] && !broadcasts_to(shapes[i], r[i].shape()))  // else the engine sums
               throw Error(fmt::format("{}: backward returned a gradient of shape {} for input {} of shape {}", name,
                                       r[i].shape(), i, shapes[i]));
             if (!ctx->needs_input_grad[i]) r[i] = Tensor();
           }
           return r;
         });
  for (const Tensor& nd : ctx->non_differentiable_)
    for (Tensor& o : outs)
      if (nd.defined() && o.impl()->storage == nd.impl()->storage) {
        o.impl()->requires_grad = false;
        o.impl()->grad_fn = nullptr;
      }
  ctx->non_differentiable_.clear();
  return outs;
}

}  // namespace detail

Tensor apply_lambda(const std::string& name, const std::vector<Tensor>& inputs, const LambdaForward& forward,
                    LambdaBackward backward) {
  const std::size_t n = inputs.size();
  auto outs = detail::apply_custom(
      name, inputs,
      [&](FunctionCtx& ctx) {
        Tensor out = forward(inputs);
        std::vector<Tensor> save = inputs;
        save.push_back(out);
        ctx.save_for_backward(save);
        return std::vector<Tensor>{out};
      },
      [backward = std::move(backward), n](FunctionCtx& ctx, const std::vector<Tensor>& g) {
        const auto& s = ctx.saved();
        std::vector<Tensor> ins(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(n));
        return backward(ins, s[n], g[0]);
      });
  return outs[0];
}

}  // namespace xgrad
