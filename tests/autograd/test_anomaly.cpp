// Anomaly mode (DetectAnomalyGuard): a model whose loss goes NaN (log of a negative value)
// fails in backward with an error that names the node and the line of this file that
// created it; the rule that picks that frame, on made-up frames; the fallbacks.
// This file is compiled with -g1 (tests/CMakeLists.txt): file:line needs line tables.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "test_util.hpp"

using namespace xgrad;
using detail::SourceFrame;

BOOST_AUTO_TEST_SUITE(anomaly)

BOOST_AUTO_TEST_CASE(names_the_line_that_created_the_failing_node) {
  nn::Linear model(3, 1);
  {
    NoGradGuard ng;
    model.weight.fill_(-1.0);
    model.bias.fill_(0.5);
  }
  const Tensor x = ones({4, 3});
  DetectAnomalyGuard guard;
  const Tensor logp = log(model(x));  // log(-2.5) = NaN
  const int line = __LINE__ + 1;      // the next line creates the node that fails
  const Tensor squared = logp * logp;
  const Tensor loss = squared.mean();
  BOOST_CHECK(std::isnan(loss.item<float>()));
  // MeanBackward passes 1/4 on; MulBackward multiplies it by logp = NaN.
  std::string message;
  try {
    loss.backward();
  } catch (const Error& e) {
    message = e.what();
  }
  BOOST_TEST_MESSAGE(message);
  for (const std::string& part :
       {std::string("anomaly detected: MulBackward returned NaN or Inf values in its gradient #0 (shape [4, 1]); the "
                    "node was created by forward op #"),
        " at tests/autograd/test_anomaly.cpp:" + std::to_string(line) + " (in ",
        std::string("names_the_line_that_created_the_failing_node")})
    BOOST_CHECK_MESSAGE(message.find(part) != std::string::npos, "message '" << message << "' lacks '" << part << "'");
}

BOOST_AUTO_TEST_CASE(nodes_recorded_before_the_guard_have_no_site) {
  Tensor x = tensor({0.0}, dtype(float64).requires_grad());
  Tensor y = x.sqrt().sum();  // d sqrt(x)/dx = inf at 0
  DetectAnomalyGuard guard;
  XGRAD_CHECK_THROW_MSG(y.backward(),
                        "SqrtBackward returned NaN or Inf values in its gradient #0 (shape [1]); the "
                        "node was created by an op recorded before anomaly mode");
}

BOOST_AUTO_TEST_CASE(unresolvable_frames_give_no_site) {
  BOOST_CHECK_EQUAL(detail::resolve_creation_site({}), "");
  BOOST_CHECK_EQUAL(detail::resolve_creation_site({nullptr}), "");
  // An address inside xgrad's own code: no line info (Release library) or a library file.
  void* library = reinterpret_cast<void*>(reinterpret_cast<std::uintptr_t>(&detail::pick_creation_site) + 1);
  BOOST_CHECK_EQUAL(detail::resolve_creation_site({library}), "");
}

BOOST_AUTO_TEST_CASE(picks_the_first_frame_outside_xgrad_and_the_system) {
  const std::string src = "/home/me/xgrad";
  const std::vector<SourceFrame> library = {
      {"??", 0, "??"},
      {"/home/me/xgrad/autograd/src/node.cpp", 25, "xgrad::Node::Node()"},
      {"/home/me/xgrad/autograd/include/xgrad/autograd/tensor.hpp", 180, "xgrad::Tensor::mul"},
      {"/usr/include/c++/12/bits/shared_ptr.h", 1007, "std::make_shared<xgrad::FunctionNode>"},
      {"/opt/xgrad/include/xgrad/nn/linear.hpp", 60, "xgrad::nn::Linear::forward"},  // installed headers
      {"/home/me/xgrad/nn/src/linear.cpp", 40, "xgrad::nn::Linear::forward"},
      {"/home/me/xgrad/optim/src/adam.cpp", 1, "f"},
      {"/home/me/xgrad/data/src/loader.cpp", 1, "f"},
      {"/home/me/xgrad/explain/src/cam.cpp", 1, "f"},
      {"/home/me/xgrad/distributed/src/ddp.cpp", 1, "f"},
      {"/home/me/xgrad/include/xgrad/xgrad.hpp", 1, "f"},
      {"/home/me/app/train.cpp", 0, "train()"},  // no line: skipped
  };
  BOOST_CHECK_EQUAL(detail::pick_creation_site(library, src), "");

  auto with = [&](SourceFrame f) {
    auto frames = library;
    frames.push_back(std::move(f));
    frames.push_back({"/home/me/app/main.cpp", 3, "main"});  // an outer caller: never reached
    return detail::pick_creation_site(frames, src);
  };
  BOOST_CHECK_EQUAL(with({"/home/me/app/train.cpp", 42, "train_step(int)"}),
                    "/home/me/app/train.cpp:42 (in train_step(int))");
  // Inside the source tree but not a library folder: made relative.
  BOOST_CHECK_EQUAL(with({"/home/me/xgrad/tests/autograd/test_x.cpp", 7, "t::test_method()"}),
                    "tests/autograd/test_x.cpp:7 (in t::test_method())");
  BOOST_CHECK_EQUAL(with({"/home/me/xgrad/tutorials/03.cpp", 9, "??"}), "tutorials/03.cpp:9");
  // Only whole path components count: /home/me/xgrad2 is not the source tree.
  BOOST_CHECK_EQUAL(with({"/home/me/xgrad2/autograd/x.cpp", 1, "g()"}), "/home/me/xgrad2/autograd/x.cpp:1 (in g())");
  BOOST_CHECK_EQUAL(detail::pick_creation_site({{"/home/me/xgrad/tests/a.cpp", 5, "h()"}}, src + "/"),
                    "tests/a.cpp:5 (in h())");
  // Unknown source directory: only system files and installed xgrad headers are skipped.
  BOOST_CHECK_EQUAL(detail::pick_creation_site(library, ""),
                    "/home/me/xgrad/autograd/src/node.cpp:25 (in xgrad::Node::Node())");
  const std::string long_name(300, 'f');
  BOOST_CHECK_EQUAL(with({"/a.cpp", 1, long_name}), "/a.cpp:1 (in " + long_name.substr(0, 160) + "...)");
}

BOOST_AUTO_TEST_SUITE_END()
