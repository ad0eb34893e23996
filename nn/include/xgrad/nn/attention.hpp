// Scaled dot-product attention (PyTorch 2.x's F.scaled_dot_product_attention) with two
// implementations, selected per thread by SDPBackendGuard (like torch.nn.attention.sdpa_kernel):
//
// * math: composed from differentiable ops (matmul, masked_fill / add, softmax, dropout), so
//   every derivative order works; stores the whole [..., L, S] weight matrix.
// * efficient: blocked online-softmax ("flash attention") forward and backward that never
//   stores the [L, S] score matrix. The forward keeps, per block of query rows, a running
//   row max, row sum and output accumulator and saves only the output and the row
//   log-sum-exp [..., L]; the backward recomputes each score block from q, k and the saved
//   log-sum-exp. Accumulation is in float for float32 inputs (in double for float64); block
//   products use GEMM. Work is split over (batch*head, query block) in the forward and over
//   (batch*head, key block) for dk / dv and (batch*head, query block) for dq in the backward,
//   each output element written by one task in a fixed order: results are bit-identical at
//   every thread count. One node is recorded (grad_fn
//   ScaledDotProductEfficientAttentionBackward); under create_graph its backward is composed
//   from differentiable ops (the math formulas), so it differentiates again.
//   Not supported (SDPBackend::automatic then uses math; SDPBackend::efficient throws):
//   dropout_p > 0, and a floating attn_mask that requires grad (the fused backward does not
//   differentiate the mask). Empty problems (a zero batch, L, S, E or Ev) always take the
//   math path.
//
// Fully masked rows (every key of a query row excluded by attn_mask, or all its additive
// biases -inf): both paths give an output row of 0 and zero gradients for that row, as
// PyTorch >= 2.5 does (its math path uses _safe_softmax; its CPU flash kernel gives 0 too).
// Departure from older releases: PyTorch 2.0 - 2.4's math path gave NaN there. With is_causal
// the mask is tril(ones(L, S)) aligned top-left, so every row keeps key 0 and is_causal alone
// never masks a row fully.
#pragma once

#include <optional>

#include "xgrad/autograd/tensor.hpp"

namespace xgrad::nn {

/// Attention implementation choice (torch.nn.attention.SDPBackend's subset).
/// automatic: efficient when it supports the call (and the problem is large enough for it to
/// pay), math otherwise. math: always math. efficient: always efficient; throws xgrad::Error
/// when the call is not supported by it (dropout_p > 0, an attn_mask that requires grad).
enum class SDPBackend { automatic, math, efficient };

/// RAII: selects the backend on this thread for its lifetime and restores the previous one
/// on destruction (like torch.nn.attention.sdpa_kernel). Not copyable.
class SDPBackendGuard {
 public:
  explicit SDPBackendGuard(SDPBackend backend);
  ~SDPBackendGuard();
  SDPBackendGuard(const SDPBackendGuard&) = delete;
  SDPBackendGuard& operator=(const SDPBackendGuard&) = delete;

 private:
  SDPBackend previous_;
};

/// The backend selected on this thread (SDPBackend::automatic unless a guard is alive).
SDPBackend current_sdp_backend();

namespace functional {

/// Scaled dot-product attention (PyTorch's F.scaled_dot_product_attention):
///   out = dropout(softmax(q k^T * scale + bias), dropout_p) v
/// query [..., L, E], key [..., S, E], value [..., S, Ev] -> out [..., L, Ev]; the leading
/// dims ("...") of the three broadcast together. Rank >= 2 each.
/// scale: default 1 / sqrt(E).
/// attn_mask: undefined, or broadcastable to [..., L, S] (the broadcast leading dims):
///   bool: true = the key takes part in the attention (PyTorch's convention), false = excluded
///   (bias -inf); floating: added to the scores (converted to query's dtype first).
/// is_causal: the mask tril(ones(L, S)) aligned top-left (query i sees keys j <= i); throws
///   together with a defined attn_mask (as PyTorch).
/// dropout_p: the probability of zeroing a weight, survivors scaled by 1 / (1 - dropout_p);
///   applied whenever dropout_p > 0 (PyTorch applies it regardless of training mode; 1 zeroes
///   every weight, so the output is 0), using
///   xgrad's global generator.
/// enable_gqa: grouped-query attention: query's dim -3 (heads Hq) may be a multiple of key's
///   and value's dim -3 (Hkv); each key/value head serves Hq / Hkv consecutive query heads
///   (repeat_interleave on dim -3). Without it the head dims must broadcast like the others.
/// Backward (either path): with P = softmax(...) (after masking), dP = g v^T (through the
///   dropout mask), dS = P * (dP - rowsum(dP * P)):
///   dq = dS k * scale, dk = dS^T q * scale, dv = P^T g (summed over broadcast and GQA-shared
///   dims); on the math path a floating attn_mask that requires grad gets d mask = dS (summed
///   to its shape), as in PyTorch's math path.
/// Fully masked rows: weights 0, so an output row of 0 (see the file comment).
/// Backends (SDPBackendGuard): automatic takes the efficient path when it supports the call
/// and L * S >= 8192 (about where it starts to win, measured on float32 head dim 64), the
/// math path otherwise.
/// Throws xgrad::Error (naming scaled_dot_product_attention and the shapes): an undefined
/// input, rank < 2, non-floating or differing dtypes of query/key/value, E of query != E of
/// key, S of key != S of value, leading dims not broadcastable (or with enable_gqa: heads
/// not a multiple), attn_mask not broadcastable to [..., L, S], attn_mask neither bool nor
/// floating, dropout_p outside [0, 1], is_causal with a defined attn_mask, and
/// SDPBackend::efficient for a call the efficient path does not support (dropout_p > 0, an
/// attn_mask that requires grad).
Tensor scaled_dot_product_attention(const Tensor& query, const Tensor& key, const Tensor& value,
                                    const Tensor& attn_mask = Tensor(), double dropout_p = 0.0, bool is_causal = false,
                                    std::optional<double> scale = std::nullopt, bool enable_gqa = false);

}  // namespace functional

}  // namespace xgrad::nn
