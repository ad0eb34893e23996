// The product of whole packed matrices through xtensor-blas (gemm.cpp). A separate file
// because xtensor-blas's bundled cblas declarations clash with OpenBLAS's <cblas.h>.
#pragma once

#include <cstdint>

namespace xgrad::detail {

/// C[n x m] = op(A) op(B): A stored row-major [n x k] (ta false) or [k x n] (ta true), B
/// [k x m] or [m x k], all packed (leading dimension = row length); C = op(A) op(B) + beta C.
template <class T>
void xblas_gemm(bool ta, bool tb, std::int64_t n, std::int64_t m, std::int64_t k, const T* a, const T* b, T* c, T beta);

}  // namespace xgrad::detail
