#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "test_util.hpp"
#include "xgrad/autograd/serialize.hpp"

using namespace xgrad;
namespace fs = std::filesystem;

namespace {

// 8-byte little-endian length + header + data: a safetensors file built by hand.
std::string make_file(const std::string& header, const std::string& data = "") {
  std::string out;
  std::uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  return out + header + data;
}

std::string raw_length(std::uint64_t n) {
  std::string out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  return out;
}

// Bit-for-bit equality of shape, dtype and data.
void check_identical(const Tensor& a, const Tensor& b) {
  BOOST_REQUIRE(a.defined() && b.defined());
  BOOST_CHECK(a.dtype() == b.dtype());
  BOOST_CHECK(a.shape() == b.shape());
  const auto n = static_cast<std::size_t>(a.numel()) * dtype_size(a.dtype());
  BOOST_REQUIRE_EQUAL(a.numel(), b.numel());
  if (n > 0) BOOST_CHECK(std::memcmp(a.impl()->storage->data, b.impl()->storage->data, n) == 0);
}

// A fresh, empty directory removed at scope exit.
struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / fmt::format("xgrad_serialize_{}_{}", ::getpid(), random_u64());
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::vector<std::string> entries() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(path)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }
};

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(serialize)

BOOST_AUTO_TEST_CASE(round_trip_all_dtypes_and_shapes) {
  manual_seed(7);
  Tensor f32 = randn({3, 4});
  Tensor f64 = randn({2, 3, 2}, dtype(float64));
  // Special values must survive bit for bit: NaN payloads, infinities, -0, subnormals.
  Tensor special = from_vector<double>(
      {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
       -std::numeric_limits<double>::infinity(), -0.0, std::numeric_limits<double>::denorm_min(), 1e308});
  Tensor i64 = from_vector<std::int64_t>(
      {std::numeric_limits<std::int64_t>::min(), -1, 0, 1, std::numeric_limits<std::int64_t>::max(), 42}, {2, 3});
  Tensor scalar = scalar_tensor(3.25);
  Tensor scalar_i = scalar_tensor(-7, dtype(int64));
  Tensor empty1 = zeros({0});
  Tensor empty3 = zeros({2, 0, 3}, dtype(float64));
  Tensor grad_leaf = randn({5}).requires_grad_(true);  // requires_grad does not matter for the file

  TensorDict dict{{"f32", f32},       {"f64", f64},       {"special", special},
                  {"i64", i64},       {"scalar", scalar}, {"scalar_i", scalar_i},
                  {"empty1", empty1}, {"empty3", empty3}, {"layer.0.weight", grad_leaf}};
  Metadata meta{{"format", "pt"}, {"note", "quote \" backslash \\ newline \n unicode \xc3\xa9"}, {"", "empty key"}};

  const std::string bytes = to_safetensors_bytes(dict, meta);
  const SafetensorsFile file = from_safetensors_bytes(bytes);
  BOOST_CHECK(file.metadata == meta);
  BOOST_REQUIRE_EQUAL(file.tensors.size(), dict.size());
  for (const auto& [name, t] : dict) {
    BOOST_TEST_CONTEXT("tensor " << name) {
      BOOST_REQUIRE(file.tensors.count(name) == 1);
      const Tensor& got = file.tensors.at(name);
      check_identical(got, t);
      BOOST_CHECK(!got.requires_grad());
    }
  }
  BOOST_CHECK_EQUAL(file.tensors.at("scalar").dim(), 0);
  BOOST_CHECK(file.tensors.at("empty3").shape() == (Shape{2, 0, 3}));
  // Loaded tensors own their data: writing to them does not touch the originals.
  file.tensors.at("f32").data_ptr<float>()[0] += 1.0f;
  BOOST_CHECK(f32.data_ptr<float>()[0] != file.tensors.at("f32").data_ptr<float>()[0]);

  // Serialising what was read gives the same bytes (deterministic writer).
  BOOST_CHECK(to_safetensors_bytes(from_safetensors_bytes(bytes).tensors, meta) == bytes);
}

BOOST_AUTO_TEST_CASE(empty_dict_and_no_metadata) {
  const std::string bytes = to_safetensors_bytes({});
  // "{}" padded to 8 bytes.
  BOOST_CHECK(bytes == make_file("{}      "));
  const auto file = from_safetensors_bytes(bytes);
  BOOST_CHECK(file.tensors.empty());
  BOOST_CHECK(file.metadata.empty());
}

BOOST_AUTO_TEST_CASE(exact_byte_layout) {
  // One float32 tensor [1, 2]: the header is 54 bytes of JSON padded with two spaces to 56,
  // so the data starts at 8 + 56 = 64 (8-byte aligned). 1.0f = 0x3f800000, 2.0f = 0x40000000.
  TensorDict dict{{"a", tensor({1.0, 2.0})}};
  const std::string json = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  BOOST_REQUIRE_EQUAL(json.size(), 54u);
  const std::string data("\x00\x00\x80\x3f\x00\x00\x00\x40", 8);
  const std::string expected = std::string("\x38\0\0\0\0\0\0\0", 8) + json + "  " + data;
  BOOST_CHECK(to_safetensors_bytes(dict) == expected);

  // With metadata and two tensors (name order, contiguous data; i64 7 then f64 0.5).
  TensorDict two{{"z", from_vector<std::int64_t>({7})}, {"b", scalar_tensor(0.5, dtype(float64))}};
  const std::string json2 = R"({"__metadata__":{"k":"v"},"b":{"dtype":"F64","shape":[],"data_offsets":[0,8]},)"
                            R"("z":{"dtype":"I64","shape":[1],"data_offsets":[8,16]}})";
  std::string padded2 = json2;
  padded2.append((8 - padded2.size() % 8) % 8, ' ');
  const std::string data2 = std::string("\0\0\0\0\0\0\xe0\x3f", 8) + std::string("\x07\0\0\0\0\0\0\0", 8);
  const std::string got2 = to_safetensors_bytes(two, {{"k", "v"}});
  BOOST_CHECK(got2 == make_file(padded2, data2));
  BOOST_CHECK_EQUAL((8 + padded2.size()) % 8, 0u);

  // Header alignment holds for every name length.
  for (int len = 1; len <= 17; ++len) {
    const std::string b = to_safetensors_bytes({{std::string(len, 'n'), zeros({3})}});
    std::uint64_t n = 0;
    std::memcpy(&n, b.data(), 8);
    BOOST_CHECK_EQUAL(n % 8, 0u);
    BOOST_CHECK_EQUAL(b.size(), 8 + n + 12);
  }
}

BOOST_AUTO_TEST_CASE(reads_headers_in_other_layouts) {
  // Keys in another order, no padding, whitespace inside, metadata last, tensors stored in
  // the data section in the opposite order to their names: all valid safetensors.
  const std::string json = R"({ "y" : {"data_offsets":[0,4],"shape":[1],"dtype":"F32"}, "x":{"shape":[1,1],)"
                           R"("dtype":"F64","data_offsets":[4,12]}, "__metadata__":{"format":"np"}})";
  const std::string data = std::string("\x00\x00\x40\x40", 4) + std::string("\0\0\0\0\0\0\x10\x40", 8);  // 3f, 4.0
  const auto file = from_safetensors_bytes(make_file(json, data));
  BOOST_REQUIRE_EQUAL(file.tensors.size(), 2u);
  BOOST_CHECK(file.tensors.at("y").dtype() == float32);
  BOOST_CHECK_EQUAL(file.tensors.at("y").item<double>(), 3.0);
  BOOST_CHECK(file.tensors.at("x").shape() == (Shape{1, 1}));
  BOOST_CHECK_EQUAL(file.tensors.at("x").item<double>(), 4.0);
  BOOST_CHECK_EQUAL(file.metadata.at("format"), "np");

  // Zero-byte tensors may share an offset with each other and with a neighbour.
  const std::string json2 =
      R"({"e1":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"e2":{"dtype":"I64","shape":[3,0],)"
      R"("data_offsets":[0,0]},"v":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  const auto file2 = from_safetensors_bytes(make_file(json2, std::string("\0\0\x80\x3f", 4)));
  BOOST_CHECK_EQUAL(file2.tensors.at("e1").numel(), 0);
  BOOST_CHECK(file2.tensors.at("e2").shape() == (Shape{3, 0}));
  BOOST_CHECK_EQUAL(file2.tensors.at("v").item<double>(), 1.0);
}

BOOST_AUTO_TEST_CASE(corrupt_inputs_are_rejected) {
  const std::string ok_entry = R"("x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  const std::string eight(8, '\0');
  struct Case {
    const char* what;
    std::string bytes;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"empty file", "", "0 bytes is too short to hold the 8-byte header length"},
      {"fewer than 8 bytes", std::string("\x05\0\0\0\0", 5), "5 bytes is too short"},
      {"header length larger than the file", raw_length(1000) + "{}", "header length 1000 is larger than the 2 bytes"},
      {"absurd header length", raw_length(std::uint64_t(1) << 62) + "{}", "exceeds the 100000000 byte limit"},
      {"invalid JSON", make_file(R"({"x":{"dtype":)"), "the header is not valid JSON"},
      {"JSON array", make_file("[1, 2]"), "the header must be a JSON object starting with '{', got byte 0x5b"},
      {"JSON string", make_file(R"("hello")"), "the header must be a JSON object starting with '{', got byte 0x22"},
      {"trailing garbage after JSON", make_file("{} x"), "byte 0x78 at header offset 3 follows the JSON object"},
      {"entry not an object", make_file(R"({"x":5})"), "tensor 'x': expected a JSON object, got number"},
      {"unknown dtype", make_file(R"({"x":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}})", "abcd"),
       "unknown dtype 'BF16' for tensor 'x'"},
      {"dtype not a string", make_file(R"({"x":{"dtype":4,"shape":[1],"data_offsets":[0,4]}})", "abcd"),
       "tensor 'x': 'dtype' must be a string"},
      {"missing dtype", make_file(R"({"x":{"shape":[1],"data_offsets":[0,4]}})", "abcd"),
       "tensor 'x': missing 'dtype'"},
      {"missing shape", make_file(R"({"x":{"dtype":"F32","data_offsets":[0,4]}})", "abcd"),
       "tensor 'x': missing 'shape'"},
      {"shape not an array", make_file(R"({"x":{"dtype":"F32","shape":4,"data_offsets":[0,4]}})", "abcd"),
       "tensor 'x': 'shape' must be an array"},
      {"missing data_offsets", make_file(R"({"x":{"dtype":"F32","shape":[1]}})", "abcd"),
       "tensor 'x': missing 'data_offsets'"},
      {"negative shape entry", make_file(R"({"x":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", "abcd"),
       "tensor 'x': shape entries must be non-negative, got -1"},
      {"fractional shape entry", make_file(R"({"x":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", "abcd"),
       "tensor 'x': shape entries must be integers, got 1.5"},
      {"shape product overflows",
       make_file(R"({"x":{"dtype":"F64","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,8]}})", eight),
       "tensor 'x': shape [4294967296, 4294967296, 4294967296] overflows the byte count"},
      {"data_offsets with three entries", make_file(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}})"),
       "tensor 'x': 'data_offsets' must be an array [begin, end]"},
      {"negative offset", make_file(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}})", "abcd"),
       "tensor 'x': data_offsets entries must be non-negative"},
      {"offsets out of range", make_file("{" + ok_entry + "}", "abcd"),
       "tensor 'x': data_offsets [0, 8] out of range: the data section has 4 bytes"},
      {"begin > end", make_file(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}})", eight),
       "tensor 'x': data_offsets [8, 4] have begin > end"},
      {"shape/byte-count mismatch", make_file(R"({"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", eight),
       "tensor 'x': shape [3] with dtype F32 needs 12 bytes but data_offsets [0, 8] span 8 bytes"},
      {"overlapping offsets",
       make_file("{" + ok_entry + R"(,"y":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", eight),
       "tensors 'x' [0, 8] and 'y' [4, 8] have overlapping data_offsets"},
      {"identical offsets",
       make_file(R"({"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},"b":{"dtype":"F64","shape":[],)"
                 R"("data_offsets":[0,8]}})",
                 eight),
       "have overlapping data_offsets"},
      {"gap between tensors", make_file(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", eight),
       "tensor 'x' starts at byte 4 but the previous tensor ends at 0"},
      {"truncated data section", make_file("{" + ok_entry + "}", "abcdef"),
       "out of range: the data section has 6 bytes"},
      {"trailing bytes after the data", make_file("{" + ok_entry + "}", eight + "xx"),
       "the data section has 10 bytes but the tensors cover 8"},
      {"metadata not an object", make_file(R"({"__metadata__":["a"]})"), "'__metadata__' must be an object of strings"},
      {"metadata value not a string", make_file(R"({"__metadata__":{"epoch":3}})"),
       "'__metadata__' value for key 'epoch' is not a string: 3"},
  };
  BOOST_CHECK_GE(cases.size(), 12u);
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.what) { XGRAD_CHECK_THROW_MSG(from_safetensors_bytes(c.bytes), c.message); }
  }

  // Every truncation of a valid file is rejected (never read out of bounds).
  const std::string good =
      to_safetensors_bytes({{"w", randn({3, 2})}, {"i", from_vector<std::int64_t>({1, 2})}}, {{"m", "v"}});
  for (std::size_t len = 0; len < good.size(); ++len) {
    BOOST_TEST_CONTEXT("truncated to " << len) {
      BOOST_CHECK_THROW(from_safetensors_bytes(std::string_view(good).substr(0, len)), Error);
    }
  }
}

BOOST_AUTO_TEST_CASE(writer_rejects_bad_input) {
  XGRAD_CHECK_THROW_MSG(to_safetensors_bytes({{"", zeros({1})}}), "tensor names must not be empty");
  XGRAD_CHECK_THROW_MSG(to_safetensors_bytes({{"w", Tensor()}}), "tensor 'w' is undefined");
  XGRAD_CHECK_THROW_MSG(to_safetensors_bytes({{"__metadata__", zeros({1})}}), "'__metadata__' is reserved");
  XGRAD_CHECK_THROW_MSG(to_safetensors_bytes({{"w\xff", zeros({1})}}), "must be valid UTF-8");
  XGRAD_CHECK_THROW_MSG(to_safetensors_bytes({}, {{"k", "bad \xc3"}}), "must be valid UTF-8");
}

BOOST_AUTO_TEST_CASE(save_and_load_files) {
  TempDir dir;
  const std::string path = (dir.path / "model.safetensors").string();
  TensorDict dict{{"w", randn({4, 4})}, {"b", zeros({4})}, {"step", scalar_tensor(12, dtype(int64))}};
  save_safetensors(path, dict, {{"epoch", "3"}});
  BOOST_CHECK(read_all(path) == to_safetensors_bytes(dict, {{"epoch", "3"}}));
  const auto file = load_safetensors(path);
  for (const auto& [name, t] : dict) check_identical(file.tensors.at(name), t);
  BOOST_CHECK_EQUAL(file.metadata.at("epoch"), "3");
  BOOST_CHECK(dir.entries() == std::vector<std::string>{"model.safetensors"});
}

BOOST_AUTO_TEST_CASE(atomic_overwrite) {
  TempDir dir;
  const std::string path = (dir.path / "ckpt.safetensors").string();
  // A large file first, then a small one over it: no byte of the old file may remain.
  save_safetensors(path, {{"big", randn({64, 64})}}, {{"v", "1"}});
  const auto big_size = fs::file_size(path);
  TensorDict small{{"s", tensor({1.0, 2.0})}};
  save_safetensors(path, small);
  BOOST_CHECK_LT(fs::file_size(path), big_size);
  BOOST_CHECK(read_all(path) == to_safetensors_bytes(small));
  const auto file = load_safetensors(path);
  BOOST_CHECK_EQUAL(file.tensors.size(), 1u);
  BOOST_CHECK(file.metadata.empty());
  BOOST_CHECK(dir.entries() == std::vector<std::string>{"ckpt.safetensors"});  // no temp files left

  // Failures leave the previous checkpoint intact and no temporary file behind.
  BOOST_CHECK_THROW(save_safetensors(path, {{"bad", Tensor()}}), Error);
  BOOST_CHECK(read_all(path) == to_safetensors_bytes(small));
  const std::string sub = (dir.path / "adir").string();
  fs::create_directory(sub);  // renaming a file over a directory fails
  XGRAD_CHECK_THROW_MSG(save_safetensors(sub, small), fmt::format("save_safetensors: cannot write '{}'", sub));
  BOOST_CHECK(fs::is_directory(sub));
  BOOST_CHECK((dir.entries() == std::vector<std::string>{"adir", "ckpt.safetensors"}));
}

BOOST_AUTO_TEST_CASE(io_errors_name_the_path) {
  TempDir dir;
  const std::string missing_dir = (dir.path / "no" / "such" / "dir" / "m.safetensors").string();
  XGRAD_CHECK_THROW_MSG(save_safetensors(missing_dir, {{"a", zeros({1})}}),
                        fmt::format("save_safetensors: cannot write '{}'", missing_dir));
  BOOST_CHECK(dir.entries().empty());

  const std::string missing = (dir.path / "missing.safetensors").string();
  XGRAD_CHECK_THROW_MSG(load_safetensors(missing), fmt::format("load_safetensors: cannot open '{}'", missing));
  XGRAD_CHECK_THROW_MSG(load_safetensors(dir.path.string()), "is not a regular file");

  // A corrupt file: the parser's message, prefixed with the path.
  const std::string corrupt = (dir.path / "corrupt.safetensors").string();
  {
    std::ofstream out(corrupt, std::ios::binary);
    out << make_file(R"({"x":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]}})", "ab");
  }
  XGRAD_CHECK_THROW_MSG(
      load_safetensors(corrupt),
      fmt::format("load_safetensors: '{}': safetensors: unknown dtype 'BF16' for tensor 'x'", corrupt));
}

BOOST_AUTO_TEST_CASE(deep_nesting_is_rejected_before_parsing) {
  // 65k levels used to overflow the stack (the error message dumps the offending value
  // recursively); the depth is now bounded by a linear scan first, as the reference reader
  // bounds it at 128.
  const std::string limit_msg = "safetensors: the header nests deeper than 128 levels";
  XGRAD_CHECK_THROW_MSG(from_safetensors_bytes(make_file(R"({"a":)" + std::string(65536, '['))), limit_msg);
  const std::string deep_shape = R"({"x":{"dtype":"F32","shape":)" + std::string(65536, '[') + std::string(65536, ']') +
                                 R"(,"data_offsets":[0,0]}})";
  XGRAD_CHECK_THROW_MSG(from_safetensors_bytes(make_file(deep_shape)), limit_msg);
  XGRAD_CHECK_THROW_MSG(from_safetensors_bytes(make_file(std::string(65536, '{'))), limit_msg);

  // Exactly 128 levels (the top object and 127 arrays) pass the scan and reach the usual checks;
  // one more does not.
  const auto nested = [](int arrays) {
    return make_file(R"({"a":)" + std::string(arrays, '[') + std::string(arrays, ']') + "}");
  };
  XGRAD_CHECK_THROW_MSG(from_safetensors_bytes(nested(127)), "tensor 'a': expected a JSON object, got array");
  XGRAD_CHECK_THROW_MSG(from_safetensors_bytes(nested(128)), "deeper than 128 levels (at header offset 132)");

  // Brackets inside strings, escaped quotes included, are not nesting.
  const std::string in_string = R"({"__metadata__":{"k":"\"[{)" + std::string(1000, '[') + R"(\\"}})";
  BOOST_CHECK_EQUAL(from_safetensors_bytes(make_file(in_string)).metadata.at("k"),
                    "\"[{" + std::string(1000, '[') + "\\");

  TempDir dir;
  const std::string path = (dir.path / "deep.safetensors").string();
  {
    std::ofstream out(path, std::ios::binary);
    out << make_file(deep_shape);
  }
  XGRAD_CHECK_THROW_MSG(load_safetensors(path), fmt::format("load_safetensors: '{}': {}", path, limit_msg));
}

BOOST_AUTO_TEST_CASE(header_framing_follows_the_format) {
  const std::string entry = R"("x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]})";
  const std::string data("\0\0\x80\x3f", 4);
  // Only spaces may follow the closing brace inside the declared header length.
  BOOST_CHECK_EQUAL(from_safetensors_bytes(make_file("{" + entry + "}   ", data)).tensors.size(), 1u);
  XGRAD_CHECK_THROW_MSG(from_safetensors_bytes(make_file("{" + entry + std::string("}\0garbage", 9), data)),
                        "safetensors: byte 0x00 at header offset 54 follows the JSON object");
  XGRAD_CHECK_THROW_MSG(from_safetensors_bytes(make_file(std::string("{}\0", 3))),
                        "byte 0x00 at header offset 2 follows the JSON object");
  XGRAD_CHECK_THROW_MSG(from_safetensors_bytes(make_file("{}\n")), "byte 0x0a at header offset 2");
  XGRAD_CHECK_THROW_MSG(from_safetensors_bytes(make_file("{} {}")), "byte 0x7b at header offset 3");

  // The header must start with '{': no leading whitespace, no byte-order mark, not empty.
  XGRAD_CHECK_THROW_MSG(from_safetensors_bytes(make_file(" {" + entry + "}", data)),
                        "safetensors: the header must be a JSON object starting with '{', got byte 0x20");
  XGRAD_CHECK_THROW_MSG(from_safetensors_bytes(make_file("\xef\xbb\xbf{" + entry + "}", data)),
                        "safetensors: the header must be a JSON object starting with '{', got byte 0xef");
  XGRAD_CHECK_THROW_MSG(from_safetensors_bytes(make_file("")),
                        "safetensors: the header must be a JSON object starting with '{', got an empty header");
}

BOOST_AUTO_TEST_CASE(duplicate_keys_are_rejected) {
  // Used to keep the last "x" and complain about a gap in the data section instead.
  const std::string eight(8, '\0');
  XGRAD_CHECK_THROW_MSG(from_safetensors_bytes(make_file(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                                         R"("x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                                                         eight)),
                        "safetensors: duplicate key 'x' in the header");
  XGRAD_CHECK_THROW_MSG(from_safetensors_bytes(make_file(R"({"__metadata__":{"a":"1"},"__metadata__":{"b":"2"}})")),
                        "safetensors: duplicate key '__metadata__' in the header");
  XGRAD_CHECK_THROW_MSG(from_safetensors_bytes(make_file(R"({"__metadata__":{"a":"1","a":"2"}})")),
                        "safetensors: duplicate key 'a' in the header");
  XGRAD_CHECK_THROW_MSG(
      from_safetensors_bytes(
          make_file(R"({"x":{"dtype":"F32","dtype":"F64","shape":[1],"data_offsets":[0,4]}})", eight.substr(0, 4))),
      "safetensors: duplicate key 'dtype' in the header");
  // The same key in different objects is fine.
  const auto file = from_safetensors_bytes(
      make_file(R"({"__metadata__":{"x":"1"},"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", eight.substr(4)));
  BOOST_CHECK_EQUAL(file.metadata.at("x"), "1");
  BOOST_CHECK_EQUAL(file.tensors.count("x"), 1u);
}

BOOST_AUTO_TEST_CASE(empty_tensor_name_is_rejected) {
  // The writer refuses an empty name, so the reader does too.
  XGRAD_CHECK_THROW_MSG(from_safetensors_bytes(make_file(R"({"":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}})")),
                        "safetensors: empty tensor name in the header");
  // An empty metadata key is allowed (metadata is a free string map).
  BOOST_CHECK_EQUAL(from_safetensors_bytes(make_file(R"({"__metadata__":{"":"v"}})")).metadata.at(""), "v");
}

BOOST_AUTO_TEST_CASE(zero_element_shapes_with_huge_dims) {
  // [2^62, 0] has 0 elements, which the format allows: a zero dimension makes the count 0
  // however large the others are (multiplying left to right used to report an overflow).
  const std::int64_t big = std::int64_t(1) << 62;
  const auto file =
      from_safetensors_bytes(make_file(R"({"e":{"dtype":"F32","shape":[4611686018427387904,0],"data_offsets":[0,0]},)"
                                       R"("f":{"dtype":"I64","shape":[0,9223372036854775807],"data_offsets":[0,0]}})"));
  const Tensor& e = file.tensors.at("e");
  BOOST_CHECK(e.shape() == (Shape{big, 0}));
  BOOST_CHECK_EQUAL(e.numel(), 0);
  BOOST_CHECK(e.dtype() == float32);
  BOOST_CHECK(file.tensors.at("f").shape() == (Shape{0, std::numeric_limits<std::int64_t>::max()}));
  BOOST_CHECK_EQUAL(file.tensors.at("f").numel(), 0);
  // They survive a round trip.
  const auto again = from_safetensors_bytes(to_safetensors_bytes(file.tensors));
  BOOST_CHECK(again.tensors.at("e").shape() == (Shape{big, 0}));

  // A true product that overflows is still an error.
  XGRAD_CHECK_THROW_MSG(from_safetensors_bytes(
                            make_file(R"({"e":{"dtype":"F32","shape":[4611686018427387904,1],"data_offsets":[0,0]}})")),
                        "tensor 'e': shape [4611686018427387904, 1] overflows the byte count");
}

BOOST_AUTO_TEST_CASE(save_removes_stale_temporaries) {
  TempDir dir;
  const std::string path = (dir.path / "m.safetensors").string();
  // A pid that no longer exists: a child that has exited and been reaped.
  const pid_t dead = ::fork();
  BOOST_REQUIRE(dead >= 0);
  if (dead == 0) ::_exit(0);
  int status = 0;
  BOOST_REQUIRE_EQUAL(::waitpid(dead, &status, 0), dead);

  const auto touch = [&](const std::string& name) { std::ofstream(dir.path / name, std::ios::binary) << "partial"; };
  const std::string stale = fmt::format("m.safetensors.xgrad-tmp.{}.0", dead);
  const std::string stale2 = fmt::format("m.safetensors.xgrad-tmp.{}.17", dead);
  // Kept: a live process's temporary (pid 1 always exists), another file's, look-alikes.
  const std::string live = "m.safetensors.xgrad-tmp.1.3";
  const std::string other = fmt::format("n.safetensors.xgrad-tmp.{}.0", dead);
  const std::string lookalike = fmt::format("m.safetensors.xgrad-tmp.{}.0.bak", dead);
  const std::string lookalike2 = fmt::format("m.safetensors.xgrad-tmp.{}.", dead);
  for (const auto& name : {stale, stale2, live, other, lookalike, lookalike2}) touch(name);

  const TensorDict dict{{"w", tensor({1.0, 2.0})}};
  save_safetensors(path, dict);
  std::vector<std::string> want{"m.safetensors", live, other, lookalike, lookalike2};
  std::sort(want.begin(), want.end());
  BOOST_CHECK(dir.entries() == want);
  BOOST_CHECK(read_all(path) == to_safetensors_bytes(dict));
  check_identical(load_safetensors(path).tensors.at("w"), dict.at("w"));

  // This process's temporaries carry the recognisable name (seen in a failed rename's message).
  const std::string sub = (dir.path / "adir").string();
  fs::create_directory(sub);
  XGRAD_CHECK_THROW_MSG(save_safetensors(sub, dict), fmt::format("rename from '{}.xgrad-tmp.{}.", sub, ::getpid()));
}

BOOST_AUTO_TEST_SUITE_END()
