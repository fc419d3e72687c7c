// Copyright limiterd authors.
// ReplyWriter: encodes replies into a connection's output buffer, in RESP2
// or RESP3 as the connection negotiated with HELLO. In RESP2, maps become
// flat arrays of field/value pairs (as HGETALL), nulls "$-1", booleans
// integers 1/0, doubles bulk strings; in RESP3 they are % _ # , types.
// Appends only; many replies accumulate for one write (pipelining).
#pragma once

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

 private:
  std::string* out_;
  int protocol_;
};

}  // namespace limiterd::resp
