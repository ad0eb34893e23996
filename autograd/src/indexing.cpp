// libtorch-style indexing on top of the view ops (select, slice, unsqueeze) and
// index_select; index_put_ writes through those views with copy_.
#include "xgrad/autograd/indexing.hpp"

#include <algorithm>

#include "kernel.hpp"
#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/shape.hpp"

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

std::string list(const std::vector<TensorIndex>& idx) {
  std::string s = "[";
  for (std::size_t i = 0; i < idx.size(); ++i) s += (i ? ", " : "") + idx[i].to_string();
  return s + "]";
}

// The basic-indexing part as views; an index tensor is left for the caller at `tensor_dim`
// (that dim is kept whole in the returned view).
struct Indexed {
  Tensor view;
  Tensor index;  // undefined when none
  std::int64_t tensor_dim = -1;
};

Indexed apply_indices(const Tensor& self, const std::vector<TensorIndex>& idx, std::string_view op) {
  detail::check_defined(self, op);
  std::int64_t consumed = 0;  // dims of self the list names
  int ellipses = 0;
  for (const auto& i : idx) {
    const auto& v = i.value();
    if (std::holds_alternative<EllipsisIndexType>(v)) ++ellipses;
    else if (!std::holds_alternative<std::monostate>(v)) ++consumed;
  }
  if (ellipses > 1) throw Error(fmt::format("{}: an index can only have a single ellipsis, got {}", op, list(idx)));
  if (consumed > self.dim())
    throw Error(fmt::format("{}: too many indices for tensor of shape {}: {} indices {} for {} dims", op, self.shape(),
                            consumed, list(idx), self.dim()));
  Indexed r{self, Tensor(), -1};
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
      if (r.index.defined())
        throw Error(fmt::format("{}: at most one index tensor is supported, got {}", op, list(idx)));
      if (t.dtype() != Dtype::int64 || t.dim() != 1)
        throw Error(fmt::format("{}: an index tensor must be a 1-d int64 tensor, got {}", op, t.describe()));
      r.index = t;
      r.tensor_dim = d++;
    }
  }
  return r;
}

}  // namespace

Tensor Tensor::index(const std::vector<indexing::TensorIndex>& indices) const {
  Indexed r = apply_indices(*this, indices, "index");
  if (!r.index.defined()) return r.view;
  return xgrad::index_select(r.view, r.tensor_dim, r.index);
}
Tensor Tensor::index(std::initializer_list<indexing::TensorIndex> indices) const {
  return index(std::vector<indexing::TensorIndex>(indices));
}

Tensor& Tensor::index_put_(const std::vector<indexing::TensorIndex>& indices, const Tensor& v) {
  detail::check_defined(v, "index_put_");
  Indexed r = apply_indices(*this, indices, "index_put_");
  if (!r.index.defined()) {
    r.view.copy_(v);
    return *this;
  }
  // One row of the indexed dim at a time, through select views (a repeated index: last wins).
  Shape rs = r.view.shape();
  rs[static_cast<std::size_t>(r.tensor_dim)] = r.index.numel();
  const Tensor vb = xgrad::expand(v, rs);
  const std::vector<std::int64_t> ids = r.index.to_vector<std::int64_t>();
  for (std::size_t k = 0; k < ids.size(); ++k)
    xgrad::select(r.view, r.tensor_dim, ids[k]).copy_(xgrad::select(vb, r.tensor_dim, static_cast<std::int64_t>(k)));
  return *this;
}
Tensor& Tensor::index_put_(std::initializer_list<indexing::TensorIndex> indices, const Tensor& v) {
  return index_put_(std::vector<indexing::TensorIndex>(indices), v);
}
Tensor& Tensor::index_put_(std::initializer_list<indexing::TensorIndex> indices, double v) {
  detail::check_defined(*this, "index_put_");
  return index_put_(std::vector<indexing::TensorIndex>(indices), scalar_tensor(v, xgrad::dtype(dtype())));
}

}  // namespace xgrad
