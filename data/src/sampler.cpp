// Samplers: sequential, random (with / without replacement), subset, weighted, batches.
#include "xgrad/data/sampler.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <fmt/format.h>

#include "common.hpp"
#include "xgrad/autograd/tensor.hpp"

namespace xgrad::data {

namespace {

void check_epoch(std::int64_t epoch, const char* who) {
  if (epoch < 0) throw Error(fmt::format("{}: epoch must be non-negative, got {}", who, epoch));
}

/// splitmix64 finaliser: seeds of the extra permutations of a RandomSampler epoch.
std::uint64_t mix(std::uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

// ---- SequentialSampler -----------------------------------------------------------------

SequentialSampler::SequentialSampler(std::int64_t n) : n_(n) {
  if (n < 0) throw Error(fmt::format("SequentialSampler: the number of indices must be non-negative, got {}", n));
}

std::vector<std::int64_t> SequentialSampler::indices(std::int64_t epoch) const {
  check_epoch(epoch, "SequentialSampler");
  std::vector<std::int64_t> out(static_cast<std::size_t>(n_));
  std::iota(out.begin(), out.end(), std::int64_t{0});
  return out;
}

// ---- RandomSampler ---------------------------------------------------------------------

RandomSampler::RandomSampler(std::int64_t n, bool replacement, std::optional<std::int64_t> num_samples,
                             std::uint64_t seed)
    : n_(n), replacement_(replacement), num_samples_(num_samples.value_or(n)), seed_(seed) {
  if (n < 0) throw Error(fmt::format("RandomSampler: the number of indices must be non-negative, got {}", n));
  if (num_samples && *num_samples < 1)
    throw Error(fmt::format("RandomSampler: num_samples should be a positive integer, got {}", *num_samples));
  if (n == 0 && (num_samples || replacement))
    throw Error(fmt::format("RandomSampler: cannot draw {} sample(s) from an empty range of indices", num_samples_));
}

std::vector<std::int64_t> RandomSampler::indices(std::int64_t epoch) const {
  check_epoch(epoch, "RandomSampler");
  const std::uint64_t seed = seed_ + static_cast<std::uint64_t>(epoch);
  std::vector<std::int64_t> out;
  out.reserve(static_cast<std::size_t>(num_samples_));
  if (replacement_) {
    detail::Rng rng(seed);
    for (std::int64_t k = 0; k < num_samples_; ++k)
      out.push_back(static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(n_))));
    return out;
  }
  // Whole permutations, then part of one more; the first is the DataLoader's shuffle order.
  for (std::uint64_t block = 0; static_cast<std::int64_t>(out.size()) < num_samples_; ++block) {
    const auto p = detail::permutation(n_, block == 0 ? seed : mix(seed ^ mix(block)));
    const auto take = std::min<std::int64_t>(n_, num_samples_ - static_cast<std::int64_t>(out.size()));
    out.insert(out.end(), p.begin(), p.begin() + take);
  }
  return out;
}

// ---- SubsetRandomSampler ---------------------------------------------------------------

SubsetRandomSampler::SubsetRandomSampler(std::vector<std::int64_t> indices, std::uint64_t seed)
    : indices_(std::move(indices)), seed_(seed) {
  if (indices_.empty()) throw Error("SubsetRandomSampler: expected at least one index, got an empty list");
  for (std::size_t i = 0; i < indices_.size(); ++i)
    if (indices_[i] < 0)
      throw Error(fmt::format("SubsetRandomSampler: index {} (at position {}) is negative", indices_[i], i));
}

std::vector<std::int64_t> SubsetRandomSampler::indices(std::int64_t epoch) const {
  check_epoch(epoch, "SubsetRandomSampler");
  const auto p = detail::permutation(size(), seed_ + static_cast<std::uint64_t>(epoch));
  std::vector<std::int64_t> out(p.size());
  for (std::size_t k = 0; k < p.size(); ++k) out[k] = indices_[static_cast<std::size_t>(p[k])];
  return out;
}

// ---- WeightedRandomSampler -------------------------------------------------------------

WeightedRandomSampler::WeightedRandomSampler(std::vector<double> weights, std::int64_t num_samples, bool replacement,
                                             std::uint64_t seed)
    : weights_(std::move(weights)), num_samples_(num_samples), replacement_(replacement), seed_(seed) {
  if (weights_.empty()) throw Error("WeightedRandomSampler: expected at least one weight, got an empty list");
  if (num_samples < 1)
    throw Error(fmt::format("WeightedRandomSampler: num_samples should be a positive integer, got {}", num_samples));
  std::int64_t positive = 0;
  double sum = 0.0;
  cumulative_.reserve(weights_.size());
  for (std::size_t i = 0; i < weights_.size(); ++i) {
    const double w = weights_[i];
    if (!std::isfinite(w) || w < 0.0)
      throw Error(
          fmt::format("WeightedRandomSampler: weights must be finite and non-negative, got {} at position {}", w, i));
    positive += w > 0.0;
    sum += w;
    cumulative_.push_back(sum);
  }
  if (positive == 0) throw Error(fmt::format("WeightedRandomSampler: all {} weights are zero", weights_.size()));
  if (!std::isfinite(sum)) throw Error("WeightedRandomSampler: the sum of the weights overflows");
  if (!replacement && num_samples > positive)
    throw Error(
        fmt::format("WeightedRandomSampler: cannot draw {} samples without replacement from {} positive "
                    "weights (of {})",
                    num_samples, positive, weights_.size()));
}

std::vector<std::int64_t> WeightedRandomSampler::indices(std::int64_t epoch) const {
  check_epoch(epoch, "WeightedRandomSampler");
  detail::Rng rng(seed_ + static_cast<std::uint64_t>(epoch));
  const auto n = static_cast<std::int64_t>(weights_.size());
  std::vector<std::int64_t> out;
  out.reserve(static_cast<std::size_t>(num_samples_));
  if (replacement_) {
    const double total = cumulative_.back();
    for (std::int64_t k = 0; k < num_samples_; ++k) {
      // First i with cumulative_[i] > u: index i has probability w_i / total (zero weights
      // are never chosen: their running sum equals the previous one).
      const double u = rng.uniform() * total;
      auto it = std::upper_bound(cumulative_.begin(), cumulative_.end(), u);
      if (it == cumulative_.end()) --it;  // rounding of u near total
      while (weights_[static_cast<std::size_t>(it - cumulative_.begin())] == 0.0) --it;
      out.push_back(it - cumulative_.begin());
    }
    return out;
  }
  std::vector<std::pair<double, std::int64_t>> keys;
  keys.reserve(weights_.size());
  for (std::int64_t i = 0; i < n; ++i) {
    const double e = -std::log(1.0 - rng.uniform());  // Exp(1); 1 - u is in (0, 1]
    const double w = weights_[static_cast<std::size_t>(i)];
    if (w > 0.0) keys.emplace_back(e / w, i);
  }
  std::partial_sort(keys.begin(), keys.begin() + num_samples_, keys.end());
  for (std::int64_t k = 0; k < num_samples_; ++k) out.push_back(keys[static_cast<std::size_t>(k)].second);
  return out;
}

// ---- BatchSampler ----------------------------------------------------------------------

BatchSampler::BatchSampler(std::shared_ptr<const Sampler> sampler, std::int64_t batch_size, bool drop_last)
    : sampler_(std::move(sampler)), batch_size_(batch_size), drop_last_(drop_last) {
  if (!sampler_) throw Error("BatchSampler: expected a sampler, got a null pointer");
  if (batch_size < 1) throw Error(fmt::format("BatchSampler: batch_size must be at least 1, got {}", batch_size));
}

std::vector<std::vector<std::int64_t>> BatchSampler::batches(std::int64_t epoch) const {
  const std::vector<std::int64_t> all = sampler_->indices(epoch);
  std::vector<std::vector<std::int64_t>> out;
  const auto n = static_cast<std::int64_t>(all.size());
  for (std::int64_t begin = 0; begin < n; begin += batch_size_) {
    const std::int64_t end = std::min(begin + batch_size_, n);
    if (drop_last_ && end - begin < batch_size_) break;
    out.emplace_back(all.begin() + begin, all.begin() + end);
  }
  return out;
}

std::int64_t BatchSampler::size() const {
  const std::int64_t n = sampler_->size();
  return drop_last_ ? n / batch_size_ : (n + batch_size_ - 1) / batch_size_;
}

}  // namespace xgrad::data
