// Structure ops (structure.hpp) and pad's modes (shape.hpp): values on hand-made inputs,
// hand-derived gradients, other dtypes (int64, int32, bool), empty and 0-d tensors, error
// messages, and bit-identical results at 1 and 2 threads. Gradcheck and gradgradcheck of
// every differentiable op on four input layouts are in test_op_db_structure.cpp.
#include <cstdint>
#include <numeric>

#include "test_util.hpp"
#include "xgrad/autograd/structure.hpp"

using namespace xgrad;
using xgrad::test::check_gradcheck;
using xgrad::test::check_gradgradcheck;
using xgrad::test::check_values;
using xgrad::test::rand64;

namespace {

using Ts = std::vector<Tensor>;
using V = std::vector<double>;

Tensor f64(std::initializer_list<NestedList> v) { return tensor(v, dtype(float64)); }
Tensor i64(std::initializer_list<NestedList> v) { return tensor(v, dtype(int64)); }
Tensor i32(std::initializer_list<NestedList> v) { return tensor(v, dtype(int32)); }

// 0, 1, 2, ... in the given shape and dtype (no grad).
Tensor iota(const Shape& s, Dtype d = float64) {
  std::vector<double> v(static_cast<std::size_t>(shape_numel(s)));
  std::iota(v.begin(), v.end(), 0.0);
  return from_vector(v, s).to(d);
}

// d(sum(w * f(x)))/dx for a float64 leaf x.
Tensor grad_of(const std::function<Tensor(const Tensor&)>& f, const Tensor& x_values, const Tensor& w) {
  Tensor x = x_values.detach().clone().requires_grad_(true);
  sum(f(x) * w).backward();
  return x.grad();
}

std::vector<double> bits(const Tensor& t) { return t.detach().contiguous().to_vector<double>(); }

}  // namespace

BOOST_AUTO_TEST_SUITE(structure)

// ---- tril / triu --------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(tril_triu_values) {
  const Tensor x = iota({3, 4}) + 1.0;  // [[1 2 3 4] [5 6 7 8] [9 10 11 12]]
  check_values(tril(x), {3, 4}, {1, 0, 0, 0, 5, 6, 0, 0, 9, 10, 11, 0});
  check_values(tril(x, 1), {3, 4}, {1, 2, 0, 0, 5, 6, 7, 0, 9, 10, 11, 12});
  check_values(tril(x, -1), {3, 4}, {0, 0, 0, 0, 5, 0, 0, 0, 9, 10, 0, 0});
  check_values(triu(x), {3, 4}, {1, 2, 3, 4, 0, 6, 7, 8, 0, 0, 11, 12});
  check_values(triu(x, 2), {3, 4}, {0, 0, 3, 4, 0, 0, 0, 8, 0, 0, 0, 0});
  check_values(triu(x, -1), {3, 4}, {1, 2, 3, 4, 5, 6, 7, 8, 0, 10, 11, 12});
  // offsets far past the matrix keep everything or nothing (no overflow)
  check_values(tril(x, INT64_MAX), {3, 4}, bits(x));
  check_values(tril(x, INT64_MIN), {3, 4}, V(12, 0.0));
  check_values(triu(x, INT64_MIN), {3, 4}, bits(x));
  check_values(triu(x, INT64_MAX), {3, 4}, V(12, 0.0));
  // batched over leading dims, on a transposed (non-contiguous) input
  const Tensor b = iota({2, 2, 3}).transpose(1, 2);  // [2, 3, 2]
  check_values(tril(b), {2, 3, 2}, {0, 0, 1, 4, 2, 5, 6, 0, 7, 10, 8, 11});
  BOOST_CHECK(tril(b).is_contiguous());
  check_values(triu(b), {2, 3, 2}, {0, 3, 0, 4, 0, 0, 6, 9, 0, 10, 0, 0});
}

BOOST_AUTO_TEST_CASE(tril_triu_dtypes_and_edge_cases) {
  // the causal mask: tril of a bool matrix of ones
  const Tensor m = tril(ones({3, 3}, dtype(boolean)));
  BOOST_CHECK(m.dtype() == boolean);
  const std::vector<bool> want{true, false, false, true, true, false, true, true, true};
  BOOST_CHECK(m.to_vector<bool>() == want);
  const Tensor ti = triu(i64({{1, 2}, {3, 4}}), 1);
  BOOST_CHECK(ti.dtype() == int64);
  check_values(ti, {2, 2}, {0, 2, 0, 0});
  const Tensor t32 = tril(i32({{1, 2}, {3, 4}}));
  BOOST_CHECK(t32.dtype() == int32);
  check_values(t32, {2, 2}, {1, 0, 3, 4});
  // empty
  BOOST_CHECK(tril(zeros({0, 3})).shape() == (Shape{0, 3}));
  BOOST_CHECK(triu(zeros({2, 3, 0})).shape() == (Shape{2, 3, 0}));
  BOOST_CHECK(tril(zeros({0, 2, 2})).shape() == (Shape{0, 2, 2}));
  // integer results never require grad; float ones record TrilBackward
  Tensor x = rand64({2, 2});
  BOOST_CHECK_EQUAL(tril(x).grad_fn_name(), "TrilBackward");
  BOOST_CHECK_EQUAL(triu(x).grad_fn_name(), "TriuBackward");
  {
    NoGradGuard ng;
    BOOST_CHECK(!tril(x).requires_grad());
  }
}

BOOST_AUTO_TEST_CASE(tril_triu_hand_gradient) {
  // L = sum(w * tril(x, d)): dL/dx[i][j] = w[i][j] where j - i <= d, else 0, i.e. tril(w, d);
  // for triu the kept positions are j - i >= d.
  const Tensor x = iota({2, 3});
  const Tensor w = f64({{1, 2, 3}, {4, 5, 6}});
  check_values(grad_of([](const Tensor& t) { return tril(t); }, x, w), {2, 3}, {1, 0, 0, 4, 5, 0});
  check_values(grad_of([](const Tensor& t) { return tril(t, 1); }, x, w), {2, 3}, {1, 2, 0, 4, 5, 6});
  check_values(grad_of([](const Tensor& t) { return triu(t, 1); }, x, w), {2, 3}, {0, 2, 3, 0, 0, 6});
}

BOOST_AUTO_TEST_CASE(tril_triu_errors) {
  XGRAD_CHECK_THROW_MSG(tril(zeros({3})), "tril: input tensor must have at least 2 dimensions, got shape [3]");
  XGRAD_CHECK_THROW_MSG(triu(scalar_tensor(1.0)), "triu: input tensor must have at least 2 dimensions, got shape []");
  XGRAD_CHECK_THROW_MSG(tril(Tensor()), "tril");
}

// ---- one_hot ------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(one_hot_values) {
  const Tensor a = i64({0, 2, 1});
  const Tensor o = one_hot(a);
  BOOST_CHECK(o.dtype() == int64);
  check_values(o, {3, 3}, {1, 0, 0, 0, 0, 1, 0, 1, 0});
  check_values(one_hot(a, 4), {3, 4}, {1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0});
  check_values(one_hot(i64({{1, 0}, {0, 1}}), 2), {2, 2, 2}, {0, 1, 1, 0, 1, 0, 0, 1});
  // 0-d input: one row
  check_values(one_hot(scalar_tensor(2, dtype(int64)), 3), {3}, {0, 0, 1});
  // int32 indices (PyTorch takes int64 only), non-contiguous input
  check_values(one_hot(i32({3, 1})), {2, 4}, {0, 0, 0, 1, 0, 1, 0, 0});
  check_values(one_hot(i64({{0, 1}, {2, 0}}).t()), {2, 2, 3}, {1, 0, 0, 0, 0, 1, 0, 1, 0, 1, 0, 0});
  // empty input with num_classes given
  BOOST_CHECK(one_hot(zeros({0}, dtype(int64)), 5).shape() == (Shape{0, 5}));
  BOOST_CHECK(one_hot(zeros({2, 0}, dtype(int64)), 0).shape() == (Shape{2, 0, 0}));
}

BOOST_AUTO_TEST_CASE(one_hot_errors) {
  XGRAD_CHECK_THROW_MSG(one_hot(i64({0, -1, 2})), "one_hot: class values must be non-negative, got -1");
  XGRAD_CHECK_THROW_MSG(one_hot(i64({0, 5, 2}), 3), "one_hot: class value 5 is out of range for num_classes = 3");
  XGRAD_CHECK_THROW_MSG(one_hot(i64({0}), 0), "class value 0 is out of range for num_classes = 0");
  XGRAD_CHECK_THROW_MSG(one_hot(zeros({0}, dtype(int64))), "one_hot: cannot infer the number of classes from an empty");
  XGRAD_CHECK_THROW_MSG(one_hot(f64({0, 1})),
                        "one_hot: the input (class indices) must be an int64 or int32 tensor, got float64");
  XGRAD_CHECK_THROW_MSG(one_hot(ones({2}, dtype(boolean))), "must be an int64 or int32 tensor, got bool");
  XGRAD_CHECK_THROW_MSG(one_hot(i64({0}), -2), "one_hot: num_classes must be -1 (inferred) or non-negative, got -2");
  XGRAD_CHECK_THROW_MSG(one_hot(i64({INT64_MAX})), "one_hot: class value 9223372036854775807 is too large");
}

// ---- repeat / tile ------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(repeat_values) {
  const Tensor x = f64({{1, 2}, {3, 4}});
  check_values(repeat(x, {2, 3}), {4, 6}, {1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4,  //
                                           1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4});
  // more repeats than dims: leading dims
  check_values(repeat(x, {2, 1, 1}), {2, 2, 2}, {1, 2, 3, 4, 1, 2, 3, 4});
  check_values(repeat(f64({1, 2, 3}), {2}), {6}, {1, 2, 3, 1, 2, 3});
  // a zero repeat gives an empty dim
  BOOST_CHECK(repeat(x, {0, 2}).shape() == (Shape{0, 4}));
  // 0-d
  check_values(repeat(scalar_tensor(7.0), {}), {}, {7});
  check_values(repeat(scalar_tensor(7.0), {3}), {3}, {7, 7, 7});
  // empty input
  BOOST_CHECK(repeat(zeros({0, 2}), {3, 2}).shape() == (Shape{0, 4}));
  // transposed input; the result is a copy even when every repeat is 1
  check_values(repeat(x.t(), {1, 2}), {2, 4}, {1, 3, 1, 3, 2, 4, 2, 4});
  Tensor c = repeat(x, {1, 1});
  BOOST_CHECK(c.is_contiguous());
  c.fill_(0.0);
  check_values(x, {2, 2}, {1, 2, 3, 4});
  // other dtypes
  const Tensor b = repeat(from_vector<bool>({true, false}, {2}), {2});
  BOOST_CHECK(b.dtype() == boolean);
  BOOST_CHECK(b.to_vector<bool>() == (std::vector<bool>{true, false, true, false}));
  const Tensor r32 = repeat(i32({5, 6}), {2, 1});
  BOOST_CHECK(r32.dtype() == int32);
  check_values(r32, {2, 2}, {5, 6, 5, 6});
  BOOST_CHECK_EQUAL(repeat(rand64({2}), {2}).grad_fn_name(), "RepeatBackward");
}

BOOST_AUTO_TEST_CASE(repeat_hand_gradient) {
  // y = repeat(x, {3}) = [x0 x1 x0 x1 x0 x1]; L = sum(w * y):
  // dL/dx0 = w0 + w2 + w4 = 1 + 3 + 5 = 9, dL/dx1 = w1 + w3 + w5 = 2 + 4 + 6 = 12.
  check_values(grad_of([](const Tensor& t) { return repeat(t, {3}); }, f64({0.5, -1}), f64({1, 2, 3, 4, 5, 6})), {2},
               {9, 12});
  // y = repeat(x, {2, 1}) with x of shape [2]: y = [[x0 x1] [x0 x1]], dL/dx = w's column sums.
  check_values(grad_of([](const Tensor& t) { return repeat(t, {2, 1}); }, f64({0.5, -1}), f64({{1, 2}, {3, 4}})), {2},
               {4, 6});
}

BOOST_AUTO_TEST_CASE(tile_values) {
  const Tensor x = f64({{1, 2, 3}, {4, 5, 6}});
  // reps shorter than the dims: padded with leading 1s (repeat would throw)
  check_values(tile(x, {2}), {2, 6}, {1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6});
  check_values(tile(x, {2, 1}), {4, 3}, {1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6});
  check_values(tile(x, {2, 1, 1}), {2, 2, 3}, {1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6});
  check_values(tile(x, {}), {2, 3}, {1, 2, 3, 4, 5, 6});
  check_values(tile(scalar_tensor(2.0), {2}), {2}, {2, 2});
  check_values(grad_of([](const Tensor& t) { return tile(t, {2}); }, f64({1, 1}), f64({1, 2, 3, 4})), {2}, {4, 6});
}

BOOST_AUTO_TEST_CASE(repeat_tile_errors) {
  XGRAD_CHECK_THROW_MSG(repeat(zeros({2, 3}), {2}),
                        "repeat: number of repeats (1) must be at least the number of dimensions of the tensor of "
                        "shape [2, 3] (2)");
  XGRAD_CHECK_THROW_MSG(repeat(zeros({2}), {-1}), "repeat: repeats must be non-negative, got -1 in [-1]");
  XGRAD_CHECK_THROW_MSG(tile(zeros({2}), {-2}), "tile: repeats must be non-negative, got -2");
  XGRAD_CHECK_THROW_MSG(repeat(zeros({2}), {INT64_MAX}), "repeat: the result's size 2 x 9223372036854775807 overflows");
  XGRAD_CHECK_THROW_MSG(repeat(zeros({2}), {1LL << 40, 1LL << 40}), "repeat");
  XGRAD_CHECK_THROW_MSG(repeat(Tensor(), {1}), "repeat");
}

// ---- repeat_interleave --------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(repeat_interleave_int) {
  check_values(repeat_interleave(f64({1, 2, 3}), 2), {6}, {1, 1, 2, 2, 3, 3});
  const Tensor x = f64({{1, 2}, {3, 4}});
  // without dim: flattened
  check_values(repeat_interleave(x, 2), {8}, {1, 1, 2, 2, 3, 3, 4, 4});
  check_values(repeat_interleave(x, 2, 0), {4, 2}, {1, 2, 1, 2, 3, 4, 3, 4});
  check_values(repeat_interleave(x, 3, 1), {2, 6}, {1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4});
  check_values(repeat_interleave(x, 2, -1), {2, 4}, {1, 1, 2, 2, 3, 3, 4, 4});
  check_values(repeat_interleave(x.t(), 2, 0), {4, 2}, {1, 3, 1, 3, 2, 4, 2, 4});
  BOOST_CHECK(repeat_interleave(x, 0, 1).shape() == (Shape{2, 0}));
  BOOST_CHECK(repeat_interleave(x, 0).shape() == (Shape{0}));
  check_values(repeat_interleave(scalar_tensor(5.0), 3), {3}, {5, 5, 5});
  BOOST_CHECK(repeat_interleave(zeros({0, 3}), 2, 1).shape() == (Shape{0, 6}));
  const Tensor b = repeat_interleave(from_vector<bool>({true, false}, {2}), 2);
  BOOST_CHECK(b.to_vector<bool>() == (std::vector<bool>{true, true, false, false}));
  check_values(repeat_interleave(i64({7, 8}), 2), {4}, {7, 7, 8, 8});
  BOOST_CHECK(repeat_interleave(i32({7, 8}), 2).dtype() == int32);
  // hand gradient: y = [x0 x0 x1 x1 x2 x2], dL/dx_i = w_2i + w_2i+1 = [1+2, 3+4, 5+6]
  const auto ri2 = [](const Tensor& t) { return repeat_interleave(t, 2); };
  check_values(grad_of(ri2, f64({1, 2, 3}), f64({1, 2, 3, 4, 5, 6})), {3}, {3, 7, 11});
  // along dim 1 of a [2, 2]: dL/dx[i][j] = w[i][2j] + w[i][2j+1]
  check_values(
      grad_of([](const Tensor& t) { return repeat_interleave(t, 2, 1); }, x, f64({{1, 2, 3, 4}, {5, 6, 7, 8}})), {2, 2},
      {3, 7, 11, 15});
  BOOST_CHECK_EQUAL(repeat_interleave(rand64({2}), 2).grad_fn_name(), "RepeatInterleaveBackward");
}

BOOST_AUTO_TEST_CASE(repeat_interleave_tensor) {
  const Tensor x = f64({{1, 2}, {3, 4}});
  check_values(repeat_interleave(x, i64({1, 2}), 0), {3, 2}, {1, 2, 3, 4, 3, 4});
  check_values(repeat_interleave(x, i64({0, 3}), 1), {2, 3}, {2, 2, 2, 4, 4, 4});
  // without dim: the flattened input, one count per element
  check_values(repeat_interleave(x, i64({1, 0, 2, 1})), {4}, {1, 3, 3, 4});
  // one count (0-d or [1]) for every element; int32 counts
  check_values(repeat_interleave(x, scalar_tensor(2, dtype(int64)), 0), {4, 2}, {1, 2, 1, 2, 3, 4, 3, 4});
  check_values(repeat_interleave(x, i32({2}), 1), {2, 4}, {1, 1, 2, 2, 3, 3, 4, 4});
  check_values(repeat_interleave(x, i32({2, 1}), 0), {3, 2}, {1, 2, 1, 2, 3, 4});
  check_values(repeat_interleave(i64({5, 6}), i64({3, 1})), {4}, {5, 5, 5, 6});
  // hand gradient: x = [x0 x1 x2], counts [2 0 1]: y = [x0 x0 x2],
  // dL/dx = [w0 + w1, 0, w2] = [1 + 2, 0, 3]
  check_values(grad_of([](const Tensor& t) { return repeat_interleave(t, i64({2, 0, 1})); }, f64({1, 2, 3}),
                       f64({1, 2, 3})),
               {3}, {3, 0, 3});
  BOOST_CHECK_EQUAL(repeat_interleave(rand64({2}), i64({1, 2})).grad_fn_name(), "IndexSelectBackward");
  // errors
  XGRAD_CHECK_THROW_MSG(repeat_interleave(x, i64({1, 2, 3}), 0),
                        "repeat_interleave: repeats must have the same size as input along dim, but got "
                        "repeats.size(0) = 3 and input.size(0) = 2");
  XGRAD_CHECK_THROW_MSG(repeat_interleave(x, i64({1, 2})), "repeats.size(0) = 2 and input.size(0) = 4");
  XGRAD_CHECK_THROW_MSG(repeat_interleave(x, i64({{1, 2}}), 0),
                        "repeat_interleave: repeats must be a 0-d or 1-d tensor, got shape [1, 2]");
  XGRAD_CHECK_THROW_MSG(repeat_interleave(x, f64({1, 2}), 0),
                        "repeat_interleave: repeats must be an int64 or int32 tensor, got float64");
  XGRAD_CHECK_THROW_MSG(repeat_interleave(x, i64({1, -2}), 0),
                        "repeat_interleave: repeats must be non-negative, got -2 at position 1");
  XGRAD_CHECK_THROW_MSG(repeat_interleave(x, i64({-1}), 0), "repeat_interleave: repeats must be non-negative, got -1");
  XGRAD_CHECK_THROW_MSG(repeat_interleave(x, i64({1, 2}), 2), "repeat_interleave: dim 2 out of range");
}

BOOST_AUTO_TEST_CASE(repeat_interleave_indices) {
  const Tensor r = repeat_interleave(i64({1, 0, 3}));
  BOOST_CHECK(r.dtype() == int64);
  check_values(r, {4}, {0, 2, 2, 2});
  const Tensor r32 = repeat_interleave(i32({2, 1}));
  BOOST_CHECK(r32.dtype() == int32);
  check_values(r32, {3}, {0, 0, 1});
  BOOST_CHECK(repeat_interleave(zeros({0}, dtype(int64))).shape() == (Shape{0}));
  check_values(repeat_interleave(i64({{2, 0}, {1, 1}}).select(1, 0)), {3}, {0, 0, 1});  // strided
  XGRAD_CHECK_THROW_MSG(repeat_interleave(i64({{1}})),
                        "repeat_interleave: repeats must be a 1-d tensor, got shape [1, 1]");
  XGRAD_CHECK_THROW_MSG(repeat_interleave(scalar_tensor(1, dtype(int64))), "must be a 1-d tensor, got shape []");
  XGRAD_CHECK_THROW_MSG(repeat_interleave(f64({1})), "repeats must be an int64 or int32 tensor, got float64");
  XGRAD_CHECK_THROW_MSG(repeat_interleave(i64({1, -1})), "repeats must be non-negative, got -1 at position 1");
  XGRAD_CHECK_THROW_MSG(repeat_interleave(i64({INT64_MAX, 1})), "the sum of repeats overflows int64");
}

BOOST_AUTO_TEST_CASE(repeat_interleave_errors) {
  XGRAD_CHECK_THROW_MSG(repeat_interleave(f64({1, 2}), -1), "repeat_interleave: repeats must be non-negative, got -1");
  XGRAD_CHECK_THROW_MSG(repeat_interleave(f64({1, 2}), 2, 1),
                        "repeat_interleave: dim 1 out of range for tensor of shape [2]");
  XGRAD_CHECK_THROW_MSG(repeat_interleave(scalar_tensor(1.0), 2, 0), "repeat_interleave: dim 0 given for a 0-d tensor");
  XGRAD_CHECK_THROW_MSG(repeat_interleave(f64({1, 2}), INT64_MAX), "repeat_interleave: the result's size 2 x");
}

// ---- roll -----------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(roll_values) {
  const Tensor x = f64({1, 2, 3, 4, 5});
  check_values(roll(x, {2}), {5}, {4, 5, 1, 2, 3});
  check_values(roll(x, {-1}), {5}, {2, 3, 4, 5, 1});
  check_values(roll(x, {7}, {0}), {5}, {4, 5, 1, 2, 3});
  check_values(roll(x, {-10}, {0}), {5}, {1, 2, 3, 4, 5});
  check_values(roll(x, {INT64_MIN}, {0}), {5}, {4, 5, 1, 2, 3});  // -2^63 = 2 (mod 5)
  const Tensor m = iota({3, 3});  // [[0 1 2] [3 4 5] [6 7 8]]
  // no dims: the flattened tensor is rolled, then given back its shape (PyTorch's doc example)
  check_values(roll(m, {1}), {3, 3}, {8, 0, 1, 2, 3, 4, 5, 6, 7});
  check_values(roll(m, {1}, {0}), {3, 3}, {6, 7, 8, 0, 1, 2, 3, 4, 5});
  check_values(roll(m, {-1}, {1}), {3, 3}, {1, 2, 0, 4, 5, 3, 7, 8, 6});
  check_values(roll(m, {1, 1}, {0, 1}), {3, 3}, {8, 6, 7, 2, 0, 1, 5, 3, 4});
  // a dim listed twice is rolled twice
  check_values(roll(m, {1, 1}, {1, -1}), {3, 3}, {1, 2, 0, 4, 5, 3, 7, 8, 6});
  // transposed input
  check_values(roll(m.t(), {1}, {1}), {3, 3}, {6, 0, 3, 7, 1, 4, 8, 2, 5});
  // other dtypes, 0-d, empty
  const Tensor b = roll(from_vector<bool>({true, false, false}, {3}), {1});
  BOOST_CHECK(b.to_vector<bool>() == (std::vector<bool>{false, true, false}));
  check_values(roll(i32({1, 2, 3}), {1}), {3}, {3, 1, 2});
  check_values(roll(scalar_tensor(4.0), {3}), {}, {4});
  check_values(roll(scalar_tensor(4.0), {3}, {0}), {}, {4});
  BOOST_CHECK(roll(zeros({0, 3}), {2}, {0}).shape() == (Shape{0, 3}));
  BOOST_CHECK(roll(zeros({0, 3}), {2}, {1}).shape() == (Shape{0, 3}));
  BOOST_CHECK_EQUAL(roll(rand64({2}), {1}, {0}).grad_fn_name(), "RollBackward");
}

BOOST_AUTO_TEST_CASE(roll_hand_gradient) {
  // y = roll(x, 1) = [x3 x0 x1 x2], so y_i = x_(i-1 mod 4) and dL/dx_j = w_(j+1 mod 4):
  // w = [1 2 3 4] gives [2 3 4 1] (roll(w, -1)).
  check_values(grad_of([](const Tensor& t) { return roll(t, {1}, {0}); }, f64({1, 2, 3, 4}), f64({1, 2, 3, 4})), {4},
               {2, 3, 4, 1});
  check_values(grad_of([](const Tensor& t) { return roll(t, {-3}); }, f64({1, 2, 3, 4}), f64({1, 2, 3, 4})), {4},
               {2, 3, 4, 1});
}

BOOST_AUTO_TEST_CASE(roll_errors) {
  XGRAD_CHECK_THROW_MSG(roll(zeros({3}), {}), "roll: `shifts` required");
  XGRAD_CHECK_THROW_MSG(roll(zeros({3, 3}), {1, 2}),
                        "roll: shifts and dimensions must align, got shifts [1, 2] and dims []");
  XGRAD_CHECK_THROW_MSG(roll(zeros({3, 3}), {1, 2}, {0}), "shifts [1, 2] and dims [0]");
  XGRAD_CHECK_THROW_MSG(roll(zeros({3, 3}), {1}, {2}), "roll: dim 2 out of range for tensor of shape [3, 3]");
}

// ---- flip -----------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(flip_values) {
  const Tensor m = iota({2, 3});  // [[0 1 2] [3 4 5]]
  check_values(flip(m, {0}), {2, 3}, {3, 4, 5, 0, 1, 2});
  check_values(flip(m, {1}), {2, 3}, {2, 1, 0, 5, 4, 3});
  check_values(flip(m, {0, -1}), {2, 3}, {5, 4, 3, 2, 1, 0});
  check_values(flip(m, {}), {2, 3}, {0, 1, 2, 3, 4, 5});
  check_values(flip(m.t(), {1}), {3, 2}, {3, 0, 4, 1, 5, 2});
  check_values(flip(m.slice(1, 0, 3, 2), {1}), {2, 2}, {2, 0, 5, 3});
  check_values(flip(m.select(0, 0).expand({2, 3}), {0, 1}), {2, 3}, {2, 1, 0, 2, 1, 0});
  const Tensor c = iota({2, 2, 2});
  check_values(flip(c, {0, 2}), {2, 2, 2}, {5, 4, 7, 6, 1, 0, 3, 2});
  // a long contiguous row (the copy kernel's tiled and merged paths)
  const Tensor big = iota({40, 50});
  const Tensor fb = flip(big, {0, 1});
  BOOST_CHECK_EQUAL(fb.index({0, 0}).item<double>(), 1999.0);
  BOOST_CHECK_EQUAL(fb.index({39, 49}).item<double>(), 0.0);
  BOOST_CHECK_EQUAL(flip(big.t(), {1}).index({3, 0}).item<double>(), 39 * 50 + 3.0);
  // other dtypes, 0-d, empty
  BOOST_CHECK(flip(from_vector<bool>({true, false}, {2}), {0}).to_vector<bool>() == (std::vector<bool>{false, true}));
  check_values(flip(i64({1, 2, 3}), {0}), {3}, {3, 2, 1});
  check_values(flip(scalar_tensor(3.0), {0}), {}, {3});
  BOOST_CHECK(flip(zeros({0, 2}), {0, 1}).shape() == (Shape{0, 2}));
  // the result is a copy
  Tensor f = flip(m, {});
  f.fill_(1.0);
  check_values(m, {2, 3}, {0, 1, 2, 3, 4, 5});
  BOOST_CHECK_EQUAL(flip(rand64({2}), {0}).grad_fn_name(), "FlipBackward");
}

BOOST_AUTO_TEST_CASE(flip_hand_gradient_and_errors) {
  // y_i = x_(n-1-i), so dL/dx_j = w_(n-1-j): w = [1 2 3] gives [3 2 1].
  check_values(grad_of([](const Tensor& t) { return flip(t, {0}); }, f64({5, 6, 7}), f64({1, 2, 3})), {3}, {3, 2, 1});
  XGRAD_CHECK_THROW_MSG(flip(zeros({2, 2}), {0, -2}), "flip: dim 0 appears multiple times in the list of dims [0, -2]");
  XGRAD_CHECK_THROW_MSG(flip(zeros({2, 2}), {2}), "flip: dim 2 out of range for tensor of shape [2, 2]");
}

// ---- meshgrid -------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(meshgrid_values) {
  const Tensor x = f64({1, 2, 3}), y = f64({4, 5});
  auto ij = meshgrid({x, y});
  BOOST_REQUIRE_EQUAL(ij.size(), 2u);
  check_values(ij[0], {3, 2}, {1, 1, 2, 2, 3, 3});
  check_values(ij[1], {3, 2}, {4, 5, 4, 5, 4, 5});
  // expanded views, as in PyTorch
  BOOST_CHECK_EQUAL(ij[0].stride(1), 0);
  BOOST_CHECK_EQUAL(ij[1].stride(0), 0);
  auto xy = meshgrid({x, y}, "xy");
  check_values(xy[0], {2, 3}, {1, 2, 3, 1, 2, 3});
  check_values(xy[1], {2, 3}, {4, 4, 4, 5, 5, 5});
  // three inputs with "xy": only the first two dims swap
  auto g3 = meshgrid({x, y, f64({6, 7})}, "xy");
  BOOST_CHECK(g3[2].shape() == (Shape{2, 3, 2}));
  check_values(g3[0], {2, 3, 2}, {1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3});
  check_values(g3[1], {2, 3, 2}, {4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5});
  // one input, 0-d inputs (size 1), "xy" with one input changes nothing
  check_values(meshgrid({x}, "xy")[0], {3}, {1, 2, 3});
  auto z = meshgrid({scalar_tensor(9.0, dtype(float64)), y});
  check_values(z[0], {1, 2}, {9, 9});
  check_values(z[1], {1, 2}, {4, 5});
  // other dtypes, empty inputs
  auto ints = meshgrid({i64({1, 2}), i64({3})});
  BOOST_CHECK(ints[0].dtype() == int64);
  check_values(ints[1], {2, 1}, {3, 3});
  BOOST_CHECK(meshgrid({zeros({0}), zeros({2})})[1].shape() == (Shape{0, 2}));
  // gradient of X: summed over the broadcast dim. L = sum(w * X) with X[i][j] = x_i gives
  // dL/dx_i = sum_j w[i][j]: w = [[1 2] [3 4] [5 6]] -> [3 7 11].
  check_values(grad_of([](const Tensor& t) { return meshgrid({t, f64({0, 0})})[0]; }, x, f64({{1, 2}, {3, 4}, {5, 6}})),
               {3}, {3, 7, 11});
  check_values(grad_of([](const Tensor& t) { return meshgrid({t, f64({0, 0})}, "xy")[0]; }, x,
                       f64({{1, 2, 3}, {4, 5, 6}})),
               {3}, {5, 7, 9});
}

BOOST_AUTO_TEST_CASE(meshgrid_errors) {
  XGRAD_CHECK_THROW_MSG(meshgrid({}), "meshgrid: expected a non-empty list of tensors");
  XGRAD_CHECK_THROW_MSG(meshgrid({zeros({2}), zeros({2, 2})}),
                        "meshgrid: expected 0-d or 1-d tensors, but tensor 1 has shape [2, 2]");
  XGRAD_CHECK_THROW_MSG(meshgrid({zeros({2}), zeros({2}, dtype(int64))}),
                        "meshgrid: expected all tensors to have the same dtype, but tensor 0 is float32 and tensor 1 "
                        "is int64");
  XGRAD_CHECK_THROW_MSG(meshgrid({zeros({2})}, "ji"), "meshgrid: indexing must be \"ij\" or \"xy\", got \"ji\"");
  XGRAD_CHECK_THROW_MSG(meshgrid({zeros({2}), Tensor()}), "meshgrid");
}

// ---- pad: reflect, replicate, circular --------------------------------------------------------

BOOST_AUTO_TEST_CASE(pad_modes_1d) {
  const Tensor x = f64({1, 2, 3, 4});
  check_values(pad(x, {2, 1}, PadMode::reflect), {7}, {3, 2, 1, 2, 3, 4, 3});
  check_values(pad(x, {2, 1}, PadMode::replicate), {7}, {1, 1, 1, 2, 3, 4, 4});
  check_values(pad(x, {2, 1}, PadMode::circular), {7}, {3, 4, 1, 2, 3, 4, 1});
  check_values(pad(x, {2, 1}, PadMode::constant, 9.0), {7}, {9, 9, 1, 2, 3, 4, 9});
  check_values(pad(x, {2, 1}, PadMode::constant), {7}, bits(pad(x, {2, 1})));
  // the largest pads each mode allows
  check_values(pad(x, {3, 3}, PadMode::reflect), {10}, {4, 3, 2, 1, 2, 3, 4, 3, 2, 1});
  check_values(pad(x, {4, 4}, PadMode::circular), {12}, {1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4});
  check_values(pad(x, {0, 5}, PadMode::replicate), {9}, {1, 2, 3, 4, 4, 4, 4, 4, 4});
  check_values(pad(f64({5}), {3, 2}, PadMode::replicate), {6}, {5, 5, 5, 5, 5, 5});
  // zero pads: a copy
  Tensor c = pad(x, {0, 0}, PadMode::reflect);
  c.fill_(0.0);
  check_values(x, {4}, {1, 2, 3, 4});
}

BOOST_AUTO_TEST_CASE(pad_modes_2d) {
  // PyTorch's ReflectionPad2d(2) / ReplicationPad2d(2) doc examples on arange(9) in [1, 1, 3, 3]
  const Tensor x = iota({1, 1, 3, 3});
  check_values(pad(x, {2, 2, 2, 2}, PadMode::reflect), {1, 1, 7, 7},
               {8, 7, 6, 7, 8, 7, 6, 5, 4, 3, 4, 5, 4, 3, 2, 1, 0, 1, 2, 1, 0, 5, 4, 3, 4,
                5, 4, 3, 8, 7, 6, 7, 8, 7, 6, 5, 4, 3, 4, 5, 4, 3, 2, 1, 0, 1, 2, 1, 0});
  check_values(pad(x, {2, 2, 2, 2}, PadMode::replicate), {1, 1, 7, 7},
               {0, 0, 0, 1, 2, 2, 2, 0, 0, 0, 1, 2, 2, 2, 0, 0, 0, 1, 2, 2, 2, 3, 3, 3, 4,
                5, 5, 5, 6, 6, 6, 7, 8, 8, 8, 6, 6, 6, 7, 8, 8, 8, 6, 6, 6, 7, 8, 8, 8});
  check_values(pad(x, {1, 1, 1, 1}, PadMode::circular), {1, 1, 5, 5},
               {8, 6, 7, 8, 6, 2, 0, 1, 2, 0, 5, 3, 4, 5, 3, 8, 6, 7, 8, 6, 2, 0, 1, 2, 0});
  // different pads per side and dim, on a transposed input: [[0 3 6] [1 4 7] [2 5 8]]
  check_values(pad(iota({3, 3}).t(), {1, 0, 0, 1}, PadMode::reflect), {4, 4},
               {3, 0, 3, 6, 4, 1, 4, 7, 5, 2, 5, 8, 4, 1, 4, 7});
  // only the last dim padded; an empty batch dim
  check_values(pad(iota({2, 2}), {1, 1}, PadMode::circular), {2, 4}, {1, 0, 1, 0, 3, 2, 3, 2});
  BOOST_CHECK(pad(zeros({0, 3}), {1, 1}, PadMode::reflect).shape() == (Shape{0, 5}));
  // any number of padded dims (PyTorch: at most 3): all three dims of a [2, 2, 2]
  const Tensor r3 = pad(iota({2, 2, 2}), {1, 0, 1, 0, 1, 0}, PadMode::replicate);
  BOOST_CHECK(r3.shape() == (Shape{3, 3, 3}));
  check_values(r3.select(0, 0), {3, 3}, {0, 0, 1, 0, 0, 1, 2, 2, 3});
}

BOOST_AUTO_TEST_CASE(pad_modes_dtypes) {
  check_values(pad(i64({1, 2, 3}), {1, 1}, PadMode::reflect), {5}, {2, 1, 2, 3, 2});
  const Tensor p32 = pad(i32({1, 2, 3}), {1, 1}, PadMode::circular);
  BOOST_CHECK(p32.dtype() == int32);
  check_values(p32, {5}, {3, 1, 2, 3, 1});
  const Tensor b = pad(from_vector<bool>({true, false}, {2}), {0, 2}, PadMode::replicate);
  BOOST_CHECK(b.to_vector<bool>() == (std::vector<bool>{true, false, false, false}));
}

BOOST_AUTO_TEST_CASE(pad_modes_hand_gradient) {
  const Tensor x = f64({1, 2, 3});
  // reflect {1, 1}: y = [x1 x0 x1 x2 x1], dL/dx = [w1, w0 + w2 + w4, w3] = [2, 1 + 3 + 5, 4]
  check_values(grad_of([](const Tensor& t) { return pad(t, {1, 1}, PadMode::reflect); }, x, f64({1, 2, 3, 4, 5})), {3},
               {2, 9, 4});
  // replicate {2, 1}: y = [x0 x0 x0 x1 x2 x2], dL/dx = [w0 + w1 + w2, w3, w4 + w5] = [6, 4, 11]
  check_values(grad_of([](const Tensor& t) { return pad(t, {2, 1}, PadMode::replicate); }, x,
                       f64({1, 2, 3, 4, 5, 6})),
               {3}, {6, 4, 11});
  // circular {1, 2}: y = [x2 x0 x1 x2 x0 x1], dL/dx = [w1 + w4, w2 + w5, w0 + w3] = [7, 9, 5]
  check_values(grad_of([](const Tensor& t) { return pad(t, {1, 2}, PadMode::circular); }, x,
                       f64({1, 2, 3, 4, 5, 6})),
               {3}, {7, 9, 5});
  // second derivative: L = sum(pad(x)^2) with reflect {1, 1}: dL/dx = [2 x0, 6 x1, 2 x2] (x1 is
  // read three times), d/dx of sum(dL/dx) = [2, 6, 2].
  Tensor xl = x.clone().requires_grad_(true);
  auto g = autograd::grad({sum(pow(pad(xl, {1, 1}, PadMode::reflect), 2.0))}, {xl}, {}, {.create_graph = true});
  check_values(g[0], {3}, {2, 12, 6});
  auto gg = autograd::grad({sum(g[0])}, {xl});
  check_values(gg[0], {3}, {2, 6, 2});
  check_gradgradcheck([](const Ts& t) { return pad(t[0], {2, 1, 1, 2}, PadMode::reflect); }, {rand64({3, 4})});
}

BOOST_AUTO_TEST_CASE(pad_modes_errors) {
  XGRAD_CHECK_THROW_MSG(pad(zeros({2, 3}), {3, 0}, PadMode::reflect),
                        "pad: reflect padding (3, 0) of dim 1 must be smaller than the dim's size, got size 3 (input "
                        "shape [2, 3], pad [3, 0])");
  XGRAD_CHECK_THROW_MSG(pad(zeros({2, 3}), {0, 0, 1, 2}, PadMode::reflect), "reflect padding (1, 2) of dim 0");
  XGRAD_CHECK_THROW_MSG(pad(zeros({2, 0}), {1, 0}, PadMode::replicate),
                        "pad: replicate padding (1, 0) of dim 1 needs a non-empty dim, got size 0");
  XGRAD_CHECK_THROW_MSG(pad(zeros({3}), {1, 4}, PadMode::circular),
                        "pad: circular padding (1, 4) of dim 0 must not exceed the dim's size (it would wrap around "
                        "more than once), got size 3");
  XGRAD_CHECK_THROW_MSG(pad(zeros({3}), {1, 1}, PadMode::reflect, 1.5),
                        "pad: padding mode \"reflect\" does not take a value (got 1.5)");
  XGRAD_CHECK_THROW_MSG(pad(zeros({3}), {1}, PadMode::replicate), "pad: padding length must be even");
  XGRAD_CHECK_THROW_MSG(pad(zeros({3}), {1, 1, 1, 1}, PadMode::circular),
                        "has 2 pairs but the tensor of shape [3] has only 1 dims");
  XGRAD_CHECK_THROW_MSG(pad(zeros({3}), {-1, 1}, PadMode::reflect), "pad: negative padding -1 is not supported");
  XGRAD_CHECK_THROW_MSG(pad(zeros({3}), {INT64_MAX, 1}, PadMode::replicate), "overflows the size of dim 0");
  XGRAD_CHECK_THROW_MSG(pad(zeros({3}), {INT64_MAX, 1}), "overflows the size of dim 0");
}

// ---- every parallel kernel: bit-identical at 1 and 2 threads ----------------------------------

BOOST_AUTO_TEST_CASE(thread_count_does_not_change_results) {
  manual_seed(7);
  const Tensor x = randn({260, 270}, dtype(float64));  // above the grain: split across tasks
  const Tensor w = randn({260, 270}, dtype(float64));
  const std::vector<std::function<Tensor(const Tensor&)>> ops = {
      [](const Tensor& t) { return tril(t, 3); },
      [](const Tensor& t) { return triu(t.t(), -2).t(); },
      [](const Tensor& t) { return repeat(t, {2, 1}).narrow(0, 0, 260); },
      [](const Tensor& t) { return repeat_interleave(t, 2, 1).slice(1, 1, 540, 2); },
      [](const Tensor& t) { return roll(t.t(), {5, -7}, {0, 1}).t(); },
      [](const Tensor& t) { return flip(t.t(), {0, 1}).t(); },
      [](const Tensor& t) { return pad(t, {2, 2, 3, 3}, PadMode::reflect).narrow(0, 3, 260).narrow(1, 2, 270); },
      [](const Tensor& t) { return pad(t, {4, 4}, PadMode::replicate).narrow(1, 0, 270); },
  };
  const int before = get_num_threads();
  for (std::size_t k = 0; k < ops.size(); ++k) {
    std::vector<std::vector<double>> out, grad;
    for (int n : {1, 2}) {
      set_num_threads(n);
      Tensor xl = x.clone().requires_grad_(true);
      Tensor y = ops[k](xl);
      sum(y * w).backward();
      out.push_back(bits(y));
      grad.push_back(bits(xl.grad()));
    }
    BOOST_CHECK_MESSAGE(out[0] == out[1], "op " << k << ": values differ between 1 and 2 threads");
    BOOST_CHECK_MESSAGE(grad[0] == grad[1], "op " << k << ": gradients differ between 1 and 2 threads");
  }
  set_num_threads(before);
  // one_hot
  const Tensor labels = randint(0, 10, {20000});
  std::vector<std::vector<std::int64_t>> oh;
  for (int n : {1, 2}) {
    set_num_threads(n);
    oh.push_back(one_hot(labels, 10).to_vector<std::int64_t>());
  }
  set_num_threads(before);
  BOOST_CHECK(oh[0] == oh[1]);
}

BOOST_AUTO_TEST_SUITE_END()
