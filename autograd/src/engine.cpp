// The reverse-mode engine: an iterative DFS gives a topological order (no recursion, so a
// chain of 100,000 ops cannot overflow the stack); nodes then run in that order, each one
// after every node that feeds it a gradient.
#include <array>
#include <climits>
#include <cmath>
#include <unordered_map>

#include "kernel.hpp"
#include "profiler_hooks.hpp"
#include "xgrad/autograd/autograd.hpp"
#include "xgrad/autograd/factories.hpp"

namespace xgrad::detail {
GradAccumulators& current_accumulators() {
  thread_local GradAccumulators acc;
  return acc;
}

Tensor offered_accumulator(std::size_t i, const Shape& shape, Dtype dtype, bool exclusive) {
  const GradAccumulators& acc = current_accumulators();
  if (acc.offered == nullptr || i >= acc.n) return Tensor();
  const Tensor& t = acc.offered[i];
  if (!t.defined() || !t.is_contiguous() || t.shape() != shape || t.dtype() != dtype || t.requires_grad())
    return Tensor();
  if (exclusive && (t.impl().use_count() != 1 || t.impl()->storage.use_count() != 1)) return Tensor();
  return t;
}
}  // namespace xgrad::detail

namespace xgrad::autograd {

namespace {

struct Target {
  Node* node;
  std::uint32_t output_nr;
};

void check_finite(const Tensor& grad, const Node& n, std::size_t i) {
  const Tensor g = detail::packed(grad);
  bool bad = false;
  detail::dispatch(g.dtype(), [&]<class T>() {
    if constexpr (std::is_floating_point_v<T>) {
      const T* p = g.data_ptr<T>();
      for (std::int64_t k = 0; k < g.numel() && !bad; ++k) bad = !std::isfinite(p[k]);
    }
  });
  if (!bad) return;
  std::string site = n.creation_site.empty() ? "an op recorded before anomaly mode" : n.creation_site;
  // Symbolised only now (addr2line): empty without debug info, and the message keeps the op number.
  if (const std::string at = detail::resolve_creation_site(n.creation_frames); !at.empty()) site += " at " + at;
  throw Error(fmt::format("anomaly detected: {} returned NaN or Inf values in its gradient #{} (shape {}); the node "
                          "was created by {}",
                          n.name(), i, g.shape(), site));
}

// Runs the graph below `roots`. With no targets every leaf reached accumulates into .grad();
// with targets, the gradients arriving at them are returned and no .grad() is touched.
std::vector<Tensor> run(const std::vector<Edge>& roots, std::vector<Tensor> root_grads, bool keep_graph,
                        bool create_graph, const std::vector<Target>& targets) {
  const bool capture = !targets.empty();

  // ---- iterative post-order DFS; `index` maps a node to its topological index ----
  // All of this is local to the call: several backward passes may walk shared nodes at once.
  std::unordered_map<Node*, std::uint32_t> index;
  std::vector<Node*> post;
  std::vector<std::pair<Node*, std::size_t>> stack;
  constexpr std::uint32_t kOpen = UINT32_MAX;  // seen, not finished
  for (const Edge& r : roots) {
    Node* n = r.fn.get();
    if (!index.try_emplace(n, kOpen).second) continue;
    stack.emplace_back(n, 0);
    while (!stack.empty()) {
      auto& [node, child] = stack.back();
      if (child < node->next_edges.size()) {
        Node* c = node->next_edges[child++].fn.get();
        if (c && index.try_emplace(c, kOpen).second) stack.emplace_back(c, 0);
      } else {
        post.push_back(node);
        stack.pop_back();
      }
    }
  }
  const std::size_t n_nodes = post.size();
  // post-order lists children first; topo index 0 = last finished = a root.
  for (std::size_t i = 0; i < n_nodes; ++i) index[post[i]] = static_cast<std::uint32_t>(n_nodes - 1 - i);
  const auto topo = [&index](Node* n) { return index.find(n)->second; };

  // exec[i]: node with topo index i must run (always, unless we only capture targets).
  std::vector<char> exec(n_nodes, capture ? 0 : 1);
  std::unordered_map<Node*, std::vector<std::pair<std::uint32_t, std::size_t>>> target_slots;
  if (capture) {
    for (std::size_t t = 0; t < targets.size(); ++t) target_slots[targets[t].node].emplace_back(targets[t].output_nr, t);
    for (Node* n : post) {  // children first
      bool needed = false;
      for (const Edge& e : n->next_edges)
        if (e.fn && (exec[topo(e.fn.get())] || target_slots.count(e.fn.get()))) needed = true;
      exec[topo(n)] = needed;
    }
  }

  std::vector<std::vector<Tensor>> buffers(n_nodes);
  for (Node* n : post) buffers[topo(n)].resize(n->outputs.empty() ? 1 : n->outputs.size());
  for (std::size_t i = 0; i < roots.size(); ++i) {
    auto& slot = buffers[topo(roots[i].fn.get())][roots[i].input_nr];
    slot = slot.defined() ? slot + root_grads[i] : root_grads[i];
  }

  std::vector<Tensor> captured(targets.size());
  GradModeGuard mode(create_graph);
  const bool anomaly = anomaly_mode_enabled();
  for (std::size_t idx = n_nodes; idx-- > 0;) {
    Node* n = post[idx];
    auto& buf = buffers[n_nodes - 1 - idx];
    bool any = false;
    for (const Tensor& g : buf) any = any || g.defined();
    if (!any) continue;

    for (const bool retain : {false, true})  // retain_grad hooks see the final gradient
      for (const auto& h : n->pre_hooks) {
        Tensor& g = buf[h.output_nr];
        if (!g.defined() || (h.id == Node::kRetainGradHook) != retain) continue;
        Tensor r = h.fn(g);
        if (r.defined()) g = r;
      }
    for (const auto& h : n->leaf_hooks()) {
      Tensor r = h(buf[0]);
      if (r.defined()) buf[0] = r;
    }
    if (capture) {
      auto it = target_slots.find(n);
      if (it != target_slots.end())
        for (auto [output_nr, t] : it->second) captured[t] = buf[output_nr];
    }
    // Each buffer is released as soon as its node is done, so that the gradients flowing
    // through a long graph do not all stay alive until backward returns.
    if (!exec[n_nodes - 1 - idx]) {
      std::vector<Tensor>().swap(buf);
      continue;
    }

    if (auto* acc = dynamic_cast<AccumulateGrad*>(n)) {
      detail::ProfileBackwardScope profile_scope(*n);
      acc->accumulate(buf[0], create_graph);
      std::vector<Tensor>().swap(buf);
      continue;
    }
    // Offer the gradients already accumulated for this node's inputs (see GradAccumulators);
    // an input reached by two edges of the node is not offered (it would be counted twice).
    constexpr std::size_t kMaxOffers = 4;
    const bool offer = n->folds_accumulated && !create_graph && n->next_edges.size() <= kMaxOffers;
    std::array<Tensor, kMaxOffers> offered;
    std::array<char, kMaxOffers> claimed{};
    if (offer)
      for (std::size_t i = 0; i < n->next_edges.size(); ++i) {
        const Edge& e = n->next_edges[i];
        if (!e.fn || exec[topo(e.fn.get())] == 0) continue;
        bool shared = false;
        for (std::size_t j = 0; j < n->next_edges.size(); ++j)
          shared = shared || (j != i && n->next_edges[j].fn == e.fn && n->next_edges[j].input_nr == e.input_nr);
        // Moved out of the buffer (and put back below unless claimed), so that a node may add
        // into it in place when it holds the only reference.
        if (!shared) offered[i] = std::move(buffers[topo(e.fn.get())][e.input_nr]);
      }
    std::vector<Tensor> grads;
    {
      detail::GradAccumulators& acc = detail::current_accumulators();
      const detail::GradAccumulators saved = acc;
      acc = offer ? detail::GradAccumulators{offered.data(), claimed.data(), n->next_edges.size()}
                  : detail::GradAccumulators{};
      try {
        detail::ProfileBackwardScope profile_scope(*n);
        grads = n->apply(std::move(buf));
        std::vector<Tensor>().swap(buf);
      } catch (...) {
        acc = saved;
        throw;
      }
      acc = saved;
      if (offer)
        for (std::size_t i = 0; i < n->next_edges.size(); ++i)
          if (offered[i].defined() && !claimed[i])
            buffers[topo(n->next_edges[i].fn.get())][n->next_edges[i].input_nr] = std::move(offered[i]);
    }
    if (grads.size() != n->next_edges.size())
      throw Error(fmt::format("{}: backward returned {} gradients but the op has {} inputs", n->name(), grads.size(),
                              n->next_edges.size()));
    for (std::size_t i = 0; i < grads.size(); ++i) {
      const Edge& e = n->next_edges[i];
      Tensor& g = grads[i];
      if (!g.defined() || !e.fn) continue;
      const OutputMeta& meta = e.fn->outputs[e.input_nr];
      // A broadcast input gets the gradient of its broadcast shape: the engine sums it back
      // (ops do not reduce broadcast gradients themselves). Anything else is an error.
      if (g.dtype() == meta.dtype && g.shape() != meta.shape && detail::broadcasts_to(meta.shape, g.shape()))
        g = sum_to(g, meta.shape);
      if (g.shape() != meta.shape || g.dtype() != meta.dtype)
        throw Error(fmt::format("{}: backward returned an invalid gradient for input {}: got shape {} {} but expected "
                                "shape {} {}",
                                n->name(), i, g.shape(), g.dtype(), meta.shape, meta.dtype));
      if (anomaly) check_finite(g, *n, i);
      Tensor& slot = buffers[topo(e.fn.get())][e.input_nr];
      if (offer && claimed[i] && g.shape() == meta.shape) {
        slot = std::move(g);  // already holds the previous sum
      } else if (!slot.defined()) {
        slot = std::move(g);
      } else if (!create_graph && g.impl().use_count() == 1 && g.impl()->storage.use_count() == 1 &&
                 !g.requires_grad()) {
        // Nobody else sees g's buffer: sum into it instead of into a new one (one pass less).
        g.add_(slot);
        slot = std::move(g);
      } else {
        slot = slot + g;
      }
    }
    if (!keep_graph) n->release_saved();
  }
  return captured;
}

// Roots and seeds for backward/grad; validates the seeds.
void make_roots(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs, std::string_view op,
                std::vector<Edge>& roots, std::vector<Tensor>& grads) {
  if (outputs.empty()) throw Error(fmt::format("{}: no outputs given", op));
  if (!grad_outputs.empty() && grad_outputs.size() != outputs.size())
    throw Error(fmt::format("{}: got {} outputs but {} grad_outputs", op, outputs.size(), grad_outputs.size()));
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    const Tensor& out = outputs[i];
    detail::check_defined(out, op);
    if (!out.requires_grad())
      throw Error(fmt::format("{}: element {} of tensors does not require grad and does not have a grad_fn ({})", op, i,
                              out.describe()));
    Tensor seed = i < grad_outputs.size() ? grad_outputs[i] : Tensor();
    if (!seed.defined()) {
      if (out.numel() != 1)
        throw Error(fmt::format("{}: grad can be implicitly created only for scalar outputs, got output of shape {}; "
                                "pass a gradient of that shape",
                                op, out.shape()));
      seed = ones_like(out);
    } else if (seed.shape() != out.shape() || seed.dtype() != out.dtype()) {
      throw Error(fmt::format("{}: mismatch in shape: grad_output {} has shape {} {} but output has shape {} {}", op, i,
                              seed.shape(), seed.dtype(), out.shape(), out.dtype()));
    }
    roots.push_back(gradient_edge(out));
    grads.push_back(seed);
  }
}

}  // namespace

void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs,
              const BackwardOptions& options) {
  std::vector<Edge> roots;
  std::vector<Tensor> seeds;
  make_roots(outputs, grad_outputs, "backward", roots, seeds);
  const bool keep = options.retain_graph || options.create_graph;
  if (options.inputs.empty()) {
    run(roots, std::move(seeds), keep, options.create_graph, {});
    return;
  }
  std::vector<Target> targets;
  for (const Tensor& in : options.inputs) {
    detail::check_defined(in, "backward");
    if (!in.requires_grad())
      throw Error(fmt::format("backward: an input in `inputs` does not require grad ({})", in.describe()));
    targets.push_back({gradient_edge(in).fn.get(), in.output_nr()});
  }
  auto grads = run(roots, std::move(seeds), keep, options.create_graph, targets);
  GradModeGuard mode(options.create_graph);
  for (std::size_t i = 0; i < grads.size(); ++i) {
    if (!grads[i].defined()) continue;
    const Tensor& in = options.inputs[i];
    if (auto acc = std::dynamic_pointer_cast<AccumulateGrad>(gradient_edge(in).fn)) {
      acc->accumulate(grads[i], options.create_graph);
    } else {
      Tensor g = options.create_graph ? grads[i] : grads[i].detach();
      in.impl()->grad = in.impl()->grad.defined() ? in.impl()->grad + g : g.clone();
    }
  }
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, const GradOptions& options) {
  std::vector<Edge> roots;
  std::vector<Tensor> seeds;
  make_roots(outputs, grad_outputs, "grad", roots, seeds);
  if (inputs.empty()) throw Error("grad: no inputs given");
  std::vector<Target> targets;
  std::vector<std::shared_ptr<Node>> keep_alive;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    detail::check_defined(inputs[i], "grad");
    if (!inputs[i].requires_grad())
      throw Error(fmt::format("grad: input {} does not require grad ({})", i, inputs[i].describe()));
    Edge e = gradient_edge(inputs[i]);
    keep_alive.push_back(e.fn);
    targets.push_back({e.fn.get(), e.input_nr});
  }
  auto result = run(roots, std::move(seeds), options.retain_graph || options.create_graph, options.create_graph,
                    targets);
  for (std::size_t i = 0; i < result.size(); ++i) {
    if (result[i].defined()) {
      if (!options.create_graph) result[i] = result[i].detach();
    } else if (!options.allow_unused) {
      throw Error(fmt::format("grad: input {} ({}) was not used in the graph of the outputs; pass allow_unused = true "
                              "to get an undefined gradient for it",
                              i, inputs[i].describe()));
    }
  }
  return result;
}

}  // namespace xgrad::autograd
