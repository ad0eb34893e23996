// A reverse pass whose gradients carry a leading batch dim C (C identity seeds at once), for
// jacobian/hessian(vectorize = true). Each supported node has a batched rule below, keyed by
// its name; the rules read the node's saved tensors in the slots its op's record(...) call
// fills. Parameters an op keeps only inside its backward closure (mm's transpose flags, a
// scalar factor, a permutation) are recovered by probing the node's own backward once with a
// known gradient; where a probe cannot decide, the node runs row by row inside the pass
// (exact, only slower). Unlisted nodes make the whole Jacobian fall back to the loop.
#include "functional_batched.hpp"

#include <algorithm>
#include <atomic>
#include <set>
#include <string>
#include <unordered_map>

#include <fmt/format.h>

#include "kernel.hpp"
#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/linalg.hpp"
#include "xgrad/autograd/node.hpp"
#include "xgrad/autograd/reduction.hpp"
#include "xgrad/autograd/shape.hpp"

namespace xgrad::autograd::functional::detail {

namespace {

struct Unsupported {};  // thrown inside the pass: the caller loops instead

std::atomic<std::int64_t> batch_limit{std::int64_t{1} << 24};  // ~16M elements, 128 MiB in float64

// Keep in sync with the list in functional.hpp.
const std::set<std::string>& supported_names() {
  static const std::set<std::string> names = {"AddBackward",
                                              "SubBackward",
                                              "MulBackward",
                                              "DivBackward",
                                              "NegBackward",
                                              "RsubBackward",
                                              "RdivBackward",
                                              "ExpBackward",
                                              "LogBackward",
                                              "SqrtBackward",
                                              "SinBackward",
                                              "CosBackward",
                                              "TanhBackward",
                                              "SigmoidBackward",
                                              "ReluBackward",
                                              "TanhBackwardBackward",
                                              "SigmoidBackwardBackward",
                                              "ReluBackwardBackward",
                                              "SumBackward",
                                              "MeanBackward",
                                              "ViewBackward",
                                              "SqueezeBackward",
                                              "UnsqueezeBackward",
                                              "ExpandBackward",
                                              "TransposeBackward",
                                              "PermuteBackward",
                                              "MmBackward"};
  return names;
}

std::int64_t numel_of(const Shape& s) {
  std::int64_t n = 1;
  for (std::int64_t v : s) n *= v;
  return n;
}

Shape batched(std::int64_t c, const Shape& s) {
  Shape r{c};
  r.insert(r.end(), s.begin(), s.end());
  return r;
}

// sum_to over every dim but the leading batch dim.
Tensor batched_sum_to(const Tensor& g, const Shape& shape) {
  const Shape& gs = g.shape();
  if (gs.size() < shape.size() + 1) throw Unsupported{};
  const std::size_t lead = gs.size() - 1 - shape.size();
  Dims dims;
  for (std::size_t i = 1; i < gs.size(); ++i) {
    const std::size_t k = i - 1;
    if (k < lead) {
      dims.push_back(static_cast<std::int64_t>(i));
    } else if (shape[k - lead] == 1 && gs[i] != 1) {
      dims.push_back(static_cast<std::int64_t>(i));
    } else if (shape[k - lead] != gs[i]) {
      throw Unsupported{};
    }
  }
  Tensor r = dims.empty() ? g : sum(g, dims, /*keepdim=*/true);
  return reshape(r, batched(g.size(0), shape));
}

// Equal shapes, dtypes and values (NaN never equal).
bool same_values(const Tensor& a, const Tensor& b) {
  if (a.defined() != b.defined()) return false;
  if (!a.defined()) return true;
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  const Tensor x = a.contiguous(), y = b.contiguous();
  bool same = true;
  if (x.dtype() == Dtype::float64) {
    const double *p = x.data_ptr<double>(), *q = y.data_ptr<double>();
    for (std::int64_t i = 0; i < x.numel() && same; ++i) same = p[i] == q[i];
  } else if (x.dtype() == Dtype::float32) {
    const float *p = x.data_ptr<float>(), *q = y.data_ptr<float>();
    for (std::int64_t i = 0; i < x.numel() && same; ++i) same = p[i] == q[i];
  } else {
    return false;
  }
  return same;
}

std::vector<Tensor> unpack_saved(FunctionNode& n) {
  std::vector<Tensor> s;
  auto self = n.shared_from_this();
  for (const SavedTensor& t : n.saved) s.push_back(t.unpack(self, n.name()));
  return s;
}

// The node's own backward on one gradient of its output's shape.
std::vector<Tensor> apply_once(FunctionNode& n, const Tensor& g) {
  std::vector<Tensor> in{g};
  std::vector<Tensor> r = n.apply(std::move(in));
  if (r.size() != n.next_edges.size()) throw Unsupported{};
  return r;
}

// The node's own backward on each row of G: exact for any node, used where a parameter of the
// op cannot be recovered (results have the broadcast shapes the node returns).
std::vector<Tensor> rowwise(FunctionNode& n, const Tensor& G, const std::vector<char>& need) {
  const std::int64_t c = G.size(0);
  std::vector<std::vector<Tensor>> cols(n.next_edges.size());
  for (std::int64_t r = 0; r < c; ++r) {
    std::vector<Tensor> g = apply_once(n, G.select(0, r).contiguous());
    for (std::size_t i = 0; i < g.size(); ++i)
      if (need[i]) {
        if (!g[i].defined()) throw Unsupported{};
        cols[i].push_back(g[i]);
      }
  }
  std::vector<Tensor> out(n.next_edges.size());
  for (std::size_t i = 0; i < out.size(); ++i)
    if (need[i]) out[i] = stack(cols[i], 0);
  return out;
}

// What a probe found out about a node, kept across chunks.
struct NodeInfo {
  bool probed = false;
  bool row_by_row = false;
  int mm_choice = -1;  // (ta, tb) = (choice >> 1, choice & 1)
  Tensor factor;       // scalar MulBackward: the factor, broadcast to the output's shape
  Tensor index;        // permutations: flat output position read by each input element
};

Shape edge_shape(const Node& n, std::size_t i) {
  const Edge& e = n.next_edges[i];
  return e.fn->outputs[e.input_nr].shape;
}

// ---- mm: C = op(A) op(B), op = identity or transpose (flags kept in the closure) ----------

// dA for G [c, n, m]: d op(A) = G op(B)^T (one product over the stacked rows), transposed when ta.
Tensor mm_grad_a(const Tensor& G, const Tensor& B, bool ta, bool tb) {
  const std::int64_t c = G.size(0), n = G.size(1), m = G.size(2);
  Tensor d = mm(G.reshape({c * n, m}), B, false, !tb);
  d = d.reshape({c, n, d.size(1)});
  return ta ? d.transpose(1, 2).contiguous() : d;
}

// dB for G [c, n, m]: d op(B) = op(A)^T G_c, one product against the side-by-side G_c.
Tensor mm_grad_b(const Tensor& G, const Tensor& A, bool ta, bool tb) {
  const std::int64_t c = G.size(0), n = G.size(1), m = G.size(2);
  Tensor gp = G.permute({1, 0, 2}).reshape({n, c * m});
  Tensor d = mm(A, gp, !ta, false);  // [k, c m]
  d = d.reshape({d.size(0), c, m}).permute({1, 0, 2});
  return tb ? d.transpose(1, 2).contiguous() : d.contiguous();
}

std::vector<Tensor> mm_rule(const Tensor& G, const std::vector<Tensor>& s, const std::vector<char>& need, int choice) {
  const bool ta = choice >> 1, tb = choice & 1;
  std::vector<Tensor> r(2);
  if (need[0]) r[0] = mm_grad_a(G, s[1], ta, tb);
  if (need[1]) r[1] = mm_grad_b(G, s[0], ta, tb);
  return r;
}

// The flags (ta, tb) that fit the shapes, narrowed by one-hot probes: with a one-hot
// gradient every product is an exact copy of entries of A or B, so the true flags reproduce
// the node's own backward exactly. Several survivors after a few probes: row by row.
void probe_mm(FunctionNode& n, const std::vector<Tensor>& s, const std::vector<char>& need, NodeInfo& info) {
  info.probed = true;
  // An operand that needs no gradient has no edge, but then the other side saved it.
  const auto operand_shape = [&](std::size_t i) {
    if (n.next_edges[i].fn) return edge_shape(n, i);
    if (!s[i].defined()) throw Unsupported{};
    return s[i].shape();
  };
  const Shape sa = operand_shape(0), sb = operand_shape(1), so = n.outputs[0].shape;
  if (sa.size() != 2 || sb.size() != 2 || so.size() != 2) throw Unsupported{};
  if ((need[0] && !s[1].defined()) || (need[1] && !s[0].defined())) throw Unsupported{};
  std::vector<int> cand;
  for (int ch = 0; ch < 4; ++ch) {
    const bool ta = ch >> 1, tb = ch & 1;
    const std::int64_t an = ta ? sa[1] : sa[0], ak = ta ? sa[0] : sa[1];
    const std::int64_t bk = tb ? sb[1] : sb[0], bm = tb ? sb[0] : sb[1];
    // Transposing a 1x1 operand changes nothing: keep one of the two flags.
    if ((ta && sa[0] == 1 && sa[1] == 1) || (tb && sb[0] == 1 && sb[1] == 1)) continue;
    if (an == so[0] && bm == so[1] && ak == bk) cand.push_back(ch);
  }
  const std::int64_t total = numel_of(so);
  const Dtype dt = n.outputs[0].dtype;
  for (std::int64_t t = 0; t < std::min<std::int64_t>(total, 8) && !cand.empty(); ++t) {
    if (t > 0 && cand.size() == 1) break;
    Tensor p = zeros(so, TensorOptions().dtype(dt));
    if (dt == Dtype::float64)
      p.data_ptr<double>()[t] = 1.0;
    else
      p.data_ptr<float>()[t] = 1.0f;
    std::vector<Tensor> ref = apply_once(n, p);
    std::vector<int> keep;
    for (int ch : cand) {
      std::vector<Tensor> h = mm_rule(p.reshape(batched(1, so)), s, need, ch);
      bool ok = true;
      for (std::size_t i = 0; i < 2 && ok; ++i)
        if (need[i]) ok = ref[i].defined() && same_values(h[i], ref[i].reshape(batched(1, ref[i].shape())));
      if (ok) keep.push_back(ch);
    }
    cand = keep;
  }
  if (cand.size() == 1)
    info.mm_choice = cand[0];
  else
    info.row_by_row = true;
}

// ---- permutations: a probe with the output positions tells where each input element reads

void probe_permutation(FunctionNode& n, NodeInfo& info) {
  info.probed = true;
  const Shape so = n.outputs[0].shape;
  const Dtype dt = n.outputs[0].dtype;
  const std::int64_t total = numel_of(so);
  if (total > (dt == Dtype::float64 ? (std::int64_t{1} << 52) : (std::int64_t{1} << 23))) {
    info.row_by_row = true;
    return;
  }
  Tensor p = arange(static_cast<double>(total), TensorOptions().dtype(dt)).reshape(so);
  std::vector<Tensor> r = apply_once(n, p);
  if (r.size() != 1 || !r[0].defined() || numel_of(r[0].shape()) != total) throw Unsupported{};
  info.index = r[0].contiguous().reshape({total}).to(Dtype::int64);
}

// The kept shape of a sum/mean (reduced dims as 1), when the shapes tell it.
std::optional<Shape> kept_shape(const Shape& in, const Shape& out) {
  if (out.size() == in.size()) return out;
  if (out.empty()) return Shape(in.size(), 1);
  return std::nullopt;
}

std::vector<Tensor> apply_rule(FunctionNode& n, const Tensor& G, const std::vector<char>& need, NodeInfo& info) {
  const std::string& name = n.name();
  const std::size_t ne = n.next_edges.size();
  const std::int64_t c = G.size(0);
  if (info.row_by_row) return rowwise(n, G, need);
  std::vector<Tensor> s = unpack_saved(n);
  const auto slot = [&](std::size_t i) -> const Tensor& {
    if (i >= s.size() || !s[i].defined()) throw Unsupported{};
    return s[i];
  };
  const auto one = [&](Tensor g) {
    if (ne != 1) throw Unsupported{};
    return std::vector<Tensor>{std::move(g)};
  };
  // y broadcast to G's shape, for the fused-formula elementwise rules.
  const auto ys = [&](std::size_t i) { return slot(i).expand(G.shape()); };

  if (name == "AddBackward" || name == "SubBackward") {
    if (ne == 1) return {name == "AddBackward" ? G : neg(G)};  // scalar add (sub is add of -s)
    if (ne != 2) throw Unsupported{};
    return {need[0] ? G : Tensor(), need[1] ? (name == "AddBackward" ? G : neg(G)) : Tensor()};
  }
  if (name == "MulBackward") {
    if (ne == 2) return {need[0] ? mul(G, slot(1)) : Tensor(), need[1] ? mul(G, slot(0)) : Tensor()};
    if (ne != 1 || !n.saved.empty()) throw Unsupported{};
    if (!info.probed) {  // mul(1, s) = s exactly
      info.probed = true;
      std::vector<Tensor> r = apply_once(n, ones(n.outputs[0].shape, TensorOptions().dtype(n.outputs[0].dtype)));
      if (!r[0].defined() || r[0].shape() != n.outputs[0].shape) throw Unsupported{};
      info.factor = r[0];
    }
    return {mul(G, info.factor)};
  }
  if (name == "DivBackward") {
    if (ne == 1) {  // a / s: the divisor stays in the closure (1 / (1 / s) need not be s)
      info.row_by_row = true;
      return rowwise(n, G, need);
    }
    if (ne != 2) throw Unsupported{};
    return {need[0] ? div(G, slot(1)) : Tensor(),
            need[1] ? neg(div(mul(G, slot(0)), mul(slot(1), slot(1)))) : Tensor()};
  }
  if (name == "NegBackward" || name == "RsubBackward") return one(neg(G));
  if (name == "RdivBackward") return one(neg(div(mul(G, slot(1)), slot(0))));
  if (name == "ExpBackward") return one(mul(G, slot(0)));
  if (name == "LogBackward") return one(div(G, slot(0)));
  if (name == "SqrtBackward") return one(div(G, mul(slot(0), 2.0)));
  if (name == "SinBackward") return one(mul(G, cos(slot(0))));
  if (name == "CosBackward") return one(neg(mul(G, sin(slot(0)))));
  // tanh/sigmoid/relu save their output y: g (1 - y^2), g y (1 - y), g [y > 0].
  if (name == "TanhBackward") return one(mul(G, rsub(mul(slot(0), slot(0)), 1.0)));
  if (name == "SigmoidBackward") return one(mul(G, mul(slot(0), rsub(slot(0), 1.0))));
  if (name == "ReluBackward") return one(where(gt(ys(0), 0.0), G, 0.0));
  // Second-order nodes out = f(g, y) recorded by the backward of tanh/sigmoid/relu; saved
  // {g (when y needs a gradient), y}.
  if (name == "TanhBackwardBackward") {
    if (ne != 2) throw Unsupported{};
    return {need[0] ? mul(G, rsub(mul(slot(1), slot(1)), 1.0)) : Tensor(),
            need[1] ? mul(mul(G, slot(0)), mul(slot(1), -2.0)) : Tensor()};
  }
  if (name == "SigmoidBackwardBackward") {
    if (ne != 2) throw Unsupported{};
    return {need[0] ? mul(G, mul(slot(1), rsub(slot(1), 1.0))) : Tensor(),
            need[1] ? mul(mul(G, slot(0)), rsub(mul(slot(1), 2.0), 1.0)) : Tensor()};
  }
  if (name == "ReluBackwardBackward") return one(where(gt(ys(0), 0.0), G, 0.0));
  if (name == "ViewBackward" || name == "SqueezeBackward" || name == "UnsqueezeBackward")
    return one(G.reshape(batched(c, edge_shape(n, 0))));
  if (name == "ExpandBackward") return one(batched_sum_to(G, edge_shape(n, 0)));
  if (name == "SumBackward" || name == "MeanBackward") {
    if (ne != 1) throw Unsupported{};
    const Shape in = edge_shape(n, 0), out = n.outputs[0].shape;
    const std::optional<Shape> kept = kept_shape(in, out);
    if (!kept) {  // e.g. [3, 3] summed over one dim without keepdim: which one is not recorded
      info.row_by_row = true;
      return rowwise(n, G, need);
    }
    Tensor g = G;
    if (name == "MeanBackward") {
      if (numel_of(out) == 0) throw Unsupported{};
      g = div(g, static_cast<double>(numel_of(in) / numel_of(out)));
    }
    return one(g.reshape(batched(c, *kept)).expand(batched(c, in)).contiguous());
  }
  if (name == "TransposeBackward" || name == "PermuteBackward") {
    if (ne != 1) throw Unsupported{};
    if (!info.probed) probe_permutation(n, info);
    if (info.row_by_row) return rowwise(n, G, need);
    const Shape in = edge_shape(n, 0);
    return one(index_select(G.reshape({c, numel_of(n.outputs[0].shape)}), 1, info.index).reshape(batched(c, in)));
  }
  if (name == "MmBackward") {
    if (ne != 2 || n.outputs[0].shape.size() != 2) throw Unsupported{};
    if (!info.probed) probe_mm(n, s, need, info);
    if (info.row_by_row) return rowwise(n, G, need);
    return mm_rule(G, s, need, info.mm_choice);
  }
  throw Unsupported{};
}

}  // namespace

std::int64_t set_jacobian_batch_limit(std::int64_t elements) {
  if (elements < 1)
    throw Error(fmt::format("set_jacobian_batch_limit: expected a positive number of elements, got {}", elements));
  return batch_limit.exchange(elements);
}

std::optional<std::vector<Tensor>> batched_jacobian(const Tensor& out, const std::vector<Tensor>& xs) {
  if (anomaly_mode_enabled() || !out.requires_grad()) return std::nullopt;
  const Edge root = gradient_edge(out);
  if (!root.valid()) return std::nullopt;
  std::unordered_map<Node*, std::vector<std::size_t>> target_of;
  for (std::size_t j = 0; j < xs.size(); ++j) {
    const Edge e = gradient_edge(xs[j]);
    if (!e.valid() || !dynamic_cast<AccumulateGrad*>(e.fn.get())) return std::nullopt;
    target_of[e.fn.get()].push_back(j);
  }

  // Post-order DFS (children first), as the engine's; `needed` = reaches an input.
  std::unordered_map<Node*, char> needed;
  std::vector<Node*> post;
  {
    std::unordered_map<Node*, char> seen;
    std::vector<std::pair<Node*, std::size_t>> stack;
    seen[root.fn.get()] = 1;
    stack.emplace_back(root.fn.get(), 0);
    while (!stack.empty()) {
      auto& [node, child] = stack.back();
      if (child < node->next_edges.size()) {
        Node* ch = node->next_edges[child++].fn.get();
        if (ch && seen.emplace(ch, 1).second) stack.emplace_back(ch, 0);
      } else {
        post.push_back(node);
        stack.pop_back();
      }
    }
  }
  std::int64_t widest = numel_of(out.shape());
  for (Node* n : post) {
    bool need = target_of.count(n) > 0;
    for (const Edge& e : n->next_edges)
      if (e.fn && needed[e.fn.get()]) need = true;
    needed[n] = need;
    if (!need) continue;
    // Every node the gradients flow through needs a rule, and no hook may watch them.
    if (auto* acc = dynamic_cast<AccumulateGrad*>(n)) {
      if (!acc->leaf_hooks().empty() || !acc->pre_hooks.empty()) return std::nullopt;
      continue;
    }
    auto* fn = dynamic_cast<FunctionNode*>(n);
    if (!fn || !supported_names().count(fn->name()) || fn->outputs.size() != 1 || !fn->pre_hooks.empty())
      return std::nullopt;
    widest = std::max(widest, numel_of(fn->outputs[0].shape));
    for (const Edge& e : n->next_edges)
      if (e.fn) widest = std::max(widest, numel_of(e.fn->outputs[e.input_nr].shape));
  }
  if (!needed[root.fn.get()]) return std::vector<Tensor>(xs.size());  // no input reached
  if (root.fn->outputs.size() != 1) return std::nullopt;

  const std::int64_t rows = out.numel();
  // At most batch_limit elements per batched gradient: larger Jacobians run as several
  // batched passes of `chunk` rows.
  const std::int64_t chunk =
      std::max<std::int64_t>(1, std::min(rows, batch_limit.load() / std::max<std::int64_t>(widest, 1)));
  std::unordered_map<Node*, NodeInfo> info;
  std::vector<std::vector<Tensor>> parts(xs.size());
  NoGradGuard no_grad;
  xgrad::detail::GradAccumulators& acc = xgrad::detail::current_accumulators();
  const xgrad::detail::GradAccumulators outer = acc;
  acc = {};  // no engine offers its buffers to the nodes applied here
  try {
    for (std::int64_t r0 = 0; r0 < rows; r0 += chunk) {
      const std::int64_t c = std::min(chunk, rows - r0);
      Tensor seed = zeros({c, rows}, TensorOptions().dtype(out.dtype()));
      for (std::int64_t k = 0; k < c; ++k) {
        if (out.dtype() == Dtype::float64)
          seed.data_ptr<double>()[k * rows + r0 + k] = 1.0;
        else
          seed.data_ptr<float>()[k * rows + r0 + k] = 1.0f;
      }
      std::unordered_map<Node*, Tensor> buf;
      buf[root.fn.get()] = seed.reshape(batched(c, out.shape()));
      std::vector<Tensor> got(xs.size());
      for (std::size_t idx = post.size(); idx-- > 0;) {  // reverse post-order: topological
        Node* n = post[idx];
        if (!needed[n]) continue;
        auto it = buf.find(n);
        if (it == buf.end()) continue;
        Tensor G = std::move(it->second);
        buf.erase(it);
        if (auto t = target_of.find(n); t != target_of.end()) {
          for (std::size_t j : t->second) got[j] = G;
          continue;
        }
        auto& fn = static_cast<FunctionNode&>(*n);
        std::vector<char> need(n->next_edges.size(), 0);
        for (std::size_t i = 0; i < need.size(); ++i) {
          const Edge& e = n->next_edges[i];
          need[i] = e.fn && needed[e.fn.get()];
        }
        std::vector<Tensor> grads = apply_rule(fn, G, need, info[n]);
        if (grads.size() != need.size()) throw Unsupported{};
        for (std::size_t i = 0; i < grads.size(); ++i) {
          if (!need[i]) continue;
          Tensor g = grads[i];
          if (!g.defined()) throw Unsupported{};
          const Edge& e = n->next_edges[i];
          const OutputMeta& meta = e.fn->outputs[e.input_nr];
          const Shape want = batched(c, meta.shape);
          if (g.shape() != want) g = batched_sum_to(g, meta.shape);
          if (g.dtype() != meta.dtype) throw Unsupported{};
          Tensor& slot = buf[e.fn.get()];
          slot = slot.defined() ? add(slot, g) : g;
        }
      }
      for (std::size_t j = 0; j < xs.size(); ++j)
        if (got[j].defined()) parts[j].push_back(got[j]);
    }
  } catch (const Unsupported&) {
    acc = outer;
    return std::nullopt;
  } catch (...) {
    acc = outer;
    throw;
  }
  acc = outer;
  std::vector<Tensor> result(xs.size());
  for (std::size_t j = 0; j < xs.size(); ++j) {
    if (parts[j].empty()) continue;
    if (parts[j].size() != static_cast<std::size_t>((rows + chunk - 1) / chunk))
      return std::nullopt;  // reached in some chunks only: cannot happen, but never guess
    result[j] = parts[j].size() == 1 ? parts[j][0].contiguous() : cat(parts[j], 0);
  }
  return result;
}

}  // namespace xgrad::autograd::functional::detail
