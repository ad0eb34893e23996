// Arithmetic: add, sub, mul, div (tensor-tensor with broadcasting, tensor-scalar), neg, and
// the operators and Tensor methods for them.
#include <atomic>

#include "kernel.hpp"
#include "view.hpp"
#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/profile_scope.hpp"

namespace xgrad {

Shape broadcast_shapes(const Shape& a, const Shape& b, std::string_view op) {
  const std::size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const std::int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1)
      throw Error(fmt::format("{}: shapes {} and {} cannot be broadcast together (dimension {}: {} vs {})", op, a, b, i,
                              da, db));
    out[i] = da == 1 ? db : da;
  }
  return out;
}

namespace {

template <class F>
Tensor binary(const Tensor& a, const Tensor& b, std::string_view op, F f) {
  detail::check_same_dtype(a, b, op);
  Shape os = a.shape() == b.shape() ? a.shape() : broadcast_shapes(a.shape(), b.shape(), op);
  Tensor out = detail::make_tensor(os, a.dtype());
  detail::dispatch_numeric(a.dtype(), op, [&]<class T>() { detail::binary_kernel<T, T>(a, b, out, f); });
  return out;
}

template <class F>
Tensor scalar_op(const Tensor& a, std::string_view op, F f) {
  detail::check_defined(a, op);
  Tensor out = detail::make_tensor(a.shape(), a.dtype());
  detail::dispatch_numeric(a.dtype(), op, [&]<class T>() { detail::unary_kernel<T, T>(a, out, [&](T x) { return f(x); }); });
  return out;
}

using Grads = std::vector<Tensor>;

// {g b, g a} in one pass over g (same shapes, nothing recorded): mul's backward when both
// inputs need a gradient and no graph of the backward is built.
// When the engine offers the gradient already accumulated for an input (GradAccumulators),
// it is added in the same pass: x * y + x's backward sums g y + g for x without a second pass.
Grads mul_backward_both(const Tensor& g, const Tensor& a_in, const Tensor& b_in) {
  const Tensor a = detail::packed(a_in), b = detail::packed(b_in);
  const bool g_scalar = !g.is_contiguous() && std::all_of(g.strides().begin(), g.strides().end(),
                                                          [](std::int64_t st) { return st == 0; });
  const Tensor gp = g_scalar ? g : detail::packed(g);
  Tensor ga = detail::make_tensor(g.shape(), g.dtype());
  Tensor gb = detail::make_tensor(g.shape(), g.dtype());
  detail::GradAccumulators& acc = detail::current_accumulators();
  const Tensor acc_a = detail::offered_accumulator(0, g.shape(), g.dtype(), false);
  const Tensor acc_b = detail::offered_accumulator(1, g.shape(), g.dtype(), false);
  detail::dispatch_floating(g.dtype(), "MulBackward", [&]<class T>() {
    // g is packed, or one value broadcast everywhere (sum's gradient): read with stride 0.
    const T* pg = gp.strided_data_ptr<T>();
    const std::int64_t gs = g_scalar ? 0 : 1;
    const T* pa = a.data_ptr<T>();
    const T* pb = b.data_ptr<T>();
    T* oa = ga.data_ptr<T>();
    T* ob = gb.data_ptr<T>();
    const T* ca = acc_a.defined() ? acc_a.data_ptr<T>() : nullptr;
    const T* cb = acc_b.defined() ? acc_b.data_ptr<T>() : nullptr;
    detail::parallel_for(g.numel(), detail::kGrain, [&](std::int64_t s, std::int64_t e) {
      if (ca == nullptr && cb == nullptr) {
        for (std::int64_t i = s; i < e; ++i) {
          oa[i] = pg[i * gs] * pb[i];
          ob[i] = pg[i * gs] * pa[i];
        }
        return;
      }
      for (std::int64_t i = s; i < e; ++i) {
        oa[i] = ca ? pg[i * gs] * pb[i] + ca[i] : pg[i * gs] * pb[i];
        ob[i] = cb ? pg[i * gs] * pa[i] + cb[i] : pg[i * gs] * pa[i];
      }
    });
  });
  if (acc_a.defined()) acc.claimed[0] = 1;
  if (acc_b.defined()) acc.claimed[1] = 1;
  return {ga, gb};
}

}  // namespace

Dtype result_type(const Tensor& a, const Tensor& b) {
  detail::check_defined(a, "result_type");
  detail::check_defined(b, "result_type");
  const Dtype da = a.dtype(), db = b.dtype();
  if ((a.dim() == 0) == (b.dim() == 0) || da == db) return promote_types(da, db);
  // One 0-d operand: it decides only when its category is higher.
  const Dtype dims = a.dim() == 0 ? db : da, zero = a.dim() == 0 ? da : db;
  return dtype_category(zero) > dtype_category(dims) ? promote_types(dims, zero) : dims;
}

Dtype result_type(const Tensor& a, double s) {
  detail::check_defined(a, "result_type");
  const Dtype d = a.dtype();
  if (is_floating(d)) return d;
  const bool integral = std::isfinite(s) && std::trunc(s) == s;
  if (!integral) return Dtype::float32;
  return d == Dtype::boolean ? Dtype::int64 : d;
}

bool detail::needs_promotion(const Tensor& a, const Tensor& b, std::string_view op) {
  check_defined(a, op);
  check_defined(b, op);
  return a.dtype() != b.dtype();
}

std::pair<Tensor, Tensor> detail::promoted(const Tensor& a, const Tensor& b, std::string_view op) {
  check_defined(a, op);
  check_defined(b, op);
  const Dtype r = result_type(a, b);
  return {a.dtype() == r ? a : a.to(r), b.dtype() == r ? b : b.to(r)};
}

Tensor detail::promoted(const Tensor& a, double s, std::string_view op) {
  check_defined(a, op);
  const Dtype r = result_type(a, s);
  Tensor t = a.dtype() == r ? a : a.to(r);
  check_int_scalar(t, s, op);
  return t;
}

Tensor add(const Tensor& a, const Tensor& b) {
  XGRAD_PROFILE_OP("add", a, b);
  if (detail::needs_promotion(a, b, "add")) {
    const auto [x, y] = detail::promoted(a, b, "add");
    return add(x, y);
  }
  if (a.dtype() == Dtype::boolean) return logical_or(a, b);
  Tensor out = binary(a, b, "add", [](auto x, auto y) { return detail::wrap_add(x, y); });
  if (any_requires_grad({&a, &b})) {
    record("AddBackward", {a, b}, {out}, {},
           [ra = a.requires_grad(), rb = b.requires_grad()](const Grads& g, const Grads&) {
             return Grads{ra ? g[0] : Tensor(), rb ? g[0] : Tensor()};
           });
  }
  return out;
}

Tensor sub(const Tensor& a, const Tensor& b) {
  XGRAD_PROFILE_OP("sub", a, b);
  if (detail::needs_promotion(a, b, "sub")) {
    const auto [x, y] = detail::promoted(a, b, "sub");
    return sub(x, y);
  }
  if (a.dtype() == Dtype::boolean)
    throw Error(fmt::format("sub: subtraction of two bool tensors (shapes {} and {}) is not supported; to invert a "
                            "mask use ~ or logical_not",
                            a.shape(), b.shape()));
  Tensor out = binary(a, b, "sub", [](auto x, auto y) { return detail::wrap_sub(x, y); });
  if (any_requires_grad({&a, &b})) {
    record("SubBackward", {a, b}, {out}, {},
           [ra = a.requires_grad(), rb = b.requires_grad()](const Grads& g, const Grads&) {
             return Grads{ra ? g[0] : Tensor(), rb ? neg(g[0]) : Tensor()};
           });
  }
  return out;
}

Tensor mul(const Tensor& a, const Tensor& b) {
  XGRAD_PROFILE_OP("mul", a, b);
  if (detail::needs_promotion(a, b, "mul")) {
    const auto [x, y] = detail::promoted(a, b, "mul");
    return mul(x, y);
  }
  if (a.dtype() == Dtype::boolean) return logical_and(a, b);
  Tensor out = binary(a, b, "mul", [](auto x, auto y) { return detail::wrap_mul(x, y); });
  if (any_requires_grad({&a, &b})) {
    const bool ra = a.requires_grad(), rb = b.requires_grad();
    // d(ab)/da = b, d(ab)/db = a: each side saves only what the other's gradient needs.
    auto node = record("MulBackward", {a, b}, {out}, {rb ? a : Tensor(), ra ? b : Tensor()},
           [ra, rb](const Grads& g, const Grads& s) {
             if (ra && rb && s[0].shape() == s[1].shape() && !any_requires_grad({&g[0], &s[0], &s[1]}))
               return mul_backward_both(g[0], s[0], s[1]);
             return Grads{ra ? mul(g[0], s[1]) : Tensor(), rb ? mul(g[0], s[0]) : Tensor()};
           });
    node->folds_accumulated = true;
  }
  return out;
}

Tensor detail::divide(const Tensor& a, const Tensor& b, std::string_view op) {
  // Integer division that would trap is flagged in the loop (by its divisor, 0 or -1) and
  // thrown after it.
  std::atomic<bool> trapped{false};
  std::atomic<std::int64_t> divisor{0};
  Tensor out = binary(a, b, op, [&](auto x, auto y) {
    if constexpr (std::is_integral_v<decltype(x)>) {
      if (detail::bad_int_division(x, y)) {
        divisor.store(static_cast<std::int64_t>(y), std::memory_order_relaxed);
        trapped.store(true, std::memory_order_relaxed);
        return decltype(x){0};
      }
    }
    return x / y;
  });
  if (trapped.load()) detail::throw_int_division(op, divisor.load(), a.dtype());
  return out;
}

Tensor div(const Tensor& a, const Tensor& b) {
  XGRAD_PROFILE_OP("div", a, b);
  // True division, as PyTorch: integer and bool operands divide in float32.
  if (detail::needs_promotion(a, b, "div") || !is_floating(a.dtype())) {
    Dtype r = result_type(a, b);
    if (!is_floating(r)) r = Dtype::float32;
    return div(a.to(r), b.to(r));
  }
  Tensor out = detail::divide(a, b, "div");
  if (any_requires_grad({&a, &b})) {
    const bool ra = a.requires_grad(), rb = b.requires_grad();
    // d(a/b)/da = 1/b, d(a/b)/db = -a/b^2.
    record("DivBackward", {a, b}, {out}, {rb ? a : Tensor(), b},
           [ra, rb](const Grads& g, const Grads& s) {
             return Grads{ra ? div(g[0], s[1]) : Tensor(),
                          rb ? neg(div(mul(g[0], s[0]), mul(s[1], s[1]))) : Tensor()};
           });
  }
  return out;
}

Tensor add(const Tensor& a, double s) {
  XGRAD_PROFILE_OP("add", a);
  detail::check_defined(a, "add");
  if (!is_floating(a.dtype())) {
    const Tensor x = detail::promoted(a, s, "add");
    if (x.dtype() != a.dtype()) return add(x, s);
  }
  Tensor out = scalar_op(a, "add", [s]<class T>(T x) { return detail::wrap_add(x, static_cast<T>(s)); });
  if (any_requires_grad({&a}))
    record("AddBackward", {a}, {out}, {}, [](const Grads& g, const Grads&) { return Grads{g[0]}; });
  return out;
}

Tensor sub(const Tensor& a, double s) {
  XGRAD_PROFILE_OP("sub", a);
  return add(a, -s);
}

Tensor mul(const Tensor& a, double s) {
  XGRAD_PROFILE_OP("mul", a);
  detail::check_defined(a, "mul");
  if (!is_floating(a.dtype())) {
    const Tensor x = detail::promoted(a, s, "mul");
    if (x.dtype() != a.dtype()) return mul(x, s);
  }
  Tensor out = scalar_op(a, "mul", [s]<class T>(T x) { return detail::wrap_mul(x, static_cast<T>(s)); });
  if (any_requires_grad({&a}))
    record("MulBackward", {a}, {out}, {}, [s](const Grads& g, const Grads&) { return Grads{mul(g[0], s)}; });
  return out;
}

Tensor div(const Tensor& a_in, const Tensor& b_in, std::string_view rounding_mode) {
  XGRAD_PROFILE_OP("div", a_in, b_in);
  const bool floor = rounding_mode == "floor";
  if (!floor && rounding_mode != "trunc")
    throw Error(fmt::format("div: expected rounding_mode to be one of \"trunc\" or \"floor\", but found \"{}\"",
                            rounding_mode));
  NoGradGuard ng;  // piecewise constant: the gradient is zero almost everywhere
  const auto [a, b] = detail::promoted(a_in.detach(), b_in.detach(), "div");
  if (a.dtype() == Dtype::boolean)
    throw Error(fmt::format("div: rounding division of two bool tensors (shapes {} and {}) is not supported",
                            a.shape(), b.shape()));
  if (is_floating(a.dtype()) && floor) {
    // Python's float floor division (PyTorch's too): floor(a / b) would round the quotient
    // first (1 // 0.1 would be 10, not 9); this goes through fmod, which is exact.
    return binary(a, b, "div", []<class T>(T x, T y) -> T {
      if constexpr (std::is_floating_point_v<T>) {
        if (y == T(0)) return x / y;
        const T mod = std::fmod(x, y);
        T q = (x - mod) / y;
        if (mod != T(0) && (y < T(0)) != (mod < T(0))) q -= T(1);
        if (q == T(0)) return std::copysign(T(0), x / y);
        T f = std::floor(q);
        if (q - f > T(0.5)) f += T(1);
        return f;
      } else {
        return x;  // not reached: integer operands take the branch below
      }
    });
  }
  Tensor q = detail::divide(a, b, "div");
  if (is_floating(q.dtype())) {
    detail::dispatch_floating(q, "div", [&]<class T>() {
      T* p = q.data_ptr<T>();
      detail::parallel_for(q.numel(), detail::kGrain, [&](std::int64_t s, std::int64_t e) {
        for (std::int64_t i = s; i < e; ++i) p[i] = std::trunc(p[i]);
      });
    });
  } else if (floor) {
    // The quotient truncated toward zero, moved down by one where the division was inexact and
    // the signs differ: q * b != a exactly then.
    const Tensor back = binary(q, b, "div", [](auto x, auto y) { return detail::wrap_mul(x, y); });
    const Tensor adjust = logical_and(ne(back, a), ne(lt(a, 0.0), lt(b, 0.0)));
    q = binary(q, adjust.to(q.dtype()), "div", [](auto x, auto y) { return x - y; });
  }
  return q;
}

Tensor floor_divide(const Tensor& a, const Tensor& b) {
  XGRAD_PROFILE_OP("floor_divide", a, b);
  return div(a, b, "floor");
}

Tensor div(const Tensor& a, double s) {
  XGRAD_PROFILE_OP("div", a);
  detail::check_defined(a, "div");
  if (!is_floating(a.dtype())) return div(a.to(Dtype::float32), s);
  Tensor out = scalar_op(a, "div", [s]<class T>(T x) { return static_cast<T>(x / static_cast<T>(s)); });
  if (any_requires_grad({&a}))
    record("DivBackward", {a}, {out}, {}, [s](const Grads& g, const Grads&) { return Grads{div(g[0], s)}; });
  return out;
}

Tensor rsub(const Tensor& a, double s) {
  XGRAD_PROFILE_OP("rsub", a);
  detail::check_defined(a, "rsub");
  if (!is_floating(a.dtype())) {
    const Tensor x = detail::promoted(a, s, "rsub");
    if (x.dtype() != a.dtype()) return rsub(x, s);
  }
  Tensor out = scalar_op(a, "rsub", [s]<class T>(T x) { return detail::wrap_sub(static_cast<T>(s), x); });
  if (any_requires_grad({&a}))
    record("RsubBackward", {a}, {out}, {}, [](const Grads& g, const Grads&) { return Grads{neg(g[0])}; });
  return out;
}

Tensor rdiv(const Tensor& a, double s) {
  XGRAD_PROFILE_OP("rdiv", a);
  detail::check_defined(a, "rdiv");
  if (!is_floating(a.dtype())) return rdiv(a.to(Dtype::float32), s);
  Tensor out = scalar_op(a, "rdiv", [s]<class T>(T x) { return static_cast<T>(static_cast<T>(s) / x); });
  if (any_requires_grad({&a})) {
    // d(s/a)/da = -s/a^2 = -out/a.
    record("RdivBackward", {a}, {out}, {a, out}, [](const Grads& g, const Grads& sv) {
      return Grads{neg(div(mul(g[0], sv[1]), sv[0]))};
    });
  }
  return out;
}

Tensor neg(const Tensor& a) {
  XGRAD_PROFILE_OP("neg", a);
  Tensor out = scalar_op(a, "neg", []<class T>(T x) { return detail::wrap_neg(x); });
  if (any_requires_grad({&a}))
    record("NegBackward", {a}, {out}, {}, [](const Grads& g, const Grads&) { return Grads{neg(g[0])}; });
  return out;
}

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator+(const Tensor& a, double s) { return add(a, s); }
Tensor operator-(const Tensor& a, double s) { return sub(a, s); }
Tensor operator*(const Tensor& a, double s) { return mul(a, s); }
Tensor operator/(const Tensor& a, double s) { return div(a, s); }
Tensor operator+(double s, const Tensor& a) { return add(a, s); }
Tensor operator-(double s, const Tensor& a) { return rsub(a, s); }
Tensor operator*(double s, const Tensor& a) { return mul(a, s); }
Tensor operator/(double s, const Tensor& a) { return rdiv(a, s); }
Tensor operator-(const Tensor& a) { return neg(a); }

Tensor Tensor::add(const Tensor& o) const { return xgrad::add(*this, o); }
Tensor Tensor::sub(const Tensor& o) const { return xgrad::sub(*this, o); }
Tensor Tensor::mul(const Tensor& o) const { return xgrad::mul(*this, o); }
Tensor Tensor::div(const Tensor& o) const { return xgrad::div(*this, o); }
Tensor Tensor::add(double s) const { return xgrad::add(*this, s); }
Tensor Tensor::sub(double s) const { return xgrad::sub(*this, s); }
Tensor Tensor::mul(double s) const { return xgrad::mul(*this, s); }
Tensor Tensor::div(double s) const { return xgrad::div(*this, s); }
Tensor Tensor::neg() const { return xgrad::neg(*this); }

}  // namespace xgrad
