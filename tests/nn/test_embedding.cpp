// embedding / Embedding and embedding_bag / EmbeddingBag (embedding.hpp): values and gradients
// by hand, gradcheck and gradgradcheck, max_norm, scale_grad_by_freq, padding_idx, the
// modules, determinism across thread counts and the error messages. Layout variants:
// test_op_db_embedding.cpp.
#include <cmath>
#include <limits>

#include "test_util.hpp"
#include "xgrad/nn/embedding.hpp"

using namespace xgrad;
using xgrad::test::ThreadGuard;
using namespace xgrad::nn;
namespace F = xgrad::nn::functional;
using xgrad::test::check_close;
using xgrad::test::check_gradcheck;
using xgrad::test::check_gradgradcheck;
using xgrad::test::check_values;
using xgrad::test::rand64;

namespace {

Tensor ids(std::vector<std::int64_t> v, Shape s = {}) {
  if (s.empty()) s = {static_cast<std::int64_t>(v.size())};
  return from_vector<std::int64_t>(v, s);
}

bool bit_identical(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == float32 && b.dtype() == float32 &&
         a.contiguous().to_vector<float>() == b.contiguous().to_vector<float>();
}

Tensor w32() { return tensor({{1., 2.}, {3., 4.}, {5., 6.}}, dtype(float64)); }

}  // namespace

BOOST_AUTO_TEST_SUITE(embedding)

// ---- embedding ------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(embedding_values_by_hand) {
  const Tensor w = w32();
  check_values(F::embedding(ids({0, 2, 0}), w), {3, 2}, {1, 2, 5, 6, 1, 2});
  check_values(F::embedding(ids({2, 1, 0, 2}, {2, 2}), w), {2, 2, 2}, {5, 6, 3, 4, 1, 2, 5, 6});
  check_values(F::embedding(scalar_tensor(1, dtype(int64)), w), {2}, {3, 4});
  check_values(F::embedding(tensor({2, 0}, dtype(int32)), w), {2, 2}, {5, 6, 1, 2});
  check_values(F::embedding(ids({}, {0}), w), {0, 2}, {});
  check_values(F::embedding(ids({}, {2, 0}), w), {2, 0, 2}, {});
  // A transposed (non-contiguous) index tensor and weight.
  const Tensor wt = tensor({{1., 3., 5.}, {2., 4., 6.}}, dtype(float64)).t();
  check_values(F::embedding(ids({0, 1, 2, 0}, {2, 2}).t(), wt), {2, 2, 2}, {1, 2, 5, 6, 3, 4, 1, 2});
  // padding_idx does not change the forward values.
  check_values(F::embedding(ids({0, 2}), w, 0), {2, 2}, {1, 2, 5, 6});
  // integer weights are looked up too (no gradient).
  check_values(F::embedding(ids({1}), tensor({{1, 2}, {3, 4}}, dtype(int64))), {1, 2}, {3, 4});
  BOOST_CHECK(F::embedding(ids({1}), tensor({{1, 2}, {3, 4}}, dtype(int64))).dtype() == int64);
}

BOOST_AUTO_TEST_CASE(embedding_gradient_by_hand) {
  // out = W[[0, 2, 0]], L = sum(out * G). dL/dW[r] = sum of the G rows whose index is r:
  //   dW[0] = G[0] + G[2] = [1 + 2, 10 + 20] = [3, 30], dW[1] = 0, dW[2] = G[1] = [100, 1000].
  const Tensor g = tensor({{1., 10.}, {100., 1000.}, {2., 20.}}, dtype(float64));
  {
    Tensor w = w32().requires_grad_(true);
    Tensor out = F::embedding(ids({0, 2, 0}), w);
    BOOST_CHECK_EQUAL(out.grad_fn_name(), "EmbeddingBackward");
    out.backward(g);
    check_values(w.grad(), {3, 2}, {3, 30, 0, 0, 100, 1000});
  }
  // scale_grad_by_freq: row 0 occurs twice, so its sum is divided by 2: dW[0] = [1.5, 15].
  {
    Tensor w = w32().requires_grad_(true);
    F::embedding(ids({0, 2, 0}), w, std::nullopt, std::nullopt, 2.0, true).backward(g);
    check_values(w.grad(), {3, 2}, {1.5, 15, 0, 0, 100, 1000});
  }
  // padding_idx = 2 (and -1, which wraps to 2): row 2 gets no gradient.
  for (std::int64_t p : {2, -1}) {
    Tensor w = w32().requires_grad_(true);
    F::embedding(ids({0, 2, 0}), w, p).backward(g);
    check_values(w.grad(), {3, 2}, {3, 30, 0, 0, 0, 0});
  }
  // Both: dW[0] = [1.5, 15], dW[2] = 0.
  {
    Tensor w = w32().requires_grad_(true);
    F::embedding(ids({0, 2, 0}), w, 2, std::nullopt, 2.0, true).backward(g);
    check_values(w.grad(), {3, 2}, {1.5, 15, 0, 0, 0, 0});
  }
}

// The weight gradient as a function of the output gradient g (linear; its own gradient is the
// gather with the same factors): the way to check the backward where padding_idx and
// scale_grad_by_freq make it differ, on purpose, from the derivative of the forward.
std::function<Tensor(const std::vector<Tensor>&)> backward_of(std::function<Tensor(const Tensor&)> f,
                                                              const Shape& wshape) {
  const Tensor w0 = randn(wshape, dtype(float64));  // fixed: max's argmax depends on it
  return [f, w0](const std::vector<Tensor>& t) {
    GradModeGuard on(true);  // also when the checker evaluates the function under no-grad
    Tensor w = w0.detach().clone().requires_grad_(true);
    return autograd::grad({f(w)}, {w}, {t[0]}, autograd::GradOptions{.create_graph = true})[0];
  };
}

BOOST_AUTO_TEST_CASE(embedding_gradcheck_and_gradgradcheck) {
  const Tensor idx = ids({1, 3, 1, 0, 3, 3}, {2, 3});
  // The exact derivative: no padding index among the indices, no frequency scaling.
  for (std::optional<std::int64_t> pad : {std::optional<std::int64_t>(), std::optional<std::int64_t>(4)}) {
    auto f = [&](const std::vector<Tensor>& t) { return F::embedding(idx, t[0], pad); };
    check_gradcheck(f, {rand64({5, 3})});
    check_gradgradcheck(f, {rand64({5, 3})});
    // A composed use: the result multiplied by itself (the gradient depends on the weight).
    auto sq = [&](const std::vector<Tensor>& t) {
      const Tensor e = F::embedding(idx, t[0], pad);
      return e * e;
    };
    check_gradcheck(sq, {rand64({5, 3})});
    check_gradgradcheck(sq, {rand64({5, 3})});
  }
  // padding_idx present and scale_grad_by_freq: the backward as a function of g.
  for (std::optional<std::int64_t> pad : {std::optional<std::int64_t>(), std::optional<std::int64_t>(3)})
    for (bool scale : {false, true}) {
      BOOST_TEST_CONTEXT("padding_idx " << (pad ? *pad : -100) << ", scale_grad_by_freq " << scale) {
        const auto b =
            backward_of([&](const Tensor& w) { return F::embedding(idx, w, pad, std::nullopt, 2.0, scale); }, {5, 3});
        check_gradcheck(b, {rand64({2, 3, 3})});
        check_gradgradcheck(b, {rand64({2, 3, 3})});
      }
    }
}

BOOST_AUTO_TEST_CASE(embedding_double_backward_is_the_gather) {
  // gW = scatter(g) is linear in g; d(sum(gW * V))/dg[i] = V[idx[i]] (0 at padding_idx).
  Tensor w = w32().requires_grad_(true);
  Tensor g = tensor({{1., 1.}, {1., 1.}, {1., 1.}}, dtype(float64)).requires_grad_(true);
  const Tensor out = F::embedding(ids({0, 2, 1}), w, 2);
  const auto gw = autograd::grad({out}, {w}, {g}, autograd::GradOptions{.create_graph = true});
  const Tensor v = tensor({{1., 2.}, {3., 4.}, {5., 6.}}, dtype(float64));
  const auto gg = autograd::grad({(gw[0] * v).sum()}, {g});
  check_values(gg[0], {3, 2}, {1, 2, 0, 0, 3, 4});
}

BOOST_AUTO_TEST_CASE(embedding_max_norm_renormalises_in_place) {
  Tensor w = tensor({{3., 4.}, {0.3, 0.4}, {6., 8.}}, dtype(float64)).requires_grad_(true);
  Tensor out = F::embedding(ids({0, 0, 1}), w, std::nullopt, 1.0);
  // Row 0 (norm 5 > 1) is scaled by 1 / (5 + 1e-7); row 1 (norm 0.5) and row 2 (not looked up)
  // are untouched.
  const double s = 1.0 / (5.0 + 1e-7);
  check_values(w, {3, 2}, {3 * s, 4 * s, 0.3, 0.4, 6, 8});
  check_values(out, {3, 2}, {3 * s, 4 * s, 3 * s, 4 * s, 0.3, 0.4});
  BOOST_CHECK(w.is_leaf());
  BOOST_CHECK(w.requires_grad());
  out.sum().backward();  // the renorm recorded nothing: the gradient is the plain scatter
  check_values(w.grad(), {3, 2}, {2, 2, 1, 1, 0, 0});
  // norm_type 1: |6| + |8| = 14 > 2, scaled by 2 / (14 + 1e-7).
  Tensor w2 = tensor({{3., 4.}, {0.3, 0.4}, {6., 8.}}, dtype(float64));
  F::embedding(ids({2}), w2, std::nullopt, 2.0, 1.0);
  const double s1 = 2.0 / (14.0 + 1e-7);
  check_values(w2, {3, 2}, {3, 4, 0.3, 0.4, 6 * s1, 8 * s1});
  // norm_type inf: max |w| = 8 > 4.
  Tensor w3 = tensor({{3., 4.}, {0.3, 0.4}, {6., -8.}}, dtype(float64));
  F::embedding(ids({2}), w3, std::nullopt, 4.0, std::numeric_limits<double>::infinity());
  const double si = 4.0 / (8.0 + 1e-7);
  check_values(w3, {3, 2}, {3, 4, 0.3, 0.4, 6 * si, -8 * si});
  // The module form renormalises its own weight.
  Embedding emb(EmbeddingOptions(3, 2).max_norm(1.0));
  {
    NoGradGuard ng;
    emb.weight.copy_(tensor({{3., 4.}, {0.3, 0.4}, {6., 8.}}));
  }
  emb(ids({2}));
  BOOST_CHECK_CLOSE(emb.weight.select(0, 2).norm().item<double>(), 1.0, 1e-4);
  BOOST_CHECK_CLOSE(emb.weight.select(0, 0).norm().item<double>(), 5.0, 1e-4);
}

BOOST_AUTO_TEST_CASE(embedding_errors) {
  const Tensor w = w32();
  XGRAD_CHECK_THROW_MSG(F::embedding(ids({0, 3}), w),
                        "embedding: index 3 is out of range [0, num_embeddings = 3) (indices of shape [2])");
  XGRAD_CHECK_THROW_MSG(F::embedding(ids({-1}), w), "embedding: index -1 is out of range");
  XGRAD_CHECK_THROW_MSG(F::embedding(tensor({0., 1.}), w),
                        "embedding: indices must be int64 or int32, got float32 (indices of shape [2])");
  XGRAD_CHECK_THROW_MSG(F::embedding(tensor({true}, dtype(boolean)), w), "indices must be int64 or int32, got bool");
  XGRAD_CHECK_THROW_MSG(F::embedding(ids({0}), tensor({1., 2.})),
                        "embedding: weight must be 2-d [num_embeddings, embedding_dim], got shape [2]");
  XGRAD_CHECK_THROW_MSG(F::embedding(ids({0}), w, 3), "embedding: padding_idx must be within num_embeddings");
  XGRAD_CHECK_THROW_MSG(F::embedding(ids({0}), w, -4), "in [-3, 3), got -4");
  XGRAD_CHECK_THROW_MSG(F::embedding(ids({0}), Tensor()), "embedding");
  XGRAD_CHECK_THROW_MSG(F::embedding(ids({0}), tensor({{1, 2}}, dtype(int64)), std::nullopt, 1.0),
                        "embedding: max_norm needs a floating weight, got int64");
  XGRAD_CHECK_THROW_MSG(Embedding(3, 2)(ids({5})), "index 5 is out of range [0, num_embeddings = 3)");
  XGRAD_CHECK_THROW_MSG(Embedding(-1, 2), "Embedding: invalid num_embeddings -1");
  XGRAD_CHECK_THROW_MSG(Embedding(EmbeddingOptions(3, 2).padding_idx(3)),
                        "Embedding: padding_idx must be within num_embeddings");
  XGRAD_CHECK_THROW_MSG(Embedding::from_pretrained(tensor({1., 2.})),
                        "Embedding::from_pretrained: embeddings must be 2-d [num_embeddings, embedding_dim], got "
                        "shape [2]");
}

BOOST_AUTO_TEST_CASE(embedding_module) {
  manual_seed(7);
  Embedding emb(EmbeddingOptions(10, 4).padding_idx(-2));
  BOOST_CHECK_EQUAL(*emb.options().padding_idx(), 8);
  BOOST_CHECK(emb.weight.shape() == (Shape{10, 4}));
  BOOST_CHECK(emb.weight.dtype() == float32);
  BOOST_CHECK(emb.weight.requires_grad());
  check_values(emb.weight.select(0, 8), {4}, {0, 0, 0, 0});
  BOOST_CHECK_GT(emb.weight.abs().sum().item<double>(), 0.0);
  // N(0, 1): the 36 other values have a standard deviation near 1.
  const double sd = emb.weight.narrow(0, 0, 8).std().item<double>();
  BOOST_CHECK(sd > 0.5 && sd < 1.6);
  const auto sd_dict = emb.state_dict();
  BOOST_CHECK_EQUAL(sd_dict.size(), 1u);
  BOOST_CHECK(sd_dict.count("weight") == 1);
  BOOST_CHECK_EQUAL(emb.repr(), "Embedding(10, 4, padding_idx=8)");
  BOOST_CHECK_EQUAL(Embedding(EmbeddingOptions(5, 2).max_norm(1.0).norm_type(1.0).scale_grad_by_freq(true)).repr(),
                    "Embedding(5, 2, max_norm=1.0, norm_type=1.0, scale_grad_by_freq=true)");
  Tensor out = emb(ids({8, 1, 8}, {1, 3}));
  BOOST_CHECK(out.shape() == (Shape{1, 3, 4}));
  out.sum().backward();
  check_values(emb.weight.grad().select(0, 8), {4}, {0, 0, 0, 0});
  check_values(emb.weight.grad().select(0, 1), {4}, {1, 1, 1, 1});
}

BOOST_AUTO_TEST_CASE(embedding_from_pretrained) {
  const Tensor pre = tensor({{1., 2.}, {3., 4.}, {5., 6.}});
  auto frozen = Embedding::from_pretrained(pre);
  BOOST_CHECK(!frozen->weight.requires_grad());
  BOOST_CHECK(!pre.requires_grad());
  check_values(frozen->forward(ids({2, 0})), {2, 2}, {5, 6, 1, 2});
  BOOST_CHECK(!frozen->forward(ids({2})).requires_grad());
  // The weight shares pre's storage (PyTorch's Parameter(embeddings)).
  {
    NoGradGuard ng;
    frozen->weight.select(0, 0).fill_(9.0);
  }
  check_values(pre.select(0, 0), {2}, {9, 9});
  // freeze = false: trainable; padding_idx kept, its row not zeroed.
  auto trainable = Embedding::from_pretrained(tensor({{1., 2.}, {3., 4.}}), false, 1);
  BOOST_CHECK(trainable->weight.requires_grad());
  check_values(trainable->weight, {2, 2}, {1, 2, 3, 4});
  (*trainable)(ids({0, 1})).sum().backward();
  check_values(trainable->weight.grad(), {2, 2}, {1, 1, 0, 0});
  BOOST_CHECK_EQUAL(trainable->repr(), "Embedding(2, 2, padding_idx=1)");
}

BOOST_AUTO_TEST_CASE(embedding_same_bits_at_1_and_2_threads) {
  ThreadGuard guard;
  manual_seed(3);
  const Tensor w0 = randn({1000, 64});
  const Tensor idx = randint(0, 1000, {20000});
  const Tensor idx_hot = randint(0, 4, {20000});  // many repeats per row
  const Tensor g = randn({20000, 64});
  auto run = [&](int threads, const Tensor& index, bool scale) {
    set_num_threads(threads);
    Tensor w = w0.detach().clone().requires_grad_(true);
    Tensor out = F::embedding(index, w, 5, std::nullopt, 2.0, scale);
    out.backward(g);
    return std::vector<Tensor>{out.detach(), w.grad()};
  };
  for (bool scale : {false, true})
    for (const Tensor* index : {&idx, &idx_hot}) {
      const auto a = run(1, *index, scale), b = run(2, *index, scale);
      BOOST_CHECK(bit_identical(a[0], b[0]));
      BOOST_CHECK(bit_identical(a[1], b[1]));
    }
}

// ---- embedding_bag --------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(embedding_bag_values_by_hand) {
  // W rows: 0 -> [1, 2], 1 -> [3, 4], 2 -> [5, 6], 3 -> [-1, 7].
  const Tensor w = tensor({{1., 2.}, {3., 4.}, {5., 6.}, {-1., 7.}}, dtype(float64));
  const Tensor input = ids({0, 2, 3, 1, 1});
  const Tensor offsets = ids({0, 3, 3});  // bags {0, 2, 3}, {} (empty), {1, 1}
  check_values(F::embedding_bag(input, w, offsets, "sum"), {3, 2}, {5, 15, 0, 0, 6, 8});
  check_values(F::embedding_bag(input, w, offsets, "mean"), {3, 2}, {5. / 3, 5, 0, 0, 3, 4});
  check_values(F::embedding_bag(input, w, offsets, "max"), {3, 2}, {5, 7, 0, 0, 3, 4});
  BOOST_CHECK_EQUAL(F::embedding_bag(input, w, offsets).grad_fn_name(), "");  // default mean, no grad
  // include_last_offset: offsets [0, 3, 3, 5] describe the same three bags.
  check_values(F::embedding_bag(input, w, ids({0, 3, 3, 5}), "sum", Tensor(), true), {3, 2}, {5, 15, 0, 0, 6, 8});
  // ... and [0, 2] one bag {0, 2}; the rest of the input is in no bag.
  check_values(F::embedding_bag(input, w, ids({0, 2}), "sum", Tensor(), true), {1, 2}, {6, 8});
  // 2-d input: fixed-size bags.
  const Tensor input2 = ids({0, 2, 3, 1}, {2, 2});
  check_values(F::embedding_bag(input2, w, Tensor(), "sum"), {2, 2}, {6, 8, 2, 11});
  check_values(F::embedding_bag(input2, w, Tensor(), "mean"), {2, 2}, {3, 4, 1, 5.5});
  check_values(F::embedding_bag(input2, w, Tensor(), "max"), {2, 2}, {5, 6, 3, 7});
  // per_sample_weights (sum): bag 0 = 2 W0 + 0.5 W2 - W3 = [2 + 2.5 + 1, 4 + 3 - 7].
  check_values(F::embedding_bag(input, w, offsets, "sum", tensor({2., 0.5, -1., 1., 3.}, dtype(float64))), {3, 2},
               {5.5, 0, 0, 0, 12, 16});
  // padding_idx is left out of the bags (and of the mean's count); a bag of padding only is empty.
  check_values(F::embedding_bag(input, w, offsets, "mean", Tensor(), false, 2), {3, 2}, {0, 4.5, 0, 0, 3, 4});
  check_values(F::embedding_bag(input, w, offsets, "max", Tensor(), false, 3), {3, 2}, {5, 6, 0, 0, 3, 4});
  check_values(F::embedding_bag(input, w, offsets, "sum", Tensor(), false, 1), {3, 2}, {5, 15, 0, 0, 0, 0});
  // no bags at all / int32 indices and offsets.
  check_values(F::embedding_bag(ids({}, {0}), w, ids({}, {0}), "sum"), {0, 2}, {});
  check_values(F::embedding_bag(tensor({3, 0}, dtype(int32)), w, tensor({0}, dtype(int32)), "max"), {1, 2}, {1, 7});
  // max: the first maximum wins on ties, negative values are kept.
  const Tensor wn = tensor({{-3., -1.}, {-2., -1.}}, dtype(float64));
  check_values(F::embedding_bag(ids({0, 1}), wn, ids({0}), "max"), {1, 2}, {-2, -1});
}

BOOST_AUTO_TEST_CASE(embedding_bag_gradients_by_hand) {
  // input [0, 2, 3 | (empty) | 1, 1], G = [[1, 10], [100, 100], [2, 20]].
  const Tensor input = ids({0, 2, 3, 1, 1});
  const Tensor offsets = ids({0, 3, 3});
  const Tensor g = tensor({{1., 10.}, {100., 100.}, {2., 20.}}, dtype(float64));
  auto w0 = [] { return tensor({{1., 2.}, {3., 4.}, {5., 6.}, {-1., 7.}}, dtype(float64)).requires_grad_(true); };
  {
    // sum: dW[r] = sum over the entries equal to r of G[bag]: rows 0, 2, 3 get G0, row 1 gets 2 G2.
    Tensor w = w0();
    Tensor out = F::embedding_bag(input, w, offsets, "sum");
    BOOST_CHECK_EQUAL(out.grad_fn_name(), "EmbeddingBagBackward");
    out.backward(g);
    check_values(w.grad(), {4, 2}, {1, 10, 4, 40, 1, 10, 1, 10});
  }
  {
    // mean: G[b] / n_b: bag 0 has 3 entries, bag 2 two.
    Tensor w = w0();
    F::embedding_bag(input, w, offsets, "mean").backward(g);
    check_values(w.grad(), {4, 2}, {1. / 3, 10. / 3, 2, 20, 1. / 3, 10. / 3, 1. / 3, 10. / 3});
  }
  {
    // max: bag 0 column 0 max is row 2 (5), column 1 is row 3 (7); bag 2 both from row 1
    // (first of the two equal entries: one G2 each, not two).
    Tensor w = w0();
    F::embedding_bag(input, w, offsets, "max").backward(g);
    check_values(w.grad(), {4, 2}, {0, 0, 2, 20, 1, 0, 0, 10});
  }
  {
    // per_sample_weights p: out[b] = sum_i p_i W[idx_i]; dW[idx_i] += p_i G[b],
    // dp_i = <G[b], W[idx_i]>: p0 -> 1 + 20 = 21, p1 -> 5 + 60 = 65, p2 -> -1 + 70 = 69,
    // p3, p4 -> 2 * 3 + 20 * 4 = 86.
    Tensor w = w0();
    Tensor p = tensor({2., 0.5, -1., 1., 3.}, dtype(float64)).requires_grad_(true);
    F::embedding_bag(input, w, offsets, "sum", p).backward(g);
    check_values(w.grad(), {4, 2}, {2, 20, 8, 80, 0.5, 5, -1, -10});
    check_values(p.grad(), {5}, {21, 65, 69, 86, 86});
  }
  {
    // scale_grad_by_freq (sum): row 1 occurs twice, its 2 G2 is halved to G2.
    Tensor w = w0();
    F::embedding_bag(input, w, offsets, "sum", Tensor(), false, std::nullopt, std::nullopt, 2.0, true).backward(g);
    check_values(w.grad(), {4, 2}, {1, 10, 2, 20, 1, 10, 1, 10});
  }
  {
    // padding_idx = 3 (mean): bag 0 is {0, 2}, so rows 0 and 2 get G0 / 2, row 3 nothing.
    Tensor w = w0();
    F::embedding_bag(input, w, offsets, "mean", Tensor(), false, 3).backward(g);
    check_values(w.grad(), {4, 2}, {0.5, 5, 2, 20, 0.5, 5, 0, 0});
  }
}

BOOST_AUTO_TEST_CASE(embedding_bag_gradcheck_and_gradgradcheck) {
  const Tensor input = ids({1, 3, 1, 0, 3, 2, 2});
  const Tensor offsets = ids({0, 2, 2, 5});  // bags of 2, 0, 3, 2 entries
  const Tensor input2 = ids({1, 3, 1, 0, 3, 3}, {2, 3});
  for (const std::string mode : {"sum", "mean", "max"})
    for (std::optional<std::int64_t> pad : {std::optional<std::int64_t>(), std::optional<std::int64_t>(3)}) {
      BOOST_TEST_CONTEXT("mode " << mode << ", padding " << (pad ? *pad : -100)) {
        // padding_idx leaves entries out of the forward too: the gradient is the derivative.
        auto f = [&](const std::vector<Tensor>& t) {
          return F::embedding_bag(input, t[0], offsets, mode, Tensor(), false, pad);
        };
        check_gradcheck(f, {rand64({4, 3})});
        check_gradgradcheck(f, {rand64({4, 3})});
        auto f2 = [&](const std::vector<Tensor>& t) {
          const Tensor e = F::embedding_bag(input2, t[0], Tensor(), mode, Tensor(), false, pad);
          return e * e;
        };
        check_gradcheck(f2, {rand64({4, 3})});
        check_gradgradcheck(f2, {rand64({4, 3})});
        // scale_grad_by_freq: the backward as a function of g.
        const auto b = backward_of(
            [&](const Tensor& w) {
              return F::embedding_bag(input, w, offsets, mode, Tensor(), false, pad, std::nullopt, 2.0, true);
            },
            {4, 3});
        check_gradcheck(b, {rand64({4, 3})});
        check_gradgradcheck(b, {rand64({4, 3})});
      }
    }
  // per_sample_weights: gradients to both.
  for (std::optional<std::int64_t> pad : {std::optional<std::int64_t>(), std::optional<std::int64_t>(1)}) {
    auto f = [&](const std::vector<Tensor>& t) {
      return F::embedding_bag(input, t[0], offsets, "sum", t[1], false, pad);
    };
    check_gradcheck(f, {rand64({4, 3}), rand64({7})});
    check_gradgradcheck(f, {rand64({4, 3}), rand64({7})});
    auto f2 = [&](const std::vector<Tensor>& t) { return F::embedding_bag(input2, t[0], Tensor(), "sum", t[1]); };
    check_gradcheck(f2, {rand64({4, 3}), rand64({2, 3})});
    check_gradgradcheck(f2, {rand64({4, 3}), rand64({2, 3})});
  }
}

BOOST_AUTO_TEST_CASE(embedding_bag_max_norm) {
  Tensor w = tensor({{3., 4.}, {0.3, 0.4}, {6., 8.}}, dtype(float64));
  const Tensor out = F::embedding_bag(ids({0, 1}), w, ids({0}), "sum", Tensor(), false, std::nullopt, 1.0);
  const double s = 1.0 / (5.0 + 1e-7);
  check_values(w, {3, 2}, {3 * s, 4 * s, 0.3, 0.4, 6, 8});
  check_values(out, {1, 2}, {3 * s + 0.3, 4 * s + 0.4});
}

BOOST_AUTO_TEST_CASE(embedding_bag_errors) {
  const Tensor w = tensor({{1., 2.}, {3., 4.}, {5., 6.}}, dtype(float64));
  const Tensor in = ids({0, 1, 2});
  XGRAD_CHECK_THROW_MSG(F::embedding_bag(in, w, ids({1, 2})),
                        "embedding_bag: offsets[0] must be 0 (the first bag starts at position 0), got 1");
  XGRAD_CHECK_THROW_MSG(F::embedding_bag(in, w, ids({0, 2, 1})),
                        "embedding_bag: offsets must be non-decreasing, got offsets[2] = 1 after offsets[1] = 2");
  XGRAD_CHECK_THROW_MSG(F::embedding_bag(in, w, ids({0, 4})),
                        "embedding_bag: offsets[1] = 4 is past the end of the input (shape [3])");
  XGRAD_CHECK_THROW_MSG(F::embedding_bag(in, w), "embedding_bag: a 1-d input (shape [3]) needs offsets");
  XGRAD_CHECK_THROW_MSG(F::embedding_bag(ids({0, 1}, {1, 2}), w, ids({0})),
                        "embedding_bag: offsets must be undefined for a 2-d input (input of shape [1, 2], offsets of "
                        "shape [1])");
  XGRAD_CHECK_THROW_MSG(F::embedding_bag(in, w, ids({0}, {1, 1})),
                        "embedding_bag: offsets must be 1-d, got shape [1, 1]");
  XGRAD_CHECK_THROW_MSG(F::embedding_bag(in, w, tensor({0.})),
                        "embedding_bag: offsets must be int64 or int32, got float32");
  XGRAD_CHECK_THROW_MSG(F::embedding_bag(in, w, ids({}, {0}), "sum", Tensor(), true),
                        "include_last_offset needs at least one offset");
  XGRAD_CHECK_THROW_MSG(F::embedding_bag(ids({0}, {1, 1, 1}), w, Tensor()),
                        "embedding_bag: input must be 1-d (with offsets) or 2-d [B, N], got shape [1, 1, 1]");
  XGRAD_CHECK_THROW_MSG(F::embedding_bag(ids({0, 3}), w, ids({0})),
                        "embedding_bag: index 3 is out of range [0, num_embeddings = 3)");
  XGRAD_CHECK_THROW_MSG(F::embedding_bag(tensor({0., 1.}), w, ids({0})),
                        "embedding_bag: indices must be int64 or int32, got float32");
  XGRAD_CHECK_THROW_MSG(F::embedding_bag(in, w, ids({0}), "avg"),
                        "embedding_bag: mode must be 'sum', 'mean' or 'max', got 'avg'");
  XGRAD_CHECK_THROW_MSG(F::embedding_bag(in, w, ids({0}), "mean", tensor({1., 1., 1.}, dtype(float64))),
                        "embedding_bag: per_sample_weights is only supported for mode 'sum', got mode 'mean'");
  XGRAD_CHECK_THROW_MSG(F::embedding_bag(in, w, ids({0}), "sum", tensor({1., 1.}, dtype(float64))),
                        "embedding_bag: per_sample_weights of shape [2] must have the input's shape [3]");
  XGRAD_CHECK_THROW_MSG(F::embedding_bag(in, w, ids({0}), "sum", tensor({1., 1., 1.})),
                        "embedding_bag: per_sample_weights has dtype float32 but weight has dtype float64");
  XGRAD_CHECK_THROW_MSG(F::embedding_bag(in, tensor({1., 2.}), ids({0})),
                        "embedding_bag: weight must be 2-d [num_embeddings, embedding_dim], got shape [2]");
  XGRAD_CHECK_THROW_MSG(F::embedding_bag(in, tensor({{1, 2}, {3, 4}, {5, 6}}, dtype(int64)), ids({0})),
                        "embedding_bag: weight must have a floating dtype (float32 or float64), got int64");
  XGRAD_CHECK_THROW_MSG(F::embedding_bag(in, w, ids({0}), "sum", Tensor(), false, 5),
                        "embedding_bag: padding_idx must be within num_embeddings");
  XGRAD_CHECK_THROW_MSG(EmbeddingBag(EmbeddingBagOptions(3, 2).mode("median")),
                        "EmbeddingBag: mode must be 'sum', 'mean' or 'max', got 'median'");
}

BOOST_AUTO_TEST_CASE(embedding_bag_module) {
  manual_seed(11);
  EmbeddingBag bag(EmbeddingBagOptions(6, 3).mode("sum").padding_idx(0));
  BOOST_CHECK(bag.weight.shape() == (Shape{6, 3}));
  check_values(bag.weight.select(0, 0), {3}, {0, 0, 0});
  BOOST_CHECK_EQUAL(bag.state_dict().count("weight"), 1u);
  BOOST_CHECK_EQUAL(bag.repr(), "EmbeddingBag(6, 3, mode='sum', padding_idx=0)");
  BOOST_CHECK_EQUAL(EmbeddingBag(6, 3).repr(), "EmbeddingBag(6, 3, mode='mean')");
  const Tensor input = ids({1, 2, 4, 5});
  Tensor out = bag(input, ids({0, 1}));
  BOOST_CHECK(out.shape() == (Shape{2, 3}));
  check_close(out, F::embedding_bag(input, bag.weight, ids({0, 1}), "sum"), 0.0);
  // operator()(input): 2-d input, through the module hooks.
  Tensor out2 = bag(ids({1, 2, 4, 5}, {2, 2}));
  check_close(out2.select(0, 0), bag.weight.select(0, 1) + bag.weight.select(0, 2), 1e-6);
  out2.sum().backward();
  check_values(bag.weight.grad().select(0, 0), {3}, {0, 0, 0});
  auto pre = EmbeddingBag::from_pretrained(tensor({{1., 2.}, {3., 4.}}), true, std::nullopt, 2.0, false, "max");
  BOOST_CHECK(!pre->weight.requires_grad());
  check_values((*pre)(ids({0, 1}, {1, 2})), {1, 2}, {3, 4});
}

BOOST_AUTO_TEST_CASE(embedding_bag_same_bits_at_1_and_2_threads) {
  ThreadGuard guard;
  manual_seed(5);
  const Tensor w0 = randn({500, 64});
  const Tensor idx = randint(0, 500, {20000});
  const Tensor offsets = std::get<0>(sort(randint(0, 20000, {300})));
  Tensor off = offsets.clone();
  {
    NoGradGuard ng;
    off.select(0, 0).zero_();
  }
  const Tensor psw = rand({20000});
  const Tensor g = randn({300, 64});
  for (const std::string mode : {"sum", "mean", "max"}) {
    auto run = [&](int threads) {
      set_num_threads(threads);
      Tensor w = w0.detach().clone().requires_grad_(true);
      Tensor p = psw.detach().clone().requires_grad_(true);
      Tensor out =
          F::embedding_bag(idx, w, off, mode, mode == "sum" ? p : Tensor(), false, 3, std::nullopt, 2.0, mode != "max");
      out.backward(g);
      return std::vector<Tensor>{out.detach(), w.grad(), mode == "sum" ? p.grad() : w.grad()};
    };
    const auto a = run(1), b = run(2);
    BOOST_TEST_CONTEXT("mode " << mode) {
      for (std::size_t k = 0; k < a.size(); ++k) BOOST_CHECK(bit_identical(a[k], b[k]));
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
