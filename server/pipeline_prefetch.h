// Copyright limiterd authors.
// PipelinePrefetch: a connection's look-ahead over the commands a client
// pipelined. When a command is parsed and more input follows it, it peeks
// at the next window of up to kWindow commands and hands their keys to
// Engine::Prefetch, so that the memory latency of each command's keys
// overlaps with the others' instead of stalling every command in turn (at
// -P 16 over 100k users that was most of a CONSUME's time). Changes nothing
// a command sees: only the cache. A lone command (-P 1) costs one test.
#pragma once

#include <cstddef>
#include <string_view>

#include "limiterd/engine.h"

namespace limiterd::server {

class PipelinePrefetch {
 public:
  static constexpr size_t kWindow = 16;

  // Call once a command is parsed, with the input that follows it.
  void AfterParse(std::string_view rest, const Engine& engine) {
    if (window_ > 0) {
      --window_;  // this command's keys were prefetched with its window
    } else if (!rest.empty()) {
      PeekWindow(rest, engine);
    }
  }

 private:
  void PeekWindow(std::string_view input, const Engine& engine);

  size_t window_ = 0;  // commands to come whose keys were prefetched
};

}  // namespace limiterd::server
