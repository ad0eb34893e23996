#include "xgrad/optim/lr_scheduler.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include "xgrad/autograd/factories.hpp"

namespace xgrad::optim {

namespace {

Tensor scalar64(double v) { return scalar_tensor(v, dtype(float64)); }

double read_scalar(const TensorDict& dict, const std::string& key, std::string_view op) {
  auto it = dict.find(key);
  if (it == dict.end()) throw Error(fmt::format("{}: load_state_dict: missing key '{}'", op, key));
  if (!it->second.defined() || it->second.numel() != 1) {
    throw Error(fmt::format("{}: load_state_dict: '{}' must hold one number", op, key));
  }
  return it->second.item<double>();
}

std::vector<double> read_list(const TensorDict& dict, const std::string& prefix, std::size_t n, std::string_view op) {
  std::vector<double> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(read_scalar(dict, fmt::format("{}.{}", prefix, i), op));
  if (dict.count(fmt::format("{}.{}", prefix, n))) {
    throw Error(
        fmt::format("{}: load_state_dict: the state dict has more than {} entries '{}.*' (one per parameter "
                    "group)",
                    op, n, prefix));
  }
  return out;
}

void check_gamma(std::string_view op, double gamma) {
  if (!(gamma >= 0.0)) throw Error(fmt::format("{}: invalid gamma {} (must be >= 0)", op, gamma));
}

}  // namespace

// ---- LRScheduler -------------------------------------------------------------------------

LRScheduler::LRScheduler(Optimizer& optimizer) : optimizer_(optimizer) {
  for (auto& group : optimizer_.param_groups()) {
    if (!group.initial_lr()) group.initial_lr() = group.options().get_lr();
    base_lrs_.push_back(*group.initial_lr());
  }
}

void LRScheduler::apply(const std::vector<double>& lrs) {
  auto& groups = optimizer_.param_groups();
  for (std::size_t g = 0; g < groups.size() && g < lrs.size(); ++g) groups[g].options().set_lr(lrs[g]);
  last_lr_ = lrs;
}

void LRScheduler::step() { step(last_epoch_ + 1); }

void LRScheduler::step(std::int64_t epoch) {
  std::vector<double> lrs = get_lr(epoch);
  last_epoch_ = epoch;
  apply(lrs);
  after_step();
}

TensorDict LRScheduler::state_dict() const {
  TensorDict out;
  out["last_epoch"] = scalar64(static_cast<double>(last_epoch_));
  for (std::size_t g = 0; g < base_lrs_.size(); ++g) out[fmt::format("base_lrs.{}", g)] = scalar64(base_lrs_[g]);
  for (std::size_t g = 0; g < last_lr_.size(); ++g) out[fmt::format("last_lr.{}", g)] = scalar64(last_lr_[g]);
  return out;
}

void LRScheduler::load_state_dict(const TensorDict& dict) {
  const std::string_view op = "LRScheduler";
  const std::size_t n = optimizer_.param_groups().size();
  const auto last_epoch = static_cast<std::int64_t>(std::llround(read_scalar(dict, "last_epoch", op)));
  auto base = read_list(dict, "base_lrs", n, op);
  auto last = read_list(dict, "last_lr", n, op);
  last_epoch_ = last_epoch;
  base_lrs_ = std::move(base);
  last_lr_ = std::move(last);
}

// ---- closed-form schedulers --------------------------------------------------------------

StepLR::StepLR(Optimizer& optimizer, std::int64_t step_size, double gamma)
    : LRScheduler(optimizer), step_size_(step_size), gamma_(gamma) {
  if (step_size < 1) throw Error(fmt::format("StepLR: invalid step_size {} (must be >= 1)", step_size));
  check_gamma("StepLR", gamma);
  initial_step();
}

std::vector<double> StepLR::get_lr(std::int64_t epoch) const {
  std::vector<double> out;
  const double k = static_cast<double>(epoch / step_size_);
  for (double b : base_lrs_) out.push_back(b * std::pow(gamma_, k));
  return out;
}

MultiStepLR::MultiStepLR(Optimizer& optimizer, std::vector<std::int64_t> milestones, double gamma)
    : LRScheduler(optimizer), milestones_(std::move(milestones)), gamma_(gamma) {
  check_gamma("MultiStepLR", gamma);
  std::sort(milestones_.begin(), milestones_.end());
  initial_step();
}

std::vector<double> MultiStepLR::get_lr(std::int64_t epoch) const {
  const auto k = std::upper_bound(milestones_.begin(), milestones_.end(), epoch) - milestones_.begin();
  std::vector<double> out;
  for (double b : base_lrs_) out.push_back(b * std::pow(gamma_, static_cast<double>(k)));
  return out;
}

ExponentialLR::ExponentialLR(Optimizer& optimizer, double gamma) : LRScheduler(optimizer), gamma_(gamma) {
  check_gamma("ExponentialLR", gamma);
  initial_step();
}

std::vector<double> ExponentialLR::get_lr(std::int64_t epoch) const {
  std::vector<double> out;
  for (double b : base_lrs_) out.push_back(b * std::pow(gamma_, static_cast<double>(epoch)));
  return out;
}

CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, std::int64_t T_max, double eta_min)
    : LRScheduler(optimizer), T_max_(T_max), eta_min_(eta_min) {
  if (T_max < 1) throw Error(fmt::format("CosineAnnealingLR: invalid T_max {} (must be >= 1)", T_max));
  if (!(eta_min >= 0.0)) throw Error(fmt::format("CosineAnnealingLR: invalid eta_min {} (must be >= 0)", eta_min));
  initial_step();
}

std::vector<double> CosineAnnealingLR::get_lr(std::int64_t epoch) const {
  std::vector<double> out;
  const double c = std::cos(std::numbers::pi * static_cast<double>(epoch) / static_cast<double>(T_max_));
  for (double b : base_lrs_) out.push_back(eta_min_ + (b - eta_min_) * (1.0 + c) / 2.0);
  return out;
}

LinearLR::LinearLR(Optimizer& optimizer, double start_factor, double end_factor, std::int64_t total_iters)
    : LRScheduler(optimizer), start_factor_(start_factor), end_factor_(end_factor), total_iters_(total_iters) {
  if (!(start_factor > 0.0 && start_factor <= 1.0)) {
    throw Error(fmt::format("LinearLR: invalid start_factor {} (must be in (0, 1])", start_factor));
  }
  if (!(end_factor >= 0.0 && end_factor <= 1.0)) {
    throw Error(fmt::format("LinearLR: invalid end_factor {} (must be in [0, 1])", end_factor));
  }
  if (total_iters < 1) throw Error(fmt::format("LinearLR: invalid total_iters {} (must be >= 1)", total_iters));
  initial_step();
}

std::vector<double> LinearLR::get_lr(std::int64_t epoch) const {
  std::vector<double> out;
  const double f = start_factor_ + (end_factor_ - start_factor_) * static_cast<double>(std::min(total_iters_, epoch)) /
                                       static_cast<double>(total_iters_);
  for (double b : base_lrs_) out.push_back(b * f);
  return out;
}

LambdaLR::LambdaLR(Optimizer& optimizer, std::function<double(std::int64_t)> fn)
    : LRScheduler(optimizer), fn_(std::move(fn)) {
  if (!fn_) throw Error("LambdaLR: the lr lambda is empty");
  initial_step();
}

std::vector<double> LambdaLR::get_lr(std::int64_t epoch) const {
  std::vector<double> out;
  const double f = fn_(epoch);
  for (double b : base_lrs_) out.push_back(b * f);
  return out;
}

// ---- OneCycleLR ----------------------------------------------------------------------------

OneCycleLR::OneCycleLR(Optimizer& optimizer, const OneCycleLROptions& options)
    : LRScheduler(optimizer), options_(options) {
  const auto& o = options_;
  const std::size_t n = optimizer.param_groups().size();
  if (o.total_steps() < 1) {
    throw Error(fmt::format("OneCycleLR: invalid total_steps {} (must be >= 1)", o.total_steps()));
  }
  if (!(o.pct_start() >= 0.0 && o.pct_start() <= 1.0)) {
    throw Error(fmt::format("OneCycleLR: invalid pct_start {} (must be in [0, 1])", o.pct_start()));
  }
  if (o.max_lr().size() != 1 && o.max_lr().size() != n) {
    throw Error(fmt::format("OneCycleLR: expected 1 or {} max_lr values (one per parameter group), got {}", n,
                            o.max_lr().size()));
  }
  if (!(o.div_factor() > 0.0) || !(o.final_div_factor() > 0.0)) {
    throw Error(fmt::format("OneCycleLR: div_factor {} and final_div_factor {} must be > 0", o.div_factor(),
                            o.final_div_factor()));
  }
  std::vector<double> initial(n), max(n), min(n);
  for (std::size_t g = 0; g < n; ++g) {
    max[g] = o.max_lr()[o.max_lr().size() == 1 ? 0 : g];
    if (!(max[g] >= 0.0)) throw Error(fmt::format("OneCycleLR: invalid max_lr {} (must be >= 0)", max[g]));
    initial[g] = max[g] / o.div_factor();
    min[g] = initial[g] / o.final_div_factor();
    optimizer.param_groups()[g].initial_lr() = initial[g];
  }
  base_lrs_ = initial;
  const double total = static_cast<double>(o.total_steps());
  const double mmax = o.max_momentum(), mbase = o.base_momentum();
  if (o.three_phase()) {
    phases_ = {{o.pct_start() * total - 1.0, initial, max, mmax, mbase},
               {2.0 * o.pct_start() * total - 2.0, max, initial, mbase, mmax},
               {total - 1.0, initial, min, mmax, mmax}};
  } else {
    phases_ = {{o.pct_start() * total - 1.0, initial, max, mmax, mbase}, {total - 1.0, max, min, mbase, mmax}};
  }
  if (o.cycle_momentum()) {
    for (auto& group : optimizer.param_groups()) {
      if (!group.options().get_momentum()) {
        throw Error(
            fmt::format("OneCycleLR: cycle_momentum needs an optimizer with momentum or beta1, {} has "
                        "neither (pass cycle_momentum(false))",
                        optimizer.name()));
      }
    }
  }
  initial_step();
}

double OneCycleLR::anneal(double start, double end, double pct) const {
  if (options_.anneal_strategy() == AnnealStrategy::cos) {
    const double cos_out = std::cos(std::numbers::pi * pct) + 1.0;
    return end + (start - end) / 2.0 * cos_out;
  }
  return (end - start) * pct + start;
}

std::pair<const OneCycleLR::Phase*, double> OneCycleLR::locate(std::int64_t epoch) const {
  if (epoch > options_.total_steps()) {
    throw Error(fmt::format("OneCycleLR: tried to step {} times; the specified number of total steps is {}", epoch,
                            options_.total_steps()));
  }
  const double step_num = static_cast<double>(epoch);
  double start_step = 0.0;
  for (std::size_t i = 0; i < phases_.size(); ++i) {
    const double end_step = phases_[i].end_step;
    if (step_num <= end_step || i + 1 == phases_.size()) {
      return {&phases_[i], (step_num - start_step) / (end_step - start_step)};
    }
    start_step = end_step;
  }
  return {&phases_.back(), 1.0};  // unreachable: the last phase always matches
}

std::vector<double> OneCycleLR::get_lr(std::int64_t epoch) const {
  const auto [phase, pct] = locate(epoch);
  std::vector<double> out;
  for (std::size_t g = 0; g < phase->start_lr.size(); ++g)
    out.push_back(anneal(phase->start_lr[g], phase->end_lr[g], pct));
  return out;
}

void OneCycleLR::after_step() {
  if (!options_.cycle_momentum()) return;
  const auto [phase, pct] = locate(last_epoch_);
  const double m = anneal(phase->start_momentum, phase->end_momentum, pct);
  for (auto& group : optimizer_.param_groups()) group.options().set_momentum(m);
}

// ---- SequentialLR --------------------------------------------------------------------------

SequentialLR::SequentialLR(Optimizer& optimizer, std::vector<std::shared_ptr<LRScheduler>> schedulers,
                           std::vector<std::int64_t> milestones)
    : LRScheduler(optimizer), schedulers_(std::move(schedulers)), milestones_(std::move(milestones)) {
  if (schedulers_.empty()) throw Error("SequentialLR: expected at least one scheduler");
  if (milestones_.size() + 1 != schedulers_.size()) {
    throw Error(fmt::format("SequentialLR: expected {} milestones for {} schedulers, got {}", schedulers_.size() - 1,
                            schedulers_.size(), milestones_.size()));
  }
  for (std::size_t k = 0; k < schedulers_.size(); ++k) {
    if (!schedulers_[k]) throw Error(fmt::format("SequentialLR: scheduler {} is null", k));
    if (&schedulers_[k]->optimizer() != &optimizer) {
      throw Error(fmt::format("SequentialLR: scheduler {} belongs to another optimizer", k));
    }
  }
  for (std::size_t k = 1; k < milestones_.size(); ++k) {
    if (milestones_[k] <= milestones_[k - 1]) {
      throw Error(fmt::format("SequentialLR: milestones must increase, got {}", fmt::join(milestones_, ", ")));
    }
  }
  // Reset the lr to its initial value, undo the schedulers' initial steps, start the first one.
  for (auto& group : optimizer.param_groups()) group.options().set_lr(*group.initial_lr());
  for (auto& s : schedulers_) s->last_epoch_ -= 1;
  schedulers_[0]->initial_step();
  last_epoch_ = 0;
  last_lr_ = schedulers_[0]->get_last_lr();
}

void SequentialLR::step() {
  last_epoch_ += 1;
  const auto idx = static_cast<std::size_t>(std::upper_bound(milestones_.begin(), milestones_.end(), last_epoch_) -
                                            milestones_.begin());
  auto& scheduler = schedulers_[idx];
  if (idx > 0 && milestones_[idx - 1] == last_epoch_) {
    scheduler->step(0);
  } else {
    scheduler->step();
  }
  last_lr_ = scheduler->get_last_lr();
}

void SequentialLR::step(std::int64_t epoch) {
  throw Error(fmt::format("SequentialLR: step({}) is not supported; call step() once per epoch", epoch));
}

TensorDict SequentialLR::state_dict() const {
  TensorDict out = LRScheduler::state_dict();
  for (std::size_t k = 0; k < schedulers_.size(); ++k) {
    for (auto& [key, value] : schedulers_[k]->state_dict()) out[fmt::format("schedulers.{}.{}", k, key)] = value;
  }
  return out;
}

void SequentialLR::load_state_dict(const TensorDict& dict) {
  std::vector<TensorDict> parts(schedulers_.size());
  for (const auto& [key, value] : dict) {
    if (key.rfind("schedulers.", 0) != 0) continue;
    const auto dot = key.find('.', 11);
    std::size_t k = schedulers_.size();
    try {
      k = std::stoull(key.substr(11, dot - 11));
    } catch (const std::exception&) {
    }
    if (k >= schedulers_.size() || dot == std::string::npos) {
      throw Error(fmt::format("SequentialLR: load_state_dict: unexpected key '{}'", key));
    }
    parts[k][key.substr(dot + 1)] = value;
  }
  LRScheduler::load_state_dict(dict);
  for (std::size_t k = 0; k < schedulers_.size(); ++k) schedulers_[k]->load_state_dict(parts[k]);
}

// ---- ReduceLROnPlateau ---------------------------------------------------------------------

ReduceLROnPlateau::ReduceLROnPlateau(Optimizer& optimizer, const ReduceLROnPlateauOptions& options)
    : optimizer_(optimizer), options_(options) {
  const auto& o = options_;
  const std::size_t n = optimizer.param_groups().size();
  if (!(o.factor() >= 0.0 && o.factor() < 1.0)) {
    throw Error(fmt::format("ReduceLROnPlateau: invalid factor {} (must be in [0, 1))", o.factor()));
  }
  if (o.patience() < 0) throw Error(fmt::format("ReduceLROnPlateau: invalid patience {} (must be >= 0)", o.patience()));
  if (o.cooldown() < 0) throw Error(fmt::format("ReduceLROnPlateau: invalid cooldown {} (must be >= 0)", o.cooldown()));
  if (!(o.threshold() >= 0.0)) {
    throw Error(fmt::format("ReduceLROnPlateau: invalid threshold {} (must be >= 0)", o.threshold()));
  }
  if (!(o.eps() >= 0.0)) throw Error(fmt::format("ReduceLROnPlateau: invalid eps {} (must be >= 0)", o.eps()));
  if (o.min_lr().size() != 1 && o.min_lr().size() != n) {
    throw Error(fmt::format("ReduceLROnPlateau: expected 1 or {} min_lr values (one per parameter group), got {}", n,
                            o.min_lr().size()));
  }
  for (std::size_t g = 0; g < n; ++g) {
    min_lrs_.push_back(o.min_lr()[o.min_lr().size() == 1 ? 0 : g]);
    if (!(min_lrs_.back() >= 0.0)) {
      throw Error(fmt::format("ReduceLROnPlateau: invalid min_lr {} (must be >= 0)", min_lrs_.back()));
    }
    last_lr_.push_back(optimizer.param_groups()[g].options().get_lr());
  }
  best_ =
      o.mode() == PlateauMode::min ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
}

bool ReduceLROnPlateau::is_better(double a) const {
  const double th = options_.threshold();
  const bool rel = options_.threshold_mode() == ThresholdMode::rel;
  if (options_.mode() == PlateauMode::min) return rel ? a < best_ * (1.0 - th) : a < best_ - th;
  return rel ? a > best_ * (th + 1.0) : a > best_ + th;
}

void ReduceLROnPlateau::step(double metric) {
  last_epoch_ += 1;
  if (is_better(metric)) {
    best_ = metric;
    num_bad_epochs_ = 0;
  } else {
    num_bad_epochs_ += 1;
  }
  if (cooldown_counter_ > 0) {  // in cooldown: ignore bad epochs
    cooldown_counter_ -= 1;
    num_bad_epochs_ = 0;
  }
  auto& groups = optimizer_.param_groups();
  if (num_bad_epochs_ > options_.patience()) {
    for (std::size_t g = 0; g < groups.size(); ++g) {
      const double old_lr = groups[g].options().get_lr();
      const double new_lr = std::max(old_lr * options_.factor(), min_lrs_[g]);
      if (old_lr - new_lr > options_.eps()) groups[g].options().set_lr(new_lr);
    }
    cooldown_counter_ = options_.cooldown();
    num_bad_epochs_ = 0;
  }
  for (std::size_t g = 0; g < groups.size(); ++g) last_lr_[g] = groups[g].options().get_lr();
}

TensorDict ReduceLROnPlateau::state_dict() const {
  TensorDict out;
  out["last_epoch"] = scalar64(static_cast<double>(last_epoch_));
  out["best"] = scalar64(best_);
  out["num_bad_epochs"] = scalar64(static_cast<double>(num_bad_epochs_));
  out["cooldown_counter"] = scalar64(static_cast<double>(cooldown_counter_));
  for (std::size_t g = 0; g < last_lr_.size(); ++g) out[fmt::format("last_lr.{}", g)] = scalar64(last_lr_[g]);
  return out;
}

void ReduceLROnPlateau::load_state_dict(const TensorDict& dict) {
  const std::string_view op = "ReduceLROnPlateau";
  const auto to_int = [](double v) { return static_cast<std::int64_t>(std::llround(v)); };
  const std::int64_t last_epoch = to_int(read_scalar(dict, "last_epoch", op));
  const double best = read_scalar(dict, "best", op);
  const std::int64_t bad = to_int(read_scalar(dict, "num_bad_epochs", op));
  const std::int64_t cooldown = to_int(read_scalar(dict, "cooldown_counter", op));
  auto last = read_list(dict, "last_lr", optimizer_.param_groups().size(), op);
  last_epoch_ = last_epoch;
  best_ = best;
  num_bad_epochs_ = bad;
  cooldown_counter_ = cooldown;
  last_lr_ = std::move(last);
}

}  // namespace xgrad::optim
