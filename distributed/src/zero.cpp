// ZeroRedundancyOptimizer: a greedy partition of the parameters, a local optimizer over the
// shard, broadcasts from the owners after each step.
#include "xgrad/distributed/zero.hpp"

#include <algorithm>
#include <numeric>
#include <unordered_set>

#include <fmt/format.h>

#include "mpi_util.hpp"
#include "xgrad/autograd/node.hpp"
#include "xgrad/distributed/collectives.hpp"

namespace xgrad::distributed {

ZeroRedundancyOptimizer::ZeroRedundancyOptimizer(std::vector<Tensor> params, OptimizerFactory make_optimizer)
    : params_(std::move(params)) {
  if (params_.empty()) throw Error("ZeroRedundancyOptimizer: got an empty parameter list");
  if (!make_optimizer) throw Error("ZeroRedundancyOptimizer: got a null optimizer factory");
  detail::require_mpi("ZeroRedundancyOptimizer");
  std::unordered_set<const void*> seen;
  detail::Signature sig;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    if (!p.defined()) throw Error(fmt::format("ZeroRedundancyOptimizer: parameter {} is undefined", i));
    if (!is_floating(p.dtype()) || !p.is_leaf() || !p.requires_grad())
      throw Error(fmt::format("ZeroRedundancyOptimizer: parameter {} ({}) must be a floating leaf that requires grad",
                              i, p.describe()));
    if (!seen.insert(p.impl().get()).second)
      throw Error(fmt::format("ZeroRedundancyOptimizer: parameter {} appears more than once", i));
    sig.add(static_cast<std::uint64_t>(p.dtype()));
    sig.add(static_cast<std::uint64_t>(p.dim()));
    for (std::int64_t s : p.shape()) sig.add(static_cast<std::uint64_t>(s));
  }
  if (!detail::same_on_all_ranks(sig, "ZeroRedundancyOptimizer's construction (comparing the parameters)"))
    throw Error(
        fmt::format("ZeroRedundancyOptimizer: the ranks' parameter lists differ (shapes or dtypes); rank {} "
                    "has {} parameters",
                    rank(), params_.size()));

  const int n = world_size(), me = rank();
  std::vector<std::size_t> order(params_.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return params_[a].numel() > params_[b].numel(); });
  std::vector<std::int64_t> load(static_cast<std::size_t>(n), 0);
  owner_.assign(params_.size(), 0);
  for (std::size_t i : order) {
    const auto r = static_cast<std::size_t>(std::min_element(load.begin(), load.end()) - load.begin());
    owner_[i] = static_cast<int>(r);
    load[r] += params_[i].numel();
  }
  for (std::size_t i = 0; i < params_.size(); ++i)
    if (owner_[i] == me) local_.push_back(params_[i]);
  if (!local_.empty()) {
    optimizer_ = make_optimizer(local_);
    if (!optimizer_) throw Error("ZeroRedundancyOptimizer: the optimizer factory returned a null optimizer");
  }
}

void ZeroRedundancyOptimizer::step() {
  if (optimizer_) optimizer_->step();
  NoGradGuard no_grad;
  std::vector<Work> works;
  std::vector<std::pair<Tensor, Tensor>> copy_back;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    Tensor d = params_[i].detach();
    if (!d.is_contiguous()) {
      copy_back.emplace_back(d, d.contiguous().clone());
      d = copy_back.back().second;
    }
    works.push_back(broadcast_async(d, owner_[i]));
  }
  for (Work& w : works) w.wait();
  for (auto& [dst, src] : copy_back) dst.copy_(src);
}

void ZeroRedundancyOptimizer::zero_grad(bool set_to_none) {
  for (const Tensor& p : params_) {
    if (set_to_none) {
      p.set_grad(Tensor());
    } else if (Tensor g = p.grad(); g.defined()) {
      NoGradGuard no_grad;
      g.zero_();
    }
  }
}

int ZeroRedundancyOptimizer::owner(std::size_t i) const {
  if (i >= owner_.size())
    throw Error(
        fmt::format("ZeroRedundancyOptimizer: parameter index {} is out of range for {} parameters", i, owner_.size()));
  return owner_[i];
}

std::int64_t ZeroRedundancyOptimizer::local_state_bytes() const {
  if (!optimizer_) return 0;
  std::int64_t bytes = 0;
  for (const auto& [key, t] : optimizer_->state_dict())
    if (key.rfind("state.", 0) == 0) bytes += t.numel() * static_cast<std::int64_t>(dtype_size(t.dtype()));
  return bytes;
}

}  // namespace xgrad::distributed
