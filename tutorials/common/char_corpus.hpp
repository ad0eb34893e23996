// Character-level text for tutorial 08: reading the quotes of the Debian package `fortunes`
// (plain-text files, quotes separated by lines holding only "%"), the character vocabulary,
// and training windows.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "xgrad/autograd.hpp"

namespace tutorial {

/// The text as token ids. `chars[i]` is the character of token i.
struct Corpus {
  std::string chars;
  std::array<int, 256> id{};  ///< character -> token (-1: not in the vocabulary)
  std::vector<std::int64_t> train, val;
  std::int64_t quotes = 0, val_quotes = 0;

  std::int64_t vocab() const { return static_cast<std::int64_t>(chars.size()); }
  std::vector<std::int64_t> encode(const std::string& s) const {
    std::vector<std::int64_t> out;
    for (unsigned char c : s)
      if (id[c] >= 0) out.push_back(id[c]);
    return out;
  }
  std::string decode(const std::vector<std::int64_t>& tokens) const {
    std::string s;
    for (std::int64_t t : tokens) s += chars[static_cast<std::size_t>(t)];
    return s;
  }
};

// [excerpt corpus]
// A fortune file is plain text: quotes separated by lines that hold only "%". Cleaning keeps
// printable ASCII, tabs and newlines; it drops the bytes of non-ASCII (UTF-8) characters and
// resolves the "overstriking" some files use for bold or underline ("_\bx" -> "x"). Every 10th
// quote goes to the validation text, the others to the training text; each quote is followed
// by its "%" line, so the model also learns where a quote ends. The vocabulary is the set of
// characters that occur: every character is one token.
inline Corpus load_corpus(const std::string& dir, const std::vector<std::string>& files,
                          std::size_t max_bytes_per_file = static_cast<std::size_t>(-1)) {
  std::string train_text, val_text;
  Corpus c;
  for (const std::string& name : files) {
    const std::string path = dir + "/" + name;
    std::ifstream f(path, std::ios::binary);
    if (!f)
      throw xgrad::Error(
          fmt::format("cannot read '{}': install the quotes with `apt-get install fortunes` or "
                      "pass --data DIR with the fortune text files",
                      path));
    std::string line, quote;
    std::size_t read = 0;
    while (std::getline(f, line) && read < max_bytes_per_file) {
      read += line.size() + 1;
      if (line == "%") {
        if (!quote.empty()) ((c.quotes++ % 10 == 9) ? val_text : train_text) += quote + "%\n";
        quote.clear();
        continue;
      }
      std::string clean;
      for (unsigned char ch : line) {
        if (ch == '\b') {  // overstrike: the character before is printed over, keep the new one
          if (!clean.empty()) clean.pop_back();
        } else if (ch == '\t' || (ch >= 32 && ch < 127)) {
          clean += static_cast<char>(ch);
        }
      }
      quote += clean + "\n";
    }
  }
  c.val_quotes = c.quotes / 10;
  std::array<bool, 256> seen{};
  for (unsigned char ch : train_text + val_text) seen[ch] = true;
  c.id.fill(-1);
  for (int ch = 0; ch < 256; ++ch)
    if (seen[static_cast<std::size_t>(ch)]) {
      c.id[static_cast<std::size_t>(ch)] = static_cast<int>(c.chars.size());
      c.chars += static_cast<char>(ch);
    }
  c.train = c.encode(train_text);
  c.val = c.encode(val_text);
  return c;
}
// [end excerpt]

/// input = text[s, s + T), target = text[s + 1, s + T + 1) for each start s: [B, T] int64 each.
/// The target is the input shifted by one: at every position the model predicts the next
/// character.
inline std::pair<xgrad::Tensor, xgrad::Tensor> windows(const std::vector<std::int64_t>& text,
                                                       const std::vector<std::int64_t>& starts, std::int64_t T) {
  std::vector<std::int64_t> in, out;
  for (std::int64_t s : starts) {
    in.insert(in.end(), text.begin() + s, text.begin() + s + T);
    out.insert(out.end(), text.begin() + s + 1, text.begin() + s + T + 1);
  }
  const auto B = static_cast<std::int64_t>(starts.size());
  return {xgrad::from_vector(in, {B, T}), xgrad::from_vector(out, {B, T})};
}

}  // namespace tutorial
