// Copyright limiterd authors.
// Durations and the names of the model's enums, as the protocol spells them.
#include <charconv>
#include <string>

#include "calendar.h"
#include "str_concat.h"
#include "limiterd/limit.h"

namespace limiterd {
namespace {

struct Unit {
  std::string_view suffix;
  int64_t ms;
};
// Longest suffix first where one is a suffix of another ("ms" before "s").
constexpr Unit kUnits[] = {{"ms", 1},
                           {"s", internal::kSecondMs},
                           {"m", internal::kMinuteMs},
                           {"h", internal::kHourMs},
                           {"d", internal::kDayMs},
                           {"w", internal::kWeekMs}};

bool EndsWithNoCase(std::string_view s, std::string_view suffix) {
  if (s.size() < suffix.size()) return false;
  for (size_t i = 0; i < suffix.size(); ++i) {
    char c = s[s.size() - suffix.size() + i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != suffix[i]) return false;
  }
  return true;
}

}  // namespace

Result<int64_t> ParseDuration(std::string_view text) {
  for (const Unit& unit : kUnits) {
    if (!EndsWithNoCase(text, unit.suffix)) continue;
    std::string_view digits = text.substr(0, text.size() - unit.suffix.size());
    int64_t n = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || n <= 0) {
      break;
    }
    int64_t ms = 0;
    if (__builtin_mul_overflow(n, unit.ms, &ms)) break;
    return ms;
  }
  return InvalidArgument(internal::Concat(
      {"invalid duration '", text, "': a positive integer with a unit ms, s, m, h, d or w"}));
}

std::string FormatDuration(int64_t ms) {
  if (ms != 0) {
    for (size_t i = std::size(kUnits); i-- > 0;) {
      if (ms % kUnits[i].ms == 0) {
        return std::to_string(ms / kUnits[i].ms) + std::string(kUnits[i].suffix);
      }
    }
  }
  return std::to_string(ms) + "ms";
}

std::string_view KindName(Kind kind) {
  switch (kind) {
    case Kind::kQuota: return "quota";
    case Kind::kWindow: return "window";
    case Kind::kBucket: return "bucket";
  }
  return "?";
}

std::string_view StatusName(LimitStatus status) {
  switch (status) {
    case LimitStatus::kActive: return "active";
    case LimitStatus::kEmpty: return "empty";
    case LimitStatus::kExpired: return "expired";
    case LimitStatus::kCancelled: return "cancelled";
  }
  return "?";
}

std::string PeriodName(const Period& period) {
  switch (period.type) {
    case PeriodType::kNone: return "none";
    case PeriodType::kDaily: return "daily";
    case PeriodType::kWeekly: return "weekly";
    case PeriodType::kMonthly: return "monthly";
    case PeriodType::kDuration: return FormatDuration(period.duration_ms);
  }
  return "?";
}

}  // namespace limiterd
