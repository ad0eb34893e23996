// Linear-algebra layers and simple shape/regularisation layers: Linear, Bilinear, Identity,
// Flatten, Unflatten, Dropout (module form in xgrad::nn, function form in
// xgrad::nn::functional). PyTorch's definitions and defaults.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "xgrad/nn/module.hpp"
#include "xgrad/nn/options.hpp"

namespace xgrad::nn {

namespace functional {

/// y = x W^T + b. x: [..., in] (at least 1-d), W: [out, in], b: [out] or undefined (no bias);
/// y: [..., out]. Gradients: dx = dy W, dW = dy^T x (summed over the leading dims),
/// db = dy summed over the leading dims.
/// Throws xgrad::Error (naming both shapes) when x's last dim differs from in, W is not 2-d,
/// b is not [out], or the dtypes differ.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

/// y_k = sum_ij x1_i A_kij x2_j + b_k. x1: [..., in1], x2: [..., in2] with the same leading
/// dims, A: [out, in1, in2], b: [out] or undefined; y: [..., out].
/// Throws xgrad::Error naming the shapes when they do not fit together.
Tensor bilinear(const Tensor& x1, const Tensor& x2, const Tensor& weight, const Tensor& bias = Tensor());

/// Training: each element is zeroed independently with probability p (drawn from the global
/// generator, so manual_seed reproduces the mask) and the survivors are scaled by 1/(1-p);
/// the gradient is the same mask / (1-p). p = 1 gives zeros. Not training, or p = 0: returns
/// x unchanged. Throws xgrad::Error when p is outside [0, 1].
Tensor dropout(const Tensor& x, double p = 0.5, bool training = true);

}  // namespace functional

/// Options of Linear: LinearOptions(in, out).bias(false). Sizes are checked by Linear.
struct LinearOptions {
  LinearOptions(std::int64_t in_features, std::int64_t out_features) {
    in_features_ = in_features;
    out_features_ = out_features;
  }
#define XGRAD_NN_FIELDS(X)                                      \
  X(std::int64_t, in_features, 0, ::xgrad::options::any)        \
  X(std::int64_t, out_features, 0, ::xgrad::options::any)       \
  X(bool, bias, true, ::xgrad::options::any)
  XGRAD_OPTIONS(LinearOptions, XGRAD_NN_FIELDS)
#undef XGRAD_NN_FIELDS
};

/// Fully connected layer y = x W^T + b (functional::linear). weight: [out, in],
/// bias: [out] (absent with bias(false)). Init (PyTorch's): kaiming_uniform(a = sqrt(5)),
/// which is U(-1/sqrt(in), 1/sqrt(in)), for the weight, then U(-1/sqrt(in), 1/sqrt(in)) for
/// the bias, both drawn from the global generator (manual_seed reproduces them).
/// Throws xgrad::Error for negative sizes.
class Linear : public Module {
 public:
  Linear(std::int64_t in_features, std::int64_t out_features, bool bias = true);
  explicit Linear(const LinearOptions& options);
  Tensor forward(const Tensor& input) override;
  /// Re-draws the parameters with the default init.
  void reset_parameters();
  std::string extra_repr() const override;
  const LinearOptions& options() const { return options_; }

  Tensor weight;
  Tensor bias;  ///< undefined without bias

 private:
  LinearOptions options_;
};

/// Options of Bilinear: BilinearOptions(in1, in2, out).bias(false). Sizes are checked by
/// Bilinear.
struct BilinearOptions {
  BilinearOptions(std::int64_t in1_features, std::int64_t in2_features, std::int64_t out_features) {
    in1_features_ = in1_features;
    in2_features_ = in2_features;
    out_features_ = out_features;
  }
#define XGRAD_NN_FIELDS(X)                                      \
  X(std::int64_t, in1_features, 0, ::xgrad::options::any)       \
  X(std::int64_t, in2_features, 0, ::xgrad::options::any)       \
  X(std::int64_t, out_features, 0, ::xgrad::options::any)       \
  X(bool, bias, true, ::xgrad::options::any)
  XGRAD_OPTIONS(BilinearOptions, XGRAD_NN_FIELDS)
#undef XGRAD_NN_FIELDS
};

/// y = x1^T A x2 + b (functional::bilinear); call forward(x1, x2). weight: [out, in1, in2],
/// bias: [out]. Init (PyTorch's): weight and bias U(-1/sqrt(in1), 1/sqrt(in1)).
class Bilinear : public Module {
 public:
  Bilinear(std::int64_t in1_features, std::int64_t in2_features, std::int64_t out_features, bool bias = true);
  explicit Bilinear(const BilinearOptions& options);
  using Module::forward;  // the one-input form throws: Bilinear takes two inputs
  Tensor forward(const Tensor& x1, const Tensor& x2);
  /// Same as forward(x1, x2) (module hooks, which take one input, are not run).
  Tensor operator()(const Tensor& x1, const Tensor& x2) { return forward(x1, x2); }
  using Module::operator();
  void reset_parameters();
  std::string extra_repr() const override;
  const BilinearOptions& options() const { return options_; }

  Tensor weight;
  Tensor bias;

 private:
  BilinearOptions options_;
};

/// Returns its input (the same tensor).
class Identity : public Module {
 public:
  Identity() : Module("Identity") {}
  Tensor forward(const Tensor& input) override { return input; }
};

/// Options of Flatten: the first and last dims merged (negative counts from the end).
struct FlattenOptions {
  FlattenOptions(std::int64_t start_dim = 1, std::int64_t end_dim = -1) {  // NOLINT: implicit on purpose
    start_dim_ = start_dim;
    end_dim_ = end_dim;
  }
#define XGRAD_NN_FLATTEN_FIELDS(X)                        \
  X(std::int64_t, start_dim, 1, ::xgrad::options::any)   \
  X(std::int64_t, end_dim, -1, ::xgrad::options::any)
  XGRAD_OPTIONS(FlattenOptions, XGRAD_NN_FLATTEN_FIELDS)
};

/// Merges dims start_dim..end_dim (negative counts from the end) into one; shares storage.
/// Default start_dim = 1 keeps the batch dim: [N, C, H, W] -> [N, C*H*W].
class Flatten : public Module {
 public:
  explicit Flatten(std::int64_t start_dim = 1, std::int64_t end_dim = -1) : Flatten(FlattenOptions(start_dim, end_dim)) {}
  explicit Flatten(const FlattenOptions& options);
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;
  const FlattenOptions& options() const { return options_; }

 private:
  FlattenOptions options_;
};

/// Options of Unflatten: the dim split and the sizes it is split into (one may be -1).
/// Throws (at the module's construction) when sizes is empty, has an entry below -1, or more
/// than one -1.
struct UnflattenOptions {
  UnflattenOptions(std::int64_t dim, Shape sizes) {
    dim_ = dim;
    sizes_ = std::move(sizes);
  }
#define XGRAD_NN_UNFLATTEN_FIELDS(X)                    \
  X(std::int64_t, dim, 0, ::xgrad::options::any)       \
  X(Shape, sizes, {}, ::xgrad::nn::checks::unflatten_sizes)
  XGRAD_OPTIONS(UnflattenOptions, XGRAD_NN_UNFLATTEN_FIELDS)
};

/// Splits dim `dim` into `sizes` (one entry may be -1, inferred): Unflatten(1, {2, 3}) maps
/// [N, 6] -> [N, 2, 3]. Throws xgrad::Error naming the shape when the product does not equal
/// the dim's size or sizes is empty.
class Unflatten : public Module {
 public:
  Unflatten(std::int64_t dim, Shape sizes) : Unflatten(UnflattenOptions(dim, std::move(sizes))) {}
  explicit Unflatten(const UnflattenOptions& options);
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;
  const UnflattenOptions& options() const { return options_; }

 private:
  UnflattenOptions options_;
};

/// Options of Dropout: the probability p of zeroing an element, in [0, 1] (default 0.5).
struct DropoutOptions {
  DropoutOptions(double p = 0.5) { p_ = p; }  // NOLINT: implicit on purpose
#define XGRAD_NN_DROPOUT_FIELDS(X) X(double, p, 0.5, ::xgrad::nn::checks::probability)
  XGRAD_OPTIONS(DropoutOptions, XGRAD_NN_DROPOUT_FIELDS)
};

/// functional::dropout(x, p, is_training()). Throws xgrad::Error when p is outside [0, 1].
class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5) : Dropout(DropoutOptions(p)) {}
  explicit Dropout(const DropoutOptions& options);
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;
  double p() const { return options_.p(); }
  const DropoutOptions& options() const { return options_; }

 private:
  DropoutOptions options_;
};

}  // namespace xgrad::nn
