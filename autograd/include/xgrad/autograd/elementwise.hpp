// Element-wise ops with NumPy broadcasting. All binary ops require both operands to have the
// same dtype (no silent promotion) and broadcast-compatible shapes; otherwise they throw
// xgrad::Error naming the op and both shapes/dtypes. Scalars (double) are converted to the
// tensor's dtype; for an int64 tensor (add, sub, mul, div, rsub, rdiv and their in-place
// forms) a scalar that is not an integer in int64's range throws instead of being truncated
// (PyTorch would promote to float; convert with .to(float32) first). Integer division
// truncates toward zero; a zero divisor throws "<op>: ZeroDivisionError: integer division by
// zero" and INT64_MIN / -1 throws an overflow error, never a trap. Math functions (exp, log,
// ...) need a floating dtype.
#pragma once

#include <optional>

#include "xgrad/autograd/tensor.hpp"

namespace xgrad {

/// Broadcast result shape of a and b (NumPy rules); throws naming `op` if incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b, std::string_view op = "broadcast");

/// a + b. d/da = 1, d/db = 1 (reduced over broadcast dims).
Tensor add(const Tensor& a, const Tensor& b);
/// a - b. d/da = 1, d/db = -1.
Tensor sub(const Tensor& a, const Tensor& b);
/// a * b. d/da = b, d/db = a.
Tensor mul(const Tensor& a, const Tensor& b);
/// a / b. d/da = 1/b, d/db = -a/b^2.
Tensor div(const Tensor& a, const Tensor& b);
Tensor add(const Tensor& a, double s);
Tensor sub(const Tensor& a, double s);
Tensor mul(const Tensor& a, double s);
Tensor div(const Tensor& a, double s);
/// s - a and s / a.
Tensor rsub(const Tensor& a, double s);
Tensor rdiv(const Tensor& a, double s);
/// -a.
Tensor neg(const Tensor& a);
/// a^e. d/da = e a^(e-1).
Tensor pow(const Tensor& a, double e);
/// a^b element-wise. d/da = b a^(b-1), d/db = a^b ln a (taken as 0 where a == 0).
Tensor pow(const Tensor& a, const Tensor& b);
/// e^a. d/da = e^a. float32 uses a vectorised exp (kernel/math.hpp) within about 1 ulp of
/// libm's; float64 uses std::exp.
Tensor exp(const Tensor& a);
/// ln a. d/da = 1/a.
Tensor log(const Tensor& a);
/// ln(1 + a). d/da = 1/(1 + a).
Tensor log1p(const Tensor& a);
/// sqrt(a). d/da = 1/(2 sqrt(a)).
Tensor sqrt(const Tensor& a);
/// 1/sqrt(a). d/da = -1/2 a^(-3/2).
Tensor rsqrt(const Tensor& a);
/// |a|. d/da = sign(a) (0 at 0, like PyTorch).
Tensor abs(const Tensor& a);
Tensor sin(const Tensor& a);  ///< d/da = cos a
Tensor cos(const Tensor& a);  ///< d/da = -sin a
/// tanh a. d/da = 1 - tanh^2 a, computed by one fused, differentiable op (its own node is
/// TanhBackwardBackward when differentiated again). float32 is vectorised (about 1.3 ulp).
Tensor tanh(const Tensor& a);
/// 1/(1 + e^-a). d/da = s (1 - s), one fused, differentiable op (SigmoidBackwardBackward
/// when differentiated again). float32 is vectorised (about 2.5 ulp; 0 below a = -88.7,
/// like PyTorch's float32 result).
Tensor sigmoid(const Tensor& a);
/// max(a, 0). d/da = 1 where a > 0, else 0 (0 at a == 0, like PyTorch).
Tensor relu(const Tensor& a);
/// erf a. d/da = 2/sqrt(pi) e^(-a^2).
Tensor erf(const Tensor& a);
/// min(max(a, min), max); either bound may be absent. d/da = 1 where min <= a <= max, else 0.
/// Throws when neither bound is given.
Tensor clamp(const Tensor& a, std::optional<double> min, std::optional<double> max);
/// Element-wise max(a, b). The gradient goes to the larger one; on ties it is split half/half
/// (PyTorch's rule).
Tensor maximum(const Tensor& a, const Tensor& b);
/// Element-wise min(a, b); ties split like maximum.
Tensor minimum(const Tensor& a, const Tensor& b);
/// cond ? a : b element-wise, with broadcasting of all three. cond is any dtype (nonzero =
/// true); a and b must share a dtype. Gradient flows to a where cond, to b elsewhere.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);

// Comparisons and sign are not differentiable: their results never require grad. They return
// 1 or 0 in the dtype of the inputs (xgrad has no bool dtype), so masks multiply directly:
// `x * (x > 0.)`. A floating tensor compares with the double converted to its dtype; an int64
// tensor compares with the double exactly (`i < 0.5` is 1 for i == 0), like PyTorch.
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor eq(const Tensor& a, double s);
Tensor ne(const Tensor& a, double s);
Tensor lt(const Tensor& a, double s);
Tensor le(const Tensor& a, double s);
Tensor gt(const Tensor& a, double s);
Tensor ge(const Tensor& a, double s);
/// -1, 0 or 1.
Tensor sign(const Tensor& a);

Tensor operator==(const Tensor& a, const Tensor& b);
Tensor operator!=(const Tensor& a, const Tensor& b);
Tensor operator<(const Tensor& a, const Tensor& b);
Tensor operator<=(const Tensor& a, const Tensor& b);
Tensor operator>(const Tensor& a, const Tensor& b);
Tensor operator>=(const Tensor& a, const Tensor& b);
Tensor operator<(const Tensor& a, double s);
Tensor operator<=(const Tensor& a, double s);
Tensor operator>(const Tensor& a, double s);
Tensor operator>=(const Tensor& a, double s);

}  // namespace xgrad
