// Adam and AdamW against scalar references written from torch.optim.Adam/AdamW's documented
// algorithms.
#include "optim_test_util.hpp"

using namespace xgrad;
using namespace xgrad::test;
using optim::Adam;
using optim::AdamOptions;
using optim::AdamW;
using optim::AdamWOptions;

namespace {

struct AdamCase {
  double lr, beta1, beta2, eps, wd;
  bool amsgrad, maximize;
};

// torch.optim.Adam / AdamW documentation, element by element (decoupled: AdamW).
RefStep adam_ref(AdamCase c, bool decoupled) {
  struct S {
    Vec m, v, vmax;
    int t = 0;
  };
  auto s = std::make_shared<S>();
  return [=](Vec& x, const Vec& grad) {
    if (s->m.empty()) s->m.assign(x.size(), 0.0), s->v = s->m, s->vmax = s->m;
    s->t += 1;
    for (std::size_t i = 0; i < x.size(); ++i) {
      double g = c.maximize ? -grad[i] : grad[i];
      if (decoupled) {
        x[i] *= 1 - c.lr * c.wd;
      } else if (c.wd != 0) {
        g += c.wd * x[i];
      }
      s->m[i] = c.beta1 * s->m[i] + (1 - c.beta1) * g;
      s->v[i] = c.beta2 * s->v[i] + (1 - c.beta2) * g * g;
      const double mhat = s->m[i] / (1 - std::pow(c.beta1, s->t));
      double vhat;
      if (c.amsgrad) {
        s->vmax[i] = std::max(s->vmax[i], s->v[i]);
        vhat = s->vmax[i] / (1 - std::pow(c.beta2, s->t));
      } else {
        vhat = s->v[i] / (1 - std::pow(c.beta2, s->t));
      }
      x[i] -= c.lr * mhat / (std::sqrt(vhat) + c.eps);
    }
  };
}

template <class Opt, class Options>
void run_cases(const std::vector<AdamCase>& cases, bool decoupled, const std::string& name) {
  for (const auto& c : cases) {
    const std::string label = fmt::format("{}(lr={}, betas=({}, {}), eps={}, wd={}, amsgrad={}, maximize={})", name,
                                          c.lr, c.beta1, c.beta2, c.eps, c.wd, c.amsgrad, c.maximize);
    auto opts =
        Options(c.lr).betas({c.beta1, c.beta2}).eps(c.eps).weight_decay(c.wd).amsgrad(c.amsgrad).maximize(c.maximize);
    auto ref = [=] { return adam_ref(c, decoupled); };
    if (c.maximize) {
      check_against_reference(quadratic(), maker<Opt>(opts), ref, label);
    } else {
      check_both(maker<Opt>(opts), ref, label);
    }
    check_float32(maker<Opt>(opts), ref, label);
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(adam)

BOOST_AUTO_TEST_CASE(adam_matches_reference_for_every_option_combination) {
  run_cases<Adam, AdamOptions>({{1e-2, 0.9, 0.999, 1e-8, 0, false, false},
                                {1e-2, 0.9, 0.999, 1e-8, 0, true, false},
                                {1e-2, 0.9, 0.999, 1e-8, 0.1, false, false},
                                {1e-2, 0.3, 0.9, 1e-3, 0, false, false},  // lerp's second branch (weight 0.7)
                                {1e-2, 0.0, 0.5, 1e-8, 0, true, false},
                                {1e-2, 0.9, 0.999, 1e-8, 0, false, true},
                                {1e-2, 0.8, 0.99, 1e-6, 0.05, true, true}},
                               false, "Adam");
}

BOOST_AUTO_TEST_CASE(adamw_matches_reference_for_every_option_combination) {
  run_cases<AdamW, AdamWOptions>({{1e-2, 0.9, 0.999, 1e-8, 1e-2, false, false},
                                  {1e-2, 0.9, 0.999, 1e-8, 0.5, false, false},
                                  {1e-2, 0.9, 0.999, 1e-8, 0.1, true, false},
                                  {1e-2, 0.3, 0.9, 1e-8, 0, false, false},
                                  {1e-2, 0.9, 0.999, 1e-8, 0.1, true, true}},
                                 true, "AdamW");
}

BOOST_AUTO_TEST_CASE(defaults) {
  const AdamOptions a;
  BOOST_CHECK_EQUAL(a.lr(), 1e-3);
  BOOST_CHECK_EQUAL(a.betas().first, 0.9);
  BOOST_CHECK_EQUAL(a.betas().second, 0.999);
  BOOST_CHECK_EQUAL(a.eps(), 1e-8);
  BOOST_CHECK_EQUAL(a.weight_decay(), 0.0);
  BOOST_CHECK(!a.amsgrad() && !a.maximize());
  BOOST_CHECK_EQUAL(AdamWOptions().weight_decay(), 1e-2);
}

BOOST_AUTO_TEST_CASE(first_step_is_lr_times_sign) {
  // Step 1: mhat = g, vhat = g^2, so theta moves by lr * g / (|g| + eps) ~ lr * sign(g).
  Tensor x = tensor({1.0, -2.0}, dtype(float64)).requires_grad_(true);
  Adam opt({x}, AdamOptions(0.1));
  (x * x).sum().backward();  // g = (2, -4)
  opt.step();
  check_close(x, tensor({1.0 - 0.1 * 2 / (2 + 1e-8), -2.0 + 0.1 * 4 / (4 + 1e-8)}, dtype(float64)), 1e-15);
}

BOOST_AUTO_TEST_CASE(large_tensor_parallel_update_matches_reference) {
  // 200k float64 elements (TBB path): one Adam step with amsgrad and weight decay equals the
  // reference loop on every element.
  const std::int64_t n = 200000;
  Tensor x = randn({n}, dtype(float64)).requires_grad_(true);
  Vec xr = x.to_vector<double>();
  Adam opt({x}, AdamOptions(1e-2).amsgrad(true).weight_decay(0.1));
  auto ref = adam_ref({1e-2, 0.9, 0.999, 1e-8, 0.1, true, false}, false);
  for (int s = 0; s < 3; ++s) {
    opt.zero_grad();
    (x * x * x).sum().backward();  // g = 3 x^2
    opt.step();
    Vec g(xr.size());
    for (std::size_t i = 0; i < g.size(); ++i) g[i] = 3 * xr[i] * xr[i];
    ref(xr, g);
  }
  BOOST_CHECK_LE(max_abs_diff(x, from_vector(xr)), 1e-14);
}

BOOST_AUTO_TEST_CASE(invalid_options) {
  Tensor x = zeros({2}).requires_grad_(true);
  XGRAD_CHECK_THROW_MSG(Adam({x}, AdamOptions(-1e-3)), "Adam: invalid lr -0.001");
  XGRAD_CHECK_THROW_MSG(Adam({x}, AdamOptions().eps(-1)), "Adam: invalid eps -1");
  XGRAD_CHECK_THROW_MSG(Adam({x}, AdamOptions().betas({1.0, 0.999})), "Adam: invalid beta1 1 (must be in [0, 1))");
  XGRAD_CHECK_THROW_MSG(Adam({x}, AdamOptions().betas({0.9, -0.1})), "Adam: invalid beta2 -0.1");
  XGRAD_CHECK_THROW_MSG(Adam({x}, AdamOptions().weight_decay(-0.5)), "Adam: invalid weight_decay -0.5");
  XGRAD_CHECK_THROW_MSG(AdamW({x}, AdamWOptions().weight_decay(-0.5)), "AdamW: invalid weight_decay -0.5");
  XGRAD_CHECK_THROW_MSG(AdamW({x}, AdamWOptions().betas({0.9, 1.5})), "AdamW: invalid beta2 1.5");
}

BOOST_AUTO_TEST_CASE(adam_with_decoupled_weight_decay_is_adamw) {
  // PyTorch 2.x: AdamW is Adam(decoupled_weight_decay=True); the runs are bit-identical.
  const Problem prob = quadratic();
  Tensor a = from_vector(prob.x0, prob.shape, true), b = from_vector(prob.x0, prob.shape, true);
  Adam adam({a}, AdamOptions(0.05).weight_decay(0.1).decoupled_weight_decay(true));
  AdamW adamw({b}, AdamWOptions(0.05).weight_decay(0.1));
  for (int s = 0; s < 10; ++s) {
    for (auto [x, opt] : {std::pair<Tensor*, optim::Optimizer*>{&a, &adam}, {&b, &adamw}}) {
      opt->zero_grad();
      prob.f(*x).backward();
      opt->step();
    }
  }
  BOOST_CHECK_EQUAL(max_abs_diff(a, b), 0.0);
  BOOST_CHECK(AdamWOptions().decoupled_weight_decay() && !AdamOptions().decoupled_weight_decay());
  Tensor x = zeros({2}).requires_grad_(true);
  XGRAD_CHECK_THROW_MSG(AdamW({x}, AdamWOptions().decoupled_weight_decay(false)),
                        "AdamW: decoupled_weight_decay must be true");
  BOOST_CHECK_EQUAL(AdamWOptions().to_string(),
                    "AdamW(lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.01, amsgrad=false, "
                    "maximize=false, decoupled_weight_decay=true)");
}

BOOST_AUTO_TEST_CASE(state_dicts_without_decoupled_weight_decay_load) {
  // Written before the option existed: the group keeps its value (false for Adam, true for
  // AdamW), as PyTorch's setdefault.
  Tensor x = tensor({1.0, -2.0}, dtype(float64)).requires_grad_(true);
  Adam adam({x}, AdamOptions(0.1));
  AdamW adamw({x}, AdamWOptions(0.1));
  for (optim::Optimizer* opt : {static_cast<optim::Optimizer*>(&adam), static_cast<optim::Optimizer*>(&adamw)}) {
    TensorDict sd = opt->state_dict();
    BOOST_REQUIRE(sd.erase("param_groups.0.decoupled_weight_decay") == 1);
    sd["param_groups.0.lr"] = scalar_tensor(0.5, dtype(float64));
    opt->load_state_dict(sd);
    BOOST_CHECK_EQUAL(opt->param_groups()[0].options().get_lr(), 0.5);
  }
  BOOST_CHECK(!static_cast<const AdamOptions&>(adam.param_groups()[0].options()).decoupled_weight_decay());
  BOOST_CHECK(static_cast<const AdamWOptions&>(adamw.param_groups()[0].options()).decoupled_weight_decay());
}

BOOST_AUTO_TEST_SUITE_END()
