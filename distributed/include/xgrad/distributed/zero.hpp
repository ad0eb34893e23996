// ZeRO stage 1: optimizer state sharded over the ranks (torch.distributed.optim.
// ZeroRedundancyOptimizer). Each rank keeps the optimizer state (Adam's two moments, ...) of
// its own share of the parameters only, updates those parameters, and then every parameter
// is broadcast from the rank that owns it, so all replicas stay equal. With R ranks the
// optimizer state per rank is about 1/R of the unsharded one.
//
//   auto ddp = std::make_shared<distributed::DistributedDataParallel>(model);
//   distributed::ZeroRedundancyOptimizer opt(ddp->parameters(), [](const std::vector<Tensor>& p) {
//     return std::make_unique<optim::Adam>(p, optim::AdamOptions(1e-3));
//   });
//   ... loss.backward();   // DDP averages the gradients
//   opt.step();            // local update of the shard, then broadcasts
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "xgrad/optim/optimizer.hpp"

namespace xgrad::distributed {

/// Shards an optimizer over the ranks of MPI_COMM_WORLD.
///
/// Partition: parameters are taken largest first (by element count; ties in the given
/// order) and each is given to the rank with the fewest elements so far (ties: lowest rank),
/// the same on every rank. make_optimizer is called once, on each rank that owns at least one
/// parameter, with that rank's parameters in their given order; the optimizer it returns
/// holds state for those only.
///
/// Results: the update of a parameter is computed by its owner exactly as the unsharded
/// optimizer would (elementwise optimizers such as SGD, Adam, AdamW), so training gives the
/// same parameters as the unsharded optimizer under DDP, bit for bit. Optimizers whose step
/// couples parameters (LBFGS; a global gradient clip done inside step) are not supported.
/// LR schedulers act on local_optimizer() (on every rank that has one). state_dict() is not
/// offered: each rank's local_optimizer()->state_dict() holds its shard (PyTorch's
/// consolidate_state_dict is not implemented).
class ZeroRedundancyOptimizer {
 public:
  using OptimizerFactory = std::function<std::unique_ptr<optim::Optimizer>(const std::vector<Tensor>& params)>;

  /// A collective. Throws xgrad::Error "ZeroRedundancyOptimizer: ..." for an empty parameter
  /// list, an undefined, non-floating or non-leaf parameter or one that does not require
  /// grad (naming its index), a parameter given twice, a null factory or a null optimizer
  /// returned by it, MPI not initialised, and parameter lists whose shapes or dtypes differ
  /// across ranks (on every rank).
  ZeroRedundancyOptimizer(std::vector<Tensor> params, OptimizerFactory make_optimizer);

  /// A collective: the local optimizer's step (when this rank owns parameters), then every
  /// parameter is broadcast from its owner.
  void step();
  /// Clears (set_to_none) or zeroes the gradients of ALL parameters, as Optimizer::zero_grad.
  void zero_grad(bool set_to_none = true);

  /// The parameters, as given.
  const std::vector<Tensor>& parameters() const { return params_; }
  /// The rank that owns parameters()[i] (throws xgrad::Error for i out of range).
  int owner(std::size_t i) const;
  /// This rank's parameters (in their given order).
  const std::vector<Tensor>& local_parameters() const { return local_; }
  /// This rank's optimizer; null when it owns no parameter.
  optim::Optimizer* local_optimizer() const { return optimizer_.get(); }
  /// Bytes of per-parameter optimizer state held on this rank (the "state.*" tensors of
  /// local_optimizer()->state_dict(); 0 before the first step).
  std::int64_t local_state_bytes() const;

 private:
  std::vector<Tensor> params_;
  std::vector<int> owner_;
  std::vector<Tensor> local_;
  std::unique_ptr<optim::Optimizer> optimizer_;
};

}  // namespace xgrad::distributed
