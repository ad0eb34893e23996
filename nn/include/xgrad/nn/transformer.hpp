// Transformer layers (PyTorch's nn.TransformerEncoderLayer, TransformerEncoder,
// TransformerDecoderLayer, TransformerDecoder, Transformer; libtorch's C++ API shapes) and
// positional encodings (xgrad's own: PyTorch has no module for them).
//
// Submodule and parameter names are PyTorch's, so a state dict saved by PyTorch loads here:
// self_attn.in_proj_weight, linear1.weight, norm1.weight, layers.0.self_attn.out_proj.bias,
// encoder.layers.1.norm2.bias, decoder.norm.weight, ...
//
// Shapes (batch_first = false, PyTorch's default): sequences are [L, B, E] (length, batch,
// features); with batch_first, [B, L, E]; unbatched inputs [L, E] are accepted everywhere.
// Masks follow MultiheadAttention (multihead_attention.hpp): attention masks [L, S] or
// [B*nhead, L, S], bool (true = NOT allowed) or floating (added to the scores); key padding
// masks [B, S], bool (true = ignore this key) or floating.
//
// Dropout: every layer has dropout modules that act in training mode only (call eval() for
// deterministic outputs). A layer's forward is the composition of differentiable ops, so
// every input and parameter gets its gradient.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "xgrad/autograd/tensor.hpp"
#include "xgrad/nn/containers.hpp"
#include "xgrad/nn/layer_norm.hpp"
#include "xgrad/nn/linear.hpp"
#include "xgrad/nn/module.hpp"
#include "xgrad/nn/multihead_attention.hpp"
#include "xgrad/nn/options.hpp"

namespace xgrad::nn {

namespace checks {
/// A transformer activation name: "relu" or "gelu" (PyTorch's text: "activation should be
/// relu/gelu, not <name>").
struct TransformerActivation {
  void operator()(std::string_view owner, std::string_view name, const std::string& v) const;
};
inline constexpr TransformerActivation transformer_activation{};
}  // namespace checks

// ---- options ----------------------------------------------------------------------------------

#define XGRAD_NN_TRANSFORMER_LAYER_FIELDS(X)                                      \
  X(std::int64_t, d_model, 0, ::xgrad::options::any)                              \
  X(std::int64_t, nhead, 1, ::xgrad::options::any)                                \
  X(std::int64_t, dim_feedforward, 2048, ::xgrad::options::any)                   \
  X(double, dropout, 0.1, ::xgrad::nn::checks::probability)                       \
  X(std::string, activation, "relu", ::xgrad::nn::checks::transformer_activation) \
  X(double, layer_norm_eps, 1e-5, ::xgrad::options::any)                          \
  X(bool, batch_first, false, ::xgrad::options::any)                              \
  X(bool, norm_first, false, ::xgrad::options::any)                               \
  X(bool, bias, true, ::xgrad::options::any)

/// Options of TransformerEncoderLayer: TransformerEncoderLayerOptions(d_model, nhead)
/// .dim_feedforward(2048).dropout(0.1).activation("relu").layer_norm_eps(1e-5)
/// .batch_first(false).norm_first(false).bias(true) (PyTorch's defaults). activation: "relu"
/// or "gelu" (exact erf form).
struct TransformerEncoderLayerOptions {
  TransformerEncoderLayerOptions(std::int64_t d_model, std::int64_t nhead) {
    d_model_ = d_model;
    nhead_ = nhead;
  }
  XGRAD_OPTIONS(TransformerEncoderLayerOptions, XGRAD_NN_TRANSFORMER_LAYER_FIELDS)
};

/// Options of TransformerDecoderLayer: the same fields and defaults as the encoder layer's.
struct TransformerDecoderLayerOptions {
  TransformerDecoderLayerOptions(std::int64_t d_model, std::int64_t nhead) {
    d_model_ = d_model;
    nhead_ = nhead;
  }
  XGRAD_OPTIONS(TransformerDecoderLayerOptions, XGRAD_NN_TRANSFORMER_LAYER_FIELDS)
};
#undef XGRAD_NN_TRANSFORMER_LAYER_FIELDS

/// Options of Transformer: TransformerOptions().d_model(512).nhead(8).num_encoder_layers(6)
/// .num_decoder_layers(6).dim_feedforward(2048).dropout(0.1).activation("relu")
/// .layer_norm_eps(1e-5).batch_first(false).norm_first(false).bias(true) (PyTorch's
/// defaults).
struct TransformerOptions {
  TransformerOptions() = default;
  TransformerOptions(std::int64_t d_model, std::int64_t nhead) {
    d_model_ = d_model;
    nhead_ = nhead;
  }
#define XGRAD_NN_FIELDS(X)                                                        \
  X(std::int64_t, d_model, 512, ::xgrad::options::any)                            \
  X(std::int64_t, nhead, 8, ::xgrad::options::any)                                \
  X(std::int64_t, num_encoder_layers, 6, ::xgrad::options::non_negative)          \
  X(std::int64_t, num_decoder_layers, 6, ::xgrad::options::non_negative)          \
  X(std::int64_t, dim_feedforward, 2048, ::xgrad::options::any)                   \
  X(double, dropout, 0.1, ::xgrad::nn::checks::probability)                       \
  X(std::string, activation, "relu", ::xgrad::nn::checks::transformer_activation) \
  X(double, layer_norm_eps, 1e-5, ::xgrad::options::any)                          \
  X(bool, batch_first, false, ::xgrad::options::any)                              \
  X(bool, norm_first, false, ::xgrad::options::any)                               \
  X(bool, bias, true, ::xgrad::options::any)
  XGRAD_OPTIONS(TransformerOptions, XGRAD_NN_FIELDS)
#undef XGRAD_NN_FIELDS
};

// ---- layers ------------------------------------------------------------------------------------

/// Encoder layer: self-attention and a feed-forward block, each with a residual connection
/// and a LayerNorm (PyTorch's nn.TransformerEncoderLayer):
///   sa(x) = dropout1(self_attn(x, x, x, attn_mask = src_mask, key_padding_mask, need_weights = false))
///   ff(x) = dropout2(linear2(dropout(activation(linear1(x)))))
///   norm_first = false (post-norm): x = norm1(x + sa(x)); x = norm2(x + ff(x))
///   norm_first = true  (pre-norm):  x = x + sa(norm1(x)); x = x + ff(norm2(x))
/// Children (PyTorch's names): self_attn (MultiheadAttention(d_model, nhead, dropout, bias,
/// batch_first)), linear1 (d_model -> dim_feedforward), dropout, linear2 (dim_feedforward ->
/// d_model), norm1, norm2 (LayerNorm(d_model, eps, bias)), dropout1, dropout2 (Dropout(dropout)).
/// self_attn is public: call self_attn->forward(x, x, x, {}, true, mask, false) to see the
/// per-head attention maps of the layer.
/// forward(src, src_mask, src_key_padding_mask, is_causal): src [L, B, d_model] ([B, L,
/// d_model] with batch_first, or [L, d_model]); output of src's shape. is_causal: the hint
/// that src_mask is the causal mask (see MultiheadAttention; src_mask is required with it).
/// Throws xgrad::Error naming TransformerEncoderLayer at construction for d_model or nhead
/// < 1, d_model not divisible by nhead, dim_feedforward < 1, an activation other than
/// "relu"/"gelu", dropout outside [0, 1]; forward throws like MultiheadAttention.
class TransformerEncoderLayer : public Module {
 public:
  explicit TransformerEncoderLayer(const TransformerEncoderLayerOptions& options);
  TransformerEncoderLayer(std::int64_t d_model, std::int64_t nhead)
      : TransformerEncoderLayer(TransformerEncoderLayerOptions(d_model, nhead)) {}
  /// forward(src) without masks (runs through Module::operator() with hooks).
  Tensor forward(const Tensor& src) override { return forward(src, Tensor()); }
  Tensor forward(const Tensor& src, const Tensor& src_mask, const Tensor& src_key_padding_mask = Tensor(),
                 bool is_causal = false);
  std::string extra_repr() const override { return repr_options(options_); }
  const TransformerEncoderLayerOptions& options() const { return options_; }

  std::shared_ptr<MultiheadAttention> self_attn;
  std::shared_ptr<Linear> linear1, linear2;
  std::shared_ptr<Dropout> dropout, dropout1, dropout2;
  std::shared_ptr<LayerNorm> norm1, norm2;

 private:
  TransformerEncoderLayerOptions options_;
};

/// Decoder layer (PyTorch's nn.TransformerDecoderLayer): self-attention over the target,
/// cross-attention to the encoder's output (memory), feed-forward block:
///   sa(x)  = dropout1(self_attn(x, x, x, tgt_mask, tgt_key_padding_mask))
///   mha(x) = dropout2(multihead_attn(x, memory, memory, memory_mask, memory_key_padding_mask))
///   ff(x)  = dropout3(linear2(dropout(activation(linear1(x)))))
///   post-norm: x = norm1(x + sa(x)); x = norm2(x + mha(x)); x = norm3(x + ff(x))
///   pre-norm:  x = x + sa(norm1(x)); x = x + mha(norm2(x)); x = x + ff(norm3(x))
/// Children: self_attn, multihead_attn, linear1, dropout, linear2, norm1, norm2, norm3,
/// dropout1, dropout2, dropout3. tgt [T, B, d_model], memory [S, B, d_model] (batch_first:
/// [B, T, d], [B, S, d]; unbatched [T, d], [S, d]); output of tgt's shape. tgt_mask [T, T] or
/// [B*nhead, T, T]; memory_mask [T, S] or [B*nhead, T, S]; tgt_key_padding_mask [B, T];
/// memory_key_padding_mask [B, S]. tgt_is_causal / memory_is_causal: hints as in
/// MultiheadAttention. Throws like TransformerEncoderLayer (naming TransformerDecoderLayer).
class TransformerDecoderLayer : public Module {
 public:
  explicit TransformerDecoderLayer(const TransformerDecoderLayerOptions& options);
  TransformerDecoderLayer(std::int64_t d_model, std::int64_t nhead)
      : TransformerDecoderLayer(TransformerDecoderLayerOptions(d_model, nhead)) {}
  using Module::forward;  // the one-input form throws: the decoder needs tgt and memory
  Tensor forward(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask = Tensor(),
                 const Tensor& memory_mask = Tensor(), const Tensor& tgt_key_padding_mask = Tensor(),
                 const Tensor& memory_key_padding_mask = Tensor(), bool tgt_is_causal = false,
                 bool memory_is_causal = false);
  std::string extra_repr() const override { return repr_options(options_); }
  const TransformerDecoderLayerOptions& options() const { return options_; }

  std::shared_ptr<MultiheadAttention> self_attn, multihead_attn;
  std::shared_ptr<Linear> linear1, linear2;
  std::shared_ptr<Dropout> dropout, dropout1, dropout2, dropout3;
  std::shared_ptr<LayerNorm> norm1, norm2, norm3;

 private:
  TransformerDecoderLayerOptions options_;
};

// ---- stacks ------------------------------------------------------------------------------------

/// A stack of num_layers encoder layers (PyTorch's nn.TransformerEncoder), children
/// layers.0, layers.1, ... and norm (when given). Each layer is an independent deep copy of
/// `encoder_layer` (as PyTorch's deepcopy): built from its options, converted to its dtype,
/// given its parameter values and its training mode, so all layers start identical; the
/// prototype itself is not registered. (Building each copy draws its default init from the
/// global generator before the values are overwritten: the generator advances, PyTorch's
/// deepcopy would not.)
/// forward(src, mask, src_key_padding_mask, is_causal): output = norm(layer_{n-1}(...
/// layer_0(src, mask, src_key_padding_mask, is_causal))). When is_causal is false and mask
/// equals the causal mask of its size (float -inf above the diagonal or bool true above it),
/// is_causal is set (PyTorch's _detect_is_causal_mask; the result is the same, the
/// memory-efficient attention path becomes available).
/// Departures: the constructor takes the prototype layer, as PyTorch's Python API (libtorch's
/// takes TransformerEncoderOptions(layer options, num_layers)); a subclass of
/// TransformerEncoderLayer is copied as a plain TransformerEncoderLayer (xgrad has no
/// Module::clone); enable_nested_tensor and mask_check do not exist.
/// Throws xgrad::Error naming TransformerEncoder for a null encoder_layer and a negative
/// num_layers; forward throws like the layers.
class TransformerEncoder : public Module {
 public:
  TransformerEncoder(const std::shared_ptr<TransformerEncoderLayer>& encoder_layer, std::int64_t num_layers,
                     std::shared_ptr<Module> norm = nullptr);
  Tensor forward(const Tensor& src) override { return forward(src, Tensor()); }
  Tensor forward(const Tensor& src, const Tensor& mask, const Tensor& src_key_padding_mask = Tensor(),
                 bool is_causal = false);
  std::string extra_repr() const override { return fmt::format("num_layers={}", num_layers()); }
  std::int64_t num_layers() const { return static_cast<std::int64_t>(layers->size()); }
  /// The i-th layer (negative counts from the end); throws when out of range.
  std::shared_ptr<TransformerEncoderLayer> layer(std::int64_t i) const {
    return layers->at<TransformerEncoderLayer>(i);
  }

  std::shared_ptr<ModuleList> layers;
  std::shared_ptr<Module> norm;  ///< null when not given
};

/// A stack of decoder layers (PyTorch's nn.TransformerDecoder), children layers.0, ... and
/// norm; copies as TransformerEncoder. forward(tgt, memory, tgt_mask, memory_mask,
/// tgt_key_padding_mask, memory_key_padding_mask, tgt_is_causal, memory_is_causal) runs
/// every layer with the same memory and masks, then norm. tgt_is_causal is detected from
/// tgt_mask as TransformerEncoder does.
class TransformerDecoder : public Module {
 public:
  TransformerDecoder(const std::shared_ptr<TransformerDecoderLayer>& decoder_layer, std::int64_t num_layers,
                     std::shared_ptr<Module> norm = nullptr);
  using Module::forward;  // the one-input form throws: the decoder needs tgt and memory
  Tensor forward(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask = Tensor(),
                 const Tensor& memory_mask = Tensor(), const Tensor& tgt_key_padding_mask = Tensor(),
                 const Tensor& memory_key_padding_mask = Tensor(), bool tgt_is_causal = false,
                 bool memory_is_causal = false);
  std::string extra_repr() const override { return fmt::format("num_layers={}", num_layers()); }
  std::int64_t num_layers() const { return static_cast<std::int64_t>(layers->size()); }
  std::shared_ptr<TransformerDecoderLayer> layer(std::int64_t i) const {
    return layers->at<TransformerDecoderLayer>(i);
  }

  std::shared_ptr<ModuleList> layers;
  std::shared_ptr<Module> norm;
};

/// The encoder-decoder model of "Attention is all you need" (PyTorch's nn.Transformer):
/// encoder = TransformerEncoder(layer, num_encoder_layers, LayerNorm(d_model)), decoder =
/// TransformerDecoder(layer, num_decoder_layers, LayerNorm(d_model)) (children encoder,
/// decoder; their final norms encoder.norm, decoder.norm); then every parameter with more
/// than one dim is re-drawn with xavier_uniform_ (PyTorch's _reset_parameters), in
/// parameters() order.
/// forward(src, tgt, src_mask, tgt_mask, memory_mask, src_key_padding_mask,
/// tgt_key_padding_mask, memory_key_padding_mask, src_is_causal, tgt_is_causal,
/// memory_is_causal): memory = encoder(src, src_mask, src_key_padding_mask, src_is_causal);
/// output = decoder(tgt, memory, tgt_mask, memory_mask, tgt_key_padding_mask,
/// memory_key_padding_mask, tgt_is_causal, memory_is_causal). src [S, B, d_model], tgt
/// [T, B, d_model] (batch_first [B, S, d], [B, T, d]; unbatched [S, d], [T, d]); output of
/// tgt's shape.
/// Throws xgrad::Error naming Transformer: at construction like the layers; in forward when
/// src and tgt have different ranks or batch sizes ("the batch number of src and tgt must be
/// equal") or a feature size other than d_model, and like the layers.
class Transformer : public Module {
 public:
  explicit Transformer(const TransformerOptions& options = TransformerOptions());
  using Module::forward;  // the one-input form throws: the model needs src and tgt
  Tensor forward(const Tensor& src, const Tensor& tgt, const Tensor& src_mask = Tensor(),
                 const Tensor& tgt_mask = Tensor(), const Tensor& memory_mask = Tensor(),
                 const Tensor& src_key_padding_mask = Tensor(), const Tensor& tgt_key_padding_mask = Tensor(),
                 const Tensor& memory_key_padding_mask = Tensor(), bool src_is_causal = false,
                 bool tgt_is_causal = false, bool memory_is_causal = false);
  std::string extra_repr() const override { return repr_options(options_); }
  const TransformerOptions& options() const { return options_; }

  /// The causal mask of size sz (PyTorch's): [sz, sz] of `dtype`, -inf above the diagonal
  /// (j > i: key j is in the future of query i) and 0 on and below it. dtype must be
  /// floating; throws xgrad::Error for a negative sz or a non-floating dtype.
  static Tensor generate_square_subsequent_mask(std::int64_t sz, Dtype dtype = Dtype::float32);

  std::shared_ptr<TransformerEncoder> encoder;
  std::shared_ptr<TransformerDecoder> decoder;

 private:
  TransformerOptions options_;
};

// ---- positional encodings (xgrad's; PyTorch has no module for them) ------------------------------

/// Options of SinusoidalPositionalEncoding: SinusoidalPositionalEncodingOptions(d_model)
/// .max_len(5000).dropout(0.0).batch_first(false).
struct SinusoidalPositionalEncodingOptions {
  SinusoidalPositionalEncodingOptions(std::int64_t d_model) { d_model_ = d_model; }  // NOLINT: implicit on purpose
#define XGRAD_NN_FIELDS(X)                                       \
  X(std::int64_t, d_model, 0, ::xgrad::options::positive)        \
  X(std::int64_t, max_len, 5000, ::xgrad::options::non_negative) \
  X(double, dropout, 0.0, ::xgrad::nn::checks::probability)      \
  X(bool, batch_first, false, ::xgrad::options::any)
  XGRAD_OPTIONS(SinusoidalPositionalEncodingOptions, XGRAD_NN_FIELDS)
#undef XGRAD_NN_FIELDS
};

/// The fixed positional encoding of "Attention is all you need" (as in PyTorch's
/// word-language-model tutorial): buffer "pe" [max_len, d_model] (float32; .to() converts it;
/// saved in the state dict), for position pos and i = 0, 1, ...:
///   pe[pos, 2i]     = sin(pos / 10000^(2i / d_model))
///   pe[pos, 2i + 1] = cos(pos / 10000^(2i / d_model))
/// (an odd d_model has one more sin column than cos columns), so pe[0] = [0, 1, 0, 1, ...].
/// forward(x) = dropout(x + pe[:L]) with x [L, B, d_model] ([B, L, d_model] with
/// batch_first, or unbatched [L, d_model]); the gradient passes to x unchanged (times the
/// dropout mask in training).
/// Throws xgrad::Error naming SinusoidalPositionalEncoding: at construction for d_model < 1,
/// max_len < 0, dropout outside [0, 1]; in forward for an input that is not 2-d or 3-d, of
/// another dtype than pe, whose last dim is not d_model, or whose sequence is longer than
/// max_len.
class SinusoidalPositionalEncoding : public Module {
 public:
  explicit SinusoidalPositionalEncoding(const SinusoidalPositionalEncodingOptions& options);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override { return repr_options(options_); }
  const SinusoidalPositionalEncodingOptions& options() const { return options_; }

  Tensor pe;  ///< buffer [max_len, d_model]

 private:
  SinusoidalPositionalEncodingOptions options_;
};

/// Options of LearnedPositionalEncoding: LearnedPositionalEncodingOptions(max_len, d_model)
/// .dropout(0.0).batch_first(false).
struct LearnedPositionalEncodingOptions {
  LearnedPositionalEncodingOptions(std::int64_t max_len, std::int64_t d_model) {
    max_len_ = max_len;
    d_model_ = d_model;
  }
#define XGRAD_NN_FIELDS(X)                                    \
  X(std::int64_t, max_len, 0, ::xgrad::options::non_negative) \
  X(std::int64_t, d_model, 0, ::xgrad::options::positive)     \
  X(double, dropout, 0.0, ::xgrad::nn::checks::probability)   \
  X(bool, batch_first, false, ::xgrad::options::any)
  XGRAD_OPTIONS(LearnedPositionalEncodingOptions, XGRAD_NN_FIELDS)
#undef XGRAD_NN_FIELDS
};

/// A trained positional embedding (BERT / GPT-2 style): parameter "weight" [max_len,
/// d_model], initialised N(0, 0.02^2) (GPT-2's choice; global generator).
/// forward(x) = dropout(x + weight[:L]) with x [L, B, d_model] ([B, L, d_model] with
/// batch_first, or [L, d_model]). Gradients: x gets g, weight[pos] the sum of g over the
/// batch at position pos (0 for positions >= L).
/// Throws like SinusoidalPositionalEncoding (naming LearnedPositionalEncoding).
class LearnedPositionalEncoding : public Module {
 public:
  explicit LearnedPositionalEncoding(const LearnedPositionalEncodingOptions& options);
  LearnedPositionalEncoding(std::int64_t max_len, std::int64_t d_model, bool batch_first = false)
      : LearnedPositionalEncoding(LearnedPositionalEncodingOptions(max_len, d_model).batch_first(batch_first)) {}
  Tensor forward(const Tensor& x) override;
  /// weight ~ N(0, 0.02^2).
  void reset_parameters();
  std::string extra_repr() const override { return repr_options(options_); }
  const LearnedPositionalEncodingOptions& options() const { return options_; }

  Tensor weight;  ///< [max_len, d_model]

 private:
  LearnedPositionalEncodingOptions options_;
};

}  // namespace xgrad::nn
