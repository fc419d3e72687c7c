// The AOF's files in their directory: loading the set a manifest lists,
// creating incr files, replacing the manifest. Used by start-up and the
// rewrite (durability.cc, durability_jobs.cc).
//
// Thread safety: no shared state; the caller serializes manifest writes.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "aof_log.h"
#include "aof_manifest.h"
#include "limiterd/engine.h"
#include "limiterd/result.h"

namespace limiterd::persistence {

struct AofLoad {
  std::uint64_t keys = 0;     // entries of the base
  std::uint64_t records = 0;  // change groups replayed
  bool truncated_tail = false;
  std::string warning;
  // The format version of the last incr file (0: no header, never written).
  std::uint32_t last_incr_version = 0;
};

// Applies the base, then every incr file, in order. A torn tail of the
// last incr file is cut off with a warning when `load_truncated`, else an
// error; anything else wrong is an error naming the file and the offset.
Result<AofLoad> LoadAofFiles(const std::string& aof_dir, const Manifest& manifest,
                             Engine& engine, bool load_truncated);

// Creates `<aof_dir>/<name>` holding only an AOF header (atomically: it
// exists whole or not at all) and opens it for appending.
struct NewIncr {
  std::shared_ptr<LogFile> file;
  std::uint64_t size = 0;
};
Result<NewIncr> CreateIncrFile(const std::string& aof_dir, const std::string& name,
                               std::int64_t created_ms, const std::string& separator);

// Opens an existing incr file for appending (writing its header if the file
// is empty: created, never written).
Result<NewIncr> OpenIncrFile(const std::string& path, std::int64_t created_ms,
                             const std::string& separator);

Result<bool> WriteManifest(const std::string& aof_dir, const std::string& appendfilename,
                           const Manifest& manifest);
Result<Manifest> ReadManifest(const std::string& path);

// Size of a file, 0 if it is missing.
std::uint64_t FileSizeOr0(const std::string& path);

}  // namespace limiterd::persistence
