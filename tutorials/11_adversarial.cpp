// Tutorial 11: adversarial examples and adversarial training (xgrad::adversarial) on tutorial
// 07's network (tutorials/common/fashion_cnn.hpp, pixels in [0, 1]).
//
//  1. A standard CNN, trained for 2 epochs (about 90% test accuracy) or loaded with
//     --checkpoint (e.g. tutorial 10's 10_cnn.safetensors).
//  2. A robust CNN: the standard one trained for --adv-epochs more epochs (1) on batches whose
//     first half is replaced by PGD examples (adversarial_training_batch: L-inf, eps 0.1,
//     5 steps of 0.05, random start), on the first --adv-train-images training images.
//  3. Accuracy of both against FGSM and PGD (L-inf, 10 steps of 2.5 eps / 10, random start)
//     for eps in {0, 0.01, 0.02, 0.05, 0.1, 0.2}, on the first --eval-images test images:
//     a table, 11_accuracy.csv and 11_accuracy.png.
//  4. 11_examples.png: four test images; for each model the PGD perturbation at eps 0.1
//     (amplified: red brighter, blue darker, full colour = eps) and the adversarial image,
//     with the predictions printed.
//
// --smoke: 256 training and 128 test images (64 attacked), 2 + 1 epochs of 4 batches, 3 PGD steps; checks
// that every attack stays in its eps-ball and the valid range and that PGD at the largest eps
// does not raise the accuracy of the standard model.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "fashion_cnn.hpp"
#include "tutorial.hpp"
#include "xgrad/xgrad.hpp"

namespace adv = xgrad::adversarial;
namespace data = xgrad::data;
namespace nn = xgrad::nn;
using xgrad::Tensor;

namespace {

const std::vector<double> kEpsilons{0.0, 0.01, 0.02, 0.05, 0.1, 0.2};
const std::vector<std::int64_t> kShownClasses{0, 3, 7, 9};  // T-shirt, Dress, Sneaker, Ankle boot
constexpr double kTrainEps = 0.1;

// [excerpt attacks]
// FGSM: one step of size eps along the sign of the loss gradient. PGD: `steps` smaller steps
// (alpha = 2.5 eps / steps, Madry et al.'s rule), each projected back into the eps-ball around
// x and into [0, 1], from a random start inside the ball. Both are untargeted: they raise the
// cross-entropy of the true label.
Tensor attack(nn::Module& model, const std::string& kind, const Tensor& x, const Tensor& y, double eps,
              std::int64_t steps, std::uint64_t seed) {
  if (kind == "FGSM") return adv::fgsm(model, x, y, adv::FGSMOptions().eps(eps));
  return adv::pgd(model, x, y,
                  adv::PGDOptions().eps(eps).alpha(2.5 * eps / static_cast<double>(steps)).steps(steps).seed(seed));
}
// [end excerpt]

struct AttackResult {
  double accuracy = 0.0, max_linf = 0.0;  ///< accuracy on the attacked images; largest |x_adv - x|
  bool in_range = true;                   ///< every x_adv in [0, 1]
};

/// Attacks x / y in chunks of 250 images (eps 0: no attack) and measures the accuracy.
AttackResult evaluate_attack(nn::Module& model, const std::string& kind, const Tensor& x, const Tensor& y, double eps,
                             std::int64_t steps) {
  model.eval();
  AttackResult r;
  std::int64_t correct = 0;
  const std::int64_t n = x.size(0);
  for (std::int64_t start = 0; start < n; start += 250) {
    const std::int64_t len = std::min<std::int64_t>(250, n - start);
    const Tensor xb = x.narrow(0, start, len), yb = y.narrow(0, start, len);
    const Tensor xa = eps > 0.0 ? attack(model, kind, xb, yb, eps, steps, static_cast<std::uint64_t>(start)) : xb;
    r.max_linf = std::max(r.max_linf, (xa - xb).abs().max().item<double>());
    r.in_range = r.in_range && xa.min().item<double>() >= 0.0 && xa.max().item<double>() <= 1.0;
    xgrad::NoGradGuard no_grad;
    const std::vector<std::int64_t> pred = model(xa).argmax(1).to_vector<std::int64_t>();
    const std::vector<std::int64_t> truth = yb.to_vector<std::int64_t>();
    for (std::size_t i = 0; i < truth.size(); ++i) correct += pred[i] == truth[i];
  }
  r.accuracy = static_cast<double>(correct) / static_cast<double>(n);
  return r;
}

/// Predicted class and its softmax probability for each image of x.
std::vector<std::pair<std::int64_t, double>> predict(nn::Module& model, const Tensor& x) {
  xgrad::NoGradGuard no_grad;
  model.eval();
  const Tensor p = nn::functional::softmax(model(x), 1).contiguous();
  const std::vector<float> v = p.to_vector<float>();
  std::vector<std::pair<std::int64_t, double>> out;
  for (std::int64_t n = 0; n < x.size(0); ++n) {
    const float* row = v.data() + n * 10;
    const auto best = std::max_element(row, row + 10) - row;
    out.emplace_back(best, row[best]);
  }
  return out;
}

/// Rows: images; columns: the image, then for each model the perturbation (scaled by eps: red
/// +eps, blue -eps, white 0) and the adversarial image. Tiles 28x28 enlarged 4x, 4-pixel gaps.
void write_examples(const std::string& path, const Tensor& x, const std::vector<Tensor>& adversarial, double eps) {
  constexpr int zoom = 4, tile = 28 * zoom, gap = 4;
  const int rows = static_cast<int>(x.size(0)), cols = 1 + 2 * static_cast<int>(adversarial.size());
  fashion_cnn::Canvas canvas(cols * (tile + gap) - gap, rows * (tile + gap) - gap);
  const std::vector<float> img = x.contiguous().to_vector<float>();
  for (int r = 0; r < rows; ++r) {
    const std::size_t off = static_cast<std::size_t>(r) * 784;
    const int top = r * (tile + gap);
    fashion_cnn::draw_map(canvas, img.data() + off, 0, top, zoom, true);
    for (std::size_t m = 0; m < adversarial.size(); ++m) {
      const std::vector<float> xa = adversarial[m].contiguous().to_vector<float>();
      std::vector<float> delta(784);
      for (std::size_t i = 0; i < 784; ++i) delta[i] = xa[off + i] - img[off + i];
      const int left = static_cast<int>(1 + 2 * m) * (tile + gap);
      fashion_cnn::draw_map(canvas, delta.data(), left, top, zoom, false, static_cast<float>(eps));
      fashion_cnn::draw_map(canvas, xa.data() + off, left + tile + gap, top, zoom, true);
    }
  }
  canvas.write(path);
}

}  // namespace

int main(int argc, char** argv) {
  tutorial::Options o;
  o.epochs = 2;
  o.batch_size = 128;
  o.lr = 5e-3;
  o.data = std::string(data::kFashionMnistDefaultRoot);
  std::string checkpoint;
  int adv_epochs = 1;
  std::int64_t adv_train_images = 60000, eval_images = 1000, pgd_steps = 10, train_pgd_steps = 5;
  CLI::App app{"Tutorial 11: FGSM and PGD attacks on the CNN, and adversarial training"};
  tutorial::add_flags(app, o);
  app.add_option("--checkpoint", checkpoint, "load the standard CNN's weights from this file instead of training")
      ->check(CLI::ExistingFile);
  app.add_option("--adv-epochs", adv_epochs, "epochs of adversarial training")->capture_default_str();
  app.add_option("--adv-train-images", adv_train_images, "training images used by adversarial training")
      ->capture_default_str();
  app.add_option("--eval-images", eval_images, "test images attacked")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  tutorial::setup(o, "Tutorial 11: adversarial robustness");

  try {
    const auto start = std::chrono::steady_clock::now();
    if (o.smoke) {
      o.epochs = 2;
      o.batch_size = 64;
      adv_epochs = 1;
      eval_images = 64;
      pgd_steps = 3;
      train_pgd_steps = 3;
    }
    const fashion_cnn::Data d = fashion_cnn::load_data(o.data, o.smoke);
    fmt::print("Fashion-MNIST from {}: {} training and {} test images (pixels in [0, 1])\n", o.data, d.train->size(),
               d.test->size());

    // 1. The standard CNN.
    const std::shared_ptr<nn::Sequential> standard = fashion_cnn::make_model();
    if (!checkpoint.empty()) {
      standard->load(checkpoint);
      fmt::print("loaded {}: test accuracy {:.2f}%\n", checkpoint,
                 100.0 * fashion_cnn::accuracy(*standard, d.test_images, d.test_labels));
    } else {
      fashion_cnn::TrainConfig cfg;
      cfg.epochs = o.epochs;
      cfg.batch_size = o.batch_size;
      cfg.max_lr = o.lr;
      cfg.seed = o.seed;
      cfg.label = "standard epoch";
      const auto t0 = std::chrono::steady_clock::now();
      const double acc = fashion_cnn::train(*standard, d, cfg);
      fmt::print("standard CNN: {} epochs in {:.0f}s, test accuracy {:.2f}%\n", cfg.epochs, tutorial::seconds_since(t0),
                 100.0 * acc);
    }

    // 2. The robust CNN: a copy of the standard one, trained on adversarial batches.
    const std::shared_ptr<nn::Sequential> robust = fashion_cnn::make_model();
    robust->load_state_dict(standard->state_dict());
    {
      fashion_cnn::Data adv_data = d;
      if (!o.smoke && adv_train_images < d.train->size()) {
        std::vector<std::int64_t> idx(static_cast<std::size_t>(std::max<std::int64_t>(adv_train_images, 1)));
        std::iota(idx.begin(), idx.end(), 0);
        adv_data.train = std::make_shared<data::Subset>(d.train, idx);
      }
      fashion_cnn::TrainConfig cfg;
      cfg.epochs = adv_epochs;
      cfg.batch_size = o.batch_size;
      cfg.max_lr = o.lr;
      cfg.seed = o.seed + 1;
      cfg.label = "adversarial epoch";
      // [excerpt adversarial_training]
      // Madry et al.'s recipe, made cheaper: in every batch the first half (the loader shuffles,
      // so a random half) is replaced by PGD examples against the current weights (the attack
      // runs in eval mode; training mode is restored after it), the rest stays clean, and the
      // network trains on the mix with the true labels.
      std::uint64_t batch_counter = 0;
      cfg.batch_fn = [&batch_counter, train_pgd_steps](nn::Module& model, const Tensor& x, const Tensor& y) {
        const auto pgd = adv::PGDOptions()
                             .eps(kTrainEps)
                             .alpha(2.5 * kTrainEps / static_cast<double>(train_pgd_steps))
                             .steps(train_pgd_steps)
                             .seed(++batch_counter);  // a new random start in every batch
        return adv::adversarial_training_batch(model, x, y, adv::AdversarialTrainingOptions().fraction(0.5).pgd(pgd));
      };
      // [end excerpt]
      const auto t0 = std::chrono::steady_clock::now();
      const double acc = fashion_cnn::train(*robust, adv_data, cfg);
      fmt::print("robust CNN: {} adversarial epoch(s) on {} images in {:.0f}s, clean test accuracy {:.2f}%\n",
                 adv_epochs, adv_data.train->size(), tutorial::seconds_since(t0), 100.0 * acc);
    }

    // 3. Accuracy against FGSM and PGD.
    const std::int64_t ne = std::min<std::int64_t>(eval_images, d.test_images.size(0));
    const Tensor xe = d.test_images.narrow(0, 0, ne), ye = d.test_labels.narrow(0, 0, ne);
    fmt::print("\naccuracy (%) under attack on the first {} test images (PGD: L-inf, {} steps, random start)\n", ne,
               pgd_steps);
    fmt::print("{:>6} {:>14} {:>14} {:>14} {:>14}\n", "eps", "standard FGSM", "standard PGD", "robust FGSM",
               "robust PGD");
    tutorial::Csv csv(o.out + "/11_accuracy.csv",
                      {"eps", "standard_fgsm", "standard_pgd", "robust_fgsm", "robust_pgd"});
    std::vector<tutorial::Series> series{
        {"standard, FGSM", {}, {}}, {"standard, PGD-10", {}, {}}, {"robust, FGSM", {}, {}}, {"robust, PGD-10", {}, {}}};
    bool balls_ok = true;
    double standard_clean = 0.0, standard_pgd_max = 0.0;
    const auto t_eval = std::chrono::steady_clock::now();
    for (const double eps : kEpsilons) {
      std::vector<double> row{eps};
      std::size_t k = 0;
      for (nn::Module* model : {static_cast<nn::Module*>(standard.get()), static_cast<nn::Module*>(robust.get())})
        for (const std::string kind : {"FGSM", "PGD"}) {
          const AttackResult r = evaluate_attack(*model, kind, xe, ye, eps, pgd_steps);
          balls_ok = balls_ok && r.in_range && r.max_linf <= eps + 1e-6;
          row.push_back(100.0 * r.accuracy);
          series[k].x.push_back(eps);
          series[k++].y.push_back(100.0 * r.accuracy);
        }
      if (eps == 0.0) standard_clean = row[1];
      standard_pgd_max = row[2];
      fmt::print("{:>6.2f} {:>14.1f} {:>14.1f} {:>14.1f} {:>14.1f}\n", eps, row[1], row[2], row[3], row[4]);
      std::fflush(stdout);
      csv.row(row);
    }
    fmt::print("attacks: {:.0f}s; every adversarial image within its eps-ball and [0, 1]: {}\n",
               tutorial::seconds_since(t_eval), balls_ok ? "yes" : "NO");
    if (tutorial::plot(o.out + "/11_accuracy.png", fmt::format("Fashion-MNIST CNN under attack ({} test images)", ne),
                       "epsilon (L-inf, pixels in [0, 1])", "accuracy (%)", series))
      fmt::print("wrote {}/11_accuracy.png\n", o.out);
    else
      fmt::print("gnuplot not found: no plot (the numbers are in 11_accuracy.csv)\n");

    // 4. The picture: one image per class in kShownClasses, classified correctly by both models.
    std::vector<std::int64_t> shown;
    {
      const std::vector<std::int64_t> labels = ye.to_vector<std::int64_t>();
      const auto ps = predict(*standard, xe), pr = predict(*robust, xe);
      for (const std::int64_t c : kShownClasses) {
        std::int64_t pick = -1;
        for (std::size_t i = 0; i < labels.size() && pick < 0; ++i)
          if (labels[i] == c && ps[i].first == c && pr[i].first == c) pick = static_cast<std::int64_t>(i);
        for (std::size_t i = 0; i < labels.size() && pick < 0; ++i)
          if (labels[i] == c) pick = static_cast<std::int64_t>(i);
        shown.push_back(std::max<std::int64_t>(pick, 0));
      }
    }
    const Tensor idx = xgrad::from_vector(shown, {static_cast<std::int64_t>(shown.size())});
    const Tensor xs = xe.index_select(0, idx), ys = ye.index_select(0, idx);
    std::vector<Tensor> adversarial;
    fmt::print("\nPGD-{} at eps {} (11_examples.png; prediction and its probability):\n", pgd_steps, kTrainEps);
    fmt::print("{:>5} {:>12} {:>22} {:>22} {:>22} {:>22}\n", "index", "label", "standard, clean", "standard, attacked",
               "robust, clean", "robust, attacked");
    std::vector<std::vector<std::pair<std::int64_t, double>>> preds;
    for (nn::Sequential* model : {standard.get(), robust.get()}) {
      adversarial.push_back(attack(*model, "PGD", xs, ys, kTrainEps, pgd_steps, 7));
      preds.push_back(predict(*model, xs));
      preds.push_back(predict(*model, adversarial.back()));
    }
    const std::vector<std::int64_t> ls = ys.to_vector<std::int64_t>();
    for (std::size_t i = 0; i < shown.size(); ++i) {
      fmt::print("{:>5} {:>12}", shown[i], data::FashionMNIST::class_name(ls[i]));
      for (const auto& p : preds)
        fmt::print(" {:>22}",
                   fmt::format("{} ({:.0f}%)", data::FashionMNIST::class_name(p[i].first), 100.0 * p[i].second));
      fmt::print("\n");
    }
    write_examples(o.out + "/11_examples.png", xs, adversarial, kTrainEps);
    fmt::print("wrote {}/11_examples.png\ntotal {:.0f}s with {} threads\n", o.out, tutorial::seconds_since(start),
               xgrad::get_num_threads());
    std::fflush(stdout);

    if (!balls_ok) {
      fmt::print(stderr, "FAILED: an adversarial image left its eps-ball or [0, 1]\n");
      return 1;
    }
    if (standard_pgd_max > standard_clean) {
      fmt::print(stderr, "FAILED: PGD at eps {} raised the accuracy ({:.1f}% -> {:.1f}%)\n", kEpsilons.back(),
                 standard_clean, standard_pgd_max);
      return 1;
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
  return 0;
}
