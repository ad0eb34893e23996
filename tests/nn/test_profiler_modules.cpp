// The profiler with nn: module grouping through profile_modules (profiling.hpp) and the FLOPs
// of convolutions and linear layers.
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "profiler_table.hpp"
#include "test_util.hpp"
#include "xgrad/nn/profiling.hpp"

using namespace xgrad;
using xgrad::profiler::Event;
using xgrad::profiler::EventKind;
using xgrad::profiler::Profiler;

namespace {

std::vector<const Event*> named(const std::vector<Event>& events, const std::string& name) {
  std::vector<const Event*> out;
  for (const Event& e : events)
    if (e.name == name) out.push_back(&e);
  return out;
}

// The first column of the table's rows (module labels contain one space: "0 (Linear)").
std::vector<std::string> row_names(const std::string& table) {
  std::vector<std::string> out;
  for (const auto& r : xgrad::test::parse_profiler_table(table)) out.push_back(r.name);
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(profiler_modules)

BOOST_AUTO_TEST_CASE(events_grouped_by_module) {
  manual_seed(0);
  auto net = std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(4, 8), std::make_shared<nn::Linear>(8, 2));
  Tensor x = randn({5, 4});
  Profiler prof;
  {
    auto scope = nn::profile_modules(*net);
    Tensor loss = (*net)(x).sum();
    loss.backward();
    BOOST_CHECK_EQUAL(profiler::module_depth(), 0u);  // every push was popped
  }
  (void)(*net)(x);  // hooks removed: no module any more
  prof.stop();
  const auto& ev = prof.events();
  const auto linears = named(ev, "linear");
  BOOST_REQUIRE_EQUAL(linears.size(), 4u);  // two forwards of two layers
  BOOST_CHECK_EQUAL(linears[0]->module, "0 (Linear)");
  BOOST_CHECK_EQUAL(linears[1]->module, "1 (Linear)");
  BOOST_CHECK_EQUAL(linears[2]->module, "");
  BOOST_CHECK_EQUAL(linears[3]->module, "");
  // The mm inside each linear carries the same module; so does the backward of its node.
  for (const Event& e : ev)
    if (e.name == "mm" && e.parent >= 0 && ev[static_cast<std::size_t>(e.parent)].name == "linear")
      BOOST_CHECK_EQUAL(e.module, ev[static_cast<std::size_t>(e.parent)].module);
  std::map<std::string, int> backward_modules;
  for (const Event& e : ev)
    if (e.kind == EventKind::backward && e.name == "MmBackward") ++backward_modules[e.module];
  BOOST_CHECK_EQUAL(backward_modules["0 (Linear)"], 1);
  BOOST_CHECK_EQUAL(backward_modules["1 (Linear)"], 1);

  BOOST_TEST_MESSAGE(prof.table() << prof.table("total", "module"));  // --log_level=message shows them
  const auto rows = row_names(prof.table("total", "module"));
  for (const char* m : {"0 (Linear)", "1 (Linear)", "<none>"})
    BOOST_CHECK_MESSAGE(std::find(rows.begin(), rows.end(), m) != rows.end(), "no row " << m);
}

BOOST_AUTO_TEST_CASE(module_stack_survives_a_throwing_forward) {
  auto net = std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(4, 8), std::make_shared<nn::Linear>(8, 2));
  {
    auto scope = nn::profile_modules(*net);
    BOOST_CHECK_THROW((*net)(randn({5, 3})), Error);  // wrong in_features
    BOOST_CHECK_GT(profiler::module_depth(), 0u);     // the pops were skipped
  }
  BOOST_CHECK_EQUAL(profiler::module_depth(), 0u);
}

BOOST_AUTO_TEST_CASE(flops_of_conv_and_linear) {
  // conv2d: N=2, Cin=3, Cout=4, 3x3 kernel on 8x8, stride 1, no padding -> 6x6 outputs;
  // FLOPs = 2 * N * Cout * Cin * kh * kw * Ho * Wo = 2 * 2 * 4 * 3 * 3 * 3 * 6 * 6 = 15552.
  Tensor x = randn({2, 3, 8, 8}), w = randn({4, 3, 3, 3}), b = randn({4});
  // grouped: Cin=4 in 2 groups, Cout=6, 1x1 kernel, stride 2 on 5x5 -> 3x3;
  // 2 * N * Cout * (Cin / groups) * 1 * Ho * Wo = 2 * 1 * 6 * 2 * 9 = 216.
  Tensor xg = randn({1, 4, 5, 5}), wg = randn({6, 2, 1, 1});
  // linear: [5, 4] x [4, 8]^T -> 2 * 5 * 8 * 4 = 320.
  Tensor xl = randn({5, 4}), wl = randn({8, 4});
  Profiler prof;
  (void)nn::functional::conv2d(x, w, b);
  (void)nn::functional::conv2d(xg, wg, Tensor(), {2}, nn::ConvPadding(0), {1}, 2);
  (void)nn::functional::linear(xl, wl, Tensor());
  prof.stop();
  const auto convs = named(prof.events(), "conv2d");
  BOOST_REQUIRE_EQUAL(convs.size(), 2u);
  BOOST_CHECK_EQUAL(convs[0]->flops, 15552);
  BOOST_CHECK_EQUAL(convs[1]->flops, 216);
  BOOST_CHECK_EQUAL(named(prof.events(), "linear").at(0)->flops, 320);
}

BOOST_AUTO_TEST_CASE(conv_modules_recorded) {
  // The module path (also with a padding mode, which pads first) records conv2d too.
  nn::Conv2d plain(3, 4, {3, 3});
  nn::Conv2d reflect(nn::Conv2dOptions(3, 4, {3, 3}).padding(1).padding_mode(nn::ConvPaddingMode::reflect));
  Tensor x = randn({1, 3, 6, 6});
  Profiler prof;
  (void)plain.forward(x);
  (void)reflect.forward(x);
  prof.stop();
  const auto convs = named(prof.events(), "conv2d");
  BOOST_REQUIRE_EQUAL(convs.size(), 2u);
  // 2 * N * Cout * Cin * 3 * 3 * Ho * Wo: 4x4 outputs unpadded, 6x6 with padding 1.
  BOOST_CHECK_EQUAL(convs[0]->flops, 2 * 1 * 4 * 3 * 9 * 16);
  BOOST_CHECK_EQUAL(convs[1]->flops, 2 * 1 * 4 * 3 * 9 * 36);
}

BOOST_AUTO_TEST_SUITE_END()
