// Reductions. `dims` lists the dimensions to reduce (negative counts from the end; an empty
// list means all dimensions). keepdim keeps reduced dimensions with size 1. Dimensions out of
// range or repeated throw xgrad::Error naming the op, the dim and the shape.
// Results are deterministic: the same inputs and thread count give bit-identical values
// (full reductions use fixed-size chunks, so they are identical at every thread count).
#pragma once

#include <optional>
#include <vector>

#include "xgrad/autograd/tensor.hpp"

namespace xgrad {

using Dims = std::vector<std::int64_t>;

/// Sum. d/da_i = 1.
Tensor sum(const Tensor& a, const Dims& dims = {}, bool keepdim = false);
/// Mean = sum / N (N = product of reduced sizes). d/da_i = 1/N. Floating dtypes only.
Tensor mean(const Tensor& a, const Dims& dims = {}, bool keepdim = false);
/// Maximum. The gradient goes to the selected element; among equal maxima it is split
/// evenly (PyTorch's rule for max() over all elements). NaN propagates (any NaN gives NaN).
/// Works for int64 too. Throws when a reduced dim has size 0 (or the tensor is empty and all
/// dims are reduced): the maximum of nothing is undefined.
Tensor max(const Tensor& a, const Dims& dims = {}, bool keepdim = false);
/// Minimum; gradient like max.
Tensor min(const Tensor& a, const Dims& dims = {}, bool keepdim = false);
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
/// (std::numeric_limits<double>::infinity()): max |a|. Other p throw. Floating dtypes only.
/// d/da for p = 2 is a / norm (0 where the norm is 0); p = 1: sign(a); p = inf: sign(a) at
/// the elements of largest |a|, split evenly among ties. p = inf throws on an empty reduction.
Tensor norm(const Tensor& a, double p = 2.0, const Dims& dims = {}, bool keepdim = false);

}  // namespace xgrad
