// The kernel layer: what every hand-written loop in xgrad (core ops, nn, optim, data) and a
// user's custom op build on. detail: no stable API; it may change in any release.
//
//   dispatch.hpp  dtype -> C++ type (dispatch, dispatch_floating)
//   parallel.hpp  the one grain policy (kGrain, parallel_for) and deterministic reductions
//                 (chunked_reduce, fixed chunks: identical results at every thread count)
//   simd.hpp      XGRAD_SIMD_CLONES: AVX-512 / AVX2 / baseline clones picked at load time
//   math.hpp      vectorisable float32 exp, sigmoid and tanh (about 1 ulp)
//
// Light on purpose: only std, fmt, oneTBB and xgrad/autograd/{dtype,tensor}.hpp; no xtensor.
#pragma once

#include "xgrad/autograd/kernel/dispatch.hpp"
#include "xgrad/autograd/kernel/math.hpp"
#include "xgrad/autograd/kernel/parallel.hpp"
#include "xgrad/autograd/kernel/simd.hpp"
