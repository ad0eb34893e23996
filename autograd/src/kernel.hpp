// Private kernel infrastructure shared by the op files: scalar and division checks and
// broadcast iteration, over the public kernel layer (xgrad/autograd/kernel/: dtype dispatch,
// the grain policy, parallel_for, deterministic chunked reductions), whose names are
// re-exported into xgrad::detail. Not installed.
#pragma once

#include <algorithm>
#include <array>
#include <climits>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string_view>
#include <type_traits>
#include <vector>

#include <fmt/format.h>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include "xgrad/autograd/dtype.hpp"
#include "xgrad/autograd/kernel/kernel.hpp"
#include "xgrad/autograd/node.hpp"
#include "xgrad/autograd/tensor.hpp"

namespace xgrad::detail {

// The kernel layer under its old names: autograd's op files say detail::parallel_for etc.
using kernel::chunked_reduce;
using kernel::dispatch;
using kernel::dispatch_numeric;
using kernel::dispatch_floating;
using kernel::grain_for;
using kernel::kGrain;
using kernel::kReduceChunk;
using kernel::parallel_for;

/// v as a T, for an op that writes it into a T tensor: bool takes v != 0; an integer dtype
/// takes only an integer in its range and otherwise throws "<op>: the value v cannot be
/// represented as int32 (it would be truncated or out of range)" (casting NaN, inf or an
/// out-of-range double to an integer is undefined behaviour in C++).
template <class T>
T scalar_as(double v, std::string_view op) {
  if constexpr (std::is_same_v<T, bool>) {
    return v != 0.0;
  } else if constexpr (std::is_integral_v<T>) {
    constexpr double lo = static_cast<double>(std::numeric_limits<T>::min());  // -2^(bits-1), exact
    if (!(v >= lo && v < -lo && std::trunc(v) == v))
      throw Error(fmt::format("{}: the value {} cannot be represented as {} (it would be truncated or out of range)",
                              op, v, dtype_of<T>()));
    return static_cast<T>(v);
  } else {
    return static_cast<T>(v);
  }
}

/// Integer +, -, * and negation that wrap around (two's complement, PyTorch's behaviour)
/// instead of overflowing, which is undefined behaviour in C++; other types use the plain
/// operators.
template <class T>
T wrap_add(T a, T b) {
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(static_cast<U>(a) + static_cast<U>(b)));
  } else {
    return static_cast<T>(a + b);
  }
}
template <class T>
T wrap_sub(T a, T b) {
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(static_cast<U>(a) - static_cast<U>(b)));
  } else {
    return static_cast<T>(a - b);
  }
}
template <class T>
T wrap_mul(T a, T b) {
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(static_cast<U>(a) * static_cast<U>(b)));
  } else {
    return static_cast<T>(a * b);
  }
}
template <class T>
T wrap_neg(T a) {
  return wrap_sub(T(0), a);
}

/// An integer or bool tensor meets a scalar that must keep the tensor's dtype (in-place ops;
/// out-of-place ops promote first): a scalar that the dtype cannot hold exactly throws
/// "<op>: ..." instead of being truncated (silently wrong) or cast out of range (undefined).
inline void check_int_scalar(const Tensor& a, double s, std::string_view op) {
  if (!is_integral(a.dtype(), true)) return;
  const double lo = a.dtype() == Dtype::int64 ? -0x1p63 : a.dtype() == Dtype::int32 ? -0x1p31 : 0.0;
  const double hi = a.dtype() == Dtype::int64 ? 0x1p63 : a.dtype() == Dtype::int32 ? 0x1p31 : 2.0;
  const bool fits = s >= lo && s < hi && std::trunc(s) == s;  // NaN fails
  if (!fits || a.dtype() == Dtype::boolean)
    throw Error(fmt::format("{}: result type of the scalar {} with a {} tensor of shape {} can't be cast to the "
                            "tensor's dtype {}; convert the tensor first, e.g. t.to(xgrad::float32)",
                            op, s, a.dtype(), a.shape(), a.dtype()));
}

/// Integer division check for x / y: throws "<op>: ZeroDivisionError" for y == 0 and an
/// overflow error for the dtype's minimum / -1 (both trap on x86).
[[noreturn]] inline void throw_int_division(std::string_view op, std::int64_t y, Dtype d = Dtype::int64) {
  if (y == 0) throw Error(fmt::format("{}: ZeroDivisionError: integer division by zero", op));
  throw Error(fmt::format("{}: integer overflow: {} / -1 does not fit in {}", op,
                          d == Dtype::int32 ? std::int64_t{INT32_MIN} : std::int64_t{INT64_MIN}, d));
}
template <class T>
bool bad_int_division(T x, T y) {
  return y == 0 || (y == -1 && x == std::numeric_limits<T>::min());
}

/// Checks that a and b are defined (naming op); true when their dtypes differ, i.e. when
/// the op must call itself again on promoted(a, b, op).
bool needs_promotion(const Tensor& a, const Tensor& b, std::string_view op);
/// a and b converted (differentiably, see Tensor::to) to result_type(a, b).
std::pair<Tensor, Tensor> promoted(const Tensor& a, const Tensor& b, std::string_view op);
/// a converted to result_type(a, s), then checked against s with check_int_scalar.
Tensor promoted(const Tensor& a, double s, std::string_view op);
/// a / b (broadcast, same dtype, nothing recorded); integer division throws as above.
Tensor divide(const Tensor& a, const Tensor& b, std::string_view op);

/// Row-major contiguous strides of a shape (in elements).
std::vector<std::int64_t> contiguous_strides(const Shape& s);

/// True when `shape` broadcasts to `to` (NumPy rules: trailing dims equal or 1).
bool broadcasts_to(const Shape& shape, const Shape& to);

/// Normalises a possibly negative dim against ndim; throws "<op>: dim d out of range for
/// tensor of shape [...]".
std::int64_t wrap_dim(std::int64_t dim, std::int64_t ndim, std::string_view op, const Shape& shape);

/// Checks that a and b are defined and share a dtype; throws naming op, shapes and dtypes.
void check_same_dtype(const Tensor& a, const Tensor& b, std::string_view op);

}  // namespace xgrad::detail

namespace xgrad::detail {
// The element-wise layer under its old names.
using kernel::binary_kernel;
using kernel::broadcast_strides;
using kernel::packed;
using kernel::strided_rows;
using kernel::unary_kernel;
}  // namespace xgrad::detail

namespace xgrad::detail {

/// Index arithmetic of a reduction of `shape` over the dims marked in `mask`.
struct ReduceIndexer {
  std::vector<std::int64_t> kept_shape, kept_strides, red_shape, red_strides;
  std::int64_t n_out = 1, n_red = 1;
  bool red_trailing = false;  // reduced dims are exactly the trailing ones (contiguous block)
  bool red_leading = false;   // reduced dims are exactly the leading ones

  /// Offset in the input of the first element reduced into output o.
  std::int64_t base(std::int64_t o) const {
    std::int64_t off = 0;
    for (std::size_t d = kept_shape.size(); d-- > 0;) {
      off += (o % kept_shape[d]) * kept_strides[d];
      o /= kept_shape[d];
    }
    return off;
  }
  /// f(offset) for every input element reduced into the output whose base is `base`, in
  /// row-major order.
  template <class F>
  void for_each(std::int64_t base_off, F&& f) const {
    if (red_trailing) {
      for (std::int64_t i = 0; i < n_red; ++i) f(base_off + i);
      return;
    }
    const std::size_t nd = red_shape.size();
    std::vector<std::int64_t> idx(nd, 0);
    std::int64_t off = base_off;
    for (std::int64_t i = 0; i < n_red; ++i) {
      f(off);
      for (std::size_t d = nd; d-- > 0;) {
        ++idx[d];
        off += red_strides[d];
        if (idx[d] < red_shape[d]) break;
        off -= idx[d] * red_strides[d];
        idx[d] = 0;
      }
    }
  }
};

/// Marks the dims to reduce (empty dims = all); throws on out-of-range or repeated dims.
std::vector<bool> reduce_mask(const Shape& shape, const std::vector<std::int64_t>& dims, std::string_view op);
ReduceIndexer make_reduce_indexer(const Shape& shape, const std::vector<bool>& mask);
/// Output shape of a reduction (reduced dims dropped, or kept as 1 with keepdim).
Shape reduced_shape(const Shape& shape, const std::vector<bool>& mask, bool keepdim);

/// Accumulator type: float32 sums accumulate in double.
template <class T>
using acc_t = std::conditional_t<std::is_same_v<T, float>, double, T>;

/// What the engine offers the node it is running (this thread only): for each input edge,
/// the gradient already accumulated for that input (undefined when none, or when it cannot
/// be offered). A backward may fold offered[i] into its own result for input i (one pass
/// instead of two) and set claimed[i]; the engine then takes that result as the sum.
struct GradAccumulators {
  const Tensor* offered = nullptr;  // one per input edge of the running node
  char* claimed = nullptr;
  std::size_t n = 0;
};
GradAccumulators& current_accumulators();
/// offered[i] when it can be used as a gradient of `shape` and `dtype` (defined, packed, no
/// history), else undefined; with `exclusive`, only when nothing else references it (so
/// that it may be written in place).
Tensor offered_accumulator(std::size_t i, const Shape& shape, Dtype dtype, bool exclusive);

}  // namespace xgrad::detail
