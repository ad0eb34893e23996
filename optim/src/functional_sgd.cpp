// functional::sgd: the formulas of optim/src/sgd.cpp with differentiable ops.
#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/optim/functional.hpp"

namespace xgrad::optim::functional {

using detail::mul_s;
using detail::Scalar;

namespace detail {
const std::vector<std::string>& hyper_names(const SGDOptions&) {
  static const std::vector<std::string> names{"lr", "momentum", "dampening", "weight_decay"};
  return names;
}
}  // namespace detail

State init(const std::vector<Tensor>& params, const SGDOptions& options) {
  options.validate();
  return detail::init_each("SGD", params, [](const Tensor&) { return ParamState{}; });
}

StepResult sgd(const std::vector<Tensor>& params, const std::vector<Tensor>& grads, const State& state,
               const SGDOptions& o, const Hyper& hyper) {
  o.validate();
  const detail::Hypers h("SGD", hyper, detail::hyper_names(o));
  const Scalar lr = h.get("lr", o.lr()), mu = h.get("momentum", o.momentum());
  const Scalar one_minus_damp = Scalar(1.0) - h.get("dampening", o.dampening());
  const Scalar wd = h.get("weight_decay", o.weight_decay());
  const bool nesterov = o.nesterov(), maximize = o.maximize();
  return detail::run_step(
      "SGD", params, grads, state, [&] { return init(params, o); },
      [&](const Tensor& p, const Tensor& g, const ParamState& st, ParamState& next) {
        Tensor d = maximize ? neg(g) : g;
        if (wd.active()) d = add(d, mul_s(p, wd));
        if (mu.active()) {
          const auto it = st.find("momentum_buffer");
          const Tensor b = it == st.end() ? d : add(mul_s(it->second, mu), mul_s(d, one_minus_damp));  // b_1 = g
          next["momentum_buffer"] = b;
          d = nesterov ? add(d, mul_s(b, mu)) : b;
        }
        return add(p, mul_s(d, -lr));
      });
}

}  // namespace xgrad::optim::functional
