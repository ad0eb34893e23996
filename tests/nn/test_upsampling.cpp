// interpolate / Upsample and pixel_shuffle / pixel_unshuffle (upsampling.hpp): PyTorch's
// documented examples, hand-computed cases, naive reference loops, gradients (hand-derived,
// gradcheck, gradgradcheck), non-contiguous inputs, thread-count determinism and errors.
#include <algorithm>
#include <cmath>
#include <optional>

#include "test_util.hpp"
#include "xgrad/autograd/threading.hpp"
#include "xgrad/nn/upsampling.hpp"

using namespace xgrad;
using namespace xgrad::nn;
namespace F = xgrad::nn::functional;
using xgrad::test::check_close;
using xgrad::test::check_gradcheck;
using xgrad::test::check_gradgradcheck;
using xgrad::test::check_values;
using xgrad::test::rand64;

namespace {

using I64s = std::vector<std::int64_t>;

Tensor t64(const std::vector<double>& v, const Shape& s, bool rg = false) { return from_vector<double>(v, s, rg); }

InterpolateFuncOptions by_size(I64s size, std::string mode, std::optional<bool> ac = std::nullopt) {
  return InterpolateFuncOptions().size(size).mode(std::move(mode)).align_corners(ac);
}
InterpolateFuncOptions by_scale(std::vector<double> f, std::string mode, std::optional<bool> ac = std::nullopt) {
  return InterpolateFuncOptions().scale_factor(f).mode(std::move(mode)).align_corners(ac);
}

// ---- naive references, written per output element from PyTorch's formulas ----

double src_index(std::int64_t in, std::int64_t out, std::int64_t dst, bool ac, std::optional<double> scale,
                 bool cubic) {
  double s;
  if (ac)
    s = out > 1 ? double(in - 1) / double(out - 1) : 0.0;
  else
    s = scale ? 1.0 / *scale : double(in) / double(out);
  if (ac) return s * double(dst);
  const double r = s * (double(dst) + 0.5) - 0.5;
  return (!cubic && r < 0) ? 0.0 : r;
}

// Bilinear [N, C, H, W] -> [N, C, oh, ow] on doubles.
Tensor naive_bilinear(const Tensor& x, std::int64_t oh, std::int64_t ow, bool ac,
                      std::optional<double> sh = std::nullopt, std::optional<double> sw = std::nullopt) {
  const auto n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const auto v = x.detach().contiguous().to_vector<double>();
  std::vector<double> out;
  for (std::int64_t p = 0; p < n * c; ++p)
    for (std::int64_t i = 0; i < oh; ++i)
      for (std::int64_t j = 0; j < ow; ++j) {
        const double ry = src_index(h, oh, i, ac, sh, false), rx = src_index(w, ow, j, ac, sw, false);
        const std::int64_t y0 = std::min<std::int64_t>(std::int64_t(std::floor(ry)), h - 1);
        const std::int64_t x0 = std::min<std::int64_t>(std::int64_t(std::floor(rx)), w - 1);
        const std::int64_t y1 = std::min(y0 + 1, h - 1), x1 = std::min(x0 + 1, w - 1);
        const double ly = ry - double(y0), lx = rx - double(x0);
        auto at = [&](std::int64_t y, std::int64_t xx) { return v[std::size_t((p * h + y) * w + xx)]; };
        out.push_back((1 - ly) * ((1 - lx) * at(y0, x0) + lx * at(y0, x1)) +
                      ly * ((1 - lx) * at(y1, x0) + lx * at(y1, x1)));
      }
  return t64(out, {n, c, oh, ow});
}

double cubic_w(double x) {  // Keys' kernel, A = -0.75, for |x| < 2
  const double A = -0.75;
  x = std::fabs(x);
  if (x <= 1) return ((A + 2) * x - (A + 3)) * x * x + 1;
  return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
}

Tensor naive_bicubic(const Tensor& x, std::int64_t oh, std::int64_t ow, bool ac) {
  const auto n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const auto v = x.detach().contiguous().to_vector<double>();
  std::vector<double> out;
  for (std::int64_t p = 0; p < n * c; ++p)
    for (std::int64_t i = 0; i < oh; ++i)
      for (std::int64_t j = 0; j < ow; ++j) {
        const double ry = src_index(h, oh, i, ac, std::nullopt, true), rx = src_index(w, ow, j, ac, std::nullopt, true);
        const auto y0 = std::int64_t(std::floor(ry)), x0 = std::int64_t(std::floor(rx));
        const double ty = ry - double(y0), tx = rx - double(x0);
        double acc = 0;
        for (int a = -1; a <= 2; ++a)
          for (int b = -1; b <= 2; ++b) {
            const auto yy = std::clamp<std::int64_t>(y0 + a, 0, h - 1), xx = std::clamp<std::int64_t>(x0 + b, 0, w - 1);
            acc += cubic_w(double(a) - ty) * cubic_w(double(b) - tx) * v[std::size_t((p * h + yy) * w + xx)];
          }
        out.push_back(acc);
      }
  return t64(out, {n, c, oh, ow});
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.to_vector<float>() == b.to_vector<float>();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(upsampling)

// ---- PyTorch's documented nn.Upsample examples ----

BOOST_AUTO_TEST_CASE(pytorch_docs_2x2) {
  const Tensor x = arange(1, 5, dtype(float64)).view({1, 1, 2, 2});
  check_values(F::interpolate(x, by_scale({2}, "nearest")), {1, 1, 4, 4},
               {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4});
  check_values(F::interpolate(x, by_scale({2}, "bilinear")), {1, 1, 4, 4},
               {1.0, 1.25, 1.75, 2.0, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3.0, 3.25, 3.75, 4.0});
  // align_corners: the corners stay, everything in between in steps of 1/3 (x) and 2/3 (y).
  std::vector<double> want;
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) want.push_back(1.0 + j / 3.0 + 2.0 * i / 3.0);
  check_values(F::interpolate(x, by_scale({2}, "bilinear", true)), {1, 1, 4, 4}, want, 1e-12);
  // The module gives the same.
  Upsample up(UpsampleOptions().scale_factor(std::vector<double>{2}).mode("bilinear").align_corners(true));
  check_close(up.forward(x), F::interpolate(x, by_scale({2}, "bilinear", true)), 0.0);
}

BOOST_AUTO_TEST_CASE(pytorch_docs_zero_padded_3x3) {
  const Tensor x = t64({1, 2, 0, 3, 4, 0, 0, 0, 0}, {1, 1, 3, 3});
  check_values(F::interpolate(x, by_scale({2}, "bilinear")), {1, 1, 6, 6},
               {1.0,  1.25,   1.75,   1.5,   0.5,   0.0, 1.5,  1.75,   2.25,   1.875, 0.625, 0.0,
                2.5,  2.75,   3.25,   2.625, 0.875, 0.0, 2.25, 2.4375, 2.8125, 2.25,  0.75,  0.0,
                0.75, 0.8125, 0.9375, 0.75,  0.25,  0.0, 0.0,  0.0,    0.0,    0.0,   0.0,   0.0},
               1e-12);
  check_values(F::interpolate(x, by_scale({2}, "bilinear", true)), {1, 1, 6, 6},
               {1.0, 1.4,  1.8,  1.6,  0.8,  0.0, 1.8, 2.2,  2.6,  2.24, 1.12, 0.0, 2.6, 3.0, 3.4, 2.88, 1.44, 0.0,
                2.4, 2.72, 3.04, 2.56, 1.28, 0.0, 1.2, 1.36, 1.52, 1.28, 0.64, 0.0, 0.0, 0.0, 0.0, 0.0,  0.0,  0.0},
               1e-12);
}

// ---- nearest ----

BOOST_AUTO_TEST_CASE(nearest_legacy_index_rule) {
  // in 3 -> out 5: src = floor(dst * 3/5) = 0, 0, 1, 1, 2.
  const Tensor x = t64({10, 20, 30}, {1, 1, 3});
  check_values(F::interpolate(x, by_size({5}, "nearest")), {1, 1, 5}, {10, 10, 20, 20, 30});
  // Downsampling 5 -> 2: floor(dst * 2.5) = 0, 2.
  check_values(F::interpolate(t64({1, 2, 3, 4, 5}, {1, 1, 5}), by_size({2}, "nearest")), {1, 1, 2}, {1, 3});
  // nearest-exact: floor((dst + 0.5) * 2.5) = 1, 3.
  check_values(F::interpolate(t64({1, 2, 3, 4, 5}, {1, 1, 5}), by_size({2}, "nearest-exact")), {1, 1, 2}, {2, 4});
  // A scale_factor is used as given (1 / 1.5), unless recompute_scale_factor: in 2, factor 1.7 ->
  // out floor(3.4) = 3; src = floor(dst / 1.7) = 0, 0, 1 (recomputed: floor(dst * 2/3) = 0, 0, 1).
  check_values(F::interpolate(t64({1, 2}, {1, 1, 2}), by_scale({1.7}, "nearest")), {1, 1, 3}, {1, 1, 2});
  // in 4, factor 0.6 -> out 2; given scale: floor(dst / 0.6) = 0, 1; recomputed (4/2): 0, 2.
  const Tensor y = t64({1, 2, 3, 4}, {1, 1, 4});
  check_values(F::interpolate(y, by_scale({0.6}, "nearest")), {1, 1, 2}, {1, 2});
  check_values(F::interpolate(y, by_scale({0.6}, "nearest").recompute_scale_factor(true)), {1, 1, 2}, {1, 3});
}

BOOST_AUTO_TEST_CASE(nearest_5d_and_per_dim_sizes) {
  const Tensor x = arange(0, 8, dtype(float64)).view({1, 1, 2, 2, 2});
  Tensor y = F::interpolate(x, by_size({2, 4, 1}, "nearest"));
  // depth kept, height doubled (dst >> 1), width 2 -> 1 (src 0).
  check_values(y, {1, 1, 2, 4, 1}, {0, 0, 2, 2, 4, 4, 6, 6});
  BOOST_CHECK_EQUAL(y.grad_fn_name(), "");
  Tensor xr = arange(0, 8, dtype(float64)).view({1, 1, 2, 2, 2}).requires_grad_(true);
  BOOST_CHECK_EQUAL(F::interpolate(xr, by_size({4}, "nearest")).grad_fn_name(), "UpsampleNearest3DBackward");
}

// ---- linear family ----

BOOST_AUTO_TEST_CASE(linear_hand_derived_with_gradient) {
  // in [a, b] = [1, 3], out 4, align_corners false: src = (dst + 0.5)/2 - 0.5 = -0.25 (-> 0),
  // 0.25, 0.75, 1.25 (index 1, the last: no right neighbour), so y = [a, .75a + .25b,
  // .25a + .75b, b].
  Tensor x = t64({1, 3}, {1, 1, 2}, true);
  Tensor y = F::interpolate(x, by_size({4}, "linear"));
  check_values(y, {1, 1, 4}, {1, 1.5, 2.5, 3});
  BOOST_CHECK_EQUAL(y.grad_fn_name(), "UpsampleLinear1DBackward");
  // d(sum w y)/da = w0 + .75 w1 + .25 w2, d/db = .25 w1 + .75 w2 + w3; w = [1, 2, 3, 4].
  (y * t64({1, 2, 3, 4}, {1, 1, 4})).sum().backward();
  check_values(x.grad(), {1, 1, 2}, {3.25, 6.75});
  // align_corners true: src = dst / 3: y = [a, 2a/3 + b/3, a/3 + 2b/3, b].
  check_values(F::interpolate(t64({1, 3}, {1, 1, 2}), by_size({4}, "linear", true)), {1, 1, 4},
               {1, 5.0 / 3, 7.0 / 3, 3}, 1e-12);
  // out 1 with align_corners: scale 0, the first element.
  check_values(F::interpolate(t64({1, 3}, {1, 1, 2}), by_size({1}, "linear", true)), {1, 1, 1}, {1});
}

BOOST_AUTO_TEST_CASE(bilinear_against_naive_loops) {
  manual_seed(1);
  const Tensor x = randn({2, 3, 5, 4}, dtype(float64));
  for (bool ac : {false, true}) {
    for (auto [oh, ow] : {std::pair<std::int64_t, std::int64_t>{7, 9}, {3, 2}, {5, 4}, {1, 1}, {10, 3}})
      check_close(F::interpolate(x, by_size({oh, ow}, "bilinear", ac)), naive_bilinear(x, oh, ow, ac), 1e-12);
    // scale factors: out = floor(in * f); the given factor sets the source scale (1 / f).
    check_close(F::interpolate(x, by_scale({1.5, 2.3}, "bilinear", ac)),
                naive_bilinear(x, 7, 9, ac, ac ? std::nullopt : std::optional<double>(1.5),
                               ac ? std::nullopt : std::optional<double>(2.3)),
                1e-12);
    check_close(F::interpolate(x, by_scale({1.5, 2.3}, "bilinear", ac).recompute_scale_factor(true)),
                naive_bilinear(x, 7, 9, ac), 1e-12);
  }
}

BOOST_AUTO_TEST_CASE(bicubic_hand_computed_and_naive) {
  // 1 x 4 -> 1 x 8 on [0, 1, 4, 9], align_corners false (scale 1/2).
  // dst 3: src = 1.25, i0 = 1, t = 0.25, weights c2(1.25) = -0.10546875, c1(.25) = 0.87890625,
  // c1(.75) = 0.26171875, c2(1.75) = -0.03515625 on x[0..3]: 0.87890625 + 1.046875 - 0.31640625.
  // dst 0: src = -0.25, i0 = -1, t = 0.75: taps clamped to x[0, 0, 0, 1]: only x[1] = 1 with
  // weight c2(1.25) survives: -0.10546875 (bicubic overshoots; no clamping).
  const Tensor x = t64({0, 1, 4, 9}, {1, 1, 1, 4});
  const Tensor y = F::interpolate(x, by_size({1, 8}, "bicubic"));
  BOOST_CHECK_CLOSE(y.to_vector<double>()[3], 1.609375, 1e-12);
  BOOST_CHECK_CLOSE(y.to_vector<double>()[0], -0.10546875, 1e-12);
  manual_seed(2);
  const Tensor z = randn({1, 2, 4, 5}, dtype(float64));
  for (bool ac : {false, true})
    for (auto [oh, ow] : {std::pair<std::int64_t, std::int64_t>{8, 11}, {3, 2}, {4, 5}, {1, 7}})
      check_close(F::interpolate(z, by_size({oh, ow}, "bicubic", ac)), naive_bicubic(z, oh, ow, ac), 1e-12);
  // Same size without align_corners is the identity.
  check_close(F::interpolate(z, by_size({4, 5}, "bicubic")), z, 1e-14);
}

BOOST_AUTO_TEST_CASE(trilinear_is_separable_bilinear_times_linear) {
  manual_seed(3);
  const Tensor x = randn({1, 2, 3, 4, 2}, dtype(float64));
  // Trilinear resize of depth only equals a linear resize along depth.
  Tensor t = F::interpolate(x, by_size({5, 4, 2}, "trilinear"));
  Tensor l = F::interpolate(x.permute({0, 1, 3, 4, 2}).reshape({1, 16, 3}), by_size({5}, "linear"));
  check_close(t, l.reshape({1, 2, 4, 2, 5}).permute({0, 1, 4, 2, 3}), 1e-12);
}

BOOST_AUTO_TEST_CASE(float32_matches_float64) {
  manual_seed(4);
  const Tensor x = randn({2, 2, 5, 6}, dtype(float64));
  for (const char* mode : {"nearest", "bilinear", "bicubic"})
    check_close(F::interpolate(x.to(float32), by_scale({1.7}, mode)), F::interpolate(x, by_scale({1.7}, mode)), 1e-5);
}

// ---- layouts, gradients, determinism ----

BOOST_AUTO_TEST_CASE(non_contiguous_inputs) {
  manual_seed(5);
  const Tensor base = randn({2, 4, 6, 3}, dtype(float64));
  const Tensor x = base.transpose(2, 3);                      // [2, 4, 3, 6], transposed
  const Tensor s = base.slice(1, 0, 4, 2).slice(2, 0, 6, 2);  // strided
  for (const char* mode : {"nearest", "bilinear", "bicubic"}) {
    check_close(F::interpolate(x, by_size({5, 7}, mode)), F::interpolate(x.contiguous(), by_size({5, 7}, mode)), 0.0);
    check_close(F::interpolate(s, by_size({4, 4}, mode)), F::interpolate(s.contiguous(), by_size({4, 4}, mode)), 0.0);
  }
}

BOOST_AUTO_TEST_CASE(gradcheck_and_gradgradcheck) {
  manual_seed(6);
  struct Case {
    Shape shape;
    InterpolateFuncOptions o;
  };
  const std::vector<Case> cases = {
      {{1, 2, 3}, by_size({5}, "linear")},
      {{1, 2, 3}, by_size({2}, "linear", true)},
      {{1, 1, 3, 2}, by_scale({1.5, 2.0}, "bilinear")},
      {{2, 1, 2, 3}, by_size({3, 4}, "bilinear", true)},
      {{1, 1, 3, 3}, by_size({4, 5}, "bicubic")},
      {{1, 1, 3, 3}, by_size({2, 4}, "bicubic", true)},
      {{1, 2, 3}, by_size({5}, "nearest")},
      {{1, 1, 2, 3}, by_scale({2}, "nearest-exact")},
      {{1, 1, 2, 2, 2}, by_size({3}, "trilinear")},
  };
  for (const auto& c : cases) {
    const auto f = [o = c.o](const std::vector<Tensor>& in) { return F::interpolate(in[0], o); };
    check_gradcheck(f, {rand64(c.shape)});
    check_gradgradcheck(f, {rand64(c.shape)});
  }
}

BOOST_AUTO_TEST_CASE(double_backward_is_the_forward_map) {
  // g_x = M^T g is linear in g with no dependence on x, so d(g_x . v)/dg = M v.
  manual_seed(7);
  Tensor x = rand64({1, 1, 2, 3});
  Tensor g = rand64({1, 1, 4, 5});
  const auto o = by_size({4, 5}, "bicubic");
  autograd::GradOptions go;
  go.create_graph = true;
  Tensor gx = autograd::grad({F::interpolate(x, o)}, {x}, {g}, go)[0];
  BOOST_CHECK_EQUAL(gx.grad_fn_name(), "UpsampleBicubic2DBackwardBackward");
  const Tensor v = rand64({1, 1, 2, 3}).detach();
  Tensor gg = autograd::grad({(gx * v).sum()}, {g})[0];
  check_close(gg, F::interpolate(v, o), 1e-12);
}

BOOST_AUTO_TEST_CASE(bit_identical_at_1_and_2_threads) {
  manual_seed(8);
  const Tensor x0 = randn({8, 32, 8, 8});  // 256 planes: several tasks in every mode
  auto run = [&](int threads, const char* mode) {
    set_num_threads(threads);
    Tensor x = x0.detach().clone().requires_grad_(true);
    Tensor y = F::interpolate(x, by_scale({2.3}, mode));
    (y * y).sum().backward();
    return std::pair{y.detach(), x.grad()};
  };
  const int saved = get_num_threads();
  for (const char* mode : {"nearest", "bilinear", "bicubic"}) {
    auto [y1, g1] = run(1, mode);
    auto [y2, g2] = run(2, mode);
    BOOST_CHECK_MESSAGE(same_bits(y1, y2), mode << ": forward differs between 1 and 2 threads");
    BOOST_CHECK_MESSAGE(same_bits(g1, g2), mode << ": backward differs between 1 and 2 threads");
  }
  set_num_threads(saved);
}

BOOST_AUTO_TEST_CASE(empty_batch) {
  Tensor x = zeros({0, 3, 2, 2}, dtype(float64));
  BOOST_CHECK((F::interpolate(x, by_scale({2}, "bilinear")).shape() == Shape{0, 3, 4, 4}));
}

// ---- errors ----

BOOST_AUTO_TEST_CASE(interpolate_errors) {
  const Tensor x = zeros({1, 2, 3, 4});
  XGRAD_CHECK_THROW_MSG(F::interpolate(x, InterpolateFuncOptions().size(I64s{4}).scale_factor(std::vector<double>{2})),
                        "interpolate: only one of size or scale_factor should be defined");
  XGRAD_CHECK_THROW_MSG(F::interpolate(x, InterpolateFuncOptions()),
                        "interpolate: either size or scale_factor should be defined");
  XGRAD_CHECK_THROW_MSG(F::interpolate(zeros({1, 2, 3}), by_size({4}, "bilinear")),
                        "interpolate: mode 'bilinear' expects a 4-d input [N, C, H, W], got shape [1, 2, 3]");
  XGRAD_CHECK_THROW_MSG(F::interpolate(x, by_size({4}, "linear")), "mode 'linear' expects a 3-d input [N, C, W]");
  XGRAD_CHECK_THROW_MSG(F::interpolate(zeros({1, 2, 3, 4, 5}), by_size({4}, "bicubic")),
                        "mode 'bicubic' expects a 4-d input");
  XGRAD_CHECK_THROW_MSG(F::interpolate(zeros({2, 3}), by_size({4}, "nearest")),
                        "expects a 3-d, 4-d or 5-d input [N, C, *spatial], got shape [2, 3]");
  XGRAD_CHECK_THROW_MSG(F::interpolate(x, by_size({4}, "nearest", false)),
                        "align_corners can only be set with the interpolating modes");
  XGRAD_CHECK_THROW_MSG(F::interpolate(x, by_size({4}, "area")), "interpolate: unknown mode 'area'");
  XGRAD_CHECK_THROW_MSG(F::interpolate(x, by_size({4, 4, 4}, "nearest")),
                        "interpolate: size [4, 4, 4] must have 1 or 2 entries for an input of shape [1, 2, 3, 4]");
  XGRAD_CHECK_THROW_MSG(F::interpolate(x, by_size({0, 4}, "bilinear")),
                        "input and output sizes should be greater than 0, got input of shape [1, 2, 3, 4]");
  XGRAD_CHECK_THROW_MSG(F::interpolate(x, by_scale({0.1}, "bilinear")), "output size [0, 0]");
  XGRAD_CHECK_THROW_MSG(F::interpolate(x, by_scale({-2}, "bilinear")), "scale_factor must be positive and finite");
  XGRAD_CHECK_THROW_MSG(F::interpolate(zeros({1, 2, 0, 4}), by_size({2}, "nearest")),
                        "got input of shape [1, 2, 0, 4]");
  XGRAD_CHECK_THROW_MSG(F::interpolate(x, by_size({4}, "nearest").recompute_scale_factor(true)),
                        "recompute_scale_factor is not meaningful with an explicit size");
  XGRAD_CHECK_THROW_MSG(F::interpolate(zeros({1, 2, 3, 4}, dtype(int64)), by_size({4}, "nearest")),
                        "interpolate: expected a floating dtype (float32 or float64), got int64");
  XGRAD_CHECK_THROW_MSG(F::interpolate(Tensor(), by_size({4}, "nearest")), "interpolate");
}

BOOST_AUTO_TEST_CASE(upsample_module) {
  Upsample up(UpsampleOptions().scale_factor(std::vector<double>{2}));
  BOOST_CHECK_EQUAL(up.extra_repr(), "scale_factor=2.0, mode='nearest'");
  Upsample us(UpsampleOptions().size(I64s{4, 6}).mode("bicubic").align_corners(true));
  BOOST_CHECK_EQUAL(us.extra_repr(), "size=(4, 6), mode='bicubic'");
  BOOST_CHECK((us.forward(zeros({2, 1, 3, 3})).shape() == Shape{2, 1, 4, 6}));
  XGRAD_CHECK_THROW_MSG(Upsample(UpsampleOptions()), "Upsample: either size or scale_factor should be defined");
  XGRAD_CHECK_THROW_MSG(
      Upsample(UpsampleOptions().size(I64s{2}).mode("bilinear").align_corners(false)).forward(zeros({1, 2, 3})),
      "Upsample: mode 'bilinear' expects a 4-d input");
  XGRAD_CHECK_THROW_MSG(Upsample(UpsampleOptions().size(I64s{2}).align_corners(true)),
                        "Upsample: align_corners can only be set");
  BOOST_CHECK(up.parameters().empty());
}

// ---- pixel shuffle ----

BOOST_AUTO_TEST_CASE(pixel_shuffle_values_and_inverse) {
  // out[n, c, h r + i, w r + j] = in[n, c r^2 + i r + j, h, w], checked element by element.
  manual_seed(9);
  const std::int64_t r = 3;
  const Tensor x = randn({2, 2 * r * r, 2, 3}, dtype(float64));
  const Tensor y = F::pixel_shuffle(x, r);
  BOOST_REQUIRE((y.shape() == Shape{2, 2, 6, 9}));
  const auto vx = x.to_vector<double>(), vy = y.contiguous().to_vector<double>();
  bool ok = true;
  for (std::int64_t n = 0; n < 2; ++n)
    for (std::int64_t c = 0; c < 2; ++c)
      for (std::int64_t h = 0; h < 2; ++h)
        for (std::int64_t w = 0; w < 3; ++w)
          for (std::int64_t i = 0; i < r; ++i)
            for (std::int64_t j = 0; j < r; ++j) {
              const double a = vy[std::size_t(((n * 2 + c) * 6 + h * r + i) * 9 + w * r + j)];
              const double b = vx[std::size_t(((n * 18 + c * r * r + i * r + j) * 2 + h) * 3 + w)];
              ok = ok && a == b;
            }
  BOOST_CHECK(ok);
  check_close(F::pixel_unshuffle(y, r), x, 0.0);
  // Extra leading dims and no batch dim; the docs' example shape.
  BOOST_CHECK((F::pixel_shuffle(zeros({1, 9, 4, 4}), 3).shape() == Shape{1, 1, 12, 12}));
  BOOST_CHECK((F::pixel_shuffle(zeros({2, 3, 8, 1, 1}), 2).shape() == Shape{2, 3, 2, 2, 2}));
  BOOST_CHECK((F::pixel_unshuffle(zeros({4, 6, 6}), 3).shape() == Shape{36, 2, 2}));
  // Any dtype (a pure reshape / permute).
  BOOST_CHECK(F::pixel_shuffle(zeros({1, 4, 1, 1}, dtype(int64)), 2).dtype() == int64);
  // Modules.
  PixelShuffle ps(2);
  PixelUnshuffle pu(2);
  BOOST_CHECK_EQUAL(ps.extra_repr(), "upscale_factor=2");
  BOOST_CHECK_EQUAL(pu.extra_repr(), "downscale_factor=2");
  const Tensor z = randn({1, 8, 3, 3}, dtype(float64));
  check_close(pu.forward(ps.forward(z)), z, 0.0);
}

BOOST_AUTO_TEST_CASE(pixel_shuffle_gradients) {
  manual_seed(10);
  check_gradcheck([](const std::vector<Tensor>& in) { return F::pixel_shuffle(in[0], 2); }, {rand64({1, 8, 2, 3})});
  check_gradgradcheck([](const std::vector<Tensor>& in) { return F::pixel_unshuffle(in[0], 2); },
                      {rand64({2, 1, 4, 2})});
}

BOOST_AUTO_TEST_CASE(pixel_shuffle_errors) {
  XGRAD_CHECK_THROW_MSG(F::pixel_shuffle(zeros({1, 5, 2, 2}), 2),
                        "pixel_shuffle: the channel dim (-3) of input shape [1, 5, 2, 2] has size 5, which is not "
                        "divisible by upscale_factor^2 = 4");
  XGRAD_CHECK_THROW_MSG(F::pixel_shuffle(zeros({4, 2}), 2), "pixel_shuffle: expected an input with at least 3 dims");
  XGRAD_CHECK_THROW_MSG(F::pixel_shuffle(zeros({1, 4, 2, 2}), 0), "pixel_shuffle: upscale_factor must be > 0, got 0");
  XGRAD_CHECK_THROW_MSG(F::pixel_unshuffle(zeros({1, 1, 3, 4}), 2),
                        "pixel_unshuffle: the spatial sizes (H, W) = (3, 4) of input shape [1, 1, 3, 4] must be "
                        "divisible by downscale_factor = 2");
  XGRAD_CHECK_THROW_MSG(PixelShuffle(-1), "PixelShuffle: upscale_factor must be > 0, got -1");
}

BOOST_AUTO_TEST_SUITE_END()
