// The view machinery (PyTorch's model): views share storage and the version counter; each
// remembers its base. An in-place op through a view gives the base a CopySlices grad_fn
// (old history outside the view, the op's history inside it); any view whose base history
// changed since its grad_fn was made gets a new grad_fn, a strided view of the base's
// current history, the next time autograd looks at it.
#include "view.hpp"

#include <algorithm>
#include <mutex>
#include <numeric>
#include <unordered_set>

#include "copy_box.hpp"
#include "kernel.hpp"
#include "xgrad/autograd/forward_ad.hpp"
#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/shape.hpp"

namespace xgrad::detail {

namespace {

using Grads = std::vector<Tensor>;

std::int64_t max_position(const Geometry& g) {
  std::int64_t p = g.offset;
  for (std::size_t d = 0; d < g.sizes.size(); ++d) p += (g.sizes[d] - 1) * g.strides[d];
  return p;
}

Geometry relative(const Geometry& g, std::int64_t lo) { return {g.sizes, g.strides, g.offset - lo}; }

// zeros(shape) with g's elements added at the positions `rel` (relative to the first
// element) reads. Its gradient is the strided view `rel` of the incoming gradient.
Tensor view_scatter(const Tensor& g, const Shape& shape, const Geometry& rel) {
  Tensor out = zeros(shape, dtype(g.dtype()));
  dispatch(g.dtype(), [&]<class T>() {
    T* po = out.data_ptr<T>();
    const T* pg = g.strided_data_ptr<T>();
    if (non_overlapping(rel.sizes, rel.strides)) {
      copy_box<T>(pg, 0, g.strides(), po, rel.offset, rel.strides, rel.sizes);
      return;
    }
    // Several view elements share one position: add them serially, in row-major order.
    std::array<std::vector<std::int64_t>, 2> st{rel.strides, g.strides()};
    const std::int64_t nd = static_cast<std::int64_t>(rel.sizes.size());
    std::vector<std::int64_t> idx(static_cast<std::size_t>(nd), 0);
    const std::int64_t n = shape_numel(rel.sizes);
    for (std::int64_t i = 0; i < n; ++i) {
      std::int64_t o = rel.offset, s = 0;
      for (std::int64_t d = 0; d < nd; ++d) {
        o += idx[d] * st[0][d];
        s += idx[d] * st[1][d];
      }
      po[o] += pg[s];
      for (std::int64_t d = nd - 1; d >= 0; --d) {
        if (++idx[d] < rel.sizes[d]) break;
        idx[d] = 0;
      }
    }
  });
  if (any_requires_grad({&g}))
    record("AsStridedScatterBackward", {g}, {out}, {},
           [rel](const Grads& gr, const Grads&) { return Grads{strided_view(gr[0].contiguous(), rel)}; });
  return out;
}

std::mutex& refresh_mutex() {
  static std::mutex m;
  return m;
}

}  // namespace

Geometry geometry_of(const Tensor& t) { return {t.shape(), t.strides(), t.storage_offset()}; }

Geometry contiguous_geometry(const Shape& sizes) { return {sizes, contiguous_strides(sizes), 0}; }

bool is_contiguous_layout(const Shape& sizes, const Shape& strides) {
  std::int64_t expected = 1;
  for (std::size_t d = sizes.size(); d-- > 0;) {
    if (sizes[d] == 0) return true;
    if (sizes[d] == 1) continue;
    if (strides[d] != expected) return false;
    expected *= sizes[d];
  }
  return true;
}

bool non_overlapping(const Shape& sizes, const Shape& strides) {
  std::vector<std::size_t> dims;
  for (std::size_t d = 0; d < sizes.size(); ++d) {
    if (sizes[d] == 0) return true;
    if (sizes[d] > 1) dims.push_back(d);
  }
  std::sort(dims.begin(), dims.end(), [&](std::size_t a, std::size_t b) { return strides[a] < strides[b]; });
  std::int64_t reach = 0;  // largest offset reachable by the dims before this one
  for (std::size_t d : dims) {
    if (strides[d] <= reach) return false;
    reach += (sizes[d] - 1) * strides[d];
  }
  return true;
}

Tensor make_view(const Tensor& a, const Geometry& g) {
  const auto& src = a.impl();
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = src->storage;
  impl->shape = g.sizes;
  impl->strides = g.strides;
  impl->storage_offset = g.offset;
  impl->contiguous = is_contiguous_layout(g.sizes, g.strides);
  impl->numel = shape_numel(g.sizes);
  impl->dtype = src->dtype;
  ViewInfo& info = impl->view.emplace();
  info.base = src->view ? src->view->base : src;
  info.version = src->storage->version;
  info.differentiable = grad_mode_enabled();
  return Tensor(std::move(impl));
}

Tensor record_view(const Tensor& a, const Geometry& g, const char* name, BackwardFn backward) {
  Tensor out = make_view(a, g);
  if (any_requires_grad({&a})) record(name, {a}, {out}, {}, std::move(backward));
  return out;
}

Tensor strided_view(const Tensor& x, const Geometry& rel) {
  Geometry abs{rel.sizes, rel.strides, rel.offset + x.storage_offset()};
  return record_view(x, abs, "AsStridedBackward", [in = geometry_of(x), abs](const Grads& g, const Grads&) {
    return Grads{view_backward(g[0], in, abs)};
  });
}

Tensor view_backward(const Tensor& g, const Geometry& in, const Geometry& out) {
  const std::int64_t n_in = shape_numel(in.sizes), n_out = shape_numel(out.sizes);
  if (n_in == 0 || n_out == 0) return zeros(in.sizes, dtype(g.dtype()));
  const std::int64_t lo = std::min(in.offset, out.offset);
  const std::int64_t hi = std::max(max_position(in), max_position(out));
  if (is_contiguous_layout(in.sizes, in.strides) && in.offset == lo && hi - lo + 1 == n_in)
    return view_scatter(g, in.sizes, relative(out, lo));
  Tensor flat = view_scatter(g, {hi - lo + 1}, relative(out, lo));
  return strided_view(flat, relative(in, lo)).contiguous();
}

void check_inplace_view(const Tensor& self, std::string_view op) {
  const auto& impl = self.impl();
  if (!impl->contiguous && !non_overlapping(impl->shape, self.strides()))
    throw Error(fmt::format("{}: unsupported operation: more than one element of the written-to tensor ({}, strides "
                            "{}) refers to a single memory location (e.g. an expand()ed tensor); call clone() first",
                            op, self.describe(), self.strides()));
  if (!grad_mode_enabled() || !impl->view || !impl->view->differentiable) return;
  const auto& base = impl->view->base;
  if (base->requires_grad && !base->grad_fn)
    throw Error(fmt::format("{}: a view of a leaf tensor that requires grad is being used in an in-place operation "
                            "(view {}, leaf of shape {}); wrap the update in a NoGradGuard or work on a clone()",
                            op, self.describe(), base->shape));
}

void rebase_view_history(const Tensor& self, const Tensor& result) {
  const Tensor base(self.impl()->view->base);
  const Geometry bg = geometry_of(base), vg = geometry_of(self);
  const std::int64_t lo = bg.offset, span = max_position(bg) - lo + 1;
  if (vg.offset < lo || max_position(vg) > max_position(bg))
    throw Error(fmt::format("in-place op through a view ({}) that reaches outside its base ({}) is not supported",
                            self.describe(), base.describe()));
  const bool base_packed = is_contiguous_layout(bg.sizes, bg.strides) && span == shape_numel(bg.sizes);
  auto node = std::make_shared<FunctionNode>("CopySlices", [bg, vg, lo, span, base_packed](const Grads& g,
                                                                                         const Grads&) {
    // g (the base's gradient) laid out over the base's storage span.
    Tensor flat = base_packed ? reshape(g[0].contiguous(), {span}) : view_scatter(g[0], {span}, relative(bg, lo));
    Tensor grad_result = strided_view(flat, relative(vg, lo));
    Tensor mask = ones({span}, dtype(g[0].dtype()));
    {
      NoGradGuard ng;
      make_view(mask, relative(vg, lo)).fill_(0.0);
    }
    Tensor kept = flat * mask;
    Tensor grad_base = base_packed ? reshape(kept, bg.sizes) : strided_view(kept, relative(bg, lo)).contiguous();
    return Grads{grad_base, grad_result};
  });
  node->next_edges = {gradient_edge(base), gradient_edge(result)};
  node->outputs = {{bg.sizes, base.dtype()}};
  auto& b = *base.impl();
  b.grad_fn = std::move(node);
  b.output_nr = 0;
  b.requires_grad = true;
}

void refresh_view_slow(TensorImpl& impl) {
  std::lock_guard lock(refresh_mutex());
  ViewInfo& vi = *impl.view;
  const std::uint64_t now = impl.storage->version;
  if (vi.version == now) return;
  vi.version = now;
  if (!vi.differentiable || !vi.base->requires_grad) return;
  const Tensor base(vi.base);
  const Geometry bg = geometry_of(base);
  const Geometry vg{impl.shape, impl.strides, impl.storage_offset};
  auto node = std::make_shared<FunctionNode>(
      "AsStridedBackward", [bg, vg](const Grads& g, const Grads&) { return Grads{view_backward(g[0], bg, vg)}; });
  node->next_edges = {gradient_edge(base)};
  node->outputs = {{impl.shape, impl.dtype}};
  impl.grad_fn = std::move(node);
  impl.output_nr = 0;
  impl.requires_grad = true;
}

void throw_not_contiguous(const Tensor& t, std::string_view op) {
  throw Error(fmt::format("{}: {} with strides {} is not contiguous; call .contiguous() first (or use "
                          "strided_data_ptr() in a kernel that reads strides)",
                          op, t.describe(), t.strides()));
}

void copy_into(const Tensor& dst, const Tensor& src) {
  dispatch(dst.dtype(), [&]<class T>() {
    T* pd = dst.strided_data_ptr<T>();
    const T* ps = src.strided_data_ptr<T>();
    if (dst.is_contiguous() && src.is_contiguous() && src.shape() == dst.shape()) {
      parallel_for(dst.numel(), kGrain, [&](std::int64_t b, std::int64_t e) { std::copy(ps + b, ps + e, pd + b); });
      return;
    }
    copy_box<T>(ps, 0, broadcast_strides(src, dst.shape()), pd, 0, dst.strides(), dst.shape());
  });
}

Tensor contiguous_copy(const Tensor& t) {
  Tensor out = make_tensor(t.shape(), t.dtype());
  copy_into(out, t);
  return out;
}

void check_inplace_target(const Tensor& self, std::string_view op) {
  check_defined(self, op);
  if (grad_mode_enabled() && self.requires_grad() && self.is_leaf())
    throw Error(fmt::format("{}: a leaf tensor that requires grad ({}) is being used in an in-place operation; wrap "
                            "the update in a NoGradGuard or work on a clone()",
                            op, self.describe()));
  check_inplace_view(self, op);
}

namespace {
// The new history of self (or of its base) must not lead back to self. Graph edges only
// point to older nodes, so a path back goes through a saved tensor whose handle reaches a
// history newer than its save: one whose memory an in-place op has written since (its version
// moved on; this write included: x.mul_(x) saves x, a.add_(a * y) reaches the MulBackward
// that saved a). A saved tensor that is still current holds the history it had when saved,
// which its node's edges already lead to. Stale saved tensors can never be unpacked (unpack
// throws the in-place error), so every one reachable from the new node becomes a
// history-free alias. A walk over the graph below the new node, once per in-place op
// recorded with autograd (PyTorch keeps such cycles: pytorch#105147).
void drop_stale_saved(const std::shared_ptr<Node>& root) {
  if (!root) return;
  std::vector<Node*> stack{root.get()};
  std::unordered_set<Node*> seen{root.get()};
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    if (auto* fn = dynamic_cast<FunctionNode*>(n))
      for (SavedTensor& s : fn->saved) s.drop_history_if_stale();
    for (const Edge& e : n->next_edges)
      if (e.fn && seen.insert(e.fn.get()).second) stack.push_back(e.fn.get());
  }
}
}  // namespace

void rebase_inplace(Tensor& self, const Tensor& r, std::string_view op) {
  if (r.shape() != self.shape())
    throw Error(fmt::format("{}: output with shape {} doesn't match the broadcast shape {}", op, self.shape(), r.shape()));
  auto& impl = *self.impl();
  const bool view = impl.view.has_value();
  if (view && !impl.view->differentiable)
    throw Error(fmt::format("{}: {} is a view created in no-grad mode and is being modified in-place with grad mode "
                            "on and an operand that requires grad; make it outside the NoGradGuard, or clone() it",
                            op, self.describe()));
  if (view && impl.view->multi_output)
    throw Error(fmt::format("{}: {} is one of multiple views returned by one op (unbind, split, chunk) and is being "
                            "modified in-place while autograd is involved (PyTorch forbids this too); clone() it, or "
                            "write through select()/narrow() of the base instead",
                            op, self.describe()));
  copy_into(self, r);
  ++impl.storage->version;
  forward_ad_inplace(self, r);
  if (view) {
    rebase_view_history(self, r);
  } else {
    impl.grad_fn = r.impl()->grad_fn;
    impl.output_nr = r.impl()->output_nr;
    impl.requires_grad = r.requires_grad();
  }
  drop_stale_saved(view ? impl.view->base->grad_fn : impl.grad_fn);
}

}  // namespace xgrad::detail

namespace xgrad::kernel {
Tensor packed(const Tensor& t) { return t.is_contiguous() ? t : detail::contiguous_copy(t); }
}  // namespace xgrad::kernel
