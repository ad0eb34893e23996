// The op table of the normalisation and channel-dropout ops (normalization.hpp, dropout.hpp):
// run by autograd/op_db.hpp on contiguous, transposed, strided and expanded inputs (views vs
// contiguous copies, float64 gradcheck and gradgradcheck through the views, the int64 dtype
// error). batch_norm's first derivatives go through its fused backward, the second through
// the composed one (create_graph). Values, modules and errors: test_normalization.cpp and
// test_dropout.cpp.
#include "autograd/op_db.hpp"
#include "xgrad/nn/dropout.hpp"
#include "xgrad/nn/normalization.hpp"

namespace {

std::vector<OpInfo> normalization_ops() {
  auto u = [](auto f) { return [f](const Ts& t) { return f(t[0]); }; };
  const Tensor w2 = tensor({1.5, -0.5}, dtype(float64)), b2 = tensor({0.2, -0.1}, dtype(float64));
  const Tensor w3 = tensor({0.5, 2.0, -1.0}, dtype(float64)), b3 = tensor({0.3, 0.0, -0.2}, dtype(float64));
  const Tensor rm2 = tensor({0.1, -0.3}, dtype(float64)), rv2 = tensor({0.8, 1.7}, dtype(float64));
  const Tensor w4 = tensor({1.0, 0.5, -2.0, 1.5}, dtype(float64)), b4 = tensor({0.1, 0.2, 0.3, 0.4}, dtype(float64));
  return {
      // batch_norm in training mode: fixed weight and bias, and weight and bias as inputs.
      {.name = "batch_norm_train_fixed_affine",
       .fn = u([w2, b2](auto x) { return F::batch_norm(x, Tensor(), Tensor(), w2, b2, true); }),
       .forms = {u([w2, b2](auto x) {
         return nn::norm_impl::batch_norm(x, Tensor(), Tensor(), w2, b2, true, 0.1, 1e-5, "batch_norm");
       })},
       .samples = {{{3, 2, 4}}, {{4, 2}}, {{2, 2, 2, 3}}}},
      {.name = "batch_norm_train_no_affine",
       .fn = u([](auto x) { return F::batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true); }),
       .samples = {{{3, 2, 4}}}},
      {.name = "batch_norm_train_affine_inputs",
       .arity = 3,
       .fn = [](const Ts& t) { return F::batch_norm(t[0], Tensor(), Tensor(), t[1], t[2], true); },
       .samples = {{{3, 2, 3}, {2}, {2}}, {{5, 2}, {2}, {2}}}},
      // batch_norm in evaluation mode with fixed running statistics.
      {.name = "batch_norm_eval",
       .arity = 3,
       .fn = [rm2, rv2](const Ts& t) { return F::batch_norm(t[0], rm2, rv2, t[1], t[2], false); },
       .samples = {{{3, 2, 3}, {2}, {2}}}},
      // instance_norm / group_norm / local_response_norm
      {.name = "instance_norm",
       .fn = u([](auto x) { return F::instance_norm(x); }),
       .samples = {{{2, 3, 4}}, {{2, 2, 2, 3}}}},
      {.name = "instance_norm_affine",
       .arity = 3,
       .fn = [](const Ts& t) { return F::instance_norm(t[0], Tensor(), Tensor(), t[1], t[2]); },
       .samples = {{{2, 3, 4}, {3}, {3}}}},
      {.name = "group_norm",
       .fn = u([w4, b4](auto x) { return F::group_norm(x, 2, w4, b4); }),
       .samples = {{{2, 4, 3}}, {{3, 4}}}},
      {.name = "group_norm_affine_inputs",
       .arity = 3,
       .fn = [](const Ts& t) { return F::group_norm(t[0], 2, t[1], t[2]); },
       .samples = {{{2, 4, 3}, {4}, {4}}}},
      {.name = "group_norm_one_group",
       .fn = u([w3, b3](auto x) { return F::group_norm(x, 1, w3, b3); }),
       .samples = {{{2, 3, 2}}}},
      {.name = "local_response_norm",
       .fn = u([](auto x) { return F::local_response_norm(x, 3, 0.5, 0.75, 1.0); }),
       .samples = {{{2, 5, 3}}, {{2, 4, 2, 2}}}},
      {.name = "local_response_norm_even",
       .fn = u([](auto x) { return F::local_response_norm(x, 2, 1.0, 0.5, 2.0); }),
       .samples = {{{2, 3, 4}}}},
      // dropout: the mask is fixed by reseeding before each call.
      {.name = "dropout1d",
       .fn = u([](auto x) {
         manual_seed(42);
         return F::dropout1d(x, 0.5, true);
       }),
       .samples = {{{3, 4, 2}}, {{4, 3}}},
       .dtype_error = "needs a floating tensor"},
      {.name = "dropout2d",
       .fn = u([](auto x) {
         manual_seed(43);
         return F::dropout2d(x, 0.3, true);
       }),
       .samples = {{{3, 4, 2, 2}}},
       .dtype_error = "needs a floating tensor"},
      {.name = "alpha_dropout",
       .fn = u([](auto x) {
         manual_seed(44);
         return F::alpha_dropout(x, 0.4, true);
       }),
       .samples = {{{3, 4}}, {{2, 3, 2}}},
       .dtype_error = "needs a floating tensor"},
  };
}

}  // namespace

BOOST_AUTO_TEST_SUITE(op_db_normalization)

BOOST_AUTO_TEST_CASE(normalization) { run_all(normalization_ops()); }

BOOST_AUTO_TEST_CASE(names_are_unique) {
  std::vector<std::string> names;
  for (const auto& op : normalization_ops()) names.push_back(op.name);
  std::sort(names.begin(), names.end());
  BOOST_CHECK(std::adjacent_find(names.begin(), names.end()) == names.end());
  BOOST_TEST_MESSAGE("op_db_normalization: " << names.size() << " ops");
}

BOOST_AUTO_TEST_SUITE_END()
