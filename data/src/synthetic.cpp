// Seeded synthetic data sets: linear regression, XOR, blobs, moons, spirals, circles.
#include "xgrad/data/synthetic.hpp"

#include <cmath>
#include <numbers>

#include <fmt/format.h>

#include "common.hpp"

namespace xgrad::data {

namespace {

constexpr double kPi = std::numbers::pi;

void check_n(std::string_view op, std::int64_t n) {
  if (n < 1) throw Error(fmt::format("{}: n must be at least 1, got {}", op, n));
}

void check_non_negative(std::string_view op, std::string_view what, double v) {
  if (!(v >= 0.0) || !std::isfinite(v))
    throw Error(fmt::format("{}: {} must be finite and non-negative, got {}", op, what, v));
}

/// Feature rows built in double, stored as float32 [n, cols] with their int64 labels, rows
/// permuted by `perm` (empty: kept in order).
SyntheticData finish(const std::vector<double>& x, const std::vector<std::int64_t>& y, std::int64_t cols,
                     const std::vector<std::int64_t>& perm) {
  const auto n = static_cast<std::int64_t>(y.size());
  SyntheticData out{xgrad::detail::make_tensor({n, cols}, Dtype::float32),
                    xgrad::detail::make_tensor({n}, Dtype::int64)};
  float* px = out.x.data_ptr<float>();
  std::int64_t* py = out.y.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < n; ++i) {
    const std::size_t src =
        perm.empty() ? static_cast<std::size_t>(i) : static_cast<std::size_t>(perm[static_cast<std::size_t>(i)]);
    for (std::int64_t c = 0; c < cols; ++c)
      px[i * cols + c] = static_cast<float>(x[src * static_cast<std::size_t>(cols) + static_cast<std::size_t>(c)]);
    py[i] = y[src];
  }
  return out;
}

/// Derives the seed of the row shuffle from the data seed (a different stream).
std::vector<std::int64_t> shuffle_rows(std::int64_t n, std::uint64_t seed) {
  return detail::permutation(n, seed ^ 0x9e3779b97f4a7c15ULL);
}

/// k-th of m values evenly spaced in [lo, hi] (numpy's linspace; m == 1 gives lo).
double linspace_at(double lo, double hi, std::int64_t k, std::int64_t m) {
  return m == 1 ? lo : lo + (hi - lo) * static_cast<double>(k) / static_cast<double>(m - 1);
}

}  // namespace

RegressionData make_linear_regression(std::int64_t n, std::int64_t n_features, double noise, std::uint64_t seed,
                                      double bias) {
  constexpr std::string_view op = "make_linear_regression";
  check_n(op, n);
  if (n_features < 1) throw Error(fmt::format("{}: n_features must be at least 1, got {}", op, n_features));
  check_non_negative(op, "noise", noise);
  detail::Rng rng(seed);
  RegressionData out;
  out.bias = bias;
  out.weights = xgrad::detail::make_tensor({n_features, 1}, Dtype::float32);
  out.x = xgrad::detail::make_tensor({n, n_features}, Dtype::float32);
  out.y = xgrad::detail::make_tensor({n, 1}, Dtype::float32);
  float* w = out.weights.data_ptr<float>();
  float* x = out.x.data_ptr<float>();
  float* y = out.y.data_ptr<float>();
  std::vector<double> wd(static_cast<std::size_t>(n_features));
  for (std::int64_t f = 0; f < n_features; ++f) {
    wd[static_cast<std::size_t>(f)] = rng.normal();
    w[f] = static_cast<float>(wd[static_cast<std::size_t>(f)]);
  }
  for (std::int64_t i = 0; i < n; ++i) {
    double acc = bias;
    for (std::int64_t f = 0; f < n_features; ++f) {
      const auto xv = static_cast<float>(rng.normal());
      x[i * n_features + f] = xv;
      acc += static_cast<double>(xv) * static_cast<double>(w[f]);
    }
    y[i] = static_cast<float>(acc + noise * rng.normal());
  }
  return out;
}

SyntheticData make_xor(std::int64_t n, double noise, std::uint64_t seed) {
  constexpr std::string_view op = "make_xor";
  check_n(op, n);
  check_non_negative(op, "noise", noise);
  detail::Rng rng(seed);
  std::vector<double> x(static_cast<std::size_t>(2 * n));
  std::vector<std::int64_t> y(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t corner = i % 4;
    const std::int64_t a = corner / 2;
    const std::int64_t b = corner % 2;
    x[static_cast<std::size_t>(2 * i)] = static_cast<double>(a) + noise * rng.normal();
    x[static_cast<std::size_t>(2 * i + 1)] = static_cast<double>(b) + noise * rng.normal();
    y[static_cast<std::size_t>(i)] = a ^ b;
  }
  return finish(x, y, 2, {});
}

BlobsData make_blobs(std::int64_t n, std::int64_t centers, std::int64_t n_features, double cluster_std,
                     std::uint64_t seed) {
  constexpr std::string_view op = "make_blobs";
  check_n(op, n);
  if (centers < 1) throw Error(fmt::format("{}: centers must be at least 1, got {}", op, centers));
  if (n_features < 1) throw Error(fmt::format("{}: n_features must be at least 1, got {}", op, n_features));
  check_non_negative(op, "cluster_std", cluster_std);
  detail::Rng rng(seed);
  const auto f = static_cast<std::size_t>(n_features);
  std::vector<double> c(static_cast<std::size_t>(centers) * f);
  for (double& v : c) v = rng.uniform(-10.0, 10.0);
  std::vector<double> x(static_cast<std::size_t>(n) * f);
  std::vector<std::int64_t> y(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    const auto k = static_cast<std::size_t>(i % centers);
    y[static_cast<std::size_t>(i)] = static_cast<std::int64_t>(k);
    for (std::size_t j = 0; j < f; ++j)
      x[static_cast<std::size_t>(i) * f + j] = c[k * f + j] + cluster_std * rng.normal();
  }
  BlobsData out;
  static_cast<SyntheticData&>(out) = finish(x, y, n_features, shuffle_rows(n, seed));
  out.centers = xgrad::detail::make_tensor({centers, n_features}, Dtype::float32);
  float* pc = out.centers.data_ptr<float>();
  for (std::size_t i = 0; i < c.size(); ++i) pc[i] = static_cast<float>(c[i]);
  return out;
}

SyntheticData make_moons(std::int64_t n, double noise, std::uint64_t seed) {
  constexpr std::string_view op = "make_moons";
  check_n(op, n);
  check_non_negative(op, "noise", noise);
  detail::Rng rng(seed);
  const std::int64_t n_out = n / 2;
  const std::int64_t n_in = n - n_out;
  std::vector<double> x(static_cast<std::size_t>(2 * n));
  std::vector<std::int64_t> y(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    const bool outer = i < n_out;
    const double t = outer ? linspace_at(0.0, kPi, i, n_out) : linspace_at(0.0, kPi, i - n_out, n_in);
    const double px = outer ? std::cos(t) : 1.0 - std::cos(t);
    const double py = outer ? std::sin(t) : 0.5 - std::sin(t);
    x[static_cast<std::size_t>(2 * i)] = px + noise * rng.normal();
    x[static_cast<std::size_t>(2 * i + 1)] = py + noise * rng.normal();
    y[static_cast<std::size_t>(i)] = outer ? 0 : 1;
  }
  return finish(x, y, 2, shuffle_rows(n, seed));
}

SyntheticData make_spirals(std::int64_t n, std::int64_t n_classes, double noise, std::uint64_t seed) {
  constexpr std::string_view op = "make_spirals";
  check_n(op, n);
  if (n_classes < 1) throw Error(fmt::format("{}: n_classes must be at least 1, got {}", op, n_classes));
  check_non_negative(op, "noise", noise);
  detail::Rng rng(seed);
  std::vector<double> x;
  std::vector<std::int64_t> y;
  x.reserve(static_cast<std::size_t>(2 * n));
  y.reserve(static_cast<std::size_t>(n));
  for (std::int64_t j = 0; j < n_classes; ++j) {
    const std::int64_t m = n / n_classes + (j < n % n_classes ? 1 : 0);
    for (std::int64_t k = 0; k < m; ++k) {
      const double r = static_cast<double>(k + 1) / static_cast<double>(m);
      const double t =
          2.0 * kPi * static_cast<double>(j) / static_cast<double>(n_classes) + 4.0 * r + noise * rng.normal();
      x.push_back(r * std::sin(t));
      x.push_back(r * std::cos(t));
      y.push_back(j);
    }
  }
  return finish(x, y, 2, shuffle_rows(n, seed));
}

SyntheticData make_circles(std::int64_t n, double noise, std::uint64_t seed, double factor) {
  constexpr std::string_view op = "make_circles";
  check_n(op, n);
  check_non_negative(op, "noise", noise);
  if (!(factor > 0.0 && factor < 1.0))
    throw Error(fmt::format("{}: factor must be in (0, 1) (inner radius / outer radius), got {}", op, factor));
  detail::Rng rng(seed);
  const std::int64_t n_out = n / 2;
  const std::int64_t n_in = n - n_out;
  std::vector<double> x(static_cast<std::size_t>(2 * n));
  std::vector<std::int64_t> y(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    const bool outer = i < n_out;
    const std::int64_t k = outer ? i : i - n_out;
    const std::int64_t m = outer ? n_out : n_in;
    const double t = 2.0 * kPi * static_cast<double>(k) / static_cast<double>(m);
    const double radius = outer ? 1.0 : factor;
    x[static_cast<std::size_t>(2 * i)] = radius * std::cos(t) + noise * rng.normal();
    x[static_cast<std::size_t>(2 * i + 1)] = radius * std::sin(t) + noise * rng.normal();
    y[static_cast<std::size_t>(i)] = outer ? 0 : 1;
  }
  return finish(x, y, 2, shuffle_rows(n, seed));
}

}  // namespace xgrad::data
