// Kernel layer (detail: no stable API): dtype dispatch. A kernel is written once as a
// template lambda, `[&]<class T>() { ... }`, and dispatch instantiates it for the tensor's
// element type.
#pragma once

#include <cstdint>
#include <string_view>

#include <fmt/format.h>

#include "xgrad/autograd/dtype.hpp"
#include "xgrad/autograd/tensor.hpp"

namespace xgrad::kernel {

/// Calls f.template operator()<T>() with T the C++ type of d (float, double, std::int64_t,
/// std::int32_t or bool) and returns its result. Ops decide at run time which dtypes they
/// accept (and throw for the others) before a kernel runs; every kernel must still compile
/// for all five.
template <class F>
decltype(auto) dispatch(Dtype d, F&& f) {
  switch (d) {
    case Dtype::float32:
      return f.template operator()<float>();
    case Dtype::float64:
      return f.template operator()<double>();
    case Dtype::int32:
      return f.template operator()<std::int32_t>();
    case Dtype::boolean:
      return f.template operator()<bool>();
    case Dtype::int64:
      break;
  }
  return f.template operator()<std::int64_t>();
}

/// Like dispatch without bool, for arithmetic kernels: a bool tensor throws xgrad::Error
/// "<op>: not supported for bool tensors" (ops promote bool operands before they get here).
template <class F>
decltype(auto) dispatch_numeric(Dtype d, std::string_view op, F&& f) {
  switch (d) {
    case Dtype::float32:
      return f.template operator()<float>();
    case Dtype::float64:
      return f.template operator()<double>();
    case Dtype::int32:
      return f.template operator()<std::int32_t>();
    case Dtype::boolean:
      throw Error(fmt::format("{}: not supported for bool tensors", op));
    case Dtype::int64:
      break;
  }
  return f.template operator()<std::int64_t>();
}

/// Like dispatch, for kernels that exist for float and double only. Any other dtype throws
/// xgrad::Error "<op>: expected a floating dtype (float32 or float64), got int64 for tensor of
/// shape [...]".
template <class F>
decltype(auto) dispatch_floating(const Tensor& t, std::string_view op, F&& f) {
  if (!is_floating(t.dtype()))
    throw Error(fmt::format("{}: expected a floating dtype (float32 or float64), got {} for tensor of shape {}", op,
                            t.dtype(), t.shape()));
  if (t.dtype() == Dtype::float32) return f.template operator()<float>();
  return f.template operator()<double>();
}

/// The same on a bare dtype: a non-floating one throws "<op>: expected a floating dtype
/// (float32 or float64), got int64".
template <class F>
decltype(auto) dispatch_floating(Dtype d, std::string_view op, F&& f) {
  if (!is_floating(d)) throw Error(fmt::format("{}: expected a floating dtype (float32 or float64), got {}", op, d));
  if (d == Dtype::float32) return f.template operator()<float>();
  return f.template operator()<double>();
}

}  // namespace xgrad::kernel
