#include "xgrad/autograd/node.hpp"

#include <execinfo.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <optional>

#include "kernel.hpp"
#include "profiler_hooks.hpp"
#include "xgrad/autograd/forward_ad.hpp"
#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/reduction.hpp"
#include "xgrad/autograd/shape.hpp"

namespace xgrad {

namespace {
std::atomic<std::uint64_t> g_sequence{0};
thread_local bool t_grad_mode = true;
thread_local bool t_anomaly = false;
}  // namespace

Node::Node() : sequence_nr(g_sequence.fetch_add(1, std::memory_order_relaxed)) {
  if (t_anomaly) {
    creation_site = fmt::format("forward op #{}", sequence_nr);
    constexpr int kMaxFrames = 48;
    creation_frames.resize(kMaxFrames);
    creation_frames.resize(static_cast<std::size_t>(std::max(0, backtrace(creation_frames.data(), kMaxFrames))));
  }
}
// Releasing the last reference to a node releases its next_edges, which can release the
// next node, and so on: recursively, a chain of 100,000 ops overflows the stack. Instead the
// outermost destructor on this thread drains a work list of nodes to release.
Node::~Node() {
  thread_local std::vector<std::shared_ptr<Node>>* pending = nullptr;
  std::vector<std::shared_ptr<Node>> local;
  std::vector<std::shared_ptr<Node>>& out = pending ? *pending : local;
  for (Edge& e : next_edges)
    if (e.fn) out.push_back(std::move(e.fn));
  next_edges.clear();
  if (pending) return;  // an outer destructor drains the list
  pending = &local;
  while (!local.empty()) {
    std::shared_ptr<Node> n = std::move(local.back());
    local.pop_back();
    n.reset();  // may push n's edges onto `local`
  }
  pending = nullptr;
}

bool grad_mode_enabled() { return t_grad_mode; }
void set_grad_mode(bool enabled) { t_grad_mode = enabled; }
bool anomaly_mode_enabled() { return t_anomaly; }
DetectAnomalyGuard::DetectAnomalyGuard() : prev_(t_anomaly) { t_anomaly = true; }
DetectAnomalyGuard::~DetectAnomalyGuard() { t_anomaly = prev_; }

// ---- AccumulateGrad ----------------------------------------------------------------------
AccumulateGrad::AccumulateGrad(std::shared_ptr<TensorImpl> v) : variable(std::move(v)) {
  outputs.push_back({variable->shape, variable->dtype});
}

std::vector<Tensor> AccumulateGrad::apply(std::vector<Tensor>&& grad_outputs) {
  accumulate(grad_outputs[0], grad_mode_enabled());
  return {};
}

std::vector<TensorHook> AccumulateGrad::leaf_hooks() const {
  std::vector<TensorHook> h;
  for (const auto& p : variable->hooks) h.push_back(p.second);
  return h;
}

void AccumulateGrad::accumulate(const Tensor& g, bool create_graph) {
  std::lock_guard lock(mutex_);
  Tensor& grad = variable->grad;
  if (create_graph) {
    // Keep the history so the gradient itself can be differentiated.
    grad = grad.defined() ? grad + g : g.contiguous();
    return;
  }
  if (!grad.defined()) {
    // Steal the buffer when nobody else can see it; otherwise copy, since the same gradient
    // tensor may also be flowing into another leaf and += later would alias them. A strided
    // gradient (e.g. the expanded gradient of a sum) is stored contiguous.
    const bool sole = g.impl().use_count() == 1 && g.impl()->storage.use_count() == 1 && !g.requires_grad() &&
                      g.is_contiguous() && g.storage_offset() == 0;
    grad = sole ? g : g.detach().clone();
  } else if (grad.requires_grad()) {
    NoGradGuard ng;
    grad = grad + g;
  } else {
    NoGradGuard ng;
    grad.add_(g);
  }
}

// ---- SavedTensor ---------------------------------------------------------------------------
SavedTensor::SavedTensor(const Tensor& t, bool is_output) : is_output_(is_output) {
  if (!t.defined()) return;
  version_ = t.impl()->storage->version;
  requires_grad_ = t.requires_grad();
  output_nr_ = t.impl()->output_nr;
  // An output keeps only its data: holding its grad_fn (the owner) would be a cycle.
  data_ = is_output ? t.detach() : t;
}

void SavedTensor::drop_history_if_stale() {
  if (data_.defined() && !is_output_ && data_.impl()->storage->version != version_) data_ = data_.detach();
}

Tensor SavedTensor::unpack(const std::shared_ptr<Node>& owner, std::string_view op) const {
  if (!data_.defined()) return Tensor();
  const auto now = data_.impl()->storage->version;
  if (now != version_)
    throw Error(fmt::format(
        "{}: one of the tensors needed for gradient computation has been modified by an in-place operation: "
        "{} was saved at version {} and is now at version {}",
        op, data_.describe(), version_, now));
  if (!is_output_ || !requires_grad_ || !grad_mode_enabled()) return data_;
  // Re-attach the output to its node so that create_graph differentiates through it.
  auto impl = std::make_shared<TensorImpl>(*data_.impl());
  impl->requires_grad = true;
  impl->grad_fn = owner;
  impl->output_nr = output_nr_;
  return Tensor(std::move(impl));
}

// ---- FunctionNode ----------------------------------------------------------------------------
FunctionNode::FunctionNode(std::string name, BackwardFn fn) : name_(std::move(name)), fn_(std::move(fn)) {}

std::vector<Tensor> FunctionNode::apply(std::vector<Tensor>&& grads) {
  if (released_)
    throw Error(fmt::format(
        "{}: trying to backward through the graph a second time (or to access saved tensors after they have been "
        "freed); pass retain_graph = true to the first backward if you need to backward twice",
        name_));
  for (std::size_t i = 0; i < grads.size(); ++i)
    if (!grads[i].defined()) grads[i] = zeros(outputs[i].shape, dtype(outputs[i].dtype));
  std::vector<Tensor> unpacked;
  unpacked.reserve(saved.size());
  auto self = shared_from_this();
  for (const auto& s : saved) unpacked.push_back(s.unpack(self, name_));
  return fn_(grads, unpacked);
}

void FunctionNode::release_saved() {
  saved.clear();
  saved.shrink_to_fit();
  fn_ = nullptr;
  released_ = true;
}

// ---- recording -----------------------------------------------------------------------------
bool any_requires_grad(std::initializer_list<const Tensor*> inputs) {
  if (!t_grad_mode) return false;
  for (const Tensor* t : inputs) {
    if (!t->defined()) continue;
    detail::refresh_view(*t->impl());
    if (t->impl()->requires_grad) return true;
  }
  return false;
}

bool any_requires_grad(const std::vector<Tensor>& inputs) {
  if (!t_grad_mode) return false;
  for (const Tensor& t : inputs) {
    if (!t.defined()) continue;
    detail::refresh_view(*t.impl());
    if (t.impl()->requires_grad) return true;
  }
  return false;
}

Edge gradient_edge(const Tensor& t) {
  if (!t.defined()) return {};
  detail::refresh_view(*t.impl());
  if (!t.impl()->requires_grad) return {};
  const auto& impl = t.impl();
  if (impl->grad_fn) return {impl->grad_fn, impl->output_nr};
  // Graphs built on several threads from one leaf must share its one AccumulateGrad, whose
  // lock then orders their accumulations.
  static std::mutex creation;
  std::lock_guard lock(creation);
  auto acc = impl->grad_accumulator.lock();
  if (!acc) {
    acc = std::make_shared<AccumulateGrad>(impl);
    impl->grad_accumulator = acc;
  }
  return {acc, 0};
}

std::shared_ptr<FunctionNode> record(std::string name, const std::vector<Tensor>& inputs,
                                     const std::vector<Tensor>& outputs, const std::vector<Tensor>& to_save,
                                     BackwardFn backward) {
  // Forward-mode AD derives output tangents from this backward formula (forward_ad.cpp).
  std::optional<BackwardFn> forward_rule;
  if (detail::forward_ad_enabled() && detail::any_has_tangent(inputs)) forward_rule = backward;
  auto node = std::make_shared<FunctionNode>(std::move(name), std::move(backward));
  node->next_edges.reserve(inputs.size());
  for (const Tensor& in : inputs) node->next_edges.push_back(gradient_edge(in));
  node->outputs.reserve(outputs.size());
  for (std::uint32_t i = 0; i < outputs.size(); ++i) {
    const auto& impl = outputs[i].impl();
    node->outputs.push_back({impl->shape, impl->dtype});
    if (!is_floating(impl->dtype)) continue;  // integer outputs (indices) are non-differentiable
    impl->requires_grad = true;
    impl->grad_fn = node;
    impl->output_nr = i;
  }
  node->saved.reserve(to_save.size());
  for (const Tensor& s : to_save) {
    bool is_output = false;
    for (const Tensor& o : outputs) is_output = is_output || (s.defined() && s.is_same(o));
    node->saved.emplace_back(s, is_output);
  }
  if (forward_rule) detail::forward_ad_propagate(node->name(), inputs, outputs, to_save, *forward_rule);
  if (detail::profiler_active()) detail::profiler_on_record(*node);
  return node;
}

Tensor sum_to(const Tensor& grad, const Shape& shape) {
  const Shape& gs = grad.shape();
  if (gs == shape) return grad;
  const std::size_t lead = gs.size() - shape.size();
  Dims dims;
  for (std::size_t i = 0; i < gs.size(); ++i)
    if (i < lead || (shape[i - lead] == 1 && gs[i] != 1)) dims.push_back(static_cast<std::int64_t>(i));
  Tensor r = dims.empty() ? grad : sum(grad, dims, /*keepdim=*/true);
  return reshape(r, shape);
}

}  // namespace xgrad
