// Snapshot files (file_format.h): SAVE / BGSAVE's dbfilename and the AOF's
// base files. Written streaming from an Engine's SnapshotReader (a 10M-limit
// snapshot is about a gigabyte: it is never held in memory whole), to a
// temporary file in the same directory, fsynced, renamed over the target,
// the directory fsynced: after a crash at any moment the target holds the
// old snapshot or the new one, whole.
//
// Thread safety: no shared state; a SnapshotReader is used by one thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "file_format.h"
#include "limiterd/changes.h"
#include "limiterd/engine.h"
#include "limiterd/result.h"

namespace limiterd::persistence {

struct SnapshotSummary {
  FileHeader header;
  std::uint64_t entries = 0;  // keys the engine held at the cut
  std::uint64_t records = 0;  // framed records, the end record included
  std::uint64_t bytes = 0;    // file size
};

// Writes everything `reader` yields to `path`, durably (see above). Stops
// with an error when *cancel becomes true (checked between shards); on any
// error the temporary file is removed and `path` is untouched.
Result<SnapshotSummary> WriteSnapshotFile(const std::string& path, SnapshotReader& reader,
                                          std::string_view separator, std::int64_t created_ms,
                                          const std::atomic<bool>* cancel = nullptr);

// Checks a snapshot's bytes record by record and calls `apply` with each
// shard's change records (a group joined). Errors name `name` and the byte
// offset: bad record, bad header or version, records after the end, or no
// end record (an incomplete file); or `apply`'s error, with its offset.
using ApplyFn = std::function<Result<bool>(std::string_view changes)>;
Result<SnapshotSummary> ReadSnapshot(std::string_view bytes, const std::string& name,
                                     const ApplyFn& apply);

// Maps `path` and applies it to `engine`, whose separator must be the
// file's.
Result<SnapshotSummary> LoadSnapshotFile(const std::string& path, Engine& engine);

// "<path>: <what>" as an Error (every persistence error is a message).
Error FileError(const std::string& path, const std::string& what);

}  // namespace limiterd::persistence
