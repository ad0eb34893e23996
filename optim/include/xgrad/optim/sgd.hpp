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

#define XGRAD_OPTIM_SGD_FIELDS(X)                              \
  X(double, lr, 1e-3, ::xgrad::options::non_negative)          \
  X(double, momentum, 0.0, ::xgrad::options::non_negative)     \
  X(double, dampening, 0.0, ::xgrad::options::any)             \
  X(double, weight_decay, 0.0, ::xgrad::options::non_negative) \
  X(bool, nesterov, false, ::xgrad::options::any)              \
  X(bool, maximize, false, ::xgrad::options::any)

class SGDOptions : public OptimizerCloneableOptions<SGDOptions> {
 public:
  explicit SGDOptions(double lr = 1e-3) { lr_ = lr; }
  std::string_view optimizer_name() const override { return "SGD"; }
  /// nesterov needs momentum > 0 and dampening = 0.
  void check_relations() const;
  XGRAD_OPTIONS(SGDOptions, XGRAD_OPTIM_SGD_FIELDS)
};

struct SGDParamState : OptimizerCloneableParamState<SGDParamState> {
  /// b_t; undefined until the first step with momentum != 0.
  Tensor momentum_buffer;
  void visit(StateVisitor& v) override { v("momentum_buffer", momentum_buffer); }
};

class SGD : public ElementwiseOptimizer<SGD, SGDOptions, SGDParamState> {
 public:
  SGD(const std::vector<ParamGroup>& groups, const SGDOptions& defaults) : ElementwiseOptimizer(groups, defaults) {}
  SGD(const std::vector<Tensor>& params, const SGDOptions& defaults) : ElementwiseOptimizer(params, defaults) {}
  /// Nothing: update creates the momentum buffer at the first step with momentum (b_1 = g).
  static void init_state(const Tensor&, SGDParamState&, const SGDOptions&) {}
  template <class T>
  static void update(const Tensor& param, T* p, const T* g, SGDParamState& st, const SGDOptions& o);
};

}  // namespace xgrad::optim
