// Reductions (reduction.hpp): sum, mean, max, min, argmax, argmin, var, std, logsumexp, norm.
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

#include "test_util.hpp"

using namespace xgrad;
using xgrad::test::check_close;
using xgrad::test::check_gradcheck;
using xgrad::test::check_gradgradcheck;
using xgrad::test::check_values;
using xgrad::test::rand64;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNan = std::numeric_limits<double>::quiet_NaN();

Tensor f64(std::initializer_list<NestedList> v) { return tensor(v, dtype(float64)); }


/// Gradient of sum(f(x)) with respect to a fresh leaf copy of x.
Tensor grad_of(const std::function<Tensor(const Tensor&)>& f, const Tensor& x) {
  Tensor leaf = x.detach().clone().requires_grad_(true);
  sum(f(leaf)).backward();
  return leaf.grad();
}

std::vector<std::int64_t> ivec(const Tensor& t) { return t.to_vector<std::int64_t>(); }

/// Reference reduction for a 3-d float64 tensor: fn(values of one output in row-major order).
std::vector<double> ref_reduce(const Tensor& x, const std::vector<bool>& mask,
                               const std::function<double(const std::vector<double>&)>& fn) {
  const auto v = x.to_vector<double>();
  const Shape s = x.shape();
  std::vector<double> out;
  // kept index ranges: 1 for reduced dims
  const std::int64_t k0 = mask[0] ? 1 : s[0], k1 = mask[1] ? 1 : s[1], k2 = mask[2] ? 1 : s[2];
  for (std::int64_t a = 0; a < k0; ++a)
    for (std::int64_t b = 0; b < k1; ++b)
      for (std::int64_t c = 0; c < k2; ++c) {
        std::vector<double> vals;
        for (std::int64_t i = 0; i < (mask[0] ? s[0] : 1); ++i)
          for (std::int64_t j = 0; j < (mask[1] ? s[1] : 1); ++j)
            for (std::int64_t k = 0; k < (mask[2] ? s[2] : 1); ++k) {
              const std::int64_t ii = mask[0] ? i : a, jj = mask[1] ? j : b, kk = mask[2] ? k : c;
              vals.push_back(v[static_cast<std::size_t>((ii * s[1] + jj) * s[2] + kk)]);
            }
        out.push_back(fn(vals));
      }
  return out;
}

struct Case {
  Shape shape;
  Dims dims;
  bool keepdim;
};

/// Shapes and dim lists shared by the gradchecks: all dims, single, negative, several,
/// keepdim, 0-d, size-1 dims.
std::vector<Case> grad_cases() {
  return {{{2, 3, 4}, {}, false}, {{2, 3, 4}, {0}, false},    {{2, 3, 4}, {-1}, true}, {{2, 3, 4}, {0, 2}, false},
          {{2, 3, 4}, {1}, true}, {{2, 3, 4}, {2, 0}, true},  {{5}, {}, false},        {{5}, {0}, true},
          {{}, {}, false},        {{1, 4, 1}, {0, 2}, false}, {{3, 1, 2}, {1}, false}};
}

/// Restores the thread count on scope exit (even when a check throws).
struct ThreadCountGuard {
  int prev = get_num_threads();
  ~ThreadCountGuard() { set_num_threads(prev); }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(reduction)

// ---- sum / mean ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(sum_values) {
  Tensor x = f64({{1, 2, 3}, {4, 5, 6}});
  check_values(sum(x), {}, {21});
  check_values(x.sum(), {}, {21});
  check_values(sum(x, {0}), {3}, {5, 7, 9});
  check_values(sum(x, {1}), {2}, {6, 15});
  check_values(sum(x, {-1}, true), {2, 1}, {6, 15});
  check_values(x.sum({-2}, true), {1, 3}, {5, 7, 9});
  check_values(sum(x, {0, 1}), {}, {21});
  check_values(sum(x, {1, 0}, true), {1, 1}, {21});
  // x[i][j][k] = 12 i + 4 j + k: summing over i and k gives 48 + 32 j + 12.
  Tensor y = reshape(arange(24.0, dtype(float64)), {2, 3, 4});
  check_values(sum(y, {0, 2}), {3}, {60, 92, 124});
  check_values(sum(y, {-1, 0}, true), {1, 3, 1}, {60, 92, 124});
  // A contiguous trailing run of >= 16 reduced elements per output (lane sums of each run, as
  // for a [N, C, H, W] sum over dims 0, 2, 3): t[n][c][k] = 100 n + 10 c + k, n < 3, c < 2,
  // k < 20 sums over n and k to 3 (190 + 200 c) + 20 (0 + 100 + 200) = 6570 + 600 c.
  std::vector<double> tv;
  for (int n = 0; n < 3; ++n)
    for (int c = 0; c < 2; ++c)
      for (int k = 0; k < 20; ++k) tv.push_back(100 * n + 10 * c + k);
  const Tensor t = from_vector(tv, {3, 2, 20});
  check_values(sum(t, {0, 2}), {2}, {6570, 7170});
  check_values(sum(t, {0, 2}, true), {1, 2, 1}, {6570, 7170});
  check_values(sum(t.to(int64), {0, 2}), {2}, {6570, 7170});
  check_values(sum(t, {2}), {3, 2}, {190, 390, 2190, 2390, 4190, 4390});
  // 0-d and size-1 dims.
  check_values(sum(scalar_tensor(3.5)), {}, {3.5});
  check_values(sum(scalar_tensor(3.5), {0}), {}, {3.5});
  check_values(sum(scalar_tensor(3.5), {-1}, true), {}, {3.5});
  check_values(sum(ones({1, 3, 1}), {0, 2}), {3}, {1, 1, 1});
  check_values(sum(ones({1, 3, 1}), {0, 2}, true), {1, 3, 1}, {1, 1, 1});
  // Empty: sum is 0.
  check_values(sum(zeros({0, 3}), {0}), {3}, {0, 0, 0});
  check_values(sum(zeros({0})), {}, {0});
  // int64 stays int64.
  Tensor i = arange(5.0, dtype(int64));
  BOOST_CHECK(sum(i).dtype() == int64);
  BOOST_CHECK_EQUAL(sum(i).item<std::int64_t>(), 10);
  // float32 accumulates in double: 1 + 1e-8 * 1e4 ones is not lost.
  Tensor small = full({10000}, 1e-8);
  BOOST_CHECK_CLOSE(sum(cat({ones({1}), small})).item<double>(), 1.0001, 1e-4);
}

BOOST_AUTO_TEST_CASE(mean_values) {
  Tensor x = f64({{1, 2, 3}, {4, 5, 6}});
  check_values(mean(x), {}, {3.5});
  check_values(x.mean(), {}, {3.5});
  check_values(mean(x, {0}), {3}, {2.5, 3.5, 4.5});
  check_values(x.mean({-1}, true), {2, 1}, {2, 5});
  check_values(mean(scalar_tensor(2.0)), {}, {2});
  check_values(mean(zeros({0})), {}, {kNan});  // 0 / 0, like PyTorch
  XGRAD_CHECK_THROW_MSG(mean(arange(3.0, dtype(int64))), "mean: expected a floating dtype");
}

BOOST_AUTO_TEST_CASE(sum_mean_hand_derived) {
  Tensor x = f64({{1, 2, 3}, {4, 5, 6}});
  // d sum(x) / dx_ij = 1.
  check_values(grad_of([](const Tensor& t) { return sum(t); }, x), {2, 3}, {1, 1, 1, 1, 1, 1});
  // d mean(x, dim 1) / dx_ij = 1/3, and the weighted sum sum_i w_i mean_i gives w_i / 3.
  Tensor w = f64({3, 6});
  check_values(grad_of([&](const Tensor& t) { return mean(t, {1}) * w; }, x), {2, 3}, {1, 1, 1, 2, 2, 2});
  Tensor leaf = x.detach().clone().requires_grad_(true);
  BOOST_CHECK_EQUAL(sum(leaf).grad_fn_name(), "SumBackward");
  BOOST_CHECK_EQUAL(mean(leaf).grad_fn_name(), "MeanBackward");
  {
    NoGradGuard ng;
    BOOST_CHECK(!sum(leaf).requires_grad());
  }
}

BOOST_AUTO_TEST_CASE(sum_mean_gradcheck) {
  manual_seed(1);
  for (const Case& c : grad_cases()) {
    BOOST_TEST_CONTEXT("shape " << fmt::format("{}", c.shape) << " dims " << fmt::format("{}", c.dims)) {
      Tensor x = rand64(c.shape);
      check_gradcheck([&](const std::vector<Tensor>& in) { return sum(in[0], c.dims, c.keepdim); }, {x});
      check_gradcheck([&](const std::vector<Tensor>& in) { return mean(in[0], c.dims, c.keepdim); }, {x});
    }
  }
  Tensor x = rand64({2, 3});
  check_gradgradcheck([](const std::vector<Tensor>& in) { return mean(in[0] * in[0], {1}); }, {x});
}

// ---- max / min ----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(max_min_values) {
  Tensor x = f64({{1, 5, 3}, {4, 2, 6}});
  check_values(max(x), {}, {6});
  check_values(x.max(), {}, {6});
  check_values(min(x), {}, {1});
  check_values(x.min(), {}, {1});
  check_values(max(x, {0}), {3}, {4, 5, 6});
  check_values(max(x, {1}), {2}, {5, 6});
  check_values(max(x, {-1}, true), {2, 1}, {5, 6});
  check_values(min(x, {0}), {3}, {1, 2, 3});
  check_values(min(x, {-2}, true), {1, 3}, {1, 2, 3});
  check_values(min(x, {0, 1}, true), {1, 1}, {1});
  // x[i][j][k] = 12 i + 4 j + k: max over i, k is 12 + 4 j + 3; min over j is 12 i + k.
  Tensor y = reshape(arange(24.0, dtype(float64)), {2, 3, 4});
  check_values(max(y, {0, 2}), {3}, {15, 19, 23});
  check_values(min(y, {1}), {2, 4}, {0, 1, 2, 3, 12, 13, 14, 15});
  check_values(max(scalar_tensor(-2.0)), {}, {-2});
  check_values(min(scalar_tensor(-2.0), {0}), {}, {-2});
  check_values(max(full({1, 3, 1}, 7.0), {0, 2}, true), {1, 3, 1}, {7, 7, 7});
  // int64 works and keeps its dtype.
  Tensor i = from_vector<std::int64_t>({3, -7, 9, 0}, {2, 2});
  BOOST_CHECK(max(i).dtype() == int64);
  BOOST_CHECK(ivec(max(i, {1})) == std::vector<std::int64_t>({3, 9}));
  BOOST_CHECK(ivec(min(i, {0})) == std::vector<std::int64_t>({3, -7}));
  // -inf only and NaN propagation (PyTorch returns NaN when any element is NaN).
  check_values(max(f64({-kInf, -kInf})), {}, {-kInf});
  check_values(max(f64({1, kNan, 3})), {}, {kNan});
  check_values(min(f64({{1, kNan}, {3, 0}}), {1}), {2}, {kNan, 0});
  // A non-reduced empty dim gives an empty result.
  BOOST_CHECK(max(zeros({2, 0}), {0}).shape() == Shape({0}));
}

BOOST_AUTO_TEST_CASE(max_min_hand_derived_and_ties) {
  // d max(x) / dx_i = 1 at the (unique) maximum, 0 elsewhere.
  check_values(grad_of([](const Tensor& t) { return max(t); }, f64({1, 5, 3})), {3}, {0, 1, 0});
  check_values(grad_of([](const Tensor& t) { return min(t); }, f64({1, 5, 3})), {3}, {1, 0, 0});
  // Ties: the gradient is split evenly among equal maxima: 1/2 each, 1/3 each.
  check_values(grad_of([](const Tensor& t) { return max(t); }, f64({3, 1, 3})), {3}, {0.5, 0, 0.5});
  check_values(grad_of([](const Tensor& t) { return min(t); }, f64({2, 2, 2})), {3}, {1. / 3, 1. / 3, 1. / 3});
  // Per row, weighted by w: row 0 ties between columns 0 and 1 (w_0 / 2 each), row 1 has
  // one maximum (w_1).
  Tensor w = f64({2, 10});
  check_values(grad_of([&](const Tensor& t) { return max(t, {1}) * w; }, f64({{4, 4, 1}, {0, 9, 8}})), {2, 3},
               {1, 1, 0, 0, 10, 0});
  // Column minima with keepdim: [[1, 7], [1, 3]] -> column 0 ties (1/2 each), column 1 at row 1.
  check_values(grad_of([](const Tensor& t) { return min(t, {0}, true); }, f64({{1, 7}, {1, 3}})), {2, 2},
               {0.5, 0, 0.5, 1});
  Tensor leaf = f64({1, 2}).requires_grad_(true);
  BOOST_CHECK_EQUAL(max(leaf).grad_fn_name(), "MaxBackward");
  BOOST_CHECK_EQUAL(min(leaf).grad_fn_name(), "MinBackward");
}

BOOST_AUTO_TEST_CASE(max_min_gradcheck) {
  manual_seed(2);
  for (const Case& c : grad_cases()) {
    BOOST_TEST_CONTEXT("shape " << fmt::format("{}", c.shape) << " dims " << fmt::format("{}", c.dims)) {
      Tensor x = rand64(c.shape);  // distinct values: max is differentiable there
      check_gradcheck([&](const std::vector<Tensor>& in) { return max(in[0], c.dims, c.keepdim); }, {x});
      check_gradcheck([&](const std::vector<Tensor>& in) { return min(in[0], c.dims, c.keepdim); }, {x});
    }
  }
  Tensor x = rand64({3, 4});
  check_gradgradcheck([](const std::vector<Tensor>& in) { return max(in[0] * in[0], {0}); }, {x});
}

// ---- argmax / argmin ----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(argmax_argmin) {
  Tensor x = f64({{1, 5, 5}, {7, 2, 7}});
  // Flattened: [1, 5, 5, 7, 2, 7]; first maximum at 3, first minimum at 0.
  Tensor am = argmax(x);
  BOOST_CHECK(am.dtype() == int64);
  BOOST_CHECK(am.shape() == Shape({}));
  BOOST_CHECK_EQUAL(am.item<std::int64_t>(), 3);
  BOOST_CHECK_EQUAL(x.argmax().item<std::int64_t>(), 3);
  BOOST_CHECK_EQUAL(argmin(x).item<std::int64_t>(), 0);
  BOOST_CHECK(ivec(argmax(x, 1)) == std::vector<std::int64_t>({1, 0}));  // first of the ties
  BOOST_CHECK(ivec(argmax(x, 0)) == std::vector<std::int64_t>({1, 0, 1}));
  BOOST_CHECK(ivec(argmin(x, -1)) == std::vector<std::int64_t>({0, 1}));
  BOOST_CHECK(ivec(x.argmin(0)) == std::vector<std::int64_t>({0, 1, 0}));
  BOOST_CHECK(argmax(x, 1, true).shape() == Shape({2, 1}));
  BOOST_CHECK(argmax(x, std::nullopt, true).shape() == Shape({1, 1}));
  BOOST_CHECK(ivec(argmax(x, -2, true)) == std::vector<std::int64_t>({1, 0, 1}));
  // All equal: index 0. 0-d: index 0.
  BOOST_CHECK_EQUAL(argmax(full({4}, 2.0)).item<std::int64_t>(), 0);
  BOOST_CHECK_EQUAL(argmin(full({4}, 2.0)).item<std::int64_t>(), 0);
  BOOST_CHECK_EQUAL(argmax(scalar_tensor(1.0)).item<std::int64_t>(), 0);
  BOOST_CHECK_EQUAL(argmax(scalar_tensor(1.0), 0).item<std::int64_t>(), 0);
  // int64 input.
  BOOST_CHECK_EQUAL(argmin(from_vector<std::int64_t>({4, -1, 3, -1})).item<std::int64_t>(), 1);
  // NaN counts as the maximum (and the minimum), like PyTorch.
  BOOST_CHECK_EQUAL(argmax(f64({1, kNan, 3, kNan})).item<std::int64_t>(), 1);
  BOOST_CHECK_EQUAL(argmin(f64({1, 3, kNan})).item<std::int64_t>(), 2);
  // First occurrence across the chunks of a large full reduction (chunk size 16384).
  std::vector<float> bv(100000, 0.f);
  bv[20000] = bv[70000] = 1.f;
  bv[99999] = -1.f;
  bv[50000] = -1.f;
  Tensor b = from_vector<float>(bv);
  BOOST_CHECK_EQUAL(argmax(b).item<std::int64_t>(), 20000);
  BOOST_CHECK_EQUAL(argmin(b).item<std::int64_t>(), 50000);
  BOOST_CHECK_EQUAL(argmax(b.reshape({1000, 100}), 0).to_vector<std::int64_t>()[0], 200);
  // Not differentiable.
  Tensor leaf = f64({1, 2}).requires_grad_(true);
  BOOST_CHECK(!argmax(leaf).requires_grad());
  BOOST_CHECK(!argmin(leaf, 0).requires_grad());
}

// ---- var / std ----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(var_std_values) {
  Tensor x = f64({1, 2, 3, 4});
  // mean 2.5, sum of squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5.
  check_values(var(x), {}, {5.0 / 3});
  check_values(var(x, {}, 0), {}, {1.25});
  check_values(xgrad::std(x), {}, {std::sqrt(5.0 / 3)});
  check_values(xgrad::std(x, {0}, 0, true), {1}, {std::sqrt(1.25)});
  Tensor m = f64({{1, 2}, {3, 5}});
  check_values(var(m, {0}), {2}, {2, 4.5});
  check_values(var(m, {1}), {2}, {0.5, 2});
  check_values(var(m, {-1}, 1, true), {2, 1}, {0.5, 2});
  check_values(xgrad::std(m, {0}), {2}, {std::sqrt(2.0), std::sqrt(4.5)});
  // mean 11/4, deviations -7/4, -3/4, 1/4, 9/4: squares sum to (49 + 9 + 1 + 81) / 16 = 8.75.
  check_values(var(m, {0, 1}), {}, {8.75 / 3});
  check_values(var(m, {}, 2), {}, {8.75 / 2});
  // Size-1 dims and 0-d; N - correction <= 0 gives inf or NaN, like PyTorch.
  check_values(var(f64({{1, 2, 4}}), {0}, 0), {3}, {0, 0, 0});
  check_values(var(f64({5})), {}, {kNan});            // 0 / 0
  check_values(var(f64({1, 2}), {}, 2), {}, {kInf});  // 0.5 / 0
  check_values(var(scalar_tensor(3.0, dtype(float64)), {}, 0), {}, {0});
  // Two passes: no cancellation around a large offset.
  check_values(var(f64({1e9 + 1, 1e9 + 2, 1e9 + 3})), {}, {1.0});
  BOOST_CHECK_CLOSE(var(tensor({1e4 + 1, 1e4 + 2, 1e4 + 3})).item<double>(), 1.0, 1e-3);
  XGRAD_CHECK_THROW_MSG(var(arange(3.0, dtype(int64))), "var: expected a floating dtype");
  XGRAD_CHECK_THROW_MSG(xgrad::std(arange(3.0, dtype(int64))), "std: expected a floating dtype");
}

BOOST_AUTO_TEST_CASE(var_std_hand_derived) {
  Tensor x = f64({1, 2, 3, 4});
  // d var / dx_i = 2 (x_i - 2.5) / 3 = [-1, -1/3, 1/3, 1].
  check_values(grad_of([](const Tensor& t) { return var(t); }, x), {4}, {-1, -1. / 3, 1. / 3, 1}, 1e-12);
  // correction 0: 2 (x_i - 2.5) / 4 = [-0.75, -0.25, 0.25, 0.75].
  check_values(grad_of([](const Tensor& t) { return var(t, {}, 0); }, x), {4}, {-0.75, -0.25, 0.25, 0.75});
  // d std / dx_i = (x_i - 2.5) / (3 std), std = sqrt(5/3).
  const double s = std::sqrt(5.0 / 3);
  check_values(grad_of([](const Tensor& t) { return xgrad::std(t); }, x), {4},
               {-1.5 / (3 * s), -0.5 / (3 * s), 0.5 / (3 * s), 1.5 / (3 * s)});
  // Per row of [[1, 2], [3, 5]]: d var_row / dx = 2 (x - mean_row) / 1 = [-1, 1], [-2, 2].
  check_values(grad_of([](const Tensor& t) { return var(t, {1}); }, f64({{1, 2}, {3, 5}})), {2, 2}, {-1, 1, -2, 2});
  // N - correction = 0: the scale 2 / 0 is infinite.
  Tensor g = grad_of([](const Tensor& t) { return var(t, {}, 2); }, f64({1, 3}));
  for (double v : g.to_vector<double>()) BOOST_CHECK(std::isinf(v));
  Tensor leaf = f64({1, 2}).requires_grad_(true);
  BOOST_CHECK_EQUAL(var(leaf).grad_fn_name(), "VarBackward");
  BOOST_CHECK_EQUAL(xgrad::std(leaf).grad_fn_name(), "StdBackward");
}

BOOST_AUTO_TEST_CASE(var_std_gradcheck) {
  manual_seed(3);
  for (const Case& c : grad_cases()) {
    for (std::int64_t corr : {0, 1}) {
      // N = elements per output; N - correction <= 0 gives inf/NaN (not differentiable).
      const std::int64_t n = shape_numel(c.shape) / sum(zeros(c.shape), c.dims).numel();
      if (n - corr <= 0) continue;
      BOOST_TEST_CONTEXT("shape " << fmt::format("{}", c.shape) << " dims " << fmt::format("{}", c.dims)
                                  << " correction " << corr) {
        Tensor x = rand64(c.shape);
        check_gradcheck([&](const std::vector<Tensor>& in) { return var(in[0], c.dims, corr, c.keepdim); }, {x});
        check_gradcheck([&](const std::vector<Tensor>& in) { return xgrad::std(in[0], c.dims, corr, c.keepdim); }, {x});
      }
    }
  }
  Tensor x = rand64({3, 4});
  check_gradgradcheck([](const std::vector<Tensor>& in) { return var(in[0], {1}); }, {x});
  check_gradgradcheck([](const std::vector<Tensor>& in) { return xgrad::std(in[0], {0}, 0); }, {x});
  check_gradgradcheck([](const std::vector<Tensor>& in) { return xgrad::std(in[0]); }, {x});
}

// ---- logsumexp ----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(logsumexp_values) {
  const double e1 = std::exp(1.0), e2 = std::exp(2.0), e3 = std::exp(3.0);
  check_values(logsumexp(f64({1, 2, 3})), {}, {std::log(e1 + e2 + e3)});
  Tensor m = f64({{1, 2}, {3, 3}});
  check_values(logsumexp(m, {1}), {2}, {std::log(e1 + e2), 3 + std::log(2.0)});
  check_values(logsumexp(m, {0}, true), {1, 2}, {std::log(e1 + e3), std::log(e2 + e3)});
  check_values(logsumexp(m, {0, -1}), {}, {std::log(e1 + e2 + 2 * e3)});
  check_values(logsumexp(scalar_tensor(0.5, dtype(float64))), {}, {0.5});
  // Never overflows or underflows: m + log(sum(exp(a - m))).
  check_values(logsumexp(f64({1000, 1000})), {}, {1000 + std::log(2.0)});
  check_values(logsumexp(f64({-1000, -1000, -1000})), {}, {-1000 + std::log(3.0)});
  BOOST_CHECK_CLOSE(logsumexp(tensor({100.f, 100.f})).item<double>(), 100 + std::log(2.0), 1e-4);
  // Infinite maxima: all -inf gives -inf, any +inf gives +inf.
  check_values(logsumexp(f64({-kInf, -kInf})), {}, {-kInf});
  check_values(logsumexp(f64({{-kInf, 0}, {kInf, 1}}), {1}), {2}, {0, kInf});
  XGRAD_CHECK_THROW_MSG(logsumexp(arange(3.0, dtype(int64))), "logsumexp: expected a floating dtype");
}

BOOST_AUTO_TEST_CASE(logsumexp_hand_derived) {
  // d lse / dx_i = softmax(x)_i = e^{x_i} / (e^1 + e^2 + e^3).
  const double e1 = std::exp(1.0), e2 = std::exp(2.0), e3 = std::exp(3.0), z = e1 + e2 + e3;
  check_values(grad_of([](const Tensor& t) { return logsumexp(t); }, f64({1, 2, 3})), {3}, {e1 / z, e2 / z, e3 / z});
  // Large values: softmax of [1000, 1000] is [1/2, 1/2] (no overflow in backward either).
  check_values(grad_of([](const Tensor& t) { return logsumexp(t, {0}); }, f64({1000, 1000})), {2}, {0.5, 0.5});
  Tensor leaf = f64({1, 2}).requires_grad_(true);
  BOOST_CHECK_EQUAL(logsumexp(leaf).grad_fn_name(), "LogsumexpBackward");
}

BOOST_AUTO_TEST_CASE(logsumexp_gradcheck) {
  manual_seed(4);
  for (const Case& c : grad_cases()) {
    BOOST_TEST_CONTEXT("shape " << fmt::format("{}", c.shape) << " dims " << fmt::format("{}", c.dims)) {
      Tensor x = rand64(c.shape, 2.0);
      check_gradcheck([&](const std::vector<Tensor>& in) { return logsumexp(in[0], c.dims, c.keepdim); }, {x});
    }
  }
  Tensor x = rand64({3, 4});
  check_gradgradcheck([](const std::vector<Tensor>& in) { return logsumexp(in[0], {1}); }, {x});
  check_gradgradcheck([](const std::vector<Tensor>& in) { return logsumexp(in[0]); }, {x});
}

// ---- norm ---------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(norm_values) {
  Tensor x = f64({{3, -4}, {0, 0}});
  check_values(norm(x), {}, {5});
  check_values(norm(x, 2, {1}), {2}, {5, 0});
  check_values(norm(x, 2, {0}, true), {1, 2}, {3, 4});
  check_values(norm(x, 1), {}, {7});
  check_values(norm(x, 1, {-1}), {2}, {7, 0});
  check_values(norm(x, kInf), {}, {4});
  check_values(norm(x, kInf, {0}), {2}, {3, 4});
  check_values(norm(scalar_tensor(-2.0, dtype(float64))), {}, {2});
  check_values(norm(zeros({0})), {}, {0});
  check_values(norm(zeros({0}), 1), {}, {0});
  BOOST_CHECK_CLOSE(norm(tensor({3.f, 4.f})).item<double>(), 5.0, 1e-5);
  // Other p: (sum |a|^p)^(1/p); p = 0 counts non-zeros; p = -inf is min |a|.
  check_values(norm(x, 3.0), {}, {std::cbrt(27.0 + 64.0)});
  check_values(norm(x, 0.0), {}, {2});
  check_values(norm(x, -kInf), {}, {0});
  check_gradcheck([](const std::vector<Tensor>& in) { return norm(in[0], 3.0, {1}); },
                  {rand64({2, 3}).requires_grad_()});
  check_gradcheck([](const std::vector<Tensor>& in) { return norm(in[0], 0.5); },
                  {(rand64({4}).abs() + 0.5).detach().requires_grad_()});
  XGRAD_CHECK_THROW_MSG(norm(zeros({0}), kInf), "norm (p = inf): cannot reduce over an empty dimension");
  XGRAD_CHECK_THROW_MSG(norm(arange(3.0, dtype(int64))), "norm: expected a floating dtype");
}

BOOST_AUTO_TEST_CASE(norm_hand_derived) {
  // p = 2: d ||x|| / dx = x / ||x|| = [3/5, -4/5]; a row with norm 0 gets 0, not NaN.
  check_values(grad_of([](const Tensor& t) { return norm(t, 2, {1}); }, f64({{3, -4}, {0, 0}})), {2, 2},
               {0.6, -0.8, 0, 0});
  // p = 1: d sum|x| / dx = sign(x) (0 at 0).
  check_values(grad_of([](const Tensor& t) { return norm(t, 1); }, f64({-2, 0, 5})), {3}, {-1, 0, 1});
  // p = inf: sign(x) at the elements of largest |x|, split among ties: |3| = |-3| -> +-1/2.
  check_values(grad_of([](const Tensor& t) { return norm(t, kInf); }, f64({3, -3, 1})), {3}, {0.5, -0.5, 0});
  check_values(grad_of([](const Tensor& t) { return norm(t, kInf, {0}); }, f64({{1, -5}, {-2, 4}})), {2, 2},
               {0, -1, -1, 0});
  Tensor leaf = f64({1, 2}).requires_grad_(true);
  BOOST_CHECK_EQUAL(norm(leaf).grad_fn_name(), "NormBackward");
}

BOOST_AUTO_TEST_CASE(norm_gradcheck) {
  manual_seed(5);
  for (const Case& c : grad_cases()) {
    BOOST_TEST_CONTEXT("shape " << fmt::format("{}", c.shape) << " dims " << fmt::format("{}", c.dims)) {
      Tensor x = rand64(c.shape);  // away from 0 and with distinct |x| almost surely
      for (double p : {1.0, 2.0, kInf})
        check_gradcheck([&](const std::vector<Tensor>& in) { return norm(in[0], p, c.dims, c.keepdim); }, {x});
    }
  }
  Tensor x = rand64({3, 4});
  check_gradgradcheck([](const std::vector<Tensor>& in) { return norm(in[0], 2, {1}); }, {x});
  check_gradgradcheck([](const std::vector<Tensor>& in) { return norm(in[0]); }, {x});
  check_gradgradcheck([](const std::vector<Tensor>& in) { return norm(in[0] * in[0], 1, {0}); }, {x});
}

// ---- all reductions against a naive reference, over every dim subset of a 3-d tensor ------

BOOST_AUTO_TEST_CASE(against_reference) {
  manual_seed(6);
  Tensor x = randn({4, 3, 5}, dtype(float64));
  auto mean_of = [](const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0) / v.size(); };
  auto var_of = [&](const std::vector<double>& v) {
    const double m = mean_of(v);
    double s = 0;
    for (double e : v) s += (e - m) * (e - m);
    return s / (v.size() - 1);
  };
  for (int bits = 1; bits < 8; ++bits) {
    const std::vector<bool> mask{(bits & 1) != 0, (bits & 2) != 0, (bits & 4) != 0};
    Dims dims;
    for (std::int64_t d = 0; d < 3; ++d)
      if (mask[d]) dims.push_back(d);
    BOOST_TEST_CONTEXT("dims " << fmt::format("{}", dims)) {
      Shape kept{mask[0] ? 1 : 4, mask[1] ? 1 : 3, mask[2] ? 1 : 5};
      auto ref = [&](const std::function<double(const std::vector<double>&)>& fn) { return ref_reduce(x, mask, fn); };
      check_values(sum(x, dims, true), kept,
                   ref([](const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0); }), 1e-12);
      check_values(mean(x, dims, true), kept, ref(mean_of), 1e-12);
      check_values(max(x, dims, true), kept,
                   ref([](const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); }));
      check_values(min(x, dims, true), kept,
                   ref([](const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); }));
      check_values(var(x, dims, 1, true), kept, ref(var_of), 1e-12);
      check_values(xgrad::std(x, dims, 1, true), kept,
                   ref([&](const std::vector<double>& v) { return std::sqrt(var_of(v)); }), 1e-12);
      check_values(logsumexp(x, dims, true), kept, ref([](const std::vector<double>& v) {
                     double s = 0;
                     for (double e : v) s += std::exp(e);
                     return std::log(s);
                   }),
                   1e-12);
      check_values(norm(x, 1, dims, true), kept, ref([](const std::vector<double>& v) {
                     double s = 0;
                     for (double e : v) s += std::fabs(e);
                     return s;
                   }),
                   1e-12);
      check_values(norm(x, 2, dims, true), kept, ref([](const std::vector<double>& v) {
                     double s = 0;
                     for (double e : v) s += e * e;
                     return std::sqrt(s);
                   }),
                   1e-12);
      check_values(norm(x, kInf, dims, true), kept, ref([](const std::vector<double>& v) {
                     double s = 0;
                     for (double e : v) s = std::max(s, std::fabs(e));
                     return s;
                   }));
      if (dims.size() == 1) {
        const auto am = argmax(x, dims[0], true).to_vector<std::int64_t>();
        const auto want = ref([](const std::vector<double>& v) {
          return static_cast<double>(std::max_element(v.begin(), v.end()) - v.begin());
        });
        BOOST_REQUIRE_EQUAL(am.size(), want.size());
        for (std::size_t i = 0; i < am.size(); ++i) BOOST_CHECK_EQUAL(am[i], static_cast<std::int64_t>(want[i]));
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(large_full_reductions) {
  // Above the chunk size, full reductions run in parallel chunks: compare with float64 loops.
  manual_seed(7);
  Tensor x = randn({100003}, dtype(float64));
  const auto v = x.to_vector<double>();
  double s = 0, mx = -kInf, sq = 0;
  for (double e : v) {
    s += e;
    mx = std::max(mx, e);
  }
  const double m = s / v.size();
  for (double e : v) sq += (e - m) * (e - m);
  double lse = 0;
  for (double e : v) lse += std::exp(e - mx);
  BOOST_CHECK_CLOSE(sum(x).item<double>(), s, 1e-8);
  BOOST_CHECK_EQUAL(max(x).item<double>(), mx);
  BOOST_CHECK_CLOSE(var(x).item<double>(), sq / (v.size() - 1), 1e-9);
  BOOST_CHECK_CLOSE(logsumexp(x).item<double>(), mx + std::log(lse), 1e-9);
  BOOST_CHECK_EQUAL(argmax(x).item<std::int64_t>(), std::max_element(v.begin(), v.end()) - v.begin());
  BOOST_CHECK_EQUAL(argmin(x).item<std::int64_t>(), std::min_element(v.begin(), v.end()) - v.begin());
}

// ---- errors -------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(errors) {
  Tensor x = zeros({2, 3});
  XGRAD_CHECK_THROW_MSG(sum(x, {2}), "sum: dim 2 out of range for tensor of shape [2, 3]");
  XGRAD_CHECK_THROW_MSG(mean(x, {-3}), "mean: dim -3 out of range for tensor of shape [2, 3]");
  XGRAD_CHECK_THROW_MSG(max(x, {5}), "max: dim 5 out of range for tensor of shape [2, 3]");
  XGRAD_CHECK_THROW_MSG(min(x, {5}), "min: dim 5");
  XGRAD_CHECK_THROW_MSG(argmax(x, 2), "argmax: dim 2 out of range for tensor of shape [2, 3]");
  XGRAD_CHECK_THROW_MSG(argmin(x, -3), "argmin: dim -3");
  XGRAD_CHECK_THROW_MSG(var(x, {2}), "var: dim 2");
  XGRAD_CHECK_THROW_MSG(xgrad::std(x, {2}), "std: dim 2");
  XGRAD_CHECK_THROW_MSG(logsumexp(x, {2}), "logsumexp: dim 2");
  XGRAD_CHECK_THROW_MSG(norm(x, 2, {2}), "norm: dim 2");
  XGRAD_CHECK_THROW_MSG(sum(scalar_tensor(1.0), {1}), "sum: dim 1 out of range for tensor of shape []");
  // Repeated dims (also when spelled differently).
  XGRAD_CHECK_THROW_MSG(sum(x, {0, 0}), "sum: dim 0 appears multiple times");
  XGRAD_CHECK_THROW_MSG(max(x, {1, -1}), "max: dim -1 appears multiple times");
  XGRAD_CHECK_THROW_MSG(var(x, {0, -2}), "var: dim -2 appears multiple times");
  // Empty reductions without an identity.
  XGRAD_CHECK_THROW_MSG(max(zeros({0})), "max: cannot reduce over an empty dimension (tensor of shape [0])");
  XGRAD_CHECK_THROW_MSG(min(zeros({2, 0}), {1}), "min: cannot reduce over an empty dimension (tensor of shape [2, 0])");
  XGRAD_CHECK_THROW_MSG(argmax(zeros({0, 3})), "argmax: cannot reduce over an empty dimension");
  XGRAD_CHECK_THROW_MSG(argmin(zeros({0, 3}), 0), "argmin: cannot reduce over an empty dimension");
  XGRAD_CHECK_THROW_MSG(mean(arange(3.0, dtype(int64)), {0}), "got int64");
  XGRAD_CHECK_THROW_MSG(norm(x, std::nan("")), "norm: p must be a number, got nan");
  XGRAD_CHECK_THROW_MSG(max(Tensor()), "max");
  XGRAD_CHECK_THROW_MSG(sum(Tensor()), "sum");
}

// ---- determinism --------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(determinism) {
  manual_seed(8);
  Tensor x = randn({1000000});
  const float a = sum(x).item<float>();
  const float b = sum(x).item<float>();
  BOOST_CHECK(std::memcmp(&a, &b, sizeof(float)) == 0);  // bit-identical
  // A per-dim reduction too.
  Tensor r1 = sum(x.reshape({1000, 1000}), {0}), r2 = sum(x.reshape({1000, 1000}), {0});
  BOOST_CHECK(r1.to_vector<float>() == r2.to_vector<float>());
  Tensor v1 = var(x.reshape({1000, 1000}), {1}), v2 = var(x.reshape({1000, 1000}), {1});
  BOOST_CHECK(v1.to_vector<float>() == v2.to_vector<float>());

  // 1 thread vs 2 threads; the thread count is restored afterwards.
  const int threads = get_num_threads();
  double one = 0, two = 0, lse_one = 0, lse_two = 0;
  {
    ThreadCountGuard restore;
    set_num_threads(1);
    one = sum(x).item<double>();
    lse_one = logsumexp(x).item<double>();
    set_num_threads(2);
    two = sum(x).item<double>();
    lse_two = logsumexp(x).item<double>();
  }
  BOOST_CHECK_EQUAL(get_num_threads(), threads);
  BOOST_CHECK_LE(std::fabs(one - two), 1e-6 * std::max(1.0, std::fabs(one)));
  BOOST_CHECK_LE(std::fabs(lse_one - lse_two), 1e-6 * std::fabs(lse_one));
  // Against a float64 reference.
  const double ref = sum(x.to(float64)).item<double>();
  BOOST_CHECK_LE(std::fabs(one - ref), 1e-6 * std::max(1.0, std::fabs(ref)));
}

BOOST_AUTO_TEST_CASE(std_gradient_without_spread_is_zero) {
  // std = sqrt(var) has no derivative where every element is equal; PyTorch masks the 0/0 of
  // (a_i - mean) / ((N - correction) std) to 0, and so does xgrad (it was NaN). Second
  // derivatives stay finite too. Found by the differential test against libtorch.
  Tensor one = tensor({1.6530964897821794}, TensorOptions().dtype(float64).requires_grad());
  xgrad::std(one, {0}, 0, true).sum().backward();
  test::check_values(one.grad(), {1}, {0.0});
  Tensor same = tensor({2.0, 2.0, 2.0}, TensorOptions().dtype(float64).requires_grad());
  Tensor g = autograd::grad({xgrad::std(same)}, {same}, {}, {.create_graph = true})[0];
  test::check_values(g, {3}, {0.0, 0.0, 0.0});
  test::check_values(autograd::grad({g.sum()}, {same})[0], {3}, {0.0, 0.0, 0.0});
}

BOOST_AUTO_TEST_SUITE_END()
