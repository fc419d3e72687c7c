// A whole file mapped read-only: how start-up and the checkers read
// snapshots and AOF files without copying a gigabyte onto the heap. The
// pages are the page cache's, read ahead sequentially and dropped by the
// kernel under memory pressure.
//
// The file must not be truncated while it is mapped (reading a page past
// the new end raises SIGBUS): only start-up and the checkers map files,
// and nothing cuts those meanwhile.
//
// Thread safety: immutable after Open; bytes() may be read from any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "durable_file.h"

namespace limiterd::persistence {

class MappedFile {
 public:
  MappedFile() = default;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  // Maps `path` (an empty file gives empty bytes, no mapping).
  static Status Open(const std::string& path, MappedFile* out);

  [[nodiscard]] std::string_view bytes() const {
    return {static_cast<const char*>(data_), size_};
  }

 private:
  void Reset();

  void* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace limiterd::persistence
