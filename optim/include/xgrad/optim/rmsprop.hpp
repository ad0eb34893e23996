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

#define XGRAD_OPTIM_RMSPROP_FIELDS(X)                          \
  X(double, lr, 1e-2, ::xgrad::options::non_negative)          \
  X(double, alpha, 0.99, ::xgrad::options::non_negative)       \
  X(double, eps, 1e-8, ::xgrad::options::non_negative)         \
  X(double, weight_decay, 0.0, ::xgrad::options::non_negative) \
  X(double, momentum, 0.0, ::xgrad::options::non_negative)     \
  X(bool, centered, false, ::xgrad::options::any)              \
  X(bool, maximize, false, ::xgrad::options::any)

class RMSpropOptions : public OptimizerCloneableOptions<RMSpropOptions> {
 public:
  explicit RMSpropOptions(double lr = 1e-2) { lr_ = lr; }
  std::string_view optimizer_name() const override { return "RMSprop"; }
  XGRAD_OPTIONS(RMSpropOptions, XGRAD_OPTIM_RMSPROP_FIELDS)
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

class RMSprop : public ElementwiseOptimizer<RMSprop, RMSpropOptions, RMSpropParamState> {
 public:
  using ElementwiseOptimizer::ElementwiseOptimizer;
  static void init_state(const Tensor& p, RMSpropParamState& st, const RMSpropOptions& o);
  template <class T>
  static void update(const Tensor& param, T* p, const T* g, RMSpropParamState& st, const RMSpropOptions& o);
};

}  // namespace xgrad::optim
