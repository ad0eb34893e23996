// MultiheadAttention (multihead_attention.hpp): parameters and names, values against a
// per-head reference written on plain doubles from the module's parameters (masks, kdim/vdim,
// add_bias_kv, add_zero_attn, batch_first, unbatched), need_weights true vs false, the
// averaged and per-head weights, mask conventions, the is_causal hint, float64 gradcheck,
// dropout in training vs eval, thread-count determinism and every error.
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

std::vector<double> values(const Tensor& t) { return t.detach().to(float64).contiguous().to_vector<double>(); }

// A float64 module.
std::shared_ptr<MultiheadAttention> make(const MultiheadAttentionOptions& o) {
  auto m = std::make_shared<MultiheadAttention>(o);
  m->to(float64);
  return m;
}

// The reference on plain doubles: query [L, B, E], key [S, B, kdim], value [S, B, vdim]
// (seq-first, batched); kpm [B, S] bool (true = ignore) or undefined; mask [L, S] float
// (additive) or undefined. Returns the output [L, B, E] and the per-head weights [B, H, L, S'].
struct Ref {
  std::vector<double> out, weights;
  std::int64_t s_total = 0;
};

Ref reference(const MultiheadAttention& m, const Tensor& query, const Tensor& key, const Tensor& value,
              const Tensor& kpm, const Tensor& mask) {
  const auto& o = m.options();
  const std::int64_t E = o.embed_dim(), H = o.num_heads(), d = E / H, kd = o.kdim(), vd = o.vdim();
  const std::int64_t L = query.size(0), B = query.size(1), S = key.size(0);
  std::vector<double> wq, wk, wv;
  if (m.in_proj_weight.defined()) {
    wq = values(m.in_proj_weight.narrow(0, 0, E));
    wk = values(m.in_proj_weight.narrow(0, E, E));
    wv = values(m.in_proj_weight.narrow(0, 2 * E, E));
  } else {
    wq = values(m.q_proj_weight), wk = values(m.k_proj_weight), wv = values(m.v_proj_weight);
  }
  std::vector<double> bin = m.in_proj_bias.defined() ? values(m.in_proj_bias) : std::vector<double>(3 * E, 0.0);
  const auto wo = values(m.out_proj->weight);
  const auto bo = m.out_proj->bias.defined() ? values(m.out_proj->bias) : std::vector<double>(E, 0.0);
  const auto q = values(query), k = values(key), v = values(value);
  const auto kp = kpm.defined() ? values(kpm.to(float64)) : std::vector<double>();
  const auto am = mask.defined() ? values(mask) : std::vector<double>();
  const std::int64_t extra = (o.add_bias_kv() ? 1 : 0) + (o.add_zero_attn() ? 1 : 0);
  const std::int64_t S2 = S + extra;
  // Projections Q[b][l][e], K[b][s][e], V[b][s][e].
  std::vector<double> Q(B * L * E), K(B * S2 * E, 0.0), V(B * S2 * E, 0.0);
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t e = 0; e < E; ++e) {
      for (std::int64_t l = 0; l < L; ++l) {
        double acc = bin[e];
        for (std::int64_t c = 0; c < E; ++c) acc += q[(l * B + b) * E + c] * wq[e * E + c];
        Q[(b * L + l) * E + e] = acc;
      }
      for (std::int64_t s = 0; s < S; ++s) {
        double ak = bin[E + e], av = bin[2 * E + e];
        for (std::int64_t c = 0; c < kd; ++c) ak += k[(s * B + b) * kd + c] * wk[e * kd + c];
        for (std::int64_t c = 0; c < vd; ++c) av += v[(s * B + b) * vd + c] * wv[e * vd + c];
        K[(b * S2 + s) * E + e] = ak;
        V[(b * S2 + s) * E + e] = av;
      }
      if (o.add_bias_kv()) {
        K[(b * S2 + S) * E + e] = values(m.bias_k)[e];
        V[(b * S2 + S) * E + e] = values(m.bias_v)[e];
      }  // the zero key of add_zero_attn stays 0
    }
  Ref r;
  r.s_total = S2;
  r.weights.assign(B * H * L * S2, 0.0);
  std::vector<double> O(B * L * E, 0.0);
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t h = 0; h < H; ++h)
      for (std::int64_t l = 0; l < L; ++l) {
        std::vector<double> sc(S2);
        double mx = -kInf;
        for (std::int64_t s = 0; s < S2; ++s) {
          double acc = 0.0;
          for (std::int64_t j = 0; j < d; ++j) acc += Q[(b * L + l) * E + h * d + j] * K[(b * S2 + s) * E + h * d + j];
          acc /= std::sqrt(static_cast<double>(d));
          if (s < S && !am.empty()) acc += am[l * S + s];
          if (s < S && !kp.empty() && kp[b * S + s] != 0.0) acc = -kInf;
          sc[s] = acc;
          mx = std::max(mx, acc);
        }
        double z = 0.0;
        for (double& x : sc) z += (x = std::exp(x - mx));
        for (std::int64_t s = 0; s < S2; ++s) {
          const double p = sc[s] / z;
          r.weights[((b * H + h) * L + l) * S2 + s] = p;
          for (std::int64_t j = 0; j < d; ++j) O[(b * L + l) * E + h * d + j] += p * V[(b * S2 + s) * E + h * d + j];
        }
      }
  r.out.assign(L * B * E, 0.0);
  for (std::int64_t l = 0; l < L; ++l)
    for (std::int64_t b = 0; b < B; ++b)
      for (std::int64_t e = 0; e < E; ++e) {
        double acc = bo[e];
        for (std::int64_t c = 0; c < E; ++c) acc += O[(b * L + l) * E + c] * wo[e * E + c];
        r.out[(l * B + b) * E + e] = acc;
      }
  return r;
}

// The module's parameters as gradcheck inputs (float64 leaves that the module reads live).
Ts with_params(Ts inputs, const Module& m) {
  for (const Tensor& p : m.parameters()) inputs.push_back(p);
  return inputs;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(multihead_attention)

BOOST_AUTO_TEST_CASE(parameters_names_shapes_and_init) {
  manual_seed(0);
  MultiheadAttention m(8, 2);
  BOOST_CHECK((names_of(m.named_parameters()) ==
               std::vector<std::string>{"in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"}));
  BOOST_CHECK((m.in_proj_weight.shape() == Shape{24, 8}));
  BOOST_CHECK((m.in_proj_bias.shape() == Shape{24}));
  BOOST_CHECK((m.out_proj->weight.shape() == Shape{8, 8}));
  BOOST_CHECK(m.in_proj_weight.dtype() == float32 && m.in_proj_weight.requires_grad());
  BOOST_CHECK_EQUAL(m.head_dim(), 4);
  // xavier_uniform_ over [24, 8]: bound sqrt(6 / (8 + 24)); zero biases.
  const double bound = std::sqrt(6.0 / 32.0);
  BOOST_CHECK_LE(m.in_proj_weight.abs().max().item<float>(), bound);
  BOOST_CHECK_GT(m.in_proj_weight.abs().max().item<float>(), 0.5 * bound);
  BOOST_CHECK_EQUAL(m.in_proj_bias.abs().sum().item<float>(), 0.0f);
  BOOST_CHECK_EQUAL(m.out_proj->bias.abs().sum().item<float>(), 0.0f);
  BOOST_CHECK_GT(m.out_proj->weight.abs().sum().item<float>(), 0.0f);
  BOOST_CHECK(!m.q_proj_weight.defined() && !m.bias_k.defined());

  MultiheadAttention sep(MultiheadAttentionOptions(4, 2).kdim(3).vdim(5).add_bias_kv(true));
  BOOST_CHECK((names_of(sep.named_parameters()) ==
               std::vector<std::string>{"q_proj_weight", "k_proj_weight", "v_proj_weight", "in_proj_bias", "bias_k",
                                        "bias_v", "out_proj.weight", "out_proj.bias"}));
  BOOST_CHECK((sep.k_proj_weight.shape() == Shape{4, 3}));
  BOOST_CHECK((sep.v_proj_weight.shape() == Shape{4, 5}));
  BOOST_CHECK((sep.bias_k.shape() == Shape{1, 1, 4}));
  BOOST_CHECK(!sep.in_proj_weight.defined());

  MultiheadAttention nobias(MultiheadAttentionOptions(4, 4).bias(false));
  BOOST_CHECK((names_of(nobias.named_parameters()) == std::vector<std::string>{"in_proj_weight", "out_proj.weight"}));
  const auto sd = m.state_dict();
  BOOST_CHECK(sd.count("in_proj_weight") && sd.count("out_proj.weight") && sd.count("out_proj.bias"));
  BOOST_CHECK(m.extra_repr().find("embed_dim=8, num_heads=2, dropout=0.0") != std::string::npos);
  BOOST_CHECK(m.repr().find("(out_proj): Linear(in_features=8, out_features=8") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(values_match_a_per_head_reference) {
  manual_seed(1);
  struct Case {
    MultiheadAttentionOptions o;
    bool kpm, mask;
  };
  const std::vector<Case> cases{
      {MultiheadAttentionOptions(4, 2), false, false},
      {MultiheadAttentionOptions(4, 2), true, true},
      {MultiheadAttentionOptions(4, 1).bias(false), false, true},
      {MultiheadAttentionOptions(4, 2).kdim(3).vdim(5), true, false},
      {MultiheadAttentionOptions(4, 2).add_bias_kv(true), true, true},
      {MultiheadAttentionOptions(4, 4).add_zero_attn(true), true, true},
      {MultiheadAttentionOptions(6, 3).kdim(2).vdim(3).add_bias_kv(true).add_zero_attn(true), true, true},
  };
  for (const auto& c : cases) {
    auto m = make(c.o);
    // Non-zero biases so that their placement is checked too.
    {
      NoGradGuard ng;
      for (Tensor p : m->parameters()) p.copy_(randn(p.shape(), dtype(float64)) * 0.5);
    }
    const std::int64_t E = c.o.embed_dim(), L = 3, B = 2, S = 4;
    const Tensor q = randn({L, B, E}, dtype(float64));
    const Tensor k = randn({S, B, c.o.kdim()}, dtype(float64)), v = randn({S, B, c.o.vdim()}, dtype(float64));
    const Tensor kpm = c.kpm ? tensor({{false, false, true, false}, {true, false, false, false}}) : Tensor();
    const Tensor mask = c.mask ? randn({L, S}, dtype(float64)) : Tensor();
    const Ref r = reference(*m, q, k, v, kpm, mask);
    auto [out, w] = m->forward(q, k, v, kpm, true, mask, false);
    check_values(out, {L, B, E}, r.out, 1e-12);
    check_values(w, {B, c.o.num_heads(), L, r.s_total}, r.weights, 1e-12);
    auto [out2, w2] = m->forward(q, k, v, kpm, false, mask);
    BOOST_CHECK(!w2.defined());
    check_values(out2, {L, B, E}, r.out, 1e-12);
  }
}

BOOST_AUTO_TEST_CASE(self_attention_packed_projection_equals_separate_inputs) {
  manual_seed(2);
  auto m = make(MultiheadAttentionOptions(4, 2));
  const Tensor x = randn({3, 2, 4}, dtype(float64));
  const Tensor y = randn({5, 2, 4}, dtype(float64));
  // query = key = value (one product), key = value (two) and three distinct tensors.
  check_close(std::get<0>(m->forward(x, x, x)), std::get<0>(m->forward(x, x.clone(), x.clone())), 1e-14);
  check_close(std::get<0>(m->forward(x, y, y)), std::get<0>(m->forward(x, y, y.clone())), 1e-14);
  check_close(std::get<1>(m->forward(x, y, y)), std::get<1>(m->forward(x.clone(), y.clone(), y)), 1e-14);
}

BOOST_AUTO_TEST_CASE(batch_first_and_unbatched_layouts) {
  manual_seed(3);
  auto m = make(MultiheadAttentionOptions(4, 2));
  auto mb = make(MultiheadAttentionOptions(4, 2).batch_first(true));
  mb->load_state_dict(m->state_dict());
  const Tensor q = randn({3, 2, 4}, dtype(float64)), k = randn({4, 2, 4}, dtype(float64));
  const Tensor kpm = tensor({{false, true, false, false}, {false, false, false, true}});
  const Tensor mask = tensor({{false, false, false, true}, {true, false, false, false}, {false, false, false, false}});
  auto [o1, w1] = m->forward(q, k, k, kpm, true, mask);
  auto [o2, w2] = mb->forward(q.transpose(0, 1), k.transpose(0, 1), k.transpose(0, 1), kpm, true, mask);
  BOOST_CHECK((o2.shape() == Shape{2, 3, 4}));
  check_close(o2.transpose(0, 1), o1, 1e-14);
  check_close(w2, w1, 1e-14);
  // Unbatched [L, E] equals batch entry 1 (batch_first does not apply).
  for (auto* mod : {m.get(), mb.get()}) {
    auto [ou, wu] = mod->forward(q.select(1, 1), k.select(1, 1), k.select(1, 1), kpm.select(0, 1), true, mask, false);
    BOOST_CHECK((ou.shape() == Shape{3, 4}));
    BOOST_CHECK((wu.shape() == Shape{2, 3, 4}));
    check_close(ou, o1.select(1, 1), 1e-14);
    check_close(wu, std::get<1>(m->forward(q, k, k, kpm, true, mask, false)).select(0, 1), 1e-14);
    auto [ou2, wu2] = mod->forward(q.select(1, 1), k.select(1, 1), k.select(1, 1), kpm.select(0, 1), false, mask);
    check_close(ou2, ou, 1e-13);
    // Unbatched 3-d attn_mask [H, L, S].
    const Tensor m3 = mask.unsqueeze(0).expand({2, 3, 4});
    check_close(std::get<0>(mod->forward(q.select(1, 1), k.select(1, 1), k.select(1, 1), kpm.select(0, 1), true, m3)),
                ou, 1e-14);
  }
}

BOOST_AUTO_TEST_CASE(weights_average_rows_and_masks) {
  manual_seed(4);
  auto m = make(MultiheadAttentionOptions(4, 2));
  const Tensor q = randn({3, 2, 4}, dtype(float64)), k = randn({4, 2, 4}, dtype(float64));
  const Tensor kpm = tensor({{false, false, true, false}, {true, false, false, false}});
  const Tensor mask = tensor({{false, true, false, false}, {false, false, false, false}, {false, false, false, true}});
  auto [o_avg, w_avg] = m->forward(q, k, k, kpm, true, mask, true);
  auto [o_head, w_head] = m->forward(q, k, k, kpm, true, mask, false);
  BOOST_CHECK((w_avg.shape() == Shape{2, 3, 4}));
  BOOST_CHECK((w_head.shape() == Shape{2, 2, 3, 4}));
  check_close(o_avg, o_head, 0.0);
  check_close(w_avg, w_head.mean({1}), 1e-15);
  check_close(w_head.sum({-1}), ones({2, 2, 3}, dtype(float64)), 1e-14);
  check_close(w_avg.sum({-1}), ones({2, 3}, dtype(float64)), 1e-14);
  // Masked keys get weight exactly 0: key 2 of batch 0, key 0 of batch 1 (padding), key 1
  // for query 0 and key 3 for query 2 (attn_mask).
  const auto w = values(w_head);  // [b][h][l][s]
  for (std::int64_t b = 0; b < 2; ++b)
    for (std::int64_t h = 0; h < 2; ++h)
      for (std::int64_t l = 0; l < 3; ++l) {
        auto at = [&](std::int64_t s) { return w[((b * 2 + h) * 3 + l) * 4 + s]; };
        BOOST_CHECK_EQUAL(at(b == 0 ? 2 : 0), 0.0);
        if (l == 0) BOOST_CHECK_EQUAL(at(1), 0.0);
        if (l == 2) BOOST_CHECK_EQUAL(at(3), 0.0);
        if (l == 1) BOOST_CHECK_GT(at(3), 0.0);
      }
  // bool masks equal their additive -inf forms; float masks add.
  const Tensor kpm_f = zeros({2, 4}, dtype(float64)).masked_fill(kpm, -kInf);
  const Tensor mask_f = zeros({3, 4}, dtype(float64)).masked_fill(mask, -kInf);
  check_close(std::get<1>(m->forward(q, k, k, kpm_f, true, mask_f, false)), w_head, 1e-15);
  check_close(std::get<1>(m->forward(q, k, k, kpm, true, mask_f, false)), w_head, 1e-15);
  // A float32 mask is converted to the module's dtype.
  check_close(std::get<1>(m->forward(q, k, k, kpm_f.to(float32), true, mask_f.to(float32), false)), w_head, 1e-15);
  // 3-d attn_mask: entry b * H + h. Mask key 1 only for batch 1, head 0.
  Tensor m3 = zeros({4, 3, 4}, dtype(Dtype::boolean));
  m3.index_put_({1 * 2 + 0, indexing::Slice(), 1}, 1.0);
  const auto w3 = values(std::get<1>(m->forward(q, k, k, Tensor(), true, m3, false)));
  for (std::int64_t b = 0; b < 2; ++b)
    for (std::int64_t h = 0; h < 2; ++h)
      for (std::int64_t l = 0; l < 3; ++l) {
        const double x = w3[((b * 2 + h) * 3 + l) * 4 + 1];
        if (b == 1 && h == 0)
          BOOST_CHECK_EQUAL(x, 0.0);
        else
          BOOST_CHECK_GT(x, 0.0);
      }
  // A fully masked row gives NaN (softmax of all -inf), as PyTorch.
  const Tensor all = ones({3, 4}, dtype(Dtype::boolean));
  BOOST_CHECK(std::isnan(values(std::get<0>(m->forward(q, k, k, Tensor(), true, all)))[0]));
}

BOOST_AUTO_TEST_CASE(need_weights_false_equals_true_and_the_causal_hint) {
  manual_seed(5);
  auto m = make(MultiheadAttentionOptions(8, 2));
  const Tensor x = randn({5, 3, 8}, dtype(float64));
  const Tensor causal = Transformer::generate_square_subsequent_mask(5, float64);
  const Tensor kpm = tensor(
      {{false, false, false, false, true}, {false, false, false, false, false}, {false, false, true, false, false}});
  const Tensor ref = std::get<0>(m->forward(x, x, x, Tensor(), true, causal));
  check_close(std::get<0>(m->forward(x, x, x, Tensor(), false, causal)), ref, 1e-13);
  check_close(std::get<0>(m->forward(x, x, x, Tensor(), false, causal, true, true)), ref, 1e-13);
  check_close(std::get<0>(m->forward(x, x, x, Tensor(), true, causal, true, true)), ref, 1e-13);
  // A bool causal mask (true above the diagonal) is the same mask.
  const Tensor causal_b = ones({5, 5}, dtype(Dtype::boolean)).triu(1);
  check_close(std::get<0>(m->forward(x, x, x, Tensor(), false, causal_b, true, true)), ref, 1e-13);
  // With a key padding mask the hint is not used (the merged mask is not causal).
  const Tensor refk = std::get<0>(m->forward(x, x, x, kpm, true, causal));
  check_close(std::get<0>(m->forward(x, x, x, kpm, false, causal, true, true)), refk, 1e-13);
  // Causality: changing the last position does not change the first four outputs.
  Tensor x2 = x.clone();
  x2.index_put_({4}, randn({3, 8}, dtype(float64)));
  const Tensor o2 = std::get<0>(m->forward(x2, x2, x2, Tensor(), false, causal, true, true));
  check_close(o2.narrow(0, 0, 4), ref.narrow(0, 0, 4), 1e-13);
  BOOST_CHECK_GT(max_abs_diff(o2.narrow(0, 4, 1), ref.narrow(0, 4, 1)), 1e-6);
}

BOOST_AUTO_TEST_CASE(gradcheck_float64) {
  manual_seed(6);
  const Tensor kpm = tensor({{false, false, true}, {true, false, false}});
  const Tensor mask_b = tensor({{false, true, false}, {false, false, false}, {false, false, true}});
  struct Case {
    MultiheadAttentionOptions o;
    bool need_weights, kpm, bool_mask, float_mask;
  };
  const std::vector<Case> cases{
      {MultiheadAttentionOptions(4, 2), true, false, false, false},
      {MultiheadAttentionOptions(4, 2), false, false, false, false},
      {MultiheadAttentionOptions(4, 2), true, true, false, false},
      {MultiheadAttentionOptions(4, 2), false, false, true, false},
      {MultiheadAttentionOptions(4, 2), true, true, false, true},
      {MultiheadAttentionOptions(4, 2).kdim(3).vdim(2), true, true, true, false},
      {MultiheadAttentionOptions(4, 2).add_bias_kv(true).add_zero_attn(true), true, true, true, false},
      {MultiheadAttentionOptions(4, 2).batch_first(true), false, true, false, true},
      {MultiheadAttentionOptions(4, 2).bias(false), true, false, false, false},
  };
  for (const auto& c : cases) {
    auto m = make(c.o);
    const bool bf = c.o.batch_first();
    const Tensor q = bf ? rand64({2, 3, 4}) : rand64({3, 2, 4});
    const Tensor k = bf ? rand64({2, 3, c.o.kdim()}) : rand64({3, 2, c.o.kdim()});
    const Tensor v = bf ? rand64({2, 3, c.o.vdim()}) : rand64({3, 2, c.o.vdim()});
    const Tensor fm = rand64({3, 3});  // a differentiable float mask
    Ts inputs = with_params({q, k, v}, *m);
    if (c.float_mask) inputs.push_back(fm);
    auto f = [&, c](const Ts& in) -> Ts {
      const Tensor mask = c.float_mask ? in.back() : c.bool_mask ? mask_b : Tensor();
      auto [o, w] = m->forward(in[0], in[1], in[2], c.kpm ? kpm : Tensor(), c.need_weights, mask, false);
      return c.need_weights ? Ts{o, w} : Ts{o};
    };
    auto r = gradcheck(GradcheckFn(f), inputs, GradcheckOptions{.raise_exception = false});
    BOOST_CHECK_MESSAGE(r.ok, r.message);
  }
  // Self-attention (the packed product) and unbatched inputs.
  auto m = make(MultiheadAttentionOptions(4, 2));
  const Tensor x = rand64({3, 2, 4}), xu = rand64({3, 4});
  check_gradcheck([&](const Ts& in) { return std::get<0>(m->forward(in[0], in[0], in[0], kpm)); },
                  with_params({x}, *m));
  check_gradcheck([&](const Ts& in) { return std::get<1>(m->forward(in[0], in[0], in[0], kpm.select(0, 0))); },
                  with_params({xu}, *m));
}

BOOST_AUTO_TEST_CASE(hand_derived_single_head_case) {
  // E = 1, one head, W_q = W_k = W_v = W_o = 1, no biases: one query q against keys (= values)
  // s_1 = 0, s_2 = 1. Scores q s_i (scale 1/sqrt(1)); P = softmax = [1, e] / (1 + e);
  //   out = P_1 s_1 + P_2 s_2 = e / (1 + e) = 0.7310585786...
  //   d out / d q   = sum_i P_i s_i (s_i - out) = P_1 P_2 (s_1 - s_2)^2 = e / (1 + e)^2 = 0.1966119332...
  //   d out / d s_2 = P_2 + q P_1 P_2 (s_2 - s_1) = 0.7310585786 + 0.1966119332 = 0.9276705118...
  //   d out / d s_1 = P_1 + q P_1 P_2 (s_1 - s_2) = 0.2689414214 - 0.1966119332 = 0.0723294882...
  auto m = make(MultiheadAttentionOptions(1, 1).bias(false));
  {
    NoGradGuard ng;
    m->in_proj_weight.fill_(1.0);
    m->out_proj->weight.fill_(1.0);
  }
  const Tensor q = tensor({{1.0}}, dtype(float64)).requires_grad_(true);
  const Tensor s = tensor({{0.0}, {1.0}}, dtype(float64)).requires_grad_(true);
  for (bool need_weights : {true, false}) {
    q.set_grad(Tensor());
    s.set_grad(Tensor());
    auto [out, w] = m->forward(q, s, s, Tensor(), need_weights);
    const double e = std::exp(1.0);
    check_values(out, {1, 1}, {e / (1 + e)}, 1e-14);
    if (need_weights) check_values(w, {1, 2}, {1 / (1 + e), e / (1 + e)}, 1e-14);
    out.sum().backward();
    check_values(q.grad(), {1, 1}, {e / ((1 + e) * (1 + e))}, 1e-14);
    check_values(s.grad(), {2, 1}, {1 / (1 + e) - e / ((1 + e) * (1 + e)), e / (1 + e) + e / ((1 + e) * (1 + e))},
                 1e-14);
  }
}

BOOST_AUTO_TEST_CASE(gradgradcheck_float64) {
  manual_seed(13);
  auto m = make(MultiheadAttentionOptions(4, 2));
  const Tensor kpm = tensor({{false, true, false}, {false, false, false}});
  const Tensor q = rand64({2, 2, 4}), k = rand64({3, 2, 4});
  for (bool need_weights : {true, false})
    xgrad::test::check_gradgradcheck(
        [&](const Ts& in) { return std::get<0>(m->forward(in[0], in[1], in[1], kpm, need_weights)); },
        with_params({q, k}, *m));
}

BOOST_AUTO_TEST_CASE(dropout_in_training_only) {
  manual_seed(7);
  auto m = make(MultiheadAttentionOptions(4, 2).dropout(0.5));
  const Tensor x = randn({6, 2, 4}, dtype(float64));
  m->eval();
  auto [oe, we] = m->forward(x, x, x, Tensor(), true, Tensor(), false);
  check_close(std::get<1>(m->forward(x, x, x, Tensor(), true, Tensor(), false)), we, 0.0);
  m->train();
  manual_seed(11);
  auto [ot, wt] = m->forward(x, x, x, Tensor(), true, Tensor(), false);
  // Each weight is dropped (0) or kept and scaled by 1 / (1 - p) = 2.
  const auto a = values(wt), b = values(we);
  int dropped = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] == 0.0)
      ++dropped;
    else
      BOOST_CHECK_CLOSE(a[i], 2.0 * b[i], 1e-10);
  }
  BOOST_CHECK(dropped > 0 && dropped < static_cast<int>(a.size()));
  BOOST_CHECK_GT(max_abs_diff(ot, oe), 1e-6);
  // The same seed gives the same mask.
  manual_seed(11);
  check_close(std::get<1>(m->forward(x, x, x, Tensor(), true, Tensor(), false)), wt, 0.0);
  // need_weights = false in training also applies dropout (and eval does not).
  manual_seed(12);
  BOOST_CHECK_GT(max_abs_diff(std::get<0>(m->forward(x, x, x, Tensor(), false)), oe), 1e-6);
  m->eval();
  check_close(std::get<0>(m->forward(x, x, x, Tensor(), false)), oe, 1e-13);
}

BOOST_AUTO_TEST_CASE(bit_identical_at_one_and_two_threads) {
  ThreadGuard guard;
  manual_seed(8);
  MultiheadAttention m(MultiheadAttentionOptions(64, 4).batch_first(true));
  const Tensor x = randn({4, 48, 64}).requires_grad_(true);
  const Tensor causal = Transformer::generate_square_subsequent_mask(48);
  std::vector<Tensor> results;
  for (int n : {1, 2}) {
    set_num_threads(n);
    m.zero_grad();
    x.set_grad(Tensor());
    auto [o, w] = m.forward(x, x, x, Tensor(), true, causal);
    auto o2 = std::get<0>(m.forward(x, x, x, Tensor(), false, causal, true, true));
    (o.sum() + (o2 * o2).sum() + w.sum()).backward();
    results.insert(results.end(), {o, o2, w, x.grad(), m.in_proj_weight.grad(), m.out_proj->weight.grad()});
  }
  for (std::size_t i = 0; i < results.size() / 2; ++i)
    BOOST_CHECK_EQUAL(max_abs_diff(results[i], results[i + results.size() / 2]), 0.0);
}

BOOST_AUTO_TEST_CASE(functional_form_equals_the_module) {
  namespace F = xgrad::nn::functional;
  manual_seed(14);
  const Tensor kpm = tensor({{false, false, true, false}, {true, false, false, false}});
  const Tensor mask = randn({3, 4}, dtype(float64));
  for (bool separate : {false, true})
    for (bool bf : {false, true}) {
      auto o = MultiheadAttentionOptions(4, 2).batch_first(bf).add_bias_kv(true);
      if (separate) o.kdim(3).vdim(5);
      auto m = make(o);
      const Tensor q = bf ? randn({2, 3, 4}, dtype(float64)) : randn({3, 2, 4}, dtype(float64));
      const Tensor k = bf ? randn({2, 4, o.kdim()}, dtype(float64)) : randn({4, 2, o.kdim()}, dtype(float64));
      const Tensor v = bf ? randn({2, 4, o.vdim()}, dtype(float64)) : randn({4, 2, o.vdim()}, dtype(float64));
      F::MultiheadAttentionForwardFuncOptions f(4, 2, m->in_proj_weight, m->in_proj_bias, m->bias_k, m->bias_v, false,
                                                0.0, m->out_proj->weight, m->out_proj->bias);
      f.key_padding_mask(kpm).attn_mask(mask).average_attn_weights(false).batch_first(bf);
      if (separate)
        f.use_separate_proj_weight(true)
            .q_proj_weight(m->q_proj_weight)
            .k_proj_weight(m->k_proj_weight)
            .v_proj_weight(m->v_proj_weight);
      auto [o1, w1] = F::multi_head_attention_forward(q, k, v, f);
      auto [o2, w2] = m->forward(q, k, v, kpm, true, mask, false);
      check_close(o1, o2, 0.0);
      check_close(w1, w2, 0.0);
      auto [o3, w3] = F::multi_head_attention_forward(q, k, v, f.need_weights(false));
      BOOST_CHECK(!w3.defined());
      check_close(o3, o2, 1e-13);
    }
  // Dropout with training(false) is off.
  auto m = make(MultiheadAttentionOptions(4, 2));
  const Tensor x = randn({3, 2, 4}, dtype(float64));
  F::MultiheadAttentionForwardFuncOptions f(4, 2, m->in_proj_weight, m->in_proj_bias, Tensor(), Tensor(), false, 0.9,
                                            m->out_proj->weight, m->out_proj->bias);
  check_close(std::get<0>(F::multi_head_attention_forward(x, x, x, f.training(false))),
              std::get<0>(m->forward(x, x, x)), 0.0);
  // Errors of the weights.
  auto fo = [&] {
    return F::MultiheadAttentionForwardFuncOptions(4, 2, m->in_proj_weight, m->in_proj_bias, Tensor(), Tensor(), false,
                                                   0.0, m->out_proj->weight, m->out_proj->bias);
  };
  XGRAD_CHECK_THROW_MSG(F::multi_head_attention_forward(x, x, x, fo().embed_dim_to_check(3)),
                        "multi_head_attention_forward: embed_dim must be divisible by num_heads, got embed_dim = 3 and "
                        "num_heads = 2");
  XGRAD_CHECK_THROW_MSG(F::multi_head_attention_forward(x, x, x, fo().num_heads(0)),
                        "multi_head_attention_forward: embed_dim and num_heads must be positive");
  XGRAD_CHECK_THROW_MSG(F::multi_head_attention_forward(x, x, x, fo().dropout_p(-1.0)),
                        "multi_head_attention_forward: probability dropout_p must be in [0, 1], got -1");
  XGRAD_CHECK_THROW_MSG(F::multi_head_attention_forward(x, x, x, fo().in_proj_weight(Tensor())),
                        "multi_head_attention_forward: in_proj_weight is required but undefined");
  XGRAD_CHECK_THROW_MSG(F::multi_head_attention_forward(x, x, x, fo().in_proj_weight(zeros({8, 4}, dtype(float64)))),
                        "multi_head_attention_forward: in_proj_weight of shape [8, 4] should be [12, 4]");
  XGRAD_CHECK_THROW_MSG(F::multi_head_attention_forward(x, x, x, fo().out_proj_weight(zeros({4, 3}, dtype(float64)))),
                        "multi_head_attention_forward: out_proj_weight of shape [4, 3] should be [4, 4]");
  XGRAD_CHECK_THROW_MSG(F::multi_head_attention_forward(x, x, x, fo().in_proj_bias(zeros({4}, dtype(float64)))),
                        "multi_head_attention_forward: in_proj_bias of shape [4] should be [12]");
  XGRAD_CHECK_THROW_MSG(F::multi_head_attention_forward(x, x, x, fo().out_proj_bias(zeros({3}, dtype(float64)))),
                        "multi_head_attention_forward: out_proj_bias of shape [3] should be [4]");
  XGRAD_CHECK_THROW_MSG(F::multi_head_attention_forward(x, x, x, fo().bias_k(zeros({1, 1, 4}, dtype(float64)))),
                        "multi_head_attention_forward: bias_k and bias_v must both be given or both be undefined");
  XGRAD_CHECK_THROW_MSG(F::multi_head_attention_forward(
                            x, x, x, fo().bias_k(zeros({1, 4}, dtype(float64))).bias_v(zeros({1, 4}, dtype(float64)))),
                        "multi_head_attention_forward: bias_k of shape [1, 4] should be [1, 1, 4]");
  XGRAD_CHECK_THROW_MSG(F::multi_head_attention_forward(x, x, x, fo().use_separate_proj_weight(true)),
                        "multi_head_attention_forward: q_proj_weight is required but undefined");
  XGRAD_CHECK_THROW_MSG(F::multi_head_attention_forward(x, x, x,
                                                        fo().use_separate_proj_weight(true)
                                                            .q_proj_weight(zeros({4, 4}, dtype(float64)))
                                                            .k_proj_weight(zeros({3, 4}, dtype(float64)))),
                        "multi_head_attention_forward: k_proj_weight of shape [3, 4] should be [4, features]");
  XGRAD_CHECK_THROW_MSG(F::multi_head_attention_forward(x, x, x.clone(), fo().attn_mask(zeros({2, 2}))),
                        "multi_head_attention_forward: the shape of the 2D attn_mask is [2, 2], but should be [3, 3].");
  XGRAD_CHECK_THROW_MSG(F::multi_head_attention_forward(Tensor(), x, x, fo()),
                        "multi_head_attention_forward: expected a defined tensor");
}

BOOST_AUTO_TEST_CASE(errors) {
  XGRAD_CHECK_THROW_MSG(
      MultiheadAttention(5, 2),
      "MultiheadAttention: embed_dim must be divisible by num_heads, got embed_dim = 5 and num_heads = 2");
  XGRAD_CHECK_THROW_MSG(MultiheadAttention(4, 0), "MultiheadAttention: embed_dim and num_heads must be positive");
  XGRAD_CHECK_THROW_MSG(MultiheadAttention(0, 1), "MultiheadAttention: embed_dim and num_heads must be positive");
  XGRAD_CHECK_THROW_MSG(MultiheadAttention(MultiheadAttentionOptions(4, 2).kdim(0)),
                        "MultiheadAttention: kdim and vdim must be positive, got kdim = 0 and vdim = 4");
  XGRAD_CHECK_THROW_MSG(MultiheadAttention(MultiheadAttentionOptions(4, 2).dropout(1.5)),
                        "MultiheadAttention: probability dropout must be in [0, 1], got 1.5");
  MultiheadAttention m(4, 2);
  const Tensor q = randn({3, 2, 4}), k = randn({5, 2, 4});
  XGRAD_CHECK_THROW_MSG(m.forward(Tensor(), k, k), "MultiheadAttention: expected a defined tensor");
  XGRAD_CHECK_THROW_MSG(m.forward(randn({4}), k, k),
                        "MultiheadAttention: query should be unbatched 2-d [L, E] or batched 3-d ([L, B, E]), got "
                        "shape [4]");
  XGRAD_CHECK_THROW_MSG(m.forward(q, randn({5, 4}), k),
                        "MultiheadAttention: for batched (3-d) query of shape [3, 2, 4], expected key and value to be "
                        "3-d, got key of shape [5, 4] and value of shape [5, 2, 4]");
  XGRAD_CHECK_THROW_MSG(m.forward(q.to(float64), k, k),
                        "MultiheadAttention: query, key and value must have the parameters' dtype float32, got "
                        "float64, float32 and float32");
  XGRAD_CHECK_THROW_MSG(m.forward(randn({3, 2, 5}), k, k),
                        "MultiheadAttention: query of shape [3, 2, 5] must have embed_dim = 4 features");
  XGRAD_CHECK_THROW_MSG(m.forward(q, randn({5, 2, 3}), k),
                        "MultiheadAttention: key of shape [5, 2, 3] must have kdim = 4 features");
  XGRAD_CHECK_THROW_MSG(m.forward(q, k, randn({5, 2, 3})),
                        "MultiheadAttention: value of shape [5, 2, 3] must have vdim = 4 features");
  XGRAD_CHECK_THROW_MSG(m.forward(q, k, randn({6, 2, 4})),
                        "MultiheadAttention: key of shape [5, 2, 4] and value of shape [6, 2, 4] must have the same "
                        "sequence and batch sizes");
  XGRAD_CHECK_THROW_MSG(m.forward(q, randn({5, 3, 4}), randn({5, 3, 4})),
                        "MultiheadAttention: query of shape [3, 2, 4] and key of shape [5, 3, 4] have different batch "
                        "sizes");
  XGRAD_CHECK_THROW_MSG(m.forward(q, k, k, zeros({2, 4}, dtype(Dtype::boolean))),
                        "MultiheadAttention: the shape of key_padding_mask is [2, 4], but should be [2, 5] ([B, S]).");
  XGRAD_CHECK_THROW_MSG(m.forward(q, k, k, zeros({2, 5}, dtype(Dtype::int64))),
                        "MultiheadAttention: only bool and floating types of key_padding_mask are supported");
  XGRAD_CHECK_THROW_MSG(m.forward(q, k, k, Tensor(), true, zeros({3, 4})),
                        "MultiheadAttention: the shape of the 2D attn_mask is [3, 4], but should be [3, 5].");
  XGRAD_CHECK_THROW_MSG(m.forward(q, k, k, Tensor(), true, zeros({2, 3, 5})),
                        "MultiheadAttention: the shape of the 3D attn_mask is [2, 3, 5], but should be [4, 3, 5].");
  XGRAD_CHECK_THROW_MSG(m.forward(q, k, k, Tensor(), true, zeros({1, 4, 3, 5})),
                        "MultiheadAttention: attn_mask's dimension 4 is not supported");
  XGRAD_CHECK_THROW_MSG(m.forward(q, k, k, Tensor(), true, zeros({3, 5}, dtype(Dtype::int32))),
                        "MultiheadAttention: only bool and floating types of attn_mask are supported");
  XGRAD_CHECK_THROW_MSG(m.forward(q, k, k, Tensor(), false, Tensor(), true, true),
                        "MultiheadAttention: is_causal needs attn_mask");
  XGRAD_CHECK_THROW_MSG(m.forward(q), "MultiheadAttention: forward(const Tensor&) is not implemented");
  // Unbatched: key_padding_mask [S], 3-d attn_mask [H, L, S].
  XGRAD_CHECK_THROW_MSG(m.forward(randn({3, 4}), randn({5, 4}), randn({5, 4}), zeros({1, 5})),
                        "the shape of key_padding_mask is [1, 5], but should be [5] ([S] for unbatched inputs).");
  XGRAD_CHECK_THROW_MSG(m.forward(randn({3, 4}), randn({5, 4}), randn({5, 4}), Tensor(), true, zeros({4, 3, 5})),
                        "the shape of the 3D attn_mask is [4, 3, 5], but should be [2, 3, 5].");
}

BOOST_AUTO_TEST_SUITE_END()
