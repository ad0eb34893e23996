#include "xgrad/optim/adadelta.hpp"

#include <cmath>

#include "update.hpp"
#include "xgrad/autograd/node.hpp"

namespace xgrad::optim {

void AdadeltaOptions::visit(OptionsVisitor& v) {
  v("lr", lr_);
  v("rho", rho_);
  v("eps", eps_);
  v("weight_decay", weight_decay_);
  v("maximize", maximize_);
}

void AdadeltaOptions::validate() const {
  detail::check_ge0("Adadelta", "lr", lr_);
  detail::check_unit_closed("Adadelta", "rho", rho_);
  detail::check_ge0("Adadelta", "eps", eps_);
  detail::check_ge0("Adadelta", "weight_decay", weight_decay_);
}

Adadelta::Adadelta(const std::vector<ParamGroup>& groups, const AdadeltaOptions& defaults)
    : Optimizer(groups, std::make_unique<AdadeltaOptions>(defaults)) {}

namespace {
// The order of PyTorch's _single_tensor_adadelta.
template <class T>
void adadelta_update(const Tensor& param, const Tensor& grad, AdadeltaParamState& st, const AdadeltaOptions& o) {
  T* p = param.data_ptr<T>();
  const T* g = grad.data_ptr<T>();
  T* sq = st.square_avg.data_ptr<T>();
  T* acc = st.acc_delta.data_ptr<T>();
  const T rho = static_cast<T>(o.rho()), w = static_cast<T>(1.0 - o.rho());
  const T neg_lr = static_cast<T>(-o.lr()), wd = static_cast<T>(o.weight_decay()), eps = static_cast<T>(o.eps());
  const bool has_wd = o.weight_decay() != 0.0, maximize = o.maximize();
  detail::for_range(param.numel(), [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) {
      T gi = maximize ? -g[i] : g[i];
      if (has_wd) gi = gi + wd * p[i];
      const T si = sq[i] * rho + w * gi * gi;
      sq[i] = si;
      const T std_i = std::sqrt(si + eps);
      const T delta = std::sqrt(acc[i] + eps) / std_i * gi;
      acc[i] = acc[i] * rho + w * delta * delta;
      p[i] = p[i] + neg_lr * delta;
    }
  });
}
}  // namespace

Tensor Adadelta::step(const LossClosure& closure) {
  Tensor loss = evaluate_closure(closure);
  NoGradGuard ng;
  for (auto& group : param_groups_) {
    const auto& o = static_cast<const AdadeltaOptions&>(group.options());
    for (auto& p : group.params()) {
      const Tensor g = p.grad();
      if (!g.defined()) continue;
      detail::check_grad(p, g, "Adadelta");
      auto& st = lazy_state<AdadeltaParamState>(p, [&] {
        AdadeltaParamState s;
        s.square_avg = detail::zeros_state(p);
        s.acc_delta = detail::zeros_state(p);
        return s;
      });
      st.step += 1;
      detail::dispatch_floating(p.dtype(), "Adadelta", [&](auto tag) { adadelta_update<decltype(tag)>(p, g, st, o); });
      detail::bump_version(p);
    }
  }
  return loss;
}

}  // namespace xgrad::optim
