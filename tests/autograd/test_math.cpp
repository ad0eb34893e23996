// Tests of math.hpp: prod, nansum, nanmean; isnan/isinf/isfinite/isposinf/isneginf,
// nan_to_num; clamp with tensor bounds; lerp; hypot, atan2, logaddexp(2), xlogy; erfinv, erfc,
// lgamma, digamma, polygamma; trunc, frac, round, sgn. Values (special values: NaN, inf, zeros,
// large inputs), hand-derived gradients (derivative in a comment), gradchecks of the cases the
// op table (test_op_db_math.cpp) cannot draw (zeros in prod, NaN in nansum, negative
// arguments), dtypes, error messages and thread-count determinism.
#include <cmath>
#include <cstring>
#include <limits>
#include <numbers>
#include <type_traits>

#include "test_util.hpp"
#include "xgrad/autograd/math.hpp"

using namespace xgrad;
using xgrad::test::check_close;
using xgrad::test::check_gradcheck;
using xgrad::test::check_gradgradcheck;
using xgrad::test::check_values;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNan = std::numeric_limits<double>::quiet_NaN();
constexpr double kPi = std::numbers::pi;
constexpr double kEuler = 0.57721566490153286061;  // Euler-Mascheroni constant gamma
constexpr double kZeta3 = 1.20205690315959428540;  // Apery's constant zeta(3)

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

Tensor f64(std::initializer_list<NestedList> v) { return tensor(v, dtype(float64)); }
Tensor leaf64(std::initializer_list<NestedList> v) { return tensor(v, dtype(float64).requires_grad()); }
Tensor vec64(const std::vector<double>& v, bool requires_grad = false) {
  return from_vector<double>(v, {static_cast<std::int64_t>(v.size())}, requires_grad);
}

/// The elements of a bool tensor as 0/1.
std::vector<int> flags(const Tensor& t) {
  BOOST_REQUIRE(t.dtype() == Dtype::boolean);
  const Tensor c = t.contiguous();
  const bool* p = c.data_ptr<bool>();
  return std::vector<int>(p, p + c.numel());
}

/// d sum(y) / d x.
Tensor grad_of_sum(const Tensor& y, const Tensor& x) { return autograd::grad({sum(y)}, {x})[0]; }

/// Restores the thread count on scope exit (even when a check throws).
struct ThreadCountGuard {
  int prev = get_num_threads();
  ~ThreadCountGuard() { set_num_threads(prev); }
};

/// Bit-identical float64 tensors (NaN payloads included).
bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  const Tensor ca = a.contiguous(), cb = b.contiguous();
  return std::memcmp(ca.data_ptr<double>(), cb.data_ptr<double>(), sizeof(double) * ca.numel()) == 0;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(math)

// ---- prod -------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(prod_values_and_dtypes) {
  const Tensor x = f64({{1., 2., 3.}, {4., 5., 6.}});
  check_values(prod(x), {}, {720.});
  check_values(prod(x, 0), {3}, {4., 10., 18.});
  check_values(prod(x, 1), {2}, {6., 120.});
  check_values(prod(x, -1, true), {2, 1}, {6., 120.});
  check_values(prod(x, 0, true), {1, 3}, {4., 10., 18.});
  // 0-d: itself, also along dim 0 / -1; empty: 1; an empty dim gives 1s.
  check_values(prod(scalar_tensor(-2.5, dtype(float64))), {}, {-2.5});
  check_values(prod(scalar_tensor(-2.5, dtype(float64)), 0), {}, {-2.5});
  check_values(prod(scalar_tensor(-2.5, dtype(float64)), -1, true), {}, {-2.5});
  check_values(prod(zeros({0}, dtype(float64))), {}, {1.});
  check_values(prod(zeros({2, 0}, dtype(float64)), 1), {2}, {1., 1.});
  check_values(prod(zeros({2, 0}, dtype(float64)), 0), {0}, {});
  // Special values, multiplied in order as IEEE says: overflow to inf, inf * 0 is NaN.
  check_values(prod(f64({0., 1e300, 1e300})), {}, {0.});
  check_values(prod(f64({1e300, 1e300})), {}, {kInf});
  check_values(prod(f64({1e300, 1e300, 0.})), {}, {kNan});
  check_values(prod(f64({kInf, 0.})), {}, {kNan});
  check_values(prod(f64({kNan, 2.})), {}, {kNan});
  check_values(prod(f64({-1., -2., -3.})), {}, {-6.});
  // float32 keeps its dtype; the product is formed in double and rounded once.
  const Tensor xf = tensor({1e20f, 1e20f, 1e-30f}, dtype(float32));
  BOOST_CHECK(prod(xf).dtype() == float32);
  BOOST_CHECK_CLOSE(prod(xf).item<double>(), static_cast<double>(static_cast<float>(1e10)), 1e-4);
  // Integer and bool inputs give int64 (PyTorch), wrapping on overflow like PyTorch.
  const Tensor xi = tensor({{1, 2, 3}, {4, 5, 6}});
  BOOST_CHECK(prod(xi).dtype() == int64);
  BOOST_CHECK_EQUAL(prod(xi).item<std::int64_t>(), 720);
  BOOST_CHECK((prod(xi, 1).to_vector<std::int64_t>() == std::vector<std::int64_t>{6, 120}));
  const Tensor x32 = tensor({{1, 2, 3}, {4, 5, 6}}, dtype(int32));
  BOOST_CHECK(prod(x32).dtype() == int64);
  BOOST_CHECK(prod(x32, 0).dtype() == int64);
  BOOST_CHECK((prod(x32, 0).to_vector<std::int64_t>() == std::vector<std::int64_t>{4, 10, 18}));
  const Tensor xb = tensor({true, true, false});
  BOOST_CHECK(prod(xb).dtype() == int64);
  BOOST_CHECK_EQUAL(prod(xb).item<std::int64_t>(), 0);
  BOOST_CHECK_EQUAL(prod(xb.narrow(0, 0, 2)).item<std::int64_t>(), 1);
  const Tensor big = from_vector<std::int64_t>({std::int64_t{1} << 62, 4, 3});
  BOOST_CHECK_EQUAL(prod(big).item<std::int64_t>(), 0);  // 2^64 * 3 wraps to 0
  const Tensor wrap = from_vector<std::int64_t>({std::int64_t{1} << 62, 2});
  BOOST_CHECK_EQUAL(prod(wrap).item<std::int64_t>(), std::numeric_limits<std::int64_t>::min());
  BOOST_CHECK(prod(xi.to(float64), 0).dtype() == float64);
}

BOOST_AUTO_TEST_CASE(prod_strided_and_broadcast_inputs) {
  const Tensor base = f64({{1., 2., 3.}, {4., 5., 6.}});
  check_values(prod(base.t(), 1), {3}, {4., 10., 18.});
  check_values(prod(base.t()), {}, {720.});
  check_values(prod(base.slice(1, 0, 3, 2), 1), {2}, {3., 24.});
  check_values(prod(f64({2.}).expand({5})), {}, {32.});
  check_values(prod(base.unsqueeze(0).expand({2, 2, 3}), 0), {2, 3}, {1., 4., 9., 16., 25., 36.});
}

BOOST_AUTO_TEST_CASE(prod_hand_derived_gradients) {
  // p = x0 x1 x2: dp/dxi = product of the other two: x = [2, 3, 4] -> [12, 8, 6].
  Tensor x = leaf64({2., 3., 4.});
  prod(x).backward();
  check_values(x.grad(), {3}, {12., 8., 6.});
  // One zero, x = [2, 0, 4]: only the zero's position gets a gradient, 2 * 4 = 8.
  Tensor z1 = leaf64({2., 0., 4.});
  prod(z1).backward();
  check_values(z1.grad(), {3}, {0., 8., 0.}, 0);
  // Two zeros: every product of the other elements contains a zero.
  Tensor z2 = leaf64({0., 3., 0.});
  prod(z2).backward();
  check_values(z2.grad(), {3}, {0., 0., 0.}, 0);
  // Along dim 1 with a zero in one row only: row [2, 0, 4] -> [0, 8, 0];
  // row [1, 2, 3] -> [6, 3, 2].
  Tensor m = leaf64({{2., 0., 4.}, {1., 2., 3.}});
  prod(m, 1).backward(f64({1., 1.}));
  check_values(m.grad(), {2, 3}, {0., 8., 0., 6., 3., 2.}, 0);
  // keepdim and an upstream gradient: g = [[2], [-1]] scales each row.
  Tensor m2 = leaf64({{2., 0., 4.}, {1., 2., 3.}});
  prod(m2, -1, true).backward(f64({{2.}, {-1.}}));
  check_values(m2.grad(), {2, 3}, {0., 16., 0., -6., -3., -2.}, 0);
  // A 0-d input: d x / d x = 1.
  Tensor s = scalar_tensor(0.0, dtype(float64).requires_grad());
  prod(s).backward();
  check_values(s.grad(), {}, {1.});
}

BOOST_AUTO_TEST_CASE(prod_higher_derivatives_with_zeros) {
  // p = a b c at a = 0: d2p/(da db) = c, d3p/(da db dc) = 1 (the create_graph path
  // multiplies exact products, never divides by the zero).
  Tensor x = leaf64({0., 2., 5.});
  Tensor g1 = autograd::grad({prod(x)}, {x}, {}, {.create_graph = true})[0];  // [b c, a c, a b] = [10, 0, 0]
  check_values(g1, {3}, {10., 0., 0.}, 0);
  Tensor g2 = autograd::grad({g1.select(0, 0)}, {x}, {}, {.create_graph = true})[0];  // d(bc) = [0, c, b]
  check_values(g2, {3}, {0., 5., 2.}, 0);
  Tensor g3 = autograd::grad({g2.select(0, 1)}, {x})[0];  // d(c) = [0, 0, 1]
  check_values(g3, {3}, {0., 0., 1.}, 0);
}

BOOST_AUTO_TEST_CASE(prod_gradcheck_with_zeros) {
  // The op table draws no zeros; here: one zero, two zeros, zeros in some rows only.
  const std::vector<Tensor> inputs = {leaf64({{1.5, 0., -2.}, {0.5, 3., -1.}}), leaf64({{0., 0.7, 0.}, {1.1, 0., 2.}}),
                                      leaf64({{0., 0.}, {0., 0.}})};
  for (const Tensor& in : inputs) {
    for (int mode = 0; mode < 4; ++mode) {
      BOOST_TEST_CONTEXT("input " << to_string(in) << ", mode " << mode) {
        const Fn f = [mode](const std::vector<Tensor>& t) {
          switch (mode) {
            case 0:
              return prod(t[0]);
            case 1:
              return prod(t[0], 1);
            case 2:
              return prod(t[0], 0, true);
            default:
              return prod(t[0].t(), -1);
          }
        };
        check_gradcheck(f, {in});
        check_gradgradcheck(f, {in});
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(prod_errors) {
  const Tensor x = f64({{1., 2.}, {3., 4.}});
  XGRAD_CHECK_THROW_MSG(prod(x, 2), "prod: dim 2 out of range for tensor of shape [2, 2]");
  XGRAD_CHECK_THROW_MSG(prod(x, -3), "prod: dim -3 out of range");
  XGRAD_CHECK_THROW_MSG(prod(scalar_tensor(1.0), 1), "prod: dim 1 out of range");
  XGRAD_CHECK_THROW_MSG(prod(Tensor()), "prod");
}

// ---- nansum / nanmean -----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(nansum_nanmean_values) {
  const Tensor x = f64({{1., kNan, 3.}, {kNan, kNan, kNan}});
  check_values(nansum(x), {}, {4.});
  check_values(nansum(x, 1), {2}, {4., 0.});
  check_values(nansum(x, {0}, true), {1, 3}, {1., 0., 3.});
  check_values(nanmean(x), {}, {2.});
  check_values(nanmean(x, 1), {2}, {2., kNan});  // a slice of NaNs only has no mean
  check_values(nanmean(x, {0}), {3}, {1., kNan, 3.});
  check_values(nanmean(x, -1, true), {2, 1}, {2., kNan});
  // Without NaN they are sum and mean; infinities are numbers.
  const Tensor y = f64({{1., 2.}, {3., 4.}});
  check_close(nansum(y, 0), sum(y, {0}), 0);
  check_close(nanmean(y, 1), mean(y, {1}), 0);
  check_values(nansum(f64({kInf, kNan, 1.})), {}, {kInf});
  check_values(nanmean(f64({kInf, -kInf, kNan})), {}, {kNan});
  // Empty: nansum 0, nanmean NaN (0 / 0).
  check_values(nansum(zeros({0}, dtype(float64))), {}, {0.});
  check_values(nanmean(zeros({0}, dtype(float64))), {}, {kNan});
  check_values(nanmean(zeros({0, 2}, dtype(float64)), 0), {2}, {kNan, kNan});
  // 0-d.
  check_values(nansum(scalar_tensor(kNan, dtype(float64))), {}, {0.});
  check_values(nanmean(scalar_tensor(2.5, dtype(float64)), 0), {}, {2.5});
  // float32 keeps its dtype (accumulated in double).
  const Tensor xf = tensor({1.f, NAN, 2.f}, dtype(float32));
  BOOST_CHECK(nansum(xf).dtype() == float32);
  BOOST_CHECK_EQUAL(nansum(xf).item<float>(), 3.f);
  BOOST_CHECK_EQUAL(nanmean(xf).item<float>(), 1.5f);
  // Integers and bool: nansum is sum, in int64 (PyTorch); nanmean needs a floating dtype.
  const Tensor xi = tensor({{1, 2}, {3, 4}});
  BOOST_CHECK(nansum(xi).dtype() == int64);
  BOOST_CHECK_EQUAL(nansum(xi).item<std::int64_t>(), 10);
  BOOST_CHECK((nansum(xi, 0).to_vector<std::int64_t>() == std::vector<std::int64_t>{4, 6}));
  BOOST_CHECK(nansum(tensor({1, 2}, dtype(int32))).dtype() == int64);
  BOOST_CHECK_EQUAL(nansum(tensor({true, true, false})).item<std::int64_t>(), 2);
  XGRAD_CHECK_THROW_MSG(nanmean(xi), "nanmean: expected a floating dtype (float32 or float64), got int64");
  XGRAD_CHECK_THROW_MSG(nanmean(tensor({true})), "nanmean: expected a floating dtype (float32 or float64), got bool");
  XGRAD_CHECK_THROW_MSG(nansum(y, {2}), "nansum: dim 2 out of range for tensor of shape [2, 2]");
  XGRAD_CHECK_THROW_MSG(nansum(xi, {0, 0}), "nansum: dim 0 appears multiple times");
  XGRAD_CHECK_THROW_MSG(nanmean(y, {-3}), "nanmean: dim -3 out of range");
}

BOOST_AUTO_TEST_CASE(nansum_nanmean_hand_derived_gradients) {
  // nansum: d/dx_i = 1 for numbers, 0 at NaN.
  Tensor x = leaf64({{1., kNan, 3.}, {kNan, kNan, kNan}});
  nansum(x).backward();
  check_values(x.grad(), {2, 3}, {1., 0., 1., 0., 0., 0.}, 0);
  // nanmean over dim 1: row 0 has 2 numbers -> 1/2 each; row 1 none -> 0 (PyTorch: NaN).
  Tensor y = leaf64({{1., kNan, 3.}, {kNan, kNan, kNan}});
  nanmean(y, 1).backward(f64({1., 1.}));
  check_values(y.grad(), {2, 3}, {0.5, 0., 0.5, 0., 0., 0.}, 0);
  // An upstream gradient [2, 4] over dim 0: column counts [1, 1, 2]... of [[1, NaN], [3, 5]]
  // over dim 0: column 0 has 2 numbers (2 / 2 = 1 each), column 1 has one (4 / 1).
  Tensor z = leaf64({{1., kNan}, {3., 5.}});
  nanmean(z, 0).backward(f64({2., 4.}));
  check_values(z.grad(), {2, 2}, {1., 0., 1., 4.}, 0);
}

BOOST_AUTO_TEST_CASE(nansum_nanmean_gradcheck_with_nan) {
  // Finite differences at a NaN stay NaN and are excluded: the numerical gradient there is 0.
  const Tensor in = leaf64({{0.3, kNan, -1.2, 0.8}, {kNan, 2.0, 0.1, kNan}, {kNan, kNan, kNan, kNan}});
  const std::vector<Fn> fs = {[](const std::vector<Tensor>& t) { return nansum(t[0]); },
                              [](const std::vector<Tensor>& t) { return nansum(t[0], {0}); },
                              [](const std::vector<Tensor>& t) { return nansum(t[0].t(), 1, true); },
                              [](const std::vector<Tensor>& t) { return nanmean(t[0]); },
                              [](const std::vector<Tensor>& t) { return nanmean(t[0], {0}, true); },
                              [](const std::vector<Tensor>& t) { return nanmean(t[0].narrow(0, 0, 2), 1); }};
  for (std::size_t i = 0; i < fs.size(); ++i) {
    BOOST_TEST_CONTEXT("function " << i) {
      check_gradcheck(fs[i], {in});
      check_gradgradcheck(fs[i], {in});
    }
  }
}

// ---- classification, nan_to_num ----------------------------------------------------------------

BOOST_AUTO_TEST_CASE(classification_values) {
  const Tensor x = f64({1., kNan, kInf, -kInf, 0., -2.});
  BOOST_CHECK(isnan(x).dtype() == Dtype::boolean);
  BOOST_CHECK((flags(isnan(x)) == std::vector<int>{0, 1, 0, 0, 0, 0}));
  BOOST_CHECK((flags(isinf(x)) == std::vector<int>{0, 0, 1, 1, 0, 0}));
  BOOST_CHECK((flags(isfinite(x)) == std::vector<int>{1, 0, 0, 0, 1, 1}));
  BOOST_CHECK((flags(isposinf(x)) == std::vector<int>{0, 0, 1, 0, 0, 0}));
  BOOST_CHECK((flags(isneginf(x)) == std::vector<int>{0, 0, 0, 1, 0, 0}));
  // float32, strided and 0-d inputs.
  const Tensor xf = tensor({{1.f, NAN}, {INFINITY, 2.f}}, dtype(float32));
  BOOST_CHECK((flags(isnan(xf.t())) == std::vector<int>{0, 0, 1, 0}));
  BOOST_CHECK((flags(isfinite(xf.slice(1, 0, 2, 2))) == std::vector<int>{1, 0}));
  BOOST_CHECK(isinf(scalar_tensor(kInf)).shape() == Shape{});
  BOOST_CHECK((flags(isinf(scalar_tensor(kInf))) == std::vector<int>{1}));
  // Integer and bool tensors hold no NaN or infinity.
  for (const Tensor& t : {tensor({1, -2, 0}), tensor({1, -2, 0}, dtype(int32)), tensor({true, false, true})}) {
    BOOST_TEST_CONTEXT(dtype_name(t.dtype())) {
      BOOST_CHECK((flags(isnan(t)) == std::vector<int>{0, 0, 0}));
      BOOST_CHECK((flags(isinf(t)) == std::vector<int>{0, 0, 0}));
      BOOST_CHECK((flags(isposinf(t)) == std::vector<int>{0, 0, 0}));
      BOOST_CHECK((flags(isneginf(t)) == std::vector<int>{0, 0, 0}));
      BOOST_CHECK((flags(isfinite(t)) == std::vector<int>{1, 1, 1}));
    }
  }
  // Never differentiable.
  const Tensor leaf = leaf64({1., kNan});
  BOOST_CHECK(!isnan(leaf).requires_grad());
  BOOST_CHECK(!isfinite(leaf).requires_grad());
  XGRAD_CHECK_THROW_MSG(isnan(Tensor()), "isnan: expected a defined tensor");
}

BOOST_AUTO_TEST_CASE(nan_to_num_values_and_gradient) {
  const Tensor x = f64({kNan, kInf, -kInf, 1.5, -0.0});
  const double big = std::numeric_limits<double>::max();
  check_values(nan_to_num(x), {5}, {0., big, -big, 1.5, 0.});
  check_values(nan_to_num(x, 7.0), {5}, {7., big, -big, 1.5, 0.});
  check_values(nan_to_num(x, 1.0, 2.0, -3.0), {5}, {1., 2., -3., 1.5, 0.});
  check_values(nan_to_num(x, std::nullopt, std::nullopt, -3.0), {5}, {0., big, -3., 1.5, 0.});
  // float32: the float32 limits, and replacements converted to float32.
  const Tensor xf = tensor({NAN, INFINITY, -INFINITY, 2.f}, dtype(float32));
  const Tensor rf = nan_to_num(xf);
  BOOST_CHECK(rf.dtype() == float32);
  BOOST_CHECK((rf.to_vector<float>() ==
               std::vector<float>{0.f, std::numeric_limits<float>::max(), std::numeric_limits<float>::lowest(), 2.f}));
  BOOST_CHECK(std::isinf(nan_to_num(xf, 0.0, 1e39).to_vector<float>()[1]));
  // Strided input.
  check_values(nan_to_num(f64({{kNan, 1.}, {2., kInf}}).t(), -1.0, 9.0), {2, 2}, {-1., 2., 1., 9.});
  // Integer and bool tensors: an equal copy, not an alias.
  const Tensor xi = tensor({1, 2, 3});
  Tensor ri = nan_to_num(xi);
  BOOST_CHECK(ri.dtype() == int64);
  BOOST_CHECK((ri.to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 2, 3}));
  ri.fill_(0.0);
  BOOST_CHECK((xi.to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 2, 3}));
  BOOST_CHECK(nan_to_num(tensor({true, false})).dtype() == Dtype::boolean);
  // Gradient: 1 where x was finite, 0 where it was replaced.
  Tensor leaf = leaf64({kNan, kInf, -kInf, 1.5});
  check_values(grad_of_sum(nan_to_num(leaf), leaf), {4}, {0., 0., 0., 1.}, 0);
  check_gradgradcheck([](const std::vector<Tensor>& t) { return nan_to_num(t[0]); }, {leaf64({0.5, -1.})});
}

// ---- clamp with tensor bounds ----------------------------------------------------------------

BOOST_AUTO_TEST_CASE(clamp_tensor_overloads) {
  // A double converts to std::optional<double> only: clamp(t, 0.0, 1.0) can only be the
  // scalar form; a Tensor converts to std::optional<Tensor> only.
  static_assert(!std::is_convertible_v<double, std::optional<Tensor>>);
  static_assert(!std::is_convertible_v<Tensor, std::optional<double>>);
  static_assert(std::is_same_v<decltype(clamp(std::declval<Tensor>(), 0.0, 1.0)), Tensor>);
  const Tensor x = f64({-1., 0.5, 2.});
  Tensor (*scalar_form)(const Tensor&, std::optional<double>, std::optional<double>) = clamp;
  check_close(clamp(x, 0.0, 1.0), scalar_form(x, 0.0, 1.0), 0);
  check_close(clamp(x, 0.0, std::nullopt), f64({0., 0.5, 2.}), 0);
  check_close(clamp(x, std::nullopt, f64({1.})), f64({-1., 0.5, 1.}), 0);
  check_close(clamp(x, f64({0.}), std::nullopt), f64({0., 0.5, 2.}), 0);
  check_close(clamp(x, f64({0.}), f64({1.})), f64({0., 0.5, 1.}), 0);
}

BOOST_AUTO_TEST_CASE(clamp_tensor_values) {
  // Bounds broadcast against x and each other.
  const Tensor x = f64({{-2., 0., 2.}, {5., -5., 1.}});
  const Tensor lo = f64({{-1.}, {0.}});  // [2, 1]
  const Tensor hi = f64({1., 3., 0.5});  // [3]
  check_values(clamp(x, lo, hi), {2, 3}, {-1., 0., 0.5, 1., 0., 0.5});
  check_values(clamp(x, lo, std::nullopt), {2, 3}, {-1., 0., 2., 5., 0., 1.});
  check_values(clamp(x, std::nullopt, hi), {2, 3}, {-2., 0., 0.5, 1., -5., 0.5});
  // The result takes the broadcast shape, also when x is the smaller one.
  check_values(clamp(f64({0.}), f64({-1., 1.}), f64({{2.}, {0.5}})), {2, 2}, {0., 1., 0., 0.5});
  // min > max: every element becomes max (PyTorch).
  check_values(clamp(f64({-3., 0., 3.}), f64({2.}), f64({1.})), {3}, {1., 1., 1.});
  // NaN in x or in a bound gives NaN.
  check_values(clamp(f64({kNan, 0.5}), f64({0.}), f64({1.})), {2}, {kNan, 0.5});
  check_values(clamp(f64({0.5, 0.5}), f64({kNan, 0.}), f64({1., kNan})), {2}, {kNan, kNan});
  check_values(clamp(f64({0.5, kNan}), f64({kNan, 0.}), std::nullopt), {2}, {kNan, kNan});
  check_values(clamp(f64({0.5, kNan}), std::nullopt, f64({kNan, 0.})), {2}, {kNan, kNan});
  // Infinite bounds.
  check_values(clamp(f64({-1e308, 1e308}), f64({-kInf}), f64({kInf})), {2}, {-1e308, 1e308});
  // int64 and int32 work; bool does not.
  const Tensor xi = tensor({-5, 0, 5});
  BOOST_CHECK(
      (clamp(xi, tensor({-1, -1, 2}), tensor({1})).to_vector<std::int64_t>() == std::vector<std::int64_t>{-1, 0, 1}));
  const Tensor x32 = tensor({-5, 0, 5}, dtype(int32));
  BOOST_CHECK(clamp(x32, tensor({0}, dtype(int32)), std::nullopt).dtype() == int32);
  XGRAD_CHECK_THROW_MSG(clamp(tensor({true}), tensor({false}), std::nullopt), "clamp: not supported for bool");
  // Errors: no bound, dtypes, shapes.
  XGRAD_CHECK_THROW_MSG(clamp(x, std::optional<Tensor>(), std::optional<Tensor>()),
                        "clamp: at least one of min and max must be given");
  BOOST_CHECK(clamp(x, tensor({0.f}), std::nullopt).dtype() == promote_types(x.dtype(), float32));  // promotes
  BOOST_CHECK(clamp(x, std::nullopt, tensor({1})).dtype() == float64);  // an int64 bound promotes
  XGRAD_CHECK_THROW_MSG(clamp(x, f64({0., 0.}), std::nullopt), "clamp: shapes [2, 3] and [2] cannot be broadcast");
  XGRAD_CHECK_THROW_MSG(clamp(x, f64({0.}), f64({1., 2.})), "clamp: shapes [2, 3] and [2] cannot be broadcast");
}

BOOST_AUTO_TEST_CASE(clamp_tensor_hand_derived_gradients) {
  // x = [0, 2, 5, 1, 4] in [1, 4]: clamped below at x0, inside at x1, above at x2, and on the
  // bounds at x3 and x4, where x keeps the gradient (min <= x <= max).
  // d/dx = [0, 1, 0, 1, 1]; d/dmin = [1, 0, 0, 0, 0]; d/dmax = [0, 0, 1, 0, 0].
  Tensor x = leaf64({0., 2., 5., 1., 4.});
  Tensor lo = leaf64({1., 1., 1., 1., 1.});
  Tensor hi = leaf64({4., 4., 4., 4., 4.});
  auto g = autograd::grad({sum(clamp(x, lo, hi))}, {x, lo, hi});
  check_values(g[0], {5}, {0., 1., 0., 1., 1.}, 0);
  check_values(g[1], {5}, {1., 0., 0., 0., 0.}, 0);
  check_values(g[2], {5}, {0., 0., 1., 0., 0.}, 0);
  // min > max: the result is max everywhere, so only max gets a gradient (PyTorch).
  Tensor x2 = leaf64({3., 7.});
  Tensor lo2 = leaf64({5., 5.});
  Tensor hi2 = leaf64({2., 2.});
  g = autograd::grad({sum(clamp(x2, lo2, hi2))}, {x2, lo2, hi2});
  check_values(g[0], {2}, {0., 0.}, 0);
  check_values(g[1], {2}, {0., 0.}, 0);
  check_values(g[2], {2}, {1., 1.}, 0);
  // One bound, broadcast (a 0-d min gets the sum of its elements' gradients):
  // x = [-1, 0.5, 2], min = 0 -> d/dx = [0, 1, 1], d/dmin = 1 + 0 + 0.
  Tensor x3 = leaf64({-1., 0.5, 2.});
  Tensor lo3 = scalar_tensor(0.0, dtype(float64).requires_grad());
  g = autograd::grad({sum(clamp(x3, lo3, std::nullopt))}, {x3, lo3});
  check_values(g[0], {3}, {0., 1., 1.}, 0);
  check_values(g[1], {}, {1.}, 0);
  // Only max: x = [-1, 0.5, 2], max = 1 -> d/dx = [1, 1, 0], d/dmax = 1.
  Tensor hi3 = scalar_tensor(1.0, dtype(float64).requires_grad());
  g = autograd::grad({sum(clamp(x3, std::nullopt, hi3))}, {x3, hi3});
  check_values(g[0], {3}, {1., 1., 0.}, 0);
  check_values(g[1], {}, {1.}, 0);
  // Bounds that do not require grad get none; the result still requires grad through x.
  BOOST_CHECK(clamp(x3, f64({0.}), f64({1.})).requires_grad());
  BOOST_CHECK(!clamp(f64({1.}), f64({0.}), f64({0.5})).requires_grad());
}

// ---- lerp --------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(lerp_values) {
  const Tensor s = f64({1., -2., 10.});
  const Tensor e = f64({3., 2., 10.});
  check_values(lerp(s, e, 0.25), {3}, {1.5, -1., 10.});
  check_values(lerp(s, e, 0.5), {3}, {2., 0., 10.});
  check_values(lerp(s, e, 2.0), {3}, {5., 6., 10.});  // extrapolation
  check_values(lerp(s, e, -1.0), {3}, {-1., -6., 10.});
  // Each end is exact (PyTorch's two formulas), even when start + (end - start) would round.
  const Tensor a = f64({0.1, 1e16}), b = f64({0.7, 1.0});
  BOOST_CHECK((lerp(a, b, 1.0).to_vector<double>() == b.to_vector<double>()));
  BOOST_CHECK((lerp(a, b, 0.0).to_vector<double>() == a.to_vector<double>()));
  // Tensor weight, broadcast with both ends.
  check_values(lerp(f64({{0.}, {10.}}), f64({1., 2.}), f64({{0.5}, {1.}})), {2, 2}, {0.5, 1., 1., 2.});
  check_values(lerp(s, e, f64({0.25})), {3}, {1.5, -1., 10.});
  // Infinities and NaN.
  check_values(lerp(f64({0., kNan}), f64({kInf, 1.}), 0.25), {2}, {kInf, kNan});
  // float32.
  BOOST_CHECK_EQUAL(lerp(tensor({1.f}), tensor({3.f}), 0.75).item<float>(), 2.5f);
  // Errors.
  XGRAD_CHECK_THROW_MSG(lerp(tensor({1, 2}), tensor({3, 4}), 0.5),
                        "lerp: expected a floating dtype (float32 or float64), got int64");
  BOOST_CHECK(lerp(s, tensor({1.f, 2.f, 3.f}), 0.5).dtype() == promote_types(s.dtype(), float32));  // promotes
  BOOST_CHECK(lerp(s, e, tensor({0.5f})).dtype() == promote_types(s.dtype(), float32));
  XGRAD_CHECK_THROW_MSG(lerp(s, f64({1., 2.}), 0.5), "lerp: shapes [3] and [2] cannot be broadcast");
  XGRAD_CHECK_THROW_MSG(lerp(s, e, f64({1., 2.})), "lerp: shapes [3] and [2] cannot be broadcast");
}

BOOST_AUTO_TEST_CASE(lerp_hand_derived_gradients) {
  // out = s + w (e - s), s = 1, e = 3, w = 0.25: d/ds = 1 - w = 0.75, d/de = w = 0.25,
  // d/dw = e - s = 2.
  Tensor s = leaf64({1.}), e = leaf64({3.}), w = leaf64({0.25});
  auto g = autograd::grad({sum(lerp(s, e, w))}, {s, e, w});
  check_values(g[0], {1}, {0.75});
  check_values(g[1], {1}, {0.25});
  check_values(g[2], {1}, {2.});
  // Scalar weight 0.75 (the other formula): d/ds = 0.25, d/de = 0.75.
  g = autograd::grad({sum(lerp(s, e, 0.75))}, {s, e});
  check_values(g[0], {1}, {0.25});
  check_values(g[1], {1}, {0.75});
  // A broadcast weight sums its elements' gradients: w = 0.5 for [s0, s1] = [0, 1],
  // [e0, e1] = [4, 2]: d/dw = (4 - 0) + (2 - 1) = 5.
  Tensor w0 = scalar_tensor(0.5, dtype(float64).requires_grad());
  check_values(autograd::grad({sum(lerp(f64({0., 1.}), f64({4., 2.}), w0))}, {w0})[0], {}, {5.});
}

// ---- hypot, atan2, logaddexp, logaddexp2, xlogy --------------------------------------------------

BOOST_AUTO_TEST_CASE(binary_math_values) {
  check_values(hypot(f64({3., -5., 0., 1e200, 1e-200}), f64({4., 12., 0., 1e200, 1e-200})), {5},
               {5., 13., 0., std::sqrt(2.0) * 1e200, std::sqrt(2.0) * 1e-200}, 1e-15);  // no overflow/underflow
  check_values(hypot(f64({kInf, kNan}), f64({kNan, 1.})), {2}, {kInf, kNan});           // C's hypot: inf wins over NaN
  check_values(hypot(f64({{3.}, {6.}}), f64({4., 8.})), {2, 2}, {5., std::hypot(3., 8.), std::hypot(6., 4.), 10.});
  // atan2(y, x) in all four quadrants, on the axes and with signed zeros.
  check_values(atan2(f64({1., 1., -1., -1., 0., 1., 0., -0.}), f64({1., -1., -1., 1., -1., 0., 1., -1.})), {8},
               {kPi / 4, 3 * kPi / 4, -3 * kPi / 4, -kPi / 4, kPi, kPi / 2, 0., -kPi}, 1e-15);
  check_values(atan2(f64({kInf}), f64({kInf})), {1}, {kPi / 4}, 1e-15);
  // logaddexp: stable for large arguments, exact for equal infinities.
  check_values(logaddexp(f64({0., 1000., -1000., 1., kInf, -kInf, kInf, kNan}),
                         f64({0., 1000., -1000., -kInf, kInf, -kInf, -kInf, 1.})),
               {8}, {std::log(2.), 1000. + std::log(2.), -1000. + std::log(2.), 1., kInf, -kInf, kInf, kNan}, 1e-15);
  check_values(logaddexp(f64({0.}), f64({std::log(3.)})), {1}, {std::log(4.)}, 1e-15);
  check_values(logaddexp2(f64({1., 3., 1000., -kInf, kInf}), f64({1., 1., 1000., -kInf, 5.})), {5},
               {2., std::log2(10.), 1001., -kInf, kInf}, 1e-15);
  // xlogy: PyTorch's rule, NaN where y is NaN, else 0 where x == 0.
  check_values(xlogy(f64({0., 0., 0., 0., 2., 1., -1., 3.}), f64({0., kNan, kInf, -1., std::numbers::e, 0., 0., -1.})),
               {8}, {0., kNan, 0., 0., 2., -kInf, kInf, kNan}, 1e-15);
  check_values(xlogy(f64({{1.}, {2.}}), f64({1., std::numbers::e})), {2, 2}, {0., 1., 0., 2.}, 1e-15);
  // float32.
  BOOST_CHECK_EQUAL(hypot(tensor({3.f}), tensor({4.f})).item<float>(), 5.f);
  BOOST_CHECK(logaddexp(tensor({100.f}), tensor({100.f})).dtype() == float32);
  BOOST_CHECK_CLOSE(logaddexp(tensor({100.f}), tensor({100.f})).item<float>(), 100.f + std::log(2.f), 1e-5);
}

BOOST_AUTO_TEST_CASE(binary_math_hand_derived_gradients) {
  // hypot(3, 4) = 5: d/da = a / 5 = 0.6, d/db = b / 5 = 0.8.
  Tensor a = leaf64({3.}), b = leaf64({4.});
  auto g = autograd::grad({sum(hypot(a, b))}, {a, b});
  check_values(g[0], {1}, {0.6});
  check_values(g[1], {1}, {0.8});
  // At the origin 0 / 0 is NaN, like PyTorch.
  Tensor z0 = leaf64({0.}), z1 = leaf64({0.});
  g = autograd::grad({sum(hypot(z0, z1))}, {z0, z1});
  check_values(g[0], {1}, {kNan});
  // atan2(1, 1): d/da = b / (a^2 + b^2) = 1/2, d/db = -a / (a^2 + b^2) = -1/2.
  Tensor y = leaf64({1.}), x = leaf64({1.});
  g = autograd::grad({sum(atan2(y, x))}, {y, x});
  check_values(g[0], {1}, {0.5});
  check_values(g[1], {1}, {-0.5});
  // logaddexp(0, ln 3) = ln 4: d/da = 1 / (1 + e^(b - a)) = 1/4, d/db = 3/4.
  Tensor la = leaf64({0.}), lb = leaf64({std::log(3.)});
  g = autograd::grad({sum(logaddexp(la, lb))}, {la, lb});
  check_values(g[0], {1}, {0.25});
  check_values(g[1], {1}, {0.75});
  // Far apart: the gradient goes to the larger argument without overflow.
  Tensor fa = leaf64({1000.}), fb = leaf64({-1000.});
  g = autograd::grad({sum(logaddexp(fa, fb))}, {fa, fb});
  check_values(g[0], {1}, {1.});
  check_values(g[1], {1}, {0.});
  // logaddexp2(3, 1) = log2(10): d/da = 1 / (1 + 2^(1 - 3)) = 0.8, d/db = 0.2.
  Tensor ta = leaf64({3.}), tb = leaf64({1.});
  g = autograd::grad({sum(logaddexp2(ta, tb))}, {ta, tb});
  check_values(g[0], {1}, {0.8});
  check_values(g[1], {1}, {0.2});
  // xlogy(2, 3) = 2 ln 3: d/dx = ln 3, d/dy = x / y = 2/3.
  Tensor xa = leaf64({2., 0., 0.}), xb = leaf64({3., 0., -1.});
  g = autograd::grad({sum(xlogy(xa, xb))}, {xa, xb});
  // At x = 0 with y <= 0 the x-gradient is 0 (PyTorch's mask), not -inf or NaN; the
  // y-gradient is x / y: 0 / 0 = NaN and 0 / -1 = -0.
  check_values(g[0], {3}, {std::log(3.), 0., 0.});
  check_values(g[1], {3}, {2. / 3., kNan, 0.});
}

BOOST_AUTO_TEST_CASE(binary_math_errors) {
  const Tensor a = f64({1., 2.});
  BOOST_CHECK(hypot(a, tensor({1.f, 2.f})).dtype() == float64);  // float64 with float32 promotes
  XGRAD_CHECK_THROW_MSG(atan2(tensor({1, 2}), tensor({1, 2})),
                        "atan2: expected a floating dtype (float32 or float64), got int64 for tensor of shape [2]");
  XGRAD_CHECK_THROW_MSG(logaddexp(tensor({1}, dtype(int32)), tensor({1}, dtype(int32))),
                        "logaddexp: expected a floating dtype (float32 or float64), got int32");
  XGRAD_CHECK_THROW_MSG(logaddexp2(tensor({true}), tensor({true})),
                        "logaddexp2: expected a floating dtype (float32 or float64), got bool");
  XGRAD_CHECK_THROW_MSG(xlogy(a, f64({1., 2., 3.})), "xlogy: shapes [2] and [3] cannot be broadcast together");
  XGRAD_CHECK_THROW_MSG(hypot(a, Tensor()), "hypot: expected a defined tensor");
}

// ---- special functions --------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(erfinv_erfc_values) {
  check_values(erfinv(f64({0., 0.5, -0.5, 1., -1., 1.5, -1.5, kNan})), {8},
               {0., 0.4769362762044699, -0.4769362762044699, kInf, -kInf, kNan, kNan, kNan}, 1e-15);
  BOOST_CHECK(std::signbit(erfinv(f64({-0.})).item<double>()));
  // erf(erfinv(y)) = y over (-1, 1); near +-1 compare through erfc (1 - y is exact there).
  std::vector<double> ys;
  for (double y = -0.999; y < 1.0; y += 0.00731) ys.push_back(y);
  const Tensor yt = vec64(ys);
  const auto back = erf(erfinv(yt)).to_vector<double>();
  for (std::size_t i = 0; i < ys.size(); ++i) BOOST_CHECK_SMALL(back[i] - ys[i], 4e-16);
  for (double q0 : {1e-3, 1e-8, 1e-12, 0x1p-53}) {
    const double q = 1.0 - (1.0 - q0);  // exactly 1 - y
    const double x = erfinv(f64({1.0 - q})).item<double>();
    BOOST_CHECK_CLOSE_FRACTION(std::erfc(x), q, 1e-13);
    BOOST_CHECK_CLOSE_FRACTION(erfinv(f64({q - 1.0})).item<double>(), -x, 1e-15);
  }
  // Tiny arguments: erfinv(y) = sqrt(pi)/2 y.
  BOOST_CHECK_CLOSE_FRACTION(erfinv(f64({1e-300})).item<double>(), 1e-300 / (2 * std::numbers::inv_sqrtpi), 1e-15);
  // float32 computes in double and rounds once.
  BOOST_CHECK_EQUAL(erfinv(tensor({0.5f})).item<float>(), static_cast<float>(0.4769362762044699));
  // erfc keeps precision where 1 - erf(x) would be 0.
  check_values(erfc(f64({0., 10., -kInf, kInf, kNan})), {5}, {1., 2.088487583762545e-45, 2., 0., kNan}, 1e-14);
}

BOOST_AUTO_TEST_CASE(lgamma_digamma_polygamma_values) {
  const double ln_sqrt_pi = 0.5 * std::log(kPi);
  check_values(
      lgamma(f64({1., 2., 0.5, -0.5, 100., 0., -1., -2., kInf, -kInf, kNan})), {11},
      {0., 0., ln_sqrt_pi, std::log(2.) + ln_sqrt_pi, 359.1342053695753987760440, kInf, kInf, kInf, kInf, kInf, kNan},
      1e-14);
  // psi(1) = -gamma, psi(1/2) = -gamma - 2 ln 2, psi(-1/2) = psi(1/2) + 2, psi(2) = 1 - gamma.
  check_values(digamma(f64({1., 0.5, -0.5, 2., 100., 1e-8})), {6},
               {-kEuler, -kEuler - 2 * std::log(2.), -kEuler - 2 * std::log(2.) + 2., 1. - kEuler, 4.600161852738087400,
                -1e8 - kEuler},
               1e-14);
  // PyTorch's conventions: -inf at +0, +inf at -0, NaN at negative integers and -inf.
  check_values(digamma(f64({0., -0., -1., -7., -kInf, kInf, kNan})), {7}, {-kInf, kInf, kNan, kNan, kNan, kInf, kNan});
  // polygamma(1, 1) = pi^2/6, (1, 1/2) = pi^2/2, (2, 1) = -2 zeta(3), (2, 1/2) = -14 zeta(3),
  // (3, 1) = pi^4/15; negative arguments by recurrence psi^(n)(x) = psi^(n)(x + 1) - (-1)^n n! / x^(n+1):
  // psi1(-1/2) = psi1(1/2) + 4, psi2(-1/2) = psi2(1/2) + 16, psi3(-3/2) = psi3(1/2) + 96 + 6/(3/2)^4.
  const double pi2 = kPi * kPi, pi4 = pi2 * pi2;
  check_values(polygamma(1, f64({1., 0.5, -0.5, 1e6})), {4}, {pi2 / 6, pi2 / 2, pi2 / 2 + 4., 1.0000005000001667e-6},
               1e-14);
  check_values(polygamma(2, f64({1., 0.5, -0.5})), {3}, {-2 * kZeta3, -14 * kZeta3, -14 * kZeta3 + 16.}, 1e-13);
  check_values(polygamma(3, f64({1., 0.5, -1.5})), {3}, {pi4 / 15, pi4, pi4 + 96. + 6. / 5.0625}, 1e-13);
  check_close(polygamma(0, f64({0.3, 4.})), digamma(f64({0.3, 4.})), 0);
  // Poles: +inf for odd n, -inf for even n; psi^(n)(inf) = 0.
  check_values(polygamma(1, f64({0., -3., kInf, kNan})), {4}, {kInf, kInf, 0., kNan});
  check_values(polygamma(2, f64({0., -3.})), {2}, {-kInf, -kInf});
  // float32 computes in double and rounds once.
  BOOST_CHECK_EQUAL(digamma(tensor({1.f})).item<float>(), static_cast<float>(-kEuler));
  BOOST_CHECK_EQUAL(polygamma(1, tensor({1.f})).item<float>(), static_cast<float>(pi2 / 6));
  BOOST_CHECK_EQUAL(lgamma(tensor({0.5f})).item<float>(), static_cast<float>(ln_sqrt_pi));
}

BOOST_AUTO_TEST_CASE(special_hand_derived_gradients) {
  // erfinv at 0: d/dy = sqrt(pi)/2 e^0.
  Tensor y = leaf64({0.});
  check_values(grad_of_sum(erfinv(y), y), {1}, {std::sqrt(kPi) / 2}, 1e-15);
  // erfc at 0: d/dx = -2/sqrt(pi).
  Tensor x = leaf64({0.});
  check_values(grad_of_sum(erfc(x), x), {1}, {-2. / std::sqrt(kPi)}, 1e-15);
  // lgamma at 1: psi(1) = -gamma; digamma at 1: psi1(1) = pi^2/6; polygamma(1) at 1:
  // psi2(1) = -2 zeta(3).
  Tensor one = leaf64({1.});
  check_values(grad_of_sum(lgamma(one), one), {1}, {-kEuler}, 1e-14);
  check_values(grad_of_sum(digamma(one), one), {1}, {kPi * kPi / 6}, 1e-14);
  check_values(grad_of_sum(polygamma(1, one), one), {1}, {-2 * kZeta3}, 1e-14);
}

BOOST_AUTO_TEST_CASE(special_gradcheck_negative_arguments) {
  // The reflection branches (negative arguments away from the poles) and larger n: the
  // analytical derivative polygamma(n + 1) against finite differences of polygamma(n).
  const Tensor neg = leaf64({-0.3, -1.7, -2.5, -10.2});
  const Tensor pos = leaf64({0.05, 0.7, 3.3, 25.});
  for (const Tensor& in : {neg, pos}) {
    check_gradcheck([](const std::vector<Tensor>& t) { return digamma(t[0]); }, {in});
    check_gradgradcheck([](const std::vector<Tensor>& t) { return digamma(t[0]); }, {in});
    check_gradcheck([](const std::vector<Tensor>& t) { return lgamma(t[0]); }, {in});
    for (std::int64_t n : {1, 2, 5})
      check_gradcheck([n](const std::vector<Tensor>& t) { return polygamma(n, t[0]); }, {in},
                      GradcheckOptions{.eps = 1e-7, .rtol = 1e-4});
  }
  // erfinv near the ends: d/dy grows like e^(x^2).
  check_gradcheck([](const std::vector<Tensor>& t) { return erfinv(t[0]); }, {leaf64({-0.99, 0.999, 0.95})},
                  GradcheckOptions{.eps = 1e-9});
}

BOOST_AUTO_TEST_CASE(special_errors) {
  XGRAD_CHECK_THROW_MSG(polygamma(-1, f64({1.})), "polygamma: n must be non-negative, got -1");
  XGRAD_CHECK_THROW_MSG(polygamma(171, f64({1.})), "polygamma: n = 171 is too large (at most 170");
  // The largest order: psi^(170)(1) = -170! zeta(171) = -170! (1 + 2^-171 + ...).
  BOOST_CHECK_CLOSE_FRACTION(polygamma(170, f64({1.})).item<double>(), -std::tgamma(171.0), 1e-13);
  XGRAD_CHECK_THROW_MSG(erfinv(tensor({1, 2})), "erfinv: expected a floating dtype (float32 or float64), got int64");
  XGRAD_CHECK_THROW_MSG(lgamma(tensor({1}, dtype(int32))),
                        "lgamma: expected a floating dtype (float32 or float64), got int32");
  XGRAD_CHECK_THROW_MSG(digamma(tensor({true})), "digamma: expected a floating dtype (float32 or float64), got bool");
  XGRAD_CHECK_THROW_MSG(polygamma(2, tensor({1})), "polygamma: expected a floating dtype");
  XGRAD_CHECK_THROW_MSG(erfc(tensor({1})), "erfc: expected a floating dtype");
  XGRAD_CHECK_THROW_MSG(erfinv(Tensor()), "erfinv: expected a defined tensor");
}

// ---- trunc, frac, round, sgn ----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(rounding_values) {
  const Tensor x = f64({0.5, 1.5, 2.5, -0.5, -1.5, -2.7, 2.7, kInf, -kInf, kNan});
  // Round half to even.
  check_values(round(x), {10}, {0., 2., 2., -0., -2., -3., 3., kInf, -kInf, kNan}, 0);
  BOOST_CHECK(std::signbit(round(f64({-0.4})).item<double>()));
  check_values(trunc(x), {10}, {0., 1., 2., -0., -1., -2., 2., kInf, -kInf, kNan}, 0);
  check_values(frac(f64({-1.75, 2.5, 3., kInf, kNan})), {5}, {-0.75, 0.5, 0., kNan, kNan}, 0);
  // Decimals: 10^|d| in the tensor's dtype, like PyTorch (0.125 is exact: a half, to even).
  check_values(round(f64({1.2345, 0.125, 0.375, -2.5e-3}), 2), {4}, {1.23, 0.12, 0.38, -0.}, 1e-15);
  check_values(round(f64({1234.5678, 1250., 1350., -49.}), -2), {4}, {1200., 1200., 1400., -0.}, 0);
  check_values(round(f64({1.5}), 0), {1}, {2.});
  BOOST_CHECK_EQUAL(round(tensor({2.675f}), 2).item<float>(), std::nearbyint(2.675f * 100.f) / 100.f);
  // Large values are already integers.
  check_values(round(f64({0x1p60 + 0.0, -0x1p60})), {2}, {0x1p60, -0x1p60}, 0);
  // Integer tensors: trunc and round (decimals 0) return an equal copy; frac and other
  // decimals throw; bool throws.
  const Tensor xi = tensor({-3, 0, 7});
  BOOST_CHECK(trunc(xi).dtype() == int64);
  BOOST_CHECK((round(xi).to_vector<std::int64_t>() == std::vector<std::int64_t>{-3, 0, 7}));
  BOOST_CHECK((trunc(xi).to_vector<std::int64_t>() == std::vector<std::int64_t>{-3, 0, 7}));
  Tensor copy = round(xi);
  copy.fill_(1.0);
  BOOST_CHECK((xi.to_vector<std::int64_t>() == std::vector<std::int64_t>{-3, 0, 7}));
  BOOST_CHECK(round(tensor({1}, dtype(int32))).dtype() == int32);
  XGRAD_CHECK_THROW_MSG(round(xi, 1), "round: decimals = 1 needs a floating dtype (float32 or float64), got int64");
  XGRAD_CHECK_THROW_MSG(frac(xi), "frac: expected a floating dtype (float32 or float64), got int64");
  XGRAD_CHECK_THROW_MSG(round(tensor({true})), "round: not supported for bool tensors");
  XGRAD_CHECK_THROW_MSG(trunc(tensor({true})), "trunc: not supported for bool tensors");
  // sgn is sign for real tensors.
  check_close(sgn(f64({-2., 0., 3.})), f64({-1., 0., 1.}), 0);
}

BOOST_AUTO_TEST_CASE(rounding_gradients) {
  // trunc and round are piecewise constant: gradient 0 (the result still requires grad, like
  // PyTorch); frac = x - trunc(x): gradient 1.
  Tensor x = leaf64({0.3, -1.7, 2.5});
  BOOST_CHECK(round(x).requires_grad());
  check_values(grad_of_sum(round(x), x), {3}, {0., 0., 0.}, 0);
  check_values(grad_of_sum(round(x, 1), x), {3}, {0., 0., 0.}, 0);
  check_values(grad_of_sum(trunc(x), x), {3}, {0., 0., 0.}, 0);
  check_values(grad_of_sum(frac(x), x), {3}, {1., 1., 1.}, 0);
}

// ---- determinism ---------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(identical_at_one_and_two_threads) {
  manual_seed(7);
  // Values near 1 so that a product of 2^20 elements stays finite; some NaN for nansum/nanmean.
  Tensor x = add(mul(randn({1024, 1024}, dtype(float64)), 1e-3), 1.0);
  Tensor xn = where(gt(rand({1024, 1024}, dtype(float64)), 0.9), scalar_tensor(kNan, dtype(float64)), x);
  Tensor y = randn({1024, 1024}, dtype(float64));
  auto run = [&] {
    return std::vector<Tensor>{prod(x),     prod(x, 0),       prod(x, 1),      nansum(xn), nansum(xn, {0}),
                               nanmean(xn), nanmean(xn, {1}), hypot(x, y.t()), lgamma(x),  clamp(y, x.t() - 2.0, x),
                               digamma(x),  lerp(x, y, y)};
  };
  std::vector<Tensor> one, two;
  {
    ThreadCountGuard restore;
    set_num_threads(1);
    one = run();
    set_num_threads(2);
    two = run();
  }
  for (std::size_t i = 0; i < one.size(); ++i) BOOST_CHECK_MESSAGE(same_bits(one[i], two[i]), "result " << i);
}

BOOST_AUTO_TEST_SUITE_END()
