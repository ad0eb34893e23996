// Special functions of math.hpp: erfinv, erfc, lgamma, digamma, polygamma. Every float32
// value is computed in double and rounded once.
#include <math.h>  // lgamma_r (glibc): std::lgamma writes the global signgam (a data race in parallel loops)
#include <cmath>
#include <limits>
#include <numbers>
#include <vector>

#include "kernel.hpp"
#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/math.hpp"
#include "xgrad/autograd/profile_scope.hpp"

namespace xgrad {

namespace {

using Grads = std::vector<Tensor>;

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kPi = std::numbers::pi;
// 170! is the largest factorial below float64's maximum; the work per element grows with n.
constexpr std::int64_t kMaxPolygammaOrder = 170;

// out[i] = f(a[i]) computed in double, for floating a (other dtypes throw naming op).
template <class F>
Tensor unary_in_double(const Tensor& a, std::string_view op, F f) {
  detail::check_defined(a, op);
  Tensor out = detail::make_tensor(a.shape(), a.dtype(), op);
  detail::dispatch_floating(a, op, [&]<class T>() {
    detail::unary_kernel<T, T>(a, out, [&](T x) { return static_cast<T>(f(static_cast<double>(x))); });
  });
  return out;
}

// ---- erfinv -----------------------------------------------------------------------------------

double erfinv_d(double y) {
  if (!(y >= -1.0 && y <= 1.0)) return kNaN;  // NaN included
  if (y == 1.0) return kInf;
  if (y == -1.0) return -kInf;
  if (y == 0.0) return y;  // keeps the sign of zero
  const double ay = std::abs(y);
  // Start: M. Giles's single-precision approximation ("Approximating the erfinv function",
  // GPU Computing Gems, 2011): about 1e-7 relative within float's range, a few percent
  // near 1 - 2^-53 ...
  double w = -std::log((1.0 - ay) * (1.0 + ay));
  double p;
  if (w < 5.0) {
    w -= 2.5;
    p = 2.81022636e-08;
    p = 3.43273939e-07 + p * w;
    p = -3.5233877e-06 + p * w;
    p = -4.39150654e-06 + p * w;
    p = 0.00021858087 + p * w;
    p = -0.00125372503 + p * w;
    p = -0.00417768164 + p * w;
    p = 0.246640727 + p * w;
    p = 1.50140941 + p * w;
  } else {
    w = std::sqrt(w) - 3.0;
    p = -0.000200214257;
    p = 0.000100950558 + p * w;
    p = 0.00134934322 + p * w;
    p = -0.00367342844 + p * w;
    p = 0.00573950773 + p * w;
    p = -0.0076224613 + p * w;
    p = 0.00943887047 + p * w;
    p = 1.00167406 + p * w;
    p = 2.83297682 + p * w;
  }
  double x = p * ay;
  // ... then a fixed number of refining steps (every element does the same work; all
  // converge from that start, checked down to 1 - ay = 2^-53):
  if (ay < 0.5) {
    // Halley on f(x) = erf(x) - ay (f'' = -2x f'): cubic convergence.
    for (int i = 0; i < 3; ++i) {
      const double t = (std::erf(x) - ay) / (2.0 * std::numbers::inv_sqrtpi * std::exp(-x * x));
      x -= t / (1.0 + x * t);
    }
  } else {
    // NOTE: in the tail, Newton on log erfc(x) = log(1 - ay), nearly quadratic in x there
    // (Newton on erf itself crawls through the exponential), with 1 - ay exact (Sterbenz)
    // where erf(x) - ay would cancel.
    const double q = 1.0 - ay;
    for (int i = 0; i < 5; ++i) {
      const double e = std::erfc(x);
      x += std::log(e / q) * e / (2.0 * std::numbers::inv_sqrtpi * std::exp(-x * x));
    }
  }
  return std::copysign(x, y);
}

// ---- lgamma, digamma, polygamma -----------------------------------------------------------------

double lgamma_d(double x) {
#if defined(__GLIBC__)
  int sign = 0;
  return ::lgamma_r(x, &sign);
#else
  return std::lgamma(x);
#endif
}

double digamma_d(double x) {
  // PyTorch's conventions at the poles: -inf at +0, +inf at -0, NaN at the negative integers.
  if (x == 0.0) return std::copysign(kInf, -x);
  if (x < 0.0) {
    if (x == std::trunc(x)) return kNaN;  // also -inf
    // Reflection psi(x) = psi(1 - x) - pi cot(pi x); cot has period 1, so use the fraction.
    return digamma_d(1.0 - x) - kPi / std::tan(kPi * (x - std::trunc(x)));
  }
  // Recurrence psi(x) = psi(x + 1) - 1/x up to x >= 10, then the asymptotic series
  // psi(x) ~ ln x - 1/(2x) - sum_k B_2k / (2k x^2k) (error below 1e-17 for x >= 10).
  double acc = 0.0;
  while (x < 10.0) {
    acc -= 1.0 / x;
    x += 1.0;
  }
  const double z = 1.0 / (x * x);
  const double series =
      z *
      (1.0 / 12 - z * (1.0 / 120 - z * (1.0 / 252 - z * (1.0 / 240 - z * (1.0 / 132 - z * (691.0 / 32760 - z / 12))))));
  return acc + std::log(x) - 0.5 / x - series;
}

// Hurwitz zeta(s, q) = sum_k (q + k)^-s for an integer s >= 2 and q > 0: the first terms
// summed until q + k >= s + 10, the rest by the Euler-Maclaurin formula
// a^(1-s)/(s-1) + a^-s/2 + sum_j B_2j/(2j)! s (s+1) ... (s+2j-2) a^(-s-2j+1).
double hurwitz_zeta(double s, double q) {
  // B_2j / (2j)!, j = 1..8.
  static constexpr double kB[] = {1.0 / 12,          -1.0 / 720,
                                  1.0 / 30240,       -1.0 / 1209600,
                                  1.0 / 47900160,    -691.0 / 1307674368000,
                                  1.0 / 74724249600, -3617.0 / 10670622842880000};
  double sum = 0.0;
  const double m = s + 10.0;
  while (q < m) {
    sum += std::pow(q, -s);
    q += 1.0;
  }
  const double a = q;
  double term = std::pow(a, -s);  // a^-s
  sum += a * term / (s - 1.0) + 0.5 * term;
  double rising = s;  // s (s+1) ... (s+2j-2)
  term /= a;          // a^(-s-1)
  for (int j = 0; j < 8; ++j) {
    const double t = kB[j] * rising * term;
    sum += t;
    if (std::abs(t) <= 1e-18 * std::abs(sum)) break;
    rising *= (s + 2.0 * j + 1.0) * (s + 2.0 * j + 2.0);
    term /= a * a;
  }
  return sum;
}

// Coefficients of Q_n, the polynomial with d^n/dx^n cot(pi x) = pi^n Q_n(cot(pi x)):
// Q_0(c) = c, Q_{k+1}(c) = -(1 + c^2) Q_k'(c). Index i holds the coefficient of c^i.
std::vector<double> cot_derivative_poly(std::int64_t n) {
  std::vector<double> q{0.0, 1.0};
  for (std::int64_t k = 0; k < n; ++k) {
    std::vector<double> next(q.size() + 1, 0.0);
    for (std::size_t i = 1; i < q.size(); ++i) {
      const double d = static_cast<double>(i) * q[i];  // coefficient of c^(i-1) in Q_k'
      next[i - 1] -= d;
      next[i + 1] -= d;
    }
    q = std::move(next);
  }
  return q;
}

// psi^(n)(x) for n >= 1; cot_poly = cot_derivative_poly(n).
double polygamma_d(std::int64_t n, double x, const std::vector<double>& cot_poly) {
  const double sign = n % 2 == 1 ? 1.0 : -1.0;  // (-1)^(n+1)
  if (std::isnan(x)) return x;
  if (std::isinf(x)) return x > 0 ? 0.0 : kNaN;
  if (x <= 0.0 && x == std::floor(x)) return sign * kInf;  // the poles, like PyTorch
  if (x < 0.0) {
    // Reflection: differentiating psi(1 - x) - psi(x) = pi cot(pi x) n times gives
    // psi^(n)(x) = (-1)^n psi^(n)(1 - x) - pi^(n+1) Q_n(cot(pi x)).
    const double c = 1.0 / std::tan(kPi * (x - std::trunc(x)));
    double qv = 0.0;
    for (std::size_t i = cot_poly.size(); i-- > 0;) qv = qv * c + cot_poly[i];
    return -sign * polygamma_d(n, 1.0 - x, cot_poly) - std::pow(kPi, static_cast<double>(n + 1)) * qv;
  }
  // psi^(n)(x) = (-1)^(n+1) n! zeta(n + 1, x).
  double factorial = 1.0;
  for (std::int64_t k = 2; k <= n; ++k) factorial *= static_cast<double>(k);
  return sign * factorial * hurwitz_zeta(static_cast<double>(n + 1), x);
}

}  // namespace

Tensor erfinv(const Tensor& a) {
  XGRAD_PROFILE_OP("erfinv", a);
  Tensor out = unary_in_double(a, "erfinv", erfinv_d);
  if (any_requires_grad({&a})) {
    // d erfinv(y)/dy = 1 / erf'(erfinv y) = sqrt(pi)/2 e^(out^2).
    record("ErfinvBackward", {a}, {out}, {out}, [](const Grads& g, const Grads& s) {
      return Grads{mul(g[0], mul(exp(mul(s[0], s[0])), 0.5 / std::numbers::inv_sqrtpi))};
    });
  }
  return out;
}

Tensor erfc(const Tensor& a) {
  XGRAD_PROFILE_OP("erfc", a);
  detail::check_defined(a, "erfc");
  Tensor out = detail::make_tensor(a.shape(), a.dtype(), "erfc");
  detail::dispatch_floating(a, "erfc",
                            [&]<class T>() { detail::unary_kernel<T, T>(a, out, [](T x) { return std::erfc(x); }); });
  if (any_requires_grad({&a})) {
    // d erfc(a)/da = -2/sqrt(pi) e^(-a^2).
    record("ErfcBackward", {a}, {out}, {a}, [](const Grads& g, const Grads& s) {
      return Grads{mul(g[0], mul(exp(neg(mul(s[0], s[0]))), -2.0 * std::numbers::inv_sqrtpi))};
    });
  }
  return out;
}

Tensor lgamma(const Tensor& a) {
  XGRAD_PROFILE_OP("lgamma", a);
  Tensor out = unary_in_double(a, "lgamma", lgamma_d);
  if (any_requires_grad({&a})) {
    // d ln|Gamma(a)|/da = psi(a).
    record("LgammaBackward", {a}, {out}, {a},
           [](const Grads& g, const Grads& s) { return Grads{mul(g[0], digamma(s[0]))}; });
  }
  return out;
}

Tensor digamma(const Tensor& a) {
  XGRAD_PROFILE_OP("digamma", a);
  Tensor out = unary_in_double(a, "digamma", digamma_d);
  if (any_requires_grad({&a})) {
    // d psi(a)/da = psi^(1)(a).
    record("DigammaBackward", {a}, {out}, {a},
           [](const Grads& g, const Grads& s) { return Grads{mul(g[0], polygamma(1, s[0]))}; });
  }
  return out;
}

Tensor polygamma(std::int64_t n, const Tensor& a) {
  XGRAD_PROFILE_OP("polygamma", a);
  detail::check_defined(a, "polygamma");
  if (n < 0) throw Error(fmt::format("polygamma: n must be non-negative, got {}", n));
  if (n > kMaxPolygammaOrder)
    throw Error(fmt::format("polygamma: n = {} is too large (at most {}: n! overflows float64 beyond)", n,
                            kMaxPolygammaOrder));
  if (!is_floating(a.dtype()))
    throw Error(fmt::format("polygamma: expected a floating dtype (float32 or float64), got {} for tensor of shape {}",
                            a.dtype(), a.shape()));
  if (n == 0) return digamma(a);
  const std::vector<double> cot_poly = cot_derivative_poly(n);
  Tensor out = unary_in_double(a, "polygamma", [&](double x) { return polygamma_d(n, x, cot_poly); });
  if (any_requires_grad({&a})) {
    // d psi^(n)(a)/da = psi^(n+1)(a).
    record("PolygammaBackward", {a}, {out}, {a},
           [n](const Grads& g, const Grads& s) { return Grads{mul(g[0], polygamma(n + 1, s[0]))}; });
  }
  return out;
}

}  // namespace xgrad
