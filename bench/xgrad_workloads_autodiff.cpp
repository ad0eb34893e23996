// The autodiff-toolkit workloads of issue 20 (run by `xgrad_bench --worker NAME ...` through
// run_xgrad_worker). There is no libtorch twin (libtorch's C++ API has neither
// torch.autograd.functional nor torch.utils.checkpoint); instead each line is timed against a
// second xgrad variant of the same computation, and the driver prints their ratio:
//   jacobian_vectorized     autograd::functional::jacobian(f, x, vectorize = true) of
//                           f = Linear(256, 256) -> tanh -> Linear(256, 256) at one input
//                           x [256] (float32): the 256 rows as one batched backward;
//   jacobian_looped         the same call with vectorize = false: one backward per row;
//   checkpoint_mlp32        one training step (zero_grad(false), forward, MSE loss, backward)
//                           of a 32-layer Linear(256, 256) + ReLU MLP on a batch of 64, forward
//                           through checkpoint_sequential(layers, 4, x);
//   checkpoint_mlp32_plain  the same step with the layers called one after the other.
// The checkpoint workers also print `heap_peak_kib <KiB>` and `heap_fwd_kib <KiB>`: the peak
// heap growth of one step and the growth at the end of its forward, measured after the timed
// loop (see measure_heap).
#include <malloc.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bench_common.hpp"
#include "xgrad/autograd/checkpoint.hpp"
#include "xgrad/autograd/functional.hpp"
#include "xgrad/autograd/memory.hpp"
#include "xgrad/xgrad.hpp"
#include "xgrad_worker.hpp"

namespace nn = xgrad::nn;
using xgrad::Shape;
using xgrad::Tensor;

namespace {

constexpr std::int64_t kJacWidth = 256;
constexpr std::int64_t kCkptLayers = 32, kCkptWidth = 256, kCkptBatch = 64, kCkptSegments = 4;

Tensor leaf(std::int64_t rows, std::int64_t cols, std::uint64_t seed) {
  return xgrad::from_vector(bench::uniform_floats(static_cast<std::size_t>(rows * cols), seed, -1, 1),
                            Shape{rows, cols});
}

/// Linear(256, 256) -> tanh -> Linear(256, 256) (default initialisation from manual_seed(0)),
/// its Jacobian at x [256]: [256, 256].
void jacobian_mlp(const bench::WorkerArgs& a, bool vectorize) {
  auto l1 = std::make_shared<nn::Linear>(kJacWidth, kJacWidth);
  auto l2 = std::make_shared<nn::Linear>(kJacWidth, kJacWidth);
  const xgrad::autograd::functional::TensorFn f = [&](const Tensor& x) { return l2->forward(l1->forward(x).tanh()); };
  const Tensor x = xgrad::from_vector(bench::uniform_floats(kJacWidth, 501, -1, 1), Shape{kJacWidth});
  Tensor jac;
  bench::time_loop(a, [&] { jac = xgrad::autograd::functional::jacobian(f, x, false, false, vectorize); });
  // Both variants print the same sum (up to rounding): a check that they computed the same thing.
  std::printf("note jacobian [%lld, %lld] sum %.6f\n", static_cast<long long>(jac.size(0)),
              static_cast<long long>(jac.size(1)), jac.sum().item<double>());
}

/// Heap bytes in use, over all malloc arenas (mallinfo2: chunks handed out + mmapped blocks).
std::size_t heap_in_use() {
  const struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

/// The 32-layer MLP, its layers as functions (Linear + ReLU each), and an optional sampler
/// that each layer calls before its forward and, when its output requires grad, from a
/// gradient hook on that output during backward (including the recomputation of
/// checkpointed segments, which calls the layers again with grad mode on).
struct DeepMlp {
  std::vector<std::shared_ptr<nn::Linear>> linears;
  std::shared_ptr<nn::Sequential> model = std::make_shared<nn::Sequential>();
  std::function<void()> sample;  ///< empty: no sampling (the timed loop)
  std::size_t after_forward = 0;  ///< heap_in_use() after the loss, when sampling
  std::vector<std::function<Tensor(const Tensor&)>> layers;

  DeepMlp(const DeepMlp&) = delete;  // the layers capture `this`
  DeepMlp& operator=(const DeepMlp&) = delete;
  DeepMlp() {
    for (std::int64_t i = 0; i < kCkptLayers; ++i) {
      linears.push_back(std::make_shared<nn::Linear>(kCkptWidth, kCkptWidth));
      model->push_back(linears.back());
      model->push_back(std::make_shared<nn::ReLU>());
    }
    for (std::size_t i = 0; i < linears.size(); ++i)
      layers.push_back([this, i](const Tensor& x) {
        if (sample) sample();
        Tensor y = linears[i]->forward(x).relu();
        if (sample && y.requires_grad()) y.register_hook([this](const Tensor&) {
          sample();
          return Tensor();
        });
        return y;
      });
  }
};

/// One training step: grads zeroed in place (kept allocated, PyTorch's set_to_none=False, so
/// that the parameters' gradients are not part of the step's memory growth), forward, MSE
/// loss against `target`, backward.
void mlp_step(DeepMlp& net, const Tensor& x, const Tensor& target, bool ckpt) {
  net.model->zero_grad(false);
  Tensor out;
  if (ckpt) {
    out = xgrad::autograd::checkpoint_sequential(net.layers, kCkptSegments, x);
  } else {
    out = x;
    for (const auto& layer : net.layers) out = layer(out);
  }
  const Tensor loss = nn::functional::mse_loss(out, target);
  if (net.sample) {
    net.sample();
    net.after_forward = heap_in_use();
  }
  loss.backward();
}

/// Heap growth of one step in KiB: {peak, after forward}. Peak: the largest heap_in_use()
/// sampled before every layer's forward, after the loss, from a hook on every layer output's
/// gradient during backward and after backward, minus heap_in_use() before the step. After
/// forward: heap_in_use() after the loss minus before the step (what the graph holds for
/// backward: the saved activations, as tests/autograd/test_checkpoint.cpp measures). xgrad's buffer cache is disabled for
/// the measurement (otherwise freed activations stay in use as cached buffers, and after the
/// first step the heap does not grow at all), then restored. A step without sampling runs
/// first, so the gradients exist (zeroed in place) and the cache is empty.
std::pair<long, long> measure_heap(DeepMlp& net, const Tensor& x, const Tensor& target, bool ckpt) {
  const std::size_t limit = xgrad::cache_limit();
  xgrad::set_cache_limit(0);
  mlp_step(net, x, target, ckpt);
  const std::size_t before = heap_in_use();
  std::size_t peak = before;
  net.sample = [&peak] { peak = std::max(peak, heap_in_use()); };
  mlp_step(net, x, target, ckpt);
  net.sample();
  net.sample = nullptr;
  xgrad::set_cache_limit(limit);
  return {static_cast<long>((peak - before) / 1024), static_cast<long>((net.after_forward - before) / 1024)};
}

void checkpoint_mlp(const bench::WorkerArgs& a, bool ckpt) {
  DeepMlp net;
  const Tensor x = leaf(kCkptBatch, kCkptWidth, 511);
  const Tensor target = leaf(kCkptBatch, kCkptWidth, 512);
  bench::time_loop(a, [&] { mlp_step(net, x, target, ckpt); });
  const auto [peak_kib, forward_kib] = measure_heap(net, x, target, ckpt);
  // Both variants print the same loss and gradient sum (bit-identical gradients).
  xgrad::NoGradGuard no_grad;
  double grad_sum = 0;
  for (const Tensor& p : net.model->parameters()) grad_sum += p.grad().sum().item<double>();
  std::printf("note loss %.9g grad sum %.9g\n",
              nn::functional::mse_loss(net.model->forward(x), target).item<double>(), grad_sum);
  std::printf("heap_peak_kib %ld\nheap_fwd_kib %ld\n", peak_kib, forward_kib);
  std::fflush(stdout);
}

}  // namespace

/// Runs `a.workload` if it is one of the autodiff-toolkit workloads, else returns false.
bool run_xgrad_autodiff_workload(const bench::WorkerArgs& a);
bool run_xgrad_autodiff_workload(const bench::WorkerArgs& a) {
  const std::string& w = a.workload;
  if (w == "jacobian_vectorized")
    jacobian_mlp(a, true);
  else if (w == "jacobian_looped")
    jacobian_mlp(a, false);
  else if (w == "checkpoint_mlp32")
    checkpoint_mlp(a, true);
  else if (w == "checkpoint_mlp32_plain")
    checkpoint_mlp(a, false);
  else
    return false;
  return true;
}
