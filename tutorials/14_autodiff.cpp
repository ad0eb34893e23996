// 14_autodiff: second derivatives and Jacobians with xgrad::autograd::functional (PyTorch's
// torch.autograd.functional: vjp, jvp, jacobian, hessian, hvp, vhp).
//
//   (a) Newton's method on the Rosenbrock function of tutorial 04, f(x, y) = (1 - x)^2 +
//       100 (y - x^2)^2 from (-1.5, 2): p <- p - H^-1 g with H = hessian(f, p) and the gradient
//       g from vjp(f, p), against tutorial 04's first-order optimizers (with their step sizes),
//       counting the steps until |p - (1, 1)| < 1e-8. The Hessian is checked against its closed
//       form, and hvp (H v without forming H) against hessian(f, p) v on the n-dimensional
//       Rosenbrock function, where the full Hessian costs n reverse passes and hvp two.
//   (b) The Jacobian d(output)/d(input) of two small float64 networks on a 32-sample signal,
//       a 32-64-32 tanh MLP and a two-layer 1-d convolutional net (kernel 5, receptive field
//       9), drawn as a heat map (14_jacobians.png). Checked: J v equals jvp(f, x, v) and u^T J
//       equals vjp(f, x, u) for random u, v (forward vs reverse), the vectorised Jacobian
//       (all rows in one batched reverse pass) equals the row-by-row one, and the
//       convolutional Jacobian is exactly zero outside the receptive field. The times of
//       jacobian (looped and vectorised), jvp and vjp are printed.
//
// Exits 1 when a check fails: Newton not within 1e-8 of (1, 1) in under 20 steps, the Hessian
// off its closed form by more than 1e-10, hvp off H v, J v off jvp or u^T J off vjp by more
// than 1e-10, the vectorised Jacobian off the looped one by more than 1e-12, or a non-zero
// convolutional Jacobian entry outside the receptive field. --smoke caps the first-order
// optimizers at 3000 steps (instead of 100000) and times hvp at n = 50 (instead of 200).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "optimizers.hpp"
#include "tutorial.hpp"
#include "xgrad/xgrad.hpp"

namespace {

using xgrad::Tensor;
namespace F = xgrad::autograd::functional;
namespace nn = xgrad::nn;
namespace optim = xgrad::optim;

const xgrad::TensorOptions kF64 = xgrad::dtype(xgrad::Dtype::float64);

/// Largest |a - b| over all elements.
double max_diff(const Tensor& a, const Tensor& b) { return (a - b).abs().max().item<double>(); }

// ---- (a) Rosenbrock ---------------------------------------------------------------------------

// [excerpt rosenbrock]
/// The n-dimensional Rosenbrock function f(p) = sum_i (1 - p_i)^2 + 100 (p_{i+1} - p_i^2)^2
/// (i = 0 .. n-2); for n = 2 it is tutorial 04's f(x, y) = (1 - x)^2 + 100 (y - x^2)^2.
/// Its minimum f = 0 is at p = (1, ..., 1).
Tensor rosenbrock(const Tensor& p) {
  const std::int64_t n = p.size(0);
  const Tensor a = p.narrow(0, 0, n - 1);
  const Tensor b = p.narrow(0, 1, n - 1);
  return ((1.0 - a).pow(2) + 100.0 * (b - a * a).pow(2)).sum();
}
// [end excerpt]

/// The closed-form Hessian of the 2-d Rosenbrock function at (x, y):
/// [[2 - 400 (y - x^2) + 800 x^2, -400 x], [-400 x, 200]].
Tensor rosenbrock_hessian(double x, double y) {
  const double h00 = 2.0 - 400.0 * (y - x * x) + 800.0 * x * x;
  return xgrad::tensor({h00, -400.0 * x, -400.0 * x, 200.0}, kF64).reshape({2, 2});
}

double distance_to_minimum(const Tensor& p) {
  const std::vector<double> v = p.to_vector<double>();
  return std::hypot(v[0] - 1.0, v[1] - 1.0);
}

/// One row of the comparison table.
struct Result {
  std::string method;
  std::string lr;
  std::int64_t steps = -1;  ///< steps to |p - (1, 1)| < 1e-8; -1 = not reached within the cap
  std::int64_t taken = 0;   ///< steps run
  double distance = 0.0, f = 0.0, seconds = 0.0;
};

constexpr double kTolerance = 1e-8;

Result newton(std::int64_t max_steps, tutorial::Csv& csv) {
  const auto t0 = std::chrono::steady_clock::now();
  Result r;
  r.method = "Newton";
  r.lr = "-";
  auto record = [&](std::int64_t step, const Tensor& p) {
    r.taken = step;
    r.distance = distance_to_minimum(p);
    r.f = rosenbrock(p).item<double>();
    if (r.distance < kTolerance) r.steps = step;
    const std::vector<double> v = p.to_vector<double>();
    csv.row({static_cast<double>(step), v[0], v[1], r.f, r.distance});
    fmt::print("  {:>4} {:>20.16f} {:>20.16f} {:>12.4g} {:>12.4g}\n", step, v[0], v[1], r.f, r.distance);
  };
  // [excerpt newton]
  Tensor p = xgrad::tensor({-1.5, 2.0}, kF64);
  for (std::int64_t step = 1; step <= max_steps && distance_to_minimum(p) >= kTolerance; ++step) {
    const Tensor g = F::vjp(rosenbrock, p).second;  // the gradient (v = 1 for a scalar f)
    const Tensor H = F::hessian(rosenbrock, p);     // [2, 2]
    p = p - xgrad::linalg::solve(H, g);             // p <- p - H^-1 g
    record(step, p);                                // prints a row of the table below, stops once |p - (1, 1)| < 1e-8
  }
  // [end excerpt]
  r.seconds = tutorial::seconds_since(t0);
  return r;
}


/// Tutorial 04's loop with its step size, until |p - (1, 1)| < 1e-8 or max_steps steps.
Result first_order(const std::string& name, double lr, std::int64_t max_steps) {
  const auto t0 = std::chrono::steady_clock::now();
  Result r;
  r.method = name;
  r.lr = fmt::format("{}", lr);
  Tensor p = xgrad::tensor({-1.5, 2.0}, kF64).requires_grad_();
  auto optimizer = tutorial::make_optimizer(name, {p}, lr);
  for (std::int64_t step = 1; step <= max_steps; ++step) {
    optimizer->zero_grad();
    rosenbrock(p).backward();
    optimizer->step();
    r.taken = step;
    r.distance = distance_to_minimum(p);
    if (!std::isfinite(r.distance)) break;
    if (r.distance < kTolerance) {
      r.steps = step;
      break;
    }
  }
  xgrad::NoGradGuard no_grad;
  r.f = rosenbrock(p).item<double>();
  r.seconds = tutorial::seconds_since(t0);
  return r;
}

// ---- (b) Jacobians of two small networks ----------------------------------------------------------

constexpr std::int64_t kSignal = 32;  ///< input and output length of both networks
constexpr std::int64_t kReach = 4;    ///< the conv net's output i sees inputs i-4 .. i+4

/// A heat map of the matrices side by side, `cell` pixels per entry, each scaled by its own
/// largest |value|: white 0, red positive, blue negative; a grey frame around each.
void write_heat_maps(const std::string& path, const std::vector<Tensor>& maps, int cell) {
  constexpr int gap = 16;
  const int side = static_cast<int>(kSignal) * cell;
  const int width = static_cast<int>(maps.size()) * (side + gap) - gap;
  std::vector<std::uint8_t> rgb(static_cast<std::size_t>(width) * side * 3, 255);
  for (std::size_t m = 0; m < maps.size(); ++m) {
    const std::vector<double> v = maps[m].contiguous().to_vector<double>();
    double peak = 0.0;
    for (double e : v) peak = std::max(peak, std::abs(e));
    const int left = static_cast<int>(m) * (side + gap);
    for (int y = 0; y < side; ++y)
      for (int x = 0; x < side; ++x) {
        const double e = v[static_cast<std::size_t>((y / cell) * kSignal + x / cell)];
        const double s = peak > 0.0 ? std::clamp(e / peak, -1.0, 1.0) : 0.0;
        const auto fade = static_cast<std::uint8_t>(std::lround(255.0 * (1.0 - std::abs(s))));
        const std::size_t i = (static_cast<std::size_t>(y) * width + left + x) * 3;
        rgb[i] = s >= 0.0 ? 255 : fade;
        rgb[i + 1] = fade;
        rgb[i + 2] = s >= 0.0 ? fade : 255;
        if (x == 0 || y == 0 || x == side - 1 || y == side - 1) rgb[i] = rgb[i + 1] = rgb[i + 2] = 128;  // frame
      }
  }
  tutorial::write_png_rgb(path, width, side, rgb);
}

/// The fastest of 20 runs of fn, in milliseconds.
template <class Fn>
double best_ms(const Fn& fn) {
  double best = std::numeric_limits<double>::infinity();
  for (int k = 0; k < 20; ++k) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    best = std::min(best, 1e3 * tutorial::seconds_since(t0));
  }
  return best;
}

/// One network's Jacobian and its checks.
struct JacobianReport {
  std::string name;
  Tensor J;
  double jvp_error = 0.0, vjp_error = 0.0, vectorize_error = 0.0, outside_reach = 0.0;
  std::int64_t zeros = 0;
  double jacobian_ms = 0.0, vectorized_ms = 0.0, jvp_ms = 0.0, vjp_ms = 0.0;
};

JacobianReport analyse(const std::string& name, const F::TensorFn& net, const Tensor& x) {
  JacobianReport r;
  r.name = name;
  const Tensor v = xgrad::randn({kSignal}, kF64);
  const Tensor u = xgrad::randn({kSignal}, kF64);
  // [excerpt jacobian]
  r.J = F::jacobian(net, x);                   // [32, 32]: J[i][j] = d out_i / d x_j, one reverse pass per row
  const Tensor Jv = F::jvp(net, x, v).second;  // J v: how the output moves when x moves along v
  const Tensor uJ = F::vjp(net, x, u).second;  // u^T J: the gradient of u . output (one reverse pass)
  // [end excerpt]
  const Tensor Jvec = F::jacobian(net, x, false, false, /*vectorize=*/true);
  r.jacobian_ms = best_ms([&] { (void)F::jacobian(net, x); });
  r.vectorized_ms = best_ms([&] { (void)F::jacobian(net, x, false, false, true); });
  r.jvp_ms = best_ms([&] { (void)F::jvp(net, x, v); });
  r.vjp_ms = best_ms([&] { (void)F::vjp(net, x, u); });

  r.jvp_error = max_diff(r.J.matmul(v), Jv);
  r.vjp_error = max_diff(u.matmul(r.J), uJ);
  r.vectorize_error = max_diff(Jvec, r.J);
  const std::vector<double> e = r.J.contiguous().to_vector<double>();
  for (std::int64_t i = 0; i < kSignal; ++i)
    for (std::int64_t j = 0; j < kSignal; ++j) {
      const double value = e[static_cast<std::size_t>(i * kSignal + j)];
      r.zeros += value == 0.0;
      if (std::abs(i - j) > kReach) r.outside_reach = std::max(r.outside_reach, std::abs(value));
    }
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  tutorial::Options o;
  std::int64_t max_steps = 100000;
  std::int64_t hvp_dim = 200;
  CLI::App app{"Newton's method with the Hessian against first-order optimizers, and Jacobians of small networks"};
  tutorial::add_flags(app, o);
  app.add_option("--max-steps", max_steps, "step cap of the first-order optimizers on Rosenbrock")
      ->capture_default_str();
  app.add_option("--hvp-dim", hvp_dim, "dimension n of the Rosenbrock function of the hvp-vs-hessian timing")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (o.smoke) {
    max_steps = std::min<std::int64_t>(max_steps, 3000);
    hvp_dim = std::min<std::int64_t>(hvp_dim, 50);
  }
  tutorial::setup(o, "14 autodiff");
  bool ok = true;
  auto check = [&ok](bool pass, const std::string& what) {
    fmt::print("  check: {}: {}\n", what, pass ? "ok" : "FAIL");
    ok = ok && pass;
  };

  // ---- (a) Rosenbrock ---------------------------------------------------------------------------
  fmt::print("\n(a) Rosenbrock f(x, y) = (1 - x)^2 + 100 (y - x^2)^2 from (-1.5, 2), float64\n");
  {
    // [excerpt hessian]
    const Tensor p0 = xgrad::tensor({-1.5, 2.0}, kF64);
    const Tensor H = F::hessian(rosenbrock, p0);  // [2, 2]
    const Tensor v = xgrad::tensor({1.0, -1.0}, kF64);
    const Tensor Hv = F::hvp(rosenbrock, p0, v).second;  // H v, without forming H
    // [end excerpt]
    const Tensor closed = rosenbrock_hessian(-1.5, 2.0);
    const std::vector<double> h = H.to_vector<double>(), c = closed.to_vector<double>();
    fmt::print("\n  Hessian at (-1.5, 2)   hessian(f, p)              closed form\n");
    for (int i = 0; i < 2; ++i)
      fmt::print("                         [{:>9.3f} {:>9.3f}]    [{:>9.3f} {:>9.3f}]\n", h[2 * i], h[2 * i + 1],
                 c[2 * i], c[2 * i + 1]);
    const double hessian_error = max_diff(H, closed);
    const double hvp_error = max_diff(Hv, H.matmul(v));
    fmt::print("  max |hessian - closed form| = {:.3g}; hvp(f, p, (1, -1)) = ({}, {}), |hvp - H v| = {:.3g}\n",
               hessian_error, Hv.to_vector<double>()[0], Hv.to_vector<double>()[1], hvp_error);
    check(hessian_error <= 1e-10, "hessian equals the closed form to 1e-10");
    check(hvp_error <= 1e-10, "hvp equals H v to 1e-10");
  }

  fmt::print("\n  Newton's method, p <- p - H^-1 g (stop when |p - (1, 1)| < {:g}):\n", kTolerance);
  fmt::print("  {:>4} {:>20} {:>20} {:>12} {:>12}\n", "step", "x", "y", "f", "|p - (1,1)|");
  tutorial::Csv newton_csv(o.out + "/14_newton.csv", {"step", "x", "y", "f", "distance"});
  std::vector<Result> results{newton(20, newton_csv)};
  check(results[0].steps > 0 && results[0].steps < 20, "Newton within 1e-8 of (1, 1) in under 20 steps");

  fmt::print("\n  Tutorial 04's first-order optimizers (its step sizes), at most {} steps each...\n", max_steps);
  const std::vector<std::pair<std::string, double>> specs = {{"SGD", 1e-3},     {"Momentum", 2e-4}, {"AdaGrad", 0.5},
                                                             {"RMSProp", 1e-2}, {"Adam", 0.05},     {"AdamW", 0.05}};
  for (const auto& [name, lr] : specs) results.push_back(first_order(name, lr, max_steps));

  fmt::print("\n  {:<9} {:>7} {:>24} {:>14} {:>12} {:>9}\n", "method", "lr", "steps to |p-(1,1)|<1e-8", "|p - (1,1)|",
             "final f", "time");
  tutorial::Csv steps_csv(o.out + "/14_steps.csv", {"method", "lr", "steps", "distance", "f", "seconds"});
  for (const Result& r : results) {
    const std::string steps = r.steps > 0 ? fmt::format("{}", r.steps) : fmt::format("not reached ({})", r.taken);
    fmt::print("  {:<9} {:>7} {:>24} {:>14.4g} {:>12.4g} {:>8.3f}s\n", r.method, r.lr, steps, r.distance, r.f,
               r.seconds);
    steps_csv.row({r.method, r.lr, fmt::format("{}", r.steps), fmt::format("{}", r.distance), fmt::format("{}", r.f),
                   fmt::format("{}", r.seconds)});
  }

  {
    // The n-dimensional Rosenbrock function: the full Hessian (n x n) costs n reverse passes
    // through the gradient's graph, hvp two, and never stores an n x n matrix.
    const Tensor p = xgrad::randn({hvp_dim}, kF64);
    const Tensor v = xgrad::randn({hvp_dim}, kF64);
    auto t0 = std::chrono::steady_clock::now();
    const Tensor H = F::hessian(rosenbrock, p);
    const double hessian_ms = 1e3 * tutorial::seconds_since(t0);
    t0 = std::chrono::steady_clock::now();
    const Tensor Hv = F::hvp(rosenbrock, p, v).second;
    const double hvp_ms = 1e3 * tutorial::seconds_since(t0);
    const double error = max_diff(Hv, H.matmul(v));
    fmt::print(
        "\n  n-dimensional Rosenbrock, n = {}: hessian {:.2f} ms ({} x {}), hvp {:.3f} ms, |hvp - H v| = {:.3g}\n",
        hvp_dim, hessian_ms, hvp_dim, hvp_dim, hvp_ms, error);
    check(error <= 1e-10, "hvp equals hessian(f, p) v to 1e-10");
  }

  // ---- (b) Jacobians ----------------------------------------------------------------------------
  fmt::print("\n(b) Jacobian d(output)/d(input) of two float64 networks on a random signal of {} samples\n", kSignal);
  xgrad::manual_seed(o.seed);
  // [excerpt networks]
  auto mlp = std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(kSignal, 64), std::make_shared<nn::Tanh>(),
                                              std::make_shared<nn::Linear>(64, kSignal));
  auto conv = std::make_shared<nn::Sequential>(std::make_shared<nn::Conv1d>(nn::Conv1dOptions(1, 4, {5}).padding(2)),
                                               std::make_shared<nn::Tanh>(),
                                               std::make_shared<nn::Conv1d>(nn::Conv1dOptions(4, 1, {5}).padding(2)));
  mlp->to(xgrad::Dtype::float64);
  conv->to(xgrad::Dtype::float64);
  const F::TensorFn mlp_fn = [&](const Tensor& x) { return (*mlp)(x.reshape({1, kSignal})).reshape({kSignal}); };
  const F::TensorFn conv_fn = [&](const Tensor& x) { return (*conv)(x.reshape({1, 1, kSignal})).reshape({kSignal}); };
  // [end excerpt]
  const Tensor x = xgrad::randn({kSignal}, kF64);
  const std::vector<JacobianReport> reports{analyse("MLP 32-64-32", mlp_fn, x), analyse("conv k5, k5", conv_fn, x)};

  fmt::print("\n  {:<13} {:>8} {:>11} {:>12} {:>12} {:>14} {:>16}\n", "network", "max |J|", "zeros", "|Jv - jvp|",
             "|uJ - vjp|", "vectorize diff", "|J| off the band");
  for (const JacobianReport& r : reports)
    fmt::print("  {:<13} {:>8.4f} {:>6}/{:<4} {:>12.3g} {:>12.3g} {:>14.3g} {:>16.3g}\n", r.name,
               r.J.abs().max().item<double>(), r.zeros, kSignal * kSignal, r.jvp_error, r.vjp_error, r.vectorize_error,
               r.outside_reach);
  fmt::print("\n  {:<13} {:>14} {:>22} {:>10} {:>10}\n", "network", "jacobian", "jacobian, vectorize", "jvp", "vjp");
  for (const JacobianReport& r : reports)
    fmt::print("  {:<13} {:>11.3f} ms {:>19.3f} ms {:>7.3f} ms {:>7.3f} ms\n", r.name, r.jacobian_ms, r.vectorized_ms,
               r.jvp_ms, r.vjp_ms);
  {
    tutorial::Csv csv(o.out + "/14_jacobians.csv", {"network", "output", "input", "value"});
    for (const JacobianReport& r : reports) {
      const std::vector<double> e = r.J.contiguous().to_vector<double>();
      for (std::int64_t i = 0; i < kSignal; ++i)
        for (std::int64_t j = 0; j < kSignal; ++j)
          csv.row({r.name, fmt::format("{}", i), fmt::format("{}", j),
                   fmt::format("{}", e[static_cast<std::size_t>(i * kSignal + j)])});
    }
  }
  write_heat_maps(o.out + "/14_jacobians.png", {reports[0].J, reports[1].J}, 8);
  for (const JacobianReport& r : reports) {
    check(r.jvp_error <= 1e-10 && r.vjp_error <= 1e-10, r.name + ": J v = jvp and u^T J = vjp to 1e-10");
    check(r.vectorize_error <= 1e-12, r.name + ": vectorize = true gives the same Jacobian");
  }
  check(reports[1].outside_reach == 0.0, "conv: J[i][j] = 0 exactly for |i - j| > 4");

  fmt::print("\nwrote {0}/14_newton.csv, {0}/14_steps.csv, {0}/14_jacobians.csv, {0}/14_jacobians.png\n", o.out);
  fmt::print("{}\n", ok ? "OK" : "FAILED");
  return ok ? 0 : 1;
}
