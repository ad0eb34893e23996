// Per-sample transforms: Normalize, RandomCrop, RandomHorizontalFlip, RandomAffine,
// RandomErasing, Compose, Lambda.
#include "xgrad/data/transforms.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "xgrad/autograd/kernel/kernel.hpp"

namespace xgrad::data {

namespace {

/// An image [..., H, W] seen as `planes` planes of h x w.
struct Planes {
  std::int64_t planes, h, w;
};

Planes image_planes(const Tensor& x, const char* who) {
  if (!x.defined()) throw Error(fmt::format("{}: expected a defined image tensor", who));
  if (x.dim() < 2)
    throw Error(fmt::format("{}: expected an image of shape [..., C, H, W] or [H, W], got shape {}", who, x.shape()));
  const std::int64_t h = x.size(-2), w = x.size(-1);
  const std::int64_t hw = h * w;
  return {hw == 0 ? shape_numel(Shape(x.shape().begin(), x.shape().end() - 2)) : x.numel() / hw, h, w};
}

/// Size of dim -3 (1 for a 2-d image).
std::int64_t channels(const Tensor& x) { return x.dim() >= 3 ? x.size(-3) : 1; }

Shape with_hw(const Tensor& x, std::int64_t h, std::int64_t w) {
  Shape s = x.shape();
  s[s.size() - 2] = h;
  s[s.size() - 1] = w;
  return s;
}

void check_probability(double p, const char* who) {
  if (!(p >= 0.0 && p <= 1.0)) throw Error(fmt::format("{}: p must be in [0, 1], got {}", who, p));
}

/// out[p, y, x] = in[p, rows[y], cols[x]], or fill where rows[y] or cols[x] is -1.
Tensor remap(const Tensor& x, const std::vector<std::int64_t>& rows, const std::vector<std::int64_t>& cols,
             double fill) {
  const Planes in = image_planes(x, "remap");
  const auto oh = static_cast<std::int64_t>(rows.size()), ow = static_cast<std::int64_t>(cols.size());
  const Tensor c = x.contiguous();
  Tensor out = xgrad::detail::make_tensor(with_hw(x, oh, ow), x.dtype());
  kernel::dispatch(x.dtype(), [&]<class T>() {
    const T* src = c.data_ptr<T>();
    T* dst = out.data_ptr<T>();
    const T f = static_cast<T>(fill);
    for (std::int64_t p = 0; p < in.planes; ++p) {
      const T* s = src + p * in.h * in.w;
      T* d = dst + p * oh * ow;
      for (std::int64_t y = 0; y < oh; ++y) {
        const std::int64_t r = rows[static_cast<std::size_t>(y)];
        for (std::int64_t xx = 0; xx < ow; ++xx) {
          const std::int64_t q = cols[static_cast<std::size_t>(xx)];
          d[y * ow + xx] = (r < 0 || q < 0) ? f : s[r * in.w + q];
        }
      }
    }
  });
  return out;
}

const char* mode_name(PaddingMode m) {
  switch (m) {
    case PaddingMode::constant:
      return "constant";
    case PaddingMode::edge:
      return "edge";
    case PaddingMode::reflect:
      return "reflect";
    case PaddingMode::symmetric:
      return "symmetric";
  }
  return "?";
}

/// Source index of padded coordinate q (0 <= q < lo + n + hi) along a dim of size n padded by
/// lo before; -1 for the fill value. The caller checked the pad sizes for reflect/symmetric.
std::int64_t padded_source(std::int64_t q, std::int64_t n, std::int64_t lo, PaddingMode mode) {
  const std::int64_t s = q - lo;
  if (s >= 0 && s < n) return s;
  switch (mode) {
    case PaddingMode::constant:
      return -1;
    case PaddingMode::edge:
      return std::clamp<std::int64_t>(s, 0, n - 1);
    case PaddingMode::reflect:
      return s < 0 ? -s : 2 * (n - 1) - s;
    case PaddingMode::symmetric:
      return s < 0 ? -s - 1 : 2 * n - 1 - s;
  }
  return -1;
}

}  // namespace

// ---- Normalize -------------------------------------------------------------------------

Normalize::Normalize(std::vector<double> mean, std::vector<double> std) : mean_(std::move(mean)), std_(std::move(std)) {
  if (mean_.empty()) throw Error("Normalize: expected at least one mean value, got none");
  if (std_.empty()) throw Error("Normalize: expected at least one std value, got none");
  for (std::size_t i = 0; i < mean_.size(); ++i)
    if (!std::isfinite(mean_[i]))
      throw Error(fmt::format("Normalize: mean must be finite, got {} at position {}", mean_[i], i));
  for (std::size_t i = 0; i < std_.size(); ++i)
    if (!std::isfinite(std_[i]) || std_[i] == 0.0)
      throw Error(
          fmt::format("Normalize: std must be finite and non-zero (it divides), got {} at position {}", std_[i], i));
}

Tensor Normalize::operator()(const Tensor& sample, SampleGenerator&) const {
  const Planes in = image_planes(sample, "Normalize");
  if (!is_floating(sample.dtype()))
    throw Error(fmt::format("Normalize: expected a floating-point image, got {} (convert it first)", sample.dtype()));
  const std::int64_t c = channels(sample);
  for (const auto* v : {&mean_, &std_})
    if (v->size() != 1 && static_cast<std::int64_t>(v->size()) != c)
      throw Error(
          fmt::format("Normalize: {} has {} values but the image of shape {} has {} channel(s); give one "
                      "value or one per channel",
                      v == &mean_ ? "mean" : "std", v->size(), sample.shape(), c));
  const Tensor src_t = sample.contiguous();
  Tensor out = xgrad::detail::make_tensor(sample.shape(), sample.dtype());
  const std::int64_t hw = in.h * in.w;
  kernel::dispatch_floating(sample.dtype(), "Normalize", [&]<class T>() {
    const T* src = src_t.data_ptr<T>();
    T* dst = out.data_ptr<T>();
    for (std::int64_t p = 0; p < in.planes; ++p) {
      const auto ch = static_cast<std::size_t>(p % c);
      const T m = static_cast<T>(mean_.size() == 1 ? mean_[0] : mean_[ch]);
      const T s = static_cast<T>(std_.size() == 1 ? std_[0] : std_[ch]);
      for (std::int64_t k = p * hw; k < (p + 1) * hw; ++k) dst[k] = (src[k] - m) / s;
    }
  });
  return out;
}

// ---- RandomCrop ------------------------------------------------------------------------

RandomCrop::RandomCrop(std::vector<std::int64_t> size, std::vector<std::int64_t> padding, bool pad_if_needed,
                       double fill, PaddingMode padding_mode)
    : pad_if_needed_(pad_if_needed), fill_(fill), mode_(padding_mode) {
  if (size.size() != 1 && size.size() != 2)
    throw Error(fmt::format("RandomCrop: size must have 1 or 2 values ({{s}} or {{h, w}}), got {}", size.size()));
  height_ = size[0];
  width_ = size.back();
  if (height_ < 1 || width_ < 1)
    throw Error(fmt::format("RandomCrop: crop size must be positive, got [{}, {}]", height_, width_));
  for (std::size_t i = 0; i < padding.size(); ++i)
    if (padding[i] < 0)
      throw Error(fmt::format("RandomCrop: padding must be non-negative, got {} at position {}", padding[i], i));
  switch (padding.size()) {
    case 0:
      break;
    case 1:
      left_ = top_ = right_ = bottom_ = padding[0];
      break;
    case 2:
      left_ = right_ = padding[0];
      top_ = bottom_ = padding[1];
      break;
    case 4:
      left_ = padding[0];
      top_ = padding[1];
      right_ = padding[2];
      bottom_ = padding[3];
      break;
    default:
      throw Error(fmt::format("RandomCrop: padding must have 0, 1, 2 or 4 values, got {}", padding.size()));
  }
}

Tensor RandomCrop::operator()(const Tensor& sample, SampleGenerator& gen) const {
  const Planes in = image_planes(sample, "RandomCrop");
  std::int64_t l = left_, t = top_, r = right_, b = bottom_;
  if (pad_if_needed_) {
    if (in.w + l + r < width_) {
      const std::int64_t d = width_ - (in.w + l + r);
      l += d;
      r += d;
    }
    if (in.h + t + b < height_) {
      const std::int64_t d = height_ - (in.h + t + b);
      t += d;
      b += d;
    }
  }
  const std::int64_t ph = in.h + t + b, pw = in.w + l + r;
  if (ph < height_ || pw < width_)
    throw Error(
        fmt::format("RandomCrop: crop size [{}, {}] is larger than the padded image size [{}, {}] (image "
                    "of shape {}, padding left {}, top {}, right {}, bottom {})",
                    height_, width_, ph, pw, sample.shape(), l, t, r, b));
  if (mode_ == PaddingMode::reflect || mode_ == PaddingMode::symmetric) {
    // reflect mirrors without the border pixel: a pad needs more pixels than itself.
    const std::int64_t slack = mode_ == PaddingMode::reflect ? 1 : 0;
    if (std::max(l, r) + slack > in.w || std::max(t, b) + slack > in.h)
      throw Error(
          fmt::format("RandomCrop: {} padding (left {}, top {}, right {}, bottom {}) must be {} the image "
                      "size [{}, {}] in each dim",
                      mode_name(mode_), l, t, r, b, slack ? "smaller than" : "at most", in.h, in.w));
  }
  if (mode_ == PaddingMode::edge && ((in.w == 0 && l + r > 0) || (in.h == 0 && t + b > 0)))
    throw Error(
        fmt::format("RandomCrop: edge padding needs pixels to repeat, got an image of shape {}", sample.shape()));
  std::int64_t i = 0, j = 0;
  if (ph != height_ || pw != width_) {
    i = gen.randint(0, ph - height_ + 1);
    j = gen.randint(0, pw - width_ + 1);
  }
  std::vector<std::int64_t> rows(static_cast<std::size_t>(height_)), cols(static_cast<std::size_t>(width_));
  for (std::int64_t y = 0; y < height_; ++y) rows[static_cast<std::size_t>(y)] = padded_source(i + y, in.h, t, mode_);
  for (std::int64_t x = 0; x < width_; ++x) cols[static_cast<std::size_t>(x)] = padded_source(j + x, in.w, l, mode_);
  return remap(sample, rows, cols, fill_);
}

// ---- RandomHorizontalFlip ----------------------------------------------------------------

RandomHorizontalFlip::RandomHorizontalFlip(double p) : p_(p) { check_probability(p, "RandomHorizontalFlip"); }

Tensor RandomHorizontalFlip::operator()(const Tensor& sample, SampleGenerator& gen) const {
  const Planes in = image_planes(sample, "RandomHorizontalFlip");
  if (!(gen.uniform() < p_)) return sample;
  std::vector<std::int64_t> rows(static_cast<std::size_t>(in.h)), cols(static_cast<std::size_t>(in.w));
  for (std::int64_t y = 0; y < in.h; ++y) rows[static_cast<std::size_t>(y)] = y;
  for (std::int64_t x = 0; x < in.w; ++x) cols[static_cast<std::size_t>(x)] = in.w - 1 - x;
  return remap(sample, rows, cols, 0.0);
}

// ---- RandomAffine ----------------------------------------------------------------------

RandomAffine::RandomAffine(std::vector<double> degrees, std::vector<double> translate, std::vector<double> scale,
                           double fill, Interpolation interpolation)
    : translate_(std::move(translate)), scale_(std::move(scale)), fill_(fill), interpolation_(interpolation) {
  if (degrees.size() == 1) {
    if (!(degrees[0] >= 0.0))
      throw Error(fmt::format("RandomAffine: a single degrees value must be non-negative, got {}", degrees[0]));
    min_degree_ = -degrees[0];
    max_degree_ = degrees[0];
  } else if (degrees.size() == 2) {
    if (!(degrees[0] <= degrees[1]))
      throw Error(
          fmt::format("RandomAffine: degrees must be a range [min, max], got [{}, {}]", degrees[0], degrees[1]));
    min_degree_ = degrees[0];
    max_degree_ = degrees[1];
  } else {
    throw Error(fmt::format("RandomAffine: degrees must have 1 or 2 values, got {}", degrees.size()));
  }
  if (!std::isfinite(min_degree_) || !std::isfinite(max_degree_))
    throw Error(fmt::format("RandomAffine: degrees must be finite, got [{}, {}]", min_degree_, max_degree_));
  if (!translate_.empty()) {
    if (translate_.size() != 2)
      throw Error(fmt::format("RandomAffine: translate must have 2 values (a, b), got {}", translate_.size()));
    for (double v : translate_)
      if (!(v >= 0.0 && v <= 1.0))
        throw Error(fmt::format("RandomAffine: translate values must be in [0, 1], got [{}, {}]", translate_[0],
                                translate_[1]));
  }
  if (!scale_.empty()) {
    if (scale_.size() != 2)
      throw Error(fmt::format("RandomAffine: scale must have 2 values (min, max), got {}", scale_.size()));
    if (!(scale_[0] > 0.0 && scale_[1] > 0.0 && std::isfinite(scale_[1])) || scale_[0] > scale_[1])
      throw Error(fmt::format("RandomAffine: scale must be a range [min, max] of positive values, got [{}, {}]",
                              scale_[0], scale_[1]));
  }
}

Tensor RandomAffine::operator()(const Tensor& sample, SampleGenerator& gen) const {
  const Planes in = image_planes(sample, "RandomAffine");
  if (interpolation_ == Interpolation::bilinear && !is_floating(sample.dtype()))
    throw Error(
        fmt::format("RandomAffine: bilinear interpolation needs a floating-point image, got {}", sample.dtype()));
  const double angle = gen.uniform(min_degree_, max_degree_);
  double tx = 0.0, ty = 0.0, s = 1.0;
  if (!translate_.empty()) {
    const double max_dx = translate_[0] * static_cast<double>(in.w), max_dy = translate_[1] * static_cast<double>(in.h);
    tx = std::nearbyint(gen.uniform(-max_dx, max_dx));
    ty = std::nearbyint(gen.uniform(-max_dy, max_dy));
  }
  if (!scale_.empty()) s = gen.uniform(scale_[0], scale_[1]);

  constexpr double kPi = 3.14159265358979323846;
  const double rot = angle * kPi / 180.0;
  const double m0 = std::cos(rot) / s, m1 = std::sin(rot) / s, m3 = -std::sin(rot) / s, m4 = std::cos(rot) / s;
  const double m2 = -m0 * tx - m1 * ty, m5 = -m3 * tx - m4 * ty;
  const double cx = (static_cast<double>(in.w) - 1.0) / 2.0, cy = (static_cast<double>(in.h) - 1.0) / 2.0;

  const Tensor c = sample.contiguous();
  Tensor out = xgrad::detail::make_tensor(sample.shape(), sample.dtype());
  const bool bilinear = interpolation_ == Interpolation::bilinear;
  kernel::dispatch(sample.dtype(), [&]<class T>() {
    const T* src = c.data_ptr<T>();
    T* dst = out.data_ptr<T>();
    const std::int64_t hw = in.h * in.w;
    for (std::int64_t y = 0; y < in.h; ++y)
      for (std::int64_t x = 0; x < in.w; ++x) {
        const double xc = static_cast<double>(x) - cx, yc = static_cast<double>(y) - cy;
        const double xs = m0 * xc + m1 * yc + m2 + cx, ys = m3 * xc + m4 * yc + m5 + cy;
        const std::int64_t o = y * in.w + x;
        if (!bilinear) {
          const double rx = std::nearbyint(xs), ry = std::nearbyint(ys);
          const bool inside =
              rx >= 0.0 && ry >= 0.0 && rx < static_cast<double>(in.w) && ry < static_cast<double>(in.h);
          const std::int64_t k = inside ? static_cast<std::int64_t>(ry) * in.w + static_cast<std::int64_t>(rx) : 0;
          for (std::int64_t p = 0; p < in.planes; ++p)
            dst[p * hw + o] = inside ? src[p * hw + k] : static_cast<T>(fill_);
          continue;
        }
        if constexpr (std::is_floating_point_v<T>) {
          const double x0 = std::floor(xs), y0 = std::floor(ys);
          const double fx = xs - x0, fy = ys - y0;
          std::int64_t idx[4];
          double wt[4];
          double mask = 0.0;
          int n = 0;
          for (int dy = 0; dy < 2; ++dy)
            for (int dx = 0; dx < 2; ++dx) {
              const double px = x0 + dx, py = y0 + dy;
              if (px < 0.0 || py < 0.0 || px >= static_cast<double>(in.w) || py >= static_cast<double>(in.h)) continue;
              const double wgt = (dx ? fx : 1.0 - fx) * (dy ? fy : 1.0 - fy);
              idx[n] = static_cast<std::int64_t>(py) * in.w + static_cast<std::int64_t>(px);
              wt[n++] = wgt;
              mask += wgt;
            }
          for (std::int64_t p = 0; p < in.planes; ++p) {
            double v = 0.0;
            for (int k = 0; k < n; ++k) v += wt[k] * static_cast<double>(src[p * hw + idx[k]]);
            dst[p * hw + o] = static_cast<T>(v * mask + (1.0 - mask) * fill_);
          }
        }
      }
  });
  return out;
}

// ---- RandomErasing -----------------------------------------------------------------------

RandomErasing::RandomErasing(double p, std::pair<double, double> scale, std::pair<double, double> ratio,
                             std::vector<double> value)
    : p_(p), scale_(scale), ratio_(ratio), value_(std::move(value)) {
  check_probability(p, "RandomErasing");
  if (!(scale.first >= 0.0 && scale.second <= 1.0 && scale.first <= scale.second))
    throw Error(fmt::format("RandomErasing: scale must be a range [min, max] within [0, 1], got [{}, {}]", scale.first,
                            scale.second));
  if (!(ratio.first > 0.0 && ratio.first <= ratio.second && std::isfinite(ratio.second)))
    throw Error(fmt::format("RandomErasing: ratio must be a range [min, max] of positive values, got [{}, {}]",
                            ratio.first, ratio.second));
  if (value_.empty()) throw Error("RandomErasing: expected at least one fill value, got none");
}

Tensor RandomErasing::operator()(const Tensor& sample, SampleGenerator& gen) const {
  const Planes in = image_planes(sample, "RandomErasing");
  const std::int64_t c = channels(sample);
  if (value_.size() != 1 && static_cast<std::int64_t>(value_.size()) != c)
    throw Error(
        fmt::format("RandomErasing: value has {} entries but the image of shape {} has {} channel(s); give "
                    "one value or one per channel",
                    value_.size(), sample.shape(), c));
  if (!(gen.uniform() < p_)) return sample;
  const double area = static_cast<double>(in.h * in.w);
  const double log_lo = std::log(ratio_.first), log_hi = std::log(ratio_.second);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double erase_area = area * gen.uniform(scale_.first, scale_.second);
    const double aspect = std::exp(gen.uniform(log_lo, log_hi));
    const auto eh = static_cast<std::int64_t>(std::nearbyint(std::sqrt(erase_area * aspect)));
    const auto ew = static_cast<std::int64_t>(std::nearbyint(std::sqrt(erase_area / aspect)));
    if (!(eh < in.h && ew < in.w)) continue;
    const std::int64_t i = gen.randint(0, in.h - eh + 1);
    const std::int64_t j = gen.randint(0, in.w - ew + 1);
    Tensor out = sample.contiguous().clone();
    kernel::dispatch(sample.dtype(), [&]<class T>() {
      T* d = out.data_ptr<T>();
      for (std::int64_t p = 0; p < in.planes; ++p) {
        const T v = static_cast<T>(value_.size() == 1 ? value_[0] : value_[static_cast<std::size_t>(p % c)]);
        for (std::int64_t y = i; y < i + eh; ++y)
          for (std::int64_t x = j; x < j + ew; ++x) d[(p * in.h + y) * in.w + x] = v;
      }
    });
    return out;
  }
  return sample;
}

// ---- Compose, Lambda -----------------------------------------------------------------------

Compose::Compose(std::vector<TransformPtr> transforms) : transforms_(std::move(transforms)) {
  for (std::size_t i = 0; i < transforms_.size(); ++i)
    if (!transforms_[i])
      throw Error(fmt::format("Compose: transform {} (of {}) is a null pointer", i, transforms_.size()));
}

Tensor Compose::operator()(const Tensor& sample, SampleGenerator& gen) const {
  Tensor x = sample;
  for (const auto& t : transforms_) x = (*t)(x, gen);
  return x;
}

Lambda::Lambda(Fn fn) : fn_(std::move(fn)) {
  if (!fn_) throw Error("Lambda: expected a function, got an empty std::function");
}

Lambda::Lambda(std::function<Tensor(const Tensor&)> fn) {
  if (!fn) throw Error("Lambda: expected a function, got an empty std::function");
  fn_ = [f = std::move(fn)](const Tensor& x, SampleGenerator&) { return f(x); };
}

Tensor Lambda::operator()(const Tensor& sample, SampleGenerator& gen) const {
  Tensor out = fn_(sample, gen);
  if (!out.defined())
    throw Error(
        fmt::format("Lambda: the function returned an undefined tensor for a sample of shape {}", sample.shape()));
  return out;
}

}  // namespace xgrad::data
