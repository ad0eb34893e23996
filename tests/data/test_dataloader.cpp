// DataLoader and collate: coverage of every example, shuffling, drop_last, parallel and
// background collation, prefetch within the thread budget, early exits, errors.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>
#include <numeric>
#include <optional>
#include <thread>

#include "test_util.hpp"
#include "xgrad/data.hpp"

using namespace xgrad;
using namespace xgrad::data;

namespace {

/// Rows [n, width] with row i = {i * width, ..., i * width + width - 1}; labels i (int64).
std::shared_ptr<TensorDataset> rows_dataset(std::int64_t n, std::int64_t width = 3) {
  return std::make_shared<TensorDataset>(arange(0, static_cast<double>(n * width)).reshape({n, width}),
                                         arange(0, static_cast<double>(n), 1.0, dtype(int64)));
}

/// Forwards to another dataset through get() only: no tensor_rows(), so the generic
/// (per-example) collation path runs.
class Opaque : public Dataset {
 public:
  explicit Opaque(std::shared_ptr<const Dataset> d) : d_(std::move(d)) {}
  std::int64_t size() const override { return d_->size(); }

 protected:
  Example get_unchecked(std::int64_t i) const override { return d_->get(i); }

 private:
  std::shared_ptr<const Dataset> d_;
};

/// Forwards to another dataset through get() only, and records which indices were fetched
/// and on which threads.
class Recording : public Dataset {
 public:
  explicit Recording(std::shared_ptr<const Dataset> d) : d_(std::move(d)) {}
  std::int64_t size() const override { return d_->size(); }
  /// The indices fetched so far, sorted.
  std::vector<std::int64_t> fetched() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<std::int64_t> out = fetched_;
    std::sort(out.begin(), out.end());
    return out;
  }
  /// True when every get() so far ran on thread `id`.
  bool all_on(std::thread::id id) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return std::all_of(threads_.begin(), threads_.end(), [&](std::thread::id t) { return t == id; });
  }

 protected:
  Example get_unchecked(std::int64_t i) const override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      fetched_.push_back(i);
      threads_.push_back(std::this_thread::get_id());
    }
    return d_->get(i);
  }

 private:
  std::shared_ptr<const Dataset> d_;
  mutable std::mutex mutex_;
  mutable std::vector<std::int64_t> fetched_;
  mutable std::vector<std::thread::id> threads_;
};

/// A TensorDataset that counts how often its rows were asked for (once per collated batch).
class CountingRows : public TensorDataset {
 public:
  using TensorDataset::TensorDataset;
  std::optional<TensorRows> tensor_rows() const override {
    ++calls;
    return TensorDataset::tensor_rows();
  }
  mutable std::atomic<int> calls{0};
};

/// Sets the thread budget for a scope.
class ThreadBudget {
 public:
  explicit ThreadBudget(int n) : before_(get_num_threads()) { set_num_threads(n); }
  ~ThreadBudget() { set_num_threads(before_); }
  ThreadBudget(const ThreadBudget&) = delete;
  ThreadBudget& operator=(const ThreadBudget&) = delete;

 private:
  int before_;
};

/// The dataset indices of batches [first, last) of epoch `epoch`, sorted.
std::vector<std::int64_t> order_of_batches(const DataLoader& loader, std::int64_t epoch, std::int64_t first,
                                           std::int64_t last) {
  const std::vector<std::int64_t> order = loader.epoch_order(epoch);
  const std::int64_t b = loader.options().batch_size_;
  std::vector<std::int64_t> out(order.begin() + first * b, order.begin() + last * b);
  std::sort(out.begin(), out.end());
  return out;
}

/// Examples whose data shape depends on the index (cannot be stacked), or which throw.
class Awkward : public Dataset {
 public:
  Awkward(std::int64_t n, std::int64_t throw_at, bool ragged) : n_(n), throw_at_(throw_at), ragged_(ragged) {}
  std::int64_t size() const override { return n_; }

 protected:
  Example get_unchecked(std::int64_t i) const override {
    if (i == throw_at_) throw Error(fmt::format("Awkward: example {} is broken", i));
    return {zeros({ragged_ && i == 2 ? 3 : 2}), scalar_tensor(0.0, dtype(int64))};
  }

 private:
  std::int64_t n_, throw_at_;
  bool ragged_;
};

/// Every batch's dataset indices, in order, for one epoch.
std::vector<std::vector<std::int64_t>> epoch_batches(DataLoader& loader) {
  std::vector<std::vector<std::int64_t>> out;
  for (const Batch& b : loader) out.push_back(b.indices);
  return out;
}

std::vector<std::int64_t> flat(const std::vector<std::vector<std::int64_t>>& batches) {
  std::vector<std::int64_t> all;
  for (const auto& b : batches) all.insert(all.end(), b.begin(), b.end());
  return all;
}

bool bit_equal(const Tensor& a, const Tensor& b) {
  if (a.defined() != b.defined()) return false;
  if (!a.defined()) return true;
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  const std::size_t n = static_cast<std::size_t>(a.numel()) * dtype_size(a.dtype());
  return std::memcmp(a.impl()->storage->data, b.impl()->storage->data, n) == 0;
}

/// The batch holds exactly the rows its indices name (rows_dataset layout).
void check_batch_contents(const Batch& b, std::int64_t width) {
  BOOST_REQUIRE(b.data.shape() == Shape({b.size(), width}));
  BOOST_REQUIRE(b.target.shape() == Shape({b.size()}));
  BOOST_CHECK(b.target.dtype() == int64);
  const auto d = b.data.to_vector<float>();
  const auto t = b.target.to_vector<std::int64_t>();
  for (std::int64_t r = 0; r < b.size(); ++r) {
    const std::int64_t idx = b.indices[static_cast<std::size_t>(r)];
    BOOST_CHECK_EQUAL(t[static_cast<std::size_t>(r)], idx);
    for (std::int64_t c = 0; c < width; ++c)
      BOOST_CHECK_EQUAL(d[static_cast<std::size_t>(r * width + c)], static_cast<float>(idx * width + c));
  }
}

}  // namespace

static_assert(std::input_iterator<DataLoader::Iterator>);

BOOST_AUTO_TEST_SUITE(dataloader)

BOOST_AUTO_TEST_CASE(every_example_once_per_epoch) {
  for (bool shuffle : {false, true})
    for (bool drop_last : {false, true})
      for (bool prefetch : {false, true}) {
        BOOST_TEST_CONTEXT("shuffle " << shuffle << " drop_last " << drop_last << " prefetch " << prefetch) {
          auto ds = rows_dataset(10);
          DataLoader loader(ds, DataLoaderOptions(3).shuffle(shuffle).drop_last(drop_last).prefetch(prefetch).seed(5));
          BOOST_CHECK_EQUAL(loader.size(), drop_last ? 3 : 4);
          for (int epoch = 0; epoch < 3; ++epoch) {
            std::int64_t batches = 0;
            std::vector<std::int64_t> seen;
            for (const Batch& b : loader) {
              check_batch_contents(b, 3);
              // All batches are full except a last partial one (dropped with drop_last).
              BOOST_CHECK_EQUAL(b.size(), batches < 3 ? 3 : 1);
              seen.insert(seen.end(), b.indices.begin(), b.indices.end());
              ++batches;
            }
            BOOST_CHECK_EQUAL(batches, loader.size());
            std::vector<std::int64_t> sorted = seen;
            std::sort(sorted.begin(), sorted.end());
            BOOST_CHECK(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end());  // no repeats
            if (!drop_last) {
              std::vector<std::int64_t> all(10);
              std::iota(all.begin(), all.end(), 0);
              BOOST_CHECK(sorted == all);
            } else {
              BOOST_CHECK_EQUAL(seen.size(), 9u);
            }
            if (!shuffle) BOOST_CHECK(std::is_sorted(seen.begin(), seen.end()));
          }
        }
      }
}

BOOST_AUTO_TEST_CASE(size_in_batches) {
  auto check = [](std::int64_t n, std::int64_t b, bool drop, std::int64_t expected) {
    DataLoader loader(rows_dataset(n), DataLoaderOptions(b).drop_last(drop));
    BOOST_CHECK_EQUAL(loader.size(), expected);
    BOOST_CHECK_EQUAL(static_cast<std::int64_t>(epoch_batches(loader).size()), expected);
  };
  check(10, 3, false, 4);
  check(10, 3, true, 3);
  check(9, 3, false, 3);
  check(9, 3, true, 3);
  check(2, 5, false, 1);
  check(2, 5, true, 0);
  check(0, 4, false, 0);
  check(7, 1, true, 7);
  // Default batch size 64.
  DataLoader big(rows_dataset(130));
  BOOST_CHECK_EQUAL(big.size(), 3);
  BOOST_CHECK_EQUAL(big.options().batch_size_, 64);
}

BOOST_AUTO_TEST_CASE(shuffle_reproducible_and_different_across_epochs) {
  auto ds = rows_dataset(50);
  auto opts = DataLoaderOptions(8).shuffle(true).seed(1234);
  DataLoader a(ds, opts), b(ds, opts);
  manual_seed(9);
  const std::uint64_t expected_next = random_u64();
  manual_seed(9);
  const auto a0 = epoch_batches(a), a1 = epoch_batches(a);
  BOOST_CHECK_EQUAL(random_u64(), expected_next);  // the global generator was not touched
  random_u64();                                    // ... and does not influence the order
  const auto b0 = epoch_batches(b), b1 = epoch_batches(b);
  BOOST_CHECK(a0 == b0);
  BOOST_CHECK(a1 == b1);
  BOOST_CHECK(flat(a0) != flat(a1));
  std::vector<std::int64_t> identity(50);
  std::iota(identity.begin(), identity.end(), 0);
  BOOST_CHECK(flat(a0) != identity);
  // The order is epoch_order(e): a permutation seeded with seed + epoch.
  BOOST_CHECK(flat(a0) == a.epoch_order(0));
  BOOST_CHECK(flat(a1) == a.epoch_order(1));
  BOOST_CHECK_EQUAL(a.epoch(), 2);
  DataLoader c(ds, DataLoaderOptions(8).shuffle(true).seed(1235));
  BOOST_CHECK(flat(epoch_batches(c)) == flat(a1));  // seed 1235, epoch 0 = seed 1234, epoch 1
  DataLoader d(ds, DataLoaderOptions(8).shuffle(true).seed(99));
  BOOST_CHECK(flat(epoch_batches(d)) != flat(a0));
  // set_epoch replays an epoch (resuming).
  a.set_epoch(1);
  BOOST_CHECK(epoch_batches(a) == a1);
  XGRAD_CHECK_THROW_MSG(a.set_epoch(-1), "epoch must be non-negative, got -1");
}

BOOST_AUTO_TEST_CASE(batch_shapes_and_targets) {
  // Data [N, 2, 3], targets [N, 4] float: batches [B, 2, 3] and [B, 4].
  auto x = randn({7, 2, 3});
  auto y = randn({7, 4});
  DataLoader loader(std::make_shared<TensorDataset>(x, y), DataLoaderOptions(4));
  auto it = loader.begin();
  BOOST_CHECK(it->data.shape() == Shape({4, 2, 3}));
  BOOST_CHECK(it->target.shape() == Shape({4, 4}));
  xgrad::test::check_close(it->data, x.narrow(0, 0, 4), 0.0);
  ++it;
  BOOST_CHECK_EQUAL(it.batch_index(), 1);
  BOOST_CHECK(it->data.shape() == Shape({3, 2, 3}));
  xgrad::test::check_close(it->target, y.narrow(0, 4, 3), 0.0);
  ++it;
  BOOST_CHECK(it == loader.end());
  XGRAD_CHECK_THROW_MSG(*it, "past the last batch");
  XGRAD_CHECK_THROW_MSG(++it, "past the last batch");
  // Unlabelled data: undefined batch targets.
  DataLoader unlabelled(std::make_shared<TensorDataset>(x), DataLoaderOptions(3));
  for (const Batch& b : unlabelled) BOOST_CHECK(!b.target.defined());
}

BOOST_AUTO_TEST_CASE(parallel_collation_equals_serial) {
  // 1000 rows of 300 floats: a batch of 500 is 600 KB, well above the inline threshold.
  auto ds = std::make_shared<TensorDataset>(randn({1000, 300}), randint(0, 10, {1000}));
  auto opaque = std::make_shared<Opaque>(ds);
  std::vector<std::int64_t> idx(500);
  for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<std::int64_t>((i * 7919) % 1000);
  const Batch serial = collate(*ds, idx, false);
  const Batch parallel = collate(*ds, idx, true);
  const Batch generic_serial = collate(*opaque, idx, false);
  const Batch generic_parallel = collate(*opaque, idx, true);
  BOOST_CHECK(bit_equal(serial.data, parallel.data));
  BOOST_CHECK(bit_equal(serial.target, parallel.target));
  // The tensor-rows fast path and the per-example path agree too.
  BOOST_CHECK(bit_equal(serial.data, generic_serial.data));
  BOOST_CHECK(bit_equal(serial.target, generic_serial.target));
  BOOST_CHECK(bit_equal(serial.data, generic_parallel.data));
  BOOST_CHECK(bit_equal(serial.target, generic_parallel.target));
  // ... and equal index_select of the source.
  Tensor index = from_vector<std::int64_t>(idx);
  BOOST_CHECK(bit_equal(serial.data, ds->data().index_select(0, index)));
  BOOST_CHECK(bit_equal(serial.target, ds->targets().index_select(0, index)));
  BOOST_CHECK(serial.indices == idx);

  // Whole epochs: parallel on/off, shuffled.
  DataLoader p(opaque, DataLoaderOptions(128).shuffle(true).seed(3).parallel(true));
  DataLoader s(opaque, DataLoaderOptions(128).shuffle(true).seed(3).parallel(false));
  auto ip = p.begin();
  for (const Batch& b : s) {
    BOOST_REQUIRE(!(ip == p.end()));
    BOOST_CHECK(bit_equal(b.data, ip->data));
    BOOST_CHECK(bit_equal(b.target, ip->target));
    ++ip;
  }
  BOOST_CHECK(ip == p.end());
}

BOOST_AUTO_TEST_CASE(prefetch_on_and_off_give_identical_batches) {
  auto ds = std::make_shared<TensorDataset>(randn({300, 20}), randint(0, 5, {300}));
  for (auto dataset :
       {std::shared_ptr<const Dataset>(ds), std::shared_ptr<const Dataset>(std::make_shared<Opaque>(ds))}) {
    DataLoader on(dataset, DataLoaderOptions(32).shuffle(true).seed(11).prefetch(true));
    DataLoader off(dataset, DataLoaderOptions(32).shuffle(true).seed(11).prefetch(false));
    for (int epoch = 0; epoch < 2; ++epoch) {
      std::vector<Batch> a, b;
      for (Batch& batch : on) a.push_back(std::move(batch));  // batches may be moved out
      for (Batch& batch : off) b.push_back(std::move(batch));
      BOOST_REQUIRE_EQUAL(a.size(), b.size());
      BOOST_CHECK_EQUAL(a.size(), 10u);
      for (std::size_t k = 0; k < a.size(); ++k) {
        BOOST_CHECK(a[k].indices == b[k].indices);
        BOOST_CHECK(bit_equal(a[k].data, b[k].data));
        BOOST_CHECK(bit_equal(a[k].target, b[k].target));
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(early_break_is_safe) {
  auto ds = std::make_shared<Opaque>(rows_dataset(1000, 50));
  DataLoader loader(ds, DataLoaderOptions(10).shuffle(true).prefetch(true));
  for (int rep = 0; rep < 50; ++rep) {
    std::int64_t seen = 0;
    for (const Batch& b : loader) {
      check_batch_contents(b, 50);
      if (++seen == 1 + rep % 3) break;  // the next batch is being collated in the background
    }
    BOOST_CHECK_EQUAL(seen, 1 + rep % 3);
  }
  // An iterator may outlive its loader.
  auto owner = std::make_unique<DataLoader>(ds, DataLoaderOptions(100));
  auto it = owner->begin();
  owner.reset();
  std::int64_t count = 0;
  for (; !(it == std::default_sentinel); ++it) {
    check_batch_contents(*it, 50);
    ++count;
  }
  BOOST_CHECK_EQUAL(count, 10);
  // Abandoning an iterator right after begin() (prefetch pending) is fine too.
  { auto abandoned = DataLoader(ds, DataLoaderOptions(5)).begin(); }
}

BOOST_AUTO_TEST_CASE(works_on_one_thread) {
  // With one thread (prefetch on by default) every batch is collated inline: no deadlock.
  std::vector<std::int64_t> seen;
  {
    ThreadBudget one(1);
    DataLoader loader(std::make_shared<Opaque>(rows_dataset(40)), DataLoaderOptions(8).shuffle(true));
    for (const Batch& b : loader) {
      check_batch_contents(b, 3);
      seen.insert(seen.end(), b.indices.begin(), b.indices.end());
    }
  }
  std::sort(seen.begin(), seen.end());
  BOOST_CHECK_EQUAL(seen.size(), 40u);
  BOOST_CHECK(std::adjacent_find(seen.begin(), seen.end()) == seen.end());
}

BOOST_AUTO_TEST_CASE(prefetch_at_one_thread_collates_on_the_calling_thread) {
  // A budget of one thread leaves none for a background task: with prefetch on, batch k is
  // collated by operator++ on the calling thread, when it is needed, and not one ahead.
  ThreadBudget one(1);
  auto recording = std::make_shared<Recording>(rows_dataset(40));
  DataLoader loader(recording, DataLoaderOptions(8).shuffle(true).seed(4).prefetch(true));
  {
    auto it = loader.begin();
    BOOST_CHECK(recording->fetched() == order_of_batches(loader, 0, 0, 1));  // batch 0 only
    ++it;
    BOOST_CHECK(recording->fetched() == order_of_batches(loader, 0, 0, 2));
    check_batch_contents(*it, 3);
  }
  BOOST_CHECK(recording->fetched() == order_of_batches(loader, 0, 0, 2));  // nothing was pending
  BOOST_CHECK(recording->all_on(std::this_thread::get_id()));
}

BOOST_AUTO_TEST_CASE(prefetch_with_two_threads_prepares_the_next_batch) {
  // With a second thread, begin() already launches batch 1; the iterator's destructor waits
  // for it, so it has been collated once the iterator is gone (by whichever thread).
  ThreadBudget two(2);
  auto recording = std::make_shared<Recording>(rows_dataset(40));
  DataLoader loader(recording, DataLoaderOptions(8).shuffle(true).seed(4).prefetch(true));
  { auto it = loader.begin(); }
  BOOST_CHECK(recording->fetched() == order_of_batches(loader, 0, 0, 2));
  // Without prefetch, only what was asked for.
  auto lazy = std::make_shared<Recording>(rows_dataset(40));
  DataLoader off(lazy, DataLoaderOptions(8).shuffle(true).seed(4).prefetch(false));
  { auto it = off.begin(); }
  BOOST_CHECK(lazy->fetched() == order_of_batches(off, 0, 0, 1));
}

BOOST_AUTO_TEST_CASE(tensor_rows_are_gathered_inline) {
  // A batch of tensor rows is a memory-bound gather: even with prefetch and two threads it is
  // collated when needed, on the calling thread, exactly as without prefetch (a background
  // task would have collated batch 1 by the time the iterator is gone).
  ThreadBudget two(2);
  auto x = arange(0, 120.0).reshape({40, 3});
  auto y = arange(0, 40.0, 1.0, dtype(int64));
  auto on = std::make_shared<CountingRows>(x, y), off = std::make_shared<CountingRows>(x, y);
  DataLoader with(on, DataLoaderOptions(8).shuffle(true).prefetch(true));
  DataLoader without(off, DataLoaderOptions(8).shuffle(true).prefetch(false));
  { auto it = with.begin(); }
  { auto it = without.begin(); }
  BOOST_CHECK_EQUAL(on->calls.load(), off->calls.load());
  std::int64_t batches = 0;
  for (const Batch& b : with) {
    check_batch_contents(b, 3);
    ++batches;
  }
  BOOST_CHECK_EQUAL(batches, 5);
}

BOOST_AUTO_TEST_CASE(same_batches_at_every_thread_count) {
  // The batches depend on the seed and the epoch only: not on the thread budget, prefetch or
  // parallel collation (1 thread without prefetch is the reference).
  auto ds = std::make_shared<TensorDataset>(randn({300, 40}), randint(0, 5, {300}));
  for (auto dataset :
       {std::shared_ptr<const Dataset>(ds), std::shared_ptr<const Dataset>(std::make_shared<Opaque>(ds))}) {
    std::vector<std::vector<Batch>> reference;
    {
      ThreadBudget one(1);
      DataLoader loader(dataset, DataLoaderOptions(32).shuffle(true).seed(21).prefetch(false).parallel(false));
      for (int epoch = 0; epoch < 2; ++epoch) {
        reference.emplace_back();
        for (Batch& b : loader) reference.back().push_back(std::move(b));
      }
    }
    for (int threads : {1, 2, 3})
      for (bool prefetch : {false, true})
        for (bool parallel : {false, true}) {
          BOOST_TEST_CONTEXT("threads " << threads << " prefetch " << prefetch << " parallel " << parallel) {
            ThreadBudget budget(threads);
            DataLoader loader(dataset,
                              DataLoaderOptions(32).shuffle(true).seed(21).prefetch(prefetch).parallel(parallel));
            for (std::size_t epoch = 0; epoch < reference.size(); ++epoch) {
              std::size_t k = 0;
              for (const Batch& b : loader) {
                BOOST_REQUIRE_LT(k, reference[epoch].size());
                const Batch& r = reference[epoch][k++];
                BOOST_CHECK(b.indices == r.indices);
                BOOST_CHECK(bit_equal(b.data, r.data));
                BOOST_CHECK(bit_equal(b.target, r.target));
              }
              BOOST_CHECK_EQUAL(k, reference[epoch].size());
            }
          }
        }
  }
}

BOOST_AUTO_TEST_CASE(errors) {
  XGRAD_CHECK_THROW_MSG(DataLoader(rows_dataset(4), DataLoaderOptions(0)), "batch_size must be at least 1, got 0");
  XGRAD_CHECK_THROW_MSG(DataLoader(nullptr), "DataLoader: expected a dataset, got a null pointer");
  auto ds = rows_dataset(4);
  XGRAD_CHECK_THROW_MSG(collate(*ds, {}), "collate: expected at least one example index");
  XGRAD_CHECK_THROW_MSG(collate(*ds, {0, 4}), "index 4 (at position 1) is out of range for a dataset of size 4");

  // Examples that cannot be stacked.
  Awkward ragged(6, -1, true);
  XGRAD_CHECK_THROW_MSG(collate(ragged, {0, 1, 2}), "cannot stack the datas of examples 0 ([2] float32) and 2 ([3]");

  // An error while collating in the background comes out of operator++ (example 5 is in
  // batch 2 of 2 examples each), and the loop can be left cleanly.
  DataLoader loader(std::make_shared<Awkward>(8, 5, false), DataLoaderOptions(2).prefetch(true));
  std::int64_t batches = 0;
  auto run = [&] {
    for (const Batch& b : loader) {
      (void)b;
      ++batches;
    }
  };
  XGRAD_CHECK_THROW_MSG(run(), "Awkward: example 5 is broken");
  BOOST_CHECK_EQUAL(batches, 2);
  // The same error from the first batch comes out of begin().
  DataLoader first(std::make_shared<Awkward>(8, 0, false), DataLoaderOptions(2));
  XGRAD_CHECK_THROW_MSG(first.begin(), "Awkward: example 0 is broken");
  // Serial, without prefetch: same message.
  DataLoader serial(std::make_shared<Awkward>(8, 5, false), DataLoaderOptions(2).prefetch(false).parallel(false));
  XGRAD_CHECK_THROW_MSG(epoch_batches(serial), "Awkward: example 5 is broken");

  // Whoever collated the failing batch (a background task, or the caller: no prefetch, or
  // one thread), the error ends the epoch, and the next epoch starts afresh.
  for (int threads : {1, 2})
    for (bool prefetch : {false, true}) {
      BOOST_TEST_CONTEXT("threads " << threads << " prefetch " << prefetch) {
        ThreadBudget budget(threads);
        DataLoader broken(std::make_shared<Awkward>(8, 5, false), DataLoaderOptions(2).prefetch(prefetch));
        auto it = broken.begin();
        ++it;
        BOOST_CHECK_EQUAL(it.batch_index(), 1);
        XGRAD_CHECK_THROW_MSG(++it, "Awkward: example 5 is broken");
        BOOST_CHECK(it == broken.end());
        XGRAD_CHECK_THROW_MSG(*it, "past the last batch");
        auto again = broken.begin();
        BOOST_CHECK_EQUAL(again.batch_index(), 0);
        BOOST_CHECK_EQUAL(again->size(), 2);
      }
    }
}

BOOST_AUTO_TEST_CASE(batches_have_no_history) {
  auto x = randn({6, 2}).requires_grad_(true);
  DataLoader loader(std::make_shared<Opaque>(std::make_shared<TensorDataset>(x)), DataLoaderOptions(3));
  for (const Batch& b : loader) {
    BOOST_CHECK(!b.data.requires_grad());
    BOOST_CHECK(b.data.is_leaf());
  }
}

BOOST_AUTO_TEST_SUITE_END()
