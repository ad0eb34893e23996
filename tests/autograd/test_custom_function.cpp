// Custom ops through Function<Derived> and apply_lambda: non-tensor arguments passed through
// to forward (libtorch's rule: backward returns one gradient per forward argument, undefined
// for non-tensors), tensor-list arguments, ctx.mark_dirty (in-place custom ops) and
// mark_non_differentiable, the error messages for a wrong gradient count or shape, and
// gradcheck of the three ops of tutorial 09 (copied here: the tutorial is a program).
#include <any>

#include "test_util.hpp"
#include "xgrad/autograd/kernel/kernel.hpp"

using namespace xgrad;
using xgrad::test::check_close;
using xgrad::test::check_gradcheck;
using xgrad::test::check_gradgradcheck;
using xgrad::test::rand64;

namespace {

Tensor f64(std::initializer_list<NestedList> v, bool rg = false) {
  return tensor(v, TensorOptions().dtype(float64).requires_grad(rg));
}

struct AffineOptions {
  double shift = 0.0;
  std::vector<std::int64_t> flip_dims;
};

// y = sign * a * x * w + shift (flipped along flip_dims), sign = -1 when negate.
// dy/dx = sign a w, dy/dw = sign a x (then flipped back).
struct Affine : Function<Affine> {
  static std::string name() { return "AffineBackward"; }
  static Tensor forward(FunctionCtx& ctx, const Tensor& x, double a, bool negate, const std::string& tag,
                        const AffineOptions& o, const Tensor& w) {
    BOOST_CHECK_EQUAL(tag, "affine");
    BOOST_CHECK(!grad_mode_enabled());
    const double k = negate ? -a : a;
    ctx.save_for_backward({x, w});
    ctx.saved_data["k"] = k;
    ctx.saved_data["flip"] = o.flip_dims;
    Tensor y = x * w * k + o.shift;
    return o.flip_dims.empty() ? y : y.flip(o.flip_dims);
  }
  static std::vector<Tensor> backward(FunctionCtx& ctx, const std::vector<Tensor>& g) {
    const auto flip = std::any_cast<std::vector<std::int64_t>>(ctx.saved_data.at("flip"));
    const double k = std::any_cast<double>(ctx.saved_data.at("k"));
    BOOST_CHECK_EQUAL(ctx.needs_input_grad.size(), 6u);
    BOOST_CHECK(!ctx.needs_input_grad[1] && !ctx.needs_input_grad[2] && !ctx.needs_input_grad[3] &&
                !ctx.needs_input_grad[4]);
    Tensor gy = flip.empty() ? g[0] : g[0].flip(flip);
    const Tensor& x = ctx.saved()[0];
    const Tensor& w = ctx.saved()[1];
    return {gy * w * k, Tensor(), Tensor(), Tensor(), Tensor(), gy * x * k};
  }
};

// y = sum_i (i + 1) xs[i] * scale; a tensor-list argument gets one gradient per element.
struct WeightedSum : Function<WeightedSum> {
  static std::string name() { return "WeightedSumBackward"; }
  static Tensor forward(FunctionCtx& ctx, const std::vector<Tensor>& xs, std::int64_t scale) {
    ctx.saved_data["n"] = xs.size();
    ctx.saved_data["scale"] = scale;
    Tensor y = zeros_like(xs[0]);
    for (std::size_t i = 0; i < xs.size(); ++i) y = y + xs[i] * static_cast<double>((i + 1) * scale);
    return y;
  }
  static std::vector<Tensor> backward(FunctionCtx& ctx, const std::vector<Tensor>& g) {
    const auto n = std::any_cast<std::size_t>(ctx.saved_data.at("n"));
    const auto scale = std::any_cast<std::int64_t>(ctx.saved_data.at("scale"));
    std::vector<Tensor> r;
    for (std::size_t i = 0; i < n; ++i) r.push_back(g[0] * static_cast<double>((i + 1) * scale));
    r.push_back(Tensor());  // scale
    return r;
  }
};

// Returns as many gradients as told (or a defined one for the double argument).
struct BadGrads : Function<BadGrads> {
  static std::string name() { return "BadGradsBackward"; }
  static Tensor forward(FunctionCtx& ctx, const Tensor& x, double mode) {
    ctx.saved_data["mode"] = mode;
    return x * 2.0;
  }
  static std::vector<Tensor> backward(FunctionCtx& ctx, const std::vector<Tensor>& g) {
    const double mode = std::any_cast<double>(ctx.saved_data.at("mode"));
    if (mode == 0) return {g[0] * 2.0};                            // one short
    if (mode == 1) return {g[0] * 2.0, g[0]};                      // defined for the double
    if (mode == 2) return {g[0].t() * 2.0, Tensor()};              // wrong shape
    if (mode == 3) return {g[0] * 2.0, Tensor(), Tensor()};        // extra undefined: accepted
    return {g[0] * 2.0, Tensor(), g[0]};                           // extra defined: wrong count
  }
};

// In place: x <- x * k.
struct ScaleInPlace : Function<ScaleInPlace> {
  static std::string name() { return "ScaleInPlaceBackward"; }
  static Tensor forward(FunctionCtx& ctx, Tensor x, double k) {
    x.mul_(k);
    ctx.mark_dirty({x});
    ctx.saved_data["k"] = k;
    return x;
  }
  static std::vector<Tensor> backward(FunctionCtx& ctx, const std::vector<Tensor>& g) {
    return {g[0] * std::any_cast<double>(ctx.saved_data.at("k")), Tensor()};
  }
};

// In place: x <- exp(x), saving its output (the modified x): d exp(x)/dx = exp(x).
struct ExpInPlace : Function<ExpInPlace> {
  static std::string name() { return "ExpInPlaceBackward"; }
  static Tensor forward(FunctionCtx& ctx, Tensor x) {
    x.copy_(x.exp());
    ctx.mark_dirty({x});
    ctx.save_for_backward({x});
    return x;
  }
  static std::vector<Tensor> backward(FunctionCtx& ctx, const std::vector<Tensor>& g) {
    return {g[0] * ctx.saved()[0]};
  }
};

// In place on the first argument: x <- x + w.
struct AddInPlace : Function<AddInPlace> {
  static std::string name() { return "AddInPlaceBackward"; }
  static Tensor forward(FunctionCtx& ctx, Tensor x, const Tensor& w) {
    x.add_(w);
    ctx.mark_dirty({x});
    return x;
  }
  static std::vector<Tensor> backward(FunctionCtx&, const std::vector<Tensor>& g) { return {g[0], g[0]}; }
};

// Marks its argument dirty but returns something else.
struct DirtyNotReturned : Function<DirtyNotReturned> {
  static Tensor forward(FunctionCtx& ctx, Tensor x) {
    x.mul_(2.0);
    ctx.mark_dirty({x});
    return x * 1.0;
  }
  static std::vector<Tensor> backward(FunctionCtx&, const std::vector<Tensor>& g) { return {g[0]}; }
};

// ---- the ops of tutorial 09 (same code) ----
struct SwishFunction : Function<SwishFunction> {
  static std::string name() { return "SwishBackward"; }
  static Tensor forward(FunctionCtx& ctx, const Tensor& x, double beta) {
    Tensor s = (x * beta).sigmoid();
    ctx.save_for_backward({x});  // not s: see backward
    ctx.saved_data["beta"] = beta;
    return x * s;
  }
  static std::vector<Tensor> backward(FunctionCtx& ctx, const std::vector<Tensor>& grad) {
    const Tensor& x = ctx.saved()[0];
    const double beta = std::any_cast<double>(ctx.saved_data.at("beta"));
    // s is recomputed from x, not saved: forward's s carries no history, so a backward built
    // on it would be wrong under create_graph (second derivatives miss ds/dx).
    const Tensor s = (x * beta).sigmoid();
    return {grad[0] * (s + beta * x * s * (1.0 - s)), Tensor()};
  }
};

std::vector<Tensor> ste_backward(const std::vector<Tensor>& in, const Tensor&, const Tensor& grad) {
  return {grad * (in[0].abs() <= 1.0).to(grad.dtype())};
}

Tensor sign_ste(const Tensor& x) {
  return apply_lambda("SignSTEBackward", {x}, [](const std::vector<Tensor>& in) { return in[0].sign(); },
                      ste_backward);
}

struct LeakyHardTanh : Function<LeakyHardTanh> {
  static std::string name() { return "LeakyHardTanhBackward"; }
  static Tensor forward(FunctionCtx& ctx, const Tensor& x, double slope) {
    const Tensor xp = kernel::packed(x);
    Tensor y = empty(x.shape(), dtype(x.dtype()));
    kernel::dispatch_floating(x, "leaky_hardtanh", [&]<class T>() {
      const T* px = xp.data_ptr<T>();
      T* py = y.data_ptr<T>();
      const T a = static_cast<T>(slope);
      kernel::parallel_for(x.numel(), [&](std::int64_t b, std::int64_t e) {
        for (std::int64_t i = b; i < e; ++i) {
          const T v = px[i];
          const T c = v < T(-1) ? T(-1) : (v > T(1) ? T(1) : v);
          py[i] = c + a * (v - c);
        }
      });
    });
    ctx.save_for_backward({x});
    ctx.saved_data["slope"] = slope;
    return y;
  }
  static std::vector<Tensor> backward(FunctionCtx& ctx, const std::vector<Tensor>& grad) {
    const Tensor& x = ctx.saved()[0];
    const double slope = std::any_cast<double>(ctx.saved_data.at("slope"));
    const Tensor inside = (x.abs() <= 1.0).to(x.dtype());
    return {grad[0] * (inside + (1.0 - inside) * slope), Tensor()};
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(custom_function)

BOOST_AUTO_TEST_CASE(non_tensor_arguments) {
  // x = [1, 2], w = [3, 4], a = 2, negate: y = -2 x w + 0.5 = [-5.5, -15.5];
  // dy/dx = -2 w = [-6, -8], dy/dw = -2 x = [-2, -4].
  Tensor x = f64({1, 2}, true), w = f64({3, 4}, true);
  AffineOptions o;
  o.shift = 0.5;
  const std::string tag = "affine";
  Tensor y = Affine::apply(x, 2.0, true, tag, o, w);
  BOOST_CHECK_EQUAL(y.grad_fn_name(), "AffineBackward");
  BOOST_CHECK_EQUAL(y.grad_fn()->next_edges.size(), 2u);  // only the tensors are inputs
  check_close(y, f64({-5.5, -15.5}), 0);
  y.sum().backward();
  check_close(x.grad(), f64({-6, -8}), 0);
  check_close(w.grad(), f64({-2, -4}), 0);
  // rvalue arguments, a string literal, an options struct with a vector inside.
  AffineOptions flip{1.0, {0}};
  check_gradcheck([&](const std::vector<Tensor>& in) { return Affine::apply(in[0], 0.5, false, std::string("affine"), flip, in[1]); },
                  {rand64({3, 2}), rand64({3, 2})});
  check_gradgradcheck([&](const std::vector<Tensor>& in) { return Affine::apply(in[0], 1.5, true, tag, o, in[1]); },
                      {rand64({4}), rand64({4})});
  // Only x requires grad: needs_input_grad = {true, false x4, false}; w gets nothing.
  Tensor x2 = f64({1, 2}, true), w2 = f64({3, 4});
  Affine::apply(x2, 1.0, false, tag, o, w2).sum().backward();
  check_close(x2.grad(), f64({3, 4}), 0);
  // Nothing requires grad: no node.
  Tensor plain = Affine::apply(w2, 1.0, false, tag, o, w2);
  BOOST_CHECK(!plain.requires_grad());
  BOOST_CHECK(plain.is_leaf());
}

BOOST_AUTO_TEST_CASE(tensor_list_argument) {
  // y = 2 (a + 2 b + 3 c): gradients 2, 4, 6.
  Tensor a = f64({1, 2}, true), b = f64({3, 4}, true), c = f64({5, 6});
  Tensor y = WeightedSum::apply(std::vector<Tensor>{a, b, c}, std::int64_t{2});
  check_close(y, f64({44, 56}), 0);
  BOOST_CHECK_EQUAL(y.grad_fn()->next_edges.size(), 3u);
  y.sum().backward();
  check_close(a.grad(), f64({2, 2}), 0);
  check_close(b.grad(), f64({4, 4}), 0);
  check_gradcheck([](const std::vector<Tensor>& in) { return WeightedSum::apply(in, std::int64_t{3}); },
                  {rand64({2, 2}), rand64({2, 2})});
}

BOOST_AUTO_TEST_CASE(wrong_gradients) {
  Tensor x = rand64({2, 3});
  XGRAD_CHECK_THROW_MSG(BadGrads::apply(x, 0.0).sum().backward(),
                        "BadGradsBackward: backward returned 1 gradients, expected 2 (one per forward argument; "
                        "undefined for non-tensor ones)");
  XGRAD_CHECK_THROW_MSG(BadGrads::apply(x, 1.0).sum().backward(),
                        "BadGradsBackward: backward returned a defined gradient (shape [2, 3]) for argument 1, which "
                        "is not a tensor");
  XGRAD_CHECK_THROW_MSG(BadGrads::apply(x, 2.0).sum().backward(),
                        "BadGradsBackward: backward returned a gradient of shape [3, 2] for argument 0, a tensor of "
                        "shape [2, 3]");
  XGRAD_CHECK_THROW_MSG(BadGrads::apply(x, 4.0).sum().backward(), "backward returned 3 gradients, expected 2");
  XGRAD_CHECK_THROW_MSG(BadGrads::apply(Tensor(), 0.0), "BadGradsBackward: expected a defined tensor");
  // Extra trailing undefined gradients are ignored (libtorch).
  Tensor z = rand64({2, 3});
  BadGrads::apply(z, 3.0).sum().backward();
  check_close(z.grad(), full({2, 3}, 2.0, dtype(float64)), 0);
  // apply_lambda: the same checks, one gradient per input.
  Tensor a = rand64({2});
  Tensor bad = apply_lambda("TwoGrads", {a}, [](const std::vector<Tensor>& in) { return in[0] * 1.0; },
                            [](const std::vector<Tensor>&, const Tensor&, const Tensor& g) {
                              return std::vector<Tensor>{g, g};
                            });
  XGRAD_CHECK_THROW_MSG(bad.sum().backward(), "TwoGrads: backward returned 2 gradients, expected 1");
}

// ---- mark_dirty --------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(mark_dirty_returns_the_input_with_new_history) {
  // h = 1.0 * a; h <- 3 h in place: d(sum h)/da = 3.
  Tensor a = f64({1, 2, 3}, true);
  Tensor h = a * 1.0;
  const Tensor alias = h;
  const auto v0 = h.impl()->storage->version;
  Tensor r = ScaleInPlace::apply(h, 3.0);
  BOOST_CHECK(r.is_same(alias));
  BOOST_CHECK(h.is_same(alias));
  BOOST_CHECK_EQUAL(h.grad_fn_name(), "ScaleInPlaceBackward");
  // mul_ inside forward bumps once, mark_dirty once more (PyTorch bumps every dirty tensor).
  BOOST_CHECK_EQUAL(h.impl()->storage->version, v0 + 2);
  check_close(h, f64({3, 6, 9}), 0);
  h.sum().backward();
  check_close(a.grad(), f64({3, 3, 3}), 0);
  // gradcheck and gradgradcheck through the in-place op (on a clone: leaves can't be dirtied).
  check_gradcheck([](const std::vector<Tensor>& in) { return ScaleInPlace::apply(in[0] * 1.0, 2.5); },
                  {rand64({2, 3})});
  check_gradgradcheck([](const std::vector<Tensor>& in) { return ExpInPlace::apply(in[0] * 1.0); }, {rand64({4})});
}

BOOST_AUTO_TEST_CASE(mark_dirty_version_checks) {
  // A tensor saved by an earlier op and then dirtied: that op's backward detects it.
  Tensor a = f64({1, 2}, true);
  Tensor h = a * 1.0;
  Tensor sq = h * h;  // saves h
  ScaleInPlace::apply(h, 2.0);
  XGRAD_CHECK_THROW_MSG(sq.sum().backward(), "modified by an in-place operation");
  // The custom op saves its own (dirty) output; a later in-place op on it is detected.
  Tensor b = f64({0.5, -1}, true);
  Tensor e = ExpInPlace::apply(b * 1.0);
  Tensor e_ok = ExpInPlace::apply(b * 1.0);
  e.add_(1.0);
  XGRAD_CHECK_THROW_MSG(e.sum().backward(), "ExpInPlaceBackward: one of the tensors needed for gradient computation "
                                            "has been modified by an in-place operation");
  e_ok.sum().backward();  // untouched: d exp(b)/db = exp(b)
  check_close(b.grad(), b.detach().exp(), 1e-15);
}

BOOST_AUTO_TEST_CASE(mark_dirty_errors) {
  Tensor leaf = f64({1, 2}, true);
  XGRAD_CHECK_THROW_MSG(ScaleInPlace::apply(leaf, 2.0),
                        "ScaleInPlaceBackward: a leaf tensor that requires grad (Tensor(shape=[2], dtype=float64)) is "
                        "being used in an in-place operation");
  // A view of such a leaf.
  Tensor leaf2 = f64({1, 2, 3, 4}, true);
  XGRAD_CHECK_THROW_MSG(ScaleInPlace::apply(leaf2.narrow(0, 1, 2), 2.0), "a view of a leaf tensor that requires grad");
  XGRAD_CHECK_THROW_MSG(DirtyNotReturned::apply(f64({1, 2}, true) * 1.0),
                        "a tensor marked dirty (Tensor(shape=[2], dtype=float64)) was not returned by forward");
  // Under NoGradGuard a leaf may be modified (like a built-in in-place op), nothing recorded.
  {
    NoGradGuard ng;
    Tensor r = ScaleInPlace::apply(leaf, 2.0);
    BOOST_CHECK(r.is_same(leaf));
    BOOST_CHECK(r.is_leaf());
  }
  // The failed call above had already run forward (as in PyTorch): 1, 2 -> 2, 4 -> 4, 8.
  check_close(leaf, f64({4, 8}), 0);
}

BOOST_AUTO_TEST_CASE(mark_dirty_leaf_without_grad_takes_history) {
  // x (no grad) <- x + w: x becomes a non-leaf whose gradient reaches w.
  Tensor x = f64({1, 2});
  Tensor w = f64({10, 20}, true);
  Tensor r = AddInPlace::apply(x, w);
  BOOST_CHECK(r.is_same(x));
  BOOST_CHECK(x.requires_grad());
  BOOST_CHECK(!x.is_leaf());
  check_close(x, f64({11, 22}), 0);
  (x * x).sum().backward();  // d(sum (x + w)^2)/dw = 2 (x + w)
  check_close(w.grad(), f64({22, 44}), 0);
  // Nothing requires grad: the same handle comes back, version bumped, no history.
  Tensor p = f64({1, 2}), q = f64({3, 4});
  const auto v0 = p.impl()->storage->version;
  BOOST_CHECK(AddInPlace::apply(p, q).is_same(p));
  BOOST_CHECK_EQUAL(p.impl()->storage->version, v0 + 2);
  BOOST_CHECK(p.is_leaf());
}

BOOST_AUTO_TEST_CASE(mark_dirty_through_a_view) {
  // base = 1.0 * a (2 x 3); row 1 <- 3 * row 1 through a view: d(sum base)/da is 1 on row 0,
  // 3 on row 1, and base's grad_fn is CopySlices (as for a built-in in-place op).
  Tensor a = rand64({2, 3});
  Tensor base = a * 1.0;
  Tensor row = base.select(0, 1);
  Tensor r = ScaleInPlace::apply(row, 3.0);
  BOOST_CHECK(r.is_same(row));
  BOOST_CHECK_EQUAL(base.grad_fn_name(), "CopySlices");
  check_close(base.select(0, 1), a.detach().select(0, 1) * 3.0, 1e-15);
  base.sum().backward();
  check_close(a.grad(), f64({{1, 1, 1}, {3, 3, 3}}), 0);
  // The view's own history is regenerated from the base's: d(sum row)/da = 3 on row 1.
  Tensor a2 = rand64({2, 3});
  Tensor base2 = a2 * 1.0;
  Tensor row2 = base2.select(0, 0);
  ScaleInPlace::apply(row2, 3.0);
  row2.sum().backward();
  check_close(a2.grad(), f64({{3, 3, 3}, {0, 0, 0}}), 0);
}

// ---- mark_non_differentiable with non-tensor arguments -------------------------------------

BOOST_AUTO_TEST_CASE(non_differentiable_output_and_arguments) {
  struct Threshold : Function<Threshold> {
    static std::vector<Tensor> forward(FunctionCtx& ctx, const Tensor& x, double t) {
      Tensor y = x * 2.0, mask = (x > t).to(float64);
      ctx.mark_non_differentiable({mask});
      return {y, mask};
    }
    static std::vector<Tensor> backward(FunctionCtx&, const std::vector<Tensor>& g) {
      return {g[0] * 2.0, Tensor()};
    }
  };
  Tensor x = f64({1, 5, 2}, true);
  auto outs = Threshold::apply(x, 1.5);
  BOOST_CHECK(outs[0].requires_grad());
  BOOST_CHECK(!outs[1].requires_grad());
  check_close(outs[1], f64({0, 1, 1}), 0);
  outs[0].sum().backward();
  check_close(x.grad(), f64({2, 2, 2}), 0);
}

// ---- tutorial 09's ops ---------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(tutorial_ops_gradcheck) {
  // Swish at x = 0 with beta = 2: s = 1/2, dy/dx = s + beta * 0 = 0.5.
  Tensor zero = f64({0.0}, true);
  SwishFunction::apply(zero, 2.0).sum().backward();
  check_close(zero.grad(), f64({0.5}), 1e-15);
  check_gradcheck([](const std::vector<Tensor>& in) { return SwishFunction::apply(in[0], 1.5); }, {rand64({3, 4})});
  check_gradgradcheck([](const std::vector<Tensor>& in) { return SwishFunction::apply(in[0], 0.7); }, {rand64({5})});
  // Same values as the composite x * sigmoid(beta x).
  Tensor x = rand64({6});
  check_close(SwishFunction::apply(x, 1.5), x * (x * 1.5).sigmoid(), 1e-15);

  // STE: sign forward, hard-tanh gradient backward.
  Tensor s = f64({-2.3, -0.7, 0.4, 1.6}, true);
  Tensor y = sign_ste(s);
  check_close(y, f64({-1, -1, 1, 1}), 0);
  y.sum().backward();
  check_close(s.grad(), f64({0, 1, 1, 0}), 0);
  check_gradcheck(
      [](const std::vector<Tensor>& in) {
        return apply_lambda("HardTanhSTE", {in[0]}, [](const std::vector<Tensor>& v) { return v[0].clamp(-1.0, 1.0); },
                            ste_backward);
      },
      {f64({{-2.3, -0.7, -0.2}, {0.4, 0.9, 1.6}}, true)});

  // Leaky hard-tanh: y(2) = 1 + 0.1 (2 - 1) = 1.1, y(-3) = -1 + 0.1 (-3 + 1) = -1.2, y(0.5) = 0.5;
  // dy/dx = 0.1, 0.1, 1.
  Tensor l = f64({2.0, -3.0, 0.5}, true);
  Tensor ly = LeakyHardTanh::apply(l, 0.1);
  check_close(ly, f64({1.1, -1.2, 0.5}), 1e-15);
  ly.sum().backward();
  check_close(l.grad(), f64({0.1, 0.1, 1.0}), 1e-15);
  check_gradcheck([](const std::vector<Tensor>& in) { return LeakyHardTanh::apply(in[0], 0.1); },
                  {f64({{-2.3, -0.7, -0.2}, {0.4, 0.9, 1.6}}, true)});
  // Strided input and float32; integer input throws.
  Tensor t = f64({{-2.3, -0.7, -0.2}, {0.4, 0.9, 1.6}});
  check_close(LeakyHardTanh::apply(t.t(), 0.1), LeakyHardTanh::apply(t, 0.1).t(), 0);
  check_close(LeakyHardTanh::apply(t.to(float32), 0.1), LeakyHardTanh::apply(t, 0.1).to(float32), 1e-6);
  XGRAD_CHECK_THROW_MSG(LeakyHardTanh::apply(ones({3}, dtype(int64)), 0.1), "leaky_hardtanh: expected a floating dtype");
  // 1 vs 2 threads: identical (each element computed by one thread).
  Tensor big = randn({70000}, dtype(float64));
  const int threads = get_num_threads();
  set_num_threads(1);
  Tensor one = LeakyHardTanh::apply(big, 0.1);
  set_num_threads(2);
  Tensor two = LeakyHardTanh::apply(big, 0.1);
  set_num_threads(threads);
  BOOST_CHECK(one.to_vector<double>() == two.to_vector<double>());
}

BOOST_AUTO_TEST_SUITE_END()
