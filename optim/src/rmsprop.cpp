#include "xgrad/optim/rmsprop.hpp"

#include <cmath>

#include "elementwise.hpp"

namespace xgrad::optim {

void RMSprop::init_state(const Tensor& p, RMSpropParamState& st, const RMSpropOptions& o) {
  detail::zeros_if_undefined(p, st.square_avg);
  if (o.momentum() > 0.0) detail::zeros_if_undefined(p, st.momentum_buffer);
  if (o.centered()) detail::zeros_if_undefined(p, st.grad_avg);
}

// The order of PyTorch's _single_tensor_rmsprop.
template <class T>
void RMSprop::update(const Tensor& param, T* p, const T* g, RMSpropParamState& st, const RMSpropOptions& o) {
  T* sq = st.square_avg.data_ptr<T>();
  const bool centered = o.centered(), has_mom = o.momentum() > 0.0;
  T* ga = centered ? st.grad_avg.data_ptr<T>() : nullptr;
  T* buf = has_mom ? st.momentum_buffer.data_ptr<T>() : nullptr;
  const T alpha = static_cast<T>(o.alpha()), w = static_cast<T>(1.0 - o.alpha());
  const T neg_lr = static_cast<T>(-o.lr()), eps = static_cast<T>(o.eps());
  const T mu = static_cast<T>(o.momentum());
  const detail::DecayedGrad<T> grad_of(o.weight_decay(), o.maximize());
  kernel::parallel_for(param.numel(), [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) {
      const T gi = grad_of(g[i], p[i]);
      const T si = detail::square_avg(sq[i], gi, alpha, w);
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
template class ElementwiseOptimizer<RMSprop, RMSpropOptions, RMSpropParamState>;

}  // namespace xgrad::optim
