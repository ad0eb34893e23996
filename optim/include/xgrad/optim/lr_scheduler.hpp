// Learning-rate schedulers (torch.optim.lr_scheduler).
//
// A scheduler sets the lr of every parameter group of its optimizer. Construction records
// each group's initial_lr (unless an earlier scheduler did) as base_lr, and takes the first
// step (last_epoch 0), exactly like PyTorch; call step() once per epoch (or per batch for
// OneCycleLR) after optimizer.step(). Every scheduler here computes the closed form of the
// schedule from base_lr and last_epoch t (no accumulated rounding), so two schedulers on one
// optimizer do not compose multiplicatively: chain them with SequentialLR.
//
//   StepLR(step_size, gamma = 0.1)         lr = base * gamma^floor(t / step_size)
//   MultiStepLR(milestones, gamma = 0.1)   lr = base * gamma^(number of milestones <= t)
//   ExponentialLR(gamma)                   lr = base * gamma^t
//   CosineAnnealingLR(T_max, eta_min = 0)  lr = eta_min + (base - eta_min)(1 + cos(pi t / T_max)) / 2
//   LinearLR(start_factor = 1/3, end_factor = 1, total_iters = 5)
//                                          lr = base * (s + (e - s) * min(t, total_iters) / total_iters)
//   LambdaLR(fn)                           lr = base * fn(t)
//   OneCycleLR(max_lr, total_steps, ...)   see OneCycleLROptions
//   SequentialLR(schedulers, milestones)   scheduler k runs between milestones k-1 and k,
//                                          restarted at t = 0 at its milestone
//   ReduceLROnPlateau(options)             lr <- max(lr * factor, min_lr) after `patience`
//                                          epochs without improvement; step(metric)
//
// state_dict(): "last_epoch", "base_lrs.<g>", "last_lr.<g>" (0-d float64) plus each
// scheduler's own counters; resuming = load the optimizer's and the scheduler's state dicts.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "xgrad/optim/optimizer.hpp"

namespace xgrad::optim {

class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  /// Advances last_epoch by one and sets the groups' lr.
  virtual void step();
  /// Jumps to `epoch` (closed form) and sets the groups' lr (SequentialLR restarts with 0).
  virtual void step(std::int64_t epoch);
  /// The lr of each group as last set by this scheduler.
  const std::vector<double>& get_last_lr() const { return last_lr_; }
  std::int64_t last_epoch() const { return last_epoch_; }
  const std::vector<double>& base_lrs() const { return base_lrs_; }
  Optimizer& optimizer() { return optimizer_; }

  virtual TensorDict state_dict() const;
  /// Throws xgrad::Error on a missing key or a different number of groups.
  virtual void load_state_dict(const TensorDict& dict);

 protected:
  explicit LRScheduler(Optimizer& optimizer);
  /// The lr of every group at `epoch` (closed form).
  virtual std::vector<double> get_lr(std::int64_t epoch) const = 0;
  /// Runs after each step has set the lr (OneCycleLR sets the momentum here).
  virtual void after_step() {}
  /// The first step; each concrete constructor calls it last.
  void initial_step() { step(); }
  void apply(const std::vector<double>& lrs);
  friend class SequentialLR;

  Optimizer& optimizer_;
  std::vector<double> base_lrs_;
  std::vector<double> last_lr_;
  std::int64_t last_epoch_ = -1;
};

class StepLR : public LRScheduler {
 public:
  /// Throws xgrad::Error when step_size < 1 or gamma < 0.
  StepLR(Optimizer& optimizer, std::int64_t step_size, double gamma = 0.1);

 protected:
  std::vector<double> get_lr(std::int64_t epoch) const override;

 private:
  std::int64_t step_size_;
  double gamma_;
};

class MultiStepLR : public LRScheduler {
 public:
  /// Milestones may come in any order (sorted here; repeats count twice). Throws
  /// xgrad::Error when gamma < 0.
  MultiStepLR(Optimizer& optimizer, std::vector<std::int64_t> milestones, double gamma = 0.1);

 protected:
  std::vector<double> get_lr(std::int64_t epoch) const override;

 private:
  std::vector<std::int64_t> milestones_;
  double gamma_;
};

class ExponentialLR : public LRScheduler {
 public:
  /// Throws xgrad::Error when gamma < 0.
  ExponentialLR(Optimizer& optimizer, double gamma);

 protected:
  std::vector<double> get_lr(std::int64_t epoch) const override;

 private:
  double gamma_;
};

class CosineAnnealingLR : public LRScheduler {
 public:
  /// Throws xgrad::Error when T_max < 1 or eta_min < 0.
  CosineAnnealingLR(Optimizer& optimizer, std::int64_t T_max, double eta_min = 0.0);

 protected:
  std::vector<double> get_lr(std::int64_t epoch) const override;

 private:
  std::int64_t T_max_;
  double eta_min_;
};

class LinearLR : public LRScheduler {
 public:
  /// Throws xgrad::Error: start_factor outside (0, 1], end_factor outside [0, 1],
  /// total_iters < 1.
  LinearLR(Optimizer& optimizer, double start_factor = 1.0 / 3.0, double end_factor = 1.0,
           std::int64_t total_iters = 5);

 protected:
  std::vector<double> get_lr(std::int64_t epoch) const override;

 private:
  double start_factor_, end_factor_;
  std::int64_t total_iters_;
};

class LambdaLR : public LRScheduler {
 public:
  /// fn(t) multiplies base_lr. Throws xgrad::Error for an empty fn.
  LambdaLR(Optimizer& optimizer, std::function<double(std::int64_t)> fn);

 protected:
  std::vector<double> get_lr(std::int64_t epoch) const override;

 private:
  std::function<double(std::int64_t)> fn_;
};

enum class AnnealStrategy { cos, linear };

/// OneCycleLR's options. initial_lr = max_lr / div_factor, min_lr = initial_lr / final_div_factor.
/// Two phases (default): steps [0, pct_start * total_steps - 1] go initial_lr -> max_lr, the
/// rest max_lr -> min_lr. three_phase: initial -> max until pct_start * total_steps - 1,
/// max -> initial until 2 * pct_start * total_steps - 2, then initial -> min. Within a phase
/// from a to b at fraction p: cos: b + (a - b)(1 + cos(pi p)) / 2; linear: a + (b - a) p.
/// With cycle_momentum the momentum (SGD, RMSprop) or beta1 (Adam family) moves the opposite
/// way between max_momentum and base_momentum.
struct OneCycleLROptions {
  OneCycleLROptions(double max_lr, std::int64_t total_steps) : max_lr_({max_lr}), total_steps_(total_steps) {}
  /// One max_lr per parameter group.
  OneCycleLROptions(std::vector<double> max_lrs, std::int64_t total_steps)
      : max_lr_(std::move(max_lrs)), total_steps_(total_steps) {}
#define XGRAD_OPTIM_ONECYCLE_FIELDS(X)                                           \
  X(std::vector<double>, max_lr, {}, ::xgrad::options::any)                      \
  X(std::int64_t, total_steps, 0, ::xgrad::options::any)                         \
  X(double, pct_start, 0.3, ::xgrad::options::any)                               \
  X(AnnealStrategy, anneal_strategy, AnnealStrategy::cos, ::xgrad::options::any) \
  X(bool, cycle_momentum, true, ::xgrad::options::any)                           \
  X(double, base_momentum, 0.85, ::xgrad::options::any)                          \
  X(double, max_momentum, 0.95, ::xgrad::options::any)                           \
  X(double, div_factor, 25.0, ::xgrad::options::any)                             \
  X(double, final_div_factor, 1e4, ::xgrad::options::any)                        \
  X(bool, three_phase, false, ::xgrad::options::any)
  // Checked by OneCycleLR's constructor (the checks depend on the optimizer).
  XGRAD_OPTIONS(OneCycleLROptions, XGRAD_OPTIM_ONECYCLE_FIELDS)
};

class OneCycleLR : public LRScheduler {
 public:
  /// Throws xgrad::Error: total_steps < 1, pct_start outside [0, 1], max_lr count neither 1
  /// nor the number of groups, cycle_momentum on an optimizer without momentum; step()
  /// beyond total_steps.
  OneCycleLR(Optimizer& optimizer, const OneCycleLROptions& options);

 protected:
  std::vector<double> get_lr(std::int64_t epoch) const override;

 private:
  struct Phase {
    double end_step;
    std::vector<double> start_lr, end_lr;
    double start_momentum, end_momentum;
  };
  OneCycleLROptions options_;
  std::vector<Phase> phases_;
  double anneal(double start, double end, double pct) const;
  void after_step() override;
  /// The phase containing `epoch` and the fraction of it done.
  std::pair<const Phase*, double> locate(std::int64_t epoch) const;
};

class SequentialLR : public LRScheduler {
 public:
  /// schedulers.size() must be milestones.size() + 1, all on `optimizer`, milestones
  /// increasing. Resets every group's lr to its initial_lr, rewinds the schedulers and
  /// starts the first one. Throws xgrad::Error otherwise.
  SequentialLR(Optimizer& optimizer, std::vector<std::shared_ptr<LRScheduler>> schedulers,
               std::vector<std::int64_t> milestones);
  void step() override;
  /// Not supported (throws xgrad::Error): SequentialLR only moves forward.
  void step(std::int64_t epoch) override;
  TensorDict state_dict() const override;
  void load_state_dict(const TensorDict& dict) override;

 protected:
  std::vector<double> get_lr(std::int64_t) const override { return last_lr_; }

 private:
  std::vector<std::shared_ptr<LRScheduler>> schedulers_;
  std::vector<std::int64_t> milestones_;
};

enum class PlateauMode { min, max };
enum class ThresholdMode { rel, abs };

/// min_lr: one value for all groups, or one per group. Checked by ReduceLROnPlateau.
struct ReduceLROnPlateauOptions {
#define XGRAD_OPTIM_PLATEAU_FIELDS(X)                                         \
  X(PlateauMode, mode, PlateauMode::min, ::xgrad::options::any)               \
  X(double, factor, 0.1, ::xgrad::options::any)                               \
  X(std::int64_t, patience, 10, ::xgrad::options::any)                        \
  X(double, threshold, 1e-4, ::xgrad::options::any)                           \
  X(ThresholdMode, threshold_mode, ThresholdMode::rel, ::xgrad::options::any) \
  X(std::int64_t, cooldown, 0, ::xgrad::options::any)                         \
  X(std::vector<double>, min_lr, {0.0}, ::xgrad::options::any)                \
  X(double, eps, 1e-8, ::xgrad::options::any)
  XGRAD_OPTIONS(ReduceLROnPlateauOptions, XGRAD_OPTIM_PLATEAU_FIELDS)
};

/// Reduces the lr when a metric stops improving (torch.optim.lr_scheduler.ReduceLROnPlateau):
///   better(a): min/rel: a < best * (1 - threshold); min/abs: a < best - threshold;
///              max/rel: a > best * (1 + threshold); max/abs: a > best + threshold.
///   Each step(metric): bad epochs reset on improvement, else +1; during cooldown they are
///   forced to 0; when bad epochs > patience every group's lr becomes
///   max(lr * factor, min_lr) (kept when the change is <= eps) and cooldown restarts.
class ReduceLROnPlateau {
 public:
  /// Throws xgrad::Error: factor >= 1 or < 0, negative patience/cooldown/threshold/eps/min_lr,
  /// min_lr count neither 1 nor the number of groups.
  explicit ReduceLROnPlateau(Optimizer& optimizer, const ReduceLROnPlateauOptions& options = {});
  void step(double metric);
  const std::vector<double>& get_last_lr() const { return last_lr_; }
  std::int64_t last_epoch() const { return last_epoch_; }
  double best() const { return best_; }
  std::int64_t num_bad_epochs() const { return num_bad_epochs_; }
  TensorDict state_dict() const;
  void load_state_dict(const TensorDict& dict);

 private:
  bool is_better(double a) const;
  Optimizer& optimizer_;
  ReduceLROnPlateauOptions options_;
  std::vector<double> min_lrs_;
  std::vector<double> last_lr_;
  double best_;
  std::int64_t num_bad_epochs_ = 0;
  std::int64_t cooldown_counter_ = 0;
  std::int64_t last_epoch_ = 0;
};

}  // namespace xgrad::optim
