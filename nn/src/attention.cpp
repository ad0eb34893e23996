// scaled_dot_product_attention: argument validation, the math path (differentiable ops) and
// the backend dispatch. The blocked "efficient" kernels are in attention_efficient.cpp.
#include "xgrad/nn/attention.hpp"

#include "attention_core.hpp"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/linalg.hpp"
#include "xgrad/autograd/masking.hpp"
#include "xgrad/autograd/node.hpp"
#include "xgrad/autograd/reduction.hpp"
#include "xgrad/autograd/shape.hpp"
#include "xgrad/autograd/structure.hpp"
#include "xgrad/nn/activation.hpp"
#include "xgrad/nn/linear.hpp"
#include "xgrad/autograd/profile_scope.hpp"

namespace xgrad::nn {

namespace {

constexpr const char* kOp = "scaled_dot_product_attention";

thread_local SDPBackend t_backend = SDPBackend::automatic;

// Below this many score elements per (batch, head) the automatic backend takes the math path
// (the blocked kernels' per-block overhead does not pay for tiny problems).
constexpr std::int64_t kEfficientMinScores = 8192;

// The validated problem: the broadcast batch dims (query's heads with GQA) and the sizes.
struct Problem {
  Shape batch;
  std::int64_t L = 0, S = 0, E = 0, Ev = 0;
  std::int64_t gk = 1, gv = 1;  // GQA: query heads per key head / per value head (1 without)
  double scale = 1.0;
};

Shape lead(const Tensor& t) { return Shape(t.shape().begin(), t.shape().end() - 2); }

Problem check_args(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, double dropout_p,
                   bool is_causal, std::optional<double> scale, bool enable_gqa) {
  xgrad::detail::check_defined(q, kOp);
  xgrad::detail::check_defined(k, kOp);
  xgrad::detail::check_defined(v, kOp);
  if (!is_floating(q.dtype()) || k.dtype() != q.dtype() || v.dtype() != q.dtype())
    throw Error(fmt::format(
        "{}: expected query, key and value of one floating dtype (float32 or float64), got query {}, key {}, "
        "value {}",
        kOp, q.dtype(), k.dtype(), v.dtype()));
  if (q.dim() < 2 || k.dim() < 2 || v.dim() < 2)
    throw Error(
        fmt::format("{}: expected query, key and value of rank >= 2, got query of shape {}, key of shape {}, "
                    "value of shape {}",
                    kOp, q.shape(), k.shape(), v.shape()));
  if (q.size(-1) != k.size(-1))
    throw Error(
        fmt::format("{}: the last dim (embedding) of query and key must match, got query of shape {} and key "
                    "of shape {}",
                    kOp, q.shape(), k.shape()));
  if (k.size(-2) != v.size(-2))
    throw Error(
        fmt::format("{}: key and value must have the same sequence length (dim -2), got key of shape {} and "
                    "value of shape {}",
                    kOp, k.shape(), v.shape()));
  if (dropout_p < 0.0 || dropout_p > 1.0 || std::isnan(dropout_p))
    throw Error(fmt::format("{}: dropout_p must lie in [0, 1], got {}", kOp, dropout_p));
  if (is_causal && mask.defined())
    throw Error(fmt::format("{}: an explicit attn_mask (of shape {}) must not be given with is_causal=true", kOp,
                            mask.shape()));
  Problem p;
  p.L = q.size(-2);
  p.S = k.size(-2);
  p.E = q.size(-1);
  p.Ev = v.size(-1);
  Shape lq = lead(q), lk = lead(k), lv = lead(v);
  // GQA (PyTorch's rule): with rank >= 3 and differing head counts on dim -3, key's and
  // value's heads must divide query's; each serves query_heads / heads consecutive query heads.
  if (enable_gqa && q.dim() >= 3 && k.dim() >= 3 && v.dim() >= 3) {
    const std::int64_t hq = q.size(-3), hk = k.size(-3), hv = v.size(-3);
    if (hk == 0 || hv == 0 || hq % hk != 0 || hq % hv != 0)
      throw Error(
          fmt::format("{}: with enable_gqa the number of query heads (dim -3) must be a multiple of the key's "
                      "and value's, got query of shape {}, key of shape {}, value of shape {}",
                      kOp, q.shape(), k.shape(), v.shape()));
    p.gk = hq / hk;
    p.gv = hq / hv;
    lk.back() = hq;
    lv.back() = hq;
  }
  try {
    p.batch = broadcast_shapes(broadcast_shapes(lq, lk), lv);
  } catch (const Error&) {
    throw Error(
        fmt::format("{}: the leading dims of query, key and value do not broadcast, got query of shape {}, "
                    "key of shape {}, value of shape {}",
                    kOp, q.shape(), k.shape(), v.shape()));
  }
  if (mask.defined()) {
    if (mask.dtype() != Dtype::boolean && !is_floating(mask.dtype()))
      throw Error(fmt::format("{}: attn_mask must be bool or floating, got {} (attn_mask of shape {})", kOp,
                              mask.dtype(), mask.shape()));
    Shape target = p.batch;
    target.push_back(p.L);
    target.push_back(p.S);
    bool ok = mask.dim() <= static_cast<std::int64_t>(target.size());
    for (std::int64_t i = 1; ok && i <= mask.dim(); ++i) {
      const std::int64_t m = mask.shape()[static_cast<std::size_t>(mask.dim() - i)];
      ok = m == 1 || m == target[target.size() - static_cast<std::size_t>(i)];
    }
    if (!ok)
      throw Error(fmt::format("{}: attn_mask of shape {} is not broadcastable to the attention weights' shape {}", kOp,
                              mask.shape(), target));
  }
  p.scale = scale ? *scale : 1.0 / std::sqrt(static_cast<double>(p.E));
  return p;
}

// Key / value with GQA: heads repeated to query's (repeat_interleave on dim -3).
Tensor expand_heads(const Tensor& t, std::int64_t g) { return g == 1 ? t : repeat_interleave(t, g, -3); }

Tensor math_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, double dropout_p,
                      bool is_causal, const Problem& p) {
  const Tensor kk = expand_heads(k, p.gk), vv = expand_heads(v, p.gv);
  Tensor w = mul(matmul(q, transpose(kk, -2, -1)), p.scale);
  if (is_causal) {
    const Tensor keep = tril(ones({p.L, p.S}, dtype(Dtype::boolean)));
    w = masked_fill(w, logical_not(keep), -std::numeric_limits<double>::infinity());
  } else if (mask.defined()) {
    w = mask.dtype() == Dtype::boolean ? masked_fill(w, logical_not(mask), -std::numeric_limits<double>::infinity())
                                       : add(w, mask);
  }
  if (mask.defined()) {
    // PyTorch's _safe_softmax: a row whose scores are all -inf gets weights 0 (not NaN) and
    // zero gradients; its scores are replaced by 0 first so softmax stays finite there.
    const Tensor dead = all(eq(w.detach(), -std::numeric_limits<double>::infinity()), Dims{-1}, true);
    w = masked_fill(functional::softmax(masked_fill(w, dead, 0.0), -1), dead, 0.0);
  } else {
    w = functional::softmax(w, -1);
  }
  if (dropout_p > 0.0) w = functional::dropout(w, dropout_p, true);
  return matmul(w, vv);
}

}  // namespace

SDPBackendGuard::SDPBackendGuard(SDPBackend backend) : previous_(t_backend) { t_backend = backend; }
SDPBackendGuard::~SDPBackendGuard() { t_backend = previous_; }
SDPBackend current_sdp_backend() { return t_backend; }

namespace functional {

Tensor scaled_dot_product_attention(const Tensor& query, const Tensor& key, const Tensor& value,
                                    const Tensor& attn_mask_in, double dropout_p, bool is_causal,
                                    std::optional<double> scale, bool enable_gqa) {
  XGRAD_PROFILE_OP("scaled_dot_product_attention", query, key, value, attn_mask_in);
  const Problem p = check_args(query, key, value, attn_mask_in, dropout_p, is_causal, scale, enable_gqa);
  // A floating mask of another dtype is converted (differentiably) to query's, as PyTorch adds it.
  const Tensor attn_mask =
      attn_mask_in.defined() && attn_mask_in.dtype() != Dtype::boolean ? attn_mask_in.to(query.dtype()) : attn_mask_in;
  std::int64_t n = 1;
  for (std::int64_t b : p.batch) n *= b;
  const bool empty = n == 0 || p.L == 0 || p.S == 0 || p.E == 0 || p.Ev == 0;
  const bool mask_grad = attn_mask.defined() && attn_mask.requires_grad() && grad_mode_enabled();
  const char* unsupported = dropout_p > 0.0 ? "dropout_p > 0" : mask_grad ? "an attn_mask that requires grad" : nullptr;
  const SDPBackend backend = current_sdp_backend();
  if (backend == SDPBackend::efficient && unsupported != nullptr)
    throw Error(
        fmt::format("{}: the efficient backend does not support {} (query of shape {}, key of shape {}, value "
                    "of shape {}); use SDPBackend::math or automatic",
                    kOp, unsupported, query.shape(), key.shape(), value.shape()));
  const bool efficient =
      !empty && unsupported == nullptr &&
      (backend == SDPBackend::efficient || (backend == SDPBackend::automatic && p.L * p.S >= kEfficientMinScores));
  if (efficient)
    return sdpa_detail::efficient_attention(query, key, value, attn_mask, is_causal, p.scale, p.batch, p.gk, p.gv);
  return math_attention(query, key, value, attn_mask, dropout_p, is_causal, p);
}

}  // namespace functional

}  // namespace xgrad::nn
