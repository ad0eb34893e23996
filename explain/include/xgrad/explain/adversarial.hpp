// Adversarial examples and adversarial training (xgrad::adversarial), after Goodfellow et al.
// 2015 (FGSM), Madry et al. 2018 (PGD) and torchattacks' conventions.
//
// Common rules:
// * `model` maps x [N, ...] (floating) to logits [N, C]; it is called through operator(). Put
//   it in eval mode first (the caller's job; adversarial_training_batch does it itself).
// * y: int64 or int32 labels [N] in [0, C): the true labels (untargeted: the attack raises the
//   loss) or, with targeted(true), the classes to reach (the attack lowers the loss).
// * loss: L(logits, y), default cross_entropy (mean); any differentiable function returning a
//   scalar may be given. Gradients are taken with autograd::grad: no .grad() is touched.
// * Results are detached, have x's shape and dtype, and lie in [clip_min, clip_max]. x is
//   expected to lie there too (the balls below are then respected after the clamp).
// * Errors (xgrad::Error naming the function and the value): eps < 0, alpha <= 0, steps < 1,
//   clip_min > clip_max, x undefined / integral / rank < 2, logits not [N, C], labels of the
//   wrong shape, dtype or range, a loss that is not a scalar.
#pragma once

#include <cstdint>
#include <functional>

#include "xgrad/autograd/options.hpp"
#include "xgrad/autograd/tensor.hpp"
#include "xgrad/nn/module.hpp"

namespace xgrad::adversarial {

/// L(logits, labels) -> scalar.
using LossFn = std::function<Tensor(const Tensor& logits, const Tensor& labels)>;

/// Options of fgsm.
struct FGSMOptions {
#define XGRAD_ADV_FIELDS(X)                          \
  X(double, eps, 8.0 / 255.0, ::xgrad::options::any) \
  X(double, clip_min, 0.0, ::xgrad::options::any)    \
  X(double, clip_max, 1.0, ::xgrad::options::any)    \
  X(bool, targeted, false, ::xgrad::options::any)    \
  X(LossFn, loss, LossFn(), ::xgrad::options::any) /* empty: cross_entropy */
  XGRAD_OPTIONS(FGSMOptions, XGRAD_ADV_FIELDS)
#undef XGRAD_ADV_FIELDS
};

/// Fast Gradient Sign Method: x_adv = clamp(x + s eps sign(dL(model(x), y)/dx), clip_min,
/// clip_max), s = +1 (untargeted) or -1 (targeted). ||x_adv - x||_inf <= eps.
Tensor fgsm(nn::Module& model, const Tensor& x, const Tensor& y, const FGSMOptions& options = {});

/// The norm of a PGD ball.
enum class Norm { Linf, L2 };

/// Options of pgd. The defaults are torchattacks' L-inf ones (eps 8/255, alpha 2/255, 10 steps,
/// random start); for Norm::L2 set eps and alpha yourself (torchattacks: 1.0 and 0.2).
struct PGDOptions {
#define XGRAD_ADV_FIELDS(X)                            \
  X(Norm, norm, Norm::Linf, ::xgrad::options::any)     \
  X(double, eps, 8.0 / 255.0, ::xgrad::options::any)   \
  X(double, alpha, 2.0 / 255.0, ::xgrad::options::any) \
  X(std::int64_t, steps, 10, ::xgrad::options::any)    \
  X(bool, random_start, true, ::xgrad::options::any)   \
  X(std::uint64_t, seed, 0, ::xgrad::options::any)     \
  X(double, clip_min, 0.0, ::xgrad::options::any)      \
  X(double, clip_max, 1.0, ::xgrad::options::any)      \
  X(bool, targeted, false, ::xgrad::options::any)      \
  X(LossFn, loss, LossFn(), ::xgrad::options::any)
  XGRAD_OPTIONS(PGDOptions, XGRAD_ADV_FIELDS)
#undef XGRAD_ADV_FIELDS
};

/// Projected Gradient Descent. Start: x (random_start false) or x + delta0, clamped to the
/// valid range, with delta0 ~ U(-eps, eps) per element (L-inf) or, per sample, a Gaussian
/// direction scaled to norm r eps with r ~ U(0, 1) (L2), drawn from a private std::mt19937_64
/// seeded with `seed` (the global generator is untouched). Each of `steps` steps, with
/// g = dL(model(x_adv), y)/dx_adv and s = +1 (untargeted) or -1 (targeted):
///  * L-inf: x_adv += s alpha sign(g); delta = clamp(x_adv - x, -eps, eps);
///  * L2:    x_adv += s alpha g / (||g_n||_2 + 1e-12) per sample; delta = (x_adv - x) *
///           min(1, eps / ||x_adv,n - x_n||_2) per sample;
///  then x_adv = clamp(x + delta, clip_min, clip_max). The result stays in the eps-ball of the
/// norm around x (for x in the valid range) and in [clip_min, clip_max].
Tensor pgd(nn::Module& model, const Tensor& x, const Tensor& y, const PGDOptions& options = {});

/// Options of adversarial_training_batch.
struct AdversarialTrainingOptions {
#define XGRAD_ADV_FIELDS(X)                               \
  X(double, fraction, 0.5, ::xgrad::options::any)         \
  X(PGDOptions, pgd, PGDOptions(), ::xgrad::options::any) \
  X(bool, eval_during_attack, true, ::xgrad::options::any)
  XGRAD_OPTIONS(AdversarialTrainingOptions, XGRAD_ADV_FIELDS)
#undef XGRAD_ADV_FIELDS
};

/// A batch for adversarial training (Madry et al.): the first k = round(fraction N) samples of
/// (x, y) are replaced by pgd(model, x[:k], y[:k], options.pgd) (untargeted by default), the
/// others are kept; returns [N, ...] in the original order (labels unchanged: train on
/// (result, y)). With eval_during_attack (default) the model is put in eval mode for the
/// attack and its training mode is restored afterwards (Module::train(previous)). Shuffle the
/// batches (DataLoader) so that the first k samples are a random subset. Throws for fraction
/// outside [0, 1], x and y of different batch sizes, and as pgd.
Tensor adversarial_training_batch(nn::Module& model, const Tensor& x, const Tensor& y,
                                  const AdversarialTrainingOptions& options = {});

}  // namespace xgrad::adversarial
