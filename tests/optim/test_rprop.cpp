// Rprop against a scalar reference written from torch.optim.Rprop's documented (single-tensor)
// algorithm, a hand-derived trajectory, options and state dicts.
#include "optim_test_util.hpp"

using namespace xgrad;
using namespace xgrad::test;
using optim::Rprop;
using optim::RpropOptions;

namespace {

struct Case {
  double lr, eta_minus, eta_plus, size_min, size_max;
  bool maximize;
};

RefStep rprop_ref(Case c) {
  struct S {
    Vec prev, size;
  };
  auto s = std::make_shared<S>();
  return [=](Vec& x, const Vec& grad) {
    if (s->prev.empty()) s->prev.assign(x.size(), 0.0), s->size.assign(x.size(), c.lr);
    for (std::size_t i = 0; i < x.size(); ++i) {
      double g = c.maximize ? -grad[i] : grad[i];
      const double prod = g * s->prev[i];
      const double f = prod > 0 ? c.eta_plus : (prod < 0 ? c.eta_minus : 1.0);
      s->size[i] = std::min(std::max(s->size[i] * f, c.size_min), c.size_max);
      if (prod < 0) g = 0;
      x[i] -= (g > 0 ? 1.0 : (g < 0 ? -1.0 : 0.0)) * s->size[i];
      s->prev[i] = g;
    }
  };
}

}  // namespace

BOOST_AUTO_TEST_SUITE(rprop)

BOOST_AUTO_TEST_CASE(matches_reference_for_every_option_combination) {
  // The second case's clamp lets the iterate settle within float32 rounding of the minimum,
  // where the gradient's sign (all Rprop reads) is rounding noise: float64 only.
  const std::vector<Case> cases = {{1e-2, 0.5, 1.2, 1e-6, 50, false},
                                   {0.1, 0.3, 1.5, 1e-3, 0.2, false},  // the step-size clamp bites
                                   {1e-2, 0.5, 1.2, 1e-6, 50, true}};
  std::size_t index = 0;
  for (const auto& c : cases) {
    const std::string label = fmt::format("Rprop(lr={}, etas=({}, {}), step_sizes=({}, {}), maximize={})", c.lr,
                                          c.eta_minus, c.eta_plus, c.size_min, c.size_max, c.maximize);
    auto opts =
        RpropOptions(c.lr).etas({c.eta_minus, c.eta_plus}).step_sizes({c.size_min, c.size_max}).maximize(c.maximize);
    auto ref = [=] { return rprop_ref(c); };
    if (c.maximize) {
      check_against_reference(quadratic(), maker<Rprop>(opts), ref, label);
    } else {
      check_both(maker<Rprop>(opts), ref, label);
    }
    if (index++ != 1) check_float32(maker<Rprop>(opts), ref, label);
  }
}

BOOST_AUTO_TEST_CASE(hand_derived_steps) {
  // f = sum(x^2), g = 2x, lr 0.1, etas (0.5, 1.2), from x = (1, -2, 0.05):
  //   step 1: prev = 0, sizes stay 0.1:        x = (0.9, -1.9, -0.05)   (the third overshoots)
  //   step 2: same signs grow to 0.12; the third flipped: size 0.05, no step, prev := 0
  //                                            x = (0.78, -1.78, -0.05)
  //   step 3: sizes 0.144; the third has prev 0: size stays 0.05, steps: x = (0.636, -1.636, 0)
  Tensor x = tensor({1.0, -2.0, 0.05}, dtype(float64)).requires_grad_(true);
  Rprop opt({x}, RpropOptions(0.1));
  const std::vector<std::vector<double>> expected = {{0.9, -1.9, -0.05}, {0.78, -1.78, -0.05}, {0.636, -1.636, 0.0}};
  for (const auto& e : expected) {
    opt.zero_grad();
    (x * x).sum().backward();
    opt.step();
    check_close(x, from_vector(e, {3}), 1e-15);
  }
  const auto& st = static_cast<optim::RpropParamState&>(opt.state(x));
  BOOST_CHECK_EQUAL(st.step, 3);
  check_close(st.step_size, tensor({0.144, 0.144, 0.05}, dtype(float64)), 1e-15);
}

BOOST_AUTO_TEST_CASE(defaults) {
  const RpropOptions o;
  BOOST_CHECK_EQUAL(o.lr(), 1e-2);
  BOOST_CHECK_EQUAL(o.etas().first, 0.5);
  BOOST_CHECK_EQUAL(o.etas().second, 1.2);
  BOOST_CHECK_EQUAL(o.step_sizes().first, 1e-6);
  BOOST_CHECK_EQUAL(o.step_sizes().second, 50.0);
  BOOST_CHECK(!o.maximize());
  BOOST_CHECK(!o.get_momentum());
  BOOST_CHECK_EQUAL(o.to_string(), "Rprop(lr=0.01, etas=(0.5, 1.2), step_sizes=(1e-06, 50), maximize=false)");
}

BOOST_AUTO_TEST_CASE(invalid_options) {
  Tensor x = zeros({2}).requires_grad_(true);
  XGRAD_CHECK_THROW_MSG(Rprop({x}, RpropOptions(-1)), "Rprop: invalid lr -1 (must be >= 0)");
  XGRAD_CHECK_THROW_MSG(Rprop({x}, RpropOptions().etas({1.0, 1.2})),
                        "Rprop: invalid etas (1, 1.2) (must be 0 < etaminus < 1 < etaplus)");
  XGRAD_CHECK_THROW_MSG(Rprop({x}, RpropOptions().etas({0.5, 0.9})), "Rprop: invalid etas (0.5, 0.9)");
  XGRAD_CHECK_THROW_MSG(Rprop({x}, RpropOptions().step_sizes({-1, 50})), "Rprop: invalid step_size_min -1");
}

BOOST_AUTO_TEST_CASE(state_dict_round_trip_resumes_exactly) {
  // Keys as PyTorch names them; a fresh optimizer loading the dict continues bit for bit.
  auto run = [](Rprop& opt, Tensor& x, int steps) {
    for (int s = 0; s < steps; ++s) {
      opt.zero_grad();
      quadratic().f(x).backward();
      opt.step();
    }
  };
  const Problem prob = quadratic();
  Tensor a = from_vector(prob.x0, prob.shape, true), b = from_vector(prob.x0, prob.shape, true);
  const auto opts = RpropOptions(0.05).etas({0.4, 1.3}).step_sizes({1e-4, 1.0});
  Rprop oa({a}, opts);
  run(oa, a, 3);
  const TensorDict sd = oa.state_dict();
  for (const char* k : {"param_groups.0.etaminus", "param_groups.0.etaplus", "param_groups.0.step_size_min",
                        "param_groups.0.step_size_max", "state.0.step", "state.0.prev", "state.0.step_size"}) {
    BOOST_CHECK_MESSAGE(sd.count(k), k);
  }
  BOOST_CHECK_EQUAL(sd.at("param_groups.0.etaplus").item<double>(), 1.3);
  {
    NoGradGuard ng;
    b.copy_(a);
  }
  Rprop ob({b}, RpropOptions());
  ob.load_state_dict(sd);
  BOOST_CHECK_EQUAL(static_cast<const RpropOptions&>(ob.param_groups()[0].options()).etas().first, 0.4);
  run(oa, a, 4);
  run(ob, b, 4);
  BOOST_CHECK_EQUAL(max_abs_diff(a, b), 0.0);
}

BOOST_AUTO_TEST_SUITE_END()
