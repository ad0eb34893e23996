// Structure ops: triangular masks (tril, triu), one_hot, repetition (repeat, tile,
// repeat_interleave), reordering (roll, flip) and meshgrid, with PyTorch's semantics and
// defaults. (pad, with its constant, reflect, replicate and circular modes, is in shape.hpp.)
//
// All of them accept every dtype (float32, float64, int64, int32, bool) unless said
// otherwise, keep the input's dtype and return new contiguous tensors, except meshgrid,
// which returns expanded views as PyTorch does. They are differentiable where PyTorch's
// are (floating inputs); their backwards are built from differentiable ops, so higher
// derivatives work. Every user mistake throws xgrad::Error naming the op and the shapes or
// values; an undefined tensor throws too. Negative dims count from the end.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "xgrad/autograd/tensor.hpp"

namespace xgrad {

// ---- triangular masks -------------------------------------------------------------------

/// Lower triangle of the last two dims (batched over the others):
///   out[..., i, j] = a[..., i, j] if j - i <= diagonal, else 0 (false for bool).
/// diagonal = 0 keeps the main diagonal, > 0 also that many diagonals above it, < 0 drops
/// that many below it. Shape and dtype of a. Gradient: tril(grad, diagonal).
/// Throws "tril: input tensor must have at least 2 dimensions, got shape [...]".
Tensor tril(const Tensor& a, std::int64_t diagonal = 0);
/// Upper triangle: out[..., i, j] = a[..., i, j] if j - i >= diagonal, else 0. Gradient:
/// triu(grad, diagonal). Throws like tril for fewer than 2 dims.
Tensor triu(const Tensor& a, std::int64_t diagonal = 0);

// ---- one_hot ----------------------------------------------------------------------------

/// out[..., c] = 1 if a[...] == c else 0, an int64 tensor of shape a.shape + [num_classes]
/// (a 0-d a gives [num_classes]). num_classes = -1 takes max(a) + 1. Not differentiable.
/// a must be int64 (PyTorch) or int32 (xgrad also accepts it). Throws for another dtype, for
/// num_classes < -1, for num_classes = -1 with an empty a ("cannot infer the number of
/// classes"), and for a value < 0 or >= num_classes, naming the value.
Tensor one_hot(const Tensor& a, std::int64_t num_classes = -1);

// ---- repetition -------------------------------------------------------------------------

/// Tiles a: with k = repeats.size() >= a.dim(), a is viewed with k - a.dim() leading dims
/// of size 1 (shape s), and out has shape [s[0] repeats[0], ..., s[k-1] repeats[k-1]] with
///   out[i_0, ..., i_{k-1}] = a[i_0 mod s[0], ..., i_{k-1} mod s[k-1]].
/// A repeat of 0 gives an empty dim. Gradient: grad reshaped to
/// [repeats[0], s[0], ..., repeats[k-1], s[k-1]] and summed over the repeat dims.
/// Throws when repeats has fewer entries than a has dims, for a negative repeat and when the
/// result's size overflows.
Tensor repeat(const Tensor& a, const std::vector<std::int64_t>& repeats);
/// numpy.tile / torch.tile: reps shorter than a.dim() is padded with leading 1s, then
/// repeat(a, reps) (so reps longer than a.dim() adds leading dims). Throws like repeat.
Tensor tile(const Tensor& a, const std::vector<std::int64_t>& reps);

/// Repeats each element `repeats` times in a row along dim:
///   out[..., k, ...] = a[..., k / repeats, ...], out.size(dim) = a.size(dim) * repeats.
/// Without dim, a is flattened first and the result is 1-d. Gradient: the sum over each group
/// of `repeats` consecutive positions (a reshape and a sum, differentiable). Throws for a
/// negative repeats, a dim out of range, and a dim given for a 0-d a (as PyTorch; pass no
/// dim, which flattens).
Tensor repeat_interleave(const Tensor& a, std::int64_t repeats, std::optional<std::int64_t> dim = std::nullopt);
/// Element i along dim (of the flattened a without dim) repeated repeats[i] times:
///   out = index_select(a, dim, repeat_interleave(repeats)).
/// repeats is an int64 or int32 tensor, 0-d or of size 1 (the same count for every element)
/// or 1-d of size a.size(dim), with non-negative values. Gradient: the sum over each group
/// (index_select's, an index_add; grad_fn IndexSelectBackward, as PyTorch's; a single count
/// takes the int form above). Throws for a wrong dtype, shape or size of repeats, a
/// negative count (naming it), a dim out of range, a dim given for a 0-d a.
Tensor repeat_interleave(const Tensor& a, const Tensor& repeats, std::optional<std::int64_t> dim = std::nullopt);
/// The indices form: for a 1-d repeats [r_0, r_1, ...] (int64 or int32, non-negative),
/// [0 (r_0 times), 1 (r_1 times), ...] of length sum(repeats) and repeats' dtype. Throws for
/// a wrong dtype, a repeats that is not 1-d, and a negative count (naming it).
Tensor repeat_interleave(const Tensor& repeats);

// ---- reordering -------------------------------------------------------------------------

/// Rotates a along each dims[k] by shifts[k] (elements pushed past the end come back at
/// the start): out[..., (i + shift) mod n, ...] = a[..., i, ...]. Negative shifts roll the
/// other way; a dim listed twice is rolled twice. With dims empty, shifts must hold one
/// value: the flattened tensor is rolled and given back a's shape (as PyTorch). A 0-d a
/// accepts dim 0 / -1 and is returned as a copy; an empty a too. Gradient: roll(grad,
/// -shifts, dims). Throws for empty shifts ("`shifts` required"), shifts and dims of
/// different lengths (except the flattened case) and dims out of range.
Tensor roll(const Tensor& a, const std::vector<std::int64_t>& shifts, const std::vector<std::int64_t>& dims = {});
/// Reverses the order of elements along each of dims: out[..., i, ...] = a[..., n-1-i, ...].
/// Empty dims gives a copy; a 0-d a accepts dim 0 / -1. Gradient: flip(grad, dims). Throws
/// for a dim out of range and a dim listed twice.
Tensor flip(const Tensor& a, const std::vector<std::int64_t>& dims);

// ---- meshgrid ---------------------------------------------------------------------------

/// Coordinate grids of k 0-d or 1-d tensors t_0, ..., t_{k-1} of sizes n_i (a 0-d tensor
/// counts as size 1). indexing "ij" (matrix, the default): every output has shape
/// [n_0, ..., n_{k-1}] and out_i[j_0, ..., j_{k-1}] = t_i[j_i]. indexing "xy" (Cartesian,
/// numpy's default): the first two dims are swapped, shape [n_1, n_0, n_2, ...] and
/// out_i[j_1, j_0, j_2, ...] = t_i[j_i]. The outputs are expanded views of the inputs
/// (stride 0: clone() one before writing into it), as in PyTorch; gradient of out_i: summed
/// over the broadcast dims into t_i. Throws for an empty list, an input with more than 1 dim,
/// inputs of different dtypes, and an indexing other than "ij" or "xy".
std::vector<Tensor> meshgrid(const std::vector<Tensor>& tensors, std::string_view indexing = "ij");

}  // namespace xgrad
