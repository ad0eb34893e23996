// Endurance: 10,000 training steps of a small MLP and 2,000 of a small CNN and of a small
// LSTM, each on a fixed synthetic task. After a warm-up the process must stop growing:
// resident memory (RSS), heap bytes in use, the buffer cache's bytes (memory.hpp) and the
// size of one step's graph stay flat, and every node of an early step's graph is freed. The
// loss must fall, so that the steps do real work.
//
// xgrad has no live-node counter, so live nodes are checked indirectly: weak_ptrs to every
// node of step 10's graph must all have expired at the end, the graph reachable from the
// loss has the same size at the last step as at step 10 (a graph chained across steps, e.g.
// a hidden state that is not detached, would grow), and the heap does not grow (a leaked
// node leaks its saved tensors too).
//
// Under AddressSanitizer the step counts stay, but RSS is only reported, not checked: ASan
// holds freed memory in its quarantine (256 MiB by default) and so grows RSS for a long
// time after the warm-up. The heap is then read from ASan's own allocator
// (__sanitizer_get_current_allocated_bytes, bytes in use excluding the quarantine), and the
// buffer cache is off (cache_limit() is 0 under ASan), so cached_bytes() stays 0.
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <functional>
#include <memory>
#include <unordered_set>
#include <vector>

#include "test_util.hpp"

using namespace xgrad;
using xgrad::test::heap_in_use;
namespace F = xgrad::nn::functional;

namespace {

// Bounds on growth from the warm-up snapshot (step 500) to the end and to the largest of the
// snapshots taken every 250 steps after it. Measured in Release on the 2-core machine: RSS
// grew by 4 to 16 KiB (pages first touched late, e.g. by the stack), heap in use by at most
// 0.5 KiB (peak) and cached bytes by 0 for each of the three models. The bounds leave room
// for allocator noise (glibc arenas, TBB's per-thread state) yet catch a leak of 44 bytes per
// step (heap: 64 KiB over the 1,500 steps after the CNN's and LSTM's warm-up; 7 bytes per
// step for the MLP) or of one 256-byte block per MLP step (RSS: 2.3 MiB over 9,500 steps).
constexpr std::size_t kRssBound = std::size_t{2} << 20;    // 2 MiB
constexpr std::size_t kHeapBound = std::size_t{64} << 10;  // 64 KiB

std::size_t rss_bytes() {
  long pages = 0, resident = 0;
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  const int n = std::fscanf(f, "%ld %ld", &pages, &resident);
  std::fclose(f);
  return n == 2 ? static_cast<std::size_t>(resident) * static_cast<std::size_t>(sysconf(_SC_PAGESIZE)) : 0;
}

struct Snapshot {
  std::size_t rss = 0, heap = 0, cached = 0;
};

Snapshot snapshot() { return {rss_bytes(), heap_in_use(), cached_bytes()}; }

double kib(std::size_t b) { return static_cast<double>(b) / 1024.0; }
double grown_kib(std::size_t from, std::size_t to) {
  return (static_cast<double>(to) - static_cast<double>(from)) / 1024.0;
}

// The nodes reachable from root (each once).
std::vector<std::shared_ptr<Node>> graph_nodes(const std::shared_ptr<Node>& root) {
  std::vector<std::shared_ptr<Node>> out;
  std::unordered_set<const Node*> seen;
  std::vector<std::shared_ptr<Node>> todo{root};
  while (!todo.empty()) {
    std::shared_ptr<Node> n = std::move(todo.back());
    todo.pop_back();
    if (!n || !seen.insert(n.get()).second) continue;
    for (const Edge& e : n->next_edges) todo.push_back(e.fn);
    out.push_back(std::move(n));
  }
  return out;
}

struct Endurance {
  const char* name;
  int steps;
  int warmup;  // snapshot after this many steps
  // One training step (zero_grad, forward, backward, optimizer step); returns the loss.
  std::function<Tensor(int)> step;
};

void endure(const Endurance& e) {
  const auto start = std::chrono::steady_clock::now();
  constexpr int kProbeStep = 10;  // the step whose graph is watched
  std::vector<std::weak_ptr<Node>> probe;
  std::size_t probe_size = 0, last_size = 0;
  double first_loss = 0.0, last_loss = 0.0;
  constexpr int kLossWindow = 100;
  Snapshot warm, peak;
  for (int i = 0; i < e.steps; ++i) {
    {
      Tensor loss = e.step(i);
      const double l = loss.item<float>();
      BOOST_REQUIRE_MESSAGE(std::isfinite(l), e.name << ": loss " << l << " at step " << i);
      if (i < kLossWindow) first_loss += l / kLossWindow;
      if (i >= e.steps - kLossWindow) last_loss += l / kLossWindow;
      if (i == kProbeStep || i == e.steps - 1) {
        BOOST_REQUIRE(loss.grad_fn());
        const std::vector<std::shared_ptr<Node>> nodes = graph_nodes(loss.grad_fn());
        (i == kProbeStep ? probe_size : last_size) = nodes.size();
        if (i == kProbeStep)
          for (const auto& n : nodes)
            if (n->name() != "AccumulateGrad") probe.push_back(n);  // the leaves keep theirs
      }
    }  // the loss and with it this step's graph die here
    if (i + 1 == e.warmup) warm = peak = snapshot();
    if (i + 1 > e.warmup && (i + 1) % 250 == 0) {
      const Snapshot s = snapshot();
      peak = {std::max(peak.rss, s.rss), std::max(peak.heap, s.heap), std::max(peak.cached, s.cached)};
    }
  }
  const Snapshot end = snapshot();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  BOOST_TEST_MESSAGE(e.name << ": " << e.steps << " steps in " << seconds << " s; loss " << first_loss << " -> "
                            << last_loss << "; graph " << probe_size << " nodes at step " << kProbeStep << ", "
                            << last_size << " at the last step");
  BOOST_TEST_MESSAGE(e.name << ": after warm-up (step " << e.warmup << ") / end / peak: RSS " << kib(warm.rss)
                            << " / " << kib(end.rss) << " / " << kib(peak.rss) << " KiB (grown "
                            << grown_kib(warm.rss, end.rss) << "); heap " << kib(warm.heap) << " / "
                            << kib(end.heap) << " / " << kib(peak.heap) << " KiB (grown "
                            << grown_kib(warm.heap, end.heap) << "); cached " << kib(warm.cached) << " / "
                            << kib(end.cached) << " / " << kib(peak.cached) << " KiB");

  BOOST_CHECK_MESSAGE(last_loss < 0.5 * first_loss,
                      e.name << ": the loss did not halve: " << first_loss << " -> " << last_loss);
  BOOST_CHECK_EQUAL(last_size, probe_size);
  std::size_t alive = 0;
  for (const auto& w : probe) alive += !w.expired();
  BOOST_CHECK_MESSAGE(alive == 0, e.name << ": " << alive << " of " << probe.size() << " nodes of step "
                                         << kProbeStep << "'s graph are still alive");
  BOOST_CHECK_MESSAGE(peak.heap <= warm.heap + kHeapBound && end.heap <= warm.heap + kHeapBound,
                      e.name << ": heap in use grew from " << kib(warm.heap) << " KiB to " << kib(end.heap)
                             << " KiB (peak " << kib(peak.heap) << ")");
  // The cache holds the same size classes every step: it must not gain a buffer after the
  // warm-up.
  BOOST_CHECK_MESSAGE(peak.cached <= warm.cached && end.cached <= warm.cached,
                      e.name << ": cached bytes grew from " << warm.cached << " to " << end.cached << " (peak "
                             << peak.cached << ")");
  BOOST_CHECK_LE(end.cached, cache_limit());
#ifndef XGRAD_TEST_ASAN
  BOOST_CHECK_MESSAGE(peak.rss <= warm.rss + kRssBound && end.rss <= warm.rss + kRssBound,
                      e.name << ": RSS grew from " << kib(warm.rss) << " KiB to " << kib(end.rss) << " KiB (peak "
                             << kib(peak.rss) << ")");
#endif
}

}  // namespace

BOOST_AUTO_TEST_SUITE(endurance)

// 16-32-4 MLP, Adam, cross-entropy on labels from a random linear teacher; batches of 32
// cycled over 256 fixed samples.
BOOST_AUTO_TEST_CASE(mlp_10000_steps) {
  manual_seed(19);
  const Tensor x = randn({256, 16});
  const Tensor y = x.matmul(randn({16, 4})).argmax(1);
  auto model = std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(16, 32), std::make_shared<nn::ReLU>(),
                                                std::make_shared<nn::Linear>(32, 4));
  optim::Adam opt(model->parameters(), optim::AdamOptions(1e-2));
  endure({"MLP", 10000, 500, [&](int i) {
            const std::int64_t at = (i % 8) * 32;
            opt.zero_grad();
            Tensor loss = F::cross_entropy((*model)(x.narrow(0, at, 32)), y.narrow(0, at, 32));
            loss.backward();
            opt.step();
            return loss;
          }});
}

// Conv2d 1->4 (3x3, padding 1) on 8x8 images, ReLU, 2x2 max-pool, Linear 64->2; SGD with
// momentum; label: is the top half of the image brighter than the bottom half. Batches of 64,
// so that the convolution's buffers (64 KiB and more) go through the buffer cache.
BOOST_AUTO_TEST_CASE(cnn_2000_steps) {
  manual_seed(20);
  const Tensor x = randn({256, 1, 8, 8});
  const Tensor y = (x.narrow(2, 0, 4).sum({1, 2, 3}) > x.narrow(2, 4, 4).sum({1, 2, 3})).to(Dtype::int64);
  auto model = std::make_shared<nn::Sequential>(
      std::make_shared<nn::Conv2d>(nn::Conv2dOptions(1, 4, {3}).padding(1)), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::MaxPool2d>(2), std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(64, 2));
  optim::SGD opt(model->parameters(), optim::SGDOptions(2e-2).momentum(0.9));
  endure({"CNN", 2000, 500, [&](int i) {
            const std::int64_t at = (i % 4) * 64;
            opt.zero_grad();
            Tensor loss = F::cross_entropy((*model)(x.narrow(0, at, 64)), y.narrow(0, at, 64));
            loss.backward();
            opt.step();
            return loss;
          }});
}

// LSTM(2 -> 8) over sequences of length 5 (time-major), Linear 8->1 on the last output;
// target: the mean over time of the first feature; MSE, Adam. Batches of 32 of 256 fixed
// sequences.
BOOST_AUTO_TEST_CASE(lstm_2000_steps) {
  manual_seed(21);
  const Tensor x = randn({5, 256, 2});
  const Tensor y = x.select(2, 0).mean({0});
  auto lstm = std::make_shared<nn::LSTM>(2, 8);
  auto head = std::make_shared<nn::Linear>(8, 1);
  std::vector<Tensor> params = lstm->parameters();
  for (const Tensor& p : head->parameters()) params.push_back(p);
  optim::Adam opt(params, optim::AdamOptions(1e-2));
  endure({"LSTM", 2000, 500, [&](int i) {
            const std::int64_t at = (i % 8) * 32;
            opt.zero_grad();
            const auto [out, state] = lstm->forward(x.narrow(1, at, 32));
            Tensor loss = F::mse_loss((*head)(out.select(0, 4)).squeeze(1), y.narrow(0, at, 32));
            loss.backward();
            opt.step();
            return loss;
          }});
}

BOOST_AUTO_TEST_SUITE_END()
