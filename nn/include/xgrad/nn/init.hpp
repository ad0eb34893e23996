// xgrad::nn::init: parameter initialisers with PyTorch's formulas and defaults
// (torch.nn.init). Each `name_` function fills its tensor in place and returns it.
//
// Conventions shared by every initialiser:
// * The tensor is written directly (no graph is recorded), so they work on leaf parameters
//   that require grad, like torch.nn.init under torch.no_grad(). The storage's version
//   counter is bumped as for any in-place op (a backward that saved the old values throws).
// * Random values come from the global generator (xgrad::manual_seed), drawn serially in
//   row-major order, so a seed reproduces them on every run and thread count.
// * Random initialisers need a float32 or float64 tensor; constant_/zeros_/ones_/eye_/dirac_
//   also accept int64. An undefined tensor throws xgrad::Error.
//
//   auto w = xgrad::empty({128, 784}).requires_grad_(true);
//   xgrad::nn::init::kaiming_uniform_(w, std::sqrt(5.0));  // nn::Linear's default
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>

#include "xgrad/autograd/tensor.hpp"

namespace xgrad::nn::init {

/// Recommended gain for a nonlinearity (torch.nn.init.calculate_gain):
///   linear, conv1d/2d/3d, conv_transpose1d/2d/3d, sigmoid -> 1
///   tanh -> 5/3;  relu -> sqrt(2);  selu -> 3/4
///   leaky_relu -> sqrt(2 / (1 + slope^2)), slope = param (default 0.01)
/// `param` is ignored by the others. Throws xgrad::Error for an unknown name.
double calculate_gain(std::string_view nonlinearity, std::optional<double> param = std::nullopt);

/// (fan_in, fan_out) of a weight of shape [out, in, k...] (torch's _calculate_fan_in_and_fan_out):
/// receptive = prod(k...) (1 for 2-d), fan_in = size(1) * receptive, fan_out = size(0) * receptive.
/// Throws xgrad::Error for a tensor with fewer than 2 dimensions.
std::pair<std::int64_t, std::int64_t> calculate_fan_in_and_fan_out(const Tensor& tensor);

/// Fills with U[a, b). Throws when a > b.
Tensor uniform_(const Tensor& tensor, double a = 0.0, double b = 1.0);
/// Fills with N(mean, std^2). Throws when std < 0.
Tensor normal_(const Tensor& tensor, double mean = 0.0, double std = 1.0);
/// Fills with N(mean, std^2) truncated to [a, b] (torch's trunc_normal_): u ~ U[Phi(alpha),
/// Phi(beta)] with alpha = (a - mean)/std, beta = (b - mean)/std, x = mean + std * Phi^-1(u),
/// clamped to [a, b] (inverse-CDF sampling in double precision). Throws when std <= 0 or a >= b.
Tensor trunc_normal_(const Tensor& tensor, double mean = 0.0, double std = 1.0, double a = -2.0, double b = 2.0);
/// Fills with `value`.
Tensor constant_(const Tensor& tensor, double value);
Tensor zeros_(const Tensor& tensor);
Tensor ones_(const Tensor& tensor);
/// Identity matrix (ones on the main diagonal, zeros elsewhere) of a 2-d tensor of any
/// [n, m]. Throws for other ranks.
Tensor eye_(const Tensor& tensor);
/// Dirac delta for a 3-, 4- or 5-d convolution weight [out, in, k...]: zeros, then
/// w[g * out/groups + d, d, k0/2, k1/2, ...] = 1 for each group g and d < min(out/groups, in),
/// so the convolution copies (the first) input channels. Throws for other ranks, groups < 1
/// or size(0) not divisible by groups.
Tensor dirac_(const Tensor& tensor, std::int64_t groups = 1);

/// Glorot/Xavier uniform: U(-bound, bound), bound = gain * sqrt(6 / (fan_in + fan_out)).
/// Throws for fewer than 2 dimensions.
Tensor xavier_uniform_(const Tensor& tensor, double gain = 1.0);
/// Glorot/Xavier normal: N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out)).
/// Throws for fewer than 2 dimensions.
Tensor xavier_normal_(const Tensor& tensor, double gain = 1.0);

/// He/Kaiming uniform: U(-bound, bound), bound = gain * sqrt(3 / fan), with
/// gain = calculate_gain(nonlinearity, a) and fan = fan_in (mode "fan_in", preserves the
/// forward variance) or fan_out ("fan_out", preserves the backward variance). `a` is the
/// negative slope of the leaky_relu that follows (0: relu). nn::Linear uses a = sqrt(5).
/// A tensor with a zero-sized dimension is left as is. Throws for fewer than 2 dimensions,
/// an unknown mode or nonlinearity.
Tensor kaiming_uniform_(const Tensor& tensor, double a = 0.0, std::string_view mode = "fan_in",
                        std::string_view nonlinearity = "leaky_relu");
/// He/Kaiming normal: N(0, std^2), std = gain / sqrt(fan) (see kaiming_uniform_).
Tensor kaiming_normal_(const Tensor& tensor, double a = 0.0, std::string_view mode = "fan_in",
                       std::string_view nonlinearity = "leaky_relu");

/// (Semi-)orthogonal matrix (Saxe et al. 2013), like torch.nn.init.orthogonal_: the tensor
/// is viewed as [rows, cols] = [size(0), numel / size(0)]; a rows x cols N(0, 1) matrix (its
/// transpose when rows < cols) is QR-factorised (Householder, double precision), Q's columns
/// are multiplied by sign(diag(R)) so the result is unique, and gain * Q (or Q^T) is written.
/// Then Q^T Q = gain^2 I when rows >= cols, and Q Q^T = gain^2 I otherwise.
/// Throws for fewer than 2 dimensions.
Tensor orthogonal_(const Tensor& tensor, double gain = 1.0);

}  // namespace xgrad::nn::init
