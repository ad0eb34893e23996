// The buffer cache behind tensor storage.
//
// Buffers of kMinCachedBytes (64 KiB) or more are not returned to the C++ runtime when their
// last tensor dies: they are kept, by size class, for the next tensor of the same class.
// Fresh memory from the operating system is zeroed page by page on first touch, which made
// that page-fault work the largest cost of element-wise ops on large tensors; a training
// loop allocates the same sizes every step, so after the first step it reuses warm buffers.
// Size classes are the sizes rounded up to 4 KiB and then to 1, 1.25, 1.5 or 1.75 times a
// power of two (at most 25% slack). Smaller buffers go straight to operator new.
//
// The cache holds at most cache_limit() bytes (default 1 GiB; 0 under AddressSanitizer, so
// that it still sees every use after free); a buffer that would exceed it is freed. All
// functions are thread-safe.
#pragma once

#include <cstddef>

namespace xgrad {

/// Buffers smaller than this are never cached.
inline constexpr std::size_t kMinCachedBytes = std::size_t{64} << 10;

/// Frees every cached buffer (like torch.cuda.empty_cache() for the CPU).
void empty_cache();

/// Bytes currently held in the cache (not in use by any tensor).
std::size_t cached_bytes();

/// Sets the most bytes the cache may hold; trims it to that at once. 0 disables caching.
void set_cache_limit(std::size_t bytes);

/// The current limit in bytes.
std::size_t cache_limit();

namespace detail {
/// A 64-byte aligned buffer of at least n bytes (n > 0), from the cache when it has one of
/// n's size class. Throws std::bad_alloc when memory is exhausted.
void* allocate_buffer(std::size_t n);
/// Gives back a buffer from allocate_buffer(n), with the same n.
void free_buffer(void* p, std::size_t n) noexcept;
}  // namespace detail

}  // namespace xgrad
