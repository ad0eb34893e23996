// NAdam against a scalar reference written from torch.optim.NAdam's documented algorithm.
#include "optim_test_util.hpp"

using namespace xgrad;
using namespace xgrad::test;
using optim::NAdam;
using optim::NAdamOptions;

namespace {

struct Case {
  double lr, beta1, beta2, eps, wd, psi;
  bool decoupled, maximize;
};

RefStep nadam_ref(Case c) {
  struct S {
    Vec m, v;
    int t = 0;
    double prod = 1.0;  // mu_1 ... mu_t
  };
  auto s = std::make_shared<S>();
  return [=](Vec& x, const Vec& grad) {
    if (s->m.empty()) s->m.assign(x.size(), 0.0), s->v = s->m;
    s->t += 1;
    const double t = s->t;
    const double mu = c.beta1 * (1 - 0.5 * std::pow(0.96, t * c.psi));
    const double mu_next = c.beta1 * (1 - 0.5 * std::pow(0.96, (t + 1) * c.psi));
    s->prod *= mu;
    const double prod_next = s->prod * mu_next;
    for (std::size_t i = 0; i < x.size(); ++i) {
      double g = c.maximize ? -grad[i] : grad[i];
      if (c.wd != 0) {
        if (c.decoupled) {
          x[i] *= 1 - c.lr * c.wd;
        } else {
          g += c.wd * x[i];
        }
      }
      s->m[i] = c.beta1 * s->m[i] + (1 - c.beta1) * g;
      s->v[i] = c.beta2 * s->v[i] + (1 - c.beta2) * g * g;
      const double mhat = mu_next * s->m[i] / (1 - prod_next) + (1 - mu) * g / (1 - s->prod);
      const double vhat = s->v[i] / (1 - std::pow(c.beta2, t));
      x[i] -= c.lr * mhat / (std::sqrt(vhat) + c.eps);
    }
  };
}

}  // namespace

BOOST_AUTO_TEST_SUITE(nadam)

BOOST_AUTO_TEST_CASE(matches_reference_for_every_option_combination) {
  const std::vector<Case> cases = {
      {2e-2, 0.9, 0.999, 1e-8, 0, 4e-3, false, false},  {2e-2, 0.9, 0.999, 1e-8, 0, 0.5, false, false},
      {5e-3, 0.3, 0.9, 1e-6, 0, 4e-3, false, false},    {2e-2, 0.9, 0.999, 1e-8, 0.1, 4e-3, false, false},
      {2e-2, 0.9, 0.999, 1e-8, 0.1, 4e-3, true, false}, {2e-2, 0.9, 0.999, 1e-8, 0.05, 4e-3, true, true}};
  for (const auto& c : cases) {
    const std::string label =
        fmt::format("NAdam(lr={}, betas=({}, {}), eps={}, wd={}, momentum_decay={}, decoupled={}, maximize={})", c.lr,
                    c.beta1, c.beta2, c.eps, c.wd, c.psi, c.decoupled, c.maximize);
    auto opts = NAdamOptions(c.lr)
                    .betas({c.beta1, c.beta2})
                    .eps(c.eps)
                    .weight_decay(c.wd)
                    .momentum_decay(c.psi)
                    .decoupled_weight_decay(c.decoupled)
                    .maximize(c.maximize);
    auto ref = [=] { return nadam_ref(c); };
    if (c.maximize) {
      check_against_reference(quadratic(), maker<NAdam>(opts), ref, label);
    } else {
      check_both(maker<NAdam>(opts), ref, label);
    }
    check_float32(maker<NAdam>(opts), ref, label);
  }
}

BOOST_AUTO_TEST_CASE(defaults) {
  const NAdamOptions o;
  BOOST_CHECK_EQUAL(o.lr(), 2e-3);
  BOOST_CHECK_EQUAL(o.momentum_decay(), 4e-3);
  BOOST_CHECK_EQUAL(o.eps(), 1e-8);
  BOOST_CHECK(!o.decoupled_weight_decay());
}

BOOST_AUTO_TEST_CASE(invalid_options) {
  Tensor x = zeros({2}).requires_grad_(true);
  XGRAD_CHECK_THROW_MSG(NAdam({x}, NAdamOptions(-1)), "NAdam: invalid lr -1");
  XGRAD_CHECK_THROW_MSG(NAdam({x}, NAdamOptions().eps(-1)), "NAdam: invalid eps -1");
  XGRAD_CHECK_THROW_MSG(NAdam({x}, NAdamOptions().betas({1.2, 0.9})), "NAdam: invalid beta1 1.2");
  XGRAD_CHECK_THROW_MSG(NAdam({x}, NAdamOptions().weight_decay(-1)), "NAdam: invalid weight_decay -1");
  XGRAD_CHECK_THROW_MSG(NAdam({x}, NAdamOptions().momentum_decay(-1)), "NAdam: invalid momentum_decay -1");
}

BOOST_AUTO_TEST_SUITE_END()
