#include "xgrad/nn/functional_call.hpp"

#include <algorithm>
#include <mutex>
#include <set>
#include <unordered_map>

#include "xgrad/nn/conv.hpp"
#include "xgrad/nn/embedding.hpp"
#include "xgrad/nn/layer_norm.hpp"
#include "xgrad/nn/linear.hpp"
#include "xgrad/nn/multihead_attention.hpp"
#include "xgrad/nn/normalization.hpp"
#include "xgrad/nn/rnn.hpp"
#include "xgrad/nn/transformer.hpp"

namespace xgrad::nn {

namespace {

// Write access to a module's registries (protected members of Module).
struct RegistryAccess : Module {
  using Registry = std::vector<std::pair<std::string, Tensor>>;
  static Registry& parameters(Module& m) { return m.*(&RegistryAccess::parameters_); }
  static Registry& buffers(Module& m) { return m.*(&RegistryAccess::buffers_); }
};

using SlotFn = std::function<TensorSlots(Module&)>;

template <class M>
void add(std::unordered_map<std::type_index, SlotFn>& table, std::function<TensorSlots(M&)> f) {
  table[typeid(M)] = [f = std::move(f)](Module& m) { return f(static_cast<M&>(m)); };
}

template <class M>
void add_weight_bias(std::unordered_map<std::type_index, SlotFn>& table) {
  add<M>(table, [](M& m) { return TensorSlots{&m.weight, &m.bias}; });
}

template <class M>
void add_norm_with_stats(std::unordered_map<std::type_index, SlotFn>& table) {
  add<M>(table, [](M& m) {
    return TensorSlots{&m.weight, &m.bias, &m.running_mean, &m.running_var, &m.num_batches_tracked};
  });
}

template <class M>
void add_cell(std::unordered_map<std::type_index, SlotFn>& table) {
  add<M>(table, [](M& m) { return TensorSlots{&m.weight_ih, &m.weight_hh, &m.bias_ih, &m.bias_hh}; });
}

template <class M>
void add_rnn(std::unordered_map<std::type_index, SlotFn>& table) {
  add<M>(table, [](M& m) {
    // Layers and directions as registered: weight_ih_l<k> and weight_ih_l0_reverse.
    std::set<std::string> names;
    for (const auto& [n, t] : m.named_parameters(false)) names.insert(n);
    const std::int64_t directions = names.count("weight_ih_l0_reverse") ? 2 : 1;
    TensorSlots slots;
    for (std::int64_t l = 0; names.count(fmt::format("weight_ih_l{}", l)); ++l)
      for (std::int64_t d = 0; d < directions; ++d) {
        // layer_params returns a const view of the layer's handles; the module itself is not const.
        auto& p = const_cast<RNNLayerParams&>(m.layer_params(l, d));
        for (Tensor* t : {&p.w_ih, &p.w_hh, &p.b_ih, &p.b_hh, &p.w_hr}) slots.push_back(t);
      }
    return slots;
  });
}

struct SlotTable {
  std::mutex mutex;
  std::unordered_map<std::type_index, SlotFn> table;

  SlotTable() {
    add_weight_bias<Linear>(table);
    add_weight_bias<Bilinear>(table);
    add_weight_bias<ConvNd<1>>(table);
    add_weight_bias<ConvNd<2>>(table);
    add_weight_bias<ConvNd<3>>(table);
    add_weight_bias<ConvTransposeNd<1>>(table);
    add_weight_bias<ConvTransposeNd<2>>(table);
    add_weight_bias<GroupNorm>(table);
    add_weight_bias<LayerNorm>(table);
    add<RMSNorm>(table, [](RMSNorm& m) { return TensorSlots{&m.weight}; });
    add_norm_with_stats<BatchNorm1d>(table);
    add_norm_with_stats<BatchNorm2d>(table);
    add_norm_with_stats<BatchNorm3d>(table);
    add_norm_with_stats<InstanceNorm1d>(table);
    add_norm_with_stats<InstanceNorm2d>(table);
    add_norm_with_stats<InstanceNorm3d>(table);
    add<Embedding>(table, [](Embedding& m) { return TensorSlots{&m.weight}; });
    add<EmbeddingBag>(table, [](EmbeddingBag& m) { return TensorSlots{&m.weight}; });
    add<MultiheadAttention>(table, [](MultiheadAttention& m) {
      return TensorSlots{&m.in_proj_weight, &m.q_proj_weight, &m.k_proj_weight, &m.v_proj_weight,
                         &m.in_proj_bias,   &m.bias_k,        &m.bias_v};
    });
    add_cell<RNNCell>(table);
    add_cell<LSTMCell>(table);
    add_cell<GRUCell>(table);
    add_rnn<RNN>(table);
    add_rnn<LSTM>(table);
    add_rnn<GRU>(table);
    add<SinusoidalPositionalEncoding>(table, [](SinusoidalPositionalEncoding& m) { return TensorSlots{&m.pe}; });
    add<LearnedPositionalEncoding>(table, [](LearnedPositionalEncoding& m) { return TensorSlots{&m.weight}; });
  }
};

SlotTable& slot_table() {
  static SlotTable t;
  return t;
}

// The slots of m's exact dynamic type, or nullopt when the type is unknown.
std::optional<TensorSlots> slots_of(Module& m) {
  SlotFn fn;
  {
    auto& t = slot_table();
    std::lock_guard lock(t.mutex);
    auto it = t.table.find(typeid(m));
    if (it == t.table.end()) return std::nullopt;
    fn = it->second;
  }
  return fn(m);
}

std::string join_names(const std::vector<std::string>& names) {
  std::vector<std::string> quoted;
  for (const auto& n : names) quoted.push_back("'" + n + "'");
  return fmt::format("{}", fmt::join(quoted, ", "));
}

}  // namespace

namespace detail {

void register_functional_slots(std::type_index type, std::function<TensorSlots(Module&)> slots) {
  auto& t = slot_table();
  std::lock_guard lock(t.mutex);
  t.table[type] = std::move(slots);
}

FunctionalCallScope::FunctionalCallScope(Module& module, const std::map<std::string, Tensor>& tensors, bool strict)
    : module_name_(module.name()) {
  try {
    setup(module, tensors, strict);
  } catch (...) {
    restore();
    throw;
  }
  // Baselines for finish(): every local handle of setup() is gone by now.
  for (auto& p : patched_) p.baseline = p.target.use_count();
}

void FunctionalCallScope::setup(Module& module, const std::map<std::string, Tensor>& tensors, bool strict) {
  // Every registered tensor under every dotted name, and who holds it (module, local name).
  struct Holder {
    Module* module;
  };
  std::map<std::string, Tensor> own;
  std::vector<std::string> own_order;
  std::unordered_map<const TensorImpl*, std::vector<Holder>> holders;
  auto mods = module.named_modules();
  for (auto& [prefix, m] : mods) {
    for (auto* list : {&RegistryAccess::parameters(*m), &RegistryAccess::buffers(*m)})
      for (auto& [n, t] : *list) {
        const std::string full = prefix.empty() ? n : prefix + "." + n;
        if (own.emplace(full, t).second) own_order.push_back(full);
        holders[t.impl().get()].push_back({m.get()});
      }
  }

  // Validate the names and the given tensors.
  std::vector<std::string> unexpected, missing;
  for (const auto& [name, t] : tensors)
    if (!own.count(name)) unexpected.push_back(name);
  if (!unexpected.empty())
    throw Error(fmt::format("functional_call: {} has no parameter or buffer named {} (it has: {})", module_name_,
                            join_names(unexpected),
                            own_order.empty() ? "none" : fmt::format("{}", fmt::join(own_order, ", "))));
  if (strict) {
    for (const auto& n : own_order)
      if (!tensors.count(n)) missing.push_back(n);
    if (!missing.empty())
      throw Error(
          fmt::format("functional_call: strict: no tensor given for {} of {}", join_names(missing), module_name_));
  }
  // impl of the module's tensor -> (given tensor, the name it was given under)
  std::unordered_map<const TensorImpl*, std::pair<Tensor, std::string>> subs;
  for (const auto& [name, given] : tensors) {
    if (!given.defined())
      throw Error(fmt::format("functional_call: the tensor given for '{}' of {} is undefined", name, module_name_));
    const Tensor& target = own.at(name);
    auto [it, inserted] = subs.emplace(target.impl().get(), std::make_pair(given, name));
    if (!inserted && !it->second.first.is_same(given))
      throw Error(fmt::format(
          "functional_call: '{}' and '{}' are the same (tied) tensor of {} but were given different tensors",
          it->second.second, name, module_name_));
  }
  for (auto it = subs.begin(); it != subs.end();) {
    if (it->second.first.impl().get() == it->first) {
      it = subs.erase(it);  // the module's own tensor: nothing to substitute
    } else {
      ++it;
    }
  }
  if (subs.empty()) return;

  // Plan the rebinding: registry entries and the known member fields holding a substituted
  // tensor. Each slot is decided once, on its value before any change.
  std::vector<std::pair<Tensor*, Tensor>> plan;
  std::set<Tensor*> planned;
  std::set<std::pair<const Module*, const TensorImpl*>> covered;  // (module, tensor) with its fields known
  auto consider = [&](Tensor* slot) {
    if (!slot->defined() || planned.count(slot)) return false;
    auto it = subs.find(slot->impl().get());
    if (it == subs.end()) return false;
    planned.insert(slot);
    plan.emplace_back(slot, it->second.first);
    return true;
  };
  for (auto& [prefix, m] : mods) {
    if (auto slots = slots_of(*m)) {
      for (Tensor* s : *slots) {
        const TensorImpl* impl = s->defined() ? s->impl().get() : nullptr;
        if (consider(s)) covered.emplace(m.get(), impl);
      }
    }
    for (auto* list : {&RegistryAccess::parameters(*m), &RegistryAccess::buffers(*m)})
      for (auto& [n, t] : *list) consider(&t);
  }

  // Tensors held by a module whose fields are unknown: substitute their contents (fallback).
  std::vector<std::pair<std::shared_ptr<TensorImpl>, Tensor>> patch;  // (module's impl, given)
  for (const auto& [impl, given] : subs) {
    const auto& hs = holders.at(impl);
    auto uncovered = std::find_if(hs.begin(), hs.end(), [&](const Holder& h) {
      return !covered.count({h.module, impl});
    });
    if (uncovered == hs.end()) continue;
    patch.emplace_back(own.at(given.second).impl(), given.first);
    // The owner reported in a retained-handle error: the first module whose fields are unknown.
    patched_.push_back({nullptr, TensorImpl{}, 0, given.second, uncovered->module->name()});
  }

  // Apply. Contents are copied before any is written (a given tensor may itself be patched).
  std::vector<TensorImpl> contents;
  contents.reserve(patch.size());
  for (const auto& [target, given] : patch) {
    // A given leaf gets its gradient accumulator now, so the patched contents (which share
    // its weak handle) route gradients to the given leaf and not to a new accumulator for
    // the module's TensorImpl.
    if (given.requires_grad() && given.is_leaf()) keep_.push_back(gradient_edge(given));
    contents.push_back(*given.impl());
  }
  for (auto& [slot, given] : plan) {
    rebound_.push_back({slot, *slot});
    *slot = given;
  }
  for (std::size_t i = 0; i < patch.size(); ++i) {
    patched_[i].target = patch[i].first;
    patched_[i].saved = std::move(*patch[i].first);
    *patch[i].first = std::move(contents[i]);
  }
}

void FunctionalCallScope::finish() {
  for (const auto& p : patched_) {
    if (p.target.use_count() > p.baseline)
      throw Error(fmt::format(
          "functional_call: the computation kept a handle to '{}' of {} (saved for backward, a view of it, or the "
          "result itself), which belongs to a module of type {} whose member fields functional_call does not "
          "know; its result would read the module's own values later. Register the type's fields with "
          "nn::register_functional_slots<{}>",
          p.name, module_name_, p.owner, p.owner));
  }
}

void FunctionalCallScope::restore() noexcept {
  if (restored_) return;
  restored_ = true;
  for (auto it = patched_.rbegin(); it != patched_.rend(); ++it)
    if (it->target) *it->target = std::move(it->saved);
  for (auto it = rebound_.rbegin(); it != rebound_.rend(); ++it) *it->slot = std::move(it->old);
  keep_.clear();
}

FunctionalCallScope::~FunctionalCallScope() { restore(); }

}  // namespace detail

Tensor functional_call(Module& module, const std::map<std::string, Tensor>& tensors, const Tensor& input, bool strict) {
  return functional_call(
      module, tensors, [&] { return module(input); }, strict);
}

}  // namespace xgrad::nn
