// The op table of the convolutions (conv.hpp), run by op_db.hpp: values of every layout
// variant against contiguous copies, float64 gradcheck and gradgradcheck through
// contiguous, transposed, strided and expanded inputs, and the int64 dtype error. Shapes are
// tiny so that CI stays fast; conv against a direct convolution is in test_conv.cpp.
#include "autograd/op_db.hpp"
#include "xgrad/nn/conv.hpp"

namespace {

std::vector<OpInfo> conv_ops() {
  return {
      {.name = "F::conv1d",
       .arity = 3,
       .fn = [](const Ts& t) { return F::conv1d(t[0], t[1], t[2]); },
       .samples = {{{2, 2, 5}, {3, 2, 2}, {3}}}},
      {.name = "F::conv1d_stride_pad_dil_groups",
       .arity = 3,
       .fn = [](const Ts& t) { return F::conv1d(t[0], t[1], t[2], {2}, 1, {2}, 2); },
       .samples = {{{2, 2, 5}, {2, 1, 2}, {2}}}},
      {.name = "F::conv1d_same_unbatched",
       .arity = 2,
       .fn = [](const Ts& t) { return F::conv1d(t[0], t[1], {}, {1}, "same"); },
       .samples = {{{2, 5}, {2, 2, 2}}}},
      {.name = "F::conv2d",
       .arity = 3,
       .fn = [](const Ts& t) { return F::conv2d(t[0], t[1], t[2], {1}, 1); },
       .samples = {{{1, 2, 4, 5}, {2, 2, 2, 2}, {2}}}},
      {.name = "F::conv2d_strided_dilated",
       .arity = 2,
       .fn =
           [](const Ts& t) {
             return F::conv2d(t[0], t[1], {}, {2, 1}, {0, 1}, {1, 2});
           },
       .samples = {{{2, 2, 4, 5}, {2, 2, 2, 2}}}},
      {.name = "F::conv2d_depthwise",
       .arity = 2,
       .fn = [](const Ts& t) { return F::conv2d(t[0], t[1], {}, {1}, 0, {1}, 2); },
       .samples = {{{1, 2, 4, 5}, {2, 1, 2, 3}}}},
      {.name = "F::conv2d_1x1",
       .arity = 3,
       .fn = [](const Ts& t) { return F::conv2d(t[0], t[1], t[2]); },
       .samples = {{{2, 2, 3, 2}, {3, 2, 1, 1}, {3}}}},
      {.name = "F::conv3d",
       .arity = 2,
       .fn =
           [](const Ts& t) {
             return F::conv3d(t[0], t[1], {}, {1}, {1, 0, 0});
           },
       .samples = {{{1, 2, 2, 3, 2}, {2, 2, 2, 2, 1}}}},
      {.name = "F::conv_transpose1d",
       .arity = 3,
       .fn = [](const Ts& t) { return F::conv_transpose1d(t[0], t[1], t[2], {2}, {1}, {1}); },
       .samples = {{{2, 2, 4}, {2, 3, 3}, {3}}}},
      {.name = "F::conv_transpose2d",
       .arity = 3,
       .fn =
           [](const Ts& t) {
             return F::conv_transpose2d(t[0], t[1], t[2], {2, 1}, {1, 0}, {1, 0}, 2, {1, 2});
           },
       .samples = {{{1, 2, 3, 3}, {2, 1, 2, 2}, {2}}}},
  };
}

}  // namespace

BOOST_AUTO_TEST_SUITE(op_db_conv)

BOOST_AUTO_TEST_CASE(convolutions) { run_all(conv_ops()); }

BOOST_AUTO_TEST_SUITE_END()
