// The small model, optimizer step and state-dict helpers of the safetensors and checkpoint
// fuzz targets (and of make_corpus.cpp, which writes their seeds).
#pragma once

#include <memory>

#include "fuzz_util.hpp"
#include "xgrad/nn.hpp"
#include "xgrad/optim.hpp"

namespace xgrad::fuzz {

/// Linear(3, 4) -> BatchNorm1d(4) -> ReLU -> Linear(4, 2): float parameters, float running
/// statistics and an int64 buffer (num_batches_tracked). State-dict keys: "0.weight",
/// "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
/// "1.num_batches_tracked", "3.weight", "3.bias".
inline std::shared_ptr<nn::Sequential> make_model() {
  return std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(3, 4),
                                          std::make_shared<nn::BatchNorm1d>(nn::BatchNormOptions(4)),
                                          std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(4, 2));
}

/// One training step on a fixed batch: the loaded state must be usable (or be rejected
/// with an xgrad::Error), never crash.
inline void train_step(nn::Module& model, optim::Optimizer& opt) {
  opt.zero_grad();
  const Tensor x = arange(0.0, 12.0).reshape({4, 3}).div(12.0);
  model.forward(x).pow(2.0).mean().backward();
  opt.step();
}

}  // namespace xgrad::fuzz
