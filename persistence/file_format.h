// What the framed records (record_format.h) of limiterd's files mean.
//
// Every file starts with a header record:
//   kFileHeader  magic (varint length, bytes), version u32, created unix ms
//                u64, hierarchy separator (varint length, bytes)
// The magic says what the file is ("LIMITERD-SNAPSHOT": a snapshot or an
// AOF base; "LIMITERD-AOF": an AOF incr file); the version is the format of
// everything after the header (and of the engine's change records in it).
// The separator is recorded because it decides where keys live: a file is
// only ever loaded into an engine with the same one.
//
// Snapshot (and AOF base):  header, kSnapshotChunk*, kSnapshotEnd
//   kSnapshotChunk  change records of one shard of the engine
//   kSnapshotEnd    entries u64, records u64 (every record before it): a
//                   file that ends without it is incomplete
// AOF incr file:            header, kChanges*
//   kChanges        the change records of one operation, or of one MULTI/EXEC
//
// Groups: a payload larger than kSplitPayload is cut into records of the
// "part" type followed by one of the final type (kChangesPart... kChanges,
// kSnapshotChunkPart... kSnapshotChunk); a reader joins them and applies
// the whole. Cutting is at any byte: the engine's change records are opaque
// here. A group is what is atomic: a torn group is dropped whole, so a
// transaction is on disk all or nothing, whatever its size.
//
// Thread safety: pure functions; GroupAssembler is owned by one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "record_format.h"

namespace limiterd::persistence {

enum RecordType : std::uint8_t {
  kFileHeader = 1,
  kChanges = 2,
  kChangesPart = 3,
  kSnapshotChunk = 4,
  kSnapshotChunkPart = 5,
  kSnapshotEnd = 6,
};

inline constexpr std::string_view kSnapshotMagic = "LIMITERD-SNAPSHOT";
inline constexpr std::string_view kAofMagic = "LIMITERD-AOF";
// The version new files are written in, and the oldest this build reads.
// 2: change records may write a key as a prefix it shares with the key of
// the record before it (change_codec.h, kSharedKey); version 1 files are
// version 2 files without such records. Loading never appends a version 2
// record to a version 1 file (durability.cc starts a new incr file), so a
// build that reads only version 1 refuses what it cannot read by name.
inline constexpr std::uint32_t kFormatVersion = 2;
inline constexpr std::uint32_t kOldestFormatVersion = 1;
[[nodiscard]] inline bool ReadableFormatVersion(std::uint32_t version) {
  return version >= kOldestFormatVersion && version <= kFormatVersion;
}
// What a reader says of a `kind` ("AOF", "snapshot") file whose version is
// not ReadableFormatVersion: "<kind> format version 3 is not supported
// (this build reads versions 1 to 2)".
std::string UnreadableVersionMessage(std::string_view kind, std::uint32_t version);
// Records stay small enough to verify and apply one at a time (and far
// below kMaxRecordPayload); larger payloads become groups.
inline constexpr std::size_t kSplitPayload = 1u << 20;

struct FileHeader {
  std::string magic;
  std::uint32_t version = kFormatVersion;
  std::int64_t created_ms = 0;
  std::string separator;
};

std::string EncodeFileHeader(const FileHeader& header);
// False with *error on malformed bytes (the version is not checked here).
[[nodiscard]] bool DecodeFileHeader(std::string_view payload, FileHeader* header,
                                    std::string* error);
// The header of a file whose first record is a valid header record.
[[nodiscard]] bool PeekFileHeader(std::string_view file_bytes, FileHeader* header);
// The header record of a new file, framed.
std::string FramedFileHeader(std::string_view magic, std::int64_t created_ms,
                             std::string_view separator);

// Frames `payload` onto `out` as one record of `last_type`, or as a group of
// `part_type` records and a final `last_type` one. Returns the number of
// records appended.
std::size_t AppendGroup(std::string& out, std::uint8_t part_type, std::uint8_t last_type,
                        std::string_view payload);

// Joins the records of groups as a reader meets them.
class GroupAssembler {
 public:
  GroupAssembler(std::uint8_t part_type, std::uint8_t last_type)
      : part_type_(part_type), last_type_(last_type) {}

  enum class Step {
    kPart,      // a part: the group goes on
    kComplete,  // the group is whole: *payload is it (valid until the next Add)
    kOther,     // not a record of this kind (a group left open stays open)
  };
  Step Add(const Record& record, std::string_view* payload);

  // A group has begun and not ended: at the end of a file, a torn group.
  [[nodiscard]] bool open() const { return open_; }
  // Offset of the first record of the open or last completed group.
  [[nodiscard]] std::uint64_t group_offset() const { return group_offset_; }

 private:
  std::uint8_t part_type_;
  std::uint8_t last_type_;
  bool open_ = false;
  std::uint64_t group_offset_ = 0;
  std::string joined_;
};

}  // namespace limiterd::persistence
