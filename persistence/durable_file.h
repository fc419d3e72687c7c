// Durable file operations, in the order that survives a crash at any point:
// write a temporary file, fsync it, rename it over the target, fsync the
// directory (so the rename itself is on disk).
//
// Errors are values, never exceptions: each names the operation, the path and
// the errno text. After a failed fsync the state of the page cache is unknown
// (a later fsync may "succeed" without the lost data); callers must treat it
// as fatal for that file, never retry and carry on.
//
// Thread safety: the functions share no state; concurrent calls on different
// paths are safe. Two WriteFileAtomically calls on the same path from one
// process share a temporary name and must not overlap.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace limiterd::persistence {

class [[nodiscard]] Status {
 public:
  static Status Ok() { return Status(); }
  // "<what> <path>: <strerror(error_number)>"
  static Status IoError(std::string_view what, std::string_view path, int error_number);

  [[nodiscard]] bool ok() const { return error_number_ == 0; }
  [[nodiscard]] int error_number() const { return error_number_; }
  [[nodiscard]] const std::string& message() const { return message_; }

 private:
  int error_number_ = 0;
  std::string message_;
};

// Replaces `path` with `bytes` so that after a crash at any moment `path`
// holds either the old contents or the new ones in full. Writes
// `path.tmp.<pid>`, fsyncs it, renames it over `path`, fsyncs the directory.
// On failure the temporary file is removed (best effort) and `path` is
// untouched unless the rename itself succeeded.
Status WriteFileAtomically(const std::string& path, std::string_view bytes);

// Appends all of `bytes` to `fd` (opened with O_APPEND), retrying on EINTR
// and short writes, then fdatasync()s when `sync` is true. On error a prefix
// of `bytes` may already be in the file: the caller truncates back to its
// last known good size (TruncateFile) or stops. `name` is for messages only.
Status AppendAndSync(int fd, std::string_view bytes, bool sync, std::string_view name = "fd");

// Cuts `path` to `size` bytes and fsyncs it (e.g. a torn AOF tail).
Status TruncateFile(const std::string& path, std::uint64_t size);

// Reads the whole of `path` into *out.
Status ReadWholeFile(const std::string& path, std::string* out);

// fsyncs a directory, so that the names created, renamed or removed in it
// are on disk.
Status SyncDirectory(const std::string& dir);

// Renames `from` over `to` and fsyncs the directory of `to`: the last step
// of a file written to a temporary name and fsynced (for files too large
// for WriteFileAtomically's one buffer).
Status RenameDurably(const std::string& from, const std::string& to);

// Deletes `path` (a missing one is no error), first cutting it a few MiB
// at a time. Unlinking a large file frees all its blocks at once, and
// ext4 holds one journal handle meanwhile: with appendfsync always, the
// log's fdatasync (which commits the journal when the file grew) waited
// 26 ms behind the unlink of a 120 MB incr file, 43 ms long, at the end
// of every rewrite (perf trace, docs/performance-history.md). Each cut is a
// transaction of its own, and a commit passes between two.
Status RemoveGradually(const std::string& path);

// Opens (creating it if needed) `path` for writing at offsets the caller
// tracks (WriteAllAt; not O_APPEND, so that writes can land in space
// zero-filled ahead); *fd is -1 on error.
Status OpenForWriting(const std::string& path, int* fd);

// Writes all of `bytes` at `offset` (pwrite), retrying on EINTR and short
// writes. On error a prefix may be written, as with AppendAndSync.
Status WriteAllAt(int fd, std::string_view bytes, std::uint64_t offset, std::string_view name);
// Writes `count` zero bytes at `offset`, 64 KiB at a time.
Status WriteZerosAt(int fd, std::uint64_t offset, std::uint64_t count, std::string_view name);

}  // namespace limiterd::persistence
