// Copyright limiterd authors.
// Durability (durability.h): the log buffer and its writer, group commit,
// snapshots, the multi-part AOF and its rewrite.
//
// Locks, in the order they may be taken (never the other way):
//   engine shard locks -> mu (the log buffer)
//   write_mu (the incr file) -> mu
//   job_mu (background jobs) -> engine shard locks (StartSnapshot) -> mu
//   waiters_mu alone.
// Record() runs under engine shard locks and takes only `mu`, for a memcpy.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>

#include "durability.h"
#include "manifest.h"
#include "record_format.h"
#include "snapshot_io.h"

namespace limiterd::persistence {
namespace {

thread_local uint64_t t_last_lsn = 0;
thread_local bool t_in_transaction = false;
thread_local std::string t_transaction;

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

int64_t FileSize(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_size) : 0;
}

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Error Err(std::string message) { return Error{ErrorCode::kInvalidArgument, std::move(message)}; }

constexpr char kBgSaveMisconf[] =
    "MISCONF limiterd is configured to save snapshots, but it's currently unable to persist to "
    "disk. Commands that may modify the data set are disabled, because this instance is "
    "configured to report errors during writes if snapshotting fails "
    "(stop-writes-on-bgsave-error option). Please check the limiterd logs for details about "
    "the snapshot error.";

}  // namespace

struct Durability::State {
  State(Engine& e, DurabilityOptions o) : engine(e), opt(std::move(o)) {
    if (!opt.wall_ms) {
      opt.wall_ms = [] {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
      };
    }
    aof_dir = opt.dir + "/" + opt.appenddirname;
    manifest_path = aof_dir + "/" + opt.appendfilename + ".manifest";
    snapshot_path = opt.dir + "/" + opt.dbfilename;
  }

  void Warn(const std::string& m) {
    if (opt.log_warning) opt.log_warning(m);
  }
  void Notice(const std::string& m) {
    if (opt.log_notice) opt.log_notice(m);
  }

  Engine& engine;
  DurabilityOptions opt;
  std::string aof_dir, manifest_path, snapshot_path;
  bool aof = false;  // the AOF is open (set by Load)

  // ---- the log buffer
  std::mutex mu;
  std::string pending;             // framed records not yet written; guarded by mu
  uint64_t lsn = 0;                // end of everything framed; guarded by mu
  std::optional<uint64_t> cut;     // a rewrite's switch point; guarded by mu
  std::atomic<uint64_t> records{0};
  std::atomic<int64_t> dirty{0};   // changes since the last snapshot

  // ---- the incr file
  std::mutex write_mu;
  int fd = -1;                     // guarded by write_mu
  std::string incr_path;           // guarded by write_mu
  uint64_t file_size = 0;          // good bytes in it; guarded by write_mu
  Manifest manifest;               // guarded by write_mu
  uint64_t switched_seq = 0;       // the incr a cut switched to; guarded by write_mu
  std::atomic<uint64_t> written_lsn{0};
  std::atomic<uint64_t> synced_lsn{0};
  std::atomic<int> write_errno{0};
  std::atomic<int64_t> incr_bytes{0};   // in every incr file of the manifest
  std::atomic<int64_t> base_bytes{0};   // the base file
  std::atomic<int64_t> rewrite_base_size{0};  // the AOF's size after the last rewrite
  std::atomic<uint64_t> fsyncs{0};

  // ---- group commit
  std::mutex waiters_mu;
  std::condition_variable cv;
  std::vector<std::pair<uint64_t, std::function<void(bool)>>> waiters;  // guarded by waiters_mu
  bool stop = false;                                                    // guarded by waiters_mu
  std::thread sync_thread;

  // ---- snapshots and rewrites
  std::mutex job_mu;
  std::thread job;  // guarded by job_mu
  std::atomic<bool> bgsave_running{false}, rewrite_running{false}, rewrite_scheduled{false};
  std::atomic<bool> bgsave_failed{false}, rewrite_failed{false};
  std::atomic<int64_t> job_started_ms{0};
  std::atomic<int64_t> last_bgsave_secs{-1}, last_rewrite_secs{-1};
  std::atomic<int64_t> last_save_unix{0};
  std::atomic<int64_t> last_bgsave_try_ms{0};

  // Frames one record into the buffer.
  void Frame(std::string_view payload) {
    std::lock_guard lock(mu);
    size_t before = pending.size();
    if (!AppendRecord(pending, kAofChanges, payload)) {
      Warn("a change record over 64 MiB was not logged");  // an EXEC of > 100k commands
      return;
    }
    lsn += pending.size() - before;
    t_last_lsn = lsn;
    records.fetch_add(1, std::memory_order_relaxed);
  }

  void SetWriteError(int err) {
    if (write_errno.exchange(err) == 0) {
      Warn("Error writing to the AOF file: " + std::string(std::strerror(err)));
    }
  }

  // Opens a new incr file after `seq`, lists it in the manifest (before a
  // byte goes to it) and makes it the current file. Caller holds write_mu.
  bool SwitchIncr() {
    if (fd >= 0) {
      // The old file's tail must be on disk before anything after it is.
      if (::fdatasync(fd) != 0) Fatal("fdatasync " + incr_path, errno);
      ::close(fd);
      fd = -1;
    }
    uint64_t seq = manifest.LastSeq() + 1;
    std::string name = IncrName(opt.appendfilename, seq);
    std::string path = aof_dir + "/" + name;
    int nfd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    if (nfd < 0) return SwitchFailed(errno);
    std::string header = AofHeaderRecord();
    if (!WriteAll(nfd, header, path).ok() || ::fsync(nfd) != 0) {
      int err = errno;
      ::close(nfd);
      ::unlink(path.c_str());
      return SwitchFailed(err);
    }
    Manifest next = manifest;
    next.incrs.push_back(Manifest::File{name, seq, false});
    if (Status s = WriteFileAtomically(manifest_path, next.Format()); !s.ok()) {
      ::close(nfd);
      ::unlink(path.c_str());
      return SwitchFailed(s.error_number());
    }
    manifest = std::move(next);
    fd = nfd;
    incr_path = path;
    file_size = header.size();
    incr_bytes.fetch_add(static_cast<int64_t>(header.size()));
    switched_seq = seq;
    return true;
  }

  bool SwitchFailed(int err) {
    SetWriteError(err == 0 ? EIO : err);
    // Carry on in the old file, if it was closed: reopen it.
    if (fd < 0 && !incr_path.empty()) fd = ::open(incr_path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    return false;
  }

  // Writes `bytes` at the end of the current file; on failure cuts the file
  // back to its last whole record. Caller holds write_mu.
  bool WriteOut(std::string_view bytes) {
    if (bytes.empty()) return true;
    if (fd < 0) {
      SetWriteError(EBADF);
      return false;
    }
    Status s = WriteAll(fd, bytes, incr_path);
    if (!s.ok()) {
      if (::ftruncate(fd, static_cast<off_t>(file_size)) != 0) {
        Warn("could not cut a partly written AOF record off " + incr_path + ": " +
             std::strerror(errno));
      }
      SetWriteError(s.error_number());
      return false;
    }
    file_size += bytes.size();
    incr_bytes.fetch_add(static_cast<int64_t>(bytes.size()), std::memory_order_relaxed);
    return true;
  }

  // Writes everything pending (switching files at a rewrite's cut). False
  // if a write failed: the unwritten bytes go back to the buffer's front.
  // Caller holds write_mu.
  bool FlushLocked() {
    std::string data;
    uint64_t end;
    std::optional<uint64_t> at;
    {
      std::lock_guard lock(mu);
      if (pending.empty() && !cut) return write_errno.load() == 0 || RetryOk();
      data.swap(pending);
      end = lsn;
      at = cut;
    }
    uint64_t start = end - data.size();
    size_t split = at ? static_cast<size_t>(*at - start) : data.size();
    bool ok = WriteOut(std::string_view(data).substr(0, split));
    size_t done = ok ? split : 0;
    if (ok && at) {
      ok = SwitchIncr();
      if (ok) {
        std::lock_guard lock(mu);
        cut.reset();
      }
    }
    if (ok && done < data.size()) {
      ok = WriteOut(std::string_view(data).substr(done));
      if (ok) done = data.size();
    }
    written_lsn.store(start + done, std::memory_order_release);
    if (done < data.size()) {
      std::lock_guard lock(mu);
      pending.insert(0, data, done, std::string::npos);
      return false;
    }
    if (ok) write_errno.store(0);
    return ok;
  }

  // Nothing pending but an earlier error: a write retry is what clears it.
  bool RetryOk() {
    if (fd < 0) return false;
    write_errno.store(0);
    return true;
  }

  [[noreturn]] void Fatal(const std::string& what, int err) {
    // After a failed fsync the page cache's state is unknown; Redis exits
    // too (appendfsync always). Nothing unsynced was acknowledged.
    std::fprintf(stderr, "limiterd: FATAL: %s: %s. Exiting: the AOF cannot be trusted.\n",
                 what.c_str(), std::strerror(err));
    std::_Exit(1);
  }

  // Writes and syncs everything pending; returns whether it all went.
  bool WriteAndSync() {
    int dup_fd = -1;
    uint64_t target = 0;
    bool ok;
    {
      std::lock_guard lock(write_mu);
      ok = FlushLocked();
      target = written_lsn.load(std::memory_order_acquire);
      if (target > synced_lsn.load(std::memory_order_acquire) && fd >= 0) dup_fd = ::dup(fd);
    }
    if (dup_fd >= 0) {
      // Off write_mu: writers keep appending while the disk syncs.
      if (::fdatasync(dup_fd) != 0) Fatal("fdatasync of the AOF", errno);
      ::close(dup_fd);
      fsyncs.fetch_add(1, std::memory_order_relaxed);
      uint64_t prev = synced_lsn.load();
      while (prev < target && !synced_lsn.compare_exchange_weak(prev, target)) {
      }
    }
    return ok;
  }

  void SyncLoop() {
    const bool always = opt.appendfsync == FsyncPolicy::kAlways;
    while (true) {
      {
        std::unique_lock lock(waiters_mu);
        if (always) {
          cv.wait(lock, [&] { return stop || !waiters.empty(); });
        } else {
          cv.wait_for(lock, std::chrono::seconds(1), [&] { return stop; });
        }
        if (stop && waiters.empty()) return;
      }
      bool ok = WriteAndSync();
      std::vector<std::function<void(bool)>> done_ok, done_failed;
      {
        std::lock_guard lock(waiters_mu);
        uint64_t synced = synced_lsn.load();
        auto it = std::partition(waiters.begin(), waiters.end(),
                                 [&](const auto& w) { return w.first > synced; });
        for (auto j = it; j != waiters.end(); ++j) done_ok.push_back(std::move(j->second));
        waiters.erase(it, waiters.end());
        if (!ok) {
          // Not on disk, and no promise when it will be: the connections
          // must not acknowledge (they close; the cron retries the write).
          for (auto& w : waiters) done_failed.push_back(std::move(w.second));
          waiters.clear();
        }
      }
      for (auto& f : done_ok) f(true);
      for (auto& f : done_failed) f(false);
      if (!ok) {
        std::unique_lock lock(waiters_mu);
        cv.wait_for(lock, std::chrono::milliseconds(100), [&] { return stop; });
      }
    }
  }

  // ---- loading

  bool LoadIncr(const std::string& path, bool last, LoadReport& report, std::string* error) {
    std::string data;
    if (Status s = ReadWholeFile(path, &data); !s.ok()) {
      *error = s.message();
      return false;
    }
    RecordReader reader(data);
    persistence::Record record;
    bool header = false;
    while (reader.Next(&record)) {
      if (!header) {
        std::string why;
        if (!CheckHeader(record.type, record.payload, &why) || record.type != kAofHeader) {
          *error = "Bad file format reading the append only file " + path + " at offset 0: " +
                   (why.empty() ? "not an incr file" : why);
          return false;
        }
        header = true;
        continue;
      }
      if (record.type != kAofChanges) {
        *error = "Bad file format reading the append only file " + path + " at offset " +
                 std::to_string(record.offset) + ": record type " + std::to_string(record.type);
        return false;
      }
      auto applied = engine.ApplyChanges(record.payload);
      if (!applied.ok()) {
        *error = "Bad file format reading the append only file " + path + " at offset " +
                 std::to_string(record.offset) + ": " + applied.error().message;
        return false;
      }
      ++report.records;
    }
    if (reader.end() == ReadEnd::kTornTail && last && (header || reader.end_offset() == 0)) {
      std::string where = path + " at offset " + std::to_string(reader.end_offset());
      if (!opt.aof_load_truncated) {
        *error = "Unexpected end of file reading the append only file " + where +
                 ". You can: 1) Make a backup of your AOF file, then use ./limiterd --check-aof "
                 "--fix <filename.manifest>. 2) Set 'aof-load-truncated yes' in the config and "
                 "restart.";
        return false;
      }
      if (Status s = TruncateFile(path, reader.end_offset()); !s.ok()) {
        *error = s.message();
        return false;
      }
      report.truncated_tail = true;
      report.warning = "!!! Warning: short read while loading the AOF file " + where +
                       "!!! AOF loaded anyway because aof-load-truncated is enabled; the torn "
                       "last record was truncated";
      if (!header) return WriteHeaderInto(path, error);
      return true;
    }
    if (reader.end() != ReadEnd::kClean) {
      *error = "Bad file format reading the append only file " + path + " at offset " +
               std::to_string(reader.end_offset()) + ": " + reader.message();
      return false;
    }
    if (!header) return WriteHeaderInto(path, error);  // created, crashed before its header
    return true;
  }

  bool WriteHeaderInto(const std::string& path, std::string* error) {
    Status s = WriteFileAtomically(path, AofHeaderRecord());
    if (!s.ok()) *error = s.message();
    return s.ok();
  }

  // A new AOF from the engine's state: base 1, incr 1, manifest.
  bool CreateAof(std::string* error) {
    auto reader = engine.StartSnapshot();
    if (!reader.ok()) {
      *error = reader.error().message;
      return false;
    }
    Manifest m;
    m.base = Manifest::File{BaseName(opt.appendfilename, 1), 1, true};
    m.incrs.push_back(Manifest::File{IncrName(opt.appendfilename, 1), 1, false});
    SnapshotStats stats;
    Status s = WriteSnapshotFile(aof_dir + "/" + m.base->name, **reader, opt.wall_ms(), &stats);
    if (s.ok()) s = WriteFileAtomically(aof_dir + "/" + m.incrs[0].name, AofHeaderRecord());
    if (s.ok()) s = WriteFileAtomically(manifest_path, m.Format());
    if (!s.ok()) {
      *error = s.message();
      return false;
    }
    manifest = m;
    return true;
  }

  bool OpenLastIncr(std::string* error) {
    incr_path = aof_dir + "/" + manifest.incrs.back().name;
    fd = ::open(incr_path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0) {
      *error = Status::IoError("open", incr_path, errno).message();
      return false;
    }
    file_size = static_cast<uint64_t>(FileSize(incr_path));
    int64_t incrs = 0;
    for (const auto& f : manifest.incrs) incrs += FileSize(aof_dir + "/" + f.name);
    incr_bytes = incrs;
    base_bytes = manifest.base ? FileSize(aof_dir + "/" + manifest.base->name) : 0;
    rewrite_base_size = base_bytes + incr_bytes;
    return true;
  }

  // ---- snapshots and rewrites (caller holds job_mu)

  void JoinJob() {
    if (job.joinable()) job.join();
  }

  void FinishSave(const Status& s, int64_t dirty_at_cut, int64_t started_ms) {
    last_bgsave_secs = (SteadyMs() - started_ms) / 1000;
    if (s.ok()) {
      dirty.fetch_sub(dirty_at_cut);
      last_save_unix = opt.wall_ms() / 1000;
      bgsave_failed = false;
      Notice("DB saved on disk");
    } else {
      bgsave_failed = true;
      Warn("Snapshot failed: " + s.message());
    }
  }

  void RewriteJob(std::unique_ptr<SnapshotReader> reader, int64_t started_ms) {
    bool ok;
    uint64_t seq;
    {
      std::lock_guard lock(write_mu);
      ok = FlushLocked();  // writes up to the cut and switches incr files
      seq = switched_seq;
      bool still_cut;
      {
        std::lock_guard l(mu);
        still_cut = cut.has_value();
        cut.reset();
      }
      ok = ok && !still_cut;
    }
    Status s = ok ? Status::Ok() : Status::IoError("switch incr file in", aof_dir, EIO);
    SnapshotStats stats;
    std::string base_name = BaseName(opt.appendfilename, seq);
    if (s.ok()) s = WriteSnapshotFile(aof_dir + "/" + base_name, *reader, opt.wall_ms(), &stats);
    reader.reset();
    std::vector<std::string> obsolete;
    if (s.ok()) {
      std::lock_guard lock(write_mu);
      Manifest next;
      next.base = Manifest::File{base_name, seq, true};
      int64_t incrs = 0;
      for (const auto& f : manifest.incrs) {
        if (f.seq >= seq) {
          next.incrs.push_back(f);
          incrs += FileSize(aof_dir + "/" + f.name);
        } else {
          obsolete.push_back(f.name);
        }
      }
      if (manifest.base) obsolete.push_back(manifest.base->name);
      s = WriteFileAtomically(manifest_path, next.Format());
      if (s.ok()) {
        manifest = std::move(next);
        incr_bytes = incrs;
        base_bytes = static_cast<int64_t>(stats.bytes);
        rewrite_base_size = base_bytes + incr_bytes;
      } else {
        obsolete.clear();
      }
    }
    for (const std::string& name : obsolete) ::unlink((aof_dir + "/" + name).c_str());
    last_rewrite_secs = (SteadyMs() - started_ms) / 1000;
    rewrite_failed = !s.ok();
    if (s.ok()) {
      Notice("Background AOF rewrite finished successfully");
    } else {
      Warn("Background AOF rewrite failed: " + s.message());
    }
    rewrite_running = false;
  }

  Result<std::string> StartRewriteLocked() {
    auto reader = engine.StartSnapshot([this] {
      std::lock_guard lock(mu);
      cut = lsn;
    });
    if (!reader.ok()) return Err(reader.error().message);
    JoinJob();
    rewrite_running = true;
    rewrite_scheduled = false;
    int64_t started = SteadyMs();
    job_started_ms = started;
    job = std::thread([this, r = std::move(*reader), started]() mutable {
      RewriteJob(std::move(r), started);
    });
    return std::string("Background append only file rewriting started");
  }

  Result<std::string> StartBgSaveLocked() {
    int64_t dirty_at_cut = 0;
    auto reader = engine.StartSnapshot([&] { dirty_at_cut = dirty.load(); });
    if (!reader.ok()) return Err(reader.error().message);
    JoinJob();
    bgsave_running = true;
    int64_t started = SteadyMs();
    job_started_ms = started;
    last_bgsave_try_ms = started;
    job = std::thread([this, r = std::move(*reader), dirty_at_cut, started]() mutable {
      Status s = WriteSnapshotFile(snapshot_path, *r, opt.wall_ms(), nullptr);
      r.reset();
      FinishSave(s, dirty_at_cut, started);
      bgsave_running = false;
    });
    return std::string("Background saving started");
  }
};

Durability::Durability(Engine& engine, DurabilityOptions options)
    : state_(std::make_unique<State>(engine, std::move(options))) {}

Durability::~Durability() {
  State& s = *state_;
  {
    std::lock_guard lock(s.job_mu);
    s.JoinJob();
  }
  s.engine.SetChangeSink(nullptr);
  {
    std::lock_guard lock(s.waiters_mu);
    s.stop = true;
  }
  s.cv.notify_all();
  if (s.sync_thread.joinable()) s.sync_thread.join();
  if (s.aof && !s.WriteAndSync()) s.Warn("The AOF could not be written in full at exit");
  std::lock_guard lock(s.write_mu);
  if (s.fd >= 0) ::close(s.fd);
}

Result<LoadReport> Durability::Load() {
  State& s = *state_;
  LoadReport report;
  int64_t started = SteadyMs();
  std::string error;
  s.last_save_unix = s.opt.wall_ms() / 1000;
  if (s.opt.appendonly) {
    if (::mkdir(s.aof_dir.c_str(), 0755) != 0 && errno != EEXIST) {
      return Err(Status::IoError("create the AOF directory", s.aof_dir, errno).message());
    }
    std::lock_guard lock(s.write_mu);
    if (Exists(s.manifest_path)) {
      std::string text;
      if (Status st = ReadWholeFile(s.manifest_path, &text); !st.ok()) return Err(st.message());
      auto m = Manifest::Parse(text, &error);
      if (!m) return Err(s.manifest_path + ": " + error);
      if (m->incrs.empty()) return Err(s.manifest_path + ": no incr file listed");
      s.manifest = *m;
      if (m->base) {
        SnapshotStats stats;
        if (!LoadSnapshotFile(s.aof_dir + "/" + m->base->name, s.engine, &stats, &error)) {
          return Err(error);
        }
        report.keys = stats.keys;
      }
      for (size_t i = 0; i < m->incrs.size(); ++i) {
        if (!s.LoadIncr(s.aof_dir + "/" + m->incrs[i].name, i + 1 == m->incrs.size(), report,
                        &error)) {
          return Err(error);
        }
      }
      report.source = "aof";
    } else {
      if (Exists(s.snapshot_path)) {
        SnapshotStats stats;
        if (!LoadSnapshotFile(s.snapshot_path, s.engine, &stats, &error)) return Err(error);
        report.keys = stats.keys;
        report.source = "snapshot";
      }
      if (!s.CreateAof(&error)) return Err(error);
    }
    if (!s.OpenLastIncr(&error)) return Err(error);
    s.aof = true;
    if (s.opt.appendfsync != FsyncPolicy::kNo) {
      s.sync_thread = std::thread([&s] { s.SyncLoop(); });
    }
  } else if (Exists(s.snapshot_path)) {
    SnapshotStats stats;
    if (!LoadSnapshotFile(s.snapshot_path, s.engine, &stats, &error)) return Err(error);
    report.keys = stats.keys;
    report.source = "snapshot";
  }
  if (report.source.empty()) report.source = "none";
  s.engine.SetChangeSink(this);
  report.seconds = static_cast<double>(SteadyMs() - started) / 1000.0;
  return report;
}

void Durability::Record(std::string_view changes) {
  State& s = *state_;
  s.dirty.fetch_add(1, std::memory_order_relaxed);
  if (!s.aof) return;
  if (t_in_transaction) {
    t_transaction.append(changes);
    return;
  }
  s.Frame(changes);
}

uint64_t Durability::ThreadLastLsn() { return t_last_lsn; }

bool Durability::ReadyToReply(uint64_t lsn, bool* failed) {
  State& s = *state_;
  *failed = false;
  if (!s.aof || lsn == 0) return true;
  if (s.opt.appendfsync == FsyncPolicy::kAlways) {
    return s.synced_lsn.load(std::memory_order_acquire) >= lsn;
  }
  if (s.written_lsn.load(std::memory_order_acquire) >= lsn) return true;
  std::lock_guard lock(s.write_mu);
  (void)s.FlushLocked();
  if (s.written_lsn.load(std::memory_order_acquire) >= lsn) return true;
  *failed = true;
  return false;
}

void Durability::WhenDurable(uint64_t lsn, std::function<void(bool ok)> done) {
  State& s = *state_;
  {
    std::lock_guard lock(s.waiters_mu);
    if (s.synced_lsn.load(std::memory_order_acquire) < lsn && !s.stop) {
      s.waiters.emplace_back(lsn, std::move(done));
      s.cv.notify_one();
      return;
    }
  }
  done(s.synced_lsn.load(std::memory_order_acquire) >= lsn);
}

void Durability::BeginTransaction() {
  t_in_transaction = true;
  t_transaction.clear();
}

void Durability::CommitTransaction() {
  t_in_transaction = false;
  if (!t_transaction.empty() && state_->aof) state_->Frame(t_transaction);
  t_transaction.clear();
}

std::optional<std::string> Durability::WriteError() const {
  const State& s = *state_;
  if (int err = s.write_errno.load(); err != 0) {
    return "MISCONF Errors writing to the AOF file: " + std::string(std::strerror(err));
  }
  if (s.opt.stop_writes_on_bgsave_error && s.bgsave_failed.load() && !s.opt.save_rules.empty()) {
    return std::string(kBgSaveMisconf);
  }
  return std::nullopt;
}

Result<bool> Durability::Save() {
  State& s = *state_;
  std::lock_guard lock(s.job_mu);
  if (s.bgsave_running) return Err("Background save already in progress");
  if (s.rewrite_running) return Err("Background append only file rewriting in progress");
  int64_t dirty_at_cut = 0;
  auto reader = s.engine.StartSnapshot([&] { dirty_at_cut = s.dirty.load(); });
  if (!reader.ok()) return Err(reader.error().message);
  int64_t started = SteadyMs();
  Status st = WriteSnapshotFile(s.snapshot_path, **reader, s.opt.wall_ms(), nullptr);
  reader->reset();
  s.FinishSave(st, dirty_at_cut, started);
  if (!st.ok()) return Err("snapshot failed: " + st.message());
  return true;
}

Result<std::string> Durability::BgSave() {
  State& s = *state_;
  std::lock_guard lock(s.job_mu);
  if (s.bgsave_running) return Err("Background save already in progress");
  if (s.rewrite_running) {
    return Err(
        "An AOF log rewriting in progress: can't BGSAVE right now. Use BGSAVE SCHEDULE in order "
        "to schedule a BGSAVE whenever possible.");
  }
  return s.StartBgSaveLocked();
}

Result<std::string> Durability::BgRewriteAof() {
  State& s = *state_;
  if (!s.aof) return Err("Background append only file rewriting needs appendonly yes");
  std::lock_guard lock(s.job_mu);
  if (s.rewrite_running) return Err("Background append only file rewriting already in progress");
  if (s.bgsave_running) {
    s.rewrite_scheduled = true;
    return std::string("Background append only file rewriting scheduled");
  }
  return s.StartRewriteLocked();
}

int64_t Durability::LastSaveUnix() const { return state_->last_save_unix.load(); }

PersistenceInfo Durability::Info() const {
  const State& s = *state_;
  PersistenceInfo i;
  int64_t now = SteadyMs();
  i.rdb_changes_since_last_save = s.dirty.load();
  i.rdb_bgsave_in_progress = s.bgsave_running.load();
  i.rdb_last_save_time = s.last_save_unix.load();
  i.rdb_last_bgsave_status = s.bgsave_failed ? "err" : "ok";
  i.rdb_last_bgsave_time_sec = s.last_bgsave_secs.load();
  if (i.rdb_bgsave_in_progress) i.rdb_current_bgsave_time_sec = (now - s.job_started_ms) / 1000;
  i.aof_enabled = s.aof;
  i.aof_rewrite_in_progress = s.rewrite_running.load();
  i.aof_rewrite_scheduled = s.rewrite_scheduled.load();
  i.aof_last_rewrite_time_sec = s.last_rewrite_secs.load();
  if (i.aof_rewrite_in_progress) i.aof_current_rewrite_time_sec = (now - s.job_started_ms) / 1000;
  i.aof_last_bgrewrite_status = s.rewrite_failed ? "err" : "ok";
  i.aof_last_write_status = s.write_errno.load() != 0 ? "err" : "ok";
  i.aof_current_size = s.base_bytes + s.incr_bytes;
  i.aof_base_size = s.rewrite_base_size;
  {
    std::lock_guard lock(const_cast<std::mutex&>(s.mu));
    i.aof_buffer_length = static_cast<int64_t>(s.pending.size());
  }
  i.aof_fsyncs = s.fsyncs.load();
  i.aof_records = s.records.load();
  return i;
}

void Durability::Cron() {
  State& s = *state_;
  if (s.aof && s.write_errno.load() != 0) {
    std::lock_guard lock(s.write_mu);
    if (s.FlushLocked()) s.Notice("AOF write error is solved, the AOF is being written again");
  }
  std::lock_guard lock(s.job_mu);
  if (s.bgsave_running || s.rewrite_running) return;
  if (s.rewrite_scheduled) {
    (void)s.StartRewriteLocked();
    return;
  }
  int64_t now_unix = s.opt.wall_ms() / 1000;
  int64_t dirty = s.dirty.load();
  // After a failed BGSAVE, wait 5 s before the rules try again (as Redis).
  bool may_retry = !s.bgsave_failed || SteadyMs() - s.last_bgsave_try_ms >= 5000;
  for (const SaveRule& rule : s.opt.save_rules) {
    if (may_retry && dirty >= rule.changes && dirty > 0 &&
        now_unix - s.last_save_unix >= rule.seconds) {
      s.Notice(std::to_string(rule.changes) + " changes in " + std::to_string(rule.seconds) +
               " seconds. Saving...");
      (void)s.StartBgSaveLocked();
      return;
    }
  }
  if (s.aof && s.opt.auto_aof_rewrite_percentage > 0) {
    int64_t size = s.base_bytes + s.incr_bytes;
    int64_t base = std::max<int64_t>(s.rewrite_base_size, 1);
    if (size >= s.opt.auto_aof_rewrite_min_size &&
        (size - base) * 100 / base >= s.opt.auto_aof_rewrite_percentage) {
      s.Notice("Starting automatic rewriting of AOF on " +
               std::to_string((size - base) * 100 / base) + "% growth");
      (void)s.StartRewriteLocked();
    }
  }
}

Result<bool> Durability::Shutdown(bool save, bool nosave) {
  State& s = *state_;
  {
    std::lock_guard lock(s.job_mu);
    s.JoinJob();  // a running BGSAVE / rewrite finishes first
  }
  if (s.aof) {
    if (!s.WriteAndSync()) return Err("Errors trying to flush the AOF file on shutdown");
  }
  if (save || (!nosave && !s.opt.save_rules.empty())) {
    auto r = Save();
    if (!r) return Err("Errors trying to SHUTDOWN. Check logs.");
  }
  return true;
}

}  // namespace limiterd::persistence
