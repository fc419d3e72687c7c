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
//    length"); reply "-ERR <text>" and close the connection. The parser
//    stays failed: later calls return kError again.
//  - An inline argument that quoting changed ("a\tb", 'it\'s', a"b c") is
//    unescaped into storage owned by the parser, not `buf`: it is valid until
//    the next Parse() call. Every other argument views `buf`.
// Byte for byte as redis-server 7.2 (processMultibulkBuffer,
// processInlineBuffer, sdssplitargs), including its leniencies: the byte
// after a header's '\r' and the two bytes after a bulk are not checked, and
// an inline line is only limited while its '\n' has not arrived. One
// deliberate difference: a NUL byte is an ordinary byte here, where Redis's
// strchr() stops at it and waits for more input.
// Not thread-safe: one parser per connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace limiterd::resp {

struct ParserLimits {
  size_t max_bulk_len = 1024 * 1024;          // proto-max-bulk-len
  // Inline request line without its '\n' yet; also a "*<n>" or "$<len>"
  // header line without its '\r' (Redis's PROTO_INLINE_MAX_SIZE, both).
  size_t max_inline_len = 64 * 1024;
  size_t max_multibulk_len = 1024 * 1024;     // elements in one request
  // Before authentication (requirepass set, client not yet authenticated):
  // Redis's CVE-2021-32675 rule.
  size_t unauthenticated_max_args = 10;
  size_t unauthenticated_max_bulk_len = 16 * 1024;
};

enum class ParseStatus { kNeedMore, kCommand, kError };

// A complete plain multibulk command at the front of a buffer, read
// without a parser's state: for looking ahead at the commands a pipeline
// holds (RequestParser still parses each one for real when its turn comes).
struct PeekedCommand {
  size_t size = 0;             // bytes the command spans
  std::string_view name;       // its first argument
  std::string_view first_arg;  // its second; empty if it has none
};
// False unless the front of `buf` is a whole "*<n>\r\n$<len>\r\n<bytes>\r\n..."
// with plain headers and 1 to kMaxPeekArgs arguments. Anything else (an
// inline command, a partial one, any form the parser treats specially)
// is simply not peeked.
inline constexpr size_t kMaxPeekArgs = 64;
bool PeekCommand(std::string_view buf, PeekedCommand* out);

class RequestParser {
 public:
  explicit RequestParser(ParserLimits limits = {}) : limits_(limits) {}

  ParseStatus Parse(std::string_view buf);
  size_t consumed() const { return consumed_; }
  // Empty for a blank inline line, "*0\r\n" or a negative count such as
  // "*-1\r\n" (skip it: Redis does); consumed() still covers it.
  const std::vector<std::string_view>& args() const { return args_; }
  const std::string& error() const { return error_; }

  // Applies the unauthenticated limits while true.
  void set_authenticated(bool authenticated) { authenticated_ = authenticated; }
  void set_limits(const ParserLimits& limits) { limits_ = limits; }

 private:
  enum class Stage : uint8_t {
    kStart,      // nothing of the next request read yet
    kInline,     // looking for the inline line's '\n'
    kCount,      // looking for the end of "*<count>"
    kBulkHeader, // looking for the end of "$<len>"
    kBulkData,   // waiting for <len> bytes and the two after them
  };

  ParseStatus ParseInline(std::string_view buf);
  ParseStatus ParseCount(std::string_view buf);
  ParseStatus ParseBulks(std::string_view buf);
  // The usual case, right after the count: every bulk of the command is in
  // `buf` with plain headers within the limits. Walks them once straight
  // into args_; false (args_ left empty) sends the caller down ParseBulks,
  // which resumes, and words any error.
  bool ParseWholeCommand(std::string_view buf);
  // Finds the '\r' ending the header line that starts at pos_, resuming at
  // scan_. npos until the '\r' and one more byte are in `buf`.
  size_t FindHeaderEnd(std::string_view buf);
  bool SplitInline(std::string_view line);
  ParseStatus Complete(size_t consumed);
  ParseStatus Fail(std::string_view text);

  ParserLimits limits_;
  bool authenticated_ = true;
  size_t consumed_ = 0;
  std::vector<std::string_view> args_;
  std::string error_;
  // Resume state, as offsets into the unconsumed buffer (it may move).
  Stage stage_ = Stage::kStart;
  bool failed_ = false;
  int64_t multibulk_remaining_ = 0;  // bulks still to read
  int64_t bulk_len_ = 0;             // length of the bulk being read
  size_t pos_ = 0;                   // start of the element being read
  size_t scan_ = 0;                  // bytes already searched for a line end
  std::vector<std::pair<size_t, size_t>> arg_offsets_;  // (offset, length)
  std::string unescaped_;            // inline arguments quoting changed
  std::vector<std::pair<size_t, size_t>> unescaped_args_;  // (arg index, offset)
};

}  // namespace limiterd::resp
