// Class activation maps on a convolutional layer (Grad-CAM, Grad-CAM++) and layer activation
// capture (xgrad::explain). The common rules of attribution.hpp apply (model in eval mode,
// target defaults to the argmax, score = the target's logit, results detached).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "xgrad/autograd/options.hpp"
#include "xgrad/autograd/tensor.hpp"
#include "xgrad/nn/module.hpp"

namespace xgrad::explain {

/// Options of grad_cam and grad_cam_plus_plus.
struct GradCamOptions {
#define XGRAD_EXPLAIN_FIELDS(X)                                                       \
  X(bool, upsample, true, ::xgrad::options::any)  /* bilinear to the input's H x W */ \
  X(bool, normalize, true, ::xgrad::options::any) /* min-max to [0, 1] per sample */
  XGRAD_OPTIONS(GradCamOptions, XGRAD_EXPLAIN_FIELDS)
#undef XGRAD_EXPLAIN_FIELDS
};

/// Grad-CAM (Selvaraju et al. 2017; Captum's LayerGradCam + LayerAttribution.interpolate).
/// `layer` is a module of `model` (checked by identity among model.modules()) called exactly
/// once per forward, whose output A is [N, K, h, w]. A forward hook captures A; its gradient
/// G = dS_t/dA is taken with autograd::grad on the captured output (a backward that stops at
/// the layer). Then
///   alpha_k = mean_{i,j} G[n, k, i, j],   L[n] = ReLU(sum_k alpha_k A[n, k]),
/// returned as [N, 1, h, w], or (upsample, the default) resized to the input's [H, W] with
/// bilinear interpolation (align_corners = false; x must then be [N, C, H, W]), and
/// (normalize, the default) scaled per sample to [0, 1] by (L - min L) / (max L - min L); a
/// constant map becomes all zeros. Throws xgrad::Error naming the function for a layer that is
/// not part of the model, that produced no output or ran more than once in the forward, an
/// output that is not 4-d, and as attribution.hpp says for x and target.
Tensor grad_cam(nn::Module& model, nn::Module& layer, const Tensor& x, const Tensor& target = {},
                const GradCamOptions& options = {});

/// Grad-CAM++ (Chattopadhay et al. 2018, with the usual exponential-score simplification, as in
/// pytorch-grad-cam): with G = dS_t/dA,
///   a[n,k,i,j] = G^2 / (2 G^2 + sum_{i',j'} A[n,k,i',j'] G^3)   (0 where the denominator is 0),
///   w_k = sum_{i,j} a ReLU(G),   L[n] = ReLU(sum_k w_k A[n, k]),
/// then upsampled and normalised as grad_cam. Same shapes and errors as grad_cam.
Tensor grad_cam_plus_plus(nn::Module& model, nn::Module& layer, const Tensor& x, const Tensor& target = {},
                          const GradCamOptions& options = {});

/// RAII: while alive, records (detached) every output of the submodule `layer_name` of `model`
/// (a dotted name from model.named_modules(); "" is the model itself), one tensor per call
/// through operator(), in call order. The hook is removed on destruction. The model must
/// outlive the guard. Throws xgrad::Error naming the layer and the available names when
/// `layer_name` is unknown.
///
///   ActivationCapture cap(*net, "features.0");
///   (*net)(x);
///   Tensor a = cap.last();
class ActivationCapture {
 public:
  ActivationCapture(nn::Module& model, const std::string& layer_name);
  ~ActivationCapture();
  ActivationCapture(const ActivationCapture&) = delete;
  ActivationCapture& operator=(const ActivationCapture&) = delete;

  const std::vector<Tensor>& outputs() const { return *outputs_; }
  /// The latest output; throws xgrad::Error when the layer has not run yet.
  Tensor last() const;
  void clear() { outputs_->clear(); }
  const std::string& layer_name() const { return name_; }

 private:
  std::string name_;
  std::shared_ptr<std::vector<Tensor>> outputs_;
  nn::HookHandle handle_;
};

}  // namespace xgrad::explain
