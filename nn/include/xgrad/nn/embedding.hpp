// Embeddings: embedding / Embedding (a lookup table of rows) and embedding_bag / EmbeddingBag
// (sums, means or maxima of bags of rows). Functional forms in xgrad::nn::functional, modules
// in xgrad::nn. PyTorch's definitions, defaults and parameter name ("weight").
//
// Common rules:
// * Indices are int64 or int32 tensors of any layout; every index must lie in
//   [0, num_embeddings) (negative indices are not wrapped, as in PyTorch), else xgrad::Error
//   "<op>: index <value> is out of range [0, <num_embeddings>) ...". Floating or bool indices
//   throw "<op>: indices must be int64 or int32, got <dtype> ...".
// * weight is [num_embeddings, embedding_dim]; any other rank throws.
// * padding_idx (optional) may be negative: it wraps to num_embeddings + padding_idx; outside
//   [-num_embeddings, num_embeddings) it throws "<op>: padding_idx must be within
//   num_embeddings ...".
// * max_norm (optional): before the lookup, every row of weight that the input refers to and
//   whose norm_type-norm exceeds max_norm is scaled IN PLACE by max_norm / (norm + 1e-7)
//   (PyTorch's embedding_renorm_): no gradient is recorded for it, weight's version counter
//   moves, so a graph that saved weight earlier fails on backward (as in PyTorch).
//   norm_type p: (sum |w|^p)^(1/p); p = inf: max |w|; p = 0: the count of non-zeros.
// * Sparse gradients are not supported (there is no `sparse` option): gradients are dense
//   [num_embeddings, embedding_dim] tensors.
// * Gradients are scatter-adds computed in parallel over the rows of the gradient, each row
//   summed in input order by one task: bit-identical at every thread count. They are linear
//   in the output gradient and recorded as differentiable ops (their own gradient is the
//   matching gather), so double backward works (gradgradcheck passes).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "xgrad/autograd/tensor.hpp"
#include "xgrad/nn/module.hpp"
#include "xgrad/nn/options.hpp"

namespace xgrad::nn {

namespace functional {

/// Lookup (PyTorch's F.embedding): out[i..., :] = weight[input[i...], :].
/// input: int64/int32 indices of any shape (0-d and empty included); weight:
/// [num_embeddings, embedding_dim] of any dtype; out: input.shape + [embedding_dim], weight's
/// dtype, contiguous.
/// Gradient (grad_fn EmbeddingBackward), with g the output gradient seen as [M, D]:
///   dweight[r] = sum_{i : input[i] = r} g[i] * s_r,   s_r = 1 / count(r) when
///   scale_grad_by_freq (count(r): how often r occurs in input), else 1;
/// the row r = padding_idx gets no gradient (its output rows are still weight[padding_idx]).
/// No gradient flows to input.
/// Throws xgrad::Error: undefined arguments, non-integer indices, weight not 2-d, an index
/// outside [0, num_embeddings), padding_idx out of range.
Tensor embedding(const Tensor& input, const Tensor& weight, std::optional<std::int64_t> padding_idx = std::nullopt,
                 std::optional<double> max_norm = std::nullopt, double norm_type = 2.0,
                 bool scale_grad_by_freq = false);

/// Bags of embeddings (PyTorch's F.embedding_bag); sum and mean hold the looked-up rows
/// ([M, embedding_dim]) before summing them per bag. Bags:
/// * input 1-d [M] with offsets 1-d [B] (int64/int32): bag b holds input[offsets[b] ..
///   offsets[b+1]) and the last bag runs to M; with include_last_offset, offsets has B + 1
///   entries and the last one ends the last bag (indices after it are ignored);
/// * input 2-d [B, N]: B bags of N indices each; offsets must be undefined.
/// For each bag b (entries equal to padding_idx are left out of the bag entirely):
///   sum:  out[b] = sum_i w_i weight[input[i]]   (w_i = per_sample_weights[i], or 1)
///   mean: out[b] = sum_i weight[input[i]] / n_b  (n_b the bag's size without padding)
///   max:  out[b, d] = max_i weight[input[i], d]  (the first maximum wins)
/// An empty bag (or one holding only padding_idx) gives a row of zeros. out: [B,
/// embedding_dim], weight's dtype.
/// per_sample_weights: input's shape, weight's dtype; only with mode "sum".
/// Gradients: weight (sum, mean: the scatter-add of g[b] (w_i, 1/n_b) to each member's row,
/// scaled by 1/count with scale_grad_by_freq; max: g[b, d] to the row that gave the maximum
/// of column d; scale_grad_by_freq is ignored in max mode, as in PyTorch's CPU backward),
/// per_sample_weights (d out[b] / d w_i = weight[input[i]], so dw_i = <g[b], weight[input[i]]>,
/// 0 for padding entries). No gradient to input or offsets.
/// Departure: the argument order is (input, weight, offsets, mode, per_sample_weights,
/// include_last_offset, padding_idx, max_norm, norm_type, scale_grad_by_freq), mode coming
/// right after offsets (Python's F.embedding_bag puts max_norm first); sparse does not exist.
/// Throws xgrad::Error naming embedding_bag and the shapes/values: weight not 2-d or not
/// floating; indices not int64/int32 or out of range; input neither 1-d nor 2-d; offsets
/// missing (1-d input), given (2-d input), not 1-d, not starting at 0, decreasing, or past
/// the end of input; mode not "sum"/"mean"/"max"; per_sample_weights with a mode other than
/// "sum", of another shape than input, or another dtype than weight.
Tensor embedding_bag(const Tensor& input, const Tensor& weight, const Tensor& offsets = Tensor(),
                     const std::string& mode = "mean", const Tensor& per_sample_weights = Tensor(),
                     bool include_last_offset = false, std::optional<std::int64_t> padding_idx = std::nullopt,
                     std::optional<double> max_norm = std::nullopt, double norm_type = 2.0,
                     bool scale_grad_by_freq = false);

}  // namespace functional

// ---- options ---------------------------------------------------------------------------------

/// Options of Embedding: EmbeddingOptions(10, 3).padding_idx(0).max_norm(1.0).norm_type(2.0)
/// .scale_grad_by_freq(true). Checked by Embedding (sizes >= 0, padding_idx within
/// num_embeddings).
struct EmbeddingOptions {
  EmbeddingOptions(std::int64_t num_embeddings, std::int64_t embedding_dim) {
    num_embeddings_ = num_embeddings;
    embedding_dim_ = embedding_dim;
  }
#define XGRAD_NN_FIELDS(X)                                                         \
  X(std::int64_t, num_embeddings, 0, ::xgrad::options::non_negative)               \
  X(std::int64_t, embedding_dim, 0, ::xgrad::options::non_negative)                \
  X(std::optional<std::int64_t>, padding_idx, std::nullopt, ::xgrad::options::any) \
  X(std::optional<double>, max_norm, std::nullopt, ::xgrad::options::any)          \
  X(double, norm_type, 2.0, ::xgrad::options::any)                                 \
  X(bool, scale_grad_by_freq, false, ::xgrad::options::any)
  XGRAD_OPTIONS(EmbeddingOptions, XGRAD_NN_FIELDS)
#undef XGRAD_NN_FIELDS
};

/// Options of EmbeddingBag: EmbeddingBagOptions(10, 3).mode("sum").include_last_offset(true)
/// .padding_idx(0).max_norm(1.0).norm_type(2.0).scale_grad_by_freq(true). mode: "sum",
/// "mean" (default) or "max".
struct EmbeddingBagOptions {
  EmbeddingBagOptions(std::int64_t num_embeddings, std::int64_t embedding_dim) {
    num_embeddings_ = num_embeddings;
    embedding_dim_ = embedding_dim;
  }
#define XGRAD_NN_FIELDS(X)                                                \
  X(std::int64_t, num_embeddings, 0, ::xgrad::options::non_negative)      \
  X(std::int64_t, embedding_dim, 0, ::xgrad::options::non_negative)       \
  X(std::optional<double>, max_norm, std::nullopt, ::xgrad::options::any) \
  X(double, norm_type, 2.0, ::xgrad::options::any)                        \
  X(bool, scale_grad_by_freq, false, ::xgrad::options::any)               \
  X(std::string, mode, "mean", ::xgrad::options::any)                     \
  X(bool, include_last_offset, false, ::xgrad::options::any)              \
  X(std::optional<std::int64_t>, padding_idx, std::nullopt, ::xgrad::options::any)
  XGRAD_OPTIONS(EmbeddingBagOptions, XGRAD_NN_FIELDS)
#undef XGRAD_NN_FIELDS
};

// ---- modules ---------------------------------------------------------------------------------

/// A lookup table: forward(input) = functional::embedding(input, weight, padding_idx,
/// max_norm, norm_type, scale_grad_by_freq). Parameter "weight" [num_embeddings,
/// embedding_dim], float32, drawn from N(0, 1) (global generator) with the padding_idx row
/// zeroed (PyTorch's init). A negative padding_idx is stored wrapped (options().padding_idx()
/// is then in [0, num_embeddings)). extra_repr prints like PyTorch ("10, 3, padding_idx=0").
/// Throws xgrad::Error at construction for negative sizes or padding_idx outside
/// [-num_embeddings, num_embeddings), and in forward like functional::embedding.
class Embedding : public Module {
 public:
  Embedding(std::int64_t num_embeddings, std::int64_t embedding_dim);
  explicit Embedding(const EmbeddingOptions& options);
  Tensor forward(const Tensor& input) override;
  /// weight ~ N(0, 1), then the padding_idx row = 0.
  void reset_parameters();
  std::string extra_repr() const override;
  const EmbeddingOptions& options() const { return options_; }

  /// A module whose weight IS `embeddings` (shared storage, like PyTorch's Parameter), with
  /// requires_grad = !freeze; the padding_idx row is NOT zeroed (PyTorch). Throws
  /// xgrad::Error unless embeddings is a defined 2-d tensor.
  static std::shared_ptr<Embedding> from_pretrained(const Tensor& embeddings, bool freeze = true,
                                                    std::optional<std::int64_t> padding_idx = std::nullopt,
                                                    std::optional<double> max_norm = std::nullopt,
                                                    double norm_type = 2.0, bool scale_grad_by_freq = false);

  Tensor weight;

 private:
  Embedding(const EmbeddingOptions& options, const Tensor& pretrained, bool freeze);
  EmbeddingOptions options_;
};

/// Bags of embeddings: forward(input, offsets, per_sample_weights) =
/// functional::embedding_bag(input, weight, offsets, mode, per_sample_weights,
/// include_last_offset, padding_idx, max_norm, norm_type, scale_grad_by_freq). Parameter
/// "weight" as Embedding's (N(0, 1), padding_idx row zeroed). The one-argument forward (and
/// operator()(input), which runs the module hooks) takes a 2-d input.
/// Throws xgrad::Error at construction for negative sizes, an unknown mode or padding_idx out
/// of range, and in forward like functional::embedding_bag.
class EmbeddingBag : public Module {
 public:
  EmbeddingBag(std::int64_t num_embeddings, std::int64_t embedding_dim);
  explicit EmbeddingBag(const EmbeddingBagOptions& options);
  Tensor forward(const Tensor& input) override;
  Tensor forward(const Tensor& input, const Tensor& offsets, const Tensor& per_sample_weights = Tensor());
  /// Same as forward(input, offsets, per_sample_weights) (module hooks are not run).
  Tensor operator()(const Tensor& input, const Tensor& offsets, const Tensor& per_sample_weights = Tensor()) {
    return forward(input, offsets, per_sample_weights);
  }
  using Module::operator();
  /// weight ~ N(0, 1), then the padding_idx row = 0.
  void reset_parameters();
  std::string extra_repr() const override;
  const EmbeddingBagOptions& options() const { return options_; }

  /// Like Embedding::from_pretrained, for bags (mode default "mean").
  static std::shared_ptr<EmbeddingBag> from_pretrained(const Tensor& embeddings, bool freeze = true,
                                                       std::optional<double> max_norm = std::nullopt,
                                                       double norm_type = 2.0, bool scale_grad_by_freq = false,
                                                       const std::string& mode = "mean",
                                                       bool include_last_offset = false,
                                                       std::optional<std::int64_t> padding_idx = std::nullopt);

  Tensor weight;

 private:
  EmbeddingBag(const EmbeddingBagOptions& options, const Tensor& pretrained, bool freeze);
  EmbeddingBagOptions options_;
};

}  // namespace xgrad::nn
