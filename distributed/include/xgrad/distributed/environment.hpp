// The MPI environment of a distributed xgrad program: start-up and shut-down (RAII), this
// process's rank, the number of processes, a barrier, and the watchdog that turns a rank
// failure into a failed job instead of a hang.
//
//   int main(int argc, char** argv) {
//     xgrad::distributed::Environment env(argc, argv);      // MPI_Init_thread
//     const int r = xgrad::distributed::rank();              // 0 .. world_size() - 1
//     ...
//   }                                                        // MPI_Finalize
//
// Run with `mpirun -np 2 ./program` (add --allow-run-as-root --oversubscribe in containers
// and on machines with fewer cores than ranks). MPI headers are not included here: the
// library links MPI privately, users need no MPI compiler wrapper.
//
// Failure handling (nothing in MPI itself stops a rank that waits for a peer that is gone):
//  * every wait of this library (barrier, collectives, Work::wait, DDP's gradient buckets)
//    polls its MPI request against a deadline of timeout() seconds (default 60; 0 = wait
//    forever). Past it, the rank prints
//      "xgrad::distributed: rank 1 of 2 timed out after 60 s waiting for all_reduce (sum,
//       float32 [1000]); another rank has probably failed or stopped calling the same
//       collectives. Aborting the job."
//    (blocking collectives first compare the ranks' shapes, so the wait named may be
//    "all_reduce (float32 [1000]; comparing the ranks' shapes)");
//    to stderr and calls MPI_Abort(MPI_COMM_WORLD, 1), which makes mpirun end every rank;
//  * with abort_on_exception (default), an exception that escapes main (std::terminate)
//    makes the rank print
//      "xgrad::distributed: rank 1 of 2 is failing with an uncaught exception: <what()>.
//       Aborting the job."
//    and one that unwinds through the Environment (caught further out)
//      "xgrad::distributed: rank 1 of 2 is leaving its Environment because of an exception
//       (see the rank's output for it). Aborting the job."
//    and call MPI_Abort, so the other ranks stop at once rather than at their timeout. With a
//    single process the exception propagates as usual. An exception caught inside the
//    Environment's scope is the program's business: all ranks must then still make the
//    same collective calls.
// A rank that merely returns early (without an exception) is caught by mpirun when it exits
// with a non-zero status, or else by the other ranks' timeouts.
#pragma once

#include <cstdint>
#include <string>

#include "xgrad/autograd/options.hpp"

namespace xgrad::distributed {

/// Options of Environment (defaults in brackets): timeout [60 s]: the deadline of every wait
/// (seconds, >= 0; 0 = no deadline); abort_on_exception [true]: MPI_Abort when an exception
/// escapes main or unwinds through the Environment (see the top of this header).
struct EnvironmentOptions {
#define XGRAD_DISTRIBUTED_FIELDS(X)                        \
  X(double, timeout, 60.0, ::xgrad::options::non_negative) \
  X(bool, abort_on_exception, true, ::xgrad::options::any)
  XGRAD_OPTIONS(EnvironmentOptions, XGRAD_DISTRIBUTED_FIELDS)
#undef XGRAD_DISTRIBUTED_FIELDS
};

/// RAII MPI start-up: the constructor calls MPI_Init_thread asking for
/// MPI_THREAD_SERIALIZED (MPI calls may come from any thread, one at a time; xgrad only
/// calls MPI from the thread that calls it: collectives, forward, backward) and the
/// destructor calls MPI_Finalize. When MPI is already initialised (by the program or by an
/// outer Environment) neither happens: the Environment then only installs its options
/// (timeout, failure handling) for its lifetime. Not copyable nor movable; keep one in main.
/// Throws xgrad::Error for invalid options, or when MPI was already finalised (MPI cannot be
/// restarted), or when the MPI library offers less than MPI_THREAD_FUNNELED.
class Environment {
 public:
  explicit Environment(EnvironmentOptions options = {});
  /// Passes argc/argv to MPI_Init_thread (MPI may strip its own arguments).
  Environment(int& argc, char**& argv, EnvironmentOptions options = {});
  ~Environment();
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;

  const EnvironmentOptions& options() const { return options_; }

 private:
  void start(int* argc, char*** argv);
  EnvironmentOptions options_;
  bool owns_mpi_ = false;
  int uncaught_at_start_ = 0;
  double previous_timeout_ = 60.0;
  bool previous_abort_ = true;
  void* previous_terminate_ = nullptr;
};

/// True between MPI_Init and MPI_Finalize.
bool is_initialized();
/// This process's rank in MPI_COMM_WORLD, in [0, world_size()). Throws xgrad::Error when MPI
/// is not initialised ("create a distributed::Environment first").
int rank();
/// Number of processes in MPI_COMM_WORLD (the -np of mpirun). Throws like rank().
int world_size();
/// Blocks until every rank has called barrier() (MPI_Ibarrier waited with the watchdog).
/// Throws like rank().
void barrier();

/// The deadline of every wait, in seconds (0 = none); see the top of this header. Set by the
/// Environment's options; set_timeout changes it (it must be >= 0, else xgrad::Error) until
/// the innermost Environment ends (which restores the value it found). Every rank should use
/// the same value.
double timeout();
void set_timeout(double seconds);

/// Prints "xgrad::distributed: rank R of N <message>. Aborting the job." to stderr and ends
/// every rank with MPI_Abort(MPI_COMM_WORLD, code). Without MPI, std::exit(code).
[[noreturn]] void abort_job(const std::string& message, int code = 1);

}  // namespace xgrad::distributed
