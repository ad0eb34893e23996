// prod, nansum and nanmean (math.hpp).
#include <algorithm>
#include <cmath>
#include <optional>

#include "kernel.hpp"
#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/math.hpp"
#include "xgrad/autograd/reduction.hpp"
#include "xgrad/autograd/shape.hpp"
#include "xgrad/autograd/profile_scope.hpp"

namespace xgrad {

namespace {

using Grads = std::vector<Tensor>;

/// Folds the elements of packed `p` reduced into each output: step(acc, x) in row-major
/// order of the reduced dims, then finish(o, acc). Deterministic: every output is one
/// sequential loop, except full reductions, which fold the fixed chunks of chunked_reduce
/// and combine them left to right (identical at every thread count).
template <class T, class Acc, class Step, class Combine, class Finish>
void fold(const T* p, const detail::ReduceIndexer& r, Acc init, Step step, Combine combine, Finish finish) {
  if (r.n_out == 0) return;
  if (r.n_out == 1) {
    // The reduced elements are the whole (packed) tensor.
    finish(std::int64_t{0}, detail::chunked_reduce<Acc>(
                                r.n_red, init,
                                [&](std::int64_t b, std::int64_t e) {
                                  Acc s = init;
                                  for (std::int64_t i = b; i < e; ++i) step(s, p[i]);
                                  return s;
                                },
                                combine));
    return;
  }
  const std::int64_t grain = detail::grain_for(r.n_red);
  if (r.red_leading && !r.red_trailing) {
    // Reduced dims lead: the input is [n_red, n_out]; fold whole rows into a block of
    // accumulators (one pass through memory, each output still in row-major order).
    const std::int64_t k = r.n_out;
    detail::parallel_for(k, grain, [&](std::int64_t b, std::int64_t e) {
      std::vector<Acc> acc(static_cast<std::size_t>(e - b), init);
      for (std::int64_t row = 0; row < r.n_red; ++row) {
        const T* pr = p + row * k;
        for (std::int64_t j = b; j < e; ++j) step(acc[j - b], pr[j]);
      }
      for (std::int64_t j = b; j < e; ++j) finish(j, acc[j - b]);
    });
    return;
  }
  detail::parallel_for(r.n_out, grain, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t o = b; o < e; ++o) {
      Acc s = init;
      r.for_each(r.base(o), [&](std::int64_t off) { step(s, p[off]); });
      finish(o, s);
    }
  });
}

// ---- prod -----------------------------------------------------------------------------------

Tensor prod_kernel(const Tensor& a, const std::vector<bool>& mask, const Shape& out_shape) {
  Tensor out = detail::make_tensor(out_shape, is_floating(a.dtype()) ? a.dtype() : Dtype::int64, "prod");
  const auto r = detail::make_reduce_indexer(a.shape(), mask);
  const Tensor ap = detail::packed(a);
  detail::dispatch(a.dtype(), [&]<class T>() {
    const T* p = ap.data_ptr<T>();
    if constexpr (std::is_floating_point_v<T>) {
      using A = detail::acc_t<T>;
      T* o = out.data_ptr<T>();
      fold<T, A>(
          p, r, A(1), [](A& s, T x) { s *= x; }, [](A x, A y) { return x * y; },
          [o](std::int64_t i, A s) { o[i] = static_cast<T>(s); });
    } else {
      // NOTE: int64 products wrap around on overflow like PyTorch's (two's complement);
      // they are formed in uint64 because signed overflow is undefined in C++.
      std::int64_t* o = out.data_ptr<std::int64_t>();
      fold<T, std::uint64_t>(
          p, r, std::uint64_t{1},
          [](std::uint64_t& s, T x) { s *= static_cast<std::uint64_t>(static_cast<std::int64_t>(x)); },
          [](std::uint64_t x, std::uint64_t y) { return x * y; },
          [o](std::int64_t i, std::uint64_t s) { o[i] = static_cast<std::int64_t>(s); });
    }
  });
  return out;
}

bool has_zero(const Tensor& x) {
  const Tensor xp = detail::packed(x);
  bool found = false;
  detail::dispatch_floating(xp, "prod", [&]<class T>() {
    const T* p = xp.data_ptr<T>();
    found = std::any_of(p, p + xp.numel(), [](T v) { return v == T(0); });
  });
  return found;
}

/// Inclusive product scan along dim d (reverse: from the end), built from differentiable
/// ops (Hillis-Steele: log2(n) rounds of y_i *= y_{i -+ s}), so that it differentiates to
/// any order and multiplies zeros exactly.
Tensor scan_prod(Tensor y, std::int64_t d, bool reverse) {
  const std::int64_t n = y.size(d);
  Shape os = y.shape();
  for (std::int64_t s = 1; s < n; s *= 2) {
    os[static_cast<std::size_t>(d)] = s;
    const Tensor one = ones(os, dtype(y.dtype()));
    const Tensor shifted = reverse ? cat({narrow(y, d, s, n - s), one}, d) : cat({one, narrow(y, d, 0, n - s)}, d);
    y = mul(y, shifted);
  }
  return y;
}

/// e_i = prod_{j != i} x_j along dim d: (product of the elements before i) times (product
/// of the elements after i). Exact with zeros, unlike prod / x_i.
Tensor exclusive_prod(const Tensor& x, std::int64_t d) {
  const std::int64_t n = x.size(d);
  if (n <= 1) return ones_like(x);
  Shape os = x.shape();
  os[static_cast<std::size_t>(d)] = 1;
  const Tensor one = ones(os, dtype(x.dtype()));
  const Tensor before = cat({one, scan_prod(narrow(x, d, 0, n - 1), d, false)}, d);
  const Tensor after = cat({scan_prod(narrow(x, d, 1, n - 1), d, true), one}, d);
  return mul(before, after);
}

/// PyTorch's prod_backward: g (shape of the result) times d prod / d x_i = prod_{j != i} x_j,
/// the product taken over all elements (dim absent) or along dim. `kept` is the result's
/// shape with the reduced dims kept as 1.
Tensor prod_backward(const Tensor& g, const Tensor& x, const Tensor& out, const Shape& kept,
                     std::optional<std::int64_t> dim) {
  if (x.dim() == 0) return g;
  const Tensor gk = reshape(g, kept);
  // Without zeros the quotient is exact enough and cheap (PyTorch's fast path); it also
  // differentiates again through out, whose own backward is this function.
  if (!has_zero(x)) return mul(gk, div(reshape(out, kept), x));
  if (!dim) return mul(gk, reshape(exclusive_prod(reshape(x, {x.numel()}), 0), x.shape()));
  return mul(gk, exclusive_prod(x, *dim));
}

}  // namespace

Tensor prod(const Tensor& a) {
  XGRAD_PROFILE_OP("prod", a);
  detail::check_defined(a, "prod");
  const std::vector<bool> mask(a.shape().size(), true);
  Tensor out = prod_kernel(a, mask, {});
  if (any_requires_grad({&a})) {
    // d prod / d a_i = prod_{j != i} a_j (see prod_backward).
    record("ProdBackward", {a}, {out}, {a, out},
           [kept = detail::reduced_shape(a.shape(), mask, true)](const Grads& g, const Grads& s) {
             return Grads{prod_backward(g[0], s[0], s[1], kept, std::nullopt)};
           });
  }
  return out;
}

Tensor detail::prod_dim(const Tensor& a, std::int64_t dim, bool keepdim) {
  XGRAD_PROFILE_OP("prod", a);
  detail::check_defined(a, "prod");
  const auto mask = detail::reduce_mask(a.shape(), {dim}, "prod");
  Tensor out = prod_kernel(a, mask, detail::reduced_shape(a.shape(), mask, keepdim));
  if (any_requires_grad({&a})) {
    const std::int64_t d = a.dim() == 0 ? 0 : detail::wrap_dim(dim, a.dim(), "prod", a.shape());
    // d prod_k / d a_..k.. = prod over the slice without that element (see prod_backward).
    record("ProdBackward", {a}, {out}, {a, out},
           [d, kept = detail::reduced_shape(a.shape(), mask, true)](const Grads& g, const Grads& s) {
             return Grads{prod_backward(g[0], s[0], s[1], kept, d)};
           });
  }
  return out;
}

// ---- nansum / nanmean ----------------------------------------------------------------------

Tensor nansum(const Tensor& a, const Dims& dims, bool keepdim) {
  XGRAD_PROFILE_OP("nansum", a);
  detail::check_defined(a, "nansum");
  const auto mask = detail::reduce_mask(a.shape(), dims, "nansum");
  // Integers and bool hold no NaN: nansum is sum, in int64 (PyTorch).
  if (!is_floating(a.dtype())) return sum(a.dtype() == Dtype::int64 ? a : a.to(Dtype::int64), dims, keepdim);
  Tensor out = detail::make_tensor(detail::reduced_shape(a.shape(), mask, keepdim), a.dtype(), "nansum");
  const auto r = detail::make_reduce_indexer(a.shape(), mask);
  const Tensor ap = detail::packed(a);
  detail::dispatch_floating(a, "nansum", [&]<class T>() {
    using A = detail::acc_t<T>;
    T* o = out.data_ptr<T>();
    fold<T, A>(
        ap.data_ptr<T>(), r, A(0),
        [](A& s, T x) {
          if (x == x) s += x;
        },
        [](A x, A y) { return x + y; }, [o](std::int64_t i, A s) { o[i] = static_cast<T>(s); });
  });
  if (any_requires_grad({&a})) {
    // d nansum / d a_i = 0 where a_i is NaN, else 1.
    record("NansumBackward", {a}, {out}, {a},
           [kept = detail::reduced_shape(a.shape(), mask, true), in_shape = a.shape()](const Grads& g, const Grads& s) {
             const Tensor zero = scalar_tensor(0.0, dtype(g[0].dtype()));
             return Grads{where(isnan(s[0]), zero, expand(reshape(g[0], kept), in_shape))};
           });
  }
  return out;
}

Tensor nanmean(const Tensor& a, const Dims& dims, bool keepdim) {
  XGRAD_PROFILE_OP("nanmean", a);
  detail::check_defined(a, "nanmean");
  const auto mask = detail::reduce_mask(a.shape(), dims, "nanmean");
  const Shape kept = detail::reduced_shape(a.shape(), mask, true);
  Tensor out = detail::make_tensor(detail::reduced_shape(a.shape(), mask, keepdim), a.dtype(), "nanmean");
  Tensor count = detail::make_tensor(kept, a.dtype(), "nanmean");  // non-NaN elements per output
  const auto r = detail::make_reduce_indexer(a.shape(), mask);
  const Tensor ap = detail::packed(a);
  detail::dispatch_floating(a, "nanmean", [&]<class T>() {
    using A = detail::acc_t<T>;
    struct SumCount {
      A sum;
      std::int64_t n;
    };
    T* o = out.data_ptr<T>();
    T* c = count.data_ptr<T>();
    fold<T, SumCount>(
        ap.data_ptr<T>(), r, SumCount{A(0), 0},
        [](SumCount& s, T x) {
          if (x == x) {
            s.sum += x;
            ++s.n;
          }
        },
        [](SumCount x, SumCount y) {
          return SumCount{x.sum + y.sum, x.n + y.n};
        },
        [o, c](std::int64_t i, SumCount s) {
          o[i] = static_cast<T>(s.sum / static_cast<A>(s.n));  // 0 / 0 = NaN for no numbers
          c[i] = static_cast<T>(s.n);
        });
  });
  if (any_requires_grad({&a})) {
    // d nanmean / d a_i = 0 where a_i is NaN, else 1 / count.
    record("NanmeanBackward", {a}, {out}, {a, count}, [kept, in_shape = a.shape()](const Grads& g, const Grads& s) {
      const Tensor zero = scalar_tensor(0.0, dtype(g[0].dtype()));
      return Grads{where(isnan(s[0]), zero, expand(div(reshape(g[0], kept), s[1]), in_shape))};
    });
  }
  return out;
}

}  // namespace xgrad
