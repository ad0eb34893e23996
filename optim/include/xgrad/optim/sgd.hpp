// Stochastic gradient descent with momentum (torch.optim.SGD).
//
// With g_t the gradient of the loss (over a batch of N samples: batch GD; 1 sample: SGD;
// 32..128: mini-batch GD), lr = gamma, momentum = mu, dampening = tau, weight_decay = lambda:
//
//   g  <- -g                          if maximize
//   g  <- g + lambda * theta          if lambda != 0
//   if mu != 0:
//     b_1 = g                         (the first step takes g, without dampening)
//     b_t = mu * b_{t-1} + (1 - tau) * g
//     g  <- g + mu * b_t              if nesterov
//     g  <- b_t                       otherwise
//   theta <- theta - gamma * g
//
// Defaults: lr 1e-3 (libtorch requires it; PyTorch's default is 1e-3 too), momentum 0,
// dampening 0, weight_decay 0, nesterov false, maximize false.
// Throws xgrad::Error: lr < 0, momentum < 0, weight_decay < 0, nesterov with momentum <= 0
// or dampening != 0.
#pragma once

#include "xgrad/optim/optimizer.hpp"

namespace xgrad::optim {

class SGDOptions : public OptimizerCloneableOptions<SGDOptions> {
 public:
  explicit SGDOptions(double lr = 1e-3) : lr_(lr) {}
  XGRAD_OPTIM_ARG(double, lr);
  XGRAD_OPTIM_ARG(double, momentum) = 0.0;
  XGRAD_OPTIM_ARG(double, dampening) = 0.0;
  XGRAD_OPTIM_ARG(double, weight_decay) = 0.0;
  XGRAD_OPTIM_ARG(bool, nesterov) = false;
  XGRAD_OPTIM_ARG(bool, maximize) = false;

 public:
  std::string_view optimizer_name() const override { return "SGD"; }
  double get_lr() const override { return lr_; }
  void set_lr(double lr) override { lr_ = lr; }
  std::optional<double> get_momentum() const override { return momentum_; }
  void set_momentum(double m) override { momentum_ = m; }
  void visit(OptionsVisitor& v) override;
  void validate() const override;
};

struct SGDParamState : OptimizerCloneableParamState<SGDParamState> {
  /// b_t; undefined until the first step with momentum != 0.
  Tensor momentum_buffer;
  void visit(StateVisitor& v) override { v("momentum_buffer", momentum_buffer); }
};

class SGD : public Optimizer {
 public:
  SGD(const std::vector<ParamGroup>& groups, const SGDOptions& defaults);
  SGD(const std::vector<Tensor>& params, const SGDOptions& defaults)
      : SGD(std::vector<ParamGroup>{ParamGroup(params)}, defaults) {}
  Tensor step(const LossClosure& closure = nullptr) override;

 protected:
  std::unique_ptr<OptimizerParamState> make_state() const override { return std::make_unique<SGDParamState>(); }
};

}  // namespace xgrad::optim
