// Synthetic data generators: shapes, dtypes, seeds, geometry, errors.
#include <cmath>
#include <set>

#include "test_util.hpp"
#include "xgrad/data.hpp"

using namespace xgrad;
using namespace xgrad::data;

namespace {

bool same(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  if (a.dtype() == int64) return a.to_vector<std::int64_t>() == b.to_vector<std::int64_t>();
  return a.to_vector<float>() == b.to_vector<float>();
}

void check_classification(const SyntheticData& d, std::int64_t n, std::int64_t features, std::int64_t classes) {
  BOOST_CHECK(d.x.shape() == Shape({n, features}));
  BOOST_CHECK(d.x.dtype() == float32);
  BOOST_CHECK(d.y.shape() == Shape({n}));
  BOOST_CHECK(d.y.dtype() == int64);
  std::vector<std::int64_t> counts(static_cast<std::size_t>(classes), 0);
  for (std::int64_t l : d.y.to_vector<std::int64_t>()) {
    BOOST_REQUIRE(l >= 0 && l < classes);
    ++counts[static_cast<std::size_t>(l)];
  }
  // Balanced: class sizes differ by at most one.
  const auto [lo, hi] = std::minmax_element(counts.begin(), counts.end());
  BOOST_CHECK_LE(*hi - *lo, 1);
}

/// The generator is reproducible, depends on its seed, and leaves the global generator alone.
template <class F>
void check_seeding(const F& make) {
  manual_seed(77);
  const std::uint64_t expected_next = random_u64();
  manual_seed(77);
  auto a = make(1);
  BOOST_CHECK_EQUAL(random_u64(), expected_next);
  auto b = make(1);
  auto c = make(2);
  BOOST_CHECK(same(a.x, b.x));
  BOOST_CHECK(same(a.y, b.y));
  BOOST_CHECK(!same(a.x, c.x));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(synthetic)

BOOST_AUTO_TEST_CASE(linear_regression) {
  auto d = make_linear_regression(200, 3, 0.0, 5, 1.5);
  BOOST_CHECK(d.x.shape() == Shape({200, 3}));
  BOOST_CHECK(d.y.shape() == Shape({200, 1}));
  BOOST_CHECK(d.weights.shape() == Shape({3, 1}));
  BOOST_CHECK(d.x.dtype() == float32 && d.y.dtype() == float32 && d.weights.dtype() == float32);
  BOOST_CHECK_EQUAL(d.bias, 1.5);
  // Without noise y = x w + b exactly (to float rounding).
  xgrad::test::check_close(d.y, d.x.matmul(d.weights) + 1.5, 1e-5);
  // With noise the residuals have standard deviation ~ noise.
  auto noisy = make_linear_regression(20000, 2, 0.5, 6);
  Tensor r = noisy.y - noisy.x.matmul(noisy.weights);
  BOOST_CHECK_SMALL(r.mean().item<double>(), 0.02);
  BOOST_CHECK_CLOSE(std::sqrt((r * r).mean().item<double>()), 0.5, 3.0);  // percent
  // x ~ N(0, 1).
  BOOST_CHECK_CLOSE((noisy.x * noisy.x).mean().item<double>(), 1.0, 3.0);
  check_seeding([](std::uint64_t s) { return make_linear_regression(50, 4, 0.1, s); });
  auto w1 = make_linear_regression(10, 4, 0.1, 9).weights, w2 = make_linear_regression(10, 4, 0.1, 9).weights;
  BOOST_CHECK(same(w1, w2));
}

BOOST_AUTO_TEST_CASE(xor_truth_table) {
  auto d = make_xor(4, 0.0, 0);
  check_classification(d, 4, 2, 2);
  BOOST_CHECK((d.x.to_vector<float>() == std::vector<float>{0, 0, 0, 1, 1, 0, 1, 1}));
  BOOST_CHECK((d.y.to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 1, 1, 0}));
  // With noise the points scatter around the corners; the labels stay the truth table.
  auto noisy = make_xor(400, 0.1, 3);
  check_classification(noisy, 400, 2, 2);
  const auto x = noisy.x.to_vector<float>();
  const auto y = noisy.y.to_vector<std::int64_t>();
  double worst = 0;
  for (std::size_t i = 0; i < y.size(); ++i) {
    const double a = (i % 4) / 2, b = (i % 4) % 2;
    BOOST_CHECK_EQUAL(y[i], static_cast<std::int64_t>(a) ^ static_cast<std::int64_t>(b));
    worst = std::max({worst, std::fabs(x[2 * i] - a), std::fabs(x[2 * i + 1] - b)});
  }
  BOOST_CHECK_GT(worst, 0.05);
  BOOST_CHECK_LT(worst, 0.6);
  check_seeding([](std::uint64_t s) { return make_xor(40, 0.2, s); });
}

BOOST_AUTO_TEST_CASE(blobs_near_centers) {
  auto d = make_blobs(3000, 3, 4, 0.5, 21);
  check_classification(d, 3000, 4, 3);
  BOOST_CHECK(d.centers.shape() == Shape({3, 4}));
  for (float c : d.centers.to_vector<float>()) BOOST_CHECK(c >= -10.0f && c < 10.0f);
  // Each cluster's mean is its centre and its spread cluster_std.
  const auto x = d.x.to_vector<float>();
  const auto y = d.y.to_vector<std::int64_t>();
  const auto c = d.centers.to_vector<float>();
  std::vector<double> sum(12, 0.0), sq(12, 0.0);
  std::vector<double> count(3, 0.0);
  for (std::size_t i = 0; i < y.size(); ++i) {
    const auto k = static_cast<std::size_t>(y[i]);
    count[k] += 1;
    for (std::size_t j = 0; j < 4; ++j) {
      const double dv = x[i * 4 + j] - c[k * 4 + j];
      sum[k * 4 + j] += dv;
      sq[k * 4 + j] += dv * dv;
    }
  }
  for (std::size_t k = 0; k < 3; ++k)
    for (std::size_t j = 0; j < 4; ++j) {
      BOOST_CHECK_SMALL(sum[k * 4 + j] / count[k], 0.06);
      BOOST_CHECK_CLOSE(std::sqrt(sq[k * 4 + j] / count[k]), 0.5, 8.0);
    }
  // Rows are shuffled: the labels are not simply 0, 1, 2, 0, 1, 2 ...
  bool cyclic = true;
  for (std::size_t i = 0; i < 30; ++i) cyclic = cyclic && y[i] == static_cast<std::int64_t>(i % 3);
  BOOST_CHECK(!cyclic);
  check_seeding([](std::uint64_t s) { return make_blobs(30, 2, 2, 1.0, s); });
}

BOOST_AUTO_TEST_CASE(moons_geometry) {
  auto d = make_moons(101, 0.0, 4);
  check_classification(d, 101, 2, 2);
  const auto x = d.x.to_vector<float>();
  const auto y = d.y.to_vector<std::int64_t>();
  std::int64_t zeros = 0;
  for (std::size_t i = 0; i < y.size(); ++i) {
    const double px = x[2 * i], py = x[2 * i + 1];
    if (y[i] == 0) {
      ++zeros;
      BOOST_CHECK_CLOSE(px * px + py * py, 1.0, 1e-4);  // upper moon: unit circle, y >= 0
      BOOST_CHECK_GE(py, -1e-6);
    } else {
      BOOST_CHECK_CLOSE((px - 1) * (px - 1) + (py - 0.5) * (py - 0.5), 1.0, 1e-4);  // lower moon
      BOOST_CHECK_LE(py, 0.5 + 1e-6);
    }
  }
  BOOST_CHECK_EQUAL(zeros, 50);  // n / 2 rounded down
  check_seeding([](std::uint64_t s) { return make_moons(40, 0.1, s); });
}

BOOST_AUTO_TEST_CASE(spirals_geometry) {
  auto d = make_spirals(301, 3, 0.2, 8);
  check_classification(d, 301, 2, 3);
  // The noise only turns the points: each class's radii are exactly (k + 1) / m.
  const auto x = d.x.to_vector<float>();
  const auto y = d.y.to_vector<std::int64_t>();
  std::vector<std::multiset<long>> radii(3);
  for (std::size_t i = 0; i < y.size(); ++i)
    radii[static_cast<std::size_t>(y[i])].insert(std::lround(std::hypot(x[2 * i], x[2 * i + 1]) * 1e4));
  const std::vector<std::int64_t> m = {101, 100, 100};
  for (std::size_t j = 0; j < 3; ++j) {
    BOOST_REQUIRE_EQUAL(static_cast<std::int64_t>(radii[j].size()), m[j]);
    std::multiset<long> expected;
    for (std::int64_t k = 0; k < m[j]; ++k) expected.insert(std::lround(static_cast<double>(k + 1) / m[j] * 1e4));
    BOOST_CHECK(radii[j] == expected);
  }
  // Without noise, point k of class j has angle 2 pi j / 3 + 4 r: check the outermost of class 1.
  auto clean = make_spirals(30, 3, 0.0, 1);
  const auto cx = clean.x.to_vector<float>();
  const auto cy = clean.y.to_vector<std::int64_t>();
  bool found = false;
  for (std::size_t i = 0; i < cy.size(); ++i)
    if (cy[i] == 1 && std::hypot(cx[2 * i], cx[2 * i + 1]) > 0.999) {
      const double t = 2 * M_PI / 3 + 4.0;
      BOOST_CHECK_CLOSE(cx[2 * i], std::sin(t), 1e-3);
      BOOST_CHECK_CLOSE(cx[2 * i + 1], std::cos(t), 1e-3);
      found = true;
    }
  BOOST_CHECK(found);
  check_seeding([](std::uint64_t s) { return make_spirals(60, 2, 0.1, s); });
}

BOOST_AUTO_TEST_CASE(circles_radii) {
  for (double factor : {0.8, 0.3}) {
    auto d = factor == 0.8 ? make_circles(200, 0.0, 2) : make_circles(200, 0.0, 2, factor);
    check_classification(d, 200, 2, 2);
    const auto x = d.x.to_vector<float>();
    const auto y = d.y.to_vector<std::int64_t>();
    for (std::size_t i = 0; i < y.size(); ++i)
      BOOST_CHECK_CLOSE(std::hypot(x[2 * i], x[2 * i + 1]), y[i] == 0 ? 1.0 : factor, 1e-4);
  }
  // Noise spreads the radii.
  auto noisy = make_circles(1000, 0.05, 3);
  const auto x = noisy.x.to_vector<float>();
  double max_dev = 0;
  for (std::size_t i = 0; i < 1000; ++i)
    max_dev = std::max(max_dev, std::fabs(std::hypot(x[2 * i], x[2 * i + 1]) -
                                          (noisy.y.to_vector<std::int64_t>()[i] == 0 ? 1.0 : 0.8)));
  BOOST_CHECK_GT(max_dev, 0.05);
  BOOST_CHECK_LT(max_dev, 0.4);
  check_seeding([](std::uint64_t s) { return make_circles(40, 0.1, s); });
}

BOOST_AUTO_TEST_CASE(single_point_sets) {
  check_classification(make_circles(1, 0.0, 0), 1, 2, 2);
  check_classification(make_moons(1, 0.0, 0), 1, 2, 2);
  BOOST_CHECK(make_spirals(2, 5, 0.0, 0).x.shape() == Shape({2, 2}));
  BOOST_CHECK(make_blobs(1, 3, 2, 1.0, 0).x.shape() == Shape({1, 2}));
}

BOOST_AUTO_TEST_CASE(errors) {
  XGRAD_CHECK_THROW_MSG(make_linear_regression(0, 2, 0.1, 0), "make_linear_regression: n must be at least 1, got 0");
  XGRAD_CHECK_THROW_MSG(make_linear_regression(5, 0, 0.1, 0), "n_features must be at least 1, got 0");
  XGRAD_CHECK_THROW_MSG(make_xor(4, -0.1, 0), "make_xor: noise must be finite and non-negative, got -0.1");
  XGRAD_CHECK_THROW_MSG(make_blobs(10, 0, 2, 1.0, 0), "make_blobs: centers must be at least 1, got 0");
  XGRAD_CHECK_THROW_MSG(make_blobs(10, 2, 2, -1.0, 0), "cluster_std must be finite and non-negative");
  XGRAD_CHECK_THROW_MSG(make_moons(-3, 0.1, 0), "make_moons: n must be at least 1, got -3");
  XGRAD_CHECK_THROW_MSG(make_spirals(10, 0, 0.1, 0), "make_spirals: n_classes must be at least 1, got 0");
  XGRAD_CHECK_THROW_MSG(make_circles(10, 0.1, 0, 1.0), "make_circles: factor must be in (0, 1)");
  XGRAD_CHECK_THROW_MSG(make_circles(10, 0.1, 0, 0.0), "got 0");
  XGRAD_CHECK_THROW_MSG(make_circles(10, NAN, 0), "noise must be finite and non-negative, got nan");
}

BOOST_AUTO_TEST_SUITE_END()
