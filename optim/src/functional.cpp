// The shared machinery of the functional optimizers (argument checks, Hyper parsing, scalar
// hyper-parameters that may be tensors) and make().
#include "xgrad/optim/functional.hpp"

#include <algorithm>
#include <cmath>

#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/math.hpp"
#include "xgrad/optim/lbfgs.hpp"

namespace xgrad::optim::functional {

namespace detail {

Scalar::Scalar(const Tensor& t) : tensor_(t.to(Dtype::float64)), value_(t.item<double>()) {}

Tensor Scalar::as_tensor() const { return is_tensor() ? tensor_ : scalar_tensor(value_, dtype(Dtype::float64)); }

Scalar operator+(const Scalar& a, const Scalar& b) {
  if (!a.is_tensor() && !b.is_tensor()) return a.value() + b.value();
  if (!b.is_tensor()) return Scalar(add(a.tensor(), b.value()));
  if (!a.is_tensor()) return Scalar(add(b.tensor(), a.value()));
  return Scalar(add(a.tensor(), b.tensor()));
}
Scalar operator-(const Scalar& a, const Scalar& b) {
  if (!a.is_tensor() && !b.is_tensor()) return a.value() - b.value();
  if (!b.is_tensor()) return Scalar(sub(a.tensor(), b.value()));
  if (!a.is_tensor()) return Scalar(rsub(b.tensor(), a.value()));
  return Scalar(sub(a.tensor(), b.tensor()));
}
Scalar operator*(const Scalar& a, const Scalar& b) {
  if (!a.is_tensor() && !b.is_tensor()) return a.value() * b.value();
  if (!b.is_tensor()) return Scalar(mul(a.tensor(), b.value()));
  if (!a.is_tensor()) return Scalar(mul(b.tensor(), a.value()));
  return Scalar(mul(a.tensor(), b.tensor()));
}
Scalar operator/(const Scalar& a, const Scalar& b) {
  if (!a.is_tensor() && !b.is_tensor()) return a.value() / b.value();
  if (!b.is_tensor()) return Scalar(div(a.tensor(), b.value()));
  if (!a.is_tensor()) return Scalar(rdiv(b.tensor(), a.value()));
  return Scalar(div(a.tensor(), b.tensor()));
}
Scalar operator-(const Scalar& a) { return a.is_tensor() ? Scalar(neg(a.tensor())) : Scalar(-a.value()); }
Scalar pow(const Scalar& a, double e) {
  return a.is_tensor() ? Scalar(xgrad::pow(a.tensor(), e)) : Scalar(std::pow(a.value(), e));
}
Scalar sqrt(const Scalar& a) { return a.is_tensor() ? Scalar(xgrad::sqrt(a.tensor())) : Scalar(std::sqrt(a.value())); }

Tensor mul_s(const Tensor& t, const Scalar& s) { return s.is_tensor() ? mul(t, s.tensor()) : mul(t, s.value()); }
Tensor add_s(const Tensor& t, const Scalar& s) { return s.is_tensor() ? add(t, s.tensor()) : add(t, s.value()); }
Tensor div_s(const Tensor& t, const Scalar& s) { return s.is_tensor() ? div(t, s.tensor()) : div(t, s.value()); }
Tensor rdiv_s(const Scalar& s, const Tensor& t) { return s.is_tensor() ? div(s.tensor(), t) : rdiv(t, s.value()); }
Tensor lerp_s(const Tensor& start, const Tensor& end, const Scalar& w) {
  return w.is_tensor() ? lerp(start, end, w.tensor().to(start.dtype())) : lerp(start, end, w.value());
}

namespace {

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace

Hypers::Hypers(std::string_view op, const Hyper& hyper, const std::vector<std::string>& allowed) : hyper_(hyper) {
  for (const auto& [name, t] : hyper) {
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      throw Error(fmt::format("{}: unknown hyper-parameter '{}'; expected one of {}", op, name, join(allowed)));
    }
    if (!t.defined()) throw Error(fmt::format("{}: hyper-parameter '{}' is an undefined tensor", op, name));
    if (t.dim() != 0) {
      throw Error(fmt::format("{}: hyper-parameter '{}' must be a 0-d tensor, got {}", op, name, t.describe()));
    }
    if (!is_floating(t.dtype())) {
      throw Error(
          fmt::format("{}: hyper-parameter '{}' must be a floating-point tensor, got {}", op, name, t.describe()));
    }
  }
}

Scalar Hypers::get(const std::string& name, double fallback) const {
  const auto it = hyper_.find(name);
  return it == hyper_.end() ? Scalar(fallback) : Scalar(it->second);
}

namespace {

void check_param(std::string_view op, std::size_t i, const Tensor& p) {
  if (!p.defined()) throw Error(fmt::format("{}: parameter {} is undefined", op, i));
  if (!is_floating(p.dtype())) {
    throw Error(fmt::format("{}: parameter {} must be floating-point, got {}", op, i, p.describe()));
  }
}

}  // namespace

StepResult run_step(std::string_view op, const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                    const State& state, const std::function<State()>& init, const ParamStep& f) {
  if (grads.size() != params.size()) {
    throw Error(fmt::format("{}: got {} parameters but {} gradients", op, params.size(), grads.size()));
  }
  if (!state.empty() && state.size() != params.size()) {
    throw Error(fmt::format("{}: got {} parameters but a state for {}", op, params.size(), state.size()));
  }
  for (std::size_t i = 0; i < params.size(); ++i) {
    check_param(op, i, params[i]);
    const Tensor& g = grads[i];
    if (!g.defined()) throw Error(fmt::format("{}: gradient {} is undefined", op, i));
    if (g.shape() != params[i].shape() || g.dtype() != params[i].dtype()) {
      throw Error(fmt::format("{}: gradient {} of shape {} ({}) does not match its parameter of shape {} ({})", op, i,
                              g.shape(), g.dtype(), params[i].shape(), params[i].dtype()));
    }
    if (state.empty()) continue;
    for (const auto& [key, t] : state[i]) {
      if (!t.defined()) throw Error(fmt::format("{}: state {} '{}' is an undefined tensor", op, i, key));
      const bool scalar = t.dim() == 0 && t.dtype() == Dtype::float64;  // "step" and other scalars
      if (!scalar && (t.shape() != params[i].shape() || t.dtype() != params[i].dtype())) {
        throw Error(fmt::format("{}: state {} '{}' of shape {} ({}) does not match its parameter of shape {} ({})", op,
                                i, key, t.shape(), t.dtype(), params[i].shape(), params[i].dtype()));
      }
    }
  }
  const State fresh = state.empty() ? init() : State();
  const State& st = state.empty() ? fresh : state;
  StepResult out;
  out.params.reserve(params.size());
  out.state.reserve(params.size());
  for (std::size_t i = 0; i < params.size(); ++i) {
    ParamState next = st[i];
    out.params.push_back(f(params[i], grads[i], st[i], next));
    out.state.push_back(std::move(next));
  }
  return out;
}

State init_each(std::string_view op, const std::vector<Tensor>& params,
                const std::function<ParamState(const Tensor&)>& make_one) {
  State out;
  out.reserve(params.size());
  for (std::size_t i = 0; i < params.size(); ++i) {
    check_param(op, i, params[i]);
    out.push_back(make_one(params[i]));
  }
  return out;
}

double step_count(const ParamState& st) {
  const auto it = st.find("step");
  return it == st.end() ? 0.0 : it->second.item<double>();
}

Tensor step_tensor(double t) { return scalar_tensor(t, dtype(Dtype::float64)); }

Tensor state_or(const ParamState& st, const std::string& key, const Tensor& p, double initial) {
  const auto it = st.find(key);
  return it != st.end() ? it->second : full(p.shape(), initial, dtype(p.dtype()));
}

Scalar scalar_state(const ParamState& st, const std::string& key, double initial) {
  const auto it = st.find(key);
  if (it == st.end()) return initial;
  return it->second.requires_grad() ? Scalar(it->second) : Scalar(it->second.item<double>());
}

}  // namespace detail

namespace {

template <class Options>
using StepFn = StepResult (*)(const std::vector<Tensor>&, const std::vector<Tensor>&, const State&, const Options&,
                              const Hyper&);

template <class Options>
class Form final : public FunctionalOptimizer {
 public:
  Form(const Options& options, StepFn<Options> fn) : options_(options), fn_(fn) { options_.validate(); }
  std::string name() const override { return std::string(options_.optimizer_name()); }
  const OptimizerOptions& options() const override { return options_; }
  std::vector<std::string> hyper_names() const override { return detail::hyper_names(options_); }
  State init(const std::vector<Tensor>& params) const override { return functional::init(params, options_); }
  StepResult step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads, const State& state,
                  const Hyper& hyper) const override {
    return fn_(params, grads, state, options_, hyper);
  }

 private:
  Options options_;
  StepFn<Options> fn_;
};

template <class Options>
bool try_make(const OptimizerOptions& o, StepFn<Options> fn, std::shared_ptr<FunctionalOptimizer>& out) {
  const auto* typed = dynamic_cast<const Options*>(&o);
  if (typed == nullptr) return false;
  out = std::make_shared<Form<Options>>(*typed, fn);
  return true;
}

}  // namespace

std::shared_ptr<FunctionalOptimizer> make(const OptimizerOptions& options) {
  std::shared_ptr<FunctionalOptimizer> out;
  if (try_make<SGDOptions>(options, &sgd, out) || try_make<AdamOptions>(options, &adam, out) ||
      try_make<AdamWOptions>(options, &adamw, out) || try_make<AdamaxOptions>(options, &adamax, out) ||
      try_make<NAdamOptions>(options, &nadam, out) || try_make<RAdamOptions>(options, &radam, out) ||
      try_make<AdagradOptions>(options, &adagrad, out) || try_make<RMSpropOptions>(options, &rmsprop, out) ||
      try_make<AdadeltaOptions>(options, &adadelta, out) || try_make<ASGDOptions>(options, &asgd, out) ||
      try_make<RpropOptions>(options, &rprop, out)) {
    return out;
  }
  if (dynamic_cast<const LBFGSOptions*>(&options) != nullptr) {
    throw Error(
        "functional::make: LBFGS has no functional form (its closure-driven line search is not a fixed "
        "differentiable map of params, grads and state)");
  }
  throw Error(fmt::format("functional::make: no functional form for the options of {}", options.optimizer_name()));
}

}  // namespace xgrad::optim::functional
