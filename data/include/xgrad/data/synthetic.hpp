// Small synthetic data sets for tutorials and tests, seeded.
//
// Every generator takes an explicit seed and draws from its own std::mt19937_64 (uniforms
// from the top 53 bits, normals by Box-Muller), so the same arguments give the same data on
// every run, platform and thread count; the global generator is neither used nor advanced.
// Features are float32, class labels int64, regression targets float32. Unless stated
// otherwise the rows come in a random (seeded) order, so that mini-batches taken without
// shuffling still mix the classes. Every generator throws xgrad::Error, naming itself and
// the value, for n < 1, a negative noise or std, or another out-of-range argument.
#pragma once

#include <cstdint>

#include "xgrad/autograd/tensor.hpp"

namespace xgrad::data {

/// Features and targets of a synthetic data set.
struct SyntheticData {
  /// float32 [n, n_features].
  Tensor x;
  /// int64 [n] class labels, or float32 [n, 1] regression targets.
  Tensor y;
};

struct RegressionData : SyntheticData {
  /// float32 [n_features, 1]: the true weights w.
  Tensor weights;
  /// The true bias b.
  double bias = 0.0;
};

struct BlobsData : SyntheticData {
  /// float32 [centers, n_features]: the cluster centres.
  Tensor centers;
};

/// y = x w + bias + noise * e, with x ~ N(0, 1) [n, n_features], true weights w ~ N(0, 1)
/// [n_features, 1], e ~ N(0, 1) [n, 1]. x, y float32.
RegressionData make_linear_regression(std::int64_t n, std::int64_t n_features, double noise, std::uint64_t seed,
                                      double bias = 0.0);

/// XOR: the four corners (0,0), (0,1), (1,0), (1,1) with labels 0, 1, 1, 0, repeated
/// cyclically (row i is corner i % 4, so the first four rows are the truth table; this one
/// is NOT shuffled), plus N(0, noise^2) on each coordinate. x float32 [n, 2], y int64 [n]
/// (use y.to(float32).unsqueeze(1) as a BCE target).
SyntheticData make_xor(std::int64_t n, double noise, std::uint64_t seed);

/// Isotropic Gaussian clusters (scikit-learn's make_blobs): `centers` centres drawn
/// uniformly from [-10, 10]^n_features, row i belongs to cluster y = i % centers (before
/// shuffling; sizes differ by at most one) and is centre[y] + cluster_std * N(0, I).
/// x float32 [n, n_features], y int64 [n] in [0, centers), centers float32 [centers, n_features].
BlobsData make_blobs(std::int64_t n, std::int64_t centers, std::int64_t n_features, double cluster_std,
                     std::uint64_t seed);

/// Two interleaving half circles (scikit-learn's make_moons): n / 2 points (rounded down)
/// of the upper moon (cos t, sin t), t evenly spaced in [0, pi], label 0, and the rest on
/// the lower moon (1 - cos t, 0.5 - sin t), label 1; plus N(0, noise^2) on each coordinate.
/// x float32 [n, 2], y int64 [n].
SyntheticData make_moons(std::int64_t n, double noise, std::uint64_t seed);

/// `n_classes` interleaved spiral arms in the plane (CS231n's spiral data): class j gets
/// n / n_classes points (the first n % n_classes classes one more); its k-th of m points has
/// radius r = (k + 1) / m and angle t = 2 pi j / n_classes + 4 r + noise * N(0, 1), and lies
/// at (r sin t, r cos t). The noise perturbs the angle only, so |x| = r exactly.
/// x float32 [n, 2], y int64 [n] in [0, n_classes).
SyntheticData make_spirals(std::int64_t n, std::int64_t n_classes, double noise, std::uint64_t seed);

/// Two concentric circles (scikit-learn's make_circles): n / 2 points (rounded down) on the
/// unit circle, label 0, and the rest on the circle of radius `factor`, label 1, at evenly
/// spaced angles 2 pi k / m (k < m), plus N(0, noise^2) on each coordinate.
/// 0 < factor < 1 (default 0.8). x float32 [n, 2], y int64 [n].
SyntheticData make_circles(std::int64_t n, double noise, std::uint64_t seed, double factor = 0.8);

}  // namespace xgrad::data
