#include "xgrad/optim/sgd.hpp"

#include "elementwise.hpp"

namespace xgrad::optim {

void SGDOptions::check_relations() const {
  if (nesterov_ && (momentum_ <= 0.0 || dampening_ != 0.0)) {
    throw Error(
        fmt::format("SGD: nesterov momentum requires momentum > 0 and dampening = 0 (got momentum {}, "
                    "dampening {})",
                    momentum_, dampening_));
  }
}

template <class T>
void SGD::update(const Tensor& param, T* p, const T* g, SGDParamState& st, const SGDOptions& o) {
  const bool has_wd = o.weight_decay() != 0.0, has_mom = o.momentum() != 0.0, nesterov = o.nesterov();
  const bool first = has_mom && !st.momentum_buffer.defined();  // b_1 = g
  if (first) st.momentum_buffer = detail::zeros_state(param);
  T* buf = has_mom ? st.momentum_buffer.data_ptr<T>() : nullptr;
  const T lr = static_cast<T>(o.lr()), wd = static_cast<T>(o.weight_decay()), mu = static_cast<T>(o.momentum());
  const T one_minus_damp = static_cast<T>(1.0 - o.dampening());
  const bool maximize = o.maximize();
  kernel::parallel_for(param.numel(), [&](std::int64_t b, std::int64_t e) {
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

template class ElementwiseOptimizer<SGD, SGDOptions, SGDParamState>;

}  // namespace xgrad::optim
