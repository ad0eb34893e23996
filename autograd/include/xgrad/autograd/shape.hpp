// Shape ops. reshape/view/flatten/squeeze/unsqueeze share storage with their input; the
// others copy. All are differentiable (their gradients are shape ops too).
#pragma once

#include <vector>

#include "xgrad/autograd/tensor.hpp"

namespace xgrad {

/// Same data, new shape; one entry may be -1 (inferred). Throws when the element counts
/// differ. view() is the same operation (data is always contiguous here).
Tensor reshape(const Tensor& a, const Shape& shape);
Tensor view(const Tensor& a, const Shape& shape);
/// Merges dims start_dim..end_dim into one.
Tensor flatten(const Tensor& a, std::int64_t start_dim = 0, std::int64_t end_dim = -1);
/// Removes all size-1 dims, or only `dim` (if it has size 1; otherwise returns a unchanged).
Tensor squeeze(const Tensor& a);
Tensor squeeze(const Tensor& a, std::int64_t dim);
/// Inserts a size-1 dim at `dim` (in [-dim()-1, dim()]).
Tensor unsqueeze(const Tensor& a, std::int64_t dim);
/// Swaps two dims (copy).
Tensor transpose(const Tensor& a, std::int64_t d0, std::int64_t d1);
/// Reorders dims: result.shape[i] = a.shape[dims[i]] (copy). dims must be a permutation.
Tensor permute(const Tensor& a, const std::vector<std::int64_t>& dims);
/// Transpose of a tensor with at most 2 dims (PyTorch's t()).
Tensor t(const Tensor& a);
/// Broadcasts a to `shape` (NumPy rules; -1 keeps a size) (copy). Gradient: sum_to.
Tensor expand(const Tensor& a, const Shape& shape);
Tensor broadcast_to(const Tensor& a, const Shape& shape);
/// Concatenates along dim; all other dims must match, dtypes must match. Like PyTorch, 1-d
/// tensors of shape [0] are skipped. Throws on an empty list, 0-d tensors and mismatches.
Tensor cat(const std::vector<Tensor>& tensors, std::int64_t dim = 0);
/// Stacks equal-shaped tensors along a new dim.
Tensor stack(const std::vector<Tensor>& tensors, std::int64_t dim = 0);
/// Pieces of size split_size along dim (the last may be smaller).
std::vector<Tensor> split(const Tensor& a, std::int64_t split_size, std::int64_t dim = 0);
/// Pieces with the given sizes along dim (they must add up to the dim's size).
std::vector<Tensor> split(const Tensor& a, const std::vector<std::int64_t>& sizes, std::int64_t dim = 0);
/// `chunks` pieces of size ceil(n/chunks) along dim (PyTorch's rule; may return fewer).
std::vector<Tensor> chunk(const Tensor& a, std::int64_t chunks, std::int64_t dim = 0);
/// Elements start..start+length-1 along dim (copy; a negative start counts from the end).
/// slice() takes [start, end) with step > 0, PyTorch's clamping: negative bounds count from
/// the end, then both are clamped to [0, size] (an empty range gives an empty dim).
Tensor narrow(const Tensor& a, std::int64_t dim, std::int64_t start, std::int64_t length);
Tensor slice(const Tensor& a, std::int64_t dim, std::int64_t start, std::int64_t end, std::int64_t step = 1);
/// Rows of a along dim picked by the 1-d int64 `index` (repeats allowed). Indices outside
/// [0, size) throw, naming the index and the size.
Tensor index_select(const Tensor& a, std::int64_t dim, const Tensor& index);
/// out[i][j] = a[index[i][j]][j] (dim 0) etc.; index is int64 with a's number of dims.
Tensor gather(const Tensor& a, std::int64_t dim, const Tensor& index);
/// out = a, then out[index[i][j]][j] += src[i][j] (dim 0) etc. Differentiable in a and src.
Tensor scatter_add(const Tensor& a, std::int64_t dim, const Tensor& index, const Tensor& src);
/// Constant padding. `pad` lists (before, after) pairs starting from the LAST dim, like
/// torch.nn.functional.pad: {left, right, top, bottom, ...}. Negative pads throw.
Tensor pad(const Tensor& a, const std::vector<std::int64_t>& pad, double value = 0.0);

}  // namespace xgrad
