// Gradient clipping (torch.nn.utils.clip_grad_norm_ / clip_grad_value_).
#pragma once

#include <limits>
#include <vector>

#include "xgrad/autograd/tensor.hpp"

namespace xgrad::optim {

/// Rescales the gradients of `params` in place so that their joint norm is at most max_norm.
///
///   total = ( sum_p ||g_p||_q^q )^(1/q)   for norm_type q = 2 (computed as the 2-norm of the
///                                        per-tensor 2-norms, like PyTorch)
///   total = max_p max_i |g_p,i|           for norm_type = inf
///   scale = max_norm / (total + 1e-6);  every g_p <- g_p * scale   when scale < 1
///
/// Parameters without a gradient are skipped (no gradient at all: returns 0). Returns the
/// total norm before clipping. Norms accumulate in double; the scaling runs in the
/// gradient's dtype. Throws xgrad::Error: norm_type other than 2 or inf, max_norm < 0, and,
/// when error_if_nonfinite, a NaN or infinite total norm.
double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0,
                       bool error_if_nonfinite = false);

/// Clamps every gradient element of `params` to [-clip_value, clip_value] in place.
/// Parameters without a gradient are skipped. Throws xgrad::Error when clip_value < 0.
void clip_grad_value_(const std::vector<Tensor>& params, double clip_value);

}  // namespace xgrad::optim
