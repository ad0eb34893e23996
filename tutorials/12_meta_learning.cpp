// Tutorial 12: differentiating through training itself.
//
// Part 1, learning the learning rate (hypergradient descent). A small tanh MLP is trained by
// K = 200 full-batch SGD steps on 32 noisy points of a 1-D function. Every outer step runs
// that training from the same initial weights, written with the functional optimizer
// (xgrad::optim::functional::sgd) and the learning rate a 0-d tensor that requires grad,
// measures the loss on 256 held-out validation points, and differentiates it with respect to
// log(lr) back through all K steps: the hypergradient. Adam on log(lr) moves the learning
// rate. The hypergradient is checked against central finite differences first, and the
// learned lr is compared with fixed ones (a few curves, and a sweep of 40 lrs in [1e-3, 1]).
//
// Part 2, MAML (Finn, Abbeel, Levine 2017) on their sinusoid regression benchmark: tasks
// y = A sin(x - phi), A ~ U[0.1, 5], phi ~ U[0, pi], x ~ U[-5, 5]; an MLP 1-40-40-1 (ReLU);
// K = 5 and 10 points per task; one inner SGD step (alpha 0.01) at train time, meta-batch
// 25 tasks, Adam (1e-3) on the initial weights through the second-order meta-gradient.
// Evaluated on new tasks: the MSE on 100 held-out points of each task after 0..10 SGD steps
// on its K points, against a "pretrained" network trained on all tasks pooled and fine-tuned
// the same way.
//
// First-order MAML (InnerLoopOptions::first_order: no second derivatives) is trained too.
//
// Writes 12_lr.csv, 12_lr_sweep.csv, 12_maml_k{5,10}.csv and the plots 12_lr_schedule.png,
// 12_lr_sweep.png, 12_lr_loss.png, 12_maml_mse_k{5,10}.png, 12_fit_k{5,10}_{a,b}.png to
// --out. Exit status 1 when the hypergradient disagrees with finite differences (relative
// 1e-2), or in full runs when the learned lr does not halve the validation loss of its
// starting lr or ends more than 25% above the best fixed lr of the sweep, or when MAML does
// not beat the pretrained baseline after 10 steps. --smoke: a few outer steps and
// meta-iterations, seconds.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include <fmt/format.h>

#include "sine_tasks.hpp"
#include "tutorial.hpp"
#include "xgrad/nn/functional_call.hpp"
#include "xgrad/optim/functional.hpp"
#include "xgrad/optim/meta.hpp"
#include "xgrad/xgrad.hpp"

namespace nn = xgrad::nn;
namespace optim = xgrad::optim;
namespace fopt = xgrad::optim::functional;
using tutorial::SineTask;
using tutorial::SineTasks;
using xgrad::Tensor;

namespace {

using Params = std::vector<Tensor>;
using ParamMap = optim::ParamMap;

/// The parameter names of a module, in named_parameters() order, and the map
/// functional_call takes.
std::vector<std::string> parameter_names(const nn::Module& m) {
  std::vector<std::string> names;
  for (const auto& [name, p] : m.named_parameters()) names.push_back(name);
  return names;
}
ParamMap as_map(const std::vector<std::string>& names, const Params& params) {
  ParamMap map;
  for (std::size_t i = 0; i < names.size(); ++i) map.emplace(names[i], params[i]);
  return map;
}
/// Fresh leaves holding the values of `params` (no history), requiring grad.
Params fresh_leaves(const Params& params) {
  Params out;
  for (const Tensor& p : params) {
    Tensor leaf = p.detach().clone();
    leaf.requires_grad_(true);
    out.push_back(leaf);
  }
  return out;
}

Tensor column(const std::vector<float>& v) { return xgrad::from_vector(v, {static_cast<std::int64_t>(v.size()), 1}); }

// ---------------------------------------------------------------------------------------------
// Part 1: learning the learning rate
// ---------------------------------------------------------------------------------------------

struct Regression {
  Tensor x_train, y_train, x_val, y_val;  // [n, 1]
};

/// y = sin(3x) + 0.3 x + noise (sd `noise_sd`), x ~ U[-2, 2].
Regression make_regression(std::uint64_t seed, int n_train, int n_val, double noise_sd) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> ux(-2.0, 2.0);
  std::normal_distribution<double> noise(0.0, noise_sd);
  auto sample = [&](int n, Tensor& x, Tensor& y) {
    std::vector<float> xs, ys;
    for (int i = 0; i < n; ++i) {
      const double v = ux(rng);
      xs.push_back(static_cast<float>(v));
      ys.push_back(static_cast<float>(std::sin(3.0 * v) + 0.3 * v + noise(rng)));
    }
    x = column(xs);
    y = column(ys);
  };
  Regression d;
  sample(n_train, d.x_train, d.y_train);
  sample(n_val, d.x_val, d.y_val);
  return d;
}

std::shared_ptr<nn::Sequential> make_regressor(std::uint64_t seed) {
  xgrad::manual_seed(seed);  // every run starts from the same weights
  return std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(1, 32), std::make_shared<nn::Tanh>(),
                                          std::make_shared<nn::Linear>(32, 32), std::make_shared<nn::Tanh>(),
                                          std::make_shared<nn::Linear>(32, 1));
}

// [excerpt unroll]
/// K full-batch SGD steps on the training points, from `params`, with the learning rate `lr`
/// given as a 0-d tensor. Written functionally: functional_call runs the model with the given
/// parameters (the module itself is never changed), autograd::grad returns the gradients as
/// tensors, and functional::sgd returns new parameters instead of overwriting the old ones.
/// With create_graph, every step is recorded: the result is a differentiable function of lr
/// (and of the initial params), p_K = p_{K-1} - lr * grad L(p_{K-1}), ...
Params unroll_sgd(nn::Module& model, const std::vector<std::string>& names, Params params, const Tensor& lr,
                  const Regression& d, int K, bool create_graph) {
  const optim::SGDOptions sgd(1.0);  // the "lr" below replaces this value
  for (int k = 0; k < K; ++k) {
    const Tensor loss =
        nn::functional::mse_loss(nn::functional_call(model, as_map(names, params), d.x_train), d.y_train);
    const Params grads =
        xgrad::autograd::grad({loss}, params, {}, {.retain_graph = create_graph, .create_graph = create_graph});
    if (create_graph) {
      params = fopt::sgd(params, grads, {}, sgd, {{"lr", lr}}).params;
    } else {
      xgrad::NoGradGuard no_grad;
      params = fresh_leaves(fopt::sgd(params, grads, {}, sgd, {{"lr", lr}}).params);
    }
  }
  return params;
}
// [end excerpt]

double validation_loss(nn::Module& model, const std::vector<std::string>& names, const Params& params,
                       const Regression& d) {
  xgrad::NoGradGuard no_grad;
  return nn::functional::mse_loss(nn::functional_call(model, as_map(names, params), d.x_val), d.y_val).item<double>();
}

struct LrConfig {
  int outer_steps = 40;   // T hypergradient steps
  int inner_steps = 200;  // K: the whole training run, unrolled
  double lr0 = 0.003;     // where the learned lr starts (too small)
  double meta_lr = 0.1;   // Adam's step on log(lr)
  int train_points = 32;  // few noisy points: large lrs overfit, small ones underfit
  double noise = 0.3;
  std::uint64_t seed = 0;
};

/// d(validation loss after K steps)/d(log lr) by autograd and by central finite differences
/// (eps 1e-2 on log lr), at lr = 10 lr0.
std::pair<double, double> check_hypergradient(const Regression& d, const LrConfig& cfg) {
  auto model = make_regressor(cfg.seed);
  const auto names = parameter_names(*model);
  const Params init = fresh_leaves(model->parameters());
  const double l0 = std::log(cfg.lr0 * 10);
  Tensor log_lr = xgrad::scalar_tensor(l0, xgrad::dtype(xgrad::Dtype::float64));
  log_lr.requires_grad_(true);
  const Params final = unroll_sgd(*model, names, init, log_lr.exp(), d, cfg.inner_steps, true);
  const Tensor val = nn::functional::mse_loss(nn::functional_call(*model, as_map(names, final), d.x_val), d.y_val);
  const double analytic = xgrad::autograd::grad({val}, {log_lr})[0].item<double>();
  const double eps = 1e-2;
  auto at = [&](double log_value) {
    const Tensor lr = xgrad::scalar_tensor(std::exp(log_value), xgrad::dtype(xgrad::Dtype::float64));
    return validation_loss(*model, names, unroll_sgd(*model, names, init, lr, d, cfg.inner_steps, false), d);
  };
  return {analytic, (at(l0 + eps) - at(l0 - eps)) / (2 * eps)};
}

/// The outer iterates: the lr of each outer step and the validation loss it gave.
struct LrPath {
  std::vector<double> lr, val_loss;
};

// [excerpt hypergradient]
/// Hypergradient descent on the learning rate of a K-step training run. lr = exp(log_lr),
/// with log_lr a 0-d tensor that Adam updates (steps in log space: relative changes of lr).
/// Every outer step trains from the same initial weights for K SGD steps with create_graph,
/// measures the validation loss, and takes d(validation loss)/d(log_lr) back through all K
/// steps: the hypergradient.
LrPath learn_lr(const Regression& d, const LrConfig& cfg) {
  auto model = make_regressor(cfg.seed);
  const auto names = parameter_names(*model);
  const Params init = fresh_leaves(model->parameters());
  Tensor log_lr = xgrad::scalar_tensor(std::log(cfg.lr0), xgrad::dtype(xgrad::Dtype::float64));
  log_lr.requires_grad_(true);
  // No momentum (beta1 = 0): past the good lrs the loss jumps up (runs that oscillate, then
  // diverge), and momentum would carry the lr over the edge.
  optim::Adam meta(std::vector<Tensor>{log_lr}, optim::AdamOptions(cfg.meta_lr).betas({0.0, 0.999}));
  LrPath path;
  for (int t = 0; t < cfg.outer_steps; ++t) {
    const Tensor lr = log_lr.exp();
    const Params final = unroll_sgd(*model, names, init, lr, d, cfg.inner_steps, true);
    const Tensor val = nn::functional::mse_loss(nn::functional_call(*model, as_map(names, final), d.x_val), d.y_val);
    path.lr.push_back(lr.item<double>());
    path.val_loss.push_back(val.item<double>());
    if (!std::isfinite(path.val_loss.back()) || path.val_loss.back() > 2 * path.val_loss.front()) {
      xgrad::NoGradGuard no_grad;  // the run diverged: no useful gradient there, halve the lr
      log_lr.copy_(log_lr - std::log(2.0));
      continue;
    }
    log_lr.set_grad(xgrad::autograd::grad({val}, {log_lr})[0]);  // the hypergradient
    meta.step();
  }
  return path;
}
// [end excerpt]

/// Validation loss after every step of a K-step run with a fixed lr (the in-place optim::SGD;
/// the functional form computes the same values). Empty when the run diverges.
std::vector<double> fixed_lr(const Regression& d, const LrConfig& cfg, double lr) {
  auto model = make_regressor(cfg.seed);
  const auto names = parameter_names(*model);
  optim::SGD sgd(model->parameters(), optim::SGDOptions(lr));
  std::vector<double> curve{validation_loss(*model, names, model->parameters(), d)};
  for (int k = 0; k < cfg.inner_steps; ++k) {
    sgd.zero_grad();
    nn::functional::mse_loss((*model)(d.x_train), d.y_train).backward();
    sgd.step();
    const double v = validation_loss(*model, names, model->parameters(), d);
    if (!std::isfinite(v) || v > 1e3) return {};
    curve.push_back(v);
  }
  return curve;
}

/// Part 1; returns false when a check fails.
bool run_learning_rate(const tutorial::Options& o, const LrConfig& cfg) {
  fmt::print("\n== Part 1: learning the learning rate of a {}-step SGD run\n", cfg.inner_steps);
  const Regression d = make_regression(cfg.seed + 1, cfg.train_points, 256, cfg.noise);
  const auto [analytic, numeric] = check_hypergradient(d, cfg);
  const double rel = std::abs(analytic - numeric) / std::max(std::abs(numeric), 1e-12);
  fmt::print(
      "hypergradient d(val loss)/d(log lr) at lr {:g}: autograd {:.6g}, finite differences {:.6g} "
      "(relative difference {:.1e})\n",
      cfg.lr0 * 10, analytic, numeric, rel);
  std::fflush(stdout);  // progress also when stdout is a file
  bool ok = rel < 1e-2;
  if (!ok) fmt::print(stderr, "FAILED: the hypergradient disagrees with finite differences\n");

  auto start = std::chrono::steady_clock::now();
  const LrPath path = learn_lr(d, cfg);
  fmt::print("{} hypergradient steps ({:.1f}s): lr {:.4g} -> {:.4g}, validation MSE after {} steps {:.4f} -> {:.4f}\n",
             cfg.outer_steps, tutorial::seconds_since(start), path.lr.front(), path.lr.back(), cfg.inner_steps,
             path.val_loss.front(), path.val_loss.back());
  fmt::print(
      "lr after outer steps 10, 20, 30, 40: {:.4g}, {:.4g}, {:.4g}, {:.4g}\n",
      path.lr[std::min<std::size_t>(10, path.lr.size() - 1)], path.lr[std::min<std::size_t>(20, path.lr.size() - 1)],
      path.lr[std::min<std::size_t>(30, path.lr.size() - 1)], path.lr[std::min<std::size_t>(40, path.lr.size() - 1)]);

  // Fixed learning rates: the curves of a few, and the final loss over a grid (the "sweep").
  start = std::chrono::steady_clock::now();
  std::vector<tutorial::Series> curves;
  double best_fixed = INFINITY, best_lr = 0.0;
  fmt::print("validation MSE after {} steps with a fixed lr:", cfg.inner_steps);
  for (double lr : {0.003, 0.01, 0.03, 0.1, 0.3}) {
    const std::vector<double> c = fixed_lr(d, cfg, lr);
    if (c.empty()) {
      fmt::print("  {:g}: diverged", lr);
      continue;
    }
    fmt::print("  {:g}: {:.4f}", lr, c.back());
    std::vector<double> steps(c.size());
    for (std::size_t k = 0; k < c.size(); ++k) steps[k] = static_cast<double>(k);
    curves.push_back({fmt::format("fixed lr {:g}", lr), steps, c});
  }
  fmt::print("\n");
  tutorial::Series sweep{"fixed lr", {}, {}}, beyond{"fixed lr, past the first one that diverges", {}, {}, true};
  tutorial::Csv sweep_csv(o.out + "/12_lr_sweep.csv", {"lr", "val_loss"});
  const int grid = o.smoke ? 4 : 40;
  bool diverged = false;
  for (int i = 0; i < grid; ++i) {
    const double lr = 1e-3 * std::pow(1000.0, i / (grid - 1.0));  // 1e-3 .. 1, log-spaced
    const std::vector<double> c = fixed_lr(d, cfg, lr);
    sweep_csv.row({lr, c.empty() ? NAN : c.back()});
    diverged = diverged || c.empty();
    if (c.empty()) continue;
    (diverged ? beyond : sweep).x.push_back(std::log10(lr));
    (diverged ? beyond : sweep).y.push_back(c.back());
    if (c.back() < best_fixed) best_fixed = c.back(), best_lr = lr;
  }
  fmt::print(
      "best of {} fixed lrs in [1e-3, 1]: lr {:.4g}, validation MSE {:.4f} ({:.1f}s); learned lr {:.4g}: {:.4f}\n",
      grid, best_lr, best_fixed, tutorial::seconds_since(start), path.lr.back(), path.val_loss.back());
  const std::vector<double> learned = fixed_lr(d, cfg, path.lr.back());
  if (!learned.empty()) {
    std::vector<double> steps(learned.size());
    for (std::size_t k = 0; k < learned.size(); ++k) steps[k] = static_cast<double>(k);
    curves.push_back({fmt::format("learned lr {:.3g}", path.lr.back()), steps, learned});
  }

  tutorial::Csv csv(o.out + "/12_lr.csv", {"outer_step", "lr", "val_loss"});
  std::vector<double> outer, log_lr;
  for (std::size_t t = 0; t < path.lr.size(); ++t) {
    log_lr.push_back(std::log10(path.lr[t]));
    csv.row({static_cast<double>(t), path.lr[t], path.val_loss[t]});
    outer.push_back(static_cast<double>(t));
  }
  tutorial::plot(
      o.out + "/12_lr_schedule.png", "Hypergradient descent on the learning rate", "outer step", "learning rate",
      {{"learned lr", outer, path.lr}, {"best fixed lr of the sweep", {0.0, outer.back()}, {best_lr, best_lr}}}, true);
  tutorial::plot(o.out + "/12_lr_sweep.png",
                 fmt::format("Validation MSE after {} SGD steps as a function of the lr", cfg.inner_steps),
                 "log10(learning rate)", "validation MSE",
                 {sweep, beyond, {"hypergradient iterates", log_lr, path.val_loss, true}}, true);
  tutorial::plot(o.out + "/12_lr_loss.png", "Validation MSE during training: fixed vs learned lr", "SGD step",
                 "validation MSE", curves, true);
  if (!o.smoke && (path.val_loss.back() > 0.5 * path.val_loss.front() || path.val_loss.back() > 1.25 * best_fixed)) {
    fmt::print(stderr, "FAILED: the learned lr ends at {:.4f} (from {:.4f}; best fixed lr {:.4f})\n",
               path.val_loss.back(), path.val_loss.front(), best_fixed);
    ok = false;
  }
  return ok;
}

// ---------------------------------------------------------------------------------------------
// Part 2: MAML on sinusoids
// ---------------------------------------------------------------------------------------------

std::shared_ptr<nn::Sequential> make_sine_mlp(std::uint64_t seed) {
  xgrad::manual_seed(seed);
  return std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(1, 40), std::make_shared<nn::ReLU>(),
                                          std::make_shared<nn::Linear>(40, 40), std::make_shared<nn::ReLU>(),
                                          std::make_shared<nn::Linear>(40, 1));
}

struct MamlConfig {
  int shots = 5;           // K
  int meta_iters = 20000;  // outer steps (the paper: 70 000)
  int meta_batch = 25;     // tasks per outer step
  double alpha = 0.01;     // inner SGD lr
  double meta_lr = 1e-3;   // Adam on the initial weights
  bool first_order = false;
  int test_tasks = 600;
  int test_points = 100;
  int test_steps = 10;
  std::uint64_t seed = 0;
};

Tensor mse_of(nn::Module& model, const optim::ParamMap& params, const Tensor& x, const Tensor& y) {
  return nn::functional::mse_loss(nn::functional_call(model, params, x), y);
}

/// Test-time fine-tuning: `steps` plain SGD steps (lr alpha) on the points (x, y) from
/// `params`. Under NoGradGuard the InnerLoop records nothing (no graph, no second order).
optim::ParamMap fine_tune(nn::Module& model, const optim::ParamMap& params, const Tensor& x, const Tensor& y, int steps,
                          double alpha) {
  xgrad::NoGradGuard no_grad;
  const optim::InnerLoop inner(fopt::make(optim::SGDOptions(alpha)), optim::InnerLoopOptions(steps));
  return inner.run([&](const optim::ParamMap& p) { return mse_of(model, p, x, y); }, params).params;
}

optim::ParamMap own_parameters(const nn::Module& model) {
  optim::ParamMap map;
  for (const auto& [name, p] : model.named_parameters()) map.emplace(name, p);
  return map;
}

// [excerpt maml]
/// MAML's outer loop. For each of meta_batch tasks: K points to adapt on, one SGD step on
/// them (theta'_i = theta - alpha grad L_i(theta), recorded with create_graph by InnerLoop),
/// and K other points to measure the adapted network on. The meta-loss is the mean of those
/// post-update losses; its gradient w.r.t. theta goes back through the inner step (second
/// order: it contains Hessian-vector products of the inner losses; first_order drops them).
/// Adam updates theta, the module's own parameters.
void train_maml(nn::Module& model, SineTasks& tasks, const MamlConfig& cfg) {
  optim::Adam meta(model.parameters(), optim::AdamOptions(cfg.meta_lr));
  const optim::InnerLoop inner(fopt::make(optim::SGDOptions(cfg.alpha)),
                               optim::InnerLoopOptions(1).first_order(cfg.first_order));
  tutorial::ProgressBar bar(cfg.meta_iters, fmt::format("{} {}-shot", cfg.first_order ? "FOMAML" : "MAML", cfg.shots));
  double running = 0.0;
  for (int it = 1; it <= cfg.meta_iters; ++it) {
    meta.zero_grad();
    double meta_loss = 0.0;
    for (int i = 0; i < cfg.meta_batch; ++i) {
      const SineTask task = tasks.task();
      const auto [x_support, y_support] = tasks.points(task, cfg.shots);
      const auto [x_query, y_query] = tasks.points(task, cfg.shots);
      // theta'_i: starts from the module's parameters, carries a graph back to them
      const optim::InnerLoopResult adapted =
          inner.run(model, [&](const optim::ParamMap& p) { return mse_of(model, p, x_support, y_support); });
      const Tensor loss = mse_of(model, adapted.params, x_query, y_query) / static_cast<double>(cfg.meta_batch);
      loss.backward();  // accumulates d loss / d theta, through the inner step, into theta.grad()
      meta_loss += loss.item<double>();
    }
    meta.step();
    running = it == 1 ? meta_loss : 0.99 * running + 0.01 * meta_loss;
    bar.update(it, running);
  }
  bar.finish();
}
// [end excerpt]

/// The baseline: one network regressing all tasks pooled (it cannot know the task, so it
/// learns their average, about 0), trained by Adam on as many tasks and points as MAML saw.
void train_pretrained(nn::Module& model, SineTasks& tasks, const MamlConfig& cfg) {
  optim::Adam opt(model.parameters(), optim::AdamOptions(cfg.meta_lr));
  for (int it = 1; it <= cfg.meta_iters; ++it) {
    opt.zero_grad();
    for (int i = 0; i < cfg.meta_batch; ++i) {
      const auto [x, y] = tasks.points(tasks.task(), 2 * cfg.shots);
      (nn::functional::mse_loss(model(x), y) / static_cast<double>(cfg.meta_batch)).backward();
    }
    opt.step();
  }
}

/// A test task: its K support points and test_points held-out points.
struct TestTask {
  SineTask task;
  Tensor x_support, y_support, x_test, y_test;
};

std::vector<TestTask> make_test_tasks(const MamlConfig& cfg) {
  SineTasks tasks(cfg.seed + 1000);  // the same tasks (and test points) for every model and K
  std::vector<TestTask> out;
  for (int i = 0; i < cfg.test_tasks; ++i) {
    TestTask t{tasks.task(), {}, {}, {}, {}};
    const auto [xs, ys] = tasks.points(t.task, 10);  // K = 5 uses the first 5 of these
    t.x_support = xs.narrow(0, 0, cfg.shots).contiguous();
    t.y_support = ys.narrow(0, 0, cfg.shots).contiguous();
    std::tie(t.x_test, t.y_test) = tasks.points(t.task, cfg.test_points);
    out.push_back(t);
  }
  return out;
}

/// Mean and 95% half-width over the test tasks of the held-out MSE after 0..test_steps steps.
struct MseCurve {
  std::vector<double> mean, ci95;
};

MseCurve evaluate(nn::Module& model, const std::vector<TestTask>& tests, const MamlConfig& cfg) {
  xgrad::NoGradGuard no_grad;
  std::vector<std::vector<double>> per_step(cfg.test_steps + 1);
  for (const TestTask& t : tests) {
    optim::ParamMap params = own_parameters(model);
    for (int s = 0; s <= cfg.test_steps; ++s) {
      if (s > 0) params = fine_tune(model, params, t.x_support, t.y_support, 1, cfg.alpha);
      per_step[s].push_back(mse_of(model, params, t.x_test, t.y_test).item<double>());
    }
  }
  MseCurve c;
  for (const auto& v : per_step) {
    double sum = 0.0, sq = 0.0;
    for (double e : v) sum += e;
    const double mean = sum / static_cast<double>(v.size());
    for (double e : v) sq += (e - mean) * (e - mean);
    c.mean.push_back(mean);
    c.ci95.push_back(1.96 * std::sqrt(sq / static_cast<double>(v.size() - 1) / static_cast<double>(v.size())));
  }
  return c;
}

/// The plot of one adapted task: the true sine, the K points, the network before adapting and
/// after 1 and 10 steps, and the baseline after 10 steps.
void plot_fit(const std::string& path, nn::Module& maml, nn::Module& pretrained, const TestTask& t,
              const MamlConfig& cfg) {
  const Tensor grid = xgrad::linspace(-5.0, 5.0, 201).reshape({201, 1});
  const std::vector<float> gx = grid.reshape({-1}).to_vector<float>();
  const std::vector<double> xs(gx.begin(), gx.end());
  auto curve = [&](nn::Module& m, int steps) {
    const optim::ParamMap p = fine_tune(m, own_parameters(m), t.x_support, t.y_support, steps, cfg.alpha);
    xgrad::NoGradGuard no_grad;
    const std::vector<float> y = nn::functional_call(m, p, grid).reshape({-1}).to_vector<float>();
    return std::vector<double>(y.begin(), y.end());
  };
  std::vector<double> truth;
  for (double x : xs) truth.push_back(t.task(x));
  const std::vector<std::pair<std::string, std::vector<double>>> lines{
      {"true function", truth},
      {"MAML, before adapting", curve(maml, 0)},
      {"MAML, after 1 step", curve(maml, 1)},
      {"MAML, after 10 steps", curve(maml, 10)},
      {"pretrained, after 10 steps", curve(pretrained, 10)}};
  // tutorial::plot draws small points; the K points deserve large ones: our own gnuplot script.
  if (!tutorial::have_gnuplot()) return;
  const std::string script = path + ".gp";
  std::FILE* gp = std::fopen(script.c_str(), "w");
  if (!gp) return;
  fmt::print(gp, "set terminal pngcairo size 900,600 noenhanced\nset output '{}'\nset grid\nset key below\n", path);
  fmt::print(gp, "set title '{}-shot task: y = {:.2f} sin(x - {:.2f})'\nset xlabel 'x'\nset ylabel 'y'\nplot ",
             cfg.shots, t.task.amplitude, t.task.phase);
  const char* styles[] = {"lines lw 3 lc rgb 'black'", "lines lw 2 dt 2 lc rgb '#56b4e9'",
                          "lines lw 2 lc rgb '#e69f00'", "lines lw 2 lc rgb '#009e73'",
                          "lines lw 2 dt 3 lc rgb '#cc79a7'"};
  for (std::size_t i = 0; i < lines.size(); ++i) fmt::print(gp, "'-' with {} title '{}', ", styles[i], lines[i].first);
  fmt::print(gp, "'-' with points pt 7 ps 2 lc rgb '#d55e00' title 'the {} points used for the steps'\n", cfg.shots);
  for (const auto& [name, ys] : lines) {
    for (std::size_t i = 0; i < xs.size(); ++i) fmt::print(gp, "{} {}\n", xs[i], ys[i]);
    fmt::print(gp, "e\n");
  }
  const std::vector<float> sx = t.x_support.reshape({-1}).to_vector<float>(),
                           sy = t.y_support.reshape({-1}).to_vector<float>();
  for (std::size_t i = 0; i < sx.size(); ++i) fmt::print(gp, "{} {}\n", sx[i], sy[i]);
  fmt::print(gp, "e\n");
  std::fclose(gp);
  if (std::system(fmt::format("gnuplot '{}' >/dev/null 2>&1", script).c_str()) != 0)
    fmt::print(stderr, "gnuplot failed on {}\n", script);
  std::remove(script.c_str());
}

struct MamlResult {
  MseCurve maml, fomaml, pretrained;
  double maml_ms = 0.0, fomaml_ms = 0.0, pretrained_ms = 0.0;  // per meta-iteration
};

MamlResult run_maml(const tutorial::Options& o, const MamlConfig& cfg) {
  fmt::print("\n== Part 2: MAML, {}-shot sinusoid regression\n", cfg.shots);
  MamlResult r;
  // The three models start from the same weights and see the same training tasks.
  auto train = [&](bool first_order, double& ms) {
    MamlConfig c = cfg;
    c.first_order = first_order;
    auto model = make_sine_mlp(cfg.seed);
    SineTasks tasks(cfg.seed + cfg.shots);
    const auto start = std::chrono::steady_clock::now();
    train_maml(*model, tasks, c);
    ms = 1e3 * tutorial::seconds_since(start) / cfg.meta_iters;
    return model;
  };
  auto maml = train(false, r.maml_ms);
  auto fomaml = train(true, r.fomaml_ms);
  auto pretrained = make_sine_mlp(cfg.seed);
  SineTasks pool_tasks(cfg.seed + cfg.shots);
  auto start = std::chrono::steady_clock::now();
  train_pretrained(*pretrained, pool_tasks, cfg);
  r.pretrained_ms = 1e3 * tutorial::seconds_since(start) / cfg.meta_iters;

  start = std::chrono::steady_clock::now();
  const std::vector<TestTask> tests = make_test_tasks(cfg);
  r.maml = evaluate(*maml, tests, cfg);
  r.fomaml = evaluate(*fomaml, tests, cfg);
  r.pretrained = evaluate(*pretrained, tests, cfg);
  fmt::print(
      "{} meta-iterations of {} tasks, ms per iteration: MAML {:.2f}, first-order MAML {:.2f}, pretrained "
      "{:.2f}; evaluation on {} new tasks {:.1f}s\n",
      cfg.meta_iters, cfg.meta_batch, r.maml_ms, r.fomaml_ms, r.pretrained_ms, cfg.test_tasks,
      tutorial::seconds_since(start));
  fmt::print("held-out MSE (mean ± 95% interval) after fine-tuning on the {} points:\n", cfg.shots);
  fmt::print("{:>5}  {:>15}  {:>15}  {:>15}\n", "steps", "MAML", "first-order", "pretrained");
  tutorial::Csv csv(
      fmt::format("{}/12_maml_k{}.csv", o.out, cfg.shots),
      {"steps", "maml_mse", "maml_ci95", "fomaml_mse", "fomaml_ci95", "pretrained_mse", "pretrained_ci95"});
  std::vector<double> steps;
  for (int s = 0; s <= cfg.test_steps; ++s) {
    fmt::print("{:5}  {:7.3f} ± {:5.3f}  {:7.3f} ± {:5.3f}  {:7.3f} ± {:5.3f}\n", s, r.maml.mean[s], r.maml.ci95[s],
               r.fomaml.mean[s], r.fomaml.ci95[s], r.pretrained.mean[s], r.pretrained.ci95[s]);
    csv.row({static_cast<double>(s), r.maml.mean[s], r.maml.ci95[s], r.fomaml.mean[s], r.fomaml.ci95[s],
             r.pretrained.mean[s], r.pretrained.ci95[s]});
    steps.push_back(s);
  }
  std::fflush(stdout);
  tutorial::plot(fmt::format("{}/12_maml_mse_k{}.png", o.out, cfg.shots),
                 fmt::format("{}-shot sinusoid regression: held-out MSE on {} new tasks", cfg.shots, cfg.test_tasks),
                 "SGD steps on the K points (alpha 0.01)", "mean squared error",
                 {{"MAML", steps, r.maml.mean},
                  {"first-order MAML", steps, r.fomaml.mean},
                  {"pretrained (all tasks pooled)", steps, r.pretrained.mean}});
  for (int i = 0; i < 2 && i < static_cast<int>(tests.size()); ++i)
    plot_fit(fmt::format("{}/12_fit_k{}_{}.png", o.out, cfg.shots, i == 0 ? "a" : "b"), *maml, *pretrained, tests[i],
             cfg);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  tutorial::Options o;
  LrConfig lr_cfg;
  MamlConfig maml_cfg;
  CLI::App app{"Tutorial 12: differentiating through training: learned learning rates and MAML"};
  tutorial::add_flags(app, o);
  app.add_option("--outer-steps", lr_cfg.outer_steps, "part 1: outer (hypergradient) steps");
  app.add_option("--inner-steps", lr_cfg.inner_steps, "part 1: SGD steps unrolled per outer step");
  app.add_option("--meta-iters", maml_cfg.meta_iters, "part 2: meta-iterations per model and K");
  app.add_option("--test-tasks", maml_cfg.test_tasks, "part 2: new tasks to evaluate on");
  app.add_option("--lr0", lr_cfg.lr0, "part 1: initial learning rate");
  app.add_option("--meta-lr", lr_cfg.meta_lr, "part 1: Adam's lr on log(lr)");
  app.add_option("--train-points", lr_cfg.train_points, "part 1: training points");
  app.add_option("--noise", lr_cfg.noise, "part 1: noise of the targets");
  int part = 0;
  app.add_option("--part", part, "run only part 1 (learning the lr) or part 2 (MAML); 0: both")
      ->check(CLI::Range(0, 2));
  CLI11_PARSE(app, argc, argv);
  tutorial::setup(o, "Tutorial 12: meta-learning (learned learning rates, MAML)");
  lr_cfg.seed = maml_cfg.seed = o.seed;
  if (o.smoke) {
    lr_cfg.outer_steps = 5;
    lr_cfg.inner_steps = 10;
    maml_cfg.meta_iters = 3;
    maml_cfg.test_tasks = 8;
  }
  try {
    const auto start = std::chrono::steady_clock::now();
    bool ok = part == 2 || run_learning_rate(o, lr_cfg);
    std::map<int, MamlResult> results;
    for (int k : {5, 10}) {
      if (part == 1) break;
      MamlConfig cfg = maml_cfg;
      cfg.shots = k;
      results[k] = run_maml(o, cfg);
    }
    fmt::print("\nsummary: held-out MSE after 1 and 10 steps, {} meta-iterations\n", maml_cfg.meta_iters);
    fmt::print("{:>3}  {:>14}  {:>14}  {:>14}\n", "K", "MAML", "first-order", "pretrained");
    for (const auto& [k, r] : results) {
      fmt::print("{:>3}  {:6.3f} {:7.3f}  {:6.3f} {:7.3f}  {:6.3f} {:7.3f}\n", k, r.maml.mean[1], r.maml.mean.back(),
                 r.fomaml.mean[1], r.fomaml.mean.back(), r.pretrained.mean[1], r.pretrained.mean.back());
      for (double v : r.maml.mean)
        if (!std::isfinite(v)) ok = false;
      if (!o.smoke && r.maml.mean.back() >= r.pretrained.mean.back()) {
        fmt::print(stderr, "FAILED: {}-shot MAML does not beat the pretrained baseline after 10 steps\n", k);
        ok = false;
      }
    }
    fmt::print("total {:.0f}s with {} threads\n", tutorial::seconds_since(start), xgrad::get_num_threads());
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
}
