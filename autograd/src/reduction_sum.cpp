// sum and mean, and the reduction index helpers the other reductions share.
#include "kernel.hpp"
#include "view.hpp"
#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/reduction.hpp"
#include "xgrad/autograd/shape.hpp"
#include "xgrad/autograd/profile_scope.hpp"

namespace xgrad {

namespace detail {

std::vector<bool> reduce_mask(const Shape& shape, const std::vector<std::int64_t>& dims, std::string_view op) {
  const auto nd = static_cast<std::int64_t>(shape.size());
  std::vector<bool> mask(shape.size(), dims.empty());
  for (std::int64_t d : dims) {
    if (nd == 0 && (d == 0 || d == -1)) continue;  // a 0-d tensor reduces over "dim 0" like PyTorch
    const std::int64_t w = wrap_dim(d, nd, op, shape);
    if (mask[w]) throw Error(fmt::format("{}: dim {} appears multiple times in the list of dims", op, d));
    mask[w] = true;
  }
  return mask;
}

ReduceIndexer make_reduce_indexer(const Shape& shape, const std::vector<bool>& mask) {
  ReduceIndexer r;
  auto st = contiguous_strides(shape);
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (mask[d]) {
      r.red_shape.push_back(shape[d]);
      r.red_strides.push_back(st[d]);
      r.n_red *= shape[d];
    } else {
      r.kept_shape.push_back(shape[d]);
      r.kept_strides.push_back(st[d]);
      r.n_out *= shape[d];
    }
  }
  std::size_t first_red = shape.size(), last_kept = 0;
  bool any_kept = false;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (mask[d] && first_red == shape.size()) first_red = d;
    if (!mask[d]) {
      last_kept = d;
      any_kept = true;
    }
  }
  r.red_trailing = !any_kept || last_kept < first_red;
  std::size_t n_lead = 0;
  while (n_lead < shape.size() && mask[n_lead]) ++n_lead;
  r.red_leading = n_lead == r.red_shape.size();
  return r;
}

Shape reduced_shape(const Shape& shape, const std::vector<bool>& mask, bool keepdim) {
  Shape out;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (!mask[d])
      out.push_back(shape[d]);
    else if (keepdim)
      out.push_back(1);
  }
  return out;
}

}  // namespace detail

namespace {

using Grads = std::vector<Tensor>;

// g (a reduction's gradient, shape `kept` up to size-1 dims) as a stride-0 view of shape
// `in_shape`: one view when nothing records, else the differentiable reshape + expand.
Tensor broadcast_back(const Tensor& g, const Shape& kept, const Shape& in_shape) {
  if (any_requires_grad({&g})) return expand(reshape(g, kept), in_shape);
  const Tensor gp = detail::packed(g);
  const Shape kst = detail::contiguous_strides(kept);
  Shape st(in_shape.size(), 0);
  for (std::size_t d = 0; d < in_shape.size(); ++d)
    if (kept[d] == in_shape[d] && kept[d] != 1) st[d] = kst[d];
  return detail::make_view(gp, {in_shape, st, gp.storage_offset()});
}

// The sum of p[0 .. n) over 16 fixed lanes (element i goes to lane i % 16) instead of one
// serial chain: the loop vectorises and the order is still fixed by n alone.
template <class A, class T>
A lane_sum(const T* p, std::int64_t n) {
  constexpr int kLanes = 16;
  A lane[kLanes] = {};
  std::int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) lane[l] = detail::wrap_add(lane[l], static_cast<A>(p[i + l]));
  A s = 0;
  for (int l = 0; l < kLanes; ++l) s = detail::wrap_add(s, lane[l]);
  for (; i < n; ++i) s = detail::wrap_add(s, static_cast<A>(p[i]));
  return s;
}

// Sum over the masked dims into a tensor of shape `out_shape`.
Tensor sum_kernel(const Tensor& a, const std::vector<bool>& mask, const Shape& out_shape) {
  Tensor out = detail::make_tensor(out_shape, a.dtype());
  const auto r = detail::make_reduce_indexer(a.shape(), mask);
  const Tensor ap = detail::packed(a);
  std::int64_t inner = 1, t = 0;  // the trailing reduced dims: one contiguous run of `inner` elements
  for (auto d = static_cast<std::int64_t>(mask.size()); d-- > 0 && mask[d]; ++t) inner *= a.shape()[d];
  detail::dispatch_numeric(a.dtype(), "sum", [&]<class T>() {
    using A = detail::acc_t<T>;
    const T* p = ap.data_ptr<T>();
    T* o = out.data_ptr<T>();
    if (r.n_out == 1) {
      o[0] = static_cast<T>(detail::chunked_reduce<A>(
          r.n_red, A(0),
          [&](std::int64_t b, std::int64_t e) { return lane_sum<A>(p + b, e - b); },
          [](A x, A y) { return detail::wrap_add(x, y); }));
    } else if (r.red_leading && !r.red_trailing) {
      // Reduce leading rows into a row of n_out: streams through memory once.
      const std::int64_t k = r.n_out;
      detail::parallel_for(k, std::max<std::int64_t>(1, detail::kGrain / std::max<std::int64_t>(r.n_red, 1)),
                           [&](std::int64_t b, std::int64_t e) {
                             std::vector<A> acc(static_cast<std::size_t>(e - b), A(0));
                             for (std::int64_t row = 0; row < r.n_red; ++row) {
                               const T* pr = p + row * k;
                               for (std::int64_t j = b; j < e; ++j) acc[j - b] = detail::wrap_add(acc[j - b], static_cast<A>(pr[j]));
                             }
                             for (std::int64_t j = b; j < e; ++j) o[j] = static_cast<T>(acc[j - b]);
                           });
    } else if (inner >= 16) {
      // Per output (e.g. per channel of a [N, C, H, W] sum over dims 0, 2, 3): lane sums of
      // the contiguous runs, added in row-major order of the other reduced dims.
      const std::vector<std::int64_t> osz(r.red_shape.begin(), r.red_shape.end() - t),
          ost(r.red_strides.begin(), r.red_strides.end() - t);
      const std::int64_t runs = r.n_red / inner;
      detail::parallel_for(r.n_out, std::max<std::int64_t>(1, detail::kGrain / std::max<std::int64_t>(r.n_red, 1)),
                           [&](std::int64_t b, std::int64_t e) {
                             for (std::int64_t i = b; i < e; ++i) {
                               const T* base = p + r.base(i);
                               A s = 0;
                               for (std::int64_t k = 0; k < runs; ++k) {
                                 std::int64_t off = 0, rem = k;
                                 for (std::size_t d = osz.size(); d-- > 0;) {
                                   off += (rem % osz[d]) * ost[d];
                                   rem /= osz[d];
                                 }
                                 s = detail::wrap_add(s, lane_sum<A>(base + off, inner));
                               }
                               o[i] = static_cast<T>(s);
                             }
                           });
    } else {
      detail::parallel_for(r.n_out, std::max<std::int64_t>(1, detail::kGrain / std::max<std::int64_t>(r.n_red, 1)),
                           [&](std::int64_t b, std::int64_t e) {
                             for (std::int64_t i = b; i < e; ++i) {
                               A s = 0;
                               r.for_each(r.base(i), [&](std::int64_t off) { s = detail::wrap_add(s, static_cast<A>(p[off])); });
                               o[i] = static_cast<T>(s);
                             }
                           });
    }
  });
  return out;
}

}  // namespace

Tensor sum(const Tensor& a, const Dims& dims, bool keepdim) {
  XGRAD_PROFILE_OP("sum", a);
  detail::check_defined(a, "sum");
  // PyTorch: integer and bool sums accumulate and return in int64.
  if (is_integral(a.dtype(), true) && a.dtype() != Dtype::int64) return sum(a.to(Dtype::int64), dims, keepdim);
  const auto mask = detail::reduce_mask(a.shape(), dims, "sum");
  Tensor out = sum_kernel(a, mask, detail::reduced_shape(a.shape(), mask, keepdim));
  if (any_requires_grad({&a})) {
    // d(sum)/da_i = 1: the gradient is broadcast back over the reduced dims.
    record("SumBackward", {a}, {out}, {},
           [in_shape = a.shape(), kept = detail::reduced_shape(a.shape(), mask, true)](const Grads& g, const Grads&) {
             return Grads{broadcast_back(g[0], kept, in_shape)};
           });
  }
  return out;
}

Tensor mean(const Tensor& a, const Dims& dims, bool keepdim) {
  XGRAD_PROFILE_OP("mean", a);
  detail::check_defined(a, "mean");
  if (!is_floating(a.dtype()))
    throw Error(fmt::format("mean: expected a floating dtype, got int64 tensor of shape {}", a.shape()));
  const auto mask = detail::reduce_mask(a.shape(), dims, "mean");
  std::int64_t n = 1;
  for (std::size_t d = 0; d < mask.size(); ++d)
    if (mask[d]) n *= a.shape()[d];
  Tensor s;
  {
    NoGradGuard ng;
    s = div(sum_kernel(a, mask, detail::reduced_shape(a.shape(), mask, keepdim)), static_cast<double>(n));
  }
  if (any_requires_grad({&a})) {
    // d(mean)/da_i = 1/N.
    record("MeanBackward", {a}, {s}, {},
           [in_shape = a.shape(), kept = detail::reduced_shape(a.shape(), mask, true), n](const Grads& g, const Grads&) {
             return Grads{broadcast_back(div(g[0], static_cast<double>(n)), kept, in_shape)};
           });
  }
  return s;
}

Tensor Tensor::sum() const { return xgrad::sum(*this); }
Tensor Tensor::sum(const std::vector<std::int64_t>& dims, bool keepdim) const { return xgrad::sum(*this, dims, keepdim); }
Tensor Tensor::mean() const { return xgrad::mean(*this); }
Tensor Tensor::mean(const std::vector<std::int64_t>& dims, bool keepdim) const {
  return xgrad::mean(*this, dims, keepdim);
}

}  // namespace xgrad
