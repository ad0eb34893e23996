// ElementwiseOptimizer::step (declared in xgrad/optim/optimizer.hpp). An optimizer's source
// file defines its init_state and update<T>, then instantiates the skeleton:
//   template class ElementwiseOptimizer<Adagrad, AdagradOptions, AdagradParamState>;
#pragma once

#include "update.hpp"
#include "xgrad/autograd/node.hpp"
#include "xgrad/optim/optimizer.hpp"

namespace xgrad::optim {

template <class Derived, class Options, class State>
Tensor ElementwiseOptimizer<Derived, Options, State>::step(const LossClosure& closure) {
  Tensor loss = evaluate_closure(closure);
  NoGradGuard ng;
  const std::string_view op = name();
  for (auto& group : param_groups_) {
    const auto& o = static_cast<const Options&>(group.options());
    for (auto& p : group.params()) {
      const Tensor g = p.grad();
      if (!g.defined()) continue;
      detail::check_grad(p, g, op);
      State& st = lazy_state<State>(p, [] { return State(); });
      Derived::init_state(p, st, o);
      if constexpr (requires { st.step += 1; }) st.step += 1;
      kernel::dispatch_floating(p.dtype(), op, [&]<class T>() {
        Derived::template update<T>(p, p.template data_ptr<T>(), g.template data_ptr<T>(), st, o);
      });
      detail::bump_version(p);
    }
  }
  return loss;
}

}  // namespace xgrad::optim
