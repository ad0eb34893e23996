#include "xgrad/optim/lbfgs.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string_view>

#include "update.hpp"
#include "xgrad/autograd/node.hpp"

namespace xgrad::optim {

void StrongWolfeOrNone::operator()(std::string_view owner, std::string_view name,
                                   const std::optional<std::string>& v) const {
  if (v && *v != "strong_wolfe") {
    throw Error(fmt::format("{}: invalid {} '{}' (only \"strong_wolfe\" or none is supported)", owner, name, *v));
  }
}

void StrongWolfeOrNone::visit(OptionsVisitor& v, std::string_view, std::optional<std::string>& value) const {
  bool strong_wolfe = value.has_value();
  v("line_search_strong_wolfe", strong_wolfe);
  value = strong_wolfe ? std::optional<std::string>("strong_wolfe") : std::nullopt;
}

namespace {

void check_one_dtype(const std::vector<Tensor>& ps) {
  for (const auto& p : ps) {
    if (p.dtype() != ps[0].dtype()) {
      throw Error(
          fmt::format("LBFGS: all parameters must share one dtype, got {} and {}", ps[0].describe(), p.describe()));
    }
  }
}

// The flat state vectors must match the flattened parameters and the history lists each
// other: a parameter whose data was replaced by another shape, or a state dict of other
// parameters, would otherwise be read out of bounds.
void check_flat_state(const LBFGSParamState& state, std::int64_t numel) {
  auto check = [&](std::string_view name, std::size_t i, const Tensor& t) {
    if (t.defined() && t.numel() != numel) {
      const std::string key = i == SIZE_MAX ? std::string(name) : fmt::format("{}.{}", name, i);
      throw Error(
          fmt::format("LBFGS: the state '{}' holds {} elements but the parameters hold {} in all (did a parameter "
                      "change shape after a step? build a new optimizer, or load a state dict that matches)",
                      key, t.numel(), numel));
    }
  };
  check("d", SIZE_MAX, state.d);
  check("prev_flat_grad", SIZE_MAX, state.prev_flat_grad);
  for (std::size_t i = 0; i < state.old_dirs.size(); ++i) check("old_dirs", i, state.old_dirs[i]);
  for (std::size_t i = 0; i < state.old_stps.size(); ++i) check("old_stps", i, state.old_stps[i]);
  if (state.old_stps.size() != state.old_dirs.size() || state.ro.size() != state.old_dirs.size()) {
    throw Error(fmt::format("LBFGS: the state holds {} old_dirs, {} old_stps and {} ro (they must be as many)",
                            state.old_dirs.size(), state.old_stps.size(), state.ro.size()));
  }
}

}  // namespace

LBFGS::LBFGS(const std::vector<ParamGroup>& groups, const LBFGSOptions& defaults)
    : Optimizer(groups, std::make_unique<LBFGSOptions>(defaults)) {
  if (param_groups_.size() != 1) {
    throw Error(fmt::format("LBFGS: doesn't support per-parameter options (got {} parameter groups, expected 1)",
                            param_groups_.size()));
  }
  check_one_dtype(param_groups_[0].params());
}

namespace {

// Flat-vector arithmetic in the parameters' dtype T (dot products accumulate in double).
template <class T>
struct Flat {
  static Tensor make(std::int64_t n, Dtype d) { return xgrad::detail::make_tensor({n}, d); }
  static double dot(const Tensor& a, const Tensor& b) {
    const T* x = a.data_ptr<T>();
    const T* y = b.data_ptr<T>();
    double s = 0.0;
    for (std::int64_t i = 0; i < a.numel(); ++i) s += static_cast<double>(x[i]) * static_cast<double>(y[i]);
    return s;
  }
  static double abs_max(const Tensor& a) {
    const T* x = a.data_ptr<T>();
    double m = 0.0;
    for (std::int64_t i = 0; i < a.numel(); ++i) m = std::max(m, static_cast<double>(std::abs(x[i])));
    return m;
  }
  static double abs_sum(const Tensor& a) {
    const T* x = a.data_ptr<T>();
    double s = 0.0;
    for (std::int64_t i = 0; i < a.numel(); ++i) s += static_cast<double>(std::abs(x[i]));
    return s;
  }
  // out = a * s
  static Tensor scaled(const Tensor& a, double s) {
    Tensor out = make(a.numel(), a.dtype());
    const T* x = a.data_ptr<T>();
    T* o = out.data_ptr<T>();
    const T st = static_cast<T>(s);
    for (std::int64_t i = 0; i < a.numel(); ++i) o[i] = x[i] * st;
    return out;
  }
  static Tensor sub(const Tensor& a, const Tensor& b) {
    Tensor out = make(a.numel(), a.dtype());
    const T* x = a.data_ptr<T>();
    const T* y = b.data_ptr<T>();
    T* o = out.data_ptr<T>();
    for (std::int64_t i = 0; i < a.numel(); ++i) o[i] = x[i] - y[i];
    return out;
  }
  // a += alpha * b
  static void add_(Tensor& a, const Tensor& b, double alpha) {
    T* x = a.data_ptr<T>();
    const T* y = b.data_ptr<T>();
    const T al = static_cast<T>(alpha);
    for (std::int64_t i = 0; i < a.numel(); ++i) x[i] = x[i] + al * y[i];
  }
  static Tensor copy(const Tensor& a) {
    Tensor out = make(a.numel(), a.dtype());
    std::copy_n(a.data_ptr<T>(), a.numel(), out.data_ptr<T>());
    return out;
  }
};

double cubic_interpolate(double x1, double f1, double g1, double x2, double f2, double g2,
                         std::optional<std::pair<double, double>> bounds = std::nullopt) {
  double xmin_bound, xmax_bound;
  if (bounds) {
    std::tie(xmin_bound, xmax_bound) = *bounds;
  } else if (x1 <= x2) {
    xmin_bound = x1, xmax_bound = x2;
  } else {
    xmin_bound = x2, xmax_bound = x1;
  }
  // Most common case: cubic interpolation of 2 points with function and derivative values
  // for both (Nocedal & Wright, eq. 3.59).
  const double d1 = g1 + g2 - 3.0 * (f1 - f2) / (x1 - x2);
  const double d2_square = d1 * d1 - g1 * g2;
  if (d2_square >= 0.0) {
    const double d2 = std::sqrt(d2_square);
    const double min_pos = x1 <= x2 ? x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2.0 * d2))
                                    : x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2.0 * d2));
    return std::min(std::max(min_pos, xmin_bound), xmax_bound);
  }
  return (xmin_bound + xmax_bound) / 2.0;
}

template <class T>
class LBFGSRun {
 public:
  LBFGSRun(std::vector<Tensor>& params, const LossClosure& closure) : params_(params), closure_(closure) {
    for (const auto& p : params_) numel_ += p.numel();
    dtype_ = params_[0].dtype();
  }

  /// The closure's loss (grad mode on), checked to be one number.
  Tensor evaluate_loss() {
    Tensor loss;
    {
      GradModeGuard enable(true);
      loss = closure_();
    }
    if (!loss.defined() || loss.numel() != 1) {
      throw Error(fmt::format("LBFGS: the closure must return the loss as a one-element tensor, got {}",
                              loss.defined() ? loss.describe() : std::string("an undefined tensor")));
    }
    return loss;
  }
  double evaluate() { return evaluate_loss().template item<double>(); }

  Tensor gather_flat_grad() const {
    Tensor out = Flat<T>::make(numel_, dtype_);
    T* o = out.data_ptr<T>();
    for (const auto& p : params_) {
      const Tensor g = p.grad();
      if (g.defined()) {
        detail::check_grad(p, g, "LBFGS");
        std::copy_n(g.data_ptr<T>(), p.numel(), o);
      } else {
        std::fill_n(o, p.numel(), T(0));
      }
      o += p.numel();
    }
    return out;
  }

  // p += step_size * update, parameter by parameter.
  void add_grad(double step_size, const Tensor& update) {
    const T* u = update.data_ptr<T>();
    const T s = static_cast<T>(step_size);
    for (auto& p : params_) {
      T* x = p.data_ptr<T>();
      for (std::int64_t i = 0; i < p.numel(); ++i) x[i] = x[i] + s * u[i];
      u += p.numel();
      detail::bump_version(p);
    }
  }

  std::vector<Tensor> clone_params() const {
    std::vector<Tensor> out;
    for (const auto& p : params_) out.push_back(Flat<T>::copy(p));
    return out;
  }

  void set_params(const std::vector<Tensor>& x) {
    for (std::size_t k = 0; k < params_.size(); ++k) {
      std::copy_n(x[k].data_ptr<T>(), params_[k].numel(), params_[k].data_ptr<T>());
      detail::bump_version(params_[k]);
    }
  }

  // f and g at x + t d, then the parameters are restored to x.
  std::pair<double, Tensor> directional_evaluate(const std::vector<Tensor>& x, double t, const Tensor& d) {
    add_grad(t, d);
    const double loss = evaluate();
    Tensor flat_grad = gather_flat_grad();
    set_params(x);
    return {loss, flat_grad};
  }

  struct WolfeResult {
    double f_new;
    Tensor g_new;
    double t;
    std::int64_t ls_func_evals;
  };

  WolfeResult strong_wolfe(const std::vector<Tensor>& x, double t, const Tensor& d, double f, const Tensor& g0,
                           double gtd, double c1 = 1e-4, double c2 = 0.9, double tolerance_change = 1e-9,
                           std::int64_t max_ls = 25) {
    const double d_norm = Flat<T>::abs_max(d);
    Tensor g = Flat<T>::copy(g0);
    auto [f_new, g_new] = directional_evaluate(x, t, d);
    std::int64_t ls_func_evals = 1;
    double gtd_new = Flat<T>::dot(g_new, d);

    // Bracket an interval containing a point satisfying the Wolfe criteria.
    double t_prev = 0.0, f_prev = f, gtd_prev = gtd;
    Tensor g_prev = g;
    bool done = false;
    std::int64_t ls_iter = 0;
    std::vector<double> bracket, bracket_f, bracket_gtd;
    std::vector<Tensor> bracket_g;
    while (ls_iter < max_ls) {
      if (f_new > (f + c1 * t * gtd) || (ls_iter > 1 && f_new >= f_prev)) {
        bracket = {t_prev, t};
        bracket_f = {f_prev, f_new};
        bracket_g = {g_prev, Flat<T>::copy(g_new)};
        bracket_gtd = {gtd_prev, gtd_new};
        break;
      }
      if (std::abs(gtd_new) <= -c2 * gtd) {
        bracket = {t};
        bracket_f = {f_new};
        bracket_g = {g_new};
        done = true;
        break;
      }
      if (gtd_new >= 0) {
        bracket = {t_prev, t};
        bracket_f = {f_prev, f_new};
        bracket_g = {g_prev, Flat<T>::copy(g_new)};
        bracket_gtd = {gtd_prev, gtd_new};
        break;
      }
      // interpolate
      const double min_step = t + 0.01 * (t - t_prev);
      const double max_step = t * 10.0;
      const double tmp = t;
      t = cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, std::make_pair(min_step, max_step));
      // next step
      t_prev = tmp;
      f_prev = f_new;
      g_prev = Flat<T>::copy(g_new);
      gtd_prev = gtd_new;
      std::tie(f_new, g_new) = directional_evaluate(x, t, d);
      ls_func_evals += 1;
      gtd_new = Flat<T>::dot(g_new, d);
      ls_iter += 1;
    }
    // reached the maximum number of iterations?
    if (ls_iter == max_ls) {
      bracket = {0.0, t};
      bracket_f = {f, f_new};
      bracket_g = {g, g_new};
    }

    // Zoom phase: we now have a point satisfying the criteria, or a bracket around it. Refine
    // the bracket until we find the exact point satisfying the criteria.
    bool insuf_progress = false;
    std::size_t low_pos = 0, high_pos = 0;
    if (bracket.size() == 2) {
      low_pos = bracket_f[0] <= bracket_f[1] ? 0 : 1;
      high_pos = 1 - low_pos;
    }
    while (!done && ls_iter < max_ls) {
      // line-search bracket is so small
      if (std::abs(bracket[1] - bracket[0]) * d_norm < tolerance_change) break;
      // compute new trial value
      t = cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1]);

      // Test that we are making sufficient progress: if t is so close to the boundary, we mark
      // insufficient progress, and if we made insufficient progress in the last step too, or
      // t is at one of the boundaries, we move t to 0.1 * len(bracket) away from the nearest
      // boundary point.
      const double bmax = std::max(bracket[0], bracket[1]), bmin = std::min(bracket[0], bracket[1]);
      const double eps = 0.1 * (bmax - bmin);
      if (std::min(bmax - t, t - bmin) < eps) {
        // interpolation close to boundary
        if (insuf_progress || t >= bmax || t <= bmin) {
          // evaluate at 0.1 away from boundary
          t = std::abs(t - bmax) < std::abs(t - bmin) ? bmax - eps : bmin + eps;
          insuf_progress = false;
        } else {
          insuf_progress = true;
        }
      } else {
        insuf_progress = false;
      }

      // Evaluate new point
      std::tie(f_new, g_new) = directional_evaluate(x, t, d);
      ls_func_evals += 1;
      gtd_new = Flat<T>::dot(g_new, d);
      ls_iter += 1;

      if (f_new > (f + c1 * t * gtd) || f_new >= bracket_f[low_pos]) {
        // Armijo condition not satisfied or not lower than the lowest point
        bracket[high_pos] = t;
        bracket_f[high_pos] = f_new;
        bracket_g[high_pos] = Flat<T>::copy(g_new);
        bracket_gtd[high_pos] = gtd_new;
        low_pos = bracket_f[0] <= bracket_f[1] ? 0 : 1;
        high_pos = 1 - low_pos;
      } else {
        if (std::abs(gtd_new) <= -c2 * gtd) {
          done = true;  // Wolfe conditions satisfied
        } else if (gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0) {
          // old high becomes new low
          bracket[high_pos] = bracket[low_pos];
          bracket_f[high_pos] = bracket_f[low_pos];
          bracket_g[high_pos] = bracket_g[low_pos];
          bracket_gtd[high_pos] = bracket_gtd[low_pos];
        }
        // new point becomes new low
        bracket[low_pos] = t;
        bracket_f[low_pos] = f_new;
        bracket_g[low_pos] = Flat<T>::copy(g_new);
        bracket_gtd[low_pos] = gtd_new;
      }
    }
    return {bracket_f[low_pos], bracket_g[low_pos], bracket[low_pos], ls_func_evals};
  }

  Tensor run(const LBFGSOptions& o, LBFGSParamState& state) {
    const double lr = o.lr(), tolerance_grad = o.tolerance_grad(), tolerance_change = o.tolerance_change();
    const std::int64_t max_iter = o.max_iter(), max_eval = o.resolved_max_eval();
    const std::size_t history_size = static_cast<std::size_t>(o.history_size());

    // evaluate initial f(x) and df/dx
    const Tensor orig_loss = evaluate_loss();
    double loss = orig_loss.item<double>();
    std::int64_t current_evals = 1;
    state.func_evals += 1;

    Tensor flat_grad = gather_flat_grad();
    bool opt_cond = Flat<T>::abs_max(flat_grad) <= tolerance_grad;
    if (opt_cond) return orig_loss;

    Tensor& d = state.d;
    double& t = state.t;
    auto& old_dirs = state.old_dirs;
    auto& old_stps = state.old_stps;
    auto& ro = state.ro;
    double& H_diag = state.H_diag;
    Tensor& prev_flat_grad = state.prev_flat_grad;
    double& prev_loss = state.prev_loss;
    std::vector<double> al(history_size, 0.0);

    std::int64_t n_iter = 0;
    while (n_iter < max_iter) {
      n_iter += 1;
      state.n_iter += 1;

      // ---- compute the descent direction ----
      if (state.n_iter == 1) {
        d = Flat<T>::scaled(flat_grad, -1.0);
        old_dirs.clear();
        old_stps.clear();
        ro.clear();
        H_diag = 1.0;
      } else {
        // do the L-BFGS update (update memory)
        Tensor y = Flat<T>::sub(flat_grad, prev_flat_grad);
        Tensor s = Flat<T>::scaled(d, t);
        const double ys = Flat<T>::dot(y, s);
        if (ys > 1e-10) {
          if (old_dirs.size() == history_size) {  // shift the history by one
            old_dirs.erase(old_dirs.begin());
            old_stps.erase(old_stps.begin());
            ro.erase(ro.begin());
          }
          old_dirs.push_back(y);
          old_stps.push_back(s);
          ro.push_back(1.0 / ys);
          H_diag = ys / Flat<T>::dot(y, y);  // scale of the initial Hessian approximation
        }
        // two-loop recursion: q = -H g
        const std::size_t num_old = old_dirs.size();
        if (al.size() < num_old) al.resize(num_old);  // history_size lowered after a step
        Tensor q = Flat<T>::scaled(flat_grad, -1.0);
        for (std::size_t k = num_old; k-- > 0;) {
          al[k] = Flat<T>::dot(old_stps[k], q) * ro[k];
          Flat<T>::add_(q, old_dirs[k], -al[k]);
        }
        // multiply by the initial Hessian; r/d is the final direction
        Tensor r = Flat<T>::scaled(q, H_diag);
        for (std::size_t k = 0; k < num_old; ++k) {
          const double be_i = Flat<T>::dot(old_dirs[k], r) * ro[k];
          Flat<T>::add_(r, old_stps[k], al[k] - be_i);
        }
        d = r;
      }
      prev_flat_grad = Flat<T>::copy(flat_grad);
      prev_loss = loss;

      // ---- compute the step length ----
      t = state.n_iter == 1 ? std::min(1.0, 1.0 / Flat<T>::abs_sum(flat_grad)) * lr : lr;
      const double gtd = Flat<T>::dot(flat_grad, d);  // directional derivative
      if (gtd > -tolerance_change) break;             // below tolerance

      std::int64_t ls_func_evals = 0;
      if (o.line_search_fn()) {
        const std::vector<Tensor> x_init = clone_params();
        auto res = strong_wolfe(x_init, t, d, loss, flat_grad, gtd);
        loss = res.f_new;
        flat_grad = res.g_new;
        t = res.t;
        ls_func_evals = res.ls_func_evals;
        add_grad(t, d);
        opt_cond = Flat<T>::abs_max(flat_grad) <= tolerance_grad;
      } else {
        // no line search: move with the fixed step
        add_grad(t, d);
        if (n_iter != max_iter) {
          // re-evaluate only if not in the last iteration (in a stochastic setting there is
          // no use evaluating here)
          loss = evaluate();
          flat_grad = gather_flat_grad();
          opt_cond = Flat<T>::abs_max(flat_grad) <= tolerance_grad;
          ls_func_evals = 1;
        }
      }
      current_evals += ls_func_evals;
      state.func_evals += ls_func_evals;

      // ---- check conditions ----
      if (n_iter == max_iter) break;
      if (current_evals >= max_eval) break;
      if (opt_cond) break;
      if (Flat<T>::abs_max(d) * std::abs(t) <= tolerance_change) break;  // lack of progress
      if (std::abs(loss - prev_loss) < tolerance_change) break;
    }
    return orig_loss;
  }

 private:
  std::vector<Tensor>& params_;
  const LossClosure& closure_;
  std::int64_t numel_ = 0;
  Dtype dtype_ = Dtype::float32;
};

}  // namespace

Tensor LBFGS::step(const LossClosure& closure) {
  if (!closure) {
    throw Error("LBFGS: step() requires a closure that re-evaluates the model and returns the loss");
  }
  if (param_groups_.size() != 1) {
    throw Error(fmt::format("LBFGS: doesn't support per-parameter options (got {} parameter groups, expected 1)",
                            param_groups_.size()));
  }
  auto& group = param_groups_[0];
  if (group.params().empty()) return evaluate_closure(closure);
  const auto& o = static_cast<const LBFGSOptions&>(group.options());
  check_one_dtype(group.params());
  NoGradGuard ng;
  auto& state = lazy_state<LBFGSParamState>(group.params()[0], [] { return LBFGSParamState(); });
  std::int64_t numel = 0;
  for (const auto& p : group.params()) numel += p.numel();
  check_flat_state(state, numel);
  Tensor loss;
  kernel::dispatch_floating(group.params()[0].dtype(), "LBFGS", [&]<class T>() {
    LBFGSRun<T> run(group.params(), closure);
    loss = run.run(o, state);
  });
  return loss;
}

}  // namespace xgrad::optim
