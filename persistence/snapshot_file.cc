#include "snapshot_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "durable_file.h"
#include "mapped_file.h"

namespace limiterd::persistence {
namespace {

// Appends through a buffer of at least kFlushAt bytes, so a snapshot costs
// a write(2) per megabyte, not per shard.
class BufferedFile {
 public:
  static constexpr std::size_t kFlushAt = 1u << 20;

  explicit BufferedFile(std::string path) : path_(std::move(path)) {}
  BufferedFile(const BufferedFile&) = delete;
  BufferedFile& operator=(const BufferedFile&) = delete;
  ~BufferedFile() {
    if (fd_ >= 0) ::close(fd_);
  }

  Status Create() {
    do {
      fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    } while (fd_ < 0 && errno == EINTR);
    if (fd_ < 0) return Status::IoError("create", path_, errno);
    buffer_.reserve(2 * kFlushAt);
    return Status::Ok();
  }
  // Frame records straight into it, then call MaybeFlush.
  std::string& buffer() { return buffer_; }
  Status MaybeFlush() { return buffer_.size() >= kFlushAt ? Flush() : Status::Ok(); }

  // Writes the rest, fsyncs and closes.
  Status Finish() {
    if (Status s = Flush(); !s.ok()) return s;
    if (::fsync(fd_) != 0) return Status::IoError("fsync", path_, errno);
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) return Status::IoError("close", path_, errno);
    return Status::Ok();
  }
  [[nodiscard]] std::uint64_t bytes() const { return written_ + buffer_.size(); }

 private:
  Status Flush() {
    if (Status s = AppendAndSync(fd_, buffer_, /*sync=*/false, path_); !s.ok()) return s;
    written_ += buffer_.size();
    buffer_.clear();
    return Status::Ok();
  }

  std::string path_;
  int fd_ = -1;
  std::string buffer_;
  std::uint64_t written_ = 0;
};

Result<SnapshotSummary> WriteTemp(const std::string& tmp, SnapshotReader& reader,
                                  std::string_view separator, std::int64_t created_ms,
                                  const std::atomic<bool>* cancel) {
  BufferedFile file(tmp);
  if (Status s = file.Create(); !s.ok()) return InvalidArgument(s.message());
  SnapshotSummary summary;
  file.buffer() = FramedFileHeader(kSnapshotMagic, created_ms, separator);
  summary.records = 1;
  std::string chunk;
  for (;;) {
    if (cancel != nullptr && cancel->load(std::memory_order_relaxed)) {
      return InvalidArgument("snapshot abandoned (shutdown)");
    }
    chunk.clear();
    if (!reader.Next(chunk)) break;
    if (chunk.empty()) continue;
    summary.records += AppendGroup(file.buffer(), kSnapshotChunkPart, kSnapshotChunk, chunk);
    if (Status s = file.MaybeFlush(); !s.ok()) return InvalidArgument(s.message());
  }
  summary.entries = reader.entries();
  std::string end;
  PutFixed64(end, summary.entries);
  PutFixed64(end, summary.records);
  (void)AppendRecord(file.buffer(), kSnapshotEnd, end);
  ++summary.records;
  summary.bytes = file.bytes();
  if (Status s = file.Finish(); !s.ok()) return InvalidArgument(s.message());
  summary.header.magic = std::string(kSnapshotMagic);
  summary.header.created_ms = created_ms;
  summary.header.separator = std::string(separator);
  return summary;
}

std::string At(std::uint64_t offset) { return " at offset " + std::to_string(offset); }

}  // namespace

Error FileError(const std::string& path, const std::string& what) {
  return InvalidArgument(path + ": " + what);
}

Result<SnapshotSummary> WriteSnapshotFile(const std::string& path, SnapshotReader& reader,
                                          std::string_view separator, std::int64_t created_ms,
                                          const std::atomic<bool>* cancel) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  auto summary = WriteTemp(tmp, reader, separator, created_ms, cancel);
  if (summary.ok()) {
    if (Status s = RenameDurably(tmp, path); !s.ok()) summary = InvalidArgument(s.message());
  }
  if (!summary.ok()) ::unlink(tmp.c_str());
  return summary;
}

Result<SnapshotSummary> ReadSnapshot(std::string_view bytes, const std::string& name,
                                     const ApplyFn& apply) {
  RecordReader reader(bytes);
  GroupAssembler chunks(kSnapshotChunkPart, kSnapshotChunk);
  SnapshotSummary summary;
  summary.bytes = bytes.size();
  Record record;
  bool have_end = false;
  std::uint64_t end_entries = 0, end_records = 0;
  while (reader.Next(&record)) {
    if (have_end) return FileError(name, "a record after the end record" + At(record.offset));
    if (summary.records == 0) {
      std::string error;
      if (record.type != kFileHeader) return FileError(name, "no file header" + At(0));
      if (!DecodeFileHeader(record.payload, &summary.header, &error)) {
        return FileError(name, error + At(0));
      }
      if (summary.header.magic != kSnapshotMagic) {
        return FileError(name, "not a limiterd snapshot (magic '" + summary.header.magic + "')");
      }
      if (!ReadableFormatVersion(summary.header.version)) {
        return FileError(name, UnreadableVersionMessage("snapshot", summary.header.version));
      }
      ++summary.records;
      continue;
    }
    std::string_view changes;
    switch (chunks.Add(record, &changes)) {
      case GroupAssembler::Step::kPart: break;
      case GroupAssembler::Step::kComplete:
        if (apply) {
          if (auto r = apply(changes); !r.ok()) {
            return FileError(name, "bad change records in the chunk" +
                                       At(chunks.group_offset()) + ": " + r.error().message);
          }
        }
        break;
      case GroupAssembler::Step::kOther:
        if (record.type != kSnapshotEnd || chunks.open() || record.payload.size() != 16) {
          return FileError(name, "unexpected record (type " + std::to_string(record.type) +
                                     ")" + At(record.offset));
        }
        end_entries = DecodeFixed64(record.payload.data());
        end_records = DecodeFixed64(record.payload.data() + 8);
        have_end = true;
        if (end_records != summary.records) {
          return FileError(name, "the end record counts " + std::to_string(end_records) +
                                     " records, the file has " +
                                     std::to_string(summary.records) + At(record.offset));
        }
        break;
    }
    ++summary.records;
  }
  // (kPadding too: only AOF incr files are zero-filled ahead.)
  if (reader.end() != ReadEnd::kClean) {
    const std::string what = reader.end() == ReadEnd::kTornTail
                                 ? "incomplete snapshot (" + reader.message() + ")"
                                 : reader.message();
    return FileError(name, what + At(reader.end_offset()));
  }
  if (summary.records == 0) return FileError(name, "empty file, not a snapshot");
  if (!have_end) {
    return FileError(name, "incomplete snapshot: no end record (the file ends" +
                               At(bytes.size()) + ")");
  }
  summary.entries = end_entries;
  return summary;
}

Result<SnapshotSummary> LoadSnapshotFile(const std::string& path, Engine& engine) {
  MappedFile file;
  if (Status s = MappedFile::Open(path, &file); !s.ok()) return InvalidArgument(s.message());
  // The separator is checked before anything is applied: keys from another
  // hierarchy would be filed under the wrong parents. (A bad header is
  // ReadSnapshot's to report.)
  FileHeader header;
  if (PeekFileHeader(file.bytes(), &header) && header.separator != engine.separator()) {
    return FileError(path, "written with hierarchy-separator '" + header.separator +
                               "', but this server uses '" + engine.separator() + "'");
  }
  return ReadSnapshot(file.bytes(), path,
                      [&](std::string_view changes) { return engine.ApplyChanges(changes); });
}

}  // namespace limiterd::persistence
