// Transformer layers and positional encodings (transformer.hpp): PyTorch's submodule and
// state-dict names, values against the layers' formulas written with their submodules,
// float64 gradcheck (post-norm and pre-norm, relu and gelu, masks, eval-mode dropout),
// dropout in training vs eval, independent identical copies in the stacks, the causal-mask
// helper and its detection, positional encoding tables, thread-count determinism and every
// error.
#include <algorithm>
#include <cmath>
#include <limits>
#include <tuple>
#include <vector>

#include "test_util.hpp"
#include "xgrad/nn/multihead_attention.hpp"
#include "xgrad/nn/transformer.hpp"

using namespace xgrad;
using xgrad::test::ThreadGuard;
using namespace xgrad::nn;
namespace F = xgrad::nn::functional;
using xgrad::test::check_close;
using xgrad::test::check_gradcheck;
using xgrad::test::check_values;
using xgrad::test::max_abs_diff;
using xgrad::test::rand64;

namespace {

using Ts = std::vector<Tensor>;
const double kInf = std::numeric_limits<double>::infinity();

std::vector<std::string> names_of(const std::vector<std::pair<std::string, Tensor>>& v) {
  std::vector<std::string> out;
  for (const auto& [n, t] : v) out.push_back(n);
  return out;
}
template <class P>
std::vector<std::string> child_names(const std::vector<std::pair<std::string, P>>& v) {
  std::vector<std::string> out;
  for (const auto& [n, t] : v) out.push_back(n);
  return out;
}

Ts with_params(Ts inputs, const Module& m) {
  for (const Tensor& p : m.parameters()) inputs.push_back(p);
  return inputs;
}

// Random parameter values (so that zero biases and unit norms do not hide a wiring mistake).
void randomize(Module& m) {
  NoGradGuard ng;
  for (Tensor p : m.parameters()) p.copy_(randn(p.shape(), dtype(p.dtype())) * 0.5);
}

Tensor ln(const Tensor& x, const LayerNorm& n) {
  return F::layer_norm(x, {x.size(-1)}, n.weight, n.bias, n.options().eps());
}

Tensor ffn(const Tensor& x, const Linear& l1, const Linear& l2, const std::string& act) {
  const Tensor h = F::linear(x, l1.weight, l1.bias);
  return F::linear(act == "gelu" ? F::gelu(h) : F::relu(h), l2.weight, l2.bias);
}

// The encoder layer's formula from its submodules (eval mode: no dropout).
Tensor encoder_formula(TransformerEncoderLayer& l, const Tensor& x, const Tensor& mask, const Tensor& kpm) {
  const auto& o = l.options();
  auto sa = [&](const Tensor& y) { return std::get<0>(l.self_attn->forward(y, y, y, kpm, true, mask)); };
  auto ff = [&](const Tensor& y) { return ffn(y, *l.linear1, *l.linear2, o.activation()); };
  if (o.norm_first()) {
    const Tensor h = x + sa(ln(x, *l.norm1));
    return h + ff(ln(h, *l.norm2));
  }
  const Tensor h = ln(x + sa(x), *l.norm1);
  return ln(h + ff(h), *l.norm2);
}

Tensor decoder_formula(TransformerDecoderLayer& l, const Tensor& x, const Tensor& mem, const Tensor& tgt_mask,
                       const Tensor& mem_mask, const Tensor& tgt_kpm, const Tensor& mem_kpm) {
  const auto& o = l.options();
  auto sa = [&](const Tensor& y) { return std::get<0>(l.self_attn->forward(y, y, y, tgt_kpm, true, tgt_mask)); };
  auto ca = [&](const Tensor& y) {
    return std::get<0>(l.multihead_attn->forward(y, mem, mem, mem_kpm, true, mem_mask));
  };
  auto ff = [&](const Tensor& y) { return ffn(y, *l.linear1, *l.linear2, o.activation()); };
  if (o.norm_first()) {
    Tensor h = x + sa(ln(x, *l.norm1));
    h = h + ca(ln(h, *l.norm2));
    return h + ff(ln(h, *l.norm3));
  }
  Tensor h = ln(x + sa(x), *l.norm1);
  h = ln(h + ca(h), *l.norm2);
  return ln(h + ff(h), *l.norm3);
}

const std::vector<std::string> kEncoderLayerParams{"self_attn.in_proj_weight",
                                                   "self_attn.in_proj_bias",
                                                   "self_attn.out_proj.weight",
                                                   "self_attn.out_proj.bias",
                                                   "linear1.weight",
                                                   "linear1.bias",
                                                   "linear2.weight",
                                                   "linear2.bias",
                                                   "norm1.weight",
                                                   "norm1.bias",
                                                   "norm2.weight",
                                                   "norm2.bias"};

}  // namespace

BOOST_AUTO_TEST_SUITE(transformer)

BOOST_AUTO_TEST_CASE(encoder_layer_names_match_pytorch) {
  TransformerEncoderLayer l(8, 2);
  BOOST_CHECK(names_of(l.named_parameters()) == kEncoderLayerParams);
  BOOST_CHECK((child_names(l.named_children()) == std::vector<std::string>{"self_attn", "linear1", "dropout", "linear2",
                                                                           "norm1", "norm2", "dropout1", "dropout2"}));
  BOOST_CHECK((l.linear1->weight.shape() == Shape{2048, 8}));
  BOOST_CHECK_EQUAL(l.dropout->p(), 0.1);
  BOOST_CHECK_EQUAL(l.self_attn->options().dropout(), 0.1);
  BOOST_CHECK_EQUAL(l.norm1->options().eps(), 1e-5);
  TransformerEncoderLayer nb(TransformerEncoderLayerOptions(4, 2).dim_feedforward(6).bias(false));
  BOOST_CHECK((names_of(nb.named_parameters()) ==
               std::vector<std::string>{"self_attn.in_proj_weight", "self_attn.out_proj.weight", "linear1.weight",
                                        "linear2.weight", "norm1.weight", "norm2.weight"}));
  TransformerDecoderLayer d(TransformerDecoderLayerOptions(4, 2).dim_feedforward(6));
  BOOST_CHECK((child_names(d.named_children()) ==
               std::vector<std::string>{"self_attn", "multihead_attn", "linear1", "dropout", "linear2", "norm1",
                                        "norm2", "norm3", "dropout1", "dropout2", "dropout3"}));
  const auto sd = d.state_dict();
  for (const char* k : {"self_attn.in_proj_weight", "multihead_attn.in_proj_bias", "multihead_attn.out_proj.weight",
                        "linear1.bias", "linear2.weight", "norm3.weight", "norm3.bias"})
    BOOST_CHECK_MESSAGE(sd.count(k), k);
  BOOST_CHECK_EQUAL(sd.size(), 18u);
  BOOST_CHECK(l.extra_repr().find("d_model=8, nhead=2, dim_feedforward=2048, dropout=0.1, activation='relu'") !=
              std::string::npos);
}

BOOST_AUTO_TEST_CASE(encoder_layer_values_follow_the_formula) {
  manual_seed(1);
  const Tensor causal = Transformer::generate_square_subsequent_mask(3, float64);
  const Tensor kpm = tensor({{false, false, true}, {false, false, false}});
  for (bool nf : {false, true})
    for (const char* act : {"relu", "gelu"})
      for (bool bf : {false, true}) {
        TransformerEncoderLayer l(
            TransformerEncoderLayerOptions(4, 2).dim_feedforward(6).norm_first(nf).activation(act).batch_first(bf));
        l.to(float64);
        randomize(l);
        l.eval();
        const Tensor x = bf ? randn({2, 3, 4}, dtype(float64)) : randn({3, 2, 4}, dtype(float64));
        check_close(l.forward(x, causal, kpm), encoder_formula(l, x, causal, kpm), 1e-12);
        check_close(l.forward(x), encoder_formula(l, x, Tensor(), Tensor()), 1e-12);
        check_close(l(x), l.forward(x), 0.0);
        // The causal hint gives the same result.
        check_close(l.forward(x, causal, Tensor(), true), l.forward(x, causal), 1e-12);
        // Unbatched [L, d_model].
        const Tensor xu = randn({3, 4}, dtype(float64));
        check_close(l.forward(xu, causal, kpm.select(0, 0)), encoder_formula(l, xu, causal, kpm.select(0, 0)), 1e-12);
      }
}

BOOST_AUTO_TEST_CASE(decoder_layer_values_follow_the_formula) {
  manual_seed(2);
  const Tensor causal = Transformer::generate_square_subsequent_mask(3, float64);
  const Tensor mem_mask =
      tensor({{false, true, false, false}, {false, false, false, false}, {true, false, false, false}});
  const Tensor tgt_kpm = tensor({{false, false, false}, {false, true, false}});
  const Tensor mem_kpm = tensor({{false, false, false, true}, {false, false, false, false}});
  for (bool nf : {false, true})
    for (const char* act : {"relu", "gelu"}) {
      TransformerDecoderLayer l(TransformerDecoderLayerOptions(4, 2).dim_feedforward(6).norm_first(nf).activation(act));
      l.to(float64);
      randomize(l);
      l.eval();
      const Tensor x = randn({3, 2, 4}, dtype(float64)), mem = randn({4, 2, 4}, dtype(float64));
      check_close(l.forward(x, mem, causal, mem_mask, tgt_kpm, mem_kpm),
                  decoder_formula(l, x, mem, causal, mem_mask, tgt_kpm, mem_kpm), 1e-12);
      check_close(l.forward(x, mem), decoder_formula(l, x, mem, Tensor(), Tensor(), Tensor(), Tensor()), 1e-12);
      check_close(l.forward(x, mem, causal, Tensor(), Tensor(), Tensor(), true), l.forward(x, mem, causal), 1e-12);
    }
}

BOOST_AUTO_TEST_CASE(gradcheck_layers_float64) {
  manual_seed(3);
  const Tensor causal = Transformer::generate_square_subsequent_mask(3, float64);
  const Tensor kpm = tensor({{false, false, true}, {false, false, false}});
  const Tensor mem_kpm = tensor({{false, true}, {false, false}});
  for (bool nf : {false, true})
    for (const char* act : {"relu", "gelu"}) {
      // dropout 0 in training mode.
      TransformerEncoderLayer e(
          TransformerEncoderLayerOptions(4, 2).dim_feedforward(6).norm_first(nf).activation(act).dropout(0.0));
      e.to(float64);
      check_gradcheck([&](const Ts& in) { return e.forward(in[0], causal, kpm); }, with_params({rand64({3, 2, 4})}, e));
      TransformerDecoderLayer d(TransformerDecoderLayerOptions(4, 2).dim_feedforward(6).norm_first(nf).activation(act));
      d.to(float64);
      d.eval();  // dropout 0.1, eval mode
      check_gradcheck([&](const Ts& in) { return d.forward(in[0], in[1], causal, Tensor(), kpm, mem_kpm); },
                      with_params({rand64({3, 2, 4}), rand64({2, 2, 4})}, d));
    }
  // Stacks and the whole model (inputs only).
  TransformerOptions o(4, 2);
  o.num_encoder_layers(2).num_decoder_layers(1).dim_feedforward(6).dropout(0.0).batch_first(true);
  Transformer t(o);
  t.to(float64);
  check_gradcheck([&](const Ts& in) { return t.forward(in[0], in[1], Tensor(), causal); },
                  {rand64({2, 2, 4}), rand64({2, 3, 4})});
}

BOOST_AUTO_TEST_CASE(dropout_acts_in_training_only) {
  manual_seed(4);
  TransformerEncoderLayer l(TransformerEncoderLayerOptions(8, 2).dim_feedforward(16).dropout(0.5));
  l.to(float64);
  const Tensor x = randn({5, 2, 8}, dtype(float64));
  l.eval();
  const Tensor y = l.forward(x);
  check_close(l.forward(x), y, 0.0);
  l.train();
  manual_seed(9);
  const Tensor a = l.forward(x);
  BOOST_CHECK_GT(max_abs_diff(a, y), 1e-3);
  manual_seed(9);
  check_close(l.forward(x), a, 0.0);
  BOOST_CHECK(l.self_attn->is_training() && l.dropout1->is_training());
  l.eval();
  BOOST_CHECK(!l.self_attn->is_training() && !l.dropout2->is_training());
}

BOOST_AUTO_TEST_CASE(encoder_stack_copies_are_identical_and_independent) {
  manual_seed(5);
  auto proto = std::make_shared<TransformerEncoderLayer>(TransformerEncoderLayerOptions(4, 2).dim_feedforward(6));
  proto->to(float64);
  proto->eval();
  TransformerEncoder enc(proto, 3, std::make_shared<LayerNorm>(4));
  BOOST_CHECK_EQUAL(enc.num_layers(), 3);
  const auto names = names_of(enc.named_parameters());
  BOOST_CHECK_EQUAL(names.size(), 3 * 12 + 2u);
  BOOST_CHECK_EQUAL(names.front(), "layers.0.self_attn.in_proj_weight");
  BOOST_CHECK(std::find(names.begin(), names.end(), "layers.2.linear1.weight") != names.end());
  BOOST_CHECK(std::find(names.begin(), names.end(), "layers.1.norm2.bias") != names.end());
  BOOST_CHECK_EQUAL(names.back(), "norm.bias");
  // Identical to the prototype (values, dtype, mode) but not shared with it.
  const auto psd = proto->state_dict();
  for (std::int64_t i = 0; i < 3; ++i) {
    auto layer = enc.layer(i);
    BOOST_CHECK(layer.get() != proto.get());
    BOOST_CHECK(!layer->is_training());
    for (const auto& [n, t] : layer->state_dict()) {
      BOOST_CHECK(t.dtype() == float64);
      BOOST_CHECK_EQUAL(max_abs_diff(t, psd.at(n)), 0.0);
      BOOST_CHECK(!t.is_same(psd.at(n)));
    }
  }
  // Changing one layer changes neither the others nor the prototype.
  {
    NoGradGuard ng;
    enc.layer(0)->linear1->weight.add_(1.0);
    enc.layer(1)->self_attn->in_proj_weight.mul_(2.0);
  }
  BOOST_CHECK_EQUAL(max_abs_diff(enc.layer(2)->linear1->weight, proto->linear1->weight), 0.0);
  BOOST_CHECK_EQUAL(max_abs_diff(enc.layer(2)->self_attn->in_proj_weight, proto->self_attn->in_proj_weight), 0.0);
  BOOST_CHECK_GT(max_abs_diff(enc.layer(0)->linear1->weight, proto->linear1->weight), 0.5);
  BOOST_CHECK_EQUAL(max_abs_diff(enc.layer(0)->self_attn->in_proj_weight, proto->self_attn->in_proj_weight), 0.0);
  // Gradients go to each layer separately.
  enc.to(float64);
  const Tensor x = rand64({3, 2, 4});
  enc.forward(x).sum().backward();
  for (std::int64_t i = 0; i < 3; ++i) BOOST_CHECK(enc.layer(i)->linear2->weight.grad().defined());
  BOOST_CHECK(!proto->linear2->weight.grad().defined());
  // forward = the layers in turn, then the norm; a causal mask is detected (same result).
  const Tensor causal = Transformer::generate_square_subsequent_mask(3, float64);
  const Tensor kpm = tensor({{false, true, false}, {false, false, false}});
  Tensor h = x;
  for (std::int64_t i = 0; i < 3; ++i) h = enc.layer(i)->forward(h, causal, kpm);
  h = (*enc.norm)(h);
  check_close(enc.forward(x, causal, kpm), h, 1e-13);
  check_close(enc.forward(x, causal, kpm, true), h, 1e-13);
  const Tensor causal_b = ones({3, 3}, dtype(Dtype::boolean)).triu(1);
  check_close(enc.forward(x, causal_b, kpm), h, 1e-13);
  // No layers, no norm: the identity.
  TransformerEncoder empty(proto, 0);
  check_close(empty.forward(x), x, 0.0);
  // Frozen parameters of the prototype stay frozen in the copies (as deepcopy keeps them).
  proto->linear1->weight.requires_grad_(false);
  TransformerEncoder frozen(proto, 2);
  for (std::int64_t i = 0; i < 2; ++i) {
    BOOST_CHECK(!frozen.layer(i)->linear1->weight.requires_grad());
    BOOST_CHECK(frozen.layer(i)->linear2->weight.requires_grad());
  }
}

BOOST_AUTO_TEST_CASE(decoder_stack_and_transformer) {
  manual_seed(6);
  auto proto = std::make_shared<TransformerDecoderLayer>(TransformerDecoderLayerOptions(4, 2).dim_feedforward(6));
  TransformerDecoder dec(proto, 2, std::make_shared<LayerNorm>(4));
  dec.to(float64);
  dec.eval();
  const Tensor tgt = randn({3, 2, 4}, dtype(float64)), mem = randn({5, 2, 4}, dtype(float64));
  const Tensor causal = Transformer::generate_square_subsequent_mask(3, float64);
  Tensor h = tgt;
  for (std::int64_t i = 0; i < 2; ++i) h = dec.layer(i)->forward(h, mem, causal);
  check_close(dec.forward(tgt, mem, causal), (*dec.norm)(h), 1e-13);
  BOOST_CHECK_EQUAL(
      max_abs_diff(dec.layer(0)->multihead_attn->in_proj_weight, dec.layer(1)->multihead_attn->in_proj_weight), 0.0);

  TransformerOptions o(8, 2);
  o.num_encoder_layers(2).num_decoder_layers(1).dim_feedforward(16);
  Transformer t(o);
  const auto names = names_of(t.named_parameters());
  for (const char* n : {"encoder.layers.0.self_attn.in_proj_weight", "encoder.layers.1.linear2.bias",
                        "encoder.norm.weight", "encoder.norm.bias", "decoder.layers.0.multihead_attn.in_proj_weight",
                        "decoder.layers.0.norm3.weight", "decoder.norm.weight", "decoder.norm.bias"})
    BOOST_CHECK_MESSAGE(std::find(names.begin(), names.end(), n) != names.end(), n);
  BOOST_CHECK_EQUAL(names.size(), 2 * 12 + 2 + 18 + 2u);
  BOOST_CHECK_EQUAL(t.encoder->num_layers(), 2);
  BOOST_CHECK_EQUAL(t.decoder->num_layers(), 1);
  // xavier_uniform_ on every matrix: linear1.weight [16, 8] within sqrt(6 / 24); biases as
  // the layers left them.
  BOOST_CHECK_LE(t.encoder->layer(0)->linear1->weight.abs().max().item<float>(), std::sqrt(6.0 / 24.0));
  BOOST_CHECK_GT(max_abs_diff(t.encoder->layer(0)->linear1->weight, t.encoder->layer(1)->linear1->weight), 0.0);
  BOOST_CHECK_EQUAL(t.encoder->layer(0)->self_attn->in_proj_bias.abs().sum().item<float>(), 0.0f);
  TransformerOptions defaults;
  BOOST_CHECK_EQUAL(defaults.d_model(), 512);
  BOOST_CHECK_EQUAL(defaults.nhead(), 8);
  BOOST_CHECK_EQUAL(defaults.num_encoder_layers(), 6);
  BOOST_CHECK_EQUAL(defaults.dim_feedforward(), 2048);
  BOOST_CHECK_EQUAL(defaults.dropout(), 0.1);
  // forward = decoder(tgt, encoder(src)).
  t.to(float64);
  t.eval();
  const Tensor src = randn({5, 2, 8}, dtype(float64)), tg = randn({3, 2, 8}, dtype(float64));
  const Tensor kpm = tensor({{false, false, false, false, true}, {false, false, false, false, false}});
  const Tensor out = t.forward(src, tg, Tensor(), causal, Tensor(), kpm, Tensor(), kpm);
  BOOST_CHECK((out.shape() == Shape{3, 2, 8}));
  check_close(out, t.decoder->forward(tg, t.encoder->forward(src, Tensor(), kpm), causal, Tensor(), Tensor(), kpm),
              1e-13);
  // Unbatched.
  BOOST_CHECK((t.forward(src.select(1, 0), tg.select(1, 0)).shape() == Shape{3, 8}));
}

BOOST_AUTO_TEST_CASE(square_subsequent_mask_values) {
  check_values(Transformer::generate_square_subsequent_mask(3), {3, 3}, {0, -kInf, -kInf, 0, 0, -kInf, 0, 0, 0});
  const Tensor m = Transformer::generate_square_subsequent_mask(2, float64);
  BOOST_CHECK(m.dtype() == float64);
  check_values(m, {2, 2}, {0, -kInf, 0, 0});
  BOOST_CHECK((Transformer::generate_square_subsequent_mask(0).shape() == Shape{0, 0}));
  BOOST_CHECK(Transformer::generate_square_subsequent_mask(2).dtype() == float32);
  XGRAD_CHECK_THROW_MSG(Transformer::generate_square_subsequent_mask(-1),
                        "Transformer::generate_square_subsequent_mask: sz must be >= 0, got -1");
  XGRAD_CHECK_THROW_MSG(Transformer::generate_square_subsequent_mask(2, Dtype::int64),
                        "Transformer::generate_square_subsequent_mask: dtype must be floating, got int64");
}

BOOST_AUTO_TEST_CASE(sinusoidal_positional_encoding) {
  SinusoidalPositionalEncoding pe(SinusoidalPositionalEncodingOptions(6).max_len(10));
  BOOST_CHECK((pe.pe.shape() == Shape{10, 6}));
  BOOST_CHECK(pe.parameters().empty());
  BOOST_CHECK(pe.state_dict().count("pe"));
  check_values(pe.pe.select(0, 0), {6}, {0, 1, 0, 1, 0, 1}, 0.0);
  const double f1 = std::pow(10000.0, -2.0 / 6), f2 = std::pow(10000.0, -4.0 / 6);
  check_values(pe.pe.select(0, 1), {6},
               {std::sin(1.0), std::cos(1.0), std::sin(f1), std::cos(f1), std::sin(f2), std::cos(f2)}, 1e-7);
  check_values(pe.pe.select(0, 7).narrow(0, 2, 2), {2}, {std::sin(7 * f1), std::cos(7 * f1)}, 1e-7);
  // Odd d_model: the last column is a sin column.
  SinusoidalPositionalEncoding odd(SinusoidalPositionalEncodingOptions(5).max_len(4));
  check_values(odd.pe.select(0, 3).narrow(0, 4, 1), {1}, {std::sin(3 * std::pow(10000.0, -4.0 / 5))}, 1e-7);
  // forward adds pe[:L] in every layout.
  pe.to(float64);
  BOOST_CHECK(pe.pe.dtype() == float64);
  const Tensor x = rand64({4, 3, 6});
  const Tensor y = pe.forward(x);
  check_close(y.select(1, 2), x.select(1, 2) + pe.pe.narrow(0, 0, 4), 1e-15);
  check_close(pe.forward(x.select(1, 0)), x.select(1, 0) + pe.pe.narrow(0, 0, 4), 1e-15);
  SinusoidalPositionalEncoding pb(SinusoidalPositionalEncodingOptions(6).max_len(10).batch_first(true));
  pb.to(float64);
  check_close(pb.forward(x.transpose(0, 1)), y.transpose(0, 1), 1e-15);
  check_gradcheck([&](const Ts& in) { return pe.forward(in[0]); }, {x});
  // Dropout in training only.
  SinusoidalPositionalEncoding pd(SinusoidalPositionalEncodingOptions(6).max_len(10).dropout(0.5));
  pd.to(float64);
  BOOST_CHECK_GT(max_abs_diff(pd.forward(x), y), 1e-3);
  pd.eval();
  check_close(pd.forward(x), y, 0.0);
  // Errors.
  XGRAD_CHECK_THROW_MSG(pe.forward(rand64({11, 2, 6})),
                        "SinusoidalPositionalEncoding: the sequence length 11 of the input of shape [11, 2, 6] exceeds "
                        "max_len = 10");
  XGRAD_CHECK_THROW_MSG(pe.forward(rand64({3, 2, 5})),
                        "SinusoidalPositionalEncoding: input of shape [3, 2, 5] should be [L, B, d_model] or unbatched "
                        "[L, d_model] with d_model = 6");
  XGRAD_CHECK_THROW_MSG(pe.forward(rand64({6})), "SinusoidalPositionalEncoding: input of shape [6] should be");
  XGRAD_CHECK_THROW_MSG(
      pe.forward(randn({3, 6})),
      "SinusoidalPositionalEncoding: input has dtype float32 but the module's table has dtype float64");
  XGRAD_CHECK_THROW_MSG(SinusoidalPositionalEncoding(SinusoidalPositionalEncodingOptions(0)),
                        "SinusoidalPositionalEncoding: invalid d_model 0 (must be > 0)");
  XGRAD_CHECK_THROW_MSG(SinusoidalPositionalEncoding(SinusoidalPositionalEncodingOptions(4).dropout(2.0)),
                        "SinusoidalPositionalEncoding: probability dropout must be in [0, 1], got 2");
}

BOOST_AUTO_TEST_CASE(learned_positional_encoding) {
  manual_seed(7);
  LearnedPositionalEncoding big(2000, 16);
  BOOST_CHECK((big.weight.shape() == Shape{2000, 16}));
  BOOST_CHECK((names_of(big.named_parameters()) == std::vector<std::string>{"weight"}));
  const double sd = big.weight.std().item<float>();
  BOOST_CHECK(sd > 0.019 && sd < 0.021);

  LearnedPositionalEncoding pe(5, 3);
  pe.to(float64);
  const Tensor x = rand64({4, 2, 3});
  check_close(pe.forward(x).select(1, 1), x.select(1, 1) + pe.weight.narrow(0, 0, 4), 1e-15);
  pe.forward(x).sum().backward();
  // d/dweight[pos] = number of batch entries for pos < L, 0 for the unused positions.
  check_values(pe.weight.grad(), {5, 3}, {2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 0});
  check_gradcheck([&](const Ts& in) { return pe.forward(in[0]); }, with_params({x}, pe));
  LearnedPositionalEncoding pb(5, 3, true);
  pb.to(float64);
  pb.load_state_dict(pe.state_dict());
  check_close(pb.forward(x.transpose(0, 1)).transpose(0, 1), pe.forward(x), 0.0);
  XGRAD_CHECK_THROW_MSG(pe.forward(rand64({6, 3})),
                        "LearnedPositionalEncoding: the sequence length 6 of the input of shape [6, 3] exceeds "
                        "max_len = 5");
  XGRAD_CHECK_THROW_MSG(pb.forward(rand64({1, 6, 3})), "exceeds max_len = 5");
  XGRAD_CHECK_THROW_MSG(LearnedPositionalEncoding(-1, 3),
                        "LearnedPositionalEncoding: invalid max_len -1 (must be >= 0)");
}

BOOST_AUTO_TEST_CASE(bit_identical_at_one_and_two_threads) {
  ThreadGuard guard;
  manual_seed(8);
  auto layer = std::make_shared<TransformerEncoderLayer>(
      TransformerEncoderLayerOptions(32, 4).dim_feedforward(64).dropout(0.1).batch_first(true));
  TransformerEncoder enc(layer, 2);
  const Tensor x = randn({3, 40, 32}).requires_grad_(true);
  const Tensor causal = Transformer::generate_square_subsequent_mask(40);
  std::vector<Tensor> results;
  for (int n : {1, 2}) {
    set_num_threads(n);
    manual_seed(3);  // the same dropout masks
    enc.zero_grad();
    x.set_grad(Tensor());
    const Tensor y = enc.forward(x, causal);
    (y * y).sum().backward();
    results.insert(results.end(),
                   {y, x.grad(), enc.layer(0)->self_attn->in_proj_weight.grad(), enc.layer(1)->linear1->weight.grad()});
  }
  for (std::size_t i = 0; i < results.size() / 2; ++i)
    BOOST_CHECK_EQUAL(max_abs_diff(results[i], results[i + results.size() / 2]), 0.0);
}

BOOST_AUTO_TEST_CASE(errors) {
  XGRAD_CHECK_THROW_MSG(TransformerEncoderLayer(TransformerEncoderLayerOptions(4, 2).activation("tanh")),
                        "TransformerEncoderLayer: activation should be relu/gelu, not tanh");
  XGRAD_CHECK_THROW_MSG(TransformerDecoderLayer(TransformerDecoderLayerOptions(4, 2).activation("elu")),
                        "TransformerDecoderLayer: activation should be relu/gelu, not elu");
  XGRAD_CHECK_THROW_MSG(TransformerEncoderLayer(6, 4),
                        "TransformerEncoderLayer: d_model must be divisible by nhead, got d_model = 6 and nhead = 4");
  XGRAD_CHECK_THROW_MSG(TransformerEncoderLayer(4, 0),
                        "TransformerEncoderLayer: d_model and nhead must be positive, got d_model = 4 and nhead = 0");
  XGRAD_CHECK_THROW_MSG(TransformerEncoderLayer(TransformerEncoderLayerOptions(4, 2).dim_feedforward(0)),
                        "TransformerEncoderLayer: dim_feedforward must be positive, got 0");
  XGRAD_CHECK_THROW_MSG(TransformerEncoderLayer(TransformerEncoderLayerOptions(4, 2).dropout(-0.1)),
                        "TransformerEncoderLayer: probability dropout must be in [0, 1], got -0.1");
  XGRAD_CHECK_THROW_MSG(Transformer(TransformerOptions(6, 4)),
                        "Transformer: d_model must be divisible by nhead, got d_model = 6 and nhead = 4");
  XGRAD_CHECK_THROW_MSG(Transformer(TransformerOptions(4, 2).activation("swish")),
                        "Transformer: activation should be relu/gelu, not swish");
  XGRAD_CHECK_THROW_MSG(Transformer(TransformerOptions(4, 2).num_encoder_layers(-1)),
                        "Transformer: invalid num_encoder_layers -1 (must be >= 0)");

  TransformerEncoderLayer l(TransformerEncoderLayerOptions(4, 2).dim_feedforward(6));
  XGRAD_CHECK_THROW_MSG(l.forward(randn({3, 2, 5})),
                        "TransformerEncoderLayer: src of shape [3, 2, 5] should be [L, B, d_model] or unbatched [L, "
                        "d_model] with d_model = 4");
  XGRAD_CHECK_THROW_MSG(l.forward(randn({2, 3, 2, 4})), "TransformerEncoderLayer: src of shape [2, 3, 2, 4] should be");
  XGRAD_CHECK_THROW_MSG(l.forward(Tensor()), "TransformerEncoderLayer: expected a defined tensor");
  XGRAD_CHECK_THROW_MSG(l.forward(randn({3, 2, 4}), zeros({3, 4})),
                        "MultiheadAttention: the shape of the 2D attn_mask is [3, 4], but should be [3, 3].");
  XGRAD_CHECK_THROW_MSG(l.forward(randn({3, 2, 4}), Tensor(), Tensor(), true),
                        "MultiheadAttention: is_causal needs attn_mask");
  TransformerDecoderLayer d(TransformerDecoderLayerOptions(4, 2).dim_feedforward(6).batch_first(true));
  XGRAD_CHECK_THROW_MSG(d.forward(randn({2, 3, 4}), randn({2, 5, 3})),
                        "TransformerDecoderLayer: memory of shape [2, 5, 3] should be [B, L, d_model] or unbatched [L, "
                        "d_model] with d_model = 4");
  XGRAD_CHECK_THROW_MSG(d.forward(randn({2, 3, 4})),
                        "TransformerDecoderLayer: forward(const Tensor&) is not implemented");

  XGRAD_CHECK_THROW_MSG(TransformerEncoder(nullptr, 2), "TransformerEncoder: encoder_layer must not be null");
  XGRAD_CHECK_THROW_MSG(TransformerEncoder(std::make_shared<TransformerEncoderLayer>(4, 2), -1),
                        "TransformerEncoder: num_layers must be >= 0, got -1");
  XGRAD_CHECK_THROW_MSG(TransformerDecoder(nullptr, 2), "TransformerDecoder: decoder_layer must not be null");

  Transformer t(TransformerOptions(4, 2).num_encoder_layers(1).num_decoder_layers(1).dim_feedforward(6));
  XGRAD_CHECK_THROW_MSG(
      t.forward(randn({5, 2, 4}), randn({3, 3, 4})),
      "Transformer: the batch number of src and tgt must be equal, got src of shape [5, 2, 4] and tgt "
      "of shape [3, 3, 4]");
  XGRAD_CHECK_THROW_MSG(t.forward(randn({5, 2, 4}), randn({3, 2, 5})),
                        "Transformer: the feature number of src and tgt must be equal to d_model = 4, got src of shape "
                        "[5, 2, 4] and tgt of shape [3, 2, 5]");
  XGRAD_CHECK_THROW_MSG(
      t.forward(randn({5, 2, 4}), randn({3, 4})),
      "Transformer: src of shape [5, 2, 4] and tgt of shape [3, 4] must both be 3-d (batched) or both "
      "2-d (unbatched)");
  XGRAD_CHECK_THROW_MSG(t.forward(Tensor(), randn({3, 4})), "Transformer: expected a defined tensor");
}

BOOST_AUTO_TEST_SUITE_END()
