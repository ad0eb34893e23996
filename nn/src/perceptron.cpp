#include "xgrad/nn/perceptron.hpp"

#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/linalg.hpp"
#include "xgrad/autograd/node.hpp"

namespace xgrad::nn {

namespace {

// One Rosenblatt step on raw data; returns whether the sample was misclassified.
template <class T>
bool rosenblatt_step(T* w, T* b, const T* x, std::int64_t n, double y, double lr) {
  double z = static_cast<double>(*b);
  for (std::int64_t i = 0; i < n; ++i) z += static_cast<double>(w[i]) * static_cast<double>(x[i]);
  const double y_hat = z >= 0.0 ? 1.0 : 0.0;
  const double err = y - y_hat;
  if (err == 0.0) return false;
  for (std::int64_t i = 0; i < n; ++i)
    w[i] = static_cast<T>(static_cast<double>(w[i]) + lr * err * static_cast<double>(x[i]));
  *b = static_cast<T>(static_cast<double>(*b) + lr * err);
  return true;
}

void check_label(double y, std::string_view op) {
  if (y != 0.0 && y != 1.0) throw Error(fmt::format("Perceptron::{}: labels must be 0 or 1, got {}", op, y));
}

}  // namespace

Perceptron::Perceptron(std::int64_t in_features) : Module("Perceptron"), in_features_(in_features) {
  if (in_features < 1) throw Error(fmt::format("Perceptron: in_features must be at least 1, got {}", in_features));
  weight = register_parameter("weight", zeros({in_features}), /*requires_grad=*/false);
  bias = register_parameter("bias", scalar_tensor(0.0), /*requires_grad=*/false);
}

Tensor Perceptron::forward(const Tensor& input) {
  detail::check_defined(input, "Perceptron");
  if (input.dim() < 1 || input.size(-1) != in_features_)
    throw Error(fmt::format("Perceptron: input of shape {} does not match in_features = {} (expected [..., {}])",
                            input.shape(), in_features_, in_features_));
  if (input.dtype() != weight.dtype())
    throw Error(
        fmt::format("Perceptron: input dtype {} differs from the weight's dtype {}", input.dtype(), weight.dtype()));
  NoGradGuard ng;  // the step function has no useful gradient
  Tensor z = matmul(input.detach(), weight) + bias;
  return ge(z, 0.0).to(z.dtype());  // 0/1 in x's dtype (comparisons give bool)
}

bool Perceptron::update(const Tensor& x, double y, double lr) {
  detail::check_defined(x, "Perceptron::update");
  if (x.shape() != Shape{in_features_})
    throw Error(
        fmt::format("Perceptron::update: expected one sample of shape [{}], got shape {}", in_features_, x.shape()));
  if (x.dtype() != weight.dtype())
    throw Error(fmt::format("Perceptron::update: sample dtype {} differs from the weight's dtype {}", x.dtype(),
                            weight.dtype()));
  check_label(y, "update");
  bool wrong = false;
  if (x.dtype() == float32) {
    wrong = rosenblatt_step(weight.data_ptr<float>(), bias.data_ptr<float>(), x.data_ptr<float>(), in_features_, y, lr);
  } else {
    wrong =
        rosenblatt_step(weight.data_ptr<double>(), bias.data_ptr<double>(), x.data_ptr<double>(), in_features_, y, lr);
  }
  if (wrong) {
    ++weight.impl()->storage->version;
    ++bias.impl()->storage->version;
  }
  return wrong;
}

std::int64_t Perceptron::fit_epoch(const Tensor& X, const Tensor& Y, double lr) {
  detail::check_defined(X, "Perceptron::fit_epoch");
  detail::check_defined(Y, "Perceptron::fit_epoch");
  if (X.dim() != 2 || X.size(1) != in_features_ || Y.shape() != Shape{X.size(0)})
    throw Error(fmt::format("Perceptron::fit_epoch: expected X [n, {}] and Y [n], got X {} and Y {}", in_features_,
                            X.shape(), Y.shape()));
  if (X.dtype() != weight.dtype())
    throw Error(
        fmt::format("Perceptron::fit_epoch: X dtype {} differs from the weight's dtype {}", X.dtype(), weight.dtype()));
  std::vector<double> labels = Y.detach().to(float64).to_vector<double>();
  for (double y : labels) check_label(y, "fit_epoch");
  std::int64_t errors = 0;
  const std::int64_t n = X.size(0);
  for (std::int64_t i = 0; i < n; ++i) {
    const auto y = labels[static_cast<std::size_t>(i)];
    bool wrong = false;
    if (X.dtype() == float32) {
      wrong = rosenblatt_step(weight.data_ptr<float>(), bias.data_ptr<float>(), X.data_ptr<float>() + i * in_features_,
                              in_features_, y, lr);
    } else {
      wrong = rosenblatt_step(weight.data_ptr<double>(), bias.data_ptr<double>(),
                              X.data_ptr<double>() + i * in_features_, in_features_, y, lr);
    }
    errors += wrong ? 1 : 0;
  }
  if (errors > 0) {
    ++weight.impl()->storage->version;
    ++bias.impl()->storage->version;
  }
  return errors;
}

std::string Perceptron::extra_repr() const { return fmt::format("in_features={}", in_features_); }

}  // namespace xgrad::nn
