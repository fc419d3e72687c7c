// Copyright limiterd authors.
// Snapshot files: the whole engine at one instant (SAVE, BGSAVE, and the
// AOF's base), and the record types of every limiterd file.
//
//   header  "LIMITERD-SNAPSHOT", format version (u32), created unix ms (u64)
//   chunk*  change records (limiterd/changes.h), ~1 MiB each
//   end     keys (u64), chunks (u64): a file without it is incomplete
//
// Written to <path>.tmp, fsynced, renamed, directory fsynced: a reader
// finds the old file or the new one, never a part.
#pragma once

#include <cstdint>
#include <string>

#include "durable_file.h"
#include "limiterd/changes.h"
#include "limiterd/engine.h"

namespace limiterd::persistence {

enum RecordType : uint8_t {
  kSnapshotHeader = 1,
  kSnapshotChunk = 2,
  kSnapshotEnd = 3,
  kAofHeader = 4,   // an incr file's first record: "LIMITERD-AOF", version
  kAofChanges = 5,  // one operation's (or one EXEC's) change records
};

inline constexpr char kSnapshotMagic[] = "LIMITERD-SNAPSHOT";
inline constexpr char kAofMagic[] = "LIMITERD-AOF";
inline constexpr uint32_t kFormatVersion = 1;

struct SnapshotStats {
  uint64_t keys = 0;
  uint64_t bytes = 0;
};

// Streams `reader` into `path` (temp, fsync, rename, fsync dir).
Status WriteSnapshotFile(const std::string& path, SnapshotReader& reader, int64_t created_ms,
                         SnapshotStats* stats);

// Applies the snapshot at `path` to `engine`. False with `error` naming the
// file and the byte offset of the problem.
bool LoadSnapshotFile(const std::string& path, Engine& engine, SnapshotStats* stats,
                      std::string* error);

// The header record of an incr file.
std::string AofHeaderRecord();
// Checks a header record's payload (either kind); false with `why`.
bool CheckHeader(uint8_t type, std::string_view payload, std::string* why);

// write(2) until done, retrying EINTR and short writes.
Status WriteAll(int fd, std::string_view bytes, const std::string& name);

}  // namespace limiterd::persistence
