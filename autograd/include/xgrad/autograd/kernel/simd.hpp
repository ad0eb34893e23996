// Kernel layer (detail: no stable API): SIMD function clones.
//
// xgrad is built for baseline x86-64 (SSE2), so that one binary runs on every x86-64 CPU.
// A hot loop written as a plain function marked XGRAD_SIMD_CLONES is compiled three times,
// for AVX-512, AVX2 and the baseline, and the dynamic loader picks the best clone for the CPU
// once, when the library loads (an ifunc); a call then costs one indirect jump. Put the
// attribute on a small non-inline function that holds the whole loop (the clones of a
// function called per element would never vectorise), and call math.hpp's always_inline
// helpers from it.
//
// NOTE: the clones of one loop may differ in the last bit: GCC contracts a * b + c into an
// FMA in the AVX2 and AVX-512 clones. Results stay identical at every thread count on one CPU.
//
// Off x86-64, or with XGRAD_NO_SIMD_CLONES defined, the macro expands to nothing: each loop is
// one plain baseline function. The CMake option XGRAD_SIMD_CLONES=OFF defines it for the whole
// build; the ThreadSanitizer build needs that, since the loader runs the ifunc resolvers before
// TSan has initialised and an instrumented resolver crashes there.
#pragma once

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(XGRAD_NO_SIMD_CLONES)
#define XGRAD_SIMD_CLONES [[gnu::target_clones("avx512f", "avx2", "default")]]
#else
#define XGRAD_SIMD_CLONES
#endif
