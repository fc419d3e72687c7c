#include "aof_incr.h"

namespace limiterd::persistence {
namespace {

IncrScan& Stop(IncrScan& scan, IncrScan::End end, std::uint64_t bad_offset,
               std::uint64_t good_size, std::string message) {
  scan.end = end;
  scan.bad_offset = bad_offset;
  scan.good_size = good_size;
  scan.message = std::move(message);
  return scan;
}

}  // namespace

std::string IncrScan::Describe() const {
  switch (end) {
    case End::kClean: return "valid";
    case End::kTornTail:
      return "torn tail at offset " + std::to_string(good_size) + " (" + message + ")";
    case End::kCorruption:
      return "corruption at offset " + std::to_string(bad_offset) + " (" + message + ")";
  }
  return "?";
}

IncrScan ScanIncr(std::string_view bytes, const ApplyFn& apply) {
  IncrScan scan;
  RecordReader reader(bytes);
  GroupAssembler groups(kChangesPart, kChanges);
  Record record;
  std::uint64_t good = 0;  // end of the last whole group
  while (reader.Next(&record)) {
    if (!scan.has_header) {
      std::string error;
      if (record.type != kFileHeader || !DecodeFileHeader(record.payload, &scan.header, &error)) {
        return Stop(scan, IncrScan::End::kCorruption, 0, 0, "no AOF file header");
      }
      if (scan.header.magic != kAofMagic) {
        return Stop(scan, IncrScan::End::kCorruption, 0, 0,
                    "not an AOF incr file (magic '" + scan.header.magic + "')");
      }
      if (!ReadableFormatVersion(scan.header.version)) {
        return Stop(scan, IncrScan::End::kCorruption, 0, 0,
                    UnreadableVersionMessage("AOF", scan.header.version));
      }
      scan.has_header = true;
      good = reader.valid_bytes();
      continue;
    }
    std::string_view changes;
    switch (groups.Add(record, &changes)) {
      case GroupAssembler::Step::kPart: break;
      case GroupAssembler::Step::kComplete:
        if (apply) {
          if (auto r = apply(changes); !r.ok()) {
            return Stop(scan, IncrScan::End::kCorruption, groups.group_offset(), good,
                        "bad change records: " + r.error().message);
          }
        }
        ++scan.groups;
        good = reader.valid_bytes();
        break;
      case GroupAssembler::Step::kOther:
        return Stop(scan, IncrScan::End::kCorruption, record.offset,
                    groups.open() ? groups.group_offset() : good,
                    "unexpected record type " + std::to_string(record.type));
    }
  }
  switch (reader.end()) {
    case ReadEnd::kClean:
    case ReadEnd::kPadding:
      if (groups.open()) {
        return Stop(scan, IncrScan::End::kTornTail, good, good,
                    "the file ends inside a group of records");
      }
      scan.good_size = reader.end_offset();
      scan.padding = bytes.size() - scan.good_size;
      return scan;
    case ReadEnd::kTornTail:
      // A torn header: the file was being created. Everything else: the
      // last group is incomplete, whatever part of it was torn.
      return Stop(scan, IncrScan::End::kTornTail, good, good, reader.message());
    default:
      return Stop(scan, IncrScan::End::kCorruption, reader.end_offset(),
                  groups.open() ? groups.group_offset() : good, reader.message());
  }
}

}  // namespace limiterd::persistence
