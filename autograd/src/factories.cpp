#include "xgrad/autograd/factories.hpp"

#include <cmath>
#include <limits>
#include <type_traits>
#include <cstring>
#include <mutex>
#include <random>

#include "kernel.hpp"
#include "xgrad/autograd/random_state.hpp"

namespace xgrad {

namespace {

std::mutex g_rng_mutex;
std::mt19937_64 g_rng;  // default-seeded with 5489

Tensor finish(Tensor t, const TensorOptions& o) {
  if (o.requires_grad_) t.requires_grad_(true);
  return t;
}

// v converted to T the way a cast would (integers truncate toward zero, as PyTorch's arange
// and linspace), but NaN, inf and values outside T's range throw instead of being undefined.
template <class T>
T truncated_as(double v, std::string_view op) {
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    constexpr double lo = static_cast<double>(std::numeric_limits<T>::min());
    if (!(v >= lo && v < -lo))
      throw Error(fmt::format("{}: the value {} is out of range for {}", op, v, dtype_of<T>()));
  }
  return static_cast<T>(v);
}

template <class T>
void fill_value(Tensor& t, double v) {
  T* p = t.data_ptr<T>();
  const T x = static_cast<T>(v);
  detail::parallel_for(t.numel(), detail::kGrain, [&](std::int64_t b, std::int64_t e) { std::fill(p + b, p + e, x); });
}

// Top bits of one draw -> [0, 1).
double uniform_from(std::uint64_t r, bool single) {
  return single ? static_cast<double>(r >> 40) * 0x1.0p-24 : static_cast<double>(r >> 11) * 0x1.0p-53;
}

}  // namespace

void manual_seed(std::uint64_t seed) {
  std::lock_guard<std::mutex> lock(g_rng_mutex);
  g_rng.seed(seed);
}
std::mt19937_64 get_rng_state() {
  std::lock_guard<std::mutex> lock(g_rng_mutex);
  return g_rng;
}
void set_rng_state(const std::mt19937_64& state) {
  std::lock_guard<std::mutex> lock(g_rng_mutex);
  g_rng = state;
}
std::uint64_t random_u64() {
  std::lock_guard<std::mutex> lock(g_rng_mutex);
  return g_rng();
}
double random_uniform() { return uniform_from(random_u64(), false); }
double random_normal() {
  // Box-Muller; 1 - u keeps the log argument in (0, 1].
  const double u1 = 1.0 - random_uniform(), u2 = random_uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

Tensor empty(const Shape& shape, TensorOptions o) {
  Tensor t = detail::make_tensor(shape, o.dtype_, "empty");
  // A byte other than 0 or 1 read as a bool is undefined behaviour: bool storage starts false.
  if (o.dtype_ == Dtype::boolean) std::memset(t.impl()->storage->data, 0, t.impl()->storage->nbytes);
  return finish(t, o);
}

namespace {
Tensor filled(const Shape& shape, double value, TensorOptions o, std::string_view op) {
  Tensor t = detail::make_tensor(shape, o.dtype_, op);
  detail::dispatch(o.dtype_, [&]<class T>() { fill_value<T>(t, static_cast<double>(detail::scalar_as<T>(value, op))); });
  return finish(t, o);
}
}  // namespace

Tensor full(const Shape& shape, double value, TensorOptions o) { return filled(shape, value, o, "full"); }
Tensor zeros(const Shape& shape, TensorOptions o) {
  Tensor t = detail::make_tensor(shape, o.dtype_, "zeros");
  std::memset(t.impl()->storage->data, 0, t.impl()->storage->nbytes);
  return finish(t, o);
}
Tensor ones(const Shape& shape, TensorOptions o) { return filled(shape, 1.0, o, "ones"); }

Tensor arange(double start, double end, double step, TensorOptions o) {
  if (step == 0.0) throw Error("arange: step must be nonzero");
  if ((end - start) * step < 0)
    throw Error(fmt::format("arange: upper bound and step sign are inconsistent (start={}, end={}, step={})", start, end,
                            step));
  const double count = std::ceil((end - start) / step);
  // 2^63 is the first double past int64's range; NaN (an infinite bound) fails the test too.
  if (!(count < 0x1p63))
    throw Error(fmt::format("arange: too many elements ({}) for start={}, end={}, step={}", count, start, end, step));
  const auto n = static_cast<std::int64_t>(count);
  Tensor t = detail::make_tensor({n}, o.dtype_, "arange");
  detail::dispatch(o.dtype_, [&]<class T>() {
    T* p = t.data_ptr<T>();
    for (std::int64_t i = 0; i < n; ++i) p[i] = truncated_as<T>(start + static_cast<double>(i) * step, "arange");
  });
  return finish(t, o);
}
Tensor arange(double start, double end, TensorOptions o) { return arange(start, end, 1.0, o); }
Tensor arange(double end, TensorOptions o) { return arange(0.0, end, 1.0, o); }

Tensor linspace(double start, double end, std::int64_t steps, TensorOptions o) {
  if (steps < 0) throw Error(fmt::format("linspace: number of steps must be non-negative, got {}", steps));
  Tensor t = detail::make_tensor({steps}, o.dtype_, "linspace");
  const double h = steps > 1 ? (end - start) / static_cast<double>(steps - 1) : 0.0;
  detail::dispatch(o.dtype_, [&]<class T>() {
    T* p = t.data_ptr<T>();
    // Symmetric formula (like PyTorch) so that the last value is exactly `end`.
    for (std::int64_t i = 0; i < steps; ++i)
      p[i] = truncated_as<T>(i < steps / 2 ? start + h * static_cast<double>(i)
                                           : end - h * static_cast<double>(steps - 1 - i),
                             "linspace");
  });
  return finish(t, o);
}

Tensor eye(std::int64_t n, std::int64_t m, TensorOptions o) {
  if (m < 0) m = n;
  if (n < 0) throw Error(fmt::format("eye: n must be non-negative, got {}", n));
  Tensor t = zeros({n, m}, TensorOptions().dtype(o.dtype_));
  detail::dispatch(o.dtype_, [&]<class T>() {
    T* p = t.data_ptr<T>();
    for (std::int64_t i = 0; i < std::min(n, m); ++i) p[i * m + i] = T(1);
  });
  return finish(t, o);
}

Tensor rand(const Shape& shape, TensorOptions o) {
  Tensor t = detail::make_tensor(shape, o.dtype_, "rand");
  std::lock_guard<std::mutex> lock(g_rng_mutex);
  detail::dispatch_floating(o.dtype_, "rand", [&]<class T>() {
    T* p = t.data_ptr<T>();
    for (std::int64_t i = 0; i < t.numel(); ++i)
      p[i] = static_cast<T>(uniform_from(g_rng(), std::is_same_v<T, float>));
  });
  return finish(t, o);
}

Tensor randn(const Shape& shape, TensorOptions o) {
  Tensor t = detail::make_tensor(shape, o.dtype_, "randn");
  detail::dispatch_floating(o.dtype_, "randn", [&]<class T>() {
    T* p = t.data_ptr<T>();
    for (std::int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<T>(random_normal());
  });
  return finish(t, o);
}

Tensor randint(std::int64_t low, std::int64_t high, const Shape& shape, TensorOptions o) {
  if (low >= high) throw Error(fmt::format("randint: expected low < high, got low={} high={}", low, high));
  Tensor t = detail::make_tensor(shape, o.dtype_, "randint");
  const auto range = static_cast<std::uint64_t>(high - low);
  std::lock_guard<std::mutex> lock(g_rng_mutex);
  detail::dispatch(o.dtype_, [&]<class T>() {
    T* p = t.data_ptr<T>();
    for (std::int64_t i = 0; i < t.numel(); ++i)
      p[i] = static_cast<T>(low + static_cast<std::int64_t>(g_rng() % range));
  });
  return finish(t, o);
}

Tensor zeros_like(const Tensor& t, std::optional<Dtype> d) {
  detail::check_defined(t, "zeros_like");
  return zeros(t.shape(), dtype(d.value_or(t.dtype())));
}
Tensor ones_like(const Tensor& t, std::optional<Dtype> d) {
  detail::check_defined(t, "ones_like");
  return ones(t.shape(), dtype(d.value_or(t.dtype())));
}
Tensor full_like(const Tensor& t, double v, std::optional<Dtype> d) {
  detail::check_defined(t, "full_like");
  return full(t.shape(), v, dtype(d.value_or(t.dtype())));
}
Tensor empty_like(const Tensor& t, std::optional<Dtype> d) {
  detail::check_defined(t, "empty_like");
  return empty(t.shape(), dtype(d.value_or(t.dtype())));
}
Tensor rand_like(const Tensor& t) {
  detail::check_defined(t, "rand_like");
  return rand(t.shape(), dtype(t.dtype()));
}
Tensor randn_like(const Tensor& t) {
  detail::check_defined(t, "randn_like");
  return randn(t.shape(), dtype(t.dtype()));
}

namespace {
Tensor from_doubles(const std::vector<double>& v, const Shape& shape, TensorOptions o, std::string_view op) {
  Tensor t = detail::make_tensor(shape, o.dtype_);
  detail::dispatch(o.dtype_, [&]<class T>() {
    T* p = t.data_ptr<T>();
    for (std::size_t i = 0; i < v.size(); ++i) p[i] = detail::scalar_as<T>(v[i], op);
  });
  return finish(t, o);
}
}  // namespace

namespace {
// Shape of a nested list (from its first items) and its leaves in row-major order.
void flatten_nested(const NestedList& n, std::size_t depth, Shape& shape, std::vector<const NestedList*>& out) {
  if (n.is_leaf()) {
    if (depth != shape.size())
      throw Error(fmt::format("tensor: ragged nested list: a number at depth {} where shape {} expects a list", depth,
                              shape));
    out.push_back(&n);
    return;
  }
  const auto len = static_cast<std::int64_t>(n.items().size());
  if (depth == shape.size()) {
    // First visit at this depth fixes the size (only along the first path).
    if (!out.empty())
      throw Error(fmt::format("tensor: ragged nested list: a list at depth {} where shape {} expects a number", depth,
                              shape));
    shape.push_back(len);
  } else if (shape[depth] != len) {
    throw Error(fmt::format("tensor: ragged nested list: expected {} items at depth {}, got {}", shape[depth], depth,
                            len));
  }
  for (const NestedList& c : n.items()) flatten_nested(c, depth + 1, shape, out);
}
}  // namespace

Tensor tensor(std::initializer_list<NestedList> values, TensorOptions o) {
  Shape shape;
  std::vector<const NestedList*> leaves;
  const NestedList root(values);
  flatten_nested(root, 0, shape, leaves);
  if (static_cast<std::int64_t>(leaves.size()) != shape_numel(shape))
    throw Error(fmt::format("tensor: ragged nested list: {} numbers do not fill shape {}", leaves.size(), shape));
  if (!o.dtype_given_ && !leaves.empty()) {
    using K = NestedList::Kind;
    bool any_float = false, any_int = false;
    for (const NestedList* l : leaves) {
      any_float = any_float || l->kind() == K::floating;
      any_int = any_int || l->kind() == K::integer;
    }
    o.dtype_ = any_float ? Dtype::float32 : any_int ? Dtype::int64 : Dtype::boolean;
  }
  Tensor t = detail::make_tensor(shape, o.dtype_);
  detail::dispatch(o.dtype_, [&]<class T>() {
    T* p = t.data_ptr<T>();
    for (const NestedList* l : leaves) {
      if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
        if (l->kind() != NestedList::Kind::floating) {  // exact, also beyond 2^53
          const std::int64_t v = l->int_value();
          if (v < std::numeric_limits<T>::min() || v > std::numeric_limits<T>::max())
            throw Error(fmt::format("tensor: the value {} cannot be represented as {}", v, dtype_of<T>()));
          *p++ = static_cast<T>(v);
          continue;
        }
      }
      *p++ = detail::scalar_as<T>(l->value(), "tensor");
    }
  });
  return finish(t, o);
}

Tensor scalar_tensor(double v, TensorOptions o) { return from_doubles({v}, {}, o, "scalar_tensor"); }

template <class T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape, bool requires_grad) {
  Shape s = shape.empty() ? Shape{static_cast<std::int64_t>(values.size())} : shape;
  if (shape_numel(s) != static_cast<std::int64_t>(values.size()))
    throw Error(fmt::format("from_vector: {} values cannot fill shape {} ({} elements)", values.size(), s,
                            shape_numel(s)));
  Tensor t = detail::make_tensor(s, dtype_of<T>());
  std::copy(values.begin(), values.end(), t.data_ptr<T>());  // also from std::vector<bool>'s proxies
  if (requires_grad) t.requires_grad_(true);
  return t;
}
template Tensor from_vector<float>(const std::vector<float>&, const Shape&, bool);
template Tensor from_vector<double>(const std::vector<double>&, const Shape&, bool);
template Tensor from_vector<std::int64_t>(const std::vector<std::int64_t>&, const Shape&, bool);
template Tensor from_vector<std::int32_t>(const std::vector<std::int32_t>&, const Shape&, bool);
template Tensor from_vector<bool>(const std::vector<bool>&, const Shape&, bool);

}  // namespace xgrad
