// The classic Rosenblatt perceptron (1958): a single threshold unit trained online by the
// error-driven rule, not by gradients.
//
//   xgrad::nn::Perceptron p(2);
//   for (int epoch = 0; epoch < 10 && p.fit_epoch(X, Y, 1.0) > 0; ++epoch) {}
//
// Convergence (Novikoff's theorem): on linearly separable data the rule makes a finite number
// of mistakes, so fit_epoch eventually returns 0. On data that no line separates (XOR) it never
// converges: the weights cycle and at most 3 of the 4 XOR points are ever classified right.
#pragma once

#include <cstdint>
#include <string>

#include "xgrad/nn/module.hpp"

namespace xgrad::nn {

/// y_hat = step(x . w + b) with step(z) = 1 for z >= 0 and 0 otherwise (Heaviside; not
/// differentiable, so forward's output never requires grad).
/// Parameters: weight [in_features], bias [] (0-d), both initialised to zero and registered
/// with requires_grad = false (they appear in state_dict, are moved by to(dtype), and are
/// changed only by update()).
class Perceptron : public Module {
 public:
  /// Throws xgrad::Error when in_features < 1.
  explicit Perceptron(std::int64_t in_features);

  /// x: [..., in_features] -> [...] of 0s and 1s in x's dtype (a single sample [in] gives a
  /// 0-d result). Throws xgrad::Error naming the shapes when the last dim differs from
  /// in_features, or when x's dtype differs from the weight's.
  Tensor forward(const Tensor& input) override;

  /// One step of the Rosenblatt rule on ONE sample x: [in_features] with label y in {0, 1}:
  ///   y_hat = step(x . w + b),  w <- w + lr (y - y_hat) x,  b <- b + lr (y - y_hat).
  /// Returns true when the sample was misclassified (y_hat != y, i.e. the weights changed
  /// when lr != 0). Throws xgrad::Error for a wrong shape or dtype, or y not 0 or 1.
  bool update(const Tensor& x, double y, double lr = 1.0);

  /// One online pass over the samples in order: update(X[i], Y[i], lr) for i = 0..n-1.
  /// X: [n, in_features], Y: [n] of 0/1 (any dtype). Returns the number of misclassified
  /// samples seen during the pass (0 means the epoch made no change: converged).
  std::int64_t fit_epoch(const Tensor& X, const Tensor& Y, double lr = 1.0);

  std::string extra_repr() const override;
  std::int64_t in_features() const { return in_features_; }

  Tensor weight;
  Tensor bias;

 private:
  std::int64_t in_features_;
};

}  // namespace xgrad::nn
