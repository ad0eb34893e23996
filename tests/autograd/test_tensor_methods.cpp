// Every Tensor method of the issue-13 ops returns exactly what its free function returns.
#include "test_util.hpp"

using namespace xgrad;

namespace {

void same(const Tensor& a, const Tensor& b, const char* what) {
  BOOST_TEST_CONTEXT(what) {
    BOOST_REQUIRE(a.shape() == b.shape());
    BOOST_REQUIRE(a.dtype() == b.dtype());
    const auto va = a.detach().to(float64).to_vector<double>(), vb = b.detach().to(float64).to_vector<double>();
    for (std::size_t i = 0; i < va.size(); ++i)
      BOOST_CHECK_MESSAGE(va[i] == vb[i] || (std::isnan(va[i]) && std::isnan(vb[i])), "element " << i);
  }
}

void same2(const std::tuple<Tensor, Tensor>& a, const std::tuple<Tensor, Tensor>& b, const char* what) {
  same(std::get<0>(a), std::get<0>(b), what);
  same(std::get<1>(a), std::get<1>(b), what);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(tensor_methods)

BOOST_AUTO_TEST_CASE(methods_equal_free_functions) {
  manual_seed(3);
  const Tensor x = randn({3, 4}, dtype(float64)), y = randn({3, 4}, dtype(float64)).abs() + 0.5;
  const Tensor mask = x > 0.;
  const Tensor idx = tensor({{0, 1, 2, 0}, {2, 0, 1, 1}});
  const Tensor i1 = tensor({2, 0});
  const Tensor m33 = randn({3, 3}, dtype(float64)) + eye(3, -1, dtype(float64)) * 3.0;
  same(x.div(y, "floor"), div(x, y, "floor"), "div rounding");
  same(x.floor_divide(y), floor_divide(x, y), "floor_divide");
  same(mask.logical_and(y > 1.), logical_and(mask, y > 1.), "logical_and");
  same(mask.logical_or(y > 1.), logical_or(mask, y > 1.), "logical_or");
  same(mask.logical_xor(y > 1.), logical_xor(mask, y > 1.), "logical_xor");
  same(mask.logical_not(), logical_not(mask), "logical_not");
  same(mask.bitwise_not(), bitwise_not(mask), "bitwise_not");
  same(x.any({1}), any(x, {1}), "any");
  same(x.all({0}, true), all(x, {0}, true), "all");
  same(x.masked_fill(mask, 2.0), masked_fill(x, mask, 2.0), "masked_fill");
  same(x.masked_fill(mask, scalar_tensor(3.0, dtype(float64))), masked_fill(x, mask, scalar_tensor(3.0, dtype(float64))),
       "masked_fill tensor");
  Tensor xc = x.clone();
  xc.masked_fill_(mask, -1.0);
  same(xc, masked_fill(x, mask, -1.0), "masked_fill_");
  same(x.masked_select(mask), masked_select(x, mask), "masked_select");
  same(x.masked_scatter(mask, y), masked_scatter(x, mask, y), "masked_scatter");
  same(x.nonzero(), nonzero(x), "nonzero");
  same(x.scatter(1, idx.narrow(0, 0, 1).narrow(1, 0, 3).clone(), y.narrow(0, 0, 1)),
       scatter(x, 1, idx.narrow(0, 0, 1).narrow(1, 0, 3).clone(), y.narrow(0, 0, 1)), "scatter");
  same(x.scatter(0, idx, 5.0), scatter(x, 0, idx, 5.0), "scatter value");
  same(x.scatter_add(0, idx, y.narrow(0, 0, 2)), scatter_add(x, 0, idx, y.narrow(0, 0, 2)), "scatter_add");
  same(x.scatter_reduce(0, idx, y.narrow(0, 0, 2), "amax"), scatter_reduce(x, 0, idx, y.narrow(0, 0, 2), "amax"),
       "scatter_reduce");
  same(x.take_along_dim(idx, 0), take_along_dim(x, idx, 0), "take_along_dim");
  same(x.index_add(0, i1, y.narrow(0, 0, 2), 2.0), index_add(x, 0, i1, y.narrow(0, 0, 2), 2.0), "index_add");
  same(x.tril(1), tril(x, 1), "tril");
  same(x.triu(-1), triu(x, -1), "triu");
  same(x.repeat({2, 1}), repeat(x, {2, 1}), "repeat");
  same(x.tile({2}), tile(x, {2}), "tile");
  same(x.repeat_interleave(2, 1), repeat_interleave(x, 2, 1), "repeat_interleave int");
  same(x.repeat_interleave(tensor({1, 0, 2}), 0), repeat_interleave(x, tensor({1, 0, 2}), 0), "repeat_interleave t");
  same(x.roll({1}, {1}), roll(x, {1}, {1}), "roll");
  same(x.flip({0, 1}), flip(x, {0, 1}), "flip");
  same2(x.sort(1, true), sort(x, 1, true), "sort");
  same(x.argsort(0), argsort(x, 0), "argsort");
  same2(x.topk(2), topk(x, 2), "topk");
  same2(x.kthvalue(2, 1, true), kthvalue(x, 2, 1, true), "kthvalue");
  same(x.median(), median(x), "median");
  same2(x.median(0), median(x, 0), "median dim");
  same(x.cumsum(1), cumsum(x, 1), "cumsum");
  same(x.cumprod(0), cumprod(x, 0), "cumprod");
  same(x.logcumsumexp(1), logcumsumexp(x, 1), "logcumsumexp");
  same(x.prod(), prod(x), "prod");
  same(x.prod(1, true), prod(x, 1, true), "prod dim");
  same(x.nansum({0}), nansum(x, {0}), "nansum");
  same(x.nanmean({1}, true), nanmean(x, {1}, true), "nanmean");
  same((x / 0.).isnan(), isnan(x / 0.), "isnan");
  same((x / 0.).isinf(), isinf(x / 0.), "isinf");
  same((x / 0.).isfinite(), isfinite(x / 0.), "isfinite");
  same((x / 0.).nan_to_num(1.0, 2.0, -2.0), nan_to_num(x / 0., 1.0, 2.0, -2.0), "nan_to_num");
  same(x.clamp(std::optional<Tensor>(-y), std::optional<Tensor>(y)), clamp(x, -y, y), "clamp tensors");
  same(x.lerp(y, 0.3), lerp(x, y, 0.3), "lerp");
  same(x.lerp(y, y), lerp(x, y, y), "lerp tensor");
  same(x.hypot(y), hypot(x, y), "hypot");
  same(x.atan2(y), atan2(x, y), "atan2");
  same(x.logaddexp(y), logaddexp(x, y), "logaddexp");
  same(x.xlogy(y), xlogy(x, y), "xlogy");
  same((x * 0.3).erfinv(), erfinv(x * 0.3), "erfinv");
  same(x.erfc(), erfc(x), "erfc");
  same(y.lgamma(), lgamma(y), "lgamma");
  same(y.digamma(), digamma(y), "digamma");
  same((x * 3.).trunc(), trunc(x * 3.), "trunc");
  same((x * 3.).frac(), frac(x * 3.), "frac");
  same(x.round(1), round(x, 1), "round");
  same(m33.addmm(x.narrow(1, 0, 3), m33, 0.5, 2.0), addmm(m33, x.narrow(1, 0, 3), m33, 0.5, 2.0), "addmm");
  same(m33.unsqueeze(0).baddbmm(m33.unsqueeze(0), m33.unsqueeze(0)),
       baddbmm(m33.unsqueeze(0), m33.unsqueeze(0), m33.unsqueeze(0)), "baddbmm");
  same(m33.inverse(), linalg::inv(m33), "inverse");
  same(m33.det(), linalg::det(m33), "det");
}

BOOST_AUTO_TEST_SUITE_END()
