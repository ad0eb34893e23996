// Private to nn/src: the geometry and core ops shared by conv.cpp and conv_kernels.cpp.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "xgrad/autograd/tensor.hpp"

namespace xgrad::nn::conv_detail {

/// A convolution x [N, Cin, in...] * w [Cout, Cin/G, k...] -> y [N, Cout, out...] with three
/// spatial dims (1-d and 2-d calls put 1s in front). pad is the padding before each dim (the
/// padding after only shows in `out`); positions outside x read 0.
struct Geom {
  std::string op;  // the user-facing name for messages ("conv2d")
  std::int64_t N = 0, Cin = 0, Cout = 0, G = 1;
  std::int64_t in[3] = {1, 1, 1}, k[3] = {1, 1, 1}, out[3] = {1, 1, 1};
  std::int64_t s[3] = {1, 1, 1}, pad[3] = {0, 0, 0}, dil[3] = {1, 1, 1};

  std::int64_t in_numel() const { return in[0] * in[1] * in[2]; }
  std::int64_t out_numel() const { return out[0] * out[1] * out[2]; }
  std::int64_t kernel_numel() const { return k[0] * k[1] * k[2]; }
  Shape x_shape() const;
  Shape w_shape() const;
  Shape y_shape() const;
  /// 1x1 kernel, stride 1, no padding: the convolution is one product without packing.
  bool pointwise() const;
};
using GeomPtr = std::shared_ptr<const Geom>;

/// y = conv(x, w) + bias on 5-d tensors of the geometry's shapes, bias [Cout] or undefined
/// (recorded; any order of derivative).
Tensor conv_op(const Tensor& x, const Tensor& w, const GeomPtr& g, const Tensor& bias = Tensor());
/// The input adjoint (transposed convolution): gy [y_shape], w -> [x_shape].
Tensor conv_input_op(const Tensor& gy, const Tensor& w, const GeomPtr& g);
/// The weight adjoint: x, gy -> [w_shape].
Tensor conv_weight_op(const Tensor& x, const Tensor& gy, const GeomPtr& g);

}  // namespace xgrad::nn::conv_detail
