// Copyright limiterd authors.
// Encodings as redis-server 7.2 writes them (networking.c addReply*), with
// doubles formatted as its d2string() does.
#include "resp/reply_writer.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

#include "resp/int_format.h"

namespace limiterd::resp {
namespace {

// Room for a type byte, an int64 and "\r\n".
constexpr size_t kHeaderMax = 1 + kMaxDecimalLen + 2;
constexpr std::string_view kNull2 = "$-1\r\n";
constexpr std::string_view kNull3 = "_\r\n";
// Room for any double d2string() writes ("-1.2345678901234567e-308").
constexpr size_t kDoubleMax = 32;

// Writes "<type><n>\r\n" into buf; returns its length.
template <typename Int>
size_t FormatHeader(char* buf, char type, Int n) {
  buf[0] = type;
  char* end = FormatDecimal(n, buf + 1);
  end[0] = '\r';
  end[1] = '\n';
  return static_cast<size_t>(end + 2 - buf);
}

// fpconv_dtoa's layout of the shortest digits d1d2...dn times 10^k:
// plain when short enough, else d1.d2...dne[+-]x.
size_t LayOutDigits(const char* digits, int ndigits, int k, char* dest) {
  const int exp = std::abs(k + ndigits - 1);
  if (k >= 0 && exp < ndigits + 7) {
    std::memcpy(dest, digits, static_cast<size_t>(ndigits));
    std::memset(dest + ndigits, '0', static_cast<size_t>(k));
    return static_cast<size_t>(ndigits + k);
  }
  if (k < 0 && (k > -7 || exp < 4)) {
    int int_digits = ndigits + k;
    if (int_digits <= 0) {  // below 1: "0.000ddd"
      dest[0] = '0';
      dest[1] = '.';
      std::memset(dest + 2, '0', static_cast<size_t>(-int_digits));
      std::memcpy(dest + 2 - int_digits, digits, static_cast<size_t>(ndigits));
      return static_cast<size_t>(ndigits + 2 - int_digits);
    }
    std::memcpy(dest, digits, static_cast<size_t>(int_digits));
    dest[int_digits] = '.';
    std::memcpy(dest + int_digits + 1, digits + int_digits, static_cast<size_t>(ndigits - int_digits));
    return static_cast<size_t>(ndigits + 1);
  }
  size_t len = 0;
  dest[len++] = digits[0];
  if (ndigits > 1) {
    dest[len++] = '.';
    std::memcpy(dest + len, digits + 1, static_cast<size_t>(ndigits - 1));
    len += static_cast<size_t>(ndigits - 1);
  }
  dest[len++] = 'e';
  dest[len++] = k + ndigits - 1 < 0 ? '-' : '+';
  len = static_cast<size_t>(std::to_chars(dest + len, dest + kDoubleMax, exp).ptr - dest);
  return len;
}

// Redis's d2string(): nan, inf, -inf, 0, -0, integers up to 2^62 as
// integers, anything else as the shortest round-trip digits laid out as
// fpconv_dtoa does. (fpconv uses Grisu2, which in rare cases picks a
// longer digit string than the shortest one std::to_chars finds.)
size_t FormatDouble(double d, char* buf) {
  if (std::isnan(d)) {
    std::memcpy(buf, "nan", 3);
    return 3;
  }
  if (std::isinf(d)) {
    if (d < 0) {
      std::memcpy(buf, "-inf", 4);
      return 4;
    }
    std::memcpy(buf, "inf", 3);
    return 3;
  }
  if (d == 0) {
    if (std::signbit(d)) {
      std::memcpy(buf, "-0", 2);
      return 2;
    }
    buf[0] = '0';
    return 1;
  }
  constexpr double kIntegerBound = static_cast<double>(std::numeric_limits<int64_t>::max() / 2);
  if (d >= -kIntegerBound && d <= kIntegerBound) {
    auto as_integer = static_cast<int64_t>(d);
    if (static_cast<double>(as_integer) == d) {
      return static_cast<size_t>(std::to_chars(buf, buf + kDoubleMax, as_integer).ptr - buf);
    }
  }
  // Shortest digits in scientific form: "-d.ddde-xx".
  char sci[kDoubleMax];
  char* sci_end = std::to_chars(sci, sci + sizeof(sci), d, std::chars_format::scientific).ptr;
  const char* p = sci;
  size_t len = 0;
  if (*p == '-') {
    buf[len++] = '-';
    ++p;
  }
  char digits[20];
  int ndigits = 0;
  for (; *p != 'e'; ++p) {
    if (*p != '.') digits[ndigits++] = *p;
  }
  ++p;  // 'e'
  int exponent = 0;
  if (*p == '+') ++p;  // from_chars takes '-' but not '+'
  std::from_chars(p, sci_end, exponent);
  return len + LayOutDigits(digits, ndigits, exponent - ndigits + 1, buf + len);
}

}  // namespace

void ReplyWriter::Simple(std::string_view s) {
  out_->push_back('+');
  out_->append(s);
  out_->append("\r\n", 2);
}

void ReplyWriter::Error(std::string_view s) {
  out_->push_back('-');
  const size_t start = out_->size();
  out_->append(s);
  // A CR or LF inside would end the reply early and desynchronize the client.
  for (size_t i = start; i < out_->size(); ++i) {
    char& c = (*out_)[i];
    if (c == '\r' || c == '\n') c = ' ';
  }
  out_->append("\r\n", 2);
}

void ReplyWriter::Integer(int64_t n) {
  char buf[kHeaderMax];
  out_->append(buf, FormatHeader(buf, ':', n));
}

void ReplyWriter::Bulk(std::string_view s) {
  char buf[kHeaderMax];
  const size_t header = FormatHeader(buf, '$', s.size());
  const size_t old = out_->size();
  out_->resize(old + header + s.size() + 2);
  char* p = out_->data() + old;
  std::memcpy(p, buf, header);
  if (!s.empty()) std::memcpy(p + header, s.data(), s.size());
  p[header + s.size()] = '\r';
  p[header + s.size() + 1] = '\n';
}

void ReplyWriter::Null() { out_->append(protocol_ >= 3 ? kNull3 : kNull2); }

void ReplyWriter::NullArray() { out_->append(protocol_ >= 3 ? "_\r\n" : "*-1\r\n"); }

void ReplyWriter::Array(size_t n) {
  char buf[kHeaderMax];
  out_->append(buf, FormatHeader(buf, '*', n));
}

void ReplyWriter::Map(size_t pairs) {
  char buf[kHeaderMax];
  out_->append(buf, protocol_ >= 3 ? FormatHeader(buf, '%', pairs) : FormatHeader(buf, '*', pairs * 2));
}

void ReplyWriter::Set(size_t n) {
  char buf[kHeaderMax];
  out_->append(buf, FormatHeader(buf, protocol_ >= 3 ? '~' : '*', n));
}

void ReplyWriter::Push(size_t n) {
  char buf[kHeaderMax];
  out_->append(buf, FormatHeader(buf, protocol_ >= 3 ? '>' : '*', n));
}

void ReplyWriter::Bool(bool b) {
  if (protocol_ >= 3) {
    out_->append(b ? "#t\r\n" : "#f\r\n", 4);
  } else {
    out_->append(b ? ":1\r\n" : ":0\r\n", 4);
  }
}

void ReplyWriter::Double(double d) {
  char number[kDoubleMax];
  const size_t len = FormatDouble(d, number);
  if (protocol_ >= 3) {
    out_->push_back(',');
    out_->append(number, len);
    out_->append("\r\n", 2);
  } else {
    Bulk(std::string_view(number, len));
  }
}

void ReplyWriter::Verbatim(std::string_view s, std::string_view format) {
  if (protocol_ < 3) {
    Bulk(s);
    return;
  }
  // "=<len>\r\nfmt:<s>\r\n"; the format is exactly three bytes, padded with
  // spaces or cut as Redis's addReplyVerbatim does.
  char buf[kHeaderMax];
  out_->append(buf, FormatHeader(buf, '=', s.size() + 4));
  for (size_t i = 0; i < 3; ++i) out_->push_back(i < format.size() ? format[i] : ' ');
  out_->push_back(':');
  out_->append(s);
  out_->append("\r\n", 2);
}

void ReplyWriter::Raw(std::string_view bytes) { out_->append(bytes); }

ReplyWriter::Parts::Parts(ReplyWriter& writer) : writer_(writer) {}

ReplyWriter::Parts::~Parts() { AppendStaged(); }

void ReplyWriter::Parts::AppendStaged() {
  writer_.out_->append(buf_, len_);
  len_ = 0;
}

char* ReplyWriter::Parts::Room(size_t n) {
  if (kCapacity - len_ < n) AppendStaged();
  return buf_ + len_;
}

void ReplyWriter::Parts::Array(size_t n) { len_ += FormatHeader(Room(kHeaderMax), '*', n); }

void ReplyWriter::Parts::Integer(int64_t n) { len_ += FormatHeader(Room(kHeaderMax), ':', n); }

void ReplyWriter::Parts::Null() {
  const std::string_view null = writer_.protocol_ >= 3 ? kNull3 : kNull2;
  std::memcpy(Room(null.size()), null.data(), null.size());
  len_ += null.size();
}

void ReplyWriter::Parts::Bulk(std::string_view s) {
  if (s.size() > kCapacity - kHeaderMax - 2) {
    AppendStaged();
    writer_.Bulk(s);
    return;
  }
  char* p = Room(kHeaderMax + s.size() + 2);
  const size_t header = FormatHeader(p, '$', s.size());
  if (!s.empty()) std::memcpy(p + header, s.data(), s.size());
  p[header + s.size()] = '\r';
  p[header + s.size() + 1] = '\n';
  len_ += header + s.size() + 2;
}

}  // namespace limiterd::resp
