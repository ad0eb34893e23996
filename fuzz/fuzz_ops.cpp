// Fuzz target: random op graphs. The input is a program: 1 to 3 leaves (dtype float32,
// float64 or int64, 0 to 4 dims of size 0..5, floating leaves requiring grad or not), then up
// to 24 ops from kOps (elementwise, broadcasting binary ops, reductions, views such as
// transpose, slice, expand, reshape, select and as_strided, in-place ops applied to whatever
// the operand is, views included, indexing with indices taken from the input, out of range
// included), each reading its operands (earlier results) and arguments from the following
// bytes; then backward from the last results that require grad. Every op must end in a
// result or an xgrad::Error; every gradient that backward writes has its leaf's shape and
// dtype. Results over 4096 elements are dropped to keep executions fast. With
// XGRAD_FUZZ_TRACE set, the program is printed to stderr as it runs: the leaves, then one line
// per op with the pool entries it picks and what it returned or threw.
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <vector>

#include "xgrad/autograd.hpp"

namespace {

using namespace xgrad;

constexpr std::size_t kMaxOps = 24;
constexpr std::int64_t kMaxNumel = 4096;

struct Prog {
  const std::uint8_t* p;
  std::size_t n;
  std::vector<Tensor> pool;
  bool trace = false;  // XGRAD_FUZZ_TRACE is set

  std::uint8_t byte() {
    if (n == 0) return 0;
    --n;
    return *p++;
  }
  bool flag() { return byte() & 1; }
  /// -4..4: dims and small offsets, out of range for small tensors included.
  std::int64_t small() { return static_cast<std::int64_t>(byte() % 9) - 4; }
  std::int64_t dim() { return static_cast<std::int64_t>(byte() % 7) - 3; }
  const Tensor& pick() {
    const std::size_t i = byte() % pool.size();
    if (trace) std::fprintf(stderr, " t%zu", i);
    return pool[i];
  }
  Dtype dtype() {
    static constexpr Dtype kD[] = {Dtype::float32, Dtype::float64, Dtype::int64};
    return kD[byte() % 3];
  }
  /// 0 to 3 sizes in -1..5 (-1: inferred by reshape, refused by expand).
  Shape shape() {
    Shape s(byte() % 4);
    for (auto& d : s) d = static_cast<std::int64_t>(byte() % 7) - 1;
    return s;
  }
  std::vector<std::int64_t> dims() {
    std::vector<std::int64_t> d(byte() % 3);
    for (auto& x : d) x = dim();
    return d;
  }
  /// An int64 index tensor of `shape` whose values come from the input (-4..4).
  Tensor index(const Shape& shape) {
    std::int64_t numel = 1;
    for (const auto d : shape) numel *= d;
    std::vector<std::int64_t> v(static_cast<std::size_t>(numel));
    for (auto& x : v) x = small();
    return from_vector(v, shape);
  }
  /// An index of x's rank with each size in 0..2 (for gather and scatter_add).
  Tensor index_like(const Tensor& x) {
    Shape s(static_cast<std::size_t>(x.dim()));
    for (auto& d : s) d = byte() % 3;
    return index(s);
  }
  double scalar() {
    static constexpr double kS[] = {0.0, 1.0, -1.0, 0.5, 2.0, -3.0, 1e-300, 1e300};
    return kS[byte() % 8];
  }
};

using Op = Tensor (*)(Prog&);

// clang-format off
const Op kOps[] = {
    // elementwise
    [](Prog& g) { return g.pick().neg(); },
    [](Prog& g) { return g.pick().exp(); },
    [](Prog& g) { return g.pick().log(); },
    [](Prog& g) { return g.pick().sqrt(); },
    [](Prog& g) { return g.pick().abs(); },
    [](Prog& g) { return g.pick().sin(); },
    [](Prog& g) { return g.pick().tanh(); },
    [](Prog& g) { return g.pick().sigmoid(); },
    [](Prog& g) { return g.pick().relu(); },
    [](Prog& g) { const Tensor& x = g.pick(); return x.pow(g.scalar()); },
    [](Prog& g) {
      const Tensor& x = g.pick();
      std::optional<double> lo, hi;
      if (g.flag()) lo = g.scalar();
      if (g.flag()) hi = g.scalar();
      return x.clamp(lo, hi);
    },
    // binary, broadcasting
    [](Prog& g) { const Tensor& a = g.pick(); return a.add(g.pick()); },
    [](Prog& g) { const Tensor& a = g.pick(); return a.sub(g.pick()); },
    [](Prog& g) { const Tensor& a = g.pick(); return a.mul(g.pick()); },
    [](Prog& g) { const Tensor& a = g.pick(); return a.div(g.pick()); },
    [](Prog& g) { const Tensor& a = g.pick(); return a.pow(g.pick()); },
    [](Prog& g) { const Tensor& a = g.pick(); return a.matmul(g.pick()); },
    [](Prog& g) { const Tensor& a = g.pick(); return maximum(a, g.pick()); },
    [](Prog& g) { const Tensor& a = g.pick(); const Tensor& b = g.pick(); return where(gt(a, 0.0), a, b); },
    [](Prog& g) { const Tensor& a = g.pick(); return a.div(g.pick(), "floor"); },
    [](Prog& g) { const Tensor& a = g.pick(); return a.floor_divide(g.pick()); },
    [](Prog& g) { const Tensor& a = g.pick(); return a.lt(g.pick()); },
    [](Prog& g) { const Tensor& a = g.pick(); return a.div(g.scalar()); },
    // reductions and scans
    [](Prog& g) { const Tensor& x = g.pick(); auto d = g.dims(); return x.sum(d, g.flag()); },
    [](Prog& g) { const Tensor& x = g.pick(); auto d = g.dims(); return x.mean(d, g.flag()); },
    [](Prog& g) { const Tensor& x = g.pick(); auto d = g.dims(); return x.amax(d, g.flag()); },
    [](Prog& g) { const Tensor& x = g.pick(); auto d = g.dims(); const auto c = g.byte() % 3; return x.var(d, c, g.flag()); },
    [](Prog& g) { const Tensor& x = g.pick(); auto d = g.dims(); return x.logsumexp(d, g.flag()); },
    [](Prog& g) { const Tensor& x = g.pick(); const auto d = g.dim(); return x.prod(d, g.flag()); },
    [](Prog& g) { const Tensor& x = g.pick(); return x.cumsum(g.dim()); },
    [](Prog& g) { const Tensor& x = g.pick(); const auto d = g.dim(); return x.argmax(d, g.flag()); },
    [](Prog& g) { const Tensor& x = g.pick(); return x.logcumsumexp(g.dim()); },
    [](Prog& g) { const Tensor& x = g.pick(); const double p = g.scalar(); auto d = g.dims(); return x.norm(p, d, g.flag()); },
    // views
    [](Prog& g) { const Tensor& x = g.pick(); const auto a = g.dim(); return x.transpose(a, g.dim()); },
    [](Prog& g) {
      const Tensor& x = g.pick();
      const auto d = g.dim();
      std::optional<std::int64_t> b, e;
      if (g.flag()) b = g.small();
      if (g.flag()) e = g.small();
      return x.slice(d, b, e, g.small());
    },
    [](Prog& g) { const Tensor& x = g.pick(); return x.expand(g.shape()); },
    [](Prog& g) { const Tensor& x = g.pick(); return x.reshape(g.shape()); },
    [](Prog& g) { const Tensor& x = g.pick(); return x.view(g.shape()); },
    [](Prog& g) { const Tensor& x = g.pick(); const auto d = g.dim(); return x.select(d, g.small()); },
    [](Prog& g) { const Tensor& x = g.pick(); return x.permute(g.dims()); },
    [](Prog& g) { const Tensor& x = g.pick(); return x.unsqueeze(g.dim()); },
    [](Prog& g) { const Tensor& x = g.pick(); return x.squeeze(g.dim()); },
    [](Prog& g) { const Tensor& x = g.pick(); const auto d = g.dim(); const auto s = g.small(); return x.narrow(d, s, g.small()); },
    [](Prog& g) { const Tensor& x = g.pick(); const auto o = g.small(); const auto a = g.dim(); return x.diagonal(o, a, g.dim()); },
    [](Prog& g) { const Tensor& x = g.pick(); const auto d = g.dim(); const auto s = g.small(); return x.unfold(d, s, g.small()); },
    [](Prog& g) { const Tensor& x = g.pick(); const auto a = g.dim(); return x.flatten(a, g.dim()); },
    [](Prog& g) {
      const Tensor& x = g.pick();
      const Shape size = g.shape();
      Shape stride(size.size());
      for (auto& s : stride) s = g.small();
      std::optional<std::int64_t> off;
      if (g.flag()) off = g.small();
      return x.as_strided(size, stride, off);
    },
    // in-place, on whatever the operand is (a leaf, a view, a view of a view, ...)
    [](Prog& g) { Tensor x = g.pick(); const Tensor& y = g.pick(); return x.add_(y, g.scalar()); },
    [](Prog& g) { Tensor x = g.pick(); return x.mul_(g.pick()); },
    [](Prog& g) { Tensor x = g.pick(); return x.sub_(g.scalar()); },
    [](Prog& g) { Tensor x = g.pick(); return x.div_(g.pick()); },
    [](Prog& g) { Tensor x = g.pick(); return x.zero_(); },
    [](Prog& g) { Tensor x = g.pick(); return x.fill_(g.scalar()); },
    [](Prog& g) {
      Tensor x = g.pick();
      std::optional<double> lo, hi;
      if (g.flag()) lo = g.scalar();
      if (g.flag()) hi = g.scalar();
      return x.clamp_(lo, hi);
    },
    [](Prog& g) { Tensor x = g.pick(); return x.copy_(g.pick()); },
    [](Prog& g) { Tensor x = g.pick(); const Tensor& m = g.pick(); return x.masked_fill_(gt(m, 0.0), g.scalar()); },
    // copies, conversions, joins, indexing
    [](Prog& g) { return g.pick().clone(); },
    [](Prog& g) { return g.pick().detach(); },
    [](Prog& g) { const Tensor& x = g.pick(); return x.to(g.dtype()); },
    [](Prog& g) { return g.pick().contiguous(); },
    [](Prog& g) { const Tensor& a = g.pick(); const Tensor& b = g.pick(); return cat({a, b}, g.dim()); },
    [](Prog& g) { const Tensor& a = g.pick(); const Tensor& b = g.pick(); return stack({a, b}, g.dim()); },
    [](Prog& g) { const Tensor& x = g.pick(); const auto d = g.dim(); return x.index_select(d, g.index({g.byte() % 4})); },
    [](Prog& g) { const Tensor& x = g.pick(); const auto d = g.dim(); return x.gather(d, g.index_like(x)); },
    [](Prog& g) {
      const Tensor& x = g.pick();
      const Tensor& src = g.pick();
      const auto d = g.dim();
      return x.scatter_add(d, g.index_like(x), src);
    },
    [](Prog& g) { const Tensor& x = g.pick(); return x.masked_select(gt(g.pick(), 0.0)); },
    [](Prog& g) { const Tensor& x = g.pick(); std::vector<std::int64_t> r(g.byte() % 4); for (auto& v : r) v = g.byte() % 3; return x.repeat(r); },
    [](Prog& g) { const Tensor& x = g.pick(); return x.flip(g.dims()); },
    [](Prog& g) { const Tensor& x = g.pick(); return x.roll({g.small()}, {g.dim()}); },
    [](Prog& g) { const Tensor& x = g.pick(); return x.tril(g.small()); },
};
// clang-format on
constexpr std::size_t kNumOps = sizeof(kOps) / sizeof(kOps[0]);

/// Trace line tail for a pool entry: " float32 [ 2 3 ] requires_grad".
void trace_tensor(const Tensor& t) {
  std::fprintf(stderr, " %s [", dtype_name(t.dtype()).data());
  for (const auto d : t.shape()) std::fprintf(stderr, " %lld", static_cast<long long>(d));
  std::fprintf(stderr, " ]%s\n", t.requires_grad() ? " requires_grad" : "");
}

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_ops: invariant broken: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool once = [] {
    set_num_threads(1);  // tiny tensors: threads only cost time here
    return true;
  }();
  (void)once;
  static const bool trace = std::getenv("XGRAD_FUZZ_TRACE") != nullptr;
  Prog g{data, size, {}, trace};
  manual_seed(0);
  std::vector<Tensor> leaves;
  const int nleaves = 1 + g.byte() % 3;
  for (int i = 0; i < nleaves; ++i) {
    const Dtype dt = g.dtype();
    Shape s(g.byte() % 5);
    for (auto& d : s) d = g.byte() % 6;  // at most 5^4 = 625 elements
    Tensor t = dt == Dtype::int64 ? randint(-3, 4, s) : randn(s, TensorOptions().dtype(dt));
    if (is_floating(dt) && g.flag()) t.requires_grad_();
    if (trace) {
      std::fprintf(stderr, "t%zu = leaf", g.pool.size());
      trace_tensor(t);
    }
    leaves.push_back(t);
    g.pool.push_back(t);
  }
  for (std::size_t i = 0; i < kMaxOps && g.n > 0; ++i) {
    const std::size_t k = g.byte() % kNumOps;
    if (trace) std::fprintf(stderr, "op %zu (kOps[%zu]):", i, k);
    try {
      Tensor r = kOps[k](g);
      const bool kept = r.defined() && r.numel() <= kMaxNumel;
      if (trace && !kept) std::fprintf(stderr, " -> dropped\n");
      if (trace && kept) {
        std::fprintf(stderr, " -> t%zu", g.pool.size());
        trace_tensor(r);
      }
      if (kept) g.pool.push_back(std::move(r));
    } catch (const Error& e) {
      if (trace) std::fprintf(stderr, " -> Error: %s\n", e.what());
    }
  }
  // Backward from the last (up to) two results that require grad; the second may find the
  // graph freed by the first, or a tensor it saved modified in place: both are Errors.
  int backwards = 0;
  for (auto it = g.pool.rbegin(); it != g.pool.rend() && backwards < 2; ++it) {
    if (!it->requires_grad() || !is_floating(it->dtype())) continue;
    ++backwards;
    try {
      it->sum().backward();
    } catch (const Error&) {
    }
  }
  for (const Tensor& leaf : leaves) {
    // An in-place op with an operand that requires grad gives a leaf that did not a history.
    if (!leaf.is_leaf() || !leaf.requires_grad()) continue;
    const Tensor grad = leaf.grad();
    if (!grad.defined()) continue;
    check(grad.shape() == leaf.shape(), "a leaf's gradient has another shape");
    check(grad.dtype() == leaf.dtype(), "a leaf's gradient has another dtype");
  }
  return 0;
}
