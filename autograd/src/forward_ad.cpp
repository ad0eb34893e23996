#include "xgrad/autograd/forward_ad.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <mutex>
#include <string_view>
#include <unordered_map>

#include "xgrad/autograd/autograd.hpp"
#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/linalg.hpp"
#include "xgrad/autograd/node.hpp"
#include "xgrad/autograd/reduction.hpp"
#include "xgrad/autograd/shape.hpp"

namespace xgrad {

namespace {

// Tangents live in a side table while a level is open (no field in TensorImpl, so tensors
// pay nothing outside forward mode), one per Storage: a flat tangent with one element per
// storage element, so every alias of the storage (views, the base after an in-place op
// through a view) reads its tangent as the same strided window of it:
// tangent(t) = as_strided(flat, t.shape, t.strides, t.storage_offset). The weak_ptr detects a
// dead storage (storages are make_shared, so the address is not reused while it lives).
struct Entry {
  std::weak_ptr<Storage> owner;
  Tensor flat;
};

std::atomic<bool> g_level_open{false};
std::mutex g_mutex;
std::unordered_map<const Storage*, Entry> g_tangents;
std::size_t g_purge_at = 1024;
thread_local int t_in_rule = 0;  // > 0 while this thread evaluates a forward rule

struct RuleScope {
  RuleScope() { ++t_in_rule; }
  ~RuleScope() { --t_in_rule; }
};

Tensor flat_of(const Storage* key) {
  std::lock_guard lock(g_mutex);
  auto it = g_tangents.find(key);
  if (it == g_tangents.end()) return {};
  if (it->second.owner.expired()) {
    g_tangents.erase(it);
    return {};
  }
  return it->second.flat;
}

void set_flat(const Tensor& t, Tensor flat) {
  std::lock_guard lock(g_mutex);
  if (g_tangents.size() >= g_purge_at) {
    std::erase_if(g_tangents, [](const auto& kv) { return kv.second.owner.expired(); });
    g_purge_at = std::max<std::size_t>(1024, 2 * g_tangents.size());
  }
  g_tangents[t.impl()->storage.get()] = Entry{t.impl()->storage, std::move(flat)};
}

std::int64_t storage_elements(const Tensor& t) {
  return static_cast<std::int64_t>(t.impl()->storage->nbytes / dtype_size(t.dtype()));
}

Tensor window(const Tensor& flat, const Tensor& t) {
  return as_strided(flat, t.shape(), t.strides(), t.storage_offset());
}

Tensor tangent_of(const Tensor& t) {
  if (!t.defined()) return {};
  Tensor flat = flat_of(t.impl()->storage.get());
  if (!flat.defined()) return {};
  NoGradGuard ng;
  return window(flat, t);
}

// Gives t's storage a fresh flat tangent holding `tangent` in t's window (zeros elsewhere).
void store(const Tensor& t, const Tensor& tangent) {
  NoGradGuard ng;
  const std::int64_t n = storage_elements(t);
  Tensor flat;
  if (t.is_contiguous() && t.storage_offset() == 0 && t.numel() == n) {
    flat = tangent.to(t.dtype()).contiguous().reshape({n}).clone();
  } else {
    flat = zeros({n}, dtype(t.dtype()));
    window(flat, t).copy_(tangent);
  }
  set_flat(t, std::move(flat));
}

// Writes `tangent` (undefined: zeros) into t's window of its storage's flat tangent, in place,
// creating a zero flat tangent first when the storage has none (an in-place op).
void write_window(const Tensor& t, const Tensor& tangent) {
  NoGradGuard ng;
  Tensor flat = flat_of(t.impl()->storage.get());
  if (!flat.defined()) {
    if (!tangent.defined()) return;
    flat = zeros({storage_elements(t)}, dtype(t.dtype()));
    set_flat(t, flat);
  }
  Tensor w = window(flat, t);
  if (tangent.defined())
    w.copy_(tangent);
  else
    w.zero_();
}

// Unary ops whose Jacobian is diagonal: J t = B(t). Names as recorded (sorted).
constexpr std::array<std::string_view, 29> kElementWiseForward = {
    "AbsBackward",   "AddBackward",     "ClampBackward",   "CosBackward",     "DigammaBackward", "DivBackward",
    "ErfBackward",   "ErfcBackward",    "ErfinvBackward",  "ExpBackward",     "FracBackward",    "LgammaBackward",
    "Log1pBackward", "LogBackward",     "MulBackward",     "NanToNumBackward", "NegBackward",    "PolygammaBackward",
    "PowBackward",   "RdivBackward",    "ReluBackward",    "RoundBackward",   "RsqrtBackward",   "RsubBackward",
    "SigmoidBackward", "SinBackward",   "SqrtBackward",    "TanhBackward",    "TruncBackward"};

bool element_wise_unary(const std::string& op, const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs) {
  if (inputs.size() != 1 || outputs.size() != 1 || !inputs[0].defined()) return false;
  if (inputs[0].shape() != outputs[0].shape() || inputs[0].dtype() != outputs[0].dtype()) return false;
  return std::binary_search(kElementWiseForward.begin(), kElementWiseForward.end(), std::string_view(op));
}

// Binary ops whose forward derivative needs nothing but the inputs and the output (their
// backward closures hold no parameters): the rules are written out, one product each instead
// of the generic rule's backward with a graph plus a reverse pass.
//   matmul, dot: d(a b) = da b + a db;   a * b: da b + a db;   a / b: (da - out db) / b.
Tensor binary_rule(const std::string& op, const std::vector<Tensor>& in, const Tensor& out,
                   const std::vector<Tensor>& t) {
  if (in.size() != 2 || !in[0].defined() || !in[1].defined()) return {};
  const Tensor &a = in[0], &b = in[1], &ta = t[0], &tb = t[1];
  auto plus = [](const Tensor& x, const Tensor& y) { return !x.defined() ? y : !y.defined() ? x : add(x, y); };
  Tensor r;
  if (op == "MatmulBackward" || op == "DotBackward") {
    r = plus(ta.defined() ? matmul(ta, b) : Tensor(), tb.defined() ? matmul(a, tb) : Tensor());
  } else if (op == "MulBackward") {
    r = plus(ta.defined() ? mul(ta, b) : Tensor(), tb.defined() ? mul(a, tb) : Tensor());
  } else if (op == "DivBackward") {
    const Tensor num = plus(ta, tb.defined() ? neg(mul(out, tb)) : Tensor());
    r = div(num, b);
  } else {
    return {};
  }
  return r.shape() == out.shape() ? r : r.expand(out.shape());
}

std::vector<Tensor> detached(const std::vector<Tensor>& ts) {
  std::vector<Tensor> r;
  r.reserve(ts.size());
  for (const Tensor& t : ts) r.push_back(t.defined() ? t.detach() : Tensor());
  return r;
}

// An output that aliases a dual input's storage (a view op) already reads its tangent
// through the flat tangent: the rule's result equals that window, so nothing is stored.
void store_result(const std::vector<Tensor>& inputs, const Tensor& out, const Tensor& tangent) {
  for (const Tensor& in : inputs)
    if (in.defined() && in.impl()->storage == out.impl()->storage && flat_of(out.impl()->storage.get()).defined())
      return;
  store(out, tangent);
}

}  // namespace

namespace autograd::forward_ad {

DualLevel::DualLevel() {
  bool expected = false;
  if (!g_level_open.compare_exchange_strong(expected, true))
    throw Error("forward_ad::DualLevel: nested forward-mode AD levels are not supported (one level is already open)");
}

DualLevel::~DualLevel() {
  std::unordered_map<const Storage*, Entry> dropped;
  {
    std::lock_guard lock(g_mutex);
    dropped.swap(g_tangents);
    g_purge_at = 1024;
  }
  g_level_open.store(false);
}  // tangents are released here, outside the lock

bool is_active() { return g_level_open.load(std::memory_order_relaxed); }

Tensor make_dual(const Tensor& primal, const Tensor& tangent) {
  if (!is_active()) throw Error("make_dual: no forward-mode AD level is open; create a forward_ad::DualLevel first");
  detail::check_defined(primal, "make_dual (primal)");
  detail::check_defined(tangent, "make_dual (tangent)");
  if (!is_floating(primal.dtype()))
    throw Error(fmt::format("make_dual: the primal must be float32 or float64 to carry a tangent, got {} of shape {}",
                            primal.dtype(), primal.shape()));
  if (tangent.shape() != primal.shape())
    throw Error(fmt::format("make_dual: the tangent's shape {} differs from the primal's {}", tangent.shape(),
                            primal.shape()));
  if (tangent.dtype() != primal.dtype())
    throw Error(fmt::format("make_dual: the tangent's dtype {} differs from the primal's {} (shape {})",
                            tangent.dtype(), primal.dtype(), primal.shape()));
  // A copy (PyTorch returns a view): tangents belong to storages, and the primal's own storage
  // must stay without one. clone() is differentiable, so reverse gradients still reach primal.
  Tensor dual;
  if (primal.requires_grad() && grad_mode_enabled()) {
    dual = primal.clone();
  } else {
    dual = primal.detach().clone();
    dual.requires_grad_(true);
  }
  store(dual, tangent.detach());
  return dual;
}

UnpackedDual unpack_dual(const Tensor& t) {
  detail::check_defined(t, "unpack_dual");
  return {t, is_active() ? tangent_of(t) : Tensor()};
}

}  // namespace autograd::forward_ad

namespace detail {

bool forward_ad_enabled() { return g_level_open.load(std::memory_order_relaxed) && t_in_rule == 0; }

bool any_has_tangent(const std::vector<Tensor>& ts) {
  if (!forward_ad_enabled()) return false;
  return std::any_of(ts.begin(), ts.end(), [](const Tensor& t) { return tangent_of(t).defined(); });
}

void forward_ad_propagate(const std::string& op, const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs,
                          const std::vector<Tensor>& to_save,
                          const std::function<std::vector<Tensor>(const std::vector<Tensor>&,
                                                                  const std::vector<Tensor>&)>& backward) {
  std::vector<Tensor> tangents;
  tangents.reserve(inputs.size());
  bool any = false;
  for (const Tensor& in : inputs) {
    tangents.push_back(tangent_of(in));
    any = any || tangents.back().defined();
  }
  if (!any) return;
  RuleScope scope;  // ops run by the rule itself propagate nothing
  const std::vector<Tensor> saved = detached(to_save);

  if (element_wise_unary(op, inputs, outputs)) {
    NoGradGuard ng;
    std::vector<Tensor> r = backward({tangents[0]}, saved);
    if (r.size() != 1 || !r[0].defined())
      throw Error(fmt::format("forward-mode AD: {} gave no derivative for its input of shape {}", op,
                              inputs[0].shape()));
    store_result(inputs, outputs[0], r[0]);
    return;
  }

  if (outputs.size() == 1) {
    NoGradGuard ng;
    if (Tensor r = binary_rule(op, detached(inputs), outputs[0].detach(), tangents); r.defined()) {
      store_result(inputs, outputs[0], r);
      return;
    }
  }

  // J t = d/du <B(u), t>: B(u) = J^T u is linear in u, so this is exact.
  GradModeGuard on(true);
  std::vector<Tensor> us;
  us.reserve(outputs.size());
  std::vector<Tensor> wrt;
  std::vector<std::size_t> wrt_index;
  for (std::size_t j = 0; j < outputs.size(); ++j) {
    // B is linear, so any u gives the same derivative; ones rather than zeros because some
    // backward formulas are only piecewise smooth in g, with the pieces meeting at g = 0
    // (logcumsumexp splits g by sign).
    const bool floating = is_floating(outputs[j].dtype());
    Tensor u = floating ? ones(outputs[j].shape(), dtype(outputs[j].dtype()))
                        : zeros(outputs[j].shape(), dtype(outputs[j].dtype()));
    if (floating) {
      u.requires_grad_(true);
      wrt.push_back(u);
      wrt_index.push_back(j);
    }
    us.push_back(u);
  }
  if (wrt.empty()) return;
  const std::vector<Tensor> r = backward(us, saved);
  Tensor s;
  for (std::size_t i = 0; i < inputs.size() && i < r.size(); ++i) {
    if (!tangents[i].defined() || !r[i].defined()) continue;
    const Tensor term = sum(mul(r[i], tangents[i].to(r[i].dtype())));
    s = s.defined() ? add(s, term) : term;
  }
  if (!s.defined()) return;  // the outputs do not depend on the dual inputs
  if (!s.requires_grad())
    throw autograd::forward_ad::NoForwardRule(fmt::format("forward-mode AD: {} has no forward rule (its backward is not differentiable, so J t cannot "
                            "be derived from it); inputs of shapes {}",
                            op, [&] {
                              std::string shapes;
                              for (const Tensor& in : inputs)
                                shapes += (shapes.empty() ? "" : ", ") +
                                          (in.defined() ? fmt::format("{}", in.shape()) : std::string("-"));
                              return shapes;
                            }()));
  autograd::GradOptions options;
  options.allow_unused = true;
  const std::vector<Tensor> jt = autograd::grad({s}, wrt, {}, options);
  for (std::size_t k = 0; k < wrt.size(); ++k) {
    const Tensor& out = outputs[wrt_index[k]];
    store_result(inputs, out, jt[k].defined() ? jt[k].detach() : zeros(out.shape(), dtype(out.dtype())));
  }
}

void forward_ad_inplace(const Tensor& self, const Tensor& result) {
  if (!forward_ad_enabled()) return;
  const Tensor t = tangent_of(result);
  RuleScope scope;
  write_window(self, t);
}

}  // namespace detail
}  // namespace xgrad
