// Copyright limiterd authors.
// The request grammar and error texts follow redis-server 7.2's
// processInputBuffer / processMultibulkBuffer / processInlineBuffer and
// sdssplitargs; the comments name the Redis rule each branch reproduces.
#include "resp/request_parser.h"

#include <algorithm>
#include <cassert>
#include <climits>
#include <cstring>

namespace limiterd::resp {
namespace {

constexpr size_t kNotFound = std::string_view::npos;

// Redis's string2ll: optional '-', no '+', no leading zeros ("0" alone is
// fine, "-0" is not), fewer than 21 bytes, within int64.
bool ParseRedisInteger(std::string_view s, int64_t* out) {
  if (s.empty() || s.size() >= 21) return false;
  if (s.size() == 1 && s[0] == '0') {
    *out = 0;
    return true;
  }
  size_t i = 0;
  bool negative = false;
  if (s[0] == '-') {
    negative = true;
    if (++i == s.size()) return false;
  }
  if (s[i] < '1' || s[i] > '9') return false;
  uint64_t v = 0;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c < '0' || c > '9') return false;
    uint64_t digit = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - digit) / 10) return false;  // checked before the multiply
    v = v * 10 + digit;
  }
  if (negative) {
    if (v > static_cast<uint64_t>(INT64_MAX) + 1) return false;
    *out = static_cast<int64_t>(0 - v);  // two's complement: covers INT64_MIN
  } else {
    if (v > static_cast<uint64_t>(INT64_MAX)) return false;
    *out = static_cast<int64_t>(v);
  }
  return true;
}

// The usual header after its '*' or '$': 1 to 18 digits, no sign, no
// leading zero, then '\r' and one more byte in `buf`. Returns the offset
// of the '\r' and the value, or kNotFound for anything else (longer,
// signed, malformed or incomplete), which then takes the general path
// (FindHeaderEnd and ParseRedisInteger). For what it accepts, both give
// the same '\r' and value; this one scans the bytes once. Only for a line
// not searched yet (scan_ <= pos_): the general path never reads again what
// it searched.
size_t ParsePlainHeader(std::string_view buf, size_t start, int64_t* out) {
  const char* const begin = buf.data() + start;
  const char* const end = buf.data() + buf.size();
  const char* p = begin;
  if (p == end) return kNotFound;
  int64_t v = 0;
  if (*p == '0') {
    ++p;  // "0" alone; "01" is not plain
  } else {
    while (p != end && static_cast<unsigned char>(*p - '0') < 10 && p - begin < 18) {
      v = v * 10 + (*p - '0');
      ++p;
    }
    if (p == begin) return kNotFound;  // no digit
  }
  if (end - p < 2 || *p != '\r') return kNotFound;
  *out = v;
  return static_cast<size_t>(p - buf.data());
}

// Walks `count` bulks from `pos`, each "$<len>\r\n<bytes>\r\n" with a plain
// header, whole in `buf` and at most `max_len` long, calling arg(i, view)
// for each; returns where the last one ends, or kNotFound at the first
// that is not so (the calls made until then stand). The two bytes after
// each bulk's data are not checked, as Redis does not. PeekCommand and the
// parser's whole-command path both walk with it.
template <class Arg>
size_t WalkPlainBulks(std::string_view buf, size_t pos, int64_t count, uint64_t max_len,
                      Arg&& arg) {
  for (int64_t i = 0; i < count; ++i) {
    int64_t len = 0;
    size_t cr = kNotFound;
    if (pos < buf.size() && buf[pos] == '$') cr = ParsePlainHeader(buf, pos + 1, &len);
    if (cr == kNotFound || static_cast<uint64_t>(len) > max_len ||
        buf.size() - (cr + 2) < static_cast<uint64_t>(len) + 2) {
      return kNotFound;
    }
    pos = cr + 2;
    arg(i, buf.substr(pos, static_cast<size_t>(len)));
    pos += static_cast<size_t>(len) + 2;
  }
  return pos;
}

// isspace() in the C locale, which sdssplitargs uses to skip blanks and to
// accept what follows a closing quote.
bool IsBlank(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

// What ends an unquoted sdssplitargs token (note: not '\v' nor '\f').
bool EndsToken(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

bool IsHexDigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

char UnescapeDoubleQuoted(char c) {
  switch (c) {
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case 'b': return '\b';
    case 'a': return '\a';
    default: return c;  // \\ \" and any other: the character itself
  }
}

// Appends the quoted part of a token, line[i] being the opening quote, to
// `out`. Returns the index after the closing quote, or kNotFound for
// unbalanced quotes or a closing quote followed by something other than a
// blank.
size_t AppendQuoted(std::string_view line, size_t i, std::string* out) {
  const char quote = line[i++];
  const size_t n = line.size();
  while (i < n) {
    char c = line[i];
    if (quote == '"' && c == '\\' && i + 3 < n && line[i + 1] == 'x' && IsHexDigit(line[i + 2]) &&
        IsHexDigit(line[i + 3])) {
      out->push_back(static_cast<char>(HexValue(line[i + 2]) * 16 + HexValue(line[i + 3])));
      i += 4;
    } else if (quote == '"' && c == '\\' && i + 1 < n) {
      out->push_back(UnescapeDoubleQuoted(line[i + 1]));
      i += 2;
    } else if (quote == '\'' && c == '\\' && i + 1 < n && line[i + 1] == '\'') {
      out->push_back('\'');
      i += 2;
    } else if (c == quote) {
      if (i + 1 < n && !IsBlank(line[i + 1])) return kNotFound;
      return i + 1;
    } else {
      out->push_back(c);
      ++i;
    }
  }
  return kNotFound;  // the line ended inside the quotes
}

}  // namespace

ParseStatus RequestParser::Parse(std::string_view buf) {
  consumed_ = 0;
  args_.clear();
  if (failed_) return ParseStatus::kError;
  assert(buf.size() >= pos_ && buf.size() >= scan_ && "the caller dropped unconsumed bytes");
  if (buf.empty()) return ParseStatus::kNeedMore;

  if (stage_ == Stage::kStart) {
    // processInputBuffer: the first byte alone decides the request type.
    stage_ = buf[0] == '*' ? Stage::kCount : Stage::kInline;
    pos_ = scan_ = 0;
  }
  switch (stage_) {
    case Stage::kInline:
      return ParseInline(buf);
    case Stage::kCount: {
      ParseStatus status = ParseCount(buf);
      if (stage_ != Stage::kBulkHeader) return status;  // done, failed or incomplete
      if (ParseWholeCommand(buf)) return Complete(pos_);
      [[fallthrough]];
    }
    case Stage::kBulkHeader:
    case Stage::kBulkData:
      return ParseBulks(buf);
    case Stage::kStart:
      break;
  }
  return ParseStatus::kNeedMore;  // unreachable
}

ParseStatus RequestParser::ParseInline(std::string_view buf) {
  const void* found = std::memchr(buf.data() + scan_, '\n', buf.size() - scan_);
  if (found == nullptr) {
    scan_ = buf.size();
    // Redis bounds the bytes waiting for '\n', not the line once complete.
    if (buf.size() > limits_.max_inline_len) return Fail("Protocol error: too big inline request");
    return ParseStatus::kNeedMore;
  }
  const size_t newline = static_cast<const char*>(found) - buf.data();
  size_t line_len = newline;
  if (line_len > 0 && buf[line_len - 1] == '\r') --line_len;  // "\r\n" or a bare "\n"
  if (!SplitInline(buf.substr(0, line_len))) {
    return Fail("Protocol error: unbalanced quotes in request");
  }
  return Complete(newline + 1);
}

bool RequestParser::SplitInline(std::string_view line) {
  unescaped_.clear();
  unescaped_args_.clear();
  const size_t n = line.size();
  size_t i = 0;
  for (;;) {
    while (i < n && IsBlank(line[i])) ++i;
    if (i == n) break;
    const size_t start = i;
    while (i < n && !EndsToken(line[i]) && line[i] != '"' && line[i] != '\'') ++i;
    if (i == n || EndsToken(line[i])) {
      args_.push_back(line.substr(start, i - start));  // plain token: a view of buf
      continue;
    }
    // A quote, possibly mid-token (a"b c" is "ab c"), ends the token.
    if (unescaped_args_.empty()) unescaped_.reserve(line.size() - start);  // never lengthens
    const size_t out_start = unescaped_.size();
    unescaped_.append(line.substr(start, i - start));
    i = AppendQuoted(line, i, &unescaped_);
    if (i == kNotFound) return false;
    unescaped_args_.emplace_back(args_.size(), out_start);
    args_.emplace_back();  // pointed at unescaped_ once it stops growing
  }
  // Unescaped tokens lie back to back in unescaped_: each ends where the
  // next one starts.
  for (size_t k = 0; k < unescaped_args_.size(); ++k) {
    const auto [index, offset] = unescaped_args_[k];
    const size_t end = k + 1 < unescaped_args_.size() ? unescaped_args_[k + 1].second : unescaped_.size();
    args_[index] = std::string_view(unescaped_).substr(offset, end - offset);
  }
  return true;
}

size_t RequestParser::FindHeaderEnd(std::string_view buf) {
  const size_t from = scan_ > pos_ ? scan_ : pos_;
  const void* found = std::memchr(buf.data() + from, '\r', buf.size() - from);
  if (found == nullptr) {
    scan_ = buf.size();
    return kNotFound;
  }
  const size_t cr = static_cast<const char*>(found) - buf.data();
  scan_ = cr;
  // Redis wants one more byte after the '\r' and never looks at it.
  if (cr + 1 >= buf.size()) return kNotFound;
  return cr;
}

bool PeekCommand(std::string_view buf, PeekedCommand* out) {
  int64_t count = 0;
  if (buf.empty() || buf[0] != '*') return false;
  size_t cr = ParsePlainHeader(buf, 1, &count);
  if (cr == kNotFound || count < 1 || static_cast<uint64_t>(count) > kMaxPeekArgs) return false;
  out->first_arg = {};
  const size_t end = WalkPlainBulks(buf, cr + 2, count, UINT64_MAX,
                                    [&](int64_t i, std::string_view arg) {
                                      if (i == 0) out->name = arg;
                                      if (i == 1) out->first_arg = arg;
                                    });
  if (end == kNotFound) return false;
  out->size = end;
  return true;
}

ParseStatus RequestParser::ParseCount(std::string_view buf) {
  int64_t count = 0;
  // Only a line not searched yet: a resumed one goes on from scan_.
  size_t cr = scan_ <= pos_ ? ParsePlainHeader(buf, 1, &count) : kNotFound;
  if (cr == kNotFound) {
    cr = FindHeaderEnd(buf);
    if (cr == kNotFound) {
      if (buf.size() - pos_ > limits_.max_inline_len && scan_ == buf.size()) {
        return Fail("Protocol error: too big mbulk count string");
      }
      return ParseStatus::kNeedMore;
    }
    if (!ParseRedisInteger(buf.substr(1, cr - 1), &count)) {
      return Fail("Protocol error: invalid multibulk length");
    }
  }
  if (count > INT_MAX ||
      (count > 0 && static_cast<uint64_t>(count) > limits_.max_multibulk_len)) {
    return Fail("Protocol error: invalid multibulk length");
  }
  if (!authenticated_ && count > 0 &&
      static_cast<uint64_t>(count) > limits_.unauthenticated_max_args) {
    return Fail("Protocol error: unauthenticated multibulk length");
  }
  if (count <= 0) return Complete(cr + 2);  // "*0", "*-1": nothing to run
  multibulk_remaining_ = count;
  arg_offsets_.clear();
  arg_offsets_.reserve(count < 1024 ? static_cast<size_t>(count) : 1024);
  pos_ = scan_ = cr + 2;
  stage_ = Stage::kBulkHeader;
  return ParseStatus::kNeedMore;
}

bool RequestParser::ParseWholeCommand(std::string_view buf) {
  const uint64_t max_len = authenticated_ ? limits_.max_bulk_len
                                          : std::min(limits_.max_bulk_len,
                                                     limits_.unauthenticated_max_bulk_len);
  const size_t end = WalkPlainBulks(buf, pos_, multibulk_remaining_, max_len,
                                    [&](int64_t, std::string_view arg) { args_.push_back(arg); });
  if (end == kNotFound) {
    args_.clear();
    return false;
  }
  pos_ = end;
  return true;
}

ParseStatus RequestParser::ParseBulks(std::string_view buf) {
  while (multibulk_remaining_ > 0) {
    if (stage_ == Stage::kBulkHeader) {
      int64_t len = 0;
      size_t cr = kNotFound;
      if (scan_ <= pos_ && pos_ < buf.size() && buf[pos_] == '$') {
        cr = ParsePlainHeader(buf, pos_ + 1, &len);
      }
      if (cr == kNotFound) {
        cr = FindHeaderEnd(buf);
        if (cr == kNotFound) {
          if (buf.size() - pos_ > limits_.max_inline_len && scan_ == buf.size()) {
            return Fail("Protocol error: too big bulk count string");
          }
          return ParseStatus::kNeedMore;
        }
        if (buf[pos_] != '$') {
          std::string text = "Protocol error: expected '$', got '";
          text += buf[pos_];
          text += '\'';
          return Fail(text);
        }
        if (!ParseRedisInteger(buf.substr(pos_ + 1, cr - pos_ - 1), &len)) {
          return Fail("Protocol error: invalid bulk length");
        }
      }
      if (len < 0 || static_cast<uint64_t>(len) > limits_.max_bulk_len) {
        return Fail("Protocol error: invalid bulk length");
      }
      if (!authenticated_ && static_cast<uint64_t>(len) > limits_.unauthenticated_max_bulk_len) {
        return Fail("Protocol error: unauthenticated bulk length");
      }
      bulk_len_ = len;
      pos_ = scan_ = cr + 2;
      stage_ = Stage::kBulkData;
    }
    // The two bytes after the data are skipped unchecked, as Redis does.
    const uint64_t needed = static_cast<uint64_t>(bulk_len_) + 2;
    if (buf.size() - pos_ < needed) return ParseStatus::kNeedMore;
    arg_offsets_.emplace_back(pos_, static_cast<size_t>(bulk_len_));
    pos_ = scan_ = pos_ + static_cast<size_t>(needed);
    --multibulk_remaining_;
    stage_ = Stage::kBulkHeader;
  }
  args_.reserve(arg_offsets_.size());
  for (const auto& [offset, length] : arg_offsets_) args_.push_back(buf.substr(offset, length));
  return Complete(pos_);
}

ParseStatus RequestParser::Complete(size_t consumed) {
  consumed_ = consumed;
  stage_ = Stage::kStart;
  pos_ = scan_ = 0;
  multibulk_remaining_ = 0;
  arg_offsets_.clear();
  return ParseStatus::kCommand;
}

ParseStatus RequestParser::Fail(std::string_view text) {
  failed_ = true;
  error_.assign(text);
  args_.clear();
  return ParseStatus::kError;
}

}  // namespace limiterd::resp
