// Tutorial 09: custom ops, written as a user would. Three ways to add a differentiable op
// that xgrad does not have, each verified with gradcheck (finite differences in float64):
//   1. a Function subclass with ctx.save_for_backward: Swish, y = x sigmoid(beta x), with
//      beta a plain double argument (not an input of the graph node) and its own backward;
//   2. two lambdas (apply_lambda): a straight-through estimator for sign;
//   3. a forward written as a hand-made kernel on xgrad's public kernel layer (dtype
//      dispatch, parallel_for over TBB, SIMD clones): a fused "leaky hard-tanh".
// Then: an in-place custom op (ctx.mark_dirty), wrapping an op as an nn::Module, and what
// xgrad says when a backward returns a gradient of the wrong shape or count.
// docs/extending.md explains these steps; its code blocks are the marked regions of this
// file (a test checks that they agree). Exit status 1 when a gradcheck fails.
#include <any>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "tutorial.hpp"
#include "xgrad/autograd/kernel/kernel.hpp"
#include "xgrad/xgrad.hpp"

namespace nn = xgrad::nn;
using xgrad::Tensor;

namespace {

// [excerpt swish]
// Swish: y = x s with s = sigmoid(beta x); dy/dx = s + beta x s (1 - s).
struct SwishFunction : xgrad::Function<SwishFunction> {
  static std::string name() { return "SwishBackward"; }

  // beta is an ordinary double: apply() passes it through; only Tensor arguments are inputs.
  static Tensor forward(xgrad::FunctionCtx& ctx, const Tensor& x, double beta) {
    Tensor s = (x * beta).sigmoid();  // grad mode is off inside forward: nothing is recorded
    ctx.save_for_backward({x});  // not s: see backward
    ctx.saved_data["beta"] = beta;
    return x * s;
  }

  // One entry per forward argument: the gradient for x, an undefined Tensor for beta.
  static std::vector<Tensor> backward(xgrad::FunctionCtx& ctx, const std::vector<Tensor>& grad) {
    const Tensor& x = ctx.saved()[0];
    const double beta = std::any_cast<double>(ctx.saved_data.at("beta"));
    // s is recomputed from x, not saved: forward's s carries no history, so a backward built
    // on it would be wrong under create_graph (second derivatives miss ds/dx).
    const Tensor s = (x * beta).sigmoid();
    return {grad[0] * (s + beta * x * s * (1.0 - s)), Tensor()};
  }
};
// [end excerpt]

// [excerpt ste]
// The straight-through estimator's backward: pass the gradient where |x| <= 1, zero
// elsewhere (the derivative of hard-tanh, sign's smooth stand-in during training).
std::vector<Tensor> ste_backward(const std::vector<Tensor>& in, const Tensor& /*out*/, const Tensor& grad) {
  return {grad * (in[0].abs() <= 1.0).to(grad.dtype())};
}

// sign in the forward pass, the straight-through gradient in the backward pass.
Tensor sign_ste(const Tensor& x) {
  return xgrad::apply_lambda(
      "SignSTEBackward", {x}, [](const std::vector<Tensor>& in) { return in[0].sign(); }, ste_backward);
}
// [end excerpt]

// [excerpt kernel]
// Leaky hard-tanh: y = x on [-1, 1], continued outside with slope a (y = 1 + a (x - 1) above,
// -1 + a (x + 1) below); dy/dx = 1 inside, a outside. The loop is a plain function, so that
// XGRAD_SIMD_CLONES can compile it for AVX-512, AVX2 and baseline x86-64.
template <class T>
[[gnu::always_inline]] inline void leaky_hardtanh_body(const T* x, T* y, std::int64_t n, T a) {
  for (std::int64_t i = 0; i < n; ++i) {
    const T v = x[i];
    const T c = v < T(-1) ? T(-1) : (v > T(1) ? T(1) : v);  // clamp(v, -1, 1): branch-free
    y[i] = c + a * (v - c);
  }
}
XGRAD_SIMD_CLONES void leaky_hardtanh_loop(const float* x, float* y, std::int64_t n, float a) {
  leaky_hardtanh_body(x, y, n, a);
}
XGRAD_SIMD_CLONES void leaky_hardtanh_loop(const double* x, double* y, std::int64_t n, double a) {
  leaky_hardtanh_body(x, y, n, a);
}

struct LeakyHardTanh : xgrad::Function<LeakyHardTanh> {
  static std::string name() { return "LeakyHardTanhBackward"; }

  static Tensor forward(xgrad::FunctionCtx& ctx, const Tensor& x, double slope) {
    const Tensor xp = xgrad::kernel::packed(x);  // contiguous (a copy only if x is not)
    Tensor y = xgrad::empty(x.shape(), xgrad::dtype(x.dtype()));
    // float32 or float64; any other dtype throws "leaky_hardtanh: expected a floating dtype ..."
    xgrad::kernel::dispatch_floating(x, "leaky_hardtanh", [&]<class T>() {
      const T* px = xp.data_ptr<T>();
      T* py = y.data_ptr<T>();
      // Each element is computed by one thread: identical results at every thread count.
      xgrad::kernel::parallel_for(x.numel(), [&](std::int64_t begin, std::int64_t end) {
        leaky_hardtanh_loop(px + begin, py + begin, end - begin, static_cast<T>(slope));
      });
    });
    ctx.save_for_backward({x});
    ctx.saved_data["slope"] = slope;
    return y;
  }

  // Built from xgrad ops, so it is itself differentiable (gradgradcheck works too).
  static std::vector<Tensor> backward(xgrad::FunctionCtx& ctx, const std::vector<Tensor>& grad) {
    const Tensor& x = ctx.saved()[0];
    const double slope = std::any_cast<double>(ctx.saved_data.at("slope"));
    const Tensor inside = (x.abs() <= 1.0).to(x.dtype());
    return {grad[0] * (inside + (1.0 - inside) * slope), Tensor()};
  }
};
// [end excerpt]

// [excerpt dirty]
// An in-place op: x <- x * k. forward modifies its argument, marks it dirty and returns it;
// apply() then hands back the same tensor with its history moved onto this op.
struct ScaleInPlace : xgrad::Function<ScaleInPlace> {
  static std::string name() { return "ScaleInPlaceBackward"; }
  static Tensor forward(xgrad::FunctionCtx& ctx, Tensor x, double k) {
    x.mul_(k);
    ctx.mark_dirty({x});
    ctx.saved_data["k"] = k;
    return x;
  }
  static std::vector<Tensor> backward(xgrad::FunctionCtx& ctx, const std::vector<Tensor>& grad) {
    return {grad[0] * std::any_cast<double>(ctx.saved_data.at("k")), Tensor()};
  }
};
// [end excerpt]

// [excerpt module]
// The op as a layer: a Module whose forward calls apply(); it works in Sequential, with
// hooks, parameters() and repr() like any built-in layer.
class Swish : public nn::Module {
 public:
  explicit Swish(double beta = 1.0) : nn::Module("Swish"), beta_(beta) {}
  Tensor forward(const Tensor& x) override { return SwishFunction::apply(x, beta_); }
  std::string extra_repr() const override { return fmt::format("beta={}", beta_); }

 private:
  double beta_;
};
// [end excerpt]

// [excerpt wrong_shape]
// A mistake: backward returns the gradient transposed.
struct BrokenSwish : xgrad::Function<BrokenSwish> {
  static std::string name() { return "BrokenSwishBackward"; }
  static Tensor forward(xgrad::FunctionCtx& ctx, const Tensor& x, double beta) {
    return SwishFunction::forward(ctx, x, beta);
  }
  static std::vector<Tensor> backward(xgrad::FunctionCtx& ctx, const std::vector<Tensor>& grad) {
    return {SwishFunction::backward(ctx, grad)[0].t(), Tensor()};
  }
};
// [end excerpt]

/// Prints gradcheck's verdict on f at `input`; returns whether it passed.
bool report(const std::string& what, const std::function<Tensor(const std::vector<Tensor>&)>& f,
            const Tensor& input) {
  xgrad::GradcheckOptions opts;
  opts.raise_exception = false;
  const xgrad::GradcheckResult r = xgrad::gradcheck(f, {input}, opts);
  fmt::print("  gradcheck {:<44} {}  (max |analytical - numerical| = {:.2e})\n", what, r.ok ? "ok    " : "FAILED",
             r.max_abs_error);
  if (!r.ok) fmt::print("    {}\n", r.message);
  return r.ok;
}

}  // namespace

int main(int argc, char** argv) {
  tutorial::Options o;
  CLI::App app{"Tutorial 09: custom ops (Function, two lambdas, a hand-written kernel) checked by gradcheck"};
  tutorial::add_flags(app, o);
  CLI11_PARSE(app, argc, argv);
  tutorial::setup(o, "Tutorial 09: custom ops");

  try {
    bool ok = true;
    xgrad::TensorOptions f64 = xgrad::dtype(xgrad::float64);
    // Points away from the kinks at -1, 0 and 1 (finite differences across a kink disagree
    // with any one-sided derivative).
    const Tensor x = xgrad::tensor({{-2.3, -0.7, -0.2}, {0.4, 0.9, 1.6}}, f64.requires_grad());

    fmt::print("1. Function subclass: Swish with beta = 1.5\n");
    // [excerpt swish_check]
    Tensor y = SwishFunction::apply(x, 1.5);
    fmt::print("  swish(x) = {}\n", y);
    ok &= report("swish (beta = 1.5)", [](const std::vector<Tensor>& in) { return SwishFunction::apply(in[0], 1.5); },
                 x);
    // [end excerpt]
    {
      xgrad::GradcheckOptions opts;
      opts.raise_exception = false;
      const auto r = xgrad::gradgradcheck([](const std::vector<Tensor>& in) { return SwishFunction::apply(in[0], 1.5); },
                                          {x}, opts);
      fmt::print("  gradgradcheck {:<40} {}\n", "swish (second derivative)", r.ok ? "ok" : "FAILED");
      ok &= r.ok;
    }

    fmt::print("\n2. Two lambdas: a straight-through estimator for sign\n");
    // [excerpt ste_check]
    Tensor s = sign_ste(x);
    s.sum().backward();
    fmt::print("  sign(x) = {}\n  d/dx    = {}\n", s, x.grad());
    // sign's true derivative is 0 almost everywhere: gradcheck must reject the estimator...
    xgrad::GradcheckOptions quiet;
    quiet.raise_exception = false;
    const bool biased = !xgrad::gradcheck([](const std::vector<Tensor>& in) { return sign_ste(in[0]); }, {x}, quiet).ok;
    fmt::print("  gradcheck rejects the STE as sign's gradient: {}\n", biased ? "yes (as it should)" : "no?");
    // ...while the same backward is the exact gradient of the surrogate, hard-tanh.
    ok &= biased && report("STE backward vs hard-tanh", [](const std::vector<Tensor>& in) {
            return xgrad::apply_lambda(
                "HardTanhSTE", {in[0]}, [](const std::vector<Tensor>& v) { return v[0].clamp(-1.0, 1.0); },
                ste_backward);
          }, x);
    // [end excerpt]
    x.set_grad(Tensor());

    fmt::print("\n3. A hand-written kernel: leaky hard-tanh with slope 0.1\n");
    Tensor z = LeakyHardTanh::apply(x, 0.1);
    fmt::print("  leaky_hardtanh(x) = {}\n", z);
    ok &= report("leaky hard-tanh (slope 0.1)",
                 [](const std::vector<Tensor>& in) { return LeakyHardTanh::apply(in[0], 0.1); }, x);
    // The kernel reads packed memory: a transposed (strided) input gives the same values.
    const Tensor zt = LeakyHardTanh::apply(x.detach().t(), 0.1).t();
    const bool same = zt.to_vector<double>() == z.to_vector<double>();
    fmt::print("  transposed input gives the same values: {}\n", same ? "yes" : "NO");
    ok &= same;
    // float32 goes through the same template (the other SIMD clone).
    const Tensor zf = LeakyHardTanh::apply(x.detach().to(xgrad::float32), 0.1);
    fmt::print("  float32: {}\n", zf);

    fmt::print("\n4. In place: ScaleInPlace marks its argument dirty\n");
    // [excerpt dirty_use]
    Tensor h = x * 1.0;  // a non-leaf: a leaf that requires grad may not be modified in place
    const Tensor h_before = h;
    Tensor h2 = ScaleInPlace::apply(h, 3.0);
    fmt::print("  same tensor: {}, grad_fn: {}\n", h2.is_same(h_before) ? "yes" : "no", h.grad_fn_name());
    h.sum().backward();  // d(3 x)/dx = 3
    fmt::print("  d/dx = {}\n", x.grad());
    Tensor leaf = xgrad::ones({2}, f64.requires_grad());
    try {
      ScaleInPlace::apply(leaf, 2.0);  // forward has run (leaf now holds 2s), then apply throws
    } catch (const xgrad::Error& e) {
      fmt::print("  on a leaf: {}\n", e.what());
    }
    // [end excerpt]
    ok &= h2.is_same(h_before);
    x.set_grad(Tensor());

    fmt::print("\n5. As a Module\n");
    // [excerpt module_use]
    auto net = std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(3, 4), std::make_shared<Swish>(1.5),
                                                std::make_shared<nn::Linear>(4, 1));
    fmt::print("{}\n", net->repr());
    const Tensor out = (*net)(xgrad::randn({5, 3}));
    out.sum().backward();  // gradients reach the first layer through SwishBackward
    fmt::print("  output grad_fn: {}, first layer's weight grad norm {:.4f}\n", out.grad_fn_name(),
               net->parameters()[0].grad().norm().item<float>());
    // [end excerpt]

    fmt::print("\n6. Mistakes in backward\n");
    // [excerpt wrong_shape_use]
    try {
      BrokenSwish::apply(x, 1.5).sum().backward();
    } catch (const xgrad::Error& e) {
      fmt::print("  {}\n", e.what());
    }
    // [end excerpt]

    fmt::print("\n{}\n", ok ? "all custom ops passed gradcheck" : "FAILED: a custom op failed its check");
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
}
