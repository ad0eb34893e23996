// functional optimizers (xgrad/optim/functional.hpp): 50 functional steps equal 50 in-place
// steps for every optimizer and its main variants (float64 and float32), steps never mutate
// their inputs, make(), a hand-derived hypergradient, and the errors.
#include <memory>

#include "optim_test_util.hpp"
#include "xgrad/optim/functional.hpp"

using namespace xgrad;
using namespace xgrad::test;
namespace F = xgrad::optim::functional;

namespace {

/// A tiny regression: y ~ x W^T + b over 6 samples, plus 0.05 sum W^4 (so that gradients
/// change sign along the way, which Rprop and amsgrad care about). Parameters W [2, 3], b [2].
Tensor loss(const std::vector<Tensor>& ps, bool negate) {
  Vec xs, ys;
  for (int i = 0; i < 18; ++i) xs.push_back(std::sin(0.7 * i + 0.3));
  for (int i = 0; i < 12; ++i) ys.push_back(std::cos(1.3 * i) * 2.0);
  const Tensor x = from_vector(xs, {6, 3}).to(ps[0].dtype()), y = from_vector(ys, {6, 2}).to(ps[0].dtype());
  const Tensor r = matmul(x, ps[0].transpose(0, 1)) + ps[1] - y;
  const Tensor l = (r * r).mean() + 0.05 * (ps[0] * ps[0] * ps[0] * ps[0]).sum();
  return negate ? -l : l;
}

std::vector<Tensor> initial(Dtype dt) {
  return {from_vector(Vec{0.5, -1.0, 1.5, -0.5, 2.0, 0.25}, {2, 3}).to(dt), from_vector(Vec{0.3, -0.7}, {2}).to(dt)};
}

/// The gradients of loss at ps (through autograd, on detached copies).
std::vector<Tensor> grads_at(const std::vector<Tensor>& ps, bool negate) {
  std::vector<Tensor> leaves;
  for (const auto& p : ps) leaves.push_back(p.detach().requires_grad_(true));
  return autograd::grad({loss(leaves, negate)}, leaves);
}

struct Case {
  std::string label;
  std::shared_ptr<optim::OptimizerOptions> options;
  std::function<std::unique_ptr<optim::Optimizer>(const std::vector<Tensor>&)> make_inplace;
  bool maximize;
  std::string hyper;  // a hyper-parameter to give as a tensor in the third run
  double hyper_value;
};

template <class Opt, class O>
Case make_case(const O& o, const std::string& hyper, double hyper_value) {
  return {o.to_string(),
          std::make_shared<O>(o),
          [o](const std::vector<Tensor>& ps) { return std::make_unique<Opt>(ps, o); },
          o.maximize(),
          hyper,
          hyper_value};
}

std::vector<Case> cases() {
  using namespace optim;
  return {
      make_case<SGD>(SGDOptions(0.05), "lr", 0.05),
      make_case<SGD>(SGDOptions(0.05).momentum(0.9), "momentum", 0.9),
      make_case<SGD>(SGDOptions(0.05).momentum(0.9).dampening(0.3), "dampening", 0.3),
      make_case<SGD>(SGDOptions(0.05).momentum(0.9).nesterov(true), "lr", 0.05),
      make_case<SGD>(SGDOptions(0.05).momentum(0.8).dampening(0.1).weight_decay(0.1), "weight_decay", 0.1),
      make_case<SGD>(SGDOptions(0.02).momentum(0.5).maximize(true), "lr", 0.02),
      make_case<Adam>(AdamOptions(0.05), "lr", 0.05),
      make_case<Adam>(AdamOptions(0.05).amsgrad(true), "beta2", 0.999),
      make_case<Adam>(AdamOptions(0.05).weight_decay(0.1), "weight_decay", 0.1),
      make_case<Adam>(AdamOptions(0.05).weight_decay(0.1).decoupled_weight_decay(true), "beta1", 0.9),
      make_case<Adam>(AdamOptions(0.05).maximize(true).betas({0.3, 0.9}), "eps", 1e-8),
      make_case<AdamW>(AdamWOptions(0.05), "weight_decay", 1e-2),
      make_case<AdamW>(AdamWOptions(0.05).amsgrad(true).weight_decay(0.2), "lr", 0.05),
      make_case<Adamax>(AdamaxOptions(0.05), "lr", 0.05),
      make_case<Adamax>(AdamaxOptions(0.05).weight_decay(0.1).betas({0.8, 0.99}), "beta2", 0.99),
      make_case<Adamax>(AdamaxOptions(0.05).maximize(true), "beta1", 0.9),
      make_case<NAdam>(NAdamOptions(0.05), "lr", 0.05),
      make_case<NAdam>(NAdamOptions(0.05).weight_decay(0.1), "beta1", 0.9),
      make_case<NAdam>(NAdamOptions(0.05).weight_decay(0.1).decoupled_weight_decay(true), "weight_decay", 0.1),
      make_case<NAdam>(NAdamOptions(0.05).maximize(true).momentum_decay(0.01), "beta2", 0.999),
      make_case<RAdam>(RAdamOptions(0.05), "lr", 0.05),
      make_case<RAdam>(RAdamOptions(0.05).weight_decay(0.1).betas({0.9, 0.9}), "beta1", 0.9),
      make_case<RAdam>(RAdamOptions(0.05).weight_decay(0.1).decoupled_weight_decay(true).maximize(true), "eps", 1e-8),
      make_case<Adagrad>(AdagradOptions(0.1), "lr", 0.1),
      make_case<Adagrad>(AdagradOptions(0.1).lr_decay(0.1).weight_decay(0.1).initial_accumulator_value(0.5), "lr_decay",
                         0.1),
      make_case<Adagrad>(AdagradOptions(0.1).maximize(true), "eps", 1e-10),
      make_case<RMSprop>(RMSpropOptions(0.01), "lr", 0.01),
      make_case<RMSprop>(RMSpropOptions(0.01).centered(true), "alpha", 0.99),
      make_case<RMSprop>(RMSpropOptions(0.01).momentum(0.9), "momentum", 0.9),
      make_case<RMSprop>(RMSpropOptions(0.01).centered(true).momentum(0.5).weight_decay(0.1).alpha(0.9), "weight_decay",
                         0.1),
      make_case<RMSprop>(RMSpropOptions(0.01).maximize(true), "eps", 1e-8),
      make_case<Adadelta>(AdadeltaOptions(1.0), "lr", 1.0),
      make_case<Adadelta>(AdadeltaOptions(0.5).rho(0.8).weight_decay(0.1), "rho", 0.8),
      make_case<Adadelta>(AdadeltaOptions(1.0).maximize(true), "eps", 1e-6),
      make_case<ASGD>(ASGDOptions(0.05), "lr", 0.05),
      make_case<ASGD>(ASGDOptions(0.05).lambd(1e-2).t0(5).alpha(0.6), "lr", 0.05),
      make_case<ASGD>(ASGDOptions(0.05).weight_decay(0.1).t0(0).maximize(true), "weight_decay", 0.1),
      make_case<Rprop>(RpropOptions(0.05), "etaplus", 1.2),
      make_case<Rprop>(RpropOptions(0.05).etas({0.4, 1.5}).step_sizes({1e-3, 0.2}), "etaminus", 0.4),
      make_case<Rprop>(RpropOptions(0.05).maximize(true), "etaplus", 1.2),
  };
}

constexpr int kSteps = 50;

std::vector<Tensor> run_inplace(const Case& c, Dtype dt) {
  std::vector<Tensor> ps;
  for (const auto& p : initial(dt)) ps.push_back(p.detach().requires_grad_(true));
  auto opt = c.make_inplace(ps);
  for (int s = 0; s < kSteps; ++s) {
    opt->zero_grad();
    loss(ps, c.maximize).backward();
    opt->step();
  }
  return ps;
}

std::vector<Tensor> run_functional(const Case& c, Dtype dt, bool hyper_as_tensor) {
  auto f = F::make(*c.options);
  std::vector<Tensor> ps = initial(dt);
  F::State st = f->init(ps);
  F::Hyper hyper;
  if (hyper_as_tensor) hyper[c.hyper] = scalar_tensor(c.hyper_value, dtype(float64));
  for (int s = 0; s < kSteps; ++s) {
    auto r = f->step(ps, grads_at(ps, c.maximize), st, hyper);
    ps = std::move(r.params);
    st = std::move(r.state);
  }
  return ps;
}

/// Every element of a within rtol * max(1, |b|) of b.
void check_rel(const std::vector<Tensor>& a, const std::vector<Tensor>& b, double rtol, const std::string& label) {
  for (std::size_t i = 0; i < a.size(); ++i) {
    BOOST_REQUIRE(a[i].shape() == b[i].shape());
    BOOST_CHECK_MESSAGE(a[i].dtype() == b[i].dtype(), label);
    const auto va = a[i].detach().to(float64).to_vector<double>();
    const auto vb = b[i].detach().to(float64).to_vector<double>();
    for (std::size_t k = 0; k < va.size(); ++k) {
      const double err = std::fabs(va[k] - vb[k]) / std::max(1.0, std::fabs(vb[k]));
      BOOST_CHECK_MESSAGE(std::isfinite(va[k]) && err <= rtol, label << ": param " << i << " element " << k
                                                                     << ": functional " << va[k] << ", in-place "
                                                                     << vb[k] << " (rel. error " << err << ")");
    }
  }
}

std::vector<Tensor> values_of(const std::vector<Tensor>& ts) {
  std::vector<Tensor> out;
  for (const auto& t : ts) out.push_back(t.detach().clone());
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(functional_optim)

// float64: to 1e-12 relative; float32: to 1e-6 relative (8 ulps). The element operations are
// the in-place loops', in the same order, so the results are bitwise equal except where the
// in-place optimizer's vectorised path (plain Adam) lets the compiler contract a multiply-add
// into an FMA: there they differ by an ulp or so.
BOOST_AUTO_TEST_CASE(fifty_steps_equal_the_inplace_optimizer) {
  for (const auto& c : cases()) {
    const auto want64 = run_inplace(c, float64);
    check_rel(run_functional(c, float64, false), want64, 1e-12, c.label + " float64");
    check_rel(run_functional(c, float64, true), want64, 1e-12, c.label + " float64, " + c.hyper + " as a tensor");
    check_rel(run_functional(c, float32, false), run_inplace(c, float32), 1e-6, c.label + " float32");
    // The run moved the parameters (the comparison is not between two starting points).
    BOOST_CHECK_MESSAGE(max_abs_diff(want64[0], initial(float64)[0]) > 1e-3, c.label);
  }
}

BOOST_AUTO_TEST_CASE(a_step_never_mutates_its_inputs) {
  for (const auto& c : cases()) {
    auto f = F::make(*c.options);
    std::vector<Tensor> ps = initial(float64);
    F::State st = f->init(ps);
    for (int s = 0; s < 3; ++s) {
      auto r = f->step(ps, grads_at(ps, c.maximize), st);
      ps = r.params;
      st = r.state;
    }
    const auto grads = grads_at(ps, c.maximize);
    const auto ps0 = values_of(ps), gs0 = values_of(grads);
    std::vector<std::map<std::string, Tensor>> st0;
    for (const auto& e : st) {
      std::map<std::string, Tensor> copy;
      for (const auto& [k, t] : e) copy[k] = t.detach().clone();
      st0.push_back(copy);
    }
    F::Hyper hyper{{c.hyper, scalar_tensor(c.hyper_value, dtype(float64))}};
    const Tensor h0 = hyper.begin()->second.clone();
    const auto r = f->step(ps, grads, st, hyper);
    for (std::size_t i = 0; i < ps.size(); ++i) {
      BOOST_CHECK_MESSAGE(max_abs_diff(ps[i], ps0[i]) == 0.0, c.label << ": param " << i << " changed");
      BOOST_CHECK_MESSAGE(max_abs_diff(grads[i], gs0[i]) == 0.0, c.label << ": grad " << i << " changed");
      BOOST_CHECK_MESSAGE(max_abs_diff(r.params[i], ps0[i]) > 0.0, c.label << ": param " << i << " did not move");
      BOOST_REQUIRE_EQUAL(st[i].size(), st0[i].size());
      for (const auto& [k, t] : st0[i]) {
        BOOST_CHECK_MESSAGE(max_abs_diff(st[i].at(k), t) == 0.0, c.label << ": state " << i << " " << k << " changed");
      }
    }
    BOOST_CHECK_EQUAL(max_abs_diff(hyper.begin()->second, h0), 0.0);
  }
}

BOOST_AUTO_TEST_CASE(an_empty_state_means_init) {
  for (const auto& c : cases()) {
    auto f = F::make(*c.options);
    const auto ps = initial(float64);
    const auto gs = grads_at(ps, c.maximize);
    const auto a = f->step(ps, gs, {}), b = f->step(ps, gs, f->init(ps));
    check_rel(a.params, b.params, 0.0, c.label);
    BOOST_CHECK_EQUAL(a.state.size(), ps.size());
    for (std::size_t i = 0; i < ps.size(); ++i) {
      BOOST_CHECK_EQUAL(a.state[i].size(), b.state[i].size());
      for (const auto& [k, t] : b.state[i]) BOOST_CHECK_EQUAL(max_abs_diff(a.state[i].at(k), t), 0.0);
    }
  }
}

BOOST_AUTO_TEST_CASE(free_functions_equal_make) {
  using namespace optim;
  const auto ps = initial(float64);
  const auto gs = grads_at(ps, false);
  const auto same = [&](const F::StepResult& a, const OptimizerOptions& o) {
    check_rel(a.params, F::make(o)->step(ps, gs, {}).params, 0.0, std::string(o.optimizer_name()));
  };
  same(F::sgd(ps, gs, {}, SGDOptions(0.1).momentum(0.9)), SGDOptions(0.1).momentum(0.9));
  same(F::adam(ps, gs, {}, AdamOptions(0.1)), AdamOptions(0.1));
  same(F::adamw(ps, gs, {}, AdamWOptions(0.1)), AdamWOptions(0.1));
  same(F::adamax(ps, gs, {}, AdamaxOptions()), AdamaxOptions());
  same(F::nadam(ps, gs, {}, NAdamOptions()), NAdamOptions());
  same(F::radam(ps, gs, {}, RAdamOptions()), RAdamOptions());
  same(F::adagrad(ps, gs, {}, AdagradOptions()), AdagradOptions());
  same(F::rmsprop(ps, gs, {}, RMSpropOptions()), RMSpropOptions());
  same(F::adadelta(ps, gs, {}, AdadeltaOptions()), AdadeltaOptions());
  same(F::asgd(ps, gs, {}, ASGDOptions()), ASGDOptions());
  same(F::rprop(ps, gs, {}, RpropOptions()), RpropOptions());
}

BOOST_AUTO_TEST_CASE(zero_d_and_empty_parameters) {
  // A 0-d, an empty and a 1-d parameter under f = sum over all of (p - 1)^2 p^2.
  const auto f = [](const std::vector<Tensor>& ps) {
    Tensor l = scalar_tensor(0.0, dtype(float64));
    for (const auto& p : ps) l = l + ((p - 1.0) * (p - 1.0) * p * p).sum();
    return l;
  };
  const auto start = [] {
    return std::vector<Tensor>{scalar_tensor(0.3, dtype(float64)), zeros({0, 3}, dtype(float64)),
                               tensor({-0.4, 1.7}, dtype(float64))};
  };
  for (const auto& c : cases()) {
    std::vector<Tensor> ref;
    for (auto p : start()) ref.push_back(p.requires_grad_(true));
    auto opt = c.make_inplace(ref);
    auto form = F::make(*c.options);
    std::vector<Tensor> ps = start();
    F::State st;
    for (int s = 0; s < 10; ++s) {
      opt->zero_grad();
      (c.maximize ? -f(ref) : f(ref)).backward();
      opt->step();
      std::vector<Tensor> leaves;
      for (const auto& p : ps) leaves.push_back(p.detach().requires_grad_(true));
      const auto gs = autograd::grad({c.maximize ? -f(leaves) : f(leaves)}, leaves);
      auto r = form->step(ps, gs, st);
      ps = r.params;
      st = r.state;
    }
    BOOST_CHECK(ps[0].shape() == Shape{} && ps[1].shape() == (Shape{0, 3}));
    check_rel(ps, ref, 1e-12, c.label + " (0-d and empty parameters)");
  }
}

BOOST_AUTO_TEST_CASE(make_returns_the_form_of_each_options_type) {
  using namespace optim;
  const std::vector<std::pair<std::shared_ptr<OptimizerOptions>, std::vector<std::string>>> want = {
      {std::make_shared<SGDOptions>(), {"lr", "momentum", "dampening", "weight_decay"}},
      {std::make_shared<AdamOptions>(), {"lr", "beta1", "beta2", "eps", "weight_decay"}},
      {std::make_shared<AdamWOptions>(), {"lr", "beta1", "beta2", "eps", "weight_decay"}},
      {std::make_shared<AdamaxOptions>(), {"lr", "beta1", "beta2", "eps", "weight_decay"}},
      {std::make_shared<NAdamOptions>(), {"lr", "beta1", "beta2", "eps", "weight_decay"}},
      {std::make_shared<RAdamOptions>(), {"lr", "beta1", "eps", "weight_decay"}},
      {std::make_shared<AdagradOptions>(), {"lr", "lr_decay", "weight_decay", "eps"}},
      {std::make_shared<RMSpropOptions>(), {"lr", "alpha", "eps", "weight_decay", "momentum"}},
      {std::make_shared<AdadeltaOptions>(), {"lr", "rho", "eps", "weight_decay"}},
      {std::make_shared<ASGDOptions>(), {"lr", "weight_decay"}},
      {std::make_shared<RpropOptions>(), {"etaminus", "etaplus"}},
  };
  for (const auto& [o, names] : want) {
    const auto f = F::make(*o);
    BOOST_CHECK_EQUAL(f->name(), std::string(o->optimizer_name()));
    BOOST_CHECK_EQUAL(f->options().optimizer_name(), o->optimizer_name());
    BOOST_CHECK(f->hyper_names() == names);
  }
  // The options are copied: changing the original later does not change the form.
  SGDOptions o(0.1);
  const auto f = F::make(o);
  o.lr(0.5);
  BOOST_CHECK_EQUAL(f->options().get_lr(), 0.1);
  XGRAD_CHECK_THROW_MSG(F::make(LBFGSOptions()), "LBFGS has no functional form");
}

BOOST_AUTO_TEST_CASE(hand_derived_lr_gradient_of_two_sgd_momentum_steps) {
  // f(theta) = 0.5 c theta^2, g_t = c theta_t; SGD with momentum mu, dampening 0:
  //   theta_1 = theta_0 - lr g_0 = theta_0 (1 - lr c)                       (b_1 = g_0)
  //   b_2     = mu g_0 + g_1 = c theta_0 (1 + mu - lr c)
  //   theta_2 = theta_1 - lr b_2 = theta_0 (1 - (2 + mu) lr c + lr^2 c^2)
  //   d theta_2 / d lr = theta_0 (2 lr c^2 - (2 + mu) c)
  // theta_0 = 2, c = 3, mu = 0.5, lr = 0.1:
  //   theta_2 = 2 (1 - 0.75 + 0.09) = 0.68;  d theta_2 / d lr = 2 (1.8 - 7.5) = -11.4.
  const double c = 3.0;
  Tensor lr = scalar_tensor(0.1, dtype(float64)).requires_grad_(true);
  std::vector<Tensor> theta{tensor({2.0}, dtype(float64))};
  F::State st;
  const optim::SGDOptions o = optim::SGDOptions(0.1).momentum(0.5);
  for (int s = 0; s < 2; ++s) {
    Tensor leaf = theta[0].requires_grad() ? theta[0] : theta[0].detach().requires_grad_(true);
    if (!theta[0].requires_grad()) theta[0] = leaf;
    auto g = autograd::grad({(0.5 * c * theta[0] * theta[0]).sum()}, theta, {}, {.create_graph = true});
    auto r = F::sgd(theta, g, st, o, {{"lr", lr}});
    theta = r.params;
    st = r.state;
  }
  check_values(theta[0], {1}, {0.68});
  const auto d = autograd::grad({theta[0].sum()}, {lr});
  check_values(d[0], {}, {-11.4});
}

BOOST_AUTO_TEST_CASE(the_graph_follows_grad_mode) {
  const auto ps = initial(float64);
  const auto gs = grads_at(ps, false);
  Tensor lr = scalar_tensor(0.1, dtype(float64)).requires_grad_(true);
  const auto r = F::adam(ps, gs, {}, optim::AdamOptions(), {{"lr", lr}});
  BOOST_CHECK(r.params[0].requires_grad());
  BOOST_CHECK(!r.state[0].at("step").requires_grad());
  {
    NoGradGuard ng;
    const auto r2 = F::adam(ps, gs, {}, optim::AdamOptions(), {{"lr", lr}});
    BOOST_CHECK(!r2.params[0].requires_grad());
  }
  // A float64 hyper-parameter does not widen float32 parameters.
  const auto p32 = initial(float32);
  const auto r32 = F::sgd(p32, grads_at(p32, false), {}, optim::SGDOptions(), {{"lr", lr}});
  BOOST_CHECK(r32.params[0].dtype() == float32);
  BOOST_CHECK(r32.state.at(0).empty());
}

BOOST_AUTO_TEST_CASE(errors) {
  using namespace optim;
  const auto ps = initial(float64);
  const auto gs = grads_at(ps, false);
  const auto f = F::make(AdamOptions());
  XGRAD_CHECK_THROW_MSG(f->step(ps, {gs[0]}, {}), "Adam: got 2 parameters but 1 gradients");
  XGRAD_CHECK_THROW_MSG(f->step(ps, gs, {F::ParamState{}}), "Adam: got 2 parameters but a state for 1");
  XGRAD_CHECK_THROW_MSG(
      f->step(ps, {gs[0], gs[0]}, {}),
      "Adam: gradient 1 of shape [2, 3] (float64) does not match its parameter of shape [2] (float64)");
  XGRAD_CHECK_THROW_MSG(f->step(ps, {gs[0], gs[1].to(float32)}, {}),
                        "Adam: gradient 1 of shape [2] (float32) does not match its parameter of shape [2] (float64)");
  XGRAD_CHECK_THROW_MSG(f->step(ps, {gs[0], Tensor()}, {}), "Adam: gradient 1 is undefined");
  XGRAD_CHECK_THROW_MSG(f->step({ps[0], Tensor()}, gs, {}), "Adam: parameter 1 is undefined");
  XGRAD_CHECK_THROW_MSG(F::sgd({ps[0].to(int64)}, {gs[0].to(int64)}, {}, SGDOptions()),
                        "SGD: parameter 0 must be floating-point");
  F::State st = f->init(ps);
  st[1]["exp_avg"] = zeros({3}, dtype(float64));
  XGRAD_CHECK_THROW_MSG(
      f->step(ps, gs, st),
      "Adam: state 1 'exp_avg' of shape [3] (float64) does not match its parameter of shape [2] (float64)");
  XGRAD_CHECK_THROW_MSG(f->step(ps, gs, {}, {{"mommentum", scalar_tensor(0.9)}}),
                        "Adam: unknown hyper-parameter 'mommentum'; expected one of lr, beta1, beta2, eps, "
                        "weight_decay");
  XGRAD_CHECK_THROW_MSG(F::rprop(ps, gs, {}, RpropOptions(), {{"lr", scalar_tensor(0.1)}}),
                        "Rprop: unknown hyper-parameter 'lr'; expected one of etaminus, etaplus");
  XGRAD_CHECK_THROW_MSG(f->step(ps, gs, {}, {{"lr", tensor({0.1, 0.2})}}),
                        "Adam: hyper-parameter 'lr' must be a 0-d tensor");
  XGRAD_CHECK_THROW_MSG(f->step(ps, gs, {}, {{"lr", scalar_tensor(1.0, dtype(int64))}}),
                        "Adam: hyper-parameter 'lr' must be a floating-point tensor");
  // Options are validated with the in-place optimizers' checks.
  XGRAD_CHECK_THROW_MSG(F::make(SGDOptions(-1.0)), "SGD");
  XGRAD_CHECK_THROW_MSG(F::sgd(ps, gs, {}, SGDOptions(0.1).nesterov(true)), "nesterov");
}

BOOST_AUTO_TEST_SUITE_END()
