// Zero-copy interop with xtensor (pulls in xtensor's container headers; include it only where
// you need it).
#pragma once

#include <xtensor/xadapt.hpp>
#include <xtensor/xarray.hpp>

#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/tensor.hpp"

namespace xgrad {

/// An xtensor adaptor over the tensor's elements with its shape and strides (views too):
/// reads and writes go to the tensor's storage (writes do not bump the version counter).
/// Throws if T does not match the dtype.
template <class T>
auto Tensor::data() const {
  T* p = strided_data_ptr<T>();
  std::vector<std::size_t> sh(shape().begin(), shape().end());
  std::vector<std::size_t> st(strides().begin(), strides().end());
  // xtensor sizes a strided adaptor's buffer by its element count; access goes through the
  // strides.
  return xt::adapt(p, static_cast<std::size_t>(numel()), xt::no_ownership(), sh, st);
}

/// A tensor holding a copy of an xtensor expression's values (dtype from T).
template <class E>
Tensor from_xtensor(const xt::xexpression<E>& e, bool requires_grad = false) {
  using T = typename E::value_type;
  xt::xarray<T> a = e.derived_cast();
  Shape s(a.shape().begin(), a.shape().end());
  std::vector<T> v(a.begin(), a.end());
  return from_vector<T>(v, s, requires_grad);
}

}  // namespace xgrad
