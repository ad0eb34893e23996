// The op table of issue 13's einsum and linear-algebra family: einsum (every kind of
// equation), addmm / baddbmm, and xgrad::linalg (norms, svdvals, inv, solve, cholesky, det,
// slogdet), run by op_db.hpp (what each entry checks is described there).
//
// Decompositions need well-conditioned inputs whatever the layout variant, so their entries
// build the matrix inside fn from the leaf: X + 2n I (non-symmetric, so that a transposed
// gradient formula would show) for inv, solve, det and slogdet, and X X^T + n I (symmetric
// positive-definite) for cholesky. Those entries compose other ops, so their int64 behaviour
// is tested directly in test_linalg_functions.cpp (Int64::Skip here).
#include "op_db.hpp"
#include "xgrad/autograd/einsum.hpp"
#include "xgrad/autograd/linalg_functions.hpp"

namespace la = xgrad::linalg;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
// Singular values need distinct values for their second derivative (PyTorch's svd_backward
// divides by s_j^2 - s_i^2). The expanded variant turns a [3, 4] input into a matrix of equal
// rows (rank 1: two zero singular values), so the entries that go through svdvals skip it.
constexpr unsigned kNoExpand = kContiguous | kTransposed | kStrided;

Tensor eye_of(const Tensor& x) { return eye(x.size(-1), -1, dtype(x.dtype())); }
Tensor shifted(const Tensor& x) { return x + eye_of(x) * (2.0 * double(x.size(-1))); }
Tensor spd(const Tensor& x) { return matmul(x, x.transpose(-2, -1)) + eye_of(x) * double(x.size(-1)); }

// ---- einsum ---------------------------------------------------------------------------------

std::vector<OpInfo> einsum_ops() {
  auto e1 = [](std::string eq) { return [eq](const Ts& t) { return einsum(eq, {t[0]}); }; };
  auto e2 = [](std::string eq) { return [eq](const Ts& t) { return einsum(eq, {t[0], t[1]}); }; };
  auto e3 = [](std::string eq) { return [eq](const Ts& t) { return einsum(eq, {t[0], t[1], t[2]}); }; };
  return {
      {.name = "einsum_mm",
       .arity = 2,
       .fn = e2("ij,jk->ik"),
       .forms = {[](const Ts& t) { return matmul(t[0], t[1]); }},
       .samples = {{{3, 4}, {4, 2}}}},
      {.name = "einsum_mm_implicit", .arity = 2, .fn = e2("ij,jk"), .samples = {{{3, 4}, {4, 2}}}},
      {.name = "einsum_bmm", .arity = 2, .fn = e2("bij,bjk->bik"), .samples = {{{2, 3, 4}, {2, 4, 2}}}},
      {.name = "einsum_attention",
       .arity = 2,
       .fn = e2("bhqd,bhkd->bhqk"),
       .forms = {[](const Ts& t) { return t[0].matmul(t[1].transpose(-2, -1)); }},
       .samples = {{{2, 2, 3, 4}, {2, 2, 5, 4}}}},
      {.name = "einsum_output_reordered", .arity = 2, .fn = e2("bij,bjk->kbi"), .samples = {{{2, 3, 4}, {2, 4, 2}}}},
      {.name = "einsum_transpose_implicit", .fn = e1("ji"), .samples = {{{3, 4}}}},
      {.name = "einsum_permute", .fn = e1("ijk->kij"), .samples = {{{2, 3, 4}}}},
      {.name = "einsum_diagonal", .fn = e1("ii->i"), .samples = {{{3, 3}}}},
      {.name = "einsum_trace", .fn = e1("ii"), .samples = {{{3, 3}}}},
      {.name = "einsum_batch_diagonal", .fn = e1("...ii->...i"), .samples = {{{2, 3, 3}}}},
      {.name = "einsum_sum", .fn = e1("ijk->j"), .samples = {{{2, 3, 4}}}},
      {.name = "einsum_sum_all", .fn = e1("ij->"), .samples = {{{3, 4}}}},
      {.name = "einsum_ellipsis_broadcast",
       .arity = 2,
       .fn = e2("...ij,...jk->...ik"),
       .samples = {{{2, 1, 3, 4}, {3, 4, 2}}, {{3, 4}, {2, 4, 3}}}},
      {.name = "einsum_outer", .arity = 2, .fn = e2("i,j->ij"), .samples = {{{3}, {4}}}},
      {.name = "einsum_dot", .arity = 2, .fn = e2("i,i->"), .samples = {{{5}, {5}}}},
      {.name = "einsum_mul_broadcast",
       .arity = 2,
       .fn = e2("ij,ij->ij"),
       .samples = {{{3, 4}, {3, 4}}, {{3, 4}, {3, 1}}}},
      {.name = "einsum_three_operands",
       .arity = 3,
       .fn = e3("ijk,ikl,il->j"),
       .samples = {{{2, 3, 4}, {2, 4, 3}, {2, 3}}}},
      {.name = "einsum_bilinear", .arity = 3, .fn = e3("bn,anm,bm->ba"), .samples = {{{2, 3}, {4, 3, 2}, {2, 2}}}},
      {.name = "einsum_chain", .arity = 3, .fn = e3("ij,jk,kl->il"), .samples = {{{2, 3}, {3, 4}, {4, 2}}}},
      {.name = "einsum_diagonal_product", .arity = 2, .fn = e2("aab,bc->ca"), .samples = {{{3, 3, 4}, {4, 2}}}},
  };
}

// ---- addmm / baddbmm ------------------------------------------------------------------------

std::vector<OpInfo> addmm_ops() {
  auto t3 = [](auto f) { return [f](const Ts& t) { return f(t[0], t[1], t[2]); }; };
  const std::vector<std::vector<Shape>> mm_samples = {
      {{3, 4}, {3, 2}, {2, 4}}, {{4}, {3, 2}, {2, 4}}, {{3, 1}, {3, 2}, {2, 4}}, {{}, {3, 2}, {2, 4}}};
  const std::vector<std::vector<Shape>> bmm_samples = {{{2, 3, 4}, {2, 3, 5}, {2, 5, 4}}, {{4}, {2, 3, 5}, {2, 5, 4}}};
  return {
      {.name = "addmm",
       .arity = 3,
       .fn = t3([](auto i, auto a, auto b) { return addmm(i, a, b); }),
       .forms = {t3([](auto i, auto a, auto b) { return i + mm(a, b); })},
       .samples = mm_samples},
      {.name = "addmm_scaled",
       .arity = 3,
       .fn = t3([](auto i, auto a, auto b) { return addmm(i, a, b, 0.5, -2.0); }),
       .samples = mm_samples},
      {.name = "addmm_beta0",
       .arity = 3,
       .fn = t3([](auto i, auto a, auto b) { return addmm(i, a, b, 0.0, 1.5); }),
       .samples = mm_samples},
      {.name = "baddbmm",
       .arity = 3,
       .fn = t3([](auto i, auto a, auto b) { return baddbmm(i, a, b); }),
       .samples = bmm_samples},
      {.name = "baddbmm_scaled",
       .arity = 3,
       .fn = t3([](auto i, auto a, auto b) { return baddbmm(i, a, b, -1.5, 0.25); }),
       .samples = bmm_samples},
  };
}

// ---- norms ----------------------------------------------------------------------------------

std::vector<OpInfo> norm_ops() {
  auto u = [](auto f) { return [f](const Ts& t) { return f(t[0]); }; };
  const std::vector<std::vector<Shape>> mats = {{{3, 4}}, {{2, 3, 4}}};
  std::vector<OpInfo> ops = {
      {.name = "linalg.vector_norm",
       .fn = u([](auto x) { return la::vector_norm(x); }),
       .forms = {u([](auto x) { return la::norm(x); })},
       .samples = {{{3, 4}}, {{5}}, {{}}}},
      {.name = "linalg.vector_norm_dim_keepdim",
       .fn = u([](auto x) { return la::vector_norm(x, 2.0, {-1}, true); }),
       .samples = kReduce},
      {.name = "linalg.matrix_norm_fro",
       .fn = u([](auto x) { return la::matrix_norm(x); }),
       .forms = {u([](auto x) { return la::matrix_norm(x, "fro"); })},
       .samples = mats},
      {.name = "linalg.matrix_norm_nuc",
       .fn = u([](auto x) { return la::matrix_norm(x, "nuc"); }),
       .samples = mats,
       .variants = kNoExpand},
      {.name = "linalg.matrix_norm_nuc_dims_keepdim",
       .fn = u([](auto x) {
         return la::matrix_norm(x, "nuc", {2, 0}, true);
       }),
       .samples = {{{2, 3, 4}}},
       .variants = kNoExpand},
      {.name = "linalg.norm_2d_ord2",
       .fn = u([](auto x) { return la::norm(x, 2); }),
       .forms = {u([](auto x) { return la::matrix_norm(x, 2.0); })},
       .samples = {{{3, 4}}, {{4, 3}}},
       .variants = kNoExpand},
      {.name = "linalg.norm_nuc",
       .fn = u([](auto x) { return la::norm(x, "nuc"); }),
       .samples = {{{3, 4}}},
       .variants = kNoExpand},
      {.name = "linalg.svdvals",
       .fn = u([](auto x) { return la::svdvals(x); }),
       .samples = {{{3, 4}}, {{4, 3}}, {{2, 3, 3}}},
       .variants = kNoExpand},
  };
  // Vector orders (values away from 0 and distinct in |x| for the orders with kinks).
  for (double p : {1.0, kInf, -kInf, 0.0, 3.0, 1.5, 0.5, -1.5}) {
    ops.push_back({.name = fmt::format("linalg.vector_norm_ord_{}", p),
                   .fn = u([p](auto x) { return la::vector_norm(x, p, {-1}); }),
                   .forms = {u([p](auto x) { return la::norm(x, p, -1); })},
                   .domains = {Dom::AwayFromZero},
                   .samples = kReduce});
  }
  // Matrix orders (+-2 through svdvals: no expanded variant, see kNoExpand).
  for (double p : {1.0, -1.0, kInf, -kInf, 2.0, -2.0}) {
    ops.push_back({.name = fmt::format("linalg.matrix_norm_ord_{}", p),
                   .fn = u([p](auto x) { return la::matrix_norm(x, p); }),
                   .forms = {u([p](auto x) {
                     return la::norm(x, p, Dims{-2, -1});
                   })},
                   .samples = mats,
                   .variants = std::fabs(p) == 2.0 ? kNoExpand : kAllVariants});
  }
  return ops;
}

// ---- decompositions -------------------------------------------------------------------------

std::vector<OpInfo> decomposition_ops() {
  auto u = [](auto f) { return [f](const Ts& t) { return f(t[0]); }; };
  const std::vector<std::vector<Shape>> square = {{{3, 3}}, {{2, 3, 3}}};
  return {
      {.name = "linalg.inv",
       .fn = u([](auto x) { return la::inv(shifted(x)); }),
       .samples = square,
       .int64 = Int64::Skip},
      {.name = "linalg.solve",
       .arity = 2,
       .fn = [](const Ts& t) { return la::solve(shifted(t[0]), t[1]); },
       .samples = {{{3, 3}, {3, 2}}, {{3, 3}, {3}}, {{2, 3, 3}, {2, 3}}, {{2, 3, 3}, {3}}, {{1, 3, 3}, {2, 3, 1}}},
       .int64 = Int64::Skip},
      {.name = "linalg.cholesky",
       .fn = u([](auto x) { return la::cholesky(spd(x)); }),
       .samples = square,
       .int64 = Int64::Skip},
      {.name = "linalg.cholesky_upper",
       .fn = u([](auto x) { return la::cholesky(spd(x), true); }),
       .samples = square,
       .int64 = Int64::Skip},
      {.name = "linalg.det",
       .fn = u([](auto x) { return la::det(shifted(x)); }),
       .samples = square,
       .int64 = Int64::Skip},
      // det of the raw random matrix: a polynomial, fine at any conditioning; int64 throws.
      // (Expanded, a [3, 3] input has equal rows: rank 1, see kNoExpand.)
      {.name = "linalg.det_raw", .fn = u([](auto x) { return la::det(x); }), .samples = square, .variants = kNoExpand},
      {.name = "linalg.slogdet_logabsdet",
       .fn = u([](auto x) { return std::get<1>(la::slogdet(shifted(x))); }),
       .samples = square,
       .int64 = Int64::Skip},
  };
}

}  // namespace

BOOST_AUTO_TEST_SUITE(op_db_linalg)

BOOST_AUTO_TEST_CASE(einsum_equations) { run_all(einsum_ops()); }
BOOST_AUTO_TEST_CASE(addmm_baddbmm) { run_all(addmm_ops()); }
BOOST_AUTO_TEST_CASE(norms) { run_all(norm_ops()); }
BOOST_AUTO_TEST_CASE(decompositions) { run_all(decomposition_ops()); }

BOOST_AUTO_TEST_CASE(names_are_unique) {
  std::vector<std::string> names;
  for (const auto& ops : {einsum_ops(), addmm_ops(), norm_ops(), decomposition_ops()})
    for (const auto& op : ops) names.push_back(op.name);
  std::sort(names.begin(), names.end());
  BOOST_CHECK(std::adjacent_find(names.begin(), names.end()) == names.end());
  BOOST_TEST_MESSAGE("op_db_linalg: " << names.size() << " ops");
}

BOOST_AUTO_TEST_SUITE_END()
