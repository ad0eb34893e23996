// RAdam (torch.optim.RAdam): Adam with a rectified adaptive learning rate.
//
// With lr = gamma, betas = (beta1, beta2), eps, weight_decay = lambda, step t = 1, 2, ...:
//
//   g  <- -g                                   if maximize
//   theta <- theta * (1 - gamma * lambda)      if decoupled_weight_decay
//   g  <- g + lambda * theta                   otherwise, if lambda != 0
//   m_t = beta1 * m_{t-1} + (1 - beta1) * g    (computed as PyTorch's lerp)
//   v_t = beta2 * v_{t-1} + (1 - beta2) * g^2
//   mhat  = m_t / (1 - beta1^t)
//   rho_inf = 2 / (1 - beta2) - 1
//   rho_t   = rho_inf - 2 t beta2^t / (1 - beta2^t)
//   if rho_t > 5:
//     l_t = sqrt(1 - beta2^t) / (sqrt(v_t) + eps)
//     r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
//     theta <- theta - mhat * gamma * l_t * r_t
//   else:
//     theta <- theta - mhat * gamma
//
// Defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 0,
// decoupled_weight_decay false, maximize false.
// Throws xgrad::Error: lr, eps or weight_decay < 0; betas outside [0, 1).
#pragma once

#include "xgrad/optim/optimizer.hpp"

namespace xgrad::optim {

#define XGRAD_OPTIM_RADAM_FIELDS(X)                                   \
  X(double, lr, 1e-3, ::xgrad::options::non_negative)                 \
  X(Betas, betas, (Betas{0.9, 0.999}), ::xgrad::optim::checks::betas) \
  X(double, eps, 1e-8, ::xgrad::options::non_negative)                \
  X(double, weight_decay, 0.0, ::xgrad::options::non_negative)        \
  X(bool, decoupled_weight_decay, false, ::xgrad::options::any)       \
  X(bool, maximize, false, ::xgrad::options::any)

class RAdamOptions : public OptimizerCloneableOptions<RAdamOptions> {
 public:
  explicit RAdamOptions(double lr = 1e-3) { lr_ = lr; }
  std::string_view optimizer_name() const override { return "RAdam"; }
  XGRAD_OPTIONS(RAdamOptions, XGRAD_OPTIM_RADAM_FIELDS)
};

struct RAdamParamState : OptimizerCloneableParamState<RAdamParamState> {
  std::int64_t step = 0;
  Tensor exp_avg;     // m_t
  Tensor exp_avg_sq;  // v_t
  void visit(StateVisitor& v) override {
    v("step", step);
    v("exp_avg", exp_avg);
    v("exp_avg_sq", exp_avg_sq);
  }
};

class RAdam : public ElementwiseOptimizer<RAdam, RAdamOptions, RAdamParamState> {
 public:
  using ElementwiseOptimizer::ElementwiseOptimizer;
  template <class T>
  static void update(const Tensor& param, T* p, const T* g, RAdamParamState& st, const RAdamOptions& o);
};

}  // namespace xgrad::optim
