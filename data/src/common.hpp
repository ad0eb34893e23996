// Private helpers of the data component: its own seeded generator (never the global one),
// with platform-independent uniform, normal and bounded-integer draws, and raw row access.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "xgrad/autograd/tensor.hpp"

namespace xgrad::data::detail {

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : engine_(seed) {}

  /// U[0, 1) from the top 53 bits.
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  /// U[lo, hi).
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  /// N(0, 1) by Box-Muller (the second value of each pair is kept for the next call).
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double u1 = 1.0 - uniform();  // (0, 1]: log() stays finite
    const double u2 = uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    constexpr double kTwoPi = 6.283185307179586476925286766559;
    spare_ = r * std::sin(kTwoPi * u2);
    has_spare_ = true;
    return r * std::cos(kTwoPi * u2);
  }
  /// Uniform integer in [0, bound), bound >= 1, unbiased (rejection sampling, no
  /// implementation-defined std::uniform_int_distribution).
  std::uint64_t below(std::uint64_t bound) {
    const std::uint64_t limit =
        std::numeric_limits<std::uint64_t>::max() - std::numeric_limits<std::uint64_t>::max() % bound;
    std::uint64_t v;
    do v = engine_();
    while (v >= limit);
    return v % bound;
  }

 private:
  std::mt19937_64 engine_;
  double spare_ = 0.0;
  bool has_spare_ = false;
};

/// A uniformly random permutation of [0, n) (Fisher-Yates, last element first).
inline std::vector<std::int64_t> permutation(std::int64_t n, std::uint64_t seed) {
  std::vector<std::int64_t> p(static_cast<std::size_t>(n));
  std::iota(p.begin(), p.end(), std::int64_t{0});
  Rng rng(seed);
  for (std::int64_t i = n - 1; i > 0; --i) {
    const auto j = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(i) + 1));
    std::swap(p[static_cast<std::size_t>(i)], p[static_cast<std::size_t>(j)]);
  }
  return p;
}

/// First byte of a tensor's (contiguous) buffer.
inline std::byte* raw_bytes(const Tensor& t) { return t.impl()->storage->data; }

/// Shape without its first dimension.
inline Shape row_shape(const Tensor& t) { return Shape(t.shape().begin() + 1, t.shape().end()); }

/// Bytes in one row (one index of dim 0) of t; t has at least one dimension.
inline std::size_t row_bytes(const Tensor& t) {
  return static_cast<std::size_t>(shape_numel(row_shape(t))) * dtype_size(t.dtype());
}

}  // namespace xgrad::data::detail
