// The op table of the recurrent cells' functional forms and fused gate kernels (rnn.hpp):
// run by autograd/op_db.hpp on contiguous, transposed, strided and expanded inputs (views vs
// contiguous copies, float64 gradcheck and gradgradcheck through the views, the int64 dtype
// error). First derivatives go through the fused backward, second ones through the composed
// one (create_graph). Multi-output ops return their outputs flattened and concatenated.
// Layers, modules and errors: test_rnn.cpp, test_rnn_cells.cpp.
#include "autograd/op_db.hpp"
#include "xgrad/nn/rnn.hpp"

namespace {

Tensor both(const std::tuple<Tensor, Tensor>& r) { return cat({std::get<0>(r).flatten(), std::get<1>(r).flatten()}); }

std::vector<OpInfo> rnn_ops() {
  return {
      {.name = "fused_rnn_tanh_cell",
       .arity = 2,
       .fn = [](const Ts& t) { return F::fused_rnn_cell(t[0], t[1]); },
       .samples = {{{2, 4}, {2, 4}}, {{3, 1}, {3, 1}}}},
      {.name = "fused_rnn_relu_cell",
       .arity = 2,
       .fn = [](const Ts& t) { return F::fused_rnn_cell(t[0], t[1], "relu"); },
       .domains = {Dom::AwayFromZero},
       .samples = {{{2, 4}, {2, 4}}}},
      {.name = "fused_lstm_cell",
       .arity = 3,
       .fn = [](const Ts& t) { return both(F::fused_lstm_cell(t[0], t[1], t[2])); },
       .samples = {{{2, 8}, {2, 8}, {2, 2}}, {{3, 4}, {3, 4}, {3, 1}}}},
      {.name = "fused_gru_cell",
       .arity = 3,
       .fn = [](const Ts& t) { return F::fused_gru_cell(t[0], t[1], t[2]); },
       .samples = {{{2, 6}, {2, 6}, {2, 2}}, {{3, 3}, {3, 3}, {3, 1}}}},
      {.name = "rnn_tanh_cell",
       .arity = 6,
       .fn = [](const Ts& t) { return F::rnn_tanh_cell(t[0], t[1], t[2], t[3], t[4], t[5]); },
       .samples = {{{2, 3}, {2, 4}, {4, 3}, {4, 4}, {4}, {4}}}},
      {.name = "rnn_tanh_cell_no_bias",
       .arity = 4,
       .fn = [](const Ts& t) { return F::rnn_tanh_cell(t[0], t[1], t[2], t[3]); },
       .samples = {{{2, 3}, {2, 2}, {2, 3}, {2, 2}}}},
      {.name = "rnn_relu_cell",
       .arity = 6,
       .fn = [](const Ts& t) { return F::rnn_relu_cell(t[0], t[1], t[2], t[3], t[4], t[5]); },
       .samples = {{{2, 3}, {2, 4}, {4, 3}, {4, 4}, {4}, {4}}}},
      {.name = "lstm_cell",
       .arity = 7,
       .fn =
           [](const Ts& t) {
             return both(F::lstm_cell(t[0], {t[1], t[2]}, t[3], t[4], t[5], t[6]));
           },
       .samples = {{{2, 3}, {2, 2}, {2, 2}, {8, 3}, {8, 2}, {8}, {8}}}},
      {.name = "lstm_cell_no_bias",
       .arity = 5,
       .fn =
           [](const Ts& t) {
             return both(F::lstm_cell(t[0], {t[1], t[2]}, t[3], t[4]));
           },
       .samples = {{{3, 2}, {3, 2}, {3, 2}, {8, 2}, {8, 2}}}},
      {.name = "gru_cell",
       .arity = 6,
       .fn = [](const Ts& t) { return F::gru_cell(t[0], t[1], t[2], t[3], t[4], t[5]); },
       .samples = {{{2, 3}, {2, 2}, {6, 3}, {6, 2}, {6}, {6}}}},
  };
}

}  // namespace

BOOST_AUTO_TEST_SUITE(op_db_rnn)

BOOST_AUTO_TEST_CASE(rnn_cells) { run_all(rnn_ops()); }

BOOST_AUTO_TEST_CASE(names_are_unique) {
  std::vector<std::string> names;
  for (const auto& op : rnn_ops()) names.push_back(op.name);
  std::sort(names.begin(), names.end());
  BOOST_CHECK(std::adjacent_find(names.begin(), names.end()) == names.end());
  BOOST_TEST_MESSAGE("op_db_rnn: " << names.size() << " ops");
}

BOOST_AUTO_TEST_SUITE_END()
