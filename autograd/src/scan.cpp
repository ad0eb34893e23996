// Scans along a dim: cumsum, cumprod, logcumsumexp, and the scans their gradients are made
// of (the same scans run from the end of the dim, and a first-order linear recurrence for
// cumprod's gradient). Every one is a differentiable op whose backward is again built from
// these scans, so derivatives of any order work.
//
// Tensors are viewed as [pre, n, post] around the dim. Each output element is one
// sequential chain along the dim (accumulated in double for float32), computed by one task:
// the same bits at every thread count.
#include <cmath>
#include <limits>

#include "kernel.hpp"
#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/shape.hpp"
#include "xgrad/autograd/sorting.hpp"
#include "xgrad/autograd/profile_scope.hpp"

namespace xgrad {

namespace {

using Grads = std::vector<Tensor>;

struct Rows {
  std::int64_t pre = 1, n = 1, post = 1;
};

Rows rows_of(const Shape& s, std::int64_t d) {
  Rows r;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto di = static_cast<std::int64_t>(i);
    if (di < d) r.pre *= s[i];
    if (di == d) r.n = s[i];
    if (di > d) r.post *= s[i];
  }
  return r;
}

/// The scan driver: for every (p, q), acc = init, then for i along the dim (from the end when
/// `reverse`): acc = step(acc, i, off) with off the offset of element (p, i, q) in a packed
/// tensor, and store(off, acc). Work is
/// split over p and runs of q (each chain stays whole); with post > 1 the chains of a run
/// advance together, so the innermost loop walks contiguous memory.
template <class Acc, class Step, class Store>
void scan_rows(const Rows& L, bool reverse, Acc init, Step&& step, Store&& store) {
  const std::int64_t cols = L.pre * L.post;
  detail::parallel_for(cols, detail::grain_for(L.n), [&](std::int64_t c0, std::int64_t c1) {
    std::vector<Acc> acc;
    while (c0 < c1) {
      const std::int64_t p = c0 / L.post, q0 = c0 % L.post;
      const std::int64_t q1 = std::min(L.post, q0 + (c1 - c0));
      acc.assign(static_cast<std::size_t>(q1 - q0), init);
      for (std::int64_t s = 0; s < L.n; ++s) {
        const std::int64_t i = reverse ? L.n - 1 - s : s;
        const std::int64_t row = (p * L.n + i) * L.post;
        for (std::int64_t q = q0; q < q1; ++q) {
          Acc& a = acc[static_cast<std::size_t>(q - q0)];
          a = step(a, i, row + q);
          store(row + q, a);
        }
      }
      c0 += q1 - q0;
    }
  });
}

/// log(exp(a) + exp(b)) without overflow; equal infinities stay themselves, NaN propagates.
/// a + x and a * x; integers wrap around on overflow (as in PyTorch) without undefined
/// behaviour.
template <class A>
A add_acc(A a, A x) {
  if constexpr (std::is_integral_v<A>)
    return static_cast<A>(static_cast<std::uint64_t>(a) + static_cast<std::uint64_t>(x));
  else
    return a + x;
}
template <class A>
A mul_acc(A a, A x) {
  if constexpr (std::is_integral_v<A>)
    return static_cast<A>(static_cast<std::uint64_t>(a) * static_cast<std::uint64_t>(x));
  else
    return a * x;
}

template <class A>
A log_add_exp(A a, A b) {
  if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<A>::quiet_NaN();
  const A hi = std::max(a, b), lo = std::min(a, b);
  if (hi == lo && std::isinf(hi)) return hi;
  return hi + std::log1p(std::exp(lo - hi));
}

enum class Kind { sum, prod, logsumexp };

/// The forward kernel of a scan of t along d; integer and bool inputs give int64 (sum, prod).
Tensor scan_kernel(const Tensor& t, std::int64_t d, bool reverse, Kind kind, std::string_view op) {
  const Dtype out_dtype = is_floating(t.dtype()) ? t.dtype() : Dtype::int64;
  Tensor out = detail::make_tensor(t.shape(), out_dtype, op);
  if (t.numel() == 0) return out;
  const Rows L = rows_of(t.shape(), d);
  const Tensor tp = detail::packed(t);
  detail::dispatch(t.dtype(), [&]<class T>() {
    using O = std::conditional_t<std::is_floating_point_v<T>, T, std::int64_t>;
    using A = detail::acc_t<O>;
    const T* pa = tp.data_ptr<T>();
    O* po = out.data_ptr<O>();
    auto store = [po](std::int64_t off, A a) { po[off] = static_cast<O>(a); };
    switch (kind) {
      case Kind::sum:
        scan_rows(
            L, reverse, A(0), [pa](A a, std::int64_t, std::int64_t off) { return add_acc(a, static_cast<A>(pa[off])); },
            store);
        break;
      case Kind::prod:
        scan_rows(
            L, reverse, A(1), [pa](A a, std::int64_t, std::int64_t off) { return mul_acc(a, static_cast<A>(pa[off])); },
            store);
        break;
      case Kind::logsumexp:
        if constexpr (std::is_floating_point_v<T>)
          scan_rows(
              L, reverse, -std::numeric_limits<A>::infinity(),
              [pa](A a, std::int64_t, std::int64_t off) { return log_add_exp(a, static_cast<A>(pa[off])); }, store);
        break;
    }
  });
  return out;
}

/// Scans that run on 0-d tensors as on one element along dim 0.
template <class F>
Tensor on_1d(const Tensor& t, std::int64_t dim, std::string_view op, F&& f) {
  const std::int64_t d = detail::wrap_dim(dim, t.dim(), op, t.shape());
  if (t.dim() == 0) return reshape(f(reshape(t, {1}), std::int64_t{0}), {});
  return f(t, d);
}

/// t shifted by one along d towards higher indices: out[0] = fill, out[i] = t[i - 1]
/// (differentiable: cat of a constant and a narrow view).
Tensor shift_forward(const Tensor& t, std::int64_t d, double fill) {
  Shape slab = t.shape();
  slab[d] = 1;
  const Tensor head = full(slab, fill, dtype(t.dtype()));
  const std::int64_t n = t.shape()[d];
  if (n <= 1) return n == 1 ? head : t;
  return cat({head, narrow(t, d, 0, n - 1)}, d);
}

// The differentiable scans (t has dim >= 1 and d is wrapped).
Tensor scan_sum(const Tensor& t, std::int64_t d, bool reverse);
Tensor scan_prod(const Tensor& t, std::int64_t d);
Tensor scan_lse(const Tensor& t, std::int64_t d, bool reverse);
Tensor linear_recurrence(const Tensor& g, const Tensor& c, std::int64_t d, bool reverse);

Tensor scan_sum(const Tensor& t, std::int64_t d, bool reverse) {
  Tensor out = scan_kernel(t, d, reverse, Kind::sum, "cumsum");
  if (any_requires_grad({&t}))
    // d out_i / d t_j = [j <= i] (forward): the gradient is the sum of g from the other end.
    record(reverse ? "CumsumReverseBackward" : "CumsumBackward", {t}, {out}, {},
           [d, reverse](const Grads& g, const Grads&) { return Grads{scan_sum(g[0], d, !reverse)}; });
  return out;
}

/// Forward (reverse = false): r_i = g_i + c_i r_{i-1}, r_{-1} = 0. Reverse: s_i = g_i +
/// c_{i+1} s_{i+1}, s_n = 0. c_i is the weight of the link between elements i - 1 and i in
/// both directions (c_0 is never used).
Tensor linear_recurrence(const Tensor& g, const Tensor& c, std::int64_t d, bool reverse) {
  detail::check_same_dtype(g, c, "cumprod");
  Tensor out = detail::make_tensor(g.shape(), g.dtype(), "cumprod");
  const Rows L = rows_of(g.shape(), d);
  if (g.numel() > 0) {
    const Tensor gp = detail::packed(g), cp = detail::packed(c);
    detail::dispatch_floating(g.dtype(), "cumprod", [&]<class T>() {
      using A = detail::acc_t<T>;
      const T* pg = gp.data_ptr<T>();
      const T* pc = cp.data_ptr<T>();
      T* po = out.data_ptr<T>();
      // The link weight used when stepping onto element i: c_i forward, c_{i+1} reverse.
      const std::int64_t link = reverse ? L.post : 0;
      const std::int64_t first = reverse ? L.n - 1 : 0;  // the chain's first element has no link
      scan_rows(
          L, reverse, A(0),
          [&](A a, std::int64_t i, std::int64_t off) {
            return static_cast<A>(pg[off]) + (i == first ? A(0) : static_cast<A>(pc[off + link]) * a);
          },
          [po](std::int64_t off, A a) { po[off] = static_cast<T>(a); });
    });
  }
  if (any_requires_grad({&g, &c})) {
    const bool rg = g.requires_grad(), rc = c.requires_grad();
    record("LinearRecurrenceBackward", {g, c}, {out}, {c, out}, [d, reverse, rg, rc](const Grads& u, const Grads& s) {
      // The adjoint runs the recurrence the other way with the same links.
      const Tensor lam = linear_recurrence(u[0], s[0], d, !reverse);
      Tensor gc;
      // d/dc_i: forward, c_i multiplies r_{i-1} into r_i: lam_i r_{i-1}; reverse, c_i
      // multiplies s_i into s_{i-1}: lam_{i-1} s_i.
      if (rc) gc = reverse ? mul(shift_forward(lam, d, 0.0), s[1]) : mul(lam, shift_forward(s[1], d, 0.0));
      return Grads{rg ? lam : Tensor(), gc};
    });
  }
  return out;
}

Tensor scan_prod(const Tensor& t, std::int64_t d) {
  Tensor out = scan_kernel(t, d, false, Kind::prod, "cumprod");
  if (any_requires_grad({&t}))
    // d/dt_k = sum_{i >= k} g_i prod_{j <= i, j != k} t_j = E_k S_k, with E_k = prod_{j < k}
    // t_j = out_{k-1} (1 for k = 0) and S_k = g_k + t_{k+1} S_{k+1}. NOTE: no division by t,
    // so zeros in t need no special case (PyTorch switches formulas for them).
    record("CumprodBackward", {t}, {out}, {t, out}, [d](const Grads& g, const Grads& s) {
      return Grads{mul(shift_forward(s[1], d, 1.0), linear_recurrence(g[0], s[0], d, true))};
    });
  return out;
}

Tensor scan_lse(const Tensor& t, std::int64_t d, bool reverse) {
  Tensor out = scan_kernel(t, d, reverse, Kind::logsumexp, "logcumsumexp");
  if (any_requires_grad({&t}))
    record(reverse ? "LogcumsumexpReverseBackward" : "LogcumsumexpBackward", {t}, {out}, {t, out},
           [d, reverse](const Grads& gr, const Grads& s) {
             // d/dt_k = sum_{i >= k} g_i exp(t_k - y_i), in log space with g split by sign
             // (PyTorch's formula): exp(t + rlcse(log g+ - y)) - exp(t + rlcse(log g- - y)),
             // rlcse the scan from the other end. log g is taken of 1 where g has the other
             // sign, so no log(0) enters the graph (its gradient would be NaN).
             const Tensor& g = gr[0];
             if (g.numel() == 0) return Grads{g};
             const Tensor& x = s[0];
             const Tensor& y = s[1];
             const double lowest = g.dtype() == Dtype::float32 ? std::numeric_limits<float>::lowest()
                                                               : std::numeric_limits<double>::lowest();
             const Tensor pos = gt(g, 0.0), neg_mask = lt(g, 0.0);
             const Tensor log_pos = where(pos, log(where(pos, g, 1.0)), lowest);
             const Tensor log_neg = where(neg_mask, log(where(neg_mask, neg(g), 1.0)), lowest);
             const Tensor out_pos = exp(add(scan_lse(sub(log_pos, y), d, !reverse), x));
             const Tensor out_neg = exp(add(scan_lse(sub(log_neg, y), d, !reverse), x));
             return Grads{sub(out_pos, out_neg)};
           });
  return out;
}

}  // namespace

Tensor cumsum(const Tensor& t, std::int64_t dim, std::optional<Dtype> dtype) {
  XGRAD_PROFILE_OP("cumsum", t);
  detail::check_defined(t, "cumsum");
  const Tensor x = dtype && *dtype != t.dtype() ? t.to(*dtype) : t;
  const Tensor out = on_1d(x, dim, "cumsum", [](const Tensor& a, std::int64_t d) { return scan_sum(a, d, false); });
  return dtype && out.dtype() != *dtype ? out.to(*dtype) : out;
}

Tensor cumprod(const Tensor& t, std::int64_t dim, std::optional<Dtype> dtype) {
  XGRAD_PROFILE_OP("cumprod", t);
  detail::check_defined(t, "cumprod");
  const Tensor x = dtype && *dtype != t.dtype() ? t.to(*dtype) : t;
  const Tensor out = on_1d(x, dim, "cumprod", [](const Tensor& a, std::int64_t d) { return scan_prod(a, d); });
  return dtype && out.dtype() != *dtype ? out.to(*dtype) : out;
}

Tensor logcumsumexp(const Tensor& t, std::int64_t dim) {
  XGRAD_PROFILE_OP("logcumsumexp", t);
  detail::check_defined(t, "logcumsumexp");
  if (!is_floating(t.dtype()))
    throw Error(
        fmt::format("logcumsumexp: expected a floating dtype (float32 or float64), got {} for tensor of shape {}",
                    t.dtype(), t.shape()));
  return on_1d(t, dim, "logcumsumexp", [](const Tensor& a, std::int64_t d) { return scan_lse(a, d, false); });
}

}  // namespace xgrad
