// Channel dropout (dropout1d/2d/3d, Dropout1d/2d/3d) and alpha dropout (alpha_dropout,
// AlphaDropout) from dropout.hpp: whole channels zeroed, scaling, unbatched inputs, eval
// identity, determinism under manual_seed and thread count, gradients and errors.
#include <cmath>

#include "test_util.hpp"
#include "xgrad/nn/dropout.hpp"

using namespace xgrad;
using xgrad::test::ThreadGuard;
using namespace xgrad::nn;
namespace F = xgrad::nn::functional;
using xgrad::test::check_close;
using xgrad::test::check_gradcheck;
using xgrad::test::check_gradgradcheck;
using xgrad::test::rand64;

namespace {

// Each [n, c] slice of y (shape [N, C, ...]) is either all zero or all x / (1 - p).
// Returns the number of dropped channels.
int check_channels(const Tensor& x, const Tensor& y, double p) {
  const std::int64_t n = x.size(0), c = x.size(1), inner = x.numel() / (n * c);
  const auto xv = x.contiguous().to(float64).to_vector<double>(), yv = y.contiguous().to(float64).to_vector<double>();
  int dropped = 0;
  for (std::int64_t k = 0; k < n * c; ++k) {
    const bool zero = yv[static_cast<std::size_t>(k * inner)] == 0.0;
    dropped += zero;
    for (std::int64_t j = 0; j < inner; ++j) {
      const auto i = static_cast<std::size_t>(k * inner + j);
      const double want = zero ? 0.0 : xv[i] / (1.0 - p);
      if (std::fabs(yv[i] - want) > 1e-5 * std::max(1.0, std::fabs(want))) {
        BOOST_ERROR("channel " << k << " element " << j << ": got " << yv[i] << ", want " << want);
        return dropped;
      }
    }
  }
  return dropped;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(dropout)

BOOST_AUTO_TEST_CASE(dropout2d_zeroes_whole_channels) {
  manual_seed(1);
  Tensor x = rand({8, 16, 3, 3}) + 0.5;  // no zeros in x
  Tensor y = F::dropout2d(x, 0.25, true);
  const int dropped = check_channels(x, y, 0.25);
  BOOST_CHECK(dropped > 0 && dropped < 128);  // about 32 of 128
  BOOST_CHECK_GT(dropped, 12);
  BOOST_CHECK_LT(dropped, 56);
  // Deterministic under manual_seed.
  manual_seed(1);
  Tensor x2 = rand({8, 16, 3, 3}) + 0.5;
  check_close(F::dropout2d(x2, 0.25, true), y, 0.0);
  // 3-d input: taken as [N, C, L] (PyTorch's current reading).
  Tensor x3 = rand({4, 6, 5}) + 0.5;
  check_channels(x3, F::dropout2d(x3, 0.5, true), 0.5);
}

BOOST_AUTO_TEST_CASE(dropout1d_and_dropout3d_batched_and_unbatched) {
  manual_seed(2);
  Tensor x = rand({4, 8, 6}) + 0.5;
  check_channels(x, F::dropout1d(x, 0.5, true), 0.5);
  // Unbatched [C, L]: one draw per channel, the same mask as for a batch of one.
  Tensor u = rand({8, 6}) + 0.5;
  manual_seed(9);
  Tensor yu = F::dropout1d(u, 0.5, true);
  manual_seed(9);
  Tensor yb = F::dropout1d(u.unsqueeze(0), 0.5, true);
  BOOST_CHECK(yu.shape() == Shape({8, 6}));
  check_close(yu, yb.squeeze(0), 0.0);
  check_channels(u.unsqueeze(0), yu.unsqueeze(0), 0.5);

  Tensor v = rand({2, 3, 2, 2, 2}) + 0.5;
  check_channels(v, F::dropout3d(v, 0.5, true), 0.5);
  Tensor vu = rand({3, 2, 2, 2}) + 0.5;
  Tensor yv = F::dropout3d(vu, 0.5, true);
  BOOST_CHECK(yv.shape() == vu.shape());
  check_channels(vu.unsqueeze(0), yv.unsqueeze(0), 0.5);
}

BOOST_AUTO_TEST_CASE(channel_dropout_identity_cases_and_extremes) {
  Tensor x = rand({2, 3, 4});
  BOOST_CHECK(F::dropout1d(x, 0.5, false).is_same(x));
  BOOST_CHECK(F::dropout1d(x, 0.0, true).is_same(x));
  BOOST_CHECK(F::dropout2d(zeros({0, 3, 2, 2}), 0.5, true).numel() == 0);
  Tensor xg = rand64({2, 3, 4});
  Tensor z = F::dropout1d(xg, 1.0, true);
  check_close(z, zeros({2, 3, 4}, dtype(float64)), 0.0);
  BOOST_CHECK(z.requires_grad());
  z.sum().backward();
  check_close(xg.grad(), zeros({2, 3, 4}, dtype(float64)), 0.0);

  Dropout2d m(0.3);
  BOOST_CHECK_EQUAL(m.repr(), "Dropout2d(p=0.3)");
  Tensor x4 = rand({2, 3, 2, 2});
  m.eval();
  BOOST_CHECK(m(x4).is_same(x4));
  m.train();
  BOOST_CHECK(!m(x4).is_same(x4));
  BOOST_CHECK_EQUAL(Dropout1d().repr(), "Dropout1d(p=0.5)");
  BOOST_CHECK_EQUAL(Dropout3d(Dropout3dOptions(0.2)).repr(), "Dropout3d(p=0.2)");
  BOOST_CHECK_EQUAL(AlphaDropout(0.1).repr(), "AlphaDropout(p=0.1)");
}

BOOST_AUTO_TEST_CASE(channel_dropout_gradient_is_the_mask) {
  manual_seed(4);
  Tensor x = rand64({3, 4, 5});
  Tensor y = F::dropout1d(x, 0.4, true);
  y.sum().backward();
  // dy/dx = 1/(1-p) on kept channels, 0 on dropped ones: y / x where x != 0.
  check_close(x.grad(), (y / x).detach(), 1e-12);
  // gradcheck with a fixed mask: reseed before each call.
  Tensor x2 = rand64({2, 3, 2});
  auto f = [](const std::vector<Tensor>& in) {
    manual_seed(77);
    return F::dropout1d(in[0], 0.5, true);
  };
  check_gradcheck(f, {x2});
  check_gradgradcheck(f, {x2});
}

BOOST_AUTO_TEST_CASE(alpha_dropout_formula_and_statistics) {
  manual_seed(5);
  const double p = 0.2;
  constexpr double alpha = 1.7580993408473766;
  const double a = 1.0 / std::sqrt((alpha * alpha * p + 1.0) * (1.0 - p));
  Tensor x = randn({200, 100}, dtype(float64));
  Tensor y = F::alpha_dropout(x, p, true);
  const auto xv = x.to_vector<double>(), yv = y.to_vector<double>();
  int dropped = 0;
  for (std::size_t i = 0; i < xv.size(); ++i) {
    const double kept = a * xv[i] + alpha * a * p, gone = -alpha * a * (1.0 - p);
    const bool is_dropped = std::fabs(yv[i] - gone) < 1e-12 && std::fabs(yv[i] - kept) > 1e-12;
    dropped += is_dropped;
    if (!is_dropped && std::fabs(yv[i] - kept) > 1e-12) {
      BOOST_ERROR("element " << i << ": " << yv[i] << " is neither " << kept << " nor " << gone);
      break;
    }
  }
  BOOST_CHECK_GT(dropped, 3400);  // about 4000 of 20000
  BOOST_CHECK_LT(dropped, 4600);
  // A standard normal input keeps mean about 0 and variance about 1 (the point of alpha dropout).
  BOOST_CHECK_SMALL(y.mean().item<double>(), 0.05);
  BOOST_CHECK_CLOSE(y.var().item<double>(), 1.0, 5.0);
  // Determinism and identity cases.
  manual_seed(5);
  Tensor x2 = randn({200, 100}, dtype(float64));
  check_close(F::alpha_dropout(x2, p, true), y, 0.0);
  BOOST_CHECK(F::alpha_dropout(x, p, false).is_same(x));
  BOOST_CHECK(F::alpha_dropout(x, 0.0, true).is_same(x));
  check_close(F::alpha_dropout(x, 1.0, true), zeros({200, 100}, dtype(float64)), 0.0);
  AlphaDropout m(p);
  m.eval();
  BOOST_CHECK(m(x).is_same(x));
}

BOOST_AUTO_TEST_CASE(alpha_dropout_gradient) {
  manual_seed(6);
  Tensor x = rand64({4, 5});
  const double p = 0.3;
  constexpr double alpha = 1.7580993408473766;
  const double a = 1.0 / std::sqrt((alpha * alpha * p + 1.0) * (1.0 - p));
  Tensor y = F::alpha_dropout(x, p, true);
  y.sum().backward();
  // dy/dx = a where kept, 0 where dropped.
  const auto g = x.grad().to_vector<double>();
  const auto yv = y.detach().to_vector<double>();
  for (std::size_t i = 0; i < g.size(); ++i) {
    const bool gone = std::fabs(yv[i] + alpha * a * (1.0 - p)) < 1e-12;
    BOOST_CHECK_CLOSE(g[i] + 1.0, (gone ? 0.0 : a) + 1.0, 1e-10);
  }
  Tensor x2 = rand64({3, 2});
  auto f = [](const std::vector<Tensor>& in) {
    manual_seed(78);
    return F::alpha_dropout(in[0], 0.5, true);
  };
  check_gradcheck(f, {x2});
  check_gradgradcheck(f, {x2});
}

BOOST_AUTO_TEST_CASE(dropout_masks_are_thread_count_independent) {
  ThreadGuard tg;
  auto run = [](int threads) {
    set_num_threads(threads);
    manual_seed(8);
    Tensor x = rand({64, 64, 32});
    return std::vector<Tensor>{F::dropout2d(x.reshape({64, 64, 32, 1}), 0.3, true), F::alpha_dropout(x, 0.3, true)};
  };
  const auto one = run(1), two = run(2);
  for (std::size_t i = 0; i < one.size(); ++i)
    BOOST_CHECK_MESSAGE(one[i].to_vector<float>() == two[i].to_vector<float>(), "result " << i << " differs");
}

BOOST_AUTO_TEST_CASE(dropout_errors) {
  for (double p : {-0.1, 1.5, std::nan("")}) {
    XGRAD_CHECK_THROW_MSG(F::dropout1d(zeros({2, 3}), p, true), "dropout1d: probability p must be in [0, 1]");
    XGRAD_CHECK_THROW_MSG(F::dropout2d(zeros({2, 3, 2, 2}), p, true), "dropout2d: probability p must be in [0, 1]");
    XGRAD_CHECK_THROW_MSG(F::dropout3d(zeros({2, 3, 2, 2}), p, true), "dropout3d: probability p must be in [0, 1]");
    XGRAD_CHECK_THROW_MSG(F::alpha_dropout(zeros({2}), p, true), "alpha_dropout: probability p must be in [0, 1]");
    XGRAD_CHECK_THROW_MSG(Dropout1d{p}, "Dropout1d: probability p must be in [0, 1]");
    XGRAD_CHECK_THROW_MSG(Dropout2d{p}, "Dropout2d: probability p must be in [0, 1]");
    XGRAD_CHECK_THROW_MSG(Dropout3d{p}, "Dropout3d: probability p must be in [0, 1]");
    XGRAD_CHECK_THROW_MSG(AlphaDropout{p}, "AlphaDropout: probability p must be in [0, 1]");
  }
  XGRAD_CHECK_THROW_MSG(F::dropout1d(zeros({2, 3, 4, 5}), 0.5, true),
                        "dropout1d: Expected 2D or 3D input, but received a 4D input of shape [2, 3, 4, 5]");
  XGRAD_CHECK_THROW_MSG(F::dropout1d(zeros({2, 3, 4, 5}), 0.5, false), "dropout1d: Expected 2D or 3D input");
  XGRAD_CHECK_THROW_MSG(F::dropout2d(zeros({2, 3}), 0.5, true),
                        "dropout2d: Expected 3D or 4D input, but received a 2D input of shape [2, 3]");
  XGRAD_CHECK_THROW_MSG(F::dropout3d(zeros({2, 3, 4}), 0.5, true),
                        "dropout3d: Expected 4D or 5D input, but received a 3D input of shape [2, 3, 4]");
  XGRAD_CHECK_THROW_MSG(F::dropout2d(zeros({2, 3, 2, 2}, dtype(int64)), 0.5, true),
                        "dropout2d: needs a floating tensor");
  XGRAD_CHECK_THROW_MSG(F::alpha_dropout(zeros({2}, dtype(int64)), 0.5, true),
                        "alpha_dropout: needs a floating tensor");
  XGRAD_CHECK_THROW_MSG(F::alpha_dropout(Tensor(), 0.5, true), "alpha_dropout");
}

BOOST_AUTO_TEST_SUITE_END()
