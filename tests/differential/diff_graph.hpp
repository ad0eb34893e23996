// Differential testing against libtorch (issue 19): the plain-C++ description of a random op
// graph, shared by the xgrad side (diff_main.cpp, diff_xgrad.cpp: C++20) and the libtorch side
// (diff_torch.cpp: C++17, libtorch 1.13's headers). Nothing here includes either framework.
//
// A graph holds leaves (float64 inputs, some seen through a transposed / strided / expanded
// view, and int64 constants used as indices or class targets) and nodes. A value id i >= 0
// names input i (its view, not its leaf); -1 - k names node k (node_id / node_of).
// Each node applies one op of the table (by name) to its args after an optional per-arg guard
// that maps any real into the op's domain (see Guard). Every node's result is float64. The
// loss is sum over the sink nodes (nodes nobody consumes) of sum(node * sink_weight), so the
// input gradients depend on every node.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace xgrad_diff {

enum Layout : int { kContiguous = 0, kTransposed = 1, kStrided = 2, kExpanded = 3 };

/// A guard applied to an argument before the op, identically on both sides. Algebraic, not
/// tanh / sigmoid: their derivatives at large arguments (1 - y^2) cancel, and the two
/// frameworks' formulas then differ far above 1e-10.
enum Guard : int {
  kNone = 0,
  kPos = 1,    // x^2 + 0.5                      (log, sqrt, div's denominator, lgamma, ...)
  kBound = 2,  // x / sqrt(x^2 / 9 + 1), in (-3, 3)     (exp, cumprod, prod)
  kUnit = 3,   // 0.9 x / sqrt(x^2 + 1), in (-0.9, 0.9) (erfinv)
  kProb = 4,   // 0.5 + 0.45 x / sqrt(x^2 + 1), in (0.05, 0.95) (BCE input/target, KL target)
};

struct Input {
  std::vector<std::int64_t> leaf_shape;  // the stored leaf (gradients are the leaf's)
  int layout = kContiguous;              // how the leaf is seen (float inputs only)
  std::vector<std::int64_t> view_shape;  // the shape ops see
  std::vector<double> values;            // leaf values, row-major (float inputs)
  bool requires_grad = true;             // false: loss targets
  bool is_index = false;                 // an int64 constant (indices, class targets)
  std::vector<std::int64_t> ivalues;     // its values (leaf_shape == view_shape)
};

struct Node {
  std::string op;
  std::vector<int> args;     // value ids
  std::vector<int> guards;   // one per arg (Guard)
  std::vector<std::int64_t> ip;  // integer params (dims, sizes, flags), op-specific
  std::vector<double> dp;        // real params, op-specific
};

struct Graph {
  std::vector<Input> inputs;
  std::vector<Node> nodes;
};

struct Result {
  std::string error;          // non-empty: an exception was thrown (at node `failed_node`,
  int failed_node = -1;       // or -1 for the backward pass)
  std::vector<std::vector<std::int64_t>> shapes;  // per node
  std::vector<std::vector<double>> values;        // per node, row-major
  std::vector<std::vector<double>> grads;         // per input leaf (empty: no gradient)
};

inline int node_id(std::size_t k) { return -1 - static_cast<int>(k); }
inline std::size_t node_of(int id) { return static_cast<std::size_t>(-1 - id); }

/// The weight of element j of sink node k in the loss (deterministic, in [0.55, 1.45]).
inline double sink_weight(std::size_t k, std::int64_t j) {
  return 0.55 + 0.09 * static_cast<double>((j * 7 + static_cast<std::int64_t>(k) * 3) % 11);
}

/// Node ids nobody consumes (they are summed into the loss).
inline std::vector<int> sinks(const Graph& g) {
  std::vector<bool> used(g.nodes.size(), false);
  for (const auto& nd : g.nodes)
    for (int a : nd.args)
      if (a < 0) used[node_of(a)] = true;
  std::vector<int> s;
  for (std::size_t k = 0; k < g.nodes.size(); ++k)
    if (!used[k]) s.push_back(static_cast<int>(k));
  return s;
}

/// The equations of op "einsum" (ip[0] indexes this list).
inline const char* const kEinsum[] = {"ij,jk->ik", "ij->ji", "ii->i",       "bij,bjk->bik", "ij->",
                                      "i,j->ij",   "...ij->...ji", "bij,jk->bik", "ij,ij->i"};

/// Evaluates the graph with libtorch (float64, CPU), forward and backward.
Result eval_torch(const Graph& g);
/// Evaluates the graph with xgrad (diff_xgrad.cpp).
Result eval_xgrad(const Graph& g);
/// Self-test of the harness: from now on xgrad's result of `op` is scaled by (1 + 1e-9), a
/// planted error that the comparison must catch ("" plants nothing).
void plant_error(const std::string& op);

}  // namespace xgrad_diff
