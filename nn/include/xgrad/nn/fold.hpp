// Fold / Unfold (col2im / im2col), PyTorch's nn.Fold, nn.Unfold, F.fold, F.unfold.
//
// Spatial arguments (kernel_size, dilation, padding, stride, output_size) take one value for
// both spatial dims ({3}) or one per dim ({3, 2}). With (kh, kw) the kernel, (dh, dw) the
// dilation, (ph, pw) the padding and (sh, sw) the stride, a spatial size (H, W) holds
//   Lh = floor((H + 2 ph - dh (kh - 1) - 1) / sh) + 1,   Lw likewise,   L = Lh Lw
// sliding blocks, numbered l = bh Lw + bw.
//
// unfold(input, options): input [N, C, H, W] (or unbatched [C, H, W]) -> [N, C kh kw, L]
// (or [C kh kw, L]) with
//   out[n, (c kh + i) kw + j, bh Lw + bw] = in[n, c, bh sh - ph + i dh, bw sw - pw + j dw]
// (0 where that position lies in the padding).
// fold(input, options): the adjoint, input [N, C kh kw, L] (or [C kh kw, L]) -> [N, C, oH, oW]
// (or [C, oH, oW]), (oH, oW) = output_size, summing every block value into its position
// (positions in the padding are dropped). fold(unfold(x)) multiplies each element by the
// number of blocks that cover it.
//
// Each is the other's backward (recorded as UnfoldBackward / FoldBackward), so derivatives of
// any order work. The kernels run in parallel over [n, c] planes; fold sums each plane in a
// fixed order on one task, so results are bit-identical at every thread count. Inputs may be
// non-contiguous. Floating dtypes only (float32, float64): others throw the usual "expected a
// floating dtype" error, like PyTorch's im2col.
//
// Errors (xgrad::Error naming "unfold" / "fold" or the module, with the shapes): wrong input
// rank; an argument list with neither 1 nor 2 entries; kernel_size, dilation or stride < 1,
// padding < 0, output_size < 1; no sliding block fits (Lh or Lw < 1); for fold, a dim -2
// not divisible by kh kw, or a dim -1 that differs from the L of output_size.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "xgrad/autograd/tensor.hpp"
#include "xgrad/nn/module.hpp"
#include "xgrad/nn/options.hpp"

namespace xgrad::nn {

/// Options of Unfold / functional::unfold. kernel_size is required (the constructor).
struct UnfoldOptions {
  UnfoldOptions(std::vector<std::int64_t> kernel_size) { kernel_size_ = std::move(kernel_size); }  // NOLINT
#define XGRAD_NN_FIELDS(X)                                             \
  X(std::vector<std::int64_t>, kernel_size, {}, ::xgrad::options::any) \
  X(std::vector<std::int64_t>, dilation, {1}, ::xgrad::options::any)   \
  X(std::vector<std::int64_t>, padding, {0}, ::xgrad::options::any)    \
  X(std::vector<std::int64_t>, stride, {1}, ::xgrad::options::any)
  XGRAD_OPTIONS(UnfoldOptions, XGRAD_NN_FIELDS)
#undef XGRAD_NN_FIELDS
};

/// Options of Fold / functional::fold. output_size and kernel_size are required.
struct FoldOptions {
  FoldOptions(std::vector<std::int64_t> output_size, std::vector<std::int64_t> kernel_size) {
    output_size_ = std::move(output_size);
    kernel_size_ = std::move(kernel_size);
  }
#define XGRAD_NN_FIELDS(X)                                             \
  X(std::vector<std::int64_t>, output_size, {}, ::xgrad::options::any) \
  X(std::vector<std::int64_t>, kernel_size, {}, ::xgrad::options::any) \
  X(std::vector<std::int64_t>, dilation, {1}, ::xgrad::options::any)   \
  X(std::vector<std::int64_t>, padding, {0}, ::xgrad::options::any)    \
  X(std::vector<std::int64_t>, stride, {1}, ::xgrad::options::any)
  XGRAD_OPTIONS(FoldOptions, XGRAD_NN_FIELDS)
#undef XGRAD_NN_FIELDS
};

namespace functional {

/// im2col: [N, C, H, W] -> [N, C kh kw, L] (see the top of this file).
Tensor unfold(const Tensor& input, const UnfoldOptions& options);
/// col2im: [N, C kh kw, L] -> [N, C, oH, oW] (see the top of this file).
Tensor fold(const Tensor& input, const FoldOptions& options);

}  // namespace functional

/// functional::unfold as a module; prints "kernel_size=[2, 3], dilation=[1], padding=[0],
/// stride=[1]". Options are checked on construction (errors name "Unfold").
class Unfold : public Module {
 public:
  explicit Unfold(UnfoldOptions options);
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;
  const UnfoldOptions& options() const { return options_; }

 private:
  UnfoldOptions options_;
};

/// functional::fold as a module; prints "output_size=[4, 5], kernel_size=[2, 2], ...".
/// Options are checked on construction (errors name "Fold").
class Fold : public Module {
 public:
  explicit Fold(FoldOptions options);
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;
  const FoldOptions& options() const { return options_; }

 private:
  FoldOptions options_;
};

}  // namespace xgrad::nn
