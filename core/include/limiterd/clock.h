// Copyright limiterd authors.
// The time source. Every time-dependent decision of the Engine reads one
// Clock, injected at construction, so tests and the server's DEBUG CLOCK can
// move time. Times are unix milliseconds, UTC.
#pragma once

#include <atomic>
#include <cstdint>

namespace limiterd {

class Clock {
 public:
  virtual ~Clock() = default;
  // Thread-safe; called under shard locks, so it must be cheap.
  virtual int64_t NowMs() const = 0;
};

// The wall clock (CLOCK_REALTIME).
class SystemClock final : public Clock {
 public:
  int64_t NowMs() const override;
};

// A wall clock that can be stopped at a time point, advanced and released:
// the server's DEBUG CLOCK SET / ADVANCE / REAL, and the tests' clock.
// Thread-safe: every member may be called from any thread.
class AdjustableClock final : public Clock {
 public:
  AdjustableClock() = default;
  explicit AdjustableClock(int64_t stopped_at_ms) { Set(stopped_at_ms); }

  int64_t NowMs() const override;
  // Stops the clock at `ms`.
  void Set(int64_t ms);
  // Moves the clock forward by exactly `ms` (a stopped clock stays stopped;
  // a running one keeps running, `ms` ahead).
  void Advance(int64_t ms);
  // Back to the wall clock.
  void Real();
  bool stopped() const { return (state_.load(std::memory_order_acquire) & 1) != 0; }

 private:
  // One word, so that a reader never mixes the mode of one write with the
  // value of another: value * 2 + stopped. Stopped: value is the time;
  // running: value is an offset to the wall clock.
  std::atomic<int64_t> state_{0};
};

}  // namespace limiterd
