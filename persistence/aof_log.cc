#include "aof_log.h"

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

#include "file_format.h"

namespace limiterd::persistence {
namespace {

// LSNs of successive logs in one process continue from each other, so a
// thread's last LSN from a log that is gone (a test's, or before a restart
// in-process) is never mistaken for a position in the new one: it is below
// anything the new log frames.
std::atomic<std::uint64_t> g_lsn_high{0};

constexpr auto kTick = std::chrono::seconds(1);

}  // namespace

LogFile::~LogFile() {
  if (fd_ >= 0) ::close(fd_);
}

AofLog::AofLog(FsyncPolicy policy, std::shared_ptr<LogFile> file, std::uint64_t file_size)
    : policy_(policy),
      framed_lsn_(g_lsn_high.load()),
      written_lsn_(framed_lsn_),
      synced_lsn_(framed_lsn_),
      file_size_(file_size),
      wbuf_lsn_(framed_lsn_),
      file_(std::move(file)),
      file_start_lsn_(framed_lsn_),
      file_start_size_(file_size),
      zero_fill_(file_, file_size, framed_lsn_) {
  file_path_ = file_->path();
  sync_thread_ = std::thread([this] { SyncLoop(); });
  // For top -H, perf and gdb; named here, not by the thread, so that the
  // name is there once the log is.
  pthread_setname_np(sync_thread_.native_handle(), "aof-sync");
}

AofLog::~AofLog() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  sync_thread_.join();
  std::lock_guard lock(mu_);
  std::uint64_t high = g_lsn_high.load();
  while (high < framed_lsn_ && !g_lsn_high.compare_exchange_weak(high, framed_lsn_)) {
  }
}

std::uint64_t AofLog::Append(std::string_view changes) {
  // The checksum is computed before the lock: under it, only memcpy.
  if (changes.size() <= kSplitPayload) {
    char header[kRecordHeaderSize];
    EncodeRecordHeader(kChanges, changes, header);
    std::lock_guard lock(mu_);
    pending_.append(header, sizeof header);
    pending_.append(changes);
    framed_lsn_ += sizeof header + changes.size();
    ++records_;
    return framed_lsn_;
  }
  std::string framed;
  AppendGroup(framed, kChangesPart, kChanges, changes);
  std::lock_guard lock(mu_);
  pending_.append(framed);
  framed_lsn_ += framed.size();
  ++records_;
  return framed_lsn_;
}

void AofLog::SwitchFileAtCut(std::shared_ptr<LogFile> next, std::uint64_t next_size) {
  std::lock_guard lock(mu_);
  switch_ = Switch{framed_lsn_, std::move(next), next_size};
}

// ---- writing ---------------------------------------------------------------

Status AofLog::WriteLocked() {
  {
    std::lock_guard lock(mu_);
    if (!pending_.empty()) {
      // Usually nothing is retained: swap buffers instead of copying.
      if (wbuf_.empty()) {
        wbuf_.swap(pending_);
      } else {
        wbuf_.append(pending_);
        pending_.clear();
      }
    }
    if (switch_) {
      next_ = std::move(switch_);
      switch_.reset();
    }
  }
  Status s = WritePendingLocked();
  if (policy() == FsyncPolicy::kNo) {
    // Nothing is ever written again with `no`: drop what is written.
    wbuf_.erase(0, wpos_);
    wbuf_lsn_ += wpos_;
    wpos_ = 0;
  }
  return s;
}

Status AofLog::WritePendingLocked() {
  if (truncate_pending_) {
    // A partial record is still at the end of the file: nothing may be
    // appended after it.
    const std::uint64_t size = SizeAtLocked(wbuf_lsn_ + wpos_);
    if (const int err = zero_fill_.CutTo(size); err != 0) {
      return Status::IoError("truncate", file_->path(), err);
    }
    truncate_pending_ = false;
  }
  for (;;) {
    const std::uint64_t at = wbuf_lsn_ + wpos_;
    // A switch's LSN is never below what was taken before it was set, so
    // `at` reaches it exactly.
    if (next_ && at == next_->lsn) {
      if (Status s = SwitchLocked(at); !s.ok()) return s;
      continue;
    }
    if (wpos_ == wbuf_.size()) return Status::Ok();
    std::size_t n = wbuf_.size() - wpos_;
    if (next_ && next_->lsn - at < n) n = static_cast<std::size_t>(next_->lsn - at);
    const std::uint64_t offset = SizeAtLocked(at);
    Status s = zero_fill_.Write(std::string_view(wbuf_).substr(wpos_, n), offset);
    if (!s.ok()) {
      RewindLocked(at);
      return s;
    }
    wpos_ += n;
    written_lsn_.store(at + n, std::memory_order_release);
    file_size_.store(offset + n, std::memory_order_relaxed);
    if (policy() == FsyncPolicy::kAlways && zero_fill_on_.load(std::memory_order_relaxed)) {
      zero_fill_.RequestFill(offset + n, at + n, fsyncs_.load(std::memory_order_relaxed));
    }
  }
}

Status AofLog::SwitchLocked(std::uint64_t at) {
  // Later fsyncs only cover the new file: the old one's bytes must be on
  // disk before the log moves on (even with appendfsync no: once per
  // rewrite, and SHUTDOWN's flush then covers everything).
  if (::fdatasync(file_->fd()) != 0) {
    const Status s = Status::IoError("fdatasync", file_->path(), errno);
    RewindLocked(wbuf_lsn_);
    return s;
  }
  fsyncs_.fetch_add(1, std::memory_order_relaxed);
  MarkSyncedLocked(at);
  zero_fill_.SwitchTo(next_->file, next_->size, SizeAtLocked(at));
  file_ = std::move(next_->file);
  file_start_lsn_ = at;
  file_start_size_ = next_->size;
  {
    std::lock_guard lock(file_mu_);
    file_path_ = file_->path();
    file_size_.store(next_->size, std::memory_order_relaxed);
  }
  next_.reset();
  return Status::Ok();
}

void AofLog::MarkSyncedLocked(std::uint64_t lsn) {
  if (lsn > wbuf_lsn_) {
    const std::size_t n = std::min<std::uint64_t>(lsn - wbuf_lsn_, wpos_);
    wbuf_.erase(0, n);
    wpos_ -= n;
    wbuf_lsn_ += n;
  }
  std::lock_guard lock(mu_);
  if (lsn > synced_lsn_.load(std::memory_order_relaxed)) {
    synced_lsn_.store(lsn, std::memory_order_release);
  }
}

void AofLog::RewindLocked(std::uint64_t to_lsn) {
  // Never before the current file (its start is synced whenever something
  // is retained from before it).
  to_lsn = std::max(to_lsn, file_start_lsn_);
  // The next write lands at the new end (and zero-fills ahead again). If
  // even ftruncate fails the next write tries it again first
  // (truncate_pending_).
  truncate_pending_ = zero_fill_.CutTo(SizeAtLocked(to_lsn)) != 0;
  wpos_ = static_cast<std::size_t>(to_lsn - wbuf_lsn_);
  written_lsn_.store(to_lsn, std::memory_order_release);
  file_size_.store(SizeAtLocked(to_lsn), std::memory_order_relaxed);
}

void AofLog::SetFailed(const Status& status) {
  std::lock_guard lock(mu_);
  error_text_ = std::string("MISCONF Errors writing to the AOF file: ") +
                std::strerror(status.error_number());
  failed_.store(true, std::memory_order_release);
}

Status AofLog::WriteAndSync() {
  std::lock_guard sync_lock(sync_mu_);
  return WriteAndSyncHeld();
}

Status AofLog::WriteAndSyncHeld() {
  std::shared_ptr<LogFile> file;
  std::uint64_t target;
  {
    std::lock_guard lock(write_mu_);
    if (Status s = WriteLocked(); !s.ok()) return s;
    target = written_lsn_.load(std::memory_order_relaxed);
    if (target <= synced_lsn_.load(std::memory_order_relaxed)) return Status::Ok();
    file = file_;
  }
  // Writers go on meanwhile (everysec): the fsync holds no write lock.
  const auto start = std::chrono::steady_clock::now();
  const int rc = ::fdatasync(file->fd());
  const int err = errno;
  const auto took = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start)
          .count());
  const std::uint64_t avg = fsync_ns_avg_.load(std::memory_order_relaxed);
  fsync_ns_avg_.store(avg - avg / 8 + took / 8, std::memory_order_relaxed);
  std::lock_guard lock(write_mu_);
  if (rc == 0) {
    fsyncs_.fetch_add(1, std::memory_order_relaxed);
    MarkSyncedLocked(target);
    return Status::Ok();
  }
  // A switch since then fsynced `file` itself (or we would still be on it).
  if (synced_lsn_.load(std::memory_order_relaxed) >= target) return Status::Ok();
  RewindLocked(wbuf_lsn_);
  return Status::IoError("fdatasync", file->path(), err);
}

void AofLog::Settle() {
  std::vector<Waiter> done;
  bool ok;
  {
    std::lock_guard lock(mu_);
    ok = !failed_.load(std::memory_order_relaxed);
    const std::uint64_t synced = synced_lsn_.load(std::memory_order_relaxed);
    auto settled = [&](const Waiter& w) { return !ok || w.lsn <= synced; };
    auto it = std::stable_partition(waiters_.begin(), waiters_.end(),
                                    [&](const Waiter& w) { return !settled(w); });
    done.assign(std::make_move_iterator(it), std::make_move_iterator(waiters_.end()));
    waiters_.erase(it, waiters_.end());
  }
  for (Waiter& w : done) w.done(ok);
}

// ---- the sync thread ---------------------------------------------------------

void AofLog::SyncLoop() {
  auto next_tick = std::chrono::steady_clock::now() + kTick;
  std::unique_lock lock(mu_);
  while (!stop_) {
    bool round;
    if (policy() == FsyncPolicy::kAlways) {
      // A round as soon as someone waits for bytes not yet synced; else a
      // tick, for changes nobody waits for (an embedder's).
      auto wanted = [&] {
        return stop_ || policy_changed_ ||
               (!failed_.load(std::memory_order_relaxed) && !waiters_.empty() &&
                framed_lsn_ > synced_lsn_.load(std::memory_order_relaxed));
      };
      sync_idle_ = true;
      round = cv_.wait_until(lock, next_tick, wanted);
      sync_idle_ = false;
      if (stop_) break;
      if (!round) next_tick = std::chrono::steady_clock::now() + kTick;
    } else {
      round = cv_.wait_until(lock, next_tick,
                             [&] {
                               return stop_ || policy_changed_ ||
                                      (!failed_.load(std::memory_order_relaxed) &&
                                       !waiters_.empty());
                             });
      if (stop_) break;
      if (!round) next_tick = std::chrono::steady_clock::now() + kTick;
    }
    // After SetPolicy, and whenever someone waits (a connection that
    // read the policy as `always` just before it changed): write and
    // fsync, whatever the policy.
    const bool sync_now = std::exchange(policy_changed_, false) || !waiters_.empty();
    // While failing, the cron's Retry is the only writer.
    if (failed_.load(std::memory_order_relaxed)) continue;
    lock.unlock();
    Status s = Status::Ok();
    if (policy() == FsyncPolicy::kNo && !sync_now) {
      std::lock_guard write_lock(write_mu_);
      s = WriteLocked();
    } else {
      s = WriteAndSync();
    }
    if (!s.ok()) SetFailed(s);
    Settle();
    lock.lock();
  }
}

// ---- the callers' side -------------------------------------------------------

bool AofLog::ReadyToReply(std::uint64_t lsn, bool* failed) {
  *failed = false;
  if (failed_.load(std::memory_order_acquire)) {
    *failed = true;
    return false;
  }
  if (policy() == FsyncPolicy::kAlways) return synced_lsn_.load(std::memory_order_acquire) >= lsn;
  if (written_lsn_.load(std::memory_order_acquire) >= lsn) return true;
  Status s = Status::Ok();
  {
    // The leader writes everyone's bytes; the others find theirs written.
    std::lock_guard lock(write_mu_);
    if (written_lsn_.load(std::memory_order_relaxed) >= lsn) return true;
    s = WriteLocked();
  }
  if (!s.ok()) {
    SetFailed(s);
    Settle();
    *failed = true;
    return false;
  }
  return true;
}

void AofLog::SetPolicy(FsyncPolicy policy) {
  {
    std::lock_guard lock(mu_);
    if (policy_.load(std::memory_order_relaxed) == policy) return;
    policy_.store(policy, std::memory_order_release);
    policy_changed_ = true;
  }
  cv_.notify_one();
}

std::optional<bool> AofLog::SyncInline(std::uint64_t lsn) {
  if (policy() != FsyncPolicy::kAlways || failed_.load(std::memory_order_acquire)) {
    return std::nullopt;
  }
  const std::uint64_t max_ns = inline_fsync_max_ns_.load(std::memory_order_relaxed);
  if (max_ns == 0 || fsync_ns_avg_.load(std::memory_order_relaxed) > max_ns) return std::nullopt;
  // An fsync under way (the sync thread's) ends with a look at the waiters:
  // waiting for it and then making our own would take two.
  std::unique_lock sync_lock(sync_mu_, std::try_to_lock);
  if (!sync_lock.owns_lock()) return std::nullopt;
  const std::uint64_t fsyncs = fsyncs_.load(std::memory_order_relaxed);
  Status s = WriteAndSyncHeld();
  if (fsyncs_.load(std::memory_order_relaxed) != fsyncs) {
    fsyncs_inline_.fetch_add(1, std::memory_order_relaxed);
  }
  sync_lock.unlock();
  Conclude(s);
  if (!s.ok()) return false;
  // A successful write and fsync cover everything framed before the call;
  // should that ever not hold, the caller waits as usual.
  if (synced_lsn_.load(std::memory_order_acquire) >= lsn) return true;
  return std::nullopt;
}

void AofLog::WhenDurable(std::uint64_t lsn, std::function<void(bool ok)> done) {
  bool now_ok;
  {
    std::lock_guard lock(mu_);
    if (failed_.load(std::memory_order_relaxed)) {
      now_ok = false;
    } else if (synced_lsn_.load(std::memory_order_relaxed) >= lsn) {
      now_ok = true;
    } else {
      waiters_.push_back(Waiter{lsn, std::move(done)});
      // Only a sleeping sync thread needs the futex call; a busy one looks
      // at the waiters again when its round ends. (A waiter under another
      // policy read it as `always` just before a change: rare, wake it.)
      if (sync_idle_ || policy() != FsyncPolicy::kAlways) cv_.notify_one();
      return;
    }
  }
  done(now_ok);
}

// Records how a write-out ended (clearing or setting the error), then
// answers the waiters it decided.
void AofLog::Conclude(const Status& s) {
  if (s.ok()) {
    std::lock_guard lock(mu_);
    failed_.store(false, std::memory_order_release);
    error_text_.clear();
  } else {
    SetFailed(s);
  }
  Settle();
}

Status AofLog::Flush() {
  Status s = WriteAndSync();
  Conclude(s);
  return s;
}

void AofLog::Retry() {
  if (!failed_.load(std::memory_order_acquire)) return;
  Status s = Status::Ok();
  if (policy() == FsyncPolicy::kNo) {
    std::lock_guard lock(write_mu_);
    s = WriteLocked();
    if (s.ok()) {
      // The write may have been fine and the fsync of a switch the
      // problem: `no` keeps nothing to write again, so retry just that.
      if (::fdatasync(file_->fd()) != 0) s = Status::IoError("fdatasync", file_->path(), errno);
    }
  } else {
    s = WriteAndSync();
  }
  Conclude(s);
}

void AofLog::DropPadding() {
  std::lock_guard lock(write_mu_);
  const std::uint64_t size = file_size_.load(std::memory_order_relaxed);
  if (zero_fill_.end() > size) (void)zero_fill_.CutTo(size);
}

std::optional<std::string> AofLog::WriteError() const {
  if (!failed_.load(std::memory_order_acquire)) return std::nullopt;
  std::lock_guard lock(mu_);
  if (error_text_.empty()) return std::nullopt;
  return error_text_;
}

AofLog::CurrentFile AofLog::current_file() const {
  std::lock_guard lock(file_mu_);
  return CurrentFile{file_path_, file_size_.load(std::memory_order_relaxed)};
}

std::uint64_t AofLog::PaddingPast(std::uint64_t file_size) const {
  const std::uint64_t end = zero_fill_.end();
  return end > file_size ? end - file_size : 0;
}

AofLog::Stats AofLog::stats() const {
  Stats stats;
  {
    std::lock_guard lock(mu_);
    stats.records = records_;
    stats.pending_bytes = pending_.size();
  }
  stats.fsyncs = fsyncs_.load(std::memory_order_relaxed);
  stats.fsyncs_inline = fsyncs_inline_.load(std::memory_order_relaxed);
  stats.fsync_ns_avg = fsync_ns_avg_.load(std::memory_order_relaxed);
  stats.file_size = file_size_.load(std::memory_order_relaxed);
  stats.padding = PaddingPast(stats.file_size);  // the same file_size
  const AofZeroFill::Stats fill = zero_fill_.stats();
  stats.zero_fills = fill.fills;
  stats.zero_fills_skipped = fill.skipped;
  return stats;
}

}  // namespace limiterd::persistence
