// Copyright limiterd authors.
// UTC calendar arithmetic for billing periods, on unix milliseconds.
#pragma once

#include <cstdint>

namespace limiterd::internal {

inline constexpr int64_t kSecondMs = 1000;
inline constexpr int64_t kMinuteMs = 60 * kSecondMs;
inline constexpr int64_t kHourMs = 60 * kMinuteMs;
inline constexpr int64_t kDayMs = 24 * kHourMs;
inline constexpr int64_t kWeekMs = 7 * kDayMs;
// Time points accepted from users: 1970-01-01 to 9999-12-31 23:59:59.999.
inline constexpr int64_t kMaxTimeMs = 253402300799999;

// Floor division (rounds toward minus infinity), for times before anchors.
constexpr int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

int64_t StartOfUtcDay(int64_t ms);
int64_t StartOfUtcWeek(int64_t ms);   // the Monday 00:00 on or before
int64_t StartOfUtcMonth(int64_t ms);  // the 1st 00:00

// Monthly periods from `anchor_ms`: period k starts in the k-th month after
// the anchor's, on the anchor's day of month clamped to the month's last
// day, at the anchor's time of day.
int64_t MonthlyPeriodStart(int64_t anchor_ms, int64_t k);
// The k with MonthlyPeriodStart(k) <= now_ms < MonthlyPeriodStart(k + 1).
int64_t MonthlyPeriodIndex(int64_t anchor_ms, int64_t now_ms);

}  // namespace limiterd::internal
