// functional optimizers (xgrad/optim/functional.hpp): float64 gradcheck and gradgradcheck
// through one step of every optimizer (and its main variants), w.r.t. the parameter, the
// gradient, the state tensors and a hyper-parameter given as a tensor; and the hypergradient
// through 8 unrolled steps (second order) against finite differences.
#include <algorithm>
#include <cmath>
#include <memory>

#include "test_util.hpp"
#include "xgrad/optim/functional.hpp"

using namespace xgrad;
using namespace xgrad::test;
namespace F = xgrad::optim::functional;

namespace {

using Vec = std::vector<double>;

Tensor t23(const Vec& v) { return from_vector(v, {2, 3}); }

/// f(W) = sum(0.5 c W^2 - d W) + 0.05 sum W^4 over W [2, 3].
Tensor inner_loss(const Tensor& w) {
  const Tensor c = t23({1.0, 2.0, 0.5, 3.0, 1.5, 0.8}), d = t23({1.0, -2.0, 0.5, 0.3, -1.0, 2.0});
  return (0.5 * c * w * w - d * w + 0.05 * w * w * w * w).sum();
}

/// inner_loss after K = 8 unrolled steps (RAdam rectifies from step 6 on) from a fixed W_0, with the hyper-parameter
/// `hyper` given as the tensor h (gradients with create_graph when h requires grad).
Tensor unrolled(const F::FunctionalOptimizer& f, const std::string& hyper, const Tensor& h) {
  std::vector<Tensor> p{t23({0.5, -1.0, 1.5, -0.5, 2.0, 0.25}).requires_grad_(true)};
  F::State st;
  for (int k = 0; k < 8; ++k) {
    const auto g = autograd::grad({inner_loss(p[0])}, p, {}, {.create_graph = h.requires_grad()});
    auto r = f.step(p, g, st, {{hyper, h}});
    p = r.params;
    st = r.state;
  }
  return inner_loss(p[0]);
}

/// The hypergradient d(loss after 8 steps)/d(hyper) through the unrolled graph (second order:
/// the gradients depend on the earlier steps) against a central finite difference.
void check_hypergradient(const F::FunctionalOptimizer& f, const std::string& hyper, double value,
                         const std::string& label) {
  Tensor h = scalar_tensor(value, dtype(float64)).requires_grad_(true);
  const double analytical = autograd::grad({unrolled(f, hyper, h)}, {h})[0].item<double>();
  const double eps = 1e-6 * std::max(std::fabs(value), 1e-2);
  const double numerical = (unrolled(f, hyper, scalar_tensor(value + eps, dtype(float64))).item<double>() -
                            unrolled(f, hyper, scalar_tensor(value - eps, dtype(float64))).item<double>()) /
                           (2 * eps);
  BOOST_CHECK_MESSAGE(std::fabs(analytical - numerical) <= 1e-6 + 1e-5 * std::fabs(numerical),
                      label << ": hypergradient " << analytical << " vs finite difference " << numerical);
}

/// Checks one step of the form `o` at a state reached by `warmup` earlier steps: the function
/// (p, g, h, state tensors...) -> new p + sum_k w_k * (new state tensor k), where h is the
/// hyper-parameter `hyper` (value `value`) given as a tensor.
void check_step(const optim::OptimizerOptions& o, const std::string& hyper, double value, int warmup = 2) {
  const auto f = F::make(o);
  const std::string label = o.to_string() + ", " + hyper + " as a tensor";
  BOOST_TEST_MESSAGE(label);
  // Earlier steps with gradients of the same signs (so Rprop's "prev" has no zeros); the
  // new gradient keeps those signs in some elements and flips them in others (Rprop's
  // branches), all away from 0 (abs, sign and max have kinks there).
  std::vector<Tensor> p{t23({0.5, -1.0, 1.5, -0.5, 2.0, 0.25})};
  F::State st = f->init(p);
  const Vec earlier[2] = {{0.3, -0.8, 1.1, -0.6, 0.4, 0.9}, {0.5, -0.6, 0.7, -0.9, 0.8, 0.45}};
  for (int k = 0; k < warmup; ++k) {
    auto r = f->step(p, {t23(earlier[(warmup - k) % 2 == 0 ? 0 : 1])}, st);
    p = r.params;
    st = r.state;
  }
  std::vector<std::string> keys;
  for (const auto& [k, t] : st[0]) {
    if (t.shape() == p[0].shape()) keys.push_back(k);
  }
  // Clones: results of a step may share storage (ASGD's ax is the new parameter while mu = 1),
  // and gradcheck perturbs its inputs in place.
  std::vector<Tensor> inputs{p[0].detach().clone().requires_grad_(true),
                             t23({0.35, 0.7, 0.95, 1.2, -0.55, 0.65}).requires_grad_(true),
                             scalar_tensor(value, dtype(float64)).requires_grad_(true)};
  for (const auto& k : keys) inputs.push_back(st[0].at(k).detach().clone().requires_grad_(true));
  const auto fn = [&](const std::vector<Tensor>& in) {
    F::State s = st;
    for (std::size_t k = 0; k < keys.size(); ++k) s[0][keys[k]] = in[3 + k];
    const auto r = f->step({in[0]}, {in[1]}, s, {{hyper, in[2]}});
    Tensor out = r.params[0];
    double w = 0.3;
    for (const auto& k : keys) {
      out = out + w * r.state[0].at(k);
      w += 0.2;
    }
    return out;
  };
  check_gradcheck(fn, inputs);
  check_gradgradcheck(fn, inputs);
  check_hypergradient(*f, hyper, value, label);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(functional_optim_grad)

BOOST_AUTO_TEST_CASE(sgd) {
  using optim::SGDOptions;
  check_step(SGDOptions(0.1), "lr", 0.1);
  check_step(SGDOptions(0.1).momentum(0.9).weight_decay(0.1), "lr", 0.1);
  check_step(SGDOptions(0.1).momentum(0.9).dampening(0.2), "momentum", 0.9);
  check_step(SGDOptions(0.1).momentum(0.9).dampening(0.2), "dampening", 0.2);
  check_step(SGDOptions(0.01).momentum(0.9).nesterov(true).maximize(true), "weight_decay", 0.05);
}

BOOST_AUTO_TEST_CASE(adam_and_adamw) {
  using optim::AdamOptions;
  check_step(AdamOptions(0.1), "lr", 0.1);
  check_step(AdamOptions(0.1).weight_decay(0.1), "beta1", 0.9);
  check_step(AdamOptions(0.1).amsgrad(true), "beta2", 0.999);
  check_step(AdamOptions(0.1).maximize(true).eps(1e-3), "eps", 1e-3);
  check_step(optim::AdamWOptions(0.1), "weight_decay", 0.01);
  check_step(optim::AdamWOptions(0.1).amsgrad(true), "lr", 0.1);
}

BOOST_AUTO_TEST_CASE(adamax_nadam_radam) {
  check_step(optim::AdamaxOptions(0.1).weight_decay(0.1), "lr", 0.1);
  check_step(optim::AdamaxOptions(0.1), "beta2", 0.999);
  check_step(optim::NAdamOptions(0.1), "lr", 0.1);
  check_step(optim::NAdamOptions(0.1).weight_decay(0.1), "beta1", 0.9);
  check_step(optim::NAdamOptions(0.1).weight_decay(0.1).decoupled_weight_decay(true), "weight_decay", 0.1);
  // rho_t > 5 (the rectified branch) from step 6 on for beta2 = 0.9 or 0.999: 6 earlier steps
  // check step 7 there, 2 earlier steps step 3 (not rectified).
  check_step(optim::RAdamOptions(0.1).betas({0.9, 0.9}), "lr", 0.1, 6);
  check_step(optim::RAdamOptions(0.1).betas({0.9, 0.9}).weight_decay(0.1), "eps", 1e-8, 6);
  check_step(optim::RAdamOptions(0.1).decoupled_weight_decay(true).weight_decay(0.1), "beta1", 0.9, 6);
  check_step(optim::RAdamOptions(0.1), "beta1", 0.9);
}

BOOST_AUTO_TEST_CASE(adagrad_rmsprop_adadelta) {
  check_step(optim::AdagradOptions(0.1), "lr", 0.1);
  check_step(optim::AdagradOptions(0.1).weight_decay(0.1).initial_accumulator_value(0.1), "lr_decay", 0.1);
  check_step(optim::RMSpropOptions(0.01), "lr", 0.01);
  check_step(optim::RMSpropOptions(0.01).centered(true).momentum(0.5), "alpha", 0.99);
  check_step(optim::RMSpropOptions(0.01).centered(true), "momentum", 0.3);
  check_step(optim::RMSpropOptions(0.01).weight_decay(0.1), "eps", 1e-8);
  // eps 0.1: with the default 1e-6, sqrt(acc_delta + eps) is too curved for central
  // differences of step 1e-6 (acc_delta is about 1e-7 after two steps).
  check_step(optim::AdadeltaOptions(1.0).eps(0.1), "lr", 1.0);
  check_step(optim::AdadeltaOptions(1.0).eps(0.1).weight_decay(0.1), "rho", 0.9);
  check_step(optim::AdadeltaOptions(1.0).eps(0.1), "eps", 0.1);
}

BOOST_AUTO_TEST_CASE(asgd_and_rprop) {
  check_step(optim::ASGDOptions(0.1).t0(0).lambd(0.1), "lr", 0.1);
  check_step(optim::ASGDOptions(0.1).t0(0), "weight_decay", 0.1);
  check_step(optim::RpropOptions(0.1), "etaplus", 1.2);
  check_step(optim::RpropOptions(0.1).maximize(true), "etaminus", 0.5);
}

BOOST_AUTO_TEST_SUITE_END()
