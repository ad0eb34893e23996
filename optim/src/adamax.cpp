#include "xgrad/optim/adamax.hpp"

#include <algorithm>
#include <cmath>

#include "update.hpp"
#include "xgrad/autograd/node.hpp"

namespace xgrad::optim {

void AdamaxOptions::visit(OptionsVisitor& v) {
  v("lr", lr_);
  v("beta1", betas_.first);
  v("beta2", betas_.second);
  v("eps", eps_);
  v("weight_decay", weight_decay_);
  v("maximize", maximize_);
}

void AdamaxOptions::validate() const {
  detail::check_ge0("Adamax", "lr", lr_);
  detail::check_ge0("Adamax", "eps", eps_);
  detail::check_beta("Adamax", "beta1", betas_.first);
  detail::check_beta("Adamax", "beta2", betas_.second);
  detail::check_ge0("Adamax", "weight_decay", weight_decay_);
}

Adamax::Adamax(const std::vector<ParamGroup>& groups, const AdamaxOptions& defaults)
    : Optimizer(groups, std::make_unique<AdamaxOptions>(defaults)) {}

namespace {
// The order of PyTorch's _single_tensor_adamax.
template <class T>
void adamax_update(const Tensor& param, const Tensor& grad, AdamaxParamState& st, const AdamaxOptions& o) {
  T* p = param.data_ptr<T>();
  const T* g = grad.data_ptr<T>();
  T* m = st.exp_avg.data_ptr<T>();
  T* u = st.exp_inf.data_ptr<T>();
  const double clr = o.lr() / (1.0 - std::pow(o.betas().first, static_cast<double>(st.step)));
  const T neg_clr = static_cast<T>(-clr), w1 = static_cast<T>(1.0 - o.betas().first);
  const T b2 = static_cast<T>(o.betas().second), wd = static_cast<T>(o.weight_decay()), eps = static_cast<T>(o.eps());
  const bool has_wd = o.weight_decay() != 0.0, maximize = o.maximize();
  detail::for_range(param.numel(), [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) {
      T gi = maximize ? -g[i] : g[i];
      if (has_wd) gi = gi + wd * p[i];
      const T mi = detail::lerp(m[i], gi, w1);
      m[i] = mi;
      const T ui = std::max(u[i] * b2, std::abs(gi) + eps);
      u[i] = ui;
      p[i] = p[i] + neg_clr * mi / ui;
    }
  });
}
}  // namespace

Tensor Adamax::step(const LossClosure& closure) {
  Tensor loss = evaluate_closure(closure);
  NoGradGuard ng;
  for (auto& group : param_groups_) {
    const auto& o = static_cast<const AdamaxOptions&>(group.options());
    for (auto& p : group.params()) {
      const Tensor g = p.grad();
      if (!g.defined()) continue;
      detail::check_grad(p, g, "Adamax");
      auto& st = lazy_state<AdamaxParamState>(p, [&] {
        AdamaxParamState s;
        s.exp_avg = detail::zeros_state(p);
        s.exp_inf = detail::zeros_state(p);
        return s;
      });
      st.step += 1;
      detail::dispatch_floating(p.dtype(), "Adamax", [&](auto tag) { adamax_update<decltype(tag)>(p, g, st, o); });
      detail::bump_version(p);
    }
  }
  return loss;
}

}  // namespace xgrad::optim
