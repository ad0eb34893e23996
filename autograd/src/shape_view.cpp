// The ops that return views (PyTorch's list): reshape/view (when the strides allow),
// flatten, squeeze/unsqueeze, transpose/t/permute/movedim, expand, narrow/slice/select,
// unbind, split/chunk, unfold, diagonal, as_strided. Each computes the view's geometry from
// its input's; the gradient of a reshape is a reshape, of a permutation the inverse
// permutation, of expand a sum, and of the others a strided scatter into zeros.
#include <algorithm>
#include <numeric>
#include <optional>

#include "kernel.hpp"
#include "view.hpp"
#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/shape.hpp"
#include "xgrad/autograd/profile_scope.hpp"

namespace xgrad {

namespace {

using Grads = std::vector<Tensor>;
using detail::Geometry;
using Dims = std::vector<std::int64_t>;

// Strides that let `a`'s elements be read with shape `shape` without a copy (PyTorch's
// computeStride), or nullopt when the layout does not allow it.
std::optional<Shape> view_strides(const Tensor& a, const Shape& shape) {
  Shape old_sizes = a.shape(), old_strides = a.strides();
  if (old_sizes.empty()) {
    old_sizes = {1};
    old_strides = {1};
  }
  if (a.numel() == 0) return detail::contiguous_strides(shape);
  Shape st(shape.size(), 1);
  std::int64_t view_d = static_cast<std::int64_t>(shape.size()) - 1;
  std::int64_t chunk_base = old_strides.back(), tensor_numel = 1, view_numel = 1;
  for (std::int64_t d = static_cast<std::int64_t>(old_sizes.size()) - 1; d >= 0; --d) {
    tensor_numel *= old_sizes[d];
    if (d == 0 || (old_sizes[d - 1] != 1 && old_strides[d - 1] != tensor_numel * chunk_base)) {
      while (view_d >= 0 && (view_numel < tensor_numel || shape[view_d] == 1)) {
        st[view_d] = view_numel * chunk_base;
        view_numel *= shape[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (d > 0) {
        chunk_base = old_strides[d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return st;
}

// The target shape of reshape/view with -1 inferred; throws like PyTorch.
Shape infer_shape(const Tensor& a, const Shape& shape, std::string_view op) {
  Shape s = shape;
  std::int64_t known = 1, infer = -1;
  bool overflow = false;  // no tensor has that many elements (unless a size is 0)
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      if (infer >= 0) throw Error(fmt::format("{}: only one dimension can be inferred, got shape {}", op, shape));
      infer = static_cast<std::int64_t>(i);
    } else if (s[i] < 0) {
      throw Error(fmt::format("{}: invalid shape dimension {} in {}", op, s[i], shape));
    } else {
      overflow = __builtin_mul_overflow(known, s[i], &known) || overflow;
    }
  }
  if (std::find(s.begin(), s.end(), 0) != s.end()) {
    known = 0;
    overflow = false;
  }
  auto bad = [&] {
    return Error(fmt::format("{}: shape {} is invalid for input of size {} (shape {})", op, shape, a.numel(), a.shape()));
  };
  if (overflow) throw bad();
  if (infer >= 0) {
    if (known == 0 || a.numel() % known != 0) throw bad();
    s[infer] = a.numel() / known;
  }
  if (shape_numel(s) != a.numel()) throw bad();
  return s;
}

Tensor reshape_view(const Tensor& a, const Shape& s, const Shape& strides, const char* name) {
  return detail::record_view(a, {s, strides, a.storage_offset()}, name,
                             [in = a.shape()](const Grads& g, const Grads&) { return Grads{reshape(g[0], in)}; });
}

// A view whose geometry `fn` derives from its input's; the gradient scatters into zeros.
template <class Fn>
Tensor geometric_view(const Tensor& a, Fn fn, const char* name) {
  const Geometry out = fn(detail::geometry_of(a));
  return detail::record_view(a, out, name, [in = a.shape(), rel = fn(detail::contiguous_geometry(a.shape()))](
                                               const Grads& g, const Grads&) {
    return Grads{detail::view_backward(g[0], detail::contiguous_geometry(in), rel)};
  });
}

Tensor permute_view(const Tensor& a, const Dims& p, const char* name) {
  Geometry g{Shape(p.size()), Shape(p.size()), a.storage_offset()};
  for (std::size_t i = 0; i < p.size(); ++i) {
    g.sizes[i] = a.shape()[p[i]];
    g.strides[i] = a.strides()[p[i]];
  }
  Dims inv(p.size());
  for (std::size_t i = 0; i < p.size(); ++i) inv[p[i]] = static_cast<std::int64_t>(i);
  return detail::record_view(a, g, name, [inv](const Grads& gr, const Grads&) { return Grads{permute(gr[0], inv)}; });
}

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

std::int64_t nonscalar_dim(const Tensor& a, std::int64_t dim, std::string_view op) {
  detail::check_defined(a, op);
  if (a.dim() == 0) throw Error(fmt::format("{}: cannot be applied to a 0-dim tensor", op));
  return detail::wrap_dim(dim, a.dim(), op, a.shape());
}

// Pieces of `a` along d with the given sizes: views, made by ONE node whose backward is
// one cat of the pieces' gradients.
std::vector<Tensor> split_views(const Tensor& a, std::int64_t d, const std::vector<std::int64_t>& sizes) {
  std::vector<Tensor> out;
  out.reserve(sizes.size());
  std::int64_t start = 0;
  for (auto len : sizes) {
    Geometry g = detail::geometry_of(a);
    g.offset += start * g.strides[d];
    g.sizes[d] = len;
    out.push_back(detail::make_view(a, g));
    out.back().impl()->view->multi_output = true;
    start += len;
  }
  if (any_requires_grad({&a}))
    record("SplitBackward", {a}, out, {}, [d](const Grads& g, const Grads&) { return Grads{cat(g, d)}; });
  return out;
}

}  // namespace

// ---- reshape family ----------------------------------------------------------------------

Tensor reshape(const Tensor& a, const Shape& shape) {
  XGRAD_PROFILE_OP("reshape", a);
  detail::check_defined(a, "reshape");
  Shape s = infer_shape(a, shape, "reshape");
  if (s == a.shape()) return a;
  if (a.is_contiguous()) return reshape_view(a, s, detail::contiguous_strides(s), "ViewBackward");
  if (auto st = view_strides(a, s)) return reshape_view(a, s, *st, "ViewBackward");
  // A copy (PyTorch's _unsafe_view): the result is not a view of anything.
  Tensor out = reshape_view(a.contiguous(), s, detail::contiguous_strides(s), "ViewBackward");
  out.impl()->view.reset();
  return out;
}

Tensor view(const Tensor& a, const Shape& shape) {
  XGRAD_PROFILE_OP("view", a);
  detail::check_defined(a, "view");
  Shape s = infer_shape(a, shape, "view");
  auto st = view_strides(a, s);
  if (!st)
    throw Error(fmt::format("view: size {} is not compatible with the input's sizes {} and strides {} (at least one "
                            "dimension spans across two contiguous subspaces); use .reshape(...) instead",
                            shape, a.shape(), a.strides()));
  if (s == a.shape()) return a;
  return reshape_view(a, s, *st, "ViewBackward");
}

Tensor flatten(const Tensor& a, std::int64_t start_dim, std::int64_t end_dim) {
  XGRAD_PROFILE_OP("flatten", a);
  detail::check_defined(a, "flatten");
  if (a.dim() == 0) return reshape(a, {1});
  const std::int64_t s = detail::wrap_dim(start_dim, a.dim(), "flatten", a.shape());
  const std::int64_t e = detail::wrap_dim(end_dim, a.dim(), "flatten", a.shape());
  if (s > e) throw Error(fmt::format("flatten: start_dim {} cannot come after end_dim {}", start_dim, end_dim));
  Shape out(a.shape().begin(), a.shape().begin() + s);
  std::int64_t m = 1;
  for (std::int64_t d = s; d <= e; ++d) m *= a.shape()[d];
  out.push_back(m);
  out.insert(out.end(), a.shape().begin() + e + 1, a.shape().end());
  return reshape(a, out);
}

Tensor squeeze(const Tensor& a) {
  XGRAD_PROFILE_OP("squeeze", a);
  detail::check_defined(a, "squeeze");
  Shape s, st;
  for (std::size_t d = 0; d < a.shape().size(); ++d)
    if (a.shape()[d] != 1) {
      s.push_back(a.shape()[d]);
      st.push_back(a.strides()[d]);
    }
  if (s.size() == a.shape().size()) return a;
  return reshape_view(a, s, st, "SqueezeBackward");
}

Tensor squeeze(const Tensor& a, std::int64_t dim) {
  XGRAD_PROFILE_OP("squeeze", a);
  detail::check_defined(a, "squeeze");
  if (a.dim() == 0) return a;
  const std::int64_t d = detail::wrap_dim(dim, a.dim(), "squeeze", a.shape());
  if (a.shape()[d] != 1) return a;
  Shape s = a.shape(), st = a.strides();
  s.erase(s.begin() + d);
  st.erase(st.begin() + d);
  return reshape_view(a, s, st, "SqueezeBackward");
}

Tensor unsqueeze(const Tensor& a, std::int64_t dim) {
  XGRAD_PROFILE_OP("unsqueeze", a);
  detail::check_defined(a, "unsqueeze");
  const std::int64_t d = detail::wrap_dim(dim, a.dim() + 1, "unsqueeze", a.shape());
  Shape s = a.shape(), st = a.strides();
  const std::int64_t stride = d < a.dim() ? s[d] * st[d] : 1;
  s.insert(s.begin() + d, 1);
  st.insert(st.begin() + d, stride);
  return reshape_view(a, s, st, "UnsqueezeBackward");
}

// ---- permutations ----------------------------------------------------------------------

Tensor permute(const Tensor& a, const std::vector<std::int64_t>& dims) {
  XGRAD_PROFILE_OP("permute", a);
  detail::check_defined(a, "permute");
  return permute_view(a, check_permutation(a, dims), "PermuteBackward");
}

Tensor transpose(const Tensor& a, std::int64_t d0, std::int64_t d1) {
  XGRAD_PROFILE_OP("transpose", a);
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
  return permute_view(a, p, "TransposeBackward");
}

Tensor t(const Tensor& a) {
  XGRAD_PROFILE_OP("t", a);
  detail::check_defined(a, "t");
  if (a.dim() > 2)
    throw Error(
        fmt::format("t: expects a tensor with <= 2 dimensions, but got shape {} ({}-d); use transpose(d0, d1) "
                    "or permute(dims)",
                    a.shape(), a.dim()));
  return a.dim() == 2 ? transpose(a, 0, 1) : transpose(a, 0, 0);
}

Tensor movedim(const Tensor& a, std::int64_t source, std::int64_t destination) {
  XGRAD_PROFILE_OP("movedim", a);
  detail::check_defined(a, "movedim");
  const std::int64_t n = a.dim();
  const std::int64_t s = detail::wrap_dim(source, n, "movedim", a.shape());
  const std::int64_t d = detail::wrap_dim(destination, n, "movedim", a.shape());
  Dims rest;
  for (std::int64_t i = 0; i < std::max<std::int64_t>(n, 1); ++i)
    if (i != s) rest.push_back(i);
  if (n == 0) return permute_view(a, {}, "PermuteBackward");
  rest.insert(rest.begin() + d, s);
  return permute_view(a, rest, "PermuteBackward");
}

// ---- expand -------------------------------------------------------------------------------

Tensor expand(const Tensor& a, const Shape& shape) {
  XGRAD_PROFILE_OP("expand", a);
  detail::check_defined(a, "expand");
  if (shape.size() < a.shape().size())
    throw Error(fmt::format("expand: the number of sizes provided ({}) must be greater or equal to the number of "
                            "dimensions of the tensor ({}), shape {}",
                            shape.size(), a.dim(), a.shape()));
  Geometry g{shape, Shape(shape.size(), 0), a.storage_offset()};
  const std::size_t off = shape.size() - a.shape().size();
  for (std::size_t i = 0; i < shape.size(); ++i) {
    const std::int64_t in = i < off ? 1 : a.shape()[i - off];
    if (shape[i] == -1) {
      if (i < off) throw Error(fmt::format("expand: -1 is not allowed in a leading, new dimension ({})", shape));
      g.sizes[i] = in;
    } else if (in != 1 && in != shape[i]) {
      throw Error(fmt::format("expand: the expanded size of the tensor ({}) must match the existing size ({}) at "
                              "dimension {}; target {} from shape {}",
                              shape[i], in, i, shape, a.shape()));
    } else if (shape[i] < 0) {
      throw Error(fmt::format("expand: invalid size {} in {}", shape[i], shape));
    }
    if (i >= off && in == g.sizes[i]) g.strides[i] = a.strides()[i - off];
  }
  if (g.sizes == a.shape()) return a;
  try {
    (void)shape_numel(g.sizes);
  } catch (const Error& e) {
    throw Error(fmt::format("expand: {} (expanding shape {})", e.what(), a.shape()));
  }
  return detail::record_view(a, g, "ExpandBackward",
                             [in = a.shape()](const Grads& gr, const Grads&) { return Grads{sum_to(gr[0], in)}; });
}

Tensor broadcast_to(const Tensor& a, const Shape& shape) {
  XGRAD_PROFILE_OP("broadcast_to", a);
  return expand(a, shape);
}
Tensor expand_as(const Tensor& a, const Tensor& other) {
  XGRAD_PROFILE_OP("expand_as", a, other);
  detail::check_defined(other, "expand_as");
  return expand(a, other.shape());
}

// ---- narrow / slice / select / unbind / split / chunk ------------------------------------

Tensor narrow(const Tensor& a, std::int64_t dim, std::int64_t start, std::int64_t length) {
  XGRAD_PROFILE_OP("narrow", a);
  const std::int64_t d = nonscalar_dim(a, dim, "narrow");
  const std::int64_t n = a.shape()[d];
  if (start < -n || start > n)
    throw Error(
        fmt::format("narrow: start {} is out of range for dimension {} of size {} (shape {})", start, d, n, a.shape()));
  if (start < 0) start += n;
  if (length < 0)
    throw Error(fmt::format("narrow: length must be non-negative, got {} (dimension {} of shape {})", length, d,
                            a.shape()));
  if (length > n - start)
    throw Error(fmt::format("narrow: start ({}) + length ({}) exceeds the size {} of dimension {} (shape {})", start,
                            length, n, d, a.shape()));
  return geometric_view(
      a,
      [=](Geometry g) {
        g.offset += start * g.strides[d];
        g.sizes[d] = length;
        return g;
      },
      "NarrowBackward");
}

Tensor slice(const Tensor& a, std::int64_t dim, std::int64_t start, std::int64_t end, std::int64_t step) {
  XGRAD_PROFILE_OP("slice", a);
  const std::int64_t d = nonscalar_dim(a, dim, "slice");
  if (step <= 0) throw Error(fmt::format("slice: step must be positive, got {}", step));
  const std::int64_t n = a.shape()[d];
  // PyTorch's clamping: negative bounds count from the end, then clamp to [0, n], end >= start.
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<std::int64_t>(start, 0, n);
  end = std::clamp<std::int64_t>(end, start, n);
  return geometric_view(
      a,
      [=](Geometry g) {
        g.offset += start * g.strides[d];
        g.sizes[d] = end == start ? 0 : (end - start - 1) / step + 1;
        g.strides[d] *= step;
        return g;
      },
      "SliceBackward");
}

Tensor select(const Tensor& a, std::int64_t dim, std::int64_t index) {
  XGRAD_PROFILE_OP("select", a);
  const std::int64_t d = nonscalar_dim(a, dim, "select");
  const std::int64_t n = a.shape()[d];
  if (index < -n || index >= n)
    throw Error(fmt::format("select: index {} is out of range for dimension {} of size {} (shape {})", index, d, n,
                            a.shape()));
  const std::int64_t i = index < 0 ? index + n : index;
  return geometric_view(
      a,
      [=](Geometry g) {
        g.offset += i * g.strides[d];
        g.sizes.erase(g.sizes.begin() + d);
        g.strides.erase(g.strides.begin() + d);
        return g;
      },
      "SelectBackward");
}

std::vector<Tensor> unbind(const Tensor& a, std::int64_t dim) {
  XGRAD_PROFILE_OP("unbind", a);
  const std::int64_t d = nonscalar_dim(a, dim, "unbind");
  const std::int64_t n = a.shape()[d];
  std::vector<Tensor> out;
  out.reserve(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    Geometry g = detail::geometry_of(a);
    g.offset += i * g.strides[d];
    g.sizes.erase(g.sizes.begin() + d);
    g.strides.erase(g.strides.begin() + d);
    out.push_back(detail::make_view(a, g));
    out.back().impl()->view->multi_output = true;
  }
  if (any_requires_grad({&a}))
    record("UnbindBackward", {a}, out, {}, [d](const Grads& g, const Grads&) { return Grads{stack(g, d)}; });
  return out;
}

std::vector<Tensor> split(const Tensor& a, std::int64_t split_size, std::int64_t dim) {
  XGRAD_PROFILE_OP("split", a);
  const std::int64_t d = nonscalar_dim(a, dim, "split");
  const std::int64_t n = a.shape()[d];
  if (split_size < 0 || (split_size == 0 && n != 0))
    throw Error(fmt::format("split: split_size must be positive, got {} for dimension {} of size {} (shape {})",
                            split_size, d, n, a.shape()));
  const std::int64_t pieces = split_size == 0 ? 1 : std::max<std::int64_t>((n + split_size - 1) / split_size, 1);
  std::vector<std::int64_t> sizes;
  for (std::int64_t i = 0; i < pieces; ++i) sizes.push_back(std::min(split_size, n - i * split_size));
  return split_views(a, d, sizes);
}

std::vector<Tensor> split(const Tensor& a, const std::vector<std::int64_t>& sizes, std::int64_t dim) {
  XGRAD_PROFILE_OP("split", a);
  const std::int64_t d = nonscalar_dim(a, dim, "split");
  const std::int64_t n = a.shape()[d];
  std::int64_t total = 0;
  for (auto s : sizes) {
    if (s < 0) throw Error(fmt::format("split: split sizes must be non-negative, got {}", sizes));
    total += s;
  }
  if (total != n)
    throw Error(fmt::format("split: split sizes {} sum to {} but dimension {} has size {} (shape {})", sizes, total, d,
                            n, a.shape()));
  return split_views(a, d, sizes);
}

std::vector<Tensor> chunk(const Tensor& a, std::int64_t chunks, std::int64_t dim) {
  XGRAD_PROFILE_OP("chunk", a);
  detail::check_defined(a, "chunk");
  if (chunks <= 0) throw Error(fmt::format("chunk: chunks must be positive, got {}", chunks));
  const std::int64_t d = nonscalar_dim(a, dim, "chunk");
  const std::int64_t n = a.shape()[d];
  // PyTorch: pieces of ceil(n / chunks); an empty dim gives `chunks` empty pieces.
  if (n == 0) return split(a, std::vector<std::int64_t>(static_cast<std::size_t>(chunks), 0), d);
  return split(a, (n + chunks - 1) / chunks, d);
}

// ---- unfold / diagonal / as_strided -------------------------------------------------------

Tensor unfold(const Tensor& a, std::int64_t dim, std::int64_t size, std::int64_t step) {
  XGRAD_PROFILE_OP("unfold", a);
  const std::int64_t d = nonscalar_dim(a, dim, "unfold");
  const std::int64_t n = a.shape()[d];
  if (size < 0 || size > n)
    throw Error(fmt::format("unfold: size {} is out of range for dimension {} of size {} (shape {})", size, d, n,
                            a.shape()));
  if (step <= 0) throw Error(fmt::format("unfold: step must be positive, got {}", step));
  return geometric_view(
      a,
      [=](Geometry g) {
        g.sizes.push_back(size);
        g.strides.push_back(g.strides[d]);
        g.sizes[d] = (n - size) / step + 1;
        g.strides[d] *= step;
        return g;
      },
      "UnfoldBackward");
}

Tensor diagonal(const Tensor& a, std::int64_t offset, std::int64_t dim1, std::int64_t dim2) {
  XGRAD_PROFILE_OP("diagonal", a);
  detail::check_defined(a, "diagonal");
  if (a.dim() < 2) throw Error(fmt::format("diagonal: expects a tensor with at least 2 dims, got shape {}", a.shape()));
  const std::int64_t d1 = detail::wrap_dim(dim1, a.dim(), "diagonal", a.shape());
  const std::int64_t d2 = detail::wrap_dim(dim2, a.dim(), "diagonal", a.shape());
  if (d1 == d2)
    throw Error(fmt::format("diagonal: dim1 and dim2 cannot be the same dimension ({}), shape {}", d1, a.shape()));
  return geometric_view(
      a,
      [=](Geometry g) {
        const std::int64_t s1 = g.sizes[d1], s2 = g.sizes[d2];
        // offset compared before any arithmetic on it: +-2^63 must not overflow.
        const bool empty = offset >= 0 ? offset >= s2 : offset <= -s1;
        const std::int64_t len = empty ? 0 : offset >= 0 ? std::min(s1, s2 - offset) : std::min(s1 + offset, s2);
        if (len > 0) g.offset += offset >= 0 ? offset * g.strides[d2] : -offset * g.strides[d1];
        const std::int64_t st = g.strides[d1] + g.strides[d2];
        const auto hi = std::max(d1, d2), lo = std::min(d1, d2);
        g.sizes.erase(g.sizes.begin() + hi);
        g.strides.erase(g.strides.begin() + hi);
        g.sizes.erase(g.sizes.begin() + lo);
        g.strides.erase(g.strides.begin() + lo);
        g.sizes.push_back(len);
        g.strides.push_back(st);
        return g;
      },
      "DiagonalBackward");
}

Tensor as_strided(const Tensor& a, const Shape& size, const Shape& stride, std::optional<std::int64_t> storage_offset) {
  XGRAD_PROFILE_OP("as_strided", a);
  detail::check_defined(a, "as_strided");
  if (size.size() != stride.size())
    throw Error(fmt::format("as_strided: size {} and stride {} must have the same length", size, stride));
  const std::int64_t off = storage_offset.value_or(a.storage_offset());
  if (off < 0) throw Error(fmt::format("as_strided: negative storage offset {}", off));
  std::int64_t last = off;
  for (std::size_t d = 0; d < size.size(); ++d) {
    if (size[d] < 0 || stride[d] < 0)
      throw Error(fmt::format("as_strided: negative size or stride (size {}, stride {})", size, stride));
    if (size[d] == 0) last = -1;
    std::int64_t reach = 0;
    if (last >= 0 && (__builtin_mul_overflow(size[d] - 1, stride[d], &reach) || __builtin_add_overflow(last, reach, &last)))
      throw Error(fmt::format("as_strided: size {} and stride {} reach past the int64 range", size, stride));
  }
  const auto capacity = static_cast<std::int64_t>(a.impl()->storage->nbytes / dtype_size(a.dtype()));
  if (last >= capacity)
    throw Error(fmt::format("as_strided: size {}, stride {} and offset {} reach element {} of a storage of {} "
                            "elements",
                            size, stride, off, last, capacity));
  const Geometry out{size, stride, off};
  return detail::record_view(a, out, "AsStridedBackward", [in = detail::geometry_of(a), out](const Grads& g, const Grads&) {
    return Grads{detail::view_backward(g[0], in, out)};
  });
}

// ---- Tensor methods ---------------------------------------------------------------------

Tensor Tensor::reshape(const Shape& s) const { return xgrad::reshape(*this, s); }
Tensor Tensor::view(const Shape& s) const { return xgrad::view(*this, s); }
Tensor Tensor::flatten(std::int64_t s, std::int64_t e) const { return xgrad::flatten(*this, s, e); }
Tensor Tensor::squeeze() const { return xgrad::squeeze(*this); }
Tensor Tensor::squeeze(std::int64_t d) const { return xgrad::squeeze(*this, d); }
Tensor Tensor::unsqueeze(std::int64_t d) const { return xgrad::unsqueeze(*this, d); }
Tensor Tensor::expand(const Shape& s) const { return xgrad::expand(*this, s); }
Tensor Tensor::expand_as(const Tensor& o) const { return xgrad::expand_as(*this, o); }
Tensor Tensor::transpose(std::int64_t d0, std::int64_t d1) const { return xgrad::transpose(*this, d0, d1); }
Tensor Tensor::permute(const std::vector<std::int64_t>& dims) const { return xgrad::permute(*this, dims); }
Tensor Tensor::t() const { return xgrad::t(*this); }
Tensor Tensor::movedim(std::int64_t s, std::int64_t d) const { return xgrad::movedim(*this, s, d); }
Tensor Tensor::narrow(std::int64_t dim, std::int64_t start, std::int64_t length) const {
  return xgrad::narrow(*this, dim, start, length);
}
Tensor Tensor::slice(std::int64_t dim, std::optional<std::int64_t> start, std::optional<std::int64_t> end,
                     std::int64_t step) const {
  return xgrad::slice(*this, dim, start.value_or(0), end.value_or(INT64_MAX), step);
}
Tensor Tensor::select(std::int64_t dim, std::int64_t index) const { return xgrad::select(*this, dim, index); }
std::vector<Tensor> Tensor::unbind(std::int64_t dim) const { return xgrad::unbind(*this, dim); }
std::vector<Tensor> Tensor::split(std::int64_t s, std::int64_t dim) const { return xgrad::split(*this, s, dim); }
std::vector<Tensor> Tensor::split(const std::vector<std::int64_t>& s, std::int64_t dim) const {
  return xgrad::split(*this, s, dim);
}
std::vector<Tensor> Tensor::chunk(std::int64_t c, std::int64_t dim) const { return xgrad::chunk(*this, c, dim); }
Tensor Tensor::unfold(std::int64_t dim, std::int64_t size, std::int64_t step) const {
  return xgrad::unfold(*this, dim, size, step);
}
Tensor Tensor::diagonal(std::int64_t offset, std::int64_t d1, std::int64_t d2) const {
  return xgrad::diagonal(*this, offset, d1, d2);
}
Tensor Tensor::as_strided(const Shape& size, const Shape& stride, std::optional<std::int64_t> offset) const {
  return xgrad::as_strided(*this, size, stride, offset);
}

}  // namespace xgrad
