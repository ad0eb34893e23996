// The convolution core: one 3-d geometry (1-d and 2-d calls have size-1 dims), im2col /
// col2im packing kernels and the three bilinear forms of <conv(x, w), g>: the convolution, its
// input adjoint (transposed convolution) and its weight adjoint, each a recorded op whose
// backward is built from the other two (so every order of derivative exists).
#include "conv_core.hpp"

#include <algorithm>

#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/kernel/kernel.hpp"
#include "xgrad/autograd/linalg.hpp"
#include "xgrad/autograd/node.hpp"
#include "xgrad/autograd/reduction.hpp"
#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/shape.hpp"

namespace xgrad::nn::conv_detail {

namespace {

using Grads = std::vector<Tensor>;

// Output positions o in [lo, hi) of one dim whose input index o * s + off lies in [0, n).
inline std::pair<std::int64_t, std::int64_t> valid_range(std::int64_t off, std::int64_t s, std::int64_t n,
                                                         std::int64_t out) {
  std::int64_t lo = off >= 0 ? 0 : (-off + s - 1) / s;
  std::int64_t hi = n - off <= 0 ? 0 : (n - off + s - 1) / s;
  lo = std::min(lo, out);
  hi = std::clamp(hi, lo, out);
  return {lo, hi};
}

// The columns of x: cols[n][c K + k][l] = x[n, c, o(l) s - pad + k dil] (0 outside x).
// Image-major, [N, Cin K, L] (one [Cin K, L] matrix per image, read as [N, G, Cin/G K, L]),
// or, when not `image_major`, [Cin K, N, L] (read as [G, Cin/G K, N L]: one matrix for the
// whole batch).
// One column row of a 2-d convolution with stride 1 that keeps the width (W = in = out, as a
// "same" 3x3): row[oh W + ow] = plane[(oh + offh) W + ow + offw]. Valid output rows are the
// plane shifted by offh W + offw, so they are one long copy; then the ow whose ow + offw
// falls outside [0, W) (they read the neighbouring row) are zeroed, offw of them per row.
template <class T>
void shifted_plane(const T* __restrict plane, T* __restrict row, std::int64_t H, std::int64_t OH, std::int64_t W,
                   std::int64_t offh, std::int64_t offw) {
  const auto [lo, hi] = valid_range(offh, 1, H, OH);
  const std::int64_t delta = offh * W + offw;
  // [first, last): inside the valid rows and reading inside the plane.
  const std::int64_t first = std::clamp(-delta, lo * W, hi * W), last = std::clamp(H * W - delta, first, hi * W);
  for (std::int64_t i = 0; i < first; ++i) row[i] = T(0);
  for (std::int64_t i = first; i < last; ++i) row[i] = plane[i + delta];
  for (std::int64_t i = last; i < OH * W; ++i) row[i] = T(0);
  const std::int64_t z0 = offw > 0 ? std::max<std::int64_t>(W - offw, 0) : 0, z1 = offw > 0 ? W : std::min(-offw, W);
  for (std::int64_t oh = lo; oh < hi; ++oh)
    for (std::int64_t ow = z0; ow < z1; ++ow) row[oh * W + ow] = T(0);
}

template <class T>
void im2col(const T* x, T* cols, const Geom& g, bool image_major) {
  const std::int64_t K = g.kernel_numel(), L = g.out_numel(), I = g.in_numel(), N = g.N, C = g.Cin;
  const std::int64_t ow_end = g.out[2], sw = g.s[2];
  const bool shifted = g.in[0] == 1 && g.out[0] == 1 && g.s[1] == 1 && g.s[2] == 1 && g.in[2] == g.out[2];
  kernel::parallel_for(C * N, kernel::grain_for(K * L), [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) {
      const std::int64_t c = i / N, n = i % N;
      const T* xp = x + (n * C + c) * I;
      for (std::int64_t kd = 0; kd < g.k[0]; ++kd)
        for (std::int64_t kh = 0; kh < g.k[1]; ++kh)
          for (std::int64_t kw = 0; kw < g.k[2]; ++kw) {
            const std::int64_t r = c * K + (kd * g.k[1] + kh) * g.k[2] + kw;
            T* dst = cols + (image_major ? n * C * K + r : r * N + n) * L;
            if (shifted) {
              // One input and one output plane: the depth tap reads plane 0 or the padding.
              if (kd * g.dil[0] - g.pad[0] != 0)
                std::fill(dst, dst + L, T(0));
              else
                shifted_plane(xp, dst, g.in[1], g.out[1], g.in[2], kh * g.dil[1] - g.pad[1], kw * g.dil[2] - g.pad[2]);
              continue;
            }
            const std::int64_t offw = kw * g.dil[2] - g.pad[2];
            const auto [wlo, whi] = valid_range(offw, g.s[2], g.in[2], g.out[2]);
            for (std::int64_t od = 0; od < g.out[0]; ++od) {
              const std::int64_t id = od * g.s[0] - g.pad[0] + kd * g.dil[0];
              for (std::int64_t oh = 0; oh < g.out[1]; ++oh) {
                const std::int64_t ih = oh * g.s[1] - g.pad[1] + kh * g.dil[1];
                // Plain loops, not memcpy/memset: the rows are short (a 14-wide feature map
                // is 56 bytes), where the library calls cost more than the copy.
                T* __restrict row = dst + (od * g.out[1] + oh) * g.out[2];
                if (id < 0 || id >= g.in[0] || ih < 0 || ih >= g.in[1]) {
                  for (std::int64_t ow = 0; ow < ow_end; ++ow) row[ow] = T(0);
                  continue;
                }
                const T* __restrict src = xp + (id * g.in[1] + ih) * g.in[2];
                for (std::int64_t ow = 0; ow < wlo; ++ow) row[ow] = T(0);
                if (sw == 1) {
                  for (std::int64_t ow = wlo; ow < whi; ++ow) row[ow] = src[ow + offw];
                } else {
                  for (std::int64_t ow = wlo; ow < whi; ++ow) row[ow] = src[ow * sw + offw];
                }
                for (std::int64_t ow = whi; ow < ow_end; ++ow) row[ow] = T(0);
              }
            }
          }
    }
  });
}

// The adjoint of im2col: x[n, c, i] += cols[...] for every (k, o) that read i. Each (n, c)
// plane is summed by one task in a fixed (k, o) order: identical at every thread count.
template <class T>
void col2im(const T* cols, T* x, const Geom& g) {
  const std::int64_t K = g.kernel_numel(), L = g.out_numel(), I = g.in_numel(), N = g.N, C = g.Cin;
  kernel::parallel_for(N * C, kernel::grain_for(K * L), [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) {
      const std::int64_t n = i / C, c = i % C;
      T* xp = x + (n * C + c) * I;
      std::fill(xp, xp + I, T(0));
      for (std::int64_t kd = 0; kd < g.k[0]; ++kd)
        for (std::int64_t kh = 0; kh < g.k[1]; ++kh)
          for (std::int64_t kw = 0; kw < g.k[2]; ++kw) {
            const std::int64_t r = c * K + (kd * g.k[1] + kh) * g.k[2] + kw;
            const T* srcp = cols + (n * C * K + r) * L;
            const std::int64_t offw = kw * g.dil[2] - g.pad[2];
            const auto [wlo, whi] = valid_range(offw, g.s[2], g.in[2], g.out[2]);
            for (std::int64_t od = 0; od < g.out[0]; ++od) {
              const std::int64_t id = od * g.s[0] - g.pad[0] + kd * g.dil[0];
              if (id < 0 || id >= g.in[0]) continue;
              for (std::int64_t oh = 0; oh < g.out[1]; ++oh) {
                const std::int64_t ih = oh * g.s[1] - g.pad[1] + kh * g.dil[1];
                if (ih < 0 || ih >= g.in[1]) continue;
                const T* row = srcp + (od * g.out[1] + oh) * g.out[2];
                T* dst = xp + (id * g.in[1] + ih) * g.in[2];
                for (std::int64_t ow = wlo; ow < whi; ++ow) dst[ow * g.s[2] + offw] += row[ow];
              }
            }
          }
    }
  });
}

// The packed columns of x (contiguous [N, Cin, in...]): [N, G, Cin/G K, L] when image_major,
// else [G, Cin/G K, N L].
Tensor pack(const Tensor& x, const Geom& g, bool image_major) {
  const std::int64_t Kg = g.Cin / g.G * g.kernel_numel(), L = g.out_numel();
  Tensor cols = detail::make_tensor(image_major ? Shape{g.N, g.G, Kg, L} : Shape{g.G, Kg, g.N * L}, x.dtype(), g.op);
  kernel::dispatch_floating(x, g.op, [&]<class T>() { im2col<T>(x.data_ptr<T>(), cols.data_ptr<T>(), g, image_major); });
  return cols;
}

// [N, C, L] -> [G, C/G, N L] (a copy; skipped for N = 1).
Tensor group_major(const Tensor& t, std::int64_t G, std::int64_t N, std::int64_t C, std::int64_t L) {
  if (N == 1) return reshape(t, {G, C / G, L});
  return reshape(permute(reshape(t, {N, G, C / G, L}), {1, 2, 0, 3}).contiguous(), {G, C / G, N * L});
}

// y[n, c, l] += bias[c] in place on a fresh [N, C, L] product.
void add_bias_(Tensor& y, const Tensor& bias_in, std::int64_t N, std::int64_t C, std::int64_t L, const std::string& op) {
  const Tensor bias = bias_in.contiguous();
  kernel::dispatch_floating(y, op, [&]<class T>() {
    const T* b = bias.data_ptr<T>();
    T* dst = y.data_ptr<T>();
    kernel::parallel_for(N * C, kernel::grain_for(L), [&](std::int64_t lo, std::int64_t hi) {
      for (std::int64_t i = lo; i < hi; ++i) {
        T* __restrict d = dst + i * L;
        const T bc = b[i % C];
        for (std::int64_t l = 0; l < L; ++l) d[l] += bc;
      }
    });
  });
}

bool any_empty(std::initializer_list<const Tensor*> ts) {
  for (const Tensor* t : ts)
    if (t->numel() == 0) return true;
  return false;
}

}  // namespace

Shape Geom::x_shape() const { return {N, Cin, in[0], in[1], in[2]}; }
Shape Geom::w_shape() const { return {Cout, Cin / G, k[0], k[1], k[2]}; }
Shape Geom::y_shape() const { return {N, Cout, out[0], out[1], out[2]}; }
bool Geom::pointwise() const {
  for (int d = 0; d < 3; ++d)
    if (k[d] != 1 || s[d] != 1 || pad[d] != 0 || in[d] != out[d]) return false;
  return true;
}

// ---- raw products (no graph) -------------------------------------------------------------------

Tensor conv_raw(const Tensor& x_, const Tensor& w_, const Geom& g, const Tensor& bias = Tensor()) {
  NoGradGuard ng;
  if (any_empty({&x_, &w_})) {
    const Tensor y = zeros(g.y_shape(), dtype(x_.dtype()));
    return bias.defined() ? y + reshape(bias, {1, g.Cout, 1, 1, 1}) : y;
  }
  const Tensor x = x_.contiguous(), w = w_.contiguous();
  const std::int64_t G = g.G, L = g.out_numel(), Kg = g.Cin / G * g.kernel_numel();
  // One product per image and group, [Cout/G, Kg] x [Kg, L], written in y's own layout:
  // [G, Cout/G, Kg] x [N, G, Kg, L] -> [N, G, Cout/G, L]. A pointwise convolution reads x as
  // its columns (no packing).
  const Tensor cols = g.pointwise() ? reshape(x, {g.N, G, Kg, L}) : pack(x, g, true);
  Tensor y = matmul(reshape(w, {G, g.Cout / G, Kg}), cols);
  if (bias.defined()) add_bias_(y, bias, g.N, g.Cout, L, g.op);
  return reshape(y, g.y_shape());
}

Tensor conv_input_raw(const Tensor& gy_, const Tensor& w_, const Geom& g) {
  NoGradGuard ng;
  if (any_empty({&gy_, &w_})) return zeros(g.x_shape(), dtype(gy_.dtype()));
  const Tensor gy = gy_.contiguous(), w = w_.contiguous();
  const std::int64_t G = g.G, L = g.out_numel(), Kg = g.Cin / G * g.kernel_numel();
  const Tensor w3t = transpose(reshape(w, {G, g.Cout / G, Kg}), 1, 2);  // BLAS transpose flag
  // Per image and group: [Kg, Cout/G] x [Cout/G, L] -> the columns' adjoint [N, G, Kg, L].
  const Tensor dcols = matmul(w3t, reshape(gy, {g.N, G, g.Cout / G, L}));
  if (g.pointwise()) return reshape(dcols, g.x_shape());
  Tensor gx = detail::make_tensor(g.x_shape(), gy.dtype(), g.op);
  kernel::dispatch_floating(gy, g.op, [&]<class T>() { col2im<T>(dcols.data_ptr<T>(), gx.data_ptr<T>(), g); });
  return gx;
}

Tensor conv_weight_raw(const Tensor& x_, const Tensor& gy_, const Geom& g) {
  NoGradGuard ng;
  if (any_empty({&x_, &gy_})) return zeros(g.w_shape(), dtype(x_.dtype()));
  const Tensor x = x_.contiguous(), gy = gy_.contiguous();
  const std::int64_t G = g.G, L = g.out_numel();
  // dW_g = sum_n gy[n, g] cols[n, g]^T: one product over the N L columns of the whole batch
  // (measured: per-image products and a sum over images are slower for wide layers).
  const Tensor cols = g.pointwise() ? group_major(reshape(x, {g.N, g.Cin, L}), G, g.N, g.Cin, L) : pack(x, g, false);
  return reshape(matmul(group_major(gy, G, g.N, g.Cout, L), transpose(cols, 1, 2)), g.w_shape());
}

// ---- the three recorded ops ----------------------------------------------------------------------

Tensor conv_op(const Tensor& x, const Tensor& w, const GeomPtr& g, const Tensor& bias) {
  Tensor y = conv_raw(x, w, *g, bias);
  if (any_requires_grad({&x, &w, &bias})) {
    const bool rx = x.requires_grad(), rw = w.requires_grad(), rb = bias.defined() && bias.requires_grad();
    // d<y, gy>/dx = conv_transpose(gy, w); d/dw = weight adjoint of (x, gy); d/db[c] = the sum
    // of gy[:, c] (over the batch and every output position).
    record("ConvolutionBackward", {x, w, bias}, {y}, {rw ? x : Tensor(), rx ? w : Tensor()},
           [g, rx, rw, rb](const Grads& gr, const Grads& s) {
             return Grads{rx ? conv_input_op(gr[0], s[1], g) : Tensor(),
                          rw ? conv_weight_op(s[0], gr[0], g) : Tensor(), rb ? sum(gr[0], {0, 2, 3, 4}) : Tensor()};
           });
  }
  return y;
}

Tensor conv_input_op(const Tensor& gy, const Tensor& w, const GeomPtr& g) {
  Tensor x = conv_input_raw(gy, w, *g);
  if (any_requires_grad({&gy, &w})) {
    const bool rg = gy.requires_grad(), rw = w.requires_grad();
    // <conv_input(gy, w), h> = <gy, conv(h, w)>: d/dgy = conv(h, w), d/dw = weight adjoint of (h, gy).
    record("ConvTransposeBackward", {gy, w}, {x}, {rw ? gy : Tensor(), rg ? w : Tensor()},
           [g, rg, rw](const Grads& gr, const Grads& s) {
             return Grads{rg ? conv_op(gr[0], s[1], g) : Tensor(), rw ? conv_weight_op(gr[0], s[0], g) : Tensor()};
           });
  }
  return x;
}

Tensor conv_weight_op(const Tensor& x, const Tensor& gy, const GeomPtr& g) {
  Tensor w = conv_weight_raw(x, gy, *g);
  if (any_requires_grad({&x, &gy})) {
    const bool rx = x.requires_grad(), rg = gy.requires_grad();
    // <conv_weight(x, gy), H> = <conv(x, H), gy>: d/dx = conv_input(gy, H), d/dgy = conv(x, H).
    record("ConvolutionWeightBackward", {x, gy}, {w}, {rg ? x : Tensor(), rx ? gy : Tensor()},
           [g, rx, rg](const Grads& gr, const Grads& s) {
             return Grads{rx ? conv_input_op(s[1], gr[0], g) : Tensor(), rg ? conv_op(s[0], gr[0], g) : Tensor()};
           });
  }
  return w;
}

}  // namespace xgrad::nn::conv_detail
