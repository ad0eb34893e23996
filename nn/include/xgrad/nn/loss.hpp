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

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "xgrad/autograd/tensor.hpp"
#include "xgrad/nn/module.hpp"
#include "xgrad/nn/options.hpp"

namespace xgrad::nn {

/// How a loss reduces its element-wise values: PyTorch's reduction="none" / "mean" / "sum",
/// plus "batchmean" (kl_div only: sum divided by the size of dimension 0).
enum class Reduction { None, Mean, Sum, BatchMean };

/// "none", "mean", "sum" or "batchmean".
std::string_view reduction_name(Reduction r);

/// Same as reduction_name (found by ADL, so options::format_options prints reductions by name).
inline std::string_view to_string(Reduction r) { return reduction_name(r); }

// ---- options ----------------------------------------------------------------------------------
// Every loss's options derive from ReductionOptions and declare their own fields ONCE (type,
// name, default, check) with the option mechanism of xgrad/autograd/options.hpp: chainable
// setters (`CrossEntropyLossOptions().label_smoothing(0.1)`), getters, public `name_` members,
// validation (run by the functional form), printing and visiting follow. Each converts
// implicitly from a Reduction, so that `mse_loss(x, y, Reduction::Sum)` works. Tensor-valued
// options (class weights, pos_weight) are registered as buffers by the module form.

/// The `reduction` option shared by every loss (CRTP: its setter returns Derived&).
template <class Derived>
struct ReductionOptions {
  ReductionOptions(Reduction r = Reduction::Mean) : reduction_(r) {}  // NOLINT: implicit on purpose
#define XGRAD_NN_FIELDS(X) X(::xgrad::nn::Reduction, reduction, ::xgrad::nn::Reduction::Mean, ::xgrad::options::any)
  XGRAD_OPTIONS(Derived, XGRAD_NN_FIELDS)
#undef XGRAD_NN_FIELDS
};

/// Declares a loss's options struct `Name`: ReductionOptions plus FIELDS (an X-macro of
/// (type, name, default, check)). extra_repr prints the scalar options with `reduction` at
/// position ReductionAt among them (PyTorch's argument order).
#define XGRAD_NN_LOSS_OPTIONS_(Name, FIELDS, ReductionAt)                              \
  struct Name : ::xgrad::nn::ReductionOptions<Name> {                                  \
    using ReductionOptions<Name>::ReductionOptions;                                    \
    XGRAD_OPTIONS_EXTEND(Name, ::xgrad::nn::ReductionOptions<Name>, FIELDS)            \
    static constexpr std::size_t repr_reduction_at = ReductionAt;                      \
  }
#define XGRAD_NN_NO_FIELDS_(X)

XGRAD_NN_LOSS_OPTIONS_(MSELossOptions, XGRAD_NN_NO_FIELDS_, 0);
XGRAD_NN_LOSS_OPTIONS_(L1LossOptions, XGRAD_NN_NO_FIELDS_, 0);

#define XGRAD_NN_FIELDS(X) X(double, beta, 1.0, ::xgrad::nn::checks::non_negative)
XGRAD_NN_LOSS_OPTIONS_(SmoothL1LossOptions, XGRAD_NN_FIELDS, 0);
#undef XGRAD_NN_FIELDS

#define XGRAD_NN_FIELDS(X) X(double, delta, 1.0, ::xgrad::nn::checks::positive)
XGRAD_NN_LOSS_OPTIONS_(HuberLossOptions, XGRAD_NN_FIELDS, 0);
#undef XGRAD_NN_FIELDS

/// weight: optional, broadcastable to the input's shape.
#define XGRAD_NN_FIELDS(X) X(Tensor, weight, Tensor(), ::xgrad::options::any)
XGRAD_NN_LOSS_OPTIONS_(BCELossOptions, XGRAD_NN_FIELDS, 0);
#undef XGRAD_NN_FIELDS

/// weight, pos_weight: optional, broadcastable to the input's shape (e.g. [C] for [N, C]).
#define XGRAD_NN_FIELDS(X)                                \
  X(Tensor, weight, Tensor(), ::xgrad::options::any)      \
  X(Tensor, pos_weight, Tensor(), ::xgrad::options::any)
XGRAD_NN_LOSS_OPTIONS_(BCEWithLogitsLossOptions, XGRAD_NN_FIELDS, 0);
#undef XGRAD_NN_FIELDS

/// weight: optional class weights [C]; ignore_index: class-index targets only;
/// label_smoothing in [0, 1].
#define XGRAD_NN_FIELDS(X)                                                  \
  X(Tensor, weight, Tensor(), ::xgrad::options::any)                        \
  X(std::int64_t, ignore_index, -100, ::xgrad::options::any)                \
  X(double, label_smoothing, 0.0, ::xgrad::nn::checks::unit_interval)
XGRAD_NN_LOSS_OPTIONS_(CrossEntropyLossOptions, XGRAD_NN_FIELDS, 1);
#undef XGRAD_NN_FIELDS

/// weight: optional class weights [C].
#define XGRAD_NN_FIELDS(X)                             \
  X(Tensor, weight, Tensor(), ::xgrad::options::any)   \
  X(std::int64_t, ignore_index, -100, ::xgrad::options::any)
XGRAD_NN_LOSS_OPTIONS_(NLLLossOptions, XGRAD_NN_FIELDS, 1);
#undef XGRAD_NN_FIELDS

/// log_target: the target holds log-probabilities.
#define XGRAD_NN_FIELDS(X) X(bool, log_target, false, ::xgrad::options::any)
XGRAD_NN_LOSS_OPTIONS_(KLDivLossOptions, XGRAD_NN_FIELDS, 0);
#undef XGRAD_NN_FIELDS

#define XGRAD_NN_FIELDS(X) X(double, margin, 1.0, ::xgrad::options::any)
XGRAD_NN_LOSS_OPTIONS_(HingeEmbeddingLossOptions, XGRAD_NN_FIELDS, 1);
#undef XGRAD_NN_FIELDS

#define XGRAD_NN_FIELDS(X) X(double, margin, 0.0, ::xgrad::options::any)
XGRAD_NN_LOSS_OPTIONS_(MarginRankingLossOptions, XGRAD_NN_FIELDS, 1);
#undef XGRAD_NN_FIELDS

/// p: 1 or 2; weight: optional class weights [C].
#define XGRAD_NN_FIELDS(X)                                          \
  X(std::int64_t, p, 1, ::xgrad::nn::checks::one_or_two)            \
  X(double, margin, 1.0, ::xgrad::options::any)                     \
  X(Tensor, weight, Tensor(), ::xgrad::options::any)
XGRAD_NN_LOSS_OPTIONS_(MultiMarginLossOptions, XGRAD_NN_FIELDS, 2);
#undef XGRAD_NN_FIELDS

/// margin: PyTorch suggests [-1, 1]; any value is accepted.
#define XGRAD_NN_FIELDS(X) X(double, margin, 0.0, ::xgrad::options::any)
XGRAD_NN_LOSS_OPTIONS_(CosineEmbeddingLossOptions, XGRAD_NN_FIELDS, 1);
#undef XGRAD_NN_FIELDS

#undef XGRAD_NN_NO_FIELDS_
#undef XGRAD_NN_LOSS_OPTIONS_

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
// Every loss module is LossModule<Options, functional form>: it forwards to the functional form
// with its options, which validates them (the module checks them once more at construction, so
// a bad option fails where the module is made, naming it: "SmoothL1Loss: beta must be >= 0").
// A loss module has no parameters; tensor-valued options (class weights, pos_weight) are
// registered as buffers under their option's name ("weight", "pos_weight") when given, so
// to(dtype), state_dict() and load_state_dict() see them, and forward uses the buffers. Call
// forward(input, target) or (*loss)(input, target) (three-input losses: forward(input1,
// input2, target)): module hooks are not run for losses (they take several inputs).
// extra_repr() prints the scalar options.

/// Base of every loss (a common type for training code: `std::shared_ptr<Loss>`).
class Loss : public Module {
 public:
  using Module::Module;
  /// The single-input Module::forward throws for losses; use forward(input, target).
  using Module::forward;
  /// The two-input losses' computation; three-input losses (MarginRankingLoss,
  /// CosineEmbeddingLoss) throw xgrad::Error naming the module.
  virtual Tensor forward(const Tensor& input, const Tensor& target) = 0;
  Tensor operator()(const Tensor& input, const Tensor& target) { return forward(input, target); }
};

/// A loss module generated from its functional form `Functional` (Tensor f(input, target,
/// const Options&) or Tensor f(input1, input2, target, const Options&)).
template <class Options, auto Functional>
class LossModule : public Loss {
  static constexpr bool kThreeInputs =
      std::is_invocable_v<decltype(Functional), const Tensor&, const Tensor&, const Tensor&, const Options&>;

 public:
  using Loss::forward;
  using Loss::operator();
  Tensor forward(const Tensor& input, const Tensor& target) override {
    if constexpr (kThreeInputs) {
      throw Error(fmt::format("{}: takes three inputs: call forward(input1, input2, target)", name()));
    } else {
      return Functional(input, target, options_);
    }
  }
  Tensor forward(const Tensor& input1, const Tensor& input2, const Tensor& target)
    requires kThreeInputs
  {
    return Functional(input1, input2, target, options_);
  }
  Tensor operator()(const Tensor& input1, const Tensor& input2, const Tensor& target)
    requires kThreeInputs
  {
    return forward(input1, input2, target);
  }
  /// The scalar options, `reduction` at its place in PyTorch's argument order.
  std::string extra_repr() const override {
    std::vector<std::string> items = repr_items(options_);  // reduction (the base's field) first
    std::rotate(items.begin(), items.begin() + 1, items.begin() + 1 + Options::repr_reduction_at);
    std::string out;
    for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
    return out;
  }
  /// The options; tensor-valued ones are the registered buffers.
  const Options& options() const { return options_; }

 protected:
  LossModule(std::string name, Options options) : Loss(std::move(name)), options_(std::move(options)) {
    ::xgrad::options::validate_options(options_, this->name());
    options_.for_each_option([this](std::string_view option, auto& value, const auto&) {
      if constexpr (std::is_same_v<std::decay_t<decltype(value)>, Tensor>) {
        // The buffer handle: to(), set_tensor() and load_state_dict() change it in place.
        if (value.defined()) value = register_buffer(std::string(option), value);
      }
    });
  }

 private:
  Options options_;
};

class MSELoss : public LossModule<MSELossOptions, functional::mse_loss> {
 public:
  explicit MSELoss(MSELossOptions options = {}) : LossModule("MSELoss", std::move(options)) {}
};

class L1Loss : public LossModule<L1LossOptions, functional::l1_loss> {
 public:
  explicit L1Loss(L1LossOptions options = {}) : LossModule("L1Loss", std::move(options)) {}
};

class SmoothL1Loss : public LossModule<SmoothL1LossOptions, functional::smooth_l1_loss> {
 public:
  /// Throws when beta < 0.
  explicit SmoothL1Loss(SmoothL1LossOptions options = {}) : LossModule("SmoothL1Loss", std::move(options)) {}
};

class HuberLoss : public LossModule<HuberLossOptions, functional::huber_loss> {
 public:
  /// Throws when delta <= 0.
  explicit HuberLoss(HuberLossOptions options = {}) : LossModule("HuberLoss", std::move(options)) {}
};

class BCELoss : public LossModule<BCELossOptions, functional::binary_cross_entropy> {
 public:
  explicit BCELoss(BCELossOptions options = {}) : LossModule("BCELoss", std::move(options)) {}
};

class BCEWithLogitsLoss : public LossModule<BCEWithLogitsLossOptions, functional::binary_cross_entropy_with_logits> {
 public:
  explicit BCEWithLogitsLoss(BCEWithLogitsLossOptions options = {})
      : LossModule("BCEWithLogitsLoss", std::move(options)) {}
};

class CrossEntropyLoss : public LossModule<CrossEntropyLossOptions, functional::cross_entropy> {
 public:
  /// Throws when label_smoothing is outside [0, 1].
  explicit CrossEntropyLoss(CrossEntropyLossOptions options = {}) : LossModule("CrossEntropyLoss", std::move(options)) {}
};

class NLLLoss : public LossModule<NLLLossOptions, functional::nll_loss> {
 public:
  explicit NLLLoss(NLLLossOptions options = {}) : LossModule("NLLLoss", std::move(options)) {}
};

class KLDivLoss : public LossModule<KLDivLossOptions, functional::kl_div> {
 public:
  explicit KLDivLoss(KLDivLossOptions options = {}) : LossModule("KLDivLoss", std::move(options)) {}
};

class HingeEmbeddingLoss : public LossModule<HingeEmbeddingLossOptions, functional::hinge_embedding_loss> {
 public:
  explicit HingeEmbeddingLoss(HingeEmbeddingLossOptions options = {})
      : LossModule("HingeEmbeddingLoss", std::move(options)) {}
};

class MultiMarginLoss : public LossModule<MultiMarginLossOptions, functional::multi_margin_loss> {
 public:
  /// Throws when p is not 1 or 2.
  explicit MultiMarginLoss(MultiMarginLossOptions options = {}) : LossModule("MultiMarginLoss", std::move(options)) {}
};

/// Three inputs: forward(input1, input2, target).
class MarginRankingLoss : public LossModule<MarginRankingLossOptions, functional::margin_ranking_loss> {
 public:
  explicit MarginRankingLoss(MarginRankingLossOptions options = {})
      : LossModule("MarginRankingLoss", std::move(options)) {}
};

/// Three inputs: forward(input1, input2, target).
class CosineEmbeddingLoss : public LossModule<CosineEmbeddingLossOptions, functional::cosine_embedding_loss> {
 public:
  explicit CosineEmbeddingLoss(CosineEmbeddingLossOptions options = {})
      : LossModule("CosineEmbeddingLoss", std::move(options)) {}
};

}  // namespace xgrad::nn
