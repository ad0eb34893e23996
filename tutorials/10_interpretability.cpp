// Tutorial 10: what did the CNN look at? Attribution methods of xgrad::explain on tutorial
// 07's network (tutorials/common/fashion_cnn.hpp), trained briefly on Fashion-MNIST (2 epochs,
// about 90% test accuracy) or loaded with --checkpoint.
//
//  1. Heatmaps of seven methods (saliency, gradient x input, Integrated Gradients, SmoothGrad,
//     Grad-CAM, Grad-CAM++ on the last convolutional feature map, occlusion) for one test image
//     of each of six classes: 10_heatmaps.png (rows: images; columns: the image, then one
//     method each).
//  2. Integrated Gradients' completeness: the attributions of an image sum to
//     f(x) - f(baseline) (f: the logit explained, baseline: a black image) up to the error of
//     the Riemann sum, which shrinks with the number of steps (20, 50, 200). Exit status 1 in a
//     full run when 200 steps leave an error above 1%.
//  3. Faithfulness (deletion / insertion AUC, Petsiuk et al. 2018) of every method and of a
//     random attribution, averaged over the first --faithfulness-images test images
//     (10_faithfulness.csv and 10_deletion.png / 10_insertion.png: the mean curves).
//
// --smoke trains on 256 images (2 epochs of 4 batches), explains with few steps and samples,
// and checks that every map is finite and that the IG error shrinks from 20 to 200 steps.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "fashion_cnn.hpp"
#include "tutorial.hpp"
#include "xgrad/xgrad.hpp"

namespace data = xgrad::data;
namespace explain = xgrad::explain;
namespace nn = xgrad::nn;
using xgrad::Tensor;

namespace {

/// The classes shown in the heatmap grid, one test image each.
const std::vector<std::int64_t> kShownClasses{0, 1, 4, 5, 8, 9};  // T-shirt, Trouser, Coat, Sandal, Bag, Ankle boot

struct Settings {
  std::int64_t ig_steps = 50, smooth_samples = 50, occlusion_stride = 1, faithfulness_images = 100,
               faithfulness_steps = 28;
};

/// One attribution method: its name and a function computing [N, C|1, H, W] maps for x [N, 1, 28, 28]
/// (target: undefined = the predicted class).
struct Method {
  std::string name;
  std::function<Tensor(const Tensor& x)> attribute;
};

// [excerpt methods]
// Every method explains the logit of the predicted class (target undefined = argmax). The
// gradient methods take one backward pass (SmoothGrad: one per noisy copy, IG: one per point
// of the path from the black image to x, batched); Grad-CAM reads the gradient at the last
// conv feature map, [N, 64, 14, 14], through hooks; occlusion needs no gradient at all, only
// one forward pass per position of a black 4x4 window.
std::vector<Method> make_methods(nn::Sequential& model, const Settings& s) {
  nn::Module& last_conv = *model[fashion_cnn::kLastConvRelu];  // ReLU after the second conv
  return {
      {"saliency", [&model](const Tensor& x) { return explain::saliency(model, x); }},
      {"gradient x input", [&model](const Tensor& x) { return explain::gradient_x_input(model, x); }},
      {"integrated gradients",
       [&model, s](const Tensor& x) {
         return explain::integrated_gradients(
                    model, x, {}, explain::IntegratedGradientsOptions().steps(s.ig_steps).steps_per_batch(10))
             .attributions;
       }},
      {"SmoothGrad",
       [&model, s](const Tensor& x) {
         return explain::smooth_grad(model, x, {}, explain::SmoothGradOptions().samples(s.smooth_samples));
       }},
      {"Grad-CAM", [&model, &last_conv](const Tensor& x) { return explain::grad_cam(model, last_conv, x); }},
      {"Grad-CAM++",
       [&model, &last_conv](const Tensor& x) { return explain::grad_cam_plus_plus(model, last_conv, x); }},
      {"occlusion",
       [&model, s](const Tensor& x) {
         return explain::occlusion(
             model, x, {}, explain::OcclusionOptions().window({4, 4}).stride({s.occlusion_stride, s.occlusion_stride}));
       }},
  };
}
// [end excerpt]

/// Index of the first test image of `label` that the model classifies correctly (else the
/// first of that label, else 0).
std::int64_t pick_image(const std::vector<std::int64_t>& labels, const std::vector<std::int64_t>& pred,
                        std::int64_t label) {
  std::int64_t fallback = -1;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] != label) continue;
    if (pred[i] == label) return static_cast<std::int64_t>(i);
    if (fallback < 0) fallback = static_cast<std::int64_t>(i);
  }
  return std::max<std::int64_t>(fallback, 0);
}

bool all_finite(const Tensor& t) {
  for (const float v : t.contiguous().to_vector<float>())
    if (!std::isfinite(v)) return false;
  return true;
}

/// Rows: the images; columns: the image (grey) and each map (red positive, blue negative,
/// white 0; each map scaled by its own largest |value|). Tiles 28x28 enlarged 3x, 4-pixel gaps.
void write_grid(const std::string& path, const Tensor& images, const std::vector<Tensor>& maps) {
  constexpr int zoom = 3, tile = 28 * zoom, gap = 4;
  const int rows = static_cast<int>(images.size(0)), cols = 1 + static_cast<int>(maps.size());
  fashion_cnn::Canvas canvas(cols * (tile + gap) - gap, rows * (tile + gap) - gap);
  const std::vector<float> img = images.contiguous().to_vector<float>();
  std::vector<std::vector<float>> m;
  for (const Tensor& t : maps) m.push_back(t.contiguous().to_vector<float>());
  for (int r = 0; r < rows; ++r) {
    const std::size_t off = static_cast<std::size_t>(r) * 784;
    fashion_cnn::draw_map(canvas, img.data() + off, 0, r * (tile + gap), zoom, true);
    for (std::size_t c = 0; c < m.size(); ++c) {
      const float* map = m[c].data() + off;
      fashion_cnn::draw_map(canvas, map, static_cast<int>(c + 1) * (tile + gap), r * (tile + gap), zoom, false,
                            fashion_cnn::peak(map, 784));
    }
  }
  canvas.write(path);
}

/// The target logit of each sample: logits [N, C], target [N].
std::vector<double> target_logits(nn::Module& model, const Tensor& x, const std::vector<std::int64_t>& target) {
  xgrad::NoGradGuard no_grad;
  const Tensor logits = model(x).contiguous();
  const std::vector<float> v = logits.to_vector<float>();
  std::vector<double> out;
  for (std::size_t n = 0; n < target.size(); ++n)
    out.push_back(v[n * static_cast<std::size_t>(logits.size(1)) + static_cast<std::size_t>(target[n])]);
  return out;
}

/// Prints, for each image, f(x) - f(black) and the IG sum and relative error for each step
/// count; returns the largest relative error per step count.
std::vector<double> completeness(nn::Sequential& model, const Tensor& x, const std::vector<std::int64_t>& pred,
                                 const std::vector<std::int64_t>& steps_list) {
  // [excerpt completeness]
  // Completeness: sum_i IG_i(x) = f(x) - f(x') exactly for the integral; the Riemann
  // (trapezoid) sum over `steps` points of the path approximates it. delta = sum - (f(x) - f(x')).
  const std::vector<double> fx = target_logits(model, x, pred);
  const std::vector<double> f0 = target_logits(model, xgrad::zeros_like(x), pred);
  std::vector<std::vector<double>> sums, rel;
  for (const std::int64_t steps : steps_list) {
    const explain::IntegratedGradientsResult ig = explain::integrated_gradients(
        model, x, {}, explain::IntegratedGradientsOptions().steps(steps).return_convergence_delta(true));
    const std::vector<double> s = ig.attributions.sum({1, 2, 3}).to(xgrad::float64).to_vector<double>();
    std::vector<double> r;
    for (std::size_t n = 0; n < s.size(); ++n) r.push_back(std::abs(s[n] - (fx[n] - f0[n])) / std::abs(fx[n] - f0[n]));
    sums.push_back(s);
    rel.push_back(r);
  }
  // [end excerpt]
  fmt::print("{:>5} {:>11} {:>9} {:>9}", "image", "class", "f(x)", "f(black)");
  fmt::print(" {:>12}", "f(x)-f(blk)");
  for (const std::int64_t steps : steps_list) fmt::print(" {:>9} {:>7}", fmt::format("sum@{}", steps), "error");
  fmt::print("\n");
  std::vector<double> worst(steps_list.size(), 0.0);
  for (std::size_t n = 0; n < fx.size(); ++n) {
    fmt::print("{:>5} {:>11} {:9.4f} {:9.4f} {:12.4f}", n, data::FashionMNIST::class_name(pred[n]), fx[n], f0[n],
               fx[n] - f0[n]);
    for (std::size_t k = 0; k < steps_list.size(); ++k) {
      fmt::print(" {:9.4f} {:6.2f}%", sums[k][n], 100.0 * rel[k][n]);
      worst[k] = std::max(worst[k], rel[k][n]);
    }
    fmt::print("\n");
  }
  for (std::size_t k = 0; k < steps_list.size(); ++k)
    fmt::print("IG with {:>3} steps: largest relative completeness error {:.3f}%\n", steps_list[k], 100.0 * worst[k]);
  return worst;
}

struct Faithfulness {
  std::string name;
  double deletion = 0.0, insertion = 0.0, seconds = 0.0;
  std::vector<double> deletion_curve, insertion_curve;  ///< means over the images
};

Faithfulness faithfulness(nn::Module& model, const std::string& name, const Tensor& x, const Tensor& attribution,
                          std::int64_t steps, double seconds) {
  const explain::FaithfulnessResult r =
      explain::deletion_insertion(model, x, attribution, {}, explain::FaithfulnessOptions().steps(steps));
  Faithfulness f{name, r.deletion_auc.mean().item<double>(), r.insertion_auc.mean().item<double>(), seconds, {}, {}};
  f.deletion_curve = r.deletion_curve.mean({0}).to_vector<double>();
  f.insertion_curve = r.insertion_curve.mean({0}).to_vector<double>();
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  tutorial::Options o;
  o.epochs = 2;
  o.batch_size = 128;
  o.lr = 5e-3;
  o.data = std::string(data::kFashionMnistDefaultRoot);
  Settings s;
  std::string checkpoint;
  CLI::App app{"Tutorial 10: attribution methods (saliency, IG, SmoothGrad, Grad-CAM, occlusion) on the CNN"};
  tutorial::add_flags(app, o);
  app.add_option("--checkpoint", checkpoint, "load the CNN's weights from this file instead of training")
      ->check(CLI::ExistingFile);
  app.add_option("--faithfulness-images", s.faithfulness_images, "test images of the faithfulness table")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  tutorial::setup(o, "Tutorial 10: interpretability");

  try {
    const auto start = std::chrono::steady_clock::now();
    if (o.smoke) {
      o.epochs = 2;
      o.batch_size = 64;
      s = Settings{8, 4, 4, 16, 7};
    }
    const fashion_cnn::Data d = fashion_cnn::load_data(o.data, o.smoke);
    fmt::print("Fashion-MNIST from {}: {} training and {} test images (pixels in [0, 1])\n", o.data, d.train->size(),
               d.test->size());
    const std::shared_ptr<nn::Sequential> model = fashion_cnn::make_model();
    if (!checkpoint.empty()) {
      model->load(checkpoint);
      fmt::print("loaded {}: test accuracy {:.2f}%\n", checkpoint,
                 100.0 * fashion_cnn::accuracy(*model, d.test_images, d.test_labels));
    } else {
      fashion_cnn::TrainConfig cfg;
      cfg.epochs = o.epochs;
      cfg.batch_size = o.batch_size;
      cfg.max_lr = o.lr;
      cfg.seed = o.seed;
      const double acc = fashion_cnn::train(*model, d, cfg);
      fmt::print("trained {} epochs in {:.0f}s: test accuracy {:.2f}%\n", cfg.epochs, tutorial::seconds_since(start),
                 100.0 * acc);
      model->save(o.out + "/10_cnn.safetensors");
    }
    model->eval();  // BatchNorm with its running statistics, no dropout: the attributions are deterministic

    // The images of the grid: one per class, correctly classified where possible.
    std::vector<std::int64_t> pred_all;
    {
      xgrad::NoGradGuard no_grad;
      pred_all = (*model)(d.test_images).argmax(1).to_vector<std::int64_t>();
    }
    const std::vector<std::int64_t> labels = d.test_labels.to_vector<std::int64_t>();
    std::vector<std::int64_t> shown;
    for (const std::int64_t c : kShownClasses) shown.push_back(pick_image(labels, pred_all, c));
    const Tensor x =
        d.test_images.index_select(0, xgrad::from_vector(shown, {static_cast<std::int64_t>(shown.size())}));
    std::vector<std::int64_t> pred;
    fmt::print("\nimages of the grid (test index, label, prediction):");
    for (const std::int64_t i : shown) {
      pred.push_back(pred_all[static_cast<std::size_t>(i)]);
      fmt::print(" {} {}->{};", i, data::FashionMNIST::class_name(labels[static_cast<std::size_t>(i)]),
                 data::FashionMNIST::class_name(pred.back()));
    }
    fmt::print("\n");

    // 1. Heatmaps.
    const std::vector<Method> methods = make_methods(*model, s);
    std::vector<Tensor> maps;
    bool finite = true;
    for (const Method& m : methods) {
      const auto t0 = std::chrono::steady_clock::now();
      maps.push_back(m.attribute(x));
      finite = finite && all_finite(maps.back());
      fmt::print("  {:<22} {:>7.3f}s for {} images\n", m.name, tutorial::seconds_since(t0), shown.size());
    }
    write_grid(o.out + "/10_heatmaps.png", x, maps);
    fmt::print("wrote {}/10_heatmaps.png\n", o.out);

    // 2. Integrated Gradients' completeness.
    fmt::print("\nIntegrated Gradients' completeness (baseline: the black image; f: the predicted class's logit)\n");
    const std::vector<double> worst = completeness(*model, x, pred, {20, 50, 200});

    // 3. Faithfulness.
    const std::int64_t nf = std::min<std::int64_t>(s.faithfulness_images, d.test_images.size(0));
    const Tensor xf = d.test_images.narrow(0, 0, nf);
    fmt::print("\nfaithfulness on the first {} test images ({} deletion / insertion steps of {} pixels each)\n", nf,
               s.faithfulness_steps, 784 / s.faithfulness_steps);
    std::vector<Faithfulness> table;
    for (const Method& m : methods) {
      const auto t0 = std::chrono::steady_clock::now();
      const Tensor a = m.attribute(xf);
      table.push_back(faithfulness(*model, m.name, xf, a, s.faithfulness_steps, tutorial::seconds_since(t0)));
    }
    xgrad::manual_seed(o.seed);
    table.push_back(faithfulness(*model, "random", xf, xgrad::rand({nf, 1, 28, 28}), s.faithfulness_steps, 0.0));
    fmt::print("{:<22} {:>14} {:>15} {:>12}\n", "method", "deletion AUC", "insertion AUC", "time");
    tutorial::Csv csv(o.out + "/10_faithfulness.csv", {"method", "deletion_auc", "insertion_auc", "seconds"});
    std::vector<tutorial::Series> del, ins;
    for (const Faithfulness& f : table) {
      fmt::print("{:<22} {:>14.4f} {:>15.4f} {:>11.2f}s\n", f.name, f.deletion, f.insertion, f.seconds);
      csv.row(std::vector<std::string>{f.name, fmt::format("{}", f.deletion), fmt::format("{}", f.insertion),
                                       fmt::format("{}", f.seconds)});
      std::vector<double> frac;
      for (std::size_t k = 0; k < f.deletion_curve.size(); ++k)
        frac.push_back(100.0 * static_cast<double>(k) / static_cast<double>(f.deletion_curve.size() - 1));
      del.push_back({f.name, frac, f.deletion_curve});
      ins.push_back({f.name, frac, f.insertion_curve});
    }
    const std::string title = fmt::format("mean over {} test images", nf);
    if (tutorial::plot(o.out + "/10_deletion.png", "Deletion: most important pixels blacked out first, " + title,
                       "pixels deleted (%)", "probability of the predicted class", del) &&
        tutorial::plot(o.out + "/10_insertion.png", "Insertion: most important pixels restored first, " + title,
                       "pixels inserted (%)", "probability of the predicted class", ins))
      fmt::print("wrote {0}/10_deletion.png, {0}/10_insertion.png\n", o.out);
    else
      fmt::print("gnuplot not found: no curves (the AUCs are in 10_faithfulness.csv)\n");
    fmt::print("total {:.0f}s with {} threads\n", tutorial::seconds_since(start), xgrad::get_num_threads());
    std::fflush(stdout);

    if (!finite) {
      fmt::print(stderr, "FAILED: an attribution map is not finite\n");
      return 1;
    }
    if (o.smoke ? !(worst.back() <= worst.front()) : !(worst.back() < 0.01)) {
      fmt::print(stderr, "FAILED: IG completeness error {:.3f}% with 200 steps (20 steps: {:.3f}%)\n",
                 100.0 * worst.back(), 100.0 * worst.front());
      return 1;
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
  return 0;
}
