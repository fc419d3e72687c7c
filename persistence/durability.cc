// Copyright limiterd authors.
// Durability (durability.h): start-up, the write path, INFO, SHUTDOWN. The
// log itself is AofLog (aof_log.h); snapshots and rewrites are in
// durability_jobs.cc.
#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <filesystem>

#include "aof_files.h"
#include "durability_state.h"
#include "snapshot_file.h"

namespace limiterd::persistence {
namespace {

thread_local std::uint64_t t_last_lsn = 0;

// MULTI/EXEC: this thread's changes since BeginTransaction, logged as one
// group at CommitTransaction. `owner` keeps two Durability objects (tests)
// from mixing their transactions.
struct OpenTransaction {
  const Durability::State* owner = nullptr;
  std::string changes;
};
thread_local OpenTransaction t_transaction;

bool Exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

std::int64_t SystemMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Redis's text (server.c, shared.bgsaveerr), so clients that recognize it
// keep doing so.
constexpr char kSnapshotMisconf[] =
    "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist "
    "to disk. Commands that may modify the data set are disabled, because this instance is "
    "configured to report errors during writes if RDB snapshotting fails "
    "(stop-writes-on-bgsave-error option). Please check the Redis logs for details about the "
    "RDB error.";

// appendonly yes, no manifest: a new AOF, from the snapshot if there was
// one (already loaded into the engine) as base 1, and incr 1. The manifest
// comes last: a crash before it leaves no AOF, and the next start does
// this again.
Result<Manifest> CreateAof(Durability::State& s, bool with_base) {
  Manifest manifest;
  if (with_base) {
    auto reader = s.engine.StartSnapshot();
    if (!reader.ok()) return reader.error();
    const std::string name = BaseFileName(s.options.appendfilename, 1);
    auto written = WriteSnapshotFile(s.AofPath(name), **reader, s.engine.separator(), s.NowMs());
    if (!written.ok()) return written.error();
    manifest.base = AofFile{name, 1};
  }
  const std::string incr = IncrFileName(s.options.appendfilename, 1);
  auto created = CreateIncrFile(s.aof_dir, incr, s.NowMs(), s.engine.separator());
  if (!created.ok()) return created.error();
  manifest.incrs.push_back(AofFile{incr, 1});
  if (auto r = WriteManifest(s.aof_dir, s.options.appendfilename, manifest); !r.ok()) {
    return r.error();
  }
  return manifest;
}

// Lists a new, empty incr file after the last one in `manifest`, and
// writes the manifest: start-up's, before the log opens the last file.
Result<bool> StartIncrFile(Durability::State& s, Manifest& manifest) {
  const std::int64_t seq = manifest.last_incr_seq() + 1;
  manifest.incrs.push_back(AofFile{IncrFileName(s.options.appendfilename, seq), seq});
  auto created =
      CreateIncrFile(s.aof_dir, manifest.incrs.back().name, s.NowMs(), s.engine.separator());
  if (!created.ok()) return created.error();
  return WriteManifest(s.aof_dir, s.options.appendfilename, manifest);
}

Result<LoadReport> LoadAppendOnly(Durability::State& s) {
  LoadReport report;
  if (!ValidAofFileName(s.options.appendfilename)) {
    return InvalidArgument("appendfilename '" + s.options.appendfilename +
                           "' must be a plain file name");
  }
  std::error_code ec;
  std::filesystem::create_directories(s.aof_dir, ec);
  if (ec) return InvalidArgument("Can't create the AOF directory " + s.aof_dir + ": " + ec.message());
  const std::string manifest_path = s.AofPath(ManifestFileName(s.options.appendfilename));
  Manifest manifest;
  if (Exists(manifest_path)) {
    auto read = ReadManifest(manifest_path);
    if (!read.ok()) return read.error();
    manifest = std::move(*read);
    auto load = LoadAofFiles(s.aof_dir, manifest, s.engine, s.options.aof_load_truncated);
    if (!load.ok()) return load.error();
    report.source = "aof";
    report.keys = load->keys;
    report.records = load->records;
    report.truncated_tail = load->truncated_tail;
    report.warning = load->warning;
    if (load->last_incr_version != 0 && load->last_incr_version < kFormatVersion) {
      // Written by an older build: what this one appends goes to a new
      // incr file of its own version, so that each file holds only what
      // its header says (an older build refuses the new file by its
      // version, rather than meeting records it cannot read).
      if (auto r = StartIncrFile(s, manifest); !r.ok()) return r.error();
    }
  } else {
    const bool snapshot = Exists(s.snapshot_path);
    if (snapshot) {
      auto loaded = LoadSnapshotFile(s.snapshot_path, s.engine);
      if (!loaded.ok()) return loaded.error();
      report.keys = loaded->entries;
    }
    report.source = snapshot ? "snapshot" : "none";
    auto created = CreateAof(s, snapshot);
    if (!created.ok()) return created.error();
    manifest = std::move(*created);
  }
  if (manifest.incrs.empty()) {
    // A base alone (written by hand, or another tool): start an incr file.
    if (auto r = StartIncrFile(s, manifest); !r.ok()) return r.error();
  }
  auto incr = OpenIncrFile(s.AofPath(manifest.incrs.back().name), s.NowMs(), s.engine.separator());
  if (!incr.ok()) return incr.error();
  s.log = std::make_unique<AofLog>(s.options.appendfsync, std::move(incr->file), incr->size);
  s.log->SetZeroFill(s.options.aof_zero_fill);
  s.log->SetInlineFsyncMaxUs(s.options.aof_inline_fsync_max_us);
  {
    std::lock_guard lock(s.files_mu);
    s.manifest = std::move(manifest);
    s.base_size = s.manifest.base
                      ? static_cast<std::int64_t>(FileSizeOr0(s.AofPath(s.manifest.base->name)))
                      : 0;
  }
  const std::int64_t size = s.AofSize();
  std::lock_guard lock(s.files_mu);
  s.rewrite_base_size = size;
  return report;
}

}  // namespace

Durability::State::State(Engine& e, DurabilityOptions o)
    : engine(e),
      options(std::move(o)),
      aof_dir((std::filesystem::path(options.dir) / options.appenddirname).string()),
      snapshot_path((std::filesystem::path(options.dir) / options.dbfilename).string()) {
  if (!options.wall_ms) options.wall_ms = SystemMs;
  last_save_unix = options.wall_ms() / 1000;
}

std::int64_t Durability::State::AofSize() const {
  std::lock_guard lock(files_mu);
  std::int64_t size = base_size;
  // The file the log writes counts what was written to it, not its size
  // on disk: that takes in the space zero-filled ahead (aof_log.h), and
  // while a fill is under way it is not yet the zero-fill's to report.
  // (Counted from stat and the padding, INFO showed 2-17 MiB more than was
  // written during each fill, and the auto rewrite came that much early.)
  // The others ended at a switch, which cut their space ahead off.
  AofLog::CurrentFile current;
  std::string current_name;
  if (log) {
    current = log->current_file();
    current_name = std::filesystem::path(current.path).filename().string();
  }
  for (const AofFile& incr : manifest.incrs) {
    size += static_cast<std::int64_t>(incr.name == current_name ? current.size
                                                                : FileSizeOr0(AofPath(incr.name)));
  }
  return size;
}

Durability::Durability(Engine& engine, DurabilityOptions options)
    : state_(std::make_unique<State>(engine, std::move(options))) {}

Durability::~Durability() {
  State& s = *state_;
  s.StopJob(/*snapshot_follows=*/true);
  if (s.sink_installed) s.engine.SetChangeSink(nullptr);
  if (s.log) {
    if (Status st = s.log->Flush(); !st.ok()) {
      s.Warn("The AOF could not be written in full at exit: " + st.message());
    }
    s.log.reset();
  }
}

Result<LoadReport> Durability::Load() {
  State& s = *state_;
  const auto started = std::chrono::steady_clock::now();
  s.loading = true;
  Result<LoadReport> report = LoadReport{};
  if (s.options.appendonly) {
    report = LoadAppendOnly(s);
  } else if (Exists(s.snapshot_path)) {
    auto loaded = LoadSnapshotFile(s.snapshot_path, s.engine);
    if (loaded.ok()) {
      report->source = "snapshot";
      report->keys = loaded->entries;
    } else {
      report = loaded.error();
    }
  } else {
    report->source = "none";
  }
  s.loading = false;
  if (!report.ok()) return report;
  s.engine.SetChangeSink(this);
  s.sink_installed = true;
  report->seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return report;
}

bool Durability::WantsRecords() const { return state_->log != nullptr; }

void Durability::Record(std::string_view changes) {
  State& s = *state_;
  s.changes_since_save.fetch_add(1, std::memory_order_relaxed);
  if (!s.log) return;
  if (t_transaction.owner == &s) {
    t_transaction.changes.append(changes);
    return;
  }
  t_last_lsn = s.log->Append(changes);
}

std::uint64_t Durability::ThreadLastLsn() { return t_last_lsn; }

bool Durability::WouldWriteToReply(std::uint64_t lsn) const {
  return state_->log && lsn != 0 && state_->log->WouldWriteToReply(lsn);
}

bool Durability::ReadyToReply(std::uint64_t lsn, bool* failed) {
  *failed = false;
  if (!state_->log || lsn == 0) return true;
  return state_->log->ReadyToReply(lsn, failed);
}

void Durability::WhenDurable(std::uint64_t lsn, std::function<void(bool ok)> done) {
  if (!state_->log || lsn == 0) return done(true);
  state_->log->WhenDurable(lsn, std::move(done));
}

std::optional<bool> Durability::SyncInline(std::uint64_t lsn) {
  if (!state_->log || lsn == 0) return true;
  return state_->log->SyncInline(lsn);
}

void Durability::BeginTransaction() {
  t_transaction.owner = state_.get();
  t_transaction.changes.clear();
}

void Durability::CommitTransaction() {
  if (t_transaction.owner != state_.get()) return;
  t_transaction.owner = nullptr;
  if (!t_transaction.changes.empty() && state_->log) {
    t_last_lsn = state_->log->Append(t_transaction.changes);
  }
  t_transaction.changes.clear();
  // One huge EXEC must not pin its buffer on this thread for good.
  if (t_transaction.changes.capacity() > (1u << 20)) t_transaction.changes.shrink_to_fit();
}

std::optional<std::string> Durability::WriteError() const {
  const State& s = *state_;
  // Redis's order: a failing snapshot first, then the AOF.
  if (s.snapshot_failing.load(std::memory_order_acquire)) return std::string(kSnapshotMisconf);
  if (s.log && s.log->failing()) return s.log->WriteError();
  return std::nullopt;
}

int64_t Durability::LastSaveUnix() const { return state_->last_save_unix.load(); }

void Durability::Reconfigure(const DurabilityOptions& options) {
  State& s = *state_;
  {
    std::lock_guard lock(s.jobs_mu);
    s.options.appendfsync = options.appendfsync;
    s.options.save_rules = options.save_rules;
    s.options.stop_writes_on_bgsave_error = options.stop_writes_on_bgsave_error;
    s.options.auto_aof_rewrite_percentage = options.auto_aof_rewrite_percentage;
    s.options.auto_aof_rewrite_min_size = options.auto_aof_rewrite_min_size;
    s.options.aof_zero_fill = options.aof_zero_fill;
    s.options.aof_inline_fsync_max_us = options.aof_inline_fsync_max_us;
    s.RefreshSnapshotFailingLocked();
  }
  if (s.log) {
    s.log->SetPolicy(options.appendfsync);
    s.log->SetZeroFill(options.aof_zero_fill);
    s.log->SetInlineFsyncMaxUs(options.aof_inline_fsync_max_us);
  }
}

PersistenceInfo Durability::Info() const {
  const State& s = *state_;
  PersistenceInfo info;
  info.loading = s.loading.load();
  info.rdb_changes_since_last_save = s.changes_since_save.load(std::memory_order_relaxed);
  info.rdb_last_save_time = s.last_save_unix.load();
  {
    std::lock_guard lock(s.jobs_mu);
    const auto elapsed = std::chrono::duration_cast<std::chrono::seconds>(
                             std::chrono::steady_clock::now() - s.job_started)
                             .count();
    info.rdb_bgsave_in_progress = s.job == State::Job::kBgSave;
    info.rdb_last_bgsave_status = s.bgsave_ok ? "ok" : "err";
    info.rdb_last_bgsave_time_sec = s.last_bgsave_secs;
    if (info.rdb_bgsave_in_progress) info.rdb_current_bgsave_time_sec = elapsed;
    info.rdb_saves = s.saves_started;
    info.aof_rewrite_in_progress = s.job == State::Job::kRewrite;
    info.aof_rewrite_scheduled = s.rewrite_scheduled;
    info.aof_last_rewrite_time_sec = s.last_rewrite_secs;
    if (info.aof_rewrite_in_progress) info.aof_current_rewrite_time_sec = elapsed;
    info.aof_last_bgrewrite_status = s.rewrite_ok ? "ok" : "err";
    info.aof_rewrites = s.rewrites_started;
    info.aof_rewrites_consecutive_failures = s.rewrite_failures_in_row;
  }
  info.aof_enabled = s.log != nullptr;
  if (s.log) {
    const AofLog::Stats stats = s.log->stats();
    info.aof_last_write_status = s.log->failing() ? "err" : "ok";
    info.aof_current_size = s.AofSize();
    info.aof_zero_filled_ahead = static_cast<std::int64_t>(stats.padding);
    {
      std::lock_guard lock(s.files_mu);
      info.aof_base_size = s.rewrite_base_size;
    }
    info.aof_buffer_length = static_cast<std::int64_t>(stats.pending_bytes);
    info.aof_fsyncs = stats.fsyncs;
    info.aof_fsyncs_inline = stats.fsyncs_inline;
    info.aof_records = stats.records;
  }
  return info;
}

Result<bool> Durability::Shutdown(bool save, bool nosave) {
  State& s = *state_;
  bool has_rules;
  {
    std::lock_guard lock(s.jobs_mu);
    has_rules = !s.options.save_rules.empty();
  }
  const bool snapshot = save || (!nosave && has_rules);
  s.StopJob(snapshot);
  if (s.log) {
    if (Status st = s.log->Flush(); !st.ok()) {
      return InvalidArgument("Errors flushing the append only file: " + st.message());
    }
    // Files left by a clean shutdown hold their records and nothing else.
    s.log->DropPadding();
  }
  if (snapshot) return Save();
  return true;
}

}  // namespace limiterd::persistence
