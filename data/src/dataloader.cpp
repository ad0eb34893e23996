// collate() and the DataLoader: shuffled batches, parallel collation, background prefetch.
#include "xgrad/data/dataloader.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <exception>
#include <numeric>
#include <utility>

#include <fmt/format.h>

#include "common.hpp"
#include "xgrad/autograd/kernel/kernel.hpp"
#include "xgrad/autograd/node.hpp"
#include "xgrad/autograd/threading.hpp"

namespace xgrad::data {

namespace {

/// Below this many bytes per batch the copies run inline: a small batch must not pay for
/// task scheduling.
constexpr std::size_t kParallelBytes = std::size_t{1} << 17;
/// Bytes copied per task at least.
constexpr std::size_t kChunkBytes = std::size_t{1} << 16;

/// f(i) for every example i in [0, b): serially, or with kernel::parallel_for over tasks of
/// about `grain` examples (inline when b <= grain). With a budget of one thread TBB would run
/// the tasks inline anyway, after a detour through its partitioner: the loop runs directly.
template <class F>
void for_examples(std::int64_t b, bool parallel, std::int64_t grain, const F& f) {
  if (!parallel || get_num_threads() == 1) {
    for (std::int64_t i = 0; i < b; ++i) f(i);
    return;
  }
  kernel::parallel_for(b, grain, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i) f(i);
  });
}

/// Examples per task when each copies `bytes` (whole batch inline when it is small).
std::int64_t copy_grain(std::int64_t b, std::size_t bytes) {
  if (bytes == 0 || static_cast<std::size_t>(b) * bytes < kParallelBytes) return std::max<std::int64_t>(b, 1);
  return std::max<std::int64_t>(1, static_cast<std::int64_t>(kChunkBytes / bytes));
}

Shape batch_shape(std::int64_t b, const Shape& row) {
  Shape s{b};
  s.insert(s.end(), row.begin(), row.end());
  return s;
}

/// Batch from whole tensors: row i of the batch is row src(i) of the source.
Tensor gather_rows(const Tensor& source, const std::vector<std::int64_t>& rows, bool parallel) {
  const auto b = static_cast<std::int64_t>(rows.size());
  Tensor out = xgrad::detail::make_tensor(batch_shape(b, detail::row_shape(source)), source.dtype());
  const std::size_t nbytes = detail::row_bytes(source);
  const std::byte* src = detail::raw_bytes(source);
  std::byte* dst = detail::raw_bytes(out);
  for_examples(b, parallel, copy_grain(b, nbytes), [&](std::int64_t i) {
    if (nbytes > 0)
      std::memcpy(dst + static_cast<std::size_t>(i) * nbytes,
                  src + static_cast<std::size_t>(rows[static_cast<std::size_t>(i)]) * nbytes, nbytes);
  });
  return out;
}

/// Stacks per-example tensors (all defined, same shape and dtype: checked by the caller).
Tensor stack_examples(const std::vector<Example>& ex, Tensor Example::*field, bool parallel) {
  const auto b = static_cast<std::int64_t>(ex.size());
  const Tensor& first = ex.front().*field;
  Tensor out = xgrad::detail::make_tensor(batch_shape(b, first.shape()), first.dtype());
  const std::size_t nbytes = static_cast<std::size_t>(first.numel()) * dtype_size(first.dtype());
  std::byte* dst = detail::raw_bytes(out);
  for_examples(b, parallel, copy_grain(b, nbytes), [&](std::int64_t i) {
    if (nbytes > 0)
      std::memcpy(dst + static_cast<std::size_t>(i) * nbytes, detail::raw_bytes(ex[static_cast<std::size_t>(i)].*field),
                  nbytes);
  });
  return out;
}

/// t itself when its buffer starts at its first element in row-major order (what
/// stack_examples copies from), else a fresh contiguous copy.
Tensor packed(const Tensor& t) {
  if (t.is_contiguous() && t.storage_offset() == 0) return t;
  return t.contiguous().clone();
}

/// All examples' `field` must agree with example 0's (defined-ness, shape, dtype).
void check_uniform(const std::vector<Example>& ex, const std::vector<std::int64_t>& indices, Tensor Example::*field,
                   const char* what) {
  const Tensor& first = ex.front().*field;
  for (std::size_t i = 1; i < ex.size(); ++i) {
    const Tensor& t = ex[i].*field;
    if (t.defined() != first.defined())
      throw Error(fmt::format("collate: example {} has {} {} but example {} has {}", indices[0],
                              first.defined() ? "a" : "no", what, indices[i], t.defined() ? "one" : "none"));
    if (t.defined() && (t.shape() != first.shape() || t.dtype() != first.dtype()))
      throw Error(
          fmt::format("collate: cannot stack the {}s of examples {} ({} {}) and {} ({} {}): every example "
                      "of a batch needs the same shape and dtype",
                      what, indices[0], first.shape(), first.dtype(), indices[i], t.shape(), t.dtype()));
  }
}

/// The per-sample transform of a DataLoader and the coordinates of the batch's first example:
/// example i of the batch gets SampleGenerator::for_sample(seed, epoch, first + i).
struct TransformContext {
  const Transform* transform = nullptr;
  std::uint64_t seed = 0;
  std::int64_t epoch = 0;
  std::int64_t first = 0;
};

Batch collate_impl(const Dataset& dataset, const std::vector<std::int64_t>& indices, bool parallel,
                   const TransformContext& tc) {
  if (indices.empty()) throw Error("collate: expected at least one example index, got none");
  const std::int64_t n = dataset.size();
  for (std::size_t i = 0; i < indices.size(); ++i)
    if (indices[i] < 0 || indices[i] >= n)
      throw Error(
          fmt::format("collate: index {} (at position {}) is out of range for a dataset of size {}", indices[i], i, n));
  Batch batch;
  batch.indices = indices;

  if (auto rows = tc.transform ? std::nullopt : dataset.tensor_rows()) {
    // Fast path: copy rows straight from the source tensors.
    std::vector<std::int64_t> src = indices;
    if (rows->index)
      for (auto& s : src) s = (*rows->index)[static_cast<std::size_t>(s)];
    batch.data = gather_rows(rows->data, src, parallel);
    if (rows->target.defined()) batch.target = gather_rows(rows->target, src, parallel);
    return batch;
  }

  const auto b = static_cast<std::int64_t>(indices.size());
  std::vector<Example> ex(static_cast<std::size_t>(b));
  // get() may be expensive (decoding, augmentation): one example per task.
  for_examples(b, parallel, 1, [&](std::int64_t i) {
    NoGradGuard no_grad;  // per thread: the examples are data, not part of a graph
    Example& e = ex[static_cast<std::size_t>(i)];
    e = dataset.get(indices[static_cast<std::size_t>(i)]);
    if (tc.transform && e.data.defined()) {
      SampleGenerator gen = SampleGenerator::for_sample(tc.seed, tc.epoch, tc.first + i);
      e.data = (*tc.transform)(e.data, gen);
      if (!e.data.defined())
        throw Error(fmt::format("collate: the transform returned an undefined tensor for example {}",
                                indices[static_cast<std::size_t>(i)]));
      e.data = packed(e.data);
    }
  });
  if (!ex.front().data.defined()) throw Error(fmt::format("collate: example {} has undefined data", indices.front()));
  check_uniform(ex, indices, &Example::data, "data");
  check_uniform(ex, indices, &Example::target, "target");
  batch.data = stack_examples(ex, &Example::data, parallel);
  if (ex.front().target.defined()) batch.target = stack_examples(ex, &Example::target, parallel);
  return batch;
}

}  // namespace

Batch collate(const Dataset& dataset, const std::vector<std::int64_t>& indices, bool parallel) {
  return collate_impl(dataset, indices, parallel, TransformContext{});
}

// ---- DataLoader ------------------------------------------------------------------------

namespace detail {

/// One epoch: its order, the current batch and the batch being prefetched.
struct EpochState {
  std::shared_ptr<const Dataset> dataset;
  std::vector<std::int64_t> order;
  std::vector<std::int64_t> bounds;  // batch k is order[bounds[k], bounds[k + 1])
  std::int64_t num_batches = 0;
  std::shared_ptr<const Transform> transform;
  std::uint64_t seed = 0;
  std::int64_t epoch = 0;
  bool background = true;  // collate batch k + 1 in a TBB task while the caller has batch k
  bool parallel = true;

  std::int64_t current = 0;
  Batch batch;

  kernel::TaskGroup group;  // its edges are stated to ThreadSanitizer (kernel/parallel.hpp)
  bool pending = false;
  Batch next;
  std::exception_ptr error;
  // Explicit hand-off of next / error from the task to the waiting thread (task_group::wait
  // already orders them; this makes it visible to tools such as ThreadSanitizer too).
  std::atomic<bool> ready{false};

  EpochState() = default;
  EpochState(const EpochState&) = delete;
  EpochState& operator=(const EpochState&) = delete;

  ~EpochState() {
    // An early exit from the loop: the background task writes into *this, so wait for it.
    if (pending) {
      try {
        group.wait();
      } catch (...) {  // NOLINT: nothing to report it to in a destructor
      }
    }
  }

  Batch collate_batch(std::int64_t k) const {
    const std::int64_t begin = bounds[static_cast<std::size_t>(k)];
    const std::int64_t end = bounds[static_cast<std::size_t>(k) + 1];
    return collate_impl(*dataset, std::vector<std::int64_t>(order.begin() + begin, order.begin() + end), parallel,
                        TransformContext{transform.get(), seed, epoch, begin});
  }

  void launch(std::int64_t k) {
    pending = true;
    ready.store(false, std::memory_order_relaxed);
    group.run([this, k] {
      try {
        next = collate_batch(k);
      } catch (...) {
        error = std::current_exception();
      }
      ready.store(true, std::memory_order_release);
    });
  }

  Batch take() {
    group.wait();
    pending = false;
    if (!ready.load(std::memory_order_acquire)) throw Error("DataLoader: internal error: prefetch task did not finish");
    if (error) {
      current = num_batches;  // the epoch ends here
      std::rethrow_exception(std::exchange(error, nullptr));
    }
    return std::move(next);
  }

  /// Makes batch k the current one and, in the background, starts preparing batch k + 1.
  /// An error ends the epoch, whichever thread collated the batch.
  void advance_to(std::int64_t k) {
    current = k;
    if (k >= num_batches) {
      batch = Batch();
      return;
    }
    if (pending) {
      batch = take();
    } else {
      // Drop the previous batch first: the new one can take over its (warm) buffers.
      batch = Batch();
      try {
        batch = collate_batch(k);
      } catch (...) {
        current = num_batches;
        throw;
      }
    }
    if (background && k + 1 < num_batches) launch(k + 1);
  }
};

}  // namespace detail

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options)
    : dataset_(std::move(dataset)), options_(options) {
  if (!dataset_) throw Error("DataLoader: expected a dataset, got a null pointer");
  if (options_.batch_size_ < 1)
    throw Error(fmt::format("DataLoader: batch_size must be at least 1, got {}", options_.batch_size_));
  if (options_.sampler_ && options_.shuffle_)
    throw Error("DataLoader: the sampler option is mutually exclusive with shuffle (the sampler sets the order)");
  if (options_.batch_sampler_ && (options_.sampler_ || options_.shuffle_ || options_.drop_last_))
    throw Error(
        fmt::format("DataLoader: batch_sampler is mutually exclusive with sampler, shuffle and drop_last "
                    "(got sampler {}, shuffle {}, drop_last {})",
                    options_.sampler_ ? "set" : "unset", options_.shuffle_, options_.drop_last_));
}

std::int64_t DataLoader::size() const {
  if (options_.batch_sampler_) return options_.batch_sampler_->size();
  const std::int64_t n = options_.sampler_ ? options_.sampler_->size() : dataset_->size();
  const std::int64_t b = options_.batch_size_;
  return options_.drop_last_ ? n / b : (n + b - 1) / b;
}

void DataLoader::set_epoch(std::int64_t e) {
  if (e < 0) throw Error(fmt::format("DataLoader::set_epoch: epoch must be non-negative, got {}", e));
  epoch_ = e;
}

std::vector<std::int64_t> DataLoader::epoch_order(std::int64_t e) const {
  if (options_.batch_sampler_) {
    std::vector<std::int64_t> order;
    for (const auto& b : options_.batch_sampler_->batches(e)) order.insert(order.end(), b.begin(), b.end());
    return order;
  }
  if (options_.sampler_) return options_.sampler_->indices(e);
  const std::int64_t n = dataset_->size();
  if (options_.shuffle_) return detail::permutation(n, options_.seed_ + static_cast<std::uint64_t>(e));
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), std::int64_t{0});
  return order;
}

DataLoader::Iterator DataLoader::begin() {
  auto state = std::make_shared<detail::EpochState>();
  state->dataset = dataset_;
  if (options_.batch_sampler_) {
    state->bounds.push_back(0);
    for (const auto& b : options_.batch_sampler_->batches(epoch_)) {
      state->order.insert(state->order.end(), b.begin(), b.end());
      state->bounds.push_back(static_cast<std::int64_t>(state->order.size()));
    }
  } else {
    state->order = epoch_order(epoch_);
    const auto n = static_cast<std::int64_t>(state->order.size());
    const std::int64_t b = options_.batch_size_;
    const std::int64_t batches = options_.drop_last_ ? n / b : (n + b - 1) / b;
    for (std::int64_t k = 0; k <= batches; ++k) state->bounds.push_back(std::min(k * b, n));
  }
  if (options_.sampler_ || options_.batch_sampler_) {
    const std::int64_t n = dataset_->size();
    for (std::size_t i = 0; i < state->order.size(); ++i)
      if (state->order[i] < 0 || state->order[i] >= n)
        throw Error(
            fmt::format("DataLoader: the {}'s index {} (at position {} of epoch {}) is out of range for a "
                        "dataset of size {}",
                        options_.sampler_ ? "sampler" : "batch_sampler", state->order[i], i, epoch_, n));
  }
  state->num_batches = static_cast<std::int64_t>(state->bounds.size()) - 1;
  state->transform = options_.transform_;
  state->seed = options_.seed_;
  state->epoch = epoch_;
  ++epoch_;
  // Prefetching needs a thread besides the caller's, and pays for get() calls only: a gather
  // of tensor rows is bound by memory traffic and, in the background, holds up the caller's
  // parallel kernels for longer than it takes inline (see the header).
  const bool gather = !options_.transform_ && dataset_->tensor_rows().has_value();
  state->background = options_.prefetch_ && !gather && get_num_threads() > 1;
  state->parallel = options_.parallel_;
  state->advance_to(0);
  return Iterator(std::move(state));
}

Batch& DataLoader::Iterator::operator*() const {
  if (*this == std::default_sentinel)
    throw Error("DataLoader::Iterator: dereferencing an iterator past the last batch of the epoch");
  return state_->batch;
}

DataLoader::Iterator& DataLoader::Iterator::operator++() {
  if (*this == std::default_sentinel)
    throw Error("DataLoader::Iterator: incrementing an iterator past the last batch of the epoch");
  state_->advance_to(state_->current + 1);
  return *this;
}

bool DataLoader::Iterator::operator==(std::default_sentinel_t) const {
  return !state_ || state_->current >= state_->num_batches;
}

std::int64_t DataLoader::Iterator::batch_index() const { return state_ ? state_->current : 0; }

}  // namespace xgrad::data
