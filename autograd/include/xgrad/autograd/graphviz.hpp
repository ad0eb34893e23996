// The backward graph as Graphviz DOT text (like torchviz's make_dot), and PNG rendering
// through the `dot` program when it is installed.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "xgrad/autograd/options.hpp"
#include "xgrad/autograd/tensor.hpp"

namespace xgrad::autograd {

/// Options of to_dot.
struct DotOptions {
  /// Names of leaves, e.g. a module's named_parameters() (a std::map converts with
  /// {map.begin(), map.end()}); matched by tensor identity.
  using Names = std::vector<std::pair<std::string, Tensor>>;
#define XGRAD_AUTOGRAD_FIELDS(X)                  \
  X(Names, names, Names(), ::xgrad::options::any) \
  X(std::string, graph_name, "xgrad", ::xgrad::options::any)
  XGRAD_OPTIONS(DotOptions, XGRAD_AUTOGRAD_FIELDS)
#undef XGRAD_AUTOGRAD_FIELDS
};

/// The graph that backward from `root` would walk, as a DOT digraph: one node per grad_fn
/// reachable from root's grad_fn (or root's leaf accumulator when root is a leaf that
/// requires grad), each listed once:
///  * an op node (shape=box) labelled "<grad_fn name>\n<shape> <dtype>" with one such line per
///    forward output (e.g. "MulBackward\n[2, 3] float32");
///  * a leaf (AccumulateGrad; shape=ellipse) labelled "<name>\n<shape> <dtype>" with its
///    name from options.names, or "AccumulateGrad\n<shape> <dtype>" when unnamed.
/// Edges go from an input's node to the node that consumes it ("n3 -> n1;"), one per input
/// slot (x * x gives two). Node ids n0, n1, ... are assigned depth first from the root
/// (n0), following each node's inputs in order; nodes are written in id order, then the
/// edges of each node in id order and input order, so the text is the same on every run.
/// The walk is iterative (no recursion). The graph is not modified (a graph freed by an
/// earlier backward is still drawn). Throws xgrad::Error when root is undefined or does not
/// require grad (there is no graph).
std::string to_dot(const Tensor& root, const DotOptions& options = {});

/// Renders DOT text to a PNG file with `dot -Tpng -o path`. Returns false, without throwing,
/// when the `dot` program is not installed or fails; true when the file was written.
bool to_png(const std::string& dot_text, const std::string& path);

}  // namespace xgrad::autograd
