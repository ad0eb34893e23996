// The op table of the first ops: one entry per differentiable op of
// autograd/{elementwise,reduction,linalg,shape}.hpp, of the in-place ops, and of the nn
// functional activations, softmax family, linear layers and losses, run by op_db.hpp (what
// each entry checks is described there).
#include "op_db.hpp"
#include "xgrad/nn/activation.hpp"
#include "xgrad/nn/linear.hpp"
#include "xgrad/nn/loss.hpp"

namespace {

// ---- element-wise (elementwise.hpp) ---------------------------------------------------------

std::vector<OpInfo> elementwise_ops() {
  const Tensor cond = from_vector<double>({1, 0, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1}, {3, 4});
  const Tensor cond23 = from_vector<double>({1, 0, 1, 0, 0, 1}, {2, 3});
  auto u = [](auto f) { return [f](const Ts& t) { return f(t[0]); }; };
  auto b = [](auto f) { return [f](const Ts& t) { return f(t[0], t[1]); }; };
  return {
      {.name = "add", .arity = 2, .fn = b([](auto x, auto y) { return add(x, y); }),
       .forms = {b([](auto x, auto y) { return x.add(y); }), b([](auto x, auto y) { return x + y; })},
       .samples = kBinary, .ref = [](const V& x) { return x[0] + x[1]; }, .int64 = Int64::Yes},
      {.name = "sub", .arity = 2, .fn = b([](auto x, auto y) { return sub(x, y); }),
       .forms = {b([](auto x, auto y) { return x.sub(y); }), b([](auto x, auto y) { return x - y; })},
       .samples = kBinary, .ref = [](const V& x) { return x[0] - x[1]; }, .int64 = Int64::Yes},
      {.name = "mul", .arity = 2, .fn = b([](auto x, auto y) { return mul(x, y); }),
       .forms = {b([](auto x, auto y) { return x.mul(y); }), b([](auto x, auto y) { return x * y; })},
       .samples = kBinary, .ref = [](const V& x) { return x[0] * x[1]; }, .int64 = Int64::Yes},
      {.name = "div", .arity = 2, .fn = b([](auto x, auto y) { return div(x, y); }),
       .forms = {b([](auto x, auto y) { return x.div(y); }), b([](auto x, auto y) { return x / y; })},
       .domains = {Dom::Any, Dom::AwayFromZero}, .samples = kBinary, .ref = [](const V& x) { return x[0] / x[1]; },
       .int64 = Int64::Skip},  // true division: int64 / int64 is float32 (test_probing, test_dtype)
      {.name = "pow_tensor", .arity = 2, .fn = b([](auto x, auto y) { return pow(x, y); }),
       .forms = {b([](auto x, auto y) { return x.pow(y); })}, .domains = {Dom::Positive, Dom::Any},
       .samples = kBinary, .ref = [](const V& x) { return std::pow(x[0], x[1]); }},
      {.name = "maximum", .arity = 2, .fn = b([](auto x, auto y) { return maximum(x, y); }), .samples = kBinary,
       .ref = [](const V& x) { return std::max(x[0], x[1]); }, .int64 = Int64::Yes},
      {.name = "minimum", .arity = 2, .fn = b([](auto x, auto y) { return minimum(x, y); }), .samples = kBinary,
       .ref = [](const V& x) { return std::min(x[0], x[1]); }, .int64 = Int64::Yes},
      {.name = "where", .arity = 2, .fn = [cond](const Ts& t) { return where(cond, t[0], t[1]); },
       .samples = {{{3, 4}, {3, 4}}, {{3, 4}, {4}}, {{3, 1}, {1, 4}}}, .int64 = Int64::Yes},
      {.name = "where_0d_operand", .arity = 2, .fn = [cond23](const Ts& t) { return where(cond23, t[0], t[1]); },
       .samples = {{{}, {2, 3}}, {{2, 3}, {}}}, .int64 = Int64::Yes},
      // scalar forms
      {.name = "add_scalar", .fn = u([](auto x) { return add(x, 2.0); }),
       .forms = {u([](auto x) { return x.add(2.0); }), u([](auto x) { return x + 2.0; }),
                 u([](auto x) { return 2.0 + x; })},
       .samples = kUnary, .ref = [](const V& x) { return x[0] + 2.0; }, .int64 = Int64::Yes},
      {.name = "sub_scalar", .fn = u([](auto x) { return sub(x, 2.0); }),
       .forms = {u([](auto x) { return x.sub(2.0); }), u([](auto x) { return x - 2.0; })}, .samples = kUnary,
       .ref = [](const V& x) { return x[0] - 2.0; }, .int64 = Int64::Yes},
      {.name = "mul_scalar", .fn = u([](auto x) { return mul(x, 3.0); }),
       .forms = {u([](auto x) { return x.mul(3.0); }), u([](auto x) { return x * 3.0; }),
                 u([](auto x) { return 3.0 * x; })},
       .samples = kUnary, .ref = [](const V& x) { return x[0] * 3.0; }, .int64 = Int64::Yes},
      {.name = "div_scalar", .fn = u([](auto x) { return div(x, 2.0); }),
       .forms = {u([](auto x) { return x.div(2.0); }), u([](auto x) { return x / 2.0; })}, .samples = kUnary,
       .ref = [](const V& x) { return x[0] / 2.0; }, .int64 = Int64::Skip},  // true division: float32
      {.name = "rsub", .fn = u([](auto x) { return rsub(x, 5.0); }), .forms = {u([](auto x) { return 5.0 - x; })},
       .samples = kUnary, .ref = [](const V& x) { return 5.0 - x[0]; }, .int64 = Int64::Yes},
      {.name = "rdiv", .fn = u([](auto x) { return rdiv(x, 6.0); }), .forms = {u([](auto x) { return 6.0 / x; })},
       .domains = {Dom::AwayFromZero}, .samples = kUnary, .ref = [](const V& x) { return 6.0 / x[0]; },
       .int64 = Int64::Skip},  // true division: float32
      {.name = "neg", .fn = u([](auto x) { return neg(x); }),
       .forms = {u([](auto x) { return x.neg(); }), u([](auto x) { return -x; })}, .samples = kUnary,
       .ref = [](const V& x) { return -x[0]; }, .int64 = Int64::Yes},
      {.name = "pow_2", .fn = u([](auto x) { return pow(x, 2.0); }), .forms = {u([](auto x) { return x.pow(2.0); })},
       .samples = kUnary, .ref = [](const V& x) { return x[0] * x[0]; }},
      {.name = "pow_3", .fn = u([](auto x) { return pow(x, 3.0); }), .forms = {u([](auto x) { return x.pow(3.0); })},
       .samples = kUnary, .ref = [](const V& x) { return x[0] * x[0] * x[0]; }},
      {.name = "pow_0.5", .fn = u([](auto x) { return pow(x, 0.5); }), .forms = {u([](auto x) { return x.pow(0.5); })},
       .domains = {Dom::Positive}, .samples = kUnary, .ref = [](const V& x) { return std::sqrt(x[0]); }},
      {.name = "pow_-1.5", .fn = u([](auto x) { return pow(x, -1.5); }),
       .forms = {u([](auto x) { return x.pow(-1.5); })}, .domains = {Dom::Positive}, .samples = kUnary,
       .ref = [](const V& x) { return std::pow(x[0], -1.5); }},
      {.name = "exp", .fn = u([](auto x) { return exp(x); }), .forms = {u([](auto x) { return x.exp(); })},
       .samples = kUnary, .ref = [](const V& x) { return std::exp(x[0]); }},
      {.name = "log", .fn = u([](auto x) { return log(x); }), .forms = {u([](auto x) { return x.log(); })},
       .domains = {Dom::Positive}, .samples = kUnary, .ref = [](const V& x) { return std::log(x[0]); }},
      {.name = "log1p", .fn = u([](auto x) { return log1p(x); }), .forms = {u([](auto x) { return x.log1p(); })},
       .domains = {Dom::Positive}, .samples = kUnary, .ref = [](const V& x) { return std::log1p(x[0]); }},
      {.name = "sqrt", .fn = u([](auto x) { return sqrt(x); }), .forms = {u([](auto x) { return x.sqrt(); })},
       .domains = {Dom::Positive}, .samples = kUnary, .ref = [](const V& x) { return std::sqrt(x[0]); }},
      {.name = "rsqrt", .fn = u([](auto x) { return rsqrt(x); }), .forms = {u([](auto x) { return x.rsqrt(); })},
       .domains = {Dom::Positive}, .samples = kUnary, .ref = [](const V& x) { return 1.0 / std::sqrt(x[0]); }},
      {.name = "abs", .fn = u([](auto x) { return abs(x); }), .forms = {u([](auto x) { return x.abs(); })},
       .domains = {Dom::AwayFromZero}, .samples = kUnary, .ref = [](const V& x) { return std::fabs(x[0]); },
       .int64 = Int64::Yes},
      {.name = "sin", .fn = u([](auto x) { return sin(x); }), .forms = {u([](auto x) { return x.sin(); })},
       .samples = kUnary, .ref = [](const V& x) { return std::sin(x[0]); }},
      {.name = "cos", .fn = u([](auto x) { return cos(x); }), .forms = {u([](auto x) { return x.cos(); })},
       .samples = kUnary, .ref = [](const V& x) { return std::cos(x[0]); }},
      {.name = "tanh", .fn = u([](auto x) { return tanh(x); }), .forms = {u([](auto x) { return x.tanh(); })},
       .samples = kUnary, .ref = [](const V& x) { return std::tanh(x[0]); }},
      {.name = "sigmoid", .fn = u([](auto x) { return sigmoid(x); }), .forms = {u([](auto x) { return x.sigmoid(); })},
       .samples = kUnary, .ref = [](const V& x) { return sigmoid_d(x[0]); }},
      {.name = "relu", .fn = u([](auto x) { return relu(x); }), .forms = {u([](auto x) { return x.relu(); })},
       .domains = {Dom::AwayFromZero}, .samples = kUnary, .ref = [](const V& x) { return std::max(x[0], 0.0); },
       .int64 = Int64::Yes},
      {.name = "erf", .fn = u([](auto x) { return erf(x); }), .forms = {u([](auto x) { return x.erf(); })},
       .samples = kUnary, .ref = [](const V& x) { return std::erf(x[0]); }},
      {.name = "clamp", .fn = u([](auto x) { return clamp(x, -1.0, 2.0); }),
       .forms = {u([](auto x) { return x.clamp(-1.0, 2.0); })}, .samples = kUnary,
       .ref = [](const V& x) { return std::clamp(x[0], -1.0, 2.0); }, .int64 = Int64::Yes},
      {.name = "clamp_min", .fn = u([](auto x) { return clamp(x, 0.0, std::nullopt); }),
       .forms = {u([](auto x) { return x.clamp(0.0, std::nullopt); })}, .domains = {Dom::AwayFromZero},
       .samples = kUnary, .ref = [](const V& x) { return std::max(x[0], 0.0); }, .int64 = Int64::Yes},
      {.name = "clamp_max", .fn = u([](auto x) { return clamp(x, std::nullopt, 1.0); }),
       .forms = {u([](auto x) { return x.clamp(std::nullopt, 1.0); })}, .samples = kUnary,
       .ref = [](const V& x) { return std::min(x[0], 1.0); }, .int64 = Int64::Yes},
      // not differentiable: sign and comparisons (results never require grad)
      {.name = "sign", .fn = u([](auto x) { return sign(x); }), .forms = {u([](auto x) { return x.sign(); })},
       .domains = {Dom::AwayFromZero}, .samples = kUnary, .ref = [](const V& x) { return x[0] > 0 ? 1.0 : -1.0; },
       .int64 = Int64::Yes, .differentiable = false},
      {.name = "eq", .arity = 2, .fn = b([](auto x, auto y) { return eq(x, y); }),
       .forms = {b([](auto x, auto y) { return x.eq(y); }), b([](auto x, auto y) { return x == y; })},
       .samples = kBinary, .ref = [](const V& x) { return x[0] == x[1] ? 1.0 : 0.0; }, .int64 = Int64::Yes,
       .differentiable = false},
      {.name = "ne", .arity = 2, .fn = b([](auto x, auto y) { return ne(x, y); }),
       .forms = {b([](auto x, auto y) { return x.ne(y); }), b([](auto x, auto y) { return x != y; })},
       .samples = kBinary, .ref = [](const V& x) { return x[0] != x[1] ? 1.0 : 0.0; }, .int64 = Int64::Yes,
       .differentiable = false},
      {.name = "lt", .arity = 2, .fn = b([](auto x, auto y) { return lt(x, y); }),
       .forms = {b([](auto x, auto y) { return x.lt(y); }), b([](auto x, auto y) { return x < y; })},
       .samples = kBinary, .ref = [](const V& x) { return x[0] < x[1] ? 1.0 : 0.0; }, .int64 = Int64::Yes,
       .differentiable = false},
      {.name = "le", .arity = 2, .fn = b([](auto x, auto y) { return le(x, y); }),
       .forms = {b([](auto x, auto y) { return x.le(y); }), b([](auto x, auto y) { return x <= y; })},
       .samples = kBinary, .ref = [](const V& x) { return x[0] <= x[1] ? 1.0 : 0.0; }, .int64 = Int64::Yes,
       .differentiable = false},
      {.name = "gt", .arity = 2, .fn = b([](auto x, auto y) { return gt(x, y); }),
       .forms = {b([](auto x, auto y) { return x.gt(y); }), b([](auto x, auto y) { return x > y; })},
       .samples = kBinary, .ref = [](const V& x) { return x[0] > x[1] ? 1.0 : 0.0; }, .int64 = Int64::Yes,
       .differentiable = false},
      {.name = "ge", .arity = 2, .fn = b([](auto x, auto y) { return ge(x, y); }),
       .forms = {b([](auto x, auto y) { return x.ge(y); }), b([](auto x, auto y) { return x >= y; })},
       .samples = kBinary, .ref = [](const V& x) { return x[0] >= x[1] ? 1.0 : 0.0; }, .int64 = Int64::Yes,
       .differentiable = false},
      {.name = "gt_scalar", .fn = u([](auto x) { return gt(x, 0.5); }), .forms = {u([](auto x) { return x > 0.5; })},
       .samples = kUnary, .ref = [](const V& x) { return x[0] > 0.5 ? 1.0 : 0.0; }, .int64 = Int64::Yes,
       .differentiable = false},
      {.name = "le_scalar", .fn = u([](auto x) { return le(x, -0.5); }),
       .forms = {u([](auto x) { return x <= -0.5; })}, .samples = kUnary,
       .ref = [](const V& x) { return x[0] <= -0.5 ? 1.0 : 0.0; }, .int64 = Int64::Yes, .differentiable = false},
  };
}

// ---- reductions (reduction.hpp) -------------------------------------------------------------

std::vector<OpInfo> reduction_ops() {
  auto u = [](auto f) { return [f](const Ts& t) { return f(t[0]); }; };
  const double inf = std::numeric_limits<double>::infinity();
  return {
      {.name = "sum", .fn = u([](auto x) { return sum(x); }), .forms = {u([](auto x) { return x.sum(); })},
       .samples = kReduce, .int64 = Int64::Yes},
      {.name = "sum_dim", .fn = u([](auto x) { return sum(x, {-1}); }),
       .forms = {u([](auto x) { return x.sum({-1}); })}, .samples = kReduce, .int64 = Int64::Yes},
      {.name = "sum_dims_keepdim", .fn = u([](auto x) { return sum(x, {0, -1}, true); }),
       .forms = {u([](auto x) { return x.sum({0, -1}, true); })}, .samples = kReduce, .int64 = Int64::Yes},
      {.name = "mean", .fn = u([](auto x) { return mean(x); }), .forms = {u([](auto x) { return x.mean(); })},
       .samples = kReduce, .dtype_error = "expected a floating dtype"},
      {.name = "mean_dim_keepdim", .fn = u([](auto x) { return mean(x, {0}, true); }),
       .forms = {u([](auto x) { return x.mean({0}, true); })}, .samples = kReduce,
       .dtype_error = "expected a floating dtype"},
      {.name = "max", .fn = u([](auto x) { return max(x); }), .forms = {u([](auto x) { return x.max(); })},
       .samples = kReduce, .int64 = Int64::Yes},
      {.name = "max_dim", .fn = u([](auto x) { return max(x, {1}); }), .samples = kReduce, .int64 = Int64::Yes},
      {.name = "min", .fn = u([](auto x) { return min(x); }), .forms = {u([](auto x) { return x.min(); })},
       .samples = kReduce, .int64 = Int64::Yes},
      {.name = "min_dim_keepdim", .fn = u([](auto x) { return min(x, {0}, true); }), .samples = kReduce,
       .int64 = Int64::Yes},
      {.name = "var", .fn = u([](auto x) { return var(x); }), .samples = kReduce},
      {.name = "var_dim_biased_keepdim", .fn = u([](auto x) { return var(x, {1}, 0, true); }), .samples = kReduce},
      {.name = "std", .fn = u([](auto x) { return xgrad::std(x); }), .samples = kReduce},
      // Not the expanded variant: its rows are equal, std is 0 there and not differentiable
      // (PyTorch's gradient is 0, the numerical one is noise).
      {.name = "std_dim",
       .fn = u([](auto x) { return xgrad::std(x, {0}); }),
       .samples = kReduce,
       .variants = kContiguous | kTransposed | kStrided},
      {.name = "logsumexp", .fn = u([](auto x) { return logsumexp(x); }), .samples = kReduce},
      {.name = "logsumexp_dim_keepdim", .fn = u([](auto x) { return logsumexp(x, {-1}, true); }), .samples = kReduce},
      {.name = "norm_2", .fn = u([](auto x) { return norm(x); }), .samples = kReduce},
      {.name = "norm_3_dim", .fn = u([](auto x) { return norm(x, 3.0, {-1}); }), .samples = kReduce},
      {.name = "norm_1_dim", .fn = u([](auto x) { return norm(x, 1.0, {1}); }), .domains = {Dom::AwayFromZero},
       .samples = kReduce},
      {.name = "norm_inf", .fn = u([inf](auto x) { return norm(x, inf); }), .samples = kReduce},
      {.name = "norm_inf_dim_keepdim", .fn = u([inf](auto x) { return norm(x, inf, {0}, true); }),
       .samples = kReduce},
      // not differentiable (int64 indices)
      {.name = "argmax", .fn = u([](auto x) { return argmax(x); }), .forms = {u([](auto x) { return x.argmax(); })},
       .samples = kReduce, .int64 = Int64::Yes, .differentiable = false},
      {.name = "argmax_dim", .fn = u([](auto x) { return argmax(x, 1); }),
       .forms = {u([](auto x) { return x.argmax(1); })}, .samples = kReduce, .int64 = Int64::Yes,
       .differentiable = false},
      {.name = "argmin_dim_keepdim", .fn = u([](auto x) { return argmin(x, 0, true); }),
       .forms = {u([](auto x) { return x.argmin(0, true); })}, .samples = kReduce, .int64 = Int64::Yes,
       .differentiable = false},
  };
}

// ---- products (linalg.hpp) ------------------------------------------------------------------

std::vector<OpInfo> linalg_ops() {
  auto b = [](auto f) { return [f](const Ts& t) { return f(t[0], t[1]); }; };
  return {
      {.name = "matmul", .arity = 2, .fn = b([](auto x, auto y) { return matmul(x, y); }),
       .forms = {b([](auto x, auto y) { return x.matmul(y); })},
       .samples = {{{3, 4}, {4, 2}}, {{4}, {4, 2}}, {{3, 4}, {4}}, {{4}, {4}}, {{2, 3, 4}, {4, 2}}, {{2, 3, 4}, {2, 4, 2}},
                   {{2, 1, 2, 3}, {3, 3, 2}}}},
      {.name = "mm", .arity = 2, .fn = b([](auto x, auto y) { return mm(x, y); }),
       .forms = {b([](auto x, auto y) { return x.mm(y); })}, .samples = {{{3, 4}, {4, 2}}, {{1, 3}, {3, 1}}}},
      {.name = "mm_transpose_a", .arity = 2, .fn = b([](auto x, auto y) { return mm(x, y, true, false); }),
       .samples = {{{4, 3}, {4, 2}}}},
      {.name = "mm_transpose_b", .arity = 2, .fn = b([](auto x, auto y) { return mm(x, y, false, true); }),
       .samples = {{{3, 4}, {2, 4}}}},
      {.name = "mm_transpose_both", .arity = 2, .fn = b([](auto x, auto y) { return mm(x, y, true, true); }),
       .samples = {{{4, 3}, {2, 4}}}},
      {.name = "bmm", .arity = 2, .fn = b([](auto x, auto y) { return bmm(x, y); }), .samples = {{{2, 3, 4}, {2, 4, 2}}}},
      {.name = "outer", .arity = 2, .fn = b([](auto x, auto y) { return outer(x, y); }), .samples = {{{3}, {4}}}},
      {.name = "dot", .arity = 2, .fn = b([](auto x, auto y) { return dot(x, y); }), .samples = {{{5}, {5}}}},
  };
}

// ---- shape ops (shape.hpp) and indexing ----------------------------------------------------

// Concatenation of the pieces, piece i scaled by i + 1 (routes a distinct gradient to each).
Tensor scaled_cat(const Ts& pieces, std::int64_t dim) {
  Ts s;
  for (std::size_t i = 0; i < pieces.size(); ++i) s.push_back(pieces[i] * static_cast<double>(i + 1));
  return cat(s, dim);
}
Tensor scaled_stack(const Ts& pieces, std::int64_t dim) {
  Ts s;
  for (std::size_t i = 0; i < pieces.size(); ++i) s.push_back(pieces[i] * static_cast<double>(i + 1));
  return stack(s, dim);
}

std::vector<OpInfo> shape_ops() {
  auto u = [](auto f) { return [f](const Ts& t) { return f(t[0]); }; };
  auto b = [](auto f) { return [f](const Ts& t) { return f(t[0], t[1]); }; };
  const Tensor idx = from_vector<std::int64_t>({2, 0, 2}, {3});
  const Tensor gidx = from_vector<std::int64_t>({0, 3, 1, 1, 2, 2}, {3, 2});
  const Tensor sidx = from_vector<std::int64_t>({0, 2, 1, 0, 2, 2, 1, 0}, {2, 4});
  const Tensor rows = from_vector<std::int64_t>({1, 0, 1}, {3});
  const Tensor like = zeros({2, 3, 4}, dtype(float64));
  return {
      {.name = "reshape", .fn = u([](auto x) { return reshape(x, {-1}); }),
       .forms = {u([](auto x) { return x.reshape({-1}); })}, .samples = kReduce, .int64 = Int64::Yes},
      {.name = "reshape_split_dim", .fn = u([](auto x) { return reshape(x, {3, 2, 2}); }),
       .forms = {u([](auto x) { return x.reshape({3, 2, 2}); })}, .samples = {{{3, 4}}}, .int64 = Int64::Yes},
      // view needs compatible strides: contiguous inputs only
      {.name = "view", .fn = u([](auto x) { return view(x, {4, 3}); }), .forms = {u([](auto x) { return x.view({4, 3}); })},
       .samples = {{{3, 4}}}, .int64 = Int64::Yes, .variants = kContiguous},
      {.name = "flatten", .fn = u([](auto x) { return flatten(x); }), .forms = {u([](auto x) { return x.flatten(); })},
       .samples = kReduce, .int64 = Int64::Yes},
      {.name = "flatten_range", .fn = u([](auto x) { return flatten(x, 1); }),
       .forms = {u([](auto x) { return x.flatten(1); })}, .samples = {{{2, 3, 2}}}, .int64 = Int64::Yes},
      {.name = "squeeze", .fn = u([](auto x) { return squeeze(x); }), .forms = {u([](auto x) { return x.squeeze(); })},
       .samples = {{{3, 1, 4}}}, .int64 = Int64::Yes},
      {.name = "squeeze_dim", .fn = u([](auto x) { return squeeze(x, 1); }),
       .forms = {u([](auto x) { return x.squeeze(1); })}, .samples = {{{3, 1, 4}}}, .int64 = Int64::Yes},
      {.name = "unsqueeze", .fn = u([](auto x) { return unsqueeze(x, -1); }),
       .forms = {u([](auto x) { return x.unsqueeze(-1); })}, .samples = kUnary, .int64 = Int64::Yes},
      {.name = "transpose", .fn = u([](auto x) { return transpose(x, 0, -1); }),
       .forms = {u([](auto x) { return x.transpose(0, -1); })}, .samples = kReduce, .int64 = Int64::Yes},
      {.name = "permute", .fn = u([](auto x) { return permute(x, {2, 0, 1}); }),
       .forms = {u([](auto x) { return x.permute({2, 0, 1}); })}, .samples = {{{2, 3, 2}}}, .int64 = Int64::Yes},
      {.name = "t", .fn = u([](auto x) { return t(x); }), .forms = {u([](auto x) { return x.t(); })},
       .samples = {{{3, 4}}, {{5}}}, .int64 = Int64::Yes},
      {.name = "movedim", .fn = u([](auto x) { return movedim(x, 0, 2); }),
       .forms = {u([](auto x) { return x.movedim(0, 2); })}, .samples = {{{2, 3, 2}}}, .int64 = Int64::Yes},
      {.name = "expand", .fn = u([](auto x) { return expand(x, {2, 3, 4}); }),
       .forms = {u([](auto x) { return x.expand({2, 3, 4}); }), u([](auto x) { return broadcast_to(x, {2, 3, 4}); })},
       .samples = {{{3, 1}}, {{4}}}, .int64 = Int64::Yes},
      {.name = "expand_as", .fn = u([like](auto x) { return expand_as(x, like); }),
       .forms = {u([like](auto x) { return x.expand_as(like); })}, .samples = {{{3, 1}}, {{1, 4}}},
       .int64 = Int64::Yes},
      {.name = "cat", .arity = 2, .fn = [](const Ts& t) { return cat({t[0], t[1] * 2.0}, 0); },
       .samples = {{{2, 4}, {3, 4}}}, .int64 = Int64::Yes},
      {.name = "cat_dim1", .arity = 2, .fn = [](const Ts& t) { return cat({t[0], t[1] * 2.0}, 1); },
       .samples = {{{3, 2}, {3, 4}}}, .int64 = Int64::Yes},
      {.name = "stack", .arity = 2, .fn = [](const Ts& t) { return stack({t[0], t[1] * 2.0}, 1); },
       .samples = {{{3, 4}, {3, 4}}}, .int64 = Int64::Yes},
      {.name = "split", .fn = u([](auto x) { return scaled_cat(split(x, 3, 1), 1); }), .samples = {{{3, 4}}},
       .int64 = Int64::Yes},
      {.name = "split_sizes", .fn = u([](auto x) { return scaled_cat(split(x, I64s{1, 3}, 1), 1); }),
       .samples = {{{3, 4}}}, .int64 = Int64::Yes},
      {.name = "chunk", .fn = u([](auto x) { return scaled_cat(chunk(x, 2, 0), 0); }), .samples = {{{3, 4}}},
       .int64 = Int64::Yes},
      {.name = "unbind", .fn = u([](auto x) { return scaled_stack(unbind(x, 1), 0); }),
       .forms = {u([](auto x) { return scaled_stack(x.unbind(1), 0); })}, .samples = {{{3, 4}}}, .int64 = Int64::Yes},
      {.name = "narrow", .fn = u([](auto x) { return narrow(x, 1, 1, 2); }),
       .forms = {u([](auto x) { return x.narrow(1, 1, 2); })}, .samples = {{{3, 4}}}, .int64 = Int64::Yes},
      {.name = "slice_step", .fn = u([](auto x) { return slice(x, 1, 0, 4, 2); }),
       .forms = {u([](auto x) { return x.slice(1, 0, 4, 2); })}, .samples = {{{3, 4}}}, .int64 = Int64::Yes},
      {.name = "slice_negative_bounds", .fn = u([](auto x) { return slice(x, 0, -2, 100); }),
       .forms = {u([](auto x) { return x.slice(0, -2, 100, 1); })}, .samples = {{{3, 4}}}, .int64 = Int64::Yes},
      {.name = "select", .fn = u([](auto x) { return select(x, 1, 2); }),
       .forms = {u([](auto x) { return x.select(1, 2); })}, .samples = {{{3, 4}}, {{2, 3, 2}}}, .int64 = Int64::Yes},
      {.name = "unfold_overlapping", .fn = u([](auto x) { return unfold(x, 1, 2, 1); }),
       .forms = {u([](auto x) { return x.unfold(1, 2, 1); })}, .samples = {{{3, 4}}}, .int64 = Int64::Yes},
      {.name = "diagonal", .fn = u([](auto x) { return diagonal(x); }), .forms = {u([](auto x) { return x.diagonal(); })},
       .samples = {{{3, 4}}}, .int64 = Int64::Yes},
      {.name = "diagonal_offset_dims", .fn = u([](auto x) { return diagonal(x, -1, 1, 2); }),
       .forms = {u([](auto x) { return x.diagonal(-1, 1, 2); })}, .samples = {{{2, 3, 3}}}, .int64 = Int64::Yes},
      // as_strided reads the storage: on a view it means something else than on a copy
      {.name = "as_strided", .fn = u([](auto x) { return as_strided(x, {2, 2}, {1, 2}, 1); }),
       .forms = {u([](auto x) { return x.as_strided({2, 2}, {1, 2}, 1); })}, .samples = {{{3, 4}}},
       .int64 = Int64::Yes, .variants = kContiguous},
      {.name = "as_strided_overlapping", .fn = u([](auto x) { return as_strided(x, {3, 3}, {1, 1}, std::nullopt); }),
       .samples = {{{3, 4}}}, .int64 = Int64::Yes, .variants = kContiguous},
      {.name = "index_basic", .fn = u([](auto x) { return x.index({Slice(1, None), Slice(None, None, 2)}); }),
       .samples = {{{3, 4}}}, .int64 = Int64::Yes},
      {.name = "index_none_int", .fn = u([](auto x) { return x.index({None, 1}); }), .samples = {{{3, 4}}},
       .int64 = Int64::Yes},
      {.name = "index_tensor", .fn = u([rows](auto x) { return x.index({rows}); }), .samples = {{{3, 4}}},
       .int64 = Int64::Yes},
      {.name = "index_select", .fn = u([idx](auto x) { return index_select(x, 1, idx); }),
       .forms = {u([idx](auto x) { return x.index_select(1, idx); })}, .samples = {{{3, 4}}}, .int64 = Int64::Yes},
      {.name = "gather", .fn = u([gidx](auto x) { return gather(x, 1, gidx); }),
       .forms = {u([gidx](auto x) { return x.gather(1, gidx); })}, .samples = {{{3, 4}}}, .int64 = Int64::Yes},
      {.name = "scatter_add", .arity = 2, .fn = b([sidx](auto x, auto s) { return scatter_add(x, 0, sidx, s); }),
       .samples = {{{3, 4}, {2, 4}}}, .int64 = Int64::Yes},
      {.name = "pad", .fn = u([](auto x) { return pad(x, {1, 2, 0, 1}, 0.5); }), .samples = {{{3, 4}}},
       .int64 = Int64::Skip},
      {.name = "contiguous", .fn = u([](auto x) { return x.contiguous(); }), .samples = kReduce, .int64 = Int64::Yes},
      {.name = "clone", .fn = u([](auto x) { return x.clone(); }), .samples = kReduce, .int64 = Int64::Yes},
  };
}

// ---- in-place ops on a clone (differentiable through the clone's history) -------------------

std::vector<OpInfo> inplace_ops() {
  auto b = [](auto f) {
    return [f](const Ts& t) {
      Tensor c = t[0].clone();
      f(c, t[1]);
      return c;
    };
  };
  auto u = [](auto f) {
    return [f](const Ts& t) {
      Tensor c = t[0].clone();
      f(c);
      return c;
    };
  };
  const std::vector<std::vector<Shape>> s = {{{3, 4}, {3, 4}}, {{3, 4}, {4}}, {{3, 4}, {}}};
  return {
      {.name = "add_", .arity = 2, .fn = b([](Tensor& c, const Tensor& o) { c.add_(o); }), .samples = s,
       .ref = [](const V& x) { return x[0] + x[1]; }, .int64 = Int64::Yes},
      {.name = "add_alpha", .arity = 2, .fn = b([](Tensor& c, const Tensor& o) { c.add_(o, 2.0); }), .samples = s,
       .ref = [](const V& x) { return x[0] + 2.0 * x[1]; }, .int64 = Int64::Yes},
      {.name = "sub_alpha", .arity = 2, .fn = b([](Tensor& c, const Tensor& o) { c.sub_(o, 3.0); }), .samples = s,
       .ref = [](const V& x) { return x[0] - 3.0 * x[1]; }, .int64 = Int64::Yes},
      {.name = "mul_", .arity = 2, .fn = b([](Tensor& c, const Tensor& o) { c.mul_(o); }), .samples = s,
       .ref = [](const V& x) { return x[0] * x[1]; }, .int64 = Int64::Yes},
      {.name = "div_", .arity = 2, .fn = b([](Tensor& c, const Tensor& o) { c.div_(o); }),
       .domains = {Dom::Any, Dom::AwayFromZero}, .samples = s, .ref = [](const V& x) { return x[0] / x[1]; },
       .int64 = Int64::Skip},
      {.name = "copy_", .arity = 2, .fn = b([](Tensor& c, const Tensor& o) { c.copy_(o); }), .samples = s,
       .ref = [](const V& x) { return x[1]; }, .int64 = Int64::Yes},
      {.name = "mul_scalar_", .fn = u([](Tensor& c) { c.mul_(-2.0); }), .samples = kUnary,
       .ref = [](const V& x) { return -2.0 * x[0]; }, .int64 = Int64::Yes},
      {.name = "clamp_", .fn = u([](Tensor& c) { c.clamp_(-0.5, 0.5); }), .samples = kUnary,
       .ref = [](const V& x) { return std::clamp(x[0], -0.5, 0.5); }, .int64 = Int64::Skip},
      // through a view of the clone: the clone's history is rebased (CopySlices)
      {.name = "mul_through_transposed_view", .arity = 2,
       .fn = b([](Tensor& c, const Tensor& o) { c.t().select(0, 1).mul_(o); }), .samples = {{{3, 4}, {3}}},
       .int64 = Int64::Yes},
      {.name = "fill_through_strided_view", .fn = u([](Tensor& c) { c.slice(1, 0, 4, 2).fill_(0.25); }),
       .samples = {{{3, 4}}}, .int64 = Int64::Skip},
      {.name = "index_put_tensor", .arity = 2,
       .fn = b([](Tensor& c, const Tensor& o) { c.index_put_({Slice(), 1}, o); }), .samples = {{{3, 4}, {3}}},
       .int64 = Int64::Yes},
  };
}

// ---- nn: activations, softmax family, linear layers (activation.hpp, linear.hpp) ----------

std::vector<OpInfo> activation_ops() {
  namespace nn = xgrad::nn;
  auto u = [](auto f) { return [f](const Ts& t) { return f(t[0]); }; };
  auto mod = [](auto make) {
    return [make](const Ts& t) {
      auto m = make();
      return m(t[0]);
    };
  };
  const double sqrt2 = std::numbers::sqrt2;
  const double k = std::sqrt(2.0 / std::numbers::pi);
  return {
      {.name = "F::sigmoid", .fn = u([](auto x) { return F::sigmoid(x); }),
       .forms = {mod([] { return nn::Sigmoid(); })}, .samples = kUnary,
       .ref = [](const V& x) { return sigmoid_d(x[0]); }},
      {.name = "F::tanh", .fn = u([](auto x) { return F::tanh(x); }), .forms = {mod([] { return nn::Tanh(); })},
       .samples = kUnary, .ref = [](const V& x) { return std::tanh(x[0]); }},
      {.name = "F::relu", .fn = u([](auto x) { return F::relu(x); }), .forms = {mod([] { return nn::ReLU(); })},
       .domains = {Dom::AwayFromZero}, .samples = kUnary, .ref = [](const V& x) { return std::max(x[0], 0.0); },
       .int64 = Int64::Yes},
      {.name = "F::leaky_relu", .fn = u([](auto x) { return F::leaky_relu(x); }),
       .forms = {mod([] { return nn::LeakyReLU(); })}, .domains = {Dom::AwayFromZero}, .samples = kUnary,
       .ref = [](const V& x) { return x[0] > 0 ? x[0] : 0.01 * x[0]; }},
      {.name = "F::leaky_relu_0.2", .fn = u([](auto x) { return F::leaky_relu(x, 0.2); }),
       .forms = {mod([] { return nn::LeakyReLU(0.2); })}, .domains = {Dom::AwayFromZero}, .samples = kUnary,
       .ref = [](const V& x) { return x[0] > 0 ? x[0] : 0.2 * x[0]; }},
      {.name = "F::gelu", .fn = u([](auto x) { return F::gelu(x); }), .forms = {mod([] { return nn::GELU(); })},
       .samples = kUnary, .ref = [sqrt2](const V& x) { return 0.5 * x[0] * (1.0 + std::erf(x[0] / sqrt2)); }},
      {.name = "F::gelu_tanh", .fn = u([](auto x) { return F::gelu(x, "tanh"); }),
       .forms = {mod([] { return nn::GELU("tanh"); })}, .samples = kUnary,
       .ref = [k](const V& x) {
         return 0.5 * x[0] * (1.0 + std::tanh(k * (x[0] + 0.044715 * x[0] * x[0] * x[0])));
       }},
      {.name = "F::elu", .fn = u([](auto x) { return F::elu(x); }), .forms = {mod([] { return nn::ELU(); })},
       .domains = {Dom::AwayFromZero}, .samples = kUnary,
       .ref = [](const V& x) { return x[0] > 0 ? x[0] : std::expm1(x[0]); }},
      {.name = "F::elu_0.5", .fn = u([](auto x) { return F::elu(x, 0.5); }), .forms = {mod([] { return nn::ELU(0.5); })},
       .domains = {Dom::AwayFromZero}, .samples = kUnary,
       .ref = [](const V& x) { return x[0] > 0 ? x[0] : 0.5 * std::expm1(x[0]); }},
      {.name = "F::selu", .fn = u([](auto x) { return F::selu(x); }), .forms = {mod([] { return nn::SELU(); })},
       .domains = {Dom::AwayFromZero}, .samples = kUnary,
       .ref = [](const V& x) { return nn::kSeluScale * (x[0] > 0 ? x[0] : nn::kSeluAlpha * std::expm1(x[0])); }},
      {.name = "F::silu", .fn = u([](auto x) { return F::silu(x); }), .forms = {mod([] { return nn::SiLU(); })},
       .samples = kUnary, .ref = [](const V& x) { return x[0] * sigmoid_d(x[0]); }},
      {.name = "F::softplus", .fn = u([](auto x) { return F::softplus(x); }),
       .forms = {mod([] { return nn::Softplus(); })}, .samples = kUnary,
       .ref = [](const V& x) { return softplus_d(x[0]); }},
      {.name = "F::softplus_beta2", .fn = u([](auto x) { return F::softplus(x, 2.0, 20.0); }),
       .forms = {mod([] { return nn::Softplus(2.0, 20.0); })}, .samples = kUnary,
       .ref = [](const V& x) { return softplus_d(x[0], 2.0, 20.0); }},
      {.name = "F::hardtanh", .fn = u([](auto x) { return F::hardtanh(x); }),
       .forms = {mod([] { return nn::Hardtanh(); })}, .samples = kUnary,
       .ref = [](const V& x) { return std::clamp(x[0], -1.0, 1.0); }},
      {.name = "F::hardtanh_range", .fn = u([](auto x) { return F::hardtanh(x, -0.5, 0.25); }),
       .forms = {mod([] { return nn::Hardtanh(-0.5, 0.25); })}, .samples = kUnary,
       .ref = [](const V& x) { return std::clamp(x[0], -0.5, 0.25); }},
      {.name = "F::relu6", .fn = u([](auto x) { return F::relu6(x * 4.0); }),
       .forms = {mod([] {
         return [](const Tensor& x) {
           nn::ReLU6 m;
           return m(x * 4.0);
         };
       })},
       .domains = {Dom::AwayFromZero}, .samples = kUnary,
       .ref = [](const V& x) { return std::clamp(4.0 * x[0], 0.0, 6.0); }},
      {.name = "F::mish", .fn = u([](auto x) { return F::mish(x); }), .forms = {mod([] { return nn::Mish(); })},
       .samples = kUnary, .ref = [](const V& x) { return x[0] * std::tanh(softplus_d(x[0])); }},
      {.name = "F::softmax_dim1", .fn = u([](auto x) { return F::softmax(x, 1); }),
       .forms = {mod([] { return nn::Softmax(1); })}, .samples = kUnary2d},
      {.name = "F::softmax_dim0", .fn = u([](auto x) { return F::softmax(x, 0); }),
       .forms = {mod([] { return nn::Softmax(0); })}, .samples = {{{3, 4}}, {{5}}}},
      {.name = "F::log_softmax", .fn = u([](auto x) { return F::log_softmax(x, -1); }),
       .forms = {mod([] { return nn::LogSoftmax(-1); })}, .samples = kUnary2d},
      {.name = "F::log_softmax_dim0", .fn = u([](auto x) { return F::log_softmax(x, 0); }), .samples = kUnary2d},
      {.name = "F::softmin", .fn = u([](auto x) { return F::softmin(x, 0); }),
       .forms = {mod([] { return nn::Softmin(0); })}, .samples = kUnary2d},
      {.name = "F::linear", .arity = 3, .fn = [](const Ts& t) { return F::linear(t[0], t[1], t[2]); },
       .samples = {{{3, 4}, {2, 4}, {2}}, {{2, 3, 4}, {2, 4}, {2}}}},
      {.name = "F::linear_no_bias", .arity = 2, .fn = [](const Ts& t) { return F::linear(t[0], t[1]); },
       .samples = {{{3, 4}, {2, 4}}, {{4}, {2, 4}}}},
      {.name = "F::bilinear", .arity = 4, .fn = [](const Ts& t) { return F::bilinear(t[0], t[1], t[2], t[3]); },
       .samples = {{{3, 2}, {3, 3}, {2, 2, 3}, {2}}}},
  };
}

// ---- nn losses (loss.hpp) -------------------------------------------------------------------

std::vector<OpInfo> loss_ops() {
  namespace nn = xgrad::nn;
  using nn::Reduction;
  auto b = [](auto f) { return [f](const Ts& t) { return f(t[0], t[1]); }; };
  auto u = [](auto f) { return [f](const Ts& t) { return f(t[0]); }; };
  const Tensor labels = from_vector<std::int64_t>({0, 3, 1}, {3});
  const Tensor pm1 = from_vector<double>({1, -1, -1, 1, 1, -1, 1, -1, -1, 1, 1, 1}, {3, 4});
  const Tensor y5 = from_vector<double>({1, -1, 1, 1, -1}, {5});
  const Tensor y3 = from_vector<double>({1, -1, 1}, {3});
  const Tensor cw = from_vector<double>({0.5, 1.0, 2.0, 1.5}, {4});
  const Tensor pos_weight = from_vector<double>({0.5, 1.0, 2.0, 3.0}, {4});
  const std::vector<std::vector<Shape>> pair = {{{3, 4}, {3, 4}}};
  return {
      {.name = "mse_loss", .arity = 2, .fn = b([](auto x, auto y) { return F::mse_loss(x, y); }),
       .forms = {b([](auto x, auto y) { return nn::MSELoss()(x, y); })}, .samples = pair},
      {.name = "mse_loss_none", .arity = 2, .fn = b([](auto x, auto y) { return F::mse_loss(x, y, Reduction::None); }),
       .forms = {b([](auto x, auto y) { return nn::MSELoss(Reduction::None)(x, y); })}, .samples = pair,
       .ref = [](const V& x) { return (x[0] - x[1]) * (x[0] - x[1]); }},
      {.name = "l1_loss_sum", .arity = 2, .fn = b([](auto x, auto y) { return F::l1_loss(x, y, Reduction::Sum); }),
       .forms = {b([](auto x, auto y) { return nn::L1Loss(Reduction::Sum)(x, y); })}, .samples = pair},
      {.name = "smooth_l1_loss", .arity = 2,
       .fn = b([](auto x, auto y) { return F::smooth_l1_loss(x, y, nn::SmoothL1LossOptions().beta(0.5)); }),
       .forms = {b([](auto x, auto y) { return nn::SmoothL1Loss(nn::SmoothL1LossOptions().beta(0.5))(x, y); })},
       .samples = pair},
      {.name = "huber_loss", .arity = 2,
       .fn = b([](auto x, auto y) { return F::huber_loss(x, y, nn::HuberLossOptions().delta(0.5)); }),
       .forms = {b([](auto x, auto y) { return nn::HuberLoss(nn::HuberLossOptions().delta(0.5))(x, y); })},
       .samples = pair},
      {.name = "binary_cross_entropy", .arity = 2,
       .fn = b([](auto x, auto y) { return F::binary_cross_entropy(x, y); }),
       .forms = {b([](auto x, auto y) { return nn::BCELoss()(x, y); })}, .domains = {Dom::Unit, Dom::Unit},
       .samples = pair},
      {.name = "binary_cross_entropy_with_logits", .arity = 2,
       .fn = b([](auto x, auto y) { return F::binary_cross_entropy_with_logits(x, y); }),
       .forms = {b([](auto x, auto y) { return nn::BCEWithLogitsLoss()(x, y); })}, .domains = {Dom::Any, Dom::Unit},
       .samples = pair},
      {.name = "binary_cross_entropy_with_logits_pos_weight", .arity = 2,
       .fn = b([pos_weight](auto x, auto y) {
         return F::binary_cross_entropy_with_logits(x, y, nn::BCEWithLogitsLossOptions().pos_weight(pos_weight));
       }),
       .domains = {Dom::Any, Dom::Unit}, .samples = pair,
       .dtype_error = "binary_cross_entropy_with_logits"},
      {.name = "cross_entropy", .fn = u([labels](auto x) { return F::cross_entropy(x, labels); }),
       .forms = {u([labels](auto x) { return nn::CrossEntropyLoss()(x, labels); })}, .samples = {{{3, 4}}}},
      {.name = "cross_entropy_weight_smoothing",
       .fn = u([labels, cw](auto x) {
         return F::cross_entropy(x, labels, nn::CrossEntropyLossOptions().weight(cw).label_smoothing(0.1));
       }),
       .samples = {{{3, 4}}}, .dtype_error = "cross_entropy"},
      {.name = "cross_entropy_probabilities", .arity = 2,
       .fn = b([](auto x, auto y) { return F::cross_entropy(x, y); }), .domains = {Dom::Any, Dom::Positive},
       .samples = pair},
      {.name = "nll_loss", .fn = u([labels](auto x) { return F::nll_loss(x, labels); }),
       .forms = {u([labels](auto x) { return nn::NLLLoss()(x, labels); })}, .samples = {{{3, 4}}}},
      {.name = "multi_margin_loss", .fn = u([labels](auto x) { return F::multi_margin_loss(x, labels); }),
       .forms = {u([labels](auto x) { return nn::MultiMarginLoss()(x, labels); })}, .samples = {{{3, 4}}}},
      {.name = "multi_margin_loss_p2_weight",
       .fn = u([labels, cw](auto x) {
         return F::multi_margin_loss(x, labels, nn::MultiMarginLossOptions().p(2).weight(cw).margin(0.8));
       }),
       .samples = {{{3, 4}}}, .dtype_error = "multi_margin_loss"},
      {.name = "kl_div", .arity = 2, .fn = b([](auto x, auto y) { return F::kl_div(x, y); }),
       .forms = {b([](auto x, auto y) { return nn::KLDivLoss()(x, y); })}, .domains = {Dom::Any, Dom::Positive},
       .samples = pair},
      {.name = "kl_div_log_target_batchmean", .arity = 2,
       .fn = b([](auto x, auto y) {
         return F::kl_div(x, y, nn::KLDivLossOptions(Reduction::BatchMean).log_target(true));
       }),
       .samples = pair},
      {.name = "hinge_embedding_loss", .fn = u([pm1](auto x) { return F::hinge_embedding_loss(x, pm1); }),
       .forms = {u([pm1](auto x) { return nn::HingeEmbeddingLoss()(x, pm1); })}, .samples = {{{3, 4}}}},
      {.name = "margin_ranking_loss", .arity = 2,
       .fn = b([y5](auto x1, auto x2) {
         return F::margin_ranking_loss(x1, x2, y5, nn::MarginRankingLossOptions().margin(0.1));
       }),
       .forms = {b([y5](auto x1, auto x2) {
         return nn::MarginRankingLoss(nn::MarginRankingLossOptions().margin(0.1))(x1, x2, y5);
       })},
       .samples = {{{5}, {5}}}, .dtype_error = "margin_ranking_loss"},
      {.name = "cosine_embedding_loss", .arity = 2,
       .fn = b([y3](auto x1, auto x2) { return F::cosine_embedding_loss(x1, x2, y3); }),
       .forms = {b([y3](auto x1, auto x2) { return nn::CosineEmbeddingLoss()(x1, x2, y3); })}, .samples = pair,
       .dtype_error = "cosine_embedding_loss"},
  };
}

}  // namespace

BOOST_AUTO_TEST_SUITE(op_db)

BOOST_AUTO_TEST_CASE(elementwise) { run_all(elementwise_ops()); }
BOOST_AUTO_TEST_CASE(reduction) { run_all(reduction_ops()); }
BOOST_AUTO_TEST_CASE(linalg) { run_all(linalg_ops()); }
BOOST_AUTO_TEST_CASE(shape) { run_all(shape_ops()); }
BOOST_AUTO_TEST_CASE(inplace) { run_all(inplace_ops()); }
BOOST_AUTO_TEST_CASE(nn_activations_and_linear) { run_all(activation_ops()); }
BOOST_AUTO_TEST_CASE(nn_losses) { run_all(loss_ops()); }

// Every op of the table has a distinct name (a failure message names exactly one entry).
BOOST_AUTO_TEST_CASE(names_are_unique) {
  std::vector<std::string> names;
  for (const auto& ops : {elementwise_ops(), reduction_ops(), linalg_ops(), shape_ops(), inplace_ops(),
                          activation_ops(), loss_ops()})
    for (const auto& op : ops) names.push_back(op.name);
  std::sort(names.begin(), names.end());
  BOOST_CHECK(std::adjacent_find(names.begin(), names.end()) == names.end());
  BOOST_TEST_MESSAGE("op_db: " << names.size() << " ops");
}

BOOST_AUTO_TEST_SUITE_END()
