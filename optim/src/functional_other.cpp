// functional::asgd, rprop: the formulas of optim/src/asgd.cpp and rprop.cpp with
// differentiable ops, in the same order.
#include <algorithm>
#include <cmath>

#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/factories.hpp"
#include "xgrad/optim/functional.hpp"

namespace xgrad::optim::functional {

using detail::mul_s;
using detail::Scalar;

namespace detail {
const std::vector<std::string>& hyper_names(const ASGDOptions&) {
  static const std::vector<std::string> names{"lr", "weight_decay"};
  return names;
}
const std::vector<std::string>& hyper_names(const RpropOptions&) {
  static const std::vector<std::string> names{"etaminus", "etaplus"};
  return names;
}
}  // namespace detail

// ---- ASGD ----------------------------------------------------------------------------------

State init(const std::vector<Tensor>& params, const ASGDOptions& options) {
  options.validate();
  const double lr = options.lr();
  return detail::init_each("ASGD", params, [lr](const Tensor& p) {
    return ParamState{{"step", detail::step_tensor(0)},
                      {"eta", detail::step_tensor(lr)},
                      {"mu", detail::step_tensor(1.0)},
                      {"ax", zeros_like(p.detach())}};
  });
}

StepResult asgd(const std::vector<Tensor>& params, const std::vector<Tensor>& grads, const State& state,
                const ASGDOptions& o, const Hyper& hyper) {
  o.validate();
  const detail::Hypers h("ASGD", hyper, detail::hyper_names(o));
  const Scalar lr = h.get("lr", o.lr()), wd = h.get("weight_decay", o.weight_decay());
  const double lambd = o.lambd(), alpha = o.alpha();
  // eta_t = lr / (1 + lambd * lr * t)^alpha (eta_0 = lr).
  const auto eta_at = [&](double t) { return t == 0.0 ? lr : lr / pow(Scalar(1.0) + Scalar(lambd) * lr * t, alpha); };
  return detail::run_step(
      "ASGD", params, grads, state, [&] { return init(params, o); },
      [&](const Tensor& p, const Tensor& grad, const ParamState& st, ParamState& next) {
        const double t = detail::step_count(st) + 1.0;
        // eta_{t-1}: from the state, or recomputed from lr when lr is a tensor (so the step is
        // differentiable w.r.t. it).
        const Scalar eta = lr.is_tensor() ? eta_at(t - 1.0) : detail::scalar_state(st, "eta", o.lr());
        const double mu = detail::scalar_state(st, "mu", 1.0).value();
        Tensor g = o.maximize() ? neg(grad) : grad;
        if (wd.active()) g = add(g, mul_s(p, wd));
        const Tensor pn = add(mul_s(p, Scalar(1.0) - Scalar(lambd) * eta), mul_s(g, -eta));
        Tensor ax = pn;
        if (mu != 1.0) {
          const Tensor prev = detail::state_or(st, "ax", p, 0.0);
          ax = add(prev, mul(sub(pn, prev), mu));
        }
        next["step"] = detail::step_tensor(t);
        next["eta"] = eta_at(t).as_tensor();
        next["mu"] = detail::step_tensor(1.0 / std::max(1.0, t - o.t0()));
        next["ax"] = ax;
        return pn;
      });
}

// ---- Rprop ---------------------------------------------------------------------------------

namespace {

/// where(cond, s, b) with the scalar s in b's dtype.
Tensor where_s(const Tensor& cond, const Scalar& s, const Tensor& b) {
  return s.is_tensor() ? where(cond, s.tensor().to(b.dtype()), b) : where(cond, s.value(), b);
}

}  // namespace

State init(const std::vector<Tensor>& params, const RpropOptions& options) {
  options.validate();
  const double lr = options.lr();
  return detail::init_each("Rprop", params, [lr](const Tensor& p) {
    return ParamState{{"step", detail::step_tensor(0)},
                      {"prev", zeros_like(p.detach())},
                      {"step_size", full(p.shape(), lr, dtype(p.dtype()))}};
  });
}

StepResult rprop(const std::vector<Tensor>& params, const std::vector<Tensor>& grads, const State& state,
                 const RpropOptions& o, const Hyper& hyper) {
  o.validate();
  const detail::Hypers h("Rprop", hyper, detail::hyper_names(o));
  const Scalar eta_minus = h.get("etaminus", o.etas().first), eta_plus = h.get("etaplus", o.etas().second);
  const double lo = o.step_sizes().first, hi = o.step_sizes().second;
  return detail::run_step(
      "Rprop", params, grads, state, [&] { return init(params, o); },
      [&](const Tensor& p, const Tensor& grad, const ParamState& st, ParamState& next) {
        Tensor g = o.maximize() ? neg(grad) : grad;
        const Tensor prod = mul(g, detail::state_or(st, "prev", p, 0.0));
        const Tensor flipped = lt(prod, 0.0);
        const Tensor factor = where_s(gt(prod, 0.0), eta_plus, where_s(flipped, eta_minus, ones_like(p.detach())));
        const Tensor size = clamp(mul(detail::state_or(st, "step_size", p, o.lr()), factor), lo, hi);
        g = where(flipped, 0.0, g);  // no step after a sign flip
        next["step"] = detail::step_tensor(detail::step_count(st) + 1.0);
        next["prev"] = g;
        next["step_size"] = size;
        return sub(p, mul(sign(g), size));
      });
}

}  // namespace xgrad::optim::functional
