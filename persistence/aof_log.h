// The AOF's write path: change records framed into a buffer by the engine's
// threads, written and fsynced per appendfsync, with group commit.
//
// LSNs. Every framed byte has a position in one stream (the log sequence
// number, an offset that never goes back, across incr files); an append's
// LSN is where its record ends. Three marks move forward:
//   framed   everything Append has buffered          (mu_)
//   written  handed to write(2), in order, no gaps   (written_lsn_)
//   synced   fdatasync'ed                             (synced_lsn_)
// A change may be acknowledged once written (no, everysec) or synced
// (always) reaches its LSN.
//
// Who writes:
//   always    the sync thread: whenever someone waits (WhenDurable) it takes
//             everything pending, writes it with one write(2), fdatasyncs
//             once, and calls back every waiter it covered. Changes that
//             arrive during the fsync wait for the next round, which then
//             covers all of them: one fsync per round, not per change.
//             Or the caller itself (SyncInline), the same way, when no
//             fsync is under way and fdatasyncs are short: Redis's event
//             loop fsyncs its own AOF. Handing a round to the sync thread
//             and being called back costs two thread wake-ups (and the
//             sync thread wakes twice more inside fdatasync: once the data
//             is written, once the cache is flushed); on a busy machine
//             each wake-up may wait for a CPU longer than the fsync takes
//             (docs/performance-history.md). Callers that have other work to do
//             meanwhile, or fsyncs that take long, are better off waiting.
//   everysec  the thread that asks (ReadyToReply) writes everything pending,
//   no        whoever's it is (the write mutex makes one thread the leader,
//             the rest find their bytes written); the sync thread writes
//             leftovers and, for everysec, fdatasyncs once a second.
//
// Failures. A failed or short write truncates the file back to its last
// good size and keeps the bytes; a failed fdatasync truncates the file back
// to its last synced size and keeps every byte since (after a failed fsync
// the kernel may have dropped the dirty pages, so the only honest retry is
// to write them again). Either way WriteError() is set, every waiter is told
// no, and nothing more is written until Retry() (the cron, each second)
// succeeds. With appendfsync no there is nothing to write again after an
// fsync failure: only the fsync is retried.
//
// Zero-filled ahead. The file is written at offsets the log tracks, not
// appended to: with appendfsync always, into space zero-filled ahead of
// the writes (aof_zero_fill.h), so that an fdatasync need not commit a new
// size. Loading cuts that space off the last file, and so does a clean
// shutdown (DropPadding). Other policies fsync at most once a second and
// append.
//
// Switching files (AOF rewrite): SwitchFileAtCut, called at the engine's
// snapshot cut, marks the current framed LSN; bytes before it go to the old
// file, which is fdatasync'ed before the first byte after it goes to the
// new one. The new file is prepared (header, fsync, manifest) beforehand by
// the caller, so the switch costs the writer nothing but that fsync.
//
// Thread safety: every member may be called from any thread. Append and
// SwitchFileAtCut run under engine shard locks: they only take mu_, briefly.
// Lock order: sync_mu_, then write_mu_, then mu_ (or AofZeroFill's own);
// callbacks run with none held.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "aof_zero_fill.h"
#include "durability.h"
#include "durable_file.h"

namespace limiterd::persistence {

// An incr file open for appending; closed when the last user lets go.
class LogFile {
 public:
  LogFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  LogFile(const LogFile&) = delete;
  LogFile& operator=(const LogFile&) = delete;
  ~LogFile();
  [[nodiscard]] int fd() const { return fd_; }
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  int fd_;
  std::string path_;
};

class AofLog {
 public:
  // Appends to `file`, which holds `file_size` bytes. Starts the sync thread.
  AofLog(FsyncPolicy policy, std::shared_ptr<LogFile> file, std::uint64_t file_size);
  // Stops the sync thread. Does not flush (Flush first); waiters still
  // waiting are dropped uncalled.
  ~AofLog();
  AofLog(const AofLog&) = delete;
  AofLog& operator=(const AofLog&) = delete;

  // Frames `changes` as one group (file_format.h) and returns its LSN.
  std::uint64_t Append(std::string_view changes);

  // At a rewrite's cut (every shard locked: nothing is appended meanwhile):
  // what is framed from now on goes to `next`, which holds `next_size` bytes.
  void SwitchFileAtCut(std::shared_ptr<LogFile> next, std::uint64_t next_size);

  // See Durability::ReadyToReply / WhenDurable / WouldWriteToReply.
  bool ReadyToReply(std::uint64_t lsn, bool* failed);
  bool WouldWriteToReply(std::uint64_t lsn) const {
    return policy() != FsyncPolicy::kAlways && !failed_.load(std::memory_order_acquire) &&
           written_lsn_.load(std::memory_order_acquire) < lsn;
  }
  void WhenDurable(std::uint64_t lsn, std::function<void(bool ok)> done);
  // appendfsync always: writes and fdatasyncs everything pending on this
  // thread, unless an fsync is under way (the sync thread's, or another
  // caller's) or fdatasyncs took more than SetInlineFsyncMaxUs on average
  // lately: then std::nullopt, and the caller waits (WhenDurable). Else
  // whether `lsn` is on disk (false: the write failed, as WhenDurable's
  // !ok). Waiters it covers are called back here too.
  std::optional<bool> SyncInline(std::uint64_t lsn);
  // The average fdatasync time (microseconds) above which SyncInline
  // declines; 0: it always declines.
  void SetInlineFsyncMaxUs(std::int64_t us) {
    inline_fsync_max_ns_.store(us > 0 ? static_cast<std::uint64_t>(us) * 1000 : 0,
                               std::memory_order_relaxed);
  }

  // CONFIG SET appendfsync: replies from now on wait for `policy`. The sync
  // thread then writes and fsyncs everything framed so far, so that no
  // waiter of the old policy waits for the new one's pace (`always` to
  // `no` would otherwise leave them waiting for an fsync that never comes).
  void SetPolicy(FsyncPolicy policy);
  FsyncPolicy policy() const { return policy_.load(std::memory_order_acquire); }
  // aof-zero-fill: with appendfsync always, keep the file zero-filled
  // ahead (aof_zero_fill.h; on by default). Off: writes append; what is
  // filled already is used up, not cut.
  void SetZeroFill(bool on) { zero_fill_on_.store(on, std::memory_order_relaxed); }

  // Writes and fdatasyncs everything framed so far, whatever the policy
  // (shutdown). Success also clears a write error.
  Status Flush();
  // After a write error: tries again; success clears it. Cheap otherwise.
  void Retry();
  // Cuts the zero-filled space off the current file (shutdown), best
  // effort; the next write with appendfsync always zero-fills again.
  void DropPadding();

  // "MISCONF Errors writing to the AOF file: <strerror>" while failing.
  std::optional<std::string> WriteError() const;
  bool failing() const { return failed_.load(std::memory_order_acquire); }

  struct Stats {
    std::uint64_t records = 0;       // groups appended
    std::uint64_t fsyncs = 0;        // successful fdatasync calls
    std::uint64_t fsyncs_inline = 0; // of them, SyncInline's
    std::uint64_t fsync_ns_avg = 0;  // fdatasync's time, moving average
    std::uint64_t pending_bytes = 0; // framed, not yet taken by a writer
    std::uint64_t file_size = 0;     // the current incr file, as written
    std::uint64_t padding = 0;       // zero-filled after file_size
    std::uint64_t zero_fills = 0;          // AofZeroFill::Stats
    std::uint64_t zero_fills_skipped = 0;
  };
  Stats stats() const;
  // The file the log writes now, and the bytes written to it: what
  // INFO's aof_current_size counts for that file. Not its size on disk,
  // which runs ahead of the zero-fill's padding count while a fill is
  // under way (up to 17 MiB for a third of a second).
  struct CurrentFile {
    std::string path;
    std::uint64_t size = 0;
  };
  CurrentFile current_file() const;
  // Tests: sets the fdatasync time average that SyncInline looks at.
  void TEST_SetFsyncNsAverage(std::uint64_t ns) {
    fsync_ns_avg_.store(ns, std::memory_order_relaxed);
  }

 private:
  // The zero-filled space past `file_size` (the file_size_ read once, so
  // that stats() reports a padding that agrees with its file_size).
  std::uint64_t PaddingPast(std::uint64_t file_size) const;

  struct Switch {
    std::uint64_t lsn = 0;
    std::shared_ptr<LogFile> file;
    std::uint64_t size = 0;
  };
  struct Waiter {
    std::uint64_t lsn = 0;
    std::function<void(bool)> done;
  };

  void SyncLoop();
  // Takes what is pending and writes it. Holds write_mu_.
  Status WriteLocked();
  Status WritePendingLocked();
  Status SwitchLocked(std::uint64_t at);
  // Bytes before `lsn` are on disk: trims the retained copy, moves synced.
  void MarkSyncedLocked(std::uint64_t lsn);
  // Back to the last good size after a failed write or sync. Holds write_mu_.
  void RewindLocked(std::uint64_t to_lsn);
  void SetFailed(const Status& status);
  // Write, then fdatasync what was written; waiters are left to Settle.
  Status WriteAndSync();
  // WriteAndSync's work, with sync_mu_ held.
  Status WriteAndSyncHeld();
  // Calls back the waiters that are settled: covered by synced, or all of
  // them (with false) while failing. Holds no lock.
  void Settle();
  // Clears or sets the error from `status`, then Settle().
  void Conclude(const Status& status);
  std::uint64_t SizeAtLocked(std::uint64_t lsn) const {
    return file_start_size_ + (lsn - file_start_lsn_);
  }

  std::atomic<FsyncPolicy> policy_;
  std::atomic<bool> zero_fill_on_{true};

  // Framing side: held for a memcpy by the engine's threads.
  mutable std::mutex mu_;
  std::condition_variable cv_;           // the sync thread waits here
  std::string pending_;                  // GUARDED_BY(mu_)
  std::uint64_t framed_lsn_;             // GUARDED_BY(mu_)
  std::uint64_t records_ = 0;            // GUARDED_BY(mu_)
  std::optional<Switch> switch_;         // GUARDED_BY(mu_)
  std::vector<Waiter> waiters_;          // GUARDED_BY(mu_)
  std::string error_text_;               // GUARDED_BY(mu_)
  bool stop_ = false;                    // GUARDED_BY(mu_)
  bool sync_idle_ = false;               // GUARDED_BY(mu_): waiting on cv_
  bool policy_changed_ = false;          // GUARDED_BY(mu_): SetPolicy, for the sync thread

  // Readable without a lock (ReadyToReply's fast path, stats). Stored
  // with release after the bytes they count are written or synced;
  // synced_lsn_ is also only stored under mu_, so that WhenDurable and
  // Settle agree on which waiters it covers.
  std::atomic<std::uint64_t> written_lsn_;
  std::atomic<std::uint64_t> synced_lsn_;
  std::atomic<bool> failed_{false};
  std::atomic<std::uint64_t> fsyncs_{0};
  std::atomic<std::uint64_t> fsyncs_inline_{0};
  // fdatasync's time, a moving average (1/8 of each new one; stored under
  // sync_mu_), and SyncInline's bound on it (0: never inline).
  std::atomic<std::uint64_t> fsync_ns_avg_{0};
  std::atomic<std::uint64_t> inline_fsync_max_ns_{1'000'000};
  std::atomic<std::uint64_t> file_size_{0};
  // current_file()'s pair: file_path_, and file_size_ once a switch is
  // over. A leaf lock, taken only at a switch and by current_file().
  mutable std::mutex file_mu_;
  std::string file_path_;                // GUARDED_BY(file_mu_)

  // One fdatasync at a time: two concurrent ones on a file could split
  // an error report between them (the kernel reports it once).
  std::mutex sync_mu_;

  // Writing side.
  std::mutex write_mu_;
  // Bytes from LSN wbuf_lsn_ on: [0, wpos_) written, the rest not yet.
  // Written bytes are kept until synced (not with appendfsync no), to be
  // written again if the fsync fails.
  std::string wbuf_;                     // GUARDED_BY(write_mu_)
  std::uint64_t wbuf_lsn_;               // GUARDED_BY(write_mu_)
  std::size_t wpos_ = 0;                 // GUARDED_BY(write_mu_)
  std::shared_ptr<LogFile> file_;        // GUARDED_BY(write_mu_)
  std::uint64_t file_start_lsn_;         // GUARDED_BY(write_mu_)
  std::uint64_t file_start_size_;        // GUARDED_BY(write_mu_)
  std::optional<Switch> next_;           // GUARDED_BY(write_mu_): taken from switch_
  bool truncate_pending_ = false;        // GUARDED_BY(write_mu_): a rewind's
                                         // ftruncate failed; retried first

  // The writer's side of the file's space ahead (GUARDED_BY(write_mu_)
  // but for end() and stats()).
  AofZeroFill zero_fill_;

  std::thread sync_thread_;
};

}  // namespace limiterd::persistence
