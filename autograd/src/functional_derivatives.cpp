// torch.autograd.functional on top of autograd::grad (see functional.hpp).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <optional>

#include "functional_batched.hpp"
#include "xgrad/autograd/autograd.hpp"
#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/forward_ad.hpp"
#include "xgrad/autograd/functional.hpp"
#include "xgrad/autograd/node.hpp"
#include "xgrad/autograd/shape.hpp"

namespace xgrad::autograd::functional {

namespace {

thread_local bool last_vectorized = false;  // see jacobian_last_was_vectorized

std::string shape_str(const Shape& s) { return fmt::format("[{}]", fmt::join(s, ", ")); }

void check_tensors(const std::vector<Tensor>& ts, const char* fname, const char* what) {
  for (std::size_t i = 0; i < ts.size(); ++i) {
    if (!ts[i].defined()) throw Error(fmt::format("{}: {} {} is undefined", fname, what, i));
    if (!is_floating(ts[i].dtype()))
      throw Error(fmt::format("{}: {} {} has dtype {}; only floating tensors (float32, float64) can be differentiated",
                              fname, what, i, ts[i].dtype()));
  }
}

// Copies of the inputs that require grad: detached, or (create_graph and the input requires
// grad) a differentiable alias, so the results stay differentiable w.r.t. the originals.
std::vector<Tensor> prepare_inputs(const std::vector<Tensor>& inputs, bool create_graph, const char* fname) {
  if (inputs.empty()) throw Error(fmt::format("{}: expected at least one input", fname));
  check_tensors(inputs, fname, "input");
  std::vector<Tensor> out;
  out.reserve(inputs.size());
  GradModeGuard on(true);
  for (const Tensor& x : inputs) {
    if (create_graph && x.requires_grad())
      out.push_back(x.view(x.shape()));
    else
      out.push_back(x.detach().requires_grad_(true));
  }
  return out;
}

std::vector<Tensor> call(const VectorFn& func, const std::vector<Tensor>& xs, const char* fname) {
  std::vector<Tensor> outs;
  {
    GradModeGuard on(true);
    outs = func(xs);
  }
  if (outs.empty()) throw Error(fmt::format("{}: the user-provided function returned no tensor", fname));
  check_tensors(outs, fname, "output");
  return outs;
}

// v given, or implied as 1 when every reference tensor has one element and there is one.
std::vector<Tensor> check_v(const std::vector<Tensor>& v, const std::vector<Tensor>& ref, const char* fname,
                            const char* ref_name) {
  if (v.empty()) {
    if (ref.size() != 1 || ref[0].numel() != 1)
      throw Error(fmt::format("{}: v can only be omitted when the {} is a single tensor with a single element "
                              "(got {} {}s, the first of shape {})",
                              fname, ref_name, ref.size(), ref_name, shape_str(ref[0].shape())));
    return {ones_like(ref[0])};
  }
  if (v.size() != ref.size())
    throw Error(fmt::format("{}: v has {} tensors but there are {} {}s", fname, v.size(), ref.size(), ref_name));
  check_tensors(v, fname, "entry of v");
  for (std::size_t i = 0; i < v.size(); ++i)
    if (v[i].shape() != ref[i].shape())
      throw Error(fmt::format("{}: entry {} of v has shape {} but {} {} has shape {}", fname, i,
                              shape_str(v[i].shape()), ref_name, i, shape_str(ref[i].shape())));
  return v;
}

// autograd::grad over the (output, seed) pairs whose output requires grad; undefined results
// for inputs that are unreachable (or when no output requires grad).
std::vector<Tensor> grad_filtered(const std::vector<Tensor>& outs, const std::vector<Tensor>& ins,
                                  const std::vector<Tensor>& seeds, bool create_graph, bool retain_graph) {
  std::vector<Tensor> o, s;
  for (std::size_t i = 0; i < outs.size(); ++i)
    if (outs[i].requires_grad()) {
      o.push_back(outs[i]);
      s.push_back(seeds[i]);
    }
  if (o.empty()) return std::vector<Tensor>(ins.size());
  GradOptions opt;
  opt.create_graph = create_graph;
  opt.retain_graph = retain_graph || create_graph;
  opt.allow_unused = true;
  return grad(o, ins, s, opt);
}

// Undefined gradients: strict -> throw `message` (with the index), else zeros like ref.
void fill_unused(std::vector<Tensor>& g, const std::vector<Tensor>& ref, bool strict, const char* fname,
                 const char* message) {
  for (std::size_t j = 0; j < g.size(); ++j) {
    if (g[j].defined()) continue;
    if (strict) throw Error(fmt::format("{}: {}", fname, fmt::format(fmt::runtime(message), j)));
    g[j] = zeros_like(ref[j]);
  }
}

std::vector<Tensor> postprocess(std::vector<Tensor> ts, bool create_graph) {
  if (!create_graph)
    for (Tensor& t : ts)
      if (t.defined()) t = t.detach();
  return ts;
}

Shape concat(const Shape& a, const Shape& b) {
  Shape s = a;
  s.insert(s.end(), b.begin(), b.end());
  return s;
}

// A seed of out's shape and dtype with a one at flat position k.
Tensor basis(const Tensor& out, std::int64_t k) {
  Tensor e = zeros(out.shape(), TensorOptions().dtype(out.dtype()));
  if (out.dtype() == Dtype::float64)
    e.data_ptr<double>()[k] = 1.0;
  else
    e.data_ptr<float>()[k] = 1.0f;
  return e;
}

VectorFn wrap(const TensorFn& f) {
  return [f](const std::vector<Tensor>& xs) { return std::vector<Tensor>{f(xs[0])}; };
}

Tensor single_element_output(const VectorFn& func, const std::vector<Tensor>& xs, const char* fname) {
  std::vector<Tensor> outs = call(func, xs, fname);
  if (outs.size() != 1 || outs[0].numel() != 1)
    throw Error(fmt::format("{}: the user-provided function must return a single tensor with a single element "
                            "(got {} tensors, the first of shape {})",
                            fname, outs.size(), shape_str(outs[0].shape())));
  return outs[0];
}

}  // namespace

std::pair<std::vector<Tensor>, std::vector<Tensor>> vjp(const VectorFn& func, const std::vector<Tensor>& inputs,
                                                        const std::vector<Tensor>& v, bool create_graph,
                                                        bool strict) {
  std::vector<Tensor> xs = prepare_inputs(inputs, create_graph, "vjp");
  std::vector<Tensor> outs = call(func, xs, "vjp");
  std::vector<Tensor> seeds = check_v(v, outs, "vjp", "output");
  std::vector<Tensor> g = grad_filtered(outs, xs, seeds, create_graph, false);
  fill_unused(g, inputs, strict, "vjp",
              "The output of the user-provided function is independent of input {}. This is not allowed in strict "
              "mode.");
  return {postprocess(std::move(outs), create_graph), postprocess(std::move(g), create_graph)};
}

std::pair<Tensor, Tensor> vjp(const TensorFn& func, const Tensor& input, const Tensor& v, bool create_graph,
                              bool strict) {
  auto [o, g] = vjp(wrap(func), {input}, v.defined() ? std::vector<Tensor>{v} : std::vector<Tensor>{},
                    create_graph, strict);
  return {o[0], g[0]};
}

std::pair<std::vector<Tensor>, std::vector<Tensor>> jvp(const VectorFn& func, const std::vector<Tensor>& inputs,
                                                        const std::vector<Tensor>& v, bool create_graph,
                                                        bool strict) {
  if (!create_graph && !strict && !forward_ad::is_active()) {
    check_tensors(inputs, "jvp", "input");
    const std::vector<Tensor> tangents = check_v(v, inputs, "jvp", "input");
    try {
      std::vector<Tensor> outs, jt;
      {
        forward_ad::DualLevel level;
        std::vector<Tensor> duals;
        for (std::size_t i = 0; i < inputs.size(); ++i)
          duals.push_back(forward_ad::make_dual(inputs[i].detach(), tangents[i].to(inputs[i].dtype())));
        outs = call(func, duals, "jvp");
        for (const Tensor& o : outs) {
          Tensor t = forward_ad::unpack_dual(o).tangent;
          jt.push_back(t.defined() ? t : zeros_like(o));
        }
      }
      return {postprocess(std::move(outs), false), postprocess(std::move(jt), false)};
    } catch (const forward_ad::NoForwardRule&) {
      // an op without a forward rule: the double-backward trick below
    }
  }
  std::vector<Tensor> xs = prepare_inputs(inputs, create_graph, "jvp");
  std::vector<Tensor> tangents = check_v(v, inputs, "jvp", "input");
  std::vector<Tensor> outs = call(func, xs, "jvp");
  // g(u) = J^T u is linear in the dummy seeds u; differentiating <g, v> w.r.t. u gives J v.
  std::vector<Tensor> u;
  for (const Tensor& o : outs) u.push_back(zeros_like(o).requires_grad_(true));
  std::vector<Tensor> g = grad_filtered(outs, xs, u, /*create_graph=*/true, true);
  fill_unused(g, inputs, strict, "jvp",
              "The output of the user-provided function is independent of input {}. This is not allowed in strict "
              "mode.");
  std::vector<Tensor> gj = grad_filtered(g, u, tangents, create_graph, false);
  fill_unused(gj, outs, strict, "jvp",
              "The gradient with respect to the input is independent of entry {} in the grad_outputs when using "
              "the double backward trick to compute forward mode gradients. This is not allowed in strict mode.");
  return {postprocess(std::move(outs), create_graph), postprocess(std::move(gj), create_graph)};
}

std::pair<Tensor, Tensor> jvp(const TensorFn& func, const Tensor& input, const Tensor& v, bool create_graph,
                              bool strict) {
  auto [o, g] = jvp(wrap(func), {input}, v.defined() ? std::vector<Tensor>{v} : std::vector<Tensor>{},
                    create_graph, strict);
  if (o.size() != 1) throw Error(fmt::format("jvp: the user-provided function returned {} tensors", o.size()));
  return {o[0], g[0]};
}

namespace {

// strategy = "forward-mode": one forward-mode pass per input element, its one-hot tangent
// giving a column of every output's Jacobian.
std::vector<std::vector<Tensor>> jacobian_forward(const VectorFn& func, const std::vector<Tensor>& inputs,
                                                  bool create_graph, bool strict) {
  if (create_graph)
    throw Error("jacobian: strategy 'forward-mode' does not support create_graph = true (tangents are constants); "
                "use 'reverse-mode'");
  if (strict)
    throw Error("jacobian: strict = true is not supported with strategy 'forward-mode' (as in PyTorch); use "
                "'reverse-mode'");
  if (forward_ad::is_active())
    throw Error("jacobian: strategy 'forward-mode' needs its own forward-mode level, and one is already open");
  if (inputs.empty()) throw Error("jacobian: expected at least one input");
  check_tensors(inputs, "jacobian", "input");
  std::vector<Tensor> outs = call(func, prepare_inputs(inputs, false, "jacobian"), "jacobian");
  // cols[i][j]: the columns d(outputs[i]) / d(inputs[j][k]) for k = 0, 1, ...
  std::vector<std::vector<std::vector<Tensor>>> cols(outs.size(), std::vector<std::vector<Tensor>>(inputs.size()));
  for (std::size_t j = 0; j < inputs.size(); ++j) {
    for (std::int64_t k = 0; k < inputs[j].numel(); ++k) {
      std::vector<Tensor> tangents_out;
      {
        forward_ad::DualLevel level;
        std::vector<Tensor> duals;
        for (std::size_t m = 0; m < inputs.size(); ++m) {
          const Tensor t = m == j ? basis(inputs[m], k) : zeros_like(inputs[m]);
          duals.push_back(forward_ad::make_dual(inputs[m].detach(), t));
        }
        const std::vector<Tensor> o = call(func, duals, "jacobian");
        if (o.size() != outs.size())
          throw Error(fmt::format("jacobian: the user-provided function returned {} tensors, then {}", outs.size(),
                                  o.size()));
        for (const Tensor& t : o) tangents_out.push_back(forward_ad::unpack_dual(t).tangent);
      }
      for (std::size_t i = 0; i < outs.size(); ++i)
        cols[i][j].push_back(tangents_out[i].defined() ? tangents_out[i].detach() : zeros_like(outs[i]));
    }
  }
  std::vector<std::vector<Tensor>> J(outs.size(), std::vector<Tensor>(inputs.size()));
  for (std::size_t i = 0; i < outs.size(); ++i)
    for (std::size_t j = 0; j < inputs.size(); ++j) {
      const Shape s = concat(outs[i].shape(), inputs[j].shape());
      J[i][j] = cols[i][j].empty() ? zeros(s, TensorOptions().dtype(outs[i].dtype()))
                                   : stack(cols[i][j], outs[i].dim()).reshape(s);
    }
  last_vectorized = false;
  return J;
}

}  // namespace

std::vector<std::vector<Tensor>> jacobian(const VectorFn& func, const std::vector<Tensor>& inputs,
                                          bool create_graph, bool strict, bool vectorize,
                                          const std::string& strategy) {
  if (strategy == "forward-mode") return jacobian_forward(func, inputs, create_graph, strict);
  if (strategy != "reverse-mode")
    throw Error(fmt::format("jacobian: expected strategy to be either 'forward-mode' or 'reverse-mode', got '{}'",
                            strategy));
  std::vector<Tensor> xs = prepare_inputs(inputs, create_graph, "jacobian");
  std::vector<Tensor> outs = call(func, xs, "jacobian");
  std::vector<std::vector<Tensor>> J(outs.size(), std::vector<Tensor>(inputs.size()));
  const bool batch = vectorize && !create_graph;  // create_graph: the loop (see the header)
  bool all_batched = batch;
  for (std::size_t i = 0; i < outs.size(); ++i) {
    const Tensor& out = outs[i];
    if (!out.requires_grad() && strict)
      throw Error(fmt::format("jacobian: Output {} of the user-provided function does not require gradients. The "
                              "outputs must be computed in a differentiable manner from the input when running in "
                              "strict mode.",
                              i));
    std::vector<std::vector<Tensor>> rows(inputs.size());
    std::vector<bool> used(inputs.size(), false);
    std::optional<std::vector<Tensor>> batched;
    if (batch && out.requires_grad() && out.numel() > 0) {
      batched = detail::batched_jacobian(out, xs);
      if (!batched) all_batched = false;
    }
    if (batched) {
      for (std::size_t j = 0; j < xs.size(); ++j)
        if ((*batched)[j].defined()) {
          used[j] = true;
          rows[j].push_back((*batched)[j]);  // all rows at once: [numel, *inputs[j].shape]
        }
    } else if (out.requires_grad()) {
      for (std::int64_t k = 0; k < out.numel(); ++k) {
        std::vector<Tensor> g = grad_filtered({out}, xs, {basis(out, k)}, create_graph, true);
        for (std::size_t j = 0; j < xs.size(); ++j) {
          if (g[j].defined()) {
            used[j] = true;
          } else {
            g[j] = zeros_like(inputs[j]);
          }
          rows[j].push_back(g[j]);
        }
      }
    }
    for (std::size_t j = 0; j < xs.size(); ++j) {
      if (strict && !used[j] && out.numel() > 0)
        throw Error(fmt::format("jacobian: Output {} of the user-provided function is independent of input {}. "
                                "This is not allowed in strict mode.",
                                i, j));
      Shape s = concat(out.shape(), inputs[j].shape());
      if (rows[j].empty())
        J[i][j] = zeros(s, TensorOptions().dtype(inputs[j].dtype()));
      else
        J[i][j] = (batched ? rows[j][0] : stack(rows[j], 0)).reshape(s);
      if (!create_graph) J[i][j] = J[i][j].detach();
    }
  }
  last_vectorized = all_batched;
  return J;
}

bool jacobian_last_was_vectorized() { return last_vectorized; }

Tensor jacobian(const TensorFn& func, const Tensor& input, bool create_graph, bool strict, bool vectorize,
                const std::string& strategy) {
  return jacobian(wrap(func), {input}, create_graph, strict, vectorize, strategy)[0][0];
}

std::vector<std::vector<Tensor>> hessian(const VectorFn& func, const std::vector<Tensor>& inputs,
                                         bool create_graph, bool strict, bool vectorize) {
  check_tensors(inputs, "hessian", "input");
  VectorFn gradient = [&](const std::vector<Tensor>& xs) {
    Tensor f = single_element_output(func, xs, "hessian");
    std::vector<Tensor> g = grad_filtered({f}, xs, {ones_like(f)}, /*create_graph=*/true, true);
    fill_unused(g, xs, strict, "hessian",
                "The output of the user-provided function is independent of input {}. This is not allowed in "
                "strict mode.");
    return g;
  };
  return jacobian(gradient, inputs, create_graph, strict, vectorize);
}

Tensor hessian(const TensorFn& func, const Tensor& input, bool create_graph, bool strict, bool vectorize) {
  return hessian(wrap(func), {input}, create_graph, strict, vectorize)[0][0];
}

namespace {

// Shared by hvp and vhp: f, its gradient (recorded), and the checked v.
struct SecondOrder {
  std::vector<Tensor> xs, v, g;
  Tensor f;
};

SecondOrder first_pass(const VectorFn& func, const std::vector<Tensor>& inputs, const std::vector<Tensor>& v,
                       bool create_graph, bool strict, const char* fname) {
  SecondOrder s;
  s.xs = prepare_inputs(inputs, create_graph, fname);
  s.v = check_v(v, inputs, fname, "input");
  s.f = single_element_output(func, s.xs, fname);
  s.g = grad_filtered({s.f}, s.xs, {ones_like(s.f)}, /*create_graph=*/true, true);
  fill_unused(s.g, inputs, strict, fname,
              "The output of the user-provided function is independent of input {}. This is not allowed in strict "
              "mode.");
  return s;
}

const char* kHessianIndependent =
    "The hessian of the user-provided function with respect to input {} is independent of the input. This is not "
    "allowed in strict mode.";

}  // namespace

std::pair<Tensor, std::vector<Tensor>> vhp(const VectorFn& func, const std::vector<Tensor>& inputs,
                                           const std::vector<Tensor>& v, bool create_graph, bool strict) {
  SecondOrder s = first_pass(func, inputs, v, create_graph, strict, "vhp");
  std::vector<Tensor> r = grad_filtered(s.g, s.xs, s.v, create_graph, false);
  fill_unused(r, inputs, strict, "vhp", kHessianIndependent);
  Tensor f = create_graph ? s.f : s.f.detach();
  return {f, postprocess(std::move(r), create_graph)};
}

std::pair<Tensor, Tensor> vhp(const TensorFn& func, const Tensor& input, const Tensor& v, bool create_graph,
                              bool strict) {
  auto [f, r] = vhp(wrap(func), {input}, v.defined() ? std::vector<Tensor>{v} : std::vector<Tensor>{}, create_graph,
                    strict);
  return {f, r[0]};
}

std::pair<Tensor, std::vector<Tensor>> hvp(const VectorFn& func, const std::vector<Tensor>& inputs,
                                           const std::vector<Tensor>& v, bool create_graph, bool strict) {
  SecondOrder s = first_pass(func, inputs, v, create_graph, strict, "hvp");
  // b(u) = H^T u is linear in the dummy seeds u; differentiating <b, v> w.r.t. u gives H v.
  std::vector<Tensor> u;
  for (const Tensor& x : s.xs) u.push_back(zeros_like(x).requires_grad_(true));
  std::vector<Tensor> b = grad_filtered(s.g, s.xs, u, /*create_graph=*/true, true);
  fill_unused(b, inputs, strict, "hvp", kHessianIndependent);
  std::vector<Tensor> r = grad_filtered(b, u, s.v, create_graph, false);
  fill_unused(r, inputs, strict, "hvp", kHessianIndependent);
  Tensor f = create_graph ? s.f : s.f.detach();
  return {f, postprocess(std::move(r), create_graph)};
}

std::pair<Tensor, Tensor> hvp(const TensorFn& func, const Tensor& input, const Tensor& v, bool create_graph,
                              bool strict) {
  auto [f, r] = hvp(wrap(func), {input}, v.defined() ? std::vector<Tensor>{v} : std::vector<Tensor>{}, create_graph,
                    strict);
  return {f, r[0]};
}

}  // namespace xgrad::autograd::functional
