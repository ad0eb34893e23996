// RAdam against a scalar reference written from torch.optim.RAdam's documented algorithm.
#include "optim_test_util.hpp"

using namespace xgrad;
using namespace xgrad::test;
using optim::RAdam;
using optim::RAdamOptions;

namespace {

struct Case {
  double lr, beta1, beta2, eps, wd;
  bool decoupled, maximize;
};

RefStep radam_ref(Case c, std::shared_ptr<int> rectified = nullptr) {
  struct S {
    Vec m, v;
    int t = 0;
  };
  auto s = std::make_shared<S>();
  return [=](Vec& x, const Vec& grad) {
    if (s->m.empty()) s->m.assign(x.size(), 0.0), s->v = s->m;
    s->t += 1;
    const double t = s->t;
    const double rho_inf = 2 / (1 - c.beta2) - 1;
    const double rho_t = rho_inf - 2 * t * std::pow(c.beta2, t) / (1 - std::pow(c.beta2, t));
    if (rectified && rho_t > 5) *rectified += 1;
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
      const double mhat = s->m[i] / (1 - std::pow(c.beta1, t));
      if (rho_t > 5) {
        const double l = std::sqrt(1 - std::pow(c.beta2, t)) / (std::sqrt(s->v[i]) + c.eps);
        const double r = std::sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t));
        x[i] -= c.lr * mhat * r * l;
      } else {
        x[i] -= c.lr * mhat;
      }
    }
  };
}

}  // namespace

BOOST_AUTO_TEST_SUITE(radam)

BOOST_AUTO_TEST_CASE(both_branches_are_exercised) {
  // With beta2 = 0.999, rho_t <= 5 for the first steps (plain momentum SGD) and > 5 after.
  auto count = std::make_shared<int>(0);
  auto ref = radam_ref({1e-2, 0.9, 0.999, 1e-8, 0, false, false}, count);
  Vec x = {1.0};
  for (int s = 0; s < 60; ++s) ref(x, {2 * x[0]});
  BOOST_CHECK_GT(*count, 0);
  BOOST_CHECK_LT(*count, 60);
}

BOOST_AUTO_TEST_CASE(matches_reference_for_every_option_combination) {
  const std::vector<Case> cases = {{1e-2, 0.9, 0.999, 1e-8, 0, false, false},
                                   {1e-2, 0.3, 0.9, 1e-6, 0, false, false},
                                   {1e-2, 0.9, 0.999, 1e-8, 0.1, false, false},
                                   {1e-2, 0.9, 0.999, 1e-8, 0.1, true, false},
                                   {1e-2, 0.9, 0.99, 1e-8, 0.05, true, true}};
  for (const auto& c : cases) {
    const std::string label = fmt::format("RAdam(lr={}, betas=({}, {}), eps={}, wd={}, decoupled={}, maximize={})",
                                          c.lr, c.beta1, c.beta2, c.eps, c.wd, c.decoupled, c.maximize);
    auto opts = RAdamOptions(c.lr)
                    .betas({c.beta1, c.beta2})
                    .eps(c.eps)
                    .weight_decay(c.wd)
                    .decoupled_weight_decay(c.decoupled)
                    .maximize(c.maximize);
    auto ref = [=] { return radam_ref(c); };
    if (c.maximize) {
      check_against_reference(quadratic(), maker<RAdam>(opts), ref, label);
    } else {
      check_both(maker<RAdam>(opts), ref, label);
    }
    check_float32(maker<RAdam>(opts), ref, label);
  }
}

BOOST_AUTO_TEST_CASE(defaults) {
  const RAdamOptions o;
  BOOST_CHECK_EQUAL(o.lr(), 1e-3);
  BOOST_CHECK_EQUAL(o.betas().second, 0.999);
  BOOST_CHECK_EQUAL(o.eps(), 1e-8);
}

BOOST_AUTO_TEST_CASE(invalid_options) {
  Tensor x = zeros({2}).requires_grad_(true);
  XGRAD_CHECK_THROW_MSG(RAdam({x}, RAdamOptions(-1)), "RAdam: invalid lr -1");
  XGRAD_CHECK_THROW_MSG(RAdam({x}, RAdamOptions().eps(-1)), "RAdam: invalid eps -1");
  XGRAD_CHECK_THROW_MSG(RAdam({x}, RAdamOptions().betas({0.9, 1.0})), "RAdam: invalid beta2 1");
  XGRAD_CHECK_THROW_MSG(RAdam({x}, RAdamOptions().weight_decay(-1)), "RAdam: invalid weight_decay -1");
}

BOOST_AUTO_TEST_SUITE_END()
