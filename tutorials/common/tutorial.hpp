// Shared plumbing of the tutorial programs: command-line flags, a progress bar, CSV output,
// plots through gnuplot (when installed) and PNG images through stb_image_write.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace tutorial {

/// Flags every tutorial accepts. Defaults are per tutorial (set them before add_flags).
struct Options {
  int epochs = 10;
  int batch_size = 64;
  double lr = 0.01;
  int threads = 0;  ///< 0 = all hardware threads
  std::uint64_t seed = 0;
  std::string data;         ///< data directory (tutorials that read files)
  std::string out = "out";  ///< directory for CSV files and pictures (created)
  bool smoke = false;       ///< tiny, seconds-long run used by CTest
};

/// Registers --epochs --batch-size --lr --threads --seed --data --out --smoke on app.
void add_flags(CLI::App& app, Options& o);
/// After parsing: creates o.out, applies --threads (xgrad::set_num_threads) and --seed
/// (xgrad::manual_seed), prints a one-line banner.
void setup(const Options& o, const std::string& title);

/// "[#####.....] 50% 120/240 loss 0.4312 ETA 3s" redrawn in place; drawn only when stdout is
/// a terminal (so logs and CTest output stay clean).
class ProgressBar {
 public:
  ProgressBar(std::int64_t total, std::string label);
  void update(std::int64_t done, double running_loss);
  void finish();

 private:
  std::int64_t total_;
  std::string label_;
  bool tty_;
  std::chrono::steady_clock::time_point start_;
};

/// CSV file with a header row; values written with full precision.
class Csv {
 public:
  Csv(const std::string& path, const std::vector<std::string>& columns);
  void row(const std::vector<double>& values);
  void row(const std::vector<std::string>& values);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::size_t columns_;
};

/// One line of a plot.
struct Series {
  std::string name;
  std::vector<double> x, y;
  bool points = false;  ///< draw points instead of a line
};

/// True when gnuplot is on PATH.
bool have_gnuplot();
/// Writes png_path with gnuplot (lines or points, optional log-scale y). Returns false (and
/// writes nothing) when gnuplot is not installed.
bool plot(const std::string& png_path, const std::string& title, const std::string& xlabel,
          const std::string& ylabel, const std::vector<Series>& series, bool log_y = false);

/// Writes an 8-bit grayscale PNG; `pixels` (row-major, h x w) are mapped linearly from
/// [lo, hi] to [0, 255] (values outside are clamped).
void write_png_gray(const std::string& path, int w, int h, const std::vector<float>& pixels, float lo, float hi);
/// Writes an RGB PNG from row-major h x w x 3 bytes.
void write_png_rgb(const std::string& path, int w, int h, const std::vector<std::uint8_t>& rgb);

/// Seconds since `start`.
double seconds_since(std::chrono::steady_clock::time_point start);

}  // namespace tutorial
