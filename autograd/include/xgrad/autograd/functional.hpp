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
/// Computed in forward mode (forward_ad.hpp: dual inputs, one pass) when create_graph and
/// strict are false, no DualLevel is open already and every op on the way has a forward rule;
/// otherwise by the double-backward trick (two reverse passes through a graph recorded with
/// create_graph), as PyTorch's torch.autograd.functional.jvp. When an op without a forward
/// rule is met, func is called a second time for the fallback.
std::pair<std::vector<Tensor>, std::vector<Tensor>> jvp(const VectorFn& func, const std::vector<Tensor>& inputs,
                                                        const std::vector<Tensor>& v = {},
                                                        bool create_graph = false, bool strict = false);
std::pair<Tensor, Tensor> jvp(const TensorFn& func, const Tensor& input, const Tensor& v = Tensor(),
                              bool create_graph = false, bool strict = false);

/// Jacobian: J[i][j] = d(outputs[i])/d(inputs[j]) of shape outputs[i].shape + inputs[j].shape
/// (PyTorch's layout).
/// strategy "reverse-mode" (default): as below. strategy "forward-mode": one forward-mode pass
/// (forward_ad.hpp) per input element, whose one-hot tangent gives a column of every output's
/// Jacobian; cheaper when the inputs have fewer elements than the outputs. It ignores
/// vectorize (PyTorch requires vectorize = true there), and throws with create_graph = true
/// or strict = true (PyTorch: not supported together), inside an open DualLevel, and when an
/// op has no forward rule (forward_ad::NoForwardRule).
///
/// vectorize = false: row by row, one reverse pass (autograd::grad) per output element.
/// vectorize = true (and create_graph = false): for each output, ONE batched reverse pass
/// whose gradients carry a leading dim of size outputs[i].numel() (the identity seeds, all
/// rows at once), so e.g. a linear layer's rows cost one matrix-matrix product instead of
/// numel matrix-vector products. Batches wider than ~16M elements per gradient run as several
/// batched passes over chunks of rows (detail::set_jacobian_batch_limit). Equal to the loop up
/// to rounding (sums in another order); bit-identical at every thread count.
/// Nodes with a batched rule (Node::name() of the recorded graph between the output and the
/// inputs):
///   AddBackward, SubBackward, MulBackward, DivBackward (tensor-tensor with broadcasting, and
///   tensor-scalar), NegBackward, RsubBackward, RdivBackward, ExpBackward, LogBackward,
///   SqrtBackward, SinBackward, CosBackward, TanhBackward, SigmoidBackward, ReluBackward,
///   their second-order nodes TanhBackwardBackward, SigmoidBackwardBackward,
///   ReluBackwardBackward (so hessian of tanh/sigmoid/relu networks is vectorised too),
///   SumBackward and MeanBackward (any dims), ViewBackward (reshape/view/flatten),
///   SqueezeBackward, UnsqueezeBackward, ExpandBackward, TransposeBackward (transpose, t),
///   PermuteBackward (permute, movedim), MmBackward (mm with or without transpose flags;
///   nn::Linear / functional::linear record ViewBackward, MmBackward and AddBackward).
/// A few of these keep a parameter only inside their backward (a scalar divisor, the dims of
/// a rank-dropping sum of a tensor with repeated sizes, mm's flags when a probe cannot tell
/// them apart); such a node then runs its own backward row by row inside the batched pass
/// (same result, less speed-up).
/// Fallback rule: if ANY node the gradients pass through is not in this list (matmul, dot,
/// addmm, pow, softmax, indexing, custom Functions...), if a hook is registered on a tensor of
/// the graph (retain_grad, register_hook), under anomaly mode, or with create_graph = true,
/// that output's Jacobian is computed by the row-by-row loop instead: identical to
/// vectorize = false, never a different answer. jacobian_last_was_vectorized() tells which
/// path ran.
std::vector<std::vector<Tensor>> jacobian(const VectorFn& func, const std::vector<Tensor>& inputs,
                                          bool create_graph = false, bool strict = false, bool vectorize = false,
                                          const std::string& strategy = "reverse-mode");
/// One input, one output: the Jacobian of shape output.shape + input.shape.
Tensor jacobian(const TensorFn& func, const Tensor& input, bool create_graph = false, bool strict = false,
                bool vectorize = false, const std::string& strategy = "reverse-mode");

/// True when the last jacobian or hessian call on this thread had vectorize = true and computed
/// every output's rows by the batched pass (no fallback to the loop); false after a call with
/// vectorize = false, with create_graph = true, or where any output fell back. For tests and
/// benchmarks.
bool jacobian_last_was_vectorized();

namespace detail {
/// The most elements one batched gradient of jacobian(vectorize = true) may hold (default
/// 2^24, 128 MiB in float64); a Jacobian whose rows times its widest intermediate exceed it
/// runs as several batched passes over chunks of rows (at least one row each). Returns the
/// previous limit; throws xgrad::Error for a limit < 1. Process-wide; for tests and tuning.
std::int64_t set_jacobian_batch_limit(std::int64_t elements);
}  // namespace detail

/// Hessian of a function returning one single-element tensor:
/// H[i][j] = d^2 f / d(inputs[i]) d(inputs[j]) of shape inputs[i].shape + inputs[j].shape.
/// Computed as the jacobian of the gradient (recorded with create_graph); vectorize = true
/// batches that jacobian when every node of the gradient's graph (first- and second-order
/// nodes) has a batched rule (see jacobian), else loops.
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
