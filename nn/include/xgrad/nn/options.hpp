// nn's use of the shared option mechanism (xgrad/autograd/options.hpp): the checks whose
// messages nn has always used ("<owner>: <name> must be >= 0, got <value>"), and the printing
// of options in a module's extra_repr (Python's float repr, tensors left out).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "xgrad/autograd/options.hpp"

namespace xgrad::nn {

namespace checks {

/// A floating option's requirement: throws xgrad::Error "<owner>: <name> must <what>, got
/// <value>" when `ok(value)` is false (NaN fails every requirement below).
struct Requirement {
  bool (*ok)(double);
  std::string_view what;
  void operator()(std::string_view owner, std::string_view name, double v) const {
    if (!ok(v)) throw Error(fmt::format("{}: {} must {}, got {}", owner, name, what, v));
  }
};
/// value >= 0.
inline constexpr Requirement non_negative{[](double v) { return v >= 0.0; }, "be >= 0"};
/// value > 0.
inline constexpr Requirement positive{[](double v) { return v > 0.0; }, "be > 0"};
/// 0 <= value <= 1.
inline constexpr Requirement unit_interval{[](double v) { return v >= 0.0 && v <= 1.0; }, "be in [0, 1]"};

/// An integer option that must be 1 or 2 (a norm's p): "<owner>: only p = 1 and p = 2 are
/// supported, got p = <value>".
struct OneOrTwo {
  void operator()(std::string_view owner, std::string_view name, std::int64_t v) const {
    if (v != 1 && v != 2)
      throw Error(fmt::format("{}: only {} = 1 and {} = 2 are supported, got {} = {}", owner, name, name, name, v));
  }
};
inline constexpr OneOrTwo one_or_two{};

/// "<owner>: probability p must be in [0, 1], got <v>" (dropout's text).
struct Probability {
  void operator()(std::string_view owner, std::string_view name, double v) const {
    if (!(v >= 0.0 && v <= 1.0)) throw Error(fmt::format("{}: probability {} must be in [0, 1], got {}", owner, name, v));
  }
};
inline constexpr Probability probability{};

/// Unflatten's sizes: not empty, every entry >= -1, at most one -1.
struct UnflattenSizes {
  void operator()(std::string_view owner, std::string_view name, const std::vector<std::int64_t>& sizes) const {
    if (sizes.empty()) throw Error(fmt::format("{}: {} must not be empty", owner, name));
    int inferred = 0;
    for (std::int64_t s : sizes) {
      if (s == -1)
        ++inferred;
      else if (s < 0)
        throw Error(fmt::format("{}: invalid {} {}", owner, name, sizes));
    }
    if (inferred > 1) throw Error(fmt::format("{}: at most one size may be -1, got {}", owner, sizes));
  }
};
inline constexpr UnflattenSizes unflatten_sizes{};

/// A dim: any value (range is checked against the input in forward).
inline constexpr ::xgrad::options::Any dim{};

}  // namespace checks

/// Python's repr of a float: shortest round-trip digits, "1.0" rather than "1".
inline std::string py_float(double v) {
  std::string s = fmt::format("{}", v);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";  // 'n' covers inf and nan
  return s;
}

/// The printed "name=value" items of an options struct, in declaration order: doubles and
/// strings as Python prints them ("1.0", "'tanh'"), other values as options::format_option_value does; tensor-valued
/// options (class weights) are left out.
template <class O>
std::vector<std::string> repr_items(const O& o) {
  std::vector<std::string> items;
  o.for_each_option([&](std::string_view name, const auto& value, const auto&) {
    using T = std::decay_t<decltype(value)>;
    if constexpr (std::is_same_v<T, double>) {
      items.push_back(fmt::format("{}={}", name, py_float(value)));
    } else if constexpr (std::is_same_v<T, std::string>) {
      items.push_back(fmt::format("{}='{}'", name, value));
    } else if constexpr (!std::is_same_v<T, Tensor>) {
      items.push_back(fmt::format("{}={}", name, options::format_option_value(value)));
    }
  });
  return items;
}

/// repr_items joined by ", " (a module's extra_repr).
template <class O>
std::string repr_options(const O& o) {
  std::string out;
  for (const auto& item : repr_items(o)) out += (out.empty() ? "" : ", ") + item;
  return out;
}

}  // namespace xgrad::nn
