#include "xgrad/optim/nadam.hpp"

#include <cmath>

#include "update.hpp"
#include "xgrad/autograd/node.hpp"

namespace xgrad::optim {

void NAdamOptions::visit(OptionsVisitor& v) {
  v("lr", lr_);
  v("beta1", betas_.first);
  v("beta2", betas_.second);
  v("eps", eps_);
  v("weight_decay", weight_decay_);
  v("momentum_decay", momentum_decay_);
  v("decoupled_weight_decay", decoupled_weight_decay_);
  v("maximize", maximize_);
}

void NAdamOptions::validate() const {
  detail::check_ge0("NAdam", "lr", lr_);
  detail::check_ge0("NAdam", "eps", eps_);
  detail::check_beta("NAdam", "beta1", betas_.first);
  detail::check_beta("NAdam", "beta2", betas_.second);
  detail::check_ge0("NAdam", "weight_decay", weight_decay_);
  detail::check_ge0("NAdam", "momentum_decay", momentum_decay_);
}

NAdam::NAdam(const std::vector<ParamGroup>& groups, const NAdamOptions& defaults)
    : Optimizer(groups, std::make_unique<NAdamOptions>(defaults)) {}

namespace {
// The order of PyTorch's _single_tensor_nadam; mu and the products are scalars in double.
template <class T>
void nadam_update(const Tensor& param, const Tensor& grad, NAdamParamState& st, const NAdamOptions& o) {
  T* p = param.data_ptr<T>();
  const T* g = grad.data_ptr<T>();
  T* m = st.exp_avg.data_ptr<T>();
  T* v = st.exp_avg_sq.data_ptr<T>();
  const double step = static_cast<double>(st.step), beta1 = o.betas().first, beta2 = o.betas().second;
  const double lr = o.lr();
  const double bias_correction2 = 1.0 - std::pow(beta2, step);
  const double mu = beta1 * (1.0 - 0.5 * std::pow(0.96, step * o.momentum_decay()));
  const double mu_next = beta1 * (1.0 - 0.5 * std::pow(0.96, (step + 1.0) * o.momentum_decay()));
  st.mu_product *= mu;
  const double mu_product_next = st.mu_product * mu_next;
  const T c_grad = static_cast<T>(-lr * (1.0 - mu) / (1.0 - st.mu_product));
  const T c_avg = static_cast<T>((-lr * mu_next) / (1.0 - mu_product_next));
  const T bc2 = static_cast<T>(bias_correction2), eps = static_cast<T>(o.eps());
  const T w1 = static_cast<T>(1.0 - beta1), b2 = static_cast<T>(beta2), w2 = static_cast<T>(1.0 - beta2);
  const T wd = static_cast<T>(o.weight_decay()), decay = static_cast<T>(1.0 - lr * o.weight_decay());
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
      const T denom = std::sqrt(vi / bc2) + eps;
      pi = pi + c_grad * gi / denom;
      p[i] = pi + c_avg * mi / denom;
    }
  });
}
}  // namespace

Tensor NAdam::step(const LossClosure& closure) {
  Tensor loss = evaluate_closure(closure);
  NoGradGuard ng;
  for (auto& group : param_groups_) {
    const auto& o = static_cast<const NAdamOptions&>(group.options());
    for (auto& p : group.params()) {
      const Tensor g = p.grad();
      if (!g.defined()) continue;
      detail::check_grad(p, g, "NAdam");
      auto& st = lazy_state<NAdamParamState>(p, [&] {
        NAdamParamState s;
        s.exp_avg = detail::zeros_state(p);
        s.exp_avg_sq = detail::zeros_state(p);
        return s;
      });
      st.step += 1;
      detail::dispatch_floating(p.dtype(), "NAdam", [&](auto tag) { nadam_update<decltype(tag)>(p, g, st, o); });
      detail::bump_version(p);
    }
  }
  return loss;
}

}  // namespace xgrad::optim
