// Copyright limiterd authors.
// Durability's snapshots and rewrites (durability.h): SAVE, BGSAVE,
// BGREWRITEAOF, the cron's save rules and automatic rewrite.
//
// One job at a time, because the engine has one point-in-time snapshot at a
// time: BGSAVE during a rewrite is refused (BGSAVE SCHEDULE is the server's),
// BGREWRITEAOF during a BGSAVE is scheduled and the cron starts it, SAVE
// waits for a rewrite to end.
//
// The rewrite, step by step, with what a crash after each step loads (M is
// the manifest on disk, b and k the old base and last incr):
//   1. new-incr  incr k+1 created (header, fsynced); M = {b, ..., k, k+1}
//                 -> b ... k, then the empty k+1
//   2. cut        the snapshot's cut; the log switches to k+1 at that LSN
//                 (bytes before it end k, fsynced before any byte goes to k+1)
//                 -> b ... k (everything before the cut), k+1 (after it)
//   3. base       base b+1 written from the snapshot: temp, fsync, rename
//                 -> as 2 (b+1 is not listed yet)
//   4. manifest   M = {b+1, k+1}
//                 -> b+1 (the state at the cut), k+1 (everything after it)
//   5. cleanup    the files M no longer lists are deleted
// A failure at any step leaves M as it was at that step: loadable, and the
// log goes on in whichever incr file it is on.
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "aof_files.h"
#include "durability_state.h"
#include "snapshot_file.h"

namespace limiterd::persistence {
namespace {

using Clock = std::chrono::steady_clock;

std::int64_t SecondsSince(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - start).count();
}

// After a failed automatic rewrite the cron waits this long before the next
// attempt, doubling up to an hour (a full disk must not mean a rewrite a
// second).
constexpr std::int64_t kRewriteRetryMs = 60'000;
constexpr std::int64_t kRewriteRetryMaxMs = 3'600'000;
// After a failed BGSAVE the save rules wait this long (Redis:
// CONFIG_BGSAVE_RETRY_DELAY).
constexpr std::int64_t kBgSaveRetryMs = 5'000;

}  // namespace

// ---- State: jobs -------------------------------------------------------------

void Durability::State::JoinFinishedLocked() {
  // A job sets kNone as its last act under jobs_mu: once it is kNone the
  // thread only has to return, and joining here cannot wait on us.
  if (job == Job::kNone && job_thread.joinable()) job_thread.join();
}

void Durability::State::StopJob(bool snapshot_follows) {
  std::unique_lock lock(jobs_mu);
  rewrite_scheduled = false;
  // A BGSAVE's file is what the user asked for: let it finish, unless a
  // snapshot is written right after anyway. A rewrite is never needed: the
  // log is complete without it.
  if (job == Job::kRewrite || (job == Job::kBgSave && snapshot_follows)) cancel = true;
  // A SAVE runs on its caller's thread: wait for it.
  jobs_cv.wait(lock, [&] { return job == Job::kNone; });
  if (job_thread.joinable()) job_thread.join();
  cancel = false;
}

void Durability::State::FinishSave(const Result<bool>& result, std::int64_t dirty_at_cut,
                                   Clock::time_point started) {
  // Caller holds jobs_mu.
  last_bgsave_secs = SecondsSince(started);
  bgsave_ok = result.ok();
  RefreshSnapshotFailingLocked();
  if (result.ok()) {
    changes_since_save.fetch_sub(dirty_at_cut, std::memory_order_relaxed);
    last_save_unix = NowMs() / 1000;
    Notice("DB saved on disk");
  } else {
    Warn("Snapshot to " + snapshot_path + " failed: " + result.error().message);
  }
}

Result<std::string> Durability::State::StartBgSaveLocked() {
  JoinFinishedLocked();
  std::int64_t dirty_at_cut = 0;
  auto reader = engine.StartSnapshot([&] { dirty_at_cut = changes_since_save.load(); });
  if (!reader.ok()) return reader.error();
  job = Job::kBgSave;
  ++saves_started;
  job_started = Clock::now();
  last_bgsave_try_ms = NowMs();
  job_thread = std::thread([this, r = std::move(*reader), dirty_at_cut]() mutable {
    // For top -H, perf and gdb; by the job itself, before its first step.
    pthread_setname_np(pthread_self(), "bgsave");
    Step("bgsave: cut");
    auto written = WriteSnapshotFile(snapshot_path, *r, engine.separator(), NowMs(), &cancel);
    r.reset();  // ends the engine's snapshot before the next job may start
    std::lock_guard lock(jobs_mu);
    FinishSave(written.ok() ? Result<bool>(true) : Result<bool>(written.error()), dirty_at_cut,
               job_started);
    job = Job::kNone;
    jobs_cv.notify_all();
  });
  return std::string("Background saving started");
}

void Durability::State::StartRewriteLocked() {
  JoinFinishedLocked();
  job = Job::kRewrite;
  ++rewrites_started;
  rewrite_scheduled = false;
  job_started = Clock::now();
  job_thread = std::thread([this] {
    pthread_setname_np(pthread_self(), "aof-rewrite");  // as the BGSAVE's
    Result<bool> result = Rewrite();
    std::lock_guard lock(jobs_mu);
    last_rewrite_secs = SecondsSince(job_started);
    rewrite_ok = result.ok();
    rewrite_failures_in_row = result.ok() ? 0 : rewrite_failures_in_row + 1;
    if (result.ok()) {
      auto_rewrite_delay_ms = 0;
      Notice("Background AOF rewrite finished successfully");
    } else {
      if (auto_rewrite) {
        auto_rewrite_delay_ms =
            std::min(kRewriteRetryMaxMs, std::max(kRewriteRetryMs, 2 * auto_rewrite_delay_ms));
        next_auto_rewrite_ms = NowMs() + auto_rewrite_delay_ms;
      }
      Warn("Background AOF rewrite failed: " + result.error().message);
    }
    auto_rewrite = false;
    job = Job::kNone;
    jobs_cv.notify_all();
  });
}

Result<bool> Durability::State::Rewrite() {
  Manifest listed;
  {
    std::lock_guard lock(files_mu);
    listed = manifest;
  }
  // 1. The new incr file, listed before a byte goes to it.
  const std::int64_t incr_seq = listed.last_incr_seq() + 1;
  const std::string incr_name = IncrFileName(options.appendfilename, incr_seq);
  auto incr = CreateIncrFile(aof_dir, incr_name, NowMs(), engine.separator());
  if (!incr.ok()) return incr.error();
  listed.incrs.push_back(AofFile{incr_name, incr_seq});
  if (auto r = WriteManifest(aof_dir, options.appendfilename, listed); !r.ok()) {
    ::unlink(AofPath(incr_name).c_str());
    return r;
  }
  {
    std::lock_guard lock(files_mu);
    manifest = listed;
  }
  Step("rewrite: new-incr");

  // 2. The cut: every shard is locked, so the LSN noted is exactly the
  // boundary between the snapshot and the new incr file. No I/O here.
  auto reader = engine.StartSnapshot([&] { log->SwitchFileAtCut(incr->file, incr->size); });
  if (!reader.ok()) return reader.error();
  incr->file.reset();  // the log holds it now
  Step("rewrite: cut");

  // 3. The new base.
  const std::int64_t base_seq = listed.base_seq() + 1;
  const std::string base_name = BaseFileName(options.appendfilename, base_seq);
  auto base = WriteSnapshotFile(AofPath(base_name), **reader, engine.separator(), NowMs(), &cancel);
  reader->reset();
  if (!base.ok()) return base.error();
  Step("rewrite: base");

  // 4. The switch of manifests.
  Manifest next;
  next.base = AofFile{base_name, base_seq};
  next.incrs.push_back(AofFile{incr_name, incr_seq});
  if (auto r = WriteManifest(aof_dir, options.appendfilename, next); !r.ok()) {
    ::unlink(AofPath(base_name).c_str());
    return r;
  }
  {
    std::lock_guard lock(files_mu);
    manifest = next;
    base_size = static_cast<std::int64_t>(base->bytes);
  }
  Step("rewrite: manifest");

  // 5. What the manifest no longer lists, cut down before it goes: the
  // log's next fdatasync need not wait for the blocks of 100 MB to be
  // freed (durable_file.h). (The log may still end the old incr file
  // through its open descriptor: harmless, nothing reads it; and the last
  // close, maybe on an io thread, frees next to nothing.)
  auto remove = [&](const AofFile& old) {
    if (Status s = RemoveGradually(AofPath(old.name)); !s.ok()) Warn(s.message());
  };
  if (listed.base) remove(*listed.base);
  for (const AofFile& old : listed.incrs) {
    if (old.seq != incr_seq) remove(old);
  }
  if (Status s = SyncDirectory(aof_dir); !s.ok()) Warn(s.message());
  const std::int64_t size = AofSize();
  {
    std::lock_guard lock(files_mu);
    rewrite_base_size = size;
  }
  Step("rewrite: cleanup");
  return true;
}

// ---- Durability: the commands --------------------------------------------------

Result<bool> Durability::Save() {
  State& s = *state_;
  std::unique_lock lock(s.jobs_mu);
  if (s.job == State::Job::kBgSave || s.job == State::Job::kSave) {
    return InvalidArgument("Background save already in progress");
  }
  // A rewrite holds the engine's one snapshot: SAVE waits for it.
  s.jobs_cv.wait(lock, [&] { return s.job == State::Job::kNone; });
  s.JoinFinishedLocked();
  s.job = State::Job::kSave;
  ++s.saves_started;
  const auto started = std::chrono::steady_clock::now();
  lock.unlock();

  std::int64_t dirty_at_cut = 0;
  Result<bool> result = true;
  auto reader = s.engine.StartSnapshot([&] { dirty_at_cut = s.changes_since_save.load(); });
  if (reader.ok()) {
    auto written = WriteSnapshotFile(s.snapshot_path, **reader, s.engine.separator(), s.NowMs());
    if (!written.ok()) result = written.error();
    reader->reset();
  } else {
    result = reader.error();
  }

  lock.lock();
  s.FinishSave(result, dirty_at_cut, started);
  s.job = State::Job::kNone;
  s.jobs_cv.notify_all();
  return result;
}

Result<std::string> Durability::BgSave() {
  State& s = *state_;
  std::lock_guard lock(s.jobs_mu);
  if (s.job == State::Job::kBgSave || s.job == State::Job::kSave) {
    return InvalidArgument("Background save already in progress");
  }
  if (s.job == State::Job::kRewrite) {
    // Redis's text (bgsaveCommand) while an AOF rewrite runs.
    return InvalidArgument(
        "Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in "
        "order to schedule a BGSAVE whenever possible.");
  }
  return s.StartBgSaveLocked();
}

Result<std::string> Durability::BgRewriteAof() {
  State& s = *state_;
  if (!s.log) {
    return InvalidArgument(
        "Background append only file rewriting needs appendonly yes (this server keeps no AOF)");
  }
  std::lock_guard lock(s.jobs_mu);
  if (s.job == State::Job::kRewrite) {
    return InvalidArgument("Background append only file rewriting already in progress");
  }
  if (s.job != State::Job::kNone) {
    s.rewrite_scheduled = true;
    return std::string("Background append only file rewriting scheduled");
  }
  s.StartRewriteLocked();
  return std::string("Background append only file rewriting started");
}

void Durability::Cron() {
  State& s = *state_;
  if (s.log && s.log->failing()) {
    s.log->Retry();
    if (!s.log->failing()) s.Notice("AOF write error is solved, the AOF is being written again");
  }
  std::lock_guard lock(s.jobs_mu);
  s.JoinFinishedLocked();
  if (s.job != State::Job::kNone) return;
  if (s.rewrite_scheduled) return s.StartRewriteLocked();

  const std::int64_t now_ms = s.NowMs();
  const std::int64_t dirty = s.changes_since_save.load(std::memory_order_relaxed);
  const bool may_save = s.bgsave_ok || now_ms - s.last_bgsave_try_ms >= kBgSaveRetryMs;
  for (const SaveRule& rule : s.options.save_rules) {
    if (may_save && dirty >= rule.changes && dirty > 0 &&
        now_ms / 1000 - s.last_save_unix.load() >= rule.seconds) {
      s.Notice(std::to_string(rule.changes) + " changes in " + std::to_string(rule.seconds) +
               " seconds. Saving...");
      (void)s.StartBgSaveLocked();
      return;
    }
  }

  if (!s.log || s.options.auto_aof_rewrite_percentage <= 0 || now_ms < s.next_auto_rewrite_ms) {
    return;
  }
  const std::int64_t size = s.AofSize();
  std::int64_t base;
  {
    std::lock_guard files_lock(s.files_mu);
    base = std::max<std::int64_t>(s.rewrite_base_size, 1);
  }
  const std::int64_t growth = (size - base) * 100 / base;
  if (size >= s.options.auto_aof_rewrite_min_size &&
      growth >= s.options.auto_aof_rewrite_percentage) {
    s.Notice("Starting automatic rewriting of AOF on " + std::to_string(growth) + "% growth");
    s.auto_rewrite = true;
    s.StartRewriteLocked();
  }
}

}  // namespace limiterd::persistence
