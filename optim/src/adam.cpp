#include "xgrad/optim/adam.hpp"

#include <algorithm>
#include <cmath>

#include "update.hpp"
#include "xgrad/autograd/node.hpp"

namespace xgrad::optim {

namespace {

template <class O>
void visit_adam(O& o, OptionsVisitor& v) {
  v("lr", o.lr());
  v("beta1", o.betas().first);
  v("beta2", o.betas().second);
  v("eps", o.eps());
  v("weight_decay", o.weight_decay());
  v("amsgrad", o.amsgrad());
  v("maximize", o.maximize());
}

template <class O>
void validate_adam(const O& o, std::string_view name) {
  detail::check_ge0(name, "lr", o.lr());
  detail::check_ge0(name, "eps", o.eps());
  detail::check_beta(name, "beta1", o.betas().first);
  detail::check_beta(name, "beta2", o.betas().second);
  detail::check_ge0(name, "weight_decay", o.weight_decay());
}

struct AdamScalars {
  double lr, beta1, beta2, eps, weight_decay;
  bool amsgrad, maximize, decoupled;
};

// The update without weight decay, amsgrad or maximize, and with beta1 > 0.5 (the defaults):
// the body of adam_update below with its branches resolved, so it vectorises. Built for
// AVX-512 and AVX2 too; the variant is chosen for the CPU when the library loads. The same
// operations in the same order, but GCC may contract a multiply-add into an FMA in the
// AVX2/AVX-512 variants, so results can differ from the baseline build in the last bit.
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

__attribute__((target_clones("avx512f", "avx2", "default"))) void plain_adam(float* p, const float* g, float* m,
                                                                               float* v, std::int64_t b,
                                                                               std::int64_t e,
                                                                               const PlainAdam<float>& c) {
  plain_adam_body(p, g, m, v, b, e, c);
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void plain_adam(double* p, const double* g, double* m,
                                                                               double* v, std::int64_t b,
                                                                               std::int64_t e,
                                                                               const PlainAdam<double>& c) {
  plain_adam_body(p, g, m, v, b, e, c);
}

// One fused pass per element, in the order of PyTorch's _single_tensor_adam.
template <class T>
void adam_update(const Tensor& param, const Tensor& grad, AdamParamState& st, const AdamScalars& s) {
  const std::int64_t n = param.numel();
  T* p = param.data_ptr<T>();
  const T* g = grad.data_ptr<T>();
  T* m = st.exp_avg.data_ptr<T>();
  T* v = st.exp_avg_sq.data_ptr<T>();
  T* vmax = s.amsgrad ? st.max_exp_avg_sq.data_ptr<T>() : nullptr;
  const double step = static_cast<double>(st.step);
  const double bias_correction1 = 1.0 - std::pow(s.beta1, step);
  const double bias_correction2 = 1.0 - std::pow(s.beta2, step);
  const T neg_step_size = static_cast<T>(-(s.lr / bias_correction1));
  const T bc2_sqrt = static_cast<T>(std::sqrt(bias_correction2));
  const T decay = static_cast<T>(1.0 - s.lr * s.weight_decay);
  const T wd = static_cast<T>(s.weight_decay);
  const T w1 = static_cast<T>(1.0 - s.beta1);
  const T b2 = static_cast<T>(s.beta2), w2 = static_cast<T>(1.0 - s.beta2);
  const T eps = static_cast<T>(s.eps);
  const bool decoupled = s.decoupled && s.weight_decay != 0.0;
  const bool coupled = !s.decoupled && s.weight_decay != 0.0;
  const bool amsgrad = s.amsgrad, maximize = s.maximize;
  if (!decoupled && !coupled && !amsgrad && !maximize && w1 < T(0.5)) {
    const PlainAdam<T> c{neg_step_size, bc2_sqrt, w1, b2, w2, eps};
    detail::for_range(n, [&](std::int64_t b, std::int64_t e) { plain_adam(p, g, m, v, b, e, c); });
    return;
  }
  detail::for_range(n, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) {
      T gi = maximize ? -g[i] : g[i];
      T pi = p[i];
      if (decoupled) pi = pi * decay;
      if (coupled) gi = gi + wd * pi;
      const T mi = detail::lerp(m[i], gi, w1);
      const T vi = v[i] * b2 + w2 * gi * gi;
      m[i] = mi;
      v[i] = vi;
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

template <class Options>
void adam_step(std::vector<ParamGroup>& groups, bool decoupled, std::string_view name,
               const std::function<AdamParamState&(const Tensor&)>& state_of) {
  NoGradGuard ng;
  for (auto& group : groups) {
    const auto& o = static_cast<const Options&>(group.options());
    const AdamScalars s{o.lr(),           o.betas().first, o.betas().second, o.eps(),
                        o.weight_decay(), o.amsgrad(),     o.maximize(),     decoupled};
    for (auto& p : group.params()) {
      const Tensor g = p.grad();
      if (!g.defined()) continue;
      detail::check_grad(p, g, name);
      AdamParamState& st = state_of(p);
      if (!st.exp_avg.defined()) {
        st.exp_avg = detail::zeros_state(p);
        st.exp_avg_sq = detail::zeros_state(p);
      }
      if (s.amsgrad && !st.max_exp_avg_sq.defined()) st.max_exp_avg_sq = detail::zeros_state(p);
      st.step += 1;
      detail::dispatch_floating(p.dtype(), name, [&](auto tag) { adam_update<decltype(tag)>(p, g, st, s); });
      detail::bump_version(p);
    }
  }
}

}  // namespace

void AdamOptions::visit(OptionsVisitor& v) { visit_adam(*this, v); }
void AdamOptions::validate() const { validate_adam(*this, "Adam"); }
void AdamWOptions::visit(OptionsVisitor& v) { visit_adam(*this, v); }
void AdamWOptions::validate() const { validate_adam(*this, "AdamW"); }

Adam::Adam(const std::vector<ParamGroup>& groups, const AdamOptions& defaults)
    : Optimizer(groups, std::make_unique<AdamOptions>(defaults)) {}

Tensor Adam::step(const LossClosure& closure) {
  Tensor loss = evaluate_closure(closure);
  adam_step<AdamOptions>(param_groups_, false, "Adam", [this](const Tensor& p) -> AdamParamState& {
    return lazy_state<AdamParamState>(p, [] { return AdamParamState(); });
  });
  return loss;
}

AdamW::AdamW(const std::vector<ParamGroup>& groups, const AdamWOptions& defaults)
    : Optimizer(groups, std::make_unique<AdamWOptions>(defaults)) {}

Tensor AdamW::step(const LossClosure& closure) {
  Tensor loss = evaluate_closure(closure);
  adam_step<AdamWOptions>(param_groups_, true, "AdamW", [this](const Tensor& p) -> AdamParamState& {
    return lazy_state<AdamParamState>(p, [] { return AdamParamState(); });
  });
  return loss;
}

}  // namespace xgrad::optim
