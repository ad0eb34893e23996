// The meta-learning workloads of issue 17 (run by `xgrad_bench --worker NAME ...` through
// run_xgrad_worker). There is no libtorch twin (libtorch has no functional optimizers or
// functional module call); instead the same computation is timed twice in xgrad:
//   maml_outer_step         through the differentiable-optimization API: optim::InnerLoop
//                           (one functional SGD step with create_graph) and
//                           nn::functional_call on an nn::Sequential;
//   maml_outer_step_manual  written by hand: the six parameters as leaf tensors, the forward as
//                           matmul/add/relu, the inner gradient by autograd::grad and the inner
//                           update as p - alpha * g.
// One call = one MAML outer step of tutorial 12 (Finn et al. 2017's sinusoid benchmark): an
// MLP 1-40-40-1 (ReLU), a meta-batch of kMamlTasks tasks y = A sin(x - phi), each with
// kMamlShots support and kMamlShots query points; one inner SGD step (alpha kMamlAlpha) with
// create_graph (second order), the mean query MSE over the tasks backpropagated through it,
// and one Adam step (lr 1e-3) on the initial weights. Both start from the same weights and
// data, so their first losses agree (printed as a note).
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <numbers>
#include <string>
#include <vector>

#include "bench_common.hpp"
#include "xgrad/nn/functional_call.hpp"
#include "xgrad/optim/functional.hpp"
#include "xgrad/optim/meta.hpp"
#include "xgrad/xgrad.hpp"
#include "xgrad_worker.hpp"

namespace nn = xgrad::nn;
namespace optim = xgrad::optim;
using xgrad::Shape;
using xgrad::Tensor;

namespace {

constexpr std::int64_t kMamlTasks = 25, kMamlShots = 5, kMamlHidden = 40;
constexpr double kMamlAlpha = 0.01;

/// The meta-batch: support and query points of every task, each [kMamlShots, 1].
struct SineBatch {
  std::vector<Tensor> x_support, y_support, x_query, y_query;
};

SineBatch sine_batch() {
  const auto n = static_cast<std::size_t>(kMamlTasks), k = static_cast<std::size_t>(kMamlShots);
  const std::vector<float> amplitude = bench::uniform_floats(n, 401, 0.1, 5.0);
  const std::vector<float> phase = bench::uniform_floats(n, 402, 0.0, std::numbers::pi);
  const std::vector<float> xs = bench::uniform_floats(n * k, 403, -5.0, 5.0);
  const std::vector<float> xq = bench::uniform_floats(n * k, 404, -5.0, 5.0);
  SineBatch b;
  auto points = [&](const std::vector<float>& x, std::size_t task, std::vector<Tensor>& xo, std::vector<Tensor>& yo) {
    std::vector<float> xv(x.begin() + static_cast<std::ptrdiff_t>(task * k),
                          x.begin() + static_cast<std::ptrdiff_t>((task + 1) * k));
    std::vector<float> yv;
    for (float v : xv) yv.push_back(amplitude[task] * std::sin(v - phase[task]));
    xo.push_back(xgrad::from_vector(xv, Shape{kMamlShots, 1}));
    yo.push_back(xgrad::from_vector(yv, Shape{kMamlShots, 1}));
  };
  for (std::size_t t = 0; t < n; ++t) {
    points(xs, t, b.x_support, b.y_support);
    points(xq, t, b.x_query, b.y_query);
  }
  return b;
}

/// Initial values of the three layers (weights [out, in], biases [out]) in the order
/// 0.weight, 0.bias, 2.weight, 2.bias, 4.weight, 4.bias.
std::vector<Tensor> maml_init() {
  std::vector<Tensor> out;
  const std::int64_t sizes[][2] = {{1, kMamlHidden}, {kMamlHidden, kMamlHidden}, {kMamlHidden, 1}};
  std::uint64_t seed = 300;
  for (const auto& [in, o] : sizes) {
    const auto init = bench::linear_init(in, o, seed);
    seed += 2;
    out.push_back(xgrad::from_vector(init.weight, Shape{o, in}));
    out.push_back(xgrad::from_vector(init.bias, Shape{o}));
  }
  return out;
}

void print_first_loss(bool& first, const Tensor& loss) {
  if (!first) return;
  first = false;
  std::printf("note first meta-loss %.6f\n", loss.item<double>());
}

}  // namespace

// Declared here for the lead's registration in run_xgrad_worker (or use run_xgrad_meta_workload).
void maml_outer_step(const bench::WorkerArgs& a);
void maml_outer_step_manual(const bench::WorkerArgs& a);

/// MAML outer step through optim::InnerLoop (functional SGD step, create_graph) and
/// nn::functional_call.
void maml_outer_step(const bench::WorkerArgs& a) {
  auto model =
      std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(1, kMamlHidden), std::make_shared<nn::ReLU>(),
                                       std::make_shared<nn::Linear>(kMamlHidden, kMamlHidden),
                                       std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(kMamlHidden, 1));
  {
    xgrad::NoGradGuard no_grad;
    const std::vector<Tensor> init = maml_init();
    std::size_t i = 0;
    for (auto& [name, p] : model->named_parameters()) {
      Tensor t = p;
      t.copy_(init[i++]);
    }
  }
  const SineBatch b = sine_batch();
  optim::Adam meta(model->parameters(), optim::AdamOptions(bench::kLr));
  const optim::InnerLoop inner(optim::functional::make(optim::SGDOptions(kMamlAlpha)), optim::InnerLoopOptions(1));
  auto mse = [&](const optim::ParamMap& p, const Tensor& x, const Tensor& y) {
    return nn::functional::mse_loss(nn::functional_call(*model, p, x), y);
  };
  bool first = true;
  bench::time_loop(a, [&] {
    meta.zero_grad();
    Tensor total;
    for (std::int64_t t = 0; t < kMamlTasks; ++t) {
      const optim::InnerLoopResult adapted =
          inner.run(*model, [&](const optim::ParamMap& p) { return mse(p, b.x_support[t], b.y_support[t]); });
      const Tensor query = mse(adapted.params, b.x_query[t], b.y_query[t]);
      total = total.defined() ? total + query : query;
    }
    const Tensor loss = total / static_cast<double>(kMamlTasks);
    loss.backward();
    meta.step();
    print_first_loss(first, loss);
  });
}

/// The same outer step by hand: leaf tensors, matmul/add/relu, autograd::grad, p - alpha g.
void maml_outer_step_manual(const bench::WorkerArgs& a) {
  std::vector<Tensor> theta = maml_init();
  for (Tensor& p : theta) p.requires_grad_(true);
  const SineBatch b = sine_batch();
  optim::Adam meta(theta, optim::AdamOptions(bench::kLr));
  auto forward = [](const std::vector<Tensor>& p, const Tensor& x) {
    const Tensor h1 = (x.matmul(p[0].t()) + p[1]).relu();
    const Tensor h2 = (h1.matmul(p[2].t()) + p[3]).relu();
    return h2.matmul(p[4].t()) + p[5];
  };
  auto mse = [](const Tensor& y_hat, const Tensor& y) { return (y_hat - y).pow(2.0).mean(); };
  bool first = true;
  bench::time_loop(a, [&] {
    meta.zero_grad();
    Tensor total;
    for (std::int64_t t = 0; t < kMamlTasks; ++t) {
      const Tensor support = mse(forward(theta, b.x_support[t]), b.y_support[t]);
      const std::vector<Tensor> grads =
          xgrad::autograd::grad({support}, theta, {}, {.retain_graph = true, .create_graph = true});
      std::vector<Tensor> adapted;
      for (std::size_t i = 0; i < theta.size(); ++i) adapted.push_back(theta[i] - kMamlAlpha * grads[i]);
      const Tensor query = mse(forward(adapted, b.x_query[t]), b.y_query[t]);
      total = total.defined() ? total + query : query;
    }
    const Tensor loss = total / static_cast<double>(kMamlTasks);
    loss.backward();
    meta.step();
    print_first_loss(first, loss);
  });
}

/// Runs `a.workload` if it is one of the meta-learning workloads, else returns false.
bool run_xgrad_meta_workload(const bench::WorkerArgs& a);
bool run_xgrad_meta_workload(const bench::WorkerArgs& a) {
  const std::string& w = a.workload;
  if (w == "maml_outer_step")
    maml_outer_step(a);
  else if (w == "maml_outer_step_manual")
    maml_outer_step_manual(a);
  else
    return false;
  return true;
}
