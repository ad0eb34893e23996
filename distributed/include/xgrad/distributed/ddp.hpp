// DistributedDataParallel: data-parallel training of one model replica per rank, with the
// gradients averaged over ranks during backward (torch.nn.parallel.DistributedDataParallel).
//
//   distributed::Environment env(argc, argv);
//   auto model = std::make_shared<Net>();          // same architecture on every rank
//   auto ddp = std::make_shared<distributed::DistributedDataParallel>(model);  // rank 0's weights everywhere
//   optim::SGD opt(ddp->parameters(), optim::SGDOptions(0.1));
//   for (const data::Batch& b : loader) {         // loader with a distributed::DistributedSampler
//     opt.zero_grad();
//     Tensor loss = nn::functional::cross_entropy((*ddp)(b.data), b.target);
//     loss.backward();                            // gradients averaged over ranks on return
//     opt.step();                                 // identical update on every rank
//   }
//
// Each rank feeds its own shard of the global batch; with a loss that averages over the
// local batch and equal local batch sizes, the averaged gradient is the gradient of the mean
// loss over the global batch, so training matches one process on the global batches.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "xgrad/autograd/options.hpp"
#include "xgrad/nn/module.hpp"

namespace xgrad::distributed {

/// Options of DistributedDataParallel (defaults in brackets, PyTorch's):
///  * bucket_cap_mb [25]: the size of a gradient bucket in MiB (> 0). Parameters are taken
///    in reverse registration order (roughly the order backward produces their gradients)
///    and packed into a bucket until the next would take it past the cap; a parameter larger
///    than the cap gets a bucket of its own; a bucket holds one dtype. Small caps start
///    communication earlier (more overlap with backward) at the price of more messages.
///  * broadcast_buffers [true]: every forward() first broadcasts the buffers (BatchNorm's
///    running statistics, ...) from rank 0, so that every rank computes with rank 0's.
///  * find_unused_parameters [false]: allow parameters that receive no gradient in a
///    backward (see synchronize()).
struct DistributedDataParallelOptions {
#define XGRAD_DISTRIBUTED_FIELDS(X)                          \
  X(double, bucket_cap_mb, 25.0, ::xgrad::options::positive) \
  X(bool, broadcast_buffers, true, ::xgrad::options::any)    \
  X(bool, find_unused_parameters, false, ::xgrad::options::any)
  XGRAD_OPTIONS(DistributedDataParallelOptions, XGRAD_DISTRIBUTED_FIELDS)
#undef XGRAD_DISTRIBUTED_FIELDS
};

/// Timing of the last gradient reduction (for benchmarks), in seconds of this rank's clock.
struct GradSyncStats {
  std::int64_t buckets = 0;  ///< buckets all-reduced
  std::int64_t bytes = 0;    ///< bytes all-reduced
  /// From the start of the first bucket's all-reduce to the moment every bucket was seen
  /// complete: the communication span of the step.
  double communication = 0;
  /// The part of `communication` spent blocked after the last gradient arrived (waiting for
  /// the all-reduces): the exposed communication. communication - exposed ran during
  /// backward, hidden behind it.
  double exposed = 0;
};

/// Wraps a module for data-parallel training over MPI_COMM_WORLD (see the top of this
/// header). The wrapped module is registered as the child "module", so parameters(),
/// state_dict() and save() read "module.<name>" like PyTorch's DDP; forward() calls the
/// module's operator() (its hooks run).
///
/// Construction (a collective: every rank must construct its DDP, in the same order):
/// checks that every rank's module has the same parameters and buffers (names' count,
/// shapes, dtypes: otherwise every rank throws xgrad::Error "DistributedDataParallel: ..."),
/// then broadcasts parameters and buffers from rank 0, so every replica starts equal, and
/// registers a gradient hook on every parameter that requires grad.
///
/// When the gradients are averaged (the contract):
///  * during loss.backward(), the hook of each parameter copies its gradient, plus what
///    .grad() already holds (gradients accumulated under no_sync()), into its bucket; a
///    bucket whose parameters all have their gradient starts a non-blocking all-reduce
///    (MPI_Iallreduce). Buckets start strictly in order 0, 1, ..., whatever the order of the
///    gradients, so every rank issues the same sequence and the sums never depend on timing:
///    parameters stay bit-identical across ranks.
///  * when the last parameter's gradient arrives (still inside backward()), its hook waits
///    for every bucket, divides by world_size() and writes the averages into every
///    parameter's .grad(). So when backward() returns, .grad() holds the average over ranks,
///    as in PyTorch: call optimizer.step() right away.
///  * if some parameter gets no gradient in a backward (a branch not taken), the reduction
///    cannot finish inside backward(): call synchronize() after backward(). It is a no-op
///    when the reduction is already done, so `loss.backward(); ddp->synchronize();
///    opt.step();` is always correct. forward() throws when a previous backward's
///    reduction was left unfinished.
/// Every rank must run the same sequence of forward()/backward()/synchronize() calls.
/// Gradients computed with autograd::grad() or with create_graph are not supported (the
/// hooks would start a reduction): compute those under no_sync().
class DistributedDataParallel : public nn::Module {
 public:
  /// Throws xgrad::Error for a null module, invalid options, MPI not initialised, or modules
  /// that differ across ranks.
  explicit DistributedDataParallel(std::shared_ptr<nn::Module> module, DistributedDataParallelOptions options = {});
  /// Removes the gradient hooks (waits for a reduction in flight).
  ~DistributedDataParallel() override;

  /// Broadcasts the buffers from rank 0 (broadcast_buffers, when the module has any), then
  /// returns (*module())(input). A collective. Throws xgrad::Error when the previous
  /// backward's reduction is unfinished (see synchronize()).
  Tensor forward(const Tensor& input) override;

  const std::shared_ptr<nn::Module>& module() const { return module_; }
  const DistributedDataParallelOptions& options() const { return options_; }

  /// Finishes the gradient reduction of the last backward: a no-op when it finished inside
  /// backward() or when no gradient arrived since the last reduction. Otherwise some
  /// parameters received no gradient: with find_unused_parameters(false) it waits for the
  /// buckets already started and throws xgrad::Error "DistributedDataParallel: no gradient
  /// reached parameters module.fc3.weight, ... in this backward; pass
  /// find_unused_parameters(true) ..."; with find_unused_parameters(true) those parameters
  /// contribute their local .grad() (zeros when undefined) and every parameter's .grad() is
  /// set to the average (a parameter unused on every rank gets a zero gradient; PyTorch
  /// leaves it undefined).
  void synchronize();

  /// RAII guard of no_sync(): restores the previous sync mode on destruction.
  class NoSyncGuard {
   public:
    explicit NoSyncGuard(DistributedDataParallel& ddp);
    ~NoSyncGuard();
    NoSyncGuard(const NoSyncGuard&) = delete;
    NoSyncGuard& operator=(const NoSyncGuard&) = delete;

   private:
    DistributedDataParallel& ddp_;
    bool previous_;
  };
  /// Gradient accumulation without communication (PyTorch's no_sync context manager): while
  /// the returned guard lives, backward() accumulates into .grad() locally; the first
  /// backward after it averages the accumulated sums (so K micro-batches under no_sync plus
  /// one synced equal one big batch, up to rounding, when the loss is scaled by 1/(K+1)).
  ///   { auto guard = ddp->no_sync(); ddp->forward(x1).sum().backward(); }
  ///   ddp->forward(x2).sum().backward();   // averages the sum of both gradients
  [[nodiscard]] NoSyncGuard no_sync() { return NoSyncGuard(*this); }
  /// False inside no_sync().
  bool require_backward_grad_sync() const;

  /// The buckets: the dotted names (relative to module(), e.g. "fc2.bias") of the parameters
  /// in each bucket, in bucket order.
  std::vector<std::vector<std::string>> bucket_parameter_names() const;
  /// Timing of the last completed reduction.
  GradSyncStats last_sync_stats() const;

  std::string extra_repr() const override;

  struct Reducer;

 private:
  std::shared_ptr<nn::Module> module_;
  DistributedDataParallelOptions options_;
  std::shared_ptr<Reducer> reducer_;
};

}  // namespace xgrad::distributed
