// Deletion / insertion faithfulness curves.
#include "xgrad/explain/faithfulness.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common.hpp"
#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/node.hpp"
#include "xgrad/autograd/shape.hpp"
#include "xgrad/nn/activation.hpp"

namespace xgrad::explain {

FaithfulnessResult deletion_insertion(nn::Module& model, const Tensor& x, const Tensor& attribution,
                                      const Tensor& target, const FaithfulnessOptions& options) {
  constexpr std::string_view op = "deletion_insertion";
  detail::check_input(x, op);
  if (x.dim() != 4) throw Error(fmt::format("{}: input must be [N, C, H, W], got {}", op, x.describe()));
  const std::int64_t n = x.size(0), c = x.size(1), H = x.size(2), W = x.size(3), hw = H * W;
  if (!attribution.defined() || attribution.dim() != 4 || attribution.size(0) != n ||
      (attribution.size(1) != c && attribution.size(1) != 1) || attribution.size(2) != H || attribution.size(3) != W ||
      !is_floating(attribution.dtype()))
    throw Error(fmt::format("{}: attribution must be floating [{}, {} or 1, {}, {}] for input {}, got {}", op, n, c, H,
                            W, x.describe(),
                            attribution.defined() ? attribution.describe() : std::string("an undefined tensor")));
  const std::int64_t steps = options.steps();
  if (steps < 1) throw Error(fmt::format("{}: steps must be >= 1, got {}", op, steps));
  NoGradGuard no_grad;
  const Tensor xd = x.detach();
  const Tensor t = detail::resolve_target(detail::logits_no_grad(model, xd, op), target, op);
  const auto imp =
      attribution.detach().to(Dtype::float64).sum(std::vector<std::int64_t>{1}).contiguous().to_vector<double>();
  // Per sample: pixel positions by decreasing importance (stable: ties by position).
  std::vector<std::vector<std::int64_t>> order(static_cast<std::size_t>(n));
  for (std::int64_t k = 0; k < n; ++k) {
    auto& o = order[static_cast<std::size_t>(k)];
    o.resize(static_cast<std::size_t>(hw));
    std::iota(o.begin(), o.end(), 0);
    const double* v = imp.data() + k * hw;
    std::stable_sort(o.begin(), o.end(), [v](std::int64_t a, std::int64_t b) { return v[a] > v[b]; });
  }
  std::vector<double> mask(static_cast<std::size_t>(n * hw), 0.0);
  std::vector<double> del(static_cast<std::size_t>(n * (steps + 1))), ins(del.size());
  const Tensor t2 = cat({t, t}, 0);
  std::int64_t done = 0;
  for (std::int64_t s = 0; s <= steps; ++s) {
    const auto cnt = static_cast<std::int64_t>(
        std::llround(static_cast<double>(s) * static_cast<double>(hw) / static_cast<double>(steps)));
    for (std::int64_t k = 0; k < n; ++k)
      for (std::int64_t p = done; p < cnt; ++p)
        mask[static_cast<std::size_t>(k * hw + order[static_cast<std::size_t>(k)][static_cast<std::size_t>(p)])] = 1.0;
    done = cnt;
    const Tensor m = from_vector(mask, {n, 1, H, W}).to(x.dtype());
    const Tensor keep = ones_like(m) - m;
    const Tensor x_del = xd * keep + m * options.baseline();
    const Tensor x_ins = xd * m + keep * options.baseline();
    Tensor logits = model(cat({x_del, x_ins}, 0));
    detail::check_logits(logits, 2 * n, op);
    if (options.use_softmax()) logits = nn::functional::softmax(logits, 1);
    const auto sc = detail::target_scores(logits, t2).to(Dtype::float64).to_vector<double>();
    for (std::int64_t k = 0; k < n; ++k) {
      del[static_cast<std::size_t>(k * (steps + 1) + s)] = sc[static_cast<std::size_t>(k)];
      ins[static_cast<std::size_t>(k * (steps + 1) + s)] = sc[static_cast<std::size_t>(n + k)];
    }
  }
  std::vector<double> del_auc(static_cast<std::size_t>(n), 0.0), ins_auc(del_auc.size(), 0.0);
  for (std::int64_t k = 0; k < n; ++k)
    for (std::int64_t s = 0; s < steps; ++s) {
      const auto i = static_cast<std::size_t>(k * (steps + 1) + s);
      del_auc[static_cast<std::size_t>(k)] += (del[i] + del[i + 1]) / (2.0 * static_cast<double>(steps));
      ins_auc[static_cast<std::size_t>(k)] += (ins[i] + ins[i + 1]) / (2.0 * static_cast<double>(steps));
    }
  FaithfulnessResult r;
  r.deletion_curve = from_vector(del, {n, steps + 1});
  r.insertion_curve = from_vector(ins, {n, steps + 1});
  r.deletion_auc = from_vector(del_auc, {n});
  r.insertion_auc = from_vector(ins_auc, {n});
  return r;
}

}  // namespace xgrad::explain
