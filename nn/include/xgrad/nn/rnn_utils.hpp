// Variable-length sequence utilities (PyTorch's torch.nn.utils.rnn), namespace
// xgrad::nn::utils::rnn: PackedSequence, pad_sequence, pack_padded_sequence,
// pad_packed_sequence, pack_sequence, unpad_sequence, unpack_sequence.
//
// Common rules:
// * Everything is built from differentiable ops (index_select, narrow, cat, stack, views), so
//   gradients flow from packed data back to the padded input and from a padded output back to
//   the packed data (and double backward works).
// * lengths are int64 or int32 tensors (any layout, on the CPU like everything else) or a
//   std::vector<std::int64_t>; floating or bool lengths throw (PyTorch would convert a
//   floating lengths tensor to int64). Every length must lie in [1, T] (T the time extent of
//   the padded input), else xgrad::Error.
// * Sorted order is decreasing length; ties keep their original order (a stable sort), as
//   PyTorch's torch.sort(descending=True) does on the CPU for these small inputs.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <tuple>
#include <vector>

#include "xgrad/autograd/tensor.hpp"

namespace xgrad::nn::utils::rnn {

/// A packed batch of variable-length sequences (PyTorch's PackedSequence, libtorch's accessors).
/// data: [sum of lengths, *] (time-major: the batch_sizes[0] first-step rows, then the
/// batch_sizes[1] second-step rows, ...; within a step, rows in sorted (decreasing-length)
/// order); batch_sizes: int64 [T_max], non-increasing, every entry >= 1;
/// sorted_indices / unsorted_indices: int64 [B] or undefined (undefined = the batch was
/// already sorted, enforce_sorted=true). sorted_indices[k] is the original batch index of the
/// k-th longest sequence; unsorted_indices is its inverse permutation.
/// The constructor stores data and batch_sizes as given (the functions below validate what
/// they read). Indices may be int64 or int32 and are stored as int64; if sorted_indices is given
/// and unsorted_indices is not, the latter is computed as the inverse permutation (as PyTorch).
/// Departing from PyTorch (which does not check), the indices must be 1-d permutations of
/// 0..n-1 of the same size, else xgrad::Error "PackedSequence: ...".
class PackedSequence {
 public:
  PackedSequence() = default;
  PackedSequence(Tensor data, Tensor batch_sizes, Tensor sorted_indices = Tensor(),
                 Tensor unsorted_indices = Tensor());

  const Tensor& data() const { return data_; }
  const Tensor& batch_sizes() const { return batch_sizes_; }
  const Tensor& sorted_indices() const { return sorted_indices_; }
  const Tensor& unsorted_indices() const { return unsorted_indices_; }
  /// True when data is defined.
  bool is_defined() const { return data_.defined(); }

 private:
  Tensor data_;
  Tensor batch_sizes_;
  Tensor sorted_indices_;
  Tensor unsorted_indices_;
};

/// Stacks a list of tensors of shapes [L_i, *] (the same trailing dims *) into [T, B, *]
/// (batch_first: [B, T, *]), T = max L_i, filling the missing steps with padding_value
/// (converted to the result dtype). The result has the FIRST sequence's dtype, the others are
/// converted to it (as PyTorch, which copies into a tensor made like sequences[0]).
/// padding_side "right" (default) puts sequence i at steps [0, L_i), "left" at [T - L_i, T).
/// L_i may be 0. Departing from PyTorch, trailing dims must match exactly (PyTorch's copy
/// would broadcast e.g. [L, 1] into [L, 3]).
/// Throws xgrad::Error "pad_sequence: ..." for an empty list, a 0-d tensor, trailing dims that
/// differ, or padding_side other than "left"/"right".
Tensor pad_sequence(const std::vector<Tensor>& sequences, bool batch_first = false,
                    double padding_value = 0.0, std::string_view padding_side = "right");

/// Packs a padded batch input [T, B, *] (batch_first: [B, T, *]) whose sequence b has length
/// lengths[b] (int64/int32 1-d tensor of size B). enforce_sorted=true requires lengths
/// non-increasing (sorted_indices stay undefined); false sorts by decreasing length (stable)
/// and records sorted_indices / unsorted_indices. batch_sizes[t] = #{b : lengths[b] > t}.
/// data[off_t + k] = input[t, sorted_indices[k]] for k < batch_sizes[t] (input[sorted_indices[k],
/// t] with batch_first), off_t = batch_sizes[0] + ... + batch_sizes[t-1]; data has input's dtype.
/// Throws xgrad::Error "pack_padded_sequence: ..." for input of rank < 2 or with no elements
/// ("cannot pack empty tensors"), lengths not 1-d / not integer / not of size B, a length <= 0
/// or > T, and, with enforce_sorted, unsorted lengths (PyTorch's message about
/// `enforce_sorted`).
PackedSequence pack_padded_sequence(Tensor input, Tensor lengths, bool batch_first = false,
                                    bool enforce_sorted = true);
PackedSequence pack_padded_sequence(Tensor input, const std::vector<std::int64_t>& lengths,
                                    bool batch_first = false, bool enforce_sorted = true);

/// Inverse of pack_padded_sequence: returns (padded, lengths) with padded [T, B, *]
/// (batch_first: [B, T, *]), T = total_length if given else batch_sizes.size(0), positions past
/// each sequence's end filled with padding_value; lengths int64 [B]. Both are in the ORIGINAL
/// batch order (rows reordered by unsorted_indices when defined), as PyTorch.
/// Throws xgrad::Error "pad_packed_sequence: ..." for an undefined sequence, batch_sizes not
/// a non-increasing positive int64 1-d tensor consistent with data.size(0), indices of the
/// wrong size, or total_length smaller than the longest sequence.
std::tuple<Tensor, Tensor> pad_packed_sequence(
    const PackedSequence& sequence, bool batch_first = false, double padding_value = 0.0,
    std::optional<std::int64_t> total_length = std::nullopt);

/// Packs a list of tensors [L_i, *] (L_i >= 1): pad_sequence then pack_padded_sequence with
/// lengths L_i. enforce_sorted=true requires L_i non-increasing.
/// Throws as pad_sequence and pack_padded_sequence, the messages naming "pack_sequence"
/// (an empty list; a sequence of length 0; unsorted lengths with enforce_sorted).
PackedSequence pack_sequence(const std::vector<Tensor>& sequences, bool enforce_sorted = true);

/// Splits a padded batch [T, B, *] (batch_first: [B, T, *]) into B tensors [lengths[b], *]
/// (views of the input, differentiable). Throws xgrad::Error "unpad_sequence: ..." for
/// padded_sequences of rank < 2, lengths not 1-d int64/int32 of size B, or a length < 0 or
/// > T. (PyTorch silently zips to the shorter of lengths and the batch, and a length past T
/// takes the whole row; we throw instead.)
std::vector<Tensor> unpad_sequence(const Tensor& padded_sequences, const Tensor& lengths,
                                   bool batch_first = false);

/// Inverse of pack_sequence: the B sequences [L_b, *] in the original order.
/// Throws as pad_packed_sequence.
std::vector<Tensor> unpack_sequence(const PackedSequence& packed_sequences);

namespace detail {
/// For layers: given sorted-order data, the row offset of each time step:
/// offsets[t] = batch_sizes[0] + ... + batch_sizes[t-1] (size T_max + 1; the last entry is the
/// total row count). batch_sizes must be a 1-d int64 or int32 tensor, else xgrad::Error.
std::vector<std::int64_t> step_offsets(const Tensor& batch_sizes);
}  // namespace detail

}  // namespace xgrad::nn::utils::rnn
