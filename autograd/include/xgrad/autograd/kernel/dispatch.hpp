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

/// Calls f.template operator()<T>() with T the C++ type of d (float, double or std::int64_t)
/// and returns its result.
template <class F>
decltype(auto) dispatch(Dtype d, F&& f) {
  switch (d) {
    case Dtype::float32:
      return f.template operator()<float>();
    case Dtype::float64:
      return f.template operator()<double>();
    case Dtype::int64:
      break;
  }
  return f.template operator()<std::int64_t>();
}

/// Like dispatch, for kernels that exist for float and double only. An int64 tensor throws
/// xgrad::Error "<op>: expected a floating dtype (float32 or float64), got int64 for tensor of
/// shape [...]".
template <class F>
decltype(auto) dispatch_floating(const Tensor& t, std::string_view op, F&& f) {
  if (t.dtype() == Dtype::int64)
    throw Error(fmt::format("{}: expected a floating dtype (float32 or float64), got int64 for tensor of shape {}", op,
                            t.shape()));
  if (t.dtype() == Dtype::float32) return f.template operator()<float>();
  return f.template operator()<double>();
}

/// The same on a bare dtype: int64 throws "<op>: expected a floating dtype (float32 or
/// float64), got int64".
template <class F>
decltype(auto) dispatch_floating(Dtype d, std::string_view op, F&& f) {
  if (d == Dtype::int64) throw Error(fmt::format("{}: expected a floating dtype (float32 or float64), got {}", op, d));
  if (d == Dtype::float32) return f.template operator()<float>();
  return f.template operator()<double>();
}

}  // namespace xgrad::kernel
