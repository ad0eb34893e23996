// Injects a rank failure for check_failure.cmake (run under mpirun -np 2): rank 0 enters an
// all_reduce that rank 1 never joins, because rank 1
//   throw:  throws an exception nobody catches (std::terminate -> MPI_Abort);
//   unwind: throws an exception that unwinds through its Environment (caught in main);
//   hang:   sleeps for 30 s (rank 0's watchdog, timeout 2 s, aborts the job).
// The job must fail quickly in every case; exit code 0 means the failure went unnoticed.
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>

#include "xgrad/distributed.hpp"
#include "xgrad/xgrad.hpp"

namespace dist = xgrad::distributed;

namespace {

void run(const std::string& mode) {
  dist::Environment env(dist::EnvironmentOptions().timeout(mode == "hang" ? 2.0 : 20.0));
  xgrad::Tensor t = xgrad::ones({4});
  dist::all_reduce(t);  // everybody is up
  if (dist::rank() == 1) {
    if (mode == "hang") {
      std::this_thread::sleep_for(std::chrono::seconds(30));
      return;
    }
    throw std::runtime_error("injected failure on rank 1");
  }
  dist::all_reduce(t);  // never completes: rank 1 is gone
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode != "throw" && mode != "unwind" && mode != "hang") {
    std::fprintf(stderr, "usage: failure_driver throw|unwind|hang\n");
    return 2;
  }
  if (mode == "unwind") {
    try {
      run(mode);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "caught: %s\n", e.what());
      return 1;
    }
    return 0;
  }
  run(mode);
  return 0;
}
