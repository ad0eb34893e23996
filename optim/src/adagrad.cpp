#include "xgrad/optim/adagrad.hpp"

#include <cmath>

#include "update.hpp"
#include "xgrad/autograd/node.hpp"

namespace xgrad::optim {

void AdagradOptions::visit(OptionsVisitor& v) {
  v("lr", lr_);
  v("lr_decay", lr_decay_);
  v("weight_decay", weight_decay_);
  v("initial_accumulator_value", initial_accumulator_value_);
  v("eps", eps_);
  v("maximize", maximize_);
}

void AdagradOptions::validate() const {
  detail::check_ge0("Adagrad", "lr", lr_);
  detail::check_ge0("Adagrad", "lr_decay", lr_decay_);
  detail::check_ge0("Adagrad", "weight_decay", weight_decay_);
  detail::check_ge0("Adagrad", "initial_accumulator_value", initial_accumulator_value_);
  detail::check_ge0("Adagrad", "eps", eps_);
}

Adagrad::Adagrad(const std::vector<ParamGroup>& groups, const AdagradOptions& defaults)
    : Optimizer(groups, std::make_unique<AdagradOptions>(defaults)) {}

namespace {
// PyTorch's _single_tensor_adagrad: state_sum.addcmul_(g, g, value=1); std = sqrt(sum) + eps;
// param.addcdiv_(g, std, value=-clr).
template <class T>
void adagrad_update(const Tensor& param, const Tensor& grad, AdagradParamState& st, const AdagradOptions& o) {
  T* p = param.data_ptr<T>();
  const T* g = grad.data_ptr<T>();
  T* sum = st.sum.data_ptr<T>();
  const double clr = o.lr() / (1.0 + static_cast<double>(st.step - 1) * o.lr_decay());
  const T neg_clr = static_cast<T>(-clr), wd = static_cast<T>(o.weight_decay()), eps = static_cast<T>(o.eps());
  const bool has_wd = o.weight_decay() != 0.0, maximize = o.maximize();
  detail::for_range(param.numel(), [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) {
      T gi = maximize ? -g[i] : g[i];
      if (has_wd) gi = gi + wd * p[i];
      const T si = sum[i] + T(1) * gi * gi;
      sum[i] = si;
      p[i] = p[i] + neg_clr * gi / (std::sqrt(si) + eps);
    }
  });
}
}  // namespace

Tensor Adagrad::step(const LossClosure& closure) {
  Tensor loss = evaluate_closure(closure);
  NoGradGuard ng;
  for (auto& group : param_groups_) {
    const auto& o = static_cast<const AdagradOptions&>(group.options());
    for (auto& p : group.params()) {
      const Tensor g = p.grad();
      if (!g.defined()) continue;
      detail::check_grad(p, g, "Adagrad");
      auto& st = lazy_state<AdagradParamState>(p, [&] {
        AdagradParamState s;
        s.sum = full(p.shape(), o.initial_accumulator_value(), dtype(p.dtype()));
        return s;
      });
      st.step += 1;
      detail::dispatch_floating(p.dtype(), "Adagrad", [&](auto tag) { adagrad_update<decltype(tag)>(p, g, st, o); });
      detail::bump_version(p);
    }
  }
  return loss;
}

}  // namespace xgrad::optim
