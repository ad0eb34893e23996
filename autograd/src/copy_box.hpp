// Copies between layouts (contiguous(), writes into views): built on the kernel layer's
// strided box copy (xgrad/autograd/kernel/copy.hpp).
#pragma once

#include <algorithm>
#include <vector>

#include "kernel.hpp"
#include "xgrad/autograd/kernel/copy.hpp"

namespace xgrad::detail {

using kernel::copy_box;

/// Copies src (any strides, broadcast to dst's shape by stride 0) into dst (any strides
/// that do not overlap), element by element in dst's index order. Same dtype.
void copy_into(const Tensor& dst, const Tensor& src);
/// A contiguous copy of t (nothing recorded).
Tensor contiguous_copy(const Tensor& t);

}  // namespace xgrad::detail
