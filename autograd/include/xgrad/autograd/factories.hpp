// Tensor factories and the random generator.
#pragma once

#include <climits>
#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <type_traits>
#include <vector>

#include "xgrad/autograd/tensor.hpp"

namespace xgrad {

/// Creation options: dtype (default float32; tensor() infers it from its numbers unless
/// one is given) and requires_grad (default false).
struct TensorOptions {
  Dtype dtype_ = Dtype::float32;
  bool requires_grad_ = false;
  bool dtype_given_ = false;
  TensorOptions& dtype(Dtype d) { dtype_ = d; dtype_given_ = true; return *this; }
  TensorOptions& requires_grad(bool r = true) { requires_grad_ = r; return *this; }
};
inline TensorOptions dtype(Dtype d) { return TensorOptions().dtype(d); }

/// Uninitialised values (empty), 0, 1 or `value`. Each throws xgrad::Error naming itself
/// ("zeros: ...") on a negative size, when the element count or the size in bytes overflows
/// (e.g. [2^62, 4]; a zero size gives 0 elements whatever the others are), and when the
/// memory cannot be allocated. rand, randn and randint below do the same.
Tensor empty(const Shape& shape, TensorOptions opts = {});
Tensor zeros(const Shape& shape, TensorOptions opts = {});
Tensor ones(const Shape& shape, TensorOptions opts = {});
Tensor full(const Shape& shape, double value, TensorOptions opts = {});
/// [start, start+step, ...) up to but excluding end: ceil((end - start) / step) values
/// start + i step. Throws when step is 0 or has the wrong sign, and when that count is not
/// finite or reaches 2^63. arange(start, end) has step 1 and arange(end) starts at 0, as in
/// PyTorch: arange(2, 7) is [2, 3, 4, 5, 6], arange(2, 7, dtype(int64)) the same in int64.
/// The step has no default (a separate overload instead) so that options can follow two
/// bounds. Unlike PyTorch, integer arguments do not make the result int64: the dtype is
/// opts' (float32 by default), like every factory here.
Tensor arange(double start, double end, double step, TensorOptions opts = {});
Tensor arange(double start, double end, TensorOptions opts = {});
Tensor arange(double end, TensorOptions opts = {});
/// `steps` evenly spaced values from start to end inclusive. Throws when steps < 0.
Tensor linspace(double start, double end, std::int64_t steps, TensorOptions opts = {});
/// n x m identity (m defaults to n).
Tensor eye(std::int64_t n, std::int64_t m = -1, TensorOptions opts = {});

/// U[0, 1) from the global generator.
Tensor rand(const Shape& shape, TensorOptions opts = {});
/// Standard normal N(0, 1) from the global generator.
Tensor randn(const Shape& shape, TensorOptions opts = {});
/// Integers uniform in [low, high), int64 unless opts says otherwise. Throws if low >= high.
Tensor randint(std::int64_t low, std::int64_t high, const Shape& shape, TensorOptions opts = dtype(Dtype::int64));

Tensor zeros_like(const Tensor& t, std::optional<Dtype> d = std::nullopt);
Tensor ones_like(const Tensor& t, std::optional<Dtype> d = std::nullopt);
Tensor full_like(const Tensor& t, double value, std::optional<Dtype> d = std::nullopt);
Tensor empty_like(const Tensor& t, std::optional<Dtype> d = std::nullopt);
Tensor rand_like(const Tensor& t);
Tensor randn_like(const Tensor& t);

/// A number or a nested braced list of numbers: the argument type of tensor(). A leaf
/// remembers whether it was written as a floating-point, an integer or a bool literal.
class NestedList {
 public:
  enum class Kind : std::uint8_t { floating, integer, boolean };
  NestedList(double v) : leaf_(true), value_(v) {}  // NOLINT: implicit on purpose
  NestedList(bool v) : leaf_(true), kind_(Kind::boolean), value_(v ? 1.0 : 0.0), int_(v ? 1 : 0) {}  // NOLINT
  template <std::integral I>
    requires(!std::is_same_v<I, bool>)
  NestedList(I v)  // NOLINT: implicit on purpose
      : leaf_(true), kind_(Kind::integer), value_(static_cast<double>(v)), int_(static_cast<std::int64_t>(v)) {
    if constexpr (std::is_unsigned_v<I>)
      if (v > static_cast<std::uint64_t>(INT64_MAX))
        throw Error(fmt::format("tensor: the value {} does not fit in int64", v));
  }
  NestedList(std::initializer_list<NestedList> items) : items_(items) {}
  bool is_leaf() const { return leaf_; }
  Kind kind() const { return kind_; }
  double value() const { return value_; }
  /// The exact value of an integer or bool leaf (int64 values beyond 2^53 stay exact).
  std::int64_t int_value() const { return int_; }
  const std::vector<NestedList>& items() const { return items_; }

 private:
  bool leaf_ = false;
  Kind kind_ = Kind::floating;
  double value_ = 0.0;
  std::int64_t int_ = 0;
  std::vector<NestedList> items_;
};

/// A tensor from nested braced lists of any depth: tensor({1., 2.}) has shape [2],
/// tensor({{1.}, {2.}}) shape [2, 1], tensor({{1., 2.}, {3., 4.}}) shape [2, 2].
/// Ragged lists throw xgrad::Error. Without a dtype in opts, the dtype follows the numbers
/// as in PyTorch: any floating-point literal gives float32, else any integer literal gives
/// int64 (tensor({1, 2, 3}) is int64), else bool literals give bool. An empty list is
/// float32. A value that does not fit the chosen dtype throws.
Tensor tensor(std::initializer_list<NestedList> values, TensorOptions opts = {});
/// A 0-d tensor holding v.
Tensor scalar_tensor(double v, TensorOptions opts = {});
/// Copies `values` into a tensor of `shape` (default: 1-d). Throws when the sizes differ.
template <class T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape = {}, bool requires_grad = false);

// ---- random generator -----------------------------------------------------------------
/// The global generator is a 64-bit Mersenne Twister (std::mt19937_64). Uniform floats are
/// taken from the top 24 (float32) or 53 (float64) bits, normals by Box-Muller. Values are
/// drawn serially in row-major order, so a seed gives the same numbers on every run and
/// every thread count. Default seed: 5489 (mt19937_64's default).
void manual_seed(std::uint64_t seed);
/// Draws from the global generator (for layers and data loaders that need randomness).
std::uint64_t random_u64();
/// U[0, 1) in double precision from the global generator.
double random_uniform();
/// N(0, 1) from the global generator.
double random_normal();

}  // namespace xgrad
