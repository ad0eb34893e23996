// Structure ops (structure.hpp): tril/triu, one_hot, repeat/tile, repeat_interleave, roll,
// flip, meshgrid. The copies are strided box copies (kernel/copy.hpp): repeat and
// repeat_interleave read the input with stride 0 along the repeat dims, flip with negated
// strides, roll as 2^k boxes (the two pieces of each rolled dim). Each backward is the op's
// adjoint built from differentiable ops (a reshape and a sum, the op itself with the inverse
// argument), so derivatives of any order are available.
#include <algorithm>

#include "copy_box.hpp"
#include "kernel.hpp"
#include "xgrad/autograd/reduction.hpp"
#include "xgrad/autograd/shape.hpp"
#include "xgrad/autograd/structure.hpp"
#include "xgrad/autograd/profile_scope.hpp"

namespace xgrad {

namespace {

using Grads = std::vector<Tensor>;
using Dims = std::vector<std::int64_t>;

// x * y for sizes, throwing instead of overflowing.
std::int64_t checked_mul(std::int64_t x, std::int64_t y, std::string_view op, const Shape& shape) {
  std::int64_t r = 0;
  if (__builtin_mul_overflow(x, y, &r))
    throw Error(fmt::format("{}: the result's size {} x {} overflows int64 (input shape {})", op, x, y, shape));
  return r;
}

// The values of an int64 or int32 tensor as int64 (row-major).
std::vector<std::int64_t> int_values(const Tensor& t) {
  const Tensor p = detail::packed(t);
  std::vector<std::int64_t> v(static_cast<std::size_t>(t.numel()));
  if (t.dtype() == Dtype::int64) {
    std::copy_n(p.data_ptr<std::int64_t>(), t.numel(), v.begin());
  } else {
    std::copy_n(p.data_ptr<std::int32_t>(), t.numel(), v.begin());
  }
  return v;
}

void check_int_dtype(const Tensor& t, std::string_view op, std::string_view what) {
  if (t.dtype() != Dtype::int64 && t.dtype() != Dtype::int32)
    throw Error(
        fmt::format("{}: {} must be an int64 or int32 tensor, got {} (shape {})", op, what, t.dtype(), t.shape()));
}

// ---- tril / triu ----------------------------------------------------------------------

Tensor triangle(const Tensor& a, std::int64_t diagonal, bool lower) {
  const char* op = lower ? "tril" : "triu";
  detail::check_defined(a, op);
  if (a.dim() < 2)
    throw Error(fmt::format("{}: input tensor must have at least 2 dimensions, got shape {}", op, a.shape()));
  const Shape& s = a.shape();
  const std::int64_t m = s[s.size() - 2], n = s.back();
  // Past these bounds the mask keeps all or nothing; clamping keeps i + k from overflowing.
  const std::int64_t k = std::clamp(diagonal, -m, n);
  Tensor out = detail::make_tensor(s, a.dtype(), op);
  if (out.numel() > 0)
    detail::dispatch(a.dtype(), [&]<class T>() {
      T* po = out.data_ptr<T>();
      detail::copy_box<T>(a.strided_data_ptr<T>(), 0, a.strides(), po, 0, detail::contiguous_strides(s), s);
      // Row r is row i = r mod m of its matrix: tril zeroes columns j > i + k, triu j < i + k.
      detail::parallel_for(out.numel() / n, detail::grain_for(n), [&](std::int64_t r0, std::int64_t r1) {
        for (std::int64_t r = r0; r < r1; ++r) {
          const std::int64_t i = r % m;
          T* row = po + r * n;
          if (lower) {
            std::fill(row + std::clamp<std::int64_t>(i + k + 1, 0, n), row + n, T{});
          } else {
            std::fill(row, row + std::clamp<std::int64_t>(i + k, 0, n), T{});
          }
        }
      });
    });
  if (any_requires_grad({&a}))
    record(lower ? "TrilBackward" : "TriuBackward", {a}, {out}, {}, [diagonal, lower](const Grads& g, const Grads&) {
      return Grads{lower ? tril(g[0], diagonal) : triu(g[0], diagonal)};
    });
  return out;
}

// ---- repeat / repeat_interleave ---------------------------------------------------------

// out (shape `os`, contiguous) = a read as the box `box` with strides `src_st` (stride 0
// along the repeat dims); os has box's elements. Gradient: grad viewed as `box`, summed
// over the dims `red` (the repeats), given a's shape.
Tensor repeat_copy(const Tensor& a, const Shape& box, const Dims& src_st, const Shape& os, const Dims& red,
                   const char* op, const char* node) {
  Tensor out = detail::make_tensor(os, a.dtype(), op);
  detail::dispatch(a.dtype(), [&]<class T>() {
    detail::copy_box<T>(a.strided_data_ptr<T>(), 0, src_st, out.data_ptr<T>(), 0, detail::contiguous_strides(box), box);
  });
  if (any_requires_grad({&a}))
    record(node, {a}, {out}, {}, [box, red, in_shape = a.shape()](const Grads& g, const Grads&) {
      if (red.empty()) return Grads{reshape(g[0], in_shape)};
      return Grads{reshape(sum(reshape(g[0], box), red), in_shape)};
    });
  return out;
}

Tensor repeat_impl(const Tensor& a, const Dims& repeats, const char* op) {
  detail::check_defined(a, op);
  const auto k = static_cast<std::int64_t>(repeats.size());
  if (k < a.dim())
    throw Error(
        fmt::format("{}: number of repeats ({}) must be at least the number of dimensions of the tensor "
                    "of shape {} ({}); got repeats {}",
                    op, k, a.shape(), a.dim(), repeats));
  for (auto r : repeats)
    if (r < 0)
      throw Error(
          fmt::format("{}: repeats must be non-negative, got {} in {} (tensor shape {})", op, r, repeats, a.shape()));
  // a viewed with leading size-1 dims: shape s, strides st. The output, viewed as
  // [r_0, s_0, r_1, s_1, ...], reads a with stride 0 along every r_d.
  const std::int64_t lead = k - a.dim();
  Shape box, os;
  Dims src_st, red;
  for (std::int64_t d = 0; d < k; ++d) {
    const std::int64_t s = d < lead ? 1 : a.shape()[d - lead];
    const std::int64_t st = d < lead ? 0 : a.strides()[d - lead];
    red.push_back(static_cast<std::int64_t>(box.size()));
    box.insert(box.end(), {repeats[d], s});
    src_st.insert(src_st.end(), {0, st});
    os.push_back(checked_mul(s, repeats[d], op, a.shape()));
  }
  return repeat_copy(a, box, src_st, os, red, op, "RepeatBackward");
}

// Indices [0 (c_0 times), 1 (c_1 times), ...] in dtype `dt` (int64 or int32).
Tensor indices_from_counts(const std::vector<std::int64_t>& counts, Dtype dt, const Shape& shape) {
  std::int64_t total = 0;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    if (counts[i] < 0)
      throw Error(
          fmt::format("repeat_interleave: repeats must be non-negative, got {} at position {} (repeats shape {})",
                      counts[i], i, shape));
    if (__builtin_add_overflow(total, counts[i], &total))
      throw Error(fmt::format("repeat_interleave: the sum of repeats overflows int64 (repeats shape {})", shape));
  }
  Tensor out = detail::make_tensor({total}, dt, "repeat_interleave");
  auto fill = [&]<class I>(I* p) {
    for (std::size_t i = 0; i < counts.size(); ++i) p = std::fill_n(p, counts[i], static_cast<I>(i));
  };
  if (dt == Dtype::int32) {
    fill(out.data_ptr<std::int32_t>());
  } else {
    fill(out.data_ptr<std::int64_t>());
  }
  return out;
}

// ---- roll / flip --------------------------------------------------------------------------

// Rolls a by s[d] in [0, size_d) along every dim d. Output [s, n) of a rolled dim comes from
// input [0, n - s) and output [0, s) from input [n - s, n): one box copy per combination.
Tensor roll_by(const Tensor& a, const Dims& s) {
  const Shape& shape = a.shape();
  Tensor out = detail::make_tensor(shape, a.dtype(), "roll");
  const Dims ost = detail::contiguous_strides(shape);
  Dims rolled;
  for (std::size_t d = 0; d < s.size(); ++d)
    if (s[d] != 0) rolled.push_back(static_cast<std::int64_t>(d));
  if (out.numel() > 0)
    detail::dispatch(a.dtype(), [&]<class T>() {
      const T* src = a.strided_data_ptr<T>();
      T* dst = out.data_ptr<T>();
      for (std::uint64_t piece = 0; piece < (std::uint64_t{1} << rolled.size()); ++piece) {
        Shape box = shape;
        std::int64_t src_off = 0, dst_off = 0;
        for (std::size_t j = 0; j < rolled.size(); ++j) {
          const auto d = static_cast<std::size_t>(rolled[j]);
          const std::int64_t n = shape[d];
          if (piece >> j & 1) {  // the wrapped tail
            box[d] = s[d];
            src_off += (n - s[d]) * a.strides()[d];
          } else {
            box[d] = n - s[d];
            dst_off += s[d] * ost[d];
          }
        }
        detail::copy_box<T>(src, src_off, a.strides(), dst, dst_off, ost, box);
      }
    });
  if (any_requires_grad({&a}))
    record("RollBackward", {a}, {out}, {}, [s, shape](const Grads& g, const Grads&) {
      Dims back(s.size());
      for (std::size_t d = 0; d < s.size(); ++d) back[d] = s[d] == 0 ? 0 : shape[d] - s[d];
      return Grads{roll_by(g[0], back)};
    });
  return out;
}

// Reverses a along every dim d with f[d]: reads a from its last element with negated strides.
Tensor flip_by(const Tensor& a, const std::vector<bool>& f) {
  const Shape& shape = a.shape();
  Tensor out = detail::make_tensor(shape, a.dtype(), "flip");
  Dims src_st = a.strides();
  std::int64_t off = 0;
  for (std::size_t d = 0; d < shape.size(); ++d)
    if (f[d] && shape[d] > 0) {
      off += (shape[d] - 1) * src_st[d];
      src_st[d] = -src_st[d];
    }
  detail::dispatch(a.dtype(), [&]<class T>() {
    detail::copy_box<T>(a.strided_data_ptr<T>(), off, src_st, out.data_ptr<T>(), 0, detail::contiguous_strides(shape),
                        shape);
  });
  if (any_requires_grad({&a}))
    record("FlipBackward", {a}, {out}, {}, [f](const Grads& g, const Grads&) { return Grads{flip_by(g[0], f)}; });
  return out;
}

}  // namespace

Tensor tril(const Tensor& a, std::int64_t diagonal) {
  XGRAD_PROFILE_OP("tril", a);
  return triangle(a, diagonal, true);
}
Tensor triu(const Tensor& a, std::int64_t diagonal) {
  XGRAD_PROFILE_OP("triu", a);
  return triangle(a, diagonal, false);
}

Tensor one_hot(const Tensor& a, std::int64_t num_classes) {
  XGRAD_PROFILE_OP("one_hot", a);
  detail::check_defined(a, "one_hot");
  check_int_dtype(a, "one_hot", "the input (class indices)");
  if (num_classes < -1)
    throw Error(fmt::format("one_hot: num_classes must be -1 (inferred) or non-negative, got {}", num_classes));
  const std::vector<std::int64_t> v = int_values(a);
  if (!v.empty()) {
    const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
    if (*lo < 0)
      throw Error(fmt::format("one_hot: class values must be non-negative, got {} (input shape {})", *lo, a.shape()));
    if (num_classes == -1) {
      if (*hi == INT64_MAX)
        throw Error(fmt::format("one_hot: class value {} is too large (input shape {})", *hi, a.shape()));
      num_classes = *hi + 1;
    } else if (*hi >= num_classes) {
      throw Error(
          fmt::format("one_hot: class value {} is out of range for num_classes = {} (expected values in "
                      "[0, {}); input shape {})",
                      *hi, num_classes, num_classes, a.shape()));
    }
  } else if (num_classes == -1) {
    throw Error(
        fmt::format("one_hot: cannot infer the number of classes from an empty tensor (shape {}); pass "
                    "num_classes",
                    a.shape()));
  }
  Shape os = a.shape();
  os.push_back(num_classes);
  Tensor out = detail::make_tensor(os, Dtype::int64, "one_hot");
  std::int64_t* po = out.data_ptr<std::int64_t>();
  detail::parallel_for(static_cast<std::int64_t>(v.size()), detail::grain_for(num_classes),
                       [&](std::int64_t i0, std::int64_t i1) {
                         std::fill(po + i0 * num_classes, po + i1 * num_classes, std::int64_t{0});
                         for (std::int64_t i = i0; i < i1; ++i)
                           po[i * num_classes + v[static_cast<std::size_t>(i)]] = 1;
                       });
  return out;
}

Tensor repeat(const Tensor& a, const std::vector<std::int64_t>& repeats) {
  XGRAD_PROFILE_OP("repeat", a);
  return repeat_impl(a, repeats, "repeat");
}

Tensor tile(const Tensor& a, const std::vector<std::int64_t>& reps) {
  XGRAD_PROFILE_OP("tile", a);
  detail::check_defined(a, "tile");
  Dims r = reps;
  if (static_cast<std::int64_t>(r.size()) < a.dim())
    r.insert(r.begin(), a.dim() - static_cast<std::int64_t>(r.size()), 1);
  return repeat_impl(a, r, "tile");
}

Tensor repeat_interleave(const Tensor& a, std::int64_t repeats, std::optional<std::int64_t> dim) {
  XGRAD_PROFILE_OP("repeat_interleave", a);
  detail::check_defined(a, "repeat_interleave");
  if (repeats < 0) throw Error(fmt::format("repeat_interleave: repeats must be non-negative, got {}", repeats));
  if (dim && a.dim() == 0)
    throw Error(
        fmt::format("repeat_interleave: dim {} given for a 0-d tensor; pass no dim (the input is flattened)", *dim));
  // The output viewed as `box`: a's shape with a dim of size `repeats` after dim d (after
  // the last dim when flattening), read with stride 0 there.
  Shape box = a.shape();
  Dims src_st = a.strides();
  const std::int64_t d = dim ? detail::wrap_dim(*dim, a.dim(), "repeat_interleave", a.shape()) : a.dim() - 1;
  box.insert(box.begin() + (d + 1), repeats);
  src_st.insert(src_st.begin() + (d + 1), 0);
  Shape os = a.shape();
  if (dim) {
    os[static_cast<std::size_t>(d)] =
        checked_mul(os[static_cast<std::size_t>(d)], repeats, "repeat_interleave", a.shape());
  } else {
    os = {checked_mul(a.numel(), repeats, "repeat_interleave", a.shape())};
  }
  return repeat_copy(a, box, src_st, os, {d + 1}, "repeat_interleave", "RepeatInterleaveBackward");
}

Tensor repeat_interleave(const Tensor& a, const Tensor& repeats, std::optional<std::int64_t> dim) {
  XGRAD_PROFILE_OP("repeat_interleave", a, repeats);
  detail::check_defined(a, "repeat_interleave");
  detail::check_defined(repeats, "repeat_interleave");
  check_int_dtype(repeats, "repeat_interleave", "repeats");
  if (repeats.dim() > 1)
    throw Error(fmt::format("repeat_interleave: repeats must be a 0-d or 1-d tensor, got shape {}", repeats.shape()));
  // One count for every element (PyTorch expands it): the int form, without an index.
  if (repeats.numel() == 1) return repeat_interleave(a, int_values(repeats)[0], dim);
  if (dim && a.dim() == 0)
    throw Error(
        fmt::format("repeat_interleave: dim {} given for a 0-d tensor; pass no dim (the input is flattened)", *dim));
  const Tensor input = dim ? a : flatten(a);
  const std::int64_t d = dim ? detail::wrap_dim(*dim, a.dim(), "repeat_interleave", a.shape()) : 0;
  if (repeats.dim() == 0 || repeats.size(0) != input.size(d))
    throw Error(
        fmt::format("repeat_interleave: repeats must have the same size as input along dim, but got "
                    "repeats.size(0) = {} and input.size({}) = {} (input shape {})",
                    repeats.numel(), d, input.size(d), input.shape()));
  return index_select(input, d, indices_from_counts(int_values(repeats), Dtype::int64, repeats.shape()));
}

Tensor repeat_interleave(const Tensor& repeats) {
  XGRAD_PROFILE_OP("repeat_interleave", repeats);
  detail::check_defined(repeats, "repeat_interleave");
  check_int_dtype(repeats, "repeat_interleave", "repeats");
  if (repeats.dim() != 1)
    throw Error(fmt::format("repeat_interleave: repeats must be a 1-d tensor, got shape {}", repeats.shape()));
  return indices_from_counts(int_values(repeats), repeats.dtype(), repeats.shape());
}

Tensor roll(const Tensor& a, const std::vector<std::int64_t>& shifts, const std::vector<std::int64_t>& dims) {
  XGRAD_PROFILE_OP("roll", a);
  detail::check_defined(a, "roll");
  if (shifts.empty())
    throw Error(fmt::format("roll: `shifts` required (got an empty list; tensor shape {})", a.shape()));
  if (dims.empty() && shifts.size() == 1) return reshape(roll(flatten(a), shifts, {0}), a.shape());
  if (shifts.size() != dims.size())
    throw Error(
        fmt::format("roll: shifts and dimensions must align, got shifts {} and dims {} (with no dims, give "
                    "exactly one shift: the flattened tensor is rolled)",
                    shifts, dims));
  Dims s(a.shape().size(), 0);
  for (std::size_t k = 0; k < dims.size(); ++k) {
    const std::int64_t d = detail::wrap_dim(dims[k], a.dim(), "roll", a.shape());
    if (a.dim() == 0) continue;
    const std::int64_t n = a.shape()[static_cast<std::size_t>(d)];
    if (n == 0) continue;
    auto& sd = s[static_cast<std::size_t>(d)];
    sd = (sd + ((shifts[k] % n) + n) % n) % n;
  }
  return roll_by(a, s);
}

Tensor flip(const Tensor& a, const std::vector<std::int64_t>& dims) {
  XGRAD_PROFILE_OP("flip", a);
  detail::check_defined(a, "flip");
  std::vector<bool> f(static_cast<std::size_t>(std::max<std::int64_t>(a.dim(), 1)), false);
  for (auto dim : dims) {
    const auto d = static_cast<std::size_t>(detail::wrap_dim(dim, a.dim(), "flip", a.shape()));
    if (f[d]) throw Error(fmt::format("flip: dim {} appears multiple times in the list of dims {}", d, dims));
    f[d] = true;
  }
  return flip_by(a, f);
}

std::vector<Tensor> meshgrid(const std::vector<Tensor>& tensors, std::string_view indexing) {
  XGRAD_PROFILE_OP("meshgrid");
  if (tensors.empty()) throw Error("meshgrid: expected a non-empty list of tensors");
  if (indexing != "ij" && indexing != "xy")
    throw Error(fmt::format("meshgrid: indexing must be \"ij\" or \"xy\", got \"{}\"", indexing));
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    detail::check_defined(tensors[i], "meshgrid");
    if (tensors[i].dim() > 1)
      throw Error(
          fmt::format("meshgrid: expected 0-d or 1-d tensors, but tensor {} has shape {}", i, tensors[i].shape()));
    if (tensors[i].dtype() != tensors[0].dtype())
      throw Error(
          fmt::format("meshgrid: expected all tensors to have the same dtype, but tensor 0 is {} and tensor {} "
                      "is {}",
                      tensors[0].dtype(), i, tensors[i].dtype()));
  }
  // Grid dim of input i: i, except that "xy" swaps the first two.
  const bool xy = indexing == "xy" && tensors.size() >= 2;
  auto pos = [xy](std::size_t i) { return xy && i < 2 ? 1 - i : i; };
  Shape grid(tensors.size());
  for (std::size_t i = 0; i < tensors.size(); ++i) grid[pos(i)] = tensors[i].numel();
  std::vector<Tensor> out;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    Shape v(tensors.size(), 1);
    v[pos(i)] = grid[pos(i)];
    out.push_back(expand(reshape(tensors[i], v), grid));
  }
  return out;
}

}  // namespace xgrad
