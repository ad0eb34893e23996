// Sorting, selection and scans: sort, argsort, topk, kthvalue, median, unique (sorting.cpp)
// and cumsum, cumprod, logcumsumexp (scan.cpp), with PyTorch's names, argument order and
// defaults.
//
// Order. Every op that orders elements uses one total order, PyTorch's: NaN is larger than
// every number (+inf included) and all NaNs are equal; -0.0 equals +0.0. Ties keep their input
// order: sort is always stable (PyTorch's default is stable = false, which leaves the order
// of ties unspecified; the stable order is one of the orders it allows), and topk, kthvalue
// and median pick among equal values by that stable order (PyTorch leaves the choice among
// equal values unspecified there). The results are therefore unique, and identical at every
// thread count.
//
// Dims. `dim` may be negative (counts from the end). A 0-d tensor counts as one element along
// dim 0 or -1 (like PyTorch). A dim out of range throws xgrad::Error "<op>: dim D out of range
// for tensor of shape S". Indices are int64 and never require grad.
//
// dtypes. sort, argsort, topk, kthvalue, median and unique accept every dtype (float32,
// float64, int64, int32, bool) and keep it for their values. cumsum and cumprod give int64
// for integer and bool inputs (PyTorch), logcumsumexp takes floating dtypes only.
//
// Gradients. The values of sort, topk, kthvalue and median(dim) are elements of the input:
// their gradient goes back to the positions the indices name (scattered into zeros of the
// input's shape; built from differentiable ops, so double backward works). median() over
// all elements splits its gradient evenly among the elements equal to the median (PyTorch's
// rule). unique and argsort are not differentiable (their results never require grad).
#pragma once

#include <cstdint>
#include <optional>
#include <tuple>

#include "xgrad/autograd/tensor.hpp"

namespace xgrad {

/// Sorts t along dim: returns (values, indices) with values[.., i, ..] = t[.., indices[.., i,
/// ..], ..] ascending (descending when `descending`), both of t's shape. Stable for either
/// direction (ties keep their input order, NaN sorts as the largest value: last ascending,
/// first descending). `stable` is accepted for libtorch's signature; the sort is stable
/// either way.
/// Gradient: d values[.., i, ..] / d t[.., indices[.., i, ..], ..] = 1 (the gradient is
/// scattered back through the permutation).
/// Throws on an undefined tensor and a dim out of range.
std::tuple<Tensor, Tensor> sort(const Tensor& t, std::int64_t dim = -1, bool descending = false, bool stable = true);

/// The indices of sort(t, dim, descending, stable) (int64, t's shape). Not differentiable.
Tensor argsort(const Tensor& t, std::int64_t dim = -1, bool descending = false, bool stable = true);

/// The k largest (smallest when !largest) elements along dim: (values, indices), both of t's
/// shape with size k along dim. Always returned in sorted order (descending for largest,
/// ascending otherwise), also when !sorted (PyTorch then leaves the order unspecified). Among
/// equal values the one earlier in t comes first; NaN counts as the largest value. k = 0
/// gives empty results.
/// Gradient: the gradient of values[.., j, ..] goes to t[.., indices[.., j, ..], ..]; the
/// other elements get 0.
/// Throws "topk: k (K) is out of range for dimension D of size N (tensor shape S)" unless
/// 0 <= k <= N (N is 1 for a 0-d t), and on a dim out of range.
std::tuple<Tensor, Tensor> topk(const Tensor& t, std::int64_t k, std::int64_t dim = -1, bool largest = true,
                                bool sorted = true);

/// The k-th smallest element along dim (k is 1-based, as in PyTorch): (values, indices) with
/// the shape of t without dim (size 1 there when keepdim). values = sort(t, dim).values[k -
/// 1] and indices the matching entry of the stable sort, so among equal values the one
/// earlier in t is taken; NaN counts as the largest value.
/// Gradient: 1 at t[.., indices, ..], 0 elsewhere.
/// Throws "kthvalue: k (K) is out of range for dimension D of size N (tensor shape S)"
/// unless 1 <= k <= N (an empty dim always throws), and on a dim out of range.
std::tuple<Tensor, Tensor> kthvalue(const Tensor& t, std::int64_t k, std::int64_t dim = -1, bool keepdim = false);

/// The lower median of all elements, a 0-d tensor of t's dtype: the element at position
/// (numel - 1) / 2 (integer division) of the sorted elements; NaN when any element is NaN
/// (PyTorch's rule; nanmedian would skip them). An empty floating tensor gives NaN (as
/// PyTorch); an empty integer or bool tensor throws "median: ... empty ...".
/// Gradient: split evenly among the elements equal to the median (among the NaNs when it is
/// NaN): d median / d t_i = [t_i == median] / #{j : t_j == median} (PyTorch's rule).
Tensor median(const Tensor& t);

/// The lower median along dim: (values, indices), shape of t without dim (size 1 when
/// keepdim). values = kthvalue(t, (N + 1) / 2, dim) when the row holds no NaN; a row with a
/// NaN gives NaN and the index of its first NaN (PyTorch's rule).
/// Gradient: 1 at t[.., indices, ..], 0 elsewhere.
/// Throws "median: cannot take the median over an empty dimension D (tensor shape S)" and
/// on a dim out of range.
std::tuple<Tensor, Tensor> median(const Tensor& t, std::int64_t dim, bool keepdim = false);

/// Cumulative sum along dim: out[.., i, ..] = sum_{j <= i} t[.., j, ..], t's shape. Integer
/// and bool inputs give int64 (PyTorch); with `dtype`, t is converted to it first and the
/// result has that dtype (PyTorch's dtype argument; integers accumulate in int64 and wrap
/// around on overflow). float32 sums accumulate in double (each output rounded once),
/// one sequential chain per output row, so every thread count gives the same bits.
/// Gradient: the reversed cumulative sum, d/dt_j = sum_{i >= j} g_i.
/// Throws on a dim out of range.
Tensor cumsum(const Tensor& t, std::int64_t dim, std::optional<Dtype> dtype = std::nullopt);

/// Cumulative product along dim: out[.., i, ..] = prod_{j <= i} t[.., j, ..]. dtypes as
/// cumsum. Gradient (exact also when t holds zeros):
/// d/dt_k = sum_{i >= k} g_i prod_{j <= i, j != k} t_j, computed in O(N) as
/// E_k S_k with E_k = prod_{j < k} t_j and S_k = g_k + t_{k+1} S_{k+1} (a reverse linear
/// recurrence; no division, so zeros need no special case). Twice differentiable and more.
Tensor cumprod(const Tensor& t, std::int64_t dim, std::optional<Dtype> dtype = std::nullopt);

/// log(cumsum(exp(t))) along dim, computed without overflow (running log-add-exp: for
/// a = running value, b = next element, max(a, b) + log1p(exp(-|a - b|)); -inf + -inf stays
/// -inf, +inf stays +inf, NaN propagates). Floating dtypes only: others throw "logcumsumexp:
/// expected a floating dtype (float32 or float64), got int64 ...".
/// Gradient (PyTorch's stable form): with y the result and g split into positive and
/// negative parts, d/dt = exp(t + rlcse(log g+ - y)) - exp(t + rlcse(log g- - y)), where
/// rlcse is logcumsumexp from the end of the dim. Twice differentiable.
Tensor logcumsumexp(const Tensor& t, std::int64_t dim);

/// The distinct elements of t (flattened): (values, inverse, counts). values is 1-d of t's
/// dtype, ascending when `sorted`; with !sorted, in the order of their first occurrence in
/// t (PyTorch leaves that order unspecified). inverse (int64, t's shape; undefined Tensor
/// unless return_inverse) gives for every element of t the position of its value in values;
/// counts (int64, values' shape; undefined unless return_counts) how often each value occurs.
/// All NaNs count as one value (PyTorch >= 2.1), and -0.0 and +0.0 as one (the first in t
/// represents it). Not differentiable. unique over a dim (PyTorch's dim argument) is not
/// provided.
std::tuple<Tensor, Tensor, Tensor> unique(const Tensor& t, bool sorted = true, bool return_inverse = false,
                                          bool return_counts = false);

}  // namespace xgrad
