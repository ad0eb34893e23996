// SGD against a scalar reference written from torch.optim.SGD's documented algorithm.
#include "optim_test_util.hpp"

using namespace xgrad;
using namespace xgrad::test;
using optim::SGD;
using optim::SGDOptions;

namespace {

// torch.optim.SGD documentation, element by element.
RefStep sgd_ref(double lr, double momentum, double dampening, double wd, bool nesterov, bool maximize) {
  auto b = std::make_shared<Vec>();
  auto t = std::make_shared<int>(0);
  return [=](Vec& x, const Vec& grad) {
    *t += 1;
    if (b->empty()) b->assign(x.size(), 0.0);
    for (std::size_t i = 0; i < x.size(); ++i) {
      double g = maximize ? -grad[i] : grad[i];
      if (wd != 0) g += wd * x[i];
      if (momentum != 0) {
        (*b)[i] = *t == 1 ? g : momentum * (*b)[i] + (1 - dampening) * g;
        g = nesterov ? g + momentum * (*b)[i] : (*b)[i];
      }
      x[i] -= lr * g;
    }
  };
}

}  // namespace

BOOST_AUTO_TEST_SUITE(sgd)

BOOST_AUTO_TEST_CASE(matches_reference_for_every_option_combination) {
  struct Case {
    double lr, momentum, dampening, wd;
    bool nesterov, maximize;
  };
  const std::vector<Case> cases = {
      {1e-3, 0, 0, 0, false, false},     {1e-3, 0.9, 0, 0, false, false}, {1e-3, 0.9, 0.3, 0, false, false},
      {1e-3, 0.9, 0, 0, true, false},    {1e-3, 0, 0, 0.1, false, false}, {1e-3, 0.8, 0.1, 0.05, false, false},
      {1e-3, 0.9, 0, 0.05, true, false}, {1e-4, 0, 0, 0, false, true},    {1e-4, 0.5, 0.2, 0.01, false, true},
  };
  for (const auto& c : cases) {
    const std::string label = fmt::format("SGD(lr={}, momentum={}, dampening={}, wd={}, nesterov={}, maximize={})",
                                          c.lr, c.momentum, c.dampening, c.wd, c.nesterov, c.maximize);
    auto opts = SGDOptions(c.lr)
                    .momentum(c.momentum)
                    .dampening(c.dampening)
                    .weight_decay(c.wd)
                    .nesterov(c.nesterov)
                    .maximize(c.maximize);
    auto ref = [=] { return sgd_ref(c.lr, c.momentum, c.dampening, c.wd, c.nesterov, c.maximize); };
    if (c.maximize) {
      check_against_reference(quadratic(), maker<SGD>(opts), ref, label);
    } else {
      check_both(maker<SGD>(opts), ref, label);
    }
    check_float32(maker<SGD>(opts), ref, label);
  }
}

BOOST_AUTO_TEST_CASE(hand_computed_steps) {
  // f = 0.5 * 2 x^2 at x = 1: g = 2x. momentum 0.9, lr 0.1:
  // step 1: b = g = 2, x = 1 - 0.2 = 0.8;  step 2: g = 1.6, b = 0.9*2 + 1.6 = 3.4, x = 0.8 - 0.34 = 0.46
  Tensor x = tensor({1.0}, dtype(float64)).requires_grad_(true);
  SGD opt({x}, SGDOptions(0.1).momentum(0.9));
  for (int s = 0; s < 2; ++s) {
    opt.zero_grad();
    (x * x).sum().backward();
    opt.step();
  }
  BOOST_CHECK_CLOSE(x.item<double>(), 0.46, 1e-12);
  const auto& st = static_cast<optim::SGDParamState&>(opt.state(x));
  BOOST_CHECK_CLOSE(st.momentum_buffer.item<double>(), 3.4, 1e-12);
}

BOOST_AUTO_TEST_CASE(batch_sizes_give_batch_minibatch_and_stochastic_gd) {
  // Least squares y = 2 x + 1 on 8 points: batch GD (N = 8), mini-batch (4) and SGD (1) all
  // converge; one batch-GD step equals the mean of the per-sample gradients.
  const Vec xs = {-1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5};
  for (std::size_t batch : {8u, 4u, 1u}) {
    Tensor w = zeros({1}, dtype(float64)).requires_grad_(true);
    Tensor b = zeros({1}, dtype(float64)).requires_grad_(true);
    SGD opt({w, b}, SGDOptions(0.1));
    for (int epoch = 0; epoch < 300; ++epoch) {
      for (std::size_t start = 0; start < xs.size(); start += batch) {
        Vec xb(xs.begin() + start, xs.begin() + start + batch), yb;
        for (double v : xb) yb.push_back(2 * v + 1);
        const Tensor X = from_vector(xb), Y = from_vector(yb);
        opt.zero_grad();
        const Tensor r = X * w + b - Y;
        (r * r).mean().backward();
        opt.step();
      }
    }
    BOOST_CHECK_MESSAGE(std::fabs(w.item<double>() - 2) < 1e-6 && std::fabs(b.item<double>() - 1) < 1e-6,
                        "batch " << batch << ": w = " << w.item<double>() << ", b = " << b.item<double>());
  }
}

BOOST_AUTO_TEST_CASE(large_tensor_runs_in_parallel_and_matches_reference) {
  // 100k elements: above the grain, so the update runs on TBB; every element must match.
  const std::int64_t n = 100000;
  Tensor x = randn({n}, dtype(float64)).requires_grad_(true);
  const Vec x0 = x.to_vector<double>();
  optim::SGD opt({x}, SGDOptions(0.01).momentum(0.9).weight_decay(0.1).nesterov(true));
  auto ref = sgd_ref(0.01, 0.9, 0, 0.1, true, false);
  Vec xr = x0;
  for (int s = 0; s < 3; ++s) {
    opt.zero_grad();
    (x * x).sum().backward();  // g = 2 x
    opt.step();
    Vec g(xr.size());
    for (std::size_t i = 0; i < g.size(); ++i) g[i] = 2 * xr[i];
    ref(xr, g);
  }
  BOOST_CHECK_LE(max_abs_diff(x, from_vector(xr)), 1e-15);
}

BOOST_AUTO_TEST_CASE(invalid_options) {
  Tensor x = zeros({2}).requires_grad_(true);
  XGRAD_CHECK_THROW_MSG(SGD({x}, SGDOptions(-0.1)), "SGD: invalid lr -0.1");
  XGRAD_CHECK_THROW_MSG(SGD({x}, SGDOptions(0.1).momentum(-0.5)), "SGD: invalid momentum -0.5");
  XGRAD_CHECK_THROW_MSG(SGD({x}, SGDOptions(0.1).weight_decay(-1)), "SGD: invalid weight_decay -1");
  XGRAD_CHECK_THROW_MSG(SGD({x}, SGDOptions(0.1).nesterov(true)), "nesterov momentum requires momentum > 0");
  XGRAD_CHECK_THROW_MSG(SGD({x}, SGDOptions(0.1).nesterov(true).momentum(0.9).dampening(0.1)), "dampening 0.1");
}

BOOST_AUTO_TEST_SUITE_END()
