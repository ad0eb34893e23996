// ASGD (torch.optim.ASGD, the single-tensor algorithm): averaged stochastic gradient descent.
//
// With lr = gamma, lambd = lambda, alpha, t0, weight_decay = w, step t = 1, 2, ...
// and the scalars eta_0 = gamma, mu_0 = 1:
//
//   g  <- -g                                   if maximize
//   g  <- g + w * theta                        if w != 0
//   theta <- theta * (1 - lambda * eta_{t-1})
//   theta <- theta - eta_{t-1} * g
//   ax_t = ax_{t-1} + mu_{t-1} * (theta - ax_{t-1})   if mu_{t-1} != 1, else ax_t = theta
//   eta_t = gamma / (1 + lambda * gamma * t)^alpha
//   mu_t  = 1 / max(1, t - t0)
//
// ax is the running average of the parameters (the averaged iterate), in the state.
// eta and mu are kept in double (PyTorch keeps them as 0-d tensors of the default dtype).
// Defaults: lr 1e-2, lambd 1e-4, alpha 0.75, t0 1e6, weight_decay 0, maximize false.
// Throws xgrad::Error: lr < 0, weight_decay < 0.
#pragma once

#include "xgrad/optim/optimizer.hpp"

namespace xgrad::optim {

#define XGRAD_OPTIM_ASGD_FIELDS(X)                             \
  X(double, lr, 1e-2, ::xgrad::options::non_negative)          \
  X(double, lambd, 1e-4, ::xgrad::options::any)                \
  X(double, alpha, 0.75, ::xgrad::options::any)                \
  X(double, t0, 1e6, ::xgrad::options::any)                    \
  X(double, weight_decay, 0.0, ::xgrad::options::non_negative) \
  X(bool, maximize, false, ::xgrad::options::any)

class ASGDOptions : public OptimizerCloneableOptions<ASGDOptions> {
 public:
  explicit ASGDOptions(double lr = 1e-2) { lr_ = lr; }
  std::string_view optimizer_name() const override { return "ASGD"; }
  XGRAD_OPTIONS(ASGDOptions, XGRAD_OPTIM_ASGD_FIELDS)
};

struct ASGDParamState : OptimizerCloneableParamState<ASGDParamState> {
  std::int64_t step = 0;
  double eta = 0.0;  // eta_t (set to lr when the state is created)
  double mu = 1.0;   // mu_t
  Tensor ax;         // ax_t
  void visit(StateVisitor& v) override {
    v("step", step);
    v("eta", eta);
    v("mu", mu);
    v("ax", ax);
  }
};

class ASGD : public ElementwiseOptimizer<ASGD, ASGDOptions, ASGDParamState> {
 public:
  using ElementwiseOptimizer::ElementwiseOptimizer;
  static void init_state(const Tensor& p, ASGDParamState& st, const ASGDOptions& o);
  template <class T>
  static void update(const Tensor& param, T* p, const T* g, ASGDParamState& st, const ASGDOptions& o);
};

}  // namespace xgrad::optim
