// Indexing ops: index_select, gather, scatter_add (and index_add into zeros, the gradient of
// index_select). The tensors are viewed as [pre, m, post] around the indexed dim; copies run
// in parallel over rows, accumulations in parallel over (pre, post) columns only, so every
// output element is summed by one task in index order (race-free and deterministic).
#include <cstring>

#include "copy_box.hpp"
#include "kernel.hpp"
#include "strided_index.hpp"
#include "xgrad/autograd/factories.hpp"
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

void check_index_dtype(const Tensor& index, std::string_view op) {
  if (index.dtype() != Dtype::int64)
    throw Error(fmt::format("{}: index must be int64, got {} (index shape {})", op, index.dtype(), index.shape()));
}

// Throws unless every index value lies in [0, n).
void check_index_range(const Tensor& index, std::int64_t n, std::int64_t dim, std::string_view op, const Shape& shape) {
  const Tensor index_packed = detail::packed(index);
  const std::int64_t* p = index_packed.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < index.numel(); ++i)
    if (p[i] < 0 || p[i] >= n)
      throw Error(fmt::format("{}: index {} is out of range for dimension {} with size {} (tensor shape {})", op, p[i],
                              dim, n, shape));
}


// out (shape = g's with dim d of size n) = 0, then out[.., index[i], ..] += g[.., i, ..].
// The gradient of index_select; differentiable in g (its gradient is index_select again).
Tensor index_add_zeros(const Tensor& g, std::int64_t d, const Tensor& index, std::int64_t n) {
  Shape os = g.shape();
  os[d] = n;
  Tensor out = zeros(os, dtype(g.dtype()));
  const std::int64_t pre = prod(os, 0, d), post = prod(os, d + 1, os.size()), m = index.numel();
  detail::dispatch(g.dtype(), [&]<class T>() {
    const Tensor g_packed = detail::packed(g);
    const T* pg = g_packed.data_ptr<T>();
    const Tensor idx_packed = detail::packed(index);
    const std::int64_t* pi = idx_packed.data_ptr<std::int64_t>();
    T* po = out.data_ptr<T>();
    for_columns(pre, post, m, [&](std::int64_t p, std::int64_t q0, std::int64_t q1) {
      for (std::int64_t i = 0; i < m; ++i) {
        T* dst = po + (p * n + pi[i]) * post;
        const T* src = pg + (p * m + i) * post;
        for (std::int64_t q = q0; q < q1; ++q) dst[q] += src[q];
      }
    });
  });
  if (any_requires_grad({&g}))
    record("IndexAddBackward", {g}, {out}, {index},
           [d](const Grads& gr, const Grads& s) { return Grads{index_select(gr[0], d, s[0])}; });
  return out;
}

// Runs f on 1-d versions of 0-d tensors and gives the result back a 0-d shape (PyTorch
// treats a 0-d tensor as having one dim of size 1 in gather/scatter).
template <class F>
Tensor as_1d(F&& f, std::initializer_list<const Tensor*> ts) {
  std::vector<Tensor> r;
  for (const Tensor* t : ts) r.push_back(reshape(*t, {1}));
  return reshape(f(r), {});
}

}  // namespace

Tensor index_select(const Tensor& a, std::int64_t dim, const Tensor& index) {
  XGRAD_PROFILE_OP("index_select", a, index);
  detail::check_defined(a, "index_select");
  detail::check_defined(index, "index_select");
  check_index_dtype(index, "index_select");
  if (index.dim() > 1)
    throw Error(fmt::format("index_select: index must be 1-d (or 0-d), got index shape {}", index.shape()));
  if (a.dim() == 0) {
    detail::wrap_dim(dim, 0, "index_select", a.shape());
    check_index_range(index, 1, 0, "index_select", a.shape());
    return reshape(index_select(reshape(a, {1}), 0, index), index.shape());
  }
  const std::int64_t d = detail::wrap_dim(dim, a.dim(), "index_select", a.shape());
  const std::int64_t n = a.shape()[d];
  check_index_range(index, n, d, "index_select", a.shape());
  Shape os = a.shape();
  const std::int64_t m = index.numel();
  os[d] = m;
  Tensor out = detail::make_tensor(os, a.dtype());
  const std::int64_t pre = prod(os, 0, d), post = prod(os, d + 1, os.size());
  detail::dispatch(a.dtype(), [&]<class T>() {
    const Tensor a_packed = detail::packed(a);
    const T* pa = a_packed.data_ptr<T>();
    const Tensor idx_packed = detail::packed(index);
    const std::int64_t* pi = idx_packed.data_ptr<std::int64_t>();
    T* po = out.data_ptr<T>();
    // Row r = (p, i) of the output is row (p, index[i]) of the input.
    detail::parallel_for(pre * m, std::max<std::int64_t>(1, detail::kGrain / std::max<std::int64_t>(post, 1)),
                         [&](std::int64_t r0, std::int64_t r1) {
                           for (std::int64_t r = r0; r < r1; ++r) {
                             const std::int64_t p = r / m, i = r % m;
                             const T* src = pa + (p * n + pi[i]) * post;
                             std::copy(src, src + post, po + r * post);
                           }
                         });
  });
  if (any_requires_grad({&a}))
    record("IndexSelectBackward", {a}, {out}, {index},
           [d, n](const Grads& g, const Grads& s) { return Grads{index_add_zeros(g[0], d, s[0], n)}; });
  return out;
}

Tensor gather(const Tensor& a, std::int64_t dim, const Tensor& index) {
  XGRAD_PROFILE_OP("gather", a, index);
  detail::check_defined(a, "gather");
  detail::check_defined(index, "gather");
  check_index_dtype(index, "gather");
  if (index.dim() != a.dim())
    throw Error(
        fmt::format("gather: index must have the same number of dimensions as the input, got index shape {} "
                    "and input shape {}",
                    index.shape(), a.shape()));
  const std::int64_t d = detail::wrap_dim(dim, a.dim(), "gather", a.shape());
  if (a.dim() == 0) {
    check_index_range(index, 1, 0, "gather", a.shape());
    return as_1d([&](const std::vector<Tensor>& r) { return gather(r[0], 0, r[1]); }, {&a, &index});
  }
  for (std::int64_t k = 0; k < a.dim(); ++k)
    if (k != d && index.shape()[k] > a.shape()[k])
      throw Error(
          fmt::format("gather: index shape {} exceeds input shape {} in dimension {} (only dimension {} may be "
                      "larger)",
                      index.shape(), a.shape(), k, d));
  const std::int64_t n = a.shape()[d];
  check_index_range(index, n, d, "gather", a.shape());
  const Shape& is = index.shape();
  Tensor out = detail::make_tensor(is, a.dtype());
  const auto du = static_cast<std::size_t>(d);
  const std::int64_t pre = prod(is, 0, du), m = is[du], post = prod(is, du + 1, is.size());
  const Dims ast = detail::contiguous_strides(a.shape());
  const Dims post_off = offset_table(is, ast, du + 1, is.size());
  detail::dispatch(a.dtype(), [&]<class T>() {
    const Tensor a_packed = detail::packed(a);
    const T* pa = a_packed.data_ptr<T>();
    const Tensor idx_packed = detail::packed(index);
    const std::int64_t* pi = idx_packed.data_ptr<std::int64_t>();
    T* po = out.data_ptr<T>();
    // Row r = (p, i) of the index: out[r, q] = a[pre_off(p) + index[r, q] * stride_d + post_off(q)].
    detail::parallel_for(pre * m, std::max<std::int64_t>(1, detail::kGrain / std::max<std::int64_t>(post, 1)),
                         [&](std::int64_t r0, std::int64_t r1) {
                           for (std::int64_t r = r0; r < r1; ++r) {
                             const std::int64_t base = offset_of(r / m, is, ast, 0, du);
                             const std::int64_t* ir = pi + r * post;
                             T* orow = po + r * post;
                             for (std::int64_t q = 0; q < post; ++q) orow[q] = pa[base + ir[q] * ast[du] + post_off[q]];
                           }
                         });
  });
  if (any_requires_grad({&a}))
    record("GatherBackward", {a}, {out}, {index}, [d, in_shape = a.shape()](const Grads& g, const Grads& s) {
      return Grads{scatter_add(zeros(in_shape, dtype(g[0].dtype())), d, s[0], g[0])};
    });
  return out;
}

Tensor scatter_add(const Tensor& a, std::int64_t dim, const Tensor& index, const Tensor& src) {
  XGRAD_PROFILE_OP("scatter_add", a, index, src);
  detail::check_same_dtype(a, src, "scatter_add");
  detail::check_defined(index, "scatter_add");
  check_index_dtype(index, "scatter_add");
  if (index.dim() != a.dim() || src.dim() != a.dim())
    throw Error(
        fmt::format("scatter_add: input, index and src must have the same number of dimensions, got input "
                    "shape {}, index shape {} and src shape {}",
                    a.shape(), index.shape(), src.shape()));
  const std::int64_t d = detail::wrap_dim(dim, a.dim(), "scatter_add", a.shape());
  if (a.dim() == 0) {
    check_index_range(index, 1, 0, "scatter_add", a.shape());
    return as_1d([&](const std::vector<Tensor>& r) { return scatter_add(r[0], 0, r[1], r[2]); }, {&a, &index, &src});
  }
  for (std::int64_t k = 0; k < a.dim(); ++k)
    if (index.shape()[k] > src.shape()[k] || (k != d && index.shape()[k] > a.shape()[k]))
      throw Error(
          fmt::format("scatter_add: index shape {} must not exceed src shape {} in any dimension, nor input "
                      "shape {} outside dimension {} (dimension {} violates this)",
                      index.shape(), src.shape(), a.shape(), d, k));
  const std::int64_t n = a.shape()[d];
  check_index_range(index, n, d, "scatter_add", a.shape());
  Tensor out = detail::make_tensor(a.shape(), a.dtype());
  detail::copy_into(out, a);
  const Shape& is = index.shape();
  const auto du = static_cast<std::size_t>(d);
  const std::int64_t pre = prod(is, 0, du), m = is[du], post = prod(is, du + 1, is.size());
  const Dims ast = detail::contiguous_strides(a.shape()), sst = detail::contiguous_strides(src.shape());
  const Dims a_post = offset_table(is, ast, du + 1, is.size()), s_post = offset_table(is, sst, du + 1, is.size());
  detail::dispatch(a.dtype(), [&]<class T>() {
    const Tensor src_packed = detail::packed(src);
    const T* ps = src_packed.data_ptr<T>();
    const Tensor idx_packed = detail::packed(index);
    const std::int64_t* pi = idx_packed.data_ptr<std::int64_t>();
    T* po = out.data_ptr<T>();
    // Column (p, q): out[a_pre(p) + index[p, i, q] * stride_d + a_post(q)] += src[s_pre(p) + i * sstride_d + s_post(q)]
    // for i = 0..m-1 in order.
    for_columns(pre, post, m, [&](std::int64_t p, std::int64_t q0, std::int64_t q1) {
      const std::int64_t ab = offset_of(p, is, ast, 0, du), sb = offset_of(p, is, sst, 0, du);
      for (std::int64_t i = 0; i < m; ++i) {
        const std::int64_t* ir = pi + (p * m + i) * post;
        for (std::int64_t q = q0; q < q1; ++q) po[ab + ir[q] * ast[du] + a_post[q]] += ps[sb + i * sst[du] + s_post[q]];
      }
    });
  });
  if (any_requires_grad({&a, &src})) {
    const bool ra = a.requires_grad(), rs = src.requires_grad();
    record("ScatterAddBackward", {a, src}, {out}, {rs ? index : Tensor()},
           [ra, rs, d, src_shape = src.shape()](const Grads& g, const Grads& s) {
             Tensor gs;
             if (rs) {
               // d out / d src: each src element read at index positions lands where gather reads it back;
               // src elements outside the index box are unused (zero gradient).
               gs = gather(g[0], d, s[0]);
               if (gs.shape() != src_shape) {
                 std::vector<std::int64_t> p;
                 for (std::size_t k = src_shape.size(); k-- > 0;) {
                   p.push_back(0);
                   p.push_back(src_shape[k] - gs.shape()[k]);
                 }
                 gs = pad(gs, p);
               }
             }
             return Grads{ra ? g[0] : Tensor(), gs};
           });
  }
  return out;
}

Tensor Tensor::index_select(std::int64_t dim, const Tensor& index) const {
  return xgrad::index_select(*this, dim, index);
}
Tensor Tensor::gather(std::int64_t dim, const Tensor& index) const { return xgrad::gather(*this, dim, index); }

}  // namespace xgrad
