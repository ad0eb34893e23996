// Channel-wise dropout (dropout1d/2d/3d, modules Dropout1d/2d/3d) and alpha dropout
// (alpha_dropout, module AlphaDropout). Element-wise dropout (dropout, Dropout) lives in
// linear.hpp. PyTorch's definitions and defaults.
//
// Common rules:
// * p is the probability of zeroing, in [0, 1]; outside throws xgrad::Error
//   "<op>: probability p must be in [0, 1], got <p>".
// * Not training, p = 0, or an empty input: the input itself is returned (the same tensor).
// * The mask is drawn from the global generator (rand, one value per kept/dropped unit, in
//   row-major order), so manual_seed reproduces it at every thread count. A unit is kept when
//   its uniform draw u satisfies u >= p.
// * The result is x times the mask (plus a constant for alpha dropout), so the gradient is the
//   mask's multiplier; differentiable any number of times.
// * Floating inputs only: an integer input throws "<op>: needs a floating tensor".
#pragma once

#include <string>

#include "xgrad/autograd/tensor.hpp"
#include "xgrad/nn/linear.hpp"
#include "xgrad/nn/module.hpp"
#include "xgrad/nn/options.hpp"

namespace xgrad::nn {

namespace functional {

/// Zeroes whole channels: input [N, C, L] or unbatched [C, L]; each of the N*C (or C)
/// channels is zeroed with probability p, the kept ones are scaled by 1 / (1 - p)
/// (p = 1: all zeros). Throws xgrad::Error for any other rank.
Tensor dropout1d(const Tensor& x, double p = 0.5, bool training = true);
/// Channel dropout for [N, C, H, W]. A 3-d input is taken as [N, C, L] (channel-wise 1-d
/// dropout), which is what PyTorch does today (it warns that this will change to an unbatched
/// [C, H, W] reading). Departure: PyTorch only warns for other ranks; they throw here.
Tensor dropout2d(const Tensor& x, double p = 0.5, bool training = true);
/// Channel dropout for [N, C, D, H, W] or unbatched [C, D, H, W]. Other ranks throw
/// (PyTorch warns).
Tensor dropout3d(const Tensor& x, double p = 0.5, bool training = true);

/// Alpha dropout (Klambauer et al., for SELU networks; PyTorch's formula). Each element is
/// kept with probability 1 - p; with alpha' = kSeluScale * kSeluAlpha = 1.7580993408473766
/// and a = 1 / sqrt((alpha'^2 p + 1)(1 - p)):
///   kept:    y = a x + alpha' a p
///   dropped: y = -alpha' a (1 - p)      (a x with x replaced by -alpha', then shifted)
/// which keeps zero mean and unit variance of a standardised input. dy/dx = a (kept) or 0.
/// p = 1 gives zeros. Any shape.
Tensor alpha_dropout(const Tensor& x, double p = 0.5, bool training = true);

}  // namespace functional

/// Dropout1d/2d/3d and AlphaDropout take DropoutOptions (p, default 0.5), as libtorch does.
using Dropout1dOptions = DropoutOptions;
using Dropout2dOptions = DropoutOptions;
using Dropout3dOptions = DropoutOptions;
using AlphaDropoutOptions = DropoutOptions;

/// functional::dropout1d(x, p, is_training()). Throws (at construction) for p outside [0, 1].
class Dropout1d : public Module {
 public:
  explicit Dropout1d(double p = 0.5) : Dropout1d(DropoutOptions(p)) {}
  explicit Dropout1d(const DropoutOptions& options);
  Tensor forward(const Tensor& input) override;
  /// "p=0.5"
  std::string extra_repr() const override;
  const DropoutOptions& options() const { return options_; }

 private:
  DropoutOptions options_;
};

/// functional::dropout2d(x, p, is_training()).
class Dropout2d : public Module {
 public:
  explicit Dropout2d(double p = 0.5) : Dropout2d(DropoutOptions(p)) {}
  explicit Dropout2d(const DropoutOptions& options);
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;
  const DropoutOptions& options() const { return options_; }

 private:
  DropoutOptions options_;
};

/// functional::dropout3d(x, p, is_training()).
class Dropout3d : public Module {
 public:
  explicit Dropout3d(double p = 0.5) : Dropout3d(DropoutOptions(p)) {}
  explicit Dropout3d(const DropoutOptions& options);
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;
  const DropoutOptions& options() const { return options_; }

 private:
  DropoutOptions options_;
};

/// functional::alpha_dropout(x, p, is_training()).
class AlphaDropout : public Module {
 public:
  explicit AlphaDropout(double p = 0.5) : AlphaDropout(DropoutOptions(p)) {}
  explicit AlphaDropout(const DropoutOptions& options);
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;
  const DropoutOptions& options() const { return options_; }

 private:
  DropoutOptions options_;
};

}  // namespace xgrad::nn
