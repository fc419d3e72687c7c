// Copyright limiterd authors.
#include "calendar.h"

#include <algorithm>
#include <chrono>

namespace limiterd::internal {
namespace {

// The C++20 civil calendar (proleptic Gregorian, UTC): plain arithmetic, no
// time-zone database on the consume path.
using std::chrono::days;
using std::chrono::sys_days;
using std::chrono::year_month_day;
using std::chrono::months;

struct Civil {
  year_month_day date;
  int64_t time_of_day_ms;  // since 00:00
};

Civil ToCivil(int64_t ms) {
  int64_t day = FloorDiv(ms, kDayMs);
  return Civil{year_month_day{sys_days{days{day}}}, ms - day * kDayMs};
}

int64_t ToMs(const year_month_day& date) {
  return static_cast<int64_t>(sys_days{date}.time_since_epoch().count()) * kDayMs;
}

int64_t MonthsSinceEpoch(const year_month_day& d) {
  return int64_t{static_cast<int>(d.year())} * 12 + static_cast<unsigned>(d.month()) - 1;
}

}  // namespace

int64_t StartOfUtcDay(int64_t ms) { return FloorDiv(ms, kDayMs) * kDayMs; }

int64_t StartOfUtcWeek(int64_t ms) {
  // 1970-01-01 was a Thursday; the first Monday is 1970-01-05.
  constexpr int64_t kFirstMonday = 4 * kDayMs;
  return FloorDiv(ms - kFirstMonday, kWeekMs) * kWeekMs + kFirstMonday;
}

int64_t StartOfUtcMonth(int64_t ms) {
  year_month_day d = ToCivil(ms).date;
  return ToMs(d.year() / d.month() / 1);
}

int64_t MonthlyPeriodStart(int64_t anchor_ms, int64_t k) {
  Civil a = ToCivil(anchor_ms);
  auto month = (a.date.year() / a.date.month()) + months{k};
  auto last = std::chrono::year_month_day_last{month / std::chrono::last}.day();
  return ToMs(month / std::min(a.date.day(), last)) + a.time_of_day_ms;
}

int64_t MonthlyPeriodIndex(int64_t anchor_ms, int64_t now_ms) {
  int64_t k = MonthsSinceEpoch(ToCivil(now_ms).date) - MonthsSinceEpoch(ToCivil(anchor_ms).date);
  // Period k starts in now's month; if it starts later in that month, now
  // is still in period k - 1.
  if (MonthlyPeriodStart(anchor_ms, k) > now_ms) --k;
  return k;
}

}  // namespace limiterd::internal
