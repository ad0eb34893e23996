// Tensor's methods for the ops of masking.hpp, scatter.hpp, structure.hpp, sorting.hpp,
// math.hpp and the linear-algebra headers: each calls the free function.
#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/linalg.hpp"
#include "xgrad/autograd/linalg_functions.hpp"
#include "xgrad/autograd/masking.hpp"
#include "xgrad/autograd/math.hpp"
#include "xgrad/autograd/reduction.hpp"
#include "xgrad/autograd/scatter.hpp"
#include "xgrad/autograd/shape.hpp"
#include "xgrad/autograd/sorting.hpp"
#include "xgrad/autograd/structure.hpp"

namespace xgrad {

using I64s = std::vector<std::int64_t>;

Tensor Tensor::div(const Tensor& o, std::string_view mode) const { return xgrad::div(*this, o, mode); }
Tensor Tensor::floor_divide(const Tensor& o) const { return xgrad::floor_divide(*this, o); }
Tensor Tensor::logical_and(const Tensor& o) const { return xgrad::logical_and(*this, o); }
Tensor Tensor::logical_or(const Tensor& o) const { return xgrad::logical_or(*this, o); }
Tensor Tensor::logical_xor(const Tensor& o) const { return xgrad::logical_xor(*this, o); }
Tensor Tensor::logical_not() const { return xgrad::logical_not(*this); }
Tensor Tensor::bitwise_not() const { return xgrad::bitwise_not(*this); }
Tensor Tensor::any(const I64s& dims, bool keepdim) const { return xgrad::any(*this, dims, keepdim); }
Tensor Tensor::all(const I64s& dims, bool keepdim) const { return xgrad::all(*this, dims, keepdim); }

Tensor Tensor::masked_fill(const Tensor& mask, double v) const { return xgrad::masked_fill(*this, mask, v); }
Tensor Tensor::masked_fill(const Tensor& mask, const Tensor& v) const { return xgrad::masked_fill(*this, mask, v); }
Tensor& Tensor::masked_fill_(const Tensor& mask, double v) { return xgrad::masked_fill_(*this, mask, v); }
Tensor Tensor::masked_select(const Tensor& mask) const { return xgrad::masked_select(*this, mask); }
Tensor Tensor::masked_scatter(const Tensor& mask, const Tensor& src) const {
  return xgrad::masked_scatter(*this, mask, src);
}
Tensor Tensor::nonzero() const { return xgrad::nonzero(*this); }

Tensor Tensor::scatter(std::int64_t dim, const Tensor& index, const Tensor& src) const {
  return xgrad::scatter(*this, dim, index, src);
}
Tensor Tensor::scatter(std::int64_t dim, const Tensor& index, double value) const {
  return xgrad::scatter(*this, dim, index, value);
}
Tensor Tensor::scatter_add(std::int64_t dim, const Tensor& index, const Tensor& src) const {
  return xgrad::scatter_add(*this, dim, index, src);
}
Tensor Tensor::scatter_reduce(std::int64_t dim, const Tensor& index, const Tensor& src, std::string_view reduce,
                              bool include_self) const {
  return xgrad::scatter_reduce(*this, dim, index, src, reduce, include_self);
}
Tensor Tensor::take_along_dim(const Tensor& indices, std::optional<std::int64_t> dim) const {
  return xgrad::take_along_dim(*this, indices, dim);
}
Tensor Tensor::index_add(std::int64_t dim, const Tensor& index, const Tensor& source, double alpha) const {
  return xgrad::index_add(*this, dim, index, source, alpha);
}

Tensor Tensor::tril(std::int64_t diagonal) const { return xgrad::tril(*this, diagonal); }
Tensor Tensor::triu(std::int64_t diagonal) const { return xgrad::triu(*this, diagonal); }
Tensor Tensor::repeat(const I64s& repeats) const { return xgrad::repeat(*this, repeats); }
Tensor Tensor::tile(const I64s& reps) const { return xgrad::tile(*this, reps); }
Tensor Tensor::repeat_interleave(std::int64_t repeats, std::optional<std::int64_t> dim) const {
  return xgrad::repeat_interleave(*this, repeats, dim);
}
Tensor Tensor::repeat_interleave(const Tensor& repeats, std::optional<std::int64_t> dim) const {
  return xgrad::repeat_interleave(*this, repeats, dim);
}
Tensor Tensor::roll(const I64s& shifts, const I64s& dims) const { return xgrad::roll(*this, shifts, dims); }
Tensor Tensor::flip(const I64s& dims) const { return xgrad::flip(*this, dims); }

std::tuple<Tensor, Tensor> Tensor::sort(std::int64_t dim, bool descending, bool stable) const {
  return xgrad::sort(*this, dim, descending, stable);
}
Tensor Tensor::argsort(std::int64_t dim, bool descending, bool stable) const {
  return xgrad::argsort(*this, dim, descending, stable);
}
std::tuple<Tensor, Tensor> Tensor::topk(std::int64_t k, std::int64_t dim, bool largest, bool sorted) const {
  return xgrad::topk(*this, k, dim, largest, sorted);
}
std::tuple<Tensor, Tensor> Tensor::kthvalue(std::int64_t k, std::int64_t dim, bool keepdim) const {
  return xgrad::kthvalue(*this, k, dim, keepdim);
}
Tensor Tensor::median() const { return xgrad::median(*this); }
std::tuple<Tensor, Tensor> Tensor::median(std::int64_t dim, bool keepdim) const {
  return xgrad::median(*this, dim, keepdim);
}
Tensor Tensor::cumsum(std::int64_t dim) const { return xgrad::cumsum(*this, dim); }
Tensor Tensor::cumprod(std::int64_t dim) const { return xgrad::cumprod(*this, dim); }
Tensor Tensor::logcumsumexp(std::int64_t dim) const { return xgrad::logcumsumexp(*this, dim); }

Tensor Tensor::prod() const { return xgrad::prod(*this); }
Tensor Tensor::prod(std::int64_t dim, bool keepdim) const { return xgrad::prod(*this, dim, keepdim); }
Tensor Tensor::nansum(const I64s& dims, bool keepdim) const { return xgrad::nansum(*this, dims, keepdim); }
Tensor Tensor::nanmean(const I64s& dims, bool keepdim) const { return xgrad::nanmean(*this, dims, keepdim); }
Tensor Tensor::isnan() const { return xgrad::isnan(*this); }
Tensor Tensor::isinf() const { return xgrad::isinf(*this); }
Tensor Tensor::isfinite() const { return xgrad::isfinite(*this); }
Tensor Tensor::nan_to_num(std::optional<double> nan, std::optional<double> posinf, std::optional<double> neginf) const {
  return xgrad::nan_to_num(*this, nan, posinf, neginf);
}
Tensor Tensor::clamp(const std::optional<Tensor>& min, const std::optional<Tensor>& max) const {
  return xgrad::clamp(*this, min, max);
}
Tensor Tensor::lerp(const Tensor& end, double weight) const { return xgrad::lerp(*this, end, weight); }
Tensor Tensor::lerp(const Tensor& end, const Tensor& weight) const { return xgrad::lerp(*this, end, weight); }
Tensor Tensor::hypot(const Tensor& o) const { return xgrad::hypot(*this, o); }
Tensor Tensor::atan2(const Tensor& o) const { return xgrad::atan2(*this, o); }
Tensor Tensor::logaddexp(const Tensor& o) const { return xgrad::logaddexp(*this, o); }
Tensor Tensor::xlogy(const Tensor& o) const { return xgrad::xlogy(*this, o); }
Tensor Tensor::erfinv() const { return xgrad::erfinv(*this); }
Tensor Tensor::erfc() const { return xgrad::erfc(*this); }
Tensor Tensor::lgamma() const { return xgrad::lgamma(*this); }
Tensor Tensor::digamma() const { return xgrad::digamma(*this); }
Tensor Tensor::trunc() const { return xgrad::trunc(*this); }
Tensor Tensor::frac() const { return xgrad::frac(*this); }
Tensor Tensor::round(std::int64_t decimals) const { return xgrad::round(*this, decimals); }

Tensor Tensor::addmm(const Tensor& mat1, const Tensor& mat2, double beta, double alpha) const {
  return xgrad::addmm(*this, mat1, mat2, beta, alpha);
}
Tensor Tensor::baddbmm(const Tensor& batch1, const Tensor& batch2, double beta, double alpha) const {
  return xgrad::baddbmm(*this, batch1, batch2, beta, alpha);
}
Tensor Tensor::inverse() const { return linalg::inv(*this); }
Tensor Tensor::det() const { return linalg::det(*this); }

}  // namespace xgrad
