// Element-wise activations (functional and module forms). softmax / log_softmax / softmin live
// in softmax.cpp.
//
// The hot activations are fused: the forward is one pass over the data, and the backward is
// g * d(x) where the derivative d(x) is itself one fused pass. When the backward is recorded
// (create_graph), d(x) records its own derivative built from differentiable core ops, so
// second and higher derivatives are exact.
#include <cmath>
#include <numbers>

#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/kernel/kernel.hpp"
#include "xgrad/autograd/node.hpp"
#include "xgrad/nn/activation.hpp"
#include "xgrad/autograd/profile_scope.hpp"

namespace xgrad::nn {

namespace {

using Grads = std::vector<Tensor>;

void check_floating(const Tensor& x, std::string_view op) {
  detail::check_defined(x, op);
  if (!is_floating(x.dtype()))
    throw Error(fmt::format("{}: expected a floating tensor (float32 or float64), got int64 tensor of shape {}", op,
                            x.shape()));
}

// out[i] = f(x[i]) in one pass; f is called with a float or a double and returns the same type.
template <class F>
Tensor map_unary(const Tensor& x, std::string_view op, F f) {
  check_floating(x, op);
  Tensor out = detail::make_tensor(x.shape(), x.dtype());
  kernel::dispatch_floating(x, op, [&]<class T>() {
    Tensor xc;
    {
      NoGradGuard ng;  // a kernel input: the op records x itself
      xc = x.contiguous();
    }
    const T* in = xc.data_ptr<T>();
    T* o = out.data_ptr<T>();
    kernel::parallel_for(x.numel(), [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i) o[i] = f(in[i]);
    });
  });
  return out;
}

// The derivative tensor d(x) of a fused activation, computed by the fused kernel `f`. When x
// requires grad (a create_graph backward), d records its own derivative d2(x), built from
// differentiable ops.
template <class F, class D2>
Tensor derivative(const Tensor& x, const std::string& name, F f, D2 d2) {
  Tensor d = map_unary(x, name, f);
  if (any_requires_grad({&x}))
    record(name + "Backward", {x}, {d}, {x},
           [d2](const Grads& g, const Grads& s) { return Grads{mul(g[0], d2(s[0]))}; });
  return d;
}

// ---- ELU / SELU: scale * (x > 0 ? x : alpha (e^x - 1)) --------------------------------------

Tensor elu_impl(const Tensor& x, double alpha, double scale, std::string_view op, const std::string& node) {
  Tensor y = map_unary(x, op, [alpha, scale](auto v) {
    using T = decltype(v);
    return v > T(0) ? static_cast<T>(scale) * v : static_cast<T>(scale * alpha) * std::expm1(v);
  });
  if (any_requires_grad({&x})) {
    // d/dx = scale where x > 0, else scale alpha e^x (PyTorch takes the second branch at x == 0).
    // d2/dx2 = 0 where x > 0, else scale alpha e^x; e^min(x, 0) keeps the unused branch finite.
    record(node, {x}, {y}, {x}, [alpha, scale, node](const Grads& g, const Grads& s) {
      Tensor d = derivative(
          s[0], node,
          [alpha, scale](auto v) {
            using T = decltype(v);
            return v > T(0) ? static_cast<T>(scale) : static_cast<T>(scale * alpha) * std::exp(v);
          },
          [alpha, scale](const Tensor& t) {
            return mul(mul(le(t, 0.0), exp(clamp(t, std::nullopt, 0.0))), scale * alpha);
          });
      return Grads{mul(g[0], d)};
    });
  }
  return y;
}

// ---- GELU -------------------------------------------------------------------------------------

constexpr double kInvSqrt2 = 0.70710678118654752440;     // 1 / sqrt(2)
constexpr double kInvSqrt2Pi = 0.39894228040143267794;   // 1 / sqrt(2 pi)
constexpr double kSqrt2OverPi = 0.79788456080286535588;  // sqrt(2 / pi)
constexpr double kGeluCoeff = 0.044715;

// Second derivative of exact GELU: d/dx (Phi + x phi) = phi (2 - x^2).
Tensor gelu_exact_d2(const Tensor& x) {
  Tensor x2 = mul(x, x);
  return mul(mul(exp(mul(x2, -0.5)), kInvSqrt2Pi), rsub(x2, 2.0));
}

// Second derivative of tanh GELU. With u = k (x + c x^3), t = tanh u, u' = k (1 + 3 c x^2),
// u'' = 6 k c x:  d/dx [(1 + t)/2 + x/2 (1 - t^2) u'] = (1 - t^2) (u' + x/2 (u'' - 2 t u'^2)).
Tensor gelu_tanh_d2(const Tensor& x) {
  Tensor x2 = mul(x, x);
  Tensor t = tanh(mul(add(x, mul(mul(x, x2), kGeluCoeff)), kSqrt2OverPi));
  Tensor up = mul(add(mul(x2, 3.0 * kGeluCoeff), 1.0), kSqrt2OverPi);
  Tensor upp = mul(x, 6.0 * kSqrt2OverPi * kGeluCoeff);
  Tensor inner = add(up, mul(mul(x, 0.5), sub(upp, mul(mul(t, mul(up, up)), 2.0))));
  return mul(rsub(mul(t, t), 1.0), inner);
}

enum class GeluKind { exact, tanh };

GeluKind parse_gelu(std::string_view approximate) {
  if (approximate == "none") return GeluKind::exact;
  if (approximate == "tanh") return GeluKind::tanh;
  throw Error(fmt::format("gelu: approximate must be 'none' or 'tanh', got '{}'", approximate));
}

}  // namespace

namespace functional {

Tensor sigmoid(const Tensor& x) {
  XGRAD_PROFILE_OP("sigmoid", x);
  return xgrad::sigmoid(x);
}

Tensor tanh(const Tensor& x) {
  XGRAD_PROFILE_OP("tanh", x);
  return xgrad::tanh(x);
}

Tensor relu(const Tensor& x) {
  XGRAD_PROFILE_OP("relu", x);
  return xgrad::relu(x);
}

Tensor leaky_relu(const Tensor& x, double negative_slope) {
  XGRAD_PROFILE_OP("leaky_relu", x);
  Tensor y = map_unary(x, "leaky_relu", [negative_slope](auto v) {
    using T = decltype(v);
    return v > T(0) ? v : v * static_cast<T>(negative_slope);
  });
  if (any_requires_grad({&x})) {
    // d/dx = 1 where x > 0, else negative_slope (also at 0, like PyTorch). Piecewise constant:
    // its own derivative is 0, so the derivative tensor needs no graph.
    record("LeakyReluBackward", {x}, {y}, {x}, [negative_slope](const Grads& g, const Grads& s) {
      Tensor d = map_unary(s[0], "leaky_relu", [negative_slope](auto v) {
        using T = decltype(v);
        return v > T(0) ? T(1) : static_cast<T>(negative_slope);
      });
      return Grads{mul(g[0], d)};
    });
  }
  return y;
}

Tensor gelu(const Tensor& x, std::string_view approximate) {
  XGRAD_PROFILE_OP("gelu", x);
  const GeluKind kind = parse_gelu(approximate);
  Tensor y;
  if (kind == GeluKind::exact) {
    y = map_unary(x, "gelu", [](auto v) {
      using T = decltype(v);
      return T(0.5) * v * (T(1) + std::erf(v * static_cast<T>(kInvSqrt2)));
    });
  } else {
    y = map_unary(x, "gelu", [](auto v) {
      using T = decltype(v);
      const T u = static_cast<T>(kSqrt2OverPi) * (v + static_cast<T>(kGeluCoeff) * v * v * v);
      return T(0.5) * v * (T(1) + std::tanh(u));
    });
  }
  if (any_requires_grad({&x})) {
    record("GeluBackward", {x}, {y}, {x}, [kind](const Grads& g, const Grads& s) {
      Tensor d;
      if (kind == GeluKind::exact) {
        // d/dx = Phi(x) + x phi(x).
        d = derivative(
            s[0], "GeluBackward",
            [](auto v) {
              using T = decltype(v);
              const T cdf = T(0.5) * (T(1) + std::erf(v * static_cast<T>(kInvSqrt2)));
              const T pdf = std::exp(T(-0.5) * v * v) * static_cast<T>(kInvSqrt2Pi);
              return cdf + v * pdf;
            },
            gelu_exact_d2);
      } else {
        // d/dx = (1 + t)/2 + x/2 (1 - t^2) k (1 + 3 c x^2), t = tanh(k (x + c x^3)).
        d = derivative(
            s[0], "GeluBackward",
            [](auto v) {
              using T = decltype(v);
              const T k = static_cast<T>(kSqrt2OverPi), c = static_cast<T>(kGeluCoeff);
              const T t = std::tanh(k * (v + c * v * v * v));
              return T(0.5) * (T(1) + t) + T(0.5) * v * (T(1) - t * t) * k * (T(1) + T(3) * c * v * v);
            },
            gelu_tanh_d2);
      }
      return Grads{mul(g[0], d)};
    });
  }
  return y;
}

Tensor elu(const Tensor& x, double alpha) {
  XGRAD_PROFILE_OP("elu", x);
  return elu_impl(x, alpha, 1.0, "elu", "EluBackward");
}

Tensor selu(const Tensor& x) {
  XGRAD_PROFILE_OP("selu", x);
  return elu_impl(x, kSeluAlpha, kSeluScale, "selu", "SeluBackward");
}

Tensor silu(const Tensor& x) {
  XGRAD_PROFILE_OP("silu", x);
  // NOTE: x / (1 + e^-x) rather than x * sigmoid(x): one division, and e^-x = inf gives -0, not NaN.
  Tensor y = map_unary(x, "silu", [](auto v) {
    using T = decltype(v);
    return v / (T(1) + std::exp(-v));
  });
  if (any_requires_grad({&x})) {
    // d/dx = s (1 + x (1 - s)); d2/dx2 = s (1 - s) (2 + x (1 - 2 s)), s = sigmoid(x).
    record("SiluBackward", {x}, {y}, {x}, [](const Grads& g, const Grads& s) {
      Tensor d = derivative(
          s[0], "SiluBackward",
          [](auto v) {
            using T = decltype(v);
            const T sg = T(1) / (T(1) + std::exp(-v));
            return sg * (T(1) + v * (T(1) - sg));
          },
          [](const Tensor& t) {
            Tensor sg = xgrad::sigmoid(t);
            return mul(mul(sg, rsub(sg, 1.0)), add(mul(t, rsub(mul(sg, 2.0), 1.0)), 2.0));
          });
      return Grads{mul(g[0], d)};
    });
  }
  return y;
}

Tensor softplus(const Tensor& x, double beta, double threshold) {
  XGRAD_PROFILE_OP("softplus", x);
  // NOTE: above the threshold log(1 + e^(beta x)) / beta == x to rounding, and e^(beta x) could
  // overflow: PyTorch returns x there, and so do we.
  Tensor y = map_unary(x, "softplus", [beta, threshold](auto v) {
    using T = decltype(v);
    const T bx = v * static_cast<T>(beta);
    return bx > static_cast<T>(threshold) ? v : std::log1p(std::exp(bx)) / static_cast<T>(beta);
  });
  if (any_requires_grad({&x})) {
    // d/dx = sigmoid(beta x) where beta x <= threshold, else 1;
    // d2/dx2 = beta s (1 - s) where beta x <= threshold, else 0.
    record("SoftplusBackward", {x}, {y}, {x}, [beta, threshold](const Grads& g, const Grads& s) {
      Tensor d = derivative(
          s[0], "SoftplusBackward",
          [beta, threshold](auto v) {
            using T = decltype(v);
            const T bx = v * static_cast<T>(beta);
            return bx > static_cast<T>(threshold) ? T(1) : T(1) / (T(1) + std::exp(-bx));
          },
          [beta, threshold](const Tensor& t) {
            Tensor bx = mul(t, beta);
            Tensor sg = xgrad::sigmoid(bx);
            return mul(mul(mul(sg, rsub(sg, 1.0)), le(bx, threshold)), beta);
          });
      return Grads{mul(g[0], d)};
    });
  }
  return y;
}

Tensor hardtanh(const Tensor& x, double min_val, double max_val) {
  XGRAD_PROFILE_OP("hardtanh", x);
  if (min_val > max_val)
    throw Error(fmt::format("hardtanh: min_val ({}) must not be greater than max_val ({})", min_val, max_val));
  Tensor y = map_unary(x, "hardtanh", [min_val, max_val](auto v) {
    using T = decltype(v);
    const T lo = static_cast<T>(min_val), hi = static_cast<T>(max_val);
    return v < lo ? lo : (v > hi ? hi : v);  // NaN passes through
  });
  if (any_requires_grad({&x})) {
    // NOTE: d/dx = 1 strictly inside (min_val, max_val), 0 at and beyond the bounds (PyTorch's
    // hardtanh_backward; core clamp passes the gradient at the bounds). Piecewise constant.
    record("HardtanhBackward", {x}, {y}, {x}, [min_val, max_val](const Grads& g, const Grads& s) {
      Tensor d = map_unary(s[0], "hardtanh", [min_val, max_val](auto v) {
        using T = decltype(v);
        return v > static_cast<T>(min_val) && v < static_cast<T>(max_val) ? T(1) : T(0);
      });
      return Grads{where(ne(d, 0.0), g[0], 0.0)};  // selected: a NaN gradient stops at the bounds
    });
  }
  return y;
}

Tensor relu6(const Tensor& x) {
  XGRAD_PROFILE_OP("relu6", x);
  check_floating(x, "relu6");
  return hardtanh(x, 0.0, 6.0);
}

Tensor mish(const Tensor& x) {
  XGRAD_PROFILE_OP("mish", x);
  check_floating(x, "mish");
  return mul(x, xgrad::tanh(softplus(x)));
}

}  // namespace functional

// ---- modules ------------------------------------------------------------------------------------

namespace F = functional;

Tensor Sigmoid::forward(const Tensor& input) { return F::sigmoid(input); }
Tensor Tanh::forward(const Tensor& input) { return F::tanh(input); }
Tensor ReLU::forward(const Tensor& input) { return F::relu(input); }
Tensor SELU::forward(const Tensor& input) { return F::selu(input); }
Tensor SiLU::forward(const Tensor& input) { return F::silu(input); }
Tensor ReLU6::forward(const Tensor& input) { return F::relu6(input); }
Tensor Mish::forward(const Tensor& input) { return F::mish(input); }

LeakyReLU::LeakyReLU(LeakyReLUOptions options) : Module("LeakyReLU"), options_(options) {}
Tensor LeakyReLU::forward(const Tensor& input) { return F::leaky_relu(input, options_.negative_slope_); }
std::string LeakyReLU::extra_repr() const { return repr_options(options_); }

GELU::GELU(GELUOptions options) : Module("GELU"), options_(std::move(options)) { parse_gelu(options_.approximate_); }
Tensor GELU::forward(const Tensor& input) { return F::gelu(input, options_.approximate_); }
std::string GELU::extra_repr() const { return repr_options(options_); }

ELU::ELU(ELUOptions options) : Module("ELU"), options_(options) {}
Tensor ELU::forward(const Tensor& input) { return F::elu(input, options_.alpha_); }
std::string ELU::extra_repr() const { return repr_options(options_); }

Softplus::Softplus(SoftplusOptions options) : Module("Softplus"), options_(options) {}
Tensor Softplus::forward(const Tensor& input) { return F::softplus(input, options_.beta_, options_.threshold_); }
std::string Softplus::extra_repr() const { return repr_options(options_); }

Hardtanh::Hardtanh(HardtanhOptions options) : Module("Hardtanh"), options_(options) {
  if (options_.min_val_ > options_.max_val_)
    throw Error(fmt::format("Hardtanh: min_val ({}) must not be greater than max_val ({})", options_.min_val_,
                            options_.max_val_));
}
Tensor Hardtanh::forward(const Tensor& input) { return F::hardtanh(input, options_.min_val_, options_.max_val_); }
std::string Hardtanh::extra_repr() const { return repr_options(options_); }

}  // namespace xgrad::nn
