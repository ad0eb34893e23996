// nn::Module: registration rules, recursive access with dotted names, modes, to(dtype),
// apply, printing, summary, hooks, state dicts and safetensors save/load; and the containers
// (Sequential, ModuleList, ModuleDict, Functional).
#include <cstdio>
#include <filesystem>
#include <sstream>

#include <unistd.h>

#include "test_util.hpp"
#include "xgrad/autograd/serialize.hpp"
#include "xgrad/nn/containers.hpp"
#include "xgrad/nn/linear.hpp"
#include "xgrad/nn/module.hpp"

using namespace xgrad;
using namespace xgrad::nn;
using xgrad::test::check_close;

namespace {

// enc: Block { scale (param), fc: Linear(2, 3), running (buffer) }; head: Linear(3, 1).
struct Block : Module {
  Block() : Module("Block") {
    fc = register_module("fc", std::make_shared<Linear>(2, 3));
    scale = register_parameter("scale", ones({3}));
    running = register_buffer("running", zeros({3}));
  }
  Tensor forward(const Tensor& x) override { return (*fc)(x)*scale + running; }
  std::shared_ptr<Linear> fc;
  Tensor scale, running;
};

struct Net : Module {
  Net() : Module("Net") {
    alpha = register_parameter("alpha", full({1}, 0.5));
    enc = register_module("enc", std::make_shared<Block>());
    head = register_module("head", std::make_shared<Linear>(3, 1));
  }
  Tensor forward(const Tensor& x) override { return (*head)((*enc)(x).tanh()) * alpha; }
  std::shared_ptr<Block> enc;
  std::shared_ptr<Linear> head;
  Tensor alpha;
};

std::shared_ptr<Functional> relu_module() {
  return std::make_shared<Functional>([](const Tensor& x) { return x.relu(); }, "ReLU");
}

std::vector<std::string> names_of(const auto& named) {
  std::vector<std::string> out;
  for (const auto& [n, v] : named) out.push_back(n);
  return out;
}

bool bit_identical(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  if (a.dtype() == float32) return a.to_vector<float>() == b.to_vector<float>();
  return a.to_vector<double>() == b.to_vector<double>();
}

// A float64 Linear(2 -> 2) with W = [[1, 2], [3, 4]], b = [0.5, -0.5].
std::shared_ptr<Linear> known_linear64() {
  auto lin = std::make_shared<Linear>(2, 2);
  lin->to(float64);
  NoGradGuard ng;
  lin->weight.copy_(tensor({{1., 2.}, {3., 4.}}, dtype(float64)));
  lin->bias.copy_(tensor({0.5, -0.5}, dtype(float64)));
  return lin;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(module)

BOOST_AUTO_TEST_CASE(registration_rules) {
  Module m("Custom");
  m.register_parameter("w", zeros({2}));
  XGRAD_CHECK_THROW_MSG(m.register_parameter("", zeros({2})), "Custom: cannot register a parameter with an empty name");
  XGRAD_CHECK_THROW_MSG(m.register_buffer("a.b", zeros({2})), "Custom: cannot register buffer 'a.b'");
  XGRAD_CHECK_THROW_MSG(m.register_buffer("a.b", zeros({2})), "may not contain '.'");
  XGRAD_CHECK_THROW_MSG(m.register_parameter("w", zeros({2})), "Custom: cannot register parameter 'w'");
  XGRAD_CHECK_THROW_MSG(m.register_buffer("w", zeros({2})), "a parameter with that name already exists");
  XGRAD_CHECK_THROW_MSG(m.register_module("w", std::make_shared<Identity>()), "cannot register module 'w'");
  XGRAD_CHECK_THROW_MSG(m.register_module("", std::make_shared<Identity>()), "empty name");
  XGRAD_CHECK_THROW_MSG(m.register_module("x.y", std::make_shared<Identity>()), "'x.y'");
  m.register_module("child", std::make_shared<Identity>());
  XGRAD_CHECK_THROW_MSG(m.register_parameter("child", zeros({1})), "a module with that name already exists");
  XGRAD_CHECK_THROW_MSG(m.register_parameter("u", Tensor()), "undefined");
  XGRAD_CHECK_THROW_MSG(m.set_tensor("nope", zeros({1})), "no parameter or buffer named 'nope'");
  XGRAD_CHECK_THROW_MSG(m.forward(zeros({1})), "Custom: forward(const Tensor&) is not implemented");
  // Parameters are leaves that require grad; int64 parameters never do; buffers do not.
  BOOST_CHECK(m.parameters()[0].requires_grad());
  BOOST_CHECK(m.parameters()[0].is_leaf());
  Tensor idx = m.register_parameter("idx", zeros({2}, dtype(int64)));
  BOOST_CHECK(!idx.requires_grad());
  Tensor frozen = m.register_parameter("frozen", zeros({2}), /*requires_grad=*/false);
  BOOST_CHECK(!frozen.requires_grad());
  // A non-leaf is detached on registration.
  Tensor x = ones({2}, dtype(float32).requires_grad());
  Tensor nl = m.register_parameter("nl", x * 2.0);
  BOOST_CHECK(nl.is_leaf());
  BOOST_CHECK(nl.requires_grad());
}

BOOST_AUTO_TEST_CASE(registered_handles_stay_valid_after_later_registrations) {
  // register_* returns a handle sharing the registered TensorImpl (not a reference into the
  // registry, which a later registration may reallocate).
  Module m("Custom");
  Tensor w = m.register_parameter("w", zeros({2}));
  Tensor b = m.register_buffer("b", zeros({3}));
  for (int i = 0; i < 64; ++i) {
    m.register_parameter(fmt::format("p{}", i), zeros({1}));
    m.register_buffer(fmt::format("q{}", i), zeros({1}));
  }
  BOOST_CHECK(w.is_same(m.named_parameters()[0].second));
  BOOST_CHECK(b.is_same(m.named_buffers()[0].second));
  m.set_tensor("w", ones({2}));  // in-place changes are visible through the handle
  BOOST_CHECK_EQUAL(w.sum().item<float>(), 2.0f);
  m.to(float64);
  BOOST_CHECK(w.dtype() == float64);
  BOOST_CHECK(b.dtype() == float64);
}

BOOST_AUTO_TEST_CASE(named_access_in_registration_order) {
  auto net = std::make_shared<Net>();
  using V = std::vector<std::string>;
  BOOST_TEST(names_of(net->named_parameters()) ==
                 V({"alpha", "enc.scale", "enc.fc.weight", "enc.fc.bias", "head.weight", "head.bias"}),
             boost::test_tools::per_element());
  BOOST_TEST(names_of(net->named_parameters(/*recurse=*/false)) == V({"alpha"}), boost::test_tools::per_element());
  BOOST_TEST(names_of(net->named_buffers()) == V({"enc.running"}), boost::test_tools::per_element());
  BOOST_TEST(names_of(net->named_buffers(false)).empty());
  BOOST_TEST(names_of(net->named_children()) == V({"enc", "head"}), boost::test_tools::per_element());
  BOOST_TEST(names_of(net->named_modules()) == V({"", "enc", "enc.fc", "head"}), boost::test_tools::per_element());
  BOOST_CHECK(net->named_modules()[2].second.get() == net->enc->fc.get());
  BOOST_CHECK_EQUAL(net->parameters().size(), 6u);
  BOOST_CHECK_EQUAL(net->parameters(false).size(), 1u);
  BOOST_CHECK(net->parameters(false)[0].is_same(net->alpha));
  BOOST_CHECK_EQUAL(net->buffers().size(), 1u);
  BOOST_CHECK_EQUAL(net->children().size(), 2u);
  BOOST_CHECK_EQUAL(net->modules().size(), 4u);
  // 1 + 3 + (6 + 3) + (3 + 1)
  BOOST_CHECK_EQUAL(net->num_parameters(), 17);
  // The handles the layers keep are the registered tensors themselves.
  BOOST_CHECK(net->named_parameters()[2].second.is_same(net->enc->fc->weight));
}

BOOST_AUTO_TEST_CASE(shared_submodule_listed_once) {
  auto lin = std::make_shared<Linear>(2, 2);
  auto seq = std::make_shared<Sequential>(lin, lin);
  BOOST_CHECK_EQUAL(seq->named_modules().size(), 2u);  // "" and "0"
  BOOST_CHECK_EQUAL(seq->parameters().size(), 2u);
  BOOST_CHECK_EQUAL(seq->state_dict().size(), 4u);  // like PyTorch: every name is a key
}

BOOST_AUTO_TEST_CASE(train_eval_propagate) {
  auto net = std::make_shared<Net>();
  for (auto& m : net->modules()) BOOST_CHECK(m->is_training());
  net->eval();
  for (auto& m : net->modules()) BOOST_CHECK(!m->is_training());
  net->enc->train();
  BOOST_CHECK(net->enc->fc->is_training());
  BOOST_CHECK(!net->head->is_training());
  net->train(true);
  for (auto& m : net->modules()) BOOST_CHECK(m->is_training());
}

BOOST_AUTO_TEST_CASE(zero_grad_clears_or_zeroes) {
  auto net = std::make_shared<Net>();
  (*net)(ones({4, 2})).sum().backward();
  for (const Tensor& p : net->parameters()) BOOST_CHECK(p.grad().defined());
  net->zero_grad(/*set_to_none=*/false);
  for (const Tensor& p : net->parameters()) {
    BOOST_REQUIRE(p.grad().defined());
    BOOST_CHECK_EQUAL(p.grad().abs().sum().item<double>(), 0.0);
  }
  net->zero_grad();
  for (const Tensor& p : net->parameters()) BOOST_CHECK(!p.grad().defined());
}

BOOST_AUTO_TEST_CASE(to_float64_keeps_leaves_and_handles) {
  manual_seed(3);
  auto net = std::make_shared<Net>();
  Tensor x = randn({4, 2});
  Tensor y32 = (*net)(x);
  Tensor w_handle = net->enc->fc->weight;
  net->to(float64);
  for (const auto& [n, p] : net->named_parameters()) {
    BOOST_CHECK_MESSAGE(p.dtype() == float64, n);
    BOOST_CHECK_MESSAGE(p.is_leaf() && p.requires_grad(), n);
  }
  BOOST_CHECK(net->enc->running.dtype() == float64);
  BOOST_CHECK(w_handle.dtype() == float64);  // handles kept by layers and users follow
  Tensor y64 = (*net)(x.to(float64));
  BOOST_CHECK(y64.dtype() == float64);
  check_close(y64, y32, 1e-5);
  y64.sum().backward();
  BOOST_CHECK(net->enc->fc->weight.grad().dtype() == float64);
  XGRAD_CHECK_THROW_MSG(net->to(int64), "Net: to(int64)");
}

BOOST_AUTO_TEST_CASE(apply_visits_children_first) {
  auto net = std::make_shared<Net>();
  std::vector<std::string> visited;
  net->apply([&](Module& m) { visited.push_back(m.name()); });
  BOOST_TEST(visited == std::vector<std::string>({"Linear", "Block", "Linear", "Net"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(repr_tree) {
  auto inner = std::make_shared<Sequential>(std::make_shared<Identity>(), std::make_shared<Dropout>(0.25));
  auto seq = std::make_shared<Sequential>(std::make_shared<Linear>(2, 3), relu_module(),
                                          std::make_shared<Linear>(LinearOptions(3, 1).bias(false)), inner);
  const std::string expected =
      "Sequential(\n"
      "  (0): Linear(in_features=2, out_features=3, bias=true)\n"
      "  (1): ReLU()\n"
      "  (2): Linear(in_features=3, out_features=1, bias=false)\n"
      "  (3): Sequential(\n"
      "    (0): Identity()\n"
      "    (1): Dropout(p=0.25)\n"
      "  )\n"
      ")";
  BOOST_CHECK_EQUAL(seq->repr(), expected);
  std::ostringstream os;
  os << *seq;
  BOOST_CHECK_EQUAL(os.str(), expected);
  BOOST_CHECK_EQUAL(Sequential().repr(), "Sequential()");
  // A module with both extra_repr and children lists the extra lines first.
  struct Wrapper : Module {
    Wrapper() : Module("Wrapper") { register_module("inner", std::make_shared<Identity>()); }
    std::string extra_repr() const override { return "k=1"; }
  };
  BOOST_CHECK_EQUAL(Wrapper().repr(), "Wrapper(\n  k=1\n  (inner): Identity()\n)");
  auto net = std::make_shared<Net>();
  BOOST_CHECK_EQUAL(net->repr(),
                    "Net(\n"
                    "  (enc): Block(\n"
                    "    (fc): Linear(in_features=2, out_features=3, bias=true)\n"
                    "  )\n"
                    "  (head): Linear(in_features=3, out_features=1, bias=true)\n"
                    ")");
}

BOOST_AUTO_TEST_CASE(summary_table) {
  auto seq = std::make_shared<Sequential>(std::make_shared<Linear>(4, 3), relu_module(), std::make_shared<Linear>(3, 2),
                                          std::make_shared<Dropout>(0.5));
  const std::string s = seq->summary({5, 4});
  BOOST_TEST_MESSAGE(s);
  auto line_with = [&](const std::string& key) {
    std::istringstream in(s);
    for (std::string line; std::getline(in, line);)
      if (line.find(key) != std::string::npos) return line;
    return std::string();
  };
  BOOST_CHECK(line_with("0 (Linear)").find("[5, 3]") != std::string::npos);
  BOOST_CHECK(line_with("0 (Linear)").find("15") != std::string::npos);  // 4*3 + 3
  BOOST_CHECK(line_with("1 (ReLU)").find("[5, 3]") != std::string::npos);
  BOOST_CHECK(line_with("2 (Linear)").find("[5, 2]") != std::string::npos);
  BOOST_CHECK(line_with("2 (Linear)").find(" 8") != std::string::npos);  // 3*2 + 2
  BOOST_CHECK(line_with("Sequential").find("[5, 2]") != std::string::npos);
  BOOST_CHECK(line_with("Sequential").find("23") != std::string::npos);
  BOOST_CHECK(s.find("Total params: 23") != std::string::npos);
  // Modes are restored, hooks removed: a second summary is identical; no graph was recorded.
  BOOST_CHECK(seq->is_training());
  BOOST_CHECK(seq->at<Dropout>(3)->is_training());
  BOOST_CHECK_EQUAL(seq->summary({5, 4}), s);
  for (const Tensor& p : seq->parameters()) BOOST_CHECK(!p.grad().defined());
  XGRAD_CHECK_THROW_MSG(seq->summary({5, 7}), "linear");
  BOOST_CHECK(seq->is_training());
}

BOOST_AUTO_TEST_CASE(forward_pre_hook_replaces_input) {
  auto id = std::make_shared<Identity>();
  Tensor seen;
  auto h = id->register_forward_pre_hook([&](Module& m, const Tensor& x) {
    BOOST_CHECK_EQUAL(m.name(), "Identity");
    seen = x;
    return x * 2.0;
  });
  Tensor x = tensor({1., 2.});
  check_close((*id)(x), tensor({2., 4.}));
  BOOST_CHECK(seen.is_same(x));
  // A hook returning an undefined tensor keeps the input.
  auto h2 = id->register_forward_pre_hook([](Module&, const Tensor&) { return Tensor(); });
  check_close((*id)(x), tensor({2., 4.}));
  h.remove();
  check_close((*id)(x), tensor({1., 2.}));
  // forward() called directly runs no hooks.
  id->register_forward_pre_hook([](Module&, const Tensor& t) { return t * 10.0; });
  check_close(id->forward(x), x);
}

BOOST_AUTO_TEST_CASE(forward_hook_sees_and_replaces_output) {
  auto lin = known_linear64();
  Tensor x = tensor({{1., -1.}}, dtype(float64));
  Tensor seen_in, seen_out;
  auto h = lin->register_forward_hook([&](Module&, const Tensor& in, const Tensor& out) {
    seen_in = in;
    seen_out = out;
    return out + 1.0;
  });
  Tensor y = (*lin)(x);
  // x W^T + b = [1 - 2 + 0.5, 3 - 4 - 0.5] = [-0.5, -1.5]; the hook adds 1.
  check_close(seen_out, tensor({{-0.5, -1.5}}, dtype(float64)), 1e-15);
  check_close(y, tensor({{0.5, -0.5}}, dtype(float64)), 1e-15);
  BOOST_CHECK(seen_in.is_same(x));
  h.remove();
  h.remove();  // idempotent
  check_close((*lin)(x), tensor({{-0.5, -1.5}}, dtype(float64)), 1e-15);
}

BOOST_AUTO_TEST_CASE(hook_call_order_and_removal) {
  auto lin = known_linear64();
  std::vector<std::string> calls;
  auto p1 = lin->register_forward_pre_hook([&](Module&, const Tensor&) {
    calls.push_back("pre1");
    return Tensor();
  });
  auto p2 = lin->register_forward_pre_hook([&](Module&, const Tensor&) {
    calls.push_back("pre2");
    return Tensor();
  });
  auto f1 = lin->register_forward_hook([&](Module&, const Tensor&, const Tensor&) {
    calls.push_back("fwd1");
    return Tensor();
  });
  auto f2 = lin->register_forward_hook([&](Module&, const Tensor&, const Tensor&) {
    calls.push_back("fwd2");
    return Tensor();
  });
  auto b1 = lin->register_full_backward_hook([&](Module&, const Tensor&, const Tensor&) {
    calls.push_back("bwd1");
    return Tensor();
  });
  auto b2 = lin->register_full_backward_hook([&](Module&, const Tensor&, const Tensor&) {
    calls.push_back("bwd2");
    return Tensor();
  });
  Tensor x = tensor({{1., -1.}}, dtype(float64).requires_grad());
  Tensor y = (*lin)(x);
  BOOST_TEST(calls == std::vector<std::string>({"pre1", "pre2", "fwd1", "fwd2"}), boost::test_tools::per_element());
  y.sum().backward();
  BOOST_TEST(calls == std::vector<std::string>({"pre1", "pre2", "fwd1", "fwd2", "bwd1", "bwd2"}),
             boost::test_tools::per_element());
  calls.clear();
  p1.remove();
  f2.remove();
  b1.remove();
  (*lin)(x).sum().backward();
  BOOST_TEST(calls == std::vector<std::string>({"pre2", "fwd1", "bwd2"}), boost::test_tools::per_element());
  // A handle outliving its module is harmless.
  HookHandle dangling;
  {
    auto tmp = std::make_shared<Identity>();
    dangling = tmp->register_forward_hook([](Module&, const Tensor&, const Tensor&) { return Tensor(); });
  }
  dangling.remove();
}

BOOST_AUTO_TEST_CASE(full_backward_hook_values) {
  // y = x W^T + b, L = sum(y * c): grad_output = dL/dy = c, grad_input = dL/dx = c W.
  // x = [[1, -1]], c = [[1, 10]], W = [[1, 2], [3, 4]] -> c W = [[1 + 30, 2 + 40]] = [[31, 42]].
  auto lin = known_linear64();
  Tensor gin, gout;
  int calls = 0;
  auto h = lin->register_full_backward_hook([&](Module& m, const Tensor& grad_input, const Tensor& grad_output) {
    BOOST_CHECK_EQUAL(m.name(), "Linear");
    gin = grad_input;
    gout = grad_output;
    ++calls;
    return Tensor();
  });
  Tensor x = tensor({{1., -1.}}, dtype(float64).requires_grad());
  Tensor c = tensor({{1., 10.}}, dtype(float64));
  ((*lin)(x)*c).sum().backward();
  BOOST_CHECK_EQUAL(calls, 1);
  check_close(gout, c, 0.0);
  check_close(gin, tensor({{31., 42.}}, dtype(float64)), 0.0);
  check_close(x.grad(), tensor({{31., 42.}}, dtype(float64)), 0.0);
  // dL/dW = c^T x = [[1, -1], [10, -10]]: parameter gradients are not affected by the hook.
  check_close(lin->weight.grad(), tensor({{1., -1.}, {10., -10.}}, dtype(float64)), 0.0);
  h.remove();

  // Replacing grad_input: hooks run in order, each seeing the previous replacement.
  lin->zero_grad();
  auto r1 = lin->register_full_backward_hook([](Module&, const Tensor& gi, const Tensor&) { return gi * 0.5; });
  auto r2 = lin->register_full_backward_hook([&](Module&, const Tensor& gi, const Tensor&) {
    gin = gi;
    return gi - 1.0;
  });
  Tensor x2 = tensor({{1., -1.}}, dtype(float64).requires_grad());
  ((*lin)(x2)*c).sum().backward();
  check_close(gin, tensor({{15.5, 21.}}, dtype(float64)), 0.0);
  check_close(x2.grad(), tensor({{14.5, 20.}}, dtype(float64)), 0.0);
  check_close(lin->weight.grad(), tensor({{1., -1.}, {10., -10.}}, dtype(float64)), 0.0);
}

BOOST_AUTO_TEST_CASE(full_backward_hook_input_without_grad) {
  auto lin = known_linear64();
  bool called = false;
  lin->register_full_backward_hook([&](Module&, const Tensor& gi, const Tensor& go) {
    called = true;
    BOOST_CHECK(!gi.defined());
    check_close(go, tensor({{1., 1.}}, dtype(float64)), 0.0);
    return Tensor();
  });
  Tensor x = tensor({{1., -1.}}, dtype(float64));  // no grad: only the parameters need one
  (*lin)(x).sum().backward();
  BOOST_CHECK(called);
  check_close(lin->weight.grad(), tensor({{1., -1.}, {1., -1.}}, dtype(float64)), 0.0);

  // Nothing requires grad (or no-grad mode): no graph, no hook call, no error.
  called = false;
  for (auto& p : lin->parameters()) p.requires_grad_(false);
  Tensor y = (*lin)(x);
  BOOST_CHECK(!y.requires_grad());
  BOOST_CHECK(!called);
}

BOOST_AUTO_TEST_CASE(backward_hooks_in_a_sequential_capture_activations) {
  // The interpretability use: record every layer's output and output gradient.
  manual_seed(0);
  auto seq =
      std::make_shared<Sequential>(std::make_shared<Linear>(3, 4), relu_module(), std::make_shared<Linear>(4, 2));
  seq->to(float64);
  std::map<std::string, Tensor> acts, grads;
  for (auto& [name, m] : seq->named_children()) {
    m->register_forward_hook([&acts, name](Module&, const Tensor&, const Tensor& out) {
      acts[name] = out.detach();
      return Tensor();
    });
    m->register_full_backward_hook([&grads, name](Module&, const Tensor&, const Tensor& go) {
      grads[name] = go;
      return Tensor();
    });
  }
  Tensor x = test::rand64({5, 3});
  Tensor y = (*seq)(x);
  y.sum().backward();
  BOOST_CHECK_EQUAL(acts.size(), 3u);
  BOOST_CHECK_EQUAL(grads.size(), 3u);
  check_close(acts["2"], y, 0.0);
  check_close(grads["2"], ones({5, 2}, dtype(float64)), 0.0);
  // dL/d(relu out) = ones [5, 2] . W2 (the gradient of the second Linear's input).
  check_close(grads["1"], ones({5, 2}, dtype(float64)).matmul(seq->at<Linear>(2)->weight), 1e-12);
  // The hook plumbing keeps gradients exact: compare with a hook-free copy.
  auto plain =
      std::make_shared<Sequential>(std::make_shared<Linear>(3, 4), relu_module(), std::make_shared<Linear>(4, 2));
  plain->to(float64);
  plain->load_state_dict(seq->state_dict());
  Tensor x2 = x.detach().requires_grad_(true);
  (*plain)(x2).sum().backward();
  check_close(x2.grad(), x.grad(), 0.0);
  check_close(plain->at<Linear>(0)->weight.grad(), seq->at<Linear>(0)->weight.grad(), 0.0);
}

BOOST_AUTO_TEST_CASE(backward_hook_with_create_graph_is_differentiable) {
  // y = (x W^T) . sum, dy/dx = 1 W = column sums; second derivative is zero but the graph must
  // exist for create_graph (identity hook nodes are differentiable).
  auto lin = known_linear64();
  lin->register_full_backward_hook([](Module&, const Tensor&, const Tensor&) { return Tensor(); });
  Tensor x = tensor({{1., -1.}}, dtype(float64).requires_grad());
  Tensor y = ((*lin)(x) * (*lin)(x)).sum();  // L = sum(z^2), dL/dx = 2 z W
  autograd::GradOptions go;
  go.create_graph = true;
  Tensor g = autograd::grad({y}, {x}, {}, go)[0];
  // z = [-0.5, -1.5]; 2 z W = [-1 - 9, -2 - 12] = [-10, -14]
  check_close(g, tensor({{-10., -14.}}, dtype(float64)), 1e-12);
  BOOST_CHECK(g.requires_grad());
  test::check_gradcheck([&](const std::vector<Tensor>& in) { return (*lin)(in[0]).pow(2.0).sum(); },
                        {test::rand64({3, 2})});
}

BOOST_AUTO_TEST_CASE(state_dict_keys_and_round_trip) {
  manual_seed(1);
  auto a = std::make_shared<Net>();
  auto b = std::make_shared<Net>();
  TensorDict sd = a->state_dict();
  std::vector<std::string> keys;
  for (const auto& [k, v] : sd) keys.push_back(k);
  BOOST_TEST(keys == std::vector<std::string>({"alpha", "enc.fc.bias", "enc.fc.weight", "enc.running", "enc.scale",
                                               "head.bias", "head.weight"}),
             boost::test_tools::per_element());
  for (const auto& [k, v] : sd) BOOST_CHECK_MESSAGE(!v.requires_grad(), k);
  // Entries share storage with the module.
  {
    NoGradGuard ng;
    sd.at("enc.running").fill_(0.25);
  }
  check_close(a->enc->running, full({3}, 0.25), 0.0);

  Tensor x = randn({6, 2});
  BOOST_CHECK(!bit_identical((*a)(x), (*b)(x)));
  Tensor w_handle = b->enc->fc->weight;
  b->load_state_dict(a->state_dict());
  BOOST_CHECK(bit_identical((*a)(x), (*b)(x)));
  // Loading copies values into the existing tensors: handles stay valid, parameters stay leaves.
  BOOST_CHECK(w_handle.is_same(b->enc->fc->weight));
  BOOST_CHECK(bit_identical(w_handle, a->enc->fc->weight));
  BOOST_CHECK(w_handle.impl()->storage != a->enc->fc->weight.impl()->storage);
  BOOST_CHECK(w_handle.is_leaf() && w_handle.requires_grad());
}

BOOST_AUTO_TEST_CASE(load_state_dict_strict_lists_every_problem) {
  auto net = std::make_shared<Net>();
  TensorDict sd = net->state_dict();
  Tensor before = net->enc->fc->weight.clone().detach();
  sd.erase("alpha");
  sd.erase("head.bias");
  sd["foo"] = zeros({1});
  sd["enc.extra"] = zeros({1});
  sd["enc.scale"] = zeros({4});
  sd["enc.fc.weight"] = zeros({3, 2}, dtype(float64));
  try {
    net->load_state_dict(sd);
    BOOST_ERROR("load_state_dict did not throw");
  } catch (const Error& e) {
    const std::string msg = e.what();
    BOOST_TEST_MESSAGE(msg);
    for (const char* part :
         {"Net: load_state_dict failed", "missing keys: alpha, head.bias", "unexpected keys: enc.extra, foo",
          "'enc.scale': shape [4] in the state dict, [3] in the module",
          "'enc.fc.weight': dtype float64 in the state dict, float32 in the module"})
      BOOST_CHECK_MESSAGE(msg.find(part) != std::string::npos, "message lacks '" << part << "':\n" << msg);
  }
  // Nothing was written: validation happens before any copy.
  BOOST_CHECK(bit_identical(net->enc->fc->weight.detach(), before));
}

BOOST_AUTO_TEST_CASE(load_state_dict_non_strict) {
  manual_seed(2);
  auto a = std::make_shared<Net>();
  auto b = std::make_shared<Net>();
  TensorDict sd = a->state_dict();
  sd.erase("head.weight");
  sd["unused"] = ones({2});
  b->load_state_dict(sd, /*strict=*/false);
  BOOST_CHECK(bit_identical(b->enc->fc->weight.detach(), a->enc->fc->weight.detach()));
  BOOST_CHECK(!bit_identical(b->head->weight.detach(), a->head->weight.detach()));
  // Shape mismatches still throw in non-strict mode, and missing keys are not reported.
  sd["head.bias"] = zeros({2});
  XGRAD_CHECK_THROW_MSG(b->load_state_dict(sd, false), "'head.bias': shape [2] in the state dict, [1] in the module");
  try {
    b->load_state_dict(sd, false);
  } catch (const Error& e) {
    BOOST_CHECK(std::string(e.what()).find("missing") == std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(save_load_safetensors_bit_identical) {
  manual_seed(4);
  const auto path = (std::filesystem::temp_directory_path() /
                     fmt::format("xgrad_test_module_{}.safetensors", static_cast<long>(::getpid())))
                        .string();
  auto a = std::make_shared<Net>();
  {
    NoGradGuard ng;
    a->enc->running.copy_(tensor({0.1, -0.2, 0.3}));
  }
  a->save(path, {{"epoch", "3"}});
  auto file = load_safetensors(path);
  BOOST_CHECK_EQUAL(file.metadata.at("epoch"), "3");
  BOOST_CHECK_EQUAL(file.tensors.size(), 7u);
  auto b = std::make_shared<Net>();
  Tensor x = randn({8, 2});
  BOOST_CHECK(!bit_identical((*a)(x), (*b)(x)));
  b->load(path);
  BOOST_CHECK(bit_identical((*a)(x), (*b)(x)));
  BOOST_CHECK(bit_identical(b->enc->running, a->enc->running));
  // float64 modules round-trip too.
  a->to(float64);
  a->save(path);
  auto c = std::make_shared<Net>();
  c->to(float64);
  c->load(path);
  BOOST_CHECK(bit_identical((*a)(x.to(float64)), (*c)(x.to(float64))));
  // A file of another model fails strictly, naming the keys.
  auto lin = std::make_shared<Linear>(2, 3);
  XGRAD_CHECK_THROW_MSG(lin->load(path), "unexpected keys: alpha");
  std::filesystem::remove(path);
  XGRAD_CHECK_THROW_MSG(b->load(path), path);
}

BOOST_AUTO_TEST_CASE(set_tensor_replaces_data_in_place) {
  auto lin = std::make_shared<Linear>(2, 3);
  Tensor handle = lin->weight;
  lin->set_tensor("weight", ones({3, 2}, dtype(float64)));
  BOOST_CHECK(handle.dtype() == float64);
  BOOST_CHECK(handle.is_leaf() && handle.requires_grad());
  check_close(lin->weight, ones({3, 2}, dtype(float64)), 0.0);
}

// ---- containers ----------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(sequential_chains_and_indexes) {
  auto seq = std::make_shared<Sequential>(std::make_shared<Functional>([](const Tensor& x) { return x + 1.0; }),
                                          std::make_shared<Functional>([](const Tensor& x) { return x * 3.0; }));
  check_close((*seq)(tensor({1., 2.})), tensor({6., 9.}));  // (x + 1) * 3: order matters
  seq->push_back(std::make_shared<Identity>());
  BOOST_CHECK_EQUAL(seq->size(), 3u);
  BOOST_TEST(names_of(seq->named_children()) == std::vector<std::string>({"0", "1", "2"}),
             boost::test_tools::per_element());
  BOOST_CHECK_EQUAL((*seq)[-1]->name(), "Identity");
  BOOST_CHECK(seq->at<Identity>(2) != nullptr);
  XGRAD_CHECK_THROW_MSG(seq->at<Linear>(2), "element 2 is a Identity");
  XGRAD_CHECK_THROW_MSG((*seq)[3], "Sequential: index 3 is out of range for 3 modules");
  XGRAD_CHECK_THROW_MSG(seq->push_back(nullptr), "null module");
  int n = 0;
  for (const auto& m : *seq) n += m ? 1 : 0;
  BOOST_CHECK_EQUAL(n, 3);
  check_close(Sequential()(tensor({5.})), tensor({5.}));
  // Children are called through operator(): their hooks run.
  bool hooked = false;
  (*seq)[2]->register_forward_hook([&](Module&, const Tensor&, const Tensor&) {
    hooked = true;
    return Tensor();
  });
  (*seq)(tensor({0.}));
  BOOST_CHECK(hooked);
  // From a vector.
  Sequential from_vec(std::vector<std::shared_ptr<Module>>{std::make_shared<Identity>(), std::make_shared<Identity>()});
  BOOST_CHECK_EQUAL(from_vec.size(), 2u);
}

BOOST_AUTO_TEST_CASE(module_list_and_dict) {
  auto list = std::make_shared<ModuleList>(std::make_shared<Linear>(2, 2), std::make_shared<Linear>(2, 2, false));
  list->push_back(std::make_shared<Identity>());
  BOOST_CHECK_EQUAL(list->size(), 3u);
  BOOST_CHECK_EQUAL(list->parameters().size(), 3u);
  BOOST_TEST(names_of(list->named_parameters()) == std::vector<std::string>({"0.weight", "0.bias", "1.weight"}),
             boost::test_tools::per_element());
  XGRAD_CHECK_THROW_MSG((*list)(zeros({2})), "ModuleList: forward(const Tensor&) is not implemented");
  XGRAD_CHECK_THROW_MSG((*list)[-4], "ModuleList: index -4 is out of range for 3 modules");
  std::vector<std::string> types;
  for (const auto& m : *list) types.push_back(m->name());
  BOOST_TEST(types == std::vector<std::string>({"Linear", "Linear", "Identity"}), boost::test_tools::per_element());

  auto dict = std::make_shared<ModuleDict>();
  dict->insert("zeta", std::make_shared<Identity>());
  dict->insert("alpha", std::make_shared<Linear>(1, 1));
  BOOST_CHECK(dict->contains("alpha"));
  BOOST_CHECK(!dict->contains("beta"));
  BOOST_CHECK_EQUAL(dict->at("alpha")->name(), "Linear");
  BOOST_CHECK(dict->at<Linear>("alpha")->weight.defined());
  BOOST_TEST(dict->keys() == std::vector<std::string>({"zeta", "alpha"}), boost::test_tools::per_element());
  std::vector<std::string> order;
  for (const auto& [k, m] : *dict) order.push_back(k);
  BOOST_TEST(order == std::vector<std::string>({"zeta", "alpha"}), boost::test_tools::per_element());
  XGRAD_CHECK_THROW_MSG(dict->at("beta"), "ModuleDict: no module named 'beta' (keys: zeta, alpha)");
  XGRAD_CHECK_THROW_MSG(dict->insert("zeta", std::make_shared<Identity>()),
                        "ModuleDict: cannot register module 'zeta'");
  XGRAD_CHECK_THROW_MSG(dict->insert("a.b", std::make_shared<Identity>()), "may not contain '.'");
  BOOST_CHECK_EQUAL(dict->state_dict().count("alpha.weight"), 1u);
}

BOOST_AUTO_TEST_CASE(functional_module) {
  Functional sq([](const Tensor& x) { return x * x; }, "Square");
  BOOST_CHECK_EQUAL(sq.repr(), "Square()");
  Tensor x = tensor({3.}, dtype(float64).requires_grad());
  sq(x).sum().backward();
  check_close(x.grad(), tensor({6.}, dtype(float64)));  // d(x^2)/dx = 2x
  BOOST_CHECK(sq.parameters().empty());
  XGRAD_CHECK_THROW_MSG(Functional(std::function<Tensor(const Tensor&)>()),
                        "Functional: constructed from an empty function");
}

BOOST_AUTO_TEST_SUITE_END()
