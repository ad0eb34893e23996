// Element-wise ops with NumPy broadcasting. Binary ops (arithmetic, maximum/minimum, pow,
// where's operands, comparisons) promote mixed dtypes as PyTorch does (promote_types in
// dtype.hpp has the table; result_type below applies it to operands): int64 + float32 is
// float32, bool + int32 is int32, float32 * 2.5 stays float32, int64 * 0.5 is float32. The
// promotion is a differentiable conversion, so a float32 input that meets a float64 one gets
// a float32 gradient. Shapes must broadcast; otherwise ops throw xgrad::Error naming the op
// and both shapes. An integer tensor with an integral scalar outside its dtype's range
// throws. In-place ops cannot change self's dtype: `i.mul_(0.5)` on an integer tensor throws,
// as in PyTorch. Division is true division (int / int is float32, as PyTorch's `/`); integer
// rounding division is div(a, b, "trunc" or "floor"). bool arithmetic: add and maximum are
// logical or, mul and minimum logical and; sub and neg of bools throw (as PyTorch). Math
// functions (exp, log, ...) need a floating dtype.
#pragma once

#include <optional>

#include "xgrad/autograd/tensor.hpp"

namespace xgrad {

/// Broadcast result shape of a and b (NumPy rules); throws naming `op` if incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b, std::string_view op = "broadcast");

/// The dtype of a binary op on a and b (torch.result_type): promote_types of both when they
/// have the same number-of-dims kind; a 0-d tensor against one with dims counts only when
/// its category (bool < integer < floating) is higher.
Dtype result_type(const Tensor& a, const Tensor& b);
/// The dtype of a binary op on tensor a and a scalar: a's dtype, except that an integer or
/// bool tensor with a non-integral (or non-finite) scalar gives float32 and a bool tensor
/// with an integral scalar gives int64.
Dtype result_type(const Tensor& a, double s);

/// a + b. d/da = 1, d/db = 1 (reduced over broadcast dims).
Tensor add(const Tensor& a, const Tensor& b);
/// a - b. d/da = 1, d/db = -1.
Tensor sub(const Tensor& a, const Tensor& b);
/// a * b. d/da = b, d/db = a.
Tensor mul(const Tensor& a, const Tensor& b);
/// a / b, true division: integer and bool operands give float32 (PyTorch). d/da = 1/b,
/// d/db = -a/b^2.
Tensor div(const Tensor& a, const Tensor& b);
/// a / b rounded: rounding_mode "trunc" (toward zero) or "floor" (toward -inf); integer
/// operands stay integer (promoted), and then a zero divisor throws "div: ZeroDivisionError:
/// integer division by zero" and the minimum / -1 an overflow error. Not differentiable (the
/// derivative is zero almost everywhere; the result never requires grad).
Tensor div(const Tensor& a, const Tensor& b, std::string_view rounding_mode);
/// div(a, b, "floor").
Tensor floor_divide(const Tensor& a, const Tensor& b);
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
/// cond ? a : b element-wise, with broadcasting of all three; a and b are promoted to
/// result_type(a, b). cond should be bool (PyTorch requires it); any other dtype is read as
/// nonzero = true. Gradient flows to a where cond, to b elsewhere.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
/// where(cond, a, scalar) and where(cond, scalar, b): the scalar as a 0-d tensor of the
/// tensor operand's dtype.
Tensor where(const Tensor& cond, const Tensor& a, double b);
Tensor where(const Tensor& cond, double a, const Tensor& b);

// Comparisons are not differentiable: their results never require grad. They return bool
// tensors (PyTorch's semantics), compared in result_type(a, b); bool masks promote in
// arithmetic, so `x * (x > 0.)` still works (bool * float32 is float32). A floating tensor
// compares with the double converted to its dtype; an integer tensor compares with the double
// exactly (`i < 0.5` is true for i == 0), like PyTorch.
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
/// -1, 0 or 1 (0 for NaN), in a's dtype; not differentiable (its derivative is 0 almost
/// everywhere: the result never requires grad).
Tensor sign(const Tensor& a);

// Logical ops: any dtype (nonzero = true), broadcasting, bool result, not differentiable.
Tensor logical_and(const Tensor& a, const Tensor& b);
Tensor logical_or(const Tensor& a, const Tensor& b);
Tensor logical_xor(const Tensor& a, const Tensor& b);
Tensor logical_not(const Tensor& a);
// Bitwise ops on bool and integer tensors (promoted like arithmetic; floating throws
// "<op>: bitwise ops need bool or integer tensors, got float32"). On bool tensors they are
// the logical ops: `mask_a & ~mask_b`.
Tensor bitwise_and(const Tensor& a, const Tensor& b);
Tensor bitwise_or(const Tensor& a, const Tensor& b);
Tensor bitwise_xor(const Tensor& a, const Tensor& b);
Tensor bitwise_not(const Tensor& a);
Tensor operator&(const Tensor& a, const Tensor& b);
Tensor operator|(const Tensor& a, const Tensor& b);
Tensor operator^(const Tensor& a, const Tensor& b);
Tensor operator~(const Tensor& a);

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
