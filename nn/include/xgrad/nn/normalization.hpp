// Normalisation layers: batch_norm (BatchNorm1d/2d/3d), instance_norm (InstanceNorm1d/2d/3d),
// group_norm (GroupNorm) and local_response_norm (LocalResponseNorm). Functional forms in
// xgrad::nn::functional, modules in xgrad::nn. Definitions, defaults and buffer names are
// PyTorch's (a state dict saved by PyTorch loads here).
//
// Common rules:
// * input is [N, C, *] (N the batch, C the channels, * any number of spatial dims) unless a
//   module says it also takes an unbatched [C, *] input; the output has input's shape.
// * Floating dtypes only; weight, bias and running statistics must have input's dtype.
//   An integer input throws "<op>: expected a floating dtype (float32 or float64) ...".
// * Every user mistake throws xgrad::Error naming the op or layer and the shapes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "xgrad/autograd/tensor.hpp"
#include "xgrad/nn/module.hpp"
#include "xgrad/nn/options.hpp"

namespace xgrad::nn {

namespace functional {

/// Batch normalisation over every dim but the channel dim 1 (PyTorch's F.batch_norm):
///   y = (x - mean_c) / sqrt(var_c + eps) * weight_c + bias_c
/// input: [N, C, *] (at least 2-d); running_mean, running_var, weight, bias: [C] or undefined
/// (weight undefined = 1, bias undefined = 0).
/// training = true: mean_c and var_c are the batch statistics over the M = N * prod(*)
/// values of channel c, var_c BIASED (divided by M). When running_mean/var are defined they
/// are updated in place (under no-grad; their version counters move):
///   running_mean = (1 - momentum) running_mean + momentum mean_c
///   running_var  = (1 - momentum) running_var  + momentum var_c M / (M - 1)   (UNBIASED)
/// training = false: mean_c, var_c are running_mean, running_var (both must be defined).
/// One fused pass per channel (channels split across threads, each summed in a fixed order
/// in double: bit-identical at every thread count). grad_fn NativeBatchNormBackward, whose
/// fused backward is PyTorch's formula (training):
///   dx = weight invstd (g - mean(g) - xhat mean(g xhat)),  xhat = (x - mean) invstd,
///   dweight = sum(g xhat), dbias = sum(g)   (sums and means per channel);
/// not training: dx = g weight invstd. Under create_graph the backward is composed from
/// differentiable ops instead (same formula, mean and invstd recomputed from x), so it
/// differentiates again (gradgradcheck passes).
/// An empty input (N = 0) gives an empty output (x weight + bias) and leaves the running
/// statistics untouched (PyTorch).
/// Throws xgrad::Error: undefined or non-floating input, input with fewer than 2 dims, a [C]
/// argument of another shape or dtype, running statistics undefined when not training, and
/// "Expected more than 1 value per channel when training" when training with M == 1.
Tensor batch_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight = Tensor(), const Tensor& bias = Tensor(), bool training = false,
                  double momentum = 0.1, double eps = 1e-5);

/// Instance normalisation (PyTorch's F.instance_norm): batch_norm applied to each sample on
/// its own, i.e. statistics over the spatial dims of each (sample, channel).
/// input: [N, C, *] with at least one spatial dim; weight, bias, running_mean, running_var: [C]
/// or undefined. use_input_stats = true: per-instance statistics; running stats (when defined)
/// get the momentum update with the mean over the batch of the per-instance mean and unbiased
/// variance. use_input_stats = false: normalises with running_mean/var (must be defined).
/// Throws like batch_norm, and "Expected more than 1 spatial element when training" when
/// use_input_stats and prod(*) == 1.
Tensor instance_norm(const Tensor& input, const Tensor& running_mean = Tensor(), const Tensor& running_var = Tensor(),
                     const Tensor& weight = Tensor(), const Tensor& bias = Tensor(), bool use_input_stats = true,
                     double momentum = 0.1, double eps = 1e-5);

/// Group normalisation (PyTorch's F.group_norm): the C channels are split into num_groups
/// groups of C / num_groups consecutive channels; each (sample, group) is normalised with its
/// own mean and biased variance over its channels and spatial positions, then
///   y = xhat weight_c + bias_c.
/// input: [N, C, *] (at least 2-d); weight, bias: [C] or undefined. Composed from
/// differentiable ops (gradgradcheck passes). Same in training and evaluation.
/// Throws xgrad::Error when num_groups <= 0, C is not divisible by num_groups, or weight/bias
/// are not [C].
Tensor group_norm(const Tensor& input, std::int64_t num_groups, const Tensor& weight = Tensor(),
                  const Tensor& bias = Tensor(), double eps = 1e-5);

/// Local response normalisation across channels (PyTorch's F.local_response_norm):
///   y_c = x_c / (k + alpha / size * sum_{c' = c - size/2}^{c + (size-1)/2} x_{c'}^2)^beta
/// (channels outside [0, C) count as zero; the divisor is always `size`).
/// input: [N, C, *] with at least 3 dims. Composed from differentiable ops.
/// Throws xgrad::Error for fewer than 3 dims or size <= 0.
Tensor local_response_norm(const Tensor& input, std::int64_t size, double alpha = 1e-4, double beta = 0.75,
                           double k = 1.0);

}  // namespace functional

// ---- options --------------------------------------------------------------------------------

/// Options of BatchNorm1d/2d/3d: BatchNormOptions(3).momentum(std::nullopt).affine(false).
/// momentum: the weight of the new batch in the running statistics; std::nullopt selects the
/// cumulative moving average (factor 1 / num_batches_tracked). extra_repr prints like
/// PyTorch ("3, eps=1e-05, momentum=0.1, affine=true, track_running_stats=true"; None for
/// std::nullopt); the generic format_options cannot print the optional momentum.
struct BatchNormOptions {
  BatchNormOptions(std::int64_t num_features) { num_features_ = num_features; }  // NOLINT: implicit on purpose
#define XGRAD_NN_FIELDS(X)                                         \
  X(std::int64_t, num_features, 0, ::xgrad::options::non_negative) \
  X(double, eps, 1e-5, ::xgrad::options::any)                      \
  X(std::optional<double>, momentum, 0.1, ::xgrad::options::any)   \
  X(bool, affine, true, ::xgrad::options::any)                     \
  X(bool, track_running_stats, true, ::xgrad::options::any)
  XGRAD_OPTIONS(BatchNormOptions, XGRAD_NN_FIELDS)
#undef XGRAD_NN_FIELDS
};

/// Options of InstanceNorm1d/2d/3d: PyTorch's defaults affine = false and
/// track_running_stats = false. momentum std::nullopt means 0 (the running statistics are
/// then never updated), as in PyTorch's InstanceNorm.
struct InstanceNormOptions {
  InstanceNormOptions(std::int64_t num_features) { num_features_ = num_features; }  // NOLINT: implicit on purpose
#define XGRAD_NN_FIELDS(X)                                         \
  X(std::int64_t, num_features, 0, ::xgrad::options::non_negative) \
  X(double, eps, 1e-5, ::xgrad::options::any)                      \
  X(std::optional<double>, momentum, 0.1, ::xgrad::options::any)   \
  X(bool, affine, false, ::xgrad::options::any)                    \
  X(bool, track_running_stats, false, ::xgrad::options::any)
  XGRAD_OPTIONS(InstanceNormOptions, XGRAD_NN_FIELDS)
#undef XGRAD_NN_FIELDS
};

/// Options of GroupNorm: GroupNormOptions(num_groups, num_channels).eps(1e-3).affine(false).
struct GroupNormOptions {
  GroupNormOptions(std::int64_t num_groups, std::int64_t num_channels) {
    num_groups_ = num_groups;
    num_channels_ = num_channels;
  }
#define XGRAD_NN_FIELDS(X)                                         \
  X(std::int64_t, num_groups, 1, ::xgrad::options::positive)       \
  X(std::int64_t, num_channels, 0, ::xgrad::options::non_negative) \
  X(double, eps, 1e-5, ::xgrad::options::any)                      \
  X(bool, affine, true, ::xgrad::options::any)
  XGRAD_OPTIONS(GroupNormOptions, XGRAD_NN_FIELDS)
#undef XGRAD_NN_FIELDS
};

/// Options of LocalResponseNorm: LocalResponseNormOptions(size).alpha(1e-4).beta(0.75).k(1).
struct LocalResponseNormOptions {
  LocalResponseNormOptions(std::int64_t size) { size_ = size; }  // NOLINT: implicit on purpose
#define XGRAD_NN_FIELDS(X)                             \
  X(std::int64_t, size, 1, ::xgrad::options::positive) \
  X(double, alpha, 1e-4, ::xgrad::options::any)        \
  X(double, beta, 0.75, ::xgrad::options::any)         \
  X(double, k, 1.0, ::xgrad::options::any)
  XGRAD_OPTIONS(LocalResponseNormOptions, XGRAD_NN_FIELDS)
#undef XGRAD_NN_FIELDS
};

// ---- modules --------------------------------------------------------------------------------

/// The shared body of BatchNorm1d/2d/3d (PyTorch's _BatchNorm). Parameters weight (ones) and
/// bias (zeros), [num_features], when affine; buffers running_mean (zeros), running_var
/// (ones), both [num_features], and num_batches_tracked (0-d int64, 0), when
/// track_running_stats. forward(x):
/// * training with track_running_stats: num_batches_tracked += 1; batch statistics; running
///   statistics updated with momentum, or with 1 / num_batches_tracked when momentum is
///   std::nullopt (cumulative moving average);
/// * training without track_running_stats, or evaluation without running statistics: batch
///   statistics, nothing updated;
/// * evaluation with running statistics: normalises with them.
/// Throws xgrad::Error naming the layer: input of the wrong rank, a channel count (dim 1) other
/// than num_features (when affine or track_running_stats), one value per channel in
/// training, and (at construction) a negative num_features.
class BatchNormBase : public Module {
 public:
  Tensor forward(const Tensor& input) override;
  /// running_mean = 0, running_var = 1, num_batches_tracked = 0.
  void reset_running_stats();
  /// reset_running_stats(), weight = 1, bias = 0.
  void reset_parameters();
  std::string extra_repr() const override;
  const BatchNormOptions& options() const { return options_; }

  Tensor weight, bias;                                    ///< undefined without affine
  Tensor running_mean, running_var, num_batches_tracked;  ///< undefined without tracking

 protected:
  BatchNormBase(std::string name, const BatchNormOptions& options);
  /// Throws "<Layer>: expected ... input (got kD input of shape [...])" for a wrong rank.
  virtual void check_input_dim(const Tensor& input) const = 0;

  BatchNormOptions options_;
};

/// Batch norm over [N, C] or [N, C, L] inputs.
class BatchNorm1d : public BatchNormBase {
 public:
  explicit BatchNorm1d(const BatchNormOptions& options) : BatchNormBase("BatchNorm1d", options) {}
  explicit BatchNorm1d(std::int64_t num_features) : BatchNorm1d(BatchNormOptions(num_features)) {}

 protected:
  void check_input_dim(const Tensor& input) const override;
};

/// Batch norm over [N, C, H, W] inputs.
class BatchNorm2d : public BatchNormBase {
 public:
  explicit BatchNorm2d(const BatchNormOptions& options) : BatchNormBase("BatchNorm2d", options) {}
  explicit BatchNorm2d(std::int64_t num_features) : BatchNorm2d(BatchNormOptions(num_features)) {}

 protected:
  void check_input_dim(const Tensor& input) const override;
};

/// Batch norm over [N, C, D, H, W] inputs.
class BatchNorm3d : public BatchNormBase {
 public:
  explicit BatchNorm3d(const BatchNormOptions& options) : BatchNormBase("BatchNorm3d", options) {}
  explicit BatchNorm3d(std::int64_t num_features) : BatchNorm3d(BatchNormOptions(num_features)) {}

 protected:
  void check_input_dim(const Tensor& input) const override;
};

/// The shared body of InstanceNorm1d/2d/3d (PyTorch's _InstanceNorm): parameters and buffers
/// as BatchNormBase (weight/bias only with affine, running statistics and
/// num_batches_tracked only with track_running_stats; num_batches_tracked is registered for
/// PyTorch's state-dict layout but never incremented, as in PyTorch). forward(x) calls
/// instance_norm with per-instance statistics when training or without running statistics,
/// else with the running statistics. An unbatched input (one dim fewer) is treated as a batch
/// of one. Throws xgrad::Error naming the layer for a wrong rank, for a channel count other
/// than num_features when affine (PyTorch only warns when not affine; so do we not throw),
/// and like instance_norm.
class InstanceNormBase : public Module {
 public:
  Tensor forward(const Tensor& input) override;
  void reset_running_stats();
  void reset_parameters();
  std::string extra_repr() const override;
  const InstanceNormOptions& options() const { return options_; }

  Tensor weight, bias;
  Tensor running_mean, running_var, num_batches_tracked;

 protected:
  InstanceNormBase(std::string name, std::int64_t batched_dim, const InstanceNormOptions& options);

  std::int64_t batched_dim_;  // rank of a batched input (3, 4 or 5)
  InstanceNormOptions options_;
};

/// Instance norm over [N, C, L] or unbatched [C, L] inputs.
class InstanceNorm1d : public InstanceNormBase {
 public:
  explicit InstanceNorm1d(const InstanceNormOptions& options) : InstanceNormBase("InstanceNorm1d", 3, options) {}
  explicit InstanceNorm1d(std::int64_t num_features) : InstanceNorm1d(InstanceNormOptions(num_features)) {}
};

/// Instance norm over [N, C, H, W] or unbatched [C, H, W] inputs.
class InstanceNorm2d : public InstanceNormBase {
 public:
  explicit InstanceNorm2d(const InstanceNormOptions& options) : InstanceNormBase("InstanceNorm2d", 4, options) {}
  explicit InstanceNorm2d(std::int64_t num_features) : InstanceNorm2d(InstanceNormOptions(num_features)) {}
};

/// Instance norm over [N, C, D, H, W] or unbatched [C, D, H, W] inputs.
class InstanceNorm3d : public InstanceNormBase {
 public:
  explicit InstanceNorm3d(const InstanceNormOptions& options) : InstanceNormBase("InstanceNorm3d", 5, options) {}
  explicit InstanceNorm3d(std::int64_t num_features) : InstanceNorm3d(InstanceNormOptions(num_features)) {}
};

/// functional::group_norm with weight (ones) and bias (zeros), [num_channels], when affine.
/// Throws xgrad::Error at construction when num_channels is not divisible by num_groups or
/// num_groups <= 0; forward throws like group_norm (naming GroupNorm).
class GroupNorm : public Module {
 public:
  GroupNorm(std::int64_t num_groups, std::int64_t num_channels)
      : GroupNorm(GroupNormOptions(num_groups, num_channels)) {}
  explicit GroupNorm(const GroupNormOptions& options);
  Tensor forward(const Tensor& input) override;
  void reset_parameters();
  /// "2, 6, eps=1e-05, affine=true" (PyTorch's order).
  std::string extra_repr() const override;
  const GroupNormOptions& options() const { return options_; }

  Tensor weight, bias;

 private:
  GroupNormOptions options_;
};

/// functional::local_response_norm with the options' size, alpha, beta, k.
class LocalResponseNorm : public Module {
 public:
  explicit LocalResponseNorm(std::int64_t size) : LocalResponseNorm(LocalResponseNormOptions(size)) {}
  explicit LocalResponseNorm(const LocalResponseNormOptions& options);
  Tensor forward(const Tensor& input) override;
  /// "2, alpha=0.0001, beta=0.75, k=1.0".
  std::string extra_repr() const override;
  const LocalResponseNormOptions& options() const { return options_; }

 private:
  LocalResponseNormOptions options_;
};

// Internal (not `detail`: that name would shadow xgrad::detail inside xgrad::nn).
namespace norm_impl {
/// batch_norm with errors naming `op` (a layer's name); the functional form passes
/// "batch_norm". Shared by BatchNorm*, InstanceNorm* and instance_norm.
Tensor batch_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum, double eps, std::string_view op);
/// instance_norm with errors naming `op`.
Tensor instance_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                     const Tensor& bias, bool use_input_stats, double momentum, double eps, std::string_view op);
/// group_norm with errors naming `op`.
Tensor group_norm(const Tensor& input, std::int64_t num_groups, const Tensor& weight, const Tensor& bias, double eps,
                  std::string_view op);
}  // namespace norm_impl

}  // namespace xgrad::nn
