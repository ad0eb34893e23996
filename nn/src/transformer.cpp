#include "xgrad/nn/transformer.hpp"

#include <limits>
#include <string_view>
#include <tuple>

#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/node.hpp"
#include "xgrad/autograd/reduction.hpp"
#include "xgrad/nn/activation.hpp"
#include "xgrad/nn/init.hpp"

namespace xgrad::nn {

void checks::TransformerActivation::operator()(std::string_view owner, std::string_view, const std::string& v) const {
  if (v != "relu" && v != "gelu") throw Error(fmt::format("{}: activation should be relu/gelu, not {}", owner, v));
}

namespace {

template <class O>
void check_layer_options(const O& o, std::string_view who) {
  ::xgrad::options::validate_options(o, who);
  if (o.d_model() < 1 || o.nhead() < 1)
    throw Error(fmt::format("{}: d_model and nhead must be positive, got d_model = {} and nhead = {}", who, o.d_model(),
                            o.nhead()));
  if (o.d_model() % o.nhead() != 0)
    throw Error(fmt::format("{}: d_model must be divisible by nhead, got d_model = {} and nhead = {}", who, o.d_model(),
                            o.nhead()));
  if (o.dim_feedforward() < 1)
    throw Error(fmt::format("{}: dim_feedforward must be positive, got {}", who, o.dim_feedforward()));
}

template <class O>
std::shared_ptr<MultiheadAttention> make_attention(const O& o) {
  return std::make_shared<MultiheadAttention>(MultiheadAttentionOptions(o.d_model(), o.nhead())
                                                  .dropout(o.dropout())
                                                  .bias(o.bias())
                                                  .batch_first(o.batch_first()));
}

template <class O>
std::shared_ptr<LayerNorm> make_norm(const O& o) {
  return std::make_shared<LayerNorm>(LayerNormOptions(o.d_model()).eps(o.layer_norm_eps()).bias(o.bias()));
}

// A sequence input of a layer: 2-d or 3-d with d_model features.
void check_sequence(const Tensor& x, std::int64_t d_model, std::string_view who, std::string_view what,
                    bool batch_first) {
  detail::check_defined(x, who);
  if ((x.dim() != 2 && x.dim() != 3) || x.size(-1) != d_model)
    throw Error(fmt::format("{}: {} of shape {} should be {} or unbatched [L, d_model] with d_model = {}", who, what,
                            x.shape(), batch_first ? "[B, L, d_model]" : "[L, B, d_model]", d_model));
}

Tensor activate(const Tensor& x, const std::string& activation) {
  return activation == "gelu" ? functional::gelu(x) : functional::relu(x);
}

// An independent copy of a layer (PyTorch's deepcopy): same options, dtype, values and mode.
template <class Layer>
std::shared_ptr<Layer> copy_layer(const Layer& prototype) {
  auto layer = std::make_shared<Layer>(prototype.options());
  const Dtype dt = prototype.self_attn->out_proj->weight.dtype();
  if (layer->self_attn->out_proj->weight.dtype() != dt) layer->to(dt);
  layer->load_state_dict(prototype.state_dict());
  // deepcopy keeps frozen parameters frozen.
  const auto source = prototype.named_parameters();
  auto target = layer->named_parameters();
  for (std::size_t i = 0; i < source.size() && i < target.size(); ++i)
    target[i].second.requires_grad_(source[i].second.requires_grad());
  layer->train(prototype.is_training());
  return layer;
}

// PyTorch's _detect_is_causal_mask: mask equals the causal mask of its size (float: -inf
// above the diagonal and 0 elsewhere; bool: true above the diagonal).
bool is_causal_mask(const Tensor& mask) {
  if (!mask.defined() || mask.dim() != 2 || mask.size(0) != mask.size(1)) return false;
  const std::int64_t n = mask.size(0);
  NoGradGuard ng;
  Tensor causal;
  if (mask.dtype() == Dtype::boolean)
    causal = ones({n, n}, dtype(Dtype::boolean)).triu(1);
  else if (is_floating(mask.dtype()))
    causal = Transformer::generate_square_subsequent_mask(n, mask.dtype());
  else
    return false;
  return mask.eq(causal).all().item<bool>();
}

}  // namespace

// ---- TransformerEncoderLayer -------------------------------------------------------------------

TransformerEncoderLayer::TransformerEncoderLayer(const TransformerEncoderLayerOptions& options)
    : Module("TransformerEncoderLayer"), options_(options) {
  check_layer_options(options_, "TransformerEncoderLayer");
  const std::int64_t d = options_.d_model(), ff = options_.dim_feedforward();
  const double p = options_.dropout();
  self_attn = register_module("self_attn", make_attention(options_));
  linear1 = register_module("linear1", std::make_shared<Linear>(LinearOptions(d, ff).bias(options_.bias())));
  dropout = register_module("dropout", std::make_shared<Dropout>(p));
  linear2 = register_module("linear2", std::make_shared<Linear>(LinearOptions(ff, d).bias(options_.bias())));
  norm1 = register_module("norm1", make_norm(options_));
  norm2 = register_module("norm2", make_norm(options_));
  dropout1 = register_module("dropout1", std::make_shared<Dropout>(p));
  dropout2 = register_module("dropout2", std::make_shared<Dropout>(p));
}

Tensor TransformerEncoderLayer::forward(const Tensor& src, const Tensor& src_mask, const Tensor& src_key_padding_mask,
                                        bool is_causal) {
  check_sequence(src, options_.d_model(), "TransformerEncoderLayer", "src", options_.batch_first());
  auto sa = [&](const Tensor& x) {
    return (*dropout1)(
        std::get<0>(self_attn->forward(x, x, x, src_key_padding_mask, false, src_mask, true, is_causal)));
  };
  auto ff = [&](const Tensor& x) {
    return (*dropout2)((*linear2)((*dropout)(activate((*linear1)(x), options_.activation()))));
  };
  Tensor x = src;
  if (options_.norm_first()) {
    x = x + sa((*norm1)(x));
    x = x + ff((*norm2)(x));
  } else {
    x = (*norm1)(x + sa(x));
    x = (*norm2)(x + ff(x));
  }
  return x;
}

// ---- TransformerDecoderLayer -------------------------------------------------------------------

TransformerDecoderLayer::TransformerDecoderLayer(const TransformerDecoderLayerOptions& options)
    : Module("TransformerDecoderLayer"), options_(options) {
  check_layer_options(options_, "TransformerDecoderLayer");
  const std::int64_t d = options_.d_model(), ff = options_.dim_feedforward();
  const double p = options_.dropout();
  self_attn = register_module("self_attn", make_attention(options_));
  multihead_attn = register_module("multihead_attn", make_attention(options_));
  linear1 = register_module("linear1", std::make_shared<Linear>(LinearOptions(d, ff).bias(options_.bias())));
  dropout = register_module("dropout", std::make_shared<Dropout>(p));
  linear2 = register_module("linear2", std::make_shared<Linear>(LinearOptions(ff, d).bias(options_.bias())));
  norm1 = register_module("norm1", make_norm(options_));
  norm2 = register_module("norm2", make_norm(options_));
  norm3 = register_module("norm3", make_norm(options_));
  dropout1 = register_module("dropout1", std::make_shared<Dropout>(p));
  dropout2 = register_module("dropout2", std::make_shared<Dropout>(p));
  dropout3 = register_module("dropout3", std::make_shared<Dropout>(p));
}

Tensor TransformerDecoderLayer::forward(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask,
                                        const Tensor& memory_mask, const Tensor& tgt_key_padding_mask,
                                        const Tensor& memory_key_padding_mask, bool tgt_is_causal,
                                        bool memory_is_causal) {
  const bool bf = options_.batch_first();
  check_sequence(tgt, options_.d_model(), "TransformerDecoderLayer", "tgt", bf);
  check_sequence(memory, options_.d_model(), "TransformerDecoderLayer", "memory", bf);
  auto sa = [&](const Tensor& x) {
    return (*dropout1)(
        std::get<0>(self_attn->forward(x, x, x, tgt_key_padding_mask, false, tgt_mask, true, tgt_is_causal)));
  };
  auto mha = [&](const Tensor& x) {
    return (*dropout2)(std::get<0>(multihead_attn->forward(x, memory, memory, memory_key_padding_mask, false,
                                                           memory_mask, true, memory_is_causal)));
  };
  auto ff = [&](const Tensor& x) {
    return (*dropout3)((*linear2)((*dropout)(activate((*linear1)(x), options_.activation()))));
  };
  Tensor x = tgt;
  if (options_.norm_first()) {
    x = x + sa((*norm1)(x));
    x = x + mha((*norm2)(x));
    x = x + ff((*norm3)(x));
  } else {
    x = (*norm1)(x + sa(x));
    x = (*norm2)(x + mha(x));
    x = (*norm3)(x + ff(x));
  }
  return x;
}

// ---- stacks ------------------------------------------------------------------------------------

namespace {

// The layers of a stack: num_layers deep copies of `prototype` in a ModuleList named "layers".
template <class Layer>
std::shared_ptr<ModuleList> stack_layers(std::string_view stack, const std::shared_ptr<Layer>& prototype,
                                         std::int64_t num_layers, const char* what) {
  if (!prototype) throw Error(fmt::format("{}: {} must not be null", stack, what));
  if (num_layers < 0) throw Error(fmt::format("{}: num_layers must be >= 0, got {}", stack, num_layers));
  auto list = std::make_shared<ModuleList>();
  for (std::int64_t i = 0; i < num_layers; ++i) list->push_back(copy_layer(*prototype));
  return list;
}

}  // namespace

TransformerEncoder::TransformerEncoder(const std::shared_ptr<TransformerEncoderLayer>& encoder_layer,
                                       std::int64_t num_layers, std::shared_ptr<Module> norm_module)
    : Module("TransformerEncoder") {
  layers = register_module("layers", stack_layers("TransformerEncoder", encoder_layer, num_layers, "encoder_layer"));
  if (norm_module) norm = register_module("norm", std::move(norm_module));
}

Tensor TransformerEncoder::forward(const Tensor& src, const Tensor& mask, const Tensor& src_key_padding_mask,
                                   bool is_causal) {
  detail::check_defined(src, "TransformerEncoder");
  const bool causal = is_causal || is_causal_mask(mask);
  Tensor x = src;
  for (const auto& m : *layers)
    x = static_cast<TransformerEncoderLayer&>(*m).forward(x, mask, src_key_padding_mask, causal);
  if (norm) x = (*norm)(x);
  return x;
}

TransformerDecoder::TransformerDecoder(const std::shared_ptr<TransformerDecoderLayer>& decoder_layer,
                                       std::int64_t num_layers, std::shared_ptr<Module> norm_module)
    : Module("TransformerDecoder") {
  layers = register_module("layers", stack_layers("TransformerDecoder", decoder_layer, num_layers, "decoder_layer"));
  if (norm_module) norm = register_module("norm", std::move(norm_module));
}

Tensor TransformerDecoder::forward(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask,
                                   const Tensor& memory_mask, const Tensor& tgt_key_padding_mask,
                                   const Tensor& memory_key_padding_mask, bool tgt_is_causal, bool memory_is_causal) {
  detail::check_defined(tgt, "TransformerDecoder");
  detail::check_defined(memory, "TransformerDecoder");
  const bool causal = tgt_is_causal || is_causal_mask(tgt_mask);
  Tensor x = tgt;
  for (const auto& m : *layers)
    x = static_cast<TransformerDecoderLayer&>(*m).forward(x, memory, tgt_mask, memory_mask, tgt_key_padding_mask,
                                                          memory_key_padding_mask, causal, memory_is_causal);
  if (norm) x = (*norm)(x);
  return x;
}

// ---- Transformer -------------------------------------------------------------------------------

Transformer::Transformer(const TransformerOptions& options) : Module("Transformer"), options_(options) {
  check_layer_options(options_, "Transformer");
  const TransformerOptions& o = options_;
  auto encoder_layer = std::make_shared<TransformerEncoderLayer>(TransformerEncoderLayerOptions(o.d_model(), o.nhead())
                                                                     .dim_feedforward(o.dim_feedforward())
                                                                     .dropout(o.dropout())
                                                                     .activation(o.activation())
                                                                     .layer_norm_eps(o.layer_norm_eps())
                                                                     .batch_first(o.batch_first())
                                                                     .norm_first(o.norm_first())
                                                                     .bias(o.bias()));
  encoder = register_module("encoder",
                            std::make_shared<TransformerEncoder>(encoder_layer, o.num_encoder_layers(), make_norm(o)));
  auto decoder_layer = std::make_shared<TransformerDecoderLayer>(TransformerDecoderLayerOptions(o.d_model(), o.nhead())
                                                                     .dim_feedforward(o.dim_feedforward())
                                                                     .dropout(o.dropout())
                                                                     .activation(o.activation())
                                                                     .layer_norm_eps(o.layer_norm_eps())
                                                                     .batch_first(o.batch_first())
                                                                     .norm_first(o.norm_first())
                                                                     .bias(o.bias()));
  decoder = register_module("decoder",
                            std::make_shared<TransformerDecoder>(decoder_layer, o.num_decoder_layers(), make_norm(o)));
  for (const Tensor& p : parameters())
    if (p.dim() > 1) init::xavier_uniform_(p);
}

Tensor Transformer::forward(const Tensor& src, const Tensor& tgt, const Tensor& src_mask, const Tensor& tgt_mask,
                            const Tensor& memory_mask, const Tensor& src_key_padding_mask,
                            const Tensor& tgt_key_padding_mask, const Tensor& memory_key_padding_mask,
                            bool src_is_causal, bool tgt_is_causal, bool memory_is_causal) {
  detail::check_defined(src, "Transformer");
  detail::check_defined(tgt, "Transformer");
  if ((src.dim() != 2 && src.dim() != 3) || src.dim() != tgt.dim())
    throw Error(
        fmt::format("Transformer: src of shape {} and tgt of shape {} must both be 3-d (batched) or both 2-d "
                    "(unbatched)",
                    src.shape(), tgt.shape()));
  const std::int64_t bdim = options_.batch_first() ? 0 : 1;
  if (src.dim() == 3 && src.size(bdim) != tgt.size(bdim))
    throw Error(
        fmt::format("Transformer: the batch number of src and tgt must be equal, got src of shape {} and tgt "
                    "of shape {}",
                    src.shape(), tgt.shape()));
  if (src.size(-1) != options_.d_model() || tgt.size(-1) != options_.d_model())
    throw Error(
        fmt::format("Transformer: the feature number of src and tgt must be equal to d_model = {}, got src "
                    "of shape {} and tgt of shape {}",
                    options_.d_model(), src.shape(), tgt.shape()));
  const Tensor memory = encoder->forward(src, src_mask, src_key_padding_mask, src_is_causal);
  return decoder->forward(tgt, memory, tgt_mask, memory_mask, tgt_key_padding_mask, memory_key_padding_mask,
                          tgt_is_causal, memory_is_causal);
}

Tensor Transformer::generate_square_subsequent_mask(std::int64_t sz, Dtype dt) {
  if (sz < 0) throw Error(fmt::format("Transformer::generate_square_subsequent_mask: sz must be >= 0, got {}", sz));
  if (!is_floating(dt))
    throw Error(fmt::format("Transformer::generate_square_subsequent_mask: dtype must be floating, got {}", dt));
  return full({sz, sz}, -std::numeric_limits<double>::infinity(), dtype(dt)).triu(1);
}

}  // namespace xgrad::nn
