// functional::adagrad, rmsprop, adadelta: the formulas of optim/src/adagrad.cpp, rmsprop.cpp
// and adadelta.cpp with differentiable ops, in the same order.
#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/factories.hpp"
#include "xgrad/optim/functional.hpp"

namespace xgrad::optim::functional {

using detail::add_s;
using detail::lerp_s;
using detail::mul_s;
using detail::Scalar;

namespace {

Tensor zeros_of(const Tensor& p) { return zeros_like(p.detach()); }

/// g <- -g if maximize; g <- g + wd * theta if wd is active (detail::DecayedGrad).
Tensor decayed_grad(const Tensor& g, const Tensor& p, const Scalar& wd, bool maximize) {
  Tensor d = maximize ? neg(g) : g;
  return wd.active() ? add(d, mul_s(p, wd)) : d;
}

/// v * beta + (1 - beta) * g * g (detail::square_avg).
Tensor square_avg(const Tensor& v, const Tensor& g, const Scalar& beta) {
  return add(mul_s(v, beta), mul(mul_s(g, Scalar(1.0) - beta), g));
}

}  // namespace

namespace detail {
const std::vector<std::string>& hyper_names(const AdagradOptions&) {
  static const std::vector<std::string> names{"lr", "lr_decay", "weight_decay", "eps"};
  return names;
}
const std::vector<std::string>& hyper_names(const RMSpropOptions&) {
  static const std::vector<std::string> names{"lr", "alpha", "eps", "weight_decay", "momentum"};
  return names;
}
const std::vector<std::string>& hyper_names(const AdadeltaOptions&) {
  static const std::vector<std::string> names{"lr", "rho", "eps", "weight_decay"};
  return names;
}
}  // namespace detail

// ---- Adagrad -------------------------------------------------------------------------------

State init(const std::vector<Tensor>& params, const AdagradOptions& options) {
  options.validate();
  const double s0 = options.initial_accumulator_value();
  return detail::init_each("Adagrad", params, [s0](const Tensor& p) {
    return ParamState{{"step", detail::step_tensor(0)}, {"sum", full(p.shape(), s0, dtype(p.dtype()))}};
  });
}

StepResult adagrad(const std::vector<Tensor>& params, const std::vector<Tensor>& grads, const State& state,
                   const AdagradOptions& o, const Hyper& hyper) {
  o.validate();
  const detail::Hypers h("Adagrad", hyper, detail::hyper_names(o));
  const Scalar lr = h.get("lr", o.lr()), lr_decay = h.get("lr_decay", o.lr_decay());
  const Scalar wd = h.get("weight_decay", o.weight_decay()), eps = h.get("eps", o.eps());
  return detail::run_step(
      "Adagrad", params, grads, state, [&] { return init(params, o); },
      [&](const Tensor& p, const Tensor& grad, const ParamState& st, ParamState& next) {
        const double t = detail::step_count(st) + 1.0;
        const Tensor g = decayed_grad(grad, p, wd, o.maximize());
        const Scalar neg_clr = -(lr / (Scalar(1.0) + (t - 1.0) * lr_decay));
        const Tensor s = add(detail::state_or(st, "sum", p, o.initial_accumulator_value()), mul(g, g));
        next["step"] = detail::step_tensor(t);
        next["sum"] = s;
        return add(p, div(mul_s(g, neg_clr), add_s(sqrt(s), eps)));
      });
}

// ---- RMSprop -------------------------------------------------------------------------------

State init(const std::vector<Tensor>& params, const RMSpropOptions& options) {
  options.validate();
  const bool mom = options.momentum() > 0.0, centered = options.centered();
  return detail::init_each("RMSprop", params, [mom, centered](const Tensor& p) {
    ParamState s{{"step", detail::step_tensor(0)}, {"square_avg", zeros_of(p)}};
    if (mom) s["momentum_buffer"] = zeros_of(p);
    if (centered) s["grad_avg"] = zeros_of(p);
    return s;
  });
}

StepResult rmsprop(const std::vector<Tensor>& params, const std::vector<Tensor>& grads, const State& state,
                   const RMSpropOptions& o, const Hyper& hyper) {
  o.validate();
  const detail::Hypers h("RMSprop", hyper, detail::hyper_names(o));
  const Scalar lr = h.get("lr", o.lr()), alpha = h.get("alpha", o.alpha()), eps = h.get("eps", o.eps());
  const Scalar wd = h.get("weight_decay", o.weight_decay()), mu = h.get("momentum", o.momentum());
  const bool has_mom = mu.is_tensor() || mu.value() > 0.0;
  return detail::run_step(
      "RMSprop", params, grads, state, [&] { return init(params, o); },
      [&](const Tensor& p, const Tensor& grad, const ParamState& st, ParamState& next) {
        const Tensor g = decayed_grad(grad, p, wd, o.maximize());
        const Tensor v = square_avg(detail::state_or(st, "square_avg", p, 0.0), g, alpha);
        next["step"] = detail::step_tensor(detail::step_count(st) + 1.0);
        next["square_avg"] = v;
        Tensor avg;
        if (o.centered()) {
          const Tensor a = lerp_s(detail::state_or(st, "grad_avg", p, 0.0), g, Scalar(1.0) - alpha);
          next["grad_avg"] = a;
          avg = sqrt(sub(v, mul(a, a)));
        } else {
          avg = sqrt(v);
        }
        avg = add_s(avg, eps);
        if (has_mom) {
          const Tensor b = add(mul_s(detail::state_or(st, "momentum_buffer", p, 0.0), mu), div(g, avg));
          next["momentum_buffer"] = b;
          return add(p, mul_s(b, -lr));
        }
        return add(p, div(mul_s(g, -lr), avg));
      });
}

// ---- Adadelta ------------------------------------------------------------------------------

State init(const std::vector<Tensor>& params, const AdadeltaOptions& options) {
  options.validate();
  return detail::init_each("Adadelta", params, [](const Tensor& p) {
    return ParamState{{"step", detail::step_tensor(0)}, {"square_avg", zeros_of(p)}, {"acc_delta", zeros_of(p)}};
  });
}

StepResult adadelta(const std::vector<Tensor>& params, const std::vector<Tensor>& grads, const State& state,
                    const AdadeltaOptions& o, const Hyper& hyper) {
  o.validate();
  const detail::Hypers h("Adadelta", hyper, detail::hyper_names(o));
  const Scalar lr = h.get("lr", o.lr()), rho = h.get("rho", o.rho()), eps = h.get("eps", o.eps());
  const Scalar wd = h.get("weight_decay", o.weight_decay());
  return detail::run_step(
      "Adadelta", params, grads, state, [&] { return init(params, o); },
      [&](const Tensor& p, const Tensor& grad, const ParamState& st, ParamState& next) {
        const Tensor g = decayed_grad(grad, p, wd, o.maximize());
        const Tensor v = square_avg(detail::state_or(st, "square_avg", p, 0.0), g, rho);
        const Tensor acc = detail::state_or(st, "acc_delta", p, 0.0);
        const Tensor delta = mul(div(sqrt(add_s(acc, eps)), sqrt(add_s(v, eps))), g);
        next["step"] = detail::step_tensor(detail::step_count(st) + 1.0);
        next["square_avg"] = v;
        next["acc_delta"] = square_avg(acc, delta, rho);
        return add(p, mul_s(delta, -lr));
      });
}

}  // namespace xgrad::optim::functional
