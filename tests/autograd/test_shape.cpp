// Shape ops (shape.hpp): views (reshape, view, flatten, squeeze, unsqueeze), expand, the
// copying ops (transpose, permute, t, cat, stack, split, chunk, narrow, slice, pad) and
// the indexing ops (index_select, gather, scatter_add): values, gradients (gradcheck,
// gradgradcheck, hand-derived cases) and error messages.
#include <numeric>

#include "test_util.hpp"

using namespace xgrad;
using xgrad::test::check_close;
using xgrad::test::check_gradcheck;
using xgrad::test::check_gradgradcheck;
using xgrad::test::rand64;

namespace {

using Ts = std::vector<Tensor>;

Tensor f64(std::initializer_list<NestedList> v) { return tensor(v, dtype(float64)); }
Tensor i64(std::initializer_list<NestedList> v) { return tensor(v, dtype(int64)); }

// 0, 1, 2, ... in the given shape (float64, no grad).
Tensor iota(const Shape& s) {
  std::vector<double> v(static_cast<std::size_t>(shape_numel(s)));
  std::iota(v.begin(), v.end(), 0.0);
  return from_vector(v, s);
}

// gradcheck of a multi-output function (split, chunk).
void check_gradcheck_multi(const GradcheckFn& f, const Ts& inputs) {
  GradcheckOptions o;
  o.raise_exception = false;
  auto r = gradcheck(f, inputs, o);
  BOOST_CHECK_MESSAGE(r.ok, r.message);
}

std::vector<std::int64_t> sizes_along(const Ts& pieces, std::int64_t d) {
  std::vector<std::int64_t> s;
  for (const auto& p : pieces) s.push_back(p.size(d));
  return s;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(shape)

// ---- reshape / view / flatten / squeeze / unsqueeze ------------------------------------

BOOST_AUTO_TEST_CASE(reshape_values_and_infer) {
  Tensor a = iota({2, 3, 4});
  Tensor r = reshape(a, {4, -1});
  BOOST_CHECK(r.shape() == (Shape{4, 6}));
  BOOST_CHECK(r.to_vector<double>() == a.to_vector<double>());
  BOOST_CHECK(reshape(a, {-1}).shape() == (Shape{24}));
  BOOST_CHECK(a.view({3, 8}).shape() == (Shape{3, 8}));
  BOOST_CHECK(reshape(scalar_tensor(2.0), {1, 1}).shape() == (Shape{1, 1}));
  BOOST_CHECK(reshape(zeros({0, 3}), {3, -1, 2}).shape() == (Shape{3, 0, 2}));
}

BOOST_AUTO_TEST_CASE(reshape_errors) {
  Tensor a = iota({2, 3});
  XGRAD_CHECK_THROW_MSG(reshape(a, {4, 2}), "reshape: shape [4, 2] is invalid for input of size 6");
  XGRAD_CHECK_THROW_MSG(reshape(a, {4, -1}), "is invalid for input of size 6");
  XGRAD_CHECK_THROW_MSG(reshape(a, {-1, -1}), "only one dimension can be inferred");
  XGRAD_CHECK_THROW_MSG(reshape(Tensor(), {1}), "reshape: expected a defined tensor");
}

BOOST_AUTO_TEST_CASE(reshape_view_flatten_share_storage) {
  Tensor a = iota({2, 3});
  Tensor r = reshape(a, {3, 2});
  Tensor v = a.view({6});
  Tensor f = flatten(a);
  Tensor u = unsqueeze(a, 0);
  {
    NoGradGuard ng;
    a.mul_(2.0);
  }
  const std::vector<double> want{0, 2, 4, 6, 8, 10};
  BOOST_CHECK(r.to_vector<double>() == want);
  BOOST_CHECK(v.to_vector<double>() == want);
  BOOST_CHECK(f.to_vector<double>() == want);
  BOOST_CHECK(u.to_vector<double>() == want);
  // and the other way round
  {
    NoGradGuard ng;
    r.add_(1.0);
  }
  BOOST_CHECK(a.to_vector<double>() == (std::vector<double>{1, 3, 5, 7, 9, 11}));
}

BOOST_AUTO_TEST_CASE(flatten_squeeze_unsqueeze_shapes) {
  Tensor a = zeros({2, 1, 3, 1});
  BOOST_CHECK(flatten(a).shape() == (Shape{6}));
  BOOST_CHECK(flatten(a, 1).shape() == (Shape{2, 3}));
  BOOST_CHECK(flatten(a, 0, -2).shape() == (Shape{6, 1}));
  BOOST_CHECK(a.flatten(1, 2).shape() == (Shape{2, 3, 1}));
  BOOST_CHECK(flatten(scalar_tensor(1.0)).shape() == (Shape{1}));
  BOOST_CHECK(squeeze(a).shape() == (Shape{2, 3}));
  BOOST_CHECK(squeeze(a, 1).shape() == (Shape{2, 3, 1}));
  BOOST_CHECK(squeeze(a, -1).shape() == (Shape{2, 1, 3}));
  BOOST_CHECK(a.squeeze(0).shape() == a.shape());  // size 2: unchanged
  BOOST_CHECK(unsqueeze(a, 0).shape() == (Shape{1, 2, 1, 3, 1}));
  BOOST_CHECK(unsqueeze(a, -1).shape() == (Shape{2, 1, 3, 1, 1}));
  BOOST_CHECK(a.unsqueeze(2).shape() == (Shape{2, 1, 1, 3, 1}));
  XGRAD_CHECK_THROW_MSG(unsqueeze(a, 5), "unsqueeze: dim 5 out of range");
  XGRAD_CHECK_THROW_MSG(flatten(a, 3, 1), "flatten: start_dim 3 cannot come after end_dim 1");
  XGRAD_CHECK_THROW_MSG(squeeze(a, 4), "squeeze: dim 4 out of range");
}

BOOST_AUTO_TEST_CASE(view_ops_gradcheck) {
  for (const Shape& s : {Shape{2, 3}, Shape{1, 4, 1}, Shape{3, 1, 2, 1}}) {
    Tensor x = rand64(s);
    Tensor w = rand64({shape_numel(s)});  // weights make every element's gradient distinct
    check_gradcheck([&](const Ts& in) { return reshape(in[0], {-1}) * w; }, {x});
    check_gradcheck([&](const Ts& in) { return view(in[0], {shape_numel(s), 1}); }, {x});
    check_gradcheck([&](const Ts& in) { return flatten(in[0], 0, -2) * 2.0; }, {x});
    check_gradcheck([&](const Ts& in) { return squeeze(in[0]); }, {x});
    check_gradcheck([&](const Ts& in) { return squeeze(in[0], -1); }, {x});
    check_gradcheck([&](const Ts& in) { return unsqueeze(in[0], -2); }, {x});
  }
  Tensor x = rand64({2, 3});
  check_gradgradcheck([](const Ts& in) { return reshape(in[0] * in[0], {3, 2}); }, {x});
}

BOOST_AUTO_TEST_CASE(reshape_hand_derived) {
  // L = sum(reshape(x, [3, 2]) * w) -> dL/dx = reshape(w, [2, 3]) (a pure relabelling).
  Tensor x = rand64({2, 3});
  Tensor w = f64({{1, 2}, {3, 4}, {5, 6}});
  (reshape(x, {3, 2}) * w).sum().backward();
  check_close(x.grad(), f64({{1, 2, 3}, {4, 5, 6}}), 0);
  BOOST_CHECK_EQUAL(reshape(x, {6}).grad_fn_name(), "ViewBackward");
}

// ---- expand ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(expand_values_and_errors) {
  Tensor a = f64({{1}, {2}});
  Tensor e = expand(a, {2, 3});
  check_close(e, f64({{1, 1, 1}, {2, 2, 2}}), 0);
  BOOST_CHECK(expand(a, {4, -1, 3}).shape() == (Shape{4, 2, 3}));
  BOOST_CHECK(a.expand({2, 2}).shape() == (Shape{2, 2}));
  check_close(broadcast_to(f64({1, 2}), {2, 2}), f64({{1, 2}, {1, 2}}), 0);
  XGRAD_CHECK_THROW_MSG(expand(a, {3, 3}),
                        "expand: the expanded size of the tensor (3) must match the existing size (2)");
  XGRAD_CHECK_THROW_MSG(expand(a, {3}), "must be greater or equal to the number of dimensions");
  XGRAD_CHECK_THROW_MSG(expand(a, {-1, 2, 3}), "-1 is not allowed in a leading, new dimension");
}

BOOST_AUTO_TEST_CASE(expand_gradients) {
  // L = sum(expand(x [3,1] -> [3,4]) * w) -> dL/dx_i = sum_j w_ij
  Tensor x = rand64({3, 1});
  Tensor w = f64({{1, 2, 3, 4}, {0, 0, 0, 1}, {-1, -1, 2, 2}});
  (expand(x, {3, 4}) * w).sum().backward();
  check_close(x.grad(), f64({{10}, {1}, {2}}), 1e-12);
  for (const auto& [in, out] : std::vector<std::pair<Shape, Shape>>{
           {{3, 1}, {3, 4}}, {{1}, {2, 3}}, {{2, 1, 3}, {4, 2, 5, 3}}, {{1, 1}, {1, 1}}}) {
    check_gradcheck([out = out](const Ts& t) { return expand(t[0], out); }, {rand64(in)});
  }
  check_gradgradcheck([](const Ts& t) { return expand(t[0] * t[0], {2, 3}); }, {rand64({1, 3})});
}

// ---- transpose / permute / t -----------------------------------------------------------

BOOST_AUTO_TEST_CASE(transpose_permute_values) {
  Tensor a = iota({2, 3});
  check_close(transpose(a, 0, 1), f64({{0, 3}, {1, 4}, {2, 5}}), 0);
  check_close(a.t(), f64({{0, 3}, {1, 4}, {2, 5}}), 0);
  check_close(a.transpose(-1, -2), f64({{0, 3}, {1, 4}, {2, 5}}), 0);
  check_close(t(f64({1, 2, 3})), f64({1, 2, 3}), 0);
  check_close(t(scalar_tensor(5.0, dtype(float64))), scalar_tensor(5.0, dtype(float64)), 0);
  // b[i][j][k] = 12 i + 4 j + k; permute({2, 0, 1})[k][i][j] = b[i][j][k]
  Tensor b = iota({2, 3, 4});
  Tensor p = b.permute({2, 0, 1});
  BOOST_CHECK(p.shape() == (Shape{4, 2, 3}));
  auto pv = p.to_vector<double>();
  bool ok = true;
  for (int k = 0; k < 4; ++k)
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 3; ++j) ok = ok && pv[static_cast<std::size_t>(k * 6 + i * 3 + j)] == 12 * i + 4 * j + k;
  BOOST_CHECK(ok);
  BOOST_CHECK(permute(b, {-3, -2, -1}).to_vector<double>() == b.to_vector<double>());
  // transpose is a view: writing into it writes into the input
  Tensor c = transpose(a, 0, 1);
  BOOST_CHECK(!c.is_contiguous());
  BOOST_CHECK(c.strides() == (Shape{1, 3}));
  {
    NoGradGuard ng;
    c.fill_(7.0);
  }
  BOOST_CHECK_EQUAL(a.to_vector<double>()[1], 7.0);
  // int64 works too
  Tensor ia = i64({{1, 2}, {3, 4}});
  BOOST_CHECK(ia.t().to_vector<std::int64_t>() == (std::vector<std::int64_t>{1, 3, 2, 4}));
}

BOOST_AUTO_TEST_CASE(permute_large_tiled_and_parallel) {
  // Sizes above the 32-element tile and the parallel grain; dims not multiples of the tile.
  for (const Shape& s : {Shape{67, 45}, Shape{3, 250, 130}, Shape{2, 1, 300, 70}}) {
    Tensor a = iota(s);
    Tensor at = transpose(a, 0, -1);
    const auto v = at.to_vector<double>();
    const auto st_in = [&] {
      std::vector<std::int64_t> st(s.size(), 1);
      for (std::size_t d = s.size() - 1; d-- > 0;) st[d] = st[d + 1] * s[d + 1];
      return st;
    }();
    Shape os = s;
    std::swap(os.front(), os.back());
    BOOST_REQUIRE(at.shape() == os);
    // Walk the output in row-major order; element value = flat input index.
    std::vector<std::int64_t> idx(os.size(), 0);
    bool ok = true;
    for (std::size_t f = 0; f < v.size() && ok; ++f) {
      std::vector<std::int64_t> in = idx;
      std::swap(in.front(), in.back());
      std::int64_t off = 0;
      for (std::size_t d = 0; d < s.size(); ++d) off += in[d] * st_in[d];
      ok = v[f] == static_cast<double>(off);
      for (std::size_t d = os.size(); d-- > 0;) {
        if (++idx[d] < os[d]) break;
        idx[d] = 0;
      }
    }
    BOOST_CHECK_MESSAGE(ok, "transpose(0, -1) of shape " << fmt::format("{}", s) << " is wrong");
    BOOST_CHECK(transpose(at, 0, -1).to_vector<double>() == a.to_vector<double>());
  }
  Tensor b = iota({40, 3, 50});
  BOOST_CHECK(b.permute({2, 1, 0}).permute({2, 1, 0}).to_vector<double>() == b.to_vector<double>());
  BOOST_CHECK(b.permute({1, 2, 0}).permute({2, 0, 1}).to_vector<double>() == b.to_vector<double>());
}

BOOST_AUTO_TEST_CASE(transpose_permute_gradients) {
  // L = sum(transpose(x) * w) -> dL/dx = transpose(w)
  Tensor x = rand64({2, 3});
  Tensor w = f64({{1, 2}, {3, 4}, {5, 6}});
  (transpose(x, 0, 1) * w).sum().backward();
  check_close(x.grad(), f64({{1, 3, 5}, {2, 4, 6}}), 0);
  BOOST_CHECK_EQUAL(transpose(x, 0, 1).grad_fn_name(), "TransposeBackward");
  BOOST_CHECK_EQUAL(permute(x, {1, 0}).grad_fn_name(), "PermuteBackward");

  for (const Shape& s : {Shape{2, 3}, Shape{1, 4}, Shape{2, 1, 3}, Shape{3, 2, 1, 2}}) {
    Tensor a = rand64(s);
    check_gradcheck([](const Ts& in) { return transpose(in[0], 0, -1); }, {a});
    check_gradcheck([](const Ts& in) { return in[0].transpose(-2, -1); }, {a});
    std::vector<std::int64_t> rev(s.size());
    std::iota(rev.rbegin(), rev.rend(), std::int64_t{0});
    check_gradcheck([&](const Ts& in) { return permute(in[0], rev); }, {a});
    std::vector<std::int64_t> rot(s.size());
    std::iota(rot.begin(), rot.end(), std::int64_t{1});
    rot.back() = -static_cast<std::int64_t>(s.size());  // negative dim for 0
    check_gradcheck([&](const Ts& in) { return in[0].permute(rot); }, {a});
  }
  check_gradcheck([](const Ts& in) { return t(in[0]); }, {rand64({3, 2})});
  check_gradcheck([](const Ts& in) { return in[0].t(); }, {rand64({3})});
  check_gradgradcheck([](const Ts& in) { return permute(in[0] * in[0], {2, 0, 1}); }, {rand64({2, 3, 2})});
}

BOOST_AUTO_TEST_CASE(transpose_permute_errors) {
  Tensor a = zeros({2, 3, 4});
  XGRAD_CHECK_THROW_MSG(transpose(a, 0, 3), "transpose: dim 3 out of range for tensor of shape [2, 3, 4]");
  XGRAD_CHECK_THROW_MSG(transpose(a, -4, 0), "transpose: dim -4 out of range");
  XGRAD_CHECK_THROW_MSG(permute(a, {0, 0, 1}), "permute: dims [0, 0, 1] is not a permutation");
  XGRAD_CHECK_THROW_MSG(permute(a, {0, 1}), "tensor of shape [2, 3, 4]");
  XGRAD_CHECK_THROW_MSG(permute(a, {0, 1, 3}), "permute: dims [0, 1, 3] is not a permutation");
  XGRAD_CHECK_THROW_MSG(t(a), "t: expects a tensor with <= 2 dimensions, but got shape [2, 3, 4]");
  XGRAD_CHECK_THROW_MSG(transpose(Tensor(), 0, 1), "transpose: expected a defined tensor");
}

// ---- cat / stack ------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(cat_values) {
  Tensor a = f64({{1, 2}, {3, 4}});
  Tensor b = f64({{5, 6}});
  check_close(cat({a, b}), f64({{1, 2}, {3, 4}, {5, 6}}), 0);
  check_close(cat({a, f64({{7}, {8}})}, 1), f64({{1, 2, 7}, {3, 4, 8}}), 0);
  check_close(cat({a, f64({{7}, {8}}), a}, -1), f64({{1, 2, 7, 1, 2}, {3, 4, 8, 3, 4}}), 0);
  check_close(cat({a}), a, 0);
  // empty pieces and PyTorch's legacy skip of 1-d [0] tensors
  check_close(cat({a, zeros({0, 2}, dtype(float64)), b}), f64({{1, 2}, {3, 4}, {5, 6}}), 0);
  check_close(cat({zeros({0}, dtype(float64)), a}), a, 0);
  BOOST_CHECK(cat({zeros({0}), zeros({0})}).shape() == (Shape{0}));
  // int64 and a middle dim
  Tensor x = cat({iota({2, 1, 2}).to(int64), iota({2, 2, 2}).to(int64)}, 1);
  BOOST_CHECK(x.shape() == (Shape{2, 3, 2}));
  BOOST_CHECK(x.to_vector<std::int64_t>() == (std::vector<std::int64_t>{0, 1, 0, 1, 2, 3, 2, 3, 4, 5, 6, 7}));
}

BOOST_AUTO_TEST_CASE(cat_gradients) {
  // L = sum(cat(a, b) * w) -> dL/da = w[:2], dL/db = w[2:] (each input gets its own block)
  Tensor a = rand64({2, 2});
  Tensor b = rand64({1, 2});
  Tensor w = f64({{1, 2}, {3, 4}, {5, 6}});
  (cat({a, b}) * w).sum().backward();
  check_close(a.grad(), f64({{1, 2}, {3, 4}}), 0);
  check_close(b.grad(), f64({{5, 6}}), 0);
  BOOST_CHECK_EQUAL(cat({a, b}).grad_fn_name(), "CatBackward");
  // an input that does not require grad gets none, and the others still do
  Tensor c = f64({{9, 9}});
  Tensor a2 = rand64({2, 2});
  (cat({c, a2}) * w).sum().backward();
  check_close(a2.grad(), f64({{3, 4}, {5, 6}}), 0);
  BOOST_CHECK(!c.grad().defined());

  check_gradcheck(
      [](const Ts& in) {
        return cat({in[0], in[1], in[2]}, 0);
      },
      {rand64({2, 3}), rand64({1, 3}), rand64({3, 3})});
  check_gradcheck([](const Ts& in) { return cat({in[0], in[1]}, -1); }, {rand64({2, 1, 1}), rand64({2, 1, 3})});
  check_gradcheck([](const Ts& in) { return cat({in[0], in[1], in[0]}, 1); }, {rand64({1, 2, 2}), rand64({1, 1, 2})});
  check_gradcheck([](const Ts& in) { return cat({in[0], in[1]}, 0); }, {rand64({0}), rand64({2, 2})});
  check_gradgradcheck([](const Ts& in) { return cat({in[0] * in[1], in[1]}, 1); }, {rand64({2, 2}), rand64({2, 2})});
}

BOOST_AUTO_TEST_CASE(cat_errors) {
  Tensor a = zeros({2, 3});
  XGRAD_CHECK_THROW_MSG(cat({a, zeros({2, 4})}, 0),
                        "cat: sizes of tensors must match except in dimension 0, but tensor 0 has shape [2, 3] and "
                        "tensor 1 has shape [2, 4]");
  XGRAD_CHECK_THROW_MSG(cat({a, zeros({2, 3, 1})}), "tensor 0 has shape [2, 3] and tensor 1 has shape [2, 3, 1]");
  XGRAD_CHECK_THROW_MSG(cat({a, zeros({2, 3}, dtype(float64))}), "cat: expected all tensors to have the same dtype");
  XGRAD_CHECK_THROW_MSG(cat({}), "cat: expected a non-empty list of tensors");
  XGRAD_CHECK_THROW_MSG(cat({a, Tensor()}), "cat: expected a defined tensor");
  XGRAD_CHECK_THROW_MSG(cat({scalar_tensor(1.0)}), "cat: zero-dimensional tensor (at position 0)");
  XGRAD_CHECK_THROW_MSG(cat({a, a}, 2), "cat: dim 2 out of range");
}

BOOST_AUTO_TEST_CASE(stack_values_gradients_errors) {
  Tensor a = f64({1, 2});
  Tensor b = f64({3, 4});
  check_close(stack({a, b}), f64({{1, 2}, {3, 4}}), 0);
  check_close(stack({a, b}, 1), f64({{1, 3}, {2, 4}}), 0);
  check_close(stack({a, b}, -1), f64({{1, 3}, {2, 4}}), 0);
  BOOST_CHECK(stack({scalar_tensor(1.0), scalar_tensor(2.0)}).shape() == (Shape{2}));
  BOOST_CHECK(stack({zeros({2, 3}), zeros({2, 3}), zeros({2, 3})}, 1).shape() == (Shape{2, 3, 3}));

  // L = sum(stack(x, y, dim=1) * w) -> dL/dx = w[:, 0], dL/dy = w[:, 1]
  Tensor x = rand64({3});
  Tensor y = rand64({3});
  Tensor w = f64({{1, 2}, {3, 4}, {5, 6}});
  Tensor s = stack({x, y}, 1);
  BOOST_CHECK_EQUAL(s.grad_fn_name(), "StackBackward");
  (s * w).sum().backward();
  check_close(x.grad(), f64({1, 3, 5}), 0);
  check_close(y.grad(), f64({2, 4, 6}), 0);

  for (std::int64_t d : {0, 1, 2, -1}) {
    check_gradcheck([d](const Ts& in) { return stack({in[0], in[1], in[0]}, d); }, {rand64({2, 1}), rand64({2, 1})});
  }
  check_gradgradcheck([](const Ts& in) { return stack({in[0] * in[1], in[1]}, 0); }, {rand64({3}), rand64({3})});

  XGRAD_CHECK_THROW_MSG(
      stack({a, f64({1, 2, 3})}),
      "stack: expects each tensor to be equal size, but tensor 0 has shape [2] and tensor 1 has shape [3]");
  XGRAD_CHECK_THROW_MSG(stack({}), "stack: expected a non-empty list");
  XGRAD_CHECK_THROW_MSG(stack({a, a}, 3), "stack: dim 3 out of range");
  XGRAD_CHECK_THROW_MSG(stack({a, tensor({1., 2.})}), "stack: expected all tensors to have the same dtype");
}

// ---- narrow / slice / split / chunk --------------------------------------------------------

BOOST_AUTO_TEST_CASE(narrow_values_and_errors) {
  Tensor a = iota({3, 4});
  check_close(narrow(a, 0, 1, 2), f64({{4, 5, 6, 7}, {8, 9, 10, 11}}), 0);
  check_close(a.narrow(1, 1, 2), f64({{1, 2}, {5, 6}, {9, 10}}), 0);
  check_close(narrow(a, -1, -1, 1), f64({{3}, {7}, {11}}), 0);  // negative dim and start
  BOOST_CHECK(narrow(a, 0, 3, 0).shape() == (Shape{0, 4}));
  XGRAD_CHECK_THROW_MSG(narrow(a, 0, 2, 2), "narrow: start (2) + length (2) exceeds the size 3 of dimension 0");
  XGRAD_CHECK_THROW_MSG(narrow(a, 1, 5, 0), "narrow: start 5 is out of range for dimension 1 of size 4");
  XGRAD_CHECK_THROW_MSG(narrow(a, 2, 0, 1), "narrow: dim 2 out of range");
  XGRAD_CHECK_THROW_MSG(narrow(scalar_tensor(1.0), 0, 0, 1), "narrow: cannot be applied to a 0-dim tensor");
}

BOOST_AUTO_TEST_CASE(slice_pytorch_clamping) {
  Tensor a = iota({6});
  check_close(slice(a, 0, 1, 4), f64({1, 2, 3}), 0);
  check_close(slice(a, 0, 0, 6, 2), f64({0, 2, 4}), 0);
  check_close(slice(a, 0, 1, 6, 2), f64({1, 3, 5}), 0);
  check_close(slice(a, 0, -2, 6), f64({4, 5}), 0);         // negative start counts from the end
  check_close(slice(a, 0, 0, -4), f64({0, 1}), 0);         // negative end too
  check_close(slice(a, 0, -100, 100, 3), f64({0, 3}), 0);  // both clamped to [0, 6]
  BOOST_CHECK(slice(a, 0, 4, 2).shape() == (Shape{0}));    // end < start: empty
  BOOST_CHECK(slice(a, 0, 10, 20).shape() == (Shape{0}));  // start past the end: empty
  Tensor b = iota({3, 5});
  check_close(slice(b, 1, 1, 5, 3), f64({{1, 4}, {6, 9}, {11, 14}}), 0);
  check_close(slice(b, -2, 2, 3), f64({{10, 11, 12, 13, 14}}), 0);
  XGRAD_CHECK_THROW_MSG(slice(a, 0, 0, 6, 0), "slice: step must be positive, got 0");
  XGRAD_CHECK_THROW_MSG(slice(a, 0, 0, 6, -1), "slice: step must be positive, got -1");
  XGRAD_CHECK_THROW_MSG(slice(a, 1, 0, 1), "slice: dim 1 out of range");
}

BOOST_AUTO_TEST_CASE(narrow_slice_gradients) {
  // L = sum(slice(x, 0, 1, 6, 2) * w) -> dL/dx = [0, w0, 0, w1, 0, w2]
  Tensor x = rand64({6});
  slice(x, 0, 1, 6, 2).mul(f64({7, 8, 9})).sum().backward();
  check_close(x.grad(), f64({0, 7, 0, 8, 0, 9}), 0);
  BOOST_CHECK_EQUAL(slice(x, 0, 0, 2).grad_fn_name(), "SliceBackward");
  BOOST_CHECK_EQUAL(narrow(x, 0, 0, 2).grad_fn_name(), "NarrowBackward");
  // L = sum(narrow(x, 1, 1, 1)) on [2, 3] -> 1 at column 1 only
  Tensor y = rand64({2, 3});
  narrow(y, 1, 1, 1).sum().backward();
  check_close(y.grad(), f64({{0, 1, 0}, {0, 1, 0}}), 0);

  for (const Shape& s : {Shape{5}, Shape{4, 3}, Shape{2, 1, 5}, Shape{1, 6, 1}}) {
    Tensor a = rand64(s);
    check_gradcheck([](const Ts& in) { return narrow(in[0], -1, 0, 1); }, {a});
    check_gradcheck([](const Ts& in) { return in[0].narrow(0, 0, 1); }, {a});
    check_gradcheck([](const Ts& in) { return slice(in[0], -1, 1, 100, 2); }, {a});
    check_gradcheck([](const Ts& in) { return slice(in[0], 0, -3, -1); }, {a});
  }
  check_gradgradcheck([](const Ts& in) { return slice(in[0] * in[0], 1, 0, 5, 2); }, {rand64({2, 5})});
  check_gradgradcheck([](const Ts& in) { return narrow(in[0] * in[0], 0, 1, 2); }, {rand64({3, 2})});
}

BOOST_AUTO_TEST_CASE(split_and_chunk) {
  Tensor a = iota({5, 2});
  auto p = split(a, 2);
  BOOST_REQUIRE_EQUAL(p.size(), 3u);
  BOOST_CHECK(sizes_along(p, 0) == (std::vector<std::int64_t>{2, 2, 1}));
  check_close(p[2], f64({{8, 9}}), 0);
  auto q = split(a, {1, 4}, 0);
  BOOST_CHECK(sizes_along(q, 0) == (std::vector<std::int64_t>{1, 4}));
  check_close(q[1], narrow(a, 0, 1, 4), 0);
  BOOST_CHECK(sizes_along(split(a, std::vector<std::int64_t>{1, 0, 1}, -1), 1) == (std::vector<std::int64_t>{1, 0, 1}));
  BOOST_CHECK_EQUAL(split(a, 7).size(), 1u);
  BOOST_CHECK_EQUAL(split(zeros({0, 2}), 0).size(), 1u);  // split_size 0 is allowed only for an empty dim

  // chunk: pieces of ceil(n / chunks); PyTorch may return fewer than asked
  BOOST_CHECK(sizes_along(chunk(iota({5}), 3), 0) == (std::vector<std::int64_t>{2, 2, 1}));
  BOOST_CHECK(sizes_along(chunk(iota({6}), 4), 0) == (std::vector<std::int64_t>{2, 2, 2}));
  BOOST_CHECK(sizes_along(chunk(iota({6}), 3), 0) == (std::vector<std::int64_t>{2, 2, 2}));
  BOOST_CHECK(sizes_along(chunk(iota({2}), 5), 0) == (std::vector<std::int64_t>{1, 1}));
  BOOST_CHECK(sizes_along(chunk(zeros({0}), 3), 0) == (std::vector<std::int64_t>{0, 0, 0}));
  auto c = chunk(a, 2, 1);
  BOOST_REQUIRE_EQUAL(c.size(), 2u);
  check_close(c[1], f64({{1}, {3}, {5}, {7}, {9}}), 0);

  XGRAD_CHECK_THROW_MSG(split(a, 0), "split: split_size must be positive, got 0");
  XGRAD_CHECK_THROW_MSG(split(a, -1), "split: split_size must be positive, got -1");
  XGRAD_CHECK_THROW_MSG(split(a, {2, 2}), "split: split sizes [2, 2] sum to 4 but dimension 0 has size 5");
  XGRAD_CHECK_THROW_MSG(split(a, {6, -1}), "split: split sizes must be non-negative");
  XGRAD_CHECK_THROW_MSG(chunk(a, 0), "chunk: chunks must be positive, got 0");
  XGRAD_CHECK_THROW_MSG(chunk(a, 2, 2), "chunk: dim 2 out of range");
}

BOOST_AUTO_TEST_CASE(split_chunk_gradients) {
  // L = sum(p0 * 1) + sum(p2 * 3) with p = split(x, 2): the unused middle piece gets 0,
  // dL/dx = [1, 1, 0, 0, 3]
  Tensor x = rand64({5});
  auto p = split(x, 2);
  (p[0].sum() + (p[2] * 3.0).sum()).backward();
  check_close(x.grad(), f64({1, 1, 0, 0, 3}), 0);

  for (const Shape& s : {Shape{5, 2}, Shape{3, 1}, Shape{4, 1, 3}}) {
    Tensor a = rand64(s);
    check_gradcheck_multi([](const Ts& in) { return split(in[0], 2); }, {a});
    check_gradcheck_multi([](const Ts& in) { return split(in[0], {1, in[0].size(-1) - 1}, -1); }, {a});
    check_gradcheck_multi([](const Ts& in) { return chunk(in[0], 2, 0); }, {a});
    check_gradcheck_multi([](const Ts& in) { return chunk(in[0], 3, -1); }, {a});
  }
}

// ---- pad ------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(pad_values_and_errors) {
  Tensor a = f64({{1, 2}, {3, 4}});
  // {left, right} on the last dim
  check_close(pad(a, {1, 0}), f64({{0, 1, 2}, {0, 3, 4}}), 0);
  // {left, right, top, bottom}
  check_close(pad(a, {0, 1, 1, 0}, -1.0), f64({{-1, -1, -1}, {1, 2, -1}, {3, 4, -1}}), 0);
  check_close(pad(a, {}), a, 0);
  check_close(pad(f64({5}), {2, 1}, 9.0), f64({9, 9, 5, 9}), 0);
  Tensor ip = pad(i64({1, 2}), {1, 1}, 7.0);
  BOOST_CHECK(ip.to_vector<std::int64_t>() == (std::vector<std::int64_t>{7, 1, 2, 7}));
  BOOST_CHECK(pad(zeros({2, 0}), {1, 1}).shape() == (Shape{2, 2}));
  BOOST_CHECK(pad(zeros({1, 2, 3}), {1, 1, 2, 2, 0, 3}).shape() == (Shape{4, 6, 5}));

  XGRAD_CHECK_THROW_MSG(pad(a, {1, -1}), "pad: negative padding -1 is not supported");
  XGRAD_CHECK_THROW_MSG(pad(a, {1}), "pad: padding length must be even");
  XGRAD_CHECK_THROW_MSG(pad(a, {1, 1, 1, 1, 1, 1}), "has 3 pairs but the tensor of shape [2, 2] has only 2 dims");
}

BOOST_AUTO_TEST_CASE(pad_gradients) {
  // L = sum(pad(x, {1, 1}) * w): the padded border is constant, so dL/dx = w[1:-1]
  Tensor x = rand64({2});
  (pad(x, {1, 1}, 3.0) * f64({5, 6, 7, 8})).sum().backward();
  check_close(x.grad(), f64({6, 7}), 0);
  BOOST_CHECK_EQUAL(pad(x, {1, 1}).grad_fn_name(), "PadBackward");
  for (const Shape& s : {Shape{3}, Shape{2, 3}, Shape{1, 2, 1}}) {
    check_gradcheck([](const Ts& in) { return pad(in[0], {1, 2}, 0.5); }, {rand64(s)});
    if (s.size() >= 2) check_gradcheck([](const Ts& in) { return pad(in[0], {0, 1, 2, 0}); }, {rand64(s)});
  }
  check_gradgradcheck([](const Ts& in) { return pad(in[0] * in[0], {1, 0, 0, 1}); }, {rand64({2, 2})});
}

// ---- index_select ----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(index_select_values_and_errors) {
  Tensor a = iota({3, 4});
  check_close(index_select(a, 0, i64({2, 0})), f64({{8, 9, 10, 11}, {0, 1, 2, 3}}), 0);
  check_close(a.index_select(1, i64({3, 3, 1})), f64({{3, 3, 1}, {7, 7, 5}, {11, 11, 9}}), 0);
  check_close(index_select(a, -1, i64({0})), f64({{0}, {4}, {8}}), 0);
  BOOST_CHECK(index_select(a, 0, zeros({0}, dtype(int64))).shape() == (Shape{0, 4}));
  BOOST_CHECK(index_select(a, 0, scalar_tensor(1, dtype(int64))).shape() == (Shape{1, 4}));
  Tensor ia = i64({10, 20, 30});
  BOOST_CHECK(ia.index_select(0, i64({2, 1})).to_vector<std::int64_t>() == (std::vector<std::int64_t>{30, 20}));

  XGRAD_CHECK_THROW_MSG(index_select(a, 0, i64({0, 3})),
                        "index_select: index 3 is out of range for dimension 0 with size 3");
  XGRAD_CHECK_THROW_MSG(index_select(a, 1, i64({-1})), "index -1 is out of range for dimension 1 with size 4");
  XGRAD_CHECK_THROW_MSG(index_select(a, 0, tensor({0.0})), "index_select: index must be int64, got float32");
  XGRAD_CHECK_THROW_MSG(index_select(a, 0, i64({{0}})), "index_select: index must be 1-d");
  XGRAD_CHECK_THROW_MSG(index_select(a, 2, i64({0})), "index_select: dim 2 out of range");
}

BOOST_AUTO_TEST_CASE(index_select_gradients) {
  // L = sum(index_select(x, 1, [0, 2, 0]) * w): column 0 is picked twice, so its gradient
  // is the sum of both weights, column 1 is never picked.
  // dL/dx[r][0] = w[r][0] + w[r][2], dL/dx[r][1] = 0, dL/dx[r][2] = w[r][1]
  Tensor x = rand64({2, 3});
  (index_select(x, 1, i64({0, 2, 0})) * f64({{1, 2, 3}, {4, 5, 6}})).sum().backward();
  check_close(x.grad(), f64({{4, 0, 2}, {10, 0, 5}}), 0);
  BOOST_CHECK_EQUAL(index_select(x, 0, i64({0})).grad_fn_name(), "IndexSelectBackward");

  for (const Shape& s : {Shape{4}, Shape{3, 2}, Shape{2, 1, 3}}) {
    Tensor a = rand64(s);
    check_gradcheck([](const Ts& in) { return index_select(in[0], 0, i64({1, 0, 1})); }, {a});
    check_gradcheck([](const Ts& in) { return index_select(in[0], -1, i64({0, 0})); }, {a});
  }
  check_gradgradcheck([](const Ts& in) { return index_select(in[0] * in[0], 1, i64({2, 0, 2})); }, {rand64({2, 3})});
}

BOOST_AUTO_TEST_CASE(index_select_large_parallel) {
  // Above the parallel grain, with many repeated indices (accumulating backward).
  Tensor a = rand64({500, 130});
  std::vector<std::int64_t> idx;
  for (int i = 0; i < 700; ++i) idx.push_back((i * 37) % 500);
  Tensor ix = from_vector(idx);
  Tensor o = index_select(a, 0, ix);
  auto av = a.to_vector<double>(), ov = o.to_vector<double>();
  bool ok = true;
  for (std::size_t i = 0; i < idx.size(); ++i)
    for (std::size_t j = 0; j < 130; ++j) ok = ok && ov[i * 130 + j] == av[static_cast<std::size_t>(idx[i]) * 130 + j];
  BOOST_CHECK(ok);
  o.sum().backward();
  std::vector<double> counts(500, 0.0);
  for (auto i : idx) counts[static_cast<std::size_t>(i)] += 1;
  auto gv = a.grad().to_vector<double>();
  ok = true;
  for (std::size_t r = 0; r < 500; ++r)
    for (std::size_t j = 0; j < 130; ++j) ok = ok && gv[r * 130 + j] == counts[r];
  BOOST_CHECK(ok);
}

// ---- gather / scatter_add --------------------------------------------------------------

BOOST_AUTO_TEST_CASE(gather_values_and_errors) {
  Tensor a = f64({{1, 2}, {3, 4}});
  // dim 1: out[i][j] = a[i][index[i][j]]
  check_close(gather(a, 1, i64({{0, 0}, {1, 0}})), f64({{1, 1}, {4, 3}}), 0);
  // dim 0: out[i][j] = a[index[i][j]][j]
  check_close(a.gather(0, i64({{1, 0}, {0, 0}, {1, 1}})), f64({{3, 2}, {1, 2}, {3, 4}}), 0);
  // index smaller than the input in the other dims
  check_close(gather(iota({3, 4}), -1, i64({{3}, {0}})), f64({{3}, {4}}), 0);
  check_close(gather(scalar_tensor(5.0, dtype(float64)), 0, scalar_tensor(0, dtype(int64))),
              scalar_tensor(5.0, dtype(float64)), 0);

  XGRAD_CHECK_THROW_MSG(gather(a, 1, i64({0, 1})),
                        "gather: index must have the same number of dimensions as the input, got index shape [2] and "
                        "input shape [2, 2]");
  XGRAD_CHECK_THROW_MSG(gather(a, 1, i64({{0, 2}})), "gather: index 2 is out of range for dimension 1 with size 2");
  XGRAD_CHECK_THROW_MSG(gather(a, 1, i64({{0}, {0}, {0}})), "gather: index shape [3, 1] exceeds input shape [2, 2]");
  XGRAD_CHECK_THROW_MSG(gather(a, 0, f64({{0}})), "gather: index must be int64, got float64");
  XGRAD_CHECK_THROW_MSG(gather(a, 2, i64({{0}})), "gather: dim 2 out of range");
}

BOOST_AUTO_TEST_CASE(gather_gradients) {
  // L = sum(gather(x, 1, [[0, 0], [1, 0]]) * w) -> dL/dx[i][k] = sum_{j: index[i][j] = k} w[i][j]
  // row 0: both pick column 0 -> [w00 + w01, 0]; row 1: [w11, w10]
  Tensor x = rand64({2, 2});
  (gather(x, 1, i64({{0, 0}, {1, 0}})) * f64({{1, 2}, {3, 4}})).sum().backward();
  check_close(x.grad(), f64({{3, 0}, {4, 3}}), 0);
  BOOST_CHECK_EQUAL(gather(x, 1, i64({{0}, {0}})).grad_fn_name(), "GatherBackward");

  check_gradcheck([](const Ts& in) { return gather(in[0], 0, i64({{2, 0}, {2, 2}})); }, {rand64({3, 2})});
  check_gradcheck([](const Ts& in) { return gather(in[0], -1, i64({{1}, {0}, {1}})); }, {rand64({3, 2})});
  check_gradcheck([](const Ts& in) { return gather(in[0], 1, i64({{{0, 0}}, {{0, 0}}})); }, {rand64({2, 1, 3})});
  check_gradcheck([](const Ts& in) { return gather(in[0], 0, i64({1, 1, 0})); }, {rand64({4})});
  check_gradgradcheck([](const Ts& in) { return gather(in[0] * in[0], 1, i64({{1, 1}, {0, 1}})); }, {rand64({2, 2})});
}

BOOST_AUTO_TEST_CASE(scatter_add_values_and_errors) {
  Tensor a = zeros({2, 3}, dtype(float64));
  // dim 1: out[i][index[i][j]] += src[i][j]
  check_close(scatter_add(a, 1, i64({{0, 0}, {2, 1}}), f64({{1, 2}, {3, 4}})), f64({{3, 0, 0}, {0, 4, 3}}), 0);
  // dim 0 with src larger than index: only src's [0:1, 0:3] block is used
  check_close(scatter_add(ones({2, 3}, dtype(float64)), 0, i64({{1, 0, 1}}), f64({{1, 2, 3}, {9, 9, 9}})),
              f64({{1, 3, 1}, {2, 1, 4}}), 0);
  Tensor is = scatter_add(zeros({3}, dtype(int64)), 0, i64({0, 0, 2}), i64({1, 2, 3}));
  BOOST_CHECK(is.to_vector<std::int64_t>() == (std::vector<std::int64_t>{3, 0, 3}));

  XGRAD_CHECK_THROW_MSG(scatter_add(a, 1, i64({{3}}), f64({{1}})),
                        "scatter_add: index 3 is out of range for dimension 1 with size 3");
  XGRAD_CHECK_THROW_MSG(scatter_add(a, 1, i64({0}), f64({{1}})),
                        "scatter_add: input, index and src must have the same number");
  XGRAD_CHECK_THROW_MSG(scatter_add(a, 1, i64({{0, 0}}), f64({{1}})), "must not exceed src shape [1, 1]");
  XGRAD_CHECK_THROW_MSG(scatter_add(a, 1, i64({{0}}), tensor({{1.0}})), "scatter_add");
}

BOOST_AUTO_TEST_CASE(scatter_add_gradients) {
  // out = a + scatter(src): d out / d a = identity; dL/dsrc[i][j] = w[i][index[i][j]]
  // (gather of the upstream gradient), and src elements outside the index box get 0.
  Tensor a = rand64({2, 3});
  Tensor src = rand64({2, 3});
  Tensor w = f64({{1, 2, 3}, {4, 5, 6}});
  (scatter_add(a, 1, i64({{2, 2}, {0, 1}}), src) * w).sum().backward();
  check_close(a.grad(), w, 0);
  check_close(src.grad(), f64({{3, 3, 0}, {4, 5, 0}}), 0);
  BOOST_CHECK_EQUAL(scatter_add(a, 1, i64({{0}, {0}}), src).grad_fn_name(), "ScatterAddBackward");

  check_gradcheck(
      [](const Ts& in) {
        return scatter_add(in[0], 0, i64({{1, 0}, {1, 1}}), in[1]);
      },
      {rand64({2, 2}), rand64({2, 2})});
  check_gradcheck(
      [](const Ts& in) {
        return scatter_add(in[0], -1, i64({{0}, {2}}), in[1]);
      },
      {rand64({2, 3}), rand64({3, 2})});
  check_gradcheck(
      [](const Ts& in) {
        return scatter_add(in[0], 0, i64({0, 0, 1}), in[1]);
      },
      {rand64({2}), rand64({4})});
  check_gradgradcheck(
      [](const Ts& in) {
        return scatter_add(in[0], 1, i64({{1, 1}}), in[1] * in[1]);
      },
      {rand64({1, 2}), rand64({1, 2})});
}

BOOST_AUTO_TEST_CASE(gather_scatter_large_parallel) {
  // gather along dim 0 of a big tensor; backward (scatter_add) accumulates repeated rows
  // deterministically.
  Tensor a = rand64({400, 200});
  std::vector<std::int64_t> idx(300 * 200);
  for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<std::int64_t>((i * 7919) % 400);
  Tensor ix = from_vector(idx, {300, 200});
  Tensor o = gather(a, 0, ix);
  auto av = a.to_vector<double>(), ov = o.to_vector<double>();
  bool ok = true;
  for (std::size_t i = 0; i < 300; ++i)
    for (std::size_t j = 0; j < 200; ++j)
      ok = ok && ov[i * 200 + j] == av[static_cast<std::size_t>(idx[i * 200 + j]) * 200 + j];
  BOOST_CHECK(ok);
  o.sum().backward();
  std::vector<double> counts(400 * 200, 0.0);
  for (std::size_t i = 0; i < idx.size(); ++i) counts[static_cast<std::size_t>(idx[i]) * 200 + i % 200] += 1;
  BOOST_CHECK(a.grad().to_vector<double>() == counts);
}

// ---- behaviour --------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(no_grad_records_nothing) {
  Tensor x = rand64({2, 3});
  NoGradGuard ng;
  for (const Tensor& y :
       {transpose(x, 0, 1), cat({x, x}), stack({x, x}), narrow(x, 0, 0, 1), slice(x, 1, 0, 3, 2), pad(x, {1, 1}),
        index_select(x, 0, i64({0})), gather(x, 0, i64({{0, 1, 0}})), scatter_add(x, 0, i64({{0}}), x)}) {
    BOOST_CHECK(!y.requires_grad());
    BOOST_CHECK(y.is_leaf());
  }
}

BOOST_AUTO_TEST_CASE(float32_matches_float64) {
  Tensor x64 = rand64({3, 4, 2});
  Tensor x32 = x64.detach().to(float32);
  check_close(permute(x32, {2, 0, 1}), permute(x64, {2, 0, 1}), 1e-6);
  check_close(cat({x32, x32}, 1), cat({x64, x64}, 1), 1e-6);
  check_close(pad(x32, {1, 1}), pad(x64, {1, 1}), 1e-6);
  check_close(gather(x32, 2, zeros({3, 4, 1}, dtype(int64))), gather(x64, 2, zeros({3, 4, 1}, dtype(int64))), 1e-6);
}

BOOST_AUTO_TEST_CASE(saved_index_modified_in_place_throws) {
  // index_select saves the index: changing it before backward must not give silently wrong
  // gradients.
  Tensor x = rand64({3});
  Tensor ix = i64({0, 1});
  Tensor y = index_select(x, 0, ix).sum();
  ix.add_(1.0);
  BOOST_CHECK_THROW(y.backward(), Error);
}

BOOST_AUTO_TEST_SUITE_END()
