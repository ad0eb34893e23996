// The op table of sorting.hpp's differentiable ops (sort, topk, kthvalue, median, cumsum,
// cumprod, logcumsumexp), run by op_db.hpp: float64 gradcheck and gradgradcheck through
// contiguous, transposed, strided and expanded inputs, views vs contiguous copies, int64.
// Their values are not element-wise, so instead of the table's element-wise references,
// check functions below compare every op's values and indices with a reference computed
// from the input's doubles (a stable sort with NaN largest, running sums and products), on
// the same samples and layouts.
#include <numeric>
#include <tuple>

#include "op_db.hpp"
#include "xgrad/autograd/sorting.hpp"

namespace {

const std::vector<std::vector<Shape>> kRows = {{{3, 4}}, {{5}}, {{}}, {{2, 3, 2}}};

std::vector<OpInfo> sorting_ops() {
  auto u = [](auto f) { return [f](const Ts& t) { return f(t[0]); }; };
  return {
      {.name = "sort", .fn = u([](auto x) { return std::get<0>(sort(x)); }), .samples = kRows, .int64 = Int64::Yes},
      {.name = "sort_dim0_descending", .fn = u([](auto x) { return std::get<0>(sort(x, 0, true)); }), .samples = kRows,
       .int64 = Int64::Yes},
      {.name = "topk_2", .fn = u([](auto x) { return std::get<0>(topk(x, 2)); }), .samples = kReduce,
       .int64 = Int64::Yes},
      {.name = "topk_2_smallest_dim0", .fn = u([](auto x) { return std::get<0>(topk(x, 2, 0, false)); }),
       .samples = kReduce, .int64 = Int64::Yes},
      {.name = "kthvalue_2", .fn = u([](auto x) { return std::get<0>(kthvalue(x, 2)); }), .samples = kReduce,
       .int64 = Int64::Yes},
      {.name = "kthvalue_2_dim0_keepdim", .fn = u([](auto x) { return std::get<0>(kthvalue(x, 2, 0, true)); }),
       .samples = kReduce, .int64 = Int64::Yes},
      {.name = "median", .fn = u([](auto x) { return median(x); }), .samples = kRows, .int64 = Int64::Yes},
      {.name = "median_dim1", .fn = u([](auto x) { return std::get<0>(median(x, 1)); }), .samples = kReduce,
       .int64 = Int64::Yes},
      {.name = "median_dim-1_keepdim", .fn = u([](auto x) { return std::get<0>(median(x, -1, true)); }),
       .samples = kRows, .int64 = Int64::Yes},
      {.name = "cumsum_dim0", .fn = u([](auto x) { return cumsum(x, 0); }), .samples = kRows, .int64 = Int64::Yes},
      {.name = "cumsum_dim-1", .fn = u([](auto x) { return cumsum(x, -1); }), .samples = kReduce,
       .int64 = Int64::Yes},
      {.name = "cumprod_dim0", .fn = u([](auto x) { return cumprod(x, 0); }), .samples = kRows, .int64 = Int64::Yes},
      {.name = "cumprod_dim1", .fn = u([](auto x) { return cumprod(x, 1); }), .samples = kReduce,
       .int64 = Int64::Yes},
      {.name = "logcumsumexp_dim0", .fn = u([](auto x) { return logcumsumexp(x, 0); }), .samples = kRows},
      {.name = "logcumsumexp_dim-1", .fn = u([](auto x) { return logcumsumexp(x, -1); }), .samples = kReduce},
  };
}

// ---- value references -------------------------------------------------------------------------

/// The flat offsets of each row along d of a row-major shape (a 0-d shape: one row of one).
std::vector<std::vector<std::int64_t>> rows_along(const Shape& s, std::int64_t d) {
  if (s.empty()) return {{0}};
  std::int64_t pre = 1, post = 1;
  for (std::int64_t i = 0; i < static_cast<std::int64_t>(s.size()); ++i) {
    if (i < d) pre *= s[static_cast<std::size_t>(i)];
    if (i > d) post *= s[static_cast<std::size_t>(i)];
  }
  const std::int64_t n = s[static_cast<std::size_t>(d)];
  std::vector<std::vector<std::int64_t>> rows;
  for (std::int64_t p = 0; p < pre; ++p)
    for (std::int64_t q = 0; q < post; ++q) {
      std::vector<std::int64_t> r;
      for (std::int64_t i = 0; i < n; ++i) r.push_back((p * n + i) * post + q);
      rows.push_back(r);
    }
  return rows;
}

/// The stable order of v (NaN largest), ascending or descending.
std::vector<std::int64_t> stable_order(const V& v, bool descending) {
  std::vector<std::int64_t> p(v.size());
  std::iota(p.begin(), p.end(), 0);
  auto less = [](double a, double b) { return !std::isnan(a) && (std::isnan(b) || a < b); };
  std::stable_sort(p.begin(), p.end(), [&](std::int64_t a, std::int64_t b) {
    return descending ? less(v[static_cast<std::size_t>(b)], v[static_cast<std::size_t>(a)])
                      : less(v[static_cast<std::size_t>(a)], v[static_cast<std::size_t>(b)]);
  });
  return p;
}

/// Wanted (values, indices) of a selection along d: pick(row values) -> positions, laid out
/// as an output of shape `out_keep` (dim d kept, of the number of positions).
using Pick = std::function<std::vector<std::int64_t>(const V&)>;
void check_selection(const Tensor& x, std::int64_t d, const Pick& pick, const Tensor& values, const Tensor& indices,
                     const Shape& out_keep, const std::string& what) {
  const V xv = values_of(x);
  const auto in_rows = rows_along(x.shape(), d), out_rows = rows_along(out_keep, d);
  BOOST_REQUIRE_EQUAL(in_rows.size(), out_rows.size());
  const V got_v = values_of(values);
  const auto got_i = indices.contiguous().to_vector<std::int64_t>();
  BOOST_REQUIRE_EQUAL(got_v.size(), got_i.size());
  for (std::size_t r = 0; r < in_rows.size(); ++r) {
    V row;
    for (auto off : in_rows[r]) row.push_back(xv[static_cast<std::size_t>(off)]);
    const auto want = pick(row);
    BOOST_REQUIRE_EQUAL(want.size(), out_rows[r].size());
    for (std::size_t j = 0; j < want.size(); ++j) {
      const auto o = static_cast<std::size_t>(out_rows[r][j]);
      const double wv = row[static_cast<std::size_t>(want[j])];
      if (got_i[o] != want[j] || !(got_v[o] == wv || (std::isnan(got_v[o]) && std::isnan(wv)))) {
        BOOST_ERROR(what << ": row " << r << " position " << j << " is (" << got_v[o] << ", " << got_i[o]
                         << "), want (" << wv << ", " << want[j] << ")");
        return;
      }
    }
  }
}

/// Wanted scan along d: out[i] = f(out[i-1], x[i]) from init, compared within 1e-12.
void check_scan(const Tensor& x, std::int64_t d, double init, const std::function<double(double, double)>& f,
                const Tensor& out, const std::string& what) {
  const V xv = values_of(x), got = values_of(out);
  for (const auto& row : rows_along(x.shape(), d)) {
    double acc = init;
    for (auto off : row) {
      acc = f(acc, xv[static_cast<std::size_t>(off)]);
      const double g = got[static_cast<std::size_t>(off)];
      if (!(std::fabs(g - acc) <= 1e-12 * std::max(1.0, std::fabs(acc)))) {
        BOOST_ERROR(what << ": element " << off << " is " << g << ", want " << acc);
        return;
      }
    }
  }
}

Shape keep_dim(const Shape& s, std::int64_t d, std::int64_t len) {
  if (s.empty()) return {};
  Shape r = s;
  r[static_cast<std::size_t>(d)] = len;
  return r;
}

/// Every op's values (and indices) against the references, on the input `x` (any layout).
void check_all_values(const Tensor& x) {
  const auto nd = std::max<std::int64_t>(x.dim(), 1);
  for (std::int64_t d = 0; d < nd; ++d) {
    const std::int64_t n = x.dim() == 0 ? 1 : x.shape()[static_cast<std::size_t>(d)];
    for (const bool desc : {false, true}) {
      auto [v, i] = sort(x, d, desc);
      check_selection(x, d, [desc](const V& r) { return stable_order(r, desc); }, v, i, x.shape(), "sort");
      BOOST_CHECK(argsort(x, d, desc).to_vector<std::int64_t>() == i.to_vector<std::int64_t>());
    }
    for (const std::int64_t k : {std::int64_t{1}, std::min<std::int64_t>(2, n), n}) {
      for (const bool largest : {true, false}) {
        auto [v, i] = topk(x, k, d, largest);
        check_selection(
            x, d,
            [k, largest](const V& r) {
              auto o = stable_order(r, largest);
              o.resize(static_cast<std::size_t>(k));
              return o;
            },
            v, i, keep_dim(x.shape(), d, k), "topk");
      }
      auto [kv, ki] = kthvalue(x, k, d, true);
      check_selection(x, d, [k](const V& r) { return I64s{stable_order(r, false)[static_cast<std::size_t>(k - 1)]}; },
                      kv, ki, keep_dim(x.shape(), d, 1), "kthvalue");
    }
    auto [mv, mi] = median(x, d, true);
    check_selection(x, d, [](const V& r) { return I64s{stable_order(r, false)[(r.size() - 1) / 2]}; }, mv, mi,
                    keep_dim(x.shape(), d, 1), "median(dim)");
    check_scan(x, d, 0.0, [](double a, double b) { return a + b; }, cumsum(x, d), "cumsum");
    check_scan(x, d, 1.0, [](double a, double b) { return a * b; }, cumprod(x, d), "cumprod");
    check_scan(x, d, -INFINITY, [](double a, double b) { return std::log(std::exp(a) + std::exp(b)); },
               logcumsumexp(x, d), "logcumsumexp");
  }
  V all = values_of(x);
  const double want = all[static_cast<std::size_t>(stable_order(all, false)[(all.size() - 1) / 2])];
  BOOST_CHECK_EQUAL(median(x).item<double>(), want);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(op_db_sorting)

BOOST_AUTO_TEST_CASE(sorting) { run_all(sorting_ops()); }

BOOST_AUTO_TEST_CASE(values_against_references) {
  std::size_t k = 0;
  for (const auto& shapes : kRows) {
    for (Variant v : {kContiguous, kTransposed, kStrided, kExpanded}) {
      BOOST_TEST_CONTEXT("sample " << fmt::format("{}", shapes[0]) << ", variant " << variant_name(v)) {
        manual_seed(77 + 10 * k + v);
        const Prepared p = prepare(shapes[0], v);
        try {
          check_all_values(p.view(float_values(p.leaf_shape, Dom::Any)));
          // the same with ties: small integers as doubles
          check_all_values(p.view(int_values(p.leaf_shape, Dom::Any).to(float64)));
        } catch (const std::exception& e) {
          BOOST_ERROR("threw: " << e.what());
        }
      }
    }
    ++k;
  }
}

BOOST_AUTO_TEST_CASE(names_are_unique) {
  std::vector<std::string> names;
  for (const auto& op : sorting_ops()) names.push_back(op.name);
  std::sort(names.begin(), names.end());
  BOOST_CHECK(std::adjacent_find(names.begin(), names.end()) == names.end());
}

BOOST_AUTO_TEST_SUITE_END()
