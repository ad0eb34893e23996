// Input checks shared by the loss functional forms (loss.cpp, loss_classification.cpp). Options
// are validated by their own field checks (options::validate_options), not here.
#pragma once

#include <string_view>

#include "xgrad/nn/loss.hpp"

namespace xgrad::nn::loss_checks {

inline void check_floating(const Tensor& t, std::string_view op, std::string_view what) {
  detail::check_defined(t, op);
  if (!is_floating(t.dtype()))
    throw Error(fmt::format("{}: {} must be floating (float32 or float64), got {} of shape {}", op, what, t.dtype(),
                            t.shape()));
}

inline void check_same_shape(const Tensor& a, const Tensor& b, std::string_view op, std::string_view an,
                             std::string_view bn) {
  if (a.shape() != b.shape())
    throw Error(fmt::format("{}: {} shape {} and {} shape {} differ (expected the same shape)", op, an, a.shape(), bn,
                            b.shape()));
}

inline void check_same_dtype(const Tensor& a, const Tensor& b, std::string_view op, std::string_view an,
                             std::string_view bn) {
  if (a.dtype() != b.dtype())
    throw Error(fmt::format("{}: {} dtype {} and {} dtype {} differ (convert one with .to())", op, an, a.dtype(), bn,
                            b.dtype()));
}

/// a and b (named an, bn; by default input and target): both floating, same shape, same dtype.
inline void check_pair(const Tensor& a, const Tensor& b, std::string_view op, std::string_view an = "input",
                       std::string_view bn = "target") {
  check_floating(a, op, an);
  check_floating(b, op, bn);
  check_same_shape(a, b, op, an, bn);
  check_same_dtype(a, b, op, an, bn);
}

}  // namespace xgrad::nn::loss_checks
