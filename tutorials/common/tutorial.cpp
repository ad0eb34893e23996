#include "tutorial.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#include <stb/stb_image_write.h>

#include "xgrad/xgrad.hpp"

namespace tutorial {

void add_flags(CLI::App& app, Options& o) {
  app.add_option("--epochs", o.epochs, "training epochs")->capture_default_str();
  app.add_option("--batch-size", o.batch_size, "mini-batch size")->capture_default_str();
  app.add_option("--lr", o.lr, "learning rate")->capture_default_str();
  app.add_option("--threads", o.threads, "worker threads (0 = all)")->capture_default_str();
  app.add_option("--seed", o.seed, "random seed")->capture_default_str();
  app.add_option("--data", o.data, "data directory")->capture_default_str();
  app.add_option("--out", o.out, "output directory for CSV files and pictures")->capture_default_str();
  app.add_flag("--smoke", o.smoke, "a tiny run of a few seconds (used by the tests)");
}

void setup(const Options& o, const std::string& title) {
  std::filesystem::create_directories(o.out);
  if (o.threads > 0) xgrad::set_num_threads(o.threads);
  xgrad::manual_seed(o.seed);
  fmt::print("== {} (threads {}, seed {}{})\n", title, xgrad::get_num_threads(), o.seed, o.smoke ? ", smoke run" : "");
}

ProgressBar::ProgressBar(std::int64_t total, std::string label)
    : total_(std::max<std::int64_t>(total, 1)),
      label_(std::move(label)),
      tty_(isatty(fileno(stdout)) != 0),
      start_(std::chrono::steady_clock::now()) {}

void ProgressBar::update(std::int64_t done, double running_loss) {
  if (!tty_) return;
  constexpr int kWidth = 30;
  const double frac = std::clamp(static_cast<double>(done) / static_cast<double>(total_), 0.0, 1.0);
  const int filled = static_cast<int>(frac * kWidth);
  const double elapsed = seconds_since(start_);
  const double eta = frac > 0 ? elapsed * (1.0 - frac) / frac : 0.0;
  fmt::print("\r{} [{}{}] {:3.0f}% {}/{} loss {:.4f} ETA {:.0f}s ", label_, std::string(filled, '#'),
             std::string(kWidth - filled, '.'), frac * 100.0, done, total_, running_loss, eta);
  std::fflush(stdout);
}

void ProgressBar::finish() {
  if (!tty_) return;
  fmt::print("\r{}\r", std::string(80, ' '));
  std::fflush(stdout);
}

Csv::Csv(const std::string& path, const std::vector<std::string>& columns) : path_(path), columns_(columns.size()) {
  std::ofstream f(path_, std::ios::trunc);
  if (!f) throw xgrad::Error(fmt::format("Csv: cannot write '{}'", path_));
  f << fmt::format("{}\n", fmt::join(columns, ","));
}

void Csv::row(const std::vector<double>& values) {
  std::vector<std::string> s;
  for (double v : values) s.push_back(fmt::format("{}", v));
  row(s);
}

void Csv::row(const std::vector<std::string>& values) {
  if (values.size() != columns_)
    throw xgrad::Error(fmt::format("Csv: {} values for {} columns in '{}'", values.size(), columns_, path_));
  std::ofstream f(path_, std::ios::app);
  f << fmt::format("{}\n", fmt::join(values, ","));
}

bool have_gnuplot() { return std::system("command -v gnuplot >/dev/null 2>&1") == 0; }

namespace {
// A gnuplot single-quoted string: a quote is written twice.
std::string quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}
}  // namespace

bool plot(const std::string& png_path, const std::string& title, const std::string& xlabel, const std::string& ylabel,
          const std::vector<Series>& series, bool log_y) {
  if (!have_gnuplot() || series.empty()) return false;
  const std::string base = png_path + ".gp";
  std::ofstream gp(base, std::ios::trunc);
  gp << "set terminal pngcairo size 900,600 noenhanced\n";
  gp << fmt::format("set output {}\nset title {}\nset xlabel {}\nset ylabel {}\nset grid\nset key outside\n",
                    quoted(png_path), quoted(title), quoted(xlabel), quoted(ylabel));
  if (log_y) gp << "set logscale y\nset format y '%g'\n";
  gp << "plot ";
  for (std::size_t i = 0; i < series.size(); ++i)
    gp << fmt::format("{}'-' with {} title {}", i ? ", " : "", series[i].points ? "points pt 7 ps 0.5" : "lines lw 2",
                      quoted(series[i].name));
  gp << "\n";
  for (const Series& s : series) {
    for (std::size_t k = 0; k < std::min(s.x.size(), s.y.size()); ++k) gp << fmt::format("{} {}\n", s.x[k], s.y[k]);
    gp << "e\n";
  }
  gp.close();
  const bool ok = std::system(fmt::format("gnuplot '{}' >/dev/null 2>&1", base).c_str()) == 0;
  std::filesystem::remove(base);
  return ok;
}

void write_png_gray(const std::string& path, int w, int h, const std::vector<float>& pixels, float lo, float hi) {
  if (static_cast<std::size_t>(w) * static_cast<std::size_t>(h) != pixels.size())
    throw xgrad::Error(fmt::format("write_png_gray: {} pixels for a {}x{} image", pixels.size(), w, h));
  std::vector<std::uint8_t> bytes(pixels.size());
  const float scale = hi > lo ? 255.0f / (hi - lo) : 0.0f;
  for (std::size_t i = 0; i < pixels.size(); ++i)
    bytes[i] = static_cast<std::uint8_t>(std::clamp((pixels[i] - lo) * scale, 0.0f, 255.0f));
  if (!stbi_write_png(path.c_str(), w, h, 1, bytes.data(), w))
    throw xgrad::Error(fmt::format("write_png_gray: cannot write '{}'", path));
}

void write_png_rgb(const std::string& path, int w, int h, const std::vector<std::uint8_t>& rgb) {
  if (static_cast<std::size_t>(w) * static_cast<std::size_t>(h) * 3 != rgb.size())
    throw xgrad::Error(fmt::format("write_png_rgb: {} bytes for a {}x{} RGB image", rgb.size(), w, h));
  if (!stbi_write_png(path.c_str(), w, h, 3, rgb.data(), w * 3))
    throw xgrad::Error(fmt::format("write_png_rgb: cannot write '{}'", path));
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace tutorial
