// Matrix products: matmul, mm, bmm, outer, dot. All of them are one internal differentiable
// primitive, product(), that multiplies op(A) op(B) (op = identity or transpose of the last
// two dims) over broadcast batch dims. Inputs are read through "logical" shapes, so 1-d
// operands, dot and outer need no reshape nodes, and backward never copies a transpose:
// dA = dC op(B)^T and dB = op(A)^T dC are products with transposed flags (BLAS reads the
// operand transposed), themselves recorded through product(), so they differentiate again.
#include <cblas.h>

#include <algorithm>
#include <climits>
#include <cmath>

#include "copy_box.hpp"
#include "gemm.hpp"
#include "kernel.hpp"
#include "view.hpp"
#include "xgrad/autograd/linalg.hpp"
#include "xgrad/autograd/shape.hpp"
#include "xgrad/autograd/threading.hpp"
#include "xgrad/autograd/profile_scope.hpp"

namespace xgrad {

namespace {

using Grads = std::vector<Tensor>;

// Multiply-adds at or below which a block is a plain loop: measured, OpenBLAS's call overhead
// is ~0.1 us and it wins from about 8x8x8 on.
constexpr std::int64_t kNaiveMacs = 512;
// Multiply-adds below which a product runs whole on the calling thread (~100^3, ~10 us):
// below it, the cut and the tasks cost about what a second thread would save.
constexpr std::int64_t kParallelMacs = std::int64_t{1} << 20;
// A lone matrix is cut in two rows of blocks when each keeps at least this many rows.
constexpr std::int64_t kMinRowBlock = 128;
// Row/column blocks are multiples of this (OpenBLAS micro-kernel tiles divide it).
constexpr std::int64_t kBlockAlign = 16;
// Rows below which a lone product under kThinUncut multiply-adds is not cut (product_grid).
constexpr std::int64_t kThinRows = 64;
constexpr std::int64_t kThinUncut = std::int64_t{1} << 22;
// C = A B^T with kSwapMinRows..kSwapMaxRows rows and B at least kSwapMinWidth wide in both
// dims is computed as (B A^T)^T (see gemm_block).
constexpr std::int64_t kSwapMinRows = 8, kSwapMaxRows = 32, kSwapMinWidth = 256;
// At most this many blocks per product: enough to balance 16 threads.
constexpr std::int64_t kMaxBlocks = 32;
// Each extra cut of a matrix's rows makes gemm pack op(B) once more (and a column cut, op(A)):
// about kPackCost multiply-adds' time per packed element (measured: 0.4 ns a float against
// 75 GMAC/s on one AVX-512 core). A grid is allowed kPackBudget of the product's time for it.
constexpr double kPackCost = 30.0, kPackBudget = 0.03;

// ---- BLAS wrappers ---------------------------------------------------------------------------
CBLAS_TRANSPOSE trans_flag(bool t) { return t ? CblasTrans : CblasNoTrans; }

// beta is 0 (C = op(A) op(B)) or 1 (C += op(A) op(B): a gradient accumulated in place).
inline void gemm(bool ta, bool tb, blasint n, blasint m, blasint k, const float* a, blasint lda, const float* b,
                 blasint ldb, float* c, blasint ldc, float beta) {
  cblas_sgemm(CblasRowMajor, trans_flag(ta), trans_flag(tb), n, m, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
}
inline void gemm(bool ta, bool tb, blasint n, blasint m, blasint k, const double* a, blasint lda, const double* b,
                 blasint ldb, double* c, blasint ldc, double beta) {
  cblas_dgemm(CblasRowMajor, trans_flag(ta), trans_flag(tb), n, m, k, 1.0, a, lda, b, ldb, beta, c, ldc);
}
inline void gemv(bool t, blasint rows, blasint cols, const float* a, blasint lda, const float* x, blasint incx,
                 float* y, blasint incy, float beta) {
  cblas_sgemv(CblasRowMajor, trans_flag(t), rows, cols, 1.0f, a, lda, x, incx, beta, y, incy);
}
inline void gemv(bool t, blasint rows, blasint cols, const double* a, blasint lda, const double* x, blasint incx,
                 double* y, blasint incy, double beta) {
  cblas_dgemv(CblasRowMajor, trans_flag(t), rows, cols, 1.0, a, lda, x, incx, beta, y, incy);
}

// C[n x m] (leading dim ldc) = op(A)[n x k] op(B)[k x m] on the calling thread.
// A is stored [n x k] (ta false) or [k x n] (ta true) with leading dim lda; B likewise.
template <class T>
void gemm_block(bool ta, bool tb, std::int64_t n, std::int64_t m, std::int64_t k, const T* a, std::int64_t lda,
                const T* b, std::int64_t ldb, T* c, std::int64_t ldc, bool accumulate) {
  if (n == 0 || m == 0) return;
  if (k == 0) {
    if (!accumulate)
      for (std::int64_t i = 0; i < n; ++i) std::fill(c + i * ldc, c + i * ldc + m, T(0));
    return;
  }
  const T beta = accumulate ? T(1) : T(0);
  const auto bi = [](std::int64_t v) { return static_cast<blasint>(v); };
  if (n * m * k <= kNaiveMacs) {
    // op(A)(i, p) and op(B)(p, j) through strides; i-p-j order streams rows of B and C.
    const std::int64_t ars = ta ? 1 : lda, acs = ta ? lda : 1;
    const std::int64_t brs = tb ? 1 : ldb, bcs = tb ? ldb : 1;
    for (std::int64_t i = 0; i < n; ++i) {
      T* ci = c + i * ldc;
      if (!accumulate) std::fill(ci, ci + m, T(0));
      for (std::int64_t p = 0; p < k; ++p) {
        const T aip = a[i * ars + p * acs];
        const T* bp = b + p * brs;
        for (std::int64_t j = 0; j < m; ++j) ci[j] += aip * bp[j * bcs];
      }
    }
  } else if (m == 1) {
    // One column: C[:, 0] = op(A) x with x = op(B)[:, 0].
    const std::int64_t incx = tb ? 1 : ldb;
    if (ta)
      gemv(true, bi(k), bi(n), a, bi(lda), b, bi(incx), c, bi(ldc), beta);
    else
      gemv(false, bi(n), bi(k), a, bi(lda), b, bi(incx), c, bi(ldc), beta);
  } else if (n == 1) {
    // One row: C[0, :]^T = op(B)^T x with x = op(A)[0, :]^T.
    const std::int64_t incx = ta ? lda : 1;
    if (tb)
      gemv(false, bi(m), bi(k), b, bi(ldb), a, bi(incx), c, 1, beta);
    else
      gemv(true, bi(k), bi(m), b, bi(ldb), a, bi(incx), c, 1, beta);
  } else if (std::is_same_v<T, float> && !accumulate && !ta && tb && n >= kSwapMinRows && n <= kSwapMaxRows && m >= kSwapMinWidth &&
             k >= kSwapMinWidth) {
    // A few rows times a wide B^T (an RNN step's dh = g W^T): OpenBLAS packs a transposed
    // wide operand slowly when it is the left one of its column-major call. C^T = B A^T puts
    // it on the right; C^T is then transposed into C. Measured with sgemm (SkylakeX and
    // Haswell kernels, one thread), transpose included: 0.71-0.89 of the direct call's time
    // for 8-32 rows and widths 256-1024; worse below those (float64 not measured: direct).
    thread_local std::vector<T> ct;
    ct.resize(static_cast<std::size_t>(n * m));
    gemm(false, true, bi(m), bi(n), bi(k), b, bi(ldb), a, bi(lda), ct.data(), bi(n), T(0));
    for (std::int64_t i = 0; i < n; ++i) {
      T* ci = c + i * ldc;
      const T* src = ct.data() + i;
      for (std::int64_t j = 0; j < m; ++j) ci[j] = src[j * n];
    }
  } else if (lda == (ta ? n : k) && ldb == (tb ? k : m) && ldc == m) {
    // Whole packed matrices (one block, no batch stride): through xtensor-blas.
    detail::xblas_gemm<T>(ta, tb, n, m, k, a, b, c, beta);
  } else {
    // A block of the shape-chosen grid, or a matrix of a batch: its leading dimension is the
    // whole matrix's, which an xtensor-blas call cannot take without copying the block into
    // an xtensor container first. The one direct cblas call.
    gemm(ta, tb, bi(n), bi(m), bi(k), a, bi(lda), b, bi(ldb), c, bi(ldc), beta);
  }
}

// Matrix offsets (in matrices) of operand `in_batch` broadcast against `batch`.
std::vector<std::int64_t> batch_strides(const Shape& in_batch, const Shape& batch) {
  std::vector<std::int64_t> st(batch.size(), 0);
  std::int64_t acc = 1;
  const std::size_t off = batch.size() - in_batch.size();
  for (std::size_t i = in_batch.size(); i-- > 0;) {
    st[off + i] = in_batch[i] == 1 ? 0 : acc;
    acc *= in_batch[i];
  }
  return st;
}

std::int64_t matrix_index(std::int64_t bi, const Shape& batch, const std::vector<std::int64_t>& st) {
  std::int64_t off = 0;
  for (std::size_t d = batch.size(); d-- > 0;) {
    off += (bi % batch[d]) * st[d];
    bi /= batch[d];
  }
  return off;
}

// The shape algebra of one product, in logical shapes (rank >= 2).
struct ProductGeometry {
  Shape batch, a_batch, b_batch;  // broadcast batch dims; each operand's own batch dims
  std::int64_t n = 0, m = 0, k = 0;
  Shape logical_out() const {
    Shape s = batch;
    s.push_back(n);
    s.push_back(m);
    return s;
  }
};

ProductGeometry geometry(const Shape& la, bool ta, const Shape& lb, bool tb) {
  ProductGeometry g;
  const std::size_t ra = la.size(), rb = lb.size();
  g.n = ta ? la[ra - 1] : la[ra - 2];
  g.k = ta ? la[ra - 2] : la[ra - 1];
  g.m = tb ? lb[rb - 2] : lb[rb - 1];
  g.a_batch.assign(la.begin(), la.end() - 2);
  g.b_batch.assign(lb.begin(), lb.end() - 2);
  const std::size_t nb = std::max(g.a_batch.size(), g.b_batch.size());
  g.batch.resize(nb);
  for (std::size_t i = 0; i < nb; ++i) {
    const std::int64_t da = i < nb - g.a_batch.size() ? 1 : g.a_batch[i - (nb - g.a_batch.size())];
    const std::int64_t db = i < nb - g.b_batch.size() ? 1 : g.b_batch[i - (nb - g.b_batch.size())];
    g.batch[i] = da == 1 ? db : da;
  }
  return g;
}

// How a product is cut into independent gemm calls: pr x pc blocks of br x bc in each of
// the nbatch matrices. It depends on the shapes alone, never on the thread count: BLAS
// kernels round an element differently depending on the sub-problem it sits in, so this is
// what makes every thread count give the same bits. At 1 thread the same blocks run in turn.
struct Grid {
  std::int64_t pr = 1, pc = 1, br = 0, bc = 0;
};

Grid product_grid(std::int64_t nbatch, std::int64_t n, std::int64_t m, std::int64_t k) {
  Grid g{1, 1, n, m};
  if (nbatch * n * m * k < kParallelMacs) return g;
  // Cuts cost repacking: allow as many as the budget pays for, placed where they cost least
  // (ties: rows, whose blocks are contiguous). A lone matrix is cut in two at least, so that
  // two threads share it.
  const double budget = kPackBudget / kPackCost;  // (pc - 1) / m + (pr - 1) / n <= budget
  auto cost = [&](std::int64_t pr, std::int64_t pc) {
    return static_cast<double>(pc - 1) / static_cast<double>(m) + static_cast<double>(pr - 1) / static_cast<double>(n);
  };
  const std::int64_t max_r = std::max<std::int64_t>(1, n / kBlockAlign), max_c = std::max<std::int64_t>(1, m / kBlockAlign);
  const std::int64_t cap = std::max<std::int64_t>(1, kMaxBlocks / nbatch);
  std::int64_t best_r = 1, best_c = 1;
  for (std::int64_t pr = 1; pr <= std::min(max_r, cap); ++pr)
    for (std::int64_t pc = 1; pc <= std::min(max_c, cap / pr); ++pc)
      if (cost(pr, pc) <= budget &&
          (pr * pc > best_r * best_c || (pr * pc == best_r * best_c && cost(pr, pc) <= cost(best_r, best_c)))) {
        best_r = pr;
        best_c = pc;
      }
  // A thin lone product (few rows, e.g. an RNN step's [32, 256] x [256, 256]) below
  // kThinUncut multiply-adds stays whole: both halves would repack all of A and run gemm on
  // half-width panels (measured: 3.5% of unbind_rnn_t64 at 1 thread), for a split that
  // saves only ~20 us at 2 threads.
  const bool thin_and_small = n < kThinRows && n * m * k < kThinUncut;
  if (nbatch == 1 && best_r * best_c == 1 && !thin_and_small) {
    // Measured on MLP-sized products: halving the rows costs least once the halves keep at
    // least kMinRowBlock rows; thinner row blocks run gemm's kernels less efficiently.
    if (n >= 2 * kMinRowBlock || max_c < 2)
      best_r = std::min<std::int64_t>(2, max_r);
    else
      best_c = 2;
  }
  auto block = [](std::int64_t len, std::int64_t parts) {
    const std::int64_t b = (len + parts - 1) / parts;
    return (b + kBlockAlign - 1) / kBlockAlign * kBlockAlign;
  };
  g.br = block(n, best_r);
  g.bc = block(m, best_c);
  g.pr = (n + g.br - 1) / g.br;
  g.pc = (m + g.bc - 1) / g.bc;
  return g;
}

// C (contiguous, logical shape g.logical_out()) = op(A) op(B), as the blocks of
// product_grid(), spread over TBB tasks.
template <class T>
void product_kernel(const T* A, const T* B, T* C, bool ta, bool tb, const ProductGeometry& g, bool accumulate = false) {
  std::int64_t nbatch = shape_numel(g.batch), n = g.n;
  const std::int64_t m = g.m, k = g.k;
  const std::int64_t a_mat = n * k, b_mat = k * m, c_mat = n * m;
  const std::int64_t lda = ta ? n : k, ldb = tb ? k : m;
  const auto a_st = batch_strides(g.a_batch, g.batch), b_st = batch_strides(g.b_batch, g.batch);
  // [N, n, k] x [k, m] with A untransposed is one [N*n, k] x [k, m] product (the Linear case).
  const bool fold = !ta && nbatch > 1 && shape_numel(g.b_batch) == 1 && shape_numel(g.a_batch) == nbatch;
  if (fold) {
    n *= nbatch;
    nbatch = 1;
  }
  if (nbatch == 0 || n == 0 || m == 0) return;
  auto a_ptr = [&](std::int64_t bi) { return A + (fold ? 0 : matrix_index(bi, g.batch, a_st) * a_mat); };
  auto b_ptr = [&](std::int64_t bi) { return B + (fold ? 0 : matrix_index(bi, g.batch, b_st) * b_mat); };

  const Grid grid = product_grid(nbatch, n, m, k);
  const std::int64_t per_matrix = grid.pr * grid.pc;
  auto run_block = [&](std::int64_t t) {
    const std::int64_t bi = t / per_matrix, r = t % per_matrix / grid.pc, c = t % grid.pc;
    const std::int64_t r0 = r * grid.br, c0 = c * grid.bc;
    const std::int64_t rows = std::min(grid.br, n - r0), cols = std::min(grid.bc, m - c0);
    const T* a = a_ptr(bi);
    const T* b = b_ptr(bi);
    gemm_block<T>(ta, tb, rows, cols, k, ta ? a + r0 : a + r0 * lda, lda, tb ? b + c0 * ldb : b + c0, ldb,
                  C + bi * c_mat + r0 * m + c0, m, accumulate);
  };
  const std::int64_t tasks = nbatch * per_matrix;
  if (nbatch * n * m * k < kParallelMacs || get_num_threads() == 1) {  // the same blocks in turn
    for (std::int64_t t = 0; t < tasks; ++t) run_block(t);
    return;
  }
  detail::parallel_for(tasks, 1, [&](std::int64_t t0, std::int64_t t1) {
    for (std::int64_t t = t0; t < t1; ++t) run_block(t);
  });
}

// An operand as gemm reads it: the tensor itself when contiguous; a transposed view of a
// contiguous tensor as that tensor with the transpose flag flipped (no copy: gemm takes the
// flag and the leading dimension); anything else as a packed copy.
struct GemmOperand {
  Tensor t;
  Shape logical;
  bool trans;
};

GemmOperand gemm_operand(const Tensor& x, const Shape& logical, bool trans) {
  if (x.is_contiguous()) return {x, logical, trans};
  const std::size_t r = x.shape().size();
  if (logical == x.shape() && r >= 2) {
    Shape sizes = x.shape(), strides = x.strides();
    std::swap(sizes[r - 1], sizes[r - 2]);
    std::swap(strides[r - 1], strides[r - 2]);
    if (detail::is_contiguous_layout(sizes, strides)) return {x, sizes, !trans};
  }
  return {detail::contiguous_copy(x), logical, trans};
}

// c += op(A) op(B) in place (c packed, of the product's logical shape; no batch dims).
void product_into(const Tensor& c, const Tensor& a, const Shape& la, bool ta, const Tensor& b, const Shape& lb,
                  bool tb) {
  const GemmOperand oa = gemm_operand(a, la, ta), ob = gemm_operand(b, lb, tb);
  const ProductGeometry gk = geometry(oa.logical, oa.trans, ob.logical, ob.trans);
  detail::dispatch_floating(c, "matmul", [&]<class T>() {
    product_kernel<T>(oa.t.strided_data_ptr<T>(), ob.t.strided_data_ptr<T>(), c.data_ptr<T>(), oa.trans, ob.trans, gk,
                      /*accumulate=*/true);
  });
  ++c.impl()->storage->version;
}

// op(A) op(B) where a, b are read with logical shapes la, lb (rank >= 2, same element counts
// as the tensors) and the result gets out_shape (default: the logical [batch..., n, m]).
// Callers have validated dtypes and sizes.
Tensor product(const Tensor& a, const Shape& la, bool ta, const Tensor& b, const Shape& lb, bool tb,
               const Shape* out_shape, const char* name) {
  const ProductGeometry g = geometry(la, ta, lb, tb);
  const Shape lc = g.logical_out();
  for (std::int64_t v : {g.n * shape_numel(g.batch), g.m, g.k})
    if (v > INT_MAX)
      throw Error(fmt::format("{}: shapes {} and {} exceed the BLAS index range (2^31 - 1)",
                              std::string_view(name).substr(0, std::string_view(name).find("Backward")), a.shape(),
                              b.shape()));
  Tensor out = detail::make_tensor(out_shape ? *out_shape : lc, a.dtype());
  const GemmOperand oa = gemm_operand(a, la, ta), ob = gemm_operand(b, lb, tb);
  const ProductGeometry gk = geometry(oa.logical, oa.trans, ob.logical, ob.trans);
  detail::dispatch_floating(a, name, [&]<class T>() {
    product_kernel<T>(oa.t.strided_data_ptr<T>(), ob.t.strided_data_ptr<T>(), out.data_ptr<T>(), oa.trans, ob.trans, gk);
  });
  if (!any_requires_grad({&a, &b})) return out;

  const bool ra = a.requires_grad(), rb = b.requires_grad();
  // Saves A only for dB and B only for dA.
  auto node = record(name, {a, b}, {out}, {rb ? a : Tensor(), ra ? b : Tensor()},
         [g, la, lb, lc, ta, tb, ra, rb, name, sa = a.shape(), sb = b.shape()](const Grads& gr, const Grads& s) {
           const Tensor& gc = gr[0];  // read with the logical shape lc
           const std::int64_t nb = shape_numel(g.batch);
           Tensor ga, gb;
           if (ra) {
             // C = op(A) op(B): d op(A) = dC op(B)^T; when ta, dA = (d op(A))^T = op(B) dC^T.
             ga = ta ? product(s[1], lb, tb, gc, lc, true, nullptr, name)
                     : product(gc, lc, false, s[1], lb, !tb, nullptr, name);
             ga = reshape(sum_to(ga, la), sa);
           }
           if (rb) {
             // d op(B) = op(A)^T dC; when tb, dB = dC^T op(A).
             if (!ta && nb > 1 && shape_numel(g.b_batch) == 1 && shape_numel(g.a_batch) == nb) {
               // B was broadcast over every batch of A: sum_b op(A_b)^T dC_b is one product over
               // the stacked rows [N*n, k]^T [N*n, m], no [N, k, m] intermediate.
               const Shape fa{nb * g.n, g.k}, fc{nb * g.n, g.m};
               gb = tb ? product(gc, fc, true, s[0], fa, false, nullptr, name)
                       : product(s[0], fa, true, gc, fc, false, nullptr, name);
             } else if (Tensor acc = nb == 1 && !tb && lb == sb
                                         ? detail::offered_accumulator(1, sb, s[0].dtype(), true)
                                         : Tensor();
                        acc.defined()) {
               // B's gradient so far (e.g. a weight shared by the steps of an RNN) is the
               // engine's only copy: add op(A)^T dC into it in the product (beta = 1).
               product_into(acc, s[0], la, !ta, gc, lc, false);
               detail::current_accumulators().claimed[1] = 1;
               gb = acc;
             } else {
               gb = tb ? product(gc, lc, true, s[0], la, ta, nullptr, name)
                       : product(s[0], la, !ta, gc, lc, false, nullptr, name);
               gb = sum_to(gb, lb);
             }
             gb = reshape(gb, sb);
           }
           return Grads{ga, gb};
         });
  node->folds_accumulated = true;
  return out;
}

void check_operands(const Tensor& a, const Tensor& b, std::string_view op) {
  detail::check_same_dtype(a, b, op);
  if (!is_floating(a.dtype()))
    throw Error(fmt::format("{}: expected float32 or float64 tensors, got {} {} and {} {}", op, a.shape(), a.dtype(),
                            b.shape(), b.dtype()));
}

[[noreturn]] void throw_inner(std::string_view op, const Tensor& a, const Tensor& b, std::int64_t ka, std::int64_t kb) {
  throw Error(fmt::format("{}: shapes {} and {} cannot be multiplied ({} != {})", op, a.shape(), b.shape(), ka, kb));
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  XGRAD_PROFILE_OP("matmul", a, b);
  check_operands(a, b, "matmul");
  if (a.dim() == 0 || b.dim() == 0)
    throw Error(
        fmt::format("matmul: both arguments need at least 1 dimension, got shapes {} and {}", a.shape(), b.shape()));
  // A 1-d operand is a row (left) or a column (right); its added dim is dropped from the result.
  const Shape la = a.dim() == 1 ? Shape{1, a.size(0)} : a.shape();
  const Shape lb = b.dim() == 1 ? Shape{b.size(0), 1} : b.shape();
  const std::int64_t ka = la.back(), kb = lb[lb.size() - 2];
  if (ka != kb) throw_inner("matmul", a, b, ka, kb);
  const Shape ba(la.begin(), la.end() - 2), bb(lb.begin(), lb.end() - 2);
  for (std::size_t i = 0; i < std::min(ba.size(), bb.size()); ++i) {
    const std::int64_t da = ba[ba.size() - 1 - i], db = bb[bb.size() - 1 - i];
    if (da != db && da != 1 && db != 1)
      throw Error(fmt::format("matmul: batch dimensions of shapes {} and {} cannot be broadcast ({} vs {})", a.shape(),
                              b.shape(), da, db));
  }
  const ProductGeometry g = geometry(la, false, lb, false);
  Shape out = g.batch;
  if (a.dim() > 1) out.push_back(g.n);
  if (b.dim() > 1) out.push_back(g.m);
  const char* name = a.dim() == 1 && b.dim() == 1 ? "DotBackward" : "MatmulBackward";
  XGRAD_PROFILE_FLOPS(2 * shape_numel(out) * ka);
  return product(a, la, false, b, lb, false, &out, name);
}

Tensor mm(const Tensor& a, const Tensor& b) {
  XGRAD_PROFILE_OP("mm", a, b);
  check_operands(a, b, "mm");
  if (a.dim() != 2 || b.dim() != 2)
    throw Error(fmt::format("mm: expected 2-d tensors, got shapes {} and {}", a.shape(), b.shape()));
  if (a.size(1) != b.size(0)) throw_inner("mm", a, b, a.size(1), b.size(0));
  XGRAD_PROFILE_FLOPS(2 * a.size(0) * a.size(1) * b.size(1));
  return product(a, a.shape(), false, b, b.shape(), false, nullptr, "MmBackward");
}

Tensor mm(const Tensor& a, const Tensor& b, bool transpose_a, bool transpose_b) {
  XGRAD_PROFILE_OP("mm", a, b);
  check_operands(a, b, "mm");
  if (a.dim() != 2 || b.dim() != 2)
    throw Error(fmt::format("mm: expected 2-d tensors, got shapes {} and {}", a.shape(), b.shape()));
  const std::int64_t ka = a.size(transpose_a ? 0 : 1), kb = b.size(transpose_b ? 1 : 0);
  if (ka != kb)
    throw Error(fmt::format("mm: shapes {}{} and {}{} cannot be multiplied ({} != {})", a.shape(),
                            transpose_a ? "^T" : "", b.shape(), transpose_b ? "^T" : "", ka, kb));
  XGRAD_PROFILE_FLOPS(2 * a.size(transpose_a ? 1 : 0) * ka * b.size(transpose_b ? 0 : 1));
  return product(a, a.shape(), transpose_a, b, b.shape(), transpose_b, nullptr, "MmBackward");
}

Tensor bmm(const Tensor& a, const Tensor& b) {
  XGRAD_PROFILE_OP("bmm", a, b);
  check_operands(a, b, "bmm");
  if (a.dim() != 3 || b.dim() != 3)
    throw Error(fmt::format("bmm: expected 3-d tensors, got shapes {} and {}", a.shape(), b.shape()));
  if (a.size(0) != b.size(0))
    throw Error(fmt::format("bmm: batch sizes of shapes {} and {} differ ({} != {})", a.shape(), b.shape(), a.size(0),
                            b.size(0)));
  if (a.size(2) != b.size(1)) throw_inner("bmm", a, b, a.size(2), b.size(1));
  XGRAD_PROFILE_FLOPS(2 * a.size(0) * a.size(1) * a.size(2) * b.size(2));
  return product(a, a.shape(), false, b, b.shape(), false, nullptr, "BmmBackward");
}

Tensor outer(const Tensor& a, const Tensor& b) {
  XGRAD_PROFILE_OP("outer", a, b);
  check_operands(a, b, "outer");
  if (a.dim() != 1 || b.dim() != 1)
    throw Error(fmt::format("outer: expected 1-d tensors, got shapes {} and {}", a.shape(), b.shape()));
  // [n, 1] x [1, m]
  XGRAD_PROFILE_FLOPS(2 * a.size(0) * b.size(0));
  return product(a, Shape{a.size(0), 1}, false, b, Shape{1, b.size(0)}, false, nullptr, "OuterBackward");
}

Tensor dot(const Tensor& a, const Tensor& b) {
  XGRAD_PROFILE_OP("dot", a, b);
  check_operands(a, b, "dot");
  if (a.dim() != 1 || b.dim() != 1)
    throw Error(fmt::format("dot: expected 1-d tensors, got shapes {} and {}", a.shape(), b.shape()));
  if (a.size(0) != b.size(0))
    throw Error(fmt::format("dot: expected 1-d tensors of equal length, got shapes {} and {}", a.shape(), b.shape()));
  // [1, k] x [k, 1] -> 0-d
  const Shape scalar{};
  XGRAD_PROFILE_FLOPS(2 * a.size(0));
  return product(a, Shape{1, a.size(0)}, false, b, Shape{b.size(0), 1}, false, &scalar, "DotBackward");
}

Tensor Tensor::matmul(const Tensor& o) const { return xgrad::matmul(*this, o); }
Tensor Tensor::mm(const Tensor& o) const { return xgrad::mm(*this, o); }

}  // namespace xgrad
