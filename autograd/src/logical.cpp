// Logical and bitwise ops, and the any/all reductions: bool results, never differentiable.
#include <algorithm>

#include "kernel.hpp"
#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/reduction.hpp"
#include "xgrad/autograd/profile_scope.hpp"

namespace xgrad {

namespace {

Tensor as_bool(const Tensor& a) { return a.detach().to(Dtype::boolean); }

template <class F>
Tensor logical(const Tensor& a, const Tensor& b, std::string_view op, F f) {
  detail::check_defined(a, op);
  detail::check_defined(b, op);
  const Tensor x = as_bool(a), y = as_bool(b);
  const Shape os = x.shape() == y.shape() ? x.shape() : broadcast_shapes(x.shape(), y.shape(), op);
  Tensor out = detail::make_tensor(os, Dtype::boolean);
  detail::binary_kernel<bool, bool>(x, y, out, f);
  return out;
}

template <class F>
Tensor bitwise(const Tensor& a, const Tensor& b, std::string_view op, F f) {
  detail::check_defined(a, op);
  detail::check_defined(b, op);
  const Dtype r = result_type(a, b);
  if (is_floating(r))
    throw Error(fmt::format("{}: bitwise ops need bool or integer tensors, got {} and {} (shapes {} and {})", op,
                            a.dtype(), b.dtype(), a.shape(), b.shape()));
  const Tensor x = a.to(r), y = b.to(r);
  const Shape os = x.shape() == y.shape() ? x.shape() : broadcast_shapes(x.shape(), y.shape(), op);
  Tensor out = detail::make_tensor(os, r);
  detail::dispatch(r, [&]<class T>() {
    if constexpr (std::is_integral_v<T>) detail::binary_kernel<T, T>(x, y, out, [&](T p, T q) { return f(p, q); });
  });
  return out;
}

}  // namespace

Tensor logical_and(const Tensor& a, const Tensor& b) {
  XGRAD_PROFILE_OP("logical_and", a, b);
  return logical(a, b, "logical_and", [](bool x, bool y) { return x && y; });
}
Tensor logical_or(const Tensor& a, const Tensor& b) {
  XGRAD_PROFILE_OP("logical_or", a, b);
  return logical(a, b, "logical_or", [](bool x, bool y) { return x || y; });
}
Tensor logical_xor(const Tensor& a, const Tensor& b) {
  XGRAD_PROFILE_OP("logical_xor", a, b);
  return logical(a, b, "logical_xor", [](bool x, bool y) { return x != y; });
}
Tensor logical_not(const Tensor& a) {
  XGRAD_PROFILE_OP("logical_not", a);
  detail::check_defined(a, "logical_not");
  const Tensor x = as_bool(a);
  Tensor out = detail::make_tensor(x.shape(), Dtype::boolean);
  detail::unary_kernel<bool, bool>(x, out, [](bool v) { return !v; });
  return out;
}

Tensor bitwise_and(const Tensor& a, const Tensor& b) {
  XGRAD_PROFILE_OP("bitwise_and", a, b);
  return bitwise(a, b, "bitwise_and", []<class T>(T x, T y) { return static_cast<T>(x & y); });
}
Tensor bitwise_or(const Tensor& a, const Tensor& b) {
  XGRAD_PROFILE_OP("bitwise_or", a, b);
  return bitwise(a, b, "bitwise_or", []<class T>(T x, T y) { return static_cast<T>(x | y); });
}
Tensor bitwise_xor(const Tensor& a, const Tensor& b) {
  XGRAD_PROFILE_OP("bitwise_xor", a, b);
  return bitwise(a, b, "bitwise_xor", []<class T>(T x, T y) { return static_cast<T>(x ^ y); });
}
Tensor bitwise_not(const Tensor& a) {
  XGRAD_PROFILE_OP("bitwise_not", a);
  detail::check_defined(a, "bitwise_not");
  if (a.dtype() == Dtype::boolean) return logical_not(a);
  if (is_floating(a.dtype()))
    throw Error(fmt::format("bitwise_not: bitwise ops need bool or integer tensors, got {} (shape {})", a.dtype(),
                            a.shape()));
  Tensor out = detail::make_tensor(a.shape(), a.dtype());
  detail::dispatch(a.dtype(), [&]<class T>() {
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>)
      detail::unary_kernel<T, T>(a, out, [](T v) { return static_cast<T>(~v); });
  });
  return out;
}

Tensor operator&(const Tensor& a, const Tensor& b) { return bitwise_and(a, b); }
Tensor operator|(const Tensor& a, const Tensor& b) { return bitwise_or(a, b); }
Tensor operator^(const Tensor& a, const Tensor& b) { return bitwise_xor(a, b); }
Tensor operator~(const Tensor& a) { return bitwise_not(a); }

Tensor any(const Tensor& a, const Dims& dims, bool keepdim) {
  XGRAD_PROFILE_OP("any", a);
  detail::check_defined(a, "any");
  const Tensor b = as_bool(a);
  if (dims.empty() && !keepdim) {
    const Tensor p = detail::packed(b);
    const bool* v = p.data_ptr<bool>();
    return scalar_tensor(std::find(v, v + p.numel(), true) != v + p.numel() ? 1.0 : 0.0, dtype(Dtype::boolean));
  }
  return gt(sum(b, dims, keepdim), 0.0);
}

Tensor all(const Tensor& a, const Dims& dims, bool keepdim) {
  XGRAD_PROFILE_OP("all", a);
  detail::check_defined(a, "all");
  const Tensor b = as_bool(a);
  if (dims.empty() && !keepdim) {
    const Tensor p = detail::packed(b);
    const bool* v = p.data_ptr<bool>();
    return scalar_tensor(std::find(v, v + p.numel(), false) == v + p.numel() ? 1.0 : 0.0, dtype(Dtype::boolean));
  }
  return logical_not(any(logical_not(b), dims, keepdim));
}

}  // namespace xgrad
