// The one thread pool: oneTBB. Nothing in xgrad starts other threads; OpenBLAS is set to one
// thread when the library loads.
#pragma once

#include <cstdint>
#include <string>

namespace xgrad {

/// Bounds every parallel kernel to n threads (n >= 1) through tbb::global_control.
/// Throws xgrad::Error for n < 1.
void set_num_threads(int n);
/// The current bound (defaults to the number of hardware threads).
int get_num_threads();

/// OpenBLAS's kernel family in use ("SkylakeX", "Haswell", ...), as openblas_get_corename()
/// reports it.
///
/// OpenBLAS 0.3.21 (Debian 12) falls back to its SSE3 "Prescott" kernels on CPU models it
/// does not know (Emerald Rapids, for one), 3-4x slower than its AVX-512 kernels. When the
/// library loads and OpenBLAS chose Prescott on a CPU with AVX-512 F/CD/BW/DQ/VL, xgrad makes
/// OpenBLAS select its SkylakeX kernels instead (blas_core_replaced() then returns true). It
/// leaves OpenBLAS alone when OPENBLAS_CORETYPE is set (OpenBLAS then obeys it) or when
/// XGRAD_OPENBLAS_CORETYPE=keep.
std::string blas_core();
/// True when xgrad replaced OpenBLAS's Prescott fallback as blas_core() describes.
bool blas_core_replaced();

}  // namespace xgrad
