#include "xgrad/nn/multihead_attention.hpp"

#include <cmath>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/linalg.hpp"
#include "xgrad/autograd/masking.hpp"
#include "xgrad/autograd/reduction.hpp"
#include "xgrad/autograd/shape.hpp"
#include "xgrad/nn/activation.hpp"
#include "xgrad/nn/attention.hpp"
#include "xgrad/nn/init.hpp"
#include "xgrad/autograd/profile_scope.hpp"

namespace xgrad::nn {

namespace {

// A mask as an additive mask of dtype dt: bool true -> -inf, false -> 0; floating masks are
// converted to dt (differentiably).
Tensor additive_mask(std::string_view who, const Tensor& mask, Dtype dt, std::string_view name) {
  if (mask.dtype() == Dtype::boolean)
    return zeros(mask.shape(), dtype(dt)).masked_fill(mask, -std::numeric_limits<double>::infinity());
  if (!is_floating(mask.dtype()))
    throw Error(
        fmt::format("{}: only bool and floating types of {} are supported, got {}", who, name, mask.describe()));
  return mask.dtype() == dt ? mask : mask.to(dt);
}

// softmax(q k^T / sqrt(d) + mask) v with dropout p on the weights: (output, weights).
// q [B, H, L, d], k and v [B, H, S, d], mask broadcastable to [B, H, L, S] or undefined.
std::tuple<Tensor, Tensor> explicit_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask,
                                              double p) {
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  Tensor scores = matmul(q * scale, k.transpose(-2, -1));
  if (mask.defined()) scores = scores + mask;
  Tensor weights = functional::softmax(scores, -1);
  if (p > 0.0) weights = functional::dropout(weights, p, true);
  return {matmul(weights, v), weights};
}

}  // namespace

MultiheadAttention::MultiheadAttention(const MultiheadAttentionOptions& options)
    : Module("MultiheadAttention"), options_(options) {
  ::xgrad::options::validate_options(options_, "MultiheadAttention");
  const std::int64_t e = options_.embed_dim(), h = options_.num_heads();
  if (e < 1 || h < 1)
    throw Error(
        fmt::format("MultiheadAttention: embed_dim and num_heads must be positive, got embed_dim = {} and "
                    "num_heads = {}",
                    e, h));
  if (e % h != 0)
    throw Error(
        fmt::format("MultiheadAttention: embed_dim must be divisible by num_heads, got embed_dim = {} and "
                    "num_heads = {}",
                    e, h));
  if (options_.kdim() < 1 || options_.vdim() < 1)
    throw Error(fmt::format("MultiheadAttention: kdim and vdim must be positive, got kdim = {} and vdim = {}",
                            options_.kdim(), options_.vdim()));
  // Registration order as PyTorch's: projections, in_proj_bias, out_proj, bias_k, bias_v.
  if (qkv_same_embed_dim()) {
    in_proj_weight = register_parameter("in_proj_weight", zeros({3 * e, e}));
  } else {
    q_proj_weight = register_parameter("q_proj_weight", zeros({e, e}));
    k_proj_weight = register_parameter("k_proj_weight", zeros({e, options_.kdim()}));
    v_proj_weight = register_parameter("v_proj_weight", zeros({e, options_.vdim()}));
  }
  if (options_.bias()) in_proj_bias = register_parameter("in_proj_bias", zeros({3 * e}));
  out_proj = register_module("out_proj", std::make_shared<Linear>(LinearOptions(e, e).bias(options_.bias())));
  if (options_.add_bias_kv()) {
    bias_k = register_parameter("bias_k", zeros({1, 1, e}));
    bias_v = register_parameter("bias_v", zeros({1, 1, e}));
  }
  reset_parameters();
}

void MultiheadAttention::reset_parameters() {
  if (in_proj_weight.defined()) {
    init::xavier_uniform_(in_proj_weight);
  } else {
    init::xavier_uniform_(q_proj_weight);
    init::xavier_uniform_(k_proj_weight);
    init::xavier_uniform_(v_proj_weight);
  }
  if (in_proj_bias.defined()) {
    init::zeros_(in_proj_bias);
    init::zeros_(out_proj->bias);
  }
  if (bias_k.defined()) {
    init::xavier_normal_(bias_k);
    init::xavier_normal_(bias_v);
  }
}

std::string MultiheadAttention::extra_repr() const { return repr_options(options_); }

namespace {

// The weights of one call, validated: e = embed_dim, h = num_heads, the key and value
// feature sizes, the parameters' dtype (out_proj_weight's).
struct Weights {
  std::int64_t e, h, kdim, vdim;
  Dtype dtype;
  Tensor in_proj_weight, in_proj_bias, q_proj_weight, k_proj_weight, v_proj_weight, bias_k, bias_v;
};

Weights check_weights(std::string_view who, const functional::MultiheadAttentionForwardFuncOptions& o) {
  const std::int64_t e = o.embed_dim_to_check(), h = o.num_heads();
  if (e < 1 || h < 1)
    throw Error(
        fmt::format("{}: embed_dim and num_heads must be positive, got embed_dim = {} and num_heads = {}", who, e, h));
  if (e % h != 0)
    throw Error(
        fmt::format("{}: embed_dim must be divisible by num_heads, got embed_dim = {} and num_heads = {}", who, e, h));
  if (!(o.dropout_p() >= 0.0 && o.dropout_p() <= 1.0))
    throw Error(fmt::format("{}: probability dropout_p must be in [0, 1], got {}", who, o.dropout_p()));
  // A weight of shape [rows, cols] (cols < 0: any positive number of columns).
  auto check = [&](const Tensor& t, std::string_view name, std::int64_t rows, std::int64_t cols) {
    if (!t.defined()) throw Error(fmt::format("{}: {} is required but undefined", who, name));
    if (t.dim() != 2 || t.size(0) != rows || (cols >= 0 ? t.size(1) != cols : t.size(1) < 1))
      throw Error(fmt::format("{}: {} of shape {} should be [{}, {}]", who, name, t.shape(), rows,
                              cols >= 0 ? std::to_string(cols) : std::string("features")));
  };
  auto check_vector = [&](const Tensor& t, std::string_view name, const Shape& want) {
    if (t.defined() && t.shape() != want)
      throw Error(fmt::format("{}: {} of shape {} should be {}", who, name, t.shape(), want));
  };
  check(o.out_proj_weight(), "out_proj_weight", e, e);
  check_vector(o.out_proj_bias(), "out_proj_bias", {e});
  Weights w{e, h, e, e, o.out_proj_weight().dtype(), {}, o.in_proj_bias(), {}, {}, {}, o.bias_k(), o.bias_v()};
  if (o.use_separate_proj_weight()) {
    check(o.q_proj_weight(), "q_proj_weight", e, e);
    check(o.k_proj_weight(), "k_proj_weight", e, -1);
    check(o.v_proj_weight(), "v_proj_weight", e, -1);
    w.q_proj_weight = o.q_proj_weight(), w.k_proj_weight = o.k_proj_weight(), w.v_proj_weight = o.v_proj_weight();
    w.kdim = w.k_proj_weight.size(1), w.vdim = w.v_proj_weight.size(1);
  } else {
    check(o.in_proj_weight(), "in_proj_weight", 3 * e, e);
    w.in_proj_weight = o.in_proj_weight();
  }
  check_vector(w.in_proj_bias, "in_proj_bias", {3 * e});
  if (w.bias_k.defined() != w.bias_v.defined())
    throw Error(fmt::format("{}: bias_k and bias_v must both be given or both be undefined", who));
  check_vector(w.bias_k, "bias_k", {1, 1, e});
  check_vector(w.bias_v, "bias_v", {1, 1, e});
  return w;
}

std::tuple<Tensor, Tensor> attention_forward(std::string_view who, const Tensor& query, const Tensor& key,
                                             const Tensor& value,
                                             const functional::MultiheadAttentionForwardFuncOptions& o) {
  for (const Tensor* t : {&query, &key, &value}) detail::check_defined(*t, who);
  const Weights w = check_weights(who, o);
  const std::int64_t e = w.e, h = w.h, d = e / h;
  const Tensor& key_padding_mask = o.key_padding_mask();
  const Tensor& attn_mask = o.attn_mask();
  const bool need_weights = o.need_weights(), is_causal = o.is_causal();
  const std::int64_t rank = query.dim();
  if (rank != 2 && rank != 3)
    throw Error(fmt::format("{}: query should be unbatched 2-d [L, E] or batched 3-d ({}), got shape {}", who,
                            o.batch_first() ? "[B, L, E]" : "[L, B, E]", query.shape()));
  const bool batched = rank == 3;
  if (key.dim() != rank || value.dim() != rank)
    throw Error(
        fmt::format("{}: for {} ({}-d) query of shape {}, expected key and value to be {}-d, "
                    "got key of shape {} and value of shape {}",
                    who, batched ? "batched" : "unbatched", rank, query.shape(), rank, key.shape(), value.shape()));
  const Dtype dt = w.dtype;
  if (query.dtype() != dt || key.dtype() != dt || value.dtype() != dt)
    throw Error(
        fmt::format("{}: query, key and value must have the parameters' dtype {}, got {}, {} "
                    "and {}",
                    who, dt, query.dtype(), key.dtype(), value.dtype()));
  if (query.size(-1) != e)
    throw Error(
        fmt::format("{}: query of shape {} must have embed_dim = {} features (its last dim)", who, query.shape(), e));
  if (key.size(-1) != w.kdim)
    throw Error(
        fmt::format("{}: key of shape {} must have kdim = {} features (its last dim)", who, key.shape(), w.kdim));
  if (value.size(-1) != w.vdim)
    throw Error(
        fmt::format("{}: value of shape {} must have vdim = {} features (its last dim)", who, value.shape(), w.vdim));
  const bool bf = batched && o.batch_first();
  const std::int64_t sdim = bf ? 1 : 0, bdim = bf ? 0 : 1;  // sequence and batch dims of the inputs
  if (key.size(sdim) != value.size(sdim) || (batched && key.size(bdim) != value.size(bdim)))
    throw Error(
        fmt::format("{}: key of shape {} and value of shape {} must have the same sequence "
                    "and batch sizes",
                    who, key.shape(), value.shape()));
  const std::int64_t len_q = query.size(sdim), len_k = key.size(sdim);
  const std::int64_t batch = batched ? query.size(bdim) : 1;
  if (batched && key.size(bdim) != batch)
    throw Error(fmt::format("{}: query of shape {} and key of shape {} have different batch sizes", who, query.shape(),
                            key.shape()));

  // ---- masks: additive, broadcastable to [B, H, L, S] ----
  Tensor kpm, am;
  if (key_padding_mask.defined()) {
    const Shape want = batched ? Shape{batch, len_k} : Shape{len_k};
    if (key_padding_mask.shape() != want)
      throw Error(fmt::format("{}: the shape of key_padding_mask is {}, but should be {} ({}).", who,
                              key_padding_mask.shape(), want, batched ? "[B, S]" : "[S] for unbatched inputs"));
    kpm = reshape(additive_mask(who, key_padding_mask, dt, "key_padding_mask"), {batch, 1, 1, len_k});
  }
  if (is_causal && !attn_mask.defined())
    throw Error(
        fmt::format("{}: is_causal needs attn_mask (is_causal is a hint that attn_mask is the causal mask); "
                    "make one with Transformer::generate_square_subsequent_mask",
                    who));
  if (attn_mask.defined()) {
    if (attn_mask.dim() == 2) {
      const Shape want{len_q, len_k};
      if (attn_mask.shape() != want)
        throw Error(
            fmt::format("{}: the shape of the 2D attn_mask is {}, but should be {}.", who, attn_mask.shape(), want));
      am = reshape(additive_mask(who, attn_mask, dt, "attn_mask"), {1, 1, len_q, len_k});
    } else if (attn_mask.dim() == 3) {
      const Shape want{batch * h, len_q, len_k};
      if (attn_mask.shape() != want)
        throw Error(
            fmt::format("{}: the shape of the 3D attn_mask is {}, but should be {}.", who, attn_mask.shape(), want));
      am = reshape(additive_mask(who, attn_mask, dt, "attn_mask"), {batch, h, len_q, len_k});
    } else {
      throw Error(
          fmt::format("{}: attn_mask's dimension {} is not supported (expected 2 or 3), got "
                      "shape {}",
                      who, attn_mask.dim(), attn_mask.shape()));
    }
  }
  // PyTorch's use of the hint: without a key padding mask and without weights, the causal
  // attn_mask is replaced by scaled_dot_product_attention's is_causal.
  const bool sdpa_causal = is_causal && !kpm.defined() && !need_weights;
  if (sdpa_causal) am = Tensor();

  // ---- in-projection (one product for self-attention, as PyTorch's packed path) ----
  Tensor q, k, v;
  auto bias_part = [&](std::int64_t i, std::int64_t n) {
    return w.in_proj_bias.defined() ? w.in_proj_bias.narrow(0, i * e, n * e) : Tensor();
  };
  if (w.in_proj_weight.defined()) {
    if (query.is_same(key) && key.is_same(value)) {
      auto qkv = functional::linear(query, w.in_proj_weight, w.in_proj_bias).chunk(3, -1);
      q = qkv[0], k = qkv[1], v = qkv[2];
    } else if (key.is_same(value)) {
      q = functional::linear(query, w.in_proj_weight.narrow(0, 0, e), bias_part(0, 1));
      auto kv = functional::linear(key, w.in_proj_weight.narrow(0, e, 2 * e), bias_part(1, 2)).chunk(2, -1);
      k = kv[0], v = kv[1];
    } else {
      q = functional::linear(query, w.in_proj_weight.narrow(0, 0, e), bias_part(0, 1));
      k = functional::linear(key, w.in_proj_weight.narrow(0, e, e), bias_part(1, 1));
      v = functional::linear(value, w.in_proj_weight.narrow(0, 2 * e, e), bias_part(2, 1));
    }
  } else {
    q = functional::linear(query, w.q_proj_weight, bias_part(0, 1));
    k = functional::linear(key, w.k_proj_weight, bias_part(1, 1));
    v = functional::linear(value, w.v_proj_weight, bias_part(2, 1));
  }

  std::int64_t len_s = len_k;
  auto pad_masks = [&] {
    if (am.defined()) am = pad(am, {0, 1});
    if (kpm.defined()) kpm = pad(kpm, {0, 1});
    ++len_s;
  };
  if (w.bias_k.defined()) {
    // One more key and value per batch entry, appended to the sequence.
    const Shape one = !batched ? Shape{1, e} : bf ? Shape{batch, 1, e} : Shape{1, batch, e};
    k = cat({k, w.bias_k.reshape({e}).expand(one)}, sdim);
    v = cat({v, w.bias_v.reshape({e}).expand(one)}, sdim);
    pad_masks();
  }

  // ---- heads: [B, H, len, d] (views of the projections where the strides allow) ----
  auto split_heads = [&](const Tensor& t, std::int64_t len) {
    if (!batched) return t.reshape({1, len, h, d}).transpose(1, 2);
    if (bf) return t.reshape({batch, len, h, d}).transpose(1, 2);
    return t.reshape({len, batch, h, d}).permute({1, 2, 0, 3});
  };
  q = split_heads(q, len_q);
  k = split_heads(k, len_s);
  v = split_heads(v, len_s);
  if (o.add_zero_attn()) {
    const Tensor z = zeros({batch, h, 1, d}, dtype(dt));
    k = cat({k, z}, 2);
    v = cat({v, z}, 2);
    pad_masks();
  }
  Tensor mask = am;
  if (kpm.defined()) mask = mask.defined() ? mask + kpm : kpm;
  const double p = o.training() ? o.dropout_p() : 0.0;

  // ---- attention ----
  Tensor out, weights;
  if (need_weights) {
    std::tie(out, weights) = explicit_attention(q, k, v, mask, p);
  } else {
    out = functional::scaled_dot_product_attention(q, k, v, mask, p, sdpa_causal);
  }

  // ---- merge heads, out-projection ----
  if (!batched)
    out = out.transpose(1, 2).reshape({len_q, e});
  else if (bf)
    out = out.transpose(1, 2).reshape({batch, len_q, e});
  else
    out = out.permute({2, 0, 1, 3}).reshape({len_q, batch, e});
  out = functional::linear(out, o.out_proj_weight(), o.out_proj_bias());

  if (need_weights) {
    if (o.average_attn_weights()) weights = weights.mean({1});
    if (!batched) weights = weights.squeeze(0);
  }
  return {out, weights};
}

}  // namespace

std::tuple<Tensor, Tensor> MultiheadAttention::forward(const Tensor& query, const Tensor& key, const Tensor& value,
                                                       const Tensor& key_padding_mask, bool need_weights,
                                                       const Tensor& attn_mask, bool average_attn_weights,
                                                       bool is_causal) {
  functional::MultiheadAttentionForwardFuncOptions f(options_.embed_dim(), options_.num_heads(), in_proj_weight,
                                                     in_proj_bias, bias_k, bias_v, options_.add_zero_attn(),
                                                     options_.dropout(), out_proj->weight, out_proj->bias);
  f.training(is_training())
      .key_padding_mask(key_padding_mask)
      .need_weights(need_weights)
      .attn_mask(attn_mask)
      .use_separate_proj_weight(!qkv_same_embed_dim())
      .q_proj_weight(q_proj_weight)
      .k_proj_weight(k_proj_weight)
      .v_proj_weight(v_proj_weight)
      .average_attn_weights(average_attn_weights)
      .is_causal(is_causal)
      .batch_first(options_.batch_first());
  return attention_forward("MultiheadAttention", query, key, value, f);
}

namespace functional {

MultiheadAttentionForwardFuncOptions::MultiheadAttentionForwardFuncOptions(
    std::int64_t embed_dim_to_check, std::int64_t num_heads, Tensor in_proj_weight, Tensor in_proj_bias, Tensor bias_k,
    Tensor bias_v, bool add_zero_attn, double dropout_p, Tensor out_proj_weight, Tensor out_proj_bias) {
  embed_dim_to_check_ = embed_dim_to_check;
  num_heads_ = num_heads;
  in_proj_weight_ = std::move(in_proj_weight);
  in_proj_bias_ = std::move(in_proj_bias);
  bias_k_ = std::move(bias_k);
  bias_v_ = std::move(bias_v);
  add_zero_attn_ = add_zero_attn;
  dropout_p_ = dropout_p;
  out_proj_weight_ = std::move(out_proj_weight);
  out_proj_bias_ = std::move(out_proj_bias);
}

std::tuple<Tensor, Tensor> multi_head_attention_forward(const Tensor& query, const Tensor& key, const Tensor& value,
                                                        const MultiheadAttentionForwardFuncOptions& options) {
  XGRAD_PROFILE_OP("multi_head_attention_forward", query, key, value);
  return attention_forward("multi_head_attention_forward", query, key, value, options);
}

}  // namespace functional

}  // namespace xgrad::nn
