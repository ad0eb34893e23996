// Pooling: values and indices against naive loops written here, hand-derived gradients, ties
// and NaN, unbatched / non-contiguous / empty inputs, thread-count determinism, modules and
// every validation error.
#include <cmath>
#include <limits>
#include <optional>

#include "test_util.hpp"
#include "xgrad/nn/pooling.hpp"

using namespace xgrad;
using xgrad::test::check_gradcheck;
using xgrad::test::check_gradgradcheck;
using xgrad::test::check_values;
namespace F = xgrad::nn::functional;
namespace nn = xgrad::nn;

namespace {

using V = std::vector<double>;
using I = std::vector<std::int64_t>;

// A pooling configuration (per dim: h then w).
struct Cfg {
  std::int64_t kh, kw, sh, sw, ph, pw, dh = 1, dw = 1;
  bool ceil = false;
};

std::int64_t out_size(std::int64_t in, std::int64_t k, std::int64_t s, std::int64_t p, std::int64_t d, bool ceil) {
  // The formula spelled out: floor or ceil of (in + 2p - d(k-1) - 1) / s, plus 1; with ceil the
  // last window must start inside the input or the left padding.
  const double q = static_cast<double>(in + 2 * p - d * (k - 1) - 1) / static_cast<double>(s);
  std::int64_t o = static_cast<std::int64_t>(ceil ? std::ceil(q) : std::floor(q)) + 1;
  if (ceil && (o - 1) * s >= in + p) --o;
  return o;
}

// Naive max pooling of x [N, C, H, W] (row-major values): out and flat per-plane indices.
std::pair<V, I> naive_max(const V& x, const Shape& s, const Cfg& c, Shape& os) {
  const std::int64_t N = s[0], C = s[1], H = s[2], W = s[3];
  const std::int64_t OH = out_size(H, c.kh, c.sh, c.ph, c.dh, c.ceil), OW = out_size(W, c.kw, c.sw, c.pw, c.dw, c.ceil);
  os = {N, C, OH, OW};
  V out;
  I idx;
  for (std::int64_t n = 0; n < N * C; ++n)
    for (std::int64_t i = 0; i < OH; ++i)
      for (std::int64_t j = 0; j < OW; ++j) {
        double m = -std::numeric_limits<double>::infinity();
        std::int64_t best = -1;
        for (std::int64_t a = 0; a < c.kh; ++a)
          for (std::int64_t b = 0; b < c.kw; ++b) {
            const std::int64_t h = i * c.sh - c.ph + a * c.dh, w = j * c.sw - c.pw + b * c.dw;
            if (h < 0 || h >= H || w < 0 || w >= W) continue;
            const double v = x[static_cast<std::size_t>(n * H * W + h * W + w)];
            if (best < 0) best = h * W + w;  // the first valid position, kept if all are -inf
            if (v > m || std::isnan(v)) {
              m = v;
              best = h * W + w;
            }
          }
        out.push_back(m);
        idx.push_back(best);
      }
  return {out, idx};
}

// Naive average pooling.
V naive_avg(const V& x, const Shape& s, const Cfg& c, bool include_pad, std::optional<std::int64_t> div, Shape& os) {
  const std::int64_t N = s[0], C = s[1], H = s[2], W = s[3];
  const std::int64_t OH = out_size(H, c.kh, c.sh, c.ph, 1, c.ceil), OW = out_size(W, c.kw, c.sw, c.pw, 1, c.ceil);
  os = {N, C, OH, OW};
  V out;
  for (std::int64_t n = 0; n < N * C; ++n)
    for (std::int64_t i = 0; i < OH; ++i)
      for (std::int64_t j = 0; j < OW; ++j) {
        double sum = 0;
        std::int64_t valid = 0, padded = 0;
        for (std::int64_t a = 0; a < c.kh; ++a)
          for (std::int64_t b = 0; b < c.kw; ++b) {
            const std::int64_t h = i * c.sh - c.ph + a, w = j * c.sw - c.pw + b;
            if (h < H + c.ph && w < W + c.pw) ++padded;  // inside the padded input
            if (h < 0 || h >= H || w < 0 || w >= W) continue;
            sum += x[static_cast<std::size_t>(n * H * W + h * W + w)];
            ++valid;
          }
        const double d = div ? static_cast<double>(*div) : include_pad ? static_cast<double>(padded) : valid;
        out.push_back(valid == 0 ? 0.0 : sum / d);
      }
  return out;
}

// Naive adaptive pooling (max: with flat indices).
std::pair<V, I> naive_adaptive(const V& x, const Shape& s, std::int64_t OH, std::int64_t OW, bool max) {
  const std::int64_t H = s[2], W = s[3];
  V out;
  I idx;
  for (std::int64_t n = 0; n < s[0] * s[1]; ++n)
    for (std::int64_t i = 0; i < OH; ++i)
      for (std::int64_t j = 0; j < OW; ++j) {
        const auto h0 = static_cast<std::int64_t>(std::floor(double(i * H) / double(OH)));
        const auto h1 = static_cast<std::int64_t>(std::ceil(double((i + 1) * H) / double(OH)));
        const auto w0 = static_cast<std::int64_t>(std::floor(double(j * W) / double(OW)));
        const auto w1 = static_cast<std::int64_t>(std::ceil(double((j + 1) * W) / double(OW)));
        double sum = 0, m = -std::numeric_limits<double>::infinity();
        std::int64_t best = h0 * W + w0;
        for (std::int64_t h = h0; h < h1; ++h)
          for (std::int64_t w = w0; w < w1; ++w) {
            const double v = x[static_cast<std::size_t>(n * H * W + h * W + w)];
            sum += v;
            if (v > m || std::isnan(v)) {
              m = v;
              best = h * W + w;
            }
          }
        out.push_back(max ? m : sum / double((h1 - h0) * (w1 - w0)));
        idx.push_back(best);
      }
  return {out, idx};
}

V vals(const Tensor& t) { return t.detach().contiguous().to(float64).to_vector<double>(); }
I ivals(const Tensor& t) { return t.contiguous().to_vector<std::int64_t>(); }

Tensor input(const Shape& s, Dtype dt = float64) { return randn(s, dtype(dt)); }

nn::MaxPool2dOptions max_opts(const Cfg& c) {
  return nn::MaxPool2dOptions({c.kh, c.kw})
      .stride({c.sh, c.sw})
      .padding({c.ph, c.pw})
      .dilation({c.dh, c.dw})
      .ceil_mode(c.ceil);
}
nn::AvgPool2dOptions avg_opts(const Cfg& c) {
  return nn::AvgPool2dOptions({c.kh, c.kw}).stride({c.sh, c.sw}).padding({c.ph, c.pw}).ceil_mode(c.ceil);
}

const std::vector<Cfg> kMaxCfgs = {
    {2, 2, 2, 2, 0, 0},
    {3, 3, 2, 2, 1, 1},
    {3, 2, 1, 2, 1, 0, 2, 1},
    {2, 3, 2, 1, 0, 1, 1, 1, true},
    {3, 3, 2, 2, 1, 1, 1, 1, true},
    {2, 2, 3, 3, 1, 1, 2, 2, true},
    {1, 1, 1, 1, 0, 0},
    {5, 4, 3, 2, 2, 2, 1, 1, true},
};
const std::vector<Cfg> kAvgCfgs = {
    {2, 2, 2, 2, 0, 0},
    {3, 3, 2, 2, 1, 1},
    {3, 2, 1, 2, 1, 1},
    {2, 3, 2, 1, 0, 1, 1, 1, true},
    {3, 3, 2, 2, 1, 1, 1, 1, true},
    {4, 4, 3, 3, 2, 2, 1, 1, true},
    {1, 1, 1, 1, 0, 0},
};
const std::vector<Shape> kShapes = {{2, 3, 7, 9}, {1, 2, 6, 5}, {3, 1, 5, 8}};

}  // namespace

BOOST_AUTO_TEST_SUITE(pooling)

BOOST_AUTO_TEST_CASE(max_pool2d_matches_naive_loops) {
  manual_seed(1);
  for (Dtype dt : {float64, float32})
    for (const auto& s : kShapes)
      for (const auto& c : kMaxCfgs) {
        BOOST_TEST_CONTEXT("shape " << fmt::format("{}", s) << " k " << c.kh << "x" << c.kw << " s " << c.sh << ","
                                    << c.sw << " p " << c.ph << "," << c.pw << " d " << c.dh << "," << c.dw << " ceil "
                                    << c.ceil << " " << dtype_name(dt)) {
          Tensor x = input(s, dt);
          Shape os;
          auto [want, want_idx] = naive_max(vals(x), s, c, os);
          auto [y, idx] = F::max_pool2d_with_indices(x, max_opts(c));
          BOOST_CHECK(y.dtype() == dt);
          BOOST_CHECK(idx.dtype() == int64);
          check_values(y, os, want, 0.0);
          BOOST_CHECK(ivals(idx) == want_idx);
          // non-contiguous input: a transposed copy transposed back, and every other column
          Tensor xt = x.transpose(2, 3).contiguous().transpose(2, 3);
          BOOST_CHECK(!xt.is_contiguous());
          check_values(F::max_pool2d(xt, max_opts(c)), os, want, 0.0);
          Tensor wide = input({s[0], s[1], s[2], 2 * s[3]}, dt);
          Tensor xs = wide.slice(3, 0, 2 * s[3], 2);
          Shape os2;
          const V want_s = naive_max(vals(xs), s, c, os2).first;
          check_values(F::max_pool2d(xs, max_opts(c)), os, want_s, 0.0);
          // unbatched [C, H, W]
          Tensor x0 = x.select(0, 0);
          auto [y0, i0] = F::max_pool2d_with_indices(x0, max_opts(c));
          check_values(y0, {os[1], os[2], os[3]}, vals(y.select(0, 0)), 0.0);
          BOOST_CHECK(ivals(i0) == ivals(idx.select(0, 0)));
        }
      }
}

BOOST_AUTO_TEST_CASE(max_pool1d_matches_naive_loops) {
  manual_seed(2);
  for (Dtype dt : {float64, float32})
    for (const auto& c : kMaxCfgs) {
      const Shape s{2, 3, 1, 11};
      Tensor x = input({2, 3, 11}, dt);
      Cfg c1{1, c.kw, 1, c.sw, 0, c.pw, 1, c.dw, c.ceil};
      Shape os;
      auto [want, want_idx] = naive_max(vals(x), s, c1, os);
      auto o = nn::MaxPool1dOptions(c.kw).stride(c.sw).padding(c.pw).dilation(c.dw).ceil_mode(c.ceil);
      auto [y, idx] = F::max_pool1d_with_indices(x, o);
      check_values(y, {2, 3, os[3]}, want, 0.0);
      BOOST_CHECK(ivals(idx) == want_idx);
      check_values(F::max_pool1d(x.select(0, 1), o), {3, os[3]}, vals(y.select(0, 1)), 0.0);
    }
}

BOOST_AUTO_TEST_CASE(avg_pool2d_matches_naive_loops) {
  manual_seed(3);
  for (Dtype dt : {float64, float32})
    for (const auto& s : kShapes)
      for (const auto& c : kAvgCfgs)
        for (bool include_pad : {true, false})
          for (std::optional<std::int64_t> div : {std::optional<std::int64_t>{}, std::optional<std::int64_t>{3}}) {
            BOOST_TEST_CONTEXT("shape " << fmt::format("{}", s) << " k " << c.kh << "x" << c.kw << " p " << c.ph << ","
                                        << c.pw << " ceil " << c.ceil << " include_pad " << include_pad << " div "
                                        << div.value_or(0) << " " << dtype_name(dt)) {
              Tensor x = input(s, dt);
              Shape os;
              const V want = naive_avg(vals(x), s, c, include_pad, div, os);
              auto o = avg_opts(c).count_include_pad(include_pad).divisor_override(div);
              const double tol = dt == float64 ? 1e-14 : 1e-6;
              check_values(F::avg_pool2d(x, o), os, want, tol);
              Tensor xt = x.transpose(2, 3).contiguous().transpose(2, 3);
              check_values(F::avg_pool2d(xt, o), os, want, tol);
              check_values(F::avg_pool2d(x.select(0, 0), o), {os[1], os[2], os[3]},
                           V(want.begin(), want.begin() + os[1] * os[2] * os[3]), tol);
            }
          }
}

BOOST_AUTO_TEST_CASE(avg_pool1d_matches_naive_loops) {
  manual_seed(4);
  for (const auto& c : kAvgCfgs)
    for (bool include_pad : {true, false}) {
      Tensor x = input({2, 2, 10});
      Cfg c1{1, c.kw, 1, c.sw, 0, c.pw, 1, 1, c.ceil};
      Shape os;
      const V want = naive_avg(vals(x), {2, 2, 1, 10}, c1, include_pad, std::nullopt, os);
      auto o = nn::AvgPool1dOptions(c.kw).stride(c.sw).padding(c.pw).ceil_mode(c.ceil).count_include_pad(include_pad);
      check_values(F::avg_pool1d(x, o), {2, 2, os[3]}, want, 1e-14);
      check_values(F::avg_pool1d(x.select(0, 0), o), {2, os[3]}, V(want.begin(), want.begin() + 2 * os[3]), 1e-14);
    }
}

BOOST_AUTO_TEST_CASE(adaptive_pools_match_naive_loops) {
  manual_seed(5);
  for (Dtype dt : {float64, float32})
    for (const auto& s : kShapes)
      for (auto [oh, ow] : {std::pair<std::int64_t, std::int64_t>{1, 1}, {3, 2}, {4, 4}, {7, 9}, {9, 11}, {2, 5}}) {
        Tensor x = input(s, dt);
        const Shape os{s[0], s[1], oh, ow};
        const double tol = dt == float64 ? 1e-14 : 1e-6;
        check_values(F::adaptive_avg_pool2d(x, nn::AdaptiveAvgPool2dOptions({oh, ow})), os,
                     naive_adaptive(vals(x), s, oh, ow, false).first, tol);
        auto [want, want_idx] = naive_adaptive(vals(x), s, oh, ow, true);
        auto [y, idx] = F::adaptive_max_pool2d_with_indices(x.transpose(2, 3).contiguous().transpose(2, 3),
                                                            nn::AdaptiveMaxPool2dOptions({oh, ow}));
        check_values(y, os, want, 0.0);
        BOOST_CHECK(ivals(idx) == want_idx);
        check_values(F::adaptive_max_pool2d(x.select(0, 0), nn::AdaptiveMaxPool2dOptions({oh, ow})), {s[1], oh, ow},
                     vals(y.select(0, 0)), 0.0);
      }
  // output size 0: an empty result, as in PyTorch
  BOOST_CHECK(F::adaptive_avg_pool2d(input({1, 2, 3, 3}), nn::AdaptiveAvgPool2dOptions({0, 2})).shape() ==
              Shape({1, 2, 0, 2}));
}

BOOST_AUTO_TEST_CASE(lp_pool2d_matches_formula) {
  manual_seed(6);
  for (double p : {1.0, 2.0, 3.0})
    for (bool ceil : {false, true}) {
      Tensor x = rand({2, 2, 7, 6}, dtype(float64)) + 0.1;  // positive: the p-norm of each window
      const Cfg c{3, 2, 2, 2, 0, 0, 1, 1, ceil};
      Shape os;
      const V xv = vals(x);
      V xp;
      for (double v : xv) xp.push_back(std::pow(v, p));
      const V a = naive_avg(xp, {2, 2, 7, 6}, c, true, std::nullopt, os);
      V want;
      for (double v : a) want.push_back(std::pow(v * 6.0, 1.0 / p));
      check_values(F::lp_pool2d(x, nn::LPPool2dOptions(p, {3, 2}).stride(2).ceil_mode(ceil)), os, want, 1e-12);
    }
}

BOOST_AUTO_TEST_CASE(max_unpool2d_inverts_max_pool2d) {
  manual_seed(7);
  Tensor x = input({2, 3, 6, 7}).abs() + 0.1;  // positive: pooling the zero-filled unpooled tensor finds them again
  auto o = nn::MaxPool2dOptions(2);
  auto [y, idx] = F::max_pool2d_with_indices(x, o);
  // default output: (3 - 1) 2 + 2 = 6 rows and columns (here the 7th input column is lost)
  {
    auto [y6, i6] = F::max_pool2d_with_indices(x.slice(3, 0, 6), o);
    Tensor u = F::max_unpool2d(y6, i6, nn::MaxUnpool2dOptions(2));
    BOOST_CHECK(u.shape() == Shape({2, 3, 6, 6}));
    check_values(F::max_pool2d(u, o), y6.shape(), vals(y6), 0.0);
  }
  // with output_size: the exact input size
  Tensor u7 = F::max_unpool2d(y, idx, nn::MaxUnpool2dOptions(2), {6, 7});
  BOOST_CHECK(u7.shape() == Shape({2, 3, 6, 7}));
  const V xv = vals(x), uv = vals(u7), yv = vals(y);
  const I iv = ivals(idx);
  V want(xv.size(), 0.0);
  for (std::size_t q = 0; q < iv.size(); ++q) want[(q / 9) * 42 + static_cast<std::size_t>(iv[q])] = yv[q];
  check_values(u7, {2, 3, 6, 7}, want, 0.0);
  // pooling the unpooled tensor gives the pooled values back
  check_values(F::max_pool2d(u7, o), y.shape(), yv, 0.0);
  // the full-shape form of output_size, unbatched input, module form
  check_values(F::max_unpool2d(y, idx, nn::MaxUnpool2dOptions(2), {2, 3, 6, 7}), {2, 3, 6, 7}, want, 0.0);
  check_values(F::max_unpool2d(y.select(0, 1), idx.select(0, 1), nn::MaxUnpool2dOptions(2), {6, 7}), {3, 6, 7},
               V(want.begin() + 126, want.end()), 0.0);
  nn::MaxUnpool2d m(nn::MaxUnpool2dOptions(2));
  check_values(m(y, idx, {6, 7}), {2, 3, 6, 7}, want, 0.0);
  // gradient: d sum(w * unpool(y)) / dy = w gathered at the indices (gradcheck covers the rest)
  Tensor yl = y.detach().requires_grad_(true);
  check_gradcheck(
      [&](const std::vector<Tensor>& in) {
        return F::max_unpool2d(in[0], idx, nn::MaxUnpool2dOptions(2), {6, 7});
      },
      {yl});
  check_gradgradcheck(
      [&](const std::vector<Tensor>& in) {
        return F::max_unpool2d(in[0], idx, nn::MaxUnpool2dOptions(2), {6, 7});
      },
      {yl});
}

BOOST_AUTO_TEST_CASE(hand_derived_gradients) {
  // max_pool1d, k 2, s 1 over x = [1, 3, 2]: y = [max(1, 3), max(3, 2)] = [3, 3]; both outputs
  // come from x1, so d(sum y)/dx = [0, 2, 0] (accumulated over the overlapping windows).
  Tensor x = from_vector<double>({1, 3, 2}, {1, 1, 3}, true);
  F::max_pool1d(x, nn::MaxPool1dOptions(2).stride(1)).sum().backward();
  check_values(x.grad(), {1, 1, 3}, {0, 2, 0});
  // avg_pool1d, k 2, s 1, padding 1 over x = [a, b, c]: windows (pad, a), (a, b), (b, c), (c, pad).
  // count_include_pad: every divisor 2, each x in two windows: grad = [1, 1, 1].
  // otherwise divisors 1, 2, 2, 1: grad a = 1 + 1/2, b = 1/2 + 1/2, c = 1/2 + 1.
  for (bool include : {true, false}) {
    Tensor z = from_vector<double>({1, 1, 3}, {1, 1, 3}, true);
    F::avg_pool1d(z, nn::AvgPool1dOptions(2).stride(1).padding(1).count_include_pad(include)).sum().backward();
    check_values(z.grad(), {1, 1, 3}, include ? V{1, 1, 1} : V{1.5, 1, 1.5});
  }
  // avg_pool2d 2x2 with divisor_override 3 over a 2x2 plane: y = sum / 3, dy/dx = 1/3 each.
  Tensor w = from_vector<double>({1, 2, 3, 4}, {1, 1, 2, 2}, true);
  Tensor yw = F::avg_pool2d(w, nn::AvgPool2dOptions(2).divisor_override(3));
  check_values(yw, {1, 1, 1, 1}, {10.0 / 3});
  yw.sum().backward();
  check_values(w.grad(), {1, 1, 2, 2}, {1.0 / 3, 1.0 / 3, 1.0 / 3, 1.0 / 3});
  // adaptive_avg_pool2d to 1x1 over 2x3: the mean, d/dx = 1/6.
  Tensor v = from_vector<double>({1, 2, 3, 4, 5, 6}, {1, 2, 3}, true);
  F::adaptive_avg_pool2d(v, nn::AdaptiveAvgPool2dOptions(1)).sum().backward();
  check_values(v.grad(), {1, 2, 3}, V(6, 1.0 / 6));
  // lp_pool2d p = 2, 1x2 window over [3, 4]: y = sqrt(9 + 16) = 5, dy/dx = x / y = [0.6, 0.8].
  Tensor l = from_vector<double>({3, 4}, {1, 1, 2}, true);
  Tensor yl = F::lp_pool2d(l, nn::LPPool2dOptions(2.0, {1, 2}));
  check_values(yl, {1, 1, 1}, {5.0});
  yl.sum().backward();
  check_values(l.grad(), {1, 1, 2}, {0.6, 0.8});
  // max_pool2d's double backward: g_x = scatter(g_y at the argmax), linear in g_y; its own
  // gradient with respect to g_y gathers back: d/dg_y sum(u * g_x) = u[argmax].
  Tensor m = from_vector<double>({1, 5, 2, 0}, {1, 1, 2, 2}, true);
  Tensor gy = from_vector<double>({2}, {1, 1, 1, 1}, true);
  autograd::GradOptions go;
  go.create_graph = true;
  Tensor gx = autograd::grad({F::max_pool2d(m, nn::MaxPool2dOptions(2))}, {m}, {gy}, go)[0];
  check_values(gx, {1, 1, 2, 2}, {0, 2, 0, 0});
  Tensor u = from_vector<double>({10, 20, 30, 40}, {1, 1, 2, 2});
  check_values(autograd::grad({(gx * u).sum()}, {gy})[0], {1, 1, 1, 1}, {20});
}

BOOST_AUTO_TEST_CASE(ties_and_nan) {
  // ties: the first maximum in window order wins the index and the gradient
  Tensor x = from_vector<double>({2, 2, 2, 2}, {1, 1, 2, 2}, true);
  auto [y, idx] = F::max_pool2d_with_indices(x, nn::MaxPool2dOptions(2));
  BOOST_CHECK(ivals(idx) == I({0}));
  y.sum().backward();
  check_values(x.grad(), {1, 1, 2, 2}, {1, 0, 0, 0});
  // NaN propagates; the index is that of the last NaN in the window (PyTorch's rule)
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Tensor z = from_vector<double>({nan, 5, nan, 1}, {1, 1, 4});
  auto [yz, iz] = F::max_pool1d_with_indices(z, nn::MaxPool1dOptions(4));
  BOOST_CHECK(std::isnan(vals(yz)[0]));
  BOOST_CHECK(ivals(iz) == I({2}));
  auto [ya, ia] = F::adaptive_max_pool2d_with_indices(z.unsqueeze(0), nn::AdaptiveMaxPool2dOptions({1, 2}));
  BOOST_CHECK(std::isnan(vals(ya)[0]) && std::isnan(vals(ya)[1]));
  BOOST_CHECK(ivals(ia) == I({0, 2}));
  // all -inf: -inf with the first position
  const double inf = std::numeric_limits<double>::infinity();
  auto [yi, ii] = F::max_pool1d_with_indices(from_vector<double>({-inf, -inf}, {1, 2}), nn::MaxPool1dOptions(2));
  check_values(yi, {1, 1}, {-inf});
  BOOST_CHECK(ivals(ii) == I({0}));
  // NaN in an average
  check_values(F::avg_pool1d(z, nn::AvgPool1dOptions(2)), {1, 1, 2}, {nan, nan});
}

BOOST_AUTO_TEST_CASE(two_by_two_fast_path_matches_naive_loops) {
  // Kernel 2, stride 2 takes a branch-free path for rows without NaN and take_max for rows
  // with one: small integers (many ties), NaN, +-inf, odd sizes (the last row/column unused).
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  manual_seed(3);
  for (Dtype dt : {float64, float32})
    for (const Shape& s : {Shape{2, 3, 8, 10}, Shape{1, 2, 7, 9}}) {
      V x = vals(randint(0, 3, s, dtype(float64)));
      x[5] = nan;
      x[17] = -inf;
      x[18] = -inf;
      x[30] = inf;
      x[static_cast<std::size_t>(s[2] * s[3] + 3)] = nan;
      x[static_cast<std::size_t>(s[2] * s[3] + 3 + s[3])] = nan;
      Shape os;
      auto [want, want_idx] = naive_max(x, s, {2, 2, 2, 2, 0, 0}, os);
      BOOST_TEST_CONTEXT("shape " << fmt::format("{}", s) << " " << dtype_name(dt)) {
        auto [y, idx] = F::max_pool2d_with_indices(from_vector(x, s).to(dt), nn::MaxPool2dOptions(2));
        check_values(y, os, want, 0.0);
        BOOST_CHECK(ivals(idx) == want_idx);
      }
    }
}

BOOST_AUTO_TEST_CASE(indices_are_not_differentiable_and_batch_may_be_empty) {
  Tensor x = input({1, 2, 4, 4}).requires_grad_(true);
  auto [y, idx] = F::max_pool2d_with_indices(x, nn::MaxPool2dOptions(2));
  BOOST_CHECK(y.requires_grad());
  BOOST_CHECK(!idx.requires_grad());
  Tensor e = input({0, 2, 5, 5});
  BOOST_CHECK(F::max_pool2d(e, nn::MaxPool2dOptions(2)).shape() == Shape({0, 2, 2, 2}));
  BOOST_CHECK(F::avg_pool2d(e, nn::AvgPool2dOptions(3).stride(1)).shape() == Shape({0, 2, 3, 3}));
  BOOST_CHECK(F::max_pool1d(input({0, 2, 5}), nn::MaxPool1dOptions(2)).shape() == Shape({0, 2, 2}));
}

BOOST_AUTO_TEST_CASE(gradients_by_finite_differences) {
  manual_seed(8);
  using Ts = std::vector<Tensor>;
  // odd sizes, padding, dilation, ceil_mode, strided input (max pooling on tie-free values)
  Tensor x = xgrad::test::rand64({1, 2, 5, 6});
  for (const auto& c : kMaxCfgs) {
    if (c.kh > 3) continue;
    auto f = [&](const Ts& in) { return F::max_pool2d(in[0], max_opts(c)); };
    check_gradcheck(f, {x});
    check_gradgradcheck(f, {x});
  }
  for (const auto& c : kAvgCfgs)
    for (bool include : {true, false}) {
      if (c.kh > 3) continue;
      auto f = [&](const Ts& in) { return F::avg_pool2d(in[0], avg_opts(c).count_include_pad(include)); };
      check_gradcheck(f, {x});
      check_gradgradcheck(f, {x});
    }
  auto fa = [](const Ts& in) { return F::adaptive_avg_pool2d(in[0], nn::AdaptiveAvgPool2dOptions({3, 4})); };
  check_gradcheck(fa, {x});
  check_gradgradcheck(fa, {x});
  auto fm = [](const Ts& in) { return F::adaptive_max_pool2d(in[0], nn::AdaptiveMaxPool2dOptions({2, 4})); };
  check_gradcheck(fm, {x});
  check_gradgradcheck(fm, {x});
  Tensor pos = (rand({1, 2, 5, 6}, dtype(float64)) + 0.5).detach().requires_grad_(true);
  auto fl = [](const Ts& in) { return F::lp_pool2d(in[0], nn::LPPool2dOptions(3.0, 2).ceil_mode(true)); };
  check_gradcheck(fl, {pos});
  check_gradgradcheck(fl, {pos});
}

BOOST_AUTO_TEST_CASE(bit_identical_at_one_and_two_threads) {
  manual_seed(9);
  Tensor x = input({8, 32, 30, 31}, float32).requires_grad_(true);
  const int saved_threads = get_num_threads();
  auto run = [&](int threads) {
    set_num_threads(threads);
    std::vector<std::vector<float>> r;
    auto [ym, idx] = F::max_pool2d_with_indices(x, max_opts({3, 3, 2, 2, 1, 1, 1, 1, true}));
    Tensor ya = F::avg_pool2d(x, avg_opts({3, 3, 2, 2, 1, 1}).count_include_pad(false));
    Tensor yd = F::adaptive_avg_pool2d(x, nn::AdaptiveAvgPool2dOptions({7, 5}));
    Tensor yx = F::adaptive_max_pool2d(x, nn::AdaptiveMaxPool2dOptions({7, 5}));
    Tensor loss = (ym * ym).sum() + (ya * ya).sum() + (yd * yd).sum() + (yx * yx).sum();
    Tensor g = autograd::grad({loss}, {x})[0];
    for (const Tensor& t : {ym, ya, yd, yx, g}) r.push_back(t.detach().contiguous().to_vector<float>());
    r.push_back({static_cast<float>(ivals(idx)[123])});
    return r;
  };
  const auto one = run(1), two = run(2);
  set_num_threads(saved_threads);
  for (std::size_t i = 0; i < one.size(); ++i) BOOST_CHECK_MESSAGE(one[i] == two[i], "result " << i << " differs");
}

BOOST_AUTO_TEST_CASE(modules_match_functional_forms) {
  manual_seed(10);
  Tensor x = input({2, 3, 7, 8});
  Tensor x1 = input({2, 3, 9});
  nn::MaxPool2d mp(nn::MaxPool2dOptions(3).stride(2).padding(1));
  BOOST_CHECK(vals(mp(x)) == vals(F::max_pool2d(x, nn::MaxPool2dOptions(3).stride(2).padding(1))));
  BOOST_CHECK(ivals(mp.forward_with_indices(x).second) ==
              ivals(F::max_pool2d_with_indices(x, nn::MaxPool2dOptions(3).stride(2).padding(1)).second));
  BOOST_CHECK_EQUAL(mp.extra_repr(),
                    "kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), dilation=(1, 1), ceil_mode=False");
  BOOST_CHECK(nn::PoolSize<2>({3}) == nn::PoolSize<2>(3));
  BOOST_CHECK(nn::PoolSize<2>({2, 3}).v == (std::array<std::int64_t, 2>{2, 3}));
  nn::MaxPool1d m1(nn::MaxPool1dOptions(2));
  BOOST_CHECK(vals(m1(x1)) == vals(F::max_pool1d(x1, nn::MaxPool1dOptions(2))));
  BOOST_CHECK_EQUAL(m1.extra_repr(), "kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False");
  nn::AvgPool2d ap(nn::AvgPool2dOptions({2, 3}));
  BOOST_CHECK(vals(ap(x)) == vals(F::avg_pool2d(x, nn::AvgPool2dOptions({2, 3}))));
  BOOST_CHECK_EQUAL(ap.extra_repr(), "kernel_size=(2, 3), stride=(2, 3), padding=(0, 0)");
  nn::AvgPool1d a1(nn::AvgPool1dOptions(3).stride(1));
  BOOST_CHECK(vals(a1(x1)) == vals(F::avg_pool1d(x1, nn::AvgPool1dOptions(3).stride(1))));
  nn::AdaptiveAvgPool2d aa(nn::AdaptiveAvgPool2dOptions({3, 2}));
  BOOST_CHECK(vals(aa(x)) == vals(F::adaptive_avg_pool2d(x, nn::AdaptiveAvgPool2dOptions({3, 2}))));
  BOOST_CHECK_EQUAL(aa.extra_repr(), "output_size=(3, 2)");
  nn::AdaptiveMaxPool2d am(nn::AdaptiveMaxPool2dOptions(2));
  BOOST_CHECK(vals(am(x)) == vals(F::adaptive_max_pool2d(x, nn::AdaptiveMaxPool2dOptions(2))));
  BOOST_CHECK(vals(am.forward_with_indices(x).first) == vals(am(x)));
  // libtorch's short forms: a size alone makes the options (make_shared forwards the int).
  BOOST_CHECK_EQUAL(std::make_shared<nn::MaxPool2d>(2)->extra_repr(), nn::MaxPool2d(nn::MaxPool2dOptions(2)).extra_repr());
  BOOST_CHECK_EQUAL(nn::MaxPool1d(3).extra_repr(), nn::MaxPool1d(nn::MaxPool1dOptions(3)).extra_repr());
  BOOST_CHECK_EQUAL(nn::AvgPool2d(nn::PoolSize<2>({2, 3})).extra_repr(), ap.extra_repr());
  BOOST_CHECK_EQUAL(nn::AvgPool1d(2).extra_repr(), nn::AvgPool1d(nn::AvgPool1dOptions(2)).extra_repr());
  BOOST_CHECK_EQUAL(nn::AdaptiveAvgPool2d(7).extra_repr(), "output_size=(7, 7)");
  BOOST_CHECK(vals(nn::AdaptiveMaxPool2d(2)(x)) == vals(am(x)));
  BOOST_CHECK_EQUAL(nn::MaxUnpool2d(2).extra_repr(), nn::MaxUnpool2d(nn::MaxUnpool2dOptions(2)).extra_repr());
  nn::LPPool2d lp(nn::LPPool2dOptions(2.0, 2));
  BOOST_CHECK_EQUAL(lp.extra_repr(), "norm_type=2.0, kernel_size=(2, 2), stride=(2, 2), ceil_mode=False");
  Tensor xp = x.abs();
  BOOST_CHECK(vals(lp(xp)) == vals(F::lp_pool2d(xp, nn::LPPool2dOptions(2.0, 2))));
  nn::MaxUnpool2d mu(nn::MaxUnpool2dOptions(2));
  BOOST_CHECK_EQUAL(mu.extra_repr(), "kernel_size=(2, 2), stride=(2, 2), padding=(0, 0)");
}

BOOST_AUTO_TEST_CASE(validation_errors) {
  Tensor x = input({1, 2, 4, 4});
  using MO = nn::MaxPool2dOptions;
  using AO = nn::AvgPool2dOptions;
  XGRAD_CHECK_THROW_MSG(F::max_pool2d(input({4, 4}), MO(2)),
                        "max_pool2d: expected a 3-d [C, H, W] or 4-d [N, C, H, W] input with non-zero sizes");
  XGRAD_CHECK_THROW_MSG(F::max_pool2d(input({4, 4}), MO(2)), "got shape [4, 4]");
  XGRAD_CHECK_THROW_MSG(F::max_pool2d(input({1, 2, 0, 4}), MO(2)), "got shape [1, 2, 0, 4]");
  XGRAD_CHECK_THROW_MSG(F::max_pool1d(input({1, 2, 3, 4}), nn::MaxPool1dOptions(2)),
                        "max_pool1d: expected a 2-d [C, L] or 3-d [N, C, L] input");
  XGRAD_CHECK_THROW_MSG(F::avg_pool1d(input({5}), nn::AvgPool1dOptions(2)), "avg_pool1d: expected a 2-d [C, L]");
  XGRAD_CHECK_THROW_MSG(F::max_pool2d(x, MO({0, 2})), "max_pool2d: kernel_size must be > 0, got (0, 2)");
  XGRAD_CHECK_THROW_MSG(F::max_pool2d(x, MO(2).stride({1, 0})), "max_pool2d: stride must be > 0, got (1, 0)");
  XGRAD_CHECK_THROW_MSG(F::max_pool2d(x, MO(2).dilation(-1)), "max_pool2d: dilation must be > 0, got (-1, -1)");
  XGRAD_CHECK_THROW_MSG(F::max_pool2d(x, MO(2).padding({0, -1})), "max_pool2d: padding must be >= 0, got (0, -1)");
  XGRAD_CHECK_THROW_MSG(F::max_pool2d(x, MO(3).padding({2, 1})),
                        "max_pool2d: padding (2, 1) must be at most half the effective kernel size (3, 3) (kernel_size "
                        "(3, 3), dilation (1, 1))");
  XGRAD_CHECK_THROW_MSG(F::max_pool1d(input({2, 5}), nn::MaxPool1dOptions(3).padding(2)),
                        "max_pool1d: padding 2 must be at most half the effective kernel size 3");
  XGRAD_CHECK_THROW_MSG(F::avg_pool2d(x, AO(3).padding(2)),
                        "avg_pool2d: padding (2, 2) must be at most half the kernel size (3, 3)");
  XGRAD_CHECK_THROW_MSG(F::max_pool2d(x, MO(5)),
                        "max_pool2d: output size (0, 0) is too small: the kernel (5, 5) (dilation (1, 1)) is larger "
                        "than the input (4, 4) padded by (0, 0) (input shape [1, 2, 4, 4])");
  XGRAD_CHECK_THROW_MSG(F::max_pool2d(x, MO(3).dilation({1, 3})), "max_pool2d: output size (1, 0) is too small");
  XGRAD_CHECK_THROW_MSG(F::avg_pool1d(input({2, 3}), nn::AvgPool1dOptions(4).padding(0)),
                        "avg_pool1d: output size 0 is too small: the kernel 4 (dilation 1) is larger than the input 3");
  // dilation 3 over one element with padding 2: window 0 holds positions -2 and 1, both padding
  XGRAD_CHECK_THROW_MSG(F::max_pool1d(input({1, 1}), nn::MaxPool1dOptions(2).padding(2).dilation(3)),
                        "max_pool1d: window 0 along a dim of size 1 covers only padding (kernel_size 2, stride 2, "
                        "padding 2, dilation 3)");
  XGRAD_CHECK_THROW_MSG(F::avg_pool2d(x, AO(2).divisor_override(0)), "avg_pool2d: divisor_override must be non-zero");
  XGRAD_CHECK_THROW_MSG(F::max_pool2d(x.to(int64), MO(2)),
                        "max_pool2d: expected a floating dtype (float32 or float64), got int64 for input of shape "
                        "[1, 2, 4, 4]");
  XGRAD_CHECK_THROW_MSG(F::adaptive_avg_pool2d(x, nn::AdaptiveAvgPool2dOptions({2, -1})),
                        "adaptive_avg_pool2d: output_size must be >= 0, got (2, -1)");
  XGRAD_CHECK_THROW_MSG(F::adaptive_max_pool2d(input({2, 2, 2, 2, 2}), nn::AdaptiveMaxPool2dOptions(1)),
                        "adaptive_max_pool2d: expected a 3-d [C, H, W]");
  XGRAD_CHECK_THROW_MSG(F::lp_pool2d(x, nn::LPPool2dOptions(0.0, 2)), "lp_pool2d: norm_type must be non-zero");
  XGRAD_CHECK_THROW_MSG(F::lp_pool2d(x, nn::LPPool2dOptions(2.0, 5)), "lp_pool2d: output size (0, 0) is too small");
  XGRAD_CHECK_THROW_MSG(nn::MaxPool2dOptions({1, 2, 3}),
                        "pooling: expected 1 or 2 sizes (one per spatial dim), got [1, 2, 3]");
  // max_unpool2d
  using UO = nn::MaxUnpool2dOptions;
  auto [y, idx] = F::max_pool2d_with_indices(x, MO(2));
  XGRAD_CHECK_THROW_MSG(F::max_unpool2d(y, idx.to(float64), UO(2)), "max_unpool2d: indices must be int64, got float64");
  XGRAD_CHECK_THROW_MSG(F::max_unpool2d(y, idx.select(0, 0), UO(2)),
                        "max_unpool2d: indices shape [2, 2, 2] must equal the input shape [1, 2, 2, 2]");
  XGRAD_CHECK_THROW_MSG(F::max_unpool2d(y, idx, UO(0)), "max_unpool2d: kernel_size must be > 0, got (0, 0)");
  XGRAD_CHECK_THROW_MSG(F::max_unpool2d(y, idx, UO(2).stride({2, 0})), "max_unpool2d: stride must be > 0");
  XGRAD_CHECK_THROW_MSG(F::max_unpool2d(y, idx, UO(2).padding(-1)), "max_unpool2d: padding must be >= 0");
  XGRAD_CHECK_THROW_MSG(F::max_unpool2d(y, idx, UO(2), {4}),
                        "max_unpool2d: output_size must have 2 or 4 elements, got [4]");
  XGRAD_CHECK_THROW_MSG(F::max_unpool2d(y, idx, UO(2), {4, 6}),
                        "max_unpool2d: invalid output_size [4, 6] (dim 1 must be between 2 and 6, exclusive");
  XGRAD_CHECK_THROW_MSG(F::max_unpool2d(y, idx, UO(2).padding(2)), "max_unpool2d: output size (0, 0) must be positive");
  XGRAD_CHECK_THROW_MSG(F::max_unpool2d(y, idx + full(idx.shape(), 100, dtype(int64)), UO(2)),
                        "max_unpool2d: found an invalid max index 1");
  XGRAD_CHECK_THROW_MSG(F::max_unpool2d(y, idx + full(idx.shape(), 100, dtype(int64)), UO(2)),
                        "(output planes are of size 4x4)");
  XGRAD_CHECK_THROW_MSG(F::max_unpool2d(y, idx - full(idx.shape(), 100, dtype(int64)), UO(2)),
                        "max_unpool2d: found an invalid max index -");
  nn::MaxUnpool2d mu(UO(2));
  XGRAD_CHECK_THROW_MSG(mu.forward(y), "MaxUnpool2d");
}

BOOST_AUTO_TEST_SUITE_END()
