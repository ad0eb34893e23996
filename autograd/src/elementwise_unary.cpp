// Unary math (exp, log, ..., tanh, sigmoid, relu, erf), pow, abs and clamp, and the Tensor
// methods for them. Comparisons, sign, maximum/minimum and where live in
// elementwise_compare.cpp.
#include <cmath>
#include <cstdint>
#include <numbers>

#include "kernel.hpp"
#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/profile_scope.hpp"

namespace xgrad {

namespace {

using Grads = std::vector<Tensor>;

// float32 loops over contiguous ranges, compiled once per instruction set and picked at load
// time (kernel/simd.hpp): libm's expf and tanhf are scalar calls, kernel::exp_f32 and
// kernel::tanh_f32 vectorise. float64 keeps libm for gradcheck-grade accuracy.
using RangeF32 = void (*)(const float*, float*, std::int64_t, std::int64_t);

XGRAD_SIMD_CLONES void exp_f32_range(const float* __restrict x, float* __restrict y, std::int64_t b, std::int64_t e) {
  for (std::int64_t i = b; i < e; ++i) y[i] = kernel::exp_f32(x[i]);
}

XGRAD_SIMD_CLONES void sigmoid_f32_range(const float* __restrict x, float* __restrict y, std::int64_t b,
                                         std::int64_t e) {
  for (std::int64_t i = b; i < e; ++i) y[i] = kernel::sigmoid_f32(x[i]);
}

XGRAD_SIMD_CLONES void tanh_f32_range(const float* __restrict x, float* __restrict y, std::int64_t b, std::int64_t e) {
  for (std::int64_t i = b; i < e; ++i) y[i] = kernel::tanh_f32(x[i]);
}

// out[i] = f(a[i]) for floating a (int64 throws naming op); float32 runs f32 when given.
template <class F>
Tensor unary_floating(const Tensor& a, std::string_view op, F f, RangeF32 f32 = nullptr) {
  detail::check_defined(a, op);
  Tensor out = detail::make_tensor(a.shape(), a.dtype());
  if (f32 != nullptr && a.dtype() == Dtype::float32 && a.is_contiguous()) {
    const float* pa = a.data_ptr<float>();
    float* po = out.data_ptr<float>();
    detail::parallel_for(a.numel(), detail::kGrain, [&](std::int64_t b, std::int64_t e) { f32(pa, po, b, e); });
    return out;
  }
  detail::dispatch_floating(a, op, [&]<class T>() { detail::unary_kernel<T, T>(a, out, [&](T x) { return f(x); }); });
  return out;
}

// out[i] = f(g[i], y[i]): the one-pass backward of an op from its output y and output
// gradient g (same shape, as the engine guarantees).
template <class F>
Tensor output_backward(const Tensor& g, const Tensor& y, std::string_view op, F f) {
  detail::check_same_dtype(g, y, op);
  if (g.shape() != y.shape())
    throw Error(fmt::format("{}: gradient of shape {} does not match output of shape {}", op, g.shape(), y.shape()));
  Tensor out = detail::make_tensor(y.shape(), y.dtype());
  detail::dispatch_floating(
      y, op, [&]<class T>() { detail::binary_kernel<T, T>(g, y, out, [&](T gv, T yv) { return f(gv, yv); }); });
  return out;
}

// g s (1 - s) given s = sigmoid(a): sigmoid's backward in one pass instead of three.
Tensor sigmoid_backward(const Tensor& g, const Tensor& y) {
  Tensor out = output_backward(g, y, "sigmoid_backward", []<class T>(T gv, T yv) { return gv * (yv * (T(1) - yv)); });
  if (any_requires_grad({&g, &y})) {
    const bool rg = g.requires_grad(), ry = y.requires_grad();
    // out = g y (1 - y): d/dg = y (1 - y), d/dy = g (1 - y) - g y = g (1 - 2y).
    record("SigmoidBackwardBackward", {g, y}, {out}, {ry ? g : Tensor(), y}, [rg, ry](const Grads& gg, const Grads& s) {
      return Grads{rg ? sigmoid_backward(gg[0], s[1]) : Tensor(),
                   ry ? mul(mul(gg[0], s[0]), rsub(mul(s[1], 2.0), 1.0)) : Tensor()};
    });
  }
  return out;
}

// g (1 - t^2) given t = tanh(a): tanh's backward in one pass instead of three.
Tensor tanh_backward(const Tensor& g, const Tensor& y) {
  Tensor out = output_backward(g, y, "tanh_backward", []<class T>(T gv, T yv) { return gv * (T(1) - yv * yv); });
  if (any_requires_grad({&g, &y})) {
    const bool rg = g.requires_grad(), ry = y.requires_grad();
    // out = g (1 - y^2): d/dg = 1 - y^2, d/dy = -2 g y.
    record("TanhBackwardBackward", {g, y}, {out}, {ry ? g : Tensor(), y}, [rg, ry](const Grads& gg, const Grads& s) {
      return Grads{rg ? tanh_backward(gg[0], s[1]) : Tensor(), ry ? mul(mul(gg[0], s[0]), mul(s[1], -2.0)) : Tensor()};
    });
  }
  return out;
}

// g where y > 0, else 0, given y = relu(a): relu's backward in one pass instead of three
// (compare, cast, multiply); an infinite g beside y <= 0 gives 0, not inf * 0 = NaN.
Tensor relu_backward(const Tensor& g, const Tensor& y) {
  Tensor out = output_backward(g, y, "relu_backward", []<class T>(T gv, T yv) { return yv > T(0) ? gv : T(0); });
  if (any_requires_grad({&g})) {
    // out = g [y > 0]: d/dg = [y > 0]; the mask is piecewise constant in y (no gradient).
    record("ReluBackwardBackward", {g}, {out}, {y},
           [](const Grads& gg, const Grads& s) { return Grads{relu_backward(gg[0], s[0])}; });
  }
  return out;
}

// out[i] = f(a[i]) for any dtype.
template <class F>
Tensor unary_any(const Tensor& a, std::string_view op, F f) {
  detail::check_defined(a, op);
  Tensor out = detail::make_tensor(a.shape(), a.dtype());
  detail::dispatch_numeric(a.dtype(), op, [&]<class T>() { detail::unary_kernel<T, T>(a, out, [&](T x) { return f(x); }); });
  return out;
}

Tensor zero_scalar(Dtype d) { return scalar_tensor(0.0, dtype(d)); }

}  // namespace

Tensor pow(const Tensor& a, double e) {
  XGRAD_PROFILE_OP("pow", a);
  // Common exponents get their exact, faster forms (chosen once, outside the loop).
  Tensor out;
  if (e == 2.0)
    out = unary_floating(a, "pow", []<class T>(T x) { return x * x; });
  else if (e == 1.0)
    out = unary_floating(a, "pow", []<class T>(T x) { return x; });
  else if (e == 0.5)
    out = unary_floating(a, "pow", []<class T>(T x) { return std::sqrt(x); });
  else
    out = unary_floating(a, "pow", [e]<class T>(T x) { return std::pow(x, static_cast<T>(e)); });
  if (any_requires_grad({&a})) {
    // d(a^e)/da = e a^(e-1); exactly zero for e == 0 (PyTorch), even where a^(-1) is inf.
    record("PowBackward", {a}, {out}, {a}, [e](const Grads& g, const Grads& s) {
      if (e == 0.0) return Grads{zeros_like(g[0])};
      return Grads{mul(g[0], mul(pow(s[0], e - 1.0), e))};
    });
  }
  return out;
}

Tensor pow(const Tensor& a_in, const Tensor& b_in) {
  XGRAD_PROFILE_OP("pow", a_in, b_in);
  const auto [a, b] = detail::promoted(a_in, b_in, "pow");
  const Shape os = a.shape() == b.shape() ? a.shape() : broadcast_shapes(a.shape(), b.shape(), "pow");
  Tensor out = detail::make_tensor(os, a.dtype());
  detail::dispatch_floating(
      a, "pow", [&]<class T>() { detail::binary_kernel<T, T>(a, b, out, [](T x, T y) { return std::pow(x, y); }); });
  if (any_requires_grad({&a, &b})) {
    const bool ra = a.requires_grad(), rb = b.requires_grad();
    // d(a^b)/da = b a^(b-1); d(a^b)/db = a^b ln a, taken as 0 where a == 0 (0 * -inf would be NaN).
    record("PowBackward", {a, b}, {out}, {a, ra ? b : Tensor(), rb ? out : Tensor()},
           [ra, rb](const Grads& g, const Grads& s) {
             Tensor ga, gb;
             if (ra) ga = mul(g[0], mul(s[1], pow(s[0], sub(s[1], 1.0))));
             if (rb) {
               Tensor d = mul(g[0], mul(s[2], log(s[0])));
               gb = where(eq(s[0], 0.0), zero_scalar(d.dtype()), d);
             }
             return Grads{ga, gb};
           });
  }
  return out;
}

Tensor exp(const Tensor& a) {
  XGRAD_PROFILE_OP("exp", a);
  Tensor out = unary_floating(
      a, "exp", []<class T>(T x) { return std::exp(x); }, exp_f32_range);
  if (any_requires_grad({&a})) {
    // d(e^a)/da = e^a = out.
    record("ExpBackward", {a}, {out}, {out}, [](const Grads& g, const Grads& s) { return Grads{mul(g[0], s[0])}; });
  }
  return out;
}

Tensor log(const Tensor& a) {
  XGRAD_PROFILE_OP("log", a);
  Tensor out = unary_floating(a, "log", []<class T>(T x) { return std::log(x); });
  if (any_requires_grad({&a})) {
    // d(ln a)/da = 1/a.
    record("LogBackward", {a}, {out}, {a}, [](const Grads& g, const Grads& s) { return Grads{div(g[0], s[0])}; });
  }
  return out;
}

Tensor log1p(const Tensor& a) {
  XGRAD_PROFILE_OP("log1p", a);
  Tensor out = unary_floating(a, "log1p", []<class T>(T x) { return std::log1p(x); });
  if (any_requires_grad({&a})) {
    // d(ln(1 + a))/da = 1/(1 + a).
    record("Log1pBackward", {a}, {out}, {a},
           [](const Grads& g, const Grads& s) { return Grads{div(g[0], add(s[0], 1.0))}; });
  }
  return out;
}

Tensor sqrt(const Tensor& a) {
  XGRAD_PROFILE_OP("sqrt", a);
  Tensor out = unary_floating(a, "sqrt", []<class T>(T x) { return std::sqrt(x); });
  if (any_requires_grad({&a})) {
    // d(sqrt a)/da = 1/(2 sqrt a) = 1/(2 out).
    record("SqrtBackward", {a}, {out}, {out},
           [](const Grads& g, const Grads& s) { return Grads{div(g[0], mul(s[0], 2.0))}; });
  }
  return out;
}

Tensor rsqrt(const Tensor& a) {
  XGRAD_PROFILE_OP("rsqrt", a);
  Tensor out = unary_floating(a, "rsqrt", []<class T>(T x) { return T(1) / std::sqrt(x); });
  if (any_requires_grad({&a})) {
    // d(a^(-1/2))/da = -1/2 a^(-3/2) = -1/2 out^3.
    record("RsqrtBackward", {a}, {out}, {out},
           [](const Grads& g, const Grads& s) { return Grads{mul(g[0], mul(pow(s[0], 3.0), -0.5))}; });
  }
  return out;
}

Tensor abs(const Tensor& a) {
  XGRAD_PROFILE_OP("abs", a);
  Tensor out = unary_any(a, "abs", []<class T>(T x) { return x < T(0) ? detail::wrap_neg(x) : x; });
  if (any_requires_grad({&a})) {
    // d|a|/da = sign(a), 0 at a == 0 (PyTorch's choice of subgradient).
    record("AbsBackward", {a}, {out}, {a}, [](const Grads& g, const Grads& s) { return Grads{mul(g[0], sign(s[0]))}; });
  }
  return out;
}

Tensor sin(const Tensor& a) {
  XGRAD_PROFILE_OP("sin", a);
  Tensor out = unary_floating(a, "sin", []<class T>(T x) { return std::sin(x); });
  if (any_requires_grad({&a})) {
    // d(sin a)/da = cos a.
    record("SinBackward", {a}, {out}, {a}, [](const Grads& g, const Grads& s) { return Grads{mul(g[0], cos(s[0]))}; });
  }
  return out;
}

Tensor cos(const Tensor& a) {
  XGRAD_PROFILE_OP("cos", a);
  Tensor out = unary_floating(a, "cos", []<class T>(T x) { return std::cos(x); });
  if (any_requires_grad({&a})) {
    // d(cos a)/da = -sin a.
    record("CosBackward", {a}, {out}, {a},
           [](const Grads& g, const Grads& s) { return Grads{neg(mul(g[0], sin(s[0])))}; });
  }
  return out;
}

Tensor tanh(const Tensor& a) {
  XGRAD_PROFILE_OP("tanh", a);
  Tensor out = unary_floating(
      a, "tanh", []<class T>(T x) { return std::tanh(x); }, tanh_f32_range);
  if (any_requires_grad({&a})) {
    // d(tanh a)/da = 1 - tanh^2 a = 1 - out^2.
    record("TanhBackward", {a}, {out}, {out},
           [](const Grads& g, const Grads& s) { return Grads{tanh_backward(g[0], s[0])}; });
  }
  return out;
}

Tensor sigmoid(const Tensor& a) {
  XGRAD_PROFILE_OP("sigmoid", a);
  // NOTE: 1/(1 + e^-x) saturates cleanly: e^-x = inf gives 0, never NaN.
  Tensor out = unary_floating(
      a, "sigmoid", []<class T>(T x) { return T(1) / (T(1) + std::exp(-x)); }, sigmoid_f32_range);
  if (any_requires_grad({&a})) {
    // d(s)/da = s (1 - s), with s = out.
    record("SigmoidBackward", {a}, {out}, {out},
           [](const Grads& g, const Grads& s) { return Grads{sigmoid_backward(g[0], s[0])}; });
  }
  return out;
}

Tensor relu(const Tensor& a) {
  XGRAD_PROFILE_OP("relu", a);
  // x < 0 ? 0 : x keeps NaN (like PyTorch) and vectorises.
  Tensor out = unary_any(a, "relu", []<class T>(T x) { return x < T(0) ? T(0) : x; });
  if (any_requires_grad({&a})) {
    // NOTE: d(relu a)/da = 1 where a > 0, else 0 (0 at a == 0). out > 0 exactly where a > 0, so the
    // output is saved instead of the input.
    record("ReluBackward", {a}, {out}, {out},
           [](const Grads& g, const Grads& s) { return Grads{relu_backward(g[0], s[0])}; });
  }
  return out;
}

Tensor erf(const Tensor& a) {
  XGRAD_PROFILE_OP("erf", a);
  Tensor out = unary_floating(a, "erf", []<class T>(T x) { return std::erf(x); });
  if (any_requires_grad({&a})) {
    // d(erf a)/da = 2/sqrt(pi) e^(-a^2).
    record("ErfBackward", {a}, {out}, {a}, [](const Grads& g, const Grads& s) {
      return Grads{mul(g[0], mul(exp(neg(mul(s[0], s[0]))), std::numbers::inv_sqrtpi * 2.0))};
    });
  }
  return out;
}

Tensor clamp(const Tensor& a, std::optional<double> lo, std::optional<double> hi) {
  XGRAD_PROFILE_OP("clamp", a);
  detail::check_defined(a, "clamp");
  if (!lo && !hi)
    throw Error(fmt::format("clamp: at least one of min and max must be given (tensor of shape {})", a.shape()));
  // An integer tensor with a non-integral bound computes in float32 (result_type, as PyTorch).
  for (const auto& bound : {lo, hi})
    if (bound && result_type(a, *bound) != a.dtype()) return clamp(a.to(result_type(a, *bound)), lo, hi);
  // min(max(a, lo), hi): with lo > hi every element becomes hi (PyTorch). NaN passes through.
  Tensor out = unary_any(a, "clamp", [lo, hi]<class T>(T x) {
    if (lo && x < detail::scalar_as<T>(*lo, "clamp")) x = detail::scalar_as<T>(*lo, "clamp");
    if (hi && x > detail::scalar_as<T>(*hi, "clamp")) x = detail::scalar_as<T>(*hi, "clamp");
    return x;
  });
  if (any_requires_grad({&a})) {
    // d/da = 1 where lo <= a <= hi (bounds included, like PyTorch), else 0.
    record("ClampBackward", {a}, {out}, {a}, [lo, hi](const Grads& g, const Grads& s) {
      Tensor m;
      if (lo) m = ge(s[0], *lo);
      if (hi) m = m.defined() ? mul(m, le(s[0], *hi)) : le(s[0], *hi);
      return Grads{mul(g[0], m)};
    });
  }
  return out;
}

Tensor Tensor::pow(double e) const { return xgrad::pow(*this, e); }
Tensor Tensor::pow(const Tensor& e) const { return xgrad::pow(*this, e); }
Tensor Tensor::exp() const { return xgrad::exp(*this); }
Tensor Tensor::log() const { return xgrad::log(*this); }
Tensor Tensor::log1p() const { return xgrad::log1p(*this); }
Tensor Tensor::sqrt() const { return xgrad::sqrt(*this); }
Tensor Tensor::rsqrt() const { return xgrad::rsqrt(*this); }
Tensor Tensor::abs() const { return xgrad::abs(*this); }
Tensor Tensor::sin() const { return xgrad::sin(*this); }
Tensor Tensor::cos() const { return xgrad::cos(*this); }
Tensor Tensor::tanh() const { return xgrad::tanh(*this); }
Tensor Tensor::sigmoid() const { return xgrad::sigmoid(*this); }
Tensor Tensor::relu() const { return xgrad::relu(*this); }
Tensor Tensor::erf() const { return xgrad::erf(*this); }
Tensor Tensor::clamp(std::optional<double> lo, std::optional<double> hi) const { return xgrad::clamp(*this, lo, hi); }

}  // namespace xgrad
