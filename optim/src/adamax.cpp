#include "xgrad/optim/adamax.hpp"

#include <algorithm>
#include <cmath>

#include "elementwise.hpp"

namespace xgrad::optim {

// The order of PyTorch's _single_tensor_adamax.
template <class T>
void Adamax::update(const Tensor& param, T* p, const T* g, AdamaxParamState& st, const AdamaxOptions& o) {
  T* m = st.exp_avg.data_ptr<T>();
  T* u = st.exp_inf.data_ptr<T>();
  const double clr = o.lr() / (1.0 - std::pow(o.betas().first, static_cast<double>(st.step)));
  const T neg_clr = static_cast<T>(-clr), w1 = static_cast<T>(1.0 - o.betas().first);
  const T b2 = static_cast<T>(o.betas().second), eps = static_cast<T>(o.eps());
  const detail::DecayedGrad<T> grad_of(o.weight_decay(), o.maximize());
  kernel::parallel_for(param.numel(), [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) {
      const T gi = grad_of(g[i], p[i]);
      const T mi = detail::lerp(m[i], gi, w1);
      m[i] = mi;
      const T ui = std::max(u[i] * b2, std::abs(gi) + eps);
      u[i] = ui;
      p[i] = p[i] + neg_clr * mi / ui;
    }
  });
}
template class ElementwiseOptimizer<Adamax, AdamaxOptions, AdamaxParamState>;

}  // namespace xgrad::optim
