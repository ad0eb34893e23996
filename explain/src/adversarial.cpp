// FGSM, PGD (L-inf, L2) and the adversarial-training batch helper.
#include "xgrad/explain/adversarial.hpp"

#include <cmath>

#include <fmt/format.h>

#include "common.hpp"
#include "xgrad/autograd/autograd.hpp"
#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/node.hpp"
#include "xgrad/autograd/shape.hpp"
#include "xgrad/nn/loss.hpp"

namespace xgrad::adversarial {

namespace {

using explain::detail::check_input;
using explain::detail::check_logits;
using explain::detail::resolve_target;

void check_clip(double lo, double hi, std::string_view op) {
  if (!(lo <= hi)) throw Error(fmt::format("{}: clip_min ({}) must be <= clip_max ({})", op, lo, hi));
}

void check_labels(const Tensor& x, const Tensor& y, std::string_view op) {
  if (!y.defined()) throw Error(fmt::format("{}: labels are undefined", op));
  if (y.dim() != 1 || y.size(0) != x.size(0))
    throw Error(
        fmt::format("{}: labels must have shape [{}] for input {}, got {}", op, x.size(0), x.describe(), y.describe()));
}

// [N, 1, ..., 1] for per-sample factors.
Shape batch_shape(const Tensor& x) {
  Shape s(static_cast<std::size_t>(x.dim()), 1);
  s[0] = x.size(0);
  return s;
}

// Per-sample L2 norms of x as [N, 1, ..., 1].
Tensor sample_norms(const Tensor& x) {
  return x.flatten(1).norm(2.0, std::vector<std::int64_t>{1}).reshape(batch_shape(x));
}

// dL(model(x), y)/dx, detached; y is validated against the logits on the way.
Tensor loss_gradient(nn::Module& model, const Tensor& x, const Tensor& y, const LossFn& loss, std::string_view op) {
  GradModeGuard grad_on(true);
  Tensor xi = x.detach();
  xi.requires_grad_(true);
  const Tensor logits = model(xi);
  check_logits(logits, x.size(0), op);
  const Tensor labels = resolve_target(logits, y, op, "labels");
  const Tensor l = loss ? loss(logits, y) : nn::functional::cross_entropy(logits, labels);
  if (!l.defined() || l.numel() != 1)
    throw Error(fmt::format("{}: the loss must return a scalar, got {}", op,
                            l.defined() ? l.describe() : std::string("an undefined tensor")));
  if (!l.requires_grad()) return zeros_like(x);
  autograd::GradOptions go;
  go.allow_unused = true;
  Tensor g = autograd::grad({l.reshape({})}, {xi}, {}, go)[0];
  return g.defined() ? g.detach() : zeros_like(x);
}

}  // namespace

Tensor fgsm(nn::Module& model, const Tensor& x, const Tensor& y, const FGSMOptions& options) {
  constexpr std::string_view op = "fgsm";
  check_input(x, op);
  check_labels(x, y, op);
  if (!(options.eps() >= 0.0)) throw Error(fmt::format("{}: eps must be >= 0, got {}", op, options.eps()));
  check_clip(options.clip_min(), options.clip_max(), op);
  const Tensor g = loss_gradient(model, x, y, options.loss(), op);
  NoGradGuard no_grad;
  const double step = options.targeted() ? -options.eps() : options.eps();
  return (x.detach() + g.sign() * step).clamp(options.clip_min(), options.clip_max());
}

Tensor pgd(nn::Module& model, const Tensor& x, const Tensor& y, const PGDOptions& options) {
  constexpr std::string_view op = "pgd";
  check_input(x, op);
  check_labels(x, y, op);
  const double eps = options.eps(), alpha = options.alpha();
  if (!(eps >= 0.0)) throw Error(fmt::format("{}: eps must be >= 0, got {}", op, eps));
  if (!(alpha > 0.0)) throw Error(fmt::format("{}: alpha (step size) must be > 0, got {}", op, alpha));
  if (options.steps() < 1) throw Error(fmt::format("{}: steps must be >= 1, got {}", op, options.steps()));
  check_clip(options.clip_min(), options.clip_max(), op);
  const double lo = options.clip_min(), hi = options.clip_max();
  const bool linf = options.norm() == Norm::Linf;
  Tensor x0, x_adv;
  {
    NoGradGuard no_grad;
    x0 = x.detach();
    x_adv = x0.clone();
    if (options.random_start()) {
      explain::detail::Normal rng(options.seed());
      Tensor delta;
      if (linf) {
        delta = rng.uniform_tensor(x.shape(), -eps, eps, x.dtype());
      } else {
        const Tensor d = rng.tensor(x.shape(), x.dtype());
        const Tensor r = rng.uniform_tensor(batch_shape(x), 0.0, 1.0, x.dtype());
        delta = d / (sample_norms(d) + 1e-12) * r * eps;
      }
      x_adv = (x0 + delta).clamp(lo, hi);
    }
  }
  const double sgn = options.targeted() ? -1.0 : 1.0;
  for (std::int64_t s = 0; s < options.steps(); ++s) {
    const Tensor g = loss_gradient(model, x_adv, y, options.loss(), op);
    NoGradGuard no_grad;
    Tensor delta;
    if (linf) {
      x_adv = x_adv + g.sign() * (sgn * alpha);
      delta = (x_adv - x0).clamp(-eps, eps);
    } else {
      x_adv = x_adv + g / (sample_norms(g) + 1e-12) * (sgn * alpha);
      delta = x_adv - x0;
      const Tensor norms = sample_norms(delta);
      // min(1, eps / ||delta||), written without dividing by a zero norm.
      delta = delta * (norms.gt(full_like(norms, eps)).to(x.dtype()) * (eps / (norms + 1e-12) - 1.0) + 1.0);
    }
    x_adv = (x0 + delta).clamp(lo, hi);
  }
  return x_adv;
}

Tensor adversarial_training_batch(nn::Module& model, const Tensor& x, const Tensor& y,
                                  const AdversarialTrainingOptions& options) {
  constexpr std::string_view op = "adversarial_training_batch";
  check_input(x, op);
  check_labels(x, y, op);
  const double f = options.fraction();
  if (!(f >= 0.0 && f <= 1.0)) throw Error(fmt::format("{}: fraction must be in [0, 1], got {}", op, f));
  const std::int64_t n = x.size(0);
  const auto k = static_cast<std::int64_t>(std::llround(f * static_cast<double>(n)));
  if (k == 0) return x.detach();
  const bool was_training = model.is_training();
  if (options.eval_during_attack()) model.eval();
  Tensor adv;
  try {
    adv = pgd(model, x.narrow(0, 0, k), y.narrow(0, 0, k), options.pgd());
  } catch (...) {
    if (options.eval_during_attack()) model.train(was_training);
    throw;
  }
  if (options.eval_during_attack()) model.train(was_training);
  if (k == n) return adv;
  NoGradGuard no_grad;
  return cat({adv, x.detach().narrow(0, k, n - k)}, 0);
}

}  // namespace xgrad::adversarial
