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
// maximize false.
//
// AdamW is the same with decoupled weight decay, applied before the Adam step:
//   theta <- theta * (1 - gamma * lambda)      then the rule above with lambda = 0.
// Defaults as Adam except weight_decay 1e-2.
//
// Throws xgrad::Error: lr < 0, eps < 0, beta1 or beta2 outside [0, 1), weight_decay < 0.
#pragma once

#include <utility>

#include "xgrad/optim/optimizer.hpp"

namespace xgrad::optim {

class AdamOptions : public OptimizerCloneableOptions<AdamOptions> {
 public:
  explicit AdamOptions(double lr = 1e-3) : lr_(lr) {}
  XGRAD_OPTIM_ARG(double, lr);
  XGRAD_OPTIM_ARG(Betas, betas) = {0.9, 0.999};
  XGRAD_OPTIM_ARG(double, eps) = 1e-8;
  XGRAD_OPTIM_ARG(double, weight_decay) = 0.0;
  XGRAD_OPTIM_ARG(bool, amsgrad) = false;
  XGRAD_OPTIM_ARG(bool, maximize) = false;

 public:
  std::string_view optimizer_name() const override { return "Adam"; }
  double get_lr() const override { return lr_; }
  void set_lr(double lr) override { lr_ = lr; }
  std::optional<double> get_momentum() const override { return betas_.first; }
  void set_momentum(double m) override { betas_.first = m; }
  void visit(OptionsVisitor& v) override;
  void validate() const override;
};

class AdamWOptions : public OptimizerCloneableOptions<AdamWOptions> {
 public:
  explicit AdamWOptions(double lr = 1e-3) : lr_(lr) {}
  XGRAD_OPTIM_ARG(double, lr);
  XGRAD_OPTIM_ARG(Betas, betas) = {0.9, 0.999};
  XGRAD_OPTIM_ARG(double, eps) = 1e-8;
  XGRAD_OPTIM_ARG(double, weight_decay) = 1e-2;
  XGRAD_OPTIM_ARG(bool, amsgrad) = false;
  XGRAD_OPTIM_ARG(bool, maximize) = false;

 public:
  std::string_view optimizer_name() const override { return "AdamW"; }
  double get_lr() const override { return lr_; }
  void set_lr(double lr) override { lr_ = lr; }
  std::optional<double> get_momentum() const override { return betas_.first; }
  void set_momentum(double m) override { betas_.first = m; }
  void visit(OptionsVisitor& v) override;
  void validate() const override;
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

class Adam : public Optimizer {
 public:
  Adam(const std::vector<ParamGroup>& groups, const AdamOptions& defaults = AdamOptions());
  Adam(const std::vector<Tensor>& params, const AdamOptions& defaults = AdamOptions())
      : Adam(std::vector<ParamGroup>{ParamGroup(params)}, defaults) {}
  Tensor step(const LossClosure& closure = nullptr) override;

 protected:
  std::unique_ptr<OptimizerParamState> make_state() const override { return std::make_unique<AdamParamState>(); }
};

class AdamW : public Optimizer {
 public:
  AdamW(const std::vector<ParamGroup>& groups, const AdamWOptions& defaults = AdamWOptions());
  AdamW(const std::vector<Tensor>& params, const AdamWOptions& defaults = AdamWOptions())
      : AdamW(std::vector<ParamGroup>{ParamGroup(params)}, defaults) {}
  Tensor step(const LossClosure& closure = nullptr) override;

 protected:
  std::unique_ptr<OptimizerParamState> make_state() const override { return std::make_unique<AdamParamState>(); }
};

}  // namespace xgrad::optim
