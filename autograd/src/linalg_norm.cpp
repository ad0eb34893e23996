// xgrad::linalg norms: vector_norm, matrix_norm and norm (which picks one of the two).
// Orders with a gradient of their own in reduction.cpp (1, 2, inf) reuse xgrad::norm; -inf is
// amin(|x|); 0 and other p are one recorded node each with PyTorch's norm_backward; matrix
// norms compose sums, amax/amin and svdvals.
#include <cmath>
#include <limits>
#include <variant>

#include "kernel.hpp"
#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/linalg_functions.hpp"
#include "xgrad/autograd/reduction.hpp"
#include "xgrad/autograd/shape.hpp"
#include "xgrad/autograd/profile_scope.hpp"

namespace xgrad::linalg {

namespace {

using Grads = std::vector<Tensor>;
constexpr double kInf = std::numeric_limits<double>::infinity();

void check_float(const Tensor& t, std::string_view op) {
  detail::check_defined(t, op);
  if (!is_floating(t.dtype()))
    throw Error(fmt::format("{}: expected a float32 or float64 tensor, got {} for input of shape {}", op, t.dtype(),
                            t.shape()));
}

// The reduced dims, wrapped and checked (empty: all dims). A 0-d tensor accepts 0 and -1.
Dims reduced_dims(const Tensor& x, const Dims& dim, std::string_view op) {
  Dims out;
  if (x.dim() == 0) {
    for (std::int64_t d : dim)
      if (d != 0 && d != -1) throw Error(fmt::format("{}: dim {} out of range for tensor of shape []", op, d));
    return out;
  }
  std::vector<bool> seen(static_cast<std::size_t>(x.dim()), false);
  for (std::int64_t d : dim) {
    const std::int64_t w = detail::wrap_dim(d, x.dim(), op, x.shape());
    if (seen[static_cast<std::size_t>(w)])
      throw Error(
          fmt::format("{}: dim {} appears more than once in dim {} (tensor of shape {})", op, w, dim, x.shape()));
    seen[static_cast<std::size_t>(w)] = true;
    out.push_back(w);
  }
  return out;
}

// x's shape with the reduced dims (all when empty) set to 1.
Shape kept_shape(const Tensor& x, const Dims& dims) {
  Shape s = x.shape();
  if (dims.empty()) std::fill(s.begin(), s.end(), 1);
  for (std::int64_t d : dims) s[static_cast<std::size_t>(d)] = 1;
  return s;
}

// 1 where x == 0 (zero = true) or x != 0 (zero = false), else 0; x's dtype, no history.
Tensor zero_mask(const Tensor& x, bool zero) {
  NoGradGuard ng;
  const Tensor p = detail::packed(x);
  Tensor m = detail::make_tensor(x.shape(), x.dtype());
  detail::dispatch_floating(x, "linalg.vector_norm", [&]<class T>() {
    const T* a = p.data_ptr<T>();
    T* o = m.data_ptr<T>();
    for (std::int64_t i = 0; i < x.numel(); ++i) o[i] = (a[i] == T(0)) == zero ? T(1) : T(0);
  });
  return m;
}

// ord 0 and ord p outside {1, 2, +-inf}: one node with PyTorch's norm_backward.
Tensor general_vector_norm(const Tensor& x, double p, const Dims& dims, bool keepdim) {
  Tensor out;
  {
    NoGradGuard ng;
    out = p == 0.0 ? sum(zero_mask(x, false), dims, keepdim) : pow(sum(pow(abs(x), p), dims, keepdim), 1.0 / p);
  }
  if (!any_requires_grad({&x})) return out;
  const Shape ks = kept_shape(x, dims);
  record("LinalgVectorNormBackward", {x}, {out}, {x, out}, [p, ks](const Grads& g, const Grads& s) {
    const Tensor& x = s[0];
    const Tensor gk = reshape(g[0], ks), nk = reshape(s[1], ks);  // broadcast against x
    if (p == 0.0) return Grads{mul(expand(gk, x.shape()), 0.0)};  // a count: locally constant
    if (p < 1.0) {
      // sign(x) |x|^(p-1) g norm^(1-p), 0 where x = 0 (|x| is replaced by 1 there, and
      // sign(0) = 0, so no inf * 0 reaches the graph).
      const Tensor scaled = mul(sign(x), pow(abs(add(x, zero_mask(x, true))), p - 1.0));
      return Grads{mul(mul(scaled, gk), pow(nk, 1.0 - p))};
    }
    // sign(x) |x|^(p-1) g / norm^(p-1) (x |x|^(p-2) for p >= 2), 0 where norm = 0.
    const Tensor scaled = p < 2.0 ? mul(sign(x), pow(abs(x), p - 1.0)) : mul(x, pow(abs(x), p - 2.0));
    const Tensor nz = zero_mask(nk, true);
    const Tensor scale = mul(div(gk, pow(add(nk, nz), p - 1.0)), rsub(nz, 1.0));
    return Grads{mul(scaled, scale)};
  });
  return out;
}

// The matrix norm itself (ord is a string or a number), A validated.
using Ord = std::variant<std::string_view, double>;

std::string ord_name(const Ord& ord) {
  return std::holds_alternative<double>(ord) ? fmt::format("{}", std::get<double>(ord))
                                             : std::string(std::get<std::string_view>(ord));
}

Tensor matrix_norm_impl(const Tensor& A, const Ord& ord, const Dims& dim, bool keepdim) {
  constexpr std::string_view op = "linalg.matrix_norm";
  check_float(A, op);
  if (A.dim() < 2)
    throw Error(fmt::format("{}: the input tensor A must have at least 2 dimensions, got shape {}", op, A.shape()));
  if (dim.size() != 2)
    throw Error(fmt::format("{}: dim must be a pair of dims, got {} (A of shape {})", op, dim, A.shape()));
  const std::int64_t d0 = detail::wrap_dim(dim[0], A.dim(), op, A.shape());
  const std::int64_t d1 = detail::wrap_dim(dim[1], A.dim(), op, A.shape());
  if (d0 == d1) throw Error(fmt::format("{}: dims must be different, got {} (A of shape {})", op, dim, A.shape()));

  Shape out_shape = A.shape();  // without the two dims; with size 1 there when keepdim
  if (keepdim) {
    out_shape[static_cast<std::size_t>(d0)] = out_shape[static_cast<std::size_t>(d1)] = 1;
  } else {
    out_shape.erase(out_shape.begin() + std::max(d0, d1));
    out_shape.erase(out_shape.begin() + std::min(d0, d1));
  }
  auto empty_error = [&](std::int64_t d) {
    if (A.size(d) == 0)
      throw Error(
          fmt::format("{}: the {} norm of matrices with an empty dimension is not defined (the operation has "
                      "no identity; A of shape {})",
                      op, ord_name(ord), A.shape()));
  };

  if (std::holds_alternative<std::string_view>(ord)) {
    const std::string_view s = std::get<std::string_view>(ord);
    if (s == "fro") return vector_norm(A, 2.0, Dims{d0, d1}, keepdim);
    if (s != "nuc") throw Error(fmt::format("{}: Order {} not supported (A of shape {})", op, s, A.shape()));
  } else {
    const double o = std::get<double>(ord);
    if (o == 1.0 || o == -1.0 || o == kInf || o == -kInf) {
      // 1: max over columns (d1) of the column sums (over d0); inf: max over rows of row sums.
      const bool cols = std::fabs(o) == 1.0;
      const std::int64_t summed = cols ? d0 : d1, maxed = cols ? d1 : d0;
      empty_error(maxed);
      const Tensor sums = sum(abs(A), Dims{summed}, true);
      const Tensor r = o > 0 ? amax(sums, Dims{maxed}, true) : amin(sums, Dims{maxed}, true);
      return reshape(r, out_shape);
    }
    if (o != 2.0 && o != -2.0) throw Error(fmt::format("{}: Order {} not supported (A of shape {})", op, o, A.shape()));
  }
  // "nuc", 2, -2: singular values of the matrices formed by (d0, d1).
  Dims perm;
  for (std::int64_t d = 0; d < A.dim(); ++d)
    if (d != d0 && d != d1) perm.push_back(d);
  perm.push_back(d0);
  perm.push_back(d1);
  const bool nuc = std::holds_alternative<std::string_view>(ord);
  if (!nuc) {
    empty_error(d0);
    empty_error(d1);
  }
  const Tensor s = svdvals(permute(A, perm));
  const Tensor r = nuc ? sum(s, Dims{-1}) : std::get<double>(ord) > 0 ? amax(s, Dims{-1}) : amin(s, Dims{-1});
  return reshape(r, out_shape);
}

}  // namespace

Tensor vector_norm(const Tensor& x, double ord, const Dims& dim, bool keepdim) {
  XGRAD_PROFILE_OP("linalg.vector_norm", x);
  constexpr std::string_view op = "linalg.vector_norm";
  check_float(x, op);
  if (std::isnan(ord)) throw Error(fmt::format("{}: ord must not be NaN (x of shape {})", op, x.shape()));
  const Dims dims = reduced_dims(x, dim, op);
  if (std::isinf(ord)) {
    std::int64_t n = 1;
    if (dims.empty())
      n = x.numel();
    else
      for (std::int64_t d : dims) n *= x.size(d);
    if (n == 0)
      throw Error(
          fmt::format("{}: cannot compute the {} norm of an empty reduction (the operation has no identity; x "
                      "of shape {}, dim {})",
                      op, ord, x.shape(), dim));
  }
  if (ord == 2.0 || ord == 1.0 || ord == kInf) {
    // xgrad::norm reduces all dims for an empty list, like PyTorch's dim=None; a 0-d x has none.
    return xgrad::norm(x, ord, dims, keepdim);
  }
  if (ord == -kInf) return amin(abs(x), dims, keepdim);
  return general_vector_norm(x, ord, dims, keepdim);
}

Tensor matrix_norm(const Tensor& A, std::string_view ord, const Dims& dim, bool keepdim) {
  XGRAD_PROFILE_OP("linalg.matrix_norm", A);
  return matrix_norm_impl(A, Ord(ord), dim, keepdim);
}

Tensor matrix_norm(const Tensor& A, double ord, const Dims& dim, bool keepdim) {
  XGRAD_PROFILE_OP("linalg.matrix_norm", A);
  return matrix_norm_impl(A, Ord(ord), dim, keepdim);
}

namespace {

void check_norm_dims(const Tensor& A, const std::optional<Dims>& dim, bool has_ord) {
  constexpr std::string_view op = "linalg.norm";
  check_float(A, op);
  if (dim) {
    if (dim->size() != 1 && dim->size() != 2)
      throw Error(fmt::format("{}: If dim is specified, it must be of length 1 or 2. Got {} (input of shape {})", op,
                              *dim, A.shape()));
  } else if (has_ord && A.dim() != 1 && A.dim() != 2) {
    throw Error(fmt::format("{}: If dim is not specified but ord is, the input must be 1D or 2D. Got {}D (shape {})",
                            op, A.dim(), A.shape()));
  }
}

}  // namespace

Tensor norm(const Tensor& A, std::optional<double> ord, const std::optional<Dims>& dim, bool keepdim) {
  XGRAD_PROFILE_OP("linalg.norm", A);
  check_norm_dims(A, dim, ord.has_value());
  if (ord && ((dim && dim->size() == 2) || (!dim && A.dim() == 2)))
    return matrix_norm(A, *ord, dim ? *dim : Dims{0, 1}, keepdim);
  return vector_norm(A, ord.value_or(2.0), dim ? *dim : Dims{}, keepdim);
}

Tensor norm(const Tensor& A, std::string_view ord, const std::optional<Dims>& dim, bool keepdim) {
  XGRAD_PROFILE_OP("linalg.norm", A);
  check_norm_dims(A, dim, true);
  return matrix_norm(A, ord, dim ? *dim : Dims{0, 1}, keepdim);
}

}  // namespace xgrad::linalg
