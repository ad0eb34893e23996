// Element-wise math and NaN-aware reductions with PyTorch's semantics (issue 13): prod,
// nansum, nanmean; isnan/isinf/isfinite/isposinf/isneginf, nan_to_num; clamp with tensor
// bounds; lerp; hypot, atan2, logaddexp, logaddexp2, xlogy; erfinv, erfc, lgamma, digamma,
// polygamma; trunc, frac, round, sgn. (exp, log, erf, clamp with scalar bounds, sign ... are
// in elementwise.hpp; sum, mean, amax ... in reduction.hpp.)
//
// Conventions shared by everything here:
// * Binary and ternary ops broadcast their operands (NumPy rules) and require one dtype for
//   all of them: until type promotion lands, mixed dtypes throw
//   "<op>: dtype mismatch: [2, 3] float32 and [3] float64 ...", incompatible shapes
//   "<op>: shapes [2] and [3] cannot be broadcast together ...".
// * Float-only functions (hypot, atan2, logaddexp(2), xlogy, lerp, erfinv, erfc, lgamma,
//   digamma, polygamma, frac, nanmean) throw for integer and bool tensors:
//   "<op>: expected a floating dtype (float32 or float64), got int64 for tensor of shape [...]".
//   PyTorch promotes integer inputs of these functions to float32 instead; xgrad may follow
//   once type promotion exists.
// * float32 special functions (erfinv, lgamma, digamma, polygamma) compute in double and
//   round once; their last bit may differ from PyTorch's float32 kernels.
// * An undefined tensor throws "<op>: expected a defined tensor ...".
// * Gradients follow PyTorch's formulas (tools/autograd/derivatives.yaml) and are built from
//   differentiable ops, so every op here differentiates again (create_graph).
#pragma once

#include <cstdint>
#include <optional>

#include "xgrad/autograd/reduction.hpp"
#include "xgrad/autograd/tensor.hpp"

namespace xgrad {

// ---- reductions ---------------------------------------------------------------------------

/// Product of all elements, a 0-d tensor (1 for an empty tensor). Floating tensors keep
/// their dtype (float32 accumulates in double, then rounds once; PyTorch multiplies in
/// float32, so a product whose float32 partial products overflow may differ); int64, int32
/// and bool tensors give int64 (PyTorch's rule), wrapping around on overflow like PyTorch.
/// Gradient (PyTorch's prod_backward): d prod / d a_i = prod_{j != i} a_j, computed as
/// prod / a_i when no element is zero and otherwise as exact products of the other
/// elements (prefix times suffix products, built from differentiable ops): with one zero,
/// the zero's position gets the product of the others and every other position 0; with two
/// or more zeros the gradient is 0 everywhere.
Tensor prod(const Tensor& a);
namespace detail {
Tensor prod_dim(const Tensor& a, std::int64_t dim, bool keepdim);
}
/// Product along one dim (negative counts from the end); the dim is dropped, or kept with
/// size 1 when keepdim. A 0-d tensor accepts dim 0 or -1 and gives itself. Same dtypes and
/// gradient as prod(a), slice by slice. An empty dim gives 1s. Throws
/// "prod: dim D out of range for tensor of shape S". PyTorch's optional dtype argument is
/// not offered (convert with .to() first).
template <DimIndex I>
Tensor prod(const Tensor& a, I dim, bool keepdim = false) {
  return detail::prod_dim(a, static_cast<std::int64_t>(dim), keepdim);
}

/// Sum over dims (all when empty) treating NaN as zero. Floating tensors keep their dtype
/// (float32 accumulates in double); integer and bool tensors give int64, like sum (they
/// have no NaN). Gradient: d nansum / d a_i = 0 where a_i is NaN, else 1.
Tensor nansum(const Tensor& a, const Dims& dims = {}, bool keepdim = false);
/// Mean over dims (all when empty) of the non-NaN elements: nansum / (number of non-NaN
/// elements); a slice of NaNs only (or an empty slice) gives NaN. Floating dtypes only.
/// Gradient: d nanmean / d a_i = 0 where a_i is NaN, else 1 / count. NOTE: PyTorch's
/// composite formula gives NaN (0 * inf) instead of 0 at the elements of an all-NaN slice.
Tensor nanmean(const Tensor& a, const Dims& dims = {}, bool keepdim = false);
template <DimIndex I>
Tensor nansum(const Tensor& a, I dim, bool keepdim = false) {
  return nansum(a, Dims{static_cast<std::int64_t>(dim)}, keepdim);
}
template <DimIndex I>
Tensor nanmean(const Tensor& a, I dim, bool keepdim = false) {
  return nanmean(a, Dims{static_cast<std::int64_t>(dim)}, keepdim);
}

// ---- classification (bool results, never differentiable) --------------------------------

/// Element-wise tests, results of dtype bool and a's shape. Integer and bool tensors hold
/// no NaN or infinity: isnan, isinf, isposinf and isneginf are all false, isfinite all true.
Tensor isnan(const Tensor& a);
Tensor isinf(const Tensor& a);     ///< +inf or -inf
Tensor isfinite(const Tensor& a);  ///< neither NaN nor infinite
Tensor isposinf(const Tensor& a);  ///< +inf
Tensor isneginf(const Tensor& a);  ///< -inf

/// a with NaN replaced by `nan` (absent: 0), +inf by `posinf` (absent: the dtype's largest
/// finite value) and -inf by `neginf` (absent: the dtype's lowest finite value); the
/// replacements are converted to a's dtype (a float32 tensor given 1e39 holds inf).
/// Integer and bool tensors are returned as a copy (PyTorch). Gradient: the incoming
/// gradient where a was finite, 0 where it was replaced.
Tensor nan_to_num(const Tensor& a, std::optional<double> nan = std::nullopt,
                  std::optional<double> posinf = std::nullopt, std::optional<double> neginf = std::nullopt);

// ---- clamp with tensor bounds, lerp ------------------------------------------------------

/// min(max(a, min), max) element-wise with tensor bounds, all three broadcast together
/// (either bound may be absent; neither throws "clamp: at least one of min and max must be
/// given"). With min > max every element becomes max (PyTorch). NaN in a or in a bound
/// gives NaN. Works for float and integer dtypes (not bool). The scalar form
/// clamp(a, 0.0, 1.0) in elementwise.hpp is a separate overload; clamp(a, std::nullopt,
/// std::nullopt) is ambiguous between the two and does not compile.
/// Gradient (PyTorch's clamp_backward for tensor bounds), to a: g where min <= a <= max;
/// to min: g where a < min and min < max; to max: g where a > max or max < min; 0
/// elsewhere (each summed back to its operand's shape).
Tensor clamp(const Tensor& a, const std::optional<Tensor>& min, const std::optional<Tensor>& max);

/// Linear interpolation start + weight (end - start), start and end broadcast together.
/// For |weight| >= 0.5 it is computed as end - (end - start)(1 - weight) (PyTorch's
/// formula: exact at weight = 1). Floating dtypes only.
/// d/dstart = 1 - weight, d/dend = weight.
Tensor lerp(const Tensor& start, const Tensor& end, double weight);
/// The same with a tensor weight, broadcast with start and end (one dtype for all three).
/// d/dstart = 1 - weight, d/dend = weight, d/dweight = end - start.
Tensor lerp(const Tensor& start, const Tensor& end, const Tensor& weight);

// ---- binary math (broadcasting, floating dtypes) -----------------------------------------

/// sqrt(a^2 + b^2) without intermediate overflow (std::hypot).
/// d/da = a / hypot, d/db = b / hypot (NaN at a = b = 0, like PyTorch).
Tensor hypot(const Tensor& a, const Tensor& b);
/// The angle of the point (b, a) in (-pi, pi] (std::atan2(a, b); a is y, b is x).
/// d/da = b / (a^2 + b^2), d/db = -a / (a^2 + b^2).
Tensor atan2(const Tensor& a, const Tensor& b);
/// log(e^a + e^b), computed as max(a, b) + log1p(e^-|a - b|) (never overflows); equal
/// infinities give themselves (log(e^-inf + e^-inf) = -inf). d/da = 1 / (1 + e^(b - a)),
/// d/db = 1 / (1 + e^(a - b)).
Tensor logaddexp(const Tensor& a, const Tensor& b);
/// log2(2^a + 2^b) = max(a, b) + log1p(2^-|a - b|) / ln 2, like logaddexp.
/// d/da = 1 / (1 + 2^(b - a)), d/db = 1 / (1 + 2^(a - b)).
Tensor logaddexp2(const Tensor& a, const Tensor& b);
/// x log(y), with PyTorch's rule: NaN where y is NaN, else 0 where x == 0 (even for y = 0 or
/// y = inf), else x log(y). d/dx = log(y), taken as 0 where x == 0 and y <= 0 (PyTorch:
/// xlogy(g, y) masked there); d/dy = x / y.
Tensor xlogy(const Tensor& x, const Tensor& y);

// ---- special functions (floating dtypes) -------------------------------------------------

/// Inverse error function on [-1, 1]: erf(erfinv(y)) = y; +-inf at +-1, NaN outside.
/// d/dy = sqrt(pi) / 2 e^(erfinv(y)^2).
Tensor erfinv(const Tensor& a);
/// Complementary error function 1 - erf(a), accurate where erf(a) is close to 1.
/// d/da = -2/sqrt(pi) e^(-a^2).
Tensor erfc(const Tensor& a);
/// ln |Gamma(a)|; +inf at 0 and at the negative integers. d/da = digamma(a).
Tensor lgamma(const Tensor& a);
/// The digamma function psi(a) = Gamma'(a) / Gamma(a). Like PyTorch: -inf at +0, +inf at -0,
/// NaN at the negative integers (and -inf). d/da = polygamma(1, a) (the trigamma function).
Tensor digamma(const Tensor& a);
/// The n-th derivative of digamma, psi^(n)(a), for n >= 0 (n = 0 is digamma; for n >= 1,
/// (-1)^(n+1) n! zeta(n + 1, a), evaluated by recurrence and the Euler-Maclaurin series,
/// with the reflection formula for negative a). At a = 0 and the negative integers it is
/// +inf for odd n and -inf for even n >= 2. d/da = polygamma(n + 1, a).
/// Throws "polygamma: n must be non-negative, got -1", and for n > 170 (n! overflows
/// float64; PyTorch returns inf or NaN there instead).
Tensor polygamma(std::int64_t n, const Tensor& a);

// ---- rounding ------------------------------------------------------------------------------

/// Rounds toward zero. Integer tensors are returned as a copy (PyTorch); bool throws.
/// Gradient 0.
Tensor trunc(const Tensor& a);
/// a - trunc(a), with a's sign. Floating dtypes only. Gradient 1 (passes through).
Tensor frac(const Tensor& a);
/// Rounds half to even (std::nearbyint) to `decimals` decimal places, like PyTorch:
/// nearbyint(a * 10^d) / 10^d for d > 0, nearbyint(a / 10^-d) * 10^-d for d < 0, with 10^|d|
/// in a's dtype (so round(x, 1) is not always the nearest decimal, and overflows to inf/NaN
/// for large d in float32, exactly as PyTorch). Integer tensors with decimals == 0 are
/// returned as a copy; integer tensors with other decimals and bool tensors throw.
/// Gradient 0.
Tensor round(const Tensor& a, std::int64_t decimals = 0);
/// PyTorch's sgn: for real tensors the same as sign (elementwise.hpp): -1, 0 or 1, NaN
/// gives 0, not differentiable.
Tensor sgn(const Tensor& a);

}  // namespace xgrad
