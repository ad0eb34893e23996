// DistributedSampler: each rank's share of a dataset's indices (torch DistributedSampler),
// for DataLoaderOptions::sampler.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "xgrad/data/sampler.hpp"

namespace xgrad::distributed {

/// Rank `rank`'s shard of the indices [0, n) for a job of num_replicas ranks:
///  1. order: 0..n-1, or with shuffle a permutation of [0, n) drawn from (seed, epoch) only
///     (the same on every rank; it is RandomSampler(n, false, n, seed)'s epoch e order, i.e.
///     DataLoaderOptions().shuffle(true).seed(seed)'s);
///  2. padding so that every rank gets the same number of indices: without drop_last the
///     order is extended to total = ceil(n / R) * R by repeating its first indices (cyclically
///     when n < total - n); with drop_last it is cut to total = floor(n / R) * R;
///  3. rank r takes positions r, r + R, r + 2R, ... of it: size() = total / R indices.
/// So the shards are disjoint (except for the repeated padding) and together cover the data
/// (all but the n - total dropped with drop_last), and every rank steps the same number of
/// times. This is PyTorch's algorithm; its permutation (torch.randperm) differs.
///
/// Epochs: xgrad's DataLoader passes its epoch to indices(e), so the shuffle changes every
/// epoch without PyTorch's sampler.set_epoch(e) (forgetting it there repeats epoch 0's
/// order); DataLoader::set_epoch(e) replays an epoch. Give every rank the same seed.
///
/// Throws xgrad::Error "DistributedSampler: ..." for n < 0, num_replicas < 1, a rank outside
/// [0, num_replicas), and (like PyTorch) an empty shard with drop_last (n < num_replicas).
/// num_replicas and rank default to world_size() and rank() (MPI must then be initialised).
class DistributedSampler : public data::Sampler {
 public:
  explicit DistributedSampler(std::int64_t n, std::optional<int> num_replicas = std::nullopt,
                              std::optional<int> rank = std::nullopt, bool shuffle = true, std::uint64_t seed = 0,
                              bool drop_last = false);
  /// This rank's indices for epoch `epoch` (>= 0, else xgrad::Error).
  std::vector<std::int64_t> indices(std::int64_t epoch) const override;
  /// Indices per rank and epoch: ceil(n / R), or floor(n / R) with drop_last.
  std::int64_t size() const override { return per_rank_; }

  std::int64_t dataset_size() const { return n_; }
  int num_replicas() const { return num_replicas_; }
  int rank() const { return rank_; }
  bool shuffle() const { return shuffle_; }
  std::uint64_t seed() const { return seed_; }
  bool drop_last() const { return drop_last_; }

 private:
  std::int64_t n_;
  int num_replicas_;
  int rank_;
  bool shuffle_;
  std::uint64_t seed_;
  bool drop_last_;
  std::int64_t per_rank_;
};

}  // namespace xgrad::distributed
