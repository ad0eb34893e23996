// Shared by xgrad_bench (the driver and the xgrad worker) and xgrad_bench_torch (the libtorch
// worker): the workload list, the worker command line, the timing loop, memory readings and
// the deterministic data both sides train on. Standard library only, C++17 (the twin is
// compiled against libtorch's headers as C++17), so the two executables share no framework.
//
// Worker protocol. The driver starts `<exe> --worker NAME --threads N --samples S --inner I
// --warmup W [--steps K] [--max-batches B] [--data DIR]`; the worker runs W untimed
// iterations, then S samples of I iterations each, and prints one line per sample,
// `sample <seconds per iteration>`, flushed as it goes. Optional extra lines: `ref <seconds>`
// (matmul_1024, cnn_step, conv_3x3_256: a raw single-thread cblas_sgemm of the 1024^3 product), `rss_kib <step> <KiB>`
// and `hwm_kib <KiB>` (the mlp_step_rss loop; sdpa_long: `rss_base_kib <KiB>` before its first
// iteration and `hwm_kib <KiB>` after the last), `batches <n>` (fashion_mlp_epoch,
// fashion_cnn_epoch: batches in a timed epoch), `heap_peak_kib <KiB>` and `heap_fwd_kib <KiB>`
// (checkpoint_mlp32*: the peak heap growth of one step and the growth at the end of its
// forward, mallinfo2), `note <text>`. A worker that fails prints `error <message>` and exits with
// status 1.
#pragma once

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <sys/resource.h>

namespace bench {

enum class Unit { ms, us };

/// One workload and its full-mode iteration counts (per worker process; the driver starts
/// --repeat processes per side and takes the median over all their samples).
struct WorkloadSpec {
  const char* name;
  Unit unit;
  int samples;  ///< timed samples per worker process
  int inner;    ///< iterations per sample (the sample is their mean)
  int warmup;   ///< untimed iterations first
};

inline constexpr WorkloadSpec kWorkloads[] = {
    {"tiny_graph", Unit::us, 30, 300, 1000},
    {"tiny_graph_profiled", Unit::us, 30, 300, 1000},  // xgrad only (issue 16): a Profiler records
    {"elementwise_4m", Unit::ms, 8, 1, 2},
    {"matmul_1024", Unit::ms, 8, 1, 2},
    {"mlp_step", Unit::ms, 25, 1, 5},
    {"adam_step_10m", Unit::ms, 8, 1, 2},
    {"softmax_ce_b128", Unit::ms, 30, 10, 20},
    {"fashion_mlp_epoch", Unit::ms, 1, 1, 0},  // warm-up: the worker's first few batches
    {"attention_b32", Unit::ms, 20, 1, 5},
    {"unbind_rnn_t64", Unit::ms, 15, 1, 3},
    {"topk_b128", Unit::ms, 30, 10, 20},
    {"sort_1m", Unit::ms, 15, 1, 3},
    {"einsum_attention", Unit::us, 30, 20, 20},
    {"einsum_attention_matmul", Unit::us, 30, 20, 20},
    {"cnn_step", Unit::ms, 15, 1, 3},
    {"conv_3x3_256", Unit::ms, 10, 1, 2},
    {"fashion_cnn_epoch", Unit::ms, 1, 1, 0},  // warm-up: the worker's first few batches
    {"lstm_step", Unit::ms, 15, 1, 3},
    {"transformer_step", Unit::ms, 10, 1, 2},
    {"sdpa_long", Unit::ms, 5, 1, 1},
    // xgrad only (no libtorch twin: libtorch has no functional optimizers): the InnerLoop
    // against the same computation written by hand with autograd::grad.
    {"maml_outer_step", Unit::ms, 15, 1, 3},
    {"maml_outer_step_manual", Unit::ms, 15, 1, 3},
    // xgrad only (issue 20; libtorch's C++ API has no functional jacobian or checkpoint): the
    // vectorised Jacobian against the looped one, checkpoint_sequential against the plain step.
    {"jacobian_vectorized", Unit::ms, 15, 1, 3},
    {"jacobian_looped", Unit::ms, 15, 1, 3},
    {"checkpoint_mlp32", Unit::ms, 15, 1, 3},
    {"checkpoint_mlp32_plain", Unit::ms, 15, 1, 3},
};

/// The peak-memory loop: mlp_step repeated --steps times (not a timed workload).
inline constexpr const char* kRssWorkload = "mlp_step_rss";

// Shapes shared by both sides.
inline constexpr std::int64_t kTinyN = 4;
inline constexpr std::int64_t kElementwiseN = 4 * 1024 * 1024;
inline constexpr std::int64_t kMatmulN = 1024;
inline constexpr std::int64_t kMlpIn = 784, kMlpH1 = 512, kMlpH2 = 256, kMlpOut = 10, kMlpBatch = 128;
inline constexpr std::int64_t kAdamN = 10 * 1000 * 1000;
inline constexpr std::int64_t kCeBatch = 128, kCeClasses = 1000;
// attention_b32: q, k, v [batch, seq, heads * head_dim], heads split by view + permute.
inline constexpr std::int64_t kAttnBatch = 32, kAttnHeads = 4, kAttnSeq = 64, kAttnHeadDim = 32;
inline constexpr std::int64_t kAttnModel = kAttnHeads * kAttnHeadDim;  // 128
// unbind_rnn_t64: x [steps, batch, hidden] unbound along dim 0, h = tanh(x_t + h W), W [hidden, hidden].
inline constexpr std::int64_t kRnnSteps = 64, kRnnBatch = 32, kRnnHidden = 256;
// topk_b128: the 5 largest of each row of x [128, 10000] (scores over a vocabulary).
inline constexpr std::int64_t kTopkRows = 128, kTopkCols = 10000, kTopkK = 5;
// sort_1m: x [1000000] sorted ascending (values and indices).
inline constexpr std::int64_t kSortN = 1000000;
// einsum_attention: einsum("bhqd,bhkd->bhqk", q, k) on q, k [32, 4, 64, 32] (forward);
// einsum_attention_matmul: the same scores as q.matmul(k.transpose(-2, -1)).
inline constexpr std::int64_t kEinsumB = 32, kEinsumH = 4, kEinsumS = 64, kEinsumD = 32;
// cnn_step: conv(1->32, 3x3, pad 1)-ReLU-maxpool 2-conv(32->64, 3x3, pad 1)-ReLU-maxpool 2-
// flatten-fc(3136->128)-ReLU-fc(128->10) on [64, 1, 28, 28], SGD lr 0.01 momentum 0.9.
inline constexpr std::int64_t kCnnBatch = 64, kCnnSide = 28, kCnnC1 = 32, kCnnC2 = 64, kCnnHidden = 128;
inline constexpr std::int64_t kCnnFlat = kCnnC2 * (kCnnSide / 4) * (kCnnSide / 4);  // 3136
inline constexpr double kCnnSgdLr = 0.01, kCnnSgdMomentum = 0.9;
// fashion_cnn_epoch: tutorial 07's model (the cnn_step network with BatchNorm2d after each
// conv, whose bias it makes redundant, and dropout 0.1 before the last fc), AdamW lr 1e-3,
// batch 128, no augmentation (the twin has no per-sample transforms).
inline constexpr std::int64_t kCnnEpochBatch = 128;
inline constexpr double kCnnDropout = 0.1;
// conv_3x3_256: conv2d [16, 256, 14, 14] -> 256 channels, 3x3, pad 1 (a ResNet stage-3
// block), input and weight requiring grad; forward + backward of sum().
inline constexpr std::int64_t kConvBatch = 16, kConvChannels = 256, kConvSide = 14;
// Sequence models (issue 15). Both models are sequence-first ([T, B, ...]: libtorch 1.13's
// TransformerEncoderLayer has no batch_first) and trained on next-token targets over a
// vocabulary of kSeqVocab with cross-entropy over all T x B positions.
// lstm_step: Embedding(96, 128) -> 2-layer LSTM(128 -> 256) -> Linear(256, 96), tokens
// [35, 32], Adam lr 1e-3.
inline constexpr std::int64_t kSeqVocab = 96, kLstmEmbed = 128, kLstmHidden = 256, kLstmLayers = 2;
inline constexpr std::int64_t kLstmSeq = 35, kLstmBatch = 32;
// transformer_step: Embedding(96, 128) -> 2 TransformerEncoderLayer(d_model 128, 4 heads, ff
// 512, ReLU, post-norm, dropout kTransformerDropout) with the float causal mask of
// generate_square_subsequent_mask(128) -> Linear(128, 96), tokens [128, 32], AdamW lr 1e-3
// (weight decay 0.01, both frameworks' default).
inline constexpr std::int64_t kTfModel = 128, kTfHeads = 4, kTfFeedforward = 512, kTfLayers = 2;
inline constexpr std::int64_t kTfSeq = 128, kTfBatch = 32;
inline constexpr double kTransformerDropout = 0.0;  // deterministic: both sides compute the same loss
// sdpa_long: scaled_dot_product_attention(q, k, v, is_causal) forward + backward of out.sum(),
// q, k, v [1, 4, 4096, 64] float32 requiring grad (scale 1/sqrt(64) = 1/8).
inline constexpr std::int64_t kSdpaBatch = 1, kSdpaHeads = 4, kSdpaSeq = 4096, kSdpaHeadDim = 64;
inline constexpr double kLr = 1e-3;  // Adam, default betas (0.9, 0.999) and eps 1e-8, both sides
inline constexpr double kFashionMean = 0.2860, kFashionStd = 0.3530;  // x = (pixel / 255 - mean) / std
inline constexpr int kFashionWarmupBatches = 5;

inline double flops_matmul() { return 2.0 * static_cast<double>(kMatmulN) * kMatmulN * kMatmulN; }

/// Multiply-adds of a convolution's forward: N x Cout x (output pixels) x Cin x K x K.
inline double conv_macs(double n, double cin, double cout, double pixels, double k) {
  return n * cout * pixels * cin * k * k;
}
/// FLOPs (2 per multiply-add) of the products of one cnn_step: every layer's forward, its
/// weight gradient (as many as the forward) and its input gradient (likewise, except for the
/// first conv, whose input needs none). Bias, ReLU, pooling, loss and SGD are not counted.
inline double flops_cnn_step() {
  const double n = kCnnBatch, s = kCnnSide;
  const double conv1 = conv_macs(n, 1, kCnnC1, s * s, 3);
  const double conv2 = conv_macs(n, kCnnC1, kCnnC2, (s / 2) * (s / 2), 3);
  const double fc = n * (kCnnFlat * kCnnHidden + kCnnHidden * 10.0);
  return 2.0 * (2 * conv1 + 3 * conv2 + 3 * fc);
}
/// FLOPs of conv_3x3_256: forward, input gradient and weight gradient, each one product.
inline double flops_conv_3x3_256() {
  return 2.0 * 3 * conv_macs(kConvBatch, kConvChannels, kConvChannels, kConvSide * kConvSide, 3);
}

// ---- worker command line ------------------------------------------------------------------

struct WorkerArgs {
  std::string workload;
  int threads = 1;
  int samples = 1;
  int inner = 1;
  int warmup = 0;
  int steps = 1000;        ///< mlp_step_rss: loop length
  int max_batches = 0;     ///< fashion_*_epoch: 0 = the whole epoch
  std::string data;        ///< fashion_*_epoch: directory of the IDX files
};

/// Parses the worker flags (argv[1] == "--worker"). Throws std::runtime_error on a bad flag.
inline WorkerArgs parse_worker_args(int argc, char** argv) {
  WorkerArgs a;
  auto int_of = [](const std::string& flag, const char* v) {
    char* end = nullptr;
    const long x = std::strtol(v, &end, 10);
    if (end == v || *end != '\0' || x < 0 || x > 1000000000) throw std::runtime_error("bad value for " + flag + ": " + v);
    return static_cast<int>(x);
  };
  for (int i = 1; i < argc; ++i) {
    const std::string f = argv[i];
    if (i + 1 >= argc) throw std::runtime_error("missing value after " + f);
    const char* v = argv[++i];
    if (f == "--worker") a.workload = v;
    else if (f == "--threads") a.threads = int_of(f, v);
    else if (f == "--samples") a.samples = int_of(f, v);
    else if (f == "--inner") a.inner = int_of(f, v);
    else if (f == "--warmup") a.warmup = int_of(f, v);
    else if (f == "--steps") a.steps = int_of(f, v);
    else if (f == "--max-batches") a.max_batches = int_of(f, v);
    else if (f == "--data") a.data = v;
    else throw std::runtime_error("unknown worker flag " + f);
  }
  if (a.threads < 1) throw std::runtime_error("--threads must be >= 1");
  if (a.inner < 1) throw std::runtime_error("--inner must be >= 1");
  return a;
}

// ---- timing --------------------------------------------------------------------------------

/// Runs `step` a.warmup times, then a.samples samples of a.inner calls, printing
/// `sample <seconds per call>` for each.
template <class Step>
void time_loop(const WorkerArgs& a, Step&& step) {
  using clock = std::chrono::steady_clock;
  for (int i = 0; i < a.warmup; ++i) step();
  for (int s = 0; s < a.samples; ++s) {
    const auto t0 = clock::now();
    for (int i = 0; i < a.inner; ++i) step();
    const std::chrono::duration<double> dt = clock::now() - t0;
    std::printf("sample %.9e\n", dt.count() / a.inner);
    std::fflush(stdout);
  }
}

// ---- memory --------------------------------------------------------------------------------

/// A "VmRSS"/"VmHWM"-style field of /proc/self/status in KiB (-1 when unavailable).
inline long proc_status_kib(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.compare(0, field.size() + 1, field + ":") == 0) return std::strtol(line.c_str() + field.size() + 1, nullptr, 10);
  return -1;
}

inline long current_rss_kib() { return proc_status_kib("VmRSS"); }

/// Peak resident set size in KiB: VmHWM, or getrusage's ru_maxrss where /proc is missing.
inline long peak_rss_kib() {
  const long hwm = proc_status_kib("VmHWM");
  if (hwm >= 0) return hwm;
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

/// The mlp_step_rss report lines: RSS at step steps/10 and at the end, then the peak.
inline void report_rss_step(int step, int steps) {
  if (step == steps / 10 || step == steps) {
    std::printf("rss_kib %d %ld\n", step, current_rss_kib());
    std::fflush(stdout);
  }
}

// ---- deterministic data (identical on both sides) -----------------------------------------

/// splitmix64: a tiny generator, so both executables produce bit-identical inputs.
class SplitMix {
 public:
  explicit SplitMix(std::uint64_t seed) : s_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (s_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, 1).
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  std::uint64_t s_;
};

/// n floats uniform in [lo, hi).
inline std::vector<float> uniform_floats(std::size_t n, std::uint64_t seed, double lo, double hi) {
  SplitMix g(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>(lo + (hi - lo) * g.uniform());
  return v;
}

/// n class labels in [0, classes).
inline std::vector<std::int64_t> labels(std::size_t n, std::int64_t classes, std::uint64_t seed) {
  SplitMix g(seed);
  std::vector<std::int64_t> v(n);
  for (auto& x : v) x = static_cast<std::int64_t>(g.next() % static_cast<std::uint64_t>(classes));
  return v;
}

/// Initial values of one Linear layer [out, in] + [out], from PyTorch's default distribution
/// (weight and bias U(-1/sqrt(in), 1/sqrt(in))), copied into both frameworks' models.
struct LinearInit {
  std::vector<float> weight, bias;
};
inline LinearInit linear_init(std::int64_t in, std::int64_t out, std::uint64_t seed) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(in));
  return {uniform_floats(static_cast<std::size_t>(in * out), seed, -bound, bound),
          uniform_floats(static_cast<std::size_t>(out), seed + 1, -bound, bound)};
}

/// FNV-1a of a string: the seed of a parameter's initial values, from its name.
inline std::uint64_t name_seed(const std::string& name) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const unsigned char c : name) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

/// Initial values of a parameter of the sequence workloads, from its (prefixed) name and
/// shape, identical on both sides whenever the two frameworks name the parameter alike
/// (PyTorch's names: weight_ih_l0, layers.0.self_attn.in_proj_weight, ...). Normalisation
/// weights ("norm" in the name, 1-d) are 1 and their biases 0; other 1-d parameters (biases)
/// U(-1/16, 1/16); a matrix [.., n] U(-b, b) with b = `bound` if positive, else 1/sqrt(n)
/// (PyTorch's fan_in bound of a Linear weight [out, in]).
inline std::vector<float> named_init(const std::string& name, const std::vector<std::int64_t>& shape,
                                     double bound = 0) {
  std::size_t n = 1;
  for (const auto s : shape) n *= static_cast<std::size_t>(s);
  const bool norm = name.find("norm") != std::string::npos;
  if (shape.size() == 1 && norm)
    return std::vector<float>(n, name.size() >= 6 && name.compare(name.size() - 6, 6, "weight") == 0 ? 1.0f : 0.0f);
  double b = 1.0 / 16;
  if (shape.size() >= 2) b = bound > 0 ? bound : 1.0 / std::sqrt(static_cast<double>(shape.back()));
  return uniform_floats(n, name_seed(name), -b, b);
}

/// The peak-memory reading of a timed workload (sdpa_long): RSS just before the first
/// (warm-up) iteration; the worker prints `rss_base_kib <KiB>` and, after its timed loop,
/// `hwm_kib <peak KiB>`. Their difference is the workload's peak RSS growth, including
/// whatever the framework's allocator keeps cached between iterations.
inline void report_rss_base() {
  std::printf("rss_base_kib %ld\n", current_rss_kib());
  std::fflush(stdout);
}
inline void report_rss_peak() {
  std::printf("hwm_kib %ld\n", peak_rss_kib());
  std::fflush(stdout);
}

}  // namespace bench
