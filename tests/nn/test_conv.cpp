// Convolutions (conv.hpp): conv1d/2d/3d and conv_transpose1d/2d against a naive direct
// convolution written here (float64), gradients, thread-count independence, every validation
// error, and the modules (shapes, init ranges, padding modes, repr).
#include <cmath>

#include "test_util.hpp"
#include "xgrad/nn/conv.hpp"

using namespace xgrad;
using namespace xgrad::nn;
namespace F = xgrad::nn::functional;
using xgrad::test::check_close;
using xgrad::test::check_gradcheck;
using xgrad::test::check_gradgradcheck;
using xgrad::test::rand64;

namespace {

using I64s = std::vector<std::int64_t>;

// A config on up to 3 spatial dims; lists have one entry per spatial dim.
struct Cfg {
  std::int64_t N, Cin, Cout, G;
  I64s in, k, s, pad, dil;
};

// Direct definition: y[n, o, p] = sum_{c, k} w[o, c, k] x[n, g(o) Cin/G + c, p s - pad + k dil].
std::vector<double> naive_conv(const std::vector<double>& x, const std::vector<double>& w, const Cfg& c, I64s& out) {
  const std::size_t D = c.in.size();
  I64s in(3, 1), k(3, 1), s(3, 1), pad(3, 0), dil(3, 1);
  for (std::size_t d = 0; d < D; ++d) {
    const std::size_t e = 3 - D + d;
    in[e] = c.in[d], k[e] = c.k[d], s[e] = c.s[d], pad[e] = c.pad[d], dil[e] = c.dil[d];
  }
  I64s o3(3);
  for (int d = 0; d < 3; ++d) o3[d] = (in[d] + 2 * pad[d] - dil[d] * (k[d] - 1) - 1) / s[d] + 1;
  out.assign(o3.begin() + static_cast<long>(3 - D), o3.end());
  const std::int64_t cg = c.Cin / c.G, og = c.Cout / c.G;
  std::vector<double> y(static_cast<std::size_t>(c.N * c.Cout * o3[0] * o3[1] * o3[2]), 0.0);
  std::size_t yi = 0;
  for (std::int64_t n = 0; n < c.N; ++n)
    for (std::int64_t o = 0; o < c.Cout; ++o)
      for (std::int64_t p0 = 0; p0 < o3[0]; ++p0)
        for (std::int64_t p1 = 0; p1 < o3[1]; ++p1)
          for (std::int64_t p2 = 0; p2 < o3[2]; ++p2, ++yi) {
            double acc = 0;
            for (std::int64_t ci = 0; ci < cg; ++ci)
              for (std::int64_t k0 = 0; k0 < k[0]; ++k0)
                for (std::int64_t k1 = 0; k1 < k[1]; ++k1)
                  for (std::int64_t k2 = 0; k2 < k[2]; ++k2) {
                    const std::int64_t i0 = p0 * s[0] - pad[0] + k0 * dil[0], i1 = p1 * s[1] - pad[1] + k1 * dil[1],
                                       i2 = p2 * s[2] - pad[2] + k2 * dil[2];
                    if (i0 < 0 || i0 >= in[0] || i1 < 0 || i1 >= in[1] || i2 < 0 || i2 >= in[2]) continue;
                    const std::int64_t cx = (o / og) * cg + ci;
                    acc += w[static_cast<std::size_t>((((o * cg + ci) * k[0] + k0) * k[1] + k1) * k[2] + k2)] *
                           x[static_cast<std::size_t>((((n * c.Cin + cx) * in[0] + i0) * in[1] + i1) * in[2] + i2)];
                  }
            y[yi] = acc;
          }
  return y;
}

Shape shape_of(std::int64_t a, std::int64_t b, const I64s& rest) {
  Shape s{a, b};
  s.insert(s.end(), rest.begin(), rest.end());
  return s;
}

Tensor call_conv(const Tensor& x, const Tensor& w, const Tensor& b, const Cfg& c) {
  switch (c.in.size()) {
    case 1:
      return F::conv1d(x, w, b, c.s, c.pad, c.dil, c.G);
    case 2:
      return F::conv2d(x, w, b, c.s, c.pad, c.dil, c.G);
    default:
      return F::conv3d(x, w, b, c.s, c.pad, c.dil, c.G);
  }
}

const std::vector<Cfg> kConfigs = {
    {2, 3, 4, 1, {7}, {3}, {1}, {0}, {1}},
    {2, 4, 6, 2, {9}, {3}, {2}, {1}, {2}},
    {1, 3, 2, 1, {5, 6}, {3, 3}, {1, 1}, {1, 1}, {1, 1}},
    {2, 4, 4, 4, {7, 5}, {3, 2}, {2, 1}, {1, 0}, {1, 2}},  // depthwise, odd sizes
    {3, 6, 4, 2, {6, 7}, {2, 3}, {3, 2}, {2, 1}, {2, 1}},
    {2, 5, 3, 1, {4, 4}, {1, 1}, {1, 1}, {0, 0}, {1, 1}},  // 1x1: the no-packing path
    {2, 4, 6, 2, {5, 3}, {1, 1}, {2, 1}, {1, 0}, {1, 1}},  // 1x1 strided, padded
    {2, 2, 4, 2, {4, 5, 3}, {2, 3, 2}, {1, 2, 1}, {1, 1, 0}, {1, 1, 2}},
    // Stride 1 keeping the width: im2col's shifted-plane path. Padding larger than the input
    // (H = 1, pad 2), dilation 2, a height that shrinks while the width is kept.
    {1, 2, 3, 1, {1, 3}, {5, 5}, {1, 1}, {2, 2}, {1, 1}},
    {2, 3, 2, 1, {6, 5}, {3, 3}, {1, 1}, {2, 2}, {2, 2}},
    {1, 2, 2, 1, {4, 7}, {3, 5}, {1, 1}, {0, 2}, {1, 1}},
    // 3-d with one input and one output plane in depth (the shifted-plane path): every depth
    // tap of the first reads only padding (the result is the bias), the second reads plane 0
    // with its middle tap; found by the differential test against libtorch.
    {2, 2, 1, 1, {1, 2, 2}, {2, 2, 2}, {1, 1, 1}, {1, 1, 1}, {2, 2, 2}},
    {2, 2, 3, 1, {1, 3, 4}, {3, 2, 3}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}},
};

}  // namespace

BOOST_AUTO_TEST_SUITE(conv)

BOOST_AUTO_TEST_CASE(conv_matches_naive_direct_convolution) {
  manual_seed(1);
  for (const Cfg& c : kConfigs) {
    Tensor x = randn(shape_of(c.N, c.Cin, c.in), dtype(float64));
    Shape ws = shape_of(c.Cout, c.Cin / c.G, c.k);
    Tensor w = randn(ws, dtype(float64)), b = randn({c.Cout}, dtype(float64));
    I64s out;
    std::vector<double> want = naive_conv(x.to_vector<double>(), w.to_vector<double>(), c, out);
    const std::int64_t per = shape_numel(out);
    const std::vector<double> bv = b.to_vector<double>();
    for (std::size_t i = 0; i < want.size(); ++i)
      want[i] += bv[(i / static_cast<std::size_t>(per)) % static_cast<std::size_t>(c.Cout)];
    Tensor y = call_conv(x, w, b, c);
    BOOST_TEST_CONTEXT("config N=" << c.N << " Cin=" << c.Cin << " G=" << c.G << " in=" << fmt::format("{}", c.in)) {
      test::check_values(y, shape_of(c.N, c.Cout, out), want, 1e-12);
      // Non-contiguous input (a transposed view of a leaf) and an unbatched call agree.
      if (c.in[0] > 1) {  // (with a size-1 first dim the transposed view is contiguous)
        Tensor xt = transpose(transpose(x, 1, 2).contiguous(), 1, 2);
        BOOST_CHECK(!xt.is_contiguous());
        check_close(call_conv(xt, w, b, c), y, 0.0);
      }
      Tensor y0 = call_conv(select(x, 0, 0), w, b, c);
      check_close(y0, select(y, 0, 0), 1e-12);
    }
  }
}

BOOST_AUTO_TEST_CASE(padding_strings) {
  manual_seed(2);
  Tensor x = randn({2, 3, 6, 7}, dtype(float64)), w = randn({4, 3, 2, 3}, dtype(float64));
  check_close(F::conv2d(x, w, {}, {1}, "valid"), F::conv2d(x, w), 0.0);
  // "same" with an even kernel: total padding 1 on dim H goes after (PyTorch), 2 on W split evenly.
  Tensor same = F::conv2d(x, w, {}, {1}, "same");
  BOOST_CHECK(same.shape() == (Shape{2, 4, 6, 7}));
  check_close(same, F::conv2d(pad(x, {1, 1, 0, 1}), w), 1e-12);
  // dilation 2, kernel 2: total 2 -> one before, one after.
  check_close(F::conv2d(x, w, {}, {1}, "same", {2}), F::conv2d(pad(x, {2, 2, 1, 1}), w, {}, {1}, 0, {2}), 1e-12);
  Tensor x1 = randn({1, 2, 5}, dtype(float64)), w1 = randn({3, 2, 4}, dtype(float64));
  check_close(F::conv1d(x1, w1, {}, {1}, "same"), F::conv1d(pad(x1, {1, 2}), w1), 1e-12);
}

BOOST_AUTO_TEST_CASE(conv_transpose_is_the_adjoint) {
  // <conv_transpose(g, w), x> = <g, conv(x, w)> for the same stride/padding/dilation/groups.
  manual_seed(3);
  struct T {
    I64s in, k, s, p, op, dil;
    std::int64_t G;
  };
  for (const T& t : std::vector<T>{{{7}, {3}, {2}, {1}, {1}, {1}, 1},
                                   {{5}, {2}, {3}, {0}, {2}, {1}, 2},
                                   {{4, 5}, {3, 2}, {2, 1}, {1, 0}, {1, 0}, {1, 2}, 1},
                                   {{3, 4}, {2, 2}, {1, 2}, {0, 1}, {0, 1}, {2, 1}, 3}}) {
    const std::int64_t cin = 3 * t.G, cout = 2 * t.G;  // of the transposed convolution
    Tensor g = randn(shape_of(2, cin, t.in), dtype(float64));
    Tensor w = randn(shape_of(cin, cout / t.G, t.k), dtype(float64));
    Tensor b = randn({cout}, dtype(float64));
    Tensor y = t.in.size() == 1 ? F::conv_transpose1d(g, w, b, t.s, t.p, t.op, t.G, t.dil)
                                : F::conv_transpose2d(g, w, b, t.s, t.p, t.op, t.G, t.dil);
    for (std::size_t d = 0; d < t.in.size(); ++d)
      BOOST_CHECK_EQUAL(y.size(2 + static_cast<std::int64_t>(d)),
                        (t.in[d] - 1) * t.s[d] - 2 * t.p[d] + t.dil[d] * (t.k[d] - 1) + t.op[d] + 1);
    Tensor x = randn(y.shape(), dtype(float64));
    Cfg c{2, cout, cin, t.G, I64s(y.shape().begin() + 2, y.shape().end()), t.k, t.s, t.p, t.dil};
    I64s out;
    std::vector<double> cx = naive_conv(x.to_vector<double>(), w.to_vector<double>(), c, out);
    for (std::size_t d = 0; d < t.in.size(); ++d) BOOST_CHECK_EQUAL(out[d], t.in[d]);
    double lhs = sum((y - reshape(b, t.in.size() == 1 ? Shape{1, cout, 1} : Shape{1, cout, 1, 1})) * x).item<double>();
    double rhs = 0;
    const auto gv = g.to_vector<double>();
    for (std::size_t i = 0; i < gv.size(); ++i) rhs += gv[i] * cx[i];
    BOOST_CHECK_CLOSE(lhs, rhs, 1e-9);
  }
}

BOOST_AUTO_TEST_CASE(hand_derived_gradient) {
  // x = [1, 2, 3, 4] (one channel), w = [a, b] = [10, 20], stride 1: y = [1a+2b, 2a+3b, 3a+4b]
  // = [50, 80, 110]. With L = sum(y * [1, 2, 3]): dL/dw0 = 1*1 + 2*2 + 3*3 = 14,
  // dL/dw1 = 1*2 + 2*3 + 3*4 = 20; dL/dx = [1a, 1b + 2a, 2b + 3a, 3b] = [10, 40, 70, 60];
  // dL/dbias = 1 + 2 + 3 = 6.
  Tensor x = from_vector<double>({1, 2, 3, 4}, {1, 1, 4}, true);
  Tensor w = from_vector<double>({10, 20}, {1, 1, 2}, true);
  Tensor b = from_vector<double>({0.5}, {1}, true);
  Tensor y = F::conv1d(x, w, b);
  test::check_values(y, {1, 1, 3}, {50.5, 80.5, 110.5});
  sum(y * from_vector<double>({1, 2, 3}, {1, 1, 3})).backward();
  test::check_values(w.grad(), {1, 1, 2}, {14, 20});
  test::check_values(x.grad(), {1, 1, 4}, {10, 40, 70, 60});
  test::check_values(b.grad(), {1}, {6});
}

BOOST_AUTO_TEST_CASE(gradcheck_and_gradgradcheck) {
  manual_seed(4);
  check_gradcheck(
      [](const auto& t) {
        return F::conv2d(t[0], t[1], t[2], {2, 1}, {1, 0}, {1, 2}, 2);
      },
      {rand64({2, 4, 5, 6}), rand64({2, 2, 2, 2}), rand64({2})});
  check_gradgradcheck([](const auto& t) { return F::conv2d(t[0], t[1], t[2], {1}, {1}, {1}, 1); },
                      {rand64({1, 2, 3, 4}), rand64({2, 2, 2, 2}), rand64({2})});
  check_gradgradcheck([](const auto& t) { return F::conv1d(t[0], t[1], {}, {2}, "valid", {2}, 2); },
                      {rand64({2, 2, 7}), rand64({4, 1, 2})});
  check_gradgradcheck([](const auto& t) { return F::conv_transpose2d(t[0], t[1], t[2], {2}, {1}, {1}, 1, {1}); },
                      {rand64({1, 2, 3, 2}), rand64({2, 3, 2, 2}), rand64({3})});
  check_gradcheck(
      [](const auto& t) {
        return F::conv3d(t[0], t[1], {}, {1, 2, 1}, {1, 0, 1});
      },
      {rand64({1, 2, 3, 4, 3}), rand64({3, 2, 2, 2, 2})});
}

BOOST_AUTO_TEST_CASE(results_independent_of_thread_count) {
  manual_seed(5);
  const int prev = get_num_threads();
  const Tensor x0 = randn({4, 8, 20, 20}), w0 = randn({16, 4, 3, 3}), b0 = randn({16});
  Tensor gy = randn({4, 16, 10, 10});
  std::vector<std::vector<float>> runs[2];
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    Tensor x = x0.clone().requires_grad_(true), w = w0.clone().requires_grad_(true),
           b = b0.clone().requires_grad_(true);
    Tensor y = F::conv2d(x, w, b, {2}, {1}, {1}, 2);
    y.backward(gy);
    runs[threads - 1] = {y.to_vector<float>(), x.grad().to_vector<float>(), w.grad().to_vector<float>(),
                         b.grad().to_vector<float>()};
  }
  set_num_threads(prev);
  for (std::size_t i = 0; i < 4; ++i) BOOST_CHECK(runs[0][i] == runs[1][i]);
}

BOOST_AUTO_TEST_CASE(empty_and_dtype_behaviour) {
  Tensor y = F::conv2d(zeros({0, 2, 4, 4}), zeros({3, 2, 3, 3}));
  BOOST_CHECK(y.shape() == (Shape{0, 3, 2, 2}));
  Tensor z = F::conv2d(ones({1, 2, 4, 4}), ones({3, 2, 3, 3}), ones({3}));
  BOOST_CHECK(z.dtype() == float32);
  BOOST_CHECK_EQUAL(z.to_vector<float>()[0], 19.0f);
  XGRAD_CHECK_THROW_MSG(F::conv2d(ones({1, 2, 4, 4}, dtype(int64)), ones({3, 2, 3, 3}, dtype(int64))),
                        "conv2d: expected a floating dtype (float32 or float64), got int64");
  XGRAD_CHECK_THROW_MSG(F::conv2d(ones({1, 2, 4, 4}), ones({3, 2, 3, 3}, dtype(float64))),
                        "conv2d: weight has dtype float64 but the input has dtype float32");
}

BOOST_AUTO_TEST_CASE(validation_errors) {
  Tensor x = zeros({1, 4, 5, 5}), w = zeros({6, 2, 3, 3});
  XGRAD_CHECK_THROW_MSG(F::conv2d(zeros({4, 5}), w, {}, {1}, 0, {1}, 2),
                        "conv2d: expected a 3-d (unbatched) or 4-d (batched) input, got shape [4, 5]");
  XGRAD_CHECK_THROW_MSG(F::conv2d(x, zeros({6, 2, 3}), {}, {1}, 0, {1}, 2), "conv2d: weight must be 4-d");
  XGRAD_CHECK_THROW_MSG(F::conv2d(x, w),
                        "conv2d: input of shape [1, 4, 5, 5] has 4 channels, but weight of shape "
                        "[6, 2, 3, 3] with groups = 1 expects 2");
  XGRAD_CHECK_THROW_MSG(F::conv2d(x, zeros({5, 1, 3, 3}), {}, {1}, 0, {1}, 4),
                        "conv2d: out_channels = 5 (weight of shape [5, 1, 3, 3]) must be divisible by groups = 4");
  XGRAD_CHECK_THROW_MSG(F::conv2d(x, w, {}, {1}, 0, {1}, 0), "conv2d: groups must be >= 1, got 0");
  XGRAD_CHECK_THROW_MSG(F::conv2d(x, w, {}, {1}, 0, {3}, 2),
                        "conv2d: kernel size can't be greater than actual input size: input of shape [1, 4, 5, 5] "
                        "padded to [5, 5] is smaller than the dilated kernel [7, 7]");
  XGRAD_CHECK_THROW_MSG(F::conv2d(x, zeros({6, 2, 6, 1}), {}, {1}, 0, {1}, 2), "kernel size can't be greater");
  XGRAD_CHECK_THROW_MSG(F::conv2d(x, w, {}, {0}, 0, {1}, 2), "conv2d: stride must be >= 1, got [0]");
  XGRAD_CHECK_THROW_MSG(F::conv2d(x, w, {}, {1, 1, 1}, 0, {1}, 2),
                        "conv2d: stride must have 1 or 2 values, got [1, 1, 1]");
  XGRAD_CHECK_THROW_MSG(F::conv2d(x, w, {}, {1}, -1, {1}, 2), "conv2d: padding must be >= 0, got [-1]");
  XGRAD_CHECK_THROW_MSG(F::conv2d(x, w, {}, {1}, 0, {0}, 2), "conv2d: dilation must be >= 1, got [0]");
  XGRAD_CHECK_THROW_MSG(F::conv2d(x, w, {}, {2}, "same", {1}, 2),
                        "conv2d: padding='same' is not supported for strided convolutions (stride [2, 2])");
  XGRAD_CHECK_THROW_MSG(F::conv2d(x, w, {}, {1}, "full", {1}, 2),
                        "conv2d: invalid padding string 'full' (expected 'same' or 'valid')");
  XGRAD_CHECK_THROW_MSG(F::conv2d(x, w, zeros({3}), {1}, 0, {1}, 2),
                        "conv2d: bias of shape [3] does not match weight of shape [6, 2, 3, 3] (expected [6])");
  XGRAD_CHECK_THROW_MSG(F::conv1d(zeros({1, 2, 3}), zeros({1, 2})), "conv1d: weight must be 3-d");
  XGRAD_CHECK_THROW_MSG(F::conv3d(zeros({1, 2, 3, 3}), zeros({1, 2, 1, 1, 1})),
                        "conv3d: input of shape [1, 2, 3, 3] has 1 channels");  // unbatched [C=1... ] mismatch
  // conv_transpose
  Tensor g = zeros({1, 4, 3, 3});
  XGRAD_CHECK_THROW_MSG(F::conv_transpose2d(g, zeros({3, 2, 2, 2})),
                        "conv_transpose2d: input of shape [1, 4, 3, 3] has 4 channels, but weight of shape [3, 2, 2, "
                        "2] expects 3 (weight.size(0))");
  XGRAD_CHECK_THROW_MSG(
      F::conv_transpose2d(g, zeros({4, 2, 2, 2}), {}, {1}, {0}, {0}, 3),
      "conv_transpose2d: in_channels = 4 (weight of shape [4, 2, 2, 2]) must be divisible by groups = 3");
  XGRAD_CHECK_THROW_MSG(F::conv_transpose2d(g, zeros({4, 2, 2, 2}), {}, {2}, {0}, {2}),
                        "conv_transpose2d: output_padding [2] must be smaller than either stride [2] or dilation [1]");
  XGRAD_CHECK_THROW_MSG(F::conv_transpose2d(zeros({1, 4, 1, 1}), zeros({4, 2, 1, 1}), {}, {1}, {1}),
                        "conv_transpose2d: output size [-1, -1] is too small");
  XGRAD_CHECK_THROW_MSG(F::conv_transpose1d(zeros({1, 4, 3}), zeros({4, 2, 2}), zeros({3})),
                        "conv_transpose1d: bias of shape [3] does not match weight of shape [4, 2, 2] (expected [2])");
  XGRAD_CHECK_THROW_MSG(F::conv_transpose1d(zeros({4}), zeros({4, 2, 2})),
                        "conv_transpose1d: expected a 2-d (unbatched) or 3-d (batched) input, got shape [4]");
  // modules
  XGRAD_CHECK_THROW_MSG(Conv2d(ConvOptions(4, 6, {3}).groups(4)),
                        "Conv2d: out_channels = 6 must be divisible by groups = 4");
  XGRAD_CHECK_THROW_MSG(Conv2d(ConvOptions(3, 6, {3}).groups(2)),
                        "Conv2d: in_channels = 3 must be divisible by groups = 2");
  XGRAD_CHECK_THROW_MSG(Conv2d(ConvOptions(3, 6, {3}).groups(0)), "Conv2d: groups must be >= 1, got 0");
  XGRAD_CHECK_THROW_MSG(Conv2d(0, 6, {3}), "Conv2d: in_channels and out_channels must be >= 1, got 0 and 6");
  XGRAD_CHECK_THROW_MSG(Conv2d(2, 6, {3, 3, 3}), "Conv2d: kernel_size must have 1 or 2 values, got [3, 3, 3]");
  XGRAD_CHECK_THROW_MSG(Conv1d(2, 6, {0}), "Conv1d: kernel_size must be >= 1, got [0]");
  XGRAD_CHECK_THROW_MSG(Conv2d(ConvOptions(2, 6, {3}).stride({2}).padding("same")),
                        "Conv2d: padding='same' is not supported for strided convolutions");
  XGRAD_CHECK_THROW_MSG(Conv2d(ConvOptions(2, 6, {3}).padding("half")), "Conv2d: invalid padding string 'half'");
  XGRAD_CHECK_THROW_MSG(Conv2d(ConvOptions(2, 6, {3}).padding(-2)), "Conv2d: padding must be >= 0, got [-2]");
  XGRAD_CHECK_THROW_MSG(ConvTranspose2d(ConvTransposeOptions(2, 6, {3}).stride({2}).output_padding({2})),
                        "ConvTranspose2d: output_padding [2] must be smaller than either stride [2] or dilation [1]");
  XGRAD_CHECK_THROW_MSG(Conv2d(2, 3, {3})(zeros({1, 3, 5, 5})), "conv2d: input of shape [1, 3, 5, 5] has 3 channels");
  XGRAD_CHECK_THROW_MSG(Conv2d(ConvOptions(2, 3, {3}).padding(1).padding_mode(ConvPaddingMode::reflect))(zeros({2, 5})),
                        "conv2d: expected a 3-d (unbatched) or 4-d (batched) input, got shape [2, 5]");
}

BOOST_AUTO_TEST_CASE(module_shapes_init_and_repr) {
  manual_seed(6);
  Conv2d conv(ConvOptions(4, 8, {3, 2}).groups(2).stride({2}).padding(1));
  BOOST_CHECK(conv.weight.shape() == (Shape{8, 2, 3, 2}));
  BOOST_CHECK(conv.bias.shape() == (Shape{8}));
  BOOST_CHECK(conv.weight.requires_grad());
  // fan_in = 2 * 3 * 2 = 12: weight and bias in U(-1/sqrt(12), 1/sqrt(12)).
  const double bound = 1.0 / std::sqrt(12.0);
  for (const Tensor& p : {conv.weight, conv.bias}) {
    BOOST_CHECK_LE(max(abs(p)).item<float>(), bound);
    BOOST_CHECK_GT(max(abs(p)).item<float>(), 0.25 * bound);
  }
  BOOST_CHECK_EQUAL(conv.extra_repr(), "4, 8, kernel_size=(3, 2), stride=(2, 2), padding=(1, 1), groups=2");
  Tensor x = randn({2, 4, 7, 6});
  check_close(conv(x), F::conv2d(x, conv.weight, conv.bias, {2}, 1, {1}, 2), 0.0);
  BOOST_CHECK_EQUAL(conv.named_parameters().size(), 2u);

  Conv1d c1(ConvOptions(3, 5, {4}).bias(false).padding("same"));
  BOOST_CHECK(!c1.bias.defined());
  BOOST_CHECK_EQUAL(c1.extra_repr(), "3, 5, kernel_size=(4,), stride=(1,), padding='same', bias=False");
  BOOST_CHECK(c1(randn({2, 3, 9})).shape() == (Shape{2, 5, 9}));
  Conv3d c3(2, 3, {2});
  BOOST_CHECK(c3.weight.shape() == (Shape{3, 2, 2, 2, 2}));
  BOOST_CHECK(c3(randn({2, 4, 3, 5})).shape() == (Shape{3, 3, 2, 4}));

  // ConvTranspose2d: weight [in, out/groups, k...], fan_in = out/groups * prod(k) = 3 * 4 = 12.
  ConvTranspose2d ct(ConvTransposeOptions(4, 6, {2}).groups(2).stride({2}).output_padding({1}));
  BOOST_CHECK(ct.weight.shape() == (Shape{4, 3, 2, 2}));
  BOOST_CHECK_LE(max(abs(ct.weight)).item<float>(), bound);
  BOOST_CHECK_LE(max(abs(ct.bias)).item<float>(), bound);
  Tensor g = randn({1, 4, 3, 3});
  BOOST_CHECK(ct(g).shape() == (Shape{1, 6, 7, 7}));
  check_close(ct(g), F::conv_transpose2d(g, ct.weight, ct.bias, {2}, {0}, {1}, 2), 0.0);
  BOOST_CHECK_EQUAL(ct.extra_repr(), "4, 6, kernel_size=(2, 2), stride=(2, 2), output_padding=(1, 1), groups=2");
  ConvTranspose1d ct1(3, 2, {3});
  BOOST_CHECK(ct1(randn({1, 3, 4})).shape() == (Shape{1, 2, 6}));
}

BOOST_AUTO_TEST_CASE(module_padding_modes) {
  manual_seed(7);
  const std::pair<ConvPaddingMode, PadMode> modes[] = {{ConvPaddingMode::reflect, PadMode::reflect},
                                                       {ConvPaddingMode::replicate, PadMode::replicate},
                                                       {ConvPaddingMode::circular, PadMode::circular}};
  for (auto [cm, pm] : modes) {
    Conv2d conv(ConvOptions(2, 3, {3, 2}).padding(ConvPadding({2, 1})).padding_mode(cm).dilation({1, 2}));
    Tensor x = randn({2, 2, 5, 6});
    Tensor want = F::conv2d(pad(x, {1, 1, 2, 2}, pm), conv.weight, conv.bias, {1}, 0, {1, 2});
    check_close(conv(x), want, 0.0);
    BOOST_CHECK(conv(x).shape() == (Shape{2, 3, 7, 6}));
    Conv1d same(ConvOptions(2, 2, {4}).padding("same").padding_mode(cm));
    Tensor x1 = randn({1, 2, 6});
    check_close(same(x1), F::conv1d(pad(x1, {1, 2}, pm), same.weight, same.bias), 0.0);
    // Gradients flow through the padding.
    Tensor xl = rand64({1, 2, 4, 4});
    Conv2d c64(ConvOptions(2, 2, {3}).padding(1).padding_mode(cm));
    c64.to(float64);
    check_gradcheck([&](const auto& t) { return c64(t[0]); }, {xl});
  }
  BOOST_CHECK_NE(
      Conv2d(ConvOptions(2, 3, {3}).padding_mode(ConvPaddingMode::circular)).extra_repr().find("padding_mode=circular"),
      std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
