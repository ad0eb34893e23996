#include "xgrad/optim/rmsprop.hpp"

#include <cmath>

#include "update.hpp"
#include "xgrad/autograd/node.hpp"

namespace xgrad::optim {

void RMSpropOptions::visit(OptionsVisitor& v) {
  v("lr", lr_);
  v("alpha", alpha_);
  v("eps", eps_);
  v("weight_decay", weight_decay_);
  v("momentum", momentum_);
  v("centered", centered_);
  v("maximize", maximize_);
}

void RMSpropOptions::validate() const {
  detail::check_ge0("RMSprop", "lr", lr_);
  detail::check_ge0("RMSprop", "alpha", alpha_);
  detail::check_ge0("RMSprop", "eps", eps_);
  detail::check_ge0("RMSprop", "weight_decay", weight_decay_);
  detail::check_ge0("RMSprop", "momentum", momentum_);
}

RMSprop::RMSprop(const std::vector<ParamGroup>& groups, const RMSpropOptions& defaults)
    : Optimizer(groups, std::make_unique<RMSpropOptions>(defaults)) {}

namespace {
// The order of PyTorch's _single_tensor_rmsprop.
template <class T>
void rmsprop_update(const Tensor& param, const Tensor& grad, RMSpropParamState& st, const RMSpropOptions& o) {
  T* p = param.data_ptr<T>();
  const T* g = grad.data_ptr<T>();
  T* sq = st.square_avg.data_ptr<T>();
  const bool centered = o.centered(), has_mom = o.momentum() > 0.0;
  T* ga = centered ? st.grad_avg.data_ptr<T>() : nullptr;
  T* buf = has_mom ? st.momentum_buffer.data_ptr<T>() : nullptr;
  const T alpha = static_cast<T>(o.alpha()), w = static_cast<T>(1.0 - o.alpha());
  const T neg_lr = static_cast<T>(-o.lr()), wd = static_cast<T>(o.weight_decay()), eps = static_cast<T>(o.eps());
  const T mu = static_cast<T>(o.momentum());
  const bool has_wd = o.weight_decay() != 0.0, maximize = o.maximize();
  detail::for_range(param.numel(), [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) {
      T gi = maximize ? -g[i] : g[i];
      if (has_wd) gi = gi + wd * p[i];
      const T si = sq[i] * alpha + w * gi * gi;
      sq[i] = si;
      T avg;
      if (centered) {
        const T ai = detail::lerp(ga[i], gi, w);
        ga[i] = ai;
        avg = std::sqrt(si + T(-1) * ai * ai);
      } else {
        avg = std::sqrt(si);
      }
      avg = avg + eps;
      if (has_mom) {
        const T bi = buf[i] * mu + T(1) * gi / avg;
        buf[i] = bi;
        p[i] = p[i] + neg_lr * bi;
      } else {
        p[i] = p[i] + neg_lr * gi / avg;
      }
    }
  });
}
}  // namespace

Tensor RMSprop::step(const LossClosure& closure) {
  Tensor loss = evaluate_closure(closure);
  NoGradGuard ng;
  for (auto& group : param_groups_) {
    const auto& o = static_cast<const RMSpropOptions&>(group.options());
    for (auto& p : group.params()) {
      const Tensor g = p.grad();
      if (!g.defined()) continue;
      detail::check_grad(p, g, "RMSprop");
      auto& st = lazy_state<RMSpropParamState>(p, [&] {
        RMSpropParamState s;
        s.square_avg = detail::zeros_state(p);
        return s;
      });
      if (o.momentum() > 0.0 && !st.momentum_buffer.defined()) st.momentum_buffer = detail::zeros_state(p);
      if (o.centered() && !st.grad_avg.defined()) st.grad_avg = detail::zeros_state(p);
      st.step += 1;
      detail::dispatch_floating(p.dtype(), "RMSprop", [&](auto tag) { rmsprop_update<decltype(tag)>(p, g, st, o); });
      detail::bump_version(p);
    }
  }
  return loss;
}

}  // namespace xgrad::optim
