// Graph nodes (grad_fn), saved tensors and the helper every op uses to record itself.
// This header is public so that users can write their own differentiable ops; most will
// prefer the friendlier API in function.hpp.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "xgrad/autograd/tensor.hpp"

namespace xgrad {

class Node;

/// Where a gradient goes: input slot `input_nr` of node `fn`.
struct Edge {
  std::shared_ptr<Node> fn;
  std::uint32_t input_nr = 0;
  bool valid() const { return fn != nullptr; }
};

/// Shape and dtype of one forward output, kept so that missing gradients can be filled
/// with zeros and returned gradients can be checked.
struct OutputMeta {
  Shape shape;
  Dtype dtype = Dtype::float32;
};

/// A node of the backward graph. For an op with n forward inputs and m outputs, apply()
/// takes the m gradients of the outputs and returns n gradients, one per next_edges entry
/// (undefined where an input needs none).
class Node : public std::enable_shared_from_this<Node> {
 public:
  Node();
  virtual ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  virtual std::string name() const = 0;
  virtual std::vector<Tensor> apply(std::vector<Tensor>&& grad_outputs) = 0;
  /// Frees what backward needs (called after backward unless retain_graph).
  virtual void release_saved() {}
  /// Tensor hooks of a leaf, for AccumulateGrad; empty for ordinary nodes.
  virtual std::vector<TensorHook> leaf_hooks() const { return {}; }

  std::vector<Edge> next_edges;
  std::vector<OutputMeta> outputs;  // one per forward output
  /// Hooks registered on non-leaf outputs: (output_nr, id, hook). The engine runs them in
  /// registration order, then the retain_grad() hooks (id kRetainGradHook), so that .grad()
  /// holds the gradient after every hook (PyTorch 2.x).
  struct PreHook {
    std::uint32_t output_nr;
    std::size_t id;
    TensorHook fn;
  };
  static constexpr std::size_t kRetainGradHook = 0;
  std::vector<PreHook> pre_hooks;
  /// Set by ops whose backward can fold the gradient already accumulated for an input into
  /// its own result (one pass instead of two); the engine offers it only to those.
  bool folds_accumulated = false;
  /// Creation order; also the forward creation site reported by anomaly mode.
  std::uint64_t sequence_nr;
  std::string creation_site;  // "forward op #N", filled only under DetectAnomalyGuard
  /// Return addresses of the call stack that created the node (backtrace(), at most 48),
  /// filled only under DetectAnomalyGuard; symbolised only when anomaly mode reports it.
  std::vector<void*> creation_frames;
};

/// Accumulates the incoming gradient into a leaf's .grad().
class AccumulateGrad final : public Node {
 public:
  explicit AccumulateGrad(std::shared_ptr<TensorImpl> variable);
  std::string name() const override { return "AccumulateGrad"; }
  std::vector<Tensor> apply(std::vector<Tensor>&& grad_outputs) override;
  std::vector<TensorHook> leaf_hooks() const override;
  /// Adds g into variable's grad; `create_graph` keeps the addition differentiable. Safe to
  /// call from several backward passes at once (the sum's order is then unspecified).
  void accumulate(const Tensor& g, bool create_graph);
  std::shared_ptr<TensorImpl> variable;

 private:
  std::mutex mutex_;
};

/// A tensor saved for backward. Saving records the storage version; unpacking checks it
/// and throws if an in-place op changed the tensor in between. Outputs of the node itself
/// are saved without their grad_fn (no reference cycle) and re-attached on unpacking.
class SavedTensor {
 public:
  SavedTensor() = default;
  SavedTensor(const Tensor& t, bool is_output);
  Tensor unpack(const std::shared_ptr<Node>& owner, std::string_view op) const;
  bool defined() const { return data_.defined(); }
  /// Called for every node of the new history that an in-place op gives the written tensor
  /// (or its base). A saved tensor whose memory was written since it was saved can never be
  /// unpacked again (unpack throws the in-place modification error), but its handle may still
  /// reach the history the write gave that memory: a reference cycle that is never freed
  /// (x.mul_(x); a.add_(a * y); m = x * y, x.div_(z), z.add_(m)). Such a saved tensor becomes
  /// a history-free alias of the same memory that keeps the recorded version, so unpack still
  /// throws the same error.
  void drop_history_if_stale();

 private:
  Tensor data_;
  std::uint64_t version_ = 0;
  bool is_output_ = false;
  bool requires_grad_ = false;
  std::uint32_t output_nr_ = 0;
};

/// Backward of a recorded op: given the output gradients (never undefined: missing ones are
/// zero-filled) and the unpacked saved tensors, returns one gradient per forward input
/// (undefined when that input needs none). Built from differentiable Tensor ops, it gets
/// second derivatives for free.
using BackwardFn =
    std::function<std::vector<Tensor>(const std::vector<Tensor>& grads, const std::vector<Tensor>& saved)>;

/// The node used by every built-in op: a name, saved tensors and a backward lambda.
class FunctionNode : public Node {
 public:
  FunctionNode(std::string name, BackwardFn fn);
  std::string name() const override { return name_; }
  std::vector<Tensor> apply(std::vector<Tensor>&& grad_outputs) override;
  void release_saved() override;

  std::vector<SavedTensor> saved;

 private:
  std::string name_;
  BackwardFn fn_;
  bool released_ = false;
};

// ---- grad mode ---------------------------------------------------------------------------
/// True unless a NoGradGuard is alive on this thread.
bool grad_mode_enabled();
void set_grad_mode(bool enabled);

/// RAII: turns graph recording off on this thread (like torch::NoGradGuard).
class NoGradGuard {
 public:
  NoGradGuard() : prev_(grad_mode_enabled()) { set_grad_mode(false); }
  ~NoGradGuard() { set_grad_mode(prev_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

/// RAII: sets grad mode to `enabled` for the guard's lifetime.
class GradModeGuard {
 public:
  explicit GradModeGuard(bool enabled) : prev_(grad_mode_enabled()) { set_grad_mode(enabled); }
  ~GradModeGuard() { set_grad_mode(prev_); }
  GradModeGuard(const GradModeGuard&) = delete;
  GradModeGuard& operator=(const GradModeGuard&) = delete;

 private:
  bool prev_;
};

/// RAII: anomaly mode on this thread (torch.autograd.detect_anomaly). Backward checks every
/// gradient a node produces for NaN/Inf and throws xgrad::Error naming the node, the output
/// slot and shape, and the forward call that created the node:
///   "anomaly detected: MulBackward returned NaN or Inf values in its gradient #0 (shape
///    [4, 1]); the node was created by forward op #12 at src/train.cpp:42 (in train_step())"
/// The site is the first frame of the creating call stack outside xgrad's own sources and
/// outside system headers (/usr/...), symbolised lazily with `addr2line` (binutils) when the
/// error is raised. file:line needs debug line info in the user's code: compile it with -g
/// (or -g1, or clang's -gline-tables-only; the xgrad libraries need none). Without it, when
/// addr2line is missing, or when no frame resolves, the message says only "created by
/// forward op #N" (the node's creation number). A node recorded before the guard says "an op
/// recorded before anomaly mode".
/// Cost: one backtrace() (raw return addresses, no symbols) per recorded op, only while a
/// guard is alive; nothing otherwise.
class DetectAnomalyGuard {
 public:
  DetectAnomalyGuard();
  ~DetectAnomalyGuard();
  DetectAnomalyGuard(const DetectAnomalyGuard&) = delete;
  DetectAnomalyGuard& operator=(const DetectAnomalyGuard&) = delete;

 private:
  bool prev_;
};
bool anomaly_mode_enabled();

namespace detail {
/// One symbolised frame of a creation stack (innermost first; inlined calls expanded).
struct SourceFrame {
  std::string file;  // as addr2line gives it; "??" when unknown
  unsigned line = 0;  // 0 when unknown
  std::string function;
};
/// Anomaly mode's creation site: the first frame with a known file and line that is neither
/// in xgrad's own library sources under `source_dir` (autograd/, nn/, optim/, data/,
/// explain/, distributed/, include/; any .../include/xgrad/ header) nor a system file
/// (/usr/...), as "file:line (in function)", the file made relative to `source_dir` when
/// inside it. Empty when no frame qualifies.
std::string pick_creation_site(const std::vector<SourceFrame>& frames, std::string_view source_dir);
/// Symbolises `frames` (as in Node::creation_frames) with dladdr() and addr2line, then
/// pick_creation_site() with xgrad's source directory. Empty when nothing resolves; never
/// throws.
std::string resolve_creation_site(const std::vector<void*>& frames);
}  // namespace detail

// ---- recording helpers (used by ops) --------------------------------------------------------
/// True when grad mode is on and any of the inputs requires grad.
bool any_requires_grad(std::initializer_list<const Tensor*> inputs);
bool any_requires_grad(const std::vector<Tensor>& inputs);

/// The edge a gradient for `t` must flow into: its grad_fn, its leaf accumulator, or an
/// invalid edge when t does not require grad.
Edge gradient_edge(const Tensor& t);

/// Records an op: creates a FunctionNode named `name` whose edges point at `inputs`, saves
/// `to_save` (tensors among `outputs` are saved as outputs), and makes each floating output
/// a non-leaf with this node as grad_fn; integer outputs (indices) are non-differentiable
/// and stay leaves that do not require grad. Call only when any_requires_grad(inputs).
std::shared_ptr<FunctionNode> record(std::string name, const std::vector<Tensor>& inputs,
                                     const std::vector<Tensor>& outputs, const std::vector<Tensor>& to_save,
                                     BackwardFn backward);

/// Sums `grad` over broadcast dimensions so it gets `shape` (the one central
/// broadcast-reduction helper; differentiable).
Tensor sum_to(const Tensor& grad, const Shape& shape);

}  // namespace xgrad
