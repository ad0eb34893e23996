// batch_norm, instance_norm, group_norm, local_response_norm and their modules
// (normalization.hpp): values and running statistics by hand, train/eval, momentum nullopt,
// affine/tracking off, a hand-derived gradient, fused vs composed backward, thread-count
// determinism and every validation error.
#include <cmath>
#include <optional>

#include "test_util.hpp"
#include "xgrad/nn/normalization.hpp"

using namespace xgrad;
using xgrad::test::ThreadGuard;
using namespace xgrad::nn;
namespace F = xgrad::nn::functional;
using xgrad::test::check_close;
using xgrad::test::check_gradcheck;
using xgrad::test::check_values;
using xgrad::test::rand64;

namespace {

std::vector<std::string> names_of(const std::vector<std::pair<std::string, Tensor>>& v) {
  std::vector<std::string> out;
  for (const auto& [n, t] : v) out.push_back(n);
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(normalization)

BOOST_AUTO_TEST_CASE(batch_norm_1d_training_values_and_running_stats_by_hand) {
  BatchNorm1d bn(2);
  BOOST_CHECK_EQUAL(bn.repr(), "BatchNorm1d(2, eps=1e-05, momentum=0.1, affine=true, track_running_stats=true)");
  BOOST_TEST(names_of(bn.named_parameters()) == std::vector<std::string>({"weight", "bias"}),
             boost::test_tools::per_element());
  BOOST_TEST(
      names_of(bn.named_buffers()) == std::vector<std::string>({"running_mean", "running_var", "num_batches_tracked"}),
      boost::test_tools::per_element());
  BOOST_CHECK(bn.num_batches_tracked.dtype() == int64);
  BOOST_CHECK_EQUAL(bn.num_batches_tracked.dim(), 0);
  // Channel 0: [1, 2, 3, 4], mean 2.5, biased var 1.25, unbiased 5/3.
  // Channel 1: [0, 0, 2, 2], mean 1, biased var 1, unbiased 4/3.
  Tensor x = tensor({{1., 0.}, {2., 0.}, {3., 2.}, {4., 2.}}, dtype(float64));
  bn.to(float64);
  Tensor y = bn(x);
  const double s0 = 1.0 / std::sqrt(1.25 + 1e-5), s1 = 1.0 / std::sqrt(1.0 + 1e-5);
  check_values(y, {4, 2}, {-1.5 * s0, -s1, -0.5 * s0, -s1, 0.5 * s0, s1, 1.5 * s0, s1});
  BOOST_CHECK_EQUAL(y.grad_fn_name(), "NativeBatchNormBackward");
  // running = 0.9 running + 0.1 batch (unbiased variance).
  check_values(bn.running_mean, {2}, {0.25, 0.1});
  check_values(bn.running_var, {2}, {0.9 + 0.1 * 5.0 / 3.0, 0.9 + 0.1 * 4.0 / 3.0});
  BOOST_CHECK_EQUAL(bn.num_batches_tracked.item<std::int64_t>(), 1);
  // A second batch moves them again.
  bn(x);
  check_values(bn.running_mean, {2}, {0.9 * 0.25 + 0.25, 0.9 * 0.1 + 0.1});
  BOOST_CHECK_EQUAL(bn.num_batches_tracked.item<std::int64_t>(), 2);

  // eval: normalises with the running statistics and updates nothing.
  bn.eval();
  Tensor rm = bn.running_mean.clone(), rv = bn.running_var.clone();
  Tensor ye = bn(x);
  Tensor want = (x - rm.reshape({1, 2})) / (rv.reshape({1, 2}) + 1e-5).sqrt();
  check_close(ye, want, 1e-12);
  check_close(bn.running_mean, rm, 0.0);
  BOOST_CHECK_EQUAL(bn.num_batches_tracked.item<std::int64_t>(), 2);
}

BOOST_AUTO_TEST_CASE(batch_norm_2d_affine_and_spatial_statistics) {
  manual_seed(3);
  BatchNorm2d bn(BatchNormOptions(3).eps(1e-3).momentum(0.3));
  BOOST_CHECK_EQUAL(bn.repr(), "BatchNorm2d(3, eps=0.001, momentum=0.3, affine=true, track_running_stats=true)");
  bn.to(float64);
  {
    NoGradGuard ng;
    bn.weight.copy_(tensor({2., -1., 0.5}, dtype(float64)));
    bn.bias.copy_(tensor({0.1, 0.2, 0.3}, dtype(float64)));
  }
  Tensor x = randn({2, 3, 4, 5}, dtype(float64));
  Tensor y = bn(x);
  // Reference by composition: statistics over N, H, W per channel.
  Tensor mu = x.mean({0, 2, 3}, true);
  Tensor var = ((x - mu) * (x - mu)).mean({0, 2, 3}, true);
  Tensor want = (x - mu) / (var + 1e-3).sqrt() * bn.weight.detach().reshape({1, 3, 1, 1}) +
                bn.bias.detach().reshape({1, 3, 1, 1});
  check_close(y, want, 1e-12);
  check_close(bn.running_mean, mu.reshape({3}) * 0.3, 1e-12);
  check_close(bn.running_var, var.reshape({3}) * (40.0 / 39.0) * 0.3 + 0.7, 1e-12);
}

BOOST_AUTO_TEST_CASE(batch_norm_momentum_nullopt_is_the_cumulative_average) {
  BatchNorm1d bn(BatchNormOptions(1).momentum(std::nullopt));
  BOOST_CHECK_EQUAL(bn.repr(), "BatchNorm1d(1, eps=1e-05, momentum=None, affine=true, track_running_stats=true)");
  bn.to(float64);
  Tensor a = tensor({{1.}, {3.}}, dtype(float64));   // mean 2, unbiased var 2
  Tensor b = tensor({{4.}, {10.}}, dtype(float64));  // mean 7, unbiased var 18
  Tensor c = tensor({{0.}, {0.}}, dtype(float64));   // mean 0, unbiased var 0

  bn(a);  // factor 1/1: exactly the first batch
  check_values(bn.running_mean, {1}, {2.0});
  check_values(bn.running_var, {1}, {2.0});
  bn(b);  // factor 1/2
  check_values(bn.running_mean, {1}, {4.5});
  check_values(bn.running_var, {1}, {10.0});
  bn(c);  // factor 1/3: the mean of the three batches
  check_values(bn.running_mean, {1}, {3.0});
  check_values(bn.running_var, {1}, {20.0 / 3.0});
  BOOST_CHECK_EQUAL(bn.num_batches_tracked.item<std::int64_t>(), 3);
  bn.reset_running_stats();
  check_values(bn.running_mean, {1}, {0.0});
  check_values(bn.running_var, {1}, {1.0});
  BOOST_CHECK_EQUAL(bn.num_batches_tracked.item<std::int64_t>(), 0);
}

BOOST_AUTO_TEST_CASE(batch_norm_affine_and_tracking_off) {
  BatchNorm1d plain(BatchNormOptions(2).affine(false).track_running_stats(false));
  BOOST_CHECK(plain.parameters().empty());
  BOOST_CHECK(plain.buffers().empty());
  BOOST_CHECK(!plain.weight.defined());
  Tensor x = tensor({{1., 0.}, {2., 0.}, {3., 2.}, {4., 2.}});
  Tensor y = plain(x);
  // eval without running statistics still uses the batch statistics (PyTorch).
  plain.eval();
  check_close(plain(x), y, 0.0);
  BOOST_CHECK(!plain(x).requires_grad());
  // Without affine, any channel count goes (nothing has num_features' size).
  BOOST_CHECK_NO_THROW(plain(zeros({3, 5})));

  // affine off, tracking on: buffers but no parameters.
  BatchNorm1d tracked(BatchNormOptions(2).affine(false));
  BOOST_CHECK(tracked.parameters().empty());
  BOOST_CHECK_EQUAL(tracked.buffers().size(), 3u);
  check_close(tracked(x), y, 1e-6);
}

BOOST_AUTO_TEST_CASE(batch_norm_gradient_by_hand) {
  // x = [0, 1, 5] as [N = 3, C = 1], eps = 0, weight 2: mean 2, d = x - mean = [-2, -1, 3],
  // var = 14/3, s = invstd = sqrt(3/14), xhat = d s. With g = dL/dy = [1, 0, 0]:
  //   dx = w s (g - mean(g) - xhat mean(g xhat)),  mean(g) = 1/3,
  //   mean(g xhat) = -2 s / 3, so xhat mean(g xhat) = -(2/3)(3/14) d = -d/7 and
  //   dx = 2 s (g - 1/3 + d/7) = 2 s [8/21, -10/21, 2/21];
  //   dw = sum(g xhat) = -2 s; db = sum(g) = 1.
  Tensor x = tensor({{0.}, {1.}, {5.}}, dtype(float64)).requires_grad_(true);
  Tensor w = tensor({2.}, dtype(float64)).requires_grad_(true);
  Tensor b = tensor({0.5}, dtype(float64)).requires_grad_(true);
  Tensor y = F::batch_norm(x, Tensor(), Tensor(), w, b, true, 0.1, 0.0);
  y.backward(tensor({{1.}, {0.}, {0.}}, dtype(float64)));
  const double s = std::sqrt(3.0 / 14.0);
  check_values(x.grad(), {3, 1}, {2 * s * 8 / 21, -2 * s * 10 / 21, 2 * s * 2 / 21});
  check_values(w.grad(), {1}, {-2 * s});
  check_values(b.grad(), {1}, {1.0});
  // eval mode: dx = g w / sqrt(running_var + eps) = [2/2, 0, 0] with running_var 4.
  Tensor x2 = x.detach().requires_grad_(true);
  Tensor y2 =
      F::batch_norm(x2, tensor({1.}, dtype(float64)), tensor({4.}, dtype(float64)), w, Tensor(), false, 0.1, 0.0);
  check_values(y2, {3, 1}, {-1.0, 0.0, 4.0});  // (x - 1) / 2 * 2
  y2.backward(tensor({{1.}, {0.}, {0.}}, dtype(float64)));
  check_values(x2.grad(), {3, 1}, {1.0, 0.0, 0.0});
}

BOOST_AUTO_TEST_CASE(batch_norm_fused_and_composed_backward_agree) {
  manual_seed(7);
  for (bool training : {true, false}) {
    Tensor x = rand64({3, 2, 4});
    Tensor w = rand64({2});
    Tensor b = rand64({2});
    Tensor rm = randn({2}, dtype(float64)), rv = rand({2}, dtype(float64)) + 0.5;
    Tensor g = randn({3, 2, 4}, dtype(float64));
    auto grads = [&](bool create_graph) {
      Tensor y = F::batch_norm(x, training ? Tensor() : rm, training ? Tensor() : rv, w, b, training, 0.1, 1e-5);
      autograd::GradOptions o;
      o.create_graph = create_graph;
      return autograd::grad({y}, {x, w, b}, {g}, o);
    };
    const auto fused = grads(false), composed = grads(true);
    for (std::size_t i = 0; i < 3; ++i) check_close(fused[i], composed[i], 1e-12);
    BOOST_CHECK(composed[0].requires_grad());
  }
}

BOOST_AUTO_TEST_CASE(batch_norm_gradcheck_training_and_eval) {
  manual_seed(11);
  Tensor x = rand64({3, 2, 3}), w = rand64({2}), b = rand64({2});
  check_gradcheck(
      [](const std::vector<Tensor>& in) { return F::batch_norm(in[0], Tensor(), Tensor(), in[1], in[2], true); },
      {x, w, b});
  Tensor rm = randn({2}, dtype(float64)), rv = rand({2}, dtype(float64)) + 0.5;
  check_gradcheck([&](const std::vector<Tensor>& in) { return F::batch_norm(in[0], rm, rv, in[1], in[2], false); },
                  {x, w, b});
}

BOOST_AUTO_TEST_CASE(batch_norm_is_bit_identical_at_1_and_2_threads) {
  ThreadGuard tg;
  manual_seed(5);
  const Tensor x0 = randn({8, 16, 24, 24});
  const Tensor g = randn({8, 16, 24, 24});
  auto run = [&](int threads) {
    set_num_threads(threads);
    BatchNorm2d bn(16);
    Tensor x = x0.detach().requires_grad_(true);
    Tensor y = bn(x);
    y.backward(g);
    return std::vector<Tensor>{
        y.detach(), x.grad(), bn.weight.grad(), bn.bias.grad(), bn.running_mean.clone(), bn.running_var.clone()};
  };
  const auto one = run(1), two = run(2);
  for (std::size_t i = 0; i < one.size(); ++i)
    BOOST_CHECK_MESSAGE(one[i].to_vector<float>() == two[i].to_vector<float>(), "result " << i << " differs");
}

BOOST_AUTO_TEST_CASE(batch_norm_float32_and_views) {
  manual_seed(9);
  Tensor x = randn({4, 3, 5});
  Tensor xt = randn({4, 5, 3}).transpose(1, 2);  // a non-contiguous input
  BatchNorm1d bn(3);
  check_close(bn(xt), bn(xt.contiguous()), 1e-6);
  Tensor y = bn(x);
  BOOST_CHECK(y.dtype() == float32);
  // Normalised channels: mean 0, biased variance 1 - eps/(var+eps).
  check_close(y.mean({0, 2}), zeros({3}), 1e-5);
  // empty batch: an empty result, running statistics untouched.
  Tensor rm = bn.running_mean.clone();
  Tensor e = bn(zeros({0, 3, 5}));
  BOOST_CHECK(e.shape() == Shape({0, 3, 5}));
  check_close(bn.running_mean, rm, 0.0);
}

BOOST_AUTO_TEST_CASE(batch_norm_state_dict_round_trip) {
  BatchNorm1d a(2), b(2);
  a(tensor({{1., 0.}, {2., 0.}, {3., 2.}, {4., 2.}}));
  b.load_state_dict(a.state_dict());
  check_close(b.running_mean, a.running_mean, 0.0);
  BOOST_CHECK_EQUAL(b.num_batches_tracked.item<std::int64_t>(), 1);
  BOOST_CHECK_EQUAL(a.state_dict().size(), 5u);
}

BOOST_AUTO_TEST_CASE(batch_norm_errors) {
  BatchNorm1d bn1(3);
  XGRAD_CHECK_THROW_MSG(bn1(zeros({2, 3, 4, 5})),
                        "BatchNorm1d: expected 2D or 3D input (got 4D input of shape [2, 3, 4, 5])");
  XGRAD_CHECK_THROW_MSG(bn1(zeros({3})), "BatchNorm1d: expected 2D or 3D input (got 1D input");
  XGRAD_CHECK_THROW_MSG(bn1(zeros({2, 4})),
                        "BatchNorm1d: input of shape [2, 4] has 4 channels (dim 1) but num_features = 3");
  XGRAD_CHECK_THROW_MSG(bn1(zeros({1, 3})),
                        "BatchNorm1d: Expected more than 1 value per channel when training, got input of shape [1, 3]");
  BOOST_CHECK_EQUAL(bn1.num_batches_tracked.item<std::int64_t>(), 0);  // a failed call counts nothing
  bn1.eval();
  BOOST_CHECK_NO_THROW(bn1(zeros({1, 3})));  // one value per channel is fine in eval
  BatchNorm2d bn2(3);
  XGRAD_CHECK_THROW_MSG(bn2(zeros({2, 3, 4})), "BatchNorm2d: expected 4D input (got 3D input of shape [2, 3, 4])");
  BatchNorm3d bn3(3);
  XGRAD_CHECK_THROW_MSG(bn3(zeros({2, 3, 4, 4})),
                        "BatchNorm3d: expected 5D input (got 4D input of shape [2, 3, 4, 4])");
  XGRAD_CHECK_THROW_MSG(BatchNorm1d(-1), "BatchNorm1d: invalid num_features -1 (must be >= 0)");

  const Tensor x = zeros({2, 3});
  XGRAD_CHECK_THROW_MSG(F::batch_norm(x, zeros({4}), ones({4}), Tensor(), Tensor(), true),
                        "batch_norm: running_mean of shape [4] does not match input of shape [2, 3] (expected [3]");
  XGRAD_CHECK_THROW_MSG(F::batch_norm(x, zeros({3}), ones({2}), Tensor(), Tensor(), true),
                        "batch_norm: running_var of shape [2] does not match input of shape [2, 3]");
  XGRAD_CHECK_THROW_MSG(F::batch_norm(x, Tensor(), Tensor(), ones({2}), Tensor(), true),
                        "batch_norm: weight of shape [2] does not match input of shape [2, 3]");
  XGRAD_CHECK_THROW_MSG(F::batch_norm(x, Tensor(), Tensor(), Tensor(), ones({3, 1}), true),
                        "batch_norm: bias of shape [3, 1] does not match input of shape [2, 3]");
  XGRAD_CHECK_THROW_MSG(F::batch_norm(x, Tensor(), Tensor(), ones({3}, dtype(float64)), Tensor(), true),
                        "batch_norm: weight has dtype float64 but the input has dtype float32");
  XGRAD_CHECK_THROW_MSG(F::batch_norm(x, Tensor(), Tensor()),
                        "batch_norm: running_mean and running_var must be defined when not training");
  XGRAD_CHECK_THROW_MSG(F::batch_norm(x, zeros({3}), Tensor(), Tensor(), Tensor(), true),
                        "batch_norm: running_mean and running_var must both be defined or both undefined");
  XGRAD_CHECK_THROW_MSG(F::batch_norm(zeros({3}), Tensor(), Tensor(), Tensor(), Tensor(), true),
                        "batch_norm: expected an input of at least 2 dims [N, C, *], got shape [3]");
  XGRAD_CHECK_THROW_MSG(
      F::batch_norm(zeros({1, 3, 1}), Tensor(), Tensor(), Tensor(), Tensor(), true),
      "batch_norm: Expected more than 1 value per channel when training, got input of shape [1, 3, 1]");
  XGRAD_CHECK_THROW_MSG(F::batch_norm(zeros({2, 3}, dtype(int64)), Tensor(), Tensor(), Tensor(), Tensor(), true),
                        "batch_norm: expected a floating dtype (float32 or float64), got int64");
  XGRAD_CHECK_THROW_MSG(F::batch_norm(Tensor(), Tensor(), Tensor()), "batch_norm");
}

// ---- instance norm ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(instance_norm_values_and_running_stats) {
  manual_seed(13);
  Tensor x = randn({2, 3, 5}, dtype(float64));
  Tensor y = F::instance_norm(x);
  Tensor mu = x.mean({2}, true);
  Tensor var = ((x - mu) * (x - mu)).mean({2}, true);
  check_close(y, (x - mu) / (var + 1e-5).sqrt(), 1e-12);

  InstanceNorm1d in(InstanceNormOptions(3).track_running_stats(true).affine(true));
  BOOST_CHECK_EQUAL(in.repr(), "InstanceNorm1d(3, eps=1e-05, momentum=0.1, affine=true, track_running_stats=true)");
  in.to(float64);
  in(x);
  // running = 0.9 running + 0.1 mean over the batch of the per-instance statistics.
  check_close(in.running_mean, mu.reshape({2, 3}).mean({0}) * 0.1, 1e-12);
  Tensor uvar = x.var({2}, 1);
  check_close(in.running_var, uvar.mean({0}) * 0.1 + 0.9, 1e-12);
  BOOST_CHECK_EQUAL(in.num_batches_tracked.item<std::int64_t>(), 0);  // never counted (PyTorch)
  // eval uses the running statistics.
  in.eval();
  Tensor ye = in(x);
  check_close(ye, (x - in.running_mean.reshape({1, 3, 1})) / (in.running_var.reshape({1, 3, 1}) + 1e-5).sqrt(), 1e-12);
}

BOOST_AUTO_TEST_CASE(instance_norm_defaults_unbatched_and_errors) {
  InstanceNorm2d in(3);  // affine=false, track_running_stats=false
  BOOST_CHECK_EQUAL(in.repr(), "InstanceNorm2d(3, eps=1e-05, momentum=0.1, affine=false, track_running_stats=false)");
  BOOST_CHECK(in.parameters().empty());
  BOOST_CHECK(in.buffers().empty());
  manual_seed(2);
  Tensor x = randn({3, 4, 4});
  Tensor y = in(x);  // unbatched [C, H, W]
  BOOST_CHECK(y.shape() == x.shape());
  check_close(y, in(x.unsqueeze(0)).squeeze(0), 0.0);
  in.eval();  // no running statistics: still instance statistics
  check_close(in(x), y, 0.0);
  XGRAD_CHECK_THROW_MSG(in(zeros({3, 4})), "InstanceNorm2d: expected 3D or 4D input (got 2D input of shape [3, 4])");
  InstanceNorm1d aff(InstanceNormOptions(3).affine(true));
  XGRAD_CHECK_THROW_MSG(aff(zeros({2, 4, 5})),
                        "InstanceNorm1d: input of shape [2, 4, 5] has 4 channels but num_features = 3");
  XGRAD_CHECK_THROW_MSG(
      F::instance_norm(zeros({2, 3, 1})),
      "instance_norm: Expected more than 1 spatial element when training, got input of shape [2, 3, 1]");
  XGRAD_CHECK_THROW_MSG(F::instance_norm(zeros({2, 3})), "instance_norm: expected an input of at least 3 dims");
  XGRAD_CHECK_THROW_MSG(F::instance_norm(zeros({2, 3, 4}), Tensor(), Tensor(), ones({2})),
                        "instance_norm: weight of shape [2] does not match input of shape [2, 3, 4]");
  InstanceNorm3d in3(2);
  XGRAD_CHECK_THROW_MSG(in3(zeros({2, 2, 3})), "InstanceNorm3d: expected 4D or 5D input (got 3D input");
  manual_seed(4);
  Tensor xg = rand64({2, 2, 3}), w = rand64({2}), b = rand64({2});
  check_gradcheck(
      [](const std::vector<Tensor>& in) { return F::instance_norm(in[0], Tensor(), Tensor(), in[1], in[2]); },
      {xg, w, b});
}

// ---- group norm ------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(group_norm_values_module_and_errors) {
  manual_seed(21);
  Tensor x = randn({2, 6, 3}, dtype(float64));
  GroupNorm gn(3, 6);
  BOOST_CHECK_EQUAL(gn.repr(), "GroupNorm(3, 6, eps=1e-05, affine=true)");
  gn.to(float64);
  {
    NoGradGuard ng;
    gn.weight.copy_(arange(1, 7, dtype(float64)));
    gn.bias.copy_(arange(0, 6, dtype(float64)) * 0.1);
  }
  Tensor y = gn(x);
  // Reference: groups of 2 channels.
  Tensor xg = x.reshape({2, 3, 6});
  Tensor mu = xg.mean({2}, true);
  Tensor var = ((xg - mu) * (xg - mu)).mean({2}, true);
  Tensor want = ((xg - mu) / (var + 1e-5).sqrt()).reshape({2, 6, 3}) * arange(1, 7, dtype(float64)).reshape({1, 6, 1}) +
                (arange(0, 6, dtype(float64)) * 0.1).reshape({1, 6, 1});
  check_close(y, want, 1e-12);
  // Same in eval mode.
  gn.eval();
  check_close(gn(x), y, 0.0);
  // One group per channel = instance norm; one group = layer norm over C and spatial dims.
  check_close(F::group_norm(x, 6), F::instance_norm(x), 1e-12);

  XGRAD_CHECK_THROW_MSG(GroupNorm(4, 6),
                        "GroupNorm: num_channels must be divisible by num_groups, got num_channels=6 and num_groups=4");
  XGRAD_CHECK_THROW_MSG(GroupNorm(0, 6), "GroupNorm: invalid num_groups 0 (must be > 0)");
  XGRAD_CHECK_THROW_MSG(gn(zeros({2, 4, 3}, dtype(float64))),
                        "GroupNorm: Expected number of channels in input to be divisible by num_groups, but got input "
                        "of shape [2, 4, 3] and num_groups=3");
  XGRAD_CHECK_THROW_MSG(gn(zeros({2, 9, 3}, dtype(float64))),
                        "GroupNorm: weight of shape [6] does not match input of shape [2, 9, 3]");
  XGRAD_CHECK_THROW_MSG(F::group_norm(zeros({6}), 3), "group_norm: expected an input of at least 2 dims");
  XGRAD_CHECK_THROW_MSG(F::group_norm(zeros({2, 6}), 0), "group_norm: num_groups must be > 0, got 0");
  XGRAD_CHECK_THROW_MSG(F::group_norm(zeros({2, 6}, dtype(int64)), 3), "group_norm: expected a floating dtype");
  GroupNorm plain(GroupNormOptions(2, 4).affine(false).eps(1e-3));
  BOOST_CHECK(plain.parameters().empty());
  BOOST_CHECK_EQUAL(plain.repr(), "GroupNorm(2, 4, eps=0.001, affine=false)");
}

// ---- local response norm ---------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(local_response_norm_values_and_errors) {
  manual_seed(31);
  Tensor x = randn({2, 5, 3}, dtype(float64));
  const std::int64_t size = 3;
  const double alpha = 0.5, beta = 0.75, k = 2.0;
  Tensor y = F::local_response_norm(x, size, alpha, beta, k);
  // Reference, element by element: window [c - 1, c + 1] clipped to [0, 5), divided by size.
  const auto xv = x.to_vector<double>();
  std::vector<double> want(xv.size());
  for (int n = 0; n < 2; ++n)
    for (int c = 0; c < 5; ++c)
      for (int l = 0; l < 3; ++l) {
        double s = 0;
        for (int cc = c - 1; cc <= c + 1; ++cc)
          if (cc >= 0 && cc < 5) s += xv[(n * 5 + cc) * 3 + l] * xv[(n * 5 + cc) * 3 + l];
        const int i = (n * 5 + c) * 3 + l;
        want[i] = xv[i] / std::pow(k + alpha / size * s, beta);
      }
  check_values(y, {2, 5, 3}, want);
  // Even size: window [c - 2, c + 1].
  Tensor y4 = F::local_response_norm(x, 4, alpha, beta, k);
  {
    const int n = 0, l = 0;  // element [0, 0, 0]
    double s = 0;
    for (int cc = 0; cc <= 1; ++cc) s += xv[(n * 5 + cc) * 3 + l] * xv[(n * 5 + cc) * 3 + l];
    BOOST_CHECK_CLOSE(y4.to_vector<double>()[0], xv[0] / std::pow(k + alpha / 4 * s, beta), 1e-10);
  }
  LocalResponseNorm lrn(LocalResponseNormOptions(3).alpha(0.5).k(2.0));
  BOOST_CHECK_EQUAL(lrn.repr(), "LocalResponseNorm(3, alpha=0.5, beta=0.75, k=2.0)");
  check_close(lrn(x), y, 0.0);
  // 4-d input: the same along the channel dim.
  Tensor x4 = randn({2, 5, 2, 2}, dtype(float64));
  check_close(F::local_response_norm(x4, 3), F::local_response_norm(x4.reshape({2, 5, 4}), 3).reshape({2, 5, 2, 2}),
              1e-14);
  XGRAD_CHECK_THROW_MSG(F::local_response_norm(zeros({2, 3}), 2),
                        "local_response_norm: Expected 3D or higher dimensionality input (got 2 dimensions");
  XGRAD_CHECK_THROW_MSG(F::local_response_norm(zeros({2, 3, 4}), 0), "local_response_norm: size must be > 0, got 0");
  XGRAD_CHECK_THROW_MSG(LocalResponseNorm(0), "LocalResponseNorm: invalid size 0 (must be > 0)");
  BOOST_CHECK(F::local_response_norm(zeros({0, 3, 4}), 2).numel() == 0);
}

BOOST_AUTO_TEST_SUITE_END()
