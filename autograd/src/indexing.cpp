// libtorch-style indexing on top of the view ops (select, slice, unsqueeze); an index tensor
// (integer or bool mask) becomes a list of flat positions within the dims it indexes, read
// with index_select and written by index_put_ (a strided kernel, or, when autograd is
// involved, an out-of-place composition of differentiable ops written back with copy_).
#include "xgrad/autograd/indexing.hpp"

#include <algorithm>

#include "copy_box.hpp"
#include "kernel.hpp"
#include "view.hpp"
#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/masking.hpp"
#include "xgrad/autograd/scatter.hpp"
#include "xgrad/autograd/shape.hpp"
#include "xgrad/autograd/profile_scope.hpp"

namespace xgrad {

namespace indexing {

std::string TensorIndex::to_string() const {
  struct Visitor {
    std::string operator()(std::monostate) const { return "None"; }
    std::string operator()(std::int64_t i) const { return fmt::format("{}", i); }
    std::string operator()(EllipsisIndexType) const { return "..."; }
    std::string operator()(const Slice& s) const {
      auto f = [](const std::optional<std::int64_t>& v) { return v ? fmt::format("{}", *v) : std::string(); };
      return s.step ? fmt::format("{}:{}:{}", f(s.start), f(s.stop), *s.step) : fmt::format("{}:{}", f(s.start), f(s.stop));
    }
    std::string operator()(const Tensor& t) const { return t.defined() ? t.describe() : "Tensor(undefined)"; }
  };
  return std::visit(Visitor{}, v_);
}

}  // namespace indexing

namespace {

using indexing::EllipsisIndexType;
using indexing::Slice;
using indexing::TensorIndex;
using Dims = std::vector<std::int64_t>;

std::string list(const std::vector<TensorIndex>& idx) {
  std::string s = "[";
  for (std::size_t i = 0; i < idx.size(); ++i) s += (i ? ", " : "") + idx[i].to_string();
  return s + "]";
}

// Dims of self an index entry consumes: 1 for an integer, a slice or an integer tensor, k for
// a k-dim bool mask (0 for a 0-d one, which adds a dim like None).
std::int64_t consumes(const TensorIndex& i) {
  const auto& v = i.value();
  if (std::holds_alternative<EllipsisIndexType>(v) || std::holds_alternative<std::monostate>(v)) return 0;
  if (const auto* t = std::get_if<Tensor>(&v); t && t->defined() && t->dtype() == Dtype::boolean) return t->dim();
  return 1;
}

// The basic-indexing part as a view of self, plus the index tensor (if any) as flat positions
// within dims [dim, dim + ndims) of the view, which the result replaces by index_shape.
struct Indexed {
  Tensor view;
  Tensor positions;  // 1-d int64, undefined when there is no index tensor
  Tensor mask;       // the bool mask when ndims > 1 (reshaped to broadcast against view)
  std::int64_t dim = -1;
  std::int64_t ndims = 0;
  Shape index_shape;
};

Indexed apply_indices(const Tensor& self, const std::vector<TensorIndex>& idx, std::string_view op) {
  detail::check_defined(self, op);
  std::int64_t consumed = 0;  // dims of self the list names
  int ellipses = 0;
  for (const auto& i : idx) {
    if (std::holds_alternative<EllipsisIndexType>(i.value())) ++ellipses;
    consumed += consumes(i);
  }
  if (ellipses > 1) throw Error(fmt::format("{}: an index can only have a single ellipsis, got {}", op, list(idx)));
  if (consumed > self.dim())
    throw Error(fmt::format("{}: too many indices for tensor of shape {}: {} indices {} for {} dims", op, self.shape(),
                            consumed, list(idx), self.dim()));
  Indexed r{self, Tensor(), Tensor(), -1, 0, {}};
  std::int64_t d = 0;  // current dim of r.view
  for (const auto& i : idx) {
    const auto& v = i.value();
    if (std::holds_alternative<std::monostate>(v)) {
      r.view = unsqueeze(r.view, d++);
    } else if (std::holds_alternative<EllipsisIndexType>(v)) {
      d += self.dim() - consumed;
    } else if (const auto* k = std::get_if<std::int64_t>(&v)) {
      const std::int64_t n = r.view.shape()[d];
      if (*k < -n || *k >= n)
        throw Error(fmt::format("{}: index {} is out of bounds for dimension {} with size {} (tensor of shape {}, "
                                "indices {})",
                                op, *k, d, n, self.shape(), list(idx)));
      r.view = select(r.view, d, *k);
    } else if (const auto* s = std::get_if<Slice>(&v)) {
      const std::int64_t step = s->step.value_or(1);
      if (step <= 0) throw Error(fmt::format("{}: slice step must be positive, got {} in {}", op, step, list(idx)));
      r.view = slice(r.view, d, s->start.value_or(0), s->stop.value_or(INT64_MAX), step);
      ++d;
    } else {
      const Tensor& t = std::get<Tensor>(v);
      detail::check_defined(t, op);
      if (r.positions.defined())
        throw Error(fmt::format("{}: at most one index tensor is supported, got {}", op, list(idx)));
      r.dim = d;
      if (t.dtype() == Dtype::int64 || t.dtype() == Dtype::int32) {
        const std::int64_t n = r.view.shape()[d];
        Tensor p = detail::contiguous_copy(t.to(Dtype::int64).reshape({-1}));
        std::int64_t* pp = p.data_ptr<std::int64_t>();
        for (std::int64_t j = 0; j < p.numel(); ++j) {
          if (pp[j] < -n || pp[j] >= n)
            throw Error(fmt::format("{}: index {} is out of bounds for dimension {} with size {} (tensor of shape {}, "
                                    "indices {})",
                                    op, pp[j], d, n, self.shape(), list(idx)));
          if (pp[j] < 0) pp[j] += n;
        }
        r.positions = p;
        r.ndims = 1;
        r.index_shape = t.shape();
        ++d;
      } else if (t.dtype() == Dtype::boolean) {
        if (t.dim() == 0) {
          r.view = unsqueeze(r.view, d);
          r.positions = t.item<bool>() ? zeros({1}, dtype(Dtype::int64)) : zeros({0}, dtype(Dtype::int64));
          r.ndims = 1;
        } else {
          const Shape& vs = r.view.shape();
          for (std::int64_t j = 0; j < t.dim(); ++j)
            if (t.shape()[j] != vs[d + j])
              throw Error(fmt::format("{}: the shape of the mask {} at index {} does not match the shape of the indexed "
                                      "tensor {} at index {} (indices {})",
                                      op, t.shape(), j, self.shape(), d + j, list(idx)));
          r.positions = nonzero(t.reshape({-1})).reshape({-1});
          r.ndims = t.dim();
          Shape ms(vs.size(), 1);
          std::copy(t.shape().begin(), t.shape().end(), ms.begin() + d);
          r.mask = t.reshape(ms);
        }
        r.index_shape = {r.positions.numel()};
        d += r.ndims;
      } else {
        throw Error(fmt::format("{}: tensors used as indices must be int64, int32 or bool tensors, got {}", op,
                                t.describe()));
      }
    }
  }
  return r;
}

// shape[0, d) + mid + shape[d + k, end).
Shape replace_dims(const Shape& shape, std::int64_t d, std::int64_t k, const Shape& mid) {
  Shape s(shape.begin(), shape.begin() + d);
  s.insert(s.end(), mid.begin(), mid.end());
  s.insert(s.end(), shape.begin() + d + k, shape.end());
  return s;
}

// The view's rows `positions` (along r.dim) with values vb ([pre, m, post] around r.dim), as a
// new tensor built from differentiable ops: accumulate adds, otherwise the last occurrence of
// each position is written.
Tensor put_rows(const Indexed& r, const Tensor& vb, bool accumulate) {
  if (accumulate) return index_add(r.view, r.dim, r.positions, vb);
  const std::vector<std::int64_t> pos = r.positions.to_vector<std::int64_t>();
  const std::int64_t n = r.view.shape()[static_cast<std::size_t>(r.dim)];
  std::vector<char> seen(static_cast<std::size_t>(n), 0);
  std::vector<std::int64_t> rows, from;  // written rows and the value rows that win them
  for (std::size_t j = pos.size(); j-- > 0;)
    if (!seen[static_cast<std::size_t>(pos[j])]) {
      seen[static_cast<std::size_t>(pos[j])] = 1;
      rows.push_back(pos[j]);
      from.push_back(static_cast<std::int64_t>(j));
    }
  Shape ms(r.view.shape().size(), 1);
  ms[static_cast<std::size_t>(r.dim)] = n;
  Tensor written = detail::make_tensor(ms, Dtype::boolean);
  std::copy(seen.begin(), seen.end(), written.data_ptr<bool>());
  const auto k = static_cast<std::int64_t>(rows.size());
  const Tensor rows_t = from_vector(rows, {k}), from_t = from_vector(from, {k});
  return index_add(masked_fill(r.view, written, 0.0), r.dim, rows_t, index_select(vb, r.dim, from_t));
}

}  // namespace

Tensor Tensor::index(const std::vector<indexing::TensorIndex>& indices) const {
  XGRAD_PROFILE_OP("index", *this);
  Indexed r = apply_indices(*this, indices, "index");
  if (!r.positions.defined()) return r.view;
  const Shape& vs = r.view.shape();
  Tensor merged = r.view;
  if (r.ndims != 1) {
    const std::int64_t n = shape_numel(Shape(vs.begin() + r.dim, vs.begin() + r.dim + r.ndims));
    merged = xgrad::reshape(r.view, replace_dims(vs, r.dim, r.ndims, {n}));
  }
  const Tensor out = xgrad::index_select(merged, r.dim, r.positions);
  const Shape want = replace_dims(vs, r.dim, r.ndims, r.index_shape);
  return out.shape() == want ? out : xgrad::reshape(out, want);
}
Tensor Tensor::index(std::initializer_list<indexing::TensorIndex> indices) const {
  XGRAD_PROFILE_OP("index", *this);
  return index(std::vector<indexing::TensorIndex>(indices));
}

Tensor& index_put_(Tensor& t, const std::vector<indexing::TensorIndex>& indices, const Tensor& values,
                   bool accumulate) {
  XGRAD_PROFILE_OP("index_put_", t, values);
  detail::check_inplace_target(t, "index_put_");
  detail::check_defined(values, "index_put_");
  Indexed r = apply_indices(t, indices, "index_put_");
  const Tensor v = values.to(t.dtype());
  if (!r.positions.defined()) {
    if (accumulate) r.view.add_(v);
    else r.view.copy_(v);
    return t;
  }
  const Shape& vs = r.view.shape();
  const std::int64_t d = r.dim, k = r.ndims, m = r.positions.numel();
  const Shape target = replace_dims(vs, d, k, r.index_shape);
  if (!detail::broadcasts_to(v.shape(), target))
    throw Error(fmt::format("index_put_: shape mismatch: value tensor of shape {} cannot be broadcast to indexing "
                            "result of shape {}",
                            v.shape(), target));
  // The values laid out as [pre, m, post] around the indexed dims: row j goes to position j.
  const Shape merged = replace_dims(vs, d, k, {m});
  const Tensor vb = reshape(expand(v, target), merged);
  if (any_requires_grad({&t, &vb})) {
    Tensor res;
    if (k == 1) {
      res = put_rows(r, vb, accumulate);
    } else {
      // A k-dim mask: its true positions in row-major order are vb's rows (no duplicates).
      res = accumulate ? add(r.view, masked_scatter(zeros_like(r.view), r.mask, vb))
                       : masked_scatter(r.view, r.mask, vb);
    }
    r.view.copy_(res);
    return t;
  }
  // Straight into t's memory: one task per (pre, post) column, positions in index order.
  const Tensor vp = vb.impl()->storage == t.impl()->storage ? detail::contiguous_copy(vb) : detail::packed(vb);
  const Dims& vst = r.view.strides();
  const auto du = static_cast<std::size_t>(d), ke = static_cast<std::size_t>(d + k);
  std::int64_t pre = 1, post = 1;
  for (std::size_t j = 0; j < du; ++j) pre *= vs[j];
  for (std::size_t j = ke; j < vs.size(); ++j) post *= vs[j];
  auto offset = [&](std::int64_t flat, std::size_t b, std::size_t e) {
    std::int64_t off = 0;
    for (std::size_t j = e; j-- > b;) {
      off += (flat % vs[j]) * vst[j];
      flat /= vs[j];
    }
    return off;
  };
  const std::vector<std::int64_t> pos = r.positions.to_vector<std::int64_t>();
  Dims pos_off(pos.size()), post_off(static_cast<std::size_t>(post));
  for (std::size_t j = 0; j < pos.size(); ++j) pos_off[j] = offset(pos[j], du, ke);
  for (std::int64_t q = 0; q < post; ++q) post_off[static_cast<std::size_t>(q)] = offset(q, ke, vs.size());
  auto run = [&]<class T>(auto combine) {
    T* base = r.view.strided_data_ptr<T>();
    const T* pv = vp.data_ptr<T>();
    detail::parallel_for(pre * post, detail::grain_for(m), [&](std::int64_t c0, std::int64_t c1) {
      for (std::int64_t c = c0; c < c1; ++c) {
        const std::int64_t p = c / post, q = c % post;
        T* dst = base + offset(p, 0, du) + post_off[static_cast<std::size_t>(q)];
        for (std::int64_t j = 0; j < m; ++j) combine(dst[pos_off[static_cast<std::size_t>(j)]], pv[(p * m + j) * post + q]);
      }
    });
  };
  if (accumulate)
    detail::dispatch_numeric(t.dtype(), "index_put_", [&]<class T>() {
      run.template operator()<T>([](T& a, T b) { a = detail::wrap_add(a, b); });
    });
  else
    detail::dispatch(t.dtype(), [&]<class T>() { run.template operator()<T>([](T& a, T b) { a = b; }); });
  ++t.impl()->storage->version;
  return t;
}

Tensor& index_put_(Tensor& t, const std::vector<indexing::TensorIndex>& indices, double value, bool accumulate) {
  XGRAD_PROFILE_OP("index_put_", t);
  detail::check_defined(t, "index_put_");
  return index_put_(t, indices, scalar_tensor(value, dtype(t.dtype())), accumulate);
}

Tensor& Tensor::index_put_(const std::vector<indexing::TensorIndex>& indices, const Tensor& v) {
  return xgrad::index_put_(*this, indices, v, false);
}
Tensor& Tensor::index_put_(std::initializer_list<indexing::TensorIndex> indices, const Tensor& v) {
  return xgrad::index_put_(*this, std::vector<indexing::TensorIndex>(indices), v, false);
}
Tensor& Tensor::index_put_(std::initializer_list<indexing::TensorIndex> indices, double v) {
  return xgrad::index_put_(*this, std::vector<indexing::TensorIndex>(indices), v, false);
}

}  // namespace xgrad
