// Adam and AdamW (torch.optim.Adam / torch.optim.AdamW).
//
// Adam, with lr = gamma, betas = (beta1, beta2), eps, weight_decay = lambda, step t = 1, 2, ...:
//
//   g  <- -g                                   if maximize
//   g  <- g + lambda * theta                   if lambda != 0   (L2, coupled into the gradient)
//   m_t = beta1 * m_{t-1} + (1 - beta1) * g    (computed as PyTorch's lerp)
//   v_t = beta2 * v_{t-1} + (1 - beta2) * g^2
//   vmax_t = max(vmax_{t-1}, v_t)              if amsgrad (max over the raw second moment)
//   denom  = sqrt(v_t or vmax_t) / sqrt(1 - beta2^t) + eps     (eps outside the sqrt)
//   theta <- theta - (gamma / (1 - beta1^t)) * m_t / denom
//
// Defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 0, amsgrad false,
// maximize false, decoupled_weight_decay false.
//
// With decoupled_weight_decay (PyTorch 2.x), the weight decay is applied before the step
// instead of to the gradient:
//   theta <- theta * (1 - gamma * lambda)      then the rule above with lambda = 0.
// AdamW is Adam with decoupled_weight_decay: AdamWOptions has the same fields, named
// "AdamW", with weight_decay 1e-2 and decoupled_weight_decay true by default (setting it to
// false throws: use Adam). State dicts written before decoupled_weight_decay existed load
// (the group keeps its current value, as PyTorch's setdefault).
//
// Throws xgrad::Error: lr < 0, eps < 0, beta1 or beta2 outside [0, 1), weight_decay < 0.
#pragma once

#include <utility>

#include "xgrad/optim/optimizer.hpp"

namespace xgrad::optim {

#define XGRAD_OPTIM_ADAM_FIELDS(X)                                    \
  X(double, lr, 1e-3, ::xgrad::options::non_negative)                 \
  X(Betas, betas, (Betas{0.9, 0.999}), ::xgrad::optim::checks::betas) \
  X(double, eps, 1e-8, ::xgrad::options::non_negative)                \
  X(double, weight_decay, 0.0, ::xgrad::options::non_negative)        \
  X(bool, amsgrad, false, ::xgrad::options::any)                      \
  X(bool, maximize, false, ::xgrad::options::any)                     \
  X(bool, decoupled_weight_decay, false, ::xgrad::optim::checks::added_later)

/// The fields of AdamOptions and AdamWOptions (setters return Self&).
template <class Self>
class AdamOptionsBase : public OptimizerCloneableOptions<Self> {
 public:
  XGRAD_OPTIONS(Self, XGRAD_OPTIM_ADAM_FIELDS)
};

class AdamOptions : public AdamOptionsBase<AdamOptions> {
 public:
  explicit AdamOptions(double lr = 1e-3) { lr_ = lr; }
  std::string_view optimizer_name() const override { return "Adam"; }
};

class AdamWOptions : public AdamOptionsBase<AdamWOptions> {
 public:
  explicit AdamWOptions(double lr = 1e-3) {
    lr_ = lr;
    weight_decay_ = 1e-2;
    decoupled_weight_decay_ = true;
  }
  std::string_view optimizer_name() const override { return "AdamW"; }
  void check_relations() const;
};

/// State of Adam and AdamW.
struct AdamParamState : OptimizerCloneableParamState<AdamParamState> {
  std::int64_t step = 0;
  Tensor exp_avg;         // m_t
  Tensor exp_avg_sq;      // v_t
  Tensor max_exp_avg_sq;  // vmax_t (amsgrad only)
  void visit(StateVisitor& v) override {
    v("step", step);
    v("exp_avg", exp_avg);
    v("exp_avg_sq", exp_avg_sq);
    v("max_exp_avg_sq", max_exp_avg_sq);
  }
};

/// Adam over options of type Options (AdamOptions or AdamWOptions).
template <class Options>
class BasicAdam : public ElementwiseOptimizer<BasicAdam<Options>, Options, AdamParamState> {
 public:
  using ElementwiseOptimizer<BasicAdam<Options>, Options, AdamParamState>::ElementwiseOptimizer;
  static void init_state(const Tensor& p, AdamParamState& st, const Options& o);
  template <class T>
  static void update(const Tensor& param, T* p, const T* g, AdamParamState& st, const Options& o);
};

class Adam : public BasicAdam<AdamOptions> {
 public:
  using BasicAdam::BasicAdam;
};

class AdamW : public BasicAdam<AdamWOptions> {
 public:
  using BasicAdam::BasicAdam;
};

}  // namespace xgrad::optim
