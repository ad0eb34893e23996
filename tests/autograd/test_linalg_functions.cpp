// addmm / baddbmm and xgrad::linalg (norms, svdvals, inv, solve, cholesky, det, slogdet):
// hand-computed values and identities, batches and broadcasting, empty and 0-d edge cases,
// hand-derived gradients, gradcheck / gradgradcheck of the cases the op table does not reach
// (singular det, broadcast solve, upper Cholesky, norm edge orders), thread-count
// independence and the errors (op, shapes, batch element).
#include <cmath>
#include <limits>

#include "test_util.hpp"
#include "xgrad/autograd/linalg_functions.hpp"

using namespace xgrad;
using xgrad::test::check_close;
using xgrad::test::check_gradcheck;
using xgrad::test::check_gradgradcheck;
using xgrad::test::check_values;
namespace la = xgrad::linalg;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

Tensor f64(const std::vector<double>& v, const Shape& s) { return from_vector<double>(v, s); }
Tensor rnd(const Shape& s) { return randn(s, dtype(float64)); }
std::vector<double> values(const Tensor& t) { return t.detach().contiguous().to(float64).to_vector<double>(); }

// X X^T + n I: symmetric positive-definite and well conditioned for small random X.
Tensor spd(const Tensor& x) {
  return matmul(x, x.transpose(-2, -1)) + eye(x.size(-1), -1, dtype(x.dtype())) * double(x.size(-1));
}
// X + 2n I: non-symmetric (so a transposed gradient would show) and well conditioned.
Tensor shifted(const Tensor& x) { return x + eye(x.size(-1), -1, dtype(x.dtype())) * (2.0 * double(x.size(-1))); }

struct ThreadCountGuard {
  int saved = get_num_threads();
  ~ThreadCountGuard() { set_num_threads(saved); }
};

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

}  // namespace

BOOST_AUTO_TEST_SUITE(linalg_functions)

// ---- addmm / baddbmm ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(addmm_values_broadcast_and_scalars) {
  const Tensor m1 = f64({1, 2, 3, 4}, {2, 2}), m2 = f64({5, 6, 7, 8}, {2, 2});  // m1 m2 = [[19, 22], [43, 50]]
  check_values(addmm(f64({1, 1, 1, 1}, {2, 2}), m1, m2), {2, 2}, {20, 23, 44, 51});
  // input [2] broadcasts over rows; beta 2, alpha 0.5
  check_values(addmm(f64({1, -1}, {2}), m1, m2, 2.0, 0.5), {2, 2}, {11.5, 9, 23.5, 23});
  // input [2, 1] broadcasts over columns
  check_values(addmm(f64({10, 20}, {2, 1}), m1, m2), {2, 2}, {29, 32, 63, 70});
  // beta = 0: input is ignored, NaN included (PyTorch)
  check_values(addmm(f64({kNaN, kInf, 1, 1}, {2, 2}), m1, m2, 0.0), {2, 2}, {19, 22, 43, 50});
  BOOST_CHECK(addmm(zeros({3}), randn({2, 4}), randn({4, 3})).dtype() == float32);
}

BOOST_AUTO_TEST_CASE(baddbmm_values) {
  manual_seed(1);
  const Tensor in = rnd({3, 1, 4}), b1 = rnd({3, 2, 5}), b2 = rnd({3, 5, 4});
  check_close(baddbmm(in, b1, b2, 0.5, -2.0), in * 0.5 + bmm(b1, b2) * -2.0, 1e-12);
  check_close(baddbmm(in, b1, b2), in + bmm(b1, b2), 1e-12);
  const Tensor nan_in = full({3, 2, 4}, kNaN, dtype(float64));
  check_close(baddbmm(nan_in, b1, b2, 0.0), bmm(b1, b2), 0);
}

BOOST_AUTO_TEST_CASE(addmm_hand_derived_gradient) {
  // out = beta in + alpha m1 m2, loss = sum(out * w):
  // d in = beta w (summed over the broadcast rows for a [2] input), d m1 = alpha w m2^T,
  // d m2 = alpha m1^T w. With w = [[1, 0], [0, 2]], m1 = [[1, 2], [3, 4]], m2 = [[5, 6], [7, 8]],
  // beta = 3, alpha = 2: d in = 3 [1 + 0, 0 + 2] = [3, 6];
  // w m2^T = [[5, 7], [12, 16]] -> d m1 = [[10, 14], [24, 32]];
  // m1^T w = [[1, 6], [2, 8]] -> d m2 = [[2, 12], [4, 16]].
  Tensor in = f64({0, 0}, {2}).requires_grad_(true);
  Tensor m1 = f64({1, 2, 3, 4}, {2, 2}).requires_grad_(true), m2 = f64({5, 6, 7, 8}, {2, 2}).requires_grad_(true);
  (addmm(in, m1, m2, 3.0, 2.0) * f64({1, 0, 0, 2}, {2, 2})).sum().backward();
  check_values(in.grad(), {2}, {3, 6});
  check_values(m1.grad(), {2, 2}, {10, 14, 24, 32});
  check_values(m2.grad(), {2, 2}, {2, 12, 4, 16});
  BOOST_CHECK_EQUAL(addmm(in, m1, m2).grad_fn_name(), "AddmmBackward");
  // beta = 0: the input's gradient is zero (PyTorch's grad * beta), never NaN
  Tensor in2 = f64({kNaN, 1}, {2}).requires_grad_(true);
  addmm(in2, m1, m2, 0.0).sum().backward();
  check_values(in2.grad(), {2}, {0, 0});
}

BOOST_AUTO_TEST_CASE(addmm_baddbmm_gradcheck) {
  manual_seed(2);
  const std::vector<Tensor> a = {rnd({3}).requires_grad_(true), rnd({2, 4}).requires_grad_(true),
                                 rnd({4, 3}).requires_grad_(true)};
  const Fn f = [](const std::vector<Tensor>& t) { return addmm(t[0], t[1], t[2], 0.7, -1.3); };
  check_gradcheck(f, a);
  check_gradgradcheck(f, a);
  const std::vector<Tensor> b = {rnd({2, 1, 3}).requires_grad_(true), rnd({2, 2, 4}).requires_grad_(true),
                                 rnd({2, 4, 3}).requires_grad_(true)};
  const Fn g = [](const std::vector<Tensor>& t) { return baddbmm(t[0], t[1], t[2], 0.0, 2.0); };
  check_gradcheck(g, b);
  check_gradgradcheck(g, b);
}

BOOST_AUTO_TEST_CASE(addmm_baddbmm_errors) {
  const Tensor m = zeros({2, 3}, dtype(float64)), n = zeros({3, 4}, dtype(float64));
  XGRAD_CHECK_THROW_MSG(addmm(zeros({2, 4}, dtype(float64)), m, m),
                        "addmm: the matrices cannot be multiplied (3 != 2) for input [2, 4], mat1 [2, 3], mat2 [2, 3]");
  XGRAD_CHECK_THROW_MSG(addmm(zeros({3, 4}, dtype(float64)), m, n),
                        "addmm: input of shape [3, 4] does not broadcast to the product's shape [2, 4]");
  XGRAD_CHECK_THROW_MSG(addmm(zeros({4}, dtype(float64)), zeros({3}, dtype(float64)), n),
                        "addmm: expected 2-d mat1 and mat2");
  XGRAD_CHECK_THROW_MSG(addmm(zeros({4}, dtype(int64)), zeros({2, 3}, dtype(int64)), zeros({3, 4}, dtype(int64))),
                        "addmm: expected float32 or float64 tensors, got int64");
  XGRAD_CHECK_THROW_MSG(addmm(zeros({4}), m, n), "addmm: dtype mismatch: float32, float64 and float64");
  XGRAD_CHECK_THROW_MSG(
      baddbmm(zeros({1}, dtype(float64)), zeros({2, 2, 3}, dtype(float64)), zeros({3, 3, 4}, dtype(float64))),
      "baddbmm: batch sizes differ (2 != 3)");
  XGRAD_CHECK_THROW_MSG(baddbmm(zeros({1}, dtype(float64)), m, n), "baddbmm: expected 3-d batch1 and batch2");
}

// ---- vector norms ------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(vector_norm_orders) {
  const Tensor x = f64({3, -4, 0, 1}, {4});
  check_values(la::vector_norm(x), {}, {std::sqrt(26.0)});
  check_values(la::vector_norm(x, 1), {}, {8});
  check_values(la::vector_norm(x, kInf), {}, {4});
  check_values(la::vector_norm(x, -kInf), {}, {0});
  check_values(la::vector_norm(x, 0), {}, {3});  // nonzero count
  check_values(la::vector_norm(x, 3), {}, {std::cbrt(27.0 + 64.0 + 1.0)});
  check_values(la::vector_norm(x, 0.5), {}, {std::pow(std::sqrt(3.0) + 2.0 + 1.0, 2.0)});
  // negative p: (sum |x|^p)^(1/p); a zero element makes it 0
  check_values(la::vector_norm(f64({1, 2, 4}, {3}), -1), {}, {1.0 / (1.0 + 0.5 + 0.25)});
  check_values(la::vector_norm(x, -1), {}, {0});
}

BOOST_AUTO_TEST_CASE(vector_norm_dims_and_keepdim) {
  const Tensor x = f64({3, 4, 0, 5, 12, 0}, {2, 3});
  check_values(la::vector_norm(x, 2.0, 0), {3}, {std::sqrt(34.0), std::sqrt(160.0), 0});
  check_values(la::vector_norm(x, 2.0, -1, true), {2, 1}, {5, 13});
  check_values(la::vector_norm(x, 1.0, {0, 1}), {}, {24});
  check_values(la::vector_norm(x, 1.0, {}, true), {1, 1}, {24});  // empty list: all dims
  check_values(la::vector_norm(x, 3.0, {1}, true), {2, 1}, {std::cbrt(91.0), std::cbrt(125.0 + 1728.0)});
  check_values(la::vector_norm(x, 0.0, {1}), {2}, {2, 2});
  check_values(la::vector_norm(x, -kInf, {0}), {3}, {3, 4, 0});
  // a 0-d tensor accepts dim 0 and -1
  check_values(la::vector_norm(scalar_tensor(-2.0, dtype(float64)), 3.0, 0), {}, {2});
  // empty reductions: 0 for finite orders
  check_values(la::vector_norm(zeros({0}, dtype(float64))), {}, {0});
  check_values(la::vector_norm(zeros({2, 0}, dtype(float64)), 3.0, {1}), {2}, {0, 0});
}

BOOST_AUTO_TEST_CASE(vector_norm_hand_derived_gradients) {
  // p = 3: d/dx_i = sign(x_i) |x_i|^2 / ||x||_3^2. x = [1, -2]: ||x||^3 = 9, ||x||^2 = 9^(2/3).
  Tensor x = f64({1, -2}, {2}).requires_grad_(true);
  la::vector_norm(x, 3).backward();
  const double n2 = std::pow(9.0, 2.0 / 3.0);
  check_values(x.grad(), {2}, {1 / n2, -4 / n2});
  // p = 0.5 with a zero element: its gradient is 0 (PyTorch's masked formula), the others
  // sign(x) |x|^-0.5 norm^0.5. x = [4, 0, 1]: norm = (2 + 0 + 1)^2 = 9.
  Tensor y = f64({4, 0, 1}, {3}).requires_grad_(true);
  la::vector_norm(y, 0.5).backward();
  check_values(y.grad(), {3}, {0.5 * 3, 0, 1 * 3});
  // p = 2 and p = 3 at the zero vector: 0, not NaN
  for (double p : {2.0, 3.0, 1.5}) {
    Tensor z = zeros({3}, dtype(float64)).requires_grad_(true);
    la::vector_norm(z, p).backward();
    check_values(z.grad(), {3}, {0, 0, 0});
  }
  // p = 0: zero gradient; -inf: the smallest |x| gets it with its sign
  Tensor w = f64({2, -1, 3}, {3}).requires_grad_(true);
  la::vector_norm(w, 0.0).backward();
  check_values(w.grad(), {3}, {0, 0, 0});
  Tensor v = f64({2, -1, 3}, {3}).requires_grad_(true);
  la::vector_norm(v, -kInf).backward();
  check_values(v.grad(), {3}, {0, -1, 0});
}

BOOST_AUTO_TEST_CASE(vector_norm_gradcheck_orders) {
  manual_seed(3);
  for (double p : {2.0, 1.0, kInf, -kInf, 0.0, 3.0, 1.5, 0.5, -1.5}) {
    BOOST_TEST_CONTEXT("ord " << p) {
      // values away from 0 and from each other in |x|
      const std::vector<Tensor> in = {f64({0.7, -1.3, 2.1, -0.4, 1.8, -2.6}, {2, 3}).requires_grad_(true)};
      const Fn f = [p](const std::vector<Tensor>& t) { return la::vector_norm(t[0], p, {1}); };
      check_gradcheck(f, in);
      check_gradgradcheck(f, in);
    }
  }
}

BOOST_AUTO_TEST_CASE(vector_norm_errors) {
  XGRAD_CHECK_THROW_MSG(la::vector_norm(zeros({3}, dtype(int64))),
                        "linalg.vector_norm: expected a float32 or float64 tensor, got int64 for input of shape [3]");
  XGRAD_CHECK_THROW_MSG(la::vector_norm(zeros({2, 3}), 2.0, 2), "linalg.vector_norm: dim 2 out of range");
  XGRAD_CHECK_THROW_MSG(la::vector_norm(zeros({2, 3}), 2.0, {1, -1}),
                        "linalg.vector_norm: dim 1 appears more than once");
  XGRAD_CHECK_THROW_MSG(la::vector_norm(zeros({2, 0}), kInf, {1}),
                        "linalg.vector_norm: cannot compute the inf norm of an empty reduction");
  XGRAD_CHECK_THROW_MSG(la::vector_norm(zeros({0}), -kInf), "cannot compute the -inf norm of an empty reduction");
  XGRAD_CHECK_THROW_MSG(la::vector_norm(scalar_tensor(1.0), 2.0, 1), "linalg.vector_norm: dim 1 out of range");
}

// ---- matrix norms, norm, svdvals ---------------------------------------------------------------

BOOST_AUTO_TEST_CASE(matrix_norm_orders) {
  // A = [[1, -2], [3, 4]]: column sums of |A| 4, 6; row sums 3, 7; A^T A = [[10, 10], [10, 20]]
  // has eigenvalues 15 +- sqrt(125), so s = sqrt(15 +- sqrt(125)) (product 10 = |det A|).
  const Tensor A = f64({1, -2, 3, 4}, {2, 2});
  const double s1 = std::sqrt(15 + std::sqrt(125.0)), s2 = std::sqrt(15 - std::sqrt(125.0));
  check_values(la::matrix_norm(A), {}, {std::sqrt(30.0)});
  check_values(la::matrix_norm(A, "fro"), {}, {std::sqrt(30.0)});
  check_values(la::matrix_norm(A, "nuc"), {}, {s1 + s2});
  check_values(la::matrix_norm(A, 1), {}, {6});
  check_values(la::matrix_norm(A, -1), {}, {4});
  check_values(la::matrix_norm(A, kInf), {}, {7});
  check_values(la::matrix_norm(A, -kInf), {}, {3});
  check_values(la::matrix_norm(A, 2), {}, {s1});
  check_values(la::matrix_norm(A, -2), {}, {s2});
  check_values(la::svdvals(A), {2}, {s1, s2});
}

BOOST_AUTO_TEST_CASE(matrix_norm_dims_batches_and_keepdim) {
  manual_seed(4);
  const Tensor A = rnd({2, 3, 4});
  // dims (0, 2): the matrices A[:, j, :]
  const Tensor r = la::matrix_norm(A, 1, {0, 2});
  BOOST_REQUIRE(r.shape() == (Shape{3}));
  for (std::int64_t j = 0; j < 3; ++j) check_close(r.select(0, j), la::matrix_norm(A.select(1, j), 1), 1e-12);
  BOOST_CHECK(la::matrix_norm(A, "nuc", {0, 2}, true).shape() == (Shape{1, 3, 1}));
  BOOST_CHECK(la::matrix_norm(A, 2, {2, 0}, true).shape() == (Shape{1, 3, 1}));
  check_close(la::matrix_norm(A, -2, {2, 0}), la::matrix_norm(A, -2, {0, 2}), 1e-12);  // transposes share svdvals
  // inf over dims (-1, -2) is the 1-norm over (-2, -1)
  check_close(la::matrix_norm(A, kInf, {-1, -2}), la::matrix_norm(A, 1), 1e-12);
  check_close(la::matrix_norm(A, "fro", {-2, -1}, true), la::vector_norm(A, 2.0, {1, 2}, true), 1e-12);
  // batched svdvals: descending, each batch its own
  const Tensor s = la::svdvals(A);
  BOOST_REQUIRE(s.shape() == (Shape{2, 3}));
  for (std::int64_t b = 0; b < 2; ++b) {
    check_close(s.select(0, b), la::svdvals(A.select(0, b)), 1e-12);
    const auto v = values(s.select(0, b));
    BOOST_CHECK(v[0] >= v[1] && v[1] >= v[2] && v[2] >= 0);
  }
  // rectangular both ways: sum s^2 is the squared Frobenius norm
  for (const Shape& sh : {Shape{5, 2}, Shape{2, 5}}) {
    const Tensor M = rnd(sh);
    check_close((la::svdvals(M) * la::svdvals(M)).sum(), (M * M).sum(), 1e-12);
  }
  // empty matrices: "fro" and "nuc" are 0
  check_values(la::matrix_norm(zeros({0, 3}, dtype(float64)), "nuc"), {}, {0});
  check_values(la::matrix_norm(zeros({0, 3}, dtype(float64)), 1), {}, {0});
  BOOST_CHECK(la::svdvals(zeros({4, 0, 3}, dtype(float64))).shape() == (Shape{4, 0}));
}

BOOST_AUTO_TEST_CASE(norm_picks_vector_or_matrix_norms) {
  const Tensor A = f64({1, -2, 3, 4}, {2, 2});
  const double s1 = std::sqrt(15 + std::sqrt(125.0));
  check_values(la::norm(A), {}, {std::sqrt(30.0)});           // no ord: 2-norm of all elements
  check_values(la::norm(A, 2), {}, {s1});                     // 2-d with ord: the spectral norm
  check_values(la::norm(A, 2, 1), {2}, {std::sqrt(5.0), 5});  // one dim: vector norms of rows
  check_values(la::norm(A, 1, {0}), {2}, {4, 6});
  check_values(la::norm(A, kInf), {}, {7});  // matrix inf-norm
  check_values(la::norm(A, "nuc"), {}, {s1 + std::sqrt(15 - std::sqrt(125.0))});
  check_values(la::norm(A, std::nullopt, Dims{0, 1}), {}, {std::sqrt(30.0)});
  check_values(la::norm(A, std::nullopt, {1}), {2}, {std::sqrt(5.0), 5});
  check_values(la::norm(A, 2, std::nullopt, true), {1, 1}, {s1});  // no dim, keepdim
  check_values(la::norm(f64({3, -4}, {2}), kInf), {}, {4});        // 1-d: vector norm
  const Tensor T = f64({1, 2, 3, 4, 5, 6, 7, 8}, {2, 2, 2});
  check_values(la::norm(T), {}, {std::sqrt(204.0)});   // any rank without ord and dim
  check_values(la::norm(T, 1, {1, 2}), {2}, {6, 14});  // two dims: matrix 1-norm
  check_values(la::norm(T, "fro", Dims{1, 2}, true), {2, 1, 1}, {std::sqrt(30.0), std::sqrt(174.0)});
}

BOOST_AUTO_TEST_CASE(matrix_norm_and_norm_errors) {
  const Tensor A = zeros({2, 3}, dtype(float64));
  XGRAD_CHECK_THROW_MSG(la::matrix_norm(zeros({3}, dtype(float64))),
                        "linalg.matrix_norm: the input tensor A must have at least 2 dimensions, got shape [3]");
  XGRAD_CHECK_THROW_MSG(la::matrix_norm(A, 3), "linalg.matrix_norm: Order 3 not supported");
  XGRAD_CHECK_THROW_MSG(la::matrix_norm(A, "foo"), "linalg.matrix_norm: Order foo not supported");
  XGRAD_CHECK_THROW_MSG(la::matrix_norm(A, "fro", {1, -1}), "linalg.matrix_norm: dims must be different");
  XGRAD_CHECK_THROW_MSG(la::matrix_norm(A, "fro", {0}), "linalg.matrix_norm: dim must be a pair of dims, got [0]");
  XGRAD_CHECK_THROW_MSG(la::matrix_norm(A, 1, {0, 2}), "linalg.matrix_norm: dim 2 out of range");
  XGRAD_CHECK_THROW_MSG(la::matrix_norm(zeros({3, 0}, dtype(float64)), 1),
                        "linalg.matrix_norm: the 1 norm of matrices with an empty dimension is not defined");
  XGRAD_CHECK_THROW_MSG(la::matrix_norm(zeros({3, 0}, dtype(float64)), -2), "the -2 norm of matrices with an empty");
  XGRAD_CHECK_THROW_MSG(la::matrix_norm(zeros({2, 2}, dtype(int64))),
                        "linalg.matrix_norm: expected a float32 or float64 tensor, got int64");
  XGRAD_CHECK_THROW_MSG(la::norm(zeros({2, 2, 2}), 2),
                        "linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. Got 3D");
  XGRAD_CHECK_THROW_MSG(la::norm(A, 2, Dims{0, 1, 0}), "linalg.norm: If dim is specified, it must be of length 1 or 2");
  XGRAD_CHECK_THROW_MSG(la::norm(zeros({3}), "fro"),
                        "linalg.matrix_norm: the input tensor A must have at least 2 dimensions");
  XGRAD_CHECK_THROW_MSG(la::norm(zeros({2}, dtype(int64))),
                        "linalg.norm: expected a float32 or float64 tensor, got int64");
  XGRAD_CHECK_THROW_MSG(la::svdvals(f64({1, kNaN, 0, 1}, {2, 2})),
                        "linalg.svdvals: the input contains non-finite values (NaN or inf)");
  XGRAD_CHECK_THROW_MSG(la::svdvals(zeros({3})), "linalg.svdvals: A must have at least 2 dimensions, got shape [3]");
}

BOOST_AUTO_TEST_CASE(svdvals_hand_derived_gradient) {
  // d s_i / dA = u_i v_i^T. A = diag(3, 1) (s = 3, 1; u_1 = v_1 = e_1 up to a common sign):
  // d s_1 / dA = e_1 e_1^T, d s_2 / dA = e_2 e_2^T; loss s_1 + 2 s_2 gives diag(1, 2).
  Tensor A = f64({3, 0, 0, 1}, {2, 2}).requires_grad_(true);
  (la::svdvals(A) * f64({1, 2}, {2})).sum().backward();
  check_values(A.grad(), {2, 2}, {1, 0, 0, 2}, 1e-12);
  // The nuclear norm of a rotation-free positive diagonal matrix has gradient I.
  Tensor B = f64({2, 0, 0, 5}, {2, 2}).requires_grad_(true);
  la::matrix_norm(B, "nuc").backward();
  check_values(B.grad(), {2, 2}, {1, 0, 0, 1}, 1e-12);
}

BOOST_AUTO_TEST_CASE(matrix_norm_gradcheck_rectangular_and_batched) {
  manual_seed(5);
  for (const Shape& sh : {Shape{3, 2}, Shape{2, 3}, Shape{2, 2, 3}}) {
    for (const char* ord : {"nuc", "fro"}) {
      BOOST_TEST_CONTEXT("ord " << ord << " shape " << fmt::format("{}", sh)) {
        const std::vector<Tensor> in = {rnd(sh).requires_grad_(true)};
        const Fn f = [ord](const std::vector<Tensor>& t) { return la::matrix_norm(t[0], ord); };
        check_gradcheck(f, in);
        check_gradgradcheck(f, in);
      }
    }
    for (double ord : {2.0, -2.0}) {
      BOOST_TEST_CONTEXT("ord " << ord << " shape " << fmt::format("{}", sh)) {
        const std::vector<Tensor> in = {rnd(sh).requires_grad_(true)};
        const Fn f = [ord](const std::vector<Tensor>& t) { return la::matrix_norm(t[0], ord); };
        check_gradcheck(f, in);
        check_gradgradcheck(f, in);
      }
    }
  }
}

// ---- inverse -----------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(inv_values) {
  // [[4, 7], [2, 6]]^-1 = [[6, -7], [-2, 4]] / 10
  check_values(la::inv(f64({4, 7, 2, 6}, {2, 2})), {2, 2}, {0.6, -0.7, -0.2, 0.4}, 1e-14);
  manual_seed(6);
  const Tensor A = rnd({3, 4, 4}) + eye(4, -1, dtype(float64)) * 4.0;
  const Tensor Ai = la::inv(A);
  check_close(matmul(A, Ai), eye(4, -1, dtype(float64)).expand({3, 4, 4}), 1e-12);
  // strided and transposed inputs read correctly
  check_close(la::inv(A.transpose(-2, -1)), Ai.transpose(-2, -1), 1e-12);
  BOOST_CHECK(la::inv(zeros({2, 0, 0}, dtype(float64))).shape() == (Shape{2, 0, 0}));
  BOOST_CHECK(la::inv(zeros({0, 3, 3}, dtype(float64))).shape() == (Shape{0, 3, 3}));
  BOOST_CHECK(la::inv(randn({2, 2}) + eye(2) * 3.0).dtype() == float32);
}

BOOST_AUTO_TEST_CASE(inv_hand_derived_gradient) {
  // L = sum(inv(A) * W) = inv(A)[0][0] with W = e1 e1^T: dL/dA = -A^-T W A^-T. A non-symmetric
  // A tells A^-T from A^-1: A = [[1, 2], [0, 1]], A^-1 = [[1, -2], [0, 1]], so
  // dL/dA = -(A^-T e1)(e1^T A^-T) = -[1, -2]^T [1, 0] = [[-1, 0], [2, 0]].
  // By hand: inv(A)[0][0] = d / (ad - bc); d/da = -d^2/det^2 = -1, d/db = dc/det^2 = 0,
  // d/dc = db/det^2 = 2, d/dd = (det - da)/det^2 = 0.
  Tensor A = f64({1, 2, 0, 1}, {2, 2}).requires_grad_(true);
  (la::inv(A) * f64({1, 0, 0, 0}, {2, 2})).sum().backward();
  check_values(A.grad(), {2, 2}, {-1, 0, 2, 0});
}

BOOST_AUTO_TEST_CASE(inv_errors_name_the_batch_element) {
  XGRAD_CHECK_THROW_MSG(la::inv(f64({1, 2, 2, 4}, {2, 2})),
                        "linalg.inv: The diagonal element 2 is zero, the inversion could not be completed because the "
                        "input matrix is singular (A of shape [2, 2])");
  XGRAD_CHECK_THROW_MSG(la::inv(f64({1, 0, 0, 1, 1, 2, 2, 4, 0, 0, 0, 0}, {3, 2, 2})),
                        "linalg.inv: (Batch element 1): The diagonal element 2 is zero");
  XGRAD_CHECK_THROW_MSG(la::inv(zeros({2, 3}, dtype(float64))),
                        "linalg.inv: A must be batches of square matrices, got shape [2, 3] (2 by 3 matrices)");
  XGRAD_CHECK_THROW_MSG(la::inv(zeros({3}, dtype(float64))),
                        "linalg.inv: A must have at least 2 dimensions, got shape [3]");
  XGRAD_CHECK_THROW_MSG(la::inv(zeros({2, 2}, dtype(int64))),
                        "linalg.inv: expected a float32 or float64 tensor, got int64 for A of shape [2, 2]");
  XGRAD_CHECK_THROW_MSG(la::inv(Tensor()), "linalg.inv: expected a defined tensor");
}

// ---- solve -------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(solve_vectors_matrices_and_broadcasting) {
  // [[2, 1], [1, 3]] x = [3, 5] -> x = [4/5, 7/5]
  const Tensor A = f64({2, 1, 1, 3}, {2, 2});
  check_values(la::solve(A, f64({3, 5}, {2})), {2}, {0.8, 1.4}, 1e-14);
  check_values(la::solve(A, f64({3, 1, 5, 0}, {2, 2})), {2, 2}, {0.8, 0.6, 1.4, -0.2}, 1e-14);
  manual_seed(7);
  const Tensor As = rnd({3, 4, 4}) + eye(4, -1, dtype(float64)) * 4.0;
  // batch of vectors: B shaped like A without its last dim
  const Tensor b = rnd({3, 4});
  const Tensor x = la::solve(As, b);
  BOOST_REQUIRE(x.shape() == (Shape{3, 4}));
  check_close(matmul(As, x.unsqueeze(-1)).squeeze(-1), b, 1e-12);
  // one vector for the whole batch
  const Tensor v = rnd({4});
  BOOST_CHECK(la::solve(As, v).shape() == (Shape{3, 4}));
  check_close(la::solve(As, v).select(0, 1), la::solve(As.select(0, 1), v), 1e-12);
  // matrices with broadcast batch dims: A [3, 4, 4], B [2, 1, 4, 5] -> [2, 3, 4, 5]
  const Tensor B = rnd({2, 1, 4, 5});
  const Tensor X = la::solve(As, B);
  BOOST_REQUIRE(X.shape() == (Shape{2, 3, 4, 5}));
  check_close(matmul(As, X), B.expand({2, 3, 4, 5}), 1e-12);
  // a [n, k] right-hand side with k = 0 and empty systems
  BOOST_CHECK(la::solve(As, zeros({4, 0}, dtype(float64))).shape() == (Shape{3, 4, 0}));
  BOOST_CHECK(la::solve(zeros({0, 0}, dtype(float64)), zeros({0}, dtype(float64))).shape() == (Shape{0}));
}

BOOST_AUTO_TEST_CASE(solve_hand_derived_gradient_and_gradcheck) {
  // x = A^-1 b, L = w . x: dL/db = A^-T w, dL/dA = -(A^-T w) x^T.
  // A = [[1, 2], [0, 1]] (non-symmetric), b = [5, 1] -> x = [3, 1]; w = [1, 1]:
  // A^-T w = [[1, 0], [-2, 1]] [1, 1] = [1, -1]; dL/dA = -[1, -1]^T [3, 1] = [[-3, -1], [3, 1]].
  Tensor A = f64({1, 2, 0, 1}, {2, 2}).requires_grad_(true);
  Tensor b = f64({5, 1}, {2}).requires_grad_(true);
  la::solve(A, b).sum().backward();
  check_values(b.grad(), {2}, {1, -1});
  check_values(A.grad(), {2, 2}, {-3, -1, 3, 1});
  // broadcasting: the gradients are summed back to each input's shape
  manual_seed(8);
  const std::vector<Tensor> in = {rnd({2, 1, 3, 3}).requires_grad_(true), rnd({3, 3, 2}).requires_grad_(true)};
  const Fn f = [](const std::vector<Tensor>& t) { return la::solve(shifted(t[0]), t[1]); };
  check_gradcheck(f, in);
  check_gradgradcheck(f, in);
  const std::vector<Tensor> vin = {rnd({2, 3, 3}).requires_grad_(true), rnd({3}).requires_grad_(true)};
  const Fn g = [](const std::vector<Tensor>& t) { return la::solve(shifted(t[0]), t[1]); };
  check_gradcheck(g, vin);
  check_gradgradcheck(g, vin);
}

BOOST_AUTO_TEST_CASE(solve_errors) {
  const Tensor A = f64({1, 2, 2, 4}, {2, 2});
  XGRAD_CHECK_THROW_MSG(la::solve(A, f64({1, 1}, {2})),
                        "linalg.solve: The solver failed because the input matrix is singular (A of shape [2, 2], B of "
                        "shape [2])");
  XGRAD_CHECK_THROW_MSG(la::solve(f64({1, 0, 0, 1, 1, 2, 2, 4}, {2, 2, 2}), f64({1, 1}, {2})),
                        "linalg.solve: (Batch element 1): The solver failed");
  XGRAD_CHECK_THROW_MSG(la::solve(eye(2, -1, dtype(float64)), zeros({3, 2}, dtype(float64))),
                        "linalg.solve: Incompatible shapes of A and B for the equation AX = B: A [2, 2] and B [3, 2]");
  XGRAD_CHECK_THROW_MSG(la::solve(eye(2, -1, dtype(float64)), zeros({3}, dtype(float64))),
                        "linalg.solve: Incompatible shapes of A and B");
  XGRAD_CHECK_THROW_MSG(la::solve(zeros({2, 2, 2}, dtype(float64)), zeros({3, 2, 1}, dtype(float64))),
                        "linalg.solve: the batch dimensions of A [2, 2, 2] and B [3, 2, 1] do not broadcast");
  XGRAD_CHECK_THROW_MSG(la::solve(eye(2, -1, dtype(float64)), scalar_tensor(1.0, dtype(float64))),
                        "linalg.solve: B must have at least 1 dimension");
  XGRAD_CHECK_THROW_MSG(la::solve(eye(2, -1, dtype(float64)), zeros({2})), "linalg.solve: dtype mismatch");
  XGRAD_CHECK_THROW_MSG(la::solve(zeros({2, 2}, dtype(int64)), zeros({2}, dtype(int64))),
                        "linalg.solve: expected a float32 or float64 tensor, got int64");
  XGRAD_CHECK_THROW_MSG(la::solve(zeros({2, 3}, dtype(float64)), zeros({2}, dtype(float64))),
                        "linalg.solve: A must be batches of square matrices");
}

// ---- Cholesky ----------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(cholesky_values_and_triangles) {
  // [[4, 2], [2, 3]] = L L^T with L = [[2, 0], [1, sqrt(2)]]
  const Tensor A = f64({4, 2, 2, 3}, {2, 2});
  check_values(la::cholesky(A), {2, 2}, {2, 0, 1, std::sqrt(2.0)}, 1e-14);
  check_values(la::cholesky(A, true), {2, 2}, {2, 1, 0, std::sqrt(2.0)}, 1e-14);
  // only the lower (upper) triangle is read
  check_values(la::cholesky(f64({4, 99, 2, 3}, {2, 2})), {2, 2}, {2, 0, 1, std::sqrt(2.0)}, 1e-14);
  check_values(la::cholesky(f64({4, 2, -99, 3}, {2, 2}), true), {2, 2}, {2, 1, 0, std::sqrt(2.0)}, 1e-14);
  manual_seed(9);
  const Tensor S = spd(rnd({3, 4, 4}));
  const Tensor L = la::cholesky(S);
  check_close(matmul(L, L.transpose(-2, -1)), S, 1e-12);
  const Tensor U = la::cholesky(S, true);
  check_close(U, L.transpose(-2, -1), 1e-12);
  BOOST_CHECK(la::cholesky(zeros({0, 0}, dtype(float64))).shape() == (Shape{0, 0}));
}

BOOST_AUTO_TEST_CASE(cholesky_gradients) {
  // 1 x 1: L = sqrt(a), dL/da = 1 / (2 sqrt(a)); a = 4 gives 1/4. The formula: X = L gL = 2,
  // Phi = X / 2 = 1, gA = L^-1 Phi L^-1 = 1/4.
  Tensor a = f64({4}, {1, 1}).requires_grad_(true);
  la::cholesky(a).sum().backward();
  check_values(a.grad(), {1, 1}, {0.25});
  manual_seed(10);
  for (bool upper : {false, true}) {
    BOOST_TEST_CONTEXT("upper " << upper) {
      const std::vector<Tensor> in = {rnd({2, 3, 3}).requires_grad_(true)};
      const Fn f = [upper](const std::vector<Tensor>& t) { return la::cholesky(spd(t[0]), upper); };
      check_gradcheck(f, in);
      check_gradgradcheck(f, in);
    }
  }
}

BOOST_AUTO_TEST_CASE(cholesky_errors) {
  XGRAD_CHECK_THROW_MSG(la::cholesky(f64({1, 2, 2, 1}, {2, 2})),
                        "linalg.cholesky: The factorization could not be completed because the input is not "
                        "positive-definite (the leading minor of order 2 is not positive-definite; A of shape [2, 2])");
  XGRAD_CHECK_THROW_MSG(
      la::cholesky(f64({1, 0, 0, 1, -1, 0, 0, 1}, {2, 2, 2})),
      "linalg.cholesky: (Batch element 1): The factorization could not be completed because the input "
      "is not positive-definite (the leading minor of order 1");
  XGRAD_CHECK_THROW_MSG(la::cholesky(zeros({2, 3}, dtype(float64))),
                        "linalg.cholesky: A must be batches of square matrices");
  XGRAD_CHECK_THROW_MSG(la::cholesky(zeros({2, 2}, dtype(int64))),
                        "linalg.cholesky: expected a float32 or float64 tensor");
}

// ---- determinants ------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(det_and_slogdet_values) {
  check_values(la::det(f64({1, 2, 3, 4}, {2, 2})), {}, {-2}, 1e-14);
  check_values(la::det(f64({1, 2, 2, 4}, {2, 2})), {}, {0});
  // a permutation matrix (odd) and a batch
  check_values(la::det(f64({0, 1, 0, 1, 0, 0, 0, 0, 1}, {3, 3})), {}, {-1});
  check_values(la::det(f64({2, 0, 0, 3, 1, 1, 1, 1}, {2, 2, 2})), {2}, {6, 0});
  check_values(la::det(zeros({2, 0, 0}, dtype(float64))), {2}, {1, 1});
  auto [sign, logabs] = la::slogdet(f64({1, 2, 3, 4}, {2, 2}));
  check_values(sign, {}, {-1});
  check_values(logabs, {}, {std::log(2.0)}, 1e-14);
  auto [s0, l0] = la::slogdet(f64({1, 2, 2, 4}, {2, 2}));
  check_values(s0, {}, {0});
  check_values(l0, {}, {-kInf});
  auto [se, le] = la::slogdet(zeros({0, 0}, dtype(float64)));
  check_values(se, {}, {1});
  check_values(le, {}, {0});
  // det = sign exp(logabsdet) on random batches; NaN propagates
  manual_seed(11);
  const Tensor A = rnd({4, 5, 5});
  auto [s, l] = la::slogdet(A);
  check_close(la::det(A), s * exp(l), 1e-10);
  check_values(la::det(f64({kNaN, 1, 1, 1}, {2, 2})), {}, {kNaN});
}

BOOST_AUTO_TEST_CASE(det_hand_derived_gradients) {
  // det [[a, b], [c, d]] = ad - bc: gradient [[d, -c], [-b, a]] (the cofactor matrix).
  Tensor A = f64({1, 2, 3, 4}, {2, 2}).requires_grad_(true);
  la::det(A).backward();
  check_values(A.grad(), {2, 2}, {4, -3, -2, 1}, 1e-12);
  // at a singular matrix the SVD formula gives the same cofactors: [[1, 2], [2, 4]] -> [[4, -2], [-2, 1]]
  Tensor S = f64({1, 2, 2, 4}, {2, 2}).requires_grad_(true);
  la::det(S).backward();
  check_values(S.grad(), {2, 2}, {4, -2, -2, 1}, 1e-12);
  // and at the zero matrix of size 3 (rank 0): every cofactor is 0
  Tensor Z = zeros({3, 3}, dtype(float64)).requires_grad_(true);
  la::det(Z).backward();
  check_values(Z.grad(), {3, 3}, std::vector<double>(9, 0.0), 1e-12);
  // rank 2 in 3 x 3: cofactors of [[1, 0, 0], [0, 1, 0], [0, 0, 0]] are e_3 e_3^T
  Tensor R = f64({1, 0, 0, 0, 1, 0, 0, 0, 0}, {3, 3}).requires_grad_(true);
  la::det(R).backward();
  check_values(R.grad(), {3, 3}, {0, 0, 0, 0, 0, 0, 0, 0, 1}, 1e-12);
  // logabsdet = log|ad - bc|: gradient A^-T = [[d, -c], [-b, a]] / det; the sign gets none.
  // B = [[2, 1], [0, -4]], det = -8: [[-4, 0], [-1, 2]] / -8 = [[0.5, 0], [0.125, -0.25]].
  Tensor B = f64({2, 1, 0, -4}, {2, 2}).requires_grad_(true);
  auto [sign, logabs] = la::slogdet(B);
  BOOST_CHECK(sign.requires_grad());
  (logabs + sign * 10.0).backward();
  check_values(B.grad(), {2, 2}, {0.5, 0, 0.125, -0.25});
}

BOOST_AUTO_TEST_CASE(det_gradcheck_including_singular_batches) {
  manual_seed(12);
  const std::vector<Tensor> in = {rnd({2, 3, 3}).requires_grad_(true)};
  const Fn f = [](const std::vector<Tensor>& t) { return la::det(t[0]); };
  check_gradcheck(f, in);
  check_gradgradcheck(f, in);
  // a batch with a singular matrix takes the SVD path for the whole batch. (No gradgradcheck
  // there: its finite differences evaluate the gradient at perturbed matrices whose det is ~1e-6,
  // beyond the 100 eps threshold, where det * A^-T loses ~cond * eps; PyTorch's threshold and
  // formulas are the same.)
  const std::vector<Tensor> sing = {f64({1, 2, 2, 4, 3, 1, -1, 2}, {2, 2, 2}).requires_grad_(true)};
  check_gradcheck(f, sing);
  const Fn g = [](const std::vector<Tensor>& t) { return std::get<1>(la::slogdet(t[0])); };
  check_gradcheck(g, in);
  check_gradgradcheck(g, in);
}

BOOST_AUTO_TEST_CASE(det_errors) {
  XGRAD_CHECK_THROW_MSG(la::det(zeros({2, 3}, dtype(float64))), "linalg.det: A must be batches of square matrices");
  XGRAD_CHECK_THROW_MSG(la::det(zeros({2, 2}, dtype(int64))), "linalg.det: expected a float32 or float64 tensor");
  XGRAD_CHECK_THROW_MSG(la::slogdet(zeros({2}, dtype(float64))), "linalg.slogdet: A must have at least 2 dimensions");
  XGRAD_CHECK_THROW_MSG(la::slogdet(zeros({2, 2}, dtype(int64))),
                        "linalg.slogdet: expected a float32 or float64 tensor");
  // logabsdet is not differentiable at a singular matrix
  Tensor S = f64({1, 2, 2, 4}, {2, 2}).requires_grad_(true);
  XGRAD_CHECK_THROW_MSG(std::get<1>(la::slogdet(S)).backward(),
                        "linalg.slogdet (backward): The diagonal element 2 is zero");
}

// ---- determinism -------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(batched_decompositions_identical_at_one_and_two_threads) {
  ThreadCountGuard guard;
  manual_seed(13);
  const Tensor X = randn({64, 12, 12}, dtype(float64));
  const Tensor A = spd(X), B = randn({64, 12, 3}, dtype(float64));
  auto run = [&] {
    std::vector<std::vector<double>> r;
    for (const Tensor& t : {la::inv(A), la::solve(A, B), la::cholesky(A), la::det(A), std::get<1>(la::slogdet(A)),
                            la::svdvals(X), la::matrix_norm(X, "nuc")})
      r.push_back(values(t));
    return r;
  };
  set_num_threads(1);
  const auto one = run();
  set_num_threads(2);
  const auto two = run();
  BOOST_CHECK(one == two);
}

BOOST_AUTO_TEST_SUITE_END()
