// The main program until the tutorials exist: a 2-8-1 MLP built from raw xgrad ops learns
// XOR by full-batch gradient descent, printing its loss as it falls.
//
// Exits with status 1 if the final loss is not below 0.01.
#include <cstdio>

#include "xgrad/xgrad.hpp"

int main() {
  using namespace xgrad;
  manual_seed(0);
  const Tensor x = tensor({{0., 0.}, {0., 1.}, {1., 0.}, {1., 1.}});
  const Tensor y = tensor({{0.}, {1.}, {1.}, {0.}});

  // Parameters: U(-1, 1) weights, zero biases.
  Tensor w1 = (rand({2, 8}) * 2.0 - 1.0).detach().requires_grad_();
  Tensor b1 = zeros({8}, TensorOptions().requires_grad());
  Tensor w2 = (rand({8, 1}) * 2.0 - 1.0).detach().requires_grad_();
  Tensor b2 = zeros({1}, TensorOptions().requires_grad());
  const double lr = 1.0;

  double loss_value = 1.0;
  for (int epoch = 0; epoch <= 2000; ++epoch) {
    Tensor hidden = (x.matmul(w1) + b1).tanh();
    Tensor out = (hidden.matmul(w2) + b2).sigmoid();
    Tensor loss = ((out - y) * (out - y)).mean();
    loss.backward();
    {
      NoGradGuard no_grad;  // w <- w - lr * dL/dw
      for (Tensor* p : {&w1, &b1, &w2, &b2}) {
        p->sub_(p->grad(), lr);
        p->set_grad(Tensor());
      }
    }
    loss_value = loss.item<double>();
    if (epoch % 200 == 0) std::printf("epoch %4d  loss %.6f\n", epoch, loss_value);
  }
  NoGradGuard no_grad;
  Tensor pred = ((x.matmul(w1) + b1).tanh().matmul(w2) + b2).sigmoid();
  std::printf("predictions for (0,0) (0,1) (1,0) (1,1): %s\n", to_string(pred.reshape({4})).c_str());
  std::printf("final loss %.6f (%s 0.01)\n", loss_value, loss_value < 0.01 ? "below" : "NOT below");
  return loss_value < 0.01 ? 0 : 1;
}
