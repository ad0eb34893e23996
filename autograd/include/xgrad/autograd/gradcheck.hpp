// Finite-difference checks of analytical gradients, in float64 (PyTorch's gradcheck).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "xgrad/autograd/tensor.hpp"

namespace xgrad {

struct GradcheckOptions {
  double eps = 1e-6;   ///< central-difference step
  double atol = 1e-5;  ///< pass when |analytical - numerical| <= atol + rtol |numerical|
  double rtol = 1e-3;
  /// Throw xgrad::Error describing the worst element on failure (else return the result).
  bool raise_exception = true;
};

struct GradcheckResult {
  bool ok = true;
  double max_abs_error = 0.0;
  std::size_t worst_input = 0;      ///< which input holds the worst element
  std::size_t worst_output = 0;     ///< which output element (flat index within its output)
  std::int64_t worst_index = -1;    ///< flat index of the worst element in that input
  double analytical = 0.0, numerical = 0.0;
  std::string message;
};

using GradcheckFn = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;

/// Compares, for every output element and every input element, the analytical Jacobian
/// (one backward per output element) with the central difference
/// (f(x + eps) - f(x - eps)) / (2 eps). Inputs must be float64; those with requires_grad
/// are checked. Throws xgrad::Error for non-float64 inputs, and (raise_exception) on a
/// mismatch, naming the worst element, its index and both values.
GradcheckResult gradcheck(const GradcheckFn& f, const std::vector<Tensor>& inputs, const GradcheckOptions& opts = {});
/// Single-output convenience overload.
GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                          const std::vector<Tensor>& inputs, const GradcheckOptions& opts = {});

/// Second-order check: gradchecks the function inputs -> d(sum(f(inputs) * v))/d(inputs)
/// computed with create_graph, where v is a fixed random vector.
GradcheckResult gradgradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                              const std::vector<Tensor>& inputs, const GradcheckOptions& opts = {});

}  // namespace xgrad
