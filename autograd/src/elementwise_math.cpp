// Element-wise math of math.hpp: isnan/isinf/isfinite/isposinf/isneginf, nan_to_num, clamp
// with tensor bounds, lerp, hypot, atan2, logaddexp(2), xlogy, trunc, frac, round, sgn.
// The special functions (erfinv, erfc, lgamma, digamma, polygamma) are in
// elementwise_special.cpp.
#include <cmath>
#include <limits>
#include <numbers>

#include "kernel.hpp"
#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/math.hpp"
#include "xgrad/autograd/profile_scope.hpp"

namespace xgrad {

namespace {

using Grads = std::vector<Tensor>;

Tensor zero_of(const Tensor& like) { return scalar_tensor(0.0, dtype(like.dtype())); }

// out[i] = f(a[i]) for floating a (other dtypes throw naming op).
template <class F>
Tensor unary_floating(const Tensor& a, std::string_view op, F f) {
  detail::check_defined(a, op);
  Tensor out = detail::make_tensor(a.shape(), a.dtype(), op);
  detail::dispatch_floating(a, op, [&]<class T>() { detail::unary_kernel<T, T>(a, out, [&](T x) { return f(x); }); });
  return out;
}

Shape broadcast_all(const std::vector<const Tensor*>& ts, std::string_view op) {
  Shape os = ts[0]->shape();
  for (std::size_t i = 1; i < ts.size(); ++i)
    if (ts[i]->shape() != os) os = broadcast_shapes(os, ts[i]->shape(), op);
  return os;
}

// out = f(a, b) broadcast, one floating dtype.
template <class F>
Tensor binary_floating(const Tensor& a, const Tensor& b, std::string_view op, F f) {
  detail::check_same_dtype(a, b, op);
  Tensor out = detail::make_tensor(broadcast_all({&a, &b}, op), a.dtype(), op);
  detail::dispatch_floating(
      a, op, [&]<class T>() { detail::binary_kernel<T, T>(a, b, out, [&](T x, T y) { return f(x, y); }); });
  return out;
}

// out = f(a, b, c) with broadcasting of all three (out freshly allocated, contiguous, with
// the broadcast shape). Contiguous same-shape operands take a flat loop.
template <class T, class R, class F>
void ternary_kernel(const Tensor& a, const Tensor& b, const Tensor& c, const Tensor& out, F f) {
  const T* pa = a.strided_data_ptr<T>();
  const T* pb = b.strided_data_ptr<T>();
  const T* pc = c.strided_data_ptr<T>();
  R* po = out.data_ptr<R>();
  const Shape& os = out.shape();
  if (a.shape() == os && b.shape() == os && c.shape() == os && a.is_contiguous() && b.is_contiguous() &&
      c.is_contiguous()) {
    detail::parallel_for(out.numel(), detail::kGrain, [&](std::int64_t s, std::int64_t e) {
      for (std::int64_t i = s; i < e; ++i) po[i] = f(pa[i], pb[i], pc[i]);
    });
    return;
  }
  std::array<std::vector<std::int64_t>, 4> st{out.strides(), detail::broadcast_strides(a, os),
                                              detail::broadcast_strides(b, os), detail::broadcast_strides(c, os)};
  detail::strided_rows<4>(
      os, st, [&](const std::array<std::int64_t, 4>& off, std::int64_t len, const std::array<std::int64_t, 4>& is) {
        for (std::int64_t j = 0; j < len; ++j)
          po[off[0] + j * is[0]] = f(pa[off[1] + j * is[1]], pb[off[2] + j * is[2]], pc[off[3] + j * is[3]]);
      });
}

// A bool tensor of a's shape: pred(a[i]) for floating dtypes, `integral` for the others.
template <class P>
Tensor classify(const Tensor& a, std::string_view op, bool integral, P pred) {
  detail::check_defined(a, op);
  Tensor out = detail::make_tensor(a.shape(), Dtype::boolean, op);
  detail::dispatch(a.dtype(), [&]<class T>() {
    if constexpr (std::is_floating_point_v<T>)
      detail::unary_kernel<T, bool>(a, out, [&](T x) -> bool { return pred(x); });
    else
      detail::unary_kernel<T, bool>(a, out, [integral](T) { return integral; });
  });
  return out;
}

// a copy of an integer tensor (what PyTorch's rounding functions return for them).
Tensor integer_copy(const Tensor& a) { return a.clone(); }

void check_not_bool(const Tensor& a, std::string_view op) {
  detail::check_defined(a, op);
  if (a.dtype() == Dtype::boolean)
    throw Error(fmt::format("{}: not supported for bool tensors (tensor of shape {})", op, a.shape()));
}

// A bool mask with the broadcast shape of a and b: pred(a[i], b[i]) (not recorded).
template <class P>
Tensor mask2(const Tensor& a, const Tensor& b, P pred) {
  Tensor out = detail::make_tensor(broadcast_all({&a, &b}, "mask"), Dtype::boolean);
  detail::dispatch_floating(a, "mask", [&]<class T>() {
    detail::binary_kernel<T, bool>(a, b, out, [&](T x, T y) -> bool { return pred(x, y); });
  });
  return out;
}

// g where mask, else 0 (mask: any dtype, nonzero = true; broadcast).
Tensor keep_where(const Tensor& mask, const Tensor& g) { return where(mask, g, zero_of(g)); }

// A bool mask with the broadcast shape of three tensors: pred(x, lo, hi) (not recorded).
template <class P>
Tensor mask3(const Tensor& a, const Tensor& b, const Tensor& c, P pred) {
  Tensor m = detail::make_tensor(broadcast_all({&a, &b, &c}, "mask"), Dtype::boolean);
  detail::dispatch_floating(a, "mask", [&]<class T>() {
    ternary_kernel<T, bool>(a, b, c, m, [&](T x, T y, T z) -> bool { return pred(x, y, z); });
  });
  return m;
}

}  // namespace

// ---- classification ---------------------------------------------------------------------------

Tensor isnan(const Tensor& a) {
  XGRAD_PROFILE_OP("isnan", a);
  return classify(a, "isnan", false, []<class T>(T x) { return std::isnan(x); });
}
Tensor isinf(const Tensor& a) {
  XGRAD_PROFILE_OP("isinf", a);
  return classify(a, "isinf", false, []<class T>(T x) { return std::isinf(x); });
}
Tensor isfinite(const Tensor& a) {
  XGRAD_PROFILE_OP("isfinite", a);
  return classify(a, "isfinite", true, []<class T>(T x) { return std::isfinite(x); });
}
Tensor isposinf(const Tensor& a) {
  XGRAD_PROFILE_OP("isposinf", a);
  return classify(a, "isposinf", false, []<class T>(T x) { return x == std::numeric_limits<T>::infinity(); });
}
Tensor isneginf(const Tensor& a) {
  XGRAD_PROFILE_OP("isneginf", a);
  return classify(a, "isneginf", false, []<class T>(T x) { return x == -std::numeric_limits<T>::infinity(); });
}

Tensor nan_to_num(const Tensor& a, std::optional<double> nan, std::optional<double> posinf,
                  std::optional<double> neginf) {
  XGRAD_PROFILE_OP("nan_to_num", a);
  detail::check_defined(a, "nan_to_num");
  if (!is_floating(a.dtype())) return integer_copy(a);
  Tensor out = detail::make_tensor(a.shape(), a.dtype(), "nan_to_num");
  detail::dispatch_floating(a, "nan_to_num", [&]<class T>() {
    // The replacements in a's dtype (converted once, like PyTorch's cast to scalar_t).
    const T vn = static_cast<T>(nan.value_or(0.0));
    const T vp = posinf ? static_cast<T>(*posinf) : std::numeric_limits<T>::max();
    const T vm = neginf ? static_cast<T>(*neginf) : std::numeric_limits<T>::lowest();
    constexpr T inf = std::numeric_limits<T>::infinity();
    detail::unary_kernel<T, T>(a, out, [=](T x) { return x != x ? vn : x == inf ? vp : x == -inf ? vm : x; });
  });
  if (any_requires_grad({&a})) {
    // d/da = 1 where a is finite, 0 where it was replaced.
    record("NanToNumBackward", {a}, {out}, {a},
           [](const Grads& g, const Grads& s) { return Grads{keep_where(isfinite(s[0]), g[0])}; });
  }
  return out;
}

// ---- clamp with tensor bounds -------------------------------------------------------------------

Tensor clamp(const Tensor& a_in, const std::optional<Tensor>& min, const std::optional<Tensor>& max) {
  XGRAD_PROFILE_OP("clamp", a_in);
  detail::check_defined(a_in, "clamp");
  const bool has_lo = min.has_value() && min->defined(), has_hi = max.has_value() && max->defined();
  if (!has_lo && !has_hi)
    throw Error(fmt::format("clamp: at least one of min and max must be given (tensor of shape {})", a_in.shape()));
  // One dtype for all three: the promotion of a with each given bound (PyTorch's result_type).
  Dtype r = a_in.dtype();
  if (has_lo) r = result_type(a_in, *min);
  if (has_hi) r = promote_types(r, result_type(a_in, *max));
  const Tensor a = a_in.to(r);
  const Tensor lo = has_lo ? min->to(r) : Tensor(), hi = has_hi ? max->to(r) : Tensor();
  Tensor out;
  if (has_lo && has_hi) {
    out = detail::make_tensor(broadcast_all({&a, &lo, &hi}, "clamp"), a.dtype(), "clamp");
    detail::dispatch_numeric(a.dtype(), "clamp", [&]<class T>() {
      // NaN in a bound gives NaN; NaN in a passes through max and min (x < m is false).
      ternary_kernel<T, T>(a, lo, hi, out, [](T x, T l, T h) {
        if (l != l || h != h) return std::numeric_limits<T>::quiet_NaN();
        if (x < l) x = l;
        if (h < x) x = h;
        return x;
      });
    });
  } else {
    const Tensor& bound = has_lo ? lo : hi;
    out = detail::make_tensor(broadcast_all({&a, &bound}, "clamp"), a.dtype(), "clamp");
    detail::dispatch_numeric(a.dtype(), "clamp", [&]<class T>() {
      // maximum (min only) / minimum (max only), NaN from either side propagating.
      detail::binary_kernel<T, T>(a, bound, out, [has_lo](T x, T b) {
        if (x != x) return x;
        if (b != b) return b;
        return (has_lo ? x < b : b < x) ? b : x;
      });
    });
  }
  if (any_requires_grad({&a, &lo, &hi})) {
    const bool ra = a.requires_grad(), rl = has_lo && lo.requires_grad(), rh = has_hi && hi.requires_grad();
    // PyTorch's clamp_backward / clamp_backward_min_max for tensor bounds:
    //   a:   g where lo <= a <= hi
    //   lo:  g where a < lo and lo < hi   (lo < hi only when both bounds are given)
    //   hi:  g where a > hi or hi < lo
    record("ClampBackward", {a, lo, hi}, {out}, {a, lo, hi}, [ra, rl, rh](const Grads& g, const Grads& s) {
      const Tensor &x = s[0], &l = s[1], &h = s[2];
      Tensor ga, gl, gh;
      if (l.defined() && h.defined()) {
        if (ra) ga = keep_where(mask3(x, l, h, []<class T>(T v, T p, T q) { return v >= p && v <= q; }), g[0]);
        if (rl) gl = keep_where(mask3(x, l, h, []<class T>(T v, T p, T q) { return v < p && p < q; }), g[0]);
        if (rh) gh = keep_where(mask3(x, l, h, []<class T>(T v, T p, T q) { return v > q || q < p; }), g[0]);
      } else if (l.defined()) {
        if (ra) ga = keep_where(ge(x, l), g[0]);
        if (rl) gl = keep_where(lt(x, l), g[0]);
      } else {
        if (ra) ga = keep_where(le(x, h), g[0]);
        if (rh) gh = keep_where(gt(x, h), g[0]);
      }
      return Grads{ga, gl, gh};
    });
  }
  return out;
}

// ---- lerp ---------------------------------------------------------------------------------------

namespace {
// PyTorch's lerp: the two forms agree at |w| = 0.5 and each is exact at its own end
// (w = 0 gives start, w = 1 gives end).
template <class T>
T lerp_value(T s, T e, T w) {
  return std::abs(w) < T(0.5) ? s + w * (e - s) : e - (e - s) * (T(1) - w);
}
}  // namespace

Tensor lerp(const Tensor& start_in, const Tensor& end_in, double weight) {
  XGRAD_PROFILE_OP("lerp", start_in, end_in);
  const auto [start, end] = detail::promoted(start_in, end_in, "lerp");
  Tensor out = binary_floating(start, end, "lerp",
                               [weight]<class T>(T s, T e) { return lerp_value(s, e, static_cast<T>(weight)); });
  if (any_requires_grad({&start, &end})) {
    const bool rs = start.requires_grad(), re = end.requires_grad();
    // d/dstart = 1 - w, d/dend = w.
    record("LerpBackward", {start, end}, {out}, {}, [rs, re, weight](const Grads& g, const Grads&) {
      return Grads{rs ? mul(g[0], 1.0 - weight) : Tensor(), re ? mul(g[0], weight) : Tensor()};
    });
  }
  return out;
}

Tensor lerp(const Tensor& start_in, const Tensor& end_in, const Tensor& weight_in) {
  XGRAD_PROFILE_OP("lerp", start_in, end_in, weight_in);
  const auto [s1, e1] = detail::promoted(start_in, end_in, "lerp");
  const auto [start, weight] = detail::promoted(s1, weight_in, "lerp");
  const Tensor end = e1.to(start.dtype());
  Tensor out = detail::make_tensor(broadcast_all({&start, &end, &weight}, "lerp"), start.dtype(), "lerp");
  detail::dispatch_floating(start, "lerp", [&]<class T>() {
    ternary_kernel<T, T>(start, end, weight, out, [](T s, T e, T w) { return lerp_value(s, e, w); });
  });
  if (any_requires_grad({&start, &end, &weight})) {
    const bool rs = start.requires_grad(), re = end.requires_grad(), rw = weight.requires_grad();
    // d/dstart = 1 - w, d/dend = w, d/dw = end - start.
    record("LerpBackward", {start, end, weight}, {out}, {rw ? start : Tensor(), rw ? end : Tensor(), weight},
           [rs, re, rw](const Grads& g, const Grads& s) {
             return Grads{rs ? mul(g[0], rsub(s[2], 1.0)) : Tensor(), re ? mul(g[0], s[2]) : Tensor(),
                          rw ? mul(g[0], sub(s[1], s[0])) : Tensor()};
           });
  }
  return out;
}

// ---- binary math --------------------------------------------------------------------------------

Tensor hypot(const Tensor& a_in, const Tensor& b_in) {
  XGRAD_PROFILE_OP("hypot", a_in, b_in);
  const auto [a, b] = detail::promoted(a_in, b_in, "hypot");
  Tensor out = binary_floating(a, b, "hypot", []<class T>(T x, T y) { return std::hypot(x, y); });
  if (any_requires_grad({&a, &b})) {
    const bool ra = a.requires_grad(), rb = b.requires_grad();
    // d/da = a / out, d/db = b / out.
    record("HypotBackward", {a, b}, {out}, {ra ? a : Tensor(), rb ? b : Tensor(), out},
           [ra, rb](const Grads& g, const Grads& s) {
             const Tensor q = div(g[0], s[2]);
             return Grads{ra ? mul(q, s[0]) : Tensor(), rb ? mul(q, s[1]) : Tensor()};
           });
  }
  return out;
}

Tensor atan2(const Tensor& a_in, const Tensor& b_in) {
  XGRAD_PROFILE_OP("atan2", a_in, b_in);
  const auto [a, b] = detail::promoted(a_in, b_in, "atan2");
  Tensor out = binary_floating(a, b, "atan2", []<class T>(T y, T x) { return std::atan2(y, x); });
  if (any_requires_grad({&a, &b})) {
    const bool ra = a.requires_grad(), rb = b.requires_grad();
    // d/da = b / (a^2 + b^2), d/db = -a / (a^2 + b^2).
    record("Atan2Backward", {a, b}, {out}, {a, b}, [ra, rb](const Grads& g, const Grads& s) {
      const Tensor q = div(g[0], add(mul(s[0], s[0]), mul(s[1], s[1])));
      return Grads{ra ? mul(q, s[1]) : Tensor(), rb ? neg(mul(q, s[0])) : Tensor()};
    });
  }
  return out;
}

Tensor logaddexp(const Tensor& a_in, const Tensor& b_in) {
  XGRAD_PROFILE_OP("logaddexp", a_in, b_in);
  const auto [a, b] = detail::promoted(a_in, b_in, "logaddexp");
  Tensor out = binary_floating(a, b, "logaddexp", []<class T>(T x, T y) {
    // NOTE: equal infinities would give inf - inf = NaN in the stable form.
    if (std::isinf(x) && x == y) return x;
    return std::max(x, y) + std::log1p(std::exp(-std::abs(x - y)));
  });
  if (any_requires_grad({&a, &b})) {
    const bool ra = a.requires_grad(), rb = b.requires_grad();
    // d/da = 1 / (1 + e^(b - a)), d/db = 1 / (1 + e^(a - b)).
    record("LogaddexpBackward", {a, b}, {out}, {a, b}, [ra, rb](const Grads& g, const Grads& s) {
      return Grads{ra ? div(g[0], add(exp(sub(s[1], s[0])), 1.0)) : Tensor(),
                   rb ? div(g[0], add(exp(sub(s[0], s[1])), 1.0)) : Tensor()};
    });
  }
  return out;
}

Tensor logaddexp2(const Tensor& a_in, const Tensor& b_in) {
  XGRAD_PROFILE_OP("logaddexp2", a_in, b_in);
  const auto [a, b] = detail::promoted(a_in, b_in, "logaddexp2");
  Tensor out = binary_floating(a, b, "logaddexp2", []<class T>(T x, T y) {
    if (std::isinf(x) && x == y) return x;
    return std::max(x, y) + std::log1p(std::exp2(-std::abs(x - y))) / std::numbers::ln2_v<T>;
  });
  if (any_requires_grad({&a, &b})) {
    const bool ra = a.requires_grad(), rb = b.requires_grad();
    // d/da = 1 / (1 + 2^(b - a)), d/db = 1 / (1 + 2^(a - b)); 2^x = e^(x ln 2).
    record("Logaddexp2Backward", {a, b}, {out}, {a, b}, [ra, rb](const Grads& g, const Grads& s) {
      auto pow2 = [](const Tensor& x) { return exp(mul(x, std::numbers::ln2)); };
      return Grads{ra ? div(g[0], add(pow2(sub(s[1], s[0])), 1.0)) : Tensor(),
                   rb ? div(g[0], add(pow2(sub(s[0], s[1])), 1.0)) : Tensor()};
    });
  }
  return out;
}

Tensor xlogy(const Tensor& x_in, const Tensor& y_in) {
  XGRAD_PROFILE_OP("xlogy", x_in, y_in);
  const auto [x, y] = detail::promoted(x_in, y_in, "xlogy");
  Tensor out = binary_floating(x, y, "xlogy", []<class T>(T u, T v) {
    if (std::isnan(v)) return std::numeric_limits<T>::quiet_NaN();
    if (u == T(0)) return T(0);
    return u * std::log(v);
  });
  if (any_requires_grad({&x, &y})) {
    const bool rx = x.requires_grad(), ry = y.requires_grad();
    // d/dx = log y, as xlogy(g, y) (0 where g == 0), masked to 0 where x == 0 and y <= 0
    // (PyTorch's rule: no -inf or NaN from the log where x contributes nothing);
    // d/dy = x / y.
    record("XlogyBackward", {x, y}, {out}, {x, y}, [rx, ry](const Grads& g, const Grads& s) {
      Tensor gx, gy;
      if (rx) {
        const Tensor m = mask2(s[0], s[1], []<class T>(T u, T v) { return u == T(0) && v <= T(0); });
        gx = where(m, zero_of(g[0]), xlogy(g[0], s[1]));
      }
      if (ry) gy = div(mul(g[0], s[0]), s[1]);
      return Grads{gx, gy};
    });
  }
  return out;
}

// ---- rounding -----------------------------------------------------------------------------------

Tensor trunc(const Tensor& a) {
  XGRAD_PROFILE_OP("trunc", a);
  check_not_bool(a, "trunc");
  if (!is_floating(a.dtype())) return integer_copy(a);
  Tensor out = unary_floating(a, "trunc", []<class T>(T x) { return std::trunc(x); });
  if (any_requires_grad({&a})) {
    // Piecewise constant: gradient 0.
    record("TruncBackward", {a}, {out}, {}, [](const Grads& g, const Grads&) { return Grads{zeros_like(g[0])}; });
  }
  return out;
}

Tensor frac(const Tensor& a) {
  XGRAD_PROFILE_OP("frac", a);
  Tensor out = unary_floating(a, "frac", []<class T>(T x) { return x - std::trunc(x); });
  if (any_requires_grad({&a})) {
    // d(a - trunc a)/da = 1.
    record("FracBackward", {a}, {out}, {}, [](const Grads& g, const Grads&) { return Grads{g[0]}; });
  }
  return out;
}

Tensor round(const Tensor& a, std::int64_t decimals) {
  XGRAD_PROFILE_OP("round", a);
  check_not_bool(a, "round");
  if (!is_floating(a.dtype())) {
    if (decimals == 0) return integer_copy(a);
    throw Error(
        fmt::format("round: decimals = {} needs a floating dtype (float32 or float64), got {} for tensor of "
                    "shape {}",
                    decimals, a.dtype(), a.shape()));
  }
  Tensor out;
  if (decimals == 0) {
    // nearbyint rounds half to even in the default rounding mode.
    out = unary_floating(a, "round", []<class T>(T x) { return std::nearbyint(x); });
  } else {
    const bool neg = decimals < 0;
    const double p = std::pow(10.0, static_cast<double>(neg ? -decimals : decimals));
    out = unary_floating(a, "round", [neg, p]<class T>(T x) {
      const T scale = static_cast<T>(p);
      return neg ? std::nearbyint(x / scale) * scale : std::nearbyint(x * scale) / scale;
    });
  }
  if (any_requires_grad({&a})) {
    record("RoundBackward", {a}, {out}, {}, [](const Grads& g, const Grads&) { return Grads{zeros_like(g[0])}; });
  }
  return out;
}

Tensor sgn(const Tensor& a) {
  XGRAD_PROFILE_OP("sgn", a);
  return sign(a);
}

}  // namespace xgrad
