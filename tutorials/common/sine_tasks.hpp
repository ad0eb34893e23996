// The sinusoid regression tasks of Finn, Abbeel & Levine 2017 (MAML), used by tutorial 12:
// y = A sin(x - phi) with A ~ U[0.1, 5], phi ~ U[0, pi], and points x ~ U[-5, 5]. Seeded
// (std::mt19937_64), so a seed gives the same tasks and points on every machine and thread count.
#pragma once

#include <cmath>
#include <cstdint>
#include <numbers>
#include <random>
#include <utility>
#include <vector>

#include "xgrad/xgrad.hpp"

namespace tutorial {

// [excerpt tasks]
/// A task of the benchmark: y = A sin(x - phi), A ~ U[0.1, 5], phi ~ U[0, pi], x ~ U[-5, 5].
struct SineTask {
  double amplitude, phase;
  double operator()(double x) const { return amplitude * std::sin(x - phase); }
};

class SineTasks {
 public:
  explicit SineTasks(std::uint64_t seed) : rng_(seed) {}
  SineTask task() {
    return {std::uniform_real_distribution<double>(0.1, 5.0)(rng_),
            std::uniform_real_distribution<double>(0.0, std::numbers::pi)(rng_)};
  }
  /// n points of a task: x and y as [n, 1] tensors.
  std::pair<xgrad::Tensor, xgrad::Tensor> points(const SineTask& t, int n) {
    std::vector<float> xs, ys;
    for (int i = 0; i < n; ++i) {
      const double x = std::uniform_real_distribution<double>(-5.0, 5.0)(rng_);
      xs.push_back(static_cast<float>(x));
      ys.push_back(static_cast<float>(t(x)));
    }
    const auto n64 = static_cast<std::int64_t>(n);
    return {xgrad::from_vector(xs, {n64, 1}), xgrad::from_vector(ys, {n64, 1})};
  }

 private:
  std::mt19937_64 rng_;
};
// [end excerpt]

}  // namespace tutorial
