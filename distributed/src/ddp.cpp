// DistributedDataParallel: gradient buckets filled by the parameters' gradient hooks and
// all-reduced with MPI_Iallreduce while backward goes on (see ddp.hpp for the contract).
#include "xgrad/distributed/ddp.hpp"

#include <chrono>
#include <unordered_set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "mpi_util.hpp"
#include "xgrad/autograd/node.hpp"
#include "xgrad/distributed/collectives.hpp"

namespace xgrad::distributed {

namespace {
using Clock = std::chrono::steady_clock;
double seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }
}  // namespace

struct DistributedDataParallel::Reducer {
  struct Param {
    Tensor tensor;
    std::string name;  // relative to the wrapped module
    std::size_t bucket = 0;
    std::int64_t offset = 0;
    std::size_t hook = 0;
    bool ready = false;
  };
  struct Bucket {
    Tensor flat;
    std::vector<std::size_t> params;
    std::size_t pending = 0;
    MPI_Request request = MPI_REQUEST_NULL;
    bool complete = false;
  };

  std::vector<Param> params;
  std::vector<Bucket> buckets;
  std::size_t next_launch = 0;  // buckets [0, next_launch) have started
  std::size_t ready_count = 0;
  bool active = false;  // a gradient arrived since the last reduction
  bool sync = true;
  bool find_unused = false;
  int world = 1;
  Clock::time_point first_launch, last_complete;
  GradSyncStats stats;

  Tensor slot(const Param& p) const {
    return buckets[p.bucket].flat.narrow(0, p.offset, p.tensor.numel()).view(p.tensor.shape());
  }

  std::string bucket_name(std::size_t k) const {
    const Tensor& f = buckets[k].flat;
    return fmt::format("all_reduce of DistributedDataParallel's gradient bucket {} of {} ({} {} elements)", k,
                       buckets.size(), f.numel(), f.dtype());
  }

  // Buckets start strictly in order, so every rank issues the same sequence of collectives.
  void launch_ready() {
    while (next_launch < buckets.size() && buckets[next_launch].pending == 0) {
      Bucket& b = buckets[next_launch];
      if (next_launch == 0) first_launch = Clock::now();
      MPI_Iallreduce(MPI_IN_PLACE, detail::raw_data(b.flat), static_cast<int>(b.flat.numel()),
                     detail::mpi_type(b.flat.dtype()), MPI_SUM, MPI_COMM_WORLD, &b.request);
      ++next_launch;
    }
  }

  // Lets MPI progress the buckets in flight (Open MPI progresses only inside MPI calls).
  void progress() {
    for (std::size_t k = 0; k < next_launch; ++k) {
      Bucket& b = buckets[k];
      if (b.complete) continue;
      if (!detail::test_request(b.request)) break;
      b.complete = true;
      last_complete = Clock::now();
    }
  }

  void wait_launched() {
    for (std::size_t k = 0; k < next_launch; ++k) {
      Bucket& b = buckets[k];
      if (b.complete) continue;
      detail::wait_request(b.request, bucket_name(k));
      b.complete = true;
      last_complete = Clock::now();
    }
  }

  void reset() {
    for (Param& p : params) p.ready = false;
    for (Bucket& b : buckets) {
      b.pending = b.params.size();
      b.complete = false;
      b.request = MPI_REQUEST_NULL;
    }
    next_launch = 0;
    ready_count = 0;
    active = false;
  }

  void mark_ready(std::size_t i) {
    params[i].ready = true;
    ++ready_count;
    if (--buckets[params[i].bucket].pending == 0) launch_ready();
  }

  // Waits for every bucket, averages, writes .grad() of every parameter but `skip`, and
  // returns skip's average (to be accumulated by the engine into its emptied .grad()).
  Tensor finish(std::size_t skip) {
    const auto t0 = Clock::now();
    wait_launched();
    stats.exposed = seconds(t0, Clock::now());
    stats.communication = seconds(first_launch, last_complete);
    stats.buckets = static_cast<std::int64_t>(buckets.size());
    stats.bytes = 0;
    for (Bucket& b : buckets) {
      stats.bytes += b.flat.numel() * static_cast<std::int64_t>(dtype_size(b.flat.dtype()));
      if (b.flat.dtype() == Dtype::float32) {
        float* p = b.flat.data_ptr<float>();
        for (std::int64_t k = 0; k < b.flat.numel(); ++k) p[k] /= static_cast<float>(world);
      } else {
        double* p = b.flat.data_ptr<double>();
        for (std::int64_t k = 0; k < b.flat.numel(); ++k) p[k] /= static_cast<double>(world);
      }
    }
    Tensor result;
    for (std::size_t i = 0; i < params.size(); ++i) {
      const Param& p = params[i];
      const Tensor avg = slot(p);
      if (i == skip) {
        result = avg.clone();
        p.tensor.set_grad(Tensor());
        continue;
      }
      Tensor g = p.tensor.grad();
      if (g.defined() && !g.requires_grad() && g.is_contiguous() && g.dtype() == avg.dtype() &&
          g.shape() == avg.shape())
        g.copy_(avg);
      else
        p.tensor.set_grad(avg.clone());
    }
    reset();
    return result;
  }

  Tensor on_grad(std::size_t i, const Tensor& g) {
    if (!sync) return Tensor();  // no_sync: the engine accumulates into .grad() locally
    NoGradGuard no_grad;
    Param& p = params[i];
    if (p.ready)
      throw Error(
          fmt::format("DistributedDataParallel: parameter {} received a second gradient before the reduction "
                      "of its first one finished (a second backward without synchronize() in between, "
                      "while some parameters got no gradient)",
                      p.name));
    if (g.dtype() != buckets[p.bucket].flat.dtype() || g.shape() != p.tensor.shape())
      throw Error(
          fmt::format("DistributedDataParallel: parameter {} now has a gradient of {} {}, but it was {} {} when "
                      "the wrapper was built; convert or reshape the module before wrapping it",
                      p.name, g.dtype(), g.shape(), buckets[p.bucket].flat.dtype(), slot(p).shape()));
    active = true;
    Tensor s = slot(p);
    s.copy_(g);
    const Tensor old = p.tensor.grad();  // gradients accumulated under no_sync
    if (old.defined()) s.add_(old);
    mark_ready(i);
    progress();
    if (ready_count == params.size()) return finish(i);
    return Tensor();
  }
};

// ---- DistributedDataParallel ------------------------------------------------------------------

DistributedDataParallel::DistributedDataParallel(std::shared_ptr<nn::Module> module,
                                                 DistributedDataParallelOptions options)
    : nn::Module("DistributedDataParallel"), module_(std::move(module)), options_(options) {
  if (!module_) throw Error("DistributedDataParallel: got a null module");
  options::validate_options(options_, "DistributedDataParallel");
  detail::require_mpi("DistributedDataParallel");
  register_module("module", module_);

  const auto named_params = module_->named_parameters();
  const auto named_buffers = module_->named_buffers();
  detail::Signature sig;
  for (const auto* list : {&named_params, &named_buffers}) {
    sig.add(list->size());
    for (const auto& [name, t] : *list) {
      sig.add(static_cast<std::uint64_t>(t.dtype()));
      sig.add(static_cast<std::uint64_t>(t.dim()));
      for (std::int64_t s : t.shape()) sig.add(static_cast<std::uint64_t>(s));
    }
  }
  if (!detail::same_on_all_ranks(sig, "DistributedDataParallel's construction (comparing the modules)"))
    throw Error(
        fmt::format("DistributedDataParallel: the ranks' modules differ: every rank must wrap a module with "
                    "the same parameters and buffers (shapes and dtypes); rank {} has {} parameters and {} "
                    "buffers",
                    rank(), named_params.size(), named_buffers.size()));

  // Rank 0's values everywhere.
  {
    NoGradGuard no_grad;
    std::vector<Work> works;
    std::vector<std::pair<Tensor, Tensor>> copy_back;
    for (const auto* list : {&named_params, &named_buffers})
      for (const auto& [name, t] : *list) {
        Tensor d = t.detach();
        if (!d.is_contiguous()) {
          copy_back.emplace_back(d, d.contiguous().clone());
          d = copy_back.back().second;
        }
        works.push_back(broadcast_async(d, 0));
      }
    for (Work& w : works) w.wait();
    for (auto& [dst, src] : copy_back) dst.copy_(src);
  }

  reducer_ = std::make_shared<Reducer>();
  Reducer& r = *reducer_;
  r.world = world_size();
  r.find_unused = options_.find_unused_parameters();
  std::unordered_set<const void*> seen;
  for (auto it = named_params.rbegin(); it != named_params.rend(); ++it) {
    const Tensor& t = it->second;
    if (!t.requires_grad() || !seen.insert(t.impl().get()).second) continue;
    if (!is_floating(t.dtype()))
      throw Error(fmt::format("DistributedDataParallel: parameter {} has dtype {}; gradients need float32 or float64",
                              it->first, t.dtype()));
    r.params.push_back({t, it->first});
  }
  const auto cap = static_cast<std::int64_t>(options_.bucket_cap_mb() * 1024.0 * 1024.0);
  std::int64_t bucket_bytes = 0, bucket_elems = 0;
  std::vector<std::int64_t> sizes;
  for (std::size_t i = 0; i < r.params.size(); ++i) {
    Reducer::Param& p = r.params[i];
    const std::int64_t bytes = p.tensor.numel() * static_cast<std::int64_t>(dtype_size(p.tensor.dtype()));
    const bool fresh = r.buckets.empty() || bucket_bytes + bytes > cap ||
                       r.params[r.buckets.back().params.front()].tensor.dtype() != p.tensor.dtype();
    if (fresh) {
      if (!r.buckets.empty()) sizes.push_back(bucket_elems);
      r.buckets.emplace_back();
      bucket_bytes = bucket_elems = 0;
    }
    p.bucket = r.buckets.size() - 1;
    p.offset = bucket_elems;
    r.buckets.back().params.push_back(i);
    bucket_bytes += bytes;
    bucket_elems += p.tensor.numel();
  }
  if (!r.buckets.empty()) sizes.push_back(bucket_elems);
  for (std::size_t k = 0; k < r.buckets.size(); ++k) {
    const Dtype d = r.params[r.buckets[k].params.front()].tensor.dtype();
    if (sizes[k] > INT32_MAX)
      throw Error(fmt::format("DistributedDataParallel: a bucket of {} elements is too large for MPI", sizes[k]));
    r.buckets[k].flat = xgrad::detail::make_tensor({sizes[k]}, d, "DistributedDataParallel");
  }
  r.reset();

  const std::weak_ptr<Reducer> weak = reducer_;
  for (std::size_t i = 0; i < r.params.size(); ++i)
    r.params[i].hook = r.params[i].tensor.register_hook([weak, i](const Tensor& g) {
      const auto reducer = weak.lock();
      return reducer ? reducer->on_grad(i, g) : Tensor();
    });
}

DistributedDataParallel::~DistributedDataParallel() {
  if (!reducer_) return;
  for (const auto& p : reducer_->params) p.tensor.remove_hook(p.hook);
  if (is_initialized()) reducer_->wait_launched();
}

Tensor DistributedDataParallel::forward(const Tensor& input) {
  Reducer& r = *reducer_;
  if (r.active) {
    std::vector<std::string> missing;
    for (const auto& p : r.params)
      if (!p.ready) missing.push_back("module." + p.name);
    throw Error(
        fmt::format("DistributedDataParallel: the previous backward's gradient reduction was not finished: no "
                    "gradient reached {}; call synchronize() after backward(){}",
                    fmt::join(missing, ", "),
                    r.find_unused ? "" : " with find_unused_parameters(true) when parameters may go unused"));
  }
  if (options_.broadcast_buffers() && r.world > 1) {
    NoGradGuard no_grad;
    std::vector<Work> works;
    for (Tensor b : module_->buffers()) works.push_back(broadcast_async(b, 0));
    for (Work& w : works) w.wait();
  }
  return (*module_)(input);
}

void DistributedDataParallel::synchronize() {
  Reducer& r = *reducer_;
  if (!r.active) return;
  std::vector<std::string> missing;
  for (const auto& p : r.params)
    if (!p.ready) missing.push_back("module." + p.name);
  if (!r.find_unused) {
    r.wait_launched();
    r.reset();
    throw Error(
        fmt::format("DistributedDataParallel: no gradient reached {} in this backward; pass "
                    "find_unused_parameters(true) when parameters may go unused (they then contribute their "
                    "local .grad(), or zeros)",
                    fmt::join(missing, ", ")));
  }
  NoGradGuard no_grad;
  for (std::size_t i = 0; i < r.params.size(); ++i) {
    Reducer::Param& p = r.params[i];
    if (p.ready) continue;
    Tensor s = r.slot(p);
    const Tensor old = p.tensor.grad();
    if (old.defined())
      s.copy_(old);
    else
      s.fill_(0.0);
    r.mark_ready(i);
  }
  r.finish(r.params.size());
}

DistributedDataParallel::NoSyncGuard::NoSyncGuard(DistributedDataParallel& ddp)
    : ddp_(ddp), previous_(ddp.reducer_->sync) {
  ddp_.reducer_->sync = false;
}

DistributedDataParallel::NoSyncGuard::~NoSyncGuard() { ddp_.reducer_->sync = previous_; }

bool DistributedDataParallel::require_backward_grad_sync() const { return reducer_->sync; }

std::vector<std::vector<std::string>> DistributedDataParallel::bucket_parameter_names() const {
  std::vector<std::vector<std::string>> out;
  for (const auto& b : reducer_->buckets) {
    out.emplace_back();
    for (std::size_t i : b.params) out.back().push_back(reducer_->params[i].name);
  }
  return out;
}

GradSyncStats DistributedDataParallel::last_sync_stats() const { return reducer_->stats; }

std::string DistributedDataParallel::extra_repr() const {
  return fmt::format("world_size={}, buckets={}, {}", reducer_->world, reducer_->buckets.size(),
                     options::format_options(options_));
}

}  // namespace xgrad::distributed
