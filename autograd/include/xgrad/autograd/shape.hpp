// Shape ops. The ops PyTorch implements as views are views here (they share storage with
// their input, writes through them reach it, and in-place ops on them are tracked by
// autograd): reshape/view (reshape copies only when the strides do not allow a view),
// flatten, squeeze/unsqueeze, transpose/t/permute/movedim, expand/expand_as/broadcast_to,
// narrow/slice/select, unbind, split/chunk, unfold, diagonal, as_strided. cat, stack, pad,
// index_select, gather and scatter_add copy. All are differentiable.
#pragma once

#include <optional>
#include <vector>

#include "xgrad/autograd/tensor.hpp"

namespace xgrad {

/// Same data, new shape; one entry may be -1 (inferred). Throws when the element counts
/// differ. reshape returns a view when the strides allow it and a copy otherwise; view()
/// never copies and throws "view: size ... is not compatible with the input's sizes and
/// strides ..." when a view is impossible (e.g. flattening a transposed matrix).
Tensor reshape(const Tensor& a, const Shape& shape);
Tensor view(const Tensor& a, const Shape& shape);
/// Merges dims start_dim..end_dim into one.
Tensor flatten(const Tensor& a, std::int64_t start_dim = 0, std::int64_t end_dim = -1);
/// Removes all size-1 dims, or only `dim` (if it has size 1; otherwise returns a unchanged).
Tensor squeeze(const Tensor& a);
Tensor squeeze(const Tensor& a, std::int64_t dim);
/// Inserts a size-1 dim at `dim` (in [-dim()-1, dim()]).
Tensor unsqueeze(const Tensor& a, std::int64_t dim);
/// Swaps two dims (view).
Tensor transpose(const Tensor& a, std::int64_t d0, std::int64_t d1);
/// Reorders dims: result.shape[i] = a.shape[dims[i]] (view). dims must be a permutation.
Tensor permute(const Tensor& a, const std::vector<std::int64_t>& dims);
/// Transpose of a tensor with at most 2 dims (PyTorch's t()).
Tensor t(const Tensor& a);
/// Moves dim `source` to position `destination`, keeping the others in order (view).
Tensor movedim(const Tensor& a, std::int64_t source, std::int64_t destination);
/// Broadcasts a to `shape` (NumPy rules; -1 keeps a size): a view with stride 0 on the
/// broadcast dims (write through it only after clone()). Gradient: sum over those dims.
Tensor expand(const Tensor& a, const Shape& shape);
Tensor broadcast_to(const Tensor& a, const Shape& shape);
Tensor expand_as(const Tensor& a, const Tensor& other);
/// Concatenates along dim; all other dims must match, dtypes must match. Like PyTorch, 1-d
/// tensors of shape [0] are skipped. Throws on an empty list, 0-d tensors and mismatches.
Tensor cat(const std::vector<Tensor>& tensors, std::int64_t dim = 0);
/// Stacks equal-shaped tensors along a new dim.
Tensor stack(const std::vector<Tensor>& tensors, std::int64_t dim = 0);
/// Pieces of size split_size along dim (the last may be smaller). split and chunk return
/// views made by one node whose backward is one cat of the pieces' gradients.
std::vector<Tensor> split(const Tensor& a, std::int64_t split_size, std::int64_t dim = 0);
/// Pieces with the given sizes along dim (they must add up to the dim's size).
std::vector<Tensor> split(const Tensor& a, const std::vector<std::int64_t>& sizes, std::int64_t dim = 0);
/// `chunks` pieces of size ceil(n/chunks) along dim (PyTorch's rule; may return fewer).
std::vector<Tensor> chunk(const Tensor& a, std::int64_t chunks, std::int64_t dim = 0);
/// Elements start..start+length-1 along dim (view; a negative start counts from the end).
/// slice() takes [start, end) with step > 0, PyTorch's clamping: negative bounds count from
/// the end, then both are clamped to [0, size] (an empty range gives an empty dim).
Tensor narrow(const Tensor& a, std::int64_t dim, std::int64_t start, std::int64_t length);
Tensor slice(const Tensor& a, std::int64_t dim, std::int64_t start, std::int64_t end, std::int64_t step = 1);
/// a[..., index, ...] along dim, that dim removed (view; a negative index counts from the
/// end). Throws "select: index i is out of range ..." naming the size.
Tensor select(const Tensor& a, std::int64_t dim, std::int64_t index);
/// All selects along dim (views, one node; backward is one stack).
std::vector<Tensor> unbind(const Tensor& a, std::int64_t dim = 0);
/// Sliding windows: dim becomes (size_d - size) / step + 1 windows and a last dim of
/// length `size` is appended; out[..., i, ..., j] = a[..., i * step + j, ...] (view).
Tensor unfold(const Tensor& a, std::int64_t dim, std::int64_t size, std::int64_t step);
/// Diagonal of the (dim1, dim2) planes, shifted by offset (> 0 above the main diagonal),
/// as a last dim; dim1 and dim2 are removed (view).
Tensor diagonal(const Tensor& a, std::int64_t offset = 0, std::int64_t dim1 = 0, std::int64_t dim2 = 1);
/// The view with the given sizes, strides and storage offset (default a's) over a's
/// storage. Throws for negative values, mismatched lengths and positions past the storage.
Tensor as_strided(const Tensor& a, const Shape& size, const Shape& stride,
                  std::optional<std::int64_t> storage_offset = std::nullopt);
/// Rows of a along dim picked by the 1-d int64 `index` (repeats allowed). Indices outside
/// [0, size) throw, naming the index and the size.
Tensor index_select(const Tensor& a, std::int64_t dim, const Tensor& index);
/// out[i][j] = a[index[i][j]][j] (dim 0) etc.; index is int64 with a's number of dims.
Tensor gather(const Tensor& a, std::int64_t dim, const Tensor& index);
/// out = a, then out[index[i][j]][j] += src[i][j] (dim 0) etc. Differentiable in a and src.
Tensor scatter_add(const Tensor& a, std::int64_t dim, const Tensor& index, const Tensor& src);
/// Padding modes of pad (torch.nn.functional.pad's `mode`, libtorch's torch::kReflect ...).
enum class PadMode { constant, reflect, replicate, circular };
/// Pads the last pad.size() / 2 dims. `pad` lists (before, after) pairs starting from the
/// LAST dim, like torch.nn.functional.pad: {left, right, top, bottom, ...}; a padded dim of
/// size n gets size before + n + after. Output position o of that dim reads a[i] with
/// i = o - before when 0 <= i < n, else (shown for one dim; each padded dim does the same):
///   constant   `value` (the default mode; pad(a, p, v) is pad(a, p, PadMode::constant, v));
///   reflect    a mirror that does not repeat the edge: a[-i] for i < 0, a[2(n-1) - i] for
///              i >= n (pad {2, 1} of [1, 2, 3, 4] gives [3, 2, 1, 2, 3, 4, 3]);
///   replicate  the edge repeated: a[clamp(i, 0, n - 1)] ([1, 1, 1, 2, 3, 4, 4]);
///   circular   wrapped around: a[i mod n] ([3, 4, 1, 2, 3, 4, 1]).
/// Every dtype; the result is a new contiguous tensor. Gradient: constant mode crops the
/// output gradient; the other modes sum it over all output positions that read an input
/// element (the reused edge elements accumulate). Both are differentiable again.
/// PyTorch accepts the non-constant modes only for 1, 2 or 3 padded dims of a 2-d to 5-d
/// input (batch and channel dims first) and not for bool; xgrad applies the same rule to any
/// number of trailing dims of any input and dtype, so every call PyTorch accepts gives
/// PyTorch's result.
/// Throws: an odd pad length, more pairs than dims, a negative pad (PyTorch would crop), a
/// non-zero value with a non-constant mode, reflect with before or after >= n, replicate
/// of an empty dim, circular with before or after > n (it would wrap more than once), and a
/// size that overflows.
Tensor pad(const Tensor& a, const std::vector<std::int64_t>& pad, double value = 0.0);
Tensor pad(const Tensor& a, const std::vector<std::int64_t>& pad, PadMode mode, double value = 0.0);

}  // namespace xgrad
