// libtorch-style indexing: t.index({Slice(1, 3), 2}), t.index_put_({Slice(), 0}, v).
//
//   using namespace xgrad::indexing;
//   t.index({0})                          // t[0]            select (view)
//   t.index({Slice(1, 3), 2})             // t[1:3, 2]       slice + select (view)
//   t.index({Slice(None, None, 2)})       // t[::2]          slice with a step (view)
//   t.index({None, 0})                    // t[None, 0]      new axis (view)
//   t.index({Ellipsis, 1})                // t[..., 1]       (view)
//   t.index({idx})                        // t[idx]          idx an int64/int32 tensor (copy)
//   t.index({mask})                       // t[mask]         mask a bool tensor (copy)
//   t.index_put_({Slice(), 0}, v)         // t[:, 0] = v     in place, v broadcast
//   index_put_(t, {idx}, v, true)         // t.index_put_((idx,), v, accumulate=True)
//
// Integers and slices follow Python's rules (negative values count from the end; slices
// clamp to the size; steps must be positive). At most one Ellipsis and one index tensor
// (PyTorch allows several index tensors, broadcast together; xgrad does not yet).
//
// An index tensor is int64 or int32 (any shape; its values may be negative, counting from
// the end, and must lie in [-size, size)) or bool (a mask). An integer index tensor of shape
// I replaces the dim it indexes by I: t.index({idx}) of t [5, 3] with idx [2, 2] has shape
// [2, 2, 3]. A bool mask of k dims indexes the next k dims, whose sizes it must equal, and
// replaces them by one dim holding the true positions in row-major order (a full-shape mask
// gives masked_select(t, mask)); a 0-d bool mask adds a dim of size 1 (true) or 0 (false), as
// in PyTorch. Index tensors give copies (differentiable, gradient routed back to the picked
// elements).
//
// Throws xgrad::Error "index: ..." (or "index_put_: ...") naming the indices and the shape on
// too many indices, an out-of-range integer or index value, a second Ellipsis or index
// tensor, an index tensor of another dtype, and a mask whose shape does not match the dims
// it indexes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <variant>

#include "xgrad/autograd/tensor.hpp"

namespace xgrad::indexing {

/// An absent bound in Slice, or a new axis in an index list (Python's None).
inline constexpr std::nullopt_t None = std::nullopt;

/// Python's `...`: as many full slices as needed.
struct EllipsisIndexType {};
inline constexpr EllipsisIndexType Ellipsis{};

/// Python's start:stop:step; absent values are None.
struct Slice {
  Slice(std::optional<std::int64_t> start = None, std::optional<std::int64_t> stop = None,
        std::optional<std::int64_t> step = None)
      : start(start), stop(stop), step(step) {}
  std::optional<std::int64_t> start, stop, step;
};

/// One entry of an index list.
class TensorIndex {
 public:
  template <class I>
    requires(std::is_integral_v<I> && !std::is_same_v<I, bool>)
  TensorIndex(I i) : v_(static_cast<std::int64_t>(i)) {}
  TensorIndex(std::nullopt_t) : v_(std::monostate{}) {}
  TensorIndex(EllipsisIndexType) : v_(EllipsisIndexType{}) {}
  TensorIndex(Slice s) : v_(s) {}
  TensorIndex(const Tensor& t) : v_(t) {}

  using Value = std::variant<std::monostate, std::int64_t, EllipsisIndexType, Slice, Tensor>;
  const Value& value() const { return v_; }
  /// "None", "2", "...", "1:3:2" or "tensor([2])" (for messages).
  std::string to_string() const;

 private:
  Value v_;
};

}  // namespace xgrad::indexing

namespace xgrad {

/// t[indices] = values in place (PyTorch's index_put_ with its accumulate flag); returns t.
/// values (converted to t's dtype) is broadcast to the shape of t.index(indices). Without
/// an index tensor this is t.index(indices).copy_(values) (accumulate: add_). With one:
/// accumulate = false writes, and where an integer index repeats a position the last write
/// (in index order) wins, deterministically (PyTorch leaves it unspecified); accumulate = true
/// adds, duplicates summed in index order (bit-identical at every thread count; bool tensors
/// throw). Every index is checked before anything is written. Follows the in-place rules of
/// the other in-place ops: bumps the version counter; throws on a leaf that requires grad
/// (or a view of one) while grad mode is on; through a view it rebases the base's history
/// (CopySlices). Gradients: to the old t, the output gradient where nothing was written
/// (accumulate: everywhere); to values, the output gradient at the written positions (the
/// overwritten duplicates get 0), summed over broadcast dims. Throws "index_put_: shape
/// mismatch: value tensor of shape [...] cannot be broadcast to indexing result of shape
/// [...]". The member forms t.index_put_(indices, v) call this with accumulate = false.
Tensor& index_put_(Tensor& t, const std::vector<indexing::TensorIndex>& indices, const Tensor& values,
                   bool accumulate = false);
Tensor& index_put_(Tensor& t, const std::vector<indexing::TensorIndex>& indices, double value,
                   bool accumulate = false);

}  // namespace xgrad
