// Scatters (scatter, scatter_reduce), take_along_dim and index_add. As in shape_index.cpp's
// scatter_add, the index box is viewed as [pre, m, post] around the scattered dim: each
// (pre, post) column is handled by one task, its m elements in index order, and distinct
// columns never share an output element, so duplicates combine in a fixed order and results
// are bit-identical at every thread count.
#include "xgrad/autograd/scatter.hpp"

#include <cmath>
#include <limits>

#include "copy_box.hpp"
#include "kernel.hpp"
#include "strided_index.hpp"
#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/masking.hpp"
#include "xgrad/autograd/shape.hpp"
#include "xgrad/autograd/profile_scope.hpp"

namespace xgrad {

namespace {

using Grads = std::vector<Tensor>;
using Dims = std::vector<std::int64_t>;
using detail::for_columns;
using detail::offset_of;
using detail::offset_table;
using detail::prod;


Shape nonempty(const Shape& s) { return s.empty() ? Shape{1} : s; }


// Throws unless every value of the packed int64 `index` lies in [0, n).
void check_values(const Tensor& index, std::int64_t n, std::int64_t dim, std::string_view op, const Shape& shape) {
  const std::int64_t* p = index.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < index.numel(); ++i)
    if (p[i] < 0 || p[i] >= n)
      throw Error(fmt::format("{}: index {} is out of bounds for dimension {} with size {} (self shape {})", op, p[i],
                              dim, n, shape));
}

// x padded with zeros at the end of each dim up to `shape`.
Tensor pad_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  std::vector<std::int64_t> p;
  for (std::size_t k = shape.size(); k-- > 0;) {
    p.push_back(0);
    p.push_back(shape[k] - x.shape()[k]);
  }
  return pad(x, p);
}

// The first box[k] elements of x along each dim k (a view).
Tensor box_of(const Tensor& x, const Shape& box) {
  Tensor r = x;
  for (std::size_t k = 0; k < box.size(); ++k)
    if (r.shape()[k] != box[k]) r = narrow(r, static_cast<std::int64_t>(k), 0, box[k]);
  return r;
}

// The geometry of a scatter over a packed self-shaped output, a packed index and a packed src
// (all at least 1-d).
struct Geometry {
  Shape is;  // index shape
  std::size_t du = 0;
  std::int64_t pre = 1, m = 1, post = 1;
  Dims self_st, src_st, self_post, src_post;

  Geometry(std::int64_t d, const Shape& self_shape, const Shape& index_shape, const Shape& src_shape)
      : is(index_shape), du(static_cast<std::size_t>(d)) {
    pre = prod(is, 0, du);
    m = is[du];
    post = prod(is, du + 1, is.size());
    self_st = detail::contiguous_strides(self_shape);
    src_st = detail::contiguous_strides(src_shape);
    self_post = offset_table(is, self_st, du + 1, is.size());
    src_post = offset_table(is, src_st, du + 1, is.size());
  }
  // f(target, src_offset, box_offset) for the elements of column run (p, q0..q1), in index
  // order: target in the output, src_offset in src, box_offset the flat position in index.
  template <class F>
  void visit(std::int64_t p, std::int64_t q0, std::int64_t q1, const std::int64_t* pi, const F& f) const {
    const std::int64_t tb = offset_of(p, is, self_st, 0, du), sb = offset_of(p, is, src_st, 0, du);
    for (std::int64_t i = 0; i < m; ++i) {
      const std::int64_t row = (p * m + i) * post;
      for (std::int64_t q = q0; q < q1; ++q)
        f(tb + pi[row + q] * self_st[du] + self_post[q], sb + i * src_st[du] + src_post[q], row + q);
    }
  }
  template <class F>
  void columns(const F& f) const {
    for_columns(pre, post, m, f);
  }
};

// PyTorch's scatter/gather shape checks (0-d counts as 1-d); returns the wrapped dim.
std::int64_t check_scatter(std::string_view op, const Tensor& self, std::int64_t dim, const Tensor& index,
                           const Tensor* src) {
  detail::check_defined(self, op);
  detail::check_defined(index, op);
  if (src) detail::check_defined(*src, op);
  if (index.dtype() != Dtype::int64)
    throw Error(
        fmt::format("{}: expected dtype int64 for index, got {} (index shape {})", op, index.dtype(), index.shape()));
  if (src && src->dtype() != self.dtype())
    throw Error(fmt::format("{}: expected self and src to have the same dtype, got {} (shape {}) and {} (shape {})", op,
                            self.dtype(), self.shape(), src->dtype(), src->shape()));
  const Shape ss = nonempty(self.shape()), is = nonempty(index.shape());
  const Shape rs = src ? nonempty(src->shape()) : is;
  if (is.size() != ss.size() || rs.size() != ss.size())
    throw Error(src ? fmt::format("{}: self, index and src must have the same number of dimensions, got self shape {}, "
                                  "index shape {} and src shape {}",
                                  op, self.shape(), index.shape(), src->shape())
                    : fmt::format("{}: self and index must have the same number of dimensions, got self shape {} and "
                                  "index shape {}",
                                  op, self.shape(), index.shape()));
  const std::int64_t d = detail::wrap_dim(dim, static_cast<std::int64_t>(ss.size()), op, self.shape());
  if (index.numel() == 0) return d;
  for (std::size_t k = 0; k < ss.size(); ++k)
    if (is[k] > rs[k] || (static_cast<std::int64_t>(k) != d && is[k] > ss[k]))
      throw Error(src ? fmt::format("{}: index shape {} must not exceed src shape {} in any dimension, nor self shape "
                                    "{} outside dimension {} (dimension {} violates this)",
                                    op, index.shape(), src->shape(), self.shape(), d, k)
                      : fmt::format("{}: index shape {} must not exceed self shape {} outside dimension {} "
                                    "(dimension {} violates this)",
                                    op, index.shape(), self.shape(), d, k));
  const Tensor ip = detail::packed(index);
  check_values(ip, ss[static_cast<std::size_t>(d)], d, op, self.shape());
  return d;
}

bool any_0d(std::initializer_list<const Tensor*> ts) {
  for (const Tensor* t : ts)
    if (t->dim() == 0) return true;
  return false;
}

Tensor as_nonempty(const Tensor& t) { return t.dim() == 0 ? reshape(t, {1}) : t; }

enum class Reduce { sum, prod, mean, amax, amin };

Reduce parse_reduce(std::string_view r) {
  if (r == "sum") return Reduce::sum;
  if (r == "prod") return Reduce::prod;
  if (r == "mean") return Reduce::mean;
  if (r == "amax") return Reduce::amax;
  if (r == "amin") return Reduce::amin;
  throw Error(
      fmt::format("scatter_reduce: reduce argument must be one of \"sum\", \"prod\", \"mean\", \"amax\", "
                  "\"amin\", got \"{}\"",
                  r));
}

// True at the src elements (of the index box) that are the only zero among the elements
// scattered to their target: prod's backward treats them apart.
Tensor lone_zeros(const Tensor& src_box, const Tensor& index, std::int64_t d, const Shape& self_shape) {
  const Geometry geo(d, self_shape, index.shape(), index.shape());
  Tensor out = zeros(index.shape(), dtype(Dtype::boolean));
  std::vector<std::int64_t> zeros_at(static_cast<std::size_t>(shape_numel(self_shape)), 0);
  detail::dispatch_floating(src_box.dtype(), "scatter_reduce", [&]<class T>() {
    const Tensor sp = detail::packed(src_box), ip = detail::packed(index);
    const T* ps = sp.data_ptr<T>();
    const std::int64_t* pi = ip.data_ptr<std::int64_t>();
    bool* po = out.data_ptr<bool>();
    geo.columns([&](std::int64_t p, std::int64_t q0, std::int64_t q1) {
      geo.visit(p, q0, q1, pi, [&](std::int64_t t, std::int64_t, std::int64_t b) { zeros_at[t] += ps[b] == T(0); });
      geo.visit(p, q0, q1, pi,
                [&](std::int64_t t, std::int64_t, std::int64_t b) { po[b] = ps[b] == T(0) && zeros_at[t] == 1; });
    });
  });
  return out;
}

// x == 0 as a bool tensor (nothing recorded).
Tensor zero_mask(const Tensor& x) {
  Tensor out = detail::make_tensor(x.shape(), Dtype::boolean);
  detail::dispatch_floating(x.dtype(), "scatter_reduce",
                            [&]<class T>() { detail::unary_kernel<T, bool>(x, out, [](T v) { return v == T(0); }); });
  return out;
}

bool any_true(const Tensor& mask) {
  const bool* p = mask.data_ptr<bool>();
  return std::any_of(p, p + mask.numel(), [](bool b) { return b; });
}

}  // namespace

Tensor scatter(const Tensor& self, std::int64_t dim, const Tensor& index, const Tensor& src) {
  XGRAD_PROFILE_OP("scatter", self, index, src);
  const std::int64_t d = check_scatter("scatter", self, dim, index, &src);
  if (any_0d({&self, &index, &src}))
    return reshape(scatter(as_nonempty(self), d, as_nonempty(index), as_nonempty(src)), self.shape());
  const Geometry geo(d, self.shape(), index.shape(), src.shape());
  Tensor out = detail::contiguous_copy(self);
  // With src requiring grad: `lost` marks the src elements overwritten by a later duplicate.
  const bool track = any_requires_grad({&src});
  Tensor lost = track ? detail::make_tensor(index.shape(), Dtype::boolean) : Tensor();
  detail::dispatch(self.dtype(), [&]<class T>() {
    const Tensor sp = detail::packed(src), ip = detail::packed(index);
    const T* ps = sp.data_ptr<T>();
    const std::int64_t* pi = ip.data_ptr<std::int64_t>();
    T* po = out.data_ptr<T>();
    std::vector<std::int64_t> writer(track ? static_cast<std::size_t>(out.numel()) : 0);
    bool* pl = track ? lost.data_ptr<bool>() : nullptr;
    geo.columns([&](std::int64_t p, std::int64_t q0, std::int64_t q1) {
      geo.visit(p, q0, q1, pi, [&](std::int64_t t, std::int64_t s, std::int64_t b) {
        po[t] = ps[s];
        if (pl) writer[static_cast<std::size_t>(t)] = b;
      });
      if (pl)
        geo.visit(p, q0, q1, pi, [&](std::int64_t t, std::int64_t, std::int64_t b) {
          pl[b] = writer[static_cast<std::size_t>(t)] != b;
        });
    });
  });
  if (track && !any_true(lost)) lost = Tensor();
  if (any_requires_grad({&self, &src})) {
    const bool ra = self.requires_grad(), rs = src.requires_grad();
    record("ScatterBackward", {self, src}, {out}, {index},
           [ra, rs, d, lost, src_shape = src.shape()](const Grads& g, const Grads& s) {
             Tensor gs;
             if (rs) {
               gs = gather(g[0], d, s[0]);
               if (lost.defined()) gs = masked_fill(gs, lost, 0.0);
               gs = pad_to(gs, src_shape);
             }
             return Grads{ra ? scatter(g[0], d, s[0], 0.0) : Tensor(), gs};
           });
  }
  return out;
}

Tensor scatter(const Tensor& self, std::int64_t dim, const Tensor& index, double value) {
  XGRAD_PROFILE_OP("scatter", self, index);
  const std::int64_t d = check_scatter("scatter", self, dim, index, nullptr);
  if (any_0d({&self, &index})) return reshape(scatter(as_nonempty(self), d, as_nonempty(index), value), self.shape());
  const Geometry geo(d, self.shape(), index.shape(), index.shape());
  Tensor out = detail::contiguous_copy(self);
  detail::dispatch(self.dtype(), [&]<class T>() {
    const T v = detail::scalar_as<T>(value, "scatter");
    const Tensor ip = detail::packed(index);
    const std::int64_t* pi = ip.data_ptr<std::int64_t>();
    T* po = out.data_ptr<T>();
    geo.columns([&](std::int64_t p, std::int64_t q0, std::int64_t q1) {
      geo.visit(p, q0, q1, pi, [&](std::int64_t t, std::int64_t, std::int64_t) { po[t] = v; });
    });
  });
  if (any_requires_grad({&self}))
    record("ScatterBackward", {self}, {out}, {index},
           [d](const Grads& g, const Grads& s) { return Grads{scatter(g[0], d, s[0], 0.0)}; });
  return out;
}

Tensor scatter_reduce(const Tensor& self, std::int64_t dim, const Tensor& index, const Tensor& src,
                      std::string_view reduce, bool include_self) {
  XGRAD_PROFILE_OP("scatter_reduce", self, index, src);
  const Reduce r = parse_reduce(reduce);
  const std::int64_t d = check_scatter("scatter_reduce", self, dim, index, &src);
  if (any_0d({&self, &index, &src}))
    return reshape(scatter_reduce(as_nonempty(self), d, as_nonempty(index), as_nonempty(src), reduce, include_self),
                   self.shape());
  const Geometry geo(d, self.shape(), index.shape(), src.shape());
  const bool grad = any_requires_grad({&self, &src});
  const bool extremum = r == Reduce::amax || r == Reduce::amin;
  Tensor out = detail::contiguous_copy(self);
  const auto n = static_cast<std::size_t>(out.numel());
  std::vector<std::int64_t> count(r == Reduce::mean || (extremum && grad) ? n : 0, 0);
  // For the backward of mean: the divisor; of amax/amin: the number of inputs sharing each
  // output's gradient, and which inputs get no share.
  Tensor share, self_lost, src_lost;
  if (grad && (extremum || r == Reduce::mean)) share = detail::make_tensor(self.shape(), self.dtype());
  if (grad && extremum) {
    self_lost = detail::make_tensor(self.shape(), Dtype::boolean);
    src_lost = detail::make_tensor(index.shape(), Dtype::boolean);
  }
  detail::dispatch_numeric(self.dtype(), "scatter_reduce", [&]<class T>() {
    constexpr bool fp = std::is_floating_point_v<T>;
    T id{};
    switch (r) {
      case Reduce::sum:
      case Reduce::mean:
        id = T(0);
        break;
      case Reduce::prod:
        id = T(1);
        break;
      case Reduce::amax:
        id = fp ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::lowest();
        break;
      case Reduce::amin:
        id = fp ? std::numeric_limits<T>::infinity() : std::numeric_limits<T>::max();
        break;
    }
    // x != x only for NaN, which amax/amin propagate.
    auto combine = [r](T a, T b) -> T {
      switch (r) {
        case Reduce::sum:
        case Reduce::mean:
          return detail::wrap_add(a, b);
        case Reduce::prod:
          return detail::wrap_mul(a, b);
        case Reduce::amax:
          return a != a ? a : (b != b || b > a) ? b : a;
        case Reduce::amin:
          return a != a ? a : (b != b || b < a) ? b : a;
      }
      return a;
    };
    const Tensor sp = detail::packed(src), ip = detail::packed(index), selfp = detail::packed(self);
    const T* ps = sp.data_ptr<T>();
    const T* pself = selfp.data_ptr<T>();
    const std::int64_t* pi = ip.data_ptr<std::int64_t>();
    T* po = out.data_ptr<T>();
    T* pshare = share.defined() ? share.data_ptr<T>() : nullptr;
    bool* psl = src_lost.defined() ? src_lost.data_ptr<bool>() : nullptr;
    const bool counting = !count.empty();
    if (pshare) std::fill(pshare, pshare + n, T(0));
    geo.columns([&](std::int64_t p, std::int64_t q0, std::int64_t q1) {
      if (!include_self) geo.visit(p, q0, q1, pi, [&](std::int64_t t, std::int64_t, std::int64_t) { po[t] = id; });
      geo.visit(p, q0, q1, pi, [&](std::int64_t t, std::int64_t s, std::int64_t) {
        po[t] = combine(po[t], ps[s]);
        if (counting) ++count[static_cast<std::size_t>(t)];
      });
      if (psl)
        geo.visit(p, q0, q1, pi, [&](std::int64_t t, std::int64_t s, std::int64_t b) {
          psl[b] = !(ps[s] == po[t]);
          if (!psl[b]) pshare[t] += T(1);
        });
    });
    if (r == Reduce::mean) {
      detail::parallel_for(out.numel(), detail::kGrain, [&](std::int64_t b, std::int64_t e) {
        for (std::int64_t t = b; t < e; ++t) {
          const std::int64_t c = count[static_cast<std::size_t>(t)] + (include_self ? 1 : 0);
          if (count[static_cast<std::size_t>(t)] > 0) {
            if constexpr (fp) {
              po[t] = po[t] / static_cast<T>(c);
            } else {
              T q = static_cast<T>(po[t] / c);  // floor rounding, as PyTorch for integers
              if (po[t] % c != 0 && po[t] < 0) --q;
              po[t] = q;
            }
          }
          if (pshare) pshare[t] = static_cast<T>(c > 0 ? c : 1);
        }
      });
    }
    if (extremum && pshare) {
      bool* pself_lost = self_lost.data_ptr<bool>();
      detail::parallel_for(out.numel(), detail::kGrain, [&](std::int64_t b, std::int64_t e) {
        for (std::int64_t t = b; t < e; ++t) {
          const bool self_in = include_self ? pself[t] == po[t] : count[static_cast<std::size_t>(t)] == 0;
          pself_lost[t] = !self_in;
          if (self_in) pshare[t] += T(1);
          if (pshare[t] == T(0)) pshare[t] = T(1);  // NaN results: nothing equals them
        }
      });
    }
  });
  if (!grad) return out;
  const bool ra = self.requires_grad(), rs = src.requires_grad();
  const Shape src_shape = src.shape(), self_shape = self.shape();
  switch (r) {
    case Reduce::sum:
      record("ScatterReduceBackward", {self, src}, {out}, {index},
             [ra, rs, d, include_self, src_shape](const Grads& g, const Grads& s) {
               return Grads{ra ? (include_self ? g[0] : scatter(g[0], d, s[0], 0.0)) : Tensor(),
                            rs ? pad_to(gather(g[0], d, s[0]), src_shape) : Tensor()};
             });
      break;
    case Reduce::mean:
      record("ScatterReduceBackward", {self, src}, {out}, {index},
             [ra, rs, d, include_self, src_shape, share](const Grads& g, const Grads& s) {
               const Tensor gd = div(g[0], share);
               return Grads{ra ? (include_self ? gd : scatter(gd, d, s[0], 0.0)) : Tensor(),
                            rs ? pad_to(gather(gd, d, s[0]), src_shape) : Tensor()};
             });
      break;
    case Reduce::amax:
    case Reduce::amin:
      record("ScatterReduceBackward", {self, src}, {out}, {index},
             [ra, rs, d, src_shape, share, self_lost, src_lost](const Grads& g, const Grads& s) {
               const Tensor gd = div(g[0], share);
               return Grads{ra ? masked_fill(gd, self_lost, 0.0) : Tensor(),
                            rs ? pad_to(masked_fill(gather(gd, d, s[0]), src_lost, 0.0), src_shape) : Tensor()};
             });
      break;
    case Reduce::prod:
      // saved: index, self (src's gradient with a lone zero recomputes a product), src, out.
      record("ScatterReduceBackward", {self, src}, {out}, {index, rs ? self : Tensor(), src, rs ? out : Tensor()},
             [ra, rs, d, include_self, src_shape, self_shape](const Grads& g, const Grads& s) {
               const Tensor& idx = s[0];
               Tensor gself, gsrc;
               if (ra) {
                 // out = self * P with P the product of the src elements scattered there.
                 gself =
                     include_self
                         ? mul(g[0], scatter_reduce(ones(self_shape, dtype(g[0].dtype())), d, idx, s[2], "prod", true))
                         : scatter(g[0], d, idx, 0.0);
               }
               if (rs) {
                 const Tensor src_box = box_of(s[2], idx.shape());
                 const Tensor zero = zero_mask(src_box);
                 // d out / d src_i = out / src_i where src_i != 0 (0 if another element is 0) ...
                 gsrc = div(gather(mul(g[0], s[3]), d, idx), masked_fill(src_box, zero, 1.0));
                 // ... and the product of the others where src_i is the only zero at its target.
                 const Tensor lone = lone_zeros(src_box.detach(), idx, d, self_shape);
                 if (any_true(lone)) {
                   const Tensor others =
                       scatter_reduce(s[1], d, idx, masked_fill(src_box, lone, 1.0), "prod", include_self);
                   gsrc = where(lone, gather(mul(g[0], others), d, idx), gsrc);
                 }
                 gsrc = pad_to(gsrc, src_shape);
               }
               return Grads{gself, gsrc};
             });
      break;
  }
  return out;
}

Tensor take_along_dim(const Tensor& self, const Tensor& indices, std::optional<std::int64_t> dim) {
  XGRAD_PROFILE_OP("take_along_dim", self, indices);
  detail::check_defined(self, "take_along_dim");
  detail::check_defined(indices, "take_along_dim");
  if (indices.dtype() != Dtype::int64)
    throw Error(fmt::format("take_along_dim: dtype of indices should be int64, got {} (indices shape {})",
                            indices.dtype(), indices.shape()));
  if (!dim) {
    const Tensor ip = detail::packed(indices);
    check_values(ip, self.numel(), 0, "take_along_dim", self.shape());
    return gather(reshape(self, {-1}), 0, reshape(indices, {-1}));
  }
  if (self.dim() != indices.dim())
    throw Error(
        fmt::format("take_along_dim: input and indices should have the same number of dimensions, but got {} "
                    "dimensions for input (shape {}) and {} for indices (shape {})",
                    self.dim(), self.shape(), indices.dim(), indices.shape()));
  if (self.dim() == 0) {
    detail::wrap_dim(*dim, 1, "take_along_dim", self.shape());
    const Tensor ip = detail::packed(indices);
    check_values(ip, 1, 0, "take_along_dim", self.shape());
    return gather(self, 0, indices);
  }
  const std::int64_t d = detail::wrap_dim(*dim, self.dim(), "take_along_dim", self.shape());
  const auto du = static_cast<std::size_t>(d);
  const Tensor ip = detail::packed(indices);
  check_values(ip, self.shape()[du], d, "take_along_dim", self.shape());
  Shape self_sizes = self.shape();
  self_sizes[du] = indices.shape()[du];
  Shape bs;
  try {
    bs = broadcast_shapes(self_sizes, indices.shape(), "take_along_dim");
  } catch (const Error&) {
    throw Error(
        fmt::format("take_along_dim: input of shape {} and indices of shape {} cannot be broadcast together "
                    "outside dimension {}",
                    self.shape(), indices.shape(), d));
  }
  const Tensor ib = expand(indices, bs);
  bs[du] = self.shape()[du];
  return gather(expand(self, bs), d, ib);
}

Tensor index_add(const Tensor& self, std::int64_t dim, const Tensor& index, const Tensor& source, double alpha) {
  XGRAD_PROFILE_OP("index_add", self, index, source);
  detail::check_defined(self, "index_add");
  detail::check_defined(index, "index_add");
  detail::check_defined(source, "index_add");
  if (index.dtype() != Dtype::int64 && index.dtype() != Dtype::int32)
    throw Error(fmt::format("index_add: index must be an int64 or int32 tensor, got {} (index shape {})", index.dtype(),
                            index.shape()));
  if (index.dim() > 1)
    throw Error(fmt::format("index_add: index must be 1-d (or 0-d), got index shape {}", index.shape()));
  if (source.dtype() != self.dtype())
    throw Error(
        fmt::format("index_add: expected self and source to have the same dtype, got {} (shape {}) and {} "
                    "(shape {})",
                    self.dtype(), self.shape(), source.dtype(), source.shape()));
  const Shape ss = nonempty(self.shape()), rs = nonempty(source.shape());
  const std::int64_t d = detail::wrap_dim(dim, static_cast<std::int64_t>(ss.size()), "index_add", self.shape());
  const auto du = static_cast<std::size_t>(d);
  const std::int64_t m = index.numel(), n = ss[du];
  bool match = rs.size() == ss.size() && rs[du] == m;
  for (std::size_t k = 0; match && k < ss.size(); ++k) match = k == du || rs[k] == ss[k];
  if (!match)
    throw Error(
        fmt::format("index_add: source of shape {} must have the shape {} of self except in dimension {}, "
                    "where its size must be the number of indices ({})",
                    source.shape(), self.shape(), d, m));
  const Tensor idx = index.to(Dtype::int64);
  const Tensor ip = detail::packed(idx);
  check_values(ip, n, d, "index_add", self.shape());
  Tensor out = detail::contiguous_copy(self);
  const std::int64_t pre = prod(ss, 0, du), post = prod(ss, du + 1, ss.size());
  detail::dispatch_numeric(self.dtype(), "index_add", [&]<class T>() {
    const T a = detail::scalar_as<T>(alpha, "index_add");
    const Tensor sp = detail::packed(source);
    const T* ps = sp.data_ptr<T>();
    const std::int64_t* pi = ip.data_ptr<std::int64_t>();
    T* po = out.data_ptr<T>();
    for_columns(pre, post, m, [&](std::int64_t p, std::int64_t q0, std::int64_t q1) {
      for (std::int64_t i = 0; i < m; ++i) {
        T* dst = po + (p * n + pi[i]) * post;
        const T* src = ps + (p * m + i) * post;
        if (alpha == 1.0) {
          for (std::int64_t q = q0; q < q1; ++q) dst[q] = detail::wrap_add(dst[q], src[q]);
        } else {
          for (std::int64_t q = q0; q < q1; ++q) dst[q] = detail::wrap_add(dst[q], detail::wrap_mul(a, src[q]));
        }
      }
    });
  });
  if (any_requires_grad({&self, &source})) {
    const bool ra = self.requires_grad(), rs_ = source.requires_grad();
    record("IndexAddBackward", {self, source}, {out}, {rs_ ? idx : Tensor()},
           [ra, rs_, d, alpha, src_shape = source.shape()](const Grads& g, const Grads& s) {
             Tensor gs;
             if (rs_) {
               const Tensor g1 = g[0].dim() == 0 ? reshape(g[0], {1}) : g[0];
               gs = reshape(index_select(g1, d, reshape(s[0], {-1})), src_shape);
               if (alpha != 1.0) gs = mul(gs, alpha);
             }
             return Grads{ra ? g[0] : Tensor(), gs};
           });
  }
  return out;
}

}  // namespace xgrad
