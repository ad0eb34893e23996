// Masking ops: masked_fill(_), masked_select, masked_scatter, nonzero. Selections walk the
// broadcast shape in fixed chunks of kGrain elements: the chunks' hit counts are summed into
// ranks on the calling thread, then each chunk writes its own hits, so every output element is
// written by one task and the result does not depend on the thread count.
#include "xgrad/autograd/masking.hpp"

#include <cmath>
#include <limits>

#include "copy_box.hpp"
#include "kernel.hpp"
#include "view.hpp"
#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/reduction.hpp"
#include "xgrad/autograd/shape.hpp"
#include "xgrad/autograd/profile_scope.hpp"

namespace xgrad {

namespace {

using Grads = std::vector<Tensor>;

void check_mask(const Tensor& mask, std::string_view op) {
  detail::check_defined(mask, op);
  if (mask.dtype() != Dtype::boolean)
    throw Error(fmt::format("{}: expected a bool mask, got {} (mask shape {}); convert it with .to(xgrad::boolean)", op,
                            mask.dtype(), mask.shape()));
}


// t broadcast to `shape` as a packed tensor (t itself when it already is one).
Tensor packed_as(const Tensor& t, const Shape& shape) {
  if (t.shape() == shape) return detail::packed(t);
  Tensor out = detail::make_tensor(shape, t.dtype());
  detail::copy_into(out, t);
  return out;
}

// Hits of a predicate over [0, n) in chunks of kGrain: start[c] is the number of hits
// before chunk c.
struct Scan {
  std::vector<std::int64_t> start;
  std::int64_t total = 0;
};

template <class Hit>
Scan scan(std::int64_t n, const Hit& hit) {
  const std::int64_t chunks = (n + detail::kGrain - 1) / detail::kGrain;
  std::vector<std::int64_t> count(static_cast<std::size_t>(chunks), 0);
  detail::parallel_for(chunks, 1, [&](std::int64_t c0, std::int64_t c1) {
    for (std::int64_t c = c0; c < c1; ++c) {
      std::int64_t k = 0;
      for (std::int64_t i = c * detail::kGrain, e = std::min(n, (c + 1) * detail::kGrain); i < e; ++i) k += hit(i);
      count[static_cast<std::size_t>(c)] = k;
    }
  });
  Scan s;
  s.start.resize(count.size());
  for (std::size_t c = 0; c < count.size(); ++c) {
    s.start[c] = s.total;
    s.total += count[c];
  }
  return s;
}

// f(i, k) for every hit i and its rank k (chunks in parallel, in order within a chunk).
template <class Hit, class F>
void for_hits(std::int64_t n, const Scan& s, const Hit& hit, const F& f) {
  detail::parallel_for(static_cast<std::int64_t>(s.start.size()), 1, [&](std::int64_t c0, std::int64_t c1) {
    for (std::int64_t c = c0; c < c1; ++c) {
      std::int64_t k = s.start[static_cast<std::size_t>(c)];
      for (std::int64_t i = c * detail::kGrain, e = std::min(n, (c + 1) * detail::kGrain); i < e; ++i)
        if (hit(i)) f(i, k++);
    }
  });
}

// out = where(mask, value, t) on shape os; `value` is a template lambda giving the fill value
// as T (called before anything is written).
template <class Value>
Tensor fill_out(const Tensor& t, const Tensor& mask, const Shape& os, const Value& value) {
  Tensor out = detail::make_tensor(os, t.dtype());
  detail::dispatch(t.dtype(), [&]<class T>() {
    const T v = value.template operator()<T>();
    const T* pt = t.strided_data_ptr<T>();
    const bool* pm = mask.strided_data_ptr<bool>();
    T* po = out.data_ptr<T>();
    if (t.is_contiguous() && mask.is_contiguous() && t.shape() == os && mask.shape() == os) {
      detail::parallel_for(out.numel(), detail::kGrain, [&](std::int64_t b, std::int64_t e) {
        for (std::int64_t i = b; i < e; ++i) po[i] = pm[i] ? v : pt[i];
      });
      return;
    }
    std::array<std::vector<std::int64_t>, 3> st{out.strides(), detail::broadcast_strides(t, os),
                                                detail::broadcast_strides(mask, os)};
    detail::strided_rows<3>(
        os, st, [&](const std::array<std::int64_t, 3>& off, std::int64_t len, const std::array<std::int64_t, 3>& is) {
          for (std::int64_t j = 0; j < len; ++j)
            po[off[0] + j * is[0]] = pm[off[2] + j * is[2]] ? v : pt[off[1] + j * is[1]];
        });
  });
  return out;
}

}  // namespace

Tensor masked_fill(const Tensor& t, const Tensor& mask, double value) {
  XGRAD_PROFILE_OP("masked_fill", t, mask);
  detail::check_defined(t, "masked_fill");
  check_mask(mask, "masked_fill");
  const Shape os = t.shape() == mask.shape() ? t.shape() : broadcast_shapes(t.shape(), mask.shape(), "masked_fill");
  Tensor out = fill_out(t, mask, os, [value]<class T>() { return detail::scalar_as<T>(value, "masked_fill"); });
  if (any_requires_grad({&t}))
    record("MaskedFillBackward", {t}, {out}, {mask},
           [](const Grads& g, const Grads& s) { return Grads{masked_fill(g[0], s[0], 0.0)}; });
  return out;
}

Tensor masked_fill(const Tensor& t, const Tensor& mask, const Tensor& value) {
  XGRAD_PROFILE_OP("masked_fill", t, mask, value);
  detail::check_defined(t, "masked_fill");
  check_mask(mask, "masked_fill");
  detail::check_defined(value, "masked_fill");
  if (value.dim() != 0)
    throw Error(fmt::format("masked_fill: only supports a 0-dimensional value tensor, but got a value of shape {}",
                            value.shape()));
  const Shape os = t.shape() == mask.shape() ? t.shape() : broadcast_shapes(t.shape(), mask.shape(), "masked_fill");
  // A floating value meets a floating tensor through a differentiable conversion; any other
  // pair goes through double with scalar_as's checks.
  const Tensor v = is_floating(t.dtype()) && is_floating(value.dtype()) ? value.to(t.dtype()) : value;
  Tensor out = fill_out(t, mask, os, [&v]<class T>() {
    if (v.dtype() == dtype_of<T>()) return v.item<T>();
    const double d = detail::dispatch(v.dtype(), [&]<class S>() { return static_cast<double>(v.item<S>()); });
    return detail::scalar_as<T>(d, "masked_fill");
  });
  // Only a value of t's (floating) dtype can carry a gradient.
  const Tensor vin = v.dtype() == t.dtype() ? v : Tensor();
  if (any_requires_grad({&t, &vin})) {
    const bool rt = t.requires_grad(), rv = vin.defined() && vin.requires_grad();
    // d out/d value = 1 at the masked positions of the broadcast shape: their gradients summed.
    record("MaskedFillBackward", {t, vin}, {out}, {mask}, [rt, rv](const Grads& g, const Grads& s) {
      return Grads{rt ? masked_fill(g[0], s[0], 0.0) : Tensor(),
                   rv ? sum(where(s[0], g[0], scalar_tensor(0.0, dtype(g[0].dtype())))) : Tensor()};
    });
  }
  return out;
}

Tensor& masked_fill_(Tensor& t, const Tensor& mask, double value) {
  XGRAD_PROFILE_OP("masked_fill_", t, mask);
  detail::check_inplace_target(t, "masked_fill_");
  check_mask(mask, "masked_fill_");
  if (broadcast_shapes(t.shape(), mask.shape(), "masked_fill_") != t.shape())
    throw Error(
        fmt::format("masked_fill_: mask of shape {} cannot be broadcast to the shape {} of the tensor being "
                    "filled",
                    mask.shape(), t.shape()));
  if (any_requires_grad({&t})) {
    detail::rebase_inplace(t, masked_fill(t, mask, value), "masked_fill_");
    return t;
  }
  // A mask that shares t's memory (a bool t filled through a view of itself) is read from a copy.
  const Tensor m = mask.impl()->storage == t.impl()->storage ? detail::contiguous_copy(mask) : mask;
  detail::dispatch(t.dtype(), [&]<class T>() {
    const T v = detail::scalar_as<T>(value, "masked_fill_");
    T* pt = t.strided_data_ptr<T>();
    const bool* pm = m.strided_data_ptr<bool>();
    std::array<std::vector<std::int64_t>, 2> st{t.strides(), detail::broadcast_strides(m, t.shape())};
    detail::strided_rows<2>(
        t.shape(), st,
        [&](const std::array<std::int64_t, 2>& off, std::int64_t len, const std::array<std::int64_t, 2>& is) {
          for (std::int64_t j = 0; j < len; ++j)
            if (pm[off[1] + j * is[1]]) pt[off[0] + j * is[0]] = v;
        });
  });
  ++t.impl()->storage->version;
  return t;
}

Tensor masked_select(const Tensor& t, const Tensor& mask) {
  XGRAD_PROFILE_OP("masked_select", t, mask);
  detail::check_defined(t, "masked_select");
  check_mask(mask, "masked_select");
  const Shape os = t.shape() == mask.shape() ? t.shape() : broadcast_shapes(t.shape(), mask.shape(), "masked_select");
  const std::int64_t n = shape_numel(os);
  const Tensor m = packed_as(mask, os);
  const bool* pm = m.data_ptr<bool>();
  const auto hit = [pm](std::int64_t i) { return pm[i]; };
  const Scan s = scan(n, hit);
  Tensor out = detail::make_tensor({s.total}, t.dtype());
  detail::dispatch(t.dtype(), [&]<class T>() {
    const Tensor tp = packed_as(t, os);
    const T* pt = tp.data_ptr<T>();
    T* po = out.data_ptr<T>();
    for_hits(n, s, hit, [&](std::int64_t i, std::int64_t k) { po[k] = pt[i]; });
  });
  if (any_requires_grad({&t}))
    record("MaskedSelectBackward", {t}, {out}, {mask}, [os](const Grads& g, const Grads& sv) {
      return Grads{masked_scatter(zeros(os, dtype(g[0].dtype())), sv[0], g[0])};
    });
  return out;
}

Tensor masked_scatter(const Tensor& t, const Tensor& mask, const Tensor& source) {
  XGRAD_PROFILE_OP("masked_scatter", t, mask, source);
  detail::check_defined(t, "masked_scatter");
  check_mask(mask, "masked_scatter");
  detail::check_defined(source, "masked_scatter");
  if (source.dtype() != t.dtype())
    throw Error(
        fmt::format("masked_scatter: expected self and source to have the same dtype, got {} (shape {}) and {} "
                    "(shape {})",
                    t.dtype(), t.shape(), source.dtype(), source.shape()));
  const Shape os = t.shape() == mask.shape() ? t.shape() : broadcast_shapes(t.shape(), mask.shape(), "masked_scatter");
  const std::int64_t n = shape_numel(os);
  const Tensor m = packed_as(mask, os);
  const bool* pm = m.data_ptr<bool>();
  const auto hit = [pm](std::int64_t i) { return pm[i]; };
  const Scan s = scan(n, hit);
  if (source.numel() < s.total)
    throw Error(
        fmt::format("masked_scatter: number of elements of source ({}, shape {}) < number of ones in mask ({}, "
                    "mask shape {})",
                    source.numel(), source.shape(), s.total, mask.shape()));
  Tensor out = packed_as(t, os);
  if (out.is_same(t)) out = detail::contiguous_copy(t);
  detail::dispatch(t.dtype(), [&]<class T>() {
    const Tensor sp = detail::packed(source);
    const T* ps = sp.data_ptr<T>();
    T* po = out.data_ptr<T>();
    for_hits(n, s, hit, [&](std::int64_t i, std::int64_t k) { po[i] = ps[k]; });
  });
  if (any_requires_grad({&t, &source})) {
    const bool rt = t.requires_grad(), rs = source.requires_grad();
    record("MaskedScatterBackward", {t, source}, {out}, {mask},
           [rt, rs, used = s.total, src_shape = source.shape()](const Grads& g, const Grads& sv) {
             Tensor gs;
             if (rs) {
               // source's k-th element landed at the k-th masked position; the unused tail gets 0.
               gs = masked_select(g[0], sv[0]);
               const std::int64_t total = shape_numel(src_shape);
               if (total > used) gs = pad(gs, {0, total - used});
               gs = reshape(gs, src_shape);
             }
             return Grads{rt ? masked_fill(g[0], sv[0], 0.0) : Tensor(), gs};
           });
  }
  return out;
}

Tensor nonzero(const Tensor& t) {
  XGRAD_PROFILE_OP("nonzero", t);
  detail::check_defined(t, "nonzero");
  const Tensor p = detail::packed(t);
  const std::int64_t n = t.numel(), nd = t.dim();
  const Shape& shape = t.shape();
  Tensor out;
  detail::dispatch(t.dtype(), [&]<class T>() {
    const T* pt = p.data_ptr<T>();
    const auto hit = [pt](std::int64_t i) { return pt[i] != T(0); };  // NaN != 0
    const Scan s = scan(n, hit);
    out = detail::make_tensor({s.total, nd}, Dtype::int64);
    std::int64_t* po = out.data_ptr<std::int64_t>();
    for_hits(n, s, hit, [&](std::int64_t i, std::int64_t k) {
      for (std::int64_t d = nd - 1; d >= 0; --d) {
        po[k * nd + d] = i % shape[static_cast<std::size_t>(d)];
        i /= shape[static_cast<std::size_t>(d)];
      }
    });
  });
  return out;
}

std::vector<Tensor> nonzero_tuple(const Tensor& t) {
  XGRAD_PROFILE_OP("nonzero_tuple", t);
  detail::check_defined(t, "nonzero_tuple");
  NoGradGuard ng;
  const Tensor nz = nonzero(t.dim() == 0 ? reshape(t.detach(), {1}) : t);
  std::vector<Tensor> out;
  for (std::int64_t d = 0; d < nz.size(1); ++d) out.push_back(select(nz, 1, d).contiguous());
  return out;
}

}  // namespace xgrad
