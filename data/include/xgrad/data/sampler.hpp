// Samplers: which dataset indices an epoch visits, and in which order, like
// torch.utils.data.Sampler and its subclasses. A DataLoader takes any of them
// (DataLoaderOptions::sampler / batch_sampler).
//
// Randomness: every random sampler has its own seed (default 0) and draws epoch e from a
// std::mt19937_64 derived from (seed, e) only, so epoch e's indices are the same on every run,
// platform and thread count, whatever happened before (no global generator is used or
// advanced). PyTorch's samplers draw from a torch.Generator that advances from one epoch to
// the next; the per-epoch seeding is our departure, made so that set_epoch() can replay an
// epoch.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

namespace xgrad::data {

/// Base class: a sampler yields, for each epoch, a sequence of dataset indices.
/// indices(e) must be a pure function of e (and of the sampler's construction arguments):
/// the DataLoader may call it for any epoch, in any order (set_epoch, epoch_order).
class Sampler {
 public:
  virtual ~Sampler() = default;
  /// The indices epoch `e` (>= 0) visits, in order; size() of them.
  virtual std::vector<std::int64_t> indices(std::int64_t epoch) const = 0;
  /// Number of indices per epoch (PyTorch's __len__).
  virtual std::int64_t size() const = 0;
};

/// 0, 1, ..., n - 1 in order, every epoch (torch SequentialSampler). n >= 0; throws
/// xgrad::Error "SequentialSampler: ..." for n < 0.
class SequentialSampler : public Sampler {
 public:
  explicit SequentialSampler(std::int64_t n);
  std::vector<std::int64_t> indices(std::int64_t epoch) const override;
  std::int64_t size() const override { return n_; }

 private:
  std::int64_t n_;
};

/// Random indices into [0, n) (torch RandomSampler(data_source, replacement, num_samples)).
///  * replacement = false: a random permutation of [0, n); with num_samples = m != n, the
///    concatenation of floor(m / n) permutations followed by the first m % n entries of one
///    more (PyTorch's rule). The first permutation of epoch e is exactly the one
///    DataLoaderOptions().shuffle(true).seed(seed) visits in epoch e.
///  * replacement = true: m independent uniform draws from [0, n).
/// num_samples defaults to n. Throws xgrad::Error "RandomSampler: ..." for n < 0, for
/// num_samples < 1 (PyTorch: "num_samples should be a positive integer value"), and for
/// sampling from an empty range (n == 0 with num_samples given, or with replacement).
class RandomSampler : public Sampler {
 public:
  explicit RandomSampler(std::int64_t n, bool replacement = false,
                         std::optional<std::int64_t> num_samples = std::nullopt, std::uint64_t seed = 0);
  std::vector<std::int64_t> indices(std::int64_t epoch) const override;
  std::int64_t size() const override { return num_samples_; }

 private:
  std::int64_t n_;
  bool replacement_;
  std::int64_t num_samples_;
  std::uint64_t seed_;
};

/// The given indices in a new random order every epoch, without replacement (torch
/// SubsetRandomSampler): epoch e yields indices[p[0]], indices[p[1]], ... for a random
/// permutation p. Repeats in `indices` are kept. Throws xgrad::Error "SubsetRandomSampler: ..."
/// for an empty list or a negative index (PyTorch accepts an empty list; an empty epoch is
/// almost always a bug, so we refuse it). Indices past the dataset's end are reported by the
/// DataLoader.
class SubsetRandomSampler : public Sampler {
 public:
  explicit SubsetRandomSampler(std::vector<std::int64_t> indices, std::uint64_t seed = 0);
  std::vector<std::int64_t> indices(std::int64_t epoch) const override;
  std::int64_t size() const override { return static_cast<std::int64_t>(indices_.size()); }

 private:
  std::vector<std::int64_t> indices_;
  std::uint64_t seed_;
};

/// num_samples indices into [0, weights.size()) drawn with probability proportional to the
/// weights (torch WeightedRandomSampler; the weights need not sum to one):
///  * replacement = true (default): independent draws, P(i) = w_i / sum(w);
///  * replacement = false: successive draws without replacement, each from the remaining
///    weights (torch.multinomial's rule), drawn by exponential keys: index i gets key
///    E_i / w_i with E_i ~ Exp(1), and the num_samples smallest keys are the draw, in order.
/// Throws xgrad::Error "WeightedRandomSampler: ..." for an empty weight list, a negative, NaN
/// or infinite weight (naming its position and value), all weights zero, num_samples < 1, and
/// (without replacement) num_samples larger than the number of positive weights.
class WeightedRandomSampler : public Sampler {
 public:
  WeightedRandomSampler(std::vector<double> weights, std::int64_t num_samples, bool replacement = true,
                        std::uint64_t seed = 0);
  std::vector<std::int64_t> indices(std::int64_t epoch) const override;
  std::int64_t size() const override { return num_samples_; }
  const std::vector<double>& weights() const { return weights_; }

 private:
  std::vector<double> weights_;
  std::vector<double> cumulative_;  // running sums of the weights
  std::int64_t num_samples_;
  bool replacement_;
  std::uint64_t seed_;
};

/// Groups another sampler's indices into batches of batch_size (torch BatchSampler): the
/// last batch is smaller when the count is not a multiple of batch_size, or dropped with
/// drop_last. Throws xgrad::Error "BatchSampler: ..." for a null sampler or batch_size < 1.
class BatchSampler {
 public:
  BatchSampler(std::shared_ptr<const Sampler> sampler, std::int64_t batch_size, bool drop_last = false);
  virtual ~BatchSampler() = default;

  /// The batches of epoch e (the inner sampler's indices(e), cut into batches).
  virtual std::vector<std::vector<std::int64_t>> batches(std::int64_t epoch) const;
  /// Number of batches per epoch: ceil(n / batch_size), or floor with drop_last.
  virtual std::int64_t size() const;

  const std::shared_ptr<const Sampler>& sampler() const { return sampler_; }
  std::int64_t batch_size() const { return batch_size_; }
  bool drop_last() const { return drop_last_; }

 private:
  std::shared_ptr<const Sampler> sampler_;
  std::int64_t batch_size_;
  bool drop_last_;
};

}  // namespace xgrad::data
