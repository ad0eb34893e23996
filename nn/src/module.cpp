#include "xgrad/nn/module.hpp"

#include <algorithm>
#include <atomic>
#include <map>
#include <ostream>
#include <set>
#include <sstream>

#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/node.hpp"

namespace xgrad::nn {

// ---- HookHandle ----------------------------------------------------------------------------

HookHandle::HookHandle(std::weak_ptr<void> owner, std::function<void()> remover)
    : owner_(std::move(owner)), remover_(std::move(remover)) {}

void HookHandle::remove() {
  if (!remover_) return;
  // The module may be gone already: then its hooks are gone too.
  if (auto alive = owner_.lock()) remover_();
  remover_ = nullptr;
}

namespace {

std::size_t next_hook_id() {
  static std::atomic<std::size_t> counter{0};
  return ++counter;
}

template <class H>
void erase_hook(std::vector<std::pair<std::size_t, H>>& hooks, std::size_t id) {
  std::erase_if(hooks, [id](const auto& h) { return h.first == id; });
}

// Makes `dst` hold the data of `src` (storage, shape, dtype) while keeping dst's identity, so
// every handle to dst (layer members, optimizer parameter lists) sees the change, like
// PyTorch's `param.data = ...`.
void assign_data(const Tensor& dst, const Tensor& src) {
  auto& d = *dst.impl();
  const auto& s = *src.impl();
  const bool changed_meta = d.shape != s.shape || d.dtype != s.dtype;
  d.storage = s.storage;
  d.shape = s.shape;
  d.numel = s.numel;
  d.dtype = s.dtype;
  if (!is_floating(d.dtype)) d.requires_grad = false;
  // A gradient accumulator made for the old shape/dtype must not be reused by new graphs.
  if (changed_meta) d.grad_accumulator.reset();
  if (changed_meta && d.grad.defined()) {
    if (d.grad.shape() == d.shape) {
      NoGradGuard ng;
      d.grad = d.grad.to(d.dtype).detach();
    } else {
      d.grad = Tensor();
    }
  }
}

// Indents every line after the first by `n` spaces (PyTorch's _addindent).
std::string add_indent(const std::string& s, int n) {
  std::string out;
  const std::string pad(static_cast<std::size_t>(n), ' ');
  for (char c : s) {
    out += c;
    if (c == '\n') out += pad;
  }
  return out;
}

template <class Getter>
void collect_named(const Module& m, const std::string& prefix, bool recurse, std::set<const TensorImpl*>& seen,
                   std::vector<std::pair<std::string, Tensor>>& out, Getter get) {
  for (const auto& [name, t] : get(m)) {
    if (!seen.insert(t.impl().get()).second) continue;  // shared tensors are listed once
    out.emplace_back(prefix + name, t);
  }
  if (!recurse) return;
  for (const auto& [name, child] : m.named_children()) collect_named(*child, prefix + name + ".", true, seen, out, get);
}

}  // namespace

// ---- construction, forward, hooks -------------------------------------------------------------

Module::Module(std::string name) : name_(std::move(name)) {}

Tensor Module::forward(const Tensor& /*input*/) {
  throw Error(
      fmt::format("{}: forward(const Tensor&) is not implemented for this module (it either takes several "
                  "inputs, see its own forward overloads, or is a container without a forward)",
                  name_));
}

namespace {

// Shared by the two identity nodes that implement one module call's full backward hooks.
struct BackwardHookState {
  std::vector<BackwardHook> hooks;
  std::shared_ptr<Module> keep_alive;  // the module, when it is owned by a shared_ptr
  Module* module = nullptr;
  Tensor grad_output;
  bool has_input_node = false;

  Tensor run(const Tensor& grad_input) {
    Tensor g = grad_input;
    for (const auto& h : hooks) {
      Tensor r = h(*module, g, grad_output);
      if (r.defined()) {
        if (g.defined() && (r.shape() != g.shape() || r.dtype() != g.dtype()))
          throw Error(fmt::format("{}: full backward hook returned grad_input {} but the gradient is {}",
                                  module->name(), r.describe(), g.describe()));
        g = r;
      }
    }
    grad_output = Tensor();  // no reference cycle through a create_graph gradient
    return g;
  }
};

// An identity op whose backward calls `on_grad` with the incoming gradient.
Tensor identity_hook_node(const Tensor& x, std::function<Tensor(const Tensor&)> on_grad) {
  Tensor y = x.detach();
  record("BackwardHookFunctionBackward", {x}, {y}, {},
         [on_grad = std::move(on_grad)](const std::vector<Tensor>& g, const std::vector<Tensor>&) {
           return std::vector<Tensor>{on_grad(g[0])};
         });
  return y;
}

}  // namespace

Tensor Module::operator()(const Tensor& input) {
  Tensor x = input;
  if (!pre_hooks_.empty()) {
    const auto hooks = pre_hooks_;  // a hook may remove itself
    for (const auto& [id, h] : hooks) {
      Tensor r = h(*this, x);
      if (r.defined()) x = r;
    }
  }

  std::shared_ptr<BackwardHookState> state;
  if (!backward_hooks_.empty() && grad_mode_enabled()) {
    state = std::make_shared<BackwardHookState>();
    for (const auto& [id, h] : backward_hooks_) state->hooks.push_back(h);
    state->keep_alive = weak_from_this().lock();
    state->module = this;
    if (x.defined() && x.requires_grad()) {
      state->has_input_node = true;
      x = identity_hook_node(x, [state](const Tensor& g) { return state->run(g); });
    }
  }

  Tensor out = forward(x);

  if (!forward_hooks_.empty()) {
    const auto hooks = forward_hooks_;
    for (const auto& [id, h] : hooks) {
      Tensor r = h(*this, x, out);
      if (r.defined()) out = r;
    }
  }

  if (state && out.defined() && out.requires_grad()) {
    out = identity_hook_node(out, [state](const Tensor& g) {
      state->grad_output = g;
      // Without an input-side node the gradient never reaches the input: call the hooks now.
      if (!state->has_input_node) state->run(Tensor());
      return g;
    });
  }
  return out;
}

HookHandle Module::register_forward_pre_hook(ForwardPreHook hook) {
  const std::size_t id = next_hook_id();
  pre_hooks_.emplace_back(id, std::move(hook));
  return HookHandle(hook_token_, [this, id] { erase_hook(pre_hooks_, id); });
}

HookHandle Module::register_forward_hook(ForwardHook hook) {
  const std::size_t id = next_hook_id();
  forward_hooks_.emplace_back(id, std::move(hook));
  return HookHandle(hook_token_, [this, id] { erase_hook(forward_hooks_, id); });
}

HookHandle Module::register_full_backward_hook(BackwardHook hook) {
  const std::size_t id = next_hook_id();
  backward_hooks_.emplace_back(id, std::move(hook));
  return HookHandle(hook_token_, [this, id] { erase_hook(backward_hooks_, id); });
}

// ---- registration -------------------------------------------------------------------------------

void Module::check_new_name(const std::string& name, std::string_view what) const {
  if (name.empty()) throw Error(fmt::format("{}: cannot register a {} with an empty name", name_, what));
  if (name.find('.') != std::string::npos)
    throw Error(fmt::format("{}: cannot register {} '{}': names may not contain '.'", name_, what, name));
  auto taken = [&](const auto& reg) {
    return std::any_of(reg.begin(), reg.end(), [&](const auto& e) { return e.first == name; });
  };
  std::string_view existing;
  if (taken(parameters_)) existing = "parameter";
  if (taken(buffers_)) existing = "buffer";
  if (taken(children_)) existing = "module";
  if (!existing.empty())
    throw Error(
        fmt::format("{}: cannot register {} '{}': a {} with that name already exists", name_, what, name, existing));
}

Tensor Module::register_parameter(const std::string& name, Tensor tensor, bool requires_grad) {
  check_new_name(name, "parameter");
  if (!tensor.defined())
    throw Error(fmt::format("{}: cannot register parameter '{}': the tensor is undefined", name_, name));
  if (!tensor.is_leaf()) tensor = tensor.detach();
  if (is_floating(tensor.dtype())) tensor.requires_grad_(requires_grad);
  parameters_.emplace_back(name, std::move(tensor));
  return parameters_.back().second;
}

Tensor Module::register_buffer(const std::string& name, Tensor tensor) {
  check_new_name(name, "buffer");
  if (!tensor.defined())
    throw Error(fmt::format("{}: cannot register buffer '{}': the tensor is undefined", name_, name));
  if (tensor.requires_grad()) tensor = tensor.detach();
  buffers_.emplace_back(name, std::move(tensor));
  return buffers_.back().second;
}

void Module::register_module_impl(const std::string& name, std::shared_ptr<Module> module) {
  check_new_name(name, "module");
  if (!module) throw Error(fmt::format("{}: cannot register module '{}': the pointer is null", name_, name));
  if (module.get() == this) throw Error(fmt::format("{}: cannot register module '{}' as its own child", name_, name));
  children_.emplace_back(name, std::move(module));
}

void Module::set_tensor(const std::string& name, const Tensor& tensor) {
  detail::check_defined(tensor, "set_tensor");
  for (auto* reg : {&parameters_, &buffers_}) {
    for (auto& [n, t] : *reg) {
      if (n != name) continue;
      const bool is_param = reg == &parameters_;
      if (is_param && !is_floating(tensor.dtype()) && t.requires_grad())
        throw Error(fmt::format("{}: set_tensor('{}'): parameter requires grad but the new tensor is {}", name_, name,
                                tensor.describe()));
      assign_data(t, tensor.detach());
      return;
    }
  }
  throw Error(fmt::format("{}: set_tensor: no parameter or buffer named '{}'", name_, name));
}

// ---- access -------------------------------------------------------------------------------------

std::vector<std::pair<std::string, Tensor>> Module::named_parameters(bool recurse) const {
  std::vector<std::pair<std::string, Tensor>> out;
  std::set<const TensorImpl*> seen;
  collect_named(
      *this, "", recurse, seen, out, [](const Module& m) -> const auto& { return m.parameters_; });
  return out;
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_parameters(recurse)) out.push_back(t);
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers(bool recurse) const {
  std::vector<std::pair<std::string, Tensor>> out;
  std::set<const TensorImpl*> seen;
  collect_named(
      *this, "", recurse, seen, out, [](const Module& m) -> const auto& { return m.buffers_; });
  return out;
}

std::vector<Tensor> Module::buffers(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_buffers(recurse)) out.push_back(t);
  return out;
}

std::vector<std::shared_ptr<Module>> Module::children() const {
  std::vector<std::shared_ptr<Module>> out;
  for (const auto& [n, c] : children_) out.push_back(c);
  return out;
}

std::vector<std::pair<std::string, std::shared_ptr<Module>>> Module::named_children() const { return children_; }

std::vector<std::pair<std::string, std::shared_ptr<Module>>> Module::named_modules() {
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> out;
  std::set<const Module*> seen;
  // Explicit stack (depth first, children in registration order): deep nests must not recurse.
  std::shared_ptr<Module> self = weak_from_this().lock();
  if (!self) self = std::shared_ptr<Module>(this, [](Module*) {});  // not owned by a shared_ptr
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> stack{{"", self}};
  while (!stack.empty()) {
    auto [prefix, m] = std::move(stack.back());
    stack.pop_back();
    if (!seen.insert(m.get()).second) continue;
    out.emplace_back(prefix, m);
    for (auto it = m->children_.rbegin(); it != m->children_.rend(); ++it)
      stack.emplace_back(prefix.empty() ? it->first : prefix + "." + it->first, it->second);
  }
  return out;
}

std::vector<std::shared_ptr<Module>> Module::modules() {
  std::vector<std::shared_ptr<Module>> out;
  for (auto& [n, m] : named_modules()) out.push_back(m);
  return out;
}

// ---- modes and utilities --------------------------------------------------------------------------

void Module::train(bool on) {
  training_ = on;
  for (auto& [n, c] : children_) c->train(on);
}

void Module::zero_grad(bool set_to_none) {
  for (const Tensor& p : parameters()) {
    if (!p.grad().defined()) continue;
    if (set_to_none) {
      p.set_grad(Tensor());
    } else {
      NoGradGuard ng;
      Tensor g = p.grad();
      if (g.requires_grad()) g = g.detach();  // a create_graph gradient: drop its history
      g.zero_();
      p.set_grad(g);
    }
  }
}

void Module::to(Dtype dtype) {
  if (!is_floating(dtype))
    throw Error(fmt::format("{}: to({}): modules convert only to a floating dtype", name_, dtype));
  NoGradGuard ng;
  for (auto& [n, m] : named_modules()) {
    for (auto* reg : {&m->parameters_, &m->buffers_}) {
      for (auto& [name, t] : *reg) {
        if (!is_floating(t.dtype()) || t.dtype() == dtype) continue;
        assign_data(t, t.detach().to(dtype));
      }
    }
  }
}

void Module::apply(const std::function<void(Module&)>& fn) {
  for (auto& [n, c] : children_) c->apply(fn);
  fn(*this);
}

std::int64_t Module::num_parameters() const {
  std::int64_t n = 0;
  for (const Tensor& p : parameters()) n += p.numel();
  return n;
}

// ---- state -------------------------------------------------------------------------------------------

TensorDict Module::state_dict() const {
  TensorDict out;
  // Not deduplicated (like PyTorch): a shared tensor appears under each of its names.
  std::vector<std::pair<std::string, const Module*>> stack{{"", this}};
  while (!stack.empty()) {
    auto [prefix, m] = stack.back();
    stack.pop_back();
    for (const auto& [n, t] : m->parameters_) out.emplace(prefix + n, t.detach());
    for (const auto& [n, t] : m->buffers_) out.emplace(prefix + n, t.detach());
    for (const auto& [n, c] : m->children_) stack.emplace_back(prefix + n + ".", c.get());
  }
  return out;
}

void Module::load_state_dict(const TensorDict& dict, bool strict) {
  // Collect every registered tensor by dotted name.
  std::vector<std::pair<std::string, Tensor>> own;
  std::vector<std::pair<std::string, const Module*>> stack{{"", this}};
  while (!stack.empty()) {
    auto [prefix, m] = stack.back();
    stack.pop_back();
    for (const auto& [n, t] : m->parameters_) own.emplace_back(prefix + n, t);
    for (const auto& [n, t] : m->buffers_) own.emplace_back(prefix + n, t);
    for (const auto& [n, c] : m->children_) stack.emplace_back(prefix + n + ".", c.get());
  }
  std::sort(own.begin(), own.end(), [](const auto& a, const auto& b) { return a.first < b.first; });

  std::vector<std::string> missing, unexpected, mismatched;
  std::set<std::string> own_names;
  for (const auto& [name, t] : own) {
    own_names.insert(name);
    auto it = dict.find(name);
    if (it == dict.end()) {
      missing.push_back(name);
      continue;
    }
    const Tensor& src = it->second;
    if (!src.defined()) {
      mismatched.push_back(fmt::format("'{}' is undefined in the state dict", name));
    } else if (src.shape() != t.shape()) {
      mismatched.push_back(
          fmt::format("'{}': shape {} in the state dict, {} in the module", name, src.shape(), t.shape()));
    } else if (src.dtype() != t.dtype()) {
      mismatched.push_back(
          fmt::format("'{}': dtype {} in the state dict, {} in the module", name, src.dtype(), t.dtype()));
    }
  }
  for (const auto& [name, t] : dict)
    if (!own_names.count(name)) unexpected.push_back(name);

  if (!mismatched.empty() || (strict && (!missing.empty() || !unexpected.empty()))) {
    std::string msg = fmt::format("{}: load_state_dict failed:", name_);
    if (strict && !missing.empty()) msg += fmt::format("\n  missing keys: {}", fmt::join(missing, ", "));
    if (strict && !unexpected.empty()) msg += fmt::format("\n  unexpected keys: {}", fmt::join(unexpected, ", "));
    for (const auto& m : mismatched) msg += "\n  mismatch: " + m;
    throw Error(msg);
  }

  NoGradGuard ng;
  for (auto& [name, t] : own) {
    auto it = dict.find(name);
    if (it == dict.end()) continue;
    Tensor dst = t;
    if (it->second.is_same(dst)) continue;
    dst.copy_(it->second.detach());
  }
}

void Module::save(const std::string& path, const Metadata& metadata) const {
  save_safetensors(path, state_dict(), metadata);
}

void Module::load(const std::string& path, bool strict) { load_state_dict(load_safetensors(path).tensors, strict); }

// ---- printing -------------------------------------------------------------------------------------

std::string Module::repr() const {
  const std::string extra = extra_repr();
  std::vector<std::string> lines;
  if (!extra.empty()) {
    std::istringstream in(extra);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
  }
  const std::size_t n_extra = lines.size();
  for (const auto& [n, c] : children_) lines.push_back(fmt::format("({}): {}", n, add_indent(c->repr(), 2)));
  std::string s = name_ + "(";
  if (!lines.empty()) {
    if (n_extra == 1 && children_.empty()) {
      s += lines[0];
    } else {
      s += "\n  " + fmt::format("{}", fmt::join(lines, "\n  ")) + "\n";
    }
  }
  return s + ")";
}

std::ostream& operator<<(std::ostream& os, const Module& m) { return os << m.repr(); }

std::string Module::summary(const Shape& input_shape, Dtype dtype) {
  auto mods = named_modules();
  std::map<const Module*, std::string> shapes;
  std::vector<HookHandle> handles;
  std::vector<bool> modes;
  for (auto& [n, m] : mods) {
    modes.push_back(m->training_);
    handles.push_back(m->register_forward_hook([&shapes](Module& mod, const Tensor&, const Tensor& out) {
      shapes[&mod] = out.defined() ? fmt::format("{}", out.shape()) : std::string("-");
      return Tensor();
    }));
  }
  auto restore = [&] {
    for (auto& h : handles) h.remove();
    for (std::size_t i = 0; i < mods.size(); ++i) mods[i].second->training_ = modes[i];
  };
  try {
    NoGradGuard ng;
    eval();  // a summary must not update running statistics or draw dropout masks
    (*this)(zeros(input_shape, xgrad::dtype(dtype)));
  } catch (...) {
    restore();
    throw;
  }
  restore();

  struct Row {
    std::string layer, shape, params;
  };
  std::vector<Row> rows;
  rows.push_back({"Layer (type)", "Output shape", "Param #"});
  for (auto& [n, m] : mods) {
    const auto depth = n.empty() ? 0 : std::count(n.begin(), n.end(), '.') + 1;
    std::string label = n.empty() ? m->name()
                                  : std::string(static_cast<std::size_t>(2 * (depth - 1)), ' ') +
                                        n.substr(n.rfind('.') == std::string::npos ? 0 : n.rfind('.') + 1) + " (" +
                                        m->name() + ")";
    auto it = shapes.find(m.get());
    rows.push_back({label, it == shapes.end() ? "-" : it->second, fmt::format("{}", m->num_parameters())});
  }
  std::size_t w0 = 0, w1 = 0, w2 = 0;
  for (const auto& r : rows) {
    w0 = std::max(w0, r.layer.size());
    w1 = std::max(w1, r.shape.size());
    w2 = std::max(w2, r.params.size());
  }
  const std::size_t width = w0 + w1 + w2 + 4;
  std::string out;
  const std::string rule(width, '=');
  out += rule + "\n";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    out += fmt::format("{:<{}}  {:<{}}  {:>{}}\n", rows[i].layer, w0, rows[i].shape, w1, rows[i].params, w2);
    if (i == 0) out += std::string(width, '-') + "\n";
  }
  out += rule + "\n";
  out += fmt::format("Total params: {}\n", num_parameters());
  std::int64_t trainable = 0;
  for (const Tensor& p : parameters())
    if (p.requires_grad()) trainable += p.numel();
  out += fmt::format("Trainable params: {}\n", trainable);
  out += fmt::format("Input shape: {}\n", input_shape);
  return out;
}

}  // namespace xgrad::nn
