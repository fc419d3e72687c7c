// The space an AOF incr file keeps zero-filled ahead of its writes, with
// appendfsync always (aof_log.h).
//
// Why: an fdatasync of bytes that change a file's size must also commit the
// size to the filesystem's journal; PostgreSQL zero-fills its WAL segments
// so that its fsyncs need not. Measured here (bench/fsync_bench, ext4 on the
// VM's disk): 146-203 us per fdatasync of 600 bytes into zero-filled space,
// 239-259 us appended, and 59-84 against 99-110 us of CPU.
//
// How: a thread of its own fills 16 MiB at a time once less than 8 MiB is
// left ahead, starting 1 MiB past the end so that the writer appends
// meanwhile (the gap is filled last). It writes 128 KiB pieces, each
// written back (sync_file_range) before a 2.5 ms pause, so that the disk
// sees small bursts and a group commit, whose fdatasync waits for every
// page of the file under writeback, waits for little. It fdatasyncs at the
// end through a descriptor of its own: the group commit neither writes nor
// flushes zeros, and each descriptor still sees every writeback error
// (Linux errseq). The writer appends through the gap and on into the
// pieces done; one that catches up waits for the piece under way, and the
// fill stops there. It fills only while fsyncs are many for the bytes (at
// most 8 KiB per fsync since its last decision, taken again after each MiB
// when it decided against): with big groups the zeros double the bytes
// written for little saved. Readers take zeros from a record boundary to
// the end of a file for padding (record_format.h).
//
// Thread safety: Write, RequestFill, CutTo, SwitchTo are the writer's, one
// at a time (the log's write_mu_); end() and stats() from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>

#include "durable_file.h"

namespace limiterd::persistence {

class LogFile;

class AofZeroFill {
 public:
  // `file` holds `size` bytes, nothing ahead; the log's written total is
  // `lsn` (RequestFill). Starts the thread.
  AofZeroFill(std::shared_ptr<LogFile> file, std::uint64_t size, std::uint64_t lsn);
  // Stops the thread, after the fill under way if any.
  ~AofZeroFill();
  AofZeroFill(const AofZeroFill&) = delete;
  AofZeroFill& operator=(const AofZeroFill&) = delete;

  // The current file's size on disk: what is written, then the space ahead.
  std::uint64_t end() const { return end_.load(std::memory_order_acquire); }

  // Writes `bytes` at `offset` of the current file, waiting only to stay
  // out of the range a fill is writing.
  Status Write(std::string_view bytes, std::uint64_t offset);
  // After a write that ended at `end`: asks for a fill if little is left
  // ahead. `written` and `fsyncs` are the log's totals so far (bytes
  // written, fdatasyncs): the thread decides from them whether it pays.
  void RequestFill(std::uint64_t end, std::uint64_t written, std::uint64_t fsyncs);

  // Cuts the current file to `size` (a rewind, or the space ahead at
  // shutdown) once no fill is under way. 0, or the errno of ftruncate.
  int CutTo(std::uint64_t size);
  // Later writes go to `next`, which holds `size` bytes; the space ahead
  // is cut off the old file, which ends at `old_size`, best effort.
  void SwitchTo(std::shared_ptr<LogFile> next, std::uint64_t size, std::uint64_t old_size);

  struct Stats {
    std::uint64_t fills = 0;    // fills done
    std::uint64_t skipped = 0;  // decided against (they would not have paid)
  };
  Stats stats() const;

 private:
  void Loop();
  // One fill from end_ on; mu_ held on entry and exit.
  void FillLocked(std::unique_lock<std::mutex>& lock);
  std::unique_lock<std::mutex> LockIdle();

  std::mutex mu_;
  std::condition_variable wanted_cv_;  // the thread waits here
  std::condition_variable idle_cv_;    // writers wait here for a fill's end
  std::shared_ptr<LogFile> file_;      // GUARDED_BY(mu_); the writer reads it
  // Stored under mu_. The thread writes only from end_ on (from fill_from_
  // on while filling_, and the gap below it under mu_).
  std::atomic<std::uint64_t> end_;
  bool filling_ = false;               // GUARDED_BY(mu_)
  std::uint64_t fill_from_ = 0;        // GUARDED_BY(mu_)
  int waiters_ = 0;                    // GUARDED_BY(mu_): writers past fill_from_
  bool stop_ = false;                  // GUARDED_BY(mu_)
  // A request: set by the writer (under mu_, with its totals), cleared by
  // the thread.
  std::atomic<bool> wanted_{false};
  std::uint64_t wanted_written_ = 0;   // GUARDED_BY(mu_): the request's totals
  std::uint64_t wanted_fsyncs_ = 0;    // GUARDED_BY(mu_)
  std::uint64_t written_mark_ = 0;     // GUARDED_BY(mu_): the totals at the
  std::uint64_t fsyncs_mark_ = 0;      // GUARDED_BY(mu_): last decision
  // No request before this file offset: after a fill that failed, was
  // outrun, or would not have paid. Stored under mu_.
  std::atomic<std::uint64_t> next_at_{0};
  std::atomic<std::uint64_t> fills_{0};
  std::atomic<std::uint64_t> skipped_{0};
  std::thread thread_;
};

}  // namespace limiterd::persistence
