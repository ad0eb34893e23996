// The public kernel layer (xgrad/autograd/kernel/): dispatch, the grain policy, deterministic
// chunked reductions and the float32 math kernels.
#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <thread>
#include <type_traits>
#include <vector>

#include "test_util.hpp"
#include "xgrad/autograd/kernel/kernel.hpp"

using namespace xgrad;

namespace {

// Distance in units in the last place between two finite floats of the same sign.
std::int64_t ulps(float a, float b) {
  return std::abs(static_cast<std::int64_t>(std::bit_cast<std::int32_t>(a)) -
                  static_cast<std::int64_t>(std::bit_cast<std::int32_t>(b)));
}

struct ThreadsGuard {
  int before = get_num_threads();
  ~ThreadsGuard() { set_num_threads(before); }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(kernel_layer)

BOOST_AUTO_TEST_CASE(dispatch_picks_the_element_type) {
  BOOST_CHECK_EQUAL(kernel::dispatch(float32, []<class T>() { return sizeof(T); }), sizeof(float));
  BOOST_CHECK_EQUAL(kernel::dispatch(float64, []<class T>() { return sizeof(T); }), sizeof(double));
  BOOST_CHECK(kernel::dispatch(int64, []<class T>() { return std::is_same_v<T, std::int64_t>; }));
  BOOST_CHECK(kernel::dispatch_floating(float32, "op", []<class T>() { return std::is_same_v<T, float>; }));
  BOOST_CHECK(
      kernel::dispatch_floating(zeros({2}, dtype(float64)), "op", []<class T>() { return std::is_same_v<T, double>; }));
}

BOOST_AUTO_TEST_CASE(dispatch_floating_rejects_int64) {
  auto none = []<class T>() {};
  XGRAD_CHECK_THROW_MSG(kernel::dispatch_floating(zeros({2}, dtype(int64)), "my_op", none),
                        "my_op: expected a floating dtype (float32 or float64), got int64 for tensor of shape [2]");
  XGRAD_CHECK_THROW_MSG(kernel::dispatch_floating(int64, "my_op", none),
                        "my_op: expected a floating dtype (float32 or float64), got int64");
}

BOOST_AUTO_TEST_CASE(grain_for_keeps_about_kgrain_elements_per_task) {
  BOOST_CHECK_EQUAL(kernel::grain_for(1), kernel::kGrain);
  BOOST_CHECK_EQUAL(kernel::grain_for(0), kernel::kGrain);
  BOOST_CHECK_EQUAL(kernel::grain_for(64), kernel::kGrain / 64);
  BOOST_CHECK_EQUAL(kernel::grain_for(kernel::kGrain * 4), 1);
}

BOOST_AUTO_TEST_CASE(parallel_for_runs_inline_at_or_below_the_grain) {
  for (std::int64_t n : {std::int64_t{1}, std::int64_t{7}, kernel::kGrain}) {
    int calls = 0;
    std::int64_t b0 = -1, e0 = -1;
    std::thread::id tid;
    kernel::parallel_for(n, [&](std::int64_t b, std::int64_t e) {
      ++calls;
      b0 = b;
      e0 = e;
      tid = std::this_thread::get_id();
    });
    BOOST_CHECK_EQUAL(calls, 1);
    BOOST_CHECK_EQUAL(b0, 0);
    BOOST_CHECK_EQUAL(e0, n);
    BOOST_CHECK(tid == std::this_thread::get_id());
  }
  int calls = 0;
  kernel::parallel_for(0, [&](std::int64_t, std::int64_t) { ++calls; });
  kernel::parallel_for(-3, 1, [&](std::int64_t, std::int64_t) { ++calls; });
  BOOST_CHECK_EQUAL(calls, 0);
}

BOOST_AUTO_TEST_CASE(parallel_for_covers_the_range_once_above_the_grain) {
  ThreadsGuard guard;
  for (int threads : {1, 4}) {
    set_num_threads(threads);
    for (std::int64_t grain : {std::int64_t{1000}, kernel::kGrain}) {
      const std::int64_t n = 10 * grain + 17;
      std::vector<std::atomic<int>> seen(static_cast<std::size_t>(n));
      std::atomic<std::int64_t> shortest{n};
      kernel::parallel_for(n, grain, [&](std::int64_t b, std::int64_t e) {
        std::int64_t s = shortest.load();
        while (e - b < s && !shortest.compare_exchange_weak(s, e - b)) {
        }
        for (std::int64_t i = b; i < e; ++i) seen[static_cast<std::size_t>(i)] += 1;
      });
      for (std::int64_t i = 0; i < n; ++i) BOOST_REQUIRE_EQUAL(seen[static_cast<std::size_t>(i)].load(), 1);
      BOOST_CHECK_GE(shortest.load(), grain / 2);
    }
  }
}

BOOST_AUTO_TEST_CASE(chunked_reduce_is_identical_at_every_thread_count) {
  ThreadsGuard guard;
  // Values whose float sum depends on the order of the additions.
  const std::int64_t n = 10 * kernel::kReduceChunk + 123;
  std::vector<float> x(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) x[static_cast<std::size_t>(i)] = 1.0f + 1e-3f * static_cast<float>(i % 997);
  auto chunk = [&](std::int64_t b, std::int64_t e) {
    float s = 0.0f;
    for (std::int64_t i = b; i < e; ++i) s += x[static_cast<std::size_t>(i)];
    return s;
  };
  auto plus = [](float a, float b) { return a + b; };
  // The contract: fixed chunks of kReduceChunk, combined left to right.
  float expected = 0.0f;
  for (std::int64_t b = 0; b < n; b += kernel::kReduceChunk)
    expected += chunk(b, std::min(n, b + kernel::kReduceChunk));
  for (int threads : {1, 2, 3, 8}) {
    set_num_threads(threads);
    const float got = kernel::chunked_reduce(n, 0.0f, chunk, plus);
    BOOST_CHECK_EQUAL(std::bit_cast<std::uint32_t>(got), std::bit_cast<std::uint32_t>(expected));
  }
  BOOST_CHECK_EQUAL(kernel::chunked_reduce(0, 5.0f, chunk, plus), 5.0f);
  BOOST_CHECK_EQUAL(kernel::chunked_reduce(3, 1.0f, chunk, plus), 1.0f + chunk(0, 3));
}

BOOST_AUTO_TEST_CASE(exp_f32_within_two_ulps_of_libm) {
  std::int64_t worst = 0;
  for (float x = -103.0f; x < 88.5f; x += 0.0137f) {
    const float ref = static_cast<float>(std::exp(static_cast<double>(x)));
    worst = std::max(worst, ulps(kernel::exp_f32(x), ref));
  }
  BOOST_CHECK_LE(worst, 2);
  constexpr float inf = std::numeric_limits<float>::infinity();
  BOOST_CHECK_EQUAL(kernel::exp_f32(0.0f), 1.0f);
  BOOST_CHECK_EQUAL(kernel::exp_f32(-inf), 0.0f);
  BOOST_CHECK_EQUAL(kernel::exp_f32(-200.0f), 0.0f);
  BOOST_CHECK_EQUAL(kernel::exp_f32(inf), inf);
  BOOST_CHECK_EQUAL(kernel::exp_f32(100.0f), inf);
  BOOST_CHECK(std::isnan(kernel::exp_f32(std::numeric_limits<float>::quiet_NaN())));
}

BOOST_AUTO_TEST_CASE(sigmoid_and_tanh_f32_match_libm) {
  std::int64_t worst_tanh = 0;
  double worst_sigmoid = 0.0;
  for (float x = -20.0f; x < 20.0f; x += 0.00731f) {
    const double xd = static_cast<double>(x);
    worst_tanh = std::max(worst_tanh, ulps(std::abs(kernel::tanh_f32(x)), static_cast<float>(std::abs(std::tanh(xd)))));
    worst_sigmoid =
        std::max(worst_sigmoid, std::abs(static_cast<double>(kernel::sigmoid_f32(x)) - 1.0 / (1.0 + std::exp(-xd))));
  }
  BOOST_CHECK_LE(worst_tanh, 3);
  BOOST_CHECK_LE(worst_sigmoid, 2e-7);
  BOOST_CHECK(std::signbit(kernel::tanh_f32(-0.0f)));
  BOOST_CHECK_EQUAL(kernel::tanh_f32(std::numeric_limits<float>::infinity()), 1.0f);
  BOOST_CHECK_EQUAL(kernel::tanh_f32(-std::numeric_limits<float>::infinity()), -1.0f);
  BOOST_CHECK(std::isnan(kernel::tanh_f32(std::numeric_limits<float>::quiet_NaN())));
  // The templates keep libm for double.
  BOOST_CHECK_EQUAL(kernel::fast_exp(0.5), std::exp(0.5));
  BOOST_CHECK_EQUAL(kernel::fast_tanh(0.5), std::tanh(0.5));
  BOOST_CHECK_EQUAL(kernel::fast_sigmoid(0.5), 1.0 / (1.0 + std::exp(-0.5)));
  BOOST_CHECK_EQUAL(kernel::fast_exp(0.5f), kernel::exp_f32(0.5f));
}

BOOST_AUTO_TEST_SUITE_END()
