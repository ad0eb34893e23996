// Differential testing against libtorch (issue 19): generators of the shape, indexing and nn
// ops (parameter layout: diff_xgrad.cpp).
#include <cmath>

#include "diff_gen.hpp"

namespace xgrad_diff {
namespace {

std::int64_t at(const Shape& s, std::int64_t d) { return s[static_cast<std::size_t>(d < 0 ? d + nd(s) : d)]; }

/// A random shape with n elements (prime factors spread over 1..4 dims, maybe one -1).
Shape factor_shape(Ctx& c, std::int64_t n) {
  Shape s(static_cast<std::size_t>(c.irand(1, 4)), 1);
  for (std::int64_t p = 2; n > 1; ++p)
    while (n % p == 0) {
      s[static_cast<std::size_t>(c.irand(0, nd(s) - 1))] *= p;
      n /= p;
    }
  if (c.coin(0.3)) s[static_cast<std::size_t>(c.irand(0, nd(s) - 1))] = -1;
  return s;
}

std::vector<std::int64_t> perm(Ctx& c, std::int64_t n) {
  std::vector<std::int64_t> p(static_cast<std::size_t>(n));
  std::iota(p.begin(), p.end(), 0);
  std::shuffle(p.begin(), p.end(), c.rng);
  return p;
}

std::int64_t reduction(Ctx& c) { return c.irand(0, 2); }

}  // namespace

std::vector<std::pair<std::string, Gen>> make_table_shape() {
  std::vector<std::pair<std::string, Gen>> t;
  auto add = [&](const std::string& name, Gen gen) { t.emplace_back(name, std::move(gen)); };
  // every op below: x = the operand, s = its shape
  auto simple = [&](const std::string& name, std::int64_t lo, std::int64_t hi,
                    std::function<bool(Ctx&, Node&, const Shape&)> params) {
    add(name, [=](Ctx& c, Node& n) {
      const int x = c.pick_nd(lo, hi);
      n = unary(x, kNone);
      return params(c, n, c.shape_of(x));
    });
  };
  simple("reshape", 0, 4, [](Ctx& c, Node& n, const Shape& s) { n.ip = factor_shape(c, numel(s)); return true; });
  simple("flatten", 1, 4, [](Ctx& c, Node& n, const Shape& s) {
    const std::int64_t a = c.irand(0, nd(s) - 1), b = c.irand(a, nd(s) - 1);
    n.ip = {a, c.coin(0.3) ? b - nd(s) : b};
    return true;
  });
  simple("squeeze", 0, 4, [](Ctx&, Node&, const Shape&) { return true; });
  simple("squeeze_dim", 1, 4, [](Ctx& c, Node& n, const Shape& s) { n.ip = {c.dim(s)}; return true; });
  simple("unsqueeze", 0, 3, [](Ctx& c, Node& n, const Shape& s) { n.ip = {c.irand(-nd(s) - 1, nd(s))}; return true; });
  simple("transpose", 2, 4, [](Ctx& c, Node& n, const Shape& s) { n.ip = {c.dim(s), c.dim(s)}; return true; });
  simple("permute", 1, 4, [](Ctx& c, Node& n, const Shape& s) { n.ip = perm(c, nd(s)); return true; });
  simple("t", 1, 2, [](Ctx&, Node&, const Shape&) { return true; });
  simple("movedim", 2, 4, [](Ctx& c, Node& n, const Shape& s) { n.ip = {c.dim(s), c.dim(s)}; return true; });
  simple("expand", 0, 3, [](Ctx& c, Node& n, const Shape& s) {
    n.ip = s;
    for (auto& d : n.ip)
      if (d == 1) d = c.irand(1, 3);
      else if (c.coin(0.3)) d = -1;
    if (c.coin(0.5)) n.ip.insert(n.ip.begin(), c.irand(1, 3));
    return true;
  });
  simple("slice", 1, 4, [](Ctx& c, Node& n, const Shape& s) {
    const std::int64_t d = c.dim(s), size = at(s, d), start = c.irand(0, size - 1);
    n.ip = {d, start, c.irand(start + 1, size + 1), c.irand(1, 3)};
    return true;
  });
  simple("narrow", 1, 4, [](Ctx& c, Node& n, const Shape& s) {
    const std::int64_t d = c.dim(s), size = at(s, d), start = c.irand(0, size - 1);
    n.ip = {d, start, c.irand(1, size - start)};
    return true;
  });
  simple("select", 1, 4, [](Ctx& c, Node& n, const Shape& s) {
    const std::int64_t d = c.dim(s), size = at(s, d);
    n.ip = {d, c.irand(-size, size - 1)};
    return true;
  });
  simple("unfold", 1, 4, [](Ctx& c, Node& n, const Shape& s) {
    const std::int64_t d = c.dim(s);
    n.ip = {d, c.irand(1, at(s, d)), c.irand(1, 2)};
    return true;
  });
  simple("diagonal", 2, 4, [](Ctx& c, Node& n, const Shape& s) {
    const std::int64_t d1 = c.irand(0, nd(s) - 1);
    std::int64_t d2 = c.irand(0, nd(s) - 2);
    if (d2 >= d1) ++d2;
    n.ip = {c.irand(-1, 1), d1, d2 - (c.coin(0.3) ? nd(s) : 0)};
    return true;
  });
  simple("flip", 1, 4, [](Ctx& c, Node& n, const Shape& s) {
    for (std::int64_t d = 0; d < nd(s); ++d)
      if (c.coin()) n.ip.push_back(d);
    if (n.ip.empty()) n.ip = {c.dim(s)};
    return true;
  });
  simple("roll", 1, 4, [](Ctx& c, Node& n, const Shape& s) {
    if (c.coin(0.25)) {
      n.ip = {1, c.irand(-5, 5)};  // flattened
      return true;
    }
    auto p = perm(c, nd(s));
    const std::int64_t k = c.irand(1, std::min<std::int64_t>(2, nd(s)));
    n.ip = {k};
    for (std::int64_t i = 0; i < k; ++i) n.ip.push_back(c.irand(-4, 4));
    for (std::int64_t i = 0; i < k; ++i) n.ip.push_back(p[static_cast<std::size_t>(i)]);
    return true;
  });
  simple("repeat", 0, 3, [](Ctx& c, Node& n, const Shape& s) {
    n.ip.assign(s.size() + (c.coin(0.3) ? 1 : 0), 1);
    for (auto& r : n.ip) r = c.irand(1, 2);
    return true;
  });
  simple("tile", 0, 3, [](Ctx& c, Node& n, const Shape& s) {
    n.ip.assign(static_cast<std::size_t>(c.irand(1, nd(s) + 1)), 1);
    for (auto& r : n.ip) r = c.irand(1, 2);
    return true;
  });
  simple("tril", 2, 4, [](Ctx& c, Node& n, const Shape&) { n.ip = {c.irand(-1, 1)}; return true; });
  simple("triu", 2, 4, [](Ctx& c, Node& n, const Shape&) { n.ip = {c.irand(-1, 1)}; return true; });
  simple("pad_constant", 1, 4, [](Ctx& c, Node& n, const Shape& s) {
    n.ip.assign(static_cast<std::size_t>(2 * c.irand(1, std::min<std::int64_t>(2, nd(s)))), 0);
    for (auto& p : n.ip) p = c.irand(0, 2);
    n.dp = {c.urand(-1, 1)};
    return true;
  });
  for (const char* name : {"pad_reflect", "pad_replicate"}) {
    const bool reflect = std::string(name) == "pad_reflect";
    simple(name, 2, 4, [reflect](Ctx& c, Node& n, const Shape& s) {
      // libtorch 1.13: one padded dim for 2-d / 3-d inputs, two for 3-d / 4-d
      const std::int64_t k = nd(s) == 2 ? 1 : nd(s) == 4 ? 2 : c.irand(1, 2);
      for (std::int64_t i = 0; i < k; ++i) {
        const std::int64_t size = s[s.size() - 1 - static_cast<std::size_t>(i)];
        const std::int64_t hi = reflect ? std::min<std::int64_t>(2, size - 1) : 2;
        n.ip.push_back(c.irand(0, std::max<std::int64_t>(hi, 0)));
        n.ip.push_back(c.irand(0, std::max<std::int64_t>(hi, 0)));
      }
      return true;
    });
  }
  add("index_select", [](Ctx& c, Node& n) {
    const int x = c.pick_nd(1, 4);
    const Shape s = c.shape_of(x);
    const std::int64_t d = c.dim(s);
    n = Node{"", {x, c.fresh_index({c.irand(1, 4)}, at(s, d))}, {kNone, kNone}, {d}, {}};
    return true;
  });
  for (const char* name : {"gather", "take_along_dim", "scatter_add"}) {
    const std::string op = name;
    add(op, [op](Ctx& c, Node& n) {
      const int x = c.pick_nd(1, 4);
      const Shape s = c.shape_of(x);
      const std::int64_t d = c.dim(s), dd = d < 0 ? d + nd(s) : d;
      Shape is = s;
      for (std::int64_t i = 0; i < nd(s); ++i) {
        auto& v = is[static_cast<std::size_t>(i)];
        if (i == dd) v = op == "scatter_add" ? c.irand(1, s[static_cast<std::size_t>(i)]) : c.irand(1, 4);
        else if (op == "take_along_dim") v = c.coin(0.3) ? 1 : v;
        else v = c.irand(1, v);
      }
      n = Node{"", {x, c.fresh_index(is, at(s, d))}, {kNone, kNone}, {d}, {}};
      if (op == "scatter_add") {
        n.args.push_back(c.fresh(is));
        n.guards.push_back(kNone);
      }
      return true;
    });
  }
  add("index_add", [](Ctx& c, Node& n) {
    const int x = c.pick_nd(1, 4);
    const Shape s = c.shape_of(x);
    const std::int64_t d = c.dim(s), len = c.irand(1, 4);
    Shape src = s;
    src[static_cast<std::size_t>(d < 0 ? d + nd(s) : d)] = len;
    n = Node{"", {x, c.fresh_index({len}, at(s, d)), c.fresh(src)}, {kNone, kNone, kNone}, {d}, {c.urand(0.5, 2)}};
    return true;
  });
  simple("repeat_interleave", 1, 4, [](Ctx& c, Node& n, const Shape& s) { n.ip = {c.irand(1, 3), c.dim(s)}; return true; });
  for (const char* name : {"cat", "stack"}) {
    const bool cat = std::string(name) == "cat";
    add(name, [cat](Ctx& c, Node& n) {
      const int x = c.pick_nd(cat ? 1 : 0, 4);
      const Shape s = c.shape_of(x);
      const std::int64_t d = cat ? c.dim(s) : c.irand(-nd(s) - 1, nd(s));
      Shape o = s;
      if (cat) o[static_cast<std::size_t>(d < 0 ? d + nd(s) : d)] = c.irand(1, 3);
      n = Node{"", {x, c.coin(0.25) ? x : c.fresh(o)}, {kNone, kNone}, {d}, {}};
      return true;
    });
  }
  simple("split", 1, 4, [](Ctx& c, Node& n, const Shape& s) {
    const std::int64_t d = c.dim(s), size = at(s, d), ss = c.irand(1, size);
    n.ip = {ss, d, c.irand(0, (size + ss - 1) / ss - 1)};
    return true;
  });
  simple("chunk", 1, 4, [](Ctx& c, Node& n, const Shape& s) {
    const std::int64_t d = c.dim(s), size = at(s, d), chunks = c.irand(1, 3);
    const std::int64_t per = (size + chunks - 1) / chunks;
    n.ip = {chunks, d, c.irand(0, (size + per - 1) / per - 1)};
    return true;
  });
  simple("unbind", 1, 4, [](Ctx& c, Node& n, const Shape& s) {
    const std::int64_t d = c.dim(s);
    n.ip = {d, c.irand(0, at(s, d) - 1)};
    return true;
  });
  // ---- losses
  for (const char* name : {"mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "bce_with_logits",
                           "binary_cross_entropy", "kl_div", "hinge_embedding_loss", "margin_ranking_loss"}) {
    const std::string op = name;
    add(op, [op](Ctx& c, Node& n) {
      const int x = c.pick_nd(op == "kl_div" || op == "margin_ranking_loss" ? 1 : 0, 3);
      const Shape s = c.shape_of(x);
      n = Node{"", {x}, {op == "binary_cross_entropy" ? kProb : kNone}, {reduction(c)}, {c.choice(std::vector<double>{0.5, 1.0})}};
      if (op == "kl_div" && c.coin(0.25)) n.ip[0] = 3;  // batchmean
      if (op == "bce_with_logits" || op == "binary_cross_entropy" || op == "kl_div") {
        n.args.push_back(c.fresh(s, false));
        n.guards.push_back(kProb);
      } else if (op == "hinge_embedding_loss") {
        n.args.push_back(c.fresh_sign(s));
        n.guards.push_back(kNone);
      } else if (op == "margin_ranking_loss") {
        n.args.push_back(c.fresh(s));
        n.args.push_back(c.fresh_sign(s));
        n.guards = {kNone, kNone, kNone};
      } else {
        n.args.push_back(c.fresh(s));
        n.guards.push_back(kNone);
      }
      return true;
    });
  }
  for (const char* name : {"cross_entropy", "nll_loss", "multi_margin_loss"}) {
    const std::string op = name;
    add(op, [op](Ctx& c, Node& n) {
      const int x = c.pick_nd(2, op == "cross_entropy" ? 3 : 2);
      Shape s = c.shape_of(x), ts = s;
      ts.erase(ts.begin() + 1);
      n = Node{"", {x, c.fresh_index(ts, s[1])}, {kNone, kNone}, {reduction(c)}, {}};
      if (op == "cross_entropy") n.dp = {c.choice(std::vector<double>{0.0, 0.1})};
      if (op == "multi_margin_loss") {
        n.ip.push_back(c.irand(1, 2));
        n.dp = {c.choice(std::vector<double>{1.0, 0.5})};
      }
      return true;
    });
  }
  add("cosine_embedding_loss", [](Ctx& c, Node& n) {
    const int x = c.pick_nd(2, 2);
    const Shape s = c.shape_of(x);
    n = Node{"", {x, c.fresh(s), c.fresh_sign({s[0]})}, {kNone, kNone, kNone}, {reduction(c)},
             {c.choice(std::vector<double>{0.0, 0.3})}};
    return true;
  });
  // ---- nn layers
  add("layer_norm", [](Ctx& c, Node& n) {
    const int x = c.pick_nd(1, 4);
    const Shape s = c.shape_of(x);
    const auto k = static_cast<std::ptrdiff_t>(c.irand(1, std::min<std::int64_t>(2, nd(s))));
    const Shape ns(s.end() - k, s.end());
    n = Node{"", {x, c.fresh(ns), c.fresh(ns)}, {kNone, kNone, kNone}, ns, {}};
    // normalising one element or equal elements is ill-conditioned (rounding noise / eps)
    return numel(ns) >= 2 && !c.ties(x);
  });
  for (const char* name : {"conv1d", "conv2d", "conv3d"}) {
    const std::int64_t dims = name[4] - '0';  // spatial dims
    add(name, [dims](Ctx& c, Node& n) {
      const int x = c.pick_nd(dims + 2, dims + 2);
      const Shape s = c.shape_of(x);
      const std::int64_t cin = s[1], groups = cin % 2 == 0 && c.coin(0.3) ? 2 : 1, cout = groups * c.irand(1, 2);
      const std::int64_t stride = c.irand(1, 2), pad = c.irand(0, 1), dil = c.irand(1, 2);
      std::int64_t space = s[2];
      for (std::size_t i = 3; i < s.size(); ++i) space = std::min(space, s[i]);
      const std::int64_t kmax = (space + 2 * pad - 1) / dil + 1;
      if (kmax < 1) return false;
      const std::int64_t k = c.irand(1, std::min<std::int64_t>(kmax, 3));
      Shape w{cout, cin / groups};
      w.insert(w.end(), static_cast<std::size_t>(dims), k);
      const bool bias = c.coin();
      n = Node{"", {x, c.fresh(w)}, {kNone, kNone}, {bias ? 1 : 0, stride, pad, dil, groups}, {}};
      if (bias) {
        n.args.push_back(c.fresh({cout}));
        n.guards.push_back(kNone);
      }
      return true;
    });
  }
  for (const char* name : {"avg_pool1d", "avg_pool2d", "max_pool1d", "max_pool2d"}) {
    const std::string op = name;
    add(op, [op](Ctx& c, Node& n) {
      const bool one = op == "avg_pool1d" || op == "max_pool1d";
      const int x = c.pick_nd(one ? 2 : 3, one ? 3 : 4);
      const Shape s = c.shape_of(x);
      std::int64_t space = s.back();
      if (!one) space = std::min(space, s[s.size() - 2]);
      const std::int64_t k = c.irand(1, std::min<std::int64_t>(space, 3));
      n = unary(x, kNone);
      n.ip = {k, c.irand(1, 2), c.irand(0, k / 2)};
      return op.rfind("max_pool", 0) != 0 || !c.ties(x);
    });
  }
  return t;
}

}  // namespace xgrad_diff
