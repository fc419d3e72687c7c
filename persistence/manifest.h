// Copyright limiterd authors.
// The AOF manifest: which files make the append-only file, in order (the
// multi-part AOF of Redis 7). A text file, one line per file:
//
//   file appendonly.aof.3.base.snap seq 3 type b
//   file appendonly.aof.3.incr.aof seq 3 type i
//   file appendonly.aof.4.incr.aof seq 4 type i
//
// It is replaced atomically (WriteFileAtomically), so it always names a
// complete, loadable set: that is what makes a rewrite crash-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "durable_file.h"

namespace limiterd::persistence {

struct Manifest {
  struct File {
    std::string name;  // in the AOF directory
    uint64_t seq = 0;
    bool base = false;
  };
  std::optional<File> base;
  std::vector<File> incrs;  // in replay order

  std::string Format() const;
  // Nullopt, with `error`, on a malformed manifest.
  static std::optional<Manifest> Parse(std::string_view text, std::string* error);
  uint64_t LastSeq() const;
};

std::string BaseName(const std::string& appendfilename, uint64_t seq);
std::string IncrName(const std::string& appendfilename, uint64_t seq);

}  // namespace limiterd::persistence
