// xgrad::Tensor: a cheap handle to a strided view (sizes, strides, storage offset) of a
// shared, typed buffer plus its autograd identity (requires_grad, grad, grad_fn), like
// torch::Tensor.
#pragma once

#include <concepts>
#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "xgrad/autograd/dtype.hpp"

namespace xgrad {

class Node;
struct TensorImpl;
class Tensor;
namespace indexing {
class TensorIndex;
}

/// Shared, reference-counted data buffer. A tensor and all its views share one Storage, and
/// so its version counter, which every in-place op (through any alias) bumps so that
/// backward can detect a saved tensor that was modified after it was saved.
struct Storage {
  explicit Storage(std::size_t nbytes);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  std::byte* data = nullptr;
  std::size_t nbytes = 0;
  std::uint64_t version = 0;

 private:
  // Small tensors live inside the Storage object itself: one allocation fewer per op.
  static constexpr std::size_t kInlineBytes = 64;
  alignas(16) std::byte inline_[kInlineBytes];
};

/// A single dimension index: any integer type but bool. Overloads taking one dim are
/// templates on it (Tensor::std(I dim), xgrad::max(a, I dim) ...) because a braced list is
/// never deduced: x.std({}), max(a, {1}) and max(a, {0, 1}) keep calling the overloads that
/// take a list of dims. A plain std::int64_t parameter would win for {} and {1}
/// (list-initialising a scalar is an exact match, a vector needs a user-defined conversion)
/// and x.std({}) would silently mean dim 0. A bool is never taken for a dim.
template <class I>
concept DimIndex = std::integral<I> && !std::same_as<I, bool>;

/// A gradient hook: sees the gradient flowing into a tensor and may return a replacement
/// (return an undefined Tensor to keep the gradient unchanged).
using TensorHook = std::function<Tensor(const Tensor&)>;

/// Options of Tensor::backward and autograd::backward (PyTorch semantics).
struct BackwardOptions {
  /// Keep the graph's saved tensors so that backward can run through it again. When false
  /// (default) they are freed and a second backward through the graph throws.
  bool retain_graph = false;
  /// Record the backward pass itself so the gradients can be differentiated again.
  /// Implies retain_graph. As in PyTorch, a leaf's differentiable .grad() then references
  /// the graph that references the leaf (a cycle): clear it with set_grad(Tensor()) when
  /// done, or prefer autograd::grad(), which touches no .grad().
  bool create_graph = false;
  /// When not empty, gradients are accumulated into these tensors' .grad() only.
  std::vector<Tensor> inputs;
};

/// A handle to a tensor. Copying a Tensor never copies data. A default-constructed Tensor is
/// undefined; every op given one throws xgrad::Error.
///
/// Layout (PyTorch's): sizes, strides (in elements, >= 0) and a storage offset over a shared
/// Storage. The ops PyTorch implements as views are views here too (see shape.hpp): they
/// share storage, so writes through a view reach its base, and their gradients follow
/// PyTorch's model for in-place ops on views (README "Semantics in brief"). Ops that copy
/// (cat, index_select, gather, ...) always return contiguous tensors.
class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- metadata ---------------------------------------------------------------------
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  /// Size of dimension d; negative d counts from the end. Throws on an out-of-range d.
  std::int64_t size(std::int64_t d) const;
  std::int64_t dim() const;
  std::int64_t numel() const;
  Dtype dtype() const;
  /// "Tensor(shape=[2, 3], dtype=float32)"-style short description used in messages.
  std::string describe() const;

  // ---- layout -----------------------------------------------------------------------
  /// Strides in elements, one per dim (0 on expanded dims).
  const Shape& strides() const;
  /// Stride of dimension d; negative d counts from the end.
  std::int64_t stride(std::int64_t d) const;
  /// Offset of element [0, ..., 0] in the storage, in elements.
  std::int64_t storage_offset() const;
  /// True when the elements lie in row-major order without gaps (PyTorch's rule: size-1
  /// dims may have any stride).
  bool is_contiguous() const;
  /// *this when contiguous, else a contiguous copy (differentiable; gradient passes through).
  Tensor contiguous() const;
  /// True for a tensor made by a view op from another tensor (its base).
  bool is_view() const;

  // ---- data access ------------------------------------------------------------------
  /// Raw pointer to the first element of a contiguous tensor. Throws if T does not match
  /// dtype() and when the tensor is not contiguous (call contiguous() first), so no kernel
  /// can read a view as if it were packed.
  template <class T>
  T* data_ptr() const;
  /// Pointer to element [0, ..., 0] of any tensor, for kernels that read strides()
  /// themselves. Throws if T does not match dtype().
  template <class T>
  T* strided_data_ptr() const;
  /// Zero-copy xtensor view of the data (an xtensor adaptor over the buffer with this
  /// tensor's shape and strides, read and write). Defined in <xgrad/autograd/xtensor.hpp>,
  /// which pulls in xtensor's headers.
  template <class T>
  auto data() const;
  /// The single element of a 1-element tensor, converted to T. Throws otherwise.
  template <class T = double>
  T item() const;
  /// The elements in row-major order as a std::vector<T> (copy); T must match dtype().
  template <class T>
  std::vector<T> to_vector() const;

  // ---- autograd ---------------------------------------------------------------------
  bool requires_grad() const;
  /// Sets requires_grad on a leaf. Throws for int64 tensors and for non-leaves when
  /// asked to turn it off.
  Tensor& requires_grad_(bool on = true);
  /// Accumulated gradient (undefined until a backward reaches this tensor). Throws for a
  /// non-leaf that did not call retain_grad() (backward never fills its .grad()).
  Tensor grad() const;
  /// Replaces the accumulated gradient (undefined to clear it).
  void set_grad(const Tensor& g) const;
  /// True for tensors created by the user (no grad_fn).
  bool is_leaf() const;
  /// The node that created this tensor, null for leaves.
  const std::shared_ptr<Node>& grad_fn() const;
  /// Name of grad_fn ("MulBackward", ...), or "" for leaves.
  std::string grad_fn_name() const;
  std::uint32_t output_nr() const;
  /// Make backward fill .grad() of this non-leaf too. As in PyTorch 2.x, .grad() receives the
  /// gradient after every hook registered on this tensor has run, whatever the order in which
  /// retain_grad() and register_hook() were called.
  void retain_grad() const;
  bool retains_grad() const;
  /// Register a gradient hook; returns an id for remove_hook.
  std::size_t register_hook(TensorHook hook) const;
  void remove_hook(std::size_t id) const;
  /// Same data and layout, no history, requires_grad false. Shares storage (and so the
  /// version counter).
  Tensor detach() const;
  /// Computes d(this)/d(leaves) and accumulates it into their .grad(). `gradient` is the
  /// seed dL/d(this); it may be omitted only for 1-element tensors (then it is 1).
  /// Throws when this does not require grad, on a non-scalar without a seed, on a seed of
  /// the wrong shape or dtype, and when the graph was freed by an earlier backward.
  void backward(const Tensor& gradient = Tensor(), const BackwardOptions& options = {}) const;

  // ---- copies and conversions -------------------------------------------------------
  /// Deep copy; differentiable (gradient flows back to this).
  Tensor clone() const;
  /// Conversion to another dtype; differentiable between floating types. Returns *this
  /// when the dtype already matches.
  Tensor to(Dtype d) const;

  // ---- methods mirroring the free functions (see ops headers for the formulas) ------
  Tensor add(const Tensor& o) const;
  Tensor sub(const Tensor& o) const;
  Tensor mul(const Tensor& o) const;
  Tensor div(const Tensor& o) const;
  Tensor add(double s) const;
  Tensor sub(double s) const;
  Tensor mul(double s) const;
  Tensor div(double s) const;
  Tensor neg() const;
  Tensor pow(double e) const;
  Tensor pow(const Tensor& e) const;
  Tensor exp() const;
  Tensor log() const;
  Tensor log1p() const;
  Tensor sqrt() const;
  Tensor rsqrt() const;
  Tensor abs() const;
  Tensor sin() const;
  Tensor cos() const;
  Tensor tanh() const;
  Tensor sigmoid() const;
  Tensor relu() const;
  Tensor erf() const;
  Tensor sign() const;
  Tensor clamp(std::optional<double> min, std::optional<double> max) const;
  Tensor eq(const Tensor& o) const;
  Tensor ne(const Tensor& o) const;
  Tensor lt(const Tensor& o) const;
  Tensor le(const Tensor& o) const;
  Tensor gt(const Tensor& o) const;
  Tensor ge(const Tensor& o) const;

  Tensor sum() const;
  Tensor sum(const std::vector<std::int64_t>& dims, bool keepdim = false) const;
  Tensor mean() const;
  Tensor mean(const std::vector<std::int64_t>& dims, bool keepdim = false) const;
  Tensor max() const;
  Tensor min() const;
  Tensor argmax(std::optional<std::int64_t> dim = std::nullopt, bool keepdim = false) const;
  Tensor argmin(std::optional<std::int64_t> dim = std::nullopt, bool keepdim = false) const;
  // ---- reductions by dim (API fidelity) ----
  // Member forms of the reductions in reduction.hpp (formulas, gradients and errors there).
  // A braced list or a vector lists the dims (empty: all); negative dims count from the end.
  // An integer `dim` means the single dim {dim}. Those overloads are templates on DimIndex
  // (any integer type but bool) so that a braced list never deduces to them: x.std({}) is
  // the std over all dims (a plain int64 overload would win for {} and make it dim 0), and
  // a bool never becomes a dim (libtorch's x.std(false), "unbiased = false", does not
  // compile here; write x.std({}, 0)).
  /// PyTorch's max(dim, keepdim): (values, indices) of the maximum along dim; indices are
  /// int64 and never require grad. The first occurrence wins among ties (NaN counts as the
  /// maximum). The gradient goes to the returned index only (max() and amax() split it
  /// evenly among ties). Throws like xgrad::max(a, dim). x.max({...}) does not compile:
  /// use amax for a list of dims.
  std::tuple<Tensor, Tensor> max(std::int64_t dim, bool keepdim = false) const;
  std::tuple<Tensor, Tensor> max(std::initializer_list<std::int64_t> dims, bool keepdim = false) const = delete;
  /// min(dim, keepdim), like max(dim, keepdim).
  std::tuple<Tensor, Tensor> min(std::int64_t dim, bool keepdim = false) const;
  std::tuple<Tensor, Tensor> min(std::initializer_list<std::int64_t> dims, bool keepdim = false) const = delete;
  /// amax / amin: maximum / minimum over dims, gradient split evenly among ties.
  Tensor amax(const std::vector<std::int64_t>& dims = {}, bool keepdim = false) const;
  Tensor amin(const std::vector<std::int64_t>& dims = {}, bool keepdim = false) const;
  template <DimIndex I>
  Tensor amax(I dim, bool keepdim = false) const {
    return amax(std::vector<std::int64_t>{static_cast<std::int64_t>(dim)}, keepdim);
  }
  template <DimIndex I>
  Tensor amin(I dim, bool keepdim = false) const {
    return amin(std::vector<std::int64_t>{static_cast<std::int64_t>(dim)}, keepdim);
  }
  /// var / std with a correction (1 = unbiased, the default): x.std(1) is the std over
  /// dim 1, x.var({0}, 0, true) the biased variance over dim 0 with keepdim.
  Tensor var(const std::vector<std::int64_t>& dims = {}, std::int64_t correction = 1, bool keepdim = false) const;
  Tensor std(const std::vector<std::int64_t>& dims = {}, std::int64_t correction = 1, bool keepdim = false) const;
  template <DimIndex I>
  Tensor var(I dim, std::int64_t correction = 1, bool keepdim = false) const {
    return var(std::vector<std::int64_t>{static_cast<std::int64_t>(dim)}, correction, keepdim);
  }
  template <DimIndex I>
  Tensor std(I dim, std::int64_t correction = 1, bool keepdim = false) const {
    return std(std::vector<std::int64_t>{static_cast<std::int64_t>(dim)}, correction, keepdim);
  }
  /// Vector p-norm (p = 1, 2 or inf): x.norm() is the 2-norm of all elements, x.norm(1, 0)
  /// the 1-norm over dim 0.
  Tensor norm(double p = 2.0, const std::vector<std::int64_t>& dims = {}, bool keepdim = false) const;
  template <DimIndex I>
  Tensor norm(double p, I dim, bool keepdim = false) const {
    return norm(p, std::vector<std::int64_t>{static_cast<std::int64_t>(dim)}, keepdim);
  }
  /// log(sum(exp(x))) over dims (all by default); x.logsumexp(1) is over dim 1.
  Tensor logsumexp(const std::vector<std::int64_t>& dims = {}, bool keepdim = false) const;
  template <DimIndex I>
  Tensor logsumexp(I dim, bool keepdim = false) const {
    return logsumexp(std::vector<std::int64_t>{static_cast<std::int64_t>(dim)}, keepdim);
  }

  Tensor reshape(const Shape& s) const;
  Tensor view(const Shape& s) const;
  Tensor flatten(std::int64_t start_dim = 0, std::int64_t end_dim = -1) const;
  Tensor squeeze() const;
  Tensor squeeze(std::int64_t dim) const;
  Tensor unsqueeze(std::int64_t dim) const;
  Tensor transpose(std::int64_t d0, std::int64_t d1) const;
  Tensor permute(const std::vector<std::int64_t>& dims) const;
  Tensor t() const;
  Tensor expand(const Shape& s) const;
  Tensor narrow(std::int64_t dim, std::int64_t start, std::int64_t length) const;
  Tensor slice(std::int64_t dim, std::optional<std::int64_t> start = std::nullopt,
               std::optional<std::int64_t> end = std::nullopt, std::int64_t step = 1) const;
  Tensor select(std::int64_t dim, std::int64_t index) const;
  std::vector<Tensor> unbind(std::int64_t dim = 0) const;
  std::vector<Tensor> split(std::int64_t split_size, std::int64_t dim = 0) const;
  std::vector<Tensor> split(const std::vector<std::int64_t>& sizes, std::int64_t dim = 0) const;
  std::vector<Tensor> chunk(std::int64_t chunks, std::int64_t dim = 0) const;
  Tensor movedim(std::int64_t source, std::int64_t destination) const;
  Tensor expand_as(const Tensor& other) const;
  Tensor unfold(std::int64_t dim, std::int64_t size, std::int64_t step) const;
  Tensor diagonal(std::int64_t offset = 0, std::int64_t dim1 = 0, std::int64_t dim2 = 1) const;
  Tensor as_strided(const Shape& size, const Shape& stride,
                    std::optional<std::int64_t> storage_offset = std::nullopt) const;
  /// libtorch-style indexing (see <xgrad/autograd/indexing.hpp>): t.index({Slice(1, 3), 2}).
  Tensor index(std::initializer_list<indexing::TensorIndex> indices) const;
  Tensor index(const std::vector<indexing::TensorIndex>& indices) const;
  /// Writes v (broadcast) into t.index(indices), in place.
  Tensor& index_put_(std::initializer_list<indexing::TensorIndex> indices, const Tensor& v);
  Tensor& index_put_(std::initializer_list<indexing::TensorIndex> indices, double v);
  Tensor& index_put_(const std::vector<indexing::TensorIndex>& indices, const Tensor& v);
  Tensor index_select(std::int64_t dim, const Tensor& index) const;
  Tensor gather(std::int64_t dim, const Tensor& index) const;
  Tensor matmul(const Tensor& o) const;
  Tensor mm(const Tensor& o) const;

  // ---- methods of the issue-13 ops (formulas, shapes and errors in masking.hpp, scatter.hpp,
  // structure.hpp, sorting.hpp, math.hpp, linalg.hpp, linalg_functions.hpp, elementwise.hpp)
  Tensor div(const Tensor& o, std::string_view rounding_mode) const;
  Tensor floor_divide(const Tensor& o) const;
  Tensor logical_and(const Tensor& o) const;
  Tensor logical_or(const Tensor& o) const;
  Tensor logical_xor(const Tensor& o) const;
  Tensor logical_not() const;
  Tensor bitwise_not() const;
  Tensor any(const std::vector<std::int64_t>& dims = {}, bool keepdim = false) const;
  Tensor all(const std::vector<std::int64_t>& dims = {}, bool keepdim = false) const;
  Tensor masked_fill(const Tensor& mask, double value) const;
  Tensor masked_fill(const Tensor& mask, const Tensor& value) const;
  Tensor& masked_fill_(const Tensor& mask, double value);
  Tensor masked_select(const Tensor& mask) const;
  Tensor masked_scatter(const Tensor& mask, const Tensor& source) const;
  Tensor nonzero() const;
  Tensor scatter(std::int64_t dim, const Tensor& index, const Tensor& src) const;
  Tensor scatter(std::int64_t dim, const Tensor& index, double value) const;
  Tensor scatter_add(std::int64_t dim, const Tensor& index, const Tensor& src) const;
  Tensor scatter_reduce(std::int64_t dim, const Tensor& index, const Tensor& src, std::string_view reduce,
                        bool include_self = true) const;
  Tensor take_along_dim(const Tensor& indices, std::optional<std::int64_t> dim = std::nullopt) const;
  Tensor index_add(std::int64_t dim, const Tensor& index, const Tensor& source, double alpha = 1.0) const;
  Tensor tril(std::int64_t diagonal = 0) const;
  Tensor triu(std::int64_t diagonal = 0) const;
  Tensor repeat(const std::vector<std::int64_t>& repeats) const;
  Tensor tile(const std::vector<std::int64_t>& reps) const;
  Tensor repeat_interleave(std::int64_t repeats, std::optional<std::int64_t> dim = std::nullopt) const;
  Tensor repeat_interleave(const Tensor& repeats, std::optional<std::int64_t> dim = std::nullopt) const;
  Tensor roll(const std::vector<std::int64_t>& shifts, const std::vector<std::int64_t>& dims = {}) const;
  Tensor flip(const std::vector<std::int64_t>& dims) const;
  std::tuple<Tensor, Tensor> sort(std::int64_t dim = -1, bool descending = false, bool stable = true) const;
  Tensor argsort(std::int64_t dim = -1, bool descending = false, bool stable = true) const;
  std::tuple<Tensor, Tensor> topk(std::int64_t k, std::int64_t dim = -1, bool largest = true,
                                  bool sorted = true) const;
  std::tuple<Tensor, Tensor> kthvalue(std::int64_t k, std::int64_t dim = -1, bool keepdim = false) const;
  Tensor median() const;
  std::tuple<Tensor, Tensor> median(std::int64_t dim, bool keepdim = false) const;
  Tensor cumsum(std::int64_t dim) const;
  Tensor cumprod(std::int64_t dim) const;
  Tensor logcumsumexp(std::int64_t dim) const;
  Tensor prod() const;
  Tensor prod(std::int64_t dim, bool keepdim = false) const;
  Tensor nansum(const std::vector<std::int64_t>& dims = {}, bool keepdim = false) const;
  Tensor nanmean(const std::vector<std::int64_t>& dims = {}, bool keepdim = false) const;
  Tensor isnan() const;
  Tensor isinf() const;
  Tensor isfinite() const;
  Tensor nan_to_num(std::optional<double> nan = std::nullopt, std::optional<double> posinf = std::nullopt,
                    std::optional<double> neginf = std::nullopt) const;
  Tensor clamp(const std::optional<Tensor>& min, const std::optional<Tensor>& max) const;
  Tensor lerp(const Tensor& end, double weight) const;
  Tensor lerp(const Tensor& end, const Tensor& weight) const;
  Tensor hypot(const Tensor& o) const;
  Tensor atan2(const Tensor& o) const;
  Tensor logaddexp(const Tensor& o) const;
  Tensor xlogy(const Tensor& o) const;
  Tensor erfinv() const;
  Tensor erfc() const;
  Tensor lgamma() const;
  Tensor digamma() const;
  Tensor trunc() const;
  Tensor frac() const;
  Tensor round(std::int64_t decimals = 0) const;
  Tensor addmm(const Tensor& mat1, const Tensor& mat2, double beta = 1.0, double alpha = 1.0) const;
  Tensor baddbmm(const Tensor& batch1, const Tensor& batch2, double beta = 1.0, double alpha = 1.0) const;
  Tensor inverse() const;
  Tensor det() const;

  // ---- in-place (bump the version counter; see inplace.hpp) -------------------------
  Tensor& add_(const Tensor& o, double alpha = 1.0);
  Tensor& add_(double s);
  Tensor& sub_(const Tensor& o, double alpha = 1.0);
  Tensor& sub_(double s);
  Tensor& mul_(const Tensor& o);
  Tensor& mul_(double s);
  Tensor& div_(const Tensor& o);
  Tensor& div_(double s);
  Tensor& zero_();
  Tensor& fill_(double v);
  Tensor& copy_(const Tensor& src);
  Tensor& clamp_(std::optional<double> min, std::optional<double> max);

  /// Internal handle (for extenders writing their own ops).
  const std::shared_ptr<TensorImpl>& impl() const { return impl_; }
  /// True when both handles point to the same tensor.
  bool is_same(const Tensor& o) const { return impl_ == o.impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

struct TensorImpl;

/// What a view remembers of its base: the base (the tensor that owns the memory, never
/// itself a view) and the version at which this view's grad_fn was last derived from it.
/// When the shared version counter has moved on (an in-place op through some alias), the
/// view's grad_fn is regenerated as a strided view of the base's current history.
struct ViewInfo {
  std::shared_ptr<TensorImpl> base;
  std::uint64_t version = 0;
  bool differentiable = true;  // made with grad mode on
  bool multi_output = false;   // one of several views made by one op (unbind, split, chunk)
};

/// The data and autograd state behind a Tensor handle.
struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;                     // in elements; read through Tensor::strides()
  // make_tensor leaves a fresh tensor's (row-major) strides to be filled on first use: one
  // allocation less per op. Set through std::atomic_ref (several threads may read a tensor).
  alignas(std::atomic_ref<bool>::required_alignment) bool strides_ready = true;
  std::int64_t storage_offset = 0;   // in elements
  bool contiguous = true;
  std::int64_t numel = 0;
  Dtype dtype = Dtype::float32;
  bool requires_grad = false;
  bool retains_grad = false;
  std::uint32_t output_nr = 0;
  std::shared_ptr<Node> grad_fn;
  Tensor grad;
  std::weak_ptr<Node> grad_accumulator;  // leaves only, created on demand
  std::vector<std::pair<std::size_t, TensorHook>> hooks;  // leaves only
  std::optional<ViewInfo> view;      // set for views (inline: no allocation)
};

// ---- operators ----------------------------------------------------------------------
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, double s);
Tensor operator-(const Tensor& a, double s);
Tensor operator*(const Tensor& a, double s);
Tensor operator/(const Tensor& a, double s);
Tensor operator+(double s, const Tensor& a);
Tensor operator-(double s, const Tensor& a);
Tensor operator*(double s, const Tensor& a);
Tensor operator/(double s, const Tensor& a);
Tensor operator-(const Tensor& a);

/// PyTorch-like repr: "tensor([[1., 2.], [3., 4.]], grad_fn=<AddBackward>)"; large tensors
/// are summarised with "...". Also available through fmt::format("{}", t).
std::ostream& operator<<(std::ostream& os, const Tensor& t);
std::string to_string(const Tensor& t);

// ---- internals shared by ops (declared here so user-defined ops can use them) ----------
namespace detail {
/// Throws xgrad::Error("<op>: expected a defined tensor ...") when t is undefined.
void check_defined(const Tensor& t, std::string_view op);
/// Allocates a tensor of the given shape and dtype, uninitialised. Throws xgrad::Error
/// "<op>: ..." for a negative size, for an element or byte count that overflows (numel
/// past 2^63 - 1 or bytes past the address range) and when the memory cannot be allocated.
Tensor make_tensor(const Shape& shape, Dtype dtype, std::string_view op = "empty");
}  // namespace detail

// ---- template definitions --------------------------------------------------------------
namespace detail {
[[noreturn]] void throw_dtype_mismatch(std::string_view op, Dtype got, Dtype want);
[[noreturn]] void throw_not_contiguous(const Tensor& t, std::string_view op);
void refresh_view_slow(TensorImpl& impl);
/// Regenerates a view's grad_fn when an in-place op through an alias has changed its base's
/// history since the view's grad_fn was made (cheap check; called by every autograd query).
inline void refresh_view(TensorImpl& impl) {
  if (impl.view && impl.view->version != impl.storage->version) refresh_view_slow(impl);
}
}

inline bool Tensor::is_contiguous() const {
  if (!impl_) detail::check_defined(*this, "is_contiguous");
  return impl_->contiguous;
}

template <class T>
[[gnu::always_inline]] inline T* Tensor::strided_data_ptr() const {
  if (!impl_ || impl_->dtype != dtype_of<T>()) [[unlikely]] {
    detail::check_defined(*this, "data_ptr");
    detail::throw_dtype_mismatch("data_ptr", impl_->dtype, dtype_of<T>());
  }
  return reinterpret_cast<T*>(impl_->storage->data) + impl_->storage_offset;
}

template <class T>
[[gnu::always_inline]] inline T* Tensor::data_ptr() const {
  T* p = strided_data_ptr<T>();
  if (!impl_->contiguous) detail::throw_not_contiguous(*this, "data_ptr");
  return p;
}

template <class T>
std::vector<T> Tensor::to_vector() const {
  detail::check_defined(*this, "to_vector");
  if (impl_->dtype != dtype_of<T>()) detail::throw_dtype_mismatch("to_vector", impl_->dtype, dtype_of<T>());
  const Tensor c = contiguous();
  const T* p = c.data_ptr<T>();
  return std::vector<T>(p, p + impl_->numel);
}

}  // namespace xgrad

template <>
struct fmt::formatter<xgrad::Tensor> : fmt::formatter<std::string_view> {
  auto format(const xgrad::Tensor& t, fmt::format_context& ctx) const {
    return fmt::formatter<std::string_view>::format(xgrad::to_string(t), ctx);
  }
};
