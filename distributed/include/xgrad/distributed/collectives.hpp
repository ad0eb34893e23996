// Collectives over MPI_COMM_WORLD on tensors, like torch.distributed's. Every rank must call
// the same collectives in the same order (MPI's rule); the calls below check that the
// tensors agree across ranks (shape and dtype, one small extra all-reduce per call) so that a
// mismatch throws the same xgrad::Error on every rank instead of corrupting memory or
// hanging. Waits use the watchdog of environment.hpp (timeout(), then MPI_Abort).
//
// dtypes: float32, float64, int64 and int32 for reductions; broadcast and the gathers also
// take bool (byte copies). Reductions of bool throw xgrad::Error "<op>: not supported for
// bool tensors"; ReduceOp::mean needs a floating tensor.
//
// Determinism: the result depends only on the values and the number of ranks, never on
// timing; every rank receives the same bits (MPI's reduction order is fixed for a given
// communicator size and message size; Open MPI's algorithms give every rank the same result).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "xgrad/autograd/tensor.hpp"
#include "xgrad/distributed/environment.hpp"

namespace xgrad::distributed {

/// The reductions (torch.distributed.ReduceOp): sum; mean = sum / world_size (PyTorch's
/// AVG; floating tensors only); max and min elementwise (NaN handling is MPI's: unspecified).
enum class ReduceOp { sum, mean, max, min };
/// "sum", "mean", "max", "min".
const char* to_string(ReduceOp op);

/// A pending non-blocking collective (torch.distributed.Work). wait() blocks until it is done
/// (with the watchdog) and finishes it (e.g. the division of ReduceOp::mean); the tensors
/// involved must not be read or written before wait() returns. The handle keeps them alive.
/// Destroying a pending Work waits for it (a collective cannot be cancelled). Movable, not
/// copyable. A default-constructed Work is complete.
class Work {
 public:
  Work();
  ~Work();
  Work(Work&&) noexcept;
  Work& operator=(Work&&) noexcept;
  Work(const Work&) = delete;
  Work& operator=(const Work&) = delete;

  /// Waits for completion (idempotent).
  void wait();
  /// Tests for completion without blocking (and lets MPI make progress); finishes the
  /// collective when it is done, so that a later wait() returns at once.
  bool is_completed();

  struct Impl;
  explicit Work(std::unique_ptr<Impl> impl);

 private:
  std::unique_ptr<Impl> impl_;
};

/// In place: tensor = op over ranks of every rank's tensor (elementwise). The tensor must be
/// contiguous (it is written through) and have the same shape and dtype on every rank. The
/// handle is const (a Tensor is a handle), so temporaries that share data work:
/// `all_reduce(param.grad(), ReduceOp::mean)`, `all_reduce(param.detach())`.
/// Throws xgrad::Error "all_reduce: ..." for an undefined or non-contiguous tensor, a
/// tensor that requires grad (write into a detached tensor: collectives are not
/// differentiable), an unsupported dtype, mean on an integer tensor, and shapes or dtypes
/// that differ across ranks (thrown on every rank). Empty and 0-d tensors are fine.
void all_reduce(const Tensor& tensor, ReduceOp op = ReduceOp::sum);
/// The non-blocking all_reduce (MPI_Iallreduce): returns at once. The same checks are made
/// locally, but shapes are not compared across ranks (that would block).
Work all_reduce_async(const Tensor& tensor, ReduceOp op = ReduceOp::sum);

/// In place: every rank's tensor takes root's values. Same requirements as all_reduce
/// (contiguous, same shape and dtype everywhere, no requires_grad); also throws for a root
/// outside [0, world_size()).
void broadcast(const Tensor& tensor, int root = 0);
/// Non-blocking broadcast (MPI_Ibcast); shapes not compared across ranks.
Work broadcast_async(const Tensor& tensor, int root = 0);

/// Every rank's tensor, in rank order: result[r] is rank r's `tensor` (a new contiguous
/// tensor of the same shape and dtype; result[rank()] is a copy of the input). Any layout
/// is accepted. Throws xgrad::Error "all_gather: ..." for an undefined tensor and for shapes
/// or dtypes that differ across ranks (PyTorch's all_gather also requires equal shapes).
std::vector<Tensor> all_gather(const Tensor& tensor);
/// The ranks' tensors concatenated along dim 0 (torch all_gather_into_tensor): input [n, ...]
/// gives [world_size * n, ...]; a 0-d input gives [world_size]. Same errors as all_gather.
Tensor all_gather_into_tensor(const Tensor& tensor);

/// Reduces every rank's `input` with op and returns this rank's chunk of the result along
/// dim 0 (torch reduce_scatter_tensor): input [W * n, ...] (W = world_size()) gives
/// [n, ...] = rows [rank * n, (rank + 1) * n) of the reduction. Any layout is accepted.
/// Throws xgrad::Error "reduce_scatter: ..." for an undefined or 0-d input, a dim 0 not
/// divisible by world_size() (naming both), an unsupported dtype, mean on integers, and
/// shapes or dtypes that differ across ranks.
Tensor reduce_scatter(const Tensor& input, ReduceOp op = ReduceOp::sum);

}  // namespace xgrad::distributed
