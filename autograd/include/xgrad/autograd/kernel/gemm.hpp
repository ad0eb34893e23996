// Raw GEMM on packed row-major buffers, for fused kernels outside the autograd library (e.g.
// nn's blocked attention). Kernel layer: no stable API.
#pragma once

#include <cstdint>

namespace xgrad::kernel {

/// C[n x m] = op(A) op(B) + beta C on packed row-major buffers (leading dimension = row
/// length): A is [n x k] (ta false) or [k x n] (ta true), B is [k x m] (tb false) or [m x k]
/// (tb true). beta = 0 overwrites C (its old contents are not read, NaN included). Single
/// threaded (BLAS runs with one thread); callers parallelise around it. T: float or double.
template <class T>
void gemm(bool ta, bool tb, std::int64_t n, std::int64_t m, std::int64_t k, const T* a, const T* b, T* c, T beta);

}  // namespace xgrad::kernel
