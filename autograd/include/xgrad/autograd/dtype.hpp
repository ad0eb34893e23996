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
/// int64 holds indices and labels and never requires grad.
enum class Dtype : std::uint8_t { float32, float64, int64 };

inline constexpr Dtype float32 = Dtype::float32;
inline constexpr Dtype float64 = Dtype::float64;
inline constexpr Dtype int64 = Dtype::int64;

/// "float32", "float64" or "int64".
std::string_view dtype_name(Dtype d);
/// Bytes per element.
std::size_t dtype_size(Dtype d);
inline bool is_floating(Dtype d) { return d != Dtype::int64; }

template <class T>
constexpr Dtype dtype_of();
template <>
constexpr Dtype dtype_of<float>() { return Dtype::float32; }
template <>
constexpr Dtype dtype_of<double>() { return Dtype::float64; }
template <>
constexpr Dtype dtype_of<std::int64_t>() { return Dtype::int64; }

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
