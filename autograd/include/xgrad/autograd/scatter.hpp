// Scatters and index-driven selections: scatter (src or value), scatter_reduce (sum, prod,
// mean, amax, amin), take_along_dim and index_add, with PyTorch's semantics and defaults.
// gather, index_select and scatter_add live in shape.hpp.
//
// Indices are int64 tensors (index_add also takes int32), as in PyTorch. Every index is
// checked before anything is written: a value outside [0, size) throws xgrad::Error naming
// the op, the value, the dim and its size ("scatter: index 5 is out of bounds for dimension 1
// with size 4 (self shape [3, 4])"); negative indices are errors here, as in PyTorch's
// scatter/gather/index_add (they wrap only in t.index({...}) / index_put_). Wrong dims or
// shapes throw naming the shapes.
//
// Scatter shapes (PyTorch's rules): self, index and src have the same number of dims (a 0-d
// tensor counts as 1-d with one element); index.size(k) <= src.size(k) for every k and
// index.size(k) <= self.size(k) for k != dim; only the index box of src (its first
// index.size(k) elements along each dim k) is read. An empty index leaves self unchanged.
//
// Determinism: duplicate indices are combined in index order (row-major order of index) by one
// task per output slice, so results are bit-identical at every thread count. Where PyTorch
// leaves the winner of duplicate writes unspecified (scatter, index_put_ without accumulate),
// the last write in index order wins.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "xgrad/autograd/tensor.hpp"

namespace xgrad {

/// out = self; then, for dim 0 of a 2-d self, out[index[i][j]][j] = src[i][j] (likewise for
/// other dims and ranks). Any dtype; src must have self's dtype. Duplicate targets: the last
/// in index order wins. Gradients: to self, the output gradient with the written positions
/// zeroed (scatter of 0); to src, the output gradient gathered at index for the elements that
/// won their target, 0 for overwritten ones and outside the index box. (PyTorch gives every
/// duplicate the gathered gradient; with the deterministic winner here, only the winner
/// affects the output, and only it gets a gradient.)
Tensor scatter(const Tensor& self, std::int64_t dim, const Tensor& index, const Tensor& src);
/// out = self; out[index[i][j]][j] = value (dim 0). The value is converted to self's dtype
/// (integer dtypes take integers in range only; bool takes value != 0). Gradient to self:
/// the output gradient with the written positions zeroed.
Tensor scatter(const Tensor& self, std::int64_t dim, const Tensor& index, double value);

/// out = self; then every src element of the index box is reduced into
/// out[index[i][j]][j] (dim 0) with `reduce`:
///   "sum"   out = (self) + sum of the scattered src elements
///   "prod"  out = (self) * product of the scattered src elements
///   "mean"  out = ((self) + sum) / (count + include_self); integer dtypes divide with floor
///           rounding (PyTorch)
///   "amax"  / "amin": max / min of (self) and the scattered elements (NaN propagates)
/// where (self) takes part only when include_self (default true, PyTorch's default); positions
/// no index points at keep self's value in every mode. src must have self's dtype; bool
/// tensors throw; an unknown reduce throws naming the five allowed.
/// Gradients (PyTorch's derivatives.yaml scatter_reduce_backward):
///   sum   self: g (0 at scattered positions without include_self); src: g gathered at index
///   mean  the same with g divided by the count (+1 with include_self) of each position
///   amax/amin  the gradient of each output position is split evenly among the inputs equal
///         to it (self, if included, and the scattered src elements): ties share it
///   prod  self: g times the product of the src elements scattered to that position; src:
///         g * out / src for nonzero src, and for a src element that is the only zero at its
///         position g times the product of everything else there; zero when another zero
///         shares its position. Exact for first derivatives with zeros; second derivatives
///         are exact where src has no zeros (PyTorch's double backward has the same limit).
/// src elements outside the index box get gradient 0.
Tensor scatter_reduce(const Tensor& self, std::int64_t dim, const Tensor& index, const Tensor& src,
                      std::string_view reduce, bool include_self = true);

/// PyTorch's take_along_dim. With dim: self and indices (int64, same number of dims) are
/// broadcast against each other in every dim but dim, then out = gather(self_b, dim,
/// indices_b); out.size(dim) = indices.size(dim). Without dim: out =
/// gather(self.flatten(), 0, indices.flatten()), a 1-d tensor. Differentiable in self
/// (gradient: the output gradient added back at the indexed positions, summed over
/// repeats and broadcast dims). Throws for a dim mismatch, shapes that do not broadcast and
/// indices outside [0, size).
Tensor take_along_dim(const Tensor& self, const Tensor& indices, std::optional<std::int64_t> dim = std::nullopt);

/// out = self; out.select(dim, index[i]) += alpha * source.select(dim, i) for every i, in
/// order (duplicates accumulate). index is 1-d (or 0-d) int64 or int32 with values in
/// [0, self.size(dim)); source has self's dtype and shape except source.size(dim) ==
/// index.numel(). For integer dtypes alpha must be an integer; bool tensors throw.
/// Gradients: self: g; source: alpha * index_select(g, dim, index).
Tensor index_add(const Tensor& self, std::int64_t dim, const Tensor& index, const Tensor& source, double alpha = 1.0);

}  // namespace xgrad
