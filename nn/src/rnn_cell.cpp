// The fused gate kernels of the recurrent layers (one pass forward, one pass backward, a
// composed backward under create_graph), the functional cells built on them, and the cell
// modules RNNCell, LSTMCell, GRUCell.
#include <cmath>
#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/kernel/kernel.hpp"
#include "xgrad/autograd/linalg.hpp"
#include "xgrad/autograd/node.hpp"
#include "xgrad/autograd/shape.hpp"
#include "xgrad/nn/init.hpp"
#include "xgrad/nn/linear.hpp"
#include "xgrad/nn/rnn.hpp"
#include "xgrad/autograd/profile_scope.hpp"

namespace xgrad::nn {

namespace checks {
void RnnNonlinearity::operator()(std::string_view owner, std::string_view, const std::string& v) const {
  if (v != "tanh" && v != "relu")
    throw Error(fmt::format("{}: Unknown nonlinearity '{}'. Select from 'tanh' or 'relu'.", owner, v));
}
void RnnDropout::operator()(std::string_view owner, std::string_view, double v) const {
  if (!(v >= 0.0 && v <= 1.0))
    throw Error(
        fmt::format("{}: dropout should be a number in range [0, 1] representing the probability of an "
                    "element being zeroed, got {}",
                    owner, v));
}
}  // namespace checks

namespace {

using Grads = std::vector<Tensor>;

// ---- row kernels ------------------------------------------------------------------------------
// Each processes rows [r0, r1) of a step; a row's 4H (3H, H) gate values are independent of
// the other rows', so splitting rows across tasks never changes a value.

template <class T>
[[gnu::always_inline]] inline void rnn_fwd_body(const T* __restrict a, const T* __restrict b, T* __restrict h,
                                                std::int64_t n, bool relu) {
  if (relu) {
    for (std::int64_t j = 0; j < n; ++j) {
      const T v = a[j] + b[j];
      h[j] = v > T(0) ? v : T(0);
    }
  } else {
    for (std::int64_t j = 0; j < n; ++j) h[j] = kernel::fast_tanh(a[j] + b[j]);
  }
}

template <class T>
[[gnu::always_inline]] inline void lstm_fwd_body(const T* __restrict a, const T* __restrict b, const T* __restrict cx,
                                                 T* __restrict hy, T* __restrict cy, T* __restrict ws, std::int64_t H) {
  for (std::int64_t j = 0; j < H; ++j) {
    const T i = kernel::fast_sigmoid(a[j] + b[j]);
    const T f = kernel::fast_sigmoid(a[H + j] + b[H + j]);
    const T g = kernel::fast_tanh(a[2 * H + j] + b[2 * H + j]);
    const T o = kernel::fast_sigmoid(a[3 * H + j] + b[3 * H + j]);
    const T c = f * cx[j] + i * g;
    cy[j] = c;
    hy[j] = o * kernel::fast_tanh(c);
    ws[j] = i;
    ws[H + j] = f;
    ws[2 * H + j] = g;
    ws[3 * H + j] = o;
  }
}

template <class T>
[[gnu::always_inline]] inline void lstm_bwd_body(const T* __restrict gh, const T* __restrict gc, const T* __restrict cx,
                                                 const T* __restrict cy, const T* __restrict ws, T* __restrict da,
                                                 T* __restrict dcx, std::int64_t H) {
  for (std::int64_t j = 0; j < H; ++j) {
    const T i = ws[j], f = ws[H + j], g = ws[2 * H + j], o = ws[3 * H + j];
    const T tc = kernel::fast_tanh(cy[j]);
    const T dcy = gc[j] + gh[j] * o * (T(1) - tc * tc);
    da[j] = dcy * g * i * (T(1) - i);
    da[H + j] = dcy * cx[j] * f * (T(1) - f);
    da[2 * H + j] = dcy * i * (T(1) - g * g);
    da[3 * H + j] = gh[j] * tc * o * (T(1) - o);
    dcx[j] = dcy * f;
  }
}

template <class T>
[[gnu::always_inline]] inline void gru_fwd_body(const T* __restrict a, const T* __restrict b, const T* __restrict hx,
                                                T* __restrict hy, T* __restrict ws, std::int64_t H) {
  for (std::int64_t j = 0; j < H; ++j) {
    const T r = kernel::fast_sigmoid(a[j] + b[j]);
    const T z = kernel::fast_sigmoid(a[H + j] + b[H + j]);
    const T hn = b[2 * H + j];
    const T n = kernel::fast_tanh(a[2 * H + j] + r * hn);
    hy[j] = n + z * (hx[j] - n);
    ws[j] = r;
    ws[H + j] = z;
    ws[2 * H + j] = n;
    ws[3 * H + j] = hn;
  }
}

template <class T>
[[gnu::always_inline]] inline void gru_bwd_body(const T* __restrict g, const T* __restrict hx, const T* __restrict ws,
                                                T* __restrict dgi, T* __restrict dgh, T* __restrict dhx,
                                                std::int64_t H) {
  for (std::int64_t j = 0; j < H; ++j) {
    const T r = ws[j], z = ws[H + j], n = ws[2 * H + j], hn = ws[3 * H + j];
    const T dz = g[j] * (hx[j] - n) * z * (T(1) - z);
    const T dn = g[j] * (T(1) - z) * (T(1) - n * n);
    const T dr = dn * hn * r * (T(1) - r);
    dgi[j] = dr;
    dgi[H + j] = dz;
    dgi[2 * H + j] = dn;
    dgh[j] = dr;
    dgh[H + j] = dz;
    dgh[2 * H + j] = dn * r;
    dhx[j] = g[j] * z;
  }
}

// float32 clones (AVX-512 / AVX2 / baseline, simd.hpp); float64 keeps libm and no clones.
XGRAD_SIMD_CLONES void rnn_fwd_f32(const float* a, const float* b, float* h, std::int64_t n, bool relu) {
  rnn_fwd_body(a, b, h, n, relu);
}
XGRAD_SIMD_CLONES void lstm_fwd_f32(const float* a, const float* b, const float* cx, float* hy, float* cy, float* ws,
                                    std::int64_t H) {
  lstm_fwd_body(a, b, cx, hy, cy, ws, H);
}
XGRAD_SIMD_CLONES void lstm_bwd_f32(const float* gh, const float* gc, const float* cx, const float* cy, const float* ws,
                                    float* da, float* dcx, std::int64_t H) {
  lstm_bwd_body(gh, gc, cx, cy, ws, da, dcx, H);
}
XGRAD_SIMD_CLONES void gru_fwd_f32(const float* a, const float* b, const float* hx, float* hy, float* ws,
                                   std::int64_t H) {
  gru_fwd_body(a, b, hx, hy, ws, H);
}
XGRAD_SIMD_CLONES void gru_bwd_f32(const float* g, const float* hx, const float* ws, float* dgi, float* dgh, float* dhx,
                                   std::int64_t H) {
  gru_bwd_body(g, hx, ws, dgi, dgh, dhx, H);
}

template <class T>
void rnn_fwd_row(const T* a, const T* b, T* h, std::int64_t n, bool relu) {
  if constexpr (std::is_same_v<T, float>)
    rnn_fwd_f32(a, b, h, n, relu);
  else
    rnn_fwd_body(a, b, h, n, relu);
}
template <class T>
void lstm_fwd_row(const T* a, const T* b, const T* cx, T* hy, T* cy, T* ws, std::int64_t H) {
  if constexpr (std::is_same_v<T, float>)
    lstm_fwd_f32(a, b, cx, hy, cy, ws, H);
  else
    lstm_fwd_body(a, b, cx, hy, cy, ws, H);
}
template <class T>
void lstm_bwd_row(const T* gh, const T* gc, const T* cx, const T* cy, const T* ws, T* da, T* dcx, std::int64_t H) {
  if constexpr (std::is_same_v<T, float>)
    lstm_bwd_f32(gh, gc, cx, cy, ws, da, dcx, H);
  else
    lstm_bwd_body(gh, gc, cx, cy, ws, da, dcx, H);
}
template <class T>
void gru_fwd_row(const T* a, const T* b, const T* hx, T* hy, T* ws, std::int64_t H) {
  if constexpr (std::is_same_v<T, float>)
    gru_fwd_f32(a, b, hx, hy, ws, H);
  else
    gru_fwd_body(a, b, hx, hy, ws, H);
}
template <class T>
void gru_bwd_row(const T* g, const T* hx, const T* ws, T* dgi, T* dgh, T* dhx, std::int64_t H) {
  if constexpr (std::is_same_v<T, float>)
    gru_bwd_f32(g, hx, ws, dgi, dgh, dhx, H);
  else
    gru_bwd_body(g, hx, ws, dgi, dgh, dhx, H);
}

// f(r) for the rows r in [0, b), split across tasks above the grain; a row of `width` gates
// counts as 8 width elements of work (a transcendental per gate).
template <class F>
void for_rows(std::int64_t b, std::int64_t width, F&& f) {
  kernel::parallel_for(b, kernel::grain_for(width * 8), [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) f(r);
  });
}

// ---- argument checks ----------------------------------------------------------------------

// gates [b, G H] twice (same shape), `state` [b, H]; returns H.
std::int64_t check_gates(std::string_view op, const Tensor& gi, const Tensor& gh, std::int64_t G, const Tensor& state,
                         std::string_view state_name) {
  xgrad::detail::check_defined(gi, op);
  xgrad::detail::check_defined(gh, op);
  if (!is_floating(gi.dtype()))
    throw Error(fmt::format("{}: expected a floating dtype (float32 or float64), got {} for input_gates of shape {}",
                            op, gi.dtype(), gi.shape()));
  if (gi.dim() != 2 || gi.size(1) % G != 0)
    throw Error(fmt::format("{}: expected input_gates of shape [batch, {} * hidden_size], got {}", op, G, gi.shape()));
  if (gh.shape() != gi.shape())
    throw Error(
        fmt::format("{}: hidden_gates of shape {} does not match input_gates of shape {}", op, gh.shape(), gi.shape()));
  const std::int64_t H = gi.size(1) / G;
  const Shape want{gi.size(0), H};
  if (state.defined() && state.shape() != want)
    throw Error(fmt::format("{}: expected {} of shape {} for gates of shape {}, got {}", op, state_name, want,
                            gi.shape(), state.shape()));
  for (const auto& [t, name] : {std::pair{&gh, "hidden_gates"}, std::pair{&state, state_name.data()}})
    if (t->defined() && t->dtype() != gi.dtype())
      throw Error(fmt::format("{}: {} has dtype {} but input_gates has dtype {}", op, name, t->dtype(), gi.dtype()));
  return H;
}

Tensor need_if(bool need, const Tensor& t) { return need ? t : Tensor(); }
Tensor sq(const Tensor& t) { return mul(t, t); }

}  // namespace

namespace functional {

// ---- fused kernels ----------------------------------------------------------------------------

Tensor fused_rnn_cell(const Tensor& input_gates, const Tensor& hidden_gates, std::string_view nonlinearity) {
  XGRAD_PROFILE_OP("fused_rnn_cell", input_gates, hidden_gates);
  constexpr std::string_view op = "fused_rnn_cell";
  check_gates(op, input_gates, hidden_gates, 1, Tensor(), "");
  if (nonlinearity != "tanh" && nonlinearity != "relu")
    throw Error(fmt::format("{}: Unknown nonlinearity '{}'. Select from 'tanh' or 'relu'.", op, nonlinearity));
  const bool relu = nonlinearity == "relu";
  Tensor hy;
  {
    NoGradGuard ng;
    const Tensor a = input_gates.contiguous(), b = hidden_gates.contiguous();
    hy = xgrad::detail::make_tensor(a.shape(), a.dtype());
    const std::int64_t n = a.size(1);
    kernel::dispatch_floating(a, op, [&]<class T>() {
      const T* pa = a.data_ptr<T>();
      const T* pb = b.data_ptr<T>();
      T* ph = hy.data_ptr<T>();
      for_rows(a.size(0), n, [&](std::int64_t r) { rnn_fwd_row(pa + r * n, pb + r * n, ph + r * n, n, relu); });
    });
  }
  if (any_requires_grad({&input_gates, &hidden_gates})) {
    const bool need_i = input_gates.requires_grad(), need_h = hidden_gates.requires_grad();
    record(relu ? "FusedRnnReluCellBackward" : "FusedRnnTanhCellBackward", {input_gates, hidden_gates}, {hy},
           {input_gates, hidden_gates, hy}, [relu, need_i, need_h](const Grads& g, const Grads& s) {
             Tensor d;
             if (grad_mode_enabled()) {  // composed: differentiable in the inputs
               const Tensor a = add(s[0], s[1]);
               d = relu ? where(gt(a, 0.0), g[0], 0.0) : mul(g[0], rsub(sq(tanh(a)), 1.0));
             } else {
               const Tensor gy = g[0].contiguous(), h = s[2].contiguous();
               d = xgrad::detail::make_tensor(h.shape(), h.dtype());
               const std::int64_t n = h.size(1);
               kernel::dispatch_floating(h, "fused_rnn_cell", [&]<class T>() {
                 const T* pg = gy.data_ptr<T>();
                 const T* ph = h.data_ptr<T>();
                 T* pd = d.data_ptr<T>();
                 for_rows(h.size(0), n, [&](std::int64_t r) {
                   for (std::int64_t j = r * n; j < (r + 1) * n; ++j)
                     pd[j] = relu ? (ph[j] > T(0) ? pg[j] : T(0)) : pg[j] * (T(1) - ph[j] * ph[j]);
                 });
               });
             }
             return Grads{need_if(need_i, d), need_if(need_h, d)};
           });
  }
  return hy;
}

std::tuple<Tensor, Tensor> fused_lstm_cell(const Tensor& input_gates, const Tensor& hidden_gates, const Tensor& cx) {
  XGRAD_PROFILE_OP("fused_lstm_cell", input_gates, hidden_gates, cx);
  constexpr std::string_view op = "fused_lstm_cell";
  xgrad::detail::check_defined(cx, op);
  const std::int64_t H = check_gates(op, input_gates, hidden_gates, 4, cx, "cx");
  Tensor hy, cy, ws;
  {
    NoGradGuard ng;
    const Tensor a = input_gates.contiguous(), b = hidden_gates.contiguous(), c = cx.contiguous();
    const std::int64_t rows = a.size(0);
    hy = xgrad::detail::make_tensor({rows, H}, a.dtype());
    cy = xgrad::detail::make_tensor({rows, H}, a.dtype());
    ws = xgrad::detail::make_tensor(a.shape(), a.dtype());
    kernel::dispatch_floating(a, op, [&]<class T>() {
      const T* pa = a.data_ptr<T>();
      const T* pb = b.data_ptr<T>();
      const T* pc = c.data_ptr<T>();
      T *ph = hy.data_ptr<T>(), *pcy = cy.data_ptr<T>(), *pw = ws.data_ptr<T>();
      for_rows(rows, 4 * H, [&](std::int64_t r) {
        lstm_fwd_row(pa + r * 4 * H, pb + r * 4 * H, pc + r * H, ph + r * H, pcy + r * H, pw + r * 4 * H, H);
      });
    });
  }
  if (any_requires_grad({&input_gates, &hidden_gates, &cx})) {
    const bool need_i = input_gates.requires_grad(), need_h = hidden_gates.requires_grad(), need_c = cx.requires_grad();
    record("FusedLstmCellBackward", {input_gates, hidden_gates, cx}, {hy, cy}, {input_gates, hidden_gates, cx, ws, cy},
           [H, need_i, need_h, need_c](const Grads& g, const Grads& s) {
             Tensor da, dcx;
             if (grad_mode_enabled()) {  // composed: the forward recomputed with differentiable ops
               const auto ch = chunk(add(s[0], s[1]), 4, 1);
               const Tensor i = sigmoid(ch[0]), f = sigmoid(ch[1]), gg = tanh(ch[2]), o = sigmoid(ch[3]);
               const Tensor tc = tanh(add(mul(f, s[2]), mul(i, gg)));
               const Tensor dcy = add(g[1], mul(mul(g[0], o), rsub(sq(tc), 1.0)));
               const auto dsig = [](const Tensor& v) { return mul(v, rsub(v, 1.0)); };
               da = cat({mul(mul(dcy, gg), dsig(i)), mul(mul(dcy, s[2]), dsig(f)), mul(mul(dcy, i), rsub(sq(gg), 1.0)),
                         mul(mul(g[0], tc), dsig(o))},
                        1);
               dcx = mul(dcy, f);
             } else {
               const Tensor gh = g[0].contiguous(), gc = g[1].contiguous(), c = s[2].contiguous(),
                            w = s[3].contiguous(), y = s[4].contiguous();
               const std::int64_t rows = w.size(0);
               da = xgrad::detail::make_tensor(w.shape(), w.dtype());
               dcx = xgrad::detail::make_tensor({rows, H}, w.dtype());
               kernel::dispatch_floating(w, "fused_lstm_cell", [&]<class T>() {
                 const T *pgh = gh.data_ptr<T>(), *pgc = gc.data_ptr<T>(), *pc = c.data_ptr<T>(), *pw = w.data_ptr<T>(),
                         *py = y.data_ptr<T>();
                 T *pda = da.data_ptr<T>(), *pdc = dcx.data_ptr<T>();
                 for_rows(rows, 4 * H, [&](std::int64_t r) {
                   lstm_bwd_row(pgh + r * H, pgc + r * H, pc + r * H, py + r * H, pw + r * 4 * H, pda + r * 4 * H,
                                pdc + r * H, H);
                 });
               });
             }
             return Grads{need_if(need_i, da), need_if(need_h, da), need_if(need_c, dcx)};
           });
  }
  return {hy, cy};
}

Tensor fused_gru_cell(const Tensor& input_gates, const Tensor& hidden_gates, const Tensor& hx) {
  XGRAD_PROFILE_OP("fused_gru_cell", input_gates, hidden_gates, hx);
  constexpr std::string_view op = "fused_gru_cell";
  xgrad::detail::check_defined(hx, op);
  const std::int64_t H = check_gates(op, input_gates, hidden_gates, 3, hx, "hx");
  Tensor hy, ws;
  {
    NoGradGuard ng;
    const Tensor a = input_gates.contiguous(), b = hidden_gates.contiguous(), h = hx.contiguous();
    const std::int64_t rows = a.size(0);
    hy = xgrad::detail::make_tensor({rows, H}, a.dtype());
    ws = xgrad::detail::make_tensor({rows, 4 * H}, a.dtype());
    kernel::dispatch_floating(a, op, [&]<class T>() {
      const T *pa = a.data_ptr<T>(), *pb = b.data_ptr<T>(), *ph = h.data_ptr<T>();
      T *py = hy.data_ptr<T>(), *pw = ws.data_ptr<T>();
      for_rows(rows, 3 * H, [&](std::int64_t r) {
        gru_fwd_row(pa + r * 3 * H, pb + r * 3 * H, ph + r * H, py + r * H, pw + r * 4 * H, H);
      });
    });
  }
  if (any_requires_grad({&input_gates, &hidden_gates, &hx})) {
    const bool need_i = input_gates.requires_grad(), need_h = hidden_gates.requires_grad(), need_x = hx.requires_grad();
    record("FusedGruCellBackward", {input_gates, hidden_gates, hx}, {hy}, {input_gates, hidden_gates, hx, ws},
           [H, need_i, need_h, need_x](const Grads& g, const Grads& s) {
             Tensor dgi, dgh, dhx;
             if (grad_mode_enabled()) {  // composed
               const auto ci = chunk(s[0], 3, 1), chh = chunk(s[1], 3, 1);
               const Tensor r = sigmoid(add(ci[0], chh[0])), z = sigmoid(add(ci[1], chh[1]));
               const Tensor n = tanh(add(ci[2], mul(r, chh[2])));
               const auto dsig = [](const Tensor& v) { return mul(v, rsub(v, 1.0)); };
               const Tensor dz = mul(mul(g[0], sub(s[2], n)), dsig(z));
               const Tensor dn = mul(mul(g[0], rsub(z, 1.0)), rsub(sq(n), 1.0));
               const Tensor dr = mul(mul(dn, chh[2]), dsig(r));
               dgi = cat({dr, dz, dn}, 1);
               dgh = cat({dr, dz, mul(dn, r)}, 1);
               dhx = mul(g[0], z);
             } else {
               const Tensor gy = g[0].contiguous(), h = s[2].contiguous(), w = s[3].contiguous();
               const std::int64_t rows = h.size(0);
               dgi = xgrad::detail::make_tensor({rows, 3 * H}, h.dtype());
               dgh = xgrad::detail::make_tensor({rows, 3 * H}, h.dtype());
               dhx = xgrad::detail::make_tensor({rows, H}, h.dtype());
               kernel::dispatch_floating(h, "fused_gru_cell", [&]<class T>() {
                 const T *pg = gy.data_ptr<T>(), *ph = h.data_ptr<T>(), *pw = w.data_ptr<T>();
                 T *pi = dgi.data_ptr<T>(), *pj = dgh.data_ptr<T>(), *px = dhx.data_ptr<T>();
                 for_rows(rows, 3 * H, [&](std::int64_t r) {
                   gru_bwd_row(pg + r * H, ph + r * H, pw + r * 4 * H, pi + r * 3 * H, pj + r * 3 * H, px + r * H, H);
                 });
               });
             }
             return Grads{need_if(need_i, dgi), need_if(need_h, dgh), need_if(need_x, dhx)};
           });
  }
  return hy;
}

}  // namespace functional

namespace {


// Checks a functional cell's arguments (ATen's check_rnn_cell_forward_* wording); returns H.
std::int64_t check_cell(std::string_view op, std::int64_t G, const Tensor& input, const Tensor& hx, const Tensor& cx,
                        const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih, const Tensor& b_hh) {
  for (const auto* t : {&input, &hx, &w_ih, &w_hh}) xgrad::detail::check_defined(*t, op);
  if (!is_floating(input.dtype()))
    throw Error(fmt::format("{}: expected a floating dtype (float32 or float64), got {} for input of shape {}", op,
                            input.dtype(), input.shape()));
  if (input.dim() != 2)
    throw Error(fmt::format("{}: expected input of shape [batch, input_size], got {}", op, input.shape()));
  if (w_ih.dim() != 2 || w_ih.size(0) % G != 0)
    throw Error(
        fmt::format("{}: expected weight_ih of shape [{} * hidden_size, input_size], got {}", op, G, w_ih.shape()));
  const std::int64_t H = w_ih.size(0) / G;
  if (w_hh.shape() != Shape{G * H, H})
    throw Error(fmt::format("{}: expected weight_hh of shape {} (weight_ih is {}), got {}", op, Shape{G * H, H},
                            w_ih.shape(), w_hh.shape()));
  for (const auto& [b, name] : {std::pair{&b_ih, "bias_ih"}, std::pair{&b_hh, "bias_hh"}})
    if (b->defined() && b->shape() != Shape{G * H})
      throw Error(fmt::format("{}: expected {} of shape {}, got {}", op, name, Shape{G * H}, b->shape()));
  if (input.size(1) != w_ih.size(1))
    throw Error(
        fmt::format("{}: input has inconsistent input_size: got {}, expected {}", op, input.size(1), w_ih.size(1)));
  int k = 0;
  for (const auto* h : {&hx, &cx}) {
    if (!h->defined()) continue;
    if (h->dim() != 2)
      throw Error(fmt::format("{}: expected hidden{} of shape [batch, hidden_size], got {}", op, k, h->shape()));
    if (h->size(0) != input.size(0))
      throw Error(fmt::format("{}: Input batch size {} doesn't match hidden{} batch size {}", op, input.size(0), k,
                              h->size(0)));
    if (h->size(1) != H)
      throw Error(fmt::format("{}: hidden{} has inconsistent hidden_size: got {}, expected {}", op, k, h->size(1), H));
    ++k;
  }
  const std::pair<const Tensor*, const char*> others[] = {
      {&hx, "hx"}, {&cx, "cx"}, {&w_ih, "weight_ih"}, {&w_hh, "weight_hh"}, {&b_ih, "bias_ih"}, {&b_hh, "bias_hh"}};
  for (const auto& [t, name] : others)
    if (t->defined() && t->dtype() != input.dtype())
      throw Error(
          fmt::format("{}: input has dtype {} but {} has dtype {} (convert the input, or the parameters with "
                      ".to())",
                      op, input.dtype(), name, t->dtype()));
  return H;
}

Tensor rnn_cell_impl(std::string_view op, bool relu, const Tensor& input, const Tensor& hx, const Tensor& w_ih,
                     const Tensor& w_hh, const Tensor& b_ih, const Tensor& b_hh) {
  check_cell(op, 1, input, hx, Tensor(), w_ih, w_hh, b_ih, b_hh);
  return functional::fused_rnn_cell(functional::linear(input, w_ih, b_ih), functional::linear(hx, w_hh, b_hh), relu ? "relu" : "tanh");
}

std::tuple<Tensor, Tensor> lstm_cell_impl(std::string_view op, const Tensor& input, const Tensor& hx, const Tensor& cx,
                                          const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih,
                                          const Tensor& b_hh) {
  xgrad::detail::check_defined(cx, op);
  check_cell(op, 4, input, hx, cx, w_ih, w_hh, b_ih, b_hh);
  return functional::fused_lstm_cell(functional::linear(input, w_ih, b_ih), functional::linear(hx, w_hh, b_hh), cx);
}

Tensor gru_cell_impl(std::string_view op, const Tensor& input, const Tensor& hx, const Tensor& w_ih, const Tensor& w_hh,
                     const Tensor& b_ih, const Tensor& b_hh) {
  check_cell(op, 3, input, hx, Tensor(), w_ih, w_hh, b_ih, b_hh);
  return functional::fused_gru_cell(functional::linear(input, w_ih, b_ih), functional::linear(hx, w_hh, b_hh), hx);
}

}  // namespace

namespace functional {

Tensor rnn_tanh_cell(const Tensor& input, const Tensor& hx, const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih,
                     const Tensor& b_hh) {
  XGRAD_PROFILE_OP("rnn_tanh_cell", input, hx, w_ih, w_hh, b_ih, b_hh);
  return rnn_cell_impl("rnn_tanh_cell", false, input, hx, w_ih, w_hh, b_ih, b_hh);
}

Tensor rnn_relu_cell(const Tensor& input, const Tensor& hx, const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih,
                     const Tensor& b_hh) {
  XGRAD_PROFILE_OP("rnn_relu_cell", input, hx, w_ih, w_hh, b_ih, b_hh);
  return rnn_cell_impl("rnn_relu_cell", true, input, hx, w_ih, w_hh, b_ih, b_hh);
}

std::tuple<Tensor, Tensor> lstm_cell(const Tensor& input, const std::tuple<Tensor, Tensor>& hx, const Tensor& w_ih,
                                     const Tensor& w_hh, const Tensor& b_ih, const Tensor& b_hh) {
  XGRAD_PROFILE_OP("lstm_cell", input, w_ih, w_hh, b_ih, b_hh);
  return lstm_cell_impl("lstm_cell", input, std::get<0>(hx), std::get<1>(hx), w_ih, w_hh, b_ih, b_hh);
}

Tensor gru_cell(const Tensor& input, const Tensor& hx, const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih,
                const Tensor& b_hh) {
  XGRAD_PROFILE_OP("gru_cell", input, hx, w_ih, w_hh, b_ih, b_hh);
  return gru_cell_impl("gru_cell", input, hx, w_ih, w_hh, b_ih, b_hh);
}

}  // namespace functional

// ---- cell modules ---------------------------------------------------------------------------

namespace {

// Registers weight_ih, weight_hh, bias_ih, bias_hh (PyTorch's order).
template <class Cell, class Options>
void register_cell(Cell& m, const Options& o, std::int64_t G, Tensor& w_ih, Tensor& w_hh, Tensor& b_ih, Tensor& b_hh) {
  const std::int64_t H = o.hidden_size();
  w_ih = m.register_parameter("weight_ih", zeros({G * H, o.input_size()}));
  w_hh = m.register_parameter("weight_hh", zeros({G * H, H}));
  if (o.bias()) {
    b_ih = m.register_parameter("bias_ih", zeros({G * H}));
    b_hh = m.register_parameter("bias_hh", zeros({G * H}));
  }
}

void uniform_all(const std::vector<Tensor>& params, std::int64_t hidden_size) {
  const double stdv = hidden_size > 0 ? 1.0 / std::sqrt(static_cast<double>(hidden_size)) : 0.0;
  for (const Tensor& p : params) init::uniform_(p, -stdv, stdv);
}

std::string cell_repr(std::int64_t in, std::int64_t h, bool bias) {
  return fmt::format("{}, {}{}", in, h, bias ? "" : ", bias=False");
}

// The batched (input, hx) of a cell's forward: unbatched [I] becomes [1, I]; hx undefined
// becomes zeros [B, H].
struct CellArgs {
  Tensor x;
  bool batched;
};

CellArgs cell_input(std::string_view owner, const Tensor& input) {
  xgrad::detail::check_defined(input, owner);
  if (input.dim() != 1 && input.dim() != 2)
    throw Error(fmt::format("{}: Expected input to be 1D or 2D, got {}D instead (input of shape {})", owner,
                            input.dim(), input.shape()));
  const bool batched = input.dim() == 2;
  return {batched ? input : input.unsqueeze(0), batched};
}

Tensor cell_state(std::string_view owner, std::string_view what, const Tensor& h, const CellArgs& a, std::int64_t H) {
  if (!h.defined()) return zeros({a.x.size(0), H}, dtype(is_floating(a.x.dtype()) ? a.x.dtype() : Dtype::float32));
  const std::int64_t want = a.batched ? 2 : 1;
  if (h.dim() != 1 && h.dim() != 2)
    throw Error(fmt::format("{}: Expected {} to be 1D or 2D, got {}D instead ({} of shape {})", owner, what, h.dim(),
                            what, h.shape()));
  if (h.dim() != want)
    throw Error(fmt::format("{}: Expected {} to be {}D for {} input, got {}D instead ({} of shape {})", owner, what,
                            want, a.batched ? "batched 2-D" : "unbatched 1-D", h.dim(), what, h.shape()));
  return a.batched ? h : h.unsqueeze(0);
}

Tensor cell_output(const Tensor& y, const CellArgs& a) { return a.batched ? y : y.squeeze(0); }

}  // namespace

RNNCell::RNNCell(const RNNCellOptions& options) : Module("RNNCell"), options_(options) {
  ::xgrad::options::validate_options(options_, name_);
  register_cell(*this, options_, 1, weight_ih, weight_hh, bias_ih, bias_hh);
  reset_parameters();
}

void RNNCell::reset_parameters() { uniform_all(parameters(), options_.hidden_size()); }

Tensor RNNCell::forward(const Tensor& input, const Tensor& hx) {
  const CellArgs a = cell_input(name_, input);
  const Tensor h = cell_state(name_, "hidden", hx, a, options_.hidden_size());
  return cell_output(
      rnn_cell_impl(name_, options_.nonlinearity() == "relu", a.x, h, weight_ih, weight_hh, bias_ih, bias_hh), a);
}

std::string RNNCell::extra_repr() const {
  std::string s = cell_repr(options_.input_size(), options_.hidden_size(), options_.bias());
  if (options_.nonlinearity() != "tanh") s += ", nonlinearity=" + options_.nonlinearity();
  return s;
}

LSTMCell::LSTMCell(const LSTMCellOptions& options) : Module("LSTMCell"), options_(options) {
  ::xgrad::options::validate_options(options_, name_);
  register_cell(*this, options_, 4, weight_ih, weight_hh, bias_ih, bias_hh);
  reset_parameters();
}

void LSTMCell::reset_parameters() { uniform_all(parameters(), options_.hidden_size()); }

std::tuple<Tensor, Tensor> LSTMCell::forward(const Tensor& input, const std::optional<std::tuple<Tensor, Tensor>>& hx) {
  const CellArgs a = cell_input(name_, input);
  const std::int64_t H = options_.hidden_size();
  const Tensor h = cell_state(name_, "hx[0]", hx ? std::get<0>(*hx) : Tensor(), a, H);
  const Tensor c = cell_state(name_, "hx[1]", hx ? std::get<1>(*hx) : Tensor(), a, H);
  auto [hy, cy] = lstm_cell_impl(name_, a.x, h, c, weight_ih, weight_hh, bias_ih, bias_hh);
  return {cell_output(hy, a), cell_output(cy, a)};
}

std::string LSTMCell::extra_repr() const {
  return cell_repr(options_.input_size(), options_.hidden_size(), options_.bias());
}

GRUCell::GRUCell(const GRUCellOptions& options) : Module("GRUCell"), options_(options) {
  ::xgrad::options::validate_options(options_, name_);
  register_cell(*this, options_, 3, weight_ih, weight_hh, bias_ih, bias_hh);
  reset_parameters();
}

void GRUCell::reset_parameters() { uniform_all(parameters(), options_.hidden_size()); }

Tensor GRUCell::forward(const Tensor& input, const Tensor& hx) {
  const CellArgs a = cell_input(name_, input);
  const Tensor h = cell_state(name_, "hidden", hx, a, options_.hidden_size());
  return cell_output(gru_cell_impl(name_, a.x, h, weight_ih, weight_hh, bias_ih, bias_hh), a);
}

std::string GRUCell::extra_repr() const {
  return cell_repr(options_.input_size(), options_.hidden_size(), options_.bias());
}

}  // namespace xgrad::nn
