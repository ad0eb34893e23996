// Private view machinery: geometries (sizes, strides, offset), making views, the strided
// gradient ops every view's backward is built from, and PyTorch's CopySlices for in-place
// ops through views. See view.cpp.
#pragma once

#include <string_view>
#include <vector>

#include "xgrad/autograd/node.hpp"
#include "xgrad/autograd/tensor.hpp"

namespace xgrad::detail {

/// Where a tensor's elements sit in its storage: element i lives at offset + sum_d i_d stride_d.
struct Geometry {
  Shape sizes, strides;
  std::int64_t offset = 0;
};

Geometry geometry_of(const Tensor& t);
/// Row-major strides and offset 0.
Geometry contiguous_geometry(const Shape& sizes);
/// PyTorch's contiguity rule (size-1 dims may have any stride; empty tensors are contiguous).
bool is_contiguous_layout(const Shape& sizes, const Shape& strides);
/// True when no two indices of the geometry reach the same element (sufficient test).
bool non_overlapping(const Shape& sizes, const Shape& strides);

/// A tensor sharing `a`'s storage with geometry g (absolute offset); nothing recorded. The
/// result remembers a's base (a itself when a is not a view) for in-place ops through it.
Tensor make_view(const Tensor& a, const Geometry& g);

/// Records a view op: out = make_view(a, g), with `backward` as its gradient.
Tensor record_view(const Tensor& a, const Geometry& g, const char* name, BackwardFn backward);

/// The gradient of an input with geometry `in` for a view of it with geometry `out`
/// (absolute offsets into the same storage): zeros of in.sizes with g added at the elements
/// the view reads (several times where the view reads an element several times).
/// Differentiable.
Tensor view_backward(const Tensor& g, const Geometry& in, const Geometry& out);

/// Strided view of a *contiguous* tensor x with geometry g whose offset is relative to x's
/// first element (recorded; its gradient is view_backward).
Tensor strided_view(const Tensor& x, const Geometry& g);

/// After an in-place op through view `self` wrote `result` (which carries the op's history)
/// into self's memory: makes self's base take a CopySlices grad_fn (the old base history
/// outside the view, result's history inside it). self's own grad_fn is regenerated lazily.
void rebase_view_history(const Tensor& self, const Tensor& result);

/// "<op>: a view of a leaf tensor that requires grad ..." when self is such a view and grad
/// mode is on.
void check_inplace_view(const Tensor& self, std::string_view op);

/// The checks every in-place op makes on its target before writing: defined, not a leaf
/// that requires grad (in grad mode), and check_inplace_view.
void check_inplace_target(const Tensor& self, std::string_view op);
/// Writes `r` (self's shape and dtype, carrying the op's history) into self's memory and
/// rebases self's history onto r: self takes r's grad_fn, or, for a view, its base gets a
/// CopySlices (rebase_view_history). Throws for a shape mismatch, a view made in no-grad
/// mode, and one of several views returned together by unbind/split/chunk.
void rebase_inplace(Tensor& self, const Tensor& r, std::string_view op);

}  // namespace xgrad::detail
