// Transforms: exact values of every transform on tiny images, their random draws replayed
// from the generator, validation errors, and per-sample seeding inside the DataLoader
// (same batches at every thread count, with or without prefetch; new draws every epoch).
#include <cmath>
#include <cstring>

#include "test_util.hpp"
#include "xgrad/data.hpp"

using namespace xgrad;
using namespace xgrad::data;
using namespace xgrad::test;

namespace {

Tensor img(const Shape& shape, std::vector<double> values) { return from_vector<double>(values, shape); }

/// 0, 1, ..., numel - 1 in float64.
Tensor counting(const Shape& shape) {
  return arange(0, static_cast<double>(shape_numel(shape)), dtype(float64)).reshape(shape);
}

std::vector<double> values(const Tensor& t) { return t.to(float64).to_vector<double>(); }

struct ThreadBudget {
  explicit ThreadBudget(int n) : before_(get_num_threads()) { set_num_threads(n); }
  ~ThreadBudget() { set_num_threads(before_); }
  int before_;
};

bool bit_equal(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  const Tensor ca = a.contiguous().clone(), cb = b.contiguous().clone();
  return std::memcmp(ca.impl()->storage->data, cb.impl()->storage->data,
                     static_cast<std::size_t>(a.numel()) * dtype_size(a.dtype())) == 0;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(transforms)

BOOST_AUTO_TEST_CASE(sample_generator) {
  // for_sample: a pure function of (seed, epoch, position); each coordinate matters.
  auto a = SampleGenerator::for_sample(1, 2, 3), b = SampleGenerator::for_sample(1, 2, 3);
  const auto va = a.next();
  BOOST_CHECK_EQUAL(va, b.next());
  BOOST_CHECK_NE(va, SampleGenerator::for_sample(0, 2, 3).next());
  BOOST_CHECK_NE(va, SampleGenerator::for_sample(1, 3, 3).next());
  BOOST_CHECK_NE(va, SampleGenerator::for_sample(1, 2, 4).next());
  SampleGenerator g(5);
  int counts[3] = {0, 0, 0};
  for (int i = 0; i < 3000; ++i) {
    const double u = g.uniform();
    BOOST_REQUIRE(u >= 0.0 && u < 1.0);
    const auto k = g.randint(4, 7);
    BOOST_REQUIRE(k >= 4 && k < 7);
    ++counts[k - 4];
  }
  for (int c : counts) BOOST_CHECK_MESSAGE(std::abs(c - 1000) < 120, "count " << c);
}

BOOST_AUTO_TEST_CASE(normalize) {
  SampleGenerator g(0);
  // [2, 2, 2]: channel 0 = 0..3, channel 1 = 4..7; (x - mean[c]) / std[c].
  const Tensor x = counting({2, 2, 2});
  check_values(Normalize({1.0, 2.0}, {2.0, 4.0})(x, g), {2, 2, 2}, {-0.5, 0.0, 0.5, 1.0, 0.5, 0.75, 1.0, 1.25});
  // One value for every channel.
  check_values(Normalize({1.0}, {0.5})(x, g), {2, 2, 2}, {-2, 0, 2, 4, 6, 8, 10, 12});
  // [H, W]: one channel.
  check_values(Normalize({3.0}, {-1.0})(img({1, 3}, {1, 2, 3}), g), {1, 3}, {2, 1, 0});
  // float32 stays float32, computed in float: (0.1f - 0.5f) / 0.3f.
  const Tensor f = Normalize({0.5}, {0.3})(img({1, 1, 1}, {0.1}).to(float32), g);
  BOOST_CHECK(f.dtype() == float32);
  BOOST_CHECK_EQUAL(f.to_vector<float>()[0], (0.1f - 0.5f) / 0.3f);
  // [N, C, H, W]: channel = dim -3.
  check_values(Normalize({0.0, 10.0}, {1.0, 1.0})(counting({2, 2, 1, 1}), g), {2, 2, 1, 1}, {0, -9, 2, -7});
  // Non-contiguous input.
  check_values(Normalize({1.0}, {1.0})(counting({1, 2, 2}).transpose(1, 2), g), {1, 2, 2}, {-1, 1, 0, 2});
}

BOOST_AUTO_TEST_CASE(normalize_errors) {
  SampleGenerator g(0);
  XGRAD_CHECK_THROW_MSG(Normalize({}, {1.0}), "Normalize: expected at least one mean value, got none");
  XGRAD_CHECK_THROW_MSG(Normalize({1.0}, {}), "Normalize: expected at least one std value, got none");
  XGRAD_CHECK_THROW_MSG(Normalize({0.5, 0.5}, {0.2, 0.0}),
                        "Normalize: std must be finite and non-zero (it divides), got 0 at position 1");
  XGRAD_CHECK_THROW_MSG(Normalize({INFINITY}, {1.0}), "Normalize: mean must be finite, got inf at position 0");
  const Tensor x = counting({2, 2, 2});
  XGRAD_CHECK_THROW_MSG(Normalize({0.1, 0.2, 0.3}, {1.0})(x, g),
                        "Normalize: mean has 3 values but the image of shape [2, 2, 2] has 2 channel(s)");
  XGRAD_CHECK_THROW_MSG(Normalize({0.1}, {1.0, 2.0, 3.0})(x, g),
                        "Normalize: std has 3 values but the image of shape [2, 2, 2] has 2 channel(s)");
  XGRAD_CHECK_THROW_MSG(Normalize({0.1}, {1.0})(x.to(int64), g),
                        "Normalize: expected a floating-point image, got int64");
  XGRAD_CHECK_THROW_MSG(Normalize({0.1}, {1.0})(counting({4}), g),
                        "Normalize: expected an image of shape [..., C, H, W] or [H, W], got shape [4]");
  XGRAD_CHECK_THROW_MSG(Normalize({0.1}, {1.0})(Tensor(), g), "Normalize: expected a defined image tensor");
}

BOOST_AUTO_TEST_CASE(random_crop_padding_modes) {
  // A crop the size of the padded image draws nothing: the padded image itself.
  // x = [[0, 1, 2], [3, 4, 5]], padded by 2 on the left and right.
  SampleGenerator g(0);
  const Tensor x = counting({1, 2, 3});
  check_values(RandomCrop({2, 7}, {2, 0}, false, -1.0)(x, g), {1, 2, 7},
               {-1, -1, 0, 1, 2, -1, -1, -1, -1, 3, 4, 5, -1, -1});
  check_values(RandomCrop({2, 7}, {2, 0}, false, 0.0, PaddingMode::edge)(x, g), {1, 2, 7},
               {0, 0, 0, 1, 2, 2, 2, 3, 3, 3, 4, 5, 5, 5});
  check_values(RandomCrop({2, 7}, {2, 0}, false, 0.0, PaddingMode::reflect)(x, g), {1, 2, 7},
               {2, 1, 0, 1, 2, 1, 0, 5, 4, 3, 4, 5, 4, 3});
  check_values(RandomCrop({2, 7}, {2, 0}, false, 0.0, PaddingMode::symmetric)(x, g), {1, 2, 7},
               {1, 0, 0, 1, 2, 2, 1, 4, 3, 3, 4, 5, 5, 4});
  // {left, top, right, bottom} = {1, 0, 0, 1} on [H, W] = [[0, 1], [2, 3]], int64 kept.
  const Tensor y = RandomCrop({3, 3}, {1, 0, 0, 1}, false, 9.0)(counting({2, 2}).to(int64), g);
  BOOST_CHECK(y.dtype() == int64);
  check_values(y, {3, 3}, {9, 0, 1, 9, 2, 3, 9, 9, 9});
  // No padding, crop = image: the image.
  check_values(RandomCrop({2, 3})(x, g), {1, 2, 3}, {0, 1, 2, 3, 4, 5});
}

BOOST_AUTO_TEST_CASE(random_crop_window) {
  // x = 3 x 3 counting image, padded by 1 (fill 0), 3 x 3 window at (i, j) drawn as
  // i = randint(0, 3), then j = randint(0, 3):
  const std::vector<std::vector<double>> padded{
      {0, 0, 0, 0, 0}, {0, 0, 1, 2, 0}, {0, 3, 4, 5, 0}, {0, 6, 7, 8, 0}, {0, 0, 0, 0, 0}};
  const Tensor x = counting({2, 3, 3});  // two planes: the second is the first + 9
  RandomCrop crop({3}, {1});
  bool seen[3][3] = {};
  for (std::uint64_t seed = 0; seed < 60; ++seed) {
    SampleGenerator g(seed), replay(seed);
    const auto i = replay.randint(0, 3), j = replay.randint(0, 3);
    seen[i][j] = true;
    std::vector<double> want;
    for (int p = 0; p < 2; ++p)
      for (int r = 0; r < 3; ++r)
        for (int c = 0; c < 3; ++c) {
          const double v = padded[static_cast<std::size_t>(i + r)][static_cast<std::size_t>(j + c)];
          const bool inside = i + r >= 1 && i + r <= 3 && j + c >= 1 && j + c <= 3;
          want.push_back(inside ? v + 9.0 * p : 0.0);
        }
    check_values(crop(x, g), {2, 3, 3}, want);
  }
  for (auto& row : seen)
    for (bool s : row) BOOST_CHECK(s);  // every window position occurs
}

BOOST_AUTO_TEST_CASE(random_crop_pad_if_needed) {
  // [[1, 2], [3, 4]] cropped to 2 x 4: padded by 4 - 2 = 2 on BOTH sides (torchvision),
  // padded width 6; nothing to draw vertically (i = randint(0, 1) = 0), j = randint(0, 3).
  const Tensor x = img({1, 2, 2}, {1, 2, 3, 4});
  RandomCrop crop({2, 4}, {}, true);
  const std::vector<double> row0{0, 0, 1, 2, 0, 0}, row1{0, 0, 3, 4, 0, 0};
  for (std::uint64_t seed = 0; seed < 10; ++seed) {
    SampleGenerator g(seed), replay(seed);
    BOOST_CHECK_EQUAL(replay.randint(0, 1), 0);
    const auto j = static_cast<std::size_t>(replay.randint(0, 3));
    std::vector<double> want(row0.begin() + j, row0.begin() + j + 4);
    want.insert(want.end(), row1.begin() + j, row1.begin() + j + 4);
    check_values(crop(x, g), {1, 2, 4}, want);
  }
}

BOOST_AUTO_TEST_CASE(random_crop_errors) {
  SampleGenerator g(0);
  const Tensor x = counting({1, 3, 3});
  XGRAD_CHECK_THROW_MSG(RandomCrop({4})(x, g),
                        "RandomCrop: crop size [4, 4] is larger than the padded image size [3, 3] (image of shape "
                        "[1, 3, 3], padding left 0, top 0, right 0, bottom 0)");
  XGRAD_CHECK_THROW_MSG(RandomCrop({6, 2}, {1})(x, g),
                        "RandomCrop: crop size [6, 2] is larger than the padded image size [5, 5]");
  XGRAD_CHECK_THROW_MSG(RandomCrop({1, 2, 3}), "RandomCrop: size must have 1 or 2 values ({s} or {h, w}), got 3");
  XGRAD_CHECK_THROW_MSG(RandomCrop({0, 2}), "RandomCrop: crop size must be positive, got [0, 2]");
  XGRAD_CHECK_THROW_MSG(RandomCrop({2}, {1, -1}), "RandomCrop: padding must be non-negative, got -1 at position 1");
  XGRAD_CHECK_THROW_MSG(RandomCrop({2}, {1, 1, 1}), "RandomCrop: padding must have 0, 1, 2 or 4 values, got 3");
  XGRAD_CHECK_THROW_MSG(RandomCrop({3}, {3}, false, 0.0, PaddingMode::reflect)(x, g),
                        "RandomCrop: reflect padding (left 3, top 3, right 3, bottom 3) must be smaller than the "
                        "image size [3, 3] in each dim");
  XGRAD_CHECK_THROW_MSG(RandomCrop({3}, {4}, false, 0.0, PaddingMode::symmetric)(x, g),
                        "RandomCrop: symmetric padding (left 4, top 4, right 4, bottom 4) must be at most the image");
  XGRAD_CHECK_THROW_MSG(RandomCrop({2}, {1}, false, 0.0, PaddingMode::edge)(zeros({1, 0, 3}), g),
                        "RandomCrop: edge padding needs pixels to repeat, got an image of shape [1, 0, 3]");
  check_values(RandomCrop({2}, {1}, false, 3.0)(zeros({0, 0}), g), {2, 2}, {3, 3, 3, 3});
  XGRAD_CHECK_THROW_MSG(RandomCrop({1})(counting({3}), g),
                        "RandomCrop: expected an image of shape [..., C, H, W] or [H, W], got shape [3]");
}

BOOST_AUTO_TEST_CASE(random_horizontal_flip) {
  SampleGenerator g(0);
  const Tensor x = counting({1, 2, 3});
  check_values(RandomHorizontalFlip(1.0)(x, g), {1, 2, 3}, {2, 1, 0, 5, 4, 3});
  check_values(RandomHorizontalFlip(0.0)(x, g), {1, 2, 3}, {0, 1, 2, 3, 4, 5});
  check_values(RandomHorizontalFlip(1.0)(counting({2, 2}).to(boolean), g), {2, 2}, {1, 0, 1, 1});
  // p = 0.5: flipped exactly when the draw u < 0.5; about half the time.
  RandomHorizontalFlip flip;
  int flips = 0;
  for (std::uint64_t seed = 0; seed < 1000; ++seed) {
    SampleGenerator gen(seed), replay(seed);
    const bool want = replay.uniform() < 0.5;
    const auto got = values(flip(x, gen));
    BOOST_CHECK_EQUAL(got[0], want ? 2.0 : 0.0);
    flips += want;
  }
  BOOST_CHECK_MESSAGE(std::abs(flips - 500) < 80, flips << " flips");
  XGRAD_CHECK_THROW_MSG(RandomHorizontalFlip(1.5), "RandomHorizontalFlip: p must be in [0, 1], got 1.5");
  XGRAD_CHECK_THROW_MSG(RandomHorizontalFlip(-0.1), "RandomHorizontalFlip: p must be in [0, 1], got -0.1");
  XGRAD_CHECK_THROW_MSG(RandomHorizontalFlip(std::nan("")), "RandomHorizontalFlip: p must be in [0, 1], got nan");
  XGRAD_CHECK_THROW_MSG(RandomHorizontalFlip()(counting({3}), g), "RandomHorizontalFlip: expected an image");
}

BOOST_AUTO_TEST_CASE(random_affine_rotation_and_scale) {
  SampleGenerator g(0);
  // 90 degrees (clockwise): out[y][x] = in[W - 1 - x][y] on a square image.
  check_values(RandomAffine({90.0, 90.0})(counting({1, 3, 3}), g), {1, 3, 3}, {6, 3, 0, 7, 4, 1, 8, 5, 2});
  check_values(RandomAffine({-90.0, -90.0})(counting({3, 3}), g), {3, 3}, {2, 5, 8, 1, 4, 7, 0, 3, 6});
  // Scale 2 about the centre (1.5, 1.5) of a 4 x 4 image: xs = (x - 1.5) / 2 + 1.5 =
  // 0.75, 1.25, 1.75, 2.25 -> nearest 1, 1, 2, 2 (same for rows).
  check_values(RandomAffine({0.0}, {}, {2.0, 2.0})(counting({1, 4, 4}), g), {1, 4, 4},
               {5, 5, 6, 6, 5, 5, 6, 6, 9, 9, 10, 10, 9, 9, 10, 10});
  // Bilinear, 1 x 2 image [0, 10], scale 2: xs = (x - 0.5) / 2 + 0.5 = 0.25, 0.75 ->
  // 0.75 * 0 + 0.25 * 10 = 2.5 and 7.5 (all corners inside: mask 1).
  check_values(RandomAffine({0.0}, {}, {2.0, 2.0}, 0.0, Interpolation::bilinear)(img({1, 1, 2}, {0, 10}), g), {1, 1, 2},
               {2.5, 7.5});
  // Scale 1/2: xs = 2 (x - 0.5) + 0.5 = -0.5, 1.5: half of each sample falls outside, mask
  // 0.5; out = v * m + (1 - m) * fill with fill 4: x = 0: v = 0.5 * 0 -> 0 * 0.5 + 0.5 * 4 = 2;
  // x = 1: v = 0.5 * 10 = 5 -> 5 * 0.5 + 0.5 * 4 = 4.5.
  check_values(RandomAffine({0.0}, {}, {0.5, 0.5}, 4.0, Interpolation::bilinear)(img({1, 1, 2}, {0, 10}), g), {1, 1, 2},
               {2.0, 4.5});
  // Nearest, scale 1/2 on 1 x 4: xs = 2 (x - 1.5) + 1.5 = -1.5, 0.5, 2.5, 4.5 ->
  // outside, 0 (half to even), 2, outside.
  check_values(RandomAffine({0.0}, {}, {0.5, 0.5}, -1.0)(img({1, 4}, {10, 11, 12, 13}), g), {1, 4}, {-1, 10, 12, -1});
}

BOOST_AUTO_TEST_CASE(random_affine_translation) {
  // translate (1/3, 2/3) on 3 x 3: tx = round(U[-1, 1]), ty = round(U[-2, 2]) after the
  // angle draw; out[y][x] = in[y - ty][x - tx], 0 outside.
  const Tensor x = counting({3, 3}).add(1.0);
  RandomAffine affine({0.0}, {1.0 / 3.0, 2.0 / 3.0});
  int moved = 0;
  for (std::uint64_t seed = 0; seed < 40; ++seed) {
    SampleGenerator g(seed), replay(seed);
    (void)replay.uniform();  // the angle
    const auto tx = static_cast<int>(std::nearbyint(replay.uniform(-1.0, 1.0)));
    const auto ty = static_cast<int>(std::nearbyint(replay.uniform(-2.0, 2.0)));
    moved += tx != 0 || ty != 0;
    std::vector<double> want;
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 3; ++c) {
        const int sr = r - ty, sc = c - tx;
        want.push_back(sr >= 0 && sr < 3 && sc >= 0 && sc < 3 ? 3.0 * sr + sc + 1.0 : 0.0);
      }
    check_values(affine(x, g), {3, 3}, want);
  }
  BOOST_CHECK_GT(moved, 20);
  // A random angle in [-10, 10] moves a pixel of a 3 x 3 image by less than half a pixel.
  SampleGenerator g(3);
  check_values(RandomAffine({10.0})(x, g), {3, 3}, values(x));
}

BOOST_AUTO_TEST_CASE(random_affine_errors) {
  SampleGenerator g(0);
  XGRAD_CHECK_THROW_MSG(RandomAffine({-5.0}), "RandomAffine: a single degrees value must be non-negative, got -5");
  XGRAD_CHECK_THROW_MSG(RandomAffine({10.0, 5.0}), "RandomAffine: degrees must be a range [min, max], got [10, 5]");
  XGRAD_CHECK_THROW_MSG(RandomAffine({1.0, 2.0, 3.0}), "RandomAffine: degrees must have 1 or 2 values, got 3");
  XGRAD_CHECK_THROW_MSG(RandomAffine({0.0}, {0.5}), "RandomAffine: translate must have 2 values (a, b), got 1");
  XGRAD_CHECK_THROW_MSG(RandomAffine({0.0}, {1.5, 0.0}),
                        "RandomAffine: translate values must be in [0, 1], got [1.5, 0]");
  XGRAD_CHECK_THROW_MSG(RandomAffine({0.0}, {}, {0.0, 1.0}),
                        "RandomAffine: scale must be a range [min, max] of positive values, got [0, 1]");
  XGRAD_CHECK_THROW_MSG(RandomAffine({0.0}, {}, {2.0, 1.0}),
                        "RandomAffine: scale must be a range [min, max] of positive values, got [2, 1]");
  XGRAD_CHECK_THROW_MSG(RandomAffine({0.0}, {}, {1.0}), "RandomAffine: scale must have 2 values (min, max), got 1");
  XGRAD_CHECK_THROW_MSG(RandomAffine({0.0}, {}, {}, 0.0, Interpolation::bilinear)(counting({2, 2}).to(int64), g),
                        "RandomAffine: bilinear interpolation needs a floating-point image, got int64");
  XGRAD_CHECK_THROW_MSG(RandomAffine({0.0})(counting({2}), g), "RandomAffine: expected an image");
}

BOOST_AUTO_TEST_CASE(random_erasing) {
  // scale (1/4, 1/4), ratio (1, 1) on 4 x 4: area 4, h = w = 2; then i, j = randint(0, 3).
  RandomErasing erase(1.0, {0.25, 0.25}, {1.0, 1.0}, {5.0, 7.0});
  const Tensor x = ones({2, 4, 4}, dtype(float64));
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    SampleGenerator g(seed), replay(seed);
    (void)replay.uniform();  // p
    (void)replay.uniform();  // area fraction
    (void)replay.uniform();  // log aspect ratio
    const auto i = replay.randint(0, 3), j = replay.randint(0, 3);
    std::vector<double> want;
    for (int p = 0; p < 2; ++p)
      for (int r = 0; r < 4; ++r)
        for (int c = 0; c < 4; ++c) want.push_back(r >= i && r < i + 2 && c >= j && c < j + 2 ? 5.0 + 2.0 * p : 1.0);
    check_values(erase(x, g), {2, 4, 4}, want);
  }
  BOOST_CHECK_EQUAL(values(x)[0], 1.0);  // the input is untouched
  SampleGenerator g(1);
  // p = 0: unchanged; a rectangle that can never fit (h = w = 4 is not < 4): unchanged.
  check_values(RandomErasing(0.0)(x, g), {2, 4, 4}, std::vector<double>(32, 1.0));
  check_values(RandomErasing(1.0, {1.0, 1.0}, {1.0, 1.0})(x, g), {2, 4, 4}, std::vector<double>(32, 1.0));
  // [H, W], int64, the default value 0: the 3 x 3 image loses a 1 x 1 or larger block.
  const Tensor e = RandomErasing(1.0, {0.5, 0.5}, {1.0, 1.0})(full({3, 3}, 2.0, dtype(int64)), g);
  BOOST_CHECK(e.dtype() == int64);
  int zeros = 0;
  for (auto v : e.to_vector<std::int64_t>()) zeros += v == 0;
  BOOST_CHECK_EQUAL(zeros, 4);  // round(sqrt(4.5)) = 2: a 2 x 2 block
}

BOOST_AUTO_TEST_CASE(random_erasing_errors) {
  SampleGenerator g(0);
  XGRAD_CHECK_THROW_MSG(RandomErasing(2.0), "RandomErasing: p must be in [0, 1], got 2");
  XGRAD_CHECK_THROW_MSG(RandomErasing(0.5, {0.5, 0.2}),
                        "RandomErasing: scale must be a range [min, max] within [0, 1], got [0.5, 0.2]");
  XGRAD_CHECK_THROW_MSG(RandomErasing(0.5, {0.0, 1.5}),
                        "RandomErasing: scale must be a range [min, max] within [0, 1], got [0, 1.5]");
  XGRAD_CHECK_THROW_MSG(RandomErasing(0.5, {0.1, 0.2}, {0.0, 1.0}),
                        "RandomErasing: ratio must be a range [min, max] of positive values, got [0, 1]");
  XGRAD_CHECK_THROW_MSG(RandomErasing(0.5, {0.1, 0.2}, {0.3, 3.3}, {}),
                        "RandomErasing: expected at least one fill value, got none");
  XGRAD_CHECK_THROW_MSG(RandomErasing(0.5, {0.1, 0.2}, {0.3, 3.3}, {1.0, 2.0, 3.0})(ones({2, 4, 4}), g),
                        "RandomErasing: value has 3 entries but the image of shape [2, 4, 4] has 2 channel(s)");
  XGRAD_CHECK_THROW_MSG(RandomErasing()(ones({4}), g), "RandomErasing: expected an image");
}

BOOST_AUTO_TEST_CASE(compose_and_lambda) {
  SampleGenerator g(0);
  const Tensor x = counting({1, 2, 3});
  // Normalize, then flip, then double: ((x - 1) / 2) mirrored, times 2.
  Compose c({std::make_shared<Normalize>(std::vector<double>{1.0}, std::vector<double>{2.0}),
             std::make_shared<RandomHorizontalFlip>(1.0),
             std::make_shared<Lambda>([](const Tensor& t) { return t * 2.0; })});
  BOOST_CHECK_EQUAL(c.transforms().size(), 3U);
  check_values(c(x, g), {1, 2, 3}, {1, 0, -1, 4, 3, 2});
  check_values(Compose({})(x, g), {1, 2, 3}, {0, 1, 2, 3, 4, 5});
  // A random Lambda draws from the sample's generator.
  Lambda noisy([](const Tensor& t, SampleGenerator& gen) { return t + gen.uniform(); });
  SampleGenerator g1(4), replay(4);
  check_values(noisy(x, g1), {1, 2, 3}, values(x + replay.uniform()));
  XGRAD_CHECK_THROW_MSG(Compose({std::make_shared<RandomHorizontalFlip>(), nullptr}),
                        "Compose: transform 1 (of 2) is a null pointer");
  XGRAD_CHECK_THROW_MSG(Lambda(Lambda::Fn()), "Lambda: expected a function, got an empty std::function");
  XGRAD_CHECK_THROW_MSG(Lambda(std::function<Tensor(const Tensor&)>()),
                        "Lambda: expected a function, got an empty std::function");
  XGRAD_CHECK_THROW_MSG(Lambda([](const Tensor&) { return Tensor(); })(x, g),
                        "Lambda: the function returned an undefined tensor for a sample of shape [1, 2, 3]");
}

namespace {

/// 30 images [1, 5, 5] (image i: i * 25 + 0..24) with labels i.
std::shared_ptr<TensorDataset> images() {
  return std::make_shared<TensorDataset>(counting({30, 1, 5, 5}).to(float32), arange(0, 30, 1, dtype(int64)));
}

TransformPtr augmentation() {
  return std::make_shared<Compose>(std::vector<TransformPtr>{
      std::make_shared<RandomCrop>(std::vector<std::int64_t>{5}, std::vector<std::int64_t>{2}),
      std::make_shared<RandomHorizontalFlip>(), std::make_shared<RandomAffine>(std::vector<double>{15.0}),
      std::make_shared<RandomErasing>(),
      std::make_shared<Normalize>(std::vector<double>{300.0}, std::vector<double>{200.0})});
}

std::vector<Batch> epoch(DataLoader& loader) {
  std::vector<Batch> out;
  for (Batch& b : loader) out.push_back(std::move(b));
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(dataloader_transform_is_a_function_of_seed_epoch_position) {
  auto ds = images();
  const auto t = augmentation();
  DataLoader loader(ds, DataLoaderOptions(8).shuffle(true).seed(5).transform(t));
  const auto e0 = epoch(loader);
  const auto order = loader.epoch_order(0);
  BOOST_REQUIRE_EQUAL(e0.size(), 4U);
  std::int64_t k = 0;
  for (const Batch& b : e0)
    for (std::int64_t r = 0; r < b.size(); ++r, ++k) {
      BOOST_REQUIRE_EQUAL(b.indices[static_cast<std::size_t>(r)], order[static_cast<std::size_t>(k)]);
      SampleGenerator g = SampleGenerator::for_sample(5, 0, k);
      const Tensor want = (*t)(ds->get(order[static_cast<std::size_t>(k)]).data, g);
      BOOST_CHECK(bit_equal(b.data.select(0, r), want));
      BOOST_CHECK_EQUAL(b.target.to_vector<std::int64_t>()[static_cast<std::size_t>(r)],
                        b.indices[static_cast<std::size_t>(r)]);
    }
  // Another epoch: new draws; the same epoch again: the same batches.
  DataLoader plain(ds, DataLoaderOptions(8).seed(5).transform(t));
  const auto p0 = epoch(plain), p1 = epoch(plain);
  plain.set_epoch(0);
  const auto again = epoch(plain);
  bool differ = false;
  for (std::size_t i = 0; i < p0.size(); ++i) {
    BOOST_CHECK(bit_equal(p0[i].data, again[i].data));
    differ = differ || !bit_equal(p0[i].data, p1[i].data);
  }
  BOOST_CHECK(differ);
  // The seed matters.
  DataLoader other(ds, DataLoaderOptions(8).seed(6).transform(t));
  BOOST_CHECK(!bit_equal(epoch(other)[0].data, p0[0].data));
}

BOOST_AUTO_TEST_CASE(dataloader_transform_same_batches_at_every_thread_count) {
  auto ds = images();
  const auto t = augmentation();
  std::vector<std::vector<Batch>> runs;
  for (int threads : {1, 2})
    for (bool prefetch : {false, true})
      for (bool parallel : {false, true}) {
        ThreadBudget budget(threads);
        DataLoader loader(
            ds, DataLoaderOptions(7).shuffle(true).seed(1).transform(t).prefetch(prefetch).parallel(parallel));
        (void)epoch(loader);
        runs.push_back(epoch(loader));  // epoch 1
      }
  for (std::size_t r = 1; r < runs.size(); ++r) {
    BOOST_REQUIRE_EQUAL(runs[r].size(), runs[0].size());
    for (std::size_t i = 0; i < runs[0].size(); ++i) {
      BOOST_CHECK(runs[r][i].indices == runs[0][i].indices);
      BOOST_CHECK(bit_equal(runs[r][i].data, runs[0][i].data));
      BOOST_CHECK(bit_equal(runs[r][i].target, runs[0][i].target));
    }
  }
  // With a sampler: positions in the sampler's order seed the draws.
  auto s = std::make_shared<WeightedRandomSampler>(std::vector<double>(30, 1.0), 20, true, 2);
  std::vector<std::vector<Batch>> sampled;
  for (int threads : {1, 2}) {
    ThreadBudget budget(threads);
    DataLoader loader(ds, DataLoaderOptions(6).sampler(s).transform(t));
    sampled.push_back(epoch(loader));
  }
  for (std::size_t i = 0; i < sampled[0].size(); ++i) BOOST_CHECK(bit_equal(sampled[0][i].data, sampled[1][i].data));
}

BOOST_AUTO_TEST_CASE(dataloader_transform_errors) {
  auto ds = images();
  // Samples of different shapes cannot be stacked.
  auto ragged = std::make_shared<Lambda>(
      [](const Tensor& x, SampleGenerator& g) { return g.uniform() < 0.5 ? x : x.narrow(-1, 0, 2); });
  DataLoader loader(ds, DataLoaderOptions(10).transform(ragged));
  XGRAD_CHECK_THROW_MSG(loader.begin(), "collate: cannot stack the datas of examples");
  DataLoader undefined(
      ds, DataLoaderOptions(4).transform(std::make_shared<Lambda>([](const Tensor&) { return Tensor(); })));
  XGRAD_CHECK_THROW_MSG(undefined.begin(), "Lambda: the function returned an undefined tensor");
  // A transform error surfaces from the loop.
  DataLoader bad(ds, DataLoaderOptions(4).transform(std::make_shared<RandomCrop>(std::vector<std::int64_t>{9})));
  XGRAD_CHECK_THROW_MSG(bad.begin(), "RandomCrop: crop size [9, 9] is larger than the padded image size [5, 5]");
  // Views returned by a transform are stacked correctly.
  DataLoader view(ds, DataLoaderOptions(3).transform(std::make_shared<Lambda>(
                          [](const Tensor& x) { return x.narrow(-1, 1, 2).transpose(-1, -2); })));
  const Batch b = *view.begin();
  check_values(b.data.select(0, 1), {1, 2, 5}, {26, 31, 36, 41, 46, 27, 32, 37, 42, 47});
}

BOOST_AUTO_TEST_SUITE_END()
