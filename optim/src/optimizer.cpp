#include "xgrad/optim/optimizer.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <unordered_set>

#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/node.hpp"

namespace xgrad::optim {

// ---- ParamGroup --------------------------------------------------------------------------

ParamGroup::ParamGroup(const ParamGroup& o)
    : params_(o.params_), options_(o.options_ ? o.options_->clone() : nullptr), initial_lr_(o.initial_lr_) {}

ParamGroup& ParamGroup::operator=(const ParamGroup& o) {
  if (this != &o) {
    params_ = o.params_;
    options_ = o.options_ ? o.options_->clone() : nullptr;
    initial_lr_ = o.initial_lr_;
  }
  return *this;
}

OptimizerOptions& ParamGroup::options() {
  if (!options_) throw Error("ParamGroup::options: the group has no options (add it to an optimizer first)");
  return *options_;
}

const OptimizerOptions& ParamGroup::options() const {
  if (!options_) throw Error("ParamGroup::options: the group has no options (add it to an optimizer first)");
  return *options_;
}

// ---- Optimizer ---------------------------------------------------------------------------

Optimizer::Optimizer(std::vector<ParamGroup> groups, std::unique_ptr<OptimizerOptions> defaults)
    : defaults_(std::move(defaults)) {
  defaults_->validate();
  if (std::all_of(groups.begin(), groups.end(), [](const ParamGroup& g) { return g.params().empty(); })) {
    throw Error(fmt::format("{}: optimizer got an empty parameter list", name()));
  }
  for (const auto& g : groups) add_param_group(g);
}

void Optimizer::add_param_group(const ParamGroup& group) {
  const std::string_view opt = name();
  ParamGroup g(group.params(), group.has_options() ? group.options().clone() : defaults_->clone());
  g.initial_lr() = group.initial_lr();
  if (g.options().optimizer_name() != opt) {
    throw Error(fmt::format("{}: add_param_group: the group's options are {}Options, expected {}Options", opt,
                            g.options().optimizer_name(), opt));
  }
  g.options().validate();
  std::unordered_set<const TensorImpl*> existing;
  for (const auto& pg : param_groups_) {
    for (const auto& p : pg.params()) existing.insert(p.impl().get());
  }
  for (std::size_t i = 0; i < g.params().size(); ++i) {
    const Tensor& p = g.params()[i];
    if (!p.defined()) throw Error(fmt::format("{}: parameter {} of the group is undefined", opt, i));
    if (!is_floating(p.dtype())) {
      throw Error(
          fmt::format("{}: can only optimize floating-point tensors, parameter {} is {}", opt, i, p.describe()));
    }
    if (!p.is_leaf()) {
      throw Error(
          fmt::format("{}: can't optimize a non-leaf tensor (parameter {}, {}); pass a leaf, e.g. "
                      "t.detach().requires_grad_()",
                      opt, i, p.describe()));
    }
    if (!existing.insert(p.impl().get()).second) {
      throw Error(fmt::format("{}: parameter {} ({}) appears in more than one parameter group or twice in one", opt, i,
                              p.describe()));
    }
  }
  param_groups_.push_back(std::move(g));
}

void Optimizer::zero_grad(bool set_to_none) {
  NoGradGuard ng;
  for (auto& group : param_groups_) {
    for (auto& p : group.params()) {
      Tensor g = p.grad();
      if (!g.defined()) continue;
      if (set_to_none) {
        p.set_grad(Tensor());
      } else if (g.requires_grad()) {
        // A gradient recorded with create_graph: replace it by plain zeros, never write into
        // a tensor that is part of a graph.
        p.set_grad(zeros_like(g));
      } else {
        g.zero_();
      }
    }
  }
}

std::vector<Tensor> Optimizer::parameters() const {
  std::vector<Tensor> out;
  for (const auto& g : param_groups_) out.insert(out.end(), g.params().begin(), g.params().end());
  return out;
}

bool Optimizer::has_state(const Tensor& param) const { return state_.count(param.impl().get()) != 0; }

OptimizerParamState& Optimizer::state(const Tensor& param) {
  auto it = state_.find(param.impl().get());
  if (it == state_.end()) {
    throw Error(fmt::format("{}: the parameter {} has no state yet (it has not taken a step)", name(),
                            param.defined() ? param.describe() : std::string("(undefined)")));
  }
  follow_param_dtype(param, *it->second);
  return *it->second;
}

namespace {

/// A copy of the state tensor `t` in dtype `d` (in t's own dtype when either is not
/// floating-point): the one conversion of optimizer state between dtypes.
Tensor state_copy(const Tensor& t, Dtype d) {
  NoGradGuard ng;
  const Tensor src = t.detach();
  if (t.dtype() == d || !is_floating(t.dtype()) || !is_floating(d)) return src.clone();
  return src.to(d);
}

/// Converts every state tensor whose dtype differs from the parameter's (see
/// Optimizer::follow_param_dtype); calls `fail(key, tensor)`, which throws, for one that
/// cannot follow.
class StateFollower : public StateVisitor {
 public:
  using Fail = std::function<void(const std::string& key, const Tensor& value)>;
  StateFollower(const Tensor& param, Fail fail) : param_(param), fail_(std::move(fail)) {}
  void operator()(std::string_view name, Tensor& value, bool like_param) override {
    follow(value, like_param, [&] { return std::string(name); });
  }
  void operator()(std::string_view, std::int64_t&) override {}
  void operator()(std::string_view, double&) override {}
  void operator()(std::string_view name, std::vector<Tensor>& values) override {
    for (std::size_t i = 0; i < values.size(); ++i) {
      follow(values[i], false, [&] { return fmt::format("{}.{}", name, i); });
    }
  }
  void operator()(std::string_view, std::vector<double>&) override {}

 private:
  template <class Key>
  void follow(Tensor& value, bool like_param, const Key& key) const {
    if (!value.defined()) return;
    const bool shape_ok = !like_param || value.shape() == param_.shape();
    if (shape_ok && value.dtype() == param_.dtype()) return;
    if (!shape_ok || !is_floating(value.dtype()) || !is_floating(param_.dtype())) fail_(key(), value);
    value = state_copy(value, param_.dtype());
  }
  const Tensor& param_;
  Fail fail_;
};

}  // namespace

void Optimizer::follow_param_dtype(const Tensor& param, OptimizerParamState& state) const {
  StateFollower follower(param, [&](const std::string& key, const Tensor& value) {
    std::string where = "of a parameter that is in no group";
    for (std::size_t g = 0; g < param_groups_.size(); ++g) {
      const auto& ps = param_groups_[g].params();
      for (std::size_t i = 0; i < ps.size(); ++i) {
        if (ps[i].impl() == param.impl()) where = fmt::format("of parameter {} in group {}", i, g);
      }
    }
    throw Error(
        fmt::format("{}: the state '{}' {} is {} but the parameter is now {}: it cannot follow the parameter "
                    "(was the parameter's data replaced by one of another shape or a non-floating dtype after a "
                    "step? build a new optimizer, or load a state dict that matches)",
                    name(), key, where, value.describe(), param.describe()));
  });
  state.visit(follower);
}

void Optimizer::zero_missing_state(const Tensor& param, OptimizerParamState& state) {
  struct Zeros : StateVisitor {
    const Tensor& p;
    explicit Zeros(const Tensor& param) : p(param) {}
    void operator()(std::string_view, Tensor& value, bool like_param) override {
      if (like_param && !value.defined()) value = zeros(p.shape(), dtype(p.dtype()));
    }
    void operator()(std::string_view, std::int64_t&) override {}
    void operator()(std::string_view, double&) override {}
    void operator()(std::string_view, std::vector<Tensor>&) override {}
    void operator()(std::string_view, std::vector<double>&) override {}
  } zeros_of(param);
  state.visit(zeros_of);
}

Tensor Optimizer::evaluate_closure(const LossClosure& closure) {
  if (!closure) return Tensor();
  GradModeGuard enable(true);
  return closure();
}

// ---- state_dict ----------------------------------------------------------------------------

namespace {

Tensor scalar64(double v) { return scalar_tensor(v, dtype(float64)); }

class OptionsWriter : public OptionsVisitor {
 public:
  OptionsWriter(TensorDict& out, std::string prefix) : out_(out), prefix_(std::move(prefix)) {}
  void operator()(std::string_view name, double& value) override { out_[key(name)] = scalar64(value); }
  void operator()(std::string_view name, bool& value) override { out_[key(name)] = scalar64(value ? 1.0 : 0.0); }
  void operator()(std::string_view name, std::int64_t& value) override {
    out_[key(name)] = scalar64(static_cast<double>(value));
  }

 private:
  std::string key(std::string_view name) const { return fmt::format("{}{}", prefix_, name); }
  TensorDict& out_;
  std::string prefix_;
};

const Tensor& find_key(const TensorDict& dict, const std::string& key, std::string_view opt) {
  auto it = dict.find(key);
  if (it == dict.end()) throw Error(fmt::format("{}: load_state_dict: missing key '{}'", opt, key));
  if (!it->second.defined()) throw Error(fmt::format("{}: load_state_dict: key '{}' is undefined", opt, key));
  return it->second;
}

double read_scalar(const TensorDict& dict, const std::string& key, std::string_view opt) {
  const Tensor& t = find_key(dict, key, opt);
  if (t.numel() != 1) {
    throw Error(fmt::format("{}: load_state_dict: '{}' must hold one number, got {}", opt, key, t.describe()));
  }
  return t.item<double>();
}

class OptionsReader : public OptionsVisitor {
 public:
  OptionsReader(const TensorDict& dict, std::string prefix, std::string_view opt)
      : dict_(dict), prefix_(std::move(prefix)), opt_(opt) {}
  void operator()(std::string_view name, double& value) override { value = read(name); }
  void operator()(std::string_view name, bool& value) override { value = read(name) != 0.0; }
  void operator()(std::string_view name, std::int64_t& value) override {
    value = static_cast<std::int64_t>(std::llround(read(name)));
  }
  void added_later(std::string_view name, bool& value) override {
    if (dict_.count(fmt::format("{}{}", prefix_, name))) value = read(name) != 0.0;
  }

 private:
  double read(std::string_view name) const { return read_scalar(dict_, fmt::format("{}{}", prefix_, name), opt_); }
  const TensorDict& dict_;
  std::string prefix_;
  std::string_view opt_;
};

class StateWriter : public StateVisitor {
 public:
  StateWriter(TensorDict& out, std::string prefix, Dtype param_dtype)
      : out_(out), prefix_(std::move(prefix)), dtype_(param_dtype) {}
  void operator()(std::string_view name, Tensor& value, bool) override {
    if (value.defined()) out_[key(name)] = state_copy(value, dtype_);
  }
  void operator()(std::string_view name, std::int64_t& value) override {
    out_[key(name)] = scalar_tensor(static_cast<double>(value), dtype(int64));
  }
  void operator()(std::string_view name, double& value) override { out_[key(name)] = scalar64(value); }
  void operator()(std::string_view name, std::vector<Tensor>& values) override {
    for (std::size_t i = 0; i < values.size(); ++i) {
      out_[fmt::format("{}.{}", key(name), i)] = state_copy(values[i], dtype_);
    }
  }
  void operator()(std::string_view name, std::vector<double>& values) override {
    for (std::size_t i = 0; i < values.size(); ++i) out_[fmt::format("{}.{}", key(name), i)] = scalar64(values[i]);
  }

 private:
  std::string key(std::string_view name) const { return fmt::format("{}{}", prefix_, name); }
  TensorDict& out_;
  std::string prefix_;
  Dtype dtype_;
};

class StateReader : public StateVisitor {
 public:
  StateReader(const TensorDict& dict, std::string prefix, const Tensor& param, std::string_view opt)
      : dict_(dict), prefix_(std::move(prefix)), param_(param), opt_(opt) {}
  void operator()(std::string_view name, Tensor& value, bool like_param) override {
    const std::string k = key(name);
    auto it = dict_.find(k);
    if (it == dict_.end()) {
      value = Tensor();  // optional state (e.g. LBFGS before its first direction)
      return;
    }
    check_tensor(k, it->second, like_param);
    value = state_copy(it->second, param_.dtype());
  }
  void operator()(std::string_view name, std::int64_t& value) override {
    const std::string k = key(name);
    const Tensor& t = find_key(dict_, k, opt_);
    if (t.dtype() != int64 || t.numel() != 1) {
      throw Error(fmt::format("{}: load_state_dict: '{}' must be a 0-d int64 tensor, got {}", opt_, k, t.describe()));
    }
    value = t.item<std::int64_t>();
  }
  void operator()(std::string_view name, double& value) override { value = read_scalar(dict_, key(name), opt_); }
  void operator()(std::string_view name, std::vector<Tensor>& values) override {
    values.clear();
    for (std::size_t i = 0;; ++i) {
      const std::string k = fmt::format("{}.{}", key(name), i);
      auto it = dict_.find(k);
      if (it == dict_.end()) break;
      check_tensor(k, it->second, false);
      values.push_back(state_copy(it->second, param_.dtype()));
    }
  }
  void operator()(std::string_view name, std::vector<double>& values) override {
    values.clear();
    for (std::size_t i = 0;; ++i) {
      const std::string k = fmt::format("{}.{}", key(name), i);
      if (dict_.find(k) == dict_.end()) break;
      values.push_back(read_scalar(dict_, k, opt_));
    }
  }

 private:
  std::string key(std::string_view name) const { return fmt::format("{}{}", prefix_, name); }
  void check_tensor(const std::string& k, const Tensor& t, bool like_param) const {
    if (!t.defined()) throw Error(fmt::format("{}: load_state_dict: key '{}' is undefined", opt_, k));
    const bool dtype_ok = t.dtype() == param_.dtype() || (is_floating(t.dtype()) && is_floating(param_.dtype()));
    if (!dtype_ok || (like_param && t.shape() != param_.shape())) {
      throw Error(fmt::format("{}: load_state_dict: '{}' is {} but its parameter is {}", opt_, k, t.describe(),
                              param_.describe()));
    }
  }
  const TensorDict& dict_;
  std::string prefix_;
  const Tensor& param_;
  std::string_view opt_;
};

}  // namespace

TensorDict Optimizer::state_dict() const {
  TensorDict out;
  std::int64_t index = 0;
  for (std::size_t g = 0; g < param_groups_.size(); ++g) {
    const ParamGroup& group = param_groups_[g];
    const std::string prefix = fmt::format("param_groups.{}.", g);
    std::vector<std::int64_t> ids;
    for (const auto& p : group.params()) {
      ids.push_back(index);
      auto it = state_.find(p.impl().get());
      if (it != state_.end()) {
        StateWriter w(out, fmt::format("state.{}.", index), p.dtype());
        it->second->visit(w);
      }
      ++index;
    }
    out[prefix + "params"] = from_vector(ids, {static_cast<std::int64_t>(ids.size())});
    OptionsWriter ow(out, prefix);
    auto options = group.options().clone();  // visit takes a mutable reference
    options->visit(ow);
    if (group.initial_lr()) out[prefix + "initial_lr"] = scalar64(*group.initial_lr());
  }
  return out;
}

void Optimizer::load_state_dict(const TensorDict& dict) {
  const std::string_view opt = name();
  // Count the groups in the dict and check the layout.
  std::size_t n_groups = 0;
  while (dict.count(fmt::format("param_groups.{}.params", n_groups))) ++n_groups;
  if (n_groups != param_groups_.size()) {
    throw Error(fmt::format("{}: load_state_dict: the state dict has {} parameter groups, the optimizer has {}", opt,
                            n_groups, param_groups_.size()));
  }
  std::vector<Tensor> params;
  for (std::size_t g = 0; g < n_groups; ++g) {
    const Tensor& ids = dict.at(fmt::format("param_groups.{}.params", g));
    if (ids.numel() != static_cast<std::int64_t>(param_groups_[g].params().size())) {
      throw Error(
          fmt::format("{}: load_state_dict: parameter group {} has {} parameters in the state dict, {} in the "
                      "optimizer",
                      opt, g, ids.numel(), param_groups_[g].params().size()));
    }
    params.insert(params.end(), param_groups_[g].params().begin(), param_groups_[g].params().end());
  }
  // Build everything first, then commit: on error the optimizer is unchanged.
  std::vector<std::unique_ptr<OptimizerOptions>> options;
  std::vector<std::optional<double>> initial_lrs;
  for (std::size_t g = 0; g < n_groups; ++g) {
    const std::string prefix = fmt::format("param_groups.{}.", g);
    auto o = param_groups_[g].options().clone();
    OptionsReader r(dict, prefix, opt);
    o->visit(r);
    o->validate();
    options.push_back(std::move(o));
    auto it = dict.find(prefix + "initial_lr");
    initial_lrs.push_back(it == dict.end() ? std::nullopt : std::optional<double>(read_scalar(dict, it->first, opt)));
  }
  std::set<std::size_t> with_state;
  for (const auto& [key, value] : dict) {
    if (key.rfind("state.", 0) != 0) continue;
    const auto dot = key.find('.', 6);
    std::size_t idx = 0;
    try {
      idx = std::stoull(key.substr(6, dot - 6));
    } catch (const std::exception&) {
      throw Error(fmt::format("{}: load_state_dict: malformed key '{}'", opt, key));
    }
    if (idx >= params.size()) {
      throw Error(fmt::format("{}: load_state_dict: key '{}' refers to parameter {}, the optimizer has {}", opt, key,
                              idx, params.size()));
    }
    with_state.insert(idx);
  }
  std::unordered_map<const TensorImpl*, std::unique_ptr<OptimizerParamState>> new_state;
  for (std::size_t idx : with_state) {
    auto s = make_state();
    StateReader r(dict, fmt::format("state.{}.", idx), params[idx], opt);
    s->visit(r);
    new_state[params[idx].impl().get()] = std::move(s);
  }
  for (std::size_t g = 0; g < n_groups; ++g) {
    param_groups_[g].set_options(std::move(options[g]));
    param_groups_[g].initial_lr() = initial_lrs[g];
  }
  state_ = std::move(new_state);
}

void Optimizer::save(const std::string& path) const {
  save_safetensors(path, state_dict(), {{"format", "xgrad.optim"}, {"optimizer", std::string(name())}});
}

void Optimizer::load(const std::string& path) {
  auto file = load_safetensors(path);
  auto it = file.metadata.find("optimizer");
  if (it != file.metadata.end() && it->second != name()) {
    throw Error(fmt::format("{}: load: '{}' holds the state of a {} optimizer", name(), path, it->second));
  }
  load_state_dict(file.tensors);
}

}  // namespace xgrad::optim
