// White-box tests of the UTC calendar under billing periods.
#include <catch2/catch.hpp>

#include "calendar.h"

using namespace limiterd::internal;

namespace {
// Unix ms of a UTC date (days_from_civil, checked against `date -u -d`).
constexpr int64_t k2023Jan31 = 1675123200000;  // 2023-01-31 00:00:00 UTC
constexpr int64_t k2023Feb28 = 1677542400000;  // 2023-02-28
constexpr int64_t k2023Mar31 = 1680220800000;  // 2023-03-31
constexpr int64_t k2024Jan31 = 1706659200000;  // 2024-01-31
constexpr int64_t k2024Feb29 = 1709164800000;  // 2024-02-29
constexpr int64_t k2024Mar31 = 1711843200000;  // 2024-03-31
constexpr int64_t k2024May01 = 1714521600000;  // 2024-05-01 (a Wednesday)
constexpr int64_t k2024Apr29 = 1714348800000;  // 2024-04-29 (a Monday)
}  // namespace

TEST_CASE("FloorDiv rounds toward minus infinity") {
  CHECK(FloorDiv(7, 2) == 3);
  CHECK(FloorDiv(-7, 2) == -4);
  CHECK(FloorDiv(-8, 2) == -4);
  CHECK(FloorDiv(0, 5) == 0);
}

TEST_CASE("day, week and month starts are UTC midnights") {
  int64_t t = k2024May01 + 13 * kHourMs + 5;
  CHECK(StartOfUtcDay(t) == k2024May01);
  CHECK(StartOfUtcDay(k2024May01) == k2024May01);
  CHECK(StartOfUtcDay(k2024May01 - 1) == k2024May01 - kDayMs);
  CHECK(StartOfUtcWeek(t) == k2024Apr29);
  CHECK(StartOfUtcWeek(k2024Apr29) == k2024Apr29);
  CHECK(StartOfUtcWeek(k2024Apr29 - 1) == k2024Apr29 - kWeekMs);
  CHECK(StartOfUtcMonth(k2024Feb29 + 5 * kHourMs) == k2024Feb29 - 28 * kDayMs);
}

TEST_CASE("monthly periods anchored on the 31st clamp to the month's end") {
  int64_t anchor = k2023Jan31 + 9 * kHourMs + 30 * kMinuteMs + 250;  // 09:30:00.250
  int64_t tod = 9 * kHourMs + 30 * kMinuteMs + 250;
  CHECK(MonthlyPeriodStart(anchor, 0) == anchor);
  CHECK(MonthlyPeriodStart(anchor, 1) == k2023Feb28 + tod);
  CHECK(MonthlyPeriodStart(anchor, 2) == k2023Mar31 + tod);
  CHECK(MonthlyPeriodStart(anchor, 12) == k2024Jan31 + tod);
  CHECK(MonthlyPeriodStart(anchor, 13) == k2024Feb29 + tod);  // leap year
  CHECK(MonthlyPeriodStart(anchor, 14) == k2024Mar31 + tod);
  CHECK(MonthlyPeriodStart(anchor, -1) == k2023Jan31 - 31 * kDayMs + tod);  // 2022-12-31

  CHECK(MonthlyPeriodIndex(anchor, anchor) == 0);
  CHECK(MonthlyPeriodIndex(anchor, anchor - 1) == -1);
  CHECK(MonthlyPeriodIndex(anchor, k2023Feb28 + tod - 1) == 0);
  CHECK(MonthlyPeriodIndex(anchor, k2023Feb28 + tod) == 1);
  CHECK(MonthlyPeriodIndex(anchor, k2023Mar31 + tod - 1) == 1);
  CHECK(MonthlyPeriodIndex(anchor, k2023Mar31 + tod) == 2);
  CHECK(MonthlyPeriodIndex(anchor, k2024Feb29 + tod) == 13);
}

TEST_CASE("every monthly index brackets now for a decade of days") {
  int64_t anchor = k2023Jan31 + 17 * kHourMs;
  for (int64_t now = anchor - 400 * kDayMs; now < anchor + 3650 * kDayMs; now += kDayMs / 3) {
    int64_t k = MonthlyPeriodIndex(anchor, now);
    INFO("now=" << now << " k=" << k);
    REQUIRE(MonthlyPeriodStart(anchor, k) <= now);
    REQUIRE(now < MonthlyPeriodStart(anchor, k + 1));
  }
}
