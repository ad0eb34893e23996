// Losses (nn/loss.hpp): values against PyTorch's documented formulas for each reduction,
// gradcheck / gradgradcheck of every loss and variant, hand-derived gradients, stability of the
// fused ops, modules and error messages.
#include <cmath>
#include <limits>
#include <numeric>

#include "test_util.hpp"
#include "xgrad/nn/loss.hpp"

using namespace xgrad;
using namespace xgrad::nn;
namespace F = xgrad::nn::functional;
using xgrad::test::check_close;
using xgrad::test::check_gradcheck;
using xgrad::test::check_gradgradcheck;
using xgrad::test::rand64;

namespace {

using Inputs = std::vector<Tensor>;
constexpr Reduction kAll[] = {Reduction::None, Reduction::Mean, Reduction::Sum};

Tensor f64(std::initializer_list<NestedList> v) { return tensor(v, dtype(float64)); }
Tensor i64(const std::vector<std::int64_t>& v, const Shape& s = {}) { return from_vector<std::int64_t>(v, s); }

/// Checks shape and values (float64 comparison, relative tolerance for large values).
void check_values(const Tensor& t, const Shape& shape, const std::vector<double>& want, double tol = 1e-9) {
  BOOST_REQUIRE_MESSAGE(t.shape() == shape,
                        "shape " << fmt::format("{}", t.shape()) << " != " << fmt::format("{}", shape));
  const auto got = t.detach().to(float64).to_vector<double>();
  BOOST_REQUIRE_EQUAL(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    const bool ok = std::isnan(want[i]) ? std::isnan(got[i])
                                        : std::fabs(got[i] - want[i]) <= tol * std::max(1.0, std::fabs(want[i]));
    BOOST_CHECK_MESSAGE(ok, "element " << i << ": got " << got[i] << ", want " << want[i]);
  }
}

/// Checks the none / mean / sum results of a loss against its element-wise values.
void check_reductions(const std::function<Tensor(Reduction)>& loss, const Shape& shape,
                      const std::vector<double>& elementwise, double tol = 1e-9) {
  check_values(loss(Reduction::None), shape, elementwise, tol);
  const double s = std::accumulate(elementwise.begin(), elementwise.end(), 0.0);
  check_values(loss(Reduction::Sum), {}, {s}, tol);
  check_values(loss(Reduction::Mean), {}, {s / static_cast<double>(elementwise.size())}, tol);
}

double sigmoid_ref(double x) { return 1.0 / (1.0 + std::exp(-x)); }

/// One sample of cross-entropy from PyTorch's documented formula (weights w may be empty):
/// (1 - eps) w_y (-log p_y) + eps / C sum_c w_c (-log p_c).
double ce_ref(const std::vector<double>& x, std::int64_t y, const std::vector<double>& w, double eps) {
  double m = -std::numeric_limits<double>::infinity();
  for (double v : x) m = std::max(m, v);
  double s = 0;
  for (double v : x) s += std::exp(v - m);
  const double lse = m + std::log(s);
  auto wc = [&](std::size_t c) { return w.empty() ? 1.0 : w[c]; };
  double smooth = 0;
  for (std::size_t c = 0; c < x.size(); ++c) smooth += wc(c) * (lse - x[c]);
  return (1 - eps) * wc(static_cast<std::size_t>(y)) * (lse - x[static_cast<std::size_t>(y)]) +
         eps / static_cast<double>(x.size()) * smooth;
}

/// Gradient of loss(leaf) with respect to a fresh leaf copy of x.
Tensor grad_of(const std::function<Tensor(const Tensor&)>& loss, const Tensor& x) {
  Tensor leaf = x.detach().clone().requires_grad_(true);
  loss(leaf).backward();
  return leaf.grad();
}

/// float64 probabilities in (0.05, 0.95), a leaf requiring grad.
Tensor probs64(const Shape& s) {
  Tensor t;
  {
    NoGradGuard ng;
    t = add(mul(rand(s, dtype(float64)), 0.9), 0.05);
  }
  return t.requires_grad_(true);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(loss)

// ---- values ----------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(mse_l1_values) {
  const Tensor x = f64({1., 2., 3.}), y = f64({1.5, 2., 1.});
  // d = x - y = [-0.5, 0, 2]; mse: d^2 = [0.25, 0, 4]; l1: |d| = [0.5, 0, 2].
  check_reductions([&](Reduction r) { return F::mse_loss(x, y, r); }, {3}, {0.25, 0.0, 4.0});
  check_reductions([&](Reduction r) { return F::l1_loss(x, y, r); }, {3}, {0.5, 0.0, 2.0});
  // Default reduction is mean.
  check_values(F::mse_loss(x, y), {}, {4.25 / 3});
  check_values(F::l1_loss(x, y), {}, {2.5 / 3});
}

BOOST_AUTO_TEST_CASE(smooth_l1_and_huber_values) {
  const Tensor x = f64({{1., 2.}, {3., -1.}}), y = f64({{1.5, 2.}, {1., 2.}});
  // d = [-0.5, 0, 2, -3].
  // smooth_l1, beta = 1: 0.5 d^2 inside |d| < 1, else |d| - 0.5 -> [0.125, 0, 1.5, 2.5].
  check_reductions([&](Reduction r) { return F::smooth_l1_loss(x, y, r); }, {2, 2}, {0.125, 0.0, 1.5, 2.5});
  // beta = 0.5: |-0.5| is not < 0.5 -> 0.5 - 0.25 = 0.25; 2 -> 1.75; 3 -> 2.75.
  check_reductions([&](Reduction r) { return F::smooth_l1_loss(x, y, SmoothL1LossOptions(r).beta(0.5)); }, {2, 2},
                   {0.25, 0.0, 1.75, 2.75});
  // beta = 4: all quadratic, 0.5 d^2 / 4 -> [0.03125, 0, 0.5, 1.125].
  check_reductions([&](Reduction r) { return F::smooth_l1_loss(x, y, SmoothL1LossOptions(r).beta(4.0)); }, {2, 2},
                   {0.03125, 0.0, 0.5, 1.125});
  // beta = 0 is l1_loss.
  check_reductions([&](Reduction r) { return F::smooth_l1_loss(x, y, SmoothL1LossOptions(r).beta(0.0)); }, {2, 2},
                   {0.5, 0.0, 2.0, 3.0});
  // huber, delta = 1 (same as smooth_l1 with beta 1): [0.125, 0, 1.5, 2.5].
  check_reductions([&](Reduction r) { return F::huber_loss(x, y, r); }, {2, 2}, {0.125, 0.0, 1.5, 2.5});
  // delta = 2: 0.5 d^2 inside |d| < 2, else 2 (|d| - 1) -> [0.125, 0, 2, 4] (= beta * smooth_l1).
  check_reductions([&](Reduction r) { return F::huber_loss(x, y, HuberLossOptions(r).delta(2.0)); }, {2, 2},
                   {0.125, 0.0, 2.0, 4.0});
}

BOOST_AUTO_TEST_CASE(bce_values_and_log_clamp) {
  const Tensor x = f64({0.2, 0.9, 0.5}), y = f64({0., 1., 1.});
  // -[y log x + (1 - y) log(1 - x)] = [-log 0.8, -log 0.9, -log 0.5].
  const std::vector<double> l = {-std::log(0.8), -std::log(0.9), -std::log(0.5)};
  check_reductions([&](Reduction r) { return F::binary_cross_entropy(x, y, r); }, {3}, l);
  // weight [1, 2, 3] multiplies element-wise (mean still divides by 3).
  check_reductions(
      [&](Reduction r) {
        return F::binary_cross_entropy(x, y, BCELossOptions(r).weight(f64({1., 2., 3.})));
      },
      {3}, {l[0], 2 * l[1], 3 * l[2]});
  // Soft targets: y = 0.25 at x = 0.5 gives log 2.
  check_values(F::binary_cross_entropy(f64({0.5}), f64({0.25})), {}, {std::log(2.0)});
  // The log is clamped at -100: x = 0 with y = 1 gives 100 (not inf), x = 1 with y = 0 too,
  // and x = 0 with y = 0 gives 0.
  check_values(F::binary_cross_entropy(f64({0., 1., 0., 1.}), f64({1., 0., 0., 1.}), Reduction::None), {4},
               {100.0, 100.0, 0.0, 0.0});
  check_values(F::binary_cross_entropy(tensor({0.f}), tensor({1.f})), {}, {100.0});
  // The gradient at x = 0, y = 1 stays finite: (x - y) / max(x (1 - x), 1e-12) = -1e12.
  const Tensor g = grad_of([](const Tensor& t) { return F::binary_cross_entropy(t, f64({1.})); }, f64({0.}));
  check_values(g, {1}, {-1e12});
}

BOOST_AUTO_TEST_CASE(bce_with_logits_values) {
  const Tensor x = f64({0., 2., -1.}), y = f64({1., 0., 1.});
  // y = 1: log(1 + e^-x); y = 0: log(1 + e^x).
  const std::vector<double> l = {std::log(2.0), std::log1p(std::exp(2.0)), std::log1p(std::exp(1.0))};
  check_reductions([&](Reduction r) { return F::binary_cross_entropy_with_logits(x, y, r); }, {3}, l);
  // pos_weight 3 scales the positive terms: [3 log 2, log(1 + e^2), 3 log(1 + e)].
  check_reductions(
      [&](Reduction r) {
        return F::binary_cross_entropy_with_logits(x, y, BCEWithLogitsLossOptions(r).pos_weight(f64({3.})));
      },
      {3}, {3 * l[0], l[1], 3 * l[2]});
  // weight and a per-class pos_weight on [2, 2]: l = w ((1 - y) x + (1 + (p - 1) y) softplus(-x)).
  const Tensor x2 = f64({{0.5, -2.}, {1., 3.}}), y2 = f64({{1., 0.}, {0.25, 1.}});
  const Tensor pw = f64({2., 0.5}), w = f64({{1.}, {3.}});
  std::vector<double> want;
  const double xv[] = {0.5, -2., 1., 3.}, yv[] = {1., 0., 0.25, 1.}, pv[] = {2., 0.5, 2., 0.5}, wv[] = {1, 1, 3, 3};
  for (int i = 0; i < 4; ++i)
    want.push_back(wv[i] * ((1 - yv[i]) * xv[i] + (1 + (pv[i] - 1) * yv[i]) * std::log1p(std::exp(-xv[i]))));
  check_reductions(
      [&](Reduction r) {
        return F::binary_cross_entropy_with_logits(x2, y2, BCEWithLogitsLossOptions(r).weight(w).pos_weight(pw));
      },
      {2, 2}, want);
  // Equals binary_cross_entropy(sigmoid(x)) where that is accurate.
  check_close(F::binary_cross_entropy_with_logits(x2, y2), F::binary_cross_entropy(sigmoid(x2), y2), 1e-12);
}

BOOST_AUTO_TEST_CASE(cross_entropy_values) {
  const Tensor x = f64({{1., 2., 3.}, {1., 1., 1.}});
  const Tensor y = i64({2, 0});
  // Row 0: lse = 3 + log(1 + e^-1 + e^-2), l = lse - 3; row 1: l = log 3.
  const double l0 = std::log(1 + std::exp(-1.0) + std::exp(-2.0)), l1 = std::log(3.0);
  check_reductions([&](Reduction r) { return F::cross_entropy(x, y, r); }, {2}, {l0, l1});
  // Class weights [1, 2, 3]: w_y = [3, 1]; mean divides by sum w_y = 4 (PyTorch's weighted mean).
  const Tensor w = f64({1., 2., 3.});
  check_values(F::cross_entropy(x, y, CrossEntropyLossOptions().weight(w).reduction(Reduction::None)), {2},
               {3 * l0, l1});
  check_values(F::cross_entropy(x, y, CrossEntropyLossOptions().weight(w).reduction(Reduction::Sum)), {},
               {3 * l0 + l1});
  check_values(F::cross_entropy(x, y, CrossEntropyLossOptions().weight(w)), {}, {(3 * l0 + l1) / 4});
  // ignore_index: the ignored sample contributes 0 and is not counted by the mean.
  const Tensor yi = i64({2, -100});
  check_values(F::cross_entropy(x, yi, Reduction::None), {2}, {l0, 0.0});
  check_values(F::cross_entropy(x, yi), {}, {l0});
  check_values(F::cross_entropy(x, yi, Reduction::Sum), {}, {l0});
  // A custom ignore_index that is a valid class.
  check_values(F::cross_entropy(x, y, CrossEntropyLossOptions().ignore_index(0)), {}, {l0});
  // Every target ignored: the mean is 0/0 = NaN (PyTorch), the sum 0.
  check_values(F::cross_entropy(x, i64({-100, -100})), {}, {std::nan("")});
  check_values(F::cross_entropy(x, i64({-100, -100}), Reduction::Sum), {}, {0.0});
}

BOOST_AUTO_TEST_CASE(cross_entropy_label_smoothing_values) {
  const std::vector<std::vector<double>> rows = {{1., 2., 3.}, {1., 1., 1.}, {-2., 0.5, 4.}};
  const Tensor x = f64({{1., 2., 3.}, {1., 1., 1.}, {-2., 0.5, 4.}});
  const Tensor y = i64({2, 0, 1});
  const std::vector<double> w = {1., 2., 3.};
  for (double eps : {0.1, 0.5, 1.0}) {
    // Unweighted: mean over the 3 samples.
    std::vector<double> want;
    for (std::size_t i = 0; i < 3; ++i) want.push_back(ce_ref(rows[i], y.to_vector<std::int64_t>()[i], {}, eps));
    check_reductions(
        [&](Reduction r) { return F::cross_entropy(x, y, CrossEntropyLossOptions(r).label_smoothing(eps)); }, {3},
        want);
    // Weighted with the middle sample ignored: mean divides by w_y of the others (3 + 2).
    const Tensor yi = i64({2, -100, 1});
    const double a = ce_ref(rows[0], 2, w, eps), c = ce_ref(rows[2], 1, w, eps);
    auto opts = [&](Reduction r) { return CrossEntropyLossOptions(r).label_smoothing(eps).weight(f64({1., 2., 3.})); };
    check_values(F::cross_entropy(x, yi, opts(Reduction::None)), {3}, {a, 0.0, c});
    check_values(F::cross_entropy(x, yi, opts(Reduction::Sum)), {}, {a + c});
    check_values(F::cross_entropy(x, yi, opts(Reduction::Mean)), {}, {(a + c) / 5});
  }
}

BOOST_AUTO_TEST_CASE(cross_entropy_probability_targets) {
  const Tensor x = f64({{1., 2., 3.}, {1., 1., 1.}});
  const Tensor t = f64({{0.2, 0.3, 0.5}, {1., 0., 0.}});
  const double lse0 = 3 + std::log(1 + std::exp(-1.0) + std::exp(-2.0)), lse1 = 1 + std::log(3.0);
  // l = -sum_c t_c log p_c, log p_c = x_c - lse.
  const double l0 = 0.2 * (lse0 - 1) + 0.3 * (lse0 - 2) + 0.5 * (lse0 - 3), l1 = lse1 - 1;
  check_reductions([&](Reduction r) { return F::cross_entropy(x, t, r); }, {2}, {l0, l1});
  // Weights: l = -sum_c w_c t_c log p_c; the mean still divides by N (PyTorch).
  const double w0 = 1 * 0.2 * (lse0 - 1) + 2 * 0.3 * (lse0 - 2) + 3 * 0.5 * (lse0 - 3), w1 = lse1 - 1;
  check_values(F::cross_entropy(x, t, CrossEntropyLossOptions().weight(f64({1., 2., 3.}))), {}, {(w0 + w1) / 2});
  // Label smoothing: q = 0.7 t + 0.1.
  const double s0 = 0.24 * (lse0 - 1) + 0.31 * (lse0 - 2) + 0.45 * (lse0 - 3),
               s1 = 0.8 * (lse1 - 1) + 0.1 * (lse1 - 1) * 2;
  check_values(F::cross_entropy(x, t, CrossEntropyLossOptions(Reduction::None).label_smoothing(0.3)), {2}, {s0, s1});
  // A one-hot probability target equals the class-index form.
  check_close(F::cross_entropy(x, f64({{0., 0., 1.}, {1., 0., 0.}})), F::cross_entropy(x, i64({2, 0})), 1e-12);
}

BOOST_AUTO_TEST_CASE(cross_entropy_spatial_and_unbatched) {
  manual_seed(3);
  // [N, C, d1, d2] = [2, 3, 2, 2] equals the [N * d1 * d2, C] form after moving C last.
  const Tensor x = randn({2, 3, 2, 2}, dtype(float64));
  const Tensor y = i64({0, 1, 2, 1, 2, 2, 0, -100}, {2, 2, 2});
  const Tensor flat = reshape(permute(x, {0, 2, 3, 1}), {8, 3});
  const Tensor yflat = reshape(y, {8});
  for (Reduction r : {Reduction::Mean, Reduction::Sum}) {
    auto o = CrossEntropyLossOptions(r).weight(f64({0.5, 1., 2.})).label_smoothing(0.2);
    check_close(F::cross_entropy(x, y, o), F::cross_entropy(flat, yflat, o), 1e-12);
  }
  const Tensor none = F::cross_entropy(x, y, Reduction::None);
  BOOST_TEST((none.shape() == Shape{2, 2, 2}));
  check_close(reshape(none, {8}), F::cross_entropy(flat, yflat, Reduction::None), 1e-12);
  // Unbatched: input [C], target 0-d.
  const Tensor xs = f64({1., 2., 3.});
  const Tensor ys = reshape(i64({1}), {});
  check_values(F::cross_entropy(xs, ys, Reduction::None), {}, {ce_ref({1., 2., 3.}, 1, {}, 0.0)});
  check_values(F::cross_entropy(xs, ys), {}, {ce_ref({1., 2., 3.}, 1, {}, 0.0)});
  // float32 gives the same value to float precision.
  check_close(F::cross_entropy(x.to(float32), y), F::cross_entropy(x, y), 1e-6);
}

BOOST_AUTO_TEST_CASE(nll_loss_values) {
  const Tensor lp = f64({{-1., -2., -3.}, {-0.5, -1.5, -2.5}});
  const Tensor y = i64({1, 2});
  // l = -input[y] = [2, 2.5].
  check_reductions([&](Reduction r) { return F::nll_loss(lp, y, r); }, {2}, {2.0, 2.5});
  // Weights [1, 2, 4]: l = [4, 10]; mean = 14 / (2 + 4).
  const Tensor w = f64({1., 2., 4.});
  check_values(F::nll_loss(lp, y, NLLLossOptions(Reduction::None).weight(w)), {2}, {4.0, 10.0});
  check_values(F::nll_loss(lp, y, NLLLossOptions().weight(w)), {}, {14.0 / 6});
  check_values(F::nll_loss(lp, i64({1, 7}), NLLLossOptions().ignore_index(7)), {}, {2.0});
  // nll_loss(log_softmax(x)) == cross_entropy(x), with weights, ignore_index and spatial dims.
  manual_seed(4);
  const Tensor x = randn({3, 4, 5}, dtype(float64));
  const Tensor t = randint(0, 4, {3, 5});
  const Tensor logp = sub(x, logsumexp(x, {1}, true));
  for (Reduction r : kAll) {
    check_close(F::nll_loss(logp, t, NLLLossOptions(r).weight(f64({1., 2., 3., 4.})).ignore_index(2)),
                F::cross_entropy(x, t, CrossEntropyLossOptions(r).weight(f64({1., 2., 3., 4.})).ignore_index(2)),
                1e-12);
  }
}

BOOST_AUTO_TEST_CASE(kl_div_values) {
  const Tensor input = f64({{std::log(0.25), std::log(0.75)}, {std::log(0.5), std::log(0.5)}});
  const Tensor target = f64({{0.5, 0.5}, {0.9, 0.1}});
  // l = t (log t - input).
  const std::vector<double> l = {0.5 * std::log(2.0), 0.5 * std::log(0.5 / 0.75), 0.9 * std::log(1.8),
                                 0.1 * std::log(0.2)};
  check_reductions([&](Reduction r) { return F::kl_div(input, target, r); }, {2, 2}, l);
  // batchmean: sum / batch size 2 = the mean KL divergence per sample.
  check_values(F::kl_div(input, target, Reduction::BatchMean), {}, {(l[0] + l[1] + l[2] + l[3]) / 2});
  // log_target: the same numbers from log t.
  const Tensor log_t = log(target);
  check_reductions([&](Reduction r) { return F::kl_div(input, log_t, KLDivLossOptions(r).log_target(true)); }, {2, 2},
                   l);
  // A zero target contributes 0 (xlogy), not NaN; the gradient there is -t = 0.
  check_values(F::kl_div(f64({-1., -2.}), f64({0., 1.}), Reduction::None), {2}, {0.0, 2.0});
  const Tensor tz = f64({0., 1.}).requires_grad_(true);
  F::kl_div(f64({-1., -2.}), tz, Reduction::Sum).backward();
  // d/dt [xlogy(t, t) - t x] = log t + 1 - x, where the xlogy part is 0 at t == 0:
  // t = 0, x = -1 -> 0 + 1 = 1; t = 1, x = -2 -> 0 + 1 + 2 = 3.
  check_values(tz.grad(), {2}, {1.0, 3.0});
}

BOOST_AUTO_TEST_CASE(embedding_and_margin_values) {
  // hinge_embedding: y = 1 -> x; y = -1 -> max(0, 1 - x); other y -> both terms.
  const Tensor x = f64({0.3, -0.5, 2., 0.4, 0.3});
  const Tensor y = f64({1., -1., -1., 1., 0.});
  check_reductions([&](Reduction r) { return F::hinge_embedding_loss(x, y, r); }, {5}, {0.3, 1.5, 0.0, 0.4, 1.0});
  // A negative margin is allowed: max(0, -1 - x) = [0, 0, 0, 0, 0] for y = -1 entries.
  check_values(F::hinge_embedding_loss(x, y, HingeEmbeddingLossOptions(Reduction::None).margin(-1.0)), {5},
               {0.3, 0.0, 0.0, 0.4, 0.3});
  // int64 targets work (only compared with 1 and -1).
  check_values(F::hinge_embedding_loss(f64({0.3, -0.5}), i64({1, -1}), Reduction::Sum), {}, {1.8});

  // margin_ranking: max(0, -y (x1 - x2) + margin).
  const Tensor a = f64({1., 2., 3.}), b = f64({2., 2., 1.}), t = f64({1., -1., 1.});
  // -y (x1 - x2) = [1, 0, -2].
  check_reductions([&](Reduction r) { return F::margin_ranking_loss(a, b, t, r); }, {3}, {1.0, 0.0, 0.0});
  check_reductions(
      [&](Reduction r) { return F::margin_ranking_loss(a, b, t, MarginRankingLossOptions(r).margin(0.5)); }, {3},
      {1.5, 0.5, 0.0});
  check_values(F::margin_ranking_loss(a, b, t, MarginRankingLossOptions(Reduction::None).margin(-0.5)), {3},
               {0.5, 0.0, 0.0});

  // multi_margin: PyTorch's documented example x = [0.1, 0.2, 0.4, 0.8], y = 3:
  // (1 - 0.7 + 1 - 0.6 + 1 - 0.4) / 4 = 0.325; p = 2: (0.09 + 0.16 + 0.36) / 4 = 0.1525.
  const Tensor s = f64({{0.1, 0.2, 0.4, 0.8}, {0.1, 0.2, 0.4, 0.8}});
  const Tensor c = i64({3, 0});
  // Row 1 (y = 0): z = 1 - 0.1 + [0.2, 0.4, 0.8] = [1.1, 1.3, 1.7]; sum 4.1 / 4 = 1.025.
  check_reductions([&](Reduction r) { return F::multi_margin_loss(s, c, r); }, {2}, {0.325, 1.025});
  check_reductions([&](Reduction r) { return F::multi_margin_loss(s, c, MultiMarginLossOptions(r).p(2)); }, {2},
                   {0.1525, (1.21 + 1.69 + 2.89) / 4});
  // weight w_y multiplies the sample's terms: w = [0.5, 1, 1, 2].
  check_values(
      F::multi_margin_loss(s, c, MultiMarginLossOptions(Reduction::None).weight(f64({0.5, 1., 1., 2.})).margin(0.5)),
      {2}, {2 * (0.0 + 0.0 + 0.1) / 4, 0.5 * (0.6 + 0.8 + 1.2) / 4});
  check_values(F::multi_margin_loss(f64({0.1, 0.2, 0.4, 0.8}), reshape(i64({3}), {}), Reduction::None), {}, {0.325});

  // cosine_embedding: cos = [1/sqrt 2, 24/25]; y = 1 -> 1 - cos; y = -1 -> max(0, cos - margin).
  const Tensor u = f64({{1., 0.}, {3., 4.}}), v = f64({{1., 1.}, {4., 3.}});
  const Tensor yy = f64({1., -1.});
  check_reductions([&](Reduction r) { return F::cosine_embedding_loss(u, v, yy, r); }, {2},
                   {1 - 1 / std::sqrt(2.0), 0.96}, 1e-9);
  check_values(F::cosine_embedding_loss(u, v, yy, CosineEmbeddingLossOptions(Reduction::None).margin(0.5)), {2},
               {1 - 1 / std::sqrt(2.0), 0.46}, 1e-9);
  check_values(F::cosine_embedding_loss(u, v, f64({-1., 1.}), CosineEmbeddingLossOptions(Reduction::None).margin(0.9)),
               {2}, {0.0, 0.04}, 1e-9);
  // 1-d inputs with a 0-d target; zero vectors give cos = 0 (the 1e-12 keeps it finite).
  check_values(F::cosine_embedding_loss(f64({0., 0.}), f64({1., 0.}), reshape(f64({1.}), {})), {}, {1.0});
}

// ---- gradients: hand-derived -----------------------------------------------------------------

BOOST_AUTO_TEST_CASE(cross_entropy_hand_gradient) {
  // d/dx_c mean_i(-log softmax(x_i)_{y_i}) = (softmax(x_i)_c - [c = y_i]) / N.
  // Row 0 [1, 2, 3] -> softmax [0.0900306, 0.2447285, 0.6652410], y = 2;
  // row 1 [1, 1, 1] -> [1/3, 1/3, 1/3], y = 0; N = 2.
  const Tensor g = grad_of(
      [](const Tensor& t) {
        return F::cross_entropy(t, i64({2, 0}));
      },
      f64({{1., 2., 3.}, {1., 1., 1.}}));
  const double e = std::exp(1.0), z = 1 + e + e * e;
  check_values(g, {2, 3}, {1 / z / 2, e / z / 2, (e * e / z - 1) / 2, (1. / 3 - 1) / 2, 1. / 6, 1. / 6}, 1e-12);
  // With class weights the mean divides by sum w_y: d/dx = w_y (p - onehot) / sum w_y.
  const Tensor gw = grad_of(
      [](const Tensor& t) {
        return F::cross_entropy(t, i64({2, 0}), CrossEntropyLossOptions().weight(f64({1., 2., 3.})));
      },
      f64({{1., 2., 3.}, {1., 1., 1.}}));
  check_values(gw, {2, 3}, {3 * 1 / z / 4, 3 * e / z / 4, 3 * (e * e / z - 1) / 4, (1. / 3 - 1) / 4, 1. / 12, 1. / 12},
               1e-12);
}

BOOST_AUTO_TEST_CASE(bce_with_logits_hand_gradient) {
  // d/dx mean((1 - y) x + log(1 + e^-x)) = (sigmoid(x) - y) / N.
  const Tensor x = f64({0., 2., -1.}), y = f64({1., 0., 1.});
  const Tensor g = grad_of([&](const Tensor& t) { return F::binary_cross_entropy_with_logits(t, y); }, x);
  check_values(g, {3}, {(0.5 - 1) / 3, sigmoid_ref(2.0) / 3, (sigmoid_ref(-1.0) - 1) / 3}, 1e-12);
  // With pos_weight p: d/dx = ((1 + (p - 1) y) sigmoid(x) - p y) / N; p = 3.
  const Tensor gp = grad_of(
      [&](const Tensor& t) {
        return F::binary_cross_entropy_with_logits(t, y, BCEWithLogitsLossOptions().pos_weight(f64({3.})));
      },
      x);
  check_values(gp, {3}, {(3 * 0.5 - 3) / 3, sigmoid_ref(2.0) / 3, (3 * sigmoid_ref(-1.0) - 3) / 3}, 1e-12);
  // BCE on probabilities: d/dx = (x - y) / (x (1 - x)) / N.
  const Tensor gb = grad_of([](const Tensor& t) { return F::binary_cross_entropy(t, f64({0., 1.})); }, f64({0.2, 0.5}));
  check_values(gb, {2}, {0.2 / (0.2 * 0.8) / 2, -0.5 / 0.25 / 2}, 1e-12);
}

// ---- gradients: finite differences (float64) ---------------------------------------------------

BOOST_AUTO_TEST_CASE(gradcheck_regression) {
  manual_seed(10);
  for (const Shape& s : {Shape{5}, Shape{2, 3}, Shape{1, 4, 1}}) {
    const Tensor x = rand64(s), y = rand64(s);
    for (Reduction r : kAll) {
      check_gradcheck([r](const Inputs& in) { return F::mse_loss(in[0], in[1], r); }, {x, y});
      check_gradcheck([r](const Inputs& in) { return F::l1_loss(in[0], in[1], r); }, {x, y});
      for (double beta : {1.0, 0.3, 0.0})
        check_gradcheck(
            [r, beta](const Inputs& in) { return F::smooth_l1_loss(in[0], in[1], SmoothL1LossOptions(r).beta(beta)); },
            {x, y});
      for (double delta : {1.0, 0.4, 2.5})
        check_gradcheck(
            [r, delta](const Inputs& in) { return F::huber_loss(in[0], in[1], HuberLossOptions(r).delta(delta)); },
            {x, y});
    }
  }
  const Tensor x = rand64({2, 3}), y = rand64({2, 3});
  check_gradgradcheck([](const Inputs& in) { return F::mse_loss(in[0], in[1]); }, {x, y});
  check_gradgradcheck([](const Inputs& in) { return F::smooth_l1_loss(in[0], in[1], SmoothL1LossOptions().beta(0.7)); },
                      {x, y});
  check_gradgradcheck([](const Inputs& in) { return F::huber_loss(in[0], in[1], HuberLossOptions().delta(0.7)); },
                      {x, y});
}

BOOST_AUTO_TEST_CASE(gradcheck_bce) {
  manual_seed(11);
  for (const Shape& s : {Shape{4}, Shape{2, 3}}) {
    const Tensor x = probs64(s), y = probs64(s);  // soft targets, differentiable too
    const Tensor w = rand64({s.back()}).detach().abs().requires_grad_(true);
    for (Reduction r : kAll) {
      check_gradcheck([r](const Inputs& in) { return F::binary_cross_entropy(in[0], in[1], r); }, {x, y});
      check_gradcheck(
          [r](const Inputs& in) { return F::binary_cross_entropy(in[0], in[1], BCELossOptions(r).weight(in[2])); },
          {x, y, w});
    }
  }
  const Tensor x = probs64({2, 3}), y = probs64({2, 3});
  check_gradgradcheck([](const Inputs& in) { return F::binary_cross_entropy(in[0], in[1]); }, {x, y});
}

BOOST_AUTO_TEST_CASE(gradcheck_bce_with_logits) {
  manual_seed(12);
  for (const Shape& s : {Shape{5}, Shape{3, 4}, Shape{2, 1, 3}}) {
    const Tensor x = rand64(s, 3.0), y = probs64(s);
    const Tensor w = rand64({s.back()}), pw = rand64({s.back()}).detach().abs().add(0.5).requires_grad_(true);
    for (Reduction r : kAll) {
      check_gradcheck([r](const Inputs& in) { return F::binary_cross_entropy_with_logits(in[0], in[1], r); }, {x, y});
      check_gradcheck(
          [r](const Inputs& in) {
            return F::binary_cross_entropy_with_logits(in[0], in[1],
                                                       BCEWithLogitsLossOptions(r).weight(in[2]).pos_weight(in[3]));
          },
          {x, y, w, pw});
    }
  }
  const Tensor x = rand64({2, 3}), y = probs64({2, 3}), pw = rand64({3}).detach().abs().requires_grad_(true);
  check_gradgradcheck([](const Inputs& in) { return F::binary_cross_entropy_with_logits(in[0], in[1]); }, {x, y});
  check_gradgradcheck(
      [](const Inputs& in) {
        return F::binary_cross_entropy_with_logits(in[0], in[1], BCEWithLogitsLossOptions().pos_weight(in[2]));
      },
      {x, y, pw});
}

BOOST_AUTO_TEST_CASE(gradcheck_cross_entropy) {
  manual_seed(13);
  const Tensor w = f64({0.5, 1., 2., 1.5});
  struct Case {
    Shape shape;
    Tensor target;
  };
  const std::vector<Case> cases = {{{3, 4}, i64({0, 3, 1})},
                                   {{2, 4, 3}, i64({0, 1, 2, 3, -100, 1}, {2, 3})},
                                   {{4}, reshape(i64({2}), {})},
                                   {{1, 4, 1, 2}, i64({3, -100}, {1, 1, 2})}};
  for (const auto& c : cases) {
    const Tensor x = rand64(c.shape, 2.0);
    for (Reduction r : kAll)
      for (double eps : {0.0, 0.25})
        for (bool weighted : {false, true}) {
          auto o = CrossEntropyLossOptions(r).label_smoothing(eps);
          if (weighted) o.weight(w);
          check_gradcheck([&](const Inputs& in) { return F::cross_entropy(in[0], c.target, o); }, {x});
        }
  }
  // Probability targets: differentiable in the input and the target.
  for (const Shape& s : {Shape{3, 4}, Shape{2, 4, 2}}) {
    const Tensor x = rand64(s), t = probs64(s);
    for (Reduction r : kAll)
      for (double eps : {0.0, 0.2}) {
        check_gradcheck(
            [&](const Inputs& in) {
              return F::cross_entropy(in[0], in[1], CrossEntropyLossOptions(r).label_smoothing(eps).weight(w));
            },
            {x, t});
      }
  }
  // Second derivatives (the create_graph path of the fused backward).
  const Tensor x = rand64({3, 4});
  const Tensor y = i64({1, -100, 3});
  check_gradgradcheck([&](const Inputs& in) { return F::cross_entropy(in[0], y); }, {x});
  check_gradgradcheck(
      [&](const Inputs& in) {
        return F::cross_entropy(in[0], y, CrossEntropyLossOptions().weight(w).label_smoothing(0.3));
      },
      {x});
  const Tensor x4 = rand64({2, 4, 3});
  check_gradgradcheck(
      [&](const Inputs& in) {
        return F::cross_entropy(in[0], i64({0, 1, 2, 3, -100, 1}, {2, 3}), CrossEntropyLossOptions(Reduction::Sum));
      },
      {x4});
  const Tensor t = probs64({3, 4});
  check_gradgradcheck([](const Inputs& in) { return F::cross_entropy(in[0], in[1]); }, {x, t});
}

BOOST_AUTO_TEST_CASE(gradcheck_nll_kl_margin) {
  manual_seed(14);
  const Tensor lp = rand64({3, 4}), w = f64({0.5, 1., 2., 1.5});
  const Tensor y = i64({0, 3, -100});
  for (Reduction r : kAll) {
    check_gradcheck([&](const Inputs& in) { return F::nll_loss(in[0], y, NLLLossOptions(r).weight(w)); }, {lp});
    check_gradcheck([&](const Inputs& in) { return F::nll_loss(in[0], reshape(i64({2}), {}), r); }, {rand64({4})});
  }
  check_gradgradcheck([&](const Inputs& in) { return F::nll_loss(in[0], y, NLLLossOptions().weight(w)); }, {lp});

  // kl_div: input log-probs and target, all reductions, both target forms.
  const Tensor in = rand64({2, 3}), t = probs64({2, 3}), lt = rand64({2, 3}, 0.5, -1.0);
  for (Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum, Reduction::BatchMean}) {
    check_gradcheck([r](const Inputs& i) { return F::kl_div(i[0], i[1], r); }, {in, t});
    check_gradcheck([r](const Inputs& i) { return F::kl_div(i[0], i[1], KLDivLossOptions(r).log_target(true)); },
                    {in, lt});
  }
  check_gradgradcheck([](const Inputs& i) { return F::kl_div(i[0], i[1], Reduction::BatchMean); }, {in, t});
  check_gradgradcheck([](const Inputs& i) { return F::kl_div(i[0], i[1], KLDivLossOptions().log_target(true)); },
                      {in, lt});

  // Margin losses (values kept away from the kinks).
  const Tensor x = f64({0.3, -0.5, 2., 0.4, 1.7}).requires_grad_(true);
  const Tensor ye = f64({1., -1., -1., 1., -1.});
  const Tensor x1 = rand64({5}), x2 = rand64({5});
  const Tensor yr = f64({1., -1., 1., 1., -1.});
  const Tensor s = rand64({3, 4}), sy = i64({3, 0, 1}), mw = f64({0.5, 1., 2., 1.5});
  const Tensor u = rand64({3, 4}), v = rand64({3, 4}), yc = f64({1., -1., -1.});
  for (Reduction r : kAll) {
    check_gradcheck([&](const Inputs& i) { return F::hinge_embedding_loss(i[0], ye, r); }, {x});
    check_gradcheck(
        [&](const Inputs& i) {
          return F::margin_ranking_loss(i[0], i[1], yr, MarginRankingLossOptions(r).margin(0.1));
        },
        {x1, x2});
    for (std::int64_t p : {1, 2})
      check_gradcheck(
          [&](const Inputs& i) {
            return F::multi_margin_loss(i[0], sy, MultiMarginLossOptions(r).p(p).weight(mw).margin(0.8));
          },
          {s});
    check_gradcheck(
        [&](const Inputs& i) {
          return F::cosine_embedding_loss(i[0], i[1], yc, CosineEmbeddingLossOptions(r).margin(-0.9));
        },
        {u, v});
  }
  check_gradcheck([&](const Inputs& i) { return F::multi_margin_loss(i[0], reshape(i64({1}), {}), Reduction::None); },
                  {rand64({4})});
  check_gradgradcheck([&](const Inputs& i) { return F::multi_margin_loss(i[0], sy, MultiMarginLossOptions().p(2)); },
                      {s});
  check_gradgradcheck([&](const Inputs& i) { return F::cosine_embedding_loss(i[0], i[1], yc); }, {u, v});
  check_gradgradcheck([&](const Inputs& i) { return F::margin_ranking_loss(i[0], i[1], yr); }, {x1, x2});
}

// ---- stability and behaviour -------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(cross_entropy_large_logits) {
  for (Dtype d : {float32, float64}) {
    // Logits of +-1000 would overflow exp(); the fused op subtracts the max.
    const Tensor x = tensor({{1000., 0., -1000.}, {1000., 1000., 0.}}, dtype(d));
    const Tensor y = i64({1, 0});
    // Row 0: lse = 1000 -> l = 1000; row 1: lse = 1000 + log 2 -> l = log 2.
    // float32 resolves 1000 + log 2 to about 6e-5.
    const double tol = d == float32 ? 1e-4 : 1e-9;
    check_values(F::cross_entropy(x, y, Reduction::None), {2}, {1000.0, std::log(2.0)}, tol);
    // d/dx = (softmax - onehot) / 2: softmax rows [1, 0, 0] and [0.5, 0.5, 0].
    const Tensor g = grad_of([&](const Tensor& t) { return F::cross_entropy(t, y); }, x);
    check_values(g, {2, 3}, {0.5, -0.5, 0.0, -0.25, 0.25, 0.0}, tol);
    // Probability targets and label smoothing stay finite too.
    const Tensor t = tensor({{0., 1., 0.}, {0.5, 0.5, 0.}}, dtype(d));
    check_values(F::cross_entropy(x, t, Reduction::None), {2}, {1000.0, std::log(2.0)}, tol);
    const double ls = F::cross_entropy(x, y, CrossEntropyLossOptions().label_smoothing(0.1)).item();
    BOOST_TEST(std::isfinite(ls));
  }
}

BOOST_AUTO_TEST_CASE(bce_with_logits_extreme_logits) {
  for (Dtype d : {float32, float64}) {
    const Tensor x = tensor({100., -100., 100., -100.}, dtype(d));
    const Tensor y = tensor({1., 1., 0., 0.}, dtype(d));
    // Right answers: log(1 + e^-100) ~ 3.7e-44 (0 in float32), 100, 100, ~0.
    check_values(F::binary_cross_entropy_with_logits(x, y, Reduction::None), {4}, {0.0, 100.0, 100.0, 0.0}, 1e-6);
    // d/dx = (sigmoid(x) - y) / 4 = [0, -1, 1, 0] / 4.
    const Tensor g = grad_of([&](const Tensor& t) { return F::binary_cross_entropy_with_logits(t, y); }, x);
    check_values(g, {4}, {0.0, -0.25, 0.25, 0.0}, 1e-6);
    const Tensor gp = grad_of(
        [&](const Tensor& t) {
          return F::binary_cross_entropy_with_logits(t, y,
                                                     BCEWithLogitsLossOptions().pos_weight(tensor({2.}, dtype(d))));
        },
        x);
    // (lw sigmoid(x) - p y) / 4 with lw = 1 + y: [2 - 2, 0 - 2, 1, 0] / 4.
    check_values(gp, {4}, {0.0, -0.5, 0.25, 0.0}, 1e-6);
  }
}

BOOST_AUTO_TEST_CASE(cross_entropy_parallel_path_and_create_graph) {
  manual_seed(21);
  // 4096 x 10 logits: above the inline threshold, so the TBB path runs.
  const Tensor x = randn({4096, 10}, dtype(float64));
  const Tensor y = randint(0, 10, {4096});
  const Tensor w = rand({10}, dtype(float64));
  auto o = CrossEntropyLossOptions().weight(w).label_smoothing(0.1);
  // Reference: the documented formula composed from core ops.
  auto reference = [&](const Tensor& t) {
    const Tensor logp = sub(t, logsumexp(t, {1}, true));
    const Tensor nll = F::nll_loss(logp, y, NLLLossOptions(Reduction::Sum).weight(w));
    const Tensor smooth = neg(sum(mul(logp, reshape(w, {1, 10}))));
    Tensor wy = index_select(w, 0, y);
    return div(add(mul(nll, 0.9), mul(smooth, 0.1 / 10)), sum(wy));
  };
  check_close(F::cross_entropy(x, y, o), reference(x), 1e-10);
  const Tensor g_fast = grad_of([&](const Tensor& t) { return F::cross_entropy(t, y, o); }, x);
  check_close(g_fast, grad_of(reference, x), 1e-12);
  // The create_graph backward (differentiable path) gives the same first derivative.
  Tensor leaf = x.detach().clone().requires_grad_(true);
  BackwardOptions bo;
  bo.create_graph = true;
  F::cross_entropy(leaf, y, o).backward(Tensor(), bo);
  check_close(leaf.grad(), g_fast, 1e-12);
  BOOST_TEST(leaf.grad().requires_grad());
  leaf.set_grad(Tensor());  // break the leaf -> grad -> graph -> leaf cycle that create_graph makes
  // float32 agrees with float64.
  check_close(F::cross_entropy(x.to(float32), y, CrossEntropyLossOptions().weight(w.to(float32))),
              F::cross_entropy(x, y, CrossEntropyLossOptions().weight(w)), 1e-5);
}

BOOST_AUTO_TEST_CASE(no_grad_and_targets_without_grad) {
  const Tensor x = f64({{1., 2.}}).requires_grad_(true);
  {
    NoGradGuard ng;
    BOOST_TEST(!F::cross_entropy(x, i64({1})).requires_grad());
    BOOST_TEST(!F::binary_cross_entropy_with_logits(x, f64({{1., 0.}})).requires_grad());
  }
  const Tensor l = F::cross_entropy(x, i64({1}));
  BOOST_TEST(l.requires_grad());
  // Only the input requires grad: the target gets no gradient.
  const Tensor t = f64({{1., 0.}});
  F::binary_cross_entropy_with_logits(x, t).backward();
  BOOST_TEST(!t.grad().defined());
  BOOST_TEST(x.grad().defined());
}

// ---- modules ----------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(modules_match_functional) {
  manual_seed(30);
  const Tensor x = rand64({3, 4}), y = rand64({3, 4});
  const Tensor p = probs64({3, 4}), q = probs64({3, 4});
  const Tensor c = i64({0, 3, 1});
  check_close(MSELoss()(x, y), F::mse_loss(x, y), 0);
  check_close(L1Loss(Reduction::Sum)(x, y), F::l1_loss(x, y, Reduction::Sum), 0);
  check_close(SmoothL1Loss(SmoothL1LossOptions().beta(0.5))(x, y),
              F::smooth_l1_loss(x, y, SmoothL1LossOptions().beta(0.5)), 0);
  check_close(HuberLoss(HuberLossOptions().delta(0.5))(x, y), F::huber_loss(x, y, HuberLossOptions().delta(0.5)), 0);
  check_close(BCELoss()(p, q), F::binary_cross_entropy(p, q), 0);
  check_close(KLDivLoss(Reduction::BatchMean)(x, q), F::kl_div(x, q, Reduction::BatchMean), 0);
  check_close(HingeEmbeddingLoss()(x, y), F::hinge_embedding_loss(x, y), 0);
  check_close(MultiMarginLoss()(x, c), F::multi_margin_loss(x, c), 0);
  check_close(MarginRankingLoss()(x, y, sign(y)), F::margin_ranking_loss(x, y, sign(y)), 0);
  check_close(CosineEmbeddingLoss()(x, y, f64({1., -1., 1.})), F::cosine_embedding_loss(x, y, f64({1., -1., 1.})), 0);
  check_close(NLLLoss()(x, c), F::nll_loss(x, c), 0);

  // Class weights and pos_weight are buffers; forward uses them.
  const Tensor w = f64({1., 2., 3., 4.});
  // (The module gets its own copy: Module::to converts registered tensors in place.)
  auto ce = std::make_shared<CrossEntropyLoss>(CrossEntropyLossOptions().weight(w.clone()).label_smoothing(0.1));
  check_close(ce->forward(x, c), F::cross_entropy(x, c, CrossEntropyLossOptions().weight(w).label_smoothing(0.1)), 0);
  BOOST_TEST(ce->parameters().empty());
  const auto bufs = ce->named_buffers();
  BOOST_REQUIRE_EQUAL(bufs.size(), 1u);
  BOOST_TEST(bufs[0].first == "weight");
  auto bce = std::make_shared<BCEWithLogitsLoss>(BCEWithLogitsLossOptions().weight(w).pos_weight(f64({2.})));
  check_close((*bce)(x, q),
              F::binary_cross_entropy_with_logits(x, q, BCEWithLogitsLossOptions().weight(w).pos_weight(f64({2.}))), 0);
  BOOST_TEST(bce->named_buffers().size() == 2u);
  // to(float32) converts the weight buffer, so float32 inputs work.
  ce->to(float32);
  BOOST_TEST((ce->named_buffers()[0].second.dtype() == float32));
  check_close(ce->forward(x.to(float32), c),
              F::cross_entropy(x, c, CrossEntropyLossOptions().weight(w).label_smoothing(0.1)), 1e-5);
  // Polymorphic use through the Loss base.
  std::shared_ptr<Loss> criterion = std::make_shared<NLLLoss>(NLLLossOptions().ignore_index(3));
  check_close((*criterion)(x, c), F::nll_loss(x, c, NLLLossOptions().ignore_index(3)), 0);
}

BOOST_AUTO_TEST_CASE(modules_print) {
  BOOST_TEST(MSELoss().name() == "MSELoss");
  BOOST_TEST(MSELoss().extra_repr() == "reduction=mean");
  BOOST_TEST(CrossEntropyLoss().name() == "CrossEntropyLoss");
  BOOST_TEST(CrossEntropyLoss(CrossEntropyLossOptions().label_smoothing(0.1)).extra_repr() ==
             "ignore_index=-100, reduction=mean, label_smoothing=0.1");
  BOOST_TEST(SmoothL1Loss().extra_repr() == "reduction=mean, beta=1.0");
  BOOST_TEST(KLDivLoss(KLDivLossOptions(Reduction::BatchMean).log_target(true)).extra_repr() ==
             "reduction=batchmean, log_target=true");
  BOOST_TEST(MultiMarginLoss(MultiMarginLossOptions().p(2)).extra_repr() == "p=2, margin=1.0, reduction=mean");
  BOOST_TEST(MarginRankingLoss().extra_repr() == "margin=0.0, reduction=mean");
}

BOOST_AUTO_TEST_CASE(options_one_field_list) {
  // The reduction base's setter returns the derived options, so chains mix both.
  CrossEntropyLossOptions o = CrossEntropyLossOptions().reduction(Reduction::Sum).label_smoothing(0.1);
  BOOST_TEST((o.reduction() == Reduction::Sum));
  BOOST_TEST(o.label_smoothing() == 0.1);
  BOOST_TEST(o.ignore_index() == -100);
  BOOST_TEST((MultiMarginLossOptions(Reduction::None).p(2).reduction() == Reduction::None));
  BOOST_TEST(options::format_options(CrossEntropyLossOptions()) ==
             "reduction=mean, weight=None, ignore_index=-100, label_smoothing=0");
  XGRAD_CHECK_THROW_MSG(options::validate_options(HuberLossOptions().delta(std::nan("")), "Huber"),
                        "Huber: delta must be > 0, got nan");
  BOOST_CHECK_NO_THROW(CosineEmbeddingLoss(CosineEmbeddingLossOptions().margin(-3.0)));  // margin: any value
}

BOOST_AUTO_TEST_CASE(loss_modules_share_one_skeleton) {
  // Every loss is a Loss; a three-input loss called with two inputs names itself.
  std::shared_ptr<Loss> ranking = std::make_shared<MarginRankingLoss>(MarginRankingLossOptions().margin(0.5));
  XGRAD_CHECK_THROW_MSG((*ranking)(f64({1.}), f64({1.})),
                        "MarginRankingLoss: takes three inputs: call forward(input1, input2, target)");
  std::shared_ptr<Loss> cosine = std::make_shared<CosineEmbeddingLoss>();
  BOOST_TEST(cosine->extra_repr() == "margin=0.0, reduction=mean");
  // Tensor-valued options are registered as buffers under their option's name; options()
  // holds the buffer handle, and state dicts round-trip.
  auto bce = std::make_shared<BCEWithLogitsLoss>(BCEWithLogitsLossOptions().pos_weight(f64({2., 3.})));
  BOOST_REQUIRE_EQUAL(bce->named_buffers().size(), 1u);
  BOOST_TEST(bce->named_buffers()[0].first == "pos_weight");
  BOOST_TEST(bce->options().pos_weight().is_same(bce->named_buffers()[0].second));
  BOOST_TEST(!bce->options().weight().defined());
  auto other = std::make_shared<BCEWithLogitsLoss>(BCEWithLogitsLossOptions().pos_weight(f64({0., 0.})));
  other->load_state_dict(bce->state_dict());
  check_close(other->options().pos_weight(), f64({2., 3.}), 0);
}

// ---- errors --------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(errors_pointwise) {
  const Tensor x = f64({1., 2., 3.});
  XGRAD_CHECK_THROW_MSG(F::mse_loss(x, f64({1., 2.})), "mse_loss: input shape [3] and target shape [2] differ");
  XGRAD_CHECK_THROW_MSG(F::l1_loss(x, tensor({1.f, 2.f, 3.f})),
                        "l1_loss: input dtype float64 and target dtype float32");
  XGRAD_CHECK_THROW_MSG(F::mse_loss(i64({1, 2}), i64({1, 2})), "mse_loss: input must be floating");
  XGRAD_CHECK_THROW_MSG(F::mse_loss(Tensor(), x), "mse_loss");
  XGRAD_CHECK_THROW_MSG(F::mse_loss(x, x, Reduction::BatchMean), "'batchmean' is only supported by kl_div");
  XGRAD_CHECK_THROW_MSG(F::smooth_l1_loss(x, x, SmoothL1LossOptions().beta(-1.0)), "beta must be >= 0, got -1");
  XGRAD_CHECK_THROW_MSG(F::huber_loss(x, x, HuberLossOptions().delta(0.0)), "huber_loss: delta must be > 0, got 0");
  XGRAD_CHECK_THROW_MSG(SmoothL1Loss(SmoothL1LossOptions().beta(-2.0)), "SmoothL1Loss: beta must be >= 0");
  XGRAD_CHECK_THROW_MSG(HuberLoss(HuberLossOptions().delta(-1.0)), "HuberLoss: delta must be > 0");
  XGRAD_CHECK_THROW_MSG(F::kl_div(x, f64({{1., 2., 3.}})), "kl_div: input shape [3] and target shape [1, 3]");
  XGRAD_CHECK_THROW_MSG(F::hinge_embedding_loss(x, f64({1.})), "hinge_embedding_loss: input shape [3]");
  XGRAD_CHECK_THROW_MSG(F::margin_ranking_loss(x, x, f64({1.})),
                        "margin_ranking_loss: input1 shape [3] and target shape [1]");
  XGRAD_CHECK_THROW_MSG(F::cosine_embedding_loss(f64({{1., 2.}}), f64({{1., 2.}}), f64({{1.}})),
                        "cosine_embedding_loss: expected a 0-d or 1-d target, got shape [1, 1]");
  XGRAD_CHECK_THROW_MSG(F::cosine_embedding_loss(f64({{1., 2.}}), f64({{1., 2.}}), f64({1., 1.})),
                        "target shape [2] does not match the batch size of inputs of shape [1, 2]");
  XGRAD_CHECK_THROW_MSG(F::cosine_embedding_loss(x, x, f64({1.})), "a 1-d target expects 2-d inputs");
}

BOOST_AUTO_TEST_CASE(errors_bce) {
  const Tensor p = f64({0.5, 1.5});
  XGRAD_CHECK_THROW_MSG(F::binary_cross_entropy(p, f64({0., 1.})), "got 1.5 at flat index 1");
  XGRAD_CHECK_THROW_MSG(F::binary_cross_entropy(f64({-0.1}), f64({0.})), "must be in [0, 1]");
  XGRAD_CHECK_THROW_MSG(F::binary_cross_entropy(f64({0.5}), f64({0., 1.})),
                        "binary_cross_entropy: input shape [1] and target shape [2] differ");
  XGRAD_CHECK_THROW_MSG(
      F::binary_cross_entropy(f64({0.5, 0.5}), f64({0., 1.}), BCELossOptions().weight(f64({1., 2., 3.}))),
      "weight of shape [3] does not broadcast to the input shape [2]");
  XGRAD_CHECK_THROW_MSG(F::binary_cross_entropy_with_logits(f64({{0.5, 0.5}}), f64({{0., 1.}}),
                                                            BCEWithLogitsLossOptions().pos_weight(f64({1., 2., 3.}))),
                        "pos_weight of shape [3] does not broadcast to the input shape [1, 2]");
  XGRAD_CHECK_THROW_MSG(F::binary_cross_entropy_with_logits(f64({0.5}), f64({{1.}})),
                        "binary_cross_entropy_with_logits: input shape [1] and target shape [1, 1] differ");
  XGRAD_CHECK_THROW_MSG(F::binary_cross_entropy_with_logits(f64({0.5}), tensor({1.f})),
                        "input dtype float64 and target dtype float32");
}

BOOST_AUTO_TEST_CASE(errors_cross_entropy_and_nll) {
  const Tensor x = f64({{1., 2., 3.}, {1., 1., 1.}});
  XGRAD_CHECK_THROW_MSG(
      F::cross_entropy(x, i64({3, 0})),
      "cross_entropy: target 3 is out of bounds for 3 classes (expected [0, 3) or ignore_index -100)");
  XGRAD_CHECK_THROW_MSG(F::cross_entropy(x, i64({-1, 0})), "target -1 is out of bounds");
  XGRAD_CHECK_THROW_MSG(F::cross_entropy(x, i64({0, 1, 2})),
                        "expected a class-index target of shape [2] for input of shape [2, 3], got target shape [3]");
  XGRAD_CHECK_THROW_MSG(F::cross_entropy(x, f64({0., 1.})),
                        "probability target shape [2] must equal the input shape [2, 3]");
  XGRAD_CHECK_THROW_MSG(F::cross_entropy(x, tensor({{0.f, 1.f, 0.f}, {1.f, 0.f, 0.f}})),
                        "input dtype float64 and target dtype float32");
  XGRAD_CHECK_THROW_MSG(F::cross_entropy(x, i64({0, 1}), CrossEntropyLossOptions().label_smoothing(1.5)),
                        "label_smoothing must be in [0, 1], got 1.5");
  XGRAD_CHECK_THROW_MSG(F::cross_entropy(x, i64({0, 1}), CrossEntropyLossOptions().label_smoothing(-0.1)),
                        "label_smoothing must be in [0, 1]");
  XGRAD_CHECK_THROW_MSG(CrossEntropyLoss(CrossEntropyLossOptions().label_smoothing(2.0)),
                        "CrossEntropyLoss: label_smoothing must be in [0, 1], got 2");
  XGRAD_CHECK_THROW_MSG(F::cross_entropy(x, i64({0, 1}), CrossEntropyLossOptions().weight(f64({1., 2.}))),
                        "weight must have shape [3] (one entry per class), got shape [2]");
  XGRAD_CHECK_THROW_MSG(F::cross_entropy(x, i64({0, 1}), CrossEntropyLossOptions().weight(tensor({1.f, 2.f, 3.f}))),
                        "input dtype float64 and weight dtype float32");
  XGRAD_CHECK_THROW_MSG(F::cross_entropy(x, i64({0, 1}), CrossEntropyLossOptions().weight(rand64({3}))),
                        "weight requires grad");
  XGRAD_CHECK_THROW_MSG(
      F::cross_entropy(x, f64({{0., 1., 0.}, {1., 0., 0.}}), CrossEntropyLossOptions().ignore_index(1)),
      "ignore_index (1) is not supported for probability targets");
  XGRAD_CHECK_THROW_MSG(F::cross_entropy(scalar_tensor(1.0, dtype(float64)), i64({0})),
                        "cross_entropy: input must have a class dimension");
  XGRAD_CHECK_THROW_MSG(F::cross_entropy(x, i64({0, 1}), Reduction::BatchMean), "only supported by kl_div");
  XGRAD_CHECK_THROW_MSG(F::nll_loss(x, i64({0, 5})), "nll_loss: target 5 is out of bounds for 3 classes");
  XGRAD_CHECK_THROW_MSG(F::nll_loss(x, f64({0., 1.})), "nll_loss: class-index target must be int64, got float64");
  XGRAD_CHECK_THROW_MSG(
      F::nll_loss(x, i64({0, 1, 2, 0}, {2, 2})),
      "expected a class-index target of shape [2] for input of shape [2, 3], got target shape [2, 2]");
}

BOOST_AUTO_TEST_CASE(errors_multi_margin) {
  const Tensor x = f64({{1., 2., 3.}, {1., 1., 1.}});
  XGRAD_CHECK_THROW_MSG(F::multi_margin_loss(x, i64({0, 1}), MultiMarginLossOptions().p(3)),
                        "multi_margin_loss: only p = 1 and p = 2 are supported, got p = 3");
  XGRAD_CHECK_THROW_MSG(MultiMarginLoss(MultiMarginLossOptions().p(0)), "MultiMarginLoss: only p = 1 and p = 2");
  XGRAD_CHECK_THROW_MSG(F::multi_margin_loss(x, i64({0, 3})),
                        "multi_margin_loss: target 3 is out of bounds for 3 classes (expected [0, 3))");
  XGRAD_CHECK_THROW_MSG(F::multi_margin_loss(x, i64({-100, 0})), "target -100 is out of bounds");
  XGRAD_CHECK_THROW_MSG(F::multi_margin_loss(reshape(x, {1, 2, 3}), i64({0})),
                        "expected input of shape [C] or [N, C], got shape [1, 2, 3]");
  XGRAD_CHECK_THROW_MSG(F::multi_margin_loss(x, i64({0, 1}), MultiMarginLossOptions().weight(f64({1.}))),
                        "weight must have shape [3]");
}

BOOST_AUTO_TEST_SUITE_END()
