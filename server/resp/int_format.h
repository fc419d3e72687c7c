// Copyright limiterd authors.
// Decimal formatting of integers for RESP headers and integer replies: the
// digits std::to_chars writes, two at a time from a table, into a caller's
// buffer. Every reply has several of these (a CREDITS.CONSUME reply: an
// array header, five integers, a bulk header), and std::to_chars plus a
// std::string append per number was the largest server-side cost per
// command (callgrind: ~690 instructions per CONSUME reply).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace limiterd::resp {

// The longest output: "-9223372036854775808" and "18446744073709551615".
inline constexpr size_t kMaxDecimalLen = 20;

namespace internal {

inline constexpr char kDigitPairs[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

inline constexpr uint64_t kPowersOf10[20] = {
    1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull, 10000000ull,
    100000000ull, 1000000000ull, 10000000000ull, 100000000000ull, 1000000000000ull,
    10000000000000ull, 100000000000000ull, 1000000000000000ull, 10000000000000000ull,
    100000000000000000ull, 1000000000000000000ull, 10000000000000000000ull};

// Without a loop: log2 gives log10 to within one (1233 / 4096 ~ log10(2)),
// and one comparison settles it.
inline int DecimalDigits(uint64_t v) {
  if (v < 10) return 1;
  const int bits = 64 - __builtin_clzll(v);
  const int t = (bits * 1233) >> 12;
  return t + (v >= kPowersOf10[t] ? 1 : 0);
}

// Writes the digits of v < 100 000 000 backwards, ending at `end`, padded
// with zeros to exactly eight: 32-bit arithmetic, cheaper than 64-bit.
inline void WriteEightDigits(uint32_t v, char* end) {
  for (int i = 0; i < 4; ++i) {
    end -= 2;
    std::memcpy(end, kDigitPairs + (v % 100) * 2, 2);
    v /= 100;
  }
}

}  // namespace internal

// Writes v in decimal at `out` (room for kMaxDecimalLen bytes); returns the
// end of what it wrote.
inline char* FormatDecimal(uint64_t v, char* out) {
  char* const end = out + internal::DecimalDigits(v);
  char* p = end;
  while (v >= 100000000) {
    internal::WriteEightDigits(static_cast<uint32_t>(v % 100000000), p);
    v /= 100000000;
    p -= 8;
  }
  auto w = static_cast<uint32_t>(v);
  while (w >= 100) {
    p -= 2;
    std::memcpy(p, internal::kDigitPairs + (w % 100) * 2, 2);
    w /= 100;
  }
  if (w >= 10) {
    std::memcpy(p - 2, internal::kDigitPairs + w * 2, 2);
  } else {
    p[-1] = static_cast<char>('0' + w);
  }
  return end;
}

inline char* FormatDecimal(int64_t v, char* out) {
  if (v >= 0) return FormatDecimal(static_cast<uint64_t>(v), out);
  *out = '-';
  // 0 - v in unsigned arithmetic: defined for INT64_MIN too.
  return FormatDecimal(0 - static_cast<uint64_t>(v), out + 1);
}

}  // namespace limiterd::resp
