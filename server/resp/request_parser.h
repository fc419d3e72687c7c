// Copyright limiterd authors.
// RequestParser: turns the bytes a client sent into commands. No I/O: it
// reads a buffer and says "need more", "here is a command", or "protocol
// error". It accepts every request form redis-server accepts: multibulk
// (*<n>\r\n$<len>\r\n<bytes>\r\n...) and inline commands (space-separated,
// quotes as sdssplitargs), pipelined back to back.
//
// Contract with the caller (a connection):
//  - Call Parse(buf) with the unconsumed bytes, oldest first. On kCommand,
//    args() are views into `buf` (zero copy), valid until the caller changes
//    the buffer; then drop consumed() bytes from the front and call again.
//  - On kNeedMore, consumed() is 0: keep the bytes, append more, call again
//    with the whole unconsumed buffer (its address may change). The parser
//    remembers how far it got, so a large bulk is not re-scanned.
//  - On kError, error() is Redis's text ("Protocol error: invalid bulk
//    length"); reply "-ERR <text>" and close the connection.
// Not thread-safe: one parser per connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace limiterd::resp {

struct ParserLimits {
  size_t max_bulk_len = 1024 * 1024;          // proto-max-bulk-len
  size_t max_inline_len = 64 * 1024;          // inline request line
  size_t max_multibulk_len = 1024 * 1024;     // elements in one request
  // Before authentication (requirepass set, client not yet authenticated):
  // Redis's CVE-2021-32675 rule.
  size_t unauthenticated_max_args = 10;
  size_t unauthenticated_max_bulk_len = 16 * 1024;
};

enum class ParseStatus { kNeedMore, kCommand, kError };

class RequestParser {
 public:
  explicit RequestParser(ParserLimits limits = {}) : limits_(limits) {}

  ParseStatus Parse(std::string_view buf);
  size_t consumed() const { return consumed_; }
  // Empty for an empty inline line or "*0\r\n" (skip it: Redis does).
  const std::vector<std::string_view>& args() const { return args_; }
  const std::string& error() const { return error_; }

  // Applies the unauthenticated limits while true.
  void set_authenticated(bool authenticated) { authenticated_ = authenticated; }
  void set_limits(const ParserLimits& limits) { limits_ = limits; }

 private:
  // Implementation-defined resume state lives here.
  ParserLimits limits_;
  bool authenticated_ = true;
  size_t consumed_ = 0;
  std::vector<std::string_view> args_;
  std::string error_;
  // Multibulk resume state (offsets into the current unconsumed buffer).
  int64_t multibulk_remaining_ = -1;  // -1: not inside a multibulk
  int64_t bulk_len_ = -1;             // -1: next is a "$<len>" header
  size_t pos_ = 0;                    // next byte to look at
  std::vector<std::pair<size_t, size_t>> arg_offsets_;  // (offset, length)
};

}  // namespace limiterd::resp
