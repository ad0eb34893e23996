// Comparisons (eq ne lt le gt ge, their operators and Tensor methods), sign, maximum/minimum
// and where.
#include <cmath>
#include <functional>

#include "kernel.hpp"
#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/profile_scope.hpp"

namespace xgrad {

namespace {

using Grads = std::vector<Tensor>;

// cmp(a, b) as bool, in the promoted dtype, with broadcasting. Never recorded.
template <class Cmp>
Tensor compare(const Tensor& a_in, const Tensor& b_in, std::string_view op, Cmp cmp) {
  detail::check_defined(a_in, op);
  detail::check_defined(b_in, op);
  const Dtype r = result_type(a_in, b_in);
  const Tensor a = a_in.dtype() == r ? a_in : a_in.detach().to(r);
  const Tensor b = b_in.dtype() == r ? b_in : b_in.detach().to(r);
  const Shape os = a.shape() == b.shape() ? a.shape() : broadcast_shapes(a.shape(), b.shape(), op);
  Tensor out = detail::make_tensor(os, Dtype::boolean);
  detail::dispatch(a.dtype(), [&]<class T>() {
    detail::binary_kernel<T, bool>(a, b, out, [&](T x, T y) { return static_cast<bool>(cmp(x, y)); });
  });
  return out;
}

// Tensor-scalar comparison. Floating tensors compare against s converted to their dtype;
// integer tensors compare exactly, so that `i < 0.5` means what it says.
template <class Cmp>
Tensor compare(const Tensor& a, double s, std::string_view op, Cmp cmp) {
  detail::check_defined(a, op);
  Tensor out = detail::make_tensor(a.shape(), Dtype::boolean);
  detail::dispatch(a.dtype(), [&]<class T>() {
    if constexpr (std::is_floating_point_v<T>) {
      const T st = static_cast<T>(s);
      detail::unary_kernel<T, bool>(a, out, [&](T x) { return static_cast<bool>(cmp(x, st)); });
    } else {
      // long double (x86: 64-bit mantissa) holds every int64 and every double exactly.
      const auto sl = static_cast<long double>(s);
      detail::unary_kernel<T, bool>(a, out, [&](T x) { return static_cast<bool>(cmp(static_cast<long double>(x), sl)); });
    }
  });
  return out;
}

// Gradient share of the first operand of maximum (greater = true) or minimum: 1 where it
// wins, 1/2 on ties, 0 where it loses. NaN compares neither way and gets the full gradient,
// like PyTorch's where(a == b, g / 2, g).masked_fill_(a < b, 0). Not recorded: the weights
// are piecewise constant in the inputs.
Tensor extremum_weight(const Tensor& x, const Tensor& y, bool greater) {
  const Shape os = broadcast_shapes(x.shape(), y.shape());
  Tensor w = detail::make_tensor(os, x.dtype());
  detail::dispatch(x.dtype(), [&]<class T>() {
    detail::binary_kernel<T, T>(x, y, w, [greater](T p, T q) {
      if (greater ? p < q : p > q) return T(0);
      return p == q ? T(0.5) : T(1);
    });
  });
  return w;
}

Tensor extremum(const Tensor& a_in, const Tensor& b_in, bool greater) {
  const std::string_view op = greater ? "maximum" : "minimum";
  const auto [a, b] = detail::promoted(a_in, b_in, op);
  const Shape os = a.shape() == b.shape() ? a.shape() : broadcast_shapes(a.shape(), b.shape(), op);
  Tensor out = detail::make_tensor(os, a.dtype());
  detail::dispatch(a.dtype(), [&]<class T>() {
    // x != x is NaN (never true for int64): NaN propagates, like PyTorch.
    detail::binary_kernel<T, T>(a, b, out, [greater](T x, T y) {
      if (x != x) return x;
      if (y != y) return y;
      return (greater ? x < y : x > y) ? y : x;
    });
  });
  if (any_requires_grad({&a, &b})) {
    const bool ra = a.requires_grad(), rb = b.requires_grad();
    record(greater ? "MaximumBackward" : "MinimumBackward", {a, b}, {out}, {a, b},
           [greater, ra, rb](const Grads& g, const Grads& s) {
             // Selected, not multiplied: a NaN gradient does not reach the unselected side
             // (PyTorch's masked_fill).
             auto part = [&](const Tensor& w) { return where(ne(w, 0.0), mul(g[0], w), 0.0); };
             return Grads{ra ? part(extremum_weight(s[0], s[1], greater)) : Tensor(),
                          rb ? part(extremum_weight(s[1], s[0], greater)) : Tensor()};
           });
  }
  return out;
}

}  // namespace

Tensor eq(const Tensor& a, const Tensor& b) {
  XGRAD_PROFILE_OP("eq", a, b);
  return compare(a, b, "eq", std::equal_to<>());
}
Tensor ne(const Tensor& a, const Tensor& b) {
  XGRAD_PROFILE_OP("ne", a, b);
  return compare(a, b, "ne", std::not_equal_to<>());
}
Tensor lt(const Tensor& a, const Tensor& b) {
  XGRAD_PROFILE_OP("lt", a, b);
  return compare(a, b, "lt", std::less<>());
}
Tensor le(const Tensor& a, const Tensor& b) {
  XGRAD_PROFILE_OP("le", a, b);
  return compare(a, b, "le", std::less_equal<>());
}
Tensor gt(const Tensor& a, const Tensor& b) {
  XGRAD_PROFILE_OP("gt", a, b);
  return compare(a, b, "gt", std::greater<>());
}
Tensor ge(const Tensor& a, const Tensor& b) {
  XGRAD_PROFILE_OP("ge", a, b);
  return compare(a, b, "ge", std::greater_equal<>());
}
Tensor eq(const Tensor& a, double s) {
  XGRAD_PROFILE_OP("eq", a);
  return compare(a, s, "eq", std::equal_to<>());
}
Tensor ne(const Tensor& a, double s) {
  XGRAD_PROFILE_OP("ne", a);
  return compare(a, s, "ne", std::not_equal_to<>());
}
Tensor lt(const Tensor& a, double s) {
  XGRAD_PROFILE_OP("lt", a);
  return compare(a, s, "lt", std::less<>());
}
Tensor le(const Tensor& a, double s) {
  XGRAD_PROFILE_OP("le", a);
  return compare(a, s, "le", std::less_equal<>());
}
Tensor gt(const Tensor& a, double s) {
  XGRAD_PROFILE_OP("gt", a);
  return compare(a, s, "gt", std::greater<>());
}
Tensor ge(const Tensor& a, double s) {
  XGRAD_PROFILE_OP("ge", a);
  return compare(a, s, "ge", std::greater_equal<>());
}

Tensor sign(const Tensor& a) {
  XGRAD_PROFILE_OP("sign", a);
  detail::check_defined(a, "sign");
  Tensor out = detail::make_tensor(a.shape(), a.dtype());
  // (0 < x) - (x < 0): 0 for 0 and for NaN.
  detail::dispatch(a.dtype(), [&]<class T>() {
    detail::unary_kernel<T, T>(a, out, [](T x) { return static_cast<T>((T(0) < x) - (x < T(0))); });
  });
  return out;
}

Tensor maximum(const Tensor& a, const Tensor& b) {
  XGRAD_PROFILE_OP("maximum", a, b);
  return extremum(a, b, true);
}
Tensor minimum(const Tensor& a, const Tensor& b) {
  XGRAD_PROFILE_OP("minimum", a, b);
  return extremum(a, b, false);
}

Tensor where(const Tensor& cond, const Tensor& a_in, const Tensor& b_in) {
  XGRAD_PROFILE_OP("where", cond, a_in, b_in);
  detail::check_defined(cond, "where");
  const auto [a, b] = detail::promoted(a_in, b_in, "where");
  Shape os = broadcast_shapes(a.shape(), b.shape(), "where");
  if (cond.shape() != os) {
    try {
      os = broadcast_shapes(cond.shape(), os, "where");
    } catch (const Error&) {
      throw Error(fmt::format("where: condition of shape {} cannot be broadcast with operands of shapes {} and {}",
                              cond.shape(), a.shape(), b.shape()));
    }
  }
  Tensor out = detail::make_tensor(os, a.dtype());
  detail::dispatch(cond.dtype(), [&]<class C>() {
    detail::dispatch(a.dtype(), [&]<class T>() {
      const C* pc = cond.strided_data_ptr<C>();
      const T* pa = a.strided_data_ptr<T>();
      const T* pb = b.strided_data_ptr<T>();
      T* po = out.data_ptr<T>();
      if (cond.shape() == os && a.shape() == os && b.shape() == os && cond.is_contiguous() && a.is_contiguous() &&
          b.is_contiguous()) {
        detail::parallel_for(out.numel(), detail::kGrain, [&](std::int64_t s, std::int64_t e) {
          for (std::int64_t i = s; i < e; ++i) po[i] = pc[i] != C(0) ? pa[i] : pb[i];
        });
        return;
      }
      std::array<std::vector<std::int64_t>, 4> st{out.strides(), detail::broadcast_strides(cond, os),
                                                  detail::broadcast_strides(a, os), detail::broadcast_strides(b, os)};
      detail::strided_rows<4>(os, st, [&](const std::array<std::int64_t, 4>& off, std::int64_t len,
                                          const std::array<std::int64_t, 4>& is) {
        for (std::int64_t j = 0; j < len; ++j)
          po[off[0] + j * is[0]] =
              pc[off[1] + j * is[1]] != C(0) ? pa[off[2] + j * is[2]] : pb[off[3] + j * is[3]];
      });
    });
  });
  if (any_requires_grad({&a, &b})) {
    // The gradient is routed, not scaled: g where cond to a, g elsewhere to b. cond itself gets
    // none (it is not an input of the node).
    const bool ra = a.requires_grad(), rb = b.requires_grad();
    record("WhereBackward", {a, b}, {out}, {cond},
           [ra, rb](const Grads& g, const Grads& s) {
             const Tensor zero = scalar_tensor(0.0, dtype(g[0].dtype()));
             return Grads{ra ? where(s[0], g[0], zero) : Tensor(),
                          rb ? where(s[0], zero, g[0]) : Tensor()};
           });
  }
  return out;
}

Tensor where(const Tensor& cond, const Tensor& a, double b) {
  XGRAD_PROFILE_OP("where", cond, a);
  detail::check_defined(a, "where");
  return where(cond, a, scalar_tensor(b, dtype(result_type(a, b))));
}
Tensor where(const Tensor& cond, double a, const Tensor& b) {
  XGRAD_PROFILE_OP("where", cond, b);
  detail::check_defined(b, "where");
  return where(cond, scalar_tensor(a, dtype(result_type(b, a))), b);
}

Tensor operator==(const Tensor& a, const Tensor& b) { return eq(a, b); }
Tensor operator!=(const Tensor& a, const Tensor& b) { return ne(a, b); }
Tensor operator<(const Tensor& a, const Tensor& b) { return lt(a, b); }
Tensor operator<=(const Tensor& a, const Tensor& b) { return le(a, b); }
Tensor operator>(const Tensor& a, const Tensor& b) { return gt(a, b); }
Tensor operator>=(const Tensor& a, const Tensor& b) { return ge(a, b); }
Tensor operator<(const Tensor& a, double s) { return lt(a, s); }
Tensor operator<=(const Tensor& a, double s) { return le(a, s); }
Tensor operator>(const Tensor& a, double s) { return gt(a, s); }
Tensor operator>=(const Tensor& a, double s) { return ge(a, s); }

Tensor Tensor::sign() const { return xgrad::sign(*this); }
Tensor Tensor::eq(const Tensor& o) const { return xgrad::eq(*this, o); }
Tensor Tensor::ne(const Tensor& o) const { return xgrad::ne(*this, o); }
Tensor Tensor::lt(const Tensor& o) const { return xgrad::lt(*this, o); }
Tensor Tensor::le(const Tensor& o) const { return xgrad::le(*this, o); }
Tensor Tensor::gt(const Tensor& o) const { return xgrad::gt(*this, o); }
Tensor Tensor::ge(const Tensor& o) const { return xgrad::ge(*this, o); }

}  // namespace xgrad
