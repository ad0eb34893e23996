#include "xgrad/optim/radam.hpp"

#include <cmath>

#include "update.hpp"
#include "xgrad/autograd/node.hpp"

namespace xgrad::optim {

void RAdamOptions::visit(OptionsVisitor& v) {
  v("lr", lr_);
  v("beta1", betas_.first);
  v("beta2", betas_.second);
  v("eps", eps_);
  v("weight_decay", weight_decay_);
  v("decoupled_weight_decay", decoupled_weight_decay_);
  v("maximize", maximize_);
}

void RAdamOptions::validate() const {
  detail::check_ge0("RAdam", "lr", lr_);
  detail::check_ge0("RAdam", "eps", eps_);
  detail::check_beta("RAdam", "beta1", betas_.first);
  detail::check_beta("RAdam", "beta2", betas_.second);
  detail::check_ge0("RAdam", "weight_decay", weight_decay_);
}

RAdam::RAdam(const std::vector<ParamGroup>& groups, const RAdamOptions& defaults)
    : Optimizer(groups, std::make_unique<RAdamOptions>(defaults)) {}

namespace {
// The order of PyTorch's _single_tensor_radam: ((mhat * lr) * l_t) * r_t.
template <class T>
void radam_update(const Tensor& param, const Tensor& grad, RAdamParamState& st, const RAdamOptions& o) {
  T* p = param.data_ptr<T>();
  const T* g = grad.data_ptr<T>();
  T* m = st.exp_avg.data_ptr<T>();
  T* v = st.exp_avg_sq.data_ptr<T>();
  const double step = static_cast<double>(st.step), beta1 = o.betas().first, beta2 = o.betas().second;
  const double bias_correction1 = 1.0 - std::pow(beta1, step);
  const double bias_correction2 = 1.0 - std::pow(beta2, step);
  const double rho_inf = 2.0 / (1.0 - beta2) - 1.0;
  const double rho_t = rho_inf - 2.0 * step * std::pow(beta2, step) / bias_correction2;
  const bool rectify = rho_t > 5.0;
  const double rect =
      rectify ? std::sqrt((rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t)) : 0.0;
  const T bc1 = static_cast<T>(bias_correction1), lr = static_cast<T>(o.lr());
  const T bc2_sqrt = static_cast<T>(std::sqrt(bias_correction2)), r = static_cast<T>(rect);
  const T eps = static_cast<T>(o.eps()), w1 = static_cast<T>(1.0 - beta1);
  const T b2 = static_cast<T>(beta2), w2 = static_cast<T>(1.0 - beta2);
  const T wd = static_cast<T>(o.weight_decay()), decay = static_cast<T>(1.0 - o.lr() * o.weight_decay());
  const bool decoupled = o.weight_decay() != 0.0 && o.decoupled_weight_decay();
  const bool coupled = o.weight_decay() != 0.0 && !o.decoupled_weight_decay();
  const bool maximize = o.maximize();
  detail::for_range(param.numel(), [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) {
      T gi = maximize ? -g[i] : g[i];
      T pi = p[i];
      if (decoupled) pi = pi * decay;
      if (coupled) gi = gi + wd * pi;
      const T mi = detail::lerp(m[i], gi, w1);
      const T vi = v[i] * b2 + w2 * gi * gi;
      m[i] = mi;
      v[i] = vi;
      T upd = mi / bc1 * lr;
      if (rectify) upd = upd * (bc2_sqrt / (std::sqrt(vi) + eps)) * r;
      p[i] = pi - upd;
    }
  });
}
}  // namespace

Tensor RAdam::step(const LossClosure& closure) {
  Tensor loss = evaluate_closure(closure);
  NoGradGuard ng;
  for (auto& group : param_groups_) {
    const auto& o = static_cast<const RAdamOptions&>(group.options());
    for (auto& p : group.params()) {
      const Tensor g = p.grad();
      if (!g.defined()) continue;
      detail::check_grad(p, g, "RAdam");
      auto& st = lazy_state<RAdamParamState>(p, [&] {
        RAdamParamState s;
        s.exp_avg = detail::zeros_state(p);
        s.exp_avg_sq = detail::zeros_state(p);
        return s;
      });
      st.step += 1;
      detail::dispatch_floating(p.dtype(), "RAdam", [&](auto tag) { radam_update<decltype(tag)>(p, g, st, o); });
      detail::bump_version(p);
    }
  }
  return loss;
}

}  // namespace xgrad::optim
