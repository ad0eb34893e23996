#include <cmath>

#include "test_util.hpp"
#include "xgrad/nn/init.hpp"

using namespace xgrad;
namespace init = xgrad::nn::init;

namespace {

struct Stats {
  double mean, std, min, max;
};

Stats stats(const Tensor& t) {
  const auto v = t.detach().to(float64).to_vector<double>();
  double s = 0, mn = v.at(0), mx = v.at(0);
  for (double x : v) {
    s += x;
    mn = std::min(mn, x);
    mx = std::max(mx, x);
  }
  const double mean = s / static_cast<double>(v.size());
  double ss = 0;
  for (double x : v) ss += (x - mean) * (x - mean);
  return {mean, std::sqrt(ss / static_cast<double>(v.size() - 1)), mn, mx};
}

// Mean within 2% of the expected std of the expected mean, std within 2% (256 x 512 = 131072
// samples: the standard errors are about 0.3% and 0.2%).
void check_moments(const Tensor& t, double mean, double std) {
  const Stats s = stats(t);
  BOOST_CHECK_MESSAGE(std::fabs(s.mean - mean) <= 0.02 * std, "mean " << s.mean << " expected " << mean);
  BOOST_CHECK_MESSAGE(std::fabs(s.std - std) <= 0.02 * std, "std " << s.std << " expected " << std);
}

// Every value in [-bound, bound] (in the tensor's precision) and the extremes close to it, so
// a too small bound fails as well as a too large one.
void check_symmetric_bound(const Tensor& t, double bound) {
  const double b = t.dtype() == float32 ? static_cast<double>(static_cast<float>(bound)) : bound;
  const Stats s = stats(t);
  BOOST_CHECK_MESSAGE(s.max <= b && s.min >= -b, "values [" << s.min << ", " << s.max << "] outside +-" << b);
  BOOST_CHECK_MESSAGE(s.max > 0.99 * b && s.min < -0.99 * b,
                      "values [" << s.min << ", " << s.max << "] do not reach +-" << b);
}

double phi(double x) { return std::exp(-0.5 * x * x) / std::sqrt(2.0 * M_PI); }
double Phi(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

}  // namespace

BOOST_AUTO_TEST_SUITE(init_)

BOOST_AUTO_TEST_CASE(gains) {
  for (const char* f :
       {"linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "sigmoid"})
    BOOST_CHECK_EQUAL(init::calculate_gain(f), 1.0);
  BOOST_CHECK_CLOSE(init::calculate_gain("tanh"), 5.0 / 3.0, 1e-12);
  BOOST_CHECK_CLOSE(init::calculate_gain("relu"), std::sqrt(2.0), 1e-12);
  BOOST_CHECK_CLOSE(init::calculate_gain("selu"), 0.75, 1e-12);
  // leaky_relu: sqrt(2 / (1 + slope^2)), slope 0.01 by default.
  BOOST_CHECK_CLOSE(init::calculate_gain("leaky_relu"), std::sqrt(2.0 / 1.0001), 1e-12);
  BOOST_CHECK_CLOSE(init::calculate_gain("leaky_relu", 0.0), std::sqrt(2.0), 1e-12);
  BOOST_CHECK_CLOSE(init::calculate_gain("leaky_relu", std::sqrt(5.0)), std::sqrt(1.0 / 3.0), 1e-12);
  BOOST_CHECK_CLOSE(init::calculate_gain("leaky_relu", 1.0), 1.0, 1e-12);
  BOOST_CHECK_EQUAL(init::calculate_gain("relu", 123.0), std::sqrt(2.0));  // param ignored
  XGRAD_CHECK_THROW_MSG(init::calculate_gain("swish"), "calculate_gain: unsupported nonlinearity 'swish'");
}

BOOST_AUTO_TEST_CASE(fans) {
  // Linear weight [out, in]: fan_in = in, fan_out = out.
  BOOST_CHECK((init::calculate_fan_in_and_fan_out(empty({3, 5})) == std::pair<std::int64_t, std::int64_t>{5, 3}));
  // Conv2d weight [out=16, in=8, 3, 3]: receptive field 9.
  BOOST_CHECK(
      (init::calculate_fan_in_and_fan_out(empty({16, 8, 3, 3})) == std::pair<std::int64_t, std::int64_t>{72, 144}));
  BOOST_CHECK((init::calculate_fan_in_and_fan_out(empty({4, 2, 5})) == std::pair<std::int64_t, std::int64_t>{10, 20}));
  BOOST_CHECK((init::calculate_fan_in_and_fan_out(empty({0, 7})) == std::pair<std::int64_t, std::int64_t>{7, 0}));
  XGRAD_CHECK_THROW_MSG(
      init::calculate_fan_in_and_fan_out(empty({5})),
      "fan in and fan out can not be computed for a tensor with fewer than 2 dimensions (got shape [5])");
  XGRAD_CHECK_THROW_MSG(init::calculate_fan_in_and_fan_out(scalar_tensor(1.0)), "fewer than 2 dimensions");
  XGRAD_CHECK_THROW_MSG(init::calculate_fan_in_and_fan_out(Tensor()), "calculate_fan_in_and_fan_out");
}

BOOST_AUTO_TEST_CASE(uniform_and_normal) {
  manual_seed(1);
  for (Dtype d : {float32, float64}) {
    Tensor t = empty({256, 512}, dtype(d));
    init::uniform_(t, -0.5, 1.5);
    const Stats s = stats(t);
    BOOST_CHECK(s.min >= -0.5 && s.max < 1.5);
    BOOST_CHECK(s.min < -0.49 && s.max > 1.49);
    check_moments(t, 0.5, 2.0 / std::sqrt(12.0));  // U[a, b): mean (a+b)/2, std (b-a)/sqrt(12)

    init::uniform_(t);  // default U[0, 1)
    BOOST_CHECK(stats(t).min >= 0.0 && stats(t).max < 1.0);
    check_moments(t, 0.5, 1.0 / std::sqrt(12.0));

    init::normal_(t, 3.0, 0.25);
    check_moments(t, 3.0, 0.25);
    init::normal_(t);
    check_moments(t, 0.0, 1.0);
  }
  Tensor t = empty({2, 2});
  init::uniform_(t, 2.0, 2.0);  // a == b: the constant a
  BOOST_CHECK(t.to_vector<float>() == std::vector<float>(4, 2.0f));
  init::normal_(t, -1.0, 0.0);
  BOOST_CHECK(t.to_vector<float>() == std::vector<float>(4, -1.0f));
  XGRAD_CHECK_THROW_MSG(init::uniform_(t, 1.0, 0.0), "nn::init::uniform_: expected a <= b, got a=1 b=0");
  XGRAD_CHECK_THROW_MSG(init::normal_(t, 0.0, -1.0), "nn::init::normal_: expected std >= 0, got -1");
  XGRAD_CHECK_THROW_MSG(init::uniform_(zeros({2}, dtype(int64))), "uniform_: expected a float32 or float64 tensor");
  XGRAD_CHECK_THROW_MSG(init::normal_(Tensor()), "nn::init::normal_");
}

BOOST_AUTO_TEST_CASE(constants) {
  Tensor t = empty({3, 4});
  BOOST_CHECK(init::constant_(t, 0.25).is_same(t));
  BOOST_CHECK(t.to_vector<float>() == std::vector<float>(12, 0.25f));
  init::ones_(t);
  BOOST_CHECK(t.to_vector<float>() == std::vector<float>(12, 1.0f));
  init::zeros_(t);
  BOOST_CHECK(t.to_vector<float>() == std::vector<float>(12, 0.0f));
  Tensor i = empty({5}, dtype(int64));
  init::constant_(i, 7);
  BOOST_CHECK(i.to_vector<std::int64_t>() == std::vector<std::int64_t>(5, 7));
  Tensor big = empty({300, 200}, dtype(float64));  // the parallel path
  init::constant_(big, -2.5);
  const Stats s = stats(big);
  BOOST_CHECK(s.min == -2.5 && s.max == -2.5);
  XGRAD_CHECK_THROW_MSG(init::zeros_(Tensor()), "nn::init::zeros_");
}

BOOST_AUTO_TEST_CASE(xavier) {
  manual_seed(2);
  for (Dtype d : {float32, float64}) {
    // [256, 512]: fan_in 512, fan_out 256.
    Tensor w = empty({256, 512}, dtype(d));
    init::xavier_uniform_(w);
    const double bound = std::sqrt(6.0 / 768.0);
    check_symmetric_bound(w, bound);
    check_moments(w, 0.0, bound / std::sqrt(3.0));
    init::xavier_uniform_(w, init::calculate_gain("tanh"));
    check_symmetric_bound(w, 5.0 / 3.0 * bound);

    init::xavier_normal_(w);
    check_moments(w, 0.0, std::sqrt(2.0 / 768.0));
    init::xavier_normal_(w, 2.0);
    check_moments(w, 0.0, 2.0 * std::sqrt(2.0 / 768.0));
  }
  // Conv weight [64, 32, 8, 8]: fan_in 2048, fan_out 4096.
  Tensor c = empty({64, 32, 8, 8});
  init::xavier_uniform_(c);
  check_symmetric_bound(c, std::sqrt(6.0 / 6144.0));
  check_moments(c, 0.0, std::sqrt(2.0 / 6144.0));

  XGRAD_CHECK_THROW_MSG(init::xavier_uniform_(empty({5})),
                        "nn::init::xavier_uniform_: fan in and fan out can not be computed for a tensor with fewer "
                        "than 2 dimensions (got shape [5])");
  XGRAD_CHECK_THROW_MSG(init::xavier_normal_(empty({5})), "nn::init::xavier_normal_: fan in and fan out");
  XGRAD_CHECK_THROW_MSG(init::xavier_uniform_(zeros({2, 2}, dtype(int64))),
                        "xavier_uniform_: expected a float32 or float64 tensor");
}

BOOST_AUTO_TEST_CASE(kaiming) {
  manual_seed(3);
  for (Dtype d : {float32, float64}) {
    Tensor w = empty({256, 512}, dtype(d));
    // Defaults a = 0, fan_in, leaky_relu: gain sqrt(2), bound = sqrt(2) * sqrt(3 / 512).
    init::kaiming_uniform_(w);
    check_symmetric_bound(w, std::sqrt(6.0 / 512.0));
    check_moments(w, 0.0, std::sqrt(2.0 / 512.0));
    // fan_out: fan = 256.
    init::kaiming_uniform_(w, 0.0, "fan_out", "relu");
    check_symmetric_bound(w, std::sqrt(6.0 / 256.0));
    // nn::Linear's default a = sqrt(5): gain sqrt(1/3), bound = 1 / sqrt(fan_in).
    init::kaiming_uniform_(w, std::sqrt(5.0));
    check_symmetric_bound(w, 1.0 / std::sqrt(512.0));
    // Linear nonlinearity: gain 1, a is ignored.
    init::kaiming_uniform_(w, 0.5, "fan_in", "linear");
    check_symmetric_bound(w, std::sqrt(3.0 / 512.0));

    init::kaiming_normal_(w);
    check_moments(w, 0.0, std::sqrt(2.0 / 512.0));
    init::kaiming_normal_(w, 0.0, "fan_out", "relu");
    check_moments(w, 0.0, std::sqrt(2.0 / 256.0));
    init::kaiming_normal_(w, 0.2, "fan_in", "leaky_relu");
    check_moments(w, 0.0, std::sqrt(2.0 / 1.04) / std::sqrt(512.0));
    init::kaiming_normal_(w, 0.0, "fan_in", "tanh");
    check_moments(w, 0.0, 5.0 / 3.0 / std::sqrt(512.0));
  }
  // Conv weight [128, 16, 4, 4]: fan_in 256, fan_out 2048.
  Tensor c = empty({128, 16, 4, 4});
  init::kaiming_uniform_(c, 0.0, "fan_in", "relu");
  check_symmetric_bound(c, std::sqrt(6.0 / 256.0));
  init::kaiming_normal_(c, 0.0, "fan_out", "relu");
  check_moments(c, 0.0, std::sqrt(2.0 / 2048.0));

  // Zero-element tensors are left alone (no division by a zero fan).
  Tensor z = empty({0, 4});
  BOOST_CHECK(init::kaiming_uniform_(z, 0.0, "fan_out").is_same(z));

  XGRAD_CHECK_THROW_MSG(init::kaiming_uniform_(empty({3, 3}), 0.0, "fan_avg"),
                        "nn::init::kaiming_uniform_: mode must be 'fan_in' or 'fan_out', got 'fan_avg'");
  XGRAD_CHECK_THROW_MSG(init::kaiming_normal_(empty({3, 3}), 0.0, "fan_in", "gelu"),
                        "nn::init::kaiming_normal_: unsupported nonlinearity 'gelu'");
  XGRAD_CHECK_THROW_MSG(init::kaiming_uniform_(empty({7})), "kaiming_uniform_: fan in and fan out can not be computed");
  XGRAD_CHECK_THROW_MSG(init::kaiming_normal_(Tensor()), "nn::init::kaiming_normal_");
}

BOOST_AUTO_TEST_CASE(trunc_normal) {
  manual_seed(4);
  // Moments of N(mu, sigma^2) truncated to [a, b], with alpha = (a-mu)/sigma, beta = (b-mu)/sigma,
  // Z = Phi(beta) - Phi(alpha):
  //   mean = mu + sigma (phi(alpha) - phi(beta)) / Z
  //   var  = sigma^2 [1 + (alpha phi(alpha) - beta phi(beta)) / Z - ((phi(alpha) - phi(beta)) / Z)^2]
  struct Case {
    double mu, sigma, a, b;
  };
  for (const Case c : {Case{0, 1, -2, 2}, Case{1, 2, 0, 3}, Case{0, 0.02, -0.04, 0.04}, Case{0, 1, 2.5, 10}}) {
    BOOST_TEST_CONTEXT("mu=" << c.mu << " sigma=" << c.sigma << " a=" << c.a << " b=" << c.b) {
      const double al = (c.a - c.mu) / c.sigma, be = (c.b - c.mu) / c.sigma, Z = Phi(be) - Phi(al);
      const double m = c.mu + c.sigma * (phi(al) - phi(be)) / Z;
      const double r = (phi(al) - phi(be)) / Z;
      const double sd = c.sigma * std::sqrt(1.0 + (al * phi(al) - be * phi(be)) / Z - r * r);
      for (Dtype d : {float32, float64}) {
        Tensor t = empty({256, 512}, dtype(d));
        init::trunc_normal_(t, c.mu, c.sigma, c.a, c.b);
        const Stats s = stats(t);
        BOOST_CHECK(s.min >= c.a && s.max <= c.b);
        check_moments(t, m, sd);
      }
    }
  }
  Tensor t = empty({4});
  init::trunc_normal_(t);  // defaults: N(0, 1) in [-2, 2]
  for (float v : t.to_vector<float>()) BOOST_CHECK(v >= -2.0f && v <= 2.0f);
  XGRAD_CHECK_THROW_MSG(init::trunc_normal_(t, 0.0, 0.0), "nn::init::trunc_normal_: expected std > 0, got 0");
  XGRAD_CHECK_THROW_MSG(init::trunc_normal_(t, 0.0, 1.0, 1.0, -1.0),
                        "nn::init::trunc_normal_: expected a < b, got a=1 b=-1");
}

BOOST_AUTO_TEST_CASE(eye) {
  Tensor t = full({3, 5}, 9.0);
  init::eye_(t);
  // Hand-written identity of [3, 5].
  test::check_close(t, tensor({{1., 0., 0., 0., 0.}, {0., 1., 0., 0., 0.}, {0., 0., 1., 0., 0.}}), 0.0);
  Tensor u = full({4, 2}, 9.0, dtype(int64));
  init::eye_(u);
  BOOST_CHECK((u.to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 0, 0, 1, 0, 0, 0, 0}));
  XGRAD_CHECK_THROW_MSG(init::eye_(empty({2, 2, 2})),
                        "nn::init::eye_: only 2-d tensors are supported, got shape [2, 2, 2]");
  XGRAD_CHECK_THROW_MSG(init::eye_(empty({4})), "only 2-d tensors are supported, got shape [4]");
}

BOOST_AUTO_TEST_CASE(dirac) {
  // Conv1d weight [4, 2, 3]: w[d, d, 1] = 1 for d < min(4, 2) = 2.
  Tensor w1 = full({4, 2, 3}, 5.0);
  init::dirac_(w1);
  std::vector<float> e1(24, 0.0f);
  e1[0 * 6 + 0 * 3 + 1] = 1.0f;
  e1[1 * 6 + 1 * 3 + 1] = 1.0f;
  BOOST_CHECK(w1.to_vector<float>() == e1);

  // Conv2d [6, 3, 3, 2] with groups 2: out/groups = 3, w[g*3 + d, d, 1, 1] = 1 for d < 3.
  Tensor w2 = full({6, 3, 3, 2}, 5.0, dtype(float64));
  init::dirac_(w2, 2);
  std::vector<double> e2(6 * 3 * 3 * 2, 0.0);
  for (int g = 0; g < 2; ++g)
    for (int d = 0; d < 3; ++d) e2[static_cast<std::size_t>((g * 3 + d) * 18 + d * 6 + 1 * 2 + 1)] = 1.0;
  BOOST_CHECK(w2.to_vector<double>() == e2);

  // Conv3d [2, 3, 3, 3, 3]: w[d, d, 1, 1, 1] = 1 for d < 2; a conv with it copies channels 0, 1.
  Tensor w3 = empty({2, 3, 3, 3, 3}, dtype(int64));
  init::dirac_(w3);
  auto v3 = w3.to_vector<std::int64_t>();
  BOOST_CHECK_EQUAL(std::count(v3.begin(), v3.end(), 1), 2);
  BOOST_CHECK_EQUAL(v3[0 * 81 + 0 * 27 + 13], 1);
  BOOST_CHECK_EQUAL(v3[1 * 81 + 1 * 27 + 13], 1);

  XGRAD_CHECK_THROW_MSG(init::dirac_(empty({3, 3})),
                        "nn::init::dirac_: only 3-, 4- and 5-d tensors are supported, got shape [3, 3]");
  XGRAD_CHECK_THROW_MSG(init::dirac_(empty({5, 2, 3}), 2),
                        "size(0) = 5 of shape [5, 2, 3] is not divisible by groups = 2");
  XGRAD_CHECK_THROW_MSG(init::dirac_(empty({4, 2, 3}), 0), "groups must be positive, got 0");
}

BOOST_AUTO_TEST_CASE(orthogonal) {
  manual_seed(5);
  struct Case {
    Shape shape;
    double gain;
  };
  for (const Case& c : {Case{{64, 64}, 1.0}, Case{{100, 30}, 1.0}, Case{{30, 100}, 1.0}, Case{{8, 4, 3, 3}, 1.0},
                        Case{{50, 20}, 2.0}, Case{{1, 10}, 1.0}, Case{{10, 1}, 1.0}}) {
    for (Dtype d : {float32, float64}) {
      BOOST_TEST_CONTEXT("shape " << fmt::format("{}", c.shape) << " gain " << c.gain << " " << dtype_name(d)) {
        Tensor w = empty(c.shape, dtype(d));
        init::orthogonal_(w, c.gain);
        const std::int64_t rows = c.shape[0], cols = w.numel() / rows;
        Tensor q = w.reshape({rows, cols}).to(float64);
        // Tall/square: Q^T Q = gain^2 I (orthonormal columns); wide: Q Q^T = gain^2 I.
        Tensor g = rows >= cols ? q.t().matmul(q) : q.matmul(q.t());
        const std::int64_t n = std::min(rows, cols);
        test::check_close(g, xgrad::eye(n, n, dtype(float64)) * (c.gain * c.gain), d == float32 ? 1e-5 : 1e-12);
      }
    }
  }

  // Sign correction like PyTorch: with A the N(0, 1) draw (A^T when wide), R = Q^T A is upper
  // triangular with a positive diagonal. Redrawing A from the same seed checks it.
  for (const Shape& s : {Shape{6, 4}, Shape{4, 6}, Shape{5, 5}}) {
    manual_seed(11);
    Tensor a = randn(s, dtype(float64));
    manual_seed(11);
    Tensor w = empty(s, dtype(float64));
    init::orthogonal_(w);
    const bool wide = s[0] < s[1];
    Tensor r = wide ? w.matmul(a.t()) : w.t().matmul(a);  // n x n
    const auto rv = r.to_vector<double>();
    const std::int64_t n = r.size(0);
    for (std::int64_t i = 0; i < n; ++i) {
      BOOST_CHECK_GT(rv[static_cast<std::size_t>(i * n + i)], 0.0);
      for (std::int64_t j = 0; j < i; ++j) BOOST_CHECK_SMALL(rv[static_cast<std::size_t>(i * n + j)], 1e-12);
    }
  }

  XGRAD_CHECK_THROW_MSG(init::orthogonal_(empty({4})),
                        "nn::init::orthogonal_: only tensors with 2 or more dimensions are supported, got shape [4]");
  XGRAD_CHECK_THROW_MSG(init::orthogonal_(zeros({2, 2}, dtype(int64))), "orthogonal_: expected a float32 or float64");
}

BOOST_AUTO_TEST_CASE(reproducible_with_manual_seed) {
  using Init = std::function<void(const Tensor&)>;
  const std::vector<std::pair<const char*, Init>> inits = {
      {"uniform_", [](const Tensor& t) { init::uniform_(t, -1, 1); }},
      {"normal_", [](const Tensor& t) { init::normal_(t); }},
      {"trunc_normal_", [](const Tensor& t) { init::trunc_normal_(t); }},
      {"xavier_uniform_", [](const Tensor& t) { init::xavier_uniform_(t); }},
      {"xavier_normal_", [](const Tensor& t) { init::xavier_normal_(t); }},
      {"kaiming_uniform_", [](const Tensor& t) { init::kaiming_uniform_(t); }},
      {"kaiming_normal_", [](const Tensor& t) { init::kaiming_normal_(t); }},
      {"orthogonal_", [](const Tensor& t) { init::orthogonal_(t); }},
  };
  for (const auto& [name, f] : inits) {
    BOOST_TEST_CONTEXT(name) {
      Tensor a = empty({200, 300}), b = empty({200, 300}), c = empty({200, 300});
      manual_seed(42);
      f(a);
      manual_seed(42);
      f(b);
      manual_seed(43);
      f(c);
      BOOST_CHECK(a.to_vector<float>() == b.to_vector<float>());
      BOOST_CHECK(a.to_vector<float>() != c.to_vector<float>());
    }
  }
}

BOOST_AUTO_TEST_CASE(works_on_leaf_parameters) {
  // In grad mode, in-place ops on a leaf that requires grad throw; initialisers do not.
  Tensor w = empty({16, 8}).requires_grad_(true);
  const auto v0 = w.impl()->storage->version;
  BOOST_CHECK(init::kaiming_uniform_(w, std::sqrt(5.0)).is_same(w));
  init::orthogonal_(w);
  init::zeros_(w);
  BOOST_CHECK(w.is_leaf());
  BOOST_CHECK(w.requires_grad());
  BOOST_CHECK(!w.grad_fn());
  BOOST_CHECK_EQUAL(w.impl()->storage->version, v0 + 3);  // an in-place write each

  // A backward that saved the old values notices the re-initialisation.
  init::normal_(w);
  Tensor loss = (w * w).sum();
  init::normal_(w);
  XGRAD_CHECK_THROW_MSG(loss.backward(), "modified by an in-place operation");

  // Still trainable afterwards.
  Tensor loss2 = (w * 2.0).sum();
  loss2.backward();
  test::check_close(w.grad(), full({16, 8}, 2.0), 0.0);
}

// Initialisers write through views (a slice of a parameter, a transposed weight): the base
// changes exactly where the view reaches.
BOOST_AUTO_TEST_CASE(initialisers_write_through_views) {
  Tensor w = zeros({4, 3}, dtype(float64));
  init::constant_(w.narrow(0, 1, 2), 5.0);
  BOOST_CHECK(w.to_vector<double>() == (std::vector<double>{0, 0, 0, 5, 5, 5, 5, 5, 5, 0, 0, 0}));
  Tensor e = zeros({2, 3}, dtype(float64));
  init::eye_(e.t());  // e^T is 3x2 with ones on its diagonal: e[0][0] = e[1][1] = 1
  BOOST_CHECK(e.to_vector<double>() == (std::vector<double>{1, 0, 0, 0, 1, 0}));
  Tensor u = zeros({3, 4}, dtype(float64));
  manual_seed(3);
  init::uniform_(u.slice(1, 0, 4, 2), 1.0, 2.0);  // columns 0 and 2 only
  const auto v = u.to_vector<double>();
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i % 2 == 0)
      BOOST_CHECK(v[i] >= 1.0 && v[i] < 2.0);
    else
      BOOST_CHECK_EQUAL(v[i], 0.0);
  }
}

BOOST_AUTO_TEST_SUITE_END()
