// Datasets: an indexable collection of (data, target) examples, like torch.utils.data.Dataset.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "xgrad/autograd/tensor.hpp"

namespace xgrad::data {

/// One example: its input and its target (label, regression value ...). `target` may be
/// undefined for unlabelled data.
struct Example {
  Tensor data;
  Tensor target;
};

/// A dataset stored as the rows of whole tensors: example i is row index[i] (or row i when
/// `index` is null) of `data` and of `target` (undefined when there are no targets). The
/// DataLoader uses this to copy rows straight from the source tensors (no per-example
/// tensors); TensorDataset, MNIST, FashionMNIST and Subsets of them provide it.
struct TensorRows {
  Tensor data;
  Tensor target;
  std::shared_ptr<const std::vector<std::int64_t>> index;
};

/// An indexable collection of examples. Subclasses implement size() and get_unchecked();
/// get() checks the index first.
///
/// Thread safety: the DataLoader calls get() concurrently from TBB tasks (collation is
/// parallel over the examples of a batch, and the next batch is prepared in the background).
/// get_unchecked() must therefore be safe to call from several threads at once: read-only
/// access to the dataset, no shared mutable state (draw augmentation randomness from a
/// generator seeded by the index, not from the global generator).
class Dataset {
 public:
  virtual ~Dataset() = default;

  /// Number of examples.
  virtual std::int64_t size() const = 0;

  /// Example `index`, 0 <= index < size(). Throws xgrad::Error naming the index and the
  /// size otherwise. The library's datasets return copies without autograd history.
  Example get(std::int64_t index) const;

  /// The examples as rows of whole tensors, when the dataset is stored that way (see
  /// TensorRows); std::nullopt (the default) otherwise.
  virtual std::optional<TensorRows> tensor_rows() const { return std::nullopt; }

 protected:
  /// Example `index`; the index is already known to be in [0, size()).
  virtual Example get_unchecked(std::int64_t index) const = 0;
};

/// Examples are the rows of `data` (shape [N, ...]) and `targets` (shape [N, ...]), like
/// torch.utils.data.TensorDataset: get(i) = {data[i], targets[i]} (copies; a 1-d `targets`
/// gives 0-d targets, which the DataLoader stacks into a [B] tensor).
/// `targets` may be undefined (unlabelled data: targets are undefined too).
/// Throws xgrad::Error when `data` is undefined or 0-d, or when the first dimensions differ.
class TensorDataset : public Dataset {
 public:
  explicit TensorDataset(Tensor data, Tensor targets = Tensor());

  std::int64_t size() const override;
  std::optional<TensorRows> tensor_rows() const override;

  /// The whole tensors (no copy).
  const Tensor& data() const { return data_; }
  const Tensor& targets() const { return targets_; }

 protected:
  Example get_unchecked(std::int64_t index) const override;

 private:
  Tensor data_;
  Tensor targets_;
};

/// The examples of `dataset` at `indices`, in that order (repeats allowed):
/// get(i) = dataset->get(indices[i]). Throws xgrad::Error for a null dataset or an index
/// outside [0, dataset->size()), naming the index, its position and the size.
class Subset : public Dataset {
 public:
  Subset(std::shared_ptr<const Dataset> dataset, std::vector<std::int64_t> indices);

  std::int64_t size() const override;
  std::optional<TensorRows> tensor_rows() const override;

  const std::vector<std::int64_t>& indices() const { return *indices_; }
  const std::shared_ptr<const Dataset>& dataset() const { return dataset_; }

 protected:
  Example get_unchecked(std::int64_t index) const override;

 private:
  std::shared_ptr<const Dataset> dataset_;
  std::shared_ptr<const std::vector<std::int64_t>> indices_;
  std::optional<TensorRows> rows_;  // the base's rows re-indexed, when it has them
};

/// Splits `dataset` into non-overlapping Subsets of the given sizes, from a random
/// permutation of [0, size()) drawn by a std::mt19937_64 seeded with `seed` (its own
/// generator: the global one is neither used nor advanced), like torch's random_split with a
/// seeded generator. The same seed gives the same split on every run and platform.
/// Throws xgrad::Error for a null dataset, a negative length, or lengths that do not sum to
/// dataset->size().
std::vector<std::shared_ptr<Subset>> random_split(const std::shared_ptr<const Dataset>& dataset,
                                                  const std::vector<std::int64_t>& lengths, std::uint64_t seed);

/// The examples of several datasets one after the other: indices [0, size(d0)) are d0's,
/// the next size(d1) are d1's, and so on. Throws xgrad::Error for an empty list or a null
/// dataset.
class ConcatDataset : public Dataset {
 public:
  explicit ConcatDataset(std::vector<std::shared_ptr<const Dataset>> datasets);

  std::int64_t size() const override;
  const std::vector<std::shared_ptr<const Dataset>>& datasets() const { return datasets_; }

 protected:
  Example get_unchecked(std::int64_t index) const override;

 private:
  std::vector<std::shared_ptr<const Dataset>> datasets_;
  std::vector<std::int64_t> ends_;  // cumulative sizes
};

}  // namespace xgrad::data
