// nn::functional_call (functional_call.hpp): values and gradients with substituted
// parameters, the module left unchanged (also after a throwing forward), second derivatives,
// partial maps, buffers, tied tensors, the fallback for modules of unknown types, errors.
#include <map>
#include <string>

#include "test_util.hpp"
#include "xgrad/nn.hpp"
#include "xgrad/nn/functional_call.hpp"
#include "xgrad/nn/multihead_attention.hpp"
#include "xgrad/nn/rnn.hpp"

using namespace xgrad;
using namespace xgrad::nn;
using xgrad::test::check_close;
using xgrad::test::check_gradgradcheck;
using xgrad::test::rand64;

namespace {

using TensorMap = std::map<std::string, Tensor>;

std::shared_ptr<Sequential> mlp() {
  auto net = std::make_shared<Sequential>(std::make_shared<Linear>(3, 4), std::make_shared<Tanh>(),
                                          std::make_shared<Linear>(4, 2));
  net->to(float64);
  return net;
}

// What a module's tensors are: identity, values, requires_grad, grad identity.
struct Snapshot {
  std::vector<std::pair<std::string, Tensor>> handles;
  std::vector<const TensorImpl*> impls;
  std::vector<Tensor> values;
  std::vector<bool> needs_grad;
  std::vector<const TensorImpl*> grads;

  explicit Snapshot(const Module& m) {
    for (auto list : {m.named_parameters(), m.named_buffers()})
      for (auto& [n, t] : list) {
        handles.emplace_back(n, t);
        impls.push_back(t.impl().get());
        values.push_back(t.detach().clone());
        needs_grad.push_back(t.requires_grad());
        grads.push_back(t.is_leaf() && t.grad().defined() ? t.grad().impl().get() : nullptr);
      }
  }
  void check_unchanged(const Module& m) const {
    Snapshot now(m);
    BOOST_REQUIRE_EQUAL(now.impls.size(), impls.size());
    for (std::size_t i = 0; i < impls.size(); ++i) {
      BOOST_CHECK_MESSAGE(now.impls[i] == impls[i], handles[i].first << " changed identity");
      BOOST_CHECK_MESSAGE(now.values[i].shape() == values[i].shape() && now.values[i].dtype() == values[i].dtype() &&
                              test::max_abs_diff(now.values[i].to(float64), values[i].to(float64)) == 0.0,
                          handles[i].first << " changed value");
      BOOST_CHECK(now.needs_grad[i] == needs_grad[i]);
      BOOST_CHECK_MESSAGE(now.grads[i] == grads[i], handles[i].first << " changed grad");
    }
  }
};

// A user module whose parameter functional_call does not know the field of.
struct Scale : Module {
  explicit Scale(bool multiply) : Module("Scale"), multiply(multiply) {
    s = register_parameter("s", tensor({1.0, 2.0}));
  }
  Tensor forward(const Tensor& x) override { return multiply ? x * s : x + s; }
  bool multiply;
  Tensor s;
};

// Scale with its field registered for functional_call (in fallback_for_unknown_module_types).
struct RegisteredScale : Scale {
  RegisteredScale() : Scale(true) { name_ = "RegisteredScale"; }
};

// The same tensor registered under two names.
struct Tied : Module {
  Tied() : Module("Tied") {
    a = register_parameter("a", tensor({1.0, 2.0}));
    register_parameter("b", a);
  }
  Tensor forward(const Tensor& x) override { return x + a; }
  Tensor a;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(functional_call_suite)

BOOST_AUTO_TEST_CASE(values_equal_hand_forward_and_module_unchanged) {
  auto net = mlp();
  net->parameters()[0].set_grad(ones({4, 3}, dtype(float64)));  // an existing grad must survive
  const Snapshot before(*net);
  Tensor w1 = rand64({4, 3}), b1 = rand64({4}), w2 = rand64({2, 4}), b2 = rand64({2});
  Tensor x = rand64({5, 3});
  TensorMap p{{"0.weight", w1}, {"0.bias", b1}, {"2.weight", w2}, {"2.bias", b2}};
  Tensor y = functional_call(*net, p, x);
  Tensor want = matmul(tanh(matmul(x, w1.t()) + b1), w2.t()) + b2;
  check_close(y, want, 1e-12);
  before.check_unchanged(*net);
  // During the call, other handles to the module's tensors keep their values (handles are
  // rebound, the tensors are not written): e.g. a proximal term ||W - W_module||^2.
  Tensor w1_module = net->parameters()[0];
  Tensor prox = functional_call(*net, p, [&] {
    Tensor d = net->parameters()[0] - w1_module;  // the registry holds the substitute now
    return (d * d).sum();
  });
  check_close(prox, ((w1 - w1_module) * (w1 - w1_module)).sum(), 1e-12);
  // The module's own forward is unchanged afterwards.
  Tensor own = (*net)(x);
  auto ps = net->parameters();
  check_close(own, matmul(tanh(matmul(x, ps[0].t()) + ps[1]), ps[2].t()) + ps[3], 1e-12);
}

BOOST_AUTO_TEST_CASE(gradient_flows_to_substitutes) {
  auto net = mlp();
  Tensor x = rand64({5, 3});  // requires grad: the second Linear saves its weight for backward
  Tensor w1 = rand64({4, 3}), b1 = rand64({4}), w2 = rand64({2, 4}), b2 = rand64({2});
  Tensor y = functional_call(*net, {{"0.weight", w1}, {"0.bias", b1}, {"2.weight", w2}, {"2.bias", b2}}, x);
  // The gradients are computed after the call returned: saved tensors must be the substitutes.
  auto g = autograd::grad({(y * y).sum()}, {w1, b1, w2, b2, x}, {}, {.retain_graph = true});
  Tensor y2 = matmul(tanh(matmul(x, w1.t()) + b1), w2.t()) + b2;
  auto want = autograd::grad({(y2 * y2).sum()}, {w1, b1, w2, b2, x});
  for (std::size_t i = 0; i < g.size(); ++i) check_close(g[i], want[i], 1e-12);
  // backward() reaches the substitutes' .grad(), never the module's.
  (y * y).sum().backward();
  check_close(w2.grad(), want[2], 1e-12);
  for (const Tensor& p : net->parameters()) BOOST_CHECK(!p.grad().defined());
}

BOOST_AUTO_TEST_CASE(hand_derived_linear_gradient) {
  // y = W x + b with W = [[1, 2]], b = [0.5], x = [3, -1] (rows): y = 1*3 + 2*(-1) + 0.5 = 1.5.
  // L = y^2: dL/dW = 2 y x^T = [[9, -3]], dL/db = 2 y = [3].
  Linear lin(2, 1);
  lin.to(float64);
  Tensor w = tensor({{1.0, 2.0}}).requires_grad_(true);
  Tensor b = tensor({0.5}).requires_grad_(true);
  Tensor y = functional_call(lin, {{"weight", w}, {"bias", b}}, tensor({{3.0, -1.0}}));
  test::check_values(y, {1, 1}, {1.5});
  auto g = autograd::grad({(y * y).sum()}, {w, b});
  test::check_values(g[0], {1, 2}, {9.0, -3.0});
  test::check_values(g[1], {1}, {3.0});
}

BOOST_AUTO_TEST_CASE(non_leaf_substitutes_carry_the_graph) {
  // One inner SGD step: W' = W - 0.1 dL/dW (create_graph), then an outer loss through W'.
  auto net = mlp();
  Tensor x = rand64({5, 3}), t = rand64({5, 2});
  auto named = net->named_parameters();
  std::vector<Tensor> params;
  for (auto& [n, p] : named) params.push_back(p);
  auto loss = [&](const TensorMap& m) {
    Tensor d = functional_call(*net, m, x) - t;
    return (d * d).mean();
  };
  TensorMap own;
  for (auto& [n, p] : named) own[n] = p;
  auto g = autograd::grad({loss(own)}, params, {}, {.create_graph = true});
  TensorMap fast;
  for (std::size_t i = 0; i < params.size(); ++i) fast[named[i].first] = params[i] - 0.1 * g[i];
  auto outer = autograd::grad({loss(fast)}, params);
  // Same computation without functional_call.
  auto forward = [&](const std::vector<Tensor>& q) {
    Tensor d = matmul(tanh(matmul(x, q[0].t()) + q[1]), q[2].t()) + q[3] - t;
    return (d * d).mean();
  };
  auto gh = autograd::grad({forward(params)}, params, {}, {.create_graph = true});
  std::vector<Tensor> q;
  for (std::size_t i = 0; i < params.size(); ++i) q.push_back(params[i] - 0.1 * gh[i]);
  auto want = autograd::grad({forward(q)}, params);
  for (std::size_t i = 0; i < params.size(); ++i) check_close(outer[i], want[i], 1e-12);
}

BOOST_AUTO_TEST_CASE(gradgradcheck_through_substituted_weight) {
  Linear lin(3, 2);
  lin.to(float64);
  Tensor b = rand64({2});
  check_gradgradcheck(
      [&](const std::vector<Tensor>& in) {
        return functional_call(lin, {{"weight", in[0]}, {"bias", b}}, in[1]).tanh();
      },
      {rand64({2, 3}), rand64({4, 3})});
}

BOOST_AUTO_TEST_CASE(partial_map_uses_module_tensors) {
  auto net = mlp();
  Tensor x = rand64({5, 3});
  Tensor w2 = rand64({2, 4});
  Tensor y = functional_call(*net, {{"2.weight", w2}}, x);
  auto ps = net->parameters();
  check_close(y, matmul(tanh(matmul(x, ps[0].t()) + ps[1]), w2.t()) + ps[3], 1e-12);
  // The module's own tensors used in the call get their gradients as usual.
  y.sum().backward();
  BOOST_CHECK(ps[0].grad().defined());
  BOOST_CHECK(!ps[2].grad().defined());
  BOOST_CHECK(w2.grad().defined());
  // The module itself as the map: the same as calling it.
  TensorMap own;
  for (auto& [n, p] : net->named_parameters()) own[n] = p;
  check_close(functional_call(*net, own, x), (*net)(x), 0.0);
}

BOOST_AUTO_TEST_CASE(module_restored_after_throwing_forward) {
  auto net = mlp();
  const Snapshot before(*net);
  TensorMap p{{"0.weight", rand64({4, 3})}, {"2.weight", rand64({2, 4})}};
  XGRAD_CHECK_THROW_MSG(functional_call(*net, p, rand64({5, 7})), "linear: input of shape [5, 7]");
  before.check_unchanged(*net);
  // The generic form: an exception of the callable propagates, the module is restored.
  BOOST_CHECK_THROW(functional_call(*net, p, [&]() -> Tensor { throw std::runtime_error("boom"); }),
                    std::runtime_error);
  before.check_unchanged(*net);
  // And the fallback (content substitution) is restored too.
  Scale sc(false);
  const Snapshot sbefore(sc);
  BOOST_CHECK_THROW(functional_call(sc, {{"s", rand64({2})}}, [&]() -> Tensor { throw std::runtime_error("x"); }),
                    std::runtime_error);
  sbefore.check_unchanged(sc);
}

BOOST_AUTO_TEST_CASE(generic_form_multi_input) {
  MultiheadAttention mha(4, 2);
  mha.to(float64);
  Tensor q = rand64({3, 2, 4});
  TensorMap sub;
  std::vector<Tensor> clones;
  for (auto& [n, p] : mha.named_parameters()) {
    clones.push_back(p.detach().clone().requires_grad_(true));
    sub[n] = clones.back();
  }
  auto [out, w] = functional_call(mha, sub, [&] { return mha(q, q, q); });
  auto [ref, rw] = mha(q, q, q);
  check_close(out, ref, 1e-12);
  auto g = autograd::grad({out.sum()}, clones);
  auto want = autograd::grad({ref.sum()}, mha.parameters());
  for (std::size_t i = 0; i < g.size(); ++i) check_close(g[i], want[i], 1e-12);
}

BOOST_AUTO_TEST_CASE(builtin_layers_rebound) {
  // Each layer with clones of its own tensors: same output, gradients reach the clones.
  std::vector<std::pair<std::shared_ptr<Module>, Tensor>> cases{
      {std::make_shared<Conv1d>(2, 3, std::vector<std::int64_t>{2}), rand64({2, 2, 5})},
      {std::make_shared<LayerNorm>(4), rand64({3, 4})},
      {std::make_shared<BatchNorm1d>(4), rand64({3, 4})},
      {std::make_shared<GRUCell>(GRUCellOptions(4, 3)), rand64({2, 4})},
  };
  for (auto& [m, x] : cases) {
    m->to(float64);
    m->eval();
    TensorMap sub;
    std::vector<Tensor> clones;
    for (auto& [n, p] : m->named_parameters()) {
      clones.push_back(p.detach().clone().requires_grad_(true));
      sub[n] = clones.back();
    }
    Tensor y = functional_call(*m, sub, x);
    Tensor ref = (*m)(x);
    check_close(y, ref, 1e-12);
    auto g = autograd::grad({(y * y).sum()}, clones);
    auto want = autograd::grad({(ref * ref).sum()}, m->parameters());
    for (std::size_t i = 0; i < g.size(); ++i) check_close(g[i], want[i], 1e-12);
  }
  // GRU (a multi-layer RNN: its handles live in per-layer structs).
  GRU gru(GRUOptions(3, 4).num_layers(2));
  gru.to(float64);
  TensorMap sub;
  std::vector<Tensor> clones;
  for (auto& [n, p] : gru.named_parameters()) {
    clones.push_back(p.detach().clone().requires_grad_(true));
    sub[n] = clones.back();
  }
  Tensor x = rand64({5, 2, 3});
  Tensor y = std::get<0>(functional_call(gru, sub, [&] { return gru.forward(x); }));
  Tensor ref = std::get<0>(gru.forward(x));
  check_close(y, ref, 1e-12);
  auto g = autograd::grad({y.sum()}, clones);
  auto want = autograd::grad({ref.sum()}, gru.parameters());
  for (std::size_t i = 0; i < g.size(); ++i) check_close(g[i], want[i], 1e-12);
}

BOOST_AUTO_TEST_CASE(buffers_are_substituted_and_updated_in_the_given_tensors) {
  BatchNorm1d bn(2);
  bn.to(float64);
  bn.train();
  const Snapshot before(bn);
  Tensor rm = zeros({2}, dtype(float64)), rv = ones({2}, dtype(float64));
  Tensor x = tensor({{1.0, 2.0}, {3.0, 6.0}}).to(float64);
  functional_call(bn, {{"running_mean", rm}, {"running_var", rv}}, x);
  // momentum 0.1: mean [2, 4] -> running_mean 0.1 * [2, 4]; unbiased var [2, 8] -> 0.9 + 0.1 var.
  test::check_values(rm, {2}, {0.2, 0.4});
  test::check_values(rv, {2}, {1.1, 1.7});
  // num_batches_tracked was not substituted: the module's own counts the batch.
  test::check_values(bn.num_batches_tracked, {}, {1});
  test::check_values(bn.running_mean, {2}, {0.0, 0.0});
}

BOOST_AUTO_TEST_CASE(fallback_for_unknown_module_types) {
  // x + s saves nothing for backward: the contents substitution is safe and works.
  Scale add(false);
  add.to(float64);
  const Snapshot before(add);
  Tensor s = tensor({10.0, 20.0}).requires_grad_(true);
  Tensor y = functional_call(add, {{"s", s}}, tensor({1.0, 1.0}));
  test::check_values(y, {2}, {11.0, 21.0});
  before.check_unchanged(add);
  y.sum().backward();
  test::check_values(s.grad(), {2}, {1.0, 1.0});
  BOOST_CHECK(!add.s.grad().defined());
  before.check_unchanged(add);

  // x * s saves s: the module's own TensorImpl would be read by backward after the call.
  Scale mul(true);
  mul.to(float64);
  const Snapshot mbefore(mul);
  XGRAD_CHECK_THROW_MSG(functional_call(mul, {{"s", s}}, tensor({1.0, 1.0}).requires_grad_(true)),
                        "functional_call: the computation kept a handle to 's' of Scale");
  XGRAD_CHECK_THROW_MSG(functional_call(mul, {{"s", s}}, tensor({1.0, 1.0}).requires_grad_(true)),
                        "register_functional_slots<Scale>");
  mbefore.check_unchanged(mul);
  // Once the type's fields are registered, handles are rebound and it works.
  register_functional_slots<RegisteredScale>([](RegisteredScale& m) { return TensorSlots{&m.s}; });
  RegisteredScale reg;
  reg.to(float64);
  const Snapshot rbefore(reg);
  Tensor x = tensor({3.0, 4.0}).requires_grad_(true);
  Tensor z = functional_call(reg, {{"s", s}}, x);
  test::check_values(z, {2}, {30.0, 80.0});
  auto g = autograd::grad({z.sum()}, {s, x});
  test::check_values(g[0], {2}, {3.0, 4.0});
  test::check_values(g[1], {2}, {10.0, 20.0});
  rbefore.check_unchanged(reg);
  mbefore.check_unchanged(mul);
}

BOOST_AUTO_TEST_CASE(tied_tensors) {
  Tied m;
  m.to(float64);
  Tensor t = tensor({5.0, 6.0});
  // Either name substitutes the one tensor.
  test::check_values(functional_call(m, {{"b", t}}, zeros({2}, dtype(float64))), {2}, {5.0, 6.0});
  test::check_values(functional_call(m, {{"a", t}, {"b", t}}, zeros({2}, dtype(float64))), {2}, {5.0, 6.0});
  XGRAD_CHECK_THROW_MSG(functional_call(m, {{"a", t}, {"b", t.clone()}}, zeros({2}, dtype(float64))),
                        "functional_call: 'a' and 'b' are the same (tied) tensor of Tied but were given different");
}

BOOST_AUTO_TEST_CASE(errors) {
  auto net = mlp();
  const Snapshot before(*net);
  Tensor x = rand64({5, 3});
  XGRAD_CHECK_THROW_MSG(functional_call(*net, {{"0.weights", rand64({4, 3})}, {"9.bias", rand64({2})}}, x),
                        "functional_call: Sequential has no parameter or buffer named '0.weights', '9.bias' (it "
                        "has: 0.weight, 0.bias, 2.weight, 2.bias)");
  XGRAD_CHECK_THROW_MSG(functional_call(*net, {{"0.weight", rand64({4, 3})}}, x, /*strict=*/true),
                        "functional_call: strict: no tensor given for '0.bias', '2.weight', '2.bias' of Sequential");
  XGRAD_CHECK_THROW_MSG(functional_call(*net, {{"0.weight", Tensor()}}, x),
                        "functional_call: the tensor given for '0.weight' of Sequential is undefined");
  before.check_unchanged(*net);
}

BOOST_AUTO_TEST_SUITE_END()
