// Channel-wise dropout and alpha dropout: a mask drawn serially from the global generator,
// applied with differentiable ops (x * mask, x * mask + shift).
#include <cmath>
#include <cstdint>

#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/kernel/kernel.hpp"
#include "xgrad/autograd/shape.hpp"
#include "xgrad/nn/activation.hpp"
#include "xgrad/nn/dropout.hpp"
#include "xgrad/autograd/profile_scope.hpp"

namespace xgrad::nn {

namespace {

void check_p(double p, std::string_view op) {
  if (!(p >= 0.0 && p <= 1.0)) throw Error(fmt::format("{}: probability p must be in [0, 1], got {}", op, p));
}

void check_floating(const Tensor& x, std::string_view op) {
  if (!is_floating(x.dtype())) throw Error(fmt::format("{}: needs a floating tensor, got {}", op, x.describe()));
}

// A uniform draw per unit of `shape`, turned in place into `kept` where u >= p, else
// `dropped`.
Tensor draw_mask(const Shape& shape, Dtype dt, double p, double kept, double dropped) {
  Tensor mask = rand(shape, dtype(dt));
  kernel::dispatch_floating(dt, "dropout", [&]<class T>() {
    T* m = mask.data_ptr<T>();
    const T k = static_cast<T>(kept), d = static_cast<T>(dropped);
    kernel::parallel_for(mask.numel(), [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i) m[i] = static_cast<double>(m[i]) >= p ? k : d;
    });
  });
  return mask;
}

// Channel dropout of a batched [N, C, *] input: one draw per (sample, channel).
Tensor feature_dropout(const Tensor& x, double p) {
  Shape ms(static_cast<std::size_t>(x.dim()), 1);
  ms[0] = x.size(0);
  ms[1] = x.size(1);
  if (p == 1.0) return mul(x, zeros({}, dtype(x.dtype())));
  return mul(x, draw_mask(ms, x.dtype(), p, 1.0 / (1.0 - p), 0.0));
}

// The shared body: validation, the identity cases, unbatched inputs (one dim fewer than
// `batched_dim`, given a batch dim of one).
Tensor channel_dropout(const Tensor& x, double p, bool training, std::string_view op, std::int64_t batched_dim,
                       bool allow_unbatched, std::string_view expected) {
  xgrad::detail::check_defined(x, op);
  check_p(p, op);
  const std::int64_t nd = x.dim();
  const bool unbatched = allow_unbatched && nd == batched_dim - 1;
  if (nd != batched_dim && !unbatched && !(op == "dropout2d" && nd == 3))
    throw Error(
        fmt::format("{}: Expected {} input, but received a {}D input of shape {}", op, expected, nd, x.shape()));
  if (!training || p == 0.0 || x.numel() == 0) return x;
  check_floating(x, op);
  if (!unbatched) return feature_dropout(x, p);
  return squeeze(feature_dropout(unsqueeze(x, 0), p), 0);
}

}  // namespace

namespace functional {

Tensor dropout1d(const Tensor& x, double p, bool training) {
  XGRAD_PROFILE_OP("dropout1d", x);
  return channel_dropout(x, p, training, "dropout1d", 3, true, "2D or 3D");
}

Tensor dropout2d(const Tensor& x, double p, bool training) {
  XGRAD_PROFILE_OP("dropout2d", x);
  return channel_dropout(x, p, training, "dropout2d", 4, false, "3D or 4D");
}

Tensor dropout3d(const Tensor& x, double p, bool training) {
  XGRAD_PROFILE_OP("dropout3d", x);
  return channel_dropout(x, p, training, "dropout3d", 5, true, "4D or 5D");
}

Tensor alpha_dropout(const Tensor& x, double p, bool training) {
  XGRAD_PROFILE_OP("alpha_dropout", x);
  xgrad::detail::check_defined(x, "alpha_dropout");
  check_p(p, "alpha_dropout");
  if (!training || p == 0.0 || x.numel() == 0) return x;
  check_floating(x, "alpha_dropout");
  if (p == 1.0) return mul(x, zeros({}, dtype(x.dtype())));
  constexpr double alpha = kSeluScale * kSeluAlpha;  // 1.7580993408473766
  const double a = 1.0 / std::sqrt((alpha * alpha * p + 1.0) * (1.0 - p));
  // One draw per element decides both the multiplier (a or 0) and the shift.
  Tensor scale = rand(x.shape(), dtype(x.dtype()));
  Tensor shift = xgrad::detail::make_tensor(x.shape(), x.dtype());
  kernel::dispatch_floating(x.dtype(), "alpha_dropout", [&]<class T>() {
    T* s = scale.data_ptr<T>();
    T* b = shift.data_ptr<T>();
    const T kept_b = static_cast<T>(alpha * a * p), dropped_b = static_cast<T>(-alpha * a * (1.0 - p));
    const T ka = static_cast<T>(a);
    kernel::parallel_for(scale.numel(), [&](std::int64_t lo, std::int64_t hi) {
      for (std::int64_t i = lo; i < hi; ++i) {
        const bool keep = static_cast<double>(s[i]) >= p;
        s[i] = keep ? ka : T(0);
        b[i] = keep ? kept_b : dropped_b;
      }
    });
  });
  return add(mul(x, scale), shift);
}

}  // namespace functional

// ---- modules ---------------------------------------------------------------------------------

Dropout1d::Dropout1d(const DropoutOptions& options) : Module("Dropout1d"), options_(options) {
  ::xgrad::options::validate_options(options_, "Dropout1d");
}
Tensor Dropout1d::forward(const Tensor& input) { return functional::dropout1d(input, options_.p(), is_training()); }
std::string Dropout1d::extra_repr() const { return fmt::format("p={}", options_.p()); }

Dropout2d::Dropout2d(const DropoutOptions& options) : Module("Dropout2d"), options_(options) {
  ::xgrad::options::validate_options(options_, "Dropout2d");
}
Tensor Dropout2d::forward(const Tensor& input) { return functional::dropout2d(input, options_.p(), is_training()); }
std::string Dropout2d::extra_repr() const { return fmt::format("p={}", options_.p()); }

Dropout3d::Dropout3d(const DropoutOptions& options) : Module("Dropout3d"), options_(options) {
  ::xgrad::options::validate_options(options_, "Dropout3d");
}
Tensor Dropout3d::forward(const Tensor& input) { return functional::dropout3d(input, options_.p(), is_training()); }
std::string Dropout3d::extra_repr() const { return fmt::format("p={}", options_.p()); }

AlphaDropout::AlphaDropout(const DropoutOptions& options) : Module("AlphaDropout"), options_(options) {
  ::xgrad::options::validate_options(options_, "AlphaDropout");
}
Tensor AlphaDropout::forward(const Tensor& input) {
  return functional::alpha_dropout(input, options_.p(), is_training());
}
std::string AlphaDropout::extra_repr() const { return fmt::format("p={}", options_.p()); }

}  // namespace xgrad::nn
