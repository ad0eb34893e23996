// The recurrent layers RNN, LSTM and GRU: per layer and direction one input-projection
// product for all steps, then per step one recurrent product and one fused gate kernel
// (rnn_cell.cpp). Dense input is run as a packed schedule whose steps all hold B rows.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/linalg.hpp"
#include "xgrad/autograd/node.hpp"
#include "xgrad/autograd/shape.hpp"
#include "xgrad/nn/init.hpp"
#include "xgrad/nn/linear.hpp"
#include "xgrad/nn/rnn.hpp"

namespace xgrad::nn {

namespace {

using I64s = std::vector<std::int64_t>;


const char* py_bool(bool b) { return b ? "True" : "False"; }

struct DirectionResult {
  Tensor out, h, c;
};

}  // namespace

// ---- RNNBase ----------------------------------------------------------------------------------

RNNBase::RNNBase(std::string name, Kind kind, const Config& config)
    : Module(std::move(name)), kind_(kind), config_(config) {
  const std::int64_t G = kind == Kind::lstm ? 4 : kind == Kind::gru ? 3 : 1;
  const std::int64_t H = config.hidden_size, P = config.proj_size, Hout = P > 0 ? P : H;
  const std::int64_t D = config.bidirectional ? 2 : 1;
  for (std::int64_t l = 0; l < config.num_layers; ++l)
    for (std::int64_t d = 0; d < D; ++d) {
      const std::int64_t in = l == 0 ? config.input_size : Hout * D;
      const std::string sfx = fmt::format("_l{}{}", l, d == 1 ? "_reverse" : "");
      RNNLayerParams p;
      p.w_ih = register_parameter("weight_ih" + sfx, zeros({G * H, in}));
      p.w_hh = register_parameter("weight_hh" + sfx, zeros({G * H, Hout}));
      if (config.bias) {
        p.b_ih = register_parameter("bias_ih" + sfx, zeros({G * H}));
        p.b_hh = register_parameter("bias_hh" + sfx, zeros({G * H}));
      }
      if (P > 0) p.w_hr = register_parameter("weight_hr" + sfx, zeros({P, H}));
      params_.push_back(p);
    }
  reset_parameters();
}

const RNNLayerParams& RNNBase::layer_params(std::int64_t layer, std::int64_t direction) const {
  const std::int64_t D = config_.bidirectional ? 2 : 1;
  if (layer < 0 || layer >= config_.num_layers || direction < 0 || direction >= D)
    throw Error(fmt::format("{}: layer_params({}, {}) is out of range ({} layers, {} directions)", name_, layer,
                            direction, config_.num_layers, D));
  return params_[static_cast<std::size_t>(layer * D + direction)];
}

std::vector<std::vector<Tensor>> RNNBase::all_weights() const {
  std::vector<std::vector<Tensor>> out;
  for (const auto& p : params_) {
    std::vector<Tensor> w;
    for (const Tensor* t : {&p.w_ih, &p.w_hh, &p.b_ih, &p.b_hh, &p.w_hr})
      if (t->defined()) w.push_back(*t);
    out.push_back(std::move(w));
  }
  return out;
}

void RNNBase::reset_parameters() {
  const double stdv = 1.0 / std::sqrt(static_cast<double>(config_.hidden_size));
  for (const Tensor& p : parameters()) init::uniform_(p, -stdv, stdv);
}

std::string RNNBase::extra_repr() const {
  std::string s = fmt::format("{}, {}", config_.input_size, config_.hidden_size);
  if (config_.proj_size != 0) s += fmt::format(", proj_size={}", config_.proj_size);
  if (config_.num_layers != 1) s += fmt::format(", num_layers={}", config_.num_layers);
  if (!config_.bias) s += fmt::format(", bias={}", py_bool(config_.bias));
  if (config_.batch_first) s += fmt::format(", batch_first={}", py_bool(config_.batch_first));
  if (config_.dropout != 0.0) s += fmt::format(", dropout={}", py_float(config_.dropout));
  if (config_.bidirectional) s += fmt::format(", bidirectional={}", py_bool(config_.bidirectional));
  return s;
}

namespace {

// One direction of one layer over the time-major rows x [N, I]: step t holds the first bs[t]
// rows of the batch (bs non-increasing). h0 [B, H_out], c0 [B, H] (LSTM). The forward
// direction drops finished rows as the batch shrinks and keeps their final states; the
// reverse direction runs from the last step and adds each sequence (with its h0 row) when
// its own last step comes.
DirectionResult run_direction(bool lstm, bool gru, bool relu, const Tensor& x, const I64s& bs, const RNNLayerParams& p,
                              const Tensor& h0, const Tensor& c0, bool reverse) {
  const auto T = static_cast<std::int64_t>(bs.size());
  const std::int64_t B = h0.size(0);
  // The input projections of all steps: one product; each step reads its rows as a view.
  const Tensor gi_all = functional::linear(x, p.w_ih, p.b_ih);
  const std::vector<Tensor> gi = T == 1 ? std::vector<Tensor>{gi_all} : split(gi_all, bs, 0);
  std::vector<Tensor> outs(static_cast<std::size_t>(T));
  std::vector<Tensor> done_h, done_c;  // forward: states of rows that finished early
  std::int64_t cur = reverse ? bs.back() : B;
  Tensor h = cur == B ? h0 : h0.narrow(0, 0, cur);
  Tensor c = !lstm ? Tensor() : cur == B ? c0 : c0.narrow(0, 0, cur);
  for (std::int64_t k = 0; k < T; ++k) {
    const std::int64_t t = reverse ? T - 1 - k : k;
    const std::int64_t b = bs[static_cast<std::size_t>(t)];
    if (b < cur) {
      done_h.push_back(h.narrow(0, b, cur - b));
      h = h.narrow(0, 0, b);
      if (lstm) {
        done_c.push_back(c.narrow(0, b, cur - b));
        c = c.narrow(0, 0, b);
      }
      cur = b;
    } else if (b > cur) {
      h = cat({h, h0.narrow(0, cur, b - cur)}, 0);
      if (lstm) c = cat({c, c0.narrow(0, cur, b - cur)}, 0);
      cur = b;
    }
    const Tensor gh = functional::linear(h, p.w_hh, p.b_hh);
    const Tensor& g = gi[static_cast<std::size_t>(t)];
    if (lstm) {
      auto [hy, cy] = functional::fused_lstm_cell(g, gh, c);
      c = cy;
      h = p.w_hr.defined() ? mm(hy, p.w_hr, false, true) : hy;
    } else if (gru) {
      h = functional::fused_gru_cell(g, gh, h);
    } else {
      h = functional::fused_rnn_cell(g, gh, relu ? "relu" : "tanh");
    }
    outs[static_cast<std::size_t>(t)] = h;
  }
  DirectionResult r;
  r.out = T == 1 ? outs[0] : cat(outs, 0);
  // Final states in row order: the rows still active at the end, then those that finished
  // earlier (later finishes hold lower rows).
  const auto gather = [](const Tensor& last, const std::vector<Tensor>& done) {
    if (done.empty()) return last;
    std::vector<Tensor> parts{last};
    parts.insert(parts.end(), done.rbegin(), done.rend());
    return cat(parts, 0);
  };
  r.h = gather(h, done_h);
  if (lstm) r.c = gather(c, done_c);
  return r;
}

}  // namespace

std::tuple<Tensor, Tensor, Tensor> RNNBase::run(const Tensor& x, const std::vector<std::int64_t>& batch_sizes,
                                                const Tensor& h0, const Tensor& c0) {
  const bool lstm = kind_ == Kind::lstm, gru = kind_ == Kind::gru, relu = kind_ == Kind::rnn_relu;
  const std::int64_t D = config_.bidirectional ? 2 : 1;
  Tensor layer_in = x;
  std::vector<Tensor> hs, cs;
  for (std::int64_t l = 0; l < config_.num_layers; ++l) {
    std::vector<Tensor> outs;
    for (std::int64_t d = 0; d < D; ++d) {
      const std::int64_t i = l * D + d;
      DirectionResult r = run_direction(lstm, gru, relu, layer_in, batch_sizes, params_[static_cast<std::size_t>(i)],
                                        h0.select(0, i), lstm ? c0.select(0, i) : Tensor(), d == 1);
      outs.push_back(r.out);
      hs.push_back(r.h);
      if (lstm) cs.push_back(r.c);
    }
    layer_in = D == 1 ? outs[0] : cat(outs, 1);
    if (l + 1 < config_.num_layers && is_training() && config_.dropout > 0.0)
      layer_in = functional::dropout(layer_in, config_.dropout, true);
  }
  return {layer_in, stack(hs, 0), lstm ? stack(cs, 0) : Tensor()};
}

namespace {

// Input checks shared by the dense and packed forms.
void check_input_features(std::string_view name, const Tensor& input, const Tensor& weight, std::int64_t input_size) {
  if (!is_floating(input.dtype()))
    throw Error(fmt::format("{}: expected a floating dtype (float32 or float64), got {} for input of shape {}", name,
                            input.dtype(), input.shape()));
  if (input.dtype() != weight.dtype())
    throw Error(fmt::format("{}: input must have the type {} (the parameters' dtype), got type {}", name,
                            weight.dtype(), input.dtype()));
  if (input.size(-1) != input_size)
    throw Error(fmt::format("{}: input.size(-1) must be equal to input_size. Expected {}, got {} (input of shape {})",
                            name, input_size, input.size(-1), input.shape()));
}

void check_state(std::string_view name, const Tensor& s, const Shape& want, std::string_view label, Dtype dt) {
  if (s.shape() != want) throw Error(fmt::format("{}: expected {} size {}, got {}", name, label, want, s.shape()));
  if (s.dtype() != dt)
    throw Error(fmt::format("{}: {} has dtype {} but the input has dtype {}", name, label, s.dtype(), dt));
}

}  // namespace

std::tuple<Tensor, Tensor, Tensor> RNNBase::dense_forward(const Tensor& input, const Tensor& hx, const Tensor& cx,
                                                          bool has_hx) {
  const bool lstm = kind_ == Kind::lstm;
  xgrad::detail::check_defined(input, name_);
  if (input.dim() != 2 && input.dim() != 3)
    throw Error(fmt::format("{}: Expected input to be 2D or 3D, got {}D instead (input of shape {})", name_,
                            input.dim(), input.shape()));
  check_input_features(name_, input, params_[0].w_ih, config_.input_size);
  const bool batched = input.dim() == 3;
  const Tensor x = !batched ? input.unsqueeze(1) : config_.batch_first ? input.transpose(0, 1) : input;  // [T, B, I]
  const std::int64_t T = x.size(0), B = x.size(1), H = config_.hidden_size;
  const std::int64_t Hout = config_.proj_size > 0 ? config_.proj_size : H;
  const std::int64_t LD = config_.num_layers * (config_.bidirectional ? 2 : 1);
  const Shape hshape = batched ? Shape{LD, B, Hout} : Shape{LD, Hout};
  const Shape cshape = batched ? Shape{LD, B, H} : Shape{LD, H};
  Tensor h0, c0;
  if (has_hx) {
    xgrad::detail::check_defined(hx, name_);
    if (lstm) xgrad::detail::check_defined(cx, name_);
    const std::int64_t want = batched ? 3 : 2;
    const std::string what = batched ? "batched 3-D" : "unbatched 2-D";
    if (lstm && (hx.dim() != want || cx.dim() != want))
      throw Error(fmt::format("{}: For {} input, hx and cx should also be {}-D but got ({}-D, {}-D) tensors", name_,
                              what, want, hx.dim(), cx.dim()));
    if (hx.dim() != want)
      throw Error(
          fmt::format("{}: For {} input, hx should also be {}-D but got {}-D tensor", name_, what, want, hx.dim()));
    check_state(name_, hx, hshape, lstm ? "hidden[0]" : "hidden", input.dtype());
    if (lstm) check_state(name_, cx, cshape, "hidden[1]", input.dtype());
    h0 = batched ? hx : hx.unsqueeze(1);
    if (lstm) c0 = batched ? cx : cx.unsqueeze(1);
  } else {
    h0 = zeros({LD, B, Hout}, dtype(input.dtype()));
    if (lstm) c0 = zeros({LD, B, H}, dtype(input.dtype()));
  }
  const std::int64_t width = (config_.bidirectional ? 2 : 1) * Hout;
  Tensor out, hn = h0, cn = c0;
  if (T == 0 || B == 0) {
    out = zeros({T, B, width}, dtype(input.dtype()));
  } else {
    auto [o, h, c] = run(x.reshape({T * B, x.size(2)}), I64s(static_cast<std::size_t>(T), B), h0, c0);
    out = o.view({T, B, width});
    hn = h;
    cn = c;
  }
  if (!batched) {
    out = out.squeeze(1);
    hn = hn.squeeze(1);
    if (lstm) cn = cn.squeeze(1);
  } else if (config_.batch_first) {
    out = out.transpose(0, 1);
  }
  return {out, hn, cn};
}

std::tuple<Tensor, Tensor, Tensor> RNNBase::packed_forward(const utils::rnn::PackedSequence& input, const Tensor& hx,
                                                           const Tensor& cx, bool has_hx) {
  const bool lstm = kind_ == Kind::lstm;
  const Tensor& data = input.data();
  xgrad::detail::check_defined(data, name_);
  if (data.dim() != 2)
    throw Error(fmt::format("{}: input must have 2 dimensions, got {} (packed data of shape {})", name_, data.dim(),
                            data.shape()));
  check_input_features(name_, data, params_[0].w_ih, config_.input_size);
  const Tensor& bst = input.batch_sizes();
  if (!bst.defined() || bst.dim() != 1 || bst.numel() == 0 || !is_integral(bst.dtype(), false))
    throw Error(fmt::format("{}: expected batch_sizes to be a non-empty 1-d integer tensor, got {}", name_,
                            bst.defined() ? bst.describe() : std::string("an undefined tensor")));
  const I64s bs = bst.to(int64).contiguous().to_vector<std::int64_t>();
  std::int64_t total = 0;
  for (std::size_t t = 0; t < bs.size(); ++t) {
    if (bs[t] < 1 || (t > 0 && bs[t] > bs[t - 1]))
      throw Error(fmt::format("{}: batch_sizes must be positive and non-increasing, got {}", name_, bs));
    total += bs[t];
  }
  if (total != data.size(0))
    throw Error(
        fmt::format("{}: batch_sizes {} sum to {} but the packed data has {} rows", name_, bs, total, data.size(0)));
  const std::int64_t B = bs[0], H = config_.hidden_size;
  const std::int64_t Hout = config_.proj_size > 0 ? config_.proj_size : H;
  const std::int64_t LD = config_.num_layers * (config_.bidirectional ? 2 : 1);
  const Tensor& sorted = input.sorted_indices();
  const Tensor& unsorted = input.unsorted_indices();
  for (const Tensor* ix : {&sorted, &unsorted})
    if (ix->defined() && (ix->dim() != 1 || ix->size(0) != B))
      throw Error(
          fmt::format("{}: expected sorted_indices / unsorted_indices of shape [{}], got {}", name_, B, ix->shape()));
  Tensor h0, c0;
  if (has_hx) {
    xgrad::detail::check_defined(hx, name_);
    if (lstm) xgrad::detail::check_defined(cx, name_);
    check_state(name_, hx, {LD, B, Hout}, lstm ? "hidden[0]" : "hidden", data.dtype());
    if (lstm) check_state(name_, cx, {LD, B, H}, "hidden[1]", data.dtype());
    // hx is in the original batch order; the packed rows are in sorted order.
    h0 = sorted.defined() ? index_select(hx, 1, sorted) : hx;
    if (lstm) c0 = sorted.defined() ? index_select(cx, 1, sorted) : cx;
  } else {
    h0 = zeros({LD, B, Hout}, dtype(data.dtype()));
    if (lstm) c0 = zeros({LD, B, H}, dtype(data.dtype()));
  }
  auto [out, hn, cn] = run(data, bs, h0, c0);
  if (unsorted.defined()) {
    hn = index_select(hn, 1, unsorted);
    if (lstm) cn = index_select(cn, 1, unsorted);
  }
  return {out, hn, cn};
}

// ---- RNN, LSTM, GRU ---------------------------------------------------------------------------

namespace {

template <class O>
RNNBase::Config make_config(const O& o, std::string_view name, std::int64_t proj_size) {
  ::xgrad::options::validate_options(o, name);
  if (proj_size < 0)
    throw Error(fmt::format("{}: proj_size should be a positive integer or zero to disable projections, got {}", name,
                            proj_size));
  if (proj_size > 0 && proj_size >= o.hidden_size())
    throw Error(fmt::format("{}: proj_size has to be smaller than hidden_size, got proj_size {} and hidden_size {}",
                            name, proj_size, o.hidden_size()));
  return {o.input_size(), o.hidden_size(), o.num_layers(),    proj_size,
          o.bias(),       o.batch_first(), o.bidirectional(), o.dropout()};
}

utils::rnn::PackedSequence repack(const utils::rnn::PackedSequence& in, const Tensor& data) {
  return utils::rnn::PackedSequence(data, in.batch_sizes(), in.sorted_indices(), in.unsorted_indices());
}

}  // namespace

RNN::RNN(const RNNOptions& options)
    : RNNBase("RNN", options.nonlinearity() == "relu" ? Kind::rnn_relu : Kind::rnn_tanh,
              make_config(options, "RNN", 0)),
      options_(options) {}

std::tuple<Tensor, Tensor> RNN::forward(const Tensor& input, const Tensor& hx) {
  auto [out, hn, cn] = dense_forward(input, hx, Tensor(), hx.defined());
  return {out, hn};
}

std::tuple<utils::rnn::PackedSequence, Tensor> RNN::forward_with_packed_input(const utils::rnn::PackedSequence& packed,
                                                                              const Tensor& hx) {
  auto [out, hn, cn] = packed_forward(packed, hx, Tensor(), hx.defined());
  return {repack(packed, out), hn};
}

LSTM::LSTM(const LSTMOptions& options)
    : RNNBase("LSTM", Kind::lstm, make_config(options, "LSTM", options.proj_size())), options_(options) {}

std::tuple<Tensor, std::tuple<Tensor, Tensor>> LSTM::forward(const Tensor& input,
                                                             const std::optional<std::tuple<Tensor, Tensor>>& hx) {
  auto [out, hn, cn] =
      dense_forward(input, hx ? std::get<0>(*hx) : Tensor(), hx ? std::get<1>(*hx) : Tensor(), hx.has_value());
  return {out, {hn, cn}};
}

std::tuple<utils::rnn::PackedSequence, std::tuple<Tensor, Tensor>> LSTM::forward_with_packed_input(
    const utils::rnn::PackedSequence& packed, const std::optional<std::tuple<Tensor, Tensor>>& hx) {
  auto [out, hn, cn] =
      packed_forward(packed, hx ? std::get<0>(*hx) : Tensor(), hx ? std::get<1>(*hx) : Tensor(), hx.has_value());
  return {repack(packed, out), {hn, cn}};
}

GRU::GRU(const GRUOptions& options) : RNNBase("GRU", Kind::gru, make_config(options, "GRU", 0)), options_(options) {}

std::tuple<Tensor, Tensor> GRU::forward(const Tensor& input, const Tensor& hx) {
  auto [out, hn, cn] = dense_forward(input, hx, Tensor(), hx.defined());
  return {out, hn};
}

std::tuple<utils::rnn::PackedSequence, Tensor> GRU::forward_with_packed_input(const utils::rnn::PackedSequence& packed,
                                                                              const Tensor& hx) {
  auto [out, hn, cn] = packed_forward(packed, hx, Tensor(), hx.defined());
  return {repack(packed, out), hn};
}

}  // namespace xgrad::nn
