// LR schedulers: each sequence over 100 steps against its closed form, state dicts, errors.
#include <numbers>

#include "optim_test_util.hpp"

using namespace xgrad;
using namespace xgrad::test;
namespace o = xgrad::optim;

namespace {

/// An SGD with two groups (lr 0.1 and 0.05) over dummy parameters.
struct Fixture {
  Tensor a = zeros({1}, dtype(float64)).requires_grad_(true);
  Tensor b = zeros({1}, dtype(float64)).requires_grad_(true);
  o::SGD opt{std::vector<o::ParamGroup>{o::ParamGroup({a}), o::ParamGroup({b}, o::SGDOptions(0.05))},
             o::SGDOptions(0.1).momentum(0.9)};
  Vec lrs() const { return {opt.param_groups()[0].options().get_lr(), opt.param_groups()[1].options().get_lr()}; }
};

const Vec kBase = {0.1, 0.05};

/// Checks lr(t) = f(base, t) for t = 0 (after construction) .. 100.
void check_sequence(Fixture& fx, o::LRScheduler& s, const std::function<double(double, int)>& f,
                    const std::string& label) {
  double worst = 0;
  int worst_t = 0;
  for (int t = 0; t <= 100; ++t) {
    if (t > 0) s.step();
    BOOST_REQUIRE_EQUAL(s.last_epoch(), t);
    const Vec got = fx.lrs();
    for (std::size_t g = 0; g < 2; ++g) {
      const double want = f(kBase[g], t);
      const double err = std::fabs(got[g] - want) / std::max(std::fabs(want), 1e-300);
      if (err > worst) worst = err, worst_t = t;
      BOOST_REQUIRE_EQUAL(s.get_last_lr()[g], got[g]);
    }
  }
  BOOST_CHECK_MESSAGE(worst <= 1e-14, label << ": relative error " << worst << " at t = " << worst_t);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(lr_scheduler)

BOOST_AUTO_TEST_CASE(step_lr) {
  Fixture fx;
  o::StepLR s(fx.opt, 7, 0.5);
  check_sequence(
      fx, s, [](double b, int t) { return b * std::pow(0.5, t / 7); }, "StepLR");
}

BOOST_AUTO_TEST_CASE(multi_step_lr) {
  Fixture fx;
  o::MultiStepLR s(fx.opt, {30, 10, 60, 60}, 0.1);  // unsorted; 60 twice counts twice
  check_sequence(
      fx, s, [](double b, int t) { return b * std::pow(0.1, (t >= 10) + (t >= 30) + 2 * (t >= 60)); }, "MultiStepLR");
}

BOOST_AUTO_TEST_CASE(exponential_lr) {
  Fixture fx;
  o::ExponentialLR s(fx.opt, 0.97);
  check_sequence(
      fx, s, [](double b, int t) { return b * std::pow(0.97, t); }, "ExponentialLR");
}

BOOST_AUTO_TEST_CASE(cosine_annealing_lr) {
  Fixture fx;
  o::CosineAnnealingLR s(fx.opt, 30, 0.001);
  check_sequence(
      fx, s, [](double b, int t) { return 0.001 + (b - 0.001) * (1 + std::cos(std::numbers::pi * t / 30.0)) / 2; },
      "CosineAnnealingLR");
}

BOOST_AUTO_TEST_CASE(linear_lr) {
  {
    Fixture fx;
    o::LinearLR s(fx.opt);  // warm-up from base / 3 to base over 5 steps
    check_sequence(
        fx, s, [](double b, int t) { return b * (1.0 / 3 + (1 - 1.0 / 3) * std::min(t, 5) / 5.0); }, "LinearLR");
  }
  {
    Fixture fx;
    o::LinearLR s(fx.opt, 1.0, 0.1, 20);  // decay
    check_sequence(
        fx, s, [](double b, int t) { return b * (1.0 + (0.1 - 1.0) * std::min(t, 20) / 20.0); }, "LinearLR decay");
  }
}

BOOST_AUTO_TEST_CASE(lambda_lr) {
  Fixture fx;
  o::LambdaLR s(fx.opt, [](std::int64_t t) { return 1.0 / (1.0 + static_cast<double>(t)); });
  check_sequence(
      fx, s, [](double b, int t) { return b / (1.0 + t); }, "LambdaLR");
}

BOOST_AUTO_TEST_CASE(one_cycle_lr_two_phases_cos_with_momentum) {
  Fixture fx;
  o::OneCycleLR s(fx.opt, o::OneCycleLROptions(Vec{1.0, 0.5}, 100));
  // initial = max / 25, min = initial / 1e4; phase 1 ends at step 0.3 * 100 - 1 = 29.
  auto cos_anneal = [](double a, double b, double pct) {
    return b + (a - b) / 2 * (1 + std::cos(std::numbers::pi * pct));
  };
  for (int t = 0; t <= 100; ++t) {
    if (t > 0) s.step();
    for (std::size_t g = 0; g < 2; ++g) {
      const double max = g == 0 ? 1.0 : 0.5, init = max / 25, min = init / 1e4;
      const double want = t <= 29 ? cos_anneal(init, max, t / 29.0) : cos_anneal(max, min, (t - 29) / 70.0);
      BOOST_CHECK_CLOSE(fx.opt.param_groups()[g].options().get_lr(), want, 1e-12);
      const double mom = t <= 29 ? cos_anneal(0.95, 0.85, t / 29.0) : cos_anneal(0.85, 0.95, (t - 29) / 70.0);
      BOOST_CHECK_CLOSE(*fx.opt.param_groups()[g].options().get_momentum(), mom, 1e-12);
    }
  }
  XGRAD_CHECK_THROW_MSG(s.step(), "OneCycleLR: tried to step 101 times; the specified number of total steps is 100");
}

BOOST_AUTO_TEST_CASE(one_cycle_lr_three_phase_linear) {
  Tensor x = zeros({1}).requires_grad_(true);
  o::Adam opt({x}, o::AdamOptions(0.1));
  o::OneCycleLR s(
      opt, o::OneCycleLROptions(2.0, 100).three_phase(true).anneal_strategy(o::AnnealStrategy::linear).pct_start(0.25));
  // Phases end at 24, 48, 99: initial -> max -> initial -> min, linear; beta1 0.95 -> 0.85 -> 0.95.
  const double max = 2.0, init = max / 25, min = init / 1e4;
  auto lin = [](double a, double b, double pct) { return (b - a) * pct + a; };
  for (int t = 0; t <= 99; ++t) {
    if (t > 0) s.step();
    double want, mom;
    if (t <= 24) {
      want = lin(init, max, t / 24.0), mom = lin(0.95, 0.85, t / 24.0);
    } else if (t <= 48) {
      want = lin(max, init, (t - 24) / 24.0), mom = lin(0.85, 0.95, (t - 24) / 24.0);
    } else {
      want = lin(init, min, (t - 48) / 51.0), mom = 0.95;
    }
    BOOST_CHECK_CLOSE(opt.param_groups()[0].options().get_lr(), want, 1e-12);
    BOOST_CHECK_CLOSE(static_cast<const o::AdamOptions&>(opt.param_groups()[0].options()).betas().first, mom, 1e-12);
  }
}

BOOST_AUTO_TEST_CASE(sequential_lr_warmup_then_cosine) {
  Fixture fx;
  auto warm = std::make_shared<o::LinearLR>(fx.opt, 0.1, 1.0, 5);
  auto cosine = std::make_shared<o::CosineAnnealingLR>(fx.opt, 95);
  o::SequentialLR s(fx.opt, {warm, cosine}, {5});
  check_sequence(
      fx, s,
      [](double b, int t) {
        return t < 5 ? b * (0.1 + 0.9 * t / 5.0) : b * (1 + std::cos(std::numbers::pi * (t - 5) / 95.0)) / 2;
      },
      "SequentialLR");
  XGRAD_CHECK_THROW_MSG(s.step(3), "SequentialLR: step(3) is not supported");
}

BOOST_AUTO_TEST_CASE(reduce_on_plateau_min_rel_with_cooldown_and_min_lr) {
  // factor 0.5, patience 2, threshold 10% (rel), cooldown 1, min_lr 0.2; derivation:
  // e1 best 10 | e2-e4 not < 9: bad 1, 2, 3 > 2 -> lr 0.5, cooldown | e5 cooldown: bad 0 |
  // e6 8 < 9: best 8 | e7-e9 bad 1, 2, 3 -> 0.25 | e10 cooldown | e11-e13 -> max(0.125, 0.2) = 0.2 |
  // e14 cooldown | e15-e17 -> max(0.1, 0.2) = 0.2: unchanged.
  Tensor x = zeros({1}).requires_grad_(true);
  o::SGD opt({x}, o::SGDOptions(1.0));
  o::ReduceLROnPlateau s(
      opt, o::ReduceLROnPlateauOptions().factor(0.5).patience(2).threshold(0.1).cooldown(1).min_lr({0.2}));
  const Vec metrics = {10, 9.5, 9.2, 9.1, 9.0, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8};
  const Vec want = {1, 1, 1, .5, .5, .5, .5, .5, .25, .25, .25, .25, .2, .2, .2, .2, .2};
  for (std::size_t e = 0; e < metrics.size(); ++e) {
    s.step(metrics[e]);
    BOOST_CHECK_MESSAGE(opt.param_groups()[0].options().get_lr() == want[e],
                        "epoch " << e + 1 << ": lr " << opt.param_groups()[0].options().get_lr() << " != " << want[e]);
  }
  BOOST_CHECK_EQUAL(s.best(), 8.0);
  BOOST_CHECK_EQUAL(s.last_epoch(), 17);
}

BOOST_AUTO_TEST_CASE(reduce_on_plateau_max_abs) {
  // max/abs threshold 1, patience 0: e1 best 1; e2 1.5 is not > 2 -> lr * 0.1; e3 2.5 > 2: best.
  Tensor x = zeros({1}).requires_grad_(true);
  o::SGD opt({x}, o::SGDOptions(1.0));
  o::ReduceLROnPlateau s(opt, o::ReduceLROnPlateauOptions()
                                  .mode(o::PlateauMode::max)
                                  .threshold_mode(o::ThresholdMode::abs)
                                  .threshold(1.0)
                                  .patience(0));
  s.step(1.0);
  BOOST_CHECK_EQUAL(opt.param_groups()[0].options().get_lr(), 1.0);
  s.step(1.5);
  BOOST_CHECK_CLOSE(opt.param_groups()[0].options().get_lr(), 0.1, 1e-13);
  s.step(2.5);
  BOOST_CHECK_EQUAL(s.best(), 2.5);
  BOOST_CHECK_EQUAL(s.num_bad_epochs(), 0);
}

BOOST_AUTO_TEST_CASE(state_dict_resumes_the_schedule) {
  // Step 13 times, save optimizer + scheduler, restore into fresh objects, continue: same lrs.
  Fixture fx;
  auto warm = std::make_shared<o::LinearLR>(fx.opt, 0.2, 1.0, 4);
  auto step = std::make_shared<o::StepLR>(fx.opt, 5, 0.5);
  o::SequentialLR s(fx.opt, {warm, step}, {4});
  for (int t = 0; t < 13; ++t) s.step();
  const TensorDict opt_sd = fx.opt.state_dict(), sched_sd = s.state_dict();
  BOOST_CHECK_EQUAL(sched_sd.at("last_epoch").item<double>(), 13.0);
  BOOST_CHECK(sched_sd.count("schedulers.1.base_lrs.0"));

  Fixture fy;
  auto warm2 = std::make_shared<o::LinearLR>(fy.opt, 0.2, 1.0, 4);
  auto step2 = std::make_shared<o::StepLR>(fy.opt, 5, 0.5);
  o::SequentialLR s2(fy.opt, {warm2, step2}, {4});
  fy.opt.load_state_dict(opt_sd);
  s2.load_state_dict(sched_sd);
  BOOST_CHECK(fy.lrs() == fx.lrs());
  for (int t = 0; t < 20; ++t) {
    s.step();
    s2.step();
    BOOST_CHECK(fy.lrs() == fx.lrs());
  }

  Tensor x = zeros({1}).requires_grad_(true), y = zeros({1}).requires_grad_(true);
  o::SGD oa({x}, o::SGDOptions(1.0)), ob({y}, o::SGDOptions(1.0));
  o::ReduceLROnPlateau pa(oa, o::ReduceLROnPlateauOptions().patience(1).cooldown(2));
  o::ReduceLROnPlateau pb(ob, o::ReduceLROnPlateauOptions().patience(1).cooldown(2));
  for (double m : {5.0, 4.0, 4.0, 4.0}) pa.step(m);
  ob.load_state_dict(oa.state_dict());
  pb.load_state_dict(pa.state_dict());
  for (double m : {4.0, 4.0, 3.0, 3.0, 3.0, 3.0, 3.0}) {
    pa.step(m);
    pb.step(m);
    BOOST_CHECK_EQUAL(oa.param_groups()[0].options().get_lr(), ob.param_groups()[0].options().get_lr());
  }
  BOOST_CHECK_LT(oa.param_groups()[0].options().get_lr(), 0.02);  // it did reduce (twice)
}

BOOST_AUTO_TEST_CASE(a_second_scheduler_keeps_the_initial_lr_as_base) {
  Fixture fx;
  o::ExponentialLR first(fx.opt, 0.5);
  first.step();
  o::StepLR second(fx.opt, 10);  // base = initial_lr, not the decayed lr
  BOOST_CHECK(second.base_lrs() == kBase);
}

BOOST_AUTO_TEST_CASE(errors) {
  Fixture fx;
  XGRAD_CHECK_THROW_MSG(o::StepLR(fx.opt, 0), "StepLR: invalid step_size 0");
  XGRAD_CHECK_THROW_MSG(o::StepLR(fx.opt, 3, -0.1), "StepLR: invalid gamma -0.1");
  XGRAD_CHECK_THROW_MSG(o::MultiStepLR(fx.opt, {1}, -1), "MultiStepLR: invalid gamma -1");
  XGRAD_CHECK_THROW_MSG(o::ExponentialLR(fx.opt, -0.5), "ExponentialLR: invalid gamma -0.5");
  XGRAD_CHECK_THROW_MSG(o::CosineAnnealingLR(fx.opt, 0), "CosineAnnealingLR: invalid T_max 0");
  XGRAD_CHECK_THROW_MSG(o::CosineAnnealingLR(fx.opt, 10, -1), "CosineAnnealingLR: invalid eta_min -1");
  XGRAD_CHECK_THROW_MSG(o::LinearLR(fx.opt, 0.0), "LinearLR: invalid start_factor 0");
  XGRAD_CHECK_THROW_MSG(o::LinearLR(fx.opt, 1.5), "LinearLR: invalid start_factor 1.5");
  XGRAD_CHECK_THROW_MSG(o::LinearLR(fx.opt, 0.5, 2.0), "LinearLR: invalid end_factor 2");
  XGRAD_CHECK_THROW_MSG(o::LinearLR(fx.opt, 0.5, 1.0, 0), "LinearLR: invalid total_iters 0");
  XGRAD_CHECK_THROW_MSG(o::LambdaLR(fx.opt, nullptr), "LambdaLR: the lr lambda is empty");
  XGRAD_CHECK_THROW_MSG(o::OneCycleLR(fx.opt, o::OneCycleLROptions(1.0, 0)), "OneCycleLR: invalid total_steps 0");
  XGRAD_CHECK_THROW_MSG(o::OneCycleLR(fx.opt, o::OneCycleLROptions(1.0, 10).pct_start(1.5)),
                        "OneCycleLR: invalid pct_start 1.5");
  XGRAD_CHECK_THROW_MSG(o::OneCycleLR(fx.opt, o::OneCycleLROptions(Vec{1, 2, 3}, 10)),
                        "OneCycleLR: expected 1 or 2 max_lr values");
  Tensor x = zeros({1}).requires_grad_(true);
  o::Adagrad adagrad({x});
  XGRAD_CHECK_THROW_MSG(o::OneCycleLR(adagrad, o::OneCycleLROptions(1.0, 10)),
                        "OneCycleLR: cycle_momentum needs an optimizer with momentum or beta1, Adagrad has neither");
  auto a = std::make_shared<o::StepLR>(fx.opt, 3);
  auto b = std::make_shared<o::StepLR>(fx.opt, 3);
  auto c = std::make_shared<o::StepLR>(fx.opt, 3);
  XGRAD_CHECK_THROW_MSG(o::SequentialLR(fx.opt, {a, b}, {}), "SequentialLR: expected 1 milestones for 2 schedulers");
  XGRAD_CHECK_THROW_MSG(o::SequentialLR(fx.opt, {a, b, c}, {5, 5}), "SequentialLR: milestones must increase");
  auto other = std::make_shared<o::StepLR>(adagrad, 3);
  XGRAD_CHECK_THROW_MSG(o::SequentialLR(fx.opt, {a, other}, {5}), "scheduler 1 belongs to another optimizer");
  XGRAD_CHECK_THROW_MSG(o::ReduceLROnPlateau(fx.opt, o::ReduceLROnPlateauOptions().factor(1.0)),
                        "ReduceLROnPlateau: invalid factor 1");
  XGRAD_CHECK_THROW_MSG(o::ReduceLROnPlateau(fx.opt, o::ReduceLROnPlateauOptions().patience(-1)),
                        "ReduceLROnPlateau: invalid patience -1");
  XGRAD_CHECK_THROW_MSG(o::ReduceLROnPlateau(fx.opt, o::ReduceLROnPlateauOptions().min_lr({0, 0, 0})),
                        "expected 1 or 2 min_lr values");
  o::StepLR s(fx.opt, 3);
  XGRAD_CHECK_THROW_MSG(s.load_state_dict({}), "LRScheduler: load_state_dict: missing key 'last_epoch'");
}

BOOST_AUTO_TEST_SUITE_END()
