// Copyright limiterd authors.
// SPEC 2 `window` (sliding window) and the CONSUME reply's retry_after and
// reset_after; decision 6: sub-windows of g = ceil(W/60) ms, usage charged at
// t counts until (floor(t/g) + 1) * g + W.
#include "test_util.h"

using namespace lt;  // NOLINT

namespace {
constexpr int64_t T = k2024_02_29_12;  // 2024-02-29 12:00:00.000 UTC
static_assert(T % 1000 == 0);
static_assert(T % 167 == 19);
static_assert(T % 9 == 0);
static_assert(T % 2 == 0);
}  // namespace

TEST_CASE("window 60s: allow/deny sequence, retry_after and reset_after", "[window]") {
  Fixture f(T);
  SetOk(f.engine, "w", Window(5, kMinute));  // g = 1000 ms
  // Charged at T: freed at T + 1000 + 60000.
  CHECK_REPLY(Take(f.engine, "w", 3), true, 2, 5, 0, 61'000, "w");
  f.clock.Set(T + 500);
  CHECK_REPLY(Take(f.engine, "w", 2), true, 0, 5, 0, 60'500, "w");
  f.clock.Set(T + 1500);
  CHECK_REPLY(Take(f.engine, "w", 1), false, 0, 5, 59'500, 59'500, "w");
  UsageReport u = UsageOf(f.engine, "w");
  INFO(Describe(u));
  CHECK(u.kind == Kind::kWindow);
  CHECK(u.consumed == 5);
  CHECK(u.remaining == 0);
  CHECK(u.limit == 5);
  CHECK(u.status == LimitStatus::kEmpty);
  CHECK(u.period == FormatDuration(kMinute));
  CHECK(u.period_start_ms == T + 1500 - kMinute);
  CHECK(u.resets_at_ms == T + 1500 + 59'500);

  f.clock.Set(T + 60'999);
  CHECK_REPLY(Take(f.engine, "w", 1), false, 0, 5, 1, 1, "w");
  f.clock.Set(T + 61'000);
  CHECK(Used(f.engine, "w") == 0);
  CHECK_REPLY(Take(f.engine, "w", 1), true, 4, 5, 0, 61'000, "w");
}

TEST_CASE("window 60s: usage in different sub-windows is freed step by step", "[window]") {
  Fixture f(T);
  SetOk(f.engine, "w", Window(5, kMinute));
  CHECK(Take(f.engine, "w", 3).allowed);  // freed at T + 61000
  f.clock.Set(T + 10'000);
  CHECK_REPLY(Take(f.engine, "w", 2), true, 0, 5, 0, 61'000, "w");  // freed at T + 71000
  f.clock.Set(T + 20'000);
  CHECK_REPLY(Take(f.engine, "w", 1), false, 0, 5, 41'000, 51'000, "w");
  CHECK_REPLY(Take(f.engine, "w", 3), false, 0, 5, 41'000, 51'000, "w");
  CHECK_REPLY(Take(f.engine, "w", 4), false, 0, 5, 51'000, 51'000, "w");
  CHECK_REPLY(Take(f.engine, "w", 5), false, 0, 5, 51'000, 51'000, "w");
  CHECK_REPLY(Take(f.engine, "w", 6), false, 0, 5, -1, 51'000, "w");  // above the limit

  f.clock.Set(T + 61'000);
  UsageReport u = UsageOf(f.engine, "w");
  CHECK(u.consumed == 2);
  CHECK(u.remaining == 3);
  CHECK_REPLY(Take(f.engine, "w", 4), false, 3, 5, 10'000, 10'000, "w");
  CHECK_REPLY(Take(f.engine, "w", 3), true, 0, 5, 0, 61'000, "w");
  f.clock.Set(T + 71'000);
  CHECK(Used(f.engine, "w") == 3);
}

TEST_CASE("window: waiting exactly retry_after succeeds, one ms less fails", "[window][retry]") {
  Fixture f(T);
  SetOk(f.engine, "w", Window(5, kMinute));
  CHECK(Take(f.engine, "w", 3).allowed);
  f.clock.Set(T + 10'000);
  CHECK(Take(f.engine, "w", 2).allowed);
  f.clock.Set(T + 20'000);
  CheckRetryAfterIsExact(f.engine, f.clock, "w", 4);
  CHECK(f.clock.NowMs() == T + 71'000);
}

TEST_CASE("window: an unaligned charge counts until the end of its sub-window plus W",
          "[window]") {
  Fixture f(T + 1234);
  SetOk(f.engine, "w", Window(1, kMinute));
  // floor((T+1234)/1000) + 1 = T/1000 + 2: freed at T + 2000 + 60000.
  CHECK_REPLY(Take(f.engine, "w", 1), true, 0, 1, 0, 60'766, "w");
  f.clock.Set(T + 61'999);
  CHECK_REPLY(Take(f.engine, "w", 1), false, 0, 1, 1, 1, "w");
  f.clock.Set(T + 62'000);
  CHECK(Take(f.engine, "w", 1).allowed);
}

TEST_CASE("window: sub-window sizes for short windows", "[window]") {
  SECTION("W = 50 ms: g = 1 ms, exact to the millisecond") {
    Fixture f(T);
    SetOk(f.engine, "w", Window(2, 50));
    CHECK_REPLY(Take(f.engine, "w", 2), true, 0, 2, 0, 51, "w");
    f.clock.Set(T + 50);
    CHECK_REPLY(Take(f.engine, "w", 1), false, 0, 2, 1, 1, "w");
    f.clock.Set(T + 51);
    CHECK_REPLY(Take(f.engine, "w", 1), true, 1, 2, 0, 51, "w");
  }
  SECTION("W = 60 ms: g = 1 ms") {
    Fixture f(T + 7);
    SetOk(f.engine, "w", Window(1, 60));
    CHECK_REPLY(Take(f.engine, "w", 1), true, 0, 1, 0, 61, "w");
  }
  SECTION("W = 61 ms: g = 2 ms") {
    Fixture f(T + 1);
    SetOk(f.engine, "w", Window(1, 61));
    // Slot [T, T+2): freed at T + 2 + 61.
    CHECK_REPLY(Take(f.engine, "w", 1), true, 0, 1, 0, 62, "w");
    f.clock.Set(T + 62);
    CHECK_REPLY(Take(f.engine, "w", 1), false, 0, 1, 1, 1, "w");
    f.clock.Set(T + 63);
    CHECK(Take(f.engine, "w", 1).allowed);
  }
  SECTION("W = 500 ms: g = 9 ms") {
    Fixture f(T + 4);
    SetOk(f.engine, "w", Window(1, 500));
    // Slot [T, T+9): freed at T + 9 + 500.
    CHECK_REPLY(Take(f.engine, "w", 1), true, 0, 1, 0, 505, "w");
    f.clock.Set(T + 508);
    CHECK_REPLY(Take(f.engine, "w", 1), false, 0, 1, 1, 1, "w");
    f.clock.Set(T + 509);
    CHECK(Take(f.engine, "w", 1).allowed);
  }
  SECTION("W = 10 s: g = 167 ms") {
    Fixture f(T);
    SetOk(f.engine, "w", Window(1, 10'000));
    // T is 19 ms into its slot: freed at T - 19 + 167 + 10000.
    CHECK_REPLY(Take(f.engine, "w", 1), true, 0, 1, 0, 10'148, "w");
    f.clock.Set(T + 10'147);
    CHECK_REPLY(Take(f.engine, "w", 1), false, 0, 1, 1, 1, "w");
    f.clock.Set(T + 10'148);
    CHECK(Take(f.engine, "w", 1).allowed);
  }
}

TEST_CASE("window: never under-counts an exact sliding window", "[window]") {
  // Whatever the charge times, usage charged at t is still counted at
  // t + W - 1 (an exact sliding window counts (now - W, now]).
  for (int64_t w : {50, 61, 500, 1000, 10'000, 60'000, 3'600'000}) {
    for (int64_t off : {0, 1, 7, 999}) {
      Fixture f(T + off);
      SetOk(f.engine, "w", Window(1, w));
      REQUIRE(Take(f.engine, "w", 1).allowed);
      f.clock.Set(T + off + w - 1);
      INFO("W=" << w << " offset=" << off);
      CHECK(Used(f.engine, "w") == 1);
      f.clock.Set(T + off + w + (w + 59) / 60);  // at most g later it is freed
      CHECK(Used(f.engine, "w") == 0);
    }
  }
}

TEST_CASE("window: unlimited counts and never denies", "[window]") {
  Fixture f(T);
  SetOk(f.engine, "w", Window(std::nullopt, kMinute));
  CHECK_REPLY(Take(f.engine, "w", 1000), true, kNil, kNil, 0, 61'000, "w");
  UsageReport u = UsageOf(f.engine, "w");
  CHECK(u.consumed == 1000);
  CHECK(u.limit == kNil);
  CHECK(u.remaining == kNil);
  CHECK(u.status == LimitStatus::kActive);
}

TEST_CASE("window: refund gives back the newest usage first", "[window][refund]") {
  Fixture f(T);
  SetOk(f.engine, "w", Window(5, kMinute));
  CHECK(Take(f.engine, "w", 3).allowed);  // slot of T: freed at T + 61000
  f.clock.Set(T + 10'000);
  CHECK(Take(f.engine, "w", 2).allowed);  // slot of T+10000: freed at T + 71000
  f.clock.Set(T + 20'000);
  // Newest first: the 2 of T+10000, then 1 of T's 3.
  CHECK(RefundOk(f.engine, "w", 3) == 2);
  CHECK_REPLY(Take(f.engine, "w", 0), true, 3, 5, 0, 41'000, "w");
  f.clock.Set(T + 60'999);
  CHECK(Used(f.engine, "w") == 2);
  f.clock.Set(T + 61'000);
  CHECK(Used(f.engine, "w") == 0);
  CHECK(RefundOk(f.engine, "w", 10) == 0);
  CHECK(Used(f.engine, "w") == 0);
}

TEST_CASE("window: USAGE.GET fields", "[window][usage]") {
  Fixture f(T);
  SetOk(f.engine, "w", WithSoft(Window(10, 90 * kSecond), 4));  // g = 1500 ms
  UsageReport u = UsageOf(f.engine, "w");
  INFO(Describe(u));
  CHECK(u.period == "90s");
  CHECK(u.period_start_ms == T - 90'000);
  CHECK(u.resets_at_ms == T);  // no usage: reset_after 0
  CHECK(u.consumed == 0);
  CHECK(u.soft_limit == 4);
  CHECK_FALSE(u.soft_reached);
  CHECK(u.renewable);
  CHECK(u.source == "own");

  CHECK(Take(f.engine, "w", 4).allowed);  // T % 1500 == 0: freed at T + 1500 + 90000
  u = UsageOf(f.engine, "w");
  CHECK(u.consumed == 4);
  CHECK(u.remaining == 6);
  CHECK(u.soft_reached);
  CHECK(u.resets_at_ms == T + 91'500);

  LimitInfo info = InfoOf(f.engine, "w");
  CHECK(info.definition.kind == Kind::kWindow);
  CHECK(info.definition.window_ms == 90'000);
  CHECK(info.definition.hard == 10);
  CHECK(info.definition.soft == 4);
  CHECK(info.source == "own");
}

TEST_CASE("window: a denied or DRYRUN call leaves no usage", "[window][dryrun]") {
  Fixture f(T);
  SetOk(f.engine, "w", Window(2, kMinute));
  ConsumeReply dry = Dry(f.engine, "w", 2);
  CHECK_REPLY(dry, true, 0, 2, 0, 61'000, "w");
  CHECK(Used(f.engine, "w") == 0);
  ConsumeReply real = Take(f.engine, "w", 2);
  CHECK_SAME_REPLY(dry, real);
  f.clock.Set(T + 30'000);
  CHECK_REPLY(Take(f.engine, "w", 1), false, 0, 2, 31'000, 31'000, "w");
  f.clock.Set(T + 61'000);
  // Had the denied call at T+30000 counted, it would still be held.
  CHECK(Used(f.engine, "w") == 0);
}
