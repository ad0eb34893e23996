#include "xgrad/optim/asgd.hpp"

#include <algorithm>
#include <cmath>

#include "elementwise.hpp"

namespace xgrad::optim {

void ASGD::init_state(const Tensor& p, ASGDParamState& st, const ASGDOptions& o) {
  if (st.ax.defined()) return;
  st.ax = detail::zeros_state(p);
  st.eta = o.lr();
  st.mu = 1.0;
}

// The order of PyTorch's _single_tensor_asgd: param.mul_(1 - lambd * eta); param.add_(grad,
// alpha=-eta); ax.add_(param.sub(ax).mul_(mu)) or ax.copy_(param); then eta and mu.
template <class T>
void ASGD::update(const Tensor& param, T* p, const T* g, ASGDParamState& st, const ASGDOptions& o) {
  T* ax = st.ax.data_ptr<T>();
  const T decay = static_cast<T>(1.0 - o.lambd() * st.eta), neg_eta = static_cast<T>(-st.eta);
  const T mu = static_cast<T>(st.mu);
  const bool average = st.mu != 1.0;
  const detail::DecayedGrad<T> grad_of(o.weight_decay(), o.maximize());
  kernel::parallel_for(param.numel(), [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) {
      const T gi = grad_of(g[i], p[i]);
      const T pi = p[i] * decay + neg_eta * gi;
      p[i] = pi;
      ax[i] = average ? ax[i] + (pi - ax[i]) * mu : pi;
    }
  });
  const double t = static_cast<double>(st.step);
  st.eta = o.lr() / std::pow(1.0 + o.lambd() * o.lr() * t, o.alpha());
  st.mu = 1.0 / std::max(1.0, t - o.t0());
}

template class ElementwiseOptimizer<ASGD, ASGDOptions, ASGDParamState>;

}  // namespace xgrad::optim
