// The declarative options mechanism (xgrad/autograd/options.hpp): one field list gives
// members with defaults, chainable setters, getters, validation, printing and visiting.
#include <map>

#include "test_util.hpp"
#include "xgrad/autograd/options.hpp"

namespace {

using Pair = std::pair<double, double>;

struct PairCheck {
  void operator()(std::string_view owner, std::string_view name, const Pair& p) const {
    xgrad::options::unit_half_open(owner, fmt::format("{}.first", name), p.first);
    xgrad::options::unit_half_open(owner, fmt::format("{}.second", name), p.second);
  }
};

#define DEMO_FIELDS(X)                                          \
  X(double, lr, 1e-3, ::xgrad::options::non_negative)          \
  X(Pair, betas, (Pair{0.9, 0.999}), PairCheck{})               \
  X(std::int64_t, steps, 10, ::xgrad::options::positive)        \
  X(bool, nesterov, false, ::xgrad::options::any)

struct DemoOptions {
  explicit DemoOptions(double lr = 1e-3) { lr_ = lr; }
  XGRAD_OPTIONS(DemoOptions, DEMO_FIELDS)
};

template <class Derived>
struct BaseOptions {
#define BASE_FIELDS(X) X(double, scale, 1.0, ::xgrad::options::positive)
  XGRAD_OPTIONS(Derived, BASE_FIELDS)
#undef BASE_FIELDS
};

struct ChildOptions : BaseOptions<ChildOptions> {
#define CHILD_FIELDS(X) X(double, rate, 0.5, ::xgrad::options::unit_closed)
  XGRAD_OPTIONS_EXTEND(ChildOptions, BaseOptions<ChildOptions>, CHILD_FIELDS)
#undef CHILD_FIELDS
};

}  // namespace

BOOST_AUTO_TEST_SUITE(options)

BOOST_AUTO_TEST_CASE(defaults_setters_getters) {
  DemoOptions o;
  BOOST_CHECK_EQUAL(o.lr(), 1e-3);
  BOOST_CHECK_EQUAL(o.betas().second, 0.999);
  BOOST_CHECK_EQUAL(o.steps(), 10);
  BOOST_CHECK(!o.nesterov());
  DemoOptions& same = o.lr(0.5).steps(3).nesterov(true);
  BOOST_CHECK_EQUAL(&same, &o);
  BOOST_CHECK_EQUAL(o.lr_, 0.5);
  BOOST_CHECK_EQUAL(o.steps_, 3);
  BOOST_CHECK_EQUAL(DemoOptions(0.25).lr(), 0.25);
}

BOOST_AUTO_TEST_CASE(validation_names_owner_option_and_value) {
  xgrad::options::validate_options(DemoOptions(), "Demo");  // defaults are valid
  XGRAD_CHECK_THROW_MSG(xgrad::options::validate_options(DemoOptions(-1), "Demo"),
                        "Demo: invalid lr -1 (must be >= 0)");
  XGRAD_CHECK_THROW_MSG(xgrad::options::validate_options(DemoOptions().betas({0.9, 1.0}), "Demo"),
                        "Demo: invalid betas.second 1 (must be in [0, 1))");
  XGRAD_CHECK_THROW_MSG(xgrad::options::validate_options(DemoOptions().steps(0), "Demo"),
                        "Demo: invalid steps 0 (must be > 0)");
  XGRAD_CHECK_THROW_MSG(xgrad::options::validate_options(DemoOptions(std::nan("")), "Demo"), "invalid lr nan");
}

BOOST_AUTO_TEST_CASE(printing_and_visiting_in_declaration_order) {
  BOOST_CHECK_EQUAL(xgrad::options::format_options(DemoOptions().nesterov(true)),
                    "lr=0.001, betas=(0.9, 0.999), steps=10, nesterov=true");
  // A visitor that writes: every field is reachable by name, mutable.
  DemoOptions o;
  std::vector<std::string> names;
  o.for_each_option([&](std::string_view name, auto& value, const auto&) {
    names.emplace_back(name);
    if constexpr (std::is_same_v<std::decay_t<decltype(value)>, double>) value = 2.0;
  });
  BOOST_CHECK((names == std::vector<std::string>{"lr", "betas", "steps", "nesterov"}));
  BOOST_CHECK_EQUAL(o.lr(), 2.0);
}

BOOST_AUTO_TEST_CASE(crtp_base_and_extension) {
  ChildOptions c;
  ChildOptions& chained = c.scale(3.0).rate(0.25);  // the base's setter returns ChildOptions&
  BOOST_CHECK_EQUAL(&chained, &c);
  BOOST_CHECK_EQUAL(xgrad::options::format_options(c), "scale=3, rate=0.25");
  XGRAD_CHECK_THROW_MSG(xgrad::options::validate_options(ChildOptions().scale(0), "Child"),
                        "Child: invalid scale 0 (must be > 0)");
  XGRAD_CHECK_THROW_MSG(xgrad::options::validate_options(ChildOptions().rate(2), "Child"),
                        "Child: invalid rate 2 (must be in [0, 1])");
}

BOOST_AUTO_TEST_SUITE_END()
