// TensorDataset, Subset, random_split, ConcatDataset.
#include <algorithm>
#include <set>

#include "test_util.hpp"
#include "xgrad/data.hpp"

using namespace xgrad;
using namespace xgrad::data;

namespace {

/// Example i: data {i, i*i} (float32 [2]), target i % 3 (0-d int64). No tensor_rows().
class SquareDataset : public Dataset {
 public:
  explicit SquareDataset(std::int64_t n) : n_(n) {}
  std::int64_t size() const override { return n_; }

 protected:
  Example get_unchecked(std::int64_t i) const override {
    const auto f = static_cast<float>(i);
    return {from_vector<float>({f, f * f}), from_vector<std::int64_t>({i % 3}, Shape{})};
  }

 private:
  std::int64_t n_;
};

/// Rows [n, 3] with row i = {3i, 3i+1, 3i+2}; labels 10 + i.
std::shared_ptr<TensorDataset> rows_dataset(std::int64_t n) {
  return std::make_shared<TensorDataset>(arange(0, static_cast<double>(3 * n)).reshape({n, 3}),
                                         arange(10, static_cast<double>(10 + n), 1.0, dtype(int64)));
}

/// The first element of example i's data, as an integer (identifies the row).
std::int64_t first_value(const Dataset& d, std::int64_t i) {
  return static_cast<std::int64_t>(d.get(i).data.to_vector<float>()[0]);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(dataset)

BOOST_AUTO_TEST_CASE(tensor_dataset_rows) {
  auto ds = rows_dataset(4);
  BOOST_CHECK_EQUAL(ds->size(), 4);
  Example e = ds->get(2);
  BOOST_CHECK(e.data.shape() == Shape({3}));
  BOOST_CHECK(e.data.dtype() == float32);
  BOOST_CHECK((e.data.to_vector<float>() == std::vector<float>{6, 7, 8}));
  // A 1-d targets tensor gives 0-d targets.
  BOOST_CHECK(e.target.shape() == Shape{});
  BOOST_CHECK_EQUAL(e.target.item<std::int64_t>(), 12);
  // get() copies: writing into the example leaves the dataset alone.
  e.data.fill_(-1);
  BOOST_CHECK((ds->get(2).data.to_vector<float>() == std::vector<float>{6, 7, 8}));
  // tensor_rows exposes the whole tensors, identity index.
  auto rows = ds->tensor_rows();
  BOOST_REQUIRE(rows.has_value());
  BOOST_CHECK(rows->data.is_same(ds->data()));
  BOOST_CHECK(rows->target.is_same(ds->targets()));
  BOOST_CHECK(rows->index == nullptr);
}

BOOST_AUTO_TEST_CASE(tensor_dataset_multi_dim_targets_and_no_targets) {
  auto x = arange(0, 24).reshape({4, 2, 3});
  auto y = arange(0, 8).reshape({4, 2});
  TensorDataset ds(x, y);
  Example e = ds.get(3);
  BOOST_CHECK(e.data.shape() == Shape({2, 3}));
  BOOST_CHECK((e.data.to_vector<float>() == std::vector<float>{18, 19, 20, 21, 22, 23}));
  BOOST_CHECK((e.target.to_vector<float>() == std::vector<float>{6, 7}));

  TensorDataset unlabelled(x);
  BOOST_CHECK(!unlabelled.get(0).target.defined());
  BOOST_CHECK(!unlabelled.tensor_rows()->target.defined());
}

BOOST_AUTO_TEST_CASE(tensor_dataset_has_no_history) {
  auto x = randn({5, 2}).requires_grad_(true);
  TensorDataset ds(x * 2.0, zeros({5}));
  BOOST_CHECK(!ds.get(1).data.requires_grad());
  BOOST_CHECK(!ds.data().requires_grad());
}

BOOST_AUTO_TEST_CASE(tensor_dataset_errors) {
  XGRAD_CHECK_THROW_MSG(TensorDataset(zeros({4, 3}), zeros({5})), "first dimension (4 vs 5 examples)");
  XGRAD_CHECK_THROW_MSG(TensorDataset(zeros({4, 3}), zeros({5})), "[4, 3]");
  XGRAD_CHECK_THROW_MSG(TensorDataset(Tensor()), "TensorDataset: expected a defined data tensor");
  XGRAD_CHECK_THROW_MSG(TensorDataset(scalar_tensor(1.0)), "at least one dimension");
  XGRAD_CHECK_THROW_MSG(TensorDataset(zeros({2, 2}), scalar_tensor(1.0)), "targets must have at least one dimension");
  auto ds = rows_dataset(4);
  XGRAD_CHECK_THROW_MSG(ds->get(4), "index 4 is out of range for a dataset of size 4");
  XGRAD_CHECK_THROW_MSG(ds->get(-1), "index -1 is out of range for a dataset of size 4");
}

BOOST_AUTO_TEST_CASE(subset_selects_in_order_with_repeats) {
  auto base = rows_dataset(6);
  Subset sub(base, {5, 0, 5, 2});
  BOOST_CHECK_EQUAL(sub.size(), 4);
  std::vector<std::int64_t> got;
  for (std::int64_t i = 0; i < sub.size(); ++i) got.push_back(first_value(sub, i) / 3);
  BOOST_CHECK((got == std::vector<std::int64_t>{5, 0, 5, 2}));
  BOOST_CHECK_EQUAL(sub.get(3).target.item<std::int64_t>(), 12);
  XGRAD_CHECK_THROW_MSG(sub.get(4), "index 4 is out of range for a dataset of size 4");
  // The subset of a tensor-backed dataset is tensor-backed, re-indexed.
  auto rows = sub.tensor_rows();
  BOOST_REQUIRE(rows.has_value());
  BOOST_REQUIRE(rows->index != nullptr);
  BOOST_CHECK((*rows->index == std::vector<std::int64_t>{5, 0, 5, 2}));
}

BOOST_AUTO_TEST_CASE(subset_of_subset_composes) {
  auto base = rows_dataset(6);
  auto inner = std::make_shared<Subset>(base, std::vector<std::int64_t>{4, 3, 2, 1});
  Subset outer(inner, {3, 0});
  BOOST_CHECK_EQUAL(first_value(outer, 0) / 3, 1);
  BOOST_CHECK_EQUAL(first_value(outer, 1) / 3, 4);
  BOOST_CHECK((*outer.tensor_rows()->index == std::vector<std::int64_t>{1, 4}));
  // No tensor rows below: none above.
  Subset plain(std::make_shared<SquareDataset>(5), {1, 2});
  BOOST_CHECK(!plain.tensor_rows().has_value());
  BOOST_CHECK((plain.get(1).data.to_vector<float>() == std::vector<float>{2, 4}));
}

BOOST_AUTO_TEST_CASE(subset_errors) {
  auto base = rows_dataset(3);
  XGRAD_CHECK_THROW_MSG(Subset(base, {0, 3}), "index 3 (at position 1) is out of range for a dataset of size 3");
  XGRAD_CHECK_THROW_MSG(Subset(base, {-1}), "index -1 (at position 0)");
  XGRAD_CHECK_THROW_MSG(Subset(nullptr, {0}), "Subset: expected a dataset, got a null pointer");
  Subset empty(base, {});
  BOOST_CHECK_EQUAL(empty.size(), 0);
}

BOOST_AUTO_TEST_CASE(random_split_partitions_reproducibly) {
  auto base = rows_dataset(100);
  manual_seed(3);
  const std::uint64_t expected_next = random_u64();
  manual_seed(3);
  auto parts = random_split(base, {70, 20, 10}, 42);
  BOOST_CHECK_EQUAL(random_u64(), expected_next);  // the global generator was not used
  BOOST_REQUIRE_EQUAL(parts.size(), 3u);
  BOOST_CHECK_EQUAL(parts[0]->size(), 70);
  BOOST_CHECK_EQUAL(parts[1]->size(), 20);
  BOOST_CHECK_EQUAL(parts[2]->size(), 10);
  std::multiset<std::int64_t> all;
  for (const auto& p : parts)
    for (std::int64_t i = 0; i < p->size(); ++i) all.insert(first_value(*p, i) / 3);
  BOOST_CHECK_EQUAL(all.size(), 100u);
  std::int64_t expect = 0;
  for (std::int64_t v : all) BOOST_CHECK_EQUAL(v, expect++);  // each index exactly once
  // Shuffled, not the identity.
  std::vector<std::int64_t> first(parts[0]->indices().begin(), parts[0]->indices().begin() + 10);
  BOOST_CHECK(!std::is_sorted(first.begin(), first.end()));

  auto again = random_split(base, {70, 20, 10}, 42);
  for (std::size_t k = 0; k < 3; ++k) BOOST_CHECK(again[k]->indices() == parts[k]->indices());
  auto other = random_split(base, {70, 20, 10}, 43);
  BOOST_CHECK(other[0]->indices() != parts[0]->indices());
  // Zero-length parts are allowed.
  auto with_empty = random_split(base, {0, 100}, 1);
  BOOST_CHECK_EQUAL(with_empty[0]->size(), 0);
}

BOOST_AUTO_TEST_CASE(random_split_errors) {
  auto base = rows_dataset(10);
  XGRAD_CHECK_THROW_MSG(random_split(base, {5, 4}, 0), "lengths [5, 4] sum to 9, but the dataset has 10 examples");
  XGRAD_CHECK_THROW_MSG(random_split(base, {11, -1}, 0), "lengths must be non-negative, got [11, -1]");
  XGRAD_CHECK_THROW_MSG(random_split(nullptr, {1}, 0), "random_split: expected a dataset");
}

BOOST_AUTO_TEST_CASE(concat_dataset_maps_indices) {
  auto a = rows_dataset(3);  // first values 0, 3, 6
  auto empty = rows_dataset(0);
  auto b = std::make_shared<SquareDataset>(4);  // first values 0, 1, 2, 3
  ConcatDataset cat({a, empty, b});
  BOOST_CHECK_EQUAL(cat.size(), 7);
  std::vector<std::int64_t> got;
  for (std::int64_t i = 0; i < cat.size(); ++i) got.push_back(first_value(cat, i));
  BOOST_CHECK((got == std::vector<std::int64_t>{0, 3, 6, 0, 1, 2, 3}));
  BOOST_CHECK((cat.get(6).data.to_vector<float>() == std::vector<float>{3, 9}));
  BOOST_CHECK(!cat.tensor_rows().has_value());
  XGRAD_CHECK_THROW_MSG(cat.get(7), "index 7 is out of range for a dataset of size 7");
  XGRAD_CHECK_THROW_MSG(ConcatDataset({}), "ConcatDataset: expected at least one dataset");
  XGRAD_CHECK_THROW_MSG(ConcatDataset({a, nullptr}), "dataset 1 is a null pointer");
}

BOOST_AUTO_TEST_SUITE_END()
