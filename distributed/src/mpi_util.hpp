// Internals shared by the distributed sources: MPI types of dtypes, the watchdog wait, the
// body of a Work handle.
#pragma once

// The C API only: the deprecated C++ bindings are not used (and warn).
#ifndef OMPI_SKIP_MPICXX
#define OMPI_SKIP_MPICXX 1
#endif
#ifndef MPICH_SKIP_MPICXX
#define MPICH_SKIP_MPICXX 1
#endif
#include <mpi.h>

#include <functional>
#include <string>
#include <vector>

#include "xgrad/autograd/tensor.hpp"
#include "xgrad/distributed/collectives.hpp"

namespace xgrad::distributed::detail {

/// Throws xgrad::Error "<op>: MPI is not initialised; create a distributed::Environment first".
void require_mpi(std::string_view op);
/// The MPI type of a dtype's elements (bool: MPI_BYTE).
MPI_Datatype mpi_type(Dtype d);
/// Waits for `request` with the watchdog: past timeout() seconds, aborts the job with a
/// message naming `what`. A null request returns at once.
void wait_request(MPI_Request& request, const std::string& what);
/// The first element of a contiguous tensor, whatever its dtype.
void* raw_data(const Tensor& t);
/// FNV-1a over 64-bit words: signatures compared across ranks.
struct Signature {
  std::uint64_t h = 1469598103934665603ULL;
  void add(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) {
      h ^= (v >> (8 * i)) & 0xff;
      h *= 1099511628211ULL;
    }
  }
};
/// True on every rank when every rank passed the same signature (one small all-reduce,
/// waited with the watchdog; `what` names it in a timeout).
bool same_on_all_ranks(const Signature& s, const std::string& what);
/// One MPI_Test (progress); true when complete.
bool test_request(MPI_Request& request);

}  // namespace xgrad::distributed::detail

namespace xgrad::distributed {

struct Work::Impl {
  MPI_Request request = MPI_REQUEST_NULL;
  std::vector<Tensor> keep_alive;  // the buffers MPI reads or writes
  std::function<void()> finish;    // runs once, after completion
  std::string what;                // for the watchdog's message
  bool done = false;

  void complete() {
    if (done) return;
    done = true;
    if (finish) finish();
    keep_alive.clear();
  }
};

}  // namespace xgrad::distributed
