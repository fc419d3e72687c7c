// Copyright limiterd authors.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

namespace limiterd::internal {

// Concatenates into one allocation. (Also sidesteps GCC 12's -Wrestrict
// false positive on chains of std::string operator+ at -O3.)
inline std::string Concat(std::initializer_list<std::string_view> parts) {
  size_t size = 0;
  for (std::string_view p : parts) size += p.size();
  std::string out;
  out.reserve(size);
  for (std::string_view p : parts) out.append(p);
  return out;
}

}  // namespace limiterd::internal
