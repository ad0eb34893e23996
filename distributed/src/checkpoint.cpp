// Checkpoints: rank 0 writes, every rank reads rank 0's bytes.
#include "xgrad/distributed/checkpoint.hpp"

#include <algorithm>
#include <climits>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "mpi_util.hpp"
#include "xgrad/distributed/environment.hpp"

namespace xgrad::distributed {

namespace {

constexpr std::string_view kModel = "model.";
constexpr std::string_view kOptimizer = "optimizer.";

bool distributed_run() { return is_initialized(); }

void bcast_bytes(void* data, std::int64_t n, const std::string& what) {
  auto* p = static_cast<char*>(data);
  for (std::int64_t done = 0; done < n;) {
    const int chunk = static_cast<int>(std::min<std::int64_t>(n - done, INT_MAX / 2));
    MPI_Request req = MPI_REQUEST_NULL;
    MPI_Ibcast(p + done, chunk, MPI_BYTE, 0, MPI_COMM_WORLD, &req);
    detail::wait_request(req, what);
    done += chunk;
  }
}

// Rank 0's status (0 = ok, else the message's length) and message, to every rank.
std::string share_error(std::string message, const std::string& what) {
  std::int64_t len = static_cast<std::int64_t>(message.size());
  bcast_bytes(&len, sizeof len, what);
  message.resize(static_cast<std::size_t>(len));
  bcast_bytes(message.data(), len, what);
  return message;
}

TensorDict with_prefix(const TensorDict& d, std::string_view prefix) {
  TensorDict out;
  for (const auto& [k, v] : d) out.emplace(std::string(prefix) + k, v);
  return out;
}

TensorDict strip_prefix(const TensorDict& d, std::string_view prefix) {
  TensorDict out;
  for (const auto& [k, v] : d)
    if (k.compare(0, prefix.size(), prefix) == 0) out.emplace(k.substr(prefix.size()), v);
  return out;
}

}  // namespace

void save_checkpoint(const std::string& path, const nn::Module& model, const optim::Optimizer* optimizer,
                     const Metadata& metadata) {
  const bool writer = !distributed_run() || rank() == 0;
  std::string error;
  if (writer) {
    try {
      TensorDict all = with_prefix(model.state_dict(), kModel);
      if (optimizer) all.merge(with_prefix(optimizer->state_dict(), kOptimizer));
      save_safetensors(path, all, metadata);
    } catch (const std::exception& e) {
      error = e.what();
      if (error.empty()) error = "unknown error";
    }
  }
  if (distributed_run()) error = share_error(error, fmt::format("save_checkpoint of {}", path));
  if (!error.empty()) throw Error(fmt::format("save_checkpoint: rank 0 failed to write {}: {}", path, error));
}

Metadata load_checkpoint(const std::string& path, nn::Module& model, optim::Optimizer* optimizer) {
  const bool reader = !distributed_run() || rank() == 0;
  std::string bytes, error;
  if (reader) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      error = fmt::format("cannot open {}", path);
    } else {
      std::ostringstream ss;
      ss << in.rdbuf();
      if (!in.good() && !in.eof()) error = fmt::format("cannot read {}", path);
      bytes = ss.str();
    }
  }
  if (distributed_run()) {
    const std::string what = fmt::format("load_checkpoint of {}", path);
    error = share_error(error, what);
    if (error.empty()) {
      std::int64_t n = static_cast<std::int64_t>(bytes.size());
      bcast_bytes(&n, sizeof n, what);
      bytes.resize(static_cast<std::size_t>(n));
      bcast_bytes(bytes.data(), n, what);
    }
  }
  if (!error.empty()) throw Error(fmt::format("load_checkpoint: rank 0 {}", error));
  SafetensorsFile file;
  try {
    file = from_safetensors_bytes(bytes);
  } catch (const Error& e) {
    throw Error(fmt::format("load_checkpoint: {}: {}", path, e.what()));
  }
  const TensorDict model_state = strip_prefix(file.tensors, kModel);
  if (model_state.empty() && !model.state_dict().empty())
    throw Error(
        fmt::format("load_checkpoint: {} holds no \"model.\" entries: it was not written by save_checkpoint", path));
  TensorDict optimizer_state;
  if (optimizer) {
    optimizer_state = strip_prefix(file.tensors, kOptimizer);
    if (optimizer_state.empty())
      throw Error(
          fmt::format("load_checkpoint: {} holds no optimizer state (\"optimizer.\" entries), but an "
                      "optimizer was given",
                      path));
  }
  model.load_state_dict(model_state, true);
  if (optimizer) optimizer->load_state_dict(optimizer_state);
  return file.metadata;
}

}  // namespace xgrad::distributed
