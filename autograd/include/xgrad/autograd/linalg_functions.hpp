// xgrad::linalg: norms, inverse, solve, Cholesky, determinants and singular values, with
// PyTorch's torch.linalg semantics. Matrices are the last two dims; every leading dim is a
// batch dim (the functions apply to each matrix). Float32 and float64 only: integer and bool
// tensors throw "linalg.<op>: expected a float32 or float64 tensor ...".
//
// The decompositions go through LAPACK (OpenBLAS's getrf/getri/getrs/potrf/gesdd), one
// matrix per call, matrices of a batch spread over TBB tasks (each matrix is computed whole
// by one task: results are identical at every thread count). Errors on a batch name the
// first failing matrix by its flat batch index, as PyTorch's do: "linalg.inv: (Batch element
// 1): The diagonal element 2 is zero, the inversion could not be completed because the input
// matrix is singular (A of shape [2, 3, 3])"; a single matrix omits "(Batch element k): ".
//
// Every backward is built from differentiable ops (matmul, inv, solve, transpose, ...), so
// second derivatives (gradgradcheck) work. Formulas are PyTorch's (derivatives.yaml).
//
// Not provided (PyTorch has them): the `dtype` argument of the norms, solve's `left`, the
// `_ex` variants (check_errors = false), `out=` arguments, complex tensors.
#pragma once

#include <optional>
#include <string_view>
#include <tuple>
#include <vector>

#include "xgrad/autograd/tensor.hpp"

namespace xgrad::linalg {

using Dims = std::vector<std::int64_t>;

// ---- norms ------------------------------------------------------------------------------

/// Vector norm of x over `dim` (empty: all elements, as if x were flattened), PyTorch's
/// linalg.vector_norm:
///   ord = 2 (default): sqrt(sum |x|^2);  ord = inf: max |x|;  ord = -inf: min |x|;
///   ord = 0: number of nonzero elements;  any other p: (sum |x|^p)^(1/p) (negative p too).
/// keepdim keeps the reduced dims with size 1. x of any rank (0-d: dim {} / {0} / {-1}).
/// Gradients (PyTorch's norm_backward): p = 2: g x / norm (0 where norm = 0); p = 1: g sign(x);
/// +-inf: g sign(x) at the elements where |x| equals the result, split evenly among ties;
/// p = 0: zero; other p >= 1: g sign(x) |x|^(p-1) / norm^(p-1) (0 where norm = 0);
/// p < 1: g sign(x) |x|^(p-1) norm^(1-p) with 0 at x = 0.
/// Throws "linalg.vector_norm: ..." for integer/bool x, a dim out of range or repeated, and
/// ord = +-inf on an empty reduction ("the operation does not have an identity").
Tensor vector_norm(const Tensor& x, double ord = 2.0, const Dims& dim = {}, bool keepdim = false);
template <DimIndex I>
Tensor vector_norm(const Tensor& x, double ord, I dim, bool keepdim = false) {
  return vector_norm(x, ord, Dims{static_cast<std::int64_t>(dim)}, keepdim);
}

/// Matrix norm of the matrices formed by the two dims `dim` (default the last two), PyTorch's
/// linalg.matrix_norm. String orders: "fro" (default), sqrt(sum |a_ij|^2); "nuc", the sum of
/// the singular values. Numeric orders: 1 / -1, max / min over columns of sum_i |a_ij|;
/// inf / -inf, max / min over rows of sum_j |a_ij|; 2 / -2, the largest / smallest singular
/// value. Result: A's shape without the two dims (size 1 there when keepdim).
/// Gradients through the ops it is built from (abs, sum, amax, vector_norm) and, for "nuc"
/// and +-2, through svdvals (below; distinct singular values assumed, as in PyTorch).
/// Throws "linalg.matrix_norm: ..." when A has fewer than 2 dims, dim does not name two
/// distinct dims, ord is not one of the above ("Order 3 not supported"), a max/min order
/// (+-1, +-inf, +-2) meets an empty reduction, and for integer/bool A.
Tensor matrix_norm(const Tensor& A, std::string_view ord = "fro", const Dims& dim = {-2, -1}, bool keepdim = false);
Tensor matrix_norm(const Tensor& A, double ord, const Dims& dim = {-2, -1}, bool keepdim = false);

/// PyTorch's linalg.norm, which picks a vector or a matrix norm:
/// * a numeric ord with dim of two ints, or with no dim on a 2-d A: matrix_norm(A, ord, dim);
/// * a string ord ("fro", "nuc"): matrix_norm over dim (default {0, 1}; A must be 2-d then);
/// * otherwise vector_norm(A, ord or 2, dim): dim of one int, or no dim on a 1-d A, or no ord
///   and no dim at all (the 2-norm of all elements, any rank).
/// Throws "linalg.norm: ..." when dim has other than 1 or 2 entries, or when ord is given
/// without dim and A is not 1-d or 2-d; then as the norm it calls.
/// Spelling: norm(A), norm(A, 2), norm(A, "nuc"), norm(A, 1, {0, 1}), norm(A, 2, -1, true),
/// norm(A, std::nullopt, {0}) (no ord), norm(A, 2, std::nullopt, true) (no dim, keepdim).
Tensor norm(const Tensor& A, std::optional<double> ord = std::nullopt, const std::optional<Dims>& dim = std::nullopt,
            bool keepdim = false);
Tensor norm(const Tensor& A, std::string_view ord, const std::optional<Dims>& dim = std::nullopt, bool keepdim = false);
/// The same with dim given as a list (a braced list cannot initialise a std::optional).
inline Tensor norm(const Tensor& A, std::optional<double> ord, const Dims& dim, bool keepdim = false) {
  return norm(A, ord, std::optional<Dims>(dim), keepdim);
}
inline Tensor norm(const Tensor& A, std::string_view ord, const Dims& dim, bool keepdim = false) {
  return norm(A, ord, std::optional<Dims>(dim), keepdim);
}
template <DimIndex I>
Tensor norm(const Tensor& A, std::optional<double> ord, I dim, bool keepdim = false) {
  return norm(A, ord, std::optional<Dims>(Dims{static_cast<std::int64_t>(dim)}), keepdim);
}

/// Singular values of A [..., m, n]: [..., min(m, n)], non-negative, in descending order
/// (LAPACK gesdd), PyTorch's linalg.svdvals.
/// Gradient (PyTorch's svd_backward with only gS): U diag(gS) V^T, with U, V the reduced
/// singular vectors; these come from a recorded SVD, so the second derivative is PyTorch's
/// full svd_backward (it assumes distinct singular values; repeated ones give NaN there, as in
/// PyTorch). Throws "linalg.svdvals: ..." for fewer than 2 dims, integer/bool A, non-finite
/// values in A, and when gesdd does not converge.
Tensor svdvals(const Tensor& A);

// ---- inverse, solve, Cholesky, determinants -----------------------------------------------

/// Inverse of each square matrix: A [..., n, n] -> [..., n, n] (LU with partial pivoting:
/// getrf + getri). n = 0 gives an empty result.
/// Gradient: -A^-T g A^-T, computed from the saved result as -(inv^T (g inv^T)).
/// Throws "linalg.inv: ..." for fewer than 2 dims, non-square matrices, integer/bool A, and a
/// singular matrix (an exactly zero pivot), naming the batch element and the pivot.
Tensor inv(const Tensor& A);

/// Solves A X = B: A [..., n, n]; B [..., n, k] (matrices) or [..., n] (vectors), batch dims
/// broadcast. B is a batch of vectors when it is 1-d, or when B.dim() == A.dim() - 1 and B's
/// shape is A's without the last dim (PyTorch's rule); X then has B's broadcast shape.
/// (LU with partial pivoting: getrf + getrs.)
/// Gradients (PyTorch's): gB = solve(A^T, g), gA = -gB X^T (the outer product gB X^T for
/// vectors), each summed over the dims that were broadcast.
/// Throws "linalg.solve: ..." for a non-square A, B with no dims, incompatible sizes
/// ("Incompatible shapes of A and B for the equation AX = B"), batch dims that do not
/// broadcast, dtype mismatch, integer/bool tensors, and a singular A (naming the batch element).
Tensor solve(const Tensor& A, const Tensor& B);

/// Cholesky factor of symmetric positive-definite matrices A [..., n, n]: lower-triangular L
/// with A = L L^T (upper = false), or upper-triangular U = L^T with A = U^T U (upper = true)
/// (LAPACK potrf). As in PyTorch only one triangle of A is read: the lower one when
/// upper = false, the upper one when upper = true; the other triangle of the result is 0.
/// Gradient (PyTorch's cholesky_backward): with X = tril(L^T gL) and
/// Phi = (X + tril(X, -1)^T) / 2, gA = L^-T Phi L^-1 (symmetric; computed with two solves).
/// Since gA is symmetric while the forward reads one triangle, check gradients through a
/// symmetric parametrisation (e.g. A = X X^T + n I), as PyTorch's own tests do.
/// Throws "linalg.cholesky: ..." for fewer than 2 dims, non-square or integer/bool A, and a
/// matrix that is not positive-definite ("the leading minor of order k is not
/// positive-definite"), naming the batch element.
Tensor cholesky(const Tensor& A, bool upper = false);

/// Determinant of each square matrix: A [..., n, n] -> [...] (LU: the product of U's
/// diagonal times the sign of the row permutation; 1 for n = 0). A singular matrix gives 0,
/// NaN in A gives NaN (no error).
/// Gradient: g det(A) A^-T. For a batch in which some |det| < 100 eps (eps of the dtype: near
/// singular), PyTorch's SVD formula is used for the whole batch instead:
/// gA = g det(U) det(V^T) U diag(prod_{j != i} s_j) V^T, valid at singular matrices too.
/// Both are built from differentiable ops (second derivatives assume distinct singular values
/// on the SVD path, as PyTorch's do).
/// Throws "linalg.det: ..." for fewer than 2 dims, non-square or integer/bool A.
Tensor det(const Tensor& A);

/// (sign, logabsdet) with det(A) = sign * exp(logabsdet), for A [..., n, n]: both [...].
/// A singular matrix gives (0, -inf); n = 0 gives (1, 0).
/// Gradients: logabsdet: g A^-T; sign: zero (PyTorch's, for real A). Not differentiable at
/// singular matrices: backward through one throws "linalg.slogdet (backward): The diagonal
/// element k is zero, ... singular" (PyTorch returns inf/NaN there or throws, by mode).
/// Throws "linalg.slogdet: ..." like det.
std::tuple<Tensor, Tensor> slogdet(const Tensor& A);

}  // namespace xgrad::linalg
