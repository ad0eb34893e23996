// Writes the seed corpora of the fuzz targets: `fuzz_make_corpus DIR` fills DIR/<target>/
// (the committed fuzz/corpus/ was made with `fuzz_make_corpus fuzz/corpus`). Deterministic.
#include <zlib.h>

#include <fstream>
#include <random>

#include "fuzz_model.hpp"
#include "xgrad/data/idx.hpp"

namespace {

using namespace xgrad;
namespace fs = std::filesystem;

void write(const fs::path& p, const std::string& bytes) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string gzip(const std::string& in) {
  z_stream z{};
  if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) throw Error("deflateInit2");
  std::string out(deflateBound(&z, in.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

std::string idx(const std::vector<std::uint32_t>& dims) {
  std::string s = {0, 0, 8, static_cast<char>(dims.size())};
  std::size_t n = 1;
  for (const auto d : dims) {
    for (int k = 3; k >= 0; --k) s.push_back(static_cast<char>((d >> (8 * k)) & 0xff));
    n *= d;
  }
  for (std::size_t i = 0; i < n; ++i) s.push_back(static_cast<char>((i * 37) & 0xff));
  return s;
}

TensorDict prefixed(const std::string& prefix, const TensorDict& d) {
  TensorDict out;
  for (const auto& [k, t] : d) out[prefix + k] = t;
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 1;
  }
  const fs::path dir = argv[1];
  manual_seed(0);

  // safetensors: a model's state dict, an optimizer's after one step, every dtype with
  // metadata, an empty file.
  auto model = fuzz::make_model();
  optim::Adam opt(model->parameters(), optim::AdamOptions(1e-2));
  optim::StepLR sched(opt, 2, 0.5);
  write(dir / "safetensors" / "model", to_safetensors_bytes(model->state_dict()));
  fuzz::train_step(*model, opt);
  sched.step();
  write(dir / "safetensors" / "adam", to_safetensors_bytes(opt.state_dict()));
  write(dir / "safetensors" / "dtypes",
        to_safetensors_bytes({{"f32", arange(0.0, 6.0).reshape({2, 3})},
                              {"f64", arange(0.0, 4.0, TensorOptions().dtype(Dtype::float64))},
                              {"i64", arange(0.0, 3.0, TensorOptions().dtype(Dtype::int64))},
                              {"i32", zeros({2}, TensorOptions().dtype(Dtype::int32))},
                              {"b", zeros({3}, TensorOptions().dtype(Dtype::boolean))},
                              {"empty", zeros({0, 2})},
                              {"scalar", scalar_tensor(1.5)}},
                             {{"format", "pt"}, {"epoch", "3"}}));
  write(dir / "safetensors" / "empty", to_safetensors_bytes({}));

  // checkpoint: a resumable checkpoint as tutorial 06 writes it, before and after a step.
  TensorDict ckpt = prefixed("model.", model->state_dict());
  ckpt.merge(prefixed("optim.", opt.state_dict()));
  ckpt.merge(prefixed("sched.", sched.state_dict()));
  write(dir / "checkpoint" / "after_step", to_safetensors_bytes(ckpt, {{"epoch", "1"}}));
  auto fresh = fuzz::make_model();
  optim::Adam fresh_opt(fresh->parameters(), optim::AdamOptions(1e-2));
  optim::StepLR fresh_sched(fresh_opt, 2, 0.5);
  TensorDict ckpt0 = prefixed("model.", fresh->state_dict());
  ckpt0.merge(prefixed("optim.", fresh_opt.state_dict()));
  ckpt0.merge(prefixed("sched.", fresh_sched.state_dict()));
  write(dir / "checkpoint" / "fresh", to_safetensors_bytes(ckpt0));

  // idx: labels [5], images [2, 3, 3], a 4-d file, each plain and gzipped; two gzip members.
  const std::string labels = idx({5}), images = idx({2, 3, 3}), four = idx({1, 2, 1, 2});
  write(dir / "idx" / "labels", labels);
  write(dir / "idx" / "images", images);
  write(dir / "idx" / "four_dims", four);
  write(dir / "idx" / "labels.gz", gzip(labels));
  write(dir / "idx" / "images.gz", gzip(images));
  write(dir / "idx" / "two_members.gz", gzip(images.substr(0, 10)) + gzip(images.substr(10)));

  // ops: byte programs from a fixed generator.
  std::mt19937 rng(19);
  for (int i = 0; i < 8; ++i) {
    std::string prog(16 + 24 * i, '\0');
    for (auto& c : prog) c = static_cast<char>(rng() & 0xff);
    write(dir / "ops" / fmt::format("random_{}", i), prog);
  }
  std::printf("seed corpora written to %s\n", dir.c_str());
  return 0;
}
