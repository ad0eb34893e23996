// Adagrad against a scalar reference written from torch.optim.Adagrad's documented algorithm.
#include "optim_test_util.hpp"

using namespace xgrad;
using namespace xgrad::test;
using optim::Adagrad;
using optim::AdagradOptions;

namespace {

struct Case {
  double lr, lr_decay, wd, init, eps;
  bool maximize;
};

RefStep adagrad_ref(Case c) {
  struct S {
    Vec sum;
    int t = 0;
  };
  auto s = std::make_shared<S>();
  return [=](Vec& x, const Vec& grad) {
    if (s->sum.empty()) s->sum.assign(x.size(), c.init);
    s->t += 1;
    const double clr = c.lr / (1 + (s->t - 1) * c.lr_decay);
    for (std::size_t i = 0; i < x.size(); ++i) {
      double g = c.maximize ? -grad[i] : grad[i];
      if (c.wd != 0) g += c.wd * x[i];
      s->sum[i] += g * g;
      x[i] -= clr * g / (std::sqrt(s->sum[i]) + c.eps);
    }
  };
}

}  // namespace

BOOST_AUTO_TEST_SUITE(adagrad)

BOOST_AUTO_TEST_CASE(matches_reference_for_every_option_combination) {
  const std::vector<Case> cases = {{0.1, 0, 0, 0, 1e-10, false},   {0.1, 0.05, 0, 0, 1e-10, false},
                                   {0.1, 0, 0.1, 0, 1e-10, false}, {0.1, 0, 0, 0.5, 1e-10, false},
                                   {0.1, 0, 0, 0, 1e-3, false},    {0.1, 0.01, 0.05, 0.1, 1e-10, true}};
  for (const auto& c : cases) {
    const std::string label = fmt::format(
        "Adagrad(lr={}, lr_decay={}, wd={}, initial_accumulator_value={}, eps={}, "
        "maximize={})",
        c.lr, c.lr_decay, c.wd, c.init, c.eps, c.maximize);
    auto opts = AdagradOptions(c.lr)
                    .lr_decay(c.lr_decay)
                    .weight_decay(c.wd)
                    .initial_accumulator_value(c.init)
                    .eps(c.eps)
                    .maximize(c.maximize);
    auto ref = [=] { return adagrad_ref(c); };
    if (c.maximize) {
      check_against_reference(quadratic(), maker<Adagrad>(opts), ref, label);
    } else {
      check_both(maker<Adagrad>(opts), ref, label);
    }
    check_float32(maker<Adagrad>(opts), ref, label);
  }
}

BOOST_AUTO_TEST_CASE(defaults_and_first_step) {
  const AdagradOptions o;
  BOOST_CHECK_EQUAL(o.lr(), 1e-2);
  BOOST_CHECK_EQUAL(o.eps(), 1e-10);
  BOOST_CHECK_EQUAL(o.lr_decay(), 0.0);
  BOOST_CHECK_EQUAL(o.initial_accumulator_value(), 0.0);
  // Step 1 from x = 3 on x^2: g = 6, sum = 36, x = 3 - 0.01 * 6 / (6 + 1e-10).
  Tensor x = tensor({3.0}, dtype(float64)).requires_grad_(true);
  Adagrad opt({x});
  (x * x).sum().backward();
  opt.step();
  BOOST_CHECK_CLOSE(x.item<double>(), 3.0 - 0.01 * 6 / (6 + 1e-10), 1e-13);
}

BOOST_AUTO_TEST_CASE(invalid_options) {
  Tensor x = zeros({2}).requires_grad_(true);
  XGRAD_CHECK_THROW_MSG(Adagrad({x}, AdagradOptions(-1)), "Adagrad: invalid lr -1");
  XGRAD_CHECK_THROW_MSG(Adagrad({x}, AdagradOptions().lr_decay(-0.1)), "Adagrad: invalid lr_decay -0.1");
  XGRAD_CHECK_THROW_MSG(Adagrad({x}, AdagradOptions().weight_decay(-0.1)), "Adagrad: invalid weight_decay -0.1");
  XGRAD_CHECK_THROW_MSG(Adagrad({x}, AdagradOptions().initial_accumulator_value(-2)),
                        "Adagrad: invalid initial_accumulator_value -2");
  XGRAD_CHECK_THROW_MSG(Adagrad({x}, AdagradOptions().eps(-1e-10)), "Adagrad: invalid eps -1e-10");
}

BOOST_AUTO_TEST_SUITE_END()
