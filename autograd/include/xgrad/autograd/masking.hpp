// Masking and selection with bool masks: masked_fill(_), masked_select, masked_scatter, and
// nonzero (PyTorch semantics and defaults).
//
// Masks are Dtype::boolean tensors; any other mask dtype throws xgrad::Error "<op>: expected
// a bool mask, got <dtype> (mask shape [...])", as PyTorch does (convert with
// m.to(xgrad::boolean)). Out-of-place ops broadcast the tensor and the mask together (NumPy
// rules); the in-place masked_fill_ broadcasts the mask to the tensor. "Row-major order" of a
// broadcast shape is the order in which its elements are listed, last dim fastest.
// Results are bit-identical at every thread count (each element is written by one task).
// These are free functions (no Tensor member forms yet).
#pragma once

#include <vector>

#include "xgrad/autograd/tensor.hpp"

namespace xgrad {

/// out = where(mask, value, t) on the broadcast shape of t and mask (same dtype as t).
/// `value` is converted to t's dtype: for an integer tensor it must be an integer in the
/// dtype's range (else "masked_fill: ... non-integral" / "out of range" is thrown; PyTorch
/// would truncate), for a bool tensor any nonzero value is true. Works for every dtype.
/// Gradient: d out/d t = 1 where mask is false, 0 where it is true (summed back to t's shape
/// by the engine). Throws for a non-bool mask and shapes that do not broadcast.
Tensor masked_fill(const Tensor& t, const Tensor& mask, double value);
/// The same with a 0-d tensor `value` (converted to t's dtype like a scalar; differentiable
/// between floating dtypes). Gradient to value: the sum of the output gradient over the
/// masked positions of the broadcast shape. Throws "masked_fill: only supports a
/// 0-dimensional value tensor, but got a value of shape [...]" for a value with dims.
Tensor masked_fill(const Tensor& t, const Tensor& mask, const Tensor& value);
/// In place: t[i] = value where mask (broadcast to t's shape) is true; returns t. Follows the
/// in-place rules of the other in-place ops (README "Semantics in brief"): bumps the version
/// counter; throws on a leaf that requires grad (or a view of one) while grad mode is on, on
/// a tensor whose elements share memory (expanded), and when mask does not broadcast to t's
/// shape ("masked_fill_: mask of shape [...] cannot be broadcast to the shape [...] of the
/// tensor being filled"). Through a view it reaches the base and rebases its history
/// (CopySlices). Gradient as masked_fill.
Tensor& masked_fill_(Tensor& t, const Tensor& mask, double value);

/// The elements of t where mask is true, t and mask broadcast together, as a 1-d tensor in
/// row-major order of the broadcast shape (length: the number of true elements). Same dtype
/// as t. Gradient: the 1-d gradient scattered back to the selected positions, zeros elsewhere
/// (masked_scatter into zeros), then summed to t's shape.
Tensor masked_select(const Tensor& t, const Tensor& mask);

/// out = t (broadcast with mask); then the k-th true position of mask in row-major order
/// takes source's k-th element (source read flat, row-major, whatever its shape). source
/// must have t's dtype and at least as many elements as mask has true elements ("masked_scatter:
/// number of elements of source (2) < number of ones in mask (3)"); its extra elements are
/// unused. Gradients: to t, the output gradient where mask is false (0 where true); to source,
/// the output gradient at the masked positions in order (masked_select), padded with zeros to
/// source's element count and shaped like source.
Tensor masked_scatter(const Tensor& t, const Tensor& mask, const Tensor& source);

/// Indices of the nonzero elements of t (any dtype; NaN is nonzero, a bool is nonzero when
/// true) as an int64 tensor of shape [n, t.dim()], rows in row-major order. A 0-d t gives
/// shape [n, 0] with n = 0 or 1 (PyTorch). Not differentiable.
Tensor nonzero(const Tensor& t);
/// nonzero(t, as_tuple=True): one 1-d int64 tensor of length n per dim of t (column d of
/// nonzero(t)); a 0-d t is treated as 1-d with one element, giving one tensor (PyTorch).
std::vector<Tensor> nonzero_tuple(const Tensor& t);

}  // namespace xgrad
