// Masking and selection (masking.hpp) and tensor indices in indexing.hpp (bool masks, integer
// index tensors, index_put_ with accumulate): values against hand-worked results and loop
// references, hand-derived gradients, in-place rules, determinism at 1 and 2 threads, and
// error messages. Gradcheck and gradgradcheck on every layout: test_op_db_selection.cpp.
#include <numeric>

#include "test_util.hpp"
#include "xgrad/autograd/masking.hpp"

using namespace xgrad;
using xgrad::indexing::Ellipsis;
using xgrad::indexing::None;
using xgrad::indexing::Slice;
using xgrad::test::check_gradcheck;
using xgrad::test::check_values;
using xgrad::test::rand64;

namespace {

using Ts = std::vector<Tensor>;
using TI = xgrad::indexing::TensorIndex;

Tensor f64(const std::vector<double>& v, const Shape& s) { return from_vector(v, s); }
Tensor i64(const std::vector<std::int64_t>& v, const Shape& s) { return from_vector(v, s); }
Tensor bmask(const std::vector<double>& v, const Shape& s) { return from_vector(v, s).to(boolean); }
Tensor leaf(const std::vector<double>& v, const Shape& s) { return from_vector(v, s).requires_grad_(true); }

struct ThreadsGuard {
  int before = get_num_threads();
  ~ThreadsGuard() { set_num_threads(before); }
};

// f() at 1 and at 2 threads gives the same bits.
void check_same_bits_1_2_threads(const std::function<Tensor()>& f) {
  ThreadsGuard g;
  set_num_threads(1);
  const Tensor a = f();
  set_num_threads(2);
  const Tensor b = f();
  BOOST_REQUIRE(a.shape() == b.shape());
  const Tensor ac = a.contiguous(), bc = b.contiguous();
  BOOST_REQUIRE(a.dtype() == b.dtype());
  const auto n = static_cast<std::size_t>(a.numel()) * dtype_size(a.dtype());
  BOOST_CHECK(std::memcmp(ac.impl()->storage->data + ac.storage_offset() * dtype_size(a.dtype()),
                          bc.impl()->storage->data + bc.storage_offset() * dtype_size(b.dtype()), n) == 0);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(masking)

// ---- masked_fill ------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(masked_fill_values) {
  const Tensor t = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  const Tensor m = bmask({1, 0, 1, 0, 0, 1}, {2, 3});
  check_values(masked_fill(t, m, -1.0), {2, 3}, {-1, 2, -1, 4, 5, -1});
  // mask broadcast over rows; t broadcast against a larger mask
  check_values(masked_fill(t, bmask({0, 1, 0}, {3}), 9.0), {2, 3}, {1, 9, 3, 4, 9, 6});
  check_values(masked_fill(f64({1, 2, 3}, {3}), m, 0.0), {2, 3}, {0, 2, 0, 1, 2, 0});
  // 0-d tensor and 0-d mask
  check_values(masked_fill(scalar_tensor(4.0), scalar_tensor(1.0).to(boolean), 7.0), {}, {7});
  // empty
  BOOST_CHECK(masked_fill(zeros({0, 3}), bmask({1, 1, 1}, {3}), 1.0).shape() == (Shape{0, 3}));
  // dtypes: int64 (integers only), bool (nonzero is true), float32
  const Tensor ti = i64({1, 2, 3}, {3});
  BOOST_CHECK(masked_fill(ti, bmask({0, 1, 0}, {3}), -7.0).to_vector<std::int64_t>() ==
              (std::vector<std::int64_t>{1, -7, 3}));
  XGRAD_CHECK_THROW_MSG(masked_fill(ti, bmask({0, 1, 0}, {3}), 0.5), "masked_fill: the value 0.5 cannot be represented as int64");
  XGRAD_CHECK_THROW_MSG(masked_fill(ti.to(int32), bmask({0, 1, 0}, {3}), 1e10), "masked_fill: the value 10000000000 cannot be represented as int32");
  const Tensor tb = bmask({0, 0, 1}, {3});
  BOOST_CHECK(masked_fill(tb, bmask({1, 0, 1}, {3}), 2.0).to_vector<bool>() == (std::vector<bool>{true, false, true}));
  BOOST_CHECK(masked_fill(t.to(float32), m, 0.5).dtype() == float32);
  // a 0-d tensor value, converted to t's dtype
  check_values(masked_fill(t, m, scalar_tensor(2.5, dtype(float32))), {2, 3}, {2.5, 2, 2.5, 4, 5, 2.5});
  BOOST_CHECK(masked_fill(ti, bmask({0, 1, 0}, {3}), scalar_tensor(5.0, dtype(int64))).to_vector<std::int64_t>() ==
              (std::vector<std::int64_t>{1, 5, 3}));
}

BOOST_AUTO_TEST_CASE(masked_fill_errors) {
  const Tensor t = zeros({2, 3});
  XGRAD_CHECK_THROW_MSG(masked_fill(t, ones({2, 3}), 1.0),
                        "masked_fill: expected a bool mask, got float32 (mask shape [2, 3])");
  XGRAD_CHECK_THROW_MSG(masked_fill(t, bmask({1, 0}, {2}), 1.0),
                        "masked_fill: shapes [2, 3] and [2] cannot be broadcast");
  XGRAD_CHECK_THROW_MSG(masked_fill(t, bmask({1, 0, 1}, {3}), zeros({1})),
                        "masked_fill: only supports a 0-dimensional value tensor, but got a value of shape [1]");
  XGRAD_CHECK_THROW_MSG(masked_fill(Tensor(), bmask({1}, {1}), 1.0), "masked_fill");
  Tensor x = zeros({3});
  XGRAD_CHECK_THROW_MSG(
      masked_fill_(x, bmask({1, 0, 1, 1, 0, 1}, {2, 3}), 1.0),
      "masked_fill_: mask of shape [2, 3] cannot be broadcast to the shape [3] of the tensor being filled");
  XGRAD_CHECK_THROW_MSG(masked_fill_(x, i64({1, 0, 1}, {3}), 1.0), "masked_fill_: expected a bool mask, got int64");
}

// L = sum(w * masked_fill(x, m, 5)): dL/dx = w where m is false, 0 where it is true.
// With x [3] broadcast against m [2, 3]: dL/dx_j = sum_i w_ij (1 - m_ij).
// With a 0-d value v: dL/dv = sum of w over the masked positions.
BOOST_AUTO_TEST_CASE(masked_fill_gradient_by_hand) {
  const Tensor m = bmask({1, 0, 0, 0, 1, 1}, {2, 3});
  const Tensor w = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor x = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  (masked_fill(x, m, 5.0) * w).sum().backward();
  check_values(x.grad(), {2, 3}, {0, 2, 3, 4, 0, 0});
  Tensor xb = leaf({1, 2, 3}, {3});
  (masked_fill(xb, m, 5.0) * w).sum().backward();
  check_values(xb.grad(), {3}, {0 + 4, 2 + 0, 3 + 0});
  Tensor v = leaf({5}, {1});
  Tensor v0 = v.reshape({});
  Tensor x2 = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  (masked_fill(x2, m, v0) * w).sum().backward();
  check_values(v.grad(), {1}, {1 + 5 + 6});
  check_values(x2.grad(), {2, 3}, {0, 2, 3, 4, 0, 0});
  // float32 value into a float64 tensor: the gradient reaches the float32 leaf
  Tensor v32 = scalar_tensor(1.0, dtype(float32)).requires_grad_(true);
  (masked_fill(x2.detach(), m, v32) * w).sum().backward();
  check_values(v32.grad(), {}, {12});
  BOOST_CHECK(v32.grad().dtype() == float32);
  // no grad mode: nothing recorded
  {
    NoGradGuard ng;
    BOOST_CHECK(!masked_fill(x, m, 1.0).requires_grad());
  }
  check_gradcheck([m](const Ts& in) { return masked_fill(in[0], m, in[1]); }, {rand64({2, 3}), rand64({})});
}

// ---- masked_fill_ -----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(masked_fill_inplace) {
  Tensor t = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  const auto v0 = t.impl()->storage->version;
  Tensor& r = masked_fill_(t, bmask({0, 1, 0}, {3}), 0.0);
  BOOST_CHECK(r.is_same(t));
  check_values(t, {2, 3}, {1, 0, 3, 4, 0, 6});
  BOOST_CHECK(t.impl()->storage->version > v0);
  // through a transposed view, without autograd: the base changes
  Tensor tv = t.t();
  masked_fill_(tv, bmask({1, 0}, {2}), -1.0);
  check_values(t, {2, 3}, {-1, -1, -1, 4, 0, 6});
  // a bool tensor filled through a mask that is a view of itself
  Tensor bt = bmask({1, 0, 1, 1}, {2, 2});
  masked_fill_(bt, bt.select(0, 0), false);
  BOOST_CHECK(bt.to_vector<bool>() == (std::vector<bool>{false, false, false, true}));
  // in-place rules
  Tensor l = leaf({1, 2}, {2});
  XGRAD_CHECK_THROW_MSG(masked_fill_(l, bmask({1, 0}, {2}), 0.0), "masked_fill_: a leaf tensor that requires grad");
  Tensor lv = l.select(0, 0);
  XGRAD_CHECK_THROW_MSG(masked_fill_(lv, scalar_tensor(1.0).to(boolean), 0.0),
                        "view of a leaf tensor that requires grad");
  Tensor e = zeros({1, 3}).expand({2, 3});
  XGRAD_CHECK_THROW_MSG(masked_fill_(e, bmask({1, 0, 0}, {3}), 1.0), "refers to a single memory location");
  {
    NoGradGuard ng;
    masked_fill_(l, bmask({1, 0}, {2}), 0.0);
  }
  check_values(l, {2}, {0, 2});
}

// y = 2x; y.masked_fill_(m, 0); L = sum(y * w) -> dL/dx = 2 w (1 - m).
// Through a view: b = x.clone(); b.t().masked_fill_(m_t, 0) -> dL/dx = w (1 - m) in b's layout.
BOOST_AUTO_TEST_CASE(masked_fill_inplace_gradient_by_hand) {
  const Tensor w = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor x = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor y = x * 2.0;
  masked_fill_(y, bmask({0, 1, 1}, {3}), 0.0);
  BOOST_CHECK_EQUAL(y.grad_fn_name(), "MaskedFillBackward");
  (y * w).sum().backward();
  check_values(x.grad(), {2, 3}, {2, 0, 0, 8, 0, 0});
  Tensor x2 = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = x2.clone();
  Tensor bt = b.t();  // [3, 2]; mask [3, 1] hits rows 0 and 2 of b.t() = columns 0 and 2 of b
  masked_fill_(bt, bmask({1, 0, 1}, {3, 1}), 0.0);
  check_values(b, {2, 3}, {0, 2, 0, 0, 5, 0});
  BOOST_CHECK_EQUAL(b.grad_fn_name(), "CopySlices");
  (b * w).sum().backward();
  check_values(x2.grad(), {2, 3}, {0, 2, 0, 0, 5, 0});
  // a tensor saved for backward and then filled in place: the version error
  Tensor x3 = leaf({1, 2}, {2});
  Tensor s = exp(x3);
  masked_fill_(s, bmask({1, 0}, {2}), 0.0);
  XGRAD_CHECK_THROW_MSG(s.sum().backward(), "modified by an in-place operation");
}

// ---- masked_select / masked_scatter -------------------------------------------------------------

BOOST_AUTO_TEST_CASE(masked_select_values) {
  const Tensor t = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  check_values(masked_select(t, bmask({1, 0, 1, 0, 0, 1}, {2, 3})), {3}, {1, 3, 6});
  check_values(masked_select(t, bmask({0, 1, 1}, {3})), {4}, {2, 3, 5, 6});
  check_values(masked_select(f64({1, 2, 3}, {3}), bmask({1, 0, 0, 0, 1, 1}, {2, 3})), {3}, {1, 2, 3});
  check_values(masked_select(t.t(), bmask({1, 0, 0, 1, 1, 0}, {3, 2})), {3}, {1, 5, 3});
  check_values(masked_select(t, bmask({0, 0, 0}, {3})), {0}, {});
  check_values(masked_select(scalar_tensor(3.0), scalar_tensor(1.0).to(boolean)), {1}, {3});
  BOOST_CHECK(masked_select(i64({4, 5}, {2}), bmask({0, 1}, {2})).to_vector<std::int64_t>() ==
              (std::vector<std::int64_t>{5}));
  XGRAD_CHECK_THROW_MSG(masked_select(t, t), "masked_select: expected a bool mask, got float64");
  XGRAD_CHECK_THROW_MSG(masked_select(t, bmask({1, 0}, {2})), "masked_select: shapes [2, 3] and [2]");
}

// out = x[m] (m = [1,0,1 / 0,1,0]); L = sum(out * [1, 2, 3]) -> dL/dx = [1,0,2 / 0,3,0].
// x [3] broadcast over m's rows: dL/dx_j = sum over the rows where m_ij: [1, 3, 2].
BOOST_AUTO_TEST_CASE(masked_select_gradient_by_hand) {
  const Tensor m = bmask({1, 0, 1, 0, 1, 0}, {2, 3});
  Tensor x = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  (masked_select(x, m) * f64({1, 2, 3}, {3})).sum().backward();
  check_values(x.grad(), {2, 3}, {1, 0, 2, 0, 3, 0});
  Tensor xb = leaf({1, 2, 3}, {3});
  (masked_select(xb, m) * f64({1, 2, 3}, {3})).sum().backward();
  check_values(xb.grad(), {3}, {1, 3, 2});
}

BOOST_AUTO_TEST_CASE(masked_scatter_values) {
  const Tensor t = zeros({2, 3}, dtype(float64));
  const Tensor m = bmask({1, 0, 1, 0, 1, 1}, {2, 3});
  // PyTorch's docstring example shape: source read flat, row-major
  check_values(masked_scatter(t, m, f64({1, 2, 3, 4, 5, 6}, {2, 3})), {2, 3}, {1, 0, 2, 0, 3, 4});
  check_values(masked_scatter(f64({7, 8, 9}, {3}), m, f64({1, 2, 3, 4}, {4})), {2, 3}, {1, 8, 2, 7, 3, 4});
  check_values(masked_scatter(t, m, f64({1, 2, 3, 4, 5, 6}, {3, 2}).t()), {2, 3}, {1, 0, 3, 0, 5, 2});
  check_values(masked_scatter(t, bmask({0, 0, 0}, {3}), zeros({0}, dtype(float64))), {2, 3}, {0, 0, 0, 0, 0, 0});
  XGRAD_CHECK_THROW_MSG(masked_scatter(t, m, f64({1, 2, 3}, {3})),
                        "masked_scatter: number of elements of source (3, shape [3]) < number of ones in mask (4");
  XGRAD_CHECK_THROW_MSG(masked_scatter(t, m, zeros({4})),
                        "masked_scatter: expected self and source to have the same dtype, got float64");
  XGRAD_CHECK_THROW_MSG(masked_scatter(t, m.to(int64), zeros({4})), "masked_scatter: expected a bool mask, got int64");
}

// out = masked_scatter(x, m, s), m = [1,0,1 / 0,1,1], s [2, 3]: out = [s0,x1,s1 / x3,s2,s3];
// L = sum(out * w), w = 1..6 -> dL/dx = [0,2,0 / 4,0,0]; dL/ds = [w0,w2,w4,w5, 0, 0] = [1,3,5,6,0,0].
BOOST_AUTO_TEST_CASE(masked_scatter_gradient_by_hand) {
  const Tensor m = bmask({1, 0, 1, 0, 1, 1}, {2, 3});
  Tensor x = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor s = leaf({10, 20, 30, 40, 50, 60}, {2, 3});
  (masked_scatter(x, m, s) * f64({1, 2, 3, 4, 5, 6}, {2, 3})).sum().backward();
  check_values(x.grad(), {2, 3}, {0, 2, 0, 4, 0, 0});
  check_values(s.grad(), {2, 3}, {1, 3, 5, 6, 0, 0});
}

// ---- nonzero ----------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(nonzero_values) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const Tensor t = f64({0, 1.5, 0, nan, -2, 0}, {2, 3});
  const Tensor nz = nonzero(t);
  BOOST_CHECK(nz.dtype() == int64);
  BOOST_CHECK(nz.shape() == (Shape{3, 2}));
  BOOST_CHECK(nz.to_vector<std::int64_t>() == (std::vector<std::int64_t>{0, 1, 1, 0, 1, 1}));
  BOOST_CHECK(nonzero(t.t()).to_vector<std::int64_t>() == (std::vector<std::int64_t>{0, 1, 1, 0, 1, 1}));
  BOOST_CHECK(nonzero(i64({0, 3, 0, 4}, {4})).to_vector<std::int64_t>() == (std::vector<std::int64_t>{1, 3}));
  BOOST_CHECK(nonzero(i64({0, 3, 0, 4}, {4}).to(int32)).shape() == (Shape{2, 1}));
  BOOST_CHECK(nonzero(bmask({1, 0, 1}, {3})).to_vector<std::int64_t>() == (std::vector<std::int64_t>{0, 2}));
  BOOST_CHECK(nonzero(zeros({2, 2})).shape() == (Shape{0, 2}));
  BOOST_CHECK(nonzero(zeros({0, 4})).shape() == (Shape{0, 2}));
  BOOST_CHECK(nonzero(scalar_tensor(3.0)).shape() == (Shape{1, 0}));
  BOOST_CHECK(nonzero(scalar_tensor(0.0)).shape() == (Shape{0, 0}));
  const auto cols = nonzero_tuple(t);
  BOOST_REQUIRE_EQUAL(cols.size(), 2u);
  BOOST_CHECK(cols[0].to_vector<std::int64_t>() == (std::vector<std::int64_t>{0, 1, 1}));
  BOOST_CHECK(cols[1].to_vector<std::int64_t>() == (std::vector<std::int64_t>{1, 0, 1}));
  const auto c0 = nonzero_tuple(scalar_tensor(2.0));
  BOOST_REQUIRE_EQUAL(c0.size(), 1u);
  BOOST_CHECK(c0[0].to_vector<std::int64_t>() == (std::vector<std::int64_t>{0}));
  // not differentiable
  BOOST_CHECK(!nonzero(rand64({3})).requires_grad());
  XGRAD_CHECK_THROW_MSG(nonzero(Tensor()), "nonzero");
}

// Selections over several chunks (kGrain = 32768 elements): a loop reference, and the same
// bits at 1 and 2 threads.
BOOST_AUTO_TEST_CASE(large_selections_match_loops_and_threads) {
  manual_seed(7);
  const Shape s{300, 401};
  const Tensor x = randn(s, dtype(float64));
  const Tensor m = (rand(s) < 0.3).to(boolean);
  const auto xv = x.to_vector<double>();
  const auto mv = m.to_vector<bool>();
  std::vector<double> sel;
  std::vector<std::int64_t> nz;
  for (std::size_t i = 0; i < xv.size(); ++i)
    if (mv[i]) {
      sel.push_back(xv[i]);
      nz.push_back(static_cast<std::int64_t>(i) / 401);
      nz.push_back(static_cast<std::int64_t>(i) % 401);
    }
  check_values(masked_select(x, m), {static_cast<std::int64_t>(sel.size())}, sel, 0.0);
  BOOST_CHECK(nonzero(m).to_vector<std::int64_t>() == nz);
  const Tensor src = randn({static_cast<std::int64_t>(sel.size())}, dtype(float64));
  const Tensor back = masked_select(masked_scatter(zeros(s, dtype(float64)), m, src), m);
  check_values(back, src.shape(), src.to_vector<double>(), 0.0);
  check_same_bits_1_2_threads([&] { return masked_select(x, m); });
  check_same_bits_1_2_threads([&] { return nonzero(m); });
  check_same_bits_1_2_threads([&] { return masked_scatter(x, m, src); });
  check_same_bits_1_2_threads([&] { return masked_fill(x, m, 1.0); });
}

// ---- t.index({...}) with tensor indices ---------------------------------------------------------

BOOST_AUTO_TEST_CASE(index_with_masks_and_index_tensors) {
  const Tensor t = f64({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, {3, 4});
  const Tensor m34 = bmask({1, 0, 0, 1, 0, 1, 1, 0, 0, 0, 0, 1}, {3, 4});
  // a full-shape mask is masked_select
  check_values(t.index({m34}), {5}, {0, 3, 5, 6, 11});
  // a mask over the leading dim picks rows; after a slice it picks columns
  check_values(t.index({bmask({1, 0, 1}, {3})}), {2, 4}, {0, 1, 2, 3, 8, 9, 10, 11});
  check_values(t.index({Slice(), bmask({0, 1, 0, 1}, {4})}), {3, 2}, {1, 3, 5, 7, 9, 11});
  check_values(t.index({Ellipsis, bmask({0, 1, 0, 1}, {4})}), {3, 2}, {1, 3, 5, 7, 9, 11});
  // a mask over the last two dims of a 3-d tensor
  const Tensor t3 = f64({0, 1, 2, 3, 4, 5, 6, 7}, {2, 2, 2});
  check_values(t3.index({Slice(), bmask({1, 0, 0, 1}, {2, 2})}), {2, 2}, {0, 3, 4, 7});
  // on a transposed view (the merged dims cannot be viewed: copied)
  check_values(t.t().index({bmask({1, 0, 0, 1, 0, 1, 1, 0, 0, 0, 0, 1}, {4, 3})}), {5}, {0, 1, 9, 2, 11});
  // 0-d masks add a dim of size 1 or 0
  BOOST_CHECK(t.index({scalar_tensor(1.0).to(boolean)}).shape() == (Shape{1, 3, 4}));
  BOOST_CHECK(t.index({scalar_tensor(0.0).to(boolean)}).shape() == (Shape{0, 3, 4}));
  // integer index tensors: negative values wrap, any shape, int32 too
  check_values(t.index({i64({-1, 0}, {2})}), {2, 4}, {8, 9, 10, 11, 0, 1, 2, 3});
  check_values(t.index({i64({2, -3, 1, 1}, {2, 2})}).select(2, 0), {2, 2}, {8, 0, 4, 4});
  check_values(t.index({Slice(), i64({3, 1}, {2}).to(int32)}), {3, 2}, {3, 1, 7, 5, 11, 9});
  check_values(t.index({1, scalar_tensor(2.0, dtype(int64))}), {}, {6});
  // empty index tensors and masks with nothing true
  BOOST_CHECK(t.index({zeros({0}, dtype(int64))}).shape() == (Shape{0, 4}));
  BOOST_CHECK(t.index({Slice(), bmask({0, 0, 0, 0}, {4})}).shape() == (Shape{3, 0}));
  // errors
  XGRAD_CHECK_THROW_MSG(
      t.index({bmask({1, 0}, {2})}),
      "index: the shape of the mask [2] at index 0 does not match the shape of the indexed tensor [3, 4] at index 0");
  XGRAD_CHECK_THROW_MSG(t.index({i64({3}, {1})}), "index: index 3 is out of bounds for dimension 0 with size 3");
  XGRAD_CHECK_THROW_MSG(t.index({i64({-4}, {1})}), "index: index -4 is out of bounds for dimension 0 with size 3");
  XGRAD_CHECK_THROW_MSG(t.index({f64({0}, {1})}),
                        "index: tensors used as indices must be int64, int32 or bool tensors");
  XGRAD_CHECK_THROW_MSG(t.index({m34, 0}), "too many indices");
  XGRAD_CHECK_THROW_MSG(t.index({i64({0}, {1}), i64({0}, {1})}), "at most one index tensor");
}

// out = x[m] with m a row mask [1,0,1]; L = sum(out * w) -> dL/dx = rows 0 and 2 get w's rows.
BOOST_AUTO_TEST_CASE(index_mask_gradient_by_hand) {
  Tensor x = leaf({1, 2, 3, 4, 5, 6}, {3, 2});
  (x.index({bmask({1, 0, 1}, {3})}) * f64({1, 2, 3, 4}, {2, 2})).sum().backward();
  check_values(x.grad(), {3, 2}, {1, 2, 0, 0, 3, 4});
}

// ---- index_put_ ------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(index_put_accumulate_and_last_wins) {
  const Tensor idx = i64({0, 2, 0, -5}, {4});  // -5 wraps to 0: row 0 three times
  Tensor a = zeros({5}, dtype(float64));
  index_put_(a, {idx}, f64({1, 2, 3, 4}, {4}), true);
  check_values(a, {5}, {8, 0, 2, 0, 0});
  Tensor b = zeros({5}, dtype(float64));
  index_put_(b, {idx}, f64({1, 2, 3, 4}, {4}));
  check_values(b, {5}, {4, 0, 2, 0, 0});
  b.index_put_({idx}, f64({5, 6, 7, 8}, {4}));  // member form: accumulate = false
  check_values(b, {5}, {8, 0, 6, 0, 0});
  // along dim 1 of a 2-d tensor, a scalar value, an int tensor
  Tensor c = zeros({2, 3}, dtype(int64));
  index_put_(c, {Slice(), i64({1, 1, 2}, {3})}, 3.0, true);
  BOOST_CHECK(c.to_vector<std::int64_t>() == (std::vector<std::int64_t>{0, 6, 3, 0, 6, 3}));
  // masks: values broadcast to the selected elements
  Tensor d = zeros({2, 3}, dtype(float64));
  const Tensor m = bmask({1, 0, 1, 0, 1, 0}, {2, 3});
  index_put_(d, {m}, f64({1, 2, 3}, {3}));
  check_values(d, {2, 3}, {1, 0, 2, 0, 3, 0});
  index_put_(d, {m}, 10.0, true);
  check_values(d, {2, 3}, {11, 0, 12, 0, 13, 0});
  index_put_(d, {bmask({0, 1}, {2})}, f64({7, 8, 9}, {3}));
  check_values(d, {2, 3}, {11, 0, 12, 7, 8, 9});
  // through a transposed view: the base changes
  Tensor e = zeros({2, 3}, dtype(float64));
  Tensor et = e.t();
  index_put_(et, {i64({2, 2}, {2})}, f64({1, 2}, {2}), true);  // et[2] += [1, 2] twice
  check_values(e, {2, 3}, {0, 0, 2, 0, 0, 4});
  // a value that is a view of the target is read before the write
  Tensor f = f64({1, 2, 3}, {3});
  index_put_(f, {i64({2, 1, 0}, {3})}, f);
  check_values(f, {3}, {3, 2, 1});
  // an empty index writes nothing
  Tensor h = f64({1, 2}, {2});
  index_put_(h, {zeros({0}, dtype(int64))}, 5.0, true);
  index_put_(h, {bmask({0, 0}, {2})}, 5.0);
  check_values(h, {2}, {1, 2});
  // bool tensors: writes work, accumulation does not
  Tensor g = bmask({0, 0, 0}, {3});
  index_put_(g, {i64({1}, {1})}, 1.0);
  BOOST_CHECK(g.to_vector<bool>() == (std::vector<bool>{false, true, false}));
  XGRAD_CHECK_THROW_MSG(index_put_(g, {i64({1}, {1})}, 1.0, true), "index_put_: not supported for bool tensors");
}

BOOST_AUTO_TEST_CASE(index_put_errors_leave_the_tensor_unchanged) {
  Tensor a = f64({1, 2, 3}, {3});
  XGRAD_CHECK_THROW_MSG(index_put_(a, {i64({0, 3}, {2})}, 9.0),
                        "index_put_: index 3 is out of bounds for dimension 0 with size 3");
  XGRAD_CHECK_THROW_MSG(index_put_(a, {i64({0, -4}, {2})}, 9.0, true),
                        "index_put_: index -4 is out of bounds for dimension 0 with size 3");
  XGRAD_CHECK_THROW_MSG(
      index_put_(a, {i64({0, 1}, {2})}, f64({1, 2, 3}, {3})),
      "index_put_: shape mismatch: value tensor of shape [3] cannot be broadcast to indexing result of shape [2]");
  XGRAD_CHECK_THROW_MSG(index_put_(a, {bmask({1, 0}, {2})}, 1.0), "index_put_: the shape of the mask [2] at index 0");
  check_values(a, {3}, {1, 2, 3});
  Tensor l = leaf({1, 2, 3}, {3});
  XGRAD_CHECK_THROW_MSG(index_put_(l, {i64({0}, {1})}, 9.0), "index_put_: a leaf tensor that requires grad");
}

// buf = 0 [3]; buf[idx] = v with idx = [0, 2, 0]; L = sum(buf * [10, 20, 30]).
// Without accumulate buf = [v2, 0, v1]: dL/dv = [0, 30, 10] (v0 is overwritten by v2).
// With accumulate buf = [v0 + v2, 0, v1]: dL/dv = [10, 30, 10].
// Into y = 2x (x requires grad): positions written without accumulate lose x's gradient:
// dL/dx = 2 [0, 20, 0]; with accumulate they keep it: 2 [10, 20, 30].
BOOST_AUTO_TEST_CASE(index_put_gradient_by_hand) {
  const Tensor idx = i64({0, 2, 0}, {3});
  const Tensor w = f64({10, 20, 30}, {3});
  for (bool acc : {false, true}) {
    BOOST_TEST_CONTEXT("accumulate " << acc) {
      Tensor v = leaf({1, 2, 3}, {3});
      Tensor buf = zeros({3}, dtype(float64));
      index_put_(buf, {idx}, v, acc);
      check_values(buf, {3}, acc ? std::vector<double>{4, 0, 2} : std::vector<double>{3, 0, 2});
      (buf * w).sum().backward();
      check_values(v.grad(), {3}, acc ? std::vector<double>{10, 30, 10} : std::vector<double>{0, 30, 10});
      Tensor x = leaf({1, 2, 3}, {3});
      Tensor y = x * 2.0;
      index_put_(y, {idx}, v.detach(), acc);
      (y * w).sum().backward();
      check_values(x.grad(), {3}, acc ? std::vector<double>{20, 40, 60} : std::vector<double>{0, 40, 0});
    }
  }
  // a 2-d mask (masked_scatter path): b = x.clone(); b[m] = v; L = sum(b * w)
  // -> dL/dx = w where m is false; dL/dv = w at the masked positions in order.
  const Tensor m = bmask({0, 1, 1, 0}, {2, 2});
  Tensor x = leaf({1, 2, 3, 4}, {2, 2});
  Tensor v = leaf({5, 6}, {2});
  Tensor bb = x.clone();
  index_put_(bb, {m}, v);
  check_values(bb, {2, 2}, {1, 5, 6, 4});
  (bb * f64({1, 2, 3, 4}, {2, 2})).sum().backward();
  check_values(x.grad(), {2, 2}, {1, 0, 0, 4});
  check_values(v.grad(), {2}, {2, 3});
}

// Many duplicates: the sums are formed in index order by one task per column, whatever the
// thread count.
BOOST_AUTO_TEST_CASE(index_put_accumulate_deterministic) {
  manual_seed(3);
  const Tensor idx = randint(0, 4, {400});
  const Tensor v = randn({400, 3000});
  check_same_bits_1_2_threads([&] {
    Tensor t = zeros({4, 3000});
    index_put_(t, {idx}, v, true);
    return t;
  });
  check_same_bits_1_2_threads([&] {
    Tensor t = zeros({3000, 4});
    Tensor tt = t.t();
    index_put_(tt, {idx}, v, true);
    return t;
  });
  // against a loop in index order (float32 sums in that order)
  Tensor t = zeros({4, 3000});
  index_put_(t, {idx}, v, true);
  const auto iv = idx.to_vector<std::int64_t>();
  const auto vv = v.to_vector<float>();
  std::vector<float> want(4 * 3000, 0.0f);
  for (std::size_t i = 0; i < iv.size(); ++i)
    for (std::size_t q = 0; q < 3000; ++q) want[static_cast<std::size_t>(iv[i]) * 3000 + q] += vv[i * 3000 + q];
  BOOST_CHECK(t.to_vector<float>() == want);
}

BOOST_AUTO_TEST_SUITE_END()
