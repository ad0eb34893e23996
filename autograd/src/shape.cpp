// Shape ops that copy: transpose, permute, t, cat, stack, split, chunk, narrow, slice, pad.
// (reshape/view/flatten/squeeze/unsqueeze/expand are in shape_view.cpp; index_select,
// gather and scatter_add in shape_index.cpp.)
//
// Every op here is one strided box copy (copy_box): the output, or a box inside it, is
// filled from a box of the input read with arbitrary strides. Slicing ops are "crop" (read
// a strided box) and their gradients "uncrop" (write g into a strided box of a zero tensor);
// each is the other's backward, so derivatives of any order are available.
#include <algorithm>
#include <numeric>

#include "kernel.hpp"
#include "xgrad/autograd/shape.hpp"

namespace xgrad {

namespace {

using Grads = std::vector<Tensor>;
using Dims = std::vector<std::int64_t>;

constexpr std::int64_t kTile = 32;  // square tile edge of the blocked transpose

// One dimension of a box copy: its size and the strides (in elements) on both sides.
struct CopyDim {
  std::int64_t size, src, dst;
};

// Drops size-1 dims and merges neighbours that are contiguous on both sides, so a copy of
// whole rows becomes one long dim and can be done with std::copy.
std::vector<CopyDim> simplify(const Shape& box, const Dims& src_st, const Dims& dst_st) {
  std::vector<CopyDim> dims;
  for (std::size_t d = 0; d < box.size(); ++d) {
    if (box[d] == 1) continue;
    CopyDim c{box[d], src_st[d], dst_st[d]};
    if (!dims.empty() && dims.back().src == c.src * c.size && dims.back().dst == c.dst * c.size) {
      dims.back() = {dims.back().size * c.size, c.src, c.dst};
    } else {
      dims.push_back(c);
    }
  }
  return dims;
}

// Runs f(row, src_offset, dst_offset) for rows [r0, r1) of the outer dims `outer`
// (row-major), tracking both offsets with an odometer.
template <class F>
void for_rows(const std::vector<CopyDim>& outer, std::int64_t r0, std::int64_t r1, F&& f) {
  const std::size_t n = outer.size();
  std::vector<std::int64_t> idx(n);
  std::int64_t so = 0, d_o = 0, rem = r0;
  for (std::size_t d = n; d-- > 0;) {
    idx[d] = rem % outer[d].size;
    rem /= outer[d].size;
    so += idx[d] * outer[d].src;
    d_o += idx[d] * outer[d].dst;
  }
  for (std::int64_t r = r0; r < r1; ++r) {
    f(so, d_o);
    for (std::size_t d = n; d-- > 0;) {
      ++idx[d];
      so += outer[d].src;
      d_o += outer[d].dst;
      if (idx[d] < outer[d].size) break;
      so -= idx[d] * outer[d].src;
      d_o -= idx[d] * outer[d].dst;
      idx[d] = 0;
    }
  }
}

// dst[dst_off + sum_d i_d dst_st[d]] = src[src_off + sum_d i_d src_st[d]] for every index i of
// `box`. Contiguous inner rows are copied with std::copy; a permutation that moves the
// input's contiguous dim away from the innermost position is copied in kTile x kTile tiles
// so that both sides stay in cache. Parallel above kGrain elements.
template <class T>
void copy_box(const T* src, std::int64_t src_off, const Dims& src_st, T* dst, std::int64_t dst_off, const Dims& dst_st,
              const Shape& box) {
  const std::int64_t total = shape_numel(box);
  if (total == 0) return;
  std::vector<CopyDim> dims = simplify(box, src_st, dst_st);
  src += src_off;
  dst += dst_off;
  if (dims.empty()) {
    *dst = *src;
    return;
  }
  const CopyDim last = dims.back();
  // Tiled path: the innermost output dim is contiguous in dst but strided in src, and some
  // other dim k is contiguous in src.
  std::size_t k = dims.size();
  if (last.dst == 1 && last.src != 1 && last.size >= kTile)
    for (std::size_t d = 0; d + 1 < dims.size(); ++d)
      if (dims[d].src == 1 && dims[d].size >= kTile) k = d;
  if (k < dims.size()) {
    const CopyDim kd = dims[k];
    std::vector<CopyDim> outer;
    for (std::size_t d = 0; d + 1 < dims.size(); ++d)
      if (d != k) outer.push_back(dims[d]);
    std::int64_t n_outer = 1;
    for (const auto& c : outer) n_outer *= c.size;
    const std::int64_t k_tiles = (kd.size + kTile - 1) / kTile;
    const std::int64_t per_unit = kTile * last.size;
    detail::parallel_for(n_outer * k_tiles, std::max<std::int64_t>(1, detail::kGrain / per_unit),
                         [&](std::int64_t u0, std::int64_t u1) {
                           for (std::int64_t u = u0; u < u1; ++u) {
                             const std::int64_t row = u / k_tiles, kt = u % k_tiles;
                             for_rows(outer, row, row + 1, [&](std::int64_t so, std::int64_t d_o) {
                               const std::int64_t k0 = kt * kTile, k1 = std::min(kd.size, k0 + kTile);
                               for (std::int64_t l0 = 0; l0 < last.size; l0 += kTile) {
                                 const std::int64_t l1 = std::min(last.size, l0 + kTile);
                                 for (std::int64_t i = k0; i < k1; ++i)
                                   for (std::int64_t l = l0; l < l1; ++l)
                                     dst[d_o + i * kd.dst + l] = src[so + i + l * last.src];
                               }
                             });
                           }
                         });
    return;
  }
  std::vector<CopyDim> outer(dims.begin(), dims.end() - 1);
  const std::int64_t rows = total / last.size;
  detail::parallel_for(rows, std::max<std::int64_t>(1, detail::kGrain / last.size),
                       [&](std::int64_t r0, std::int64_t r1) {
                         for_rows(outer, r0, r1, [&](std::int64_t so, std::int64_t d_o) {
                           if (last.src == 1 && last.dst == 1) {
                             std::copy(src + so, src + so + last.size, dst + d_o);
                           } else {
                             for (std::int64_t j = 0; j < last.size; ++j)
                               dst[d_o + j * last.dst] = src[so + j * last.src];
                           }
                         });
                       });
}

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
    const Dims st = detail::contiguous_strides(a.shape());
    Dims src_st(st.size());
    std::int64_t off = 0;
    for (std::size_t d = 0; d < st.size(); ++d) {
      src_st[d] = st[d] * box.steps[d];
      off += st[d] * box.starts[d];
    }
    copy_box<T>(a.data_ptr<T>(), off, src_st, out.data_ptr<T>(), 0, detail::contiguous_strides(box.sizes), box.sizes);
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
    if (shape_numel(box.sizes) != out.numel()) fill<T>(out, static_cast<T>(fill_value));
    const Dims st = detail::contiguous_strides(big);
    Dims dst_st(st.size());
    std::int64_t off = 0;
    for (std::size_t d = 0; d < st.size(); ++d) {
      dst_st[d] = st[d] * box.steps[d];
      off += st[d] * box.starts[d];
    }
    copy_box<T>(g.data_ptr<T>(), 0, detail::contiguous_strides(g.shape()), out.data_ptr<T>(), off, dst_st, box.sizes);
  });
  if (any_requires_grad({&g}))
    record(name, {g}, {out}, {},
           [box](const Grads& gr, const Grads&) { return Grads{crop(gr[0], box, "SliceBackward")}; });
  return out;
}

// out = permute(a, dims) as a copy (no recording).
Tensor permute_kernel(const Tensor& a, const Dims& dims) {
  const Dims st = detail::contiguous_strides(a.shape());
  Shape os(dims.size());
  Dims src_st(dims.size());
  for (std::size_t i = 0; i < dims.size(); ++i) {
    os[i] = a.shape()[dims[i]];
    src_st[i] = st[dims[i]];
  }
  Tensor out = detail::make_tensor(os, a.dtype());
  detail::dispatch(a.dtype(), [&]<class T>() {
    copy_box<T>(a.data_ptr<T>(), 0, src_st, out.data_ptr<T>(), 0, detail::contiguous_strides(os), os);
  });
  return out;
}

// Normalises a user's list of dims to a permutation of [0, n); throws otherwise.
Dims check_permutation(const Tensor& a, const Dims& dims) {
  const auto n = a.dim();
  auto bad = [&] {
    return Error(fmt::format("permute: dims {} is not a permutation of the {} dims of a tensor of shape {}", dims, n,
                             a.shape()));
  };
  if (static_cast<std::int64_t>(dims.size()) != n) throw bad();
  Dims p(dims.size());
  std::vector<bool> seen(dims.size(), false);
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] < -n || dims[i] >= n) throw bad();
    p[i] = dims[i] < 0 ? dims[i] + n : dims[i];
    if (seen[p[i]]) throw bad();
    seen[p[i]] = true;
  }
  return p;
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
      copy_box<T>(tensors[i].data_ptr<T>(), 0, detail::contiguous_strides(box), po, offsets[i] * out_st[dim], out_st,
                  box);
    }
  });
  return out;
}

}  // namespace

// ---- transpose / permute / t ---------------------------------------------------------

Tensor permute(const Tensor& a, const std::vector<std::int64_t>& dims) {
  detail::check_defined(a, "permute");
  const Dims p = check_permutation(a, dims);
  Tensor out = permute_kernel(a, p);
  if (any_requires_grad({&a})) {
    Dims inv(p.size());
    for (std::size_t i = 0; i < p.size(); ++i) inv[p[i]] = static_cast<std::int64_t>(i);
    record("PermuteBackward", {a}, {out}, {},
           [inv](const Grads& g, const Grads&) { return Grads{permute(g[0], inv)}; });
  }
  return out;
}

Tensor transpose(const Tensor& a, std::int64_t d0, std::int64_t d1) {
  detail::check_defined(a, "transpose");
  Dims p(static_cast<std::size_t>(a.dim()));
  std::iota(p.begin(), p.end(), std::int64_t{0});
  if (a.dim() > 0) {
    const std::int64_t w0 = detail::wrap_dim(d0, a.dim(), "transpose", a.shape());
    const std::int64_t w1 = detail::wrap_dim(d1, a.dim(), "transpose", a.shape());
    std::swap(p[w0], p[w1]);
  } else {
    // A 0-d tensor accepts dims 0 and -1 (PyTorch); wrap_dim checks them.
    detail::wrap_dim(d0, 0, "transpose", a.shape());
    detail::wrap_dim(d1, 0, "transpose", a.shape());
  }
  Tensor out = permute_kernel(a, p);
  if (any_requires_grad({&a}))
    record("TransposeBackward", {a}, {out}, {}, [p](const Grads& g, const Grads&) { return Grads{permute(g[0], p)}; });
  return out;
}

Tensor t(const Tensor& a) {
  detail::check_defined(a, "t");
  if (a.dim() > 2)
    throw Error(
        fmt::format("t: expects a tensor with <= 2 dimensions, but got shape {} ({}-d); use transpose(d0, d1) "
                    "or permute(dims)",
                    a.shape(), a.dim()));
  return a.dim() == 2 ? transpose(a, 0, 1) : transpose(a, 0, 0);
}

// ---- cat / stack ---------------------------------------------------------------------

Tensor cat(const std::vector<Tensor>& tensors, std::int64_t dim) {
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

// ---- split / chunk / narrow / slice ----------------------------------------------------

Tensor narrow(const Tensor& a, std::int64_t dim, std::int64_t start, std::int64_t length) {
  detail::check_defined(a, "narrow");
  if (a.dim() == 0) throw Error("narrow: cannot be applied to a 0-dim tensor");
  const std::int64_t d = detail::wrap_dim(dim, a.dim(), "narrow", a.shape());
  const std::int64_t n = a.shape()[d];
  if (start < -n || start > n)
    throw Error(
        fmt::format("narrow: start {} is out of range for dimension {} of size {} (shape {})", start, d, n, a.shape()));
  if (start < 0) start += n;
  if (length < 0 || start + length > n)
    throw Error(fmt::format("narrow: start ({}) + length ({}) exceeds the size {} of dimension {} (shape {})", start,
                            length, n, d, a.shape()));
  Box box = full_box(a.shape());
  box.starts[d] = start;
  box.sizes[d] = length;
  return crop(a, box, "NarrowBackward");
}

Tensor slice(const Tensor& a, std::int64_t dim, std::int64_t start, std::int64_t end, std::int64_t step) {
  detail::check_defined(a, "slice");
  if (a.dim() == 0) throw Error("slice: cannot be applied to a 0-dim tensor");
  if (step <= 0) throw Error(fmt::format("slice: step must be positive, got {}", step));
  const std::int64_t d = detail::wrap_dim(dim, a.dim(), "slice", a.shape());
  const std::int64_t n = a.shape()[d];
  // PyTorch's clamping: negative bounds count from the end, then clamp to [0, n], end >= start.
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<std::int64_t>(start, 0, n);
  end = std::clamp<std::int64_t>(end, start, n);
  Box box = full_box(a.shape());
  box.starts[d] = start;
  box.steps[d] = step;
  box.sizes[d] = (end - start + step - 1) / step;
  return crop(a, box, "SliceBackward");
}

std::vector<Tensor> split(const Tensor& a, std::int64_t split_size, std::int64_t dim) {
  detail::check_defined(a, "split");
  if (a.dim() == 0) throw Error("split: cannot be applied to a 0-dim tensor");
  const std::int64_t d = detail::wrap_dim(dim, a.dim(), "split", a.shape());
  const std::int64_t n = a.shape()[d];
  if (split_size < 0 || (split_size == 0 && n != 0))
    throw Error(fmt::format("split: split_size must be positive, got {} for dimension {} of size {} (shape {})",
                            split_size, d, n, a.shape()));
  const std::int64_t pieces = split_size == 0 ? 1 : std::max<std::int64_t>((n + split_size - 1) / split_size, 1);
  std::vector<Tensor> out;
  out.reserve(static_cast<std::size_t>(pieces));
  for (std::int64_t i = 0; i < pieces; ++i) {
    const std::int64_t s = i * split_size;
    out.push_back(narrow(a, d, s, std::min(split_size, n - s)));
  }
  return out;
}

std::vector<Tensor> split(const Tensor& a, const std::vector<std::int64_t>& sizes, std::int64_t dim) {
  detail::check_defined(a, "split");
  if (a.dim() == 0) throw Error("split: cannot be applied to a 0-dim tensor");
  const std::int64_t d = detail::wrap_dim(dim, a.dim(), "split", a.shape());
  const std::int64_t n = a.shape()[d];
  std::int64_t total = 0;
  for (auto s : sizes) {
    if (s < 0) throw Error(fmt::format("split: split sizes must be non-negative, got {}", sizes));
    total += s;
  }
  if (total != n)
    throw Error(fmt::format("split: split sizes {} sum to {} but dimension {} has size {} (shape {})", sizes, total, d,
                            n, a.shape()));
  std::vector<Tensor> out;
  out.reserve(sizes.size());
  std::int64_t s = 0;
  for (auto len : sizes) {
    out.push_back(narrow(a, d, s, len));
    s += len;
  }
  return out;
}

std::vector<Tensor> chunk(const Tensor& a, std::int64_t chunks, std::int64_t dim) {
  detail::check_defined(a, "chunk");
  if (chunks <= 0) throw Error(fmt::format("chunk: chunks must be positive, got {}", chunks));
  if (a.dim() == 0) throw Error("chunk: cannot be applied to a 0-dim tensor");
  const std::int64_t d = detail::wrap_dim(dim, a.dim(), "chunk", a.shape());
  const std::int64_t n = a.shape()[d];
  // PyTorch: pieces of ceil(n / chunks); an empty dim gives `chunks` empty pieces.
  if (n == 0) return split(a, std::vector<std::int64_t>(static_cast<std::size_t>(chunks), 0), d);
  return split(a, (n + chunks - 1) / chunks, d);
}

// ---- pad -------------------------------------------------------------------------------

Tensor pad(const Tensor& a, const std::vector<std::int64_t>& pad, double value) {
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
    os[d] += pad[2 * i] + pad[2 * i + 1];
  }
  return uncrop(a, os, box, value, "PadBackward");
}

// ---- Tensor methods ----------------------------------------------------------------------

Tensor Tensor::transpose(std::int64_t d0, std::int64_t d1) const { return xgrad::transpose(*this, d0, d1); }
Tensor Tensor::permute(const std::vector<std::int64_t>& dims) const { return xgrad::permute(*this, dims); }
Tensor Tensor::t() const { return xgrad::t(*this); }
Tensor Tensor::narrow(std::int64_t dim, std::int64_t start, std::int64_t length) const {
  return xgrad::narrow(*this, dim, start, length);
}

}  // namespace xgrad
