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

class RAdamOptions : public OptimizerCloneableOptions<RAdamOptions> {
 public:
  explicit RAdamOptions(double lr = 1e-3) : lr_(lr) {}
  XGRAD_OPTIM_ARG(double, lr);
  XGRAD_OPTIM_ARG(Betas, betas) = {0.9, 0.999};
  XGRAD_OPTIM_ARG(double, eps) = 1e-8;
  XGRAD_OPTIM_ARG(double, weight_decay) = 0.0;
  XGRAD_OPTIM_ARG(bool, decoupled_weight_decay) = false;
  XGRAD_OPTIM_ARG(bool, maximize) = false;

 public:
  std::string_view optimizer_name() const override { return "RAdam"; }
  double get_lr() const override { return lr_; }
  void set_lr(double lr) override { lr_ = lr; }
  std::optional<double> get_momentum() const override { return betas_.first; }
  void set_momentum(double m) override { betas_.first = m; }
  void visit(OptionsVisitor& v) override;
  void validate() const override;
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

class RAdam : public Optimizer {
 public:
  RAdam(const std::vector<ParamGroup>& groups, const RAdamOptions& defaults = RAdamOptions());
  RAdam(const std::vector<Tensor>& params, const RAdamOptions& defaults = RAdamOptions())
      : RAdam(std::vector<ParamGroup>{ParamGroup(params)}, defaults) {}
  Tensor step(const LossClosure& closure = nullptr) override;

 protected:
  std::unique_ptr<OptimizerParamState> make_state() const override { return std::make_unique<RAdamParamState>(); }
};

}  // namespace xgrad::optim
