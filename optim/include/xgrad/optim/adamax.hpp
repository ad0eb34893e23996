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

#define XGRAD_OPTIM_ADAMAX_FIELDS(X)                                  \
  X(double, lr, 2e-3, ::xgrad::options::non_negative)                 \
  X(Betas, betas, (Betas{0.9, 0.999}), ::xgrad::optim::checks::betas) \
  X(double, eps, 1e-8, ::xgrad::options::non_negative)                \
  X(double, weight_decay, 0.0, ::xgrad::options::non_negative)        \
  X(bool, maximize, false, ::xgrad::options::any)

class AdamaxOptions : public OptimizerCloneableOptions<AdamaxOptions> {
 public:
  explicit AdamaxOptions(double lr = 2e-3) { lr_ = lr; }
  std::string_view optimizer_name() const override { return "Adamax"; }
  XGRAD_OPTIONS(AdamaxOptions, XGRAD_OPTIM_ADAMAX_FIELDS)
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

class Adamax : public ElementwiseOptimizer<Adamax, AdamaxOptions, AdamaxParamState> {
 public:
  using ElementwiseOptimizer::ElementwiseOptimizer;
  template <class T>
  static void update(const Tensor& param, T* p, const T* g, AdamaxParamState& st, const AdamaxOptions& o);
};

}  // namespace xgrad::optim
