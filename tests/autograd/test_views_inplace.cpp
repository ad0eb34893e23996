// Strided views and in-place ops through them (core v2, PyTorch's model): writes through a
// view reach its base; an in-place op on a view rebases the base's history (CopySlices) and
// regenerates the grad_fn of the base's other views; views share the version counter.
//
// Three tables:
// * kCases: a graph built from float64 leaves, its forward values and the hand-derived
//   gradient of every leaf (each case's comment has the derivation), checked to 1e-12.
// * kLayouts: shape, strides, storage offset, is_contiguous, is_view and the values read
//   through each kind of view.
// * kErrors: what must throw (saved tensors modified through an alias, in-place on a view of
//   a leaf that requires grad, in-place on pieces of multi-output views with grad) and the
//   substring the message must contain.
// Values marked "libtorch 1.13" were printed by a scratch program against libtorch 1.13.1;
// the forward values and gradients of cases 7, 10, 13, 16, 17, 19, 21, 22, 24, 26, 27, 29, 31-33,
// 35, 36, 38, 41-43 and 45 were cross-checked with the same program (they all agree).
#include <functional>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include "test_util.hpp"
#include "xgrad/autograd/indexing.hpp"

using namespace xgrad;
using xgrad::indexing::Ellipsis;
using xgrad::indexing::None;
using xgrad::indexing::Slice;

namespace {

using NL = NestedList;
using Ts = std::vector<Tensor>;

// ---- nested lists -> tensors -------------------------------------------------------------

Shape nested_shape(const NL& n) {
  Shape s;
  const NL* p = &n;
  while (!p->is_leaf()) {
    s.push_back(static_cast<std::int64_t>(p->items().size()));
    if (p->items().empty()) break;
    p = &p->items().front();
  }
  return s;
}

void nested_values(const NL& n, std::vector<double>& out) {
  if (n.is_leaf()) {
    out.push_back(n.value());
    return;
  }
  for (const auto& item : n.items()) nested_values(item, out);
}

// float64 tensor from a nested list; a bare number (NL(2.)) gives a 0-d tensor.
Tensor from_nested(const NL& n, bool requires_grad = false) {
  if (n.is_leaf()) return scalar_tensor(n.value(), dtype(float64).requires_grad(requires_grad));
  std::vector<double> v;
  nested_values(n, v);
  return from_vector<double>(v, nested_shape(n), requires_grad);
}

// Elements in row-major order of any tensor (views included), as doubles.
std::vector<double> values_of(const Tensor& t) { return t.detach().contiguous().to(float64).to_vector<double>(); }

// got == want in shape, and element-wise within tol.
void check_nested(const Tensor& got, const NL& want, const std::string& what, double tol = 1e-12) {
  BOOST_CHECK_MESSAGE(got.defined(), what << ": undefined tensor");
  if (!got.defined()) return;
  const Shape ws = nested_shape(want);
  BOOST_CHECK_MESSAGE(got.shape() == ws,
                      what << ": shape " << fmt::format("{}", got.shape()) << " != " << fmt::format("{}", ws));
  if (got.shape() != ws) return;
  std::vector<double> w;
  nested_values(want, w);
  const std::vector<double> g = values_of(got);
  double worst = 0.0;
  std::size_t at = 0;
  for (std::size_t i = 0; i < g.size(); ++i) {
    const double d = std::fabs(g[i] - w[i]);
    if (!(d <= worst)) {
      worst = d;
      at = i;
    }
  }
  BOOST_CHECK_MESSAGE(worst <= tol, what << ": element " << at << " is " << g[at] << ", want " << w[at]
                                         << "\n got " << to_string(got.detach().contiguous()));
}

// 0, 1, 2, ... in the given shape (float64, no grad).
Tensor iota(const Shape& s) {
  std::vector<double> v(static_cast<std::size_t>(shape_numel(s)));
  std::iota(v.begin(), v.end(), 0.0);
  return from_vector(v, s);
}

Tensor c64(const NL& n) { return from_nested(n); }

// ---- table 1: graphs with in-place ops through views -----------------------------------------

struct Leaf {
  NL values;
  bool requires_grad = true;
};
Leaf rg(NL v) { return {std::move(v), true}; }     // a leaf that requires grad
Leaf cst(NL v) { return {std::move(v), false}; }   // a leaf that does not

struct Case {
  std::string name;
  std::vector<Leaf> leaves;
  /// Builds the graph from the leaves (same order). Result 0 is differentiated (when any
  /// leaf requires grad); every result's values are checked right after build returns.
  std::function<Ts(const Ts& leaves)> build;
  std::vector<NL> expected;              // values of build's results, in order
  std::vector<std::optional<NL>> grads;  // per leaf; nullopt: .grad() must stay undefined
  std::optional<NL> seed = std::nullopt; // dL/d(result 0); absent: L = sum(result 0)
};

std::vector<Case> make_cases() {
  std::vector<Case> cs;

  // (1) The first example. a = 3y = [3, 6]; the view's mul_(2) writes a = 6y = [6, 12].
  // L = sum(a) = 6 (y0 + y1) -> dL/dy = [6, 6].
  cs.push_back({"issue_view_mul_",
                {rg(NL{1, 2})},
                [](const Ts& l) {
                  Tensor a = l[0] * 3.0;
                  a.view({1, 2}).mul_(2.0);
                  return Ts{a.sum(), a};
                },
                {NL(18.), NL{6, 12}},
                {NL{6, 6}}});

  // (2) The second example: narrow is a view, fill_ through it modifies z. No grad.
  cs.push_back({"issue_narrow_fill_",
                {cst(NL{1, 2, 3, 4})},
                [](const Ts& l) {
                  Tensor z = l[0];
                  z.narrow(0, 1, 2).fill_(5.0);
                  return Ts{z};
                },
                {NL{1, 5, 5, 4}},
                {std::nullopt}});

  // (3) b = x.clone(); b.t() *= w ([3, 2]) -> b[j][i] = x[j][i] w[i][j], i.e. b = x * w^T.
  // x = [[1,2,3],[4,5,6]], w^T = [[1,3,5],[2,4,6]] -> b = [[1,6,15],[8,20,36]]; dL/dx = w^T.
  cs.push_back({"transpose_mul_",
                {rg(NL{{1, 2, 3}, {4, 5, 6}})},
                [](const Ts& l) {
                  Tensor b = l[0].clone();
                  b.t().mul_(c64(NL{{1, 2}, {3, 4}, {5, 6}}));
                  return Ts{b};
                },
                {NL{{1, 6, 15}, {8, 20, 36}}},
                {NL{{1, 3, 5}, {2, 4, 6}}}});

  // (4) permute({2,0,1}) puts dim 2 first: p[k][i][j] = b[i][j][k]; p.select(0, 1) is
  // b[:, :, 1], += 10 there. b = x + 10 [k == 1]; L = sum(b^2) -> dL/dx = 2b.
  // x = [[[1,2],[3,4]],[[5,6],[7,8]]] -> b = [[[1,12],[3,14]],[[5,16],[7,18]]].
  cs.push_back({"permute_select_add_",
                {rg(NL{{{1, 2}, {3, 4}}, {{5, 6}, {7, 8}}})},
                [](const Ts& l) {
                  Tensor b = l[0].clone();
                  b.permute({2, 0, 1}).select(0, 1).add_(10.0);
                  return Ts{b * b, b};
                },
                {NL{{{1, 144}, {9, 196}}, {{25, 256}, {49, 324}}}, NL{{{1, 12}, {3, 14}}, {{5, 16}, {7, 18}}}},
                {NL{{{2, 24}, {6, 28}}, {{10, 32}, {14, 36}}}}});

  // (5) b = 2x; row 1 *= 3 -> b = [[2x00, 2x01], [6x10, 6x11]]; dL/dx = [[2,2],[6,6]].
  cs.push_back({"select_mul_",
                {rg(NL{{1, 2}, {3, 4}})},
                [](const Ts& l) {
                  Tensor b = l[0] * 2.0;
                  b.select(0, 1).mul_(3.0);
                  return Ts{b};
                },
                {NL{{2, 4}, {18, 24}}},
                {NL{{2, 2}, {6, 6}}}});

  // (6) slice(0, 0, 5, 2) = elements 0, 2, 4; negated -> dL/dx = [-1, 1, -1, 1, -1].
  cs.push_back({"slice_step_mul_",
                {rg(NL{1, 2, 3, 4, 5})},
                [](const Ts& l) {
                  Tensor b = l[0].clone();
                  b.slice(0, 0, 5, 2).mul_(-1.0);
                  return Ts{b};
                },
                {NL{-1, 2, -3, 4, -5}},
                {NL{-1, 1, -1, 1, -1}}});

  // (7) Odd columns (1 and 3) times the even columns of x (another operand that requires
  // grad, read through a strided view of the leaf): b[:,1] = x[:,1] x[:,0], b[:,3] = x[:,3] x[:,2].
  // dL/dx[:,0] = 1 + x[:,1], dL/dx[:,1] = x[:,0], dL/dx[:,2] = 1 + x[:,3], dL/dx[:,3] = x[:,2].
  // x = [[1,2,3,4],[5,6,7,8]] -> b = [[1,2,3,12],[5,30,7,56]], grad [[3,1,5,3],[7,5,9,7]].
  cs.push_back({"slice_step_mul_tensor_",
                {rg(NL{{1, 2, 3, 4}, {5, 6, 7, 8}})},
                [](const Ts& l) {
                  Tensor b = l[0].clone();
                  b.slice(1, 1, 4, 2).mul_(l[0].slice(1, 0, 4, 2));
                  return Ts{b};
                },
                {NL{{1, 2, 3, 12}, {5, 30, 7, 56}}},
                {NL{{3, 1, 5, 3}, {7, 5, 9, 7}}}});

  // (8) narrow(1, 1, 2) = columns 1..2, times 10 -> dL/dx = [[1,10,10],[1,10,10]].
  cs.push_back({"narrow_mul_",
                {rg(NL{{1, 2, 3}, {4, 5, 6}})},
                [](const Ts& l) {
                  Tensor b = l[0].clone();
                  b.narrow(1, 1, 2).mul_(10.0);
                  return Ts{b};
                },
                {NL{{1, 20, 30}, {4, 50, 60}}},
                {NL{{1, 10, 10}, {1, 10, 10}}}});

  // (9) fill_ on the diagonal overwrites it: the diagonal gets no gradient from the old values.
  // b = [[0, x01], [x10, 0]] -> dL/dx = [[0,1],[1,0]].
  cs.push_back({"diagonal_fill_",
                {rg(NL{{1, 2}, {3, 4}})},
                [](const Ts& l) {
                  Tensor b = l[0].clone();
                  b.diagonal().fill_(0.0);
                  return Ts{b};
                },
                {NL{{0, 2}, {3, 0}}},
                {NL{{0, 1}, {1, 0}}}});

  // (10) diagonal(1) of a [2,3] is (0,1), (1,2); times 3 -> grad 3 there, 1 elsewhere
  // (libtorch 1.13: b = [[1,6,3],[4,5,18]], grad [[1,3,1],[1,1,3]]).
  cs.push_back({"diagonal_offset_mul_",
                {rg(NL{{1, 2, 3}, {4, 5, 6}})},
                [](const Ts& l) {
                  Tensor b = l[0].clone();
                  b.diagonal(1).mul_(3.0);
                  return Ts{b};
                },
                {NL{{1, 6, 3}, {4, 5, 18}}},
                {NL{{1, 3, 1}, {1, 1, 3}}}});

  // (11) Pieces of unbind are views: writes through them reach the base (no grad involved,
  // which PyTorch allows; with grad see kErrors).
  cs.push_back({"unbind_pieces_write_base",
                {cst(NL{{0, 0}, {0, 0}, {0, 0}})},
                [](const Ts& l) {
                  Tensor buf = l[0];
                  Ts rows = buf.unbind(0);
                  rows[1].fill_(7.0);
                  rows[2].copy_(c64(NL{1, 2}));
                  return Ts{buf, rows[1]};
                },
                {NL{{0, 0}, {7, 7}, {1, 2}}, NL{7, 7}},
                {std::nullopt}});

  // (12) Pieces of split and chunk are views too: [1,2 | 3,4 | 5] -> [1,2 | 30,40 | 6], then
  // chunk(2) = [1,2,30 | 40,6] and zero_ of the second chunk -> [1,2,30,0,0].
  cs.push_back({"split_chunk_pieces_write_base",
                {cst(NL{1, 2, 3, 4, 5})},
                [](const Ts& l) {
                  Tensor z = l[0];
                  Ts p = split(z, 2);
                  p[1].mul_(10.0);
                  p[2].add_(1.0);
                  Tensor mid = z.clone();
                  chunk(z, 2)[1].zero_();
                  Ts q = split(z, std::vector<std::int64_t>{1, 4});
                  return Ts{z, mid, q[1]};
                },
                {NL{1, 2, 30, 0, 0}, NL{1, 2, 30, 40, 6}, NL{2, 30, 0, 0}},
                {std::nullopt}});

  // (13) unbind of a leaf that requires grad, written under NoGradGuard (an optimizer-style
  // update): w = [[0,2],[0,4]] afterwards, still a leaf; L = sum(3w) -> dL/dw = 3
  // (libtorch 1.13 agrees).
  cs.push_back({"unbind_leaf_under_no_grad",
                {rg(NL{{1, 2}, {3, 4}})},
                [](const Ts& l) {
                  Tensor w = l[0];
                  {
                    NoGradGuard ng;
                    w.unbind(1)[0].zero_();
                  }
                  BOOST_CHECK(w.is_leaf());
                  return Ts{w * 3.0};
                },
                {NL{{0, 6}, {0, 12}}},
                {NL{{3, 3}, {3, 3}}}});

  // (14) index({Slice(1, 3), 2}) is the view b[1:3, 2]; times 2 -> grad 2 at (1,2), (2,2).
  cs.push_back({"index_slice_int_mul_",
                {rg(NL{{1, 2, 3}, {4, 5, 6}, {7, 8, 9}})},
                [](const Ts& l) {
                  Tensor b = l[0].clone();
                  b.index({Slice(1, 3), 2}).mul_(2.0);
                  return Ts{b};
                },
                {NL{{1, 2, 3}, {4, 5, 12}, {7, 8, 18}}},
                {NL{{1, 1, 1}, {1, 1, 2}, {1, 1, 2}}}});

  // (15) index({Ellipsis, Slice(None, None, 2)}) = columns 0 and 2; times w = [[1,2],[3,4]]:
  // b = [[x00, x01, 2x02], [3x10, x11, 4x12]] -> dL/dx = [[1,1,2],[3,1,4]].
  cs.push_back({"index_ellipsis_step_mul_",
                {rg(NL{{1, 2, 3}, {4, 5, 6}})},
                [](const Ts& l) {
                  Tensor b = l[0].clone();
                  b.index({Ellipsis, Slice(None, None, 2)}).mul_(c64(NL{{1, 2}, {3, 4}}));
                  return Ts{b};
                },
                {NL{{1, 2, 6}, {12, 5, 24}}},
                {NL{{1, 1, 2}, {3, 1, 4}}}});

  // (16) index({None, 0}) is row 0 with a new leading axis ([1, 2]); add_ y ([2]) broadcasts:
  // b[0] = x[0] + y, dL/dx = 1, dL/dy = [1, 1].
  cs.push_back({"index_none_int_add_",
                {rg(NL{{1, 2}, {3, 4}}), rg(NL{10, 20})},
                [](const Ts& l) {
                  Tensor b = l[0].clone();
                  b.index({None, 0}).add_(l[1]);
                  return Ts{b};
                },
                {NL{{11, 22}, {3, 4}}},
                {NL{{1, 1}, {1, 1}}, NL{1, 1}}});

  // (17) index_put_ of a tensor that requires grad into a buffer that does not:
  // buf[:, 1] = h -> buf = [[0,10,0],[0,20,0]]; L = sum(buf * c), c = [[1,2,3],[4,5,6]]
  // -> dL/dh = [c01, c11] = [2, 5].
  cs.push_back({"index_put_grad_into_buffer",
                {cst(NL{{0, 0, 0}, {0, 0, 0}}), rg(NL{10, 20})},
                [](const Ts& l) {
                  Tensor buf = l[0];
                  buf.index_put_({Slice(), 1}, l[1]);
                  BOOST_CHECK(buf.requires_grad());
                  return Ts{buf * c64(NL{{1, 2, 3}, {4, 5, 6}}), buf};
                },
                {NL{{0, 20, 0}, {0, 100, 0}}, NL{{0, 10, 0}, {0, 20, 0}}},
                {std::nullopt, NL{2, 5}}});

  // (18) index_put_ with a scalar overwrites column 0: no gradient reaches x[:, 0].
  cs.push_back({"index_put_scalar",
                {rg(NL{{1, 2}, {3, 4}})},
                [](const Ts& l) {
                  Tensor b = l[0].clone();
                  b.index_put_({Slice(), 0}, 2.5);
                  return Ts{b};
                },
                {NL{{2.5, 2}, {2.5, 4}}},
                {NL{{0, 1}, {0, 1}}}});

  // (19) index_put_ with an int64 index tensor: buf[3] = v0, buf[0] = v1 -> [2,0,0,1];
  // L = sum(buf * [1,2,3,4]) -> dL/dv = [4, 1] (libtorch 1.13 agrees).
  cs.push_back({"index_put_index_tensor",
                {cst(NL{0, 0, 0, 0}), rg(NL{1, 2})},
                [](const Ts& l) {
                  Tensor buf = l[0];
                  buf.index_put_({from_vector<std::int64_t>({3, 0}, {2})}, l[1]);
                  return Ts{buf * c64(NL{1, 2, 3, 4}), buf};
                },
                {NL{2, 0, 0, 4}, NL{2, 0, 0, 1}},
                {std::nullopt, NL{4, 1}}});

  // (20) The RNN pattern: out = zeros([3, 2]); out.select(0, t).copy_(h_t).
  // L = sum(out * W) -> dL/dh_t = W[t].
  cs.push_back({"rnn_select_copy_",
                {rg(NL{1, 2}), rg(NL{3, 4}), rg(NL{5, 6})},
                [](const Ts& l) {
                  Tensor out = zeros({3, 2}, dtype(float64));
                  for (std::int64_t t = 0; t < 3; ++t) out.select(0, t).copy_(l[static_cast<std::size_t>(t)]);
                  return Ts{out * c64(NL{{1, 2}, {3, 4}, {5, 6}}), out};
                },
                {NL{{1, 4}, {9, 16}, {25, 36}}, NL{{1, 2}, {3, 4}, {5, 6}}},
                {NL{1, 2}, NL{3, 4}, NL{5, 6}}});

  // (21) Same with narrow(0, t, 1) and h_t computed from a shared leaf: h_t = (t + 1) x.
  // out[t] = (t + 1) x; L = sum(out * W) -> dL/dx = 1 W[0] + 2 W[1] + 3 W[2] = [22, 28].
  cs.push_back({"rnn_narrow_copy_",
                {rg(NL{1, 2})},
                [](const Ts& l) {
                  Tensor out = zeros({3, 2}, dtype(float64));
                  for (std::int64_t t = 0; t < 3; ++t)
                    out.narrow(0, t, 1).copy_((l[0] * static_cast<double>(t + 1)).unsqueeze(0));
                  return Ts{out * c64(NL{{1, 2}, {3, 4}, {5, 6}}), out};
                },
                {NL{{1, 4}, {6, 16}, {15, 36}}, NL{{1, 2}, {2, 4}, {3, 6}}},
                {NL{22, 28}}});

  // (22) A recurrence through the buffer: row t = 2 * row (t-1) + x[t] (reads a view of the
  // buffer after earlier writes, whose grad_fn must be current).
  // buf0 = x0, buf1 = 2x0 + x1, buf2 = 4x0 + 2x1 + x2; L = sum(buf) = 7x0 + 3x1 + x2.
  // x = [[1,2],[3,4],[5,6]] -> buf = [[1,2],[5,8],[15,22]], dL/dx = [[7,7],[3,3],[1,1]].
  cs.push_back({"recurrence_through_buffer",
                {rg(NL{{1, 2}, {3, 4}, {5, 6}})},
                [](const Ts& l) {
                  Tensor buf = zeros({3, 2}, dtype(float64));
                  buf.select(0, 0).copy_(l[0].select(0, 0));
                  for (std::int64_t t = 1; t < 3; ++t)
                    buf.select(0, t).copy_(buf.select(0, t - 1) * 2.0 + l[0].select(0, t));
                  return Ts{buf};
                },
                {NL{{1, 2}, {5, 8}, {15, 22}}},
                {NL{{7, 7}, {3, 3}, {1, 1}}}});

  // (23) View of a view: b.view({3, 2}).select(0, 2) is b[1][1], b[1][2]; times 3.
  cs.push_back({"view_of_view_mul_",
                {rg(NL{{1, 2, 3}, {4, 5, 6}})},
                [](const Ts& l) {
                  Tensor b = l[0].clone();
                  b.view({3, 2}).select(0, 2).mul_(3.0);
                  return Ts{b};
                },
                {NL{{1, 2, 3}, {4, 15, 18}}},
                {NL{{1, 1, 1}, {1, 3, 3}}}});

  // (24) Three views deep, non-contiguous: b.t().narrow(0, 1, 2).select(1, 0) is
  // [b01, b02]; times -2 -> dL/dx = [[1,-2,-2],[1,1,1]].
  cs.push_back({"transpose_narrow_select_mul_",
                {rg(NL{{1, 2, 3}, {4, 5, 6}})},
                [](const Ts& l) {
                  Tensor b = l[0].clone();
                  b.t().narrow(0, 1, 2).select(1, 0).mul_(-2.0);
                  return Ts{b};
                },
                {NL{{1, -4, -6}, {4, 5, 6}}},
                {NL{{1, -2, -2}, {1, 1, 1}}}});

  // (25) unsqueeze/squeeze/flatten/narrow chain: flat elements 1, 2 are b01, b10; negated.
  cs.push_back({"squeeze_flatten_narrow_mul_",
                {rg(NL{{1, 2}, {3, 4}})},
                [](const Ts& l) {
                  Tensor b = l[0].clone();
                  b.unsqueeze(0).squeeze(0).flatten().narrow(0, 1, 2).mul_(-1.0);
                  return Ts{b};
                },
                {NL{{1, -2}, {-3, 4}}},
                {NL{{1, -1}, {-1, 1}}}});

  // (26) In-place on the base, then an older view is read: v = b[0] was taken before
  // b.mul_(2), so v = 2 a[0] and its grad_fn must be regenerated: dL/da = [[2,2],[0,0]]
  // (libtorch 1.13 agrees).
  cs.push_back({"older_view_after_base_inplace",
                {rg(NL{{1, 2}, {3, 4}})},
                [](const Ts& l) {
                  Tensor b = l[0].clone();
                  Tensor v = b.select(0, 0);
                  b.mul_(2.0);
                  return Ts{v};
                },
                {NL{2, 4}},
                {NL{{2, 2}, {0, 0}}}});

  // (27) In-place through one view, read through another: v2 = b[:, 0] = [b00, b10];
  // v1 = b[0] doubled first -> v2 = [2a00, a10], dL/da = [[2,0],[1,0]].
  cs.push_back({"sibling_view_sees_inplace",
                {rg(NL{{1, 2}, {3, 4}})},
                [](const Ts& l) {
                  Tensor b = l[0].clone();
                  Tensor v1 = b.select(0, 0);
                  Tensor v2 = b.select(1, 0);
                  v1.mul_(2.0);
                  return Ts{v2};
                },
                {NL{2, 3}},
                {NL{{2, 0}, {1, 0}}}});

  // (28) Two in-place ops on two views of one base: row 0 *= 3, then column 1 *= 5.
  // b = [[3a00, 15a01], [a10, 5a11]] -> dL/da = [[3,15],[1,5]].
  cs.push_back({"two_views_two_inplace",
                {rg(NL{{1, 2}, {3, 4}})},
                [](const Ts& l) {
                  Tensor b = l[0].clone();
                  b.select(0, 0).mul_(3.0);
                  b.select(1, 1).mul_(5.0);
                  return Ts{b};
                },
                {NL{{3, 30}, {3, 20}}},
                {NL{{3, 15}, {1, 5}}}});

  // (29) The other operand requires grad: b[1:3] *= y. b = [x0, x1 y0, x2 y1];
  // seed s = [1,2,3]: dL/dx = [1, 2 y0, 3 y1] = [1,20,60], dL/dy = [2 x1, 3 x2] = [4,9].
  cs.push_back({"view_mul_tensor_requiring_grad",
                {rg(NL{1, 2, 3}), rg(NL{10, 20})},
                [](const Ts& l) {
                  Tensor b = l[0].clone();
                  b.narrow(0, 1, 2).mul_(l[1]);
                  return Ts{b};
                },
                {NL{1, 20, 60}},
                {NL{1, 20, 60}, NL{4, 9}},
                NL{1, 2, 3}});

  // (30) The same for a base that does not require grad: only y gets a gradient, and the
  // base now requires grad. b = [1, 2 y0, 3 y1]; dL/dy = [2, 3].
  cs.push_back({"view_of_constant_mul_tensor",
                {cst(NL{1, 2, 3}), rg(NL{10, 20})},
                [](const Ts& l) {
                  Tensor b = l[0].clone();
                  b.narrow(0, 1, 2).mul_(l[1]);
                  return Ts{b};
                },
                {NL{1, 20, 60}},
                {std::nullopt, NL{2, 3}}});

  // (31) Chained in-place ops on one view: v = b[1]; v.mul_(y).add_(y, 2) -> v = x1 y + 2y.
  // x1 = [3,4], y = [5,7]: v = [25,42]; dL/dx = [[1,1],[5,7]], dL/dy = x1 + 2 = [5,6].
  cs.push_back({"chained_mul_add_on_view",
                {rg(NL{{1, 2}, {3, 4}}), rg(NL{5, 7})},
                [](const Ts& l) {
                  Tensor b = l[0].clone();
                  Tensor v = b.select(0, 1);
                  v.mul_(l[1]).add_(l[1], 2.0);
                  return Ts{b, v};
                },
                {NL{{1, 2}, {25, 42}}, NL{25, 42}},
                {NL{{1, 1}, {5, 7}}, NL{5, 6}}});

  // (32) sub_ and div_ through views, y broadcast from [1]: b = [x0 - 3y, x1 / y, x2 / y].
  // x = [2,4,8], y = [2]: b = [-4, 2, 4]; dL/dx = [1, 1/2, 1/2];
  // dL/dy = -3 - (x1 + x2) / y^2 = -3 - 3 = -6.
  cs.push_back({"sub_div_through_views",
                {rg(NL{2, 4, 8}), rg(NL{2})},
                [](const Ts& l) {
                  Tensor b = l[0].clone();
                  b.narrow(0, 1, 2).div_(l[1]);
                  b.narrow(0, 0, 1).sub_(l[1], 3.0);
                  return Ts{b};
                },
                {NL{-4, 2, 4}},
                {NL{1, 0.5, 0.5}, NL{-6}}});

  // (33) clamp_ on a column: x00 = -2 and x10 = 3 are clamped to [-1, 1], so their
  // gradient is 0; b = [[-1, 0.5], [1, -0.25]], dL/dx = [[0,1],[0,1]].
  cs.push_back({"clamp_on_view",
                {rg(NL{{-2, 0.5}, {3, -0.25}})},
                [](const Ts& l) {
                  Tensor b = l[0].clone();
                  b.select(1, 0).clamp_(-1.0, 1.0);
                  return Ts{b};
                },
                {NL{{-1, 0.5}, {1, -0.25}}},
                {NL{{0, 1}, {0, 1}}}});

  // (34) zero_ of a row of b = x * x (x is saved by the product, b is not: no version error).
  // b = [[1,4],[0,0]]; dL/dx = 2x masked = [[2,4],[0,0]].
  cs.push_back({"zero_row_of_product",
                {rg(NL{{1, 2}, {3, 4}})},
                [](const Ts& l) {
                  Tensor b = l[0] * l[0];
                  b.select(0, 1).zero_();
                  return Ts{b};
                },
                {NL{{1, 4}, {0, 0}}},
                {NL{{2, 4}, {0, 0}}}});

  // (35) copy_ overwrites part of a view: b = 2x, then b[0:2] = y ([1] expanded to [2]).
  // b = [7, 7, 6]; dL/dx = [0, 0, 2], dL/dy = [2].
  cs.push_back({"copy_expanded_source_into_view",
                {rg(NL{1, 2, 3}), rg(NL{7})},
                [](const Ts& l) {
                  Tensor b = l[0] * 2.0;
                  b.narrow(0, 0, 2).copy_(l[1].expand({2}));
                  return Ts{b};
                },
                {NL{7, 7, 6}},
                {NL{0, 0, 2}, NL{2}}});

  // (36) expand is a view of its source: src.mul_(3) after e = src.expand({3, 2}) changes e,
  // and e's grad_fn is regenerated: e = 3x in every row, dL/dx = 3 * 3 = [9, 9]
  // (libtorch 1.13 agrees).
  cs.push_back({"expand_then_source_inplace",
                {rg(NL{1, 2})},
                [](const Ts& l) {
                  Tensor src = l[0].clone();
                  Tensor e = src.expand({3, 2});
                  src.mul_(3.0);
                  return Ts{e};
                },
                {NL{{3, 6}, {3, 6}, {3, 6}}},
                {NL{9, 9}}});

  // (37) contiguous() of a transposed view copies: writing into it leaves b alone.
  // c = 2 b^T; L = sum(c) -> dL/dx = 2 everywhere.
  cs.push_back({"contiguous_of_transpose_copies",
                {rg(NL{{1, 2}, {3, 4}})},
                [](const Ts& l) {
                  Tensor b = l[0].clone();
                  Tensor c = b.t().contiguous();
                  BOOST_CHECK(!c.is_view());
                  c.mul_(2.0);
                  return Ts{c, b};
                },
                {NL{{2, 6}, {4, 8}}, NL{{1, 2}, {3, 4}}},
                {NL{{2, 2}, {2, 2}}}});

  // (38) reshape of a non-contiguous tensor copies: r = flat(b^T) = [b00,b10,b01,b11,b02,b12];
  // r[0] = 100 leaves b alone. Seed s = [1..6]: dL/db00 = 0 (overwritten), b10: 2, b01: 3,
  // b11: 4, b02: 5, b12: 6 -> dL/dx = [[0,3,5],[2,4,6]].
  cs.push_back({"reshape_of_transpose_copies",
                {rg(NL{{1, 2, 3}, {4, 5, 6}})},
                [](const Ts& l) {
                  Tensor b = l[0].clone();
                  Tensor r = b.t().reshape({6});
                  BOOST_CHECK(!r.is_view());
                  r.select(0, 0).fill_(100.0);
                  return Ts{r, b};
                },
                {NL{100, 4, 2, 5, 3, 6}, NL{{1, 2, 3}, {4, 5, 6}}},
                {NL{{0, 3, 5}, {2, 4, 6}}},
                NL{1, 2, 3, 4, 5, 6}});

  // (39) detach() shares storage: d.mul_(2) doubles x (x stays a leaf, nothing was saved);
  // y = x * 1 -> [2,4,6], dL/dx = 1.
  cs.push_back({"detach_shares_storage",
                {rg(NL{1, 2, 3})},
                [](const Ts& l) {
                  Tensor d = l[0].detach();
                  BOOST_CHECK(!d.requires_grad());
                  d.mul_(2.0);
                  return Ts{l[0] * 1.0, l[0]};
                },
                {NL{2, 4, 6}, NL{2, 4, 6}},
                {NL{1, 1, 1}}});

  // (40) In-place on a view of a leaf that requires grad, under NoGradGuard (like an
  // optimizer step): allowed; w = [[0.5,1],[3,4]]; L = sum(w * w) -> dL/dw = 2w.
  cs.push_back({"view_of_leaf_under_no_grad",
                {rg(NL{{1, 2}, {3, 4}})},
                [](const Ts& l) {
                  Tensor w = l[0];
                  {
                    NoGradGuard ng;
                    w.select(0, 0).mul_(0.5);
                    w.t().select(0, 1).add_(0.0);  // a non-contiguous view too (no change)
                  }
                  BOOST_CHECK(w.is_leaf());
                  return Ts{w * w, w};
                },
                {NL{{0.25, 1}, {9, 16}}, NL{{0.5, 1}, {3, 4}}},
                {NL{{1, 2}, {6, 8}}}});

  // (41) movedim(0, 2) of [2,1,2]: m[0][j][i] = b[i][0][j]; m.select(2, 1) is b[1][0][:],
  // times 5 -> dL/dx = [[[1,1]],[[5,5]]].
  cs.push_back({"movedim_select_mul_",
                {rg(NL{{{1, 2}}, {{3, 4}}})},
                [](const Ts& l) {
                  Tensor b = l[0].clone();
                  b.movedim(0, 2).select(2, 1).mul_(5.0);
                  return Ts{b};
                },
                {NL{{{1, 2}}, {{15, 20}}}},
                {NL{{{1, 1}}, {{5, 5}}}}});

  // (42) unfold(0, 2, 2) of [5] = [[b0,b1],[b2,b3]] (non-overlapping windows); column 0
  // times 10 -> b0, b2 scaled (libtorch 1.13: b = [10,2,30,4,5], grad [10,1,10,1,1]).
  cs.push_back({"unfold_select_mul_",
                {rg(NL{1, 2, 3, 4, 5})},
                [](const Ts& l) {
                  Tensor b = l[0].clone();
                  b.unfold(0, 2, 2).select(1, 0).mul_(10.0);
                  return Ts{b};
                },
                {NL{10, 2, 30, 4, 5}},
                {NL{10, 1, 10, 1, 1}}});

  // (43) as_strided({2,2}, {3,1}, 1) reads storage elements 1, 2, 4, 5; doubled
  // (libtorch 1.13: b = [1,4,6,4,10,12], grad [1,2,2,1,2,2]).
  cs.push_back({"as_strided_mul_",
                {rg(NL{1, 2, 3, 4, 5, 6})},
                [](const Ts& l) {
                  Tensor b = l[0].clone();
                  b.as_strided({2, 2}, {3, 1}, 1).mul_(2.0);
                  return Ts{b};
                },
                {NL{1, 4, 6, 4, 10, 12}},
                {NL{1, 2, 2, 1, 2, 2}}});

  // (44) int64 views: writes through a view of an int64 tensor (no grad anywhere).
  cs.push_back({"int64_view_write",
                {},
                [](const Ts&) {
                  Tensor i = from_vector<std::int64_t>({1, 2, 3, 4}, {4});
                  i.view({2, 2}).select(1, 0).mul_(10.0);
                  i.narrow(0, 3, 1).fill_(-1.0);
                  BOOST_CHECK(i.dtype() == int64);
                  return Ts{i};
                },
                {NL{10, 2, 30, -1}},
                {}});

  // (45) A view taken before and used after several in-place ops on the base and on other
  // views: b = x.clone(); v = b.t() (a view); b.select(0, 0).mul_(2); b.add_(y) with
  // y ([2]) broadcast over rows; v.select(0, 1).mul_(3) (column 1 of b).
  // b = [[2x00 + y0, 3 (2x01 + y1)], [x10 + y0, 3 (x11 + y1)]]; L = sum(v) = sum(b).
  // dL/dx = [[2, 6], [1, 3]]; dL/dy = [2, 6].
  cs.push_back({"view_survives_mixed_inplace",
                {rg(NL{{1, 2}, {3, 4}}), rg(NL{10, 20})},
                [](const Ts& l) {
                  Tensor b = l[0].clone();
                  Tensor v = b.t();
                  b.select(0, 0).mul_(2.0);
                  b.add_(l[1]);
                  v.select(0, 1).mul_(3.0);
                  return Ts{v, b};
                },
                {NL{{12, 13}, {72, 72}}, NL{{12, 72}, {13, 72}}},
                {NL{{2, 6}, {1, 3}}, NL{2, 6}}});

  return cs;
}

// Runs one case: builds the graph, checks every result's values, backpropagates from
// result 0 and checks every leaf's gradient.
void run_case(const Case& c) {
  Ts leaves;
  for (const auto& lf : c.leaves) leaves.push_back(from_nested(lf.values, lf.requires_grad));
  const Ts outs = c.build(leaves);
  BOOST_REQUIRE_EQUAL(outs.size(), c.expected.size());
  for (std::size_t i = 0; i < outs.size(); ++i) check_nested(outs[i], c.expected[i], "result " + std::to_string(i));

  BOOST_REQUIRE_EQUAL(c.grads.size(), leaves.size());
  bool any_grad = false;
  for (const auto& g : c.grads) any_grad = any_grad || g.has_value();
  if (any_grad) {
    BOOST_REQUIRE_MESSAGE(outs[0].requires_grad(), "result 0 does not require grad");
    if (c.seed) {
      outs[0].backward(from_nested(*c.seed));
    } else {
      outs[0].sum().backward();
    }
  } else if (!outs.empty()) {
    BOOST_CHECK_MESSAGE(!outs[0].requires_grad(), "result 0 requires grad, but no leaf should get a gradient");
  }
  for (std::size_t i = 0; i < leaves.size(); ++i) {
    const std::string what = "grad of leaf " + std::to_string(i);
    if (c.grads[i]) {
      check_nested(leaves[i].grad(), *c.grads[i], what);
    } else {
      // A constant buffer written with values that require grad is no longer a leaf (it
      // has a CopySlices grad_fn), and backward fills no .grad() of a non-leaf.
      BOOST_CHECK_MESSAGE(!leaves[i].is_leaf() || !leaves[i].grad().defined(), what << " should be undefined");
    }
  }
}

// ---- table 2: layout of each kind of view ----------------------------------------------------

struct Layout {
  std::string name;
  std::function<Tensor()> make;
  Shape shape;
  std::optional<Shape> strides;  // nullopt where PyTorch leaves a stride unspecified
  std::int64_t offset;
  bool contiguous;
  bool is_view;
  NL values;  // read through the view, row-major
};

std::vector<Layout> make_layouts() {
  using I64s = std::vector<std::int64_t>;
  const Tensor a = iota({2, 3});       // [[0,1,2],[3,4,5]]
  const Tensor b = iota({2, 3, 4});    // b[i][j][k] = 12i + 4j + k
  const Tensor sq = iota({3, 3});      // [[0,1,2],[3,4,5],[6,7,8]]
  const Tensor m = iota({3, 4});       // m[i][j] = 4i + j
  std::vector<Layout> ls = {
      {"base", [=] { return a; }, {2, 3}, Shape{3, 1}, 0, true, false, NL{{0, 1, 2}, {3, 4, 5}}},
      {"transpose", [=] { return transpose(a, 0, 1); }, {3, 2}, Shape{1, 3}, 0, false, true,
       NL{{0, 3}, {1, 4}, {2, 5}}},
      {"t", [=] { return a.t(); }, {3, 2}, Shape{1, 3}, 0, false, true, NL{{0, 3}, {1, 4}, {2, 5}}},
      {"permute", [=] { return b.permute({2, 0, 1}); }, {4, 2, 3}, Shape{1, 12, 4}, 0, false, true,
       NL{{{0, 4, 8}, {12, 16, 20}}, {{1, 5, 9}, {13, 17, 21}}, {{2, 6, 10}, {14, 18, 22}}, {{3, 7, 11}, {15, 19, 23}}}},
      {"movedim", [=] { return movedim(b, 0, 2); }, {3, 4, 2}, Shape{4, 1, 12}, 0, false, true,
       NL{{{0, 12}, {1, 13}, {2, 14}, {3, 15}}, {{4, 16}, {5, 17}, {6, 18}, {7, 19}}, {{8, 20}, {9, 21}, {10, 22}, {11, 23}}}},
      {"select_row", [=] { return select(a, 0, 1); }, {3}, Shape{1}, 3, true, true, NL{3, 4, 5}},
      {"select_column", [=] { return a.select(1, 2); }, {2}, Shape{3}, 2, false, true, NL{2, 5}},
      {"select_negative_index", [=] { return a.select(1, -1); }, {2}, Shape{3}, 2, false, true, NL{2, 5}},
      {"narrow", [=] { return narrow(a, 1, 1, 2); }, {2, 2}, Shape{3, 1}, 1, false, true, NL{{1, 2}, {4, 5}}},
      {"narrow_of_narrow", [] { return narrow(narrow(iota({4, 4}), 0, 1, 2), 1, 1, 2); }, {2, 2}, Shape{4, 1}, 5,
       false, true, NL{{5, 6}, {9, 10}}},
      {"slice_step", [=] { return slice(a, 1, 0, 3, 2); }, {2, 2}, Shape{3, 2}, 0, false, true, NL{{0, 2}, {3, 5}}},
      {"slice_rows", [=] { return a.slice(0, 1, 2, 1); }, {1, 3}, Shape{3, 1}, 3, true, true, NL{{3, 4, 5}}},
      {"diagonal", [=] { return diagonal(sq); }, {3}, Shape{4}, 0, false, true, NL{0, 4, 8}},
      {"diagonal_above", [=] { return diagonal(sq, 1); }, {2}, Shape{4}, 1, false, true, NL{1, 5}},
      {"diagonal_below", [=] { return sq.diagonal(-1); }, {2}, Shape{4}, 3, false, true, NL{3, 7}},
      // diagonal over dims 1, 2 of [2,3,4]: d[i][k] = b[i][k][k] = 12i + 5k (libtorch 1.13: strides [12, 5])
      {"diagonal_dims_1_2", [=] { return diagonal(b, 0, 1, 2); }, {2, 3}, Shape{12, 5}, 0, false, true,
       NL{{0, 5, 10}, {12, 17, 22}}},
      {"expand", [] { return expand(iota({3, 1}), {3, 4}); }, {3, 4}, Shape{1, 0}, 0, false, true,
       NL{{0, 0, 0, 0}, {1, 1, 1, 1}, {2, 2, 2, 2}}},
      {"expand_as", [] { return expand_as(iota({1, 3}), zeros({2, 3})); }, {2, 3}, Shape{0, 1}, 0, false, true,
       NL{{0, 1, 2}, {0, 1, 2}}},
      {"unsqueeze", [=] { return unsqueeze(a, 1); }, {2, 1, 3}, Shape{3, 3, 1}, 0, true, true,
       NL{{{0, 1, 2}}, {{3, 4, 5}}}},
      {"squeeze", [] { return squeeze(iota({2, 1, 3})); }, {2, 3}, Shape{3, 1}, 0, true, true, NL{{0, 1, 2}, {3, 4, 5}}},
      {"view", [=] { return a.view({3, 2}); }, {3, 2}, Shape{2, 1}, 0, true, true, NL{{0, 1}, {2, 3}, {4, 5}}},
      {"reshape_contiguous", [=] { return reshape(a, {6}); }, {6}, Shape{1}, 0, true, true, NL{0, 1, 2, 3, 4, 5}},
      {"flatten", [=] { return flatten(a); }, {6}, Shape{1}, 0, true, true, NL{0, 1, 2, 3, 4, 5}},
      {"unfold", [] { return unfold(iota({7}), 0, 3, 2); }, {3, 3}, Shape{2, 1}, 0, false, true,
       NL{{0, 1, 2}, {2, 3, 4}, {4, 5, 6}}},
      {"unbind_dim1", [=] { return a.unbind(1)[2]; }, {2}, Shape{3}, 2, false, true, NL{2, 5}},
      {"unbind_dim0", [=] { return unbind(a, 0)[1]; }, {3}, Shape{1}, 3, true, true, NL{3, 4, 5}},
      {"split", [=] { return split(a, 2, 1)[1]; }, {2, 1}, Shape{3, 1}, 2, false, true, NL{{2}, {5}}},
      {"split_sizes", [=] { return split(a, I64s{1, 2}, 1)[1]; }, {2, 2}, Shape{3, 1}, 1, false, true,
       NL{{1, 2}, {4, 5}}},
      {"chunk", [=] { return chunk(a, 3, 1)[0]; }, {2, 1}, Shape{3, 1}, 0, false, true, NL{{0}, {3}}},
      {"as_strided", [=] { return as_strided(a, {2, 2}, {1, 2}, 1); }, {2, 2}, Shape{1, 2}, 1, false, true,
       NL{{1, 3}, {2, 4}}},
      {"as_strided_default_offset", [=] { return a.as_strided({3}, {2}, std::nullopt); }, {3}, Shape{2}, 0, false,
       true, NL{0, 2, 4}},
      {"as_strided_of_view_keeps_offset", [=] { return a.select(0, 1).as_strided({2}, {2}, std::nullopt); }, {2},
       Shape{2}, 3, false, true, NL{3, 5}},
      {"index_slices", [=] { return m.index({Slice(1, None), Slice(None, None, 2)}); }, {2, 2}, Shape{4, 2}, 4,
       false, true, NL{{4, 6}, {8, 10}}},
      {"index_slice_int", [=] { return m.index({Slice(1, 3), 2}); }, {2}, Shape{4}, 6, false, true, NL{6, 10}},
      // the stride of a new size-1 axis is not specified (libtorch 1.13 gives [6, 1])
      {"index_none_int", [=] { return a.index({None, 0}); }, {1, 3}, std::nullopt, 0, true, true, NL{{0, 1, 2}}},
      {"index_ellipsis_int", [=] { return a.index({Ellipsis, 1}); }, {2}, Shape{3}, 1, false, true, NL{1, 4}},
      {"index_int_int", [=] { return m.index({2, 1}); }, {}, Shape{}, 9, true, true, NL(9.)},
      // advanced indexing with an int64 tensor copies (libtorch 1.13: is_view false)
      {"index_tensor_copies", [=] { return a.index({from_vector<std::int64_t>({1, 0}, {2})}); }, {2, 3}, Shape{3, 1},
       0, true, false, NL{{3, 4, 5}, {0, 1, 2}}},
      {"contiguous_of_transpose_copies", [=] { return transpose(a, 0, 1).contiguous(); }, {3, 2}, Shape{2, 1}, 0,
       true, false, NL{{0, 3}, {1, 4}, {2, 5}}},
      // libtorch 1.13: reshape of a transpose is not a view
      {"reshape_of_transpose_copies", [=] { return transpose(a, 0, 1).reshape({6}); }, {6}, Shape{1}, 0, true, false,
       NL{0, 3, 1, 4, 2, 5}},
      {"select_of_transpose", [=] { return transpose(a, 0, 1).select(0, 1); }, {2}, Shape{3}, 1, false, true,
       NL{1, 4}},
  };
  return ls;
}

// ---- table 3: what must throw ---------------------------------------------------------------

struct ErrorCase {
  std::string name;
  std::function<void()> run;
  std::string message;  // substring of the xgrad::Error's message
};

Tensor leaf22() { return from_nested(NL{{1, 2}, {3, 4}}, true); }

std::vector<ErrorCase> make_errors() {
  const std::string kVersion = "modified by an in-place operation";
  const std::string kViewOfLeaf = "view of a leaf";
  const std::string kLeaf = "leaf tensor that requires grad";
  // ASSUMPTION (PyTorch 1.13 rejects these; the lead may choose another wording): in-place
  // on a piece of a multi-output view op (unbind, split, chunk) when grad is involved.
  const std::string kMulti = "multiple views";
  return {
      // b * b saves b; writing b[0] through a view bumps b's (shared) version.
      {"saved_base_modified_through_view",
       [] {
         Tensor x = leaf22();
         Tensor b = x.clone();
         Tensor y = b * b;
         b.select(0, 0).mul_(2.0);
         y.sum().backward();
       },
       kVersion},
      // v * v saves the view v; b.zero_() on the base bumps the counter v shares.
      {"saved_view_modified_through_base",
       [] {
         Tensor x = leaf22();
         Tensor b = x.clone();
         Tensor v = b.select(0, 0);
         Tensor y = v * v;
         b.zero_();
         y.sum().backward();
       },
       kVersion},
      // Views share ONE counter: writing a disjoint region still invalidates the saved view.
      {"saved_view_modified_through_disjoint_view",
       [] {
         Tensor x = leaf22();
         Tensor b = x.clone();
         Tensor y = b.narrow(0, 0, 1).pow(2.0);
         b.narrow(0, 1, 1).fill_(0.0);
         y.sum().backward();
       },
       kVersion},
      // x * x saves the leaf x; x.detach() shares its storage and counter.
      {"saved_leaf_modified_through_detach",
       [] {
         Tensor x = leaf22();
         Tensor y = x * x;
         x.detach().zero_();
         y.sum().backward();
       },
       kVersion},
      // exp saves its output; y.view({-1}).add_(1) modifies it.
      {"saved_output_modified_through_view",
       [] {
         Tensor x = leaf22();
         Tensor y = exp(x);
         y.view({-1}).add_(1.0);
         y.sum().backward();
       },
       kVersion},
      // sigmoid saves its output; index_put_ through a transposed view modifies it.
      {"saved_output_modified_through_index_put_",
       [] {
         Tensor x = leaf22();
         Tensor y = sigmoid(x);
         y.t().index_put_({0}, 0.0);
         y.sum().backward();
       },
       kVersion},
      {"view_of_leaf_select_mul_", [] { leaf22().select(0, 0).mul_(2.0); }, kViewOfLeaf},
      {"view_of_leaf_t_zero_", [] { leaf22().t().zero_(); }, kViewOfLeaf},
      {"view_of_leaf_view_add_", [] { leaf22().view({4}).add_(1.0); }, kViewOfLeaf},
      {"view_of_leaf_narrow_copy_",
       [] { leaf22().narrow(0, 0, 1).copy_(from_nested(NL{{5, 6}})); },
       kViewOfLeaf},
      {"view_of_leaf_index_fill_", [] { leaf22().index({0}).fill_(1.0); }, kViewOfLeaf},
      {"view_of_leaf_diagonal_clamp_", [] { leaf22().diagonal().clamp_(0.0, 1.0); }, kViewOfLeaf},
      {"view_of_leaf_unsqueeze_sub_", [] { leaf22().unsqueeze(0).sub_(1.0); }, kViewOfLeaf},
      {"view_of_leaf_slice_div_", [] { leaf22().slice(1, 0, 2, 2).div_(2.0); }, kViewOfLeaf},
      {"leaf_mul_", [] { leaf22().mul_(2.0); }, kLeaf},
      {"leaf_index_put_", [] { leaf22().index_put_({0}, 1.0); }, kLeaf},
      {"leaf_copy_", [] { leaf22().copy_(from_nested(NL{{5, 6}, {7, 8}})); }, kLeaf},
      // PyTorch 1.13: "Output 1 of UnbindBackward0 is a view and is being modified inplace.
      // This view is the output of a function that returns multiple views. ..."
      {"unbind_piece_inplace_with_grad",
       [] {
         Tensor b = leaf22().clone();
         b.unbind(0)[1].mul_(2.0);
       },
       kMulti},
      {"split_piece_inplace_with_grad",
       [] {
         Tensor b = leaf22().clone();
         split(b, 1)[0].add_(1.0);
       },
       kMulti},
      {"chunk_piece_inplace_with_grad",
       [] {
         Tensor b = leaf22().clone();
         chunk(b, 2, 1)[1].zero_();
       },
       kMulti},
      // The buffer does not require grad but the source does (libtorch 1.13 throws too):
      // use select() / narrow() for this pattern (cases rnn_select_copy_, rnn_narrow_copy_).
      {"unbind_piece_copy_grad_source",
       [] {
         Tensor buf = zeros({2, 2}, dtype(float64));
         buf.unbind(0)[0].copy_(from_nested(NL{1, 2}, true));
       },
       kMulti},
  };
}

}  // namespace

BOOST_AUTO_TEST_SUITE(views_inplace)

BOOST_AUTO_TEST_CASE(table_of_graphs) {
  const auto cases = make_cases();
  BOOST_TEST(cases.size() >= 30u);
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT("case " << c.name) {
      try {
        run_case(c);
      } catch (const std::exception& e) {
        BOOST_ERROR("case " << c.name << " threw: " << e.what());
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(table_of_layouts) {
  for (const auto& l : make_layouts()) {
    BOOST_TEST_CONTEXT("view " << l.name) {
      try {
        const Tensor v = l.make();
        BOOST_CHECK_MESSAGE(v.shape() == l.shape, "shape " << fmt::format("{}", v.shape()));
        if (l.strides) {
          BOOST_CHECK_MESSAGE(v.strides() == *l.strides, "strides " << fmt::format("{}", v.strides()));
          for (std::int64_t d = 0; d < v.dim() && static_cast<std::size_t>(d) < l.strides->size(); ++d) {
            BOOST_CHECK_EQUAL(v.stride(d), (*l.strides)[static_cast<std::size_t>(d)]);
            BOOST_CHECK_EQUAL(v.stride(d - v.dim()), (*l.strides)[static_cast<std::size_t>(d)]);
          }
        }
        BOOST_CHECK_EQUAL(v.storage_offset(), l.offset);
        BOOST_CHECK_EQUAL(v.is_contiguous(), l.contiguous);
        BOOST_CHECK_EQUAL(v.is_view(), l.is_view);
        check_nested(v, l.values, "values");
        // contiguous() is the tensor itself when already contiguous, else a contiguous copy
        const Tensor c = v.contiguous();
        BOOST_CHECK(c.is_contiguous());
        BOOST_CHECK_EQUAL(c.is_same(v), l.contiguous);
        check_nested(c, l.values, "values of contiguous()");
      } catch (const std::exception& e) {
        BOOST_ERROR("view " << l.name << " threw: " << e.what());
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(table_of_errors) {
  for (const auto& ec : make_errors()) {
    BOOST_TEST_CONTEXT("error case " << ec.name) { XGRAD_CHECK_THROW_MSG(ec.run(), ec.message); }
  }
}

// A rejected in-place op writes nothing (DESIGN §7: no partial writes on failure).
BOOST_AUTO_TEST_CASE(rejected_inplace_writes_nothing) {
  Tensor x = leaf22();
  XGRAD_CHECK_THROW_MSG(x.select(0, 0).mul_(2.0), "view of a leaf");
  XGRAD_CHECK_THROW_MSG(x.mul_(2.0), "leaf tensor that requires grad");
  XGRAD_CHECK_THROW_MSG(x.index_put_({Slice(), 0}, 9.0), "leaf tensor that requires grad");
  check_nested(x, NL{{1, 2}, {3, 4}}, "x after rejected in-place ops");
  BOOST_CHECK(x.is_leaf());
  Tensor b = x.clone();
  XGRAD_CHECK_THROW_MSG(b.unbind(0)[1].mul_(2.0), "multiple views");
  check_nested(b, NL{{1, 2}, {3, 4}}, "b after a rejected in-place op");
}

// Writes through any alias (views of every kind, detach()) are visible through all the others.
BOOST_AUTO_TEST_CASE(writes_visible_through_every_alias) {
  Tensor b = iota({2, 3});  // [[0,1,2],[3,4,5]]
  Tensor v = b.t();
  Tensor w = b.select(0, 1);
  Tensor d = b.detach();
  Tensor s = b.slice(1, 0, 3, 2);
  v.mul_(2.0);              // [[0,2,4],[6,8,10]]
  w.add_(1.0);              // [[0,2,4],[7,9,11]]
  d.select(0, 0).fill_(-1.0);  // [[-1,-1,-1],[7,9,11]]
  s.select(1, 1).zero_();   // column 2: [[-1,-1,0],[7,9,0]]
  check_nested(b, NL{{-1, -1, 0}, {7, 9, 0}}, "base");
  check_nested(v, NL{{-1, 7}, {-1, 9}, {0, 0}}, "transpose");
  check_nested(w, NL{7, 9, 0}, "row view");
  check_nested(d, NL{{-1, -1, 0}, {7, 9, 0}}, "detach");
  check_nested(s, NL{{-1, 0}, {7, 0}}, "strided slice");
}

// After an in-place op on a view, the base's grad_fn is a CopySlices node (PyTorch's name)
// and the view's own grad_fn is current.
BOOST_AUTO_TEST_CASE(base_history_is_rebased) {
  Tensor x = leaf22();
  Tensor b = x.clone();
  BOOST_CHECK_EQUAL(b.grad_fn_name(), "CloneBackward");
  Tensor v = b.select(0, 0);
  v.mul_(2.0);
  BOOST_CHECK_EQUAL(b.grad_fn_name(), "CopySlices");
  BOOST_CHECK(v.is_view());
  BOOST_CHECK(!v.is_leaf());
  // a buffer that did not require grad is no leaf any more once a tensor requiring grad is
  // copied into a view of it
  Tensor buf = zeros({2, 2}, dtype(float64));
  BOOST_CHECK(buf.is_leaf());
  buf.select(0, 1).copy_(x.select(0, 0));
  BOOST_CHECK(buf.requires_grad());
  BOOST_CHECK(!buf.is_leaf());
  BOOST_CHECK_EQUAL(buf.grad_fn_name(), "CopySlices");
}

BOOST_AUTO_TEST_SUITE_END()
