// Helpers shared by the optimizer tests: test problems and a side-by-side runner that
// compares an optimizer with an independent scalar reference loop.
#pragma once

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "test_util.hpp"
#include "xgrad/optim.hpp"

namespace xgrad::test {

using Vec = std::vector<double>;

/// A loss of one parameter tensor, its shape and starting point.
struct Problem {
  std::string name;
  Shape shape;
  Vec x0;
  std::function<Tensor(const Tensor&)> f;
};

/// f(x) = sum_i 0.5 c_i x_i^2 - d_i x_i over a [2, 3] parameter (minimum at d / c).
inline Problem quadratic() {
  return {"quadratic", {2, 3}, {2.0, -1.5, 3.0, -2.5, 1.0, -3.0}, [](const Tensor& x) {
            const Tensor c = from_vector(Vec{1.0, 2.0, 0.5, 3.0, 1.5, 0.8}, {2, 3}).to(x.dtype());
            const Tensor d = from_vector(Vec{1.0, -2.0, 0.5, 0.3, -1.0, 2.0}, {2, 3}).to(x.dtype());
            return (0.5 * c * x * x - d * x).sum();
          }};
}

/// Rosenbrock f(x, y) = (1 - x)^2 + 100 (y - x^2)^2 from (-1.5, 2); minimum at (1, 1).
inline Problem rosenbrock() {
  return {"rosenbrock", {2}, {-1.5, 2.0}, [](const Tensor& p) {
            const Tensor x = p.narrow(0, 0, 1), y = p.narrow(0, 1, 1);
            return ((1.0 - x) * (1.0 - x) + 100.0 * (y - x * x) * (y - x * x)).sum();
          }};
}

/// The gradient of the problem at x (float64, through autograd).
inline Vec grad_at(const Problem& p, const Vec& x) {
  Tensor t = from_vector(x, p.shape, true);
  p.f(t).backward();
  return t.grad().to_vector<double>();
}

/// One step of a reference implementation: updates x in place from the gradient g; keeps
/// its own state in its captures.
using RefStep = std::function<void(Vec& x, const Vec& g)>;
using MakeOptimizer = std::function<std::unique_ptr<optim::Optimizer>(const std::vector<Tensor>&)>;

/// Runs the optimizer and the reference side by side for `steps` steps and checks that
/// every coordinate agrees within rtol * max(|x_ref|, 1) after every step.
inline void check_against_reference(const Problem& prob, const MakeOptimizer& make_opt,
                                    const std::function<RefStep()>& make_ref, const std::string& label, int steps = 60,
                                    Dtype dt = float64, double rtol = 1e-12) {
  Tensor x = from_vector(prob.x0, prob.shape).to(dt).requires_grad_(true);
  auto opt = make_opt({x});
  RefStep ref = make_ref();
  Vec xr = prob.x0;
  double worst = 0.0;
  int worst_step = 0;
  bool finite = true;
  for (int s = 1; s <= steps; ++s) {
    opt->zero_grad();
    prob.f(x).backward();
    opt->step();
    ref(xr, grad_at(prob, xr));
    const Vec xo = x.detach().to(float64).to_vector<double>();
    for (std::size_t i = 0; i < xo.size(); ++i) {
      finite = finite && std::isfinite(xo[i]) && std::isfinite(xr[i]);
      const double err = std::fabs(xo[i] - xr[i]) / std::max(std::fabs(xr[i]), 1.0);
      if (err > worst) worst = err, worst_step = s;
    }
  }
  double moved = 0.0;
  for (std::size_t i = 0; i < xr.size(); ++i) moved = std::max(moved, std::fabs(xr[i] - prob.x0[i]));
  BOOST_CHECK_MESSAGE(finite, label << " on " << prob.name << ": non-finite values");
  BOOST_CHECK_MESSAGE(moved > 1e-3, label << " on " << prob.name << ": the parameters barely moved (" << moved << ")");
  BOOST_CHECK_MESSAGE(worst <= rtol, label << " on " << prob.name << " (" << dtype_name(dt) << "): worst relative "
                                           << "difference " << worst << " at step " << worst_step << " > " << rtol);
}

/// Both problems, float64 at 1e-12 (relative to max(|x|, 1)).
inline void check_both(const MakeOptimizer& make_opt, const std::function<RefStep()>& make_ref,
                       const std::string& label, int steps = 60) {
  check_against_reference(quadratic(), make_opt, make_ref, label, steps);
  check_against_reference(rosenbrock(), make_opt, make_ref, label, steps);
}

/// float32 parameters against the double reference (the update runs in float).
inline void check_float32(const MakeOptimizer& make_opt, const std::function<RefStep()>& make_ref,
                          const std::string& label) {
  check_against_reference(quadratic(), make_opt, make_ref, label, 50, float32, 1e-3);
}

template <class Opt, class Options>
MakeOptimizer maker(Options options) {
  return [options](const std::vector<Tensor>& params) -> std::unique_ptr<optim::Optimizer> {
    return std::make_unique<Opt>(params, options);
  };
}

}  // namespace xgrad::test
