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

#define XGRAD_OPTIM_ADADELTA_FIELDS(X)                         \
  X(double, lr, 1.0, ::xgrad::options::non_negative)           \
  X(double, rho, 0.9, ::xgrad::options::unit_closed)           \
  X(double, eps, 1e-6, ::xgrad::options::non_negative)         \
  X(double, weight_decay, 0.0, ::xgrad::options::non_negative) \
  X(bool, maximize, false, ::xgrad::options::any)

class AdadeltaOptions : public OptimizerCloneableOptions<AdadeltaOptions> {
 public:
  explicit AdadeltaOptions(double lr = 1.0) { lr_ = lr; }
  std::string_view optimizer_name() const override { return "Adadelta"; }
  XGRAD_OPTIONS(AdadeltaOptions, XGRAD_OPTIM_ADADELTA_FIELDS)
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

class Adadelta : public ElementwiseOptimizer<Adadelta, AdadeltaOptions, AdadeltaParamState> {
 public:
  using ElementwiseOptimizer::ElementwiseOptimizer;
  template <class T>
  static void update(const Tensor& param, T* p, const T* g, AdadeltaParamState& st, const AdadeltaOptions& o);
};

}  // namespace xgrad::optim
