// Anomaly mode's creation site. A node records only raw return addresses (node.cpp); they
// are symbolised here, when the engine reports an anomaly: dladdr() finds each frame's
// object file, and one `addr2line` run per object gives file:line, inlined calls expanded.
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "xgrad/autograd/node.hpp"

#ifndef XGRAD_SOURCE_DIR
#define XGRAD_SOURCE_DIR ""
#endif

namespace xgrad::detail {

namespace {

bool is_library_file(std::string_view file, std::string_view source_dir) {
  if (file.starts_with("/usr/") || file.find("/include/xgrad/") != std::string_view::npos) return true;
  if (source_dir.empty() || !file.starts_with(source_dir) || file.size() <= source_dir.size() ||
      file[source_dir.size()] != '/')
    return false;
  const std::string_view rel = file.substr(source_dir.size() + 1);
  for (std::string_view dir : {"autograd/", "nn/", "optim/", "data/", "explain/", "distributed/", "include/"})
    if (rel.starts_with(dir)) return true;
  return false;
}

// The object file that holds `info`'s address, as a path addr2line can open. glibc reports
// the main program as argv[0] (or ""), which is relative or stale after a chdir.
std::string object_path(const Dl_info& info) {
  static const std::string exe = [] {
    std::array<char, 4096> buf{};
    const ssize_t n = readlink("/proc/self/exe", buf.data(), buf.size() - 1);
    return n > 0 ? std::string(buf.data(), static_cast<std::size_t>(n)) : std::string();
  }();
  const std::string_view name = info.dli_fname ? info.dli_fname : "";
  if (name.empty() || name == program_invocation_name) return exe;
  return std::string(name);
}

// "'path'" for sh, whatever the path contains.
std::string shell_quote(std::string_view s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

struct Lookup {
  std::size_t frame;    // index into the backtrace
  std::uintptr_t addr;  // address as addr2line wants it
};

// Runs addr2line once for the addresses of one object and appends what it says to
// out[frame] (innermost inlined call first). Nothing on any failure.
void run_addr2line(const std::string& object, const std::vector<Lookup>& lookups,
                   std::vector<std::vector<SourceFrame>>& out) {
  // System libraries are never the user's call, and their separate debug info (libc6-dbg)
  // would name glibc's sources.
  if (object.empty() || object.starts_with("/lib") || object.starts_with("/usr/lib") ||
      access(object.c_str(), R_OK) != 0)
    return;
  // -a prints each address before its (function, file:line) pairs, so that the pairs of
  // inlined calls (-i) can be told apart from the next address.
  std::string cmd = "addr2line -C -f -i -a -e " + shell_quote(object);
  for (const Lookup& l : lookups) cmd += fmt::format(" {:#x}", l.addr);
  cmd += " 2>/dev/null";
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) return;
  constexpr std::size_t kMaxOutput = 256 * 1024;  // a runaway tool is cut off (pclose ends it)
  std::size_t total = 0;
  std::ptrdiff_t group = -1;
  bool want_function = true;
  std::string function;
  std::array<char, 4096> buf{};
  while (total < kMaxOutput && std::fgets(buf.data(), static_cast<int>(buf.size()), pipe) != nullptr) {
    std::string line(buf.data());
    total += line.size();
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    if (want_function && line.starts_with("0x")) {
      ++group;
      continue;
    }
    if (group < 0 || static_cast<std::size_t>(group) >= lookups.size()) continue;
    if (want_function) {
      function = line;
      want_function = false;
      continue;
    }
    want_function = true;
    // "file:line", "file:line (discriminator 2)", "??:0" or "??:?".
    if (const auto d = line.find(" (discriminator"); d != std::string::npos) line.resize(d);
    const auto colon = line.rfind(':');
    if (colon == std::string::npos) continue;
    SourceFrame f;
    f.file = line.substr(0, colon);
    const std::string number = line.substr(colon + 1);
    if (!number.empty() && number.find_first_not_of("0123456789") == std::string::npos && number.size() < 10)
      f.line = static_cast<unsigned>(std::stoul(number));
    f.function = function;
    out[lookups[static_cast<std::size_t>(group)].frame].push_back(std::move(f));
  }
  pclose(pipe);
}

}  // namespace

std::string pick_creation_site(const std::vector<SourceFrame>& frames, std::string_view source_dir) {
  while (!source_dir.empty() && source_dir.back() == '/') source_dir.remove_suffix(1);
  for (const SourceFrame& f : frames) {
    if (f.line == 0 || f.file.empty() || f.file.starts_with("??") || is_library_file(f.file, source_dir)) continue;
    std::string_view file = f.file;
    if (!source_dir.empty() && file.starts_with(source_dir) && file.size() > source_dir.size() + 1 &&
        file[source_dir.size()] == '/')
      file.remove_prefix(source_dir.size() + 1);
    std::string_view function = f.function;
    if (function.empty() || function.starts_with("??")) return fmt::format("{}:{}", file, f.line);
    constexpr std::size_t kMaxFunction = 160;  // template signatures get long
    if (function.size() > kMaxFunction)
      return fmt::format("{}:{} (in {}...)", file, f.line, function.substr(0, kMaxFunction));
    return fmt::format("{}:{} (in {})", file, f.line, function);
  }
  return {};
}

std::string resolve_creation_site(const std::vector<void*>& frames) {
  try {
    std::map<std::string, std::vector<Lookup>> by_object;
    for (std::size_t i = 0; i < frames.size(); ++i) {
      const auto ret = reinterpret_cast<std::uintptr_t>(frames[i]);
      if (ret == 0) continue;
      const std::uintptr_t pc = ret - 1;  // a return address: step back into the call instruction
      Dl_info info{};
      if (dladdr(reinterpret_cast<void*>(pc), &info) == 0 || info.dli_fbase == nullptr) continue;
      // The ELF header is mapped at the object's base. A non-PIE executable (ET_EXEC) is
      // linked at its run address; PIE executables and shared objects at 0.
      const auto* header = static_cast<const ElfW(Ehdr)*>(info.dli_fbase);
      const auto base = reinterpret_cast<std::uintptr_t>(info.dli_fbase);
      by_object[object_path(info)].push_back({i, header->e_type == ET_EXEC ? pc : pc - base});
    }
    std::vector<std::vector<SourceFrame>> resolved(frames.size());
    for (const auto& [object, lookups] : by_object) run_addr2line(object, lookups, resolved);
    std::vector<SourceFrame> flat;
    for (auto& r : resolved)
      for (auto& f : r) flat.push_back(std::move(f));
    return pick_creation_site(flat, XGRAD_SOURCE_DIR);
  } catch (...) {
    return {};
  }
}

}  // namespace xgrad::detail
