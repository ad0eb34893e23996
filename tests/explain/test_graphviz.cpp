// autograd::to_dot / to_png (autograd/graphviz.hpp): the exact DOT text of a tiny graph, node
// and edge counts of a module's graph with parameter names, shared inputs, leaves as roots,
// determinism, and the errors.
#include <algorithm>
#include <filesystem>
#include <map>
#include <regex>

#include "test_util.hpp"
#include "xgrad/autograd/graphviz.hpp"
#include "xgrad/nn/activation.hpp"
#include "xgrad/nn/containers.hpp"
#include "xgrad/nn/linear.hpp"

using namespace xgrad;
using xgrad::autograd::DotOptions;
using xgrad::autograd::to_dot;

namespace {

std::size_t count(const std::string& s, const std::regex& re) {
  return static_cast<std::size_t>(std::distance(std::sregex_iterator(s.begin(), s.end(), re), std::sregex_iterator()));
}
const std::regex node_re(R"(  n\d+ \[label=)");
const std::regex edge_re(R"(  n\d+ -> n\d+;)");

}  // namespace

BOOST_AUTO_TEST_SUITE(autograd_graphviz)

BOOST_AUTO_TEST_CASE(exact_text_of_a_tiny_graph) {
  const Tensor x = tensor({1.0, 2.0, 3.0});  // no grad: no edge from Mul to x
  Tensor w = tensor({0.5, -1.0, 2.0});
  w.requires_grad_(true);
  Tensor b = tensor({0.1, 0.2, 0.3});
  b.requires_grad_(true);
  const Tensor y = (x * w + b).tanh().sum();
  const std::map<std::string, Tensor> params{{"w", w}, {"b", b}};
  const std::string dot = to_dot(y, DotOptions().names({params.begin(), params.end()}));
  BOOST_TEST_MESSAGE(dot);
  BOOST_CHECK_EQUAL(dot,
                    "digraph xgrad {\n"
                    "  n0 [label=\"SumBackward\\n[] float32\", shape=box];\n"
                    "  n1 [label=\"TanhBackward\\n[3] float32\", shape=box];\n"
                    "  n2 [label=\"AddBackward\\n[3] float32\", shape=box];\n"
                    "  n3 [label=\"MulBackward\\n[3] float32\", shape=box];\n"
                    "  n4 [label=\"w\\n[3] float32\", shape=ellipse];\n"
                    "  n5 [label=\"b\\n[3] float32\", shape=ellipse];\n"
                    "  n1 -> n0;\n"
                    "  n2 -> n1;\n"
                    "  n3 -> n2;\n"
                    "  n5 -> n2;\n"
                    "  n4 -> n3;\n"
                    "}\n");
  // Without names the leaves are "AccumulateGrad"; the text is the same on every call.
  const std::string plain = to_dot(y);
  BOOST_CHECK(plain.find("n4 [label=\"AccumulateGrad\\n[3] float32\", shape=ellipse];") != std::string::npos);
  BOOST_CHECK_EQUAL(plain, to_dot(y));
}

BOOST_AUTO_TEST_CASE(module_graph_counts_and_names) {
  manual_seed(0);
  auto m = std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(3, 4), std::make_shared<nn::Tanh>(),
                                            std::make_shared<nn::Linear>(4, 2));
  const Tensor loss = (*m)(randn({5, 3})).pow(2.0).mean();
  const std::string dot = to_dot(loss, DotOptions().names(m->named_parameters()).graph_name("mlp"));
  BOOST_TEST_MESSAGE(dot);
  BOOST_CHECK(dot.rfind("digraph mlp {\n", 0) == 0);
  for (const auto& [name, p] : m->named_parameters())
    BOOST_CHECK_MESSAGE(dot.find("[label=\"" + name + "\\n") != std::string::npos, name << " missing");
  BOOST_CHECK(dot.find("\"0.weight\\n[4, 3] float32\"") != std::string::npos);
  // Every node but the root has at least one outgoing edge; 4 named leaves.
  const std::size_t nodes = count(dot, node_re), edges = count(dot, edge_re);
  BOOST_CHECK_EQUAL(count(dot, std::regex("shape=ellipse")), 4u);
  BOOST_CHECK_GE(edges, nodes - 1);
  BOOST_CHECK(loss.grad_fn() != nullptr);
}

BOOST_AUTO_TEST_CASE(shared_inputs_and_leaf_roots) {
  Tensor a = tensor({1.0, 2.0});
  a.requires_grad_(true);
  // a * a: one Mul node, two edges from the one leaf (one per input slot).
  const std::string dot = to_dot((a * a).sum());
  BOOST_CHECK_EQUAL(count(dot, node_re), 3u);
  BOOST_CHECK_EQUAL(count(dot, edge_re), 3u);
  BOOST_CHECK_EQUAL(count(dot, std::regex("n2 -> n1;")), 2u);
  // A leaf that requires grad is a graph of one node.
  BOOST_CHECK_EQUAL(to_dot(a), "digraph xgrad {\n  n0 [label=\"AccumulateGrad\\n[2] float32\", shape=ellipse];\n}\n");
  // The graph can be drawn after backward freed it.
  Tensor y = (a.exp() * 2.0).sum();
  y.backward();
  BOOST_CHECK_EQUAL(count(to_dot(y), node_re), 4u);
}

BOOST_AUTO_TEST_CASE(png_and_errors) {
  Tensor a = tensor({1.0});
  a.requires_grad_(true);
  const std::string dot = to_dot(a.exp());
  const auto path = (std::filesystem::temp_directory_path() / "xgrad_test_graphviz.png").string();
  const bool has_dot = std::system("command -v dot >/dev/null 2>&1") == 0;
  BOOST_CHECK_EQUAL(autograd::to_png(dot, path), has_dot);
  if (has_dot) {
    BOOST_CHECK(std::filesystem::file_size(path) > 0);
    std::filesystem::remove(path);
  }
  XGRAD_CHECK_THROW_MSG(to_dot(tensor({1.0, 2.0})), "to_dot: Tensor(shape=[2], dtype=float32) does not require grad");
  XGRAD_CHECK_THROW_MSG(to_dot(Tensor()), "to_dot: the tensor is undefined");
}

BOOST_AUTO_TEST_SUITE_END()
