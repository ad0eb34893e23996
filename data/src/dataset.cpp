// Dataset, TensorDataset, Subset, random_split, ConcatDataset.
#include "xgrad/data/dataset.hpp"

#include <algorithm>
#include <cstring>
#include <numeric>

#include <fmt/format.h>

#include "common.hpp"

namespace xgrad::data {

namespace {

/// Copy of row `row` of t (shape t.shape()[1:]), without history.
Tensor copy_row(const Tensor& t, std::int64_t row) {
  Tensor out = xgrad::detail::make_tensor(detail::row_shape(t), t.dtype());
  const std::size_t nbytes = detail::row_bytes(t);
  if (nbytes > 0)
    std::memcpy(detail::raw_bytes(out), detail::raw_bytes(t) + static_cast<std::size_t>(row) * nbytes, nbytes);
  return out;
}

}  // namespace

Example Dataset::get(std::int64_t index) const {
  const std::int64_t n = size();
  if (index < 0 || index >= n)
    throw Error(fmt::format("Dataset::get: index {} is out of range for a dataset of size {}", index, n));
  return get_unchecked(index);
}

// ---- TensorDataset ---------------------------------------------------------------------

TensorDataset::TensorDataset(Tensor data, Tensor targets) {
  if (!data.defined()) throw Error("TensorDataset: expected a defined data tensor");
  if (data.dim() == 0)
    throw Error(
        fmt::format("TensorDataset: data must have at least one dimension (the examples), got shape {}", data.shape()));
  if (targets.defined()) {
    if (targets.dim() == 0)
      throw Error(fmt::format("TensorDataset: targets must have at least one dimension (the examples), got shape {}",
                              targets.shape()));
    if (targets.size(0) != data.size(0))
      throw Error(
          fmt::format("TensorDataset: data of shape {} and targets of shape {} differ in their first dimension "
                      "({} vs {} examples)",
                      data.shape(), targets.shape(), data.size(0), targets.size(0)));
    targets_ = targets.detach();
  }
  data_ = data.detach();
}

std::int64_t TensorDataset::size() const { return data_.size(0); }

std::optional<TensorRows> TensorDataset::tensor_rows() const { return TensorRows{data_, targets_, nullptr}; }

Example TensorDataset::get_unchecked(std::int64_t index) const {
  return {copy_row(data_, index), targets_.defined() ? copy_row(targets_, index) : Tensor()};
}

// ---- Subset -----------------------------------------------------------------------------

Subset::Subset(std::shared_ptr<const Dataset> dataset, std::vector<std::int64_t> indices)
    : dataset_(std::move(dataset)) {
  if (!dataset_) throw Error("Subset: expected a dataset, got a null pointer");
  const std::int64_t n = dataset_->size();
  for (std::size_t i = 0; i < indices.size(); ++i)
    if (indices[i] < 0 || indices[i] >= n)
      throw Error(
          fmt::format("Subset: index {} (at position {}) is out of range for a dataset of size {}", indices[i], i, n));
  indices_ = std::make_shared<const std::vector<std::int64_t>>(std::move(indices));
  if (auto base = dataset_->tensor_rows()) {
    if (base->index) {
      auto composed = std::make_shared<std::vector<std::int64_t>>(indices_->size());
      for (std::size_t i = 0; i < indices_->size(); ++i)
        (*composed)[i] = (*base->index)[static_cast<std::size_t>((*indices_)[i])];
      base->index = std::move(composed);
    } else {
      base->index = indices_;
    }
    rows_ = std::move(base);
  }
}

std::int64_t Subset::size() const { return static_cast<std::int64_t>(indices_->size()); }

std::optional<TensorRows> Subset::tensor_rows() const { return rows_; }

Example Subset::get_unchecked(std::int64_t index) const {
  return dataset_->get((*indices_)[static_cast<std::size_t>(index)]);
}

std::vector<std::shared_ptr<Subset>> random_split(const std::shared_ptr<const Dataset>& dataset,
                                                  const std::vector<std::int64_t>& lengths, std::uint64_t seed) {
  if (!dataset) throw Error("random_split: expected a dataset, got a null pointer");
  std::int64_t total = 0;
  for (std::int64_t l : lengths) {
    if (l < 0) throw Error(fmt::format("random_split: lengths must be non-negative, got {}", lengths));
    total += l;
  }
  const std::int64_t n = dataset->size();
  if (total != n)
    throw Error(fmt::format("random_split: lengths {} sum to {}, but the dataset has {} examples", lengths, total, n));
  const std::vector<std::int64_t> perm = detail::permutation(n, seed);
  std::vector<std::shared_ptr<Subset>> out;
  out.reserve(lengths.size());
  auto it = perm.begin();
  for (std::int64_t l : lengths) {
    out.push_back(std::make_shared<Subset>(dataset, std::vector<std::int64_t>(it, it + l)));
    it += l;
  }
  return out;
}

// ---- ConcatDataset ----------------------------------------------------------------------

ConcatDataset::ConcatDataset(std::vector<std::shared_ptr<const Dataset>> datasets) : datasets_(std::move(datasets)) {
  if (datasets_.empty()) throw Error("ConcatDataset: expected at least one dataset, got none");
  std::int64_t end = 0;
  for (std::size_t i = 0; i < datasets_.size(); ++i) {
    if (!datasets_[i]) throw Error(fmt::format("ConcatDataset: dataset {} is a null pointer", i));
    end += datasets_[i]->size();
    ends_.push_back(end);
  }
}

std::int64_t ConcatDataset::size() const { return ends_.back(); }

Example ConcatDataset::get_unchecked(std::int64_t index) const {
  // First dataset whose cumulative end is past index.
  const auto it = std::upper_bound(ends_.begin(), ends_.end(), index);
  const auto d = static_cast<std::size_t>(it - ends_.begin());
  const std::int64_t start = d == 0 ? 0 : ends_[d - 1];
  return datasets_[d]->get(index - start);
}

}  // namespace xgrad::data
