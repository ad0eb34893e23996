// In-place ops. Each bumps the version counter its storage shares with every alias.
// Without autograd involvement they write straight into self's memory, whatever its strides
// (so writes through views reach the base). When grad mode is on and self or the other
// operand requires grad, the result is computed out of place and recorded, written into
// self's memory, and the history is rebased: self takes over the result's grad_fn, or, when
// self is a view, its base takes a CopySlices grad_fn and self's is regenerated from it
// (view.cpp), PyTorch's model.
#include <cstring>

#include "copy_box.hpp"
#include "kernel.hpp"
#include "view.hpp"
#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/shape.hpp"
#include "xgrad/autograd/profile_scope.hpp"

namespace xgrad {

namespace {

// `other` as it may be read while self is written: a copy when it shares self's memory
// with a different layout (reading it would see half-written values).
Tensor unaliased(const Tensor& self, const Tensor& other) {
  const auto& a = *self.impl();
  const auto& b = *other.impl();
  if (a.storage != b.storage) return other;
  if (a.storage_offset == b.storage_offset && a.shape == b.shape && self.strides() == other.strides()) return other;
  NoGradGuard ng;
  return other.clone();
}

// The out-of-place op of an in-place op, given self's value. When its backward needs that
// value (mul_, div_, clamp_), it gets a copy: self's memory is about to be overwritten.
using OutOfPlace = std::function<Tensor(const Tensor& self)>;

Tensor run_out_of_place(const Tensor& self, const OutOfPlace& f, bool saves_self) {
  return f(saves_self ? self.clone() : self);
}


// `other` in self's dtype, when the promoted result can be cast back into self (PyTorch's
// rule: float32.add_(int64) is fine, int64.add_(float32) throws).
Tensor inplace_operand(const Tensor& self, const Tensor& other, std::string_view op) {
  detail::check_defined(self, op);
  detail::check_defined(other, op);
  if (other.dtype() == self.dtype()) return other;
  const Dtype r = result_type(self, other);
  if (dtype_category(r) > dtype_category(self.dtype()))
    throw Error(fmt::format("{}: result type {} can't be cast to the desired output type {} (tensors of shapes {} and "
                            "{})",
                            op, r, self.dtype(), self.shape(), other.shape()));
  return other.to(self.dtype());
}

template <class F>
Tensor& binary_inplace(Tensor& self, const Tensor& other_in, std::string_view op, F f, const OutOfPlace& out_of_place,
                       bool saves_self = false) {
  detail::check_inplace_target(self, op);
  const Tensor other = inplace_operand(self, other_in, op);
  if (any_requires_grad({&self, &other})) {
    detail::rebase_inplace(self, run_out_of_place(self, out_of_place, saves_self), op);
    return self;
  }
  const Shape bs = broadcast_shapes(self.shape(), other.shape(), op);
  if (bs != self.shape())
    throw Error(fmt::format("{}: output with shape {} doesn't match the broadcast shape {}", op, self.shape(), bs));
  const Tensor o = unaliased(self, other);
  detail::dispatch_numeric(self.dtype(), op, [&]<class T>() { detail::binary_kernel<T, T>(self, o, self, [&](T a, T b) { return f(a, b); }); });
  ++self.impl()->storage->version;
  return self;
}

template <class F>
Tensor& unary_inplace(Tensor& self, std::string_view op, F f, const OutOfPlace& out_of_place, bool saves_self = false) {
  detail::check_inplace_target(self, op);
  if (any_requires_grad({&self})) {
    detail::rebase_inplace(self, run_out_of_place(self, out_of_place, saves_self), op);
    return self;
  }
  detail::dispatch_numeric(self.dtype(), op, [&]<class T>() { detail::unary_kernel<T, T>(self, self, [&](T a) { return f(a); }); });
  ++self.impl()->storage->version;
  return self;
}

}  // namespace

Tensor& Tensor::add_(const Tensor& o, double alpha) {
  XGRAD_PROFILE_OP("add_", *this, o);
  detail::check_int_scalar(*this, alpha, "add_");
  return binary_inplace(
      *this, o, "add_", [alpha]<class T>(T a, T b) { return detail::wrap_add(a, detail::wrap_mul(static_cast<T>(alpha), b)); },
      [&](const Tensor& x) {
        const Tensor y = inplace_operand(x, o, "add_");
        return alpha == 1.0 ? xgrad::add(x, y) : xgrad::add(x, xgrad::mul(y, alpha));
      });
}
Tensor& Tensor::sub_(const Tensor& o, double alpha) {
  XGRAD_PROFILE_OP("sub_", *this, o);
  return add_(o, -alpha);
}
Tensor& Tensor::mul_(const Tensor& o) {
  XGRAD_PROFILE_OP("mul_", *this, o);
  return binary_inplace(*this, o, "mul_", []<class T>(T a, T b) { return detail::wrap_mul(a, b); },
                        [&](const Tensor& x) { return xgrad::mul(x, inplace_operand(x, o, "mul_")); },
                        /*saves_self=*/true);
}
Tensor& Tensor::div_(const Tensor& o) {
  XGRAD_PROFILE_OP("div_", *this, o);
  detail::check_defined(*this, "div_");
  if (!is_floating(dtype()))  // true division's float result cannot go back into self
    throw Error(fmt::format("div_: result type float32 can't be cast to the desired output type {} (tensor of shape "
                            "{}); use div(a, b, \"trunc\") or convert first",
                            dtype(), shape()));
  return binary_inplace(*this, o, "div_", []<class T>(T a, T b) { return static_cast<T>(a / b); },
                        [&](const Tensor& x) { return xgrad::div(x, inplace_operand(x, o, "div_")); },
                        /*saves_self=*/true);
}
Tensor& Tensor::add_(double s) {
  XGRAD_PROFILE_OP("add_", *this);
  detail::check_defined(*this, "add_");
  detail::check_int_scalar(*this, s, "add_");
  return unary_inplace(*this, "add_", [s]<class T>(T a) { return detail::wrap_add(a, static_cast<T>(s)); },
                       [&](const Tensor& x) { return xgrad::add(x, s); });
}
Tensor& Tensor::sub_(double s) {
  XGRAD_PROFILE_OP("sub_", *this);
  return add_(-s);
}
Tensor& Tensor::mul_(double s) {
  XGRAD_PROFILE_OP("mul_", *this);
  detail::check_defined(*this, "mul_");
  detail::check_int_scalar(*this, s, "mul_");
  return unary_inplace(*this, "mul_", [s]<class T>(T a) { return detail::wrap_mul(a, static_cast<T>(s)); },
                       [&](const Tensor& x) { return xgrad::mul(x, s); });
}
Tensor& Tensor::div_(double s) {
  XGRAD_PROFILE_OP("div_", *this);
  detail::check_defined(*this, "div_");
  if (!is_floating(dtype()))
    throw Error(fmt::format("div_: result type float32 can't be cast to the desired output type {} (tensor of shape "
                            "{})",
                            dtype(), shape()));
  return unary_inplace(*this, "div_", [s]<class T>(T a) { return static_cast<T>(a / static_cast<T>(s)); },
                       [&](const Tensor& x) { return xgrad::div(x, s); });
}
Tensor& Tensor::fill_(double v) {
  XGRAD_PROFILE_OP("fill_", *this);
  detail::check_defined(*this, "fill_");
  if (dtype() == Dtype::boolean) return copy_(full(shape(), v != 0.0 ? 1.0 : 0.0, xgrad::dtype(Dtype::boolean)));
  // Out of place: 0 * self + v keeps the graph (gradient 0 to the old value).
  return unary_inplace(*this, "fill_", [v]<class T>(T) { return detail::scalar_as<T>(v, "fill_"); },
                       [&](const Tensor& x) { return xgrad::add(xgrad::mul(x, 0.0), v); });
}
Tensor& Tensor::zero_() {
  XGRAD_PROFILE_OP("zero_", *this);
  return fill_(0.0);
}
Tensor& Tensor::clamp_(std::optional<double> lo, std::optional<double> hi) {
  XGRAD_PROFILE_OP("clamp_", *this);
  if (!lo && !hi) throw Error("clamp_: at least one of min and max must be given");
  for (const auto& bound : {lo, hi})
    if (bound) detail::check_int_scalar(*this, *bound, "clamp_");
  return unary_inplace(
      *this, "clamp_",
      [lo, hi]<class T>(T a) {
        if (lo && a < detail::scalar_as<T>(*lo, "clamp_")) a = detail::scalar_as<T>(*lo, "clamp_");
        if (hi && a > detail::scalar_as<T>(*hi, "clamp_")) a = detail::scalar_as<T>(*hi, "clamp_");
        return a;
      },
      [&](const Tensor& x) { return xgrad::clamp(x, lo, hi); }, /*saves_self=*/true);
}

Tensor& Tensor::copy_(const Tensor& src) {
  XGRAD_PROFILE_OP("copy_", *this, src);
  detail::check_inplace_target(*this, "copy_");
  detail::check_defined(src, "copy_");
  const Shape bs = broadcast_shapes(shape(), src.shape(), "copy_");
  if (bs != shape())
    throw Error(fmt::format("copy_: source of shape {} cannot be broadcast to destination shape {}", src.shape(), shape()));
  if (any_requires_grad({this, &src})) {
    Tensor r = xgrad::expand(src.to(dtype()), shape());
    // self takes r's history: a leaf source gets a node of its own to flow through.
    if (r.is_leaf()) r = r.clone();
    detail::rebase_inplace(*this, r, "copy_");
    return *this;
  }
  {
    NoGradGuard ng;
    detail::copy_into(*this, unaliased(*this, src.to(dtype())));
  }
  ++impl()->storage->version;
  return *this;
}

}  // namespace xgrad
