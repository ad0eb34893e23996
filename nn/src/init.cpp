#include "xgrad/nn/init.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/kernel/kernel.hpp"
#include "xgrad/autograd/node.hpp"

namespace xgrad::nn::init {

namespace {

void check_defined(const Tensor& t, std::string_view op) {
  xgrad::detail::check_defined(t, fmt::format("nn::init::{}", op));
}

void check_floating(const Tensor& t, std::string_view op) {
  check_defined(t, op);
  if (!is_floating(t.dtype()))
    throw Error(fmt::format("nn::init::{}: expected a float32 or float64 tensor, got {}", op, t.describe()));
}

// body(p) writes t's elements in row-major order through p: t's own buffer when t is packed,
// else a packed scratch tensor copied into t through its strides (a view of a parameter).
template <class T, class F>
void write_packed(const Tensor& t, F body) {
  if (t.is_contiguous()) {
    body(t.data_ptr<T>());
    return;
  }
  const Tensor tmp = empty(t.shape(), dtype(t.dtype()));
  body(tmp.data_ptr<T>());
  NoGradGuard ng;
  Tensor(t).copy_(tmp);
}

// Marks the in-place write (the only autograd state an initialiser touches).
void bump_version(const Tensor& t) { ++t.impl()->storage->version; }

// tensor[i] = f(src[i]) for the float64 draws in `src` (same number of elements).
template <class F>
void write_from(const Tensor& t, const Tensor& src, F f) {
  const double* s = src.data_ptr<double>();
  kernel::dispatch(t.dtype(), [&]<class T>() {
    write_packed<T>(t, [&](T* p) {
      kernel::parallel_for(t.numel(), [&](std::int64_t b, std::int64_t e) {
        for (std::int64_t i = b; i < e; ++i) p[i] = static_cast<T>(f(s[i]));
      });
    });
  });
  bump_version(t);
}

Tensor fill_uniform(const Tensor& t, double a, double b) {
  // float64 draws in [0, 1) from the global generator, mapped to [a, b).
  const Tensor u = rand(t.shape(), dtype(float64));
  const double w = b - a;
  write_from(t, u, [a, w](double x) { return a + w * x; });
  return t;
}

Tensor fill_normal(const Tensor& t, double mean, double sd) {
  const Tensor z = randn(t.shape(), dtype(float64));
  write_from(t, z, [mean, sd](double x) { return mean + sd * x; });
  return t;
}

Tensor fill_constant(const Tensor& t, double v) {
  kernel::dispatch(t.dtype(), [&]<class T>() {
    write_packed<T>(t, [&](T* p) {
      const T x = static_cast<T>(v);
      kernel::parallel_for(t.numel(), [&](std::int64_t b, std::int64_t e) { std::fill(p + b, p + e, x); });
    });
  });
  bump_version(t);
  return t;
}

std::pair<std::int64_t, std::int64_t> fans(const Tensor& t, std::string_view op) {
  check_defined(t, op);
  if (t.dim() < 2)
    throw Error(
        fmt::format("nn::init::{}: fan in and fan out can not be computed for a tensor with fewer than 2 "
                    "dimensions (got shape {})",
                    op, t.shape()));
  std::int64_t receptive = 1;
  for (std::int64_t d = 2; d < t.dim(); ++d) receptive *= t.size(d);
  return {t.size(1) * receptive, t.size(0) * receptive};
}

double gain_for(std::string_view nonlinearity, std::optional<double> param, std::string_view op) {
  static constexpr std::string_view kLinear[] = {"linear",           "conv1d",           "conv2d",           "conv3d",
                                                 "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "sigmoid"};
  if (std::find(std::begin(kLinear), std::end(kLinear), nonlinearity) != std::end(kLinear)) return 1.0;
  if (nonlinearity == "tanh") return 5.0 / 3.0;
  if (nonlinearity == "relu") return std::sqrt(2.0);
  if (nonlinearity == "leaky_relu") {
    const double slope = param.value_or(0.01);
    return std::sqrt(2.0 / (1.0 + slope * slope));
  }
  if (nonlinearity == "selu") return 3.0 / 4.0;
  throw Error(
      fmt::format("nn::init::{}: unsupported nonlinearity '{}' (expected linear, conv1d, conv2d, conv3d, "
                  "conv_transpose1d/2d/3d, sigmoid, tanh, relu, leaky_relu or selu)",
                  op, nonlinearity));
}

// Standard deviation sqrt(Var) of He initialisation: gain / sqrt(fan).
std::optional<double> kaiming_std(const Tensor& t, double a, std::string_view mode, std::string_view nonlinearity,
                                  std::string_view op) {
  check_floating(t, op);
  if (mode != "fan_in" && mode != "fan_out")
    throw Error(fmt::format("nn::init::{}: mode must be 'fan_in' or 'fan_out', got '{}'", op, mode));
  const double gain = gain_for(nonlinearity, a, op);
  const auto [fan_in, fan_out] = fans(t, op);
  if (t.numel() == 0) return std::nullopt;  // nothing to fill (and fan may be 0)
  const auto fan = static_cast<double>(mode == "fan_in" ? fan_in : fan_out);
  return gain / std::sqrt(fan);
}

double xavier_std(const Tensor& t, double gain, std::string_view op) {
  check_floating(t, op);
  const auto [fan_in, fan_out] = fans(t, op);
  return gain * std::sqrt(2.0 / static_cast<double>(fan_in + fan_out));
}

// erf^-1(y) for y in (-1, 1): Giles' single-precision approximation ("Approximating the
// erfinv function", GPU Computing Gems, 2011) refined by two Newton steps on erf(x) = y.
double erfinv(double y) {
  if (y <= -1.0) return -std::numeric_limits<double>::infinity();
  if (y >= 1.0) return std::numeric_limits<double>::infinity();
  double w = -std::log((1.0 - y) * (1.0 + y)), x;
  if (w < 5.0) {
    w -= 2.5;
    double p = 2.81022636e-08;
    p = 3.43273939e-07 + p * w;
    p = -3.5233877e-06 + p * w;
    p = -4.39150654e-06 + p * w;
    p = 0.00021858087 + p * w;
    p = -0.00125372503 + p * w;
    p = -0.00417768164 + p * w;
    p = 0.246640727 + p * w;
    p = 1.50140941 + p * w;
    x = p * y;
  } else {
    w = std::sqrt(w) - 3.0;
    double p = -0.000200214257;
    p = 0.000100950558 + p * w;
    p = 0.00134934322 + p * w;
    p = -0.00367342844 + p * w;
    p = 0.00573950773 + p * w;
    p = -0.0076224613 + p * w;
    p = 0.00943887047 + p * w;
    p = 1.00167406 + p * w;
    p = 2.83297682 + p * w;
    x = p * y;
  }
  const double k = 2.0 / std::sqrt(M_PI);
  for (int i = 0; i < 2; ++i) x -= (std::erf(x) - y) / (k * std::exp(-x * x));
  return x;
}

double norm_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

// Q (m x n, column-major, m >= n) of A = QR (A column-major m x n, overwritten), with the
// columns multiplied by sign(R_jj) so that R has a positive diagonal (unique for full rank).
std::vector<double> householder_q(std::vector<double>& A, std::int64_t m, std::int64_t n) {
  std::vector<double> V(static_cast<std::size_t>(m * n), 0.0);  // reflector k in column k, rows k..m-1
  std::vector<double> sign_r(static_cast<std::size_t>(n), 1.0);
  auto col = [m](std::vector<double>& M, std::int64_t j) { return M.data() + j * m; };
  // Applies H = I - 2 v v^T (v unit, rows k..m-1) to columns [j0, j1) of M.
  auto reflect = [&](std::vector<double>& M, const double* v, std::int64_t k, std::int64_t j0, std::int64_t j1) {
    auto body = [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t j = j0 + b; j < j0 + e; ++j) {
        double* c = col(M, j);
        double dot = 0.0;
        for (std::int64_t i = k; i < m; ++i) dot += v[i] * c[i];
        dot *= 2.0;
        for (std::int64_t i = k; i < m; ++i) c[i] -= dot * v[i];
      }
    };
    // Each column is computed on its own: the split never changes a result.
    kernel::parallel_for(j1 - j0, kernel::grain_for(m - k), body);
  };

  for (std::int64_t k = 0; k < n; ++k) {
    double* a = col(A, k);
    double norm2 = 0.0;
    for (std::int64_t i = k; i < m; ++i) norm2 += a[i] * a[i];
    const double norm = std::sqrt(norm2);
    // NOTE: alpha takes the sign opposite to a[k] so that v = a - alpha e_k does not cancel.
    const double alpha = a[k] >= 0 ? -norm : norm;
    double* v = col(V, k);
    for (std::int64_t i = k; i < m; ++i) v[i] = a[i];
    v[k] -= alpha;
    double vnorm2 = 0.0;
    for (std::int64_t i = k; i < m; ++i) vnorm2 += v[i] * v[i];
    if (vnorm2 > 0.0) {
      const double inv = 1.0 / std::sqrt(vnorm2);
      for (std::int64_t i = k; i < m; ++i) v[i] *= inv;
      reflect(A, v, k, k + 1, n);
      sign_r[static_cast<std::size_t>(k)] = alpha >= 0 ? 1.0 : -1.0;  // R_kk = alpha
    } else {
      // The column is already zero below the diagonal and zero on it: H = I, R_kk = 0
      // (torch's sign(0) = 0 would zero the column; +1 keeps Q orthogonal).
      std::fill(v + k, v + m, 0.0);
    }
  }
  // Q = H_0 H_1 ... H_{n-1} [I_n; 0]: apply the reflectors in reverse order.
  std::vector<double> Q(static_cast<std::size_t>(m * n), 0.0);
  for (std::int64_t j = 0; j < n; ++j) Q[static_cast<std::size_t>(j * m + j)] = 1.0;
  for (std::int64_t k = n - 1; k >= 0; --k) {
    const double* v = V.data() + k * m;
    bool zero = true;
    for (std::int64_t i = k; i < m && zero; ++i) zero = v[i] == 0.0;
    if (!zero) reflect(Q, v, k, k, n);  // columns < k are e_j there: H_k leaves them unchanged
  }
  for (std::int64_t j = 0; j < n; ++j) {
    double* c = col(Q, j);
    for (std::int64_t i = 0; i < m; ++i) c[i] *= sign_r[static_cast<std::size_t>(j)];
  }
  return Q;
}

}  // namespace

double calculate_gain(std::string_view nonlinearity, std::optional<double> param) {
  return gain_for(nonlinearity, param, "calculate_gain");
}

std::pair<std::int64_t, std::int64_t> calculate_fan_in_and_fan_out(const Tensor& tensor) {
  return fans(tensor, "calculate_fan_in_and_fan_out");
}

Tensor uniform_(const Tensor& tensor, double a, double b) {
  check_floating(tensor, "uniform_");
  if (!(a <= b)) throw Error(fmt::format("nn::init::uniform_: expected a <= b, got a={} b={}", a, b));
  return fill_uniform(tensor, a, b);
}

Tensor normal_(const Tensor& tensor, double mean, double sd) {
  check_floating(tensor, "normal_");
  if (!(sd >= 0.0)) throw Error(fmt::format("nn::init::normal_: expected std >= 0, got {}", sd));
  return fill_normal(tensor, mean, sd);
}

Tensor trunc_normal_(const Tensor& tensor, double mean, double sd, double a, double b) {
  check_floating(tensor, "trunc_normal_");
  if (!(sd > 0.0)) throw Error(fmt::format("nn::init::trunc_normal_: expected std > 0, got {}", sd));
  if (!(a < b)) throw Error(fmt::format("nn::init::trunc_normal_: expected a < b, got a={} b={}", a, b));
  // Inverse-CDF sampling: u uniform between the CDF values of the bounds.
  const double lo = norm_cdf((a - mean) / sd), hi = norm_cdf((b - mean) / sd);
  const Tensor u = rand(tensor.shape(), dtype(float64));
  write_from(tensor, u, [=](double x) {
    const double p = lo + (hi - lo) * x;
    const double v = mean + sd * std::sqrt(2.0) * erfinv(2.0 * p - 1.0);
    return std::clamp(v, a, b);  // rounding in the far tails may step just outside
  });
  return tensor;
}

Tensor constant_(const Tensor& tensor, double value) {
  check_defined(tensor, "constant_");
  return fill_constant(tensor, value);
}
Tensor zeros_(const Tensor& tensor) {
  check_defined(tensor, "zeros_");
  return fill_constant(tensor, 0.0);
}
Tensor ones_(const Tensor& tensor) {
  check_defined(tensor, "ones_");
  return fill_constant(tensor, 1.0);
}

Tensor eye_(const Tensor& tensor) {
  check_defined(tensor, "eye_");
  if (tensor.dim() != 2)
    throw Error(fmt::format("nn::init::eye_: only 2-d tensors are supported, got shape {}", tensor.shape()));
  const std::int64_t n = tensor.size(0), m = tensor.size(1);
  kernel::dispatch(tensor.dtype(), [&]<class T>() {
    write_packed<T>(tensor, [&](T* p) {
      std::fill(p, p + tensor.numel(), T(0));
      for (std::int64_t i = 0; i < std::min(n, m); ++i) p[i * m + i] = T(1);
    });
  });
  bump_version(tensor);
  return tensor;
}

Tensor dirac_(const Tensor& tensor, std::int64_t groups) {
  check_defined(tensor, "dirac_");
  const std::int64_t dims = tensor.dim();
  if (dims < 3 || dims > 5)
    throw Error(
        fmt::format("nn::init::dirac_: only 3-, 4- and 5-d tensors are supported, got shape {}", tensor.shape()));
  if (groups < 1) throw Error(fmt::format("nn::init::dirac_: groups must be positive, got {}", groups));
  if (tensor.size(0) % groups != 0)
    throw Error(fmt::format("nn::init::dirac_: size(0) = {} of shape {} is not divisible by groups = {}",
                            tensor.size(0), tensor.shape(), groups));
  const std::int64_t out_per_group = tensor.size(0) / groups;
  const std::int64_t min_dim = std::min(out_per_group, tensor.size(1));
  // Row-major strides; the spatial centre k_i / 2 contributes a fixed offset.
  const Shape& s = tensor.shape();
  std::vector<std::int64_t> stride(static_cast<std::size_t>(dims), 1);
  for (std::int64_t d = dims - 2; d >= 0; --d)
    stride[static_cast<std::size_t>(d)] = stride[static_cast<std::size_t>(d + 1)] * s[static_cast<std::size_t>(d + 1)];
  std::int64_t centre = 0;
  for (std::int64_t d = 2; d < dims; ++d)
    centre += (s[static_cast<std::size_t>(d)] / 2) * stride[static_cast<std::size_t>(d)];
  kernel::dispatch(tensor.dtype(), [&]<class T>() {
    write_packed<T>(tensor, [&](T* p) {
      std::fill(p, p + tensor.numel(), T(0));
      if (tensor.numel() == 0) return;
      for (std::int64_t g = 0; g < groups; ++g)
        for (std::int64_t d = 0; d < min_dim; ++d) p[(g * out_per_group + d) * stride[0] + d * stride[1] + centre] = T(1);
    });
  });
  bump_version(tensor);
  return tensor;
}

Tensor xavier_uniform_(const Tensor& tensor, double gain) {
  const double bound = std::sqrt(3.0) * xavier_std(tensor, gain, "xavier_uniform_");
  return fill_uniform(tensor, -bound, bound);
}

Tensor xavier_normal_(const Tensor& tensor, double gain) {
  return fill_normal(tensor, 0.0, xavier_std(tensor, gain, "xavier_normal_"));
}

Tensor kaiming_uniform_(const Tensor& tensor, double a, std::string_view mode, std::string_view nonlinearity) {
  const auto sd = kaiming_std(tensor, a, mode, nonlinearity, "kaiming_uniform_");
  if (!sd) return tensor;
  const double bound = std::sqrt(3.0) * *sd;
  return fill_uniform(tensor, -bound, bound);
}

Tensor kaiming_normal_(const Tensor& tensor, double a, std::string_view mode, std::string_view nonlinearity) {
  const auto sd = kaiming_std(tensor, a, mode, nonlinearity, "kaiming_normal_");
  if (!sd) return tensor;
  return fill_normal(tensor, 0.0, *sd);
}

Tensor orthogonal_(const Tensor& tensor, double gain) {
  check_floating(tensor, "orthogonal_");
  if (tensor.dim() < 2)
    throw Error(fmt::format("nn::init::orthogonal_: only tensors with 2 or more dimensions are supported, got shape {}",
                            tensor.shape()));
  if (tensor.numel() == 0) return tensor;
  const std::int64_t rows = tensor.size(0), cols = tensor.numel() / rows;
  const bool wide = rows < cols;
  const std::int64_t m = wide ? cols : rows, n = wide ? rows : cols;
  // B = randn(rows, cols) row-major. The factorised matrix A (m x n, column-major) is B when
  // rows >= cols, and B^T otherwise, whose column-major layout is B's row-major buffer.
  const Tensor b = randn({rows, cols}, dtype(float64));
  const double* pb = b.data_ptr<double>();
  std::vector<double> A(static_cast<std::size_t>(m * n));
  if (wide) {
    std::copy(pb, pb + m * n, A.begin());
  } else {
    for (std::int64_t i = 0; i < rows; ++i)
      for (std::int64_t j = 0; j < cols; ++j) A[static_cast<std::size_t>(j * m + i)] = pb[i * cols + j];
  }
  const std::vector<double> Q = householder_q(A, m, n);
  // Result R (rows x cols, row-major) = Q (tall) or Q^T (wide). Q^T's row-major buffer is
  // Q's column-major one; Q's row-major element (i, j) is Q[j * m + i].
  kernel::dispatch(tensor.dtype(), [&]<class T>() {
    write_packed<T>(tensor, [&](T* p) {
      if (wide) {
        for (std::int64_t i = 0; i < rows * cols; ++i) p[i] = static_cast<T>(gain * Q[static_cast<std::size_t>(i)]);
      } else {
        for (std::int64_t i = 0; i < rows; ++i)
          for (std::int64_t j = 0; j < cols; ++j)
            p[i * cols + j] = static_cast<T>(gain * Q[static_cast<std::size_t>(j * m + i)]);
      }
    });
  });
  bump_version(tensor);
  return tensor;
}

}  // namespace xgrad::nn::init
