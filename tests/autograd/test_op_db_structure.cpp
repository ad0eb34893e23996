// The op table of the structure ops (structure.hpp) and of pad's modes (shape.hpp): every
// differentiable op, run by op_db.hpp on contiguous, transposed, strided and expanded inputs
// (views vs contiguous copies, float64 gradcheck and gradgradcheck through the views, int64
// results equal to the float64 ones). Values, errors and other dtypes: test_structure.cpp.
#include "op_db.hpp"
#include "xgrad/autograd/structure.hpp"

namespace {

// sum_i (i + 1) pieces[i]: one tensor that depends on every output of a multi-output op
// with a different weight (pieces of equal shapes).
Tensor weighted_sum(const Ts& pieces) {
  Tensor s = pieces[0];
  for (std::size_t i = 1; i < pieces.size(); ++i) s = s + pieces[i] * static_cast<double>(i + 1);
  return s;
}

std::vector<OpInfo> structure_ops() {
  auto u = [](auto f) { return [f](const Ts& t) { return f(t[0]); }; };
  const Tensor counts0 = tensor({2, 0, 1}, dtype(int64));     // along dim 0 of [3, 4]
  const Tensor counts1 = tensor({1, 3, 0, 2}, dtype(int32));  // along dim 1 of [3, 4]
  const Tensor counts_flat = tensor({1, 0, 2, 1, 1, 3, 0, 1, 2, 1, 1, 0}, dtype(int64));
  const Tensor count = tensor({2}, dtype(int64));
  const std::vector<std::vector<Shape>> mats = {{{3, 4}}, {{2, 3, 4}}};
  return {
      // tril / triu
      {.name = "tril", .fn = u([](auto x) { return tril(x); }), .samples = mats, .int64 = Int64::Yes},
      {.name = "tril_above", .fn = u([](auto x) { return tril(x, 1); }), .samples = mats, .int64 = Int64::Yes},
      {.name = "tril_below", .fn = u([](auto x) { return tril(x, -2); }), .samples = mats, .int64 = Int64::Yes},
      {.name = "triu", .fn = u([](auto x) { return triu(x); }), .samples = mats, .int64 = Int64::Yes},
      {.name = "triu_above", .fn = u([](auto x) { return triu(x, 2); }), .samples = mats, .int64 = Int64::Yes},
      {.name = "triu_below", .fn = u([](auto x) { return triu(x, -1); }), .samples = mats, .int64 = Int64::Yes},
      // repeat / tile
      {.name = "repeat", .fn = u([](auto x) { return repeat(x, {2, 1, 3}); }), .samples = {{{3, 4}}, {{2, 3}}},
       .int64 = Int64::Yes},
      {.name = "repeat_3d", .fn = u([](auto x) { return repeat(x, {1, 2, 2}); }), .samples = {{{2, 3, 2}}},
       .int64 = Int64::Yes},
      {.name = "repeat_0d", .fn = u([](auto x) { return repeat(x, {3, 2}); }), .samples = {{{}}, {{4}}},
       .int64 = Int64::Yes},
      {.name = "tile", .fn = u([](auto x) { return tile(x, {2}); }),
       .forms = {u([](auto x) { return repeat(x, {1, 2}); })}, .samples = {{{3, 4}}}, .int64 = Int64::Yes},
      {.name = "tile_more_dims", .fn = u([](auto x) { return tile(x, {2, 1, 2}); }),
       .forms = {u([](auto x) { return repeat(x, {2, 1, 2}); })}, .samples = {{{3, 4}}}, .int64 = Int64::Yes},
      // repeat_interleave
      {.name = "repeat_interleave_flat", .fn = u([](auto x) { return repeat_interleave(x, 2); }),
       .samples = {{{3, 4}}, {{5}}, {{}}}, .int64 = Int64::Yes},
      {.name = "repeat_interleave_dim0", .fn = u([](auto x) { return repeat_interleave(x, 2, 0); }),
       .forms = {u([count](auto x) { return repeat_interleave(x, count, 0); })}, .samples = mats,
       .int64 = Int64::Yes},
      {.name = "repeat_interleave_dim_last", .fn = u([](auto x) { return repeat_interleave(x, 3, -1); }),
       .samples = mats, .int64 = Int64::Yes},
      {.name = "repeat_interleave_counts_dim0",
       .fn = u([counts0](auto x) { return repeat_interleave(x, counts0, 0); }), .samples = {{{3, 4}}},
       .int64 = Int64::Yes},
      {.name = "repeat_interleave_counts_dim1",
       .fn = u([counts1](auto x) { return repeat_interleave(x, counts1, 1); }), .samples = {{{3, 4}}},
       .int64 = Int64::Yes},
      {.name = "repeat_interleave_counts_flat",
       .fn = u([counts_flat](auto x) { return repeat_interleave(x, counts_flat); }), .samples = {{{3, 4}}},
       .int64 = Int64::Yes},
      // roll / flip
      {.name = "roll_flat", .fn = u([](auto x) { return roll(x, {5}); }), .samples = {{{3, 4}}, {{}}},
       .int64 = Int64::Yes},
      {.name = "roll_dims", .fn = u([](auto x) { return roll(x, {1, -3}, {0, 1}); }), .samples = mats,
       .int64 = Int64::Yes},
      {.name = "roll_same_dim_twice", .fn = u([](auto x) { return roll(x, {2, 3}, {-1, -1}); }),
       .forms = {u([](auto x) { return roll(x, {5}, {-1}); })}, .samples = {{{3, 4}}}, .int64 = Int64::Yes},
      {.name = "flip_0", .fn = u([](auto x) { return flip(x, {0}); }), .samples = mats, .int64 = Int64::Yes},
      {.name = "flip_last", .fn = u([](auto x) { return flip(x, {-1}); }), .samples = mats, .int64 = Int64::Yes},
      {.name = "flip_all", .fn = u([](auto x) { return flip(x, {0, 1}); }), .samples = {{{3, 4}}},
       .int64 = Int64::Yes},
      // meshgrid (outputs combined into one tensor)
      {.name = "meshgrid_ij", .arity = 2, .fn = [](const Ts& t) { return weighted_sum(meshgrid(t)); },
       .forms = {[](const Ts& t) { return weighted_sum(meshgrid(t, "ij")); }}, .samples = {{{3}, {4}}, {{}, {2}}},
       .int64 = Int64::Yes},
      {.name = "meshgrid_xy", .arity = 3, .fn = [](const Ts& t) { return weighted_sum(meshgrid(t, "xy")); },
       .samples = {{{3}, {4}, {2}}}, .int64 = Int64::Yes},
      // pad's modes (the constant mode's entry is in test_op_db.cpp)
      {.name = "pad_constant_mode", .fn = u([](auto x) { return pad(x, {1, 2, 0, 1}, PadMode::constant, 0.5); }),
       .forms = {u([](auto x) { return pad(x, {1, 2, 0, 1}, 0.5); })}, .samples = {{{3, 4}}}, .int64 = Int64::Skip},
      {.name = "pad_reflect", .fn = u([](auto x) { return pad(x, {2, 1, 1, 2}, PadMode::reflect); }),
       .samples = mats, .int64 = Int64::Yes},
      {.name = "pad_reflect_last", .fn = u([](auto x) { return pad(x, {3, 1}, PadMode::reflect); }),
       .samples = {{{3, 4}}, {{4}}}, .int64 = Int64::Yes},
      {.name = "pad_replicate", .fn = u([](auto x) { return pad(x, {3, 1, 0, 2}, PadMode::replicate); }),
       .samples = mats, .int64 = Int64::Yes},
      {.name = "pad_replicate_3_dims", .fn = u([](auto x) { return pad(x, {1, 1, 2, 0, 0, 1}, PadMode::replicate); }),
       .samples = {{{2, 3, 4}}}, .int64 = Int64::Yes},
      {.name = "pad_circular", .fn = u([](auto x) { return pad(x, {4, 1, 2, 3}, PadMode::circular); }),
       .samples = mats, .int64 = Int64::Yes},
  };
}

}  // namespace

BOOST_AUTO_TEST_SUITE(op_db_structure)

BOOST_AUTO_TEST_CASE(structure) { run_all(structure_ops()); }

BOOST_AUTO_TEST_CASE(names_are_unique) {
  std::vector<std::string> names;
  for (const auto& op : structure_ops()) names.push_back(op.name);
  std::sort(names.begin(), names.end());
  BOOST_CHECK(std::adjacent_find(names.begin(), names.end()) == names.end());
  BOOST_TEST_MESSAGE("op_db_structure: " << names.size() << " ops");
}

BOOST_AUTO_TEST_SUITE_END()
