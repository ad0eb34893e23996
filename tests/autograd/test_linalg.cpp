// Matrix products: matmul's rank rules, mm, bmm, outer, dot; values, gradients (first and
// second order), the BLAS paths (gemm/gemv with transposed operands, parallel splits) against
// naive loops, thread-count independence, and the errors.
#include "test_util.hpp"

using namespace xgrad;
using xgrad::test::check_close;
using xgrad::test::check_gradcheck;
using xgrad::test::check_gradgradcheck;
using xgrad::test::rand64;

namespace {

std::vector<double> values(const Tensor& t) { return t.detach().to(float64).to_vector<double>(); }

// Naive double-precision batched product with broadcast batch: a is [ba, n, k], b is [bb, k, m]
// (ba, bb equal or one of them 1); returns [max(ba, bb), n, m] row-major.
std::vector<double> naive_bmm(const std::vector<double>& a, const std::vector<double>& b, std::int64_t ba,
                              std::int64_t bb, std::int64_t n, std::int64_t k, std::int64_t m) {
  const std::int64_t nb = std::max(ba, bb);
  std::vector<double> c(static_cast<std::size_t>(nb * n * m), 0.0);
  for (std::int64_t q = 0; q < nb; ++q) {
    const double* pa = a.data() + (ba == 1 ? 0 : q) * n * k;
    const double* pb = b.data() + (bb == 1 ? 0 : q) * k * m;
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = 0; j < m; ++j) {
        double s = 0;
        for (std::int64_t p = 0; p < k; ++p) s += pa[i * k + p] * pb[p * m + j];
        c[static_cast<std::size_t>((q * n + i) * m + j)] = s;
      }
  }
  return c;
}

// Naive transpose of the last two dims of [nb, r, c].
std::vector<double> naive_t(const std::vector<double>& a, std::int64_t nb, std::int64_t r, std::int64_t c) {
  std::vector<double> t(a.size());
  for (std::int64_t q = 0; q < nb; ++q)
    for (std::int64_t i = 0; i < r; ++i)
      for (std::int64_t j = 0; j < c; ++j) t[static_cast<std::size_t>((q * c + j) * r + i)] = a[(q * r + i) * c + j];
  return t;
}

// Sums [nb, r, c] over the batch into [1, r, c].
std::vector<double> batch_sum(const std::vector<double>& a, std::int64_t nb, std::int64_t rc) {
  std::vector<double> s(static_cast<std::size_t>(rc), 0.0);
  for (std::int64_t q = 0; q < nb; ++q)
    for (std::int64_t i = 0; i < rc; ++i) s[i] += a[q * rc + i];
  return s;
}

// |x - ref| <= rtol * scale element-wise, where scale[i] = sum_p |a_ip b_pj| bounds the
// rounding error of a dot product (a plain relative error is meaningless near 0).
void check_rel(const std::vector<double>& x, const std::vector<double>& ref, const std::vector<double>& scale,
               double rtol) {
  BOOST_REQUIRE_EQUAL(x.size(), ref.size());
  double worst = 0;
  std::size_t at = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double r = std::fabs(x[i] - ref[i]) / std::max(scale[i], 1e-300);
    if (r > worst) worst = r, at = i;
  }
  BOOST_CHECK_MESSAGE(worst <= rtol,
                      "worst relative error " << worst << " at " << at << ": " << x[at] << " vs " << ref[at]);
}

std::vector<double> abs_values(std::vector<double> v) {
  for (double& x : v) x = std::fabs(x);
  return v;
}

Tensor f64(std::initializer_list<NestedList> v) { return tensor(v, dtype(float64)); }
Tensor m64(std::vector<double> v, const Shape& s) { return from_vector(v, s); }

// Restores the thread count when a test ends (also on failure).
struct ThreadCountGuard {
  int saved = get_num_threads();
  ~ThreadCountGuard() { set_num_threads(saved); }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(linalg)

// ---- values ------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(matmul_values_every_rank_combination) {
  // 1-d x 1-d: dot, 0-d result. 1*4 + 2*5 + 3*6 = 32
  Tensor d = matmul(f64({1, 2, 3}), f64({4, 5, 6}));
  BOOST_CHECK_EQUAL(d.dim(), 0);
  BOOST_CHECK_EQUAL(d.item(), 32.0);
  // 2-d x 2-d
  check_close(matmul(f64({{1, 2}, {3, 4}}), f64({{5, 6}, {7, 8}})), f64({{19, 22}, {43, 50}}), 0);
  // 1-d x 2-d: [1, 2] as a row, then the row dim is dropped -> [3]
  check_close(matmul(f64({1, 2}), f64({{1, 2, 3}, {4, 5, 6}})), f64({9, 12, 15}), 0);
  // 2-d x 1-d: [1, 0, -1] as a column -> [2]
  check_close(matmul(f64({{1, 2, 3}, {4, 5, 6}}), f64({1, 0, -1})), f64({-2, -2}), 0);
  // 3-d x 2-d: the matrix multiplies every batch
  check_close(matmul(f64({{{1, 2}, {3, 4}}, {{0, 1}, {1, 0}}}), f64({{5, 6}, {7, 8}})),
              f64({{{19, 22}, {43, 50}}, {{7, 8}, {5, 6}}}), 0);
  // 2-d x 3-d: [[1, 2], [3, 4]] times the identity and the swap matrix
  check_close(matmul(f64({{1, 2}, {3, 4}}), f64({{{1, 0}, {0, 1}}, {{0, 1}, {1, 0}}})),
              f64({{{1, 2}, {3, 4}}, {{2, 1}, {4, 3}}}), 0);
  // 3-d x 3-d, equal batch
  check_close(matmul(m64({1, 2, 3, 4}, {2, 1, 2}), m64({1, 1, 2, -1}, {2, 2, 1})), m64({3, 2}, {2, 1, 1}), 0);
  // 1-d x 3-d: [k] x [B, k, m] -> [B, m]
  check_close(matmul(f64({1, 1}), f64({{{1, 2}, {3, 4}}, {{5, 6}, {7, 8}}})), f64({{4, 6}, {12, 14}}), 0);
  // 3-d x 1-d: [B, n, k] x [k] -> [B, n]
  check_close(matmul(f64({{{1, 2}, {3, 4}}, {{5, 6}, {7, 8}}}), f64({1, -1})), f64({{-1, -1}, {-1, -1}}), 0);
}

BOOST_AUTO_TEST_CASE(matmul_broadcast_batch_values) {
  // [2, 1, 3, 4] x [3, 4, 5] -> [2, 3, 3, 5]; out[i][j] = A[i][0] B[j].
  manual_seed(1);
  Tensor a = randn({2, 1, 3, 4}, dtype(float64)), b = randn({3, 4, 5}, dtype(float64));
  Tensor c = matmul(a, b);
  BOOST_REQUIRE(c.shape() == (Shape{2, 3, 3, 5}));
  const auto va = values(a), vb = values(b), vc = values(c);
  for (std::int64_t i = 0; i < 2; ++i)
    for (std::int64_t j = 0; j < 3; ++j) {
      std::vector<double> ai(va.begin() + i * 12, va.begin() + (i + 1) * 12);
      std::vector<double> bj(vb.begin() + j * 20, vb.begin() + (j + 1) * 20);
      const auto ref = naive_bmm(ai, bj, 1, 1, 3, 4, 5);
      for (std::int64_t e = 0; e < 15; ++e)
        BOOST_CHECK_CLOSE_FRACTION(vc[(i * 3 + j) * 15 + e] + 10, ref[e] + 10, 1e-14);
    }
  // size-1 batch on the right: [3, 2, 4] x [1, 4, 2]
  Tensor a2 = randn({3, 2, 4}, dtype(float64)), b2 = randn({1, 4, 2}, dtype(float64));
  Tensor c2 = matmul(a2, b2);
  BOOST_REQUIRE(c2.shape() == (Shape{3, 2, 2}));
  check_close(c2, from_vector(naive_bmm(values(a2), values(b2), 3, 1, 2, 4, 2), {3, 2, 2}), 1e-12);
}

BOOST_AUTO_TEST_CASE(mm_bmm_outer_dot_values) {
  check_close(mm(m64({1, 2, 3}, {1, 3}), m64({1, 2, 3}, {3, 1})), m64({14}, {1, 1}), 0);
  // bmm: per-batch products
  check_close(bmm(f64({{{1, 2}}, {{3, 4}}}), f64({{{1, 0}, {0, 1}}, {{0, 1}, {1, 0}}})), f64({{{1, 2}}, {{4, 3}}}), 0);
  // outer[i][j] = a[i] b[j]
  check_close(outer(f64({1, 2}), f64({3, 4, 5})), f64({{3, 4, 5}, {6, 8, 10}}), 0);
  Tensor d = dot(f64({1, -2}), f64({3, 4}));
  BOOST_CHECK_EQUAL(d.dim(), 0);
  BOOST_CHECK_EQUAL(d.item(), -5.0);
  // Tensor methods
  Tensor a = f64({{1, 2}, {3, 4}}), b = f64({{0, 1}, {1, 0}});
  check_close(a.matmul(b), f64({{2, 1}, {4, 3}}), 0);
  check_close(a.mm(b), f64({{2, 1}, {4, 3}}), 0);
  // float32 works too
  Tensor c32 = matmul(from_vector<float>({1, 2}, {1, 2}), from_vector<float>({3, 4}, {2, 1}));
  BOOST_CHECK(c32.dtype() == float32);
  check_close(c32, from_vector<float>({11}, {1, 1}), 0);
}

BOOST_AUTO_TEST_CASE(mm_with_transpose_flags) {
  // mm(a, b, ta, tb) = op(a) op(b): against mm of explicitly transposed copies, every flag pair,
  // values and gradients (the gradients come back in a's and b's own layouts).
  manual_seed(11);
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      Tensor a = rand64(ta ? Shape{4, 3} : Shape{3, 4}).requires_grad_(true);
      Tensor b = rand64(tb ? Shape{5, 4} : Shape{4, 5}).requires_grad_(true);
      Tensor a2 = a.detach().requires_grad_(true), b2 = b.detach().requires_grad_(true);
      Tensor c = mm(a, b, ta, tb);
      Tensor c2 = mm(ta ? t(a2) : a2, tb ? t(b2) : b2);
      check_close(c, c2, 1e-14);
      Tensor w = rand64({3, 5});
      sum(mul(c, w)).backward();
      sum(mul(c2, w)).backward();
      check_close(a.grad(), a2.grad(), 1e-14);
      check_close(b.grad(), b2.grad(), 1e-14);
      check_gradcheck([ta, tb](const std::vector<Tensor>& in) { return mm(in[0], in[1], ta, tb); },
                      {rand64(ta ? Shape{4, 3} : Shape{3, 4}), rand64(tb ? Shape{5, 4} : Shape{4, 5})});
    }
  // By hand: [[1, 2]]^T [[3, 4]] = [[3, 4], [6, 8]]; d sum(C) / da_j = sum_k b_k = 7.
  Tensor a = f64({{1, 2}}).requires_grad_(true);
  Tensor c = mm(a, f64({{3, 4}}), true, false);
  check_close(c, f64({{3, 4}, {6, 8}}), 0);
  c.sum().backward();
  check_close(a.grad(), f64({{7, 7}}), 0);
  BOOST_CHECK(mm(zeros({2, 3}), zeros({2, 3}), true, false).shape() == (Shape{3, 3}));
  XGRAD_CHECK_THROW_MSG(mm(zeros({2, 3}), zeros({2, 3}), false, false),
                        "mm: shapes [2, 3] and [2, 3] cannot be multiplied (3 != 2)");
  XGRAD_CHECK_THROW_MSG(mm(zeros({2, 3}), zeros({4, 2}), false, true),
                        "mm: shapes [2, 3] and [4, 2]^T cannot be multiplied (3 != 2)");
  XGRAD_CHECK_THROW_MSG(mm(zeros({2, 3, 1}), zeros({4, 2}), true, true), "mm: expected 2-d tensors");
}

BOOST_AUTO_TEST_CASE(empty_dims) {
  // Inner size 0: a sum over nothing is 0.
  Tensor c = matmul(zeros({2, 0}), zeros({0, 3}));
  BOOST_REQUIRE(c.shape() == (Shape{2, 3}));
  check_close(c, zeros({2, 3}), 0);
  BOOST_CHECK(matmul(zeros({0, 4}), zeros({4, 3})).shape() == (Shape{0, 3}));
  BOOST_CHECK(matmul(zeros({2, 0, 4}), zeros({4, 3})).shape() == (Shape{2, 0, 3}));
  BOOST_CHECK(matmul(zeros({0, 2, 4}), zeros({1, 4, 3})).shape() == (Shape{0, 2, 3}));
  BOOST_CHECK_EQUAL(dot(zeros({0}), zeros({0})).item(), 0.0);
}

// ---- gradients ---------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(hand_derived_gradient) {
  // C = A B with A = [[1, 2], [3, 4]], B = [[5, 6], [7, 8]]; L = sum(W * C), W = [[1, 0], [0, 2]],
  // so dC = W and
  //   dA = dC B^T = [[1, 0], [0, 2]] [[5, 7], [6, 8]] = [[5, 7], [12, 16]]
  //   dB = A^T dC = [[1, 3], [2, 4]] [[1, 0], [0, 2]] = [[1, 6], [2, 8]]
  Tensor A = f64({{1, 2}, {3, 4}}).requires_grad_();
  Tensor B = f64({{5, 6}, {7, 8}}).requires_grad_();
  Tensor C = matmul(A, B);
  BOOST_CHECK_EQUAL(C.grad_fn_name(), "MatmulBackward");
  (C * f64({{1, 0}, {0, 2}})).sum().backward();
  check_close(A.grad(), f64({{5, 7}, {12, 16}}), 0);
  check_close(B.grad(), f64({{1, 6}, {2, 8}}), 0);
  // dot: d(a.b)/da = b, d(a.b)/db = a
  Tensor a = f64({1, 2}).requires_grad_(), b = f64({3, -4}).requires_grad_();
  Tensor d = dot(a, b);
  BOOST_CHECK_EQUAL(d.grad_fn_name(), "DotBackward");
  d.backward();
  check_close(a.grad(), f64({3, -4}), 0);
  check_close(b.grad(), f64({1, 2}), 0);
}

BOOST_AUTO_TEST_CASE(gradcheck_every_rank_combination) {
  manual_seed(2);
  auto mmf = [](const std::vector<Tensor>& x) { return matmul(x[0], x[1]); };
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{4}, {4}},                 // 1-1
      {{3}, {3, 2}},              // 1-2
      {{2, 3}, {3}},              // 2-1
      {{2, 3}, {3, 4}},           // 2-2
      {{1, 3}, {3, 1}},           // size-1 rows and columns
      {{2, 2, 3}, {3, 4}},        // 3-2 (B broadcast over the batch)
      {{2, 3}, {2, 3, 4}},        // 2-3 (A broadcast)
      {{2, 2, 3}, {2, 3, 2}},     // 3-3 equal batch
      {{2, 1, 2, 3}, {3, 3, 2}},  // broadcast batch [2, 1] x [3]
      {{1, 2, 3}, {2, 3, 2}},     // size-1 batch on the left
      {{3}, {2, 3, 2}},           // 1-3
      {{2, 2, 3}, {3}},           // 3-1
      {{1, 1, 2, 3}, {3, 2}},     // B broadcast over an all-ones batch
  };
  for (const auto& [sa, sb] : cases) {
    BOOST_TEST_CONTEXT("shapes " << fmt::format("{} x {}", sa, sb)) { check_gradcheck(mmf, {rand64(sa), rand64(sb)}); }
  }
  // Only one input requiring grad.
  check_gradcheck(mmf, {rand64({2, 3}), rand64({3, 2}).detach()});
  check_gradcheck(mmf, {rand64({2, 2, 3}).detach(), rand64({3, 2})});
  check_gradcheck([](const std::vector<Tensor>& x) { return mm(x[0], x[1]); }, {rand64({3, 2}), rand64({2, 4})});
  check_gradcheck([](const std::vector<Tensor>& x) { return bmm(x[0], x[1]); }, {rand64({2, 3, 2}), rand64({2, 2, 3})});
  check_gradcheck([](const std::vector<Tensor>& x) { return outer(x[0], x[1]); }, {rand64({3}), rand64({2})});
  check_gradcheck([](const std::vector<Tensor>& x) { return dot(x[0], x[1]); }, {rand64({5}), rand64({5})});
}

BOOST_AUTO_TEST_CASE(gradgradcheck_matmul) {
  manual_seed(3);
  auto mmf = [](const std::vector<Tensor>& x) { return matmul(x[0], x[1]); };
  check_gradgradcheck(mmf, {rand64({2, 3}), rand64({3, 2})});
  check_gradgradcheck(mmf, {rand64({2, 2, 3}), rand64({3, 2})});  // folded batch in backward
  check_gradgradcheck(mmf, {rand64({2, 1, 2, 3}), rand64({3, 3, 2})});
  check_gradgradcheck(mmf, {rand64({3}), rand64({3, 2})});
  check_gradgradcheck(mmf, {rand64({3}), rand64({3})});
  check_gradgradcheck([](const std::vector<Tensor>& x) { return outer(x[0], x[1]); }, {rand64({2}), rand64({3})});
}

BOOST_AUTO_TEST_CASE(blas_paths_forward_and_backward) {
  // Sizes large enough for gemm/gemv with transposed operands and the parallel splits (the tiny
  // gradcheck cases run the plain loop), checked against naive loops: C = A B,
  // dA = dC B^T, dB = A^T dC summed over broadcast batches.
  manual_seed(4);
  ThreadCountGuard guard;
  struct Case {
    std::int64_t ba, bb, n, k, m;
  };
  const std::vector<Case> cases = {
      {1, 1, 70, 40, 100},   // rows split
      {1, 1, 20, 50, 300},   // columns split (wide)
      {1, 1, 300, 80, 1},    // gemv, one column
      {1, 1, 1, 80, 300},    // gemv, one row
      {6, 1, 40, 30, 50},    // B broadcast: folded rows, folded dB
      {1, 6, 40, 30, 50},    // A broadcast
      {9, 9, 30, 20, 40},    // many batches: batch split
      {2, 2, 90, 30, 1},     // batched gemv
      {1, 1, 40, 145, 49},   // 2 threads: last column block of C (and row block of dB) has width 1
      {1, 1, 100, 145, 49},  // 2 threads: dB = A^T dC ends in a 1-row block large enough for gemv
  };
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (const Case& c : cases) {
      BOOST_TEST_CONTEXT("threads " << threads << " case " << c.ba << "x" << c.n << "x" << c.k << " @ " << c.bb << "x"
                                    << c.k << "x" << c.m) {
        const std::int64_t nb = std::max(c.ba, c.bb);
        Tensor A = rand64({c.ba, c.n, c.k}), B = rand64({c.bb, c.k, c.m});
        Tensor C = matmul(A, B);
        const auto va = values(A), vb = values(B);
        check_close(C, from_vector(naive_bmm(va, vb, c.ba, c.bb, c.n, c.k, c.m), {nb, c.n, c.m}), 1e-10);
        Tensor dC = randn({nb, c.n, c.m}, dtype(float64));
        C.backward(dC);
        const auto vdc = values(dC);
        auto da = naive_bmm(vdc, naive_t(vb, c.bb, c.k, c.m), nb, c.bb, c.n, c.m, c.k);
        auto db = naive_bmm(naive_t(va, c.ba, c.n, c.k), vdc, c.ba, nb, c.k, c.n, c.m);
        if (c.ba == 1) da = batch_sum(da, nb, c.n * c.k);
        if (c.bb == 1) db = batch_sum(db, nb, c.k * c.m);
        check_close(A.grad(), from_vector(da, {c.ba, c.n, c.k}), 1e-10);
        check_close(B.grad(), from_vector(db, {c.bb, c.k, c.m}), 1e-10);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(float32_against_double_loop) {
  // 256x300 by 300x200 in float32 against a double-precision triple loop; the error of each
  // element is measured relative to sum_p |a_ip b_pj| (what float rounding scales with).
  manual_seed(5);
  ThreadCountGuard guard;
  Tensor a = randn({256, 300}), b = randn({300, 200});
  const auto va = values(a), vb = values(b);
  const auto ref = naive_bmm(va, vb, 1, 1, 256, 300, 200);
  const auto scale = naive_bmm(abs_values(va), abs_values(vb), 1, 1, 256, 300, 200);
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    Tensor c = matmul(a, b);
    BOOST_CHECK(c.dtype() == float32);
    check_rel(values(c), ref, scale, 1e-4);
  }
}

BOOST_AUTO_TEST_CASE(few_rows_times_wide_transposed_operand) {
  // C = A B^T with 8-32 rows and B at least 256 wide runs as (B A^T)^T then a transpose
  // (gemm_block). Rows 7 and 33 take the direct call, 8/17/32 the swapped one; 300 x 260 is
  // not a multiple of any kernel width. Checked against a double loop at 1 and 2 threads, and
  // through an RNN-step backward (dh = g W^T) against the same product in float64.
  manual_seed(9);
  ThreadCountGuard guard;
  for (std::int64_t n : {7, 8, 17, 32, 33})
    for (int threads : {1, 2}) {
      BOOST_TEST_CONTEXT("rows " << n << " threads " << threads) {
        set_num_threads(threads);
        Tensor a = randn({n, 260}), b = randn({300, 260});
        const auto va = values(a), vbt = naive_t(values(b), 1, 300, 260);
        const auto ref = naive_bmm(va, vbt, 1, 1, n, 260, 300);
        const auto scale = naive_bmm(abs_values(va), abs_values(vbt), 1, 1, n, 260, 300);
        check_rel(values(matmul(a, b.t())), ref, scale, 1e-4);
        Tensor w = randn({260, 300}), g = randn({n, 300});
        Tensor h = randn({n, 260}).requires_grad_(true);
        autograd::backward({h.matmul(w)}, {g});  // dh = g W^T
        check_close(h.grad().to(float64), matmul(g.to(float64), w.to(float64).t()), 1e-3);
      }
    }
  set_num_threads(1);
  Tensor a = randn({32, 512}), b = randn({512, 512});
  const auto c1 = values(matmul(a, b.t()));
  set_num_threads(2);
  BOOST_CHECK(values(matmul(a, b.t())) == c1);
}

BOOST_AUTO_TEST_CASE(thread_count_does_not_change_results) {
  manual_seed(6);
  ThreadCountGuard guard;
  const int before = get_num_threads();
  Tensor a = randn({512, 512}), b = randn({512, 512});
  set_num_threads(1);
  const auto c1 = values(matmul(a, b));
  set_num_threads(2);
  const auto c2 = values(matmul(a, b));
  BOOST_CHECK(c2 == c1);  // bit for bit: the block grid depends on the shapes alone
  set_num_threads(before);
  BOOST_CHECK_EQUAL(get_num_threads(), before);
}

BOOST_AUTO_TEST_CASE(grid_split_covers_every_block) {
  // Large, uneven products are cut into a grid of blocks (from the shapes alone) whose last
  // row and column are partial; with every transpose, every element must be the naive sum.
  // 3001 x 2999 with k = 8 is cut into 6 blocks.
  manual_seed(12);
  ThreadCountGuard guard;
  const std::int64_t n = 3001, m = 2999, k = 8;
  for (int threads : {1, 7})
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        set_num_threads(threads);
        Tensor a = rand64(ta ? Shape{k, n} : Shape{n, k});
        Tensor b = rand64(tb ? Shape{m, k} : Shape{k, m});
        const auto c = values(mm(a, b, ta, tb));
        const auto va = values(ta ? a.t() : a), vb = values(tb ? b.t() : b);
        double worst = 0;
        for (std::int64_t i = 0; i < n; ++i)
          for (std::int64_t j = 0; j < m; ++j) {
            double ref = 0, scale = 0;
            for (std::int64_t p = 0; p < k; ++p) {
              ref += va[i * k + p] * vb[p * m + j];
              scale += std::fabs(va[i * k + p] * vb[p * m + j]);
            }
            worst = std::max(worst, std::fabs(c[i * m + j] - ref) / std::max(scale, 1e-300));
          }
        BOOST_CHECK_MESSAGE(worst <= 1e-13, "ta " << ta << " tb " << tb << " threads " << threads << ": worst " << worst);
      }
}

BOOST_AUTO_TEST_CASE(recording_behaviour) {
  Tensor a = m64({1, 2}, {1, 2}), b = m64({3, 4}, {2, 1});
  Tensor c = matmul(a, b);
  BOOST_CHECK(!c.requires_grad());
  BOOST_CHECK(c.is_leaf());
  a.requires_grad_();
  {
    NoGradGuard ng;
    BOOST_CHECK(!matmul(a, b).requires_grad());
  }
  BOOST_CHECK_EQUAL(mm(a, b).grad_fn_name(), "MmBackward");
  BOOST_CHECK_EQUAL(bmm(m64({1}, {1, 1, 1}).requires_grad_(), m64({2}, {1, 1, 1})).grad_fn_name(), "BmmBackward");
  BOOST_CHECK_EQUAL(outer(f64({1}).requires_grad_(), f64({2})).grad_fn_name(), "OuterBackward");
  // Only the input that requires grad gets one.
  matmul(a, b).sum().backward();
  check_close(a.grad(), m64({3, 4}, {1, 2}), 0);
  BOOST_CHECK(!b.grad().defined());
  // Modifying a saved operand in place before backward is detected.
  Tensor w = f64({{1, 2}, {3, 4}}).requires_grad_();
  Tensor x = f64({{1, 0}, {0, 1}});
  Tensor y = matmul(w, x);
  x.mul_(2.0);
  BOOST_CHECK_THROW(y.sum().backward(), Error);
}

// ---- errors ------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(errors) {
  XGRAD_CHECK_THROW_MSG(matmul(zeros({2, 3}), zeros({4, 5})),
                        "matmul: shapes [2, 3] and [4, 5] cannot be multiplied (3 != 4)");
  XGRAD_CHECK_THROW_MSG(matmul(zeros({3}), zeros({4})), "matmul: shapes [3] and [4] cannot be multiplied (3 != 4)");
  XGRAD_CHECK_THROW_MSG(matmul(zeros({2, 3}), zeros({2})), "shapes [2, 3] and [2] cannot be multiplied (3 != 2)");
  XGRAD_CHECK_THROW_MSG(matmul(zeros({2, 2, 3}), zeros({3, 3, 4})),
                        "matmul: batch dimensions of shapes [2, 2, 3] and [3, 3, 4] cannot be broadcast");
  XGRAD_CHECK_THROW_MSG(matmul(zeros({}), zeros({3})), "matmul: both arguments need at least 1 dimension");
  XGRAD_CHECK_THROW_MSG(matmul(zeros({3}), zeros({})), "got shapes [3] and []");
  XGRAD_CHECK_THROW_MSG(matmul(zeros({2, 2}, dtype(int64)), zeros({2, 2}, dtype(int64))),
                        "matmul: expected float32 or float64 tensors, got [2, 2] int64 and [2, 2] int64");
  XGRAD_CHECK_THROW_MSG(matmul(zeros({2, 2}), zeros({2, 2}, dtype(float64))),
                        "matmul: dtype mismatch: [2, 2] float32 and [2, 2] float64");
  XGRAD_CHECK_THROW_MSG(matmul(Tensor(), zeros({2})), "matmul");
  XGRAD_CHECK_THROW_MSG(mm(zeros({2, 3, 4}), zeros({4, 5})),
                        "mm: expected 2-d tensors, got shapes [2, 3, 4] and [4, 5]");
  XGRAD_CHECK_THROW_MSG(mm(zeros({3}), zeros({3, 5})), "mm: expected 2-d tensors");
  XGRAD_CHECK_THROW_MSG(mm(zeros({2, 3}), zeros({2, 3})), "mm: shapes [2, 3] and [2, 3] cannot be multiplied (3 != 2)");
  XGRAD_CHECK_THROW_MSG(bmm(zeros({2, 3, 4}), zeros({3, 4, 5})),
                        "bmm: batch sizes of shapes [2, 3, 4] and [3, 4, 5] differ (2 != 3)");
  XGRAD_CHECK_THROW_MSG(bmm(zeros({2, 3}), zeros({3, 4})), "bmm: expected 3-d tensors, got shapes [2, 3] and [3, 4]");
  XGRAD_CHECK_THROW_MSG(bmm(zeros({2, 3, 4}), zeros({2, 3, 4})), "bmm: shapes [2, 3, 4] and [2, 3, 4] cannot be");
  XGRAD_CHECK_THROW_MSG(outer(zeros({2, 1}), zeros({3})), "outer: expected 1-d tensors, got shapes [2, 1] and [3]");
  XGRAD_CHECK_THROW_MSG(dot(zeros({2}), zeros({3})),
                        "dot: expected 1-d tensors of equal length, got shapes [2] and [3]");
  XGRAD_CHECK_THROW_MSG(dot(zeros({2, 2}), zeros({2})), "dot: expected 1-d tensors");
  XGRAD_CHECK_THROW_MSG(dot(zeros({2}, dtype(int64)), zeros({2}, dtype(int64))), "dot: expected float32 or float64");
}

BOOST_AUTO_TEST_SUITE_END()
