// Adagrad (torch.optim.Adagrad).
//
// With lr = gamma, lr_decay = eta, weight_decay = lambda, step t = 1, 2, ...:
//
//   g  <- -g                                   if maximize
//   g  <- g + lambda * theta                   if lambda != 0
//   clr = gamma / (1 + (t - 1) * eta)
//   s_t = s_{t-1} + g^2                        (s_0 = initial_accumulator_value)
//   theta <- theta - clr * g / (sqrt(s_t) + eps)
//
// Defaults: lr 1e-2, lr_decay 0, weight_decay 0, initial_accumulator_value 0, eps 1e-10,
// maximize false.
// Throws xgrad::Error: lr, lr_decay, weight_decay, initial_accumulator_value or eps < 0.
#pragma once

#include "xgrad/optim/optimizer.hpp"

namespace xgrad::optim {

class AdagradOptions : public OptimizerCloneableOptions<AdagradOptions> {
 public:
  explicit AdagradOptions(double lr = 1e-2) : lr_(lr) {}
  XGRAD_OPTIM_ARG(double, lr);
  XGRAD_OPTIM_ARG(double, lr_decay) = 0.0;
  XGRAD_OPTIM_ARG(double, weight_decay) = 0.0;
  XGRAD_OPTIM_ARG(double, initial_accumulator_value) = 0.0;
  XGRAD_OPTIM_ARG(double, eps) = 1e-10;
  XGRAD_OPTIM_ARG(bool, maximize) = false;

 public:
  std::string_view optimizer_name() const override { return "Adagrad"; }
  double get_lr() const override { return lr_; }
  void set_lr(double lr) override { lr_ = lr; }
  void visit(OptionsVisitor& v) override;
  void validate() const override;
};

struct AdagradParamState : OptimizerCloneableParamState<AdagradParamState> {
  std::int64_t step = 0;
  Tensor sum;  // s_t
  void visit(StateVisitor& v) override {
    v("step", step);
    v("sum", sum);
  }
};

class Adagrad : public Optimizer {
 public:
  Adagrad(const std::vector<ParamGroup>& groups, const AdagradOptions& defaults = AdagradOptions());
  Adagrad(const std::vector<Tensor>& params, const AdagradOptions& defaults = AdagradOptions())
      : Adagrad(std::vector<ParamGroup>{ParamGroup(params)}, defaults) {}
  Tensor step(const LossClosure& closure = nullptr) override;

 protected:
  std::unique_ptr<OptimizerParamState> make_state() const override { return std::make_unique<AdagradParamState>(); }
};

}  // namespace xgrad::optim
