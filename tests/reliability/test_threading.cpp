// Threading (issue 19): the cases the ThreadSanitizer stage runs, besides the threading tests
// of the other suites (label "threading" in tests/CMakeLists.txt). Parallel kernels through
// TBB tasks, the DataLoader's background prefetch, two models trained on two std::threads at
// once, and concurrent backward through shared leaves. Each case also checks values (bit for
// bit against one thread, or against running the same work one after the other), so that it
// fails without a sanitizer too. Sizes: above the grain (kernel::kGrain elements), so that the
// loops really run as TBB tasks, and small enough for a few seconds under TSan at -O1.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <numeric>
#include <thread>
#include <vector>

#include "test_util.hpp"
#include "xgrad/data.hpp"

using namespace xgrad;
namespace F = xgrad::nn::functional;
using xgrad::test::ThreadGuard;

namespace {

// Bit patterns (through float64, which holds every float32 exactly), so that -0.0 vs 0.0 count.
std::vector<std::uint64_t> bits(const Tensor& t) {
  const std::vector<double> v = t.detach().to(float64).to_vector<double>();
  std::vector<std::uint64_t> b(v.size());
  std::memcpy(b.data(), v.data(), v.size() * sizeof(double));
  return b;
}

// Elements in which a and b differ (shapes must match).
std::size_t count_differences(const Tensor& a, const Tensor& b) {
  BOOST_REQUIRE_MESSAGE(a.shape() == b.shape(), "shapes differ: " << to_string(a) << " vs " << to_string(b));
  const auto ba = bits(a), bb = bits(b);
  std::size_t d = 0;
  for (std::size_t i = 0; i < ba.size(); ++i) d += ba[i] != bb[i];
  return d;
}

void check_bit_identical(const std::vector<Tensor>& got, const std::vector<Tensor>& want, const std::string& what) {
  BOOST_REQUIRE_EQUAL(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    const std::size_t d = count_differences(got[i], want[i]);
    BOOST_CHECK_MESSAGE(d == 0, what << ": tensor " << i << " differs in " << d << " of " << want[i].numel()
                                     << " elements");
  }
}

// Example i: a [2, 8, 8] image whose every pixel is i, label i. get() runs on TBB tasks.
class Images : public data::Dataset {
 public:
  explicit Images(std::int64_t n) : n_(n) {}
  std::int64_t size() const override { return n_; }

 protected:
  data::Example get_unchecked(std::int64_t i) const override {
    return {full({2, 8, 8}, static_cast<double>(i)), scalar_tensor(static_cast<double>(i), dtype(int64))};
  }

 private:
  std::int64_t n_;
};

// Fixed data of the two training tasks (drawn once, on the main thread).
struct Task {
  std::vector<Tensor> x, y;
};

Task make_task(const Shape& x_shape, std::int64_t classes, int batches, std::uint64_t seed) {
  manual_seed(seed);
  Task t;
  for (int i = 0; i < batches; ++i) {
    t.x.push_back(randn(x_shape));
    t.y.push_back(randint(0, classes, {x_shape[0]}));
  }
  return t;
}

// Hidden layer [128, 512]: 65536 elements per activation, twice the grain.
std::shared_ptr<nn::Sequential> make_mlp() {
  manual_seed(11);
  return std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(64, 512), std::make_shared<nn::ReLU>(),
                                          std::make_shared<nn::Linear>(512, 10));
}

// Convolution output [32, 8, 16, 16]: 65536 elements.
std::shared_ptr<nn::Sequential> make_cnn() {
  manual_seed(12);
  return std::make_shared<nn::Sequential>(std::make_shared<nn::Conv2d>(nn::Conv2dOptions(3, 8, {3, 3}).padding(1)),
                                          std::make_shared<nn::ReLU>(), std::make_shared<nn::Flatten>(),
                                          std::make_shared<nn::Linear>(8 * 16 * 16, 10));
}

constexpr int kSteps = 8;

// kSteps steps of `opt` on `task`; returns the losses followed by the parameters.
std::vector<Tensor> train(nn::Module& model, optim::Optimizer& opt, const Task& task) {
  std::vector<double> losses;
  for (int step = 0; step < kSteps; ++step) {
    const std::size_t b = static_cast<std::size_t>(step) % task.x.size();
    opt.zero_grad();
    Tensor loss = F::cross_entropy(model.forward(task.x[b]), task.y[b]);
    loss.backward();
    opt.step();
    losses.push_back(loss.item<double>());
  }
  std::vector<Tensor> out{from_vector(losses)};
  for (const Tensor& p : model.parameters()) out.push_back(p.detach().clone());
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(threading)

BOOST_AUTO_TEST_CASE(parallel_kernels_match_one_thread) {
  // Element-wise math, full and per-dim reductions (chunked_reduce above kReduceChunk), a
  // product, softmax and conv2d, forward and backward, at 2 threads against 1, bit for bit.
  ThreadGuard guard;
  manual_seed(3);
  const Tensor x = randn({400, 300}).requires_grad_();  // 120000 elements
  const Tensor y = randn({400, 300}).requires_grad_();
  const Tensor a = randn({300, 200}).requires_grad_();
  const Tensor b = randn({200, 150}).requires_grad_();
  const Tensor img = randn({8, 3, 32, 32}).requires_grad_();  // conv2d output [8, 8, 32, 32]
  const Tensor w = randn({8, 3, 3, 3}).requires_grad_();
  const Tensor bias = randn({8}).requires_grad_();
  const std::vector<Tensor> leaves{x, y, a, b, img, w, bias};
  auto run = [&] {
    for (const Tensor& t : leaves) t.set_grad(Tensor());
    const Tensor e = (x * y + x.exp() * 0.25).sigmoid() - y.tanh();
    const Tensor s = x.sum(), m = y.mean(), n = e.norm();
    const Tensor rows = e.sum({1});
    const Tensor p = a.mm(b);
    const Tensor sm = F::softmax(x, 1);
    const Tensor c = F::conv2d(img, w, bias, {1}, 1);
    const Tensor loss = e.sum() + s * m + n + rows.pow(2.0).mean() + p.tanh().sum() + (sm * y).sum() + c.relu().mean();
    loss.backward();
    std::vector<Tensor> out{e, s, m, n, rows, p, sm, c, loss};
    for (const Tensor& t : leaves) out.push_back(t.grad());
    return out;
  };
  set_num_threads(1);
  const std::vector<Tensor> one = run();
  set_num_threads(2);
  check_bit_identical(run(), one, "2 threads vs 1");
}

BOOST_AUTO_TEST_CASE(dataloader_prefetch_sees_every_example_once_per_epoch) {
  // get() and the transform run in parallel tasks, the next batch is collated in a background
  // task while the caller computes on the current one; a third epoch is left after one batch
  // while a prefetch is pending.
  ThreadGuard guard;
  set_num_threads(2);
  constexpr std::int64_t n = 100, batch = 16;
  auto ds = std::make_shared<Images>(n);
  data::DataLoader loader(ds, data::DataLoaderOptions(batch).shuffle().seed(4).prefetch().parallel().transform(
                                  std::make_shared<data::RandomHorizontalFlip>(0.5)));
  for (int epoch = 0; epoch < 2; ++epoch) {
    BOOST_TEST_CONTEXT("epoch " << epoch) {
      std::vector<std::int64_t> seen;
      std::int64_t batches = 0;
      for (const data::Batch& bt : loader) {
        const std::int64_t rows = bt.size();
        BOOST_REQUIRE(bt.data.shape() == Shape({rows, 2, 8, 8}));
        // Each image is constant (a flip keeps it), so its pixel sum is 128 times its index.
        const auto sums = bt.data.sum({1, 2, 3}).to_vector<float>();
        const auto labels = bt.target.to_vector<std::int64_t>();
        for (std::int64_t r = 0; r < rows; ++r) {
          const std::int64_t idx = bt.indices[static_cast<std::size_t>(r)];
          BOOST_CHECK_EQUAL(labels[static_cast<std::size_t>(r)], idx);
          BOOST_CHECK_EQUAL(sums[static_cast<std::size_t>(r)], static_cast<float>(128 * idx));
        }
        seen.insert(seen.end(), bt.indices.begin(), bt.indices.end());
        ++batches;
      }
      BOOST_CHECK_EQUAL(batches, (n + batch - 1) / batch);
      std::sort(seen.begin(), seen.end());
      std::vector<std::int64_t> all(static_cast<std::size_t>(n));
      std::iota(all.begin(), all.end(), std::int64_t{0});
      BOOST_CHECK(seen == all);
    }
  }
  auto it = loader.begin();
  BOOST_CHECK_EQUAL((*it).size(), batch);
}

BOOST_AUTO_TEST_CASE(two_models_trained_on_two_threads_match_one_after_the_other) {
  // An MLP with Adam and a CNN with SGD + momentum, each with its own data and optimizer,
  // trained at the same time on two std::threads (whose kernels share the TBB pool), then the
  // same two models trained one after the other: losses and parameters bit for bit equal.
  ThreadGuard guard;
  set_num_threads(2);
  const Task mlp_task = make_task({128, 64}, 10, 4, 21);
  const Task cnn_task = make_task({32, 3, 16, 16}, 10, 4, 22);

  auto mlp_a = make_mlp();
  auto cnn_a = make_cnn();
  optim::Adam adam_a(mlp_a->parameters(), optim::AdamOptions(1e-3));
  optim::SGD sgd_a(cnn_a->parameters(), optim::SGDOptions(0.05).momentum(0.9));
  std::vector<Tensor> mlp_together, cnn_together;
  std::thread t1([&] { mlp_together = train(*mlp_a, adam_a, mlp_task); });
  std::thread t2([&] { cnn_together = train(*cnn_a, sgd_a, cnn_task); });
  t1.join();
  t2.join();

  auto mlp_b = make_mlp();
  auto cnn_b = make_cnn();
  optim::Adam adam_b(mlp_b->parameters(), optim::AdamOptions(1e-3));
  optim::SGD sgd_b(cnn_b->parameters(), optim::SGDOptions(0.05).momentum(0.9));
  const std::vector<Tensor> mlp_alone = train(*mlp_b, adam_b, mlp_task);
  const std::vector<Tensor> cnn_alone = train(*cnn_b, sgd_b, cnn_task);

  check_bit_identical(mlp_together, mlp_alone, "MLP (losses, then parameters)");
  check_bit_identical(cnn_together, cnn_alone, "CNN (losses, then parameters)");
  // The runs did train: the first loss differs from the last.
  const auto losses = mlp_alone[0].to_vector<double>();
  BOOST_CHECK_NE(losses.front(), losses.back());
}

BOOST_AUTO_TEST_CASE(concurrent_backward_accumulates_into_shared_leaves) {
  // Two threads each build a graph from the same leaves W [256, 256] and b [256] and run
  // backward kRepeats times, so that the two threads' accumulations into W.grad (65536
  // elements: a parallel kernel) overlap. Every value is a small integer (inputs, W, b, the
  // gradients below and all their partial sums stay far below 2^53), so float64 addition is
  // exact and the order of the two threads' += cannot change the result: W.grad must equal
  // kRepeats (g1 + g2) exactly, with g_t the gradient of thread t's loss alone.
  //   loss_t = sum(relu(X_t W + b) * c_t) + sum(W * W)
  //   dW = X_t^T (c_t [X_t W + b > 0]) + 2 W,  db = sum over rows of c_t [X_t W + b > 0]
  ThreadGuard guard;
  set_num_threads(2);
  constexpr int kRepeats = 12;
  manual_seed(31);
  const Tensor w = randint(-3, 4, {256, 256}).to(float64).requires_grad_();
  const Tensor b = randint(-3, 4, {256}).to(float64).requires_grad_();
  const Tensor x1 = randint(-2, 3, {4, 256}).to(float64), x2 = randint(-2, 3, {6, 256}).to(float64);
  auto loss_of = [&](const Tensor& x, double c) { return ((x.mm(w) + b).relu() * c).sum() + (w * w).sum(); };

  auto single = [&](const Tensor& x, double c) {
    w.set_grad(Tensor());
    b.set_grad(Tensor());
    loss_of(x, c).backward();
    return std::vector<Tensor>{w.grad().clone(), b.grad().clone()};
  };
  const std::vector<Tensor> g1 = single(x1, 2.0), g2 = single(x2, -3.0);

  w.set_grad(Tensor());
  b.set_grad(Tensor());
  auto work = [&](const Tensor& x, double c) {
    for (int r = 0; r < kRepeats; ++r) loss_of(x, c).backward();
  };
  std::thread t1(work, x1, 2.0), t2(work, x2, -3.0);
  t1.join();
  t2.join();
  NoGradGuard no_grad;
  check_bit_identical({w.grad(), b.grad()}, {(g1[0] + g2[0]) * double{kRepeats}, (g1[1] + g2[1]) * double{kRepeats}},
                      "W.grad and b.grad after concurrent backward");
}

BOOST_AUTO_TEST_SUITE_END()
