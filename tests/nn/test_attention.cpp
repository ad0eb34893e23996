// scaled_dot_product_attention (attention.hpp): a hand-derived case, mask and causal
// semantics, fully masked rows, dropout, the efficient path against the math path (forward
// and the three gradients, float64 and float32, block-multiple and ragged lengths, masks,
// broadcast and GQA), thread-count bit-identity of the efficient kernels, backend selection
// and every error. gradcheck / gradgradcheck: test_op_db_attention.cpp.
#include <cmath>
#include <limits>
#include <optional>

#include "test_util.hpp"
#include "xgrad/nn/attention.hpp"

using namespace xgrad;
using xgrad::test::ThreadGuard;
using namespace xgrad::nn;
namespace F = xgrad::nn::functional;
using xgrad::test::check_close;
using xgrad::test::check_values;
using xgrad::test::max_abs_diff;

namespace {

using Ts = std::vector<Tensor>;
constexpr double kInf = std::numeric_limits<double>::infinity();

Tensor leaf(const Shape& s, Dtype dt, double scale = 1.0) {
  Tensor t = randn(s, dtype(float64));
  NoGradGuard ng;
  return (t * scale).to(dt).detach().requires_grad_(true);
}

// A random bool mask of shape s whose key 0 is always kept (no fully masked row).
Tensor keep_mask(const Shape& s) {
  NoGradGuard ng;
  Tensor m = gt(rand(s, dtype(float64)), 0.35);
  Tensor first = zeros(s, dtype(float64));
  first.slice(-1, 0, 1, 1).fill_(1.0);
  return logical_or(m, gt(first, 0.5));
}

// Output and gradients (for a fixed random output gradient) under the given backend.
Ts run(SDPBackend be, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, bool causal,
       const Tensor& g, bool gqa = false, std::optional<double> scale = std::nullopt) {
  SDPBackendGuard guard(be);
  Tensor out = F::scaled_dot_product_attention(q, k, v, mask, 0.0, causal, scale, gqa);
  auto gr = autograd::grad({out}, {q, k, v}, {g});
  return {out.detach(), gr[0], gr[1], gr[2]};
}

struct Case {
  Shape q, k, v;
  bool causal = false;
  // 0 none, 1 bool [L, S], 2 additive [L, S], 3 bool broadcast [B, 1, L, S], 4 additive and
  // 5 bool (with fully masked rows) read through a transpose
  int mask = 0;
  bool gqa = false;
};

void compare(const Case& c, Dtype dt, double tol) {
  const Tensor q = leaf(c.q, dt), k = leaf(c.k, dt), v = leaf(c.v, dt);
  const std::int64_t L = c.q[c.q.size() - 2], S = c.k[c.k.size() - 2];
  Tensor mask;
  if (c.mask == 1) mask = keep_mask({L, S});
  if (c.mask == 2) mask = randn({L, S}, dtype(dt));
  if (c.mask == 3) mask = keep_mask({c.q[0], 1, L, S});
  if (c.mask == 4) mask = randn({S, L}, dtype(dt)).transpose(0, 1);                // strided additive
  if (c.mask == 5) mask = gt(rand({S, L}, dtype(float64)), 0.35).transpose(0, 1);  // some rows fully masked
  Tensor probe;
  {
    SDPBackendGuard guard(SDPBackend::math);
    probe = F::scaled_dot_product_attention(q, k, v, mask, 0.0, c.causal, std::nullopt, c.gqa);
  }
  const Tensor g = randn(probe.shape(), dtype(dt));
  const Ts a = run(SDPBackend::math, q, k, v, mask, c.causal, g, c.gqa);
  const Ts b = run(SDPBackend::efficient, q, k, v, mask, c.causal, g, c.gqa);
  const char* what[] = {"out", "dq", "dk", "dv"};
  for (int i = 0; i < 4; ++i) {
    BOOST_REQUIRE(a[static_cast<std::size_t>(i)].shape() == b[static_cast<std::size_t>(i)].shape());
    const double d = max_abs_diff(a[static_cast<std::size_t>(i)], b[static_cast<std::size_t>(i)]);
    BOOST_CHECK_MESSAGE(d <= tol, what[i] << ": max |math - efficient| = " << d << " > " << tol << " for q "
                                          << fmt::format("{}", c.q) << " k " << fmt::format("{}", c.k) << " causal "
                                          << c.causal << " mask " << c.mask << " dtype " << dtype_name(dt));
  }
}

std::vector<Case> cases() {
  return {
      {{1, 3}, {1, 3}, {1, 2}},                                       // L = S = 1
      {{1, 8}, {70, 8}, {70, 4}},                                     // L = 1
      {{70, 8}, {1, 8}, {1, 4}},                                      // S = 1
      {{64, 16}, {64, 16}, {64, 16}},                                 // one whole block
      {{128, 8}, {128, 8}, {128, 8}, true},                           // block multiples, causal
      {{256, 8}, {192, 8}, {192, 4}, true},                           // several blocks each way, causal, L > S
      {{100, 8}, {130, 8}, {130, 5}},                                 // ragged
      {{130, 8}, {100, 8}, {100, 5}, true},                           // causal, L > S
      {{70, 8}, {150, 8}, {150, 5}, true},                            // causal, L < S
      {{2, 3, 67, 8}, {3, 90, 8}, {1, 3, 90, 6}},                     // broadcast leading dims
      {{67, 8}, {90, 8}, {90, 6}, false, 1},                          // bool mask
      {{67, 8}, {90, 8}, {90, 6}, false, 2},                          // additive mask
      {{2, 3, 67, 8}, {2, 3, 90, 8}, {2, 3, 90, 6}, false, 3},        // broadcast bool mask
      {{2, 67, 8}, {90, 8}, {90, 6}, false, 4},                       // transposed additive mask
      {{67, 8}, {3, 8}, {3, 6}, false, 5},                            // transposed bool mask, dead rows
      {{2, 4, 33, 8}, {2, 2, 70, 8}, {2, 1, 70, 5}, false, 0, true},  // GQA
  };
}

}  // namespace

BOOST_AUTO_TEST_SUITE(attention)

// L = 1, S = 2, E = Ev = 1, scale 1: q = 1, k = [0, ln 3], v = [2, 6], g = 1.
//   scores s = q k = [0, ln 3], P = softmax(s) = [1/4, 3/4], out = 2/4 + 18/4 = 5.
//   dP_j = g v_j = [2, 6]; dS_j = P_j (dP_j - sum P dP) = P_j (v_j - out) = [-3/4, 3/4].
//   dq = sum_j dS_j k_j = 3/4 ln 3;  dk_j = dS_j q = [-3/4, 3/4];  dv_j = P_j g = [1/4, 3/4].
BOOST_AUTO_TEST_CASE(hand_derived) {
  for (SDPBackend be : {SDPBackend::math, SDPBackend::efficient}) {
    SDPBackendGuard guard(be);
    Tensor q = tensor({1.0}, dtype(float64)).reshape({1, 1}).requires_grad_(true);
    Tensor k = tensor({0.0, std::log(3.0)}, dtype(float64)).reshape({2, 1}).requires_grad_(true);
    Tensor v = tensor({2.0, 6.0}, dtype(float64)).reshape({2, 1}).requires_grad_(true);
    Tensor out = F::scaled_dot_product_attention(q, k, v);
    check_values(out, {1, 1}, {5.0});
    out.backward();
    check_values(q.grad(), {1, 1}, {0.75 * std::log(3.0)});
    check_values(k.grad(), {2, 1}, {-0.75, 0.75});
    check_values(v.grad(), {2, 1}, {0.25, 0.75});
  }
}

BOOST_AUTO_TEST_CASE(grad_fn_names_and_dispatch) {
  const Tensor q = leaf({2, 8, 4}, float64), k = leaf({2, 8, 4}, float64), v = leaf({2, 8, 4}, float64);
  {
    SDPBackendGuard guard(SDPBackend::efficient);
    BOOST_CHECK(current_sdp_backend() == SDPBackend::efficient);
    BOOST_CHECK_EQUAL(F::scaled_dot_product_attention(q, k, v).grad_fn_name(),
                      "ScaledDotProductEfficientAttentionBackward");
    {
      SDPBackendGuard inner(SDPBackend::math);
      BOOST_CHECK(F::scaled_dot_product_attention(q, k, v).grad_fn_name() !=
                  "ScaledDotProductEfficientAttentionBackward");
    }
    BOOST_CHECK(current_sdp_backend() == SDPBackend::efficient);
  }
  BOOST_CHECK(current_sdp_backend() == SDPBackend::automatic);
  // automatic: tiny problems take the math path, large ones the efficient one.
  BOOST_CHECK(F::scaled_dot_product_attention(q, k, v).grad_fn_name() != "ScaledDotProductEfficientAttentionBackward");
  const Tensor q2 = leaf({128, 4}, float64), k2 = leaf({128, 4}, float64), v2 = leaf({128, 4}, float64);
  BOOST_CHECK_EQUAL(F::scaled_dot_product_attention(q2, k2, v2).grad_fn_name(),
                    "ScaledDotProductEfficientAttentionBackward");
  // dropout: automatic falls back to math.
  BOOST_CHECK(F::scaled_dot_product_attention(q2, k2, v2, Tensor(), 0.5).grad_fn_name() !=
              "ScaledDotProductEfficientAttentionBackward");
}

BOOST_AUTO_TEST_CASE(default_and_explicit_scale) {
  const Tensor q = leaf({3, 4}, float64), k = leaf({5, 4}, float64), v = leaf({5, 2}, float64);
  NoGradGuard ng;
  const Tensor ref = matmul(F::softmax(matmul(q, k.transpose(0, 1)) * 0.5, -1), v);  // 1/sqrt(4)
  const Tensor ref2 = matmul(F::softmax(matmul(q, k.transpose(0, 1)) * 0.3, -1), v);
  for (SDPBackend be : {SDPBackend::math, SDPBackend::efficient}) {
    SDPBackendGuard guard(be);
    check_close(F::scaled_dot_product_attention(q, k, v), ref, 1e-12);
    check_close(F::scaled_dot_product_attention(q, k, v, Tensor(), 0.0, false, 0.3), ref2, 1e-12);
  }
}

BOOST_AUTO_TEST_CASE(mask_semantics) {
  const Tensor q = leaf({2, 3}, float64), k = leaf({2, 3}, float64);
  const Tensor v = tensor({1.0, 2.0, 3.0, 4.0}, dtype(float64)).reshape({2, 2});
  // Row 0 keeps key 0 only, row 1 keeps both.
  const Tensor bmask = tensor({1.0, 0.0, 1.0, 1.0}, dtype(float64)).reshape({2, 2}) > 0.5;
  const Tensor fmask = tensor({0.0, -kInf, 0.0, 0.0}, dtype(float64)).reshape({2, 2});
  NoGradGuard ng;
  const Tensor w1 = F::softmax(matmul(q, k.transpose(0, 1)).slice(0, 1, 2, 1) / std::sqrt(3.0), -1);
  const double r1a = w1.to_vector<double>()[0] * 1.0 + w1.to_vector<double>()[1] * 3.0;
  const double r1b = w1.to_vector<double>()[0] * 2.0 + w1.to_vector<double>()[1] * 4.0;
  for (SDPBackend be : {SDPBackend::math, SDPBackend::efficient}) {
    SDPBackendGuard guard(be);
    check_values(F::scaled_dot_product_attention(q, k, v, bmask), {2, 2}, {1.0, 2.0, r1a, r1b});
    check_values(F::scaled_dot_product_attention(q, k, v, fmask), {2, 2}, {1.0, 2.0, r1a, r1b});
  }
}

// A floating mask of another dtype is converted to query's (PyTorch would reject a float64 mask with a float32 query; we convert).
BOOST_AUTO_TEST_CASE(mask_of_other_floating_dtype) {
  const Tensor q = randn({3, 4}), k = randn({5, 4}), v = randn({5, 2});
  const Tensor m64 = randn({3, 5}, dtype(float64));
  for (SDPBackend be : {SDPBackend::math, SDPBackend::efficient}) {
    SDPBackendGuard guard(be);
    const Tensor a = F::scaled_dot_product_attention(q, k, v, m64);
    BOOST_CHECK(a.dtype() == float32);
    check_close(a, F::scaled_dot_product_attention(q, k, v, m64.to(float32)), 0.0);
  }
}

BOOST_AUTO_TEST_CASE(causal_is_top_left) {
  // L = 3 > S = 2: row 0 sees key 0, rows 1 and 2 see both keys (tril(ones(3, 2))).
  const Tensor q = leaf({3, 2}, float64), k = leaf({2, 2}, float64), v = leaf({2, 2}, float64);
  const Tensor keep = tensor({1.0, 0.0, 1.0, 1.0, 1.0, 1.0}, dtype(float64)).reshape({3, 2}) > 0.5;
  NoGradGuard ng;
  for (SDPBackend be : {SDPBackend::math, SDPBackend::efficient}) {
    SDPBackendGuard guard(be);
    const Tensor a = F::scaled_dot_product_attention(q, k, v, Tensor(), 0.0, true);
    const Tensor b = F::scaled_dot_product_attention(q, k, v, keep);
    check_close(a, b, 1e-14);
    check_close(a.slice(0, 0, 1, 1), v.slice(0, 0, 1, 1), 1e-14);
  }
}

// A row whose keys are all excluded gets weights 0 on both paths (PyTorch >= 2.5's
// _safe_softmax in the math path; its flash kernel), so an output row of 0 and no gradient.
BOOST_AUTO_TEST_CASE(fully_masked_rows) {
  const Tensor q = leaf({2, 3}, float64), k = leaf({4, 3}, float64), v = leaf({4, 2}, float64);
  // Row 0 is fully masked, row 1 keeps keys 1 and 2.
  const Tensor keep = tensor({0, 0, 0, 0, 0, 1, 1, 0}, dtype(float64)).reshape({2, 4}) > 0.5;
  const Tensor bias = masked_fill(zeros({2, 4}, dtype(float64)), logical_not(keep), -kInf);
  Tensor ref;
  Ts ref_grads;
  {
    const Tensor q1 = q.slice(0, 1, 2, 1), k1 = k.slice(0, 1, 3, 1), v1 = v.slice(0, 1, 3, 1);
    const Tensor o = F::scaled_dot_product_attention(q1, k1, v1);
    ref = o.detach();
    ref_grads = autograd::grad({o}, {q, k, v}, {tensor({0.5, 2.0}, dtype(float64)).reshape({1, 2})});
  }
  const auto r = ref.to_vector<double>();
  const Tensor g = tensor({1.0, -1.0, 0.5, 2.0}, dtype(float64)).reshape({2, 2});
  for (SDPBackend be : {SDPBackend::math, SDPBackend::efficient}) {
    for (const Tensor& mask : {keep, bias}) {
      SDPBackendGuard guard(be);
      const Tensor out = F::scaled_dot_product_attention(q, k, v, mask);
      check_values(out, {2, 2}, {0.0, 0.0, r[0], r[1]});
      const auto gr = autograd::grad({out}, {q, k, v}, {g}, {.retain_graph = true});
      for (std::size_t i = 0; i < 3; ++i) check_close(gr[i], ref_grads[i], 1e-12);
      // Also through the composed (create_graph) backward.
      const auto gg = autograd::grad({out}, {q, k, v}, {g}, {.create_graph = true});
      for (std::size_t i = 0; i < 3; ++i) check_close(gg[i], ref_grads[i], 1e-12);
    }
  }
}

BOOST_AUTO_TEST_CASE(dropout_on_weights) {
  // v = identity: the output is the (dropped, rescaled) weight matrix itself.
  const Tensor q = leaf({4, 3}, float64), k = leaf({5, 3}, float64);
  const Tensor v = eye(5, -1, dtype(float64));
  NoGradGuard ng;
  const Tensor w = F::scaled_dot_product_attention(q, k, v);
  manual_seed(7);
  const Tensor d = F::scaled_dot_product_attention(q, k, v, Tensor(), 0.4);
  const auto wv = w.to_vector<double>(), dv = d.to_vector<double>();
  int zeros = 0;
  for (std::size_t i = 0; i < wv.size(); ++i) {
    const bool ok = dv[i] == 0.0 || std::fabs(dv[i] - wv[i] / 0.6) < 1e-12;
    BOOST_CHECK_MESSAGE(ok, "element " << i << ": " << dv[i] << " vs " << wv[i]);
    zeros += dv[i] == 0.0;
  }
  BOOST_CHECK(zeros > 0 && zeros < 20);
  SDPBackendGuard guard(SDPBackend::efficient);
  XGRAD_CHECK_THROW_MSG(F::scaled_dot_product_attention(q, k, v, Tensor(), 0.4),
                        "efficient backend does not support dropout_p > 0");
}

BOOST_AUTO_TEST_CASE(efficient_matches_math_float64) {
  manual_seed(1);
  for (const Case& c : cases()) compare(c, float64, 1e-12);
}

BOOST_AUTO_TEST_CASE(efficient_matches_math_float32) {
  manual_seed(2);
  for (const Case& c : cases()) compare(c, float32, 1e-5);
}

BOOST_AUTO_TEST_CASE(efficient_bit_identical_across_threads) {
  ThreadGuard tg;
  manual_seed(3);
  for (Dtype dt : {float32, float64}) {
    const Tensor q = leaf({2, 3, 200, 16}, dt), k = leaf({2, 3, 170, 16}, dt), v = leaf({2, 3, 170, 8}, dt);
    const Tensor mask = keep_mask({200, 170});
    const Tensor g = randn({2, 3, 200, 8}, dtype(dt));
    for (bool causal : {false, true}) {
      const Tensor m = causal ? Tensor() : mask;
      set_num_threads(1);
      const Ts a = run(SDPBackend::efficient, q, k, v, m, causal, g);
      set_num_threads(2);
      const Ts b = run(SDPBackend::efficient, q, k, v, m, causal, g);
      for (std::size_t i = 0; i < 4; ++i) BOOST_CHECK_EQUAL(max_abs_diff(a[i], b[i]), 0.0);
    }
  }
}

BOOST_AUTO_TEST_CASE(gradients_not_needed_for_every_input) {
  const Tensor q = leaf({70, 8}, float64), v = leaf({90, 4}, float64);
  Tensor k;
  {
    NoGradGuard ng;
    k = randn({90, 8}, dtype(float64));
  }
  const Tensor g = randn({70, 4}, dtype(float64));
  Ts a, b;
  for (SDPBackend be : {SDPBackend::math, SDPBackend::efficient}) {
    SDPBackendGuard guard(be);
    Tensor out = F::scaled_dot_product_attention(q, k, v);
    (be == SDPBackend::math ? a : b) = autograd::grad({out}, {q, v}, {g});
  }
  check_close(a[0], b[0], 1e-12);
  check_close(a[1], b[1], 1e-12);
}

BOOST_AUTO_TEST_CASE(empty_inputs) {
  for (SDPBackend be : {SDPBackend::math, SDPBackend::efficient}) {
    SDPBackendGuard guard(be);
    const Tensor q = zeros({0, 3, 4}, dtype(float32)), k = zeros({0, 5, 4}, dtype(float32)),
                 v = zeros({0, 5, 2}, dtype(float32));
    BOOST_CHECK(F::scaled_dot_product_attention(q, k, v).shape() == Shape({0, 3, 2}));
    const Tensor q1 = zeros({0, 4}, dtype(float32)), k1 = zeros({5, 4}, dtype(float32)),
                 v1 = zeros({5, 2}, dtype(float32));
    BOOST_CHECK(F::scaled_dot_product_attention(q1, k1, v1).shape() == Shape({0, 2}));
    const Tensor q2 = zeros({3, 4}, dtype(float32)), k2 = zeros({0, 4}, dtype(float32)),
                 v2 = zeros({0, 2}, dtype(float32));
    BOOST_CHECK(F::scaled_dot_product_attention(q2, k2, v2).shape() == Shape({3, 2}));
  }
}

BOOST_AUTO_TEST_CASE(errors) {
  const Tensor q = randn({2, 3, 4}), k = randn({2, 5, 4}), v = randn({2, 5, 6});
  const char* op = "scaled_dot_product_attention";
  XGRAD_CHECK_THROW_MSG(F::scaled_dot_product_attention(randn({4}), k, v), "rank >= 2");
  XGRAD_CHECK_THROW_MSG(F::scaled_dot_product_attention(q, randn({2, 5, 3}), v),
                        "the last dim (embedding) of query and key must match, got query of shape [2, 3, 4] and key "
                        "of shape [2, 5, 3]");
  XGRAD_CHECK_THROW_MSG(F::scaled_dot_product_attention(q, k, randn({2, 4, 6})),
                        "key and value must have the same sequence length");
  XGRAD_CHECK_THROW_MSG(F::scaled_dot_product_attention(q, randn({3, 5, 4}), randn({3, 5, 6})),
                        "leading dims of query, key and value do not broadcast");
  XGRAD_CHECK_THROW_MSG(F::scaled_dot_product_attention(q, k, v, gt(ones({4, 5}), 0.0)),
                        "attn_mask of shape [4, 5] is not broadcastable to the attention weights' shape [2, 3, 5]");
  XGRAD_CHECK_THROW_MSG(F::scaled_dot_product_attention(q, k, v, gt(ones({1, 1, 3, 5}), 0.0)), "not broadcastable");
  XGRAD_CHECK_THROW_MSG(F::scaled_dot_product_attention(q, k, v, ones({3, 5}, dtype(int64))),
                        "attn_mask must be bool or floating, got int64 (attn_mask of shape [3, 5])");
  XGRAD_CHECK_THROW_MSG(F::scaled_dot_product_attention(q, k, v, Tensor(), 1.5), "dropout_p must lie in [0, 1], got 1.5");
  XGRAD_CHECK_THROW_MSG(F::scaled_dot_product_attention(q, k, v, Tensor(), -0.1), "dropout_p must lie in [0, 1]");
  // p = 1 drops every weight (PyTorch accepts it; a layer built with dropout 1 trains): output 0.
  BOOST_TEST(F::scaled_dot_product_attention(q, k, v, Tensor(), 1.0).abs().sum().item<double>() == 0.0);
  XGRAD_CHECK_THROW_MSG(F::scaled_dot_product_attention(q.to(int64), k.to(int64), v.to(int64)),
                        "expected query, key and value of one floating dtype (float32 or float64), got query int64");
  XGRAD_CHECK_THROW_MSG(F::scaled_dot_product_attention(q, k.to(float64), v), "got query float32, key float64");
  XGRAD_CHECK_THROW_MSG(F::scaled_dot_product_attention(q, k, v, gt(ones({3, 5}), 0.0), 0.0, true),
                        "attn_mask (of shape [3, 5]) must not be given with is_causal=true");
  XGRAD_CHECK_THROW_MSG(F::scaled_dot_product_attention(Tensor(), k, v), op);
  XGRAD_CHECK_THROW_MSG(F::scaled_dot_product_attention(randn({1, 3, 2, 4}), randn({1, 2, 5, 4}), randn({1, 2, 5, 6}),
                                                        Tensor(), 0.0, false, std::nullopt, true),
                        "with enable_gqa the number of query heads (dim -3) must be a multiple");
  // Without enable_gqa differing head counts must broadcast.
  XGRAD_CHECK_THROW_MSG(F::scaled_dot_product_attention(randn({1, 4, 2, 4}), randn({1, 2, 5, 4}), randn({1, 2, 5, 6})),
                        "do not broadcast");
  {
    SDPBackendGuard guard(SDPBackend::efficient);
    Tensor fm = zeros({3, 5}).requires_grad_(true);
    XGRAD_CHECK_THROW_MSG(F::scaled_dot_product_attention(q, k, v, fm),
                          "efficient backend does not support an attn_mask that requires grad");
  }
}

BOOST_AUTO_TEST_SUITE_END()
