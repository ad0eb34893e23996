// The "efficient" path of scaled_dot_product_attention: blocked online-softmax forward and
// backward (flash-attention style) that never store the [L, S] score matrix.
//
// Per (batch, head) slice, with query blocks of kBQ rows and key blocks of kBK rows (rows of
// the contiguous [L, E] / [S, E] operands are packed, so every block is a packed matrix for
// kernel::gemm):
// * forward, one task per (slice, query block): for each key block, s = q k^T * scale (+ mask),
//   then per row m' = max(m, rowmax s), p = e^(s - m'), l = l e^(m - m') + rowsum p,
//   o = o e^(m - m') + p v; finally o / l and lse = m + log l are stored.
// * backward: D = rowsum(dO * O) first; then one task per (slice, key block) loops over the
//   query blocks in order and accumulates dV += P^T dO and dK += dS^T Q, and one task per
//   (slice, query block) loops over the key blocks in order and accumulates dQ += dS K, with
//   P = e^(s - lse) recomputed and dS = P (dO V^T - D) * scale. Every output element is
//   written by one task in a fixed order, so results do not depend on the thread count.
// Causal: key blocks entirely above the diagonal are skipped. Accumulation is in the input's
// dtype (float for float32, double for float64).
// Fully masked rows: m stays -inf, l = 0; the output row is 0 and lse is stored as +inf, so
// the recomputed P of that row is 0 and its gradients are 0.
#include "attention_core.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/kernel/gemm.hpp"
#include "xgrad/autograd/kernel/kernel.hpp"
#include "xgrad/autograd/kernel/math.hpp"
#include "xgrad/autograd/kernel/simd.hpp"
#include "xgrad/autograd/linalg.hpp"
#include "xgrad/autograd/masking.hpp"
#include "xgrad/autograd/math.hpp"
#include "xgrad/autograd/node.hpp"
#include "xgrad/autograd/reduction.hpp"
#include "xgrad/autograd/shape.hpp"
#include "xgrad/autograd/structure.hpp"
#include "xgrad/nn/activation.hpp"
#include "xgrad/nn/attention.hpp"

namespace xgrad::nn {

namespace {

using Grads = std::vector<Tensor>;

constexpr std::int64_t kBQ = 128;    // query rows per block
constexpr std::int64_t kBK = 64;     // key rows per block
constexpr std::int64_t kLanes = 16;  // independent accumulators of the row max / sum loops

template <class T>
constexpr T kNegInf = -std::numeric_limits<T>::infinity();

// The mask of one (batch, head) slice, read with its (broadcast) strides.
template <class T>
struct MaskRef {
  int kind = 0;  // 0 none, 1 bool (true = keep), 2 additive
  const bool* b = nullptr;
  const T* f = nullptr;
  std::int64_t sl = 0, ss = 0;  // strides of the L and S dims
};

// s (nq x nk, packed) holds the raw products q k^T of rows i0.. and keys j0..; makes them
// s * scale (+ bias), -inf where a bool mask excludes the key or above the causal diagonal.
template <class T>
[[gnu::always_inline]] inline void prep_scores(T* __restrict s, std::int64_t nq, std::int64_t nk, T scale,
                                               std::int64_t i0, std::int64_t j0, bool causal, const MaskRef<T>& mk) {
  for (std::int64_t r = 0; r < nq; ++r) {
    T* __restrict sr = s + r * nk;
    for (std::int64_t j = 0; j < nk; ++j) sr[j] *= scale;
    if (mk.kind == 1) {
      const bool* mr = mk.b + (i0 + r) * mk.sl + j0 * mk.ss;
      for (std::int64_t j = 0; j < nk; ++j)
        if (!mr[j * mk.ss]) sr[j] = kNegInf<T>;
    } else if (mk.kind == 2) {
      const T* mr = mk.f + (i0 + r) * mk.sl + j0 * mk.ss;
      for (std::int64_t j = 0; j < nk; ++j) sr[j] += mr[j * mk.ss];
    }
    if (causal) {
      // Key j0 + j is visible from row i0 + r when j0 + j <= i0 + r.
      const std::int64_t first_hidden = std::max<std::int64_t>(i0 + r - j0 + 1, 0);
      for (std::int64_t j = first_hidden; j < nk; ++j) sr[j] = kNegInf<T>;
    }
  }
}

template <class T>
[[gnu::always_inline]] inline T row_max(const T* __restrict x, std::int64_t n) {
  T mv[kLanes];
  for (auto& v : mv) v = kNegInf<T>;
  std::int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (std::int64_t c = 0; c < kLanes; ++c) mv[c] = x[j + c] > mv[c] ? x[j + c] : mv[c];
  T m = kNegInf<T>;
  for (; j < n; ++j) m = x[j] > m ? x[j] : m;
  for (std::int64_t c = 0; c < kLanes; ++c) m = mv[c] > m ? mv[c] : m;
  return m;
}

// x[j] = e^(x[j] - m); returns the sum of the new values (fixed lane order).
template <class T>
[[gnu::always_inline]] inline T exp_row_sum(T* __restrict x, std::int64_t n, T m) {
  T sv[kLanes] = {};
  std::int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (std::int64_t c = 0; c < kLanes; ++c) {
      const T p = kernel::fast_exp(x[j + c] - m);
      x[j + c] = p;
      sv[c] += p;
    }
  T s = 0;
  for (; j < n; ++j) {
    const T p = kernel::fast_exp(x[j] - m);
    x[j] = p;
    s += p;
  }
  for (std::int64_t c = 0; c < kLanes; ++c) s += sv[c];
  return s;
}

// Forward update for one block: scores -> p in s, running max m / sum l, o rows rescaled.
template <class T>
[[gnu::always_inline]] inline void fwd_block(T* s, T* o, std::int64_t nq, std::int64_t nk, std::int64_t ev, T scale,
                                             std::int64_t i0, std::int64_t j0, bool causal, const MaskRef<T>& mk, T* m,
                                             T* l) {
  prep_scores(s, nq, nk, scale, i0, j0, causal, mk);
  for (std::int64_t r = 0; r < nq; ++r) {
    T* __restrict sr = s + r * nk;
    const T mnew = std::max(m[r], row_max(sr, nk));
    if (mnew == kNegInf<T>) {  // every key so far is masked: p = 0, nothing to rescale
      for (std::int64_t j = 0; j < nk; ++j) sr[j] = T(0);
      continue;
    }
    const T alpha = kernel::fast_exp(m[r] - mnew);  // 0 when m was -inf
    const T sum = exp_row_sum(sr, nk, mnew);
    l[r] = l[r] * alpha + sum;
    m[r] = mnew;
    T* __restrict orow = o + r * ev;
    for (std::int64_t e = 0; e < ev; ++e) orow[e] *= alpha;
  }
}

// Backward: scores -> P = e^(s - lse) in s (lse = +inf on fully masked rows gives 0).
template <class T>
[[gnu::always_inline]] inline void bwd_p(T* s, std::int64_t nq, std::int64_t nk, T scale, std::int64_t i0,
                                         std::int64_t j0, bool causal, const MaskRef<T>& mk, const T* lse) {
  prep_scores(s, nq, nk, scale, i0, j0, causal, mk);
  for (std::int64_t r = 0; r < nq; ++r) {
    T* __restrict sr = s + r * nk;
    const T c = lse[r];
    for (std::int64_t j = 0; j < nk; ++j) sr[j] = kernel::fast_exp(sr[j] - c);
  }
}

// dp (holding dO V^T) -> dS * scale = P (dp - D) scale.
template <class T>
[[gnu::always_inline]] inline void bwd_ds(T* __restrict dp, const T* __restrict p, std::int64_t nq, std::int64_t nk,
                                          const T* dd, T scale) {
  for (std::int64_t r = 0; r < nq; ++r) {
    const T d = dd[r];
    T* __restrict a = dp + r * nk;
    const T* __restrict pr = p + r * nk;
    for (std::int64_t j = 0; j < nk; ++j) a[j] = pr[j] * (a[j] - d) * scale;
  }
}

// float32: SIMD clones (AVX-512 / AVX2 / baseline) of the block loops; float64: plain.
XGRAD_SIMD_CLONES void fwd_block_f32(float* s, float* o, std::int64_t nq, std::int64_t nk, std::int64_t ev, float scale,
                                     std::int64_t i0, std::int64_t j0, bool causal, const MaskRef<float>& mk, float* m,
                                     float* l) {
  fwd_block<float>(s, o, nq, nk, ev, scale, i0, j0, causal, mk, m, l);
}
XGRAD_SIMD_CLONES void bwd_p_f32(float* s, std::int64_t nq, std::int64_t nk, float scale, std::int64_t i0,
                                 std::int64_t j0, bool causal, const MaskRef<float>& mk, const float* lse) {
  bwd_p<float>(s, nq, nk, scale, i0, j0, causal, mk, lse);
}
XGRAD_SIMD_CLONES void bwd_ds_f32(float* dp, const float* p, std::int64_t nq, std::int64_t nk, const float* dd,
                                  float scale) {
  bwd_ds<float>(dp, p, nq, nk, dd, scale);
}

template <class T>
void fwd_block_any(T* s, T* o, std::int64_t nq, std::int64_t nk, std::int64_t ev, T scale, std::int64_t i0,
                   std::int64_t j0, bool causal, const MaskRef<T>& mk, T* m, T* l) {
  if constexpr (std::is_same_v<T, float>)
    fwd_block_f32(s, o, nq, nk, ev, scale, i0, j0, causal, mk, m, l);
  else
    fwd_block<T>(s, o, nq, nk, ev, scale, i0, j0, causal, mk, m, l);
}
template <class T>
void bwd_p_any(T* s, std::int64_t nq, std::int64_t nk, T scale, std::int64_t i0, std::int64_t j0, bool causal,
               const MaskRef<T>& mk, const T* lse) {
  if constexpr (std::is_same_v<T, float>)
    bwd_p_f32(s, nq, nk, scale, i0, j0, causal, mk, lse);
  else
    bwd_p<T>(s, nq, nk, scale, i0, j0, causal, mk, lse);
}
template <class T>
void bwd_ds_any(T* dp, const T* p, std::int64_t nq, std::int64_t nk, const T* dd, T scale) {
  if constexpr (std::is_same_v<T, float>)
    bwd_ds_f32(dp, p, nq, nk, dd, scale);
  else
    bwd_ds<T>(dp, p, nq, nk, dd, scale);
}

// ---- layout ---------------------------------------------------------------------------------

// The operands of one call: contiguous q, k, v, the mask expanded to [batch..., L, S], and
// the element offset of each (batch, head) slice in each of them.
struct Layout {
  Tensor q, k, v, mask;
  std::int64_t n = 0, L = 0, S = 0, E = 0, Ev = 0;
  double scale = 1.0;
  bool causal = false;
  std::vector<std::int64_t> oq, ok, ov, om;
  std::int64_t msl = 0, mss = 0;
};

// Offsets of the slices of a contiguous operand with leading dims `lead` (each slice `inner`
// elements) at every index of the broadcast `batch` (row-major); on the last batch dim the
// index is divided by `group` (GQA).
std::vector<std::int64_t> slice_offsets(const Shape& lead, std::int64_t inner, const Shape& batch, std::int64_t group) {
  const auto nb = static_cast<std::int64_t>(batch.size()), nl = static_cast<std::int64_t>(lead.size());
  std::vector<std::int64_t> st(static_cast<std::size_t>(nl));
  std::int64_t s = inner;
  for (std::int64_t i = nl - 1; i >= 0; --i) {
    st[static_cast<std::size_t>(i)] = s;
    s *= lead[static_cast<std::size_t>(i)];
  }
  std::int64_t n = 1;
  for (std::int64_t b : batch) n *= b;
  std::vector<std::int64_t> out(static_cast<std::size_t>(n));
  for (std::int64_t idx = 0; idx < n; ++idx) {
    std::int64_t rem = idx, off = 0;
    for (std::int64_t d = nb - 1; d >= 0; --d) {
      const std::int64_t bd = batch[static_cast<std::size_t>(d)];
      std::int64_t i = rem % bd;
      rem /= bd;
      const std::int64_t li = d - (nb - nl);
      if (li < 0 || lead[static_cast<std::size_t>(li)] == 1) continue;
      if (d == nb - 1) i /= group;
      off += i * st[static_cast<std::size_t>(li)];
    }
    out[static_cast<std::size_t>(idx)] = off;
  }
  return out;
}

Shape lead_of(const Tensor& t) { return Shape(t.shape().begin(), t.shape().end() - 2); }

Layout make_layout(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, bool causal, double scale,
                   const Shape& batch, std::int64_t gk, std::int64_t gv) {
  Layout y;
  y.q = q.detach().contiguous();
  y.k = k.detach().contiguous();
  y.v = v.detach().contiguous();
  y.L = q.size(-2);
  y.S = k.size(-2);
  y.E = q.size(-1);
  y.Ev = v.size(-1);
  y.scale = scale;
  y.causal = causal;
  y.n = 1;
  for (std::int64_t b : batch) y.n *= b;
  y.oq = slice_offsets(lead_of(q), y.L * y.E, batch, 1);
  y.ok = slice_offsets(lead_of(k), y.S * y.E, batch, gk);
  y.ov = slice_offsets(lead_of(v), y.S * y.Ev, batch, gv);
  if (mask.defined()) {
    Shape full = batch;
    full.push_back(y.L);
    full.push_back(y.S);
    y.mask = mask.detach().expand(full);
    const Shape& st = y.mask.strides();
    const auto nb = static_cast<std::int64_t>(batch.size());
    y.msl = st[static_cast<std::size_t>(nb)];
    y.mss = st[static_cast<std::size_t>(nb + 1)];
    y.om.resize(static_cast<std::size_t>(y.n));
    for (std::int64_t idx = 0; idx < y.n; ++idx) {
      std::int64_t rem = idx, off = 0;
      for (std::int64_t d = nb - 1; d >= 0; --d) {
        const std::int64_t bd = batch[static_cast<std::size_t>(d)];
        off += (rem % bd) * st[static_cast<std::size_t>(d)];
        rem /= bd;
      }
      y.om[static_cast<std::size_t>(idx)] = off;
    }
  }
  return y;
}

template <class T>
MaskRef<T> mask_of(const Layout& y, std::int64_t b) {
  MaskRef<T> mk;
  if (!y.mask.defined()) return mk;
  mk.sl = y.msl;
  mk.ss = y.mss;
  if (y.mask.dtype() == Dtype::boolean) {
    mk.kind = 1;
    mk.b = y.mask.strided_data_ptr<bool>() + y.om[static_cast<std::size_t>(b)];
  } else {
    mk.kind = 2;
    mk.f = y.mask.strided_data_ptr<T>() + y.om[static_cast<std::size_t>(b)];
  }
  return mk;
}

std::int64_t blocks(std::int64_t n, std::int64_t b) { return (n + b - 1) / b; }

// ---- kernels --------------------------------------------------------------------------------

template <class T>
void forward_kernel(const Layout& y, T* out, T* lse) {
  const T* q = y.q.data_ptr<T>();
  const T* k = y.k.data_ptr<T>();
  const T* v = y.v.data_ptr<T>();
  const std::int64_t nqb = blocks(y.L, kBQ), nkb = blocks(y.S, kBK), E = y.E, Ev = y.Ev;
  const T scale = static_cast<T>(y.scale);
  kernel::parallel_for(y.n * nqb, 1, [&](std::int64_t t0, std::int64_t t1) {
    std::vector<T> s(static_cast<std::size_t>(kBQ * kBK)), m(kBQ), l(kBQ);
    for (std::int64_t t = t0; t < t1; ++t) {
      const std::int64_t b = t / nqb, i0 = (t % nqb) * kBQ, nq = std::min(kBQ, y.L - i0);
      const T* qb = q + y.oq[static_cast<std::size_t>(b)] + i0 * E;
      const T* kbase = k + y.ok[static_cast<std::size_t>(b)];
      const T* vbase = v + y.ov[static_cast<std::size_t>(b)];
      T* o = out + (b * y.L + i0) * Ev;
      const MaskRef<T> mk = mask_of<T>(y, b);
      std::fill(o, o + nq * Ev, T(0));
      std::fill(m.begin(), m.end(), kNegInf<T>);
      std::fill(l.begin(), l.end(), T(0));
      // Causal: keys beyond the block's last row are hidden from every row of the block.
      const std::int64_t kend = y.causal ? std::min(nkb, blocks(i0 + nq, kBK)) : nkb;
      for (std::int64_t kb = 0; kb < kend; ++kb) {
        const std::int64_t j0 = kb * kBK, nk = std::min(kBK, y.S - j0);
        kernel::gemm<T>(false, true, nq, nk, E, qb, kbase + j0 * E, s.data(), T(0));
        const bool diag = y.causal && j0 + nk - 1 > i0;
        fwd_block_any<T>(s.data(), o, nq, nk, Ev, scale, i0, j0, diag, mk, m.data(), l.data());
        kernel::gemm<T>(false, false, nq, Ev, nk, s.data(), vbase + j0 * Ev, o, T(1));
      }
      for (std::int64_t r = 0; r < nq; ++r) {
        T* orow = o + r * Ev;
        if (l[static_cast<std::size_t>(r)] > T(0)) {
          const T inv = T(1) / l[static_cast<std::size_t>(r)];
          for (std::int64_t e = 0; e < Ev; ++e) orow[e] *= inv;
          lse[b * y.L + i0 + r] = m[static_cast<std::size_t>(r)] + std::log(l[static_cast<std::size_t>(r)]);
        } else {
          std::fill(orow, orow + Ev, T(0));
          lse[b * y.L + i0 + r] = std::numeric_limits<T>::infinity();
        }
      }
    }
  });
}

// dq, dk, dv: [n, L, E], [n, S, E], [n, S, Ev] zero-filled (null when not needed).
template <class T>
void backward_kernel(const Layout& y, const T* g, const T* out, const T* lse, T* dq, T* dk, T* dv) {
  const T* q = y.q.data_ptr<T>();
  const T* k = y.k.data_ptr<T>();
  const T* v = y.v.data_ptr<T>();
  const std::int64_t nqb = blocks(y.L, kBQ), nkb = blocks(y.S, kBK), E = y.E, Ev = y.Ev, L = y.L, S = y.S;
  const T scale = static_cast<T>(y.scale);
  // D = rowsum(dO * O), one value per query row (summed in double).
  std::vector<T> dd(static_cast<std::size_t>(y.n * L));
  kernel::parallel_for(y.n * L, kernel::grain_for(Ev), [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      double a = 0.0;
      for (std::int64_t e = 0; e < Ev; ++e)
        a += static_cast<double>(g[r * Ev + e]) * static_cast<double>(out[r * Ev + e]);
      dd[static_cast<std::size_t>(r)] = static_cast<T>(a);
    }
  });
  // P and dS of the block (query rows i0.., keys j0..) of slice b, into p and ds.
  auto block = [&](std::int64_t b, const MaskRef<T>& mk, std::int64_t i0, std::int64_t nq, std::int64_t j0,
                   std::int64_t nk, T* p, T* ds) {
    const T* qb = q + y.oq[static_cast<std::size_t>(b)] + i0 * E;
    kernel::gemm<T>(false, true, nq, nk, E, qb, k + y.ok[static_cast<std::size_t>(b)] + j0 * E, p, T(0));
    const bool diag = y.causal && j0 + nk - 1 > i0;
    bwd_p_any<T>(p, nq, nk, scale, i0, j0, diag, mk, lse + b * L + i0);
    kernel::gemm<T>(false, true, nq, nk, Ev, g + (b * L + i0) * Ev, v + y.ov[static_cast<std::size_t>(b)] + j0 * Ev, ds,
                    T(0));
    bwd_ds_any<T>(ds, p, nq, nk, dd.data() + b * L + i0, scale);
  };
  if (dk != nullptr || dv != nullptr) {
    // One task per (slice, key block): dV += P^T dO, dK += dS^T Q over the query blocks in order.
    kernel::parallel_for(y.n * nkb, 1, [&](std::int64_t t0, std::int64_t t1) {
      std::vector<T> p(static_cast<std::size_t>(kBQ * kBK)), ds(static_cast<std::size_t>(kBQ * kBK));
      for (std::int64_t t = t0; t < t1; ++t) {
        const std::int64_t b = t / nkb, j0 = (t % nkb) * kBK, nk = std::min(kBK, S - j0);
        const MaskRef<T> mk = mask_of<T>(y, b);
        const std::int64_t qstart = y.causal ? j0 / kBQ : 0;  // query blocks wholly above see none of these keys
        for (std::int64_t qb = qstart; qb < nqb; ++qb) {
          const std::int64_t i0 = qb * kBQ, nq = std::min(kBQ, L - i0);
          block(b, mk, i0, nq, j0, nk, p.data(), ds.data());
          if (dv != nullptr)
            kernel::gemm<T>(true, false, nk, Ev, nq, p.data(), g + (b * L + i0) * Ev, dv + (b * S + j0) * Ev, T(1));
          if (dk != nullptr)
            kernel::gemm<T>(true, false, nk, E, nq, ds.data(), q + y.oq[static_cast<std::size_t>(b)] + i0 * E,
                            dk + (b * S + j0) * E, T(1));
        }
      }
    });
  }
  if (dq != nullptr) {
    // One task per (slice, query block): dQ += dS K over the key blocks in order.
    kernel::parallel_for(y.n * nqb, 1, [&](std::int64_t t0, std::int64_t t1) {
      std::vector<T> p(static_cast<std::size_t>(kBQ * kBK)), ds(static_cast<std::size_t>(kBQ * kBK));
      for (std::int64_t t = t0; t < t1; ++t) {
        const std::int64_t b = t / nqb, i0 = (t % nqb) * kBQ, nq = std::min(kBQ, L - i0);
        const MaskRef<T> mk = mask_of<T>(y, b);
        const std::int64_t kend = y.causal ? std::min(nkb, blocks(i0 + nq, kBK)) : nkb;
        for (std::int64_t kb = 0; kb < kend; ++kb) {
          const std::int64_t j0 = kb * kBK, nk = std::min(kBK, S - j0);
          block(b, mk, i0, nq, j0, nk, p.data(), ds.data());
          kernel::gemm<T>(false, false, nq, E, nk, ds.data(), k + y.ok[static_cast<std::size_t>(b)] + j0 * E,
                          dq + (b * L + i0) * E, T(1));
        }
      }
    });
  }
}

// ---- gradients ------------------------------------------------------------------------------

// A gradient over the full broadcast batch (GQA heads expanded) summed back to `shape`.
Tensor reduce_grad(const Tensor& full, const Shape& shape, std::int64_t group) {
  Tensor g = full;
  if (group > 1) {
    Shape s = g.shape();
    const std::size_t h = s.size() - 3;
    const std::int64_t heads = s[h];
    s[h] = heads / group;
    s.insert(s.begin() + static_cast<std::ptrdiff_t>(h) + 1, group);
    g = sum(reshape(g, s), Dims{static_cast<std::int64_t>(h) + 1});
  }
  return sum_to(g, shape);
}

Shape with_rows(Shape batch, std::int64_t a, std::int64_t b) {
  batch.push_back(a);
  batch.push_back(b);
  return batch;
}

// Under create_graph: the gradients by the math formulas from differentiable ops, with the
// fully masked rows (lse = +inf) given P = 0 like the fused kernels.
Grads composed_backward(const Tensor& g, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask,
                        const Tensor& lse, bool causal, double scale, const Shape& batch, std::int64_t gk,
                        std::int64_t gv) {
  const std::int64_t L = q.size(-2), S = k.size(-2);
  const Tensor kk = gk == 1 ? k : repeat_interleave(k, gk, -3);
  const Tensor vv = gv == 1 ? v : repeat_interleave(v, gv, -3);
  const double inf = std::numeric_limits<double>::infinity();
  Tensor sc = mul(matmul(q, transpose(kk, -2, -1)), scale);
  if (causal) sc = masked_fill(sc, logical_not(tril(ones({L, S}, dtype(Dtype::boolean)))), -inf);
  if (mask.defined()) sc = mask.dtype() == Dtype::boolean ? masked_fill(sc, logical_not(mask), -inf) : add(sc, mask);
  const Tensor dead = reshape(isposinf(lse), with_rows(batch, L, 1));
  sc = masked_fill(sc, dead, 0.0);
  const Tensor p = masked_fill(functional::softmax(sc, -1), dead, 0.0);
  const Tensor dv = reduce_grad(matmul(transpose(p, -2, -1), g), v.shape(), gv);
  const Tensor dp = matmul(g, transpose(vv, -2, -1));
  const Tensor ds = mul(mul(p, sub(dp, sum(mul(dp, p), Dims{-1}, true))), scale);
  const Tensor dq = sum_to(matmul(ds, kk), q.shape());
  const Tensor dk = reduce_grad(matmul(transpose(ds, -2, -1), q), k.shape(), gk);
  return Grads{dq, dk, dv};
}

Grads fused_backward(const Tensor& g_in, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask,
                     const Tensor& out_in, const Tensor& lse_in, bool causal, double scale, const Shape& batch,
                     std::int64_t gk, std::int64_t gv, bool need_q, bool need_k, bool need_v) {
  NoGradGuard ng;
  const Layout y = make_layout(q, k, v, mask, causal, scale, batch, gk, gv);
  const Tensor g = g_in.contiguous(), out = out_in.contiguous(), lse = lse_in.contiguous();
  const TensorOptions o = dtype(q.dtype());
  Tensor dq = need_q ? zeros(with_rows(batch, y.L, y.E), o) : Tensor();
  Tensor dk = need_k ? zeros(with_rows(batch, y.S, y.E), o) : Tensor();
  Tensor dv = need_v ? zeros(with_rows(batch, y.S, y.Ev), o) : Tensor();
  kernel::dispatch_floating(q, "scaled_dot_product_attention", [&]<class T>() {
    backward_kernel<T>(y, g.data_ptr<T>(), out.data_ptr<T>(), lse.data_ptr<T>(), need_q ? dq.data_ptr<T>() : nullptr,
                       need_k ? dk.data_ptr<T>() : nullptr, need_v ? dv.data_ptr<T>() : nullptr);
  });
  return Grads{need_q ? sum_to(dq, q.shape()) : Tensor(), need_k ? reduce_grad(dk, k.shape(), gk) : Tensor(),
               need_v ? reduce_grad(dv, v.shape(), gv) : Tensor()};
}

}  // namespace

namespace sdpa_detail {

Tensor efficient_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, bool is_causal,
                           double scale, const Shape& batch, std::int64_t gk, std::int64_t gv) {
  Tensor out, lse;
  {
    NoGradGuard ng;
    const Layout y = make_layout(q, k, v, mask, is_causal, scale, batch, gk, gv);
    out = xgrad::detail::make_tensor(with_rows(batch, y.L, y.Ev), q.dtype());
    lse = xgrad::detail::make_tensor(with_rows(batch, y.L, 1), q.dtype());
    kernel::dispatch_floating(q, "scaled_dot_product_attention",
                              [&]<class T>() { forward_kernel<T>(y, out.data_ptr<T>(), lse.data_ptr<T>()); });
  }
  if (any_requires_grad({&q, &k, &v})) {
    const bool need_q = q.requires_grad(), need_k = k.requires_grad(), need_v = v.requires_grad();
    const Tensor m = mask.defined() ? mask.detach() : Tensor();
    record("ScaledDotProductEfficientAttentionBackward", {q, k, v}, {out}, {q, k, v, out, lse},
           [m, is_causal, scale, batch, gk, gv, need_q, need_k, need_v](const Grads& g, const Grads& s) {
             if (grad_mode_enabled())
               return composed_backward(g[0], s[0], s[1], s[2], m, s[4], is_causal, scale, batch, gk, gv);
             return fused_backward(g[0], s[0], s[1], s[2], m, s[3], s[4], is_causal, scale, batch, gk, gv, need_q,
                                   need_k, need_v);
           });
  }
  return out;
}

}  // namespace sdpa_detail

}  // namespace xgrad::nn
