// Matrix products through single-threaded OpenBLAS (cblas) calls; large products are split
// into row blocks that run as TBB tasks. Float32 and float64 only.
#pragma once

#include "xgrad/autograd/tensor.hpp"

namespace xgrad {

/// PyTorch's matmul rules: 1-d x 1-d is the dot product (0-d); 2-d x 2-d the matrix
/// product; a 1-d operand is promoted to a matrix by prepending (left) or appending (right)
/// a 1 that is removed afterwards; with more dims, the leading (batch) dims broadcast and
/// the last two are multiplied: [..., n, k] x [..., k, m] -> [broadcast(...), n, m].
/// Throws when the inner sizes differ or dtypes differ.
/// Gradients: dA = dC B^T, dB = A^T dC (reduced over broadcast batch dims).
Tensor matmul(const Tensor& a, const Tensor& b);
/// [n, k] x [k, m] -> [n, m]; both must be 2-d.
Tensor mm(const Tensor& a, const Tensor& b);
/// op(a) op(b) for 2-d a, b, where op(x) is x^T when its flag is set, else x: the same
/// product as mm(t(a), b) and the like (which also reaches BLAS with the transpose flag, t()
/// being a view). Not in PyTorch's API; its BLAS-style form serves nn::linear.
/// Throws like mm when the inner sizes of op(a) and op(b) differ or dtypes differ.
/// Gradients: those of mm applied to op(a) and op(b), produced in a's and b's own layout.
Tensor mm(const Tensor& a, const Tensor& b, bool transpose_a, bool transpose_b);
/// [B, n, k] x [B, k, m] -> [B, n, m]; both 3-d with equal batch size.
Tensor bmm(const Tensor& a, const Tensor& b);
/// Outer product of two 1-d tensors: [n] x [m] -> [n, m], out[i][j] = a[i] b[j].
Tensor outer(const Tensor& a, const Tensor& b);
/// Dot product of two 1-d tensors of equal length (0-d result).
Tensor dot(const Tensor& a, const Tensor& b);

/// PyTorch's addmm: beta * input + alpha * (mat1 @ mat2), mat1 [n, k], mat2 [k, m] (both
/// 2-d), input broadcastable to [n, m]; the result is [n, m]. With beta = 0 the values of
/// input are ignored (NaN or inf in it do not propagate), though its shape must still
/// broadcast, as in PyTorch. Implemented in linalg_addmm.cpp.
/// Gradients (PyTorch's): d input = beta g (summed over input's broadcast dims by the engine;
/// beta g is zeros when beta = 0), d mat1 = alpha g mat2^T, d mat2 = alpha mat1^T g, each a
/// product with transpose flags (no copies), differentiable again.
/// Throws xgrad::Error "addmm: ..." when mat1 or mat2 is not 2-d, the inner sizes differ,
/// input does not broadcast to [n, m], dtypes differ, or a tensor is not float32 / float64
/// (PyTorch also multiplies integers; xgrad's products are floating only).
Tensor addmm(const Tensor& input, const Tensor& mat1, const Tensor& mat2, double beta = 1.0, double alpha = 1.0);
/// PyTorch's baddbmm: beta * input + alpha * bmm(batch1, batch2), batch1 [b, n, k], batch2
/// [b, k, m] (both 3-d, equal b), input broadcastable to [b, n, m]; the result is [b, n, m].
/// beta = 0 ignores input's values as in addmm. Gradients and errors ("baddbmm: ...") as addmm,
/// with bmm in place of mm.
Tensor baddbmm(const Tensor& input, const Tensor& batch1, const Tensor& batch2, double beta = 1.0, double alpha = 1.0);

}  // namespace xgrad
