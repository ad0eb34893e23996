// The op table of masking and selection (masking.hpp, scatter.hpp, index/index_put_ with
// tensor indices from indexing.hpp), run by op_db.hpp: float64 gradcheck and gradgradcheck
// through contiguous, transposed, strided and expanded inputs, views vs contiguous copies,
// int64. Masks and indices are fixed constants captured by each entry's function; only the
// differentiable inputs vary. Values are checked against equivalent compositions where one
// exists (`forms`, compared exactly) and against loop references in test_masking.cpp and
// test_scatter.cpp.
#include "op_db.hpp"
#include "xgrad/autograd/masking.hpp"
#include "xgrad/autograd/scatter.hpp"

namespace {

Tensor bmask(const std::vector<double>& v, const Shape& s) { return from_vector(v, s).to(boolean); }
Tensor ints(const std::vector<std::int64_t>& v, const Shape& s) { return from_vector(v, s); }

auto u = [](auto f) { return [f](const Ts& t) { return f(t[0]); }; };
auto b = [](auto f) { return [f](const Ts& t) { return f(t[0], t[1]); }; };

// f applied in place to a clone of the first input (differentiable through the clone).
template <class F>
Fn on_clone(F f) {
  return [f](const Ts& t) {
    Tensor c = t[0].clone();
    f(c, t);
    return c;
  };
}

// ---- masking.hpp and mask indexing --------------------------------------------------------------

std::vector<OpInfo> masking_ops() {
  const Tensor m34 = bmask({1, 0, 0, 1, 0, 1, 1, 0, 0, 0, 0, 1}, {3, 4});  // 5 true
  const Tensor m4 = bmask({0, 1, 1, 0}, {4});
  const Tensor m3 = bmask({1, 0, 1}, {3});
  const Tensor none34 = bmask(std::vector<double>(12, 0.0), {3, 4});
  const Tensor yes = scalar_tensor(1.0).to(boolean);
  return {
      {.name = "masked_fill",
       .fn = u([m34](auto x) { return masked_fill(x, m34, 2.0); }),
       .forms = {u([m34](auto x) { return where(m34, full_like(x, 2.0), x); })},
       .samples = {{{3, 4}}},
       .int64 = Int64::Yes},
      {.name = "masked_fill_broadcast_mask",
       .fn = u([m4](auto x) { return masked_fill(x, m4, -1.0); }),
       .forms = {u([m4](auto x) { return where(m4, full_like(x, -1.0), x); })},
       .samples = {{{3, 4}}, {{2, 3, 4}}},
       .int64 = Int64::Yes},
      {.name = "masked_fill_broadcast_self",
       .fn = u([m34](auto x) { return masked_fill(x, m34, 3.0); }),
       .samples = {{{4}}, {{3, 1}}, {{}}},
       .int64 = Int64::Yes},
      {.name = "masked_fill_nothing_masked",
       .fn = u([none34](auto x) { return masked_fill(x, none34, 3.0); }),
       .samples = {{{3, 4}}},
       .int64 = Int64::Yes},
      {.name = "masked_fill_tensor_value",
       .arity = 2,
       .fn = b([m34](auto x, auto v) { return masked_fill(x, m34, v); }),
       .samples = {{{3, 4}, {}}, {{4}, {}}},
       .int64 = Int64::Yes},
      {.name = "masked_fill_",
       .fn = on_clone([m4](Tensor& c, const Ts&) { masked_fill_(c, m4, 2.0); }),
       .samples = {{{3, 4}}},
       .int64 = Int64::Yes},
      {.name = "masked_fill_through_transposed_view",
       .fn = on_clone([m3](Tensor& c, const Ts&) {
         Tensor v = c.t();
         masked_fill_(v, m3, 2.0);
       }),
       .samples = {{{3, 4}}},
       .int64 = Int64::Yes},
      {.name = "masked_select",
       .fn = u([m34](auto x) { return masked_select(x, m34); }),
       .forms = {u([m34](auto x) { return x.index({m34}); })},
       .samples = {{{3, 4}}},
       .int64 = Int64::Yes},
      {.name = "masked_select_broadcast",
       .fn = u([m34](auto x) { return masked_select(x, m34); }),
       .samples = {{{4}}, {{3, 1}}, {{}}},
       .int64 = Int64::Yes},
      {.name = "masked_select_rows",
       .fn = u([m4](auto x) { return masked_select(x, m4); }),
       .samples = {{{3, 4}}, {{2, 3, 4}}},
       .int64 = Int64::Yes},
      {.name = "masked_scatter",
       .arity = 2,
       .fn = b([m34](auto x, auto s) { return masked_scatter(x, m34, s); }),
       .samples = {{{3, 4}, {3, 4}}, {{3, 4}, {2, 3}}, {{4}, {5}}, {{3, 4}, {5}}},
       .int64 = Int64::Yes},
      {.name = "nonzero",
       .fn = u([](auto x) { return nonzero(x); }),
       .samples = {{{3, 4}}, {{2, 3, 2}}, {{}}},
       .int64 = Int64::Skip,
       .differentiable = false},
      {.name = "index_mask_full",
       .fn = u([m34](auto x) { return x.index({m34}); }),
       .samples = {{{3, 4}}},
       .int64 = Int64::Yes},
      {.name = "index_mask_leading_dim",
       .fn = u([m3](auto x) { return x.index({m3}); }),
       .samples = {{{3, 4}}, {{3, 2, 2}}},
       .int64 = Int64::Yes},
      {.name = "index_slice_then_mask",
       .fn = u([m4](auto x) {
         return x.index({Slice(), m4});
       }),
       .samples = {{{3, 4}}, {{2, 4}}},
       .int64 = Int64::Yes},
      {.name = "index_mask_0d_true",
       .fn = u([yes](auto x) {
         return x.index({yes, 1});
       }),
       .samples = {{{3, 4}}},
       .int64 = Int64::Yes},
  };
}

// ---- index / index_put_ with tensor indices (indexing.hpp) --------------------------------------

std::vector<OpInfo> index_put_ops() {
  const Tensor m34 = bmask({1, 0, 0, 1, 0, 1, 1, 0, 0, 0, 0, 1}, {3, 4});
  const Tensor m3 = bmask({1, 0, 1}, {3});
  const Tensor dup = ints({0, 2, 0, -3}, {4});  // row 0 three times (-3 wraps to 0), row 2 once
  const Tensor idx2d = ints({0, -1, 2, -3}, {2, 2});
  using I = xgrad::indexing::TensorIndex;
  return {
      {.name = "index_int_tensor_2d_negative",
       .fn = u([idx2d](auto x) { return x.index({idx2d}); }),
       .samples = {{{3, 4}}},
       .int64 = Int64::Yes},
      {.name = "index_int_tensor_dim1",
       .fn = u([idx2d](auto x) {
         return x.index({Slice(), idx2d});
       }),
       .samples = {{{3, 4}}},
       .int64 = Int64::Yes},
      {.name = "index_put_accumulate",
       .arity = 2,
       .fn = on_clone([dup](Tensor& c, const Ts& t) { index_put_(c, {dup}, t[1], true); }),
       .samples = {{{3, 4}, {4, 4}}, {{3, 4}, {4}}, {{3, 4}, {}}},
       .int64 = Int64::Yes},
      {.name = "index_put_duplicates_last_wins",
       .arity = 2,
       .fn = on_clone([dup](Tensor& c, const Ts& t) { index_put_(c, {dup}, t[1]); }),
       .samples = {{{3, 4}, {4, 4}}, {{3, 4}, {4}}},
       .int64 = Int64::Yes},
      {.name = "index_put_dim1_accumulate",
       .arity = 2,
       .fn = on_clone([dup](Tensor& c, const Ts& t) {
         index_put_(c, std::vector<I>{Slice(), dup}, t[1], true);
       }),
       .samples = {{{3, 4}, {3, 4}}},
       .int64 = Int64::Yes},
      {.name = "index_put_mask",
       .arity = 2,
       .fn = on_clone([m34](Tensor& c, const Ts& t) { index_put_(c, {m34}, t[1]); }),
       .samples = {{{3, 4}, {5}}, {{3, 4}, {}}},
       .int64 = Int64::Yes},
      {.name = "index_put_mask_accumulate",
       .arity = 2,
       .fn = on_clone([m34](Tensor& c, const Ts& t) { index_put_(c, {m34}, t[1], true); }),
       .samples = {{{3, 4}, {5}}},
       .int64 = Int64::Yes},
      {.name = "index_put_mask_rows",
       .arity = 2,
       .fn = on_clone([m3](Tensor& c, const Ts& t) { index_put_(c, {m3}, t[1]); }),
       .samples = {{{3, 4}, {2, 4}}, {{3, 4}, {4}}},
       .int64 = Int64::Yes},
      {.name = "index_put_through_transposed_view",
       .arity = 2,
       .fn = on_clone([dup](Tensor& c, const Ts& t) {
         Tensor v = c.t();
         index_put_(v, std::vector<I>{Slice(), dup}, t[1], true);
       }),
       .samples = {{{3, 4}, {4, 4}}},
       .int64 = Int64::Yes},
  };
}

// ---- scatter.hpp --------------------------------------------------------------------------------

std::vector<OpInfo> scatter_ops() {
  // Dim 0 over [3, 4]: columns 0, 1 and 3 have duplicate targets.
  const Tensor dup0 = ints({0, 1, 2, 0, 0, 1, 0, 0}, {2, 4});
  // Dim 1 over [3, 4]: row 1 has a duplicate.
  const Tensor idx1 = ints({0, 3, 1, 1, 3, 0}, {3, 2});
  const Tensor take = ints({0, 3, 1, 1, 2, 0}, {3, 2});
  const Tensor take_b = ints({3, 0}, {1, 2});
  const Tensor flat = ints({0, 11, 5, 5, 3}, {5});
  const Tensor add_idx = ints({0, 2, 0, 0}, {4});
  const Tensor add_idx1 = ints({3, 3, 1}, {3});
  std::vector<OpInfo> ops = {
      {.name = "scatter_dim0",
       .arity = 2,
       .fn = b([dup0](auto x, auto s) { return scatter(x, 0, dup0, s); }),
       .samples = {{{3, 4}, {2, 4}}, {{3, 4}, {3, 5}}},
       .int64 = Int64::Yes},
      {.name = "scatter_dim1",
       .arity = 2,
       .fn = b([idx1](auto x, auto s) { return scatter(x, 1, idx1, s); }),
       .samples = {{{3, 4}, {3, 2}}},
       .int64 = Int64::Yes},
      {.name = "scatter_value",
       .fn = u([dup0](auto x) { return scatter(x, 0, dup0, 2.0); }),
       .samples = {{{3, 4}}},
       .int64 = Int64::Yes},
      {.name = "take_along_dim",
       .fn = u([take](auto x) { return take_along_dim(x, take, 1); }),
       .forms = {u([take](auto x) { return gather(x, 1, take); })},
       .samples = {{{3, 4}}},
       .int64 = Int64::Yes},
      {.name = "take_along_dim_broadcast",
       .fn = u([take_b](auto x) { return take_along_dim(x, take_b, -1); }),
       .samples = {{{3, 4}}, {{1, 4}}},
       .int64 = Int64::Yes},
      {.name = "take_along_dim_flat",
       .fn = u([flat](auto x) { return take_along_dim(x, flat); }),
       .samples = {{{3, 4}}},
       .int64 = Int64::Yes},
      {.name = "index_add_alpha",
       .arity = 2,
       .fn = b([add_idx](auto x, auto s) { return index_add(x, 0, add_idx, s, 2.0); }),
       .samples = {{{3, 4}, {4, 4}}},
       .int64 = Int64::Yes},
      {.name = "index_add_dim1",
       .arity = 2,
       .fn = b([add_idx1](auto x, auto s) { return index_add(x, 1, add_idx1, s); }),
       .samples = {{{3, 4}, {3, 3}}},
       .int64 = Int64::Yes},
  };
  for (const char* r : {"sum", "prod", "mean", "amax", "amin"}) {
    for (bool include_self : {true, false}) {
      const std::string name = std::string("scatter_reduce_") + r + (include_self ? "" : "_exclude_self");
      const std::string red = r;
      // mean divides integers with floor rounding (not trunc(float64 result)); prod divides by src.
      const Int64 int64 = red == "mean" ? Int64::Skip : Int64::Yes;
      const std::vector<Dom> dom = red == "prod" ? std::vector<Dom>{Dom::Any, Dom::AwayFromZero} : std::vector<Dom>{};
      ops.push_back({.name = name,
                     .arity = 2,
                     .fn = b([dup0, red, include_self](auto x, auto s) {
                       return scatter_reduce(x, 0, dup0, s, red, include_self);
                     }),
                     .domains = dom,
                     .samples = {{{3, 4}, {2, 4}}, {{3, 4}, {3, 5}}},
                     .int64 = int64});
      ops.push_back({.name = name + "_dim1",
                     .arity = 2,
                     .fn = b([idx1, red, include_self](auto x, auto s) {
                       return scatter_reduce(x, 1, idx1, s, red, include_self);
                     }),
                     .domains = dom,
                     .samples = {{{3, 4}, {3, 2}}},
                     .int64 = int64});
    }
  }
  return ops;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(op_db_selection)

BOOST_AUTO_TEST_CASE(masking) { run_all(masking_ops()); }
BOOST_AUTO_TEST_CASE(index_put) { run_all(index_put_ops()); }
BOOST_AUTO_TEST_CASE(scatter) { run_all(scatter_ops()); }

BOOST_AUTO_TEST_CASE(names_are_unique) {
  std::vector<std::string> names;
  for (const auto& ops : {masking_ops(), index_put_ops(), scatter_ops()})
    for (const auto& op : ops) names.push_back(op.name);
  std::sort(names.begin(), names.end());
  BOOST_CHECK(std::adjacent_find(names.begin(), names.end()) == names.end());
  BOOST_TEST_MESSAGE("op_db_selection: " << names.size() << " ops");
}

BOOST_AUTO_TEST_SUITE_END()
