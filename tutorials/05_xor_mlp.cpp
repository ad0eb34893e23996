// Tutorial 05: a two-layer MLP learns XOR, the function the perceptron of tutorial 01 cannot
// represent. End-to-end layered feature learning: the hidden layer (Linear + Tanh) learns a
// new representation of the four points in which they ARE linearly separable, and the output
// layer (a single linear unit, i.e. a perceptron on the learnt features) separates them.
//
// Outputs in --out: 05_loss.csv (loss and accuracy per epoch), 05_points.csv (the four points,
// their hidden features and predicted probability), 05_decision_regions.png (the trained net
// over [-0.5, 1.5]^2, coloured by p(y = 1), the hidden units' switching lines dashed green),
// 05_hidden_space.png (the points in the space of the first two hidden units, coloured by the
// output layer: a straight boundary), 05_loss.png (gnuplot). Exit status 1 unless the net
// classifies all four points correctly.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <vector>

#include <fmt/format.h>

#include "tutorial.hpp"
#include "xgrad/xgrad.hpp"

namespace nn = xgrad::nn;
namespace optim = xgrad::optim;

namespace {

struct Rgb {
  std::uint8_t r, g, b;
};

constexpr Rgb kClass0{49, 104, 181};  // blue: label 0
constexpr Rgb kClass1{222, 120, 31};  // orange: label 1
constexpr Rgb kWhite{255, 255, 255};
constexpr Rgb kBlack{0, 0, 0};
constexpr Rgb kGrey{110, 110, 110};
constexpr Rgb kGreen{0, 130, 60};

Rgb mix(Rgb a, Rgb b, double t) {
  auto c = [t](std::uint8_t u, std::uint8_t v) { return static_cast<std::uint8_t>(std::lround(u + (v - u) * t)); };
  return {c(a.r, b.r), c(a.g, b.g), c(a.b, b.b)};
}

/// p(y = 1) -> blue (0) .. white (0.5) .. orange (1), lightened so points stay visible.
Rgb probability_colour(double p) {
  const Rgb light0 = mix(kClass0, kWhite, 0.45), light1 = mix(kClass1, kWhite, 0.45);
  return p < 0.5 ? mix(light0, kWhite, p / 0.5) : mix(kWhite, light1, (p - 0.5) / 0.5);
}

/// A square RGB image whose pixels cover [lo, hi]^2 (x to the right, y upwards).
struct Canvas {
  int size;
  double lo, hi;
  std::vector<std::uint8_t> rgb;

  Canvas(int n, double lo_, double hi_) : size(n), lo(lo_), hi(hi_), rgb(static_cast<std::size_t>(n) * n * 3, 255) {}
  /// Centre of pixel (row i, column j) in data coordinates.
  double x_of(int j) const { return lo + (hi - lo) * (j + 0.5) / size; }
  double y_of(int i) const { return hi - (hi - lo) * (i + 0.5) / size; }
  int col_of(double x) const { return static_cast<int>(std::floor((x - lo) / (hi - lo) * size)); }
  int row_of(double y) const { return static_cast<int>(std::floor((hi - y) / (hi - lo) * size)); }
  void set(int i, int j, Rgb c) {
    if (i < 0 || j < 0 || i >= size || j >= size) return;
    auto* p = &rgb[(static_cast<std::size_t>(i) * size + j) * 3];
    p[0] = c.r, p[1] = c.g, p[2] = c.b;
  }
  /// A filled disc with a black rim at data point (x, y).
  void disc(double x, double y, int radius, Rgb fill) {
    const int ci = row_of(y), cj = col_of(x);
    for (int di = -radius; di <= radius; ++di)
      for (int dj = -radius; dj <= radius; ++dj) {
        const double d = std::sqrt(static_cast<double>(di * di + dj * dj));
        if (d <= radius) set(ci + di, cj + dj, d > radius - 2.0 ? kBlack : fill);
      }
  }
};

}  // namespace

int main(int argc, char** argv) {
  tutorial::Options o;
  o.epochs = 1000;
  o.lr = 0.05;
  int hidden = 2;
  CLI::App app{"Tutorial 05: a two-layer MLP learns XOR, where the perceptron failed"};
  tutorial::add_flags(app, o);
  app.add_option("--hidden", hidden, "hidden units h of the MLP 2-h-1")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  CLI11_PARSE(app, argc, argv);
  tutorial::setup(o, "Tutorial 05: XOR with a two-layer MLP");

  try {
    // The truth table: (0,0) -> 0, (0,1) -> 1, (1,0) -> 1, (1,1) -> 0 (no noise).
    const xgrad::data::SyntheticData xor_data = xgrad::data::make_xor(4, 0.0, o.seed);
    const xgrad::Tensor x = xor_data.x;                                         // float32 [4, 2]
    const xgrad::Tensor y = xor_data.y.to(xgrad::Dtype::float32).unsqueeze(1);  // float32 [4, 1]
    const std::vector<float> xs = x.to_vector<float>();
    const std::vector<std::int64_t> labels = xor_data.y.to_vector<std::int64_t>();

    // [excerpt model]
    auto net = std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(2, hidden),   // layer 1: features
                                                std::make_shared<nn::Tanh>(),              //
                                                std::make_shared<nn::Linear>(hidden, 1));  // layer 2: a linear unit
    // A forward hook sees every output of the Tanh module: the hidden features h = tanh(W1 x + b1).
    xgrad::Tensor features;
    net->at<nn::Tanh>(1)->register_forward_hook(
        [&features](nn::Module&, const xgrad::Tensor&, const xgrad::Tensor& output) {
          features = output.detach();
          return xgrad::Tensor();  // undefined: keep the output as it is
        });
    // [end excerpt]
    fmt::print("{}\n", net->repr());

    // [excerpt train_loop]
    nn::BCEWithLogitsLoss criterion;  // sigmoid + binary cross-entropy, fused and stable
    optim::Adam optimizer(net->parameters(), optim::AdamOptions(o.lr));
    tutorial::Csv loss_csv(o.out + "/05_loss.csv", {"epoch", "loss", "accuracy"});
    std::vector<double> epochs, losses;
    for (int epoch = 1; epoch <= o.epochs; ++epoch) {
      optimizer.zero_grad();
      const xgrad::Tensor logits = (*net)(x);  // [4, 1]; the hook stores the hidden features
      const xgrad::Tensor loss = criterion(logits, y);
      loss.backward();
      optimizer.step();

      const std::vector<float> z = logits.to_vector<float>();
      int correct = 0;
      for (std::size_t i = 0; i < z.size(); ++i) correct += (z[i] > 0.0f) == (labels[i] == 1);
      const double accuracy = correct / 4.0;
      const double l = loss.item<float>();
      epochs.push_back(epoch);
      losses.push_back(l);
      loss_csv.row({static_cast<double>(epoch), l, accuracy});
      if (epoch == 1 || epoch % std::max(1, o.epochs / 10) == 0 || epoch == o.epochs)
        fmt::print("epoch {:5d}  loss {:.6f}  accuracy {:5.1f}%\n", epoch, l, 100.0 * accuracy);
    }
    // [end excerpt]

    // Final predictions and hidden features of the four points (the hook captures them).
    xgrad::Tensor probs;
    {
      xgrad::NoGradGuard no_grad;
      probs = (*net)(x).sigmoid();
    }
    const std::vector<float> p = probs.to_vector<float>();
    const std::vector<float> h = features.to_vector<float>();  // [4, hidden]
    const bool two_d = hidden >= 2;
    auto h_at = [&](int i, int k) { return k < hidden ? h[static_cast<std::size_t>(i * hidden + k)] : 0.0f; };
    int correct = 0;
    tutorial::Csv points_csv(o.out + "/05_points.csv", {"x1", "x2", "label", "h1", "h2", "p"});
    fmt::print("\n  x1  x2  label |     h1      h2 | p(y=1)  predicted\n");
    for (int i = 0; i < 4; ++i) {
      const int predicted = p[i] > 0.5f ? 1 : 0;
      correct += predicted == labels[i];
      fmt::print("  {:2.0f}  {:2.0f}  {:5d} | {:6.3f}  {:6.3f} | {:6.4f}  {:9d}\n", xs[2 * i], xs[2 * i + 1], labels[i],
                 h_at(i, 0), h_at(i, 1), p[i], predicted);
      points_csv.row(
          std::vector<double>{xs[2 * i], xs[2 * i + 1], static_cast<double>(labels[i]), h_at(i, 0), h_at(i, 1), p[i]});
    }
    const double final_accuracy = correct / 4.0;

    // [excerpt regions]
    // Decision regions: the trained net on a G x G grid over [-0.5, 1.5]^2, one batch.
    const int grid = o.smoke ? 96 : 400;
    Canvas input_space(grid, -0.5, 1.5);
    std::vector<float> cells;
    cells.reserve(static_cast<std::size_t>(grid) * grid * 2);
    for (int i = 0; i < grid; ++i)
      for (int j = 0; j < grid; ++j)
        cells.insert(cells.end(), {float(input_space.x_of(j)), float(input_space.y_of(i))});
    std::vector<float> grid_p, grid_h;
    {
      xgrad::NoGradGuard no_grad;
      grid_p = (*net)(xgrad::from_vector(cells, {grid * grid, 2})).sigmoid().to_vector<float>();
      grid_h = features.to_vector<float>();  // [G*G, hidden], captured by the hook
    }
    // [end excerpt]
    auto cell = [grid](int i, int j) { return static_cast<std::size_t>(i) * grid + j; };
    for (int i = 0; i < grid; ++i)
      for (int j = 0; j < grid; ++j) {
        Rgb c = probability_colour(grid_p[cell(i, j)]);
        // Black where the output switches (p = 0.5); dashed green where a hidden unit does (its
        // line w_k . x + b_k = 0): compare each pixel with its right and lower neighbours.
        auto crosses = [&](const std::vector<float>& v, int stride, int k, float level) {
          const float a = v[cell(i, j) * stride + k] - level;
          const bool right = j + 1 < grid && (a > 0) != (v[cell(i, j + 1) * stride + k] - level > 0);
          const bool down = i + 1 < grid && (a > 0) != (v[cell(i + 1, j) * stride + k] - level > 0);
          return right || down;
        };
        if (crosses(grid_p, 1, 0, 0.5f)) c = kBlack;
        for (int k = 0; k < hidden; ++k)
          if (crosses(grid_h, hidden, k, 0.0f) && (i + j) / 8 % 2 == 0) c = kGreen;
        input_space.set(i, j, c);
      }
    const int radius = std::max(4, grid / 40);
    for (int i = 0; i < 4; ++i) input_space.disc(xs[2 * i], xs[2 * i + 1], radius, labels[i] ? kClass1 : kClass0);
    tutorial::write_png_rgb(o.out + "/05_decision_regions.png", grid, grid, input_space.rgb);

    // Hidden space: the first two hidden units h1 (right) and h2 (up) over [-1.1, 1.1]^2 (tanh
    // keeps them in [-1, 1]). With 2 hidden units this IS the space the output layer sees, so
    // we colour it by what the output layer alone predicts there, sigmoid(w2 . h + b2): a
    // straight boundary. Grey: the input grid's lines x1 = c and x2 = c, bent by layer 1.
    if (two_d) {
      Canvas hidden_space(grid, -1.1, 1.1);
      std::vector<float> hp(static_cast<std::size_t>(grid) * grid, 0.5f);
      if (hidden == 2) {
        std::vector<float> hcells;
        for (int i = 0; i < grid; ++i)
          for (int j = 0; j < grid; ++j)
            hcells.insert(hcells.end(), {float(hidden_space.x_of(j)), float(hidden_space.y_of(i))});
        xgrad::NoGradGuard no_grad;
        const xgrad::Tensor h_grid = xgrad::from_vector(hcells, {grid * grid, 2});
        hp = net->at<nn::Linear>(2)->forward(h_grid).sigmoid().to_vector<float>();
      }
      const int axis_i = hidden_space.row_of(0.0), axis_j = hidden_space.col_of(0.0);
      for (int i = 0; i < grid; ++i)
        for (int j = 0; j < grid; ++j) {
          Rgb c = probability_colour(hp[cell(i, j)]);
          if ((i == axis_i || j == axis_j) && (i + j) / 4 % 2 == 0) c = kGrey;  // dashed axes h1 = 0, h2 = 0
          const bool above = hp[cell(i, j)] > 0.5f;
          if ((j + 1 < grid && above != (hp[cell(i, j + 1)] > 0.5f)) ||
              (i + 1 < grid && above != (hp[cell(i + 1, j)] > 0.5f)))
            c = kBlack;
          hidden_space.set(i, j, c);
        }
      std::vector<float> line_pts;  // 9 lines each way over [-0.5, 1.5]
      const int samples = 4 * grid;
      for (int l = 0; l <= 8; ++l)
        for (int k = 0; k < samples; ++k) {
          const float c = -0.5f + 0.25f * l, t = -0.5f + 2.0f * k / (samples - 1);
          line_pts.insert(line_pts.end(), {c, t, t, c});
        }
      {
        xgrad::NoGradGuard no_grad;
        (*net)(xgrad::from_vector(line_pts, {static_cast<std::int64_t>(line_pts.size() / 2), 2}));  // hook fires
      }
      const std::vector<float> lh = features.to_vector<float>();
      for (std::size_t r = 0; r < line_pts.size() / 2; ++r)
        hidden_space.set(hidden_space.row_of(lh[r * hidden + 1]), hidden_space.col_of(lh[r * hidden]), kGrey);
      for (int i = 0; i < 4; ++i) hidden_space.disc(h_at(i, 0), h_at(i, 1), radius, labels[i] ? kClass1 : kClass0);
      tutorial::write_png_rgb(o.out + "/05_hidden_space.png", grid, grid, hidden_space.rgb);
      if (hidden > 2)
        fmt::print(
            "note: with {} hidden units the output boundary is a hyperplane in {}-d; 05_hidden_space.png "
            "shows only the points in (h1, h2)\n",
            hidden, hidden);
    }

    const bool plotted = tutorial::plot(o.out + "/05_loss.png", "XOR: MLP 2-" + std::to_string(hidden) + "-1, Adam",
                                        "epoch", "BCE loss", {{"training loss", epochs, losses}}, true);

    fmt::print("\nfinal loss {:.6f}, accuracy {:.0f}% on the 4 XOR points (the perceptron: at most 75%)\n",
               losses.empty() ? NAN : losses.back(), 100.0 * final_accuracy);
    if (final_accuracy == 1.0)
      fmt::print(
          "the output layer is a linear classifier of h, so the 4 hidden feature vectors are linearly "
          "separable: layer 1 learnt features in which XOR is easy\n");
    fmt::print("wrote {0}/05_loss.csv, {0}/05_points.csv, {0}/05_decision_regions.png{1}{2}\n", o.out,
               two_d ? fmt::format(", {}/05_hidden_space.png", o.out) : "",
               plotted ? fmt::format(", {}/05_loss.png", o.out) : "");
    if (final_accuracy < 1.0) {
      fmt::print(stderr, "FAILED: the MLP did not learn XOR (accuracy {:.0f}%): {}\n", 100.0 * final_accuracy,
                 hidden <= 2 ? "with 2 hidden units about half of the initialisations end in a local minimum; "
                               "try another --seed or --hidden 8"
                             : "try more --epochs or another --seed");
      return 1;
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
  return 0;
}
