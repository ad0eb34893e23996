// Rprop (torch.optim.Rprop, the single-tensor algorithm): resilient backpropagation, a step
// size per element that grows while the gradient keeps its sign and shrinks when it flips.
//
// With lr = gamma, etas = (eta-, eta+), step_sizes = (s_min, s_max), per element:
//
//   g  <- -g                                   if maximize
//   step 1: s_0 = gamma, g_0 = 0               (state "step_size" and "prev")
//   f = eta+ if g * g_{t-1} > 0;  eta- if g * g_{t-1} < 0;  1 otherwise
//   s_t = clamp(s_{t-1} * f, s_min, s_max)
//   g  <- 0                                    if g * g_{t-1} < 0 (no step after a sign flip)
//   theta <- theta - sign(g) * s_t
//   g_t = g
//
// lr only sets the initial step sizes: changing it later (an LR scheduler) has no effect on a
// parameter that has taken a step, as in PyTorch.
// Defaults: lr 1e-2, etas (0.5, 1.2), step_sizes (1e-6, 50), maximize false.
// Throws xgrad::Error: lr < 0, etas not 0 < eta- < 1 < eta+, step sizes < 0.
#pragma once

#include "xgrad/optim/optimizer.hpp"

namespace xgrad::optim {

/// (eta-, eta+) with 0 < eta- < 1 < eta+, stored as "etaminus" and "etaplus".
struct RpropEtas : checks::PairOf<options::Any> {
  constexpr RpropEtas() : PairOf{"etaminus", "etaplus"} {}
  void operator()(std::string_view owner, std::string_view name, const Betas& e) const;
};

#define XGRAD_OPTIM_RPROP_FIELDS(X)                                                                    \
  X(double, lr, 1e-2, ::xgrad::options::non_negative)                                                  \
  X(Betas, etas, (Betas{0.5, 1.2}), ::xgrad::optim::RpropEtas{})                                       \
  X(Betas, step_sizes, (Betas{1e-6, 50.0}),                                                            \
    (::xgrad::optim::checks::PairOf<::xgrad::options::NonNegative>{"step_size_min", "step_size_max"})) \
  X(bool, maximize, false, ::xgrad::options::any)

class RpropOptions : public OptimizerCloneableOptions<RpropOptions> {
 public:
  explicit RpropOptions(double lr = 1e-2) { lr_ = lr; }
  std::string_view optimizer_name() const override { return "Rprop"; }
  XGRAD_OPTIONS(RpropOptions, XGRAD_OPTIM_RPROP_FIELDS)
};

struct RpropParamState : OptimizerCloneableParamState<RpropParamState> {
  std::int64_t step = 0;
  Tensor prev;       // g_t
  Tensor step_size;  // s_t
  void visit(StateVisitor& v) override {
    v("step", step);
    v("prev", prev);
    v("step_size", step_size);
  }
};

class Rprop : public ElementwiseOptimizer<Rprop, RpropOptions, RpropParamState> {
 public:
  using ElementwiseOptimizer::ElementwiseOptimizer;
  static void init_state(const Tensor& p, RpropParamState& st, const RpropOptions& o);
  template <class T>
  static void update(const Tensor& param, T* p, const T* g, RpropParamState& st, const RpropOptions& o);
};

}  // namespace xgrad::optim
