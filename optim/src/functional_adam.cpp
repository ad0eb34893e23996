// functional::adam, adamw, adamax, nadam, radam: the formulas of optim/src/adam.cpp,
// adamax.cpp, nadam.cpp and radam.cpp with differentiable ops, in the same order.
#include <cmath>

#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/factories.hpp"
#include "xgrad/optim/functional.hpp"

namespace xgrad::optim::functional {

using detail::add_s;
using detail::div_s;
using detail::lerp_s;
using detail::mul_s;
using detail::rdiv_s;
using detail::Scalar;

namespace {

Tensor zeros_of(const Tensor& p) { return zeros_like(p.detach()); }

/// The Adam family's gradient and moments (detail::AdamMoments of optim/src/update.hpp):
/// g <- -g if maximize; theta <- theta * (1 - lr * wd) with decoupled weight decay, else
/// g <- g + wd * theta; m <- lerp(m, g, 1 - beta1); v <- v * beta2 + (1 - beta2) * g * g.
struct Moments {
  Tensor theta, g, m, v;
};

Moments adam_moments(const Tensor& p, const Tensor& grad, const ParamState& st, const Scalar& lr, const Scalar& beta1,
                     const Scalar& beta2, const Scalar& wd, bool decoupled, bool maximize) {
  Moments r{p, maximize ? neg(grad) : grad, Tensor(), Tensor()};
  if (wd.active() && decoupled) r.theta = mul_s(p, Scalar(1.0) - lr * wd);
  if (wd.active() && !decoupled) r.g = add(r.g, mul_s(r.theta, wd));
  r.m = lerp_s(detail::state_or(st, "exp_avg", p, 0.0), r.g, Scalar(1.0) - beta1);
  r.v = add(mul_s(detail::state_or(st, "exp_avg_sq", p, 0.0), beta2), mul(mul_s(r.g, Scalar(1.0) - beta2), r.g));
  return r;
}

template <class Options>
State adam_init(const char* op, const std::vector<Tensor>& params, const Options& o) {
  o.validate();
  const bool amsgrad = o.amsgrad();
  return detail::init_each(op, params, [amsgrad](const Tensor& p) {
    ParamState s{{"step", detail::step_tensor(0)}, {"exp_avg", zeros_of(p)}, {"exp_avg_sq", zeros_of(p)}};
    if (amsgrad) s["max_exp_avg_sq"] = zeros_of(p);
    return s;
  });
}

template <class Options>
StepResult adam_step(const char* op, const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                     const State& state, const Options& o, const Hyper& hyper) {
  o.validate();
  const detail::Hypers h(op, hyper, detail::hyper_names(o));
  const Scalar lr = h.get("lr", o.lr()), beta1 = h.get("beta1", o.betas().first);
  const Scalar beta2 = h.get("beta2", o.betas().second), eps = h.get("eps", o.eps());
  const Scalar wd = h.get("weight_decay", o.weight_decay());
  const bool amsgrad = o.amsgrad(), maximize = o.maximize(), decoupled = o.decoupled_weight_decay();
  return detail::run_step(
      op, params, grads, state, [&] { return adam_init(op, params, o); },
      [&](const Tensor& p, const Tensor& g, const ParamState& st, ParamState& next) {
        const double t = detail::step_count(st) + 1.0;
        const Moments mm = adam_moments(p, g, st, lr, beta1, beta2, wd, decoupled, maximize);
        const Scalar neg_step_size = -(lr / (Scalar(1.0) - pow(beta1, t)));
        const Scalar bc2_sqrt = sqrt(Scalar(1.0) - pow(beta2, t));
        Tensor second = mm.v;
        if (amsgrad) {
          second = maximum(detail::state_or(st, "max_exp_avg_sq", p, 0.0), mm.v);
          next["max_exp_avg_sq"] = second;
        }
        const Tensor denom = add_s(div_s(sqrt(second), bc2_sqrt), eps);
        next["step"] = detail::step_tensor(t);
        next["exp_avg"] = mm.m;
        next["exp_avg_sq"] = mm.v;
        return add(mm.theta, div(mul_s(mm.m, neg_step_size), denom));
      });
}

}  // namespace

namespace detail {
const std::vector<std::string>& hyper_names(const AdamOptions&) {
  static const std::vector<std::string> names{"lr", "beta1", "beta2", "eps", "weight_decay"};
  return names;
}
const std::vector<std::string>& hyper_names(const AdamWOptions&) { return hyper_names(AdamOptions()); }
const std::vector<std::string>& hyper_names(const AdamaxOptions&) { return hyper_names(AdamOptions()); }
const std::vector<std::string>& hyper_names(const NAdamOptions&) { return hyper_names(AdamOptions()); }
const std::vector<std::string>& hyper_names(const RAdamOptions&) {
  static const std::vector<std::string> names{"lr", "beta1", "eps", "weight_decay"};
  return names;
}
}  // namespace detail

State init(const std::vector<Tensor>& params, const AdamOptions& options) { return adam_init("Adam", params, options); }
State init(const std::vector<Tensor>& params, const AdamWOptions& options) {
  return adam_init("AdamW", params, options);
}
StepResult adam(const std::vector<Tensor>& params, const std::vector<Tensor>& grads, const State& state,
                const AdamOptions& options, const Hyper& hyper) {
  return adam_step("Adam", params, grads, state, options, hyper);
}
StepResult adamw(const std::vector<Tensor>& params, const std::vector<Tensor>& grads, const State& state,
                 const AdamWOptions& options, const Hyper& hyper) {
  return adam_step("AdamW", params, grads, state, options, hyper);
}

// ---- Adamax --------------------------------------------------------------------------------

State init(const std::vector<Tensor>& params, const AdamaxOptions& options) {
  options.validate();
  return detail::init_each("Adamax", params, [](const Tensor& p) {
    return ParamState{{"step", detail::step_tensor(0)}, {"exp_avg", zeros_of(p)}, {"exp_inf", zeros_of(p)}};
  });
}

StepResult adamax(const std::vector<Tensor>& params, const std::vector<Tensor>& grads, const State& state,
                  const AdamaxOptions& o, const Hyper& hyper) {
  o.validate();
  const detail::Hypers h("Adamax", hyper, detail::hyper_names(o));
  const Scalar lr = h.get("lr", o.lr()), beta1 = h.get("beta1", o.betas().first);
  const Scalar beta2 = h.get("beta2", o.betas().second), eps = h.get("eps", o.eps());
  const Scalar wd = h.get("weight_decay", o.weight_decay());
  const bool maximize = o.maximize();
  return detail::run_step(
      "Adamax", params, grads, state, [&] { return init(params, o); },
      [&](const Tensor& p, const Tensor& grad, const ParamState& st, ParamState& next) {
        const double t = detail::step_count(st) + 1.0;
        Tensor g = maximize ? neg(grad) : grad;
        if (wd.active()) g = add(g, mul_s(p, wd));
        const Tensor m = lerp_s(detail::state_or(st, "exp_avg", p, 0.0), g, Scalar(1.0) - beta1);
        const Tensor u = maximum(mul_s(detail::state_or(st, "exp_inf", p, 0.0), beta2), add_s(abs(g), eps));
        const Scalar neg_clr = -(lr / (Scalar(1.0) - pow(beta1, t)));
        next["step"] = detail::step_tensor(t);
        next["exp_avg"] = m;
        next["exp_inf"] = u;
        return add(p, div(mul_s(m, neg_clr), u));
      });
}

// ---- NAdam ---------------------------------------------------------------------------------

State init(const std::vector<Tensor>& params, const NAdamOptions& options) {
  options.validate();
  return detail::init_each("NAdam", params, [](const Tensor& p) {
    return ParamState{{"step", detail::step_tensor(0)},
                      {"mu_product", detail::step_tensor(1.0)},
                      {"exp_avg", zeros_of(p)},
                      {"exp_avg_sq", zeros_of(p)}};
  });
}

StepResult nadam(const std::vector<Tensor>& params, const std::vector<Tensor>& grads, const State& state,
                 const NAdamOptions& o, const Hyper& hyper) {
  o.validate();
  const detail::Hypers h("NAdam", hyper, detail::hyper_names(o));
  const Scalar lr = h.get("lr", o.lr()), beta1 = h.get("beta1", o.betas().first);
  const Scalar beta2 = h.get("beta2", o.betas().second), eps = h.get("eps", o.eps());
  const Scalar wd = h.get("weight_decay", o.weight_decay());
  const double psi = o.momentum_decay();
  return detail::run_step(
      "NAdam", params, grads, state, [&] { return init(params, o); },
      [&](const Tensor& p, const Tensor& g, const ParamState& st, ParamState& next) {
        const double t = detail::step_count(st) + 1.0;
        const Moments mm = adam_moments(p, g, st, lr, beta1, beta2, wd, o.decoupled_weight_decay(), o.maximize());
        const Scalar bc2 = Scalar(1.0) - pow(beta2, t);
        const Scalar mu = beta1 * (1.0 - 0.5 * std::pow(0.96, t * psi));
        const Scalar mu_next = beta1 * (1.0 - 0.5 * std::pow(0.96, (t + 1.0) * psi));
        const Scalar mu_product = detail::scalar_state(st, "mu_product", 1.0) * mu;
        const Scalar c_grad = -lr * (Scalar(1.0) - mu) / (Scalar(1.0) - mu_product);
        const Scalar c_avg = (-lr * mu_next) / (Scalar(1.0) - mu_product * mu_next);
        const Tensor denom = add_s(sqrt(div_s(mm.v, bc2)), eps);
        next["step"] = detail::step_tensor(t);
        next["mu_product"] = mu_product.as_tensor();
        next["exp_avg"] = mm.m;
        next["exp_avg_sq"] = mm.v;
        return add(add(mm.theta, div(mul_s(mm.g, c_grad), denom)), div(mul_s(mm.m, c_avg), denom));
      });
}

// ---- RAdam ---------------------------------------------------------------------------------

State init(const std::vector<Tensor>& params, const RAdamOptions& options) {
  options.validate();
  return detail::init_each("RAdam", params, [](const Tensor& p) {
    return ParamState{{"step", detail::step_tensor(0)}, {"exp_avg", zeros_of(p)}, {"exp_avg_sq", zeros_of(p)}};
  });
}

StepResult radam(const std::vector<Tensor>& params, const std::vector<Tensor>& grads, const State& state,
                 const RAdamOptions& o, const Hyper& hyper) {
  o.validate();
  const detail::Hypers h("RAdam", hyper, detail::hyper_names(o));
  const Scalar lr = h.get("lr", o.lr()), beta1 = h.get("beta1", o.betas().first), eps = h.get("eps", o.eps());
  const Scalar wd = h.get("weight_decay", o.weight_decay());
  const double beta2 = o.betas().second;
  return detail::run_step(
      "RAdam", params, grads, state, [&] { return init(params, o); },
      [&](const Tensor& p, const Tensor& g, const ParamState& st, ParamState& next) {
        const double t = detail::step_count(st) + 1.0;
        const Moments mm = adam_moments(p, g, st, lr, beta1, beta2, wd, o.decoupled_weight_decay(), o.maximize());
        const Scalar bc1 = Scalar(1.0) - pow(beta1, t);
        const double bc2 = 1.0 - std::pow(beta2, t);
        const double rho_inf = 2.0 / (1.0 - beta2) - 1.0;
        const double rho_t = rho_inf - 2.0 * t * std::pow(beta2, t) / bc2;
        Tensor upd = mul_s(div_s(mm.m, bc1), lr);
        if (rho_t > 5.0) {
          const double r =
              std::sqrt((rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t));
          upd = mul_s(mul(upd, rdiv_s(std::sqrt(bc2), add_s(sqrt(mm.v), eps))), r);
        }
        next["step"] = detail::step_tensor(t);
        next["exp_avg"] = mm.m;
        next["exp_avg_sq"] = mm.v;
        return sub(mm.theta, upd);
      });
}

}  // namespace xgrad::optim::functional
