// Shared by the distributed tests (run under mpirun -np 2): the MPI environment as a Boost.Test
// global fixture, and checks across ranks.
#pragma once

#include <cstring>
#include <vector>

#include "test_util.hpp"
#include "xgrad/distributed.hpp"
#include "xgrad/xgrad.hpp"

namespace xgrad::test {

/// One Environment for the whole test executable; a short timeout so that a test that breaks
/// the collective order fails instead of hanging.
struct MpiFixture {
  distributed::Environment env{distributed::EnvironmentOptions().timeout(60.0)};
};

/// True when `t` has the same bits on every rank (compared through all_gather).
inline bool same_bits_on_all_ranks(const Tensor& t) {
  const std::vector<Tensor> all = distributed::all_gather(t);
  const Tensor mine = t.detach().contiguous();
  const std::size_t bytes = static_cast<std::size_t>(t.numel()) * dtype_size(t.dtype());
  bool same = true;
  for (const Tensor& other : all) {
    if (t.dtype() == Dtype::float32)
      same = same && std::memcmp(other.data_ptr<float>(), mine.data_ptr<float>(), bytes) == 0;
    else if (t.dtype() == Dtype::float64)
      same = same && std::memcmp(other.data_ptr<double>(), mine.data_ptr<double>(), bytes) == 0;
    else
      same = same && other.to_vector<std::int64_t>() == mine.to_vector<std::int64_t>();
  }
  return same;
}

}  // namespace xgrad::test
