// Copyright limiterd authors.
#include "resp/int_format.h"

#include <catch2/catch.hpp>

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace limiterd::resp {
namespace {

template <typename Int>
std::string Formatted(Int v) {
  char buf[kMaxDecimalLen + 8];
  std::memset(buf, '#', sizeof buf);
  char* end = FormatDecimal(v, buf);
  REQUIRE(end - buf <= static_cast<std::ptrdiff_t>(kMaxDecimalLen));
  // Scratch bytes may follow the digits, but never past the room promised.
  for (size_t i = kMaxDecimalLen; i < sizeof buf; ++i) REQUIRE(buf[i] == '#');
  return std::string(buf, end);
}

template <typename Int>
std::string Expected(Int v) {
  char buf[32];
  return std::string(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
}

TEST_CASE("FormatDecimal: the extremes and zero") {
  CHECK(Formatted(int64_t{0}) == "0");
  CHECK(Formatted(uint64_t{0}) == "0");
  CHECK(Formatted(int64_t{-1}) == "-1");
  CHECK(Formatted(std::numeric_limits<int64_t>::max()) == "9223372036854775807");
  CHECK(Formatted(std::numeric_limits<int64_t>::min()) == "-9223372036854775808");
  CHECK(Formatted(std::numeric_limits<uint64_t>::max()) == "18446744073709551615");
  CHECK(Formatted(int64_t{-42}) == "-42");
  CHECK(Formatted(int64_t{1000000000000000}) == "1000000000000000");
}

TEST_CASE("FormatDecimal: both sides of every power of ten") {
  std::vector<uint64_t> values;
  for (uint64_t p = 1;; p *= 10) {
    values.push_back(p - 1);
    values.push_back(p);
    values.push_back(p + 1);
    if (p > std::numeric_limits<uint64_t>::max() / 10) break;
  }
  values.push_back(std::numeric_limits<uint64_t>::max() - 1);
  for (uint64_t v : values) {
    INFO(v);
    CHECK(Formatted(v) == Expected(v));
    if (v <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      const auto s = static_cast<int64_t>(v);
      CHECK(Formatted(s) == Expected(s));
      CHECK(Formatted(-s) == Expected(-s));
    }
  }
  // 19 and 20 digits, the lengths only the largest values reach.
  CHECK(Formatted(uint64_t{9999999999999999999u}) == "9999999999999999999");
  CHECK(Formatted(uint64_t{10000000000000000000u}) == "10000000000000000000");
}

TEST_CASE("FormatDecimal: random values of every length agree with std::to_chars") {
  std::mt19937_64 rng(20261123);
  for (int i = 0; i < 200000; ++i) {
    const uint64_t raw = rng();
    const uint64_t v = raw >> (raw % 64);  // every magnitude, not just 20 digits
    INFO(v);
    REQUIRE(Formatted(v) == Expected(v));
    const auto s = static_cast<int64_t>(v);
    REQUIRE(Formatted(s) == Expected(s));
  }
}

TEST_CASE("WriteEightDigits: eight zero-padded digits across the whole range") {
  // Each lane's division by multiplication must hold over the lane's whole
  // range: every value next to a multiple of 10^4 (where a 4-digit half
  // wraps) is checked, a stride over the rest, and the top of the range
  // (all 10^8 values were checked once, off-line).
  std::vector<uint32_t> values;
  for (uint32_t base = 0; base < 100000000; base += 10000) {
    for (uint32_t d = 0; d < 3; ++d) {
      values.push_back(base + d);
      values.push_back(base + 9999 - d);
    }
  }
  for (uint32_t v = 0; v < 100000000; v += 997) values.push_back(v);
  for (uint32_t v = 99990000; v < 100000000; ++v) values.push_back(v);
  char buf[8];
  char ref[16];
  for (uint32_t v : values) {
    internal::WriteEightDigits(v, buf);
    std::snprintf(ref, sizeof ref, "%08u", v);
    INFO(v);
    REQUIRE(std::string(buf, 8) == std::string(ref, 8));
  }
}

}  // namespace
}  // namespace limiterd::resp
