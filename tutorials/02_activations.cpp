// Tutorial 02: activation functions and vanishing gradients.
//
// Part 1: sigmoid, tanh, ReLU, Leaky ReLU (slope 0.01) and GELU, each with its derivative
// obtained by reverse-mode autograd (never hand-coded): x = linspace(-4, 4, N) requires grad,
// y = f(x), y.sum().backward(), and x.grad() holds f'(x) at every point (each y_i depends on
// x_i only). A table at x = -3, -1, 0, 1, 3, a finite-difference cross-check, CSV and plots.
// Part 2: softmax at the output turns logits into probabilities that sum to 1; its Jacobian,
// again by autograd, is diag(p) - p p^T.
// Part 3: vanishing gradients. The same 10-layer MLP (width 32, PyTorch's default Linear init)
// with sigmoid and with ReLU, one batch, a cross-entropy loss, one backward: the gradient norm
// of each layer's weight. sigmoid' <= 1/4 shrinks the backward signal at every layer, so the
// first layers get gradients about 10^7 times smaller than the last; with ReLU the loss is a
// few hundred times, and with ReLU plus He initialisation the norms stay within a few x.
//
//   ./build/tutorials/02_activations --out out/02_activations
//
// Exits with status 1 when an autograd derivative disagrees with finite differences, the
// softmax probabilities do not sum to 1, sigmoid's first-layer gradient norm is not at least
// 10x smaller than its last layer's, or the He-initialised ReLU net's norms spread over more
// than 20x.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "tutorial.hpp"
#include "xgrad/xgrad.hpp"

namespace {

using xgrad::Tensor;
namespace F = xgrad::nn::functional;

struct Activation {
  std::string name;
  std::function<Tensor(const Tensor&)> f;
};

const std::vector<Activation>& activations() {
  static const std::vector<Activation> list = {
      {"sigmoid", [](const Tensor& x) { return F::sigmoid(x); }},
      {"tanh", [](const Tensor& x) { return F::tanh(x); }},
      {"relu", [](const Tensor& x) { return F::relu(x); }},
      {"leaky_relu", [](const Tensor& x) { return F::leaky_relu(x, 0.01); }},
      {"gelu", [](const Tensor& x) { return F::gelu(x); }},
  };
  return list;
}

struct Curve {
  std::vector<double> value, derivative;
};

// [excerpt derivative]
// f(x) and f'(x) at every element of x by reverse-mode autograd. y_i = f(x_i) depends on x_i
// only, so d(sum_i y_i)/dx_i = f'(x_i): one backward gives the whole derivative curve.
Curve value_and_derivative(const Activation& act, const Tensor& points) {
  Tensor x = points.detach().requires_grad_();  // a fresh leaf, so x.grad() starts empty
  Tensor y = act.f(x);
  y.sum().backward();
  return {y.detach().to_vector<double>(), x.grad().to_vector<double>()};
}
// [end excerpt]

// The largest |autograd derivative - central difference (f(x+h) - f(x-h)) / 2h| on the grid,
// skipping the kink of relu / leaky_relu at 0 (a difference quotient across it is meaningless).
double max_finite_difference_error(const Activation& act, const std::vector<double>& xs, const Curve& c) {
  constexpr double h = 1e-6;
  std::vector<double> plus(xs), minus(xs);
  for (double& v : plus) v += h;
  for (double& v : minus) v -= h;
  const std::vector<double> fp = act.f(xgrad::from_vector(plus)).to_vector<double>();
  const std::vector<double> fm = act.f(xgrad::from_vector(minus)).to_vector<double>();
  double worst = 0.0;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    if (std::abs(xs[i]) < 2 * h) continue;
    worst = std::max(worst, std::abs(c.derivative[i] - (fp[i] - fm[i]) / (2 * h)));
  }
  return worst;
}

// [excerpt deep_net]
// depth Linear layers of width `width` (the last maps to `classes` logits) with the activation
// between them: Linear -> act -> Linear -> act -> ... -> Linear.
std::shared_ptr<xgrad::nn::Sequential> deep_mlp(bool use_sigmoid, int depth, int width, int classes) {
  auto net = std::make_shared<xgrad::nn::Sequential>();
  for (int l = 1; l <= depth; ++l) {
    net->push_back(std::make_shared<xgrad::nn::Linear>(width, l < depth ? width : classes));
    if (l == depth) break;
    if (use_sigmoid) {
      net->push_back(std::make_shared<xgrad::nn::Sigmoid>());
    } else {
      net->push_back(std::make_shared<xgrad::nn::ReLU>());
    }
  }
  return net;
}

// He (Kaiming) initialisation for a ReLU net: W ~ N(0, 2 / fan_in), b = 0, so the variance of
// the signal is preserved through every layer, forward and backward.
void he_init(xgrad::nn::Sequential& net) {
  for (const auto& m : net) {
    if (auto linear = std::dynamic_pointer_cast<xgrad::nn::Linear>(m)) {
      xgrad::nn::init::kaiming_normal_(linear->weight, 0.0, "fan_in", "relu");
      xgrad::nn::init::zeros_(linear->bias);
    }
  }
}

// |dL/dW_l| for every layer l = 1..depth after one backward of the cross-entropy loss.
std::vector<double> weight_grad_norms(xgrad::nn::Sequential& net, const Tensor& x, const Tensor& labels) {
  Tensor loss = F::cross_entropy(net(x), labels);
  loss.backward();
  std::vector<double> norms;
  for (const auto& m : net) {
    if (auto linear = std::dynamic_pointer_cast<xgrad::nn::Linear>(m)) {
      norms.push_back(xgrad::norm(linear->weight.grad()).item<double>());
    }
  }
  return norms;
}
// [end excerpt]

// Draws a PNG with gnuplot and remembers its name; warns when gnuplot is installed but fails.
void plot_png(std::vector<std::string>& pngs, const std::string& out, const std::string& file, const std::string& title,
              const std::string& xlabel, const std::string& ylabel, const std::vector<tutorial::Series>& series,
              bool log_y = false) {
  if (tutorial::plot(out + "/" + file, title, xlabel, ylabel, series, log_y)) {
    pngs.push_back(file);
  } else if (tutorial::have_gnuplot()) {
    fmt::print("warning: gnuplot could not draw {}\n", file);
  }
}

}  // namespace

int main(int argc, char** argv) {
  tutorial::Options o;
  CLI::App app{"Tutorial 02: activation functions, their autograd derivatives, and vanishing gradients"};
  tutorial::add_flags(app, o);
  CLI11_PARSE(app, argc, argv);
  tutorial::setup(o, "02 activations");
  bool ok = true;
  std::vector<std::string> pngs;  // the plots written

  // ---- part 1: activations and their derivatives ------------------------------------------
  const std::int64_t n_grid = o.smoke ? 81 : 801;
  const Tensor grid_x = xgrad::linspace(-4.0, 4.0, n_grid, xgrad::dtype(xgrad::float64));
  const Tensor table_x = xgrad::tensor({-3.0, -1.0, 0.0, 1.0, 3.0}, xgrad::dtype(xgrad::float64));
  const std::vector<double> grid = grid_x.to_vector<double>();

  fmt::print("\nPart 1: activations f(x) and derivatives f'(x), both from autograd\n\n");
  fmt::print("{:<12} {:<5}", "activation", "");
  for (double x : table_x.to_vector<double>()) fmt::print(" {:>9}", fmt::format("x={:g}", x));
  fmt::print(" {:>18}\n", "max |f' - fin.diff|");

  std::vector<Curve> curves;
  for (const Activation& act : activations()) {
    const Curve on_grid = value_and_derivative(act, grid_x);
    const Curve at_table = value_and_derivative(act, table_x);
    const double fd_err = max_finite_difference_error(act, grid, on_grid);
    fmt::print("{:<12} {:<5}", act.name, "f");
    for (double v : at_table.value) fmt::print(" {:>9.4f}", v);
    fmt::print("\n{:<12} {:<5}", "", "f'");
    for (double v : at_table.derivative) fmt::print(" {:>9.4f}", v);
    fmt::print(" {:>18.1e}\n", fd_err);
    if (fd_err > 1e-6) {
      fmt::print("FAILED: {}'s autograd derivative differs from finite differences by {:.3g}\n", act.name, fd_err);
      ok = false;
    }
    curves.push_back(on_grid);
  }
  fmt::print("(relu'(0) = 0 and leaky_relu'(0) = 0.01: the kink takes PyTorch's convention)\n");

  std::vector<std::string> columns = {"x"};
  for (const Activation& act : activations()) {
    columns.push_back(act.name);
    columns.push_back("d_" + act.name);
  }
  tutorial::Csv act_csv(o.out + "/activations.csv", columns);
  for (std::size_t i = 0; i < grid.size(); ++i) {
    std::vector<double> row = {grid[i]};
    for (const Curve& c : curves) {
      row.push_back(c.value[i]);
      row.push_back(c.derivative[i]);
    }
    act_csv.row(row);
  }
  std::vector<tutorial::Series> f_series, d_series;
  for (std::size_t a = 0; a < curves.size(); ++a) {
    f_series.push_back({activations()[a].name, grid, curves[a].value, false});
    d_series.push_back({"d " + activations()[a].name + "/dx", grid, curves[a].derivative, false});
  }
  plot_png(pngs, o.out, "activations.png", "Activation functions f(x)", "x", "f(x)", f_series);
  plot_png(pngs, o.out, "derivatives.png", "Derivatives df/dx by autograd", "x", "df/dx", d_series);

  // ---- part 2: softmax at the output -------------------------------------------------------
  fmt::print("\nPart 2: softmax turns the output logits into probabilities\n\n");
  // [excerpt softmax]
  Tensor logits = xgrad::tensor({2.0, 1.0, 0.1, -1.0}, xgrad::dtype(xgrad::float64).requires_grad());
  Tensor probs = F::softmax(logits, 0);  // e^(z_i - max z) / sum_j e^(z_j - max z)
  const std::int64_t k = logits.numel();
  // Row i of the Jacobian dp_i/dz_j is the gradient of p_i: one vector-Jacobian product each.
  std::vector<std::vector<double>> jacobian;
  for (std::int64_t i = 0; i < k; ++i) {
    Tensor e_i = xgrad::zeros({k}, xgrad::dtype(xgrad::float64));
    e_i.data_ptr<double>()[i] = 1.0;
    jacobian.push_back(xgrad::autograd::grad({probs}, {logits}, {e_i}, {.retain_graph = true})[0].to_vector<double>());
  }
  // [end excerpt]
  const std::vector<double> z = logits.detach().to_vector<double>();
  const std::vector<double> p = probs.detach().to_vector<double>();
  double p_sum = 0.0, jac_err = 0.0;
  for (double v : p) p_sum += v;
  fmt::print("{:>3} {:>9} {:>9}   Jacobian row dp_i/dz_j, j = 0..{} (autograd)\n", "i", "logit z_i", "p_i", k - 1);
  tutorial::Csv sm_csv(o.out + "/softmax.csv", {"class", "logit", "probability"});
  for (std::int64_t i = 0; i < k; ++i) {
    const auto ui = static_cast<std::size_t>(i);
    fmt::print("{:>3} {:>9.2f} {:>9.4f}  ", i, z[ui], p[ui]);
    for (std::int64_t j = 0; j < k; ++j) {
      const auto uj = static_cast<std::size_t>(j);
      fmt::print(" {:>8.4f}", jacobian[ui][uj]);
      jac_err = std::max(jac_err, std::abs(jacobian[ui][uj] - ((i == j ? p[ui] : 0.0) - p[ui] * p[uj])));
    }
    fmt::print("\n");
    sm_csv.row({static_cast<double>(i), z[ui], p[ui]});
  }
  fmt::print("sum of probabilities = {:.15f}; max |J - (diag(p) - p p^T)| = {:.1e}\n", p_sum, jac_err);
  // Subtracting the maximum makes softmax shift-invariant and safe for huge logits.
  const std::vector<double> p_shifted = F::softmax(logits.detach() + 1000.0, 0).to_vector<double>();
  double shift_err = 0.0;
  for (std::size_t i = 0; i < p.size(); ++i) shift_err = std::max(shift_err, std::abs(p_shifted[i] - p[i]));
  fmt::print("softmax(z + 1000) = softmax(z) up to {:.1e} (no overflow)\n", shift_err);
  if (std::abs(p_sum - 1.0) > 1e-12 || jac_err > 1e-12 || shift_err > 1e-12) {
    fmt::print("FAILED: softmax probabilities or Jacobian are off\n");
    ok = false;
  }

  // ---- part 3: vanishing gradients ---------------------------------------------------------
  constexpr int kDepth = 10, kWidth = 32, kClasses = 10;
  const std::int64_t batch = o.batch_size;
  fmt::print("\nPart 3: gradient norm |dL/dW| per layer, {}-layer MLP of width {}, one batch of {}\n\n", kDepth, kWidth,
             batch);
  const Tensor x = xgrad::randn({batch, kWidth});
  const Tensor labels = xgrad::randint(0, kClasses, {batch});
  // [excerpt vanishing]
  const std::uint64_t init_seed = o.seed + 1;
  xgrad::manual_seed(init_seed);  // the same initial weights for both nets
  auto sigmoid_net = deep_mlp(/*use_sigmoid=*/true, kDepth, kWidth, kClasses);
  xgrad::manual_seed(init_seed);
  auto relu_net = deep_mlp(/*use_sigmoid=*/false, kDepth, kWidth, kClasses);
  const std::vector<double> g_sigmoid = weight_grad_norms(*sigmoid_net, x, labels);
  const std::vector<double> g_relu = weight_grad_norms(*relu_net, x, labels);
  auto relu_he_net = deep_mlp(/*use_sigmoid=*/false, kDepth, kWidth, kClasses);
  he_init(*relu_he_net);
  const std::vector<double> g_relu_he = weight_grad_norms(*relu_he_net, x, labels);
  // [end excerpt]

  fmt::print("{:>5} {:>14} {:>14} {:>14}\n", "layer", "sigmoid", "relu", "relu, He init");
  tutorial::Csv g_csv(o.out + "/grad_norms.csv", {"layer", "sigmoid", "relu", "relu_he_init"});
  std::vector<double> layers;
  for (int l = 0; l < kDepth; ++l) {
    const auto ul = static_cast<std::size_t>(l);
    fmt::print("{:>5} {:>14.3e} {:>14.3e} {:>14.3e}\n", l + 1, g_sigmoid[ul], g_relu[ul], g_relu_he[ul]);
    g_csv.row({static_cast<double>(l + 1), g_sigmoid[ul], g_relu[ul], g_relu_he[ul]});
    layers.push_back(l + 1);
  }
  const double ratio_sigmoid = g_sigmoid.back() / g_sigmoid.front();
  const double ratio_relu = g_relu.back() / g_relu.front();
  const double ratio_relu_he = g_relu_he.back() / g_relu_he.front();
  fmt::print("last / first layer: sigmoid {:.3g}x, relu {:.3g}x, relu with He init {:.3g}x\n", ratio_sigmoid,
             ratio_relu, ratio_relu_he);
  plot_png(pngs, o.out, "grad_norms.png", "Weight-gradient norm per layer (10-layer MLP)", "layer", "|dL/dW| (log)",
           {{"sigmoid", layers, g_sigmoid, false},
            {"relu", layers, g_relu, false},
            {"relu, He init", layers, g_relu_he, false}},
           /*log_y=*/true);
  if (!(ratio_sigmoid >= 10.0)) {
    fmt::print("FAILED: sigmoid's first-layer gradient is not 10x smaller than its last layer's\n");
    ok = false;
  }
  const auto [he_min, he_max] = std::minmax_element(g_relu_he.begin(), g_relu_he.end());
  if (!(*he_max <= 20.0 * *he_min)) {
    fmt::print("FAILED: with He init the ReLU net's layer gradients differ by more than 20x\n");
    ok = false;
  }

  fmt::print("\nwrote {}/activations.csv, softmax.csv, grad_norms.csv{}{}\n", o.out, pngs.empty() ? "" : ", ",
             fmt::join(pngs, ", "));
  return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
