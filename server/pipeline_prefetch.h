// Copyright limiterd authors.
// PipelinePrefetch: a connection's look-ahead over the commands a client
// pipelined. When a command is parsed and more input follows it, it peeks
// at the next commands (up to kWindow at a time) and hands their keys to
// Engine::Prefetch, so that the memory latency of each command's keys
// overlaps with the others' instead of stalling every command in turn (at
// -P 16 over 100k users that was most of a CONSUME's time). It peeks again
// while kRefill prefetched commands remain, so a long pipeline's commands
// are all prefetched a few commands ahead. Changes nothing a command sees:
// only the cache. A lone command (-P 1) costs one test.
#pragma once

#include <cstddef>
#include <string_view>

#include "limiterd/engine.h"

namespace limiterd::server {

class PipelinePrefetch {
 public:
  static constexpr size_t kWindow = 16;
  static constexpr size_t kRefill = 4;

  // Call once a command of `size` bytes is parsed, with the input that
  // follows it.
  void AfterParse(size_t size, std::string_view rest, const Engine& engine) {
    if (window_ > 0) {  // this command was peeked: its keys are prefetched
      --window_;
      peeked_bytes_ -= size < peeked_bytes_ ? size : peeked_bytes_;
    }
    if (window_ == 0) peeked_bytes_ = 0;
    if (window_ <= kRefill && rest.size() > peeked_bytes_) {
      PeekMore(rest.substr(peeked_bytes_), engine);
    }
  }

 private:
  void PeekMore(std::string_view rest, const Engine& engine);

  size_t window_ = 0;        // commands to come whose keys were prefetched
  size_t peeked_bytes_ = 0;  // the bytes those commands span, at the front of `rest`
};

}  // namespace limiterd::server
