// Differential testing against libtorch (issue 19): the random graph generator. Every op of
// the differential table has a generator here that picks its operands (an existing value of a
// fitting shape, preferring the latest, or a fresh input) and its parameters; diff_xgrad.cpp
// documents the parameter layout. Shapes come from evaluating the partial graph with xgrad.
#include "diff_gen.hpp"

#include <cmath>

namespace xgrad_diff {
namespace {


std::vector<std::int64_t> reduction_dims(Ctx& c, const Shape& s) {
  std::vector<std::int64_t> dims;
  if (s.empty() || c.coin(0.2)) return dims;  // all
  for (std::int64_t d = 0; d < nd(s); ++d)
    if (c.coin(0.5)) dims.push_back(c.coin(0.3) ? d - nd(s) : d);
  if (dims.empty()) dims.push_back(c.dim(s));
  return dims;
}

std::vector<std::pair<std::string, Gen>> make_table() {
  std::vector<std::pair<std::string, Gen>> t;
  auto add = [&](const std::string& name, Gen gen) { t.emplace_back(name, std::move(gen)); };
  // ---- unary element-wise: (name, guard, params)
  struct U {
    const char* name;
    int guard;
    std::function<void(Ctx&, Node&)> params;
  };
  auto none = [](Ctx&, Node&) {};
  auto d = [](std::vector<double> v) { return [v](Ctx& c, Node& n) { n.dp = {c.choice(v)}; }; };
  const std::vector<U> unaries = {
      {"neg", kNone, none}, {"exp", kBound, none}, {"log", kPos, none}, {"log1p", kPos, none},
      {"sqrt", kPos, none}, {"rsqrt", kPos, none}, {"abs", kNone, none}, {"sin", kNone, none},
      {"cos", kNone, none}, {"tanh", kNone, none}, {"sigmoid", kNone, none}, {"relu", kNone, none},
      {"erf", kNone, none}, {"erfc", kNone, none}, {"erfinv", kUnit, none}, {"lgamma", kPos, none},
      {"digamma", kPos, none}, {"polygamma", kPos, [](Ctx& c, Node& n) { n.ip = {c.irand(1, 2)}; }},
      {"trunc", kNone, none}, {"frac", kNone, none}, {"round", kNone, none}, {"sign", kNone, none},
      {"add_scalar", kNone, d({2.0, -0.75})}, {"sub_scalar", kNone, d({2.0, -1.25})},
      {"mul_scalar", kNone, d({3.0, -0.5})}, {"div_scalar", kNone, d({2.0, -0.8})}, {"rsub", kNone, d({5.0, -1.0})},
      {"rdiv", kPos, d({6.0, -2.0})},
      {"clamp", kNone, [](Ctx& c, Node& n) { const double lo = c.urand(-1, 0.5); n.dp = {lo, lo + c.urand(0.1, 1.5)}; }},
      {"clamp_min", kNone, [](Ctx& c, Node& n) { n.dp = {c.urand(-1, 1)}; }},
      {"clamp_max", kNone, [](Ctx& c, Node& n) { n.dp = {c.urand(-1, 1)}; }},
      {"nan_to_num", kNone, d({0.0})}, {"leaky_relu", kNone, d({0.01, 0.2})}, {"gelu", kNone, none},
      {"gelu_tanh", kNone, none}, {"elu", kNone, d({1.0, 0.5})}, {"selu", kNone, none}, {"silu", kNone, none},
      {"softplus", kNone, d({1.0, 2.0})},
      {"hardtanh", kNone, [](Ctx& c, Node& n) { const double lo = c.urand(-1.5, 0); n.dp = {lo, lo + c.urand(0.5, 2)}; }},
      {"relu6", kNone, [](Ctx&, Node& n) { n.guards = {kBound}; }}, {"mish", kNone, none},
      {"contiguous", kNone, none}, {"clone", kNone, none},
  };
  for (const auto& u : unaries) {
    const std::string name = u.name;
    add(u.name, [u, name](Ctx& c, Node& n) {
      const int x = c.pick_nd(0, 4);
      n = unary(x, u.guard);
      u.params(c, n);
      // discontinuous ops: no argument within 1e-7 of a jump (rounding noise would flip it)
      for (double v : c.values(x)) {
        const double r = std::round(v), h = std::floor(v) + 0.5;
        if (name == "sign" && std::abs(v) < 1e-7) return false;
        if ((name == "trunc" || name == "frac") && r != 0 && std::abs(v - r) < 1e-7) return false;
        if (name == "round" && std::abs(v - h) < 1e-7) return false;
      }
      return true;
    });
  }
  add("pow_scalar", [](Ctx& c, Node& n) {
    const double e = c.choice(std::vector<double>{2.0, 3.0, 0.5, -1.5});
    n = unary(c.pick_nd(0, 4), e > 1 ? kNone : kPos);
    n.dp = {e};
    return true;
  });
  // ---- binary element-wise with broadcasting: (name, guard of x0, guard of x1)
  const std::vector<std::tuple<const char*, int, int>> binaries = {
      {"add", kNone, kNone}, {"sub", kNone, kNone}, {"mul", kNone, kNone}, {"div", kNone, kPos},
      {"pow", kPos, kBound}, {"maximum", kNone, kNone}, {"minimum", kNone, kNone}, {"atan2", kNone, kNone},
      {"hypot", kNone, kNone}, {"logaddexp", kNone, kNone}, {"logaddexp2", kNone, kNone}, {"xlogy", kNone, kPos},
      {"lerp", kNone, kNone}, {"where_gt", kNone, kNone}, {"masked_fill_gt", kNone, kNone},
      {"masked_select_gt", kNone, kNone}, {"add_alpha", kNone, kNone}};
  for (const auto& [name, g0, g1] : binaries) {
    add(name, [name = std::string(name), g0 = g0, g1 = g1](Ctx& c, Node& n) {
      const int x = c.pick_nd(0, 4);
      const Shape s = c.shape_of(x);
      int y = -1000;
      if (c.coin(0.3)) {
        for (std::size_t k = 0; k < c.g.nodes.size(); ++k)
          if (node_id(k) != x && broadcastable(c.cur.shapes[k], s)) y = node_id(k);
      }
      if (y == -1000) y = c.fresh(c.bcast_shape(s));
      n = Node{"", {x, y}, {g0, g1}, {}, {}};
      n.dp = {c.urand(0.1, 0.9)};
      return true;
    });
  }
  add("lerp_tensor", [](Ctx& c, Node& n) {
    const int x = c.pick_nd(0, 4);
    const Shape s = c.shape_of(x);
    n = Node{"", {x, c.fresh(c.bcast_shape(s)), c.fresh(c.bcast_shape(s))}, {kNone, kNone, kNone}, {}, {}};
    return true;
  });
  // ---- linear algebra (the other operands fresh)
  add("matmul", [](Ctx& c, Node& n) {
    const int x = c.pick_nd(1, 4);
    const Shape s = c.shape_of(x);
    const std::int64_t k = s.back();
    const Shape w = c.coin(0.3) ? Shape{k} : (s.size() == 1 && c.coin(0.3) ? Shape{2, k, 3} : Shape{k, c.irand(1, 4)});
    n = Node{"", {x, c.fresh(w)}, {kNone, kNone}, {}, {}};
    return true;
  });
  add("mm", [](Ctx& c, Node& n) {
    const int x = c.pick_nd(2, 2);
    n = Node{"", {x, c.fresh({c.shape_of(x)[1], c.irand(1, 4)})}, {kNone, kNone}, {}, {}};
    return true;
  });
  add("bmm", [](Ctx& c, Node& n) {
    const int x = c.pick_nd(3, 3);
    const Shape s = c.shape_of(x);
    n = Node{"", {x, c.fresh({s[0], s[2], c.irand(1, 4)})}, {kNone, kNone}, {}, {}};
    return true;
  });
  add("outer", [](Ctx& c, Node& n) {
    const int x = c.pick_nd(1, 1);
    n = Node{"", {x, c.fresh({c.irand(1, 4)})}, {kNone, kNone}, {}, {}};
    return true;
  });
  add("dot", [](Ctx& c, Node& n) {
    const int x = c.pick_nd(1, 1);
    n = Node{"", {x, c.fresh(c.shape_of(x))}, {kNone, kNone}, {}, {}};
    return true;
  });
  add("addmm", [](Ctx& c, Node& n) {
    const int x = c.pick_nd(2, 2);
    const Shape s = c.shape_of(x);
    const std::int64_t m = c.irand(1, 4);
    const Shape in = c.choice(std::vector<Shape>{{s[0], m}, {m}, {1, m}});
    n = Node{"", {c.fresh(in), x, c.fresh({s[1], m})}, {kNone, kNone, kNone}, {}, {c.urand(0.2, 1.5), c.urand(0.2, 1.5)}};
    return true;
  });
  add("baddbmm", [](Ctx& c, Node& n) {
    const int x = c.pick_nd(3, 3);
    const Shape s = c.shape_of(x);
    const std::int64_t m = c.irand(1, 4);
    n = Node{"", {c.fresh({s[0], s[1], m}), x, c.fresh({s[0], s[2], m})}, {kNone, kNone, kNone}, {},
             {c.urand(0.2, 1.5), c.urand(0.2, 1.5)}};
    return true;
  });
  add("linear", [](Ctx& c, Node& n) {
    const int x = c.pick_nd(1, 4);
    const std::int64_t in = c.shape_of(x).back(), out = c.irand(1, 4);
    const bool bias = c.coin();
    n = Node{"", {x, c.fresh({out, in})}, {kNone, kNone}, {bias ? 1 : 0}, {}};
    if (bias) {
      n.args.push_back(c.fresh({out}));
      n.guards.push_back(kNone);
    }
    return true;
  });
  // ---- reductions
  for (const char* name : {"sum", "mean", "nansum", "nanmean", "amax", "amin", "logsumexp", "norm", "var", "std"}) {
    const std::string op = name;
    add(op, [op](Ctx& c, Node& n) {
      const bool vs = op == "var" || op == "std";
      const int x = c.pick_nd(op == "logsumexp" || vs ? 1 : 0, 4);
      const Shape s = c.shape_of(x);
      const auto dims = reduction_dims(c, s);
      n = unary(x, kNone);
      n.ip = {dims.empty() ? 0 : (c.coin() ? 1 : 0)};
      if (vs) n.ip.push_back(c.irand(0, 1));
      n.ip.insert(n.ip.end(), dims.begin(), dims.end());
      if (op == "norm") n.dp = {c.choice(std::vector<double>{1.0, 1.5, 2.0, 3.0, INFINITY})};
      return !((op == "amax" || op == "amin" || (op == "norm" && std::isinf(n.dp[0]))) && c.ties(x));
    });
  }
  for (const char* name : {"max_all", "min_all", "median_all", "prod_all"}) {
    const std::string op = name;
    add(op, [op](Ctx& c, Node& n) {
      const int x = c.pick_nd(op == "median_all" ? 1 : 0, 4);
      n = unary(x, op == "prod_all" ? kBound : kNone);
      return op == "prod_all" || !c.ties(x);
    });
  }
  for (const char* name : {"max_dim", "min_dim", "median_dim", "prod_dim", "kthvalue", "sort", "topk"}) {
    const std::string op = name;
    add(op, [op](Ctx& c, Node& n) {
      const int x = c.pick_nd(1, 4);
      const Shape s = c.shape_of(x);
      const std::int64_t d = c.dim(s), size = s[static_cast<std::size_t>(d < 0 ? d + nd(s) : d)];
      const std::int64_t keep = c.coin() ? 1 : 0;
      n = unary(x, op == "prod_dim" ? kBound : kNone);
      if (op == "kthvalue") n.ip = {c.irand(1, size), d, keep};
      else if (op == "sort") n.ip = {d, keep};
      else if (op == "topk") n.ip = {c.irand(1, size), d, keep};
      else n.ip = {d, keep};
      return op == "prod_dim" || !c.ties(x);
    });
  }
  for (const char* name : {"cumsum", "cumprod", "logcumsumexp", "softmax", "log_softmax", "softmin"}) {
    const std::string op = name;
    add(op, [op](Ctx& c, Node& n) {
      const int x = c.pick_nd(1, 4);
      n = unary(x, op == "cumprod" ? kBound : kNone);
      n.ip = {c.dim(c.shape_of(x))};
      return true;
    });
  }
  return t;
}

}  // namespace

const std::vector<std::pair<std::string, Gen>>& generators() {
  static const auto table = [] {
    auto t = make_table();
    for (auto&& part : {make_table_shape(), make_table_more()}) t.insert(t.end(), part.begin(), part.end());
    return t;
  }();
  return table;
}

}  // namespace xgrad_diff
