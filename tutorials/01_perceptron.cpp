// Tutorial 01: the perceptron (Rosenblatt 1958).
//
// A single threshold unit y_hat = step(w . x + b), trained online by the error-driven rule
//   w <- w + eta (y - y_hat) x,   b <- b + eta (y - y_hat)
// (xgrad::nn::Perceptron::update). Part 1: on points that a line separates with a margin the
// rule converges (Novikoff: at most (R / gamma)^2 mistakes in total) to 100% training accuracy.
// Part 2: on XOR no line separates the classes, so at most 3 of the 4 corners are ever right:
// the accuracy never exceeds 75% however long it trains. That is the limitation that layered
// networks (tutorial 05) remove.
//
//   ./build/tutorials/01_perceptron --out out/01_perceptron
//
// Exits with status 1 when the separable run does not reach 100% or XOR ever exceeds 75%.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "tutorial.hpp"
#include "xgrad/xgrad.hpp"

namespace {

using xgrad::Tensor;

// The true separating line w* . x + b* = 0 (unit normal), and the empty strip around it.
constexpr double kTrueW0 = 0.8;
constexpr double kTrueW1 = -0.6;
constexpr double kTrueB = 0.1;
constexpr double kMargin = 0.1;

struct Points {
  std::vector<Tensor> rows;    // one float32 [2] tensor per sample (what update() takes)
  std::vector<double> x0, x1;  // coordinates, for the plots
  std::vector<double> labels;  // 0 or 1
  Tensor X;                    // float32 [n, 2], for evaluating the whole set at once
};

Points make_points(const std::vector<double>& xy, const std::vector<double>& labels) {
  Points p;
  p.labels = labels;
  const std::size_t n = labels.size();
  for (std::size_t i = 0; i < n; ++i) {
    p.x0.push_back(xy[2 * i]);
    p.x1.push_back(xy[2 * i + 1]);
    p.rows.push_back(
        xgrad::from_vector(std::vector<float>{static_cast<float>(xy[2 * i]), static_cast<float>(xy[2 * i + 1])}));
  }
  std::vector<float> flat(xy.begin(), xy.end());
  p.X = xgrad::from_vector(flat, {static_cast<std::int64_t>(n), 2});
  return p;
}

// n points uniform in [-1, 1]^2, labelled by the side of the true line; points closer to the
// line than kMargin are redrawn, so the two classes are separated by a strip of width 2 kMargin.
Points separable_points(std::int64_t n) {
  std::vector<double> xy, labels;
  while (static_cast<std::int64_t>(labels.size()) < n) {
    const double a = 2.0 * xgrad::random_uniform() - 1.0;
    const double b = 2.0 * xgrad::random_uniform() - 1.0;
    const double d = kTrueW0 * a + kTrueW1 * b + kTrueB;  // signed distance (unit normal)
    if (std::abs(d) < kMargin) continue;
    xy.push_back(a);
    xy.push_back(b);
    labels.push_back(d > 0 ? 1.0 : 0.0);
  }
  return make_points(xy, labels);
}

// XOR: the four corners with labels 0, 1, 1, 0, repeated (make_xor without noise).
Points xor_points(std::int64_t n, std::uint64_t seed) {
  const xgrad::data::SyntheticData d = xgrad::data::make_xor(n, 0.0, seed);
  std::vector<float> xf = d.x.to_vector<float>();
  std::vector<std::int64_t> yi = d.y.to_vector<std::int64_t>();
  return make_points(std::vector<double>(xf.begin(), xf.end()), std::vector<double>(yi.begin(), yi.end()));
}

// Fraction of the points the perceptron classifies right.
double accuracy(xgrad::nn::Perceptron& p, const Points& pts) {
  const std::vector<float> y_hat = p.forward(pts.X).to_vector<float>();
  std::size_t right = 0;
  for (std::size_t i = 0; i < y_hat.size(); ++i) right += static_cast<double>(y_hat[i]) == pts.labels[i] ? 1 : 0;
  return static_cast<double>(right) / static_cast<double>(y_hat.size());
}

// A random order of 0..n-1 (Fisher-Yates, from the global generator seeded by --seed).
std::vector<std::size_t> shuffled(std::size_t n) {
  std::vector<std::size_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = i;
  for (std::size_t i = n; i > 1; --i) std::swap(order[i - 1], order[xgrad::random_u64() % i]);
  return order;
}

// [excerpt rule]
// One online pass of the Rosenblatt rule over the samples in a fresh random order: for each,
// y_hat = step(w . x + b) and, when it is wrong, w <- w + lr (y - y_hat) x and
// b <- b + lr (y - y_hat) (Perceptron::update does exactly this). Returns the number of
// mistakes made in the pass. With best_step_acc, the accuracy over all points is measured
// after every single update and the best one kept.
std::int64_t online_epoch(xgrad::nn::Perceptron& p, const Points& pts, double lr, double* best_step_acc = nullptr) {
  std::int64_t mistakes = 0;
  for (std::size_t i : shuffled(pts.rows.size())) {
    mistakes += p.update(pts.rows[i], pts.labels[i], lr) ? 1 : 0;
    if (best_step_acc) *best_step_acc = std::max(*best_step_acc, accuracy(p, pts));
  }
  return mistakes;
}
// [end excerpt]

struct EpochLog {
  std::vector<double> epoch, mistakes, acc;
  void add(int e, std::int64_t m, double a) {
    epoch.push_back(e);
    mistakes.push_back(static_cast<double>(m));
    acc.push_back(a);
  }
};

// Two points of the line w0 x0 + w1 x1 + b = 0 inside the box [-lim, lim]^2 (solved for the
// coordinate with the larger coefficient, so a vertical line works too).
tutorial::Series line_series(const std::string& name, double w0, double w1, double b, double lim) {
  tutorial::Series s{name, {}, {}, false};
  if (std::abs(w1) >= std::abs(w0)) {
    s.x = {-lim, lim};
    s.y = {-(w0 * -lim + b) / w1, -(w0 * lim + b) / w1};
  } else {
    s.y = {-lim, lim};
    s.x = {-(w1 * -lim + b) / w0, -(w1 * lim + b) / w0};
  }
  return s;
}

// Draws a PNG with gnuplot and remembers its name; warns when gnuplot is installed but fails.
void plot_png(std::vector<std::string>& pngs, const std::string& out, const std::string& file, const std::string& title,
              const std::string& xlabel, const std::string& ylabel, const std::vector<tutorial::Series>& series,
              bool log_y = false) {
  if (tutorial::plot(out + "/" + file, title, xlabel, ylabel, series, log_y)) {
    pngs.push_back(file);
  } else if (tutorial::have_gnuplot()) {
    fmt::print("warning: gnuplot could not draw {}\n", file);
  }
}

}  // namespace

int main(int argc, char** argv) {
  tutorial::Options o;
  o.epochs = 30;
  o.lr = 1.0;
  CLI::App app{"Tutorial 01: the Rosenblatt perceptron converges on separable data and fails on XOR"};
  tutorial::add_flags(app, o);
  CLI11_PARSE(app, argc, argv);
  tutorial::setup(o, "01 perceptron");

  const std::int64_t n_points = o.smoke ? 100 : 500;
  const int xor_epochs = o.smoke ? std::min(o.epochs, 10) : o.epochs;
  bool ok = true;
  std::vector<std::string> pngs;  // the plots written

  // ---- part 1: linearly separable points -------------------------------------------------
  const Points sep = separable_points(n_points);
  // Novikoff's bound on the total number of mistakes, on the augmented inputs (x, 1):
  // R = max |(x, 1)|, gamma = min distance of (x, 1) to the hyperplane (w*, b*) . (x, 1) = 0.
  double r = 0.0, gamma = 1e300;
  const double norm_star = std::sqrt(kTrueW0 * kTrueW0 + kTrueW1 * kTrueW1 + kTrueB * kTrueB);
  for (std::size_t i = 0; i < sep.labels.size(); ++i) {
    r = std::max(r, std::sqrt(sep.x0[i] * sep.x0[i] + sep.x1[i] * sep.x1[i] + 1.0));
    gamma = std::min(gamma, std::abs(kTrueW0 * sep.x0[i] + kTrueW1 * sep.x1[i] + kTrueB) / norm_star);
  }
  const double bound = (r / gamma) * (r / gamma);
  fmt::print("\nPart 1: {} points separated by the line {:.1f} x0 {:+.1f} x1 {:+.1f} = 0 with margin {}\n",
             sep.labels.size(), kTrueW0, kTrueW1, kTrueB, kMargin);
  fmt::print("Novikoff: at most (R/gamma)^2 = ({:.3f}/{:.4f})^2 = {:.0f} mistakes in total\n\n", r, gamma, bound);
  // Every epoch before convergence makes at least one mistake, so the bound also caps the epochs.
  const int max_epochs = static_cast<int>(std::ceil(bound)) + 1;
  fmt::print("{:>5} {:>9} {:>9}\n", "epoch", "mistakes", "accuracy");

  tutorial::Csv sep_csv(o.out + "/separable.csv", {"epoch", "mistakes", "accuracy"});
  EpochLog sep_log;
  xgrad::nn::Perceptron p(2);
  int converged_epoch = -1;
  std::int64_t total_mistakes = 0;
  // [excerpt train_separable]
  for (int epoch = 1; epoch <= max_epochs; ++epoch) {
    const std::int64_t mistakes = online_epoch(p, sep, o.lr);
    const double acc = accuracy(p, sep);
    total_mistakes += mistakes;
    fmt::print("{:>5} {:>9} {:>8.1f}%\n", epoch, mistakes, 100.0 * acc);
    sep_csv.row({static_cast<double>(epoch), static_cast<double>(mistakes), acc});
    sep_log.add(epoch, mistakes, acc);
    if (mistakes == 0) {  // a whole pass without an update: the weights are final
      converged_epoch = epoch;
      break;
    }
  }
  // [end excerpt]
  const std::vector<float> w = p.weight.to_vector<float>();
  const double b = p.bias.item<double>();
  const double final_acc = sep_log.acc.empty() ? 0.0 : sep_log.acc.back();
  fmt::print("\nlearned line: {:.2f} x0 {:+.2f} x1 {:+.2f} = 0, training accuracy {:.1f}%, {} mistakes in total\n",
             w[0], w[1], b, 100.0 * final_acc, total_mistakes);
  if (converged_epoch > 0 && final_acc == 1.0) {
    fmt::print("converged: epoch {} made no mistake (100% training accuracy)\n", converged_epoch);
  } else {
    fmt::print("FAILED: no error-free pass within {} epochs (accuracy {:.1f}%)\n", max_epochs, 100.0 * final_acc);
    ok = false;
  }
  if (static_cast<double>(total_mistakes) > bound) {
    fmt::print("FAILED: {} mistakes exceed Novikoff's bound {:.0f}\n", total_mistakes, bound);
    ok = false;
  }

  // ---- part 2: XOR -----------------------------------------------------------------------
  const Points xr = xor_points(o.smoke ? 40 : 100, o.seed);
  fmt::print("\nPart 2: XOR, the corners (0,0)->0 (0,1)->1 (1,0)->1 (1,1)->0 repeated to {} samples\n\n",
             xr.labels.size());
  fmt::print("{:>5} {:>9} {:>9} {:>8} {:>8} {:>8}\n", "epoch", "mistakes", "accuracy", "w0", "w1", "b");
  tutorial::Csv xor_csv(o.out + "/xor.csv", {"epoch", "mistakes", "accuracy", "w0", "w1", "b"});
  EpochLog xor_log;
  xgrad::nn::Perceptron q(2);
  double best_step_acc = 0.0;  // the best accuracy seen after ANY single update
  for (int epoch = 1; epoch <= xor_epochs; ++epoch) {
    const std::int64_t mistakes = online_epoch(q, xr, o.lr, &best_step_acc);
    const double acc = accuracy(q, xr);
    const std::vector<float> wq = q.weight.to_vector<float>();
    const double bq = q.bias.item<double>();
    fmt::print("{:>5} {:>9} {:>8.1f}% {:>8.2f} {:>8.2f} {:>8.2f}\n", epoch, mistakes, 100.0 * acc, wq[0], wq[1], bq);
    xor_csv.row({static_cast<double>(epoch), static_cast<double>(mistakes), acc, wq[0], wq[1], bq});
    xor_log.add(epoch, mistakes, acc);
  }
  const double best_epoch_acc = *std::max_element(xor_log.acc.begin(), xor_log.acc.end());
  const double fewest_mistakes = *std::min_element(xor_log.mistakes.begin(), xor_log.mistakes.end());
  fmt::print(
      "\nXOR: best accuracy after an epoch {:.1f}%, after any single update {:.1f}%; fewest mistakes in "
      "an epoch {} (never an error-free pass)\n",
      100.0 * best_epoch_acc, 100.0 * best_step_acc, fewest_mistakes);
  if (std::max(best_epoch_acc, best_step_acc) > 0.75) {
    fmt::print("FAILED: XOR accuracy exceeded 75%, which no single line can do\n");
    ok = false;
  }

  // ---- plots -------------------------------------------------------------------------------
  tutorial::Series c0{"class 0", {}, {}, true}, c1{"class 1", {}, {}, true};
  for (std::size_t i = 0; i < sep.labels.size(); ++i) {
    tutorial::Series& s = sep.labels[i] > 0.5 ? c1 : c0;
    s.x.push_back(sep.x0[i]);
    s.y.push_back(sep.x1[i]);
  }
  plot_png(pngs, o.out, "separable.png", "Perceptron on linearly separable points", "x0", "x1",
           {c0, c1, line_series("learned line", w[0], w[1], b, 1.0),
            line_series("true line", kTrueW0, kTrueW1, kTrueB, 1.0)});
  std::vector<double> all_epochs(static_cast<std::size_t>(xor_epochs));
  for (int e = 0; e < xor_epochs; ++e) all_epochs[static_cast<std::size_t>(e)] = e + 1;
  // After convergence the weights no longer change, so the separable curve stays at 100%.
  tutorial::Series sep_curve{"separable", sep_log.epoch, sep_log.acc, false};
  for (int e = static_cast<int>(sep_curve.x.size()) + 1; e <= xor_epochs && converged_epoch > 0; ++e) {
    sep_curve.x.push_back(e);
    sep_curve.y.push_back(1.0);
  }
  plot_png(pngs, o.out, "accuracy.png",
           fmt::format("Perceptron accuracy per epoch (separable: converged at epoch {})", converged_epoch), "epoch",
           "accuracy",
           {sep_curve,
            {"XOR", xor_log.epoch, xor_log.acc, false},
            {"75%", all_epochs, std::vector<double>(all_epochs.size(), 0.75), false}});
  fmt::print("\nwrote {}/separable.csv, xor.csv{}{}\n", o.out, pngs.empty() ? "" : ", ", fmt::join(pngs, ", "));
  return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
