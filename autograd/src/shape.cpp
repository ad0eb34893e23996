// Shape ops that copy: cat, stack, pad. (The views are in shape_view.cpp; index_select,
// gather and scatter_add in shape_index.cpp.)
//
// Every op here is one strided box copy (copy_box): the output, or a box inside it, is
// filled from a box of the input read with its strides. pad is "uncrop" (write a into a box
// of a filled tensor) and its gradient "crop" (read a box); each is the other's backward, so
// derivatives of any order are available.
#include <algorithm>
#include <numeric>

#include "copy_box.hpp"
#include "kernel.hpp"
#include "xgrad/autograd/shape.hpp"
#include "xgrad/autograd/profile_scope.hpp"

namespace xgrad {

namespace {

using Grads = std::vector<Tensor>;
using Dims = std::vector<std::int64_t>;

// Fills every element of t with v.
template <class T>
void fill(Tensor& t, T v) {
  T* p = t.data_ptr<T>();
  detail::parallel_for(t.numel(), detail::kGrain, [&](std::int64_t b, std::int64_t e) { std::fill(p + b, p + e, v); });
}

// A strided box inside a bigger tensor: element i of the box (per dim) sits at
// starts[d] + i * steps[d] of the big tensor.
struct Box {
  Dims starts, steps;
  Shape sizes;
};

Box full_box(const Shape& s) { return {Dims(s.size(), 0), Dims(s.size(), 1), s}; }

Tensor uncrop(const Tensor& g, const Shape& big, const Box& box, double fill_value, const char* name);

// out = a[box] (shape box.sizes). Gradient: uncrop into zeros of a's shape.
Tensor crop(const Tensor& a, const Box& box, const char* name) {
  Tensor out = detail::make_tensor(box.sizes, a.dtype());
  detail::dispatch(a.dtype(), [&]<class T>() {
    const Dims& st = a.strides();
    Dims src_st(st.size());
    std::int64_t off = 0;
    for (std::size_t d = 0; d < st.size(); ++d) {
      src_st[d] = st[d] * box.steps[d];
      off += st[d] * box.starts[d];
    }
    detail::copy_box<T>(a.strided_data_ptr<T>(), off, src_st, out.data_ptr<T>(), 0,
                        detail::contiguous_strides(box.sizes), box.sizes);
  });
  if (any_requires_grad({&a}))
    record(name, {a}, {out}, {}, [big = a.shape(), box](const Grads& g, const Grads&) {
      return Grads{uncrop(g[0], big, box, 0.0, "PadBackward")};
    });
  return out;
}

// out = fill_value everywhere except out[box] = g; out has shape `big`. Gradient: crop.
Tensor uncrop(const Tensor& g, const Shape& big, const Box& box, double fill_value, const char* name) {
  Tensor out = detail::make_tensor(big, g.dtype());
  detail::dispatch(g.dtype(), [&]<class T>() {
    if (shape_numel(box.sizes) != out.numel()) fill<T>(out, detail::scalar_as<T>(fill_value, name));
    const Dims st = detail::contiguous_strides(big);
    Dims dst_st(st.size());
    std::int64_t off = 0;
    for (std::size_t d = 0; d < st.size(); ++d) {
      dst_st[d] = st[d] * box.steps[d];
      off += st[d] * box.starts[d];
    }
    detail::copy_box<T>(g.strided_data_ptr<T>(), 0, g.strides(), out.data_ptr<T>(), off, dst_st, box.sizes);
  });
  if (any_requires_grad({&g}))
    record(name, {g}, {out}, {},
           [box](const Grads& gr, const Grads&) { return Grads{crop(gr[0], box, "SliceBackward")}; });
  return out;
}

// Concatenation of already-validated tensors into a tensor of shape `os`: tensor i fills
// the box of os with sizes[i] along dim, starting at offsets[i] (stack passes size 1 and
// the tensors' data is read as if it had that extra dim).
Tensor cat_kernel(const std::vector<Tensor>& tensors, const Dims& offsets, const Dims& sizes, std::int64_t dim,
                  const Shape& os, Dtype dtype) {
  Tensor out = detail::make_tensor(os, dtype);
  const Dims out_st = detail::contiguous_strides(os);
  detail::dispatch(dtype, [&]<class T>() {
    T* po = out.data_ptr<T>();
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      Shape box = os;
      box[dim] = sizes[i];
      // stack reads each tensor with an extra size-1 dim at `dim` (any stride will do).
      Dims src_st = tensors[i].strides();
      if (src_st.size() < box.size()) src_st.insert(src_st.begin() + dim, 0);
      detail::copy_box<T>(tensors[i].strided_data_ptr<T>(), 0, src_st, po, offsets[i] * out_st[dim], out_st,
                  box);
    }
  });
  return out;
}

}  // namespace

// ---- cat / stack ---------------------------------------------------------------------

Tensor cat(const std::vector<Tensor>& tensors, std::int64_t dim) {
  XGRAD_PROFILE_OP("cat");
  if (tensors.empty()) throw Error("cat: expected a non-empty list of tensors");
  for (const auto& t : tensors) detail::check_defined(t, "cat");
  // PyTorch's legacy rule: 1-d tensors of shape [0] are skipped when the others differ.
  auto skipped = [](const Tensor& t) { return t.dim() == 1 && t.numel() == 0; };
  std::size_t ref = 0;
  while (ref < tensors.size() && skipped(tensors[ref])) ++ref;
  if (ref == tensors.size()) ref = 0;
  const Tensor& r = tensors[ref];
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    if (tensors[i].dim() == 0)
      throw Error(fmt::format("cat: zero-dimensional tensor (at position {}) cannot be concatenated", i));
    if (tensors[i].dtype() != r.dtype())
      throw Error(
          fmt::format("cat: expected all tensors to have the same dtype, but tensor {} is {} and tensor {} is {}", ref,
                      r.dtype(), i, tensors[i].dtype()));
  }
  const std::int64_t d = detail::wrap_dim(dim, r.dim(), "cat", r.shape());
  Shape os = r.shape();
  os[d] = 0;
  std::vector<Tensor> used;
  Dims offsets, sizes;
  std::vector<std::int64_t> starts(tensors.size(), 0);
  std::vector<bool> is_skipped(tensors.size(), false);
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    if (skipped(t) && t.dim() != r.dim()) {
      is_skipped[i] = true;
      continue;
    }
    if (t.dim() != r.dim())
      throw Error(
          fmt::format("cat: tensors must have the same number of dimensions, but tensor {} has shape {} and "
                      "tensor {} has shape {}",
                      ref, r.shape(), i, t.shape()));
    for (std::int64_t k = 0; k < r.dim(); ++k)
      if (k != d && t.shape()[k] != r.shape()[k])
        throw Error(
            fmt::format("cat: sizes of tensors must match except in dimension {}, but tensor {} has shape {} "
                        "and tensor {} has shape {} (mismatch in dimension {})",
                        d, ref, r.shape(), i, t.shape(), k));
    starts[i] = os[d];
    offsets.push_back(os[d]);
    sizes.push_back(t.shape()[d]);
    used.push_back(t);
    os[d] += t.shape()[d];
  }
  Tensor out = cat_kernel(used, offsets, sizes, d, os, r.dtype());
  if (any_requires_grad(tensors)) {
    std::vector<bool> req(tensors.size());
    std::vector<Shape> shapes(tensors.size());
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      req[i] = tensors[i].requires_grad();
      shapes[i] = tensors[i].shape();
    }
    record("CatBackward", tensors, {out}, {},
           [req, shapes, starts, is_skipped, d, dtype = r.dtype()](const Grads& g, const Grads&) {
             Grads out_g(req.size());
             for (std::size_t i = 0; i < req.size(); ++i) {
               if (!req[i]) continue;
               out_g[i] =
                   is_skipped[i] ? detail::make_tensor(shapes[i], dtype) : narrow(g[0], d, starts[i], shapes[i][d]);
             }
             return out_g;
           });
  }
  return out;
}

Tensor stack(const std::vector<Tensor>& tensors, std::int64_t dim) {
  XGRAD_PROFILE_OP("stack");
  if (tensors.empty()) throw Error("stack: expected a non-empty list of tensors");
  for (const auto& t : tensors) detail::check_defined(t, "stack");
  const Tensor& r = tensors[0];
  for (std::size_t i = 1; i < tensors.size(); ++i) {
    if (tensors[i].shape() != r.shape())
      throw Error(
          fmt::format("stack: expects each tensor to be equal size, but tensor 0 has shape {} and tensor {} has "
                      "shape {}",
                      r.shape(), i, tensors[i].shape()));
    if (tensors[i].dtype() != r.dtype())
      throw Error(
          fmt::format("stack: expected all tensors to have the same dtype, but tensor 0 is {} and tensor {} is {}",
                      r.dtype(), i, tensors[i].dtype()));
  }
  const std::int64_t d = detail::wrap_dim(dim, r.dim() + 1, "stack", r.shape());
  Shape os = r.shape();
  os.insert(os.begin() + d, static_cast<std::int64_t>(tensors.size()));
  std::vector<std::int64_t> offsets(tensors.size());
  std::iota(offsets.begin(), offsets.end(), std::int64_t{0});
  Tensor out = cat_kernel(tensors, offsets, Dims(tensors.size(), 1), d, os, r.dtype());
  if (any_requires_grad(tensors)) {
    std::vector<bool> req(tensors.size());
    for (std::size_t i = 0; i < tensors.size(); ++i) req[i] = tensors[i].requires_grad();
    // Gradient of piece i: slice i of g along the new dim, with that dim removed.
    record("StackBackward", tensors, {out}, {}, [req, d, in_shape = r.shape()](const Grads& g, const Grads&) {
      Grads out_g(req.size());
      for (std::size_t i = 0; i < req.size(); ++i)
        if (req[i]) out_g[i] = reshape(narrow(g[0], d, static_cast<std::int64_t>(i), 1), in_shape);
      return out_g;
    });
  }
  return out;
}

// ---- pad -------------------------------------------------------------------------------

namespace detail {
// reflect / replicate / circular (pad.cpp); `pad` is validated and not all zero.
Tensor pad_by_index(const Tensor& a, const std::vector<std::int64_t>& pad, PadMode mode);
}  // namespace detail

Tensor pad(const Tensor& a, const std::vector<std::int64_t>& pad, double value) {
  XGRAD_PROFILE_OP("pad", a);
  return xgrad::pad(a, pad, PadMode::constant, value);
}

Tensor pad(const Tensor& a, const std::vector<std::int64_t>& pad, PadMode mode, double value) {
  XGRAD_PROFILE_OP("pad", a);
  detail::check_defined(a, "pad");
  if (pad.size() % 2 != 0)
    throw Error(fmt::format("pad: padding length must be even (pairs of before, after), got {}", pad));
  if (static_cast<std::int64_t>(pad.size() / 2) > a.dim())
    throw Error(fmt::format("pad: padding {} has {} pairs but the tensor of shape {} has only {} dims", pad,
                            pad.size() / 2, a.shape(), a.dim()));
  for (auto p : pad)
    if (p < 0)
      throw Error(fmt::format("pad: negative padding {} is not supported (pad = {}, shape {})", p, pad, a.shape()));
  Box box = full_box(a.shape());
  Shape os = a.shape();
  for (std::size_t i = 0; i < pad.size() / 2; ++i) {
    const std::size_t d = a.shape().size() - 1 - i;  // pairs start from the last dim
    box.starts[d] = pad[2 * i];
    if (__builtin_add_overflow(os[d], pad[2 * i], &os[d]) || __builtin_add_overflow(os[d], pad[2 * i + 1], &os[d]))
      throw Error(
          fmt::format("pad: padding {} of the tensor of shape {} overflows the size of dim {}", pad, a.shape(), d));
  }
  if (mode == PadMode::constant) return uncrop(a, os, box, value, "PadBackward");
  if (value != 0.0) {
    const char* name = mode == PadMode::reflect ? "reflect" : mode == PadMode::replicate ? "replicate" : "circular";
    throw Error(fmt::format("pad: padding mode \"{}\" does not take a value (got {})", name, value));
  }
  if (os == a.shape()) return a.clone();
  return detail::pad_by_index(a, pad, mode);
}

}  // namespace xgrad
