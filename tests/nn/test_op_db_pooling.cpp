// Op-table entries for pooling: float64 gradcheck and gradgradcheck on contiguous,
// transposed, strided and expanded inputs, views vs contiguous copies, module forms, and the
// int64 dtype error. Shapes stay tiny so CI stays fast; max pooling draws random values, so
// ties (where the gradient is not defined) are improbable.
#include "autograd/op_db.hpp"
#include "xgrad/nn/pooling.hpp"

namespace nn = xgrad::nn;

namespace {

// Batched and unbatched 2-d inputs with odd sizes.
const std::vector<std::vector<Shape>> kPlanes = {{{2, 2, 5, 4}}, {{2, 3, 5}}};
// 1-d inputs.
const std::vector<std::vector<Shape>> kRows = {{{2, 2, 7}}, {{3, 6}}};

OpInfo entry(std::string name, Fn fn, std::vector<std::vector<Shape>> samples, std::vector<Fn> forms = {},
             std::vector<Dom> domains = {}) {
  OpInfo op;
  op.name = std::move(name);
  op.fn = std::move(fn);
  op.samples = std::move(samples);
  op.forms = std::move(forms);
  op.domains = std::move(domains);
  op.int64 = Int64::No;
  op.dtype_error = "float32 or float64";
  return op;
}

std::vector<OpInfo> pooling_ops() {
  using MO = nn::MaxPool2dOptions;
  using AO = nn::AvgPool2dOptions;
  std::vector<OpInfo> ops;
  ops.push_back(entry("max_pool2d", [](const Ts& x) { return F::max_pool2d(x[0], MO(2)); }, kPlanes, {[](const Ts& x) {
                        nn::MaxPool2d m(MO(2));
                        return m(x[0]);
                      }}));
  ops.push_back(entry(
      "max_pool2d_pad_dilation_ceil",
      [](const Ts& x) {
        return F::max_pool2d(x[0], MO({3, 2}).stride({2, 1}).padding({1, 1}).dilation({1, 2}).ceil_mode(true));
      },
      kPlanes));
  ops.push_back(entry("max_pool1d",
                      [](const Ts& x) { return F::max_pool1d(x[0], nn::MaxPool1dOptions(3).stride(2).padding(1)); },
                      kRows, {[](const Ts& x) {
                        nn::MaxPool1d m(nn::MaxPool1dOptions(3).stride(2).padding(1));
                        return m(x[0]);
                      }}));
  ops.push_back(entry("avg_pool2d", [](const Ts& x) { return F::avg_pool2d(x[0], AO(2)); }, kPlanes, {[](const Ts& x) {
                        nn::AvgPool2d m(AO(2));
                        return m(x[0]);
                      }}));
  ops.push_back(entry(
      "avg_pool2d_pad_ceil_exclude_pad",
      [](const Ts& x) {
        return F::avg_pool2d(x[0], AO(3).stride(2).padding(1).ceil_mode(true).count_include_pad(false));
      },
      kPlanes));
  ops.push_back(entry(
      "avg_pool2d_divisor_override",
      [](const Ts& x) {
        return F::avg_pool2d(x[0], AO({2, 3}).stride(1).divisor_override(4));
      },
      kPlanes));
  ops.push_back(entry(
      "avg_pool1d", [](const Ts& x) { return F::avg_pool1d(x[0], nn::AvgPool1dOptions(3).stride(2).padding(1)); },
      kRows));
  ops.push_back(entry("adaptive_avg_pool2d",
                      [](const Ts& x) {
                        return F::adaptive_avg_pool2d(x[0], nn::AdaptiveAvgPool2dOptions({3, 2}));
                      },
                      kPlanes, {[](const Ts& x) {
                        nn::AdaptiveAvgPool2d m(nn::AdaptiveAvgPool2dOptions({3, 2}));
                        return m(x[0]);
                      }}));
  ops.push_back(entry("adaptive_max_pool2d",
                      [](const Ts& x) {
                        return F::adaptive_max_pool2d(x[0], nn::AdaptiveMaxPool2dOptions({2, 3}));
                      },
                      kPlanes, {[](const Ts& x) {
                        nn::AdaptiveMaxPool2d m(nn::AdaptiveMaxPool2dOptions({2, 3}));
                        return m(x[0]);
                      }}));
  ops.push_back(entry("lp_pool2d",
                      [](const Ts& x) { return F::lp_pool2d(x[0], nn::LPPool2dOptions(2.0, 2).stride(1)); }, kPlanes,
                      {}, {Dom::Positive}));
  // max_unpool2d with fixed indices: those of a 2x2 max pooling of a fixed [2, 2, 4, 4] input
  // (the unbatched sample uses the first plane's).
  static const Tensor idx = [] {
    manual_seed(77);
    return F::max_pool2d_with_indices(randn({2, 2, 4, 4}, dtype(float64)), MO(2)).second;
  }();
  ops.push_back(
      entry("max_unpool2d",
            [](const Ts& x) {
              return F::max_unpool2d(x[0], x[0].dim() == 4 ? idx : idx.select(0, 0), nn::MaxUnpool2dOptions(2), {5, 4});
            },
            {{{2, 2, 2, 2}}, {{2, 2, 2}}}));
  return ops;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(op_db_pooling)

BOOST_AUTO_TEST_CASE(pooling) { run_all(pooling_ops()); }

BOOST_AUTO_TEST_SUITE_END()
