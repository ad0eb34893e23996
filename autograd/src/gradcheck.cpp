#include "xgrad/autograd/gradcheck.hpp"

#include <cmath>
#include <random>

#include "kernel.hpp"
#include "view.hpp"
#include "xgrad/autograd/autograd.hpp"
#include "xgrad/autograd/factories.hpp"

namespace xgrad {

namespace {

std::vector<Tensor> run_f(const GradcheckFn& f, const std::vector<Tensor>& inputs) {
  std::vector<Tensor> outs = f(inputs);
  for (const Tensor& o : outs) {
    detail::check_defined(o, "gradcheck");
    if (o.dtype() != Dtype::float64)
      throw Error(fmt::format("gradcheck: outputs must be float64, got {}", o.describe()));
  }
  // Finite differences perturb the inputs in place: an output that shares storage with an
  // input (a view) would change with them, so keep a copy.
  if (!grad_mode_enabled())
    for (Tensor& o : outs) o = o.clone();
  return outs;
}

}  // namespace

GradcheckResult gradcheck(const GradcheckFn& f, const std::vector<Tensor>& inputs, const GradcheckOptions& opts) {
  std::vector<std::size_t> checked;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    detail::check_defined(inputs[i], "gradcheck");
    if (inputs[i].dtype() != Dtype::float64 && inputs[i].requires_grad())
      throw Error(fmt::format("gradcheck: input {} must be float64 for a meaningful finite-difference check, got {}", i,
                              inputs[i].describe()));
    if (inputs[i].requires_grad()) checked.push_back(i);
  }
  if (checked.empty()) throw Error("gradcheck: no input requires grad");

  // Numerical Jacobians: num[o][c][e] = d out_o[e] / d input_c (flat element), by central differences.
  std::vector<Tensor> outs0;
  {
    NoGradGuard ng;
    outs0 = run_f(f, inputs);
  }
  std::vector<std::vector<std::vector<double>>> num(outs0.size());
  for (std::size_t o = 0; o < outs0.size(); ++o) num[o].resize(checked.size());
  for (std::size_t c = 0; c < checked.size(); ++c) {
    const Tensor& in = inputs[checked[c]];
    if (!detail::non_overlapping(in.shape(), in.strides()))
      throw Error(fmt::format("gradcheck: input {} ({}, strides {}) has elements that share memory (e.g. an expanded "
                              "tensor); pass a clone()",
                              checked[c], in.describe(), in.strides()));
    // Perturbs logical element e wherever the input's strides put it.
    double* base = in.strided_data_ptr<double>();
    const std::int64_t n = in.numel();
    auto at = [&](std::int64_t e) -> double& {
      std::int64_t off = 0;
      for (std::size_t d = in.shape().size(); d-- > 0;) {
        off += (e % in.shape()[d]) * in.strides()[d];
        e /= in.shape()[d];
      }
      return base[off];
    };
    for (std::size_t o = 0; o < outs0.size(); ++o)
      num[o][c].assign(static_cast<std::size_t>(n * outs0[o].numel()), 0.0);
    for (std::int64_t e = 0; e < n; ++e) {
      double& x = at(e);
      const double orig = x;
      std::vector<Tensor> plus, minus;
      {
        NoGradGuard ng;
        x = orig + opts.eps;
        plus = run_f(f, inputs);
        x = orig - opts.eps;
        minus = run_f(f, inputs);
        x = orig;
      }
      for (std::size_t o = 0; o < outs0.size(); ++o) {
        const Tensor pt = detail::packed(plus[o]), mt = detail::packed(minus[o]);
        const double* p = pt.data_ptr<double>();
        const double* m = mt.data_ptr<double>();
        for (std::int64_t k = 0; k < outs0[o].numel(); ++k)
          num[o][c][static_cast<std::size_t>(k * n + e)] = (p[k] - m[k]) / (2.0 * opts.eps);
      }
    }
  }

  // Analytical Jacobians: one backward per output element with a one-hot seed.
  std::vector<Tensor> req;
  for (std::size_t c : checked) req.push_back(inputs[c]);
  std::vector<Tensor> outs = run_f(f, inputs);
  GradcheckResult res;
  double worst_excess = 0.0;
  for (std::size_t o = 0; o < outs.size(); ++o) {
    const std::int64_t m = outs[o].numel();
    for (std::int64_t k = 0; k < m; ++k) {
      std::vector<Tensor> g(req.size());
      if (outs[o].requires_grad()) {
        Tensor seed = zeros(outs[o].shape(), dtype(Dtype::float64));
        seed.data_ptr<double>()[k] = 1.0;
        autograd::GradOptions go;
        go.retain_graph = true;
        go.allow_unused = true;
        g = autograd::grad({outs[o]}, req, {seed}, go);
      }
      for (std::size_t c = 0; c < req.size(); ++c) {
        const std::int64_t n = req[c].numel();
        const Tensor gc = g[c].defined() ? detail::packed(g[c]) : Tensor();
        const double* a = gc.defined() ? gc.data_ptr<double>() : nullptr;
        for (std::int64_t e = 0; e < n; ++e) {
          const double an = a ? a[e] : 0.0;
          const double nu = num[o][c][static_cast<std::size_t>(k * n + e)];
          const double err = std::fabs(an - nu);
          const double excess = err - (opts.atol + opts.rtol * std::fabs(nu));
          if (err > res.max_abs_error) res.max_abs_error = err;
          if (excess > worst_excess || (res.worst_index < 0 && err >= res.max_abs_error)) {
            if (excess > worst_excess) worst_excess = excess;
            res.worst_input = checked[c];
            res.worst_output = static_cast<std::size_t>(k);
            res.worst_index = e;
            res.analytical = an;
            res.numerical = nu;
          }
        }
      }
    }
  }
  res.ok = worst_excess <= 0.0;
  res.message = fmt::format(
      "gradcheck {}: worst element is input {} index {} (d output element {}): analytical {:.10g} vs numerical "
      "{:.10g}; max |error| {:.3g} (atol {}, rtol {})",
      res.ok ? "passed" : "failed", res.worst_input, res.worst_index, res.worst_output,
      res.analytical, res.numerical, res.max_abs_error, opts.atol, opts.rtol);
  if (!res.ok && opts.raise_exception) throw Error(res.message);
  return res;
}

GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                          const std::vector<Tensor>& inputs, const GradcheckOptions& opts) {
  return gradcheck(GradcheckFn([&](const std::vector<Tensor>& in) { return std::vector<Tensor>{f(in)}; }), inputs,
                   opts);
}

GradcheckResult gradgradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                              const std::vector<Tensor>& inputs, const GradcheckOptions& opts) {
  Tensor out0;
  {
    NoGradGuard ng;
    out0 = f(inputs);
  }
  // A fixed "random" cotangent v, independent of the global generator.
  Tensor v = empty(out0.shape(), dtype(Dtype::float64));
  std::mt19937_64 rng(1234);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  for (std::int64_t i = 0; i < v.numel(); ++i) v.data_ptr<double>()[i] = u(rng);

  GradcheckFn first = [&](const std::vector<Tensor>& in) {
    GradModeGuard on(true);  // the finite differences call this under no-grad
    std::vector<Tensor> req;
    for (const Tensor& t : in)
      if (t.requires_grad()) req.push_back(t);
    Tensor out = f(in);
    std::vector<Tensor> result;
    if (!out.requires_grad()) return result;
    autograd::GradOptions go;
    go.create_graph = true;
    go.allow_unused = true;
    for (Tensor& g : autograd::grad({out}, req, {v}, go))
      if (g.defined()) result.push_back(g);
    return result;
  };
  return gradcheck(first, inputs, opts);
}

}  // namespace xgrad
