// pad's reflect, replicate and circular modes (shape.hpp; the constant mode and the checks
// common to all modes are in shape.cpp). Along each padded dim, every output position reads
// one input position given by an index table, so the op is one index_select per padded dim.
// index_select's backward (index_add into zeros) sums the gradient over the output
// positions that read the same input element, and its own backward is index_select again:
// derivatives of any order, deterministic at every thread count.
#include "kernel.hpp"
#include "xgrad/autograd/shape.hpp"

namespace xgrad::detail {

namespace {

const char* mode_name(PadMode mode) {
  switch (mode) {
    case PadMode::reflect:
      return "reflect";
    case PadMode::replicate:
      return "replicate";
    case PadMode::circular:
      return "circular";
    case PadMode::constant:
      break;
  }
  return "constant";
}

// Input position read by output position o of a dim of size n padded by `before`.
std::int64_t source(std::int64_t o, std::int64_t before, std::int64_t n, PadMode mode) {
  const std::int64_t i = o - before;
  if (i >= 0 && i < n) return i;
  switch (mode) {
    case PadMode::reflect:
      return i < 0 ? -i : 2 * (n - 1) - i;
    case PadMode::replicate:
      return i < 0 ? 0 : n - 1;
    default:
      return i < 0 ? i + n : i - n;  // circular (before, after <= n: wraps once)
  }
}

}  // namespace

Tensor pad_by_index(const Tensor& a, const std::vector<std::int64_t>& pad, PadMode mode) {
  const Shape& s = a.shape();
  // Check every padded dim before copying anything.
  for (std::size_t k = 0; k < pad.size() / 2; ++k) {
    const std::size_t d = s.size() - 1 - k;
    const std::int64_t before = pad[2 * k], after = pad[2 * k + 1], n = s[d];
    if (before == 0 && after == 0) continue;
    const bool ok = mode == PadMode::reflect     ? before < n && after < n
                    : mode == PadMode::replicate ? n > 0
                                                 : before <= n && after <= n;
    if (!ok)
      throw Error(fmt::format("pad: {} padding ({}, {}) of dim {} {}, got size {} (input shape {}, pad {})",
                              mode_name(mode), before, after, d,
                              mode == PadMode::reflect     ? "must be smaller than the dim's size"
                              : mode == PadMode::replicate ? "needs a non-empty dim"
                                                           : "must not exceed the dim's size (it would wrap around "
                                                             "more than once)",
                              n, s, pad));
  }
  Tensor out = a;
  for (std::size_t k = 0; k < pad.size() / 2; ++k) {
    const std::size_t d = s.size() - 1 - k;
    const std::int64_t before = pad[2 * k], after = pad[2 * k + 1], n = s[d];
    if (before == 0 && after == 0) continue;
    const std::int64_t m = before + n + after;  // no overflow: checked in pad()
    Tensor index = make_tensor({m}, Dtype::int64, "pad");
    std::int64_t* pi = index.data_ptr<std::int64_t>();
    for (std::int64_t o = 0; o < m; ++o) pi[o] = source(o, before, n, mode);
    out = index_select(out, static_cast<std::int64_t>(d), index);
  }
  return out;
}

}  // namespace xgrad::detail
