// SinusoidalPositionalEncoding and LearnedPositionalEncoding (declared in transformer.hpp).
#include <cmath>
#include <vector>

#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/factories.hpp"
#include "xgrad/nn/init.hpp"
#include "xgrad/nn/transformer.hpp"

namespace xgrad::nn {

namespace {

// x + table[:L] (table [max_len, d_model]) for x [L, B, d], [B, L, d] (batch_first) or [L, d].
Tensor add_positions(const Tensor& x, const Tensor& table, bool batch_first, std::string_view who) {
  detail::check_defined(x, who);
  const std::int64_t max_len = table.size(0), d = table.size(1);
  if ((x.dim() != 2 && x.dim() != 3) || x.size(-1) != d)
    throw Error(fmt::format("{}: input of shape {} should be {} or unbatched [L, d_model] with d_model = {}", who,
                            x.shape(), batch_first ? "[B, L, d_model]" : "[L, B, d_model]", d));
  if (x.dtype() != table.dtype())
    throw Error(
        fmt::format("{}: input has dtype {} but the module's table has dtype {}", who, x.dtype(), table.dtype()));
  const bool seq_first = x.dim() == 2 || !batch_first;
  const std::int64_t len = x.size(seq_first ? 0 : 1);
  if (len > max_len)
    throw Error(fmt::format("{}: the sequence length {} of the input of shape {} exceeds max_len = {}", who, len,
                            x.shape(), max_len));
  Tensor rows = table.narrow(0, 0, len);  // [L, d]
  if (x.dim() == 3 && seq_first) rows = rows.unsqueeze(1);
  return x + rows;
}

}  // namespace

SinusoidalPositionalEncoding::SinusoidalPositionalEncoding(const SinusoidalPositionalEncodingOptions& options)
    : Module("SinusoidalPositionalEncoding"), options_(options) {
  ::xgrad::options::validate_options(options_, "SinusoidalPositionalEncoding");
  const std::int64_t n = options_.max_len(), d = options_.d_model();
  std::vector<float> table(static_cast<std::size_t>(n * d));
  for (std::int64_t pos = 0; pos < n; ++pos) {
    for (std::int64_t j = 0; j < d; ++j) {
      // Columns 2i and 2i + 1 share the frequency 1 / 10000^(2i / d).
      const double angle = static_cast<double>(pos) / std::pow(10000.0, static_cast<double>(j - j % 2) / d);
      table[static_cast<std::size_t>(pos * d + j)] = static_cast<float>(j % 2 == 0 ? std::sin(angle) : std::cos(angle));
    }
  }
  pe = register_buffer("pe", from_vector(table, {n, d}));
}

Tensor SinusoidalPositionalEncoding::forward(const Tensor& x) {
  return functional::dropout(add_positions(x, pe, options_.batch_first(), "SinusoidalPositionalEncoding"),
                             options_.dropout(), is_training());
}

LearnedPositionalEncoding::LearnedPositionalEncoding(const LearnedPositionalEncodingOptions& options)
    : Module("LearnedPositionalEncoding"), options_(options) {
  ::xgrad::options::validate_options(options_, "LearnedPositionalEncoding");
  weight = register_parameter("weight", zeros({options_.max_len(), options_.d_model()}));
  reset_parameters();
}

void LearnedPositionalEncoding::reset_parameters() { init::normal_(weight, 0.0, 0.02); }

Tensor LearnedPositionalEncoding::forward(const Tensor& x) {
  return functional::dropout(add_positions(x, weight, options_.batch_first(), "LearnedPositionalEncoding"),
                             options_.dropout(), is_training());
}

}  // namespace xgrad::nn
