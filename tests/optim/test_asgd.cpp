// ASGD against a scalar reference written from torch.optim.ASGD's documented (single-tensor)
// algorithm, a hand-derived trajectory of the averaged iterate, options and state dicts.
#include "optim_test_util.hpp"

using namespace xgrad;
using namespace xgrad::test;
using optim::ASGD;
using optim::ASGDOptions;

namespace {

struct Case {
  double lr, lambd, alpha, t0, wd;
  bool maximize;
};

/// Also returns the averaged iterate through `ax_out` (when given).
RefStep asgd_ref(Case c, std::shared_ptr<Vec> ax_out = nullptr) {
  struct S {
    Vec ax;
    double eta = 0, mu = 1;
    int t = 0;
  };
  auto s = std::make_shared<S>();
  return [=](Vec& x, const Vec& grad) {
    if (s->ax.empty()) s->ax.assign(x.size(), 0.0), s->eta = c.lr;
    s->t += 1;
    for (std::size_t i = 0; i < x.size(); ++i) {
      double g = c.maximize ? -grad[i] : grad[i];
      if (c.wd != 0) g += c.wd * x[i];
      x[i] *= 1 - c.lambd * s->eta;
      x[i] -= s->eta * g;
      s->ax[i] = s->mu != 1 ? s->ax[i] + (x[i] - s->ax[i]) * s->mu : x[i];
    }
    s->eta = c.lr / std::pow(1 + c.lambd * c.lr * s->t, c.alpha);
    s->mu = 1 / std::max(1.0, s->t - c.t0);
    if (ax_out) *ax_out = s->ax;
  };
}

}  // namespace

BOOST_AUTO_TEST_SUITE(asgd)

BOOST_AUTO_TEST_CASE(matches_reference_for_every_option_combination) {
  const std::vector<Case> cases = {{1e-2, 1e-4, 0.75, 1e6, 0, false},
                                   {0.05, 0.1, 0.75, 5, 0, false},  // eta decays; mu < 1 from step 8
                                   {0.02, 1e-2, 0.5, 2, 0.1, false},
                                   {1e-2, 1e-4, 0.75, 3, 0.05, true}};
  for (const auto& c : cases) {
    const std::string label = fmt::format("ASGD(lr={}, lambd={}, alpha={}, t0={}, wd={}, maximize={})", c.lr, c.lambd,
                                          c.alpha, c.t0, c.wd, c.maximize);
    auto opts = ASGDOptions(c.lr).lambd(c.lambd).alpha(c.alpha).t0(c.t0).weight_decay(c.wd).maximize(c.maximize);
    auto ref = [=] { return asgd_ref(c); };
    // Quadratic only: like plain SGD at these rates, ASGD diverges on Rosenbrock.
    check_against_reference(quadratic(), maker<ASGD>(opts), ref, label);
    check_float32(maker<ASGD>(opts), ref, label);
  }
}

BOOST_AUTO_TEST_CASE(averaged_iterate_matches_reference) {
  const Case c{0.02, 1e-2, 0.75, 4, 0.01, false};
  const Problem prob = quadratic();
  Tensor x = from_vector(prob.x0, prob.shape, true);
  ASGD opt({x}, ASGDOptions(c.lr).lambd(c.lambd).t0(c.t0).weight_decay(c.wd));
  auto ax = std::make_shared<Vec>();
  RefStep ref = asgd_ref(c, ax);
  Vec xr = prob.x0;
  for (int s = 0; s < 20; ++s) {
    opt.zero_grad();
    prob.f(x).backward();
    opt.step();
    ref(xr, grad_at(prob, xr));
  }
  const auto& st = static_cast<optim::ASGDParamState&>(opt.state(x));
  BOOST_CHECK_LE(max_abs_diff(st.ax, from_vector(*ax, prob.shape)), 1e-14);
  BOOST_CHECK_CLOSE(st.eta, c.lr / std::pow(1 + c.lambd * c.lr * 20, 0.75), 1e-12);
  BOOST_CHECK_EQUAL(st.mu, 1.0 / 16);
}

BOOST_AUTO_TEST_CASE(hand_derived_steps) {
  // f = x^2 / 2 (g = x), lr 0.1, lambd 0 (eta stays 0.1), t0 1: theta_t = 0.9 theta_{t-1}
  // = 0.9, 0.81, 0.729, 0.6561. mu_t = 1 / max(1, t - 1) = 1, 1, 0.5: ax copies theta for
  // three steps, then ax_4 = 0.729 + 0.5 * (0.6561 - 0.729) = 0.69255.
  Tensor x = tensor({1.0}, dtype(float64)).requires_grad_(true);
  ASGD opt({x}, ASGDOptions(0.1).lambd(0).t0(1));
  const std::vector<double> theta = {0.9, 0.81, 0.729, 0.6561}, ax = {0.9, 0.81, 0.729, 0.69255};
  for (std::size_t s = 0; s < theta.size(); ++s) {
    opt.zero_grad();
    (0.5 * x * x).sum().backward();
    opt.step();
    const auto& st = static_cast<optim::ASGDParamState&>(opt.state(x));
    BOOST_CHECK_CLOSE(x.item<double>(), theta[s], 1e-12);
    BOOST_CHECK_CLOSE(st.ax.item<double>(), ax[s], 1e-12);
    BOOST_CHECK_EQUAL(st.eta, 0.1);
  }
}

BOOST_AUTO_TEST_CASE(defaults) {
  const ASGDOptions o;
  BOOST_CHECK_EQUAL(o.lr(), 1e-2);
  BOOST_CHECK_EQUAL(o.lambd(), 1e-4);
  BOOST_CHECK_EQUAL(o.alpha(), 0.75);
  BOOST_CHECK_EQUAL(o.t0(), 1e6);
  BOOST_CHECK_EQUAL(o.weight_decay(), 0.0);
  BOOST_CHECK(!o.maximize());
  BOOST_CHECK_EQUAL(o.to_string(),
                    "ASGD(lr=0.01, lambd=0.0001, alpha=0.75, t0=1000000, weight_decay=0, maximize=false)");
}

BOOST_AUTO_TEST_CASE(invalid_options) {
  Tensor x = zeros({2}).requires_grad_(true);
  XGRAD_CHECK_THROW_MSG(ASGD({x}, ASGDOptions(-1)), "ASGD: invalid lr -1 (must be >= 0)");
  XGRAD_CHECK_THROW_MSG(ASGD({x}, ASGDOptions().weight_decay(-0.1)), "ASGD: invalid weight_decay -0.1");
}

BOOST_AUTO_TEST_CASE(state_dict_round_trip_resumes_exactly) {
  const Problem prob = quadratic();
  auto run = [&](ASGD& opt, Tensor& x, int steps) {
    for (int s = 0; s < steps; ++s) {
      opt.zero_grad();
      prob.f(x).backward();
      opt.step();
    }
  };
  Tensor a = from_vector(prob.x0, prob.shape, true), b = from_vector(prob.x0, prob.shape, true);
  ASGD oa({a}, ASGDOptions(0.05).lambd(0.1).t0(2));
  run(oa, a, 4);
  const TensorDict sd = oa.state_dict();
  for (const char* k : {"param_groups.0.lambd", "param_groups.0.alpha", "param_groups.0.t0", "state.0.step",
                        "state.0.eta", "state.0.mu", "state.0.ax"}) {
    BOOST_CHECK_MESSAGE(sd.count(k), k);
  }
  {
    NoGradGuard ng;
    b.copy_(a);
  }
  ASGD ob({b}, ASGDOptions());
  ob.load_state_dict(sd);
  BOOST_CHECK_EQUAL(static_cast<const ASGDOptions&>(ob.param_groups()[0].options()).t0(), 2.0);
  run(oa, a, 5);
  run(ob, b, 5);
  BOOST_CHECK_EQUAL(max_abs_diff(a, b), 0.0);
  BOOST_CHECK_EQUAL(max_abs_diff(static_cast<optim::ASGDParamState&>(oa.state(a)).ax,
                                 static_cast<optim::ASGDParamState&>(ob.state(b)).ax),
                    0.0);
}

BOOST_AUTO_TEST_SUITE_END()
