// LBFGS: convergence with and without the strong-Wolfe line search, state resume, errors.
#include <filesystem>

#include "optim_test_util.hpp"

using namespace xgrad;
using namespace xgrad::test;
using optim::LBFGS;
using optim::LBFGSOptions;

namespace {

optim::LossClosure closure_for(optim::Optimizer& opt, const Problem& prob, const Tensor& x, int* evals = nullptr) {
  return [&opt, prob, x, evals] {
    if (evals) ++*evals;
    opt.zero_grad();
    Tensor loss = prob.f(x);
    loss.backward();
    return loss;
  };
}

}  // namespace

BOOST_AUTO_TEST_SUITE(lbfgs)

BOOST_AUTO_TEST_CASE(strong_wolfe_converges_on_rosenbrock) {
  const Problem prob = rosenbrock();
  Tensor x = from_vector(prob.x0, prob.shape, true);
  // The default tolerance_change (1e-9) stops once the loss changes by less than that, about
  // 1e-5 away from (1, 1); tighter tolerances let it reach the minimum.
  LBFGS opt({x}, LBFGSOptions(1.0).line_search_fn("strong_wolfe").tolerance_change(1e-15).tolerance_grad(1e-10));
  int evals = 0;
  auto closure = closure_for(opt, prob, x, &evals);
  for (int s = 0; s < 20; ++s) opt.step(closure);
  const Vec v = x.to_vector<double>();
  BOOST_CHECK_MESSAGE(std::fabs(v[0] - 1) < 1e-6 && std::fabs(v[1] - 1) < 1e-6,
                      "ended at (" << v[0] << ", " << v[1] << ")");
  const auto& st = static_cast<optim::LBFGSParamState&>(opt.state(x));
  BOOST_CHECK_EQUAL(st.func_evals, evals);
  BOOST_CHECK_GT(st.n_iter, 0);
}

BOOST_AUTO_TEST_CASE(strong_wolfe_converges_in_float32) {
  const Problem prob = rosenbrock();
  Tensor x = from_vector(prob.x0, prob.shape).to(float32).requires_grad_(true);
  LBFGS opt({x}, LBFGSOptions().line_search_fn("strong_wolfe"));
  auto closure = closure_for(opt, prob, x);
  for (int s = 0; s < 20; ++s) opt.step(closure);
  const auto v = x.to_vector<float>();
  BOOST_CHECK_MESSAGE(std::fabs(v[0] - 1) < 1e-3 && std::fabs(v[1] - 1) < 1e-3,
                      "ended at (" << v[0] << ", " << v[1] << ")");
}

BOOST_AUTO_TEST_CASE(fixed_step_converges_on_a_quadratic) {
  // Without line search the first step is min(1, 1 / sum|g|) * lr, then quasi-Newton steps of
  // length lr = 1, which solve a separable quadratic quickly; the minimum is d / c.
  const Problem prob = quadratic();
  Tensor x = from_vector(prob.x0, prob.shape, true);
  LBFGS opt({x}, LBFGSOptions(1.0).max_iter(50).tolerance_change(1e-15).tolerance_grad(1e-10));
  auto closure = closure_for(opt, prob, x);
  const Tensor first_loss = opt.step(closure);
  // step returns the loss of the first evaluation, at x0.
  BOOST_CHECK_CLOSE(first_loss.item<double>(), prob.f(from_vector(prob.x0, prob.shape)).item<double>(), 1e-12);
  for (int s = 0; s < 5; ++s) opt.step(closure);
  check_close(x, from_vector(Vec{1.0, -1.0, 1.0, 0.1, -1.0 / 1.5, 2.5}, {2, 3}), 1e-6);
}

BOOST_AUTO_TEST_CASE(stops_at_once_when_the_gradient_is_small) {
  // At the minimum max|g| <= tolerance_grad: one evaluation, no iteration, x unchanged.
  Tensor x = from_vector(Vec{1.0, 1.0}, {2}, true);
  LBFGS opt({x});
  int evals = 0;
  auto closure = closure_for(opt, rosenbrock(), x, &evals);
  opt.step(closure);
  BOOST_CHECK_EQUAL(evals, 1);
  BOOST_CHECK_EQUAL(static_cast<optim::LBFGSParamState&>(opt.state(x)).n_iter, 0);
  check_close(x, from_vector(Vec{1.0, 1.0}), 0.0);
}

BOOST_AUTO_TEST_CASE(max_eval_bounds_the_evaluations) {
  const Problem prob = rosenbrock();
  Tensor x = from_vector(prob.x0, prob.shape, true);
  LBFGS opt({x}, LBFGSOptions().max_iter(100).max_eval(7));
  int evals = 0;
  opt.step(closure_for(opt, prob, x, &evals));
  BOOST_CHECK_EQUAL(evals, 7);
  BOOST_CHECK_EQUAL(LBFGSOptions().max_iter(20).resolved_max_eval(), 25);
}

BOOST_AUTO_TEST_CASE(resume_from_a_checkpoint_is_bit_identical) {
  const Problem prob = rosenbrock();
  const auto opts = LBFGSOptions().line_search_fn("strong_wolfe").max_iter(3).history_size(4);
  Tensor a = from_vector(prob.x0, prob.shape, true);
  LBFGS full({a}, opts);
  auto ca = closure_for(full, prob, a);
  for (int s = 0; s < 3; ++s) full.step(ca);
  const Vec mid = a.to_vector<double>();
  const auto path = (std::filesystem::temp_directory_path() / "xgrad_lbfgs_state.safetensors").string();
  full.save(path);
  for (int s = 0; s < 4; ++s) full.step(ca);

  Tensor b = from_vector(mid, prob.shape, true);
  LBFGS resumed({b}, opts);
  resumed.load(path);
  auto cb = closure_for(resumed, prob, b);
  for (int s = 0; s < 4; ++s) resumed.step(cb);
  BOOST_CHECK(a.to_vector<double>() == b.to_vector<double>());
  std::filesystem::remove(path);
}

BOOST_AUTO_TEST_CASE(errors) {
  Tensor x = zeros({2}, dtype(float64)).requires_grad_(true);
  Tensor y = zeros({2}, dtype(float64)).requires_grad_(true);
  LBFGS opt({x});
  XGRAD_CHECK_THROW_MSG(opt.step(), "LBFGS: step() requires a closure");
  XGRAD_CHECK_THROW_MSG(opt.step([] { return Tensor(); }), "closure must return the loss");
  XGRAD_CHECK_THROW_MSG(opt.step([x] { return x * 1.0; }), "one-element tensor, got Tensor(shape=[2]");
  XGRAD_CHECK_THROW_MSG(LBFGS(std::vector<optim::ParamGroup>{optim::ParamGroup({x}), optim::ParamGroup({y})}),
                        "LBFGS: doesn't support per-parameter options (got 2 parameter groups");
  XGRAD_CHECK_THROW_MSG(LBFGS({x, zeros({2}).requires_grad_(true)}), "LBFGS: all parameters must share one dtype");
  XGRAD_CHECK_THROW_MSG(LBFGS({x}, LBFGSOptions(-1)), "LBFGS: invalid lr -1");
  XGRAD_CHECK_THROW_MSG(LBFGS({x}, LBFGSOptions().max_iter(0)), "LBFGS: invalid max_iter 0");
  XGRAD_CHECK_THROW_MSG(LBFGS({x}, LBFGSOptions().max_eval(0)), "LBFGS: invalid max_eval 0");
  XGRAD_CHECK_THROW_MSG(LBFGS({x}, LBFGSOptions().history_size(0)), "LBFGS: invalid history_size 0");
  XGRAD_CHECK_THROW_MSG(LBFGS({x}, LBFGSOptions().tolerance_grad(-1)), "LBFGS: invalid tolerance_grad -1");
  XGRAD_CHECK_THROW_MSG(LBFGS({x}, LBFGSOptions().tolerance_change(-1)), "LBFGS: invalid tolerance_change -1");
  XGRAD_CHECK_THROW_MSG(LBFGS({x}, LBFGSOptions().line_search_fn("backtracking")),
                        "LBFGS: invalid line_search_fn 'backtracking'");
}

BOOST_AUTO_TEST_SUITE_END()
