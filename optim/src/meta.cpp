#include "xgrad/optim/meta.hpp"

#include <set>

#include "xgrad/autograd/autograd.hpp"
#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/node.hpp"

namespace xgrad::optim {

namespace {

// A tensor the inner gradient can be taken w.r.t. without touching t: t itself when it
// requires grad, else a detached alias that does.
Tensor differentiable(const Tensor& t) { return t.requires_grad() ? t : t.detach().requires_grad_(true); }

// Every parameter and state tensor cut from its history (truncation, or no-grad mode).
void detach_all(std::vector<Tensor>& params, functional::State& state) {
  for (Tensor& p : params) p = p.detach().requires_grad_(true);
  for (auto& st : state)
    for (auto& [key, t] : st)
      if (t.defined()) t = t.detach();
}

}  // namespace

InnerLoop::InnerLoop(std::shared_ptr<functional::FunctionalOptimizer> optimizer, InnerLoopOptions options)
    : optimizer_(std::move(optimizer)), options_(options) {
  if (!optimizer_) throw Error("InnerLoop: the functional optimizer is null");
  options::validate_options(options_, "InnerLoop");
}

InnerLoopResult InnerLoop::run(const LossFn& loss_fn, const ParamMap& initial, const functional::Hyper& hyper,
                               const functional::State& initial_state) const {
  options::validate_options(options_, "InnerLoop");
  if (!loss_fn) throw Error("InnerLoop: the loss function is empty");
  if (initial.empty()) throw Error("InnerLoop: the parameter map is empty (nothing to adapt)");
  std::vector<std::string> names;
  std::vector<Tensor> params;
  for (const auto& [name, p] : initial) {
    if (!p.defined()) throw Error(fmt::format("InnerLoop: parameter '{}' is undefined", name));
    names.push_back(name);
    params.push_back(p);
  }
  auto as_map = [&](const std::vector<Tensor>& ps) {
    ParamMap m;
    for (std::size_t i = 0; i < ps.size(); ++i) m.emplace(names[i], ps[i]);
    return m;
  };

  InnerLoopResult result;
  functional::State state = initial_state;
  const std::int64_t K = options_.steps();
  const std::int64_t N = options_.truncate_every();
  const bool track = grad_mode_enabled();  // the caller's mode: record the steps or not
  const bool create_graph = track && !options_.first_order();
  result.losses.reserve(static_cast<std::size_t>(K));
  for (std::int64_t k = 0; k < K; ++k) {
    if (!track || (N > 0 && k > 0 && k % N == 0)) {
      detach_all(params, state);
    } else {
      for (Tensor& p : params) p = differentiable(p);
    }
    Tensor loss;
    std::vector<Tensor> grads;
    {
      GradModeGuard on(true);
      loss = loss_fn(as_map(params));
      if (!loss.defined())
        throw Error(fmt::format("InnerLoop: step {}: the loss function returned an undefined tensor", k));
      if (loss.numel() != 1)
        throw Error(fmt::format("InnerLoop: step {}: the loss must have one element, got shape {}", k, loss.shape()));
      if (!loss.requires_grad())
        throw Error(
            fmt::format("InnerLoop: step {}: the loss does not require grad (it depends on none of the "
                        "parameters {})",
                        k, fmt::join(names, ", ")));
      // retain_graph: the loss graph reaches back into theta_k's history, which the outer
      // loss still needs; it is freed with the last reference to it.
      grads = autograd::grad({loss}, params, {},
                             {.retain_graph = true, .create_graph = create_graph, .allow_unused = true});
    }
    for (std::size_t i = 0; i < grads.size(); ++i) {
      if (!grads[i].defined()) {
        grads[i] = zeros_like(params[i]);
      } else if (!create_graph && grads[i].requires_grad()) {
        grads[i] = grads[i].detach();
      }
    }
    result.losses.push_back(loss.item<double>());
    loss = Tensor();
    functional::StepResult r = optimizer_->step(params, grads, state, hyper);
    params = std::move(r.params);
    state = std::move(r.state);
  }
  if (!track) {
    for (Tensor& p : params) p = p.detach();
    for (auto& st : state)
      for (auto& [key, t] : st)
        if (t.defined()) t = t.detach();
  }
  result.params = as_map(params);
  result.state = std::move(state);
  return result;
}

InnerLoopResult InnerLoop::run_on(const std::string& module_name,
                                  const std::vector<std::pair<std::string, Tensor>>& own, const LossFn& loss,
                                  const ParamMap& params, const functional::Hyper& hyper) const {
  if (!params.empty()) {
    std::set<std::string> known;
    for (const auto& [n, t] : own) known.insert(n);
    std::vector<std::string> unknown;
    for (const auto& [n, t] : params)
      if (!known.count(n)) unknown.push_back("'" + n + "'");
    if (!unknown.empty()) {
      std::vector<std::string> have;
      for (const auto& [n, t] : own) have.push_back(n);
      throw Error(fmt::format("InnerLoop: {} {} not a parameter of {} (it has: {})", fmt::join(unknown, ", "),
                              unknown.size() == 1 ? "is" : "are", module_name,
                              have.empty() ? "none" : fmt::format("{}", fmt::join(have, ", "))));
    }
    return run(loss, params, hyper);
  }
  ParamMap all;
  for (const auto& [n, t] : own)
    if (t.requires_grad()) all.emplace(n, t);
  if (all.empty())
    throw Error(fmt::format("InnerLoop: {} has no parameter that requires grad (nothing to adapt)", module_name));
  return run(loss, all, hyper);
}

}  // namespace xgrad::optim
