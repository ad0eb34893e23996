// The batched reverse pass behind jacobian/hessian(vectorize = true) (see functional.hpp).
#pragma once

#include <optional>
#include <vector>

#include "xgrad/autograd/tensor.hpp"

namespace xgrad::autograd::functional::detail {

/// The Jacobian rows of `out` with respect to each of `xs` (leaves that require grad), as
/// tensors of shape [out.numel(), *xs[j].shape] (undefined for an input that `out` does not
/// reach), computed by reverse passes that carry all the identity seeds at once (in chunks
/// when large). nullopt when some node on the way has no batched rule, a hook is registered,
/// anomaly mode is on, or an input is not a leaf: the caller then loops over the rows.
/// Must be called with grad mode off in effect for the results (nothing is recorded).
std::optional<std::vector<Tensor>> batched_jacobian(const Tensor& out, const std::vector<Tensor>& xs);

}  // namespace xgrad::autograd::functional::detail
