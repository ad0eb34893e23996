// The op table of layer_norm and rms_norm (layer_norm.hpp): run by autograd/op_db.hpp on
// contiguous, transposed, strided and expanded inputs (views vs contiguous copies, float64
// gradcheck and gradgradcheck through the views, the int64 dtype error). First derivatives
// go through the fused backward, second ones through the composed one (create_graph). The
// module forms must equal the functional form exactly. Values, modules and errors:
// test_layer_norm.cpp.
#include "autograd/op_db.hpp"
#include "xgrad/nn/layer_norm.hpp"

namespace {

std::vector<OpInfo> layer_norm_ops() {
  auto u = [](auto f) { return [f](const Ts& t) { return f(t[0]); }; };
  const Tensor w4 = tensor({1.5, -0.5, 0.8, 2.0}, dtype(float64)), b4 = tensor({0.2, -0.1, 0.0, 0.4}, dtype(float64));
  const Tensor w34 = reshape(arange(12, dtype(float64)) * 0.2 - 1.1, {3, 4});
  const Tensor b34 = reshape(arange(12, dtype(float64)) * -0.1 + 0.3, {3, 4});
  return {
      {.name = "layer_norm_fixed_affine",
       .fn = u([w4, b4](auto x) { return F::layer_norm(x, {4}, w4, b4); }),
       .samples = {{{3, 4}}, {{2, 3, 4}}}},
      {.name = "layer_norm_no_affine",
       .fn = u([](auto x) { return F::layer_norm(x, {4}); }),
       .forms = {u([](auto x) {
         nn::LayerNorm m(nn::LayerNormOptions(4).elementwise_affine(false));
         return m(x);
       })},
       .samples = {{{3, 4}}, {{2, 2, 4}}}},
      {.name = "layer_norm_two_dims",
       .fn = u([w34, b34](auto x) {
         return F::layer_norm(x, {3, 4}, w34, b34, 1e-3);
       }),
       .samples = {{{2, 3, 4}}, {{3, 4}}}},
      {.name = "layer_norm_affine_inputs",
       .arity = 3,
       .fn = [](const Ts& t) { return F::layer_norm(t[0], {4}, t[1], t[2]); },
       .samples = {{{3, 4}, {4}, {4}}, {{2, 3, 4}, {4}, {4}}}},
      {.name = "layer_norm_affine_inputs_two_dims",
       .arity = 3,
       .fn =
           [](const Ts& t) {
             return F::layer_norm(t[0], {2, 3}, t[1], t[2]);
           },
       .samples = {{{2, 2, 3}, {2, 3}, {2, 3}}}},
      {.name = "layer_norm_weight_only",
       .arity = 2,
       .fn = [](const Ts& t) { return F::layer_norm(t[0], {4}, t[1]); },
       .samples = {{{3, 4}, {4}}}},
      {.name = "rms_norm_fixed_weight",
       .fn = u([w4](auto x) { return F::rms_norm(x, {4}, w4, 1e-4); }),
       .samples = {{{3, 4}}, {{2, 3, 4}}}},
      {.name = "rms_norm_default_eps",
       .fn = u([](auto x) { return F::rms_norm(x, {4}); }),
       .forms = {u([](auto x) {
         nn::RMSNorm m(nn::RMSNormOptions(4).elementwise_affine(false));
         return m(x);
       })},
       .samples = {{{3, 4}}}},
      {.name = "rms_norm_two_dims",
       .fn = u([w34](auto x) {
         return F::rms_norm(x, {3, 4}, w34);
       }),
       .samples = {{{2, 3, 4}}}},
      {.name = "rms_norm_weight_input",
       .arity = 2,
       .fn = [](const Ts& t) { return F::rms_norm(t[0], {4}, t[1]); },
       .samples = {{{3, 4}, {4}}, {{2, 3, 4}, {4}}}},
  };
}

}  // namespace

BOOST_AUTO_TEST_SUITE(op_db_layer_norm)

BOOST_AUTO_TEST_CASE(layer_norm) { run_all(layer_norm_ops()); }

BOOST_AUTO_TEST_CASE(names_are_unique) {
  std::vector<std::string> names;
  for (const auto& op : layer_norm_ops()) names.push_back(op.name);
  std::sort(names.begin(), names.end());
  BOOST_CHECK(std::adjacent_find(names.begin(), names.end()) == names.end());
  BOOST_TEST_MESSAGE("op_db_layer_norm: " << names.size() << " ops");
}

BOOST_AUTO_TEST_SUITE_END()
