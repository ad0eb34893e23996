// Element types, shapes and the library's one exception type.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace xgrad {

/// Every user mistake throws this (DESIGN.md §7). The message names the op and the
/// offending shapes or values.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Element types. float32 is the default; float64 is for gradcheck and scientific use;
/// int64 (the default for integer data, as in PyTorch) and int32 hold indices, labels and
/// counts; boolean (PyTorch's torch.bool, C++ element type `bool`, one byte) holds masks and
/// the results of comparisons. Only floating tensors require grad.
enum class Dtype : std::uint8_t { float32, float64, int64, int32, boolean };

inline constexpr Dtype float32 = Dtype::float32;
inline constexpr Dtype float64 = Dtype::float64;
inline constexpr Dtype int64 = Dtype::int64;
inline constexpr Dtype int32 = Dtype::int32;
inline constexpr Dtype boolean = Dtype::boolean;

/// "float32", "float64", "int64", "int32" or "bool".
std::string_view dtype_name(Dtype d);
/// Bytes per element (bool: 1).
std::size_t dtype_size(Dtype d);
inline bool is_floating(Dtype d) { return d == Dtype::float32 || d == Dtype::float64; }
/// int64 or int32 (and bool when include_bool, as PyTorch's is_integral(include_bool)).
inline bool is_integral(Dtype d, bool include_bool = false) {
  return d == Dtype::int64 || d == Dtype::int32 || (include_bool && d == Dtype::boolean);
}
/// The promotion category: 0 bool, 1 integer, 2 floating.
inline int dtype_category(Dtype d) { return is_floating(d) ? 2 : d == Dtype::boolean ? 0 : 1; }

/// PyTorch's type promotion of two dtypes (torch.promote_types): the higher category wins
/// (bool < integer < floating), and within a category the wider type:
///
/// |         | bool    | int32   | int64   | float32 | float64 |
/// |---------|---------|---------|---------|---------|---------|
/// | bool    | bool    | int32   | int64   | float32 | float64 |
/// | int32   | int32   | int32   | int64   | float32 | float64 |
/// | int64   | int64   | int64   | int64   | float32 | float64 |
/// | float32 | float32 | float32 | float32 | float32 | float64 |
/// | float64 | float64 | float64 | float64 | float64 | float64 |
///
/// How operands of different kinds meet (result_type in elementwise.hpp): tensors with
/// dimensions promote as in the table; a 0-d tensor takes part only when its category is
/// higher than theirs; a scalar (a double argument) never changes a tensor's dtype within
/// its category, so float32 * 2.5 stays float32 and int32 + 1 stays int32, but an integer or
/// bool tensor with a non-integral scalar gives float32 (the default dtype), and a bool
/// tensor with an integral one gives int64. Because scalars are doubles here, 2.0 counts as
/// an integer (PyTorch: int64 tensor * 2.0 is float32; here it stays int64).
Dtype promote_types(Dtype a, Dtype b);

template <class T>
constexpr Dtype dtype_of();
template <>
constexpr Dtype dtype_of<float>() { return Dtype::float32; }
template <>
constexpr Dtype dtype_of<double>() { return Dtype::float64; }
template <>
constexpr Dtype dtype_of<std::int64_t>() { return Dtype::int64; }
template <>
constexpr Dtype dtype_of<std::int32_t>() { return Dtype::int32; }
template <>
constexpr Dtype dtype_of<bool>() { return Dtype::boolean; }

/// A shape: sizes of each dimension, outermost first (row-major).
using Shape = std::vector<std::int64_t>;

/// Product of the sizes (1 for a 0-d shape). Throws xgrad::Error when it overflows int64.
std::int64_t shape_numel(const Shape& s);

}  // namespace xgrad

template <>
struct fmt::formatter<xgrad::Dtype> : fmt::formatter<std::string_view> {
  auto format(xgrad::Dtype d, fmt::format_context& ctx) const {
    return fmt::formatter<std::string_view>::format(xgrad::dtype_name(d), ctx);
  }
};
