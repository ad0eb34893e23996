// Reads the rows of profiler::Profiler::table() back, for the profiler tests.
#pragma once

#include <sstream>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

namespace xgrad::test {

struct ProfilerTableRow {
  std::string name;
  long calls = 0;
  double self_ms = 0, total_ms = 0;
};

// Rows between the dashed line and the summary line; a name may contain spaces (module labels
// such as "0 (Linear)"), so the eight numeric columns are read from the right.
inline std::vector<ProfilerTableRow> parse_profiler_table(const std::string& text) {
  std::istringstream in(text);
  std::vector<ProfilerTableRow> rows;
  bool body = false;
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("---")) {
      body = true;
      continue;
    }
    if (!body || line.starts_with("Self time of all events")) continue;
    std::istringstream ls(line);
    std::vector<std::string> f;
    for (std::string w; ls >> w;) f.push_back(w);
    BOOST_REQUIRE_GE(f.size(), 9u);
    const std::size_t n = f.size() - 8;  // name words
    ProfilerTableRow r;
    for (std::size_t i = 0; i < n; ++i) r.name += (i ? " " : "") + f[i];
    r.calls = std::stol(f[n]);
    r.self_ms = std::stod(f[n + 1]);
    r.total_ms = std::stod(f[n + 2]);
    rows.push_back(r);
  }
  return rows;
}

}  // namespace xgrad::test
