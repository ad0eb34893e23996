// read_idx on files the test writes (plain and gzipped, valid and corrupt), the MNIST-style
// datasets on small synthetic files, and FashionMNIST on the real data when it is installed.
#include <unistd.h>
#include <zlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <limits>

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

/// `bytes` as one gzip member (deflate with a gzip wrapper, in memory), so tests can cut or
/// corrupt the compressed stream.
Bytes gzip(const Bytes& bytes) {
  z_stream z{};
  BOOST_REQUIRE_EQUAL(deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  Bytes out(deflateBound(&z, static_cast<uLong>(bytes.size())));
  z.next_in = const_cast<Bytef*>(bytes.data());
  z.avail_in = static_cast<uInt>(bytes.size());
  z.next_out = out.data();
  z.avail_out = static_cast<uInt>(out.size());
  BOOST_REQUIRE_EQUAL(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

Bytes concat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

/// A BOOST_CHECK_EXCEPTION predicate: the xgrad::Error message contains every one of `parts`.
auto message_has(std::vector<std::string> parts) {
  return [parts = std::move(parts)](const Error& e) {
    const std::string msg = e.what();
    bool ok = true;
    for (const std::string& part : parts) {
      const bool found = msg.find(part) != std::string::npos;
      BOOST_CHECK_MESSAGE(found, "message '" << msg << "' lacks '" << part << "'");
      ok = ok && found;
    }
    return ok;
  };
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
      XGRAD_CHECK_THROW_MSG(read_idx(write("zero", make_idx({2, 0, 3}, {}))), "dimension 1 is 0 (dims [2, 0, 3])");
      XGRAD_CHECK_THROW_MSG(read_idx(write("huge", make_idx({65535, 65535, 65535}, {1}))),
                            "need 281462092005375 data bytes, more than the size limit of 188160000 bytes");
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
  // Only a header, claiming 8.6e9 bytes, read with the size limit raised above that: a clean
  // error, no 8 GB allocation.
  const IdxOptions big = IdxOptions().max_bytes(std::uint64_t{1} << 34);
  XGRAD_CHECK_THROW_MSG(read_idx(dir.write_gz("claims_a_lot.gz", make_idx({65535, 65535, 2}, iota_bytes(100))), big),
                        "is truncated: expected 8589672466 bytes (uncompressed)");
  XGRAD_CHECK_THROW_MSG(read_idx(dir.write("claims_a_lot", make_idx({65535, 65535, 2}, iota_bytes(100))), big),
                        "got 116");
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

// ---- hardening: gzip integrity, size limit, overflow, arbitrary corruption ----------------

BOOST_AUTO_TEST_CASE(gzip_with_its_last_bytes_cut_off_is_an_error) {
  // Regression: gzread treated a stream cut inside its CRC-32/ISIZE trailer as a clean end of
  // file, so a .gz with its last 1..8 bytes missing loaded as if nothing were wrong.
  TempDir dir;
  const Bytes file = make_idx({3, 4}, iota_bytes(12, 7));
  const Bytes gz = gzip(file);
  BOOST_REQUIRE((read_idx(dir.write("whole.gz", gz)).to_vector<std::int64_t>().size() == 12));
  for (std::size_t cut = 1; cut <= 8; ++cut) {
    BOOST_TEST_CONTEXT("cut " << cut) {
      const std::string p = dir.write(fmt::format("cut{}.gz", cut), Bytes(gz.begin(), gz.end() - cut));
      BOOST_CHECK_EXCEPTION(read_idx(p), Error,
                            message_has({"read_idx: '" + p + "' is truncated",
                                         "the gzip stream is cut short before its end (the CRC-32/length trailer is "
                                         "missing or incomplete), so its 24 decoded bytes cannot be verified"}));
    }
  }
  // Cut inside the deflate data: the IDX data itself is short.
  const std::string p = dir.write("cut_deep.gz", Bytes(gz.begin(), gz.begin() + 12));
  BOOST_CHECK_EXCEPTION(read_idx(p), Error, message_has({"read_idx: '" + p + "' is truncated", "(uncompressed)"}));
  // The gzip header alone.
  const std::string h = dir.write("header_only.gz", Bytes(gz.begin(), gz.begin() + 10));
  BOOST_CHECK_EXCEPTION(read_idx(h), Error,
                        message_has({"is truncated: 0 bytes (uncompressed), shorter than the 4-byte IDX magic number",
                                     "(the gzip stream itself is cut short)"}));
}

BOOST_AUTO_TEST_CASE(gzip_crc_and_length_are_checked) {
  TempDir dir;
  const Bytes gz = gzip(make_idx({3, 4}, iota_bytes(12, 7)));
  Bytes bad_crc = gz;
  bad_crc[gz.size() - 8] ^= 0x01;  // first byte of the little-endian CRC-32
  const std::string pc = dir.write("bad_crc.gz", bad_crc);
  BOOST_CHECK_EXCEPTION(read_idx(pc), Error,
                        message_has({"read_idx: '" + pc + "' is not a valid gzip file: incorrect data check"}));
  Bytes bad_len = gz;
  bad_len[gz.size() - 4] ^= 0x01;  // first byte of ISIZE, the length mod 2^32
  const std::string pl = dir.write("bad_len.gz", bad_len);
  BOOST_CHECK_EXCEPTION(read_idx(pl), Error,
                        message_has({"read_idx: '" + pl + "' is not a valid gzip file: incorrect length check"}));
  // The same corruption in the data rather than the trailer: the CRC catches it too (a
  // stored block, so flipping a byte changes a data byte and nothing else).
  const Bytes file = make_idx({3, 4}, iota_bytes(12, 7));
  z_stream z{};
  BOOST_REQUIRE_EQUAL(deflateInit2(&z, Z_NO_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  Bytes stored(deflateBound(&z, static_cast<uLong>(file.size())));
  z.next_in = const_cast<Bytef*>(file.data());
  z.avail_in = static_cast<uInt>(file.size());
  z.next_out = stored.data();
  z.avail_out = static_cast<uInt>(stored.size());
  BOOST_REQUIRE_EQUAL(deflate(&z, Z_FINISH), Z_STREAM_END);
  stored.resize(z.total_out);
  deflateEnd(&z);
  BOOST_REQUIRE_EQUAL(read_idx(dir.write("stored.gz", stored)).to_vector<std::int64_t>()[11], (11 * 7) % 256);
  stored[stored.size() - 9] ^= 0x40;  // the last data byte
  const std::string ps = dir.write("stored_flipped.gz", stored);
  BOOST_CHECK_EXCEPTION(read_idx(ps), Error, message_has({"read_idx: '" + ps + "'", "incorrect data check"}));
}

BOOST_AUTO_TEST_CASE(gzip_members_padding_and_trailing_garbage) {
  TempDir dir;
  const Bytes file = make_idx({2, 10}, iota_bytes(20, 3));
  const auto expected = read_idx(dir.write("plain", file)).to_vector<std::int64_t>();
  // Concatenated members are one stream (RFC 1952; gzip -d and Python's gzip agree).
  const Bytes two = concat(gzip(Bytes(file.begin(), file.begin() + 9)), gzip(Bytes(file.begin() + 9, file.end())));
  BOOST_CHECK((read_idx(dir.write("two.gz", two)).to_vector<std::int64_t>() == expected));
  // Zero padding after the last member is ignored (as Python's gzip module does).
  BOOST_CHECK(
      (read_idx(dir.write("padded.gz", concat(gzip(file), Bytes(100, 0)))).to_vector<std::int64_t>() == expected));
  // Anything else after the stream is an error (gzread used to skip it silently).
  const Bytes gz = gzip(file);
  const std::string pg = dir.write("garbage.gz", concat(gz, {'j', 'u', 'n', 'k'}));
  BOOST_CHECK_EXCEPTION(read_idx(pg), Error,
                        message_has({"read_idx: '" + pg + "' is not a valid gzip file: trailing garbage (byte 0x6a)",
                                     fmt::format("at compressed byte {}", gz.size())}));
  const std::string pz = dir.write("zeros_garbage.gz", concat(gz, {0, 0, 0, 7}));
  BOOST_CHECK_EXCEPTION(read_idx(pz), Error,
                        message_has({"trailing garbage (byte 0x07)", fmt::format("byte {}", gz.size() + 3)}));
  // A second "member" with a bad header.
  const std::string pm = dir.write("bad_member.gz", concat(gz, {0x1f, 0x00, 0x08, 0x00}));
  BOOST_CHECK_EXCEPTION(read_idx(pm), Error, message_has({"is not a valid gzip file: incorrect header check"}));
  // A second member that adds IDX data beyond the declared size: trailing data.
  const std::string px = dir.write("extra_member.gz", concat(gz, gzip({1, 2, 3})));
  BOOST_CHECK_EXCEPTION(read_idx(px), Error,
                        message_has({"has trailing data: expected 32 bytes (uncompressed)", "got 35"}));
}

BOOST_AUTO_TEST_CASE(trailing_data_bomb_stops_early) {
  // A valid header followed by 16 MiB of zeros (16 KiB compressed): reported after decoding
  // about 1 MiB of the excess, not all of it.
  TempDir dir;
  Bytes file = make_idx({4}, {1, 2, 3, 4});
  file.resize(file.size() + (std::size_t{16} << 20), 0);
  const std::string p = dir.write("bomb.gz", gzip(file));
  const auto t0 = std::chrono::steady_clock::now();
  BOOST_CHECK_EXCEPTION(read_idx(p), Error,
                        message_has({"has trailing data: expected 12 bytes (uncompressed)", "got at least 1048588"}));
  BOOST_CHECK_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 0.5);
}

BOOST_AUTO_TEST_CASE(size_limit_is_checked_from_the_header) {
  // Regression: 1 MiB of zeros behind a header claiming [1024, 1024, 1024] = 2^30 bytes became
  // a 4 GiB float32 tensor, or std::bad_alloc as int64. Now the header alone is rejected:
  // were the data decompressed first, this would be a "truncated" error instead.
  TempDir dir;
  constexpr std::uint64_t kDefault = 4 * std::uint64_t{60000} * 28 * 28;
  BOOST_CHECK_EQUAL(kIdxDefaultMaxBytes, kDefault);
  BOOST_CHECK_EQUAL(kIdxDefaultMaxBytes, 188160000u);
  BOOST_CHECK_EQUAL(IdxOptions().max_bytes_, kDefault);
  BOOST_CHECK(IdxOptions().dtype_ == int64);
  BOOST_CHECK_EQUAL(MNISTOptions().max_idx_bytes_, kDefault);
  const Bytes file = make_idx({1024, 1024, 1024}, Bytes(std::size_t{1} << 20, 0));
  const std::string gz = dir.write("bomb.gz", gzip(file));
  const std::string plain = dir.write("bomb", file);
  const auto t0 = std::chrono::steady_clock::now();
  for (const std::string& p : {gz, plain})
    for (Dtype dt : {int64, float32}) {
      BOOST_TEST_CONTEXT(p << " " << dtype_name(dt)) {
        BOOST_CHECK_EXCEPTION(
            read_idx(p, dt), Error,
            message_has({"read_idx: '" + p + "'", "declared dims [1024, 1024, 1024] need 1073741824 data bytes",
                         "more than the size limit of 188160000 bytes", "IdxOptions::max_bytes"}));
      }
    }
  BOOST_CHECK_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 0.5);
  // With the limit raised, the data is read as it arrives: a clean "truncated" error after
  // 1 MiB, no 4 GiB allocation.
  BOOST_CHECK_EXCEPTION(read_idx(gz, IdxOptions().max_bytes(std::uint64_t{1} << 30)), Error,
                        message_has({"is truncated: expected 1073741840 bytes (uncompressed)", "got 1048592"}));
}

BOOST_AUTO_TEST_CASE(size_limit_is_configurable) {
  TempDir dir;
  const Bytes data = iota_bytes(100, 3);
  for (bool gz : {false, true}) {
    BOOST_TEST_CONTEXT("gzipped " << gz) {
      const std::string p =
          gz ? dir.write("ten.gz", gzip(make_idx({10, 10}, data))) : dir.write("ten", make_idx({10, 10}, data));
      // Exactly at the limit: fine; options carry the dtype too.
      Tensor t = read_idx(p, IdxOptions().max_bytes(100).dtype(float64));
      BOOST_CHECK(t.dtype() == float64);
      BOOST_CHECK(t.shape() == Shape({10, 10}));
      BOOST_CHECK_EQUAL(t.to_vector<double>()[99], static_cast<double>(data[99]));
      BOOST_CHECK_EXCEPTION(read_idx(p, IdxOptions().max_bytes(99)), Error,
                            message_has({"read_idx: '" + p + "': declared dims [10, 10] need 100 data bytes",
                                         "more than the size limit of 99 bytes"}));
      BOOST_CHECK_EXCEPTION(read_idx(p, IdxOptions().max_bytes(0)), Error,
                            message_has({"more than the size limit of 0 bytes"}));
    }
  }
  // The datasets pass MnistOptions::max_idx_bytes on to every file they read.
  write_split(dir, "train", 5, true);  // images [5, 4, 3]: 60 bytes, labels [5]: 5 bytes
  BOOST_CHECK_EQUAL(MNIST(dir.path.string(), true, MNISTOptions().max_idx_bytes(60)).size(), 5);
  BOOST_CHECK_EXCEPTION(MNIST(dir.path.string(), true, MNISTOptions().max_idx_bytes(59)), Error,
                        message_has({"train-images-idx3-ubyte.gz': declared dims [5, 4, 3] need 60 data bytes",
                                     "more than the size limit of 59 bytes", "MnistOptions::max_idx_bytes"}));
  BOOST_CHECK_EXCEPTION(FashionMNIST(dir.path.string(), true, FashionMNISTOptions().normalize().max_idx_bytes(4)),
                        Error, message_has({"more than the size limit of 4 bytes"}));
}

BOOST_AUTO_TEST_CASE(element_count_overflow_is_an_error) {
  // dims [2^31, 4, 2^31] multiply to exactly 2^64, which wraps a uint64 to 0: the old
  // product check passed and the reader went on with a bogus element count.
  TempDir dir;
  const IdxOptions no_limit = IdxOptions().max_bytes(std::numeric_limits<std::uint64_t>::max());
  const std::uint32_t two31 = std::uint32_t{1} << 31;
  const std::vector<std::vector<std::uint32_t>> cases = {{two31, 4, two31},
                                                         {two31, two31, two31, two31},
                                                         {0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu},
                                                         {1u << 16, 1u << 16, 1u << 16, 2}};
  for (bool gz : {false, true})
    for (const auto& dims : cases) {
      BOOST_TEST_CONTEXT("gzipped " << gz << " dims " << fmt::format("{}", dims)) {
        const Bytes file = make_idx(dims, {});  // no data: only the header can reject it
        const std::string p = gz ? dir.write("ovf.gz", gzip(file)) : dir.write("ovf", file);
        BOOST_CHECK_EXCEPTION(read_idx(p, no_limit), Error,
                              message_has({"read_idx: '" + p + "': declared dims " + fmt::format("{}", dims),
                                           "describe more than 2^48 elements"}));
        // With the default limit the limit check names the same dims.
        BOOST_CHECK_EXCEPTION(read_idx(p), Error, message_has({"declared dims " + fmt::format("{}", dims)}));
      }
    }
}

BOOST_AUTO_TEST_CASE(arbitrary_corruption_throws_only_xgrad_error) {
  // Every prefix of a plain and a gzipped file and many random byte flips, with the default
  // and with no size limit: each read either succeeds with the declared shape or throws
  // xgrad::Error; nothing else escapes (no std::bad_alloc, no crash).
  TempDir dir;
  const Bytes file = make_idx({3, 5, 7}, iota_bytes(105, 13));
  const Bytes gz = gzip(file);
  const IdxOptions no_limit = IdxOptions().max_bytes(std::numeric_limits<std::uint64_t>::max());
  int loaded = 0, errors = 0, others = 0;
  auto attempt = [&](const Bytes& bytes, const char* name) {
    const std::string p = dir.write(name, bytes);
    for (const IdxOptions& options : {IdxOptions(), no_limit}) {
      try {
        Tensor t = read_idx(p, options);
        BOOST_CHECK_EQUAL(t.numel(), shape_numel(t.shape()));
        ++loaded;
      } catch (const Error&) {
        ++errors;
      } catch (const std::exception& e) {
        ++others;
        BOOST_ERROR("non-xgrad exception: " << e.what());
      }
    }
  };
  for (const Bytes* b : {&file, &gz})
    for (std::size_t n = 0; n < b->size(); ++n)
      attempt(Bytes(b->begin(), b->begin() + static_cast<std::ptrdiff_t>(n)), "prefix");
  std::uint32_t s = 2024;
  auto next = [&] { return (s = s * 1664525u + 1013904223u) >> 8; };
  for (int i = 0; i < 400; ++i) {
    Bytes b = i % 2 ? gz : file;
    const int flips = 1 + static_cast<int>(next() % 3);
    for (int k = 0; k < flips; ++k) b[next() % b.size()] ^= static_cast<std::uint8_t>(1 + next() % 255);
    attempt(b, i % 2 ? "flip.gz" : "flip");
  }
  BOOST_CHECK_EQUAL(others, 0);
  BOOST_CHECK_GT(errors, 0);
  BOOST_TEST_MESSAGE("corruption: " << loaded << " loaded, " << errors << " xgrad::Error");
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
