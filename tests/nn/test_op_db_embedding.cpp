// The op table of embedding and embedding_bag (embedding.hpp): the weight (and
// per_sample_weights) as contiguous, transposed, strided and expanded inputs, with fixed index
// tensors (repeated indices, padding_idx, empty bags); float64 gradcheck and gradgradcheck
// through the views; the module forms (from_pretrained) equal the functions. max_norm changes
// the weight in place and is tested in test_embedding.cpp, with the values and errors.
#include "autograd/op_db.hpp"
#include "xgrad/nn/embedding.hpp"

namespace {

Tensor ids(std::vector<std::int64_t> v, Shape s) { return from_vector<std::int64_t>(v, s); }

std::vector<OpInfo> embedding_ops() {
  // Indices below 4: valid for the [4, *] and [5, *] weights of the samples.
  const Tensor idx = ids({0, 3, 1, 3, 3, 2}, {2, 3});
  const Tensor idx1 = ids({1, 3, 1, 0, 3, 2, 2}, {7});
  const Tensor offsets = ids({0, 2, 2, 5}, {4});  // bags of 2, 0, 3 and 2 entries
  const Tensor idx2 = ids({1, 3, 1, 0, 3, 3}, {2, 3});
  const std::vector<std::vector<Shape>> weights = {{{5, 3}}, {{4, 2}}};
  auto bag = [=](std::string mode, std::optional<std::int64_t> pad, bool scale) {
    return [=](const Ts& t) {
      return F::embedding_bag(idx1, t[0], offsets, mode, Tensor(), false, pad, std::nullopt, 2.0, scale);
    };
  };
  auto bag_module = [=](std::string mode, std::optional<std::int64_t> pad, bool scale) {
    return [=](const Ts& t) {
      auto m = nn::EmbeddingBag::from_pretrained(t[0], false, std::nullopt, 2.0, scale, mode, false, pad);
      return m->forward(idx1, offsets);
    };
  };
  auto bag2 = [=](std::string mode) {
    return [=](const Ts& t) { return F::embedding_bag(idx2, t[0], Tensor(), mode); };
  };
  std::vector<OpInfo> ops = {
      {.name = "embedding",
       .fn = [idx](const Ts& t) { return F::embedding(idx, t[0]); },
       .forms = {[idx](const Ts& t) { return nn::Embedding::from_pretrained(t[0], false)->forward(idx); }},
       .samples = weights,
       .int64 = Int64::Yes},
      // padding_idx and scale_grad_by_freq change the gradient on purpose (it is not the
      // derivative of the lookup), so their backward is checked as a function of the output
      // gradient g: g -> dweight is linear, its gradient the gather with the same factors.
      {.name = "embedding_backward_padding_scale",
       .fn =
           [idx](const Ts& t) {
             GradModeGuard on(true);  // also when the checker evaluates the function under no-grad
             Tensor w = tensor({{1., 2., 3.}, {4., 5., 6.}, {7., 8., 9.}, {1., 0., -1.}, {2., 2., 2.}}, dtype(float64))
                            .requires_grad_(true);
             const Tensor out = F::embedding(idx, w, 3, std::nullopt, 2.0, true);
             return autograd::grad({out}, {w}, {t[0]}, autograd::GradOptions{.create_graph = true})[0];
           },
       .samples = {{{2, 3, 3}}},
       .int64 = Int64::Skip},
      {.name = "embedding_0d_index",
       .fn = [](const Ts& t) { return F::embedding(scalar_tensor(2, dtype(int64)), t[0]); },
       .samples = weights,
       .int64 = Int64::Yes},
      {.name = "embedding_bag_sum",
       .fn = bag("sum", std::nullopt, false),
       .forms = {bag_module("sum", std::nullopt, false)},
       .samples = weights},
      {.name = "embedding_bag_mean",
       .fn = bag("mean", std::nullopt, false),
       .forms = {bag_module("mean", std::nullopt, false)},
       .samples = weights},
      {.name = "embedding_bag_mean_padding",
       .fn = bag("mean", 3, false),
       .forms = {bag_module("mean", 3, false)},
       .samples = weights},
      {.name = "embedding_bag_backward_padding_scale",
       .fn =
           [=](const Ts& t) {
             GradModeGuard on(true);
             Tensor w = tensor({{1., 2.}, {4., 5.}, {7., 8.}, {1., 0.}, {2., 2.}}, dtype(float64)).requires_grad_(true);
             const Tensor out = F::embedding_bag(idx1, w, offsets, "mean", Tensor(), false, 3, std::nullopt, 2.0, true);
             return autograd::grad({out}, {w}, {t[0]}, autograd::GradOptions{.create_graph = true})[0];
           },
       .samples = {{{4, 2}}},
       .int64 = Int64::Skip},
      // max: an expanded weight has equal rows, i.e. ties, where the derivative does not exist.
      {.name = "embedding_bag_max",
       .fn = bag("max", std::nullopt, false),
       .forms = {bag_module("max", std::nullopt, false)},
       .samples = weights,
       .variants = kContiguous | kTransposed | kStrided},
      {.name = "embedding_bag_max_padding",
       .fn = bag("max", 1, false),
       .samples = weights,
       .variants = kContiguous | kTransposed | kStrided},
      {.name = "embedding_bag_2d_sum", .fn = bag2("sum"), .samples = weights},
      {.name = "embedding_bag_2d_mean", .fn = bag2("mean"), .samples = weights},
      {.name = "embedding_bag_2d_max",
       .fn = bag2("max"),
       .samples = weights,
       .variants = kContiguous | kTransposed | kStrided},
      {.name = "embedding_bag_per_sample_weights",
       .arity = 2,
       .fn = [=](const Ts& t) { return F::embedding_bag(idx1, t[0], offsets, "sum", t[1], false, 2); },
       .samples = {{{5, 3}, {7}}, {{4, 2}, {7}}}},
      {.name = "embedding_bag_2d_per_sample_weights",
       .arity = 2,
       .fn = [=](const Ts& t) { return F::embedding_bag(idx2, t[0], Tensor(), "sum", t[1]); },
       .samples = {{{5, 3}, {2, 3}}}},
  };
  return ops;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(op_db_embedding)

BOOST_AUTO_TEST_CASE(embedding) { run_all(embedding_ops()); }

BOOST_AUTO_TEST_CASE(names_are_unique) {
  std::vector<std::string> names;
  for (const auto& op : embedding_ops()) names.push_back(op.name);
  std::sort(names.begin(), names.end());
  BOOST_CHECK(std::adjacent_find(names.begin(), names.end()) == names.end());
  BOOST_TEST_MESSAGE("op_db_embedding: " << names.size() << " ops");
}

BOOST_AUTO_TEST_SUITE_END()
