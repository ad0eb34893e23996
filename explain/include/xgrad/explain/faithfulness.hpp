// Deletion / insertion faithfulness of an attribution map (Petsiuk et al. 2018, "RISE"), to
// compare attribution methods on the same model and inputs (xgrad::explain). The common rules
// of attribution.hpp apply (model in eval mode, target defaults to the argmax at x).
#pragma once

#include <cstdint>

#include "xgrad/autograd/options.hpp"
#include "xgrad/autograd/tensor.hpp"
#include "xgrad/nn/module.hpp"

namespace xgrad::explain {

/// Options of deletion_insertion.
struct FaithfulnessOptions {
#define XGRAD_EXPLAIN_FIELDS(X)                                                    \
  X(std::int64_t, steps, 10, ::xgrad::options::any)                                \
  X(double, baseline, 0.0, ::xgrad::options::any)   /* value of a deleted pixel */ \
  X(bool, use_softmax, true, ::xgrad::options::any) /* score = p_t, else logit */
  XGRAD_OPTIONS(FaithfulnessOptions, XGRAD_EXPLAIN_FIELDS)
#undef XGRAD_EXPLAIN_FIELDS
};

struct FaithfulnessResult {
  Tensor deletion_curve;   ///< [N, steps + 1], float64
  Tensor insertion_curve;  ///< [N, steps + 1], float64
  Tensor deletion_auc;     ///< [N], float64: lower = more faithful
  Tensor insertion_auc;    ///< [N], float64: higher = more faithful
};

/// x [N, C, H, W]; attribution [N, C, H, W] or [N, 1, H, W] (e.g. a CAM). Pixels are ranked by
/// their importance sum_c attribution[n, c, i, j] (descending; ties by row-major position).
/// For k = 0..steps the first round(k H W / steps) pixels of the ranking (all channels) are
///  * deletion: set to `baseline` in x; * insertion: taken from x into an all-`baseline` image;
/// and the score s_k (softmax probability of the target, or its logit with use_softmax(false))
/// is recorded. AUC = sum_k (s_k + s_{k+1}) / (2 steps) (trapezoid on [0, 1]). A faithful map
/// gives a low deletion AUC (the score falls fast) and a high insertion AUC. Runs under no-grad.
/// Throws xgrad::Error for x not 4-d, an attribution of another shape, steps < 1, and as
/// attribution.hpp says for the target.
FaithfulnessResult deletion_insertion(nn::Module& model, const Tensor& x, const Tensor& attribution,
                                      const Tensor& target = {}, const FaithfulnessOptions& options = {});

}  // namespace xgrad::explain
