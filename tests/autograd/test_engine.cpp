// The engine: backward options, functional grad, accumulation, hooks, guards, version
// counter, anomaly mode, custom functions, gradcheck itself, and the engine's errors.
#include "test_util.hpp"

using namespace xgrad;
using xgrad::test::check_close;

BOOST_AUTO_TEST_SUITE(engine)

BOOST_AUTO_TEST_CASE(hand_derived_chain) {
  // y = (x*w + b).tanh() * x, L = sum(y)
  // dL/dw = x^2 (1 - tanh^2(xw+b)), dL/db = x (1 - tanh^2), dL/dx = tanh(.) + x w (1 - tanh^2)
  Tensor x = tensor({0.5, -1.0}, dtype(float64));
  Tensor w = tensor({2.0, 0.5}, dtype(float64).requires_grad());
  Tensor b = tensor({0.1, 0.2}, dtype(float64).requires_grad());
  x.requires_grad_();
  Tensor L = ((x * w + b).tanh() * x).sum();
  L.backward();
  const double z0 = 0.5 * 2.0 + 0.1, z1 = -1.0 * 0.5 + 0.2;
  const double s0 = 1 - std::tanh(z0) * std::tanh(z0), s1 = 1 - std::tanh(z1) * std::tanh(z1);
  check_close(w.grad(), tensor({0.25 * s0, 1.0 * s1}, dtype(float64)), 1e-12);
  check_close(b.grad(), tensor({0.5 * s0, -1.0 * s1}, dtype(float64)), 1e-12);
  check_close(x.grad(), tensor({std::tanh(z0) + 0.5 * 2.0 * s0, std::tanh(z1) - 1.0 * 0.5 * s1}, dtype(float64)), 1e-12);
}

BOOST_AUTO_TEST_CASE(tensor_used_twice_accumulates) {
  // L = sum(x * x) -> dL/dx = 2x (the two uses add up)
  Tensor x = tensor({1.0, -2.0, 3.0}, dtype(float64).requires_grad());
  (x * x).sum().backward();
  check_close(x.grad(), tensor({2.0, -4.0, 6.0}, dtype(float64)));
  // A second backward accumulates into .grad (+=).
  (x * 3.0).sum().backward();
  check_close(x.grad(), tensor({5.0, -1.0, 9.0}, dtype(float64)));
}

BOOST_AUTO_TEST_CASE(shared_gradient_does_not_alias) {
  // x + y sends the same gradient tensor to both leaves; later += on one must not leak.
  Tensor x = ones({2}, dtype(float64).requires_grad());
  Tensor y = ones({2}, dtype(float64).requires_grad());
  (x + y).sum().backward();
  (x * 2.0).sum().backward();
  check_close(x.grad(), tensor({3.0, 3.0}, dtype(float64)));
  check_close(y.grad(), tensor({1.0, 1.0}, dtype(float64)));
}

BOOST_AUTO_TEST_CASE(unused_input_and_no_grad) {
  Tensor x = tensor({1.0, 2.0}, dtype(float64).requires_grad());
  Tensor unused = tensor({1.0}, dtype(float64).requires_grad());
  (x * 2.0).sum().backward();
  BOOST_CHECK(!unused.grad().defined());
  {
    NoGradGuard ng;
    Tensor y = x * 2.0;
    BOOST_CHECK(!y.requires_grad());
    BOOST_CHECK(y.is_leaf());
    BOOST_CHECK(!grad_mode_enabled());
  }
  BOOST_CHECK(grad_mode_enabled());
  XGRAD_CHECK_THROW_MSG(autograd::grad({(x * 2.0).sum()}, {unused}), "was not used in the graph");
  autograd::GradOptions go;
  go.allow_unused = true;
  auto g = autograd::grad({(x * 2.0).sum()}, {x, unused}, {}, go);
  BOOST_CHECK(g[0].defined());
  BOOST_CHECK(!g[1].defined());
}

BOOST_AUTO_TEST_CASE(retain_graph) {
  Tensor x = tensor({1.0, 2.0}, dtype(float64).requires_grad());
  Tensor y = (x * x).sum();
  y.backward(Tensor(), {.retain_graph = true});
  y.backward();
  check_close(x.grad(), tensor({4.0, 8.0}, dtype(float64)));
  XGRAD_CHECK_THROW_MSG(y.backward(), "retain_graph");
}

BOOST_AUTO_TEST_CASE(create_graph_second_derivative) {
  // y = x^3 -> dy/dx = 3x^2 -> d2y/dx2 = 6x
  Tensor x = tensor({2.0}, dtype(float64).requires_grad());
  Tensor y = (x * x * x).sum();
  autograd::GradOptions go;
  go.create_graph = true;
  Tensor g = autograd::grad({y}, {x}, {}, go)[0];
  check_close(g, tensor({12.0}, dtype(float64)));
  BOOST_CHECK(g.requires_grad());
  Tensor g2 = autograd::grad({g.sum()}, {x})[0];
  check_close(g2, tensor({12.0}, dtype(float64)));
  // backward with create_graph leaves a differentiable .grad
  Tensor z = (x * x * x).sum();
  z.backward(Tensor(), {.create_graph = true});
  BOOST_CHECK(x.grad().requires_grad());
  x.set_grad(Tensor());  // the differentiable .grad references x's graph: break the cycle
}

BOOST_AUTO_TEST_CASE(backward_inputs_option) {
  Tensor a = tensor({1.0}, dtype(float64).requires_grad());
  Tensor b = tensor({2.0}, dtype(float64).requires_grad());
  Tensor y = (a * b).sum();
  BackwardOptions o;
  o.inputs = {a};
  y.backward(Tensor(), o);
  check_close(a.grad(), tensor({2.0}, dtype(float64)));
  BOOST_CHECK(!b.grad().defined());
}

BOOST_AUTO_TEST_CASE(functional_grad_of_intermediate) {
  // h = 2x, y = sum(h^2): dy/dh = 2h = 4x
  Tensor x = tensor({1.0, 3.0}, dtype(float64).requires_grad());
  Tensor h = x * 2.0;
  Tensor y = (h * h).sum();
  auto g = autograd::grad({y}, {h, x});
  check_close(g[0], tensor({4.0, 12.0}, dtype(float64)));
  check_close(g[1], tensor({8.0, 24.0}, dtype(float64)));
  BOOST_CHECK(!x.grad().defined());  // grad() never touches .grad
}

BOOST_AUTO_TEST_CASE(retain_grad_and_hooks) {
  Tensor x = tensor({1.0, 2.0}, dtype(float64).requires_grad());
  Tensor h = x * 3.0;
  h.retain_grad();
  BOOST_CHECK(h.retains_grad());
  // hook doubles the gradient flowing into h
  std::size_t seen = 0;
  h.register_hook([&](const Tensor& g) {
    ++seen;
    return g * 2.0;
  });
  (h * h).sum().backward();
  BOOST_CHECK_EQUAL(seen, 1u);
  // PyTorch 2.x: retain_grad runs after every tensor hook, whatever the order of
  // registration, so .grad() holds the doubled gradient: d(h^2)/dh = 2h = [6, 12], x2 = [12, 24].
  check_close(h.grad(), tensor({12.0, 24.0}, dtype(float64)));
  check_close(x.grad(), tensor({36.0, 72.0}, dtype(float64)));

  // leaf hook, then removal
  Tensor w = tensor({1.0}, dtype(float64).requires_grad());
  auto id = w.register_hook([](const Tensor& g) { return g * 10.0; });
  (w * 1.0).sum().backward();
  check_close(w.grad(), tensor({10.0}, dtype(float64)));
  w.remove_hook(id);
  w.set_grad(Tensor());
  (w * 1.0).sum().backward();
  check_close(w.grad(), tensor({1.0}, dtype(float64)));
}

BOOST_AUTO_TEST_CASE(grad_of_non_leaf_without_retain_grad_throws) {
  Tensor x = tensor({1.0}, dtype(float64).requires_grad());
  Tensor h = x * 2.0;
  (h * h).sum().backward();
  XGRAD_CHECK_THROW_MSG(h.grad(), "is not a leaf and does not retain its gradient");
  BOOST_CHECK(!h.is_leaf());
  BOOST_CHECK_EQUAL(h.grad_fn_name(), "MulBackward");
}

BOOST_AUTO_TEST_CASE(detach_and_requires_grad) {
  Tensor x = tensor({1.0, 2.0}, dtype(float64).requires_grad());
  Tensor d = (x * 2.0).detach();
  BOOST_CHECK(!d.requires_grad());
  BOOST_CHECK(d.is_leaf());
  Tensor y = (x * d).sum();  // d is a constant
  y.backward();
  check_close(x.grad(), tensor({2.0, 4.0}, dtype(float64)));
  XGRAD_CHECK_THROW_MSG(zeros({2}, dtype(int64)).requires_grad_(), "int64");
  XGRAD_CHECK_THROW_MSG((x * 2.0).requires_grad_(false), "non-leaf");
}

BOOST_AUTO_TEST_CASE(version_counter) {
  Tensor x = tensor({1.0, 2.0}, dtype(float64).requires_grad());
  Tensor h = x * 1.0;
  Tensor y = h * h;  // saves h
  h.mul_(2.0);       // modifies a saved tensor
  XGRAD_CHECK_THROW_MSG(y.sum().backward(), "modified by an in-place operation");
  // in-place on a leaf that requires grad
  XGRAD_CHECK_THROW_MSG(x.add_(1.0), "leaf tensor that requires grad");
  {
    NoGradGuard ng;
    x.add_(1.0);  // allowed under no-grad (optimizer updates)
  }
  check_close(x.detach(), tensor({2.0, 3.0}, dtype(float64)));
}

BOOST_AUTO_TEST_CASE(inplace_on_non_leaf_is_differentiable) {
  // h = 2x; h += 1 in place; L = sum(h * x) -> dL/dx = 2x + (2x + 1) = 4x + 1
  Tensor x = tensor({1.0, 2.0}, dtype(float64).requires_grad());
  Tensor h = x * 2.0;
  h.add_(1.0);
  BOOST_CHECK(h.requires_grad());
  (h * x).sum().backward();
  check_close(x.grad(), tensor({5.0, 9.0}, dtype(float64)));
}

BOOST_AUTO_TEST_CASE(deep_chain_does_not_overflow) {
  Tensor x = tensor({1.0}, dtype(float64).requires_grad());
  Tensor y = x;
  for (int i = 0; i < 100000; ++i) y = y * 1.0;
  y.sum().backward();
  check_close(x.grad(), tensor({1.0}, dtype(float64)));
}

BOOST_AUTO_TEST_CASE(anomaly_mode) {
  Tensor x = tensor({0.0}, dtype(float64).requires_grad());
  {
    DetectAnomalyGuard guard;
    Tensor y = (x.sqrt()).sum();  // d sqrt(x)/dx = inf at 0
    XGRAD_CHECK_THROW_MSG(y.backward(), "SqrtBackward");
  }
  Tensor y = x.sqrt().sum();
  y.backward();  // without anomaly mode: no check
  BOOST_CHECK(std::isinf(x.grad().item<double>()));
}

BOOST_AUTO_TEST_CASE(errors) {
  Tensor x = tensor({1.0, 2.0}, dtype(float64).requires_grad());
  XGRAD_CHECK_THROW_MSG((x * 2.0).backward(), "only for scalar outputs, got output of shape [2]");
  XGRAD_CHECK_THROW_MSG(tensor({1.0}).backward(), "does not require grad");
  XGRAD_CHECK_THROW_MSG((x * 2.0).backward(ones({3}, dtype(float64))), "mismatch in shape");
  XGRAD_CHECK_THROW_MSG(Tensor().backward(), "undefined");
  XGRAD_CHECK_THROW_MSG(Tensor() + x, "add: expected a defined tensor");
  XGRAD_CHECK_THROW_MSG(autograd::grad({x.sum()}, {tensor({1.0})}), "does not require grad");
  // backward with an explicit seed on a non-scalar
  Tensor y = x * 3.0;
  y.backward(tensor({1.0, 10.0}, dtype(float64)));
  check_close(x.grad(), tensor({3.0, 30.0}, dtype(float64)));
}

struct Cube : Function<Cube> {
  static std::string name() { return "CubeBackward"; }
  static Tensor forward(FunctionCtx& ctx, const Tensor& x) {
    ctx.save_for_backward({x});
    return x * x * x;
  }
  static std::vector<Tensor> backward(FunctionCtx& ctx, const std::vector<Tensor>& g) {
    const Tensor& x = ctx.saved()[0];
    return {g[0] * 3.0 * x * x};  // d(x^3)/dx = 3x^2
  }
};

struct WrongCount : Function<WrongCount> {
  static Tensor forward(FunctionCtx&, const Tensor& x) { return x * 2.0; }
  static std::vector<Tensor> backward(FunctionCtx&, const std::vector<Tensor>& g) { return {g[0], g[0]}; }
};

struct WrongShape : Function<WrongShape> {
  static Tensor forward(FunctionCtx&, const Tensor& x) { return x * 2.0; }
  static std::vector<Tensor> backward(FunctionCtx&, const std::vector<Tensor>&) { return {zeros({5}, dtype(float64))}; }
};

BOOST_AUTO_TEST_CASE(custom_function) {
  Tensor x = tensor({2.0, -1.0}, dtype(float64).requires_grad());
  Tensor y = Cube::apply(x);
  BOOST_CHECK_EQUAL(y.grad_fn_name(), "CubeBackward");
  y.sum().backward();
  check_close(x.grad(), tensor({12.0, 3.0}, dtype(float64)));
  xgrad::test::check_gradcheck([](const std::vector<Tensor>& in) { return Cube::apply(in[0]); },
                               {xgrad::test::rand64({3})});
  // backward made of xgrad ops: second derivative 6x
  xgrad::test::check_gradgradcheck([](const std::vector<Tensor>& in) { return Cube::apply(in[0]); },
                                   {xgrad::test::rand64({3})});
  XGRAD_CHECK_THROW_MSG(WrongCount::apply(x).sum().backward(), "backward returned 2 gradients");
  XGRAD_CHECK_THROW_MSG(WrongShape::apply(x).sum().backward(), "gradient of shape [5]");
}

BOOST_AUTO_TEST_CASE(lambda_function) {
  // f(a, b) = a * b + a, df/da = b + 1, df/db = a
  Tensor a = tensor({2.0}, dtype(float64).requires_grad());
  Tensor b = tensor({5.0}, dtype(float64).requires_grad());
  Tensor y = apply_lambda(
      "AxbBackward", {a, b}, [](const std::vector<Tensor>& in) { return in[0] * in[1] + in[0]; },
      [](const std::vector<Tensor>& in, const Tensor&, const Tensor& g) {
        return std::vector<Tensor>{g * (in[1] + 1.0), g * in[0]};
      });
  BOOST_CHECK_EQUAL(y.grad_fn_name(), "AxbBackward");
  y.sum().backward();
  check_close(a.grad(), tensor({6.0}, dtype(float64)));
  check_close(b.grad(), tensor({2.0}, dtype(float64)));
}

BOOST_AUTO_TEST_CASE(gradcheck_catches_wrong_gradient) {
  auto wrong = [](const std::vector<Tensor>& in) {
    return apply_lambda(
        "WrongBackward", {in[0]}, [](const std::vector<Tensor>& v) { return v[0] * v[0]; },
        [](const std::vector<Tensor>& v, const Tensor&, const Tensor& g) { return std::vector<Tensor>{g * v[0]}; });
  };
  GradcheckOptions o;
  o.raise_exception = false;
  auto r = gradcheck(wrong, {xgrad::test::rand64({4})}, o);
  BOOST_CHECK(!r.ok);
  BOOST_CHECK(r.message.find("worst element") != std::string::npos);
  BOOST_CHECK(r.worst_index >= 0);
  XGRAD_CHECK_THROW_MSG(gradcheck(wrong, {xgrad::test::rand64({4})}), "gradcheck failed");
  XGRAD_CHECK_THROW_MSG(gradcheck(wrong, {ones({2}, TensorOptions().requires_grad())}), "must be float64");
}

BOOST_AUTO_TEST_CASE(gradgradcheck_core_ops) {
  using xgrad::test::check_gradgradcheck;
  using xgrad::test::rand64;
  check_gradgradcheck([](const std::vector<Tensor>& in) { return in[0].tanh(); }, {rand64({3})});
  check_gradgradcheck([](const std::vector<Tensor>& in) { return in[0].sigmoid(); }, {rand64({2, 2})});
  check_gradgradcheck([](const std::vector<Tensor>& in) { return in[0] * in[1]; }, {rand64({2, 3}), rand64({3})});
  check_gradgradcheck([](const std::vector<Tensor>& in) { return in[0].matmul(in[1]); },
                      {rand64({2, 3}), rand64({3, 2})});
  check_gradgradcheck([](const std::vector<Tensor>& in) { return in[0].exp(); }, {rand64({3})});
  check_gradgradcheck([](const std::vector<Tensor>& in) { return in[0].pow(3.0); }, {rand64({3})});
  check_gradgradcheck([](const std::vector<Tensor>& in) { return in[0].pow(in[1]); },
                      {rand64({3}, 0.2, 1.5), rand64({3})});
}

BOOST_AUTO_TEST_CASE(repeated_runs_identical) {
  auto run = [] {
    manual_seed(7);
    Tensor w = randn({64, 32}).requires_grad_();
    Tensor x = randn({16, 64});
    Tensor L = x.matmul(w).tanh().sum();
    L.backward();
    return std::make_pair(L.item<float>(), w.grad().to_vector<float>());
  };
  auto a = run(), b = run();
  BOOST_CHECK_EQUAL(a.first, b.first);
  BOOST_CHECK(a.second == b.second);
}

BOOST_AUTO_TEST_CASE(threads_agree) {
  auto run = [] {
    manual_seed(3);
    Tensor w = randn({300, 200}).requires_grad_();
    Tensor x = randn({256, 300});
    Tensor L = (x.matmul(w).sigmoid() * 2.0).sum();
    L.backward();
    return std::make_pair(L.item<double>(), w.grad().to_vector<float>());
  };
  const int before = get_num_threads();
  set_num_threads(1);
  auto a = run();
  set_num_threads(2);
  auto b = run();
  set_num_threads(before);
  // Bit-identical (the determinism guarantee; tests/integration/test_determinism.cpp has more).
  BOOST_CHECK_EQUAL(a.first, b.first);
  BOOST_CHECK(a.second == b.second);
  XGRAD_CHECK_THROW_MSG(set_num_threads(0), "set_num_threads");
}

BOOST_AUTO_TEST_SUITE_END()
