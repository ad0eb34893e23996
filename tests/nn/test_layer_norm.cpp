// layer_norm, rms_norm and the LayerNorm / RMSNorm modules (layer_norm.hpp): values against
// a naive float64 formula, hand-derived gradients, gradcheck and gradgradcheck on contiguous
// and non-contiguous inputs, fused vs composed backward, thread-count determinism, float32
// accuracy on rows with a large mean, modules (parameters, state dict, repr) and every error.
#include <cmath>
#include <limits>
#include <optional>

#include "test_util.hpp"
#include "xgrad/nn/layer_norm.hpp"

using namespace xgrad;
using xgrad::test::ThreadGuard;
using namespace xgrad::nn;
namespace F = xgrad::nn::functional;
using xgrad::test::check_close;
using xgrad::test::check_gradcheck;
using xgrad::test::check_gradgradcheck;
using xgrad::test::check_values;
using xgrad::test::rand64;

namespace {

using Ts = std::vector<Tensor>;

std::vector<std::string> names_of(const std::vector<std::pair<std::string, Tensor>>& v) {
  std::vector<std::string> out;
  for (const auto& [n, t] : v) out.push_back(n);
  return out;
}

// The naive reference on doubles: x read as rows of n values; w, b of n values or empty.
std::vector<double> naive(const Tensor& x, std::int64_t n, const Tensor& w, const Tensor& b, bool rms, double eps) {
  const auto xv = x.detach().to(float64).contiguous().to_vector<double>();
  const auto wv = w.defined() ? w.detach().to(float64).contiguous().to_vector<double>() : std::vector<double>();
  const auto bv = b.defined() ? b.detach().to(float64).contiguous().to_vector<double>() : std::vector<double>();
  std::vector<double> out(xv.size());
  const auto un = static_cast<std::size_t>(n);
  for (std::size_t r = 0; r * un < xv.size(); ++r) {
    double mu = 0.0, var = 0.0;
    if (!rms) {
      for (std::size_t j = 0; j < un; ++j) mu += xv[r * un + j];
      mu /= static_cast<double>(n);
    }
    for (std::size_t j = 0; j < un; ++j) var += (xv[r * un + j] - mu) * (xv[r * un + j] - mu);
    var /= static_cast<double>(n);
    for (std::size_t j = 0; j < un; ++j) {
      double y = (xv[r * un + j] - mu) / std::sqrt(var + eps);
      if (!wv.empty()) y *= wv[j];
      if (!bv.empty()) y += bv[j];
      out[r * un + j] = y;
    }
  }
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(layer_norm)

BOOST_AUTO_TEST_CASE(layer_norm_values_against_the_naive_formula) {
  manual_seed(1);
  const Tensor x = randn({3, 2, 5}, dtype(float64));
  const Tensor w = randn({2, 5}, dtype(float64)), b = randn({2, 5}, dtype(float64));
  const Tensor w1 = randn({5}, dtype(float64)), b1 = randn({5}, dtype(float64));
  // Over the last two dims (rows of 10) and over the last dim (rows of 5).
  check_values(F::layer_norm(x, {2, 5}, w, b), {3, 2, 5}, naive(x, 10, w, b, false, 1e-5));
  check_values(F::layer_norm(x, {2, 5}, w), {3, 2, 5}, naive(x, 10, w, Tensor(), false, 1e-5));
  check_values(F::layer_norm(x, {2, 5}), {3, 2, 5}, naive(x, 10, Tensor(), Tensor(), false, 1e-5));
  check_values(F::layer_norm(x, {5}, w1, b1, 0.1), {3, 2, 5}, naive(x, 5, w1, b1, false, 0.1));
  check_values(F::layer_norm(x, {3, 2, 5}), {3, 2, 5}, naive(x, 30, Tensor(), Tensor(), false, 1e-5));
  // A non-contiguous input equals its contiguous copy.
  const Tensor xt = randn({3, 5, 2}, dtype(float64)).transpose(1, 2);
  check_close(F::layer_norm(xt, {2, 5}, w, b), F::layer_norm(xt.contiguous(), {2, 5}, w, b), 0.0);
  check_values(F::layer_norm(xt, {5}, w1, b1), {3, 2, 5}, naive(xt, 5, w1, b1, false, 1e-5));
  // float32 result for float32 input.
  const Tensor y32 = F::layer_norm(x.to(float32), {5});
  BOOST_CHECK(y32.dtype() == float32);
  check_close(y32, F::layer_norm(x, {5}), 1e-6);
  BOOST_CHECK_EQUAL(F::layer_norm(rand64({2, 3}), {3}).grad_fn_name(), "NativeLayerNormBackward");
}

BOOST_AUTO_TEST_CASE(rms_norm_values_against_the_naive_formula) {
  manual_seed(2);
  const Tensor x = randn({4, 3, 2}, dtype(float64));
  const Tensor w = randn({3, 2}, dtype(float64));
  check_values(F::rms_norm(x, {3, 2}, w, 1e-3), {4, 3, 2}, naive(x, 6, w, Tensor(), true, 1e-3));
  check_values(F::rms_norm(x, {2}), {4, 3, 2},
               naive(x, 2, Tensor(), Tensor(), true, std::numeric_limits<double>::epsilon()));
  const Tensor xt = randn({4, 2, 3}, dtype(float64)).transpose(1, 2);
  check_values(F::rms_norm(xt, {3, 2}, w), {4, 3, 2},
               naive(xt, 6, w, Tensor(), true, std::numeric_limits<double>::epsilon()));
  // The default eps is the input dtype's machine epsilon: float32's 1.19e-7 is visible on a
  // tiny row, y = x / sqrt(x^2 + eps).
  const Tensor tiny = full({1, 2}, 1e-4);
  const double eps32 = std::numeric_limits<float>::epsilon();
  const double want = 1e-4 / std::sqrt(1e-8 + eps32);
  check_values(F::rms_norm(tiny, {2}), {1, 2}, {want, want}, 1e-6);
  check_values(F::rms_norm(tiny.to(float64), {2}), {1, 2},
               {1e-4 / std::sqrt(1e-8 + std::numeric_limits<double>::epsilon()),
                1e-4 / std::sqrt(1e-8 + std::numeric_limits<double>::epsilon())});
  BOOST_CHECK_EQUAL(F::rms_norm(rand64({2, 3}), {3}).grad_fn_name(), "FusedRmsNormBackward");
}

BOOST_AUTO_TEST_CASE(layer_norm_gradient_by_hand) {
  // One row x = [1, 3], eps = 1, weight w = [2, 5], g = dL/dy = [1, 0].
  // u = (x0 - x1) / 2 = -1; xhat = [u, -u] / sqrt(u^2 + eps) = [-1, 1] / sqrt(2).
  // y0 = w0 u / sqrt(u^2 + eps) + b0, so dy0/du = w0 eps / (u^2 + eps)^(3/2) = 2 / 2^(3/2),
  // du/dx0 = 1/2, du/dx1 = -1/2: dx = [1, -1] / (2 sqrt 2).
  // (PyTorch's formula agrees: rstd = 1/sqrt2, gw = [2, 0], mean(gw) = 1,
  //  mean(gw xhat) = -1/sqrt2: dx = rstd ([1, -1] + xhat / sqrt2) = rstd [1/2, -1/2].)
  // dweight = g xhat = [-1/sqrt2, 0], dbias = g = [1, 0].
  Tensor x = tensor({{1., 3.}}, dtype(float64)).requires_grad_(true);
  Tensor w = tensor({2., 5.}, dtype(float64)).requires_grad_(true);
  Tensor b = tensor({0.5, -0.5}, dtype(float64)).requires_grad_(true);
  Tensor y = F::layer_norm(x, {2}, w, b, 1.0);
  const double s2 = std::sqrt(2.0);
  check_values(y, {1, 2}, {-2 / s2 + 0.5, 5 / s2 - 0.5});
  y.backward(tensor({{1., 0.}}, dtype(float64)));
  check_values(x.grad(), {1, 2}, {1 / (2 * s2), -1 / (2 * s2)});
  check_values(w.grad(), {2}, {-1 / s2, 0.0});
  check_values(b.grad(), {2}, {1.0, 0.0});
}

BOOST_AUTO_TEST_CASE(rms_norm_gradient_by_hand) {
  // One row x = [3, 4], eps = 0: mean(x^2) = 25/2, r = rstd = sqrt2 / 5, y_i = x_i r.
  // dr/dx_j = -r^3 x_j / 2, so with g = [1, 0]:
  //   dx0 = r - x0^2 r^3 / 2 = r (1 - 9/25) = 16 sqrt2 / 125,
  //   dx1 = -x0 x1 r^3 / 2 = -12 sqrt2 / 125;
  // dweight = g xhat = [3 r, 0] with weight [1, 1].
  Tensor x = tensor({{3., 4.}}, dtype(float64)).requires_grad_(true);
  Tensor w = tensor({1., 1.}, dtype(float64)).requires_grad_(true);
  Tensor y = F::rms_norm(x, {2}, w, 0.0);
  const double s2 = std::sqrt(2.0), r = s2 / 5;
  check_values(y, {1, 2}, {3 * r, 4 * r});
  y.backward(tensor({{1., 0.}}, dtype(float64)));
  check_values(x.grad(), {1, 2}, {16 * s2 / 125, -12 * s2 / 125});
  check_values(w.grad(), {2}, {3 * r, 0.0});
}

BOOST_AUTO_TEST_CASE(gradcheck_and_gradgradcheck_contiguous_and_views) {
  manual_seed(3);
  const Tensor x = rand64({3, 4}), w = rand64({4}), b = rand64({4});
  const Tensor x3 = rand64({2, 2, 3}), w3 = rand64({2, 3}), b3 = rand64({2, 3});
  auto ln = [](const Ts& in) { return F::layer_norm(in[0], {4}, in[1], in[2]); };
  auto ln2 = [](const Ts& in) { return F::layer_norm(in[0], {2, 3}, in[1], in[2]); };
  auto ln_plain = [](const Ts& in) { return F::layer_norm(in[0], {4}); };
  auto ln_w = [](const Ts& in) { return F::layer_norm(in[0], {4}, in[1]); };
  auto rms = [](const Ts& in) { return F::rms_norm(in[0], {4}, in[1], 1e-3); };
  auto rms2 = [](const Ts& in) { return F::rms_norm(in[0], {2, 3}, in[1]); };
  auto rms_plain = [](const Ts& in) { return F::rms_norm(in[0], {4}); };
  for (auto* check : {&check_gradcheck, &check_gradgradcheck}) {
    (*check)(ln, {x, w, b}, {});
    (*check)(ln2, {x3, w3, b3}, {});
    (*check)(ln_plain, {x}, {});
    (*check)(ln_w, {x, w}, {});
    (*check)(rms, {x, w}, {});
    (*check)(rms2, {x3, w3}, {});
    (*check)(rms_plain, {x}, {});
    // Non-contiguous inputs: gradients through a transpose and a strided slice of the leaf.
    const Tensor leaf_t = rand64({4, 3}), leaf_s = rand64({3, 8});
    (*check)([](const Ts& in) { return F::layer_norm(in[0].transpose(0, 1), {4}, in[1], in[2]); }, {leaf_t, w, b}, {});
    (*check)([](const Ts& in) { return F::layer_norm(in[0].slice(1, 0, 8, 2), {4}, in[1], in[2]); }, {leaf_s, w, b},
             {});
    (*check)([](const Ts& in) { return F::rms_norm(in[0].transpose(0, 1), {4}, in[1]); }, {leaf_t, w}, {});
    (*check)([](const Ts& in) { return F::rms_norm(in[0].slice(1, 0, 8, 2), {4}, in[1]); }, {leaf_s, w}, {});
    // A single row (no leading dims: dweight is g xhat itself).
    (*check)([](const Ts& in) { return F::layer_norm(in[0], {3}, in[1], in[2]); },
             {rand64({3}), rand64({3}), rand64({3})}, {});
  }
}

BOOST_AUTO_TEST_CASE(fused_and_composed_backward_agree) {
  manual_seed(4);
  for (bool rms : {false, true}) {
    Tensor x = rand64({5, 2, 3}), w = rand64({2, 3}), b = rand64({2, 3});
    Tensor g = randn({5, 2, 3}, dtype(float64));
    auto grads = [&](bool create_graph) {
      Tensor y = rms ? F::rms_norm(x, {2, 3}, w) : F::layer_norm(x, {2, 3}, w, b);
      autograd::GradOptions o;
      o.create_graph = create_graph;
      o.allow_unused = true;
      return autograd::grad({y}, {x, w, b}, {g}, o);
    };
    const auto fused = grads(false), composed = grads(true);
    for (std::size_t i = 0; i < (rms ? 2u : 3u); ++i) check_close(fused[i], composed[i], 1e-12);
    BOOST_CHECK(composed[0].requires_grad());
    BOOST_CHECK(!fused[0].requires_grad());
  }
}

BOOST_AUTO_TEST_CASE(bit_identical_at_1_and_2_threads) {
  ThreadGuard tg;
  manual_seed(5);
  const Tensor x0 = randn({300, 700});
  const Tensor g = randn({300, 700});
  for (bool rms : {false, true}) {
    auto run = [&](int threads) {
      set_num_threads(threads);
      Tensor x = x0.detach().requires_grad_(true);
      Tensor w = (randn({700}) * 0.5 + 1.0).detach().requires_grad_(true);
      Tensor b = randn({700}).detach().requires_grad_(true);
      Tensor y = rms ? F::rms_norm(x, {700}, w) : F::layer_norm(x, {700}, w, b);
      y.backward(g);
      std::vector<Tensor> out{y.detach(), x.grad(), w.grad()};
      if (!rms) out.push_back(b.grad());
      return out;
    };
    manual_seed(6);
    const auto one = run(1);
    manual_seed(6);
    const auto two = run(2);
    for (std::size_t i = 0; i < one.size(); ++i)
      BOOST_CHECK_MESSAGE(one[i].to_vector<float>() == two[i].to_vector<float>(), (rms ? "rms_norm" : "layer_norm")
                                                                                      << " result " << i << " differs");
  }
}

BOOST_AUTO_TEST_CASE(float32_accuracy_on_a_row_with_a_large_mean) {
  manual_seed(7);
  // Rows 1e4 + N(0, 0.1): a one-pass float32 sum of squares would lose every digit of the
  // variance; the double two-pass statistics keep float32 rounding of the result only.
  const Tensor x32 = (randn({4, 256}) * 0.1 + 1e4).detach().requires_grad_(true);
  const Tensor x64 = x32.detach().to(float64).requires_grad_(true);
  const Tensor w = randn({256}), b = randn({256});
  Tensor y32 = F::layer_norm(x32, {256}, w, b);
  Tensor y64 = F::layer_norm(x64, {256}, w.to(float64), b.to(float64));
  check_close(y32, y64, 2e-5);
  const Tensor g = randn({4, 256});
  y32.backward(g);
  y64.backward(g.to(float64));
  // dx is of order rstd ~ 10; float32 rounding of its terms only.
  check_close(x32.grad(), x64.grad(), 1e-4 * std::max(1.0, xgrad::test::max_abs_diff(x64.grad(), zeros({4, 256}))));
  check_close(F::rms_norm(x32.detach(), {256}), F::rms_norm(x64.detach(), {256}), 1e-6);
}

BOOST_AUTO_TEST_CASE(empty_inputs) {
  const Tensor e = zeros({0, 4});
  BOOST_CHECK(F::layer_norm(e, {4}, ones({4}), zeros({4})).shape() == Shape({0, 4}));
  BOOST_CHECK(F::rms_norm(e, {4}).shape() == Shape({0, 4}));
  BOOST_CHECK(F::layer_norm(zeros({2, 0}), {0}).shape() == Shape({2, 0}));
  Tensor xe = zeros({0, 3}, dtype(float64)).requires_grad_(true);
  Tensor we = ones({3}, dtype(float64)).requires_grad_(true);
  F::layer_norm(xe, {3}, we).sum().backward();
  check_values(we.grad(), {3}, {0.0, 0.0, 0.0});
}

BOOST_AUTO_TEST_CASE(layer_norm_module) {
  LayerNorm ln(4);
  BOOST_CHECK_EQUAL(ln.repr(), "LayerNorm((4,), eps=1e-05, elementwise_affine=True)");
  BOOST_TEST(names_of(ln.named_parameters()) == std::vector<std::string>({"weight", "bias"}),
             boost::test_tools::per_element());
  const auto sd = ln.state_dict();
  BOOST_CHECK_EQUAL(sd.size(), 2u);
  check_values(ln.weight, {4}, {1, 1, 1, 1});
  check_values(ln.bias, {4}, {0, 0, 0, 0});
  manual_seed(8);
  const Tensor x = randn({3, 4});
  check_close(ln(x), F::layer_norm(x, {4}, ln.weight, ln.bias), 0.0);
  {
    NoGradGuard ng;
    ln.weight.fill_(2.0);
    ln.bias.fill_(1.0);
  }
  ln.reset_parameters();
  check_values(ln.weight, {4}, {1, 1, 1, 1});
  check_values(ln.bias, {4}, {0, 0, 0, 0});

  LayerNorm two(LayerNormOptions({2, 3}).eps(1e-6).bias(false));
  BOOST_CHECK_EQUAL(two.repr(), "LayerNorm((2, 3), eps=1e-06, elementwise_affine=True)");
  BOOST_TEST(names_of(two.named_parameters()) == std::vector<std::string>({"weight"}),
             boost::test_tools::per_element());
  BOOST_CHECK(two.weight.shape() == Shape({2, 3}));
  BOOST_CHECK(!two.bias.defined());
  LayerNorm plain(LayerNormOptions(5).elementwise_affine(false));
  BOOST_CHECK_EQUAL(plain.extra_repr(), "(5,), eps=1e-05, elementwise_affine=False");
  BOOST_CHECK(plain.named_parameters().empty());
  // float64 module; its state dict loads into another.
  LayerNorm a(3), b(3);
  a.to(float64);
  b.to(float64);
  {
    NoGradGuard ng;
    a.weight.copy_(tensor({1., 2., 3.}, dtype(float64)));
  }
  b.load_state_dict(a.state_dict());
  check_close(b.weight, a.weight, 0.0);
  Tensor x64 = rand64({2, 3});
  check_close(b(x64), F::layer_norm(x64, {3}, a.weight, a.bias), 0.0);
  // Errors name the layer.
  XGRAD_CHECK_THROW_MSG(ln(zeros({2, 3})), "LayerNorm: normalized_shape [4] does not match");
  XGRAD_CHECK_THROW_MSG(LayerNorm(std::vector<std::int64_t>{}),
                        "LayerNorm: normalized_shape must have at least one element");
  XGRAD_CHECK_THROW_MSG(LayerNorm(LayerNormOptions({2, -1})),
                        "LayerNorm: normalized_shape must not have negative sizes, got [2, -1]");
}

BOOST_AUTO_TEST_CASE(rms_norm_module) {
  RMSNorm rn(4);
  BOOST_CHECK_EQUAL(rn.repr(), "RMSNorm((4,), eps=None, elementwise_affine=True)");
  BOOST_TEST(names_of(rn.named_parameters()) == std::vector<std::string>({"weight"}), boost::test_tools::per_element());
  BOOST_CHECK_EQUAL(rn.state_dict().size(), 1u);
  check_values(rn.weight, {4}, {1, 1, 1, 1});
  manual_seed(9);
  const Tensor x = randn({3, 4});
  check_close(rn(x), F::rms_norm(x, {4}, rn.weight), 0.0);
  RMSNorm e(RMSNormOptions({2, 2}).eps(1e-6).elementwise_affine(false));
  BOOST_CHECK_EQUAL(e.extra_repr(), "(2, 2), eps=1e-06, elementwise_affine=False");
  BOOST_CHECK(e.named_parameters().empty());
  const Tensor x2 = randn({3, 2, 2});
  check_close(e(x2), F::rms_norm(x2, {2, 2}, Tensor(), 1e-6), 0.0);
  XGRAD_CHECK_THROW_MSG(rn(zeros({4, 3})), "RMSNorm: normalized_shape [4] does not match");
}

BOOST_AUTO_TEST_CASE(errors) {
  const Tensor x = zeros({2, 3});
  XGRAD_CHECK_THROW_MSG(F::layer_norm(x, {4}),
                        "layer_norm: normalized_shape [4] does not match the trailing dims of input of shape [2, 3] "
                        "(expected input of shape [*, 4])");
  XGRAD_CHECK_THROW_MSG(F::layer_norm(x, {2, 3, 1}), "layer_norm: normalized_shape [2, 3, 1] does not match");
  XGRAD_CHECK_THROW_MSG(F::layer_norm(zeros({}), {1}), "layer_norm: normalized_shape [1] does not match");
  XGRAD_CHECK_THROW_MSG(F::layer_norm(x, {}),
                        "layer_norm: expected normalized_shape to have at least one element, got [] (input of shape "
                        "[2, 3])");
  XGRAD_CHECK_THROW_MSG(F::layer_norm(x, {3}, ones({2})),
                        "layer_norm: weight of shape [2] does not match normalized_shape [3]");
  XGRAD_CHECK_THROW_MSG(F::layer_norm(x, {3}, ones({3}), ones({3, 1})),
                        "layer_norm: bias of shape [3, 1] does not match normalized_shape [3]");
  XGRAD_CHECK_THROW_MSG(F::layer_norm(x, {3}, ones({3}, dtype(float64))),
                        "layer_norm: weight has dtype float64 but the input has dtype float32");
  XGRAD_CHECK_THROW_MSG(
      F::layer_norm(zeros({2, 3}, dtype(int64)), {3}),
      "layer_norm: expected a floating dtype (float32 or float64), got int64 for input of shape [2, 3]");
  XGRAD_CHECK_THROW_MSG(F::layer_norm(zeros({2, 3}, dtype(boolean)), {3}), "layer_norm: expected a floating dtype");
  XGRAD_CHECK_THROW_MSG(F::layer_norm(Tensor(), {3}), "layer_norm");
  XGRAD_CHECK_THROW_MSG(F::rms_norm(x, {2}), "rms_norm: normalized_shape [2] does not match the trailing dims");
  XGRAD_CHECK_THROW_MSG(F::rms_norm(x, {}), "rms_norm: expected normalized_shape to have at least one element");
  XGRAD_CHECK_THROW_MSG(F::rms_norm(x, {3}, ones({1, 3})),
                        "rms_norm: weight of shape [1, 3] does not match normalized_shape [3]");
  XGRAD_CHECK_THROW_MSG(F::rms_norm(zeros({2, 3}, dtype(int32)), {3}),
                        "rms_norm: expected a floating dtype (float32 or float64), got int32");
  XGRAD_CHECK_THROW_MSG(F::rms_norm(Tensor(), {3}), "rms_norm");
}

BOOST_AUTO_TEST_SUITE_END()
