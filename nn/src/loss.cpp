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
#include "loss_checks.hpp"
#include "xgrad/autograd/profile_scope.hpp"

namespace xgrad::nn {

namespace {

using namespace loss_checks;

Tensor zero_like_scalar(const Tensor& t) { return scalar_tensor(0.0, dtype(t.dtype())); }

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
  XGRAD_PROFILE_OP("mse_loss", input, target);
  xgrad::options::validate_options(options, "mse_loss");
  check_pair(input, target, "mse_loss");
  Tensor d = sub(input, target);
  return apply_reduction(mul(d, d), options.reduction_, "mse_loss");
}

Tensor l1_loss(const Tensor& input, const Tensor& target, const L1LossOptions& options) {
  XGRAD_PROFILE_OP("l1_loss", input, target);
  xgrad::options::validate_options(options, "l1_loss");
  check_pair(input, target, "l1_loss");
  return apply_reduction(abs(sub(input, target)), options.reduction_, "l1_loss");
}

Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, const SmoothL1LossOptions& options) {
  XGRAD_PROFILE_OP("smooth_l1_loss", input, target);
  xgrad::options::validate_options(options, "smooth_l1_loss");
  const double beta = options.beta_;
  check_pair(input, target, "smooth_l1_loss");
  if (beta == 0.0) return apply_reduction(abs(sub(input, target)), options.reduction_, "smooth_l1_loss");
  Tensor d = sub(input, target);
  Tensor ad = abs(d);
  // Quadratic inside |d| < beta (strict, like PyTorch); both branches are finite everywhere.
  Tensor l = where(lt(ad, beta), mul(mul(d, d), 0.5 / beta), sub(ad, 0.5 * beta));
  return apply_reduction(l, options.reduction_, "smooth_l1_loss");
}

Tensor huber_loss(const Tensor& input, const Tensor& target, const HuberLossOptions& options) {
  XGRAD_PROFILE_OP("huber_loss", input, target);
  xgrad::options::validate_options(options, "huber_loss");
  const double delta = options.delta_;
  check_pair(input, target, "huber_loss");
  Tensor d = sub(input, target);
  Tensor ad = abs(d);
  Tensor l = where(lt(ad, delta), mul(mul(d, d), 0.5), mul(sub(ad, 0.5 * delta), delta));
  return apply_reduction(l, options.reduction_, "huber_loss");
}

// ---- divergences and embeddings -------------------------------------------------------------

Tensor kl_div(const Tensor& input, const Tensor& target, const KLDivLossOptions& options) {
  XGRAD_PROFILE_OP("kl_div", input, target);
  xgrad::options::validate_options(options, "kl_div");
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
  XGRAD_PROFILE_OP("hinge_embedding_loss", input, target);
  xgrad::options::validate_options(options, "hinge_embedding_loss");
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
  XGRAD_PROFILE_OP("margin_ranking_loss", input1, input2, target);
  constexpr std::string_view op = "margin_ranking_loss";
  xgrad::options::validate_options(options, op);
  check_pair(input1, input2, op, "input1", "input2");
  check_pair(input1, target, op, "input1", "target");
  Tensor l = clamp(add(neg(mul(target, sub(input1, input2))), options.margin_), 0.0, std::nullopt);
  return apply_reduction(l, options.reduction_, op);
}

Tensor cosine_embedding_loss(const Tensor& input1, const Tensor& input2, const Tensor& target,
                             const CosineEmbeddingLossOptions& options) {
  XGRAD_PROFILE_OP("cosine_embedding_loss", input1, input2, target);
  constexpr std::string_view op = "cosine_embedding_loss";
  xgrad::options::validate_options(options, op);
  check_pair(input1, input2, op, "input1", "input2");
  detail::check_defined(target, op);
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

}  // namespace xgrad::nn
