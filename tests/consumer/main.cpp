#include <cstdio>

#include <xgrad/xgrad.hpp>

int main() {
  // d(sum(x^2))/dx = 2x
  xgrad::Tensor x = xgrad::tensor({1.0, 2.0}, xgrad::dtype(xgrad::float64).requires_grad());
  (x * x).sum().backward();
  const auto g = x.grad().to_vector<double>();
  std::printf("consumer: grad = [%g, %g]\n", g[0], g[1]);
  return g[0] == 2.0 && g[1] == 4.0 ? 0 : 1;
}
