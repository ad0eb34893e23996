// torch.nn.utils.rnn: packing and padding of variable-length sequences. Every data movement
// is one index_select (or narrow / cat / stack) over the input, so autograd (and double
// backward) comes from those ops; the index arithmetic is done here on plain vectors.
#include "xgrad/nn/rnn_utils.hpp"

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/shape.hpp"
#include "xgrad/autograd/profile_scope.hpp"

namespace xgrad::nn::utils::rnn {

namespace {

using I64s = std::vector<std::int64_t>;

Tensor index_tensor(const I64s& v) { return from_vector<std::int64_t>(v, {static_cast<std::int64_t>(v.size())}); }

// The values of a 1-d int64 / int32 tensor named `what`.
I64s int_values(const Tensor& t, std::string_view op, std::string_view what) {
  if (!t.defined()) throw Error(fmt::format("{}: {} is undefined", op, what));
  if (t.dtype() != Dtype::int64 && t.dtype() != Dtype::int32)
    throw Error(fmt::format("{}: {} must be an int64 or int32 tensor, got {}", op, what, t.dtype()));
  if (t.dim() != 1)
    throw Error(fmt::format("{}: {} must be a 1-d tensor, got shape {}", op, what, t.shape()));
  return t.to(Dtype::int64).contiguous().to_vector<std::int64_t>();
}

// Throws unless p is a permutation of 0..n-1.
void check_permutation(const I64s& p, std::int64_t n, std::string_view op, std::string_view what) {
  if (static_cast<std::int64_t>(p.size()) != n)
    throw Error(fmt::format("{}: {} must have {} entries (the batch size), got {}", op, what, n, p.size()));
  std::vector<char> seen(p.size(), 0);
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (p[i] < 0 || p[i] >= n || seen[static_cast<std::size_t>(p[i])])
      throw Error(fmt::format("{}: {} must be a permutation of 0..{}, got {}", op, what, n - 1, p));
    seen[static_cast<std::size_t>(p[i])] = 1;
  }
}

Shape trailing(const Tensor& t, std::int64_t from) { return Shape(t.shape().begin() + from, t.shape().end()); }

Tensor pad_impl(std::string_view op, const std::vector<Tensor>& seqs, bool batch_first, double value,
                std::string_view side) {
  if (side != "left" && side != "right")
    throw Error(fmt::format("{}: expected padding_side to be one of left or right, but got {}", op, side));
  if (seqs.empty()) throw Error(fmt::format("{}: received an empty list of sequences", op));
  std::int64_t max_len = 0;
  for (std::size_t i = 0; i < seqs.size(); ++i) {
    if (!seqs[i].defined()) throw Error(fmt::format("{}: sequence {} is undefined", op, i));
    if (seqs[i].dim() == 0) throw Error(fmt::format("{}: sequence {} is 0-d; sequences must be at least 1-d", op, i));
    if (trailing(seqs[i], 1) != trailing(seqs[0], 1))
      throw Error(fmt::format("{}: sequences must have the same trailing dims: sequence 0 has shape {} but sequence {} "
                              "has shape {}",
                              op, seqs[0].shape(), i, seqs[i].shape()));
    max_len = std::max(max_len, seqs[i].size(0));
  }
  const Dtype dt = seqs[0].dtype();
  const Shape tail = trailing(seqs[0], 1);
  std::vector<Tensor> padded;
  padded.reserve(seqs.size());
  for (const Tensor& s0 : seqs) {
    const Tensor s = s0.dtype() == dt ? s0 : s0.to(dt);
    const std::int64_t n = s.size(0);
    if (n == max_len) {
      padded.push_back(s);
      continue;
    }
    Shape fill_shape{max_len - n};
    fill_shape.insert(fill_shape.end(), tail.begin(), tail.end());
    const Tensor fill = full(fill_shape, value, dtype(dt));
    if (n == 0)
      padded.push_back(fill);
    else
      padded.push_back(side == "right" ? cat({s, fill}, 0) : cat({fill, s}, 0));
  }
  return stack(padded, batch_first ? 0 : 1);
}

PackedSequence pack_impl(std::string_view op, const Tensor& input, const I64s& lengths, bool batch_first,
                         bool enforce_sorted) {
  if (!input.defined()) throw Error(fmt::format("{}: input is undefined", op));
  if (input.dim() < 2)
    throw Error(fmt::format("{}: input must have at least 2 dims ([T, B, *] or [B, T, *]), got shape {}", op,
                            input.shape()));
  if (input.numel() == 0) throw Error(fmt::format("{}: cannot pack empty tensors (input of shape {})", op, input.shape()));
  const std::int64_t t_dim = batch_first ? 1 : 0;
  const std::int64_t steps = input.size(t_dim), batch = input.size(1 - t_dim);
  if (static_cast<std::int64_t>(lengths.size()) != batch)
    throw Error(fmt::format("{}: expected len(lengths) to be equal to batch_size, but got {} (batch_size={}, input of "
                            "shape {}, batch_first={})",
                            op, lengths.size(), batch, input.shape(), batch_first));
  for (std::size_t b = 0; b < lengths.size(); ++b) {
    if (lengths[b] <= 0)
      throw Error(fmt::format("{}: length of all samples has to be greater than 0, but lengths[{}] = {} (lengths {})",
                              op, b, lengths[b], lengths));
    if (lengths[b] > steps)
      throw Error(fmt::format("{}: lengths[{}] = {} exceeds the sequence length T = {} of input of shape {} "
                              "(batch_first={})",
                              op, b, lengths[b], steps, input.shape(), batch_first));
  }
  I64s order(lengths.size());
  std::iota(order.begin(), order.end(), 0);
  if (enforce_sorted) {
    for (std::size_t b = 1; b < lengths.size(); ++b)
      if (lengths[b] > lengths[b - 1])
        throw Error(fmt::format("{}: `lengths` array must be sorted in decreasing order when `enforce_sorted` is True. "
                                "You can pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to "
                                "sidestep this requirement if you do not need ONNX exportability. (lengths {})",
                                op, lengths));
  } else {
    std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
      return lengths[static_cast<std::size_t>(a)] > lengths[static_cast<std::size_t>(b)];
    });
  }
  const std::int64_t max_len = lengths[static_cast<std::size_t>(order[0])];
  I64s batch_sizes(static_cast<std::size_t>(max_len), 0);
  for (std::int64_t l : lengths)
    for (std::int64_t t = 0; t < l; ++t) ++batch_sizes[static_cast<std::size_t>(t)];
  // Row (t, order[k]) of the input, flattened over its first two dims, for k < batch_sizes[t].
  I64s rows;
  for (std::int64_t t = 0; t < max_len; ++t)
    for (std::int64_t k = 0; k < batch_sizes[static_cast<std::size_t>(t)]; ++k) {
      const std::int64_t b = order[static_cast<std::size_t>(k)];
      rows.push_back(batch_first ? b * steps + t : t * batch + b);
    }
  Tensor data = index_select(flatten(input, 0, 1), 0, index_tensor(rows));
  return enforce_sorted ? PackedSequence(std::move(data), index_tensor(batch_sizes))
                        : PackedSequence(std::move(data), index_tensor(batch_sizes), index_tensor(order));
}

std::tuple<Tensor, Tensor> pad_packed_impl(std::string_view op, const PackedSequence& seq, bool batch_first,
                                           double value, std::optional<std::int64_t> total_length) {
  if (!seq.is_defined()) throw Error(fmt::format("{}: the PackedSequence is undefined (no data)", op));
  const Tensor& data = seq.data();
  if (data.dim() < 1) throw Error(fmt::format("{}: data must have at least 1 dim, got shape {}", op, data.shape()));
  const I64s bs = int_values(seq.batch_sizes(), op, "batch_sizes");
  if (bs.empty()) throw Error(fmt::format("{}: batch_sizes is empty", op));
  std::int64_t total = 0;
  for (std::size_t t = 0; t < bs.size(); ++t) {
    if (bs[t] <= 0 || (t > 0 && bs[t] > bs[t - 1]))
      throw Error(fmt::format("{}: batch_sizes must be positive and non-increasing, got {}", op, bs));
    total += bs[t];
  }
  if (total != data.size(0))
    throw Error(fmt::format("{}: batch_sizes {} add up to {}, but data has shape {}", op, bs, total, data.shape()));
  const std::int64_t batch = bs[0], max_len = static_cast<std::int64_t>(bs.size());
  std::int64_t steps = max_len;
  if (total_length) {
    if (*total_length < max_len)
      throw Error(fmt::format("{}: expected total_length to be at least the length of the longest sequence in input, "
                              "but got total_length={} and max sequence length being {}",
                              op, *total_length, max_len));
    steps = *total_length;
  }
  // pos[b]: the sorted position of original sequence b.
  I64s pos(static_cast<std::size_t>(batch));
  std::iota(pos.begin(), pos.end(), 0);
  if (seq.unsorted_indices().defined()) {
    pos = int_values(seq.unsorted_indices(), op, "unsorted_indices");
    check_permutation(pos, batch, op, "unsorted_indices");
  }
  const I64s off = detail::step_offsets(seq.batch_sizes());
  I64s lengths(static_cast<std::size_t>(batch), 0);
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t t = 0; t < max_len && pos[static_cast<std::size_t>(b)] < bs[static_cast<std::size_t>(t)]; ++t)
      ++lengths[static_cast<std::size_t>(b)];
  // Output element (t, b) is data row off[t] + pos[b] inside the sequence, else the padding row `total`.
  I64s rows;
  rows.reserve(static_cast<std::size_t>(steps * batch));
  bool padded_any = false;
  auto row = [&](std::int64_t t, std::int64_t b) {
    const std::int64_t p = pos[static_cast<std::size_t>(b)];
    if (t < lengths[static_cast<std::size_t>(b)]) return off[static_cast<std::size_t>(t)] + p;
    padded_any = true;
    return total;
  };
  if (batch_first) {
    for (std::int64_t b = 0; b < batch; ++b)
      for (std::int64_t t = 0; t < steps; ++t) rows.push_back(row(t, b));
  } else {
    for (std::int64_t t = 0; t < steps; ++t)
      for (std::int64_t b = 0; b < batch; ++b) rows.push_back(row(t, b));
  }
  Shape pad_shape{1};
  const Shape tail = trailing(data, 1);
  pad_shape.insert(pad_shape.end(), tail.begin(), tail.end());
  const Tensor source = padded_any ? cat({data, full(pad_shape, value, dtype(data.dtype()))}, 0) : data;
  Shape out_shape = batch_first ? Shape{batch, steps} : Shape{steps, batch};
  out_shape.insert(out_shape.end(), tail.begin(), tail.end());
  Tensor out = reshape(index_select(source, 0, index_tensor(rows)), out_shape);
  return {out, index_tensor(lengths)};
}

std::vector<Tensor> unpad_impl(std::string_view op, const Tensor& padded, const I64s& lengths, bool batch_first) {
  if (!padded.defined()) throw Error(fmt::format("{}: padded_sequences is undefined", op));
  if (padded.dim() < 2)
    throw Error(fmt::format("{}: padded_sequences must have at least 2 dims ([T, B, *] or [B, T, *]), got shape {}",
                            op, padded.shape()));
  const std::int64_t t_dim = batch_first ? 1 : 0, b_dim = 1 - t_dim;
  const std::int64_t steps = padded.size(t_dim), batch = padded.size(b_dim);
  if (static_cast<std::int64_t>(lengths.size()) != batch)
    throw Error(fmt::format("{}: expected len(lengths) to be equal to batch_size, but got {} (batch_size={}, "
                            "padded_sequences of shape {}, batch_first={})",
                            op, lengths.size(), batch, padded.shape(), batch_first));
  std::vector<Tensor> out;
  out.reserve(lengths.size());
  for (std::int64_t b = 0; b < batch; ++b) {
    const std::int64_t l = lengths[static_cast<std::size_t>(b)];
    if (l < 0 || l > steps)
      throw Error(fmt::format("{}: lengths[{}] = {} is outside [0, T = {}] (padded_sequences of shape {}, "
                              "batch_first={})",
                              op, b, l, steps, padded.shape(), batch_first));
    out.push_back(narrow(select(padded, b_dim, b), 0, 0, l));
  }
  return out;
}

}  // namespace

PackedSequence::PackedSequence(Tensor data, Tensor batch_sizes, Tensor sorted_indices, Tensor unsorted_indices)
    : data_(std::move(data)), batch_sizes_(std::move(batch_sizes)) {
  constexpr std::string_view op = "PackedSequence";
  if (sorted_indices.defined()) {
    const I64s s = int_values(sorted_indices, op, "sorted_indices");
    check_permutation(s, static_cast<std::int64_t>(s.size()), op, "sorted_indices");
    sorted_indices_ = index_tensor(s);
    if (!unsorted_indices.defined()) {
      I64s inv(s.size());
      for (std::size_t i = 0; i < s.size(); ++i) inv[static_cast<std::size_t>(s[i])] = static_cast<std::int64_t>(i);
      unsorted_indices = index_tensor(inv);
    }
  }
  if (unsorted_indices.defined()) {
    const I64s u = int_values(unsorted_indices, op, "unsorted_indices");
    check_permutation(u, static_cast<std::int64_t>(u.size()), op, "unsorted_indices");
    if (sorted_indices_.defined() && sorted_indices_.size(0) != static_cast<std::int64_t>(u.size()))
      throw Error(fmt::format("{}: sorted_indices has {} entries but unsorted_indices has {}", op,
                              sorted_indices_.size(0), u.size()));
    unsorted_indices_ = index_tensor(u);
  }
}

Tensor pad_sequence(const std::vector<Tensor>& sequences, bool batch_first, double padding_value,
                    std::string_view padding_side) {
  XGRAD_PROFILE_OP("utils.rnn.pad_sequence");
  return pad_impl("pad_sequence", sequences, batch_first, padding_value, padding_side);
}

PackedSequence pack_padded_sequence(Tensor input, Tensor lengths, bool batch_first, bool enforce_sorted) {
  constexpr std::string_view op = "pack_padded_sequence";
  return pack_impl(op, input, int_values(lengths, op, "lengths"), batch_first, enforce_sorted);
}

PackedSequence pack_padded_sequence(Tensor input, const std::vector<std::int64_t>& lengths, bool batch_first,
                                    bool enforce_sorted) {
  return pack_impl("pack_padded_sequence", input, lengths, batch_first, enforce_sorted);
}

std::tuple<Tensor, Tensor> pad_packed_sequence(const PackedSequence& sequence, bool batch_first, double padding_value,
                                               std::optional<std::int64_t> total_length) {
  XGRAD_PROFILE_OP("utils.rnn.pad_packed_sequence");
  return pad_packed_impl("pad_packed_sequence", sequence, batch_first, padding_value, total_length);
}

PackedSequence pack_sequence(const std::vector<Tensor>& sequences, bool enforce_sorted) {
  constexpr std::string_view op = "pack_sequence";
  const Tensor padded = pad_impl(op, sequences, false, 0.0, "right");
  I64s lengths;
  lengths.reserve(sequences.size());
  for (const Tensor& s : sequences) lengths.push_back(s.size(0));
  return pack_impl(op, padded, lengths, false, enforce_sorted);
}

std::vector<Tensor> unpad_sequence(const Tensor& padded_sequences, const Tensor& lengths, bool batch_first) {
  XGRAD_PROFILE_OP("utils.rnn.unpad_sequence", padded_sequences, lengths);
  constexpr std::string_view op = "unpad_sequence";
  return unpad_impl(op, padded_sequences, int_values(lengths, op, "lengths"), batch_first);
}

std::vector<Tensor> unpack_sequence(const PackedSequence& packed_sequences) {
  XGRAD_PROFILE_OP("utils.rnn.unpack_sequence");
  constexpr std::string_view op = "unpack_sequence";
  auto [padded, lengths] = pad_packed_impl(op, packed_sequences, true, 0.0, std::nullopt);
  return unpad_impl(op, padded, lengths.to_vector<std::int64_t>(), true);
}

namespace detail {
std::vector<std::int64_t> step_offsets(const Tensor& batch_sizes) {
  const I64s bs = int_values(batch_sizes, "step_offsets", "batch_sizes");
  I64s off(bs.size() + 1, 0);
  for (std::size_t t = 0; t < bs.size(); ++t) off[t + 1] = off[t] + bs[t];
  return off;
}
}  // namespace detail

}  // namespace xgrad::nn::utils::rnn
