// Kernel layer (detail: no stable API): vectorisable float32 exp, sigmoid and tanh.
//
// libm's expf and tanhf are scalar calls through the PLT, so a loop over them never
// vectorises. These are branch-free, always_inline and within about 1 ulp; GCC vectorises a
// loop over them. Call them from a loop in a function marked XGRAD_SIMD_CLONES (simd.hpp):
// the project builds for baseline x86-64. float64 keeps libm (gradcheck-grade accuracy): the
// fast_* templates pick the float32 kernel for float and std:: for double.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <type_traits>

namespace xgrad::kernel {

/// e^x for float32, about 1 ulp; -inf and x < -104 give 0, +inf and x > 89 give +inf, NaN
/// stays NaN.
// Cephes expf: e^x = 2^n e^r with n = round(x / ln 2), |r| <= ln(2) / 2, e^r by a degree-7
// polynomial; ln 2 is split in two (hi has few mantissa bits) so r = x - n ln 2 is exact
// enough. Max error about 1 ulp, also in the subnormal range: 2^n is applied as
// 2^(n/2) 2^(n - n/2), two factors that stay normal, so the result is rounded once.
// NOTE: the range is fixed up on the result's bits, not by clamping x or by ?: on floats: with
// -ftrapping-math (the default) GCC keeps those as branches and the loop stays scalar except
// under AVX-512. Below kLo the true result rounds to 0 (-inf too), above kHi it overflows
// (+inf too); NaN flows through the arithmetic.
[[gnu::always_inline]] inline float exp_f32(float x) {
  constexpr float kLo = -104.0f, kHi = 89.0f;
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;
  // Adding 1.5 * 2^23 rounds to an integer in the low mantissa bits (round to nearest).
  constexpr float kShifter = 12582912.0f;
  const float t = x * kLog2e + kShifter;
  const float nf = t - kShifter;
  const float r = (x - nf * kLn2Hi) - nf * kLn2Lo;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  // Unsigned: for |x| out of range the bits are garbage, and the clamp keeps them harmless.
  auto n = static_cast<std::int32_t>(std::bit_cast<std::uint32_t>(t) - std::bit_cast<std::uint32_t>(kShifter));
  n = std::min(std::max(n, std::int32_t{-160}), std::int32_t{128});
  const std::int32_t n1 = n >> 1;
  const std::int32_t n2 = n - n1;
  const float s1 = std::bit_cast<float>((n1 + 127) << 23);
  const float s2 = std::bit_cast<float>((n2 + 127) << 23);
  const bool lo = x < kLo;
  const bool hi = x > kHi;
  const std::uint32_t keep = static_cast<std::uint32_t>(lo || hi) - 1u;
  const std::uint32_t inf = -static_cast<std::uint32_t>(hi) & 0x7f800000u;
  return std::bit_cast<float>((std::bit_cast<std::uint32_t>(p * s1 * s2) & keep) | inf);
}

/// 1 / (1 + e^-x) for float32, through exp_f32.
[[gnu::always_inline]] inline float sigmoid_f32(float x) { return 1.0f / (1.0f + exp_f32(-x)); }

/// tanh(x) for float32, about 1 ulp; tanh(-0) = -0, NaN stays NaN.
// Cephes tanhf: an odd polynomial below |x| = 0.625, where 1 - 2/(e^2|x| + 1) would cancel;
// above, the cancellation costs under 1 ulp and e^2|x| = inf gives exactly 1. Both branches
// are computed and blended on the bits, so a loop over it vectorises; the sign is put back
// last.
[[gnu::always_inline]] inline float tanh_f32(float v) {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(v);
  const float z = std::bit_cast<float>(bits & 0x7fffffffu);
  const float s = z * z;
  float p = -5.70498872745e-3f;
  p = p * s + 2.06390887954e-2f;
  p = p * s - 5.37397155531e-2f;
  p = p * s + 1.33314422036e-1f;
  p = p * s - 3.33332819422e-1f;
  const float small = p * s * z + z;
  const float large = 1.0f - 2.0f / (exp_f32(z + z) + 1.0f);
  const std::uint32_t use_small = -static_cast<std::uint32_t>(z < 0.625f);
  const std::uint32_t r =
      (std::bit_cast<std::uint32_t>(small) & use_small) | (std::bit_cast<std::uint32_t>(large) & ~use_small);
  return std::bit_cast<float>(r | (bits & 0x80000000u));
}

/// e^x: exp_f32 for float, std::exp for double.
template <class T>
[[gnu::always_inline]] inline T fast_exp(T x) {
  if constexpr (std::is_same_v<T, float>)
    return exp_f32(x);
  else
    return std::exp(x);
}

/// 1 / (1 + e^-x): sigmoid_f32 for float, with std::exp for double.
template <class T>
[[gnu::always_inline]] inline T fast_sigmoid(T x) {
  if constexpr (std::is_same_v<T, float>)
    return sigmoid_f32(x);
  else
    return T(1) / (T(1) + std::exp(-x));
}

/// tanh(x): tanh_f32 for float, std::tanh for double.
template <class T>
[[gnu::always_inline]] inline T fast_tanh(T x) {
  if constexpr (std::is_same_v<T, float>)
    return tanh_f32(x);
  else
    return std::tanh(x);
}

}  // namespace xgrad::kernel
