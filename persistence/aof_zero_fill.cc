#include "aof_zero_fill.h"

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <string>
#include <utility>

#include "aof_log.h"

namespace limiterd::persistence {
namespace {

// Each fill costs a journal commit and a burst of writes that the group
// commit's fdatasync may wait behind: 16 MiB steps gave a lower p99 and
// more CONSUMEs at -P 1 than 2 MiB steps (docs/performance-history.md), as
// PostgreSQL's 16 MiB WAL segments.
constexpr std::uint64_t kStep = 16u << 20;
constexpr std::uint64_t kLowWater = 8u << 20;
constexpr std::uint64_t kGap = 1u << 20;
// Each piece is written back before a pause, so that the zeros reach the
// disk in small bursts between group commits, at most about 50 MB/s, not
// in one 16 MiB flush. Small, because an fdatasync of the log waits for
// every page of the file under writeback, the piece's too: with 1 MiB
// pieces every 20 ms the group commits that met one took 1.0-1.2 ms
// instead of 0.15 (perf trace), and all 50 clients of a -P 1 run waited
// on each, the heavier tail from p96 on in docs/performance-history.md. 128 KiB
// pieces every 2.5 ms: those commits 0.35 ms, and the p99 of four
// alternating rounds 1.42-1.52 ms against 1.94 with 1 MiB (Redis 1.44-1.61).
// 32 KiB pieces: 1.66 (more pieces, more commits that find the size
// changed).
constexpr std::uint64_t kPiece = 128u << 10;
constexpr auto kPiecePause = std::chrono::microseconds(2500);
// After a decision against filling, the next one comes this much later.
constexpr std::uint64_t kDecideAgain = 1u << 20;
// At -P 1 a group commit carries 2-3 KiB here (docs/performance-history.md: +10%
// CONSUMEs with the space ahead on a fresh server, medians of five rounds).
// At -P 16, 30-50 KiB: filling there doubled the bytes written and the
// writer caught up with the fills, a p99 of 10-15 ms against 3-4. Above
// this many bytes per fsync since the last decision, no fill.
constexpr std::uint64_t kMaxBytesPerFsync = 8u << 10;

}  // namespace

AofZeroFill::AofZeroFill(std::shared_ptr<LogFile> file, std::uint64_t size, std::uint64_t lsn)
    : file_(std::move(file)), end_(size), written_mark_(lsn) {
  thread_ = std::thread([this] { Loop(); });
  pthread_setname_np(thread_.native_handle(), "aof-zero-fill");  // as AofLog's sync thread
}

AofZeroFill::~AofZeroFill() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wanted_cv_.notify_all();
  thread_.join();
}

Status AofZeroFill::Write(std::string_view bytes, std::uint64_t offset) {
  const LogFile& file = *file_;  // only the writer changes it (SwitchTo)
  const std::uint64_t end = offset + bytes.size();
  if (end > end_.load(std::memory_order_acquire)) {
    // Past the space ahead: an append, below the range a fill under way is
    // writing.
    std::unique_lock lock(mu_);
    if (filling_ && end > fill_from_) {
      ++waiters_;  // the fill stops after its current piece
      idle_cv_.wait(lock, [&] { return !filling_ || end <= fill_from_; });
      --waiters_;
    }
    if (end > end_.load(std::memory_order_relaxed)) {
      if (Status s = WriteAllAt(file.fd(), bytes, offset, file.path()); !s.ok()) return s;
      end_.store(end, std::memory_order_release);
      return Status::Ok();
    }
  }
  // Inside the space ahead: the thread is past it for good.
  return WriteAllAt(file.fd(), bytes, offset, file.path());
}

void AofZeroFill::RequestFill(std::uint64_t end, std::uint64_t written, std::uint64_t fsyncs) {
  if (end_.load(std::memory_order_relaxed) - end >= kLowWater ||
      end < next_at_.load(std::memory_order_relaxed) ||
      wanted_.load(std::memory_order_relaxed)) {
    return;  // the common case: no lock
  }
  {
    // The totals before the flag, so that the thread never decides from
    // an earlier request's.
    std::lock_guard lock(mu_);
    wanted_written_ = written;
    wanted_fsyncs_ = fsyncs;
    wanted_.store(true, std::memory_order_relaxed);
  }
  wanted_cv_.notify_one();
}

std::unique_lock<std::mutex> AofZeroFill::LockIdle() {
  std::unique_lock lock(mu_);
  idle_cv_.wait(lock, [&] { return !filling_; });
  return lock;
}

int AofZeroFill::CutTo(std::uint64_t size) {
  auto lock = LockIdle();
  int rc;
  do {
    rc = ::ftruncate(file_->fd(), static_cast<off_t>(size));
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) return errno;
  end_.store(size, std::memory_order_release);
  return 0;
}

void AofZeroFill::SwitchTo(std::shared_ptr<LogFile> next, std::uint64_t size,
                           std::uint64_t old_size) {
  auto lock = LockIdle();
  // Nothing appends to the old file any more, and readers take its zeros
  // for padding anyway.
  if (end_.load(std::memory_order_relaxed) > old_size) {
    (void)!::ftruncate(file_->fd(), static_cast<off_t>(old_size));
  }
  file_ = std::move(next);
  end_.store(size, std::memory_order_release);
  next_at_.store(0, std::memory_order_relaxed);
}

AofZeroFill::Stats AofZeroFill::stats() const {
  return Stats{fills_.load(std::memory_order_relaxed), skipped_.load(std::memory_order_relaxed)};
}

void AofZeroFill::Loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    wanted_cv_.wait(lock, [&] { return stop_ || wanted_.load(std::memory_order_relaxed); });
    if (stop_) return;
    // Bytes per fsync since the last decision.
    const std::uint64_t bytes = wanted_written_ - std::exchange(written_mark_, wanted_written_);
    const std::uint64_t fsyncs = wanted_fsyncs_ - std::exchange(fsyncs_mark_, wanted_fsyncs_);
    if (bytes <= kMaxBytesPerFsync * std::max<std::uint64_t>(1, fsyncs)) {
      FillLocked(lock);
    } else {
      // Decided again after 1 MiB more, from the groups of that MiB: a
      // server that was loaded in big groups (a bulk LIMIT.SET) and then
      // serves small ones starts filling soon.
      next_at_.store(end_.load(std::memory_order_relaxed) + kDecideAgain,
                     std::memory_order_relaxed);
      skipped_.fetch_add(1, std::memory_order_relaxed);
    }
    wanted_.store(false, std::memory_order_relaxed);
  }
}

void AofZeroFill::FillLocked(std::unique_lock<std::mutex>& lock) {
  // Its own descriptor, so that its fdatasync's report of an error cannot
  // stand in for the writer's.
  const std::string path = file_->path();
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  bool ok = fd >= 0;
  const std::uint64_t reserved = end_.load(std::memory_order_relaxed) + kGap;
  std::uint64_t filled = reserved;
  bool outrun = false;
  if (ok) {
    // Past the gap, a piece at a time, unlocked: the writer appends below
    // fill_from_ meanwhile (through the gap, then into the pieces done);
    // if it needs more it waits, and the fill stops after the piece under
    // way.
    filling_ = true;
    fill_from_ = reserved;
    while (ok && filled < reserved + kStep && !outrun) {
      lock.unlock();
      ok = WriteZerosAt(fd, filled, kPiece, path).ok() &&
           ::sync_file_range(fd, static_cast<off_t>(filled), static_cast<off_t>(kPiece),
                             SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER) == 0;
      lock.lock();
      if (ok) {
        filled += kPiece;
        fill_from_ = filled;
        idle_cv_.notify_all();
      }
      outrun = waiters_ > 0;
      if (ok && !outrun && filled < reserved + kStep) {
        lock.unlock();
        std::this_thread::sleep_for(kPiecePause);
        lock.lock();
        outrun = waiters_ > 0;
      }
    }
  }
  // Then what is left of the gap, from wherever the appends reached: left
  // as a hole, its blocks would be allocated by the writes, a journal
  // commit each. (Appends past the gap went on into the pieces done.)
  const std::uint64_t appended = end_.load(std::memory_order_relaxed);
  ok = ok && filled > reserved;
  if (ok && appended < reserved) ok = WriteZerosAt(fd, appended, reserved - appended, path).ok();
  if (ok) {
    end_.store(filled, std::memory_order_release);
    fills_.fetch_add(1, std::memory_order_relaxed);
    if (outrun) next_at_.store(filled + kStep, std::memory_order_relaxed);
  } else {
    // No room (ENOSPC): the writes go on as appends. What was filled is
    // cut, best effort, and the next fill waits until as much has been
    // appended, so that a nearly full disk is not tried at every write.
    if (fd >= 0) (void)!::ftruncate(fd, static_cast<off_t>(appended));
    next_at_.store(appended + kStep, std::memory_order_relaxed);
  }
  filling_ = false;
  idle_cv_.notify_all();
  if (ok) {
    // Flushes the zeros (and commits the size) off the group commit's
    // path. Its result is not needed: an error also reaches the writer's
    // descriptor, whose fdatasync reports it.
    lock.unlock();
    (void)::fdatasync(fd);
    lock.lock();
  }
  if (fd >= 0) ::close(fd);
}

}  // namespace limiterd::persistence
