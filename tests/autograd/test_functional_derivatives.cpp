// torch.autograd.functional: vjp, jvp, jacobian, hessian, hvp, vhp against closed forms
// (quadratic form, Rosenbrock, tanh, matmul), PyTorch's result shapes for several inputs and
// outputs, create_graph, strict mode and the errors.
#include "test_util.hpp"
#include "xgrad/autograd/functional.hpp"

using namespace xgrad;
namespace F = xgrad::autograd::functional;
using xgrad::test::check_close;
using xgrad::test::check_values;
using xgrad::test::rand64;

namespace {

Tensor f64(std::initializer_list<NestedList> v, bool rg = false) {
  return tensor(v, TensorOptions().dtype(float64).requires_grad(rg));
}

// f(x) = (1 - x0)^2 + 100 (x1 - x0^2)^2.
Tensor rosenbrock(const Tensor& x) {
  Tensor a = x.select(0, 0), b = x.select(0, 1);
  return (1.0 - a).pow(2.0) + 100.0 * (b - a * a).pow(2.0);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(functional_derivatives)

BOOST_AUTO_TEST_CASE(quadratic_form) {
  // f(x) = x^T A x: gradient (A + A^T) x, Hessian A + A^T.
  Tensor A = f64({{1.0, 2.0, 0.5}, {-1.0, 3.0, 4.0}, {0.0, 1.5, -2.0}});
  Tensor x = f64({0.5, -1.0, 2.0});
  F::TensorFn f = [&](const Tensor& t) { return t.matmul(A.matmul(t)); };
  Tensor S = A + A.t();
  check_close(F::hessian(f, x), S, 1e-12);
  check_close(F::hessian(f, x, false, false, /*vectorize=*/true), S, 1e-12);
  auto [out, g] = F::vjp(f, x);
  check_close(out, x.matmul(A.matmul(x)), 1e-12);
  check_close(g, S.matmul(x), 1e-12);
  BOOST_CHECK(!g.requires_grad());
  Tensor v = f64({1.0, 0.5, -2.0});
  check_close(F::hvp(f, x, v).second, S.matmul(v), 1e-12);
  check_close(F::vhp(f, x, v).second, v.matmul(S), 1e-12);
  check_close(F::jvp(f, x, v).second, (S.matmul(x) * v).sum(), 1e-12);
}

BOOST_AUTO_TEST_CASE(rosenbrock_hessian) {
  // f = (1 - a)^2 + 100 (b - a^2)^2:
  //   f_a = -2 (1 - a) - 400 a (b - a^2),  f_b = 200 (b - a^2)
  //   f_aa = 2 - 400 b + 1200 a^2, f_ab = -400 a, f_bb = 200.
  // At (a, b) = (1.5, 0.5): f_aa = 2 - 200 + 2700 = 2502, f_ab = -600, f_bb = 200;
  //   gradient: f_a = -2(-0.5) - 600 (0.5 - 2.25) = 1 + 1050 = 1051, f_b = 200 (-1.75) = -350.
  Tensor x = f64({1.5, 0.5});
  check_values(F::hessian(rosenbrock, x), {2, 2}, {2502, -600, -600, 200});
  check_values(F::jacobian(rosenbrock, x), {2}, {1051, -350});
  auto [f, hv] = F::hvp(rosenbrock, x, f64({1.0, 1.0}));
  check_values(f, {}, {0.25 + 100 * 1.75 * 1.75});
  check_values(hv, {2}, {1902, -400});
}

BOOST_AUTO_TEST_CASE(jacobian_tanh_and_matmul) {
  // d tanh(x)_i / dx_j = delta_ij (1 - tanh^2 x_i).
  Tensor x = rand64({4});
  Tensor J = F::jacobian([](const Tensor& t) { return t.tanh(); }, x);
  Tensor th = x.tanh();
  auto d = (1.0 - th * th).to_vector<double>();
  std::vector<double> w(16, 0.0);
  for (int i = 0; i < 4; ++i) w[static_cast<std::size_t>(i * 5)] = d[static_cast<std::size_t>(i)];
  check_values(J, {4, 4}, w, 1e-14);
  // y = W x: dy/dx = W; with x of shape [3, 2]: y = W x of shape [2, 2], J of shape [2, 2, 3, 2]
  // with J[i, k, j, l] = W[i, j] delta_kl.
  Tensor W = rand64({2, 3}).detach();
  Tensor v = rand64({3});
  check_close(F::jacobian([&](const Tensor& t) { return W.matmul(t); }, v), W, 1e-14);
  Tensor X = rand64({3, 2});
  Tensor JX = F::jacobian([&](const Tensor& t) { return W.matmul(t); }, X);
  BOOST_CHECK(JX.shape() == (Shape{2, 2, 3, 2}));
  check_close(JX.select(1, 0).select(2, 0), W, 1e-14);
  check_close(JX.select(1, 0).select(2, 1), zeros({2, 3}, dtype(float64)), 0.0);
}

BOOST_AUTO_TEST_CASE(several_inputs_and_outputs) {
  // outputs: p = a * b (shape [3]), q = sum(a) * c (shape [2]); inputs a [3], b [3], c [2].
  F::VectorFn f = [](const std::vector<Tensor>& in) {
    return std::vector<Tensor>{in[0] * in[1], in[0].sum() * in[2]};
  };
  Tensor a = rand64({3}), b = rand64({3}), c = rand64({2});
  auto J = F::jacobian(f, {a, b, c});
  BOOST_REQUIRE_EQUAL(J.size(), 2u);
  BOOST_REQUIRE_EQUAL(J[0].size(), 3u);
  BOOST_CHECK(J[0][0].shape() == (Shape{3, 3}));
  BOOST_CHECK(J[1][0].shape() == (Shape{2, 3}));
  BOOST_CHECK(J[1][2].shape() == (Shape{2, 2}));
  auto Jv = F::jacobian(f, {a, b, c}, false, false, /*vectorize=*/true);
  for (std::size_t i = 0; i < 2; ++i)
    for (std::size_t j = 0; j < 3; ++j) check_close(J[i][j], Jv[i][j], 0.0);
  // dp/dc = 0 (independent): zeros when not strict.
  check_close(J[0][2], zeros({3, 2}, dtype(float64)), 0.0);
  // vjp / jvp agree with the Jacobian: vjp_j = sum_i J_ij^T v_i, jvp_i = sum_j J_ij u_j.
  Tensor vp = rand64({3}), vq = rand64({2});
  auto [outs, g] = F::vjp(f, {a, b, c}, {vp, vq});
  BOOST_REQUIRE_EQUAL(outs.size(), 2u);
  check_close(g[0], vp.matmul(J[0][0]) + vq.matmul(J[1][0]), 1e-12);
  check_close(g[2], vq.matmul(J[1][2]), 1e-12);
  Tensor ua = rand64({3}), ub = rand64({3}), uc = rand64({2});
  auto [outs2, jv] = F::jvp(f, {a, b, c}, {ua, ub, uc});
  check_close(jv[0], J[0][0].matmul(ua) + J[0][1].matmul(ub), 1e-12);
  check_close(jv[1], J[1][0].matmul(ua) + J[1][2].matmul(uc), 1e-12);
  // Hessian of a scalar function of two inputs: g(a, c) = sum(a)^2 * c0 -> H shapes in_i + in_j.
  F::VectorFn s = [](const std::vector<Tensor>& in) {
    return std::vector<Tensor>{in[0].sum().pow(2.0) * in[1].select(0, 0)};
  };
  auto H = F::hessian(s, {a, c});
  BOOST_CHECK(H[0][0].shape() == (Shape{3, 3}));
  BOOST_CHECK(H[0][1].shape() == (Shape{3, 2}));
  BOOST_CHECK(H[1][1].shape() == (Shape{2, 2}));
  // d2/da_i da_j = 2 c0; d2/da_i dc0 = 2 sum(a); d2/dc2 = 0.
  check_close(H[0][0], full_like(zeros({3, 3}, dtype(float64)), 2.0 * c.select(0, 0).item<double>()), 1e-12);
  check_close(H[0][1].select(1, 0), full_like(a, 2.0 * a.sum().item<double>()), 1e-12);
  check_close(H[1][1], zeros({2, 2}, dtype(float64)), 0.0);
}

BOOST_AUTO_TEST_CASE(create_graph_allows_further_derivatives) {
  // vjp of f(x) = x^3 (elementwise) with v = 1: 3 x^2; with create_graph it depends on x:
  // d/dx sum(3 x^2) = 6 x.
  Tensor x = f64({1.0, -2.0}, true);
  auto [out, g] = F::vjp([](const Tensor& t) { return t.pow(3.0); }, x, ones_like(x), /*create_graph=*/true);
  BOOST_CHECK(g.requires_grad());
  check_values(g, {2}, {3.0, 12.0});
  g.sum().backward();
  check_values(x.grad(), {2}, {6.0, -12.0});
  // Third derivative of sum(x^4) through hessian(create_graph): H = diag(12 x^2);
  // d(trace H)/dx = 24 x.
  Tensor y = f64({0.5, 2.0}, true);
  Tensor H = F::hessian([](const Tensor& t) { return t.pow(4.0).sum(); }, y, /*create_graph=*/true);
  check_values(H, {2, 2}, {3.0, 0.0, 0.0, 48.0});
  (H.select(0, 0).select(0, 0) + H.select(0, 1).select(0, 1)).backward();
  check_values(y.grad(), {2}, {12.0, 48.0});
  // A non-contiguous input requiring grad (a transpose) with create_graph:
  // d/dM sum(vjp of sum(t^2)) = d/dM sum(2 M^T) = 2 everywhere.
  Tensor M = f64({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}}, true);
  Tensor gm = F::vjp([](const Tensor& t) { return (t * t).sum(); }, M.t(), Tensor(), true).second;
  check_close(gm, 2.0 * M.t(), 0.0);
  gm.sum().backward();
  check_values(M.grad(), {2, 3}, {2, 2, 2, 2, 2, 2});
  // Without create_graph the results are detached.
  BOOST_CHECK(!F::hessian([](const Tensor& t) { return t.pow(4.0).sum(); }, y).requires_grad());
}

BOOST_AUTO_TEST_CASE(strict_mode) {
  Tensor a = rand64({2}), b = rand64({2});
  F::VectorFn f = [](const std::vector<Tensor>& in) { return std::vector<Tensor>{in[0] * 2.0}; };
  // Not strict: zeros for the unused input.
  auto [o, g] = F::vjp(f, {a, b}, {ones_like(a)});
  check_close(g[1], zeros({2}, dtype(float64)), 0.0);
  XGRAD_CHECK_THROW_MSG(F::vjp(f, {a, b}, {ones_like(a)}, false, true),
                        "vjp: The output of the user-provided function is independent of input 1");
  XGRAD_CHECK_THROW_MSG(F::jvp(f, {a, b}, {a, b}, false, true), "jvp: The output of the user-provided function");
  XGRAD_CHECK_THROW_MSG(F::jacobian(f, {a, b}, false, true),
                        "jacobian: Output 0 of the user-provided function is independent of input 1");
  F::TensorFn constant = [](const Tensor&) { return ones({2}, dtype(float64)); };
  XGRAD_CHECK_THROW_MSG(F::jacobian(constant, a, false, true), "does not require gradients");
  check_close(F::jacobian(constant, a), zeros({2, 2}, dtype(float64)), 0.0);
  // Linear function: the Hessian is independent of the input.
  F::TensorFn lin = [](const Tensor& t) { return t.sum(); };
  XGRAD_CHECK_THROW_MSG(F::vhp(lin, a, ones_like(a), false, true), "vhp: The hessian of the user-provided function");
  check_close(F::hvp(lin, a, ones_like(a)).second, zeros({2}, dtype(float64)), 0.0);
}

BOOST_AUTO_TEST_CASE(errors) {
  Tensor x = rand64({3});
  F::VectorFn none = [](const std::vector<Tensor>&) { return std::vector<Tensor>{}; };
  XGRAD_CHECK_THROW_MSG(F::vjp(none, {x}), "vjp: the user-provided function returned no tensor");
  F::TensorFn id = [](const Tensor& t) { return t * 1.0; };
  XGRAD_CHECK_THROW_MSG(F::vjp(id, x), "vjp: v can only be omitted");
  XGRAD_CHECK_THROW_MSG(F::vjp(id, x, rand64({2})), "vjp: entry 0 of v has shape [2] but output 0 has shape [3]");
  XGRAD_CHECK_THROW_MSG(F::jvp(id, x, rand64({4})), "jvp: entry 0 of v has shape [4] but input 0 has shape [3]");
  XGRAD_CHECK_THROW_MSG(F::jvp(F::VectorFn([](const std::vector<Tensor>& in) { return in; }), {x}, {x, x}),
                        "jvp: v has 2 tensors but there are 1 inputs");
  XGRAD_CHECK_THROW_MSG(F::jacobian(id, zeros({3}, dtype(int64))), "jacobian: input 0 has dtype int64");
  XGRAD_CHECK_THROW_MSG(F::hessian(id, x), "hessian: the user-provided function must return a single tensor");
  XGRAD_CHECK_THROW_MSG(F::hvp(id, x, x), "hvp: the user-provided function must return a single tensor");
  XGRAD_CHECK_THROW_MSG(F::jacobian(id, x, false, /*strict=*/true, false, "forward-mode"),
                        "jacobian: strict = true is not supported with strategy 'forward-mode'");
  XGRAD_CHECK_THROW_MSG(F::jacobian(id, x, /*create_graph=*/true, false, false, "forward-mode"),
                        "jacobian: strategy 'forward-mode' does not support create_graph = true");
  XGRAD_CHECK_THROW_MSG(F::jacobian(id, x, false, false, false, "sideways"), "expected strategy");
  // A single one-element input/output: v defaults to 1.
  Tensor s = f64({2.0});
  check_values(F::jvp([](const Tensor& t) { return t * t; }, s).second, {1}, {4.0});
  check_values(F::vjp([](const Tensor& t) { return (t * t).sum(); }, s).second, {1}, {4.0});
}

BOOST_AUTO_TEST_CASE(float32_and_mlp_jacobian) {
  // float32 inputs keep their dtype; Jacobian of a small tanh MLP vs the vjp with basis rows.
  Tensor W1 = randn({5, 4}), W2 = randn({3, 5});
  F::TensorFn net = [&](const Tensor& t) { return W2.matmul(W1.matmul(t).tanh()); };
  Tensor x = randn({4});
  Tensor J = F::jacobian(net, x);
  BOOST_CHECK(J.dtype() == float32);
  BOOST_CHECK(J.shape() == (Shape{3, 4}));
  for (std::int64_t i = 0; i < 3; ++i) {
    Tensor e = zeros({3});
    e.data_ptr<float>()[i] = 1.0f;
    check_close(J.select(0, i), F::vjp(net, x, e).second, 1e-6);
  }
  check_close(J, F::jacobian(net, x, false, false, true), 0.0);
}

BOOST_AUTO_TEST_SUITE_END()
