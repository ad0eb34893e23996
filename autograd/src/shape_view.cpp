// Shape ops that share storage (reshape, view, flatten, squeeze, unsqueeze) and expand.
#include <algorithm>

#include "kernel.hpp"
#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/shape.hpp"

namespace xgrad {

namespace {

using Grads = std::vector<Tensor>;

// A tensor sharing a's storage with a new shape; gradient reshaped back.
Tensor alias(const Tensor& a, Shape shape, const char* node_name) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = a.impl()->storage;
  impl->numel = a.numel();
  impl->shape = std::move(shape);
  impl->dtype = a.dtype();
  Tensor out(std::move(impl));
  if (any_requires_grad({&a}))
    record(node_name, {a}, {out}, {}, [in_shape = a.shape()](const Grads& g, const Grads&) {
      return Grads{reshape(g[0], in_shape)};
    });
  return out;
}

}  // namespace

Tensor reshape(const Tensor& a, const Shape& shape) {
  detail::check_defined(a, "reshape");
  Shape s = shape;
  std::int64_t known = 1, infer = -1;
  bool overflow = false;  // no tensor has that many elements (unless a size is 0)
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      if (infer >= 0) throw Error(fmt::format("reshape: only one dimension can be inferred, got shape {}", shape));
      infer = static_cast<std::int64_t>(i);
    } else if (s[i] < 0) {
      throw Error(fmt::format("reshape: invalid shape dimension {} in {}", s[i], shape));
    } else {
      overflow = __builtin_mul_overflow(known, s[i], &known) || overflow;
    }
  }
  if (std::find(s.begin(), s.end(), 0) != s.end()) {
    known = 0;
    overflow = false;
  }
  if (overflow)
    throw Error(fmt::format("reshape: shape {} is invalid for input of size {} (shape {})", shape, a.numel(), a.shape()));
  if (infer >= 0) {
    if (known == 0 || a.numel() % known != 0)
      throw Error(fmt::format("reshape: shape {} is invalid for input of size {} (shape {})", shape, a.numel(),
                              a.shape()));
    s[infer] = a.numel() / known;
  }
  if (shape_numel(s) != a.numel())
    throw Error(fmt::format("reshape: shape {} is invalid for input of size {} (shape {})", shape, a.numel(), a.shape()));
  if (s == a.shape()) return a;
  return alias(a, std::move(s), "ViewBackward");
}

Tensor view(const Tensor& a, const Shape& shape) { return reshape(a, shape); }

Tensor flatten(const Tensor& a, std::int64_t start_dim, std::int64_t end_dim) {
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
  detail::check_defined(a, "squeeze");
  Shape out;
  for (auto v : a.shape())
    if (v != 1) out.push_back(v);
  return reshape(a, out);
}

Tensor squeeze(const Tensor& a, std::int64_t dim) {
  detail::check_defined(a, "squeeze");
  if (a.dim() == 0) return a;
  const std::int64_t d = detail::wrap_dim(dim, a.dim(), "squeeze", a.shape());
  if (a.shape()[d] != 1) return a;
  Shape out = a.shape();
  out.erase(out.begin() + d);
  return reshape(a, out);
}

Tensor unsqueeze(const Tensor& a, std::int64_t dim) {
  detail::check_defined(a, "unsqueeze");
  const std::int64_t d = detail::wrap_dim(dim, a.dim() + 1, "unsqueeze", a.shape());
  Shape out = a.shape();
  out.insert(out.begin() + d, 1);
  return reshape(a, out);
}

Tensor expand(const Tensor& a, const Shape& shape) {
  detail::check_defined(a, "expand");
  if (shape.size() < a.shape().size())
    throw Error(fmt::format("expand: the number of sizes provided ({}) must be greater or equal to the number of "
                            "dimensions of the tensor ({}), shape {}",
                            shape.size(), a.dim(), a.shape()));
  Shape target = shape;
  const std::size_t off = shape.size() - a.shape().size();
  for (std::size_t i = 0; i < shape.size(); ++i) {
    const std::int64_t in = i < off ? 1 : a.shape()[i - off];
    if (shape[i] == -1) {
      if (i < off) throw Error(fmt::format("expand: -1 is not allowed in a leading, new dimension ({})", shape));
      target[i] = in;
    } else if (in != 1 && in != shape[i]) {
      throw Error(fmt::format("expand: the expanded size of the tensor ({}) must match the existing size ({}) at "
                              "dimension {}; target {} from shape {}",
                              shape[i], in, i, shape, a.shape()));
    }
  }
  if (target == a.shape()) return a;
  Tensor out = detail::make_tensor(target, a.dtype());
  detail::dispatch(a.dtype(), [&]<class T>() {
    const T* p = a.data_ptr<T>();
    T* o = out.data_ptr<T>();
    if (a.numel() == 1) {
      const T v = p[0];
      detail::parallel_for(out.numel(), detail::kGrain, [&](std::int64_t b, std::int64_t e) {
        for (std::int64_t i = b; i < e; ++i) o[i] = v;
      });
      return;
    }
    std::array<std::vector<std::int64_t>, 1> st{detail::broadcast_strides(a.shape(), target)};
    detail::broadcast_rows<1>(target, st, [&](std::int64_t ob, const std::array<std::int64_t, 1>& off, std::int64_t len,
                                              const std::array<std::int64_t, 1>& is) {
      for (std::int64_t j = 0; j < len; ++j) o[ob + j] = p[off[0] + j * is[0]];
    });
  });
  if (any_requires_grad({&a}))
    record("ExpandBackward", {a}, {out}, {}, [in_shape = a.shape()](const Grads& g, const Grads&) {
      return Grads{sum_to(g[0], in_shape)};
    });
  return out;
}

Tensor broadcast_to(const Tensor& a, const Shape& shape) { return expand(a, shape); }

Tensor Tensor::reshape(const Shape& s) const { return xgrad::reshape(*this, s); }
Tensor Tensor::view(const Shape& s) const { return xgrad::view(*this, s); }
Tensor Tensor::flatten(std::int64_t s, std::int64_t e) const { return xgrad::flatten(*this, s, e); }
Tensor Tensor::squeeze() const { return xgrad::squeeze(*this); }
Tensor Tensor::squeeze(std::int64_t d) const { return xgrad::squeeze(*this, d); }
Tensor Tensor::unsqueeze(std::int64_t d) const { return xgrad::unsqueeze(*this, d); }
Tensor Tensor::expand(const Shape& s) const { return xgrad::expand(*this, s); }

}  // namespace xgrad
