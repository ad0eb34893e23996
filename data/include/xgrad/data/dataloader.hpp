// DataLoader: batches of a Dataset, shuffled reproducibly, collated in parallel (TBB) and,
// when the thread budget allows, prepared one batch ahead in the background, like
// torch.utils.data.DataLoader.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <vector>

#include "xgrad/autograd/tensor.hpp"
#include "xgrad/data/dataset.hpp"
#include "xgrad/data/sampler.hpp"
#include "xgrad/data/transforms.hpp"

namespace xgrad::data {

/// A mini-batch: the examples' data stacked along a new dim 0 ([B, ...data shape]) and
/// their targets stacked the same way (0-d int64 labels -> an int64 [B] tensor; undefined
/// when the dataset has no targets). `indices` are the dataset indices of the B rows, in
/// order. Batches carry no autograd history.
struct Batch {
  Tensor data;
  Tensor target;
  std::vector<std::int64_t> indices;
  std::int64_t size() const { return static_cast<std::int64_t>(indices.size()); }
};

/// Options of DataLoader, with chainable setters (defaults in brackets):
/// batch_size [64], shuffle [false], drop_last [false], seed [0], prefetch [true],
/// parallel [true], sampler [none], batch_sampler [none], transform [none].
struct DataLoaderOptions {
  DataLoaderOptions() = default;
  explicit DataLoaderOptions(std::int64_t batch_size) : batch_size_(batch_size) {}

  /// Examples per batch (>= 1).
  DataLoaderOptions& batch_size(std::int64_t b) {
    batch_size_ = b;
    return *this;
  }
  /// Visit the examples in a new random order every epoch (see DataLoader).
  DataLoaderOptions& shuffle(bool on = true) {
    shuffle_ = on;
    return *this;
  }
  /// Drop the last batch when it has fewer than batch_size examples.
  DataLoaderOptions& drop_last(bool on = true) {
    drop_last_ = on;
    return *this;
  }
  /// Seed of the shuffling generator and of the transform's per-sample generators.
  DataLoaderOptions& seed(std::uint64_t s) {
    seed_ = s;
    return *this;
  }
  /// Collate batch k+1 in a background TBB task while the caller works on batch k, for
  /// datasets collated through get(), when xgrad::get_num_threads() > 1 (see DataLoader).
  /// Batches are the same either way.
  DataLoaderOptions& prefetch(bool on = true) {
    prefetch_ = on;
    return *this;
  }
  /// Collate the examples of a batch in parallel (tbb::parallel_for) when
  /// xgrad::get_num_threads() > 1; false: serially on the collating thread. Both give
  /// bit-identical batches.
  DataLoaderOptions& parallel(bool on = true) {
    parallel_ = on;
    return *this;
  }

  /// The order of each epoch: sampler->indices(e) instead of 0..N-1 or the shuffle
  /// permutation (torch's sampler=); batch_size and drop_last cut it into batches as usual.
  /// Mutually exclusive with shuffle (the DataLoader throws).
  DataLoaderOptions& sampler(std::shared_ptr<const Sampler> s) {
    sampler_ = std::move(s);
    return *this;
  }
  /// The batches of each epoch: batch_sampler->batches(e) (torch's batch_sampler=); then
  /// batch_size is ignored. Mutually exclusive with shuffle, sampler and drop_last (the
  /// DataLoader throws; PyTorch also rejects a batch_size other than its default 1, which
  /// our default of 64 does not allow us to tell apart).
  DataLoaderOptions& batch_sampler(std::shared_ptr<const BatchSampler> s) {
    batch_sampler_ = std::move(s);
    return *this;
  }
  /// Applied to every example's data (not its target) inside the collation, in parallel
  /// when `parallel`: the example at position k of epoch e's order gets the generator
  /// SampleGenerator::for_sample(seed, e, k) (see transforms.hpp), so batches are
  /// bit-identical at every thread count and with or without prefetch. With a transform,
  /// examples are always fetched through get() (no tensor_rows() fast path).
  DataLoaderOptions& transform(std::shared_ptr<const Transform> t) {
    transform_ = std::move(t);
    return *this;
  }

  std::int64_t batch_size_ = 64;
  bool shuffle_ = false;
  bool drop_last_ = false;
  std::uint64_t seed_ = 0;
  bool prefetch_ = true;
  bool parallel_ = true;
  std::shared_ptr<const Sampler> sampler_;
  std::shared_ptr<const BatchSampler> batch_sampler_;
  std::shared_ptr<const Transform> transform_;
};

/// Stacks dataset examples `indices` into one Batch: data [B, ...], target [B, ...].
/// Every example must have the same data shape and dtype (and the same target shape and
/// dtype, or all targets undefined); otherwise throws xgrad::Error naming the two examples
/// and their shapes. Datasets with tensor_rows() are collated by copying rows straight from
/// the source tensors. With `parallel` (and xgrad::get_num_threads() > 1) the copies (and the
/// get() calls) are spread over the examples with tbb::parallel_for; the result is
/// bit-identical to the serial one.
/// Throws xgrad::Error for an empty `indices` or an out-of-range index.
Batch collate(const Dataset& dataset, const std::vector<std::int64_t>& indices, bool parallel = true);

namespace detail {
struct EpochState;
}

/// Iterates over a dataset in mini-batches:
///
///     auto loader = DataLoader(std::make_shared<TensorDataset>(x, y),
///                              DataLoaderOptions(128).shuffle(true).seed(42));
///     for (int epoch = 0; epoch < 5; ++epoch)
///       for (const Batch& batch : loader) train_step(batch.data, batch.target);
///
/// Every begin() starts an epoch: the examples are visited in order 0..N-1, or, with
/// shuffle, in a permutation drawn from a std::mt19937_64 seeded with seed + epoch (epoch =
/// 0 for the first begin(), then 1, 2, ...; see set_epoch). The loader's own generator makes
/// every epoch's order reproducible and independent of the global generator (which is
/// neither used nor advanced). Consecutive batches cover the order; the last one is smaller
/// when N is not a multiple of batch_size, unless drop_last drops it.
///
/// With prefetch, batch k+1 is collated in a background TBB task (tbb::task_group, the one
/// thread pool; no std::thread) while the caller works on batch k; operator++ waits for it.
/// That hides the cost of get() calls (decoding, augmentation) behind the caller's work, and
/// is decided when an epoch starts (begin()). Otherwise each batch is collated inside
/// operator++, on the calling thread (in parallel when `parallel`), just before it is
/// needed, as torch's DataLoader does with num_workers=0; the batches are the same. That is
/// the case
///  * with xgrad::get_num_threads() == 1: prefetching stays within xgrad's thread budget,
///    and with one thread there is none to run the task on;
///  * for datasets with tensor_rows() (TensorDataset, MNIST, FashionMNIST, their Subsets):
///    their batch is a gather of rows, bound by memory traffic, and in the background it
///    holds up the caller's own parallel kernels for longer than it takes inline (tutorial
///    06's epoch on 2 threads: 1.07x the time of its training steps with a background
///    gather, 1.045x inline).
/// Leaving the loop early is safe: the iterator's destructor waits for the pending task.
/// An exception thrown while collating a batch is rethrown by operator++ (or by begin() for
/// the first batch), and ends the epoch: the iterator then compares equal to end().
///
/// With a sampler (batch_sampler), epoch e visits sampler->indices(e) (the batches
/// batch_sampler->batches(e)) instead; begin() throws xgrad::Error naming the index, its
/// position and the dataset's size when one of them is out of range.
///
/// The dataset's size is read at each begin(); the dataset must not change during an epoch.
class DataLoader {
 public:
  /// Throws xgrad::Error for a null dataset, batch_size < 1, a sampler together with shuffle,
  /// or a batch_sampler together with shuffle, sampler or drop_last.
  explicit DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options = {});

  /// An input iterator over the batches of one epoch. Copies share the epoch's state.
  class Iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Batch;
    using difference_type = std::ptrdiff_t;
    using pointer = Batch*;
    using reference = Batch&;

    Iterator() = default;
    /// The current batch (may be moved from).
    Batch& operator*() const;
    Batch* operator->() const { return &**this; }
    Iterator& operator++();
    void operator++(int) { ++*this; }
    bool operator==(std::default_sentinel_t) const;
    /// Index of the current batch within the epoch.
    std::int64_t batch_index() const;

   private:
    friend class DataLoader;
    explicit Iterator(std::shared_ptr<detail::EpochState> state) : state_(std::move(state)) {}
    std::shared_ptr<detail::EpochState> state_;
  };

  /// Starts the next epoch and collates its first batch.
  Iterator begin();
  std::default_sentinel_t end() const { return {}; }

  /// Number of batches per epoch: ceil(N / batch_size), or floor with drop_last (N: the
  /// dataset's size, or sampler->size()); batch_sampler->size() with a batch sampler.
  std::int64_t size() const;
  /// The epoch the next begin() starts (0 initially). set_epoch(e) makes the next begin()
  /// replay epoch e's order, e.g. when resuming training from a checkpoint.
  std::int64_t epoch() const { return epoch_; }
  void set_epoch(std::int64_t e);
  /// The order in which epoch `e` visits the dataset indices (all of them, before drop_last;
  /// with a batch sampler, its batches one after the other).
  std::vector<std::int64_t> epoch_order(std::int64_t e) const;

  const DataLoaderOptions& options() const { return options_; }
  const std::shared_ptr<const Dataset>& dataset() const { return dataset_; }

 private:
  std::shared_ptr<const Dataset> dataset_;
  DataLoaderOptions options_;
  std::int64_t epoch_ = 0;
};

}  // namespace xgrad::data
