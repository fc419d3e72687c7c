// Durability's internals (durability.h), shared by durability.cc (start-up,
// the write path, INFO, SHUTDOWN) and durability_jobs.cc (SAVE, BGSAVE,
// BGREWRITEAOF, the cron).
//
// Locks, in the order they may be taken (never the other way):
//   jobs_mu -> engine shard locks (StartSnapshot) -> AofLog's locks
//   files_mu alone (held for copies of the manifest, never across I/O
//   that others wait for)
// Record() runs under engine shard locks and takes only the AofLog's
// framing mutex.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "aof_log.h"
#include "aof_manifest.h"
#include "durability.h"

namespace limiterd::persistence {

struct Durability::State {
  State(Engine& e, DurabilityOptions o);

  std::int64_t NowMs() const { return options.wall_ms(); }
  void Warn(const std::string& message) const {
    if (options.log_warning) options.log_warning(message);
  }
  void Notice(const std::string& message) const {
    if (options.log_notice) options.log_notice(message);
  }
  void Step(std::string_view step) const {
    if (options.job_step_hook) options.job_step_hook(step);
  }
  std::string AofPath(const std::string& name) const { return aof_dir + "/" + name; }

  // ---- jobs (durability_jobs.cc); the caller holds jobs_mu
  enum class Job { kNone, kSave, kBgSave, kRewrite };
  Result<std::string> StartBgSaveLocked();
  void StartRewriteLocked();
  void JoinFinishedLocked();
  // The rewrite's steps, on its thread.
  Result<bool> Rewrite();
  // Ends a SAVE / BGSAVE; `dirty_at_cut` is the change count at its cut.
  void FinishSave(const Result<bool>& result, std::int64_t dirty_at_cut,
                  std::chrono::steady_clock::time_point started);
  // snapshot_failing from the last snapshot's outcome and the settings now,
  // as Redis decides MISCONF: stop-writes-on-bgsave-error, save rules set,
  // and the last snapshot failed. Caller holds jobs_mu.
  void RefreshSnapshotFailingLocked() {
    snapshot_failing.store(
        options.stop_writes_on_bgsave_error && !options.save_rules.empty() && !bgsave_ok,
        std::memory_order_release);
  }
  // Stops a running job (waits for a BGSAVE whose file nobody else will
  // write, abandons the rest) and joins it. Takes jobs_mu.
  void StopJob(bool snapshot_follows);
  // The AOF's size now: base plus every incr file of the manifest.
  std::int64_t AofSize() const;

  Engine& engine;
  // Fixed after Load, but for what Reconfigure sets (appendfsync,
  // save_rules, stop_writes_on_bgsave_error, auto_aof_rewrite_*): those are
  // GUARDED_BY(jobs_mu).
  DurabilityOptions options;
  const std::string aof_dir;
  const std::string snapshot_path;

  std::atomic<bool> loading{false};
  bool sink_installed = false;  // Load() / destructor only
  // Record() calls since the last successful snapshot's cut (Redis's dirty).
  std::atomic<std::int64_t> changes_since_save{0};
  std::atomic<std::int64_t> last_save_unix{0};

  // Set by Load (appendonly yes), then never replaced: readable without a
  // lock by every thread that got here after Load.
  std::unique_ptr<AofLog> log;

  // The manifest in force (what a crash now would load).
  mutable std::mutex files_mu;
  Manifest manifest;                      // GUARDED_BY(files_mu)
  std::int64_t base_size = 0;             // GUARDED_BY(files_mu)
  std::int64_t rewrite_base_size = 0;     // GUARDED_BY(files_mu): AOF size after
                                          // the last load or rewrite

  // Background jobs: one at a time (the engine has one snapshot at a time).
  mutable std::mutex jobs_mu;
  std::condition_variable jobs_cv;        // job became kNone
  Job job = Job::kNone;                   // GUARDED_BY(jobs_mu)
  std::thread job_thread;                 // GUARDED_BY(jobs_mu); joined when done
  std::chrono::steady_clock::time_point job_started;  // GUARDED_BY(jobs_mu)
  std::atomic<bool> cancel{false};        // asks a writing job to stop
  bool rewrite_scheduled = false;         // GUARDED_BY(jobs_mu)
  bool bgsave_ok = true;                  // GUARDED_BY(jobs_mu)
  std::int64_t last_bgsave_secs = -1;     // GUARDED_BY(jobs_mu)
  std::int64_t last_bgsave_try_ms = 0;    // GUARDED_BY(jobs_mu)
  bool rewrite_ok = true;                 // GUARDED_BY(jobs_mu)
  std::int64_t last_rewrite_secs = -1;    // GUARDED_BY(jobs_mu)
  // Since start-up, as Redis counts them: snapshots (SAVE, BGSAVE, save
  // rules) and rewrites begun, and rewrites failed since the last success.
  std::int64_t saves_started = 0;         // GUARDED_BY(jobs_mu)
  std::int64_t rewrites_started = 0;      // GUARDED_BY(jobs_mu)
  std::int64_t rewrite_failures_in_row = 0;  // GUARDED_BY(jobs_mu)
  bool auto_rewrite = false;              // GUARDED_BY(jobs_mu): started by the cron
  std::int64_t auto_rewrite_delay_ms = 0; // GUARDED_BY(jobs_mu): after failures
  std::int64_t next_auto_rewrite_ms = 0;  // GUARDED_BY(jobs_mu)
  // stop-writes-on-bgsave-error: set while the last snapshot failed.
  std::atomic<bool> snapshot_failing{false};
};

}  // namespace limiterd::persistence
