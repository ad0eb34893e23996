// Per-sample transforms (data augmentation), like torchvision.transforms on tensors:
// Normalize, RandomCrop, RandomHorizontalFlip, RandomAffine, RandomErasing, Compose, Lambda.
// Attach one to a DataLoader with DataLoaderOptions::transform: it then runs on every
// example's data inside the loader's (parallel) collation.
//
// Images: a sample is a tensor of shape [..., C, H, W] (usually [C, H, W]) or [H, W] (one
// channel); the transforms act on the last two dims, identically on every leading index
// ("plane"); "channel" means dim -3 (a 2-d image has one channel). torchvision requires at
// least 3 dims for Normalize and RandomErasing; we also take [H, W] as one channel.
//
// Randomness: a transform draws only from the SampleGenerator it is given. The DataLoader
// gives example k of epoch e (its position k in the epoch's order, 0-based) the generator
// SampleGenerator::for_sample(seed, e, k), seed being DataLoaderOptions::seed: a sample's
// augmentation is a pure function of (seed, e, k), the same at every thread count and
// collation order, different from one epoch to the next, and independent of the global
// generator (neither used nor advanced). torchvision draws from the global torch generator
// (per worker); the numbers differ from torchvision's, the distributions are the same.
//
// Results are fresh tensors without autograd history, in the input's dtype (or the input
// itself when a random transform decides to do nothing).
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <utility>
#include <vector>

#include "xgrad/autograd/tensor.hpp"

namespace xgrad::data {

/// A small random generator for one sample's transforms: splitmix64 (64-bit state, a fixed,
/// platform-independent sequence).
class SampleGenerator {
 public:
  explicit SampleGenerator(std::uint64_t seed) : state_(seed) {}
  /// The generator of the sample at position `position` of epoch `epoch` of a loader seeded
  /// with `seed` (the three are hashed together; distinct triples give unrelated streams).
  static SampleGenerator for_sample(std::uint64_t seed, std::int64_t epoch, std::int64_t position) {
    std::uint64_t s = mix(seed ^ 0x7f4a7c159e3779b9ULL);
    s = mix(s ^ static_cast<std::uint64_t>(epoch));
    s = mix(s ^ static_cast<std::uint64_t>(position));
    return SampleGenerator(s);
  }

  /// Next 64 random bits.
  std::uint64_t next() {
    state_ += 0x9e3779b97f4a7c15ULL;
    return mix_bits(state_);
  }
  /// U[0, 1), from the top 53 bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  /// U[lo, hi) (lo when lo == hi).
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  /// Uniform integer in [lo, hi), hi > lo, unbiased (rejection sampling) — torch.randint(lo, hi).
  std::int64_t randint(std::int64_t lo, std::int64_t hi) {
    const auto bound = static_cast<std::uint64_t>(hi - lo);
    const std::uint64_t limit =
        std::numeric_limits<std::uint64_t>::max() - std::numeric_limits<std::uint64_t>::max() % bound;
    std::uint64_t v;
    do v = next();
    while (v >= limit);
    return lo + static_cast<std::int64_t>(v % bound);
  }

 private:
  static std::uint64_t mix_bits(std::uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  static std::uint64_t mix(std::uint64_t z) { return mix_bits(z + 0x9e3779b97f4a7c15ULL); }
  std::uint64_t state_;
};

/// Base class: maps one sample to a tensor, drawing any randomness from `gen`.
/// Implementations must be safe to call from several threads at once (const, no shared
/// mutable state): the DataLoader runs them in parallel.
class Transform {
 public:
  virtual ~Transform() = default;
  virtual Tensor operator()(const Tensor& sample, SampleGenerator& gen) const = 0;
};

using TransformPtr = std::shared_ptr<const Transform>;

/// out[..., c, :, :] = (x[..., c, :, :] - mean[c]) / std[c], computed in x's dtype (mean and
/// std rounded to it first, as torchvision's tensors of the image's dtype). mean and std have
/// one value (every channel) or one per channel. No randomness.
/// Throws xgrad::Error "Normalize: ..." at construction for an empty mean or std, a zero,
/// NaN or infinite std, a non-finite mean; when called, for a non-floating image, an image
/// with fewer than 2 dims, or a mean / std whose length is neither 1 nor the image's
/// channel count.
class Normalize : public Transform {
 public:
  Normalize(std::vector<double> mean, std::vector<double> std);
  Tensor operator()(const Tensor& sample, SampleGenerator& gen) const override;

 private:
  std::vector<double> mean_;
  std::vector<double> std_;
};

/// How RandomCrop pads (torchvision's padding_mode): constant (the fill value), edge (repeat
/// the border pixel), reflect (mirror without repeating the border: 2 1 | 0 1 2 | 1 0; each
/// pad must be smaller than the dim), symmetric (mirror repeating it: 1 0 | 0 1 2 | 2 1;
/// each pad at most the dim).
enum class PaddingMode { constant, edge, reflect, symmetric };

/// Crops a random size[0] x size[1] window of the (padded) image (torchvision RandomCrop):
///  * size: {s} (square) or {h, w}, positive;
///  * padding: {} (none), {p} (all sides), {left/right, top/bottom} or {left, top, right,
///    bottom}, non-negative; the image is padded first with padding_mode (fill for
///    constant);
///  * pad_if_needed: when the padded image is still narrower (shorter) than the crop, pad
///    the difference on BOTH left and right (top and bottom), as torchvision does.
/// The window's top row i is drawn uniformly from [0, H' - h] and then its left column j
/// from [0, W' - w] (H', W': padded size); nothing is drawn when H' == h and W' == w.
/// Output shape [..., h, w], any dtype (fill cast to it).
/// Throws xgrad::Error "RandomCrop: ..." at construction for a bad size or padding; when
/// called, for an image with fewer than 2 dims, a crop larger than the padded image (naming
/// both sizes and the padding), or a reflect / symmetric pad too large for the image.
class RandomCrop : public Transform {
 public:
  explicit RandomCrop(std::vector<std::int64_t> size, std::vector<std::int64_t> padding = {},
                      bool pad_if_needed = false, double fill = 0.0, PaddingMode padding_mode = PaddingMode::constant);
  Tensor operator()(const Tensor& sample, SampleGenerator& gen) const override;

 private:
  std::int64_t height_, width_;
  std::int64_t left_ = 0, top_ = 0, right_ = 0, bottom_ = 0;
  bool pad_if_needed_;
  double fill_;
  PaddingMode mode_;
};

/// Mirrors the image left-right (last dim reversed) when a uniform draw u < p, else returns
/// it unchanged (torchvision RandomHorizontalFlip; one draw per call). Any dtype.
/// Throws xgrad::Error "RandomHorizontalFlip: ..." for p outside [0, 1] (torchvision does
/// not check) and, when called, for an image with fewer than 2 dims.
class RandomHorizontalFlip : public Transform {
 public:
  explicit RandomHorizontalFlip(double p = 0.5);
  Tensor operator()(const Tensor& sample, SampleGenerator& gen) const override;

 private:
  double p_;
};

/// Interpolation of RandomAffine (torchvision's InterpolationMode NEAREST / BILINEAR).
enum class Interpolation { nearest, bilinear };

/// A random affine map keeping the image centre fixed (torchvision RandomAffine without
/// shear): draws angle ~ U[degrees], then, with translate = {a, b}, tx = round(U[-a W, a W]),
/// ty = round(U[-b H, b H]) (round half to even), then, with scale = {lo, hi}, s ~ U[lo, hi]
/// (else 1). degrees: {d} (d >= 0: the range [-d, d]) or {lo, hi}; positive angles turn the
/// image clockwise (on screen, rows going down).
/// Output pixel (x, y) samples the input at (torchvision's inverse matrix, grid_sample with
/// align_corners = false), with cx = (W - 1) / 2, cy = (H - 1) / 2, r = angle in radians:
///   xs = ( cos r (x - cx - tx) + sin r (y - cy - ty)) / s + cx
///   ys = (-sin r (x - cx - tx) + cos r (y - cy - ty)) / s + cy
/// nearest: the input pixel at (round(xs), round(ys)) (half to even), or fill when outside;
/// bilinear (floating images only): v = sum of the in-range corners' weights times their
/// values, m = the sum of those weights, out = v m + (1 - m) fill (torchvision's mask
/// blending). The coordinates are computed in double (torchvision: in the image's dtype),
/// so a float32 result can differ where a coordinate lies within rounding of a half pixel.
/// Output shape = input shape. fill: one value for all channels (torchvision also takes one
/// per channel).
/// Throws xgrad::Error "RandomAffine: ..." at construction for a negative single degree,
/// degrees / translate / scale of the wrong length, lo > hi, translate outside [0, 1], a
/// non-positive scale; when called, for an image with fewer than 2 dims, or bilinear on a
/// non-floating image.
class RandomAffine : public Transform {
 public:
  explicit RandomAffine(std::vector<double> degrees, std::vector<double> translate = {}, std::vector<double> scale = {},
                        double fill = 0.0, Interpolation interpolation = Interpolation::nearest);
  Tensor operator()(const Tensor& sample, SampleGenerator& gen) const override;

 private:
  double min_degree_, max_degree_;
  std::vector<double> translate_;
  std::vector<double> scale_;
  double fill_;
  Interpolation interpolation_;
};

/// With probability p (a uniform draw u < p), sets a random rectangle of the image to
/// `value` (torchvision RandomErasing, Zhong et al. 2017): up to 10 attempts draw an area
/// fraction a ~ U[scale] and an aspect ratio r = exp(U[log ratio]); h = round(sqrt(a H W r)),
/// w = round(sqrt(a H W / r)) (half to even); the first attempt with h < H and w < W draws
/// the top row i ~ U{0..H-h}, then the left column j ~ U{0..W-w}, and fills
/// [i, i + h) x [j, j + w) of every plane with value[c] (one value, or one per channel).
/// When no attempt fits, or u >= p, the image is returned unchanged. Any dtype (value cast
/// to it). torchvision's value = "random" (normal noise) is not provided.
/// Throws xgrad::Error "RandomErasing: ..." at construction for p outside [0, 1], a scale
/// outside [0, 1], a non-positive ratio, a range with lo > hi (torchvision only warns), an
/// empty value list; when called, for an image with fewer than 2 dims, or a value list whose
/// length is neither 1 nor the channel count.
class RandomErasing : public Transform {
 public:
  explicit RandomErasing(double p = 0.5, std::pair<double, double> scale = {0.02, 0.33},
                         std::pair<double, double> ratio = {0.3, 3.3}, std::vector<double> value = {0.0});
  Tensor operator()(const Tensor& sample, SampleGenerator& gen) const override;

 private:
  double p_;
  std::pair<double, double> scale_;
  std::pair<double, double> ratio_;
  std::vector<double> value_;
};

/// Applies the transforms in order, passing each the previous one's output and the same
/// generator (torchvision Compose). An empty list is the identity.
/// Throws xgrad::Error "Compose: ..." for a null transform (naming its position).
class Compose : public Transform {
 public:
  explicit Compose(std::vector<TransformPtr> transforms);
  Tensor operator()(const Tensor& sample, SampleGenerator& gen) const override;
  const std::vector<TransformPtr>& transforms() const { return transforms_; }

 private:
  std::vector<TransformPtr> transforms_;
};

/// A user function as a transform (torchvision Lambda); the first form also gets the
/// sample's generator, for random user transforms. The function must be thread-safe.
/// Throws xgrad::Error "Lambda: ..." for an empty function and, when called, when the
/// function returns an undefined tensor.
class Lambda : public Transform {
 public:
  using Fn = std::function<Tensor(const Tensor&, SampleGenerator&)>;
  explicit Lambda(Fn fn);
  explicit Lambda(std::function<Tensor(const Tensor&)> fn);
  Tensor operator()(const Tensor& sample, SampleGenerator& gen) const override;

 private:
  Fn fn_;
};

}  // namespace xgrad::data
