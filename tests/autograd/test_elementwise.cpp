// Tests of elementwise.hpp: arithmetic, math functions, clamp, maximum/minimum, where,
// comparisons and sign.
#include <cmath>
#include <limits>
#include <numbers>

#include "test_util.hpp"

using namespace xgrad;
using xgrad::test::check_close;
using xgrad::test::check_gradcheck;
using xgrad::test::check_gradgradcheck;
using xgrad::test::rand64;

namespace {

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

Tensor f64(std::initializer_list<NestedList> v) { return tensor(v, dtype(float64)); }
Tensor leaf64(std::initializer_list<NestedList> v) { return tensor(v, dtype(float64).requires_grad()); }
/// A float64 column [n, 1].
Tensor col64(const std::vector<double>& v, bool requires_grad = false) {
  return from_vector<double>(v, {static_cast<std::int64_t>(v.size()), 1}, requires_grad);
}

/// float64 leaf with values uniform in [lo, hi), requiring grad.
Tensor uniform64(const Shape& s, double lo, double hi) {
  Tensor t = rand(s, dtype(float64));
  NoGradGuard ng;
  t = t * (hi - lo) + lo;
  return t.detach().requires_grad_(true);
}

/// Shapes for unary gradchecks: 0-d, size-1 dims, plain and 3-d.
const std::vector<Shape> kUnaryShapes = {{}, {1}, {5}, {2, 3}, {2, 1, 3}};
/// Operand shape pairs for binary gradchecks, with broadcasting on either side.
const std::vector<std::pair<Shape, Shape>> kBinaryShapes = {
    {{2, 3}, {2, 3}}, {{3, 1}, {1, 4}}, {{2, 3}, {3}}, {{3}, {2, 3}}, {{}, {2, 3}}, {{2, 1, 3}, {4, 1}}, {{1}, {1}}};

/// gradcheck of a unary op over kUnaryShapes, inputs uniform in [lo, hi).
void gradcheck_unary(const std::function<Tensor(const Tensor&)>& op, double lo, double hi) {
  for (const Shape& s : kUnaryShapes) {
    BOOST_TEST_CONTEXT("shape " << fmt::format("{}", s)) {
      check_gradcheck([&](const std::vector<Tensor>& in) { return op(in[0]); }, {uniform64(s, lo, hi)});
    }
  }
}

/// gradcheck of a binary op over kBinaryShapes; `make` draws an input of a shape.
void gradcheck_binary(const std::function<Tensor(const Tensor&, const Tensor&)>& op,
                      const std::function<Tensor(const Shape&)>& make_a,
                      const std::function<Tensor(const Shape&)>& make_b) {
  for (const auto& [sa, sb] : kBinaryShapes) {
    BOOST_TEST_CONTEXT("shapes " << fmt::format("{} and {}", sa, sb)) {
      check_gradcheck([&](const std::vector<Tensor>& in) { return op(in[0], in[1]); }, {make_a(sa), make_b(sb)});
    }
  }
}

Tensor normal(const Shape& s) { return rand64(s); }
/// Away from 0 on both sides, for divisors.
Tensor away_from_zero(const Shape& s) {
  Tensor t = uniform64(s, 0.5, 2.0);
  NoGradGuard ng;
  return (t * sign(randn(s, dtype(float64)) + 1e-12)).detach().requires_grad_(true);
}

/// The gradient of sum(f(x)) with respect to x.
Tensor grad_of_sum(const Tensor& y, const Tensor& x) { return autograd::grad({sum(y)}, {x})[0]; }

}  // namespace

BOOST_AUTO_TEST_SUITE(elementwise)

// ---- forward values -------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(arithmetic_forward_values) {
  const Tensor a = col64({1., 2., 3.});          // [3, 1]
  const Tensor b = f64({{10., 20., 30., 40.}});  // [1, 4]
  check_close(add(a, b), f64({{11., 21., 31., 41.}, {12., 22., 32., 42.}, {13., 23., 33., 43.}}), 0);
  check_close(sub(a, b), f64({{-9., -19., -29., -39.}, {-8., -18., -28., -38.}, {-7., -17., -27., -37.}}), 0);
  check_close(mul(a, b), f64({{10., 20., 30., 40.}, {20., 40., 60., 80.}, {30., 60., 90., 120.}}), 0);
  check_close(div(b, a), f64({{10., 20., 30., 40.}, {5., 10., 15., 20.}, {10. / 3, 20. / 3, 10., 40. / 3}}), 1e-15);

  const Tensor x = f64({1., -2., 4.});
  check_close(add(x, 1.5), f64({2.5, -0.5, 5.5}), 0);
  check_close(sub(x, 1.0), f64({0., -3., 3.}), 0);
  check_close(mul(x, -2.0), f64({-2., 4., -8.}), 0);
  check_close(div(x, 4.0), f64({0.25, -0.5, 1.}), 0);
  check_close(rsub(x, 1.0), f64({0., 3., -3.}), 0);
  check_close(rdiv(x, 2.0), f64({2., -1., 0.5}), 0);
  check_close(neg(x), f64({-1., 2., -4.}), 0);

  // Operators are the same functions.
  check_close(x + x, f64({2., -4., 8.}), 0);
  check_close(x - f64({1., 1., 1.}), f64({0., -3., 3.}), 0);
  check_close(x * x, f64({1., 4., 16.}), 0);
  check_close(x / f64({2., 2., 2.}), f64({0.5, -1., 2.}), 0);
  check_close(x + 1., f64({2., -1., 5.}), 0);
  check_close(x - 1., f64({0., -3., 3.}), 0);
  check_close(x * 3., f64({3., -6., 12.}), 0);
  check_close(x / 2., f64({0.5, -1., 2.}), 0);
  check_close(1. + x, f64({2., -1., 5.}), 0);
  check_close(1. - x, f64({0., 3., -3.}), 0);
  check_close(3. * x, f64({3., -6., 12.}), 0);
  check_close(4. / x, f64({4., -2., 1.}), 0);
  check_close(-x, f64({-1., 2., -4.}), 0);

  // Tensor methods forward to the free functions.
  check_close(x.add(x), x * 2., 0);
  check_close(x.sub(x), x * 0., 0);
  check_close(x.mul(x), x * x, 0);
  check_close(x.div(x), f64({1., 1., 1.}), 0);
  check_close(x.add(1.), x + 1., 0);
  check_close(x.sub(1.), x - 1., 0);
  check_close(x.mul(2.), x * 2., 0);
  check_close(x.div(2.), x / 2., 0);
  check_close(x.neg(), -x, 0);

  // 0-d with 0-d stays 0-d; int64 arithmetic is exact.
  BOOST_TEST((add(scalar_tensor(1., dtype(float64)), scalar_tensor(2., dtype(float64))).shape() == Shape{}));
  const Tensor i = from_vector<std::int64_t>({7, -3});
  BOOST_TEST((mul(i, i).to_vector<std::int64_t>() == std::vector<std::int64_t>{49, 9}));
}

BOOST_AUTO_TEST_CASE(math_forward_values) {
  const double e = std::numbers::e, pi = std::numbers::pi;
  check_close(pow(f64({2., -3., 0.5}), 2.0), f64({4., 9., 0.25}), 1e-15);
  check_close(pow(f64({8., 4.}), 1.0 / 3.0), f64({2., std::cbrt(4.)}), 1e-15);
  check_close(pow(f64({4., 9.}), 0.5), f64({2., 3.}), 1e-15);
  check_close(pow(f64({4., 2.}), -1.0), f64({0.25, 0.5}), 1e-15);
  check_close(pow(f64({2., 3.}), 0.0), f64({1., 1.}), 0);
  check_close(pow(col64({2., 3.}), f64({1., 2., 3.})), f64({{2., 4., 8.}, {3., 9., 27.}}), 1e-14);
  check_close(exp(f64({0., 1., -1.})), f64({1., e, 1. / e}), 1e-15);
  check_close(log(f64({1., e, 0.5})), f64({0., 1., -std::numbers::ln2}), 1e-15);
  BOOST_TEST(std::isinf(log(f64({0.})).item()));
  BOOST_TEST(std::isnan(log(f64({-1.})).item()));
  check_close(log1p(f64({0., e - 1., 1e-20})), f64({0., 1., 1e-20}), 1e-15);
  BOOST_TEST(log1p(f64({1e-20})).item() == 1e-20);  // log1p keeps precision near 0; log(1 + x) would give 0
  check_close(sqrt(f64({0., 4., 2.25})), f64({0., 2., 1.5}), 0);
  check_close(rsqrt(f64({4., 0.25})), f64({0.5, 2.}), 0);
  check_close(abs(f64({-2., 0., 3.})), f64({2., 0., 3.}), 0);
  check_close(sin(f64({0., pi / 2, pi / 6})), f64({0., 1., 0.5}), 1e-15);
  check_close(cos(f64({0., pi, pi / 3})), f64({1., -1., 0.5}), 1e-15);
  check_close(tanh(f64({0., 1., -20.})), f64({0., (e * e - 1) / (e * e + 1), -1.}), 1e-15);
  check_close(sigmoid(f64({0., std::log(3.), -800., 800.})), f64({0.5, 0.75, 0., 1.}), 1e-15);
  check_close(relu(f64({-1., 0., 2.5})), f64({0., 0., 2.5}), 0);
  check_close(erf(f64({0., 1., -1.})), f64({0., 0.8427007929497149, -0.8427007929497149}), 1e-15);

  // float32 goes through the same kernels.
  check_close(exp(tensor({0., 1.})), tensor({1., static_cast<float>(e)}), 1e-7);
  check_close(sigmoid(tensor({0.})), tensor({0.5}), 0);

  // Tensor methods.
  const Tensor x = f64({0.5, 1.5});
  check_close(x.pow(2.), pow(x, 2.), 0);
  check_close(x.pow(x), pow(x, x), 0);
  check_close(x.exp(), exp(x), 0);
  check_close(x.log(), log(x), 0);
  check_close(x.log1p(), log1p(x), 0);
  check_close(x.sqrt(), sqrt(x), 0);
  check_close(x.rsqrt(), rsqrt(x), 0);
  check_close(x.abs(), abs(x), 0);
  check_close(x.sin(), sin(x), 0);
  check_close(x.cos(), cos(x), 0);
  check_close(x.tanh(), tanh(x), 0);
  check_close(x.sigmoid(), sigmoid(x), 0);
  check_close(x.relu(), relu(x), 0);
  check_close(x.erf(), erf(x), 0);
  check_close(x.sign(), sign(x), 0);
  check_close(x.clamp(1., std::nullopt), clamp(x, 1., std::nullopt), 0);
}

BOOST_AUTO_TEST_CASE(clamp_maximum_minimum_forward_values) {
  const Tensor x = f64({-2., -1., 0., 1., 2.});
  check_close(clamp(x, -1., 1.), f64({-1., -1., 0., 1., 1.}), 0);
  check_close(clamp(x, 0., std::nullopt), f64({0., 0., 0., 1., 2.}), 0);
  check_close(clamp(x, std::nullopt, -0.5), f64({-2., -1., -0.5, -0.5, -0.5}), 0);
  check_close(clamp(x, 1., -1.), f64({-1., -1., -1., -1., -1.}), 0);  // min > max: everything becomes max
  const Tensor xi = from_vector<std::int64_t>({-5, 0, 5});
  BOOST_TEST((clamp(xi, -1., 2.).to_vector<std::int64_t>() == std::vector<std::int64_t>{-1, 0, 2}));

  const Tensor a = col64({1., 4.});    // [2, 1]
  const Tensor b = f64({0., 2., 5.});  // [3]
  check_close(maximum(a, b), f64({{1., 2., 5.}, {4., 4., 5.}}), 0);
  check_close(minimum(a, b), f64({{0., 1., 1.}, {0., 2., 4.}}), 0);

  const double nan = std::numeric_limits<double>::quiet_NaN();
  BOOST_TEST(std::isnan(maximum(f64({nan}), f64({1.})).item()));
  BOOST_TEST(std::isnan(minimum(f64({1.}), f64({nan})).item()));
  BOOST_TEST(std::isnan(relu(f64({nan})).item()));
  BOOST_TEST(std::isnan(clamp(f64({nan}), 0., 1.).item()));
}

BOOST_AUTO_TEST_CASE(where_forward_broadcasts_all_three) {
  const Tensor cond = col64({1., 0., 1.});              // [3, 1]
  const Tensor a = f64({10., 20.});                     // [2]
  const Tensor b = scalar_tensor(-1., dtype(float64));  // []
  check_close(where(cond, a, b), f64({{10., 20.}, {-1., -1.}, {10., 20.}}), 0);
  // The condition may have another dtype than the operands; any nonzero value is true.
  const Tensor ci = from_vector<std::int64_t>({0, 3, -2});
  check_close(where(ci, f64({1., 2., 3.}), f64({4., 5., 6.})), f64({4., 2., 3.}), 0);
  // Masks from comparisons feed straight in.
  const Tensor x = f64({-1., 2., -3.});
  check_close(where(x > 0., x, x * 0.5), f64({-0.5, 2., -1.5}), 0);
}

BOOST_AUTO_TEST_CASE(comparisons_return_one_and_zero_without_grad) {
  const Tensor a = leaf64({1., 2., 3.});
  const Tensor b = f64({2., 2., 2.});
  check_close(eq(a, b), f64({0., 1., 0.}), 0);
  check_close(ne(a, b), f64({1., 0., 1.}), 0);
  check_close(lt(a, b), f64({1., 0., 0.}), 0);
  check_close(le(a, b), f64({1., 1., 0.}), 0);
  check_close(gt(a, b), f64({0., 0., 1.}), 0);
  check_close(ge(a, b), f64({0., 1., 1.}), 0);
  check_close(eq(a, 2.), f64({0., 1., 0.}), 0);
  check_close(ne(a, 2.), f64({1., 0., 1.}), 0);
  check_close(lt(a, 2.), f64({1., 0., 0.}), 0);
  check_close(le(a, 2.), f64({1., 1., 0.}), 0);
  check_close(gt(a, 2.), f64({0., 0., 1.}), 0);
  check_close(ge(a, 2.), f64({0., 1., 1.}), 0);
  check_close(a == b, eq(a, b), 0);
  check_close(a != b, ne(a, b), 0);
  check_close(a < b, lt(a, b), 0);
  check_close(a <= b, le(a, b), 0);
  check_close(a > b, gt(a, b), 0);
  check_close(a >= b, ge(a, b), 0);
  check_close(a < 2., lt(a, 2.), 0);
  check_close(a <= 2., le(a, 2.), 0);
  check_close(a > 2., gt(a, 2.), 0);
  check_close(a >= 2., ge(a, 2.), 0);
  check_close(a.eq(b), eq(a, b), 0);
  check_close(a.ne(b), ne(a, b), 0);
  check_close(a.lt(b), lt(a, b), 0);
  check_close(a.le(b), le(a, b), 0);
  check_close(a.gt(b), gt(a, b), 0);
  check_close(a.ge(b), ge(a, b), 0);

  for (const Tensor& r : {eq(a, b), gt(a, 1.), a < b, sign(a)}) {
    BOOST_TEST(!r.requires_grad());
    BOOST_TEST(r.is_leaf());
  }
  for (const Tensor& r : {eq(a, b), gt(a, 1.), a < b}) BOOST_CHECK(r.dtype() == boolean);
  BOOST_CHECK(sign(a).dtype() == float64);
  // The bool mask multiplies directly (bool * float64 is float64) and the product still
  // carries a's gradient.
  Tensor y = a * (a > 1.5);
  sum(y).backward();
  check_close(a.grad(), f64({0., 1., 1.}), 0);

  // Broadcasting comparison: [2, 1] vs [3].
  check_close(lt(col64({1., 3.}), f64({0., 2., 4.})), f64({{0., 1., 1.}, {0., 0., 1.}}), 0);
  // float32 in, bool out.
  BOOST_CHECK(gt(tensor({1., -1.}), 0.).dtype() == boolean);
  // int64 tensors compare against the double exactly (0 < 0.5 is true).
  const Tensor i = from_vector<std::int64_t>({0, 1, 2});
  BOOST_TEST((lt(i, 0.5).to_vector<bool>() == std::vector<bool>{true, false, false}));
  BOOST_TEST((ge(i, 1.5).to_vector<bool>() == std::vector<bool>{false, false, true}));
  BOOST_TEST((eq(i, from_vector<std::int64_t>({0, 0, 2})).to_vector<bool>() == std::vector<bool>{true, false, true}));
  // Mixed dtypes compare in the promoted dtype: int64 2 == float64 2.0, and 1 < 1.5.
  BOOST_TEST((eq(i, f64({0.5, 1., 2.})).to_vector<bool>() == std::vector<bool>{false, true, true}));
  BOOST_TEST((lt(i, f64({0.5, 1.5, 1.5})).to_vector<bool>() == std::vector<bool>{true, true, false}));
  // NaN equals nothing, not even itself.
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const Tensor n = f64({nan});
  BOOST_TEST(!eq(n, n).item<bool>());
  BOOST_TEST(ne(n, n).item<bool>());
  BOOST_TEST(!lt(n, 0.).item<bool>());
}

BOOST_AUTO_TEST_CASE(sign_values) {
  check_close(sign(f64({-3., 0., 0.5})), f64({-1., 0., 1.}), 0);
  BOOST_TEST(
      (sign(from_vector<std::int64_t>({-7, 0, 9})).to_vector<std::int64_t>() == std::vector<std::int64_t>{-1, 0, 1}));
  BOOST_TEST(!sign(leaf64({1.})).requires_grad());
}

// ---- gradcheck (float64 finite differences) --------------------------------------------------

BOOST_AUTO_TEST_CASE(gradcheck_arithmetic) {
  gradcheck_binary([](const Tensor& a, const Tensor& b) { return add(a, b); }, normal, normal);
  gradcheck_binary([](const Tensor& a, const Tensor& b) { return sub(a, b); }, normal, normal);
  gradcheck_binary([](const Tensor& a, const Tensor& b) { return mul(a, b); }, normal, normal);
  gradcheck_binary([](const Tensor& a, const Tensor& b) { return div(a, b); }, normal, away_from_zero);
  gradcheck_binary([](const Tensor& a, const Tensor& b) { return a * b + a / b - b; }, normal, away_from_zero);
  gradcheck_unary([](const Tensor& a) { return add(a, 1.5); }, -2, 2);
  gradcheck_unary([](const Tensor& a) { return sub(a, 1.5); }, -2, 2);
  gradcheck_unary([](const Tensor& a) { return mul(a, -3.); }, -2, 2);
  gradcheck_unary([](const Tensor& a) { return div(a, 4.); }, -2, 2);
  gradcheck_unary([](const Tensor& a) { return rsub(a, 2.); }, -2, 2);
  gradcheck_unary([](const Tensor& a) { return rdiv(a, 2.); }, 0.5, 2);
  gradcheck_unary([](const Tensor& a) { return neg(a); }, -2, 2);
  gradcheck_unary([](const Tensor& a) { return 2. - a * 3. + 1. / a - (-a) / 2.; }, 0.5, 2);
}

BOOST_AUTO_TEST_CASE(gradcheck_pow) {
  gradcheck_unary([](const Tensor& a) { return pow(a, 2.); }, -2, 2);
  gradcheck_unary([](const Tensor& a) { return pow(a, 3.); }, -2, 2);
  gradcheck_unary([](const Tensor& a) { return pow(a, 0.5); }, 0.5, 2);
  gradcheck_unary([](const Tensor& a) { return pow(a, -1.5); }, 0.5, 2);
  gradcheck_unary([](const Tensor& a) { return pow(a, 0.); }, -2, 2);
  gradcheck_binary([](const Tensor& a, const Tensor& b) { return pow(a, b); },
                   [](const Shape& s) { return uniform64(s, 0.5, 2.); }, normal);
}

BOOST_AUTO_TEST_CASE(gradcheck_unary_math) {
  gradcheck_unary([](const Tensor& a) { return exp(a); }, -2, 2);
  gradcheck_unary([](const Tensor& a) { return log(a); }, 0.5, 3);
  gradcheck_unary([](const Tensor& a) { return log1p(a); }, -0.5, 3);
  gradcheck_unary([](const Tensor& a) { return sqrt(a); }, 0.5, 3);
  gradcheck_unary([](const Tensor& a) { return rsqrt(a); }, 0.5, 3);
  gradcheck_unary([](const Tensor& a) { return abs(a); }, -2, 2);
  gradcheck_unary([](const Tensor& a) { return sin(a); }, -3, 3);
  gradcheck_unary([](const Tensor& a) { return cos(a); }, -3, 3);
  gradcheck_unary([](const Tensor& a) { return tanh(a); }, -2, 2);
  gradcheck_unary([](const Tensor& a) { return sigmoid(a); }, -3, 3);
  gradcheck_unary([](const Tensor& a) { return relu(a); }, -2, 2);
  gradcheck_unary([](const Tensor& a) { return erf(a); }, -2, 2);
  gradcheck_unary([](const Tensor& a) { return clamp(a, -0.5, 0.7); }, -2, 2);
  gradcheck_unary([](const Tensor& a) { return clamp(a, -0.5, std::nullopt); }, -2, 2);
  gradcheck_unary([](const Tensor& a) { return clamp(a, std::nullopt, 0.3); }, -2, 2);
}

BOOST_AUTO_TEST_CASE(gradcheck_maximum_minimum_where) {
  gradcheck_binary([](const Tensor& a, const Tensor& b) { return maximum(a, b); }, normal, normal);
  gradcheck_binary([](const Tensor& a, const Tensor& b) { return minimum(a, b); }, normal, normal);
  // where: the condition is broadcast too, on its own shape.
  const std::vector<std::array<Shape, 3>> shapes = {{Shape{2, 3}, Shape{2, 3}, Shape{2, 3}},
                                                    {Shape{3, 1}, Shape{1, 4}, Shape{}},
                                                    {Shape{4}, Shape{3, 1}, Shape{3, 4}},
                                                    {Shape{}, Shape{2, 3}, Shape{3}},
                                                    {Shape{2, 1, 3}, Shape{1}, Shape{4, 1}}};
  for (const auto& [sc, sa, sb] : shapes) {
    BOOST_TEST_CONTEXT("shapes " << fmt::format("{} {} {}", sc, sa, sb)) {
      const Tensor cond = gt(randn(sc, dtype(float64)), 0.);
      check_gradcheck([&](const std::vector<Tensor>& in) { return where(cond, in[0], in[1]); },
                      {rand64(sa), rand64(sb)});
    }
  }
}

// ---- hand-derived gradients -----------------------------------------------------------------

BOOST_AUTO_TEST_CASE(hand_derived_arithmetic) {
  Tensor a = leaf64({2., 3.});
  Tensor b = leaf64({4., 5.});
  // L = sum(a*b + a/b): dL/da = b + 1/b = [4.25, 5.2]; dL/db = a - a/b^2 = [2 - 2/16, 3 - 3/25].
  sum(a * b + a / b).backward();
  check_close(a.grad(), f64({4.25, 5.2}), 1e-15);
  check_close(b.grad(), f64({2. - 2. / 16., 3. - 3. / 25.}), 1e-15);

  // Broadcast: c [3, 1] + d [1, 4] -> [3, 4]; each c element is used 4 times, each d element 3.
  // L = sum((c + d) * 2 - c): dL/dc = 4 * 2 - 4 = 4, dL/dd = 3 * 2 = 6.
  Tensor c = col64({1., 2., 3.}, true);
  Tensor d = tensor({{1., 2., 3., 4.}}, dtype(float64).requires_grad());
  Tensor y = (c + d) * 2. - c;
  BOOST_TEST(y.shape() == (Shape{3, 4}));
  sum(y).backward();
  check_close(c.grad(), col64({4., 4., 4.}), 0);
  check_close(d.grad(), f64({{6., 6., 6., 6.}}), 0);

  // Scalar forms: L = sum(3 - x + 2/x - (-x)*4): dL/dx = -1 - 2/x^2 + 4; at x = [1, 2]: [1, 2.5].
  Tensor x = leaf64({1., 2.});
  sum(rsub(x, 3.) + rdiv(x, 2.) - neg(x) * 4.).backward();
  check_close(x.grad(), f64({1., 2.5}), 1e-15);
  // L = sum(x / 4 - 1 + 1): dL/dx = 1/4.
  x.set_grad(Tensor());
  sum(div(x, 4.) - 1. + 1.).backward();
  check_close(x.grad(), f64({0.25, 0.25}), 0);
}

BOOST_AUTO_TEST_CASE(hand_derived_pow) {
  // d(x^3)/dx = 3 x^2: at [2, -1] -> [12, 3].
  Tensor x = leaf64({2., -1.});
  check_close(grad_of_sum(pow(x, 3.), x), f64({12., 3.}), 1e-14);
  // d(x^0)/dx = 0 everywhere, even at 0 where 0 * 0^(-1) would be NaN.
  Tensor z = leaf64({0., 2.});
  check_close(grad_of_sum(pow(z, 0.), z), f64({0., 0.}), 0);
  // a^b with a = 2, b = 3: d/da = b a^(b-1) = 12; d/db = a^b ln a = 8 ln 2.
  Tensor a = leaf64({2.});
  Tensor b = leaf64({3.});
  sum(pow(a, b)).backward();
  check_close(a.grad(), f64({12.}), 1e-14);
  check_close(b.grad(), f64({8. * std::numbers::ln2}), 1e-14);
  // d/db at a == 0 is taken as 0 (0 * ln 0 would be NaN); d/da = b a^(b-1) = 2 * 0 = 0 there.
  Tensor a0 = leaf64({0., 1.});
  Tensor b0 = leaf64({2., 2.});
  sum(pow(a0, b0)).backward();
  check_close(b0.grad(), f64({0., 0.}), 0);  // ln 1 = 0 too
  check_close(a0.grad(), f64({0., 2.}), 0);
  // Broadcast exponent [3] over base [2, 1]: d/db sums over the 2 rows.
  // a = [[1], [2]], b = [1, 2, 3]: d/db_j = sum_i a_i^b_j ln a_i = 2^b_j ln 2.
  Tensor ab = col64({1., 2.});
  Tensor bb = leaf64({1., 2., 3.});
  const double l2 = std::numbers::ln2;
  check_close(grad_of_sum(pow(ab, bb), bb), f64({2. * l2, 4. * l2, 8. * l2}), 1e-14);
}

BOOST_AUTO_TEST_CASE(hand_derived_exp_log_sqrt) {
  const double e = std::numbers::e;
  Tensor x = leaf64({0., 1.});
  check_close(grad_of_sum(exp(x), x), f64({1., e}), 1e-15);  // d(e^x)/dx = e^x
  Tensor p = leaf64({1., 2., 4.});
  check_close(grad_of_sum(log(p), p), f64({1., 0.5, 0.25}), 0);                        // d(ln x)/dx = 1/x
  check_close(grad_of_sum(log1p(p), p), f64({0.5, 1. / 3., 0.2}), 1e-15);              // 1/(1 + x)
  check_close(grad_of_sum(sqrt(p), p), f64({0.5, 0.5 / std::sqrt(2.), 0.25}), 1e-15);  // 1/(2 sqrt x)
  // d(x^(-1/2))/dx = -1/2 x^(-3/2): at [1, 4] -> [-0.5, -1/16].
  Tensor q = leaf64({1., 4.});
  check_close(grad_of_sum(rsqrt(q), q), f64({-0.5, -1. / 16.}), 1e-15);
}

BOOST_AUTO_TEST_CASE(hand_derived_trig_activations) {
  const double pi = std::numbers::pi;
  Tensor x = leaf64({0., pi / 3});
  check_close(grad_of_sum(sin(x), x), f64({1., 0.5}), 1e-15);                  // cos x
  check_close(grad_of_sum(cos(x), x), f64({0., -std::sqrt(3.) / 2.}), 1e-15);  // -sin x
  // d(tanh x)/dx = 1 - tanh^2 x: 1 at 0; at 0.5: 1 - tanh(0.5)^2.
  Tensor t = leaf64({0., 0.5});
  check_close(grad_of_sum(tanh(t), t), f64({1., 1. - std::tanh(0.5) * std::tanh(0.5)}), 1e-15);
  // d(sigmoid x)/dx = s (1 - s): 1/4 at 0; at ln 3, s = 3/4 -> 3/16.
  Tensor s = leaf64({0., std::log(3.)});
  check_close(grad_of_sum(sigmoid(s), s), f64({0.25, 3. / 16.}), 1e-15);
  // d(erf x)/dx = 2/sqrt(pi) e^(-x^2): at 0 -> 2/sqrt(pi); at 1 -> 2/(e sqrt(pi)).
  Tensor r = leaf64({0., 1.});
  const double c = 2. / std::sqrt(pi);
  check_close(grad_of_sum(erf(r), r), f64({c, c / std::numbers::e}), 1e-15);
}

BOOST_AUTO_TEST_CASE(relu_abs_gradient_zero_at_zero) {
  // d(relu x)/dx = 1 for x > 0, else 0 -- including x == 0.
  Tensor x = leaf64({-1., 0., 2.});
  check_close(grad_of_sum(relu(x), x), f64({0., 0., 1.}), 0);
  // The backward selects instead of multiplying: an infinite or NaN incoming gradient beside
  // x <= 0 gives 0 (inf * 0 would be NaN), and passes through where x > 0.
  const double inf = std::numeric_limits<double>::infinity(), nan = std::numeric_limits<double>::quiet_NaN();
  Tensor z = leaf64({-1., 0., 2., -3.});
  relu(z).backward(f64({inf, nan, inf, -inf}));
  check_close(z.grad(), f64({0., 0., inf, 0.}), 0);
  // d|x|/dx = sign(x), 0 at 0.
  Tensor y = leaf64({-2., 0., 3.});
  check_close(grad_of_sum(abs(y), y), f64({-1., 0., 1.}), 0);
}

BOOST_AUTO_TEST_CASE(clamp_gradient_includes_bounds) {
  // d/dx clamp(x, -1, 1) = 1 on [-1, 1] (bounds included, like PyTorch), 0 outside.
  Tensor x = leaf64({-2., -1., 0., 1., 2.});
  check_close(grad_of_sum(clamp(x, -1., 1.), x), f64({0., 1., 1., 1., 0.}), 0);
  check_close(grad_of_sum(clamp(x, std::nullopt, 0.), x), f64({1., 1., 1., 0., 0.}), 0);
  check_close(grad_of_sum(clamp(x, 0., std::nullopt), x), f64({0., 0., 1., 1., 1.}), 0);
}

BOOST_AUTO_TEST_CASE(maximum_minimum_split_ties) {
  // max: the gradient goes to the larger operand, half/half on a tie.
  Tensor a = leaf64({1., 2., 3.});
  Tensor b = leaf64({3., 2., 1.});
  sum(maximum(a, b) * f64({1., 2., 4.})).backward();
  check_close(a.grad(), f64({0., 1., 4.}), 0);
  check_close(b.grad(), f64({1., 1., 0.}), 0);
  a.set_grad(Tensor());
  b.set_grad(Tensor());
  sum(minimum(a, b)).backward();
  check_close(a.grad(), f64({1., 0.5, 0.}), 0);
  check_close(b.grad(), f64({0., 0.5, 1.}), 0);
  // Broadcast: maximum(c [2, 1], d [3]) with c = [[1], [4]], d = [0, 2, 5]:
  // wins for c: row 0 beats d = 0 only; row 1 beats 0 and 2 -> c.grad = [[1], [2]];
  // d wins at (0, 1), (0, 2), (1, 2) -> d.grad = [0, 1, 2].
  Tensor c = col64({1., 4.}, true);
  Tensor d = leaf64({0., 2., 5.});
  sum(maximum(c, d)).backward();
  check_close(c.grad(), col64({1., 2.}), 0);
  check_close(d.grad(), f64({0., 1., 2.}), 0);
}

BOOST_AUTO_TEST_CASE(where_routes_gradient) {
  // d/da where(c, a, b) = c, d/db = 1 - c; broadcast dims sum up.
  Tensor a = leaf64({1., 2., 3.});
  Tensor b = scalar_tensor(7., dtype(float64).requires_grad());
  const Tensor cond = f64({1., 0., 1.});
  Tensor y = where(cond, a, b);
  check_close(y, f64({1., 7., 3.}), 0);
  sum(y * f64({10., 20., 30.})).backward();
  check_close(a.grad(), f64({10., 0., 30.}), 0);
  BOOST_TEST((b.grad().shape() == Shape{}));
  BOOST_TEST(b.grad().item() == 20.);
  // The condition gets no gradient even when it requires grad.
  Tensor c = leaf64({1., 0.});
  Tensor u = leaf64({1., 1.});
  sum(where(c, u, u * 2.)).backward();
  BOOST_TEST(!c.grad().defined());
  check_close(u.grad(), f64({1., 2.}), 0);
}

// ---- second derivatives -----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(gradgradcheck_ops) {
  const Fn ops1[] = {
      [](const std::vector<Tensor>& in) { return tanh(in[0]); },
      [](const std::vector<Tensor>& in) { return sigmoid(in[0]); },
      [](const std::vector<Tensor>& in) { return exp(in[0]); },
      [](const std::vector<Tensor>& in) { return pow(in[0], 3.); },
      [](const std::vector<Tensor>& in) { return pow(in[0], -0.5); },
      [](const std::vector<Tensor>& in) { return log(in[0]); },
      [](const std::vector<Tensor>& in) { return log1p(in[0]); },
      [](const std::vector<Tensor>& in) { return sqrt(in[0]); },
      [](const std::vector<Tensor>& in) { return rsqrt(in[0]); },
      [](const std::vector<Tensor>& in) { return sin(in[0]); },
      [](const std::vector<Tensor>& in) { return cos(in[0]); },
      [](const std::vector<Tensor>& in) { return erf(in[0]); },
      [](const std::vector<Tensor>& in) { return rdiv(in[0], 3.); },
      [](const std::vector<Tensor>& in) { return relu(in[0]) * in[0]; },
      [](const std::vector<Tensor>& in) { return abs(in[0]) * in[0]; },
      [](const std::vector<Tensor>& in) { return clamp(in[0], 0.6, 1.4) * in[0]; },
  };
  int k = 0;
  for (const auto& f : ops1) {
    BOOST_TEST_CONTEXT("unary op #" << k++) {
      check_gradgradcheck(f, {uniform64({2, 3}, 0.5, 2.)});
      check_gradgradcheck(f, {uniform64({}, 0.5, 2.)});
    }
  }
  const Fn ops2[] = {
      [](const std::vector<Tensor>& in) { return mul(in[0], in[1]); },
      [](const std::vector<Tensor>& in) { return div(in[0], in[1]); },
      [](const std::vector<Tensor>& in) { return pow(in[0], in[1]); },
      [](const std::vector<Tensor>& in) { return maximum(in[0], in[1]) * in[0]; },
      [](const std::vector<Tensor>& in) { return where(in[0] > 1., in[0] * in[0], in[1] * in[0]); },
  };
  k = 0;
  for (const auto& f : ops2) {
    BOOST_TEST_CONTEXT("binary op #" << k++) {
      check_gradgradcheck(f, {uniform64({2, 3}, 0.5, 2.), uniform64({2, 3}, 0.5, 2.)});
      check_gradgradcheck(f, {uniform64({3, 1}, 0.5, 2.), uniform64({1, 4}, 0.5, 2.)});
    }
  }
}

BOOST_AUTO_TEST_CASE(second_derivative_hand_derived) {
  // d^2(tanh x)/dx^2 = -2 tanh x (1 - tanh^2 x); d^2(x^3)/dx^2 = 6x; d^2(e^x)/dx^2 = e^x.
  Tensor x = leaf64({0.5});
  const double t = std::tanh(0.5);
  autograd::GradOptions cg;
  cg.create_graph = true;
  Tensor g = autograd::grad({sum(tanh(x))}, {x}, {}, cg)[0];
  check_close(grad_of_sum(g, x), f64({-2. * t * (1. - t * t)}), 1e-15);
  g = autograd::grad({sum(pow(x, 3.))}, {x}, {}, cg)[0];
  check_close(grad_of_sum(g, x), f64({3.}), 1e-15);
  g = autograd::grad({sum(exp(x))}, {x}, {}, cg)[0];
  check_close(grad_of_sum(g, x), f64({std::exp(0.5)}), 1e-15);
}

// ---- behaviour --------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(saved_output_modified_in_place_throws) {
  // exp saves its output; changing it in place before backward must be detected.
  for (const auto& f : {+[](const Tensor& x) { return exp(x); }, +[](const Tensor& x) { return tanh(x); },
                        +[](const Tensor& x) { return sigmoid(x); }, +[](const Tensor& x) { return sqrt(x); }}) {
    Tensor x = leaf64({1., 2.});
    Tensor y = f(x);
    y.mul_(2.);
    XGRAD_CHECK_THROW_MSG(sum(y).backward(), "modified by an in-place operation");
  }
}

BOOST_AUTO_TEST_CASE(gradient_only_for_inputs_that_require_it) {
  Tensor a = leaf64({2., 3.});
  const Tensor b = f64({1., 2.});
  sum(pow(a, b) + maximum(a, b) + where(b > 1., a, b)).backward();
  // d/da: b a^(b-1) + 1 (a > b) + [0, 1]
  check_close(a.grad(), f64({1. + 1. + 0., 6. + 1. + 1.}), 1e-14);
  BOOST_TEST(!b.grad().defined());
  BOOST_TEST(!b.requires_grad());

  // No recording under NoGradGuard.
  NoGradGuard ng;
  for (const Tensor& r : {tanh(a), pow(a, a), maximum(a, a), where(b, a, a), clamp(a, 0., 1.), relu(a)})
    BOOST_TEST(!r.requires_grad());
}

BOOST_AUTO_TEST_CASE(grad_fn_names) {
  Tensor x = leaf64({1.});
  BOOST_TEST(exp(x).grad_fn_name() == "ExpBackward");
  BOOST_TEST(tanh(x).grad_fn_name() == "TanhBackward");
  BOOST_TEST(sigmoid(x).grad_fn_name() == "SigmoidBackward");
  BOOST_TEST(relu(x).grad_fn_name() == "ReluBackward");
  BOOST_TEST(pow(x, 2.).grad_fn_name() == "PowBackward");
  BOOST_TEST(maximum(x, x).grad_fn_name() == "MaximumBackward");
  BOOST_TEST(minimum(x, x).grad_fn_name() == "MinimumBackward");
  BOOST_TEST(where(x, x, x).grad_fn_name() == "WhereBackward");
  BOOST_TEST(clamp(x, 0., 1.).grad_fn_name() == "ClampBackward");
}

BOOST_AUTO_TEST_CASE(large_tensors_take_the_parallel_path) {
  // Above kGrain elements the kernels split across TBB tasks; results must match a serial loop.
  const std::int64_t n = 100003;
  const Tensor x = randn({n}, dtype(float64));
  const Tensor y = randn({n}, dtype(float64));
  const auto xv = x.to_vector<double>(), yv = y.to_vector<double>();
  const auto tv = tanh(x).to_vector<double>(), sv = sigmoid(x).to_vector<double>();
  const auto mv = maximum(x, y).to_vector<double>(), wv = where(x > 0., x, y).to_vector<double>();
  const auto rv = relu(x).to_vector<double>(), ev = exp(x).to_vector<double>();
  std::int64_t bad = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    bad += tv[i] != std::tanh(xv[i]);
    bad += sv[i] != 1. / (1. + std::exp(-xv[i]));
    bad += mv[i] != std::max(xv[i], yv[i]);
    bad += wv[i] != (xv[i] > 0 ? xv[i] : yv[i]);
    bad += rv[i] != std::max(xv[i], 0.);
    bad += ev[i] != std::exp(xv[i]);
  }
  BOOST_TEST(bad == 0);
  // Broadcast where over a large output: [400, 1] cond, [1, 300] a, [] b.
  const Tensor c = gt(randn({400, 1}, dtype(float64)), 0.);
  const Tensor a = randn({1, 300}, dtype(float64));
  const Tensor w = where(c, a, scalar_tensor(-5., dtype(float64)));
  const auto cv = c.to(float64).to_vector<double>(), av = a.to_vector<double>(), ww = w.to_vector<double>();
  bad = 0;
  for (std::int64_t i = 0; i < 400; ++i)
    for (std::int64_t j = 0; j < 300; ++j) bad += ww[i * 300 + j] != (cv[i] != 0 ? av[j] : -5.);
  BOOST_TEST(bad == 0);
}

BOOST_AUTO_TEST_CASE(fused_backwards_match_the_composed_formulas) {
  // sigmoid and tanh differentiate in one pass, mul in one pass for both inputs, and the engine
  // sums a twice-used input's gradients in place: all must equal the composed formulas, also
  // above kGrain (parallel) and in float32.
  for (Dtype dt : {float32, float64}) {
    for (std::int64_t n : {7, 100003}) {
      BOOST_TEST_CONTEXT(fmt::format("{} n={}", dt, n)) {
        const Tensor x = randn({n}, dtype(dt).requires_grad());
        const Tensor z = randn({n}, dtype(dt).requires_grad());
        const Tensor g = randn({n}, dtype(dt));
        const Tensor s = sigmoid(x), t = tanh(x);
        const Tensor gs = autograd::grad({s}, {x}, {g})[0];
        const Tensor gt = autograd::grad({t}, {x}, {g})[0];
        const auto gxz = autograd::grad({x * z + x}, {x, z}, {g});
        NoGradGuard ng;
        check_close(gs, g * (s * (1. - s)), 0.);
        check_close(gt, g * (1. - t * t), 0.);
        check_close(gxz[0], g + g * z, 0.);
        check_close(gxz[1], g * x, 0.);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(sigmoid_tanh_second_derivatives_hand_derived) {
  // s = sigmoid x: s' = s (1 - s), s'' = s (1 - s) (1 - 2s).
  // t = tanh x: t' = 1 - t^2, t'' = -2 t (1 - t^2).
  // Through the output gradient g of the backward (g s' for sigmoid): d(g s')/dg = s'.
  Tensor x = leaf64({0.5, -1.5});
  autograd::GradOptions cg;
  cg.create_graph = true;
  const double xs[] = {0.5, -1.5};
  std::vector<double> s1, s2, t2;
  for (double v : xs) {
    const double s = 1. / (1. + std::exp(-v)), t = std::tanh(v);
    s1.push_back(s * (1. - s));
    s2.push_back(s * (1. - s) * (1. - 2. * s));
    t2.push_back(-2. * t * (1. - t * t));
  }
  Tensor gs = autograd::grad({sum(sigmoid(x))}, {x}, {}, cg)[0];
  check_close(grad_of_sum(gs, x), f64({s2[0], s2[1]}), 1e-15);
  Tensor gt = autograd::grad({sum(tanh(x))}, {x}, {}, cg)[0];
  check_close(grad_of_sum(gt, x), f64({t2[0], t2[1]}), 1e-15);
  Tensor g = leaf64({1., 1.});
  Tensor gx = autograd::grad({sigmoid(x)}, {x}, {g}, cg)[0];
  BOOST_TEST(gx.grad_fn()->name() == "SigmoidBackwardBackward");
  check_close(grad_of_sum(gx, g), f64({s1[0], s1[1]}), 1e-15);
}

BOOST_AUTO_TEST_CASE(gradgradcheck_sigmoid_tanh_wide_range) {
  // Also the saturated tails, where s (1 - s) and 1 - t^2 are tiny.
  for (const Fn& f : {Fn([](const std::vector<Tensor>& in) { return sigmoid(in[0]); }),
                      Fn([](const std::vector<Tensor>& in) { return tanh(in[0]); })}) {
    check_gradcheck(f, {uniform64({4, 5}, -6., 6.)});
    check_gradgradcheck(f, {uniform64({4, 5}, -6., 6.)});
  }
}

namespace {

/// Largest error of float32 results y against float64 references r, in float32 ulps of the
/// rounded reference; specials (inf, NaN, 0) must match exactly (sign of zero included).
double max_ulp_error(const std::vector<float>& y, const std::vector<double>& r, const std::vector<float>& x) {
  double worst = 0;
  for (std::size_t i = 0; i < y.size(); ++i) {
    const float rf = static_cast<float>(r[i]);
    if (std::isnan(rf) || std::isinf(rf) || rf == 0.f) {
      const bool same = std::isnan(rf) ? std::isnan(y[i]) : (y[i] == rf && std::signbit(y[i]) == std::signbit(rf));
      if (!same) {
        BOOST_ERROR(fmt::format("x = {}: got {}, expected {}", x[i], y[i], rf));
        return std::numeric_limits<double>::infinity();
      }
      continue;
    }
    if (std::abs(r[i]) < std::numeric_limits<float>::min()) {
      // NOTE: below x = -88.7 float32 sigmoid's e^-x overflows and it returns 0 (PyTorch's
      // float32 value too) where the true value is subnormal: absolute error there.
      if (std::abs(static_cast<double>(y[i]) - r[i]) > std::numeric_limits<float>::min()) {
        BOOST_ERROR(fmt::format("x = {}: got {}, expected {}", x[i], y[i], r[i]));
        return std::numeric_limits<double>::infinity();
      }
      continue;
    }
    const double ulp =
        static_cast<double>(std::nextafter(std::abs(rf), std::numeric_limits<float>::infinity())) - std::abs(rf);
    worst = std::max(worst, std::abs(static_cast<double>(y[i]) - r[i]) / ulp);
  }
  return worst;
}

}  // namespace

BOOST_AUTO_TEST_CASE(float32_exp_sigmoid_tanh_accuracy) {
  // The vectorised float32 kernels against float64 libm over a dense sweep, the range edges
  // and the specials.
  std::vector<float> xs;
  for (std::int64_t i = -2000000; i <= 2000000; ++i) xs.push_back(static_cast<float>(i) * 6e-5f);  // [-120, 120]
  for (float v = 1e-30f; v < 2.f; v *= 1.001f) {  // small magnitudes, where tanh uses its polynomial
    xs.push_back(v);
    xs.push_back(-v);
  }
  constexpr float inf = std::numeric_limits<float>::infinity();
  for (float v : {0.f, -0.f, inf, -inf, std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::max(),
                  -std::numeric_limits<float>::max(), std::numeric_limits<float>::denorm_min(),
                  -std::numeric_limits<float>::denorm_min(), std::numeric_limits<float>::min(), 0.625f, -0.625f,
                  88.72f, 88.73f, 89.f, 89.01f, -87.33f, -103.97f, -104.f, -104.01f, 44.f, 45.f})
    xs.push_back(v);
  const std::int64_t n = static_cast<std::int64_t>(xs.size());
  const Tensor x = from_vector<float>(xs, {n});
  const auto e = exp(x).to_vector<float>(), s = sigmoid(x).to_vector<float>(), t = tanh(x).to_vector<float>();
  std::vector<double> re(xs.size()), rs(xs.size()), rt(xs.size());
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const double v = xs[i];
    re[i] = std::exp(v);
    rs[i] = 1. / (1. + std::exp(-v));
    rt[i] = std::tanh(v);
  }
  // float32 rounding of the float64 reference can itself be 0.5 ulp away from the true value.
  const double ue = max_ulp_error(e, re, xs), us = max_ulp_error(s, rs, xs), ut = max_ulp_error(t, rt, xs);
  BOOST_TEST_MESSAGE(fmt::format("float32 max ulp error: exp {:.3f}, sigmoid {:.3f}, tanh {:.3f}", ue, us, ut));
  BOOST_TEST(ue <= 1.5);
  BOOST_TEST(us <= 3.0);
  BOOST_TEST(ut <= 2.5);
  const std::size_t specials = xs.size() - 22;  // 0, -0, inf, -inf, NaN, ...
  BOOST_TEST(s[specials + 2] == 1.f);
  BOOST_TEST(s[specials + 3] == 0.f);
  BOOST_TEST(t[specials + 2] == 1.f);
  BOOST_TEST(t[specials + 3] == -1.f);
  BOOST_TEST(std::signbit(t[specials + 1]));
  BOOST_TEST(std::isnan(s[specials + 4]));
  BOOST_TEST(std::isnan(t[specials + 4]));
  BOOST_TEST(std::isnan(e[specials + 4]));
}

// ---- errors -------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(errors_name_the_op_and_shapes) {
  const Tensor f32 = zeros({2, 3});
  const Tensor f64t = zeros({3}, dtype(float64));
  // Mixed dtypes promote (they used to throw "dtype mismatch").
  for (const Tensor& r : {mul(f32, f64t), add(f32, f64t), sub(f32, f64t), div(f32, f64t), pow(f32, f64t),
                          maximum(f32, f64t), minimum(f32, f64t), where(f32 > 0., f32, f64t)})
    BOOST_CHECK(r.dtype() == float64 && r.shape() == Shape({2, 3}));

  const Tensor a = zeros({2, 3}), b = zeros({4});
  XGRAD_CHECK_THROW_MSG(add(a, b), "add: shapes [2, 3] and [4] cannot be broadcast together");
  XGRAD_CHECK_THROW_MSG(a * b, "mul: shapes [2, 3] and [4] cannot be broadcast");
  XGRAD_CHECK_THROW_MSG(pow(a, b), "pow: shapes [2, 3] and [4] cannot be broadcast");
  XGRAD_CHECK_THROW_MSG(maximum(a, b), "maximum: shapes [2, 3] and [4] cannot be broadcast");
  XGRAD_CHECK_THROW_MSG(le(a, b), "le: shapes [2, 3] and [4] cannot be broadcast");
  XGRAD_CHECK_THROW_MSG(where(b, a, a),
                        "where: condition of shape [4] cannot be broadcast with operands of shapes [2, 3] and [2, 3]");

  const Tensor i = from_vector<std::int64_t>({1, 2});
  XGRAD_CHECK_THROW_MSG(exp(i),
                        "exp: expected a floating dtype (float32 or float64), got int64 for tensor of shape [2]");
  XGRAD_CHECK_THROW_MSG(log(i), "log: expected a floating dtype");
  XGRAD_CHECK_THROW_MSG(tanh(i), "tanh: expected a floating dtype");
  XGRAD_CHECK_THROW_MSG(sigmoid(i), "sigmoid: expected a floating dtype");
  XGRAD_CHECK_THROW_MSG(pow(i, 2.), "pow: expected a floating dtype");
  XGRAD_CHECK_THROW_MSG(pow(i, i), "pow: expected a floating dtype");
  XGRAD_CHECK_THROW_MSG(-(i > 1.), "neg: not supported for bool tensors");
  XGRAD_CHECK_THROW_MSG((i > 1.) - (i > 0.), "sub: subtraction of two bool tensors (shapes [2] and [2]) is not supported");
  XGRAD_CHECK_THROW_MSG(div(i, i, "round"),
                        "div: expected rounding_mode to be one of \"trunc\" or \"floor\", but found \"round\"");

  XGRAD_CHECK_THROW_MSG(clamp(a, std::optional<double>(), std::optional<double>()),
                        "clamp: at least one of min and max must be given");

  const Tensor u;
  XGRAD_CHECK_THROW_MSG(exp(u), "exp: expected a defined tensor");
  XGRAD_CHECK_THROW_MSG(relu(u), "relu: expected a defined tensor");
  XGRAD_CHECK_THROW_MSG(clamp(u, 0., 1.), "clamp: expected a defined tensor");
  XGRAD_CHECK_THROW_MSG(add(a, u), "add: expected a defined tensor");
  XGRAD_CHECK_THROW_MSG(pow(u, a), "pow: expected a defined tensor");
  XGRAD_CHECK_THROW_MSG(maximum(a, u), "maximum: expected a defined tensor");
  XGRAD_CHECK_THROW_MSG(where(u, a, a), "where: expected a defined tensor");
  XGRAD_CHECK_THROW_MSG(eq(u, 1.), "eq: expected a defined tensor");
  XGRAD_CHECK_THROW_MSG(sign(u), "sign: expected a defined tensor");
  XGRAD_CHECK_THROW_MSG(neg(u), "neg: expected a defined tensor");
}

BOOST_AUTO_TEST_SUITE_END()
