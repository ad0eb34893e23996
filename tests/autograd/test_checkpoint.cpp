// Activation checkpointing: gradients bit-identical to the plain run (MLP with dropout under
// the same random stream, several outputs, no input requiring grad, a double call),
// checkpoint_sequential equal to the plain run, the memory saved by 32-layer MLPs (activations
// and peak over the step), errors.
#include <functional>

#include "test_util.hpp"
#include "xgrad/autograd/checkpoint.hpp"
#include "xgrad/autograd/random_state.hpp"

using namespace xgrad;
namespace A = xgrad::autograd;
using xgrad::test::check_close;
using xgrad::test::heap_in_use;

namespace {

// Inverted dropout drawing its mask from the global generator (p = 0.3).
Tensor dropout(const Tensor& x, double p = 0.3) {
  Tensor keep = (rand(x.shape()) >= p).to(x.dtype());
  return x * keep / (1.0 - p);
}

struct Mlp {
  std::vector<Tensor> w, b;
  Mlp(int layers, std::int64_t width) {
    for (int i = 0; i < layers; ++i) {
      w.push_back((randn({width, width}) / std::sqrt(static_cast<double>(width))).requires_grad_(true));
      b.push_back((randn({width}) * 0.1).requires_grad_(true));
    }
  }
  bool gelu = false;  // GELU instead of ReLU (it saves its input too: two activations a layer)
  std::function<void(const Tensor&)> probe;  // memory_of_a_32_layer_mlp's sampler
  Tensor layer(std::size_t i, const Tensor& x, bool drop) const {
    if (probe) probe(x);
    const Tensor z = x.matmul(w[i]) + b[i];
    Tensor y = gelu ? nn::functional::gelu(z) : z.relu();
    return drop ? dropout(y) : y;
  }
  std::vector<std::function<Tensor(const Tensor&)>> layers(bool drop) const {
    std::vector<std::function<Tensor(const Tensor&)>> fs;
    for (std::size_t i = 0; i < w.size(); ++i) fs.push_back([this, i, drop](const Tensor& x) { return layer(i, x, drop); });
    return fs;
  }
  void zero_grad_in_place() {
    NoGradGuard ng;
    for (auto* v : {&w, &b})
      for (Tensor& t : *v)
        if (t.grad().defined()) t.grad().zero_();
  }
  void zero_grad() {
    for (auto* v : {&w, &b})
      for (Tensor& t : *v) t.set_grad(Tensor());
  }
  std::vector<std::vector<float>> grads() const {
    std::vector<std::vector<float>> g;
    for (auto* v : {&w, &b})
      for (const Tensor& t : *v) g.push_back(t.grad().to_vector<float>());
    return g;
  }
};

std::vector<float> values(const Tensor& t) { return t.detach().contiguous().to_vector<float>(); }

}  // namespace

BOOST_AUTO_TEST_SUITE(checkpoint)

BOOST_AUTO_TEST_CASE(mlp_with_dropout_bit_identical) {
  manual_seed(1);
  Mlp net(4, 16);
  Tensor x0 = randn({8, 16});
  auto block = [&](const std::vector<Tensor>& in) {
    Tensor h = in[0];
    for (std::size_t i = 0; i < 3; ++i) h = net.layer(i, h, /*drop=*/true);
    return h;
  };
  // The plain run from the same seed: checkpoint keeps the program's random stream.
  manual_seed(7);
  Tensor x = x0.clone().requires_grad_(true);
  Tensor plain = net.layer(3, block({x}), false);
  const std::uint64_t next_plain = random_u64();
  plain.sum().backward();
  auto g_plain = net.grads();
  auto gx_plain = values(x.grad());
  net.zero_grad();

  manual_seed(7);
  Tensor xc = x0.clone().requires_grad_(true);
  Tensor h = A::checkpoint(block, {xc});
  BOOST_CHECK_EQUAL(h.grad_fn_name(), "CheckpointBackward");
  Tensor out = net.layer(3, h, false);
  BOOST_CHECK(values(out) == values(plain));
  BOOST_CHECK_EQUAL(random_u64(), next_plain);  // the stream after forward is the plain run's
  rand({5});  // draws between forward and backward do not change the recomputation
  const std::uint64_t before_backward = get_rng_state()();
  out.sum().backward();
  BOOST_CHECK(net.grads() == g_plain);
  BOOST_CHECK(values(xc.grad()) == gx_plain);
  BOOST_CHECK_EQUAL(random_u64(), before_backward);  // backward restores the state it found
}

BOOST_AUTO_TEST_CASE(without_preserving_rng_state) {
  // Deterministic fn: preserve_rng_state = false changes nothing, and the generator is untouched.
  manual_seed(3);
  Mlp net(2, 8);
  Tensor x = randn({4, 8}).requires_grad_(true);
  auto fn = [&](const std::vector<Tensor>& in) { return net.layer(1, net.layer(0, in[0], false), false); };
  fn({x}).sum().backward();
  auto g_plain = net.grads();
  auto gx = values(x.grad());
  net.zero_grad();
  x.set_grad(Tensor());
  manual_seed(11);
  Tensor out = A::checkpoint(fn, {x}, /*preserve_rng_state=*/false);
  const std::uint64_t next = random_u64();
  manual_seed(11);
  BOOST_CHECK_EQUAL(next, random_u64());
  out.sum().backward();
  BOOST_CHECK(net.grads() == g_plain);
  BOOST_CHECK(values(x.grad()) == gx);
}

BOOST_AUTO_TEST_CASE(several_outputs_and_no_input_requiring_grad) {
  manual_seed(4);
  Tensor w = randn({3, 3}).requires_grad_(true);
  Tensor x = randn({2, 3});  // does not require grad: w still gets its gradient
  A::checkpoint([&](const std::vector<Tensor>& in) { return in[0].matmul(w).tanh(); }, {x}).sum().backward();
  Tensor gw = w.grad().clone();
  w.set_grad(Tensor());
  x.matmul(w).tanh().sum().backward();
  BOOST_CHECK(values(gw) == values(w.grad()));
  // Two outputs, one of them unused by the loss; two inputs.
  Tensor a = randn({3}).requires_grad_(true), b = randn({3}).requires_grad_(true);
  auto outs = A::checkpoint(
      [](const std::vector<Tensor>& in) {
        return std::vector<Tensor>{in[0] * in[1], (in[0] + in[1]).exp()};
      },
      {a, b});
  BOOST_REQUIRE_EQUAL(outs.size(), 2u);
  (outs[0] * 2.0).sum().backward();
  check_close(a.grad(), 2.0 * b, 0.0);
  check_close(b.grad(), 2.0 * a, 0.0);
  // Double call: the same function checkpointed twice. On different inputs the gradients are
  // bit-identical to the plain run; on the same input they agree to rounding only, since the
  // plain graph and the checkpointed one sum the contributions to v in different orders.
  auto sq = [](const std::vector<Tensor>& in) { return (in[0] * in[0]).sin(); };
  Tensor p = randn({3}).requires_grad_(true), q = randn({3}).requires_grad_(true);
  (A::checkpoint(sq, {p}) * A::checkpoint(sq, {q})).sum().backward();
  Tensor gp = p.grad().clone(), gq = q.grad().clone();
  p.set_grad(Tensor());
  q.set_grad(Tensor());
  ((p * p).sin() * (q * q).sin()).sum().backward();
  BOOST_CHECK(values(gp) == values(p.grad()));
  BOOST_CHECK(values(gq) == values(q.grad()));
  Tensor v = randn({3}).requires_grad_(true);
  (A::checkpoint(sq, {v}) + A::checkpoint(sq, {v * 3.0})).sum().backward();
  Tensor gv = v.grad().clone();
  v.set_grad(Tensor());
  Tensor v3 = v * 3.0;
  ((v * v).sin() + (v3 * v3).sin()).sum().backward();
  check_close(gv, v.grad(), 1e-5);
  // No grad mode: just fn.
  {
    NoGradGuard ng;
    Tensor y = A::checkpoint(sq, {v});
    BOOST_CHECK(!y.requires_grad());
  }
}

BOOST_AUTO_TEST_CASE(sequential_equals_plain) {
  manual_seed(5);
  Mlp net(8, 16);
  Tensor x0 = randn({4, 16});
  auto fs = net.layers(false);
  Tensor x = x0.clone().requires_grad_(true);
  Tensor h = x;
  for (auto& f : fs) h = f(h);
  h.sum().backward();
  auto g_plain = net.grads();
  auto gx = values(x.grad());
  const auto out_plain = values(h);
  for (std::int64_t segments : {1, 3, 4, 8}) {
    net.zero_grad();
    Tensor xc = x0.clone().requires_grad_(true);
    Tensor out = A::checkpoint_sequential(fs, segments, xc);
    BOOST_CHECK(values(out) == out_plain);
    out.sum().backward();
    BOOST_CHECK_MESSAGE(net.grads() == g_plain, "segments = " << segments);
    BOOST_CHECK(values(xc.grad()) == gx);
  }
  // With dropout: the plain run from the same seed (checkpoint keeps the random stream).
  auto fd = net.layers(true);
  net.zero_grad();
  manual_seed(21);
  Tensor xd = x0.clone().requires_grad_(true);
  Tensor hd = xd;
  for (std::size_t i = 0; i < fd.size(); ++i) hd = fd[i](hd);
  hd.sum().backward();
  auto gd_plain = net.grads();
  auto gxd = values(xd.grad());
  net.zero_grad();
  manual_seed(21);
  Tensor xdc = x0.clone().requires_grad_(true);
  Tensor outd = A::checkpoint_sequential(fd, 4, xdc);
  BOOST_CHECK(values(outd) == values(hd));
  outd.sum().backward();
  BOOST_CHECK(net.grads() == gd_plain);
  BOOST_CHECK(values(xdc.grad()) == gxd);
  XGRAD_CHECK_THROW_MSG(A::checkpoint_sequential(fs, 0, x0),
                        "checkpoint_sequential: segments must be between 1 and the number of functions (8), got 0");
  XGRAD_CHECK_THROW_MSG(A::checkpoint_sequential(fs, 9, x0), "got 9");
  XGRAD_CHECK_THROW_MSG(A::checkpoint([](const std::vector<Tensor>&) { return std::vector<Tensor>{}; }, {x0}),
                        "checkpoint: the function returned no tensor");
  XGRAD_CHECK_THROW_MSG(A::checkpoint([](const std::vector<Tensor>& in) { return in[0]; }, {Tensor()}),
                        "checkpoint: input 0 is undefined");
}

BOOST_AUTO_TEST_CASE(memory_of_a_32_layer_mlp) {
  // Heap bytes in use (test_util's heap_in_use: mallinfo2, the sanitizer's counter under
  // ASan): growth at the end of forward (the saved activations) and
  // the peak growth over the whole step (forward, loss, backward), sampled before every
  // layer's forward (recomputations included) and by a hook on every layer's input during
  // backward. xgrad's allocator has no peak or live-bytes counter; its cache is disabled so
  // that freed buffers are really returned, one thread keeps allocations in the main arena,
  // and the parameter gradients are allocated before and zeroed in place, so they are not
  // growth. Width 256, batch 256: one activation is 256 KiB, as large as a weight gradient.
  // Activations kept (plain vs checkpoint_sequential at 4 segments: 3 boundaries + at most one
  // segment of 8 layers recomputed at a time):
  // - Linear + ReLU: one a layer (ReLU's output, also the next product's saved input): 32
  //   against 3 + 8, i.e. 2.9x;
  // - Linear + GELU: two a layer (GELU saves its input): 64 against 3 + 16, 3.4x;
  // - Linear + ReLU + dropout: about three a layer (output, mask, dropout output): 96 against
  //   3 + 24, 3.6x.
  manual_seed(6);
  const std::size_t limit = cache_limit();
  const int threads = get_num_threads();
  set_cache_limit(0);
  set_num_threads(1);
  Mlp net(32, 256);
  Tensor x = randn({256, 256});
  std::size_t peak = 0;
  net.probe = [&](const Tensor& in) {
    peak = std::max(peak, heap_in_use());
    if (in.requires_grad() && grad_mode_enabled())
      in.register_hook([&](const Tensor&) {
        peak = std::max(peak, heap_in_use());
        return Tensor();
      });
  };
  struct Use {
    std::size_t forward, peak;
  };
  auto measure = [&](bool ckpt, bool drop, bool gelu) {
    net.gelu = gelu;
    auto fs = net.layers(drop);
    const Tensor xin = x.detach().requires_grad_(true);  // so that every layer input gets a hook
    const std::size_t before = heap_in_use();
    peak = before;
    Tensor out;
    if (ckpt) {
      out = A::checkpoint_sequential(fs, 4, xin);
    } else {
      out = xin;
      for (auto& f : fs) out = f(out);
    }
    peak = std::max(peak, heap_in_use());
    const std::size_t forward = heap_in_use() - before;
    out.sum().backward();
    return Use{forward, peak - before};
  };
  measure(false, false, false);  // allocates the parameter gradients
  auto check = [&](const char* what, bool drop, bool gelu, double min_forward, double min_peak) {
    net.zero_grad_in_place();
    const Use plain = measure(false, drop, gelu);
    const auto g_plain = net.grads();
    net.zero_grad_in_place();
    const Use ckpt = measure(true, drop, gelu);
    if (!drop) BOOST_CHECK(net.grads() == g_plain);
    const double rf = static_cast<double>(plain.forward) / static_cast<double>(ckpt.forward);
    const double rp = static_cast<double>(plain.peak) / static_cast<double>(ckpt.peak);
    BOOST_TEST_MESSAGE(what << ": end of forward plain " << plain.forward << " bytes, checkpointed " << ckpt.forward
                            << " (" << rf << "x); peak plain " << plain.peak << ", checkpointed " << ckpt.peak << " ("
                            << rp << "x)");
    BOOST_CHECK_MESSAGE(rf >= min_forward, what << ": activations only " << rf << "x smaller");
    BOOST_CHECK_MESSAGE(rp >= min_peak, what << ": peak only " << rp << "x smaller");
  };
  check("Linear+ReLU", false, false, 2.7, 2.5);
  check("Linear+GELU", false, true, 3.0, 3.0);
  check("Linear+ReLU+dropout", true, false, 3.0, 3.0);
  net.probe = nullptr;
  set_num_threads(threads);
  set_cache_limit(limit);
}

BOOST_AUTO_TEST_SUITE_END()
