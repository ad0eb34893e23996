// Op-table entries of the resampling family (interpolate in every mode, pixel_shuffle /
// pixel_unshuffle, fold / unfold): values on views == values on contiguous copies, module
// forms == function forms, float64 gradcheck and gradgradcheck through contiguous,
// transposed, strided and expanded inputs, and the int64 behaviour.
#include "autograd/op_db.hpp"
#include "xgrad/nn/fold.hpp"
#include "xgrad/nn/upsampling.hpp"

namespace {

Fn unary(std::function<Tensor(const Tensor&)> f) {
  return [f](const Ts& x) { return f(x[0]); };
}

nn::InterpolateFuncOptions sized(I64s size, std::string mode, std::optional<bool> ac = std::nullopt) {
  return nn::InterpolateFuncOptions().size(size).mode(std::move(mode)).align_corners(ac);
}
nn::InterpolateFuncOptions scaled(std::vector<double> f, std::string mode, std::optional<bool> ac = std::nullopt) {
  return nn::InterpolateFuncOptions().scale_factor(f).mode(std::move(mode)).align_corners(ac);
}

// One entry per (mode, align_corners, size/scale), with the Upsample module as a second form.
OpInfo interp(std::string name, nn::InterpolateFuncOptions o, std::vector<std::vector<Shape>> samples) {
  OpInfo op{.name = std::move(name),
            .fn = unary([o](const Tensor& x) { return F::interpolate(x, o); }),
            .samples = std::move(samples)};
  auto module = std::make_shared<nn::Upsample>(nn::UpsampleOptions()
                                                   .size(o.size())
                                                   .scale_factor(o.scale_factor())
                                                   .mode(o.mode())
                                                   .align_corners(o.align_corners())
                                                   .recompute_scale_factor(o.recompute_scale_factor()));
  op.forms = {unary([module](const Tensor& x) { return module->forward(x); })};
  return op;
}

std::vector<OpInfo> interpolate_ops() {
  const std::vector<std::vector<Shape>> s3 = {{{2, 2, 3}}};
  const std::vector<std::vector<Shape>> s4 = {{{2, 1, 3, 2}}, {{1, 2, 2, 3}}};
  const std::vector<std::vector<Shape>> s5 = {{{2, 1, 2, 2, 3}}};
  return {
      interp("interpolate_nearest_size_1d", sized({5}, "nearest"), s3),
      interp("interpolate_nearest_scale_2d", scaled({1.5, 2.0}, "nearest"), s4),
      interp("interpolate_nearest_down_2d", sized({2, 1}, "nearest"), s4),
      interp("interpolate_nearest_3d", sized({3, 2, 4}, "nearest"), s5),
      interp("interpolate_nearest_exact_2d", scaled({1.7}, "nearest-exact"), s4),
      interp("interpolate_linear", sized({5}, "linear"), s3),
      interp("interpolate_linear_align", scaled({1.5}, "linear", true), s3),
      interp("interpolate_bilinear", sized({4, 5}, "bilinear"), s4),
      interp("interpolate_bilinear_align", sized({4, 3}, "bilinear", true), s4),
      interp("interpolate_bilinear_scale_recompute", scaled({1.5, 2.5}, "bilinear").recompute_scale_factor(true), s4),
      interp("interpolate_bilinear_down", sized({2, 2}, "bilinear"), s4),
      interp("interpolate_bicubic", sized({4, 5}, "bicubic"), s4),
      interp("interpolate_bicubic_align", scaled({2.0}, "bicubic", true), s4),
      interp("interpolate_trilinear", sized({3, 3, 2}, "trilinear"), s5),
  };
}

std::vector<OpInfo> shuffle_ops() {
  auto ps = std::make_shared<nn::PixelShuffle>(2);
  auto pu = std::make_shared<nn::PixelUnshuffle>(2);
  return {
      {.name = "pixel_shuffle",
       .fn = unary([](const Tensor& x) { return F::pixel_shuffle(x, 2); }),
       .forms = {unary([ps](const Tensor& x) { return ps->forward(x); })},
       .samples = {{{2, 4, 2, 3}}, {{2, 8, 1, 2}}, {{2, 1, 4, 1, 2}}},
       .int64 = Int64::Yes},
      {.name = "pixel_unshuffle",
       .fn = unary([](const Tensor& x) { return F::pixel_unshuffle(x, 2); }),
       .forms = {unary([pu](const Tensor& x) { return pu->forward(x); })},
       .samples = {{{2, 1, 4, 2}}, {{2, 2, 2, 4}}},
       .int64 = Int64::Yes},
  };
}

std::vector<OpInfo> fold_ops() {
  const auto uo = nn::UnfoldOptions({2, 3}).dilation({1, 2}).padding({1, 0}).stride({2, 1});
  const auto fo = nn::FoldOptions({4, 5}, {2, 3}).dilation({1, 2}).padding({1, 0}).stride({2, 1});
  auto um = std::make_shared<nn::Unfold>(uo);
  auto fm = std::make_shared<nn::Fold>(fo);
  // [*, 2, 4, 5] -> [*, 2 * 6, 3 * 1]
  return {
      {.name = "unfold",
       .fn = unary([uo](const Tensor& x) { return F::unfold(x, uo); }),
       .forms = {unary([um](const Tensor& x) { return um->forward(x); })},
       .samples = {{{2, 2, 4, 5}}, {{2, 4, 5}}}},
      {.name = "unfold_default",
       .fn = unary([](const Tensor& x) { return F::unfold(x, nn::UnfoldOptions({2})); }),
       .samples = {{{2, 1, 3, 3}}}},
      {.name = "fold",
       .fn = unary([fo](const Tensor& x) { return F::fold(x, fo); }),
       .forms = {unary([fm](const Tensor& x) { return fm->forward(x); })},
       .samples = {{{2, 12, 3}}, {{6, 3}}}},
      {.name = "fold_default",
       .fn = unary([](const Tensor& x) { return F::fold(x, nn::FoldOptions({3}, {2})); }),
       .samples = {{{2, 8, 4}}}},
  };
}

}  // namespace

BOOST_AUTO_TEST_SUITE(op_db_resampling)

BOOST_AUTO_TEST_CASE(interpolate) { run_all(interpolate_ops()); }
BOOST_AUTO_TEST_CASE(pixel_shuffle) { run_all(shuffle_ops()); }
BOOST_AUTO_TEST_CASE(fold_unfold) { run_all(fold_ops()); }

BOOST_AUTO_TEST_CASE(names_are_unique) {
  std::vector<std::string> names;
  for (const auto& ops : {interpolate_ops(), shuffle_ops(), fold_ops()})
    for (const auto& op : ops) names.push_back(op.name);
  std::sort(names.begin(), names.end());
  BOOST_CHECK(std::adjacent_find(names.begin(), names.end()) == names.end());
}

BOOST_AUTO_TEST_SUITE_END()
