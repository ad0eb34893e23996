// read_idx on files the test writes (plain and gzipped, valid and corrupt), the MNIST-style
// datasets on small synthetic files, and FashionMNIST on the real data when it is installed.
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>

#include "test_util.hpp"
#include "xgrad/data.hpp"

using namespace xgrad;
using namespace xgrad::data;
namespace fs = std::filesystem;

namespace {

using Bytes = std::vector<std::uint8_t>;

/// IDX bytes: magic 00 00 08 ndim, big-endian dims, then data.
Bytes make_idx(const std::vector<std::uint32_t>& dims, const Bytes& data, std::uint8_t type = 0x08) {
  Bytes b{0, 0, type, static_cast<std::uint8_t>(dims.size())};
  for (std::uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<std::uint8_t>(d >> s));
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

Bytes iota_bytes(std::size_t n, std::uint8_t step = 1) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(i * step);
  return b;
}

/// A fresh temporary directory, removed at the end of the test case.
struct TempDir {
  fs::path path;
  TempDir() {
    static int counter = 0;
    path = fs::temp_directory_path() / fmt::format("xgrad_test_idx_{}_{}", ::getpid(), counter++);
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string write(const std::string& name, const Bytes& bytes) const {
    const std::string p = (path / name).string();
    std::ofstream f(p, std::ios::binary);
    f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    return p;
  }
  /// Writes `bytes` gzip-compressed through zlib.
  std::string write_gz(const std::string& name, const Bytes& bytes) const {
    const std::string p = (path / name).string();
    gzFile f = gzopen(p.c_str(), "wb");
    BOOST_REQUIRE(f != nullptr);
    if (!bytes.empty())
      BOOST_REQUIRE_EQUAL(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())),
                          static_cast<int>(bytes.size()));
    BOOST_REQUIRE_EQUAL(gzclose(f), Z_OK);
    return p;
  }
  Bytes read(const std::string& p) const {
    std::ifstream f(p, std::ios::binary);
    return Bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(idx)

BOOST_AUTO_TEST_CASE(reads_plain_and_gzipped) {
  TempDir dir;
  const Bytes data = iota_bytes(24, 11);  // wraps past 255: 0, 11, ..., 253, 8, ...
  for (bool gz : {false, true}) {
    BOOST_TEST_CONTEXT("gzipped " << gz) {
      const Bytes file = make_idx({2, 3, 4}, data);
      const std::string p = gz ? dir.write_gz("a.idx.gz", file) : dir.write("a.idx", file);
      Tensor t = read_idx(p);
      BOOST_CHECK(t.dtype() == int64);
      BOOST_CHECK(t.shape() == Shape({2, 3, 4}));
      const auto v = t.to_vector<std::int64_t>();
      for (std::size_t i = 0; i < data.size(); ++i) BOOST_CHECK_EQUAL(v[i], data[i]);
      // float32 / float64: the raw values, unscaled.
      Tensor f = read_idx(p, float32);
      BOOST_CHECK(f.dtype() == float32);
      const auto fv = f.to_vector<float>();
      for (std::size_t i = 0; i < data.size(); ++i) BOOST_CHECK_EQUAL(fv[i], static_cast<float>(data[i]));
      BOOST_CHECK_EQUAL(read_idx(p, float64).to_vector<double>()[23], static_cast<double>(data[23]));
    }
  }
  // Labels (magic 0x00000801) and 4-d files.
  Tensor labels = read_idx(dir.write("labels", make_idx({5}, {9, 0, 3, 255, 1})));
  BOOST_CHECK(labels.shape() == Shape({5}));
  BOOST_CHECK((labels.to_vector<std::int64_t>() == std::vector<std::int64_t>{9, 0, 3, 255, 1}));
  Tensor four = read_idx(dir.write_gz("four.gz", make_idx({1, 2, 1, 3}, iota_bytes(6))));
  BOOST_CHECK(four.shape() == Shape({1, 2, 1, 3}));
  BOOST_CHECK_EQUAL(four.to_vector<std::int64_t>()[5], 5);
}

BOOST_AUTO_TEST_CASE(large_file_converts_in_parallel_exactly) {
  // 3 MB: several read chunks and a parallel conversion.
  TempDir dir;
  const Bytes data = iota_bytes(1000 * 3000, 7);
  const Bytes file = make_idx({1000, 3000}, data);
  Tensor plain = read_idx(dir.write("big", file), float32);
  Tensor gz = read_idx(dir.write_gz("big.gz", file), float32);
  const auto a = plain.to_vector<float>(), b = gz.to_vector<float>();
  BOOST_REQUIRE_EQUAL(a.size(), data.size());
  bool ok = true;
  for (std::size_t i = 0; i < data.size(); ++i) ok = ok && a[i] == static_cast<float>(data[i]) && b[i] == a[i];
  BOOST_CHECK(ok);
}

BOOST_AUTO_TEST_CASE(corrupt_headers) {
  TempDir dir;
  const Bytes good = make_idx({2, 3}, iota_bytes(6));
  for (bool gz : {false, true}) {
    BOOST_TEST_CONTEXT("gzipped " << gz) {
      auto write = [&](const std::string& name, const Bytes& b) {
        return gz ? dir.write_gz(name, b) : dir.write(name, b);
      };
      Bytes bad = good;
      bad[0] = 0x12;
      std::string p = write("bad_magic", bad);
      XGRAD_CHECK_THROW_MSG(read_idx(p), "is not an IDX file: bad magic number 0x12000802");
      XGRAD_CHECK_THROW_MSG(read_idx(p), p);
      XGRAD_CHECK_THROW_MSG(read_idx(write("type", make_idx({2, 3}, iota_bytes(6), 0x0B))),
                            "unsupported element type 0x0b in magic number 0x00000b02");
      XGRAD_CHECK_THROW_MSG(read_idx(write("type2", make_idx({2, 3}, iota_bytes(6), 0x42))), "bad element type 0x42");
      XGRAD_CHECK_THROW_MSG(read_idx(write("ndim0", make_idx({}, {}))), "bad number of dims 0");
      XGRAD_CHECK_THROW_MSG(read_idx(write("ndim5", make_idx({1, 1, 1, 1, 1}, {7}))), "bad number of dims 5");
      XGRAD_CHECK_THROW_MSG(read_idx(write("zero", make_idx({2, 0, 3}, {}))), "dimension 1 is 0 (dims [2, 0])");
      XGRAD_CHECK_THROW_MSG(read_idx(write("huge", make_idx({65535, 65535, 65535}, {1}))), "more than 2^33 elements");
      XGRAD_CHECK_THROW_MSG(read_idx(write("empty", {})), "is truncated: 0 bytes");
      XGRAD_CHECK_THROW_MSG(read_idx(write("short_magic", {0, 0, 8})), "shorter than the 4-byte IDX magic number");
      XGRAD_CHECK_THROW_MSG(read_idx(write("short_dims", {0, 0, 8, 3, 0, 0, 0, 2, 0, 0})),
                            "is truncated: 10 bytes" + std::string(gz ? " (uncompressed)" : "") +
                                ", shorter than its 16-byte header (3 dims)");
    }
  }
}

BOOST_AUTO_TEST_CASE(truncated_and_trailing_data) {
  TempDir dir;
  const Bytes good = make_idx({4, 5}, iota_bytes(20));  // 12-byte header + 20 bytes = 32
  Bytes truncated(good.begin(), good.end() - 1);
  Bytes trailing = good;
  trailing.push_back(0);
  trailing.push_back(1);
  XGRAD_CHECK_THROW_MSG(read_idx(dir.write("t", truncated)),
                        "is truncated: expected 32 bytes (12-byte header + 20 data bytes for dims [4, 5]), got 31");
  XGRAD_CHECK_THROW_MSG(
      read_idx(dir.write("x", trailing)),
      "has trailing data: expected 32 bytes (12-byte header + 20 data bytes for dims [4, 5]), got 34");
  XGRAD_CHECK_THROW_MSG(read_idx(dir.write_gz("t.gz", truncated)),
                        "is truncated: expected 32 bytes (uncompressed) (12-byte header + 20 data bytes for dims "
                        "[4, 5]), got 31");
  XGRAD_CHECK_THROW_MSG(read_idx(dir.write_gz("x.gz", trailing)),
                        "has trailing data: expected 32 bytes (uncompressed)");
  XGRAD_CHECK_THROW_MSG(read_idx(dir.write_gz("x.gz", trailing)), "got 34");
  // Only a header, claiming 8.6e9 bytes (below the 2^33-element limit): a clean error, no
  // 8 GB allocation.
  XGRAD_CHECK_THROW_MSG(read_idx(dir.write_gz("claims_a_lot.gz", make_idx({65535, 65535, 2}, iota_bytes(100)))),
                        "is truncated: expected 8589672466 bytes (uncompressed)");
  XGRAD_CHECK_THROW_MSG(read_idx(dir.write("claims_a_lot", make_idx({65535, 65535, 2}, iota_bytes(100)))), "got 116");
}

BOOST_AUTO_TEST_CASE(corrupt_gzip_streams) {
  TempDir dir;
  // Incompressible-ish data so that the compressed stream is long enough to cut.
  Bytes data(5000);
  std::uint32_t s = 12345;
  for (auto& b : data) b = static_cast<std::uint8_t>((s = s * 1664525u + 1013904223u) >> 24);
  const std::string p = dir.write_gz("ok.gz", make_idx({5000}, data));
  Bytes compressed = dir.read(p);
  BOOST_REQUIRE_GT(compressed.size(), 1000u);
  // A cut gzip stream: the data ends early.
  Bytes cut(compressed.begin(), compressed.begin() + static_cast<std::ptrdiff_t>(compressed.size() / 2));
  const std::string pc = dir.write("cut.gz", cut);
  XGRAD_CHECK_THROW_MSG(read_idx(pc), "is truncated: expected 5008 bytes (uncompressed)");
  XGRAD_CHECK_THROW_MSG(read_idx(pc), "the gzip stream itself is cut short");
  // Garbage inside the deflate stream.
  Bytes garbled = compressed;
  for (std::size_t i = 100; i < 400; ++i) garbled[i] = static_cast<std::uint8_t>(garbled[i] ^ 0xA5);
  const std::string pg = dir.write("garbled.gz", garbled);
  bool threw = false;
  try {
    read_idx(pg);
  } catch (const Error& e) {
    threw = true;
    const std::string msg = e.what();
    BOOST_CHECK_MESSAGE(msg.find(pg) != std::string::npos, msg);
    BOOST_CHECK_MESSAGE(
        msg.find("not a valid gzip file") != std::string::npos || msg.find("truncated") != std::string::npos, msg);
  }
  BOOST_CHECK(threw);
}

BOOST_AUTO_TEST_CASE(missing_file_and_directory) {
  TempDir dir;
  const std::string p = (dir.path / "nope").string();
  XGRAD_CHECK_THROW_MSG(read_idx(p), "read_idx: cannot open '" + p + "': No such file or directory");
  XGRAD_CHECK_THROW_MSG(read_idx(dir.path.string()), "is a directory");
}

// ---- MNIST-style datasets on small files ---------------------------------------------------

namespace {

/// Writes `n` 4x3 images (pixel j of image i = (i * 12 + j) * 5 mod 256) and labels i % 10
/// under dir with the given file-name prefix.
void write_split(const TempDir& dir, const std::string& prefix, std::uint32_t n, bool gz, std::uint32_t n_labels = 0,
                 std::uint8_t bad_label = 0) {
  const Bytes pixels = iota_bytes(static_cast<std::size_t>(n) * 12, 5);
  Bytes labels(n_labels ? n_labels : n);
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<std::uint8_t>(i % 10);
  if (bad_label) labels.back() = bad_label;
  const Bytes images = make_idx({n, 4, 3}, pixels);
  const Bytes lab = make_idx({static_cast<std::uint32_t>(labels.size())}, labels);
  if (gz) {
    dir.write_gz(prefix + "-images-idx3-ubyte.gz", images);
    dir.write_gz(prefix + "-labels-idx1-ubyte.gz", lab);
  } else {
    dir.write(prefix + "-images-idx3-ubyte", images);
    dir.write(prefix + "-labels-idx1-ubyte", lab);
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(mnist_from_small_files) {
  TempDir dir;
  write_split(dir, "train", 7, false);
  write_split(dir, "t10k", 3, true);
  MNIST train(dir.path.string(), true);
  MNIST test(dir.path.string(), false);
  BOOST_CHECK(train.train());
  BOOST_CHECK(!test.train());
  BOOST_CHECK_EQUAL(train.size(), 7);
  BOOST_CHECK_EQUAL(test.size(), 3);
  BOOST_CHECK(train.images().shape() == Shape({7, 1, 4, 3}));
  BOOST_CHECK(train.images().dtype() == float32);
  BOOST_CHECK(train.labels().shape() == Shape({7}));
  BOOST_CHECK(train.labels().dtype() == int64);
  const auto px = train.images().to_vector<float>();
  for (std::size_t j = 0; j < px.size(); ++j)
    BOOST_CHECK_EQUAL(px[j], static_cast<float>(static_cast<std::uint8_t>(j * 5) / 255.0));
  BOOST_CHECK_EQUAL(train.labels().to_vector<std::int64_t>()[6], 6);
  // get(i): [1, 4, 3] image and 0-d label.
  Example e = test.get(2);
  BOOST_CHECK(e.data.shape() == Shape({1, 4, 3}));
  BOOST_CHECK(e.target.shape() == Shape{});
  BOOST_CHECK_EQUAL(e.target.item<std::int64_t>(), 2);
  BOOST_CHECK_EQUAL(e.data.to_vector<float>()[0], static_cast<float>(static_cast<std::uint8_t>(24 * 5) / 255.0));
  // The DataLoader copies rows from images()/labels().
  DataLoader loader(std::make_shared<MNIST>(dir.path.string(), true), DataLoaderOptions(4));
  auto it = loader.begin();
  BOOST_CHECK(it->data.shape() == Shape({4, 1, 4, 3}));
  xgrad::test::check_close(it->data, train.images().narrow(0, 0, 4), 0.0);
  BOOST_CHECK((it->target.to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 1, 2, 3}));
}

BOOST_AUTO_TEST_CASE(mnist_normalize_and_plain_preferred) {
  TempDir dir;
  write_split(dir, "train", 5, false);
  write_split(dir, "train", 2, true);  // .gz twins with other content: the plain files win
  MNIST norm(dir.path.string(), true, MNISTOptions().normalize());
  BOOST_CHECK_EQUAL(norm.size(), 5);
  const auto v = norm.images().to_vector<float>();
  for (std::size_t j = 0; j < v.size(); ++j) {
    const double x = static_cast<std::uint8_t>(j * 5) / 255.0;
    BOOST_CHECK_CLOSE(v[j], (x - 0.1307) / 0.3081, 1e-4);
  }
  FashionMNIST custom(dir.path.string(), true, FashionMNISTOptions().normalize().mean(0.5).stddev(0.25));
  BOOST_CHECK_CLOSE(custom.images().to_vector<float>()[1], (5 / 255.0 - 0.5) / 0.25, 1e-4);
  XGRAD_CHECK_THROW_MSG(MNIST(dir.path.string(), true, MNISTOptions().stddev(0)), "options.stddev must be positive");
}

BOOST_AUTO_TEST_CASE(mnist_errors) {
  TempDir dir;
  const std::string root = dir.path.string();
  XGRAD_CHECK_THROW_MSG(MNIST(root + "/absent"), "MNIST: data directory '" + root + "/absent' does not exist");
  XGRAD_CHECK_THROW_MSG(FashionMNIST(root + "/absent"), "apt-get install dataset-fashion-mnist");
  XGRAD_CHECK_THROW_MSG(FashionMNIST(root + "/absent", false), "t10k-images-idx3-ubyte(.gz)");
  XGRAD_CHECK_THROW_MSG(MNIST(root), "missing train-images-idx3-ubyte(.gz) and train-labels-idx1-ubyte(.gz) in");
  dir.write("train-images-idx3-ubyte", make_idx({2, 2, 2}, iota_bytes(8)));
  XGRAD_CHECK_THROW_MSG(FashionMNIST(root), "FashionMNIST: missing train-labels-idx1-ubyte(.gz) in '" + root + "'");
  XGRAD_CHECK_THROW_MSG(FashionMNIST(root), "apt-get install dataset-fashion-mnist");

  TempDir mismatch;
  write_split(mismatch, "train", 4, true, 5);
  XGRAD_CHECK_THROW_MSG(MNIST(mismatch.path.string()), "has 4 images but");
  XGRAD_CHECK_THROW_MSG(MNIST(mismatch.path.string()), "has 5 labels");

  TempDir bad_label;
  write_split(bad_label, "train", 4, false, 0, 10);
  XGRAD_CHECK_THROW_MSG(MNIST(bad_label.path.string()), "label 10 of example 3 is outside [0, 10)");

  TempDir flat_images;
  flat_images.write("train-images-idx3-ubyte", make_idx({2, 4}, iota_bytes(8)));
  flat_images.write("train-labels-idx1-ubyte", make_idx({2}, {0, 1}));
  XGRAD_CHECK_THROW_MSG(MNIST(flat_images.path.string()), "should hold 3-d images [N, H, W], got dims [2, 4]");

  TempDir corrupt;
  write_split(corrupt, "train", 4, false);
  corrupt.write("train-labels-idx1-ubyte", make_idx({4}, {0, 1, 2}));
  XGRAD_CHECK_THROW_MSG(MNIST(corrupt.path.string()), "is truncated");

  BOOST_CHECK_EQUAL(FashionMNIST::class_name(9), "Ankle boot");
  BOOST_CHECK_EQUAL(FashionMNIST::class_name(0), "T-shirt/top");
  XGRAD_CHECK_THROW_MSG(FashionMNIST::class_name(10), "label 10 is outside [0, 10)");
}

// ---- the real Fashion-MNIST ----------------------------------------------------------------

BOOST_AUTO_TEST_CASE(real_fashion_mnist) {
  const std::string root(kFashionMnistDefaultRoot);
  if (!fs::is_directory(root)) {
    BOOST_TEST_MESSAGE("skipping: " << root << " is absent (apt-get install dataset-fashion-mnist)");
    return;
  }
  FashionMNIST train;  // default root
  FashionMNIST test(root, false);
  BOOST_CHECK_EQUAL(train.size(), 60000);
  BOOST_CHECK_EQUAL(test.size(), 10000);
  BOOST_CHECK(train.images().shape() == Shape({60000, 1, 28, 28}));
  BOOST_CHECK(test.labels().shape() == Shape({10000}));
  for (const FashionMNIST* ds : {&train, &test}) {
    BOOST_CHECK_EQUAL(ds->images().min().item<float>(), 0.0f);
    BOOST_CHECK_EQUAL(ds->images().max().item<float>(), 1.0f);
    // Balanced classes: 6000 (train) or 1000 (test) of each.
    std::vector<std::int64_t> counts(10, 0);
    bool in_range = true;
    for (std::int64_t l : ds->labels().to_vector<std::int64_t>()) {
      in_range = in_range && l >= 0 && l < 10;
      if (in_range) ++counts[static_cast<std::size_t>(l)];
    }
    BOOST_REQUIRE(in_range);
    for (std::int64_t c : counts) BOOST_CHECK_EQUAL(c, ds->size() / 10);
  }
  // The first training image is an ankle boot (label 9), the first test image too.
  BOOST_CHECK_EQUAL(train.get(0).target.item<std::int64_t>(), 9);
  BOOST_CHECK_EQUAL(test.get(0).target.item<std::int64_t>(), 9);
  const double mean = train.images().mean().item<double>();
  BOOST_CHECK_CLOSE(mean, 0.2860, 0.1);  // percent
  FashionMNIST norm(root, true, FashionMNISTOptions().normalize());
  BOOST_CHECK_SMALL(norm.images().mean().item<double>(), 1e-3);
}

BOOST_AUTO_TEST_SUITE_END()
