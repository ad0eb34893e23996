// embedding and embedding_bag, and their modules. Both are built from two row-map ops that are
// each other's adjoint: a gather (out[i] = f_i src[row_i]) and a scatter-add (out[r] = sum over
// the entries i with row_i = r, in increasing i, of f_i src[i]); the scatter runs in parallel
// over output rows, so every element is summed by one task in a fixed order.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/kernel/kernel.hpp"
#include "xgrad/autograd/node.hpp"
#include "xgrad/autograd/shape.hpp"
#include "xgrad/nn/embedding.hpp"
#include "xgrad/nn/init.hpp"
#include "xgrad/autograd/profile_scope.hpp"

namespace xgrad::nn {

namespace {

using Grads = std::vector<Tensor>;
using I64s = std::vector<std::int64_t>;

// Entry i of an [M, D] tensor goes to (comes from) row row[i] of an [n, D] one, weighted by
// factor[i] (factor empty: all 1; an entry with factor 0 is left out).
struct RowMap {
  I64s row;
  std::vector<double> factor;
  std::int64_t n = 0;
  I64s start, order;  // CSR of the kept entries by row, each row's entries ascending

  RowMap(I64s r, std::vector<double> f, std::int64_t rows) : row(std::move(r)), factor(std::move(f)), n(rows) {
    start.assign(static_cast<std::size_t>(n + 1), 0);
    for (std::size_t i = 0; i < row.size(); ++i)
      if (keep(i)) ++start[static_cast<std::size_t>(row[i] + 1)];
    for (std::size_t r = 0; r < static_cast<std::size_t>(n); ++r) start[r + 1] += start[r];
    order.resize(static_cast<std::size_t>(start.back()));
    I64s next(start.begin(), start.end() - 1);
    for (std::size_t i = 0; i < row.size(); ++i)
      if (keep(i))
        order[static_cast<std::size_t>(next[static_cast<std::size_t>(row[i])]++)] = static_cast<std::int64_t>(i);
  }
  bool keep(std::size_t i) const { return factor.empty() || factor[i] != 0.0; }
  std::int64_t m() const { return static_cast<std::int64_t>(row.size()); }
};
using MapPtr = std::shared_ptr<const RowMap>;

// out (shape `shape`, M * D elements) row i = f_i src[row_i] (apply_factors) or src[row_i].
Tensor gather_kernel(const Tensor& src, const RowMap& m, bool apply_factors, const Shape& shape) {
  NoGradGuard ng;
  const Tensor s = src.contiguous();
  const std::int64_t d = s.size(1);
  Tensor out = xgrad::detail::make_tensor(shape, s.dtype());
  kernel::dispatch(s.dtype(), [&]<class T>() {
    const T* ps = s.data_ptr<T>();
    T* po = out.data_ptr<T>();
    kernel::parallel_for(m.m(), kernel::grain_for(d), [&](std::int64_t i0, std::int64_t i1) {
      for (std::int64_t i = i0; i < i1; ++i) {
        T* dst = po + i * d;
        const double f = apply_factors && !m.factor.empty() ? m.factor[static_cast<std::size_t>(i)] : 1.0;
        if (f == 0.0) {  // left out: row_i is not read (it may not exist)
          std::fill(dst, dst + d, T(0));
          continue;
        }
        const T* src_row = ps + m.row[static_cast<std::size_t>(i)] * d;
        if constexpr (std::is_floating_point_v<T>) {
          if (f != 1.0) {
            for (std::int64_t k = 0; k < d; ++k) dst[k] = static_cast<T>(f) * src_row[k];
            continue;
          }
        }
        std::copy(src_row, src_row + d, dst);
      }
    });
  });
  return out;
}

// [n, D] = scatter-add of the M rows of src (any shape with M * D elements, D = its last dim).
Tensor scatter_kernel(const Tensor& src, const RowMap& m, std::string_view op) {
  NoGradGuard ng;
  const Tensor s = src.contiguous();
  const std::int64_t d = s.dim() == 0 ? 1 : s.size(-1);
  Tensor out = zeros({m.n, d}, dtype(s.dtype()));
  const std::int64_t per_row = d * std::max<std::int64_t>(1, m.m() / std::max<std::int64_t>(m.n, 1));
  kernel::dispatch_floating(s, op, [&]<class T>() {
    const T* ps = s.data_ptr<T>();
    T* po = out.data_ptr<T>();
    kernel::parallel_for(m.n, kernel::grain_for(per_row), [&](std::int64_t r0, std::int64_t r1) {
      for (std::int64_t r = r0; r < r1; ++r) {
        T* dst = po + r * d;
        for (std::int64_t k = m.start[static_cast<std::size_t>(r)]; k < m.start[static_cast<std::size_t>(r + 1)]; ++k) {
          const std::int64_t i = m.order[static_cast<std::size_t>(k)];
          const T* src_row = ps + i * d;
          if (m.factor.empty()) {
            for (std::int64_t c = 0; c < d; ++c) dst[c] += src_row[c];
          } else {
            const T f = static_cast<T>(m.factor[static_cast<std::size_t>(i)]);
            for (std::int64_t c = 0; c < d; ++c) dst[c] += f * src_row[c];
          }
        }
      }
    });
  });
  return out;
}

Tensor map_scatter(const Tensor& src, const MapPtr& m, const char* name);

// [M, D]: row i = f_i src[row_i]; its gradient is the scatter with the same map.
Tensor map_gather(const Tensor& src, const MapPtr& m, const char* name) {
  Tensor out = gather_kernel(src, *m, true, {m->m(), src.size(1)});
  if (any_requires_grad({&src}))
    record(name, {src}, {out}, {},
           [m](const Grads& g, const Grads&) { return Grads{map_scatter(g[0], m, "EmbeddingScatterBackward")}; });
  return out;
}

// [n, D]: the scatter-add of src's rows; its gradient is the gather with the same map.
Tensor map_scatter(const Tensor& src, const MapPtr& m, const char* name) {
  Tensor out = scatter_kernel(src, *m, name);
  if (any_requires_grad({&src}))
    record(name, {src}, {out}, {}, [m, shape = src.shape()](const Grads& g, const Grads&) {
      return Grads{reshape(map_gather(g[0], m, "EmbeddingGatherBackward"), shape)};
    });
  return out;
}

// ---- checks ------------------------------------------------------------------------------

void check_weight(const Tensor& weight, std::string_view op) {
  xgrad::detail::check_defined(weight, op);
  if (weight.dim() != 2)
    throw Error(
        fmt::format("{}: weight must be 2-d [num_embeddings, embedding_dim], got shape {}", op, weight.shape()));
}

void check_index_dtype(const Tensor& t, std::string_view what, std::string_view op) {
  xgrad::detail::check_defined(t, op);
  if (t.dtype() != Dtype::int64 && t.dtype() != Dtype::int32)
    throw Error(
        fmt::format("{}: {} must be int64 or int32, got {} ({} of shape {})", op, what, t.dtype(), what, t.shape()));
}

// The values of an int64/int32 tensor, row-major.
I64s read_ints(const Tensor& t) {
  NoGradGuard ng;
  const Tensor c = t.contiguous();
  if (c.dtype() == Dtype::int32) {
    const auto v = c.to_vector<std::int32_t>();
    return I64s(v.begin(), v.end());
  }
  return c.to_vector<std::int64_t>();
}

I64s read_indices(const Tensor& input, std::int64_t n, std::string_view op) {
  check_index_dtype(input, "indices", op);
  I64s idx = read_ints(input);
  for (std::int64_t v : idx)
    if (v < 0 || v >= n)
      throw Error(fmt::format("{}: index {} is out of range [0, num_embeddings = {}) (indices of shape {})", op, v, n,
                              input.shape()));
  return idx;
}

std::optional<std::int64_t> wrap_padding_idx(std::optional<std::int64_t> p, std::int64_t n, std::string_view op) {
  if (!p) return p;
  if (*p < -n || *p >= n)
    throw Error(fmt::format("{}: padding_idx must be within num_embeddings, i.e. in [{}, {}), got {}", op, -n, n, *p));
  return *p < 0 ? *p + n : *p;
}

// PyTorch's embedding_renorm_: rows of weight named in idx whose p-norm exceeds max_norm are
// scaled in place (no gradient) to norm max_norm (up to the 1e-7 guard).
void renorm_rows(const Tensor& weight, I64s idx, double max_norm, double p, std::string_view op) {
  if (!is_floating(weight.dtype()))
    throw Error(fmt::format("{}: max_norm needs a floating weight, got {} (weight of shape {})", op, weight.dtype(),
                            weight.shape()));
  std::sort(idx.begin(), idx.end());
  idx.erase(std::unique(idx.begin(), idx.end()), idx.end());
  const std::int64_t d = weight.size(1), s0 = weight.stride(0), s1 = weight.stride(1);
  NoGradGuard ng;
  for (std::int64_t r : idx) {
    const double norm = kernel::dispatch_floating(weight, op, [&]<class T>() {
      const T* row = weight.strided_data_ptr<T>() + r * s0;
      double acc = 0.0;
      for (std::int64_t c = 0; c < d; ++c) {
        const double a = std::fabs(static_cast<double>(row[c * s1]));
        if (std::isinf(p))
          acc = std::max(acc, a);
        else if (p == 0.0)
          acc += a != 0.0 ? 1.0 : 0.0;
        else if (p == 1.0)
          acc += a;
        else if (p == 2.0)
          acc += a * a;
        else
          acc += std::pow(a, p);
      }
      if (std::isinf(p) || p == 0.0 || p == 1.0) return acc;
      return p == 2.0 ? std::sqrt(acc) : std::pow(acc, 1.0 / p);
    });
    if (norm > max_norm) weight.select(0, r).mul_(max_norm / (norm + 1e-7));
  }
}

// The backward map of a lookup: entries at padding_idx are left out, and with
// scale_grad_by_freq each entry is weighted by 1 / (occurrences of its row).
MapPtr lookup_map(I64s idx, std::int64_t n, std::optional<std::int64_t> padding_idx, bool scale_grad_by_freq) {
  std::vector<double> factor;
  if (padding_idx || scale_grad_by_freq) {
    factor.assign(idx.size(), 1.0);
    if (scale_grad_by_freq) {
      I64s count(static_cast<std::size_t>(n), 0);
      for (std::int64_t v : idx) ++count[static_cast<std::size_t>(v)];
      for (std::size_t i = 0; i < idx.size(); ++i)
        factor[i] = 1.0 / static_cast<double>(count[static_cast<std::size_t>(idx[i])]);
    }
    if (padding_idx)
      for (std::size_t i = 0; i < idx.size(); ++i)
        if (idx[i] == *padding_idx) factor[i] = 0.0;
  }
  return std::make_shared<const RowMap>(std::move(idx), std::move(factor), n);
}

// out (shape `shape`) rows = weight[row_i]; gradient: the scatter with bw's factors.
Tensor lookup(const Tensor& weight, const MapPtr& bw, const Shape& shape, const char* name) {
  Tensor out = gather_kernel(weight, *bw, false, shape);
  if (any_requires_grad({&weight}))
    record(name, {weight}, {out}, {}, [bw, m = bw->m(), d = weight.size(1)](const Grads& g, const Grads&) {
      return Grads{map_scatter(reshape(g[0], {m, d}), bw, "EmbeddingDenseBackwardBackward")};
    });
  return out;
}

// ---- max bags ------------------------------------------------------------------------------

// am[b * D + c]: the weight row giving the maximum of column c in bag b, -1 for an empty bag.
struct ArgMax {
  I64s am;
  std::int64_t b = 0, d = 0, n = 0;
};
using ArgMaxPtr = std::shared_ptr<const ArgMax>;

Tensor max_scatter(const Tensor& g, const ArgMaxPtr& a);

// [B, D]: out[b, c] = src[am[b, c], c] (0 where am = -1); gradient: max_scatter.
Tensor max_gather(const Tensor& src, const ArgMaxPtr& a, const char* name) {
  Tensor out;
  {
    NoGradGuard ng;
    const Tensor s = src.contiguous();
    out = zeros({a->b, a->d}, dtype(s.dtype()));
    kernel::dispatch_floating(s, "embedding_bag", [&]<class T>() {
      const T* ps = s.data_ptr<T>();
      T* po = out.data_ptr<T>();
      kernel::parallel_for(a->b, kernel::grain_for(a->d), [&](std::int64_t b0, std::int64_t b1) {
        for (std::int64_t i = b0 * a->d; i < b1 * a->d; ++i) {
          const std::int64_t r = a->am[static_cast<std::size_t>(i)];
          if (r >= 0) po[i] = ps[r * a->d + i % a->d];
        }
      });
    });
  }
  if (any_requires_grad({&src}))
    record(name, {src}, {out}, {}, [a](const Grads& g, const Grads&) { return Grads{max_scatter(g[0], a)}; });
  return out;
}

// [n, D]: out[am[b, c], c] += g[b, c], in parallel over columns (b ascending in each).
Tensor max_scatter(const Tensor& g, const ArgMaxPtr& a) {
  Tensor out;
  {
    NoGradGuard ng;
    const Tensor s = g.contiguous();
    out = zeros({a->n, a->d}, dtype(s.dtype()));
    kernel::dispatch_floating(s, "embedding_bag", [&]<class T>() {
      const T* ps = s.data_ptr<T>();
      T* po = out.data_ptr<T>();
      kernel::parallel_for(a->d, kernel::grain_for(a->b), [&](std::int64_t c0, std::int64_t c1) {
        for (std::int64_t b = 0; b < a->b; ++b)
          for (std::int64_t c = c0; c < c1; ++c) {
            const std::int64_t r = a->am[static_cast<std::size_t>(b * a->d + c)];
            if (r >= 0) po[r * a->d + c] += ps[b * a->d + c];
          }
      });
    });
  }
  if (any_requires_grad({&g}))
    record("EmbeddingBagMaxScatterBackward", {g}, {out}, {},
           [a](const Grads& gr, const Grads&) { return Grads{max_gather(gr[0], a, "EmbeddingBagMaxGatherBackward")}; });
  return out;
}

}  // namespace

namespace functional {

Tensor embedding(const Tensor& input, const Tensor& weight, std::optional<std::int64_t> padding_idx,
                 std::optional<double> max_norm, double norm_type, bool scale_grad_by_freq) {
  XGRAD_PROFILE_OP("embedding", input, weight);
  constexpr std::string_view op = "embedding";
  check_weight(weight, op);
  check_index_dtype(input, "indices", op);
  const std::int64_t n = weight.size(0), d = weight.size(1);
  const auto pad = wrap_padding_idx(padding_idx, n, op);
  I64s idx = read_indices(input, n, op);
  if (max_norm) renorm_rows(weight, idx, *max_norm, norm_type, op);
  Shape shape = input.shape();
  shape.push_back(d);
  return lookup(weight, lookup_map(std::move(idx), n, pad, scale_grad_by_freq), shape, "EmbeddingBackward");
}

Tensor embedding_bag(const Tensor& input, const Tensor& weight, const Tensor& offsets, const std::string& mode,
                     const Tensor& per_sample_weights, bool include_last_offset,
                     std::optional<std::int64_t> padding_idx, std::optional<double> max_norm, double norm_type,
                     bool scale_grad_by_freq) {
  XGRAD_PROFILE_OP("embedding_bag", input, weight, offsets, per_sample_weights);
  constexpr std::string_view op = "embedding_bag";
  check_weight(weight, op);
  if (!is_floating(weight.dtype()))
    throw Error(fmt::format("{}: weight must have a floating dtype (float32 or float64), got {} (weight of shape {})",
                            op, weight.dtype(), weight.shape()));
  if (mode != "sum" && mode != "mean" && mode != "max")
    throw Error(fmt::format("{}: mode must be 'sum', 'mean' or 'max', got '{}'", op, mode));
  check_index_dtype(input, "indices", op);
  const std::int64_t n = weight.size(0), d = weight.size(1);
  const auto pad = wrap_padding_idx(padding_idx, n, op);

  // bag b = entries [bounds[b], bounds[b + 1]) of the flattened input.
  I64s bounds;
  const std::int64_t m = input.numel();
  if (input.dim() == 2) {
    if (offsets.defined())
      throw Error(fmt::format("{}: offsets must be undefined for a 2-d input (input of shape {}, offsets of shape {})",
                              op, input.shape(), offsets.shape()));
    for (std::int64_t b = 0; b <= input.size(0); ++b) bounds.push_back(b * input.size(1));
  } else if (input.dim() == 1) {
    if (!offsets.defined())
      throw Error(
          fmt::format("{}: a 1-d input (shape {}) needs offsets, a 1-d tensor of bag starts", op, input.shape()));
    check_index_dtype(offsets, "offsets", op);
    if (offsets.dim() != 1) throw Error(fmt::format("{}: offsets must be 1-d, got shape {}", op, offsets.shape()));
    bounds = read_ints(offsets);
    if (include_last_offset && bounds.empty())
      throw Error(fmt::format("{}: include_last_offset needs at least one offset, got offsets of shape [0]", op));
    if (!bounds.empty() && bounds[0] != 0)
      throw Error(fmt::format("{}: offsets[0] must be 0 (the first bag starts at position 0), got {}", op, bounds[0]));
    for (std::size_t b = 0; b < bounds.size(); ++b) {
      if (b > 0 && bounds[b] < bounds[b - 1])
        throw Error(fmt::format("{}: offsets must be non-decreasing, got offsets[{}] = {} after offsets[{}] = {}", op,
                                b, bounds[b], b - 1, bounds[b - 1]));
      if (bounds[b] > m)
        throw Error(fmt::format("{}: offsets[{}] = {} is past the end of the input (shape {})", op, b, bounds[b],
                                input.shape()));
    }
    if (!include_last_offset) bounds.push_back(m);
  } else {
    throw Error(fmt::format("{}: input must be 1-d (with offsets) or 2-d [B, N], got shape {}", op, input.shape()));
  }
  if (per_sample_weights.defined()) {
    if (mode != "sum")
      throw Error(fmt::format("{}: per_sample_weights is only supported for mode 'sum', got mode '{}'", op, mode));
    if (per_sample_weights.shape() != input.shape())
      throw Error(fmt::format("{}: per_sample_weights of shape {} must have the input's shape {}", op,
                              per_sample_weights.shape(), input.shape()));
    if (per_sample_weights.dtype() != weight.dtype())
      throw Error(fmt::format("{}: per_sample_weights has dtype {} but weight has dtype {}", op,
                              per_sample_weights.dtype(), weight.dtype()));
  }
  I64s idx = read_indices(input, n, op);
  if (max_norm) renorm_rows(weight, idx, *max_norm, norm_type, op);

  const std::int64_t nb = static_cast<std::int64_t>(bounds.size()) - 1;
  auto is_pad = [&](std::int64_t i) { return pad && idx[static_cast<std::size_t>(i)] == *pad; };
  if (mode == "max") {
    auto a = std::make_shared<ArgMax>();
    a->b = nb;
    a->d = d;
    a->n = n;
    a->am.assign(static_cast<std::size_t>(nb * d), -1);
    {
      NoGradGuard ng;
      const Tensor w = weight.contiguous();
      kernel::dispatch_floating(w, op, [&]<class T>() {
        const T* pw = w.data_ptr<T>();
        kernel::parallel_for(nb, kernel::grain_for(d * std::max<std::int64_t>(1, m / std::max<std::int64_t>(nb, 1))),
                             [&](std::int64_t b0, std::int64_t b1) {
                               for (std::int64_t b = b0; b < b1; ++b) {
                                 std::int64_t* am = a->am.data() + b * d;
                                 for (std::int64_t i = bounds[static_cast<std::size_t>(b)];
                                      i < bounds[static_cast<std::size_t>(b + 1)]; ++i) {
                                   if (is_pad(i)) continue;
                                   const std::int64_t r = idx[static_cast<std::size_t>(i)];
                                   for (std::int64_t c = 0; c < d; ++c)
                                     if (am[c] < 0 || pw[r * d + c] > pw[am[c] * d + c]) am[c] = r;
                                 }
                               }
                             });
      });
    }
    return max_gather(weight, a, "EmbeddingBagBackward");
  }

  // sum / mean: the looked-up rows [M, D] (gradient: the lookup's scatter), then each bag's
  // weighted sum (factor 1/n_b for mean, 0 for padding and entries outside every bag).
  std::vector<double> factor(static_cast<std::size_t>(m), 0.0);
  I64s bag(static_cast<std::size_t>(m), 0);
  for (std::int64_t b = 0; b < nb; ++b) {
    const std::int64_t lo = bounds[static_cast<std::size_t>(b)], hi = bounds[static_cast<std::size_t>(b + 1)];
    std::int64_t count = 0;
    for (std::int64_t i = lo; i < hi; ++i) count += is_pad(i) ? 0 : 1;
    const double f = mode == "mean" && count > 0 ? 1.0 / static_cast<double>(count) : 1.0;
    for (std::int64_t i = lo; i < hi; ++i) {
      bag[static_cast<std::size_t>(i)] = b;
      factor[static_cast<std::size_t>(i)] = is_pad(i) ? 0.0 : f;
    }
  }
  Tensor rows = lookup(weight, lookup_map(idx, n, pad, scale_grad_by_freq), {m, d}, "EmbeddingBackward");
  if (per_sample_weights.defined()) rows = mul(rows, reshape(per_sample_weights, {m, 1}));
  return map_scatter(rows, std::make_shared<const RowMap>(std::move(bag), std::move(factor), nb),
                     "EmbeddingBagBackward");
}

}  // namespace functional

// ---- modules -------------------------------------------------------------------------------

namespace {

Tensor checked_pretrained(const Tensor& embeddings, std::string_view owner) {
  xgrad::detail::check_defined(embeddings, owner);
  if (embeddings.dim() != 2)
    throw Error(fmt::format("{}::from_pretrained: embeddings must be 2-d [num_embeddings, embedding_dim], got shape {}",
                            owner, embeddings.shape()));
  return embeddings;
}

void init_weight(const Tensor& weight, std::optional<std::int64_t> padding_idx) {
  NoGradGuard ng;
  init::normal_(weight);
  if (padding_idx) weight.select(0, *padding_idx).zero_();
}

// The optional items PyTorch's extra_repr prints when they differ from the defaults.
std::string tail_repr(const std::optional<double>& max_norm, double norm_type, bool scale_grad_by_freq) {
  std::string s;
  if (max_norm) s += ", max_norm=" + py_float(*max_norm);
  if (norm_type != 2.0) s += ", norm_type=" + py_float(norm_type);
  if (scale_grad_by_freq) s += ", scale_grad_by_freq=true";
  return s;
}

}  // namespace

Embedding::Embedding(std::int64_t num_embeddings, std::int64_t embedding_dim)
    : Embedding(EmbeddingOptions(num_embeddings, embedding_dim)) {}

Embedding::Embedding(const EmbeddingOptions& options) : Embedding(options, Tensor(), false) {}

Embedding::Embedding(const EmbeddingOptions& options, const Tensor& pretrained, bool freeze)
    : Module("Embedding"), options_(options) {
  ::xgrad::options::validate_options(options_, name_);
  options_.padding_idx_ = wrap_padding_idx(options_.padding_idx_, options_.num_embeddings_, name_);
  if (pretrained.defined()) {
    weight = register_parameter("weight", pretrained.detach(), !freeze);
  } else {
    weight = register_parameter("weight", zeros({options_.num_embeddings_, options_.embedding_dim_}));
    reset_parameters();
  }
}

std::shared_ptr<Embedding> Embedding::from_pretrained(const Tensor& embeddings, bool freeze,
                                                      std::optional<std::int64_t> padding_idx,
                                                      std::optional<double> max_norm, double norm_type,
                                                      bool scale_grad_by_freq) {
  checked_pretrained(embeddings, "Embedding");
  const auto options = EmbeddingOptions(embeddings.size(0), embeddings.size(1))
                           .padding_idx(padding_idx)
                           .max_norm(max_norm)
                           .norm_type(norm_type)
                           .scale_grad_by_freq(scale_grad_by_freq);
  return std::shared_ptr<Embedding>(new Embedding(options, embeddings, freeze));
}

Tensor Embedding::forward(const Tensor& input) {
  return functional::embedding(input, weight, options_.padding_idx_, options_.max_norm_, options_.norm_type_,
                               options_.scale_grad_by_freq_);
}

void Embedding::reset_parameters() { init_weight(weight, options_.padding_idx_); }

std::string Embedding::extra_repr() const {
  std::string s = fmt::format("{}, {}", options_.num_embeddings_, options_.embedding_dim_);
  if (options_.padding_idx_) s += fmt::format(", padding_idx={}", *options_.padding_idx_);
  return s + tail_repr(options_.max_norm_, options_.norm_type_, options_.scale_grad_by_freq_);
}

EmbeddingBag::EmbeddingBag(std::int64_t num_embeddings, std::int64_t embedding_dim)
    : EmbeddingBag(EmbeddingBagOptions(num_embeddings, embedding_dim)) {}

EmbeddingBag::EmbeddingBag(const EmbeddingBagOptions& options) : EmbeddingBag(options, Tensor(), false) {}

EmbeddingBag::EmbeddingBag(const EmbeddingBagOptions& options, const Tensor& pretrained, bool freeze)
    : Module("EmbeddingBag"), options_(options) {
  ::xgrad::options::validate_options(options_, name_);
  const std::string& mode = options_.mode_;
  if (mode != "sum" && mode != "mean" && mode != "max")
    throw Error(fmt::format("{}: mode must be 'sum', 'mean' or 'max', got '{}'", name_, mode));
  options_.padding_idx_ = wrap_padding_idx(options_.padding_idx_, options_.num_embeddings_, name_);
  if (pretrained.defined()) {
    weight = register_parameter("weight", pretrained.detach(), !freeze);
  } else {
    weight = register_parameter("weight", zeros({options_.num_embeddings_, options_.embedding_dim_}));
    reset_parameters();
  }
}

std::shared_ptr<EmbeddingBag> EmbeddingBag::from_pretrained(const Tensor& embeddings, bool freeze,
                                                            std::optional<double> max_norm, double norm_type,
                                                            bool scale_grad_by_freq, const std::string& mode,
                                                            bool include_last_offset,
                                                            std::optional<std::int64_t> padding_idx) {
  checked_pretrained(embeddings, "EmbeddingBag");
  const auto options = EmbeddingBagOptions(embeddings.size(0), embeddings.size(1))
                           .max_norm(max_norm)
                           .norm_type(norm_type)
                           .scale_grad_by_freq(scale_grad_by_freq)
                           .mode(mode)
                           .include_last_offset(include_last_offset)
                           .padding_idx(padding_idx);
  return std::shared_ptr<EmbeddingBag>(new EmbeddingBag(options, embeddings, freeze));
}

Tensor EmbeddingBag::forward(const Tensor& input) { return forward(input, Tensor(), Tensor()); }

Tensor EmbeddingBag::forward(const Tensor& input, const Tensor& offsets, const Tensor& per_sample_weights) {
  return functional::embedding_bag(input, weight, offsets, options_.mode_, per_sample_weights,
                                   options_.include_last_offset_, options_.padding_idx_, options_.max_norm_,
                                   options_.norm_type_, options_.scale_grad_by_freq_);
}

void EmbeddingBag::reset_parameters() { init_weight(weight, options_.padding_idx_); }

std::string EmbeddingBag::extra_repr() const {
  std::string s = fmt::format("{}, {}", options_.num_embeddings_, options_.embedding_dim_) +
                  tail_repr(options_.max_norm_, options_.norm_type_, options_.scale_grad_by_freq_);
  s += fmt::format(", mode='{}'", options_.mode_);
  if (options_.include_last_offset_) s += ", include_last_offset=true";
  if (options_.padding_idx_) s += fmt::format(", padding_idx={}", *options_.padding_idx_);
  return s;
}

}  // namespace xgrad::nn
