// The op profiler (profiler.hpp): counts, times, FLOPs, bytes, shapes, threads, the table and
// the Chrome trace.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "profiler_table.hpp"
#include "test_util.hpp"

using namespace xgrad;
using xgrad::profiler::Event;
using xgrad::profiler::EventKind;
using xgrad::profiler::Profiler;
using xgrad::profiler::ProfilerOptions;

namespace {

Tensor leaf(const Shape& s) { return randn(s, TensorOptions().requires_grad()); }

// "name=count ..." of the events of `kind` at depth 0 (the calls the test itself made).
std::string top_level(const std::vector<Event>& events, EventKind kind) {
  std::map<std::string, int> counts;
  for (const Event& e : events)
    if (e.kind == kind && e.depth == 0) ++counts[e.name];
  std::string out;
  for (const auto& [name, n] : counts) out += name + "=" + std::to_string(n) + " ";
  return out;
}

std::vector<const Event*> named(const std::vector<Event>& events, const std::string& name) {
  std::vector<const Event*> out;
  for (const Event& e : events)
    if (e.name == name) out.push_back(&e);
  return out;
}

using TableRow = xgrad::test::ProfilerTableRow;
std::vector<TableRow> parse_table(const std::string& text) { return xgrad::test::parse_profiler_table(text); }

}  // namespace

BOOST_AUTO_TEST_SUITE(profiler_suite)

BOOST_AUTO_TEST_CASE(counts_equal_the_ops_run) {
  // Every tensor is used once, so the engine sums no gradients of its own.
  Tensor x = leaf({4, 4}), w1 = leaf({4, 4}), w2 = leaf({4, 3});
  Profiler prof;
  Tensor e = x.exp();
  e = exp(e);
  e = e.exp();
  Tensor m = matmul(matmul(e, w1), w2);
  Tensor s = m.sum();
  s.backward();
  prof.stop();
  const auto& events = prof.events();
  BOOST_CHECK_EQUAL(top_level(events, EventKind::forward), "exp=3 matmul=2 sum=1 ");
  // One backward event per node: the 6 op nodes and one AccumulateGrad per leaf.
  BOOST_CHECK_EQUAL(top_level(events, EventKind::backward),
                    "AccumulateGrad=3 ExpBackward=3 MatmulBackward=2 SumBackward=1 ");
  for (const Event& e2 : events)
    if (e2.kind == EventKind::backward) BOOST_CHECK_EQUAL(e2.depth, 0);
  // Ops a backward calls are nested in it.
  for (const Event& e2 : events)
    if (e2.parent >= 0 && events[static_cast<std::size_t>(e2.parent)].kind == EventKind::backward)
      BOOST_CHECK(e2.kind == EventKind::forward);
}

BOOST_AUTO_TEST_CASE(nothing_recorded_without_a_profiler) {
  Tensor x = leaf({3});
  BOOST_CHECK(!detail::profiler_active());
  x.exp().sum().backward();  // before: not recorded
  {
    Profiler prof;
    BOOST_CHECK(detail::profiler_active());
    prof.stop();
    BOOST_CHECK(!detail::profiler_active());
    x.exp().sum().backward();  // after stop: not recorded
    BOOST_CHECK(prof.events().empty());
  }
  Profiler again;  // the first one is gone: a new one may start, and sees only its own ops
  (void)x.sin();
  again.stop();
  BOOST_CHECK_EQUAL(again.events().size(), 1u);
  BOOST_CHECK_EQUAL(again.events()[0].name, "sin");
}

BOOST_AUTO_TEST_CASE(one_profiler_at_a_time) {
  Profiler first;
  XGRAD_CHECK_THROW_MSG(Profiler(), "another Profiler is already recording");
  XGRAD_CHECK_THROW_MSG(first.events(), "still recording");
  XGRAD_CHECK_THROW_MSG(first.table(), "still recording");
  first.stop();
  first.stop();  // idempotent
  Profiler second;
  BOOST_CHECK(second.recording());
}

BOOST_AUTO_TEST_CASE(flops_of_products) {
  const std::int64_t M = 3, K = 5, N = 7, B = 2;
  Tensor a = randn({M, K}), b = randn({K, N}), ba = randn({B, M, K}), bb = randn({B, K, N}), c = randn({M, N});
  Profiler prof;
  (void)mm(a, b);
  (void)matmul(ba, bb);
  (void)bmm(ba, bb);
  (void)addmm(c, a, b);
  prof.stop();
  const auto& ev = prof.events();
  BOOST_CHECK_EQUAL(named(ev, "matmul").at(0)->flops, 2 * B * M * N * K);
  BOOST_CHECK_EQUAL(named(ev, "bmm").at(0)->flops, 2 * B * M * N * K);
  BOOST_CHECK_EQUAL(named(ev, "addmm").at(0)->flops, 2 * M * N * K);
  // mm: the direct call and the one addmm makes (nested in it).
  const auto mms = named(ev, "mm");
  BOOST_REQUIRE_EQUAL(mms.size(), 2u);
  for (const Event* e : mms) BOOST_CHECK_EQUAL(e->flops, 2 * M * N * K);
  BOOST_CHECK_EQUAL(named(ev, "add").empty() ? 0 : named(ev, "add").at(0)->flops, 0);  // not counted

  Profiler off(ProfilerOptions().with_flops(false));
  (void)mm(a, b);
  off.stop();
  BOOST_CHECK_EQUAL(off.events().at(0).flops, 0);
}

BOOST_AUTO_TEST_CASE(bytes_allocated) {
  const std::int64_t n = 256;
  Tensor x = randn({n, n});
  const auto bytes = static_cast<std::int64_t>(n * n * sizeof(float));
  {
    Profiler prof;
    (void)x.exp();
    prof.stop();
    BOOST_CHECK_GE(named(prof.events(), "exp").at(0)->bytes_allocated, bytes);
  }
  Profiler off(ProfilerOptions().profile_memory(false));
  (void)x.exp();
  off.stop();
  BOOST_CHECK_EQUAL(named(off.events(), "exp").at(0)->bytes_allocated, 0);
}

BOOST_AUTO_TEST_CASE(shapes_and_modules) {
  Tensor x = leaf({2, 3}), y = leaf({3});
  {
    Profiler prof;
    profiler::push_module("block");
    BOOST_CHECK_EQUAL(profiler::current_module(), "block");
    Tensor z = x * y;
    profiler::pop_module();
    BOOST_CHECK_EQUAL(profiler::current_module(), "");
    z.sum().backward();
    prof.stop();
    const Event* mul = named(prof.events(), "mul").at(0);
    BOOST_CHECK(mul->input_shapes == (std::vector<Shape>{{2, 3}, {3}}));
    BOOST_CHECK_EQUAL(mul->module, "block");
    // The node was recorded inside "block": its backward belongs there too, and so do the ops
    // the backward calls.
    const Event* back = named(prof.events(), "MulBackward").at(0);
    BOOST_CHECK_EQUAL(back->module, "block");
    for (const Event& e : prof.events())
      if (e.parent >= 0 && &prof.events()[static_cast<std::size_t>(e.parent)] == back)
        BOOST_CHECK_EQUAL(e.module, "block");
    BOOST_CHECK_EQUAL(named(prof.events(), "sum").at(0)->module, "");
  }
  Profiler no_shapes(ProfilerOptions().record_shapes(false));
  (void)(x * y);
  no_shapes.stop();
  BOOST_CHECK(no_shapes.events().at(0).input_shapes.empty());
}

BOOST_AUTO_TEST_CASE(self_time_and_nesting) {
  Tensor c = randn({16, 16}), a = randn({16, 32}), b = randn({32, 16});
  Profiler prof;
  for (int i = 0; i < 3; ++i) (void)addmm(c, a, b, 0.5, 2.0);
  prof.stop();
  const auto& ev = prof.events();
  for (std::size_t i = 0; i < ev.size(); ++i) {
    const Event& e = ev[i];
    BOOST_CHECK_GE(e.duration_ns, 0);
    BOOST_CHECK_GE(e.self_ns, 0);
    BOOST_CHECK_LE(e.self_ns, e.duration_ns);
    if (e.parent >= 0) {
      const Event& p = ev[static_cast<std::size_t>(e.parent)];
      BOOST_CHECK_LT(static_cast<std::size_t>(e.parent), i);
      BOOST_CHECK_EQUAL(e.depth, p.depth + 1);
      BOOST_CHECK_EQUAL(e.thread_id, p.thread_id);
      BOOST_CHECK_GE(e.start_ns, p.start_ns);
      BOOST_CHECK_LE(e.start_ns + e.duration_ns, p.start_ns + p.duration_ns);
    }
  }
  // addmm computes with mm, mul and add: nested one level down.
  const auto mms = named(ev, "mm");
  BOOST_REQUIRE_EQUAL(mms.size(), 3u);
  for (const Event* e : mms) {
    BOOST_CHECK_EQUAL(e->depth, 1);
    BOOST_CHECK_EQUAL(ev[static_cast<std::size_t>(e->parent)].name, "addmm");
  }
  // Self time of a parent = its total minus its children's totals.
  for (std::size_t i = 0; i < ev.size(); ++i) {
    std::int64_t children = 0;
    for (const Event& e : ev)
      if (e.parent == static_cast<std::int64_t>(i)) children += e.duration_ns;
    BOOST_CHECK_EQUAL(ev[i].self_ns, std::max<std::int64_t>(0, ev[i].duration_ns - children));
  }
}

BOOST_AUTO_TEST_CASE(table_sorted_and_checked) {
  Tensor big = randn({128, 128}), small = randn({4});
  Profiler prof;
  for (int i = 0; i < 3; ++i) (void)mm(big, big);
  (void)small.exp();
  (void)small.sin();
  (void)big.sum();
  prof.stop();
  const auto rows = parse_table(prof.table());
  BOOST_REQUIRE_GE(rows.size(), 4u);
  for (std::size_t i = 1; i < rows.size(); ++i) BOOST_CHECK_GE(rows[i - 1].total_ms, rows[i].total_ms);
  long calls = 0;
  for (const TableRow& r : rows) {
    calls += r.calls;
    BOOST_CHECK_LE(r.self_ms, r.total_ms + 1e-9);
    if (r.name == "mm") BOOST_CHECK_EQUAL(r.calls, 3);
  }
  BOOST_CHECK_EQUAL(calls, static_cast<long>(prof.events().size()));
  const auto by_calls = parse_table(prof.table("calls"));
  BOOST_CHECK_EQUAL(by_calls.at(0).name, "mm");
  BOOST_CHECK_EQUAL(parse_table(prof.table("total", "op", 2)).size(), 2u);
  BOOST_CHECK_EQUAL(parse_table(prof.table("total", "module")).at(0).name, "<none>");
  XGRAD_CHECK_THROW_MSG(prof.table("time"), "unknown sort_by \"time\"");
  XGRAD_CHECK_THROW_MSG(prof.table("total", "layer"), "unknown group_by \"layer\"");
  XGRAD_CHECK_THROW_MSG(prof.table("total", "op", -1), "row_limit must be >= 0, got -1");
}

BOOST_AUTO_TEST_CASE(chrome_trace_parses) {
  Tensor x = leaf({8, 8});
  Profiler prof;
  (void)matmul(x, x).tanh().sum().backward();
  prof.stop();
  const auto path = std::filesystem::temp_directory_path() / "xgrad_test_profiler_trace.json";
  prof.write_chrome_trace(path.string());
  std::ifstream f(path);
  const nlohmann::json trace = nlohmann::json::parse(f);
  std::filesystem::remove(path);
  const auto& list = trace.at("traceEvents");
  std::size_t complete = 0;
  std::multiset<std::string> names, expected;
  for (const auto& e : list) {
    if (e.at("ph") != "X") continue;
    ++complete;
    BOOST_CHECK_GE(e.at("ts").get<double>(), 0.0);
    BOOST_CHECK_GE(e.at("dur").get<double>(), 0.0);
    BOOST_CHECK(e.at("cat") == "forward" || e.at("cat") == "backward");
    BOOST_CHECK(e.at("args").contains("flops"));
    names.insert(e.at("name").get<std::string>());
  }
  for (const Event& e : prof.events()) expected.insert(e.name);
  BOOST_CHECK_EQUAL(complete, prof.events().size());
  BOOST_CHECK(names == expected);
  XGRAD_CHECK_THROW_MSG(prof.write_chrome_trace("/nonexistent-dir/trace.json"), "cannot open");
}

BOOST_AUTO_TEST_CASE(ops_on_other_threads) {
  Tensor x = randn({5});
  Profiler prof;
  (void)x.exp();
  std::thread t([&] { (void)x.exp(); });
  t.join();
  prof.stop();
  const auto exps = named(prof.events(), "exp");
  BOOST_REQUIRE_EQUAL(exps.size(), 2u);
  BOOST_CHECK_NE(exps[0]->thread_id, exps[1]->thread_id);
  // Events are grouped by thread, in start order within one.
  const auto& ev = prof.events();
  for (std::size_t i = 1; i < ev.size(); ++i)
    if (ev[i].thread_id == ev[i - 1].thread_id) BOOST_CHECK_GE(ev[i].start_ns, ev[i - 1].start_ns);
}

BOOST_AUTO_TEST_SUITE_END()
