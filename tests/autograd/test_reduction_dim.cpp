// Reductions by dim (API fidelity with libtorch): max(dim) / min(dim) returning (values,
// indices), amax / amin, the member forms x.std(1), x.var({0}, 0, true), x.norm(),
// x.logsumexp(1), the one-dim free overloads, and arange(start, end).
#include <cmath>
#include <limits>
#include <tuple>
#include <type_traits>

#include "test_util.hpp"

using namespace xgrad;
using xgrad::test::check_close;
using xgrad::test::check_gradcheck;
using xgrad::test::check_gradgradcheck;
using xgrad::test::check_values;
using xgrad::test::rand64;

namespace {

constexpr double kNan = std::numeric_limits<double>::quiet_NaN();

Tensor f64(std::initializer_list<NestedList> v) { return tensor(v, dtype(float64)); }


void check_indices(const Tensor& t, const Shape& shape, const std::vector<std::int64_t>& want) {
  BOOST_CHECK(t.dtype() == int64);
  BOOST_CHECK(!t.requires_grad());
  BOOST_REQUIRE_MESSAGE(t.shape() == shape,
                        "shape " << fmt::format("{}", t.shape()) << " != " << fmt::format("{}", shape));
  BOOST_CHECK(t.to_vector<std::int64_t>() == want);
}

/// Gradient of sum(f(x)) with respect to a fresh leaf copy of x.
Tensor grad_of(const std::function<Tensor(const Tensor&)>& f, const Tensor& x) {
  Tensor leaf = x.detach().clone().requires_grad_(true);
  sum(f(leaf)).backward();
  return leaf.grad();
}

Tensor values_of(const std::tuple<Tensor, Tensor>& r) { return std::get<0>(r); }

}  // namespace

// ---- overload resolution (compile-time) -----------------------------------------------------

// An integer is one dim and gives (values, indices); braced lists keep the Dims overloads.
static_assert(std::is_same_v<decltype(max(std::declval<Tensor>(), 1)), std::tuple<Tensor, Tensor>>);
static_assert(
    std::is_same_v<decltype(min(std::declval<Tensor>(), std::int64_t{-1}, true)), std::tuple<Tensor, Tensor>>);
static_assert(std::is_same_v<decltype(max(std::declval<Tensor>(), {1})), Tensor>);
static_assert(std::is_same_v<decltype(max(std::declval<Tensor>(), {0, 1}, true)), Tensor>);
static_assert(std::is_same_v<decltype(max(std::declval<Tensor>(), {})), Tensor>);
static_assert(std::is_same_v<decltype(std::declval<Tensor>().max(0)), std::tuple<Tensor, Tensor>>);
static_assert(std::is_same_v<decltype(std::declval<Tensor>().max()), Tensor>);
// A bool is never a dim (libtorch's std(bool unbiased) would read x.std(false) otherwise),
// and x.max({...}) is refused (amax takes lists).
// (Concepts on a template parameter: a requires-expression outside a template may not name
// an invalid expression.)
template <class T>
concept member_std_takes_bool = requires(const T& t) {
  t.std(false);
};
template <class T>
concept member_var_takes_bool = requires(const T& t) {
  t.var(true);
};
template <class T>
concept free_std_takes_bool = requires(const T& t) {
  xgrad::std(t, false);
};
template <class T>
concept member_max_takes_list = requires(const T& t) {
  t.max({0, 1});
};
template <class T>
concept member_max_takes_empty_list = requires(const T& t) {
  t.max({});
};
template <class T>
concept member_forms_compile = requires(const T& t) {
  t.std(1);
  t.std({});
  t.var({0}, 0, true);
  t.norm();
  t.logsumexp(1);
  t.amax(0);
};
static_assert(!member_std_takes_bool<Tensor>);
static_assert(!member_var_takes_bool<Tensor>);
static_assert(!free_std_takes_bool<Tensor>);
static_assert(!member_max_takes_list<Tensor>);
static_assert(!member_max_takes_empty_list<Tensor>);
static_assert(member_forms_compile<Tensor>);

BOOST_AUTO_TEST_SUITE(reduction_dim)

// ---- max(dim) / min(dim) ----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(max_min_dim_values_and_indices) {
  Tensor x = f64({{1, 5, 3}, {4, 2, 6}});
  auto [v1, i1] = max(x, 1);
  check_values(v1, {2}, {5, 6});
  check_indices(i1, {2}, {1, 2});
  auto [v0, i0] = x.max(0);
  check_values(v0, {3}, {4, 5, 6});
  check_indices(i0, {3}, {1, 0, 1});
  auto [vk, ik] = max(x, -1, true);
  check_values(vk, {2, 1}, {5, 6});
  check_indices(ik, {2, 1}, {1, 2});
  auto [n1, j1] = x.min(1, true);
  check_values(n1, {2, 1}, {1, 2});
  check_indices(j1, {2, 1}, {0, 1});
  auto [n0, j0] = min(x, -2);
  check_values(n0, {3}, {1, 2, 3});
  check_indices(j0, {3}, {0, 1, 0});
  // x[i][j][k] = 12 i + 4 j + k: over j the maximum is at j = 2 (12 i + 8 + k), the minimum
  // at j = 0; over i at i = 1 / i = 0.
  Tensor y = reshape(arange(24.0, dtype(float64)), {2, 3, 4});
  auto [vy, iy] = max(y, 1);
  check_values(vy, {2, 4}, {8, 9, 10, 11, 20, 21, 22, 23});
  check_indices(iy, {2, 4}, {2, 2, 2, 2, 2, 2, 2, 2});
  auto [wy, jy] = y.min(0, true);
  check_values(wy, {1, 3, 4}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  check_indices(jy, {1, 3, 4}, std::vector<std::int64_t>(12, 0));
  auto [vz, iz] = max(y, -1);
  check_values(vz, {2, 3}, {3, 7, 11, 15, 19, 23});
  check_indices(iz, {2, 3}, {3, 3, 3, 3, 3, 3});
  // Equals amax for the values and argmax for the indices.
  check_close(values_of(max(y, 2)), amax(y, {2}));
  BOOST_CHECK(std::get<1>(max(y, 2)).to_vector<std::int64_t>() == argmax(y, 2).to_vector<std::int64_t>());
  // float32 and int64 keep their dtype.
  auto [vf, ifl] = max(tensor({{1., -2.}, {0.5, 3.}}), 0);
  BOOST_CHECK(vf.dtype() == float32);
  check_values(vf, {2}, {1, 3});
  check_indices(ifl, {2}, {0, 1});
  auto [vi, ii] = min(from_vector<std::int64_t>({3, -7, 9, 0}, {2, 2}), 1);
  BOOST_CHECK(vi.dtype() == int64);
  BOOST_CHECK(vi.to_vector<std::int64_t>() == std::vector<std::int64_t>({-7, 0}));
  check_indices(ii, {2}, {1, 1});
}

BOOST_AUTO_TEST_CASE(max_min_dim_ties_nan_and_edge_shapes) {
  // Ties: the first occurrence, like PyTorch on the CPU.
  Tensor t = f64({{3, 1, 3}, {2, 2, 2}});
  check_indices(std::get<1>(max(t, 1)), {2}, {0, 0});
  check_indices(std::get<1>(min(t, 1)), {2}, {1, 0});
  check_indices(std::get<1>(max(f64({{5, 5}, {5, 5}}), 0)), {2}, {0, 0});
  // A long row goes through the chunked (parallel) path: still the first of two maxima.
  Tensor big = zeros({100000}, dtype(float64));
  big.data_ptr<double>()[70001] = 1.0;
  big.data_ptr<double>()[90000] = 1.0;
  auto [bv, bi] = max(big, 0);
  check_values(bv, {}, {1});
  check_indices(bi, {}, {70001});
  check_indices(std::get<1>(min(big, 0)), {}, {0});
  // NaN counts as the extreme: value NaN at the first NaN (PyTorch).
  auto [nv, ni] = max(f64({1, kNan, 3, kNan}), 0);
  check_values(nv, {}, {kNan});
  check_indices(ni, {}, {1});
  check_indices(std::get<1>(min(f64({{1, kNan}, {3, 0}}), 1)), {2}, {1, 1});
  // 0-d: dim 0 or -1, value itself and index 0 (keepdim keeps 0-d).
  auto [sv, si] = max(scalar_tensor(-2.0, dtype(float64)), 0);
  check_values(sv, {}, {-2});
  check_indices(si, {}, {0});
  auto [sv2, si2] = scalar_tensor(4.0).min(-1, true);
  check_values(sv2, {}, {4});
  check_indices(si2, {}, {0});
  // Size-1 dim and an empty non-reduced dim.
  auto [ov, oi] = max(f64({{7}, {-1}}), 1);
  check_values(ov, {2}, {7, -1});
  check_indices(oi, {2}, {0, 0});
  auto [ev, ei] = max(zeros({0, 3}), 1);
  BOOST_CHECK(ev.shape() == Shape({0}));
  BOOST_CHECK(ei.shape() == Shape({0}));
  BOOST_CHECK(ei.dtype() == int64);
}

BOOST_AUTO_TEST_CASE(max_min_dim_gradient_goes_to_the_index) {
  // d values[o] / d x[o, k] = [k == indices[o]]. Row 0 ties between columns 0 and 1: all of
  // w_0 goes to column 0 (the returned index); row 1 has one maximum (w_1 at column 1).
  // The Dims form and amax split w_0 evenly instead (w_0 / 2 each).
  Tensor w = f64({2, 10});
  Tensor x = f64({{4, 4, 1}, {0, 9, 8}});
  check_values(grad_of([&](const Tensor& t) { return values_of(max(t, 1)) * w; }, x), {2, 3}, {2, 0, 0, 0, 10, 0});
  check_values(grad_of([&](const Tensor& t) { return max(t, {1}) * w; }, x), {2, 3}, {1, 1, 0, 0, 10, 0});
  check_values(grad_of([&](const Tensor& t) { return amax(t, 1) * w; }, x), {2, 3}, {1, 1, 0, 0, 10, 0});
  check_values(grad_of([&](const Tensor& t) { return t.amax({1}) * w; }, x), {2, 3}, {1, 1, 0, 0, 10, 0});
  // Column minima with keepdim over [[1, 7], [1, 3]]: column 0 ties (all to row 0), column 1
  // at row 1; negative dim.
  check_values(grad_of([](const Tensor& t) { return std::get<0>(t.min(-2, true)); }, f64({{1, 7}, {1, 3}})), {2, 2},
               {1, 0, 0, 1});
  check_values(grad_of([](const Tensor& t) { return amin(t, {0}, true); }, f64({{1, 7}, {1, 3}})), {2, 2},
               {0.5, 0, 0.5, 1});
  // 0-d: d x / d x = 1.
  check_values(grad_of([](const Tensor& t) { return values_of(max(t, 0)) * 3.0; }, scalar_tensor(2.0, dtype(float64))),
               {}, {3});
  // Names, non-differentiable indices, values require grad.
  Tensor leaf = f64({{1, 2}, {4, 3}}).requires_grad_(true);
  auto [v, i] = leaf.max(1);
  BOOST_CHECK(v.requires_grad());
  BOOST_CHECK(!i.requires_grad());
  BOOST_CHECK(i.is_leaf());
  BOOST_CHECK_EQUAL(v.grad_fn_name(), "MaxDimBackward");
  BOOST_CHECK_EQUAL(std::get<0>(min(leaf, 0)).grad_fn_name(), "MinDimBackward");
  BOOST_CHECK_EQUAL(amax(leaf).grad_fn_name(), "AmaxBackward");
  BOOST_CHECK_EQUAL(leaf.amin(1).grad_fn_name(), "AminBackward");
  BOOST_CHECK_EQUAL(max(leaf, {1}).grad_fn_name(), "MaxBackward");
  // No recording under no_grad.
  {
    NoGradGuard ng;
    BOOST_CHECK(!std::get<0>(leaf.max(0)).requires_grad());
  }
}

BOOST_AUTO_TEST_CASE(max_min_dim_gradcheck) {
  manual_seed(7);
  struct DimCase {
    Shape shape;
    std::int64_t dim;
    bool keepdim;
  };
  const std::vector<DimCase> cases = {{{2, 3, 4}, 0, false}, {{2, 3, 4}, 1, true},   {{2, 3, 4}, 2, false},
                                      {{2, 3, 4}, -1, true}, {{2, 3, 4}, -3, false}, {{5}, 0, false},
                                      {{5}, -1, true},       {{}, 0, false},         {{3, 1, 2}, 1, false}};
  for (const DimCase& c : cases) {
    BOOST_TEST_CONTEXT("shape " << fmt::format("{}", c.shape) << " dim " << c.dim << " keepdim " << c.keepdim) {
      Tensor x = rand64(c.shape);  // distinct values: max is differentiable there
      check_gradcheck([&](const std::vector<Tensor>& in) { return values_of(max(in[0], c.dim, c.keepdim)); }, {x});
      check_gradcheck([&](const std::vector<Tensor>& in) { return std::get<0>(in[0].min(c.dim, c.keepdim)); }, {x});
      check_gradcheck([&](const std::vector<Tensor>& in) { return in[0].amax(c.dim, c.keepdim); }, {x});
      check_gradcheck([&](const std::vector<Tensor>& in) { return amin(in[0], c.dim, c.keepdim); }, {x});
    }
  }
  Tensor x = rand64({3, 4});
  check_gradgradcheck([](const std::vector<Tensor>& in) { return values_of(max(in[0] * in[0], 1)); }, {x});
  check_gradgradcheck([](const std::vector<Tensor>& in) { return std::get<0>(in[0].pow(3.0).min(0, true)); }, {x});
}

BOOST_AUTO_TEST_CASE(max_min_dim_errors) {
  Tensor x = zeros({2, 3});
  XGRAD_CHECK_THROW_MSG(max(x, 2), "max: dim 2 out of range for tensor of shape [2, 3]");
  XGRAD_CHECK_THROW_MSG(x.min(-3), "min: dim -3 out of range for tensor of shape [2, 3]");
  XGRAD_CHECK_THROW_MSG(max(scalar_tensor(1.0), 1), "max: dim 1 out of range for tensor of shape []");
  XGRAD_CHECK_THROW_MSG(max(zeros({2, 0}), 1), "max: cannot reduce over an empty dimension (tensor of shape [2, 0])");
  XGRAD_CHECK_THROW_MSG(min(zeros({0}), 0), "min: cannot reduce over an empty dimension (tensor of shape [0])");
  XGRAD_CHECK_THROW_MSG(max(Tensor(), 0), "max: expected a defined tensor");
  XGRAD_CHECK_THROW_MSG(amax(x, {0, 0}), "amax: dim 0 appears multiple times");
  XGRAD_CHECK_THROW_MSG(x.amin(5), "amin: dim 5 out of range for tensor of shape [2, 3]");
  XGRAD_CHECK_THROW_MSG(amax(zeros({0, 2})), "amax: cannot reduce over an empty dimension (tensor of shape [0, 2])");
}

// ---- amax / amin --------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(amax_amin_values) {
  Tensor x = f64({{1, 5, 3}, {4, 2, 6}});
  check_values(amax(x), {}, {6});
  check_values(x.amin(), {}, {1});
  check_values(amax(x, 1), {2}, {5, 6});
  check_values(x.amax(-2, true), {1, 3}, {4, 5, 6});
  check_values(amin(x, {0, 1}, true), {1, 1}, {1});
  check_values(x.amin({1}), {2}, {1, 2});
  check_values(amax(x, {}), {}, {6});
  check_close(amax(x, {0}), max(x, {0}));
  BOOST_CHECK(amax(from_vector<std::int64_t>({3, -7, 9, 0}, {2, 2}), 0).to_vector<std::int64_t>() ==
              std::vector<std::int64_t>({9, 0}));
  // Ties: d amax / dx_i = 1/3 for each of three equal maxima.
  check_values(grad_of([](const Tensor& t) { return t.amax(); }, f64({2, 2, 2})), {3}, {1. / 3, 1. / 3, 1. / 3});
}

// ---- member forms of var / std / norm / logsumexp ------------------------------------------------

BOOST_AUTO_TEST_CASE(member_forms_values) {
  // Rows [1, 2, 3] (mean 2) and [4, 6, 8] (mean 6): unbiased var = 2/2 = 1 and 8/2 = 4.
  Tensor x = f64({{1, 2, 3}, {4, 6, 8}});
  check_values(x.std(1), {2}, {1, 2});
  check_values(x.var(1), {2}, {1, 4});
  check_values(x.var(-1, 0, true), {2, 1}, {2. / 3, 8. / 3});
  // Columns (1, 4), (2, 6), (3, 8): biased variance (d/2)^2 = 2.25, 4, 6.25.
  check_values(x.var({0}, 0, true), {1, 3}, {2.25, 4, 6.25});
  check_values(x.std({0}, 0), {3}, {1.5, 2, 2.5});
  // {} is all dims, not dim 0: mean 4, squared deviations 9+4+1+0+4+16 = 34, / 5.
  check_values(x.var({}), {}, {34. / 5});
  check_values(x.var(), {}, {34. / 5});
  check_values(x.std({}, 0), {}, {std::sqrt(34. / 6)});
  // norm: 2-norm of everything sqrt(1+4+9+16+36+64) = sqrt(130); 1-norm per row 6, 18;
  // inf-norm per column 4, 6, 8.
  check_values(x.norm(), {}, {std::sqrt(130.0)});
  check_values(x.norm(1, 1), {2}, {6, 18});
  check_values(x.norm(std::numeric_limits<double>::infinity(), 0, true), {1, 3}, {4, 6, 8});
  check_values(x.norm(2, {0, 1}), {}, {std::sqrt(130.0)});
  // logsumexp per row: log(e + e^2 + e^3) = 3 + log(1 + e^-1 + e^-2).
  const double r0 = 3 + std::log(1 + std::exp(-1.0) + std::exp(-2.0));
  const double r1 = 8 + std::log(1 + std::exp(-2.0) + std::exp(-4.0));
  check_values(x.logsumexp(1), {2}, {r0, r1});
  check_values(x.logsumexp(-1, true), {2, 1}, {r0, r1});
  check_close(x.logsumexp(), logsumexp(x));
  // The member forms equal the free functions, also for the one-dim free overloads.
  check_close(x.std(0), xgrad::std(x, {0}));
  check_close(xgrad::std(x, 1), x.std({1}));
  check_close(var(x, std::int64_t{-1}, 0, true), x.var({1}, 0, true));
  check_close(logsumexp(x, 0, true), x.logsumexp({0}, true));
  check_close(norm(x, 1.0, 0), x.norm(1, {0}));
  // Other integer types are dims too.
  check_close(x.std(short{1}), x.std({1}));
  check_close(x.logsumexp(1u), x.logsumexp({1}));
}

BOOST_AUTO_TEST_CASE(member_forms_hand_derived_gradients) {
  Tensor x = f64({{1, 2, 3}, {4, 6, 8}});
  // d std / dx_i = (x_i - mean) / ((N - 1) std): row 0 (-1, 0, 1) / (2 * 1), row 1 (-2, 0, 2) / (2 * 2).
  check_values(grad_of([](const Tensor& t) { return t.std(1); }, x), {2, 3}, {-0.5, 0, 0.5, -0.5, 0, 0.5});
  // d var / dx_i = 2 (x_i - mean) / N (correction 0) over columns: (x_i - mean) = -+1.5, -+2, -+2.5.
  check_values(grad_of([](const Tensor& t) { return t.var({0}, 0, true); }, x), {2, 3}, {-1.5, -2, -2.5, 1.5, 2, 2.5});
  // d ||x||_1 / dx_i = sign(x_i); d ||x||_2 / dx_i = x_i / ||x||.
  check_values(grad_of([](const Tensor& t) { return t.norm(1, 0); }, f64({-1, 2})), {2}, {-1, 1});
  check_values(grad_of([](const Tensor& t) { return t.norm(); }, f64({3, 4})), {2}, {0.6, 0.8});
  // d lse / dx_i = softmax(x)_i: [0, ln 3] -> [1/4, 3/4].
  check_values(grad_of([](const Tensor& t) { return t.logsumexp(0); }, f64({0, std::log(3.0)})), {2}, {0.25, 0.75});
}

BOOST_AUTO_TEST_CASE(member_forms_gradcheck) {
  manual_seed(11);
  Tensor x = rand64({3, 4});
  check_gradcheck([](const std::vector<Tensor>& in) { return in[0].std(1); }, {x});
  check_gradcheck([](const std::vector<Tensor>& in) { return in[0].std(); }, {x});
  check_gradcheck([](const std::vector<Tensor>& in) { return in[0].var({0}, 0, true); }, {x});
  check_gradcheck([](const std::vector<Tensor>& in) { return in[0].var(-1, 2); }, {x});
  check_gradcheck([](const std::vector<Tensor>& in) { return in[0].norm(); }, {x});
  check_gradcheck([](const std::vector<Tensor>& in) { return in[0].norm(1, 0, true); }, {x});
  check_gradcheck([](const std::vector<Tensor>& in) { return in[0].logsumexp(1); }, {x});
  check_gradcheck([](const std::vector<Tensor>& in) { return in[0].logsumexp({0, 1}, true); }, {x});
}

BOOST_AUTO_TEST_CASE(member_forms_errors) {
  Tensor x = zeros({2, 3});
  XGRAD_CHECK_THROW_MSG(x.std(2), "std: dim 2 out of range for tensor of shape [2, 3]");
  XGRAD_CHECK_THROW_MSG(x.var({0, -2}), "var: dim -2 appears multiple times");
  XGRAD_CHECK_THROW_MSG(x.logsumexp(-3), "logsumexp: dim -3 out of range for tensor of shape [2, 3]");
  XGRAD_CHECK_THROW_MSG(x.norm(2, 4), "norm: dim 4 out of range");
  XGRAD_CHECK_THROW_MSG(arange(3.0, dtype(int64)).std(0), "std: expected a floating dtype");
  XGRAD_CHECK_THROW_MSG(Tensor().logsumexp(0), "logsumexp: expected a defined tensor");
}

// ---- arange(start, end) -----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(arange_start_end) {
  // Step 1 by default, end excluded, float32 unless the options say otherwise.
  Tensor a = arange(2, 7);
  BOOST_CHECK(a.dtype() == float32);
  BOOST_CHECK(a.to_vector<float>() == std::vector<float>({2, 3, 4, 5, 6}));
  BOOST_CHECK(arange(2.0, 7.0).to_vector<float>() == std::vector<float>({2, 3, 4, 5, 6}));
  BOOST_CHECK(arange(2.5, 5).to_vector<float>() == std::vector<float>({2.5, 3.5, 4.5}));
  BOOST_CHECK(arange(-2, 1, dtype(int64)).to_vector<std::int64_t>() == std::vector<std::int64_t>({-2, -1, 0}));
  BOOST_CHECK(arange(2, 7, dtype(float64)).to_vector<double>() == std::vector<double>({2, 3, 4, 5, 6}));
  BOOST_CHECK(arange(2, 7, TensorOptions().requires_grad()).requires_grad());
  BOOST_CHECK_EQUAL(arange(3, 3).numel(), 0);
  // The other forms are unchanged.
  BOOST_CHECK(arange(0, 10, 3).to_vector<float>() == std::vector<float>({0, 3, 6, 9}));
  BOOST_CHECK(arange(1, 0, -0.5, dtype(float64)).to_vector<double>() == std::vector<double>({1, 0.5}));
  BOOST_CHECK(arange(4, dtype(int64)).to_vector<std::int64_t>() == std::vector<std::int64_t>({0, 1, 2, 3}));
  BOOST_CHECK_EQUAL(arange(5).numel(), 5);
  XGRAD_CHECK_THROW_MSG(arange(7, 2), "arange: upper bound and step sign are inconsistent (start=7, end=2, step=1)");
}

BOOST_AUTO_TEST_SUITE_END()
