#include "xgrad/optim/adagrad.hpp"

#include <cmath>

#include "elementwise.hpp"

namespace xgrad::optim {

void Adagrad::init_state(const Tensor& p, AdagradParamState& st, const AdagradOptions& o) {
  if (!st.sum.defined()) st.sum = full(p.shape(), o.initial_accumulator_value(), dtype(p.dtype()));
}

// PyTorch's _single_tensor_adagrad: state_sum.addcmul_(g, g, value=1); std = sqrt(sum) + eps;
// param.addcdiv_(g, std, value=-clr).
template <class T>
void Adagrad::update(const Tensor& param, T* p, const T* g, AdagradParamState& st, const AdagradOptions& o) {
  T* sum = st.sum.data_ptr<T>();
  const double clr = o.lr() / (1.0 + static_cast<double>(st.step - 1) * o.lr_decay());
  const T neg_clr = static_cast<T>(-clr), eps = static_cast<T>(o.eps());
  const detail::DecayedGrad<T> grad_of(o.weight_decay(), o.maximize());
  kernel::parallel_for(param.numel(), [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) {
      const T gi = grad_of(g[i], p[i]);
      const T si = sum[i] + T(1) * gi * gi;
      sum[i] = si;
      p[i] = p[i] + neg_clr * gi / (std::sqrt(si) + eps);
    }
  });
}

template class ElementwiseOptimizer<Adagrad, AdagradOptions, AdagradParamState>;

}  // namespace xgrad::optim
