// libtorch-style indexing: t.index({Slice(1, 3), 2}), t.index_put_({Slice(), 0}, v).
//
//   using namespace xgrad::indexing;
//   t.index({0})                          // t[0]            select (view)
//   t.index({Slice(1, 3), 2})             // t[1:3, 2]       slice + select (view)
//   t.index({Slice(None, None, 2)})       // t[::2]          slice with a step (view)
//   t.index({None, 0})                    // t[None, 0]      new axis (view)
//   t.index({Ellipsis, 1})                // t[..., 1]       (view)
//   t.index({idx})                        // t[idx]          idx a 1-d int64 tensor (copy)
//   t.index_put_({Slice(), 0}, v)         // t[:, 0] = v     in place, v broadcast
//
// Integers and slices follow Python's rules (negative values count from the end; slices
// clamp to the size; steps must be positive). At most one Ellipsis and one index tensor.
// Throws xgrad::Error "index: ..." naming the indices and the shape on too many indices, an
// out-of-range integer, a second Ellipsis or index tensor, or an index tensor that is not a
// 1-d int64 tensor.
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
