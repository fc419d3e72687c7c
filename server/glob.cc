// Copyright limiterd authors.
#include "glob.h"

#include <cctype>

namespace limiterd::server {
namespace {

char Fold(char c, bool nocase) {
  return nocase ? static_cast<char>(std::tolower(static_cast<unsigned char>(c))) : c;
}

// Matches a `[...]` class at pattern[p] (p is just past '['). Advances p to
// the closing ']' (or the pattern's end, as Redis treats an unclosed class).
bool MatchClass(std::string_view pattern, size_t& p, char c, bool nocase) {
  bool negate = false;
  if (p < pattern.size() && pattern[p] == '^') {
    negate = true;
    ++p;
  }
  bool match = false;
  for (; p < pattern.size() && pattern[p] != ']'; ++p) {
    if (pattern[p] == '\\' && p + 1 < pattern.size()) {
      ++p;
      if (Fold(pattern[p], nocase) == Fold(c, nocase)) match = true;
    } else if (p + 2 < pattern.size() && pattern[p + 1] == '-') {
      char lo = Fold(pattern[p], nocase), hi = Fold(pattern[p + 2], nocase);
      if (lo > hi) std::swap(lo, hi);
      char x = Fold(c, nocase);
      if (x >= lo && x <= hi) match = true;
      p += 2;
    } else if (Fold(pattern[p], nocase) == Fold(c, nocase)) {
      match = true;
    }
  }
  if (p >= pattern.size()) p = pattern.size() - 1;  // unclosed: stop at the end
  return negate ? !match : match;
}

// Iterative matcher with single-star backtracking, which gives the same
// answers as the recursive stringmatchlen without its exponential cases.
bool Match(std::string_view pattern, std::string_view text, bool nocase) {
  size_t p = 0, t = 0;
  size_t star_p = std::string_view::npos, star_t = 0;
  while (t < text.size()) {
    if (p < pattern.size()) {
      char pc = pattern[p];
      if (pc == '*') {
        while (p < pattern.size() && pattern[p] == '*') ++p;
        if (p == pattern.size()) return true;
        star_p = p;
        star_t = t;
        continue;
      }
      if (pc == '?') {
        ++p;
        ++t;
        continue;
      }
      if (pc == '[') {
        size_t q = p + 1;
        if (q < pattern.size() && MatchClass(pattern, q, text[t], nocase)) {
          p = q + 1;
          ++t;
          continue;
        }
      } else {
        if (pc == '\\' && p + 1 < pattern.size()) ++p;
        if (Fold(pattern[p], nocase) == Fold(text[t], nocase)) {
          ++p;
          ++t;
          continue;
        }
      }
    }
    // Mismatch: let the last star absorb one more character.
    if (star_p == std::string_view::npos) return false;
    p = star_p;
    t = ++star_t;
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

}  // namespace

bool GlobMatch(std::string_view pattern, std::string_view text, bool nocase) {
  return Match(pattern, text, nocase);
}

}  // namespace limiterd::server
