// DistributedSampler: disjoint shards that cover the data, per-epoch reshuffles shared by the
// ranks, padding and drop_last, and its use in a DataLoader under mpirun.
#include <algorithm>
#include <set>

#include "distributed_util.hpp"

using namespace xgrad;
namespace dist = xgrad::distributed;
using dist::DistributedSampler;

using xgrad::test::MpiFixture;
BOOST_TEST_GLOBAL_FIXTURE(MpiFixture);

namespace {
std::vector<std::vector<std::int64_t>> shards(std::int64_t n, int replicas, bool shuffle, bool drop_last,
                                              std::int64_t epoch, std::uint64_t seed = 0) {
  std::vector<std::vector<std::int64_t>> out;
  for (int r = 0; r < replicas; ++r)
    out.push_back(DistributedSampler(n, replicas, r, shuffle, seed, drop_last).indices(epoch));
  return out;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(distributed_sampler)

BOOST_AUTO_TEST_CASE(shards_are_disjoint_and_cover_the_data) {
  for (bool shuffle : {false, true})
    for (int replicas : {1, 2, 3, 4})
      for (std::int64_t n : {8, 12, 13}) {
        const auto s = shards(n, replicas, shuffle, false, 0);
        std::vector<std::int64_t> all;
        for (const auto& shard : s) {
          BOOST_CHECK_EQUAL(static_cast<std::int64_t>(shard.size()), (n + replicas - 1) / replicas);
          all.insert(all.end(), shard.begin(), shard.end());
        }
        const std::set<std::int64_t> distinct(all.begin(), all.end());
        BOOST_CHECK_EQUAL(static_cast<std::int64_t>(distinct.size()), n);  // every index, no other
        BOOST_CHECK_EQUAL(*distinct.begin(), 0);
        BOOST_CHECK_EQUAL(*distinct.rbegin(), n - 1);
        // exactly the padding is repeated
        BOOST_CHECK_EQUAL(static_cast<std::int64_t>(all.size()) - n, (replicas - n % replicas) % replicas);
      }
}

BOOST_AUTO_TEST_CASE(pytorch_layout_padding_and_drop_last) {
  // 0..9 over 4 ranks: padded to 12 with 0, 1; rank r takes r, r + 4, r + 8
  const auto s = shards(10, 4, false, false, 0);
  BOOST_CHECK((s[0] == std::vector<std::int64_t>{0, 4, 8}));
  BOOST_CHECK((s[1] == std::vector<std::int64_t>{1, 5, 9}));
  BOOST_CHECK((s[2] == std::vector<std::int64_t>{2, 6, 0}));
  BOOST_CHECK((s[3] == std::vector<std::int64_t>{3, 7, 1}));
  // drop_last: cut to 8
  const auto d = shards(10, 4, false, true, 0);
  BOOST_CHECK((d[0] == std::vector<std::int64_t>{0, 4}));
  BOOST_CHECK((d[3] == std::vector<std::int64_t>{3, 7}));
  BOOST_CHECK_EQUAL(DistributedSampler(10, 4, 0, false, 0, true).size(), 2);
  // fewer indices than ranks: the padding wraps around
  const auto tiny = shards(2, 5, false, false, 0);
  BOOST_CHECK((tiny[2] == std::vector<std::int64_t>{0}));
  BOOST_CHECK((tiny[4] == std::vector<std::int64_t>{0}));
  BOOST_CHECK(DistributedSampler(0, 2, 1, true).indices(0).empty());
}

BOOST_AUTO_TEST_CASE(reshuffled_every_epoch_with_the_shared_seed) {
  const std::int64_t n = 20;
  const auto e0 = shards(n, 2, true, false, 0, 5), e1 = shards(n, 2, true, false, 1, 5);
  BOOST_CHECK(e0 != e1);
  BOOST_CHECK(e0 == shards(n, 2, true, false, 0, 5));  // a pure function of (seed, epoch)
  BOOST_CHECK(e0 != shards(n, 2, true, false, 0, 6));
  // the interleaving of RandomSampler's order (the DataLoader's shuffle)
  const auto order = data::RandomSampler(n, false, std::nullopt, 5).indices(1);
  for (std::int64_t k = 0; k < n; ++k)
    BOOST_CHECK_EQUAL(e1[static_cast<std::size_t>(k % 2)][static_cast<std::size_t>(k / 2)],
                      order[static_cast<std::size_t>(k)]);
  // every rank computes the same order: rank r's shard equals what the others predict for it
  DistributedSampler mine(n, std::nullopt, std::nullopt, true, 5);
  BOOST_CHECK_EQUAL(mine.num_replicas(), 2);
  BOOST_CHECK_EQUAL(mine.rank(), dist::rank());
  const Tensor t = from_vector(mine.indices(3), {mine.size()});
  const auto all = dist::all_gather(t);
  for (int r = 0; r < 2; ++r)
    BOOST_CHECK(all[static_cast<std::size_t>(r)].to_vector<std::int64_t>() ==
                DistributedSampler(n, 2, r, true, 5).indices(3));
}

BOOST_AUTO_TEST_CASE(with_a_data_loader_under_mpirun) {
  const std::int64_t n = 11;
  auto dataset = std::make_shared<data::TensorDataset>(arange(static_cast<double>(n)).view({n, 1}));
  auto sampler = std::make_shared<DistributedSampler>(n, std::nullopt, std::nullopt, true, 9);
  data::DataLoader loader(dataset, data::DataLoaderOptions(2).sampler(sampler));
  BOOST_CHECK_EQUAL(loader.size(), 3);  // 6 indices per rank
  for (int epoch = 0; epoch < 2; ++epoch) {
    std::vector<std::int64_t> seen;
    std::int64_t steps = 0;
    for (const data::Batch& b : loader) {
      ++steps;
      for (float v : b.data.to_vector<float>()) seen.push_back(static_cast<std::int64_t>(v));
    }
    BOOST_CHECK((seen == sampler->indices(epoch)));
    const Tensor steps_t = full({}, static_cast<double>(steps), TensorOptions().dtype(Dtype::int64));
    const auto step_counts = dist::all_gather(steps_t);
    BOOST_CHECK_EQUAL(step_counts[0].item<std::int64_t>(), step_counts[1].item<std::int64_t>());
    const auto everything = dist::all_gather_into_tensor(from_vector(seen, {static_cast<std::int64_t>(seen.size())}));
    const auto v = everything.to_vector<std::int64_t>();
    BOOST_CHECK_EQUAL(std::set<std::int64_t>(v.begin(), v.end()).size(), static_cast<std::size_t>(n));
  }
}

BOOST_AUTO_TEST_CASE(errors) {
  XGRAD_CHECK_THROW_MSG(DistributedSampler(-1, 2, 0),
                        "DistributedSampler: the number of indices must be non-negative, got -1");
  XGRAD_CHECK_THROW_MSG(DistributedSampler(4, 0, 0), "DistributedSampler: num_replicas must be at least 1, got 0");
  XGRAD_CHECK_THROW_MSG(DistributedSampler(4, 2, 2),
                        "DistributedSampler: invalid rank 2, rank should be in the interval [0, 1]");
  XGRAD_CHECK_THROW_MSG(DistributedSampler(4, 2, -1), "DistributedSampler: invalid rank -1");
  XGRAD_CHECK_THROW_MSG(DistributedSampler(1, 2, 0, true, 0, true),
                        "DistributedSampler: with drop_last, 1 indices leave nothing for each of 2 replicas");
  XGRAD_CHECK_THROW_MSG(DistributedSampler(4, 2, 0).indices(-1),
                        "DistributedSampler: epoch must be non-negative, got -1");
}

BOOST_AUTO_TEST_SUITE_END()
