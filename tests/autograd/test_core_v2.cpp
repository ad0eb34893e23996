// Core v2 (the views issue): the two examples, the engine's duties (broadcast
// gradients reduced by the engine, non-differentiable integer outputs, sum's gradient as a
// stride-0 view), products on transposed views without copies, and the layout errors.
// The big tables live in test_views_inplace.cpp and test_op_db.cpp.
#include "test_util.hpp"
#include "xgrad/autograd/indexing.hpp"
#include "xgrad/autograd/xtensor.hpp"

using namespace xgrad;
using xgrad::test::check_close;
using xgrad::test::rand64;

namespace {
Tensor f64(std::initializer_list<NestedList> v, bool rg = false) {
  return tensor(v, TensorOptions().dtype(float64).requires_grad(rg));
}
}  // namespace

BOOST_AUTO_TEST_SUITE(core_v2)

// The first example: an in-place op through a view rebases the base's history.
// a = 3y; a.view({1, 2}) *= 2 makes a = 6y, so d(sum a)/dy = [6, 6] (the old code gave [3, 3]).
BOOST_AUTO_TEST_CASE(inplace_through_view_reaches_the_base_history) {
  Tensor y = tensor({1., 2.}, TensorOptions().requires_grad());
  Tensor a = y * 3.0;
  a.view({1, 2}).mul_(2.0);
  BOOST_CHECK(a.to_vector<float>() == (std::vector<float>{6, 12}));
  BOOST_CHECK_EQUAL(a.grad_fn_name(), "CopySlices");
  a.sum().backward();
  BOOST_CHECK(y.grad().to_vector<float>() == (std::vector<float>{6, 6}));
}

// The second example: narrow is a view, so fill_ through it writes into z.
BOOST_AUTO_TEST_CASE(narrow_fill_writes_into_the_base) {
  Tensor z = zeros({4});
  z.narrow(0, 1, 2).fill_(5);
  BOOST_CHECK(z.to_vector<float>() == (std::vector<float>{0, 5, 5, 0}));
  Tensor m = zeros({2, 3});
  m.t().select(0, 1).copy_(tensor({7., 8.}));  // column 1
  BOOST_CHECK(m.to_vector<float>() == (std::vector<float>{0, 7, 0, 0, 8, 0}));
}

// sum's backward hands out its gradient as an expanded view (stride 0), never materialised.
BOOST_AUTO_TEST_CASE(sum_gradient_is_a_stride_zero_view) {
  Tensor x = rand64({3, 4}).requires_grad_();
  auto g = autograd::grad({x.sum()}, {x});
  BOOST_CHECK(g[0].strides() == (Shape{0, 0}));
  BOOST_CHECK(!g[0].is_contiguous());
  check_close(g[0], ones({3, 4}, dtype(float64)), 0);
  // .grad() itself is stored contiguous (optimizers read it packed).
  x.sum().backward();
  BOOST_CHECK(x.grad().is_contiguous());
  check_close(x.grad(), ones({3, 4}, dtype(float64)), 0);
}

// The engine sums a gradient over the broadcast dims of its input: a custom op may return
// the broadcast-shaped gradient. d/db sum(a + b) with b [4] broadcast over a [3, 4] is 3.
BOOST_AUTO_TEST_CASE(engine_reduces_broadcast_gradients) {
  Tensor a = rand64({3, 4}).requires_grad_();
  Tensor b = rand64({4}).requires_grad_();
  Tensor out = apply_lambda(
      "BroadcastAdd", {a, b}, [](const std::vector<Tensor>& in) { return in[0] + in[1]; },
      [](const std::vector<Tensor>&, const Tensor&, const Tensor& g) { return std::vector<Tensor>{g, g}; });
  out.sum().backward();
  check_close(b.grad(), full({4}, 3.0, dtype(float64)), 0);
  check_close(a.grad(), ones({3, 4}, dtype(float64)), 0);
  // A gradient that does not broadcast to the input still throws, naming the op.
  Tensor c = rand64({4}).requires_grad_();
  Tensor bad = apply_lambda(
      "BadGrad", {c}, [](const std::vector<Tensor>& in) { return in[0] * 2.0; },
      [](const std::vector<Tensor>&, const Tensor&, const Tensor&) { return std::vector<Tensor>{ones({5}, dtype(float64))}; });
  XGRAD_CHECK_THROW_MSG(bad.sum().backward(), "BadGrad");
}

// Integer outputs (indices) never require grad; custom ops can mark outputs likewise.
BOOST_AUTO_TEST_CASE(non_differentiable_outputs) {
  Tensor x = f64({{1, 5, 2}, {7, 0, 3}}, true);
  auto [values, indices] = x.max(1);
  BOOST_CHECK(values.requires_grad());
  BOOST_CHECK(!indices.requires_grad());
  BOOST_CHECK(indices.is_leaf());
  struct TwoOut : Function<TwoOut> {
    static std::vector<Tensor> forward(FunctionCtx& ctx, const Tensor& a) {
      Tensor y = a * 2.0, flag = (a > 2.0).to(float64);
      ctx.mark_non_differentiable({flag});
      return {y, flag};
    }
    static std::vector<Tensor> backward(FunctionCtx&, const std::vector<Tensor>& g) { return {g[0] * 2.0}; }
  };
  auto outs = TwoOut::apply(x);
  BOOST_CHECK(outs[0].requires_grad());
  BOOST_CHECK(!outs[1].requires_grad());
  outs[0].sum().backward();
  check_close(x.grad(), full({2, 3}, 2.0, dtype(float64)), 0);
}

// A transposed view goes to BLAS with the transpose flag; the result and the gradients equal
// those of the packed copy, also batched (attention's k.transpose(-2, -1)).
BOOST_AUTO_TEST_CASE(products_on_transposed_views) {
  Tensor a = rand64({5, 3}).requires_grad_(), b = rand64({5, 4}).requires_grad_();
  Tensor via_view = matmul(a.t(), b);
  Tensor via_copy = matmul(a.t().contiguous(), b);
  check_close(via_view, via_copy, 1e-12);
  via_view.sum().backward();
  Tensor ga = a.grad(), gb = b.grad();
  a.set_grad(Tensor());
  b.set_grad(Tensor());
  via_copy.sum().backward();
  check_close(ga, a.grad(), 1e-12);
  check_close(gb, b.grad(), 1e-12);
  Tensor q = rand64({2, 3, 6, 4}), k = rand64({2, 3, 6, 4});
  check_close(matmul(q, k.transpose(-2, -1)), matmul(q, k.transpose(-2, -1).contiguous()), 1e-12);
  // Heads split by view + permute (non-contiguous batch dims): packed, same values.
  Tensor x = rand64({2, 6, 12});
  Tensor h = x.view({2, 6, 3, 4}).permute({0, 2, 1, 3});
  BOOST_CHECK(!h.is_contiguous());
  check_close(matmul(h, h.transpose(-2, -1)), matmul(h.contiguous(), h.contiguous().transpose(-2, -1).contiguous()),
              1e-12);
}

BOOST_AUTO_TEST_CASE(layout_errors) {
  Tensor a = rand64({2, 3});
  XGRAD_CHECK_THROW_MSG(a.t().data_ptr<double>(), "is not contiguous");
  XGRAD_CHECK_THROW_MSG(a.t().view({6}), "use .reshape");
  BOOST_CHECK(a.t().reshape({6}).is_contiguous());
  XGRAD_CHECK_THROW_MSG(a.select(1, 3), "select: index 3 is out of range for dimension 1 of size 3");
  XGRAD_CHECK_THROW_MSG(a.as_strided({2, 4}, {4, 1}), "as_strided");
  XGRAD_CHECK_THROW_MSG(a.as_strided({3, 2}, {INT64_MAX / 2 + 1, 1}), "reach past the int64 range");
  Tensor e = zeros({3}).expand({2, 3});
  XGRAD_CHECK_THROW_MSG(e.add_(1.0), "more than one element of the written-to tensor");
  using namespace xgrad::indexing;
  XGRAD_CHECK_THROW_MSG(a.index({0, 1, 2}), "too many indices for tensor of shape [2, 3]");
  XGRAD_CHECK_THROW_MSG(a.index({Slice(None, None, 0)}), "index: slice step must be positive");
  // Extreme lengths, steps and offsets are compared, never added (no int64 overflow).
  XGRAD_CHECK_THROW_MSG(a.narrow(1, 1, INT64_MAX), "narrow: start (1) + length (9223372036854775807) exceeds");
  Tensor col = a.slice(1, 0, 3, INT64_MAX);  // column 0 only
  BOOST_CHECK(col.shape() == (Shape{2, 1}));
  check_close(col, a.narrow(1, 0, 1), 0);
  BOOST_CHECK(a.diagonal(INT64_MIN).shape() == (Shape{0}));
  BOOST_CHECK(a.diagonal(INT64_MAX).shape() == (Shape{0}));
  BOOST_CHECK(a.diagonal(-1).shape() == (Shape{1}));
}

// unbind's pieces are views made by one node whose backward is one stack (no per-piece
// full-size gradients).
BOOST_AUTO_TEST_CASE(unbind_is_one_node) {
  Tensor x = rand64({4, 3}).requires_grad_();
  auto rows = x.unbind(0);
  BOOST_CHECK_EQUAL(rows.size(), 4u);
  for (const auto& r : rows) {
    BOOST_CHECK(r.is_view());
    BOOST_CHECK(r.grad_fn().get() == rows[0].grad_fn().get());
  }
  BOOST_CHECK_EQUAL(rows[0].grad_fn_name(), "UnbindBackward");
  (rows[1] * 2.0 + rows[3]).sum().backward();
  check_close(x.grad(), f64({{0, 0, 0}, {2, 2, 2}, {0, 0, 0}, {1, 1, 1}}), 0);
}

// t.data<T>() is an xtensor adaptor with the tensor's shape and strides: a transposed view
// reads (and writes) the base's elements in place.
BOOST_AUTO_TEST_CASE(xtensor_adaptor_of_a_view) {
  Tensor a = f64({{1, 2, 3}, {4, 5, 6}});
  auto x = a.t().data<double>();
  BOOST_CHECK_EQUAL(x.shape()[0], 3u);
  BOOST_CHECK_EQUAL(x(2, 0), 3.0);
  BOOST_CHECK_EQUAL(x(0, 1), 4.0);
  x(1, 1) = 50.0;
  BOOST_CHECK_EQUAL(a.to_vector<double>()[4], 50.0);
  auto s = a.slice(1, 0, 3, 2).data<double>();  // columns 0 and 2
  BOOST_CHECK_EQUAL(s(1, 1), 6.0);
}

// A weight shared by several products (an RNN's W) collects its gradient by adding each
// step's product into the engine's sum in place (gemm with beta = 1), and x's gradient from
// x * y + x folds g into mul's pass: both equal the step-by-step sums.
BOOST_AUTO_TEST_CASE(backward_folds_accumulated_gradients) {
  Tensor w = rand64({4, 4}).requires_grad_();
  Tensor x = rand64({3, 2, 4});
  auto step = [&](const Tensor& h, const Tensor& xt) { return (xt + h.matmul(w)).tanh(); };
  Tensor h = zeros({2, 4}, dtype(float64));
  for (const Tensor& xt : x.unbind(0)) h = step(h, xt);
  h.sum().backward();
  // Reference: the same graph differentiated with create_graph, which turns the engine's
  // folding off; then gradcheck of the whole unrolled loop.
  Tensor h2 = zeros({2, 4}, dtype(float64));
  for (const Tensor& xt : x.unbind(0)) h2 = step(h2, xt);
  autograd::GradOptions go;
  go.create_graph = true;
  auto g2 = autograd::grad({h2.sum()}, {w}, {}, go);
  check_close(w.grad(), g2[0].detach(), 1e-12);
  xgrad::test::check_gradcheck(
      [&](const std::vector<Tensor>& in) {
        Tensor hh = zeros({2, 4}, dtype(float64));
        for (const Tensor& xt : x.unbind(0)) hh = (xt + hh.matmul(in[0])).tanh();
        return hh.sum();
      },
      {rand64({4, 4}).requires_grad_()});
  Tensor a = rand64({5}).requires_grad_(), b = rand64({5}).requires_grad_();
  (a * b + a).sum().backward();
  check_close(a.grad(), b.detach() + 1.0, 1e-15);  // d/da (ab + a) = b + 1
  check_close(b.grad(), a.detach(), 0);
}

BOOST_AUTO_TEST_SUITE_END()
