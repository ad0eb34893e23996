// 04_optimizers: the primer's modern optimizers (Momentum, AdaGrad, RMSProp, Adam, AdamW)
// next to plain SGD, all from xgrad::optim.
//
//   (a) The Rosenbrock function f(x, y) = (1 - x)^2 + 100 (y - x^2)^2 from (-1.5, 2): a long,
//       curved, flat-bottomed valley with its minimum f = 0 at (1, 1). The (x, y) path of
//       every optimizer is recorded and plotted over level sets of f.
//   (b) A 2-32-32-2 ReLU MLP on the two-moons data set with CrossEntropyLoss: training loss
//       and accuracy per epoch for every optimizer, from the same initial weights.
//
// Exits 1 when Adam does not train the MLP above 90% accuracy (80% in the smoke run), or
// when an optimizer does not decrease f on Rosenbrock (or produces NaN).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <numbers>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "optimizers.hpp"
#include "tutorial.hpp"
#include "xgrad/xgrad.hpp"

namespace {

using xgrad::NoGradGuard;
using xgrad::Tensor;
namespace data = xgrad::data;
namespace nn = xgrad::nn;
namespace optim = xgrad::optim;

/// An optimizer of the comparison with its step sizes on the two problems.
struct Spec {
  std::string name;
  double rosenbrock_lr;
  double mlp_lr;
};


// ---- (a) Rosenbrock -----------------------------------------------------------------------------

// [excerpt rosenbrock]
/// f(x, y) = (1 - x)^2 + 100 (y - x^2)^2 for p = (x, y), built from xgrad ops so that
/// backward() gives the gradient (-2 (1 - x) - 400 x (y - x^2), 200 (y - x^2)).
Tensor rosenbrock(const Tensor& p) {
  const Tensor x = p.narrow(0, 0, 1);
  const Tensor y = p.narrow(0, 1, 1);
  return ((1.0 - x).pow(2) + 100.0 * (y - x * x).pow(2)).sum();
}
// [end excerpt]

struct Path {
  std::vector<double> x, y, f;
};

Path descend(const Spec& spec, int steps) {
  Path path;
  // [excerpt descend]
  Tensor p = xgrad::tensor({-1.5, 2.0}, xgrad::dtype(xgrad::Dtype::float64)).requires_grad_();
  auto optimizer = tutorial::make_optimizer(spec.name, {p}, spec.rosenbrock_lr);
  for (int step = 0; step <= steps; ++step) {
    optimizer->zero_grad();
    Tensor f = rosenbrock(p);
    path.x.push_back(p.to_vector<double>()[0]);
    path.y.push_back(p.to_vector<double>()[1]);
    path.f.push_back(f.item<double>());
    if (step == steps) break;
    f.backward();
    optimizer->step();
  }
  // [end excerpt]
  return path;
}

/// Points of the level sets f = c inside [-2, 2] x [-1, 3]: for each x with (1 - x)^2 <= c,
/// y = x^2 +- sqrt((c - (1 - x)^2) / 100).
tutorial::Series level_sets(const std::vector<double>& levels) {
  tutorial::Series s{"level sets", {}, {}, true};
  constexpr int kPoints = 400;
  for (double c : levels) {
    for (int k = 0; k <= kPoints; ++k) {
      const double x = -2.0 + 4.0 * k / kPoints;
      const double r = c - (1.0 - x) * (1.0 - x);
      if (r < 0.0) continue;
      for (double sign : {-1.0, 1.0}) {
        const double y = x * x + sign * std::sqrt(r / 100.0);
        if (y < -1.0 || y > 3.0) continue;
        s.x.push_back(x);
        s.y.push_back(y);
      }
    }
  }
  return s;
}

// ---- (b) MLP on two moons -----------------------------------------------------------------------

struct MlpRun {
  std::vector<double> loss, accuracy;  // on the whole training set, after each epoch (0 = init)
};

/// Loss and accuracy of `model` on (x, y).
std::pair<double, double> evaluate(nn::Module& model, nn::CrossEntropyLoss& criterion, const Tensor& x,
                                   const Tensor& y) {
  NoGradGuard no_grad;
  const Tensor logits = model(x);
  const double loss = criterion(logits, y).item<double>();
  const double accuracy = (logits.argmax(1) == y).to(xgrad::Dtype::float64).mean().item<double>();
  return {loss, accuracy};
}

MlpRun train_mlp(const Spec& spec, const Tensor& x, const Tensor& y, const tutorial::Options& o) {
  // [excerpt mlp]
  xgrad::manual_seed(o.seed);  // the same initial weights for every optimizer
  auto model = std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(2, 32), std::make_shared<nn::ReLU>(),
                                                std::make_shared<nn::Linear>(32, 32), std::make_shared<nn::ReLU>(),
                                                std::make_shared<nn::Linear>(32, 2));
  auto optimizer = tutorial::make_optimizer(spec.name, model->parameters(), spec.mlp_lr);
  data::DataLoader loader(std::make_shared<data::TensorDataset>(x, y),
                          data::DataLoaderOptions(o.batch_size).shuffle(true).seed(o.seed));
  nn::CrossEntropyLoss criterion;
  // [end excerpt]
  MlpRun run;
  auto record = [&] {
    const auto [loss, accuracy] = evaluate(*model, criterion, x, y);
    run.loss.push_back(loss);
    run.accuracy.push_back(accuracy);
  };
  record();
  tutorial::ProgressBar bar(o.epochs, spec.name);
  for (int epoch = 0; epoch < o.epochs; ++epoch) {
    for (const data::Batch& batch : loader) {
      optimizer->zero_grad();
      Tensor loss = criterion((*model)(batch.data), batch.target);
      loss.backward();
      optimizer->step();
    }
    record();
    bar.update(epoch + 1, run.loss.back());
  }
  bar.finish();
  return run;
}

}  // namespace

int main(int argc, char** argv) {
  tutorial::Options o;
  o.epochs = 60;
  o.batch_size = 64;
  o.lr = 0.005;
  int steps = 3000;
  CLI::App app{"SGD, Momentum, AdaGrad, RMSProp, Adam and AdamW on Rosenbrock and on a small MLP"};
  tutorial::add_flags(app, o);
  app.add_option("--steps", steps, "optimisation steps on the Rosenbrock function")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (o.smoke) {
    o.epochs = std::min(o.epochs, 15);
    steps = std::min(steps, 300);
  }
  tutorial::setup(o, "04 optimizers");
  bool ok = true;

  // Step sizes tuned per optimizer and problem (a step size is not comparable across
  // optimizers: Adam's lr bounds the step per coordinate, SGD's multiplies the gradient).
  // --lr sets Adam's and AdamW's on the MLP.
  const std::vector<Spec> specs = {{"SGD", 1e-3, 0.1},       {"Momentum", 2e-4, 0.05}, {"AdaGrad", 0.5, 0.05},
                                   {"RMSProp", 1e-2, 0.003}, {"Adam", 0.05, o.lr},     {"AdamW", 0.05, o.lr}};

  // ---- (a) Rosenbrock ---------------------------------------------------------------------------
  fmt::print("\n(a) Rosenbrock f(x, y) = (1 - x)^2 + 100 (y - x^2)^2 from (-1.5, 2), {} steps\n", steps);
  std::vector<Path> paths;
  for (const Spec& s : specs) paths.push_back(descend(s, steps));
  {
    tutorial::Csv csv(o.out + "/rosenbrock.csv", {"optimizer", "step", "x", "y", "f"});
    for (std::size_t i = 0; i < specs.size(); ++i)
      for (std::size_t k = 0; k < paths[i].f.size(); ++k)
        csv.row({specs[i].name, fmt::format("{}", k), fmt::format("{}", paths[i].x[k]),
                 fmt::format("{}", paths[i].y[k]), fmt::format("{}", paths[i].f[k])});
  }
  std::vector<tutorial::Series> tracks{level_sets({0.5, 5, 50, 500})};
  tracks.push_back({"start, minimum", {-1.5, 1.0}, {2.0, 1.0}, true});
  std::vector<tutorial::Series> values;
  // Drawn in reverse, so that the paths that stop early lie on top of those that go further.
  for (std::size_t i = specs.size(); i-- > 0;) tracks.push_back({specs[i].name, paths[i].x, paths[i].y});
  for (std::size_t i = 0; i < specs.size(); ++i) {
    std::vector<double> step_index(paths[i].f.size());
    for (std::size_t k = 0; k < step_index.size(); ++k) step_index[k] = static_cast<double>(k);
    std::vector<double> f = paths[i].f;
    for (double& v : f) v = std::max(v, 1e-12);  // log scale
    values.push_back({specs[i].name, step_index, f});
  }
  tutorial::plot(o.out + "/rosenbrock_paths.png", "Rosenbrock: optimizer paths from (-1.5, 2)", "x", "y", tracks);
  tutorial::plot(o.out + "/rosenbrock_f.png", "Rosenbrock: f(x, y) per step", "step", "f", values, true);

  // ---- (b) MLP on two moons ---------------------------------------------------------------------
  const std::int64_t n = o.smoke ? 300 : 1000;
  const data::SyntheticData moons = data::make_moons(n, 0.2, o.seed);
  fmt::print("(b) MLP 2-32-32-2 (ReLU) on {} two-moons points, batch {}, {} epochs, CrossEntropyLoss\n", n,
             o.batch_size, o.epochs);
  std::vector<MlpRun> mlp;
  for (const Spec& s : specs) mlp.push_back(train_mlp(s, moons.x, moons.y, o));
  {
    tutorial::Csv csv(o.out + "/mlp.csv", {"optimizer", "epoch", "loss", "accuracy"});
    for (std::size_t i = 0; i < specs.size(); ++i)
      for (std::size_t e = 0; e < mlp[i].loss.size(); ++e)
        csv.row({specs[i].name, fmt::format("{}", e), fmt::format("{}", mlp[i].loss[e]),
                 fmt::format("{}", mlp[i].accuracy[e])});
  }
  std::vector<tutorial::Series> curves, accuracies;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    std::vector<double> epoch(mlp[i].loss.size());
    for (std::size_t e = 0; e < epoch.size(); ++e) epoch[e] = static_cast<double>(e);
    curves.push_back({specs[i].name, epoch, mlp[i].loss});
    std::vector<double> percent = mlp[i].accuracy;
    for (double& a : percent) a *= 100.0;
    accuracies.push_back({specs[i].name, epoch, percent});
  }
  tutorial::plot(o.out + "/mlp_loss.png", "MLP 2-32-32-2 on two moons: training loss", "epoch", "cross-entropy", curves,
                 true);
  tutorial::plot(o.out + "/mlp_accuracy.png", "MLP 2-32-32-2 on two moons: training accuracy", "epoch", "accuracy [%]",
                 accuracies);

  // ---- final table ------------------------------------------------------------------------------
  fmt::print("\n  {:<9} {:>8} {:>16} {:>12} {:>9} {:>10} {:>9}\n", "optimizer", "lr (a)", "distance to (1,1)",
             "final f", "lr (b)", "MLP loss", "MLP acc");
  tutorial::Csv summary(o.out + "/summary.csv", {"optimizer", "rosenbrock_lr", "rosenbrock_distance", "rosenbrock_f",
                                                 "mlp_lr", "mlp_loss", "mlp_accuracy"});
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const Path& p = paths[i];
    const double distance = std::hypot(p.x.back() - 1.0, p.y.back() - 1.0);
    const double f = p.f.back();
    fmt::print("  {:<9} {:>8} {:>16.4g} {:>12.4g} {:>9} {:>10.4f} {:>8.2f}%\n", specs[i].name, specs[i].rosenbrock_lr,
               distance, f, specs[i].mlp_lr, mlp[i].loss.back(), 100.0 * mlp[i].accuracy.back());
    summary.row({specs[i].name, fmt::format("{}", specs[i].rosenbrock_lr), fmt::format("{}", distance),
                 fmt::format("{}", f), fmt::format("{}", specs[i].mlp_lr), fmt::format("{}", mlp[i].loss.back()),
                 fmt::format("{}", mlp[i].accuracy.back())});
    if (!std::isfinite(f) || f >= p.f.front()) {
      fmt::print("  {} did not decrease f on Rosenbrock: FAIL\n", specs[i].name);
      ok = false;
    }
  }
  const double adam_accuracy = mlp[4].accuracy.back();
  const double required = o.smoke ? 0.80 : 0.90;
  if (adam_accuracy <= required) {
    fmt::print("  Adam's MLP accuracy {:.2f}% is not above {:.0f}%: FAIL\n", 100 * adam_accuracy, 100 * required);
    ok = false;
  }

  fmt::print(
      "\nwrote {}/rosenbrock.csv, mlp.csv, summary.csv{}\n", o.out,
      tutorial::have_gnuplot() ? " and rosenbrock_paths.png, rosenbrock_f.png, mlp_loss.png, mlp_accuracy.png" : "");
  fmt::print("{}\n", ok ? "OK" : "FAILED");
  return ok ? 0 : 1;
}
