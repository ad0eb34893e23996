// Recurrent layers and cells (PyTorch's torch.nn.RNN / LSTM / GRU and RNNCell / LSTMCell /
// GRUCell, with libtorch's C++ shapes): the functional cells and fused gate kernels
// (xgrad::nn::functional), the modules (xgrad::nn).
//
// Common rules:
// * Gates, in PyTorch's order and formulas (x the input, h the previous hidden state):
//     RNN:  h' = act(W_ih x + b_ih + W_hh h + b_hh), act = tanh or relu     (G = 1)
//     LSTM: [i, f, g, o] = W_ih x + b_ih + W_hh h + b_hh                     (G = 4)
//           i, f, o = sigmoid(.), g = tanh(.), c' = f c + i g, h' = o tanh(c')
//           with proj_size P > 0: h' = W_hr (o tanh(c')) (h has size P, c keeps H)
//     GRU:  [r, z, n] rows of the weights;                                   (G = 3)
//           r = sigmoid(W_ir x + b_ir + W_hr h + b_hr), z likewise,
//           n = tanh(W_in x + b_in + r (W_hn h + b_hn)), h' = (1 - z) n + z h.
// * Parameters: weight_ih [G H, I], weight_hh [G H, H_out], bias_ih [G H], bias_hh [G H]
//   (H_out = proj_size if > 0 else H), weight_hr [P, H]; in the layers suffixed _l{k} and
//   _reverse for the backward direction, registered in PyTorch's order (weight_ih, weight_hh,
//   bias_ih, bias_hh, weight_hr per layer and direction), so PyTorch state dicts load. All
//   are drawn from U(-1/sqrt(H), 1/sqrt(H)) (PyTorch's init; 0 when H = 0). float32 like
//   every module's parameters; .to(float64) converts them. The input must have the
//   parameters' dtype (PyTorch: "input must have the type ..."), else xgrad::Error.
// * Fast path (the layers and the cells): per layer and direction ONE matrix product for the
//   input projections of all time steps ([T B, I] x W_ih^T + b_ih, functional::linear: W^T
//   read through BLAS's transpose flag, so dW arrives in W's own layout), ONE product
//   per step for the recurrence (h W_hh^T + b_hh), and the gate non-linearities plus the cell
//   update fused in ONE kernel per step (functional::fused_*_cell below), forward and
//   backward. Each step reads its rows of the projection as a view (one split op, no copy);
//   the outputs are collected once with cat. The fused kernels split rows across threads
//   with kernel::parallel_for (each element computed by one task): results are bit-identical
//   at every thread count. Under create_graph their backward is composed from
//   differentiable ops (the same formulas), so double backward works (gradgradcheck).
// * Every user mistake throws xgrad::Error naming the layer or op and the shapes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "xgrad/autograd/tensor.hpp"
#include "xgrad/nn/module.hpp"
#include "xgrad/nn/options.hpp"
#include "xgrad/nn/rnn_utils.hpp"

namespace xgrad::nn {

namespace functional {

// ---- fused gate kernels (one pass forward, one pass backward) -------------------------------
// The step kernels the layers and cells are built on; the counterparts of PyTorch's
// _thnn_fused_lstm_cell / _thnn_fused_gru_cell, with the biases already added into the
// gates (the layers fold b_ih into the input projection and b_hh into the recurrent
// product). Rows: b >= 0, any layout (strided inputs are read through contiguous copies),
// float32 or float64, all of one dtype. Throw xgrad::Error "<op>: ..." for undefined
// inputs, shapes that do not match, a gate width that is not a multiple of G, or a
// non-floating dtype.

/// h' = act(input_gates + hidden_gates), act "tanh" or "relu"; both [b, H] -> [b, H].
/// Backward: d gates = g (1 - h'^2) (tanh) or g [h' > 0] (relu), the same for both inputs.
Tensor fused_rnn_cell(const Tensor& input_gates, const Tensor& hidden_gates, std::string_view nonlinearity = "tanh");

/// LSTM step: gates = input_gates + hidden_gates [b, 4H] (chunks i, f, g, o), cx [b, H];
/// returns (hy, cy), hy = o tanh(cy), cy = f cx + i g. Backward, with tc = tanh(cy),
/// dcy = g_c + g_h o (1 - tc^2): d i = dcy g i (1 - i), d f = dcy cx f (1 - f),
/// d g = dcy i (1 - g^2), d o = g_h tc o (1 - o) (pre-activation gradients, the same for
/// both gate inputs), d cx = dcy f.
std::tuple<Tensor, Tensor> fused_lstm_cell(const Tensor& input_gates, const Tensor& hidden_gates, const Tensor& cx);

/// GRU step: input_gates = W_i x + b_i and hidden_gates = W_h h + b_h, both [b, 3H] (chunks
/// r, z, n), hx [b, H]; returns h' = (1 - z) n + z hx with r = sigmoid(gi_r + gh_r),
/// z = sigmoid(gi_z + gh_z), n = tanh(gi_n + r gh_n). Backward: d n_pre = g (1 - z)(1 - n^2),
/// d z_pre = g (hx - n) z (1 - z), d r_pre = d n_pre gh_n r (1 - r); d input_gates =
/// [d r_pre, d z_pre, d n_pre], d hidden_gates = [d r_pre, d z_pre, d n_pre r], d hx = g z.
Tensor fused_gru_cell(const Tensor& input_gates, const Tensor& hidden_gates, const Tensor& hx);

// ---- cells (torch.rnn_tanh_cell, torch.lstm_cell, ...: ATen's functional cells) -------------
// input [B, I], hx [B, H_out] (both 2-d and required), w_ih [G H, I], w_hh [G H, H_out],
// b_ih, b_hh [G H] or undefined (no bias). One functional::linear for each product, then the
// fused kernel.
// Throw xgrad::Error naming the op for shapes that do not fit these (PyTorch's wording:
// "input has inconsistent input_size: got 5, expected 3", "Input batch size 2 doesn't match
// hidden0 batch size 3", "hidden0 has inconsistent hidden_size: got 5, expected 4"), and for
// mixed or non-floating dtypes.

/// h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh).
Tensor rnn_tanh_cell(const Tensor& input, const Tensor& hx, const Tensor& w_ih, const Tensor& w_hh,
                     const Tensor& b_ih = Tensor(), const Tensor& b_hh = Tensor());
/// h' = relu(x W_ih^T + b_ih + h W_hh^T + b_hh).
Tensor rnn_relu_cell(const Tensor& input, const Tensor& hx, const Tensor& w_ih, const Tensor& w_hh,
                     const Tensor& b_ih = Tensor(), const Tensor& b_hh = Tensor());
/// (h', c') of one LSTM step; hx = (h [B, H], c [B, H]).
std::tuple<Tensor, Tensor> lstm_cell(const Tensor& input, const std::tuple<Tensor, Tensor>& hx, const Tensor& w_ih,
                                     const Tensor& w_hh, const Tensor& b_ih = Tensor(), const Tensor& b_hh = Tensor());
/// h' of one GRU step.
Tensor gru_cell(const Tensor& input, const Tensor& hx, const Tensor& w_ih, const Tensor& w_hh,
                const Tensor& b_ih = Tensor(), const Tensor& b_hh = Tensor());

}  // namespace functional

namespace checks {
/// An RNN non-linearity: "tanh" or "relu", else "<owner>: Unknown nonlinearity 'x'. Select
/// from 'tanh' or 'relu'." (PyTorch's text).
struct RnnNonlinearity {
  void operator()(std::string_view owner, std::string_view name, const std::string& v) const;
};
inline constexpr RnnNonlinearity rnn_nonlinearity{};
/// A layer's dropout: in [0, 1], else "<owner>: dropout should be a number in range [0, 1]
/// representing the probability of an element being zeroed, got 1.5" (PyTorch's text).
struct RnnDropout {
  void operator()(std::string_view owner, std::string_view name, double v) const;
};
inline constexpr RnnDropout rnn_dropout{};
}  // namespace checks

// ---- options --------------------------------------------------------------------------------

#define XGRAD_NN_RNN_CELL_FIELDS_(X)                              \
  X(std::int64_t, input_size, 0, ::xgrad::options::non_negative)  \
  X(std::int64_t, hidden_size, 0, ::xgrad::options::non_negative) \
  X(bool, bias, true, ::xgrad::options::any)

/// RNNCellOptions(input_size, hidden_size).bias(true).nonlinearity("tanh").
struct RNNCellOptions {
  RNNCellOptions(std::int64_t input_size, std::int64_t hidden_size) {
    input_size_ = input_size;
    hidden_size_ = hidden_size;
  }
#define XGRAD_NN_FIELDS(X) \
  XGRAD_NN_RNN_CELL_FIELDS_(X) X(std::string, nonlinearity, "tanh", ::xgrad::nn::checks::rnn_nonlinearity)
  XGRAD_OPTIONS(RNNCellOptions, XGRAD_NN_FIELDS)
#undef XGRAD_NN_FIELDS
};

/// LSTMCellOptions(input_size, hidden_size).bias(true).
struct LSTMCellOptions {
  LSTMCellOptions(std::int64_t input_size, std::int64_t hidden_size) {
    input_size_ = input_size;
    hidden_size_ = hidden_size;
  }
  XGRAD_OPTIONS(LSTMCellOptions, XGRAD_NN_RNN_CELL_FIELDS_)
};

/// GRUCellOptions(input_size, hidden_size).bias(true).
struct GRUCellOptions {
  GRUCellOptions(std::int64_t input_size, std::int64_t hidden_size) {
    input_size_ = input_size;
    hidden_size_ = hidden_size;
  }
  XGRAD_OPTIONS(GRUCellOptions, XGRAD_NN_RNN_CELL_FIELDS_)
};

// The fields every layer has (PyTorch's RNNBase): hidden_size and num_layers > 0.
#define XGRAD_NN_RNN_LAYER_FIELDS_(X)                            \
  X(std::int64_t, input_size, 0, ::xgrad::options::non_negative) \
  X(std::int64_t, hidden_size, 0, ::xgrad::options::positive)    \
  X(std::int64_t, num_layers, 1, ::xgrad::options::positive)     \
  X(bool, bias, true, ::xgrad::options::any)                     \
  X(bool, batch_first, false, ::xgrad::options::any)             \
  X(double, dropout, 0.0, ::xgrad::nn::checks::rnn_dropout)      \
  X(bool, bidirectional, false, ::xgrad::options::any)

/// RNNOptions(input_size, hidden_size).num_layers(1).nonlinearity("tanh").bias(true)
/// .batch_first(false).dropout(0.0).bidirectional(false).
struct RNNOptions {
  RNNOptions(std::int64_t input_size, std::int64_t hidden_size) {
    input_size_ = input_size;
    hidden_size_ = hidden_size;
  }
#define XGRAD_NN_FIELDS(X) \
  XGRAD_NN_RNN_LAYER_FIELDS_(X) X(std::string, nonlinearity, "tanh", ::xgrad::nn::checks::rnn_nonlinearity)
  XGRAD_OPTIONS(RNNOptions, XGRAD_NN_FIELDS)
#undef XGRAD_NN_FIELDS
};

/// LSTMOptions(input_size, hidden_size) with RNNOptions' fields (no nonlinearity) and
/// proj_size(0): 0 <= proj_size < hidden_size (checked by LSTM).
struct LSTMOptions {
  LSTMOptions(std::int64_t input_size, std::int64_t hidden_size) {
    input_size_ = input_size;
    hidden_size_ = hidden_size;
  }
#define XGRAD_NN_FIELDS(X) XGRAD_NN_RNN_LAYER_FIELDS_(X) X(std::int64_t, proj_size, 0, ::xgrad::options::any)
  XGRAD_OPTIONS(LSTMOptions, XGRAD_NN_FIELDS)
#undef XGRAD_NN_FIELDS
};

/// GRUOptions(input_size, hidden_size) with RNNOptions' fields (no nonlinearity).
struct GRUOptions {
  GRUOptions(std::int64_t input_size, std::int64_t hidden_size) {
    input_size_ = input_size;
    hidden_size_ = hidden_size;
  }
  XGRAD_OPTIONS(GRUOptions, XGRAD_NN_RNN_LAYER_FIELDS_)
};

#undef XGRAD_NN_RNN_CELL_FIELDS_
#undef XGRAD_NN_RNN_LAYER_FIELDS_

// ---- cells ----------------------------------------------------------------------------------
// forward(input, hx): input [B, I] or unbatched [I]; hx [B, H] (unbatched: [H]) or undefined
// (zeros). Results have hx's shape. Throws xgrad::Error for input not 1-d or 2-d ("RNNCell:
// Expected input to be 1D or 2D, got 3D instead"), hx of the wrong rank ("RNNCell: Expected
// hidden to be 1D or 2D, got 3D instead"; LSTMCell: "Expected hx[0] to be 2D, got 1D
// instead"), and as the functional cells (naming the cell) for sizes and dtypes.
// extra_repr as PyTorch's: "3, 4", "3, 4, bias=False", "3, 4, nonlinearity=relu".

/// Elman cell: functional::rnn_tanh_cell / rnn_relu_cell with this cell's parameters.
class RNNCell : public Module {
 public:
  explicit RNNCell(const RNNCellOptions& options);
  RNNCell(std::int64_t input_size, std::int64_t hidden_size) : RNNCell(RNNCellOptions(input_size, hidden_size)) {}
  Tensor forward(const Tensor& input) override { return forward(input, Tensor()); }
  Tensor forward(const Tensor& input, const Tensor& hx);
  /// Same as forward(input, hx) (module hooks, which take one input, are not run).
  Tensor operator()(const Tensor& input, const Tensor& hx) { return forward(input, hx); }
  using Module::operator();
  void reset_parameters();
  std::string extra_repr() const override;
  const RNNCellOptions& options() const { return options_; }

  Tensor weight_ih, weight_hh, bias_ih, bias_hh;  ///< biases undefined without bias

 private:
  RNNCellOptions options_;
};

/// LSTM cell: functional::lstm_cell; hx = (h, c) or std::nullopt (zeros); returns (h', c').
class LSTMCell : public Module {
 public:
  explicit LSTMCell(const LSTMCellOptions& options);
  LSTMCell(std::int64_t input_size, std::int64_t hidden_size) : LSTMCell(LSTMCellOptions(input_size, hidden_size)) {}
  std::tuple<Tensor, Tensor> forward(const Tensor& input,
                                     const std::optional<std::tuple<Tensor, Tensor>>& hx = std::nullopt);
  void reset_parameters();
  std::string extra_repr() const override;
  const LSTMCellOptions& options() const { return options_; }

  Tensor weight_ih, weight_hh, bias_ih, bias_hh;

 private:
  LSTMCellOptions options_;
};

/// GRU cell: functional::gru_cell.
class GRUCell : public Module {
 public:
  explicit GRUCell(const GRUCellOptions& options);
  GRUCell(std::int64_t input_size, std::int64_t hidden_size) : GRUCell(GRUCellOptions(input_size, hidden_size)) {}
  Tensor forward(const Tensor& input) override { return forward(input, Tensor()); }
  Tensor forward(const Tensor& input, const Tensor& hx);
  Tensor operator()(const Tensor& input, const Tensor& hx) { return forward(input, hx); }
  using Module::operator();
  void reset_parameters();
  std::string extra_repr() const override;
  const GRUCellOptions& options() const { return options_; }

  Tensor weight_ih, weight_hh, bias_ih, bias_hh;

 private:
  GRUCellOptions options_;
};

// ---- layers ---------------------------------------------------------------------------------
// forward(input, hx):
//   input [T, B, I] (batch_first: [B, T, I]) or unbatched [T, I];
//   hx    [L D, B, H_out] (unbatched [L D, H_out]) or undefined (zeros); LSTM: (h_0, c_0)
//         with c_0 [L D, B, H] (L = num_layers, D = 2 if bidirectional else 1);
//   returns (output, h_n): output [T, B, D H_out] (batch_first: [B, T, D H_out], a transposed
//   view as PyTorch's) holding the last layer's h_t (forward direction first in the last
//   dim), h_n [L D, B, H_out] the final states, ordered layer by layer, forward direction
//   first; LSTM: (output, (h_n, c_n)), c_n [L D, B, H].
// Layer k > 0 reads layer k-1's output ([.., D H_out]); in training mode with dropout > 0,
// that output passes through dropout(p) first (not after the last layer; PyTorch only warns
// about dropout with num_layers = 1, we accept it silently). T = 0 or B = 0 give an empty
// output and h_n = h_0 (zeros without hx).
// forward_with_packed_input(packed, hx): the same over a PackedSequence (utils::rnn): at step
// t only the first batch_sizes[t] rows (in sorted order) are active; hx is given in the
// original batch order (B = batch_sizes[0]) and permuted by sorted_indices; the result holds
// the output as a PackedSequence with the input's batch_sizes and indices, and h_n (c_n) in
// the original batch order (permuted back by unsorted_indices), each sequence's state at its
// own last step; the reverse direction starts each sequence at its own last step.
// Throws xgrad::Error: input not 2-d or 3-d ("LSTM: Expected input to be 2D or 3D, got 4D
// instead"), packed data not 2-d, input.size(-1) != input_size ("input.size(-1) must be equal
// to input_size. Expected 3, got 5"), a dtype other than the parameters', hx of the wrong
// rank ("For batched 3-D input, hx should also be 3-D but got 2-D tensor") or shape ("LSTM:
// expected hidden[0] size [2, 3, 20], got [1, 3, 20]"; RNN/GRU: "expected hidden size ...").
// At construction: hidden_size or num_layers <= 0, dropout outside [0, 1], an unknown
// nonlinearity, proj_size < 0 or >= hidden_size.
// extra_repr as PyTorch's: "10, 20, num_layers=2, batch_first=True, bidirectional=True"
// (proj_size, num_layers, bias, batch_first, dropout, bidirectional when not the default; as
// PyTorch's, it does not show RNN's nonlinearity).

/// The parameters of one layer and direction (handles to the registered tensors).
struct RNNLayerParams {
  Tensor w_ih, w_hh, b_ih, b_hh, w_hr;  ///< biases / w_hr undefined when absent
};

/// What RNN, LSTM and GRU share: parameters, checks, the layer loop. Not used directly.
class RNNBase : public Module {
 public:
  /// Parameters of layer `layer`, direction `direction` (0 forward, 1 reverse).
  const RNNLayerParams& layer_params(std::int64_t layer, std::int64_t direction) const;
  /// All parameters as PyTorch's all_weights: per layer and direction, in registration order.
  std::vector<std::vector<Tensor>> all_weights() const;
  /// Draws every parameter from U(-1/sqrt(H), 1/sqrt(H)).
  void reset_parameters();
  /// A no-op (PyTorch's re-packs weights for cuDNN).
  void flatten_parameters() {}
  std::string extra_repr() const override;

  // internal: the cell kind and the options every layer has (filled by RNN, LSTM, GRU).
  enum class Kind { rnn_tanh, rnn_relu, lstm, gru };
  struct Config {
    std::int64_t input_size, hidden_size, num_layers, proj_size;
    bool bias, batch_first, bidirectional;
    double dropout;
  };

 protected:
  RNNBase(std::string name, Kind kind, const Config& config);
  // Runs all layers over time-major rows x [N, I] with the schedule batch_sizes (one entry
  // per step); h0 [L D, B, H_out], c0 [L D, B, H] (LSTM) are defined. Returns (output rows
  // [N, D H_out], h_n, c_n).
  std::tuple<Tensor, Tensor, Tensor> run(const Tensor& x, const std::vector<std::int64_t>& batch_sizes,
                                         const Tensor& h0, const Tensor& c0);
  // The dense forward (padded or unbatched input); hx/cx may be undefined.
  std::tuple<Tensor, Tensor, Tensor> dense_forward(const Tensor& input, const Tensor& hx, const Tensor& cx,
                                                   bool has_hx);
  // The packed forward; returns (output data, h_n, c_n) with h_n/c_n in the original order.
  std::tuple<Tensor, Tensor, Tensor> packed_forward(const utils::rnn::PackedSequence& input, const Tensor& hx,
                                                    const Tensor& cx, bool has_hx);

  Kind kind_;
  Config config_;
  std::vector<RNNLayerParams> params_;  // layer * D + direction
};

/// Multi-layer Elman RNN (tanh or relu).
class RNN : public RNNBase {
 public:
  explicit RNN(const RNNOptions& options);
  RNN(std::int64_t input_size, std::int64_t hidden_size) : RNN(RNNOptions(input_size, hidden_size)) {}
  std::tuple<Tensor, Tensor> forward(const Tensor& input, const Tensor& hx = Tensor());
  std::tuple<utils::rnn::PackedSequence, Tensor> forward_with_packed_input(const utils::rnn::PackedSequence& packed,
                                                                           const Tensor& hx = Tensor());
  const RNNOptions& options() const { return options_; }

 private:
  RNNOptions options_;
};

/// Multi-layer LSTM, with optional projections (proj_size).
class LSTM : public RNNBase {
 public:
  explicit LSTM(const LSTMOptions& options);
  LSTM(std::int64_t input_size, std::int64_t hidden_size) : LSTM(LSTMOptions(input_size, hidden_size)) {}
  std::tuple<Tensor, std::tuple<Tensor, Tensor>> forward(
      const Tensor& input, const std::optional<std::tuple<Tensor, Tensor>>& hx = std::nullopt);
  std::tuple<utils::rnn::PackedSequence, std::tuple<Tensor, Tensor>> forward_with_packed_input(
      const utils::rnn::PackedSequence& packed, const std::optional<std::tuple<Tensor, Tensor>>& hx = std::nullopt);
  const LSTMOptions& options() const { return options_; }

 private:
  LSTMOptions options_;
};

/// Multi-layer GRU.
class GRU : public RNNBase {
 public:
  explicit GRU(const GRUOptions& options);
  GRU(std::int64_t input_size, std::int64_t hidden_size) : GRU(GRUOptions(input_size, hidden_size)) {}
  std::tuple<Tensor, Tensor> forward(const Tensor& input, const Tensor& hx = Tensor());
  std::tuple<utils::rnn::PackedSequence, Tensor> forward_with_packed_input(const utils::rnn::PackedSequence& packed,
                                                                           const Tensor& hx = Tensor());
  const GRUOptions& options() const { return options_; }

 private:
  GRUOptions options_;
};

}  // namespace xgrad::nn
