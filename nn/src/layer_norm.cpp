// layer_norm and rms_norm: a fused forward (per-row statistics and output in one task per
// row) and a fused backward (PyTorch's formulas), plus the LayerNorm and RMSNorm modules.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/kernel/kernel.hpp"
#include "xgrad/autograd/node.hpp"
#include "xgrad/autograd/reduction.hpp"
#include "xgrad/autograd/shape.hpp"
#include "xgrad/nn/layer_norm.hpp"
#include "xgrad/autograd/profile_scope.hpp"

namespace xgrad::nn {

namespace checks {
void NormalizedShape::operator()(std::string_view owner, std::string_view name,
                                 const std::vector<std::int64_t>& s) const {
  if (s.empty()) throw Error(fmt::format("{}: {} must have at least one element, got []", owner, name));
  for (std::int64_t v : s)
    if (v < 0) throw Error(fmt::format("{}: {} must not have negative sizes, got {}", owner, name, s));
}
}  // namespace checks

namespace {

using Grads = std::vector<Tensor>;

// Columns per task in the dweight / dbias reduction.
constexpr std::int64_t kColumnBlock = 64;

// The input as rows x n: n = prod(normalized_shape).
struct Rows {
  std::int64_t rows = 1, n = 1, k = 0;  // k = len(normalized_shape)
};

// Validates the arguments and returns the row layout.
Rows check_args(const Tensor& input, const std::vector<std::int64_t>& ns, const Tensor& weight, const Tensor& bias,
                std::string_view op) {
  xgrad::detail::check_defined(input, op);
  if (!is_floating(input.dtype()))
    throw Error(fmt::format("{}: expected a floating dtype (float32 or float64), got {} for input of shape {}", op,
                            input.dtype(), input.shape()));
  if (ns.empty())
    throw Error(fmt::format("{}: expected normalized_shape to have at least one element, got [] (input of shape {})",
                            op, input.shape()));
  const auto k = static_cast<std::int64_t>(ns.size());
  const Shape& s = input.shape();
  bool match = input.dim() >= k;
  for (std::int64_t i = 0; match && i < k; ++i)
    match = s[static_cast<std::size_t>(input.dim() - k + i)] == ns[static_cast<std::size_t>(i)];
  if (!match) {
    std::string want = "[*";
    for (std::int64_t v : ns) want += fmt::format(", {}", v);
    throw Error(
        fmt::format("{}: normalized_shape {} does not match the trailing dims of input of shape {} "
                    "(expected input of shape {}])",
                    op, ns, s, want));
  }
  for (const auto& [t, what] : {std::pair{&weight, "weight"}, std::pair{&bias, "bias"}}) {
    if (!t->defined()) continue;
    if (t->shape() != ns)
      throw Error(fmt::format("{}: {} of shape {} does not match normalized_shape {}", op, what, t->shape(), ns));
    if (t->dtype() != input.dtype())
      throw Error(fmt::format("{}: {} has dtype {} but the input has dtype {}", op, what, t->dtype(), input.dtype()));
  }
  Rows r;
  r.k = k;
  for (std::int64_t i = 0; i < input.dim(); ++i) (i < input.dim() - k ? r.rows : r.n) *= s[static_cast<std::size_t>(i)];
  return r;
}

// The normalised dims (the last k) and the leading ones.
Dims norm_dims(std::int64_t k) {
  Dims d;
  for (std::int64_t i = -k; i < 0; ++i) d.push_back(i);
  return d;
}
Dims lead_dims(std::int64_t dim, std::int64_t k) {
  Dims d;
  for (std::int64_t i = 0; i < dim - k; ++i) d.push_back(i);
  return d;
}

// Forward: per row, the statistics in double (layer norm: mean, then the centred sum of
// squares; rms: the sum of squares, mean 0), then y = (x - mean) rstd w + b.
template <class T>
void forward_kernel(const T* x, T* y, const T* w, const T* b, const Rows& l, bool rms, double eps, double* mean,
                    double* rstd) {
  const std::int64_t n = l.n;
  kernel::parallel_for(l.rows, kernel::grain_for(n), [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      const T* p = x + r * n;
      T* q = y + r * n;
      double mu = 0.0;
      if (!rms) {
        double s = 0.0;
        for (std::int64_t j = 0; j < n; ++j) s += static_cast<double>(p[j]);
        mu = s / static_cast<double>(n);
      }
      double ss = 0.0;
      for (std::int64_t j = 0; j < n; ++j) {
        const double d = static_cast<double>(p[j]) - mu;
        ss += d * d;
      }
      const double rs = 1.0 / std::sqrt(ss / static_cast<double>(n) + eps);
      mean[r] = mu;
      rstd[r] = rs;
      for (std::int64_t j = 0; j < n; ++j) {
        double v = (static_cast<double>(p[j]) - mu) * rs;
        if (w != nullptr) v *= static_cast<double>(w[j]);
        if (b != nullptr) v += static_cast<double>(b[j]);
        q[j] = static_cast<T>(v);
      }
    }
  });
}

// dx per row: with gw = g w and xhat = (x - mean) rstd,
//   layer norm: dx = rstd (gw - mean(gw) - xhat mean(gw xhat));
//   rms norm:   dx = rstd (gw - xhat mean(gw xhat)).
template <class T>
void dx_kernel(const T* g, const T* x, const T* w, const Rows& l, bool rms, const double* mean, const double* rstd,
               T* dx) {
  const std::int64_t n = l.n;
  const double inv_n = 1.0 / static_cast<double>(n);
  kernel::parallel_for(l.rows, kernel::grain_for(n), [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      const T* gp = g + r * n;
      const T* xp = x + r * n;
      const double mu = mean[r], rs = rstd[r];
      double sum_gw = 0.0, sum_gwx = 0.0;
      for (std::int64_t j = 0; j < n; ++j) {
        const double gw = static_cast<double>(gp[j]) * (w != nullptr ? static_cast<double>(w[j]) : 1.0);
        sum_gw += gw;
        sum_gwx += gw * (static_cast<double>(xp[j]) - mu) * rs;
      }
      const double a = rms ? 0.0 : sum_gw * inv_n, c = sum_gwx * inv_n;
      T* d = dx + r * n;
      for (std::int64_t j = 0; j < n; ++j) {
        const double gw = static_cast<double>(gp[j]) * (w != nullptr ? static_cast<double>(w[j]) : 1.0);
        const double xhat = (static_cast<double>(xp[j]) - mu) * rs;
        d[j] = static_cast<T>(rs * (gw - a - xhat * c));
      }
    }
  });
}

// dweight[j] = sum_r g[r, j] xhat[r, j] and dbias[j] = sum_r g[r, j]: each block of
// kColumnBlock columns is summed over the rows, in row order, by one task.
template <class T>
void dwb_kernel(const T* g, const T* x, const Rows& l, const double* mean, const double* rstd, double* dw, double* db) {
  const std::int64_t n = l.n, blocks = (n + kColumnBlock - 1) / kColumnBlock;
  kernel::parallel_for(blocks, kernel::grain_for(l.rows * kColumnBlock), [&](std::int64_t b0, std::int64_t b1) {
    for (std::int64_t blk = b0; blk < b1; ++blk) {
      const std::int64_t j0 = blk * kColumnBlock, j1 = std::min(n, j0 + kColumnBlock);
      double aw[kColumnBlock] = {}, ab[kColumnBlock] = {};
      for (std::int64_t r = 0; r < l.rows; ++r) {
        const T* gp = g + r * n;
        const T* xp = x + r * n;
        const double mu = mean[r], rs = rstd[r];
        for (std::int64_t j = j0; j < j1; ++j) {
          const double gv = static_cast<double>(gp[j]);
          aw[j - j0] += gv * (static_cast<double>(xp[j]) - mu) * rs;
          ab[j - j0] += gv;
        }
      }
      for (std::int64_t j = j0; j < j1; ++j) {
        if (dw != nullptr) dw[j] = aw[j - j0];
        if (db != nullptr) db[j] = ab[j - j0];
      }
    }
  });
}

Tensor from_doubles(const std::vector<double>& v, const Shape& shape, Dtype dt) {
  return from_vector<double>(v, shape).to(dt);
}

// The backward composed from differentiable ops (create_graph): the same formulas with the
// statistics recomputed from x, so that their dependence on x is differentiated too.
Grads composed_backward(const Tensor& g, const Tensor& x, const Tensor& w, std::int64_t k, bool rms, double eps,
                        bool need_x, bool need_w, bool need_b) {
  const Dims dims = norm_dims(k), lead = lead_dims(x.dim(), k);
  Tensor xc = x;
  if (!rms) xc = sub(x, mean(x, dims, true));
  const Tensor rstd = rsqrt(add(mean(mul(xc, xc), dims, true), eps));
  const Tensor xhat = mul(xc, rstd);
  Tensor dx, dw, db;
  if (need_x) {
    const Tensor gw = w.defined() ? mul(g, w) : g;
    Tensor inner = sub(gw, mul(xhat, mean(mul(gw, xhat), dims, true)));
    if (!rms) inner = sub(inner, mean(gw, dims, true));
    dx = mul(rstd, inner);
  }
  if (need_w) dw = lead.empty() ? mul(g, xhat) : sum(mul(g, xhat), lead);
  if (need_b) db = lead.empty() ? g.clone() : sum(g, lead);
  return Grads{dx, dw, db};
}

// The fused backward; gradients only for the inputs that need them.
Grads fused_backward(const Tensor& g_in, const Tensor& x_in, const Tensor& w_in, const Tensor& saved_mean,
                     const Tensor& saved_rstd, const Rows& l, bool rms, bool need_x, bool need_w, bool need_b) {
  NoGradGuard ng;
  const Tensor g = g_in.contiguous(), x = x_in.contiguous();
  const Tensor w = w_in.defined() ? w_in.contiguous() : Tensor();
  const Tensor mean = saved_mean.contiguous(), rstd = saved_rstd.contiguous();
  Tensor dx = need_x ? xgrad::detail::make_tensor(x.shape(), x.dtype()) : Tensor();
  std::vector<double> dw(need_w ? static_cast<std::size_t>(l.n) : 0), db(need_b ? static_cast<std::size_t>(l.n) : 0);
  kernel::dispatch_floating(x, "layer_norm", [&]<class T>() {
    const double* pm = mean.data_ptr<double>();
    const double* pr = rstd.data_ptr<double>();
    if (need_x)
      dx_kernel<T>(g.data_ptr<T>(), x.data_ptr<T>(), w.defined() ? w.data_ptr<T>() : nullptr, l, rms, pm, pr,
                   dx.data_ptr<T>());
    if (need_w || need_b)
      dwb_kernel<T>(g.data_ptr<T>(), x.data_ptr<T>(), l, pm, pr, need_w ? dw.data() : nullptr,
                    need_b ? db.data() : nullptr);
  });
  Shape ws(x.shape().end() - l.k, x.shape().end());
  return Grads{dx, need_w ? from_doubles(dw, ws, x.dtype()) : Tensor(),
               need_b ? from_doubles(db, ws, x.dtype()) : Tensor()};
}

// The shared body of layer_norm (rms = false) and rms_norm (rms = true, bias undefined).
Tensor norm_impl(const Tensor& input, const std::vector<std::int64_t>& ns, const Tensor& weight, const Tensor& bias,
                 bool rms, double eps, std::string_view op) {
  const Rows l = check_args(input, ns, weight, bias, op);
  if (input.numel() == 0) {
    Tensor out = input.clone();
    if (weight.defined()) out = mul(out, weight);
    if (bias.defined()) out = add(out, bias);
    return out;
  }
  std::vector<double> mean(static_cast<std::size_t>(l.rows)), rstd(static_cast<std::size_t>(l.rows));
  Tensor out;
  {
    NoGradGuard ng;
    const Tensor x = input.contiguous();
    const Tensor w = weight.defined() ? weight.detach().contiguous() : Tensor();
    const Tensor b = bias.defined() ? bias.detach().contiguous() : Tensor();
    out = xgrad::detail::make_tensor(x.shape(), x.dtype());
    kernel::dispatch_floating(x, op, [&]<class T>() {
      forward_kernel<T>(x.data_ptr<T>(), out.data_ptr<T>(), w.defined() ? w.data_ptr<T>() : nullptr,
                        b.defined() ? b.data_ptr<T>() : nullptr, l, rms, eps, mean.data(), rstd.data());
    });
  }
  if (any_requires_grad({&input, &weight, &bias})) {
    const Tensor saved_mean = from_vector<double>(mean, {l.rows}), saved_rstd = from_vector<double>(rstd, {l.rows});
    const bool need_x = input.requires_grad(), need_w = weight.defined() && weight.requires_grad(),
               need_b = bias.defined() && bias.requires_grad();
    record(rms ? "FusedRmsNormBackward" : "NativeLayerNormBackward", {input, weight, bias}, {out},
           {input, weight, saved_mean, saved_rstd},
           [l, rms, eps, need_x, need_w, need_b](const Grads& g, const Grads& s) {
             if (grad_mode_enabled()) return composed_backward(g[0], s[0], s[1], l.k, rms, eps, need_x, need_w, need_b);
             return fused_backward(g[0], s[0], s[1], s[2], s[3], l, rms, need_x, need_w, need_b);
           });
  }
  return out;
}

double default_eps(Dtype d) {
  return d == Dtype::float32 ? static_cast<double>(std::numeric_limits<float>::epsilon())
                             : std::numeric_limits<double>::epsilon();
}

Tensor rms_norm_impl(const Tensor& input, const std::vector<std::int64_t>& ns, const Tensor& weight,
                     std::optional<double> eps, std::string_view op) {
  xgrad::detail::check_defined(input, op);
  return norm_impl(input, ns, weight, Tensor(), true, eps ? *eps : default_eps(input.dtype()), op);
}

// Python's repr of a tuple of ints: "(4,)", "(2, 3)".
std::string py_tuple(const std::vector<std::int64_t>& v) {
  if (v.size() == 1) return fmt::format("({},)", v[0]);
  std::string s = "(";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + ")";
}

const char* py_bool(bool b) { return b ? "True" : "False"; }

}  // namespace

namespace functional {

Tensor layer_norm(const Tensor& input, const std::vector<std::int64_t>& normalized_shape, const Tensor& weight,
                  const Tensor& bias, double eps) {
  XGRAD_PROFILE_OP("layer_norm", input, weight, bias);
  return norm_impl(input, normalized_shape, weight, bias, false, eps, "layer_norm");
}

Tensor rms_norm(const Tensor& input, const std::vector<std::int64_t>& normalized_shape, const Tensor& weight,
                std::optional<double> eps) {
  XGRAD_PROFILE_OP("rms_norm", input, weight);
  return rms_norm_impl(input, normalized_shape, weight, eps, "rms_norm");
}

}  // namespace functional

// ---- modules --------------------------------------------------------------------------------

LayerNorm::LayerNorm(const LayerNormOptions& options) : Module("LayerNorm"), options_(options) {
  ::xgrad::options::validate_options(options_, name_);
  if (options_.elementwise_affine()) {
    weight = register_parameter("weight", ones(options_.normalized_shape()));
    if (options_.bias()) bias = register_parameter("bias", zeros(options_.normalized_shape()));
  }
}

void LayerNorm::reset_parameters() {
  NoGradGuard ng;
  if (weight.defined()) weight.fill_(1.0);
  if (bias.defined()) bias.zero_();
}

Tensor LayerNorm::forward(const Tensor& input) {
  return norm_impl(input, options_.normalized_shape(), weight, bias, false, options_.eps(), name_);
}

std::string LayerNorm::extra_repr() const {
  return fmt::format("{}, eps={}, elementwise_affine={}", py_tuple(options_.normalized_shape()),
                     py_float(options_.eps()), py_bool(options_.elementwise_affine()));
}

RMSNorm::RMSNorm(const RMSNormOptions& options) : Module("RMSNorm"), options_(options) {
  ::xgrad::options::validate_options(options_, name_);
  if (options_.elementwise_affine()) weight = register_parameter("weight", ones(options_.normalized_shape()));
}

void RMSNorm::reset_parameters() {
  NoGradGuard ng;
  if (weight.defined()) weight.fill_(1.0);
}

Tensor RMSNorm::forward(const Tensor& input) {
  return rms_norm_impl(input, options_.normalized_shape(), weight, options_.eps(), name_);
}

std::string RMSNorm::extra_repr() const {
  return fmt::format("{}, eps={}, elementwise_affine={}", py_tuple(options_.normalized_shape()),
                     options_.eps() ? py_float(*options_.eps()) : std::string("None"),
                     py_bool(options_.elementwise_affine()));
}

}  // namespace xgrad::nn
