// einsum: Einstein summation over a list of tensors (PyTorch's torch.einsum).
#pragma once

#include <string_view>
#include <vector>

#include "xgrad/autograd/tensor.hpp"

namespace xgrad {

/// Einstein summation: out[output subscripts] = sum over every other subscript of the product
/// of the operands, each indexed by its own subscripts (PyTorch's torch.einsum).
///
///   einsum("ij,jk->ik", {a, b})        matrix product
///   einsum("bhqd,bhkd->bhqk", {q, k})  attention scores: exactly matmul(q, k.transpose(-2, -1))
///   einsum("ii->i", {a})               diagonal (a view of a)
///   einsum("ii", {a})                  trace
///   einsum("...ij,...jk", {a, b})      batched product with broadcast batch dims
///
/// The equation: one comma-separated term of subscripts (letters a-z, A-Z) per operand,
/// optionally "->" and the output's subscripts; spaces are ignored.
/// * Explicit output ("->"): each output subscript must appear in some operand and at most
///   once in the output; every subscript not in the output is summed over. "..." may appear
///   in the output even when no operand has one (it then stands for no dims), as in PyTorch.
/// * Implicit output (no "->"): the ellipsis dims (if any operand has "...") followed by the
///   subscripts that appear exactly once in the whole equation, in alphabetical order
///   (upper case before lower case); so "ij,jk" is "ij,jk->ik" and "ii" is the trace.
/// * "..." (at most once per term) stands for the dims not named by letters; the ellipsis
///   dims of all operands are aligned from the right and broadcast (NumPy rules), as are
///   dims of size 1 under a letter (a subscript may have size 1 in one operand and n in
///   another). An output without "..." sums the ellipsis dims.
/// * A subscript repeated within one term takes the diagonal of those dims ("ii->i"); the
///   dims must have equal sizes.
/// Shapes: out has one dim per output subscript (the ellipsis dims broadcast), sized by the
/// operands. A result that is only a reordering or diagonal of one operand is a view of it,
/// as in PyTorch.
///
/// Computation: subscripts that appear in one operand only and not in the output are summed
/// first; then the operands are contracted left to right, pairwise (PyTorch's order without
/// opt_einsum). Each pair is lowered to views (diagonal, permute, reshape) of the two
/// operands and one batched matmul over the shared kept subscripts, the summed shared
/// subscripts forming the inner dim; a pair that shares no summed subscript is a broadcast
/// multiply (as in PyTorch). The operand layout is chosen so that a permutation of a
/// contiguous operand reaches BLAS as a transposed view, not a copy: "bhqd,bhkd->bhqk" runs
/// exactly matmul(q, k.transpose(-2, -1)). Gradients flow through those ops (first and higher
/// order).
///
/// Throws xgrad::Error naming the equation and the operand shapes for: no operands, a
/// malformed equation (a character other than letters, ',', '.', '->' and spaces; a '.'
/// outside "..."; two ellipses in a term; "->" twice; an output subscript repeated or absent
/// from the inputs), a number of terms that
/// differs from the number of operands, a term whose subscripts do not match its operand's
/// number of dims, a subscript (or ellipsis dim) whose sizes differ between operands and do
/// not broadcast, a repeated subscript over dims of different sizes, operands of different
/// dtypes, and integer or bool operands ("einsum: expected float32 or float64 operands").
Tensor einsum(std::string_view equation, const std::vector<Tensor>& operands);

}  // namespace xgrad
