// DistributedSampler: PyTorch's padding / striding over a shared (seed, epoch) order.
#include "xgrad/distributed/sampler.hpp"

#include <numeric>

#include <fmt/format.h>

#include "xgrad/autograd/tensor.hpp"
#include "xgrad/distributed/environment.hpp"

namespace xgrad::distributed {

DistributedSampler::DistributedSampler(std::int64_t n, std::optional<int> num_replicas, std::optional<int> rank,
                                       bool shuffle, std::uint64_t seed, bool drop_last)
    : n_(n), shuffle_(shuffle), seed_(seed), drop_last_(drop_last) {
  if (n < 0) throw Error(fmt::format("DistributedSampler: the number of indices must be non-negative, got {}", n));
  num_replicas_ = num_replicas ? *num_replicas : distributed::world_size();
  rank_ = rank ? *rank : distributed::rank();
  if (num_replicas_ < 1)
    throw Error(fmt::format("DistributedSampler: num_replicas must be at least 1, got {}", num_replicas_));
  if (rank_ < 0 || rank_ >= num_replicas_)
    throw Error(fmt::format("DistributedSampler: invalid rank {}, rank should be in the interval [0, {}]", rank_,
                            num_replicas_ - 1));
  const std::int64_t r = num_replicas_;
  per_rank_ = drop_last_ ? n / r : (n + r - 1) / r;
  if (drop_last_ && per_rank_ == 0)
    throw Error(fmt::format("DistributedSampler: with drop_last, {} indices leave nothing for each of {} replicas", n,
                            num_replicas_));
}

std::vector<std::int64_t> DistributedSampler::indices(std::int64_t epoch) const {
  if (epoch < 0) throw Error(fmt::format("DistributedSampler: epoch must be non-negative, got {}", epoch));
  std::vector<std::int64_t> order;
  if (shuffle_ && n_ > 0) {
    order = data::RandomSampler(n_, false, std::nullopt, seed_).indices(epoch);
  } else {
    order.resize(static_cast<std::size_t>(n_));
    std::iota(order.begin(), order.end(), std::int64_t{0});
  }
  const std::int64_t total = per_rank_ * num_replicas_;
  if (total > n_ && n_ > 0) {  // pad by repeating the start of the order (cyclically)
    order.reserve(static_cast<std::size_t>(total));
    for (std::int64_t k = n_; k < total; ++k) order.push_back(order[static_cast<std::size_t>(k - n_)]);
  }
  order.resize(static_cast<std::size_t>(total));  // drop_last cuts here
  std::vector<std::int64_t> out;
  out.reserve(static_cast<std::size_t>(per_rank_));
  for (std::int64_t k = rank_; k < total; k += num_replicas_) out.push_back(order[static_cast<std::size_t>(k)]);
  return out;
}

}  // namespace xgrad::distributed
