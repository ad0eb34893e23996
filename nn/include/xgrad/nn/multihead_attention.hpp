// Multi-head attention (PyTorch's nn.MultiheadAttention; libtorch's C++ API shapes).
// Definitions, defaults, parameter names and mask conventions are PyTorch's, so a state dict
// saved by PyTorch loads here and gives the same results.
//
// With E = embed_dim, H = num_heads, d = E / H (the head dim), L the target (query) length,
// S the source (key/value) length and B the batch size:
//   q = query W_q^T + b_q,  k = key W_k^T + b_k,  v = value W_v^T + b_v          ([.., E] each)
//   per head h (columns h*d .. h*d + d - 1 of q, k, v):
//     P_h = softmax(q_h k_h^T / sqrt(d) + mask)                                   [L, S]
//     o_h = dropout(P_h) v_h                                                       [L, d]
//   out = concat_h(o_h) W_o^T + b_o                                                [.., E]
// The in-projection is one [3E, E] matrix (in_proj_weight, rows [W_q; W_k; W_v]) when
// kdim == vdim == E, else three matrices q_proj_weight [E, E], k_proj_weight [E, kdim],
// v_proj_weight [E, vdim]; in_proj_bias [3E] is [b_q; b_k; b_v] in both cases. The
// out-projection is the Linear child out_proj (weight [E, E], bias [E]).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <tuple>

#include "xgrad/autograd/tensor.hpp"
#include "xgrad/nn/linear.hpp"
#include "xgrad/nn/module.hpp"
#include "xgrad/nn/options.hpp"

namespace xgrad::nn {

/// Options of MultiheadAttention: MultiheadAttentionOptions(embed_dim, num_heads)
/// .dropout(0.0).bias(true).add_bias_kv(false).add_zero_attn(false).kdim(embed_dim)
/// .vdim(embed_dim).batch_first(false) (PyTorch's defaults; kdim and vdim default to
/// embed_dim). dropout: the probability of zeroing an attention weight in training.
struct MultiheadAttentionOptions {
  MultiheadAttentionOptions(std::int64_t embed_dim, std::int64_t num_heads) {
    embed_dim_ = embed_dim;
    num_heads_ = num_heads;
    kdim_ = embed_dim;
    vdim_ = embed_dim;
  }
#define XGRAD_NN_FIELDS(X)                                  \
  X(std::int64_t, embed_dim, 0, ::xgrad::options::any)      \
  X(std::int64_t, num_heads, 1, ::xgrad::options::any)      \
  X(double, dropout, 0.0, ::xgrad::nn::checks::probability) \
  X(bool, bias, true, ::xgrad::options::any)                \
  X(bool, add_bias_kv, false, ::xgrad::options::any)        \
  X(bool, add_zero_attn, false, ::xgrad::options::any)      \
  X(std::int64_t, kdim, 0, ::xgrad::options::any)           \
  X(std::int64_t, vdim, 0, ::xgrad::options::any)           \
  X(bool, batch_first, false, ::xgrad::options::any)
  XGRAD_OPTIONS(MultiheadAttentionOptions, XGRAD_NN_FIELDS)
#undef XGRAD_NN_FIELDS
};

namespace functional {

/// Options of multi_head_attention_forward (libtorch's MultiheadAttentionForwardFuncOptions):
/// MultiheadAttentionForwardFuncOptions(embed_dim_to_check, num_heads, in_proj_weight,
/// in_proj_bias, bias_k, bias_v, add_zero_attn, dropout_p, out_proj_weight, out_proj_bias)
/// .training(true).key_padding_mask({}).need_weights(true).attn_mask({})
/// .use_separate_proj_weight(false).q_proj_weight({}).k_proj_weight({}).v_proj_weight({})
/// .average_attn_weights(true).is_causal(false).batch_first(false).
/// Undefined tensors mean "none" (in_proj_bias, bias_k/bias_v, out_proj_bias, the masks).
/// Departures: batch_first is xgrad's addition (PyTorch's functional form is sequence-first
/// only); static_k / static_v are not supported.
struct MultiheadAttentionForwardFuncOptions {
  MultiheadAttentionForwardFuncOptions(std::int64_t embed_dim_to_check, std::int64_t num_heads, Tensor in_proj_weight,
                                       Tensor in_proj_bias, Tensor bias_k, Tensor bias_v, bool add_zero_attn,
                                       double dropout_p, Tensor out_proj_weight, Tensor out_proj_bias);
#define XGRAD_NN_FIELDS(X)                                        \
  X(std::int64_t, embed_dim_to_check, 0, ::xgrad::options::any)   \
  X(std::int64_t, num_heads, 1, ::xgrad::options::any)            \
  X(Tensor, in_proj_weight, Tensor(), ::xgrad::options::any)      \
  X(Tensor, in_proj_bias, Tensor(), ::xgrad::options::any)        \
  X(Tensor, bias_k, Tensor(), ::xgrad::options::any)              \
  X(Tensor, bias_v, Tensor(), ::xgrad::options::any)              \
  X(bool, add_zero_attn, false, ::xgrad::options::any)            \
  X(double, dropout_p, 0.0, ::xgrad::options::any)                \
  X(Tensor, out_proj_weight, Tensor(), ::xgrad::options::any)     \
  X(Tensor, out_proj_bias, Tensor(), ::xgrad::options::any)       \
  X(bool, training, true, ::xgrad::options::any)                  \
  X(Tensor, key_padding_mask, Tensor(), ::xgrad::options::any)    \
  X(bool, need_weights, true, ::xgrad::options::any)              \
  X(Tensor, attn_mask, Tensor(), ::xgrad::options::any)           \
  X(bool, use_separate_proj_weight, false, ::xgrad::options::any) \
  X(Tensor, q_proj_weight, Tensor(), ::xgrad::options::any)       \
  X(Tensor, k_proj_weight, Tensor(), ::xgrad::options::any)       \
  X(Tensor, v_proj_weight, Tensor(), ::xgrad::options::any)       \
  X(bool, average_attn_weights, true, ::xgrad::options::any)      \
  X(bool, is_causal, false, ::xgrad::options::any)                \
  X(bool, batch_first, false, ::xgrad::options::any)
  XGRAD_OPTIONS(MultiheadAttentionForwardFuncOptions, XGRAD_NN_FIELDS)
#undef XGRAD_NN_FIELDS
};

/// The computation of MultiheadAttention::forward (PyTorch's F.multi_head_attention_forward)
/// with explicit weights: in_proj_weight [3E, E] (rows W_q; W_k; W_v), or with
/// use_separate_proj_weight q_proj_weight [E, E], k_proj_weight [E, kdim], v_proj_weight
/// [E, vdim]; in_proj_bias [3E]; bias_k, bias_v [1, 1, E] (both or neither); out_proj_weight
/// [E, E], out_proj_bias [E]. Dropout with probability dropout_p on the weights when
/// training. Shapes, masks, is_causal, need_weights, the result and the errors are those of
/// MultiheadAttention::forward below (errors name multi_head_attention_forward); in addition
/// it throws for embed_dim_to_check or num_heads < 1, embed_dim_to_check not divisible by
/// num_heads, dropout_p outside [0, 1], a required weight undefined or of the wrong shape,
/// and only one of bias_k, bias_v given.
std::tuple<Tensor, Tensor> multi_head_attention_forward(const Tensor& query, const Tensor& key, const Tensor& value,
                                                        const MultiheadAttentionForwardFuncOptions& options);

}  // namespace functional

/// Multi-head attention (see the file comment for the formula). forward() calls
/// functional::multi_head_attention_forward with the module's parameters.
///
/// Parameters (PyTorch's names and init):
/// * kdim == vdim == embed_dim: in_proj_weight [3E, E] (xavier_uniform_ over the whole
///   [3E, E] matrix); otherwise q_proj_weight [E, E], k_proj_weight [E, kdim],
///   v_proj_weight [E, vdim] (each xavier_uniform_);
/// * in_proj_bias [3E] (zeros), with bias (the default);
/// * out_proj: a Linear(E, E, bias) child (weight: Linear's default init; bias: zeros);
/// * bias_k, bias_v [1, 1, E] (xavier_normal_) with add_bias_kv.
/// Parameters are float32 like every module's; .to(float64) converts them.
///
/// forward(query, key, value, key_padding_mask, need_weights, attn_mask,
///         average_attn_weights, is_causal) -> (attn_output, attn_weights):
/// * query [L, B, E] ([B, L, E] with batch_first), key [S, B, kdim], value [S, B, vdim]
///   (batch_first: [B, S, kdim], [B, S, vdim]); or unbatched query [L, E], key [S, kdim],
///   value [S, vdim] (batch_first does not apply). All of the parameters' dtype.
/// * attn_output: query's layout with E features ([L, B, E], [B, L, E] or [L, E]).
/// * attn_weights (need_weights = true): the softmax weights P (after dropout, as PyTorch),
///   averaged over the heads, [B, L, S] (unbatched [L, S]), with average_attn_weights; else
///   per head, [B, H, L, S] (unbatched [H, L, S]). Undefined when need_weights is false.
///   S here counts the extra key of add_bias_kv and the extra zero key of add_zero_attn.
/// * key_padding_mask: [B, S] (unbatched [S]); bool: true = this key is IGNORED (PyTorch's
///   convention for this argument), or floating: added to the scores of that key.
/// * attn_mask: [L, S] (shared by every batch entry and head) or [B*H, L, S] (entry b*H + h
///   for batch b, head h; unbatched: [H, L, S]); bool: true = NOT allowed to attend
///   (PyTorch's MultiheadAttention convention, the opposite of scaled_dot_product_attention's)
///   or floating: added to the scores.
/// * Masks are merged as PyTorch does: each is turned into an additive mask of query's dtype
///   (bool true -> -inf, false -> 0; floating masks converted to query's dtype) and the two
///   are added. A row whose keys are all masked gives NaN weights and output with
///   need_weights = true (softmax of all -inf, as PyTorch's explicit path), and an output of
///   0 with need_weights = false (scaled_dot_product_attention, both of its paths, as PyTorch
///   >= 2.5; see attention.hpp).
/// * is_causal: a hint that attn_mask is the causal mask (PyTorch's semantics): attn_mask
///   is still required (throws without it; make one with
///   Transformer::generate_square_subsequent_mask). When no key_padding_mask is given and
///   need_weights is false, the mask is dropped and scaled_dot_product_attention runs with
///   is_causal = true (its memory-efficient path applies); otherwise attn_mask is used as
///   given. A wrong hint gives a wrong result.
/// * need_weights = false computes the attention with
///   functional::scaled_dot_product_attention (attention.hpp; the memory-efficient path is
///   picked automatically for long sequences); need_weights = true with the explicit
///   formula softmax(q k^T / sqrt(d) + mask) v from differentiable ops. Both give the same
///   output to rounding.
/// * Dropout on the weights with probability options.dropout() in training mode only.
/// * Every input and parameter is differentiable (float masks too, as in PyTorch's math path).
/// The one-input forward(x) of Module throws (MultiheadAttention takes three inputs).
///
/// Throws xgrad::Error naming MultiheadAttention and the shapes: at construction for
/// embed_dim or num_heads < 1, kdim or vdim < 1, embed_dim not divisible by num_heads
/// ("embed_dim must be divisible by num_heads"), dropout outside [0, 1]; in forward for an
/// undefined input, query not 2-d or 3-d, key or value of another rank than query,
/// non-floating inputs or a dtype other than the parameters', query's last dim != E, key's
/// != kdim, value's != vdim, key and value of other sequence or batch sizes, query's batch
/// size != key's, a mask neither bool nor floating, attn_mask of another rank than 2 or 3 or
/// of the wrong shape ("the shape of the 2D attn_mask is [3, 4], but should be [2, 5]."),
/// key_padding_mask of the wrong shape, is_causal without attn_mask.
class MultiheadAttention : public Module {
 public:
  explicit MultiheadAttention(const MultiheadAttentionOptions& options);
  MultiheadAttention(std::int64_t embed_dim, std::int64_t num_heads)
      : MultiheadAttention(MultiheadAttentionOptions(embed_dim, num_heads)) {}

  using Module::forward;  // the one-input form throws: MultiheadAttention takes three inputs
  std::tuple<Tensor, Tensor> forward(const Tensor& query, const Tensor& key, const Tensor& value,
                                     const Tensor& key_padding_mask = Tensor(), bool need_weights = true,
                                     const Tensor& attn_mask = Tensor(), bool average_attn_weights = true,
                                     bool is_causal = false);
  /// Same as forward(...) (module hooks, which take one input, are not run).
  std::tuple<Tensor, Tensor> operator()(const Tensor& query, const Tensor& key, const Tensor& value,
                                        const Tensor& key_padding_mask = Tensor(), bool need_weights = true,
                                        const Tensor& attn_mask = Tensor(), bool average_attn_weights = true,
                                        bool is_causal = false) {
    return forward(query, key, value, key_padding_mask, need_weights, attn_mask, average_attn_weights, is_causal);
  }
  using Module::operator();

  /// Re-draws the parameters with PyTorch's init (see above).
  void reset_parameters();
  /// "embed_dim=4, num_heads=2, dropout=0.0, ..." (PyTorch prints no extra_repr here).
  std::string extra_repr() const override;
  const MultiheadAttentionOptions& options() const { return options_; }
  /// E / H.
  std::int64_t head_dim() const { return options_.embed_dim() / options_.num_heads(); }
  /// kdim == vdim == embed_dim (the packed in_proj_weight is used).
  bool qkv_same_embed_dim() const {
    return options_.kdim() == options_.embed_dim() && options_.vdim() == options_.embed_dim();
  }

  Tensor in_proj_weight;                               ///< [3E, E]; undefined unless qkv_same_embed_dim()
  Tensor q_proj_weight, k_proj_weight, v_proj_weight;  ///< undefined when qkv_same_embed_dim()
  Tensor in_proj_bias;                                 ///< [3E]; undefined without bias
  Tensor bias_k, bias_v;                               ///< [1, 1, E]; undefined without add_bias_kv
  std::shared_ptr<Linear> out_proj;

 private:
  MultiheadAttentionOptions options_;
};

}  // namespace xgrad::nn
