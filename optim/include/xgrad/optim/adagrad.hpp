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

#define XGRAD_OPTIM_ADAGRAD_FIELDS(X)                                       \
  X(double, lr, 1e-2, ::xgrad::options::non_negative)                       \
  X(double, lr_decay, 0.0, ::xgrad::options::non_negative)                  \
  X(double, weight_decay, 0.0, ::xgrad::options::non_negative)              \
  X(double, initial_accumulator_value, 0.0, ::xgrad::options::non_negative) \
  X(double, eps, 1e-10, ::xgrad::options::non_negative)                     \
  X(bool, maximize, false, ::xgrad::options::any)

class AdagradOptions : public OptimizerCloneableOptions<AdagradOptions> {
 public:
  explicit AdagradOptions(double lr = 1e-2) { lr_ = lr; }
  std::string_view optimizer_name() const override { return "Adagrad"; }
  XGRAD_OPTIONS(AdagradOptions, XGRAD_OPTIM_ADAGRAD_FIELDS)
};

struct AdagradParamState : OptimizerCloneableParamState<AdagradParamState> {
  std::int64_t step = 0;
  Tensor sum;  // s_t
  void visit(StateVisitor& v) override {
    v("step", step);
    v("sum", sum);
  }
};

class Adagrad : public ElementwiseOptimizer<Adagrad, AdagradOptions, AdagradParamState> {
 public:
  using ElementwiseOptimizer::ElementwiseOptimizer;
  static void init_state(const Tensor& p, AdagradParamState& st, const AdagradOptions& o);
  template <class T>
  static void update(const Tensor& param, T* p, const T* g, AdagradParamState& st, const AdagradOptions& o);
};

}  // namespace xgrad::optim
