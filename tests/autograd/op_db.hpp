// The op-table runner, in the spirit of PyTorch's OpInfo, shared by the test_op_db*.cpp
// files (each is its own test executable, so the helpers live in an anonymous namespace).
// For every entry, every
// sample (shapes, with broadcasting for binary ops) and every input layout variant:
//
//   contiguous  the inputs are contiguous leaves;
//   transposed  each input with >= 2 dims is the transpose of its last two dims of a leaf;
//   strided     each input with >= 1 dim is slice(last, 0, 2n, 2) of a leaf twice as long;
//   expanded    each input whose dim 0 is > 1 is a [1, ...] leaf expanded to the shape;
//
// the test checks (1) the values against a reference on doubles (element-wise ops), (2) that
// the op on the views equals the op on contiguous copies of them, (3) that every other form
// (method, operator, module) equals the function form exactly, (4) float64 gradcheck and
// gradgradcheck through the view (gradients are taken with respect to the underlying leaf),
// (5) int64: the result is int64 and equals the float64 result truncated toward zero, or the
// dtype error names float32/float64, (6) forward mode: the tangent of the result for random
// input tangents (through the views) equals central differences of the op along them, and
// <J t, v> equals <t, J^T v> computed by reverse mode. A failure names the op, the sample and
// the variant.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <numbers>
#include <optional>
#include <string>
#include <vector>

#include "test_util.hpp"
#include "xgrad/autograd/autograd.hpp"
#include "xgrad/autograd/forward_ad.hpp"
#include "xgrad/autograd/indexing.hpp"
#include "xgrad/nn/activation.hpp"
#include "xgrad/nn/linear.hpp"
#include "xgrad/nn/loss.hpp"

using namespace xgrad;
using xgrad::indexing::None;
using xgrad::indexing::Slice;
using xgrad::test::check_gradcheck;
using xgrad::test::check_gradgradcheck;
namespace F = xgrad::nn::functional;

namespace {

using Ts = std::vector<Tensor>;
using V = std::vector<double>;
using Fn = std::function<Tensor(const Ts&)>;
using Ref = std::function<double(const V&)>;
using I64s = std::vector<std::int64_t>;

/// Where an input's values are drawn from (kinks and poles stay more than eps away).
enum class Dom {
  Any,           // N(0, 1)
  Positive,      // [0.5, 2): log, sqrt, rsqrt, pow bases, probabilities' targets
  AwayFromZero,  // +-[0.5, 1.5): abs, sign, relu, divisors
  Unit,          // [0.1, 0.9): probabilities (binary_cross_entropy)
};

enum class Int64 {
  Yes,   // int64 inputs work; result int64 == trunc(float64 result)
  No,    // int64 inputs throw xgrad::Error containing dtype_error
  Skip,  // not checked (behaviour left open)
};

enum Variant : unsigned { kContiguous = 1, kTransposed = 2, kStrided = 4, kExpanded = 8 };
constexpr unsigned kAllVariants = kContiguous | kTransposed | kStrided | kExpanded;

struct OpInfo {
  std::string name;
  std::size_t arity = 1;
  Fn fn;                                   // the function form
  std::vector<Fn> forms = {};              // method / operator / module forms: == fn exactly
  std::vector<Dom> domains = {};           // one per input; empty: Any for all
  std::vector<std::vector<Shape>> samples = {};
  Ref ref = {};                            // element-wise reference on doubles
  Int64 int64 = Int64::No;
  std::string dtype_error = "float32 or float64";
  bool gradgrad = true;
  bool differentiable = true;              // false: the result never requires grad
  unsigned variants = kAllVariants;
};

// ---- inputs ---------------------------------------------------------------------------------

inline Dom domain_of(const OpInfo& op, std::size_t i) {
  if (op.domains.empty()) return Dom::Any;
  return op.domains.size() == 1 ? op.domains[0] : op.domains.at(i);
}

inline Tensor float_values(const Shape& s, Dom d) {
  Tensor r = randn(s, dtype(float64));
  Tensor u = rand(s, dtype(float64));
  NoGradGuard ng;
  switch (d) {
    case Dom::Any: return r;
    case Dom::Positive: return u * 1.5 + 0.5;
    case Dom::AwayFromZero: return sign(r) * (u + 0.5);
    case Dom::Unit: return u * 0.8 + 0.1;
  }
  return r;
}

inline Tensor int_values(const Shape& s, Dom d) {
  switch (d) {
    case Dom::Positive: return randint(1, 5, s);
    case Dom::AwayFromZero: return randint(1, 5, s) * (randint(0, 2, s) * 2.0 - 1.0);
    default: return randint(-4, 5, s);
  }
}

/// How one input is laid out in a variant: the leaf's shape and the view applied to it.
struct Prepared {
  Shape leaf_shape;
  std::function<Tensor(const Tensor&)> view;
  bool changed = false;
};

inline Prepared prepare(const Shape& s, Variant v) {
  const auto nd = static_cast<std::int64_t>(s.size());
  Prepared p{s, [](const Tensor& t) { return t; }, false};
  if (v == kTransposed && nd >= 2) {
    std::swap(p.leaf_shape[static_cast<std::size_t>(nd - 2)], p.leaf_shape[static_cast<std::size_t>(nd - 1)]);
    p.view = [](const Tensor& t) { return t.transpose(-2, -1); };
    p.changed = true;
  } else if (v == kStrided && nd >= 1 && s.back() >= 1) {
    const std::int64_t n = s.back();
    p.leaf_shape.back() = 2 * n;
    p.view = [nd, n](const Tensor& t) { return t.slice(nd - 1, 0, 2 * n, 2); };
    p.changed = true;
  } else if (v == kExpanded && nd >= 1 && s[0] > 1) {
    p.leaf_shape[0] = 1;
    p.view = [s](const Tensor& t) { return t.expand(s); };
    p.changed = true;
  }
  return p;
}

inline const char* variant_name(Variant v) {
  switch (v) {
    case kContiguous: return "contiguous";
    case kTransposed: return "transposed";
    case kStrided: return "strided";
    case kExpanded: return "expanded";
  }
  return "?";
}

// ---- comparisons ----------------------------------------------------------------------------

inline std::vector<double> values_of(const Tensor& t) { return t.detach().contiguous().to(float64).to_vector<double>(); }

/// |a - b| <= tol max(1, |b|) element-wise (tol 0: identical); NaNs must match.
inline void check_same(const Tensor& a, const Tensor& b, double tol, const std::string& what) {
  BOOST_CHECK_MESSAGE(a.shape() == b.shape(),
                      what << ": shape " << fmt::format("{}", a.shape()) << " != " << fmt::format("{}", b.shape()));
  if (a.shape() != b.shape()) return;
  BOOST_CHECK_MESSAGE(a.dtype() == b.dtype(), what << ": dtype " << dtype_name(a.dtype()) << " != " << dtype_name(b.dtype()));
  const auto va = values_of(a), vb = values_of(b);
  for (std::size_t i = 0; i < va.size(); ++i) {
    const bool ok = (std::isnan(va[i]) && std::isnan(vb[i])) ||
                    std::fabs(va[i] - vb[i]) <= tol * std::max(1.0, std::fabs(vb[i]));
    if (!ok) {
      BOOST_ERROR(what << ": element " << i << " is " << va[i] << ", want " << vb[i]);
      return;
    }
  }
}

// ---- the checks -----------------------------------------------------------------------------

inline void check_reference(const OpInfo& op, const Ts& inputs, const Tensor& out) {
  std::vector<std::vector<double>> args;
  for (const auto& in : inputs) args.push_back(values_of(in.detach().expand(out.shape())));
  const auto got = values_of(out);
  for (std::size_t k = 0; k < got.size(); ++k) {
    V x;
    for (const auto& a : args) x.push_back(a[k]);
    const double want = op.ref(x);
    if (!(std::fabs(got[k] - want) <= 1e-10 * std::max(1.0, std::fabs(want)))) {
      BOOST_ERROR("reference: element " << k << " is " << got[k] << ", want " << want);
      return;
    }
  }
}

/// (6): forward-mode tangent of g at `leaves` along random tangents vs central differences
/// and vs reverse mode.
inline void check_forward_mode(const Fn& g, const Ts& leaves) {
  namespace fwad = xgrad::autograd::forward_ad;
  Ts tangents;
  for (const auto& l : leaves) tangents.push_back(randn(l.shape(), dtype(float64)));
  Tensor jt, y;
  {
    fwad::DualLevel level;
    Ts duals;
    for (std::size_t i = 0; i < leaves.size(); ++i) duals.push_back(fwad::make_dual(leaves[i].detach(), tangents[i]));
    y = g(duals);
    jt = fwad::unpack_dual(y).tangent;
  }
  BOOST_REQUIRE_MESSAGE(jt.defined(), "forward mode: the result has no tangent");
  BOOST_CHECK_MESSAGE(jt.shape() == y.shape(), "forward mode: tangent shape " << fmt::format("{}", jt.shape()));
  Tensor fd;
  {
    NoGradGuard ng;
    const double eps = 1e-6;
    Ts plus, minus;
    for (std::size_t i = 0; i < leaves.size(); ++i) {
      plus.push_back(leaves[i].detach() + tangents[i] * eps);
      minus.push_back(leaves[i].detach() - tangents[i] * eps);
    }
    fd = (g(plus) - g(minus)) / (2 * eps);
  }
  Ts req;
  for (const auto& l : leaves) req.push_back(l.detach().requires_grad_(true));
  const Tensor out = g(req);
  const Tensor v = randn(out.shape(), dtype(out.dtype()));
  autograd::GradOptions o;
  o.allow_unused = true;
  const Ts vjps = autograd::grad({out}, req, {v}, o);
  NoGradGuard ng;
  const double lhs = (jt * v).sum().item<double>();
  double rhs = 0;
  for (std::size_t i = 0; i < req.size(); ++i)
    if (vjps[i].defined()) rhs += (tangents[i] * vjps[i]).sum().item<double>();
  if (std::isnan(rhs)) {
    // A derivative that is NaN in reverse mode (std at zero spread) must be NaN forward too.
    BOOST_CHECK_MESSAGE(std::isnan(lhs), "forward vs reverse: <J t, v> = " << lhs << ", <t, J^T v> = NaN");
    return;
  }
  check_same(jt, fd, 1e-5, "forward-mode tangent vs central differences");
  BOOST_CHECK_MESSAGE(std::fabs(lhs - rhs) <= 1e-10 * std::max(1.0, std::fabs(rhs)),
                      "forward vs reverse: <J t, v> = " << lhs << ", <t, J^T v> = " << rhs);
}

inline void run_variant(const OpInfo& op, const std::vector<Shape>& shapes, Variant v) {
  BOOST_REQUIRE_EQUAL(shapes.size(), op.arity);
  std::vector<Prepared> prep;
  bool changed = false;
  for (const auto& s : shapes) {
    prep.push_back(prepare(s, v));
    changed = changed || prep.back().changed;
  }
  if (v != kContiguous && !changed) return;  // same as contiguous

  auto viewed = [&](const Ts& leaves) {
    Ts out;
    for (std::size_t i = 0; i < leaves.size(); ++i) out.push_back(prep[i].view(leaves[i]));
    return out;
  };
  const Fn g = [&](const Ts& leaves) { return op.fn(viewed(leaves)); };

  // float64 leaves
  Ts leaves;
  for (std::size_t i = 0; i < prep.size(); ++i) {
    Tensor t = float_values(prep[i].leaf_shape, domain_of(op, i)).detach();
    leaves.push_back(op.differentiable ? t.requires_grad_(true) : t);
  }
  const Ts ins = viewed(leaves);
  for (std::size_t i = 0; i < ins.size(); ++i)
    BOOST_CHECK_MESSAGE(ins[i].shape() == shapes[i], "input " << i << " has the wrong shape");
  const Tensor out = op.fn(ins);
  if (op.differentiable) {
    BOOST_CHECK_MESSAGE(out.requires_grad(), "the result does not require grad");
  } else {
    // inputs that require grad, result that does not (non-differentiable op)
    Ts rg;
    for (const auto& l : leaves) rg.push_back(l.detach().requires_grad_(l.dtype() != int64));
    BOOST_CHECK_MESSAGE(!g(rg).requires_grad(), "a non-differentiable op's result requires grad");
  }

  // (1) reference values
  if (op.ref) check_reference(op, ins, out);
  // (2) views == contiguous copies
  if (v != kContiguous) {
    Ts copies;
    for (const auto& t : ins) copies.push_back(t.detach().contiguous().clone());
    for (const auto& c : copies) BOOST_CHECK(c.is_contiguous());
    check_same(out, op.fn(copies), 1e-12, "op on views vs op on contiguous copies");
  }
  // (3) other forms
  for (std::size_t f = 0; f < op.forms.size(); ++f) check_same(op.forms[f](ins), out, 0.0, "form " + std::to_string(f));
  // (4) gradients through the views
  if (op.differentiable) {
    check_gradcheck(g, leaves);
    if (op.gradgrad) check_gradgradcheck(g, leaves);
    check_forward_mode(g, leaves);
  }
  // (5) int64 (contiguous and strided layouts)
  if (op.int64 != Int64::Skip && (v == kContiguous || v == kStrided)) {
    Ts ints;
    for (std::size_t i = 0; i < prep.size(); ++i) ints.push_back(int_values(prep[i].leaf_shape, domain_of(op, i)));
    if (op.int64 == Int64::Yes) {
      const Tensor oi = g(ints);
      Ts as_float;
      for (const auto& t : ints) as_float.push_back(t.to(float64));
      if (const Tensor of = g(as_float); of.dtype() == boolean) {
        // Predicates (comparisons): bool for every input dtype, equal to the float64 answer.
        BOOST_CHECK_MESSAGE(oi.dtype() == boolean, "int64 inputs gave " << dtype_name(oi.dtype()));
        check_same(oi, of, 0.0, "int64 result vs float64 result");
        return;
      }
      BOOST_CHECK_MESSAGE(oi.dtype() == int64, "int64 inputs gave " << dtype_name(oi.dtype()));
      BOOST_CHECK(!oi.requires_grad());
      Ts floats;
      for (const auto& t : ints) floats.push_back(t.to(float64));
      const Tensor of = g(floats);
      Tensor want;
      {
        NoGradGuard ng;
        const auto fv = values_of(of);
        std::vector<double> tv;
        for (double x : fv) tv.push_back(std::trunc(x));
        want = from_vector<double>(tv, of.shape());
        if (of.dim() == 0) want = want.reshape({});
      }
      check_same(oi.to(float64), want, 0.0, "int64 result vs trunc(float64 result)");
    } else {
      XGRAD_CHECK_THROW_MSG(g(ints), op.dtype_error);
    }
  }
}

inline void run_op(const OpInfo& op) {
  BOOST_REQUIRE_MESSAGE(!op.samples.empty(), op.name << " has no samples");
  // XGRAD_OPDB_LOG=1 lists the entries and whether check (6), forward mode, ran on them.
  if (std::getenv("XGRAD_OPDB_LOG"))
    std::fprintf(stderr, "op-table entry %s: forward mode %s\n", op.name.c_str(),
                 op.differentiable ? "checked" : "n/a (not differentiable)");
  std::size_t k = 0;
  for (const auto& shapes : op.samples) {
    for (Variant v : {kContiguous, kTransposed, kStrided, kExpanded}) {
      if (!(op.variants & v)) continue;
      BOOST_TEST_CONTEXT("op " << op.name << ", sample " << k << " " << fmt::format("{}", shapes) << ", variant "
                               << variant_name(v)) {
        manual_seed(1000 * k + v);
        try {
          run_variant(op, shapes, v);
        } catch (const std::exception& e) {
          BOOST_ERROR("threw: " << e.what());
        }
      }
    }
    ++k;
  }
}

inline void run_all(const std::vector<OpInfo>& ops) {
  for (const auto& op : ops) run_op(op);
}

// ---- sample sets ----------------------------------------------------------------------------

const std::vector<std::vector<Shape>> kUnary = {{{3, 4}}, {{5}}, {{}}};
const std::vector<std::vector<Shape>> kUnary2d = {{{3, 4}}, {{2, 3, 2}}};
const std::vector<std::vector<Shape>> kBinary = {{{3, 4}, {3, 4}}, {{3, 4}, {4}}, {{3, 1}, {1, 4}}, {{}, {2, 3}}};
const std::vector<std::vector<Shape>> kBinarySame = {{{3, 4}, {3, 4}}};
const std::vector<std::vector<Shape>> kReduce = {{{3, 4}}, {{2, 3, 2}}};

inline double sigmoid_d(double x) { return 1.0 / (1.0 + std::exp(-x)); }
inline double softplus_d(double x, double beta = 1.0, double threshold = 20.0) {
  return beta * x > threshold ? x : std::log1p(std::exp(beta * x)) / beta;
}

}  // namespace
