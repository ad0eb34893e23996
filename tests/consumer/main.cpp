#include <cstdio>

#include <xgrad/autograd/kernel/kernel.hpp>
#include <xgrad/xgrad.hpp>

// A user's custom kernel on the installed kernel layer: y = 2x + 1 over any floating dtype.
xgrad::Tensor affine(const xgrad::Tensor& x) {
  xgrad::Tensor y = xgrad::empty(x.shape(), xgrad::dtype(x.dtype()));
  xgrad::kernel::dispatch_floating(x, "affine", [&]<class T>() {
    const T* in = x.data_ptr<T>();
    T* out = y.data_ptr<T>();
    xgrad::kernel::parallel_for(x.numel(), [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i) out[i] = T(2) * in[i] + T(1);
    });
  });
  return y;
}

int main() {
  // d(sum(x^2))/dx = 2x
  xgrad::Tensor x = xgrad::tensor({1.0, 2.0}, xgrad::dtype(xgrad::float64).requires_grad());
  (x * x).sum().backward();
  const auto g = x.grad().to_vector<double>();
  std::printf("consumer: grad = [%g, %g]\n", g[0], g[1]);
  const auto a = affine(x.detach()).to_vector<double>();
  std::printf("consumer: affine = [%g, %g]\n", a[0], a[1]);
  return g[0] == 2.0 && g[1] == 4.0 && a[0] == 3.0 && a[1] == 5.0 ? 0 : 1;
}
