// Copyright limiterd authors.
// ReplyWriter: encodes replies into a connection's output buffer, in RESP2
// or RESP3 as the connection negotiated with HELLO. In RESP2, maps become
// flat arrays of field/value pairs (as HGETALL), nulls "$-1", booleans
// integers 1/0, doubles bulk strings; in RESP3 they are % _ # , types.
// Appends only; many replies accumulate for one write (pipelining).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace limiterd::resp {

class ReplyWriter {
 public:
  explicit ReplyWriter(std::string* out, int protocol = 2)
      : out_(out), protocol_(protocol) {}

  void set_protocol(int protocol) { protocol_ = protocol; }
  int protocol() const { return protocol_; }

  void Simple(std::string_view s);         // +OK
  void Error(std::string_view s);          // -ERR ... (s holds the prefix; CR/LF replaced by spaces)
  void Integer(int64_t n);                 // :n
  void Bulk(std::string_view s);           // $len\r\n...
  void Null();                             // $-1 | _
  void NullArray();                        // *-1 | _
  void Array(size_t n);                    // *n header; n elements follow
  void Map(size_t pairs);                  // *2n | %n header; 2n elements follow
  void Set(size_t n);                      // *n | ~n
  void Push(size_t n);                     // *n | >n
  void Bool(bool b);                       // :1/:0 | #t/#f
  void Double(double d);                   // $len "1.5" | ,1.5
  void Verbatim(std::string_view s, std::string_view format = "txt");  // $ | =len txt:...
  void Raw(std::string_view bytes);        // pre-encoded bytes

  class Parts;

 private:
  std::string* out_;
  int protocol_;
};

// A reply of a few small parts, encoded as ReplyWriter encodes them into one
// buffer on the stack and appended to the output at once when it goes out
// of scope. Each append to the output costs a capacity check and a memcpy
// call, more than formatting a small integer, and a CREDITS.CONSUME reply
// has eight parts. A bulk that does not fit goes straight to the output,
// after what is staged. While an exception unwinds the staged parts are
// appended too: whoever catches it drops the half-written reply (the
// connection cuts its output back to where the reply began). Asking
// std::uncaught_exceptions() instead cost 70 instructions a reply.
class ReplyWriter::Parts {
 public:
  explicit Parts(ReplyWriter& writer);
  ~Parts();
  Parts(const Parts&) = delete;
  Parts& operator=(const Parts&) = delete;

  void Array(size_t n);
  void Integer(int64_t n);
  void Null();
  void Bulk(std::string_view s);

 private:
  static constexpr size_t kCapacity = 256;
  // Room for n more bytes: appends what is staged first if they do not fit.
  char* Room(size_t n);
  void AppendStaged();

  ReplyWriter& writer_;
  size_t len_ = 0;
  char buf_[kCapacity];
};

}  // namespace limiterd::resp
