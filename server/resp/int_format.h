// Copyright limiterd authors.
// Decimal formatting of integers for RESP headers and integer replies: the
// digits std::to_chars writes, eight at a time in one 64-bit word, into a
// caller's buffer. Every reply has several of these (a CREDITS.CONSUME
// reply: an array header, five integers, a bulk header; in compare.sh's
// workload two of the integers have 15-16 digits), and they were the
// largest server-side cost per command (callgrind: ~690 instructions per
// CONSUME reply with std::to_chars and an append per number, ~570 with
// two digits at a time from a table).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace limiterd::resp {

// The longest output: "-9223372036854775808" and "18446744073709551615".
inline constexpr size_t kMaxDecimalLen = 20;

namespace internal {

// The eight decimal digits of v < 10^8 as eight bytes (values 0-9), the
// most significant first in memory (little-endian), computed in parallel
// lanes of one 64-bit word (SWAR): split into two 4-digit halves (32-bit
// lanes), each into two pairs (16-bit lanes), each pair into two digits
// (bytes). Each division is a multiplication and a shift, exact over its
// lane's range: n/100 = n*10486 >> 20 for n < 10^4, p/10 = p*103 >> 10 for
// p < 100 (checked for all 10^8 values once; the test checks a stride and
// every boundary).
inline uint64_t EightDigitValues(uint32_t v) {
  static_assert(std::endian::native == std::endian::little, "the byte order of the digits");
  const uint64_t halves = (v / 10000) | (uint64_t{v % 10000} << 32);
  const uint64_t hundreds = ((halves * 10486) >> 20) & 0x0000007F0000007Full;
  const uint64_t pairs = hundreds | ((halves - 100 * hundreds) << 16);
  const uint64_t tens = ((pairs * 103) >> 10) & 0x000F000F000F000Full;
  return tens | ((pairs - 10 * tens) << 8);
}

inline constexpr uint64_t kAsciiZeros = 0x3030303030303030ull;

// Writes v < 10^8 as exactly eight digits (zero-padded) at p.
inline char* WriteEightDigits(uint32_t v, char* p) {
  const uint64_t ascii = EightDigitValues(v) + kAsciiZeros;
  std::memcpy(p, &ascii, 8);
  return p + 8;
}

// Writes 0 < v < 10^8 without leading zeros at p. Stores eight bytes: the
// ones after the digits are scratch.
inline char* WriteLeadingDigits(uint32_t v, char* p) {
  const uint64_t values = EightDigitValues(v);
  const int zeros = __builtin_ctzll(values) / 8;  // leading zero digits (values != 0)
  const uint64_t ascii = (values + kAsciiZeros) >> (8 * zeros);
  std::memcpy(p, &ascii, 8);
  return p + 8 - zeros;
}

}  // namespace internal

// Writes v in decimal at `out`; returns the end of the digits. May store
// scratch bytes after the end, never past out + kMaxDecimalLen: the caller
// gives room for kMaxDecimalLen bytes and writes what follows the number
// over them.
inline char* FormatDecimal(uint64_t v, char* out) {
  constexpr uint64_t k8 = 100000000;
  if (v < 10) {
    *out = static_cast<char>('0' + v);
    return out + 1;
  }
  if (v < 100) {
    out[0] = static_cast<char>('0' + v / 10);
    out[1] = static_cast<char>('0' + v % 10);
    return out + 2;
  }
  if (v < k8) return internal::WriteLeadingDigits(static_cast<uint32_t>(v), out);
  if (v < k8 * k8) {
    char* p = internal::WriteLeadingDigits(static_cast<uint32_t>(v / k8), out);
    return internal::WriteEightDigits(static_cast<uint32_t>(v % k8), p);
  }
  const uint64_t low16 = v % (k8 * k8);
  char* p = internal::WriteLeadingDigits(static_cast<uint32_t>(v / (k8 * k8)), out);
  p = internal::WriteEightDigits(static_cast<uint32_t>(low16 / k8), p);
  return internal::WriteEightDigits(static_cast<uint32_t>(low16 % k8), p);
}

inline char* FormatDecimal(int64_t v, char* out) {
  if (v >= 0) return FormatDecimal(static_cast<uint64_t>(v), out);
  *out = '-';
  // 0 - v in unsigned arithmetic: defined for INT64_MIN too.
  return FormatDecimal(0 - static_cast<uint64_t>(v), out + 1);
}

}  // namespace limiterd::resp
