// optim::InnerLoop (meta.hpp): hypergradients and second-order MAML gradients against finite
// differences, first-order mode, truncation (values and bounded graph), no-grad mode, errors.
// The inner optimizer here is a small SGD with momentum written with ops (TinySGD), so the
// loop is tested independently of optim::functional's optimizers.
#include <map>
#include <memory>
#include <set>
#include <string>

#include "test_util.hpp"
#include "xgrad/nn.hpp"
#include "xgrad/nn/functional_call.hpp"
#include "xgrad/optim/meta.hpp"

using namespace xgrad;
using xgrad::optim::InnerLoop;
using xgrad::optim::InnerLoopOptions;
using xgrad::optim::ParamMap;
using xgrad::test::check_close;
using xgrad::test::rand64;
namespace fo = xgrad::optim::functional;

namespace {

// p <- p - lr * d, d = g (no momentum) or b = mu b + g (b_1 = g), as torch.optim.SGD.
class TinySGD : public fo::FunctionalOptimizer {
 public:
  explicit TinySGD(double lr, double momentum = 0.0) : options_(lr) { options_.momentum(momentum); }
  std::string name() const override { return "TinySGD"; }
  const optim::OptimizerOptions& options() const override { return options_; }
  std::vector<std::string> hyper_names() const override { return {"lr"}; }
  fo::State init(const std::vector<Tensor>& params) const override { return fo::State(params.size()); }
  fo::StepResult step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads, const fo::State& state,
                      const fo::Hyper& hyper) const override {
    Tensor lr = hyper.count("lr") ? hyper.at("lr") : scalar_tensor(options_.lr(), dtype(float64));
    fo::StepResult r;
    r.state = state.empty() ? init(params) : state;
    for (std::size_t i = 0; i < params.size(); ++i) {
      Tensor d = grads[i];
      if (options_.momentum() != 0.0) {
        auto it = r.state[i].find("momentum_buffer");
        d = it == r.state[i].end() ? grads[i] : it->second * options_.momentum() + grads[i];
        r.state[i]["momentum_buffer"] = d;
      }
      r.params.push_back(params[i] - lr * d);
    }
    return r;
  }

 private:
  optim::SGDOptions options_;
};

std::shared_ptr<TinySGD> tiny_sgd(double lr, double momentum = 0.0) { return std::make_shared<TinySGD>(lr, momentum); }

// A linear regression problem: train and validation sets.
struct Regression {
  Tensor x = rand64({10, 3}).detach(), y = rand64({10}).detach();
  Tensor xv = rand64({6, 3}).detach(), yv = rand64({6}).detach();
  static Tensor mse(const Tensor& x, const Tensor& y, const Tensor& w) {
    Tensor d = matmul(x, w) - y;
    return (d * d).mean();
  }
  Tensor train(const ParamMap& p) const { return mse(x, y, p.at("w")); }
  Tensor val(const ParamMap& p) const { return mse(xv, yv, p.at("w")); }
};

std::shared_ptr<nn::Sequential> small_mlp() {
  auto net = std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(2, 4), std::make_shared<nn::Tanh>(),
                                              std::make_shared<nn::Linear>(4, 1));
  net->to(float64);
  return net;
}

Tensor mse(const Tensor& a, const Tensor& b) {
  Tensor d = a - b;
  return (d * d).mean();
}

// Nodes reachable from the tensors' grad_fns: the graph (and so the memory) they keep alive.
std::size_t reachable_nodes(const std::vector<Tensor>& ts) {
  std::set<const Node*> seen;
  std::vector<std::shared_ptr<Node>> stack;
  for (const Tensor& t : ts)
    if (t.grad_fn()) stack.push_back(t.grad_fn());
  while (!stack.empty()) {
    auto n = std::move(stack.back());
    stack.pop_back();
    if (!seen.insert(n.get()).second) continue;
    for (const Edge& e : n->next_edges)
      if (e.fn) stack.push_back(e.fn);
  }
  return seen.size();
}

// max |a - b| / max(max |b|, floor)
double rel_err(const std::vector<double>& a, const std::vector<double>& b, double floor = 1e-3) {
  double d = 0, m = floor;
  for (std::size_t i = 0; i < a.size(); ++i) {
    d = std::max(d, std::fabs(a[i] - b[i]));
    m = std::max(m, std::fabs(b[i]));
  }
  return d / m;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(meta)

BOOST_AUTO_TEST_CASE(hypergradient_of_lr_matches_finite_differences) {
  manual_seed(1);
  Regression r;
  Tensor w0 = rand64({3});
  for (double momentum : {0.0, 0.5}) {
    InnerLoop inner(tiny_sgd(0.05, momentum), InnerLoopOptions(3));
    auto val_after = [&](const Tensor& lr) {
      auto res = inner.run([&](const ParamMap& p) { return r.train(p); }, {{"w", w0}}, {{"lr", lr}});
      BOOST_CHECK_EQUAL(res.losses.size(), 3u);
      return r.val(res.params);
    };
    Tensor lr = scalar_tensor(0.05, dtype(float64)).requires_grad_(true);
    const double g = autograd::grad({val_after(lr)}, {lr})[0].item<double>();
    const double h = 1e-6;
    const double fd = (val_after(scalar_tensor(0.05 + h, dtype(float64))).item<double>() -
                       val_after(scalar_tensor(0.05 - h, dtype(float64))).item<double>()) /
                      (2 * h);
    BOOST_TEST_MESSAGE("momentum " << momentum << ": hypergradient " << g << ", finite differences " << fd);
    BOOST_CHECK_MESSAGE(std::fabs(g - fd) <= 1e-6 * std::fabs(fd),
                        "momentum " << momentum << ": hypergradient " << g << " vs finite differences " << fd);
  }
}

BOOST_AUTO_TEST_CASE(maml_second_order_gradient_matches_finite_differences) {
  manual_seed(2);
  auto net = small_mlp();
  Tensor xs = rand64({5, 2}).detach(), ys = rand64({5, 1}).detach();
  Tensor xq = rand64({7, 2}).detach(), yq = rand64({7, 1}).detach();
  auto outer_loss = [&](bool first_order) {
    InnerLoop inner(tiny_sgd(0.3), InnerLoopOptions(2).first_order(first_order));
    auto res = inner.run(*net, [&](const ParamMap& p) { return mse(nn::functional_call(*net, p, xs), ys); });
    return mse(nn::functional_call(*net, res.params, xq), yq);
  };
  auto params = net->parameters();
  auto g = autograd::grad({outer_loss(false)}, params);
  std::vector<double> analytic, fd;
  const double h = 1e-6;
  for (std::size_t i = 0; i < params.size(); ++i) {
    for (double v : g[i].to_vector<double>()) analytic.push_back(v);
    double* data = params[i].data_ptr<double>();
    for (std::int64_t j = 0; j < params[i].numel(); ++j) {
      const double keep = data[j];
      data[j] = keep + h;
      const double plus = outer_loss(false).item<double>();
      data[j] = keep - h;
      const double minus = outer_loss(false).item<double>();
      data[j] = keep;
      fd.push_back((plus - minus) / (2 * h));
    }
  }
  BOOST_TEST_MESSAGE("MAML: relative error vs finite differences " << rel_err(analytic, fd));
  BOOST_CHECK_MESSAGE(rel_err(analytic, fd) <= 1e-6, "relative error " << rel_err(analytic, fd));
  // The first-order gradient is a different quantity (no second derivatives).
  auto g1 = autograd::grad({outer_loss(true)}, params);
  std::vector<double> first;
  for (const Tensor& t : g1)
    for (double v : t.to_vector<double>()) first.push_back(v);
  BOOST_TEST_MESSAGE("first-order vs second-order: relative difference " << rel_err(first, fd));
  BOOST_CHECK_GT(rel_err(first, fd), 1e-4);
}

BOOST_AUTO_TEST_CASE(first_order_equals_detached_inner_gradients) {
  manual_seed(3);
  auto net = small_mlp();
  Tensor xs = rand64({5, 2}).detach(), ys = rand64({5, 1}).detach();
  Tensor xq = rand64({7, 2}).detach(), yq = rand64({7, 1}).detach();
  auto named = net->named_parameters();
  std::vector<Tensor> params = net->parameters();
  Tensor lr = scalar_tensor(0.2, dtype(float64)).requires_grad_(true);
  auto support = [&](const ParamMap& p) { return mse(nn::functional_call(*net, p, xs), ys); };

  InnerLoop inner(tiny_sgd(0.2, 0.5), InnerLoopOptions(3).first_order(true));
  auto res = inner.run(*net, support, {}, {{"lr", lr}});
  auto inputs = params;
  inputs.push_back(lr);
  auto got = autograd::grad({mse(nn::functional_call(*net, res.params, xq), yq)}, inputs);

  // By hand: the same steps with every inner gradient detached.
  std::vector<Tensor> p = params, b(params.size());
  for (int k = 0; k < 3; ++k) {
    ParamMap m;
    for (std::size_t i = 0; i < p.size(); ++i) m[named[i].first] = p[i];
    auto gk = autograd::grad({support(m)}, p);
    for (std::size_t i = 0; i < p.size(); ++i) {
      Tensor gi = gk[i].detach();
      b[i] = k == 0 ? gi : b[i] * 0.5 + gi;
      p[i] = p[i] - lr * b[i];
    }
  }
  ParamMap m;
  for (std::size_t i = 0; i < p.size(); ++i) m[named[i].first] = p[i];
  auto want = autograd::grad({mse(nn::functional_call(*net, m, xq), yq)}, inputs);
  for (std::size_t i = 0; i < got.size(); ++i) check_close(got[i], want[i], 1e-12);
  // Per-step losses are the support losses before each step.
  BOOST_CHECK_EQUAL(res.losses.size(), 3u);
}

BOOST_AUTO_TEST_CASE(truncation_equals_hand_truncated_computation) {
  manual_seed(4);
  Regression r;
  Tensor w0 = rand64({3});
  Tensor lr = scalar_tensor(0.05, dtype(float64)).requires_grad_(true);
  InnerLoop inner(tiny_sgd(0.05, 0.9), InnerLoopOptions(10).truncate_every(5));
  auto res = inner.run([&](const ParamMap& p) { return r.train(p); }, {{"w", w0}}, {{"lr", lr}});
  auto got = autograd::grad({r.val(res.params)}, {lr, w0}, {}, {.allow_unused = true});
  BOOST_CHECK(!got[1].defined());  // the initial parameters lie before the last window

  // By hand: 5 steps, then detach the parameters and the momentum buffer, then 5 more.
  Tensor w = w0, b;
  for (int k = 0; k < 10; ++k) {
    if (k == 5) {
      w = w.detach().requires_grad_(true);
      b = b.detach();
    }
    Tensor g = autograd::grad({r.train({{"w", w}})}, {w}, {}, {.create_graph = true})[0];
    b = k == 0 ? g : b * 0.9 + g;
    w = w - lr * b;
  }
  auto want = autograd::grad({r.val({{"w", w}})}, {lr});
  check_close(got[0], want[0], 1e-12);
  check_close(res.params.at("w"), w, 1e-12);
}

BOOST_AUTO_TEST_CASE(truncation_keeps_the_graph_flat_in_k) {
  manual_seed(5);
  Regression r;
  Tensor w0 = rand64({3});
  Tensor lr = scalar_tensor(0.05, dtype(float64)).requires_grad_(true);
  auto graph_size = [&](std::int64_t K, std::int64_t N, std::vector<std::weak_ptr<Node>>* seen = nullptr) {
    InnerLoop inner(tiny_sgd(0.05, 0.9), InnerLoopOptions(K).truncate_every(N));
    auto res = inner.run(
        [&](const ParamMap& p) {
          if (seen && p.at("w").grad_fn()) seen->push_back(p.at("w").grad_fn());
          return r.train(p);
        },
        {{"w", w0}}, {{"lr", lr}});
    std::vector<Tensor> held{res.params.at("w")};
    for (auto& [k, t] : res.state[0]) held.push_back(t);
    const std::size_t n = reachable_nodes(held);
    if (seen) {
      // While the result is alive only the last window's step graphs are: earlier ones are freed.
      std::size_t alive = 0;
      for (const auto& wp : *seen) alive += !wp.expired();
      BOOST_CHECK_LE(alive, static_cast<std::size_t>(N));
    }
    return n;
  };
  std::vector<std::weak_ptr<Node>> steps;
  const std::size_t n10 = graph_size(10, 5), n40 = graph_size(40, 5, &steps);
  BOOST_CHECK_GT(n10, 0u);
  BOOST_CHECK_EQUAL(n10, n40);
  BOOST_CHECK_GE(steps.size(), 30u);
  // Without truncation the graph grows with K.
  const std::size_t f10 = graph_size(10, 0), f40 = graph_size(40, 0);
  BOOST_TEST_MESSAGE("graph nodes: truncate_every 5: K=10 " << n10 << ", K=40 " << n40 << "; untruncated: K=10 " << f10
                                                            << ", K=40 " << f40);
  BOOST_CHECK_GT(f40, 3 * f10);
  BOOST_CHECK_GT(f10, n10);
}

BOOST_AUTO_TEST_CASE(no_grad_mode_adapts_without_graph) {
  manual_seed(6);
  auto net = small_mlp();
  Tensor xs = rand64({5, 2}).detach(), ys = rand64({5, 1}).detach();
  auto support = [&](const ParamMap& p) { return mse(nn::functional_call(*net, p, xs), ys); };
  InnerLoop inner(tiny_sgd(0.1), InnerLoopOptions(4));
  auto tracked = inner.run(*net, support);
  optim::InnerLoopResult quiet;
  {
    NoGradGuard ng;
    quiet = inner.run(*net, support);
  }
  for (auto& [n, t] : quiet.params) {
    BOOST_CHECK(!t.requires_grad());
    check_close(t, tracked.params.at(n), 1e-12);
  }
  BOOST_CHECK(tracked.params.at("0.weight").requires_grad());
  // The losses decrease on this problem and match between the modes.
  for (std::size_t k = 0; k < 4; ++k) BOOST_CHECK_CLOSE(quiet.losses[k], tracked.losses[k], 1e-9);
  BOOST_CHECK_LT(tracked.losses[3], tracked.losses[0]);
}

BOOST_AUTO_TEST_CASE(subset_zero_steps_and_unused_parameters) {
  manual_seed(7);
  auto net = small_mlp();
  Tensor xs = rand64({5, 2}).detach(), ys = rand64({5, 1}).detach();
  auto support = [&](const ParamMap& p) { return mse(nn::functional_call(*net, p, xs), ys); };
  // Adapt only the head (ANIL-style): the other parameters are the module's own.
  Tensor head = net->named_parameters()[2].second;
  InnerLoop inner(tiny_sgd(0.1), InnerLoopOptions(2));
  auto res = inner.run(*net, support, {{"2.weight", head}});
  BOOST_CHECK_EQUAL(res.params.size(), 1u);
  BOOST_CHECK(res.params.at("2.weight").grad_fn() != nullptr);
  // K = 0 returns the initial tensors.
  auto none = InnerLoop(tiny_sgd(0.1), InnerLoopOptions(0)).run(*net, support);
  BOOST_CHECK_EQUAL(none.params.size(), 4u);
  BOOST_CHECK(none.params.at("0.bias").is_same(net->named_parameters()[1].second));
  BOOST_CHECK(none.losses.empty());
  // A parameter the loss does not use gets a zero gradient: it stays unchanged.
  Tensor unused = rand64({2});
  auto res2 = inner.run(
      [&](const ParamMap& p) {
        return support({{"2.weight", p.at("2.weight")}});
      },
      {{"2.weight", head}, {"z", unused}});
  check_close(res2.params.at("z"), unused, 0.0);
  // Data that does not require grad is adapted through a differentiable alias; the input is untouched.
  Tensor data = rand64({3}).detach();
  Regression r;
  auto res3 = inner.run([&](const ParamMap& p) { return r.train(p); }, {{"w", data}});
  BOOST_CHECK(!data.requires_grad());
  BOOST_CHECK(res3.params.at("w").requires_grad());
}

BOOST_AUTO_TEST_CASE(with_the_library_functional_optimizers) {
  manual_seed(8);
  Regression r;
  Tensor w0 = rand64({3});
  auto train = [&](const ParamMap& p) { return r.train(p); };
  auto run = [&](std::shared_ptr<fo::FunctionalOptimizer> opt, const Tensor& lr) {
    return InnerLoop(std::move(opt), InnerLoopOptions(3)).run(train, {{"w", w0}}, {{"lr", lr}});
  };
  Tensor lr = scalar_tensor(0.05, dtype(float64)).requires_grad_(true);
  // functional SGD with momentum: the same values and hypergradient as TinySGD.
  auto a = run(fo::make(optim::SGDOptions(0.05).momentum(0.5)), lr);
  auto b = run(tiny_sgd(0.05, 0.5), lr);
  check_close(a.params.at("w"), b.params.at("w"), 1e-12);
  check_close(autograd::grad({r.val(a.params)}, {lr})[0], autograd::grad({r.val(b.params)}, {lr})[0], 1e-12);
  // Adam: the hypergradient of its lr against central finite differences.
  auto adam = fo::make(optim::AdamOptions(0.05));
  const double g = autograd::grad({r.val(run(adam, lr).params)}, {lr})[0].item<double>();
  const double h = 1e-6;
  const double fd = (r.val(run(adam, scalar_tensor(0.05 + h, dtype(float64))).params).item<double>() -
                     r.val(run(adam, scalar_tensor(0.05 - h, dtype(float64))).params).item<double>()) /
                    (2 * h);
  BOOST_TEST_MESSAGE("Adam: hypergradient " << g << ", finite differences " << fd);
  BOOST_CHECK_MESSAGE(std::fabs(g - fd) <= 1e-6 * std::fabs(fd), "Adam hypergradient " << g << " vs " << fd);
}

BOOST_AUTO_TEST_CASE(errors) {
  auto net = small_mlp();
  Tensor xs = rand64({5, 2}).detach(), ys = rand64({5, 1}).detach();
  auto support = [&](const ParamMap& p) { return mse(nn::functional_call(*net, p, xs), ys); };
  XGRAD_CHECK_THROW_MSG(InnerLoop(tiny_sgd(0.1), InnerLoopOptions(-1)), "InnerLoop: invalid steps -1 (must be >= 0)");
  XGRAD_CHECK_THROW_MSG(InnerLoop(tiny_sgd(0.1), InnerLoopOptions(2).truncate_every(-3)),
                        "InnerLoop: invalid truncate_every -3 (must be >= 0)");
  XGRAD_CHECK_THROW_MSG(InnerLoop(nullptr), "InnerLoop: the functional optimizer is null");
  InnerLoop inner(tiny_sgd(0.1), InnerLoopOptions(2));
  XGRAD_CHECK_THROW_MSG(inner.run(support, {}), "InnerLoop: the parameter map is empty");
  XGRAD_CHECK_THROW_MSG(inner.run(*net, support, {{"0.weight", net->parameters()[0]}, {"fc.weight", rand64({1})}}),
                        "InnerLoop: 'fc.weight' is not a parameter of Sequential (it has: 0.weight, 0.bias, "
                        "2.weight, 2.bias)");
  XGRAD_CHECK_THROW_MSG(inner.run(support, {{"0.weight", Tensor()}}), "InnerLoop: parameter '0.weight' is undefined");
  XGRAD_CHECK_THROW_MSG(inner.run(*net, [&](const ParamMap& p) { return nn::functional_call(*net, p, xs); }),
                        "InnerLoop: step 0: the loss must have one element, got shape [5, 1]");
  XGRAD_CHECK_THROW_MSG(inner.run(*net, [&](const ParamMap&) { return ys.sum(); }),
                        "InnerLoop: step 0: the loss does not require grad");
}

BOOST_AUTO_TEST_SUITE_END()
