// Saliency, gradient x input, Integrated Gradients, SmoothGrad and occlusion.
#include "xgrad/explain/attribution.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common.hpp"
#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/node.hpp"
#include "xgrad/autograd/shape.hpp"

namespace xgrad::explain {

using detail::check_input;
using detail::logits_no_grad;
using detail::resolve_target;
using detail::score_gradient;
using detail::target_scores;

namespace {

// Runs the model once at x to resolve the target (argmax when undefined) and validate it.
Tensor target_at(nn::Module& model, const Tensor& x, const Tensor& target, std::string_view op) {
  return resolve_target(logits_no_grad(model, x, op), target, op);
}

Tensor saliency_resolved(nn::Module& model, const Tensor& x, const Tensor& t, const SaliencyOptions& o,
                         std::string_view op) {
  Tensor g = score_gradient(model, x, t, op);
  if (o.abs()) g = g.abs();
  if (o.channel_max()) g = g.amax(std::vector<std::int64_t>{1}, true);
  return g;
}

}  // namespace

Tensor saliency(nn::Module& model, const Tensor& x, const Tensor& target, const SaliencyOptions& options) {
  constexpr std::string_view op = "saliency";
  check_input(x, op);
  return saliency_resolved(model, x, target_at(model, x, target, op), options, op);
}

Tensor gradient_x_input(nn::Module& model, const Tensor& x, const Tensor& target) {
  constexpr std::string_view op = "gradient_x_input";
  check_input(x, op);
  Tensor g = score_gradient(model, x, target_at(model, x, target, op), op);
  NoGradGuard no_grad;
  return x.detach() * g;
}

IntegratedGradientsResult integrated_gradients(nn::Module& model, const Tensor& x, const Tensor& target,
                                               const IntegratedGradientsOptions& options) {
  constexpr std::string_view op = "integrated_gradients";
  check_input(x, op);
  const std::int64_t m = options.steps();
  if (m < 2) throw Error(fmt::format("{}: steps must be >= 2 (trapezoid rule), got {}", op, m));
  if (options.steps_per_batch() < 0)
    throw Error(fmt::format("{}: steps_per_batch must be >= 0, got {}", op, options.steps_per_batch()));
  Tensor base;
  {
    NoGradGuard no_grad;
    const Tensor& b = options.baseline();
    if (!b.defined()) {
      base = zeros_like(x);
    } else {
      if (!is_floating(b.dtype())) throw Error(fmt::format("{}: baseline must be floating, got {}", op, b.describe()));
      try {
        base = b.detach().to(x.dtype()).expand(x.shape()).contiguous();
      } catch (const Error&) {
        throw Error(fmt::format("{}: baseline of shape {} does not broadcast to the input's shape {}", op, b.shape(),
                                x.shape()));
      }
    }
  }
  const Tensor logits_x = logits_no_grad(model, x, op);
  const Tensor t = resolve_target(logits_x, target, op);
  const std::int64_t n = x.size(0);
  const std::int64_t chunk = options.steps_per_batch() == 0 ? m : std::min(options.steps_per_batch(), m);
  const double h = 1.0 / static_cast<double>(m - 1);
  Tensor diff, total;
  {
    NoGradGuard no_grad;
    diff = x.detach() - base;
    total = zeros_like(x);
  }
  for (std::int64_t k0 = 0; k0 < m; k0 += chunk) {
    const std::int64_t kc = std::min(chunk, m - k0);
    std::vector<Tensor> points;
    {
      NoGradGuard no_grad;
      for (std::int64_t k = k0; k < k0 + kc; ++k) points.push_back(base + diff * (static_cast<double>(k) * h));
    }
    // Step-major batch: rows [j N, (j + 1) N) are the samples at alpha_{k0 + j}.
    Tensor g = score_gradient(model, cat(points, 0), t.repeat({kc}), op);
    NoGradGuard no_grad;
    for (std::int64_t j = 0; j < kc; ++j) {
      const std::int64_t k = k0 + j;
      const double w = (k == 0 || k == m - 1) ? 0.5 * h : h;
      total.add_(g.narrow(0, j * n, n), w);
    }
  }
  IntegratedGradientsResult result;
  NoGradGuard no_grad;
  result.attributions = diff * total;
  if (options.return_convergence_delta()) {
    const Tensor logits_b = logits_no_grad(model, base, op);
    result.delta = result.attributions.flatten(1).sum(std::vector<std::int64_t>{1}) -
                   (target_scores(logits_x, t) - target_scores(logits_b, t));
  }
  return result;
}

Tensor smooth_grad(nn::Module& model, const Tensor& x, const Tensor& target, const SmoothGradOptions& options) {
  constexpr std::string_view op = "smooth_grad";
  check_input(x, op);
  if (options.samples() < 1) throw Error(fmt::format("{}: samples must be >= 1, got {}", op, options.samples()));
  if (!(options.noise_fraction() >= 0.0))
    throw Error(fmt::format("{}: noise_fraction must be >= 0, got {}", op, options.noise_fraction()));
  const Tensor t = target_at(model, x, target, op);
  Tensor sigma, total;
  {
    NoGradGuard no_grad;
    Shape bshape(static_cast<std::size_t>(x.dim()), 1);
    bshape[0] = x.size(0);
    const Tensor flat = x.detach().flatten(1);
    sigma =
        ((flat.amax(std::vector<std::int64_t>{1}) - flat.amin(std::vector<std::int64_t>{1})) * options.noise_fraction())
            .reshape(bshape);
  }
  detail::Normal normal(options.seed());
  for (std::int64_t s = 0; s < options.samples(); ++s) {
    Tensor noisy;
    {
      NoGradGuard no_grad;
      noisy = x.detach() + normal.tensor(x.shape(), x.dtype()) * sigma;
    }
    Tensor a = saliency_resolved(model, noisy, t, options.saliency(), op);
    NoGradGuard no_grad;
    total = total.defined() ? total + a : a;
  }
  NoGradGuard no_grad;
  return total / static_cast<double>(options.samples());
}

Tensor occlusion(nn::Module& model, const Tensor& x, const Tensor& target, const OcclusionOptions& options) {
  constexpr std::string_view op = "occlusion";
  check_input(x, op);
  if (x.dim() != 4) throw Error(fmt::format("{}: input must be [N, C, H, W], got {}", op, x.describe()));
  const auto& win = options.window();
  const auto& str = options.stride();
  if (win.size() != 2 || str.size() != 2)
    throw Error(fmt::format("{}: window and stride must have 2 entries [h, w], got {} and {}", op, win, str));
  const std::int64_t n = x.size(0), c = x.size(1), H = x.size(2), W = x.size(3);
  if (win[0] < 1 || win[1] < 1 || str[0] < 1 || str[1] < 1)
    throw Error(fmt::format("{}: window {} and stride {} must be >= 1", op, win, str));
  if (win[0] > H || win[1] > W)
    throw Error(fmt::format("{}: window {} is larger than the image [{}, {}]", op, win, H, W));
  NoGradGuard no_grad;
  const Tensor xd = x.detach();
  const Tensor logits = logits_no_grad(model, xd, op);
  const Tensor t = resolve_target(logits, target, op);
  const auto s0 = target_scores(logits, t).to(Dtype::float64).to_vector<double>();
  std::vector<double> sum(static_cast<std::size_t>(n * H * W), 0.0), count(static_cast<std::size_t>(H * W), 0.0);
  for (std::int64_t i = 0; i + win[0] <= H; i += str[0]) {
    for (std::int64_t j = 0; j + win[1] <= W; j += str[1]) {
      Tensor xo = xd.clone();
      xo.narrow(2, i, win[0]).narrow(3, j, win[1]).fill_(options.baseline());
      const auto s = target_scores(logits_no_grad(model, xo, op), t).to(Dtype::float64).to_vector<double>();
      for (std::int64_t a = i; a < i + win[0]; ++a)
        for (std::int64_t b = j; b < j + win[1]; ++b) {
          count[static_cast<std::size_t>(a * W + b)] += 1.0;
          for (std::int64_t k = 0; k < n; ++k)
            sum[static_cast<std::size_t>((k * H + a) * W + b)] +=
                s0[static_cast<std::size_t>(k)] - s[static_cast<std::size_t>(k)];
        }
    }
  }
  for (std::int64_t k = 0; k < n; ++k)
    for (std::int64_t p = 0; p < H * W; ++p) {
      const double cnt = count[static_cast<std::size_t>(p)];
      auto& v = sum[static_cast<std::size_t>(k * H * W + p)];
      v = cnt > 0 ? v / cnt : 0.0;
    }
  return from_vector(sum, {n, 1, H, W}).to(x.dtype()).expand({n, c, H, W}).contiguous();
}

}  // namespace xgrad::explain
