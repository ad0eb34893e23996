// max, min (by dims and by one dim), amax, amin, argmax, argmin, var, std, logsumexp, norm (sum and mean live in
// reduction_sum.cpp together with the shared ReduceIndexer helpers).
#include <cmath>
#include <limits>

#include "kernel.hpp"
#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/linalg_functions.hpp"
#include "xgrad/autograd/reduction.hpp"
#include "xgrad/autograd/shape.hpp"
#include "xgrad/autograd/profile_scope.hpp"

namespace xgrad {

namespace {

using Grads = std::vector<Tensor>;

template <class T>
bool is_nan(T x) {
  if constexpr (std::is_floating_point_v<T>)
    return std::isnan(x);
  else
    return false;
}

/// Runs a reduction of `p` (laid out as `shape`) over the masked dims and calls
/// finish(o, acc) once per output o. step(acc, x, o, k) folds the k-th reduced element
/// (row-major over the reduced dims) of output o into acc; combine(left, right) merges
/// partial results of consecutive chunks (full reductions only).
/// Deterministic: every output is one sequential loop, except full reductions, which use
/// fixed-size chunks combined left to right (identical at every thread count).
template <class T, class Acc, class Step, class Combine, class Finish>
void reduce_generic(const T* p, const detail::ReduceIndexer& r, Acc init, Step step, Combine combine, Finish finish) {
  if (r.n_out == 0) return;
  if (r.n_out == 1) {
    // All reduced elements form one contiguous block.
    const Acc acc = detail::chunked_reduce<Acc>(
        r.n_red, init,
        [&](std::int64_t b, std::int64_t e) {
          Acc s = init;
          for (std::int64_t i = b; i < e; ++i) step(s, p[i], std::int64_t{0}, i);
          return s;
        },
        combine);
    finish(std::int64_t{0}, acc);
    return;
  }
  const std::int64_t grain = std::max<std::int64_t>(1, detail::kGrain / std::max<std::int64_t>(r.n_red, 1));
  if (r.red_leading && !r.red_trailing) {
    // Reduced dims lead: fold whole rows of n_out into a block of accumulators (one pass
    // through memory; each output still sees its elements in row-major order).
    const std::int64_t k = r.n_out;
    detail::parallel_for(k, grain, [&](std::int64_t b, std::int64_t e) {
      std::vector<Acc> acc(static_cast<std::size_t>(e - b), init);
      for (std::int64_t row = 0; row < r.n_red; ++row) {
        const T* pr = p + row * k;
        for (std::int64_t j = b; j < e; ++j) step(acc[j - b], pr[j], j, row);
      }
      for (std::int64_t j = b; j < e; ++j) finish(j, acc[j - b]);
    });
    return;
  }
  detail::parallel_for(r.n_out, grain, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t o = b; o < e; ++o) {
      Acc s = init;
      std::int64_t k = 0;
      r.for_each(r.base(o), [&](std::int64_t off) { step(s, p[off], o, k++); });
      finish(o, s);
    }
  });
}

/// Number of elements reduced into each output.
std::int64_t reduced_count(const Shape& shape, const std::vector<bool>& mask) {
  std::int64_t n = 1;
  for (std::size_t d = 0; d < mask.size(); ++d)
    if (mask[d]) n *= shape[d];
  return n;
}

/// Throws when some output would reduce zero elements (max/min/argmax/norm inf have no
/// identity).
void check_nonempty_reduction(const Tensor& a, const std::vector<bool>& mask, std::string_view op) {
  if (reduced_count(a.shape(), mask) == 0)
    throw Error(
        fmt::format("{}: cannot reduce over an empty dimension (tensor of shape {}); the operation has no "
                    "identity",
                    op, a.shape()));
}

// ---- max / min ----------------------------------------------------------------------------

/// True when x should replace the running extreme m (NaN propagates: once m is NaN it stays).
template <bool IsMax, class T>
bool better(T x, T m) {
  if (is_nan(m)) return false;
  if (is_nan(x)) return true;
  return IsMax ? x > m : x < m;
}

template <bool IsMax>
Tensor extreme_kernel(const Tensor& a, const std::vector<bool>& mask, const Shape& out_shape) {
  Tensor out = detail::make_tensor(out_shape, a.dtype());
  const auto r = detail::make_reduce_indexer(a.shape(), mask);
  const Tensor ap = detail::packed(a);
  detail::dispatch_numeric(a.dtype(), IsMax ? "amax" : "amin", [&]<class T>() {
    const T init =
        IsMax ? (std::is_floating_point_v<T> ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::lowest())
              : (std::is_floating_point_v<T> ? std::numeric_limits<T>::infinity() : std::numeric_limits<T>::max());
    T* o = out.data_ptr<T>();
    reduce_generic<T, T>(
        ap.data_ptr<T>(), r, init,
        [](T& m, T x, std::int64_t, std::int64_t) {
          if (better<IsMax>(x, m)) m = x;
        },
        [](T l, T rr) { return better<IsMax>(rr, l) ? rr : l; }, [o](std::int64_t i, T m) { o[i] = m; });
  });
  return out;
}

/// Weights mask / count of the elements equal to the selected extreme (`sel`, kept shape):
/// the gradient of max/min (and of the inf-norm) split evenly among ties.
Tensor tie_weights(const Tensor& values, const Tensor& sel, const Dims& dims) {
  NoGradGuard ng;
  const Tensor m = eq(values, sel).to(values.dtype());
  return div(m, sum(m, dims, true));
}

/// max/min (op "max"/"min") and amax/amin (op "amax"/"amin"): the same even-split rule.
template <bool IsMax>
Tensor extreme(const Tensor& a, const Dims& dims, bool keepdim, std::string_view op, const char* node) {
  detail::check_defined(a, op);
  const auto mask = detail::reduce_mask(a.shape(), dims, op);
  check_nonempty_reduction(a, mask, op);
  Tensor out = extreme_kernel<IsMax>(a, mask, detail::reduced_shape(a.shape(), mask, keepdim));
  if (any_requires_grad({&a})) {
    // d max / da_i = [a_i == max] / #{j : a_j == max}: ties share the gradient evenly.
    record(node, {a}, {out}, {a, out},
           [dims, kept = detail::reduced_shape(a.shape(), mask, true)](const Grads& g, const Grads& s) {
             const Tensor w = tie_weights(s[0], reshape(s[1], kept), dims);
             return Grads{mul(reshape(g[0], kept), w)};
           });
  }
  return out;
}

// ---- argmax / argmin ------------------------------------------------------------------------

template <class T>
struct ArgAcc {
  T v;
  std::int64_t i;
};

/// Index (int64) of the first extreme along dim (all dims when absent); when `values` is not
/// null it also receives the extreme itself (same shape, a's dtype), from the same pass.
template <bool IsMax>
Tensor arg_extreme(const Tensor& a, std::optional<std::int64_t> dim, bool keepdim, std::string_view op,
                   Tensor* values = nullptr) {
  detail::check_defined(a, op);
  const auto mask = dim ? detail::reduce_mask(a.shape(), {*dim}, op) : std::vector<bool>(a.shape().size(), true);
  check_nonempty_reduction(a, mask, op);
  const Shape out_shape = detail::reduced_shape(a.shape(), mask, keepdim);
  Tensor out = detail::make_tensor(out_shape, Dtype::int64, op);
  if (values) *values = detail::make_tensor(out_shape, a.dtype(), op);
  const auto r = detail::make_reduce_indexer(a.shape(), mask);
  const Tensor ap = detail::packed(a);
  detail::dispatch_numeric(a.dtype(), op, [&]<class T>() {
    T* vo = values ? values->data_ptr<T>() : nullptr;
    using A = ArgAcc<T>;
    const T init =
        IsMax ? (std::is_floating_point_v<T> ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::lowest())
              : (std::is_floating_point_v<T> ? std::numeric_limits<T>::infinity() : std::numeric_limits<T>::max());
    std::int64_t* o = out.data_ptr<std::int64_t>();
    // The chunk accumulators start at index -1; an element only replaces a strictly worse
    // value (or the -1 start), so the first occurrence wins. NaN counts as the extreme
    // (PyTorch's rule).
    reduce_generic<T, A>(
        ap.data_ptr<T>(), r, A{init, -1},
        [](A& m, T x, std::int64_t, std::int64_t k) {
          if (m.i < 0 || better<IsMax>(x, m.v)) m = A{x, k};
        },
        [](A l, A rr) {
          if (l.i < 0) return rr;
          if (rr.i < 0) return l;
          return better<IsMax>(rr.v, l.v) ? rr : l;
        },
        [o, vo](std::int64_t i, A m) {
          o[i] = m.i;
          if (vo) vo[i] = m.v;
        });
  });
  return out;
}

/// max(a, dim) / min(a, dim): (values, indices) with the gradient routed to the index.
template <bool IsMax>
std::tuple<Tensor, Tensor> extreme_dim(const Tensor& a, std::int64_t dim, bool keepdim) {
  constexpr std::string_view op = IsMax ? "max" : "min";
  Tensor values;
  Tensor indices = arg_extreme<IsMax>(a, dim, keepdim, op, &values);
  if (any_requires_grad({&a})) {
    // d values[o] / d a[.., k, ..] = [k == indices[o]]: scatter the gradient into zeros at
    // the indices (kept shape). scatter_add is differentiable in its src, so create_graph works.
    const std::int64_t d = a.dim() == 0 ? 0 : detail::wrap_dim(dim, a.dim(), op, a.shape());
    const auto mask = detail::reduce_mask(a.shape(), {dim}, op);
    record(
        IsMax ? "MaxDimBackward" : "MinDimBackward", {a}, {values}, {indices},
        [d, in_shape = a.shape(), kept = detail::reduced_shape(a.shape(), mask, true)](const Grads& g, const Grads& s) {
          return Grads{scatter_add(zeros(in_shape, dtype(g[0].dtype())), d, reshape(s[0], kept), reshape(g[0], kept))};
        });
  }
  return {values, indices};
}

// ---- var / std ------------------------------------------------------------------------------

/// The variance sum((a - mean)^2) / max(N - correction, 0) of every output (or its square
/// root when take_sqrt).
/// Two passes (mean, then squared deviations) in the accumulator type: no cancellation of
/// the one-pass formula E[a^2] - E[a]^2.
Tensor var_kernel(const Tensor& a, const std::vector<bool>& mask, const Shape& out_shape, std::int64_t correction,
                  bool take_sqrt, std::string_view op) {
  Tensor out = detail::make_tensor(out_shape, a.dtype());
  const auto r = detail::make_reduce_indexer(a.shape(), mask);
  const Tensor ap = detail::packed(a);
  detail::dispatch_floating(a, op, [&]<class T>() {
    using A = detail::acc_t<T>;
    const T* p = ap.data_ptr<T>();
    T* o = out.data_ptr<T>();
    const auto n = static_cast<A>(r.n_red);
    const A divisor = std::max(n - static_cast<A>(correction), A(0));
    std::vector<A> mean(static_cast<std::size_t>(r.n_out));
    auto plus = [](A x, A y) { return x + y; };
    reduce_generic<T, A>(
        p, r, A(0), [](A& s, T x, std::int64_t, std::int64_t) { s += x; }, plus,
        [&](std::int64_t i, A s) { mean[i] = s / n; });
    const A* mp = mean.data();
    reduce_generic<T, A>(
        p, r, A(0),
        [mp](A& s, T x, std::int64_t i, std::int64_t) {
          const A d = static_cast<A>(x) - mp[i];
          s += d * d;
        },
        plus, [&](std::int64_t i, A s) { o[i] = static_cast<T>(take_sqrt ? std::sqrt(s / divisor) : s / divisor); });
  });
  return out;
}

/// Gradient of var for an upstream gradient g (output shape):
/// g * 2 (a - mean) / (N - correction). NOTE: N - correction <= 0 gives an infinite scale
/// (so inf, or NaN where a == mean), as in PyTorch.
Tensor var_grad(const Tensor& g, const Tensor& a, const Dims& dims, const Shape& kept, std::int64_t n,
                std::int64_t correction) {
  const double dof = static_cast<double>(n) - static_cast<double>(correction);
  const double scale = dof > 0 ? 2.0 / dof : std::numeric_limits<double>::infinity();
  return mul(mul(reshape(g, kept), sub(a, mean(a, dims, true))), scale);
}

Tensor var_std(const Tensor& a, const Dims& dims, std::int64_t correction, bool keepdim, bool take_sqrt) {
  const std::string_view op = take_sqrt ? "std" : "var";
  detail::check_defined(a, op);
  const auto mask = detail::reduce_mask(a.shape(), dims, op);
  Tensor out = var_kernel(a, mask, detail::reduced_shape(a.shape(), mask, keepdim), correction, take_sqrt, op);
  if (any_requires_grad({&a})) {
    const std::int64_t n = reduced_count(a.shape(), mask);
    Shape kept = detail::reduced_shape(a.shape(), mask, true);
    if (take_sqrt) {
      // d std / da_i = (d var / da_i) / (2 std) = (a_i - mean) / ((N - correction) std); where
      // std = 0 (no spread) the gradient is 0, as in PyTorch (it masks the 0/0).
      record("StdBackward", {a}, {out}, {a, out}, [dims, kept, n, correction](const Grads& g, const Grads& s) {
        // (the denominator is made safe too, so that the second derivative is not 0 * inf)
        const Tensor nonzero = ne(s[1], 0.0);
        const Tensor gvar = where(nonzero, div(g[0], where(nonzero, mul(s[1], 2.0), 1.0)), 0.0);
        return Grads{var_grad(gvar, s[0], dims, kept, n, correction)};
      });
    } else {
      // d var / da_i = 2 (a_i - mean) / (N - correction) (the mean's own gradient cancels).
      record("VarBackward", {a}, {out}, {a}, [dims, kept, n, correction](const Grads& g, const Grads& s) {
        return Grads{var_grad(g[0], s[0], dims, kept, n, correction)};
      });
    }
  }
  return out;
}

// ---- norm -------------------------------------------------------------------------------------

Tensor norm_kernel(const Tensor& a, const std::vector<bool>& mask, const Shape& out_shape, int kind) {
  Tensor out = detail::make_tensor(out_shape, a.dtype());
  const auto r = detail::make_reduce_indexer(a.shape(), mask);
  const Tensor ap = detail::packed(a);
  detail::dispatch_floating(a, "norm", [&]<class T>() {
    using A = detail::acc_t<T>;
    const T* p = ap.data_ptr<T>();
    T* o = out.data_ptr<T>();
    auto plus = [](A x, A y) { return x + y; };
    if (kind == 1) {
      reduce_generic<T, A>(
          p, r, A(0), [](A& s, T x, std::int64_t, std::int64_t) { s += std::abs(static_cast<A>(x)); }, plus,
          [o](std::int64_t i, A s) { o[i] = static_cast<T>(s); });
    } else if (kind == 2) {
      reduce_generic<T, A>(
          p, r, A(0),
          [](A& s, T x, std::int64_t, std::int64_t) {
            const A v = x;
            s += v * v;
          },
          plus, [o](std::int64_t i, A s) { o[i] = static_cast<T>(std::sqrt(s)); });
    } else {
      reduce_generic<T, T>(
          p, r, T(0),
          [](T& m, T x, std::int64_t, std::int64_t) {
            if (better<true>(std::abs(x), m)) m = std::abs(x);
          },
          [](T l, T rr) { return better<true>(rr, l) ? rr : l; }, [o](std::int64_t i, T m) { o[i] = m; });
    }
  });
  return out;
}

}  // namespace

Tensor max(const Tensor& a, const Dims& dims, bool keepdim) {
  XGRAD_PROFILE_OP("max", a);
  return extreme<true>(a, dims, keepdim, "max", "MaxBackward");
}
Tensor min(const Tensor& a, const Dims& dims, bool keepdim) {
  XGRAD_PROFILE_OP("min", a);
  return extreme<false>(a, dims, keepdim, "min", "MinBackward");
}
Tensor amax(const Tensor& a, const Dims& dims, bool keepdim) {
  XGRAD_PROFILE_OP("amax", a);
  return extreme<true>(a, dims, keepdim, "amax", "AmaxBackward");
}
Tensor amin(const Tensor& a, const Dims& dims, bool keepdim) {
  XGRAD_PROFILE_OP("amin", a);
  return extreme<false>(a, dims, keepdim, "amin", "AminBackward");
}

Tensor argmax(const Tensor& a, std::optional<std::int64_t> dim, bool keepdim) {
  XGRAD_PROFILE_OP("argmax", a);
  return arg_extreme<true>(a, dim, keepdim, "argmax");
}
Tensor argmin(const Tensor& a, std::optional<std::int64_t> dim, bool keepdim) {
  XGRAD_PROFILE_OP("argmin", a);
  return arg_extreme<false>(a, dim, keepdim, "argmin");
}

Tensor var(const Tensor& a, const Dims& dims, std::int64_t correction, bool keepdim) {
  XGRAD_PROFILE_OP("var", a);
  return var_std(a, dims, correction, keepdim, false);
}
Tensor std(const Tensor& a, const Dims& dims, std::int64_t correction, bool keepdim) {
  XGRAD_PROFILE_OP("std", a);
  return var_std(a, dims, correction, keepdim, true);
}

Tensor logsumexp(const Tensor& a, const Dims& dims, bool keepdim) {
  XGRAD_PROFILE_OP("logsumexp", a);
  detail::check_defined(a, "logsumexp");
  const auto mask = detail::reduce_mask(a.shape(), dims, "logsumexp");
  Tensor out = detail::make_tensor(detail::reduced_shape(a.shape(), mask, keepdim), a.dtype());
  const auto r = detail::make_reduce_indexer(a.shape(), mask);
  const Tensor ap = detail::packed(a);
  detail::dispatch_floating(a, "logsumexp", [&]<class T>() {
    using A = detail::acc_t<T>;
    const T* p = ap.data_ptr<T>();
    T* o = out.data_ptr<T>();
    // NOTE: log-sum-exp; never exp() the raw values. m = max; an infinite m is replaced by 0
    // so that all -inf gives log(0) = -inf and any +inf gives +inf (instead of inf - inf).
    // exp runs in T (each term is at most 1 when the max is finite); the sum runs in acc_t.
    std::vector<T> shift(static_cast<std::size_t>(r.n_out));
    reduce_generic<T, T>(
        p, r, -std::numeric_limits<T>::infinity(),
        [](T& m, T x, std::int64_t, std::int64_t) {
          if (better<true>(x, m)) m = x;
        },
        [](T l, T rr) { return better<true>(rr, l) ? rr : l; },
        [&](std::int64_t i, T m) { shift[i] = std::isinf(m) ? T(0) : m; });
    const T* sp = shift.data();
    reduce_generic<T, A>(
        p, r, A(0), [sp](A& s, T x, std::int64_t i, std::int64_t) { s += std::exp(x - sp[i]); },
        [](A x, A y) { return x + y; },
        [&](std::int64_t i, A s) { o[i] = static_cast<T>(static_cast<A>(sp[i]) + std::log(s)); });
  });
  if (any_requires_grad({&a})) {
    // d lse / da_i = exp(a_i - lse) = softmax(a)_i.
    record("LogsumexpBackward", {a}, {out}, {a, out},
           [kept = detail::reduced_shape(a.shape(), mask, true)](const Grads& g, const Grads& s) {
             return Grads{mul(reshape(g[0], kept), exp(sub(s[0], reshape(s[1], kept))))};
           });
  }
  return out;
}

namespace {
// The p-norms without a kernel of their own are linalg::vector_norm's (PyTorch's torch.norm
// is vector_norm for a vector p too).
Tensor norm_general(const Tensor& a, double p, const Dims& dims, bool keepdim) {
  if (!is_floating(a.dtype()))
    throw Error(fmt::format("norm: expected a floating dtype (float32 or float64), got {} for tensor of shape {}",
                            a.dtype(), a.shape()));
  if (std::isnan(p)) throw Error(fmt::format("norm: p must be a number, got {}", p));
  return linalg::vector_norm(a, p, dims, keepdim);
}
}  // namespace

Tensor norm(const Tensor& a, double p, const Dims& dims, bool keepdim) {
  XGRAD_PROFILE_OP("norm", a);
  detail::check_defined(a, "norm");
  int kind = 0;
  if (p == 1.0)
    kind = 1;
  else if (p == 2.0)
    kind = 2;
  else if (p == std::numeric_limits<double>::infinity())
    kind = 3;
  else
    return norm_general(a, p, dims, keepdim);
  const auto mask = detail::reduce_mask(a.shape(), dims, "norm");
  if (kind == 3) check_nonempty_reduction(a, mask, "norm (p = inf)");
  Tensor out = norm_kernel(a, mask, detail::reduced_shape(a.shape(), mask, keepdim), kind);
  if (any_requires_grad({&a})) {
    Shape kept = detail::reduced_shape(a.shape(), mask, true);
    if (kind == 1) {
      // d sum|a| / da_i = sign(a_i) (0 at 0).
      record("NormBackward", {a}, {out}, {a}, [kept](const Grads& g, const Grads& s) {
        Tensor sg;
        {
          NoGradGuard ng;
          sg = sign(s[0]);
        }
        return Grads{mul(reshape(g[0], kept), sg)};
      });
    } else if (kind == 2) {
      // d ||a||_2 / da_i = a_i / ||a||_2, taken as 0 where the norm is 0.
      record("NormBackward", {a}, {out}, {a, out}, [kept](const Grads& g, const Grads& s) {
        Tensor zero_norm;
        {
          NoGradGuard ng;
          zero_norm = eq(s[1], 0.0);
        }
        Tensor scale = where(zero_norm, scalar_tensor(0.0, dtype(s[1].dtype())), div(g[0], s[1]));
        return Grads{mul(s[0], reshape(scale, kept))};
      });
    } else {
      // d max|a| / da_i = sign(a_i) [|a_i| == max] / #ties.
      record("NormBackward", {a}, {out}, {a, out}, [kept, dims](const Grads& g, const Grads& s) {
        Tensor w;
        {
          NoGradGuard ng;
          w = mul(tie_weights(abs(s[0]), reshape(s[1], kept), dims), sign(s[0]));
        }
        return Grads{mul(reshape(g[0], kept), w)};
      });
    }
  }
  return out;
}

Tensor Tensor::max() const { return xgrad::max(*this); }
Tensor Tensor::min() const { return xgrad::min(*this); }
Tensor Tensor::argmax(std::optional<std::int64_t> dim, bool keepdim) const {
  return xgrad::argmax(*this, dim, keepdim);
}
Tensor Tensor::argmin(std::optional<std::int64_t> dim, bool keepdim) const {
  return xgrad::argmin(*this, dim, keepdim);
}

std::tuple<Tensor, Tensor> Tensor::max(std::int64_t dim, bool keepdim) const {
  XGRAD_PROFILE_OP("max", *this);
  return extreme_dim<true>(*this, dim, keepdim);
}
std::tuple<Tensor, Tensor> Tensor::min(std::int64_t dim, bool keepdim) const {
  XGRAD_PROFILE_OP("min", *this);
  return extreme_dim<false>(*this, dim, keepdim);
}
Tensor Tensor::amax(const std::vector<std::int64_t>& dims, bool keepdim) const {
  return xgrad::amax(*this, dims, keepdim);
}
Tensor Tensor::amin(const std::vector<std::int64_t>& dims, bool keepdim) const {
  return xgrad::amin(*this, dims, keepdim);
}
Tensor Tensor::var(const std::vector<std::int64_t>& dims, std::int64_t correction, bool keepdim) const {
  return xgrad::var(*this, dims, correction, keepdim);
}
Tensor Tensor::std(const std::vector<std::int64_t>& dims, std::int64_t correction, bool keepdim) const {
  return xgrad::std(*this, dims, correction, keepdim);
}
Tensor Tensor::norm(double p, const std::vector<std::int64_t>& dims, bool keepdim) const {
  return xgrad::norm(*this, p, dims, keepdim);
}
Tensor Tensor::logsumexp(const std::vector<std::int64_t>& dims, bool keepdim) const {
  return xgrad::logsumexp(*this, dims, keepdim);
}

}  // namespace xgrad
