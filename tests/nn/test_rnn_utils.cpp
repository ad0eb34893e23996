// torch.nn.utils.rnn (rnn_utils.hpp): PackedSequence, pad_sequence, pack_padded_sequence,
// pad_packed_sequence, pack_sequence, unpad_sequence, unpack_sequence. Values on hand-built
// batches (batch_sizes, data order, sorted / unsorted indices), round trips, batch_first,
// total_length, padding_value, padding_side, gradients (by hand, gradcheck, gradgradcheck)
// and every error message.
#include <cstdint>
#include <vector>

#include "test_util.hpp"
#include "xgrad/nn/rnn_utils.hpp"

using namespace xgrad;
using namespace xgrad::nn::utils::rnn;
using xgrad::test::check_close;
using xgrad::test::check_gradcheck;
using xgrad::test::check_gradgradcheck;
using xgrad::test::check_values;
using xgrad::test::rand64;

namespace {

Tensor ids(std::vector<std::int64_t> v) { return from_vector<std::int64_t>(v, {static_cast<std::int64_t>(v.size())}); }

std::vector<std::int64_t> ints(const Tensor& t) {
  BOOST_REQUIRE(t.defined());
  BOOST_REQUIRE(t.dtype() == int64);
  return t.to_vector<std::int64_t>();
}

void check_ints(const Tensor& t, const std::vector<std::int64_t>& want) {
  const auto got = ints(t);
  BOOST_CHECK_EQUAL_COLLECTIONS(got.begin(), got.end(), want.begin(), want.end());
}

// [T = 3, B = 3]: x[t][b] = 10 b + t.
Tensor time_major() { return tensor({{0., 10., 20.}, {1., 11., 21.}, {2., 12., 22.}}, dtype(float64)); }

}  // namespace

BOOST_AUTO_TEST_SUITE(rnn_utils)

// ---- pack_padded_sequence -----------------------------------------------------------------

BOOST_AUTO_TEST_CASE(pack_padded_sorted_by_hand) {
  // lengths [3, 2, 1]: step 0 holds all three, step 1 the first two, step 2 the first.
  const PackedSequence p = pack_padded_sequence(time_major(), ids({3, 2, 1}));
  BOOST_CHECK(p.is_defined());
  check_values(p.data(), {6}, {0, 10, 20, 1, 11, 2});
  check_ints(p.batch_sizes(), {3, 2, 1});
  BOOST_CHECK(!p.sorted_indices().defined());
  BOOST_CHECK(!p.unsorted_indices().defined());
  BOOST_CHECK(p.data().dtype() == float64);
  // batch_first: the same batch as [B, T].
  const PackedSequence q = pack_padded_sequence(time_major().t(), ids({3, 2, 1}), true);
  check_values(q.data(), {6}, {0, 10, 20, 1, 11, 2});
  check_ints(q.batch_sizes(), {3, 2, 1});
  // The std::vector overload and int32 lengths agree; equal lengths are sorted.
  check_values(pack_padded_sequence(time_major(), std::vector<std::int64_t>{2, 2, 1}).data(), {5},
               {0, 10, 20, 1, 11});
  check_values(pack_padded_sequence(time_major(), tensor({3, 3, 3}, dtype(int32))).data(), {9},
               {0, 10, 20, 1, 11, 21, 2, 12, 22});
  // Lengths shorter than T: the packed sequence has max(lengths) steps.
  const PackedSequence r = pack_padded_sequence(time_major(), ids({1, 1, 1}));
  check_values(r.data(), {3}, {0, 10, 20});
  check_ints(r.batch_sizes(), {3});
  BOOST_CHECK(PackedSequence().is_defined() == false);
}

BOOST_AUTO_TEST_CASE(pack_padded_unsorted_by_hand) {
  // lengths [1, 3, 2]: sorted order is b = 1, 2, 0.
  const PackedSequence p = pack_padded_sequence(time_major(), ids({1, 3, 2}), false, false);
  check_values(p.data(), {6}, {10, 20, 0, 11, 21, 12});
  check_ints(p.batch_sizes(), {3, 2, 1});
  check_ints(p.sorted_indices(), {1, 2, 0});
  check_ints(p.unsorted_indices(), {2, 0, 1});  // the inverse permutation
  // Ties keep the original order (a stable sort): lengths [2, 3, 2] -> b = 1, 0, 2.
  const PackedSequence q = pack_padded_sequence(time_major(), ids({2, 3, 2}), false, false);
  check_ints(q.sorted_indices(), {1, 0, 2});
  check_ints(q.unsorted_indices(), {1, 0, 2});
  check_values(q.data(), {7}, {10, 0, 20, 11, 1, 21, 12});
  // enforce_sorted=false on sorted lengths still records the (identity) indices, as PyTorch.
  const PackedSequence r = pack_padded_sequence(time_major(), ids({3, 2, 1}), false, false);
  check_ints(r.sorted_indices(), {0, 1, 2});
  check_ints(r.unsorted_indices(), {0, 1, 2});
  // batch_first with trailing dims: input [B = 2, T = 3, 2].
  const Tensor x = tensor({{{1., 2.}, {3., 4.}, {5., 6.}}, {{7., 8.}, {9., 10.}, {11., 12.}}}, dtype(float64));
  const PackedSequence s = pack_padded_sequence(x, ids({2, 3}), true, false);
  check_values(s.data(), {5, 2}, {7, 8, 1, 2, 9, 10, 3, 4, 11, 12});
  check_ints(s.batch_sizes(), {2, 2, 1});
  check_ints(s.sorted_indices(), {1, 0});
}

BOOST_AUTO_TEST_CASE(pack_padded_layouts_and_dtypes) {
  // A non-contiguous (transposed) input and an expanded one.
  const Tensor xt = time_major().t().contiguous().t();
  check_values(pack_padded_sequence(xt, ids({3, 2, 1})).data(), {6}, {0, 10, 20, 1, 11, 2});
  const Tensor e = expand(tensor({{1., 2.}}, dtype(float64)), {3, 2});
  check_values(pack_padded_sequence(e, ids({3, 1})).data(), {4}, {1, 2, 1, 1});
  // Integer data keeps its dtype; float32 too.
  const PackedSequence pi = pack_padded_sequence(tensor({{1, 2}, {3, 4}}), ids({2, 1}));
  BOOST_CHECK(pi.data().dtype() == int64);
  check_ints(pi.data(), {1, 2, 3});
  BOOST_CHECK(pack_padded_sequence(tensor({{1., 2.}}), ids({1, 1})).data().dtype() == float32);
}

// ---- pad_packed_sequence ------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(pad_packed_by_hand) {
  const PackedSequence p = pack_padded_sequence(time_major(), ids({1, 3, 2}), false, false);
  // Back in the original order, padding with -1.
  auto [padded, lengths] = pad_packed_sequence(p, false, -1.0);
  check_values(padded, {3, 3}, {0, 10, 20, -1, 11, 21, -1, 12, -1});
  check_ints(lengths, {1, 3, 2});
  auto [pb, lb] = pad_packed_sequence(p, true, -1.0);
  check_values(pb, {3, 3}, {0, -1, -1, 10, 11, 12, 20, 21, -1});
  check_ints(lb, {1, 3, 2});
  // total_length pads more steps; default padding_value 0.
  auto [pt, lt] = pad_packed_sequence(p, false, 0.0, 4);
  check_values(pt, {4, 3}, {0, 10, 20, 0, 11, 21, 0, 12, 0, 0, 0, 0});
  check_ints(lt, {1, 3, 2});
  auto [ptb, ltb] = pad_packed_sequence(p, true, 7.0, 3);
  check_values(ptb, {3, 3}, {0, 7, 7, 10, 11, 12, 20, 21, 7});
  // A sorted PackedSequence built by hand (trailing dims [2]), no padding needed.
  const PackedSequence q(tensor({{1., 2.}, {3., 4.}}, dtype(float64)), ids({2}));
  auto [pq, lq] = pad_packed_sequence(q, true);
  check_values(pq, {2, 1, 2}, {1, 2, 3, 4});
  check_ints(lq, {1, 1});
  // Integer data: padding_value is converted to the data's dtype.
  const PackedSequence r = pack_padded_sequence(tensor({{1, 2}, {3, 4}}), ids({2, 1}));
  auto [pr, lr] = pad_packed_sequence(r, false, -5.0);
  BOOST_CHECK(pr.dtype() == int64);
  check_ints(pr, {1, 2, 3, -5});
}

BOOST_AUTO_TEST_CASE(packed_sequence_constructor) {
  // unsorted_indices is computed as the inverse of sorted_indices (int32 accepted).
  const PackedSequence p(tensor({1., 2., 3.}), ids({2, 1}), tensor({1, 0}, dtype(int32)));
  check_ints(p.sorted_indices(), {1, 0});
  check_ints(p.unsorted_indices(), {1, 0});
  const PackedSequence q(tensor({1., 2., 3.}), ids({2, 1}), ids({2, 0, 1}), ids({1, 2, 0}));
  check_ints(q.unsorted_indices(), {1, 2, 0});
  const auto off = xgrad::nn::utils::rnn::detail::step_offsets(ids({3, 2, 2, 1}));
  const std::vector<std::int64_t> want{0, 3, 5, 7, 8};
  BOOST_CHECK_EQUAL_COLLECTIONS(off.begin(), off.end(), want.begin(), want.end());
  const auto off32 = xgrad::nn::utils::rnn::detail::step_offsets(tensor({2}, dtype(int32)));
  BOOST_CHECK_EQUAL(off32.size(), 2u);
  BOOST_CHECK_EQUAL(off32[1], 2);
}

// ---- round trips -------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(round_trips) {
  const std::vector<std::int64_t> len{2, 4, 1, 3};
  for (bool batch_first : {false, true}) {
    Tensor x = rand64({4, 4, 3});  // [T, B, 3] or [B, T, 3]
    // Zero the padding so the round trip reproduces x exactly.
    std::vector<double> mask;
    for (std::int64_t i = 0; i < 4; ++i)
      for (std::int64_t j = 0; j < 4; ++j) {
        const std::int64_t t = batch_first ? j : i, b = batch_first ? i : j;
        for (int k = 0; k < 3; ++k) mask.push_back(t < len[static_cast<std::size_t>(b)] ? 1.0 : 0.0);
      }
    x = (x * from_vector<double>(mask, {4, 4, 3})).detach();
    const PackedSequence p = pack_padded_sequence(x, ids(len), batch_first, false);
    check_ints(p.batch_sizes(), {4, 3, 2, 1});
    auto [y, l] = pad_packed_sequence(p, batch_first);
    check_close(y, x, 0.0);
    check_ints(l, len);
    // unpad_sequence splits it into the sequences, unpack_sequence too.
    const auto seqs = unpad_sequence(x, ids(len), batch_first);
    const auto seqs2 = unpack_sequence(p);
    BOOST_REQUIRE_EQUAL(seqs.size(), 4u);
    BOOST_REQUIRE_EQUAL(seqs2.size(), 4u);
    for (std::size_t b = 0; b < 4; ++b) {
      BOOST_CHECK(seqs[b].shape() == (Shape{len[b], 3}));
      check_close(seqs[b], seqs2[b], 0.0);
      check_close(seqs[b], narrow(select(x, batch_first ? 0 : 1, static_cast<std::int64_t>(b)), 0, 0, len[b]), 0.0);
    }
  }
}

// ---- pad_sequence / pack_sequence / unpad_sequence / unpack_sequence -----------------------

BOOST_AUTO_TEST_CASE(pad_sequence_values) {
  const Tensor a = tensor({1., 2., 3.}), b = tensor({4.}), c = tensor({5., 6.});
  check_values(pad_sequence({a, b, c}), {3, 3}, {1, 4, 5, 2, 0, 6, 3, 0, 0});
  check_values(pad_sequence({a, b, c}, true, -1.0), {3, 3}, {1, 2, 3, 4, -1, -1, 5, 6, -1});
  check_values(pad_sequence({a, b, c}, true, 0.0, "left"), {3, 3}, {1, 2, 3, 0, 0, 4, 0, 5, 6});
  check_values(pad_sequence({a, b, c}, false, 9.0, "left"), {3, 3}, {1, 9, 9, 2, 9, 5, 3, 4, 6});
  BOOST_CHECK(pad_sequence({a, b}).dtype() == float32);
  // Trailing dims, an empty sequence, mixed dtypes (the first sequence's dtype wins, as PyTorch).
  const Tensor m = tensor({{1., 2.}, {3., 4.}}, dtype(float64)), n = zeros({0, 2}, dtype(float64));
  check_values(pad_sequence({m, n, tensor({{5, 6}})}, true, 0.5), {3, 2, 2}, {1, 2, 3, 4, 0.5, 0.5, 0.5, 0.5, 5, 6, 0.5, 0.5});
  BOOST_CHECK(pad_sequence({m, tensor({{5, 6}})}).dtype() == float64);
  check_values(pad_sequence({zeros({0}), zeros({0})}), {0, 2}, {});
  // Gradient: d sum(w * pad_sequence(s)) / d s_i = the entries of w over s_i's positions.
  const Tensor s0 = rand64({2}), s1 = rand64({1});
  const Tensor w = tensor({{1., 2.}, {3., 4.}}, dtype(float64));  // [T = 2, B = 2]
  (pad_sequence({s0, s1}) * w).sum().backward();
  check_values(s0.grad(), {2}, {1, 3});
  check_values(s1.grad(), {1}, {2});
  check_gradcheck([](const std::vector<Tensor>& in) { return pad_sequence(in, true, 0.3, "left"); },
                  {rand64({3, 2}), rand64({1, 2}), rand64({2, 2})});
}

BOOST_AUTO_TEST_CASE(pack_and_unpack_sequence) {
  const Tensor a = tensor({1., 2., 3.}), b = tensor({4.}), c = tensor({5., 6.});
  const PackedSequence p = pack_sequence({a, c, b});
  check_values(p.data(), {6}, {1, 5, 4, 2, 6, 3});
  check_ints(p.batch_sizes(), {3, 2, 1});
  BOOST_CHECK(!p.sorted_indices().defined());
  const PackedSequence q = pack_sequence({a, b, c}, false);
  check_values(q.data(), {6}, {1, 5, 4, 2, 6, 3});
  check_ints(q.sorted_indices(), {0, 2, 1});
  check_ints(q.unsorted_indices(), {0, 2, 1});
  const auto back = unpack_sequence(q);
  BOOST_REQUIRE_EQUAL(back.size(), 3u);
  check_values(back[0], {3}, {1, 2, 3});
  check_values(back[1], {1}, {4});
  check_values(back[2], {2}, {5, 6});
  // unpad_sequence with int32 lengths and a zero length.
  const auto parts = unpad_sequence(pad_sequence({a, b, c}, true), tensor({3, 0, 2}, dtype(int32)), true);
  check_values(parts[0], {3}, {1, 2, 3});
  check_values(parts[1], {0}, {});
  check_values(parts[2], {2}, {5, 6});
}

// ---- gradients ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(gradients_by_hand) {
  // pad_packed_sequence(pack_padded_sequence(x)) keeps x inside each sequence and pads the
  // rest, so d sum(out * w) / dx = w on the valid positions (t < lengths[b]) and 0 elsewhere.
  const Tensor x = rand64({3, 2});  // [T = 3, B = 2], lengths [1, 3]
  const Tensor w = tensor({{1., 2.}, {3., 4.}, {5., 6.}}, dtype(float64));
  auto [out, len] = pad_packed_sequence(pack_padded_sequence(x, ids({1, 3}), false, false), false, 0.25);
  (out * w).sum().backward();
  check_values(x.grad(), {3, 2}, {1, 2, 0, 4, 0, 6});
  // d sum(data * v) / dx: packed row k comes from x[t, b], so x[t, b] gets v[k].
  const Tensor y = rand64({2, 2});  // batch_first [B = 2, T = 2], lengths [1, 2]
  const PackedSequence p = pack_padded_sequence(y, ids({1, 2}), true, false);  // rows: y[1,0], y[0,0], y[1,1]
  (p.data() * tensor({10., 20., 30.}, dtype(float64))).sum().backward();
  check_values(y.grad(), {2, 2}, {20, 0, 10, 30});
}

BOOST_AUTO_TEST_CASE(gradcheck_pack_and_pad) {
  for (bool batch_first : {false, true})
    for (bool enforce_sorted : {false, true}) {
      const auto len = enforce_sorted ? ids({4, 3, 1}) : ids({3, 4, 1});
      auto pack = [=](const std::vector<Tensor>& in) {
        return pack_padded_sequence(in[0], len, batch_first, enforce_sorted).data();
      };
      const Tensor x = batch_first ? rand64({3, 4, 2}) : rand64({4, 3, 2});
      check_gradcheck(pack, {x});
      check_gradgradcheck(pack, {x});
      const Tensor xp = batch_first ? rand64({2, 4, 3}).permute({2, 1, 0}) : rand64({2, 3, 4}).permute({2, 1, 0});
      check_gradcheck(pack, {xp});  // non-contiguous
      // pad_packed_sequence from packed data [8, 2] with unsorted indices and total_length.
      auto pad = [=](const std::vector<Tensor>& in) {
        const PackedSequence p(in[0], ids({3, 2, 2, 1}), enforce_sorted ? Tensor() : ids({2, 0, 1}));
        return std::get<0>(pad_packed_sequence(p, batch_first, 0.5, 6));
      };
      check_gradcheck(pad, {rand64({8, 2})});
      check_gradgradcheck(pad, {rand64({8, 2})});
      auto unpack = [](const std::vector<Tensor>& in) {
        return cat(unpack_sequence(pack_sequence({in[0], in[1], in[2]}, false)), 0);
      };
      check_gradcheck(unpack, {rand64({2, 3}), rand64({4, 3}), rand64({1, 3})});
    }
}

// ---- errors ------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(error_messages) {
  const Tensor x = time_major();  // [3, 3]
  // pad_sequence
  XGRAD_CHECK_THROW_MSG(pad_sequence({}), "pad_sequence: received an empty list of sequences");
  XGRAD_CHECK_THROW_MSG(pad_sequence({zeros({2, 3}), zeros({2, 4})}),
                        "pad_sequence: sequences must have the same trailing dims: sequence 0 has shape [2, 3] but "
                        "sequence 1 has shape [2, 4]");
  XGRAD_CHECK_THROW_MSG(pad_sequence({zeros({2})}, false, 0.0, "middle"),
                        "pad_sequence: expected padding_side to be one of left or right, but got middle");
  XGRAD_CHECK_THROW_MSG(pad_sequence({zeros({2}), scalar_tensor(1.0)}), "pad_sequence: sequence 1 is 0-d");
  XGRAD_CHECK_THROW_MSG(pad_sequence({zeros({2}), Tensor()}), "pad_sequence: sequence 1 is undefined");
  // pack_padded_sequence
  XGRAD_CHECK_THROW_MSG(pack_padded_sequence(x, ids({3, 1, 2})),
                        "pack_padded_sequence: `lengths` array must be sorted in decreasing order when `enforce_sorted` "
                        "is True. You can pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to "
                        "sidestep this requirement if you do not need ONNX exportability.");
  XGRAD_CHECK_THROW_MSG(pack_padded_sequence(x, ids({3, 2})),
                        "pack_padded_sequence: expected len(lengths) to be equal to batch_size, but got 2 (batch_size=3");
  XGRAD_CHECK_THROW_MSG(pack_padded_sequence(x, tensor({{3, 2, 1}})),
                        "pack_padded_sequence: lengths must be a 1-d tensor, got shape [1, 3]");
  XGRAD_CHECK_THROW_MSG(pack_padded_sequence(x, tensor({3., 2., 1.})),
                        "pack_padded_sequence: lengths must be an int64 or int32 tensor, got float32");
  XGRAD_CHECK_THROW_MSG(pack_padded_sequence(x, ids({3, 2, 0})),
                        "pack_padded_sequence: length of all samples has to be greater than 0, but lengths[2] = 0");
  XGRAD_CHECK_THROW_MSG(pack_padded_sequence(x, ids({3, -1, 2}), false, false),
                        "pack_padded_sequence: length of all samples has to be greater than 0, but lengths[1] = -1");
  XGRAD_CHECK_THROW_MSG(pack_padded_sequence(x, ids({4, 2, 1})),
                        "pack_padded_sequence: lengths[0] = 4 exceeds the sequence length T = 3 of input of shape [3, 3]");
  XGRAD_CHECK_THROW_MSG(pack_padded_sequence(zeros({2, 5}), std::vector<std::int64_t>{6, 1}, true),
                        "pack_padded_sequence: lengths[0] = 6 exceeds the sequence length T = 5");  // batch_first: B = 2
  XGRAD_CHECK_THROW_MSG(pack_padded_sequence(zeros({3}), ids({1, 1, 1})),
                        "pack_padded_sequence: input must have at least 2 dims ([T, B, *] or [B, T, *]), got shape [3]");
  XGRAD_CHECK_THROW_MSG(pack_padded_sequence(zeros({0, 2}), ids({1, 1})),
                        "pack_padded_sequence: cannot pack empty tensors (input of shape [0, 2])");
  XGRAD_CHECK_THROW_MSG(pack_padded_sequence(x, Tensor()), "pack_padded_sequence: lengths is undefined");
  // pack_sequence
  XGRAD_CHECK_THROW_MSG(pack_sequence({}), "pack_sequence: received an empty list of sequences");
  XGRAD_CHECK_THROW_MSG(pack_sequence({zeros({2}), zeros({3})}),
                        "pack_sequence: `lengths` array must be sorted in decreasing order when `enforce_sorted` is True");
  XGRAD_CHECK_THROW_MSG(pack_sequence({zeros({2}), zeros({0})}),
                        "pack_sequence: length of all samples has to be greater than 0, but lengths[1] = 0");
  // pad_packed_sequence
  const PackedSequence p = pack_padded_sequence(x, ids({3, 2, 1}));
  XGRAD_CHECK_THROW_MSG(pad_packed_sequence(p, false, 0.0, 2),
                        "pad_packed_sequence: expected total_length to be at least the length of the longest sequence "
                        "in input, but got total_length=2 and max sequence length being 3");
  XGRAD_CHECK_THROW_MSG(pad_packed_sequence(PackedSequence()), "pad_packed_sequence: the PackedSequence is undefined");
  XGRAD_CHECK_THROW_MSG(pad_packed_sequence(PackedSequence(zeros({3}), ids({1, 2}))),
                        "pad_packed_sequence: batch_sizes must be positive and non-increasing, got [1, 2]");
  XGRAD_CHECK_THROW_MSG(pad_packed_sequence(PackedSequence(zeros({3}), ids({2, 0}))),
                        "pad_packed_sequence: batch_sizes must be positive and non-increasing, got [2, 0]");
  XGRAD_CHECK_THROW_MSG(pad_packed_sequence(PackedSequence(zeros({4}), ids({2, 1}))),
                        "pad_packed_sequence: batch_sizes [2, 1] add up to 3, but data has shape [4]");
  XGRAD_CHECK_THROW_MSG(pad_packed_sequence(PackedSequence(zeros({3}), ids({}))),
                        "pad_packed_sequence: batch_sizes is empty");
  XGRAD_CHECK_THROW_MSG(pad_packed_sequence(PackedSequence(zeros({3}), ids({2, 1}), ids({2, 0, 1}))),
                        "pad_packed_sequence: unsorted_indices must have 2 entries (the batch size), got 3");
  XGRAD_CHECK_THROW_MSG(pad_packed_sequence(PackedSequence(zeros({3}), tensor({2., 1.}))),
                        "pad_packed_sequence: batch_sizes must be an int64 or int32 tensor, got float32");
  XGRAD_CHECK_THROW_MSG(unpack_sequence(PackedSequence()), "unpack_sequence: the PackedSequence is undefined");
  // PackedSequence
  XGRAD_CHECK_THROW_MSG(PackedSequence(zeros({3}), ids({2, 1}), ids({0, 0})),
                        "PackedSequence: sorted_indices must be a permutation of 0..1, got [0, 0]");
  XGRAD_CHECK_THROW_MSG(PackedSequence(zeros({3}), ids({2, 1}), Tensor(), ids({2, 0})),
                        "PackedSequence: unsorted_indices must be a permutation of 0..1, got [2, 0]");
  XGRAD_CHECK_THROW_MSG(PackedSequence(zeros({3}), ids({2, 1}), ids({1, 0}), ids({2, 0, 1})),
                        "PackedSequence: sorted_indices has 2 entries but unsorted_indices has 3");
  // unpad_sequence
  XGRAD_CHECK_THROW_MSG(unpad_sequence(x, ids({3, 4, 1})),
                        "unpad_sequence: lengths[1] = 4 is outside [0, T = 3] (padded_sequences of shape [3, 3]");
  XGRAD_CHECK_THROW_MSG(unpad_sequence(x, ids({3, 1})),
                        "unpad_sequence: expected len(lengths) to be equal to batch_size, but got 2 (batch_size=3");
  XGRAD_CHECK_THROW_MSG(unpad_sequence(zeros({3}), ids({3})),
                        "unpad_sequence: padded_sequences must have at least 2 dims");
  // step_offsets
  XGRAD_CHECK_THROW_MSG(xgrad::nn::utils::rnn::detail::step_offsets(tensor({{1, 2}})), "step_offsets: batch_sizes must be a 1-d tensor");
}

BOOST_AUTO_TEST_SUITE_END()
