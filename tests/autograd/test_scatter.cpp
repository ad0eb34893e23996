// scatter.hpp (scatter, scatter_reduce, take_along_dim, index_add) and shape.hpp's
// scatter_add: values against PyTorch's documented examples and loop references, hand-derived
// gradients (ties, zeros, duplicates), determinism at 1 and 2 threads with many duplicates,
// and error messages. Gradcheck and gradgradcheck on every layout: test_op_db_selection.cpp.
#include <cstring>
#include <map>

#include "test_util.hpp"
#include "xgrad/autograd/scatter.hpp"

using namespace xgrad;
using xgrad::test::check_gradcheck;
using xgrad::test::check_values;
using xgrad::test::rand64;

namespace {

using Ts = std::vector<Tensor>;

Tensor f64(const std::vector<double>& v, const Shape& s) { return from_vector(v, s); }
Tensor i64(const std::vector<std::int64_t>& v, const Shape& s) { return from_vector(v, s); }
Tensor leaf(const std::vector<double>& v, const Shape& s) { return from_vector(v, s).requires_grad_(true); }

struct ThreadsGuard {
  int before = get_num_threads();
  ~ThreadsGuard() { set_num_threads(before); }
};

void check_same_bits_1_2_threads(const std::function<Tensor()>& f) {
  ThreadsGuard g;
  set_num_threads(1);
  const Tensor a = f().contiguous();
  set_num_threads(2);
  const Tensor b = f().contiguous();
  BOOST_REQUIRE(a.shape() == b.shape() && a.dtype() == b.dtype());
  const std::size_t es = dtype_size(a.dtype());
  BOOST_CHECK(std::memcmp(a.impl()->storage->data + a.storage_offset() * es,
                          b.impl()->storage->data + b.storage_offset() * es,
                          static_cast<std::size_t>(a.numel()) * es) == 0);
}

// scatter_reduce on doubles by loops over a 2-d self, dim 0 or 1 (the reference).
std::vector<double> reduce_ref(const std::vector<double>& self, const Shape& ss, std::int64_t dim,
                               const std::vector<std::int64_t>& idx, const Shape& is, const std::vector<double>& src,
                               const Shape& rs, const std::string& r, bool include_self, bool floor_mean) {
  std::map<std::int64_t, std::vector<double>> parts;  // target -> scattered values in order
  for (std::int64_t i = 0; i < is[0]; ++i)
    for (std::int64_t j = 0; j < is[1]; ++j) {
      const std::int64_t k = idx[static_cast<std::size_t>(i * is[1] + j)];
      const std::int64_t t = dim == 0 ? k * ss[1] + j : i * ss[1] + k;
      parts[t].push_back(src[static_cast<std::size_t>(i * rs[1] + j)]);
    }
  std::vector<double> out = self;
  for (auto& [t, vals] : parts) {
    std::vector<double> all = vals;
    if (include_self) all.insert(all.begin(), self[static_cast<std::size_t>(t)]);
    double acc = r == "prod" ? 1.0 : 0.0;
    if (r == "amax") acc = -INFINITY;
    if (r == "amin") acc = INFINITY;
    for (double v : all) {
      if (r == "sum" || r == "mean") acc += v;
      if (r == "prod") acc *= v;
      if (r == "amax") acc = std::max(acc, v);
      if (r == "amin") acc = std::min(acc, v);
    }
    if (r == "mean")
      acc = floor_mean ? std::floor(acc / static_cast<double>(all.size())) : acc / static_cast<double>(all.size());
    out[static_cast<std::size_t>(t)] = acc;
  }
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(scatter_ops)

// ---- scatter ----------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(scatter_values) {
  // PyTorch's docstring examples.
  const Tensor src = f64({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, {2, 5});
  check_values(scatter(zeros({3, 5}, dtype(float64)), 0, i64({0, 1, 2, 0}, {1, 4}), src), {3, 5},
               {1, 0, 0, 4, 0, 0, 2, 0, 0, 0, 0, 0, 3, 0, 0});
  check_values(scatter(zeros({3, 5}, dtype(float64)), 1, i64({0, 1, 2, 0, 1, 4}, {2, 3}), src), {3, 5},
               {1, 2, 3, 0, 0, 6, 7, 0, 0, 8, 0, 0, 0, 0, 0});
  check_values(scatter(zeros({2, 4}, dtype(float64)), 1, i64({2, 3}, {2, 1}), 1.23), {2, 4},
               {0, 0, 1.23, 0, 0, 0, 0, 1.23});
  // duplicates: the last in index order wins
  check_values(scatter(zeros({3}, dtype(float64)), 0, i64({0, 0, 2, 0}, {4}), f64({1, 2, 3, 4}, {4})), {3}, {4, 0, 3});
  // negative dim, transposed inputs, int64 and bool tensors, 0-d and empty
  check_values(scatter(zeros({2, 2}, dtype(float64)).t(), -1, i64({1, 0}, {2, 1}), f64({5, 6}, {2, 1})), {2, 2},
               {0, 5, 6, 0});
  BOOST_CHECK(scatter(zeros({3}, dtype(int64)), 0, i64({1}, {1}), 7.0).to_vector<std::int64_t>() ==
              (std::vector<std::int64_t>{0, 7, 0}));
  BOOST_CHECK(scatter(zeros({3}, dtype(float64)).to(boolean), 0, i64({2}, {1}), 1.0).to_vector<bool>() ==
              (std::vector<bool>{false, false, true}));
  check_values(scatter(scalar_tensor(1.0, dtype(float64)), 0, scalar_tensor(0.0, dtype(int64)), 5.0), {}, {5});
  check_values(scatter(f64({1, 2}, {2}), 0, zeros({0}, dtype(int64)), f64({9}, {1})), {2}, {1, 2});
  XGRAD_CHECK_THROW_MSG(scatter(zeros({3}, dtype(int64)), 0, i64({1}, {1}), 0.5),
                        "scatter: the value 0.5 cannot be represented as int64");
}

BOOST_AUTO_TEST_CASE(scatter_errors) {
  const Tensor self = zeros({3, 4});
  const Tensor src = ones({2, 4});
  XGRAD_CHECK_THROW_MSG(scatter(self, 0, i64({0, 1, 2, 5}, {1, 4}), src),
                        "scatter: index 5 is out of bounds for dimension 0 with size 3 (self shape [3, 4])");
  XGRAD_CHECK_THROW_MSG(scatter(self, 1, i64({-1}, {1, 1}), src),
                        "scatter: index -1 is out of bounds for dimension 1 with size 4");
  XGRAD_CHECK_THROW_MSG(scatter(self, 0, i64({0}, {1, 1}).to(int32), src),
                        "scatter: expected dtype int64 for index, got int32");
  XGRAD_CHECK_THROW_MSG(scatter(self, 0, i64({0}, {1}), src),
                        "scatter: self, index and src must have the same number of dimensions, got self shape [3, 4], "
                        "index shape [1] and src shape [2, 4]");
  XGRAD_CHECK_THROW_MSG(scatter(self, 0, zeros({3, 4}, dtype(int64)), src),
                        "scatter: index shape [3, 4] must not exceed src shape [2, 4]");
  XGRAD_CHECK_THROW_MSG(scatter(self, 0, zeros({1, 5}, dtype(int64)), ones({1, 5})),
                        "nor self shape [3, 4] outside dimension 0 (dimension 1 violates this)");
  XGRAD_CHECK_THROW_MSG(scatter(self, 2, zeros({1, 1}, dtype(int64)), src), "scatter: dim 2 out of range");
  XGRAD_CHECK_THROW_MSG(scatter(self, 0, zeros({1, 1}, dtype(int64)), src.to(float64)),
                        "scatter: expected self and src to have the same dtype, got float32");
  XGRAD_CHECK_THROW_MSG(scatter(self, 0, zeros({1, 1, 1}, dtype(int64)), 1.0),
                        "scatter: self and index must have the same number of dimensions");
}

// out = scatter(x, 0, [0, 0, 2], s): out = [s1, x1, s2]; L = sum(out * [10, 20, 30]).
// dL/dx = [0, 20, 0] (written positions get none); dL/ds = [0, 10, 30] (s0 is overwritten by s1).
BOOST_AUTO_TEST_CASE(scatter_gradient_by_hand) {
  Tensor x = leaf({1, 2, 3}, {3});
  Tensor s = leaf({4, 5, 6, 7}, {4});
  Tensor out = scatter(x, 0, i64({0, 0, 2}, {3}), s);
  check_values(out, {3}, {5, 2, 6});
  (out * f64({10, 20, 30}, {3})).sum().backward();
  check_values(x.grad(), {3}, {0, 20, 0});
  check_values(s.grad(), {4}, {0, 10, 30, 0});
  Tensor x2 = leaf({1, 2, 3}, {3});
  (scatter(x2, 0, i64({1, 1}, {2}), 9.0) * f64({10, 20, 30}, {3})).sum().backward();
  check_values(x2.grad(), {3}, {10, 0, 30});
}

// ---- scatter_reduce ------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(scatter_reduce_values) {
  // PyTorch's docstring example: src [1..6], index [0, 1, 0, 1, 2, 1], input [1, 2, 3, 4].
  const Tensor src = f64({1, 2, 3, 4, 5, 6}, {6});
  const Tensor idx = i64({0, 1, 0, 1, 2, 1}, {6});
  const Tensor in = f64({1, 2, 3, 4}, {4});
  check_values(scatter_reduce(in, 0, idx, src, "sum"), {4}, {5, 14, 8, 4});
  check_values(scatter_reduce(in, 0, idx, src, "sum", false), {4}, {4, 12, 5, 4});
  check_values(scatter_reduce(in, 0, idx, src, "amax", false), {4}, {3, 6, 5, 4});
  check_values(scatter_reduce(in, 0, idx, src, "amax"), {4}, {3, 6, 5, 4});
  check_values(scatter_reduce(in, 0, idx, src, "amin"), {4}, {1, 2, 3, 4});
  check_values(scatter_reduce(in, 0, idx, src, "amin", false), {4}, {1, 2, 5, 4});
  check_values(scatter_reduce(in, 0, idx, src, "prod"), {4}, {3, 96, 15, 4});
  check_values(scatter_reduce(in, 0, idx, src, "prod", false), {4}, {3, 48, 5, 4});
  check_values(scatter_reduce(in, 0, idx, src, "mean"), {4}, {5.0 / 3.0, 3.5, 4, 4});
  check_values(scatter_reduce(in, 0, idx, src, "mean", false), {4}, {2, 4, 5, 4});
  // integers: mean rounds toward minus infinity
  BOOST_CHECK(scatter_reduce(i64({0, 0}, {2}), 0, i64({0, 0, 1}, {3}), i64({-1, -2, 3}, {3}), "mean", false)
                  .to_vector<std::int64_t>() == (std::vector<std::int64_t>{-2, 3}));
  BOOST_CHECK(scatter_reduce(i64({0, 0}, {2}), 0, i64({0, 0, 1}, {3}), i64({-1, -2, 3}, {3}), "amax", false)
                  .to_vector<std::int64_t>() == (std::vector<std::int64_t>{-1, 3}));
  // NaN propagates through amax / amin
  const double nan = std::numeric_limits<double>::quiet_NaN();
  check_values(scatter_reduce(f64({0, 0}, {2}), 0, i64({0, 0}, {2}), f64({nan, 1}, {2}), "amax"), {2}, {nan, 0});
  check_values(scatter_reduce(f64({0, 0}, {2}), 0, i64({0, 0}, {2}), f64({1, nan}, {2}), "amin"), {2}, {nan, 0});
  // an empty index leaves self unchanged in every mode
  for (const char* r : {"sum", "prod", "mean", "amax", "amin"})
    check_values(scatter_reduce(in, 0, zeros({0}, dtype(int64)), src, r, false), {4}, {1, 2, 3, 4});
  // 0-d self, index and src
  check_values(scatter_reduce(scalar_tensor(2.0, dtype(float64)), 0, scalar_tensor(0.0, dtype(int64)),
                              scalar_tensor(5.0, dtype(float64)), "prod"),
               {}, {10});
  XGRAD_CHECK_THROW_MSG(
      scatter_reduce(in, 0, idx, src, "max"),
      "scatter_reduce: reduce argument must be one of \"sum\", \"prod\", \"mean\", \"amax\", \"amin\", got \"max\"");
  XGRAD_CHECK_THROW_MSG(scatter_reduce(in.to(boolean), 0, idx, src.to(boolean), "sum"),
                        "scatter_reduce: not supported for bool tensors");
  XGRAD_CHECK_THROW_MSG(scatter_reduce(in, 0, i64({4}, {1}), src, "sum"),
                        "scatter_reduce: index 4 is out of bounds for dimension 0 with size 4");
}

// Random inputs with many duplicates against the loop reference, every mode, both dims,
// with and without self, float64 and int64, src larger than the index box.
BOOST_AUTO_TEST_CASE(scatter_reduce_matches_loops) {
  manual_seed(11);
  const Shape ss{4, 5}, rs{7, 6};
  for (std::int64_t dim : {0, 1}) {
    const Shape is = dim == 0 ? Shape{7, 5} : Shape{4, 6};
    const Tensor idx = randint(0, ss[static_cast<std::size_t>(dim)], is);
    for (const char* r : {"sum", "prod", "mean", "amax", "amin"}) {
      for (bool inc : {true, false}) {
        for (bool ints : {false, true}) {
          BOOST_TEST_CONTEXT("dim " << dim << ", " << r << ", include_self " << inc << ", int64 " << ints) {
            Tensor self = ints ? randint(-3, 4, ss).to(float64) : randn(ss, dtype(float64));
            Tensor src = ints ? randint(-3, 4, rs).to(float64) : randn(rs, dtype(float64));
            const auto want = reduce_ref(self.to_vector<double>(), ss, dim, idx.to_vector<std::int64_t>(), is,
                                         src.to_vector<double>(), rs, r, inc, ints);
            const Tensor got = ints ? scatter_reduce(self.to(int64), dim, idx, src.to(int64), r, inc)
                                    : scatter_reduce(self, dim, idx, src, r, inc);
            check_values(got, ss, want, ints ? 0.0 : 1e-12);
          }
        }
      }
    }
  }
}

// amax with ties: self [1, 5], index [0, 0, 1], src [3, 3, 2]: out = [max(1, 3, 3), max(5, 2)]
// = [3, 5]. The gradient of out0 is split between src0 and src1; out1 comes from self1.
// L = sum(out) -> dL/dself = [0, 1], dL/dsrc = [0.5, 0.5, 0]. A tie with self: self [3],
// src [3] -> 0.5 each.
BOOST_AUTO_TEST_CASE(scatter_reduce_amax_ties_by_hand) {
  Tensor self = leaf({1, 5}, {2});
  Tensor src = leaf({3, 3, 2}, {3});
  scatter_reduce(self, 0, i64({0, 0, 1}, {3}), src, "amax").sum().backward();
  check_values(self.grad(), {2}, {0, 1});
  check_values(src.grad(), {3}, {0.5, 0.5, 0});
  Tensor a = leaf({3}, {1}), b = leaf({3}, {1});
  scatter_reduce(a, 0, i64({0}, {1}), b, "amin").sum().backward();
  check_values(a.grad(), {1}, {0.5});
  check_values(b.grad(), {1}, {0.5});
  // without self: self gets nothing where something was scattered, everything elsewhere
  Tensor c = leaf({9, 9}, {2}), d = leaf({1, 2}, {2});
  scatter_reduce(c, 0, i64({0, 0}, {2}), d, "amax", false).sum().backward();
  check_values(c.grad(), {2}, {0, 1});
  check_values(d.grad(), {2}, {0, 1});
}

// prod with zeros: self [2, 3], index [0, 0, 1, 1], src [0, 5, 0, 0]: out = [2*0*5, 3*0*0] = [0, 0].
// L = sum(out): dL/dself0 = 0*5 = 0, dL/dself1 = 0*0 = 0; src0 is the only zero at target 0:
// dL/dsrc0 = 2*5 = 10; dL/dsrc1 = 2*0 = 0; src2 and src3 share target 1 with another zero: 0.
// A zero self: self [0], src [2, 3]: dL/dself = 6, dL/dsrc = [0, 0].
BOOST_AUTO_TEST_CASE(scatter_reduce_prod_zeros_by_hand) {
  Tensor self = leaf({2, 3}, {2});
  Tensor src = leaf({0, 5, 0, 0}, {4});
  const Tensor idx = i64({0, 0, 1, 1}, {4});
  scatter_reduce(self, 0, idx, src, "prod").sum().backward();
  check_values(self.grad(), {2}, {0, 0});
  check_values(src.grad(), {4}, {10, 0, 0, 0});
  Tensor z = leaf({0}, {1}), s2 = leaf({2, 3}, {2});
  scatter_reduce(z, 0, i64({0, 0}, {2}), s2, "prod").sum().backward();
  check_values(z.grad(), {1}, {6});
  check_values(s2.grad(), {2}, {0, 0});
  // first derivatives through zeros match finite differences (the product is multilinear)
  const Tensor idx6 = i64({0, 1, 0, 1, 2, 1}, {6});
  check_gradcheck([idx6](const Ts& t) { return scatter_reduce(t[0], 0, idx6, t[1], "prod"); },
                  {leaf({1, 0, 3, 4}, {4}), leaf({0, 2, 3, 0, 5, 0}, {6})});
  check_gradcheck([idx6](const Ts& t) { return scatter_reduce(t[0], 0, idx6, t[1], "prod", false); },
                  {leaf({1, 0, 3, 4}, {4}), leaf({0, 2, 3, 0, 5, 0}, {6})});
}

// mean: self [1, 2], index [0, 0], src [3, 5]: out0 = (1 + 3 + 5) / 3 = 3, out1 = 2.
// L = sum(out) -> dL/dself = [1/3, 1], dL/dsrc = [1/3, 1/3]; without self: out0 = 4,
// dL/dself = [0, 1], dL/dsrc = [1/2, 1/2].
BOOST_AUTO_TEST_CASE(scatter_reduce_mean_and_sum_by_hand) {
  for (bool inc : {true, false}) {
    Tensor self = leaf({1, 2}, {2}), src = leaf({3, 5}, {2});
    Tensor out = scatter_reduce(self, 0, i64({0, 0}, {2}), src, "mean", inc);
    check_values(out, {2}, {inc ? 3.0 : 4.0, 2});
    out.sum().backward();
    check_values(self.grad(), {2}, {inc ? 1.0 / 3.0 : 0.0, 1});
    check_values(src.grad(), {2}, inc ? std::vector<double>{1.0 / 3.0, 1.0 / 3.0} : std::vector<double>{0.5, 0.5});
    Tensor self2 = leaf({1, 2}, {2}), src2 = leaf({3, 5, 7}, {3});
    (scatter_reduce(self2, 0, i64({0, 0}, {2}), src2, "sum", inc) * f64({10, 20}, {2})).sum().backward();
    check_values(self2.grad(), {2}, {inc ? 10.0 : 0.0, 20});
    check_values(src2.grad(), {3}, {10, 10, 0});  // src2[2] lies outside the index box
  }
}

// ---- take_along_dim -------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(take_along_dim_values) {
  const Tensor t = f64({10, 30, 20, 60, 40, 50}, {2, 3});
  check_values(take_along_dim(t, i64({1, 0}, {2, 1}), 1), {2, 1}, {30, 60});
  check_values(take_along_dim(t, i64({2, 0}, {1, 2}), 1), {2, 2}, {20, 10, 50, 60});  // indices broadcast
  check_values(take_along_dim(f64({1, 2, 3}, {1, 3}), i64({0, 2, 1, 1}, {2, 2}), 1), {2, 2}, {1, 3, 2, 2});  // t too
  check_values(take_along_dim(t, i64({1, 0, 1}, {1, 3}), 0), {1, 3}, {60, 30, 50});
  check_values(take_along_dim(t, i64({5, 0, 3}, {3})), {3}, {50, 10, 60});  // flattened
  check_values(take_along_dim(t.t(), i64({0, 1}, {1, 2}), -1), {3, 2}, {10, 60, 30, 40, 20, 50});
  check_values(take_along_dim(scalar_tensor(4.0, dtype(float64)), scalar_tensor(0.0, dtype(int64)), 0), {}, {4});
  BOOST_CHECK(take_along_dim(t, zeros({2, 0}, dtype(int64)), 1).shape() == (Shape{2, 0}));
  BOOST_CHECK(take_along_dim(t, zeros({0}, dtype(int64))).shape() == (Shape{0}));
  XGRAD_CHECK_THROW_MSG(take_along_dim(t, i64({0}, {1}), 1),
                        "take_along_dim: input and indices should have the same number of dimensions, but got 2 "
                        "dimensions for input (shape [2, 3]) and 1 for indices (shape [1])");
  XGRAD_CHECK_THROW_MSG(take_along_dim(t, i64({3}, {1, 1}), 1),
                        "take_along_dim: index 3 is out of bounds for dimension 1 with size 3");
  XGRAD_CHECK_THROW_MSG(take_along_dim(t, i64({6}, {1})),
                        "take_along_dim: index 6 is out of bounds for dimension 0 with size 6");
  XGRAD_CHECK_THROW_MSG(take_along_dim(t, i64({0}, {1, 1}).to(int32), 1),
                        "take_along_dim: dtype of indices should be int64, got int32");
  XGRAD_CHECK_THROW_MSG(take_along_dim(t, zeros({3, 1}, dtype(int64)), 1),
                        "take_along_dim: input of shape [2, 3] and indices of shape [3, 1] cannot be broadcast");
}

// out = take_along_dim(x, [0, 0, 2]) (flattened): L = sum(out * [1, 2, 3]) -> dL/dx = [3, 0, 3].
// A broadcast x [1, 3] picked by [[0], [0]] along dim 1: both rows read x0 -> dL/dx = [2, 0, 0].
BOOST_AUTO_TEST_CASE(take_along_dim_gradient_by_hand) {
  Tensor x = leaf({1, 2, 3}, {3});
  (take_along_dim(x, i64({0, 0, 2}, {3})) * f64({1, 2, 3}, {3})).sum().backward();
  check_values(x.grad(), {3}, {3, 0, 3});
  Tensor y = leaf({1, 2, 3}, {1, 3});
  take_along_dim(y, i64({0, 0}, {2, 1}), 1).sum().backward();
  check_values(y.grad(), {1, 3}, {2, 0, 0});
}

// ---- index_add ------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(index_add_values) {
  // PyTorch's docstring example
  const Tensor t = f64({1, 2, 3, 4, 5, 6, 7, 8, 9}, {3, 3});
  const Tensor idx = i64({0, 4, 2}, {3});
  check_values(index_add(ones({5, 3}, dtype(float64)), 0, idx, t), {5, 3},
               {2, 3, 4, 1, 1, 1, 8, 9, 10, 1, 1, 1, 5, 6, 7});
  check_values(index_add(ones({5, 3}, dtype(float64)), 0, idx, t, 2.0), {5, 3},
               {3, 5, 7, 1, 1, 1, 15, 17, 19, 1, 1, 1, 9, 11, 13});
  // duplicates accumulate, dim 1, int32 index, a transposed source, int64 tensors
  check_values(index_add(zeros({2, 2}, dtype(float64)), 1, i64({1, 1, 0}, {3}).to(int32), t.narrow(0, 0, 2)), {2, 2},
               {3, 3, 6, 9});
  check_values(index_add(zeros({3, 2}, dtype(float64)), 0, i64({2, 2}, {2}), f64({1, 2, 3, 4}, {2, 2}).t()), {3, 2},
               {0, 0, 0, 0, 3, 7});
  BOOST_CHECK(index_add(i64({1, 1}, {2}), 0, i64({0, 0}, {2}), i64({2, 3}, {2}), -1.0).to_vector<std::int64_t>() ==
              (std::vector<std::int64_t>{-4, 1}));
  check_values(index_add(scalar_tensor(1.0, dtype(float64)), 0, i64({0}, {1}), scalar_tensor(2.0, dtype(float64))), {},
               {3});
  check_values(index_add(f64({1, 2}, {2}), 0, zeros({0}, dtype(int64)), zeros({0}, dtype(float64))), {2}, {1, 2});
}

BOOST_AUTO_TEST_CASE(index_add_errors) {
  const Tensor self = zeros({3, 4});
  XGRAD_CHECK_THROW_MSG(index_add(self, 0, i64({0, 3}, {2}), ones({2, 4})),
                        "index_add: index 3 is out of bounds for dimension 0 with size 3 (self shape [3, 4])");
  XGRAD_CHECK_THROW_MSG(index_add(self, 0, i64({-1}, {1}), ones({1, 4})), "index_add: index -1 is out of bounds");
  XGRAD_CHECK_THROW_MSG(index_add(self, 0, i64({0, 1}, {2}), ones({3, 4})),
                        "index_add: source of shape [3, 4] must have the shape [3, 4] of self except in dimension 0, "
                        "where its size must be the number of indices (2)");
  XGRAD_CHECK_THROW_MSG(index_add(self, 1, i64({0}, {1}), ones({2, 1})), "index_add: source of shape [2, 1]");
  XGRAD_CHECK_THROW_MSG(index_add(self, 0, i64({0}, {1, 1}), ones({1, 4})), "index_add: index must be 1-d (or 0-d)");
  XGRAD_CHECK_THROW_MSG(index_add(self, 0, f64({0}, {1}), ones({1, 4})),
                        "index_add: index must be an int64 or int32 tensor, got float64");
  XGRAD_CHECK_THROW_MSG(index_add(self, 0, i64({0}, {1}), ones({1, 4}, dtype(float64))),
                        "index_add: expected self and source to have the same dtype");
  XGRAD_CHECK_THROW_MSG(index_add(zeros({2}, dtype(int64)), 0, i64({0}, {1}), ones({1}, dtype(int64)), 0.5),
                        "index_add: the value 0.5 cannot be represented as int64");
  XGRAD_CHECK_THROW_MSG(index_add(self.to(boolean), 0, i64({0}, {1}), ones({1, 4}).to(boolean)),
                        "index_add: not supported for bool tensors");
  XGRAD_CHECK_THROW_MSG(index_add(self, 2, i64({0}, {1}), ones({1, 4})), "index_add: dim 2 out of range");
}

// out = index_add(x, 0, [1, 1, 0], s, alpha = 3) (x [2], s [3]): out = [x0 + 3 s2, x1 + 3 (s0 + s1)].
// L = sum(out * [10, 20]) -> dL/dx = [10, 20], dL/ds = 3 [20, 20, 10].
BOOST_AUTO_TEST_CASE(index_add_gradient_by_hand) {
  Tensor x = leaf({1, 2}, {2}), s = leaf({1, 2, 3}, {3});
  Tensor out = index_add(x, 0, i64({1, 1, 0}, {3}), s, 3.0);
  check_values(out, {2}, {10, 11});
  (out * f64({10, 20}, {2})).sum().backward();
  check_values(x.grad(), {2}, {10, 20});
  check_values(s.grad(), {3}, {60, 60, 30});
}

// ---- determinism ------------------------------------------------------------------------------

// Many duplicate targets, float32 sums (order-sensitive): the same bits at 1 and 2 threads,
// and the sums equal a loop in index order.
BOOST_AUTO_TEST_CASE(duplicates_give_the_same_bits_at_every_thread_count) {
  manual_seed(5);
  const Tensor self = randn({4, 20000});
  const Tensor src = randn({300, 20000});
  const Tensor idx = randint(0, 4, {300, 20000});
  const Tensor idx1 = randint(0, 4, {300});
  check_same_bits_1_2_threads([&] { return scatter_add(self, 0, idx, src); });
  check_same_bits_1_2_threads([&] { return scatter(self, 0, idx, src); });
  for (const char* r : {"sum", "prod", "mean", "amax", "amin"})
    check_same_bits_1_2_threads([&] { return scatter_reduce(self, 0, idx, src, r, false); });
  check_same_bits_1_2_threads([&] { return index_add(self, 0, idx1, src, 0.5); });
  check_same_bits_1_2_threads([&] { return take_along_dim(src, idx, 1); });
  // with autograd: the backward's gathers and scatters too
  check_same_bits_1_2_threads([&] {
    Tensor s = src.detach().requires_grad_(true);
    scatter_reduce(self, 0, idx, s, "mean").sum().backward();
    return s.grad();
  });
  // scatter_add sums in index order
  const Tensor small = scatter_add(zeros({4, 20000}), 0, idx, src);
  const auto iv = idx.to_vector<std::int64_t>();
  const auto sv = src.to_vector<float>();
  std::vector<float> want(4 * 20000, 0.0f);
  for (std::size_t i = 0; i < 300; ++i)
    for (std::size_t q = 0; q < 20000; ++q)
      want[static_cast<std::size_t>(iv[i * 20000 + q]) * 20000 + q] += sv[i * 20000 + q];
  BOOST_CHECK(small.to_vector<float>() == want);
}

BOOST_AUTO_TEST_SUITE_END()
