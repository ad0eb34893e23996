// L-BFGS (torch.optim.LBFGS), a port of PyTorch's implementation including its strong-Wolfe
// line search (_strong_wolfe / _cubic_interpolate).
//
// Works on the flattened parameters x (all parameters concatenated; they must share one
// dtype) and needs the closure: step(closure) runs up to max_iter iterations of
//
//   g = grad f(x); stop if max|g| <= tolerance_grad
//   first iteration:  d = -g, H0 = 1
//   later:            y = g - g_prev, s = t * d; if y.s > 1e-10 push (y, s, rho = 1 / y.s)
//                     (dropping the oldest beyond history_size) and H0 = y.s / y.y;
//                     d = -H g by the two-loop recursion over the stored pairs
//   t = min(1, 1 / sum|g|) * lr on the very first iteration, lr afterwards
//   stop if g.d > -tolerance_change
//   line_search_fn "strong_wolfe": t from the strong-Wolfe search (c1 = 1e-4, c2 = 0.9,
//   25 evaluations at most); none: the fixed step t (f re-evaluated unless last iteration)
//   x <- x + t d
//   stop when max_iter iterations or max_eval evaluations are reached, max|g| <= tolerance_grad,
//   max|t d| <= tolerance_change, or |f - f_prev| < tolerance_change.
// step returns the loss of the first evaluation. The state (direction, step, history) is kept
// across calls, on the first parameter.
//
// Defaults: lr 1, max_iter 20, max_eval max_iter * 5 / 4, tolerance_grad 1e-7,
// tolerance_change 1e-9, history_size 100, line_search_fn none.
// Throws xgrad::Error: lr < 0, max_iter < 1, max_eval < 1, history_size < 1, negative
// tolerances, a line_search_fn other than "strong_wolfe", more than one parameter group,
// no parameter at all, parameters of different dtypes (also at step(), e.g. after converting
// only some of them), step() without a closure, a closure returning anything but a
// one-element tensor, a state whose flat vectors do not match the parameters' total size.
// When all parameters change dtype together (nn::Module::to) the state follows them.
#pragma once

#include <optional>
#include <string>

#include "xgrad/optim/optimizer.hpp"

namespace xgrad::optim {

/// line_search_fn: none or "strong_wolfe", stored as the bool "line_search_strong_wolfe".
struct StrongWolfeOrNone {
  void operator()(std::string_view owner, std::string_view name, const std::optional<std::string>& v) const;
  void visit(OptionsVisitor& v, std::string_view name, std::optional<std::string>& value) const;
};

/// max_eval: nullopt means max_iter * 5 / 4 (stored as -1).
#define XGRAD_OPTIM_LBFGS_FIELDS(X)                                                            \
  X(double, lr, 1.0, ::xgrad::options::non_negative)                                           \
  X(std::int64_t, max_iter, 20, ::xgrad::optim::checks::at_least_one)                          \
  X(std::optional<std::int64_t>, max_eval, std::nullopt, ::xgrad::optim::checks::at_least_one) \
  X(double, tolerance_grad, 1e-7, ::xgrad::options::non_negative)                              \
  X(double, tolerance_change, 1e-9, ::xgrad::options::non_negative)                            \
  X(std::int64_t, history_size, 100, ::xgrad::optim::checks::at_least_one)                     \
  X(std::optional<std::string>, line_search_fn, std::nullopt, ::xgrad::optim::StrongWolfeOrNone{})

class LBFGSOptions : public OptimizerCloneableOptions<LBFGSOptions> {
 public:
  explicit LBFGSOptions(double lr = 1.0) { lr_ = lr; }
  std::string_view optimizer_name() const override { return "LBFGS"; }
  std::int64_t resolved_max_eval() const { return max_eval_.value_or(max_iter_ * 5 / 4); }
  XGRAD_OPTIONS(LBFGSOptions, XGRAD_OPTIM_LBFGS_FIELDS)
};

struct LBFGSParamState : OptimizerCloneableParamState<LBFGSParamState> {
  std::int64_t func_evals = 0;
  std::int64_t n_iter = 0;
  Tensor d;                      // last search direction (flat)
  double t = 0.0;                // last step length
  std::vector<Tensor> old_dirs;  // y_i
  std::vector<Tensor> old_stps;  // s_i
  std::vector<double> ro;        // 1 / (y_i . s_i)
  double H_diag = 1.0;
  Tensor prev_flat_grad;
  double prev_loss = 0.0;
  void visit(StateVisitor& v) override {
    v("func_evals", func_evals);
    v("n_iter", n_iter);
    v("d", d, false);
    v("t", t);
    v("old_dirs", old_dirs);
    v("old_stps", old_stps);
    v("ro", ro);
    v("H_diag", H_diag);
    v("prev_flat_grad", prev_flat_grad, false);
    v("prev_loss", prev_loss);
  }
};

class LBFGS : public Optimizer {
 public:
  LBFGS(const std::vector<ParamGroup>& groups, const LBFGSOptions& defaults = LBFGSOptions());
  LBFGS(const std::vector<Tensor>& params, const LBFGSOptions& defaults = LBFGSOptions())
      : LBFGS(std::vector<ParamGroup>{ParamGroup(params)}, defaults) {}
  /// Requires the closure (throws without one); returns the loss of its first evaluation.
  Tensor step(const LossClosure& closure = nullptr) override;

 protected:
  std::unique_ptr<OptimizerParamState> make_state() const override { return std::make_unique<LBFGSParamState>(); }
};

}  // namespace xgrad::optim
