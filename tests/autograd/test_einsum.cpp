// einsum: values against a naive summation over every subscript assignment (explicit and
// implicit output, ellipsis, broadcasting, diagonals, one to three operands, 0-d and empty
// operands), the lowering (the attention case is exactly matmul on views, reorderings are
// views), gradients (a hand-derived case, gradcheck and gradgradcheck), thread-count
// independence and every error.
#include <map>

#include "test_util.hpp"
#include "xgrad/autograd/einsum.hpp"

using namespace xgrad;
using xgrad::test::check_close;
using xgrad::test::check_gradcheck;
using xgrad::test::check_gradgradcheck;
using xgrad::test::check_values;

namespace {

std::vector<double> values(const Tensor& t) { return t.detach().contiguous().to(float64).to_vector<double>(); }

Tensor f64(const std::vector<double>& v, const Shape& s) { return from_vector<double>(v, s); }

Tensor rnd(const Shape& s) { return randn(s, dtype(float64)); }

// Naive einsum over letters only (no ellipsis): loops over every assignment of the letters,
// multiplies the operand elements (a size-1 dim broadcasts) and adds into the output element.
Tensor naive_einsum(const std::vector<std::string>& terms, const std::string& out, const std::vector<Tensor>& ops) {
  std::map<char, std::int64_t> size;
  for (std::size_t i = 0; i < ops.size(); ++i)
    for (std::size_t d = 0; d < terms[i].size(); ++d) {
      auto& s = size[terms[i][d]];
      s = std::max(s, ops[i].shape()[d]);
    }
  std::vector<char> letters;
  for (const auto& [c, s] : size) letters.push_back(c);
  Shape oshape;
  for (char c : out) oshape.push_back(size[c]);
  std::vector<double> res(static_cast<std::size_t>(shape_numel(oshape)), 0.0);
  std::vector<std::vector<double>> vals;
  for (const auto& t : ops) vals.push_back(values(t));
  std::map<char, std::int64_t> at;
  for (char c : letters) at[c] = 0;
  std::int64_t total = 1;
  for (char c : letters) total *= size[c];
  for (std::int64_t it = 0; it < total; ++it) {
    std::int64_t r = it;
    for (std::size_t k = letters.size(); k-- > 0;) {
      at[letters[k]] = r % size[letters[k]];
      r /= size[letters[k]];
    }
    double p = 1.0;
    for (std::size_t i = 0; i < ops.size(); ++i) {
      std::int64_t off = 0;
      for (std::size_t d = 0; d < terms[i].size(); ++d) {
        const std::int64_t n = ops[i].shape()[d];
        off = off * n + (n == 1 ? 0 : at[terms[i][d]]);
      }
      p *= vals[i][static_cast<std::size_t>(off)];
    }
    std::int64_t o = 0;
    for (std::size_t d = 0; d < out.size(); ++d) o = o * oshape[d] + at[out[d]];
    res[static_cast<std::size_t>(o)] += p;
  }
  const Tensor r = f64(res, oshape);
  return oshape.empty() ? r.reshape({}) : r;  // from_vector's empty shape means 1-d
}

// einsum(eq) against the naive sum of `terms -> out` (the explicit spelling of eq).
void check_einsum(const std::string& eq, const std::vector<std::string>& terms, const std::string& out,
                  const std::vector<Shape>& shapes) {
  std::vector<Tensor> ops;
  for (const auto& s : shapes) ops.push_back(rnd(s));
  BOOST_TEST_CONTEXT("equation " << eq) {
    const Tensor got = einsum(eq, ops);
    const Tensor want = naive_einsum(terms, out, ops);
    BOOST_CHECK_MESSAGE(got.shape() == want.shape(),
                        "shape " << fmt::format("{}", got.shape()) << " != " << fmt::format("{}", want.shape()));
    if (got.shape() == want.shape()) check_close(got, want, 1e-12);
  }
}

struct ThreadCountGuard {
  int saved = get_num_threads();
  ~ThreadCountGuard() { set_num_threads(saved); }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(einsum_ops)

// ---- values ------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(hand_computed_product_and_trace) {
  const Tensor a = f64({1, 2, 3, 4}, {2, 2}), b = f64({5, 6, 7, 8}, {2, 2});
  check_values(einsum("ij,jk->ik", {a, b}), {2, 2}, {19, 22, 43, 50});
  check_values(einsum("ii", {a}), {}, {5});                         // trace 1 + 4
  check_values(einsum("ii->i", {a}), {2}, {1, 4});                  // diagonal
  check_values(einsum("ij->ji", {a}), {2, 2}, {1, 3, 2, 4});        // transpose
  check_values(einsum("ij,ij->", {a, b}), {}, {5 + 12 + 21 + 32});  // Frobenius inner product
  check_values(einsum("i,j->ij", {f64({1, 2}, {2}), f64({3, 4, 5}, {3})}), {2, 3}, {3, 4, 5, 6, 8, 10});
}

BOOST_AUTO_TEST_CASE(explicit_outputs_against_naive_sums) {
  manual_seed(1);
  check_einsum("ij,jk->ik", {"ij", "jk"}, "ik", {{3, 4}, {4, 5}});
  check_einsum("ij,kj->ik", {"ij", "kj"}, "ik", {{3, 4}, {5, 4}});
  check_einsum("bij,bjk->bik", {"bij", "bjk"}, "bik", {{2, 3, 4}, {2, 4, 5}});
  check_einsum("bhqd,bhkd->bhqk", {"bhqd", "bhkd"}, "bhqk", {{2, 3, 4, 5}, {2, 3, 6, 5}});
  check_einsum("bij,bjk->bki", {"bij", "bjk"}, "bki", {{2, 3, 4}, {2, 4, 5}});
  check_einsum("ijk->kji", {"ijk"}, "kji", {{2, 3, 4}});
  check_einsum("ijk->j", {"ijk"}, "j", {{2, 3, 4}});
  check_einsum("ij->", {"ij"}, "", {{3, 4}});
  check_einsum("i,i->", {"i", "i"}, "", {{5}, {5}});
  check_einsum("i,i->i", {"i", "i"}, "i", {{5}, {5}});
  check_einsum("ij,ij->ij", {"ij", "ij"}, "ij", {{3, 4}, {3, 4}});
  check_einsum("ij,ij->j", {"ij", "ij"}, "j", {{3, 4}, {3, 4}});
  check_einsum("ij,j->i", {"ij", "j"}, "i", {{3, 4}, {4}});
  check_einsum("bn,anm,bm->ba", {"bn", "anm", "bm"}, "ba", {{2, 3}, {4, 3, 5}, {2, 5}});  // bilinear
  check_einsum("ijk,ikl,il->j", {"ijk", "ikl", "il"}, "j", {{2, 3, 4}, {2, 4, 5}, {2, 5}});
  check_einsum("ij,jk,kl->il", {"ij", "jk", "kl"}, "il", {{2, 3}, {3, 4}, {4, 5}});
  check_einsum("abc,cd,de->abe", {"abc", "cd", "de"}, "abe", {{2, 3, 4}, {4, 5}, {5, 2}});
  check_einsum("ij,kl->ijkl", {"ij", "kl"}, "ijkl", {{2, 3}, {3, 2}});
  check_einsum("ij,kl->", {"ij", "kl"}, "", {{2, 3}, {3, 2}});  // each summed on its own
  check_einsum("AB,BC->AC", {"AB", "BC"}, "AC", {{2, 3}, {3, 4}});
  check_einsum("aB,Bc->ca", {"aB", "Bc"}, "ca", {{2, 3}, {3, 4}});
  // repeated subscripts: diagonals, also combined with products and sums
  check_einsum("iij->j", {"iij"}, "j", {{3, 3, 2}});
  check_einsum("iji->ij", {"iji"}, "ij", {{3, 2, 3}});
  check_einsum("iii->i", {"iii"}, "i", {{3, 3, 3}});
  check_einsum("aab,bc->ac", {"aab", "bc"}, "ac", {{3, 3, 4}, {4, 2}});
  check_einsum("ii,jj->ij", {"ii", "jj"}, "ij", {{3, 3}, {2, 2}});
  check_einsum("ii,ij->j", {"ii", "ij"}, "j", {{3, 3}, {3, 4}});
}

BOOST_AUTO_TEST_CASE(implicit_outputs) {
  manual_seed(2);
  // Subscripts that appear once, in alphabetical order (upper case first).
  check_einsum("ij,jk", {"ij", "jk"}, "ik", {{3, 4}, {4, 5}});
  check_einsum("ji", {"ji"}, "ij", {{3, 4}});  // a transpose
  check_einsum("ii", {"ii"}, "", {{3, 3}});    // the trace
  check_einsum("ba,ab", {"ba", "ab"}, "", {{3, 4}, {4, 3}});
  check_einsum("kj,ji", {"kj", "ji"}, "ik", {{3, 4}, {4, 5}});
  check_einsum("bA,a", {"bA", "a"}, "Aab", {{2, 3}, {4}});
  check_einsum("i,j", {"i", "j"}, "ij", {{2}, {3}});
  check_einsum("i,i", {"i", "i"}, "", {{4}, {4}});
}

BOOST_AUTO_TEST_CASE(spaces_are_ignored) {
  manual_seed(3);
  const Tensor a = rnd({3, 4}), b = rnd({4, 2});
  check_close(einsum(" ij , jk -> ik ", {a, b}), einsum("ij,jk->ik", {a, b}), 0);
}

BOOST_AUTO_TEST_CASE(ellipsis) {
  manual_seed(4);
  const Tensor a = rnd({2, 3, 4}), b = rnd({4, 5});
  // "...ij,...jk" broadcasts the batch dims like matmul.
  check_close(einsum("...ij,...jk->...ik", {a, b}), matmul(a, b), 1e-12);
  check_close(einsum("...ij,...jk", {a, b}), matmul(a, b), 1e-12);  // implicit: "..." first
  const Tensor c = rnd({2, 1, 3, 4}), d = rnd({5, 4, 2});
  check_close(einsum("...ij,...jk->...ik", {c, d}), matmul(c, d), 1e-12);
  // ellipsis in the middle and at the end; output without "..." sums the ellipsis dims
  const Tensor e = rnd({2, 3, 4, 5});
  check_close(einsum("i...j->ij", {e}), e.sum({1, 2}), 1e-12);
  check_close(einsum("i...->...i", {e}), e.permute({1, 2, 3, 0}), 0);
  check_close(einsum("...->", {e}), e.sum(), 1e-12);
  // diagonal of every matrix of a batch
  const Tensor f = rnd({2, 3, 3});
  check_close(einsum("...ii->...i", {f}), f.diagonal(0, -2, -1), 0);
  // an ellipsis covering no dims, and "..." in the output with no operand having one
  check_close(einsum("...ij,jk->ik", {b.t(), b}), matmul(b.t(), b), 1e-12);
  check_close(einsum("ij->...ji", {b}), b.t(), 0);
  // ellipsis dims broadcast between operands ([3, 1] with [4])
  const Tensor g = rnd({3, 1}), h = rnd({4});
  check_close(einsum("...,...->...", {g, h}), g * h, 0);
}

BOOST_AUTO_TEST_CASE(size_one_subscripts_broadcast) {
  manual_seed(5);
  // A subscript of size 1 in one operand broadcasts against size n in another (PyTorch).
  check_einsum("ij,ij->ij", {"ij", "ij"}, "ij", {{3, 1}, {3, 4}});
  check_einsum("ij,jk->ik", {"ij", "jk"}, "ik", {{3, 1}, {4, 5}});  // = a[:, 0] * sum_j b[j, k]
  check_einsum("bij,bjk->bik", {"bij", "bjk"}, "bik", {{1, 3, 4}, {2, 4, 5}});
  check_einsum("ij,j->ij", {"ij", "j"}, "ij", {{1, 4}, {4}});
}

BOOST_AUTO_TEST_CASE(zero_dim_and_empty_operands) {
  const Tensor s = scalar_tensor(3.0, dtype(float64)), t = scalar_tensor(-2.0, dtype(float64));
  check_values(einsum(",->", {s, t}), {}, {-6});
  check_values(einsum("->", {s}), {}, {3});
  check_values(einsum(",i->i", {s, f64({1, 2}, {2})}), {2}, {3, 6});
  // an empty summed subscript gives zeros; an empty kept one an empty result
  check_values(einsum("ij,jk->ik", {zeros({2, 0}, dtype(float64)), zeros({0, 3}, dtype(float64))}), {2, 3},
               std::vector<double>(6, 0.0));
  BOOST_CHECK(einsum("ij,jk->ik", {zeros({0, 4}, dtype(float64)), zeros({4, 3}, dtype(float64))}).shape() ==
              (Shape{0, 3}));
  check_values(einsum("i->", {zeros({0}, dtype(float64))}), {}, {0});
}

BOOST_AUTO_TEST_CASE(float32_operands) {
  manual_seed(6);
  const Tensor a = randn({3, 4}), b = randn({4, 5});
  const Tensor c = einsum("ij,jk->ik", {a, b});
  BOOST_CHECK(c.dtype() == float32);
  check_close(c, matmul(a, b), 0);
}

// ---- lowering ----------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(attention_scores_are_exactly_matmul_on_views) {
  manual_seed(7);
  Tensor q = randn({4, 2, 8, 16}).requires_grad_(true), k = randn({4, 2, 8, 16}).requires_grad_(true);
  const Tensor e = einsum("bhqd,bhkd->bhqk", {q, k});
  const Tensor m = q.matmul(k.transpose(-2, -1));
  BOOST_CHECK(e.to_vector<float>() == m.to_vector<float>());  // bit-identical: the same product
  // The result comes straight out of one matmul: no permute, reshape or copy around it.
  BOOST_CHECK_EQUAL(e.grad_fn_name(), "MatmulBackward");
  BOOST_CHECK(e.is_contiguous());
}

BOOST_AUTO_TEST_CASE(reorderings_and_diagonals_are_views) {
  manual_seed(8);
  Tensor a = rnd({3, 3});
  Tensor t = einsum("ij->ji", {a});
  BOOST_CHECK(t.is_view());
  t.index_put_({0, 1}, 42.0);  // writes through to a[1][0], as in PyTorch
  BOOST_CHECK_EQUAL(a.index({1, 0}).item(), 42.0);
  Tensor d = einsum("ii->i", {a});
  BOOST_CHECK(d.is_view());
  check_close(d, a.diagonal(), 0);
}

// ---- gradients ---------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(hand_derived_gradients) {
  // y = einsum("ij,j->i", A, x) = A x, loss = sum(w * y).
  // dL/dA[i][j] = w[i] x[j] (outer product), dL/dx[j] = sum_i w[i] A[i][j] = (A^T w)[j].
  Tensor A = f64({1, 2, 3, 4, 5, 6}, {2, 3}).requires_grad_(true);
  Tensor x = f64({1, -1, 2}, {3}).requires_grad_(true);
  const Tensor w = f64({2, -3}, {2});
  (einsum("ij,j->i", {A, x}) * w).sum().backward();
  check_values(A.grad(), {2, 3}, {2, -2, 4, -3, 3, -6});
  check_values(x.grad(), {3}, {2 - 12, 4 - 15, 6 - 18});
  // trace: d tr(B) / dB = I; repeated subscripts send the gradient to the diagonal only.
  Tensor B = f64({1, 2, 3, 4, 5, 6, 7, 8, 9}, {3, 3}).requires_grad_(true);
  einsum("ii", {B}).backward();
  check_values(B.grad(), {3, 3}, {1, 0, 0, 0, 1, 0, 0, 0, 1});
}

BOOST_AUTO_TEST_CASE(gradcheck_and_gradgradcheck) {
  manual_seed(9);
  struct Case {
    std::string eq;
    std::vector<Shape> shapes;
  };
  const std::vector<Case> cases = {
      {"ij,jk->ik", {{2, 3}, {3, 2}}},
      {"bhqd,bhkd->bhqk", {{2, 1, 3, 2}, {2, 1, 2, 2}}},
      {"ii->i", {{3, 3}}},
      {"ii", {{3, 3}}},
      {"ijk,ikl,il->j", {{2, 2, 3}, {2, 3, 2}, {2, 2}}},
      {"...ij,...jk", {{2, 2, 3}, {3, 2}}},
      {"ij,ij->ij", {{2, 3}, {2, 1}}},
      {"aab,bc->ca", {{2, 2, 3}, {3, 2}}},
      {"i,j->ij", {{2}, {3}}},
      {"bn,anm,bm->ba", {{2, 2}, {2, 2, 3}, {2, 3}}},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT("equation " << c.eq) {
      std::vector<Tensor> in;
      for (const auto& s : c.shapes) in.push_back(rnd(s).requires_grad_(true));
      const auto f = [eq = c.eq](const std::vector<Tensor>& t) { return einsum(eq, t); };
      check_gradcheck(f, in);
      check_gradgradcheck(f, in);
    }
  }
}

BOOST_AUTO_TEST_CASE(only_operands_that_require_grad_get_one) {
  manual_seed(10);
  Tensor a = rnd({2, 3}).requires_grad_(true);
  const Tensor b = rnd({3, 4});
  einsum("ij,jk->ik", {a, b}).sum().backward();
  BOOST_CHECK(a.grad().defined());
  BOOST_CHECK(!b.requires_grad());
  {
    NoGradGuard ng;
    BOOST_CHECK(!einsum("ij,jk->ik", {a, b}).requires_grad());
  }
}

// ---- determinism -------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(identical_at_one_and_two_threads) {
  ThreadCountGuard guard;
  manual_seed(11);
  const Tensor a = randn({8, 64, 96}), b = randn({8, 96, 80}), c = randn({80, 40});
  set_num_threads(1);
  const auto one = einsum("bij,bjk,kl->bil", {a, b, c}).to_vector<float>();
  set_num_threads(2);
  const auto two = einsum("bij,bjk,kl->bil", {a, b, c}).to_vector<float>();
  BOOST_CHECK(one == two);
}

// ---- errors ------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(errors_name_the_equation_and_shapes) {
  const Tensor a = zeros({2, 3}, dtype(float64)), b = zeros({3, 4}, dtype(float64)), v = zeros({3}, dtype(float64));
  XGRAD_CHECK_THROW_MSG(einsum("ij", {}), "einsum: expected at least one operand");
  XGRAD_CHECK_THROW_MSG(einsum("ij,jk->ik", {a}), "the equation has 2 operand terms but 1 operands were given");
  XGRAD_CHECK_THROW_MSG(einsum("ij->ij", {a, b}), "the equation has 1 operand terms but 2 operands were given");
  XGRAD_CHECK_THROW_MSG(einsum("i1,jk", {a, b}), "invalid character '1' in the term of operand 0");
  XGRAD_CHECK_THROW_MSG(einsum("ij,jk=>ik", {a, b}), "invalid character '='");
  XGRAD_CHECK_THROW_MSG(einsum("i.j", {a}), "found '.' in the term of operand 0 that is not part of an ellipsis");
  XGRAD_CHECK_THROW_MSG(einsum("...i...", {a}), "the term of operand 0 has more than one ellipsis");
  XGRAD_CHECK_THROW_MSG(einsum("ij->i->j", {a}), "found \"->\" twice");
  XGRAD_CHECK_THROW_MSG(einsum("ij->ii", {a}), "output subscript i appears more than once in the output");
  XGRAD_CHECK_THROW_MSG(einsum("ij->k", {a}), "output subscript k does not appear in any operand's term");
  XGRAD_CHECK_THROW_MSG(einsum("ijk", {a}), "operand 0 has 2 dims but its term names 3 subscripts (and no ellipsis)");
  XGRAD_CHECK_THROW_MSG(einsum("i", {a}), "operand 0 has 2 dims but its term names 1 subscripts");
  XGRAD_CHECK_THROW_MSG(einsum("ijk...", {a}),
                        "operand 0 has 2 dims but its term names 3 subscripts besides the ellipsis");
  XGRAD_CHECK_THROW_MSG(
      einsum("ij,jk->ik", {a, a}),
      "subscript j has size 2 in operand 1, which does not broadcast with size 3 in an earlier operand");
  XGRAD_CHECK_THROW_MSG(einsum("ii->i", {a}), "subscript i is repeated in operand 0 over dims of sizes 2 and 3");
  XGRAD_CHECK_THROW_MSG(einsum("...i,...i->...", {zeros({2, 3}, dtype(float64)), zeros({4, 3}, dtype(float64))}),
                        "ellipsis dim 0 has size 4 in operand 1");
  // every message carries the equation and the shapes
  XGRAD_CHECK_THROW_MSG(einsum("ij,jk->ik", {a, a}), "(equation \"ij,jk->ik\", operand shapes [[2, 3], [2, 3]])");
  // dtypes
  XGRAD_CHECK_THROW_MSG(einsum("ij,jk->ik", {zeros({2, 3}, dtype(int64)), zeros({3, 4}, dtype(int64))}),
                        "einsum: expected float32 or float64 operands, got int64");
  XGRAD_CHECK_THROW_MSG(einsum("ij,jk->ik", {a, zeros({3, 4})}),
                        "operands must share one dtype, got float64 and float32");
  XGRAD_CHECK_THROW_MSG(einsum("i", {Tensor()}), "einsum");
  (void)v;
}

BOOST_AUTO_TEST_SUITE_END()
