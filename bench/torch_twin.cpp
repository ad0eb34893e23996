// xgrad_bench_torch: the libtorch twin of every workload of xgrad_bench (the xgrad side is
// bench/xgrad_workloads.cpp; each function here mirrors the one of the same name there: same
// shapes, same inputs from bench_common.hpp, same optimizer and data). It only runs as a
// worker started by xgrad_bench (`--worker NAME ...`, protocol in bench_common.hpp); all
// libtorch code lives in this one file because its headers are heavy.
#include <torch/torch.h>
#include <zlib.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench_common.hpp"

namespace {

torch::Tensor leaf(std::size_t n, std::uint64_t seed, double lo, double hi, at::IntArrayRef shape, bool requires_grad) {
  auto v = bench::uniform_floats(n, seed, lo, hi);
  return torch::from_blob(v.data(), shape, torch::kFloat32).clone().requires_grad_(requires_grad);
}

torch::Tensor labels(std::int64_t n, std::int64_t classes, std::uint64_t seed) {
  auto v = bench::labels(static_cast<std::size_t>(n), classes, seed);
  return torch::from_blob(v.data(), {n}, torch::kInt64).clone();
}

void tiny_graph(const bench::WorkerArgs& a) {
  torch::Tensor x = leaf(bench::kTinyN, 1, -1, 1, {bench::kTinyN}, true);
  torch::Tensor w = leaf(bench::kTinyN, 2, -1, 1, {bench::kTinyN}, true);
  torch::Tensor b = leaf(bench::kTinyN, 3, -1, 1, {bench::kTinyN}, true);
  bench::time_loop(a, [&] {
    for (torch::Tensor* t : {&x, &w, &b}) t->mutable_grad().reset();
    (x * w + b).tanh().mul(x).sum().backward();
  });
}

void elementwise_4m(const bench::WorkerArgs& a) {
  torch::Tensor x = leaf(bench::kElementwiseN, 1, -2, 2, {bench::kElementwiseN}, true);
  torch::Tensor y = leaf(bench::kElementwiseN, 2, -2, 2, {bench::kElementwiseN}, true);
  bench::time_loop(a, [&] {
    x.mutable_grad().reset();
    y.mutable_grad().reset();
    (x * y + x).sigmoid().sum().backward();
  });
}

void matmul_1024(const bench::WorkerArgs& a) {
  const std::int64_t n = bench::kMatmulN;
  const auto n2 = static_cast<std::size_t>(n * n);
  torch::Tensor x = leaf(n2, 1, -1, 1, {n, n}, false);
  torch::Tensor y = leaf(n2, 2, -1, 1, {n, n}, false);
  bench::time_loop(a, [&] { torch::Tensor z = x.matmul(y); });
}

torch::nn::Sequential make_mlp() {
  torch::nn::Linear l1(bench::kMlpIn, bench::kMlpH1), l2(bench::kMlpH1, bench::kMlpH2), l3(bench::kMlpH2, bench::kMlpOut);
  std::uint64_t seed = 100;
  {
    torch::NoGradGuard no_grad;
    for (auto* l : {&l1, &l2, &l3}) {
      const auto& opt = (*l)->options;
      auto init = bench::linear_init(opt.in_features(), opt.out_features(), seed);
      seed += 2;
      (*l)->weight.copy_(torch::from_blob(init.weight.data(), (*l)->weight.sizes(), torch::kFloat32));
      (*l)->bias.copy_(torch::from_blob(init.bias.data(), (*l)->bias.sizes(), torch::kFloat32));
    }
  }
  return torch::nn::Sequential(l1, torch::nn::ReLU(), l2, torch::nn::ReLU(), l3);
}

struct MlpStep {
  torch::nn::Sequential model = make_mlp();
  torch::optim::Adam opt{model->parameters(), torch::optim::AdamOptions(bench::kLr)};
  torch::Tensor operator()(const torch::Tensor& input, const torch::Tensor& target) {
    opt.zero_grad();
    torch::Tensor loss = torch::nn::functional::cross_entropy(model->forward(input), target);
    loss.backward();
    opt.step();
    return loss;
  }
};

void mlp_step(const bench::WorkerArgs& a) {
  MlpStep step;
  const torch::Tensor x = leaf(static_cast<std::size_t>(bench::kMlpBatch * bench::kMlpIn), 7, -1, 1,
                               {bench::kMlpBatch, bench::kMlpIn}, false);
  const torch::Tensor y = labels(bench::kMlpBatch, bench::kMlpOut, 8);
  bench::time_loop(a, [&] { step(x, y); });
}

void mlp_step_rss(const bench::WorkerArgs& a) {
  MlpStep step;
  const torch::Tensor x = leaf(static_cast<std::size_t>(bench::kMlpBatch * bench::kMlpIn), 7, -1, 1,
                               {bench::kMlpBatch, bench::kMlpIn}, false);
  const torch::Tensor y = labels(bench::kMlpBatch, bench::kMlpOut, 8);
  for (int i = 1; i <= a.steps; ++i) {
    step(x, y);
    bench::report_rss_step(i, a.steps);
  }
  std::printf("hwm_kib %ld\n", bench::peak_rss_kib());
}

void adam_step_10m(const bench::WorkerArgs& a) {
  torch::Tensor p = leaf(static_cast<std::size_t>(bench::kAdamN), 1, -1, 1, {bench::kAdamN}, true);
  p.mutable_grad() = leaf(static_cast<std::size_t>(bench::kAdamN), 2, -1, 1, {bench::kAdamN}, false);
  torch::optim::Adam opt({p}, torch::optim::AdamOptions(bench::kLr));
  bench::time_loop(a, [&] { opt.step(); });
}

void softmax_ce_b128(const bench::WorkerArgs& a) {
  const std::int64_t b = bench::kCeBatch, c = bench::kCeClasses;
  torch::Tensor logits = leaf(static_cast<std::size_t>(b * c), 1, -3, 3, {b, c}, true);
  const torch::Tensor target = labels(b, c, 2);
  bench::time_loop(a, [&] {
    logits.mutable_grad().reset();
    torch::nll_loss(torch::log_softmax(logits, 1), target).backward();
  });
}

/// An IDX file of unsigned bytes (plain or gzipped; zlib reads both) as a uint8 tensor.
torch::Tensor read_idx(const std::string& dir, const std::string& name) {
  std::string path = dir + "/" + name + ".gz";
  if (!std::filesystem::exists(path)) path = dir + "/" + name;
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) throw std::runtime_error("cannot open " + path);
  std::vector<unsigned char> bytes;
  unsigned char buf[1 << 16];
  int n = 0;
  while ((n = gzread(f, buf, sizeof buf)) > 0) bytes.insert(bytes.end(), buf, buf + n);
  gzclose(f);
  if (bytes.size() < 4 || bytes[0] != 0 || bytes[1] != 0 || bytes[2] != 8) throw std::runtime_error("bad IDX file " + path);
  const int dims = bytes[3];
  std::vector<std::int64_t> shape;
  std::size_t off = 4, count = 1;
  for (int d = 0; d < dims; ++d, off += 4) {
    if (off + 4 > bytes.size()) throw std::runtime_error("truncated IDX header in " + path);
    const std::int64_t s = (std::int64_t{bytes[off]} << 24) | (bytes[off + 1] << 16) | (bytes[off + 2] << 8) | bytes[off + 3];
    shape.push_back(s);
    count *= static_cast<std::size_t>(s);
  }
  if (bytes.size() != off + count) throw std::runtime_error("IDX file " + path + " has the wrong length");
  return torch::from_blob(bytes.data() + off, shape, torch::kUInt8).clone();
}

void fashion_mlp_epoch(const bench::WorkerArgs& a) {
  // The same tensors as xgrad's FashionMNIST(normalize, mean, std): (pixel / 255 - mean) / std.
  const torch::Tensor images =
      ((read_idx(a.data, "train-images-idx3-ubyte").to(torch::kFloat32) / 255.0 - bench::kFashionMean) /
       bench::kFashionStd)
          .reshape({-1, bench::kMlpIn})
          .contiguous();
  const torch::Tensor targets = read_idx(a.data, "train-labels-idx1-ubyte").to(torch::kInt64);
  const std::int64_t n = images.size(0);
  MlpStep step;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(0);
  double loss_sum = 0;  // read every step, like tutorial 06's loop
  auto epoch = [&](int max_batches) {
    const torch::Tensor order = torch::randperm(n, gen, torch::kInt64);
    int batches = 0;
    for (std::int64_t i = 0; i < n; i += bench::kMlpBatch) {
      const torch::Tensor idx = order.slice(0, i, std::min(n, i + bench::kMlpBatch));
      loss_sum += step(images.index_select(0, idx), targets.index_select(0, idx)).item<float>();
      if (max_batches > 0 && ++batches >= max_batches) break;
    }
  };
  epoch(bench::kFashionWarmupBatches);
  bench::time_loop(a, [&] { epoch(a.max_batches); });
  if (!std::isfinite(loss_sum)) throw std::runtime_error("fashion_mlp_epoch: the loss diverged");
}

void attention_b32(const bench::WorkerArgs& a) {
  const std::int64_t b = bench::kAttnBatch, h = bench::kAttnHeads, s = bench::kAttnSeq, d = bench::kAttnHeadDim;
  const std::int64_t m = bench::kAttnModel;
  const auto n = static_cast<std::size_t>(b * s * m);
  torch::Tensor q = leaf(n, 1, -1, 1, {b, s, m}, true);
  torch::Tensor k = leaf(n, 2, -1, 1, {b, s, m}, true);
  torch::Tensor v = leaf(n, 3, -1, 1, {b, s, m}, true);
  const double scale = std::sqrt(static_cast<double>(d));
  bench::time_loop(a, [&] {
    for (torch::Tensor* t : {&q, &k, &v}) t->mutable_grad().reset();
    auto heads = [&](const torch::Tensor& t) { return t.view({b, s, h, d}).permute({0, 2, 1, 3}); };
    const torch::Tensor qh = heads(q), kh = heads(k), vh = heads(v);
    const torch::Tensor scores = qh.matmul(kh.transpose(-2, -1)) / scale;
    const torch::Tensor p = torch::softmax(scores, -1);
    const torch::Tensor out = p.matmul(vh);
    out.permute({0, 2, 1, 3}).reshape({b, s, m}).sum().backward();
  });
}

void unbind_rnn_t64(const bench::WorkerArgs& a) {
  const std::int64_t T = bench::kRnnSteps, b = bench::kRnnBatch, n = bench::kRnnHidden;
  const double bound = 1.0 / std::sqrt(static_cast<double>(n));
  torch::Tensor x = leaf(static_cast<std::size_t>(T * b * n), 1, -1, 1, {T, b, n}, true);
  torch::Tensor w = leaf(static_cast<std::size_t>(n * n), 2, -bound, bound, {n, n}, true);
  bench::time_loop(a, [&] {
    x.mutable_grad().reset();
    w.mutable_grad().reset();
    torch::Tensor h = torch::zeros({b, n});
    for (const torch::Tensor& xt : x.unbind(0)) h = torch::tanh(xt + h.matmul(w));
    h.sum().backward();
  });
}

void topk_b128(const bench::WorkerArgs& a) {
  const std::int64_t r = bench::kTopkRows, c = bench::kTopkCols;
  const torch::Tensor x = leaf(static_cast<std::size_t>(r * c), 1, -1, 1, {r, c}, false);
  bench::time_loop(a, [&] { auto [values, indices] = torch::topk(x, bench::kTopkK); });
}

// torch::sort's default (stable = false); xgrad's sort is always stable.
void sort_1m(const bench::WorkerArgs& a) {
  const torch::Tensor x = leaf(static_cast<std::size_t>(bench::kSortN), 1, -1, 1, {bench::kSortN}, false);
  bench::time_loop(a, [&] { auto [values, indices] = torch::sort(x); });
}

void einsum_scores(const bench::WorkerArgs& a, bool use_einsum) {
  const std::vector<std::int64_t> s{bench::kEinsumB, bench::kEinsumH, bench::kEinsumS, bench::kEinsumD};
  const auto n = static_cast<std::size_t>(s[0] * s[1] * s[2] * s[3]);
  const torch::Tensor q = leaf(n, 1, -1, 1, s, false), k = leaf(n, 2, -1, 1, s, false);
  bench::time_loop(a, [&] {
    const torch::Tensor scores = use_einsum ? torch::einsum("bhqd,bhkd->bhqk", {q, k}) : q.matmul(k.transpose(-2, -1));
  });
}

/// The same values as xgrad_workloads.cpp's init_layer: bench::linear_init with fan_in =
/// weight.numel() / out.
void init_layer(torch::Tensor& weight, torch::Tensor& bias, std::uint64_t seed) {
  const std::int64_t out = weight.size(0);
  auto init = bench::linear_init(weight.numel() / out, out, seed);
  torch::NoGradGuard no_grad;
  weight.copy_(torch::from_blob(init.weight.data(), weight.sizes(), torch::kFloat32));
  if (bias.defined()) bias.copy_(torch::from_blob(init.bias.data(), bias.sizes(), torch::kFloat32));
}

/// cnn_step's network; with `tutorial` set, tutorial 07's (convs without bias, each followed
/// by BatchNorm2d; dropout before the last fc).
torch::nn::Sequential make_cnn(bool tutorial) {
  namespace tnn = torch::nn;
  tnn::Conv2d c1(tnn::Conv2dOptions(1, bench::kCnnC1, 3).padding(1).bias(!tutorial));
  tnn::Conv2d c2(tnn::Conv2dOptions(bench::kCnnC1, bench::kCnnC2, 3).padding(1).bias(!tutorial));
  tnn::Linear f1(bench::kCnnFlat, bench::kCnnHidden), f2(bench::kCnnHidden, 10);
  init_layer(c1->weight, c1->bias, 200);
  init_layer(c2->weight, c2->bias, 202);
  init_layer(f1->weight, f1->bias, 204);
  init_layer(f2->weight, f2->bias, 206);
  tnn::Sequential model;
  for (tnn::Conv2d* conv : {&c1, &c2}) {
    model->push_back(*conv);
    if (tutorial) model->push_back(tnn::BatchNorm2d((*conv)->options.out_channels()));
    model->push_back(tnn::ReLU());
    model->push_back(tnn::MaxPool2d(tnn::MaxPool2dOptions(2)));
  }
  model->push_back(tnn::Flatten());
  model->push_back(f1);
  model->push_back(tnn::ReLU());
  if (tutorial) model->push_back(tnn::Dropout(bench::kCnnDropout));
  model->push_back(f2);
  return model;
}

void cnn_step(const bench::WorkerArgs& a) {
  torch::nn::Sequential model = make_cnn(false);
  torch::optim::SGD opt(model->parameters(),
                        torch::optim::SGDOptions(bench::kCnnSgdLr).momentum(bench::kCnnSgdMomentum));
  const std::int64_t n = bench::kCnnBatch, s = bench::kCnnSide;
  const torch::Tensor x = leaf(static_cast<std::size_t>(n * s * s), 9, -1, 1, {n, 1, s, s}, false);
  const torch::Tensor y = labels(n, 10, 10);
  bench::time_loop(a, [&] {
    opt.zero_grad();
    torch::nn::functional::cross_entropy(model->forward(x), y).backward();
    opt.step();
  });
}

void conv_3x3_256(const bench::WorkerArgs& a) {
  const std::int64_t n = bench::kConvBatch, c = bench::kConvChannels, s = bench::kConvSide;
  torch::Tensor x = leaf(static_cast<std::size_t>(n * c * s * s), 11, -1, 1, {n, c, s, s}, true);
  const double bound = 1.0 / std::sqrt(static_cast<double>(c * 9));
  torch::Tensor w = leaf(static_cast<std::size_t>(c * c * 9), 12, -bound, bound, {c, c, 3, 3}, true);
  bench::time_loop(a, [&] {
    x.mutable_grad().reset();
    w.mutable_grad().reset();
    torch::conv2d(x, w, {}, 1, 1).sum().backward();
  });
}

void fashion_cnn_epoch(const bench::WorkerArgs& a) {
  const torch::Tensor images =
      ((read_idx(a.data, "train-images-idx3-ubyte").to(torch::kFloat32) / 255.0 - bench::kFashionMean) /
       bench::kFashionStd)
          .reshape({-1, 1, bench::kCnnSide, bench::kCnnSide})
          .contiguous();
  const torch::Tensor targets = read_idx(a.data, "train-labels-idx1-ubyte").to(torch::kInt64);
  const std::int64_t n = images.size(0);
  torch::nn::Sequential model = make_cnn(true);
  torch::optim::AdamW opt(model->parameters(), torch::optim::AdamWOptions(bench::kLr));
  auto gen = at::make_generator<at::CPUGeneratorImpl>(0);
  double loss_sum = 0;
  auto epoch = [&](int max_batches) {
    const torch::Tensor order = torch::randperm(n, gen, torch::kInt64);
    int batches = 0;
    for (std::int64_t i = 0; i < n; i += bench::kCnnEpochBatch) {
      const torch::Tensor idx = order.slice(0, i, std::min(n, i + bench::kCnnEpochBatch));
      opt.zero_grad();
      torch::Tensor loss =
          torch::nn::functional::cross_entropy(model->forward(images.index_select(0, idx)), targets.index_select(0, idx));
      loss.backward();
      opt.step();
      loss_sum += loss.item<float>();
      if (max_batches > 0 && ++batches >= max_batches) break;
    }
  };
  epoch(bench::kFashionWarmupBatches);
  bench::time_loop(a, [&] { epoch(a.max_batches); });
  if (!std::isfinite(loss_sum)) throw std::runtime_error("fashion_cnn_epoch: the loss diverged");
}

// ---- sequence models (issue 15) ---------------------------------------------------------------

/// Fills every parameter of `m` with bench::named_init(prefix + name): the same values as the
/// xgrad side wherever the two frameworks name a parameter alike. `bound`: see named_init.
void init_named(torch::nn::Module& m, const std::string& prefix, double bound = 0) {
  torch::NoGradGuard no_grad;
  for (auto& p : m.named_parameters()) {
    auto v = bench::named_init(prefix + p.key(), p.value().sizes().vec(), bound);
    p.value().copy_(torch::from_blob(v.data(), p.value().sizes(), torch::kFloat32));
  }
}

/// Next-token data, time-major: inputs [T, B] and targets [T * B] (the inputs shifted by one
/// step), from one stream of (T + 1) x B tokens.
std::pair<torch::Tensor, torch::Tensor> next_token_batch(std::int64_t T, std::int64_t B, std::uint64_t seed) {
  auto v = bench::labels(static_cast<std::size_t>((T + 1) * B), bench::kSeqVocab, seed);
  const torch::Tensor tokens = torch::from_blob(v.data(), {T + 1, B}, torch::kInt64).clone();
  return {tokens.slice(0, 0, T).contiguous(), tokens.slice(0, 1, T + 1).reshape({-1}).contiguous()};
}

std::vector<torch::Tensor> concat_parameters(std::initializer_list<const torch::nn::Module*> modules) {
  std::vector<torch::Tensor> all;
  for (const auto* m : modules) {
    auto p = m->parameters();
    all.insert(all.end(), p.begin(), p.end());
  }
  return all;
}

/// Runs one training step per call; prints the first step's loss as a note (the two sides
/// start from the same weights and data, so their first losses should agree to ~1e-5).
template <class Forward, class Optimizer>
void train_loop(const bench::WorkerArgs& a, Optimizer& opt, Forward&& forward) {
  bool first = true;
  bench::time_loop(a, [&] {
    opt.zero_grad();
    torch::Tensor loss = forward();
    loss.backward();
    opt.step();
    if (first) {
      std::printf("note first_loss %.6f\n", loss.item<float>());
      first = false;
    }
  });
}

void lstm_step(const bench::WorkerArgs& a) {
  namespace tnn = torch::nn;
  tnn::Embedding embed(bench::kSeqVocab, bench::kLstmEmbed);
  tnn::LSTM lstm(tnn::LSTMOptions(bench::kLstmEmbed, bench::kLstmHidden).num_layers(bench::kLstmLayers));
  tnn::Linear head(bench::kLstmHidden, bench::kSeqVocab);
  init_named(*embed, "embed.", 1.0);
  init_named(*lstm, "lstm.");
  init_named(*head, "head.");
  torch::optim::Adam opt(concat_parameters({embed.get(), lstm.get(), head.get()}), torch::optim::AdamOptions(bench::kLr));
  const auto [x, y] = next_token_batch(bench::kLstmSeq, bench::kLstmBatch, 21);
  train_loop(a, opt, [&, &x = x, &y = y] {
    const torch::Tensor out = std::get<0>(lstm->forward(embed->forward(x)));
    return torch::nn::functional::cross_entropy(head->forward(out).reshape({-1, bench::kSeqVocab}), y);
  });
}

void transformer_step(const bench::WorkerArgs& a) {
  namespace tnn = torch::nn;
  tnn::Embedding embed(bench::kSeqVocab, bench::kTfModel);
  tnn::TransformerEncoderLayer layer(tnn::TransformerEncoderLayerOptions(bench::kTfModel, bench::kTfHeads)
                                         .dim_feedforward(bench::kTfFeedforward)
                                         .dropout(bench::kTransformerDropout));
  tnn::TransformerEncoder encoder(tnn::TransformerEncoderOptions(layer, bench::kTfLayers));
  tnn::Linear head(bench::kTfModel, bench::kSeqVocab);
  init_named(*embed, "embed.", 1.0);
  init_named(*encoder, "encoder.");
  init_named(*head, "head.");
  torch::optim::AdamW opt(concat_parameters({embed.get(), encoder.get(), head.get()}),
                          torch::optim::AdamWOptions(bench::kLr));
  const torch::Tensor mask = tnn::TransformerImpl::generate_square_subsequent_mask(bench::kTfSeq);
  const auto [x, y] = next_token_batch(bench::kTfSeq, bench::kTfBatch, 22);
  train_loop(a, opt, [&, &x = x, &y = y] {
    const torch::Tensor h = encoder->forward(embed->forward(x), mask);
    return torch::nn::functional::cross_entropy(head->forward(h).reshape({-1, bench::kSeqVocab}), y);
  });
}

/// libtorch 1.13 has no scaled_dot_product_attention: the plain formula with autograd,
/// softmax(q k^T / 8 + M) v, M the causal mask (-inf above the diagonal, made once before the
/// base RSS reading, so it counts in neither the time nor the RSS growth).
void sdpa_long(const bench::WorkerArgs& a) {
  const std::int64_t L = bench::kSdpaSeq, d = bench::kSdpaHeadDim;
  const std::vector<std::int64_t> shape{bench::kSdpaBatch, bench::kSdpaHeads, L, d};
  const auto n = static_cast<std::size_t>(bench::kSdpaBatch * bench::kSdpaHeads * L * d);
  torch::Tensor q = leaf(n, 31, -1, 1, shape, true);
  torch::Tensor k = leaf(n, 32, -1, 1, shape, true);
  torch::Tensor v = leaf(n, 33, -1, 1, shape, true);
  const torch::Tensor mask = torch::full({L, L}, -std::numeric_limits<float>::infinity()).triu(1);
  const double scale = std::sqrt(static_cast<double>(d));
  bench::report_rss_base();
  bench::time_loop(a, [&] {
    for (torch::Tensor* t : {&q, &k, &v}) t->mutable_grad().reset();
    const torch::Tensor p = torch::softmax(q.matmul(k.transpose(-2, -1)) / scale + mask, -1);
    p.matmul(v).sum().backward();
  });
  bench::report_rss_peak();
}

int run(const bench::WorkerArgs& a) {
  torch::set_num_threads(a.threads);
  torch::manual_seed(0);
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
  else if (w == "lstm_step") lstm_step(a);
  else if (w == "transformer_step") transformer_step(a);
  else if (w == "sdpa_long") sdpa_long(a);
  else throw std::runtime_error("unknown workload " + w);
  std::fflush(stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc < 2 || std::string(argv[1]) != "--worker")
      throw std::runtime_error("xgrad_bench_torch is started by xgrad_bench (usage: --worker NAME --threads N ...)");
    return run(bench::parse_worker_args(argc, argv));
  } catch (const std::exception& e) {
    std::printf("error %s\n", e.what());
    std::fflush(stdout);
    return 1;
  }
}
