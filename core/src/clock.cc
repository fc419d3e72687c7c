// Copyright limiterd authors.
#include "limiterd/clock.h"

#include <chrono>

namespace limiterd {
namespace {

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

int64_t SystemClock::NowMs() const { return WallMs(); }

// state_ = value * 2 + stopped; >> 1 is an arithmetic shift in C++20.
int64_t AdjustableClock::NowMs() const {
  int64_t s = state_.load(std::memory_order_acquire);
  return (s & 1) ? (s >> 1) : WallMs() + (s >> 1);
}

void AdjustableClock::Set(int64_t ms) { state_.store(ms * 2 + 1, std::memory_order_release); }

void AdjustableClock::Advance(int64_t ms) {
  int64_t s = state_.load(std::memory_order_relaxed);
  while (!state_.compare_exchange_weak(s, ((s >> 1) + ms) * 2 + (s & 1),
                                       std::memory_order_acq_rel)) {
  }
}

void AdjustableClock::Real() { state_.store(0, std::memory_order_release); }

}  // namespace limiterd
