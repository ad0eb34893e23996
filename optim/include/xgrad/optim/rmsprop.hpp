// RMSprop (torch.optim.RMSprop).
//
// With lr = gamma, alpha, eps, weight_decay = lambda, momentum = mu:
//
//   g  <- -g                                   if maximize
//   g  <- g + lambda * theta                   if lambda != 0
//   v_t = alpha * v_{t-1} + (1 - alpha) * g^2
//   if centered:
//     a_t = alpha * a_{t-1} + (1 - alpha) * g  (computed as PyTorch's lerp)
//     d   = sqrt(v_t - a_t^2) + eps
//   else:
//     d   = sqrt(v_t) + eps
//   if mu > 0:  b_t = mu * b_{t-1} + g / d;  theta <- theta - gamma * b_t
//   else:       theta <- theta - gamma * g / d
//
// Defaults: lr 1e-2, alpha 0.99, eps 1e-8, weight_decay 0, momentum 0, centered false,
// maximize false.
// Throws xgrad::Error: lr, alpha, eps, weight_decay or momentum < 0.
#pragma once

#include "xgrad/optim/optimizer.hpp"

namespace xgrad::optim {

class RMSpropOptions : public OptimizerCloneableOptions<RMSpropOptions> {
 public:
  explicit RMSpropOptions(double lr = 1e-2) : lr_(lr) {}
  XGRAD_OPTIM_ARG(double, lr);
  XGRAD_OPTIM_ARG(double, alpha) = 0.99;
  XGRAD_OPTIM_ARG(double, eps) = 1e-8;
  XGRAD_OPTIM_ARG(double, weight_decay) = 0.0;
  XGRAD_OPTIM_ARG(double, momentum) = 0.0;
  XGRAD_OPTIM_ARG(bool, centered) = false;
  XGRAD_OPTIM_ARG(bool, maximize) = false;

 public:
  std::string_view optimizer_name() const override { return "RMSprop"; }
  double get_lr() const override { return lr_; }
  void set_lr(double lr) override { lr_ = lr; }
  std::optional<double> get_momentum() const override { return momentum_; }
  void set_momentum(double m) override { momentum_ = m; }
  void visit(OptionsVisitor& v) override;
  void validate() const override;
};

struct RMSpropParamState : OptimizerCloneableParamState<RMSpropParamState> {
  std::int64_t step = 0;
  Tensor square_avg;       // v_t
  Tensor momentum_buffer;  // b_t (momentum > 0)
  Tensor grad_avg;         // a_t (centered)
  void visit(StateVisitor& v) override {
    v("step", step);
    v("square_avg", square_avg);
    v("momentum_buffer", momentum_buffer);
    v("grad_avg", grad_avg);
  }
};

class RMSprop : public Optimizer {
 public:
  RMSprop(const std::vector<ParamGroup>& groups, const RMSpropOptions& defaults = RMSpropOptions());
  RMSprop(const std::vector<Tensor>& params, const RMSpropOptions& defaults = RMSpropOptions())
      : RMSprop(std::vector<ParamGroup>{ParamGroup(params)}, defaults) {}
  Tensor step(const LossClosure& closure = nullptr) override;

 protected:
  std::unique_ptr<OptimizerParamState> make_state() const override { return std::make_unique<RMSpropParamState>(); }
};

}  // namespace xgrad::optim
