// Sorting, selection and scans (sorting.hpp): sort, argsort, topk, kthvalue, median, unique,
// cumsum, cumprod, logcumsumexp. Hand-derived values and gradients, stable ties, NaN and
// signed-zero order, empty and 0-d inputs, dtypes, error messages, agreement with a
// reference sort on large inputs (every code path: std::sort rows, radix rows, the split
// long row), and identical bits at 1 and 2 threads. Gradients on all input layouts are in
// test_op_db_sorting.cpp.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <tuple>

#include "test_util.hpp"
#include "xgrad/autograd/sorting.hpp"

using namespace xgrad;
using xgrad::test::check_close;
using xgrad::test::check_gradcheck;
using xgrad::test::check_gradgradcheck;
using xgrad::test::check_values;

namespace {

constexpr double kNan = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

Tensor f64(const std::vector<double>& v) { return from_vector<double>(v, {static_cast<std::int64_t>(v.size())}); }
/// With a shape; Shape{} makes a 0-d tensor of the one value.
Tensor f64(const std::vector<double>& v, const Shape& s) {
  return s.empty() ? scalar_tensor(v.at(0), dtype(float64)) : from_vector<double>(v, s);
}
Tensor f32(const std::vector<float>& v) { return from_vector<float>(v, {static_cast<std::int64_t>(v.size())}); }
Tensor i64(const std::vector<std::int64_t>& v, const Shape& s) { return from_vector<std::int64_t>(v, s); }

void check_indices(const Tensor& t, const Shape& shape, const std::vector<std::int64_t>& want) {
  BOOST_CHECK(t.dtype() == int64);
  BOOST_CHECK(!t.requires_grad());
  BOOST_REQUIRE_MESSAGE(t.shape() == shape,
                        "shape " << fmt::format("{}", t.shape()) << " != " << fmt::format("{}", shape));
  BOOST_CHECK(t.to_vector<std::int64_t>() == want);
}

/// Gradient of sum(w * f(x)) with respect to a leaf copy of x.
Tensor grad_of(const std::function<Tensor(const Tensor&)>& f, const Tensor& x, const Tensor& w) {
  Tensor leaf = x.detach().clone().requires_grad_(true);
  sum(mul(f(leaf), w)).backward();
  return leaf.grad();
}

/// The stable order of v (ascending, or descending), NaN largest, -0 == +0: the reference.
std::vector<std::int64_t> ref_order(const std::vector<double>& v, bool descending) {
  std::vector<std::int64_t> p(v.size());
  std::iota(p.begin(), p.end(), 0);
  auto less = [](double a, double b) { return !std::isnan(a) && (std::isnan(b) || a < b); };
  std::stable_sort(p.begin(), p.end(),
                   [&](std::int64_t a, std::int64_t b) { return descending ? less(v[b], v[a]) : less(v[a], v[b]); });
  return p;
}

/// Same bits (as float64: every dtype here converts exactly), NaN equal to NaN.
bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  const auto va = a.to(float64).to_vector<double>(), vb = b.to(float64).to_vector<double>();
  for (std::size_t i = 0; i < va.size(); ++i)
    if (!(std::isnan(va[i]) && std::isnan(vb[i])) && std::memcmp(&va[i], &vb[i], sizeof(double)) != 0) return false;
  return true;
}

/// Runs f at 1 and at 2 threads and checks that every tensor it returns has the same bits.
void check_thread_independent(const std::function<std::vector<Tensor>()>& f) {
  const int before = get_num_threads();
  set_num_threads(1);
  const auto one = f();
  set_num_threads(2);
  const auto two = f();
  set_num_threads(before);
  BOOST_REQUIRE_EQUAL(one.size(), two.size());
  for (std::size_t i = 0; i < one.size(); ++i) BOOST_CHECK_MESSAGE(same_bits(one[i], two[i]), "result " << i);
}

/// Random values with many ties (integers in [0, 20) as doubles, a few NaNs and signed zeros).
std::vector<double> tie_values(std::size_t n, std::uint64_t seed) {
  manual_seed(seed);
  auto r = randint(0, 23, {static_cast<std::int64_t>(n)}).to_vector<std::int64_t>();
  std::vector<double> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = r[i] == 20 ? kNan : r[i] == 21 ? -0.0 : r[i] == 22 ? 0.0 : double(r[i]);
  return v;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(sorting)

// ---- sort -------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(sort_values_and_indices) {
  auto [v, i] = sort(f64({3, 1, 2}));
  check_values(v, {3}, {1, 2, 3});
  check_indices(i, {3}, {1, 2, 0});
  auto [vd, id] = sort(f64({3, 1, 2}), -1, true);
  check_values(vd, {3}, {3, 2, 1});
  check_indices(id, {3}, {0, 2, 1});
  // 2-d along each dim (dim 0 walks strided columns)
  const Tensor x = f64({5, 1, 4, 2, 6, 0}, {2, 3});
  auto [v1, i1] = sort(x, 1);
  check_values(v1, {2, 3}, {1, 4, 5, 0, 2, 6});
  check_indices(i1, {2, 3}, {1, 2, 0, 2, 0, 1});
  auto [v0, i0] = sort(x, 0, true);
  check_values(v0, {2, 3}, {5, 6, 4, 2, 1, 0});
  check_indices(i0, {2, 3}, {0, 1, 0, 1, 0, 1});
  // a transposed view gives the same as its contiguous copy
  auto [vt, it] = sort(x.t(), 0);
  auto [vc, ic] = sort(x.t().contiguous(), 0);
  check_close(vt, vc, 0);
  BOOST_CHECK(it.to_vector<std::int64_t>() == ic.to_vector<std::int64_t>());
  BOOST_CHECK(argsort(x, 0, true).to_vector<std::int64_t>() == i0.to_vector<std::int64_t>());
}

BOOST_AUTO_TEST_CASE(sort_is_stable_both_ways) {
  const Tensor x = f64({2, 1, 2, 1, 2});
  check_indices(std::get<1>(sort(x)), {5}, {1, 3, 0, 2, 4});
  check_indices(std::get<1>(sort(x, 0, true)), {5}, {0, 2, 4, 1, 3});
  check_indices(argsort(x, 0, false, false), {5}, {1, 3, 0, 2, 4});  // stable = false: still stable
}

BOOST_AUTO_TEST_CASE(sort_nan_and_signed_zero) {
  const Tensor x = f64({kNan, 1, -kInf, kInf, kNan, -0.0, 0.0});
  auto [v, i] = sort(x);
  check_values(v, {7}, {-kInf, 0, 0, 1, kInf, kNan, kNan});
  check_indices(i, {7}, {2, 5, 6, 1, 3, 0, 4});
  BOOST_CHECK(std::signbit(v.to_vector<double>()[1]));  // -0.0 stays itself, first (input order)
  auto [vd, id] = sort(x, 0, true);
  check_values(vd, {7}, {kNan, kNan, kInf, 1, 0, 0, -kInf});
  check_indices(id, {7}, {0, 4, 3, 1, 5, 6, 2});
  // float32 takes the packed-key path
  check_indices(std::get<1>(sort(f32({NAN, -0.0f, 1.0f, 0.0f, -INFINITY}))), {5}, {4, 1, 3, 2, 0});
}

BOOST_AUTO_TEST_CASE(sort_dtypes) {
  auto [v, i] = sort(i64({3, -7, 3, 0}, {4}));
  BOOST_CHECK(v.dtype() == int64);
  BOOST_CHECK(v.to_vector<std::int64_t>() == (std::vector<std::int64_t>{-7, 0, 3, 3}));
  check_indices(i, {4}, {1, 3, 0, 2});
  auto [v32, i32] = sort(i64({3, -7, 3, 0}, {4}).to(int32), 0, true);
  BOOST_CHECK(v32.dtype() == int32);
  BOOST_CHECK(v32.to_vector<std::int32_t>() == (std::vector<std::int32_t>{3, 3, 0, -7}));
  check_indices(i32, {4}, {0, 2, 3, 1});
  auto [vb, ib] = sort(i64({1, 0, 1, 0}, {4}).to(boolean));
  BOOST_CHECK(vb.dtype() == boolean);
  check_indices(ib, {4}, {1, 3, 0, 2});
  // int64 extremes order correctly
  const std::int64_t lo = std::numeric_limits<std::int64_t>::min(), hi = std::numeric_limits<std::int64_t>::max();
  BOOST_CHECK(std::get<0>(sort(i64({hi, -1, lo, 0, 1}, {5}))).to_vector<std::int64_t>() ==
              (std::vector<std::int64_t>{lo, -1, 0, 1, hi}));
}

BOOST_AUTO_TEST_CASE(sort_empty_0d_and_errors) {
  auto [v, i] = sort(f64({4.5}, {}));
  check_values(v, {}, {4.5});
  check_indices(i, {}, {0});
  check_indices(std::get<1>(sort(f64({4.5}, {}), -1)), {}, {0});
  auto [ve, ie] = sort(zeros({2, 0}), 1);
  BOOST_CHECK(ve.shape() == (Shape{2, 0}));
  BOOST_CHECK(ie.shape() == (Shape{2, 0}));
  BOOST_CHECK(std::get<0>(sort(zeros({0, 3}), 1)).shape() == (Shape{0, 3}));
  XGRAD_CHECK_THROW_MSG(sort(zeros({2, 3}), 2), "sort: dim 2 out of range for tensor of shape [2, 3]");
  XGRAD_CHECK_THROW_MSG(argsort(zeros({}), 1), "argsort: dim 1 out of range");
  XGRAD_CHECK_THROW_MSG(sort(Tensor()), "sort");
}

// Rows of every length class (std::sort rows, radix rows, one long row split across tasks)
// and every key width, with many ties, NaNs and signed zeros, against a reference stable sort;
// the same bits at 1 and 2 threads.
BOOST_AUTO_TEST_CASE(sort_matches_reference_on_every_path) {
  for (const std::int64_t n : {1, 7, 2048, 2049, 5000, 200000}) {
    const auto v = tie_values(static_cast<std::size_t>(n), static_cast<std::uint64_t>(n));
    for (const Dtype dt : {float32, float64, int64, int32}) {
      Tensor x = from_vector<double>(v, {n});
      if (!is_floating(dt)) x = where(eq(x, x), x, full({n}, 7.0, dtype(float64)));  // no NaN for integers
      x = x.to(dt);
      const auto xv = x.to(float64).to_vector<double>();
      for (const bool desc : {false, true}) {
        BOOST_TEST_CONTEXT("n " << n << " dtype " << dtype_name(dt) << " descending " << desc) {
          auto [sv, si] = sort(x, 0, desc);
          const auto want = ref_order(xv, desc);
          BOOST_CHECK(si.to_vector<std::int64_t>() == want);
          const auto got = sv.to(float64).to_vector<double>();
          bool ok = true;
          for (std::size_t k = 0; k < want.size(); ++k)
            ok = ok && std::memcmp(&got[k], &xv[static_cast<std::size_t>(want[k])], sizeof(double)) == 0;
          BOOST_CHECK_MESSAGE(ok, "values are not x[indices]");
        }
      }
    }
  }
  const auto big = tie_values(300000, 3);
  const Tensor xf = from_vector<double>(big, {300000}).to(float32);
  const Tensor xd = from_vector<double>(big, {300000});
  check_thread_independent([&] {
    auto [a, b] = sort(xf);
    auto [c, d] = sort(xd, 0, true);
    return std::vector<Tensor>{a, b, c, d, argsort(xf.reshape({300, 1000}), 0)};
  });
}

BOOST_AUTO_TEST_CASE(sort_gradient_hand_derived) {
  // values = x[[1, 2, 0]] = [1, 2, 3]; L = sum(values * [1, 2, 3]) routes weight w_j to
  // x[indices[j]]: dL/dx = [3, 1, 2].
  const Tensor g = grad_of([](const Tensor& t) { return std::get<0>(sort(t)); }, f64({3, 1, 2}), f64({1, 2, 3}));
  check_values(g, {3}, {3, 1, 2});
  Tensor x = f64({3, 1, 2}).requires_grad_(true);
  auto [v, i] = sort(x);
  BOOST_CHECK(v.requires_grad());
  BOOST_CHECK(!i.requires_grad());
  BOOST_CHECK(!argsort(x).requires_grad());
  {
    NoGradGuard ng;
    BOOST_CHECK(!std::get<0>(sort(x)).requires_grad());
  }
}

// ---- topk -------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(topk_values_and_indices) {
  const Tensor x = f64({1, 5, 3, 4, 5, 0});
  auto [v, i] = topk(x, 3);
  check_values(v, {3}, {5, 5, 4});
  check_indices(i, {3}, {1, 4, 3});  // equal values: the earlier first
  auto [vs, is] = topk(x, 2, 0, false);
  check_values(vs, {2}, {0, 1});
  check_indices(is, {2}, {5, 0});
  // along dim 0 of a 2-d tensor, keeping the other dims
  const Tensor m = f64({5, 1, 4, 2, 6, 0}, {3, 2});
  auto [vm, im] = topk(m, 2, 0);
  check_values(vm, {2, 2}, {6, 2, 5, 1});
  check_indices(im, {2, 2}, {2, 1, 0, 0});
  // k = 0 and k = n
  BOOST_CHECK(std::get<0>(topk(x, 0)).shape() == (Shape{0}));
  check_indices(std::get<1>(topk(x, 6)), {6}, {1, 4, 3, 2, 0, 5});
  // NaN is the largest value
  check_indices(std::get<1>(topk(f64({1, kNan, 3, kNan}), 3)), {3}, {1, 3, 2});
  check_indices(std::get<1>(topk(f64({1, kNan, 3, kNan}), 3, -1, false)), {3}, {0, 2, 1});
  // 0-d
  auto [v0, i0] = topk(f64({2.5}, {}), 1);
  check_values(v0, {}, {2.5});
  check_indices(i0, {}, {0});
  // integers
  BOOST_CHECK(std::get<0>(topk(i64({4, 9, -2, 9}, {4}), 2)).to_vector<std::int64_t>() ==
              (std::vector<std::int64_t>{9, 9}));
}

BOOST_AUTO_TEST_CASE(topk_errors) {
  XGRAD_CHECK_THROW_MSG(topk(zeros({3, 5}), 6),
                        "topk: k (6) is out of range for dimension 1 of size 5 (tensor shape [3, 5])");
  XGRAD_CHECK_THROW_MSG(topk(zeros({3, 5}), -1, 0), "topk: k (-1) is out of range for dimension 0 of size 3");
  XGRAD_CHECK_THROW_MSG(topk(zeros({}), 2), "topk: k (2) is out of range for dimension 0 of size 1");
  XGRAD_CHECK_THROW_MSG(topk(zeros({3}), 1, 1), "topk: dim 1 out of range");
}

// Both selection paths (the heap for small k, nth_element for large k), with ties and NaNs,
// against the first k of the reference stable sort; the same bits at 1 and 2 threads.
BOOST_AUTO_TEST_CASE(topk_matches_reference) {
  const std::int64_t rows = 6, n = 1000;
  const auto v = tie_values(static_cast<std::size_t>(rows * n), 11);
  for (const Dtype dt : {float32, float64}) {
    const Tensor x = from_vector<double>(v, {rows, n}).to(dt);
    for (const std::int64_t k : {1, 5, 100, 999}) {
      for (const bool largest : {true, false}) {
        BOOST_TEST_CONTEXT("dtype " << dtype_name(dt) << " k " << k << " largest " << largest) {
          auto [tv, ti] = topk(x, k, 1, largest);
          const auto got = ti.to_vector<std::int64_t>();
          bool ok = true;
          for (std::int64_t r = 0; r < rows; ++r) {
            const std::vector<double> row(v.begin() + r * n, v.begin() + (r + 1) * n);
            const auto want = ref_order(row, largest);
            for (std::int64_t j = 0; j < k; ++j)
              ok = ok && got[static_cast<std::size_t>(r * k + j)] == want[static_cast<std::size_t>(j)];
          }
          BOOST_CHECK(ok);
        }
      }
    }
  }
  const Tensor big = randn({128, 10000});
  check_thread_independent([&] {
    auto [a, b] = topk(big, 5);
    auto [c, d] = topk(big.t(), 7, 0, false);
    return std::vector<Tensor>{a, b, c, d};
  });
}

BOOST_AUTO_TEST_CASE(topk_gradient_hand_derived) {
  // topk(x, 2) of [1, 5, 3, 4] = x[[1, 3]] = [5, 4]; L = 10 * 5 + 1 * 4: dL/dx = [0, 10, 0, 1].
  const Tensor g = grad_of([](const Tensor& t) { return std::get<0>(topk(t, 2)); }, f64({1, 5, 3, 4}), f64({10, 1}));
  check_values(g, {4}, {0, 10, 0, 1});
}

// ---- kthvalue / median -----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(kthvalue_values_and_indices) {
  // stable order of [3, 1, 2, 1]: (1, i1), (1, i3), (2, i2), (3, i0)
  const Tensor x = f64({3, 1, 2, 1});
  for (const auto& [k, val, idx] :
       std::vector<std::tuple<std::int64_t, double, std::int64_t>>{{1, 1, 1}, {2, 1, 3}, {3, 2, 2}, {4, 3, 0}}) {
    auto [v, i] = kthvalue(x, k);
    check_values(v, {}, {val});
    check_indices(i, {}, {idx});
  }
  const Tensor m = f64({5, 1, 4, 2, 6, 0}, {2, 3});
  auto [v1, i1] = kthvalue(m, 2, 1, true);
  check_values(v1, {2, 1}, {4, 2});
  check_indices(i1, {2, 1}, {2, 0});
  auto [v0, i0] = kthvalue(m, 1, 0);
  check_values(v0, {3}, {2, 1, 0});
  check_indices(i0, {3}, {1, 0, 1});
  check_values(std::get<0>(kthvalue(f64({kNan, 1, 2}), 3)), {}, {kNan});
  check_indices(std::get<1>(kthvalue(f64({kNan, 1, 2}), 3)), {}, {0});
  check_values(std::get<0>(kthvalue(f64({7}, {}), 1)), {}, {7});
  XGRAD_CHECK_THROW_MSG(kthvalue(x, 0), "kthvalue: k (0) is out of range for dimension 0 of size 4 (tensor shape [4])");
  XGRAD_CHECK_THROW_MSG(kthvalue(x, 5), "kthvalue: k (5) is out of range for dimension 0 of size 4");
  XGRAD_CHECK_THROW_MSG(kthvalue(zeros({2, 0}), 1), "kthvalue: k (1) is out of range for dimension 1 of size 0");
  // kthvalue of a row with a strided layout equals that of its copy
  auto [vt, it] = kthvalue(m.t(), 2, 0);
  check_values(vt, {2}, {4, 2});
  check_indices(it, {2}, {2, 0});
}

BOOST_AUTO_TEST_CASE(median_all_and_dim) {
  check_values(median(f64({4, 1, 3, 2})), {}, {2});  // lower median
  check_values(median(f64({4, 1, 3})), {}, {3});
  check_values(median(f64({4, kNan, 3})), {}, {kNan});
  check_values(median(f64({5}, {})), {}, {5});
  check_values(median(zeros({0})), {}, {kNan});
  BOOST_CHECK(median(zeros({0}, dtype(float32))).dtype() == float32);
  XGRAD_CHECK_THROW_MSG(median(zeros({2, 0}, dtype(int64))), "median: cannot take the median of an empty int64 tensor");
  BOOST_CHECK(median(i64({4, 1, 3, 2}, {2, 2})).item<std::int64_t>() == 2);

  const Tensor m = f64({1, 3, 2, kNan, 4, 1, 2, 3}, {2, 4});
  auto [v, i] = median(m, 1);
  check_values(v, {2}, {kNan, 2});
  check_indices(i, {2}, {3, 2});
  auto [vk, ik] = median(m, 0, true);
  check_values(vk, {1, 4}, {1, 1, 2, kNan});
  check_indices(ik, {1, 4}, {0, 1, 0, 0});  // ties: the earlier; NaN: its index
  auto [v0, i0] = median(f64({5}, {}), 0);
  check_values(v0, {}, {5});
  check_indices(i0, {}, {0});
  XGRAD_CHECK_THROW_MSG(median(zeros({3, 0}), 1),
                        "median: cannot take the median over an empty dimension 1 (tensor shape [3, 0])");
  XGRAD_CHECK_THROW_MSG(median(zeros({3}), -2), "median: dim -2 out of range");
}

BOOST_AUTO_TEST_CASE(selection_gradients_hand_derived) {
  // kthvalue(x, 2) of [3, 1, 2] = x[2] = 2: dL/dx = [0, 0, 1] times the weight 4.
  check_values(grad_of([](const Tensor& t) { return std::get<0>(kthvalue(t, 2)); }, f64({3, 1, 2}), f64({4}, {})), {3},
               {0, 0, 4});
  // median over dim 1 of [[3, 1, 2], [0, 5, 9]]: x[0, 2] = 2 and x[1, 1] = 5.
  check_values(
      grad_of([](const Tensor& t) { return std::get<0>(median(t, 1)); }, f64({3, 1, 2, 0, 5, 9}, {2, 3}), f64({1, 2})),
      {2, 3}, {0, 0, 1, 0, 2, 0});
  // median() of [1, 2, 2, 3, 5] is 2, held by x[1] and x[2]: the gradient splits evenly,
  // d median / dx = [0, 1/2, 1/2, 0, 0] (PyTorch's rule for median over all elements).
  check_values(grad_of([](const Tensor& t) { return median(t); }, f64({1, 2, 2, 3, 5}), f64({1}, {})), {5},
               {0, 0.5, 0.5, 0, 0});
  // ... while median(dim) sends it to the returned index only (position 2 of the stable
  // order: the second 2).
  check_values(grad_of([](const Tensor& t) { return std::get<0>(median(t, 0)); }, f64({1, 2, 2, 3, 5}), f64({1}, {})),
               {5}, {0, 0, 1, 0, 0});
  // A NaN median splits among the NaNs.
  check_values(grad_of([](const Tensor& t) { return median(t); }, f64({kNan, 2, kNan}), f64({1}, {})), {3},
               {0.5, 0, 0.5});
  // second order through the selection (double backward of the scatter)
  Tensor x = f64({3, 1, 2, 0, 5, 9}, {2, 3}).requires_grad_(true);
  check_gradgradcheck(
      [](const std::vector<Tensor>& in) { return std::get<0>(topk(in[0], 2, 1)) * in[0].narrow(1, 0, 2); }, {x});
}

// ---- unique -----------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(unique_sorted_inverse_counts) {
  const Tensor x = i64({3, 1, 3, 2, 1, 3}, {2, 3});
  auto [v, inv, cnt] = unique(x, true, true, true);
  BOOST_CHECK(v.dtype() == int64);
  BOOST_CHECK(v.to_vector<std::int64_t>() == (std::vector<std::int64_t>{1, 2, 3}));
  check_indices(inv, {2, 3}, {2, 0, 2, 1, 0, 2});
  check_indices(cnt, {3}, {2, 1, 3});
  auto [vu, invu, cntu] = unique(x, false, true, true);
  BOOST_CHECK(vu.to_vector<std::int64_t>() == (std::vector<std::int64_t>{3, 1, 2}));  // first occurrence
  check_indices(invu, {2, 3}, {0, 1, 0, 2, 1, 0});
  check_indices(cntu, {3}, {3, 2, 1});
  auto [vo, io, co] = unique(x);
  BOOST_CHECK(vo.shape() == (Shape{3}));
  BOOST_CHECK(!io.defined());
  BOOST_CHECK(!co.defined());
}

BOOST_AUTO_TEST_CASE(unique_nan_zero_empty_0d_and_grad) {
  auto [v, inv, cnt] = unique(f64({kNan, 1, -0.0, kNan, 0.0, 1}), true, true, true);
  check_values(v, {3}, {0, 1, kNan});                   // all NaNs are one value, -0.0 and +0.0 one value
  BOOST_CHECK(std::signbit(v.to_vector<double>()[0]));  // represented by the first, -0.0
  check_indices(inv, {6}, {2, 1, 0, 2, 0, 1});
  check_indices(cnt, {3}, {2, 2, 2});
  auto [ve, ie, ce] = unique(zeros({0, 3}), true, true, true);
  BOOST_CHECK(ve.shape() == (Shape{0}));
  BOOST_CHECK(ie.shape() == (Shape{0, 3}));
  BOOST_CHECK(ce.shape() == (Shape{0}));
  auto [v0, i0, c0] = unique(f64({4}, {}), true, true, true);
  check_values(v0, {1}, {4});
  check_indices(i0, {}, {0});
  check_indices(c0, {1}, {1});
  auto [vb, ib, cb] = unique(i64({1, 0, 1}, {3}).to(boolean), true, false, true);
  BOOST_CHECK(vb.dtype() == boolean);
  BOOST_CHECK(vb.to(int64).to_vector<std::int64_t>() == (std::vector<std::int64_t>{0, 1}));
  check_indices(cb, {2}, {1, 2});
  Tensor x = f64({2, 1, 2}).requires_grad_(true);
  BOOST_CHECK(!std::get<0>(unique(x)).requires_grad());
  const Tensor big = randint(0, 1000, {200000});
  check_thread_independent([&] {
    auto [a, b, c] = unique(big, true, true, true);
    auto [d, e, f] = unique(big.to(float32), false, true, true);
    return std::vector<Tensor>{a, b, c, d, e, f};
  });
  auto [bv, bi, bc] = unique(big, true, true, true);
  BOOST_CHECK_EQUAL(sum(bc).item<std::int64_t>(), 200000);
  check_close(index_select(bv, 0, bi.reshape({-1})).to(float64), big.to(float64), 0);
}

// ---- cumsum / cumprod / logcumsumexp --------------------------------------------------------

BOOST_AUTO_TEST_CASE(cumsum_values_dtypes_and_errors) {
  check_values(cumsum(f64({1, 2, 3, 4}), 0), {4}, {1, 3, 6, 10});
  const Tensor m = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  check_values(cumsum(m, 1), {2, 3}, {1, 3, 6, 4, 9, 15});
  check_values(cumsum(m, -2), {2, 3}, {1, 2, 3, 5, 7, 9});
  check_values(cumsum(m.t(), 1), {3, 2}, {1, 5, 2, 7, 3, 9});
  const Tensor ci = cumsum(i64({1, 2, 3}, {3}), 0);
  BOOST_CHECK(ci.dtype() == int64);
  BOOST_CHECK(ci.to_vector<std::int64_t>() == (std::vector<std::int64_t>{1, 3, 6}));
  BOOST_CHECK(cumsum(i64({1, 2, 3}, {3}).to(int32), 0).dtype() == int64);
  const Tensor cb = cumsum(i64({1, 0, 1, 1}, {4}).to(boolean), 0);
  BOOST_CHECK(cb.dtype() == int64);
  BOOST_CHECK(cb.to_vector<std::int64_t>() == (std::vector<std::int64_t>{1, 1, 2, 3}));
  BOOST_CHECK(cumsum(i64({1, 2}, {2}), 0, float64).dtype() == float64);
  check_values(cumsum(f64({2.5}, {}), 0), {}, {2.5});
  BOOST_CHECK(cumsum(zeros({0, 2}), 0).shape() == (Shape{0, 2}));
  BOOST_CHECK(cumsum(zeros({}), -1).shape() == Shape{});
  XGRAD_CHECK_THROW_MSG(cumsum(zeros({2, 3}), 2), "cumsum: dim 2 out of range for tensor of shape [2, 3]");
  XGRAD_CHECK_THROW_MSG(cumprod(zeros({2}), -2), "cumprod: dim -2 out of range");
  XGRAD_CHECK_THROW_MSG(logcumsumexp(zeros({2}), 1), "logcumsumexp: dim 1 out of range");
  // float32 accumulates in double: 1 + 1e8 - 1e8 rounds once per output, not per step
  const Tensor f = cumsum(f32({1e8f, 1.0f, 1.0f, -1e8f}), 0);
  BOOST_CHECK_EQUAL(f.to_vector<float>()[3], 2.0f);
}

BOOST_AUTO_TEST_CASE(cumprod_values_and_dtypes) {
  check_values(cumprod(f64({1, 2, 3, 4}), 0), {4}, {1, 2, 6, 24});
  check_values(cumprod(f64({2, 0, 3}), 0), {3}, {2, 0, 0});
  check_values(cumprod(f64({1, 2, 3, 4, 5, 6}, {2, 3}), 0), {2, 3}, {1, 2, 3, 4, 10, 18});
  const Tensor ci = cumprod(i64({2, 3, -1}, {3}).to(int32), 0);
  BOOST_CHECK(ci.dtype() == int64);
  BOOST_CHECK(ci.to_vector<std::int64_t>() == (std::vector<std::int64_t>{2, 6, -6}));
  BOOST_CHECK(cumprod(i64({1, 1}, {2}).to(boolean), 0).dtype() == int64);
}

BOOST_AUTO_TEST_CASE(logcumsumexp_values) {
  check_values(logcumsumexp(f64({0, 0, std::log(2.0)}), 0), {3}, {0, std::log(2.0), std::log(4.0)}, 1e-14);
  // no overflow: log(e^1000 + e^1000) = 1000 + log 2
  check_values(logcumsumexp(f64({1000, 1000}), 0), {2}, {1000, 1000 + std::log(2.0)}, 1e-14);
  check_values(logcumsumexp(f64({-kInf, -kInf, 0}), 0), {3}, {-kInf, -kInf, 0});
  check_values(logcumsumexp(f64({kInf, kInf, 1}), 0), {3}, {kInf, kInf, kInf});
  check_values(logcumsumexp(f64({1, kNan, 1}), 0), {3}, {1, kNan, kNan});
  const Tensor m = f64({0.5, -1, 2, 0.25, 3, -2}, {2, 3});
  check_close(logcumsumexp(m, 0), log(cumsum(exp(m), 0)), 1e-14);
  check_close(logcumsumexp(m, 1), log(cumsum(exp(m), 1)), 1e-14);
  BOOST_CHECK(logcumsumexp(zeros({3}, dtype(float32)), 0).dtype() == float32);
  XGRAD_CHECK_THROW_MSG(logcumsumexp(i64({1, 2}, {2}), 0),
                        "logcumsumexp: expected a floating dtype (float32 or float64), got int64");
}

BOOST_AUTO_TEST_CASE(scan_gradients_hand_derived) {
  // cumsum: L = sum_i w_i sum_{j <= i} x_j, so dL/dx_j = sum_{i >= j} w_i = [111, 110, 100].
  check_values(grad_of([](const Tensor& t) { return cumsum(t, 0); }, f64({1, 2, 3}), f64({1, 10, 100})), {3},
               {111, 110, 100});
  // cumprod of x = [2, 0, 3] is [2, 0, 0]; L = y0 + y1 + y2 = x0 + x0 x1 + x0 x1 x2:
  // dL/dx0 = 1 + x1 + x1 x2 = 1, dL/dx1 = x0 + x0 x2 = 8, dL/dx2 = x0 x1 = 0.
  check_values(grad_of([](const Tensor& t) { return cumprod(t, 0); }, f64({2, 0, 3}), f64({1, 1, 1})), {3}, {1, 8, 0});
  // logcumsumexp of [0, 0] is [0, log 2]; L = y0 + y1: dL/dx0 = 1 + e^0 / 2 = 1.5, dL/dx1 = 0.5.
  check_values(grad_of([](const Tensor& t) { return logcumsumexp(t, 0); }, f64({0, 0}), f64({1, 1})), {2}, {1.5, 0.5},
               1e-14);
  // ... with a negative weight: L = y0 - y1: dL/dx0 = 1 - 0.5, dL/dx1 = -0.5.
  check_values(grad_of([](const Tensor& t) { return logcumsumexp(t, 0); }, f64({0, 0}), f64({1, -1})), {2}, {0.5, -0.5},
               1e-14);
  // 0-d: the scans are the identity
  check_values(grad_of([](const Tensor& t) { return cumprod(t, 0); }, f64({3}, {}), f64({2}, {})), {}, {2});
}

// cumprod's gradient is exact with zeros in the input (one zero, two zeros, zeros at either
// end, along either dim), to second order.
BOOST_AUTO_TEST_CASE(cumprod_gradcheck_with_zeros) {
  const std::vector<Tensor> inputs = {f64({2, 0, 3, 0.5}), f64({0, 1.5, 0, 2}), f64({1.5, -2, 0.5, 0}),
                                      f64({0.5, 0, 2, -1, 0, 3}, {2, 3}), f64({0, 0, 1.5, 2, -0.5, 0}, {3, 2})};
  for (const auto& x0 : inputs) {
    for (std::int64_t d = 0; d < x0.dim(); ++d) {
      BOOST_TEST_CONTEXT("x " << to_string(x0) << " dim " << d) {
        Tensor x = x0.clone().requires_grad_(true);
        auto f = [d](const std::vector<Tensor>& in) { return cumprod(in[0], d); };
        check_gradcheck(f, {x});
        check_gradgradcheck(f, {x});
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(logcumsumexp_gradcheck_wide_range) {
  // values far apart (a naive exp would overflow in the gradient) and both signs of the
  // incoming gradient (gradgradcheck draws random ones)
  Tensor x = f64({-30, 2, 40, -1, 0.5, 45}, {2, 3}).requires_grad_(true);
  for (std::int64_t d : {0, 1}) {
    auto f = [d](const std::vector<Tensor>& in) { return logcumsumexp(in[0], d); };
    check_gradcheck(f, {x});
    check_gradgradcheck(f, {x});
  }
}

BOOST_AUTO_TEST_CASE(scans_thread_independent) {
  const Tensor x = randn({3, 200000}, dtype(float32));
  const Tensor y = randn({300, 700});
  check_thread_independent([&] {
    return std::vector<Tensor>{cumsum(x, 1), cumprod(add(x, 1.0), 1), logcumsumexp(x, 1), cumsum(y, 0),
                               logcumsumexp(y.t(), 1)};
  });
}

BOOST_AUTO_TEST_SUITE_END()
