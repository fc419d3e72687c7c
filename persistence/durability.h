// Copyright limiterd authors.
// Durability: makes an Engine's state survive restarts and crashes (SPEC
// section 5). One object per daemon; the server owns it, the engine knows
// it only as its ChangeSink.
//
// Files, all in `dir`:
//   <dbfilename>                         the snapshot (SAVE, BGSAVE, save rules)
//   <appenddirname>/<appendfilename>.<n>.base.snap   the AOF's base: a snapshot
//   <appenddirname>/<appendfilename>.<n>.incr.aof    change records after it
//   <appenddirname>/<appendfilename>.manifest        which of those make the AOF
// (the multi-part layout of Redis 7: a rewrite writes a new base and starts
// a new incr file; the manifest, replaced atomically, says which are live,
// so a crash at any point of a rewrite leaves a loadable set.)
//
// Write path, per policy (appendfsync):
//   every change is framed into the log's buffer by the engine's thread,
//   under the engine's shard lock (ChangeSink::Record), and gets an LSN
//   (its end offset in the log). Before a connection sends the replies of
//   a batch of commands it asks for its last LSN:
//     no / everysec  the buffer is written to the file (write(2)) by
//                    whichever thread asks first, covering every thread's
//                    changes so far (a server joins the connections
//                    that would write, WouldWriteToReply, into one round
//                    and one write: server/aof_round.h); everysec fdatasyncs
//                    once a second on the log's own thread, never on the
//                    request path;
//     always         the sync thread writes and fdatasyncs everything
//                    pending, then calls back every waiter it covered: one
//                    fsync serves every connection that wrote meanwhile
//                    (group commit).
// A failed write or sync sets WriteError(): commands that change state get
// a MISCONF error until a retry succeeds (the cron retries every second);
// no reply is sent for a change that did not reach the disk. The bytes are
// kept and written again by the retry (after a failed fsync, everything
// since the last good one: the kernel may have dropped those pages), so
// changes made before the error are not lost once the disk recovers.
// (The internals: aof_log.h for the log, durability_jobs.cc for snapshots
// and the rewrite, file_format.h for the files.)
//
// Thread safety: every member may be called from any thread, except
// Load(), which runs once before serving.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "limiterd/engine.h"
#include "limiterd/result.h"

namespace limiterd::persistence {

enum class FsyncPolicy { kAlways, kEverySec, kNo };

struct SaveRule {
  int64_t seconds = 0;
  int64_t changes = 0;
};

struct DurabilityOptions {
  std::string dir = ".";
  bool appendonly = false;
  FsyncPolicy appendfsync = FsyncPolicy::kEverySec;
  std::string appendfilename = "appendonly.aof";
  std::string appenddirname = "appendonlydir";
  std::string dbfilename = "dump.snap";
  bool aof_load_truncated = true;
  // appendfsync always: keep the AOF zero-filled ahead (aof_zero_fill.h).
  bool aof_zero_fill = true;
  // appendfsync always: SyncInline fsyncs on the caller's thread while
  // fdatasyncs take at most this long on average (aof_log.h); 0: never.
  int64_t aof_inline_fsync_max_us = 1000;
  int64_t auto_aof_rewrite_percentage = 100;  // 0: never automatically
  int64_t auto_aof_rewrite_min_size = 64 << 20;
  std::vector<SaveRule> save_rules;           // empty: no automatic snapshots
  bool stop_writes_on_bgsave_error = true;
  // Wall clock in unix ms (LASTSAVE, save rules); the daemon passes one
  // that ignores DEBUG CLOCK. Empty: the system clock.
  std::function<int64_t()> wall_ms;
  // Where background events (a failed BGSAVE, a rewrite done, a write
  // error) are reported; the daemon passes its logger. May be empty.
  std::function<void(const std::string&)> log_warning;
  std::function<void(const std::string&)> log_notice;
  // Tests only: called by background jobs after each step ("rewrite:
  // new-incr", "rewrite: cut", "rewrite: base", "rewrite: manifest",
  // "rewrite: cleanup", "bgsave: cut"), on the job's thread, so a test can
  // copy the files as a crash there would leave them, or hold the job.
  std::function<void(std::string_view step)> job_step_hook;
};

// What start-up loaded.
struct LoadReport {
  std::string source;          // "aof", "snapshot" or "none"
  uint64_t keys = 0;           // entries loaded from the snapshot / base
  uint64_t records = 0;        // change records replayed from the AOF
  bool truncated_tail = false; // a torn last record was dropped
  std::string warning;         // set when truncated_tail: file, offset
  double seconds = 0;
};

// INFO persistence, with Redis's field names and meanings.
struct PersistenceInfo {
  bool loading = false;
  int64_t rdb_changes_since_last_save = 0;
  bool rdb_bgsave_in_progress = false;
  int64_t rdb_last_save_time = 0;       // unix seconds
  std::string rdb_last_bgsave_status = "ok";
  int64_t rdb_last_bgsave_time_sec = -1;
  int64_t rdb_current_bgsave_time_sec = -1;
  int64_t rdb_saves = 0;                // snapshots begun since start-up
  bool aof_enabled = false;
  bool aof_rewrite_in_progress = false;
  bool aof_rewrite_scheduled = false;
  int64_t aof_last_rewrite_time_sec = -1;
  int64_t aof_current_rewrite_time_sec = -1;
  std::string aof_last_bgrewrite_status = "ok";
  int64_t aof_rewrites = 0;             // rewrites begun since start-up
  int64_t aof_rewrites_consecutive_failures = 0;
  std::string aof_last_write_status = "ok";
  int64_t aof_current_size = 0;
  int64_t aof_base_size = 0;
  int64_t aof_buffer_length = 0;
  int64_t aof_delayed_fsync = 0;
  int64_t aof_zero_filled_ahead = 0;  // bytes past aof_current_size (aof_log.h)
  uint64_t aof_fsyncs = 0;              // fdatasync calls (group commit: << writes)
  uint64_t aof_fsyncs_inline = 0;       // of them, made by SyncInline's callers
  uint64_t aof_records = 0;             // change records logged
};

class Durability : public ChangeSink {
 public:
  Durability(Engine& engine, DurabilityOptions options);
  ~Durability() override;  // flushes what is written; stops the threads
  Durability(const Durability&) = delete;
  Durability& operator=(const Durability&) = delete;

  // Start-up: the AOF if appendonly (its base, then its incr files), else
  // the snapshot; with appendonly and no AOF yet but a snapshot, loads the
  // snapshot and makes it the AOF's base. Then installs itself as the
  // engine's sink. Errors name the file and the byte offset.
  Result<LoadReport> Load();

  // ChangeSink: frames `changes` into the log's buffer (or this thread's
  // open transaction) and counts them for the save rules.
  void Record(std::string_view changes) override;
  // Without an AOF only the count matters (save rules): the engine then
  // skips encoding its changes.
  bool WantsRecords() const override;

  // The end LSN of the last change this thread recorded (0: none yet).
  static uint64_t ThreadLastLsn();

  // Before replying to changes up to `lsn`: true when the policy is met
  // now (no / everysec: written to the file, inline; always: on disk).
  // False with appendfsync always when it is not on disk yet: then call
  // WhenDurable. Also false (with `*failed` set) when the write failed.
  bool ReadyToReply(uint64_t lsn, bool* failed);
  // True when ReadyToReply(lsn) would write(2) now (no / everysec, not yet
  // written). A caller serving many clients may first let the others'
  // batches in, so that one write covers them all.
  bool WouldWriteToReply(uint64_t lsn) const;
  // appendfsync always: runs done(ok) on the sync thread once `lsn` is on
  // disk (ok) or its write failed (!ok). Post back to your own thread.
  void WhenDurable(uint64_t lsn, std::function<void(bool ok)> done);
  // appendfsync always, instead of WhenDurable when that is cheaper: writes
  // and fdatasyncs on this thread, and returns what WhenDurable's done
  // would get. std::nullopt when it did not (another fsync under way, or
  // fsyncs slower than aof_inline_fsync_max_us): call WhenDurable.
  std::optional<bool> SyncInline(uint64_t lsn);

  // MULTI/EXEC: the changes this thread records between these two calls go
  // to the log as one group of records (all or nothing on disk, whatever
  // its size). Call Commit while the engine's AtomicSection is still held.
  void BeginTransaction();
  void CommitTransaction();

  // Set while writers must be refused: the MISCONF error text (without the
  // "-"), e.g. "MISCONF Errors writing to the AOF file: No space left on
  // device".
  std::optional<std::string> WriteError() const;

  // SAVE: a snapshot written by the calling thread (others keep serving).
  // Error while a BGSAVE runs; waits for a running rewrite to end (the
  // engine has one point-in-time snapshot at a time).
  Result<bool> Save();
  // BGSAVE: "Background saving started", or an error when one runs.
  Result<std::string> BgSave();
  // BGREWRITEAOF: "Background append only file rewriting started" (or
  // "... scheduled" while a BGSAVE or SAVE runs: the cron starts it); an
  // error when one is running, or with appendonly no.
  Result<std::string> BgRewriteAof();
  int64_t LastSaveUnix() const;  // LASTSAVE
  PersistenceInfo Info() const;

  // CONFIG SET: takes from `options` what may change while running:
  // appendfsync, save_rules, stop_writes_on_bgsave_error and the two
  // auto_aof_rewrite settings. The files, appendonly and the callbacks stay
  // as opened. A new appendfsync applies from the next batch of replies
  // (AofLog::SetPolicy); stop_writes_on_bgsave_error no lifts a snapshot's
  // MISCONF at once, yes brings it back while the last snapshot failed.
  void Reconfigure(const DurabilityOptions& options);

  // Once a second (the server's cron): save rules, automatic rewrite,
  // retry after a write error, a scheduled rewrite. (everysec's fsync is
  // the sync thread's own tick, aof_log.cc: the cron's seconds drift by
  // however long its ticks take.)
  void Cron();

  // SHUTDOWN: abandons a running rewrite (the log is complete without it)
  // and a BGSAVE when a snapshot follows here anyway, else waits for the
  // BGSAVE; writes and fsyncs the log; with `save` (or save rules set,
  // unless `nosave`), a snapshot. Error if the log could not be flushed or
  // the snapshot failed: the daemon then keeps running, as Redis does.
  // May be called again (the daemon's exit path calls it after SHUTDOWN).
  Result<bool> Shutdown(bool save, bool nosave);

  struct State;  // internal

 private:
  std::unique_ptr<State> state_;
};

// `limiterd --check-aof FILE [--fix]` and `limiterd --check-snapshot FILE`:
// the report goes to `out`; returns the process exit code (0: valid or
// fixed). FILE may be an AOF manifest, an incr file or a base file. Files
// are replayed into a scratch engine, so change records are checked too.
// --fix only ever cuts the last incr file at its last whole record (a torn
// tail, or damage there: the report says how many bytes were cut).
int CheckAof(const std::string& path, bool fix, std::string& out);
int CheckSnapshot(const std::string& path, std::string& out);

}  // namespace limiterd::persistence
