// Linear, Bilinear, Identity, Flatten/Unflatten, Dropout (linear.hpp) and the Rosenblatt
// Perceptron (perceptron.hpp).
#include <cmath>

#include "test_util.hpp"
#include "xgrad/nn/linear.hpp"
#include "xgrad/nn/perceptron.hpp"

using namespace xgrad;
using namespace xgrad::nn;
namespace F = xgrad::nn::functional;
using xgrad::test::check_close;
using xgrad::test::check_gradcheck;
using xgrad::test::check_gradgradcheck;
using xgrad::test::rand64;

namespace {

bool bit_identical(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() && a.dtype() == float32 &&
         a.to_vector<float>() == b.to_vector<float>();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(linear)

BOOST_AUTO_TEST_CASE(linear_values_by_hand) {
  Linear lin(2, 3);
  {
    NoGradGuard ng;
    lin.weight.copy_(tensor({{1., 2.}, {3., 4.}, {5., 6.}}));
    lin.bias.copy_(tensor({0.1, 0.2, 0.3}));
  }
  // y = x W^T + b: row [1, -1] -> [1 - 2, 3 - 4, 5 - 6] + b; row [2, 0.5] -> [3, 8, 13] + b.
  Tensor x = tensor({{1., -1.}, {2., 0.5}});
  Tensor y = lin(x);
  check_close(y, tensor({{-0.9, -0.8, -0.7}, {3.1, 8.2, 13.3}}), 1e-6);
  BOOST_CHECK(y.requires_grad());
  // A single sample [in] -> [out].
  check_close(lin(tensor({1., -1.})), tensor({-0.9, -0.8, -0.7}), 1e-6);
  // Any leading dims: [2, 2, 2] -> [2, 2, 3], each row as in the 2-d case.
  Tensor x3 = stack({x, x * 2.0});
  Tensor y3 = lin(x3);
  BOOST_CHECK(y3.shape() == (Shape{2, 2, 3}));
  check_close(y3.narrow(0, 0, 1).squeeze(0), y, 1e-6);
  check_close(y3.narrow(0, 1, 1).squeeze(0), lin(x * 2.0), 1e-6);
  // Empty batch.
  BOOST_CHECK(lin(zeros({0, 2})).shape() == (Shape{0, 3}));
  BOOST_CHECK_EQUAL(lin.repr(), "Linear(in_features=2, out_features=3, bias=true)");
  // LinearOptions: positional sizes, chainable setters and getters from one field list.
  BOOST_CHECK_EQUAL(LinearOptions(2, 3).bias(false).out_features(4).out_features(), 4);
  BOOST_CHECK(!LinearOptions(2, 3).bias(false).bias());
}

BOOST_AUTO_TEST_CASE(linear_without_bias) {
  Linear a(LinearOptions(2, 3).bias(false));
  Linear b(2, 3, /*bias=*/false);
  for (Linear* lin : {&a, &b}) {
    BOOST_CHECK(!lin->bias.defined());
    BOOST_CHECK_EQUAL(lin->parameters().size(), 1u);
    BOOST_CHECK_EQUAL(lin->named_parameters()[0].first, "weight");
    Tensor x = tensor({{1., -1.}});
    check_close((*lin)(x), x.matmul(lin->weight.t()), 1e-7);
  }
  BOOST_CHECK_EQUAL(a.repr(), "Linear(in_features=2, out_features=3, bias=false)");
  BOOST_CHECK(!a.options().bias_);
}

BOOST_AUTO_TEST_CASE(linear_init_bounds_and_statistics) {
  manual_seed(11);
  Linear lin(100, 60);
  // PyTorch: kaiming_uniform(a = sqrt(5)) -> U(-1/sqrt(100), 1/sqrt(100)) = U(-0.1, 0.1).
  const double bound = 0.1;
  auto w = lin.weight.to_vector<float>();
  auto b = lin.bias.to_vector<float>();
  double sum = 0, sq = 0, mx = 0;
  for (float v : w) {
    BOOST_REQUIRE_LE(std::fabs(v), bound);
    sum += v;
    sq += double(v) * v;
    mx = std::max(mx, double(std::fabs(v)));
  }
  for (float v : b) BOOST_REQUIRE_LE(std::fabs(v), bound);
  const double n = static_cast<double>(w.size());
  const double mean = sum / n, var = sq / n - mean * mean;
  BOOST_CHECK_SMALL(mean, 0.004);                    // sd of the mean: 0.1/sqrt(3*6000) = 0.00075
  BOOST_CHECK_CLOSE(var, bound * bound / 3.0, 5.0);  // U(-a, a) has variance a^2/3 (within 5 %)
  BOOST_CHECK_GT(mx, 0.098);                         // the whole range is used
  BOOST_CHECK(lin.weight.is_leaf() && lin.weight.requires_grad());
  BOOST_CHECK(lin.weight.shape() == (Shape{60, 100}));
}

BOOST_AUTO_TEST_CASE(linear_init_reproducible_with_manual_seed) {
  manual_seed(7);
  Linear a(3, 4);
  manual_seed(7);
  Linear b(3, 4);
  BOOST_CHECK(bit_identical(a.weight.detach(), b.weight.detach()));
  BOOST_CHECK(bit_identical(a.bias.detach(), b.bias.detach()));
  // The draw order is documented: weight first, then bias, each 2 bound u - bound with u ~ U[0, 1).
  manual_seed(7);
  const double bound = 1.0 / std::sqrt(3.0);
  Tensor uw = rand({4, 3}), ub = rand({4});
  BOOST_CHECK(bit_identical(a.weight.detach(), uw * (2.0 * bound) - bound));
  BOOST_CHECK(bit_identical(a.bias.detach(), ub * (2.0 * bound) - bound));
  manual_seed(8);
  Linear c(3, 4);
  BOOST_CHECK(!bit_identical(a.weight.detach(), c.weight.detach()));
  // reset_parameters redraws.
  Tensor before = a.weight.detach().clone();
  a.reset_parameters();
  BOOST_CHECK(!bit_identical(a.weight.detach(), before));
}

BOOST_AUTO_TEST_CASE(linear_hand_derived_gradient) {
  // y = x W^T + b, L = sum(y * c):
  // dL/dx = c W, dL/dW = c^T x, dL/db = sum over rows of c.
  // x = [[1, -1], [2, 0.5]], W = [[1, 2], [3, 4], [5, 6]], c = [[1, 0, 2], [0, 1, -1]]
  // c W = [[1 + 10, 2 + 12], [3 - 5, 4 - 6]] = [[11, 14], [-2, -2]]
  // c^T x = [[1, -1], [2, 0.5], [2 - 2, -2 - 0.5]] = [[1, -1], [2, 0.5], [0, -2.5]]
  // sum rows c = [1, 1, 1]
  Tensor x = tensor({{1., -1.}, {2., 0.5}}, dtype(float64).requires_grad());
  Tensor w = tensor({{1., 2.}, {3., 4.}, {5., 6.}}, dtype(float64).requires_grad());
  Tensor b = tensor({0.1, 0.2, 0.3}, dtype(float64).requires_grad());
  Tensor c = tensor({{1., 0., 2.}, {0., 1., -1.}}, dtype(float64));
  (F::linear(x, w, b) * c).sum().backward();
  check_close(x.grad(), tensor({{11., 14.}, {-2., -2.}}, dtype(float64)), 1e-12);
  check_close(w.grad(), tensor({{1., -1.}, {2., 0.5}, {0., -2.5}}, dtype(float64)), 1e-12);
  check_close(b.grad(), tensor({1., 1., 1.}, dtype(float64)), 1e-12);
}

BOOST_AUTO_TEST_CASE(linear_gradcheck) {
  manual_seed(21);
  for (const Shape& xs : {Shape{3, 4}, Shape{2, 3, 4}, Shape{4}, Shape{1, 1, 4}}) {
    Tensor x = rand64(xs), w = rand64({5, 4}), b = rand64({5});
    check_gradcheck([](const std::vector<Tensor>& in) { return F::linear(in[0], in[1], in[2]); }, {x, w, b});
    check_gradcheck([](const std::vector<Tensor>& in) { return F::linear(in[0], in[1]); }, {x, w});
  }
  check_gradgradcheck([](const std::vector<Tensor>& in) { return F::linear(in[0], in[1], in[2]).pow(2.0); },
                      {rand64({2, 3}), rand64({2, 3}), rand64({2})});
  // The module, converted to float64 with to(): its parameters are checked through forward.
  auto lin = std::make_shared<Linear>(4, 3);
  lin->to(float64);
  check_gradcheck([&](const std::vector<Tensor>& in) { return (*lin)(in[0]); },
                  {rand64({2, 4}), lin->weight, lin->bias});
}

BOOST_AUTO_TEST_CASE(linear_errors) {
  Linear lin(4, 3);
  XGRAD_CHECK_THROW_MSG(lin(zeros({2, 5})), "linear: input of shape [2, 5] does not match weight of shape [3, 4]");
  XGRAD_CHECK_THROW_MSG(lin(scalar_tensor(1.0)), "linear: input of shape []");
  XGRAD_CHECK_THROW_MSG(lin(zeros({2, 4}, dtype(float64))),
                        "linear: weight has dtype float32 but the input has dtype float64");
  XGRAD_CHECK_THROW_MSG(lin(Tensor()), "linear");
  XGRAD_CHECK_THROW_MSG(F::linear(zeros({2, 4}), zeros({3, 4}), zeros({4})),
                        "linear: bias of shape [4] does not match weight of shape [3, 4]");
  XGRAD_CHECK_THROW_MSG(F::linear(zeros({2, 4}), zeros({4})), "linear: weight must be 2-d");
  XGRAD_CHECK_THROW_MSG(Linear(-1, 3), "Linear: feature sizes must be non-negative, got -1, 3");
}

BOOST_AUTO_TEST_CASE(bilinear_values_and_hand_gradient) {
  // y = x1^T A x2 + b with A = [[1, 0], [2, 1]], x1 = [1, 2], x2 = [3, -1], b = 0.5:
  // A x2 = [3, 5], x1 . [3, 5] = 13, y = 13.5.
  // dy/dA = x1 x2^T = [[3, -1], [6, -2]], dy/dx1 = A x2 = [3, 5], dy/dx2 = A^T x1 = [5, 2], dy/db = 1.
  Tensor x1 = tensor({1., 2.}, dtype(float64).requires_grad());
  Tensor x2 = tensor({3., -1.}, dtype(float64).requires_grad());
  Tensor a = tensor({{{1., 0.}, {2., 1.}}}, dtype(float64).requires_grad());
  Tensor b = tensor({0.5}, dtype(float64).requires_grad());
  Tensor y = F::bilinear(x1, x2, a, b);
  BOOST_CHECK(y.shape() == (Shape{1}));
  check_close(y, tensor({13.5}, dtype(float64)), 1e-12);
  y.sum().backward();
  check_close(a.grad(), tensor({{{3., -1.}, {6., -2.}}}, dtype(float64)), 1e-12);
  check_close(x1.grad(), tensor({3., 5.}, dtype(float64)), 1e-12);
  check_close(x2.grad(), tensor({5., 2.}, dtype(float64)), 1e-12);
  check_close(b.grad(), tensor({1.}, dtype(float64)), 1e-12);
}

BOOST_AUTO_TEST_CASE(bilinear_module_and_gradcheck) {
  manual_seed(5);
  Bilinear bl(3, 2, 4);
  BOOST_CHECK(bl.weight.shape() == (Shape{4, 3, 2}));
  BOOST_CHECK(bl.bias.shape() == (Shape{4}));
  const double bound = 1.0 / std::sqrt(3.0);  // U(-1/sqrt(in1), 1/sqrt(in1))
  for (float v : bl.weight.to_vector<float>()) BOOST_REQUIRE_LE(std::fabs(v), bound);
  for (float v : bl.bias.to_vector<float>()) BOOST_REQUIRE_LE(std::fabs(v), bound);
  BOOST_CHECK_EQUAL(bl.repr(), "Bilinear(in1_features=3, in2_features=2, out_features=4, bias=true)");
  Tensor x1 = randn({5, 3}), x2 = randn({5, 2});
  Tensor y = bl(x1, x2);
  BOOST_CHECK(y.shape() == (Shape{5, 4}));
  // Element check against the definition: y[n][k] = sum_ij x1[n][i] A[k][i][j] x2[n][j] + b[k].
  auto xv1 = x1.to_vector<float>(), xv2 = x2.to_vector<float>(), av = bl.weight.to_vector<float>(),
       bv = bl.bias.to_vector<float>(), yv = y.to_vector<float>();
  for (int n = 0; n < 5; ++n)
    for (int k = 0; k < 4; ++k) {
      double s = bv[k];
      for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 2; ++j) s += xv1[n * 3 + i] * av[(k * 3 + i) * 2 + j] * xv2[n * 2 + j];
      BOOST_CHECK_CLOSE(yv[n * 4 + k], s, 1e-3);
    }
  XGRAD_CHECK_THROW_MSG(bl(x1), "Bilinear: forward(const Tensor&) is not implemented");
  XGRAD_CHECK_THROW_MSG(bl(x1, randn({4, 2})),
                        "bilinear: inputs of shapes [5, 3] and [4, 2] do not match weight of shape [4, 3, 2]");
  XGRAD_CHECK_THROW_MSG(bl(x2, x1), "bilinear: inputs of shapes [5, 2] and [5, 3]");
  Bilinear nb(BilinearOptions(3, 2, 4).bias(false));
  BOOST_CHECK(!nb.bias.defined());
  BOOST_CHECK_EQUAL(nb.parameters().size(), 1u);

  bl.to(float64);
  for (const Shape& lead : {Shape{3}, Shape{}, Shape{2, 2}}) {
    Shape s1 = lead, s2 = lead;
    s1.push_back(3);
    s2.push_back(2);
    check_gradcheck([&](const std::vector<Tensor>& in) { return F::bilinear(in[0], in[1], in[2], in[3]); },
                    {rand64(s1), rand64(s2), bl.weight, bl.bias});
  }
  check_gradcheck([](const std::vector<Tensor>& in) { return F::bilinear(in[0], in[1], in[2]); },
                  {rand64({2, 3}), rand64({2, 2}), rand64({1, 3, 2})});
}

BOOST_AUTO_TEST_CASE(identity_flatten_unflatten) {
  Identity id;
  Tensor x = randn({2, 3, 4, 5});
  BOOST_CHECK(id(x).is_same(x));
  BOOST_CHECK(Flatten()(x).shape() == (Shape{2, 60}));
  BOOST_CHECK(Flatten(0, -1)(x).shape() == (Shape{120}));
  BOOST_CHECK(Flatten(1, 2)(x).shape() == (Shape{2, 12, 5}));
  BOOST_CHECK(Flatten(-2)(x).shape() == (Shape{2, 3, 20}));
  BOOST_CHECK_EQUAL(Flatten().repr(), "Flatten(start_dim=1, end_dim=-1)");
  Tensor f = Flatten(1, 2)(x);
  BOOST_CHECK(Unflatten(1, {3, 4})(f).shape() == (Shape{2, 3, 4, 5}));
  check_close(Unflatten(1, {3, 4})(f), x, 0.0);
  BOOST_CHECK(Unflatten(-1, {-1, 5})(zeros({2, 10})).shape() == (Shape{2, 2, 5}));
  BOOST_CHECK(Unflatten(0, {1, 2})(zeros({2, 10})).shape() == (Shape{1, 2, 10}));
  BOOST_CHECK_EQUAL(Unflatten(1, {3, 4}).repr(), "Unflatten(dim=1, unflattened_size=(3, 4))");
  XGRAD_CHECK_THROW_MSG(Unflatten(1, {4, 4})(f), "Unflatten: sizes [4, 4] do not multiply to the size 12 of dim 1");
  XGRAD_CHECK_THROW_MSG(Unflatten(1, {-1, 5})(f), "do not multiply to the size 12");
  XGRAD_CHECK_THROW_MSG(Unflatten(4, {1})(f), "Unflatten: dim 4 is out of range for input of shape [2, 12, 5]");
  XGRAD_CHECK_THROW_MSG(Unflatten(1, {}), "sizes must not be empty");
  XGRAD_CHECK_THROW_MSG(Unflatten(1, {-1, -1}), "at most one size may be -1");
  // Gradients pass through unchanged.
  Tensor xg = rand64({2, 6});
  check_gradcheck([](const std::vector<Tensor>& in) { return Unflatten(1, {2, 3})(in[0]) * 2.0; }, {xg});
  check_gradcheck([](const std::vector<Tensor>& in) { return Flatten()(in[0]).pow(2.0); }, {rand64({2, 2, 3})});
}

BOOST_AUTO_TEST_CASE(dropout_eval_and_edge_cases) {
  Tensor x = randn({4, 5});
  Dropout d(0.5);
  BOOST_CHECK_EQUAL(d.repr(), "Dropout(p=0.5)");
  d.eval();
  BOOST_CHECK(d(x).is_same(x));
  BOOST_CHECK(F::dropout(x, 0.5, /*training=*/false).is_same(x));
  BOOST_CHECK(F::dropout(x, 0.0, true).is_same(x));
  // p = 1 zeroes everything; the gradient is zero too.
  Tensor xg = ones({3, 3}, dtype(float64).requires_grad());
  Tensor y1 = F::dropout(xg, 1.0, true);
  check_close(y1, zeros({3, 3}, dtype(float64)), 0.0);
  y1.sum().backward();
  check_close(xg.grad(), zeros({3, 3}, dtype(float64)), 0.0);
  for (double p : {-0.1, 1.5, std::nan("")}) {
    XGRAD_CHECK_THROW_MSG(F::dropout(x, p, true), "dropout: probability p must be in [0, 1]");
    XGRAD_CHECK_THROW_MSG(Dropout{p}, "Dropout: probability p must be in [0, 1]");
  }
  XGRAD_CHECK_THROW_MSG(F::dropout(zeros({2}, dtype(int64)), 0.5, true), "dropout: needs a floating tensor");
}

BOOST_AUTO_TEST_CASE(dropout_training_statistics_and_gradient) {
  manual_seed(13);
  const double p = 0.3;
  const std::int64_t n = 100000;
  Tensor x = (rand({n}) + 1.0).detach().requires_grad_(true);  // values in [1, 2): never 0
  Dropout d(p);
  Tensor y = d(x);
  auto xv = x.to_vector<float>(), yv = y.to_vector<float>();
  std::int64_t zeros_count = 0;
  double worst = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    if (yv[i] == 0.0f) {
      ++zeros_count;
    } else {
      worst = std::max(worst, std::fabs(yv[i] - xv[i] / (1.0 - p)));
    }
  }
  // Binomial(1e5, 0.3): sd of the fraction is 0.00145; allow ~5 sd.
  BOOST_CHECK_CLOSE_FRACTION(double(zeros_count) / n, p, 0.025);
  BOOST_CHECK_SMALL(worst, 1e-5);  // survivors are scaled by 1/(1-p)
  // d y / d x = mask / (1 - p): 0 where dropped, 1/(1-p) where kept.
  y.sum().backward();
  auto gv = x.grad().to_vector<float>();
  for (std::int64_t i = 0; i < n; ++i) {
    const float expected = yv[i] == 0.0f ? 0.0f : static_cast<float>(1.0 / (1.0 - p));
    if (gv[i] != expected) {
      BOOST_ERROR("gradient at " << i << " is " << gv[i] << ", expected " << expected);
      break;
    }
  }
  // Seeded: the same seed gives the same mask, float64 too.
  manual_seed(99);
  Tensor a = F::dropout(ones({1000}, dtype(float64)), 0.5, true);
  manual_seed(99);
  Tensor b = F::dropout(ones({1000}, dtype(float64)), 0.5, true);
  BOOST_CHECK(a.to_vector<double>() == b.to_vector<double>());
  for (double v : a.to_vector<double>()) BOOST_REQUIRE(v == 0.0 || v == 2.0);
  // gradcheck with the generator re-seeded inside so every evaluation draws the same mask.
  check_gradcheck(
      [](const std::vector<Tensor>& in) {
        manual_seed(5);
        return F::dropout(in[0], 0.4, true);
      },
      {rand64({3, 4})});
  // Large tensors take the parallel path; the result does not depend on it.
  manual_seed(3);
  Tensor big = F::dropout(ones({70000}), 0.5, true);
  manual_seed(3);
  Tensor u = rand({70000});
  auto bv = big.to_vector<float>(), uv = u.to_vector<float>();
  bool same = true;
  for (std::size_t i = 0; i < bv.size(); ++i) same = same && (bv[i] == (uv[i] >= 0.5f ? 2.0f : 0.0f));
  BOOST_CHECK(same);
}

BOOST_AUTO_TEST_CASE(shape_and_dropout_modules_take_options_structs) {
  // The options structs (one field list each) and the positional constructors agree.
  const Tensor x = randn({2, 3, 4, 5});
  Flatten fl(FlattenOptions().start_dim(2).end_dim(3));
  BOOST_CHECK(fl(x).shape() == (Shape{2, 3, 20}));
  BOOST_CHECK_EQUAL(fl.options().start_dim(), 2);
  BOOST_CHECK_EQUAL(fl.repr(), "Flatten(start_dim=2, end_dim=3)");
  Unflatten un(UnflattenOptions(1, {3, 1}));
  BOOST_CHECK(un(zeros({2, 3})).shape() == (Shape{2, 3, 1}));
  BOOST_CHECK((un.options().sizes() == Shape{3, 1}));
  XGRAD_CHECK_THROW_MSG(Unflatten(UnflattenOptions(1, {})), "Unflatten: sizes must not be empty");
  XGRAD_CHECK_THROW_MSG(Unflatten(1, {-2, 3}), "Unflatten: invalid sizes [-2, 3]");
  XGRAD_CHECK_THROW_MSG(Unflatten(1, {-1, -1}), "Unflatten: at most one size may be -1, got [-1, -1]");
  Dropout d(DropoutOptions().p(0.25));
  BOOST_CHECK_EQUAL(d.p(), 0.25);
  BOOST_CHECK_EQUAL(d.options().p(), 0.25);
  XGRAD_CHECK_THROW_MSG(Dropout(DropoutOptions().p(1.5)), "Dropout: probability p must be in [0, 1], got 1.5");
  Softmax sm(SoftmaxOptions(1));
  BOOST_CHECK_EQUAL(sm.dim(), 1);
  BOOST_CHECK_EQUAL(sm.repr(), "Softmax(dim=1)");
  BOOST_CHECK_EQUAL(LogSoftmax(-1).repr(), "LogSoftmax(dim=-1)");
  check_close(Softmin(0)(tensor({1.0, 1.0})), tensor({0.5, 0.5}), 1e-7);
}

BOOST_AUTO_TEST_SUITE_END()

// ---- Perceptron -------------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(perceptron)

namespace {

Tensor xs() { return tensor({{0., 0.}, {0., 1.}, {1., 0.}, {1., 1.}}); }

double accuracy(Perceptron& p, const Tensor& X, const Tensor& Y) {
  auto pred = p(X).to_vector<float>(), y = Y.to_vector<float>();
  int right = 0;
  for (std::size_t i = 0; i < y.size(); ++i) right += pred[i] == y[i] ? 1 : 0;
  return double(right) / double(y.size());
}

}  // namespace

BOOST_AUTO_TEST_CASE(update_rule_by_hand) {
  Perceptron p(2);
  BOOST_CHECK_EQUAL(p.repr(), "Perceptron(in_features=2)");
  // w = 0, b = 0: z = 0 -> y_hat = step(0) = 1. Sample x = [1, 2] with y = 0, lr = 0.5:
  // err = y - y_hat = -1 -> w = 0 + 0.5 * (-1) * [1, 2] = [-0.5, -1], b = -0.5.
  BOOST_CHECK(p.update(tensor({1., 2.}), 0.0, 0.5));
  check_close(p.weight, tensor({-0.5, -1.0}), 0.0);
  check_close(p.bias, scalar_tensor(-0.5), 0.0);
  // Now z = -0.5 - 2 - 0.5 = -3 -> y_hat = 0 = y: no change.
  BOOST_CHECK(!p.update(tensor({1., 2.}), 0.0, 0.5));
  check_close(p.weight, tensor({-0.5, -1.0}), 0.0);
  // x = [2, 1], y = 1: z = -1 - 1 - 0.5 = -2.5 -> y_hat = 0, err = 1:
  // w = [-0.5 + 0.5 * 2, -1 + 0.5 * 1] = [0.5, -0.5], b = -0.5 + 0.5 = 0.
  BOOST_CHECK(p.update(tensor({2., 1.}), 1.0, 0.5));
  check_close(p.weight, tensor({0.5, -0.5}), 0.0);
  check_close(p.bias, scalar_tensor(0.0), 0.0);
  // forward: step(x . w + b) with step(0) = 1; a single sample gives a 0-d result.
  check_close(p(tensor({{1., 1.}, {0., 1.}, {1., 0.}})), tensor({1., 0., 1.}), 0.0);
  BOOST_CHECK(p(tensor({0., 1.})).shape() == Shape{});
  BOOST_CHECK(!p(xs()).requires_grad());
  // Parameters are in the state dict but are not trained by gradients.
  BOOST_CHECK_EQUAL(p.state_dict().size(), 2u);
  BOOST_CHECK(!p.weight.requires_grad());
}

BOOST_AUTO_TEST_CASE(learns_and_or) {
  for (const auto& [name, Y] :
       {std::pair{"AND", tensor({0., 0., 0., 1.})}, std::pair{"OR", tensor({0., 1., 1., 1.})}}) {
    Perceptron p(2);
    int epochs = 0;
    while (epochs < 20 && p.fit_epoch(xs(), Y, 1.0) > 0) ++epochs;
    BOOST_CHECK_MESSAGE(epochs <= 10, name << " needed " << epochs << " epochs");
    BOOST_CHECK_EQUAL(accuracy(p, xs(), Y), 1.0);
    BOOST_CHECK_EQUAL(p.fit_epoch(xs(), Y, 1.0), 0);  // converged: a further pass changes nothing
  }
  // float64 models and int64 labels work too.
  Perceptron p64(2);
  p64.to(float64);
  Tensor y_int = tensor({0., 0., 0., 1.}, dtype(int64));
  for (int e = 0; e < 10; ++e) p64.fit_epoch(xs().to(float64), y_int, 0.1);
  auto pred = p64(xs().to(float64)).to_vector<double>();
  BOOST_CHECK(pred == std::vector<double>({0., 0., 0., 1.}));
}

BOOST_AUTO_TEST_CASE(cannot_learn_xor) {
  // XOR is not linearly separable: no line classifies all 4 points, so at most 3 are right
  // and every epoch makes at least one mistake.
  Tensor Y = tensor({0., 1., 1., 0.});
  Perceptron p(2);
  double best = 0;
  for (int e = 0; e < 100; ++e) {
    BOOST_REQUIRE_GT(p.fit_epoch(xs(), Y, 1.0), 0);
    best = std::max(best, accuracy(p, xs(), Y));
  }
  BOOST_CHECK_LE(best, 0.75);
  BOOST_CHECK_LE(accuracy(p, xs(), Y), 0.75);
}

BOOST_AUTO_TEST_CASE(perceptron_errors) {
  Perceptron p(2);
  XGRAD_CHECK_THROW_MSG(Perceptron(0), "Perceptron: in_features must be at least 1, got 0");
  XGRAD_CHECK_THROW_MSG(p(zeros({4, 3})), "Perceptron: input of shape [4, 3] does not match in_features = 2");
  XGRAD_CHECK_THROW_MSG(p(zeros({4, 2}, dtype(float64))), "Perceptron: input dtype float64 differs");
  XGRAD_CHECK_THROW_MSG(p.update(zeros({3}), 1.0),
                        "Perceptron::update: expected one sample of shape [2], got shape [3]");
  XGRAD_CHECK_THROW_MSG(p.update(zeros({2}), 2.0), "Perceptron::update: labels must be 0 or 1, got 2");
  XGRAD_CHECK_THROW_MSG(p.fit_epoch(xs(), tensor({0., 1., 1.})), "Perceptron::fit_epoch: expected X [n, 2] and Y [n]");
  XGRAD_CHECK_THROW_MSG(p.fit_epoch(xs(), tensor({0., 1., 1., 0.5})), "labels must be 0 or 1, got 0.5");
}

BOOST_AUTO_TEST_SUITE_END()
