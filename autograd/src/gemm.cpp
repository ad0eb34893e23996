#include "gemm.hpp"

#include <array>

#include <xtensor-blas/xblas.hpp>
#include <xtensor/xadapt.hpp>

namespace xgrad::detail {

template <class T>
void xblas_gemm(bool ta, bool tb, std::int64_t n, std::int64_t m, std::int64_t k, const T* a, const T* b, T* c, T beta) {
  using Dims2 = std::array<std::size_t, 2>;
  const auto dims = [](std::int64_t r, std::int64_t col) {
    return Dims2{static_cast<std::size_t>(r), static_cast<std::size_t>(col)};
  };
  // Adaptors over the buffers (no copy); xtensor-blas reads their leading strides.
  const auto xa = xt::adapt(a, static_cast<std::size_t>(n * k), xt::no_ownership(), ta ? dims(k, n) : dims(n, k));
  const auto xb = xt::adapt(b, static_cast<std::size_t>(k * m), xt::no_ownership(), tb ? dims(m, k) : dims(k, m));
  auto xc = xt::adapt(c, static_cast<std::size_t>(n * m), xt::no_ownership(), dims(n, m));
  xt::blas::gemm(xa, xb, xc, ta, tb, T(1), beta);
}

template void xblas_gemm<float>(bool, bool, std::int64_t, std::int64_t, std::int64_t, const float*, const float*, float*, float);
template void xblas_gemm<double>(bool, bool, std::int64_t, std::int64_t, std::int64_t, const double*, const double*,
                                 double*, double);

}  // namespace xgrad::detail
