// RNN, LSTM and GRU layers (rnn.hpp): float64 gradcheck (and gradgradcheck on small
// layers) for every configuration (layers, bidirectional, proj_size, batch_first,
// unbatched, packed with unsorted lengths); equivalence with the same computation written
// with the cells in a loop sharing the weights (forward and every gradient); packed input
// vs each sequence run alone; dropout between layers; thread-count bit-identity; parameter
// names (PyTorch's), repr and every error.
#include <cmath>
#include <map>
#include <memory>
#include <optional>

#include "test_util.hpp"
#include "xgrad/nn/rnn.hpp"
#include "xgrad/nn/rnn_utils.hpp"

using namespace xgrad;
using xgrad::test::ThreadGuard;
using namespace xgrad::nn;
namespace F = xgrad::nn::functional;
namespace R = xgrad::nn::utils::rnn;
using xgrad::test::check_close;
using xgrad::test::check_gradcheck;
using xgrad::test::check_gradgradcheck;
using xgrad::test::rand64;

namespace {

using Ts = std::vector<Tensor>;
using LstmState = std::tuple<Tensor, Tensor>;

std::vector<std::string> names_of(const std::vector<std::pair<std::string, Tensor>>& v) {
  std::vector<std::string> out;
  for (const auto& [n, t] : v) out.push_back(n);
  return out;
}

Tensor param(const Module& m, const std::string& name) {
  for (const auto& [n, t] : m.named_parameters())
    if (n == name) return t;
  BOOST_FAIL("no parameter " << name);
  return Tensor();
}

Ts with_params(Ts in, const Module& m) {
  for (const Tensor& p : m.parameters()) in.push_back(p);
  return in;
}

Tensor flat(const Ts& ts) {
  Ts f;
  for (const Tensor& t : ts) f.push_back(t.flatten());
  return cat(f);
}

// Each layer and direction of a layer as a cell whose parameters share the layer's storage
// (separate leaves: their gradients are compared with the layer's).
template <class Cell, class CellOptions>
std::vector<std::shared_ptr<Cell>> cells_of(const Module& layer, std::int64_t L, std::int64_t D, std::int64_t I,
                                            std::int64_t H, const CellOptions& base) {
  std::vector<std::shared_ptr<Cell>> cells;
  for (std::int64_t l = 0; l < L; ++l)
    for (std::int64_t d = 0; d < D; ++d) {
      CellOptions o = base;
      o.input_size(l == 0 ? I : D * H);
      auto cell = std::make_shared<Cell>(o);
      cell->to(float64);
      const std::string sfx = "_l" + std::to_string(l) + (d ? "_reverse" : "");
      for (const char* n : {"weight_ih", "weight_hh", "bias_ih", "bias_hh"}) cell->set_tensor(n, param(layer, n + sfx));
      cells.push_back(cell);
    }
  return cells;
}

// The layer computation written with cells: x [T, B, I], h0 (c0) [L D, B, H].
template <class Step>
std::tuple<Tensor, Tensor, Tensor> cell_loop(const Tensor& x, const Tensor& h0, const Tensor& c0, std::int64_t L,
                                             std::int64_t D, Step step) {
  const std::int64_t T = x.size(0);
  Tensor in = x;
  Ts hs, cs;
  for (std::int64_t l = 0; l < L; ++l) {
    Ts dirs;
    for (std::int64_t d = 0; d < D; ++d) {
      const std::int64_t i = l * D + d;
      Tensor h = h0.select(0, i), c = c0.defined() ? c0.select(0, i) : Tensor();
      Ts outs(static_cast<std::size_t>(T));
      for (std::int64_t k = 0; k < T; ++k) {
        const std::int64_t t = d ? T - 1 - k : k;
        step(i, in.select(0, t), h, c);
        outs[static_cast<std::size_t>(t)] = h;
      }
      dirs.push_back(stack(outs, 0));
      hs.push_back(h);
      if (c.defined()) cs.push_back(c);
    }
    in = D == 1 ? dirs[0] : cat(dirs, 2);
  }
  return {in, stack(hs, 0), cs.empty() ? Tensor() : stack(cs, 0)};
}

// Gradients of a fixed random linear functional of (out, h_n, c_n) w.r.t. `wrt`.
Ts grads_of(const Ts& outs, const Ts& weights, const Ts& wrt) {
  Tensor loss = zeros({}, dtype(float64));
  for (std::size_t i = 0; i < outs.size(); ++i)
    if (outs[i].defined()) loss = loss + (outs[i] * weights[i]).sum();
  return autograd::grad({loss}, wrt);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(rnn_layers)

BOOST_AUTO_TEST_CASE(parameter_names_shapes_and_repr) {
  LSTM lstm(LSTMOptions(3, 4).num_layers(2).bidirectional(true).proj_size(2));
  const std::vector<std::string> want = {
      "weight_ih_l0",         "weight_hh_l0",         "bias_ih_l0",           "bias_hh_l0",
      "weight_hr_l0",         "weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse",
      "bias_hh_l0_reverse",   "weight_hr_l0_reverse", "weight_ih_l1",         "weight_hh_l1",
      "bias_ih_l1",           "bias_hh_l1",           "weight_hr_l1",         "weight_ih_l1_reverse",
      "weight_hh_l1_reverse", "bias_ih_l1_reverse",   "bias_hh_l1_reverse",   "weight_hr_l1_reverse"};
  BOOST_CHECK(names_of(lstm.named_parameters()) == want);
  BOOST_CHECK(param(lstm, "weight_ih_l0").shape() == Shape({16, 3}));
  BOOST_CHECK(param(lstm, "weight_hh_l0").shape() == Shape({16, 2}));
  BOOST_CHECK(param(lstm, "weight_hr_l0").shape() == Shape({2, 4}));
  BOOST_CHECK(param(lstm, "weight_ih_l1_reverse").shape() == Shape({16, 4}));  // 2 directions x proj 2
  BOOST_CHECK(lstm.layer_params(1, 1).w_hr.shape() == Shape({2, 4}));
  BOOST_CHECK_EQUAL(lstm.all_weights().size(), 4u);
  BOOST_CHECK_EQUAL(lstm.all_weights()[0].size(), 5u);
  for (const Tensor& p : lstm.parameters()) BOOST_CHECK(p.abs().max().item<float>() <= 0.5f);  // 1/sqrt(4)
  GRU gru(GRUOptions(3, 5).bias(false));
  BOOST_CHECK((names_of(gru.named_parameters()) == std::vector<std::string>{"weight_ih_l0", "weight_hh_l0"}));
  BOOST_CHECK(gru.layer_params(0, 0).w_ih.shape() == Shape({15, 3}));
  BOOST_CHECK_EQUAL(lstm.extra_repr(), "3, 4, proj_size=2, num_layers=2, bidirectional=True");
  BOOST_CHECK_EQUAL(gru.extra_repr(), "3, 5, bias=False");
  BOOST_CHECK_EQUAL(RNN(RNNOptions(10, 20).batch_first(true).dropout(0.5).num_layers(3)).repr(),
                    "RNN(10, 20, num_layers=3, batch_first=True, dropout=0.5)");
  XGRAD_CHECK_THROW_MSG(gru.layer_params(1, 0), "GRU: layer_params(1, 0) is out of range");
  gru.flatten_parameters();
}

BOOST_AUTO_TEST_CASE(gradcheck_layers) {
  manual_seed(10);
  const std::int64_t T = 3, B = 2, I = 3, H = 4;
  {  // RNN tanh, one layer, with h0
    RNN m(I, H);
    m.to(float64);
    check_gradcheck(
        [&](const Ts& t) {
          auto [o, h] = m.forward(t[0], t[1]);
          return flat({o, h});
        },
        with_params({rand64({T, B, I}), rand64({1, B, H})}, m));
  }
  {  // RNN relu, 2 layers, bidirectional
    RNN m(RNNOptions(I, H).num_layers(2).bidirectional(true).nonlinearity("relu"));
    m.to(float64);
    check_gradcheck(
        [&](const Ts& t) {
          auto [o, h] = m.forward(t[0], t[1]);
          return flat({o, h});
        },
        with_params({rand64({T, B, I}), rand64({4, B, H})}, m));
  }
  {  // LSTM, 2 layers, bidirectional, (h0, c0)
    LSTM m(LSTMOptions(I, H).num_layers(2).bidirectional(true));
    m.to(float64);
    check_gradcheck(
        [&](const Ts& t) {
          auto [o, s] = m.forward(t[0], LstmState{t[1], t[2]});
          return flat({o, std::get<0>(s), std::get<1>(s)});
        },
        with_params({rand64({T, B, I}), rand64({4, B, H}), rand64({4, B, H})}, m));
  }
  {  // LSTM with projections, 2 layers, bidirectional, batch_first
    LSTM m(LSTMOptions(I, H).num_layers(2).bidirectional(true).proj_size(2).batch_first(true));
    m.to(float64);
    check_gradcheck(
        [&](const Ts& t) {
          auto [o, s] = m.forward(t[0], LstmState{t[1], t[2]});
          BOOST_CHECK(o.shape() == Shape({B, T, 4}));
          BOOST_CHECK(std::get<0>(s).shape() == Shape({4, B, 2}));
          BOOST_CHECK(std::get<1>(s).shape() == Shape({4, B, H}));
          return flat({o, std::get<0>(s), std::get<1>(s)});
        },
        with_params({rand64({B, T, I}), rand64({4, B, 2}), rand64({4, B, H})}, m));
  }
  {  // GRU, 2 layers, bidirectional, batch_first, no bias, default h0
    GRU m(GRUOptions(I, H).num_layers(2).bidirectional(true).batch_first(true).bias(false));
    m.to(float64);
    check_gradcheck(
        [&](const Ts& t) {
          auto [o, h] = m.forward(t[0]);
          return flat({o, h});
        },
        with_params({rand64({B, T, I})}, m));
  }
  {  // GRU unbatched with h0
    GRU m(GRUOptions(I, H).num_layers(2));
    m.to(float64);
    check_gradcheck(
        [&](const Ts& t) {
          auto [o, h] = m.forward(t[0], t[1]);
          BOOST_CHECK(o.shape() == Shape({T, H}));
          BOOST_CHECK(h.shape() == Shape({2, H}));
          return flat({o, h});
        },
        with_params({rand64({T, I}), rand64({2, H})}, m));
  }
}

BOOST_AUTO_TEST_CASE(gradgradcheck_layers) {
  manual_seed(11);
  LSTM lstm(LSTMOptions(2, 2).bidirectional(true));
  lstm.to(float64);
  check_gradgradcheck(
      [&](const Ts& t) {
        auto [o, s] = lstm.forward(t[0], LstmState{t[1], t[2]});
        return flat({o, std::get<1>(s)});
      },
      with_params({rand64({2, 2, 2}), rand64({2, 2, 2}), rand64({2, 2, 2})}, lstm));
  GRU gru(GRUOptions(2, 2).num_layers(2));
  gru.to(float64);
  check_gradgradcheck(
      [&](const Ts& t) {
        auto [o, h] = gru.forward(t[0], t[1]);
        return flat({o, h});
      },
      with_params({rand64({2, 2, 2}), rand64({2, 2, 2})}, gru));
  RNN rnn(RNNOptions(2, 3));
  rnn.to(float64);
  check_gradgradcheck([&](const Ts& t) { return std::get<0>(rnn.forward(t[0])); },
                      with_params({rand64({3, 2, 2})}, rnn));
}

BOOST_AUTO_TEST_CASE(lstm_equals_cells_in_a_loop) {
  manual_seed(12);
  const std::int64_t T = 4, B = 3, I = 3, H = 4, L = 2, D = 2;
  LSTM lstm(LSTMOptions(I, H).num_layers(L).bidirectional(true));
  lstm.to(float64);
  auto cells = cells_of<LSTMCell>(lstm, L, D, I, H, LSTMCellOptions(I, H));
  const Tensor x = rand64({T, B, I}), h0 = rand64({L * D, B, H}), c0 = rand64({L * D, B, H});
  auto [out, st] = lstm.forward(x, LstmState{h0, c0});
  auto [rout, rh, rc] = cell_loop(x, h0, c0, L, D, [&](std::int64_t i, const Tensor& xt, Tensor& h, Tensor& c) {
    std::tie(h, c) = cells[static_cast<std::size_t>(i)]->forward(xt, LstmState{h, c});
  });
  check_close(out, rout, 1e-12);
  check_close(std::get<0>(st), rh, 1e-12);
  check_close(std::get<1>(st), rc, 1e-12);
  const Ts w = {randn(out.shape(), dtype(float64)), randn(rh.shape(), dtype(float64)),
                randn(rc.shape(), dtype(float64))};
  Ts cell_params;
  for (const auto& c : cells)
    for (const Tensor& p : c->parameters()) cell_params.push_back(p);
  const Ts g = grads_of({out, std::get<0>(st), std::get<1>(st)}, w, with_params({x, h0, c0}, lstm));
  const Ts rg = grads_of({rout, rh, rc}, w, [&] {
    Ts v{x, h0, c0};
    v.insert(v.end(), cell_params.begin(), cell_params.end());
    return v;
  }());
  BOOST_REQUIRE_EQUAL(g.size(), rg.size());
  for (std::size_t i = 0; i < g.size(); ++i) check_close(g[i], rg[i], 1e-12);
}

BOOST_AUTO_TEST_CASE(gru_and_rnn_equal_cells_in_a_loop) {
  manual_seed(13);
  const std::int64_t T = 4, B = 3, I = 3, H = 4, L = 2, D = 2;
  GRU gru(GRUOptions(I, H).num_layers(L).bidirectional(true));
  gru.to(float64);
  RNN rnn(RNNOptions(I, H).num_layers(L).bidirectional(true).nonlinearity("relu"));
  rnn.to(float64);
  auto gcells = cells_of<GRUCell>(gru, L, D, I, H, GRUCellOptions(I, H));
  auto rcells = cells_of<RNNCell>(rnn, L, D, I, H, RNNCellOptions(I, H).nonlinearity("relu"));
  const Tensor x = rand64({T, B, I}), h0 = rand64({L * D, B, H});
  for (int which = 0; which < 2; ++which) {
    Module& layer = which == 0 ? static_cast<Module&>(gru) : static_cast<Module&>(rnn);
    auto [out, hn] = which == 0 ? gru.forward(x, h0) : rnn.forward(x, h0);
    auto [rout, rh, rc] = cell_loop(x, h0, Tensor(), L, D, [&](std::int64_t i, const Tensor& xt, Tensor& h, Tensor&) {
      h = which == 0 ? gcells[static_cast<std::size_t>(i)]->forward(xt, h)
                     : rcells[static_cast<std::size_t>(i)]->forward(xt, h);
    });
    check_close(out, rout, 1e-12);
    check_close(hn, rh, 1e-12);
    const Ts w = {randn(out.shape(), dtype(float64)), randn(rh.shape(), dtype(float64))};
    Ts cell_params{x, h0};
    for (std::size_t i = 0; i < 4; ++i)
      for (const Tensor& p : which == 0 ? gcells[i]->parameters() : rcells[i]->parameters()) cell_params.push_back(p);
    const Ts g = grads_of({out, hn}, w, with_params({x, h0}, layer));
    const Ts rg = grads_of({rout, rh}, w, cell_params);
    BOOST_REQUIRE_EQUAL(g.size(), rg.size());
    for (std::size_t i = 0; i < g.size(); ++i) check_close(g[i], rg[i], 1e-12);
  }
}

BOOST_AUTO_TEST_CASE(projection_matches_the_formula) {
  // One layer with proj_size 2: h_t = W_hr (o tanh(c_t)), the recurrence reading h_t [B, 2].
  manual_seed(14);
  LSTM m(LSTMOptions(3, 4).proj_size(2));
  m.to(float64);
  const Tensor x = rand64({3, 2, 3});
  auto [out, st] = m.forward(x);
  const auto& p = m.layer_params(0, 0);
  Tensor h = zeros({2, 2}, dtype(float64)), c = zeros({2, 4}, dtype(float64));
  Ts outs;
  for (std::int64_t t = 0; t < 3; ++t) {
    auto g = chunk(matmul(x.select(0, t), p.w_ih.t()) + p.b_ih + matmul(h, p.w_hh.t()) + p.b_hh, 4, 1);
    c = g[1].sigmoid() * c + g[0].sigmoid() * g[2].tanh();
    h = matmul(g[3].sigmoid() * c.tanh(), p.w_hr.t());
    outs.push_back(h);
  }
  check_close(out, stack(outs, 0), 1e-12);
  check_close(std::get<0>(st), h.unsqueeze(0), 1e-12);
  check_close(std::get<1>(st), c.unsqueeze(0), 1e-12);
}

BOOST_AUTO_TEST_CASE(batch_first_and_unbatched) {
  manual_seed(15);
  LSTM a(LSTMOptions(3, 4).num_layers(2).bidirectional(true));
  LSTM b(LSTMOptions(3, 4).num_layers(2).bidirectional(true).batch_first(true));
  a.to(float64);
  b.to(float64);
  b.load_state_dict(a.state_dict());
  const Tensor x = rand64({5, 2, 3}), h0 = rand64({4, 2, 4}), c0 = rand64({4, 2, 4});
  auto [oa, sa] = a.forward(x, LstmState{h0, c0});
  auto [ob, sb] = b.forward(x.transpose(0, 1), LstmState{h0, c0});
  BOOST_CHECK(ob.shape() == Shape({2, 5, 8}));
  check_close(ob, oa.transpose(0, 1), 0.0);
  check_close(std::get<0>(sb), std::get<0>(sa), 0.0);
  // unbatched == a batch of one
  auto [ou, su] = a.forward(x.select(1, 0), LstmState{h0.select(1, 0), c0.select(1, 0)});
  auto [o1, s1] = a.forward(x.narrow(1, 0, 1), LstmState{h0.narrow(1, 0, 1), c0.narrow(1, 0, 1)});
  BOOST_CHECK(ou.shape() == Shape({5, 8}));
  check_close(ou, o1.squeeze(1), 0.0);
  check_close(std::get<1>(su), std::get<1>(s1).squeeze(1), 0.0);
  // h0 omitted == zeros
  auto [oz, sz] = a.forward(x);
  auto [oe, se] = a.forward(x, LstmState{zeros({4, 2, 4}, dtype(float64)), zeros({4, 2, 4}, dtype(float64))});
  check_close(oz, oe, 0.0);
  check_close(std::get<1>(sz), std::get<1>(se), 0.0);
}

BOOST_AUTO_TEST_CASE(empty_sequence) {
  GRU m(3, 4);
  auto [o, h] = m.forward(zeros({0, 2, 3}));
  BOOST_CHECK(o.shape() == Shape({0, 2, 4}));
  BOOST_CHECK(h.shape() == Shape({1, 2, 4}));
  auto [o2, h2] = m.forward(zeros({4, 0, 3}));
  BOOST_CHECK(o2.shape() == Shape({4, 0, 4}));
}

BOOST_AUTO_TEST_CASE(dropout_between_layers) {
  manual_seed(16);
  LSTM m(LSTMOptions(3, 4).num_layers(2).dropout(1.0));
  m.to(float64);
  const Tensor x = rand64({3, 2, 3});
  // p = 1: layer 1 reads zeros, so the output is a one-layer LSTM with layer 1's weights run on zeros.
  LSTM top(LSTMOptions(4, 4));
  top.to(float64);
  for (const char* n : {"weight_ih", "weight_hh", "bias_ih", "bias_hh"})
    top.set_tensor(std::string(n) + "_l0", param(m, std::string(n) + "_l1"));
  auto [o, s] = m.forward(x);
  auto [ot, st] = top.forward(zeros({3, 2, 4}, dtype(float64)));
  check_close(o, ot, 1e-12);
  check_close(std::get<0>(s).select(0, 1), std::get<0>(st).select(0, 0), 1e-12);
  // eval: no dropout (equals the same weights with dropout 0)
  LSTM nd(LSTMOptions(3, 4).num_layers(2));
  nd.to(float64);
  nd.load_state_dict(m.state_dict());
  m.eval();
  check_close(std::get<0>(m.forward(x)), std::get<0>(nd.forward(x)), 0.0);
  // no dropout after the last layer: one layer with p = 1 in training is unaffected
  LSTM one(LSTMOptions(3, 4).dropout(1.0));
  one.to(float64);
  LSTM one0(LSTMOptions(3, 4));
  one0.to(float64);
  one0.load_state_dict(one.state_dict());
  check_close(std::get<0>(one.forward(x)), std::get<0>(one0.forward(x)), 0.0);
}

BOOST_AUTO_TEST_CASE(packed_equals_each_sequence_alone) {
  manual_seed(17);
  const std::int64_t T = 4, B = 3, I = 3, H = 4, L = 2, D = 2;
  const std::vector<std::int64_t> lengths = {2, 4, 1};  // unsorted
  LSTM lstm(LSTMOptions(I, H).num_layers(L).bidirectional(true));
  lstm.to(float64);
  const Tensor x = rand64({T, B, I}), h0 = rand64({L * D, B, H}), c0 = rand64({L * D, B, H});
  const R::PackedSequence packed = R::pack_padded_sequence(x, lengths, false, false);
  auto [po, ps] = lstm.forward_with_packed_input(packed, LstmState{h0, c0});
  BOOST_CHECK(po.batch_sizes().to_vector<std::int64_t>() == (std::vector<std::int64_t>{3, 2, 1, 1}));
  auto [padded, lens] = R::pad_packed_sequence(po);
  BOOST_CHECK(padded.shape() == Shape({T, B, D * H}));
  const Ts w = {randn(padded.shape(), dtype(float64)), randn({L * D, B, H}, dtype(float64)),
                randn({L * D, B, H}, dtype(float64))};
  const Ts g = grads_of({padded, std::get<0>(ps), std::get<1>(ps)}, w, with_params({x, h0, c0}, lstm));
  Tensor loss = zeros({}, dtype(float64));
  for (std::int64_t b = 0; b < B; ++b) {
    const std::int64_t n = lengths[static_cast<std::size_t>(b)];
    auto [o, s] = lstm.forward(x.select(1, b).narrow(0, 0, n), LstmState{h0.select(1, b), c0.select(1, b)});
    check_close(padded.select(1, b).narrow(0, 0, n), o, 1e-12);
    if (n < T) check_close(padded.select(1, b).narrow(0, n, T - n), zeros({T - n, D * H}, dtype(float64)), 0.0);
    check_close(std::get<0>(ps).select(1, b), std::get<0>(s), 1e-12);
    check_close(std::get<1>(ps).select(1, b), std::get<1>(s), 1e-12);
    loss = loss + (o * w[0].select(1, b).narrow(0, 0, n)).sum() + (std::get<0>(s) * w[1].select(1, b)).sum() +
           (std::get<1>(s) * w[2].select(1, b)).sum();
  }
  const Ts rg = autograd::grad({loss}, with_params({x, h0, c0}, lstm));
  BOOST_REQUIRE_EQUAL(g.size(), rg.size());
  for (std::size_t i = 0; i < g.size(); ++i) check_close(g[i], rg[i], 1e-12);
}

BOOST_AUTO_TEST_CASE(gradcheck_packed) {
  manual_seed(18);
  const std::vector<std::int64_t> lengths = {2, 3, 1};
  LSTM lstm(LSTMOptions(3, 4).num_layers(2).bidirectional(true));
  lstm.to(float64);
  check_gradcheck(
      [&](const Ts& t) {
        auto [po, s] =
            lstm.forward_with_packed_input(R::pack_padded_sequence(t[0], lengths, false, false), LstmState{t[1], t[2]});
        return flat({po.data(), std::get<0>(s), std::get<1>(s)});
      },
      with_params({rand64({3, 3, 3}), rand64({4, 3, 4}), rand64({4, 3, 4})}, lstm));
  GRU gru(GRUOptions(3, 4).bidirectional(true));
  gru.to(float64);
  const std::vector<std::int64_t> sorted = {3, 2, 2};
  check_gradcheck(
      [&](const Ts& t) {
        auto [po, h] = gru.forward_with_packed_input(R::pack_padded_sequence(t[0], sorted, true, true));
        return flat({po.data(), h});
      },
      with_params({rand64({3, 3, 3})}, gru));
  RNN rnn(RNNOptions(3, 4).num_layers(2));
  rnn.to(float64);
  check_gradcheck(
      [&](const Ts& t) {
        auto [po, h] = rnn.forward_with_packed_input(R::pack_padded_sequence(t[0], lengths, false, false), t[1]);
        return flat({po.data(), h});
      },
      with_params({rand64({3, 3, 3}), rand64({2, 3, 4})}, rnn));
}

BOOST_AUTO_TEST_CASE(bit_identical_across_thread_counts) {
  ThreadGuard guard;
  manual_seed(19);
  LSTM lstm(LSTMOptions(16, 256).num_layers(2).bidirectional(true));
  GRU gru(GRUOptions(16, 256));
  const Tensor x0 = randn({4, 32, 16});
  std::vector<Ts> runs;
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    lstm.zero_grad();
    gru.zero_grad();
    Tensor x = x0.detach().requires_grad_(true);
    auto [o, s] = lstm.forward(x);
    auto [og, hg] = gru.forward(x);
    ((o * o).sum() + std::get<1>(s).sum() + (og * og).sum()).backward();
    runs.push_back({o, std::get<1>(s), og, x.grad(), param(lstm, "weight_hh_l0").grad(),
                    param(lstm, "weight_ih_l1_reverse").grad(), param(lstm, "bias_hh_l1").grad(),
                    param(gru, "weight_hh_l0").grad()});
  }
  for (std::size_t i = 0; i < runs[0].size(); ++i) check_close(runs[0][i], runs[1][i], 0.0);
}

BOOST_AUTO_TEST_CASE(float32_runs) {
  manual_seed(20);
  LSTM m(LSTMOptions(3, 4).num_layers(2));
  Tensor x = randn({5, 2, 3}).requires_grad_(true);
  auto [o, s] = m.forward(x);
  BOOST_CHECK(o.dtype() == float32);
  BOOST_CHECK(o.requires_grad());
  o.sum().backward();
  BOOST_CHECK(x.grad().defined());
  BOOST_CHECK(param(m, "weight_ih_l0").grad().defined());
}

BOOST_AUTO_TEST_CASE(errors) {
  LSTM lstm(LSTMOptions(3, 20).num_layers(2));
  RNN rnn(3, 4);
  GRU gru(GRUOptions(3, 4).bidirectional(true));
  XGRAD_CHECK_THROW_MSG(lstm.forward(zeros({3})), "LSTM: Expected input to be 2D or 3D, got 1D instead");
  XGRAD_CHECK_THROW_MSG(rnn.forward(zeros({1, 2, 3, 4})), "RNN: Expected input to be 2D or 3D, got 4D instead");
  XGRAD_CHECK_THROW_MSG(gru.forward(zeros({2, 2, 5})),
                        "GRU: input.size(-1) must be equal to input_size. Expected 3, got 5");
  XGRAD_CHECK_THROW_MSG(gru.forward(zeros({2, 2, 3}, dtype(int64))), "GRU: expected a floating dtype");
  XGRAD_CHECK_THROW_MSG(gru.forward(zeros({2, 2, 3}, dtype(float64))),
                        "GRU: input must have the type float32 (the parameters' dtype), got type float64");
  XGRAD_CHECK_THROW_MSG(lstm.forward(zeros({5, 3, 3}), LstmState{zeros({1, 3, 20}), zeros({2, 3, 20})}),
                        "LSTM: expected hidden[0] size [2, 3, 20], got [1, 3, 20]");
  XGRAD_CHECK_THROW_MSG(lstm.forward(zeros({5, 3, 3}), LstmState{zeros({2, 3, 20}), zeros({2, 3, 19})}),
                        "LSTM: expected hidden[1] size [2, 3, 20], got [2, 3, 19]");
  XGRAD_CHECK_THROW_MSG(lstm.forward(zeros({5, 3, 3}), LstmState{zeros({2, 20}), zeros({2, 3, 20})}),
                        "LSTM: For batched 3-D input, hx and cx should also be 3-D but got (2-D, 3-D) tensors");
  XGRAD_CHECK_THROW_MSG(rnn.forward(zeros({5, 3}), zeros({1, 1, 4})),
                        "RNN: For unbatched 2-D input, hx should also be 2-D but got 3-D tensor");
  XGRAD_CHECK_THROW_MSG(rnn.forward(zeros({5, 2, 3}), zeros({4})),
                        "RNN: For batched 3-D input, hx should also be 3-D but got 1-D tensor");
  XGRAD_CHECK_THROW_MSG(gru.forward(zeros({5, 2, 3}), zeros({1, 2, 4})),
                        "GRU: expected hidden size [2, 2, 4], got [1, 2, 4]");
  XGRAD_CHECK_THROW_MSG(rnn.forward(zeros({5, 2, 3}), zeros({1, 2, 4}, dtype(float64))),
                        "RNN: hidden has dtype float64 but the input has dtype float32");
  // construction
  XGRAD_CHECK_THROW_MSG(LSTM(LSTMOptions(3, 4).proj_size(4)),
                        "LSTM: proj_size has to be smaller than hidden_size, got proj_size 4 and hidden_size 4");
  XGRAD_CHECK_THROW_MSG(LSTM(LSTMOptions(3, 4).proj_size(-1)),
                        "LSTM: proj_size should be a positive integer or zero to disable projections, got -1");
  XGRAD_CHECK_THROW_MSG(GRU(GRUOptions(3, 4).dropout(1.5)),
                        "GRU: dropout should be a number in range [0, 1] representing the probability of an element "
                        "being zeroed, got 1.5");
  XGRAD_CHECK_THROW_MSG(RNN(RNNOptions(3, 4).nonlinearity("sigmoid")),
                        "RNN: Unknown nonlinearity 'sigmoid'. Select from 'tanh' or 'relu'.");
  XGRAD_CHECK_THROW_MSG(RNN(3, 0), "RNN: invalid hidden_size 0 (must be > 0)");
  XGRAD_CHECK_THROW_MSG(LSTM(LSTMOptions(3, 4).num_layers(0)), "LSTM: invalid num_layers 0 (must be > 0)");
  // packed
  const Tensor bs = from_vector<std::int64_t>({2, 1}, {2});
  XGRAD_CHECK_THROW_MSG(rnn.forward_with_packed_input(R::PackedSequence(zeros({3, 2, 3}), bs)),
                        "RNN: input must have 2 dimensions, got 3");
  XGRAD_CHECK_THROW_MSG(rnn.forward_with_packed_input(R::PackedSequence(zeros({4, 3}), bs)),
                        "RNN: batch_sizes [2, 1] sum to 3 but the packed data has 4 rows");
  XGRAD_CHECK_THROW_MSG(
      rnn.forward_with_packed_input(R::PackedSequence(zeros({3, 3}), from_vector<std::int64_t>({1, 2}, {2}))),
      "RNN: batch_sizes must be positive and non-increasing, got [1, 2]");
  XGRAD_CHECK_THROW_MSG(rnn.forward_with_packed_input(R::PackedSequence(zeros({3, 3}), bs), zeros({1, 3, 4})),
                        "RNN: expected hidden size [1, 2, 4], got [1, 3, 4]");
}

BOOST_AUTO_TEST_SUITE_END()
