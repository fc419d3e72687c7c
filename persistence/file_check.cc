// Copyright limiterd authors.
// `limiterd --check-aof FILE [--fix]` and `limiterd --check-snapshot FILE`.
#include <sys/stat.h>

#include "durability.h"
#include "manifest.h"
#include "record_format.h"
#include "snapshot_io.h"

namespace limiterd::persistence {
namespace {

std::string DirOf(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

// Checks one file of an AOF (a base or an incr); replays it into `engine`
// so the change records themselves are checked too.
int CheckFile(const std::string& path, bool last, bool fix, Engine& engine, std::string& out) {
  std::string data;
  if (Status s = ReadWholeFile(path, &data); !s.ok()) {
    out += s.message() + "\n";
    return 1;
  }
  RecordReader reader(data);
  Record first;
  if (reader.Next(&first) && first.type == kSnapshotHeader) {
    std::string error;
    SnapshotStats stats;
    if (!LoadSnapshotFile(path, engine, &stats, &error)) {
      out += error + "\n";
      return 1;
    }
    out += "Base " + path + " is valid: " + std::to_string(stats.keys) + " keys\n";
    return 0;
  }
  RecordReader again(data);
  Record record;
  uint64_t records = 0;
  std::string problem;
  uint64_t bad_offset = 0;
  bool header = false;
  while (again.Next(&record)) {
    std::string why;
    if (!header) {
      if (!CheckHeader(record.type, record.payload, &why) || record.type != kAofHeader) {
        problem = why.empty() ? "not an incr file" : why;
        bad_offset = record.offset;
        break;
      }
      header = true;
      continue;
    }
    auto applied = record.type == kAofChanges ? engine.ApplyChanges(record.payload)
                                              : Result<bool>(InvalidArgument("bad record type"));
    if (!applied.ok()) {
      problem = applied.error().message;
      bad_offset = record.offset;
      break;
    }
    ++records;
  }
  if (problem.empty() && again.end() != ReadEnd::kClean) {
    problem = std::string(ReadEndName(again.end())) + ": " + again.message();
    bad_offset = again.end_offset();
  }
  if (problem.empty()) {
    out += "AOF " + path + " is valid: " + std::to_string(records) + " records\n";
    return 0;
  }
  out += "AOF " + path + " is not valid at offset " + std::to_string(bad_offset) + ": " +
         problem + "\n";
  if (!fix) {
    out += "Run with --fix to truncate it at offset " + std::to_string(bad_offset) +
           (last ? "" : " (not the last file: later files would lose their base)") + "\n";
    return 1;
  }
  if (!last) {
    out += "Not fixed: only the last incr file may be truncated\n";
    return 1;
  }
  uint64_t cut = header ? bad_offset : 0;
  if (Status s = TruncateFile(path, cut); !s.ok()) {
    out += s.message() + "\n";
    return 1;
  }
  if (cut == 0) {
    if (Status s = WriteFileAtomically(path, AofHeaderRecord()); !s.ok()) {
      out += s.message() + "\n";
      return 1;
    }
  }
  out += "Successfully truncated AOF " + path + " at offset " + std::to_string(cut) + ": " +
         std::to_string(data.size() - cut) + " bytes cut\n";
  return 0;
}

}  // namespace

int CheckAof(const std::string& path, bool fix, std::string& out) {
  Engine scratch;
  if (path.size() > 9 && path.ends_with(".manifest")) {
    std::string text, error;
    if (Status s = ReadWholeFile(path, &text); !s.ok()) {
      out += s.message() + "\n";
      return 1;
    }
    auto m = Manifest::Parse(text, &error);
    if (!m) {
      out += path + ": " + error + "\n";
      return 1;
    }
    std::string dir = DirOf(path);
    int rc = 0;
    if (m->base) rc |= CheckFile(dir + "/" + m->base->name, false, false, scratch, out);
    for (size_t i = 0; i < m->incrs.size() && rc == 0; ++i) {
      rc |= CheckFile(dir + "/" + m->incrs[i].name, i + 1 == m->incrs.size(), fix, scratch, out);
    }
    if (rc == 0) out += "AOF analyzed: the files of " + path + " are valid\n";
    return rc;
  }
  return CheckFile(path, true, fix, scratch, out);
}

int CheckSnapshot(const std::string& path, std::string& out) {
  Engine scratch;
  SnapshotStats stats;
  std::string error;
  if (!LoadSnapshotFile(path, scratch, &stats, &error)) {
    out += error + "\n";
    return 1;
  }
  out += "Snapshot " + path + " is valid: " + std::to_string(stats.keys) + " keys, " +
         std::to_string(stats.bytes) + " bytes\n";
  return 0;
}

}  // namespace limiterd::persistence
