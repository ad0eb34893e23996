// Grad-CAM, Grad-CAM++ and ActivationCapture.
#include "xgrad/explain/cam.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common.hpp"
#include "xgrad/autograd/autograd.hpp"
#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/node.hpp"
#include "xgrad/nn/upsampling.hpp"

namespace xgrad::explain {

namespace {

// Removes a hook when the scope ends (also on exceptions from the forward).
struct HookGuard {
  nn::HookHandle handle;
  ~HookGuard() { handle.remove(); }
};

using I64s = std::vector<std::int64_t>;

Tensor cam(nn::Module& model, nn::Module& layer, const Tensor& x, const Tensor& target, const GradCamOptions& options,
           bool plus_plus) {
  const std::string_view op = plus_plus ? "grad_cam_plus_plus" : "grad_cam";
  detail::check_input(x, op);
  bool found = false;
  for (const auto& m : model.modules()) found = found || m.get() == &layer;
  if (!found)
    throw Error(fmt::format("{}: the layer {} is not a submodule of the model {}", op, layer.name(), model.name()));
  if (options.upsample() && x.dim() != 4)
    throw Error(fmt::format("{}: upsampling to the input needs an input [N, C, H, W], got {} (or set upsample(false))",
                            op, x.describe()));
  auto captured = std::make_shared<std::vector<Tensor>>();
  Tensor logits;
  {
    HookGuard guard{layer.register_forward_hook([captured](nn::Module&, const Tensor&, const Tensor& out) {
      captured->push_back(out);
      return Tensor();
    })};
    GradModeGuard grad_on(true);
    Tensor xi = x.detach();
    xi.requires_grad_(true);  // so that the layer's output has a graph even with frozen parameters
    logits = model(xi);
  }
  detail::check_logits(logits, x.size(0), op);
  if (captured->empty())
    throw Error(
        fmt::format("{}: the layer {} produced no output during the forward (it must be called through "
                    "operator(), not forward())",
                    op, layer.name()));
  if (captured->size() > 1)
    throw Error(fmt::format("{}: the layer {} ran {} times in one forward; pick a layer that runs once", op,
                            layer.name(), captured->size()));
  const Tensor a = (*captured)[0];
  if (!a.defined() || a.dim() != 4 || !is_floating(a.dtype()))
    throw Error(fmt::format("{}: the layer {} must output a floating [N, K, h, w] map, got {}", op, layer.name(),
                            a.defined() ? a.describe() : std::string("an undefined tensor")));
  const Tensor t = detail::resolve_target(logits, target, op);
  Tensor g;
  {
    GradModeGuard grad_on(true);
    const Tensor score = detail::target_scores(logits, t).sum();
    if (score.requires_grad() && a.requires_grad()) {
      autograd::GradOptions go;
      go.allow_unused = true;
      g = autograd::grad({score}, {a}, {}, go)[0];
    }
  }
  NoGradGuard no_grad;
  const Tensor ad = a.detach();
  g = g.defined() ? g.detach() : zeros_like(ad);
  Tensor w;
  if (!plus_plus) {
    w = g.mean(I64s{2, 3}, true);  // [N, K, 1, 1]
  } else {
    const Tensor g2 = g * g;
    const Tensor denom = g2 * 2.0 + ad.sum(I64s{2, 3}, true) * (g2 * g);
    const Tensor nonzero = denom.ne(zeros_like(denom));
    const Tensor alpha = where(nonzero, g2 / where(nonzero, denom, 1.0), 0.0);
    w = (alpha * g.relu()).sum(I64s{2, 3}, true);
  }
  Tensor l = (w * ad).sum(I64s{1}, true).relu();  // [N, 1, h, w]
  if (options.upsample())
    l = nn::functional::interpolate(
        l, nn::InterpolateFuncOptions().size(I64s{x.size(2), x.size(3)}).mode("bilinear").align_corners(false));
  if (options.normalize()) {
    const std::int64_t n = l.size(0);
    const Tensor flat = l.flatten(1);
    const Tensor mn = flat.amin(I64s{1}).reshape({n, 1, 1, 1});
    const Tensor range = flat.amax(I64s{1}).reshape({n, 1, 1, 1}) - mn;
    const Tensor positive = range.gt(zeros_like(range));
    l = where(positive.expand(l.shape()), (l - mn) / where(positive, range, 1.0), 0.0);
  }
  return l.to(x.dtype());
}

}  // namespace

Tensor grad_cam(nn::Module& model, nn::Module& layer, const Tensor& x, const Tensor& target,
                const GradCamOptions& options) {
  return cam(model, layer, x, target, options, false);
}

Tensor grad_cam_plus_plus(nn::Module& model, nn::Module& layer, const Tensor& x, const Tensor& target,
                          const GradCamOptions& options) {
  return cam(model, layer, x, target, options, true);
}

ActivationCapture::ActivationCapture(nn::Module& model, const std::string& layer_name)
    : name_(layer_name), outputs_(std::make_shared<std::vector<Tensor>>()) {
  std::vector<std::string> names;
  for (const auto& [name, m] : model.named_modules()) {
    if (name == layer_name) {
      auto outputs = outputs_;
      handle_ = m->register_forward_hook([outputs](nn::Module&, const Tensor&, const Tensor& out) {
        outputs->push_back(out.detach());
        return Tensor();
      });
      return;
    }
    names.push_back("'" + name + "'");
  }
  throw Error(fmt::format("ActivationCapture: the model {} has no submodule named '{}'; its modules are {}",
                          model.name(), layer_name, fmt::join(names, ", ")));
}

ActivationCapture::~ActivationCapture() { handle_.remove(); }

Tensor ActivationCapture::last() const {
  if (outputs_->empty())
    throw Error(fmt::format("ActivationCapture: the layer '{}' has not produced an output yet", name_));
  return outputs_->back();
}

}  // namespace xgrad::explain
