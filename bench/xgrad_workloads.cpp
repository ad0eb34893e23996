// The xgrad side of every workload (run by `xgrad_bench --worker NAME ...`, see
// bench_common.hpp). Each one mirrors the function of the same name in torch_twin.cpp:
// same shapes, same inputs, same optimizer. fashion_mlp_epoch is tutorial 06's training loop
// (MLP 784-512-256-10, Adam lr 1e-3, batch 128, shuffled DataLoader with its default options).
#include <cblas.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench_common.hpp"
#include "xgrad/xgrad.hpp"
#include "xgrad_worker.hpp"

namespace nn = xgrad::nn;
namespace optim = xgrad::optim;
using xgrad::Shape;
using xgrad::Tensor;

namespace {

Tensor leaf(std::size_t n, std::uint64_t seed, double lo, double hi, const Shape& shape, bool requires_grad) {
  return xgrad::from_vector(bench::uniform_floats(n, seed, lo, hi), shape, requires_grad);
}

Tensor labels(std::int64_t n, std::int64_t classes, std::uint64_t seed) {
  return xgrad::from_vector(bench::labels(static_cast<std::size_t>(n), classes, seed), Shape{n});
}

void tiny_graph(const bench::WorkerArgs& a) {
  Tensor x = leaf(bench::kTinyN, 1, -1, 1, {bench::kTinyN}, true);
  Tensor w = leaf(bench::kTinyN, 2, -1, 1, {bench::kTinyN}, true);
  Tensor b = leaf(bench::kTinyN, 3, -1, 1, {bench::kTinyN}, true);
  bench::time_loop(a, [&] {
    for (const Tensor* t : {&x, &w, &b}) t->set_grad(Tensor());
    (x * w + b).tanh().mul(x).sum().backward();
  });
}

void elementwise_4m(const bench::WorkerArgs& a) {
  Tensor x = leaf(bench::kElementwiseN, 1, -2, 2, {bench::kElementwiseN}, true);
  Tensor y = leaf(bench::kElementwiseN, 2, -2, 2, {bench::kElementwiseN}, true);
  bench::time_loop(a, [&] {
    x.set_grad(Tensor());
    y.set_grad(Tensor());
    (x * y + x).sigmoid().sum().backward();
  });
}

/// The reference of the matmul and efficiency targets: `samples` raw single-thread cblas_sgemm
/// calls of a 1024^3 product (after one untimed call), each printed as `ref <seconds>`.
void sgemm_reference(int samples) {
  const std::int64_t n = bench::kMatmulN;
  const auto n2 = static_cast<std::size_t>(n * n);
  const std::vector<float> x = bench::uniform_floats(n2, 1, -1, 1), y = bench::uniform_floats(n2, 2, -1, 1);
  std::vector<float> c(n2);
  const int threads = openblas_get_num_threads();
  openblas_set_num_threads(1);
  const int ni = static_cast<int>(n);
  auto sgemm = [&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, ni, ni, ni, 1.0f, x.data(), ni, y.data(), ni, 0.0f,
                c.data(), ni);
  };
  sgemm();
  for (int s = 0; s < samples; ++s) {
    const auto t0 = std::chrono::steady_clock::now();
    sgemm();
    const std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
    std::printf("ref %.9e\n", dt.count());
  }
  std::fflush(stdout);
  openblas_set_num_threads(threads);
}

void matmul_1024(const bench::WorkerArgs& a) {
  const std::int64_t n = bench::kMatmulN;
  const auto n2 = static_cast<std::size_t>(n * n);
  Tensor x = leaf(n2, 1, -1, 1, {n, n}, false);
  Tensor y = leaf(n2, 2, -1, 1, {n, n}, false);
  bench::time_loop(a, [&] { Tensor z = x.matmul(y); });
  sgemm_reference(a.samples);
}

/// The 784-512-256-10 ReLU MLP with the shared initial weights.
std::shared_ptr<nn::Sequential> make_mlp() {
  auto l1 = std::make_shared<nn::Linear>(bench::kMlpIn, bench::kMlpH1);
  auto l2 = std::make_shared<nn::Linear>(bench::kMlpH1, bench::kMlpH2);
  auto l3 = std::make_shared<nn::Linear>(bench::kMlpH2, bench::kMlpOut);
  std::uint64_t seed = 100;
  {
    xgrad::NoGradGuard no_grad;
    for (const auto& l : {l1, l2, l3}) {
      const auto init = bench::linear_init(l->options().in_features_, l->options().out_features_, seed);
      seed += 2;
      l->weight.copy_(xgrad::from_vector(init.weight, l->weight.shape()));
      l->bias.copy_(xgrad::from_vector(init.bias, l->bias.shape()));
    }
  }
  return std::make_shared<nn::Sequential>(l1, std::make_shared<nn::ReLU>(), l2, std::make_shared<nn::ReLU>(), l3);
}

struct MlpStep {
  std::shared_ptr<nn::Sequential> model = make_mlp();
  optim::Adam opt{model->parameters(), optim::AdamOptions(bench::kLr)};
  Tensor operator()(const Tensor& input, const Tensor& target) {
    opt.zero_grad();
    Tensor loss = nn::functional::cross_entropy(model->forward(input), target);
    loss.backward();
    opt.step();
    return loss;
  }
};

void mlp_step(const bench::WorkerArgs& a) {
  MlpStep step;
  const Tensor x = leaf(static_cast<std::size_t>(bench::kMlpBatch * bench::kMlpIn), 7, -1, 1,
                        {bench::kMlpBatch, bench::kMlpIn}, false);
  const Tensor y = labels(bench::kMlpBatch, bench::kMlpOut, 8);
  bench::time_loop(a, [&] { step(x, y); });
}

void mlp_step_rss(const bench::WorkerArgs& a) {
  MlpStep step;
  const Tensor x = leaf(static_cast<std::size_t>(bench::kMlpBatch * bench::kMlpIn), 7, -1, 1,
                        {bench::kMlpBatch, bench::kMlpIn}, false);
  const Tensor y = labels(bench::kMlpBatch, bench::kMlpOut, 8);
  for (int i = 1; i <= a.steps; ++i) {
    step(x, y);
    bench::report_rss_step(i, a.steps);
  }
  std::printf("hwm_kib %ld\n", bench::peak_rss_kib());
}

void adam_step_10m(const bench::WorkerArgs& a) {
  Tensor p = leaf(static_cast<std::size_t>(bench::kAdamN), 1, -1, 1, {bench::kAdamN}, true);
  p.set_grad(leaf(static_cast<std::size_t>(bench::kAdamN), 2, -1, 1, {bench::kAdamN}, false));
  optim::Adam opt({p}, optim::AdamOptions(bench::kLr));
  bench::time_loop(a, [&] { opt.step(); });
}

void softmax_ce_b128(const bench::WorkerArgs& a) {
  const std::int64_t b = bench::kCeBatch, c = bench::kCeClasses;
  Tensor logits = leaf(static_cast<std::size_t>(b * c), 1, -3, 3, {b, c}, true);
  const Tensor target = labels(b, c, 2);
  bench::time_loop(a, [&] {
    logits.set_grad(Tensor());
    nn::functional::nll_loss(nn::functional::log_softmax(logits, 1), target).backward();
  });
}

void fashion_mlp_epoch(const bench::WorkerArgs& a) {
  auto train = std::make_shared<xgrad::data::FashionMNIST>(
      a.data, true, xgrad::data::FashionMNISTOptions().normalize().mean(bench::kFashionMean).stddev(bench::kFashionStd));
  xgrad::data::DataLoader loader(train, xgrad::data::DataLoaderOptions(bench::kMlpBatch).shuffle(true).seed(0));
  MlpStep step;
  double loss_sum = 0;  // read every step, like tutorial 06's loop
  int batches = 0;      // in the last epoch
  auto epoch = [&](int max_batches) {
    batches = 0;
    for (const auto& batch : loader) {
      loss_sum += step(batch.data.flatten(1), batch.target).item<float>();
      if (++batches == max_batches) break;  // max_batches 0: the whole epoch
    }
  };
  epoch(bench::kFashionWarmupBatches);
  bench::time_loop(a, [&] { epoch(a.max_batches); });
  if (!std::isfinite(loss_sum)) throw std::runtime_error("fashion_mlp_epoch: the loss diverged");
  std::printf("batches %d\n", batches);  // the driver's epoch_overhead divides by batches x mlp_step
}

void attention_b32(const bench::WorkerArgs& a) {
  const std::int64_t b = bench::kAttnBatch, h = bench::kAttnHeads, s = bench::kAttnSeq, d = bench::kAttnHeadDim;
  const std::int64_t m = bench::kAttnModel;
  const auto n = static_cast<std::size_t>(b * s * m);
  Tensor q = leaf(n, 1, -1, 1, {b, s, m}, true);
  Tensor k = leaf(n, 2, -1, 1, {b, s, m}, true);
  Tensor v = leaf(n, 3, -1, 1, {b, s, m}, true);
  const double scale = std::sqrt(static_cast<double>(d));
  bench::time_loop(a, [&] {
    for (const Tensor* t : {&q, &k, &v}) t->set_grad(Tensor());
    auto heads = [&](const Tensor& t) { return t.view({b, s, h, d}).permute({0, 2, 1, 3}); };
    const Tensor qh = heads(q), kh = heads(k), vh = heads(v);
    const Tensor scores = qh.matmul(kh.transpose(-2, -1)) / scale;
    const Tensor p = nn::functional::softmax(scores, -1);
    const Tensor out = p.matmul(vh);
    out.permute({0, 2, 1, 3}).reshape({b, s, m}).sum().backward();
  });
}

void unbind_rnn_t64(const bench::WorkerArgs& a) {
  const std::int64_t T = bench::kRnnSteps, b = bench::kRnnBatch, n = bench::kRnnHidden;
  const double bound = 1.0 / std::sqrt(static_cast<double>(n));
  Tensor x = leaf(static_cast<std::size_t>(T * b * n), 1, -1, 1, {T, b, n}, true);
  Tensor w = leaf(static_cast<std::size_t>(n * n), 2, -bound, bound, {n, n}, true);
  bench::time_loop(a, [&] {
    x.set_grad(Tensor());
    w.set_grad(Tensor());
    Tensor h = xgrad::zeros({b, n});
    for (const Tensor& xt : x.unbind(0)) h = (xt + h.matmul(w)).tanh();
    h.sum().backward();
  });
}

void topk_b128(const bench::WorkerArgs& a) {
  const std::int64_t r = bench::kTopkRows, c = bench::kTopkCols;
  const Tensor x = leaf(static_cast<std::size_t>(r * c), 1, -1, 1, {r, c}, false);
  bench::time_loop(a, [&] { auto [values, indices] = xgrad::topk(x, bench::kTopkK); });
}

void einsum_scores(const bench::WorkerArgs& a, bool use_einsum) {
  const Shape s{bench::kEinsumB, bench::kEinsumH, bench::kEinsumS, bench::kEinsumD};
  const auto n = static_cast<std::size_t>(xgrad::shape_numel(s));
  const Tensor q = leaf(n, 1, -1, 1, s, false);
  const Tensor k = leaf(n, 2, -1, 1, s, false);
  bench::time_loop(a, [&] {
    const Tensor scores = use_einsum ? xgrad::einsum("bhqd,bhkd->bhqk", {q, k}) : q.matmul(k.transpose(-2, -1));
  });
}

void sort_1m(const bench::WorkerArgs& a) {
  const Tensor x = leaf(static_cast<std::size_t>(bench::kSortN), 1, -1, 1, {bench::kSortN}, false);
  bench::time_loop(a, [&] { auto [values, indices] = xgrad::sort(x); });
}

/// Copies PyTorch-default-distributed values (bench::linear_init with fan_in = weight.numel() /
/// out) into a layer's weight and bias (if any), so both sides start from the same parameters.
void init_layer(Tensor& weight, Tensor& bias, std::uint64_t seed) {
  const std::int64_t out = weight.shape()[0];
  const auto init = bench::linear_init(weight.numel() / out, out, seed);
  xgrad::NoGradGuard no_grad;
  weight.copy_(xgrad::from_vector(init.weight, weight.shape()));
  if (bias.defined()) bias.copy_(xgrad::from_vector(init.bias, bias.shape()));
}

/// cnn_step's network; with `tutorial` set, tutorial 07's (convs without bias, each followed
/// by BatchNorm2d; dropout before the last fc).
std::shared_ptr<nn::Sequential> make_cnn(bool tutorial) {
  auto c1 = std::make_shared<nn::Conv2d>(nn::Conv2dOptions(1, bench::kCnnC1, {3}).padding(1).bias(!tutorial));
  auto c2 =
      std::make_shared<nn::Conv2d>(nn::Conv2dOptions(bench::kCnnC1, bench::kCnnC2, {3}).padding(1).bias(!tutorial));
  auto f1 = std::make_shared<nn::Linear>(bench::kCnnFlat, bench::kCnnHidden);
  auto f2 = std::make_shared<nn::Linear>(bench::kCnnHidden, 10);
  init_layer(c1->weight, c1->bias, 200);
  init_layer(c2->weight, c2->bias, 202);
  init_layer(f1->weight, f1->bias, 204);
  init_layer(f2->weight, f2->bias, 206);
  auto model = std::make_shared<nn::Sequential>();
  auto add = [&](const std::shared_ptr<nn::Module>& m) { model->push_back(m); };
  for (const auto& conv : {c1, c2}) {
    add(conv);
    if (tutorial) add(std::make_shared<nn::BatchNorm2d>(conv->options().out_channels_));
    add(std::make_shared<nn::ReLU>());
    add(std::make_shared<nn::MaxPool2d>(nn::MaxPool2dOptions(2)));
  }
  add(std::make_shared<nn::Flatten>());
  add(f1);
  add(std::make_shared<nn::ReLU>());
  if (tutorial) add(std::make_shared<nn::Dropout>(bench::kCnnDropout));
  add(f2);
  return model;
}

/// Reports the sgemm reference after the timed loop, for the driver's efficiency line.
void cnn_step(const bench::WorkerArgs& a) {
  auto model = make_cnn(false);
  optim::SGD opt(model->parameters(), optim::SGDOptions(bench::kCnnSgdLr).momentum(bench::kCnnSgdMomentum));
  const std::int64_t n = bench::kCnnBatch, s = bench::kCnnSide;
  const Tensor x = leaf(static_cast<std::size_t>(n * s * s), 9, -1, 1, {n, 1, s, s}, false);
  const Tensor y = labels(n, 10, 10);
  bench::time_loop(a, [&] {
    opt.zero_grad();
    nn::functional::cross_entropy(model->forward(x), y).backward();
    opt.step();
  });
  sgemm_reference(a.samples);
}

void conv_3x3_256(const bench::WorkerArgs& a) {
  const std::int64_t n = bench::kConvBatch, c = bench::kConvChannels, s = bench::kConvSide;
  Tensor x = leaf(static_cast<std::size_t>(n * c * s * s), 11, -1, 1, {n, c, s, s}, true);
  const double bound = 1.0 / std::sqrt(static_cast<double>(c * 9));
  Tensor w = leaf(static_cast<std::size_t>(c * c * 9), 12, -bound, bound, {c, c, 3, 3}, true);
  bench::time_loop(a, [&] {
    x.set_grad(Tensor());
    w.set_grad(Tensor());
    nn::functional::conv2d(x, w, Tensor(), {1}, 1).sum().backward();
  });
  sgemm_reference(a.samples);
}

void fashion_cnn_epoch(const bench::WorkerArgs& a) {
  auto train = std::make_shared<xgrad::data::FashionMNIST>(
      a.data, true, xgrad::data::FashionMNISTOptions().normalize().mean(bench::kFashionMean).stddev(bench::kFashionStd));
  xgrad::data::DataLoader loader(train, xgrad::data::DataLoaderOptions(bench::kCnnEpochBatch).shuffle(true).seed(0));
  auto model = make_cnn(true);
  optim::AdamW opt(model->parameters(), optim::AdamWOptions(bench::kLr));
  double loss_sum = 0;  // read every step, like the tutorial's loop
  int batches = 0;      // in the last epoch
  auto epoch = [&](int max_batches) {
    batches = 0;
    for (const auto& batch : loader) {
      opt.zero_grad();
      const Tensor loss = nn::functional::cross_entropy(model->forward(batch.data), batch.target);
      loss.backward();
      opt.step();
      loss_sum += loss.item<float>();
      if (++batches == max_batches) break;  // max_batches 0: the whole epoch
    }
  };
  epoch(bench::kFashionWarmupBatches);
  bench::time_loop(a, [&] { epoch(a.max_batches); });
  if (!std::isfinite(loss_sum)) throw std::runtime_error("fashion_cnn_epoch: the loss diverged");
  std::printf("batches %d\n", batches);
}

}  // namespace

/// The sequence-model workloads of issue 15 (xgrad_workloads_seq.cpp): runs `a.workload` if it
/// is one of them, else returns false.
bool run_xgrad_seq_workload(const bench::WorkerArgs& a);
/// The meta-learning workloads of issue 17 (xgrad_workloads_meta.cpp): runs `a.workload` if it
/// is one of them, else returns false.
bool run_xgrad_meta_workload(const bench::WorkerArgs& a);
/// The autodiff-toolkit workloads of issue 20 (xgrad_workloads_autodiff.cpp): runs `a.workload`
/// if it is one of them, else returns false.
bool run_xgrad_autodiff_workload(const bench::WorkerArgs& a);
/// The profiler workload of issue 16 (xgrad_workloads_profiler.cpp), likewise.
bool run_xgrad_profiler_workload(const bench::WorkerArgs& a);

int run_xgrad_worker(const bench::WorkerArgs& a) {
  try {
    xgrad::set_num_threads(a.threads);
    xgrad::manual_seed(0);
    const std::string& w = a.workload;
    if (w == "tiny_graph") tiny_graph(a);
    else if (w == "elementwise_4m") elementwise_4m(a);
    else if (w == "matmul_1024") matmul_1024(a);
    else if (w == "mlp_step") mlp_step(a);
    else if (w == bench::kRssWorkload) mlp_step_rss(a);
    else if (w == "adam_step_10m") adam_step_10m(a);
    else if (w == "softmax_ce_b128") softmax_ce_b128(a);
    else if (w == "fashion_mlp_epoch") fashion_mlp_epoch(a);
    else if (w == "attention_b32") attention_b32(a);
    else if (w == "unbind_rnn_t64") unbind_rnn_t64(a);
    else if (w == "topk_b128") topk_b128(a);
    else if (w == "sort_1m") sort_1m(a);
    else if (w == "einsum_attention") einsum_scores(a, true);
    else if (w == "einsum_attention_matmul") einsum_scores(a, false);
    else if (w == "cnn_step") cnn_step(a);
    else if (w == "conv_3x3_256") conv_3x3_256(a);
    else if (w == "fashion_cnn_epoch") fashion_cnn_epoch(a);
    else if (!run_xgrad_seq_workload(a) && !run_xgrad_meta_workload(a) && !run_xgrad_autodiff_workload(a) &&
             !run_xgrad_profiler_workload(a))
      throw std::runtime_error("unknown workload " + w);
  } catch (const std::exception& e) {
    std::printf("error %s\n", e.what());
    std::fflush(stdout);
    return 1;
  }
  std::fflush(stdout);
  return 0;
}
