// The kernel layer: what every hand-written loop in xgrad (core ops, nn, optim, data) and a
// user's custom op build on. detail: no stable API; it may change in any release.
//
//   dispatch.hpp  dtype -> C++ type (dispatch, dispatch_floating)
//   parallel.hpp  the one grain policy (kGrain, parallel_for) and deterministic reductions
//                 (chunked_reduce, fixed chunks: identical results at every thread count)
//   simd.hpp      XGRAD_SIMD_CLONES: AVX-512 / AVX2 / baseline clones picked at load time
//   math.hpp      vectorisable float32 exp, sigmoid and tanh (about 1 ulp)
//   elementwise.hpp  unary/binary maps over strided, broadcast operands (strided_rows)
//   copy.hpp      copy of a strided box (layout changes, tiled transposes)
//
// Where an op lives (one rule): element-wise math, reductions, shape/view ops and products
// are autograd ops (autograd/src/, declared in autograd/include/xgrad/autograd/); ops fused
// for a layer (softmax rows, losses, normalisations) live in nn. Both build their loops from
// this layer and nobody copies it.
//
// Recipe: a new unary op, e.g. erf, is about ten lines in autograd/src/elementwise_unary.cpp
// plus its declaration (formula, derivative) in elementwise.hpp and a Tensor method if wanted:
//
//   Tensor erf(const Tensor& a) {
//     Tensor out = unary_floating(a, "erf", []<class T>(T x) { return std::erf(x); });
//     if (any_requires_grad({&a}))
//       // d(erf a)/da = 2/sqrt(pi) e^(-a^2), itself built from ops (so it differentiates again)
//       record("ErfBackward", {a}, {out}, {a}, [](const Grads& g, const Grads& s) {
//         return Grads{mul(g[0], mul(exp(neg(mul(s[0], s[0]))), std::numbers::inv_sqrtpi * 2.0))};
//       });
//     return out;
//   }
//
// unary_floating() (dtype dispatch, the int64 error, unary_kernel: strided inputs, the
// parallel split) does the rest; then add a row to tests/autograd/test_op_db.cpp (values,
// gradcheck and gradgradcheck on contiguous, transposed, sliced and expanded inputs).
//
// Light on purpose: only std, fmt, oneTBB and xgrad/autograd/{dtype,tensor}.hpp; no xtensor
// (xtensor adaptors of tensors: <xgrad/autograd/xtensor.hpp>).
#pragma once

#include "xgrad/autograd/kernel/copy.hpp"
#include "xgrad/autograd/kernel/dispatch.hpp"
#include "xgrad/autograd/kernel/elementwise.hpp"
#include "xgrad/autograd/kernel/math.hpp"
#include "xgrad/autograd/kernel/parallel.hpp"
#include "xgrad/autograd/kernel/simd.hpp"
