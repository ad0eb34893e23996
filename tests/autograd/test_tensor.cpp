// Tensor handle, factories, dtype conversion, printing, random generator and xtensor interop.
#include <sstream>

#include "test_util.hpp"
#include "xgrad/autograd/xtensor.hpp"

using namespace xgrad;
using xgrad::test::check_close;

BOOST_AUTO_TEST_SUITE(tensor_basics)

BOOST_AUTO_TEST_CASE(handle_semantics) {
  Tensor a = zeros({2, 3});
  Tensor b = a;  // no copy of data
  {
    NoGradGuard ng;
    b.fill_(4.0);
  }
  BOOST_CHECK_EQUAL(a.to_vector<float>()[5], 4.0f);
  BOOST_CHECK(a.is_same(b));
  BOOST_CHECK(!Tensor().defined());
  XGRAD_CHECK_THROW_MSG(Tensor().shape(), "undefined");
  BOOST_CHECK_EQUAL(a.dim(), 2);
  BOOST_CHECK_EQUAL(a.numel(), 6);
  BOOST_CHECK_EQUAL(a.size(-1), 3);
  XGRAD_CHECK_THROW_MSG(a.size(2), "dim 2 out of range for tensor of shape [2, 3]");
  BOOST_CHECK(a.dtype() == float32);
}

BOOST_AUTO_TEST_CASE(factories) {
  BOOST_CHECK(ones({2}).to_vector<float>() == std::vector<float>({1, 1}));
  BOOST_CHECK(full({3}, 2.5, dtype(float64)).to_vector<double>() == std::vector<double>({2.5, 2.5, 2.5}));
  BOOST_CHECK(arange(5.0, dtype(int64)).to_vector<std::int64_t>() == std::vector<std::int64_t>({0, 1, 2, 3, 4}));
  BOOST_CHECK(arange(1.0, 2.0, 0.25, dtype(float64)).to_vector<double>() == std::vector<double>({1, 1.25, 1.5, 1.75}));
  auto l = linspace(0.0, 1.0, 5, dtype(float64)).to_vector<double>();
  BOOST_CHECK(l == std::vector<double>({0, 0.25, 0.5, 0.75, 1.0}));
  BOOST_CHECK(eye(2, 3).to_vector<float>() == std::vector<float>({1, 0, 0, 0, 1, 0}));
  Tensor t = tensor({{1., 2.}, {3., 4.}});
  BOOST_CHECK(t.shape() == Shape({2, 2}));
  BOOST_CHECK(tensor({{{1., 2.}, {3., 4.}}}).shape() == Shape({1, 2, 2}));
  BOOST_CHECK(zeros_like(t, float64).dtype() == float64);
  BOOST_CHECK(ones_like(t).to_vector<float>() == std::vector<float>(4, 1.f));
  BOOST_CHECK_EQUAL(scalar_tensor(3.0).dim(), 0);
  BOOST_CHECK_EQUAL(scalar_tensor(3.0).item<double>(), 3.0);
  BOOST_CHECK(from_vector<double>({1, 2, 3, 4, 5, 6}, {2, 3}).shape() == Shape({2, 3}));
  XGRAD_CHECK_THROW_MSG(from_vector<double>({1, 2, 3}, {2, 2}), "3 values cannot fill shape [2, 2]");
  XGRAD_CHECK_THROW_MSG(tensor({{1., 2.}, {3.}}), "ragged");
  XGRAD_CHECK_THROW_MSG(arange(0.0, 1.0, 0.0), "step must be nonzero");
  XGRAD_CHECK_THROW_MSG(zeros({2, -1}), "negative size");
  XGRAD_CHECK_THROW_MSG(randint(3, 3, {2}), "low < high");
  XGRAD_CHECK_THROW_MSG(tensor({1., 2.}).item(), "one element");
  BOOST_CHECK(ones({2}, TensorOptions().requires_grad()).requires_grad());
}

BOOST_AUTO_TEST_CASE(random_generator_is_reproducible) {
  manual_seed(42);
  auto a = randn({100}).to_vector<float>();
  auto u = rand({100}, dtype(float64)).to_vector<double>();
  auto i = randint(0, 10, {50}).to_vector<std::int64_t>();
  manual_seed(42);
  BOOST_CHECK(a == randn({100}).to_vector<float>());
  BOOST_CHECK(u == rand({100}, dtype(float64)).to_vector<double>());
  BOOST_CHECK(i == randint(0, 10, {50}).to_vector<std::int64_t>());
  for (double v : u) BOOST_CHECK(v >= 0.0 && v < 1.0);
  for (auto v : i) BOOST_CHECK(v >= 0 && v < 10);
  // Statistics of a large normal sample.
  auto n = randn({100000}, dtype(float64)).to_vector<double>();
  double m = 0, s = 0;
  for (double v : n) m += v;
  m /= double(n.size());
  for (double v : n) s += (v - m) * (v - m);
  s = std::sqrt(s / double(n.size()));
  BOOST_CHECK_SMALL(m, 0.02);
  BOOST_CHECK_CLOSE_FRACTION(s, 1.0, 0.02);
}

BOOST_AUTO_TEST_CASE(dtype_conversion_and_clone) {
  Tensor a = tensor({1.5, -2.5}, dtype(float64));
  BOOST_CHECK(a.to(int64).to_vector<std::int64_t>() == std::vector<std::int64_t>({1, -2}));
  BOOST_CHECK(a.to(float32).to_vector<float>() == std::vector<float>({1.5f, -2.5f}));
  BOOST_CHECK(a.to(float64).is_same(a));
  Tensor c = a.clone();
  BOOST_CHECK(!c.is_same(a));
  BOOST_CHECK(c.to_vector<double>() == a.to_vector<double>());
  // differentiable: d(2 * x.to(f32).to(f64))/dx = 2; d(clone(x))/dx = 1
  Tensor x = tensor({1.0, 2.0}, dtype(float64).requires_grad());
  (x.to(float32).to(float64) * 2.0 + x.clone()).sum().backward();
  check_close(x.grad(), tensor({3.0, 3.0}, dtype(float64)));
  XGRAD_CHECK_THROW_MSG(x.to(int64), "int64");
  XGRAD_CHECK_THROW_MSG(a.data_ptr<float>(), "dtype float64 but float32 was requested");
  xgrad::test::check_gradcheck([](const std::vector<Tensor>& in) { return in[0].clone() * in[0]; },
                               {xgrad::test::rand64({3})});
}

BOOST_AUTO_TEST_CASE(printing) {
  BOOST_CHECK_EQUAL(fmt::format("{}", tensor({1.0, 2.5})), "tensor([1.0000, 2.5000])");
  BOOST_CHECK_EQUAL(to_string(tensor({{1., 2.}, {3., 4.}}, dtype(float64))),
                    "tensor([[1., 2.],\n        [3., 4.]], dtype=float64)");
  BOOST_CHECK_EQUAL(to_string(arange(3.0, dtype(int64))), "tensor([0, 1, 2], dtype=int64)");
  Tensor x = ones({2}, TensorOptions().requires_grad());
  BOOST_CHECK_EQUAL(to_string(x), "tensor([1., 1.], requires_grad=True)");
  std::ostringstream os;
  os << x * 2.0;
  BOOST_CHECK_EQUAL(os.str(), "tensor([2., 2.], grad_fn=<MulBackward>)");
  std::string big = to_string(zeros({100, 100}));
  BOOST_CHECK(big.find("...") != std::string::npos);
  BOOST_CHECK_LT(big.size(), 2000u);
  BOOST_CHECK_EQUAL(to_string(Tensor()), "tensor(undefined)");
}

BOOST_AUTO_TEST_CASE(xtensor_interop) {
  Tensor t = zeros({2, 3});
  auto view = t.data<float>();  // zero-copy
  view(1, 2) = 7.0f;
  BOOST_CHECK_EQUAL(t.to_vector<float>()[5], 7.0f);
  BOOST_CHECK_EQUAL(view.shape()[0], 2u);
  xt::xarray<double> a = {{1.0, 2.0}, {3.0, 4.0}};
  Tensor u = from_xtensor(a, true);
  BOOST_CHECK(u.dtype() == float64);
  BOOST_CHECK(u.shape() == Shape({2, 2}));
  BOOST_CHECK(u.requires_grad());
  BOOST_CHECK_EQUAL(u.to_vector<double>()[3], 4.0);
}

BOOST_AUTO_TEST_SUITE_END()
