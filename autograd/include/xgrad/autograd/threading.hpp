// The one thread pool: oneTBB. Nothing in xgrad starts other threads; OpenBLAS is set to one
// thread when the library loads.
#pragma once

#include <cstdint>

namespace xgrad {

/// Bounds every parallel kernel to n threads (n >= 1) through tbb::global_control.
/// Throws xgrad::Error for n < 1.
void set_num_threads(int n);
/// The current bound (defaults to the number of hardware threads).
int get_num_threads();

}  // namespace xgrad
