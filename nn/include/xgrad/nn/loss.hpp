// Loss functions: the functional forms in xgrad::nn::functional and the matching modules in
// xgrad::nn. Definitions, defaults and reductions are PyTorch's (torch.nn.functional.*).
//
// Common rules (every loss below):
// * `reduction`: None returns the element-wise (or per-sample) losses, Mean (default) their
//   mean, Sum their sum. BatchMean is accepted by kl_div only (sum / batch size); every
//   other loss throws xgrad::Error for it.
// * Inputs must be defined and floating (float32 or float64); tensors combined element-wise
//   must have the same dtype (no silent promotion) and, unless a loss says otherwise, the
//   same shape: unlike PyTorch, which broadcasts input and target with a warning, a shape
//   mismatch throws xgrad::Error naming the loss and both shapes.
// * Every loss is differentiable twice (gradgradcheck passes) in its floating inputs,
//   including the target where PyTorch differentiates it. Class weights of cross_entropy,
//   nll_loss and multi_margin_loss are constants: passing a weight that requires grad throws.
// * cross_entropy and binary_cross_entropy_with_logits are fused ops: they never exp() raw
//   logits (log-sum-exp with max subtraction; log(1 + e^-|x|)), so logits of +-1000 give
//   finite, correct values and gradients.
//
// Example:
//   auto criterion = std::make_shared<xgrad::nn::CrossEntropyLoss>(
//       xgrad::nn::CrossEntropyLossOptions().label_smoothing(0.1));
//   xgrad::Tensor loss = (*criterion)(logits, labels);  // logits [N, C], labels int64 [N]
//   xgrad::Tensor l2 = xgrad::nn::functional::mse_loss(y_hat, y, xgrad::nn::Reduction::Sum);
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "xgrad/autograd/tensor.hpp"
#include "xgrad/nn/module.hpp"

namespace xgrad::nn {

/// How a loss reduces its element-wise values: PyTorch's reduction="none" / "mean" / "sum",
/// plus "batchmean" (kl_div only: sum divided by the size of dimension 0).
enum class Reduction { None, Mean, Sum, BatchMean };

/// "none", "mean", "sum" or "batchmean".
std::string_view reduction_name(Reduction r);

// ---- options (chainable setters; each also converts implicitly from a Reduction so that
//      `mse_loss(x, y, Reduction::Sum)` works) ---------------------------------------------

struct MSELossOptions {
  MSELossOptions(Reduction r = Reduction::Mean) : reduction_(r) {}  // NOLINT: implicit on purpose
  Reduction reduction_;
  MSELossOptions& reduction(Reduction r) {
    reduction_ = r;
    return *this;
  }
};

struct L1LossOptions {
  L1LossOptions(Reduction r = Reduction::Mean) : reduction_(r) {}  // NOLINT: implicit on purpose
  Reduction reduction_;
  L1LossOptions& reduction(Reduction r) {
    reduction_ = r;
    return *this;
  }
};

struct SmoothL1LossOptions {
  SmoothL1LossOptions(Reduction r = Reduction::Mean) : reduction_(r) {}  // NOLINT: implicit on purpose
  Reduction reduction_;
  double beta_ = 1.0;
  SmoothL1LossOptions& reduction(Reduction r) {
    reduction_ = r;
    return *this;
  }
  SmoothL1LossOptions& beta(double v) {
    beta_ = v;
    return *this;
  }
};

struct HuberLossOptions {
  HuberLossOptions(Reduction r = Reduction::Mean) : reduction_(r) {}  // NOLINT: implicit on purpose
  Reduction reduction_;
  double delta_ = 1.0;
  HuberLossOptions& reduction(Reduction r) {
    reduction_ = r;
    return *this;
  }
  HuberLossOptions& delta(double v) {
    delta_ = v;
    return *this;
  }
};

struct BCELossOptions {
  BCELossOptions(Reduction r = Reduction::Mean) : reduction_(r) {}  // NOLINT: implicit on purpose
  Reduction reduction_;
  Tensor weight_;  ///< optional, broadcastable to the input's shape
  BCELossOptions& reduction(Reduction r) {
    reduction_ = r;
    return *this;
  }
  BCELossOptions& weight(Tensor w) {
    weight_ = std::move(w);
    return *this;
  }
};

struct BCEWithLogitsLossOptions {
  BCEWithLogitsLossOptions(Reduction r = Reduction::Mean) : reduction_(r) {}  // NOLINT: implicit on purpose
  Reduction reduction_;
  Tensor weight_;      ///< optional, broadcastable to the input's shape
  Tensor pos_weight_;  ///< optional, broadcastable to the input's shape (e.g. [C] for [N, C])
  BCEWithLogitsLossOptions& reduction(Reduction r) {
    reduction_ = r;
    return *this;
  }
  BCEWithLogitsLossOptions& weight(Tensor w) {
    weight_ = std::move(w);
    return *this;
  }
  BCEWithLogitsLossOptions& pos_weight(Tensor w) {
    pos_weight_ = std::move(w);
    return *this;
  }
};

struct CrossEntropyLossOptions {
  CrossEntropyLossOptions(Reduction r = Reduction::Mean) : reduction_(r) {}  // NOLINT: implicit on purpose
  Reduction reduction_;
  Tensor weight_;                     ///< optional class weights [C]
  std::int64_t ignore_index_ = -100;  ///< class-index targets only
  double label_smoothing_ = 0.0;      ///< in [0, 1]
  CrossEntropyLossOptions& reduction(Reduction r) {
    reduction_ = r;
    return *this;
  }
  CrossEntropyLossOptions& weight(Tensor w) {
    weight_ = std::move(w);
    return *this;
  }
  CrossEntropyLossOptions& ignore_index(std::int64_t v) {
    ignore_index_ = v;
    return *this;
  }
  CrossEntropyLossOptions& label_smoothing(double v) {
    label_smoothing_ = v;
    return *this;
  }
};

struct NLLLossOptions {
  NLLLossOptions(Reduction r = Reduction::Mean) : reduction_(r) {}  // NOLINT: implicit on purpose
  Reduction reduction_;
  Tensor weight_;  ///< optional class weights [C]
  std::int64_t ignore_index_ = -100;
  NLLLossOptions& reduction(Reduction r) {
    reduction_ = r;
    return *this;
  }
  NLLLossOptions& weight(Tensor w) {
    weight_ = std::move(w);
    return *this;
  }
  NLLLossOptions& ignore_index(std::int64_t v) {
    ignore_index_ = v;
    return *this;
  }
};

struct KLDivLossOptions {
  KLDivLossOptions(Reduction r = Reduction::Mean) : reduction_(r) {}  // NOLINT: implicit on purpose
  Reduction reduction_;
  bool log_target_ = false;  ///< the target holds log-probabilities
  KLDivLossOptions& reduction(Reduction r) {
    reduction_ = r;
    return *this;
  }
  KLDivLossOptions& log_target(bool v) {
    log_target_ = v;
    return *this;
  }
};

struct HingeEmbeddingLossOptions {
  HingeEmbeddingLossOptions(Reduction r = Reduction::Mean) : reduction_(r) {}  // NOLINT: implicit on purpose
  Reduction reduction_;
  double margin_ = 1.0;
  HingeEmbeddingLossOptions& reduction(Reduction r) {
    reduction_ = r;
    return *this;
  }
  HingeEmbeddingLossOptions& margin(double v) {
    margin_ = v;
    return *this;
  }
};

struct MarginRankingLossOptions {
  MarginRankingLossOptions(Reduction r = Reduction::Mean) : reduction_(r) {}  // NOLINT: implicit on purpose
  Reduction reduction_;
  double margin_ = 0.0;
  MarginRankingLossOptions& reduction(Reduction r) {
    reduction_ = r;
    return *this;
  }
  MarginRankingLossOptions& margin(double v) {
    margin_ = v;
    return *this;
  }
};

struct MultiMarginLossOptions {
  MultiMarginLossOptions(Reduction r = Reduction::Mean) : reduction_(r) {}  // NOLINT: implicit on purpose
  Reduction reduction_;
  std::int64_t p_ = 1;  ///< 1 or 2
  double margin_ = 1.0;
  Tensor weight_;  ///< optional class weights [C]
  MultiMarginLossOptions& reduction(Reduction r) {
    reduction_ = r;
    return *this;
  }
  MultiMarginLossOptions& p(std::int64_t v) {
    p_ = v;
    return *this;
  }
  MultiMarginLossOptions& margin(double v) {
    margin_ = v;
    return *this;
  }
  MultiMarginLossOptions& weight(Tensor w) {
    weight_ = std::move(w);
    return *this;
  }
};

struct CosineEmbeddingLossOptions {
  CosineEmbeddingLossOptions(Reduction r = Reduction::Mean) : reduction_(r) {}  // NOLINT: implicit on purpose
  Reduction reduction_;
  double margin_ = 0.0;  ///< PyTorch suggests [-1, 1]; any value is accepted
  CosineEmbeddingLossOptions& reduction(Reduction r) {
    reduction_ = r;
    return *this;
  }
  CosineEmbeddingLossOptions& margin(double v) {
    margin_ = v;
    return *this;
  }
};

namespace functional {

/// Applies `reduction` to element-wise losses: None -> loss, Mean -> mean(loss) (NaN when
/// empty), Sum -> sum(loss). BatchMean throws (only kl_div accepts it); `op` names the loss
/// in the message. Differentiable. Useful for custom losses.
Tensor apply_reduction(const Tensor& loss, Reduction reduction, std::string_view op = "loss");

// ---- regression -----------------------------------------------------------------------------

/// l_i = (x_i - y_i)^2. d l_i/dx_i = 2 (x_i - y_i), d l_i/dy_i = -2 (x_i - y_i).
/// input and target: same shape and dtype.
Tensor mse_loss(const Tensor& input, const Tensor& target, const MSELossOptions& options = {});
/// l_i = |x_i - y_i|. d l_i/dx_i = sign(x_i - y_i) (0 at 0).
Tensor l1_loss(const Tensor& input, const Tensor& target, const L1LossOptions& options = {});
/// With d = x - y: l = 0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta; beta = 0 is
/// l1_loss. d l/dx = d / beta where |d| < beta, else sign(d). Throws when beta < 0.
Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, const SmoothL1LossOptions& options = {});
/// With d = x - y: l = 0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta).
/// d l/dx = d where |d| < delta, else delta sign(d). Throws when delta <= 0.
Tensor huber_loss(const Tensor& input, const Tensor& target, const HuberLossOptions& options = {});

// ---- classification -------------------------------------------------------------------------

/// Binary cross-entropy of probabilities x in [0, 1] and targets y (same shape and dtype):
/// l = -w (y max(log x, -100) + (1 - y) max(log(1 - x), -100)); the log is clamped at -100
/// like PyTorch (x = 0 with y = 1 gives 100, not inf). weight w (optional) broadcasts to the
/// input's shape. Gradients (PyTorch's): d l/dx = w (x - y) / max(x (1 - x), 1e-12),
/// d l/dy = w (log(1 - x) - log x). Throws when an element of x is outside [0, 1] (naming it).
Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const BCELossOptions& options = {});
/// Binary cross-entropy on logits x, fused and stable (never exp(x)):
/// without pos_weight: l = w (max(x, 0) - x y + log(1 + e^-|x|)), d l/dx = w (sigmoid(x) - y);
/// with pos_weight p: l = w ((1 - y) x + (1 + (p - 1) y) (log(1 + e^-|x|) + max(-x, 0))),
/// d l/dx = w ((1 + (p - 1) y) sigmoid(x) - p y). Differentiable in x, y, weight and pos_weight.
/// target: same shape and dtype as input; weight and pos_weight broadcast to the input's shape.
Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target,
                                        const BCEWithLogitsLossOptions& options = {});
/// Cross-entropy of logits `input` [N, C] or [N, C, d1, ...] (or [C] for one sample), the
/// class dimension being dim 1 (dim 0 for [C]). log p = log_softmax(input, class dim),
/// computed fused with max subtraction. Two kinds of target:
/// * class indices: int64 of shape [N] / [N, d1, ...] ([] for input [C]), each in [0, C) or
///   equal to ignore_index. Per element (zero where the target is ignore_index):
///   l = (1 - eps) w_y (-log p_y) + (eps / C) sum_c w_c (-log p_c), eps = label_smoothing,
///   w = weight (1 when absent). Mean divides the sum by sum of w_y over non-ignored
///   elements (PyTorch's weighted mean; NaN when every target is ignored).
///   Gradient: d l/dx_c = (1 - eps) w_y (p_c - [c = y]) + (eps / C) (W p_c - w_c), W = sum_c w_c.
/// * probabilities: floating, the input's shape; q = (1 - eps) target + eps / C;
///   l = -sum_c w_c q_c log p_c per sample; Mean divides by the number of samples
///   (numel / C). ignore_index must be negative (it does not apply).
/// Throws on: a target of the wrong shape or dtype (naming both shapes), a class index out of
/// range (naming it), weight not of shape [C] or of another dtype, label_smoothing outside
/// [0, 1], an input with no class dimension (0-d).
Tensor cross_entropy(const Tensor& input, const Tensor& target, const CrossEntropyLossOptions& options = {});
/// Negative log-likelihood of log-probabilities `input` [N, C] / [N, C, d1, ...] / [C] with
/// int64 class-index targets [N] / [N, d1, ...] / []: l = -w_y input[y], 0 where the target is
/// ignore_index; Mean divides by the sum of w_y over non-ignored elements. d l/dinput_c =
/// -w_y [c = y]. Throws like cross_entropy.
Tensor nll_loss(const Tensor& input, const Tensor& target, const NLLLossOptions& options = {});
/// Multi-class hinge loss of scores x [N, C] (or [C]) and int64 targets y [N] (or []) in [0, C):
/// l_n = sum_{j != y} w_y max(0, margin - x_y + x_j)^p / C, p = 1 or 2, weight w optional [C].
/// Gradient: d l_n/dx_j = w_y p z_j^(p-1) / C for j != y with z_j > 0, and minus their sum for
/// x_y (0 where z_j <= 0). Throws for p other than 1 or 2, bad shapes or targets.
Tensor multi_margin_loss(const Tensor& input, const Tensor& target, const MultiMarginLossOptions& options = {});

// ---- divergences and embeddings -------------------------------------------------------------

/// Kullback-Leibler divergence with `input` = log-probabilities and target (same shape and
/// dtype): l = target (log target - input), taken as -target input where target = 0 (xlogy);
/// with log_target: l = e^target (target - input). Reductions: None, Mean (over every
/// element, PyTorch's default), Sum, BatchMean (sum / input.size(0); the true KL divergence
/// per sample; sum for a 0-d input). d l/dinput = -target (log_target: -e^target).
Tensor kl_div(const Tensor& input, const Tensor& target, const KLDivLossOptions& options = {});
/// l = x where y = 1; max(0, margin - x) where y = -1 (PyTorch: other y values get the sum of
/// both terms). y: same shape as x, any dtype (only compared with 1 and -1).
Tensor hinge_embedding_loss(const Tensor& input, const Tensor& target, const HingeEmbeddingLossOptions& options = {});
/// l = max(0, -y (x1 - x2) + margin); x1, x2, y of the same shape and dtype.
/// d l/dx1 = -y where the hinge is active (including the kink, like PyTorch's clamp_min).
Tensor margin_ranking_loss(const Tensor& input1, const Tensor& input2, const Tensor& target,
                           const MarginRankingLossOptions& options = {});
/// With cos = <x1, x2> / sqrt((|x1|^2 + 1e-12) (|x2|^2 + 1e-12)) along the last dim
/// (PyTorch's EPSILON = 1e-12): l = 1 - cos where y = 1, max(0, cos - margin) where y = -1,
/// 0 otherwise. x1, x2: [N, D] with y [N], or [D] with y [] (y any dtype).
Tensor cosine_embedding_loss(const Tensor& input1, const Tensor& input2, const Tensor& target,
                             const CosineEmbeddingLossOptions& options = {});

}  // namespace functional

// ---- modules ----------------------------------------------------------------------------------
// A loss module has no parameters; class weights and pos_weight are registered as buffers
// ("weight", "pos_weight") when given, so to(dtype) and state_dict() see them, and forward
// uses the buffers. Call forward(input, target) or (*loss)(input, target): module hooks are
// not run for losses (they take two inputs). extra_repr() prints the scalar options.

/// Base of the two-input losses (a common type for training code: `std::shared_ptr<Loss>`).
class Loss : public Module {
 public:
  using Module::Module;
  /// The single-input Module::forward throws for losses; use forward(input, target).
  using Module::forward;
  virtual Tensor forward(const Tensor& input, const Tensor& target) = 0;
  Tensor operator()(const Tensor& input, const Tensor& target) { return forward(input, target); }

 protected:
  /// The registered buffer `name`, or an undefined tensor when there is none.
  Tensor buffer_or_undefined(std::string_view name) const;
};

class MSELoss : public Loss {
 public:
  explicit MSELoss(MSELossOptions options = {}) : Loss("MSELoss"), options_(options) {}
  using Loss::forward;
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string extra_repr() const override;
  const MSELossOptions& options() const { return options_; }

 private:
  MSELossOptions options_;
};

class L1Loss : public Loss {
 public:
  explicit L1Loss(L1LossOptions options = {}) : Loss("L1Loss"), options_(options) {}
  using Loss::forward;
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string extra_repr() const override;
  const L1LossOptions& options() const { return options_; }

 private:
  L1LossOptions options_;
};

class SmoothL1Loss : public Loss {
 public:
  /// Throws when beta < 0.
  explicit SmoothL1Loss(SmoothL1LossOptions options = {});
  using Loss::forward;
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string extra_repr() const override;
  const SmoothL1LossOptions& options() const { return options_; }

 private:
  SmoothL1LossOptions options_;
};

class HuberLoss : public Loss {
 public:
  /// Throws when delta <= 0.
  explicit HuberLoss(HuberLossOptions options = {});
  using Loss::forward;
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string extra_repr() const override;
  const HuberLossOptions& options() const { return options_; }

 private:
  HuberLossOptions options_;
};

class BCELoss : public Loss {
 public:
  explicit BCELoss(BCELossOptions options = {});
  using Loss::forward;
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string extra_repr() const override;
  const BCELossOptions& options() const { return options_; }

 private:
  BCELossOptions options_;
};

class BCEWithLogitsLoss : public Loss {
 public:
  explicit BCEWithLogitsLoss(BCEWithLogitsLossOptions options = {});
  using Loss::forward;
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string extra_repr() const override;
  const BCEWithLogitsLossOptions& options() const { return options_; }

 private:
  BCEWithLogitsLossOptions options_;
};

class CrossEntropyLoss : public Loss {
 public:
  /// Throws when label_smoothing is outside [0, 1].
  explicit CrossEntropyLoss(CrossEntropyLossOptions options = {});
  using Loss::forward;
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string extra_repr() const override;
  const CrossEntropyLossOptions& options() const { return options_; }

 private:
  CrossEntropyLossOptions options_;
};

class NLLLoss : public Loss {
 public:
  explicit NLLLoss(NLLLossOptions options = {});
  using Loss::forward;
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string extra_repr() const override;
  const NLLLossOptions& options() const { return options_; }

 private:
  NLLLossOptions options_;
};

class KLDivLoss : public Loss {
 public:
  explicit KLDivLoss(KLDivLossOptions options = {}) : Loss("KLDivLoss"), options_(options) {}
  using Loss::forward;
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string extra_repr() const override;
  const KLDivLossOptions& options() const { return options_; }

 private:
  KLDivLossOptions options_;
};

class HingeEmbeddingLoss : public Loss {
 public:
  explicit HingeEmbeddingLoss(HingeEmbeddingLossOptions options = {}) : Loss("HingeEmbeddingLoss"), options_(options) {}
  using Loss::forward;
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string extra_repr() const override;
  const HingeEmbeddingLossOptions& options() const { return options_; }

 private:
  HingeEmbeddingLossOptions options_;
};

class MultiMarginLoss : public Loss {
 public:
  /// Throws when p is not 1 or 2.
  explicit MultiMarginLoss(MultiMarginLossOptions options = {});
  using Loss::forward;
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string extra_repr() const override;
  const MultiMarginLossOptions& options() const { return options_; }

 private:
  MultiMarginLossOptions options_;
};

/// Three inputs: forward(input1, input2, target).
class MarginRankingLoss : public Module {
 public:
  explicit MarginRankingLoss(MarginRankingLossOptions options = {}) : Module("MarginRankingLoss"), options_(options) {}
  using Module::forward;
  Tensor forward(const Tensor& input1, const Tensor& input2, const Tensor& target);
  Tensor operator()(const Tensor& input1, const Tensor& input2, const Tensor& target) {
    return forward(input1, input2, target);
  }
  std::string extra_repr() const override;
  const MarginRankingLossOptions& options() const { return options_; }

 private:
  MarginRankingLossOptions options_;
};

/// Three inputs: forward(input1, input2, target).
class CosineEmbeddingLoss : public Module {
 public:
  explicit CosineEmbeddingLoss(CosineEmbeddingLossOptions options = {})
      : Module("CosineEmbeddingLoss"), options_(options) {}
  using Module::forward;
  Tensor forward(const Tensor& input1, const Tensor& input2, const Tensor& target);
  Tensor operator()(const Tensor& input1, const Tensor& input2, const Tensor& target) {
    return forward(input1, input2, target);
  }
  std::string extra_repr() const override;
  const CosineEmbeddingLossOptions& options() const { return options_; }

 private:
  CosineEmbeddingLossOptions options_;
};

}  // namespace xgrad::nn
