// Differential testing against libtorch (issue 19): the generator's context (C++20, xgrad
// side). Ctx picks operands and parameters for one new node of a graph under construction;
// the per-op generators live in diff_gen.cpp (element-wise, linear algebra, reductions),
// diff_gen_shape.cpp (shape, indexing, losses, nn) and diff_gen_more.cpp (linalg functions,
// einsum, more nn, in-place ops through views).
#pragma once

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <numeric>
#include <random>
#include <string>
#include <utility>

#include "diff_graph.hpp"

namespace xgrad_diff {

using Shape = std::vector<std::int64_t>;
using Pred = std::function<bool(const Shape&)>;
inline std::int64_t numel(const Shape& s) { return std::accumulate(s.begin(), s.end(), std::int64_t{1}, std::multiplies<>()); }
inline std::int64_t nd(const Shape& s) { return static_cast<std::int64_t>(s.size()); }

struct Ctx {
  Graph& g;
  const Result& cur;  // xgrad's evaluation of g (shapes and values of the nodes)
  std::mt19937_64& rng;

  std::int64_t irand(std::int64_t lo, std::int64_t hi) {  // uniform in [lo, hi]
    return lo + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(hi - lo + 1));
  }
  double urand(double lo, double hi) { return lo + (hi - lo) * static_cast<double>(rng() >> 11) * 0x1.0p-53; }
  bool coin(double p = 0.5) { return urand(0, 1) < p; }
  template <class V>
  auto choice(const V& v) {
    return v[static_cast<std::size_t>(irand(0, static_cast<std::int64_t>(v.size()) - 1))];
  }
  std::int64_t dim(const Shape& s) { return irand(0, nd(s) - 1) - (coin(0.3) ? nd(s) : 0); }  // maybe negative

  Shape shape_of(int id) const {
    return id >= 0 ? g.inputs[static_cast<std::size_t>(id)].view_shape : cur.shapes[node_of(id)];
  }
  Shape rand_shape(std::int64_t lo_nd, std::int64_t hi_nd) {
    Shape s(static_cast<std::size_t>(irand(lo_nd, hi_nd)));
    for (auto& d : s) d = coin(0.15) ? 1 : irand(2, 4);
    return s;
  }
  /// A shape broadcastable with s (some dims 1, leading dims dropped or added).
  Shape bcast_shape(const Shape& s) {
    if (coin(0.08)) return {};
    Shape t = s;
    for (auto& d : t)
      if (coin(0.25)) d = 1;
    if (!t.empty() && coin(0.25)) t.erase(t.begin(), t.begin() + irand(1, nd(t)));
    if (coin(0.12)) t.insert(t.begin(), 2);
    return t;
  }
  /// A fresh float64 input seen in a random layout; full_rank: never expanded (a rank-1
  /// matrix has repeated zero singular values).
  int fresh(const Shape& view, bool grad = true, bool full_rank = false) {
    Input in;
    in.view_shape = view;
    in.leaf_shape = view;
    in.requires_grad = grad;
    std::vector<int> layouts{kContiguous};
    if (view.size() >= 2) layouts.push_back(kTransposed);
    if (!view.empty()) layouts.push_back(kStrided);
    if (!view.empty() && view[0] > 1 && !full_rank) layouts.push_back(kExpanded);
    in.layout = coin(0.4) ? kContiguous : choice(layouts);
    if (in.layout == kTransposed) std::swap(in.leaf_shape[view.size() - 2], in.leaf_shape[view.size() - 1]);
    if (in.layout == kStrided) in.leaf_shape.back() *= 2;
    if (in.layout == kExpanded) in.leaf_shape[0] = 1;
    in.values.resize(static_cast<std::size_t>(numel(in.leaf_shape)));
    for (auto& v : in.values) v = urand(-2.0, 2.0);
    g.inputs.push_back(in);
    return static_cast<int>(g.inputs.size()) - 1;
  }
  int fresh_sign(const Shape& s) {  // a +-1 target
    const int id = fresh(s, false);
    auto& in = g.inputs[static_cast<std::size_t>(id)];
    for (auto& v : in.values) v = coin() ? 1.0 : -1.0;
    return id;
  }
  int fresh_index(const Shape& s, std::int64_t hi) {  // int64 values in [0, hi)
    Input in;
    in.view_shape = in.leaf_shape = s;
    in.is_index = true;
    in.requires_grad = false;
    in.ivalues.resize(static_cast<std::size_t>(numel(s)));
    for (auto& v : in.ivalues) v = irand(0, hi - 1);
    g.inputs.push_back(in);
    return static_cast<int>(g.inputs.size()) - 1;
  }
  /// An existing float value whose shape satisfies `ok` (the latest node with probability
  /// 0.6), else a fresh input of shape make() (which must satisfy `ok`).
  int pick(const Pred& ok, const std::function<Shape()>& make) {
    std::vector<int> c;
    for (std::size_t i = 0; i < g.inputs.size(); ++i)
      if (!g.inputs[i].is_index && g.inputs[i].requires_grad && ok(g.inputs[i].view_shape)) c.push_back(static_cast<int>(i));
    for (std::size_t k = 0; k < g.nodes.size(); ++k)
      if (ok(cur.shapes[k])) c.push_back(node_id(k));
    if (!c.empty() && coin(0.9)) {
      if (c.back() < 0 && coin(0.6)) return c.back();
      return choice(c);
    }
    return fresh(make());
  }
  int pick_nd(std::int64_t lo, std::int64_t hi) {
    return pick([=](const Shape& s) { return nd(s) >= lo && nd(s) <= hi && numel(s) > 0; },
                [=, this] { return rand_shape(std::max<std::int64_t>(lo, 0), hi); });
  }
  /// The elements of a value (an input's leaf values).
  const std::vector<double>& values(int id) const {
    return id >= 0 ? g.inputs[static_cast<std::size_t>(id)].values : cur.values[node_of(id)];
  }
  bool has_zero(int id) const {
    const auto& v = values(id);
    return std::find(v.begin(), v.end(), 0.0) != v.end();
  }
  /// Whether the value has two equal elements (the gradient of max / sort / ... at ties is
  /// implementation-defined).
  bool ties(int id) const {
    if (id >= 0) {
      const Input& in = g.inputs[static_cast<std::size_t>(id)];
      if (in.layout == kExpanded && in.view_shape[0] > 1) return true;
    }
    std::vector<double> v = values(id);
    std::sort(v.begin(), v.end());
    return std::adjacent_find(v.begin(), v.end()) != v.end();
  }
};

inline bool broadcastable(const Shape& a, const Shape& b) {
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    const auto x = a[a.size() - 1 - i], y = b[b.size() - 1 - i];
    if (x != y && x != 1 && y != 1) return false;
  }
  return true;
}

/// Fills the node's args, guards and params (not its op name) for the op; false rejects the
/// attempt (e.g. ties under max). May append inputs to ctx.g.
using Gen = std::function<bool(Ctx&, Node&)>;
inline Node unary(int x, int guard) { return Node{"", {x}, {guard}, {}, {}}; }

std::vector<std::pair<std::string, Gen>> make_table_shape();
std::vector<std::pair<std::string, Gen>> make_table_more();
/// Every op of the differential table with its generator, in a fixed order.
const std::vector<std::pair<std::string, Gen>>& generators();

}  // namespace xgrad_diff
