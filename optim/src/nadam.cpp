#include "xgrad/optim/nadam.hpp"

#include <cmath>

#include "elementwise.hpp"

namespace xgrad::optim {

// The order of PyTorch's _single_tensor_nadam; mu and the products are scalars in double.
template <class T>
void NAdam::update(const Tensor& param, T* p, const T* g, NAdamParamState& st, const NAdamOptions& o) {
  const double step = static_cast<double>(st.step), beta1 = o.betas().first, beta2 = o.betas().second;
  const double lr = o.lr();
  const detail::AdamMoments<T> moments(st.exp_avg, st.exp_avg_sq, beta1, beta2, lr, o.weight_decay(),
                                       o.decoupled_weight_decay(), o.maximize());
  const double bias_correction2 = 1.0 - std::pow(beta2, step);
  const double mu = beta1 * (1.0 - 0.5 * std::pow(0.96, step * o.momentum_decay()));
  const double mu_next = beta1 * (1.0 - 0.5 * std::pow(0.96, (step + 1.0) * o.momentum_decay()));
  st.mu_product *= mu;
  const double mu_product_next = st.mu_product * mu_next;
  const T c_grad = static_cast<T>(-lr * (1.0 - mu) / (1.0 - st.mu_product));
  const T c_avg = static_cast<T>((-lr * mu_next) / (1.0 - mu_product_next));
  const T bc2 = static_cast<T>(bias_correction2), eps = static_cast<T>(o.eps());
  kernel::parallel_for(param.numel(), [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) {
      T gi = g[i];
      const T pi = moments(i, gi, p[i]);
      const T denom = std::sqrt(moments.v[i] / bc2) + eps;
      p[i] = (pi + c_grad * gi / denom) + c_avg * moments.m[i] / denom;
    }
  });
}

template class ElementwiseOptimizer<NAdam, NAdamOptions, NAdamParamState>;

}  // namespace xgrad::optim
