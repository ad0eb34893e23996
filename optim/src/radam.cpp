#include "xgrad/optim/radam.hpp"

#include <cmath>

#include "elementwise.hpp"

namespace xgrad::optim {

// The order of PyTorch's _single_tensor_radam: ((mhat * lr) * l_t) * r_t.
template <class T>
void RAdam::update(const Tensor& param, T* p, const T* g, RAdamParamState& st, const RAdamOptions& o) {
  const double step = static_cast<double>(st.step), beta1 = o.betas().first, beta2 = o.betas().second;
  const detail::AdamMoments<T> moments(st.exp_avg, st.exp_avg_sq, beta1, beta2, o.lr(), o.weight_decay(),
                                       o.decoupled_weight_decay(), o.maximize());
  const double bias_correction1 = 1.0 - std::pow(beta1, step);
  const double bias_correction2 = 1.0 - std::pow(beta2, step);
  const double rho_inf = 2.0 / (1.0 - beta2) - 1.0;
  const double rho_t = rho_inf - 2.0 * step * std::pow(beta2, step) / bias_correction2;
  const bool rectify = rho_t > 5.0;
  const double rect =
      rectify ? std::sqrt((rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t)) : 0.0;
  const T bc1 = static_cast<T>(bias_correction1), lr = static_cast<T>(o.lr());
  const T bc2_sqrt = static_cast<T>(std::sqrt(bias_correction2)), r = static_cast<T>(rect);
  const T eps = static_cast<T>(o.eps());
  kernel::parallel_for(param.numel(), [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) {
      T gi = g[i];
      const T pi = moments(i, gi, p[i]);
      T upd = moments.m[i] / bc1 * lr;
      if (rectify) upd = upd * (bc2_sqrt / (std::sqrt(moments.v[i]) + eps)) * r;
      p[i] = pi - upd;
    }
  });
}

template class ElementwiseOptimizer<RAdam, RAdamOptions, RAdamParamState>;

}  // namespace xgrad::optim
