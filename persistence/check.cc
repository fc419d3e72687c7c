// Copyright limiterd authors.
// `limiterd --check-aof FILE [--fix]` and `limiterd --check-snapshot FILE`
// (durability.h). Every file is read the way start-up reads it and replayed
// into a scratch engine, so the change records themselves are checked, not
// only their framing. --fix cuts the last incr file at its last whole
// record, as redis-check-aof --fix does; nothing else is ever changed.
#include <filesystem>
#include <memory>

#include "aof_files.h"
#include "aof_incr.h"
#include "aof_manifest.h"
#include "durability.h"
#include "mapped_file.h"
#include "snapshot_file.h"

namespace limiterd::persistence {
namespace {

enum class Kind { kManifest, kIncr, kSnapshot };

// The engine is made once the first file's header says which separator the
// keys were written with.
class Scratch {
 public:
  Engine& For(std::string_view file_bytes) {
    if (!engine_) {
      FileHeader header;
      EngineOptions options;
      if (PeekFileHeader(file_bytes, &header)) options.separator = header.separator;
      engine_ = std::make_unique<Engine>(options);
    }
    return *engine_;
  }
  [[nodiscard]] std::size_t keys() const { return engine_ ? engine_->Size() : 0; }

 private:
  std::unique_ptr<Engine> engine_;
};

// A base or a snapshot file: all or nothing, no fix.
bool CheckSnapshotFile(const std::string& path, Scratch& scratch, std::string& out) {
  MappedFile file;
  if (Status s = MappedFile::Open(path, &file); !s.ok()) {
    out += s.message() + "\n";
    return false;
  }
  Engine& engine = scratch.For(file.bytes());
  auto summary = ReadSnapshot(file.bytes(), path, [&](std::string_view changes) {
    return engine.ApplyChanges(changes);
  });
  if (!summary.ok()) {
    out += summary.error().message + "\n";
    return false;
  }
  out += path + ": snapshot format version " + std::to_string(summary->header.version) +
         ", created at unix ms " + std::to_string(summary->header.created_ms) +
         ", hierarchy-separator '" + summary->header.separator + "': " +
         std::to_string(summary->entries) + " keys in " + std::to_string(summary->records) +
         " records, " + std::to_string(summary->bytes) + " bytes\n";
  return true;
}

// An incr file; `last` says whether --fix may cut it.
bool CheckIncrFile(const std::string& path, bool last, bool fix, Scratch& scratch,
                   std::string& out) {
  IncrScan scan;
  std::uint64_t size = 0;
  {
    MappedFile file;
    if (Status s = MappedFile::Open(path, &file); !s.ok()) {
      out += s.message() + "\n";
      return false;
    }
    size = file.bytes().size();
    Engine& engine = scratch.For(file.bytes());
    scan = ScanIncr(file.bytes(), [&](std::string_view changes) {
      return engine.ApplyChanges(changes);
    });
  }  // unmapped before a fix cuts it
  out += path + ": " + std::to_string(scan.groups) + " change records in " +
         std::to_string(size) + " bytes";
  if (scan.end == IncrScan::End::kClean) {
    out += scan.padding == 0 ? std::string(": valid\n")
                             : ": valid (the last " + std::to_string(scan.padding) +
                                   " bytes are zero-filled space, written ahead of the log)\n";
    return true;
  }
  out += "; " + scan.Describe() + "\n";
  const std::uint64_t cut = size - scan.good_size;
  if (!last) {
    out += "It is not the last file of the AOF: cutting it would lose what follows. Restore "
           "it from a backup.\n";
    return false;
  }
  if (!fix) {
    out += scan.end == IncrScan::End::kTornTail
               ? "The last " + std::to_string(cut) +
                     " bytes are a torn record (a crash mid-write). Use --fix to cut them.\n"
               : "Use --fix to cut the file at offset " + std::to_string(scan.good_size) +
                     " (the last whole record): the " + std::to_string(cut) +
                     " bytes from there on are lost.\n";
    return false;
  }
  if (Status s = TruncateFile(path, scan.good_size); !s.ok()) {
    out += "Failed to truncate: " + s.message() + "\n";
    return false;
  }
  out += "Successfully truncated AOF " + path + " to " + std::to_string(scan.good_size) +
         " bytes (cut " + std::to_string(cut) + " bytes: " +
         (scan.end == IncrScan::End::kTornTail
              ? std::string("the torn record")
              : "the damaged record at offset " + std::to_string(scan.bad_offset) +
                    " and everything after it") +
         ")\n";
  return true;
}

Kind KindOf(const std::string& path) {
  if (path.size() >= 9 && path.compare(path.size() - 9, 9, ".manifest") == 0) {
    return Kind::kManifest;
  }
  MappedFile file;
  FileHeader header;
  if (MappedFile::Open(path, &file).ok() && PeekFileHeader(file.bytes(), &header)) {
    if (header.magic == kSnapshotMagic) return Kind::kSnapshot;
    if (header.magic == kAofMagic) return Kind::kIncr;
  }
  // Not a limiterd record file: a manifest, or what ParseManifest says it is not.
  return file.bytes().substr(0, 5) == "file " ? Kind::kManifest : Kind::kIncr;
}

bool CheckManifest(const std::string& path, bool fix, Scratch& scratch, std::string& out) {
  auto manifest = ReadManifest(path);
  if (!manifest.ok()) {
    out += manifest.error().message + "\n";
    return false;
  }
  const std::string dir = std::filesystem::path(path).parent_path().string();
  auto in_dir = [&](const AofFile& file) {
    return (std::filesystem::path(dir.empty() ? "." : dir) / file.name).string();
  };
  out += path + ": " + (manifest->base ? "a base and " : "no base, ") +
         std::to_string(manifest->incrs.size()) + " incr file(s)\n";
  if (manifest->base && !CheckSnapshotFile(in_dir(*manifest->base), scratch, out)) return false;
  for (std::size_t i = 0; i < manifest->incrs.size(); ++i) {
    const bool last = i + 1 == manifest->incrs.size();
    if (!CheckIncrFile(in_dir(manifest->incrs[i]), last, fix, scratch, out)) return false;
  }
  return true;
}

}  // namespace

int CheckAof(const std::string& path, bool fix, std::string& out) {
  if (FileSizeOr0(path) == 0 && !std::filesystem::exists(path)) {
    out += "Cannot open " + path + ": No such file or directory\n";
    return 1;
  }
  Scratch scratch;
  bool ok = false;
  switch (KindOf(path)) {
    case Kind::kManifest: ok = CheckManifest(path, fix, scratch, out); break;
    case Kind::kIncr: ok = CheckIncrFile(path, /*last=*/true, fix, scratch, out); break;
    case Kind::kSnapshot: ok = CheckSnapshotFile(path, scratch, out); break;
  }
  out += ok ? "AOF " + path + " is valid (" + std::to_string(scratch.keys()) + " keys after replay)\n"
            : "AOF " + path + " is not valid\n";
  return ok ? 0 : 1;
}

int CheckSnapshot(const std::string& path, std::string& out) {
  Scratch scratch;
  if (!CheckSnapshotFile(path, scratch, out)) {
    out += "Snapshot " + path + " is not valid\n";
    return 1;
  }
  out += "Snapshot " + path + " is valid (" + std::to_string(scratch.keys()) + " keys)\n";
  return 0;
}

}  // namespace limiterd::persistence
