// The op table of math.hpp (prod, nansum, nanmean, isnan..., nan_to_num, clamp with tensor
// bounds, lerp, hypot, atan2, logaddexp(2), xlogy, erfinv, erfc, lgamma, digamma,
// polygamma, trunc, frac, round), run by op_db.hpp: values against element-wise references
// on doubles (<cmath>, or a bisection for erfinv), views vs contiguous copies, float64
// gradcheck and gradgradcheck through contiguous, transposed, strided and expanded inputs,
// and int64 behaviour. Domains keep the inputs away from kinks and poles.
#include "op_db.hpp"
#include "xgrad/autograd/math.hpp"

namespace {

/// erfinv by bisection on std::erf: an independent reference (to about 1e-16).
double erfinv_ref(double y) {
  double lo = -7.0, hi = 7.0;
  for (int i = 0; i < 200; ++i) {
    const double mid = 0.5 * (lo + hi);
    (std::erf(mid) < y ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

const std::vector<std::vector<Shape>> kTernary = {
    {{3, 4}, {3, 4}, {3, 4}}, {{3, 4}, {4}, {3, 1}}, {{}, {2, 3}, {3}}, {{3, 1}, {1, 4}, {}}};

std::vector<OpInfo> reduction_ops() {
  auto u = [](auto f) { return [f](const Ts& t) { return f(t[0]); }; };
  return {
      {.name = "prod", .fn = u([](auto x) { return prod(x); }), .samples = kUnary, .int64 = Int64::Yes},
      {.name = "prod_3d", .fn = u([](auto x) { return prod(x); }), .samples = kReduce, .int64 = Int64::Yes},
      {.name = "prod_dim1", .fn = u([](auto x) { return prod(x, 1); }), .samples = kReduce, .int64 = Int64::Yes},
      {.name = "prod_dim-1_keepdim", .fn = u([](auto x) { return prod(x, -1, true); }), .samples = kUnary,
       .int64 = Int64::Yes},
      {.name = "prod_dim0", .fn = u([](auto x) { return prod(x, 0); }), .samples = kReduce, .int64 = Int64::Yes},
      {.name = "nansum", .fn = u([](auto x) { return nansum(x); }), .samples = kUnary, .int64 = Int64::Yes},
      {.name = "nansum_dim1", .fn = u([](auto x) { return nansum(x, 1); }), .samples = kReduce, .int64 = Int64::Yes},
      {.name = "nansum_dims_keepdim", .fn = u([](auto x) { return nansum(x, {0, -1}, true); }), .samples = kReduce,
       .int64 = Int64::Yes},
      {.name = "nanmean", .fn = u([](auto x) { return nanmean(x); }), .samples = kUnary},
      {.name = "nanmean_dim0_keepdim", .fn = u([](auto x) { return nanmean(x, {0}, true); }), .samples = kReduce},
  };
}

std::vector<OpInfo> elementwise_math_ops() {
  auto u = [](auto f) { return [f](const Ts& t) { return f(t[0]); }; };
  auto b = [](auto f) { return [f](const Ts& t) { return f(t[0], t[1]); }; };
  auto t3 = [](auto f) { return [f](const Ts& t) { return f(t[0], t[1], t[2]); }; };
  auto flag = [](bool v) { return v ? 1.0 : 0.0; };
  return {
      // classification: bool results, never differentiable; int64 inputs give the same bools as
      // their float64 values (NaN and inf cases: test_math.cpp)
      {.name = "isnan", .fn = u([](auto x) { return isnan(x); }), .samples = kUnary,
       .ref = [flag](const V& x) { return flag(std::isnan(x[0])); }, .int64 = Int64::Yes, .differentiable = false},
      {.name = "isinf", .fn = u([](auto x) { return isinf(x); }), .samples = kUnary,
       .ref = [flag](const V& x) { return flag(std::isinf(x[0])); }, .int64 = Int64::Yes, .differentiable = false},
      {.name = "isfinite", .fn = u([](auto x) { return isfinite(x); }), .samples = kUnary,
       .ref = [flag](const V& x) { return flag(std::isfinite(x[0])); }, .int64 = Int64::Yes,
       .differentiable = false},
      {.name = "isposinf", .fn = u([](auto x) { return isposinf(x); }), .samples = kUnary,
       .ref = [](const V&) { return 0.0; }, .int64 = Int64::Yes, .differentiable = false},
      {.name = "isneginf", .fn = u([](auto x) { return isneginf(x); }), .samples = kUnary,
       .ref = [](const V&) { return 0.0; }, .int64 = Int64::Yes, .differentiable = false},
      {.name = "nan_to_num", .fn = u([](auto x) { return nan_to_num(x); }), .samples = kUnary,
       .ref = [](const V& x) { return x[0]; }, .int64 = Int64::Yes},
      {.name = "nan_to_num_values", .fn = u([](auto x) { return nan_to_num(x, 1.0, 2.0, -2.0); }),
       .samples = kUnary, .ref = [](const V& x) { return x[0]; }, .int64 = Int64::Yes},
      // clamp with tensor bounds (min > max happens in the samples: the result is max)
      {.name = "clamp_tensor", .arity = 3,
       .fn = t3([](auto x, auto lo, auto hi) { return clamp(x, lo, hi); }), .samples = kTernary,
       .ref = [](const V& x) { return std::min(std::max(x[0], x[1]), x[2]); }, .int64 = Int64::Yes},
      {.name = "clamp_tensor_min", .arity = 2,
       .fn = b([](auto x, auto lo) { return clamp(x, lo, std::nullopt); }), .samples = kBinary,
       .ref = [](const V& x) { return std::max(x[0], x[1]); }, .int64 = Int64::Yes},
      {.name = "clamp_tensor_max", .arity = 2,
       .fn = b([](auto x, auto hi) { return clamp(x, std::nullopt, hi); }), .samples = kBinary,
       .ref = [](const V& x) { return std::min(x[0], x[1]); }, .int64 = Int64::Yes},
      // lerp: both of PyTorch's formulas (|w| < 0.5 and >= 0.5)
      {.name = "lerp_0.3", .arity = 2, .fn = b([](auto s, auto e) { return lerp(s, e, 0.3); }), .samples = kBinary,
       .ref = [](const V& x) { return x[0] + 0.3 * (x[1] - x[0]); }},
      {.name = "lerp_0.7", .arity = 2, .fn = b([](auto s, auto e) { return lerp(s, e, 0.7); }), .samples = kBinary,
       .ref = [](const V& x) { return x[0] + 0.7 * (x[1] - x[0]); }},
      {.name = "lerp_tensor", .arity = 3, .fn = t3([](auto s, auto e, auto w) { return lerp(s, e, w); }),
       .samples = kTernary, .ref = [](const V& x) { return x[0] + x[2] * (x[1] - x[0]); }},
      // binary math
      {.name = "hypot", .arity = 2, .fn = b([](auto x, auto y) { return hypot(x, y); }), .samples = kBinary,
       .ref = [](const V& x) { return std::hypot(x[0], x[1]); }},
      {.name = "atan2", .arity = 2, .fn = b([](auto x, auto y) { return atan2(x, y); }), .samples = kBinary,
       .ref = [](const V& x) { return std::atan2(x[0], x[1]); }},
      {.name = "logaddexp", .arity = 2, .fn = b([](auto x, auto y) { return logaddexp(x, y); }), .samples = kBinary,
       .ref = [](const V& x) { return std::log(std::exp(x[0]) + std::exp(x[1])); }},
      {.name = "logaddexp2", .arity = 2, .fn = b([](auto x, auto y) { return logaddexp2(x, y); }),
       .samples = kBinary, .ref = [](const V& x) { return std::log2(std::exp2(x[0]) + std::exp2(x[1])); }},
      {.name = "xlogy", .arity = 2, .fn = b([](auto x, auto y) { return xlogy(x, y); }),
       .domains = {Dom::Any, Dom::Positive}, .samples = kBinary,
       .ref = [](const V& x) { return x[0] * std::log(x[1]); }},
      // special functions
      {.name = "erfinv", .fn = u([](auto x) { return erfinv(x); }), .domains = {Dom::Unit}, .samples = kUnary,
       .ref = [](const V& x) { return erfinv_ref(x[0]); }},
      {.name = "erfinv_negative", .fn = u([](auto x) { return erfinv(-x); }), .domains = {Dom::Unit},
       .samples = kUnary, .ref = [](const V& x) { return erfinv_ref(-x[0]); }},
      {.name = "erfc", .fn = u([](auto x) { return erfc(x); }), .samples = kUnary,
       .ref = [](const V& x) { return std::erfc(x[0]); }},
      {.name = "lgamma", .fn = u([](auto x) { return lgamma(x); }), .domains = {Dom::Positive}, .samples = kUnary,
       .ref = [](const V& x) { return std::lgamma(x[0]); }},
      {.name = "lgamma_negative", .fn = u([](auto x) { return lgamma(x - 3.0); }), .domains = {Dom::Unit},
       .samples = kUnary, .ref = [](const V& x) { return std::lgamma(x[0] - 3.0); }},
      {.name = "digamma", .fn = u([](auto x) { return digamma(x); }), .domains = {Dom::Positive}, .samples = kUnary},
      {.name = "digamma_negative", .fn = u([](auto x) { return digamma(x - 2.0); }), .domains = {Dom::Unit},
       .samples = kUnary},
      {.name = "polygamma_1", .fn = u([](auto x) { return polygamma(1, x); }), .domains = {Dom::Positive},
       .samples = kUnary},
      {.name = "polygamma_2", .fn = u([](auto x) { return polygamma(2, x); }), .domains = {Dom::Positive},
       .samples = kUnary},
      {.name = "polygamma_3_negative", .fn = u([](auto x) { return polygamma(3, x - 1.0); }),
       .domains = {Dom::Unit}, .samples = kUnary},
      // rounding: gradients 0 (trunc, round) and 1 (frac); kinks at integers and halves
      {.name = "trunc", .fn = u([](auto x) { return trunc(x); }), .samples = kUnary,
       .ref = [](const V& x) { return std::trunc(x[0]); }, .int64 = Int64::Yes},
      {.name = "frac", .fn = u([](auto x) { return frac(x); }), .samples = kUnary,
       .ref = [](const V& x) { return x[0] - std::trunc(x[0]); }},
      {.name = "round", .fn = u([](auto x) { return round(x); }), .samples = kUnary,
       .ref = [](const V& x) { return std::nearbyint(x[0]); }, .int64 = Int64::Yes},
      {.name = "round_decimals_-1", .fn = u([](auto x) { return round(x, -1); }), .samples = kUnary,
       .ref = [](const V& x) { return std::nearbyint(x[0] / 10.0) * 10.0; }, .dtype_error = "round: decimals = -1"},
  };
}

}  // namespace

BOOST_AUTO_TEST_SUITE(op_db_math)

BOOST_AUTO_TEST_CASE(reductions) { run_all(reduction_ops()); }
BOOST_AUTO_TEST_CASE(elementwise) { run_all(elementwise_math_ops()); }

BOOST_AUTO_TEST_CASE(names_are_unique) {
  std::vector<std::string> names;
  for (const auto& ops : {reduction_ops(), elementwise_math_ops()})
    for (const auto& op : ops) names.push_back(op.name);
  std::sort(names.begin(), names.end());
  BOOST_CHECK(std::adjacent_find(names.begin(), names.end()) == names.end());
  BOOST_TEST_MESSAGE("op_db_math: " << names.size() << " ops");
}

BOOST_AUTO_TEST_SUITE_END()
