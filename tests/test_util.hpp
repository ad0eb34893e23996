// Helpers shared by the test files.
#pragma once

#include <malloc.h>

#include <cmath>
#include <cstddef>
#include <string>

#include <boost/test/unit_test.hpp>

#include "xgrad/xgrad.hpp"

#if defined(__SANITIZE_ADDRESS__)
#define XGRAD_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define XGRAD_TEST_ASAN 1
#endif
#endif
#ifdef XGRAD_TEST_ASAN
// From <sanitizer/allocator_interface.h>, which GCC does not install (its libasan exports it).
extern "C" std::size_t __sanitizer_get_current_allocated_bytes();
#endif

/// Checks that `expr` throws xgrad::Error whose message contains `substring`.
#define XGRAD_CHECK_THROW_MSG(expr, substring)                                                      \
  do {                                                                                              \
    bool xgrad_thrown_ = false;                                                                     \
    try {                                                                                           \
      (void)(expr);                                                                                 \
    } catch (const xgrad::Error& e) {                                                               \
      xgrad_thrown_ = true;                                                                         \
      BOOST_CHECK_MESSAGE(std::string(e.what()).find(substring) != std::string::npos,               \
                          "message '" << e.what() << "' lacks '" << (substring) << "'");            \
    }                                                                                               \
    BOOST_CHECK_MESSAGE(xgrad_thrown_, #expr " did not throw xgrad::Error");                        \
  } while (0)

namespace xgrad::test {

/// Heap bytes handed out and not yet freed: glibc's mallinfo2 (chunks in every arena plus
/// mmapped blocks), or under AddressSanitizer, which replaces malloc, its own counter (bytes
/// in use, the quarantine excluded).
inline std::size_t heap_in_use() {
#ifdef XGRAD_TEST_ASAN
  return __sanitizer_get_current_allocated_bytes();
#else
  const struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
#endif
}

/// Restores the thread count at the end of a scope (tests that compare 1 and 2 threads).
struct ThreadGuard {
  int prev = get_num_threads();
  ~ThreadGuard() { set_num_threads(prev); }
};

/// Max |a - b| over all elements (shapes must match; both converted to float64).
inline double max_abs_diff(const Tensor& a, const Tensor& b) {
  BOOST_REQUIRE_MESSAGE(a.shape() == b.shape(), "shapes differ: " << to_string(a) << " vs " << to_string(b));
  auto va = a.detach().to(float64).to_vector<double>();
  auto vb = b.detach().to(float64).to_vector<double>();
  double m = 0;
  for (std::size_t i = 0; i < va.size(); ++i) m = std::max(m, std::fabs(va[i] - vb[i]));
  return m;
}

/// BOOST_CHECK that a and b agree within tol element-wise.
inline void check_close(const Tensor& a, const Tensor& b, double tol = 1e-6) {
  const double d = max_abs_diff(a, b);
  BOOST_CHECK_MESSAGE(d <= tol, "max |a - b| = " << d << " > " << tol << "\n a = " << to_string(a)
                                                 << "\n b = " << to_string(b));
}

/// float64 leaf with values from randn, requiring grad.
/// Checks shape and values (compared in float64; NaN matches NaN, inf matches inf).
inline void check_values(const Tensor& t, const Shape& shape, const std::vector<double>& want, double tol = 1e-12) {
  BOOST_REQUIRE_MESSAGE(t.shape() == shape,
                        "shape " << fmt::format("{}", t.shape()) << " != " << fmt::format("{}", shape));
  const auto got = t.detach().to(float64).to_vector<double>();
  BOOST_REQUIRE_EQUAL(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    const bool ok = std::isnan(want[i])   ? std::isnan(got[i])
                    : std::isinf(want[i]) ? got[i] == want[i]
                                          : std::fabs(got[i] - want[i]) <= tol * std::max(1.0, std::fabs(want[i]));
    BOOST_CHECK_MESSAGE(ok, "element " << i << ": got " << got[i] << ", want " << want[i]);
  }
}

inline Tensor rand64(const Shape& s, double scale = 1.0, double shift = 0.0) {
  Tensor t = randn(s, dtype(float64));
  NoGradGuard ng;
  t = t * scale + shift;
  return t.detach().requires_grad_(true);
}

/// gradcheck that reports the worst element through Boost.Test instead of throwing.
inline void check_gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                            const std::vector<Tensor>& inputs, GradcheckOptions opts = {}) {
  opts.raise_exception = false;
  auto r = gradcheck(f, inputs, opts);
  BOOST_CHECK_MESSAGE(r.ok, r.message);
}

inline void check_gradgradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                                const std::vector<Tensor>& inputs, GradcheckOptions opts = {}) {
  opts.raise_exception = false;
  auto r = gradgradcheck(f, inputs, opts);
  BOOST_CHECK_MESSAGE(r.ok, r.message);
}

}  // namespace xgrad::test
