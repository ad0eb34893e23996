#include "xgrad/optim/adam.hpp"

#include <algorithm>
#include <cmath>

#include "elementwise.hpp"

namespace xgrad::optim {

namespace {

struct AdamScalars {
  double lr, beta1, beta2, eps, weight_decay;
  bool amsgrad, maximize, decoupled;
};

// The update without weight decay, amsgrad or maximize, and with beta1 > 0.5 (the defaults):
// the body of adam_update below with its branches resolved, so it vectorises. Built for
// AVX-512 and AVX2 too (XGRAD_SIMD_CLONES); the variant is chosen for the CPU when the library
// loads. The same operations in the same order, but GCC may contract a multiply-add into an FMA
// in the AVX2/AVX-512 variants, so results can differ from the baseline build in the last bit.
template <class T>
struct PlainAdam {
  T neg_step_size, bc2_sqrt, w1, b2, w2, eps;
};

template <class T>
inline void plain_adam_body(T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict v, std::int64_t b,
                            std::int64_t e, const PlainAdam<T>& c) {
  for (std::int64_t i = b; i < e; ++i) {
    const T gi = g[i];
    const T mi = m[i] + c.w1 * (gi - m[i]);
    const T vi = v[i] * c.b2 + c.w2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    const T denom = std::sqrt(vi) / c.bc2_sqrt + c.eps;
    p[i] = p[i] + c.neg_step_size * mi / denom;
  }
}

XGRAD_SIMD_CLONES void plain_adam(float* p, const float* g, float* m, float* v, std::int64_t b, std::int64_t e,
                                  const PlainAdam<float>& c) {
  plain_adam_body(p, g, m, v, b, e, c);
}

XGRAD_SIMD_CLONES void plain_adam(double* p, const double* g, double* m, double* v, std::int64_t b, std::int64_t e,
                                  const PlainAdam<double>& c) {
  plain_adam_body(p, g, m, v, b, e, c);
}

// One fused pass per element, in the order of PyTorch's _single_tensor_adam.
template <class T>
void adam_update(const Tensor& param, T* p, const T* g, AdamParamState& st, const AdamScalars& s) {
  const std::int64_t n = param.numel();
  T* m = st.exp_avg.data_ptr<T>();
  T* v = st.exp_avg_sq.data_ptr<T>();
  T* vmax = s.amsgrad ? st.max_exp_avg_sq.data_ptr<T>() : nullptr;
  const double step = static_cast<double>(st.step);
  const double bias_correction1 = 1.0 - std::pow(s.beta1, step);
  const double bias_correction2 = 1.0 - std::pow(s.beta2, step);
  const T neg_step_size = static_cast<T>(-(s.lr / bias_correction1));
  const T bc2_sqrt = static_cast<T>(std::sqrt(bias_correction2));
  const T w1 = static_cast<T>(1.0 - s.beta1);
  const T b2 = static_cast<T>(s.beta2), w2 = static_cast<T>(1.0 - s.beta2);
  const T eps = static_cast<T>(s.eps);
  const bool amsgrad = s.amsgrad, maximize = s.maximize;
  if (s.weight_decay == 0.0 && !amsgrad && !maximize && w1 < T(0.5)) {
    const PlainAdam<T> c{neg_step_size, bc2_sqrt, w1, b2, w2, eps};
    kernel::parallel_for(n, [&](std::int64_t b, std::int64_t e) { plain_adam(p, g, m, v, b, e, c); });
    return;
  }
  const detail::AdamMoments<T> moments(st.exp_avg, st.exp_avg_sq, s.beta1, s.beta2, s.lr, s.weight_decay, s.decoupled,
                                       maximize);
  kernel::parallel_for(n, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) {
      T gi = g[i];
      const T pi = moments(i, gi, p[i]);
      const T mi = m[i], vi = v[i];
      T second = vi;
      if (amsgrad) {
        second = std::max(vmax[i], vi);
        vmax[i] = second;
      }
      const T denom = std::sqrt(second) / bc2_sqrt + eps;
      p[i] = pi + neg_step_size * mi / denom;  // addcdiv: self + value * t1 / t2
    }
  });
}

}  // namespace

void AdamWOptions::check_relations() const {
  if (!decoupled_weight_decay_) {
    throw Error("AdamW: decoupled_weight_decay must be true (Adam with decoupled_weight_decay false is Adam)");
  }
}

template <class Options>
void BasicAdam<Options>::init_state(const Tensor& p, AdamParamState& st, const Options& o) {
  detail::zeros_if_undefined(p, st.exp_avg, st.exp_avg_sq);
  if (o.amsgrad()) detail::zeros_if_undefined(p, st.max_exp_avg_sq);
}

template <class Options>
template <class T>
void BasicAdam<Options>::update(const Tensor& param, T* p, const T* g, AdamParamState& st, const Options& o) {
  adam_update<T>(param, p, g, st,
                 {o.lr(), o.betas().first, o.betas().second, o.eps(), o.weight_decay(), o.amsgrad(), o.maximize(),
                  o.decoupled_weight_decay()});
}

template class ElementwiseOptimizer<BasicAdam<AdamOptions>, AdamOptions, AdamParamState>;
template class ElementwiseOptimizer<BasicAdam<AdamWOptions>, AdamWOptions, AdamParamState>;

}  // namespace xgrad::optim
