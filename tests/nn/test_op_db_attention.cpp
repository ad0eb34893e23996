// The op table of scaled_dot_product_attention (attention.hpp), both backends: run by
// autograd/op_db.hpp on contiguous, transposed, strided and expanded inputs (views vs
// contiguous copies, float64 gradcheck and gradgradcheck through the views, the int64 dtype
// error). The efficient path's first derivatives go through its fused blocked backward, the
// second through the composed one (create_graph). Values, masks, errors and the efficient vs
// math comparison: test_attention.cpp.
#include "autograd/op_db.hpp"
#include "xgrad/nn/attention.hpp"

namespace {

using nn::SDPBackend;
using nn::SDPBackendGuard;

// A bool mask of shape s with at least key 0 kept in every row.
Tensor keep_mask(const Shape& s, std::uint64_t seed) {
  manual_seed(seed);
  NoGradGuard ng;
  Tensor m = gt(rand(s, dtype(float64)), 0.4);
  Tensor first = zeros(s, dtype(float64));
  first.slice(-1, 0, 1, 1).fill_(1.0);
  return logical_or(m, gt(first, 0.5));
}

std::vector<OpInfo> attention_ops() {
  std::vector<OpInfo> ops;
  const Tensor bmask = keep_mask({3, 4}, 11);
  const Tensor bmask4 = keep_mask({2, 1, 3, 4}, 12);
  manual_seed(13);
  const Tensor amask = randn({3, 4}, dtype(float64));
  // Row 1 fully masked: weights 0, output 0, zero gradients on both paths.
  const Tensor dead =
      gt(tensor({1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0}, dtype(float64)).reshape({3, 4}), 0.5);
  for (SDPBackend be : {SDPBackend::math, SDPBackend::efficient}) {
    const std::string p = be == SDPBackend::math ? "sdpa_math_" : "sdpa_efficient_";
    auto entry = [be](Tensor mask, bool causal, std::optional<double> scale = std::nullopt, bool gqa = false) {
      return [be, mask, causal, scale, gqa](const Ts& t) {
        SDPBackendGuard guard(be);
        return F::scaled_dot_product_attention(t[0], t[1], t[2], mask, 0.0, causal, scale, gqa);
      };
    };
    ops.push_back({.name = p + "plain",
                   .arity = 3,
                   .fn = entry(Tensor(), false),
                   .samples = {{{3, 2}, {4, 2}, {4, 3}}, {{2, 3, 2}, {2, 4, 2}, {2, 4, 3}}, {{1, 2}, {1, 2}, {1, 2}}}});
    ops.push_back({.name = p + "scale",
                   .arity = 3,
                   .fn = entry(Tensor(), false, 0.7),
                   .samples = {{{2, 3, 2}, {2, 4, 2}, {2, 4, 3}}}});
    ops.push_back({.name = p + "bool_mask",
                   .arity = 3,
                   .fn = entry(bmask, false),
                   .samples = {{{3, 2}, {4, 2}, {4, 3}}, {{2, 3, 2}, {2, 4, 2}, {2, 4, 2}}}});
    ops.push_back({.name = p + "bool_mask_broadcast",
                   .arity = 3,
                   .fn = entry(bmask4, false),
                   .samples = {{{2, 2, 3, 2}, {2, 2, 4, 2}, {2, 2, 4, 2}}}});
    ops.push_back(
        {.name = p + "fully_masked_row", .arity = 3, .fn = entry(dead, false), .samples = {{{3, 2}, {4, 2}, {4, 3}}}});
    ops.push_back({.name = p + "additive_mask",
                   .arity = 3,
                   .fn = entry(amask, false),
                   .samples = {{{3, 2}, {4, 2}, {4, 3}}, {{2, 3, 2}, {2, 4, 2}, {2, 4, 2}}}});
    ops.push_back({.name = p + "causal",
                   .arity = 3,
                   .fn = entry(Tensor(), true),
                   .samples = {{{3, 2}, {3, 2}, {3, 3}}, {{2, 4, 2}, {2, 3, 2}, {2, 3, 2}}, {{2, 2}, {4, 2}, {4, 3}}}});
    ops.push_back({.name = p + "broadcast_leading_dims",
                   .arity = 3,
                   .fn = entry(Tensor(), false),
                   .samples = {{{2, 2, 3, 2}, {2, 4, 2}, {1, 2, 4, 3}}, {{3, 2}, {2, 4, 2}, {2, 4, 2}}}});
    ops.push_back({.name = p + "gqa",
                   .arity = 3,
                   .fn = entry(Tensor(), false, std::nullopt, true),
                   .samples = {{{2, 4, 3, 2}, {2, 2, 4, 2}, {2, 1, 4, 3}}}});
  }
  // The math path differentiates a floating mask too (as PyTorch's math path).
  ops.push_back({.name = "sdpa_math_additive_mask_input",
                 .arity = 4,
                 .fn =
                     [](const Ts& t) {
                       SDPBackendGuard guard(SDPBackend::math);
                       return F::scaled_dot_product_attention(t[0], t[1], t[2], t[3]);
                     },
                 .samples = {{{2, 3, 2}, {2, 4, 2}, {2, 4, 3}, {3, 4}}}});
  return ops;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(op_db_attention)

BOOST_AUTO_TEST_CASE(attention) { run_all(attention_ops()); }

BOOST_AUTO_TEST_CASE(names_are_unique) {
  std::vector<std::string> names;
  for (const auto& op : attention_ops()) names.push_back(op.name);
  std::sort(names.begin(), names.end());
  BOOST_CHECK(std::adjacent_find(names.begin(), names.end()) == names.end());
  BOOST_TEST_MESSAGE("op_db_attention: " << names.size() << " ops");
}

BOOST_AUTO_TEST_SUITE_END()
