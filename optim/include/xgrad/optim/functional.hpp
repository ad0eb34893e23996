// xgrad::optim::functional: pure, differentiable optimizer steps (differentiable optimization:
// hyper-parameter gradients, meta-learning/MAML, unrolled training). PyTorch has no C++ twin;
// in Python this is torch.func plus torchopt/higher.
//
// A functional step maps (params, grads, state, options, hyper) to (new params, new state)
// with exactly the formulas of the in-place optimizer of the same name (see its header:
// sgd.hpp, adam.hpp, ...), but written with differentiable xgrad ops (add, mul, sqrt, maximum,
// where, sign, clamp, ...) instead of a fused no-grad loop. It never mutates its arguments:
// params, grads, state and Hyper tensors are only read; results are computed out of place. Under grad mode
// (e.g. inside autograd::grad(..., create_graph=true) or with the params requiring grad), the
// new params and state carry a graph back to the old params, the grads, the state tensors and
// the Hyper tensors, so an outer loss after K unrolled steps can be differentiated w.r.t. the
// initial parameters or a learning rate. Under NoGradGuard a step records nothing.
//
//   namespace F = xgrad::optim::functional;
//   auto opt = F::make(xgrad::optim::SGDOptions(0.1).momentum(0.9));
//   std::vector<Tensor> params = {w0.detach().requires_grad_(true)};   // leaves
//   F::State state = opt->init(params);
//   Tensor lr = xgrad::scalar_tensor(0.1, xgrad::dtype(xgrad::float64)).requires_grad_(true);
//   for (int k = 0; k < K; ++k) {
//     auto grads = xgrad::autograd::grad({loss(params)}, params, {}, {.create_graph = true});
//     auto r = opt->step(params, grads, state, {{"lr", lr}});
//     params = std::move(r.params);
//     state = std::move(r.state);
//   }
//   validation_loss(params).backward();   // lr.grad(): the hypergradient (also w0.grad())
//
// Values: equal to the in-place optimizer's over any number of steps (tested over 50 steps of
// every optimizer and its main variants): to 1e-12 relative for float64 parameters, to float32
// rounding for float32 ones. The element operations are the in-place loops', in the same order,
// with the scalars (bias corrections, step sizes) computed in double and rounded once, so the
// results are in practice bitwise equal, except where an in-place loop is vectorised and the
// compiler contracts a multiply-add into an FMA (plain Adam): an ulp or so per step.
//
// State: one ParamState per parameter, keyed by the field names of the in-place optimizer's
// state struct ("momentum_buffer", "exp_avg", "exp_avg_sq", "max_exp_avg_sq", "step", ...).
// State tensors have the parameter's shape and dtype, except the scalars of the in-place
// state, which are 0-d float64 tensors: "step" (the number of steps taken; never requires
// grad), NAdam's "mu_product" and ASGD's "eta" and "mu" (these carry a graph when computed
// from a Hyper tensor: beta1 for NAdam, lr for ASGD). init(params) gives the state before the
// first step (what the in-place optimizer creates lazily at its first step); an EMPTY State
// passed to step() means the same (so `step(params, grads, {})` starts fresh). A key missing
// from a ParamState is taken at its initial value (zeros, the initial accumulator or step
// size, step 0), so a state made under options without momentum continues with a "momentum"
// tensor. SGD's "momentum_buffer" is absent until the first step with momentum (b_1 = g, as
// in-place). Steps keep the state entries they do not update (e.g. without momentum).
// Results may share storage with each other or with the inputs (SGD's first momentum buffer
// is the gradient; ASGD's "ax" is the new parameter while mu = 1): treat them as immutable.
//
// Hyper-parameters as tensors: a Hyper maps a hyper-parameter name to a 0-d floating tensor
// (any dtype: a float64 0-d tensor does not widen float32 params, README "Semantics in brief")
// that replaces the options' value of that name in the formulas, so the step is
// differentiable w.r.t. it. A branch that the in-place optimizer takes only when a value is
// nonzero ("if lambda != 0", "if mu != 0", RMSprop's "if mu > 0") is always taken when that
// value is given as a tensor (so its gradient is defined even at 0; the values agree since
// the extra terms are then exactly 0). Values that decide a branch or the structure of the
// computation stay options (the bools nesterov, amsgrad, centered, maximize,
// decoupled_weight_decay, and those listed as "options only" below); options are validated
// with their own values, not the Hyper's. Names each optimizer accepts as tensors:
//
//   SGD       lr, momentum, dampening, weight_decay
//   Adam      lr, beta1, beta2, eps, weight_decay          (also AdamW)
//   Adamax    lr, beta1, beta2, eps, weight_decay
//   NAdam     lr, beta1, beta2, eps, weight_decay          (momentum_decay: options only)
//   RAdam     lr, beta1, eps, weight_decay                 (beta2 decides the rectification
//                                                           branch rho_t > 5: options only)
//   Adagrad   lr, lr_decay, weight_decay, eps              (initial_accumulator_value: used
//                                                           by init(), options only)
//   RMSprop   lr, alpha, eps, weight_decay, momentum
//   Adadelta  lr, rho, eps, weight_decay
//   ASGD      lr, weight_decay                             (with lr a tensor, eta_{t-1} is
//                                                           recomputed from it as
//                                                           lr / (1 + lambd lr (t-1))^alpha
//                                                           instead of read from the state;
//                                                           lambd, alpha, t0: options only)
//   Rprop     etaminus, etaplus                            (lr only sets the initial step sizes
//                                                           at init(); step_size_min/max:
//                                                           options only)
//
// Non-smooth pieces use their ops' natural (sub)gradients: amsgrad's max (maximum: the
// gradient goes to the larger argument, split evenly on ties), Adamax's max and abs, Rprop's
// sign (zero gradient), its clamp and its sign-flip masks (where: no gradient to the mask).
//
// LBFGS has no functional form: its step runs a closure-driven line search (a data-dependent
// number of loss and gradient evaluations, with branches on the loss values), which is not a
// fixed differentiable map of (params, grads, state). make(LBFGSOptions) throws.
//
// Throws xgrad::Error, naming the optimizer ("Adam: ..."):
//   - options that fail validate() (the in-place optimizer's checks and messages);
//   - params and grads of different lengths ("Adam: got 2 parameters but 1 gradients"), or a
//     non-empty state of another length ("Adam: got 2 parameters but a state for 1");
//   - an undefined param or grad, a non-floating param, a grad whose shape or dtype differs
//     from its param's ("SGD: gradient 1 of shape [3] (float64) does not match its parameter
//     of shape [2, 3] (float64)");
//   - a state tensor whose shape or dtype differs from its parameter's (0-d float64 scalars
//     aside): "Adam: state 1 'exp_avg' of shape [3] (float64) does not match its parameter of
//     shape [2] (float64)";
//   - an unknown Hyper name ("Adam: unknown hyper-parameter 'mommentum'; expected one of lr,
//     beta1, beta2, eps, weight_decay"), a Hyper tensor that is not 0-d or not floating.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "xgrad/autograd/tensor.hpp"
#include "xgrad/optim/adadelta.hpp"
#include "xgrad/optim/adagrad.hpp"
#include "xgrad/optim/adam.hpp"
#include "xgrad/optim/adamax.hpp"
#include "xgrad/optim/asgd.hpp"
#include "xgrad/optim/nadam.hpp"
#include "xgrad/optim/optimizer.hpp"
#include "xgrad/optim/radam.hpp"
#include "xgrad/optim/rmsprop.hpp"
#include "xgrad/optim/rprop.hpp"
#include "xgrad/optim/sgd.hpp"

namespace xgrad::optim::functional {

/// Per-parameter state: named tensors ("momentum_buffer", "exp_avg", "exp_avg_sq", "step", ...).
using ParamState = std::map<std::string, Tensor>;
/// One ParamState per parameter, in the order of the params.
using State = std::vector<ParamState>;
/// Hyper-parameters given as 0-d (possibly differentiable) tensors; they override the options'
/// values of the same name ("lr", "momentum", "beta1", "beta2", "weight_decay", "eps", ...).
using Hyper = std::map<std::string, Tensor>;

/// The new parameters and the new state of one step.
struct StepResult {
  std::vector<Tensor> params;
  State state;
};

/// A pure optimizer step (see the top of this file). Obtained from make(options).
class FunctionalOptimizer {
 public:
  virtual ~FunctionalOptimizer() = default;
  /// "SGD", "Adam", ... (the options' optimizer_name()).
  virtual std::string name() const = 0;
  /// The options this form was made with.
  virtual const OptimizerOptions& options() const = 0;
  /// The hyper-parameter names step() accepts in its Hyper.
  virtual std::vector<std::string> hyper_names() const = 0;
  /// The state before the first step: one ParamState per parameter (tensors detached, with
  /// the parameter's shape and dtype; "step" a 0-d float64 0).
  virtual State init(const std::vector<Tensor>& params) const = 0;
  /// One step. Never mutates its arguments. An empty state means init(params).
  virtual StepResult step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads, const State& state,
                          const Hyper& hyper = {}) const = 0;
};

/// The functional form of an optimizer given its options struct (SGDOptions, AdamOptions,
/// AdamWOptions, AdamaxOptions, NAdamOptions, RAdamOptions, AdagradOptions, RMSpropOptions,
/// AdadeltaOptions, ASGDOptions, RpropOptions); the options are copied and validated.
/// Throws xgrad::Error for LBFGSOptions ("functional::make: LBFGS has no functional form ...")
/// and for any other options type, naming it.
std::shared_ptr<FunctionalOptimizer> make(const OptimizerOptions& options);

/// The state before the first step for each optimizer (what make(options)->init(params) gives).
State init(const std::vector<Tensor>& params, const SGDOptions& options);
State init(const std::vector<Tensor>& params, const AdamOptions& options);
State init(const std::vector<Tensor>& params, const AdamWOptions& options);
State init(const std::vector<Tensor>& params, const AdamaxOptions& options);
State init(const std::vector<Tensor>& params, const NAdamOptions& options);
State init(const std::vector<Tensor>& params, const RAdamOptions& options);
State init(const std::vector<Tensor>& params, const AdagradOptions& options);
State init(const std::vector<Tensor>& params, const RMSpropOptions& options);
State init(const std::vector<Tensor>& params, const AdadeltaOptions& options);
State init(const std::vector<Tensor>& params, const ASGDOptions& options);
State init(const std::vector<Tensor>& params, const RpropOptions& options);

/// Per-optimizer free functions: one step of the named algorithm (formulas in its header);
/// the same as make(options)->step(params, grads, state, hyper).
StepResult sgd(const std::vector<Tensor>& params, const std::vector<Tensor>& grads, const State& state,
               const SGDOptions& options, const Hyper& hyper = {});
StepResult adam(const std::vector<Tensor>& params, const std::vector<Tensor>& grads, const State& state,
                const AdamOptions& options, const Hyper& hyper = {});
StepResult adamw(const std::vector<Tensor>& params, const std::vector<Tensor>& grads, const State& state,
                 const AdamWOptions& options, const Hyper& hyper = {});
StepResult adamax(const std::vector<Tensor>& params, const std::vector<Tensor>& grads, const State& state,
                  const AdamaxOptions& options, const Hyper& hyper = {});
StepResult nadam(const std::vector<Tensor>& params, const std::vector<Tensor>& grads, const State& state,
                 const NAdamOptions& options, const Hyper& hyper = {});
StepResult radam(const std::vector<Tensor>& params, const std::vector<Tensor>& grads, const State& state,
                 const RAdamOptions& options, const Hyper& hyper = {});
StepResult adagrad(const std::vector<Tensor>& params, const std::vector<Tensor>& grads, const State& state,
                   const AdagradOptions& options, const Hyper& hyper = {});
StepResult rmsprop(const std::vector<Tensor>& params, const std::vector<Tensor>& grads, const State& state,
                   const RMSpropOptions& options, const Hyper& hyper = {});
StepResult adadelta(const std::vector<Tensor>& params, const std::vector<Tensor>& grads, const State& state,
                    const AdadeltaOptions& options, const Hyper& hyper = {});
StepResult asgd(const std::vector<Tensor>& params, const std::vector<Tensor>& grads, const State& state,
                const ASGDOptions& options, const Hyper& hyper = {});
StepResult rprop(const std::vector<Tensor>& params, const std::vector<Tensor>& grads, const State& state,
                 const RpropOptions& options, const Hyper& hyper = {});

/// Internals shared by the functional_*.cpp sources (not part of the API).
namespace detail {

/// A hyper-parameter: the options' double, or a Hyper tensor (converted to 0-d float64, so
/// scalar arithmetic runs in double as in the in-place optimizers; the cast is differentiable).
class Scalar {
 public:
  Scalar(double v = 0.0) : value_(v) {}  // NOLINT(google-explicit-constructor)
  explicit Scalar(const Tensor& t);
  bool is_tensor() const { return tensor_.defined(); }
  double value() const { return value_; }
  const Tensor& tensor() const { return tensor_; }
  /// The value as a 0-d float64 tensor (the tensor itself when given as one).
  Tensor as_tensor() const;
  /// Given as a tensor, or nonzero: the in-place optimizers' "if x != 0" branches.
  bool active() const { return is_tensor() || value_ != 0.0; }

 private:
  Tensor tensor_;
  double value_;
};
Scalar operator+(const Scalar& a, const Scalar& b);
Scalar operator-(const Scalar& a, const Scalar& b);
Scalar operator*(const Scalar& a, const Scalar& b);
Scalar operator/(const Scalar& a, const Scalar& b);
Scalar operator-(const Scalar& a);
Scalar pow(const Scalar& a, double e);
Scalar sqrt(const Scalar& a);
/// t * s, t + s, t / s, s / t (the element math in t's dtype).
Tensor mul_s(const Tensor& t, const Scalar& s);
Tensor add_s(const Tensor& t, const Scalar& s);
Tensor div_s(const Tensor& t, const Scalar& s);
Tensor rdiv_s(const Scalar& s, const Tensor& t);
/// lerp(start, end, w) (PyTorch's formula; a tensor w converted to start's dtype).
Tensor lerp_s(const Tensor& start, const Tensor& end, const Scalar& w);

/// The Hyper of one step, checked against the names `allowed`.
class Hypers {
 public:
  Hypers(std::string_view op, const Hyper& hyper, const std::vector<std::string>& allowed);
  /// The Hyper tensor of that name, else `fallback` (the options' value).
  Scalar get(const std::string& name, double fallback) const;

 private:
  Hyper hyper_;
};

/// One parameter's update: reads (p, g, st), writes the new state entries into `next` (which
/// starts as a copy of st) and returns the new parameter.
using ParamStep = std::function<Tensor(const Tensor& p, const Tensor& g, const ParamState& st, ParamState& next)>;
/// Checks the arguments (sizes, shapes, dtypes; state tensors against their parameters),
/// takes init() for an empty state, then applies f to each parameter.
StepResult run_step(std::string_view op, const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                    const State& state, const std::function<State()>& init, const ParamStep& f);
/// Builds a State with make_one(p) for each parameter (checking the params first).
State init_each(std::string_view op, const std::vector<Tensor>& params,
                const std::function<ParamState(const Tensor&)>& make_one);
/// The "step" count of a ParamState (0 when absent) and the 0-d float64 tensor holding t.
double step_count(const ParamState& st);
Tensor step_tensor(double t);
/// The state tensor `key`, or a tensor of p's shape and dtype filled with `initial` when the
/// key is absent (its initial value).
Tensor state_or(const ParamState& st, const std::string& key, const Tensor& p, double initial);
/// The 0-d float64 state scalar `key` as a Scalar (a tensor when it carries a graph), or
/// `initial` when absent.
Scalar scalar_state(const ParamState& st, const std::string& key, double initial);

/// The hyper-parameter names each optimizer accepts (see the table at the top of this file).
const std::vector<std::string>& hyper_names(const SGDOptions&);
const std::vector<std::string>& hyper_names(const AdamOptions&);
const std::vector<std::string>& hyper_names(const AdamWOptions&);
const std::vector<std::string>& hyper_names(const AdamaxOptions&);
const std::vector<std::string>& hyper_names(const NAdamOptions&);
const std::vector<std::string>& hyper_names(const RAdamOptions&);
const std::vector<std::string>& hyper_names(const AdagradOptions&);
const std::vector<std::string>& hyper_names(const RMSpropOptions&);
const std::vector<std::string>& hyper_names(const AdadeltaOptions&);
const std::vector<std::string>& hyper_names(const ASGDOptions&);
const std::vector<std::string>& hyper_names(const RpropOptions&);

}  // namespace detail

}  // namespace xgrad::optim::functional
