#include "xgrad/autograd/profiler.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "profiler_hooks.hpp"
#include "xgrad/autograd/node.hpp"

namespace xgrad::detail {
std::atomic<bool> g_profiler_active{false};
}  // namespace xgrad::detail

namespace xgrad::profiler {

namespace {

using Clock = std::chrono::steady_clock;

std::int64_t clock_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

// An event while it is recorded; forward events keep the op's literal, backward ones a copy of
// the node's name.
struct Raw {
  const char* literal = nullptr;
  std::string name;
  EventKind kind = EventKind::forward;
  std::int64_t start_ns = 0;
  std::int64_t end_ns = -1;  // -1: still open
  std::int64_t child_ns = 0;
  int depth = 0;
  std::int64_t parent = -1;  // index in the same buffer
  std::int64_t flops = 0;
  std::uint64_t bytes_begin = 0;
  std::int64_t bytes = 0;
  std::string module;
  std::vector<Shape> shapes;
};

// One per thread that ever recorded; the registry keeps it after the thread ends so that its
// events reach stop(). `generation` tags the session its events belong to.
struct ThreadBuffer {
  std::mutex mutex;
  std::uint64_t tid = 0;
  std::uint64_t generation = 0;
  bool alive = true;
  std::deque<Raw> events;  // a deque: no copying of the whole buffer as it grows
  std::vector<std::int64_t> open;  // indices of the open events, innermost last
};

struct State {
  std::mutex mutex;  // buffers, node_modules, owned, next_tid, next_generation
  std::vector<std::shared_ptr<ThreadBuffer>> buffers;
  std::unordered_map<const Node*, std::string> node_modules;
  bool owned = false;
  std::uint64_t next_tid = 1;
  std::uint64_t next_generation = 1;
  std::atomic<std::uint64_t> generation{0};  // the recording session; 0: none
  std::atomic<std::int64_t> start_ns{0};
  std::atomic<bool> record_shapes{false};
  std::atomic<bool> profile_memory{false};
  std::atomic<bool> with_flops{false};
};

// Never destroyed: threads may end (and ops run) after main returns.
State& state() {
  static State* s = new State();
  return *s;
}

struct ThreadSlot {
  std::shared_ptr<ThreadBuffer> buffer;
  std::uint64_t bytes = 0;  // allocated by this thread while a profiler was active
  std::vector<std::string> modules;
  ~ThreadSlot() {
    if (!buffer) return;
    std::lock_guard<std::mutex> lock(buffer->mutex);
    buffer->alive = false;
  }
};
thread_local ThreadSlot t_slot;

ThreadBuffer& thread_buffer() {
  if (!t_slot.buffer) {
    auto b = std::make_shared<ThreadBuffer>();
    State& st = state();
    std::lock_guard<std::mutex> lock(st.mutex);
    b->tid = st.next_tid++;
    st.buffers.push_back(b);
    t_slot.buffer = std::move(b);
  }
  return *t_slot.buffer;
}

// Opens `r` in the calling thread's buffer for session `gen`; returns its index, or -1 when
// it is a direct same-name nesting of a forward op (an overload calling another).
std::int64_t open_event(std::uint64_t gen, Raw&& r) {
  ThreadBuffer& b = thread_buffer();
  std::lock_guard<std::mutex> lock(b.mutex);
  if (b.generation != gen) {  // first event of this session on this thread
    b.events.clear();
    b.open.clear();
    b.generation = gen;
  }
  const std::int64_t parent = b.open.empty() ? -1 : b.open.back();
  if (parent >= 0) {
    const Raw& p = b.events[static_cast<std::size_t>(parent)];
    if (r.literal && p.literal && std::strcmp(p.literal, r.literal) == 0) return -1;
  }
  if (r.module.empty()) {
    if (!t_slot.modules.empty())
      r.module = t_slot.modules.back();
    else if (parent >= 0)
      r.module = b.events[static_cast<std::size_t>(parent)].module;
  }
  r.parent = parent;
  r.depth = static_cast<int>(b.open.size());
  r.bytes_begin = t_slot.bytes;
  const auto index = static_cast<std::int64_t>(b.events.size());
  b.events.push_back(std::move(r));
  b.open.push_back(index);
  // The clock last: the bookkeeping above is not the op's time.
  b.events.back().start_ns = clock_ns() - state().start_ns.load(std::memory_order_relaxed);
  return index;
}

// Runs fn(raw) on the calling thread's event `index` of session `gen`, if it is still there.
template <class F>
void with_event(std::int64_t index, std::uint64_t gen, F&& fn) {
  ThreadBuffer* b = t_slot.buffer.get();
  if (!b) return;
  std::lock_guard<std::mutex> lock(b->mutex);
  if (b->generation != gen || index < 0 || static_cast<std::size_t>(index) >= b->events.size()) return;
  fn(*b, b->events[static_cast<std::size_t>(index)]);
}

std::string format_ms(std::int64_t ns) { return fmt::format("{:.3f}", static_cast<double>(ns) / 1e6); }

}  // namespace

// ---- the hooks (profile_scope.hpp, profiler_hooks.hpp) --------------------------------------

}  // namespace xgrad::profiler

namespace xgrad::detail {

using profiler::EventKind;
using profiler::Raw;
using profiler::State;
using profiler::state;
using profiler::t_slot;

void profiler_count_bytes(std::size_t n) noexcept { t_slot.bytes += n; }

bool OpScope::record_shapes() noexcept { return state().record_shapes.load(std::memory_order_relaxed); }

bool OpScope::begin_forward(const char* name) noexcept {
  try {
    const std::uint64_t gen = state().generation.load(std::memory_order_acquire);
    if (gen == 0) return false;
    Raw r;
    r.literal = name;
    r.kind = EventKind::forward;
    index_ = profiler::open_event(gen, std::move(r));
    generation_ = gen;
    return index_ >= 0;
  } catch (...) {  // out of memory for the bookkeeping: the op runs unrecorded
    index_ = -1;
    return false;
  }
}

void OpScope::begin_backward(const Node& node) noexcept {
  try {
    State& st = state();
    const std::uint64_t gen = st.generation.load(std::memory_order_acquire);
    if (gen == 0) return;
    Raw r;
    r.name = node.name();
    r.kind = EventKind::backward;
    {
      std::lock_guard<std::mutex> lock(st.mutex);
      auto it = st.node_modules.find(&node);
      if (it != st.node_modules.end()) r.module = it->second;
    }
    index_ = profiler::open_event(gen, std::move(r));
    generation_ = gen;
  } catch (...) {
    index_ = -1;
  }
}

void OpScope::set_flops(std::int64_t flops) noexcept {
  if (!state().with_flops.load(std::memory_order_relaxed)) return;
  profiler::with_event(index_, generation_, [&](profiler::ThreadBuffer&, Raw& r) { r.flops = flops; });
}

void OpScope::add_shape_raw(const std::int64_t* dims, std::size_t rank) noexcept {
  try {
    profiler::with_event(index_, generation_,
                         [&](profiler::ThreadBuffer&, Raw& r) { r.shapes.emplace_back(dims, dims + rank); });
  } catch (...) {
  }
}

void OpScope::end() noexcept {
  const std::int64_t now = profiler::clock_ns() - state().start_ns.load(std::memory_order_relaxed);
  const bool memory = state().profile_memory.load(std::memory_order_relaxed);
  profiler::with_event(index_, generation_, [&](profiler::ThreadBuffer& b, Raw& r) {
    r.end_ns = std::max(now, r.start_ns);
    r.bytes = memory ? static_cast<std::int64_t>(t_slot.bytes - r.bytes_begin) : 0;
    auto it = std::find(b.open.rbegin(), b.open.rend(), index_);
    if (it != b.open.rend()) b.open.erase(std::next(it).base());
    if (r.parent >= 0) b.events[static_cast<std::size_t>(r.parent)].child_ns += r.end_ns - r.start_ns;
  });
  index_ = -1;
}

void profiler_on_record(const Node& node) {
  if (t_slot.modules.empty()) return;
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mutex);
  if (st.generation.load(std::memory_order_relaxed) != 0) st.node_modules[&node] = t_slot.modules.back();
}

}  // namespace xgrad::detail

namespace xgrad::profiler {

// ---- the module stack ------------------------------------------------------------------------

void push_module(std::string name) { t_slot.modules.push_back(std::move(name)); }
void pop_module() {
  if (!t_slot.modules.empty()) t_slot.modules.pop_back();
}
std::string current_module() { return t_slot.modules.empty() ? std::string() : t_slot.modules.back(); }
std::size_t module_depth() { return t_slot.modules.size(); }
void truncate_modules(std::size_t depth) {
  if (t_slot.modules.size() > depth) t_slot.modules.resize(depth);
}

// ---- Profiler --------------------------------------------------------------------------------

Profiler::Profiler(const ProfilerOptions& options) : options_(options) {
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mutex);
  if (st.owned)
    throw Error(
        "Profiler: another Profiler is already recording (only one may record at a time; stop() or destroy it "
        "first)");
  st.owned = true;
  // Forget the buffers of threads that have ended (their events went to an earlier stop()).
  std::erase_if(st.buffers, [](const std::shared_ptr<ThreadBuffer>& b) {
    std::lock_guard<std::mutex> l(b->mutex);
    return !b->alive;
  });
  st.node_modules.clear();
  st.record_shapes.store(options_.record_shapes_, std::memory_order_relaxed);
  st.profile_memory.store(options_.profile_memory_, std::memory_order_relaxed);
  st.with_flops.store(options_.with_flops_, std::memory_order_relaxed);
  st.start_ns.store(clock_ns(), std::memory_order_relaxed);
  generation_ = st.next_generation++;
  st.generation.store(generation_, std::memory_order_release);
  detail::g_profiler_active.store(true, std::memory_order_release);
  recording_ = true;
}

Profiler::~Profiler() {
  try {
    stop();
  } catch (...) {  // out of memory while collecting: the events are lost, recording still ends
    State& st = state();
    detail::g_profiler_active.store(false, std::memory_order_release);
    st.generation.store(0, std::memory_order_release);
    std::lock_guard<std::mutex> lock(st.mutex);
    st.owned = false;
  }
}

void Profiler::stop() {
  if (!recording_) return;
  State& st = state();
  detail::g_profiler_active.store(false, std::memory_order_release);
  st.generation.store(0, std::memory_order_release);
  std::vector<std::shared_ptr<ThreadBuffer>> buffers;
  {
    std::lock_guard<std::mutex> lock(st.mutex);
    buffers = st.buffers;
  }
  std::sort(buffers.begin(), buffers.end(), [](const auto& a, const auto& b) { return a->tid < b->tid; });
  events_.clear();
  for (const auto& b : buffers) {
    std::deque<Raw> raw;
    {
      std::lock_guard<std::mutex> lock(b->mutex);
      if (b->generation != generation_) continue;
      raw.swap(b->events);
      b->open.clear();
      b->generation = 0;
    }
    // Events still open at stop are dropped; their children lose the parent link.
    std::vector<std::int64_t> global(raw.size(), -1);
    for (std::size_t i = 0; i < raw.size(); ++i) {
      Raw& r = raw[i];
      if (r.end_ns < 0) continue;
      global[i] = static_cast<std::int64_t>(events_.size());
      Event e;
      e.name = r.literal ? std::string(r.literal) : std::move(r.name);
      e.kind = r.kind;
      e.thread_id = b->tid;
      e.start_ns = r.start_ns;
      e.duration_ns = r.end_ns - r.start_ns;
      e.self_ns = std::max<std::int64_t>(0, e.duration_ns - r.child_ns);
      e.depth = r.depth;
      e.parent = r.parent >= 0 ? global[static_cast<std::size_t>(r.parent)] : -1;
      e.flops = r.flops;
      e.bytes_allocated = r.bytes;
      e.module = std::move(r.module);
      e.input_shapes = std::move(r.shapes);
      events_.push_back(std::move(e));
    }
  }
  {
    std::lock_guard<std::mutex> lock(st.mutex);
    st.node_modules.clear();
    st.owned = false;
  }
  recording_ = false;
}

void Profiler::check_stopped(std::string_view what) const {
  if (recording_) throw Error(fmt::format("Profiler::{}: the profiler is still recording; call stop() first", what));
}

const std::vector<Event>& Profiler::events() const {
  check_stopped("events");
  return events_;
}

std::string Profiler::table(std::string_view sort_by, std::string_view group_by, std::int64_t row_limit) const {
  check_stopped("table");
  static constexpr std::string_view kSorts[] = {"total", "self", "calls", "avg", "flops", "bytes"};
  if (std::find(std::begin(kSorts), std::end(kSorts), sort_by) == std::end(kSorts))
    throw Error(fmt::format(
        "Profiler::table: unknown sort_by \"{}\" (expected total, self, calls, avg, flops or bytes)", sort_by));
  if (group_by != "op" && group_by != "module")
    throw Error(fmt::format("Profiler::table: unknown group_by \"{}\" (expected op or module)", group_by));
  if (row_limit < 0) throw Error(fmt::format("Profiler::table: row_limit must be >= 0, got {}", row_limit));
  const bool by_module = group_by == "module";

  struct Row {
    std::string name;
    std::int64_t calls = 0, self_ns = 0, total_ns = 0, flops = 0, bytes = 0;
  };
  std::map<std::string, Row> rows;
  std::int64_t all_self = 0;
  for (std::size_t i = 0; i < events_.size(); ++i) {
    const Event& e = events_[i];
    const std::string key = by_module ? (e.module.empty() ? "<none>" : e.module) : e.name;
    Row& row = rows[key];
    row.name = key;
    ++row.calls;
    row.self_ns += e.self_ns;
    all_self += e.self_ns;
    row.flops += e.flops;
    bool nested_in_same = false;
    if (by_module)
      for (std::int64_t p = e.parent; p >= 0 && !nested_in_same; p = events_[static_cast<std::size_t>(p)].parent)
        nested_in_same = events_[static_cast<std::size_t>(p)].module == e.module;
    if (!nested_in_same) {
      row.total_ns += e.duration_ns;
      row.bytes += e.bytes_allocated;
    }
  }
  std::vector<Row> sorted;
  for (auto& [key, row] : rows) sorted.push_back(std::move(row));
  const auto value = [sort_by](const Row& r) -> double {
    if (sort_by == "self") return static_cast<double>(r.self_ns);
    if (sort_by == "calls") return static_cast<double>(r.calls);
    if (sort_by == "avg") return static_cast<double>(r.total_ns) / static_cast<double>(r.calls);
    if (sort_by == "flops") return static_cast<double>(r.flops);
    if (sort_by == "bytes") return static_cast<double>(r.bytes);
    return static_cast<double>(r.total_ns);
  };
  std::stable_sort(sorted.begin(), sorted.end(), [&](const Row& a, const Row& b) { return value(a) > value(b); });
  if (row_limit > 0 && sorted.size() > static_cast<std::size_t>(row_limit))
    sorted.resize(static_cast<std::size_t>(row_limit));

  std::size_t width = by_module ? 6 : 4;
  for (const Row& r : sorted) width = std::max(width, r.name.size());
  std::string out =
      fmt::format("{:<{}} {:>8} {:>11} {:>11} {:>10} {:>7} {:>10} {:>9} {:>13}\n", by_module ? "Module" : "Name", width,
                  "Calls", "Self ms", "Total ms", "Avg ms", "Self %", "GFLOP", "GFLOP/s", "Bytes alloc");
  out += std::string(width + 88, '-') + "\n";
  for (const Row& r : sorted) {
    const double pct = all_self > 0 ? 100.0 * static_cast<double>(r.self_ns) / static_cast<double>(all_self) : 0.0;
    std::string gflop = "-", rate = "-";
    if (r.flops > 0) {
      gflop = fmt::format("{:.4g}", static_cast<double>(r.flops) / 1e9);
      if (r.total_ns > 0) rate = fmt::format("{:.2f}", static_cast<double>(r.flops) / static_cast<double>(r.total_ns));
    }
    out += fmt::format("{:<{}} {:>8} {:>11} {:>11} {:>10} {:>7.2f} {:>10} {:>9} {:>13}\n", r.name, width, r.calls,
                       format_ms(r.self_ns), format_ms(r.total_ns), format_ms(r.total_ns / r.calls), pct, gflop, rate,
                       r.bytes);
  }
  out += fmt::format("Self time of all events: {} ms ({} events)\n", format_ms(all_self), events_.size());
  return out;
}

void Profiler::write_chrome_trace(const std::string& path) const {
  check_stopped("write_chrome_trace");
  nlohmann::json list = nlohmann::json::array();
  const auto pid = static_cast<std::int64_t>(::getpid());
  for (const Event& e : events_) {
    nlohmann::json shapes = nlohmann::json::array();
    for (const Shape& s : e.input_shapes) shapes.push_back(s);
    list.push_back({{"name", e.name},
                    {"ph", "X"},
                    {"cat", e.kind == EventKind::forward ? "forward" : "backward"},
                    {"ts", static_cast<double>(e.start_ns) / 1e3},
                    {"dur", static_cast<double>(e.duration_ns) / 1e3},
                    {"pid", pid},
                    {"tid", e.thread_id},
                    {"args",
                     {{"flops", e.flops},
                      {"bytes", e.bytes_allocated},
                      {"shapes", std::move(shapes)},
                      {"module", e.module},
                      {"depth", e.depth}}}});
  }
  const nlohmann::json trace = {{"traceEvents", std::move(list)}, {"displayTimeUnit", "ms"}};
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) throw Error(fmt::format("Profiler::write_chrome_trace: cannot open {} for writing", path));
  f << trace.dump();
  f.close();
  if (!f) throw Error(fmt::format("Profiler::write_chrome_trace: writing {} failed", path));
}

}  // namespace xgrad::profiler
