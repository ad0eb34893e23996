// unfold (im2col) and fold (col2im): each the other's adjoint and the other's backward.
#include <algorithm>

#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/kernel/kernel.hpp"
#include "xgrad/autograd/node.hpp"
#include "xgrad/autograd/shape.hpp"
#include "xgrad/nn/fold.hpp"
#include "xgrad/autograd/profile_scope.hpp"

namespace xgrad::nn {

namespace F = functional;

namespace {

using Grads = std::vector<Tensor>;
using Ints = std::vector<std::int64_t>;

struct Pair {
  std::int64_t h = 0, w = 0;
};

// Geometry of one call: kernel, dilation, padding, stride and the image size.
struct Geometry {
  Pair k, d, p, s, img;
  std::int64_t lh = 0, lw = 0;
  std::int64_t blocks() const { return lh * lw; }
};

Pair pair_of(const Ints& v, std::string_view op, std::string_view name, std::int64_t least) {
  if (v.size() != 1 && v.size() != 2) throw Error(fmt::format("{}: {} must have 1 or 2 entries, got {}", op, name, v));
  const Pair p{v[0], v.size() == 2 ? v[1] : v[0]};
  if (p.h < least || p.w < least) throw Error(fmt::format("{}: {} must be >= {}, got {}", op, name, least, v));
  return p;
}

Geometry check_params(const Ints& kernel, const Ints& dilation, const Ints& padding, const Ints& stride,
                      std::string_view op) {
  Geometry g;
  g.k = pair_of(kernel, op, "kernel_size", 1);
  g.d = pair_of(dilation, op, "dilation", 1);
  g.p = pair_of(padding, op, "padding", 0);
  g.s = pair_of(stride, op, "stride", 1);
  return g;
}

// Sets the image size and the number of blocks; throws when no block fits.
void set_image(Geometry& g, Pair img, std::string_view op, const Ints& kernel, const Ints& dilation,
               const Ints& padding, const Ints& stride) {
  g.img = img;
  auto count = [](std::int64_t n, std::int64_t k, std::int64_t d, std::int64_t p, std::int64_t s) {
    const std::int64_t span = n + 2 * p - d * (k - 1) - 1;
    return span < 0 ? 0 : span / s + 1;
  };
  g.lh = count(img.h, g.k.h, g.d.h, g.p.h, g.s.h);
  g.lw = count(img.w, g.k.w, g.d.w, g.p.w, g.s.w);
  if (g.lh < 1 || g.lw < 1)
    throw Error(
        fmt::format("{}: a spatial size of ({}, {}) with kernel_size={}, dilation={}, padding={}, stride={} "
                    "gives no sliding block (the padded size must be at least the dilated kernel)",
                    op, img.h, img.w, kernel, dilation, padding, stride));
}

Tensor unfold_impl(const Tensor& x, const Geometry& g, const Ints& ks, const Ints& dl, const Ints& pd, const Ints& st);
Tensor fold_impl(const Tensor& cols, const Geometry& g, const Ints& ks, const Ints& dl, const Ints& pd, const Ints& st);

// For every kernel tap (i, j) and block (bh, bw) of plane geometry g, f(col_offset, img_offset)
// where col_offset = (i kw + j) L + bh Lw + bw within the plane's columns and img_offset the
// pixel it reads (skipped when it lies in the padding; zero(col_offset) is called instead).
template <class F, class Z>
void for_taps(const Geometry& g, F&& f, Z&& zero) {
  const std::int64_t L = g.blocks();
  for (std::int64_t i = 0; i < g.k.h; ++i)
    for (std::int64_t j = 0; j < g.k.w; ++j) {
      const std::int64_t row = (i * g.k.w + j) * L;
      for (std::int64_t bh = 0; bh < g.lh; ++bh) {
        const std::int64_t y = bh * g.s.h - g.p.h + i * g.d.h;
        for (std::int64_t bw = 0; bw < g.lw; ++bw) {
          const std::int64_t c = row + bh * g.lw + bw;
          const std::int64_t xw = bw * g.s.w - g.p.w + j * g.d.w;
          if (y < 0 || y >= g.img.h || xw < 0 || xw >= g.img.w)
            zero(c);
          else
            f(c, y * g.img.w + xw);
        }
      }
    }
}

// x [N, C, H, W] -> [N, C kh kw, L].
Tensor unfold_impl(const Tensor& x, const Geometry& g, const Ints& ks, const Ints& dl, const Ints& pd, const Ints& st) {
  const std::int64_t n = x.shape()[0], c = x.shape()[1], kk = g.k.h * g.k.w, L = g.blocks();
  const std::int64_t img = g.img.h * g.img.w;
  Tensor out = detail::make_tensor({n, c * kk, L}, x.dtype(), "unfold");
  kernel::dispatch_floating(x, "unfold", [&]<class T>() {
    const Tensor xp = kernel::packed(x);
    const T* px = xp.data_ptr<T>();
    T* po = out.data_ptr<T>();
    kernel::parallel_for(n * c, kernel::grain_for(kk * L), [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t q = b; q < e; ++q) {
        const T* src = px + q * img;
        T* dst = po + q * kk * L;
        for_taps(
            g, [&](std::int64_t co, std::int64_t io) { dst[co] = src[io]; }, [&](std::int64_t co) { dst[co] = T(0); });
      }
    });
  });
  if (any_requires_grad({&x}))
    record("UnfoldBackward", {x}, {out}, {},
           [g, ks, dl, pd, st](const Grads& gr, const Grads&) { return Grads{fold_impl(gr[0], g, ks, dl, pd, st)}; });
  return out;
}

// cols [N, C kh kw, L] -> [N, C, H, W], each plane summed in tap-then-block order by one task.
Tensor fold_impl(const Tensor& cols, const Geometry& g, const Ints& ks, const Ints& dl, const Ints& pd,
                 const Ints& st) {
  const std::int64_t kk = g.k.h * g.k.w, L = g.blocks();
  const std::int64_t n = cols.shape()[0], c = cols.shape()[1] / kk, img = g.img.h * g.img.w;
  Tensor out = zeros({n, c, g.img.h, g.img.w}, dtype(cols.dtype()));
  kernel::dispatch_floating(cols, "fold", [&]<class T>() {
    const Tensor cp = kernel::packed(cols);
    const T* pc = cp.data_ptr<T>();
    T* po = out.data_ptr<T>();
    kernel::parallel_for(n * c, kernel::grain_for(kk * L), [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t q = b; q < e; ++q) {
        const T* src = pc + q * kk * L;
        T* dst = po + q * img;
        for_taps(
            g, [&](std::int64_t co, std::int64_t io) { dst[io] += src[co]; }, [](std::int64_t) {});
      }
    });
  });
  if (any_requires_grad({&cols}))
    record("FoldBackward", {cols}, {out}, {},
           [g, ks, dl, pd, st](const Grads& gr, const Grads&) { return Grads{unfold_impl(gr[0], g, ks, dl, pd, st)}; });
  return out;
}

Tensor unfold_checked(const Tensor& input, const UnfoldOptions& o, std::string_view op) {
  detail::check_defined(input, op);
  Geometry g = check_params(o.kernel_size_, o.dilation_, o.padding_, o.stride_, op);
  if (input.dim() != 3 && input.dim() != 4)
    throw Error(fmt::format("{}: expected a 3-d [C, H, W] or 4-d [N, C, H, W] input, got shape {}", op, input.shape()));
  if (!is_floating(input.dtype()))
    throw Error(fmt::format("{}: expected a floating dtype (float32 or float64), got {} for tensor of shape {}", op,
                            input.dtype(), input.shape()));
  const bool batched = input.dim() == 4;
  const Tensor x = batched ? input : unsqueeze(input, 0);
  set_image(g, {x.shape()[2], x.shape()[3]}, op, o.kernel_size_, o.dilation_, o.padding_, o.stride_);
  Tensor out = unfold_impl(x, g, o.kernel_size_, o.dilation_, o.padding_, o.stride_);
  return batched ? out : squeeze(out, 0);
}

Tensor fold_checked(const Tensor& input, const FoldOptions& o, std::string_view op) {
  detail::check_defined(input, op);
  Geometry g = check_params(o.kernel_size_, o.dilation_, o.padding_, o.stride_, op);
  const Pair size = pair_of(o.output_size_, op, "output_size", 1);
  if (input.dim() != 2 && input.dim() != 3)
    throw Error(
        fmt::format("{}: expected a 2-d [C kh kw, L] or 3-d [N, C kh kw, L] input, got shape {}", op, input.shape()));
  if (!is_floating(input.dtype()))
    throw Error(fmt::format("{}: expected a floating dtype (float32 or float64), got {} for tensor of shape {}", op,
                            input.dtype(), input.shape()));
  const bool batched = input.dim() == 3;
  const Tensor x = batched ? input : unsqueeze(input, 0);
  const std::int64_t kk = g.k.h * g.k.w;
  if (x.shape()[1] % kk != 0)
    throw Error(
        fmt::format("{}: dim -2 of input shape {} has size {}, which is not divisible by the product of "
                    "kernel_size {} = {}",
                    op, input.shape(), x.shape()[1], o.kernel_size_, kk));
  set_image(g, size, op, o.kernel_size_, o.dilation_, o.padding_, o.stride_);
  if (x.shape()[2] != g.blocks())
    throw Error(
        fmt::format("{}: output_size={}, kernel_size={}, dilation={}, padding={}, stride={} give {} x {} = {} "
                    "sliding blocks, but dim -1 of input shape {} has size {}",
                    op, o.output_size_, o.kernel_size_, o.dilation_, o.padding_, o.stride_, g.lh, g.lw, g.blocks(),
                    input.shape(), x.shape()[2]));
  Tensor out = fold_impl(x, g, o.kernel_size_, o.dilation_, o.padding_, o.stride_);
  return batched ? out : squeeze(out, 0);
}

}  // namespace

namespace functional {

Tensor unfold(const Tensor& input, const UnfoldOptions& options) {
  XGRAD_PROFILE_OP("unfold", input);
  return unfold_checked(input, options, "unfold");
}
Tensor fold(const Tensor& input, const FoldOptions& options) {
  XGRAD_PROFILE_OP("fold", input);
  return fold_checked(input, options, "fold");
}

}  // namespace functional

Unfold::Unfold(UnfoldOptions options) : Module("Unfold"), options_(std::move(options)) {
  check_params(options_.kernel_size_, options_.dilation_, options_.padding_, options_.stride_, "Unfold");
}
Tensor Unfold::forward(const Tensor& input) { return unfold_checked(input, options_, "Unfold"); }
std::string Unfold::extra_repr() const { return repr_options(options_); }

Fold::Fold(FoldOptions options) : Module("Fold"), options_(std::move(options)) {
  check_params(options_.kernel_size_, options_.dilation_, options_.padding_, options_.stride_, "Fold");
  pair_of(options_.output_size_, "Fold", "output_size", 1);
}
Tensor Fold::forward(const Tensor& input) { return fold_checked(input, options_, "Fold"); }
std::string Fold::extra_repr() const { return repr_options(options_); }

}  // namespace xgrad::nn
