// Pooling: every layer is reduced to windows over planes of a 4-d [N, C, H, W] tensor (1-d
// pooling and unbatched inputs are views of it). A window is the product of two per-dim lists
// of valid input positions (an Axis); max and average kernels walk them, one task per plane,
// so every output and every accumulated gradient is computed in a fixed order.
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>

#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/kernel/kernel.hpp"
#include "xgrad/autograd/node.hpp"
#include "xgrad/autograd/shape.hpp"
#include "xgrad/nn/pooling.hpp"
#include "xgrad/autograd/profile_scope.hpp"

namespace xgrad::nn {

namespace {

using Grads = std::vector<Tensor>;
using Sizes = std::vector<std::int64_t>;

// "3" for one dim, "(2, 3)" for two.
std::string sz(const Sizes& v) {
  return v.size() == 1 ? fmt::format("{}", v[0]) : fmt::format("({})", fmt::join(v, ", "));
}

template <std::size_t D>
Sizes to_sizes(const PoolSize<D>& p) {
  return Sizes(p.v.begin(), p.v.end());
}

// One dim of a pooling: for output o, the valid input positions pos[begin[o] .. begin[o+1])
// and the factor (window extent) its average divides by.
struct Axis {
  std::int64_t in = 1, out = 1;
  Sizes pos = {0}, begin = {0, 1};
  std::vector<double> count = {1.0};
};

// The windows of one pooling layer over [N, C, H, W] planes; `name` names the autograd nodes.
struct Windows {
  Axis h, w;
  std::optional<double> divisor;  // divisor_override
  std::string name;
};
using WindowsPtr = std::shared_ptr<const Windows>;

// PyTorch's pooling_output_shape.
std::int64_t pooled_size(std::int64_t in, std::int64_t k, std::int64_t s, std::int64_t p, std::int64_t d, bool ceil) {
  const std::int64_t num = in + 2 * p - d * (k - 1) - 1 + (ceil ? s - 1 : 0);
  std::int64_t out = (num >= 0 ? num / s : -((-num + s - 1) / s)) + 1;
  if (ceil && (out - 1) * s >= in + p) --out;
  return out;
}

// Window o = positions o s - p + j d, j < k, that fall inside [0, in). With include_pad the
// average's factor is the window clipped to the padded input, else the number of valid positions.
// A max window must hold an input position (with dilation one can fall on padding only, where
// PyTorch returns -inf and an index outside the plane); an empty average window gives 0.
Axis pool_axis(std::string_view op, std::int64_t in, std::int64_t out, std::int64_t k, std::int64_t s, std::int64_t p,
               std::int64_t d, bool include_pad, bool max) {
  Axis a;
  a.in = in;
  a.out = out;
  a.pos.clear();
  a.begin.assign(1, 0);
  a.count.clear();
  for (std::int64_t o = 0; o < out; ++o) {
    const std::int64_t start = o * s - p;
    for (std::int64_t j = 0; j < k; ++j)
      if (const std::int64_t x = start + j * d; x >= 0 && x < in) a.pos.push_back(x);
    a.begin.push_back(static_cast<std::int64_t>(a.pos.size()));
    const std::int64_t valid = a.begin[o + 1] - a.begin[o];
    if (max && valid == 0)
      throw Error(
          fmt::format("{}: window {} along a dim of size {} covers only padding (kernel_size {}, stride {}, "
                      "padding {}, dilation {})",
                      op, o, in, k, s, p, d));
    a.count.push_back(static_cast<double>(include_pad ? std::min(start + k, in + p) - start : valid));
  }
  return a;
}

// Adaptive window o = [floor(o in / out), ceil((o + 1) in / out)).
Axis adaptive_axis(std::int64_t in, std::int64_t out) {
  Axis a;
  a.in = in;
  a.out = out;
  a.pos.clear();
  a.begin.assign(1, 0);
  a.count.clear();
  for (std::int64_t o = 0; o < out; ++o) {
    const std::int64_t b = o * in / out, e = ((o + 1) * in + out - 1) / out;
    for (std::int64_t x = b; x < e; ++x) a.pos.push_back(x);
    a.begin.push_back(static_cast<std::int64_t>(a.pos.size()));
    a.count.push_back(static_cast<double>(e - b));
  }
  return a;
}

// ---- inputs ---------------------------------------------------------------------------------

// The input as [N, C, H, W]: `dims` spatial dims (1 or 2), batched or not.
struct Planes {
  Tensor x;
  bool batched = true;
  int dims = 2;
};

Planes as_planes(const Tensor& input, int dims, std::string_view op) {
  detail::check_defined(input, op);
  const std::int64_t nd = input.dim();
  bool ok = nd == dims + 1 || nd == dims + 2;
  for (std::int64_t i = (nd == dims + 2 ? 1 : 0); ok && i < nd; ++i) ok = input.shape()[i] > 0;
  if (!ok)
    throw Error(
        fmt::format("{}: expected a {}-d {} or {}-d {} input with non-zero sizes (the batch N may be 0), "
                    "got shape {}",
                    op, dims + 1, dims == 2 ? "[C, H, W]" : "[C, L]", dims + 2,
                    dims == 2 ? "[N, C, H, W]" : "[N, C, L]", input.shape()));
  if (!is_floating(input.dtype()))
    throw Error(fmt::format("{}: expected a floating dtype (float32 or float64), got {} for input of shape {}", op,
                            input.dtype(), input.shape()));
  Planes p{input, nd == dims + 2, dims};
  if (!p.batched) p.x = p.x.unsqueeze(0);
  if (dims == 1) p.x = p.x.unsqueeze(2);
  return p;
}

// A [N, C, H, W] result back in the input's layout.
Tensor from_planes(const Tensor& t, const Planes& p) {
  Tensor r = p.dims == 1 ? t.squeeze(2) : t;
  return p.batched ? r : r.squeeze(0);
}

// Checks kernel, stride, padding (and dilation) of a pooling over the spatial sizes `in`;
// returns the output sizes. max: padding <= half the dilated kernel; avg: <= k / 2.
Sizes check_pool(std::string_view op, const Shape& shape, const Sizes& in, const Sizes& k, const Sizes& s,
                 const Sizes& p, const Sizes& d, bool ceil, bool max) {
  auto all = [](const Sizes& v, auto pred) { return std::all_of(v.begin(), v.end(), pred); };
  if (!all(k, [](std::int64_t x) { return x > 0; }))
    throw Error(fmt::format("{}: kernel_size must be > 0, got {}", op, sz(k)));
  if (!all(s, [](std::int64_t x) { return x > 0; }))
    throw Error(fmt::format("{}: stride must be > 0, got {}", op, sz(s)));
  if (!all(d, [](std::int64_t x) { return x > 0; }))
    throw Error(fmt::format("{}: dilation must be > 0, got {}", op, sz(d)));
  if (!all(p, [](std::int64_t x) { return x >= 0; }))
    throw Error(fmt::format("{}: padding must be >= 0, got {}", op, sz(p)));
  Sizes eff(k.size()), out(k.size()), padded(k.size());
  for (std::size_t i = 0; i < k.size(); ++i) {
    eff[i] = d[i] * (k[i] - 1) + 1;
    padded[i] = in[i] + 2 * p[i];
  }
  for (std::size_t i = 0; i < k.size(); ++i)
    if (max ? p[i] > eff[i] / 2 : p[i] > k[i] / 2) {
      if (max)
        throw Error(
            fmt::format("{}: padding {} must be at most half the effective kernel size {} (kernel_size {}, "
                        "dilation {})",
                        op, sz(p), sz(eff), sz(k), sz(d)));
      throw Error(fmt::format("{}: padding {} must be at most half the kernel size {}", op, sz(p), sz(k)));
    }
  for (std::size_t i = 0; i < k.size(); ++i) out[i] = pooled_size(in[i], k[i], s[i], p[i], d[i], ceil);
  if (!all(out, [](std::int64_t x) { return x >= 1; }))
    throw Error(
        fmt::format("{}: output size {} is too small: the kernel {} (dilation {}) is larger than the input {} "
                    "padded by {} (input shape {})",
                    op, sz(out), sz(k), sz(d), sz(in), sz(p), shape));
  return out;
}

// ---- kernels --------------------------------------------------------------------------------

// f(T-typed plane index range) over the N*C planes, each plane on one task.
template <class F>
void for_planes(std::int64_t planes, std::int64_t work_per_plane, F&& f) {
  kernel::parallel_for(planes, kernel::grain_for(work_per_plane), [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t q = b; q < e; ++q) f(q);
  });
}

Tensor max_backward(const Tensor& g, const Tensor& idx, const Shape& in_shape, const std::string& name);

// out[n, c, o] = gg[n, c, idx[n, c, o]]: the gradient of max_backward (and of max_unpool2d).
Tensor gather_planes(const Tensor& gg, const Tensor& idx) {
  const Shape& gs = gg.shape();
  const Shape& is = idx.shape();
  Tensor flat = reshape(gg, {gs[0], gs[1], gs[2] * gs[3]});
  return reshape(gather(flat, 2, reshape(idx, {is[0], is[1], is[2] * is[3]})), is);
}

// True when the windows of `a` are (2o, 2o + 1) for every output o: kernel 2, stride 2, no
// padding or dilation (the common case, with a branch-free kernel below).
bool pairs(const Axis& a) {
  if (a.out * 2 > a.in) return false;
  for (std::int64_t o = 0; o < a.out; ++o)
    if (a.begin[o] != 2 * o || a.begin[o + 1] != 2 * o + 2 || a.pos[2 * o] != 2 * o || a.pos[2 * o + 1] != 2 * o + 1)
      return false;
  return true;
}

// The running maximum's update: v replaces m when larger or NaN (so NaN wins, the last one in
// window order, then the first of equal maxima). Written without branches: the comparisons on
// random data would mispredict half the time.
template <class T>
inline void take_max(T v, std::int64_t i, T& m, std::int64_t& best) {
  const bool take = v > m || v != v;
  m = take ? v : m;
  best = take ? i : best;
}

// Max over each window: (out, int64 indices h * W + w). NaN wins (the last one in window
// order), then the first of equal maxima.
std::pair<Tensor, Tensor> max_forward(const Tensor& x_in, const WindowsPtr& win) {
  const Tensor x = x_in.contiguous();
  const Shape& xs = x.shape();
  const Axis &ah = win->h, &aw = win->w;
  const Shape os{xs[0], xs[1], ah.out, aw.out};
  Tensor out = detail::make_tensor(os, x.dtype());
  Tensor idx = detail::make_tensor(os, Dtype::int64);
  const std::int64_t plane_in = ah.in * aw.in, plane_out = ah.out * aw.out;
  const std::int64_t window =
      static_cast<std::int64_t>(ah.pos.size() * aw.pos.size()) / std::max<std::int64_t>(plane_out, 1);
  kernel::dispatch_floating(x.dtype(), win->name, [&]<class T>() {
    const T* px = x.data_ptr<T>();
    T* po = out.data_ptr<T>();
    std::int64_t* pi = idx.data_ptr<std::int64_t>();
    const bool two_by_two = pairs(ah) && pairs(aw);
    for_planes(xs[0] * xs[1], plane_out * std::max<std::int64_t>(window, 1), [&](std::int64_t q) {
      const T* src = px + q * plane_in;
      T* dst = po + q * plane_out;
      std::int64_t* ind = pi + q * plane_out;
      if (two_by_two) {
        // Rows without NaN (checked first, a vectorised scan) take a select-only path the
        // compiler turns into max/blend instructions; rows with a NaN take take_max.
        const std::int64_t out_h = ah.out, out_w = aw.out, in_w = aw.in;
        for (std::int64_t oh = 0; oh < out_h; ++oh) {
          const std::int64_t r0 = 2 * oh * in_w, r1 = r0 + in_w;
          const T* s0 = src + r0;
          const T* s1 = src + r1;
          bool nan = false;
          for (std::int64_t i = 0; i < 2 * out_w; ++i) nan |= (s0[i] != s0[i]) | (s1[i] != s1[i]);
          T* m = dst + oh * out_w;
          std::int64_t* best = ind + oh * out_w;
          for (std::int64_t ow = 0; ow < out_w; ++ow) {
            const std::int64_t c = 2 * ow;
            if (nan) {
              T v = s0[c];
              std::int64_t b = r0 + c;
              take_max(s0[c + 1], r0 + c + 1, v, b);
              take_max(s1[c], r1 + c, v, b);
              take_max(s1[c + 1], r1 + c + 1, v, b);
              m[ow] = v;
              best[ow] = b;
              continue;
            }
            // The first of equal maxima: a later value must be strictly larger (std::max keeps
            // its first argument on ties). Indices by arithmetic on the comparisons: no branch.
            const T a = s0[c], b = s0[c + 1], d = s1[c], e = s1[c + 1];
            const T ab = std::max(a, b), de = std::max(d, e);
            const std::int64_t iab = r0 + c + static_cast<std::int64_t>(a < b);
            const std::int64_t ide = r1 + c + static_cast<std::int64_t>(d < e);
            const auto second = static_cast<std::int64_t>(ab < de);
            m[ow] = std::max(ab, de);
            best[ow] = iab + second * (ide - iab);
          }
        }
        return;
      }
      for (std::int64_t oh = 0; oh < ah.out; ++oh)
        for (std::int64_t ow = 0; ow < aw.out; ++ow) {
          T m = -std::numeric_limits<T>::infinity();
          std::int64_t best = ah.pos[ah.begin[oh]] * aw.in + aw.pos[aw.begin[ow]];
          for (std::int64_t a = ah.begin[oh]; a < ah.begin[oh + 1]; ++a)
            for (std::int64_t b = aw.begin[ow]; b < aw.begin[ow + 1]; ++b) {
              const std::int64_t i = ah.pos[a] * aw.in + aw.pos[b];
              take_max(src[i], i, m, best);
            }
          dst[oh * aw.out + ow] = m;
          ind[oh * aw.out + ow] = best;
        }
    });
  });
  return {out, idx};
}

// grad_input = 0, then grad_input[n, c, idx[n, c, o]] += g[n, c, o] for o in order.
Tensor max_backward(const Tensor& g_in, const Tensor& idx, const Shape& in_shape, const std::string& name) {
  const Tensor g = g_in.contiguous();
  Tensor gi = zeros(in_shape, dtype(g.dtype()));
  const std::int64_t plane_in = in_shape[2] * in_shape[3], plane_out = g.shape()[2] * g.shape()[3];
  kernel::dispatch_floating(g.dtype(), name, [&]<class T>() {
    const T* pg = g.data_ptr<T>();
    const std::int64_t* pi = idx.data_ptr<std::int64_t>();
    T* po = gi.data_ptr<T>();
    for_planes(in_shape[0] * in_shape[1], plane_out, [&](std::int64_t q) {
      T* dst = po + q * plane_in;
      const T* src = pg + q * plane_out;
      const std::int64_t* ind = pi + q * plane_out;
      for (std::int64_t o = 0; o < plane_out; ++o) dst[ind[o]] += src[o];
    });
  });
  if (any_requires_grad({&g_in}))
    record(name + "Backward", {g_in}, {gi}, {idx},
           [](const Grads& gg, const Grads& s) { return Grads{gather_planes(gg[0], s[0])}; });
  return gi;
}

std::pair<Tensor, Tensor> max_pool_planes(const Tensor& x, const WindowsPtr& win) {
  auto [out, idx] = max_forward(x, win);
  if (any_requires_grad({&x}))
    record(win->name + "Backward", {x}, {out}, {idx},
           [in_shape = x.shape(), name = win->name](const Grads& g, const Grads& s) {
             return Grads{max_backward(g[0], s[0], in_shape, name + "Backward")};
           });
  return {out, idx};
}

// The average's divisor for output (oh, ow).
double divisor(const Windows& w, std::int64_t oh, std::int64_t ow) {
  return w.divisor ? *w.divisor : w.h.count[oh] * w.w.count[ow];
}

Tensor avg_backward(const Tensor& g, const WindowsPtr& win, const Shape& in_shape);

// out = window sum (in double) / divisor; 0 for a window without input positions.
Tensor avg_forward(const Tensor& x_in, const WindowsPtr& win) {
  const Tensor x = x_in.contiguous();
  const Shape& xs = x.shape();
  const Axis &ah = win->h, &aw = win->w;
  Tensor out = detail::make_tensor({xs[0], xs[1], ah.out, aw.out}, x.dtype());
  const std::int64_t plane_in = ah.in * aw.in, plane_out = ah.out * aw.out;
  kernel::dispatch_floating(x.dtype(), win->name, [&]<class T>() {
    const T* px = x.data_ptr<T>();
    T* po = out.data_ptr<T>();
    for_planes(xs[0] * xs[1], plane_out + plane_in, [&](std::int64_t q) {
      const T* src = px + q * plane_in;
      T* dst = po + q * plane_out;
      for (std::int64_t oh = 0; oh < ah.out; ++oh)
        for (std::int64_t ow = 0; ow < aw.out; ++ow) {
          double s = 0.0;
          for (std::int64_t a = ah.begin[oh]; a < ah.begin[oh + 1]; ++a)
            for (std::int64_t b = aw.begin[ow]; b < aw.begin[ow + 1]; ++b)
              s += static_cast<double>(src[ah.pos[a] * aw.in + aw.pos[b]]);
          const bool empty = ah.begin[oh] == ah.begin[oh + 1] || aw.begin[ow] == aw.begin[ow + 1];
          dst[oh * aw.out + ow] = empty ? T(0) : static_cast<T>(s / divisor(*win, oh, ow));
        }
    });
  });
  if (any_requires_grad({&x_in}))
    record(win->name + "Backward", {x_in}, {out}, {},
           [win, in_shape = xs](const Grads& g, const Grads&) { return Grads{avg_backward(g[0], win, in_shape)}; });
  return out;
}

// The adjoint of avg_forward: each g / divisor added over its window, outputs in order.
Tensor avg_backward(const Tensor& g_in, const WindowsPtr& win, const Shape& in_shape) {
  const Tensor g = g_in.contiguous();
  const Axis &ah = win->h, &aw = win->w;
  Tensor gi = zeros(in_shape, dtype(g.dtype()));
  const std::int64_t plane_in = ah.in * aw.in, plane_out = ah.out * aw.out;
  kernel::dispatch_floating(g.dtype(), win->name, [&]<class T>() {
    const T* pg = g.data_ptr<T>();
    T* po = gi.data_ptr<T>();
    for_planes(in_shape[0] * in_shape[1], plane_out + plane_in, [&](std::int64_t q) {
      const T* src = pg + q * plane_out;
      T* dst = po + q * plane_in;
      for (std::int64_t oh = 0; oh < ah.out; ++oh)
        for (std::int64_t ow = 0; ow < aw.out; ++ow) {
          const T v = static_cast<T>(src[oh * aw.out + ow] / divisor(*win, oh, ow));
          for (std::int64_t a = ah.begin[oh]; a < ah.begin[oh + 1]; ++a)
            for (std::int64_t b = aw.begin[ow]; b < aw.begin[ow + 1]; ++b) dst[ah.pos[a] * aw.in + aw.pos[b]] += v;
        }
    });
  });
  // Linear in g: its gradient is the forward average again.
  if (any_requires_grad({&g_in}))
    record(win->name + "BackwardBackward", {g_in}, {gi}, {},
           [win](const Grads& gg, const Grads&) { return Grads{avg_forward(gg[0], win)}; });
  return gi;
}

// ---- the layers -----------------------------------------------------------------------------

// Windows of max or average pooling over the planes of p.
WindowsPtr pool_windows(std::string_view op, const std::string& name, const Planes& p, const Sizes& k, const Sizes& s,
                        const Sizes& pad, const Sizes& d, bool ceil, bool max, bool include_pad) {
  const Shape& xs = p.x.shape();
  const Sizes in = p.dims == 2 ? Sizes{xs[2], xs[3]} : Sizes{xs[3]};
  const Sizes out = check_pool(op, p.x.shape(), in, k, s, pad, d, ceil, max);
  auto w = std::make_shared<Windows>();
  w->name = name;
  const std::size_t last = in.size() - 1;
  w->w = pool_axis(op, in[last], out[last], k[last], s[last], pad[last], d[last], include_pad, max);
  if (p.dims == 2) w->h = pool_axis(op, in[0], out[0], k[0], s[0], pad[0], d[0], include_pad, max);
  return w;
}

std::pair<Tensor, Tensor> max_pool(const Tensor& input, int dims, std::string_view op, const std::string& name,
                                   const Sizes& k, const Sizes& s, const Sizes& pad, const Sizes& d, bool ceil) {
  const Planes p = as_planes(input, dims, op);
  auto [out, idx] = max_pool_planes(p.x, pool_windows(op, name, p, k, s, pad, d, ceil, true, true));
  return {from_planes(out, p), from_planes(idx, p)};
}

Tensor avg_pool(const Tensor& input, int dims, std::string_view op, const std::string& name, const Sizes& k,
                const Sizes& s, const Sizes& pad, bool ceil, bool include_pad, std::optional<std::int64_t> div) {
  const Planes p = as_planes(input, dims, op);
  if (div && *div == 0) throw Error(fmt::format("{}: divisor_override must be non-zero, got 0", op));
  const Sizes d(k.size(), 1);
  auto w = pool_windows(op, name, p, k, s, pad, d, ceil, false, include_pad);
  if (div) std::const_pointer_cast<Windows>(w)->divisor = static_cast<double>(*div);
  return from_planes(avg_forward(p.x, w), p);
}

WindowsPtr adaptive_windows(std::string_view op, const std::string& name, const Planes& p, const PoolSize<2>& size) {
  if (size[0] < 0 || size[1] < 0) throw Error(fmt::format("{}: output_size must be >= 0, got {}", op, to_string(size)));
  auto w = std::make_shared<Windows>();
  w->name = name;
  w->h = adaptive_axis(p.x.shape()[2], size[0]);
  w->w = adaptive_axis(p.x.shape()[3], size[1]);
  return w;
}

}  // namespace

namespace functional {

std::pair<Tensor, Tensor> max_pool2d_with_indices(const Tensor& input, const MaxPool2dOptions& o) {
  XGRAD_PROFILE_OP("max_pool2d_with_indices", input);
  return max_pool(input, 2, "max_pool2d", "MaxPool2d", to_sizes(o.kernel_size()), to_sizes(o.stride()),
                  to_sizes(o.padding()), to_sizes(o.dilation()), o.ceil_mode());
}
Tensor max_pool2d(const Tensor& input, const MaxPool2dOptions& o) {
  XGRAD_PROFILE_OP("max_pool2d", input);
  return max_pool2d_with_indices(input, o).first;
}

std::pair<Tensor, Tensor> max_pool1d_with_indices(const Tensor& input, const MaxPool1dOptions& o) {
  XGRAD_PROFILE_OP("max_pool1d_with_indices", input);
  return max_pool(input, 1, "max_pool1d", "MaxPool1d", to_sizes(o.kernel_size()), to_sizes(o.stride()),
                  to_sizes(o.padding()), to_sizes(o.dilation()), o.ceil_mode());
}
Tensor max_pool1d(const Tensor& input, const MaxPool1dOptions& o) {
  XGRAD_PROFILE_OP("max_pool1d", input);
  return max_pool1d_with_indices(input, o).first;
}

Tensor avg_pool2d(const Tensor& input, const AvgPool2dOptions& o) {
  XGRAD_PROFILE_OP("avg_pool2d", input);
  return avg_pool(input, 2, "avg_pool2d", "AvgPool2d", to_sizes(o.kernel_size()), to_sizes(o.stride()),
                  to_sizes(o.padding()), o.ceil_mode(), o.count_include_pad(), o.divisor_override());
}

Tensor avg_pool1d(const Tensor& input, const AvgPool1dOptions& o) {
  XGRAD_PROFILE_OP("avg_pool1d", input);
  return avg_pool(input, 1, "avg_pool1d", "AvgPool1d", to_sizes(o.kernel_size()), to_sizes(o.stride()),
                  to_sizes(o.padding()), o.ceil_mode(), o.count_include_pad(), std::nullopt);
}

Tensor adaptive_avg_pool2d(const Tensor& input, const AdaptiveAvgPool2dOptions& o) {
  XGRAD_PROFILE_OP("adaptive_avg_pool2d", input);
  const Planes p = as_planes(input, 2, "adaptive_avg_pool2d");
  return from_planes(avg_forward(p.x, adaptive_windows("adaptive_avg_pool2d", "AdaptiveAvgPool2d", p, o.output_size())),
                     p);
}

std::pair<Tensor, Tensor> adaptive_max_pool2d_with_indices(const Tensor& input, const AdaptiveMaxPool2dOptions& o) {
  XGRAD_PROFILE_OP("adaptive_max_pool2d_with_indices", input);
  const Planes p = as_planes(input, 2, "adaptive_max_pool2d");
  auto [out, idx] =
      max_pool_planes(p.x, adaptive_windows("adaptive_max_pool2d", "AdaptiveMaxPool2d", p, o.output_size()));
  return {from_planes(out, p), from_planes(idx, p)};
}
Tensor adaptive_max_pool2d(const Tensor& input, const AdaptiveMaxPool2dOptions& o) {
  XGRAD_PROFILE_OP("adaptive_max_pool2d", input);
  return adaptive_max_pool2d_with_indices(input, o).first;
}

Tensor max_unpool2d(const Tensor& input, const Tensor& indices, const MaxUnpool2dOptions& o,
                    const std::vector<std::int64_t>& output_size) {
  XGRAD_PROFILE_OP("max_unpool2d", input, indices);
  constexpr std::string_view op = "max_unpool2d";
  const Planes p = as_planes(input, 2, op);
  detail::check_defined(indices, op);
  if (indices.dtype() != Dtype::int64)
    throw Error(
        fmt::format("{}: indices must be int64, got {} (indices shape {})", op, indices.dtype(), indices.shape()));
  if (indices.shape() != input.shape())
    throw Error(fmt::format("{}: indices shape {} must equal the input shape {}", op, indices.shape(), input.shape()));
  const Sizes k = to_sizes(o.kernel_size()), s = to_sizes(o.stride()), pad = to_sizes(o.padding());
  for (std::size_t i = 0; i < 2; ++i) {
    if (k[i] <= 0) throw Error(fmt::format("{}: kernel_size must be > 0, got {}", op, sz(k)));
    if (s[i] <= 0) throw Error(fmt::format("{}: stride must be > 0, got {}", op, sz(s)));
    if (pad[i] < 0) throw Error(fmt::format("{}: padding must be >= 0, got {}", op, sz(pad)));
  }
  const Shape& xs = p.x.shape();
  Sizes out{(xs[2] - 1) * s[0] - 2 * pad[0] + k[0], (xs[3] - 1) * s[1] - 2 * pad[1] + k[1]};
  if (!output_size.empty()) {
    if (output_size.size() != 2 && output_size.size() != 4)
      throw Error(fmt::format("{}: output_size must have 2 or 4 elements, got {}", op, output_size));
    const Sizes want(output_size.end() - 2, output_size.end());
    for (std::size_t i = 0; i < 2; ++i)
      if (!(want[i] > out[i] - s[i] && want[i] < out[i] + s[i]))
        throw Error(
            fmt::format("{}: invalid output_size {} (dim {} must be between {} and {}, exclusive; input "
                        "shape {})",
                        op, output_size, i, out[i] - s[i], out[i] + s[i], input.shape()));
    out = want;
  }
  if (out[0] <= 0 || out[1] <= 0)
    throw Error(fmt::format("{}: output size {} must be positive (input shape {})", op, sz(out), input.shape()));
  const Tensor x = p.x.contiguous();
  const Tensor idx = (p.batched ? indices : indices.unsqueeze(0)).contiguous();
  const std::int64_t plane_in = xs[2] * xs[3], plane_out = out[0] * out[1];
  {
    const std::int64_t* pi = idx.data_ptr<std::int64_t>();
    for (std::int64_t i = 0; i < idx.numel(); ++i)
      if (pi[i] < 0 || pi[i] >= plane_out)
        throw Error(fmt::format("{}: found an invalid max index {} (output planes are of size {}x{})", op, pi[i],
                                out[0], out[1]));
  }
  Tensor y = zeros({xs[0], xs[1], out[0], out[1]}, dtype(x.dtype()));
  kernel::dispatch_floating(x.dtype(), op, [&]<class T>() {
    const T* px = x.data_ptr<T>();
    const std::int64_t* pi = idx.data_ptr<std::int64_t>();
    T* py = y.data_ptr<T>();
    for_planes(xs[0] * xs[1], plane_in, [&](std::int64_t q) {
      for (std::int64_t i = 0; i < plane_in; ++i) py[q * plane_out + pi[q * plane_in + i]] = px[q * plane_in + i];
    });
  });
  if (any_requires_grad({&p.x}))
    record("MaxUnpool2dBackward", {p.x}, {y}, {idx},
           [](const Grads& g, const Grads& sv) { return Grads{gather_planes(g[0], sv[0])}; });
  return from_planes(y, p);
}

Tensor lp_pool2d(const Tensor& input, const LPPool2dOptions& o) {
  XGRAD_PROFILE_OP("lp_pool2d", input);
  const double p = o.norm_type();
  if (p == 0.0 || !std::isfinite(p))
    throw Error(fmt::format("lp_pool2d: norm_type must be non-zero and finite, got {}", p));
  as_planes(input, 2, "lp_pool2d");
  const Sizes k = to_sizes(o.kernel_size());
  const Tensor a = avg_pool(pow(input, p), 2, "lp_pool2d", "AvgPool2d", k, to_sizes(o.stride()), {0, 0}, o.ceil_mode(),
                            true, std::nullopt);
  return pow(sign(a) * relu(abs(a)) * static_cast<double>(k[0] * k[1]), 1.0 / p);
}

}  // namespace functional

// ---- modules ------------------------------------------------------------------------------------

namespace {
std::string py_bool(bool b) { return b ? "True" : "False"; }
}  // namespace

Tensor MaxPool1d::forward(const Tensor& input) { return functional::max_pool1d(input, options_); }
std::pair<Tensor, Tensor> MaxPool1d::forward_with_indices(const Tensor& input) {
  return functional::max_pool1d_with_indices(input, options_);
}
std::string MaxPool1d::extra_repr() const {
  const auto& o = options_;
  return fmt::format("kernel_size={}, stride={}, padding={}, dilation={}, ceil_mode={}", to_string(o.kernel_size()),
                     to_string(o.stride()), to_string(o.padding()), to_string(o.dilation()), py_bool(o.ceil_mode()));
}

Tensor MaxPool2d::forward(const Tensor& input) { return functional::max_pool2d(input, options_); }
std::pair<Tensor, Tensor> MaxPool2d::forward_with_indices(const Tensor& input) {
  return functional::max_pool2d_with_indices(input, options_);
}
std::string MaxPool2d::extra_repr() const {
  const auto& o = options_;
  return fmt::format("kernel_size={}, stride={}, padding={}, dilation={}, ceil_mode={}", to_string(o.kernel_size()),
                     to_string(o.stride()), to_string(o.padding()), to_string(o.dilation()), py_bool(o.ceil_mode()));
}

Tensor MaxUnpool2d::forward(const Tensor& input, const Tensor& indices, const std::vector<std::int64_t>& output_size) {
  return functional::max_unpool2d(input, indices, options_, output_size);
}
std::string MaxUnpool2d::extra_repr() const {
  const auto& o = options_;
  return fmt::format("kernel_size={}, stride={}, padding={}", to_string(o.kernel_size()), to_string(o.stride()),
                     to_string(o.padding()));
}

Tensor AvgPool1d::forward(const Tensor& input) { return functional::avg_pool1d(input, options_); }
std::string AvgPool1d::extra_repr() const {
  const auto& o = options_;
  return fmt::format("kernel_size={}, stride={}, padding={}", to_string(o.kernel_size()), to_string(o.stride()),
                     to_string(o.padding()));
}

Tensor AvgPool2d::forward(const Tensor& input) { return functional::avg_pool2d(input, options_); }
std::string AvgPool2d::extra_repr() const {
  const auto& o = options_;
  return fmt::format("kernel_size={}, stride={}, padding={}", to_string(o.kernel_size()), to_string(o.stride()),
                     to_string(o.padding()));
}

Tensor AdaptiveAvgPool2d::forward(const Tensor& input) { return functional::adaptive_avg_pool2d(input, options_); }
std::string AdaptiveAvgPool2d::extra_repr() const { return "output_size=" + to_string(options_.output_size()); }

Tensor AdaptiveMaxPool2d::forward(const Tensor& input) { return functional::adaptive_max_pool2d(input, options_); }
std::pair<Tensor, Tensor> AdaptiveMaxPool2d::forward_with_indices(const Tensor& input) {
  return functional::adaptive_max_pool2d_with_indices(input, options_);
}
std::string AdaptiveMaxPool2d::extra_repr() const { return "output_size=" + to_string(options_.output_size()); }

Tensor LPPool2d::forward(const Tensor& input) { return functional::lp_pool2d(input, options_); }
std::string LPPool2d::extra_repr() const {
  const auto& o = options_;
  return fmt::format("norm_type={}, kernel_size={}, stride={}, ceil_mode={}", py_float(o.norm_type()),
                     to_string(o.kernel_size()), to_string(o.stride()), py_bool(o.ceil_mode()));
}

}  // namespace xgrad::nn
