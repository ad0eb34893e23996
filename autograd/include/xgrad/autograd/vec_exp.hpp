// Detail header (no stable API): a branch-free float32 e^x that GCC vectorises (libm's expf is
// a scalar call through the PLT). Call it from loops in functions compiled with
// [[gnu::target_clones(...)]]: the project builds for baseline x86-64.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>

namespace xgrad::vec {

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

}  // namespace xgrad::vec
