// The optimizers tutorial 04 compares, by name, with the step size given; tutorial 14 races
// them against Newton's method.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "xgrad/xgrad.hpp"

namespace tutorial {

/// SGD, Momentum (SGD with momentum 0.9), AdaGrad, RMSProp, Adam or AdamW (weight decay 0.01)
/// over params with learning rate lr. Throws xgrad::Error for another name.
// [excerpt make_optimizer]
inline std::unique_ptr<xgrad::optim::Optimizer> make_optimizer(const std::string& name,
                                                               const std::vector<xgrad::Tensor>& params, double lr) {
  namespace optim = xgrad::optim;
  if (name == "SGD") return std::make_unique<optim::SGD>(params, optim::SGDOptions(lr));
  if (name == "Momentum") return std::make_unique<optim::SGD>(params, optim::SGDOptions(lr).momentum(0.9));
  if (name == "AdaGrad") return std::make_unique<optim::Adagrad>(params, optim::AdagradOptions(lr));
  if (name == "RMSProp") return std::make_unique<optim::RMSprop>(params, optim::RMSpropOptions(lr));
  if (name == "Adam") return std::make_unique<optim::Adam>(params, optim::AdamOptions(lr));
  if (name == "AdamW") return std::make_unique<optim::AdamW>(params, optim::AdamWOptions(lr).weight_decay(1e-2));
  throw xgrad::Error(fmt::format("make_optimizer: unknown optimizer '{}'", name));
}
// [end excerpt]

}  // namespace tutorial
