// Regression losses (mse, l1, smooth_l1, huber), kl_div, the embedding/ranking losses and every
// loss module. The classification losses (cross_entropy, nll_loss, BCE, multi_margin) live in
// loss_classification.cpp. These losses are compositions of differentiable xgrad ops, so they
// are differentiable twice; the compositions are written so that no branch of a where() produces
// NaN or inf (a masked inf still poisons the gradient: 0 * inf = NaN).
#include <cmath>

#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/reduction.hpp"
#include "xgrad/nn/loss.hpp"

namespace xgrad::nn {

namespace {

void check_floating(const Tensor& t, std::string_view op, std::string_view what) {
  detail::check_defined(t, op);
  if (!is_floating(t.dtype()))
    throw Error(fmt::format("{}: {} must be floating (float32 or float64), got {} of shape {}", op, what, t.dtype(),
                            t.shape()));
}

void check_same_shape(const Tensor& a, const Tensor& b, std::string_view op, std::string_view an, std::string_view bn) {
  if (a.shape() != b.shape())
    throw Error(fmt::format("{}: {} shape {} and {} shape {} differ (expected the same shape)", op, an, a.shape(), bn,
                            b.shape()));
}

void check_same_dtype(const Tensor& a, const Tensor& b, std::string_view op, std::string_view an, std::string_view bn) {
  if (a.dtype() != b.dtype())
    throw Error(fmt::format("{}: {} dtype {} and {} dtype {} differ (convert one with .to())", op, an, a.dtype(), bn,
                            b.dtype()));
}

// input and target: both floating, same shape, same dtype.
void check_pair(const Tensor& input, const Tensor& target, std::string_view op) {
  check_floating(input, op, "input");
  check_floating(target, op, "target");
  check_same_shape(input, target, op, "input", "target");
  check_same_dtype(input, target, op, "input", "target");
}

Tensor zero_like_scalar(const Tensor& t) { return scalar_tensor(0.0, dtype(t.dtype())); }

// Python-style float repr for extra_repr: 1 -> "1.0", 0.5 -> "0.5".
std::string py_float(double v) {
  std::string s = fmt::format("{}", v);
  if (s.find_first_of(".eEna") == std::string::npos) s += ".0";
  return s;
}

std::string repr_reduction(Reduction r) { return fmt::format("reduction={}", reduction_name(r)); }

}  // namespace

std::string_view reduction_name(Reduction r) {
  switch (r) {
    case Reduction::None:
      return "none";
    case Reduction::Mean:
      return "mean";
    case Reduction::Sum:
      return "sum";
    case Reduction::BatchMean:
      return "batchmean";
  }
  return "unknown";
}

namespace functional {

Tensor apply_reduction(const Tensor& loss, Reduction reduction, std::string_view op) {
  switch (reduction) {
    case Reduction::None:
      return loss;
    case Reduction::Mean:
      return mean(loss);
    case Reduction::Sum:
      return sum(loss);
    case Reduction::BatchMean:
      break;
  }
  throw Error(fmt::format("{}: reduction '{}' is only supported by kl_div (use none, mean or sum)", op,
                          reduction_name(reduction)));
}

// ---- regression -----------------------------------------------------------------------------

Tensor mse_loss(const Tensor& input, const Tensor& target, const MSELossOptions& options) {
  check_pair(input, target, "mse_loss");
  Tensor d = sub(input, target);
  return apply_reduction(mul(d, d), options.reduction_, "mse_loss");
}

Tensor l1_loss(const Tensor& input, const Tensor& target, const L1LossOptions& options) {
  check_pair(input, target, "l1_loss");
  return apply_reduction(abs(sub(input, target)), options.reduction_, "l1_loss");
}

Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, const SmoothL1LossOptions& options) {
  const double beta = options.beta_;
  if (!(beta >= 0.0)) throw Error(fmt::format("smooth_l1_loss: beta must be >= 0, got {}", beta));
  check_pair(input, target, "smooth_l1_loss");
  if (beta == 0.0) return apply_reduction(abs(sub(input, target)), options.reduction_, "smooth_l1_loss");
  Tensor d = sub(input, target);
  Tensor ad = abs(d);
  // Quadratic inside |d| < beta (strict, like PyTorch); both branches are finite everywhere.
  Tensor l = where(lt(ad, beta), mul(mul(d, d), 0.5 / beta), sub(ad, 0.5 * beta));
  return apply_reduction(l, options.reduction_, "smooth_l1_loss");
}

Tensor huber_loss(const Tensor& input, const Tensor& target, const HuberLossOptions& options) {
  const double delta = options.delta_;
  if (!(delta > 0.0)) throw Error(fmt::format("huber_loss: delta must be > 0, got {}", delta));
  check_pair(input, target, "huber_loss");
  Tensor d = sub(input, target);
  Tensor ad = abs(d);
  Tensor l = where(lt(ad, delta), mul(mul(d, d), 0.5), mul(sub(ad, 0.5 * delta), delta));
  return apply_reduction(l, options.reduction_, "huber_loss");
}

// ---- divergences and embeddings -------------------------------------------------------------

Tensor kl_div(const Tensor& input, const Tensor& target, const KLDivLossOptions& options) {
  check_pair(input, target, "kl_div");
  Tensor l;
  if (options.log_target_) {
    l = mul(exp(target), sub(target, input));
  } else {
    // xlogy(t, t) - t x: t log t is taken as 0 where t == 0. log() sees 1 there, so neither the
    // value nor the gradient (log t + 1, masked by t == 0) meets log(0) = -inf.
    Tensor safe = where(eq(target, 0.0), scalar_tensor(1.0, dtype(target.dtype())), target);
    l = sub(mul(target, log(safe)), mul(target, input));
  }
  if (options.reduction_ == Reduction::BatchMean) {
    Tensor s = sum(l);
    return input.dim() == 0 ? s : div(s, static_cast<double>(input.size(0)));
  }
  return apply_reduction(l, options.reduction_, "kl_div");
}

Tensor hinge_embedding_loss(const Tensor& input, const Tensor& target, const HingeEmbeddingLossOptions& options) {
  check_floating(input, "hinge_embedding_loss", "input");
  detail::check_defined(target, "hinge_embedding_loss");
  check_same_shape(input, target, "hinge_embedding_loss", "input", "target");
  const Tensor zero = zero_like_scalar(input);
  // PyTorch's clamp_min: gradient -1 at the kink margin - x == 0 as well.
  Tensor margin_term = clamp(rsub(input, options.margin_), 0.0, std::nullopt);
  Tensor l = add(where(ne(target, 1.0), margin_term, zero), where(ne(target, -1.0), input, zero));
  return apply_reduction(l, options.reduction_, "hinge_embedding_loss");
}

Tensor margin_ranking_loss(const Tensor& input1, const Tensor& input2, const Tensor& target,
                           const MarginRankingLossOptions& options) {
  constexpr std::string_view op = "margin_ranking_loss";
  check_floating(input1, op, "input1");
  check_floating(input2, op, "input2");
  check_floating(target, op, "target");
  check_same_shape(input1, input2, op, "input1", "input2");
  check_same_shape(input1, target, op, "input1", "target");
  check_same_dtype(input1, input2, op, "input1", "input2");
  check_same_dtype(input1, target, op, "input1", "target");
  Tensor l = clamp(add(neg(mul(target, sub(input1, input2))), options.margin_), 0.0, std::nullopt);
  return apply_reduction(l, options.reduction_, op);
}

Tensor cosine_embedding_loss(const Tensor& input1, const Tensor& input2, const Tensor& target,
                             const CosineEmbeddingLossOptions& options) {
  constexpr std::string_view op = "cosine_embedding_loss";
  check_floating(input1, op, "input1");
  check_floating(input2, op, "input2");
  detail::check_defined(target, op);
  check_same_shape(input1, input2, op, "input1", "input2");
  check_same_dtype(input1, input2, op, "input1", "input2");
  const std::int64_t td = target.dim();
  if (td > 1)
    throw Error(
        fmt::format("{}: expected a 0-d or 1-d target, got shape {} (multi-target not supported)", op, target.shape()));
  if (input1.dim() != td + 1)
    throw Error(fmt::format("{}: a {}-d target expects {}-d inputs, got input shapes {} and {} and target shape {}", op,
                            td, td + 1, input1.shape(), input2.shape(), target.shape()));
  if (td == 1 && target.size(0) != input1.size(0))
    throw Error(fmt::format("{}: target shape {} does not match the batch size of inputs of shape {}", op,
                            target.shape(), input1.shape()));
  constexpr double kEps = 1e-12;  // PyTorch's EPSILON in aten/src/ATen/native/Loss.cpp
  const Dims d{td};
  Tensor prod = sum(mul(input1, input2), d);
  Tensor m1 = add(sum(mul(input1, input1), d), kEps);
  Tensor m2 = add(sum(mul(input2, input2), d), kEps);
  Tensor cos = div(prod, sqrt(mul(m1, m2)));
  const Tensor zero = zero_like_scalar(cos);
  Tensor pos = rsub(cos, 1.0);
  Tensor negative = clamp(sub(cos, options.margin_), 0.0, std::nullopt);
  Tensor l = add(where(eq(target, 1.0), pos, zero), where(eq(target, -1.0), negative, zero));
  return apply_reduction(l, options.reduction_, op);
}

}  // namespace functional

// ---- modules ----------------------------------------------------------------------------------

Tensor Loss::buffer_or_undefined(std::string_view name) const {
  for (const auto& [n, t] : buffers_)
    if (n == name) return t;
  return Tensor();
}

Tensor MSELoss::forward(const Tensor& input, const Tensor& target) {
  return functional::mse_loss(input, target, options_);
}
std::string MSELoss::extra_repr() const { return repr_reduction(options_.reduction_); }

Tensor L1Loss::forward(const Tensor& input, const Tensor& target) {
  return functional::l1_loss(input, target, options_);
}
std::string L1Loss::extra_repr() const { return repr_reduction(options_.reduction_); }

SmoothL1Loss::SmoothL1Loss(SmoothL1LossOptions options) : Loss("SmoothL1Loss"), options_(options) {
  if (!(options_.beta_ >= 0.0)) throw Error(fmt::format("SmoothL1Loss: beta must be >= 0, got {}", options_.beta_));
}
Tensor SmoothL1Loss::forward(const Tensor& input, const Tensor& target) {
  return functional::smooth_l1_loss(input, target, options_);
}
std::string SmoothL1Loss::extra_repr() const {
  return fmt::format("{}, beta={}", repr_reduction(options_.reduction_), py_float(options_.beta_));
}

HuberLoss::HuberLoss(HuberLossOptions options) : Loss("HuberLoss"), options_(options) {
  if (!(options_.delta_ > 0.0)) throw Error(fmt::format("HuberLoss: delta must be > 0, got {}", options_.delta_));
}
Tensor HuberLoss::forward(const Tensor& input, const Tensor& target) {
  return functional::huber_loss(input, target, options_);
}
std::string HuberLoss::extra_repr() const {
  return fmt::format("{}, delta={}", repr_reduction(options_.reduction_), py_float(options_.delta_));
}

BCELoss::BCELoss(BCELossOptions options) : Loss("BCELoss"), options_(std::move(options)) {
  if (options_.weight_.defined()) register_buffer("weight", options_.weight_);
  options_.weight_ = Tensor();  // forward reads the buffer (which to() may replace)
}
Tensor BCELoss::forward(const Tensor& input, const Tensor& target) {
  BCELossOptions o = options_;
  o.weight_ = buffer_or_undefined("weight");
  return functional::binary_cross_entropy(input, target, o);
}
std::string BCELoss::extra_repr() const { return repr_reduction(options_.reduction_); }

BCEWithLogitsLoss::BCEWithLogitsLoss(BCEWithLogitsLossOptions options)
    : Loss("BCEWithLogitsLoss"), options_(std::move(options)) {
  if (options_.weight_.defined()) register_buffer("weight", options_.weight_);
  if (options_.pos_weight_.defined()) register_buffer("pos_weight", options_.pos_weight_);
  options_.weight_ = Tensor();
  options_.pos_weight_ = Tensor();
}
Tensor BCEWithLogitsLoss::forward(const Tensor& input, const Tensor& target) {
  BCEWithLogitsLossOptions o = options_;
  o.weight_ = buffer_or_undefined("weight");
  o.pos_weight_ = buffer_or_undefined("pos_weight");
  return functional::binary_cross_entropy_with_logits(input, target, o);
}
std::string BCEWithLogitsLoss::extra_repr() const { return repr_reduction(options_.reduction_); }

CrossEntropyLoss::CrossEntropyLoss(CrossEntropyLossOptions options)
    : Loss("CrossEntropyLoss"), options_(std::move(options)) {
  const double eps = options_.label_smoothing_;
  if (!(eps >= 0.0 && eps <= 1.0))
    throw Error(fmt::format("CrossEntropyLoss: label_smoothing must be in [0, 1], got {}", eps));
  if (options_.weight_.defined()) register_buffer("weight", options_.weight_);
  options_.weight_ = Tensor();
}
Tensor CrossEntropyLoss::forward(const Tensor& input, const Tensor& target) {
  CrossEntropyLossOptions o = options_;
  o.weight_ = buffer_or_undefined("weight");
  return functional::cross_entropy(input, target, o);
}
std::string CrossEntropyLoss::extra_repr() const {
  return fmt::format("ignore_index={}, {}, label_smoothing={}", options_.ignore_index_,
                     repr_reduction(options_.reduction_), py_float(options_.label_smoothing_));
}

NLLLoss::NLLLoss(NLLLossOptions options) : Loss("NLLLoss"), options_(std::move(options)) {
  if (options_.weight_.defined()) register_buffer("weight", options_.weight_);
  options_.weight_ = Tensor();
}
Tensor NLLLoss::forward(const Tensor& input, const Tensor& target) {
  NLLLossOptions o = options_;
  o.weight_ = buffer_or_undefined("weight");
  return functional::nll_loss(input, target, o);
}
std::string NLLLoss::extra_repr() const {
  return fmt::format("ignore_index={}, {}", options_.ignore_index_, repr_reduction(options_.reduction_));
}

Tensor KLDivLoss::forward(const Tensor& input, const Tensor& target) {
  return functional::kl_div(input, target, options_);
}
std::string KLDivLoss::extra_repr() const {
  return fmt::format("{}, log_target={}", repr_reduction(options_.reduction_), options_.log_target_);
}

Tensor HingeEmbeddingLoss::forward(const Tensor& input, const Tensor& target) {
  return functional::hinge_embedding_loss(input, target, options_);
}
std::string HingeEmbeddingLoss::extra_repr() const {
  return fmt::format("margin={}, {}", py_float(options_.margin_), repr_reduction(options_.reduction_));
}

MultiMarginLoss::MultiMarginLoss(MultiMarginLossOptions options)
    : Loss("MultiMarginLoss"), options_(std::move(options)) {
  if (options_.p_ != 1 && options_.p_ != 2)
    throw Error(fmt::format("MultiMarginLoss: only p = 1 and p = 2 are supported, got p = {}", options_.p_));
  if (options_.weight_.defined()) register_buffer("weight", options_.weight_);
  options_.weight_ = Tensor();
}
Tensor MultiMarginLoss::forward(const Tensor& input, const Tensor& target) {
  MultiMarginLossOptions o = options_;
  o.weight_ = buffer_or_undefined("weight");
  return functional::multi_margin_loss(input, target, o);
}
std::string MultiMarginLoss::extra_repr() const {
  return fmt::format("p={}, margin={}, {}", options_.p_, py_float(options_.margin_),
                     repr_reduction(options_.reduction_));
}

Tensor MarginRankingLoss::forward(const Tensor& input1, const Tensor& input2, const Tensor& target) {
  return functional::margin_ranking_loss(input1, input2, target, options_);
}
std::string MarginRankingLoss::extra_repr() const {
  return fmt::format("margin={}, {}", py_float(options_.margin_), repr_reduction(options_.reduction_));
}

Tensor CosineEmbeddingLoss::forward(const Tensor& input1, const Tensor& input2, const Tensor& target) {
  return functional::cosine_embedding_loss(input1, input2, target, options_);
}
std::string CosineEmbeddingLoss::extra_repr() const {
  return fmt::format("margin={}, {}", py_float(options_.margin_), repr_reduction(options_.reduction_));
}

}  // namespace xgrad::nn
