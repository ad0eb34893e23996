// Class activation maps (explain/cam.hpp): Grad-CAM on a hand-built conv net whose filter
// detects a bright square (the map peaks there), the exact Grad-CAM and Grad-CAM++ formulas on
// a 1-channel layer checked element by element, upsampling and normalisation, activation
// capture, and the errors (foreign layer, unused layer, wrong ranks).
#include <cmath>
#include <functional>

#include "test_util.hpp"
#include "xgrad/autograd/indexing.hpp"
#include "xgrad/autograd/shape.hpp"
#include "xgrad/explain/cam.hpp"
#include "xgrad/nn/activation.hpp"
#include "xgrad/nn/containers.hpp"
#include "xgrad/nn/conv.hpp"
#include "xgrad/nn/linear.hpp"

using namespace xgrad;
namespace ex = xgrad::explain;
using xgrad::test::check_close;
using xgrad::test::check_values;

namespace {

using I64s = std::vector<std::int64_t>;

// conv -> head(A): the conv is a registered child called through operator() (hooks run).
struct ConvNet : nn::Module {
  ConvNet(const nn::ConvOptions& o, std::function<Tensor(const Tensor&)> head)
      : Module("ConvNet"), head_(std::move(head)) {
    conv = register_module("conv", std::make_shared<nn::Conv2d>(o));
    unused = register_module("unused", std::make_shared<nn::Conv2d>(1, 1, I64s{1}));
    to(float64);
  }
  Tensor forward(const Tensor& x) override { return head_((*conv)(x)); }
  std::shared_ptr<nn::Conv2d> conv, unused;
  std::function<Tensor(const Tensor&)> head_;
};

// Channel 0: 3x3 box filter (bright square detector); channel 1: its negative. Head: global
// average pool of ReLU(A), then logits = pooled (identity), so d S_0 / dA_0 = 1/(hw) where
// A_0 > 0 and d S_0 / dA_1 = 0.
std::shared_ptr<ConvNet> square_net(bool padding) {
  auto o = nn::ConvOptions(1, 2, I64s{3}).bias(false);
  if (padding) o.padding(1);
  auto net = std::make_shared<ConvNet>(o, [](const Tensor& a) { return a.relu().mean(I64s{2, 3}); });
  NoGradGuard ng;
  net->conv->weight.narrow(0, 0, 1).fill_(1.0 / 9.0);
  net->conv->weight.narrow(0, 1, 1).fill_(-1.0 / 9.0);
  net->eval();
  return net;
}

Tensor square_image() {  // 10 x 10, zeros, a bright 3 x 3 square at rows 5-7, cols 2-4
  Tensor x = zeros({1, 1, 10, 10}, dtype(float64));
  x.narrow(2, 5, 3).narrow(3, 2, 3).fill_(1.0);
  return x;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(explain_cam)

BOOST_AUTO_TEST_CASE(grad_cam_peaks_on_the_square) {
  auto net = square_net(true);
  const Tensor x = square_image();
  const Tensor cam = ex::grad_cam(*net, *net->conv, x, tensor({0}, dtype(Dtype::int64)));
  BOOST_REQUIRE(cam.shape() == (Shape{1, 1, 10, 10}));
  // CAM = ReLU(A_0 / 100) = box(x) / 100 here: 1 at the square's centre (6, 3), normalised.
  BOOST_CHECK_EQUAL(cam.flatten().argmax().item<std::int64_t>(), 6 * 10 + 3);
  BOOST_CHECK_CLOSE(cam.max().item<double>(), 1.0, 1e-9);
  BOOST_CHECK_EQUAL(cam.min().item<double>(), 0.0);
  BOOST_CHECK_EQUAL(cam.index({0, 0, 0, 9}).item<double>(), 0.0);
  // The map is box(x) normalised by its maximum 1: e.g. (5, 2) sees 4 of 9 bright pixels.
  BOOST_CHECK_CLOSE(cam.index({0, 0, 5, 2}).item<double>(), 4.0 / 9.0, 1e-9);
  // Default target: argmax (class 0, since the negative channel is all <= 0).
  check_close(ex::grad_cam(*net, *net->conv, x), cam, 1e-12);
  // Grad-CAM++ too peaks on the square.
  const Tensor pp = ex::grad_cam_plus_plus(*net, *net->conv, x);
  BOOST_CHECK_EQUAL(pp.flatten().argmax().item<std::int64_t>(), 6 * 10 + 3);
}

BOOST_AUTO_TEST_CASE(grad_cam_upsamples_to_the_input) {
  auto net = square_net(false);  // conv output 8 x 8
  const Tensor x = square_image();
  const Tensor cam = ex::grad_cam(*net, *net->conv, x);
  BOOST_REQUIRE(cam.shape() == (Shape{1, 1, 10, 10}));
  BOOST_CHECK_CLOSE(cam.max().item<double>(), 1.0, 1e-9);
  BOOST_CHECK_GE(cam.min().item<double>(), 0.0);
  const auto peak = cam.flatten().argmax().item<std::int64_t>();
  BOOST_CHECK_LE(std::abs(peak / 10 - 6), 1);
  BOOST_CHECK_LE(std::abs(peak % 10 - 3), 1);
  const Tensor raw = ex::grad_cam(*net, *net->conv, x, {}, ex::GradCamOptions().upsample(false).normalize(false));
  BOOST_CHECK(raw.shape() == (Shape{1, 1, 8, 8}));
}

BOOST_AUTO_TEST_CASE(exact_formulas_one_channel) {
  // One channel 2x2 conv (no padding) on a 3x3 input: A is 2x2. Head: S_0 = sum(M A^2), S_1 = 0,
  // so G = dS_0/dA = 2 M A.
  const Tensor mask = tensor({{1.0, -2.0}, {0.5, 3.0}}, dtype(float64));
  auto net = std::make_shared<ConvNet>(nn::ConvOptions(1, 1, I64s{2}).bias(false), [mask](const Tensor& a) {
    const Tensor s = (a * a * mask).sum(I64s{1, 2, 3});
    return stack({s, s * 0.0}, 1);
  });
  {
    NoGradGuard ng;
    net->conv->weight.copy_(tensor({{{{1.0, 0.5}, {-0.5, 2.0}}}}, dtype(float64)));
  }
  const Tensor x = tensor({{{{1.0, 2.0, 0.0}, {-1.0, 0.5, 1.0}, {2.0, 0.0, -1.5}}}}, dtype(float64));
  // A = conv(x): A[i][j] = x[i][j] + 0.5 x[i][j+1] - 0.5 x[i+1][j] + 2 x[i+1][j+1].
  std::vector<double> xv = x.to_vector<double>(), A(4), G(4);
  const double w[4] = {1.0, 0.5, -0.5, 2.0}, M[4] = {1.0, -2.0, 0.5, 3.0};
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j) {
      auto X = [&](int r, int c) { return xv[static_cast<std::size_t>(r * 3 + c)]; };
      A[i * 2 + j] = w[0] * X(i, j) + w[1] * X(i, j + 1) + w[2] * X(i + 1, j) + w[3] * X(i + 1, j + 1);
      G[i * 2 + j] = 2.0 * M[i * 2 + j] * A[i * 2 + j];
    }
  const Tensor t = tensor({0}, dtype(Dtype::int64));
  const auto raw = ex::GradCamOptions().upsample(false).normalize(false);
  // Grad-CAM: alpha = mean(G), L = ReLU(alpha A).
  double alpha = 0;
  for (double g : G) alpha += g / 4.0;
  std::vector<double> want(4);
  for (int k = 0; k < 4; ++k) want[k] = std::max(0.0, alpha * A[k]);
  check_values(ex::grad_cam(*net, *net->conv, x, t, raw), {1, 1, 2, 2}, want, 1e-12);
  // Grad-CAM++: a = G^2 / (2 G^2 + sum(A) G^3), w = sum(a ReLU(G)), L = ReLU(w A).
  double sa = 0, wpp = 0;
  for (double a : A) sa += a;
  for (double g : G) {
    const double den = 2 * g * g + sa * g * g * g;
    wpp += (den != 0 ? g * g / den : 0.0) * std::max(0.0, g);
  }
  for (int k = 0; k < 4; ++k) want[k] = std::max(0.0, wpp * A[k]);
  check_values(ex::grad_cam_plus_plus(*net, *net->conv, x, t, raw), {1, 1, 2, 2}, want, 1e-12);
  // Normalised: (L - min) / (max - min) per sample.
  const Tensor l = ex::grad_cam_plus_plus(*net, *net->conv, x, t, raw);
  const Tensor n = ex::grad_cam_plus_plus(*net, *net->conv, x, t, ex::GradCamOptions().upsample(false));
  check_close(n, (l - l.min()) / (l.max() - l.min()), 1e-12);
}

BOOST_AUTO_TEST_CASE(activation_capture) {
  manual_seed(1);
  auto m = std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(3, 4), std::make_shared<nn::Tanh>(),
                                            std::make_shared<nn::Linear>(4, 2));
  const Tensor x = randn({5, 3});
  {
    ex::ActivationCapture cap(*m, "1");
    BOOST_CHECK_EQUAL(cap.layer_name(), "1");
    XGRAD_CHECK_THROW_MSG(cap.last(), "ActivationCapture: the layer '1' has not produced an output yet");
    (*m)(x);
    (*m)(x * 2.0);
    BOOST_REQUIRE_EQUAL(cap.outputs().size(), 2u);
    auto lin = std::dynamic_pointer_cast<nn::Linear>(m->named_children()[0].second);
    check_close(cap.outputs()[0], lin->forward(x).tanh(), 1e-6);
    check_close(cap.last(), lin->forward(x * 2.0).tanh(), 1e-6);
    BOOST_CHECK(!cap.last().requires_grad());
    cap.clear();
    BOOST_CHECK(cap.outputs().empty());
  }
  ex::ActivationCapture root(*m, "");
  (*m)(x);  // the old hook is gone; the model itself is captured now
  BOOST_CHECK_EQUAL(root.outputs().size(), 1u);
  BOOST_CHECK(root.last().shape() == (Shape{5, 2}));
  XGRAD_CHECK_THROW_MSG(
      ex::ActivationCapture(*m, "3"),
      "ActivationCapture: the model Sequential has no submodule named '3'; its modules are '', '0', '1', '2'");
}

BOOST_AUTO_TEST_CASE(errors) {
  auto net = square_net(true);
  const Tensor x = square_image();
  nn::Conv2d other(1, 1, I64s{3});
  XGRAD_CHECK_THROW_MSG(ex::grad_cam(*net, other, x),
                        "grad_cam: the layer Conv2d is not a submodule of the model ConvNet");
  XGRAD_CHECK_THROW_MSG(ex::grad_cam(*net, *net->unused, x),
                        "grad_cam: the layer Conv2d produced no output during the forward");
  XGRAD_CHECK_THROW_MSG(ex::grad_cam_plus_plus(*net, *net->conv, x, tensor({2}, dtype(Dtype::int64))),
                        "grad_cam_plus_plus: target index 2 of sample 0 is out of range for 2 classes");
  auto flat = std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(4, 3));
  XGRAD_CHECK_THROW_MSG(ex::grad_cam(*flat, *flat->named_children()[0].second, ones({2, 4})),
                        "grad_cam: upsampling to the input needs an input [N, C, H, W], got");
  XGRAD_CHECK_THROW_MSG(
      ex::grad_cam(*flat, *flat->named_children()[0].second, ones({2, 4}), {}, ex::GradCamOptions().upsample(false)),
      "grad_cam: the layer Linear must output a floating [N, K, h, w] map");
}

BOOST_AUTO_TEST_SUITE_END()
