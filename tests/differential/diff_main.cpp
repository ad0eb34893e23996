// Differential testing against libtorch (issue 19): the driver. For each seed, builds a random
// graph of 2-6 ops of the differential table on 1-3 float64 inputs (diff_gen*.cpp), evaluates
// it with xgrad (diff_xgrad.cpp) and libtorch (diff_torch.cpp), and compares every node's value
// and every input's gradient with |a - b| <= 1e-10 max(1, |b|). A mismatch is minimised
// (greedily dropping ops while it still fails) and printed as a reproducer; the exit status is
// 1 when any seed mismatched. Usage:
//   differential_test [--seeds N] [--first S] [--seed S] [--verbose] [--plant-error OP]
// --seed S runs seed S only and prints its graph. --plant-error OP scales xgrad's result of OP
// by 1 + 1e-9, which must make the run fail (CTest checks that the harness catches it). The README next to this file lists where
// libtorch 1.13 differs from PyTorch 2.x (which xgrad follows) and how those ops are kept out.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "diff_gen.hpp"

namespace xgrad_diff {
namespace {

constexpr double kTol = 1e-10;

/// Ops compared at a looser tolerance, and why (README.md, "Differences"). A graph holding one
/// of them is compared at that tolerance throughout.
struct Loose {
  const char* op;
  double tol;
};
constexpr Loose kLoose[] = {
    // libtorch's trigamma (polygamma(1, x), and so digamma's derivative) is accurate to about
    // 1e-9 relative only (xgrad's agrees with mpmath to 1e-15); ops downstream amplify it.
    {"digamma", 1e-7},
    {"polygamma", 1e-7},
};

double tolerance(const Graph& g) {
  double tol = kTol;
  for (const auto& n : g.nodes)
    for (const auto& l : kLoose)
      if (n.op == l.op) tol = std::max(tol, l.tol);
  return tol;
}

std::string join(const std::vector<std::int64_t>& v) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(v[i]);
  }
  return s + "]";
}

/// prefix followed by k ("v3"; built with += : GCC 12 warns falsely (-Wrestrict) on "v" + str).
std::string tag(const char* prefix, std::size_t k) {
  std::string s = prefix;
  s += std::to_string(k);
  return s;
}

std::string value_name(int id) { return id >= 0 ? tag("x", static_cast<std::size_t>(id)) : tag("v", node_of(id)); }

std::string describe(const Graph& g, const Result* r) {
  static const char* layouts[] = {"contiguous", "transposed", "strided", "expanded"};
  static const char* guards[] = {"", "pos", "bound", "unit", "prob"};
  std::ostringstream os;
  for (std::size_t i = 0; i < g.inputs.size(); ++i) {
    const Input& in = g.inputs[i];
    os << "  x" << i << ": " << (in.is_index ? "int64 " : "float64 ") << join(in.view_shape);
    if (!in.is_index) os << " " << layouts[in.layout] << " (leaf " << join(in.leaf_shape) << ")" << (in.requires_grad ? "" : " no grad");
    if (in.is_index) os << " = " << join(in.ivalues);
    os << "\n";
  }
  for (std::size_t k = 0; k < g.nodes.size(); ++k) {
    const Node& n = g.nodes[k];
    os << "  v" << k << " = " << n.op << "(";
    for (std::size_t a = 0; a < n.args.size(); ++a) {
      os << (a ? ", " : "");
      if (n.guards[a] != kNone) os << guards[n.guards[a]] << "(" << value_name(n.args[a]) << ")";
      else os << value_name(n.args[a]);
    }
    os << ")";
    if (!n.ip.empty()) os << " ip=" << join(n.ip);
    if (!n.dp.empty()) {
      os << " dp=[";
      for (std::size_t i = 0; i < n.dp.size(); ++i) os << (i ? ", " : "") << n.dp[i];
      os << "]";
    }
    if (r && k < r->shapes.size()) os << "  -> " << join(r->shapes[k]);
    os << "\n";
  }
  return os.str();
}

bool close(double a, double b, double tol) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  if (std::isinf(a) || std::isinf(b)) return a == b;
  return std::abs(a - b) <= tol * std::max(1.0, std::abs(b));
}

/// First difference between xgrad's result a and libtorch's b, or "" when they agree.
std::string compare(const Result& a, const Result& b, double tol) {
  auto where = [](int k) { return k < 0 ? std::string("backward") : tag("v", static_cast<std::size_t>(k)); };
  if (!a.error.empty() || !b.error.empty()) {
    if (!a.error.empty() && !b.error.empty() && a.failed_node == b.failed_node) return "";  // both reject
    return "xgrad " + (a.error.empty() ? std::string("ran") : "threw at " + where(a.failed_node) + ": " + a.error) +
           "; libtorch " + (b.error.empty() ? std::string("ran") : "threw at " + where(b.failed_node) + ": " + b.error);
  }
  auto diff = [tol](const std::vector<double>& x, const std::vector<double>& y, const std::string& what) -> std::string {
    if (x.size() != y.size())
      return what + ": " + tag("", x.size()) + " elements (xgrad) vs " + tag("", y.size()) + " (libtorch)";
    for (std::size_t j = 0; j < x.size(); ++j)
      if (!close(x[j], y[j], tol)) {
        char buf[200];
        std::snprintf(buf, sizeof buf, "%s[%zu]: xgrad %.17g, libtorch %.17g", what.c_str(), j, x[j], y[j]);
        return buf;
      }
    return "";
  };
  for (std::size_t k = 0; k < a.shapes.size(); ++k) {
    if (a.shapes[k] != b.shapes[k])
      return tag("v", k) + " shape: xgrad " + join(a.shapes[k]) + ", libtorch " + join(b.shapes[k]);
    if (auto d = diff(a.values[k], b.values[k], tag("v", k) + " value"); !d.empty()) return d;
  }
  for (std::size_t i = 0; i < a.grads.size(); ++i)
    if (auto d = diff(a.grads[i], b.grads[i], tag("x", i) + " grad"); !d.empty()) return d;
  return "";
}

std::string check(const Graph& g) { return compare(eval_xgrad(g), eval_torch(g), tolerance(g)); }

bool finite_and_moderate(const std::vector<double>& v) {
  for (double x : v)
    if (!std::isfinite(x) || std::abs(x) > 1e8) return false;
  return true;
}

/// A random graph for `seed`; its first op is `first_op` (so that every op of the table is
/// generated over consecutive seeds).
Graph generate(std::uint64_t seed, std::size_t first_op, std::map<std::string, int>* rejected) {
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ULL + 1);
  Graph g;
  Result cur;
  Ctx c{g, cur, rng};
  const auto& table = generators();
  const std::int64_t n_inputs = c.irand(1, 3), n_ops = c.irand(2, 6);
  for (std::int64_t i = 0; i < n_inputs; ++i) c.fresh(c.rand_shape(0, 4));
  for (int attempt = 0; static_cast<std::int64_t>(g.nodes.size()) < n_ops && attempt < 60; ++attempt) {
    const auto& [name, gen] = g.nodes.empty() && attempt < 20
                                  ? table[first_op % table.size()]
                                  : table[static_cast<std::size_t>(c.irand(0, static_cast<std::int64_t>(table.size()) - 1))];
    const Graph saved = g;
    Node n;
    bool ok = gen(c, n);
    if (ok) {
      n.op = name;
      g.nodes.push_back(n);
      Result r = eval_xgrad(g);
      ok = r.error.empty() && numel(r.shapes.back()) <= 4096 && finite_and_moderate(r.values.back());
      if (ok) cur = std::move(r);
      else if (rejected && !r.error.empty() && r.failed_node == static_cast<int>(g.nodes.size()) - 1) ++(*rejected)[name + ": " + r.error];
    }
    if (!ok) g = saved;
  }
  return g;
}

/// g without node k and every node that depends on it; unused inputs dropped.
Graph remove_node(const Graph& g, std::size_t k) {
  std::vector<bool> dead(g.nodes.size(), false);
  dead[k] = true;
  for (std::size_t j = k + 1; j < g.nodes.size(); ++j)
    for (int a : g.nodes[j].args)
      if (a < 0 && dead[node_of(a)]) dead[j] = true;
  Graph out;
  std::vector<int> node_map(g.nodes.size(), 0), used_inputs(g.inputs.size(), 0);
  for (std::size_t j = 0; j < g.nodes.size(); ++j)
    if (!dead[j])
      for (int a : g.nodes[j].args)
        if (a >= 0) used_inputs[static_cast<std::size_t>(a)] = 1;
  std::vector<int> input_map(g.inputs.size(), -1);
  for (std::size_t i = 0; i < g.inputs.size(); ++i)
    if (used_inputs[i]) {
      input_map[i] = static_cast<int>(out.inputs.size());
      out.inputs.push_back(g.inputs[i]);
    }
  for (std::size_t j = 0; j < g.nodes.size(); ++j) {
    if (dead[j]) continue;
    Node n = g.nodes[j];
    for (int& a : n.args) a = a >= 0 ? input_map[static_cast<std::size_t>(a)] : node_map[node_of(a)];
    node_map[j] = node_id(out.nodes.size());
    out.nodes.push_back(n);
  }
  return out;
}

/// g with node k replaced by its first arg where its consumers use it (same shape), or g
/// itself when it cannot be bypassed.
Graph bypass_node(const Graph& g, std::size_t k, const Result& r) {
  const Node& n = g.nodes[k];
  const int src = n.args[0];
  const Shape src_shape = src >= 0 ? g.inputs[static_cast<std::size_t>(src)].view_shape : r.shapes[node_of(src)];
  if (src_shape != r.shapes[k] || n.guards[0] != kNone) return g;
  Graph h = g;
  for (std::size_t j = k + 1; j < h.nodes.size(); ++j)
    for (int& a : h.nodes[j].args)
      if (a == node_id(k)) a = src;
  // node k is now a sink: drop it (and only it, nothing depends on it any more)
  return remove_node(h, k);
}

/// The loss (sum over the sinks of node * sink_weight) from a result's node values.
double loss_of(const Graph& g, const Result& r) {
  double l = 0;
  for (int s : sinks(g)) {
    const auto& v = r.values[static_cast<std::size_t>(s)];
    for (std::size_t j = 0; j < v.size(); ++j) l += v[j] * sink_weight(static_cast<std::size_t>(s), static_cast<std::int64_t>(j));
  }
  return l;
}

/// For the first input gradient element where the two sides differ: a central finite
/// difference of the loss (forward values of both frameworks, step 1e-6), to tell which side
/// is right. "" when the mismatch is not in a gradient.
std::string arbitrate(const Graph& g) {
  const Result a = eval_xgrad(g), b = eval_torch(g);
  if (!a.error.empty() || !b.error.empty() || a.grads.size() != b.grads.size()) return "";
  const double tol = tolerance(g);
  for (std::size_t i = 0; i < a.grads.size(); ++i)
    for (std::size_t j = 0; j < a.grads[i].size() && j < b.grads[i].size(); ++j) {
      if (close(a.grads[i][j], b.grads[i][j], tol)) continue;
      const double h = 1e-6;
      Graph p = g, m = g;
      p.inputs[i].values[j] += h;
      m.inputs[i].values[j] -= h;
      const Result px = eval_xgrad(p), mx = eval_xgrad(m), pt = eval_torch(p), mt = eval_torch(m);
      if (!px.error.empty() || !mx.error.empty() || !pt.error.empty() || !mt.error.empty()) return "";
      const double fx = (loss_of(p, px) - loss_of(m, mx)) / (2 * h), ft = (loss_of(p, pt) - loss_of(m, mt)) / (2 * h);
      const bool x_ok = std::abs(a.grads[i][j] - fx) < std::abs(b.grads[i][j] - fx);
      char buf[300];
      std::snprintf(buf, sizeof buf, "  finite difference of x%zu[%zu] (leaf): %.10g (xgrad forward), %.10g (libtorch forward): closer to %s\n",
                    i, j, fx, ft, x_ok ? "xgrad" : "libtorch");
      return buf;
    }
  return "";
}

Graph minimise(Graph g) {
  for (bool progress = true; progress;) {
    progress = false;
    for (std::size_t k = g.nodes.size(); k-- > 0 && g.nodes.size() > 1;) {
      const Result r = eval_xgrad(g);
      if (r.shapes.size() != g.nodes.size()) break;  // xgrad threw: keep the graph as is
      for (const Graph& h : {bypass_node(g, k, r), remove_node(g, k)}) {
        if (h.nodes.size() < g.nodes.size() && !h.nodes.empty() && !check(h).empty()) {
          g = h;
          progress = true;
          break;
        }
      }
      if (progress) break;
    }
  }
  return g;
}

}  // namespace
}  // namespace xgrad_diff

int main(int argc, char** argv) {
  using namespace xgrad_diff;
  std::uint64_t first = 0, seeds = 200;
  long single = -1;
  bool verbose = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--seeds" && i + 1 < argc) seeds = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--first" && i + 1 < argc) first = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--seed" && i + 1 < argc) single = std::strtol(argv[++i], nullptr, 10);
    else if (a == "--verbose") verbose = true;
    else if (a == "--plant-error" && i + 1 < argc) plant_error(argv[++i]);
    else {
      std::fprintf(stderr, "usage: %s [--seeds N] [--first S] [--seed S] [--verbose] [--plant-error OP]\n", argv[0]);
      return 2;
    }
  }
  if (single >= 0) {
    first = static_cast<std::uint64_t>(single);
    seeds = 1;
    verbose = true;
  }
  const auto t0 = std::chrono::steady_clock::now();
  const auto& table = generators();
  std::map<std::string, int> op_count, rejected;
  std::size_t failures = 0, nodes = 0;
  for (std::uint64_t s = first; s < first + seeds; ++s) {
    const Graph g = generate(s, static_cast<std::size_t>(s), &rejected);
    for (const auto& n : g.nodes) ++op_count[n.op];
    nodes += g.nodes.size();
    const std::string d = check(g);
    if (verbose) {
      const Result rx = eval_xgrad(g);
      std::printf("seed %llu:\n%s%s\n", static_cast<unsigned long long>(s), describe(g, &rx).c_str(),
                  d.empty() ? "  agree" : ("  MISMATCH: " + d).c_str());
    }
    if (d.empty()) continue;
    ++failures;
    const Graph m = minimise(g);
    const Result rx = eval_xgrad(m);
    std::printf("MISMATCH seed %llu (reproduce: differential_test --seed %llu)\n  %s\nminimal graph (%zu of %zu ops):\n%s",
                static_cast<unsigned long long>(s), static_cast<unsigned long long>(s), check(m).c_str(), m.nodes.size(),
                g.nodes.size(), describe(m, &rx).c_str());
    std::printf("%s", arbitrate(m).c_str());
    for (std::size_t i = 0; i < m.inputs.size(); ++i)
      if (!m.inputs[i].is_index && m.inputs[i].values.size() <= 24) {
        std::printf("  x%zu leaf values:", i);
        for (double v : m.inputs[i].values) std::printf(" %.17g", v);
        std::printf("\n");
      }
  }
  std::size_t covered = 0;
  std::string missing, rarest;
  int fewest = 0;
  for (const auto& [name, gen] : table) {
    if (op_count[name] > 0) ++covered;
    else missing += " " + name;
    if (rarest.empty() || op_count[name] < fewest) {
      rarest = name;
      fewest = op_count[name];
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("differential_test: %llu seeds, %zu ops evaluated, %zu of %zu ops of the table covered, %zu mismatching seeds, %.1f s\n",
              static_cast<unsigned long long>(seeds), nodes, covered, table.size(), failures, secs);
  if (seeds >= table.size()) {
    std::printf("  each op of the table evaluated at least %d times (fewest: %s)\n", fewest, rarest.c_str());
    if (!missing.empty()) std::printf("  ops never generated:%s\n", missing.c_str());
  }
  if (verbose || std::getenv("XGRAD_DIFF_STATS")) {
    for (const auto& [name, n] : op_count)
      if (n > 0) std::printf("  %-22s %d\n", name.c_str(), n);
    for (const auto& [what, n] : rejected) std::printf("  rejected by xgrad (%d): %s\n", n, what.c_str());
  }
  return failures == 0 ? 0 : 1;
}
