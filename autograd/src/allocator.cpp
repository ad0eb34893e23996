#include <bit>
#include <cstdint>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include "xgrad/autograd/memory.hpp"
#include "xgrad/autograd/profile_scope.hpp"

namespace xgrad {

namespace {

constexpr std::size_t kAlign = 64;
constexpr std::size_t kPage = 4096;

// Under AddressSanitizer the cache is off, so that a use after free reaches ASan's quarantine.
// GCC defines __SANITIZE_ADDRESS__; clang (before 17) only answers __has_feature.
#if defined(__SANITIZE_ADDRESS__)
#define XGRAD_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define XGRAD_ASAN 1
#endif
#endif
#if defined(XGRAD_ASAN)
constexpr std::size_t kDefaultLimit = 0;
#else
constexpr std::size_t kDefaultLimit = std::size_t{1} << 30;
#endif

// n rounded up to a page, then to 4 steps per power of two.
std::size_t size_class(std::size_t n) {
  n = (n + kPage - 1) / kPage * kPage;
  const std::size_t top = std::bit_floor(n);
  if (top < 4 * kPage) return n;
  const std::size_t step = top / 4;
  return (n + step - 1) / step * step;
}

struct Cache {
  std::mutex mutex;
  std::unordered_map<std::size_t, std::vector<void*>> free;
  std::size_t bytes = 0;
  std::size_t limit = kDefaultLimit;

  // Frees cached buffers until at most `target` bytes remain. Caller holds the mutex.
  void trim(std::size_t target) {
    for (auto it = free.begin(); it != free.end() && bytes > target;) {
      auto& list = it->second;
      while (!list.empty() && bytes > target) {
        ::operator delete(list.back(), std::align_val_t{kAlign});
        list.pop_back();
        bytes -= it->first;
      }
      it = list.empty() ? free.erase(it) : std::next(it);
    }
  }
};

// Never destroyed: tensors with static storage duration may free buffers after main returns.
Cache& cache() {
  static Cache* c = new Cache();
  return *c;
}

}  // namespace

void empty_cache() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  c.trim(0);
}

std::size_t cached_bytes() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  return c.bytes;
}

void set_cache_limit(std::size_t bytes) {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  c.limit = bytes;
  c.trim(bytes);
}

std::size_t cache_limit() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  return c.limit;
}

namespace detail {

void* allocate_buffer(std::size_t n) {
  if (profiler_active()) profiler_count_bytes(n);
  if (n < kMinCachedBytes) return ::operator new(n, std::align_val_t{kAlign});
  const std::size_t cls = size_class(n);
  {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    auto it = c.free.find(cls);
    if (it != c.free.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      c.bytes -= cls;
      return p;
    }
  }
  // nothrow: a failed request (e.g. beyond the address space) must come back as bad_alloc
  // for make_tensor to report, also under AddressSanitizer, whose throwing new aborts.
  void* p = ::operator new(cls, std::align_val_t{kAlign}, std::nothrow);
  if (!p) throw std::bad_alloc();
  return p;
}

void free_buffer(void* p, std::size_t n) noexcept {
  if (n < kMinCachedBytes) {
    ::operator delete(p, std::align_val_t{kAlign});
    return;
  }
  const std::size_t cls = size_class(n);
  {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    if (c.bytes + cls <= c.limit) {
      try {
        c.free[cls].push_back(p);
        c.bytes += cls;
        return;
      } catch (...) {  // no memory for the bookkeeping: free the buffer instead
      }
    }
  }
  ::operator delete(p, std::align_val_t{kAlign});
}

}  // namespace detail

}  // namespace xgrad
