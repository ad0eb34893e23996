// einsum: the equation is parsed into integer labels (ellipsis dims first, then the 52
// letters), each operand is reduced to distinct labels (diagonal views for repeated ones,
// size-1 broadcast dims squeezed, private summed labels summed), and the operands are
// contracted left to right, each pair as one matmul over views. Nothing here loops over
// elements: the differentiable ops it calls carry the gradients.
#include <algorithm>
#include <numeric>
#include <string>

#include "kernel.hpp"
#include "view.hpp"
#include "xgrad/autograd/einsum.hpp"
#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/linalg.hpp"
#include "xgrad/autograd/reduction.hpp"
#include "xgrad/autograd/shape.hpp"
#include "xgrad/autograd/profile_scope.hpp"

namespace xgrad {

namespace {

using Labels = std::vector<int>;
constexpr int kEllipsis = -1;
constexpr int kLetters = 52;

int letter_index(char c) { return c >= 'A' && c <= 'Z' ? c - 'A' : c - 'a' + 26; }
char letter_of(int i) { return static_cast<char>(i < 26 ? 'A' + i : 'a' + (i - 26)); }
bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Everything an error message needs: the equation as given and the operand shapes.
struct Context {
  std::string_view equation;
  std::vector<Shape> shapes;
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(fmt::format("einsum: {} (equation \"{}\", operand shapes {})", what, equation, shapes));
  }
};

// One term: letter indices and kEllipsis where "..." stands. `operand` is the term's operand
// (-1: the output), named in errors.
Labels parse_term(std::string_view term, int operand, const Context& ctx) {
  const auto where = [operand] {
    return operand < 0 ? std::string("the output") : fmt::format("the term of operand {}", operand);
  };
  Labels out;
  bool ellipsis = false;
  for (std::size_t i = 0; i < term.size(); ++i) {
    const char c = term[i];
    if (is_letter(c)) {
      out.push_back(letter_index(c));
    } else if (c == '.') {
      if (term.substr(i, 3) != "...")
        ctx.fail(fmt::format("found '.' in {} that is not part of an ellipsis (...)", where()));
      if (ellipsis) ctx.fail(fmt::format("{} has more than one ellipsis (...)", where()));
      ellipsis = true;
      out.push_back(kEllipsis);
      i += 2;
    } else {
      ctx.fail(fmt::format("invalid character '{}' in {}: subscripts must be letters a-z or A-Z", c, where()));
    }
  }
  return out;
}

// Positions of `want` (labels) in `have`; every label must be present.
Dims positions(const Labels& want, const Labels& have) {
  Dims p;
  for (int l : want) p.push_back(std::find(have.begin(), have.end(), l) - have.begin());
  return p;
}

bool is_identity(const Dims& p) {
  for (std::size_t i = 0; i < p.size(); ++i)
    if (p[i] != static_cast<std::int64_t>(i)) return false;
  return true;
}

Tensor permuted(const Tensor& t, const Dims& p) { return is_identity(p) ? t : permute(t, p); }

// True when permuting t by p gives a row-major contiguous layout (then a reshape of it is free).
bool permutation_is_contiguous(const Tensor& t, const Dims& p) {
  Shape sizes, strides;
  for (std::int64_t d : p) {
    sizes.push_back(t.shape()[d]);
    strides.push_back(t.strides()[d]);
  }
  return detail::is_contiguous_layout(sizes, strides);
}

Labels concat(std::initializer_list<const Labels*> parts) {
  Labels out;
  for (const Labels* p : parts) out.insert(out.end(), p->begin(), p->end());
  return out;
}

std::int64_t product_of(const Labels& ls, const std::vector<std::int64_t>& size) {
  std::int64_t n = 1;
  for (int l : ls) n *= size[l];
  return n;
}

Shape sizes_of(const Labels& ls, const std::vector<std::int64_t>& size) {
  Shape s;
  for (int l : ls) s.push_back(size[l]);
  return s;
}

// t (labels `lab`) as a matrix operand [batch..., rows, cols] of a matmul whose row labels
// are `rows` and column labels `cols`: either the permutation [batch, rows, cols] reshaped,
// or [batch, cols, rows] reshaped and transposed back, whichever is a contiguous layout (so
// that BLAS reads it in place, with the transpose flag in the second case).
Tensor as_matrix(const Tensor& t, const Labels& lab, const Labels& batch, const Labels& rows, const Labels& cols,
                 const std::vector<std::int64_t>& size) {
  Shape bs = sizes_of(batch, size);
  const std::int64_t r = product_of(rows, size), c = product_of(cols, size);
  const Dims straight = positions(concat({&batch, &rows, &cols}), lab);
  const Dims swapped = positions(concat({&batch, &cols, &rows}), lab);
  if (!permutation_is_contiguous(t, straight) && permutation_is_contiguous(t, swapped)) {
    Shape s = bs;
    s.push_back(c);
    s.push_back(r);
    return reshape(permuted(t, swapped), s).transpose(-2, -1);
  }
  bs.push_back(r);
  bs.push_back(c);
  return reshape(permuted(t, straight), bs);
}

// Sums t over the labels of `lab` for which drop(l) holds; updates lab.
template <class Pred>
Tensor sum_labels(const Tensor& t, Labels& lab, Pred drop) {
  Dims dims;
  Labels rest;
  for (std::size_t d = 0; d < lab.size(); ++d) {
    if (drop(lab[d]))
      dims.push_back(static_cast<std::int64_t>(d));
    else
      rest.push_back(lab[d]);
  }
  if (dims.empty()) return t;
  lab = rest;
  return sum(t, dims);
}

// The contraction of two operands with distinct labels each: labels in both and kept are
// batch dims, in both and not kept are summed (the matmul's inner dim), in one only are rows
// (left) or columns (right). Returns the result and its labels [batch, rows, cols].
std::pair<Tensor, Labels> contract(Tensor l, Labels ll, Tensor r, Labels rl, const std::vector<bool>& kept,
                                   const std::vector<std::int64_t>& size) {
  auto has = [](const Labels& v, int x) { return std::find(v.begin(), v.end(), x) != v.end(); };
  // Unshared labels that are not kept cannot remain at this point (they were summed before);
  // kept for safety when the caller's bookkeeping changes.
  l = sum_labels(l, ll, [&](int x) { return !kept[x] && !has(rl, x); });
  r = sum_labels(r, rl, [&](int x) { return !kept[x] && !has(ll, x); });
  Labels batch, inner, rows, cols;
  for (int x : ll) (has(rl, x) ? (kept[x] ? batch : inner) : rows).push_back(x);
  for (int x : rl)
    if (!has(ll, x)) cols.push_back(x);
  const Labels out_labels = concat({&batch, &rows, &cols});
  if (inner.empty()) {
    // Nothing summed: a broadcast multiply ([batch, rows, 1...] * [batch, 1..., cols]).
    Shape ls = sizes_of(concat({&batch, &rows}), size), rs = sizes_of(batch, size);
    ls.insert(ls.end(), cols.size(), 1);
    rs.insert(rs.end(), rows.size(), 1);
    for (int x : cols) rs.push_back(size[x]);
    const Tensor lv = reshape(permuted(l, positions(concat({&batch, &rows}), ll)), ls);
    const Tensor rv = reshape(permuted(r, positions(concat({&batch, &cols}), rl)), rs);
    return {mul(lv, rv), out_labels};
  }
  const Tensor prod = matmul(as_matrix(l, ll, batch, rows, inner, size), as_matrix(r, rl, batch, inner, cols, size));
  return {reshape(prod, sizes_of(out_labels, size)), out_labels};
}

}  // namespace

Tensor einsum(std::string_view equation, const std::vector<Tensor>& operands) {
  XGRAD_PROFILE_OP("einsum");
  Context ctx{equation, {}};
  for (const Tensor& t : operands) {
    detail::check_defined(t, "einsum");
    ctx.shapes.push_back(t.shape());
  }
  if (operands.empty()) ctx.fail("expected at least one operand");

  // ---- parse ----
  std::string eq;
  for (char c : equation)
    if (c != ' ') eq.push_back(c);
  const std::size_t arrow = eq.find("->");
  if (arrow != std::string::npos && eq.find("->", arrow + 2) != std::string::npos) ctx.fail("found \"->\" twice");
  const std::string lhs = eq.substr(0, arrow);
  std::vector<Labels> terms;
  for (std::size_t b = 0;;) {
    const std::size_t e = lhs.find(',', b);
    terms.push_back(parse_term(std::string_view(lhs).substr(b, e == std::string::npos ? std::string::npos : e - b),
                               static_cast<int>(terms.size()), ctx));
    if (e == std::string::npos) break;
    b = e + 1;
  }
  if (terms.size() != operands.size())
    ctx.fail(
        fmt::format("the equation has {} operand terms but {} operands were given", terms.size(), operands.size()));

  // ---- dtypes ----
  const Dtype dt = operands[0].dtype();
  for (const Tensor& t : operands) {
    if (!is_floating(t.dtype())) ctx.fail(fmt::format("expected float32 or float64 operands, got {}", t.dtype()));
    if (t.dtype() != dt) ctx.fail(fmt::format("operands must share one dtype, got {} and {}", dt, t.dtype()));
  }

  // ---- labels: ellipsis dims 0..n_ell-1 (right-aligned across operands), letters after them ----
  std::vector<std::int64_t> ell_dims(operands.size(), 0);
  std::int64_t n_ell = 0;
  for (std::size_t i = 0; i < terms.size(); ++i) {
    const auto letters = static_cast<std::int64_t>(
        std::count_if(terms[i].begin(), terms[i].end(), [](int l) { return l != kEllipsis; }));
    const bool has_ell = letters != static_cast<std::int64_t>(terms[i].size());
    const std::int64_t nd = operands[i].dim();
    if (has_ell ? letters > nd : letters != nd)
      ctx.fail(fmt::format("operand {} has {} dims but its term names {} subscripts{}", i, nd, letters,
                           has_ell ? " besides the ellipsis" : " (and no ellipsis)"));
    ell_dims[i] = nd - letters;
    n_ell = std::max(n_ell, ell_dims[i]);
  }
  const int nlabels = static_cast<int>(n_ell) + kLetters;
  std::vector<Labels> labels(operands.size());
  std::vector<int> count(static_cast<std::size_t>(nlabels), 0);
  for (std::size_t i = 0; i < terms.size(); ++i)
    for (int l : terms[i]) {
      if (l == kEllipsis) {
        for (std::int64_t j = n_ell - ell_dims[i]; j < n_ell; ++j) labels[i].push_back(static_cast<int>(j));
      } else {
        labels[i].push_back(static_cast<int>(n_ell) + l);
        ++count[static_cast<std::size_t>(n_ell + l)];
      }
    }

  Labels out;
  if (arrow == std::string::npos) {
    for (int j = 0; j < n_ell; ++j) out.push_back(j);
    for (int l = 0; l < kLetters; ++l)
      if (count[static_cast<std::size_t>(n_ell + l)] == 1) out.push_back(static_cast<int>(n_ell) + l);
  } else {
    std::vector<bool> seen(static_cast<std::size_t>(nlabels), false);
    for (int l : parse_term(std::string_view(eq).substr(arrow + 2), -1, ctx)) {
      if (l == kEllipsis) {
        for (int j = 0; j < n_ell; ++j) out.push_back(j);
        continue;
      }
      const auto x = static_cast<std::size_t>(n_ell + l);
      if (count[x] == 0)
        ctx.fail(fmt::format("output subscript {} does not appear in any operand's term", letter_of(l)));
      if (seen[x]) ctx.fail(fmt::format("output subscript {} appears more than once in the output", letter_of(l)));
      seen[x] = true;
      out.push_back(static_cast<int>(x));
    }
  }
  auto label_name = [&](int l) {
    return l < n_ell ? fmt::format("ellipsis dim {}", l)
                     : fmt::format("subscript {}", letter_of(l - static_cast<int>(n_ell)));
  };

  // ---- sizes: equal within an operand, broadcast (1 vs n) across operands ----
  std::vector<std::int64_t> size(static_cast<std::size_t>(nlabels), -1);
  for (std::size_t i = 0; i < operands.size(); ++i) {
    std::vector<std::int64_t> mine(static_cast<std::size_t>(nlabels), -1);
    for (std::size_t d = 0; d < labels[i].size(); ++d) {
      const int l = labels[i][d];
      const std::int64_t s = operands[i].shape()[d];
      auto& m = mine[static_cast<std::size_t>(l)];
      if (m >= 0 && m != s)
        ctx.fail(fmt::format("{} is repeated in operand {} over dims of sizes {} and {}", label_name(l), i, m, s));
      m = s;
      auto& g = size[static_cast<std::size_t>(l)];
      if (g < 0 || g == 1)
        g = s;
      else if (s != 1 && s != g)
        ctx.fail(
            fmt::format("{} has size {} in operand {}, which does not broadcast with size {} in an earlier operand",
                        label_name(l), s, i, g));
    }
  }
  for (int l : out)
    if (size[static_cast<std::size_t>(l)] < 0) size[static_cast<std::size_t>(l)] = 1;  // "..." over no dims

  // ---- each operand: diagonals, squeezed broadcast dims ----
  std::vector<Tensor> ts(operands.begin(), operands.end());
  for (std::size_t i = 0; i < ts.size(); ++i) {
    Labels& lab = labels[i];
    for (bool again = true; again;) {
      again = false;
      for (std::size_t p = 0; p < lab.size() && !again; ++p)
        for (std::size_t q = p + 1; q < lab.size() && !again; ++q)
          if (lab[p] == lab[q]) {
            // diagonal() drops dims p and q and appends their diagonal as the last dim.
            ts[i] = diagonal(ts[i], 0, static_cast<std::int64_t>(p), static_cast<std::int64_t>(q));
            const int l = lab[p];
            lab.erase(lab.begin() + static_cast<std::ptrdiff_t>(q));
            lab.erase(lab.begin() + static_cast<std::ptrdiff_t>(p));
            lab.push_back(l);
            again = true;
          }
    }
    for (std::size_t d = lab.size(); d-- > 0;)
      if (ts[i].shape()[d] == 1 && size[static_cast<std::size_t>(lab[d])] != 1) {
        ts[i] = squeeze(ts[i], static_cast<std::int64_t>(d));
        lab.erase(lab.begin() + static_cast<std::ptrdiff_t>(d));
      }
  }

  // ---- which operands still hold each label ----
  std::vector<bool> in_out(static_cast<std::size_t>(nlabels), false);
  for (int l : out) in_out[static_cast<std::size_t>(l)] = true;
  std::vector<int> holders(static_cast<std::size_t>(nlabels), 0);
  for (const Labels& lab : labels)
    for (int l : lab) ++holders[static_cast<std::size_t>(l)];
  // A label held by one operand and absent from the output is summed in that operand first.
  for (std::size_t i = 0; i < ts.size(); ++i)
    ts[i] = sum_labels(ts[i], labels[i], [&](int l) {
      const auto x = static_cast<std::size_t>(l);
      if (in_out[x] || holders[x] != 1) return false;
      holders[x] = 0;
      return true;
    });

  // ---- contract left to right ----
  Tensor acc = ts[0];
  Labels acc_labels = labels[0];
  for (std::size_t i = 1; i < ts.size(); ++i) {
    std::vector<bool> kept = in_out;
    for (std::size_t j = i + 1; j < ts.size(); ++j)
      for (int l : labels[j]) kept[static_cast<std::size_t>(l)] = true;
    std::tie(acc, acc_labels) = contract(acc, acc_labels, ts[i], labels[i], kept, size);
  }
  acc = sum_labels(acc, acc_labels, [&](int l) { return !in_out[static_cast<std::size_t>(l)]; });

  // ---- output order; an output label no operand kept has size 1 (all were broadcast) ----
  Labels present;
  for (int l : out)
    if (std::find(acc_labels.begin(), acc_labels.end(), l) != acc_labels.end()) present.push_back(l);
  acc = permuted(acc, positions(present, acc_labels));
  return reshape(acc, sizes_of(out, size));
}

}  // namespace xgrad
