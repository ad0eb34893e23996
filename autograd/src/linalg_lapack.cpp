// xgrad::linalg decompositions through LAPACK: inv, solve, cholesky, det, slogdet, svdvals
// (and the recorded SVD behind svdvals and det's singular backward). Each op packs its
// matrices, copies each one column-major into a private buffer (LAPACK is Fortran), runs one
// LAPACK call per matrix (matrices spread over TBB tasks, each matrix whole in one task) and
// records a backward built from differentiable ops. Failures are collected per matrix and
// reported for the first failing one after the loop, so the message does not depend on the
// thread count.
#include <cfloat>
#include <climits>
#include <cmath>
#include <limits>
#include <tuple>
#include <vector>

#include "kernel.hpp"
#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/linalg.hpp"
#include "xgrad/autograd/linalg_functions.hpp"
#include "xgrad/autograd/shape.hpp"
#include "xgrad/autograd/profile_scope.hpp"

// LAPACK's Fortran entry points, as OpenBLAS exports them (32-bit integers). A character
// argument is followed by its hidden length (gfortran's calling convention).
extern "C" {
void sgetrf_(const int* m, const int* n, float* a, const int* lda, int* ipiv, int* info);
void dgetrf_(const int* m, const int* n, double* a, const int* lda, int* ipiv, int* info);
void sgetri_(const int* n, float* a, const int* lda, const int* ipiv, float* work, const int* lwork, int* info);
void dgetri_(const int* n, double* a, const int* lda, const int* ipiv, double* work, const int* lwork, int* info);
void sgetrs_(const char* trans, const int* n, const int* nrhs, const float* a, const int* lda, const int* ipiv,
             float* b, const int* ldb, int* info, std::size_t trans_len);
void dgetrs_(const char* trans, const int* n, const int* nrhs, const double* a, const int* lda, const int* ipiv,
             double* b, const int* ldb, int* info, std::size_t trans_len);
void spotrf_(const char* uplo, const int* n, float* a, const int* lda, int* info, std::size_t uplo_len);
void dpotrf_(const char* uplo, const int* n, double* a, const int* lda, int* info, std::size_t uplo_len);
void sgesdd_(const char* jobz, const int* m, const int* n, float* a, const int* lda, float* s, float* u, const int* ldu,
             float* vt, const int* ldvt, float* work, const int* lwork, int* iwork, int* info, std::size_t jobz_len);
void dgesdd_(const char* jobz, const int* m, const int* n, double* a, const int* lda, double* s, double* u,
             const int* ldu, double* vt, const int* ldvt, double* work, const int* lwork, int* iwork, int* info,
             std::size_t jobz_len);
}

namespace xgrad::linalg {

namespace {

using Grads = std::vector<Tensor>;

// ---- LAPACK wrappers (square n x n, leading dimension n unless stated) ---------------------
void getrf(int n, float* a, int* ipiv, int* info) { sgetrf_(&n, &n, a, &n, ipiv, info); }
void getrf(int n, double* a, int* ipiv, int* info) { dgetrf_(&n, &n, a, &n, ipiv, info); }
void getri(int n, float* a, const int* ipiv, float* work, int lwork, int* info) {
  sgetri_(&n, a, &n, ipiv, work, &lwork, info);
}
void getri(int n, double* a, const int* ipiv, double* work, int lwork, int* info) {
  dgetri_(&n, a, &n, ipiv, work, &lwork, info);
}
void getrs(int n, int nrhs, const float* a, const int* ipiv, float* b, int* info) {
  const char t = 'N';
  sgetrs_(&t, &n, &nrhs, a, &n, ipiv, b, &n, info, 1);
}
void getrs(int n, int nrhs, const double* a, const int* ipiv, double* b, int* info) {
  const char t = 'N';
  dgetrs_(&t, &n, &nrhs, a, &n, ipiv, b, &n, info, 1);
}
void potrf(char uplo, int n, float* a, int* info) { spotrf_(&uplo, &n, a, &n, info, 1); }
void potrf(char uplo, int n, double* a, int* info) { dpotrf_(&uplo, &n, a, &n, info, 1); }
// a: m x n column-major (lda m); u: m x k (ldu); vt: k x n (ldvt).
void gesdd(char jobz, int m, int n, float* a, float* s, float* u, int ldu, float* vt, int ldvt, float* work, int lwork,
           int* iwork, int* info) {
  sgesdd_(&jobz, &m, &n, a, &m, s, u, &ldu, vt, &ldvt, work, &lwork, iwork, info, 1);
}
void gesdd(char jobz, int m, int n, double* a, double* s, double* u, int ldu, double* vt, int ldvt, double* work,
           int lwork, int* iwork, int* info) {
  dgesdd_(&jobz, &m, &n, a, &m, s, u, &ldu, vt, &ldvt, work, &lwork, iwork, info, 1);
}

// ---- checks ----------------------------------------------------------------------------------
void check_float(const Tensor& t, std::string_view op, std::string_view name = "A") {
  detail::check_defined(t, op);
  if (!is_floating(t.dtype()))
    throw Error(fmt::format("{}: expected a float32 or float64 tensor, got {} for {} of shape {}", op, t.dtype(), name,
                            t.shape()));
}

void check_matrix(const Tensor& A, std::string_view op) {
  check_float(A, op);
  if (A.dim() < 2) throw Error(fmt::format("{}: A must have at least 2 dimensions, got shape {}", op, A.shape()));
  for (std::int64_t d : {A.size(-2), A.size(-1)})
    if (d > INT_MAX)
      throw Error(fmt::format("{}: matrices of shape {} exceed LAPACK's 32-bit index range", op, A.shape()));
}

void check_square(const Tensor& A, std::string_view op) {
  check_matrix(A, op);
  if (A.size(-1) != A.size(-2))
    throw Error(fmt::format("{}: A must be batches of square matrices, got shape {} ({} by {} matrices)", op, A.shape(),
                            A.size(-2), A.size(-1)));
}

Shape batch_of(const Shape& s) { return Shape(s.begin(), s.end() - 2); }

// "(Batch element b): " for a batch, "" for a single matrix (PyTorch's wording).
std::string element(const Shape& batch, std::int64_t b) {
  return batch.empty() ? std::string() : fmt::format("(Batch element {}): ", b);
}

// First matrix whose LAPACK info is nonzero (-1 when none).
std::int64_t first_failure(const std::vector<int>& info) {
  for (std::size_t b = 0; b < info.size(); ++b)
    if (info[b] != 0) return static_cast<std::int64_t>(b);
  return -1;
}

[[noreturn]] void throw_illegal(std::string_view op, std::string_view routine, int info) {
  throw Error(fmt::format("{}: LAPACK {} rejected argument {} (internal error)", op, routine, -info));
}

// Runs f(b0, b1) over the matrices [0, count), each `work` flops or so, split over TBB tasks.
template <class F>
void for_each_matrix(std::int64_t count, std::int64_t work, F&& f) {
  detail::parallel_for(count, detail::grain_for(work), f);
}

// dst (rows x cols, column-major) = src (rows x cols, row-major), and back.
template <class T>
void to_colmajor(const T* src, T* dst, std::int64_t rows, std::int64_t cols) {
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t j = 0; j < cols; ++j) dst[i + j * rows] = src[i * cols + j];
}
template <class T>
void to_rowmajor(const T* src, T* dst, std::int64_t rows, std::int64_t cols) {
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t j = 0; j < cols; ++j) dst[i * cols + j] = src[i + j * rows];
}

Tensor packed_nograd(const Tensor& t) {
  NoGradGuard ng;
  return detail::packed(t);
}

Tensor eye_like(std::int64_t n, Dtype dt) { return eye(n, n, dtype(dt)); }

// Lower-triangular mask [n, n] (1 on and below the diagonal; strictly below when strict).
Tensor tril_mask(std::int64_t n, Dtype dt, bool strict) {
  Tensor m = zeros({n, n}, dtype(dt));
  detail::dispatch_floating(dt, "linalg.cholesky", [&]<class T>() {
    T* p = m.data_ptr<T>();
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = 0; j <= (strict ? i - 1 : i); ++j) p[i * n + j] = T(1);
  });
  return m;
}

Tensor mT(const Tensor& t) { return t.transpose(-2, -1); }

// ---- inverse ---------------------------------------------------------------------------------
Tensor inv_impl(const Tensor& A, std::string_view op) {
  const std::int64_t n = A.size(-1);
  const Shape batch = batch_of(A.shape());
  const std::int64_t count = shape_numel(batch);
  Tensor out = detail::make_tensor(A.shape(), A.dtype(), op);
  if (n > 0 && count > 0) {
    const Tensor a = packed_nograd(A);
    std::vector<int> info(static_cast<std::size_t>(count), 0);
    detail::dispatch_floating(A, op, [&]<class T>() {
      const T* pa = a.data_ptr<T>();
      T* po = out.data_ptr<T>();
      const int ni = static_cast<int>(n);
      for_each_matrix(count, n * n * n, [&](std::int64_t b0, std::int64_t b1) {
        std::vector<T> buf(static_cast<std::size_t>(n * n));
        std::vector<int> ipiv(static_cast<std::size_t>(n));
        T query{};
        int qinfo = 0;
        getri(ni, buf.data(), ipiv.data(), &query, -1, &qinfo);
        const int lwork = std::max(ni, static_cast<int>(query));
        std::vector<T> work(static_cast<std::size_t>(lwork));
        for (std::int64_t b = b0; b < b1; ++b) {
          int& inf = info[static_cast<std::size_t>(b)];
          to_colmajor(pa + b * n * n, buf.data(), n, n);
          getrf(ni, buf.data(), ipiv.data(), &inf);
          if (inf != 0) continue;
          getri(ni, buf.data(), ipiv.data(), work.data(), lwork, &inf);
          if (inf != 0) continue;
          to_rowmajor(buf.data(), po + b * n * n, n, n);
        }
      });
    });
    if (const std::int64_t b = first_failure(info); b >= 0) {
      const int inf = info[static_cast<std::size_t>(b)];
      if (inf < 0) throw_illegal(op, "getrf/getri", inf);
      throw Error(
          fmt::format("{}: {}The diagonal element {} is zero, the inversion could not be completed because the "
                      "input matrix is singular (A of shape {})",
                      op, element(batch, b), inf, A.shape()));
    }
  }
  if (any_requires_grad({&A}))
    // d(A^-1) = -A^-1 dA A^-1, so gA = -A^-T g A^-T.
    record("LinalgInvBackward", {A}, {out}, {out}, [](const Grads& g, const Grads& s) {
      const Tensor it = mT(s[0]);
      return Grads{neg(matmul(it, matmul(g[0], it)))};
    });
  return out;
}

// ---- solve -----------------------------------------------------------------------------------
// X with A X = B; B holds vectors ([..., n]) when vector_case. Shapes validated by the caller
// except that the batch dims must broadcast.
Tensor solve_impl(const Tensor& A, const Tensor& B, bool vector_case, std::string_view op) {
  const std::int64_t n = A.size(-1);
  const Shape bshape = vector_case ? [&] {
    Shape s = B.shape();
    s.push_back(1);
    return s;
  }() : B.shape();
  const std::int64_t k = bshape.back();
  const Shape ab = batch_of(A.shape()), bb = batch_of(bshape);
  Shape batch;
  {
    const std::size_t nb = std::max(ab.size(), bb.size());
    batch.resize(nb);
    for (std::size_t i = 0; i < nb; ++i) {
      const std::int64_t da = i < nb - ab.size() ? 1 : ab[i - (nb - ab.size())];
      const std::int64_t db = i < nb - bb.size() ? 1 : bb[i - (nb - bb.size())];
      if (da != db && da != 1 && db != 1)
        throw Error(
            fmt::format("{}: the batch dimensions of A {} and B {} do not broadcast", op, A.shape(), B.shape()));
      batch[i] = da == 1 ? db : da;
    }
  }
  const std::int64_t count = shape_numel(batch);
  Shape xshape = batch;
  xshape.push_back(n);
  if (!vector_case) xshape.push_back(k);
  // X is laid out as [batch, n, k] whatever its shape (vectors: k = 1).
  Tensor X = detail::make_tensor(xshape, A.dtype(), op);
  if (n > 0 && count > 0) {
    Tensor a, b;
    {
      NoGradGuard ng;
      Shape as = batch, bs = batch;
      as.insert(as.end(), {n, n});
      bs.insert(bs.end(), {n, k});
      a = detail::packed(expand(A, as));
      b = detail::packed(expand(reshape(B, bshape), bs));
    }
    std::vector<int> info(static_cast<std::size_t>(count), 0);
    detail::dispatch_floating(A, op, [&]<class T>() {
      const T* pa = a.data_ptr<T>();
      const T* pb = b.data_ptr<T>();
      T* px = X.data_ptr<T>();
      const int ni = static_cast<int>(n), ki = static_cast<int>(k);
      for_each_matrix(count, n * n * (n + k), [&](std::int64_t b0, std::int64_t b1) {
        std::vector<T> lu(static_cast<std::size_t>(n * n)), rhs(static_cast<std::size_t>(n * k));
        std::vector<int> ipiv(static_cast<std::size_t>(n));
        for (std::int64_t q = b0; q < b1; ++q) {
          int& inf = info[static_cast<std::size_t>(q)];
          to_colmajor(pa + q * n * n, lu.data(), n, n);
          getrf(ni, lu.data(), ipiv.data(), &inf);
          if (inf != 0 || k == 0) continue;
          to_colmajor(pb + q * n * k, rhs.data(), n, k);
          getrs(ni, ki, lu.data(), ipiv.data(), rhs.data(), &inf);
          if (inf != 0) continue;
          to_rowmajor(rhs.data(), px + q * n * k, n, k);
        }
      });
    });
    if (const std::int64_t q = first_failure(info); q >= 0) {
      const int inf = info[static_cast<std::size_t>(q)];
      if (inf < 0) throw_illegal(op, "getrf/getrs", inf);
      throw Error(
          fmt::format("{}: {}The solver failed because the input matrix is singular (A of shape {}, B of shape {})", op,
                      element(batch, q), A.shape(), B.shape()));
    }
  }
  if (any_requires_grad({&A, &B})) {
    const bool ra = A.requires_grad(), rb = B.requires_grad();
    // X = A^-1 B: gB = A^-T g, gA = -gB X^T (summed over broadcast batch dims by the engine).
    record("LinalgSolveBackward", {A, B}, {X}, {A, X}, [ra, rb, vector_case](const Grads& g, const Grads& s) {
      const Tensor gB = solve_impl(mT(s[0]), g[0], vector_case, "linalg.solve");
      Tensor gA;
      if (ra) gA = vector_case ? neg(mul(gB.unsqueeze(-1), s[1].unsqueeze(-2))) : neg(matmul(gB, mT(s[1])));
      return Grads{gA, rb ? gB : Tensor()};
    });
  }
  return X;
}

// ---- Cholesky --------------------------------------------------------------------------------
Tensor cholesky_backward(const Tensor& gL, const Tensor& L, bool upper) {
  // PyTorch's cholesky_backward (from A = L L^T): X = tril(L^T gL), Phi = (X + tril(X, -1)^T) / 2,
  // gA = L^-T Phi L^-1. For upper, L = U^T and gL = gU^T.
  const Tensor l = upper ? mT(L) : L, gl = upper ? mT(gL) : gL;
  const std::int64_t n = L.size(-1);
  const Tensor x = mul(matmul(mT(l), gl), tril_mask(n, L.dtype(), false));
  const Tensor phi = mul(add(x, mT(mul(x, tril_mask(n, L.dtype(), true)))), 0.5);
  const Tensor left = solve_impl(mT(l), phi, false, "linalg.cholesky");  // L^-T Phi
  return mT(solve_impl(mT(l), mT(left), false, "linalg.cholesky"));      // (L^-T (L^-T Phi)^T)^T
}

Tensor cholesky_impl(const Tensor& A, bool upper, std::string_view op) {
  const std::int64_t n = A.size(-1);
  const Shape batch = batch_of(A.shape());
  const std::int64_t count = shape_numel(batch);
  Tensor out = detail::make_tensor(A.shape(), A.dtype(), op);
  if (n > 0 && count > 0) {
    const Tensor a = packed_nograd(A);
    std::vector<int> info(static_cast<std::size_t>(count), 0);
    detail::dispatch_floating(A, op, [&]<class T>() {
      const T* pa = a.data_ptr<T>();
      T* po = out.data_ptr<T>();
      const int ni = static_cast<int>(n);
      for_each_matrix(count, n * n * n, [&](std::int64_t b0, std::int64_t b1) {
        std::vector<T> buf(static_cast<std::size_t>(n * n));
        for (std::int64_t b = b0; b < b1; ++b) {
          int& inf = info[static_cast<std::size_t>(b)];
          // A column-major: potrf reads (and writes) only the requested triangle of A itself.
          to_colmajor(pa + b * n * n, buf.data(), n, n);
          potrf(upper ? 'U' : 'L', ni, buf.data(), &inf);
          if (inf != 0) continue;
          T* o = po + b * n * n;
          for (std::int64_t i = 0; i < n; ++i)
            for (std::int64_t j = 0; j < n; ++j) o[i * n + j] = (upper ? j >= i : j <= i) ? buf[i + j * n] : T(0);
        }
      });
    });
    if (const std::int64_t b = first_failure(info); b >= 0) {
      const int inf = info[static_cast<std::size_t>(b)];
      if (inf < 0) throw_illegal(op, "potrf", inf);
      throw Error(
          fmt::format("{}: {}The factorization could not be completed because the input is not positive-definite "
                      "(the leading minor of order {} is not positive-definite; A of shape {})",
                      op, element(batch, b), inf, A.shape()));
    }
  }
  if (any_requires_grad({&A}))
    record("LinalgCholeskyBackward", {A}, {out}, {out},
           [upper](const Grads& g, const Grads& s) { return Grads{cholesky_backward(g[0], s[0], upper)}; });
  return out;
}

// ---- SVD (reduced: U [..., m, k], S [..., k], Vh [..., k, n], k = min(m, n)) ------------------
Tensor svd_backward(const Tensor& gU, const Tensor& gS, const Tensor& gVh, const Tensor& U, const Tensor& S,
                    const Tensor& Vh) {
  // PyTorch's svd_backward, real case (distinct singular values assumed):
  //   gA = U [(skew(U^T gU) S + S skew(V^T gV)) / E + diag(gS)] V^T, skew(X) = X - X^T,
  //   E_jk = s_k^2 - s_j^2 off the diagonal, 1 on it; plus (I - U U^T) gU S^-1 V^T when m > n,
  //   and U S^-1 gVh (I - V V^T) when m < n.
  const std::int64_t m = U.size(-2), n = Vh.size(-1), k = S.size(-1);
  const Tensor I = eye_like(k, S.dtype());
  auto skew = [](const Tensor& x) { return sub(x, mT(x)); };
  const Tensor UhgU = skew(matmul(mT(U), gU));
  const Tensor VhgV = skew(matmul(Vh, mT(gVh)));
  const Tensor S2 = mul(S, S);
  const Tensor E = add(sub(S2.unsqueeze(-2), S2.unsqueeze(-1)), I);
  Tensor core = div(add(mul(UhgU, S.unsqueeze(-2)), mul(S.unsqueeze(-1), VhgV)), E);
  core = add(core, mul(gS.unsqueeze(-1), I));
  if (m > n) {
    const Tensor gUSinv = div(gU, S.unsqueeze(-2));
    Tensor gA = add(matmul(U, core), sub(gUSinv, matmul(U, matmul(mT(U), gUSinv))));
    return matmul(gA, Vh);
  }
  if (m < n) {
    const Tensor SinvgVh = div(gVh, S.unsqueeze(-1));
    Tensor gA = add(matmul(core, Vh), sub(SinvgVh, matmul(matmul(SinvgVh, mT(Vh)), Vh)));
    return matmul(U, gA);
  }
  return matmul(U, matmul(core, Vh));
}

// Returns (U, S, Vh); U and Vh are undefined when !compute_uv. Records the full backward.
std::tuple<Tensor, Tensor, Tensor> svd_impl(const Tensor& A, std::string_view op, bool compute_uv = true) {
  const std::int64_t m = A.size(-2), n = A.size(-1), k = std::min(m, n);
  const Shape batch = batch_of(A.shape());
  const std::int64_t count = shape_numel(batch);
  Shape us = batch, ss = batch, vs = batch;
  us.insert(us.end(), {m, k});
  ss.push_back(k);
  vs.insert(vs.end(), {k, n});
  Tensor U = compute_uv ? detail::make_tensor(us, A.dtype(), op) : Tensor();
  Tensor S = detail::make_tensor(ss, A.dtype(), op);
  Tensor Vh = compute_uv ? detail::make_tensor(vs, A.dtype(), op) : Tensor();
  if (k > 0 && count > 0) {
    const Tensor a = packed_nograd(A);
    std::vector<int> info(static_cast<std::size_t>(count), 0);
    detail::dispatch_floating(A, op, [&]<class T>() {
      const T* pa = a.data_ptr<T>();
      for (std::int64_t i = 0; i < a.numel(); ++i)
        if (!std::isfinite(pa[i]))
          throw Error(
              fmt::format("{}: the input contains non-finite values (NaN or inf), so the SVD is not defined "
                          "(A of shape {})",
                          op, A.shape()));
      T* pu = compute_uv ? U.data_ptr<T>() : nullptr;
      T* pv = compute_uv ? Vh.data_ptr<T>() : nullptr;
      T* ps = S.data_ptr<T>();
      const int mi = static_cast<int>(m), ni = static_cast<int>(n), ki = static_cast<int>(k);
      const char jobz = compute_uv ? 'S' : 'N';
      for_each_matrix(count, m * n * k * 4, [&](std::int64_t b0, std::int64_t b1) {
        // The row-major m x n matrix is the column-major n x m matrix A^T = U' S V'^T, so
        // A = V' S U'^T: gesdd's U' (n x k, column-major) is Vh row-major [k, n] and its
        // V'^T (k x m, column-major) is U row-major [m, k]. They are written in place.
        std::vector<T> buf(static_cast<std::size_t>(m * n));
        std::vector<int> iwork(static_cast<std::size_t>(8 * k));
        T dummy_u{}, dummy_v{};
        T query{};
        int qinfo = 0;
        gesdd(jobz, ni, mi, buf.data(), ps, compute_uv ? pv : &dummy_u, compute_uv ? ni : 1, compute_uv ? pu : &dummy_v,
              compute_uv ? ki : 1, &query, -1, iwork.data(), &qinfo);
        const int lwork = std::max(1, static_cast<int>(query));
        std::vector<T> work(static_cast<std::size_t>(lwork));
        for (std::int64_t b = b0; b < b1; ++b) {
          std::copy(pa + b * m * n, pa + (b + 1) * m * n, buf.begin());
          gesdd(jobz, ni, mi, buf.data(), ps + b * k, compute_uv ? pv + b * k * n : &dummy_u, compute_uv ? ni : 1,
                compute_uv ? pu + b * m * k : &dummy_v, compute_uv ? ki : 1, work.data(), lwork, iwork.data(),
                &info[static_cast<std::size_t>(b)]);
        }
      });
    });
    if (const std::int64_t b = first_failure(info); b >= 0) {
      const int inf = info[static_cast<std::size_t>(b)];
      if (inf < 0) throw_illegal(op, "gesdd", inf);
      throw Error(
          fmt::format("{}: {}The algorithm failed to converge because the input matrix is ill-conditioned or "
                      "has too many repeated singular values (error code: {}; A of shape {})",
                      op, element(batch, b), inf, A.shape()));
    }
  }
  if (compute_uv && any_requires_grad({&A}))
    record("LinalgSvdBackward", {A}, {U, S, Vh}, {U, S, Vh},
           [](const Grads& g, const Grads& s) { return Grads{svd_backward(g[0], g[1], g[2], s[0], s[1], s[2])}; });
  return {U, S, Vh};
}

// ---- determinants ----------------------------------------------------------------------------
// LU of each matrix; fn(b, diag, n, swaps) receives U's diagonal (stride n + 1) and the number
// of row interchanges.
template <class T, class F>
void lu_diagonals(const Tensor& A, std::string_view op, F&& fn) {
  const std::int64_t n = A.size(-1);
  const std::int64_t count = shape_numel(batch_of(A.shape()));
  if (count == 0) return;
  const Tensor a = packed_nograd(A);
  const T* pa = a.data_ptr<T>();
  const int ni = static_cast<int>(n);
  for_each_matrix(count, n * n * n, [&](std::int64_t b0, std::int64_t b1) {
    std::vector<T> buf(static_cast<std::size_t>(std::max<std::int64_t>(n * n, 1)));
    std::vector<int> ipiv(static_cast<std::size_t>(std::max<std::int64_t>(n, 1)));
    for (std::int64_t b = b0; b < b1; ++b) {
      int swaps = 0;
      if (n > 0) {
        // det(A^T) = det(A): the row-major buffer serves as the column-major A^T.
        std::copy(pa + b * n * n, pa + (b + 1) * n * n, buf.begin());
        int info = 0;
        getrf(ni, buf.data(), ipiv.data(), &info);  // info > 0: an exactly zero pivot, det 0
        for (int i = 0; i < ni; ++i) swaps += ipiv[static_cast<std::size_t>(i)] != i + 1;
      }
      fn(b, buf.data(), n, swaps);
    }
  });
}

Tensor det_impl(const Tensor& A, std::string_view op);

Tensor det_backward(const Tensor& g, const Tensor& det, const Tensor& A) {
  const Dtype dt = A.dtype();
  const double eps = dt == Dtype::float32 ? FLT_EPSILON : DBL_EPSILON;
  bool near_singular = false;
  for (double d : det.detach().to(Dtype::float64).to_vector<double>())
    near_singular = near_singular || std::fabs(d) < 100 * eps;
  if (!near_singular) {
    // d det = det tr(A^-1 dA): gA = g det A^-T.
    const Tensor gd = mul(g, det).unsqueeze(-1).unsqueeze(-1);
    return mul(gd, mT(inv_impl(A, "linalg.det")));
  }
  // PyTorch's formula for (near) singular A: with A = U diag(s) V^T, the cofactor matrix is
  // det(U) det(V^T) U diag(prod_{j != i} s_j) V^T.
  const auto [U, S, Vh] = svd_impl(A, "linalg.det");
  const Tensor alpha = mul(mul(det_impl(U, "linalg.det"), det_impl(Vh, "linalg.det")), g);
  const std::int64_t n = S.size(-1);
  const Tensor I = eye_like(n, dt);
  // M[i][j] = s_j off the diagonal, 1 on it; the product of row i is prod_{j != i} s_j.
  const Tensor M = add(mul(S.unsqueeze(-2), rsub(I, 1.0)), I);
  Tensor P = ones_like(S);
  for (std::int64_t j = 0; j < n; ++j) P = mul(P, M.select(-1, j));
  const Tensor D = mul(alpha.unsqueeze(-1), P);
  return matmul(mul(U, D.unsqueeze(-2)), Vh);
}

Tensor det_impl(const Tensor& A, std::string_view op) {
  const Shape batch = batch_of(A.shape());
  Tensor out = detail::make_tensor(batch, A.dtype(), op);
  detail::dispatch_floating(A, op, [&]<class T>() {
    T* po = out.data_ptr<T>();
    lu_diagonals<T>(A, op, [&](std::int64_t b, const T* lu, std::int64_t n, int swaps) {
      T d = swaps % 2 ? T(-1) : T(1);
      for (std::int64_t i = 0; i < n; ++i) d *= lu[i * (n + 1)];
      po[b] = d;
    });
  });
  if (any_requires_grad({&A}))
    record("LinalgDetBackward", {A}, {out}, {A, out},
           [](const Grads& g, const Grads& s) { return Grads{det_backward(g[0], s[1], s[0])}; });
  return out;
}

}  // namespace

// ---- public API ------------------------------------------------------------------------------

Tensor inv(const Tensor& A) {
  XGRAD_PROFILE_OP("linalg.inv", A);
  check_square(A, "linalg.inv");
  return inv_impl(A, "linalg.inv");
}

Tensor solve(const Tensor& A, const Tensor& B) {
  XGRAD_PROFILE_OP("linalg.solve", A, B);
  constexpr std::string_view op = "linalg.solve";
  check_square(A, op);
  check_float(B, op, "B");
  if (A.dtype() != B.dtype())
    throw Error(fmt::format("{}: dtype mismatch: A {} {} and B {} {}", op, A.shape(), A.dtype(), B.shape(), B.dtype()));
  if (B.dim() < 1) throw Error(fmt::format("{}: B must have at least 1 dimension, got shape {}", op, B.shape()));
  // PyTorch's rule: B is a (batch of) vector(s) when 1-d or shaped like A without its last dim.
  const bool vector_case =
      B.dim() == 1 || (B.dim() == A.dim() - 1 && B.shape() == Shape(A.shape().begin(), A.shape().end() - 1));
  const std::int64_t n = A.size(-1);
  const std::int64_t rows = vector_case ? B.size(-1) : (B.dim() >= 2 ? B.size(-2) : -1);
  if (rows != n || (!vector_case && B.size(-1) > INT_MAX))
    throw Error(
        fmt::format("{}: Incompatible shapes of A and B for the equation AX = B: A {} and B {} ({} {} by {} "
                    "but B needs {} rows)",
                    op, A.shape(), B.shape(), vector_case ? "vectors of length" : "matrices", n, n, n));
  return solve_impl(A, B, vector_case, op);
}

Tensor cholesky(const Tensor& A, bool upper) {
  XGRAD_PROFILE_OP("linalg.cholesky", A);
  check_square(A, "linalg.cholesky");
  return cholesky_impl(A, upper, "linalg.cholesky");
}

Tensor det(const Tensor& A) {
  XGRAD_PROFILE_OP("linalg.det", A);
  check_square(A, "linalg.det");
  return det_impl(A, "linalg.det");
}

std::tuple<Tensor, Tensor> slogdet(const Tensor& A) {
  XGRAD_PROFILE_OP("linalg.slogdet", A);
  constexpr std::string_view op = "linalg.slogdet";
  check_square(A, op);
  const Shape batch = batch_of(A.shape());
  Tensor sign = detail::make_tensor(batch, A.dtype(), op), logabs = detail::make_tensor(batch, A.dtype(), op);
  detail::dispatch_floating(A, op, [&]<class T>() {
    T* ps = sign.data_ptr<T>();
    T* pl = logabs.data_ptr<T>();
    lu_diagonals<T>(A, op, [&](std::int64_t b, const T* lu, std::int64_t n, int swaps) {
      T s = swaps % 2 ? T(-1) : T(1), l = T(0);
      for (std::int64_t i = 0; i < n; ++i) {
        const T u = lu[i * (n + 1)];
        if (u < T(0)) s = -s;
        if (u == T(0)) s = T(0);
        l += std::log(std::fabs(u));  // log(0) = -inf: a singular matrix gives (0, -inf)
      }
      if (s == T(0)) l = -std::numeric_limits<T>::infinity();
      ps[b] = s;
      pl[b] = l;
    });
  });
  if (any_requires_grad({&A}))
    // d logabsdet = tr(A^-1 dA): gA = g A^-T; the sign is locally constant (zero gradient).
    record("LinalgSlogdetBackward", {A}, {sign, logabs}, {A}, [](const Grads& g, const Grads& s) {
      return Grads{mul(g[1].unsqueeze(-1).unsqueeze(-1), mT(inv_impl(s[0], "linalg.slogdet (backward)")))};
    });
  return {sign, logabs};
}

Tensor svdvals(const Tensor& A) {
  XGRAD_PROFILE_OP("linalg.svdvals", A);
  constexpr std::string_view op = "linalg.svdvals";
  check_matrix(A, op);
  if (!any_requires_grad({&A})) return std::get<1>(svd_impl(A, op, /*compute_uv=*/false));
  const auto [U, S, Vh] = svd_impl(A, op);
  // Its own node: the first derivative, U diag(gS) V^T, needs only U and Vh; they are outputs
  // of the recorded SVD, so the second derivative goes through its full backward.
  Tensor out = S.detach();
  const bool tall = A.size(-2) >= A.size(-1);
  record("LinalgSvdvalsBackward", {A}, {out}, {U, Vh}, [tall](const Grads& g, const Grads& s) {
    return Grads{tall ? matmul(s[0], mul(g[0].unsqueeze(-1), s[1])) : matmul(mul(s[0], g[0].unsqueeze(-2)), s[1])};
  });
  return out;
}

}  // namespace xgrad::linalg
