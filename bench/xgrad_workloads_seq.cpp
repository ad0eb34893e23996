// The xgrad side of the sequence-model workloads of issue 15 (lstm_step, transformer_step,
// sdpa_long), run by `xgrad_bench --worker NAME ...` through run_xgrad_worker. Each mirrors
// the function of the same name in torch_twin.cpp: same shapes, same data, and the same
// initial weights (bench::named_init, keyed by PyTorch's parameter names, which xgrad's
// modules share).
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bench_common.hpp"
#include "xgrad/nn/attention.hpp"
#include "xgrad/nn/rnn.hpp"
#include "xgrad/nn/transformer.hpp"
#include "xgrad/xgrad.hpp"
#include "xgrad_worker.hpp"

namespace nn = xgrad::nn;
namespace optim = xgrad::optim;
using xgrad::Shape;
using xgrad::Tensor;

namespace {

/// Fills every parameter of `m` with bench::named_init(prefix + name), as the twin does.
void init_named(const nn::Module& m, const std::string& prefix, double bound = 0) {
  xgrad::NoGradGuard no_grad;
  for (auto& [name, p] : m.named_parameters()) {
    Tensor t = p;
    t.copy_(xgrad::from_vector(bench::named_init(prefix + name, p.shape(), bound), p.shape()));
  }
}

/// Next-token data, time-major: inputs [T, B] and targets [T * B] (the inputs shifted by one
/// step), from one stream of (T + 1) x B tokens.
std::pair<Tensor, Tensor> next_token_batch(std::int64_t T, std::int64_t B, std::uint64_t seed) {
  const Tensor tokens = xgrad::from_vector(
      bench::labels(static_cast<std::size_t>((T + 1) * B), bench::kSeqVocab, seed), Shape{T + 1, B});
  return {tokens.narrow(0, 0, T).contiguous(), tokens.narrow(0, 1, T).reshape({-1}).contiguous()};
}

std::vector<Tensor> concat_parameters(std::initializer_list<const nn::Module*> modules) {
  std::vector<Tensor> all;
  for (const auto* m : modules) {
    auto p = m->parameters();
    all.insert(all.end(), p.begin(), p.end());
  }
  return all;
}

/// One training step per call; prints the first step's loss as a note (the twin prints its
/// own: from the same weights and data they should agree to ~1e-5).
template <class Forward, class Optimizer>
void train_loop(const bench::WorkerArgs& a, Optimizer& opt, Forward&& forward) {
  bool first = true;
  bench::time_loop(a, [&] {
    opt.zero_grad();
    const Tensor loss = forward();
    loss.backward();
    opt.step();
    if (first) {
      std::printf("note first_loss %.6f\n", loss.item<float>());
      first = false;
    }
  });
}

void lstm_step(const bench::WorkerArgs& a) {
  nn::Embedding embed(bench::kSeqVocab, bench::kLstmEmbed);
  nn::LSTM lstm(nn::LSTMOptions(bench::kLstmEmbed, bench::kLstmHidden).num_layers(bench::kLstmLayers));
  nn::Linear head(bench::kLstmHidden, bench::kSeqVocab);
  init_named(embed, "embed.", 1.0);
  init_named(lstm, "lstm.");
  init_named(head, "head.");
  optim::Adam opt(concat_parameters({&embed, &lstm, &head}), optim::AdamOptions(bench::kLr));
  const auto [x, y] = next_token_batch(bench::kLstmSeq, bench::kLstmBatch, 21);
  train_loop(a, opt, [&, &x = x, &y = y] {
    const Tensor out = std::get<0>(lstm.forward(embed.forward(x)));
    return nn::functional::cross_entropy(head.forward(out).reshape({-1, bench::kSeqVocab}), y);
  });
}

void transformer_step(const bench::WorkerArgs& a) {
  nn::Embedding embed(bench::kSeqVocab, bench::kTfModel);
  auto layer = std::make_shared<nn::TransformerEncoderLayer>(
      nn::TransformerEncoderLayerOptions(bench::kTfModel, bench::kTfHeads)
          .dim_feedforward(bench::kTfFeedforward)
          .dropout(bench::kTransformerDropout));
  nn::TransformerEncoder encoder(layer, bench::kTfLayers);
  nn::Linear head(bench::kTfModel, bench::kSeqVocab);
  init_named(embed, "embed.", 1.0);
  init_named(encoder, "encoder.");
  init_named(head, "head.");
  optim::AdamW opt(concat_parameters({&embed, &encoder, &head}), optim::AdamWOptions(bench::kLr));
  const Tensor mask = nn::Transformer::generate_square_subsequent_mask(bench::kTfSeq);
  const auto [x, y] = next_token_batch(bench::kTfSeq, bench::kTfBatch, 22);
  train_loop(a, opt, [&, &x = x, &y = y] {
    const Tensor h = encoder.forward(embed.forward(x), mask);
    return nn::functional::cross_entropy(head.forward(h).reshape({-1, bench::kSeqVocab}), y);
  });
}

/// The library's scaled_dot_product_attention with is_causal (its automatic backend choice);
/// the twin runs the plain formula. Reports the RSS before the first iteration and the peak
/// after the last (bench::report_rss_base / report_rss_peak).
void sdpa_long(const bench::WorkerArgs& a) {
  const Shape shape{bench::kSdpaBatch, bench::kSdpaHeads, bench::kSdpaSeq, bench::kSdpaHeadDim};
  const auto n = static_cast<std::size_t>(xgrad::shape_numel(shape));
  Tensor q = xgrad::from_vector(bench::uniform_floats(n, 31, -1, 1), shape, true);
  Tensor k = xgrad::from_vector(bench::uniform_floats(n, 32, -1, 1), shape, true);
  Tensor v = xgrad::from_vector(bench::uniform_floats(n, 33, -1, 1), shape, true);
  bench::report_rss_base();
  bench::time_loop(a, [&] {
    for (const Tensor* t : {&q, &k, &v}) t->set_grad(Tensor());
    nn::functional::scaled_dot_product_attention(q, k, v, Tensor(), 0.0, /*is_causal=*/true).sum().backward();
  });
  bench::report_rss_peak();
}

}  // namespace

/// Runs `a.workload` if it is one of this file's; false otherwise (declared in
/// xgrad_workloads.cpp, which dispatches every workload).
bool run_xgrad_seq_workload(const bench::WorkerArgs& a);
bool run_xgrad_seq_workload(const bench::WorkerArgs& a) {
  const std::string& w = a.workload;
  if (w == "lstm_step") lstm_step(a);
  else if (w == "transformer_step") transformer_step(a);
  else if (w == "sdpa_long") sdpa_long(a);
  else return false;
  return true;
}
