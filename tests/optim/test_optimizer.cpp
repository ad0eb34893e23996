// The Optimizer base: parameter groups, lazy state, zero_grad, skipping parameters without a
// gradient, closures, state_dict / load_state_dict / save / load (bit-identical resume), the
// empty parameter list, state that follows its parameters' dtype (nn::Module::to).
#include <filesystem>

#include "optim_test_util.hpp"
#include "xgrad/nn.hpp"

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
      {"Rprop", maker<o::Rprop>(o::RpropOptions(0.01))},
      {"ASGD", maker<o::ASGD>(o::ASGDOptions(0.01).lambd(0.01).t0(1).weight_decay(0.01))},
  };
}

void train(o::Optimizer& opt, const Tensor& a, const Tensor& b, int steps) {
  for (int s = 0; s < steps; ++s) {
    opt.zero_grad();
    two_param_loss(a, b).backward();
    opt.step();
  }
}

/// The dtypes of every defined state tensor, by key.
class StateDtypes : public o::StateVisitor {
 public:
  std::vector<std::pair<std::string, Dtype>> found;
  void operator()(std::string_view name, Tensor& value, bool) override {
    if (value.defined()) found.emplace_back(std::string(name), value.dtype());
  }
  void operator()(std::string_view, std::int64_t&) override {}
  void operator()(std::string_view, double&) override {}
  void operator()(std::string_view name, std::vector<Tensor>& values) override {
    for (std::size_t i = 0; i < values.size(); ++i)
      found.emplace_back(fmt::format("{}.{}", name, i), values[i].dtype());
  }
  void operator()(std::string_view, std::vector<double>&) override {}
};

/// A Linear(3, 2) with fixed weights, in float32.
std::shared_ptr<nn::Linear> small_linear() {
  auto m = std::make_shared<nn::Linear>(3, 2);
  m->set_tensor("weight", from_vector(Vec{0.5, -1.0, 0.25, 1.5, 0.75, -0.5}, {2, 3}).to(float32));
  m->set_tensor("bias", from_vector(Vec{0.1, -0.2}, {2}).to(float32));
  return m;
}

/// sum((m(x) - t)^2) on 4 fixed samples, in the module's dtype.
Tensor linear_loss(nn::Linear& m, Dtype dt) {
  const Tensor x = from_vector(Vec{1.0, 2.0, -1.0, 0.5, -0.5, 1.5, -2.0, 1.0, 0.0, 0.3, 0.7, -1.2}, {4, 3}).to(dt);
  const Tensor t = from_vector(Vec{1.0, 0.0, -1.0, 2.0, 0.5, 0.5, -0.5, 1.0}, {4, 2}).to(dt);
  const Tensor e = m(x) - t;
  return (e * e).sum();
}

/// A copy of `m` with fresh parameters of the same values (and dtype).
std::shared_ptr<nn::Linear> copy_of(const nn::Linear& m) {
  auto c = std::make_shared<nn::Linear>(3, 2);
  c->set_tensor("weight", m.weight.detach().clone());
  c->set_tensor("bias", m.bias.detach().clone());
  return c;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(optimizer)

BOOST_AUTO_TEST_CASE(an_empty_parameter_list_throws) {
  // As PyTorch's "optimizer got an empty parameter list", prefixed with the optimizer's name.
  for (const auto& [name, make] : all_optimizers()) {
    XGRAD_CHECK_THROW_MSG(make({}), fmt::format("{}: optimizer got an empty parameter list", name));
  }
  XGRAD_CHECK_THROW_MSG(o::LBFGS(std::vector<Tensor>{}), "LBFGS: optimizer got an empty parameter list");
  XGRAD_CHECK_THROW_MSG(o::Adam(std::vector<o::ParamGroup>{}), "Adam: optimizer got an empty parameter list");
  XGRAD_CHECK_THROW_MSG(o::SGD(std::vector<o::ParamGroup>{o::ParamGroup(std::vector<Tensor>{})}, o::SGDOptions(0.1)),
                        "SGD: optimizer got an empty parameter list");
  // An empty group next to a non-empty one, or added later, is accepted (as in PyTorch).
  Tensor x = from_vector(Vec{1.0, 2.0}, {2}, true);
  o::Adam opt({o::ParamGroup(std::vector<Tensor>{}), o::ParamGroup({x})}, o::AdamOptions(0.1));
  opt.add_param_group(o::ParamGroup(std::vector<Tensor>{}));
  BOOST_CHECK_EQUAL(opt.param_groups().size(), 3u);
  (x * x).sum().backward();
  opt.step();
  BOOST_CHECK(opt.has_state(x));
}

BOOST_AUTO_TEST_CASE(state_follows_module_to_for_every_optimizer) {
  // Steps in one dtype, nn::Module::to the other, more steps. The state must follow the
  // parameters, and the run must equal, bit for bit, a fresh optimizer over fresh parameters of
  // the new dtype that loads the state saved before the conversion (load_state_dict casts it).
  for (const auto& [from, to] : {std::pair{float32, float64}, std::pair{float64, float32}}) {
    for (const auto& [name, make] : all_optimizers()) {
      const std::string label = fmt::format("{} ({} -> {})", name, dtype_name(from), dtype_name(to));
      auto model = small_linear();
      model->to(from);
      auto opt = make(model->parameters());
      for (int s = 0; s < 2; ++s) {
        opt->zero_grad();
        linear_loss(*model, from).backward();
        opt->step();
      }
      const TensorDict saved = opt->state_dict();
      model->to(to);
      auto ref = copy_of(*model);
      auto ref_opt = make(ref->parameters());
      ref_opt->load_state_dict(saved);
      for (int s = 0; s < 3; ++s) {
        for (auto [m, op] : {std::pair{model.get(), opt.get()}, std::pair{ref.get(), ref_opt.get()}}) {
          op->zero_grad();
          linear_loss(*m, to).backward();
          BOOST_CHECK_NO_THROW(op->step());
        }
      }
      BOOST_CHECK_MESSAGE(model->weight.dtype() == to, label);
      BOOST_CHECK_MESSAGE(
          max_abs_diff(model->weight, ref->weight) == 0.0 && max_abs_diff(model->bias, ref->bias) == 0.0,
          label << ": differs from a fresh optimizer loading the state");
      for (const Tensor& p : model->parameters()) {
        StateDtypes v;
        opt->state(p).visit(v);
        BOOST_CHECK_MESSAGE(!v.found.empty(), label << ": no state tensors");
        for (const auto& [key, dt] : v.found) {
          BOOST_CHECK_MESSAGE(dt == to, label << ": state '" << key << "' is " << dtype_name(dt));
        }
      }
      for (const auto& [key, t] : opt->state_dict()) {
        if (key.rfind("state.", 0) == 0 && is_floating(t.dtype()) && t.numel() > 1) {
          BOOST_CHECK_MESSAGE(t.dtype() == to, label << ": state_dict '" << key << "' is " << dtype_name(t.dtype()));
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(state_dict_and_state_follow_before_the_next_step) {
  // Converted parameters, no step yet: state_dict() writes the state in the new dtype and
  // state() returns it converted.
  auto model = small_linear();
  o::SGD opt(model->parameters(), o::SGDOptions(0.1).momentum(0.9));
  linear_loss(*model, float32).backward();
  opt.step();
  const Vec buf32 =
      static_cast<o::SGDParamState&>(opt.state(model->weight)).momentum_buffer.to(float64).to_vector<double>();
  model->to(float64);
  const TensorDict sd = opt.state_dict();
  BOOST_CHECK(sd.at("state.0.momentum_buffer").dtype() == float64);
  const Tensor& buf = static_cast<o::SGDParamState&>(opt.state(model->weight)).momentum_buffer;
  BOOST_CHECK(buf.dtype() == float64);
  BOOST_CHECK(buf.to_vector<double>() == buf32);  // float32 -> float64 is exact
}

BOOST_AUTO_TEST_CASE(lbfgs_state_follows_module_to) {
  // LBFGS keeps flat vectors (direction, previous gradient, history) on its first parameter.
  const auto opts = o::LBFGSOptions(0.5).max_iter(4).history_size(3);
  auto model = small_linear();
  o::LBFGS opt(model->parameters(), opts);
  auto closure_for = [](o::Optimizer& op, nn::Linear& m, Dtype dt) {
    return [&op, &m, dt] {
      op.zero_grad();
      Tensor l = linear_loss(m, dt);
      l.backward();
      return l;
    };
  };
  opt.step(closure_for(opt, *model, float32));
  const TensorDict saved = opt.state_dict();
  model->to(float64);
  auto ref = copy_of(*model);
  o::LBFGS ref_opt(ref->parameters(), opts);
  ref_opt.load_state_dict(saved);
  for (int s = 0; s < 2; ++s) {
    BOOST_CHECK_NO_THROW(opt.step(closure_for(opt, *model, float64)));
    BOOST_CHECK_NO_THROW(ref_opt.step(closure_for(ref_opt, *ref, float64)));
  }
  BOOST_CHECK(max_abs_diff(model->weight, ref->weight) == 0.0 && max_abs_diff(model->bias, ref->bias) == 0.0);
  const auto& st = static_cast<o::LBFGSParamState&>(opt.state(model->weight));
  BOOST_REQUIRE(!st.old_dirs.empty());
  StateDtypes v;
  opt.state(model->weight).visit(v);
  for (const auto& [key, dt] : v.found) BOOST_CHECK_MESSAGE(dt == float64, "'" << key << "' is " << dtype_name(dt));
  BOOST_CHECK(std::isfinite(model->weight.sum().item<double>()));

  // Converting only some parameters: LBFGS needs one dtype for all.
  model->set_tensor("bias", model->bias.detach().to(float32));
  XGRAD_CHECK_THROW_MSG(opt.step(closure_for(opt, *model, float64)), "LBFGS: all parameters must share one dtype");
  // A parameter replaced by another shape: the flat state no longer fits.
  model->set_tensor("bias", zeros({5}, dtype(float64)));
  XGRAD_CHECK_THROW_MSG(opt.step(closure_for(opt, *model, float64)),
                        "LBFGS: the state 'd' holds 8 elements but the parameters hold 11 in all");
}

BOOST_AUTO_TEST_CASE(state_that_cannot_follow_its_parameter_throws_at_step) {
  auto model = small_linear();
  o::Adam opt(model->parameters(), o::AdamOptions(0.1));
  linear_loss(*model, float32).backward();
  opt.step();
  // The bias replaced by one of another shape (and dtype): its state cannot be converted.
  model->set_tensor("bias", zeros({5}, dtype(float64)));
  model->weight.set_grad(Tensor());
  model->bias.set_grad(ones({5}, dtype(float64)));
  XGRAD_CHECK_THROW_MSG(opt.step(),
                        "Adam: the state 'exp_avg' of parameter 1 in group 0 is Tensor(shape=[2], dtype=float32) but "
                        "the parameter is now Tensor(shape=[5], dtype=float64)");
}

BOOST_AUTO_TEST_CASE(load_state_dict_casts_state_saved_in_another_dtype) {
  Tensor a = from_vector(Vec{0.3, -1.7, 2.1}, {3}, true);
  o::Adam src({a}, o::AdamOptions(0.1));
  for (int s = 0; s < 3; ++s) {
    src.zero_grad();
    (a * a * a).sum().backward();
    src.step();
  }
  TensorDict sd = src.state_dict();
  BOOST_REQUIRE(sd.at("state.0.exp_avg").dtype() == float64);
  Tensor b = zeros({3}).to(float32).requires_grad_(true);
  o::Adam dst({b}, o::AdamOptions(0.1));
  dst.load_state_dict(sd);
  const auto& st = static_cast<o::AdamParamState&>(dst.state(b));
  BOOST_CHECK(st.exp_avg.dtype() == float32 && st.exp_avg_sq.dtype() == float32);
  BOOST_CHECK_EQUAL(st.step, 3);
  BOOST_CHECK(max_abs_diff(st.exp_avg, sd.at("state.0.exp_avg").to(float32)) == 0.0);
  // A state tensor that is not floating-point is refused.
  sd["state.0.exp_avg"] = zeros({3}, dtype(int64));
  XGRAD_CHECK_THROW_MSG(dst.load_state_dict(sd),
                        "'state.0.exp_avg' is Tensor(shape=[3], dtype=int64) but its parameter is");
}

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
