// Adadelta (torch.optim.Adadelta).
//
// With lr = gamma, rho, eps, weight_decay = lambda:
//
//   g  <- -g                                   if maximize
//   g  <- g + lambda * theta                   if lambda != 0
//   v_t   = rho * v_{t-1} + (1 - rho) * g^2
//   dx    = sqrt(u_{t-1} + eps) / sqrt(v_t + eps) * g
//   u_t   = rho * u_{t-1} + (1 - rho) * dx^2
//   theta <- theta - gamma * dx
//
// Defaults: lr 1.0, rho 0.9, eps 1e-6, weight_decay 0, maximize false.
// Throws xgrad::Error: lr < 0, rho outside [0, 1], eps < 0, weight_decay < 0.
#pragma once

#include "xgrad/optim/optimizer.hpp"

namespace xgrad::optim {

class AdadeltaOptions : public OptimizerCloneableOptions<AdadeltaOptions> {
 public:
  explicit AdadeltaOptions(double lr = 1.0) : lr_(lr) {}
  XGRAD_OPTIM_ARG(double, lr);
  XGRAD_OPTIM_ARG(double, rho) = 0.9;
  XGRAD_OPTIM_ARG(double, eps) = 1e-6;
  XGRAD_OPTIM_ARG(double, weight_decay) = 0.0;
  XGRAD_OPTIM_ARG(bool, maximize) = false;

 public:
  std::string_view optimizer_name() const override { return "Adadelta"; }
  double get_lr() const override { return lr_; }
  void set_lr(double lr) override { lr_ = lr; }
  void visit(OptionsVisitor& v) override;
  void validate() const override;
};

struct AdadeltaParamState : OptimizerCloneableParamState<AdadeltaParamState> {
  std::int64_t step = 0;
  Tensor square_avg;  // v_t
  Tensor acc_delta;   // u_t
  void visit(StateVisitor& v) override {
    v("step", step);
    v("square_avg", square_avg);
    v("acc_delta", acc_delta);
  }
};

class Adadelta : public Optimizer {
 public:
  Adadelta(const std::vector<ParamGroup>& groups, const AdadeltaOptions& defaults = AdadeltaOptions());
  Adadelta(const std::vector<Tensor>& params, const AdadeltaOptions& defaults = AdadeltaOptions())
      : Adadelta(std::vector<ParamGroup>{ParamGroup(params)}, defaults) {}
  Tensor step(const LossClosure& closure = nullptr) override;

 protected:
  std::unique_ptr<OptimizerParamState> make_state() const override { return std::make_unique<AdadeltaParamState>(); }
};

}  // namespace xgrad::optim
