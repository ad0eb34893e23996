// MPI start-up and shut-down, rank / world size / barrier, the watchdog and the abort paths.
#include "xgrad/distributed/environment.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <thread>

#include <fmt/format.h>

#include "mpi_util.hpp"

namespace xgrad::distributed {

namespace {

double g_timeout = 60.0;
bool g_abort_on_exception = false;  // set by an Environment

bool mpi_running() {
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  return init && !fin;
}

int world_size_or_1() {
  if (!mpi_running()) return 1;
  int n = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  return n;
}

[[noreturn]] void on_terminate() {
  std::string what = "std::terminate was called without an active exception";
  if (const std::exception_ptr e = std::current_exception()) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      what = fmt::format("an uncaught exception: {}", ex.what());
    } catch (...) {
      what = "an uncaught exception of unknown type";
    }
  }
  if (g_abort_on_exception && world_size_or_1() > 1) abort_job(fmt::format("is failing with {}", what));
  std::fprintf(stderr, "xgrad::distributed: %s\n", what.c_str());
  std::abort();
}

}  // namespace

namespace detail {

void require_mpi(std::string_view op) {
  if (!mpi_running())
    throw Error(fmt::format("{}: MPI is not initialised; create a distributed::Environment first", op));
}

MPI_Datatype mpi_type(Dtype d) {
  switch (d) {
    case Dtype::float32:
      return MPI_FLOAT;
    case Dtype::float64:
      return MPI_DOUBLE;
    case Dtype::int64:
      return MPI_INT64_T;
    case Dtype::int32:
      return MPI_INT32_T;
    case Dtype::boolean:
      return MPI_BYTE;
  }
  throw Error(fmt::format("distributed: unknown dtype {}", static_cast<int>(d)));
}

bool test_request(MPI_Request& request) {
  if (request == MPI_REQUEST_NULL) return true;
  int flag = 0;
  MPI_Test(&request, &flag, MPI_STATUS_IGNORE);
  return flag != 0;
}

void wait_request(MPI_Request& request, const std::string& what) {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  const double limit = g_timeout;
  for (std::uint64_t spin = 0; !test_request(request); ++spin) {
    // Spin briefly (latency), then sleep between polls so that oversubscribed ranks leave
    // the core to the rank they wait for. MPI_Test is also what makes Open MPI progress.
    if (spin < 200)
      std::this_thread::yield();
    else
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    if (limit > 0 && (spin & 63) == 0 && std::chrono::duration<double>(clock::now() - start).count() > limit)
      abort_job(
          fmt::format("timed out after {} s waiting for {}; another rank has probably failed or stopped "
                      "calling the same collectives",
                      limit, what));
  }
}

}  // namespace detail

bool is_initialized() { return mpi_running(); }

int rank() {
  detail::require_mpi("rank");
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

int world_size() {
  detail::require_mpi("world_size");
  return world_size_or_1();
}

void barrier() {
  detail::require_mpi("barrier");
  MPI_Request req = MPI_REQUEST_NULL;
  MPI_Ibarrier(MPI_COMM_WORLD, &req);
  detail::wait_request(req, "barrier");
}

double timeout() { return g_timeout; }

void set_timeout(double seconds) {
  if (!(seconds >= 0)) throw Error(fmt::format("set_timeout: invalid timeout {} (must be >= 0)", seconds));
  g_timeout = seconds;
}

void abort_job(const std::string& message, int code) {
  if (!mpi_running()) {
    std::fprintf(stderr, "xgrad::distributed: %s. Exiting.\n", message.c_str());
    std::fflush(stderr);
    std::exit(code);
  }
  int r = 0, n = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  std::fprintf(stderr, "xgrad::distributed: rank %d of %d %s. Aborting the job.\n", r, n, message.c_str());
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, code);
  std::exit(code);  // MPI_Abort does not return; this satisfies [[noreturn]]
}

// ---- Environment ----------------------------------------------------------------------------

Environment::Environment(EnvironmentOptions options) : options_(options) { start(nullptr, nullptr); }

Environment::Environment(int& argc, char**& argv, EnvironmentOptions options) : options_(options) {
  start(&argc, &argv);
}

void Environment::start(int* argc, char*** argv) {
  options::validate_options(options_, "Environment");
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  if (fin) throw Error("Environment: MPI was already finalised and cannot be started again");
  if (!init) {
    int provided = 0;
    MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided);
    owns_mpi_ = true;
    if (provided < MPI_THREAD_FUNNELED) {
      MPI_Finalize();
      throw Error(
          fmt::format("Environment: the MPI library offers thread level {} only; xgrad needs at least "
                      "MPI_THREAD_FUNNELED",
                      provided));
    }
  }
  previous_timeout_ = g_timeout;
  previous_abort_ = g_abort_on_exception;
  g_timeout = options_.timeout();
  g_abort_on_exception = options_.abort_on_exception();
  if (options_.abort_on_exception()) previous_terminate_ = reinterpret_cast<void*>(std::set_terminate(on_terminate));
  uncaught_at_start_ = std::uncaught_exceptions();
}

Environment::~Environment() {
  // An exception unwinding through here is a failure of this rank: the others would wait for
  // it until their timeout, so end the job now.
  if (std::uncaught_exceptions() > uncaught_at_start_ && options_.abort_on_exception() && world_size_or_1() > 1)
    abort_job("is leaving its Environment because of an exception (see the rank's output for it)");
  if (options_.abort_on_exception()) std::set_terminate(reinterpret_cast<std::terminate_handler>(previous_terminate_));
  g_timeout = previous_timeout_;
  g_abort_on_exception = previous_abort_;
  if (owns_mpi_ && mpi_running()) MPI_Finalize();
}

}  // namespace xgrad::distributed
