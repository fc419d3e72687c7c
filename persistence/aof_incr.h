// Reading an AOF incr file (file_format.h: a header, then kChanges groups)
// and telling how it ends, for start-up and --check-aof alike.
//
// Thread safety: pure function of its arguments.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "file_format.h"
#include "snapshot_file.h"

namespace limiterd::persistence {

struct IncrScan {
  enum class End {
    kClean,       // every byte belongs to a whole group, or is padding
    kTornTail,    // the file ends inside a record or a group: a crash
                  // mid-append. good_size is where to cut.
    kCorruption,  // anything else; bad_offset is the record at fault, and
                  // good_size where the last whole group before it ends
  };
  End end = End::kClean;
  FileHeader header;          // valid when has_header
  bool has_header = false;    // false for an empty file (created, never written)
  std::uint64_t groups = 0;   // change groups applied
  std::uint64_t good_size = 0;
  // kClean: zero bytes after good_size, to the end of the file (space the
  // log zero-filled ahead of its writes, aof_log.h; not part of the AOF).
  std::uint64_t padding = 0;
  std::uint64_t bad_offset = 0;
  std::string message;        // why, for kTornTail and kCorruption

  // "torn tail at offset N (why)" / "corruption at offset N (why)"
  [[nodiscard]] std::string Describe() const;
};

// Reads `bytes` front to back, calling `apply` (may be empty) on every
// whole group. An `apply` error is corruption at that group. A header that
// is not an AOF incr header of this version is corruption at offset 0.
IncrScan ScanIncr(std::string_view bytes, const ApplyFn& apply);

}  // namespace limiterd::persistence
