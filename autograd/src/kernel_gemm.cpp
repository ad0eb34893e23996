// kernel::gemm (kernel/gemm.hpp): the public entry to detail::xblas_gemm.
#include "xgrad/autograd/kernel/gemm.hpp"

#include "gemm.hpp"

namespace xgrad::kernel {

template <class T>
void gemm(bool ta, bool tb, std::int64_t n, std::int64_t m, std::int64_t k, const T* a, const T* b, T* c, T beta) {
  detail::xblas_gemm<T>(ta, tb, n, m, k, a, b, c, beta);
}

template void gemm<float>(bool, bool, std::int64_t, std::int64_t, std::int64_t, const float*, const float*, float*,
                          float);
template void gemm<double>(bool, bool, std::int64_t, std::int64_t, std::int64_t, const double*, const double*, double*,
                           double);

}  // namespace xgrad::kernel
