// Copyright limiterd authors.
#include "snapshot_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "record_format.h"

namespace limiterd::persistence {
namespace {

constexpr size_t kChunkBytes = 1 << 20;

std::string HeaderPayload(std::string_view magic, int64_t created_ms) {
  std::string p(magic);
  PutFixed32(p, kFormatVersion);
  PutFixed64(p, static_cast<uint64_t>(created_ms));
  return p;
}

std::string DirOf(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

Status SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::IoError("open directory", dir, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  return rc == 0 ? Status::Ok() : Status::IoError("fsync directory", dir, err);
}

}  // namespace

Status WriteAll(int fd, std::string_view bytes, const std::string& name) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::IoError("write", name, errno);
    }
    if (n == 0) return Status::IoError("write", name, EIO);
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

std::string AofHeaderRecord() {
  std::string out;
  (void)AppendRecord(out, kAofHeader, HeaderPayload(kAofMagic, 0));
  return out;
}

bool CheckHeader(uint8_t type, std::string_view payload, std::string* why) {
  std::string_view magic = type == kSnapshotHeader ? kSnapshotMagic : kAofMagic;
  if ((type != kSnapshotHeader && type != kAofHeader) || payload.size() != magic.size() + 12 ||
      payload.substr(0, magic.size()) != magic) {
    *why = "not a limiterd file (bad header record)";
    return false;
  }
  uint32_t version = DecodeFixed32(payload.data() + magic.size());
  if (version != kFormatVersion) {
    *why = "format version " + std::to_string(version) + " (this limiterd reads " +
           std::to_string(kFormatVersion) + ")";
    return false;
  }
  return true;
}

Status WriteSnapshotFile(const std::string& path, SnapshotReader& reader, int64_t created_ms,
                         SnapshotStats* stats) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IoError("open", tmp, errno);
  auto fail = [&](Status s) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return s;
  };
  std::string out, chunk;
  uint64_t chunks = 0, bytes = 0;
  (void)AppendRecord(out, kSnapshotHeader, HeaderPayload(kSnapshotMagic, created_ms));
  auto flush_chunk = [&]() {
    if (chunk.empty()) return;
    (void)AppendRecord(out, kSnapshotChunk, chunk);  // ~1 MiB, far below the record limit
    chunk.clear();
    ++chunks;
  };
  while (reader.Next(chunk)) {
    if (chunk.size() >= kChunkBytes) flush_chunk();
    if (out.size() >= kChunkBytes) {
      if (Status s = WriteAll(fd, out, tmp); !s.ok()) return fail(s);
      bytes += out.size();
      out.clear();
    }
  }
  flush_chunk();
  std::string end;
  PutFixed64(end, reader.entries());
  PutFixed64(end, chunks);
  (void)AppendRecord(out, kSnapshotEnd, end);
  if (Status s = WriteAll(fd, out, tmp); !s.ok()) return fail(s);
  bytes += out.size();
  if (::fsync(fd) != 0) return fail(Status::IoError("fsync", tmp, errno));
  if (::close(fd) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return Status::IoError("close", tmp, err);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return Status::IoError("rename " + tmp + " to", path, err);
  }
  if (Status s = SyncDir(DirOf(path)); !s.ok()) return s;
  if (stats != nullptr) *stats = SnapshotStats{reader.entries(), bytes};
  return Status::Ok();
}

bool LoadSnapshotFile(const std::string& path, Engine& engine, SnapshotStats* stats,
                      std::string* error) {
  std::string data;
  if (Status s = ReadWholeFile(path, &data); !s.ok()) {
    *error = s.message();
    return false;
  }
  auto bad = [&](uint64_t offset, std::string_view why) {
    *error = "Bad snapshot " + path + " at offset " + std::to_string(offset) + ": " +
             std::string(why);
    return false;
  };
  RecordReader reader(data);
  Record record;
  bool header = false, ended = false;
  uint64_t chunks = 0;
  while (reader.Next(&record)) {
    if (ended) return bad(record.offset, "records after the end record");
    if (!header) {
      std::string why;
      if (record.type != kSnapshotHeader || !CheckHeader(record.type, record.payload, &why)) {
        return bad(record.offset, why.empty() ? "not a snapshot (bad header record)" : why);
      }
      header = true;
      continue;
    }
    if (record.type == kSnapshotChunk) {
      auto applied = engine.ApplyChanges(record.payload);
      if (!applied.ok()) return bad(record.offset, applied.error().message);
      ++chunks;
    } else if (record.type == kSnapshotEnd && record.payload.size() == 16) {
      if (DecodeFixed64(record.payload.data() + 8) != chunks) {
        return bad(record.offset, "end record counts another number of chunks");
      }
      if (stats != nullptr) {
        *stats = SnapshotStats{DecodeFixed64(record.payload.data()), data.size()};
      }
      ended = true;
    } else {
      return bad(record.offset, "unexpected record type " + std::to_string(record.type));
    }
  }
  if (reader.end() != ReadEnd::kClean) return bad(reader.end_offset(), reader.message());
  if (!header) return bad(0, "empty file");
  if (!ended) return bad(data.size(), "incomplete snapshot (no end record)");
  return true;
}

}  // namespace limiterd::persistence
