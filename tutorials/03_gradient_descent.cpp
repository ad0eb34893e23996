// 03_gradient_descent: the primer's gradient descent, w <- w - eta * dL/dw, and the three
// ways to feed it data.
//
//   1. The rule itself, written out by hand on a raw (w, b) under NoGradGuard, for linear
//      regression on the whole data set (batch gradient descent).
//   2. The same with nn::Linear + optim::SGD + data::DataLoader, in three variants that only
//      differ in the batch size: batch GD (batch = N), SGD (batch = 1) and mini-batch GD
//      (batch = 32). Loss vs epoch and vs wall time, parameter updates per epoch, time per
//      update.
//   3. The same three variants on logistic regression (two Gaussian blobs, BCEWithLogits).
//
// Exits 1 when a regression variant does not reach the noise floor (the loss of the true
// weights), when the hand-written rule and optim::SGD disagree, or when a logistic variant
// falls far behind the others.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "tutorial.hpp"
#include "xgrad/xgrad.hpp"

namespace {

using xgrad::NoGradGuard;
using xgrad::Tensor;
namespace data = xgrad::data;
namespace nn = xgrad::nn;
namespace optim = xgrad::optim;
using Clock = std::chrono::steady_clock;

/// One way of feeding gradient descent: how many examples per update, and its step size.
struct Variant {
  std::string name;
  std::int64_t batch_size;
  double lr;
};

/// What one training run measured. The curve holds the loss on the whole training set,
/// evaluated (outside the timed region) about ten times per epoch.
struct Run {
  std::string name;
  std::int64_t batch_size = 0;
  double lr = 0.0;
  std::vector<double> epochs, seconds, losses;
  std::int64_t updates_per_epoch = 0;
  std::int64_t updates = 0;
  double train_seconds = 0.0;
  double final_loss = 0.0;
  double accuracy = 0.0;  // classification only
  Tensor weight, bias;    // the trained parameters
};

/// Loss (and, for a classifier, accuracy of sign(logit)) on the whole data set.
std::pair<double, double> evaluate(nn::Linear& model, nn::Loss& criterion, const Tensor& x, const Tensor& y,
                                   bool classify) {
  NoGradGuard no_grad;
  const Tensor out = model(x);
  const double loss = criterion(out, y).item<double>();
  double accuracy = 0.0;
  if (classify) accuracy = ((out > 0.0) == y).to(xgrad::float32).mean().item<double>();  // comparisons give bool
  return {loss, accuracy};
}

/// Trains a fresh nn::Linear (the same initial weights for every variant: manual_seed first)
/// with plain SGD on batches of v.batch_size shuffled examples.
Run train(const Tensor& x, const Tensor& y, nn::Loss& criterion, const Variant& v, int epochs, std::uint64_t seed,
          bool classify) {
  xgrad::manual_seed(seed);
  auto model = std::make_shared<nn::Linear>(x.size(1), 1);
  // [excerpt loader]
  data::DataLoader loader(std::make_shared<data::TensorDataset>(x, y),
                          data::DataLoaderOptions(v.batch_size).shuffle(true).seed(seed));
  optim::SGD optimizer(model->parameters(), optim::SGDOptions(v.lr));  // plain: no momentum
  // [end excerpt]

  Run run;
  run.name = v.name;
  run.batch_size = v.batch_size;
  run.lr = v.lr;
  run.updates_per_epoch = loader.size();
  const std::int64_t eval_every = std::max<std::int64_t>(1, run.updates_per_epoch / 10);
  auto record = [&] {
    const auto [loss, accuracy] = evaluate(*model, criterion, x, y, classify);
    run.epochs.push_back(static_cast<double>(run.updates) / static_cast<double>(run.updates_per_epoch));
    run.seconds.push_back(run.train_seconds);
    run.losses.push_back(loss);
    run.accuracy = accuracy;
  };
  record();

  tutorial::ProgressBar bar(static_cast<std::int64_t>(epochs) * run.updates_per_epoch, v.name);
  Clock::time_point start;
  auto after_update = [&](const Tensor& loss) {
    ++run.updates;
    if (run.updates % eval_every != 0) return;
    run.train_seconds += tutorial::seconds_since(start);  // stop the clock while measuring
    record();
    bar.update(run.updates, loss.item<double>());
    start = Clock::now();
  };
  for (int epoch = 0; epoch < epochs; ++epoch) {
    start = Clock::now();
    // [excerpt train_loop]
    for (const data::Batch& batch : loader) {
      optimizer.zero_grad();
      Tensor loss = criterion((*model)(batch.data), batch.target);
      loss.backward();
      optimizer.step();  // w <- w - lr * dL/dw for every parameter
      after_update(loss);
    }
    // [end excerpt]
    run.train_seconds += tutorial::seconds_since(start);
  }
  bar.finish();
  if (run.updates % eval_every != 0) record();
  run.final_loss = run.losses.back();
  run.weight = model->weight.detach().clone();
  run.bias = model->bias.detach().clone();
  return run;
}

/// The primer's rule with nothing hidden: batch gradient descent on a raw (w, b), starting
/// from the same initial weights as the nn::Linear runs. Returns the trained [d, 1] w and b.
std::pair<Tensor, Tensor> batch_gd_by_hand(const Tensor& x, const Tensor& y, double lr, int epochs,
                                           std::uint64_t seed) {
  xgrad::manual_seed(seed);
  nn::Linear init(x.size(1), 1);
  Tensor w = init.weight.t().detach().clone().requires_grad_();  // [d, 1]
  Tensor b = init.bias.detach().clone().requires_grad_();        // [1]
  // [excerpt rule]
  for (int epoch = 0; epoch < epochs; ++epoch) {
    Tensor error = x.matmul(w) + b - y;    // [N, 1]
    Tensor loss = (error * error).mean();  // L = 1/N sum (x_i w + b - y_i)^2
    loss.backward();                       // fills w.grad() = dL/dw, b.grad() = dL/db
    {
      NoGradGuard no_grad;    // the update itself is not part of any graph
      w.sub_(lr * w.grad());  // w <- w - lr * dL/dw
      b.sub_(lr * b.grad());  // b <- b - lr * dL/db
      w.set_grad(Tensor());   // gradients accumulate: clear them for the next step
      b.set_grad(Tensor());
    }
  }
  // [end excerpt]
  return {w.detach(), b.detach()};
}

void write_curves(const std::string& path, const std::vector<Run>& runs) {
  tutorial::Csv csv(path, {"variant", "batch_size", "updates", "epoch", "seconds", "loss"});
  for (const Run& r : runs)
    for (std::size_t k = 0; k < r.losses.size(); ++k)
      csv.row({r.name, fmt::format("{}", r.batch_size),
               fmt::format("{}", std::llround(r.epochs[k] * static_cast<double>(r.updates_per_epoch))),
               fmt::format("{}", r.epochs[k]), fmt::format("{}", r.seconds[k]), fmt::format("{}", r.losses[k])});
}

/// The smallest loss the model can reach on this training set, L*: batch GD run for many
/// more epochs than the comparison (the loss is convex in (w, b), so it converges).
double minimum_loss(const Tensor& x, const Tensor& y, nn::Loss& criterion, const Variant& batch_gd, int epochs,
                    std::uint64_t seed, bool classify, const std::vector<Run>& runs) {
  double best = train(x, y, criterion, batch_gd, epochs, seed, classify).final_loss;
  for (const Run& r : runs)
    for (double l : r.losses) best = std::min(best, l);
  return best;
}

/// Plots L - L* (log scale: a straight line is linear convergence; a plateau is the noise of
/// small batches) against epochs and against seconds of training.
void plot_curves(const std::string& out, const std::string& stem, const std::string& what, const std::vector<Run>& runs,
                 double minimum) {
  std::vector<tutorial::Series> by_epoch, by_time;
  for (const Run& r : runs) {
    std::vector<double> excess = r.losses;
    for (double& l : excess) l = std::max(l - minimum, 1e-6);  // float32 resolution of the loss
    by_epoch.push_back({r.name, r.epochs, excess});
    // Batch GD finishes in milliseconds, SGD takes seconds: a log time axis shows both.
    tutorial::Series t{r.name, {}, {}};
    for (std::size_t k = 0; k < excess.size(); ++k) {
      if (r.seconds[k] <= 0.0) continue;  // the initial point sits at -infinity
      t.x.push_back(std::log10(1e3 * r.seconds[k]));
      t.y.push_back(excess[k]);
    }
    by_time.push_back(t);
  }
  const std::string ylabel = fmt::format("training loss - minimum ({:.4f})", minimum);
  tutorial::plot(out + "/" + stem + "_loss_epoch.png", what + ": loss vs epoch", "epoch", ylabel, by_epoch, true);
  tutorial::plot(out + "/" + stem + "_loss_time.png", what + ": loss vs wall time",
                 "log10(milliseconds of training): 0 = 1 ms, 1 = 10 ms, 3 = 1 s", ylabel, by_time, true);
}

void print_table(const std::vector<Run>& runs, bool classify) {
  fmt::print("  {:<14} {:>6} {:>6} {:>12} {:>9} {:>10} {:>12} {:>11}{}\n", "variant", "batch", "lr", "final loss",
             "updates", "upd/epoch", "time [ms]", "us/update", classify ? "   accuracy" : "");
  for (const Run& r : runs) {
    fmt::print("  {:<14} {:>6} {:>6} {:>12.5f} {:>9} {:>10} {:>12.1f} {:>11.1f}", r.name, r.batch_size, r.lr,
               r.final_loss, r.updates, r.updates_per_epoch, 1e3 * r.train_seconds,
               1e6 * r.train_seconds / static_cast<double>(std::max<std::int64_t>(r.updates, 1)));
    if (classify) fmt::print("   {:>7.2f}%", 100.0 * r.accuracy);
    fmt::print("\n");
  }
}

void write_summary(tutorial::Csv& csv, const std::string& task, const std::vector<Run>& runs) {
  for (const Run& r : runs)
    csv.row({task, r.name, fmt::format("{}", r.batch_size), fmt::format("{}", r.lr),
             fmt::format("{}", r.updates_per_epoch), fmt::format("{}", r.updates), fmt::format("{}", r.train_seconds),
             fmt::format("{}", 1e6 * r.train_seconds / static_cast<double>(std::max<std::int64_t>(r.updates, 1))),
             fmt::format("{}", r.final_loss), task == "logistic" ? fmt::format("{}", r.accuracy) : ""});
}

}  // namespace

int main(int argc, char** argv) {
  tutorial::Options o;
  o.epochs = 30;
  o.batch_size = 32;
  o.lr = 0.05;
  CLI::App app{"Gradient descent: batch GD, SGD and mini-batch GD on linear and logistic regression"};
  tutorial::add_flags(app, o);
  CLI11_PARSE(app, argc, argv);
  if (o.smoke) o.epochs = std::min(o.epochs, 10);
  tutorial::setup(o, "03 gradient descent");
  bool ok = true;

  const std::int64_t n = o.smoke ? 400 : 1000;
  const std::int64_t features = 5;
  const double noise = 0.5;
  // --batch-size and --lr set the mini-batch variant; batch GD and SGD keep their own step
  // sizes (a whole-set gradient tolerates a large step, a one-example gradient needs a small one).
  const std::vector<Variant> variants = {
      {"batch GD", n, 0.3}, {"SGD", 1, 0.01}, {fmt::format("mini-batch {}", o.batch_size), o.batch_size, o.lr}};

  // ---- 1. linear regression -----------------------------------------------------------------
  const data::RegressionData reg = data::make_linear_regression(n, features, noise, o.seed, /*bias=*/2.0);
  double floor = 0.0;  // the loss of the true weights: no model can do better on average
  {
    NoGradGuard no_grad;
    const Tensor e = reg.x.matmul(reg.weights) + reg.bias - reg.y;
    floor = (e * e).mean().item<double>();
  }
  fmt::print("\nLinear regression: {} samples, {} features, noise {} -> noise floor (MSE of the true weights) {:.4f}\n",
             n, features, noise, floor);

  // First the rule by hand (this also warms up the thread pool before the timed runs).
  const auto [w_hand, b_hand] = batch_gd_by_hand(reg.x, reg.y, variants[0].lr, o.epochs, o.seed);
  nn::MSELoss mse;
  std::vector<Run> regression;
  for (const Variant& v : variants) regression.push_back(train(reg.x, reg.y, mse, v, o.epochs, o.seed, false));
  print_table(regression, false);
  for (const Run& r : regression) {
    const bool reached = r.final_loss < 1.25 * floor;
    fmt::print("  {:<14} final loss / noise floor = {:.3f} {}\n", r.name, r.final_loss / floor,
               reached ? "(reached)" : "(NOT reached: FAIL)");
    ok = ok && reached;
  }

  // The hand-written rule and optim::SGD on the whole batch are the same algorithm.
  double max_diff = 0.0;
  {
    NoGradGuard no_grad;
    max_diff = std::max((w_hand - regression[0].weight.t()).abs().max().item<double>(),
                        (b_hand - regression[0].bias).abs().max().item<double>());
  }
  const bool same = max_diff < 1e-4;
  fmt::print("  hand-written rule vs optim::SGD (batch GD): max |difference| of the weights {:.2e} {}\n", max_diff,
             same ? "(same algorithm)" : "(DIFFERENT: FAIL)");
  ok = ok && same;
  fmt::print("  true weights {}, bias {}\n  learned (SGD) {}, bias {:.4f}\n",
             xgrad::to_string(reg.weights.reshape({features})), reg.bias,
             xgrad::to_string(regression[1].weight.reshape({features})), regression[1].bias.item<double>());

  // ---- 2. logistic regression ---------------------------------------------------------------
  // Two overlapping Gaussian blobs; features standardised (zero mean, unit variance) so one
  // step size suits every weight.
  const data::BlobsData blobs = data::make_blobs(n, 2, 2, 3.0, o.seed);
  Tensor xc, yc;
  {
    NoGradGuard no_grad;
    const Tensor mean = blobs.x.mean({0}, true);
    const Tensor centred = blobs.x - mean;
    xc = centred / (centred * centred).mean({0}, true).sqrt();
    yc = blobs.y.to(xgrad::Dtype::float32).unsqueeze(1);  // BCE targets: float [N, 1]
  }
  fmt::print("\nLogistic regression: two blobs, {} samples, BCEWithLogits\n", n);
  // The curvature of the BCE loss, sigma'(z) = p (1 - p) <= 1/4 per example, is at most an
  // eighth of MSE's (2 per example), so every variant can take 4x larger steps.
  nn::BCEWithLogitsLoss bce;
  std::vector<Run> logistic;
  for (Variant v : variants) {
    v.lr *= 4.0;
    logistic.push_back(train(xc, yc, bce, v, o.epochs, o.seed, true));
  }
  print_table(logistic, true);
  double best = 0.0;
  for (const Run& r : logistic) best = std::max(best, r.accuracy);
  for (const Run& r : logistic) {
    const bool close = r.accuracy > best - 0.05 && r.final_loss < r.losses.front();
    if (!close)
      fmt::print("  {}: accuracy {:.2f}% far below the best {:.2f}%: FAIL\n", r.name, 100 * r.accuracy, 100 * best);
    ok = ok && close;
  }

  // ---- results ------------------------------------------------------------------------------
  write_curves(o.out + "/regression_curves.csv", regression);
  write_curves(o.out + "/logistic_curves.csv", logistic);
  tutorial::Csv summary(o.out + "/summary.csv", {"task", "variant", "batch_size", "lr", "updates_per_epoch", "updates",
                                                 "seconds", "us_per_update", "final_loss", "accuracy"});
  write_summary(summary, "regression", regression);
  write_summary(summary, "logistic", logistic);
  const int long_run = 20 * o.epochs;
  const double reg_min = minimum_loss(reg.x, reg.y, mse, variants[0], long_run, o.seed, false, regression);
  Variant logistic_gd = variants[0];
  logistic_gd.lr *= 4.0;
  const double log_min = minimum_loss(xc, yc, bce, logistic_gd, long_run, o.seed, true, logistic);
  fmt::print("\nminimum training loss (batch GD, {} epochs): regression {:.5f} (noise floor {:.5f}), logistic {:.5f}\n",
             long_run, reg_min, floor, log_min);
  plot_curves(o.out, "regression", "linear regression (MSE)", regression, reg_min);
  plot_curves(o.out, "logistic", "logistic regression (BCE)", logistic, log_min);
  fmt::print("\nwrote {}/regression_curves.csv, logistic_curves.csv, summary.csv{}\n", o.out,
             tutorial::have_gnuplot() ? " and *_loss_epoch.png, *_loss_time.png" : "");
  fmt::print("{}\n", ok ? "OK" : "FAILED");
  return ok ? 0 : 1;
}
