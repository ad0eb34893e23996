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
/// evenly (PyTorch's rule for max() over all elements). Throws on an empty tensor.
Tensor max(const Tensor& a, const Dims& dims = {}, bool keepdim = false);
/// Minimum; gradient like max.
Tensor min(const Tensor& a, const Dims& dims = {}, bool keepdim = false);
/// Index (int64) of the first maximum along dim, or in the flattened tensor when dim is
/// absent. Not differentiable.
Tensor argmax(const Tensor& a, std::optional<std::int64_t> dim = std::nullopt, bool keepdim = false);
Tensor argmin(const Tensor& a, std::optional<std::int64_t> dim = std::nullopt, bool keepdim = false);
/// Variance sum((a - mean)^2) / max(N - correction, 0) (correction 1 = unbiased, PyTorch's
/// default). d/da_i = 2 (a_i - mean) / (N - correction).
Tensor var(const Tensor& a, const Dims& dims = {}, std::int64_t correction = 1, bool keepdim = false);
/// sqrt(var). d/da_i = (a_i - mean) / ((N - correction) std).
Tensor std(const Tensor& a, const Dims& dims = {}, std::int64_t correction = 1, bool keepdim = false);
/// log(sum(exp(a))) computed as m + log(sum(exp(a - m))), m = max (never overflows).
/// d/da_i = softmax(a)_i.
Tensor logsumexp(const Tensor& a, const Dims& dims = {}, bool keepdim = false);
/// Vector p-norm over dims: p = 1: sum |a|; p = 2: sqrt(sum a^2); p = inf
/// (std::numeric_limits<double>::infinity()): max |a|. Other p throw.
/// d/da for p = 2 is a / norm (0 where the norm is 0).
Tensor norm(const Tensor& a, double p = 2.0, const Dims& dims = {}, bool keepdim = false);

}  // namespace xgrad
