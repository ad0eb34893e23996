#include "common.hpp"

#include <cmath>
#include <numbers>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "xgrad/autograd/autograd.hpp"
#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/node.hpp"

namespace xgrad::explain::detail {

void check_input(const Tensor& x, std::string_view op) {
  if (!x.defined()) throw Error(fmt::format("{}: input is undefined", op));
  if (!is_floating(x.dtype()))
    throw Error(fmt::format("{}: input must be floating (float32 or float64), got {}", op, x.describe()));
  if (x.dim() < 2)
    throw Error(fmt::format("{}: input must be a batch [N, ...] of rank >= 2, got {}", op, x.describe()));
}

void check_logits(const Tensor& logits, std::int64_t n, std::string_view op) {
  if (!logits.defined() || logits.dim() != 2 || logits.size(0) != n || logits.size(1) < 1)
    throw Error(fmt::format("{}: the model must return logits [N, C] = [{}, C], got {}", op, n,
                            logits.defined() ? logits.describe() : std::string("an undefined tensor")));
}

Tensor resolve_target(const Tensor& logits, const Tensor& target, std::string_view op, std::string_view what) {
  const std::int64_t n = logits.size(0), c = logits.size(1);
  if (!target.defined()) return logits.detach().argmax(1);
  if (target.dtype() != Dtype::int64 && target.dtype() != Dtype::int32)
    throw Error(fmt::format("{}: {} must be int64 or int32 class indices, got {}", op, what, target.describe()));
  if (target.dim() != 1 || target.size(0) != n)
    throw Error(
        fmt::format("{}: {} must have shape [{}] (one class per sample), got {}", op, what, n, target.describe()));
  Tensor t = target.to(Dtype::int64).contiguous();
  const auto v = t.to_vector<std::int64_t>();
  for (std::size_t i = 0; i < v.size(); ++i)
    if (v[i] < 0 || v[i] >= c)
      throw Error(fmt::format("{}: {} index {} of sample {} is out of range for {} classes", op, what, v[i], i, c));
  return t;
}

Tensor target_scores(const Tensor& logits, const Tensor& target) {
  return logits.gather(1, target.unsqueeze(1)).squeeze(1);
}

Tensor score_gradient(nn::Module& model, const Tensor& x, const Tensor& target, std::string_view op) {
  GradModeGuard grad_on(true);
  Tensor xi = x.detach();
  xi.requires_grad_(true);
  Tensor logits = model(xi);
  check_logits(logits, x.size(0), op);
  Tensor score = target_scores(logits, target).sum();
  // A model whose output does not depend on x (or detaches it) has a zero gradient.
  if (!score.requires_grad()) return zeros_like(x);
  autograd::GradOptions go;
  go.allow_unused = true;
  Tensor g = autograd::grad({score}, {xi}, {}, go)[0];
  return g.defined() ? g.detach() : zeros_like(x);
}

Tensor logits_no_grad(nn::Module& model, const Tensor& x, std::string_view op) {
  NoGradGuard no_grad;
  Tensor logits = model(x);
  check_logits(logits, x.size(0), op);
  return logits;
}

double Normal::operator()() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  double u1 = uniform();
  while (u1 <= 0.0) u1 = uniform();
  const double u2 = uniform();
  const double r = std::sqrt(-2.0 * std::log(u1));
  spare_ = r * std::sin(2.0 * std::numbers::pi * u2);
  has_spare_ = true;
  return r * std::cos(2.0 * std::numbers::pi * u2);
}

Tensor Normal::tensor(const Shape& shape, Dtype d) {
  std::int64_t n = 1;
  for (auto s : shape) n *= s;
  std::vector<double> v(static_cast<std::size_t>(n));
  for (auto& e : v) e = (*this)();
  return from_vector(v, shape).to(d);
}

Tensor Normal::uniform_tensor(const Shape& shape, double lo, double hi, Dtype d) {
  std::int64_t n = 1;
  for (auto s : shape) n *= s;
  std::vector<double> v(static_cast<std::size_t>(n));
  for (auto& e : v) e = lo + (hi - lo) * uniform();
  return from_vector(v, shape).to(d);
}

}  // namespace xgrad::explain::detail
