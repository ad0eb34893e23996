#include "xgrad/autograd/function.hpp"
#include "xgrad/autograd/forward_ad.hpp"

#include "kernel.hpp"
#include "view.hpp"

namespace xgrad {

namespace detail {

namespace {

bool contains(const std::vector<Tensor>& list, const Tensor& t) {
  for (const Tensor& x : list)
    if (x.defined() && x.is_same(t)) return true;
  return false;
}

}  // namespace

std::vector<Tensor> apply_custom(
    const std::string& name, const std::vector<Tensor>& inputs,
    const std::function<std::vector<Tensor>(FunctionCtx&)>& forward,
    std::function<std::vector<Tensor>(FunctionCtx&, const std::vector<Tensor>&)> backward,
    std::vector<bool> arg_is_tensor) {
  for (const Tensor& t : inputs) check_defined(t, name);
  if (arg_is_tensor.empty()) arg_is_tensor.assign(inputs.size(), true);
  auto ctx = std::make_shared<FunctionCtx>();
  std::vector<Tensor> outs;
  {
    NoGradGuard ng;
    outs = forward(*ctx);
  }
  const std::vector<Tensor> dirty = std::move(ctx->dirty_);
  const std::vector<Tensor> non_diff = std::move(ctx->non_differentiable_);
  ctx->dirty_.clear();
  ctx->non_differentiable_.clear();
  for (const Tensor& d : dirty) {
    check_defined(d, name + " (mark_dirty)");
    bool returned = false;
    for (const Tensor& o : outs) returned = returned || (o.defined() && o.is_same(d));
    if (!returned)
      throw Error(fmt::format("{}: a tensor marked dirty ({}) was not returned by forward; the inputs that are "
                              "modified in place must all be outputs of the function",
                              name, d.describe()));
    check_inplace_target(d, name);
  }
  for (const Tensor& d : dirty) ++d.impl()->storage->version;  // PyTorch bumps every dirty tensor

  // What each output becomes: a dirty input keeps its handle (history rebased below); another
  // output that is one of the inputs (or requires grad) gets a fresh handle, so that recording
  // does not rewrite the input's history.
  std::vector<char> nd(outs.size(), 0), is_dirty(outs.size(), 0);
  for (std::size_t i = 0; i < outs.size(); ++i) {
    Tensor& o = outs[i];
    check_defined(o, name);
    nd[i] = contains(non_diff, o);
    is_dirty[i] = contains(dirty, o) && contains(inputs, o) && !nd[i];
    if (is_dirty[i]) continue;
    if (contains(inputs, o) || o.requires_grad()) o = o.detach();
  }
  if (!any_requires_grad(inputs)) return outs;
  if (!dirty.empty() && any_has_tangent(inputs))
    throw Error(fmt::format("{}: forward-mode AD through a custom Function that modifies its inputs in place "
                            "(mark_dirty) is not supported; return a new tensor instead",
                            name));

  // record() sees, for a dirty view, a fresh alias carrying the node's output; the view's
  // base then gets a CopySlices node (as for built-in in-place ops through views).
  std::vector<Tensor> recorded = outs;
  std::vector<Tensor> to_save = std::move(ctx->to_save_);
  ctx->to_save_.clear();
  for (std::size_t i = 0; i < outs.size(); ++i) {
    if (!is_dirty[i] || !outs[i].impl()->view) continue;
    const ViewInfo& view = *outs[i].impl()->view;
    if (!view.differentiable)
      throw Error(fmt::format("{}: {} is a view created in no-grad mode and was marked dirty with grad mode on and an "
                              "input that requires grad; make it outside the NoGradGuard, or clone() it",
                              name, outs[i].describe()));
    if (view.multi_output)
      throw Error(fmt::format("{}: {} is one of multiple views returned by one op (unbind, split, chunk) and was "
                              "marked dirty while autograd is involved (PyTorch forbids this too); clone() it",
                              name, outs[i].describe()));
    recorded[i] = outs[i].detach();
    for (Tensor& s : to_save)
      if (s.defined() && s.is_same(outs[i])) s = recorded[i];
  }

  ctx->needs_input_grad.clear();
  std::vector<Shape> shapes;  // per argument; empty for non-tensors
  std::vector<bool> is_tensor = arg_is_tensor;
  for (std::size_t a = 0, t = 0; a < arg_is_tensor.size(); ++a) {
    if (!arg_is_tensor[a]) {
      ctx->needs_input_grad.push_back(false);
      shapes.emplace_back();
      continue;
    }
    ctx->needs_input_grad.push_back(inputs[t].requires_grad());
    shapes.push_back(inputs[t].shape());
    ++t;
  }
  // Saved tensors go through record() (version checks, no cycle); the ctx must not keep them.
  record(name, inputs, recorded, to_save,
         [ctx, backward = std::move(backward), shapes, is_tensor, name](const std::vector<Tensor>& g,
                                                                        const std::vector<Tensor>& s) {
           ctx->saved_ = s;
           std::vector<Tensor> r = backward(*ctx, g);
           ctx->saved_.clear();
           const std::size_t n = is_tensor.size();
           // libtorch ignores extra trailing undefined gradients.
           while (r.size() > n && !r.back().defined()) r.pop_back();
           if (r.size() != n)
             throw Error(fmt::format("{}: backward returned {} gradients, expected {} (one per forward argument; "
                                     "undefined for non-tensor ones)",
                                     name, r.size(), n));
           std::vector<Tensor> per_input;
           for (std::size_t i = 0; i < n; ++i) {
             if (!is_tensor[i]) {
               if (r[i].defined())
                 throw Error(fmt::format("{}: backward returned a defined gradient (shape {}) for argument {}, which "
                                         "is not a tensor; return an undefined Tensor() there",
                                         name, r[i].shape(), i));
               continue;
             }
             if (r[i].defined() && r[i].shape() != shapes[i] && !broadcasts_to(shapes[i], r[i].shape()))
               throw Error(fmt::format("{}: backward returned a gradient of shape {} for argument {}, a tensor of "
                                       "shape {}",
                                       name, r[i].shape(), i, shapes[i]));
             per_input.push_back(ctx->needs_input_grad[i] ? r[i] : Tensor());
           }
           return per_input;
         });
  for (std::size_t i = 0; i < outs.size(); ++i) {
    if (nd[i]) {
      outs[i].impl()->requires_grad = false;
      outs[i].impl()->grad_fn = nullptr;
    } else if (is_dirty[i] && outs[i].impl()->view) {
      rebase_view_history(outs[i], recorded[i]);
      auto& view = *outs[i].impl()->view;
      view.version = outs[i].impl()->storage->version - 1;  // stale: the view's grad_fn is regenerated
    }
  }
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
