// RMSprop against a scalar reference written from torch.optim.RMSprop's documented algorithm.
#include "optim_test_util.hpp"

using namespace xgrad;
using namespace xgrad::test;
using optim::RMSprop;
using optim::RMSpropOptions;

namespace {

struct Case {
  double lr, alpha, eps, wd, momentum;
  bool centered, maximize;
};

RefStep rmsprop_ref(Case c) {
  struct S {
    Vec v, gavg, b;
  };
  auto s = std::make_shared<S>();
  return [=](Vec& x, const Vec& grad) {
    if (s->v.empty()) s->v.assign(x.size(), 0.0), s->gavg = s->v, s->b = s->v;
    for (std::size_t i = 0; i < x.size(); ++i) {
      double g = c.maximize ? -grad[i] : grad[i];
      if (c.wd != 0) g += c.wd * x[i];
      s->v[i] = c.alpha * s->v[i] + (1 - c.alpha) * g * g;
      double vt = s->v[i];
      if (c.centered) {
        s->gavg[i] = c.alpha * s->gavg[i] + (1 - c.alpha) * g;
        vt -= s->gavg[i] * s->gavg[i];
      }
      if (c.momentum > 0) {
        s->b[i] = c.momentum * s->b[i] + g / (std::sqrt(vt) + c.eps);
        x[i] -= c.lr * s->b[i];
      } else {
        x[i] -= c.lr * g / (std::sqrt(vt) + c.eps);
      }
    }
  };
}

}  // namespace

BOOST_AUTO_TEST_SUITE(rmsprop)

BOOST_AUTO_TEST_CASE(matches_reference_for_every_option_combination) {
  const std::vector<Case> cases = {{1e-2, 0.99, 1e-8, 0, 0, false, false},   {1e-2, 0.99, 1e-8, 0, 0, true, false},
                                   {1e-3, 0.99, 1e-8, 0, 0.9, false, false}, {1e-3, 0.9, 1e-8, 0.1, 0.5, true, false},
                                   {1e-2, 0.3, 1e-4, 0, 0, true, false},  // lerp's second branch (weight 0.7)
                                   {1e-2, 0.99, 1e-8, 0.1, 0, false, false}, {1e-3, 0.99, 1e-8, 0.01, 0.9, true, true}};
  for (const auto& c : cases) {
    const std::string label = fmt::format(
        "RMSprop(lr={}, alpha={}, eps={}, wd={}, momentum={}, centered={}, "
        "maximize={})",
        c.lr, c.alpha, c.eps, c.wd, c.momentum, c.centered, c.maximize);
    auto opts = RMSpropOptions(c.lr)
                    .alpha(c.alpha)
                    .eps(c.eps)
                    .weight_decay(c.wd)
                    .momentum(c.momentum)
                    .centered(c.centered)
                    .maximize(c.maximize);
    auto ref = [=] { return rmsprop_ref(c); };
    if (c.maximize) {
      check_against_reference(quadratic(), maker<RMSprop>(opts), ref, label);
    } else {
      check_both(maker<RMSprop>(opts), ref, label);
    }
    check_float32(maker<RMSprop>(opts), ref, label);
  }
}

BOOST_AUTO_TEST_CASE(defaults) {
  const RMSpropOptions o;
  BOOST_CHECK_EQUAL(o.lr(), 1e-2);
  BOOST_CHECK_EQUAL(o.alpha(), 0.99);
  BOOST_CHECK_EQUAL(o.eps(), 1e-8);
  BOOST_CHECK_EQUAL(o.momentum(), 0.0);
  BOOST_CHECK(!o.centered());
}

BOOST_AUTO_TEST_CASE(invalid_options) {
  Tensor x = zeros({2}).requires_grad_(true);
  XGRAD_CHECK_THROW_MSG(RMSprop({x}, RMSpropOptions(-1)), "RMSprop: invalid lr -1");
  XGRAD_CHECK_THROW_MSG(RMSprop({x}, RMSpropOptions().alpha(-0.9)), "RMSprop: invalid alpha -0.9");
  XGRAD_CHECK_THROW_MSG(RMSprop({x}, RMSpropOptions().eps(-1)), "RMSprop: invalid eps -1");
  XGRAD_CHECK_THROW_MSG(RMSprop({x}, RMSpropOptions().momentum(-0.1)), "RMSprop: invalid momentum -0.1");
  XGRAD_CHECK_THROW_MSG(RMSprop({x}, RMSpropOptions().weight_decay(-0.1)), "RMSprop: invalid weight_decay -0.1");
}

BOOST_AUTO_TEST_SUITE_END()
