#include "xgrad/autograd/graphviz.hpp"

#include <cstdio>
#include <cstdlib>
#include <unordered_map>

#include <fmt/format.h>

#include "xgrad/autograd/node.hpp"

namespace xgrad::autograd {

namespace {

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

std::string meta_line(const Shape& shape, Dtype dtype) {
  return fmt::format("[{}] {}", fmt::join(shape, ", "), dtype_name(dtype));
}

}  // namespace

std::string to_dot(const Tensor& root, const DotOptions& options) {
  if (!root.defined()) throw Error("to_dot: the tensor is undefined");
  const Edge start = gradient_edge(root);
  if (!start.valid())
    throw Error(fmt::format("to_dot: {} does not require grad, so it has no backward graph to draw", root.describe()));
  std::unordered_map<const Node*, std::size_t> ids;
  std::vector<const Node*> order;
  std::vector<const Node*> stack{start.fn.get()};
  while (!stack.empty()) {
    const Node* n = stack.back();
    stack.pop_back();
    if (ids.count(n)) continue;
    ids.emplace(n, order.size());
    order.push_back(n);
    // Reverse push: the first input is visited first.
    for (auto it = n->next_edges.rbegin(); it != n->next_edges.rend(); ++it)
      if (it->valid() && !ids.count(it->fn.get())) stack.push_back(it->fn.get());
  }
  std::string out = fmt::format("digraph {} {{\n", options.graph_name());
  for (std::size_t i = 0; i < order.size(); ++i) {
    const Node* n = order[i];
    std::string label;
    const char* shape = "box";
    if (const auto* acc = dynamic_cast<const AccumulateGrad*>(n)) {
      shape = "ellipse";
      const Tensor v(acc->variable);
      label = n->name();
      for (const auto& [name, t] : options.names())
        if (t.defined() && t.impl() == acc->variable) {
          label = name;
          break;
        }
      label += "\n" + meta_line(v.shape(), v.dtype());
    } else {
      label = n->name();
      for (const auto& o : n->outputs) label += "\n" + meta_line(o.shape, o.dtype);
    }
    // DOT escapes: quotes and backslashes, then newlines as \n.
    std::string text;
    for (char c : escape(label)) text += c == '\n' ? std::string("\\n") : std::string(1, c);
    out += fmt::format("  n{} [label=\"{}\", shape={}];\n", i, text, shape);
  }
  for (std::size_t i = 0; i < order.size(); ++i)
    for (const auto& e : order[i]->next_edges)
      if (e.valid()) out += fmt::format("  n{} -> n{};\n", ids.at(e.fn.get()), i);
  out += "}\n";
  return out;
}

bool to_png(const std::string& dot_text, const std::string& path) {
  if (std::system("command -v dot >/dev/null 2>&1") != 0) return false;
  std::string quoted;
  for (char c : path) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  FILE* pipe = popen(fmt::format("dot -Tpng -o '{}' 2>/dev/null", quoted).c_str(), "w");
  if (pipe == nullptr) return false;
  const bool written = std::fwrite(dot_text.data(), 1, dot_text.size(), pipe) == dot_text.size();
  return pclose(pipe) == 0 && written;
}

}  // namespace xgrad::autograd
