// Helpers shared by the fuzz targets: the per-process scratch file for readers that take a
// path (fuzz_model.hpp has the model that the state-dict targets load into).
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <fmt/format.h>

#include "xgrad/autograd.hpp"

namespace xgrad::fuzz {

/// Writes the input to this process's scratch file (one per process and target, reused for
/// every input, removed at exit) and returns its path.
inline const std::string& write_scratch(const char* target, const std::uint8_t* data, std::size_t size) {
  struct Scratch {
    std::string path;
    ~Scratch() {
      std::error_code ec;
      std::filesystem::remove(path, ec);
    }
  };
  static const Scratch scratch{
      (std::filesystem::temp_directory_path() / fmt::format("xgrad-fuzz-{}-{}.bin", target, ::getpid())).string()};
  std::FILE* f = std::fopen(scratch.path.c_str(), "wb");
  if (f == nullptr || (size > 0 && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) {
    std::fprintf(stderr, "fuzz: cannot write %s\n", scratch.path.c_str());
    std::abort();
  }
  return scratch.path;
}

}  // namespace xgrad::fuzz
