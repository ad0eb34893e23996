// addmm and baddbmm: beta * input + alpha * (A @ B), one recorded node each whose backward is
// built from products with transpose flags (so it differentiates again).
#include "kernel.hpp"
#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/linalg.hpp"
#include "xgrad/autograd/profile_scope.hpp"

namespace xgrad {

namespace {

using Grads = std::vector<Tensor>;

Tensor add_product(const char* op, const char* node, const Tensor& input, const Tensor& a, const Tensor& b, double beta,
                   double alpha, bool batched) {
  for (const Tensor* t : {&input, &a, &b}) detail::check_defined(*t, op);
  const auto shapes = [&] {
    return fmt::format("input {}, {} {}, {} {}", input.shape(), batched ? "batch1" : "mat1", a.shape(),
                       batched ? "batch2" : "mat2", b.shape());
  };
  for (const Tensor* t : {&input, &a, &b})
    if (!is_floating(t->dtype()))
      throw Error(fmt::format("{}: expected float32 or float64 tensors, got {} ({})", op, t->dtype(), shapes()));
  if (input.dtype() != a.dtype() || a.dtype() != b.dtype())
    throw Error(
        fmt::format("{}: dtype mismatch: {}, {} and {} ({})", op, input.dtype(), a.dtype(), b.dtype(), shapes()));
  const std::int64_t rank = batched ? 3 : 2;
  if (a.dim() != rank || b.dim() != rank)
    throw Error(fmt::format("{}: expected {}-d {}, got {}", op, rank, batched ? "batch1 and batch2" : "mat1 and mat2",
                            shapes()));
  if (a.size(-1) != b.size(-2))
    throw Error(
        fmt::format("{}: the matrices cannot be multiplied ({} != {}) for {}", op, a.size(-1), b.size(-2), shapes()));
  if (batched && a.size(0) != b.size(0))
    throw Error(fmt::format("{}: batch sizes differ ({} != {}) for {}", op, a.size(0), b.size(0), shapes()));
  Shape out_shape = batched ? Shape{a.size(0), a.size(1), b.size(2)} : Shape{a.size(0), b.size(1)};
  if (!detail::broadcasts_to(input.shape(), out_shape))
    throw Error(fmt::format("{}: input of shape {} does not broadcast to the product's shape {} ({})", op,
                            input.shape(), out_shape, shapes()));

  Tensor out;
  {
    NoGradGuard ng;
    out = batched ? bmm(a, b) : mm(a, b);
    if (alpha != 1.0) out = mul(out, alpha);
    // beta = 0: input is not read at all, so NaN or inf in it cannot reach the result.
    if (beta != 0.0) out = add(out, beta == 1.0 ? input : mul(input, beta));
  }
  if (!any_requires_grad({&input, &a, &b})) return out;
  const bool ri = input.requires_grad(), ra = a.requires_grad(), rb = b.requires_grad();
  record(node, {input, a, b}, {out}, {rb ? a : Tensor(), ra ? b : Tensor()},
         [ri, ra, rb, beta, alpha, batched](const Grads& g, const Grads& s) {
           Tensor gi, ga, gb;
           if (ri) gi = beta == 1.0 ? g[0] : mul(g[0], beta);
           if (ra) {
             ga = batched ? matmul(g[0], s[1].transpose(-2, -1)) : mm(g[0], s[1], false, true);
             if (alpha != 1.0) ga = mul(ga, alpha);
           }
           if (rb) {
             gb = batched ? matmul(s[0].transpose(-2, -1), g[0]) : mm(s[0], g[0], true, false);
             if (alpha != 1.0) gb = mul(gb, alpha);
           }
           return Grads{gi, ga, gb};
         });
  return out;
}

}  // namespace

Tensor addmm(const Tensor& input, const Tensor& mat1, const Tensor& mat2, double beta, double alpha) {
  XGRAD_PROFILE_OP("addmm", input, mat1, mat2);
  Tensor out = add_product("addmm", "AddmmBackward", input, mat1, mat2, beta, alpha, false);
  XGRAD_PROFILE_FLOPS(2 * mat1.size(0) * mat1.size(1) * mat2.size(1));
  return out;
}

Tensor baddbmm(const Tensor& input, const Tensor& batch1, const Tensor& batch2, double beta, double alpha) {
  XGRAD_PROFILE_OP("baddbmm", input, batch1, batch2);
  Tensor out = add_product("baddbmm", "BaddbmmBackward", input, batch1, batch2, beta, alpha, true);
  XGRAD_PROFILE_FLOPS(2 * batch1.size(0) * batch1.size(1) * batch1.size(2) * batch2.size(2));
  return out;
}

}  // namespace xgrad
