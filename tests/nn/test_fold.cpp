// Fold / Unfold (fold.hpp): values against a naive im2col loop and hand-computed cases, the
// adjoint relation, gradients (hand-derived, gradcheck, gradgradcheck), non-contiguous inputs,
// thread-count determinism, modules and errors.
#include <cmath>

#include "test_util.hpp"
#include "xgrad/autograd/threading.hpp"
#include "xgrad/nn/fold.hpp"

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

struct Geo {
  std::int64_t kh, kw, dh = 1, dw = 1, ph = 0, pw = 0, sh = 1, sw = 1;
};

// im2col written straight from the definition, on doubles.
Tensor naive_unfold(const Tensor& x, const Geo& g) {
  const auto n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const auto lh = (h + 2 * g.ph - g.dh * (g.kh - 1) - 1) / g.sh + 1;
  const auto lw = (w + 2 * g.pw - g.dw * (g.kw - 1) - 1) / g.sw + 1;
  const auto v = x.detach().contiguous().to_vector<double>();
  std::vector<double> out;
  for (std::int64_t b = 0; b < n; ++b)
    for (std::int64_t ch = 0; ch < c; ++ch)
      for (std::int64_t i = 0; i < g.kh; ++i)
        for (std::int64_t j = 0; j < g.kw; ++j)
          for (std::int64_t bh = 0; bh < lh; ++bh)
            for (std::int64_t bw = 0; bw < lw; ++bw) {
              const auto y = bh * g.sh - g.ph + i * g.dh, xx = bw * g.sw - g.pw + j * g.dw;
              out.push_back(y < 0 || y >= h || xx < 0 || xx >= w ? 0.0
                                                                 : v[std::size_t(((b * c + ch) * h + y) * w + xx)]);
            }
  return from_vector<double>(out, {n, c * g.kh * g.kw, lh * lw});
}

UnfoldOptions uopt(const Geo& g) {
  return UnfoldOptions({g.kh, g.kw}).dilation({g.dh, g.dw}).padding({g.ph, g.pw}).stride({g.sh, g.sw});
}
FoldOptions fopt(I64s size, const Geo& g) {
  return FoldOptions(std::move(size), {g.kh, g.kw}).dilation({g.dh, g.dw}).padding({g.ph, g.pw}).stride({g.sh, g.sw});
}

double inner(const Tensor& a, const Tensor& b) { return (a * b).sum().item<double>(); }

}  // namespace

BOOST_AUTO_TEST_SUITE(fold)

BOOST_AUTO_TEST_CASE(unfold_hand_computed) {
  // 3 x 3 image 1..9, kernel 2: four blocks; row (i, j) lists x[bh + i, bw + j] over blocks.
  const Tensor x = arange(1, 10, dtype(float64)).view({1, 1, 3, 3});
  check_values(F::unfold(x, UnfoldOptions({2})), {1, 4, 4}, {1, 2, 4, 5, 2, 3, 5, 6, 4, 5, 7, 8, 5, 6, 8, 9});
  // padding 1, stride 2, kernel 2: blocks at (-1, -1), (-1, 1), (1, -1), (1, 1).
  check_values(F::unfold(x, UnfoldOptions({2}).padding({1}).stride({2})), {1, 4, 4},
               {0, 0, 0, 5, 0, 0, 4, 6, 0, 2, 0, 8, 1, 3, 7, 9});
  // Unbatched input [C, H, W] -> [C k k, L].
  check_values(F::unfold(x.view({1, 3, 3}), UnfoldOptions({3})), {9, 1}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
}

BOOST_AUTO_TEST_CASE(fold_hand_computed) {
  // fold(unfold(ones)) counts the blocks covering each pixel: 3 x 3, kernel 2 -> 1 2 1 / 2 4 2 / 1 2 1.
  const Tensor ones3 = ones({1, 1, 3, 3}, dtype(float64));
  check_values(F::fold(F::unfold(ones3, UnfoldOptions({2})), FoldOptions({3, 3}, {2})), {1, 1, 3, 3},
               {1, 2, 1, 2, 4, 2, 1, 2, 1});
  // Unbatched [C k k, L] -> [C, H, W].
  check_values(F::fold(ones({4, 1}, dtype(float64)), FoldOptions({2}, {2})), {1, 2, 2}, {1, 1, 1, 1});
}

BOOST_AUTO_TEST_CASE(pytorch_docs_shapes) {
  // nn.Unfold(kernel_size=(2, 3)) on [2, 5, 3, 4] -> [2, 30, 4]; nn.Fold(output_size=(4, 5),
  // kernel_size=(2, 2)) on [1, 12, 12] -> [1, 3, 4, 5].
  Unfold u(UnfoldOptions({2, 3}));
  BOOST_CHECK((u.forward(zeros({2, 5, 3, 4})).shape() == Shape{2, 30, 4}));
  Fold f(FoldOptions({4, 5}, {2, 2}));
  BOOST_CHECK((f.forward(zeros({1, 12, 12})).shape() == Shape{1, 3, 4, 5}));
  BOOST_CHECK_EQUAL(u.extra_repr(), "kernel_size=[2, 3], dilation=[1], padding=[0], stride=[1]");
  BOOST_CHECK_EQUAL(f.extra_repr(), "output_size=[4, 5], kernel_size=[2, 2], dilation=[1], padding=[0], stride=[1]");
}

BOOST_AUTO_TEST_CASE(unfold_against_naive_and_fold_is_adjoint) {
  manual_seed(1);
  const std::vector<std::pair<Shape, Geo>> cases = {
      {{2, 3, 5, 6}, Geo{3, 3}},
      {{1, 2, 7, 5}, Geo{2, 3, 2, 1, 1, 0, 2, 1}},
      {{2, 1, 6, 6}, Geo{3, 2, 1, 2, 2, 1, 3, 2}},
      {{1, 2, 4, 4}, Geo{1, 1, 1, 1, 0, 0, 2, 2}},
  };
  for (const auto& [s, g] : cases) {
    const Tensor x = randn(s, dtype(float64));
    const Tensor cols = F::unfold(x, uopt(g));
    check_close(cols, naive_unfold(x, g), 0.0);
    // <unfold(x), c> == <x, fold(c)> for any c: fold is the adjoint of unfold.
    const Tensor c = randn(cols.shape(), dtype(float64));
    const Tensor folded = F::fold(c, fopt({s[2], s[3]}, g));
    BOOST_CHECK_CLOSE(inner(cols, c), inner(x, folded), 1e-9);
  }
}

BOOST_AUTO_TEST_CASE(hand_derived_gradient) {
  // y = unfold(x) with a 2 x 2 kernel on 3 x 3: d(sum y)/dx = the number of blocks covering
  // each pixel (1 2 1 / 2 4 2 / 1 2 1). d(sum fold(c))/dc = 1 for every entry that lands in
  // the image (all of them without padding).
  Tensor x = rand64({1, 1, 3, 3});
  F::unfold(x, UnfoldOptions({2})).sum().backward();
  check_values(x.grad(), {1, 1, 3, 3}, {1, 2, 1, 2, 4, 2, 1, 2, 1});
  BOOST_CHECK_EQUAL(F::unfold(x, UnfoldOptions({2})).grad_fn_name(), "UnfoldBackward");
  Tensor c = rand64({1, 4, 4});
  Tensor y = F::fold(c, FoldOptions({3}, {2}).padding({1}).stride({2}));
  BOOST_CHECK_EQUAL(y.grad_fn_name(), "FoldBackward");
  y.sum().backward();
  // padding 1, stride 2 on 3 x 3: block (bh, bw) at (2 bh - 1, 2 bw - 1); tap (i, j) lands at
  // (2 bh - 1 + i, 2 bw - 1 + j), inside iff both are in [0, 3).
  check_values(c.grad(), {1, 4, 4}, {0, 0, 0, 1, 0, 0, 1, 1, 0, 1, 0, 1, 1, 1, 1, 1});
}

BOOST_AUTO_TEST_CASE(gradcheck_and_gradgradcheck) {
  manual_seed(2);
  const Geo g{2, 3, 1, 2, 1, 1, 2, 1};
  const auto fu = [g](const std::vector<Tensor>& in) { return F::unfold(in[0], uopt(g)); };
  check_gradcheck(fu, {rand64({1, 2, 4, 5})});
  check_gradgradcheck(fu, {rand64({1, 2, 4, 5})});
  const Shape cs = F::unfold(zeros({1, 2, 4, 5}), uopt(g)).shape();
  const auto ff = [g](const std::vector<Tensor>& in) { return F::fold(in[0], fopt({4, 5}, g)); };
  check_gradcheck(ff, {rand64(cs)});
  check_gradgradcheck(ff, {rand64(cs)});
}

BOOST_AUTO_TEST_CASE(non_contiguous_inputs) {
  manual_seed(3);
  const Tensor base = randn({2, 3, 6, 5}, dtype(float64));
  const Tensor t = base.transpose(2, 3);
  check_close(F::unfold(t, UnfoldOptions({3}).padding({1})), F::unfold(t.contiguous(), UnfoldOptions({3}).padding({1})),
              0.0);
  const Tensor cols = randn({2, 8, 12}, dtype(float64)).transpose(1, 2);  // [2, 12, 8]
  check_close(F::fold(cols, FoldOptions({3, 3}, {2}).padding({1}).stride({2, 1})),
              F::fold(cols.contiguous(), FoldOptions({3, 3}, {2}).padding({1}).stride({2, 1})), 0.0);
}

BOOST_AUTO_TEST_CASE(bit_identical_at_1_and_2_threads) {
  manual_seed(4);
  const Tensor x0 = randn({4, 32, 8, 8});  // 128 planes: several tasks
  auto run = [&](int threads) {
    set_num_threads(threads);
    Tensor x = x0.detach().clone().requires_grad_(true);
    Tensor cols = F::unfold(x, UnfoldOptions({3}).padding({1}));
    Tensor y = F::fold(cols * cols, FoldOptions({8}, {3}).padding({1}));
    y.sum().backward();
    return std::pair{y.detach().to_vector<float>(), x.grad().to_vector<float>()};
  };
  const int saved = get_num_threads();
  const auto a = run(1), b = run(2);
  set_num_threads(saved);
  BOOST_CHECK(a.first == b.first);
  BOOST_CHECK(a.second == b.second);
}

BOOST_AUTO_TEST_CASE(errors) {
  XGRAD_CHECK_THROW_MSG(F::unfold(zeros({3, 3}), UnfoldOptions({2})),
                        "unfold: expected a 3-d [C, H, W] or 4-d [N, C, H, W] input, got shape [3, 3]");
  XGRAD_CHECK_THROW_MSG(F::unfold(zeros({1, 1, 2, 2}), UnfoldOptions({3})),
                        "unfold: a spatial size of (2, 2) with kernel_size=[3], dilation=[1], padding=[0], "
                        "stride=[1] gives no sliding block");
  XGRAD_CHECK_THROW_MSG(F::unfold(zeros({1, 1, 4, 4}), UnfoldOptions({2}).stride({0})),
                        "unfold: stride must be >= 1, got [0]");
  XGRAD_CHECK_THROW_MSG(F::unfold(zeros({1, 1, 4, 4}), UnfoldOptions({2}).padding({-1})),
                        "unfold: padding must be >= 0, got [-1]");
  XGRAD_CHECK_THROW_MSG(F::unfold(zeros({1, 1, 4, 4}), UnfoldOptions({2, 2, 2})),
                        "unfold: kernel_size must have 1 or 2 entries, got [2, 2, 2]");
  XGRAD_CHECK_THROW_MSG(F::unfold(zeros({1, 1, 4, 4}, dtype(int64)), UnfoldOptions({2})),
                        "unfold: expected a floating dtype (float32 or float64), got int64");
  XGRAD_CHECK_THROW_MSG(F::fold(zeros({1, 5, 4}), FoldOptions({3}, {2})),
                        "fold: dim -2 of input shape [1, 5, 4] has size 5, which is not divisible by the product of "
                        "kernel_size [2] = 4");
  XGRAD_CHECK_THROW_MSG(F::fold(zeros({1, 4, 5}), FoldOptions({3}, {2})),
                        "fold: output_size=[3], kernel_size=[2], dilation=[1], padding=[0], stride=[1] give 2 x 2 = 4 "
                        "sliding blocks, but dim -1 of input shape [1, 4, 5] has size 5");
  XGRAD_CHECK_THROW_MSG(F::fold(zeros({1, 4, 1}), FoldOptions({0, 3}, {2})),
                        "fold: output_size must be >= 1, got [0, 3]");
  XGRAD_CHECK_THROW_MSG(F::fold(zeros({4}), FoldOptions({3}, {2})),
                        "fold: expected a 2-d [C kh kw, L] or 3-d [N, C kh kw, L] input, got shape [4]");
  XGRAD_CHECK_THROW_MSG(Fold(FoldOptions({3}, {0})), "Fold: kernel_size must be >= 1, got [0]");
  XGRAD_CHECK_THROW_MSG(Unfold(UnfoldOptions({2}).dilation({0})), "Unfold: dilation must be >= 1, got [0]");
  XGRAD_CHECK_THROW_MSG(Fold(FoldOptions({3}, {2})).forward(zeros({1, 4, 5})), "Fold: output_size=[3]");
}

BOOST_AUTO_TEST_SUITE_END()
