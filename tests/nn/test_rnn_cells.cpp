// RNNCell, LSTMCell, GRUCell and their functional forms and fused kernels (rnn.hpp): a
// hand-derived case, values against the formulas written with plain ops, gradcheck and
// gradgradcheck (fused backward, then the composed one), float32 vs float64, thread-count
// bit-identity, parameters, repr and every error.
#include <cmath>
#include <optional>

#include "test_util.hpp"
#include "xgrad/nn/rnn.hpp"

using namespace xgrad;
using xgrad::test::ThreadGuard;
using namespace xgrad::nn;
namespace F = xgrad::nn::functional;
using xgrad::test::check_close;
using xgrad::test::check_gradcheck;
using xgrad::test::check_gradgradcheck;
using xgrad::test::check_values;
using xgrad::test::rand64;

namespace {

using Ts = std::vector<Tensor>;

// x W^T + b with plain ops (the reference).
Tensor lin(const Tensor& x, const Tensor& w, const Tensor& b) {
  Tensor y = matmul(x, w.t());
  return b.defined() ? y + b : y;
}

Tensor rnn_ref(const Tensor& x, const Tensor& h, const Tensor& wi, const Tensor& wh, const Tensor& bi, const Tensor& bh,
               bool relu) {
  Tensor a = lin(x, wi, bi) + lin(h, wh, bh);
  return relu ? a.relu() : a.tanh();
}

std::tuple<Tensor, Tensor> lstm_ref(const Tensor& x, const Tensor& h, const Tensor& c, const Tensor& wi,
                                    const Tensor& wh, const Tensor& bi, const Tensor& bh) {
  auto g = chunk(lin(x, wi, bi) + lin(h, wh, bh), 4, 1);
  Tensor i = g[0].sigmoid(), f = g[1].sigmoid(), gg = g[2].tanh(), o = g[3].sigmoid();
  Tensor c2 = f * c + i * gg;
  return {o * c2.tanh(), c2};
}

Tensor gru_ref(const Tensor& x, const Tensor& h, const Tensor& wi, const Tensor& wh, const Tensor& bi,
               const Tensor& bh) {
  auto a = chunk(lin(x, wi, bi), 3, 1), b = chunk(lin(h, wh, bh), 3, 1);
  Tensor r = (a[0] + b[0]).sigmoid(), z = (a[1] + b[1]).sigmoid();
  Tensor n = (a[2] + r * b[2]).tanh();
  return (1.0 - z) * n + z * h;  // PyTorch's formula
}

Ts params_of(Module& m) { return m.parameters(); }

std::vector<std::string> names_of(const std::vector<std::pair<std::string, Tensor>>& v) {
  std::vector<std::string> out;
  for (const auto& [n, t] : v) out.push_back(n);
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(rnn_cells)

BOOST_AUTO_TEST_CASE(hand_derived_rnn_cell) {
  // One step, H = I = 1: h = tanh(w x + u h0 + b_ih + b_hh), with w = 0.5, u = -0.3,
  // b_ih = 0.1, b_hh = 0.2, x = 0.7, h0 = 0.4: the pre-activation is 0.35 - 0.12 + 0.3 = 0.53.
  // With s = 1 - h^2: dh/dw = s x, dh/du = s h0, dh/db_ih = dh/db_hh = s, dh/dx = s w,
  // dh/dh0 = s u.
  RNNCell cell(1, 1);
  cell.to(float64);
  {
    NoGradGuard ng;
    cell.weight_ih.fill_(0.5);
    cell.weight_hh.fill_(-0.3);
    cell.bias_ih.fill_(0.1);
    cell.bias_hh.fill_(0.2);
  }
  Tensor x = tensor({{0.7}}, dtype(float64)).requires_grad_(true);
  Tensor h0 = tensor({{0.4}}, dtype(float64)).requires_grad_(true);
  Tensor h = cell.forward(x, h0);
  const double hv = std::tanh(0.53), s = 1.0 - hv * hv;
  check_values(h, {1, 1}, {hv});
  BOOST_CHECK_EQUAL(h.grad_fn_name(), "FusedRnnTanhCellBackward");
  h.backward();
  check_values(cell.weight_ih.grad(), {1, 1}, {s * 0.7});
  check_values(cell.weight_hh.grad(), {1, 1}, {s * 0.4});
  check_values(cell.bias_ih.grad(), {1}, {s});
  check_values(cell.bias_hh.grad(), {1}, {s});
  check_values(x.grad(), {1, 1}, {s * 0.5});
  check_values(h0.grad(), {1, 1}, {s * -0.3});
}

BOOST_AUTO_TEST_CASE(values_match_the_formulas) {
  manual_seed(1);
  for (bool bias : {true, false}) {
    for (bool relu : {false, true}) {
      RNNCell cell(RNNCellOptions(3, 4).bias(bias).nonlinearity(relu ? "relu" : "tanh"));
      cell.to(float64);
      Tensor x = rand64({2, 3}), h = rand64({2, 4});
      check_close(cell.forward(x, h), rnn_ref(x, h, cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh, relu),
                  1e-12);
    }
    LSTMCell lc(LSTMCellOptions(3, 4).bias(bias));
    lc.to(float64);
    Tensor x = rand64({2, 3}), h = rand64({2, 4}), c = rand64({2, 4});
    auto [hy, cy] = lc.forward(x, std::tuple{h, c});
    auto [rh, rc] = lstm_ref(x, h, c, lc.weight_ih, lc.weight_hh, lc.bias_ih, lc.bias_hh);
    check_close(hy, rh, 1e-12);
    check_close(cy, rc, 1e-12);
    GRUCell gc(GRUCellOptions(3, 4).bias(bias));
    gc.to(float64);
    check_close(gc.forward(x, h), gru_ref(x, h, gc.weight_ih, gc.weight_hh, gc.bias_ih, gc.bias_hh), 1e-12);
  }
}

BOOST_AUTO_TEST_CASE(unbatched_and_default_state) {
  manual_seed(2);
  LSTMCell lc(3, 4);
  lc.to(float64);
  Tensor x = rand64({3}), h = rand64({4}), c = rand64({4});
  auto [hy, cy] = lc.forward(x, std::tuple{h, c});
  BOOST_CHECK(hy.shape() == Shape({4}));
  auto [bh, bc] = lc.forward(x.unsqueeze(0), std::tuple{h.unsqueeze(0), c.unsqueeze(0)});
  check_close(hy, bh.squeeze(0), 0.0);
  check_close(cy, bc.squeeze(0), 0.0);
  // hx omitted = zeros
  auto [zh, zc] = lc.forward(x.expand({2, 3}));
  auto [wh, wc] =
      lc.forward(x.expand({2, 3}), std::tuple{zeros({2, 4}, dtype(float64)), zeros({2, 4}, dtype(float64))});
  check_close(zh, wh, 0.0);
  check_close(zc, wc, 0.0);
  RNNCell rc(3, 4);
  rc.to(float64);
  check_close(rc.forward(x), rc.forward(x, zeros({4}, dtype(float64))), 0.0);
  BOOST_CHECK(rc.forward(x).shape() == Shape({4}));
  GRUCell gc(3, 4);
  gc.to(float64);
  check_close(gc(x), gc.forward(x, zeros({4}, dtype(float64))), 0.0);
}

BOOST_AUTO_TEST_CASE(gradcheck_cells) {
  manual_seed(3);
  for (bool bias : {true, false}) {
    for (const char* nl : {"tanh", "relu"}) {
      RNNCell cell(RNNCellOptions(3, 4).bias(bias).nonlinearity(nl));
      cell.to(float64);
      Ts in = {rand64({2, 3}), rand64({2, 4})};
      for (const Tensor& p : params_of(cell)) in.push_back(p);
      auto f = [&](const Ts& t) { return cell.forward(t[0], t[1]); };
      check_gradcheck(f, in);
      check_gradgradcheck(f, in);
    }
    LSTMCell lc(LSTMCellOptions(3, 4).bias(bias));
    lc.to(float64);
    Ts in = {rand64({2, 3}), rand64({2, 4}), rand64({2, 4})};
    for (const Tensor& p : params_of(lc)) in.push_back(p);
    auto fl = [&](const Ts& t) {
      auto [h, c] = lc.forward(t[0], std::tuple{t[1], t[2]});
      return cat({h.flatten(), c.flatten()});
    };
    check_gradcheck(fl, in);
    check_gradgradcheck(fl, in);
    GRUCell gc(GRUCellOptions(3, 4).bias(bias));
    gc.to(float64);
    Ts gin = {rand64({2, 3}), rand64({2, 4})};
    for (const Tensor& p : params_of(gc)) gin.push_back(p);
    auto fg = [&](const Ts& t) { return gc.forward(t[0], t[1]); };
    check_gradcheck(fg, gin);
    check_gradgradcheck(fg, gin);
  }
  // unbatched, default state
  LSTMCell lc(3, 4);
  lc.to(float64);
  Ts in = {rand64({3})};
  for (const Tensor& p : params_of(lc)) in.push_back(p);
  check_gradcheck(
      [&](const Ts& t) {
        auto [h, c] = lc.forward(t[0]);
        return cat({h, c});
      },
      in);
}

BOOST_AUTO_TEST_CASE(only_one_output_used) {
  // The cell state's gradient is zero-filled when only h' is used (and vice versa).
  manual_seed(4);
  LSTMCell lc(3, 4);
  lc.to(float64);
  Ts in = {rand64({2, 3}), rand64({2, 4}), rand64({2, 4})};
  check_gradcheck([&](const Ts& t) { return std::get<1>(lc.forward(t[0], std::tuple{t[1], t[2]})); }, in);
  check_gradcheck([&](const Ts& t) { return std::get<0>(lc.forward(t[0], std::tuple{t[1], t[2]})); }, in);
}

BOOST_AUTO_TEST_CASE(float32_close_to_float64) {
  manual_seed(5);
  LSTMCell lc(5, 7);
  GRUCell gc(5, 7);
  RNNCell rc(5, 7);
  Tensor x = randn({3, 5}), h = randn({3, 7}), c = randn({3, 7});
  auto [h32, c32] = lc.forward(x, std::tuple{h, c});
  const Tensor g32 = gc.forward(x, h), r32 = rc.forward(x, h);
  lc.to(float64);
  gc.to(float64);
  rc.to(float64);
  const Tensor xd = x.to(float64), hd = h.to(float64), cd = c.to(float64);
  auto [h64, c64] = lc.forward(xd, std::tuple{hd, cd});
  check_close(h32, h64, 1e-5);
  check_close(c32, c64, 1e-5);
  check_close(g32, gc.forward(xd, hd), 1e-5);
  check_close(r32, rc.forward(xd, hd), 1e-5);
}

BOOST_AUTO_TEST_CASE(bit_identical_across_thread_counts) {
  // Rows are split across tasks above the grain (B = 64 rows of 4 * 256 gates).
  ThreadGuard guard;
  manual_seed(6);
  LSTMCell lc(32, 256);
  GRUCell gc(32, 256);
  const Tensor x0 = randn({64, 32}), h0 = randn({64, 256}), c0 = randn({64, 256});
  std::vector<Ts> runs;
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    lc.zero_grad();
    gc.zero_grad();
    Tensor x = x0.detach().requires_grad_(true), h = h0.detach().requires_grad_(true),
           c = c0.detach().requires_grad_(true);
    auto [hy, cy] = lc.forward(x, std::tuple{h, c});
    Tensor g = gc.forward(x, h);
    ((hy * hy).sum() + (cy * 0.5).sum() + (g * g).sum()).backward();
    runs.push_back(
        {hy, cy, g, x.grad(), h.grad(), c.grad(), lc.weight_ih.grad(), lc.weight_hh.grad(), gc.weight_hh.grad()});
  }
  for (std::size_t i = 0; i < runs[0].size(); ++i) check_close(runs[0][i], runs[1][i], 0.0);
}

BOOST_AUTO_TEST_CASE(parameters_init_and_repr) {
  LSTMCell lc(3, 4);
  BOOST_CHECK(
      (names_of(lc.named_parameters()) == std::vector<std::string>{"weight_ih", "weight_hh", "bias_ih", "bias_hh"}));
  BOOST_CHECK(lc.weight_ih.shape() == Shape({16, 3}));
  BOOST_CHECK(lc.weight_hh.shape() == Shape({16, 4}));
  BOOST_CHECK(lc.bias_hh.shape() == Shape({16}));
  GRUCell gc(GRUCellOptions(3, 4).bias(false));
  BOOST_CHECK((names_of(gc.named_parameters()) == std::vector<std::string>{"weight_ih", "weight_hh"}));
  BOOST_CHECK(gc.weight_ih.shape() == Shape({12, 3}));
  BOOST_CHECK(!gc.bias_ih.defined());
  RNNCell rc(3, 16);
  BOOST_CHECK(rc.weight_hh.shape() == Shape({16, 16}));
  for (const Tensor& p : rc.parameters()) {  // U(-1/4, 1/4)
    BOOST_CHECK(p.abs().max().item<float>() <= 0.25f);
    BOOST_CHECK(p.abs().max().item<float>() > 0.0f);
  }
  BOOST_CHECK_EQUAL(lc.extra_repr(), "3, 4");
  BOOST_CHECK_EQUAL(gc.extra_repr(), "3, 4, bias=False");
  BOOST_CHECK_EQUAL(RNNCell(RNNCellOptions(3, 4).nonlinearity("relu")).extra_repr(), "3, 4, nonlinearity=relu");
  BOOST_CHECK_EQUAL(rc.repr(), "RNNCell(3, 16)");
}

BOOST_AUTO_TEST_CASE(errors) {
  RNNCell rc(3, 4);
  LSTMCell lc(3, 4);
  GRUCell gc(3, 4);
  XGRAD_CHECK_THROW_MSG(RNNCell(RNNCellOptions(3, 4).nonlinearity("gelu")),
                        "RNNCell: Unknown nonlinearity 'gelu'. Select from 'tanh' or 'relu'.");
  XGRAD_CHECK_THROW_MSG(RNNCell(-1, 4), "RNNCell: invalid input_size -1");
  XGRAD_CHECK_THROW_MSG(rc.forward(zeros({1, 2, 3})), "RNNCell: Expected input to be 1D or 2D, got 3D instead");
  XGRAD_CHECK_THROW_MSG(rc.forward(zeros({2, 3}), zeros({1, 2, 4})),
                        "RNNCell: Expected hidden to be 1D or 2D, got 3D instead");
  XGRAD_CHECK_THROW_MSG(rc.forward(zeros({2, 3}), zeros({4})),
                        "RNNCell: Expected hidden to be 2D for batched 2-D input, got 1D instead");
  XGRAD_CHECK_THROW_MSG(rc.forward(zeros({2, 5})), "RNNCell: input has inconsistent input_size: got 5, expected 3");
  XGRAD_CHECK_THROW_MSG(rc.forward(zeros({2, 3}), zeros({3, 4})),
                        "RNNCell: Input batch size 2 doesn't match hidden0 batch size 3");
  XGRAD_CHECK_THROW_MSG(rc.forward(zeros({2, 3}), zeros({2, 5})),
                        "RNNCell: hidden0 has inconsistent hidden_size: got 5, expected 4");
  XGRAD_CHECK_THROW_MSG(rc.forward(zeros({2, 3}, dtype(int64))), "RNNCell: expected a floating dtype");
  XGRAD_CHECK_THROW_MSG(rc.forward(zeros({2, 3}, dtype(float64))),
                        "RNNCell: input has dtype float64 but weight_ih has dtype float32");
  XGRAD_CHECK_THROW_MSG(rc.forward(Tensor()), "RNNCell");
  XGRAD_CHECK_THROW_MSG(lc.forward(zeros({2, 3}), std::tuple{zeros({2, 4}), zeros({4})}),
                        "LSTMCell: Expected hx[1] to be 2D for batched 2-D input, got 1D instead");
  XGRAD_CHECK_THROW_MSG(lc.forward(zeros({3}), std::tuple{zeros({1, 4}), zeros({4})}),
                        "LSTMCell: Expected hx[0] to be 1D for unbatched 1-D input, got 2D instead");
  XGRAD_CHECK_THROW_MSG(lc.forward(zeros({2, 3}), std::tuple{zeros({2, 4}), zeros({2, 5})}),
                        "LSTMCell: hidden1 has inconsistent hidden_size: got 5, expected 4");
  XGRAD_CHECK_THROW_MSG(gc.forward(zeros({2, 3}), zeros({2, 4}, dtype(float64))),
                        "GRUCell: input has dtype float32 but hx has dtype float64");
  // functional forms
  const Tensor x = zeros({2, 3}), h = zeros({2, 4}), wi = zeros({4, 3}), wh = zeros({4, 4});
  XGRAD_CHECK_THROW_MSG(F::rnn_tanh_cell(zeros({3}), h, wi, wh),
                        "rnn_tanh_cell: expected input of shape [batch, input_size], got [3]");
  XGRAD_CHECK_THROW_MSG(F::rnn_tanh_cell(x, h, wi, zeros({4, 5})),
                        "rnn_tanh_cell: expected weight_hh of shape [4, 4] (weight_ih is [4, 3]), got [4, 5]");
  XGRAD_CHECK_THROW_MSG(F::rnn_relu_cell(x, h, wi, wh, zeros({5})),
                        "rnn_relu_cell: expected bias_ih of shape [4], got [5]");
  XGRAD_CHECK_THROW_MSG(F::lstm_cell(x, {h, h}, zeros({10, 3}), wh),
                        "lstm_cell: expected weight_ih of shape [4 * hidden_size, input_size], got [10, 3]");
  XGRAD_CHECK_THROW_MSG(F::gru_cell(x, zeros({2}), zeros({12, 3}), zeros({12, 4})),
                        "gru_cell: expected hidden0 of shape [batch, hidden_size], got [2]");
  // fused kernels
  XGRAD_CHECK_THROW_MSG(F::fused_lstm_cell(zeros({2, 8}), zeros({2, 8}), zeros({2, 3})),
                        "fused_lstm_cell: expected cx of shape [2, 2] for gates of shape [2, 8], got [2, 3]");
  XGRAD_CHECK_THROW_MSG(F::fused_gru_cell(zeros({2, 7}), zeros({2, 7}), zeros({2, 2})),
                        "fused_gru_cell: expected input_gates of shape [batch, 3 * hidden_size], got [2, 7]");
  XGRAD_CHECK_THROW_MSG(F::fused_rnn_cell(zeros({2, 4}), zeros({2, 5})),
                        "fused_rnn_cell: hidden_gates of shape [2, 5] does not match input_gates of shape [2, 4]");
  XGRAD_CHECK_THROW_MSG(F::fused_rnn_cell(zeros({2, 4}), zeros({2, 4}), "gelu"),
                        "fused_rnn_cell: Unknown nonlinearity 'gelu'");
  XGRAD_CHECK_THROW_MSG(F::fused_rnn_cell(zeros({2, 4}, dtype(int64)), zeros({2, 4}, dtype(int64))),
                        "fused_rnn_cell: expected a floating dtype (float32 or float64), got int64");
  XGRAD_CHECK_THROW_MSG(F::fused_rnn_cell(zeros({2, 4}), zeros({2, 4}, dtype(float64))),
                        "fused_rnn_cell: hidden_gates has dtype float64 but input_gates has dtype float32");
}

BOOST_AUTO_TEST_CASE(empty_batch) {
  LSTMCell lc(3, 4);
  auto [h, c] = lc.forward(zeros({0, 3}));
  BOOST_CHECK(h.shape() == Shape({0, 4}));
  BOOST_CHECK(c.shape() == Shape({0, 4}));
  GRUCell gc(3, 4);
  BOOST_CHECK(gc.forward(zeros({0, 3})).shape() == Shape({0, 4}));
}

BOOST_AUTO_TEST_SUITE_END()
