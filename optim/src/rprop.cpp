#include "xgrad/optim/rprop.hpp"

#include <algorithm>

#include "elementwise.hpp"

namespace xgrad::optim {

void RpropEtas::operator()(std::string_view owner, std::string_view name, const Betas& e) const {
  if (!(0.0 < e.first && e.first < 1.0 && 1.0 < e.second)) {
    throw Error(
        fmt::format("{}: invalid {} ({}, {}) (must be 0 < etaminus < 1 < etaplus)", owner, name, e.first, e.second));
  }
}

void Rprop::init_state(const Tensor& p, RpropParamState& st, const RpropOptions& o) {
  detail::zeros_if_undefined(p, st.prev);
  if (!st.step_size.defined()) st.step_size = full(p.shape(), o.lr(), dtype(p.dtype()));
}

// PyTorch's _single_tensor_rprop: sign = (g * prev).sign() mapped to the etas, step_size
// .mul_(sign).clamp_(min, max), g zeroed where sign == etaminus, param.addcmul_(g.sign(),
// step_size, value=-1).
template <class T>
void Rprop::update(const Tensor& param, T* p, const T* g, RpropParamState& st, const RpropOptions& o) {
  T* prev = st.prev.data_ptr<T>();
  T* size = st.step_size.data_ptr<T>();
  const T eta_minus = static_cast<T>(o.etas().first), eta_plus = static_cast<T>(o.etas().second);
  const T lo = static_cast<T>(o.step_sizes().first), hi = static_cast<T>(o.step_sizes().second);
  const bool maximize = o.maximize();
  kernel::parallel_for(param.numel(), [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) {
      T gi = maximize ? -g[i] : g[i];
      const T prod = gi * prev[i];
      const T factor = prod > T(0) ? eta_plus : (prod < T(0) ? eta_minus : T(1));
      const T si = std::min(std::max(size[i] * factor, lo), hi);
      size[i] = si;
      if (prod < T(0)) gi = T(0);
      const T sign = gi > T(0) ? T(1) : (gi < T(0) ? T(-1) : T(0));
      p[i] = p[i] + T(-1) * sign * si;
      prev[i] = gi;
    }
  });
}

template class ElementwiseOptimizer<Rprop, RpropOptions, RpropParamState>;

}  // namespace xgrad::optim
