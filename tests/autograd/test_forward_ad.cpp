// Forward-mode AD (forward_ad.hpp): dual tensors, tangents through element-wise ops, views and
// in-place ops, nn layers and losses, the errors, and functional::jvp in forward mode. Every
// op of the op tables is also checked in forward mode by op_db.hpp's check (6).
#include "test_util.hpp"
#include "xgrad/autograd/forward_ad.hpp"
#include "xgrad/autograd/functional.hpp"

using namespace xgrad;
namespace fwad = xgrad::autograd::forward_ad;
namespace AF = xgrad::autograd::functional;
using xgrad::test::check_close;
using xgrad::test::check_values;
using xgrad::test::rand64;

namespace {

Tensor f64(std::initializer_list<NestedList> v) { return tensor(v, dtype(float64)); }

// J t of f at x by forward mode.
Tensor forward_jvp(const std::function<Tensor(const Tensor&)>& f, const Tensor& x, const Tensor& t) {
  fwad::DualLevel level;
  const Tensor y = f(fwad::make_dual(x, t));
  Tensor jt = fwad::unpack_dual(y).tangent;
  BOOST_REQUIRE(jt.defined());
  return jt;
}

// J t of f at x through the full Jacobian (reverse mode, row by row).
Tensor reverse_jvp(const std::function<Tensor(const Tensor&)>& f, const Tensor& x, const Tensor& t) {
  const Tensor J = AF::jacobian(f, x);  // out.shape + x.shape
  const std::int64_t n = x.numel();
  return J.reshape({-1, n}).matmul(t.reshape({n})).reshape(f(x).shape());
}

struct RawTwice : Function<RawTwice> {
  static Tensor forward(FunctionCtx&, const Tensor& x) { return x * 2.0; }
  // Not differentiable: the gradient leaves the graph, so no forward rule can be derived.
  static std::vector<Tensor> backward(FunctionCtx&, const std::vector<Tensor>& g) {
    NoGradGuard ng;
    return {g[0].detach() * 2.0};
  }
};

struct Cube : Function<Cube> {
  static Tensor forward(FunctionCtx& ctx, const Tensor& x) {
    ctx.save_for_backward({x});
    return x * x * x;
  }
  static std::vector<Tensor> backward(FunctionCtx& ctx, const std::vector<Tensor>& g) {
    const Tensor& x = ctx.saved()[0];
    return {g[0] * 3.0 * x * x};
  }
};

struct ScaleInPlace : Function<ScaleInPlace> {
  static Tensor forward(FunctionCtx& ctx, Tensor x) {
    x.mul_(2.0);
    ctx.mark_dirty({x});
    return x;
  }
  static std::vector<Tensor> backward(FunctionCtx&, const std::vector<Tensor>& g) { return {g[0] * 2.0}; }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(forward_ad)

BOOST_AUTO_TEST_CASE(hand_derived) {
  // f(x) = sin(x) x^2 element-wise: f'(x) = cos(x) x^2 + 2 x sin(x), J = diag(f'), so
  // J t = f'(x) t. At x = (0.5, 1), t = (1, 2):
  //   f'(0.5) = 0.8775825619 * 0.25 + 1 * 0.4794255386 = 0.6988211791,
  //   f'(1)   = 0.5403023059 + 2 * 0.8414709848      = 2.2232442755, times 2 = 4.4464885510.
  const Tensor x = f64({0.5, 1.0});
  const Tensor t = f64({1.0, 2.0});
  const Tensor jt = forward_jvp([](const Tensor& a) { return sin(a) * a * a; }, x, t);
  check_values(jt, {2}, {0.6988211791, 4.4464885510}, 1e-9);
  check_values(jt, {2},
               {std::cos(0.5) * 0.25 + std::sin(0.5), 2.0 * (std::cos(1.0) + 2.0 * std::sin(1.0))});
}

BOOST_AUTO_TEST_CASE(matches_reverse_mode_jacobian) {
  manual_seed(3);
  const Tensor W = rand64({4, 3}), b = rand64({4});
  const auto f = [&](const Tensor& x) {
    const Tensor h = tanh(W.matmul(x) + b);
    return cat({nn::functional::softmax(h, 0), h.sum().reshape({1}), h.max().reshape({1}), h.pow(3.0).mean().reshape({1})}, 0);
  };
  const Tensor x = rand64({3}), t = rand64({3});
  check_close(forward_jvp(f, x, t), reverse_jvp(f, x, t), 1e-12);
}

BOOST_AUTO_TEST_CASE(views_and_in_place) {
  const Tensor x = f64({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}});
  const Tensor t = f64({{0.1, 0.2, 0.3}, {0.4, 0.5, 0.6}});
  fwad::DualLevel level;
  const Tensor d = fwad::make_dual(x, t);
  // in place through a view: y = x with row 1 tripled, so its tangent row 1 is tripled too.
  Tensor y = d.clone();
  y.select(0, 1).mul_(3.0);
  check_values(fwad::unpack_dual(y).tangent, {2, 3}, {0.1, 0.2, 0.3, 1.2, 1.5, 1.8});
  // a view of y reads the same tangent (transposed)
  check_values(fwad::unpack_dual(y.t()).tangent, {3, 2}, {0.1, 1.2, 0.2, 1.5, 0.3, 1.8});
  // a plain tensor takes a tangent from an in-place op with a dual operand: p = 0 + d[0] * d[0]
  Tensor p = zeros({3}, dtype(float64));
  p.add_(d.select(0, 0) * d.select(0, 0));
  check_values(fwad::unpack_dual(p).tangent, {3}, {2 * 1.0 * 0.1, 2 * 2.0 * 0.2, 2 * 3.0 * 0.3});
  // overwriting with a constant clears the tangent of that window
  y.select(1, 0).fill_(7.0);
  check_values(fwad::unpack_dual(y).tangent, {2, 3}, {0.0, 0.2, 0.3, 0.0, 1.5, 1.8});
  // the primal keeps no tangent (make_dual copies)
  BOOST_CHECK(!fwad::unpack_dual(x).tangent.defined());
}

BOOST_AUTO_TEST_CASE(nn_layers_and_losses) {
  manual_seed(5);
  auto net = std::make_shared<nn::Sequential>();
  net->push_back(std::make_shared<nn::Linear>(5, 8));
  net->push_back(std::make_shared<nn::GELU>());
  net->push_back(std::make_shared<nn::Linear>(8, 3));
  net->to(float64);
  const std::vector<std::function<Tensor(const Tensor&)>> heads = {
      [](const Tensor& o) { return nn::functional::cross_entropy(o, tensor({2, 0}, dtype(int64))); },
      [](const Tensor& o) { return nn::functional::mse_loss(o, zeros_like(o)); },
      [](const Tensor& o) { return nn::functional::log_softmax(o, 1); },
      [](const Tensor& o) { return nn::functional::silu(o) + nn::functional::softplus(o) + nn::functional::elu(o); },
  };
  const Tensor x = rand64({2, 5}), t = rand64({2, 5});
  for (const auto& head : heads) {
    const auto f = [&](const Tensor& in) { return head(net->forward(in)); };
    check_close(forward_jvp(f, x, t), reverse_jvp(f, x, t), 1e-11);
  }
}

BOOST_AUTO_TEST_CASE(custom_functions) {
  const Tensor x = f64({1.0, -2.0}), t = f64({1.0, 0.5});
  // Cube's backward is differentiable: J t = 3 x^2 t
  check_values(forward_jvp([](const Tensor& a) { return Cube::apply(a); }, x, t), {2}, {3.0, 6.0});
  fwad::DualLevel level;
  const Tensor d = fwad::make_dual(x, t);
  XGRAD_CHECK_THROW_MSG(RawTwice::apply(d), "forward-mode AD: CustomFunctionBackward has no forward rule");
  Tensor c = d.clone();
  XGRAD_CHECK_THROW_MSG(ScaleInPlace::apply(c), "forward-mode AD through a custom Function that modifies its inputs");
}

BOOST_AUTO_TEST_CASE(level_rules_and_errors) {
  const Tensor x = f64({1.0, 2.0});
  XGRAD_CHECK_THROW_MSG(fwad::make_dual(x, x), "make_dual: no forward-mode AD level is open");
  Tensor kept;
  {
    fwad::DualLevel level;
    BOOST_CHECK(fwad::is_active());
    XGRAD_CHECK_THROW_MSG(fwad::DualLevel(), "nested forward-mode AD levels are not supported");
    XGRAD_CHECK_THROW_MSG(fwad::make_dual(x, f64({1.0})), "make_dual: the tangent's shape [1] differs from the "
                                                          "primal's [2]");
    XGRAD_CHECK_THROW_MSG(fwad::make_dual(x, x.to(float32)), "make_dual: the tangent's dtype float32 differs");
    XGRAD_CHECK_THROW_MSG(fwad::make_dual(tensor({1, 2}), tensor({1, 2})), "make_dual: the primal must be float32 or "
                                                                           "float64");
    XGRAD_CHECK_THROW_MSG(fwad::make_dual(Tensor(), x), "make_dual (primal)");
    kept = exp(fwad::make_dual(x, x));
    BOOST_CHECK(kept.requires_grad());  // documented: dual tensors are recorded like requires_grad ones
    BOOST_CHECK(fwad::unpack_dual(kept).tangent.defined());
  }
  BOOST_CHECK(!fwad::is_active());
  BOOST_CHECK(!fwad::unpack_dual(kept).tangent.defined());  // dropped with the level
  // Under NoGradGuard nothing records, so no tangent propagates (documented).
  fwad::DualLevel level;
  const Tensor d = fwad::make_dual(x, x);
  NoGradGuard ng;
  BOOST_CHECK(!fwad::unpack_dual(exp(d)).tangent.defined());
}

BOOST_AUTO_TEST_CASE(reverse_gradients_reach_the_primal) {
  const Tensor w = f64({1.0, -3.0}).requires_grad_(true);
  {
    fwad::DualLevel level;
    const Tensor d = fwad::make_dual(w, f64({1.0, 1.0}));
    const Tensor y = (d * d).sum();
    check_values(fwad::unpack_dual(y).tangent, {}, {2.0 * 1.0 - 2.0 * 3.0});
    y.backward();
  }
  check_values(w.grad(), {2}, {2.0, -6.0});
}

BOOST_AUTO_TEST_CASE(functional_jvp_forward_and_double_backward_agree) {
  manual_seed(9);
  const Tensor A = rand64({4, 4});
  const AF::TensorFn f = [&](const Tensor& x) { return tanh(A.matmul(x)).cumsum(0) * x.sum(); };
  const Tensor x = rand64({4}), v = rand64({4});
  auto [out_fwd, jv_fwd] = AF::jvp(f, x, v);                        // forward mode
  auto [out_dbl, jv_dbl] = AF::jvp(f, x, v, false, /*strict=*/true);  // strict: double backward
  check_close(out_fwd, out_dbl, 0.0);
  check_close(jv_fwd, jv_dbl, 1e-12);
  BOOST_CHECK(!jv_fwd.requires_grad());
  // a user Function goes through forward mode too (its backward is differentiable)
  const AF::TensorFn g = [](const Tensor& a) { return Cube::apply(a) + a; };
  check_close(AF::jvp(g, x, v).second, (3.0 * x * x + 1.0) * v, 1e-12);
}

BOOST_AUTO_TEST_CASE(jacobian_forward_strategy_equals_reverse) {
  // Several inputs and outputs, one of them independent of input 1 (a zero block), a 0-d output.
  manual_seed(13);
  const AF::VectorFn f = [](const std::vector<Tensor>& in) {
    const Tensor& x = in[0];
    const Tensor& y = in[1];
    return std::vector<Tensor>{x.matmul(y).tanh(), x.cumsum(1), (x * x).sum()};
  };
  const std::vector<Tensor> inputs = {rand64({2, 3}), rand64({3, 2})};
  const auto fwd = AF::jacobian(f, inputs, false, false, false, "forward-mode");
  const auto rev = AF::jacobian(f, inputs);
  BOOST_REQUIRE_EQUAL(fwd.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t j = 0; j < 2; ++j) {
      BOOST_CHECK(fwd[i][j].shape() == rev[i][j].shape());
      check_close(fwd[i][j], rev[i][j], 1e-12);
    }
  check_close(fwd[1][1], zeros({2, 3, 3, 2}, dtype(float64)), 0.0);
  // inside an open level it cannot open its own
  fwad::DualLevel level;
  XGRAD_CHECK_THROW_MSG(AF::jacobian(f, inputs, false, false, false, "forward-mode"), "one is already open");
}

BOOST_AUTO_TEST_CASE(bit_identical_across_thread_counts) {
  manual_seed(11);
  const Tensor W = rand64({96, 96}), x = rand64({96, 64}), t = rand64({96, 64});
  const auto f = [&](const Tensor& a) { return nn::functional::softmax(tanh(W.matmul(a)), 0).sum(std::vector<std::int64_t>{1}); };
  const int prev = get_num_threads();
  set_num_threads(1);
  const Tensor one = forward_jvp(f, x, t);
  set_num_threads(2);
  const Tensor two = forward_jvp(f, x, t);
  set_num_threads(prev);
  check_close(one, two, 0.0);
}

BOOST_AUTO_TEST_SUITE_END()
