// Sorting and selection: sort, argsort, topk, kthvalue, median, unique.
//
// Every op compares unsigned keys (sort_key) whose integer order is PyTorch's order of the
// values, and breaks ties by the element's position along the dim: the pair (key, position)
// is unique, so the "stable" answer is the only answer and no thread count can change it.
// Tensors are viewed as [pre, n, post] around the dim; a row (p, q) is one sequence along
// the dim. Rows run in parallel; one long row (a sort of 1M values) is split inside its
// radix sort instead, into chunks fixed by n alone.
#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <memory>
#include <numeric>
#include <utility>

#include "kernel.hpp"
#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/memory.hpp"
#include "xgrad/autograd/shape.hpp"
#include "xgrad/autograd/sorting.hpp"
#include "xgrad/autograd/threading.hpp"
#include "xgrad/autograd/profile_scope.hpp"

namespace xgrad {

namespace {

using Grads = std::vector<Tensor>;

// ---- keys -----------------------------------------------------------------------------------

template <class T>
using key_type = std::conditional_t<std::is_same_v<T, bool>, std::uint8_t,
                                    std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>>;

/// An unsigned key whose order is PyTorch's order of the values: NaN above +inf (all NaNs
/// equal), -0.0 equal to +0.0, integers by value. `flip` reverses the order (descending).
/// Branch-free (random signs would mispredict): floats map sign-magnitude bits to an
/// unsigned order by flipping all bits of negatives and the sign bit of positives.
template <class T>
key_type<T> sort_key(T x, bool flip) {
  using K = key_type<T>;
  const K flip_mask = flip ? static_cast<K>(~K{0}) : K{0};
  if constexpr (std::is_same_v<T, bool>) {
    return static_cast<K>(static_cast<K>(x) ^ flip_mask);
  } else {
    constexpr int bits = 8 * static_cast<int>(sizeof(K));
    constexpr K top = K{1} << (bits - 1);
    if constexpr (std::is_floating_point_v<T>) {
      x = x + T(0);  // NOTE: -0.0 + 0.0 is +0.0: the two zeros get one key (not folded without -ffast-math)
      const K u = std::bit_cast<K>(x);
      const K k = u ^ (static_cast<K>(K{0} - (u >> (bits - 1))) | top);
      return static_cast<K>((std::isnan(x) ? static_cast<K>(~K{0}) : k) ^ flip_mask);
    } else {
      return static_cast<K>(static_cast<K>(x) ^ top ^ flip_mask);
    }
  }
}

template <class T>
bool is_nan(T x) {
  if constexpr (std::is_floating_point_v<T>)
    return std::isnan(x);
  else
    return false;
}

/// A key with its position: the order of these pairs is the stable order.
template <class K>
struct Item {
  K key;
  std::int64_t idx;
  friend bool operator<(const Item& a, const Item& b) { return a.key < b.key || (a.key == b.key && a.idx < b.idx); }
};

// ---- layout ---------------------------------------------------------------------------------

/// A tensor as [pre, n, post] around dim d (a 0-d tensor is [1, 1, 1]).
struct Rows {
  std::int64_t pre = 1, n = 1, post = 1;
  std::int64_t count() const { return pre * post; }
  /// Offset of the first element of row r in a packed tensor with `len` elements along d.
  std::int64_t base(std::int64_t r, std::int64_t len) const { return (r / post) * len * post + r % post; }
};

Rows rows_of(const Shape& s, std::int64_t d) {
  Rows r;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto di = static_cast<std::int64_t>(i);
    if (di < d) r.pre *= s[i];
    if (di == d) r.n = s[i];
    if (di > d) r.post *= s[i];
  }
  return r;
}

/// An uninitialised buffer a task reuses across its rows, from the tensor buffer cache
/// (fresh pages from the system would cost more to fault in than a radix pass takes).
/// T is trivial.
template <class T>
class Buffer {
 public:
  Buffer() = default;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() { release(); }
  T* get(std::int64_t n) {
    if (n > size_) {
      release();
      bytes_ = static_cast<std::size_t>(std::max<std::int64_t>(n, 1)) * sizeof(T);
      p_ = static_cast<T*>(detail::allocate_buffer(bytes_));
      size_ = n;
    }
    return p_;
  }

 private:
  void release() {
    if (p_) detail::free_buffer(p_, bytes_);
    p_ = nullptr;
    size_ = 0;
  }
  T* p_ = nullptr;
  std::int64_t size_ = 0;
  std::size_t bytes_ = 0;
};

/// Row r of a packed tensor as a contiguous pointer: the tensor's own memory when post == 1,
/// else a copy in `buf`.
template <class T>
const T* row_ptr(const T* data, const Rows& L, std::int64_t r, Buffer<T>& buf) {
  const T* src = data + L.base(r, L.n);
  if (L.post == 1) return src;
  T* dst = buf.get(L.n);
  for (std::int64_t i = 0; i < L.n; ++i) dst[i] = src[i * L.post];
  return dst;
}

// ---- radix sort -----------------------------------------------------------------------------

constexpr int kDigitBits = 11;
constexpr std::uint64_t kDigits = std::uint64_t{1} << kDigitBits;
/// Rows up to this length are sorted by std::sort (radix pays for its histograms above it).
constexpr std::int64_t kRadixMin = 2048;
/// Items per chunk of the parallel radix sort; fixed, so the split depends on n alone.
constexpr std::int64_t kRadixChunk = std::int64_t{1} << 16;
/// Rows at least this long are split across tasks when they are the only row.
constexpr std::int64_t kParallelRowMin = 2 * kRadixChunk;

/// Stable LSD radix sort of a[0, n) by the bits [lo, hi) of key(item), kDigitBits per pass
/// (a pass whose digit is the same for every item is skipped). tmp has room for n items.
/// Returns the buffer (a or tmp) that holds the result. With `parallel`, each pass counts
/// and scatters fixed chunks in parallel (chunk c's items of one digit land after chunk
/// c - 1's, so the result is the same stable order).
template <class It, class KeyFn>
It* radix_sort(It* a, It* tmp, std::int64_t n, int lo, int hi, KeyFn key, bool parallel) {
  const int npass = (hi - lo + kDigitBits - 1) / kDigitBits;
  constexpr std::uint64_t mask = kDigits - 1;
  if (!parallel) {
    std::vector<std::int64_t> hist(static_cast<std::size_t>(npass) * kDigits, 0);
    for (std::int64_t i = 0; i < n; ++i) {
      const std::uint64_t k = key(a[i]);
      for (int p = 0; p < npass; ++p) ++hist[p * kDigits + ((k >> (lo + p * kDigitBits)) & mask)];
    }
    for (int p = 0; p < npass; ++p) {
      const int sh = lo + p * kDigitBits;
      std::int64_t* h = &hist[p * kDigits];
      if (h[(key(a[0]) >> sh) & mask] == n) continue;
      std::int64_t s = 0;
      for (std::uint64_t b = 0; b < kDigits; ++b) s += std::exchange(h[b], s);
      for (std::int64_t i = 0; i < n; ++i) {
        const It it = a[i];
        tmp[h[(key(it) >> sh) & mask]++] = it;
      }
      std::swap(a, tmp);
    }
    return a;
  }
  const std::int64_t nc = (n + kRadixChunk - 1) / kRadixChunk;
  std::vector<std::int64_t> h(static_cast<std::size_t>(nc) * kDigits);
  for (int p = 0; p < npass; ++p) {
    const int sh = lo + p * kDigitBits;
    detail::parallel_for(nc, 1, [&](std::int64_t c0, std::int64_t c1) {
      for (std::int64_t c = c0; c < c1; ++c) {
        std::int64_t* hc = &h[c * kDigits];
        std::fill(hc, hc + kDigits, 0);
        for (std::int64_t i = c * kRadixChunk, e = std::min(n, i + kRadixChunk); i < e; ++i)
          ++hc[(key(a[i]) >> sh) & mask];
      }
    });
    // Offsets digit-major, chunk-minor.
    std::int64_t s = 0;
    bool trivial = false;
    for (std::uint64_t b = 0; b < kDigits; ++b) {
      const std::int64_t s0 = s;
      for (std::int64_t c = 0; c < nc; ++c) s += std::exchange(h[c * kDigits + b], s);
      trivial = trivial || s - s0 == n;
    }
    if (trivial) continue;
    detail::parallel_for(nc, 1, [&](std::int64_t c0, std::int64_t c1) {
      for (std::int64_t c = c0; c < c1; ++c) {
        std::int64_t* hc = &h[c * kDigits];
        for (std::int64_t i = c * kRadixChunk, e = std::min(n, i + kRadixChunk); i < e; ++i) {
          const It it = a[i];
          tmp[hc[(key(it) >> sh) & mask]++] = it;
        }
      }
    });
    std::swap(a, tmp);
  }
  return a;
}

/// f(b, e) over [0, n): in parallel (kGrain) when `parallel`, else one call.
template <class F>
void maybe_parallel(std::int64_t n, bool parallel, F&& f) {
  if (parallel)
    detail::parallel_for(n, f);
  else if (n > 0)
    f(std::int64_t{0}, n);
}

/// Scratch space of stable_order.
struct SortScratch {
  Buffer<std::uint64_t> u, ut;
  Buffer<Item<std::uint64_t>> w, wt;
};

/// perm[0, n) = the stable order of row[0, n) (ascending keys, or descending with `flip`):
/// row[perm[0]] <= row[perm[1]] <= ..., ties in index order.
template <class T>
void stable_order(const T* row, std::int64_t n, bool flip, std::int64_t* perm, SortScratch& s, bool parallel) {
  using K = key_type<T>;
  constexpr int kb = 8 * static_cast<int>(sizeof(K));
  if (sizeof(K) <= 4 && n <= (std::int64_t{1} << 32)) {
    // (key << 32 | index) in one word: sorting the words sorts by (key, index).
    std::uint64_t* u = s.u.get(n);
    maybe_parallel(n, parallel, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i)
        u[i] = (static_cast<std::uint64_t>(sort_key(row[i], flip)) << 32) | static_cast<std::uint64_t>(i);
    });
    if (n <= kRadixMin) {
      std::sort(u, u + n);
    } else {
      u = radix_sort(
          u, s.ut.get(n), n, 32, 32 + kb, [](std::uint64_t x) { return x; }, parallel);
    }
    maybe_parallel(n, parallel, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i) perm[i] = static_cast<std::int64_t>(u[i] & 0xffffffffu);
    });
    return;
  }
  Item<std::uint64_t>* w = s.w.get(n);
  maybe_parallel(n, parallel, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) w[i] = {static_cast<std::uint64_t>(sort_key(row[i], flip)), i};
  });
  if (n <= kRadixMin) {
    std::sort(w, w + n);
  } else {
    w = radix_sort(
        w, s.wt.get(n), n, 0, kb, [](const Item<std::uint64_t>& x) { return x.key; }, parallel);
  }
  maybe_parallel(n, parallel, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) perm[i] = w[i].idx;
  });
}

// ---- selection ------------------------------------------------------------------------------

/// The k smallest (key, index) pairs of row[0, n) in order (keys flipped for the largest),
/// their indices into idx[0, k).
template <class T>
void select_k(const T* row, std::int64_t n, std::int64_t k, bool largest, std::int64_t* idx,
              std::vector<Item<key_type<T>>>& items) {
  using It = Item<key_type<T>>;
  if (k == 0) return;
  items.clear();
  if (k * 8 > n) {
    for (std::int64_t i = 0; i < n; ++i) items.push_back({sort_key(row[i], largest), i});
    if (k < n) std::nth_element(items.begin(), items.begin() + k, items.end());
    std::sort(items.begin(), items.begin() + k);
  } else {
    // A max-heap of the best k so far. Indices only grow, so an element enters only with a
    // strictly better key.
    for (std::int64_t i = 0; i < k; ++i) items.push_back({sort_key(row[i], largest), i});
    std::make_heap(items.begin(), items.end());
    auto offer = [&](std::int64_t i) {
      const auto key = sort_key(row[i], largest);
      if (key < items.front().key) {
        std::pop_heap(items.begin(), items.end());
        items.back() = It{key, i};
        std::push_heap(items.begin(), items.end());
      }
    };
    std::int64_t i = k;
    if constexpr (!std::is_same_v<T, bool>) {
      // Blocks with no candidate are skipped by one value comparison per element, which
      // vectorises: x can beat the threshold value v only if !(x <= v) (x > v or a NaN
      // among them; !(x >= v) for the smallest). A NaN threshold lets every block through.
      constexpr std::int64_t kBlock = 32;
      for (; i + kBlock <= n; i += kBlock) {
        const T v = row[items.front().idx];
        const T* blk = row + i;
        int any = 0;
        if (largest)
          for (std::int64_t j = 0; j < kBlock; ++j) any |= !(blk[j] <= v);
        else
          for (std::int64_t j = 0; j < kBlock; ++j) any |= !(blk[j] >= v);
        if (any)
          for (std::int64_t j = 0; j < kBlock; ++j) offer(i + j);
      }
    }
    for (; i < n; ++i) offer(i);
    std::sort_heap(items.begin(), items.end());
  }
  for (std::int64_t j = 0; j < k; ++j) idx[j] = items[static_cast<std::size_t>(j)].idx;
}

/// Index of the element at position k (0-based) of the stable ascending order of row[0, n).
template <class T>
std::int64_t kth_index(const T* row, std::int64_t n, std::int64_t k, std::vector<Item<key_type<T>>>& items) {
  items.clear();
  for (std::int64_t i = 0; i < n; ++i) items.push_back({sort_key(row[i], false), i});
  std::nth_element(items.begin(), items.begin() + k, items.end());
  return items[static_cast<std::size_t>(k)].idx;
}

/// Index of the lower median of row[0, n): its first NaN if any (PyTorch: NaN propagates),
/// else position (n - 1) / 2 of the stable order.
template <class T>
std::int64_t median_index(const T* row, std::int64_t n, std::vector<Item<key_type<T>>>& items) {
  const T* nan = std::find_if(row, row + n, [](T x) { return is_nan(x); });
  if (nan != row + n) return static_cast<std::int64_t>(nan - row);
  return kth_index(row, n, (n - 1) / 2, items);
}

// ---- shared op plumbing ---------------------------------------------------------------------

std::int64_t dim_size(const Tensor& t, std::int64_t d) { return t.dim() == 0 ? 1 : t.shape()[d]; }

/// Shape with dim d set to `len` (a 0-d shape stays 0-d when len == 1).
Shape with_dim(const Shape& s, std::int64_t d, std::int64_t len) {
  if (s.empty()) return len == 1 ? Shape{} : Shape{len};
  Shape r = s;
  r[d] = len;
  return r;
}

/// Shape of a reduction over d: without d, or with size 1 there when keepdim.
Shape reduced(const Shape& s, std::int64_t d, bool keepdim) {
  if (s.empty()) return {};
  Shape r = s;
  if (keepdim)
    r[d] = 1;
  else
    r.erase(r.begin() + d);
  return r;
}

/// Records the gradient of values selected from t at `indices` along d: zeros of t's shape
/// with g scattered at the indices (scatter_add is differentiable in g, so create_graph
/// works). `kept` is the indices' shape with d kept (reductions pass keepdim = false shapes).
void record_selection(const char* name, const Tensor& t, const Tensor& values, const Tensor& indices, std::int64_t d,
                      const Shape& kept) {
  record(name, {t}, {values}, {indices}, [d, in_shape = t.shape(), kept](const Grads& g, const Grads& s) {
    if (s[0].numel() == 0) return Grads{zeros(in_shape, dtype(g[0].dtype()))};
    return Grads{scatter_add(zeros(in_shape, dtype(g[0].dtype())), d, reshape(s[0], kept), reshape(g[0], kept))};
  });
}

[[noreturn]] void throw_k(std::string_view op, std::int64_t k, std::int64_t d, std::int64_t n, const Shape& s) {
  throw Error(fmt::format("{}: k ({}) is out of range for dimension {} of size {} (tensor shape {})", op, k, d, n, s));
}

std::tuple<Tensor, Tensor> sort_impl(const Tensor& t, std::int64_t dim, bool descending, bool want_values,
                                     std::string_view op) {
  detail::check_defined(t, op);
  const std::int64_t d = detail::wrap_dim(dim, t.dim(), op, t.shape());
  Tensor values = want_values ? detail::make_tensor(t.shape(), t.dtype(), op) : Tensor();
  Tensor indices = detail::make_tensor(t.shape(), Dtype::int64, op);
  if (t.numel() == 0) return {values, indices};
  const Rows L = rows_of(t.shape(), d);
  const Tensor tp = detail::packed(t);
  detail::dispatch(t.dtype(), [&]<class T>() {
    const T* pa = tp.data_ptr<T>();
    T* pv = want_values ? values.data_ptr<T>() : nullptr;
    std::int64_t* pi = indices.data_ptr<std::int64_t>();
    const bool split_row = L.count() == 1 && L.n >= kParallelRowMin && get_num_threads() > 1;
    auto run = [&](std::int64_t r0, std::int64_t r1) {
      Buffer<T> rowbuf;
      Buffer<std::int64_t> permbuf;
      SortScratch scratch;
      for (std::int64_t r = r0; r < r1; ++r) {
        const T* row = row_ptr(pa, L, r, rowbuf);
        const std::int64_t base = L.base(r, L.n);
        std::int64_t* perm = L.post == 1 ? pi + base : permbuf.get(L.n);
        stable_order(row, L.n, descending, perm, scratch, split_row);
        if (L.post != 1)
          for (std::int64_t i = 0; i < L.n; ++i) pi[base + i * L.post] = perm[i];
        if (pv)
          maybe_parallel(L.n, split_row, [&](std::int64_t b, std::int64_t e) {
            for (std::int64_t i = b; i < e; ++i) pv[base + i * L.post] = row[perm[i]];
          });
      }
    };
    if (split_row)
      run(0, 1);
    else
      detail::parallel_for(L.count(), detail::grain_for(L.n), run);
  });
  return {values, indices};
}

/// Per row: the index (position along d) of one element; values and indices of the reduced
/// shape. pick(row, n) -> index.
template <class Pick>
std::tuple<Tensor, Tensor> select_one(const Tensor& t, std::int64_t d, bool keepdim, std::string_view op, Pick&& pick) {
  const Shape out_shape = reduced(t.shape(), d, keepdim);
  Tensor values = detail::make_tensor(out_shape, t.dtype(), op);
  Tensor indices = detail::make_tensor(out_shape, Dtype::int64, op);
  const Rows L = rows_of(t.shape(), d);
  const Tensor tp = detail::packed(t);
  detail::dispatch(t.dtype(), [&]<class T>() {
    const T* pa = tp.data_ptr<T>();
    T* pv = values.data_ptr<T>();
    std::int64_t* pi = indices.data_ptr<std::int64_t>();
    detail::parallel_for(L.count(), detail::grain_for(L.n), [&](std::int64_t r0, std::int64_t r1) {
      Buffer<T> rowbuf;
      std::vector<Item<key_type<T>>> items;
      for (std::int64_t r = r0; r < r1; ++r) {
        const T* row = row_ptr(pa, L, r, rowbuf);
        const std::int64_t i = pick(row, L.n, items);
        pv[r] = row[i];  // output row r = (p, q) sits at p * post + q = r
        pi[r] = i;
      }
    });
  });
  return {values, indices};
}

}  // namespace

// ---- sort / argsort -------------------------------------------------------------------------

std::tuple<Tensor, Tensor> sort(const Tensor& t, std::int64_t dim, bool descending, bool /*stable*/) {
  XGRAD_PROFILE_OP("sort", t);
  auto [values, indices] = sort_impl(t, dim, descending, true, "sort");
  if (any_requires_grad({&t})) {
    const std::int64_t d = detail::wrap_dim(dim, t.dim(), "sort", t.shape());
    record_selection("SortBackward", t, values, indices, d, t.shape());
  }
  return {values, indices};
}

Tensor argsort(const Tensor& t, std::int64_t dim, bool descending, bool /*stable*/) {
  XGRAD_PROFILE_OP("argsort", t);
  return std::get<1>(sort_impl(t, dim, descending, false, "argsort"));
}

// ---- topk -----------------------------------------------------------------------------------

std::tuple<Tensor, Tensor> topk(const Tensor& t, std::int64_t k, std::int64_t dim, bool largest, bool /*sorted*/) {
  XGRAD_PROFILE_OP("topk", t);
  constexpr std::string_view op = "topk";
  detail::check_defined(t, op);
  const std::int64_t d = detail::wrap_dim(dim, t.dim(), op, t.shape());
  const std::int64_t n = dim_size(t, d);
  if (k < 0 || k > n) throw_k(op, k, d, n, t.shape());
  const Shape out_shape = with_dim(t.shape(), d, k);
  Tensor values = detail::make_tensor(out_shape, t.dtype(), op);
  Tensor indices = detail::make_tensor(out_shape, Dtype::int64, op);
  if (values.numel() > 0) {
    const Rows L = rows_of(t.shape(), d);
    const Tensor tp = detail::packed(t);
    detail::dispatch(t.dtype(), [&]<class T>() {
      const T* pa = tp.data_ptr<T>();
      T* pv = values.data_ptr<T>();
      std::int64_t* pi = indices.data_ptr<std::int64_t>();
      detail::parallel_for(L.count(), detail::grain_for(L.n), [&](std::int64_t r0, std::int64_t r1) {
        Buffer<T> rowbuf;
        std::vector<std::int64_t> sel(static_cast<std::size_t>(k));
        std::vector<Item<key_type<T>>> items;
        for (std::int64_t r = r0; r < r1; ++r) {
          const T* row = row_ptr(pa, L, r, rowbuf);
          select_k(row, L.n, k, largest, sel.data(), items);
          const std::int64_t base = L.base(r, k);
          for (std::int64_t j = 0; j < k; ++j) {
            pv[base + j * L.post] = row[sel[j]];
            pi[base + j * L.post] = sel[j];
          }
        }
      });
    });
  }
  if (any_requires_grad({&t})) record_selection("TopkBackward", t, values, indices, d, out_shape);
  return {values, indices};
}

// ---- kthvalue / median ----------------------------------------------------------------------

std::tuple<Tensor, Tensor> kthvalue(const Tensor& t, std::int64_t k, std::int64_t dim, bool keepdim) {
  XGRAD_PROFILE_OP("kthvalue", t);
  constexpr std::string_view op = "kthvalue";
  detail::check_defined(t, op);
  const std::int64_t d = detail::wrap_dim(dim, t.dim(), op, t.shape());
  const std::int64_t n = dim_size(t, d);
  if (k < 1 || k > n) throw_k(op, k, d, n, t.shape());
  auto [values, indices] =
      select_one(t, d, keepdim, op, [k]<class T, class Items>(const T* row, std::int64_t len, Items& items) {
        return kth_index(row, len, k - 1, items);
      });
  if (any_requires_grad({&t})) record_selection("KthvalueBackward", t, values, indices, d, reduced(t.shape(), d, true));
  return {values, indices};
}

std::tuple<Tensor, Tensor> median(const Tensor& t, std::int64_t dim, bool keepdim) {
  XGRAD_PROFILE_OP("median", t);
  constexpr std::string_view op = "median";
  detail::check_defined(t, op);
  const std::int64_t d = detail::wrap_dim(dim, t.dim(), op, t.shape());
  if (dim_size(t, d) == 0)
    throw Error(
        fmt::format("median: cannot take the median over an empty dimension {} (tensor shape {})", d, t.shape()));
  auto [values, indices] = select_one(
      t, d, keepdim, op,
      []<class T, class Items>(const T* row, std::int64_t len, Items& items) { return median_index(row, len, items); });
  if (any_requires_grad({&t})) record_selection("MedianBackward", t, values, indices, d, reduced(t.shape(), d, true));
  return {values, indices};
}

Tensor median(const Tensor& t) {
  XGRAD_PROFILE_OP("median", t);
  constexpr std::string_view op = "median";
  detail::check_defined(t, op);
  const std::int64_t n = t.numel();
  if (n == 0) {
    if (!is_floating(t.dtype()))
      throw Error(fmt::format("median: cannot take the median of an empty {} tensor (shape {})", t.dtype(), t.shape()));
    return full({}, std::numeric_limits<double>::quiet_NaN(), dtype(t.dtype()));
  }
  Tensor out = detail::make_tensor({}, t.dtype(), op);
  const Tensor tp = detail::packed(t);
  detail::dispatch(t.dtype(), [&]<class T>() {
    const T* pa = tp.data_ptr<T>();
    std::vector<Item<key_type<T>>> items;
    out.data_ptr<T>()[0] = pa[median_index(pa, n, items)];
  });
  if (any_requires_grad({&t}))
    // d median / d t_i = [t_i == median] / #{j : t_j == median} (NaN: among the NaNs), a
    // constant weight times the gradient, so the backward is linear in g.
    record("MedianBackward", {t}, {out}, {t, out}, [](const Grads& g, const Grads& s) {
      const Tensor x = detail::packed(s[0].detach());
      Tensor w = detail::make_tensor(x.shape(), x.dtype(), "median");
      detail::dispatch_floating(x.dtype(), "median", [&]<class T>() {
        const T m = s[1].detach().item<T>();
        const T* px = x.data_ptr<T>();
        T* pw = w.data_ptr<T>();
        std::int64_t count = 0;
        for (std::int64_t i = 0; i < x.numel(); ++i) count += (px[i] == m) || (is_nan(px[i]) && is_nan(m));
        for (std::int64_t i = 0; i < x.numel(); ++i)
          pw[i] = ((px[i] == m) || (is_nan(px[i]) && is_nan(m))) ? T(1) / static_cast<T>(count) : T(0);
      });
      return Grads{mul(w, g[0])};
    });
  return out;
}

// ---- unique ---------------------------------------------------------------------------------

std::tuple<Tensor, Tensor, Tensor> unique(const Tensor& t, bool sorted, bool return_inverse, bool return_counts) {
  XGRAD_PROFILE_OP("unique", t);
  constexpr std::string_view op = "unique";
  detail::check_defined(t, op);
  const std::int64_t n = t.numel();
  const Tensor tp = detail::packed(t);
  Tensor values, inverse, counts;
  detail::dispatch(t.dtype(), [&]<class T>() {
    const T* pa = tp.data_ptr<T>();
    Buffer<std::int64_t> perm_buf;
    Buffer<T> sorted_buf;
    std::int64_t* perm = perm_buf.get(n);
    T* sv = sorted_buf.get(n);
    SortScratch scratch;
    stable_order(pa, n, false, perm, scratch, n >= kParallelRowMin && get_num_threads() > 1);
    for (std::int64_t i = 0; i < n; ++i) sv[i] = pa[perm[i]];
    // Runs of equal keys in the sorted order are the groups; group g starts at start[g].
    std::vector<std::int64_t> start;
    for (std::int64_t i = 0; i < n; ++i)
      if (i == 0 || sort_key(sv[i], false) != sort_key(sv[i - 1], false)) start.push_back(i);
    const auto m = static_cast<std::int64_t>(start.size());
    start.push_back(n);
    // rank[g]: the output position of group g (its sorted position, or its order of first
    // occurrence: a group's first sorted element is its first occurrence in t).
    std::vector<std::int64_t> rank(static_cast<std::size_t>(m));
    std::iota(rank.begin(), rank.end(), 0);
    if (!sorted) {
      std::vector<std::int64_t> order(static_cast<std::size_t>(m));
      std::iota(order.begin(), order.end(), 0);
      std::sort(order.begin(), order.end(),
                [&](std::int64_t a, std::int64_t b) { return perm[start[a]] < perm[start[b]]; });
      for (std::int64_t j = 0; j < m; ++j) rank[order[j]] = j;
    }
    values = detail::make_tensor({m}, t.dtype(), op);
    T* pv = values.data_ptr<T>();
    for (std::int64_t g = 0; g < m; ++g) pv[rank[g]] = sv[start[g]];
    if (return_counts) {
      counts = detail::make_tensor({m}, Dtype::int64, op);
      std::int64_t* pc = counts.data_ptr<std::int64_t>();
      for (std::int64_t g = 0; g < m; ++g) pc[rank[g]] = start[g + 1] - start[g];
    }
    if (return_inverse) {
      inverse = detail::make_tensor(t.shape(), Dtype::int64, op);
      std::int64_t* pi = inverse.data_ptr<std::int64_t>();
      for (std::int64_t g = 0; g < m; ++g)
        for (std::int64_t i = start[g]; i < start[g + 1]; ++i) pi[perm[i]] = rank[g];
    }
  });
  return {values, inverse, counts};
}

}  // namespace xgrad
