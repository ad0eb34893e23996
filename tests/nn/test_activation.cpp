// Activations: values against PyTorch's formulas, hand-derived derivatives, gradcheck /
// gradgradcheck, softmax behaviour, modules and errors.
#include <cmath>
#include <limits>
#include <memory>
#include <numbers>

#include "test_util.hpp"
#include "xgrad/nn/activation.hpp"

using namespace xgrad;
using xgrad::test::check_close;
using xgrad::test::check_gradcheck;
using xgrad::test::check_gradgradcheck;
using xgrad::test::rand64;
namespace F = xgrad::nn::functional;

namespace {

Tensor vec64(const std::vector<double>& v, bool requires_grad = false) {
  return from_vector<double>(v, {static_cast<std::int64_t>(v.size())}, requires_grad);
}

// The points used by most value tests.
const std::vector<double> kPoints = {-3.0, -1.0, 0.0, 0.5, 2.0};

// d(sum f(x))/dx at the given points.
Tensor grad_at(const std::function<Tensor(const Tensor&)>& f, const std::vector<double>& points) {
  Tensor x = vec64(points, true);
  f(x).sum().backward();
  return x.grad();
}

// d^2 f/dx^2 at the given points (element-wise activations only).
Tensor second_grad_at(const std::function<Tensor(const Tensor&)>& f, const std::vector<double>& points) {
  Tensor x = vec64(points, true);
  autograd::GradOptions go;
  go.create_graph = true;
  Tensor g = autograd::grad({f(x).sum()}, {x}, {}, go)[0];
  return autograd::grad({g.sum()}, {x})[0];
}

// Shapes for gradcheck: 1-d, 2-d, size-1 dims, 0-d.
const std::vector<Shape> kShapes = {{5}, {2, 3}, {2, 1, 3}, {}};

using Fn = std::function<Tensor(const Tensor&)>;

void gradcheck_all_shapes(const Fn& f, double scale = 1.5, double shift = 0.0) {
  for (const Shape& s : kShapes)
    check_gradcheck([&](const std::vector<Tensor>& in) { return f(in[0]); }, {rand64(s, scale, shift)});
}

void gradgradcheck_all_shapes(const Fn& f, double scale = 1.5, double shift = 0.0) {
  for (const Shape& s : kShapes)
    check_gradgradcheck([&](const std::vector<Tensor>& in) { return f(in[0]); }, {rand64(s, scale, shift)});
}

// Reference softmax from core ops (an independent oracle for the fused kernel).
Tensor softmax_ref(const Tensor& x, std::int64_t dim) {
  Tensor e = exp(x - max(x, {dim}, true));
  return e / sum(e, {dim}, true);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(activation)

// ---------------------------------------------------------------------------------------------
// Values (numbers computed from PyTorch's documented formulas)
// ---------------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(values_sigmoid_tanh_relu) {
  Tensor x = vec64(kPoints);
  check_close(F::sigmoid(x), vec64({0.0474258731776, 0.26894142137, 0.5, 0.622459331202, 0.880797077978}), 1e-11);
  check_close(F::tanh(x), vec64({-0.995054753687, -0.761594155956, 0.0, 0.46211715726, 0.964027580076}), 1e-11);
  check_close(F::relu(x), vec64({0, 0, 0, 0.5, 2}), 0);
  // relu keeps int64 (like PyTorch).
  Tensor i = from_vector<std::int64_t>({-2, 0, 3});
  BOOST_TEST(F::relu(i).to_vector<std::int64_t>() == (std::vector<std::int64_t>{0, 0, 3}));
}

BOOST_AUTO_TEST_CASE(values_leaky_relu) {
  Tensor x = vec64(kPoints);
  check_close(F::leaky_relu(x), vec64({-0.03, -0.01, 0.0, 0.5, 2.0}), 1e-15);
  check_close(F::leaky_relu(x, 0.2), vec64({-0.6, -0.2, 0.0, 0.5, 2.0}), 1e-15);
}

BOOST_AUTO_TEST_CASE(values_gelu_both_forms) {
  Tensor x = vec64(kPoints);
  // x/2 (1 + erf(x / sqrt 2))
  check_close(F::gelu(x), vec64({-0.00404969409489, -0.158655253931, 0.0, 0.345731230637, 1.9544997361}), 1e-11);
  check_close(F::gelu(x, "none"), F::gelu(x), 0);
  // x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
  check_close(F::gelu(x, "tanh"), vec64({-0.00363739208177, -0.158808009392, 0.0, 0.345714009825, 1.95459769409}),
              1e-11);
  // Large |x|: gelu(x) -> x and -> 0 without NaN in both forms.
  Tensor big = vec64({-40.0, 40.0});
  check_close(F::gelu(big), vec64({0.0, 40.0}), 1e-12);
  check_close(F::gelu(big, "tanh"), vec64({0.0, 40.0}), 1e-12);
}

BOOST_AUTO_TEST_CASE(values_elu_selu) {
  Tensor x = vec64(kPoints);
  // alpha (e^x - 1) for x <= 0
  check_close(F::elu(x), vec64({-0.950212931632, -0.632120558829, 0.0, 0.5, 2.0}), 1e-11);
  check_close(F::elu(x, 0.5), vec64({-0.475106465816, -0.316060279414, 0.0, 0.5, 2.0}), 1e-11);
  // scale (x > 0 ? x : alpha (e^x - 1)), scale = 1.0507009873554804934, alpha = 1.6732632423543772848
  check_close(F::selu(x), vec64({-1.67056872877, -1.11133073781, 0.0, 0.525350493678, 2.10140197471}), 1e-10);
  BOOST_TEST(nn::kSeluScale == 1.0507009873554804934193349852946);
  BOOST_TEST(nn::kSeluAlpha == 1.6732632423543772848170429916717);
  // Saturation: selu(-inf-ish) -> -scale alpha.
  check_close(F::selu(vec64({-100.0})), vec64({-nn::kSeluScale * nn::kSeluAlpha}), 1e-12);
}

BOOST_AUTO_TEST_CASE(values_silu_mish) {
  Tensor x = vec64(kPoints);
  check_close(F::silu(x), vec64({-0.142277619533, -0.26894142137, 0.0, 0.311229665601, 1.76159415596}), 1e-11);
  check_close(F::mish(x), vec64({-0.145647461276, -0.303401461374, 0.0, 0.375245211305, 1.94395895953}), 1e-11);
  // Far tails: silu(-800) must be -0 not NaN (e^800 overflows), mish likewise.
  Tensor tails = vec64({-800.0, 800.0});
  check_close(F::silu(tails), vec64({0.0, 800.0}), 0);
  check_close(F::mish(tails), vec64({0.0, 800.0}), 0);
}

BOOST_AUTO_TEST_CASE(values_softplus_threshold) {
  Tensor x = vec64(kPoints);
  // log(1 + e^x)
  check_close(F::softplus(x), vec64({0.0485873515737, 0.313261687518, 0.69314718056, 0.97407698418, 2.12692801104}),
              1e-11);
  // beta = 2, threshold = 3: log(1 + e^(2x)) / 2, but x itself at x = 2 (2 * 2 > 3).
  check_close(F::softplus(x, 2.0, 3.0), vec64({0.00123784256887, 0.0634640055215, 0.34657359028, 0.656630843759, 2.0}),
              1e-11);
  // Default threshold 20: 25 is returned as is, 15 goes through the log; -30 is tiny but positive.
  Tensor y = F::softplus(vec64({25.0, 15.0, -30.0}));
  const auto v = y.to_vector<double>();
  BOOST_TEST(v[0] == 25.0);
  BOOST_TEST(std::fabs(v[1] - (15.0 + std::log1p(std::exp(-15.0)))) < 1e-13);
  BOOST_TEST(std::fabs(v[2] - 9.357622968839737e-14) < 1e-25);
  // beta x on both sides of the threshold: 10.5 * 2 = 21 > 20 -> x; 9.5 * 2 = 19 -> log form.
  check_close(F::softplus(vec64({10.5, 9.5}), 2.0), vec64({10.5, 9.500000002801398}), 1e-13);
  // No overflow far above the threshold (float32: e^200 would be inf).
  Tensor f = F::softplus(full({2}, 200.0));
  BOOST_TEST(f.to_vector<float>()[0] == 200.0f);
}

BOOST_AUTO_TEST_CASE(values_hardtanh_relu6) {
  Tensor x = vec64({-3.0, -1.0, -0.5, 0.0, 1.0, 5.0, 7.0});
  check_close(F::hardtanh(x), vec64({-1.0, -1.0, -0.5, 0.0, 1.0, 1.0, 1.0}), 0);
  check_close(F::hardtanh(x, -2.0, 0.25), vec64({-2.0, -1.0, -0.5, 0.0, 0.25, 0.25, 0.25}), 0);
  check_close(F::relu6(x), vec64({0.0, 0.0, 0.0, 0.0, 1.0, 5.0, 6.0}), 0);
  // min == max is allowed: constant output.
  check_close(F::hardtanh(x, 0.5, 0.5), full({7}, 0.5, dtype(float64)), 0);
}

BOOST_AUTO_TEST_CASE(nan_propagates) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Tensor x = vec64({nan});
  for (const Fn& f :
       std::vector<Fn>{[](const Tensor& t) { return F::leaky_relu(t); }, [](const Tensor& t) { return F::gelu(t); },
                       [](const Tensor& t) { return F::gelu(t, "tanh"); }, [](const Tensor& t) { return F::elu(t); },
                       [](const Tensor& t) { return F::selu(t); }, [](const Tensor& t) { return F::silu(t); },
                       [](const Tensor& t) { return F::softplus(t); }, [](const Tensor& t) { return F::hardtanh(t); },
                       [](const Tensor& t) { return F::mish(t); }})
    BOOST_TEST(std::isnan(f(x).item<double>()));
}

BOOST_AUTO_TEST_CASE(float32_matches_float64) {
  Tensor x64 = linspace(-6.0, 6.0, 49, dtype(float64));
  Tensor x32 = x64.to(float32);
  for (const Fn& f : std::vector<Fn>{
           [](const Tensor& t) { return F::leaky_relu(t, 0.1); }, [](const Tensor& t) { return F::gelu(t); },
           [](const Tensor& t) { return F::gelu(t, "tanh"); }, [](const Tensor& t) { return F::elu(t); },
           [](const Tensor& t) { return F::selu(t); }, [](const Tensor& t) { return F::silu(t); },
           [](const Tensor& t) { return F::softplus(t); }, [](const Tensor& t) { return F::hardtanh(t); },
           [](const Tensor& t) { return F::relu6(t); }, [](const Tensor& t) { return F::mish(t); },
           [](const Tensor& t) { return F::softmax(t, 0); }, [](const Tensor& t) { return F::log_softmax(t, 0); }}) {
    Tensor y32 = f(x32);
    BOOST_TEST((y32.dtype() == float32));
    check_close(y32, f(x64), 2e-6);
  }
}

// ---------------------------------------------------------------------------------------------
// Derivatives at a few points, derived by hand
// ---------------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(derivative_relu_family_at_kinks) {
  // relu' = 1 for x > 0, else 0 (0 at x == 0).
  check_close(grad_at([](const Tensor& t) { return F::relu(t); }, {-1.0, 0.0, 2.0}), vec64({0, 0, 1}), 0);
  // leaky_relu' = 1 for x > 0, else slope (slope at 0, like PyTorch).
  check_close(grad_at([](const Tensor& t) { return F::leaky_relu(t, 0.2); }, {-1.0, 0.0, 2.0}), vec64({0.2, 0.2, 1}),
              1e-15);
  // hardtanh' = 1 strictly inside (-1, 1); 0 at the bounds and outside.
  check_close(grad_at([](const Tensor& t) { return F::hardtanh(t); }, {-2.0, -1.0, -0.5, 0.0, 1.0, 3.0}),
              vec64({0, 0, 1, 1, 0, 0}), 0);
  // relu6' = 1 strictly inside (0, 6).
  check_close(grad_at([](const Tensor& t) { return F::relu6(t); }, {-1.0, 0.0, 3.0, 6.0, 7.0}), vec64({0, 0, 1, 0, 0}),
              0);
}

BOOST_AUTO_TEST_CASE(derivative_smooth_activations) {
  // sigmoid' = s (1 - s): at 0: 1/4; at 2: 0.880797 * 0.119203 = 0.104994.
  check_close(grad_at([](const Tensor& t) { return F::sigmoid(t); }, {0.0, 2.0}), vec64({0.25, 0.104993585404}), 1e-11);
  // tanh' = 1 - tanh^2: at 0: 1; at -1: 1 - 0.761594^2 = 0.419974.
  check_close(grad_at([](const Tensor& t) { return F::tanh(t); }, {0.0, -1.0}), vec64({1.0, 0.419974341614}), 1e-11);
  // gelu' = Phi(x) + x phi(x): at 0: 1/2; at -1: 0.158655 - 0.241971 = -0.0833155; at 2: 0.977250 + 2 * 0.053991.
  check_close(grad_at([](const Tensor& t) { return F::gelu(t); }, kPoints),
              vec64({-0.0119456472042, -0.0833154705877, 0.5, 0.867495124656, 1.08523180108}), 1e-11);
  // tanh gelu' = (1 + t)/2 + x/2 (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2), t = tanh(sqrt(2/pi) (x + 0.044715 x^3)).
  check_close(grad_at([](const Tensor& t) { return F::gelu(t, "tanh"); }, kPoints),
              vec64({-0.011584166631, -0.0829640838458, 0.5, 0.867369903535, 1.08609925662}), 1e-11);
  // elu' = 1 for x > 0, else alpha e^x (alpha at 0): alpha = 0.5: at -1: 0.5 e^-1 = 0.18394.
  check_close(grad_at([](const Tensor& t) { return F::elu(t, 0.5); }, {-1.0, 0.0, 2.0}),
              vec64({0.5 * std::exp(-1.0), 0.5, 1.0}), 1e-15);
  // selu' = scale for x > 0, else scale alpha e^x.
  check_close(grad_at([](const Tensor& t) { return F::selu(t); }, kPoints),
              vec64({0.0875306120803, 0.646768603035, 1.75809934085, 1.05070098736, 1.05070098736}), 1e-10);
  // silu' = s (1 + x (1 - s)): at 0: 1/2; at -1: 0.268941 (1 - 0.731059) = 0.0723295.
  check_close(grad_at([](const Tensor& t) { return F::silu(t); }, kPoints),
              vec64({-0.0881041060152, 0.0723294881285, 0.5, 0.739961187303, 1.09078424878}), 1e-11);
  // softplus' = sigmoid(beta x) below the threshold, 1 above: beta = 2, threshold = 3:
  // at 0: 1/2; at 1: sigmoid(2) = 0.880797; at 2: beta x = 4 > 3 -> 1.
  check_close(grad_at([](const Tensor& t) { return F::softplus(t, 2.0, 3.0); }, {0.0, 1.0, 2.0}),
              vec64({0.5, 0.880797077978, 1.0}), 1e-11);
  // mish' = tanh(sp) + x sigmoid(x) (1 - tanh^2(sp)), sp = softplus(x): at 0: tanh(ln 2) = 0.6.
  check_close(grad_at([](const Tensor& t) { return F::mish(t); }, kPoints),
              vec64({-0.0933931145323, 0.0592167558774, 0.6, 0.886424375358, 1.06931793428}), 1e-11);
}

BOOST_AUTO_TEST_CASE(second_derivatives_by_hand) {
  // gelu'' = phi(x) (2 - x^2): at 0: 2 / sqrt(2 pi) = 0.797885; at 1: phi(1) = 0.241971.
  check_close(second_grad_at([](const Tensor& t) { return F::gelu(t); }, {0.0, 1.0}),
              vec64({0.797884560803, 0.241970724519}), 1e-11);
  // tanh gelu'' at 0: (1 - 0) (sqrt(2/pi) + 0) = 0.797885.
  check_close(second_grad_at([](const Tensor& t) { return F::gelu(t, "tanh"); }, {0.0}), vec64({0.797884560803}),
              1e-11);
  // silu'' = s (1 - s) (2 + x (1 - 2 s)): at 0: 1/4 * 2 = 1/2.
  check_close(second_grad_at([](const Tensor& t) { return F::silu(t); }, {0.0}), vec64({0.5}), 1e-14);
  // softplus'' = beta s (1 - s) below the threshold, 0 above: beta = 2 at 0: 2/4 = 1/2; at 30: 0.
  check_close(second_grad_at([](const Tensor& t) { return F::softplus(t, 2.0); }, {0.0, 30.0}), vec64({0.5, 0.0}),
              1e-14);
  // elu'' = 0 for x > 0, alpha e^x for x <= 0: alpha = 2 at -1: 2 e^-1; at 800: 0 (no inf * 0 NaN).
  check_close(second_grad_at([](const Tensor& t) { return F::elu(t, 2.0); }, {-1.0, 3.0, 800.0}),
              vec64({2.0 * std::exp(-1.0), 0.0, 0.0}), 1e-15);
  // leaky_relu'' = 0 everywhere (piecewise linear).
  Tensor x = vec64({-1.0, 2.0}, true);
  autograd::GradOptions go;
  go.create_graph = true;
  Tensor g = autograd::grad({F::leaky_relu(x, 0.3).sum()}, {x}, {}, go)[0];
  check_close(g, vec64({0.3, 1.0}), 1e-15);
  BOOST_TEST(!g.requires_grad());  // nothing depends on x any more: the second derivative is 0
}

// ---------------------------------------------------------------------------------------------
// gradcheck / gradgradcheck (float64)
// ---------------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(gradcheck_every_activation) {
  manual_seed(11);
  gradcheck_all_shapes([](const Tensor& t) { return F::sigmoid(t); });
  gradcheck_all_shapes([](const Tensor& t) { return F::tanh(t); });
  gradcheck_all_shapes([](const Tensor& t) { return F::relu(t); });
  gradcheck_all_shapes([](const Tensor& t) { return F::leaky_relu(t); });
  gradcheck_all_shapes([](const Tensor& t) { return F::leaky_relu(t, -0.5); });
  gradcheck_all_shapes([](const Tensor& t) { return F::gelu(t); }, 3.0);
  gradcheck_all_shapes([](const Tensor& t) { return F::gelu(t, "tanh"); }, 3.0);
  gradcheck_all_shapes([](const Tensor& t) { return F::elu(t); });
  gradcheck_all_shapes([](const Tensor& t) { return F::elu(t, 0.3); });
  gradcheck_all_shapes([](const Tensor& t) { return F::selu(t); });
  gradcheck_all_shapes([](const Tensor& t) { return F::silu(t); }, 3.0);
  gradcheck_all_shapes([](const Tensor& t) { return F::softplus(t); }, 3.0);
  gradcheck_all_shapes([](const Tensor& t) { return F::softplus(t, 3.0, 2.0); });
  gradcheck_all_shapes([](const Tensor& t) { return F::hardtanh(t); });
  gradcheck_all_shapes([](const Tensor& t) { return F::hardtanh(t, -0.5, 2.0); });
  gradcheck_all_shapes([](const Tensor& t) { return F::relu6(t); }, 4.0, 3.0);
  gradcheck_all_shapes([](const Tensor& t) { return F::mish(t); }, 3.0);
  for (std::int64_t d : {0, -1}) {
    gradcheck_all_shapes([d](const Tensor& t) { return F::softmax(t, d); }, 2.0);
    gradcheck_all_shapes([d](const Tensor& t) { return F::log_softmax(t, d); }, 2.0);
    gradcheck_all_shapes([d](const Tensor& t) { return F::softmin(t, d); }, 2.0);
  }
  // Every dim of a 3-d tensor (strided rows).
  for (std::int64_t d : {0, 1, 2}) {
    check_gradcheck([d](const std::vector<Tensor>& in) { return F::softmax(in[0], d); }, {rand64({2, 3, 4}, 2.0)});
    check_gradcheck([d](const std::vector<Tensor>& in) { return F::log_softmax(in[0], d); }, {rand64({2, 3, 4}, 2.0)});
  }
}

BOOST_AUTO_TEST_CASE(gradgradcheck_smooth_activations) {
  manual_seed(12);
  gradgradcheck_all_shapes([](const Tensor& t) { return F::gelu(t); }, 2.0);
  gradgradcheck_all_shapes([](const Tensor& t) { return F::gelu(t, "tanh"); }, 2.0);
  gradgradcheck_all_shapes([](const Tensor& t) { return F::silu(t); }, 2.0);
  gradgradcheck_all_shapes([](const Tensor& t) { return F::softplus(t); }, 2.0);
  gradgradcheck_all_shapes([](const Tensor& t) { return F::softplus(t, 2.0, 3.0); }, 2.0);
  gradgradcheck_all_shapes([](const Tensor& t) { return F::elu(t, 0.7); });
  gradgradcheck_all_shapes([](const Tensor& t) { return F::selu(t); });
  gradgradcheck_all_shapes([](const Tensor& t) { return F::mish(t); }, 2.0);
  gradgradcheck_all_shapes([](const Tensor& t) { return F::leaky_relu(t, 0.1); });
  for (std::int64_t d : {0, 1, -1}) {
    check_gradgradcheck([d](const std::vector<Tensor>& in) { return F::softmax(in[0], d); }, {rand64({3, 4}, 2.0)});
    check_gradgradcheck([d](const std::vector<Tensor>& in) { return F::log_softmax(in[0], d); }, {rand64({3, 4}, 2.0)});
    check_gradgradcheck([d](const std::vector<Tensor>& in) { return F::softmin(in[0], d); }, {rand64({3, 4}, 2.0)});
  }
  check_gradgradcheck([](const std::vector<Tensor>& in) { return F::softmax(in[0], 1); }, {rand64({2, 3, 2})});
  check_gradgradcheck([](const std::vector<Tensor>& in) { return F::log_softmax(in[0], 1); }, {rand64({2, 3, 2})});
}

BOOST_AUTO_TEST_CASE(third_derivative_of_gelu_is_exact) {
  // The recorded second derivative is itself built from differentiable ops.
  // gelu''' = d/dx [phi (2 - x^2)] = phi (-x (2 - x^2) - 2x) = phi x (x^2 - 4): at 1: -3 phi(1).
  Tensor x = vec64({1.0}, true);
  autograd::GradOptions go;
  go.create_graph = true;
  Tensor g1 = autograd::grad({F::gelu(x).sum()}, {x}, {}, go)[0];
  Tensor g2 = autograd::grad({g1.sum()}, {x}, {}, go)[0];
  Tensor g3 = autograd::grad({g2.sum()}, {x})[0];
  BOOST_TEST(std::fabs(g3.item<double>() - (-3.0 * 0.241970724519143)) < 1e-12);
}

// ---------------------------------------------------------------------------------------------
// Fused kernels against compositions of core ops (also on large tensors: the TBB path)
// ---------------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(fused_kernels_match_compositions_large) {
  manual_seed(13);
  for (Dtype dt : {float64, float32}) {
    const double tol = dt == float64 ? 1e-12 : 2e-5;
    Tensor x = (randn({70001}, dtype(dt)) * 3.0).detach().requires_grad_(true);
    const std::vector<std::pair<Fn, Fn>> pairs = {
        {[](const Tensor& t) { return F::leaky_relu(t, 0.1); },
         [](const Tensor& t) { return where(gt(t, 0.0), t, t * 0.1); }},
        {[](const Tensor& t) { return F::gelu(t); },
         [](const Tensor& t) { return t * 0.5 * (erf(t / std::sqrt(2.0)) + 1.0); }},
        {[](const Tensor& t) { return F::gelu(t, "tanh"); },
         [](const Tensor& t) {
           return t * 0.5 * (tanh((t + t * t * t * 0.044715) * std::sqrt(2.0 / std::numbers::pi)) + 1.0);
         }},
        {[](const Tensor& t) { return F::elu(t, 0.7); },
         [](const Tensor& t) { return where(gt(t, 0.0), t, (exp(clamp(t, std::nullopt, 0.0)) - 1.0) * 0.7); }},
        {[](const Tensor& t) { return F::silu(t); }, [](const Tensor& t) { return t * sigmoid(t); }},
        {[](const Tensor& t) { return F::softplus(t); }, [](const Tensor& t) { return log1p(exp(t)); }},
        {[](const Tensor& t) { return F::hardtanh(t, -2.0, 3.0); },
         [](const Tensor& t) { return clamp(t, -2.0, 3.0); }},
    };
    for (const auto& [fused, ref] : pairs) {
      Tensor y = fused(x);
      Tensor r = ref(x);
      check_close(y, r, tol * 10);
      Tensor gy = autograd::grad({y.sum()}, {x})[0];
      Tensor gr = autograd::grad({r.sum()}, {x})[0];
      check_close(gy, gr, tol * 10);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// softmax / log_softmax / softmin behaviour
// ---------------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(softmax_values_by_hand) {
  // softmax([1, 2, 3]) = e^(x - 3) / (e^-2 + e^-1 + 1)
  Tensor x = vec64({1.0, 2.0, 3.0}, true);
  Tensor y = F::softmax(x, 0);
  check_close(y, vec64({0.09003057317038046, 0.24472847105479764, 0.6652409557748218}), 1e-15);
  BOOST_TEST(y.grad_fn_name() == "SoftmaxBackward");
  check_close(F::log_softmax(x, 0), vec64({-2.4076059644443806, -1.4076059644443804, -0.4076059644443804}), 1e-15);
  // softmin(x) = softmax(-x): reversed order here.
  check_close(F::softmin(x, 0), vec64({0.6652409557748218, 0.24472847105479764, 0.09003057317038046}), 1e-15);
  // Backward with g = [1, 0, 0]: g_x = y (g - y_0) = [y0 (1 - y0), -y0 y1, -y0 y2].
  const double y0 = 0.09003057317038046, y1 = 0.24472847105479764, y2 = 0.6652409557748218;
  y.backward(vec64({1.0, 0.0, 0.0}));
  check_close(x.grad(), vec64({y0 * (1 - y0), -y0 * y1, -y0 * y2}), 1e-15);
  // log_softmax backward with g = [1, 0, 0]: g_x = g - softmax * sum(g) = [1 - y0, -y1, -y2].
  Tensor x2 = vec64({1.0, 2.0, 3.0}, true);
  F::log_softmax(x2, 0).backward(vec64({1.0, 0.0, 0.0}));
  check_close(x2.grad(), vec64({1 - y0, -y1, -y2}), 1e-15);
}

BOOST_AUTO_TEST_CASE(softmax_rows_sum_to_one_and_shift_invariance) {
  manual_seed(14);
  Tensor x = randn({4, 7}, dtype(float64)) * 3.0;
  for (std::int64_t d : {0, 1}) {
    Tensor s = sum(F::softmax(x, d), {d});
    check_close(s, ones(s.shape(), dtype(float64)), 1e-14);
  }
  // Adding a constant per row changes nothing (the row max is subtracted anyway).
  Tensor c = from_vector<double>({-50.0, 3.0, 700.0, 0.25}, {4, 1});
  check_close(F::softmax(x + c, 1), F::softmax(x, 1), 1e-14);
  check_close(F::log_softmax(x + c, 1), F::log_softmax(x, 1), 1e-12);
}

BOOST_AUTO_TEST_CASE(softmax_no_overflow_with_huge_logits) {
  for (Dtype dt : {float64, float32}) {
    Tensor x = from_vector<double>({1000.0, -1000.0, 0.0, 1000.0, 1000.0, -1000.0}, {2, 3}).to(dt).requires_grad_(true);
    Tensor y = F::softmax(x, 1);
    check_close(y, from_vector<double>({1.0, 0.0, 0.0, 0.5, 0.5, 0.0}, {2, 3}), 1e-7);
    Tensor ly = F::log_softmax(x, 1);
    const double l2 = std::log(2.0);
    check_close(ly, from_vector<double>({0.0, -2000.0, -1000.0, -l2, -l2, -2000.0 - l2}, {2, 3}), 1e-3);
    // Gradients stay finite too.
    Tensor g = autograd::grad({(y * y).sum() + ly.sum()}, {x})[0];
    for (double v : g.to(float64).to_vector<double>()) BOOST_TEST(std::isfinite(v));
    for (double v : y.to(float64).to_vector<double>()) BOOST_TEST(std::isfinite(v));
  }
  // Along dim 0 (strided rows) as well.
  Tensor xt = from_vector<double>({1000.0, -1000.0, -1000.0, 1000.0}, {2, 2});
  check_close(F::softmax(xt, 0), from_vector<double>({1.0, 0.0, 0.0, 1.0}, {2, 2}), 0);
}

BOOST_AUTO_TEST_CASE(log_softmax_equals_log_of_softmax) {
  manual_seed(15);
  Tensor x = randn({3, 5, 4}, dtype(float64)) * 2.0;
  for (std::int64_t d : {0, 1, 2, -1}) check_close(F::log_softmax(x, d), log(F::softmax(x, d)), 1e-13);
}

BOOST_AUTO_TEST_CASE(softmax_along_each_dim_of_3d) {
  manual_seed(16);
  Tensor x = randn({2, 3, 4}, dtype(float64)) * 2.0;
  for (std::int64_t d : {0, 1, 2, -1, -2, -3}) {
    Tensor y = F::softmax(x, d);
    check_close(y, softmax_ref(x, d), 1e-15);
    Tensor s = sum(y, {d});
    check_close(s, ones(s.shape(), dtype(float64)), 1e-15);
  }
  // A hand-checked slice along dim 0: x[0, i, j] and x[1, i, j] form one row.
  Tensor y0 = F::softmax(x, 0);
  const auto xv = x.to_vector<double>();
  const auto yv = y0.to_vector<double>();
  const double e0 = std::exp(xv[5]), e1 = std::exp(xv[12 + 5]);
  BOOST_TEST(std::fabs(yv[5] - e0 / (e0 + e1)) < 1e-15);
}

BOOST_AUTO_TEST_CASE(softmax_large_and_blocked_layouts) {
  // Column blocks (inner > 256, partial last block) and the TBB path (> 32768 elements).
  manual_seed(17);
  for (const auto& [shape, dims] : std::vector<std::pair<Shape, std::vector<std::int64_t>>>{
           {{2, 5, 600}, {0, 1, 2}}, {{64, 50, 300}, {0, 1, 2}}, {{40000}, {0}}, {{3, 70000}, {0, 1}}}) {
    for (Dtype dt : {float64, float32}) {
      Tensor x = randn(shape, dtype(dt)) * 3.0;
      for (std::int64_t d : dims) {
        const double tol = dt == float64 ? 1e-14 : 1e-6;
        check_close(F::softmax(x, d), softmax_ref(x, d), tol);
        check_close(F::log_softmax(x, d), x - max(x, {d}, true) - log(sum(exp(x - max(x, {d}, true)), {d}, true)),
                    dt == float64 ? 1e-12 : 1e-5);
      }
    }
  }
}

// float32 softmax runs its own vectorised e^x (not libm). Rows [0, d] give
// softmax = [1, e^d] / (1 + e^d) and log_softmax = [0, d] - log(1 + e^d), so a dense sweep of d
// over [-100, 100] sends every reachable argument (x - max <= 0) through it; d < -87.3 gives
// subnormal results and d < -103.9 rounds to 0. Checked against float64, along dim 1
// (contiguous rows) and dim 0 (column blocks), above the parallel grain.
BOOST_AUTO_TEST_CASE(softmax_float32_exp_accuracy) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> d;
  const std::int64_t steps = 1 << 19;
  for (std::int64_t i = 0; i <= steps; ++i) d.push_back(static_cast<float>(-100.0 + 200.0 * i / steps));
  for (float v : {-inf, inf, nan, -87.0f, -87.5f, -95.0f, -103.0f, -103.9f, -104.5f, 88.0f, 88.8f}) d.push_back(v);
  const auto rows = static_cast<std::int64_t>(d.size());
  std::vector<float> pairs;
  for (float v : d) {
    pairs.push_back(0.0f);
    pairs.push_back(v);
  }
  Tensor x = from_vector<float>(pairs, {rows, 2});
  // References in float64 for the row [0, v]; NaN for +inf and NaN (inf - inf, like PyTorch).
  auto softmax64 = [](double v, int k) {
    if (std::isnan(v) || v == std::numeric_limits<double>::infinity()) return std::nan("");
    const double m = std::max(v, 0.0);
    const double e0 = std::exp(-m), e1 = std::exp(v - m);
    return (k == 0 ? e0 : e1) / (e0 + e1);
  };
  auto log_softmax64 = [](double v, int k) {
    if (std::isnan(v) || v == std::numeric_limits<double>::infinity()) return std::nan("");
    return (k == 0 ? -std::max(v, 0.0) : std::min(v, 0.0)) - std::log1p(std::exp(-std::fabs(v)));
  };
  // e^x within 1-2 ulp, then a few roundings (sum, 1/s, product): 4 ulp relative, with a floor
  // of a few subnormal steps where float32 has no relative precision left. log_softmax takes
  // log(sum) in double, which loses log1p's precision below about 1e-16 absolute.
  auto check = [&](const Tensor& y, const std::function<double(double, int)>& ref, const std::string& what,
                   double floor) {
    BOOST_REQUIRE((y.dtype() == float32));
    const auto v = y.to_vector<float>();
    int bad = 0;
    double worst = 0;
    for (std::int64_t r = 0; r < rows; ++r)
      for (int k = 0; k < 2; ++k) {
        const double got = v[static_cast<std::size_t>(2 * r + k)], want = ref(d[static_cast<std::size_t>(r)], k);
        if (std::isnan(want) || std::isnan(got)) {
          if (std::isnan(want) != std::isnan(got) && bad++ < 5)
            BOOST_ERROR(what << ": d = " << d[r] << ", k = " << k << ": got " << got << ", want " << want);
          continue;
        }
        const double err = got == want ? 0.0 : std::fabs(got - want), tol = 4 * 1.2e-7 * std::fabs(want) + floor;
        worst = std::max(worst, err / tol);
        if (!(err <= tol) && bad++ < 5)
          BOOST_ERROR(what << ": d = " << d[r] << ", k = " << k << ": got " << got << ", want " << want);
      }
    BOOST_TEST(bad == 0, what << ": " << bad << " bad elements, worst err/tol " << worst);
  };
  check(F::softmax(x, 1), softmax64, "softmax dim 1", 4e-45);
  check(F::log_softmax(x, 1), log_softmax64, "log_softmax dim 1", 1e-15);
  Tensor xt = x.transpose(0, 1).contiguous();
  check(F::softmax(xt, 0).transpose(0, 1).contiguous(), softmax64, "softmax dim 0", 4e-45);
  check(F::log_softmax(xt, 0).transpose(0, 1).contiguous(), log_softmax64, "log_softmax dim 0", 1e-15);
  // Exact special values: e^-inf = 0, e^0 = 1, subnormal (not flushed), underflow to 0.
  const auto s =
      F::softmax(from_vector<float>({0.0f, -inf, 0.0f, -100.0f, 0.0f, -110.0f}, {3, 2}), 1).to_vector<float>();
  BOOST_TEST(s[0] == 1.0f);
  BOOST_TEST(s[1] == 0.0f);
  BOOST_TEST(std::fpclassify(s[3]) == FP_SUBNORMAL);
  BOOST_TEST(std::fabs(s[3] - std::exp(-100.0)) <= 2e-45);
  BOOST_TEST(s[5] == 0.0f);
}

// The row maximum is taken in vector lanes plus a scalar tail: a spike of 120 (e^120
// overflows float32) at every position of rows of every length up to 40 must be found, else
// the row turns to inf / NaN.
BOOST_AUTO_TEST_CASE(softmax_row_max_finds_every_position) {
  manual_seed(19);
  for (std::int64_t n = 1; n <= 40; ++n) {
    Tensor x64 = randn({n, n}, dtype(float64)) + eye(n, n, dtype(float64)) * 120.0;
    Tensor x32 = x64.to(float32);
    check_close(F::softmax(x32, 1), F::softmax(x64, 1), 1e-7);
    check_close(F::log_softmax(x32, 1), F::log_softmax(x64, 1), 2e-5);
    check_close(F::softmax(x32, 0), F::softmax(x64, 0), 1e-7);
  }
}

// The fused backward kernels against the composed formulas they replace:
// softmax: g_x = y (g - sum(g y, dim)); log_softmax: g_x = g - e^y sum(g, dim).
// float32 is checked against the formula in float64 on the same float32 y and g.
BOOST_AUTO_TEST_CASE(softmax_fused_backward_matches_formula) {
  manual_seed(20);
  const std::vector<std::pair<Shape, std::vector<std::int64_t>>> cases = {
      {{4, 7}, {0, 1}}, {{3, 5, 4}, {0, 1, 2}}, {{2, 17, 300}, {1}}, {{64, 2000}, {0, 1}}, {{1, 33}, {1}}};
  for (const auto& [shape, dims] : cases)
    for (Dtype dt : {float64, float32})
      for (std::int64_t d : dims) {
        Tensor x = (randn(shape, dtype(dt)) * 2.0).detach().requires_grad_(true);
        Tensor g = randn(shape, dtype(dt));
        Tensor y = F::softmax(x, d);
        Tensor ly = F::log_softmax(x, d);
        Tensor gx = autograd::grad({y}, {x}, {g})[0];
        Tensor lgx = autograd::grad({ly}, {x}, {g})[0];
        BOOST_TEST((gx.dtype() == dt && lgx.dtype() == dt));
        Tensor y64 = y.detach().to(float64), ly64 = ly.detach().to(float64), g64 = g.to(float64);
        const double tol = dt == float64 ? 1e-13 : 2e-6;
        check_close(gx, y64 * (g64 - sum(g64 * y64, {d}, true)), tol);
        // |sum(g)| grows like sqrt(n): scale the tolerance with it.
        const double scale = std::sqrt(static_cast<double>(shape[static_cast<std::size_t>(d)]));
        check_close(lgx, g64 - exp(ly64) * sum(g64, {d}, true), tol * scale);
      }
}

BOOST_AUTO_TEST_CASE(softmax_double_backward_is_fused_and_exact) {
  manual_seed(21);
  for (std::int64_t d : {0, 1, 2}) {
    check_gradgradcheck([d](const std::vector<Tensor>& in) { return F::softmax(in[0], d); }, {rand64({2, 3, 4}, 2.0)});
    check_gradgradcheck([d](const std::vector<Tensor>& in) { return F::log_softmax(in[0], d); },
                        {rand64({2, 3, 4}, 2.0)});
  }
  // The gradient is the fused op, recorded when create_graph asks for it.
  Tensor x = vec64({1.0, 2.0, 3.0}, true);
  autograd::GradOptions go;
  go.create_graph = true;
  Tensor g = vec64({1.0, 0.0, 0.0}, true);
  Tensor lgx = autograd::grad({F::log_softmax(x, 0)}, {x}, {g}, go)[0];
  BOOST_TEST(lgx.grad_fn_name() == "LogSoftmaxBackwardBackward");
  Tensor gx = autograd::grad({F::softmax(x, 0)}, {x}, {g}, go)[0];
  BOOST_TEST(gx.grad_fn_name() == "SoftmaxBackwardBackward");
  // By hand: lgx_i = g_i - p_i S with p = softmax(x), S = sum(g) = 1. For L = sum(w lgx),
  // w = [1, 2, 3] and wp = sum(w p): dL/dg_k = w_k - wp; dL/dx_k = -S p_k (w_k - wp).
  const double p0 = 0.09003057317038046, p1 = 0.24472847105479764, p2 = 0.6652409557748218;
  const double wp = p0 + 2 * p1 + 3 * p2;
  auto second = autograd::grad({(lgx * vec64({1.0, 2.0, 3.0})).sum()}, {x, g});
  check_close(second[0], vec64({-p0 * (1 - wp), -p1 * (2 - wp), -p2 * (3 - wp)}), 1e-15);
  check_close(second[1], vec64({1 - wp, 2 - wp, 3 - wp}), 1e-15);
}

BOOST_AUTO_TEST_CASE(softmax_edge_shapes) {
  // 0-d: one element, softmax 1, log_softmax 0 (dim 0 or -1).
  Tensor s = scalar_tensor(3.5, dtype(float64));
  BOOST_TEST(F::softmax(s, 0).item<double>() == 1.0);
  BOOST_TEST(F::log_softmax(s, -1).item<double>() == 0.0);
  BOOST_TEST(F::softmax(s, 0).dim() == 0);
  // Empty dims give empty results of the same shape.
  BOOST_TEST((F::softmax(zeros({0, 3}), 1).shape() == Shape{0, 3}));
  BOOST_TEST((F::log_softmax(zeros({2, 0}), 1).shape() == Shape{2, 0}));
  // A size-1 dim: softmax is 1 everywhere.
  check_close(F::softmax(randn({3, 1}), 1), ones({3, 1}), 0);
  // All -inf rows give NaN (like PyTorch).
  const double inf = std::numeric_limits<double>::infinity();
  BOOST_TEST(std::isnan(F::softmax(vec64({-inf, -inf}), 0).to_vector<double>()[0]));
}

BOOST_AUTO_TEST_CASE(recording_rules) {
  Tensor x = vec64({1.0, -2.0}, true);
  BOOST_TEST(F::gelu(x).grad_fn_name() == "GeluBackward");
  BOOST_TEST(F::log_softmax(x, 0).grad_fn_name() == "LogSoftmaxBackward");
  BOOST_TEST(F::leaky_relu(x).grad_fn_name() == "LeakyReluBackward");
  BOOST_TEST(F::hardtanh(x).grad_fn_name() == "HardtanhBackward");
  BOOST_TEST(!F::silu(x.detach()).requires_grad());
  {
    NoGradGuard ng;
    BOOST_TEST(!F::softmax(x, 0).requires_grad());
    BOOST_TEST(!F::softplus(x).requires_grad());
  }
  // An in-place change of the saved output is caught by the version counter.
  Tensor y = F::softmax(x, 0);
  y.mul_(2.0);
  XGRAD_CHECK_THROW_MSG(y.sum().backward(), "SoftmaxBackward: one of the tensors needed for gradient computation");
}

// ---------------------------------------------------------------------------------------------
// Modules
// ---------------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(modules_match_functions) {
  manual_seed(18);
  Tensor x = randn({3, 4}, dtype(float64)) * 3.0;
  const std::vector<std::pair<std::shared_ptr<nn::Module>, Tensor>> cases = {
      {std::make_shared<nn::Sigmoid>(), F::sigmoid(x)},
      {std::make_shared<nn::Tanh>(), F::tanh(x)},
      {std::make_shared<nn::ReLU>(), F::relu(x)},
      {std::make_shared<nn::LeakyReLU>(), F::leaky_relu(x, 0.01)},
      {std::make_shared<nn::LeakyReLU>(0.2), F::leaky_relu(x, 0.2)},
      {std::make_shared<nn::LeakyReLU>(nn::LeakyReLUOptions().negative_slope(0.3)), F::leaky_relu(x, 0.3)},
      {std::make_shared<nn::GELU>(), F::gelu(x)},
      {std::make_shared<nn::GELU>("tanh"), F::gelu(x, "tanh")},
      {std::make_shared<nn::ELU>(), F::elu(x)},
      {std::make_shared<nn::ELU>(0.5), F::elu(x, 0.5)},
      {std::make_shared<nn::SELU>(), F::selu(x)},
      {std::make_shared<nn::SiLU>(), F::silu(x)},
      {std::make_shared<nn::Softplus>(), F::softplus(x)},
      {std::make_shared<nn::Softplus>(2.0, 3.0), F::softplus(x, 2.0, 3.0)},
      {std::make_shared<nn::Softmax>(1), F::softmax(x, 1)},
      {std::make_shared<nn::Softmax>(0), F::softmax(x, 0)},
      {std::make_shared<nn::LogSoftmax>(-1), F::log_softmax(x, -1)},
      {std::make_shared<nn::Softmin>(1), F::softmin(x, 1)},
      {std::make_shared<nn::Hardtanh>(), F::hardtanh(x)},
      {std::make_shared<nn::Hardtanh>(-2.0, 0.5), F::hardtanh(x, -2.0, 0.5)},
      {std::make_shared<nn::ReLU6>(), F::relu6(x)},
      {std::make_shared<nn::Mish>(), F::mish(x)},
  };
  for (const auto& [m, expected] : cases) {
    check_close(m->forward(x), expected, 0);
    check_close((*m)(x), expected, 0);
    BOOST_TEST(m->parameters().empty());
  }
}

BOOST_AUTO_TEST_CASE(options_getters_setters_and_printing) {
  // One field list per options struct: chainable setters, getters, public members, printing.
  nn::SoftplusOptions o = nn::SoftplusOptions().beta(2.0).threshold(5.0);
  BOOST_TEST(o.beta() == 2.0);
  BOOST_TEST(o.threshold_ == 5.0);
  BOOST_TEST(nn::repr_options(o) == "beta=2.0, threshold=5.0");
  BOOST_TEST(nn::GELUOptions().approximate("tanh").approximate() == "tanh");
  BOOST_TEST(nn::repr_options(nn::GELUOptions()) == "approximate='none'");
  BOOST_TEST(xgrad::options::format_options(nn::HardtanhOptions()) == "min_val=-1, max_val=1");
}

BOOST_AUTO_TEST_CASE(modules_print_like_pytorch) {
  BOOST_TEST(nn::Sigmoid().repr() == "Sigmoid()");
  BOOST_TEST(nn::Tanh().repr() == "Tanh()");
  BOOST_TEST(nn::ReLU().repr() == "ReLU()");
  BOOST_TEST(nn::LeakyReLU().repr() == "LeakyReLU(negative_slope=0.01)");
  BOOST_TEST(nn::LeakyReLU(0.2).repr() == "LeakyReLU(negative_slope=0.2)");
  BOOST_TEST(nn::GELU().repr() == "GELU(approximate='none')");
  BOOST_TEST(nn::GELU("tanh").repr() == "GELU(approximate='tanh')");
  BOOST_TEST(nn::ELU().repr() == "ELU(alpha=1.0)");
  BOOST_TEST(nn::ELU(0.5).repr() == "ELU(alpha=0.5)");
  BOOST_TEST(nn::SELU().repr() == "SELU()");
  BOOST_TEST(nn::SiLU().repr() == "SiLU()");
  BOOST_TEST(nn::Softplus().repr() == "Softplus(beta=1.0, threshold=20.0)");
  BOOST_TEST(nn::Softplus(2.0, 10.0).repr() == "Softplus(beta=2.0, threshold=10.0)");
  BOOST_TEST(nn::Softmax(1).repr() == "Softmax(dim=1)");
  BOOST_TEST(nn::LogSoftmax(-1).repr() == "LogSoftmax(dim=-1)");
  BOOST_TEST(nn::Softmin(0).repr() == "Softmin(dim=0)");
  BOOST_TEST(nn::Hardtanh().repr() == "Hardtanh(min_val=-1.0, max_val=1.0)");
  BOOST_TEST(nn::Hardtanh(-2.0, 0.5).repr() == "Hardtanh(min_val=-2.0, max_val=0.5)");
  BOOST_TEST(nn::ReLU6().repr() == "ReLU6()");
  BOOST_TEST(nn::Mish().repr() == "Mish()");
  BOOST_TEST(nn::Softmax(2).dim() == 2);
  BOOST_TEST(nn::Softplus(3.0).options().threshold_ == 20.0);
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(errors_dim_out_of_range) {
  Tensor x = zeros({2, 3});
  XGRAD_CHECK_THROW_MSG(F::softmax(x, 2), "softmax: dim 2 out of range for tensor of shape [2, 3]");
  XGRAD_CHECK_THROW_MSG(F::log_softmax(x, -3), "log_softmax: dim -3 out of range for tensor of shape [2, 3]");
  XGRAD_CHECK_THROW_MSG(F::softmin(x, 5), "softmin: dim 5 out of range");
  XGRAD_CHECK_THROW_MSG(nn::Softmax(4).forward(x), "softmax: dim 4 out of range");
  XGRAD_CHECK_THROW_MSG(F::softmax(scalar_tensor(1.0), 1), "softmax: dim 1 out of range for tensor of shape []");
}

BOOST_AUTO_TEST_CASE(errors_int64_input) {
  Tensor i = from_vector<std::int64_t>({1, -2, 3});
  XGRAD_CHECK_THROW_MSG(F::sigmoid(i), "sigmoid");
  XGRAD_CHECK_THROW_MSG(F::tanh(i), "tanh");
  XGRAD_CHECK_THROW_MSG(F::leaky_relu(i), "leaky_relu: expected a floating tensor");
  XGRAD_CHECK_THROW_MSG(F::gelu(i),
                        "gelu: expected a floating tensor (float32 or float64), got int64 tensor of shape [3]");
  XGRAD_CHECK_THROW_MSG(F::elu(i), "elu: expected a floating tensor");
  XGRAD_CHECK_THROW_MSG(F::selu(i), "selu: expected a floating tensor");
  XGRAD_CHECK_THROW_MSG(F::silu(i), "silu: expected a floating tensor");
  XGRAD_CHECK_THROW_MSG(F::softplus(i), "softplus: expected a floating tensor");
  XGRAD_CHECK_THROW_MSG(F::softmax(i, 0), "softmax: expected a floating tensor");
  XGRAD_CHECK_THROW_MSG(F::log_softmax(i, 0), "log_softmax: expected a floating tensor");
  XGRAD_CHECK_THROW_MSG(F::softmin(i, 0), "softmin: expected a floating tensor");
  XGRAD_CHECK_THROW_MSG(F::hardtanh(i), "hardtanh: expected a floating tensor");
  XGRAD_CHECK_THROW_MSG(F::relu6(i), "relu6: expected a floating tensor");
  XGRAD_CHECK_THROW_MSG(F::mish(i), "mish: expected a floating tensor");
}

BOOST_AUTO_TEST_CASE(errors_bad_options_and_undefined) {
  Tensor x = zeros({2});
  XGRAD_CHECK_THROW_MSG(F::hardtanh(x, 2.0, 1.0), "hardtanh: min_val (2) must not be greater than max_val (1)");
  XGRAD_CHECK_THROW_MSG(nn::Hardtanh(1.0, -1.0), "Hardtanh: min_val (1) must not be greater than max_val (-1)");
  XGRAD_CHECK_THROW_MSG(F::gelu(x, "exact"), "gelu: approximate must be 'none' or 'tanh', got 'exact'");
  XGRAD_CHECK_THROW_MSG(nn::GELU("Tanh"), "gelu: approximate must be 'none' or 'tanh', got 'Tanh'");
  XGRAD_CHECK_THROW_MSG(F::softmax(Tensor(), 0), "softmax");
  XGRAD_CHECK_THROW_MSG(F::gelu(Tensor()), "gelu");
}

// libtorch's torch::gelu / torch::softmax / torch::log_softmax spellings work: xgrad::gelu etc.
// are the nn::functional ops (same values, same gradients), also on a transposed view.
BOOST_AUTO_TEST_CASE(activations_under_the_xgrad_namespace) {
  Tensor x = rand64({3, 4}, 4.0, -2.0);
  check_close(xgrad::gelu(x), F::gelu(x), 0);
  check_close(xgrad::gelu(x, "tanh"), F::gelu(x, "tanh"), 0);
  check_close(xgrad::softmax(x, 1), F::softmax(x, 1), 0);
  check_close(xgrad::log_softmax(x.t(), -1), F::log_softmax(x.t().contiguous(), -1), 0);
  check_gradcheck([](const std::vector<Tensor>& in) { return xgrad::softmax(in[0].t(), 0); },
                  {rand64({3, 4}).requires_grad_()});
}

BOOST_AUTO_TEST_CASE(nan_gradient_stops_at_unselected_branches) {
  // PyTorch selects the gradient (where / masked_fill) instead of multiplying it by a 0/1 mask,
  // so a NaN flowing back (e.g. from hypot(0, 0)) does not reach the inputs of the inactive
  // branch: hardtanh/relu6 outside (min, max), the smaller side of maximum. Found by the
  // differential test against libtorch.
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Tensor x = tensor({-2.0, 0.5, 7.0}, TensorOptions().dtype(float64).requires_grad());
  F::relu6(x).backward(tensor({nan, 1.0, nan}, dtype(float64)));
  test::check_values(x.grad(), {3}, {0.0, 1.0, 0.0});
  Tensor a = tensor({1.0, 5.0}, TensorOptions().dtype(float64).requires_grad());
  Tensor b = tensor({3.0, 2.0}, TensorOptions().dtype(float64).requires_grad());
  maximum(a, b).backward(tensor({nan, nan}, dtype(float64)));
  test::check_values(a.grad(), {2}, {0.0, nan});
  test::check_values(b.grad(), {2}, {nan, 0.0});
}

BOOST_AUTO_TEST_SUITE_END()
