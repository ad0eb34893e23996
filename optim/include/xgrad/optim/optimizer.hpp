// xgrad::optim::Optimizer: the base of every optimizer (libtorch's torch::optim::Optimizer).
//
// An optimizer holds parameter groups, each with its own options (any option may differ per
// group: e.g. no weight decay on biases), and a small state struct per parameter, created
// lazily at the parameter's first step:
//
//   xgrad::optim::Adam opt({
//       xgrad::optim::ParamGroup(weights),                                          // defaults
//       xgrad::optim::ParamGroup(biases, xgrad::optim::AdamOptions(1e-3).weight_decay(0))},
//       xgrad::optim::AdamOptions(1e-3).weight_decay(1e-2));
//   for (...) { opt.zero_grad(); loss(...).backward(); opt.step(); }
//
// Constructing an optimizer without any parameter throws "<Name>: optimizer got an empty
// parameter list" (as PyTorch). step() runs under NoGradGuard and skips parameters whose
// .grad() is undefined. The update loops are fused (one pass per element over the raw
// float32/float64 data) and run on TBB above 32768 elements. Arithmetic follows PyTorch's
// single-tensor implementation, scalars (bias corrections, step sizes) in double, element
// math in the parameter's dtype.
//
// state_dict() is a TensorDict (see xgrad/autograd/serialize.hpp) that save_safetensors writes:
//   "param_groups.<g>.params"       1-d int64: the global indices of the group's parameters
//   "param_groups.<g>.<option>"     0-d float64 per hyper-parameter (bools as 0/1)
//   "param_groups.<g>.initial_lr"   0-d float64, when an LR scheduler set it
//   "state.<i>.<field>"             per-parameter state of the i-th parameter (counting
//                                   through the groups in order): tensors as they are (in
//                                   the parameter's dtype), step counts as 0-d int64,
//                                   scalars as 0-d float64.
// Loading it into an optimizer of the same kind over the same parameter layout and
// continuing gives bit-identical parameters to a run that never stopped.
//
// State tensors always have their parameter's dtype. When a parameter changes dtype in place
// after its first step (nn::Module::to), the next step() or state() converts its state
// tensors to the new dtype (as PyTorch's load_state_dict casts state to its parameter's
// dtype); state_dict() writes them in the parameter's current dtype and load_state_dict()
// casts floating state tensors saved in another dtype. A state tensor that cannot follow its
// parameter (the parameter's shape changed, or it is no longer floating-point) makes step()
// throw an xgrad::Error naming the optimizer, the state key and the parameter.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "xgrad/autograd/options.hpp"
#include "xgrad/autograd/serialize.hpp"
#include "xgrad/autograd/tensor.hpp"

namespace xgrad::optim {

/// Re-evaluates the model: zero the grads, compute the loss, call backward, return the loss.
/// Optimizers run it with grad mode on.
using LossClosure = std::function<Tensor()>;

/// (beta1, beta2) of the Adam family.
using Betas = std::pair<double, double>;

/// Visits the named hyper-parameters of an options struct (for state_dict and messages).
class OptionsVisitor {
 public:
  virtual ~OptionsVisitor() = default;
  virtual void operator()(std::string_view name, double& value) = 0;
  virtual void operator()(std::string_view name, bool& value) = 0;
  virtual void operator()(std::string_view name, std::int64_t& value) = 0;
  /// A bool option added after state dicts were first written: a reader keeps the current
  /// value when the key is missing (e.g. Adam's decoupled_weight_decay).
  virtual void added_later(std::string_view name, bool& value) { (*this)(name, value); }
};

/// Base of the per-algorithm options structs (AdamOptions, SGDOptions, ...).
class OptimizerOptions {
 public:
  virtual ~OptimizerOptions() = default;
  virtual std::unique_ptr<OptimizerOptions> clone() const = 0;
  /// "Adam", "SGD", ...: must equal the optimizer's name for a group's options.
  virtual std::string_view optimizer_name() const = 0;
  virtual double get_lr() const = 0;
  virtual void set_lr(double lr) = 0;
  /// The momentum-like coefficient OneCycleLR cycles: momentum (SGD, RMSprop) or beta1
  /// (Adam family); nullopt when the algorithm has none.
  virtual std::optional<double> get_momentum() const { return std::nullopt; }
  virtual void set_momentum(double) {}
  /// Calls v(name, field) for every hyper-parameter (used by state_dict/load_state_dict).
  virtual void visit(OptionsVisitor& v) = 0;
  /// Throws xgrad::Error naming the option and its value when out of range.
  virtual void validate() const = 0;
  /// "Adam(lr=0.001, betas=(0.9, 0.999), ...)" (OptimizerCloneableOptions lists the fields).
  virtual std::string to_string() const { return std::string(optimizer_name()); }
};

/// Checks and state-dict mappings for option fields beyond xgrad/autograd/options.hpp's. A check
/// with a member visit(OptionsVisitor&, name, value&) also decides the field's state-dict keys.
namespace checks {

/// A pair option stored as two state-dict keys (`first`, `second`, also the names in messages),
/// each checked by Check: e.g. Adam's betas as "beta1" and "beta2".
template <class Check>
struct PairOf {
  std::string_view first, second;
  Check check{};
  void operator()(std::string_view owner, std::string_view, const Betas& p) const {
    check(owner, first, p.first);
    check(owner, second, p.second);
  }
  void visit(OptionsVisitor& v, std::string_view, Betas& p) const {
    v(first, p.first);
    v(second, p.second);
  }
};
/// (beta1, beta2), each in [0, 1).
inline constexpr PairOf<options::UnitHalfOpen> betas{"beta1", "beta2"};

/// A bool option that state dicts written before it existed lack (kept as is on load).
struct AddedLater {
  void operator()(std::string_view, std::string_view, bool) const {}
  void visit(OptionsVisitor& v, std::string_view name, bool& value) const { v.added_later(name, value); }
};
inline constexpr AddedLater added_later{};

/// An integer >= 1, or an optional one that is unset or >= 1 (stored as -1 when unset):
/// "<owner>: invalid <name> <value> (must be >= 1)".
struct AtLeastOne {
  void operator()(std::string_view owner, std::string_view name, std::int64_t v) const {
    if (v < 1) throw Error(fmt::format("{}: invalid {} {} (must be >= 1)", owner, name, v));
  }
  void operator()(std::string_view owner, std::string_view name, const std::optional<std::int64_t>& v) const {
    if (v) (*this)(owner, name, *v);
  }
  void visit(OptionsVisitor& v, std::string_view name, std::optional<std::int64_t>& value) const {
    std::int64_t stored = value.value_or(-1);
    v(name, stored);
    value = stored < 0 ? std::nullopt : std::optional<std::int64_t>(stored);
  }
};
inline constexpr AtLeastOne at_least_one{};

}  // namespace checks

/// CRTP base of a concrete options struct whose fields are declared with XGRAD_OPTIONS (see
/// xgrad/autograd/options.hpp); gives clone(), get/set_lr (the field lr), get/set_momentum
/// (the field momentum, else betas.first, else none), visit (doubles, bools and integers
/// under the field's name; others as the field's check maps them), validate (every field's
/// check, then Derived::check_relations() when it has one, for constraints between fields)
/// and to_string. Derived adds optimizer_name().
template <class Derived>
class OptimizerCloneableOptions : public OptimizerOptions {
 public:
  std::unique_ptr<OptimizerOptions> clone() const override { return std::make_unique<Derived>(self()); }
  double get_lr() const override { return self().lr_; }
  void set_lr(double lr) override { self().lr_ = lr; }
  std::optional<double> get_momentum() const override {
    if constexpr (requires(const Derived& d) { d.momentum_ + 0.0; }) {
      return self().momentum_;
    } else if constexpr (requires(const Derived& d) { d.betas_.first; }) {
      return self().betas_.first;
    } else {
      return std::nullopt;
    }
  }
  void set_momentum(double m) override {
    if constexpr (requires(Derived & d) { d.momentum_ = m; }) {
      self().momentum_ = m;
    } else if constexpr (requires(Derived & d) { d.betas_.first = m; }) {
      self().betas_.first = m;
    }
  }
  void visit(OptionsVisitor& v) override {
    self().for_each_option([&](std::string_view name, auto& value, const auto& check) {
      if constexpr (requires { check.visit(v, name, value); }) {
        check.visit(v, name, value);
      } else {
        v(name, value);
      }
    });
  }
  void validate() const override {
    options::validate_options(self(), this->optimizer_name());
    if constexpr (requires(const Derived& d) { d.check_relations(); }) self().check_relations();
  }
  std::string to_string() const override {
    std::string out;
    self().for_each_option([&](std::string_view name, const auto& value, const auto&) {
      out += fmt::format("{}{}={}", out.empty() ? "" : ", ", name, format_value(value));
    });
    return fmt::format("{}({})", this->optimizer_name(), out);
  }

 private:
  const Derived& self() const { return static_cast<const Derived&>(*this); }
  Derived& self() { return static_cast<Derived&>(*this); }
  template <class T>
  static std::string format_value(const T& v) {
    if constexpr (requires { v.has_value(); }) {
      return v ? options::format_option_value(*v) : std::string("None");
    } else {
      return options::format_option_value(v);
    }
  }
};

/// Visits the fields of a per-parameter state struct. Every state tensor has its parameter's
/// dtype (the base class converts them when the parameter's dtype changes).
class StateVisitor {
 public:
  virtual ~StateVisitor() = default;
  /// A state tensor; `like_param`: same shape as the parameter (checked on load and at each
  /// step), otherwise any shape (e.g. LBFGS's flat vectors).
  virtual void operator()(std::string_view name, Tensor& value, bool like_param = true) = 0;
  virtual void operator()(std::string_view name, std::int64_t& value) = 0;
  virtual void operator()(std::string_view name, double& value) = 0;
  /// A list, stored as "<name>.0", "<name>.1", ...
  virtual void operator()(std::string_view name, std::vector<Tensor>& values) = 0;
  virtual void operator()(std::string_view name, std::vector<double>& values) = 0;
};

/// Base of the per-parameter state structs (AdamParamState, ...).
class OptimizerParamState {
 public:
  virtual ~OptimizerParamState() = default;
  virtual std::unique_ptr<OptimizerParamState> clone() const = 0;
  virtual void visit(StateVisitor& v) = 0;
};

template <class Derived>
class OptimizerCloneableParamState : public OptimizerParamState {
 public:
  std::unique_ptr<OptimizerParamState> clone() const override {
    return std::make_unique<Derived>(static_cast<const Derived&>(*this));
  }
};

/// A list of parameters with (optionally) its own options. Without options the group takes
/// a copy of the optimizer's defaults when it is added.
class ParamGroup {
 public:
  ParamGroup(std::vector<Tensor> params) : params_(std::move(params)) {}  // NOLINT: implicit on purpose
  template <class Options>
  requires std::is_base_of_v<OptimizerOptions, Options> ParamGroup(std::vector<Tensor> params, const Options& options)
      : params_(std::move(params)), options_(std::make_unique<Options>(options)) {}
  ParamGroup(std::vector<Tensor> params, std::unique_ptr<OptimizerOptions> options)
      : params_(std::move(params)), options_(std::move(options)) {}
  ParamGroup(const ParamGroup& o);
  ParamGroup& operator=(const ParamGroup& o);
  ParamGroup(ParamGroup&&) noexcept = default;
  ParamGroup& operator=(ParamGroup&&) noexcept = default;

  std::vector<Tensor>& params() { return params_; }
  const std::vector<Tensor>& params() const { return params_; }
  bool has_options() const { return options_ != nullptr; }
  /// Throws when the group has no options yet (not added to an optimizer).
  OptimizerOptions& options();
  const OptimizerOptions& options() const;
  void set_options(std::unique_ptr<OptimizerOptions> options) { options_ = std::move(options); }
  /// The learning rate before any LR scheduler changed it (set by the first scheduler).
  std::optional<double>& initial_lr() { return initial_lr_; }
  const std::optional<double>& initial_lr() const { return initial_lr_; }

 private:
  std::vector<Tensor> params_;
  std::unique_ptr<OptimizerOptions> options_;
  std::optional<double> initial_lr_;
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  /// One optimisation step. With a closure, first re-evaluates the loss with grad mode on
  /// and returns it; without one returns an undefined Tensor (LBFGS requires the closure).
  virtual Tensor step(const LossClosure& closure = nullptr) = 0;

  /// Appends a group (options default to a copy of defaults()). Throws xgrad::Error for an
  /// undefined, non-floating or non-leaf parameter, a parameter already in another group,
  /// options of another optimizer, or invalid option values.
  void add_param_group(const ParamGroup& group);
  /// Clears the gradients: set_to_none = true resets .grad() to undefined (step() then skips
  /// the parameter); false zeroes the existing gradient tensors in place.
  void zero_grad(bool set_to_none = true);

  std::vector<ParamGroup>& param_groups() { return param_groups_; }
  const std::vector<ParamGroup>& param_groups() const { return param_groups_; }
  const OptimizerOptions& defaults() const { return *defaults_; }
  /// All parameters, group by group (the order of the "state.<i>" indices).
  std::vector<Tensor> parameters() const;
  /// "Adam", "SGD", ...
  std::string_view name() const { return defaults_->optimizer_name(); }
  /// Whether a parameter has state yet (after its first step).
  bool has_state(const Tensor& param) const;
  /// The state of a parameter, its tensors in the parameter's current dtype. Throws when it
  /// has none yet, or when the state cannot follow the parameter (see the top of this header).
  OptimizerParamState& state(const Tensor& param);

  /// See the layout at the top of this header. Tensors are copies.
  TensorDict state_dict() const;
  /// Restores hyper-parameters and per-parameter state; floating state tensors saved in
  /// another dtype are cast to their parameter's dtype. Throws xgrad::Error when the number
  /// of groups or of parameters per group differs, a key is missing, or a state tensor's
  /// shape does not match its parameter or it is not floating-point. On error the optimizer
  /// is unchanged.
  void load_state_dict(const TensorDict& dict);
  /// state_dict() written with save_safetensors (atomically), and read back.
  void save(const std::string& path) const;
  void load(const std::string& path);

 protected:
  /// Validates the defaults and adds the groups (see add_param_group). Throws xgrad::Error
  /// "<Name>: optimizer got an empty parameter list" when the groups hold no parameter at all
  /// (as PyTorch; an empty group next to non-empty ones, or added later, is accepted).
  Optimizer(std::vector<ParamGroup> groups, std::unique_ptr<OptimizerOptions> defaults);
  /// A fresh, empty state struct of this optimizer's kind (for load_state_dict).
  virtual std::unique_ptr<OptimizerParamState> make_state() const = 0;
  /// Runs the closure (if any) with grad mode on.
  static Tensor evaluate_closure(const LossClosure& closure);
  /// The state of `param`, created with `init` on first use; an existing state's tensors are
  /// first brought to the parameter's dtype (follow_param_dtype).
  template <class State, class Init>
  State& lazy_state(const Tensor& param, Init&& init) {
    auto it = state_.find(param.impl().get());
    if (it == state_.end()) {
      it = state_.emplace(param.impl().get(), std::make_unique<State>(init())).first;
    } else {
      follow_param_dtype(param, *it->second);
    }
    return static_cast<State&>(*it->second);
  }
  /// Converts the state tensors of `param` whose dtype differs from the parameter's to the
  /// parameter's dtype, in place. Throws xgrad::Error naming the optimizer, the state key and
  /// the parameter (group, index, shape, dtype) when a tensor cannot follow: its parameter's
  /// shape changed (for tensors shaped like the parameter) or it is no longer floating-point.
  void follow_param_dtype(const Tensor& param, OptimizerParamState& state) const;
  /// Sets every undefined state tensor shaped like `param` (visited with like_param) to zeros
  /// of the parameter's shape and dtype.
  static void zero_missing_state(const Tensor& param, OptimizerParamState& state);

  std::vector<ParamGroup> param_groups_;
  std::unordered_map<const TensorImpl*, std::unique_ptr<OptimizerParamState>> state_;
  std::unique_ptr<OptimizerOptions> defaults_;
};

/// The skeleton of an element-wise optimizer (CRTP): step() evaluates the closure, then under
/// NoGradGuard, for every parameter of every group that has a gradient: checks the gradient
/// against it, creates its State lazily, calls Derived::init_state(p, state, options) (creates
/// the state tensors missing for these options; the default makes them zeros), increments
/// state.step when State has one, runs Derived::update<T>(p, p's data, grad's data, state,
/// options) with T = float or double for the parameter's dtype (other dtypes throw), and marks the
/// parameter as modified in place. Options is the optimizer's options struct (each group's
/// options are of this type). A new optimizer writes its options, its State (with visit),
/// init_state and update<T>, and instantiates the skeleton in its source file (see
/// optim/src/elementwise.hpp).
template <class Derived, class Options, class State>
class ElementwiseOptimizer : public Optimizer {
 public:
  ElementwiseOptimizer(const std::vector<ParamGroup>& groups, const Options& defaults = Options())
      : Optimizer(groups, std::make_unique<Options>(defaults)) {}
  ElementwiseOptimizer(const std::vector<Tensor>& params, const Options& defaults = Options())
      : ElementwiseOptimizer(std::vector<ParamGroup>{ParamGroup(params)}, defaults) {}
  Tensor step(const LossClosure& closure = nullptr) override;

  /// The default creates every missing state tensor shaped like the parameter as zeros.
  static void init_state(const Tensor& p, State& st, const Options&) { zero_missing_state(p, st); }

 protected:
  std::unique_ptr<OptimizerParamState> make_state() const override { return std::make_unique<State>(); }
};

}  // namespace xgrad::optim
