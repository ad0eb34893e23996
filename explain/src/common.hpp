// Helpers shared by the explain and adversarial sources (not installed).
#pragma once

#include <cstdint>
#include <random>
#include <string_view>
#include <vector>

#include "xgrad/autograd/tensor.hpp"
#include "xgrad/nn/module.hpp"

namespace xgrad::explain::detail {

/// x defined, floating, rank >= 2.
void check_input(const Tensor& x, std::string_view op);
/// logits must be [n, C] with C >= 1.
void check_logits(const Tensor& logits, std::int64_t n, std::string_view op);
/// Labels [N] (int64 or int32) in [0, C) as int64; undefined target: argmax of logits.
Tensor resolve_target(const Tensor& logits, const Tensor& target, std::string_view op,
                      std::string_view what = "target");
/// model(x)[n, t_n] as [N].
Tensor target_scores(const Tensor& logits, const Tensor& target);
/// d sum_n S_t(x_n) / dx for a target given as int64 [N] (resolved): detached, x's shape.
Tensor score_gradient(nn::Module& model, const Tensor& x, const Tensor& target, std::string_view op);
/// Runs model under no-grad and checks its logits.
Tensor logits_no_grad(nn::Module& model, const Tensor& x, std::string_view op);

/// Serial standard normals by Box-Muller from an mt19937_64 (53-bit uniforms).
class Normal {
 public:
  explicit Normal(std::uint64_t seed) : gen_(seed) {}
  double uniform() { return static_cast<double>(gen_() >> 11) * (1.0 / 9007199254740992.0); }
  double operator()();
  /// A tensor of `shape` and dtype `d` filled with draws in row-major order.
  Tensor tensor(const Shape& shape, Dtype d);
  Tensor uniform_tensor(const Shape& shape, double lo, double hi, Dtype d);

 private:
  std::mt19937_64 gen_;
  bool has_spare_ = false;
  double spare_ = 0.0;
};

}  // namespace xgrad::explain::detail
