// Samplers: sequential / random / subset / weighted / batch samplers, their per-epoch
// seeding, their distributions, their use by the DataLoader, every validation error.
#include <algorithm>
#include <numeric>
#include <set>

#include "test_util.hpp"
#include "xgrad/data.hpp"

using namespace xgrad;
using namespace xgrad::data;
using namespace xgrad::test;

namespace {

std::vector<std::int64_t> iota(std::int64_t n) {
  std::vector<std::int64_t> v(static_cast<std::size_t>(n));
  std::iota(v.begin(), v.end(), std::int64_t{0});
  return v;
}

std::vector<std::int64_t> sorted(std::vector<std::int64_t> v) {
  std::sort(v.begin(), v.end());
  return v;
}

/// Rows [n, 2] with row i = {2 i, 2 i + 1}; labels i.
std::shared_ptr<TensorDataset> rows_dataset(std::int64_t n) {
  return std::make_shared<TensorDataset>(arange(0, static_cast<double>(2 * n), dtype(float64)).reshape({n, 2}),
                                         arange(0, static_cast<double>(n), 1.0, dtype(int64)));
}

struct ThreadBudget {
  explicit ThreadBudget(int n) : before_(get_num_threads()) { set_num_threads(n); }
  ~ThreadBudget() { set_num_threads(before_); }
  int before_;
};

/// The index lists of one epoch's batches.
std::vector<std::vector<std::int64_t>> epoch_batches(DataLoader& loader) {
  std::vector<std::vector<std::int64_t>> out;
  for (const Batch& b : loader) {
    out.push_back(b.indices);
    // Rows are the dataset's rows at those indices.
    const auto data = b.data.to_vector<double>();
    const auto target = b.target.to_vector<std::int64_t>();
    for (std::size_t i = 0; i < b.indices.size(); ++i) {
      BOOST_CHECK_EQUAL(data[2 * i], 2.0 * static_cast<double>(b.indices[i]));
      BOOST_CHECK_EQUAL(target[i], b.indices[i]);
    }
  }
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(sampler)

BOOST_AUTO_TEST_CASE(sequential_sampler) {
  SequentialSampler s(5);
  BOOST_CHECK_EQUAL(s.size(), 5);
  BOOST_CHECK(s.indices(0) == iota(5));
  BOOST_CHECK(s.indices(3) == iota(5));
  BOOST_CHECK(SequentialSampler(0).indices(0).empty());
  XGRAD_CHECK_THROW_MSG(SequentialSampler(-1), "SequentialSampler: the number of indices must be non-negative, got -1");
  XGRAD_CHECK_THROW_MSG(s.indices(-2), "SequentialSampler: epoch must be non-negative, got -2");
}

BOOST_AUTO_TEST_CASE(random_sampler_without_replacement) {
  RandomSampler s(10, false, std::nullopt, 7);
  BOOST_CHECK_EQUAL(s.size(), 10);
  const auto e0 = s.indices(0), e1 = s.indices(1);
  BOOST_CHECK(sorted(e0) == iota(10));  // a permutation: every index exactly once
  BOOST_CHECK(sorted(e1) == iota(10));
  BOOST_CHECK(e0 != e1);                                                    // a new order every epoch
  BOOST_CHECK(s.indices(0) == e0);                                          // the same epoch gives the same order
  BOOST_CHECK(RandomSampler(10, false, std::nullopt, 8).indices(0) != e0);  // the seed matters
  // The first permutation is the one the DataLoader's own shuffle visits.
  DataLoader loader(rows_dataset(10), DataLoaderOptions(4).shuffle(true).seed(7));
  BOOST_CHECK(loader.epoch_order(0) == e0);
  BOOST_CHECK(loader.epoch_order(1) == e1);

  // num_samples = 7 from 3: two whole permutations, then one more index.
  RandomSampler more(3, false, 7, 1);
  const auto m = more.indices(0);
  BOOST_CHECK_EQUAL(m.size(), 7U);
  BOOST_CHECK(sorted({m.begin(), m.begin() + 3}) == iota(3));
  BOOST_CHECK(sorted({m.begin() + 3, m.begin() + 6}) == iota(3));
  BOOST_CHECK(m[6] >= 0 && m[6] < 3);
  // num_samples < n: distinct indices.
  const auto few = RandomSampler(10, false, 4, 2).indices(5);
  BOOST_CHECK_EQUAL(std::set<std::int64_t>(few.begin(), few.end()).size(), 4U);
  BOOST_CHECK(RandomSampler(0).indices(0).empty());
}

BOOST_AUTO_TEST_CASE(random_sampler_with_replacement) {
  RandomSampler s(4, true, 40000, 3);
  const auto v = s.indices(0);
  BOOST_CHECK_EQUAL(v.size(), 40000U);
  std::vector<int> counts(4, 0);
  for (auto i : v) {
    BOOST_REQUIRE(i >= 0 && i < 4);
    ++counts[static_cast<std::size_t>(i)];
  }
  // Uniform: 10000 each, standard deviation ~87.
  for (int c : counts) BOOST_CHECK_MESSAGE(std::abs(c - 10000) < 450, "count " << c);
  BOOST_CHECK(s.indices(1) != v);
  BOOST_CHECK(s.indices(0) == v);
  // Repeats happen: 6 draws from 2 values.
  const auto r = RandomSampler(2, true, 6, 0).indices(0);
  BOOST_CHECK_LT(std::set<std::int64_t>(r.begin(), r.end()).size(), r.size());
}

BOOST_AUTO_TEST_CASE(random_sampler_errors) {
  XGRAD_CHECK_THROW_MSG(RandomSampler(-3), "RandomSampler: the number of indices must be non-negative, got -3");
  XGRAD_CHECK_THROW_MSG(RandomSampler(5, false, 0), "RandomSampler: num_samples should be a positive integer, got 0");
  XGRAD_CHECK_THROW_MSG(RandomSampler(5, true, -1), "RandomSampler: num_samples should be a positive integer, got -1");
  XGRAD_CHECK_THROW_MSG(RandomSampler(0, true),
                        "RandomSampler: cannot draw 0 sample(s) from an empty range of indices");
  XGRAD_CHECK_THROW_MSG(RandomSampler(0, false, 3),
                        "RandomSampler: cannot draw 3 sample(s) from an empty range of indices");
  XGRAD_CHECK_THROW_MSG(RandomSampler(4).indices(-1), "RandomSampler: epoch must be non-negative, got -1");
}

BOOST_AUTO_TEST_CASE(subset_random_sampler) {
  const std::vector<std::int64_t> idx{9, 2, 4, 4, 7};
  SubsetRandomSampler s(idx, 11);
  BOOST_CHECK_EQUAL(s.size(), 5);
  const auto e0 = s.indices(0);
  BOOST_CHECK(sorted(e0) == sorted(idx));  // exactly the given indices, repeats kept
  BOOST_CHECK(sorted(s.indices(1)) == sorted(idx));
  BOOST_CHECK(s.indices(0) == e0);
  bool differs = false;
  for (std::int64_t e = 1; e < 5; ++e) differs = differs || s.indices(e) != e0;
  BOOST_CHECK(differs);
  XGRAD_CHECK_THROW_MSG(SubsetRandomSampler({}), "SubsetRandomSampler: expected at least one index, got an empty list");
  XGRAD_CHECK_THROW_MSG(SubsetRandomSampler({1, -4}), "SubsetRandomSampler: index -4 (at position 1) is negative");
  XGRAD_CHECK_THROW_MSG(s.indices(-1), "SubsetRandomSampler: epoch must be non-negative, got -1");
}

BOOST_AUTO_TEST_CASE(weighted_random_sampler_with_replacement) {
  // P = {0.1, 0.2, 0, 0.7}: 100000 draws, standard deviations <= 145.
  WeightedRandomSampler s({1.0, 2.0, 0.0, 7.0}, 100000, true, 5);
  BOOST_CHECK_EQUAL(s.size(), 100000);
  const auto v = s.indices(0);
  std::vector<int> counts(4, 0);
  for (auto i : v) {
    BOOST_REQUIRE(i >= 0 && i < 4);
    ++counts[static_cast<std::size_t>(i)];
  }
  BOOST_CHECK_EQUAL(counts[2], 0);  // a zero weight is never drawn
  BOOST_CHECK_MESSAGE(std::abs(counts[0] - 10000) < 600, "count " << counts[0]);
  BOOST_CHECK_MESSAGE(std::abs(counts[1] - 20000) < 800, "count " << counts[1]);
  BOOST_CHECK_MESSAGE(std::abs(counts[3] - 70000) < 900, "count " << counts[3]);
  BOOST_CHECK(s.indices(0) == v);
  BOOST_CHECK(s.indices(1) != v);
  // A single positive weight: always that index.
  BOOST_CHECK(WeightedRandomSampler({0.0, 3.0, 0.0}, 5).indices(2) == std::vector<std::int64_t>(5, 1));
}

BOOST_AUTO_TEST_CASE(weighted_random_sampler_without_replacement) {
  // Every positive weight drawn exactly once, zero weights never.
  WeightedRandomSampler all({1.0, 1.0, 0.0, 5.0}, 3, false, 2);
  for (std::int64_t e = 0; e < 5; ++e) BOOST_CHECK(sorted(all.indices(e)) == (std::vector<std::int64_t>{0, 1, 3}));
  // First draw with weights {1, 3}: index 1 with probability 3/4; 10000 epochs, sd ~43.
  WeightedRandomSampler first({1.0, 3.0}, 1, false, 9);
  int ones = 0;
  for (std::int64_t e = 0; e < 10000; ++e) ones += first.indices(e)[0] == 1;
  BOOST_CHECK_MESSAGE(std::abs(ones - 7500) < 250, "index 1 drawn " << ones << " times");
  // Second draw given the first (torch.multinomial's sequential rule): with {1, 1, 2}, the
  // pair (2, x) has probability 1/2, (0, 2) and (1, 2) have 1/4 * 2/3 = 1/6 each, (0, 1)
  // and (1, 0) 1/4 * 1/3 = 1/12 each.
  WeightedRandomSampler two({1.0, 1.0, 2.0}, 2, false, 4);
  int first_is_2 = 0, pair_01 = 0;
  for (std::int64_t e = 0; e < 12000; ++e) {
    const auto v = two.indices(e);
    BOOST_REQUIRE(v[0] != v[1]);
    first_is_2 += v[0] == 2;
    pair_01 += v[0] == 0 && v[1] == 1;
  }
  BOOST_CHECK_MESSAGE(std::abs(first_is_2 - 6000) < 250, "first = 2: " << first_is_2);
  BOOST_CHECK_MESSAGE(std::abs(pair_01 - 1000) < 150, "(0, 1): " << pair_01);
}

BOOST_AUTO_TEST_CASE(weighted_random_sampler_errors) {
  XGRAD_CHECK_THROW_MSG(WeightedRandomSampler({}, 3),
                        "WeightedRandomSampler: expected at least one weight, got an empty list");
  XGRAD_CHECK_THROW_MSG(WeightedRandomSampler({1.0, -1.0}, 3),
                        "WeightedRandomSampler: weights must be finite and non-negative, got -1 at position 1");
  XGRAD_CHECK_THROW_MSG(WeightedRandomSampler({std::nan(""), 1.0}, 3),
                        "WeightedRandomSampler: weights must be finite and non-negative, got nan at position 0");
  XGRAD_CHECK_THROW_MSG(WeightedRandomSampler({0.0, 0.0}, 3), "WeightedRandomSampler: all 2 weights are zero");
  XGRAD_CHECK_THROW_MSG(WeightedRandomSampler({1.0}, 0),
                        "WeightedRandomSampler: num_samples should be a positive integer, got 0");
  XGRAD_CHECK_THROW_MSG(
      WeightedRandomSampler({1.0, 0.0, 2.0}, 3, false),
      "WeightedRandomSampler: cannot draw 3 samples without replacement from 2 positive weights (of 3)");
  XGRAD_CHECK_THROW_MSG(WeightedRandomSampler({1.0}, 1).indices(-1),
                        "WeightedRandomSampler: epoch must be non-negative, got -1");
}

BOOST_AUTO_TEST_CASE(batch_sampler) {
  auto seq = std::make_shared<SequentialSampler>(10);
  BatchSampler b(seq, 3);
  BOOST_CHECK_EQUAL(b.size(), 4);
  const std::vector<std::vector<std::int64_t>> want{{0, 1, 2}, {3, 4, 5}, {6, 7, 8}, {9}};
  BOOST_CHECK(b.batches(0) == want);
  BatchSampler dropped(seq, 3, true);
  BOOST_CHECK_EQUAL(dropped.size(), 3);
  BOOST_CHECK(dropped.batches(0) == (std::vector<std::vector<std::int64_t>>(want.begin(), want.begin() + 3)));
  BOOST_CHECK_EQUAL(BatchSampler(seq, 5, true).size(), 2);
  // Random inner sampler: batches cut its epoch's order.
  auto rnd = std::make_shared<RandomSampler>(7, false, std::nullopt, 1);
  const auto order = rnd->indices(2);
  const auto bs = BatchSampler(rnd, 4).batches(2);
  BOOST_REQUIRE_EQUAL(bs.size(), 2U);
  BOOST_CHECK(bs[0] == std::vector<std::int64_t>(order.begin(), order.begin() + 4));
  BOOST_CHECK(bs[1] == std::vector<std::int64_t>(order.begin() + 4, order.end()));
  XGRAD_CHECK_THROW_MSG(BatchSampler(nullptr, 3), "BatchSampler: expected a sampler, got a null pointer");
  XGRAD_CHECK_THROW_MSG(BatchSampler(seq, 0), "BatchSampler: batch_size must be at least 1, got 0");
}

BOOST_AUTO_TEST_CASE(dataloader_with_sampler) {
  auto ds = rows_dataset(10);
  auto s = std::make_shared<SubsetRandomSampler>(std::vector<std::int64_t>{1, 3, 5, 7, 9}, 4);
  DataLoader loader(ds, DataLoaderOptions(2).sampler(s));
  BOOST_CHECK_EQUAL(loader.size(), 3);
  const auto b0 = epoch_batches(loader);
  const auto order0 = s->indices(0);
  BOOST_REQUIRE_EQUAL(b0.size(), 3U);
  BOOST_CHECK(b0[0] == std::vector<std::int64_t>(order0.begin(), order0.begin() + 2));
  BOOST_CHECK(b0[2] == std::vector<std::int64_t>{order0[4]});
  BOOST_CHECK(loader.epoch_order(1) == s->indices(1));
  const auto b1 = epoch_batches(loader);
  std::vector<std::int64_t> flat1;  // epoch 1 visits the sampler's epoch-1 order
  for (const auto& b : b1) flat1.insert(flat1.end(), b.begin(), b.end());
  BOOST_CHECK(flat1 == s->indices(1));
  loader.set_epoch(0);
  BOOST_CHECK(epoch_batches(loader) == b0);

  // drop_last applies to the sampler's indices.
  DataLoader dropped(ds, DataLoaderOptions(2).sampler(s).drop_last());
  BOOST_CHECK_EQUAL(dropped.size(), 2);
  BOOST_CHECK_EQUAL(epoch_batches(dropped).size(), 2U);

  // Weighted sampling with replacement, more samples than the dataset has.
  auto w = std::make_shared<WeightedRandomSampler>(std::vector<double>(10, 1.0), 25, true, 1);
  DataLoader weighted(ds, DataLoaderOptions(10).sampler(w));
  BOOST_CHECK_EQUAL(weighted.size(), 3);
  std::size_t seen = 0;
  for (const auto& b : epoch_batches(weighted)) seen += b.size();
  BOOST_CHECK_EQUAL(seen, 25U);
}

BOOST_AUTO_TEST_CASE(dataloader_with_batch_sampler) {
  auto ds = rows_dataset(10);
  auto bs = std::make_shared<BatchSampler>(std::make_shared<RandomSampler>(10, false, std::nullopt, 3), 4, true);
  DataLoader loader(ds, DataLoaderOptions().batch_sampler(bs));
  BOOST_CHECK_EQUAL(loader.size(), 2);
  BOOST_CHECK(epoch_batches(loader) == bs->batches(0));
  BOOST_CHECK(epoch_batches(loader) == bs->batches(1));
  std::vector<std::int64_t> flat;
  for (const auto& b : bs->batches(4)) flat.insert(flat.end(), b.begin(), b.end());
  BOOST_CHECK(loader.epoch_order(4) == flat);
}

BOOST_AUTO_TEST_CASE(dataloader_sampler_same_batches_at_every_thread_count) {
  auto ds = rows_dataset(50);
  auto s = std::make_shared<RandomSampler>(50, true, 60, 2);
  std::vector<std::vector<std::vector<std::int64_t>>> runs;
  for (int threads : {1, 2}) {
    ThreadBudget budget(threads);
    DataLoader loader(ds, DataLoaderOptions(7).sampler(s));
    runs.push_back(epoch_batches(loader));
    runs.push_back(epoch_batches(loader));
  }
  BOOST_CHECK(runs[0] == runs[2]);
  BOOST_CHECK(runs[1] == runs[3]);
  BOOST_CHECK(runs[0] != runs[1]);
}

BOOST_AUTO_TEST_CASE(dataloader_sampler_errors) {
  auto ds = rows_dataset(10);
  auto s = std::make_shared<SequentialSampler>(10);
  auto bs = std::make_shared<BatchSampler>(s, 3);
  XGRAD_CHECK_THROW_MSG(DataLoader(ds, DataLoaderOptions().sampler(s).shuffle(true)),
                        "DataLoader: the sampler option is mutually exclusive with shuffle");
  XGRAD_CHECK_THROW_MSG(DataLoader(ds, DataLoaderOptions().batch_sampler(bs).sampler(s)),
                        "DataLoader: batch_sampler is mutually exclusive with sampler, shuffle and drop_last (got "
                        "sampler set, shuffle false, drop_last false)");
  XGRAD_CHECK_THROW_MSG(DataLoader(ds, DataLoaderOptions().batch_sampler(bs).drop_last()),
                        "(got sampler unset, shuffle false, drop_last true)");
  XGRAD_CHECK_THROW_MSG(DataLoader(ds, DataLoaderOptions().batch_sampler(bs).shuffle()),
                        "(got sampler unset, shuffle true, drop_last false)");
  // Indices past the dataset's end: reported by begin(), before any batch.
  DataLoader too_far(ds, DataLoaderOptions(4).sampler(std::make_shared<SequentialSampler>(12)));
  XGRAD_CHECK_THROW_MSG(too_far.begin(),
                        "DataLoader: the sampler's index 10 (at position 10 of epoch 0) is out of range for a dataset "
                        "of size 10");
  BOOST_CHECK_EQUAL(too_far.epoch(), 0);  // the failed epoch does not count
  DataLoader too_far_b(ds, DataLoaderOptions().batch_sampler(std::make_shared<BatchSampler>(
                               std::make_shared<SubsetRandomSampler>(std::vector<std::int64_t>{2, 30}), 2)));
  XGRAD_CHECK_THROW_MSG(too_far_b.begin(), "DataLoader: the batch_sampler's index 30");
}

BOOST_AUTO_TEST_SUITE_END()
