// interpolate (nearest, nearest-exact, linear, bilinear, bicubic, trilinear), Upsample,
// pixel_shuffle and pixel_unshuffle. interpolate is a separable linear map: per spatial dim a
// table of (source index, weight) taps per output index; the forward applies it, the
// backward applies its adjoint (a scatter-add with the same taps), each recorded with the
// other as its backward so that derivatives of any order are right.
#include <algorithm>
#include <cmath>
#include <memory>

#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/kernel/kernel.hpp"
#include "xgrad/autograd/node.hpp"
#include "xgrad/autograd/shape.hpp"
#include "xgrad/nn/upsampling.hpp"
#include "xgrad/autograd/profile_scope.hpp"

namespace xgrad::nn {

namespace F = functional;

namespace {

using Grads = std::vector<Tensor>;

enum class Mode { nearest, nearest_exact, linear, bilinear, bicubic, trilinear };

struct ModeInfo {
  Mode mode;
  std::string_view name;
  std::int64_t rank;  // 0: 3, 4 or 5
  std::string_view layout;
  std::string_view grad_fn;  // without the "<k>DBackward" tail
};

constexpr ModeInfo kModes[] = {
    {Mode::nearest, "nearest", 0, "", "UpsampleNearest"},
    {Mode::nearest_exact, "nearest-exact", 0, "", "UpsampleNearestExact"},
    {Mode::linear, "linear", 3, "[N, C, W]", "UpsampleLinear"},
    {Mode::bilinear, "bilinear", 4, "[N, C, H, W]", "UpsampleBilinear"},
    {Mode::bicubic, "bicubic", 4, "[N, C, H, W]", "UpsampleBicubic"},
    {Mode::trilinear, "trilinear", 5, "[N, C, D, H, W]", "UpsampleTrilinear"},
};

const ModeInfo& mode_info(const std::string& mode, std::string_view op) {
  for (const auto& m : kModes)
    if (m.name == mode) return m;
  throw Error(fmt::format(
      "{}: unknown mode '{}' (expected nearest, nearest-exact, linear, bilinear, bicubic or trilinear)", op, mode));
}

bool is_nearest(Mode m) { return m == Mode::nearest || m == Mode::nearest_exact; }

// The checks that need no input (Upsample runs them on construction).
const ModeInfo& check_options(const std::optional<std::vector<std::int64_t>>& size,
                              const std::optional<std::vector<double>>& scale, const std::string& mode,
                              std::optional<bool> align_corners, std::string_view op) {
  const ModeInfo& m = mode_info(mode, op);
  if (size && scale) throw Error(fmt::format("{}: only one of size or scale_factor should be defined", op));
  if (!size && !scale) throw Error(fmt::format("{}: either size or scale_factor should be defined", op));
  if (align_corners && is_nearest(m.mode))
    throw Error(
        fmt::format("{}: align_corners can only be set with the interpolating modes (linear, bilinear, "
                    "bicubic, trilinear), got mode '{}'",
                    op, mode));
  if ((size && size->empty()) || (scale && scale->empty()))
    throw Error(fmt::format("{}: {} must not be empty", op, size ? "size" : "scale_factor"));
  return m;
}

// One spatial dim of the map: out x taps (index, weight) pairs.
struct Axis {
  std::int64_t in = 1, out = 1, taps = 1;
  std::vector<std::int64_t> idx{0};
  std::vector<double> w{1.0};
};

// PyTorch's area_pixel_compute_scale / compute_scales_value in the op-math type T.
template <class T>
T linear_scale(std::int64_t in, std::int64_t out, bool align_corners, std::optional<double> scale) {
  if (align_corners) return out > 1 ? static_cast<T>(in - 1) / static_cast<T>(out - 1) : T(0);
  if (scale && *scale > 0) return static_cast<T>(1.0 / *scale);
  return static_cast<T>(in) / static_cast<T>(out);
}

template <class T>
Axis make_axis(Mode mode, std::int64_t in, std::int64_t out, bool align_corners, std::optional<double> scale) {
  Axis a;
  a.in = in;
  a.out = out;
  if (is_nearest(mode)) {
    a.taps = 1;
    a.idx.assign(static_cast<std::size_t>(out), 0);
    a.w.assign(static_cast<std::size_t>(out), 1.0);
    // NOTE: PyTorch computes the nearest scale in float32 whatever the dtype.
    const float s =
        (scale && *scale > 0) ? static_cast<float>(1.0 / *scale) : static_cast<float>(in) / static_cast<float>(out);
    for (std::int64_t o = 0; o < out; ++o) {
      std::int64_t src;
      if (mode == Mode::nearest) {
        if (out == in)
          src = o;
        else if (out == 2 * in)
          src = o >> 1;
        else
          src = static_cast<std::int64_t>(std::floor(static_cast<float>(o) * s));
      } else {
        src = static_cast<std::int64_t>(std::floor((static_cast<float>(o) + 0.5f) * s));
      }
      a.idx[static_cast<std::size_t>(o)] = std::min(src, in - 1);
    }
    return a;
  }
  const bool cubic = mode == Mode::bicubic;
  a.taps = cubic ? 4 : 2;
  a.idx.assign(static_cast<std::size_t>(out * a.taps), 0);
  a.w.assign(static_cast<std::size_t>(out * a.taps), 0.0);
  const T s = linear_scale<T>(in, out, align_corners, scale);
  for (std::int64_t o = 0; o < out; ++o) {
    T src = align_corners ? s * static_cast<T>(o) : s * (static_cast<T>(o) + T(0.5)) - T(0.5);
    if (!cubic && !align_corners && src < T(0)) src = T(0);
    // guard_index_and_lambda: i0 = min(floor(src), in - 1), l = clamp(src - i0, 0, 1).
    const std::int64_t i0 = std::min(static_cast<std::int64_t>(std::floor(src)), in - 1);
    const T l = std::clamp(src - static_cast<T>(i0), T(0), T(1));
    const auto base = static_cast<std::size_t>(o * a.taps);
    if (!cubic) {
      a.idx[base] = i0;
      a.idx[base + 1] = i0 < in - 1 ? i0 + 1 : i0;
      a.w[base] = static_cast<double>(T(1) - l);
      a.w[base + 1] = static_cast<double>(l);
    } else {
      constexpr T A = T(-0.75);
      auto c1 = [&](T x) { return ((A + T(2)) * x - (A + T(3))) * x * x + T(1); };
      auto c2 = [&](T x) { return ((A * x - T(5) * A) * x + T(8) * A) * x - T(4) * A; };
      const T w[4] = {c2(l + T(1)), c1(l), c1(T(1) - l), c2(T(2) - l)};
      for (std::int64_t k = 0; k < 4; ++k) {
        a.idx[base + static_cast<std::size_t>(k)] = std::clamp<std::int64_t>(i0 - 1 + k, 0, in - 1);
        a.w[base + static_cast<std::size_t>(k)] = static_cast<double>(w[k]);
      }
    }
  }
  return a;
}

// The whole map: three axes (depth, height, width; missing leading ones are trivial).
struct Plan {
  Axis ax[3];
  std::int64_t spatial = 1;  // number of real spatial dims
  std::string grad_fn;
  std::int64_t in_plane() const { return ax[0].in * ax[1].in * ax[2].in; }
  std::int64_t out_plane() const { return ax[0].out * ax[1].out * ax[2].out; }
};

Shape with_spatial(const Shape& s, const Plan& p, bool out) {
  Shape r{s[0], s[1]};
  for (std::int64_t d = 3 - p.spatial; d < 3; ++d) r.push_back(out ? p.ax[d].out : p.ax[d].in);
  return r;
}

Tensor resample_adjoint(const Tensor& g, const std::shared_ptr<const Plan>& plan);

// y = M x, plane by plane.
Tensor resample(const Tensor& x, const std::shared_ptr<const Plan>& plan) {
  const Plan& p = *plan;
  Tensor out = detail::make_tensor(with_spatial(x.shape(), p, true), x.dtype(), "interpolate");
  const std::int64_t planes = x.shape()[0] * x.shape()[1], ip = p.in_plane(), op = p.out_plane();
  const Axis &ad = p.ax[0], &ah = p.ax[1], &aw = p.ax[2];
  kernel::dispatch_floating(x, "interpolate", [&]<class T>() {
    const Tensor xp = kernel::packed(x);
    const T* px = xp.data_ptr<T>();
    T* po = out.data_ptr<T>();
    kernel::parallel_for(planes, kernel::grain_for(op * ad.taps * ah.taps * aw.taps),
                         [&](std::int64_t b, std::int64_t e) {
                           for (std::int64_t q = b; q < e; ++q) {
                             const T* src = px + q * ip;
                             T* dst = po + q * op;
                             for (std::int64_t od = 0; od < ad.out; ++od)
                               for (std::int64_t oh = 0; oh < ah.out; ++oh)
                                 for (std::int64_t ow = 0; ow < aw.out; ++ow) {
                                   T acc_d = T(0);
                                   for (std::int64_t i = 0; i < ad.taps; ++i) {
                                     const auto kd = static_cast<std::size_t>(od * ad.taps + i);
                                     T acc_h = T(0);
                                     for (std::int64_t j = 0; j < ah.taps; ++j) {
                                       const auto kh = static_cast<std::size_t>(oh * ah.taps + j);
                                       const T* row = src + (ad.idx[kd] * ah.in + ah.idx[kh]) * aw.in;
                                       T acc_w = T(0);
                                       for (std::int64_t k = 0; k < aw.taps; ++k) {
                                         const auto kw = static_cast<std::size_t>(ow * aw.taps + k);
                                         acc_w += static_cast<T>(aw.w[kw]) * row[aw.idx[kw]];
                                       }
                                       acc_h += static_cast<T>(ah.w[kh]) * acc_w;
                                     }
                                     acc_d += static_cast<T>(ad.w[kd]) * acc_h;
                                   }
                                   *dst++ = acc_d;
                                 }
                           }
                         });
  });
  if (any_requires_grad({&x}))
    record(p.grad_fn, {x}, {out}, {},
           [plan](const Grads& g, const Grads&) { return Grads{resample_adjoint(g[0], plan)}; });
  return out;
}

// x = M^T g: every output gradient scattered back with the forward's weights, one plane per
// task in a fixed order (deterministic at every thread count).
Tensor resample_adjoint(const Tensor& g, const std::shared_ptr<const Plan>& plan) {
  const Plan& p = *plan;
  Tensor out = zeros(with_spatial(g.shape(), p, false), dtype(g.dtype()));
  const std::int64_t planes = g.shape()[0] * g.shape()[1], ip = p.in_plane(), op = p.out_plane();
  const Axis &ad = p.ax[0], &ah = p.ax[1], &aw = p.ax[2];
  kernel::dispatch_floating(g, "interpolate backward", [&]<class T>() {
    const Tensor gp = kernel::packed(g);
    const T* pg = gp.data_ptr<T>();
    T* po = out.data_ptr<T>();
    kernel::parallel_for(planes, kernel::grain_for(op * ad.taps * ah.taps * aw.taps),
                         [&](std::int64_t b, std::int64_t e) {
                           for (std::int64_t q = b; q < e; ++q) {
                             const T* src = pg + q * op;
                             T* dst = po + q * ip;
                             for (std::int64_t od = 0; od < ad.out; ++od)
                               for (std::int64_t oh = 0; oh < ah.out; ++oh)
                                 for (std::int64_t ow = 0; ow < aw.out; ++ow) {
                                   const T v = *src++;
                                   for (std::int64_t i = 0; i < ad.taps; ++i) {
                                     const auto kd = static_cast<std::size_t>(od * ad.taps + i);
                                     for (std::int64_t j = 0; j < ah.taps; ++j) {
                                       const auto kh = static_cast<std::size_t>(oh * ah.taps + j);
                                       T* row = dst + (ad.idx[kd] * ah.in + ah.idx[kh]) * aw.in;
                                       const T vdh = static_cast<T>(ad.w[kd]) * static_cast<T>(ah.w[kh]) * v;
                                       for (std::int64_t k = 0; k < aw.taps; ++k) {
                                         const auto kw = static_cast<std::size_t>(ow * aw.taps + k);
                                         row[aw.idx[kw]] += static_cast<T>(aw.w[kw]) * vdh;
                                       }
                                     }
                                   }
                                 }
                           }
                         });
  });
  if (any_requires_grad({&g}))
    record(p.grad_fn + "Backward", {g}, {out}, {},
           [plan](const Grads& gg, const Grads&) { return Grads{resample(gg[0], plan)}; });
  return out;
}

Tensor interpolate_impl(const Tensor& input, const std::optional<std::vector<std::int64_t>>& size,
                        const std::optional<std::vector<double>>& scale, const std::string& mode,
                        std::optional<bool> align_corners, std::optional<bool> recompute, std::string_view op) {
  detail::check_defined(input, op);
  const ModeInfo& m = check_options(size, scale, mode, align_corners, op);
  const Shape& s = input.shape();
  const std::int64_t nd = input.dim();
  if (m.rank == 0 && (nd < 3 || nd > 5))
    throw Error(
        fmt::format("{}: mode '{}' expects a 3-d, 4-d or 5-d input [N, C, *spatial], got shape {}", op, m.name, s));
  if (m.rank != 0 && nd != m.rank)
    throw Error(fmt::format("{}: mode '{}' expects a {}-d input {}, got shape {}", op, m.name, m.rank, m.layout, s));
  if (!is_floating(input.dtype()))
    throw Error(fmt::format("{}: expected a floating dtype (float32 or float64), got {} for tensor of shape {}", op,
                            input.dtype(), s));
  const std::int64_t spatial = nd - 2;
  const std::size_t count = size ? size->size() : scale->size();
  if (count != 1 && static_cast<std::int64_t>(count) != spatial)
    throw Error(fmt::format("{}: {} {} must have 1 or {} entries for an input of shape {}", op,
                            size ? "size" : "scale_factor", size ? fmt::format("{}", *size) : fmt::format("{}", *scale),
                            spatial, s));
  if (size && recompute && *recompute)
    throw Error(fmt::format("{}: recompute_scale_factor is not meaningful with an explicit size", op));
  Shape out_sizes;
  std::vector<std::optional<double>> scales;
  for (std::int64_t i = 0; i < spatial; ++i) {
    const std::size_t k = count == 1 ? 0 : static_cast<std::size_t>(i);
    const std::int64_t in = s[static_cast<std::size_t>(i + 2)];
    if (size) {
      out_sizes.push_back((*size)[k]);
      scales.push_back(std::nullopt);
    } else {
      const double f = (*scale)[k];
      const double o = std::floor(static_cast<double>(in) * f);
      out_sizes.push_back(std::isfinite(o) && o > 0 ? static_cast<std::int64_t>(o) : 0);
      if (!(f > 0) || !std::isfinite(f))
        throw Error(fmt::format("{}: scale_factor must be positive and finite, got {}", op, *scale));
      scales.push_back(recompute && *recompute ? std::nullopt : std::optional<double>(f));
    }
  }
  const Shape spatial_in(s.begin() + 2, s.end());
  for (std::int64_t i = 0; i < spatial; ++i)
    if (spatial_in[static_cast<std::size_t>(i)] < 1 || out_sizes[static_cast<std::size_t>(i)] < 1)
      throw Error(
          fmt::format("{}: input and output sizes should be greater than 0, got input of shape {} (spatial {}) "
                      "and output size {}",
                      op, s, spatial_in, out_sizes));
  auto plan = std::make_shared<Plan>();
  plan->spatial = spatial;
  plan->grad_fn = fmt::format("{}{}DBackward", m.grad_fn, spatial);
  const bool ac = align_corners.value_or(false);
  for (std::int64_t i = 0; i < spatial; ++i) {
    const auto k = static_cast<std::size_t>(i);
    Axis& a = plan->ax[3 - spatial + i];
    if (input.dtype() == Dtype::float32)
      a = make_axis<float>(m.mode, spatial_in[k], out_sizes[k], ac, scales[k]);
    else
      a = make_axis<double>(m.mode, spatial_in[k], out_sizes[k], ac, scales[k]);
  }
  return resample(input, plan);
}

// [*, C, H, W] -> (prod(*), C, H, W), with checks shared by both shuffles.
struct Shuffle {
  Shape lead;
  std::int64_t b = 1, c = 0, h = 0, w = 0;
};

Shuffle check_shuffle(const Tensor& x, std::int64_t r, std::string_view op, std::string_view arg) {
  detail::check_defined(x, op);
  if (x.dim() < 3)
    throw Error(fmt::format("{}: expected an input with at least 3 dims [*, C, H, W], got shape {}", op, x.shape()));
  if (r < 1) throw Error(fmt::format("{}: {} must be > 0, got {}", op, arg, r));
  Shuffle s;
  const Shape& sh = x.shape();
  s.lead.assign(sh.begin(), sh.end() - 3);
  for (std::int64_t v : s.lead) s.b *= v;
  s.c = sh[sh.size() - 3];
  s.h = sh[sh.size() - 2];
  s.w = sh[sh.size() - 1];
  return s;
}

}  // namespace

namespace functional {

Tensor interpolate(const Tensor& input, const InterpolateFuncOptions& o) {
  XGRAD_PROFILE_OP("interpolate", input);
  return interpolate_impl(input, o.size_, o.scale_factor_, o.mode_, o.align_corners_, o.recompute_scale_factor_,
                          "interpolate");
}

Tensor pixel_shuffle(const Tensor& input, std::int64_t r) {
  XGRAD_PROFILE_OP("pixel_shuffle", input);
  const Shuffle s = check_shuffle(input, r, "pixel_shuffle", "upscale_factor");
  if (s.c % (r * r) != 0)
    throw Error(
        fmt::format("pixel_shuffle: the channel dim (-3) of input shape {} has size {}, which is not divisible "
                    "by upscale_factor^2 = {}",
                    input.shape(), s.c, r * r));
  const std::int64_t oc = s.c / (r * r);
  Shape out = s.lead;
  out.insert(out.end(), {oc, s.h * r, s.w * r});
  return reshape(permute(reshape(input, {s.b, oc, r, r, s.h, s.w}), {0, 1, 4, 2, 5, 3}), out);
}

Tensor pixel_unshuffle(const Tensor& input, std::int64_t r) {
  XGRAD_PROFILE_OP("pixel_unshuffle", input);
  const Shuffle s = check_shuffle(input, r, "pixel_unshuffle", "downscale_factor");
  if (s.h % r != 0 || s.w % r != 0)
    throw Error(
        fmt::format("pixel_unshuffle: the spatial sizes (H, W) = ({}, {}) of input shape {} must be divisible "
                    "by downscale_factor = {}",
                    s.h, s.w, input.shape(), r));
  const std::int64_t oh = s.h / r, ow = s.w / r;
  Shape out = s.lead;
  out.insert(out.end(), {s.c * r * r, oh, ow});
  return reshape(permute(reshape(input, {s.b, s.c, oh, r, ow, r}), {0, 1, 3, 5, 2, 4}), out);
}

}  // namespace functional

Upsample::Upsample(UpsampleOptions options) : Module("Upsample"), options_(std::move(options)) {
  check_options(options_.size_, options_.scale_factor_, options_.mode_, options_.align_corners_, "Upsample");
}

Tensor Upsample::forward(const Tensor& input) {
  return interpolate_impl(input, options_.size_, options_.scale_factor_, options_.mode_, options_.align_corners_,
                          options_.recompute_scale_factor_, "Upsample");
}

std::string Upsample::extra_repr() const {
  // PyTorch prints a single scale as a float ("2.0") and a list as a tuple-like list.
  std::string info;
  if (options_.scale_factor_) {
    const auto& f = *options_.scale_factor_;
    if (f.size() == 1) {
      info = "scale_factor=" + py_float(f[0]);
    } else {
      info = "scale_factor=(";
      for (std::size_t i = 0; i < f.size(); ++i) info += (i ? ", " : "") + py_float(f[i]);
      info += ")";
    }
  } else {
    const auto& z = *options_.size_;
    info = z.size() == 1 ? fmt::format("size={}", z[0]) : fmt::format("size=({})", fmt::join(z, ", "));
  }
  return info + fmt::format(", mode='{}'", options_.mode_);
}

PixelShuffle::PixelShuffle(std::int64_t upscale_factor) : Module("PixelShuffle"), r_(upscale_factor) {
  if (r_ < 1) throw Error(fmt::format("PixelShuffle: upscale_factor must be > 0, got {}", r_));
}
Tensor PixelShuffle::forward(const Tensor& input) { return F::pixel_shuffle(input, r_); }
std::string PixelShuffle::extra_repr() const { return fmt::format("upscale_factor={}", r_); }

PixelUnshuffle::PixelUnshuffle(std::int64_t downscale_factor) : Module("PixelUnshuffle"), r_(downscale_factor) {
  if (r_ < 1) throw Error(fmt::format("PixelUnshuffle: downscale_factor must be > 0, got {}", r_));
}
Tensor PixelUnshuffle::forward(const Tensor& input) { return F::pixel_unshuffle(input, r_); }
std::string PixelUnshuffle::extra_repr() const { return fmt::format("downscale_factor={}", r_); }

}  // namespace xgrad::nn
