#include "xgrad/nn/conv.hpp"

#include <cmath>

#include "conv_core.hpp"
#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/shape.hpp"
#include "xgrad/nn/init.hpp"
#include "xgrad/autograd/profile_scope.hpp"

namespace xgrad::nn {

std::string to_string(const ConvPadding& p) {
  if (!p.mode.empty()) return fmt::format("'{}'", p.mode);
  if (p.values.size() == 1) return fmt::format("{}", p.values[0]);
  return fmt::format("({})", fmt::join(p.values, ", "));
}

std::string to_string(ConvPaddingMode m) {
  switch (m) {
    case ConvPaddingMode::zeros:
      return "zeros";
    case ConvPaddingMode::reflect:
      return "reflect";
    case ConvPaddingMode::replicate:
      return "replicate";
    case ConvPaddingMode::circular:
      return "circular";
  }
  return "zeros";
}

namespace {

using I64s = std::vector<std::int64_t>;
using conv_detail::Geom;

// One value per spatial dim from 1 or D given values; each must be >= least.
I64s expand(std::string_view op, std::string_view what, const I64s& v, int D, std::int64_t least) {
  if (v.size() != 1 && v.size() != static_cast<std::size_t>(D))
    throw Error(fmt::format("{}: {} must have 1 or {} values, got {}", op, what, D, v));
  I64s r = v.size() == 1 ? I64s(static_cast<std::size_t>(D), v[0]) : v;
  for (std::int64_t x : r)
    if (x < least) throw Error(fmt::format("{}: {} must be >= {}, got {}", op, what, least, v));
  return r;
}

struct Padding {
  I64s lo, hi;
};

// Padding before/after each dim. "same": total dil (K - 1), the odd element after (PyTorch).
Padding resolve_padding(std::string_view op, const ConvPadding& p, const I64s& k, const I64s& stride, const I64s& dil,
                        int D) {
  const auto n = static_cast<std::size_t>(D);
  if (p.mode.empty()) {
    I64s v = expand(op, "padding", p.values, D, 0);
    return {v, v};
  }
  if (p.mode == "valid") return {I64s(n, 0), I64s(n, 0)};
  if (p.mode != "same")
    throw Error(fmt::format("{}: invalid padding string '{}' (expected 'same' or 'valid')", op, p.mode));
  for (std::int64_t s : stride)
    if (s != 1)
      throw Error(fmt::format("{}: padding='same' is not supported for strided convolutions (stride {})", op, stride));
  Padding r{I64s(n), I64s(n)};
  for (std::size_t d = 0; d < n; ++d) {
    const std::int64_t total = dil[d] * (k[d] - 1);
    r.lo[d] = total / 2;
    r.hi[d] = total - r.lo[d];
  }
  return r;
}

void check_floating_same(std::string_view op, const Tensor& input, const Tensor& weight, const Tensor& bias) {
  detail::check_defined(input, op);
  detail::check_defined(weight, op);
  if (!is_floating(input.dtype()))
    throw Error(fmt::format("{}: expected a floating dtype (float32 or float64), got {} for input of shape {}", op,
                            input.dtype(), input.shape()));
  if (weight.dtype() != input.dtype())
    throw Error(fmt::format("{}: weight has dtype {} but the input has dtype {}", op, weight.dtype(), input.dtype()));
  if (bias.defined() && bias.dtype() != input.dtype())
    throw Error(fmt::format("{}: bias has dtype {} but the input has dtype {}", op, bias.dtype(), input.dtype()));
}

// [N, C, L...] (D spatial dims) -> [N, C, 1.., L...] with three spatial dims (a view when it can be).
Tensor to5d(const Tensor& t, int D) {
  Shape s(t.shape().begin(), t.shape().begin() + 2);
  for (int d = D; d < 3; ++d) s.push_back(1);
  s.insert(s.end(), t.shape().begin() + 2, t.shape().end());
  return reshape(t, s);
}

Tensor from5d(const Tensor& y, int D, bool batched) {
  Shape s{y.size(0), y.size(1)};
  for (int d = 3 - D; d < 3; ++d) s.push_back(y.size(2 + d));
  Tensor r = reshape(y, s);
  return batched ? r : squeeze(r, 0);
}

Tensor add_bias(const Tensor& y, const Tensor& bias) {
  if (!bias.defined()) return y;
  return y + reshape(bias, {1, bias.numel(), 1, 1, 1});
}

void check_input_rank(std::string_view op, const Tensor& input, int D) {
  if (input.dim() != D + 1 && input.dim() != D + 2)
    throw Error(fmt::format("{}: expected a {}-d (unbatched) or {}-d (batched) input, got shape {}", op, D + 1, D + 2,
                            input.shape()));
}

void check_weight_rank(std::string_view op, const Tensor& weight, int D, std::string_view layout) {
  if (weight.dim() != D + 2)
    throw Error(fmt::format("{}: weight must be {}-d [{}], got shape {}", op, D + 2, layout, weight.shape()));
}

void check_bias(std::string_view op, const Tensor& bias, std::int64_t cout, const Tensor& weight) {
  if (bias.defined() && bias.shape() != Shape{cout})
    throw Error(fmt::format("{}: bias of shape {} does not match weight of shape {} (expected [{}])", op, bias.shape(),
                            weight.shape(), cout));
}

Tensor conv_nd(std::string op, int D, const Tensor& input, const Tensor& weight, const Tensor& bias, const I64s& stride,
               const ConvPadding& padding, const I64s& dilation, std::int64_t groups) {
  // The functional ops and the modules (padding modes included) all come here.
  static constexpr const char* kNames[] = {"", "conv1d", "conv2d", "conv3d"};
  XGRAD_PROFILE_OP(kNames[D], input, weight, bias);
  check_floating_same(op, input, weight, bias);
  check_input_rank(op, input, D);
  check_weight_rank(op, weight, D, "out_channels, in_channels/groups, kernel...");
  const bool batched = input.dim() == D + 2;
  const Tensor x = batched ? input : unsqueeze(input, 0);
  if (groups < 1) throw Error(fmt::format("{}: groups must be >= 1, got {}", op, groups));
  const std::int64_t cin = x.size(1), cout = weight.size(0);
  if (cout % groups != 0)
    throw Error(fmt::format("{}: out_channels = {} (weight of shape {}) must be divisible by groups = {}", op, cout,
                            weight.shape(), groups));
  if (weight.size(1) * groups != cin)
    throw Error(
        fmt::format("{}: input of shape {} has {} channels, but weight of shape {} with groups = {} expects {} "
                    "(weight.size(1) * groups)",
                    op, input.shape(), cin, weight.shape(), groups, weight.size(1) * groups));
  check_bias(op, bias, cout, weight);
  const I64s k(weight.shape().begin() + 2, weight.shape().end());
  const I64s s = expand(op, "stride", stride, D, 1), dil = expand(op, "dilation", dilation, D, 1);
  const Padding pad = resolve_padding(op, padding, k, s, dil, D);
  auto g = std::make_shared<Geom>();
  g->op = op;
  g->N = x.size(0);
  g->Cin = cin;
  g->Cout = cout;
  g->G = groups;
  for (int d = 0; d < D; ++d) {
    const int e = 3 - D + d;
    const std::int64_t in = x.size(2 + d), padded = in + pad.lo[d] + pad.hi[d], span = dil[d] * (k[d] - 1) + 1;
    if (padded < span) {
      I64s padded_shape, spans;
      for (int j = 0; j < D; ++j) {
        padded_shape.push_back(x.size(2 + j) + pad.lo[j] + pad.hi[j]);
        spans.push_back(dil[j] * (k[j] - 1) + 1);
      }
      throw Error(
          fmt::format("{}: kernel size can't be greater than actual input size: input of shape {} padded to "
                      "{} is smaller than the dilated kernel {} of weight shape {}",
                      op, input.shape(), padded_shape, spans, weight.shape()));
    }
    g->in[e] = in;
    g->k[e] = k[d];
    g->s[e] = s[d];
    g->pad[e] = pad.lo[d];
    g->dil[e] = dil[d];
    g->out[e] = (padded - span) / s[d] + 1;
  }
  XGRAD_PROFILE_FLOPS(2 * cout * weight.size(1) * shape_numel(k) * g->N * g->out_numel());
  return from5d(conv_detail::conv_op(to5d(x, D), to5d(weight, D), g, bias), D, batched);
}

Tensor conv_transpose_nd(std::string op, int D, const Tensor& input, const Tensor& weight, const Tensor& bias,
                         const I64s& stride, const I64s& padding, const I64s& output_padding, std::int64_t groups,
                         const I64s& dilation) {
  static constexpr const char* kNames[] = {"", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"};
  XGRAD_PROFILE_OP(kNames[D], input, weight, bias);
  check_floating_same(op, input, weight, bias);
  check_input_rank(op, input, D);
  check_weight_rank(op, weight, D, "in_channels, out_channels/groups, kernel...");
  const bool batched = input.dim() == D + 2;
  const Tensor x = batched ? input : unsqueeze(input, 0);
  if (groups < 1) throw Error(fmt::format("{}: groups must be >= 1, got {}", op, groups));
  const std::int64_t cin = x.size(1);
  if (weight.size(0) != cin)
    throw Error(fmt::format("{}: input of shape {} has {} channels, but weight of shape {} expects {} (weight.size(0))",
                            op, input.shape(), cin, weight.shape(), weight.size(0)));
  if (cin % groups != 0)
    throw Error(fmt::format("{}: in_channels = {} (weight of shape {}) must be divisible by groups = {}", op, cin,
                            weight.shape(), groups));
  const std::int64_t cout = weight.size(1) * groups;
  check_bias(op, bias, cout, weight);
  const I64s k(weight.shape().begin() + 2, weight.shape().end());
  const I64s s = expand(op, "stride", stride, D, 1), dil = expand(op, "dilation", dilation, D, 1);
  const I64s p = expand(op, "padding", padding, D, 0), op_pad = expand(op, "output_padding", output_padding, D, 0);
  // The transposed convolution is the input adjoint of conv(z, weight): z [N, Cout, out...] -> [N, Cin, in...].
  auto g = std::make_shared<Geom>();
  g->op = op;
  g->N = x.size(0);
  g->Cin = cout;
  g->Cout = cin;
  g->G = groups;
  I64s outs;
  for (int d = 0; d < D; ++d) {
    if (op_pad[d] >= s[d] && op_pad[d] >= dil[d])
      throw Error(fmt::format("{}: output_padding {} must be smaller than either stride {} or dilation {}", op,
                              output_padding, stride, dilation));
    outs.push_back((x.size(2 + d) - 1) * s[d] - 2 * p[d] + dil[d] * (k[d] - 1) + op_pad[d] + 1);
  }
  for (int d = 0; d < D; ++d) {
    if (outs[d] < 1 || x.size(2 + d) < 1)
      throw Error(
          fmt::format("{}: output size {} is too small (input of shape {}, weight of shape {}, stride {}, "
                      "padding {}, output_padding {}, dilation {})",
                      op, outs, input.shape(), weight.shape(), stride, padding, output_padding, dilation));
    const int e = 3 - D + d;
    g->in[e] = outs[d];
    g->out[e] = x.size(2 + d);
    g->k[e] = k[d];
    g->s[e] = s[d];
    g->pad[e] = p[d];
    g->dil[e] = dil[d];
  }
  Tensor y = conv_detail::conv_input_op(to5d(x, D), to5d(weight, D), g);
  XGRAD_PROFILE_FLOPS(2 * cin * weight.size(1) * shape_numel(k) * g->N * g->out_numel());
  return from5d(add_bias(y, bias), D, batched);
}

}  // namespace

namespace functional {

Tensor conv1d(const Tensor& input, const Tensor& weight, const Tensor& bias, const I64s& stride,
              const ConvPadding& padding, const I64s& dilation, std::int64_t groups) {
  return conv_nd("conv1d", 1, input, weight, bias, stride, padding, dilation, groups);
}
Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, const I64s& stride,
              const ConvPadding& padding, const I64s& dilation, std::int64_t groups) {
  return conv_nd("conv2d", 2, input, weight, bias, stride, padding, dilation, groups);
}
Tensor conv3d(const Tensor& input, const Tensor& weight, const Tensor& bias, const I64s& stride,
              const ConvPadding& padding, const I64s& dilation, std::int64_t groups) {
  return conv_nd("conv3d", 3, input, weight, bias, stride, padding, dilation, groups);
}
Tensor conv_transpose1d(const Tensor& input, const Tensor& weight, const Tensor& bias, const I64s& stride,
                        const I64s& padding, const I64s& output_padding, std::int64_t groups, const I64s& dilation) {
  return conv_transpose_nd("conv_transpose1d", 1, input, weight, bias, stride, padding, output_padding, groups,
                           dilation);
}
Tensor conv_transpose2d(const Tensor& input, const Tensor& weight, const Tensor& bias, const I64s& stride,
                        const I64s& padding, const I64s& output_padding, std::int64_t groups, const I64s& dilation) {
  return conv_transpose_nd("conv_transpose2d", 2, input, weight, bias, stride, padding, output_padding, groups,
                           dilation);
}

}  // namespace functional

// ---- modules -----------------------------------------------------------------------------------

namespace {

std::string tuple(const I64s& v) {
  return v.size() == 1 ? fmt::format("({},)", v[0]) : fmt::format("({})", fmt::join(v, ", "));
}

void check_layer(std::string_view who, int D, std::int64_t in, std::int64_t out, const I64s& kernel,
                 std::int64_t groups) {
  if (in < 1 || out < 1)
    throw Error(fmt::format("{}: in_channels and out_channels must be >= 1, got {} and {}", who, in, out));
  if (groups < 1) throw Error(fmt::format("{}: groups must be >= 1, got {}", who, groups));
  if (in % groups != 0)
    throw Error(fmt::format("{}: in_channels = {} must be divisible by groups = {}", who, in, groups));
  if (out % groups != 0)
    throw Error(fmt::format("{}: out_channels = {} must be divisible by groups = {}", who, out, groups));
  expand(who, "kernel_size", kernel, D, 1);
}

// PyTorch's reset_parameters of _ConvNd: kaiming_uniform_(a = sqrt(5)), bias U(-1/sqrt(fan_in), ..).
void reset_conv(const Tensor& weight, const Tensor& bias) {
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    const std::int64_t fan_in = init::calculate_fan_in_and_fan_out(weight).first;
    const double bound = fan_in > 0 ? 1.0 / std::sqrt(static_cast<double>(fan_in)) : 0.0;
    init::uniform_(bias, -bound, bound);
  }
}

constexpr const char* conv_name(int D) { return D == 1 ? "Conv1d" : D == 2 ? "Conv2d" : "Conv3d"; }
constexpr const char* convt_name(int D) { return D == 1 ? "ConvTranspose1d" : "ConvTranspose2d"; }

}  // namespace

template <int D>
ConvNd<D>::ConvNd(const ConvOptions& options) : Module(conv_name(D)), options_(options) {
  const std::string who = conv_name(D);
  const auto& o = options_;
  check_layer(who, D, o.in_channels_, o.out_channels_, o.kernel_size_, o.groups_);
  const I64s k = expand(who, "kernel_size", o.kernel_size_, D, 1);
  const I64s s = expand(who, "stride", o.stride_, D, 1), dil = expand(who, "dilation", o.dilation_, D, 1);
  resolve_padding(who, o.padding_, k, s, dil, D);
  Shape ws{o.out_channels_, o.in_channels_ / o.groups_};
  ws.insert(ws.end(), k.begin(), k.end());
  weight = register_parameter("weight", empty(ws));
  if (o.bias_) bias = register_parameter("bias", empty({o.out_channels_}));
  reset_parameters();
}

template <int D>
void ConvNd<D>::reset_parameters() {
  reset_conv(weight, bias);
}

template <int D>
Tensor ConvNd<D>::forward(const Tensor& input) {
  const auto& o = options_;
  constexpr const char* op = D == 1 ? "conv1d" : D == 2 ? "conv2d" : "conv3d";
  if (o.padding_mode_ == ConvPaddingMode::zeros)
    return conv_nd(op, D, input, weight, bias, o.stride_, o.padding_, o.dilation_, o.groups_);
  // Explicit padding of the input (pairs from the last dim, as pad() takes them), then an
  // unpadded convolution.
  const I64s k = expand(conv_name(D), "kernel_size", o.kernel_size_, D, 1);
  const Padding p = resolve_padding(conv_name(D), o.padding_, k, expand(conv_name(D), "stride", o.stride_, D, 1),
                                    expand(conv_name(D), "dilation", o.dilation_, D, 1), D);
  std::vector<std::int64_t> pads;
  for (int d = D - 1; d >= 0; --d) {
    pads.push_back(p.lo[static_cast<std::size_t>(d)]);
    pads.push_back(p.hi[static_cast<std::size_t>(d)]);
  }
  const PadMode mode = o.padding_mode_ == ConvPaddingMode::reflect     ? PadMode::reflect
                       : o.padding_mode_ == ConvPaddingMode::replicate ? PadMode::replicate
                                                                       : PadMode::circular;
  detail::check_defined(input, conv_name(D));
  check_input_rank(op, input, D);
  return conv_nd(op, D, pad(input, pads, mode), weight, bias, o.stride_, 0, o.dilation_, o.groups_);
}

template <int D>
std::string ConvNd<D>::extra_repr() const {
  const auto& o = options_;
  const auto n = static_cast<std::size_t>(D);
  auto full = [&](const I64s& v) { return v.size() == 1 ? I64s(n, v[0]) : v; };
  std::string r = fmt::format("{}, {}, kernel_size={}, stride={}", o.in_channels_, o.out_channels_,
                              tuple(full(o.kernel_size_)), tuple(full(o.stride_)));
  const ConvPadding& p = o.padding_;
  if (!p.mode.empty())
    r += fmt::format(", padding={}", to_string(p));
  else if (full(p.values) != I64s(n, 0))
    r += fmt::format(", padding={}", tuple(full(p.values)));
  if (full(o.dilation_) != I64s(n, 1)) r += fmt::format(", dilation={}", tuple(full(o.dilation_)));
  if (o.groups_ != 1) r += fmt::format(", groups={}", o.groups_);
  if (!o.bias_) r += ", bias=False";
  if (o.padding_mode_ != ConvPaddingMode::zeros) r += fmt::format(", padding_mode={}", to_string(o.padding_mode_));
  return r;
}

template <int D>
ConvTransposeNd<D>::ConvTransposeNd(const ConvTransposeOptions& options) : Module(convt_name(D)), options_(options) {
  const std::string who = convt_name(D);
  const auto& o = options_;
  check_layer(who, D, o.in_channels_, o.out_channels_, o.kernel_size_, o.groups_);
  const I64s k = expand(who, "kernel_size", o.kernel_size_, D, 1);
  const I64s s = expand(who, "stride", o.stride_, D, 1), dil = expand(who, "dilation", o.dilation_, D, 1);
  expand(who, "padding", o.padding_, D, 0);
  const I64s op = expand(who, "output_padding", o.output_padding_, D, 0);
  for (int d = 0; d < D; ++d)
    if (op[d] >= s[d] && op[d] >= dil[d])
      throw Error(fmt::format("{}: output_padding {} must be smaller than either stride {} or dilation {}", who,
                              o.output_padding_, o.stride_, o.dilation_));
  Shape ws{o.in_channels_, o.out_channels_ / o.groups_};
  ws.insert(ws.end(), k.begin(), k.end());
  weight = register_parameter("weight", empty(ws));
  if (o.bias_) bias = register_parameter("bias", empty({o.out_channels_}));
  reset_parameters();
}

template <int D>
void ConvTransposeNd<D>::reset_parameters() {
  reset_conv(weight, bias);
}

template <int D>
Tensor ConvTransposeNd<D>::forward(const Tensor& input) {
  const auto& o = options_;
  return conv_transpose_nd(D == 1 ? "conv_transpose1d" : "conv_transpose2d", D, input, weight, bias, o.stride_,
                           o.padding_, o.output_padding_, o.groups_, o.dilation_);
}

template <int D>
std::string ConvTransposeNd<D>::extra_repr() const {
  const auto& o = options_;
  const auto n = static_cast<std::size_t>(D);
  auto full = [&](const I64s& v) { return v.size() == 1 ? I64s(n, v[0]) : v; };
  std::string r = fmt::format("{}, {}, kernel_size={}, stride={}", o.in_channels_, o.out_channels_,
                              tuple(full(o.kernel_size_)), tuple(full(o.stride_)));
  if (full(o.padding_) != I64s(n, 0)) r += fmt::format(", padding={}", tuple(full(o.padding_)));
  if (full(o.output_padding_) != I64s(n, 0)) r += fmt::format(", output_padding={}", tuple(full(o.output_padding_)));
  if (full(o.dilation_) != I64s(n, 1)) r += fmt::format(", dilation={}", tuple(full(o.dilation_)));
  if (o.groups_ != 1) r += fmt::format(", groups={}", o.groups_);
  if (!o.bias_) r += ", bias=False";
  return r;
}

template class ConvNd<1>;
template class ConvNd<2>;
template class ConvNd<3>;
template class ConvTransposeNd<1>;
template class ConvTransposeNd<2>;

}  // namespace xgrad::nn
