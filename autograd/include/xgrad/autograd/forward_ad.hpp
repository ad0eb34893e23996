// Forward-mode automatic differentiation with dual tensors, like PyTorch's
// torch.autograd.forward_ad:
//
//   xgrad::autograd::forward_ad::DualLevel level;         // open the (single) level
//   Tensor x = forward_ad::make_dual(primal, tangent);      // x carries tangent t
//   Tensor y = f(x);                                        // every op pushes the tangent on
//   auto [value, jt] = forward_ad::unpack_dual(y);          // jt = J_f(primal) t
//
// What an op does with tangents: each recorded op (every built-in differentiable op, nn's
// fused layers and user Functions, all of which go through record()) computes its output
// tangents from its input tangents t_i by one of two forward rules:
// - element-wise unary ops (the list kElementWiseForward in forward_ad.cpp: exp, log, log1p,
//   sqrt, rsqrt, sin, cos, tanh, sigmoid, relu, abs, neg, erf, erfc, erfinv, lgamma,
//   digamma, polygamma, clamp, pow/add/sub/mul/div by a scalar, round, trunc, frac,
//   nan_to_num): their Jacobian is diagonal, so J t is the op's backward formula applied to t
//   (PyTorch's "auto_element_wise" forward derivatives) — one backward evaluation;
// - matmul, dot, and the tensor-tensor a * b and a / b: their forward derivatives written out
//   (da b + a db; (da - out db) / b), one product each;
// - every other op: J t is derived from the op's own backward formula B(g) = J^T g, which is
//   linear in g: J t = d/du <B(u), t> (a transpose of the vector-Jacobian product, taken
//   locally at the op: one backward evaluation recorded with a graph plus one reverse pass
//   through it). It is exact wherever the op's backward is itself differentiable, which the
//   op table's gradgradcheck checks for every op in it.
// An op whose backward is not differentiable (a user Function whose backward uses raw
// kernels) has no forward rule: it throws xgrad::Error "forward-mode AD: <op> has no forward
// rule ...", never a silent zero.
//
// Tangents belong to storages: a storage that carries one has a flat tangent with an element
// per storage element, and every tensor over it reads its tangent as the same strided window
// (shape, strides, offset). So views share their base's tangent, and an in-place op (also
// through a view) writes the new tangent into the window it wrote (zeros when the written
// value has no tangent, e.g. fill_).
//
// Differences from PyTorch (documented choices):
// - Forward rules are derived from the recorded backward, so a dual tensor is recorded like
//   a tensor that requires grad: make_dual returns a tensor with requires_grad() == true
//   (PyTorch's dual tensors do not require grad), and results keep a backward graph.
// - make_dual returns a copy of the primal (PyTorch: a view), so that the primal's storage
//   stays without a tangent; it is differentiable, so reverse gradients still reach primal.
// - Tangents follow grad mode: under NoGradGuard no op records, so no tangent propagates
//   (PyTorch propagates tangents under no_grad). Ops that run inner computations under
//   NoGradGuard (fused layers) still give their outputs tangents through their own record().
// - A user Function that modifies an input in place (mark_dirty) throws "<name>: forward-mode
//   AD through a custom Function that modifies its inputs in place (mark_dirty) is not
//   supported" when a tangent reaches it.
// - Tangents are constants: they are stored detached, so reverse-over-forward (grad of a
//   tangent) is not supported; use functional::hvp / hessian for second derivatives.
// - One level at a time (PyTorch also forbids nested levels).
// Cost: the generic rule evaluates the op's backward with a graph and runs one reverse pass
// through it, so a forward-mode pass costs a few times the plain forward; memory is that of a
// reverse-mode forward (the graph is recorded).
// Thread safety: the level is global (PyTorch's is too); ops may run on several threads while
// it is open.
#pragma once

#include "xgrad/autograd/tensor.hpp"

namespace xgrad::autograd::forward_ad {

/// RAII: opens the forward-AD level; on destruction every tangent attached while it was
/// open is dropped (unpack_dual then returns an undefined tangent). Throws xgrad::Error
/// "forward_ad::DualLevel: nested forward-mode AD levels are not supported" when a level is
/// already open.
class DualLevel {
 public:
  DualLevel();
  ~DualLevel();
  DualLevel(const DualLevel&) = delete;
  DualLevel& operator=(const DualLevel&) = delete;
};

/// True while a DualLevel is open.
bool is_active();

/// Thrown (an xgrad::Error) when an op has no forward rule; functional::jvp catches it and
/// falls back to the double-backward trick.
class NoForwardRule : public Error {
 public:
  using Error::Error;
};

/// A dual tensor: a copy of `primal` (differentiable: reverse-mode gradients still reach primal
/// when it requires grad) carrying a copy of `tangent`.
/// Throws xgrad::Error "make_dual: ..." when no level is open, when primal or tangent is
/// undefined, when primal is not float32/float64, or when the tangent's shape or dtype differs
/// from the primal's (PyTorch's rules).
Tensor make_dual(const Tensor& primal, const Tensor& tangent);

struct UnpackedDual {
  Tensor primal;   // the tensor itself (PyTorch returns a view of it without its tangent)
  Tensor tangent;  // undefined when t has no tangent (no dependence on any dual input)
};
/// The primal and tangent of t. Outside a level, the tangent is undefined.
UnpackedDual unpack_dual(const Tensor& t);

}  // namespace xgrad::autograd::forward_ad

namespace xgrad::detail {
/// Used by record() and the in-place machinery; not for users.
bool forward_ad_enabled();  // a level is open and this thread is not evaluating a rule
bool any_has_tangent(const std::vector<Tensor>& ts);
/// Gives outputs their tangents (see the rules above). `backward` is the op's backward
/// formula as passed to record().
void forward_ad_propagate(const std::string& op, const std::vector<Tensor>& inputs,
                          const std::vector<Tensor>& outputs, const std::vector<Tensor>& to_save,
                          const std::function<std::vector<Tensor>(const std::vector<Tensor>&,
                                                                  const std::vector<Tensor>&)>& backward);
/// After an in-place op wrote `result` into self: self's window of its storage's tangent
/// becomes result's tangent (zeros when result has none).
void forward_ad_inplace(const Tensor& self, const Tensor& result);
}  // namespace xgrad::detail
