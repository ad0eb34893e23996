// Resampling: interpolate / Upsample and pixel_shuffle / pixel_unshuffle (PyTorch's
// definitions and defaults). Functional forms in xgrad::nn::functional, modules in xgrad::nn.
//
// interpolate(input, options) resizes the spatial dims of an input [N, C, *spatial]
// (1 to 3 spatial dims; the first two dims are batch and channels). The result has shape
// [N, C, *out] where, per spatial dim i,
//   out_i = size[i]                                  (size given), or
//   out_i = floor(in_i * scale_factor[i])            (scale_factor given; a double product).
// size and scale_factor take one value for every spatial dim or a single value that is used
// for all of them. Each output element is a fixed linear combination of input elements of the
// same [n, c] plane, computed separably (per spatial dim: a list of source indices and
// weights). With s_i the scale of dim i,
//   s_i = in_i / out_i                 (size given, or recompute_scale_factor = true)
//   s_i = 1 / scale_factor[i]          (scale_factor given, recompute_scale_factor unset/false)
// and, for the interpolating modes, with align_corners = true
//   s_i = (in_i - 1) / (out_i - 1)  (0 when out_i == 1),   src = s_i * dst,
// else
//   src = s_i * (dst + 0.5) - 0.5   (clamped at 0 below, except for bicubic).
// Modes:
//   "nearest"        PyTorch's legacy nearest: src = min(floor(dst * s_i), in_i - 1), with
//                    s_i computed in float32 as PyTorch does (3-d, 4-d or 5-d input).
//   "nearest-exact"  src = min(floor((dst + 0.5) * s_i), in_i - 1) (3-d, 4-d or 5-d).
//   "linear" (3-d), "bilinear" (4-d), "trilinear" (5-d): i0 = floor(src), i1 = min(i0 + 1,
//                    in_i - 1), l = src - i0; value = (1 - l) x[i0] + l x[i1] per dim.
//   "bicubic" (4-d): i0 = floor(src), t = src - i0; taps x[clamp(i0 - 1 + k, 0, in - 1)],
//                    k = 0..3, with Keys' cubic convolution weights (A = -0.75):
//                    w0 = c2(t + 1), w1 = c1(t), w2 = c1(1 - t), w3 = c2(2 - t),
//                    c1(x) = ((A + 2) x - (A + 3)) x^2 + 1, c2(x) = ((A x - 5A) x + 8A) x - 4A.
//                    Values may overshoot the input's range (no clamping, like PyTorch).
// align_corners (default unset = false) applies to the interpolating modes only.
// Not implemented: "area" (use adaptive average pooling) and antialias.
//
// Backward: the adjoint of the linear map (each output gradient scattered back with the
// same weights), a recorded node (UpsampleBackward) whose own backward is the forward map,
// so second derivatives work. Both directions run in parallel over [n, c] planes, each plane
// summed by one task in a fixed order: results are bit-identical at every thread count.
// Inputs may be non-contiguous (read through a packed copy). Floating dtypes only: integer
// or bool inputs throw the usual "expected a floating dtype (float32 or float64)" error.
//
// Errors (xgrad::Error, naming "interpolate" or "Upsample" and the shapes): both or neither of
// size and scale_factor; a size / scale_factor list whose length is neither 1 nor the number of
// spatial dims; an input rank the mode does not support (e.g. "interpolate: mode 'bilinear'
// expects a 4-d input [N, C, H, W], got shape [2, 3, 4]"); align_corners set with a nearest
// mode; an unknown mode; an input with a zero spatial size; an output size < 1 (a size
// entry <= 0, or a scale_factor <= 0 or so small that floor(in * scale) is 0).
//
// pixel_shuffle(input, r): [*, C r^2, H, W] -> [*, C, H r, W r],
//   out[..., c, h r + i, w r + j] = in[..., c r^2 + i r + j, h, w]
// (a reshape / permute / reshape, differentiable through those ops; any dtype). Throws when
// the input has fewer than 3 dims, r < 1, or C r^2 does not divide the channels.
// pixel_unshuffle(input, r) is its inverse: [*, C, H r, W r] -> [*, C r^2, H, W]; throws when
// the input has fewer than 3 dims, r < 1, or H or W is not divisible by r.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "xgrad/autograd/tensor.hpp"
#include "xgrad/nn/module.hpp"
#include "xgrad/nn/options.hpp"

namespace xgrad::nn {

/// Options of functional::interpolate (PyTorch's F.interpolate arguments).
struct InterpolateFuncOptions {
#define XGRAD_NN_FIELDS(X)                                                                 \
  X(std::optional<std::vector<std::int64_t>>, size, std::nullopt, ::xgrad::options::any)   \
  X(std::optional<std::vector<double>>, scale_factor, std::nullopt, ::xgrad::options::any) \
  X(std::string, mode, "nearest", ::xgrad::options::any)                                   \
  X(std::optional<bool>, align_corners, std::nullopt, ::xgrad::options::any)               \
  X(std::optional<bool>, recompute_scale_factor, std::nullopt, ::xgrad::options::any)
  XGRAD_OPTIONS(InterpolateFuncOptions, XGRAD_NN_FIELDS)
#undef XGRAD_NN_FIELDS
};

/// Options of the Upsample module (PyTorch's nn.Upsample arguments; libtorch's UpsampleOptions
/// lacks recompute_scale_factor, Python's nn.Upsample has it).
struct UpsampleOptions {
#define XGRAD_NN_FIELDS(X)                                                                 \
  X(std::optional<std::vector<std::int64_t>>, size, std::nullopt, ::xgrad::options::any)   \
  X(std::optional<std::vector<double>>, scale_factor, std::nullopt, ::xgrad::options::any) \
  X(std::string, mode, "nearest", ::xgrad::options::any)                                   \
  X(std::optional<bool>, align_corners, std::nullopt, ::xgrad::options::any)               \
  X(std::optional<bool>, recompute_scale_factor, std::nullopt, ::xgrad::options::any)
  XGRAD_OPTIONS(UpsampleOptions, XGRAD_NN_FIELDS)
#undef XGRAD_NN_FIELDS
};

namespace functional {

/// Resizes input [N, C, *spatial] (see the top of this file for formulas, modes and errors).
Tensor interpolate(const Tensor& input, const InterpolateFuncOptions& options);
/// [*, C r^2, H, W] -> [*, C, H r, W r] (see the top of this file).
Tensor pixel_shuffle(const Tensor& input, std::int64_t upscale_factor);
/// [*, C, H r, W r] -> [*, C r^2, H, W] (see the top of this file).
Tensor pixel_unshuffle(const Tensor& input, std::int64_t downscale_factor);

}  // namespace functional

/// interpolate as a module; prints "scale_factor=2.0, mode='nearest'" or "size=[4, 4],
/// mode='bilinear'" like PyTorch. Errors name "Upsample"; the options are checked on
/// construction (both/neither of size and scale_factor, unknown mode, align_corners with a
/// nearest mode) and against the input's rank in forward.
class Upsample : public Module {
 public:
  explicit Upsample(UpsampleOptions options = {});
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;
  const UpsampleOptions& options() const { return options_; }

 private:
  UpsampleOptions options_;
};

class PixelShuffle : public Module {
 public:
  explicit PixelShuffle(std::int64_t upscale_factor);
  Tensor forward(const Tensor& input) override;
  /// "upscale_factor=2"
  std::string extra_repr() const override;
  std::int64_t upscale_factor() const { return r_; }

 private:
  std::int64_t r_;
};

class PixelUnshuffle : public Module {
 public:
  explicit PixelUnshuffle(std::int64_t downscale_factor);
  Tensor forward(const Tensor& input) override;
  /// "downscale_factor=2"
  std::string extra_repr() const override;
  std::int64_t downscale_factor() const { return r_; }

 private:
  std::int64_t r_;
};

}  // namespace xgrad::nn
