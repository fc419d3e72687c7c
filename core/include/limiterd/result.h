// Copyright limiterd authors.
// Result<T>: a value or an Error. Every fallible call of the public API
// returns one; the server turns Error into a RESP error reply.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace limiterd {

enum class ErrorCode {
  kInvalidArgument,  // bad input: the message says what (server: "ERR ...")
  kNoLimit,          // no effective limit at any level (server: "NOLIMIT ...")
  kOverflow,         // an amount would overflow int64 (server: "ERR ...")
  kNotInSection,     // a key outside the caller's AtomicSection (a bug)
};

struct Error {
  ErrorCode code;
  std::string message;  // human text without a RESP prefix
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}              // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}          // NOLINT
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

inline Error InvalidArgument(std::string message) {
  return Error{ErrorCode::kInvalidArgument, std::move(message)};
}

}  // namespace limiterd
