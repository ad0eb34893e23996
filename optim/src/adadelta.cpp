#include "xgrad/optim/adadelta.hpp"

#include <cmath>

#include "elementwise.hpp"

namespace xgrad::optim {

// The order of PyTorch's _single_tensor_adadelta.
template <class T>
void Adadelta::update(const Tensor& param, T* p, const T* g, AdadeltaParamState& st, const AdadeltaOptions& o) {
  T* sq = st.square_avg.data_ptr<T>();
  T* acc = st.acc_delta.data_ptr<T>();
  const T rho = static_cast<T>(o.rho()), w = static_cast<T>(1.0 - o.rho());
  const T neg_lr = static_cast<T>(-o.lr()), eps = static_cast<T>(o.eps());
  const detail::DecayedGrad<T> grad_of(o.weight_decay(), o.maximize());
  kernel::parallel_for(param.numel(), [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) {
      const T gi = grad_of(g[i], p[i]);
      const T si = detail::square_avg(sq[i], gi, rho, w);
      const T std_i = std::sqrt(si + eps);
      const T delta = std::sqrt(acc[i] + eps) / std_i * gi;
      acc[i] = acc[i] * rho + w * delta * delta;
      p[i] = p[i] + neg_lr * delta;
    }
  });
}
template class ElementwiseOptimizer<Adadelta, AdadeltaOptions, AdadeltaParamState>;

}  // namespace xgrad::optim
