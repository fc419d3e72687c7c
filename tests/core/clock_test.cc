// Copyright limiterd authors.
// SPEC 2 "Time" and clock.h: the AdjustableClock behind DEBUG CLOCK SET /
// ADVANCE / REAL, and the Engine's clock.
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "test_util.h"

using namespace lt;  // NOLINT

namespace {
int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
bool Near(int64_t a, int64_t b, int64_t tolerance = 10'000) { return std::llabs(a - b) <= tolerance; }
}  // namespace

TEST_CASE("AdjustableClock: SET stops, ADVANCE moves exactly, REAL releases", "[clock]") {
  AdjustableClock c(k2024_02_29);
  CHECK(c.stopped());
  CHECK(c.NowMs() == k2024_02_29);
  c.Advance(1500);
  CHECK(c.stopped());
  CHECK(c.NowMs() == k2024_02_29 + 1500);
  c.Set(0);
  CHECK(c.stopped());
  CHECK(c.NowMs() == 0);
  c.Set(253402300799999);  // 9999-12-31 23:59:59.999
  CHECK(c.NowMs() == 253402300799999);

  c.Real();
  CHECK_FALSE(c.stopped());
  CHECK(Near(c.NowMs(), WallMs()));
  SystemClock system;
  CHECK(Near(system.NowMs(), WallMs()));
  c.Advance(kDay);  // a running clock keeps running, a day ahead
  CHECK_FALSE(c.stopped());
  CHECK(Near(c.NowMs(), WallMs() + kDay));
  c.Set(k2024_03_01);
  CHECK(c.stopped());
  CHECK(c.NowMs() == k2024_03_01);
}

TEST_CASE("AdjustableClock: default-constructed it follows the wall clock", "[clock]") {
  AdjustableClock c;
  CHECK_FALSE(c.stopped());
  CHECK(Near(c.NowMs(), WallMs()));
}

TEST_CASE("Engine: the injected clock decides; without one, the wall clock", "[clock]") {
  Fixture f(k2024_02_29_1345);
  CHECK(&f.engine.clock() == &f.clock);
  CHECK(f.engine.clock().NowMs() == k2024_02_29_1345);

  Engine wall;
  CHECK(Near(wall.clock().NowMs(), WallMs()));
  CHECK(wall.separator() == "/");
  SetOk(wall, "k", Quota(1, Daily()));
  const int64_t anchor = *InfoOf(wall, "k").definition.anchor_ms;
  CHECK(anchor % kDay == 0);
  CHECK(WallMs() - anchor >= 0);
  CHECK(WallMs() - anchor < kDay + 10'000);
}

TEST_CASE("AdjustableClock: readers never see a torn value", "[clock][concurrency]") {
  AdjustableClock c(k2024_02_29);
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  std::thread writer([&] {
    for (int i = 0; i < 20'000; ++i) {
      if (i % 3 == 2) {
        c.Real();
      } else {
        c.Set(i % 3 == 0 ? k2024_02_29 : k2024_03_01);
      }
    }
    stop = true;
  });
  std::thread reader([&] {
    while (!stop.load()) {
      int64_t now = c.NowMs();
      if (now != k2024_02_29 && now != k2024_03_01 && !Near(now, WallMs())) bad.fetch_add(1);
    }
  });
  writer.join();
  reader.join();
  CHECK(bad.load() == 0);
}
