// Functional derivatives, like PyTorch's torch.autograd.functional: vjp, jvp, jacobian,
// hessian, hvp, vhp of a function of several tensors returning one or several tensors.
//
// Common rules (PyTorch's):
// - `func` is called once (jacobian/hessian: once) on copies of `inputs` that require grad
//   (detached copies; under create_graph, differentiable aliases of inputs that require grad,
//   so the results can be differentiated again with respect to the original inputs).
// - Every input, output and `v` must be a defined floating tensor (float32/float64).
// - create_graph = false: the returned outputs and derivatives are detached.
// - strict = false: a derivative with respect to an input the outputs do not depend on is a
//   zero tensor; strict = true throws instead, with PyTorch's messages, e.g. "vjp: The output
//   of the user-provided function is independent of input 0. This is not allowed in strict
//   mode."
// - Errors are xgrad::Error prefixed by the function's name: func returning no tensor or an
//   undefined one, a v whose count or shapes differ from the outputs' (vjp/vhp/hvp) or the
//   inputs' (jvp), non-floating inputs/outputs/v, a missing v where it cannot be implied,
//   hessian/hvp/vhp of a function whose output is not a single-element tensor.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "xgrad/autograd/tensor.hpp"

namespace xgrad::autograd::functional {

/// A function of several tensors returning several tensors.
using VectorFn = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;
/// A function of one tensor returning one tensor.
using TensorFn = std::function<Tensor(const Tensor&)>;

/// Vector-Jacobian product: returns (func(inputs), vjp) with
/// vjp[j] = sum_i v[i]^T d(outputs[i])/d(inputs[j]), shaped as inputs[j].
/// v has one tensor per output, shaped as it; it may be omitted ({}) only when func returns a
/// single one-element tensor (then v = 1).
std::pair<std::vector<Tensor>, std::vector<Tensor>> vjp(const VectorFn& func, const std::vector<Tensor>& inputs,
                                                        const std::vector<Tensor>& v = {},
                                                        bool create_graph = false, bool strict = false);
std::pair<Tensor, Tensor> vjp(const TensorFn& func, const Tensor& input, const Tensor& v = Tensor(),
                              bool create_graph = false, bool strict = false);

/// Jacobian-vector product: returns (func(inputs), jvp) with
/// jvp[i] = sum_j d(outputs[i])/d(inputs[j]) v[j], shaped as outputs[i]. v has one tensor per
/// input, shaped as it; it may be omitted only when there is a single one-element input.
/// Computed by the double-backward trick (two reverse passes through a graph recorded with
/// create_graph), as PyTorch's torch.autograd.functional.jvp; forward mode is not used.
std::pair<std::vector<Tensor>, std::vector<Tensor>> jvp(const VectorFn& func, const std::vector<Tensor>& inputs,
                                                        const std::vector<Tensor>& v = {},
                                                        bool create_graph = false, bool strict = false);
std::pair<Tensor, Tensor> jvp(const TensorFn& func, const Tensor& input, const Tensor& v = Tensor(),
                              bool create_graph = false, bool strict = false);

/// Jacobian: J[i][j] = d(outputs[i])/d(inputs[j]) of shape outputs[i].shape + inputs[j].shape
/// (PyTorch's layout), computed row by row: one reverse pass per output element.
/// strategy: only "reverse-mode" ("forward-mode" throws: not supported yet).
/// vectorize: accepted for PyTorch compatibility, but NOT yet a single batched backward: the
/// engine takes one seed per output, not a batch of seeds, so vectorize = true runs the same
/// loop of backwards as vectorize = false (identical results; no speed-up). No op supports
/// batched grad_outputs yet.
std::vector<std::vector<Tensor>> jacobian(const VectorFn& func, const std::vector<Tensor>& inputs,
                                          bool create_graph = false, bool strict = false, bool vectorize = false,
                                          const std::string& strategy = "reverse-mode");
/// One input, one output: the Jacobian of shape output.shape + input.shape.
Tensor jacobian(const TensorFn& func, const Tensor& input, bool create_graph = false, bool strict = false,
                bool vectorize = false, const std::string& strategy = "reverse-mode");

/// Hessian of a function returning one single-element tensor:
/// H[i][j] = d^2 f / d(inputs[i]) d(inputs[j]) of shape inputs[i].shape + inputs[j].shape.
/// Computed as the jacobian of the gradient (see jacobian for what vectorize does).
std::vector<std::vector<Tensor>> hessian(const VectorFn& func, const std::vector<Tensor>& inputs,
                                         bool create_graph = false, bool strict = false, bool vectorize = false);
Tensor hessian(const TensorFn& func, const Tensor& input, bool create_graph = false, bool strict = false,
               bool vectorize = false);

/// Hessian-vector product of a function returning one single-element tensor f: returns
/// (f(inputs), H v) with (H v)[i] = sum_j d^2 f / d(inputs[i]) d(inputs[j]) v[j], shaped as
/// inputs[i]. v has one tensor per input (omittable only for a single one-element input).
/// Computed by the double-backward trick (PyTorch's hvp).
std::pair<Tensor, std::vector<Tensor>> hvp(const VectorFn& func, const std::vector<Tensor>& inputs,
                                           const std::vector<Tensor>& v = {}, bool create_graph = false,
                                           bool strict = false);
std::pair<Tensor, Tensor> hvp(const TensorFn& func, const Tensor& input, const Tensor& v = Tensor(),
                              bool create_graph = false, bool strict = false);

/// Vector-Hessian product: returns (f(inputs), v^T H) with
/// (v^T H)[j] = sum_i v[i] d^2 f / d(inputs[i]) d(inputs[j]), shaped as inputs[j]. Equal to
/// hvp for twice continuously differentiable f; one reverse pass fewer.
std::pair<Tensor, std::vector<Tensor>> vhp(const VectorFn& func, const std::vector<Tensor>& inputs,
                                           const std::vector<Tensor>& v = {}, bool create_graph = false,
                                           bool strict = false);
std::pair<Tensor, Tensor> vhp(const TensorFn& func, const Tensor& input, const Tensor& v = Tensor(),
                              bool create_graph = false, bool strict = false);

}  // namespace xgrad::autograd::functional
