// Differential testing against libtorch (issue 19): generators of the linear-algebra
// functions, einsum, more nn ops (normalisations, embedding, recurrent cells, transposed
// convolution) and in-place ops through views (parameter layout: diff_xgrad.cpp).
#include "diff_gen.hpp"

namespace xgrad_diff {
namespace {

std::int64_t at(const Shape& s, std::int64_t d) { return s[static_cast<std::size_t>(d < 0 ? d + nd(s) : d)]; }

Node with_args(std::vector<int> args) {
  Node n;
  n.guards.assign(args.size(), kNone);
  n.args = std::move(args);
  return n;
}

/// A fresh [b..., n, n] matrix (the linear-algebra ops take fresh, well-scaled operands).
int fresh_square(Ctx& c) {
  const std::int64_t n = c.irand(1, 4);
  return c.fresh(c.coin(0.3) ? Shape{c.irand(1, 3), n, n} : Shape{n, n}, true, true);
}

}  // namespace

std::vector<std::pair<std::string, Gen>> make_table_more() {
  std::vector<std::pair<std::string, Gen>> t;
  auto add = [&](const std::string& name, Gen gen) { t.emplace_back(name, std::move(gen)); };
  // ---- linear-algebra functions
  for (const char* name : {"inv", "det", "slogdet"})
    add(name, [](Ctx& c, Node& n) { n = with_args({fresh_square(c)}); return true; });
  add("solve", [](Ctx& c, Node& n) {
    const int a = fresh_square(c);
    const Shape sa = c.shape_of(a);
    const std::int64_t m = sa.back();
    // B: [m] or [m, k] for a 2-d A (an existing value when one fits), [b, m, k] for a batch.
    // Not [m] with a batched A nor with m = 1: libtorch 1.13's backward throws (README.md).
    const int b = sa.size() == 2 ? c.pick([&](const Shape& s) { return (s.size() == 2 || (s.size() == 1 && m > 1)) && s[0] == m; },
                                          [&] { return c.coin(0.3) && m > 1 ? Shape{m} : Shape{m, c.irand(1, 3)}; })
                                 : c.fresh({sa[0], m, c.irand(1, 3)});
    n = with_args({a, b});
    return true;
  });
  add("cholesky", [](Ctx& c, Node& n) {
    n = with_args({c.fresh(c.coin(0.3) ? Shape{2, c.irand(1, 4), c.irand(1, 4)} : Shape{c.irand(1, 4), c.irand(1, 4)}, true, true)});
    n.ip = {c.irand(0, 1)};
    return true;
  });
  add("svdvals", [](Ctx& c, Node& n) { n = with_args({c.fresh({c.irand(1, 4), c.irand(1, 4)}, true, true)}); return true; });
  add("matrix_norm", [](Ctx& c, Node& n) {
    const bool nuc = c.coin();
    n = with_args({nuc ? c.fresh({c.irand(1, 4), c.irand(1, 4)}, true, true) : c.pick_nd(2, 4)});
    n.ip = {nuc ? 1 : 0};
    return true;
  });
  add("einsum", [](Ctx& c, Node& n) {
    const int x = c.pick_nd(1, 3);
    const Shape s = c.shape_of(x);
    std::vector<std::int64_t> eqs;  // the equations whose first operand fits s
    if (s.size() == 2) eqs = {0, 1, 4, 6, 8};
    if (s.size() == 2 && s[0] == s[1]) eqs.push_back(2);
    if (s.size() == 3) eqs = {3, 6, 7};
    if (s.size() == 1) eqs = {5};
    const std::int64_t e = c.choice(eqs);
    n = with_args({x});
    n.ip = {e};
    switch (e) {
      case 0: n.args.push_back(c.fresh({s[1], c.irand(1, 4)})); break;
      case 3: n.args.push_back(c.fresh({s[0], s[2], c.irand(1, 4)})); break;
      case 5: n.args.push_back(c.fresh({c.irand(1, 4)})); break;
      case 7: n.args.push_back(c.fresh({s[2], c.irand(1, 4)})); break;
      case 8: n.args.push_back(c.fresh(s)); break;
      default: break;
    }
    n.guards.assign(n.args.size(), kNone);
    return true;
  });
  // ---- nn
  add("embedding", [](Ctx& c, Node& n) {
    const int w = c.pick_nd(2, 2);
    const Shape idx = c.coin() ? Shape{c.irand(1, 4)} : Shape{c.irand(1, 3), c.irand(1, 3)};
    n = with_args({w, c.fresh_index(idx, c.shape_of(w)[0])});
    return true;
  });
  for (const char* name : {"group_norm", "batch_norm", "instance_norm"}) {
    const std::string op = name;
    add(op, [op](Ctx& c, Node& n) {
      const int x = c.pick_nd(op == "batch_norm" ? 2 : 3, 4);
      const Shape s = c.shape_of(x);
      const std::int64_t ch = s[1], per_channel = numel(s) / ch, spatial = per_channel / s[0];
      if (op == "batch_norm" && per_channel < 2) return false;  // "more than 1 value per channel"
      if (op != "batch_norm" && spatial < 2) return false;
      if (c.ties(x)) return false;  // equal elements: ill-conditioned normalisation
      const bool affine = c.coin();
      n = with_args({x});
      if (affine) {
        n.args.push_back(c.fresh({ch}));
        n.args.push_back(c.fresh({ch}));
        n.guards.assign(3, kNone);
      }
      if (op == "group_norm") {
        std::vector<std::int64_t> divisors;
        for (std::int64_t g = 1; g <= ch; ++g)
          if (ch % g == 0) divisors.push_back(g);
        const std::int64_t groups = c.choice(divisors);
        if (per_channel * (ch / groups) / s[0] < 2) return false;
        n.ip = {groups, affine ? 1 : 0};
      } else {
        n.ip = {affine ? 1 : 0};
      }
      return true;
    });
  }
  add("local_response_norm", [](Ctx& c, Node& n) {
    n = with_args({c.pick_nd(3, 4)});
    n.ip = {c.irand(1, 3)};
    n.dp = {c.choice(std::vector<double>{1e-4, 0.5}), 0.75, c.choice(std::vector<double>{1.0, 2.0})};
    return true;
  });
  add("pixel_shuffle", [](Ctx& c, Node& n) {
    n = with_args({c.pick([](const Shape& s) { return s.size() >= 3 && s.size() <= 4 && s[s.size() - 3] % 4 == 0; },
                          [&] { return Shape{c.irand(1, 2), 4, c.irand(1, 3), c.irand(1, 3)}; })});
    n.ip = {2};
    return true;
  });
  for (const char* name : {"rnn_tanh_cell", "gru_cell", "lstm_cell"}) {
    const std::string op = name;
    add(op, [op](Ctx& c, Node& n) {
      const int x = c.pick_nd(2, 2);
      const Shape s = c.shape_of(x);
      const std::int64_t b = s[0], in = s[1], h = c.irand(1, 3), gates = op == "lstm_cell" ? 4 : op == "gru_cell" ? 3 : 1;
      n = with_args({x, c.fresh({b, h})});
      if (op == "lstm_cell") n.args.push_back(c.fresh({b, h}));
      for (const Shape& w : {Shape{gates * h, in}, Shape{gates * h, h}, Shape{gates * h}, Shape{gates * h}})
        n.args.push_back(c.fresh(w));
      n.guards.assign(n.args.size(), kNone);
      if (op == "lstm_cell") n.ip = {c.irand(0, 1)};
      return true;
    });
  }
  for (const char* name : {"conv_transpose1d", "conv_transpose2d"}) {
    const std::int64_t dims = name[14] - '0';  // spatial dims
    add(name, [dims](Ctx& c, Node& n) {
      const int x = c.pick_nd(dims + 2, dims + 2);
      const Shape s = c.shape_of(x);
      const std::int64_t cin = s[1], groups = cin % 2 == 0 && c.coin(0.3) ? 2 : 1, cout = groups * c.irand(1, 2);
      const std::int64_t stride = c.irand(1, 2), dil = c.irand(1, 2), k = c.irand(1, 3), pad = c.irand(0, (k - 1) * dil);
      const std::int64_t out_pad = c.irand(0, std::max(stride, dil) - 1);
      const bool bias = c.coin();
      Shape w{cin, cout / groups};
      w.insert(w.end(), static_cast<std::size_t>(dims), k);
      n = with_args({x, c.fresh(w)});
      if (bias) n.args.push_back(c.fresh({cout}));
      n.guards.assign(n.args.size(), kNone);
      n.ip = {bias ? 1 : 0, stride, pad, out_pad, groups, dil};
      return true;
    });
  }
  add("bilinear", [](Ctx& c, Node& n) {
    const int x = c.pick_nd(2, 2);
    const Shape s = c.shape_of(x);
    const std::int64_t in2 = c.irand(1, 3), out = c.irand(1, 3);
    n = with_args({x, c.fresh({s[0], in2}), c.fresh({out, s[1], in2}), c.fresh({out})});
    return true;
  });
  add("pixel_unshuffle", [](Ctx& c, Node& n) {
    n = with_args({c.pick([](const Shape& s) { return s.size() >= 3 && s.size() <= 4 && s.back() % 2 == 0 && s[s.size() - 2] % 2 == 0; },
                          [&] { return Shape{c.irand(1, 2), c.irand(1, 2), 2 * c.irand(1, 2), 2 * c.irand(1, 2)}; })});
    n.ip = {2};
    return true;
  });
  // ---- in-place ops on a copy of x0, through views
  add("add_inplace", [](Ctx& c, Node& n) {
    const int x = c.pick_nd(0, 4);
    Shape o = c.shape_of(x);  // broadcastable to x's shape, never larger
    for (auto& d : o)
      if (c.coin(0.3)) d = 1;
    if (!o.empty() && c.coin(0.3)) o.erase(o.begin());
    n = with_args({x, c.fresh(o)});
    n.dp = {c.urand(-1.5, 1.5)};
    return true;
  });
  add("mul_narrow_inplace", [](Ctx& c, Node& n) {
    const int x = c.pick_nd(1, 4);
    Shape s = c.shape_of(x);
    const std::int64_t d = c.dim(s), size = at(s, d), start = c.irand(0, size - 1), len = c.irand(1, size - start);
    s[static_cast<std::size_t>(d < 0 ? d + nd(s) : d)] = len;
    n = with_args({x, c.fresh(s)});
    n.ip = {d, start, len};
    return true;
  });
  add("div_slice_inplace", [](Ctx& c, Node& n) {
    const int x = c.pick_nd(1, 4);
    Shape s = c.shape_of(x);
    const std::int64_t d = c.dim(s);
    auto& sd = s[static_cast<std::size_t>(d < 0 ? d + nd(s) : d)];
    sd = (sd + 1) / 2;
    n = with_args({x, c.fresh(s)});
    n.guards = {kNone, kPos};
    n.ip = {d};
    return true;
  });
  add("masked_fill_inplace", [](Ctx& c, Node& n) {
    const int x = c.pick_nd(0, 4);
    Shape o = c.shape_of(x);
    for (auto& d : o)
      if (c.coin(0.3)) d = 1;
    n = with_args({x, c.fresh(o, false)});
    n.dp = {c.urand(-1, 1)};
    return true;
  });
  add("copy_select_inplace", [](Ctx& c, Node& n) {
    const int x = c.pick_nd(1, 4);
    Shape s = c.shape_of(x);
    const std::int64_t d = c.dim(s), i = c.irand(-at(s, d), at(s, d) - 1);
    s.erase(s.begin() + (d < 0 ? d + nd(s) : d));
    for (auto& e : s)
      if (c.coin(0.2)) e = 1;  // broadcast into the selected slice
    n = with_args({x, c.fresh(s)});
    n.ip = {d, i};
    return true;
  });
  return t;
}

}  // namespace xgrad_diff
