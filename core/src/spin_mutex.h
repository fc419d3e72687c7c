// Copyright limiterd authors.
// SpinMutex: the lock of one shard. Critical sections on the consume path
// are a few hash lookups and additions (~100 ns), so a waiter first spins
// a little; past that it sleeps on a futex (std::atomic::wait) so that more
// threads than cores (tests, embedders) do not burn their time slices.
// Drepper's "mutex 3": 0 free, 1 locked, 2 locked and maybe waiters.
#pragma once

#include <atomic>
#include <cstdint>

namespace limiterd::internal {

class SpinMutex {
 public:
  void lock() {
    uint32_t expected = 0;
    if (state_.compare_exchange_strong(expected, 1, std::memory_order_acquire)) return;
    for (int i = 0; i < kSpins; ++i) {
      CpuRelax();
      expected = 0;
      if (state_.load(std::memory_order_relaxed) == 0 &&
          state_.compare_exchange_weak(expected, 1, std::memory_order_acquire)) {
        return;
      }
    }
    // Slow path: mark "waiters" and sleep until the holder hands over.
    uint32_t seen = state_.exchange(2, std::memory_order_acquire);
    while (seen != 0) {
      state_.wait(2, std::memory_order_relaxed);
      seen = state_.exchange(2, std::memory_order_acquire);
    }
  }

  bool try_lock() {
    uint32_t expected = 0;
    return state_.compare_exchange_strong(expected, 1, std::memory_order_acquire);
  }

  void unlock() {
    // release: the critical section's writes are visible to the next owner.
    if (state_.exchange(0, std::memory_order_release) == 2) state_.notify_one();
  }

 private:
  static constexpr int kSpins = 100;
  static void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
  }
  std::atomic<uint32_t> state_{0};
};

}  // namespace limiterd::internal
