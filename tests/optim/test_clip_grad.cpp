// clip_grad_norm_ and clip_grad_value_ against norms computed by hand.
#include "optim_test_util.hpp"

using namespace xgrad;
using namespace xgrad::test;
using optim::clip_grad_norm_;
using optim::clip_grad_value_;

namespace {
Tensor param_with_grad(const Vec& grad, Dtype dt = float64) {
  Tensor p = zeros({static_cast<std::int64_t>(grad.size())}, dtype(dt)).requires_grad_(true);
  p.set_grad(from_vector(grad).to(dt));
  return p;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(clip_grad)

BOOST_AUTO_TEST_CASE(norm2_by_hand) {
  // ||(3, 4)|| = 5, ||(12)|| = 12, total = sqrt(25 + 144) = 13; scale = 6.5 / (13 + 1e-6).
  Tensor a = param_with_grad({3.0, 4.0}), b = param_with_grad({12.0});
  const double total = clip_grad_norm_({a, b}, 6.5);
  BOOST_CHECK_CLOSE(total, 13.0, 1e-13);
  const double scale = 6.5 / (13.0 + 1e-6);
  check_close(a.grad(), from_vector(Vec{3.0 * scale, 4.0 * scale}), 1e-15);
  check_close(b.grad(), from_vector(Vec{12.0 * scale}), 1e-15);
}

BOOST_AUTO_TEST_CASE(below_max_norm_is_unchanged) {
  Tensor a = param_with_grad({3.0, 4.0});
  BOOST_CHECK_CLOSE(clip_grad_norm_({a}, 5.1), 5.0, 1e-13);
  BOOST_CHECK(a.grad().to_vector<double>() == (Vec{3.0, 4.0}));
}

BOOST_AUTO_TEST_CASE(inf_norm_by_hand) {
  // max |g| = 12; scale = 3 / (12 + 1e-6).
  Tensor a = param_with_grad({3.0, -4.0}), b = param_with_grad({-12.0});
  const double total = clip_grad_norm_({a, b}, 3.0, std::numeric_limits<double>::infinity());
  BOOST_CHECK_EQUAL(total, 12.0);
  const double scale = 3.0 / (12.0 + 1e-6);
  check_close(a.grad(), from_vector(Vec{3.0 * scale, -4.0 * scale}), 1e-15);
  check_close(b.grad(), from_vector(Vec{-12.0 * scale}), 1e-15);
}

BOOST_AUTO_TEST_CASE(float32_gradients) {
  Tensor a = param_with_grad({3.0, 4.0}, float32);
  BOOST_CHECK_CLOSE(clip_grad_norm_({a}, 1.0), 5.0, 1e-5);
  BOOST_CHECK(a.grad().dtype() == float32);
  check_close(a.grad(), from_vector(Vec{0.6, 0.8}), 1e-6);
}

BOOST_AUTO_TEST_CASE(parameters_without_grad_are_skipped) {
  Tensor none = zeros({2}, dtype(float64)).requires_grad_(true);
  BOOST_CHECK_EQUAL(clip_grad_norm_({none}, 1.0), 0.0);
  Tensor a = param_with_grad({0.0, 2.0});
  BOOST_CHECK_CLOSE(clip_grad_norm_({none, a}, 1.0), 2.0, 1e-13);
  BOOST_CHECK(!none.grad().defined());
}

BOOST_AUTO_TEST_CASE(large_gradient_parallel_norm) {
  // 300k elements (parallel reduction): matches a serial sum and is the same on every call.
  Tensor p = zeros({300000}, dtype(float64)).requires_grad_(true);
  p.set_grad(randn({300000}, dtype(float64)));
  const Vec g = p.grad().to_vector<double>();
  double ss = 0;
  for (double v : g) ss += v * v;
  const double n1 = clip_grad_norm_({p}, 1e9);
  BOOST_CHECK_CLOSE(n1, std::sqrt(ss), 1e-10);
  BOOST_CHECK_EQUAL(clip_grad_norm_({p}, 1e9), n1);
  clip_grad_norm_({p}, 1.0);
  BOOST_CHECK_CLOSE(clip_grad_norm_({p}, 1e9), 1.0, 1e-4);
}

BOOST_AUTO_TEST_CASE(errors) {
  Tensor a = param_with_grad({3.0, 4.0});
  XGRAD_CHECK_THROW_MSG(clip_grad_norm_({a}, 1.0, 1.0), "clip_grad_norm_: unsupported norm_type 1 (expected 2 or inf)");
  XGRAD_CHECK_THROW_MSG(clip_grad_norm_({a}, 1.0, -std::numeric_limits<double>::infinity()), "unsupported norm_type");
  XGRAD_CHECK_THROW_MSG(clip_grad_norm_({a}, -1.0), "clip_grad_norm_: invalid max_norm -1");
  Tensor bad = param_with_grad({1.0, std::numeric_limits<double>::infinity()});
  XGRAD_CHECK_THROW_MSG(clip_grad_norm_({bad}, 1.0, 2.0, true), "the total norm of order 2 of the gradients is inf");
  XGRAD_CHECK_THROW_MSG(clip_grad_value_({a}, -0.5), "clip_grad_value_: invalid clip_value -0.5");
  XGRAD_CHECK_THROW_MSG(clip_grad_norm_({Tensor()}, 1.0), "clip_grad_norm_");
}

BOOST_AUTO_TEST_CASE(clip_value) {
  Tensor a = param_with_grad({-3.0, 0.5, 2.0}), b = zeros({1}).requires_grad_(true);
  clip_grad_value_({a, b}, 1.0);
  BOOST_CHECK(a.grad().to_vector<double>() == (Vec{-1.0, 0.5, 1.0}));
  BOOST_CHECK(!b.grad().defined());
}

BOOST_AUTO_TEST_SUITE_END()
