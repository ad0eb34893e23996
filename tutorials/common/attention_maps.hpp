// Attention maps for tutorial 08: printing one head's weights as a text matrix, drawing all
// heads of all layers as one PNG heatmap, and measuring the weight on the anti-diagonal.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "tutorial.hpp"
#include "xgrad/xgrad.hpp"

namespace tutorial {

/// Prints one head's map as percentages: rows are the querying (output) positions, columns
/// the attended input positions, labelled with the example's digits.
inline void print_map(const float* w, const std::vector<std::int64_t>& digits) {
  const auto L = static_cast<std::int64_t>(digits.size());
  fmt::print("      in:");
  for (std::int64_t j = 0; j < L; ++j) fmt::print(" {:>3}", digits[static_cast<std::size_t>(j)]);
  fmt::print("\n");
  for (std::int64_t i = 0; i < L; ++i) {
    fmt::print("  out {:>2}:", i);
    for (std::int64_t j = 0; j < L; ++j) fmt::print(" {:>3.0f}", 100.0f * w[i * L + j]);
    fmt::print("\n");
  }
}

/// All maps in one picture: one row of heads per layer, each L x L map drawn with `cell`-pixel
/// squares (white = weight 0, dark blue = weight 1) and separated by 6-pixel grey gaps.
inline void write_attention_png(const std::string& path, const std::vector<xgrad::Tensor>& maps, std::int64_t L) {
  const int cell = 24, gap = 6, n = static_cast<int>(L);
  const int heads = static_cast<int>(maps.front().size(0)), rows = static_cast<int>(maps.size());
  const int width = heads * n * cell + (heads + 1) * gap, height = rows * n * cell + (rows + 1) * gap;
  std::vector<std::uint8_t> rgb(static_cast<std::size_t>(width) * height * 3, 160);
  for (int l = 0; l < rows; ++l) {
    const float* w = maps[static_cast<std::size_t>(l)].data_ptr<float>();
    for (int h = 0; h < heads; ++h)
      for (int y = 0; y < n * cell; ++y)
        for (int x = 0; x < n * cell; ++x) {
          const float v = std::clamp(w[(h * n + y / cell) * n + x / cell], 0.0f, 1.0f);
          const std::size_t px =
              (static_cast<std::size_t>(gap + l * (n * cell + gap) + y) * width + gap + h * (n * cell + gap) + x) * 3;
          rgb[px] = static_cast<std::uint8_t>(std::lround(255.0f * (1.0f - v)));
          rgb[px + 1] = static_cast<std::uint8_t>(std::lround(255.0f * (1.0f - 0.75f * v)));
          rgb[px + 2] = static_cast<std::uint8_t>(std::lround(255.0f * (1.0f - 0.35f * v)));
        }
  }
  write_png_rgb(path, width, height, rgb);
}

/// Mean weight on the anti-diagonal (output i attending input L-1-i) of one head: 1 for a
/// perfect reversal head, about 1/L for a uniform one.
inline double anti_diagonal(const float* w, std::int64_t L) {
  double sum = 0.0;
  for (std::int64_t i = 0; i < L; ++i) sum += w[i * L + (L - 1 - i)];
  return sum / static_cast<double>(L);
}

}  // namespace tutorial
