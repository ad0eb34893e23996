// Attributions (explain/attribution.hpp, faithfulness.hpp): saliency against the directly
// computed input gradient, gradient x input, Integrated Gradients (exact on a linear model,
// completeness within 1% on a small MLP, chunking), SmoothGrad (0 noise = saliency, seeding),
// occlusion (hand-computed on a model that sees one region), deletion/insertion AUCs (hand-
// computed), and the error messages.
#include <cmath>
#include <functional>

#include "test_util.hpp"
#include "xgrad/autograd/indexing.hpp"
#include "xgrad/autograd/shape.hpp"
#include "xgrad/explain/attribution.hpp"
#include "xgrad/explain/faithfulness.hpp"
#include "xgrad/nn/activation.hpp"
#include "xgrad/nn/containers.hpp"
#include "xgrad/nn/linear.hpp"

using namespace xgrad;
namespace ex = xgrad::explain;
using xgrad::test::check_close;
using xgrad::test::check_values;
using xgrad::test::max_abs_diff;

namespace {

// A model given by a function of its input (no parameters).
struct Fn : nn::Module {
  explicit Fn(std::function<Tensor(const Tensor&)> f) : Module("Fn"), f_(std::move(f)) {}
  Tensor forward(const Tensor& x) override { return f_(x); }
  std::function<Tensor(const Tensor&)> f_;
};

// Linear(4, 3) in float64 with fixed weights: logits = x W^T + b.
std::shared_ptr<nn::Linear> linear_model() {
  auto m = std::make_shared<nn::Linear>(4, 3);
  m->to(float64);
  NoGradGuard ng;
  m->weight.copy_(tensor({{1.0, -2.0, 0.5, 0.0}, {0.0, 1.0, -1.0, 3.0}, {2.0, 0.0, 0.0, -1.0}}, dtype(float64)));
  m->bias.copy_(tensor({0.1, -0.2, 0.3}, dtype(float64)));
  return m;
}

std::shared_ptr<nn::Sequential> mlp() {
  manual_seed(7);
  auto m = std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(4, 8), std::make_shared<nn::Tanh>(),
                                            std::make_shared<nn::Linear>(8, 3));
  m->to(float64);
  m->eval();
  return m;
}

Tensor x_batch() { return tensor({{0.5, -1.0, 2.0, 0.3}, {1.5, 0.2, -0.7, 1.0}}, dtype(float64)); }

// d logits[n, t_n] / dx by a plain backward.
Tensor direct_gradient(nn::Module& m, const Tensor& x, const Tensor& t) {
  Tensor xi = x.detach();
  xi.requires_grad_(true);
  m(xi).gather(1, t.unsqueeze(1)).sum().backward();
  return xi.grad();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(explain_attribution)

BOOST_AUTO_TEST_CASE(saliency_equals_input_gradient) {
  auto m = mlp();
  const Tensor x = x_batch();
  const Tensor t = tensor({2, 0}, dtype(Dtype::int64));
  const Tensor g = direct_gradient(*m, x, t);
  check_close(ex::saliency(*m, x, t), g.abs(), 1e-12);
  check_close(ex::saliency(*m, x, t, ex::SaliencyOptions().abs(false)), g, 1e-12);
  // No parameter gradient is touched (autograd::grad).
  m->zero_grad();
  (void)ex::saliency(*m, x, t);
  for (const auto& p : m->parameters()) BOOST_CHECK(!p.grad().defined());
  // Default target = argmax of the logits.
  const Tensor am = (*m)(x).argmax(1);
  check_close(ex::saliency(*m, x), direct_gradient(*m, x, am).abs(), 1e-12);
  // Linear model: |W[t]| exactly.
  auto lin = linear_model();
  check_values(ex::saliency(*lin, x, tensor({0, 1}, dtype(Dtype::int64))), {2, 4}, {1, 2, 0.5, 0, 0, 1, 1, 3});
}

BOOST_AUTO_TEST_CASE(saliency_channel_max) {
  // f = sum(w * x) with w of shape [2, 1, 2] over x [N, 2, 1, 2]: grad = w.
  const Tensor w = tensor({{{1.0, -3.0}}, {{-2.0, 0.5}}}, dtype(float64));
  auto m = std::make_shared<Fn>([w](const Tensor& x) {
    const Tensor s = (x * w).sum(std::vector<std::int64_t>{1, 2, 3});
    return stack({s, s * 0.0}, 1);
  });
  const Tensor x = ones({1, 2, 1, 2}, dtype(float64));
  const Tensor t = tensor({0}, dtype(Dtype::int64));
  check_values(ex::saliency(*m, x, t, ex::SaliencyOptions().channel_max(true)), {1, 1, 1, 2}, {2, 3});
}

BOOST_AUTO_TEST_CASE(gradient_times_input) {
  auto m = mlp();
  const Tensor x = x_batch();
  const Tensor t = tensor({1, 1}, dtype(Dtype::int32));  // int32 targets are accepted
  check_close(ex::gradient_x_input(*m, x, t), x * direct_gradient(*m, x, t.to(Dtype::int64)), 1e-12);
}

BOOST_AUTO_TEST_CASE(integrated_gradients_linear_exact) {
  // Linear in x: every path gradient is W[t], the trapezoid weights sum to 1, so
  // IG = (x - x') W[t] and sum(IG) = f(x) - f(x') exactly, for any number of steps.
  auto lin = linear_model();
  const Tensor x = x_batch();
  const Tensor t = tensor({0, 2}, dtype(Dtype::int64));
  const Tensor baseline = full({4}, 0.5, dtype(float64));  // broadcasts to [2, 4]
  auto r = ex::integrated_gradients(
      *lin, x, t, ex::IntegratedGradientsOptions().baseline(baseline).steps(3).return_convergence_delta(true));
  // Sample 0: (x - 0.5) * W[0] = [0, -1.5, 1.5, -0.2] * [1, -2, 0.5, 0] = [0, 3, 0.75, 0].
  // Sample 1: [1, -0.3, -1.2, 0.5] * [2, 0, 0, -1] = [2, 0, 0, -0.5].
  check_values(r.attributions, {2, 4}, {0, 3, 0.75, 0, 2, 0, 0, -0.5}, 1e-12);
  check_values(r.delta, {2}, {0, 0}, 1e-12);
}

BOOST_AUTO_TEST_CASE(integrated_gradients_completeness) {
  auto m = mlp();
  const Tensor x = x_batch() * 2.0;
  auto r =
      ex::integrated_gradients(*m, x, {}, ex::IntegratedGradientsOptions().steps(300).return_convergence_delta(true));
  const Tensor logits = (*m)(x).detach();
  const Tensor logits0 = (*m)(zeros_like(x)).detach();
  const Tensor t = logits.argmax(1);
  const auto diff = (logits.gather(1, t.unsqueeze(1)) - logits0.gather(1, t.unsqueeze(1))).to_vector<double>();
  const auto sums = r.attributions.sum(std::vector<std::int64_t>{1}).to_vector<double>();
  const auto delta = r.delta.to_vector<double>();
  for (std::size_t n = 0; n < 2; ++n) {
    BOOST_TEST_MESSAGE("IG sum " << sums[n] << " vs f(x) - f(x') " << diff[n]);
    BOOST_CHECK(std::fabs(diff[n]) > 0.05);  // a meaningful difference
    BOOST_CHECK_LE(std::fabs(sums[n] - diff[n]), 0.01 * std::fabs(diff[n]));
    BOOST_CHECK_CLOSE(delta[n], sums[n] - diff[n], 1e-6);
  }
  // Chunked over steps: the same sums, in a different grouping only.
  auto rc = ex::integrated_gradients(*m, x, {}, ex::IntegratedGradientsOptions().steps(300).steps_per_batch(7));
  check_close(rc.attributions, r.attributions, 1e-12);
  BOOST_CHECK(!rc.delta.defined());
}

BOOST_AUTO_TEST_CASE(smooth_grad) {
  auto m = mlp();
  const Tensor x = x_batch();
  const Tensor t = tensor({0, 1}, dtype(Dtype::int64));
  check_close(ex::smooth_grad(*m, x, t, ex::SmoothGradOptions().noise_fraction(0.0).samples(3)), ex::saliency(*m, x, t),
              1e-12);
  const auto o = ex::SmoothGradOptions().noise_fraction(0.2).samples(8).seed(3);
  const Tensor a = ex::smooth_grad(*m, x, t, o);
  BOOST_CHECK_EQUAL(max_abs_diff(a, ex::smooth_grad(*m, x, t, o)), 0.0);  // seeded
  BOOST_CHECK_GT(max_abs_diff(a, ex::smooth_grad(*m, x, t, ex::SmoothGradOptions(o).seed(4))), 1e-6);
  BOOST_CHECK_GT(max_abs_diff(a, ex::saliency(*m, x, t)), 1e-6);
  BOOST_CHECK(a.shape() == x.shape());
}

BOOST_AUTO_TEST_CASE(occlusion_one_region) {
  // logit 0 = 2 * sum of x over rows 1-2, cols 1-2 (all channels); logit 1 = 0.
  auto m = std::make_shared<Fn>([](const Tensor& x) {
    const Tensor s = x.narrow(2, 1, 2).narrow(3, 1, 2).sum(std::vector<std::int64_t>{1, 2, 3}) * 2.0;
    return stack({s, s * 0.0}, 1);
  });
  const Tensor x = ones({1, 2, 5, 5}, dtype(float64));
  const Tensor a = ex::occlusion(*m, x, {}, ex::OcclusionOptions().window({2, 2}).stride({1, 1}));
  BOOST_REQUIRE(a.shape() == x.shape());
  // Pixel (1, 1) lies under the windows at (0,0), (0,1), (1,0), (1,1), which hide 1, 2, 2 and
  // 4 region pixels of 2 channels, each worth 2: drops 4, 8, 8, 16, mean 9.
  BOOST_CHECK_CLOSE(a.index({0, 0, 1, 1}).item<double>(), 9.0, 1e-9);
  BOOST_CHECK_CLOSE(a.index({0, 1, 1, 1}).item<double>(), 9.0, 1e-9);  // same over channels
  // Pixel (4, 4): only the window at (3, 3) covers it, which misses the region.
  BOOST_CHECK_EQUAL(a.index({0, 0, 4, 4}).item<double>(), 0.0);
  // Pixel (0, 0): only the window at (0, 0): drop 4.
  BOOST_CHECK_CLOSE(a.index({0, 0, 0, 0}).item<double>(), 4.0, 1e-9);
  // Stride 2 with a 2x2 window on 5x5: row/col 4 is never covered -> 0.
  const Tensor b = ex::occlusion(*m, x, {}, ex::OcclusionOptions().window({2, 2}).stride({2, 2}));
  BOOST_CHECK_EQUAL(b.index({0, 0, 4, 0}).item<double>(), 0.0);
  BOOST_CHECK_CLOSE(b.index({0, 0, 1, 1}).item<double>(), 4.0, 1e-9);  // window (0,0) only
}

BOOST_AUTO_TEST_CASE(deletion_insertion_known_answer) {
  // logit 0 = 5 * sum of x over rows 0-1, cols 0-1 (region R); logit 1 = 0. x = 1 on 4 x 4.
  auto m = std::make_shared<Fn>([](const Tensor& x) {
    const Tensor s = x.narrow(2, 0, 2).narrow(3, 0, 2).sum(std::vector<std::int64_t>{1, 2, 3}) * 5.0;
    return stack({s, s * 0.0}, 1);
  });
  const Tensor x = ones({1, 1, 4, 4}, dtype(float64));
  Tensor good = zeros({1, 1, 4, 4}, dtype(float64));
  good.narrow(2, 0, 2).narrow(3, 0, 2).fill_(1.0);
  const Tensor bad = ones_like(good) - good;
  const auto o = ex::FaithfulnessOptions().steps(4).use_softmax(false);
  auto rg = ex::deletion_insertion(*m, x, good, {}, o);
  auto rb = ex::deletion_insertion(*m, x, bad, {}, o);
  // 16 pixels in 4 steps of 4. Good ranking deletes R first: scores 20, 0, 0, 0, 0,
  // AUC = (20 + 0) / 8 = 2.5; insertion 0, 20, 20, 20, 20: AUC = (20 + 40 + 40 + 40) / 8 = 17.5.
  check_values(rg.deletion_curve, {1, 5}, {20, 0, 0, 0, 0});
  check_values(rg.insertion_curve, {1, 5}, {0, 20, 20, 20, 20});
  check_values(rg.deletion_auc, {1}, {2.5});
  check_values(rg.insertion_auc, {1}, {17.5});
  // The reversed ranking: deletion 20, 20, 20, 20, 0 (17.5), insertion 0, 0, 0, 0, 20 (2.5).
  check_values(rb.deletion_auc, {1}, {17.5});
  check_values(rb.insertion_auc, {1}, {2.5});
  // Saliency recovers the good ranking; with softmax the scores are probabilities.
  const Tensor s = ex::saliency(*m, x);
  auto rs = ex::deletion_insertion(*m, x, s);
  BOOST_CHECK_LT(rs.deletion_auc.item<double>(), ex::deletion_insertion(*m, x, bad).deletion_auc.item<double>());
  BOOST_CHECK_LE(rs.insertion_curve.max().item<double>(), 1.0);
}

BOOST_AUTO_TEST_CASE(errors) {
  auto m = mlp();
  const Tensor x = x_batch();
  XGRAD_CHECK_THROW_MSG(ex::saliency(*m, tensor({1.0, 2.0, 3.0, 4.0}, dtype(float64))),
                        "saliency: input must be a batch [N, ...] of rank >= 2");
  XGRAD_CHECK_THROW_MSG(ex::saliency(*m, ones({2, 4}, dtype(Dtype::int64))), "saliency: input must be floating");
  XGRAD_CHECK_THROW_MSG(ex::saliency(*m, x, tensor({0, 3}, dtype(Dtype::int64))),
                        "saliency: target index 3 of sample 1 is out of range for 3 classes");
  XGRAD_CHECK_THROW_MSG(ex::saliency(*m, x, tensor({0}, dtype(Dtype::int64))),
                        "saliency: target must have shape [2] (one class per sample)");
  XGRAD_CHECK_THROW_MSG(ex::saliency(*m, x, tensor({0.0, 1.0}, dtype(float64))),
                        "saliency: target must be int64 or int32");
  auto vec = std::make_shared<Fn>([](const Tensor& x) { return x.sum(); });
  XGRAD_CHECK_THROW_MSG(ex::saliency(*vec, x), "saliency: the model must return logits [N, C] = [2, C]");
  XGRAD_CHECK_THROW_MSG(ex::integrated_gradients(*m, x, {}, ex::IntegratedGradientsOptions().steps(1)),
                        "integrated_gradients: steps must be >= 2");
  XGRAD_CHECK_THROW_MSG(
      ex::integrated_gradients(*m, x, {}, ex::IntegratedGradientsOptions().baseline(zeros({3}, dtype(float64)))),
      "integrated_gradients: baseline of shape [3] does not broadcast to the input's shape [2, 4]");
  XGRAD_CHECK_THROW_MSG(ex::smooth_grad(*m, x, {}, ex::SmoothGradOptions().samples(0)),
                        "smooth_grad: samples must be >= 1, got 0");
  XGRAD_CHECK_THROW_MSG(ex::smooth_grad(*m, x, {}, ex::SmoothGradOptions().noise_fraction(-1)),
                        "smooth_grad: noise_fraction must be >= 0");
  XGRAD_CHECK_THROW_MSG(ex::occlusion(*m, x), "occlusion: input must be [N, C, H, W]");
  auto img = std::make_shared<Fn>([](const Tensor& x) { return x.flatten(1).narrow(1, 0, 2); });
  const Tensor xi = ones({1, 1, 3, 3}, dtype(float64));
  XGRAD_CHECK_THROW_MSG(ex::occlusion(*img, xi, {}, ex::OcclusionOptions().window({4, 1})),
                        "occlusion: window [4, 1] is larger than the image [3, 3]");
  XGRAD_CHECK_THROW_MSG(ex::occlusion(*img, xi, {}, ex::OcclusionOptions().stride({0, 1})),
                        "occlusion: window [4, 4] and stride [0, 1] must be >= 1");
  XGRAD_CHECK_THROW_MSG(ex::deletion_insertion(*img, xi, ones({1, 2, 3, 3}, dtype(float64))),
                        "deletion_insertion: attribution must be floating [1, 1 or 1, 3, 3]");
  XGRAD_CHECK_THROW_MSG(ex::deletion_insertion(*img, xi, xi, {}, ex::FaithfulnessOptions().steps(0)),
                        "deletion_insertion: steps must be >= 1, got 0");
}

BOOST_AUTO_TEST_SUITE_END()
