// NAdam (torch.optim.NAdam): Adam with Nesterov momentum and a momentum schedule.
//
// With lr = gamma, betas = (beta1, beta2), eps, weight_decay = lambda, momentum_decay = psi,
// step t = 1, 2, ...:
//
//   g  <- -g                                   if maximize
//   theta <- theta * (1 - gamma * lambda)      if decoupled_weight_decay
//   g  <- g + lambda * theta                   otherwise, if lambda != 0
//   mu_t     = beta1 * (1 - 0.5 * 0.96^(t * psi))
//   mu_{t+1} = beta1 * (1 - 0.5 * 0.96^((t + 1) * psi))
//   P_t = mu_1 * ... * mu_t                    (the "mu_product" state)
//   m_t = beta1 * m_{t-1} + (1 - beta1) * g    (computed as PyTorch's lerp)
//   v_t = beta2 * v_{t-1} + (1 - beta2) * g^2
//   d   = sqrt(v_t / (1 - beta2^t)) + eps
//   theta <- theta - gamma * (1 - mu_t) / (1 - P_t) * g / d
//   theta <- theta - gamma * mu_{t+1} / (1 - P_t * mu_{t+1}) * m_t / d
//
// Defaults: lr 2e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 0, momentum_decay 4e-3,
// decoupled_weight_decay false, maximize false.
// Throws xgrad::Error: lr, eps, weight_decay or momentum_decay < 0; betas outside [0, 1).
#pragma once

#include "xgrad/optim/optimizer.hpp"

namespace xgrad::optim {

#define XGRAD_OPTIM_NADAM_FIELDS(X)                                   \
  X(double, lr, 2e-3, ::xgrad::options::non_negative)                 \
  X(Betas, betas, (Betas{0.9, 0.999}), ::xgrad::optim::checks::betas) \
  X(double, eps, 1e-8, ::xgrad::options::non_negative)                \
  X(double, weight_decay, 0.0, ::xgrad::options::non_negative)        \
  X(double, momentum_decay, 4e-3, ::xgrad::options::non_negative)     \
  X(bool, decoupled_weight_decay, false, ::xgrad::options::any)       \
  X(bool, maximize, false, ::xgrad::options::any)

class NAdamOptions : public OptimizerCloneableOptions<NAdamOptions> {
 public:
  explicit NAdamOptions(double lr = 2e-3) { lr_ = lr; }
  std::string_view optimizer_name() const override { return "NAdam"; }
  XGRAD_OPTIONS(NAdamOptions, XGRAD_OPTIM_NADAM_FIELDS)
};

struct NAdamParamState : OptimizerCloneableParamState<NAdamParamState> {
  std::int64_t step = 0;
  double mu_product = 1.0;  // P_t
  Tensor exp_avg;           // m_t
  Tensor exp_avg_sq;        // v_t
  void visit(StateVisitor& v) override {
    v("step", step);
    v("mu_product", mu_product);
    v("exp_avg", exp_avg);
    v("exp_avg_sq", exp_avg_sq);
  }
};

class NAdam : public ElementwiseOptimizer<NAdam, NAdamOptions, NAdamParamState> {
 public:
  using ElementwiseOptimizer::ElementwiseOptimizer;
  template <class T>
  static void update(const Tensor& param, T* p, const T* g, NAdamParamState& st, const NAdamOptions& o);
};

}  // namespace xgrad::optim
