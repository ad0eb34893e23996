#include "xgrad/optim/sgd.hpp"

#include "update.hpp"
#include "xgrad/autograd/node.hpp"

namespace xgrad::optim {

void SGDOptions::visit(OptionsVisitor& v) {
  v("lr", lr_);
  v("momentum", momentum_);
  v("dampening", dampening_);
  v("weight_decay", weight_decay_);
  v("nesterov", nesterov_);
  v("maximize", maximize_);
}

void SGDOptions::validate() const {
  detail::check_ge0("SGD", "lr", lr_);
  detail::check_ge0("SGD", "momentum", momentum_);
  detail::check_ge0("SGD", "weight_decay", weight_decay_);
  if (nesterov_ && (momentum_ <= 0.0 || dampening_ != 0.0)) {
    throw Error(
        fmt::format("SGD: nesterov momentum requires momentum > 0 and dampening = 0 (got momentum {}, "
                    "dampening {})",
                    momentum_, dampening_));
  }
}

SGD::SGD(const std::vector<ParamGroup>& groups, const SGDOptions& defaults)
    : Optimizer(groups, std::make_unique<SGDOptions>(defaults)) {}

namespace {
template <class T>
void sgd_update(T* p, const T* g, T* buf, std::int64_t n, const SGDOptions& o, bool first) {
  const T lr = static_cast<T>(o.lr()), wd = static_cast<T>(o.weight_decay()), mu = static_cast<T>(o.momentum());
  const T one_minus_damp = static_cast<T>(1.0 - o.dampening());
  const bool has_wd = o.weight_decay() != 0.0, has_mom = o.momentum() != 0.0, nesterov = o.nesterov();
  const bool maximize = o.maximize();
  detail::for_range(n, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) {
      T d = maximize ? -g[i] : g[i];
      if (has_wd) d = d + wd * p[i];
      if (has_mom) {
        const T bi = first ? d : buf[i] * mu + one_minus_damp * d;
        buf[i] = bi;
        d = nesterov ? d + mu * bi : bi;
      }
      p[i] = p[i] + (-lr) * d;
    }
  });
}
}  // namespace

Tensor SGD::step(const LossClosure& closure) {
  Tensor loss = evaluate_closure(closure);
  NoGradGuard ng;
  for (auto& group : param_groups_) {
    const auto& o = static_cast<const SGDOptions&>(group.options());
    for (auto& p : group.params()) {
      const Tensor g = p.grad();
      if (!g.defined()) continue;
      detail::check_grad(p, g, "SGD");
      auto& st = lazy_state<SGDParamState>(p, [] { return SGDParamState(); });
      bool first = false;
      if (o.momentum() != 0.0 && !st.momentum_buffer.defined()) {
        st.momentum_buffer = detail::zeros_state(p);
        first = true;
      }
      detail::dispatch_floating(p.dtype(), "SGD", [&](auto tag) {
        using T = decltype(tag);
        sgd_update<T>(p.data_ptr<T>(), g.data_ptr<T>(),
                      st.momentum_buffer.defined() ? st.momentum_buffer.data_ptr<T>() : nullptr, p.numel(), o, first);
      });
      detail::bump_version(p);
    }
  }
  return loss;
}

}  // namespace xgrad::optim
