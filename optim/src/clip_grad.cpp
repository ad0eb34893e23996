#include "xgrad/optim/clip_grad.hpp"

#include <algorithm>
#include <cmath>

#include "update.hpp"

namespace xgrad::optim {

namespace {

// Deterministic: kernel::chunked_reduce's fixed chunks depend on n only, so the norm is the
// same at every thread count.
template <class T, class Acc, class Combine>
double reduce_grad(const T* x, std::int64_t n, Acc acc, Combine combine) {
  auto chunk = [&](std::int64_t b, std::int64_t e) {
    double r = 0.0;
    for (std::int64_t i = b; i < e; ++i) r = acc(r, static_cast<double>(x[i]));
    return r;
  };
  return kernel::chunked_reduce(n, 0.0, chunk, combine);
}

std::vector<Tensor> grads_of(const std::vector<Tensor>& params, std::string_view op) {
  std::vector<Tensor> grads;
  for (const auto& p : params) {
    xgrad::detail::check_defined(p, op);
    const Tensor g = p.grad();
    if (!g.defined()) continue;
    detail::check_grad(p, g, op);
    grads.push_back(g);
  }
  return grads;
}

}  // namespace

double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type, bool error_if_nonfinite) {
  const bool is_inf = std::isinf(norm_type) && norm_type > 0;
  if (!is_inf && norm_type != 2.0) {
    throw Error(fmt::format("clip_grad_norm_: unsupported norm_type {} (expected 2 or inf)", norm_type));
  }
  if (!(max_norm >= 0.0)) throw Error(fmt::format("clip_grad_norm_: invalid max_norm {} (must be >= 0)", max_norm));
  const std::vector<Tensor> grads = grads_of(params, "clip_grad_norm_");
  if (grads.empty()) return 0.0;
  double total = 0.0;
  for (const auto& g : grads) {
    kernel::dispatch_floating(g.dtype(), "clip_grad_norm_", [&]<class T>() {
      if (is_inf) {
        const double m = reduce_grad(
            g.data_ptr<T>(), g.numel(), [](double a, double x) { return std::max(a, std::abs(x)); },
            [](double a, double b) { return std::max(a, b); });
        total = std::max(total, m);
      } else {
        const double ss = reduce_grad(
            g.data_ptr<T>(), g.numel(), [](double a, double x) { return a + x * x; },
            [](double a, double b) { return a + b; });
        const double norm = std::sqrt(ss);  // the tensor's own 2-norm
        total += norm * norm;
      }
    });
  }
  if (!is_inf) total = std::sqrt(total);
  if (error_if_nonfinite && !std::isfinite(total)) {
    throw Error(
        fmt::format("clip_grad_norm_: the total norm of order {} of the gradients is {}; pass "
                    "error_if_nonfinite = false to clip anyway",
                    norm_type, total));
  }
  const double clip_coef = max_norm / (total + 1e-6);
  if (clip_coef < 1.0) {
    for (const auto& g : grads) {
      kernel::dispatch_floating(g.dtype(), "clip_grad_norm_", [&]<class T>() {
        T* x = g.data_ptr<T>();
        const T c = static_cast<T>(clip_coef);
        kernel::parallel_for(g.numel(), [&](std::int64_t b, std::int64_t e) {
          for (std::int64_t i = b; i < e; ++i) x[i] = x[i] * c;
        });
      });
      detail::bump_version(g);
    }
  }
  return total;
}

void clip_grad_value_(const std::vector<Tensor>& params, double clip_value) {
  if (!(clip_value >= 0.0)) {
    throw Error(fmt::format("clip_grad_value_: invalid clip_value {} (must be >= 0)", clip_value));
  }
  for (const auto& g : grads_of(params, "clip_grad_value_")) {
    kernel::dispatch_floating(g.dtype(), "clip_grad_value_", [&]<class T>() {
      T* x = g.data_ptr<T>();
      const T hi = static_cast<T>(clip_value), lo = -hi;
      kernel::parallel_for(g.numel(), [&](std::int64_t b, std::int64_t e) {
        for (std::int64_t i = b; i < e; ++i) x[i] = std::min(std::max(x[i], lo), hi);
      });
    });
    detail::bump_version(g);
  }
}

}  // namespace xgrad::optim
