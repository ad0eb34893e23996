#include "xgrad/autograd/tensor.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <new>
#include <ostream>
#include <sstream>

#include "copy_box.hpp"
#include "kernel.hpp"
#include "view.hpp"
#include "xgrad/autograd/autograd.hpp"
#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/memory.hpp"
#include "xgrad/autograd/node.hpp"
#include "xgrad/autograd/profile_scope.hpp"

namespace xgrad {

std::string_view dtype_name(Dtype d) {
  switch (d) {
    case Dtype::float32: return "float32";
    case Dtype::float64: return "float64";
    case Dtype::int64: return "int64";
    case Dtype::int32: return "int32";
    case Dtype::boolean: return "bool";
  }
  return "?";
}

Dtype promote_types(Dtype a, Dtype b) {
  if (a == b) return a;
  const auto rank = [](Dtype d) {  // bool < int32 < int64 < float32 < float64
    switch (d) {
      case Dtype::boolean: return 0;
      case Dtype::int32: return 1;
      case Dtype::int64: return 2;
      case Dtype::float32: return 3;
      case Dtype::float64: break;
    }
    return 4;
  };
  return rank(a) > rank(b) ? a : b;
}

std::size_t dtype_size(Dtype d) {
  switch (d) {
    case Dtype::float32:
    case Dtype::int32: return 4;
    case Dtype::boolean: return 1;
    case Dtype::float64:
    case Dtype::int64: break;
  }
  return 8;
}

std::int64_t shape_numel(const Shape& s) {
  if (std::find(s.begin(), s.end(), 0) != s.end()) return 0;
  std::int64_t n = 1;
  for (auto v : s)
    if (__builtin_mul_overflow(n, v, &n))
      throw Error(fmt::format("shape {} has more elements than an int64 can count", s));
  return n;
}

// Heap buffers are 64-byte aligned (AVX-512 loads); small ones use the inline buffer.
Storage::Storage(std::size_t n) : nbytes(n) {
  data = n <= kInlineBytes ? inline_ : static_cast<std::byte*>(detail::allocate_buffer(n));
}
Storage::~Storage() {
  if (data != inline_) detail::free_buffer(data, nbytes);
}

namespace detail {

void check_defined(const Tensor& t, std::string_view op) {
  if (!t.defined()) throw Error(fmt::format("{}: expected a defined tensor but got an undefined one", op));
}

Tensor make_tensor(const Shape& shape, Dtype dtype, std::string_view op) {
  auto impl = std::make_shared<TensorImpl>();
  for (auto s : shape)
    if (s < 0) throw Error(fmt::format("{}: negative size in shape {}", op, shape));
  // A zero size makes the count 0 whatever the other sizes are; otherwise every partial
  // product must stay below the byte limit, checked before it is formed.
  std::int64_t numel = 1;
  if (std::find(shape.begin(), shape.end(), 0) != shape.end()) {
    numel = 0;
  } else {
    const std::int64_t max_numel = PTRDIFF_MAX / static_cast<std::int64_t>(dtype_size(dtype));
    for (auto s : shape) {
      if (numel > max_numel / s)
        throw Error(fmt::format("{}: shape {} of dtype {} has too many elements: its size in bytes overflows", op,
                                shape, dtype));
      numel *= s;
    }
  }
  impl->shape = shape;
  impl->strides_ready = false;  // row-major strides, filled by Tensor::strides() when asked
  impl->numel = numel;
  impl->dtype = dtype;
  const std::size_t nbytes = static_cast<std::size_t>(numel) * dtype_size(dtype);
  try {
    impl->storage = std::make_shared<Storage>(nbytes);
  } catch (const std::bad_alloc&) {
    throw Error(fmt::format("{}: cannot allocate {} bytes for a tensor of shape {} and dtype {}", op, nbytes, shape,
                            dtype));
  }
  return Tensor(std::move(impl));
}

void throw_dtype_mismatch(std::string_view op, Dtype got, Dtype want) {
  throw Error(fmt::format("{}: tensor has dtype {} but {} was requested", op, got, want));
}

std::vector<std::int64_t> contiguous_strides(const Shape& s) {
  std::vector<std::int64_t> st(s.size());
  std::int64_t acc = 1;
  for (std::size_t i = s.size(); i-- > 0;) {
    st[i] = acc;
    acc *= s[i];
  }
  return st;
}

bool broadcasts_to(const Shape& shape, const Shape& to) {
  if (shape.size() > to.size()) return false;
  const std::size_t off = to.size() - shape.size();
  for (std::size_t i = 0; i < shape.size(); ++i)
    if (shape[i] != 1 && shape[i] != to[off + i]) return false;
  return true;
}

std::int64_t wrap_dim(std::int64_t dim, std::int64_t ndim, std::string_view op, const Shape& shape) {
  const std::int64_t n = std::max<std::int64_t>(ndim, 1);
  if (dim < -n || dim >= n)
    throw Error(fmt::format("{}: dim {} out of range for tensor of shape {} (expected in [{}, {}])", op, dim, shape,
                            -n, n - 1));
  return dim < 0 ? dim + n : dim;
}

void check_same_dtype(const Tensor& a, const Tensor& b, std::string_view op) {
  check_defined(a, op);
  check_defined(b, op);
  if (a.dtype() != b.dtype())
    throw Error(fmt::format("{}: dtype mismatch: {} {} and {} {} (this op takes one dtype; convert with .to())", op,
                            a.shape(), a.dtype(), b.shape(), b.dtype()));
}

}  // namespace detail

// ---- metadata -----------------------------------------------------------------------------
const Shape& Tensor::strides() const {
  detail::check_defined(*this, "strides");
  std::atomic_ref<bool> ready(impl_->strides_ready);
  if (!ready.load(std::memory_order_acquire)) {
    static std::mutex m;
    std::lock_guard lock(m);
    if (!ready.load(std::memory_order_relaxed)) {
      impl_->strides = detail::contiguous_strides(impl_->shape);
      ready.store(true, std::memory_order_release);
    }
  }
  return impl_->strides;
}
std::int64_t Tensor::stride(std::int64_t d) const {
  detail::check_defined(*this, "stride");
  if (impl_->shape.empty()) throw Error("stride: a 0-d tensor has no dimensions");
  return strides()[detail::wrap_dim(d, dim(), "stride", impl_->shape)];
}
std::int64_t Tensor::storage_offset() const {
  detail::check_defined(*this, "storage_offset");
  return impl_->storage_offset;
}
bool Tensor::is_view() const {
  detail::check_defined(*this, "is_view");
  return impl_->view.has_value();
}
Tensor Tensor::contiguous() const {
  detail::check_defined(*this, "contiguous");
  if (impl_->contiguous) return *this;
  XGRAD_PROFILE_OP("contiguous", *this);  // only when it copies
  Tensor out = detail::contiguous_copy(*this);
  if (any_requires_grad({this}))
    record("CloneBackward", {*this}, {out}, {},
           [](const std::vector<Tensor>& g, const std::vector<Tensor>&) { return std::vector<Tensor>{g[0]}; });
  return out;
}
const Shape& Tensor::shape() const {
  detail::check_defined(*this, "shape");
  return impl_->shape;
}
std::int64_t Tensor::size(std::int64_t d) const {
  detail::check_defined(*this, "size");
  if (impl_->shape.empty()) throw Error("size: a 0-d tensor has no dimensions");
  return impl_->shape[detail::wrap_dim(d, dim(), "size", impl_->shape)];
}
std::int64_t Tensor::dim() const {
  detail::check_defined(*this, "dim");
  return static_cast<std::int64_t>(impl_->shape.size());
}
std::int64_t Tensor::numel() const {
  detail::check_defined(*this, "numel");
  return impl_->numel;
}
Dtype Tensor::dtype() const {
  detail::check_defined(*this, "dtype");
  return impl_->dtype;
}
std::string Tensor::describe() const {
  if (!defined()) return "Tensor(undefined)";
  return fmt::format("Tensor(shape={}, dtype={})", impl_->shape, impl_->dtype);
}

template <class T>
T Tensor::item() const {
  detail::check_defined(*this, "item");
  if (impl_->numel != 1)
    throw Error(fmt::format("item: only a tensor with one element can be converted to a scalar, got shape {}",
                            impl_->shape));
  return detail::dispatch(impl_->dtype, [&]<class S>() {
    const S v = *strided_data_ptr<S>();
    if constexpr (std::is_floating_point_v<S> && std::is_integral_v<T> && !std::is_same_v<T, bool>) {
      // NaN, inf or a value outside T's range: the cast would be undefined behaviour.
      constexpr auto lo = static_cast<S>(std::numeric_limits<T>::min());
      if (!(v >= lo && v < -lo))
        throw Error(fmt::format("item: the value {} of {} does not fit the requested integer type", v, describe()));
    }
    return static_cast<T>(v);
  });
}
template float Tensor::item<float>() const;
template double Tensor::item<double>() const;
template std::int64_t Tensor::item<std::int64_t>() const;
template int Tensor::item<int>() const;
template bool Tensor::item<bool>() const;

// ---- autograd state -----------------------------------------------------------------------
bool Tensor::requires_grad() const {
  detail::check_defined(*this, "requires_grad");
  detail::refresh_view(*impl_);
  return impl_->requires_grad;
}
Tensor& Tensor::requires_grad_(bool r) {
  detail::check_defined(*this, "requires_grad_");
  if (r && !is_floating(impl_->dtype))
    throw Error(fmt::format("requires_grad_: only floating tensors can require gradients, got {} tensor of shape {}",
                            impl_->dtype, impl_->shape));
  if (!r && impl_->grad_fn)
    throw Error(
        "requires_grad_: cannot turn off requires_grad of a non-leaf tensor; use detach() to get a tensor without "
        "history");
  impl_->requires_grad = r;
  return *this;
}
Tensor Tensor::grad() const {
  detail::check_defined(*this, "grad");
  if (impl_->grad_fn && !impl_->retains_grad)
    throw Error(fmt::format("grad: {} is not a leaf and does not retain its gradient, so backward does not fill "
                            ".grad() for it; call retain_grad() on it before backward (or use autograd::grad)",
                            describe()));
  return impl_->grad;
}
void Tensor::set_grad(const Tensor& g) const {
  detail::check_defined(*this, "set_grad");
  if (g.defined() && (g.shape() != impl_->shape || g.dtype() != impl_->dtype))
    throw Error(fmt::format("set_grad: gradient {} does not match tensor {}", g.describe(), describe()));
  impl_->grad = g;
}
bool Tensor::is_leaf() const {
  detail::check_defined(*this, "is_leaf");
  detail::refresh_view(*impl_);
  return impl_->grad_fn == nullptr;
}
const std::shared_ptr<Node>& Tensor::grad_fn() const {
  detail::check_defined(*this, "grad_fn");
  detail::refresh_view(*impl_);
  return impl_->grad_fn;
}
std::string Tensor::grad_fn_name() const {
  detail::check_defined(*this, "grad_fn");
  detail::refresh_view(*impl_);
  return impl_->grad_fn ? impl_->grad_fn->name() : std::string();
}
std::uint32_t Tensor::output_nr() const {
  detail::check_defined(*this, "output_nr");
  return impl_->output_nr;
}
bool Tensor::retains_grad() const {
  detail::check_defined(*this, "retains_grad");
  return impl_->retains_grad;
}

void Tensor::retain_grad() const {
  detail::check_defined(*this, "retain_grad");
  if (!impl_->requires_grad)
    throw Error(fmt::format("retain_grad: cannot retain the gradient of {} that does not require grad", describe()));
  if (!impl_->grad_fn || impl_->retains_grad) return;  // leaves keep their grad anyway
  impl_->retains_grad = true;
  std::weak_ptr<TensorImpl> weak = impl_;
  // The hook stores the gradient into the tensor (if it is still alive) and changes nothing.
  impl_->grad_fn->pre_hooks.push_back({impl_->output_nr, Node::kRetainGradHook, [weak](const Tensor& g) {
                                         if (auto p = weak.lock()) {
                                           if (!p->grad.defined())
                                             p->grad = g.detach().clone();
                                           else
                                             p->grad = (p->grad + g).detach();
                                         }
                                         return Tensor();
                                       }});
}

namespace {
std::size_t next_hook_id() {
  static std::atomic<std::size_t> id{1};
  return id++;
}
}  // namespace

std::size_t Tensor::register_hook(TensorHook hook) const {
  detail::check_defined(*this, "register_hook");
  if (!impl_->requires_grad)
    throw Error(fmt::format("register_hook: cannot register a hook on {} that does not require grad", describe()));
  const std::size_t id = next_hook_id();
  if (impl_->grad_fn)
    impl_->grad_fn->pre_hooks.push_back({impl_->output_nr, id, std::move(hook)});
  else
    impl_->hooks.emplace_back(id, std::move(hook));
  return id;
}

void Tensor::remove_hook(std::size_t id) const {
  detail::check_defined(*this, "remove_hook");
  if (impl_->grad_fn) {
    auto& h = impl_->grad_fn->pre_hooks;
    std::erase_if(h, [id](const Node::PreHook& p) { return p.id == id; });
  } else {
    std::erase_if(impl_->hooks, [id](const auto& p) { return p.first == id; });
  }
}

Tensor Tensor::detach() const {
  detail::check_defined(*this, "detach");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = impl_->storage;
  impl->shape = impl_->shape;
  impl->strides_ready = impl_->strides_ready;  // a fresh tensor's strides stay lazy
  if (impl_->strides_ready) impl->strides = impl_->strides;
  impl->storage_offset = impl_->storage_offset;
  impl->contiguous = impl_->contiguous;
  impl->numel = impl_->numel;
  impl->dtype = impl_->dtype;
  return Tensor(std::move(impl));
}

void Tensor::backward(const Tensor& gradient, const BackwardOptions& options) const {
  detail::check_defined(*this, "backward");
  std::vector<Tensor> seeds;
  if (gradient.defined()) seeds.push_back(gradient);
  autograd::backward({*this}, seeds, options);
}

// ---- copies -------------------------------------------------------------------------------
Tensor Tensor::clone() const {
  XGRAD_PROFILE_OP("clone", *this);
  detail::check_defined(*this, "clone");
  Tensor out = detail::contiguous_copy(*this);
  if (any_requires_grad({this}))
    record("CloneBackward", {*this}, {out}, {},
           [](const std::vector<Tensor>& g, const std::vector<Tensor>&) { return std::vector<Tensor>{g[0]}; });
  return out;
}

Tensor Tensor::to(Dtype d) const {
  detail::check_defined(*this, "to");
  if (d == impl_->dtype) return *this;
  XGRAD_PROFILE_OP("to", *this);  // only when it converts
  if (impl_->requires_grad && grad_mode_enabled() && !is_floating(d))
    throw Error(fmt::format("to: cannot convert {} that requires grad to {} ({} tensors cannot require grad); "
                            "detach() first",
                            describe(), d, d));
  Tensor out = detail::make_tensor(impl_->shape, d);
  std::atomic<bool> unrepresentable{false};
  std::atomic<double> bad_value{0.0};
  detail::dispatch(impl_->dtype, [&]<class S>() {
    detail::dispatch(d, [&]<class D>() {
      detail::unary_kernel<S, D>(*this, out, [&](S v) {
        if constexpr (std::is_same_v<D, bool>) {
          return v != S(0);  // NaN is true, as in PyTorch
        } else if constexpr (std::is_floating_point_v<S> && std::is_integral_v<D>) {
          // Casting NaN, inf or a value outside D's range is undefined behaviour in C++.
          constexpr auto lo = static_cast<S>(std::numeric_limits<D>::min());
          constexpr auto hi = -static_cast<S>(std::numeric_limits<D>::min());  // 2^(bits-1), exact
          if (!(v >= lo && v < hi)) [[unlikely]] {
            bad_value.store(static_cast<double>(v), std::memory_order_relaxed);
            unrepresentable.store(true, std::memory_order_relaxed);
            return D(0);
          }
          return static_cast<D>(v);
        } else {
          return static_cast<D>(v);
        }
      });
    });
  });
  if (unrepresentable.load())
    throw Error(fmt::format("to: cannot convert the value {} of {} to {} (NaN, infinite or out of range)",
                            bad_value.load(), describe(), d));
  if (any_requires_grad({this})) {
    const Dtype from = impl_->dtype;
    record("ToCopyBackward", {*this}, {out}, {}, [from](const std::vector<Tensor>& g, const std::vector<Tensor>&) {
      return std::vector<Tensor>{g[0].to(from)};
    });
  }
  return out;
}

// ---- printing -----------------------------------------------------------------------------
namespace {

// Like PyTorch: all-integral floating values print as "1.", otherwise every value gets 4 decimals.
template <class T>
std::string format_scalar(T v, bool integral) {
  if constexpr (std::is_same_v<T, bool>) {
    return v ? "True" : "False";  // as PyTorch prints
  } else if constexpr (std::is_integral_v<T>) {
    return fmt::format("{}", v);
  } else {
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    if (integral) return fmt::format("{:.0f}.", v);
    return fmt::format("{:.4f}", v);
  }
}

template <class T>
bool all_integral(const T* p, std::int64_t n) {
  if constexpr (std::is_floating_point_v<T>) {
    for (std::int64_t i = 0; i < n; ++i)
      if (std::isfinite(p[i]) && (p[i] != std::floor(p[i]) || std::fabs(p[i]) >= 1e16)) return false;
  }
  return true;
}

template <class T>
void format_rec(std::string& out, const T* data, const Shape& shape, std::size_t d, std::int64_t offset,
                const std::vector<std::int64_t>& strides, int indent, bool integral) {
  constexpr std::int64_t kEdge = 3;  // items shown at each end of a summarised dim
  const std::int64_t n = shape[d];
  const bool summarise = n > 2 * kEdge + 1 && shape_numel(shape) > 1000;
  out += '[';
  for (std::int64_t i = 0; i < n; ++i) {
    if (summarise && i == kEdge) {
      out += d + 1 == shape.size() ? "..., " : fmt::format("...,\n{:{}}", "", indent + 1);
      i = n - kEdge;
    }
    if (d + 1 == shape.size())
      out += format_scalar(data[offset + i * strides[d]], integral);
    else
      format_rec(out, data, shape, d + 1, offset + i * strides[d], strides, indent + 1, integral);
    if (i + 1 < n) out += d + 1 == shape.size() ? ", " : fmt::format(",\n{:{}}", "", indent + 1);
  }
  out += ']';
}

}  // namespace

std::string to_string(const Tensor& t) {
  if (!t.defined()) return "tensor(undefined)";
  std::string body;
  const Tensor c = t.contiguous();
  detail::dispatch(t.dtype(), [&]<class T>() {
    const T* p = c.data_ptr<T>();
    const bool integral = all_integral(p, t.numel());
    if (t.dim() == 0)
      body = format_scalar(p[0], integral);
    else
      format_rec(body, p, t.shape(), 0, 0, detail::contiguous_strides(t.shape()), 7, integral);
  });
  std::string out = "tensor(" + body;
  if (t.dim() > 0 && t.numel() == 0) out += fmt::format(", size={}", t.shape());
  if (t.dtype() != Dtype::float32) out += fmt::format(", dtype={}", t.dtype());
  if (t.grad_fn())
    out += fmt::format(", grad_fn=<{}>", t.grad_fn_name());
  else if (t.requires_grad())
    out += ", requires_grad=True";
  return out + ")";
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << to_string(t); }

}  // namespace xgrad

namespace xgrad::kernel {
std::vector<std::int64_t> broadcast_strides(const Tensor& t, const Shape& out) {
  std::vector<std::int64_t> st(out.size(), 0);
  const Shape& in = t.shape();
  const std::size_t off = out.size() - in.size();
  for (std::size_t i = 0; i < in.size(); ++i) st[off + i] = in[i] == 1 ? 0 : t.strides()[i];
  return st;
}
}  // namespace xgrad::kernel
