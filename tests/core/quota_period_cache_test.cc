// Copyright limiterd authors.
// White-box: a quota period computed through the per-thread cache of
// monthly periods (level_state.cc) is the calendar's, whatever the mix of
// anchors (more than the cache's slots, colliding ones) and of times
// (forward, back, across period ends). And a counter is 32 bytes.
#include <catch2/catch.hpp>

#include <random>

#include "calendar.h"
#include "key_table.h"
#include "level_state.h"

using namespace limiterd;            // NOLINT
using namespace limiterd::internal;  // NOLINT

namespace {

constexpr int64_t k2024Jan31 = 1706659200000;  // 2024-01-31 00:00:00 UTC

SpecPtr MonthlySpec(int64_t anchor_ms) {
  LimitDefinition d;
  d.hard = 10;
  d.period = Period{PeriodType::kMonthly, 0};
  d.anchor_ms = anchor_ms;
  return MakeSpec(d, false, 1);
}

QuotaPeriod Calendar(int64_t anchor_ms, int64_t now_ms) {
  int64_t k = MonthlyPeriodIndex(anchor_ms, now_ms);
  return QuotaPeriod{k, MonthlyPeriodStart(anchor_ms, k), MonthlyPeriodStart(anchor_ms, k + 1)};
}

}  // namespace

TEST_CASE("quota periods: the monthly cache answers as the calendar", "[period-cache]") {
  std::mt19937_64 rng(7);
  std::vector<SpecPtr> specs;
  // 300 anchors around 2024-01-31 (the 31st clamps), many sharing slots.
  for (int i = 0; i < 300; ++i) {
    specs.push_back(MonthlySpec(k2024Jan31 + static_cast<int64_t>(rng() % (400 * kDayMs))));
  }
  int64_t now = k2024Jan31 + 500 * kDayMs;
  for (int step = 0; step < 20000; ++step) {
    const Spec& spec = *specs[rng() % (step % 2 == 0 ? 3 : specs.size())];  // hot and cold
    // Mostly forward, sometimes back, sometimes by whole months.
    int64_t jump = static_cast<int64_t>(rng() % (3 * kDayMs)) - kDayMs / 2;
    if (step % 97 == 0) jump = -static_cast<int64_t>(rng() % (90 * kDayMs));
    now += jump;
    QuotaPeriod want = Calendar(*spec.def.anchor_ms, now);
    QuotaPeriod got = QuotaPeriodAt(spec, now);
    REQUIRE(got.index == want.index);
    REQUIRE(got.start_ms == want.start_ms);
    REQUIRE(got.end_ms == want.end_ms);
    REQUIRE(got.start_ms <= now);
    REQUIRE(now < got.end_ms);
    int64_t other = want.index + static_cast<int64_t>(rng() % 5) - 2;
    QuotaPeriod of = QuotaPeriodOf(spec, other);
    REQUIRE(of.index == other);
    REQUIRE(of.start_ms == MonthlyPeriodStart(*spec.def.anchor_ms, other));
    REQUIRE(of.end_ms == MonthlyPeriodStart(*spec.def.anchor_ms, other + 1));
  }
}

TEST_CASE("quota periods: a fresh quota state is the period now", "[period-cache]") {
  SpecPtr spec = MonthlySpec(k2024Jan31);
  int64_t now = k2024Jan31 + 45 * kDayMs;  // 2024-03-16, in the period from 2024-02-29
  LevelState s = FreshState(*spec, now);
  REQUIRE(std::get<QuotaState>(s).index == Calendar(k2024Jan31, now).index);
  REQUIRE(std::get<QuotaState>(s).consumed == 0);
  Charge(*spec, s, now, 3);
  REQUIRE(LevelView(*spec, &s, now).Consumed() == 3);
  int64_t next = Calendar(k2024Jan31, now).end_ms;
  REQUIRE(LevelView(*spec, &s, next).Consumed() == 0);  // rolled over
  REQUIRE(LevelView(*spec, &s, next - 1).Consumed() == 3);
}

TEST_CASE("quota periods: a counter is 32 bytes", "[period-cache]") {
  STATIC_REQUIRE(sizeof(QuotaState) == 16);
  STATIC_REQUIRE(sizeof(Counter) == 32);
}
