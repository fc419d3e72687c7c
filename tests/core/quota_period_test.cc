// Copyright limiterd authors.
// SPEC 2 "A limit" (period, anchor, renewable, valid_until) and "Periods roll
// over exactly at their boundaries"; "A time point is reached when now >= it".
// Decisions 5 and 8.
#include "test_util.h"

using namespace lt;  // NOLINT

TEST_CASE("daily quota: default anchor 00:00 UTC, renews exactly at midnight",
          "[quota][period][daily]") {
  Fixture f(k2024_02_29_1345);  // 2024-02-29 13:45 UTC
  SetOk(f.engine, "k", Quota(10, Daily()));
  CHECK(InfoOf(f.engine, "k").definition.anchor_ms == k2024_02_29);

  // 10h15m to 2024-03-01 00:00 UTC.
  constexpr int64_t kToMidnight = k2024_03_01 - k2024_02_29_1345;
  static_assert(kToMidnight == 36'900'000);
  CHECK_REPLY(Take(f.engine, "k", 4), true, 6, 10, 0, kToMidnight, "k");

  UsageReport u = UsageOf(f.engine, "k");
  INFO(Describe(u));
  CHECK(u.kind == Kind::kQuota);
  CHECK(u.unit == "requests");
  CHECK(u.status == LimitStatus::kActive);
  CHECK(u.limit == 10);
  CHECK(u.soft_limit == kNil);
  CHECK(u.consumed == 4);
  CHECK(u.remaining == 6);
  CHECK_FALSE(u.soft_reached);
  CHECK(u.period == "daily");
  CHECK(u.period_start_ms == k2024_02_29);
  CHECK(u.resets_at_ms == k2024_03_01);
  CHECK(u.renewable);
  CHECK(u.valid_until_ms == kNil);
  CHECK(u.source == "own");

  // Denied: retry when the period renews (7 <= 10 then).
  CHECK_REPLY(Take(f.engine, "k", 7), false, 6, 10, kToMidnight, kToMidnight, "k");

  f.clock.Set(k2024_03_01 - 1);  // 2024-02-29 23:59:59.999
  CHECK_REPLY(Take(f.engine, "k", 7), false, 6, 10, 1, 1, "k");
  CHECK(Used(f.engine, "k") == 4);

  f.clock.Set(k2024_03_01);  // 2024-03-01 00:00:00.000: reached
  u = UsageOf(f.engine, "k");
  CHECK(u.consumed == 0);
  CHECK(u.period_start_ms == k2024_03_01);
  CHECK(u.resets_at_ms == k2024_03_01 + kDay);
  CHECK_REPLY(Take(f.engine, "k", 7), true, 3, 10, 0, kDay, "k");

  // Several days later: the current day's period, lazily.
  f.clock.Set(k2024_03_05 + 10 * kHour);  // 2024-03-05 10:00
  u = UsageOf(f.engine, "k");
  CHECK(u.consumed == 0);
  CHECK(u.period_start_ms == k2024_03_05);
  CHECK(u.resets_at_ms == k2024_03_05 + kDay);
}

TEST_CASE("daily quota: waiting exactly retry_after succeeds, one ms less fails",
          "[quota][period][retry]") {
  Fixture f(k2024_02_29_1345);
  SetOk(f.engine, "k", Quota(10, Daily()));
  CHECK(Take(f.engine, "k", 10).allowed);
  CheckRetryAfterIsExact(f.engine, f.clock, "k", 3);
  CHECK(f.clock.NowMs() == k2024_03_01);
  CHECK(Used(f.engine, "k") == 3);
}

TEST_CASE("weekly quota: default anchor is the Monday 00:00 UTC on or before",
          "[quota][period][weekly]") {
  SECTION("created on a Thursday") {
    Fixture f(k2024_02_29_12);  // Thu 2024-02-29 12:00
    SetOk(f.engine, "w", Quota(10, Weekly()));
    CHECK(InfoOf(f.engine, "w").definition.anchor_ms == k2024_02_26);
    constexpr int64_t kToMonday = k2024_03_04 - k2024_02_29_12;
    static_assert(kToMonday == 302'400'000);  // 3.5 days
    CHECK_REPLY(Take(f.engine, "w", 10), true, 0, 10, 0, kToMonday, "w");
    CHECK_REPLY(Take(f.engine, "w", 1), false, 0, 10, kToMonday, kToMonday, "w");
    UsageReport u = UsageOf(f.engine, "w");
    CHECK(u.period == "weekly");
    CHECK(u.period_start_ms == k2024_02_26);
    CHECK(u.resets_at_ms == k2024_03_04);
    CHECK(u.status == LimitStatus::kEmpty);

    f.clock.Set(k2024_03_03_12);  // Sun 2024-03-03 12:00: same week
    CHECK(Used(f.engine, "w") == 10);
    f.clock.Set(k2024_03_04 - 1);  // Sun 23:59:59.999
    CHECK_REPLY(Take(f.engine, "w", 1), false, 0, 10, 1, 1, "w");
    f.clock.Set(k2024_03_04);  // Mon 2024-03-04 00:00
    u = UsageOf(f.engine, "w");
    CHECK(u.consumed == 0);
    CHECK(u.period_start_ms == k2024_03_04);
    CHECK(u.resets_at_ms == k2024_03_04 + kWeek);
    CHECK_REPLY(Take(f.engine, "w", 1), true, 9, 10, 0, kWeek, "w");
  }
  SECTION("created on a Sunday") {
    Fixture f(k2024_03_03_12);  // Sun 2024-03-03 12:00
    SetOk(f.engine, "w", Quota(10, Weekly()));
    CHECK(InfoOf(f.engine, "w").definition.anchor_ms == k2024_02_26);
    CHECK(UsageOf(f.engine, "w").resets_at_ms == k2024_03_04);
  }
  SECTION("created exactly on Monday 00:00") {
    Fixture f(k2024_03_04);
    SetOk(f.engine, "w", Quota(10, Weekly()));
    CHECK(InfoOf(f.engine, "w").definition.anchor_ms == k2024_03_04);
    CHECK(UsageOf(f.engine, "w").resets_at_ms == k2024_03_04 + kWeek);
  }
}

TEST_CASE("daily and weekly quotas with an explicit anchor keep its time and weekday",
          "[quota][period][daily][weekly]") {
  SECTION("daily from 06:00") {
    Fixture f(k2024_02_29 + 3 * kHour);  // 2024-02-29 03:00, before the anchor
    SetOk(f.engine, "d", AnchoredQuota(10, Daily(), k2024_02_29 + 6 * kHour));
    UsageReport u = UsageOf(f.engine, "d");
    CHECK(u.period_start_ms == k2024_02_28 + 6 * kHour);
    CHECK(u.resets_at_ms == k2024_02_29 + 6 * kHour);
    CHECK_REPLY(Take(f.engine, "d", 10), true, 0, 10, 0, 3 * kHour, "d");
    f.clock.Set(k2024_02_29 + 6 * kHour - 1);
    CHECK(Used(f.engine, "d") == 10);
    f.clock.Set(k2024_02_29 + 6 * kHour);
    CHECK(Used(f.engine, "d") == 0);
  }
  SECTION("weekly from a Wednesday") {
    Fixture f(k2024_03_04);  // Mon 2024-03-04
    SetOk(f.engine, "w", AnchoredQuota(10, Weekly(), k2024_02_28));  // Wed 2024-02-28
    UsageReport u = UsageOf(f.engine, "w");
    CHECK(u.period_start_ms == k2024_02_28);
    CHECK(u.resets_at_ms == k2024_02_28 + kWeek);
  }
}

TEST_CASE("monthly quota anchored on the 31st: Feb 28 in 2023, Feb 29 in 2024, then Mar 31",
          "[quota][period][monthly]") {
  Fixture f(k2023_02_10);  // 2023-02-10 00:00
  SetOk(f.engine, "m", AnchoredQuota(100, Monthly(), k2023_01_31));
  CHECK(InfoOf(f.engine, "m").definition.anchor_ms == k2023_01_31);

  UsageReport u = UsageOf(f.engine, "m");
  CHECK(u.period == "monthly");
  CHECK(u.period_start_ms == k2023_01_31);
  CHECK(u.resets_at_ms == k2023_02_28);

  constexpr int64_t kToFeb28 = k2023_02_28 - k2023_02_10;
  static_assert(kToFeb28 == 18 * kDay);
  CHECK_REPLY(Take(f.engine, "m", 100), true, 0, 100, 0, kToFeb28, "m");
  CHECK_REPLY(Take(f.engine, "m", 1), false, 0, 100, kToFeb28, kToFeb28, "m");

  f.clock.Set(k2023_02_28 - 1);  // 2023-02-27 23:59:59.999
  CHECK(Used(f.engine, "m") == 100);
  CHECK_REPLY(Take(f.engine, "m", 1), false, 0, 100, 1, 1, "m");

  f.clock.Set(k2023_02_28);  // 2023-02-28 00:00
  u = UsageOf(f.engine, "m");
  CHECK(u.consumed == 0);
  CHECK(u.period_start_ms == k2023_02_28);
  CHECK(u.resets_at_ms == k2023_03_31);
  CHECK(Take(f.engine, "m", 50).allowed);

  f.clock.Set(k2023_03_31 - 1);
  CHECK(Used(f.engine, "m") == 50);
  f.clock.Set(k2023_03_31);  // 2023-03-31 00:00
  u = UsageOf(f.engine, "m");
  CHECK(u.consumed == 0);
  CHECK(u.period_start_ms == k2023_03_31);
  CHECK(u.resets_at_ms == k2023_04_30);

  // A year later, leap February.
  f.clock.Set(k2024_02_28);  // 2024-02-28 00:00
  u = UsageOf(f.engine, "m");
  CHECK(u.consumed == 0);
  CHECK(u.period_start_ms == k2024_01_31);
  CHECK(u.resets_at_ms == k2024_02_29);
  CHECK_REPLY(Take(f.engine, "m", 100), true, 0, 100, 0, kDay, "m");
  f.clock.Set(k2024_02_29 - 1);
  CHECK(Used(f.engine, "m") == 100);
  f.clock.Set(k2024_02_29);  // 2024-02-29 00:00
  u = UsageOf(f.engine, "m");
  CHECK(u.consumed == 0);
  CHECK(u.period_start_ms == k2024_02_29);
  CHECK(u.resets_at_ms == k2024_03_31);
  CHECK(Take(f.engine, "m", 100).allowed);
  f.clock.Set(k2024_03_31 - 1);
  CHECK(Used(f.engine, "m") == 100);
  f.clock.Set(k2024_03_31);  // 2024-03-31 00:00: back on the 31st
  u = UsageOf(f.engine, "m");
  CHECK(u.consumed == 0);
  CHECK(u.period_start_ms == k2024_03_31);
  CHECK(u.resets_at_ms == k2024_04_30);
}

TEST_CASE("monthly quota: default anchor is the 1st 00:00 UTC; time of day is kept",
          "[quota][period][monthly]") {
  SECTION("default anchor") {
    Fixture f(k2024_02_29_1345);
    SetOk(f.engine, "m", Quota(5, Monthly()));
    CHECK(InfoOf(f.engine, "m").definition.anchor_ms == k2024_02_01);
    UsageReport u = UsageOf(f.engine, "m");
    CHECK(u.period_start_ms == k2024_02_01);
    CHECK(u.resets_at_ms == k2024_03_01);
    CHECK_REPLY(Take(f.engine, "m", 5), true, 0, 5, 0, k2024_03_01 - k2024_02_29_1345, "m");
  }
  SECTION("anchor with a time of day") {
    Fixture f(k2024_01_15_1030 + kDay);
    SetOk(f.engine, "m", AnchoredQuota(5, Monthly(), k2024_01_15_1030));
    UsageReport u = UsageOf(f.engine, "m");
    CHECK(u.period_start_ms == k2024_01_15_1030);
    CHECK(u.resets_at_ms == k2024_02_15_1030);
    CHECK(Take(f.engine, "m", 5).allowed);
    f.clock.Set(k2024_02_15_1030 - 1);  // 2024-02-15 10:29:59.999
    CHECK(Used(f.engine, "m") == 5);
    f.clock.Set(k2024_02_15_1030);
    CHECK(Used(f.engine, "m") == 0);
  }
  SECTION("periods extend before the anchor on the same grid") {
    Fixture f(k2024_03_04);  // anchor in the future: 2024-03-31
    SetOk(f.engine, "m", AnchoredQuota(5, Monthly(), k2024_03_31));
    UsageReport u = UsageOf(f.engine, "m");
    CHECK(u.period_start_ms == k2024_02_29);  // the 31st clamped in February 2024
    CHECK(u.resets_at_ms == k2024_03_31);
    CHECK_REPLY(Take(f.engine, "m", 2), true, 3, 5, 0, k2024_03_31 - k2024_03_04, "m");
  }
}

TEST_CASE("30d rolling quota from an explicit anchor", "[quota][period][duration]") {
  Fixture f(k2024_02_29_1345);
  SetOk(f.engine, "r", AnchoredQuota(1000, Every(30 * kDay), k2024_01_01));
  // Periods: 2024-01-01, 2024-01-31, 2024-03-01, 2024-03-31.
  UsageReport u = UsageOf(f.engine, "r");
  CHECK(u.period == "30d");
  CHECK(u.period_start_ms == k2024_01_31);
  CHECK(u.resets_at_ms == k2024_03_01);
  CHECK_REPLY(Take(f.engine, "r", 400), true, 600, 1000, 0, k2024_03_01 - k2024_02_29_1345, "r");
  f.clock.Set(k2024_03_01 - 1);
  CHECK(Used(f.engine, "r") == 400);
  f.clock.Set(k2024_03_01);
  u = UsageOf(f.engine, "r");
  CHECK(u.consumed == 0);
  CHECK(u.period_start_ms == k2024_03_01);
  CHECK(u.resets_at_ms == k2024_03_31);
}

TEST_CASE("duration quotas 1h, 60s, 500ms: anchored at creation, exact boundaries",
          "[quota][period][duration]") {
  constexpr int64_t t0 = k2024_02_29_134512_345;  // 2024-02-29 13:45:12.345
  SECTION("1h") {
    Fixture f(t0);
    SetOk(f.engine, "h", Quota(3, Every(kHour)));
    CHECK(InfoOf(f.engine, "h").definition.anchor_ms == t0);
    CHECK(UsageOf(f.engine, "h").period == "1h");
    CHECK_REPLY(Take(f.engine, "h", 3), true, 0, 3, 0, kHour, "h");
    f.clock.Set(t0 + kHour - 1);
    CHECK_REPLY(Take(f.engine, "h", 1), false, 0, 3, 1, 1, "h");
    f.clock.Set(t0 + kHour);
    CHECK_REPLY(Take(f.engine, "h", 1), true, 2, 3, 0, kHour, "h");
    UsageReport u = UsageOf(f.engine, "h");
    CHECK(u.period_start_ms == t0 + kHour);
    CHECK(u.resets_at_ms == t0 + 2 * kHour);
  }
  SECTION("60s") {
    Fixture f(t0);
    SetOk(f.engine, "s", Quota(2, Every(60 * kSecond)));
    CHECK(UsageOf(f.engine, "s").period == FormatDuration(60 * kSecond));
    CHECK_REPLY(Take(f.engine, "s", 2), true, 0, 2, 0, 60'000, "s");
    CheckRetryAfterIsExact(f.engine, f.clock, "s", 2);
    CHECK(f.clock.NowMs() == t0 + 60'000);
    f.clock.Set(t0 + 5 * 60'000 + 7);  // several periods skipped
    UsageReport u = UsageOf(f.engine, "s");
    CHECK(u.consumed == 0);
    CHECK(u.period_start_ms == t0 + 300'000);
    CHECK(u.resets_at_ms == t0 + 360'000);
  }
  SECTION("500ms") {
    Fixture f(t0);
    SetOk(f.engine, "ms", Quota(1, Every(500)));
    CHECK(UsageOf(f.engine, "ms").period == "500ms");
    CHECK_REPLY(Take(f.engine, "ms", 1), true, 0, 1, 0, 500, "ms");
    f.clock.Set(t0 + 499);
    CHECK_REPLY(Take(f.engine, "ms", 1), false, 0, 1, 1, 1, "ms");
    f.clock.Set(t0 + 500);
    CHECK_REPLY(Take(f.engine, "ms", 1), true, 0, 1, 0, 500, "ms");
    f.clock.Set(t0 + 1250);
    UsageReport u = UsageOf(f.engine, "ms");
    CHECK(u.consumed == 0);
    CHECK(u.period_start_ms == t0 + 1000);
    CHECK(u.resets_at_ms == t0 + 1500);
  }
  SECTION("duration periods extend before an explicit anchor") {
    Fixture f(t0 + 30 * kMinute);
    SetOk(f.engine, "h", AnchoredQuota(3, Every(kHour), t0 + 10 * kHour));
    UsageReport u = UsageOf(f.engine, "h");
    CHECK(u.period_start_ms == t0);
    CHECK(u.resets_at_ms == t0 + kHour);
    CHECK_REPLY(Take(f.engine, "h", 1), true, 2, 3, 0, 30 * kMinute, "h");
  }
}

TEST_CASE("PERIOD none: a lifetime quota never resets", "[quota][period][none]") {
  constexpr int64_t t0 = k2024_02_29_134512_345;
  Fixture f(t0);
  SetOk(f.engine, "life", Quota(5));
  LimitInfo info = InfoOf(f.engine, "life");
  CHECK(info.definition.period == None());
  CHECK(info.definition.anchor_ms == t0);
  CHECK_REPLY(Take(f.engine, "life", 5), true, 0, 5, 0, -1, "life");
  CHECK_REPLY(Take(f.engine, "life", 1), false, 0, 5, -1, -1, "life");
  UsageReport u = UsageOf(f.engine, "life");
  CHECK(u.period == "none");
  CHECK(u.period_start_ms == t0);
  CHECK(u.resets_at_ms == kNil);
  f.clock.Set(t0 + 3650 * kDay);
  CHECK(Used(f.engine, "life") == 5);
  CHECK_REPLY(Take(f.engine, "life", 1), false, 0, 5, -1, -1, "life");
}

TEST_CASE("re-SET: anchor kept without ANCHOR; usage kept unless the basis changes",
          "[quota][period][reset]") {
  constexpr int64_t t0 = k2024_02_29_134512_345;
  Fixture f(t0);
  SetOk(f.engine, "k", Quota(10, Every(kHour)));
  CHECK(Take(f.engine, "k", 4).allowed);
  f.clock.Set(t0 + 30 * kMinute);

  SECTION("hard changes: anchor and usage kept") {
    SetOk(f.engine, "k", Quota(20, Every(kHour)));
    CHECK(InfoOf(f.engine, "k").definition.anchor_ms == t0);
    UsageReport u = UsageOf(f.engine, "k");
    CHECK(u.consumed == 4);
    CHECK(u.limit == 20);
    CHECK(u.remaining == 16);
    CHECK(u.resets_at_ms == t0 + kHour);
  }
  SECTION("soft, unit, valid_until change: usage kept") {
    LimitDefinition d = WithSoft(Quota(10, Every(kHour)), 5);
    d.unit = "tokens";
    d.valid_until_ms = t0 + 100 * kDay;
    SetOk(f.engine, "k", d);
    UsageReport u = UsageOf(f.engine, "k");
    CHECK(u.consumed == 4);
    CHECK(u.unit == "tokens");
    CHECK(u.soft_limit == 5);
    CHECK_FALSE(u.soft_reached);
    CHECK(u.valid_until_ms == t0 + 100 * kDay);
  }
  SECTION("the same explicit anchor is no change") {
    SetOk(f.engine, "k", AnchoredQuota(30, Every(kHour), t0));
    CHECK(Used(f.engine, "k") == 4);
  }
  SECTION("another period starts afresh, anchored now") {
    SetOk(f.engine, "k", Quota(10, Every(2 * kHour)));
    CHECK(InfoOf(f.engine, "k").definition.anchor_ms == t0 + 30 * kMinute);
    CHECK(Used(f.engine, "k") == 0);
  }
  SECTION("another anchor starts afresh") {
    SetOk(f.engine, "k", AnchoredQuota(10, Every(kHour), t0 + kMinute));
    CHECK(Used(f.engine, "k") == 0);
  }
  SECTION("another kind starts afresh") {
    SetOk(f.engine, "k", Window(10, kHour));
    CHECK(Used(f.engine, "k") == 0);
    CHECK(UsageOf(f.engine, "k").kind == Kind::kWindow);
  }
}

TEST_CASE("re-SET of a monthly quota without ANCHOR keeps the anchor on the 31st",
          "[quota][period][monthly][reset]") {
  Fixture f(k2023_02_10);
  SetOk(f.engine, "m", AnchoredQuota(100, Monthly(), k2023_01_31));
  CHECK(Take(f.engine, "m", 30).allowed);
  f.clock.Set(k2023_02_28 + kDay);  // 2023-03-01: the period of Feb 28
  CHECK(Used(f.engine, "m") == 0);
  CHECK(Take(f.engine, "m", 20).allowed);
  SetOk(f.engine, "m", Quota(200, Monthly()));
  CHECK(InfoOf(f.engine, "m").definition.anchor_ms == k2023_01_31);
  UsageReport u = UsageOf(f.engine, "m");
  CHECK(u.consumed == 20);
  CHECK(u.limit == 200);
  CHECK(u.period_start_ms == k2023_02_28);
  CHECK(u.resets_at_ms == k2023_03_31);
}

TEST_CASE("NORENEW: expired once the first period has ended", "[quota][norenew]") {
  Fixture f(k2024_02_29_1345);
  SetOk(f.engine, "trial", NoRenew(Quota(10, Daily())));
  CHECK_FALSE(InfoOf(f.engine, "trial").definition.renewable);
  constexpr int64_t kToMidnight = k2024_03_01 - k2024_02_29_1345;

  CHECK(Take(f.engine, "trial", 4).allowed);
  // Denied inside the last period: it can never succeed (decision 5).
  CHECK_REPLY(Take(f.engine, "trial", 7), false, 6, 10, -1, kToMidnight, "trial");
  CHECK_REPLY(Take(f.engine, "trial", 6), true, 0, 10, 0, kToMidnight, "trial");
  UsageReport u = UsageOf(f.engine, "trial");
  CHECK(u.status == LimitStatus::kEmpty);
  CHECK_FALSE(u.renewable);
  CHECK(u.resets_at_ms == k2024_03_01);

  f.clock.Set(k2024_03_01 - 1);
  CHECK(UsageOf(f.engine, "trial").status == LimitStatus::kEmpty);
  f.clock.Set(k2024_03_01);  // end of period 0 reached
  CHECK(UsageOf(f.engine, "trial").status == LimitStatus::kExpired);
  ConsumeReply r = Take(f.engine, "trial", 1);
  INFO(Describe(r));
  CHECK_FALSE(r.allowed);
  CHECK(r.retry_after_ms == -1);
  CHECK(r.level == "trial");
  ConsumeReply peek = Take(f.engine, "trial", 0);
  INFO(Describe(peek));
  CHECK_FALSE(peek.allowed);  // peek is denied on an expired level
  CHECK(peek.retry_after_ms == -1);
  f.clock.Set(k2024_03_01 + 30 * kDay);
  CHECK(UsageOf(f.engine, "trial").status == LimitStatus::kExpired);
  CHECK_FALSE(Take(f.engine, "trial", 1).allowed);
}

TEST_CASE("NORENEW with a future anchor: expires at the end of period 0, not before",
          "[quota][norenew]") {
  Fixture f(k2024_02_29_1345);
  SetOk(f.engine, "t", NoRenew(AnchoredQuota(10, Daily(), k2024_03_01)));
  CHECK(Take(f.engine, "t", 1).allowed);  // period -1
  f.clock.Set(k2024_03_02 - 1);
  CHECK(UsageOf(f.engine, "t").status == LimitStatus::kActive);
  CHECK(Take(f.engine, "t", 1).allowed);
  f.clock.Set(k2024_03_02);
  CHECK(UsageOf(f.engine, "t").status == LimitStatus::kExpired);
}

TEST_CASE("NORENEW with PERIOD none is accepted and never expires", "[quota][norenew]") {
  Fixture f(k2024_02_29_1345);
  SetOk(f.engine, "free", NoRenew(Quota(3)));
  CHECK(Take(f.engine, "free", 2).allowed);
  f.clock.Set(k2024_02_29_1345 + 3650 * kDay);
  UsageReport u = UsageOf(f.engine, "free");
  CHECK(u.status == LimitStatus::kActive);
  CHECK_FALSE(u.renewable);
  CHECK(u.consumed == 2);
  CHECK_REPLY(Take(f.engine, "free", 1), true, 0, 3, 0, -1, "free");
}

TEST_CASE("VALIDUNTIL: expired once now >= valid_until", "[quota][validuntil]") {
  Fixture f(k2024_02_29_1345);
  constexpr int64_t t = k2024_02_29_1345;
  SetOk(f.engine, "v", ValidUntil(Quota(10, Daily()), t + 1000));
  CHECK(Take(f.engine, "v", 3).allowed);
  f.clock.Set(t + 999);
  CHECK(Take(f.engine, "v", 1).allowed);
  UsageReport u = UsageOf(f.engine, "v");
  CHECK(u.status == LimitStatus::kActive);
  CHECK(u.valid_until_ms == t + 1000);
  f.clock.Set(t + 1000);
  CHECK(UsageOf(f.engine, "v").status == LimitStatus::kExpired);
  ConsumeReply r = Take(f.engine, "v", 1);
  INFO(Describe(r));
  CHECK_FALSE(r.allowed);
  CHECK(r.retry_after_ms == -1);
  CHECK(r.level == "v");
  CHECK_FALSE(Take(f.engine, "v", 0).allowed);
  CHECK(Used(f.engine, "v") == 4);
}

TEST_CASE("retry_after is -1 when the wait would reach valid_until", "[quota][validuntil][retry]") {
  Fixture f(k2024_02_29_1345);
  constexpr int64_t kToMidnight = k2024_03_01 - k2024_02_29_1345;
  SECTION("valid_until before the period end") {
    SetOk(f.engine, "v", ValidUntil(Quota(10, Daily()), k2024_02_29 + 18 * kHour));
    CHECK(Take(f.engine, "v", 10).allowed);
    CHECK_REPLY(Take(f.engine, "v", 1), false, 0, 10, -1, kToMidnight, "v");
  }
  SECTION("valid_until exactly at the period end") {
    SetOk(f.engine, "v", ValidUntil(Quota(10, Daily()), k2024_03_01));
    CHECK(Take(f.engine, "v", 10).allowed);
    CHECK_REPLY(Take(f.engine, "v", 1), false, 0, 10, -1, kToMidnight, "v");
  }
  SECTION("valid_until one ms after the period end") {
    SetOk(f.engine, "v", ValidUntil(Quota(10, Daily()), k2024_03_01 + 1));
    CHECK(Take(f.engine, "v", 10).allowed);
    CHECK_REPLY(Take(f.engine, "v", 1), false, 0, 10, kToMidnight, kToMidnight, "v");
    f.clock.Set(k2024_03_01);
    CHECK(Take(f.engine, "v", 1).allowed);
    f.clock.Set(k2024_03_01 + 1);
    CHECK_FALSE(Take(f.engine, "v", 1).allowed);
  }
}
