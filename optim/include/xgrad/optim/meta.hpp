// xgrad::optim::InnerLoop: unrolled inner optimisation for meta-learning and hyper-parameter
// gradients (MAML, learned learning rates), over the pure optimizer steps of
// optim::functional. PyTorch has no C++ twin; in Python this is torch.func plus `higher` or
// `torchopt`'s unrolled loops.
//
// Given a loss of a parameter map and initial parameters theta_0, InnerLoop runs K steps
//
//   g_k         = d loss(theta_k) / d theta_k            (autograd::grad, create_graph = !first_order)
//   theta_{k+1}, s_{k+1} = optimizer.step(theta_k, g_k, s_k, hyper)
//
// and returns theta_K (with the final optimizer state and the K inner loss values). Under grad
// mode, theta_K carries a graph back to theta_0, to the Hyper tensors (e.g. the learning rate
// as a 0-d tensor that requires grad) and to whatever the loss depends on, so an outer loss
// of theta_K can be differentiated w.r.t. them: second-order MAML, hypergradients.
//
//   auto net = ...;                                       // an nn::Module
//   xgrad::optim::InnerLoop inner(xgrad::optim::functional::make(xgrad::optim::SGDOptions(0.01)),
//                                 xgrad::optim::InnerLoopOptions(5));
//   auto adapted = inner.run(*net, [&](const xgrad::optim::ParamMap& p) {
//     return mse(xgrad::nn::functional_call(*net, p, x_support), y_support);
//   });
//   Tensor outer = mse(xgrad::nn::functional_call(*net, adapted.params, x_query), y_query);
//   outer.backward();                                     // net's parameters get the meta-gradient
//
// Options (InnerLoopOptions):
//   steps          K >= 0 (0 returns the initial parameters).
//   first_order    the inner gradients are computed without create_graph, i.e. treated as
//                  constants (first-order MAML, FOMAML): d theta_K / d theta_0 keeps only the
//                  optimizer's direct paths (the identity for SGD), no second derivatives.
//   truncate_every N > 0: before step k, whenever k is a positive multiple of N, the
//                  parameters and the optimizer state are detached (truncated
//                  back-propagation). theta_K then depends only on the last window of
//                  steps (from the last multiple of N below K): gradients reach back only
//                  through it, and theta_0 gets none once K > N; the Hyper tensors are not
//                  detached and get the gradient of the last window. The graph that theta_K
//                  holds, and so memory, stays bounded by N steps whatever K is. 0 = never.
//
// Details:
//   - The parameters stepped are the map's entries, in the map's (name) order. An entry that
//     does not require grad (data, a detached tensor) is replaced by a detached alias that
//     does (its own storage untouched), so that the inner gradient exists.
//   - A parameter the loss does not depend on gets a zero gradient (so stateful optimizers
//     still advance their state, as in torchopt).
//   - The loss is computed, and the inner gradients taken, with grad mode on. Under a
//     NoGradGuard (e.g. test-time adaptation), the steps record nothing: every step starts
//     from detached parameters and state, and the result carries no graph.
//   - losses[k] is the value of loss(theta_k) (a double, detached: keeping the K loss graphs
//     alive would defeat truncation).
//   - The state may be given (empty = the optimizer's init, see functional.hpp).
//
// Throws xgrad::Error naming "InnerLoop": a null optimizer; invalid options ("InnerLoop:
// invalid steps -1 (must be >= 0)"); an empty parameter map; an undefined parameter; a loss
// that is undefined, has more than one element, or does not depend on any parameter; with a
// module, a name that is not one of its parameters (and the optimizer's own errors: shapes,
// hyper-parameter names).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "xgrad/autograd/options.hpp"
#include "xgrad/autograd/tensor.hpp"
#include "xgrad/optim/functional.hpp"

namespace xgrad::optim {

/// Parameters by name (for a module: named_parameters() names, e.g. "0.weight").
using ParamMap = std::map<std::string, Tensor>;

#define XGRAD_OPTIM_INNER_LOOP_FIELDS(X)                    \
  X(std::int64_t, steps, 1, ::xgrad::options::non_negative) \
  X(bool, first_order, false, ::xgrad::options::any)        \
  X(std::int64_t, truncate_every, 0, ::xgrad::options::non_negative)

/// InnerLoopOptions(K).first_order(true).truncate_every(5) (see the top of this file).
struct InnerLoopOptions {
  explicit InnerLoopOptions(std::int64_t steps = 1) { steps_ = steps; }
  XGRAD_OPTIONS(InnerLoopOptions, XGRAD_OPTIM_INNER_LOOP_FIELDS)
};

/// What InnerLoop::run returns.
struct InnerLoopResult {
  /// theta_K, by the names of the initial map.
  ParamMap params;
  /// The optimizer state after K steps (one ParamState per parameter, in the map's order).
  functional::State state;
  /// losses[k] = loss(theta_k), k = 0 .. K-1.
  std::vector<double> losses;
};

class InnerLoop {
 public:
  using LossFn = std::function<Tensor(const ParamMap& params)>;

  /// Throws xgrad::Error for a null optimizer or invalid options.
  explicit InnerLoop(std::shared_ptr<functional::FunctionalOptimizer> optimizer,
                     InnerLoopOptions options = InnerLoopOptions());

  /// K steps from `params` (see the top of this file). `hyper` is passed to every step.
  InnerLoopResult run(const LossFn& loss, const ParamMap& params, const functional::Hyper& hyper = {},
                      const functional::State& state = {}) const;

  /// K steps from a module's parameters: `params` (names must be the module's
  /// named_parameters() names; a subset adapts only those) or, when empty, every parameter
  /// of the module that requires grad. The loss typically evaluates
  /// nn::functional_call(module, params, ...). M is any type with named_parameters() and
  /// name() (nn::Module; a template so that optim does not link nn).
  template <class M>
  requires requires(M& m) {
    m.named_parameters();
    m.name();
  }
  InnerLoopResult run(M& module, const LossFn& loss, const ParamMap& params = {},
                      const functional::Hyper& hyper = {}) const {
    return run_on(std::string(module.name()), module.named_parameters(), loss, params, hyper);
  }

  const InnerLoopOptions& options() const { return options_; }
  const std::shared_ptr<functional::FunctionalOptimizer>& optimizer() const { return optimizer_; }

 private:
  InnerLoopResult run_on(const std::string& module_name, const std::vector<std::pair<std::string, Tensor>>& own,
                         const LossFn& loss, const ParamMap& params, const functional::Hyper& hyper) const;

  std::shared_ptr<functional::FunctionalOptimizer> optimizer_;
  InnerLoopOptions options_;
};

}  // namespace xgrad::optim
