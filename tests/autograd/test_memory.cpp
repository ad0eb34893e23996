// The buffer cache behind tensor storage (memory.hpp) and the OpenBLAS core report.
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "test_util.hpp"

using namespace xgrad;

namespace {

// Sets a cache limit for one test and restores the previous one.
struct CacheLimitGuard {
  explicit CacheLimitGuard(std::size_t bytes) : before(cache_limit()) {
    empty_cache();
    set_cache_limit(bytes);
  }
  ~CacheLimitGuard() {
    set_cache_limit(before);
    empty_cache();
  }
  std::size_t before;
};

const void* data_of(const Tensor& t) { return t.data_ptr<float>(); }

}  // namespace

BOOST_AUTO_TEST_SUITE(memory)

BOOST_AUTO_TEST_CASE(large_buffers_are_reused) {
  CacheLimitGuard guard(std::size_t{64} << 20);
  const void* first = nullptr;
  {
    Tensor a = zeros({1 << 18});  // 1 MiB
    first = data_of(a);
    BOOST_CHECK_EQUAL(cached_bytes(), 0u);
  }
  BOOST_CHECK_EQUAL(cached_bytes(), std::size_t{1} << 20);
  Tensor b = ones({1 << 18});
  BOOST_CHECK_EQUAL(data_of(b), first);  // the cached buffer came back
  BOOST_CHECK_EQUAL(cached_bytes(), 0u);
  // A reused buffer holds no stale values once a factory filled it.
  BOOST_CHECK_EQUAL(b.to_vector<float>()[12345], 1.0f);
  // 1 MiB + 1 float is in the next size class (1.25 MiB): no reuse of a 1 MiB buffer.
  Tensor c;
  {
    Tensor d = zeros({1 << 18});
    const void* pd = data_of(d);
    d = Tensor();
    c = zeros({(1 << 18) + 1});
    BOOST_CHECK_NE(data_of(c), pd);
  }
  BOOST_CHECK_EQUAL(cached_bytes(), std::size_t{1} << 20);
  empty_cache();
  BOOST_CHECK_EQUAL(cached_bytes(), 0u);
}

BOOST_AUTO_TEST_CASE(small_buffers_bypass_the_cache) {
  CacheLimitGuard guard(std::size_t{64} << 20);
  { Tensor a = zeros({kMinCachedBytes / 4 - 1}); }
  BOOST_CHECK_EQUAL(cached_bytes(), 0u);
  { Tensor a = zeros({kMinCachedBytes / 4}); }
  BOOST_CHECK_EQUAL(cached_bytes(), kMinCachedBytes);
}

BOOST_AUTO_TEST_CASE(limit_bounds_the_cache) {
  CacheLimitGuard guard(std::size_t{3} << 20);
  {
    std::vector<Tensor> ts;
    for (int i = 0; i < 5; ++i) ts.push_back(zeros({1 << 18}));
  }
  BOOST_CHECK_EQUAL(cached_bytes(), std::size_t{3} << 20);  // two of the five were freed
  set_cache_limit(std::size_t{1} << 20);
  BOOST_CHECK_EQUAL(cache_limit(), std::size_t{1} << 20);
  BOOST_CHECK_EQUAL(cached_bytes(), std::size_t{1} << 20);  // trimmed at once
  set_cache_limit(0);
  BOOST_CHECK_EQUAL(cached_bytes(), 0u);
  { Tensor a = zeros({1 << 18}); }
  BOOST_CHECK_EQUAL(cached_bytes(), 0u);  // 0 disables caching
}

BOOST_AUTO_TEST_CASE(threads_allocate_and_free_concurrently) {
  CacheLimitGuard guard(std::size_t{16} << 20);
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([t, &ok] {
      bool good = true;
      for (int i = 0; i < 200; ++i) {
        Tensor a = full({(1 << 15) * (1 + (i + t) % 3)}, static_cast<double>(t));
        const auto v = a.to_vector<float>();
        good = good && v.front() == static_cast<float>(t) && v.back() == static_cast<float>(t);
      }
      ok[static_cast<std::size_t>(t)] = good ? 1 : 0;
    });
  for (auto& th : threads) th.join();
  for (int v : ok) BOOST_CHECK_EQUAL(v, 1);
  BOOST_CHECK_LE(cached_bytes(), std::size_t{16} << 20);
}

BOOST_AUTO_TEST_CASE(blas_core_is_reported) {
  const std::string core = blas_core();
  BOOST_TEST_MESSAGE("OpenBLAS core: " << core);
  BOOST_CHECK(!core.empty());
  // On an AVX-512 CPU nothing may leave OpenBLAS on its SSE3 fallback unless asked to.
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512cd") &&
      std::getenv("OPENBLAS_CORETYPE") == nullptr && std::getenv("XGRAD_OPENBLAS_CORETYPE") == nullptr)
    BOOST_CHECK_NE(core, "Prescott");
  // A replaced fallback always lands on SkylakeX, and never against the user's choice.
  if (blas_core_replaced()) {
    BOOST_CHECK_EQUAL(core, "SkylakeX");
    BOOST_CHECK(std::getenv("OPENBLAS_CORETYPE") == nullptr);
  }
}

BOOST_AUTO_TEST_SUITE_END()
