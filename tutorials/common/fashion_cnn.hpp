// The convolutional network of tutorial 07 and a short training routine, shared by tutorials
// 10 (interpretability) and 11 (adversarial robustness), which explain and attack it.
//
// One difference to tutorial 07: the images are NOT normalised. The network sees the pixels
// x = byte / 255 in [0, 1] (the BatchNorm after the first convolution standardises the
// channels anyway), so a black pixel is 0 (the natural baseline of Integrated Gradients,
// occlusion and deletion/insertion) and an attack's epsilon is a fraction of the pixel range.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "tutorial.hpp"
#include "xgrad/xgrad.hpp"

namespace fashion_cnn {

namespace data = xgrad::data;
namespace nn = xgrad::nn;
namespace optim = xgrad::optim;

inline constexpr int kClasses = 10;
/// Position of the ReLU after the second (last) convolution in the Sequential: its output
/// [N, 64, 14, 14] is the last convolutional feature map (Grad-CAM's layer).
inline constexpr std::int64_t kLastConvRelu = 6;

/// Tutorial 07's network (see there): two conv-BatchNorm-ReLU-maxpool blocks (32 and 64
/// filters of 3x3) and a classifier 3136-128-10 with dropout. Input [N, 1, 28, 28], logits [N, 10].
inline std::shared_ptr<nn::Sequential> make_model(double dropout = 0.1) {
  auto conv = [](std::int64_t in, std::int64_t out) {
    return std::make_shared<nn::Conv2d>(nn::Conv2dOptions(in, out, {3}).padding(1).bias(false));
  };
  return std::make_shared<nn::Sequential>(
      conv(1, 32), std::make_shared<nn::BatchNorm2d>(32), std::make_shared<nn::ReLU>(),   // [B, 32, 28, 28]
      std::make_shared<nn::MaxPool2d>(nn::MaxPool2dOptions(2)),                           // [B, 32, 14, 14]
      conv(32, 64), std::make_shared<nn::BatchNorm2d>(64), std::make_shared<nn::ReLU>(),  // [B, 64, 14, 14]
      std::make_shared<nn::MaxPool2d>(nn::MaxPool2dOptions(2)),                           // [B, 64, 7, 7]
      std::make_shared<nn::Flatten>(),                                                    // [B, 3136]
      std::make_shared<nn::Linear>(64 * 7 * 7, 128), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::Dropout>(dropout), std::make_shared<nn::Linear>(128, kClasses));
}

/// Fashion-MNIST with pixels in [0, 1]; in smoke mode the first `smoke_train` / `smoke_test`
/// images only. images / labels: the test split as tensors [N, 1, 28, 28] float32 / [N] int64.
struct Data {
  std::shared_ptr<const data::Dataset> train, test;
  xgrad::Tensor test_images, test_labels;
};

inline Data load_data(const std::string& root, bool smoke, std::int64_t smoke_train = 256,
                      std::int64_t smoke_test = 128) {
  auto train = std::make_shared<data::FashionMNIST>(root, true, data::FashionMNISTOptions());  // no normalize()
  auto test = std::make_shared<data::FashionMNIST>(root, false, data::FashionMNISTOptions());
  Data d{train, test, test->images(), test->labels()};
  if (smoke) {
    std::vector<std::int64_t> tr(static_cast<std::size_t>(smoke_train)), te(static_cast<std::size_t>(smoke_test));
    std::iota(tr.begin(), tr.end(), 0);
    std::iota(te.begin(), te.end(), 0);
    d.train = std::make_shared<data::Subset>(train, tr);
    d.test = std::make_shared<data::Subset>(test, te);
    d.test_images = d.test_images.narrow(0, 0, smoke_test);
    d.test_labels = d.test_labels.narrow(0, 0, smoke_test);
  }
  return d;
}

/// Accuracy of `model` (eval mode, no graph) on x [N, 1, 28, 28] / y [N], in batches of 500.
/// The model is left in eval mode.
inline double accuracy(nn::Module& model, const xgrad::Tensor& x, const xgrad::Tensor& y) {
  xgrad::NoGradGuard no_grad;
  model.eval();
  std::int64_t correct = 0;
  const std::int64_t n = x.size(0);
  for (std::int64_t start = 0; start < n; start += 500) {
    const std::int64_t len = std::min<std::int64_t>(500, n - start);
    const std::vector<std::int64_t> pred = model(x.narrow(0, start, len)).argmax(1).to_vector<std::int64_t>();
    const std::vector<std::int64_t> truth = y.narrow(0, start, len).to_vector<std::int64_t>();
    for (std::size_t i = 0; i < truth.size(); ++i) correct += pred[i] == truth[i];
  }
  return n == 0 ? 0.0 : static_cast<double>(correct) / static_cast<double>(n);
}

struct TrainConfig {
  int epochs = 2;
  std::int64_t batch_size = 128;
  double max_lr = 5e-3, weight_decay = 1e-2;
  std::uint64_t seed = 0;
  std::string label = "epoch";  ///< progress-bar label
  /// When set, each batch's images are replaced by batch_fn(model, x, y) before the step
  /// (tutorial 11: adversarial training). The model is in train mode when it is called.
  std::function<xgrad::Tensor(nn::Module&, const xgrad::Tensor&, const xgrad::Tensor&)> batch_fn;
};

/// Tutorial 07's recipe without the augmentation (short runs do not need it): AdamW and a
/// one-cycle learning rate over all steps, cross-entropy. Prints one line per epoch (training
/// loss and accuracy on the batches as trained, test accuracy, time) and returns the final
/// test accuracy. The model is left in eval mode.
inline double train(nn::Module& model, const Data& d, const TrainConfig& cfg) {
  data::DataLoader loader(d.train, data::DataLoaderOptions(cfg.batch_size).shuffle(true).seed(cfg.seed));
  optim::AdamW optimizer(model.parameters(), optim::AdamWOptions(cfg.max_lr).weight_decay(cfg.weight_decay));
  optim::OneCycleLR scheduler(optimizer, optim::OneCycleLROptions(cfg.max_lr, cfg.epochs * loader.size()));
  nn::CrossEntropyLoss criterion;
  double test_acc = 0.0;
  for (int epoch = 0; epoch < cfg.epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    loader.set_epoch(epoch);
    model.train();
    tutorial::ProgressBar bar(loader.size(), fmt::format("{} {}/{}", cfg.label, epoch + 1, cfg.epochs));
    double loss_sum = 0.0;
    std::int64_t seen = 0, correct = 0, step = 0;
    for (const data::Batch& batch : loader) {
      const xgrad::Tensor x = cfg.batch_fn ? cfg.batch_fn(model, batch.data, batch.target) : batch.data;
      optimizer.zero_grad();
      const xgrad::Tensor logits = model(x);
      const xgrad::Tensor loss = criterion(logits, batch.target);
      loss.backward();
      optimizer.step();
      scheduler.step();
      const std::vector<std::int64_t> pred = logits.argmax(1).to_vector<std::int64_t>();
      const std::vector<std::int64_t> truth = batch.target.to_vector<std::int64_t>();
      for (std::size_t i = 0; i < truth.size(); ++i) correct += pred[i] == truth[i];
      loss_sum += loss.item<float>() * static_cast<double>(batch.size());
      seen += batch.size();
      bar.update(++step, loss_sum / static_cast<double>(seen));
    }
    bar.finish();
    test_acc = accuracy(model, d.test_images, d.test_labels);
    fmt::print("{} {}/{}: train loss {:.4f}, train accuracy {:.2f}%, test accuracy {:.2f}%, {:.1f}s\n", cfg.label,
               epoch + 1, cfg.epochs, loss_sum / static_cast<double>(seen),
               100.0 * static_cast<double>(correct) / static_cast<double>(seen), 100.0 * test_acc,
               tutorial::seconds_since(start));
    std::fflush(stdout);
  }
  model.eval();
  return test_acc;
}

/// RGB pixels (row-major, 3 bytes each) of a picture made of equal square tiles.
struct Canvas {
  int width, height;
  std::vector<std::uint8_t> rgb;
  Canvas(int w, int h) : width(w), height(h), rgb(static_cast<std::size_t>(w) * h * 3, 255) {}
  void set(int x, int y, std::uint8_t r, std::uint8_t g, std::uint8_t b) {
    const std::size_t i = (static_cast<std::size_t>(y) * width + x) * 3;
    rgb[i] = r;
    rgb[i + 1] = g;
    rgb[i + 2] = b;
  }
  void write(const std::string& path) const { tutorial::write_png_rgb(path, width, height, rgb); }
};

/// Draws a 28x28 map (row-major) enlarged `zoom` times at (left, top). gray: v in [0, 1] as
/// grey levels (black 0, white 1). Otherwise a diverging colour map scaled by `scale`
/// (values divided by it, clipped to [-1, 1]): white 0, red positive, blue negative.
inline void draw_map(Canvas& c, const float* map, int left, int top, int zoom, bool gray, float scale = 1.0f) {
  for (int y = 0; y < 28 * zoom; ++y)
    for (int x = 0; x < 28 * zoom; ++x) {
      const float v = map[(y / zoom) * 28 + x / zoom];
      if (gray) {
        const auto g = static_cast<std::uint8_t>(std::lround(255.0f * std::clamp(v, 0.0f, 1.0f)));
        c.set(left + x, top + y, g, g, g);
      } else {
        const float s = scale > 0.0f ? std::clamp(v / scale, -1.0f, 1.0f) : 0.0f;
        const auto fade = static_cast<std::uint8_t>(std::lround(255.0f * (1.0f - std::abs(s))));
        if (s >= 0.0f)
          c.set(left + x, top + y, 255, fade, fade);
        else
          c.set(left + x, top + y, fade, fade, 255);
      }
    }
}

/// Largest |value| of n floats.
inline float peak(const float* v, std::size_t n) {
  float p = 0.0f;
  for (std::size_t i = 0; i < n; ++i) p = std::max(p, std::abs(v[i]));
  return p;
}

}  // namespace fashion_cnn
