// Differential testing against libtorch (issue 19): the libtorch side. Evaluates a Graph
// (diff_graph.hpp) with libtorch 1.13 in float64 and returns every node's value and every
// leaf's gradient. Compiled as C++17 (libtorch 1.13's headers); the op semantics mirror
// diff_xgrad.cpp op for op, with the parameter layout documented there.
#include <torch/torch.h>

#include <cmath>
#include <stdexcept>

#include "diff_graph.hpp"

namespace xgrad_diff {
namespace {

using T = torch::Tensor;
using IV = std::vector<std::int64_t>;

T guard(const T& x, int g) {
  switch (g) {
    case kPos: return x * x + 0.5;
    case kBound: return x * torch::rsqrt(x * x / 9.0 + 1.0);
    case kUnit: return x * torch::rsqrt(x * x + 1.0) * 0.9;
    case kProb: return x * torch::rsqrt(x * x + 1.0) * 0.45 + 0.5;
    default: return x;
  }
}

IV tail(const IV& v, std::size_t from) { return from < v.size() ? IV(v.begin() + static_cast<std::ptrdiff_t>(from), v.end()) : IV{}; }

T reduce_dims(const std::string& op, const T& x, const IV& ip, const std::vector<double>& dp) {
  // ip = {keepdim, [correction,] dims...}; no dims: a full reduction
  const bool keep = ip[0] != 0;
  if (op == "var" || op == "std") {
    const IV dims = tail(ip, 2);
    const c10::optional<std::int64_t> corr = ip[1];
    if (dims.empty()) return op == "var" ? torch::var(x, c10::nullopt, corr, keep) : torch::std(x, c10::nullopt, corr, keep);
    return op == "var" ? torch::var(x, at::OptionalIntArrayRef(dims), corr, keep)
                       : torch::std(x, at::OptionalIntArrayRef(dims), corr, keep);
  }
  const IV dims = tail(ip, 1);
  if (op == "norm") {
    if (dims.empty()) return torch::linalg_vector_norm(x, dp[0], c10::nullopt, keep);
    return torch::linalg_vector_norm(x, dp[0], at::OptionalIntArrayRef(dims), keep);
  }
  if (dims.empty()) {
    if (op == "sum") return x.sum();
    if (op == "mean") return x.mean();
    if (op == "nansum") return torch::nansum(x);
    if (op == "nanmean") return torch::nanmean(x);
    if (op == "amax") return torch::amax(x, IV{}, keep);
    if (op == "amin") return torch::amin(x, IV{}, keep);
    if (op == "logsumexp") return torch::logsumexp(x.reshape({-1}), 0);
  }
  if (op == "sum") return torch::sum(x, dims, keep);
  if (op == "mean") return torch::mean(x, dims, keep);
  if (op == "nansum") return torch::nansum(x, dims, keep);
  if (op == "nanmean") return torch::nanmean(x, dims, keep);
  if (op == "amax") return torch::amax(x, dims, keep);
  if (op == "amin") return torch::amin(x, dims, keep);
  if (op == "logsumexp") return torch::logsumexp(x, dims, keep);
  throw std::runtime_error("torch side: unknown reduction " + op);
}

T apply_op(const Node& nd, const std::vector<T>& x, const std::vector<bool>& is_index) {
  const std::string& op = nd.op;
  const IV& ip = nd.ip;
  const std::vector<double>& dp = nd.dp;
  (void)is_index;
  // ---- element-wise unary
  if (op == "neg") return torch::neg(x[0]);
  if (op == "exp") return torch::exp(x[0]);
  if (op == "log") return torch::log(x[0]);
  if (op == "log1p") return torch::log1p(x[0]);
  if (op == "sqrt") return torch::sqrt(x[0]);
  if (op == "rsqrt") return torch::rsqrt(x[0]);
  if (op == "abs") return torch::abs(x[0]);
  if (op == "sin") return torch::sin(x[0]);
  if (op == "cos") return torch::cos(x[0]);
  if (op == "tanh") return torch::tanh(x[0]);
  if (op == "sigmoid") return torch::sigmoid(x[0]);
  if (op == "relu") return torch::relu(x[0]);
  if (op == "erf") return torch::erf(x[0]);
  if (op == "erfc") return torch::erfc(x[0]);
  if (op == "erfinv") return torch::erfinv(x[0]);
  if (op == "lgamma") return torch::lgamma(x[0]);
  if (op == "digamma") return torch::digamma(x[0]);
  if (op == "polygamma") return torch::polygamma(ip[0], x[0]);
  if (op == "trunc") return torch::trunc(x[0]);
  if (op == "frac") return torch::frac(x[0]);
  if (op == "round") return torch::round(x[0]);
  if (op == "sign") return torch::sign(x[0]);
  if (op == "pow_scalar") return torch::pow(x[0], dp[0]);
  if (op == "add_scalar") return x[0] + dp[0];
  if (op == "sub_scalar") return x[0] - dp[0];
  if (op == "mul_scalar") return x[0] * dp[0];
  if (op == "div_scalar") return x[0] / dp[0];
  if (op == "rsub") return dp[0] - x[0];
  if (op == "rdiv") return dp[0] / x[0];
  if (op == "clamp") return torch::clamp(x[0], dp[0], dp[1]);
  if (op == "clamp_min") return torch::clamp_min(x[0], dp[0]);
  if (op == "clamp_max") return torch::clamp_max(x[0], dp[0]);
  if (op == "nan_to_num") return torch::nan_to_num(x[0], dp[0]);
  if (op == "leaky_relu") return torch::leaky_relu(x[0], dp[0]);
  if (op == "gelu") return torch::gelu(x[0]);
  if (op == "gelu_tanh") return torch::gelu(x[0], "tanh");
  if (op == "elu") return torch::elu(x[0], dp[0]);
  if (op == "selu") return torch::selu(x[0]);
  if (op == "silu") return torch::silu(x[0]);
  if (op == "softplus") return torch::softplus(x[0], dp[0], 20.0);
  if (op == "hardtanh") return torch::hardtanh(x[0], dp[0], dp[1]);
  if (op == "relu6") return torch::hardtanh(x[0], 0.0, 6.0);
  if (op == "mish") return torch::mish(x[0]);
  if (op == "contiguous") return x[0].contiguous();
  if (op == "clone") return x[0].clone();
  // ---- element-wise binary / ternary (broadcasting)
  if (op == "add") return x[0] + x[1];
  if (op == "add_alpha") return torch::add(x[0], x[1], dp[0]);
  if (op == "sub") return x[0] - x[1];
  if (op == "mul") return x[0] * x[1];
  if (op == "div") return x[0] / x[1];
  if (op == "pow") return torch::pow(x[0], x[1]);
  if (op == "maximum") return torch::maximum(x[0], x[1]);
  if (op == "minimum") return torch::minimum(x[0], x[1]);
  if (op == "atan2") return torch::atan2(x[0], x[1]);
  if (op == "hypot") return torch::hypot(x[0], x[1]);
  if (op == "logaddexp") return torch::logaddexp(x[0], x[1]);
  if (op == "logaddexp2") return torch::logaddexp2(x[0], x[1]);
  if (op == "xlogy") return torch::xlogy(x[0], x[1]);
  if (op == "lerp") return torch::lerp(x[0], x[1], dp[0]);
  if (op == "lerp_tensor") return torch::lerp(x[0], x[1], x[2]);
  if (op == "where_gt") return torch::where(x[1] > 0.0, x[0], x[1]);
  if (op == "masked_fill_gt") return x[0].masked_fill(x[1] > 0.0, dp[0]);
  // contiguous(): libtorch 1.13's masked_select backward puts the gradient of a non-contiguous
  // input (e.g. a transposed view) in the wrong elements (README.md, "Differences")
  if (op == "masked_select_gt") return torch::masked_select(x[0].contiguous(), x[1] > 0.0);
  // ---- linear algebra
  if (op == "matmul") return torch::matmul(x[0], x[1]);
  if (op == "mm") return torch::mm(x[0], x[1]);
  if (op == "bmm") return torch::bmm(x[0], x[1]);
  if (op == "outer") return torch::outer(x[0], x[1]);
  if (op == "dot") return torch::dot(x[0], x[1]);
  if (op == "addmm") return torch::addmm(x[0], x[1], x[2], dp[0], dp[1]);
  if (op == "baddbmm") return torch::baddbmm(x[0], x[1], x[2], dp[0], dp[1]);
  if (op == "linear") return ip[0] ? torch::linear(x[0], x[1], x[2]) : torch::linear(x[0], x[1]);
  // ---- reductions
  if (op == "sum" || op == "mean" || op == "nansum" || op == "nanmean" || op == "amax" || op == "amin" ||
      op == "logsumexp" || op == "var" || op == "std" || op == "norm")
    return reduce_dims(op, x[0], ip, dp);
  if (op == "max_all") return x[0].max();
  if (op == "min_all") return x[0].min();
  if (op == "median_all") return x[0].median();
  if (op == "prod_all") return x[0].prod();
  if (op == "max_dim") return std::get<0>(torch::max(x[0], ip[0], ip[1] != 0));
  if (op == "min_dim") return std::get<0>(torch::min(x[0], ip[0], ip[1] != 0));
  if (op == "median_dim") return std::get<0>(torch::median(x[0], ip[0], ip[1] != 0));
  if (op == "prod_dim") return torch::prod(x[0], ip[0], ip[1] != 0);
  if (op == "kthvalue") return std::get<0>(torch::kthvalue(x[0], ip[0], ip[1], ip[2] != 0));
  if (op == "sort") return std::get<0>(torch::sort(x[0], /*stable=*/true, ip[0], ip[1] != 0));
  if (op == "topk") return std::get<0>(torch::topk(x[0], ip[0], ip[1], ip[2] != 0));
  if (op == "cumsum") return torch::cumsum(x[0], ip[0]);
  if (op == "cumprod") return torch::cumprod(x[0], ip[0]);
  if (op == "logcumsumexp") return torch::logcumsumexp(x[0], ip[0]);
  if (op == "softmax") return torch::softmax(x[0], ip[0]);
  if (op == "log_softmax") return torch::log_softmax(x[0], ip[0]);
  if (op == "softmin") return torch::softmax(-x[0], ip[0]);
  // ---- shape and indexing
  if (op == "reshape") return x[0].reshape(ip);
  if (op == "flatten") return torch::flatten(x[0], ip[0], ip[1]);
  if (op == "squeeze") return x[0].squeeze();
  if (op == "squeeze_dim") return x[0].squeeze(ip[0]);
  if (op == "unsqueeze") return x[0].unsqueeze(ip[0]);
  if (op == "transpose") return x[0].transpose(ip[0], ip[1]);
  if (op == "permute") return x[0].permute(ip);
  if (op == "t") return x[0].t();
  if (op == "movedim") return torch::movedim(x[0], ip[0], ip[1]);
  if (op == "expand") return x[0].expand(ip);
  if (op == "slice") return x[0].slice(ip[0], ip[1], ip[2], ip[3]);
  if (op == "narrow") return x[0].narrow(ip[0], ip[1], ip[2]);
  if (op == "select") return x[0].select(ip[0], ip[1]);
  if (op == "unfold") return x[0].unfold(ip[0], ip[1], ip[2]);
  if (op == "diagonal") return torch::diagonal(x[0], ip[0], ip[1], ip[2]);
  if (op == "flip") return torch::flip(x[0], ip);
  if (op == "roll") {
    const auto n = static_cast<std::size_t>(ip[0]);
    return torch::roll(x[0], IV(ip.begin() + 1, ip.begin() + 1 + static_cast<std::ptrdiff_t>(n)),
                       IV(ip.begin() + 1 + static_cast<std::ptrdiff_t>(n), ip.end()));
  }
  if (op == "repeat") return x[0].repeat(ip);
  if (op == "tile") return torch::tile(x[0], ip);
  if (op == "tril") return torch::tril(x[0], ip[0]);
  if (op == "triu") return torch::triu(x[0], ip[0]);
  if (op == "pad_constant") return torch::constant_pad_nd(x[0], ip, dp[0]);
  if (op == "pad_reflect")
    return torch::nn::functional::pad(x[0], torch::nn::functional::PadFuncOptions(ip).mode(torch::kReflect));
  if (op == "pad_replicate")
    return torch::nn::functional::pad(x[0], torch::nn::functional::PadFuncOptions(ip).mode(torch::kReplicate));
  if (op == "index_select") return torch::index_select(x[0], ip[0], x[1]);
  if (op == "gather") return torch::gather(x[0], ip[0], x[1]);
  if (op == "take_along_dim") return torch::take_along_dim(x[0], x[1], ip[0]);
  if (op == "scatter_add") return torch::scatter_add(x[0], ip[0], x[1], x[2]);
  if (op == "index_add") return torch::index_add(x[0], ip[0], x[1], x[2], dp[0]);
  if (op == "repeat_interleave") return torch::repeat_interleave(x[0], ip[0], ip[1]);
  if (op == "cat") return torch::cat({x[0], x[1]}, ip[0]);
  if (op == "stack") return torch::stack({x[0], x[1]}, ip[0]);
  if (op == "split") return torch::split(x[0], ip[0], ip[1])[static_cast<std::size_t>(ip[2])];
  if (op == "chunk") return torch::chunk(x[0], ip[0], ip[1])[static_cast<std::size_t>(ip[2])];
  if (op == "unbind") return torch::unbind(x[0], ip[0])[static_cast<std::size_t>(ip[1])];
  // ---- nn functional
  if (op == "mse_loss") return torch::mse_loss(x[0], x[1], ip[0]);
  if (op == "l1_loss") return torch::l1_loss(x[0], x[1], ip[0]);
  if (op == "smooth_l1_loss") return torch::smooth_l1_loss(x[0], x[1], ip[0], dp[0]);
  if (op == "huber_loss") return torch::huber_loss(x[0], x[1], ip[0], dp[0]);
  if (op == "bce_with_logits") return torch::binary_cross_entropy_with_logits(x[0], x[1], {}, {}, ip[0]);
  if (op == "binary_cross_entropy") return torch::binary_cross_entropy(x[0], x[1], {}, ip[0]);
  if (op == "kl_div") {
    if (ip[0] == 3) return torch::kl_div(x[0], x[1], at::Reduction::Sum) / static_cast<double>(x[0].size(0));
    return torch::kl_div(x[0], x[1], ip[0]);
  }
  if (op == "cross_entropy") return torch::cross_entropy_loss(x[0], x[1], {}, ip[0], -100, dp[0]);
  if (op == "nll_loss") return torch::nll_loss(x[0], x[1], {}, ip[0]);
  if (op == "multi_margin_loss") return torch::multi_margin_loss(x[0], x[1], ip[1], dp[0], {}, ip[0]);
  if (op == "hinge_embedding_loss") return torch::hinge_embedding_loss(x[0], x[1], dp[0], ip[0]);
  if (op == "margin_ranking_loss") return torch::margin_ranking_loss(x[0], x[1], x[2], dp[0], ip[0]);
  if (op == "cosine_embedding_loss") return torch::cosine_embedding_loss(x[0], x[1], x[2], dp[0], ip[0]);
  if (op == "layer_norm") return torch::layer_norm(x[0], ip, x[1], x[2], 1e-5);
  if (op == "conv1d" || op == "conv2d" || op == "conv3d") {
    const auto n = static_cast<std::size_t>(op[4] - '0');  // ip = {has_bias, stride, padding, dilation, groups}
    const IV stride(n, ip[1]), padding(n, ip[2]), dilation(n, ip[3]);
    const T bias = ip[0] ? x[2] : T();
    if (n == 1) return torch::conv1d(x[0], x[1], bias, stride, padding, dilation, ip[4]);
    if (n == 2) return torch::conv2d(x[0], x[1], bias, stride, padding, dilation, ip[4]);
    return torch::conv3d(x[0], x[1], bias, stride, padding, dilation, ip[4]);
  }
  if (op == "avg_pool1d") return torch::avg_pool1d(x[0], {ip[0]}, {ip[1]}, {ip[2]});
  if (op == "avg_pool2d") return torch::avg_pool2d(x[0], {ip[0], ip[0]}, {ip[1], ip[1]}, {ip[2], ip[2]});
  if (op == "max_pool1d") return torch::max_pool1d(x[0], {ip[0]}, {ip[1]}, {ip[2]});
  if (op == "max_pool2d") return torch::max_pool2d(x[0], {ip[0], ip[0]}, {ip[1], ip[1]}, {ip[2], ip[2]});
  // ---- linear algebra functions (diagonal shifts keep the matrices well conditioned)
  auto eye_like = [](const T& a, double k) { return torch::eye(a.size(-1), torch::kDouble) * k; };
  if (op == "inv") return torch::linalg_inv(x[0] + eye_like(x[0], 8.0));
  if (op == "solve") return torch::linalg_solve(x[0] + eye_like(x[0], 8.0), x[1]);
  if (op == "det") return torch::linalg_det(x[0] + eye_like(x[0], 3.0));
  if (op == "slogdet") return std::get<1>(torch::linalg_slogdet(x[0] + eye_like(x[0], 3.0)));
  if (op == "cholesky") {
    const T a = torch::matmul(x[0], x[0].transpose(-2, -1));
    return torch::linalg_cholesky(a + eye_like(a, static_cast<double>(a.size(-1))), ip[0] != 0);
  }
  if (op == "svdvals") return torch::linalg_svdvals(x[0]);
  if (op == "matrix_norm") return torch::linalg_matrix_norm(x[0], ip[0] ? "nuc" : "fro");
  if (op == "einsum") {
    std::vector<T> ops(x.begin(), x.end());
    return torch::einsum(kEinsum[ip[0]], ops);
  }
  // ---- more nn
  if (op == "embedding") return torch::embedding(x[0], x[1]);
  if (op == "group_norm") return ip[1] ? torch::group_norm(x[0], ip[0], x[1], x[2], 1e-5) : torch::group_norm(x[0], ip[0], {}, {}, 1e-5);
  // contiguous() copies of the arguments and of the incoming gradient (a hook): libtorch 1.13's
  // batch_norm / instance_norm backward (CPU, training) reads a non-contiguous input, weight,
  // bias or output gradient (strided, expanded, permuted) wrongly (README.md)
  if (op == "batch_norm" || op == "instance_norm") {
    std::vector<T> c;
    for (const T& t : x) c.push_back(t.contiguous());
    T out;
    if (op == "batch_norm")
      out = ip[0] ? torch::batch_norm(c[0], c[1], c[2], {}, {}, true, 0.1, 1e-5, false)
                  : torch::batch_norm(c[0], {}, {}, {}, {}, true, 0.1, 1e-5, false);
    else
      out = ip[0] ? torch::instance_norm(c[0], c[1], c[2], {}, {}, true, 0.1, 1e-5, false)
                  : torch::instance_norm(c[0], {}, {}, {}, {}, true, 0.1, 1e-5, false);
    if (out.requires_grad()) out.register_hook([](T g) { return g.contiguous(); });
    return out;
  }
  if (op == "batch_norm")
    return ip[0] ? torch::batch_norm(x[0], x[1], x[2], {}, {}, true, 0.1, 1e-5, false)
                 : torch::batch_norm(x[0], {}, {}, {}, {}, true, 0.1, 1e-5, false);
  if (op == "instance_norm")
    return ip[0] ? torch::instance_norm(x[0], x[1], x[2], {}, {}, true, 0.1, 1e-5, false)
                 : torch::instance_norm(x[0], {}, {}, {}, {}, true, 0.1, 1e-5, false);
  if (op == "local_response_norm")
    return torch::nn::functional::local_response_norm(
        x[0], torch::nn::functional::LocalResponseNormFuncOptions(ip[0]).alpha(dp[0]).beta(dp[1]).k(dp[2]));
  if (op == "pixel_shuffle") return torch::pixel_shuffle(x[0], ip[0]);
  if (op == "rnn_tanh_cell") return torch::rnn_tanh_cell(x[0], x[1], x[2], x[3], x[4], x[5]);
  if (op == "gru_cell") return torch::gru_cell(x[0], x[1], x[2], x[3], x[4], x[5]);
  if (op == "lstm_cell") {
    auto hc = torch::lstm_cell(x[0], {x[1], x[2]}, x[3], x[4], x[5], x[6]);
    return ip[0] ? std::get<1>(hc) : std::get<0>(hc);
  }
  if (op == "conv_transpose1d")  // ip = {has_bias, stride, padding, output_padding, groups, dilation}
    return torch::conv_transpose1d(x[0], x[1], ip[0] ? x[2] : T(), {ip[1]}, {ip[2]}, {ip[3]}, ip[4], {ip[5]});
  if (op == "conv_transpose2d")
    return torch::conv_transpose2d(x[0], x[1], ip[0] ? x[2] : T(), {ip[1], ip[1]}, {ip[2], ip[2]}, {ip[3], ip[3]}, ip[4],
                                   {ip[5], ip[5]});
  if (op == "bilinear") return torch::bilinear(x[0], x[1], x[2], x[3]);
  if (op == "pixel_unshuffle") return torch::pixel_unshuffle(x[0], ip[0]);
  // ---- in-place ops on a copy (through views)
  if (op == "add_inplace") { T y = x[0].clone(); y.add_(x[1], dp[0]); return y; }
  if (op == "mul_narrow_inplace") { T y = x[0].clone(); y.narrow(ip[0], ip[1], ip[2]).mul_(x[1]); return y; }
  if (op == "div_slice_inplace") { T y = x[0].clone(); y.slice(ip[0], 0, y.size(ip[0]), 2).div_(x[1]); return y; }
  if (op == "masked_fill_inplace") { T y = x[0].clone(); y.masked_fill_(x[1] > 0.0, dp[0]); return y; }
  if (op == "copy_select_inplace") { T y = x[0].clone(); y.select(ip[0], ip[1]).copy_(x[1]); return y; }
  throw std::runtime_error("torch side: unknown op " + op);
}

T make_input(const Input& in) {
  if (in.is_index) return torch::tensor(in.ivalues, torch::kLong).reshape(in.leaf_shape);
  std::vector<double> v = in.values;
  T leaf = torch::from_blob(v.data(), in.leaf_shape, torch::kDouble).clone();
  return leaf;
}

T view_of(const Input& in, const T& leaf) {
  switch (in.layout) {
    case kTransposed: return leaf.transpose(-2, -1);
    case kStrided: return leaf.slice(-1, 0, leaf.size(-1), 2);
    case kExpanded: return leaf.expand(in.view_shape);
    default: return leaf;
  }
}

std::vector<double> values_of(const T& t) {
  const T c = t.detach().to(torch::kDouble).contiguous();
  const double* p = c.data_ptr<double>();
  return std::vector<double>(p, p + c.numel());
}

}  // namespace

Result eval_torch(const Graph& g) {
  torch::set_num_threads(1);
  Result r;
  std::vector<T> leaves, vals, outs;
  std::vector<bool> is_index;
  for (const auto& in : g.inputs) {
    T leaf = make_input(in);
    if (!in.is_index && in.requires_grad) leaf.requires_grad_(true);
    leaves.push_back(leaf);
    vals.push_back(in.is_index ? leaf : view_of(in, leaf));
    is_index.push_back(in.is_index);
  }
  std::size_t k = 0;
  try {
    for (k = 0; k < g.nodes.size(); ++k) {
      const Node& nd = g.nodes[k];
      std::vector<T> args;
      for (std::size_t a = 0; a < nd.args.size(); ++a) {
        const int id = nd.args[a];
        const bool idx = id >= 0 && g.inputs[static_cast<std::size_t>(id)].is_index;
        const T& v = id >= 0 ? vals[static_cast<std::size_t>(id)] : outs[node_of(id)];
        args.push_back(idx ? v : guard(v, nd.guards[a]));
      }
      T out = apply_op(nd, args, is_index);
      outs.push_back(out);
      r.shapes.emplace_back(out.sizes().begin(), out.sizes().end());
      r.values.push_back(values_of(out));
    }
    r.failed_node = -1;
    T loss = torch::zeros({}, torch::kDouble);
    for (int s : sinks(g)) {
      const T& out = outs[static_cast<std::size_t>(s)];
      std::vector<double> w(static_cast<std::size_t>(out.numel()));
      for (std::size_t j = 0; j < w.size(); ++j) w[j] = sink_weight(static_cast<std::size_t>(s), static_cast<std::int64_t>(j));
      const T wt = torch::from_blob(w.data(), out.sizes(), torch::kDouble).clone();
      loss = loss + (out * wt).sum();
    }
    if (loss.requires_grad()) loss.backward();
    for (std::size_t i = 0; i < leaves.size(); ++i) {
      const T gr = leaves[i].defined() && leaves[i].requires_grad() ? leaves[i].grad() : T();
      if (gr.defined()) r.grads.push_back(values_of(gr));
      else if (!g.inputs[i].is_index && g.inputs[i].requires_grad)
        r.grads.emplace_back(g.inputs[i].values.size(), 0.0);  // unreached leaf: zero gradient
      else r.grads.emplace_back();
    }
  } catch (const std::exception& e) {
    r.error = e.what();
    const auto nl = r.error.find('\n');
    if (nl != std::string::npos) r.error.resize(nl);
    r.failed_node = k < g.nodes.size() ? static_cast<int>(k) : -1;
  }
  return r;
}

}  // namespace xgrad_diff
