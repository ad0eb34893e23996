// Collectives on tensors: MPI's non-blocking calls, waited on with the watchdog.
#include "xgrad/distributed/collectives.hpp"

#include <climits>
#include <cstring>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "mpi_util.hpp"

namespace xgrad::distributed {

const char* to_string(ReduceOp op) {
  switch (op) {
    case ReduceOp::sum:
      return "sum";
    case ReduceOp::mean:
      return "mean";
    case ReduceOp::max:
      return "max";
    case ReduceOp::min:
      return "min";
  }
  return "?";
}

// ---- Work -----------------------------------------------------------------------------------

Work::Work() = default;
Work::Work(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Work::Work(Work&&) noexcept = default;
Work& Work::operator=(Work&& other) noexcept {
  if (this != &other) {
    if (impl_) wait();
    impl_ = std::move(other.impl_);
  }
  return *this;
}
Work::~Work() {
  if (impl_) wait();
}

void Work::wait() {
  if (!impl_ || impl_->done) return;
  detail::wait_request(impl_->request, impl_->what);
  impl_->complete();
}

bool Work::is_completed() {
  if (!impl_ || impl_->done) return true;
  if (!detail::test_request(impl_->request)) return false;
  impl_->complete();
  return true;
}

namespace {

enum class Kind : std::int64_t { all_reduce = 1, broadcast, all_gather, reduce_scatter };

MPI_Op mpi_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::sum:
    case ReduceOp::mean:
      return MPI_SUM;
    case ReduceOp::max:
      return MPI_MAX;
    case ReduceOp::min:
      return MPI_MIN;
  }
  return MPI_SUM;
}

int count_of(const Tensor& t, std::string_view op) {
  if (t.numel() > INT_MAX)
    throw Error(
        fmt::format("{}: tensors of more than {} elements are not supported, got shape {}", op, INT_MAX, t.shape()));
  return static_cast<int>(t.numel());
}

void check_defined(const Tensor& t, std::string_view op) {
  if (!t.defined()) throw Error(fmt::format("{}: got an undefined tensor", op));
}

// A tensor MPI writes into: contiguous, not part of a graph.
void check_in_place(const Tensor& t, std::string_view op) {
  check_defined(t, op);
  if (t.requires_grad())
    throw Error(
        fmt::format("{}: the tensor requires grad, but collectives are not differentiable; pass "
                    "tensor.detach() (it shares the data) to write into it",
                    op));
  if (!t.is_contiguous())
    throw Error(
        fmt::format("{}: the tensor must be contiguous (it is written in place), got shape {} with strides "
                    "{}; use a contiguous tensor",
                    op, t.shape(), t.strides()));
}

void check_reduction(const Tensor& t, ReduceOp rop, std::string_view op) {
  if (t.dtype() == Dtype::boolean) throw Error(fmt::format("{}: not supported for bool tensors", op));
  if (rop == ReduceOp::mean && !is_floating(t.dtype()))
    throw Error(fmt::format("{}: ReduceOp::mean needs a floating tensor, got {} (use sum and divide)", op, t.dtype()));
}

// Every rank passes the same collective, shape, dtype and op/root: compared through one small
// all-reduce of a hash (max of h and of -h), so a mismatch throws on every rank.
void check_agreement(Kind kind, const Tensor& t, std::int64_t extra, std::string_view op, std::string_view what) {
  detail::Signature sig;
  sig.add(static_cast<std::uint64_t>(kind));
  sig.add(static_cast<std::uint64_t>(t.dtype()));
  sig.add(static_cast<std::uint64_t>(t.dim()));
  for (std::int64_t s : t.shape()) sig.add(static_cast<std::uint64_t>(s));
  sig.add(static_cast<std::uint64_t>(extra));
  if (!detail::same_on_all_ranks(sig, fmt::format("{} ({} {}; comparing the ranks' shapes)", op, t.dtype(), t.shape())))
    throw Error(
        fmt::format("{}: the ranks disagree: every rank must pass a tensor of the same shape and dtype{}; "
                    "rank {} has {} {}",
                    op, what, rank(), t.dtype(), t.shape()));
}

void divide_by_world(const Tensor& t, int n) {
  if (t.dtype() == Dtype::float32) {
    float* p = t.data_ptr<float>();
    for (std::int64_t i = 0; i < t.numel(); ++i) p[i] /= static_cast<float>(n);
  } else if (t.dtype() == Dtype::float64) {
    double* p = t.data_ptr<double>();
    for (std::int64_t i = 0; i < t.numel(); ++i) p[i] /= static_cast<double>(n);
  }
}

std::string describe(std::string_view op, const Tensor& t, std::string_view extra) {
  return fmt::format("{} ({}{} {})", op, extra, t.dtype(), t.shape());
}

}  // namespace

namespace detail {
bool same_on_all_ranks(const Signature& s, const std::string& what) {
  const auto v = static_cast<std::int64_t>(s.h >> 1);
  std::int64_t buf[2] = {v, -v};
  MPI_Request req = MPI_REQUEST_NULL;
  MPI_Iallreduce(MPI_IN_PLACE, buf, 2, MPI_INT64_T, MPI_MAX, MPI_COMM_WORLD, &req);
  wait_request(req, what);
  return buf[0] == v && -buf[1] == v;
}

void* raw_data(const Tensor& t) {
  switch (t.dtype()) {
    case Dtype::float32:
      return t.data_ptr<float>();
    case Dtype::float64:
      return t.data_ptr<double>();
    case Dtype::int64:
      return t.data_ptr<std::int64_t>();
    case Dtype::int32:
      return t.data_ptr<std::int32_t>();
    case Dtype::boolean:
      return t.data_ptr<bool>();
  }
  return nullptr;
}
}  // namespace detail

namespace {

// The non-blocking calls, after the local checks.
Work start_all_reduce(const Tensor& tensor, ReduceOp op) {
  auto impl = std::make_unique<Work::Impl>();
  impl->what = describe("all_reduce", tensor, fmt::format("{}, ", to_string(op)));
  const int count = count_of(tensor, "all_reduce");
  MPI_Iallreduce(MPI_IN_PLACE, detail::raw_data(tensor), count, detail::mpi_type(tensor.dtype()), mpi_op(op),
                 MPI_COMM_WORLD, &impl->request);
  impl->keep_alive.push_back(tensor);
  if (op == ReduceOp::mean) impl->finish = [tensor, n = world_size()] { divide_by_world(tensor, n); };
  return Work(std::move(impl));
}

Work start_broadcast(const Tensor& tensor, int root) {
  auto impl = std::make_unique<Work::Impl>();
  impl->what = describe("broadcast", tensor, fmt::format("root {}, ", root));
  const int count = count_of(tensor, "broadcast");
  MPI_Ibcast(detail::raw_data(tensor), count, detail::mpi_type(tensor.dtype()), root, MPI_COMM_WORLD, &impl->request);
  impl->keep_alive.push_back(tensor);
  return Work(std::move(impl));
}

void check_root(int root, std::string_view op) {
  const int n = world_size();
  if (root < 0 || root >= n)
    throw Error(fmt::format("{}: root {} is out of range for a world of {} rank(s)", op, root, n));
}

// Contiguous, detached, same dtype: what MPI reads.
Tensor packed(const Tensor& t) { return t.detach().contiguous(); }

// [W * numel] elements: every rank's tensor in rank order.
Tensor gather_flat(const Tensor& tensor, const Shape& out_shape, std::string_view op) {
  detail::require_mpi(op);
  check_defined(tensor, op);
  check_agreement(Kind::all_gather, tensor, 0, op, "");
  const Tensor in = packed(tensor);
  const int count = count_of(in, op);
  Tensor out = xgrad::detail::make_tensor(out_shape, in.dtype(), op);
  MPI_Request req = MPI_REQUEST_NULL;
  const MPI_Datatype type = detail::mpi_type(in.dtype());
  MPI_Iallgather(count ? detail::raw_data(in) : nullptr, count, type, out.numel() ? detail::raw_data(out) : nullptr,
                 count, type, MPI_COMM_WORLD, &req);
  detail::wait_request(req, describe(op, in, ""));
  return out;
}

}  // namespace

void all_reduce(const Tensor& tensor, ReduceOp op) {
  detail::require_mpi("all_reduce");
  check_in_place(tensor, "all_reduce");
  check_reduction(tensor, op, "all_reduce");
  check_agreement(Kind::all_reduce, tensor, static_cast<std::int64_t>(op), "all_reduce", " and the same op");
  start_all_reduce(tensor, op).wait();
}

Work all_reduce_async(const Tensor& tensor, ReduceOp op) {
  detail::require_mpi("all_reduce_async");
  check_in_place(tensor, "all_reduce_async");
  check_reduction(tensor, op, "all_reduce_async");
  return start_all_reduce(tensor, op);
}

void broadcast(const Tensor& tensor, int root) {
  detail::require_mpi("broadcast");
  check_in_place(tensor, "broadcast");
  check_root(root, "broadcast");
  check_agreement(Kind::broadcast, tensor, root, "broadcast", " and the same root");
  start_broadcast(tensor, root).wait();
}

Work broadcast_async(const Tensor& tensor, int root) {
  detail::require_mpi("broadcast_async");
  check_in_place(tensor, "broadcast_async");
  check_root(root, "broadcast_async");
  return start_broadcast(tensor, root);
}

std::vector<Tensor> all_gather(const Tensor& tensor) {
  detail::require_mpi("all_gather");
  check_defined(tensor, "all_gather");
  const int n = world_size();
  const Tensor flat = gather_flat(tensor, {n * tensor.numel()}, "all_gather");
  std::vector<Tensor> out;
  const std::size_t bytes = static_cast<std::size_t>(tensor.numel()) * dtype_size(tensor.dtype());
  for (int r = 0; r < n; ++r) {
    Tensor t = xgrad::detail::make_tensor(tensor.shape(), tensor.dtype(), "all_gather");
    if (bytes) std::memcpy(detail::raw_data(t), static_cast<const char*>(detail::raw_data(flat)) + r * bytes, bytes);
    out.push_back(t);
  }
  return out;
}

Tensor all_gather_into_tensor(const Tensor& tensor) {
  detail::require_mpi("all_gather_into_tensor");
  check_defined(tensor, "all_gather_into_tensor");
  Shape shape = tensor.shape();
  if (shape.empty())
    shape = {world_size()};
  else
    shape[0] *= world_size();
  return gather_flat(tensor, shape, "all_gather_into_tensor");
}

Tensor reduce_scatter(const Tensor& input, ReduceOp op) {
  detail::require_mpi("reduce_scatter");
  check_defined(input, "reduce_scatter");
  check_reduction(input, op, "reduce_scatter");
  const int n = world_size();
  if (input.dim() == 0) throw Error("reduce_scatter: expected an input with at least one dimension, got a 0-d tensor");
  if (input.size(0) % n != 0)
    throw Error(fmt::format("reduce_scatter: dim 0 of the input (shape {}) must be divisible by the world size {}",
                            input.shape(), n));
  check_agreement(Kind::reduce_scatter, input, static_cast<std::int64_t>(op), "reduce_scatter", " and the same op");
  const Tensor in = packed(input);
  count_of(in, "reduce_scatter");
  Shape shape = in.shape();
  shape[0] /= n;
  Tensor out = xgrad::detail::make_tensor(shape, in.dtype(), "reduce_scatter");
  const int count = static_cast<int>(out.numel());
  MPI_Request req = MPI_REQUEST_NULL;
  MPI_Ireduce_scatter_block(count ? detail::raw_data(in) : nullptr, count ? detail::raw_data(out) : nullptr, count,
                            detail::mpi_type(in.dtype()), mpi_op(op), MPI_COMM_WORLD, &req);
  detail::wait_request(req, describe("reduce_scatter", in, fmt::format("{}, ", to_string(op))));
  if (op == ReduceOp::mean) divide_by_world(out, n);
  return out;
}

}  // namespace xgrad::distributed
