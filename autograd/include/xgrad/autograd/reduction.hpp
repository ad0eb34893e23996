// Reductions. `dims` lists the dimensions to reduce (negative counts from the end; an empty
// list means all dimensions). keepdim keeps reduced dimensions with size 1. Dimensions out of
// range or repeated throw xgrad::Error naming the op, the dim and the shape. Where PyTorch
// takes one dim, an integer argument is that dim (DimIndex overloads: max(a, 1) gives
// (values, indices), amax(a, 1), xgrad::std(a, 1), ...); braced lists always mean Dims.
// Results are deterministic: the same inputs and thread count give bit-identical values
// (full reductions use fixed-size chunks, so they are identical at every thread count).
#pragma once

#include <optional>
#include <tuple>
#include <vector>

#include "xgrad/autograd/tensor.hpp"

namespace xgrad {

using Dims = std::vector<std::int64_t>;

/// Sum. d/da_i = 1. bool and int32 inputs are summed in int64 and give int64 (PyTorch).
Tensor sum(const Tensor& a, const Dims& dims = {}, bool keepdim = false);
/// True where any element over `dims` is nonzero (NaN counts as nonzero); bool result, any
/// input dtype, not differentiable. The empty set gives false (any) and true (all).
Tensor any(const Tensor& a, const Dims& dims = {}, bool keepdim = false);
/// True where every element over `dims` is nonzero.
Tensor all(const Tensor& a, const Dims& dims = {}, bool keepdim = false);
/// Mean = sum / N (N = product of reduced sizes). d/da_i = 1/N. Floating dtypes only.
Tensor mean(const Tensor& a, const Dims& dims = {}, bool keepdim = false);
/// Maximum. The gradient goes to the selected element; among equal maxima it is split
/// evenly (PyTorch's rule for max() over all elements). NaN propagates (any NaN gives NaN).
/// Works for int64 too. Throws when a reduced dim has size 0 (or the tensor is empty and all
/// dims are reduced): the maximum of nothing is undefined. Same as amax(a, dims, keepdim).
Tensor max(const Tensor& a, const Dims& dims = {}, bool keepdim = false);
/// Minimum; gradient like max.
Tensor min(const Tensor& a, const Dims& dims = {}, bool keepdim = false);

/// PyTorch's max(a, dim, keepdim): the pair (values, indices) of the maximum along dim.
/// values[..] = max_k a[.., k, ..] and indices (int64, never requiring grad) the k of the
/// first occurrence among ties (like PyTorch on the CPU); NaN counts as the maximum (value
/// NaN, index of the first NaN). Shapes: a's shape without dim, or with size 1 there when
/// keepdim. A 0-d a accepts dim 0 or -1 and gives (a, 0).
/// Gradient: d values[o] / d a[.., k, ..] = 1 for k = indices[o], 0 elsewhere (the
/// gradient goes to the returned index only, PyTorch's rule for max(dim); the Dims form
/// above and amax split it evenly among ties instead).
/// Throws xgrad::Error "max: dim D out of range for tensor of shape S" and, when dim has
/// size 0, "max: cannot reduce over an empty dimension (tensor of shape S)".
template <DimIndex I>
std::tuple<Tensor, Tensor> max(const Tensor& a, I dim, bool keepdim = false) {
  return a.max(static_cast<std::int64_t>(dim), keepdim);
}
/// min(a, dim, keepdim): like max(a, dim, keepdim) with the minimum.
template <DimIndex I>
std::tuple<Tensor, Tensor> min(const Tensor& a, I dim, bool keepdim = false) {
  return a.min(static_cast<std::int64_t>(dim), keepdim);
}
/// PyTorch's amax / amin: maximum / minimum over dims (all when empty), the gradient split
/// evenly among ties: d amax / d a_i = [a_i == amax] / #{j : a_j == amax}. NaN propagates.
/// Works for int64 too. Throws like max(a, dims) (messages name "amax" / "amin").
Tensor amax(const Tensor& a, const Dims& dims = {}, bool keepdim = false);
Tensor amin(const Tensor& a, const Dims& dims = {}, bool keepdim = false);
template <DimIndex I>
Tensor amax(const Tensor& a, I dim, bool keepdim = false) {
  return amax(a, Dims{static_cast<std::int64_t>(dim)}, keepdim);
}
template <DimIndex I>
Tensor amin(const Tensor& a, I dim, bool keepdim = false) {
  return amin(a, Dims{static_cast<std::int64_t>(dim)}, keepdim);
}
/// Index (int64) of the first maximum along dim, or in the flattened tensor when dim is
/// absent (then keepdim gives a's rank with all sizes 1). NaN counts as the maximum (and as
/// the minimum for argmin), like PyTorch. Not differentiable; throws like max when empty.
Tensor argmax(const Tensor& a, std::optional<std::int64_t> dim = std::nullopt, bool keepdim = false);
Tensor argmin(const Tensor& a, std::optional<std::int64_t> dim = std::nullopt, bool keepdim = false);
/// Variance sum((a - mean)^2) / max(N - correction, 0) (correction 1 = unbiased, PyTorch's
/// default). d/da_i = 2 (a_i - mean) / (N - correction). When N - correction <= 0 the
/// result is inf (or NaN when all deviations are 0) and so is the gradient, like PyTorch.
/// Floating dtypes only.
Tensor var(const Tensor& a, const Dims& dims = {}, std::int64_t correction = 1, bool keepdim = false);
/// sqrt(var). d/da_i = (a_i - mean) / ((N - correction) std). Spell it xgrad::std(...):
/// after `using namespace xgrad;` a bare std(...) is ambiguous with namespace std.
Tensor std(const Tensor& a, const Dims& dims = {}, std::int64_t correction = 1, bool keepdim = false);
/// log(sum(exp(a))) computed as m + log(sum(exp(a - m))), m = max (never overflows).
/// d/da_i = softmax(a)_i = exp(a_i - out). All -inf gives -inf; any +inf gives +inf.
/// Floating dtypes only.
Tensor logsumexp(const Tensor& a, const Dims& dims = {}, bool keepdim = false);
/// Vector p-norm over dims: p = 1: sum |a|; p = 2: sqrt(sum a^2); p = inf
/// (std::numeric_limits<double>::infinity()): max |a|; any other p (-inf, 0, fractional,
/// negative) is linalg::vector_norm's (linalg_functions.hpp: min |a|, the count of non-zeros,
/// (sum |a|^p)^(1/p)), as PyTorch's torch.norm. Floating dtypes only; a NaN p throws.
/// d/da for p = 2 is a / norm (0 where the norm is 0); p = 1: sign(a); p = inf: sign(a) at
/// the elements of largest |a|, split evenly among ties; other p: vector_norm's gradients.
/// p = +-inf throw on an empty reduction.
Tensor norm(const Tensor& a, double p = 2.0, const Dims& dims = {}, bool keepdim = false);

/// One-dim forms of var, std, logsumexp and norm (see DimIndex): xgrad::std(a, 1) is the std
/// over dim 1, never "unbiased = true" as libtorch's std(a, bool) would read it.
template <DimIndex I>
Tensor var(const Tensor& a, I dim, std::int64_t correction = 1, bool keepdim = false) {
  return var(a, Dims{static_cast<std::int64_t>(dim)}, correction, keepdim);
}
template <DimIndex I>
Tensor std(const Tensor& a, I dim, std::int64_t correction = 1, bool keepdim = false) {
  return xgrad::std(a, Dims{static_cast<std::int64_t>(dim)}, correction, keepdim);
}
template <DimIndex I>
Tensor logsumexp(const Tensor& a, I dim, bool keepdim = false) {
  return logsumexp(a, Dims{static_cast<std::int64_t>(dim)}, keepdim);
}
template <DimIndex I>
Tensor norm(const Tensor& a, double p, I dim, bool keepdim = false) {
  return norm(a, p, Dims{static_cast<std::int64_t>(dim)}, keepdim);
}

}  // namespace xgrad
