// Results are bit-identical at every thread count: products of uneven shapes (every transpose
// combination, batched, float32 and float64, forward and backward) and 200 training steps of
// tutorial 06's MLP with Adam, at 1, 2, 3 and 7 threads. CTest runs this file twice: with the
// environment as it is and with OPENBLAS_CORETYPE=Haswell, whose kernels round an element
// differently depending on the sub-problem it sits in (the AMD EPYC CI failure).
#include <cstring>

#include "test_util.hpp"

using namespace xgrad;

namespace {

constexpr int kThreadCounts[] = {1, 2, 3, 7};

struct ThreadCountGuard {
  int before = get_num_threads();
  ~ThreadCountGuard() { set_num_threads(before); }
};

// Bit patterns, so that -0.0 vs 0.0 and NaN payloads count too.
std::vector<std::uint64_t> bits(const Tensor& t) {
  const std::vector<double> v = t.detach().to(float64).to_vector<double>();
  std::vector<std::uint64_t> b(v.size());
  std::memcpy(b.data(), v.data(), v.size() * sizeof(double));
  return b;
}

std::size_t count_differences(const std::vector<std::uint64_t>& a, const std::vector<std::uint64_t>& b) {
  BOOST_REQUIRE_EQUAL(a.size(), b.size());
  std::size_t d = 0;
  for (std::size_t i = 0; i < a.size(); ++i) d += a[i] != b[i];
  return d;
}

// Runs f at every thread count and checks each result against the 1-thread one, bit for bit.
void check_same_at_every_thread_count(const std::string& what, const std::function<std::vector<Tensor>()>& f) {
  ThreadCountGuard guard;
  std::vector<std::vector<std::uint64_t>> ref;
  for (int threads : kThreadCounts) {
    set_num_threads(threads);
    const std::vector<Tensor> out = f();
    if (ref.empty()) {
      for (const Tensor& t : out) ref.push_back(bits(t));
      continue;
    }
    BOOST_REQUIRE_EQUAL(out.size(), ref.size());
    for (std::size_t i = 0; i < out.size(); ++i)
      BOOST_CHECK_MESSAGE(count_differences(bits(out[i]), ref[i]) == 0,
                          what << ": output " << i << " at " << threads << " threads differs from 1 thread in "
                               << count_differences(bits(out[i]), ref[i]) << " of " << ref[i].size() << " elements");
  }
}

Tensor randn_leaf(const Shape& s, Dtype d) { return randn(s, dtype(d)).requires_grad_(); }

}  // namespace

BOOST_AUTO_TEST_SUITE(determinism)

BOOST_AUTO_TEST_CASE(products_of_uneven_shapes) {
  BOOST_TEST_MESSAGE("OPENBLAS_CORETYPE=" << (std::getenv("OPENBLAS_CORETYPE") ? std::getenv("OPENBLAS_CORETYPE") : "")
                                          << ", BLAS core in use: " << blas_core());
  for (Dtype d : {float32, float64}) {
    manual_seed(21);
    // Large enough to be cut into blocks (and, for the tall one, into several), with edges
    // that are not multiples of any kernel tile.
    const std::vector<std::pair<Shape, Shape>> mm_shapes = {
        {{301, 150}, {150, 203}}, {{1000, 67}, {67, 333}}, {{37, 900}, {900, 1001}}, {{128, 256}, {256, 10}}};
    for (const auto& [sa, sb] : mm_shapes)
      for (bool ta : {false, true})
        for (bool tb : {false, true}) {
          const Tensor a = randn_leaf(ta ? Shape{sa[1], sa[0]} : sa, d);
          const Tensor b = randn_leaf(tb ? Shape{sb[1], sb[0]} : sb, d);
          const Tensor g = randn({sa[0], sb[1]}, dtype(d));
          check_same_at_every_thread_count(fmt::format("mm {}{} x {}{} {}", a.shape(), ta ? "^T" : "", b.shape(),
                                                       tb ? "^T" : "", d),
                                           [&] {
                                             a.set_grad(Tensor());
                                             b.set_grad(Tensor());
                                             Tensor c = mm(a, b, ta, tb);
                                             c.backward(g);
                                             return std::vector<Tensor>{c, a.grad(), b.grad()};
                                           });
        }
    // Batched and broadcast matmul, and linear (x W^T + b) on a 3-d input.
    const Tensor x = randn_leaf({5, 77, 130}, d), w = randn_leaf({130, 99}, d), y = randn_leaf({5, 130, 61}, d);
    check_same_at_every_thread_count(fmt::format("matmul batched {}", d), [&] {
      for (const Tensor* t : {&x, &w, &y}) t->set_grad(Tensor());
      Tensor c = (matmul(x, w).sum() + matmul(x, y).pow(2.0).sum());
      c.backward();
      return std::vector<Tensor>{c, x.grad(), w.grad(), y.grad()};
    });
    const Tensor lw = randn_leaf({333, 130}, d), lb = randn_leaf({333}, d);
    check_same_at_every_thread_count(fmt::format("linear {}", d), [&] {
      for (const Tensor* t : {&x, &lw, &lb}) t->set_grad(Tensor());
      Tensor c = nn::functional::linear(x, lw, lb).tanh().sum();
      c.backward();
      return std::vector<Tensor>{c, x.grad(), lw.grad(), lb.grad()};
    });
  }
}

BOOST_AUTO_TEST_CASE(training_200_steps_of_tutorial_06s_model) {
  // Tutorial 06's model and optimizer on synthetic data (8 fixed batches of 128).
  manual_seed(5);
  std::vector<Tensor> xs, ys;
  for (int i = 0; i < 8; ++i) {
    xs.push_back(rand({128, 784}));
    ys.push_back(randint(0, 10, {128}, dtype(int64)));
  }
  check_same_at_every_thread_count("200 Adam steps", [&] {
    manual_seed(6);
    nn::Sequential model(std::make_shared<nn::Linear>(784, 512), std::make_shared<nn::ReLU>(),
                         std::make_shared<nn::Linear>(512, 256), std::make_shared<nn::ReLU>(),
                         std::make_shared<nn::Linear>(256, 10));
    optim::Adam opt(model.parameters(), optim::AdamOptions(1e-3));
    std::vector<double> losses;
    for (int step = 0; step < 200; ++step) {
      opt.zero_grad();
      Tensor loss = nn::functional::cross_entropy(model.forward(xs[step % 8]), ys[step % 8]);
      loss.backward();
      opt.step();
      losses.push_back(loss.item<double>());
    }
    std::vector<Tensor> out{from_vector(losses)};
    for (const Tensor& p : model.parameters()) out.push_back(p);
    return out;
  });
}

BOOST_AUTO_TEST_SUITE_END()
