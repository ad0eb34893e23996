// Adadelta against a scalar reference written from torch.optim.Adadelta's documented algorithm.
#include "optim_test_util.hpp"

using namespace xgrad;
using namespace xgrad::test;
using optim::Adadelta;
using optim::AdadeltaOptions;

namespace {

struct Case {
  double lr, rho, eps, wd;
  bool maximize;
};

RefStep adadelta_ref(Case c) {
  struct S {
    Vec v, u;
  };
  auto s = std::make_shared<S>();
  return [=](Vec& x, const Vec& grad) {
    if (s->v.empty()) s->v.assign(x.size(), 0.0), s->u = s->v;
    for (std::size_t i = 0; i < x.size(); ++i) {
      double g = c.maximize ? -grad[i] : grad[i];
      if (c.wd != 0) g += c.wd * x[i];
      s->v[i] = c.rho * s->v[i] + (1 - c.rho) * g * g;
      const double dx = std::sqrt(s->u[i] + c.eps) / std::sqrt(s->v[i] + c.eps) * g;
      s->u[i] = c.rho * s->u[i] + (1 - c.rho) * dx * dx;
      x[i] -= c.lr * dx;
    }
  };
}

}  // namespace

BOOST_AUTO_TEST_SUITE(adadelta)

BOOST_AUTO_TEST_CASE(matches_reference_for_every_option_combination) {
  const std::vector<Case> cases = {{1.0, 0.9, 1e-6, 0, false},
                                   {10.0, 0.9, 1e-4, 0, false},
                                   {1.0, 0.5, 1e-3, 0.1, false},
                                   {5.0, 0.95, 1e-5, 0.05, true}};
  for (const auto& c : cases) {
    const std::string label =
        fmt::format("Adadelta(lr={}, rho={}, eps={}, wd={}, maximize={})", c.lr, c.rho, c.eps, c.wd, c.maximize);
    auto opts = AdadeltaOptions(c.lr).rho(c.rho).eps(c.eps).weight_decay(c.wd).maximize(c.maximize);
    auto ref = [=] { return adadelta_ref(c); };
    if (c.maximize) {
      check_against_reference(quadratic(), maker<Adadelta>(opts), ref, label);
    } else {
      check_both(maker<Adadelta>(opts), ref, label);
    }
    check_float32(maker<Adadelta>(opts), ref, label);
  }
}

BOOST_AUTO_TEST_CASE(defaults) {
  const AdadeltaOptions o;
  BOOST_CHECK_EQUAL(o.lr(), 1.0);
  BOOST_CHECK_EQUAL(o.rho(), 0.9);
  BOOST_CHECK_EQUAL(o.eps(), 1e-6);
  BOOST_CHECK_EQUAL(o.weight_decay(), 0.0);
}

BOOST_AUTO_TEST_CASE(invalid_options) {
  Tensor x = zeros({2}).requires_grad_(true);
  XGRAD_CHECK_THROW_MSG(Adadelta({x}, AdadeltaOptions(-1)), "Adadelta: invalid lr -1");
  XGRAD_CHECK_THROW_MSG(Adadelta({x}, AdadeltaOptions().rho(1.5)), "Adadelta: invalid rho 1.5 (must be in [0, 1])");
  XGRAD_CHECK_THROW_MSG(Adadelta({x}, AdadeltaOptions().rho(-0.1)), "Adadelta: invalid rho -0.1");
  XGRAD_CHECK_THROW_MSG(Adadelta({x}, AdadeltaOptions().eps(-1)), "Adadelta: invalid eps -1");
  XGRAD_CHECK_THROW_MSG(Adadelta({x}, AdadeltaOptions().weight_decay(-1)), "Adadelta: invalid weight_decay -1");
}

BOOST_AUTO_TEST_SUITE_END()
