// The Optimizer base: parameter groups, lazy state, zero_grad, skipping parameters without a
// gradient, closures, state_dict / load_state_dict / save / load (bit-identical resume).
#include <filesystem>

#include "optim_test_util.hpp"

using namespace xgrad;
using namespace xgrad::test;
namespace o = xgrad::optim;

namespace {

/// Two parameters of different shapes: loss = sum(0.5 c a^2 - a) + sum((b - 1)^4) / 4.
Tensor two_param_loss(const Tensor& a, const Tensor& b) {
  const Tensor c = from_vector(Vec{1.0, 2.0, 0.5, 3.0, 1.5, 0.8}, {2, 3}).to(a.dtype());
  const Tensor e = b - 1.0;
  return (0.5 * c * a * a - a).sum() + (e * e * e * e).sum() * 0.25;
}

using Factory = std::function<std::unique_ptr<o::Optimizer>(const std::vector<Tensor>&)>;

std::vector<std::pair<std::string, Factory>> all_optimizers() {
  return {
      {"SGD", maker<o::SGD>(o::SGDOptions(0.01).momentum(0.9).nesterov(true).weight_decay(0.01))},
      {"Adam", maker<o::Adam>(o::AdamOptions(0.01).amsgrad(true).weight_decay(0.01))},
      {"AdamW", maker<o::AdamW>(o::AdamWOptions(0.01).amsgrad(true))},
      {"Adagrad", maker<o::Adagrad>(o::AdagradOptions(0.1).lr_decay(0.01).initial_accumulator_value(0.1))},
      {"RMSprop", maker<o::RMSprop>(o::RMSpropOptions(0.01).centered(true).momentum(0.5))},
      {"Adadelta", maker<o::Adadelta>(o::AdadeltaOptions(1.0))},
      {"Adamax", maker<o::Adamax>(o::AdamaxOptions(0.01))},
      {"NAdam", maker<o::NAdam>(o::NAdamOptions(0.01))},
      {"RAdam", maker<o::RAdam>(o::RAdamOptions(0.01))},
  };
}

void train(o::Optimizer& opt, const Tensor& a, const Tensor& b, int steps) {
  for (int s = 0; s < steps; ++s) {
    opt.zero_grad();
    two_param_loss(a, b).backward();
    opt.step();
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(optimizer)

BOOST_AUTO_TEST_CASE(param_groups_with_different_lr_and_weight_decay) {
  // Group 0 uses the defaults (lr 0.1, no decay), group 1 its own (lr 0.01, decay 0.5).
  Tensor a = from_vector(Vec{1.0, -2.0}, {2}, true);
  Tensor b = from_vector(Vec{3.0, 0.5}, {2}, true);
  o::SGD opt({o::ParamGroup({a}), o::ParamGroup({b}, o::SGDOptions(0.01).weight_decay(0.5))}, o::SGDOptions(0.1));
  BOOST_CHECK_EQUAL(opt.param_groups().size(), 2u);
  BOOST_CHECK_EQUAL(opt.param_groups()[0].options().get_lr(), 0.1);
  BOOST_CHECK_EQUAL(opt.param_groups()[1].options().get_lr(), 0.01);
  Vec ar = {1.0, -2.0}, br = {3.0, 0.5};
  for (int s = 0; s < 50; ++s) {
    opt.zero_grad();
    ((a * a).sum() + (b * b).sum()).backward();  // g = 2 x
    opt.step();
    for (auto& v : ar) v -= 0.1 * (2 * v);
    for (auto& v : br) v -= 0.01 * (2 * v + 0.5 * v);
  }
  BOOST_CHECK_LE(max_abs_diff(a, from_vector(ar)), 1e-15);
  BOOST_CHECK_LE(max_abs_diff(b, from_vector(br)), 1e-15);
}

BOOST_AUTO_TEST_CASE(add_param_group_and_its_errors) {
  Tensor a = zeros({2}).requires_grad_(true);
  Tensor b = zeros({3}).requires_grad_(true);
  o::Adam opt({a}, o::AdamOptions(1e-3));
  opt.add_param_group(o::ParamGroup({b}, o::AdamOptions(1e-2).weight_decay(0.1)));
  BOOST_CHECK_EQUAL(opt.param_groups().size(), 2u);
  BOOST_CHECK_EQUAL(opt.parameters().size(), 2u);
  BOOST_CHECK_EQUAL(static_cast<const o::AdamOptions&>(opt.param_groups()[1].options()).weight_decay(), 0.1);
  XGRAD_CHECK_THROW_MSG(opt.add_param_group(o::ParamGroup({a})), "appears in more than one parameter group");
  XGRAD_CHECK_THROW_MSG(opt.add_param_group(o::ParamGroup({zeros({1}).requires_grad_(true)}, o::SGDOptions(0.1))),
                        "Adam: add_param_group: the group's options are SGDOptions, expected AdamOptions");
  XGRAD_CHECK_THROW_MSG(opt.add_param_group(o::ParamGroup({zeros({1}).requires_grad_(true)}, o::AdamOptions(-1))),
                        "Adam: invalid lr -1");
  XGRAD_CHECK_THROW_MSG(opt.add_param_group(o::ParamGroup({Tensor()})), "Adam: parameter 0 of the group is undefined");
  XGRAD_CHECK_THROW_MSG(opt.add_param_group(o::ParamGroup({zeros({1}, dtype(int64))})),
                        "can only optimize floating-point tensors");
  Tensor leaf = zeros({2}).requires_grad_(true);
  XGRAD_CHECK_THROW_MSG(opt.add_param_group(o::ParamGroup({leaf * 2.0})), "can't optimize a non-leaf tensor");
  XGRAD_CHECK_THROW_MSG(o::SGD({a, a}, o::SGDOptions(0.1)), "appears in more than one parameter group or twice");
}

BOOST_AUTO_TEST_CASE(step_skips_parameters_without_grad) {
  Tensor used = from_vector(Vec{1.0, 2.0}, {2}, true);
  Tensor unused = from_vector(Vec{5.0}, {1}, true);
  o::Adam opt({used, unused}, o::AdamOptions(0.1));
  opt.zero_grad();
  (used * used).sum().backward();
  opt.step();
  BOOST_CHECK(opt.has_state(used));
  BOOST_CHECK(!opt.has_state(unused));
  BOOST_CHECK_EQUAL(unused.item<double>(), 5.0);
  BOOST_CHECK(used.to_vector<double>() != (Vec{1.0, 2.0}));
  const TensorDict sd = opt.state_dict();
  BOOST_CHECK(sd.count("state.0.exp_avg"));
  for (const auto& [k, v] : sd) BOOST_CHECK_MESSAGE(k.rfind("state.1.", 0) != 0, "unexpected " << k);
  XGRAD_CHECK_THROW_MSG(opt.state(unused), "Adam: the parameter Tensor(shape=[1], dtype=float64) has no state yet");
}

BOOST_AUTO_TEST_CASE(zero_grad_set_to_none_or_zero) {
  Tensor x = from_vector(Vec{1.0, 2.0}, {2}, true);
  o::SGD opt({x}, o::SGDOptions(0.1));
  (x * x).sum().backward();
  const Tensor g = x.grad();
  opt.zero_grad(false);
  BOOST_REQUIRE(x.grad().defined());
  BOOST_CHECK(x.grad().is_same(g));  // zeroed in place
  BOOST_CHECK(x.grad().to_vector<double>() == (Vec{0.0, 0.0}));
  opt.zero_grad();  // set_to_none = true by default
  BOOST_CHECK(!x.grad().defined());
  opt.step();  // no grad: nothing happens
  BOOST_CHECK(x.to_vector<double>() == (Vec{1.0, 2.0}));
}

BOOST_AUTO_TEST_CASE(step_with_closure_returns_the_loss_and_records_the_graph) {
  Tensor x = from_vector(Vec{3.0}, {1}, true);
  o::SGD opt({x}, o::SGDOptions(0.1));
  NoGradGuard ng;  // the closure still runs with grad mode on
  const Tensor loss = opt.step([&] {
    opt.zero_grad();
    Tensor l = (x * x).sum();
    l.backward();
    return l;
  });
  BOOST_CHECK_EQUAL(loss.item<double>(), 9.0);
  BOOST_CHECK_CLOSE(x.item<double>(), 3.0 - 0.1 * 6.0, 1e-13);
  BOOST_CHECK(!opt.step().defined());  // without a closure: undefined
}

BOOST_AUTO_TEST_CASE(step_bumps_the_version_counter) {
  // A graph that saved the parameter must refuse to backward after the in-place update.
  Tensor x = from_vector(Vec{1.0, 2.0}, {2}, true);
  o::SGD opt({x}, o::SGDOptions(0.1));
  x.set_grad(ones({2}, dtype(float64)));
  Tensor y = (x * x).sum();
  opt.step();
  XGRAD_CHECK_THROW_MSG(y.backward(), "has been modified by an in-place operation");
}

BOOST_AUTO_TEST_CASE(state_dict_layout) {
  Tensor a = zeros({2, 3}, dtype(float64)).requires_grad_(true);
  Tensor b = zeros({4}, dtype(float64)).requires_grad_(true);
  o::Adam opt({o::ParamGroup({a}), o::ParamGroup({b}, o::AdamOptions(0.5).amsgrad(true))}, o::AdamOptions(0.01));
  train(opt, a, b, 3);
  const TensorDict sd = opt.state_dict();
  BOOST_CHECK_EQUAL(sd.at("param_groups.0.lr").item<double>(), 0.01);
  BOOST_CHECK_EQUAL(sd.at("param_groups.1.lr").item<double>(), 0.5);
  BOOST_CHECK_EQUAL(sd.at("param_groups.1.amsgrad").item<double>(), 1.0);
  BOOST_CHECK_EQUAL(sd.at("param_groups.0.beta2").item<double>(), 0.999);
  BOOST_CHECK(sd.at("param_groups.1.params").to_vector<std::int64_t>() == std::vector<std::int64_t>{1});
  BOOST_CHECK(sd.at("state.0.step").dtype() == int64);
  BOOST_CHECK_EQUAL(sd.at("state.0.step").item<std::int64_t>(), 3);
  BOOST_CHECK(sd.at("state.0.exp_avg").shape() == (Shape{2, 3}));
  BOOST_CHECK(sd.at("state.1.max_exp_avg_sq").shape() == (Shape{4}));
  BOOST_CHECK(!sd.count("state.0.max_exp_avg_sq"));
  // The dict holds copies: stepping again does not change it.
  const Vec before = sd.at("state.0.exp_avg").to_vector<double>();
  train(opt, a, b, 1);
  BOOST_CHECK(sd.at("state.0.exp_avg").to_vector<double>() == before);
}

BOOST_AUTO_TEST_CASE(resume_is_bit_identical_for_every_optimizer) {
  const auto dir = std::filesystem::temp_directory_path();
  for (Dtype dt : {float64, float32}) {
    for (const auto& [name, make] : all_optimizers()) {
      // Uninterrupted: 15 steps.
      Tensor a = from_vector(Vec{2.0, -1.5, 3.0, -2.5, 1.0, -3.0}, {2, 3}).to(dt).requires_grad_(true);
      Tensor b = from_vector(Vec{0.0, 2.0, -1.0, 3.0}, {4}).to(dt).requires_grad_(true);
      auto full = make({a, b});
      train(*full, a, b, 7);
      const auto path = (dir / fmt::format("xgrad_optim_{}_{}.safetensors", name, dtype_name(dt))).string();
      full->save(path);
      const Tensor a7 = a.detach().clone(), b7 = b.detach().clone();
      train(*full, a, b, 8);

      // Stopped after 7, restored into fresh parameters and a fresh optimizer, 8 more.
      Tensor a2 = a7.clone().requires_grad_(true), b2 = b7.clone().requires_grad_(true);
      auto resumed = make({a2, b2});
      resumed->load(path);
      train(*resumed, a2, b2, 8);
      BOOST_CHECK_MESSAGE(max_abs_diff(a, a2) == 0.0 && max_abs_diff(b, b2) == 0.0,
                          name << " (" << dtype_name(dt) << "): resumed run differs from the uninterrupted one");
      // Without the state the continuation differs (the test can fail).
      Tensor a3 = a7.clone().requires_grad_(true), b3 = b7.clone().requires_grad_(true);
      auto fresh = make({a3, b3});
      train(*fresh, a3, b3, 8);
      BOOST_CHECK_MESSAGE(max_abs_diff(a, a3) > 0.0, name << ": state made no difference");
      std::filesystem::remove(path);
    }
  }
}

BOOST_AUTO_TEST_CASE(load_state_dict_restores_hyper_parameters) {
  Tensor x = zeros({2}, dtype(float64)).requires_grad_(true);
  o::SGD a({x}, o::SGDOptions(0.1).momentum(0.9));
  a.param_groups()[0].options().set_lr(0.025);  // as a scheduler would
  Tensor y = zeros({2}, dtype(float64)).requires_grad_(true);
  o::SGD b({y}, o::SGDOptions(0.1));
  b.load_state_dict(a.state_dict());
  const auto& ob = static_cast<const o::SGDOptions&>(b.param_groups()[0].options());
  BOOST_CHECK_EQUAL(ob.lr(), 0.025);
  BOOST_CHECK_EQUAL(ob.momentum(), 0.9);
}

BOOST_AUTO_TEST_CASE(load_state_dict_errors) {
  Tensor a = zeros({2, 3}, dtype(float64)).requires_grad_(true);
  Tensor b = zeros({4}, dtype(float64)).requires_grad_(true);
  o::Adam src({a, b}, o::AdamOptions(0.01));
  train(src, a, b, 2);
  const TensorDict sd = src.state_dict();

  Tensor c = zeros({2, 3}, dtype(float64)).requires_grad_(true);
  o::Adam one({c});
  XGRAD_CHECK_THROW_MSG(one.load_state_dict(sd), "parameter group 0 has 2 parameters in the state dict, 1 in the");
  o::Adam two_groups({o::ParamGroup({c}), o::ParamGroup({zeros({4}, dtype(float64)).requires_grad_(true)})});
  XGRAD_CHECK_THROW_MSG(two_groups.load_state_dict(sd), "the state dict has 1 parameter groups, the optimizer has 2");

  Tensor d = zeros({4}, dtype(float64)).requires_grad_(true);
  Tensor e = zeros({2, 3}, dtype(float64)).requires_grad_(true);
  o::Adam swapped({d, e});
  XGRAD_CHECK_THROW_MSG(swapped.load_state_dict(sd),
                        "'state.0.exp_avg' is Tensor(shape=[2, 3], dtype=float64) but "
                        "its parameter is Tensor(shape=[4], dtype=float64)");
  BOOST_CHECK(!swapped.has_state(d));  // unchanged on error

  TensorDict missing = sd;
  missing.erase("state.1.step");
  Tensor f = zeros({2, 3}, dtype(float64)).requires_grad_(true), g = zeros({4}, dtype(float64)).requires_grad_(true);
  o::Adam target({f, g});
  XGRAD_CHECK_THROW_MSG(target.load_state_dict(missing), "Adam: load_state_dict: missing key 'state.1.step'");
  TensorDict no_lr = sd;
  no_lr.erase("param_groups.0.lr");
  XGRAD_CHECK_THROW_MSG(target.load_state_dict(no_lr), "missing key 'param_groups.0.lr'");
  TensorDict bad_lr = sd;
  bad_lr["param_groups.0.lr"] = scalar_tensor(-1.0, dtype(float64));
  XGRAD_CHECK_THROW_MSG(target.load_state_dict(bad_lr), "Adam: invalid lr -1");

  const auto path = (std::filesystem::temp_directory_path() / "xgrad_optim_kind.safetensors").string();
  src.save(path);
  o::SGD sgd({f, g}, o::SGDOptions(0.1));
  XGRAD_CHECK_THROW_MSG(sgd.load(path), "holds the state of a Adam optimizer");
  std::filesystem::remove(path);
}

BOOST_AUTO_TEST_SUITE_END()
