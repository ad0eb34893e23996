// Gradient and perturbation attributions (xgrad::explain), after Captum's definitions.
//
// Common rules (every function in this file and in cam.hpp / faithfulness.hpp):
// * `model` maps a batch x [N, ...] to logits [N, C]; it is called through operator() (hooks
//   run). Put it in eval mode first (the caller's job): in training mode Dropout makes the
//   attributions random and BatchNorm couples the samples of a batch.
// * `target`: the class explained per sample, an int64 or int32 tensor [N] with values in
//   [0, C); undefined (the default) means each sample's argmax of the logits at x.
//   The score explained is the target's logit S_t(x) = model(x)[n, t_n] (not a probability).
// * x must be floating, rank >= 2 ([N, ...]); attributions have x's shape and dtype (except
//   saliency with channel_max). They are detached (no graph) and no .grad() is touched
//   (gradients are taken with autograd::grad).
// * Errors (xgrad::Error naming the function): x undefined, integral or of rank < 2; logits not
//   [N, C]; target of the wrong shape/dtype or out of range; a baseline that does not
//   broadcast to x; steps / samples / window sizes < 1 (IG: steps < 2).
#pragma once

#include <cstdint>
#include <vector>

#include "xgrad/autograd/options.hpp"
#include "xgrad/autograd/tensor.hpp"
#include "xgrad/nn/module.hpp"

namespace xgrad::explain {

/// Options of saliency.
struct SaliencyOptions {
#define XGRAD_EXPLAIN_FIELDS(X)                          \
  X(bool, abs, true, ::xgrad::options::any) /* |grad| */ \
  X(bool, channel_max, false, ::xgrad::options::any)
  XGRAD_OPTIONS(SaliencyOptions, XGRAD_EXPLAIN_FIELDS)
#undef XGRAD_EXPLAIN_FIELDS
};

/// Saliency (Simonyan et al. 2014; Captum's Saliency): g = d S_t(x) / d x, returned as |g|
/// (abs, the default, like Captum) or the raw signed gradient (abs(false)). channel_max(true)
/// takes the maximum over dim 1 (the channels) after abs, keeping the dim: x [N, C, ...] gives
/// [N, 1, ...] (the paper's saliency map).
Tensor saliency(nn::Module& model, const Tensor& x, const Tensor& target = {}, const SaliencyOptions& options = {});

/// Gradient x input (Shrikumar et al.; Captum's InputXGradient): x * d S_t(x) / d x.
Tensor gradient_x_input(nn::Module& model, const Tensor& x, const Tensor& target = {});

/// Options of integrated_gradients.
struct IntegratedGradientsOptions {
#define XGRAD_EXPLAIN_FIELDS(X)                                                              \
  X(Tensor, baseline, Tensor(), ::xgrad::options::any) /* undefined: zeros_like(x) */        \
  X(std::int64_t, steps, 50, ::xgrad::options::any)                                          \
  X(std::int64_t, steps_per_batch, 0, ::xgrad::options::any) /* 0: every step in one pass */ \
  X(bool, return_convergence_delta, false, ::xgrad::options::any)
  XGRAD_OPTIONS(IntegratedGradientsOptions, XGRAD_EXPLAIN_FIELDS)
#undef XGRAD_EXPLAIN_FIELDS
};

struct IntegratedGradientsResult {
  Tensor attributions;  ///< x's shape
  /// [N]: sum(attributions[n]) - (S_t(x_n) - S_t(x'_n)) (completeness error); undefined unless
  /// return_convergence_delta.
  Tensor delta;
};

/// Integrated Gradients (Sundararajan et al. 2017; Captum's IntegratedGradients with
/// method "riemann_trapezoid"): with baseline x' (broadcast to x; default zeros) and m = steps
/// points alpha_k = k / (m - 1), k = 0..m-1, and trapezoid weights w_0 = w_{m-1} = 1/(2(m-1)),
/// w_k = 1/(m-1) otherwise,
///   IG(x) = (x - x') * sum_k w_k dS_t/dx (x' + alpha_k (x - x')).
/// Completeness: sum(IG(x)) -> S_t(x) - S_t(x') as m grows (exact for a model linear in x).
/// The path points of `steps_per_batch` steps (times N samples) run in one forward pass
/// (0: all m steps at once). The target defaults to the argmax at x. Throws for steps < 2,
/// steps_per_batch < 0 and a baseline that does not broadcast to x.
IntegratedGradientsResult integrated_gradients(nn::Module& model, const Tensor& x, const Tensor& target = {},
                                               const IntegratedGradientsOptions& options = {});

/// Options of smooth_grad.
struct SmoothGradOptions {
#define XGRAD_EXPLAIN_FIELDS(X)                          \
  X(double, noise_fraction, 0.15, ::xgrad::options::any) \
  X(std::int64_t, samples, 50, ::xgrad::options::any)    \
  X(std::uint64_t, seed, 0, ::xgrad::options::any)       \
  X(SaliencyOptions, saliency, SaliencyOptions(), ::xgrad::options::any)
  XGRAD_OPTIONS(SmoothGradOptions, XGRAD_EXPLAIN_FIELDS)
#undef XGRAD_EXPLAIN_FIELDS
};

/// SmoothGrad (Smilkov et al. 2017; Captum's NoiseTunnel("smoothgrad") over Saliency): the
/// mean over `samples` draws of saliency(x + eps, target, options.saliency), eps ~ N(0,
/// sigma_n^2) with sigma_n = noise_fraction * (max(x_n) - min(x_n)) per sample (the paper's
/// noise level; 0.15 by default, 50 samples). The target defaults to the argmax at the clean
/// x. Noise comes from a private std::mt19937_64 seeded with `seed` (Box-Muller, drawn in
/// row-major order; the global generator is untouched), so a seed gives the same map on every
/// run. noise_fraction 0 gives saliency(x). Throws for samples < 1 and noise_fraction < 0.
Tensor smooth_grad(nn::Module& model, const Tensor& x, const Tensor& target = {},
                   const SmoothGradOptions& options = {});

/// Options of occlusion (window and stride: [h, w]).
struct OcclusionOptions {
#define XGRAD_EXPLAIN_FIELDS(X)                                                                  \
  X(std::vector<std::int64_t>, window, std::vector<std::int64_t>({4, 4}), ::xgrad::options::any) \
  X(std::vector<std::int64_t>, stride, std::vector<std::int64_t>({1, 1}), ::xgrad::options::any) \
  X(double, baseline, 0.0, ::xgrad::options::any)
  XGRAD_OPTIONS(OcclusionOptions, XGRAD_EXPLAIN_FIELDS)
#undef XGRAD_EXPLAIN_FIELDS
};

/// Occlusion sensitivity (Zeiler & Fergus 2014; Captum's Occlusion): x [N, C, H, W]; a window
/// of window[0] x window[1] pixels (all channels) slides with `stride` over the positions
/// (i s0, j s1) that fit inside the image; for each, the window is set to `baseline` and the
/// drop S_t(x) - S_t(x_occluded) is added to every element under the window. Each element's
/// attribution is the mean drop over the windows covering it (0 where none does; Captum's
/// rule). Runs under no-grad, one forward pass of N samples per window position. Throws for
/// x not of rank 4 and window / stride sizes < 1 or windows larger than the image.
Tensor occlusion(nn::Module& model, const Tensor& x, const Tensor& target = {}, const OcclusionOptions& options = {});

}  // namespace xgrad::explain
