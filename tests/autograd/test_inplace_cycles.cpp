// In-place ops whose recorded op saves the tensor being written (x.mul_(x)): the node that
// becomes x's grad_fn must not hold x, or node and tensor keep each other alive forever
// (found by fuzz_ops), nor may an older node below it that saved x (a.add_(a * y)), nor one
// that saved another tensor written since (m = x * y; x.div_(z); z.add_(m)). Backward still
// raises the version error, as in PyTorch.
#include <cmath>
#include <memory>

#include "test_util.hpp"

using namespace xgrad;
using xgrad::test::check_close;

namespace {

struct Watched {
  std::weak_ptr<Node> node;
  std::weak_ptr<TensorImpl> impl;
  void watch(const Tensor& t) {
    node = t.grad_fn();
    impl = t.impl();
    BOOST_REQUIRE(!node.expired());
  }
  void check_freed() const {
    BOOST_CHECK_MESSAGE(node.expired(), "the grad_fn is still alive: a reference cycle");
    BOOST_CHECK_MESSAGE(impl.expired(), "the written tensor is still alive: a reference cycle");
  }
};

const char* const kVersionError = "modified by an in-place operation";

}  // namespace

BOOST_AUTO_TEST_SUITE(inplace_cycles)

BOOST_AUTO_TEST_CASE(mul_by_itself_frees_the_graph) {
  Watched w;
  {
    Tensor y = tensor({1.0, -2.0, 3.0}, dtype(float64).requires_grad());
    Tensor x = y.mul(3.0);
    x.mul_(x);
    w.watch(x);
    BOOST_CHECK_EQUAL(x.grad_fn()->name(), "MulBackward");
    check_close(x.detach(), tensor({9.0, 36.0, 81.0}, dtype(float64)));
    // x * x saved x; the in-place write bumped its version (PyTorch raises the same error).
    XGRAD_CHECK_THROW_MSG(x.sum().backward(), kVersionError);
  }
  w.check_freed();
}

BOOST_AUTO_TEST_CASE(div_by_itself_and_by_a_view_of_itself_free_the_graph) {
  Watched by_self, by_view;
  {
    Tensor y = tensor({1.0, 2.0, 4.0}, dtype(float64).requires_grad());
    Tensor x = y.mul(1.0);
    x.div_(x);
    by_self.watch(x);
    XGRAD_CHECK_THROW_MSG(x.sum().backward(), kVersionError);

    // The saved operand is a view of x: it holds x through its view base.
    Tensor z = y.mul(2.0);
    z.mul_(z.select(0, 1));
    by_view.watch(z);
    check_close(z.detach(), tensor({8.0, 16.0, 32.0}, dtype(float64)));
    XGRAD_CHECK_THROW_MSG(z.sum().backward(), kVersionError);
  }
  by_self.check_freed();
  by_view.check_freed();
}

BOOST_AUTO_TEST_CASE(inplace_through_a_view_frees_the_graph) {
  // The base takes a CopySlices grad_fn whose edge leads to the MulBackward that saved the
  // view (and, through its view base, the base itself).
  Watched same_view, other_view;
  {
    Tensor y = tensor({1.0, 2.0, 3.0, 4.0}, dtype(float64).requires_grad());
    Tensor b = y.mul(1.0);
    Tensor v = b.narrow(0, 0, 2);
    v.mul_(v);
    same_view.watch(b);
    BOOST_CHECK_EQUAL(b.grad_fn()->name(), "CopySlices");
    check_close(b.detach(), tensor({1.0, 4.0, 3.0, 4.0}, dtype(float64)));
    XGRAD_CHECK_THROW_MSG(b.sum().backward(), kVersionError);

    Tensor c = y.mul(1.0);
    c.narrow(0, 0, 2).mul_(c.narrow(0, 2, 2));
    other_view.watch(c);
    check_close(c.detach(), tensor({3.0, 8.0, 3.0, 4.0}, dtype(float64)));
    XGRAD_CHECK_THROW_MSG(c.sum().backward(), kVersionError);
  }
  same_view.check_freed();
  other_view.check_freed();
}

BOOST_AUTO_TEST_CASE(an_older_node_that_saved_the_tensor_is_freed_too) {
  // a.add_(a * y): the new AddBackward's edge leads to the MulBackward of a * y, which saved a
  // (PyTorch keeps this cycle, pytorch#105147). The second case reaches it two nodes down
  // (found by fuzz_ops in CI).
  Watched direct, deeper;
  {
    Tensor y = tensor({1.0, 2.0}, dtype(float64).requires_grad());
    Tensor a = y.mul(3.0);
    a.add_(a * y);
    direct.watch(a);
    check_close(a.detach(), tensor({6.0, 18.0}, dtype(float64)));  // 3y + 3y * y
    XGRAD_CHECK_THROW_MSG(a.sum().backward(), kVersionError);

    Tensor b = y.mul(1.0);
    b.mul_((b * y).exp());
    deeper.watch(b);
    check_close(b.detach(), tensor({std::exp(1.0), 2.0 * std::exp(4.0)}, dtype(float64)));
    XGRAD_CHECK_THROW_MSG(b.sum().backward(), kVersionError);
  }
  direct.check_freed();
  deeper.check_freed();
}

BOOST_AUTO_TEST_CASE(a_cycle_closed_by_a_second_inplace_op_is_freed) {
  // No node below either write saved the written tensor, so neither walk alone sees a cycle
  // (found by fuzz_ops: the two fuzz/corpus/ops/leak-* inputs are of this kind):
  //   m = x * y saves x;  x.div_(z): DivBackward saves z;  z.add_(m): z's new AddBackward
  //   leads to m's MulBackward, which holds x, whose grad_fn (DivBackward) holds z.
  // The MulBackward's saved x went stale at x.div_: the second walk cuts it.
  Watched x_node, z_node;
  {
    Tensor y = tensor({1.0, 2.0}, dtype(float64).requires_grad());
    Tensor x = y.mul(2.0);
    Tensor z = y.mul(-1.0);
    Tensor m = x * y;
    x.div_(z);
    z.add_(m);
    x_node.watch(x);
    z_node.watch(z);
    check_close(x.detach(), tensor({-2.0, -2.0}, dtype(float64)));  // 2y / -y
    check_close(z.detach(), tensor({1.0, 6.0}, dtype(float64)));    // -y + 2y * y
    // x's DivBackward saved z, which z.add_ then modified; z's history reaches the
    // MulBackward that saved x before x.div_ (PyTorch raises both errors too).
    XGRAD_CHECK_THROW_MSG(x.sum().backward(), kVersionError);
    XGRAD_CHECK_THROW_MSG(z.sum().backward(), kVersionError);
  }
  x_node.check_freed();
  z_node.check_freed();
}

BOOST_AUTO_TEST_CASE(ops_that_keep_a_valid_graph_are_unchanged) {
  // mul_ by another tensor saves a clone of x, not x: backward works and frees the graph.
  Watched w;
  {
    Tensor y = tensor({1.0, 2.0}, dtype(float64).requires_grad());
    Tensor s = tensor({3.0, 5.0}, dtype(float64).requires_grad());
    Tensor x = y.mul(2.0);
    x.mul_(s);
    w.watch(x);
    x.sum().backward();
    // d(2 y s)/dy = 2 s, d(2 y s)/ds = 2 y
    check_close(y.grad(), tensor({6.0, 10.0}, dtype(float64)));
    check_close(s.grad(), tensor({2.0, 4.0}, dtype(float64)));
  }
  w.check_freed();
}

BOOST_AUTO_TEST_SUITE_END()
