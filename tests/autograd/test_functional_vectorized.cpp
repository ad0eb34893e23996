// jacobian/hessian(vectorize = true): the batched reverse pass against the row-by-row loop
// (MLPs of nn::Linear with tanh/sigmoid/relu, broadcasting, several inputs and outputs, the
// Hessian of a quadratic form), that the batched path really runs where the header says it
// does, the fallback to the loop for nodes without a batched rule or with hooks, and bit-
// identical results at 1 and 2 threads.
#include <functional>
#include <vector>

#include "test_util.hpp"
#include "xgrad/autograd/functional.hpp"
#include "xgrad/autograd/sorting.hpp"
#include "xgrad/autograd/threading.hpp"
#include "xgrad/nn/linear.hpp"

using namespace xgrad;
namespace F = xgrad::autograd::functional;
using xgrad::test::check_close;
using xgrad::test::rand64;

namespace {

using Act = std::function<Tensor(const Tensor&)>;

// l2(act(l1(x))) in float64.
struct Mlp {
  nn::Linear l1, l2;
  Act act;
  Mlp(std::int64_t in, std::int64_t hidden, std::int64_t out, Act a) : l1(in, hidden), l2(hidden, out), act(a) {
    l1.to(float64);
    l2.to(float64);
  }
  Tensor operator()(const Tensor& x) { return l2.forward(act(l1.forward(x))); }
};

// Looped and vectorised Jacobians of f at xs: equal to tol, and the batched path taken (or
// not, as `expect_batched` says).
void compare(const F::VectorFn& f, const std::vector<Tensor>& xs, bool expect_batched, double tol = 1e-12) {
  auto loop = F::jacobian(f, xs);
  BOOST_CHECK(!F::jacobian_last_was_vectorized());
  auto vec = F::jacobian(f, xs, false, false, /*vectorize=*/true);
  BOOST_CHECK_EQUAL(F::jacobian_last_was_vectorized(), expect_batched);
  BOOST_REQUIRE_EQUAL(loop.size(), vec.size());
  for (std::size_t i = 0; i < loop.size(); ++i)
    for (std::size_t j = 0; j < loop[i].size(); ++j) {
      BOOST_CHECK(vec[i][j].shape() == loop[i][j].shape());
      BOOST_CHECK(!vec[i][j].requires_grad());
      check_close(vec[i][j], loop[i][j], tol);
    }
}

F::VectorFn one(const std::function<Tensor(const Tensor&)>& f) {
  return [f](const std::vector<Tensor>& in) { return std::vector<Tensor>{f(in[0])}; };
}

}  // namespace

BOOST_AUTO_TEST_SUITE(functional_vectorized)

BOOST_AUTO_TEST_CASE(mlp_tanh_sigmoid_relu) {
  const std::vector<Act> acts = {[](const Tensor& t) { return tanh(t); }, [](const Tensor& t) { return sigmoid(t); },
                                 [](const Tensor& t) { return relu(t); }};
  for (const Act& act : acts) {
    Mlp m(5, 7, 4, act);
    auto f = one([&](const Tensor& x) { return m(x); });
    compare(f, {rand64({5})}, true);     // one input: [4, 5]
    compare(f, {rand64({3, 5})}, true);  // a batch: [3, 4, 3, 5]
    // Square layers: mm(x, W^T) cannot be told from mm(x, W) by the shapes; the probe decides.
    Mlp sq(6, 6, 6, act);
    compare(one([&](const Tensor& x) { return sq(x); }), {rand64({6})}, true);
    compare(one([&](const Tensor& x) { return sq(x); }), {rand64({6, 6})}, true);
  }
}

BOOST_AUTO_TEST_CASE(hand_derived_linear_tanh) {
  // y = tanh(W x + b): dy_i/dx_j = (1 - y_i^2) W_ij. W = [[1, 2], [0, -1]], b = 0, x = (0, 0):
  // y = 0, so J = W.
  nn::Linear l(2, 2);
  l.to(float64);
  {
    NoGradGuard ng;
    l.weight.copy_(tensor({{1.0, 2.0}, {0.0, -1.0}}, dtype(float64)));
    l.bias.zero_();
  }
  Tensor J = F::jacobian([&](const Tensor& x) { return tanh(l.forward(x)); }, zeros({2}, dtype(float64)), false, false,
                         /*vectorize=*/true);
  BOOST_CHECK(F::jacobian_last_was_vectorized());
  xgrad::test::check_values(J, {2, 2}, {1, 2, 0, -1}, 0.0);
}

BOOST_AUTO_TEST_CASE(broadcasting_several_inputs_and_outputs) {
  // a [3, 1], b [4], c [3, 4]: broadcast adds and products; outputs of shapes [3, 4], [], [4, 3].
  F::VectorFn f = [](const std::vector<Tensor>& in) {
    const Tensor& a = in[0];
    const Tensor& b = in[1];
    const Tensor& c = in[2];
    Tensor p = tanh(a + b) * c - a / (b * b + 2.0);
    Tensor q = (exp(a) * sigmoid(c)).sum() + (log(b * b + 1.0) * 3.0).mean();
    Tensor r = (relu(c) - b).transpose(0, 1) * 0.5 + c.t().neg();
    return std::vector<Tensor>{p, q, r};
  };
  compare(f, {rand64({3, 1}), rand64({4}), rand64({3, 4})}, true);
  // Reductions over some dims (a rank-dropping mean runs row by row inside the pass), views,
  // permute, unsqueeze/expand, flatten, sin/cos/sqrt.
  F::VectorFn g = [](const std::vector<Tensor>& in) {
    const Tensor& x = in[0];               // [2, 3, 4]
    Tensor s = x.sum({1}, true) * sin(x);  // [2, 1, 4] * [2, 3, 4]
    Tensor m = mean(cos(x), {0, 2});       // [3]
    Tensor v = s.permute({2, 0, 1}).reshape({4, 6});
    Tensor w = m.unsqueeze(0).expand({4, 3}) * 2.0;
    return std::vector<Tensor>{v, w, sqrt(x * x + 1.0).flatten(), m, x.sum()};
  };
  compare(g, {rand64({2, 3, 4})}, true);
}

BOOST_AUTO_TEST_CASE(quadratic_form_hessian) {
  // f(x) = x^T A x: H = A + A^T. Written with mm and reshapes: every node of the gradient's
  // graph (MmBackward with transpose flags, ViewBackward, SumBackward, ExpandBackward) has a
  // batched rule, so the Hessian is one batched pass.
  const std::int64_t n = 5;
  Tensor A = rand64({n, n}).detach();
  F::TensorFn f = [&](const Tensor& x) { return mm(mm(x.reshape({1, n}), A), x.reshape({n, 1})).sum(); };
  Tensor x = rand64({n});
  Tensor H = F::hessian(f, x, false, false, /*vectorize=*/true);
  BOOST_CHECK(F::jacobian_last_was_vectorized());
  check_close(H, A + A.t(), 1e-12);
  check_close(H, F::hessian(f, x), 1e-12);
  BOOST_CHECK(!F::jacobian_last_was_vectorized());
}

BOOST_AUTO_TEST_CASE(mlp_hessian) {
  // Hessian of sum(l2(act(l1(x)))): the second-order nodes (TanhBackwardBackward, ...) and the
  // products recorded by mm's backward are batched too.
  const std::vector<Act> acts = {[](const Tensor& t) { return tanh(t); }, [](const Tensor& t) { return sigmoid(t); },
                                 [](const Tensor& t) { return relu(t); }};
  for (const Act& act : acts) {
    Mlp m(4, 6, 3, act);
    F::TensorFn f = [&](const Tensor& x) { return m(x).sum(); };
    Tensor x = rand64({4});
    Tensor Hl = F::hessian(f, x);
    Tensor Hv = F::hessian(f, x, false, false, /*vectorize=*/true);
    BOOST_CHECK(F::jacobian_last_was_vectorized());
    check_close(Hv, Hl, 1e-12);
  }
}

BOOST_AUTO_TEST_CASE(fallback_to_the_loop) {
  // cumsum and pow have no batched rule: the loop runs, with identical results.
  Tensor x = rand64({5});
  auto f = one([](const Tensor& t) { return cumsum(tanh(t), 0); });
  auto loop = F::jacobian(f, {x});
  auto vec = F::jacobian(f, {x}, false, false, true);
  BOOST_CHECK(!F::jacobian_last_was_vectorized());
  check_close(vec[0][0], loop[0][0], 0.0);
  compare(one([](const Tensor& t) { return t.pow(3.0) * 2.0; }), {x}, false, 0.0);
  // A hook on an intermediate tensor: the loop (the hook sees each row's gradient).
  int calls = 0;
  auto h = one([&](const Tensor& t) {
    Tensor y = tanh(t);
    y.register_hook([&](const Tensor& g) {
      ++calls;
      return g;
    });
    return y * 2.0;
  });
  compare(h, {x}, false, 0.0);
  BOOST_CHECK_EQUAL(calls, 10);  // 5 rows, twice
  // create_graph: the loop, results differentiable.
  Tensor xr = rand64({3});
  Tensor J = F::jacobian([](const Tensor& t) { return tanh(t); }, xr, /*create_graph=*/true, false, true);
  BOOST_CHECK(!F::jacobian_last_was_vectorized());
  BOOST_CHECK(J.requires_grad());
  // An output independent of an input, strict or not, as in the loop.
  F::VectorFn g = [](const std::vector<Tensor>& in) { return std::vector<Tensor>{tanh(in[0])}; };
  auto Jg = F::jacobian(g, {x, xr}, false, false, true);
  BOOST_CHECK(F::jacobian_last_was_vectorized());
  check_close(Jg[0][1], zeros({5, 3}, dtype(float64)), 0.0);
  XGRAD_CHECK_THROW_MSG(F::jacobian(g, {x, xr}, false, true, true),
                        "jacobian: Output 0 of the user-provided function is independent of input 1. This is not "
                        "allowed in strict mode.");
}

BOOST_AUTO_TEST_CASE(float32_mlp) {
  Mlp m(8, 8, 3, [](const Tensor& t) { return tanh(t); });
  m.l1.to(float32);
  m.l2.to(float32);
  Tensor x = randn({8});
  Tensor Jl = F::jacobian([&](const Tensor& t) { return m(t); }, x);
  Tensor Jv = F::jacobian([&](const Tensor& t) { return m(t); }, x, false, false, true);
  BOOST_CHECK(F::jacobian_last_was_vectorized());
  BOOST_CHECK(Jv.dtype() == float32);
  check_close(Jv, Jl, 1e-5);
}

BOOST_AUTO_TEST_CASE(chunks_of_rows) {
  // A limit of 100 elements per batched gradient: 12 rows, widest intermediate 12 -> chunks of 8
  // and 4 rows;
  // a limit below the widest intermediate: one row per pass. Same Jacobian as the loop.
  Mlp m(5, 9, 12, [](const Tensor& t) { return tanh(t); });
  auto f = one([&](const Tensor& x) { return m(x); });
  Tensor x = rand64({5});
  for (std::int64_t limit : {100, 3}) {
    const std::int64_t before = F::detail::set_jacobian_batch_limit(limit);
    compare(f, {x}, true);
    F::detail::set_jacobian_batch_limit(before);
  }
  XGRAD_CHECK_THROW_MSG(F::detail::set_jacobian_batch_limit(0),
                        "set_jacobian_batch_limit: expected a positive number of elements, got 0");
}

BOOST_AUTO_TEST_CASE(threads_bit_identical) {
  const int before = get_num_threads();
  Mlp m(96, 128, 80, [](const Tensor& t) { return tanh(t); });
  Tensor x = rand64({4, 96});  // batched gradients of [320, 4, 128]: large enough to split
  auto run = [&] { return F::jacobian([&](const Tensor& t) { return m(t); }, x, false, false, true); };
  set_num_threads(1);
  Tensor J1 = run();
  set_num_threads(2);
  Tensor J2 = run();
  set_num_threads(before);
  BOOST_CHECK(F::jacobian_last_was_vectorized());
  check_close(J1, J2, 0.0);
}

BOOST_AUTO_TEST_SUITE_END()
