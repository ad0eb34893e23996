// Adamax (torch.optim.Adamax): Adam with the infinity norm.
//
// With lr = gamma, betas = (beta1, beta2), eps, weight_decay = lambda, step t = 1, 2, ...:
//
//   g  <- -g                                   if maximize
//   g  <- g + lambda * theta                   if lambda != 0
//   m_t = beta1 * m_{t-1} + (1 - beta1) * g    (computed as PyTorch's lerp)
//   u_t = max(beta2 * u_{t-1}, |g| + eps)
//   theta <- theta - gamma / (1 - beta1^t) * m_t / u_t
//
// Defaults: lr 2e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 0, maximize false.
// Throws xgrad::Error: lr < 0, eps < 0, beta1 or beta2 outside [0, 1), weight_decay < 0.
#pragma once

#include "xgrad/optim/optimizer.hpp"

namespace xgrad::optim {

class AdamaxOptions : public OptimizerCloneableOptions<AdamaxOptions> {
 public:
  explicit AdamaxOptions(double lr = 2e-3) : lr_(lr) {}
  XGRAD_OPTIM_ARG(double, lr);
  XGRAD_OPTIM_ARG(Betas, betas) = {0.9, 0.999};
  XGRAD_OPTIM_ARG(double, eps) = 1e-8;
  XGRAD_OPTIM_ARG(double, weight_decay) = 0.0;
  XGRAD_OPTIM_ARG(bool, maximize) = false;

 public:
  std::string_view optimizer_name() const override { return "Adamax"; }
  double get_lr() const override { return lr_; }
  void set_lr(double lr) override { lr_ = lr; }
  std::optional<double> get_momentum() const override { return betas_.first; }
  void set_momentum(double m) override { betas_.first = m; }
  void visit(OptionsVisitor& v) override;
  void validate() const override;
};

struct AdamaxParamState : OptimizerCloneableParamState<AdamaxParamState> {
  std::int64_t step = 0;
  Tensor exp_avg;  // m_t
  Tensor exp_inf;  // u_t
  void visit(StateVisitor& v) override {
    v("step", step);
    v("exp_avg", exp_avg);
    v("exp_inf", exp_inf);
  }
};

class Adamax : public Optimizer {
 public:
  Adamax(const std::vector<ParamGroup>& groups, const AdamaxOptions& defaults = AdamaxOptions());
  Adamax(const std::vector<Tensor>& params, const AdamaxOptions& defaults = AdamaxOptions())
      : Adamax(std::vector<ParamGroup>{ParamGroup(params)}, defaults) {}
  Tensor step(const LossClosure& closure = nullptr) override;

 protected:
  std::unique_ptr<OptimizerParamState> make_state() const override { return std::make_unique<AdamaxParamState>(); }
};

}  // namespace xgrad::optim
