// Adamax against a scalar reference written from torch.optim.Adamax's documented algorithm.
#include "optim_test_util.hpp"

using namespace xgrad;
using namespace xgrad::test;
using optim::Adamax;
using optim::AdamaxOptions;

namespace {

struct Case {
  double lr, beta1, beta2, eps, wd;
  bool maximize;
};

RefStep adamax_ref(Case c) {
  struct S {
    Vec m, u;
    int t = 0;
  };
  auto s = std::make_shared<S>();
  return [=](Vec& x, const Vec& grad) {
    if (s->m.empty()) s->m.assign(x.size(), 0.0), s->u = s->m;
    s->t += 1;
    for (std::size_t i = 0; i < x.size(); ++i) {
      double g = c.maximize ? -grad[i] : grad[i];
      if (c.wd != 0) g += c.wd * x[i];
      s->m[i] = c.beta1 * s->m[i] + (1 - c.beta1) * g;
      s->u[i] = std::max(c.beta2 * s->u[i], std::fabs(g) + c.eps);
      x[i] -= c.lr / (1 - std::pow(c.beta1, s->t)) * s->m[i] / s->u[i];
    }
  };
}

}  // namespace

BOOST_AUTO_TEST_SUITE(adamax)

BOOST_AUTO_TEST_CASE(matches_reference_for_every_option_combination) {
  const std::vector<Case> cases = {{2e-2, 0.9, 0.999, 1e-8, 0, false},
                                   {2e-2, 0.3, 0.9, 1e-8, 0, false},
                                   {2e-2, 0.9, 0.999, 1e-3, 0.1, false},
                                   {2e-2, 0.9, 0.999, 1e-8, 0.05, true}};
  for (const auto& c : cases) {
    const std::string label = fmt::format("Adamax(lr={}, betas=({}, {}), eps={}, wd={}, maximize={})", c.lr, c.beta1,
                                          c.beta2, c.eps, c.wd, c.maximize);
    auto opts = AdamaxOptions(c.lr).betas({c.beta1, c.beta2}).eps(c.eps).weight_decay(c.wd).maximize(c.maximize);
    auto ref = [=] { return adamax_ref(c); };
    if (c.maximize) {
      check_against_reference(quadratic(), maker<Adamax>(opts), ref, label);
    } else {
      check_both(maker<Adamax>(opts), ref, label);
    }
    check_float32(maker<Adamax>(opts), ref, label);
  }
}

BOOST_AUTO_TEST_CASE(defaults) {
  const AdamaxOptions o;
  BOOST_CHECK_EQUAL(o.lr(), 2e-3);
  BOOST_CHECK_EQUAL(o.betas().first, 0.9);
  BOOST_CHECK_EQUAL(o.betas().second, 0.999);
  BOOST_CHECK_EQUAL(o.eps(), 1e-8);
}

BOOST_AUTO_TEST_CASE(invalid_options) {
  Tensor x = zeros({2}).requires_grad_(true);
  XGRAD_CHECK_THROW_MSG(Adamax({x}, AdamaxOptions(-1)), "Adamax: invalid lr -1");
  XGRAD_CHECK_THROW_MSG(Adamax({x}, AdamaxOptions().eps(-1)), "Adamax: invalid eps -1");
  XGRAD_CHECK_THROW_MSG(Adamax({x}, AdamaxOptions().betas({-0.1, 0.9})), "Adamax: invalid beta1 -0.1");
  XGRAD_CHECK_THROW_MSG(Adamax({x}, AdamaxOptions().betas({0.9, 1.0})), "Adamax: invalid beta2 1");
  XGRAD_CHECK_THROW_MSG(Adamax({x}, AdamaxOptions().weight_decay(-1)), "Adamax: invalid weight_decay -1");
}

BOOST_AUTO_TEST_SUITE_END()
