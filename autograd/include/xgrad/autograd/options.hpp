// One declarative option mechanism, shared by nn and optim (and by users' own modules and
// optimizers). An options struct lists its fields ONCE, as an X-macro of
// (type, name, default, check):
//
//   #define MY_SGD_FIELDS(X) /* one X(...) per line, each line but the last ending in \ */
//     X(double, lr, 0.01, ::xgrad::options::non_negative)
//     X(double, momentum, 0.0, ::xgrad::options::non_negative)
//     X(bool, nesterov, false, ::xgrad::options::any)
//   struct MySGDOptions {
//     XGRAD_OPTIONS(MySGDOptions, MY_SGD_FIELDS)
//   };
//
// and gets, for each field,
//   * a public member with the default, named with a trailing underscore (`lr_`),
//   * a chainable setter `o.lr(0.1).momentum(0.9)` and a getter `o.lr()`,
// and for the whole struct
//   * `o.for_each_option(f)`: f(name, member, check) for every field, in declaration order
//     (const and non-const), from which the generic helpers below derive
//   * validation: `validate_options(o, "SGD")` runs every field's check, which throws
//     xgrad::Error "SGD: invalid momentum -1 (must be >= 0)";
//   * printing: `format_options(o)` gives "lr=0.01, momentum=0, nesterov=false";
//   * state-dict visiting: each library maps the member types it stores (optim: doubles,
//     bools, integers, beta pairs) in one generic function over for_each_option.
// A default that contains a comma is written in parentheses: `(Betas{0.9, 0.999})`.
// Constructors with positional arguments (`SGDOptions(0.1)`) are declared as usual and assign
// the members. Shared fields live in a base (a CRTP base that passes its Derived as Self, so
// that its setters return Derived&); the derived struct declares its own with
// XGRAD_OPTIONS_EXTEND(Derived, Base, FIELDS). Adding a field to the list is the whole change: setter, getter, validation,
// printing and state dicts follow.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <fmt/format.h>

#include "xgrad/autograd/tensor.hpp"

namespace xgrad::options {

// ---- checks: callables (owner, name, value) that throw xgrad::Error for a bad value ------

/// Accepts every value.
struct Any {
  template <class T>
  void operator()(std::string_view, std::string_view, const T&) const {}
};
inline constexpr Any any{};

/// value >= 0 (NaN fails): "<owner>: invalid <name> <value> (must be >= 0)".
struct NonNegative {
  template <class T>
  void operator()(std::string_view owner, std::string_view name, const T& v) const {
    if (!(v >= T(0))) throw Error(fmt::format("{}: invalid {} {} (must be >= 0)", owner, name, v));
  }
};
inline constexpr NonNegative non_negative{};

/// value > 0 (NaN fails): "<owner>: invalid <name> <value> (must be > 0)".
struct Positive {
  template <class T>
  void operator()(std::string_view owner, std::string_view name, const T& v) const {
    if (!(v > T(0))) throw Error(fmt::format("{}: invalid {} {} (must be > 0)", owner, name, v));
  }
};
inline constexpr Positive positive{};

/// 0 <= value <= 1: "<owner>: invalid <name> <value> (must be in [0, 1])".
struct UnitClosed {
  void operator()(std::string_view owner, std::string_view name, double v) const {
    if (!(v >= 0.0 && v <= 1.0)) throw Error(fmt::format("{}: invalid {} {} (must be in [0, 1])", owner, name, v));
  }
};
inline constexpr UnitClosed unit_closed{};

/// 0 <= value < 1 (a decay rate such as a beta): "<owner>: invalid <name> <value> (must be in
/// [0, 1))".
struct UnitHalfOpen {
  void operator()(std::string_view owner, std::string_view name, double v) const {
    if (!(v >= 0.0 && v < 1.0)) throw Error(fmt::format("{}: invalid {} {} (must be in [0, 1))", owner, name, v));
  }
};
inline constexpr UnitHalfOpen unit_half_open{};

// ---- generic helpers over for_each_option -------------------------------------------------

/// Runs every field's check; the first failure throws xgrad::Error naming `owner`, the
/// option and its value.
template <class O>
void validate_options(const O& o, std::string_view owner) {
  o.for_each_option([&](std::string_view name, const auto& value, const auto& check) { check(owner, name, value); });
}

/// One value as format_options prints it: numbers with {}, bools as true/false, pairs as
/// (a, b), enums through an ADL-found `to_string(e)` or `name(e)` when the type has one,
/// tensors by describe().
template <class T>
std::string format_option_value(const T& v) {
  if constexpr (std::is_same_v<T, bool>) {
    return v ? "true" : "false";
  } else if constexpr (std::is_arithmetic_v<T>) {
    return fmt::format("{}", v);
  } else if constexpr (std::is_same_v<T, Tensor>) {
    return v.defined() ? v.describe() : std::string("None");
  } else if constexpr (requires { v.first; v.second; }) {
    return fmt::format("({}, {})", format_option_value(v.first), format_option_value(v.second));
  } else if constexpr (requires { to_string(v); }) {
    return std::string(to_string(v));
  } else if constexpr (std::is_enum_v<T>) {
    return fmt::format("{}", static_cast<std::underlying_type_t<T>>(v));
  } else {
    return fmt::format("{}", v);
  }
}

/// "name=value, name=value, ..." in declaration order (for printing modules and optimizers).
template <class O>
std::string format_options(const O& o) {
  std::string out;
  o.for_each_option([&](std::string_view name, const auto& value, const auto&) {
    if (!out.empty()) out += ", ";
    out += fmt::format("{}={}", name, format_option_value(value));
  });
  return out;
}

}  // namespace xgrad::options

// ---- the macros ------------------------------------------------------------------------------

/// Member, setter and getter of one field (used by XGRAD_OPTIONS).
#define XGRAD_OPTION_FIELD_(T, name, def, check)        \
 public:                                                \
  T name##_ = def;                                      \
  XgradOptionsSelf_& name(const T& new_##name) {        \
    this->name##_ = new_##name;                         \
    return static_cast<XgradOptionsSelf_&>(*this);      \
  }                                                     \
  const T& name() const noexcept { return this->name##_; }

/// One field's call in for_each_option (used by XGRAD_OPTIONS).
#define XGRAD_OPTION_VISIT_(T, name, def, check) f(#name, this->name##_, check);

/// Declares the fields of FIELDS (an X-macro of (type, name, default, check)) in the options
/// struct Self: members, chainable setters, getters and for_each_option. Leaves the struct's
/// access at public.
#define XGRAD_OPTIONS(Self, FIELDS)                  \
 public:                                             \
  using XgradOptionsSelf_ = Self;                    \
  FIELDS(XGRAD_OPTION_FIELD_)                        \
  template <class F>                                 \
  void for_each_option(F&& f) {                      \
    FIELDS(XGRAD_OPTION_VISIT_)                      \
  }                                                  \
  template <class F>                                 \
  void for_each_option(F&& f) const {                \
    FIELDS(XGRAD_OPTION_VISIT_)                      \
  }                                                  \
                                                     \
 public:

/// Like XGRAD_OPTIONS for a struct that derives from another options struct Base (declared
/// with XGRAD_OPTIONS, usually as a CRTP base passing Self so that its setters return Self&):
/// for_each_option visits Base's fields first, then FIELDS.
#define XGRAD_OPTIONS_EXTEND(Self, Base, FIELDS)     \
 public:                                             \
  using XgradOptionsSelf_ = Self;                    \
  FIELDS(XGRAD_OPTION_FIELD_)                        \
  template <class F>                                 \
  void for_each_option(F&& f) {                      \
    Base::for_each_option(f);                        \
    FIELDS(XGRAD_OPTION_VISIT_)                      \
  }                                                  \
  template <class F>                                 \
  void for_each_option(F&& f) const {                \
    Base::for_each_option(f);                        \
    FIELDS(XGRAD_OPTION_VISIT_)                      \
  }                                                  \
                                                     \
 public:
