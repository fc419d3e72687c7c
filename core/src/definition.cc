// Copyright limiterd authors.
#include "definition.h"

#include <algorithm>
#include <string>

#include "calendar.h"
#include "str_concat.h"

namespace limiterd::internal {
namespace {

// Periods, windows and rates longer than this are refused: a century keeps
// every product of a time and a count of periods far inside int64.
constexpr int64_t kMaxDurationMs = 100 * 366 * kDayMs;
constexpr size_t kMaxUnitLength = 64;

bool ValidUnit(std::string_view unit) {
  if (unit.empty() || unit.size() > kMaxUnitLength) return false;
  for (unsigned char c : unit) {
    if (c <= ' ' || c == 0x7f) return false;
  }
  return true;
}

Result<bool> CheckDuration(int64_t ms, std::string_view what) {
  if (ms <= 0 || ms > kMaxDurationMs) {
    return InvalidArgument(Concat({what, " must be between 1ms and 100 years"}));
  }
  return true;
}

Result<bool> CheckTime(const std::optional<int64_t>& ms, std::string_view what) {
  if (ms && (*ms < 0 || *ms > kMaxTimeMs)) {
    return InvalidArgument(
        Concat({what, " must be a unix time in milliseconds between 0 and 253402300799999"}));
  }
  return true;
}

int64_t DefaultAnchor(const Period& period, int64_t now_ms) {
  switch (period.type) {
    case PeriodType::kDaily: return StartOfUtcDay(now_ms);
    case PeriodType::kWeekly: return StartOfUtcWeek(now_ms);
    case PeriodType::kMonthly: return StartOfUtcMonth(now_ms);
    case PeriodType::kNone:
    case PeriodType::kDuration: return now_ms;
  }
  return now_ms;
}

}  // namespace

Result<bool> ValidateDefinition(const LimitDefinition& def) {
  if (def.hard && *def.hard < 0) return InvalidArgument("hard limit must not be negative");
  if (def.soft && *def.soft < 0) return InvalidArgument("soft limit must not be negative");
  if (def.soft && def.hard && *def.soft > *def.hard) {
    return InvalidArgument("soft limit must not exceed the hard limit");
  }
  if (!ValidUnit(def.unit)) {
    return InvalidArgument("unit must be 1 to 64 bytes without spaces or control characters");
  }
  if (auto r = CheckTime(def.anchor_ms, "ANCHOR"); !r) return r;
  if (auto r = CheckTime(def.valid_until_ms, "VALIDUNTIL"); !r) return r;
  switch (def.kind) {
    case Kind::kQuota:
      if (def.period.type == PeriodType::kDuration) {
        if (auto r = CheckDuration(def.period.duration_ms, "PERIOD"); !r) return r;
      }
      break;
    case Kind::kWindow:
      if (!def.renewable) return InvalidArgument("NORENEW applies to a quota with a PERIOD");
      if (auto r = CheckDuration(def.window_ms, "WINDOW"); !r) return r;
      break;
    case Kind::kBucket: {
      if (!def.renewable) return InvalidArgument("NORENEW applies to a quota with a PERIOD");
      if (def.rate <= 0) return InvalidArgument("RATE must be a positive integer");
      if (auto r = CheckDuration(def.rate_per_ms, "RATE ... PER"); !r) return r;
      if (def.burst && *def.burst <= 0) return InvalidArgument("BURST must be a positive integer");
      int64_t capacity = def.burst.value_or(def.rate);
      if (def.hard && *def.hard != capacity) {
        return InvalidArgument("HARD of a bucket must equal its capacity (BURST, else RATE)");
      }
      if (def.soft && *def.soft > capacity) {
        return InvalidArgument("soft limit must not exceed the hard limit");
      }
      break;
    }
  }
  return true;
}

LimitDefinition ResolveDefinition(const LimitDefinition& def, const Spec* previous,
                                  int64_t now_ms) {
  LimitDefinition out = def;
  if (out.kind != Kind::kQuota) {
    out.period = Period{};
    out.anchor_ms.reset();
  }
  if (out.kind != Kind::kWindow) out.window_ms = 0;
  if (out.kind == Kind::kBucket) {
    out.burst = def.burst.value_or(def.rate);
    out.hard = out.burst;
  } else {
    out.rate = 0;
    out.rate_per_ms = 0;
    out.burst.reset();
  }
  if (out.kind == Kind::kQuota && !out.anchor_ms) {
    const LimitDefinition* prev = previous ? &previous->def : nullptr;
    if (prev && prev->kind == Kind::kQuota && prev->period == out.period) {
      out.anchor_ms = prev->anchor_ms;
    } else {
      out.anchor_ms = DefaultAnchor(out.period, now_ms);
    }
  }
  return out;
}

bool SameUsageBasis(const LimitDefinition& a, const LimitDefinition& b) {
  return a.kind == b.kind && a.period == b.period && a.anchor_ms == b.anchor_ms &&
         a.window_ms == b.window_ms && a.rate == b.rate && a.rate_per_ms == b.rate_per_ms;
}

SpecPtr MakeSpec(LimitDefinition resolved, bool cancelled, uint64_t epoch) {
  auto spec = std::make_shared<Spec>();
  spec->def = std::move(resolved);
  spec->cancelled = cancelled;
  spec->epoch = epoch;
  const LimitDefinition& d = spec->def;
  if (d.kind == Kind::kQuota) {
    switch (d.period.type) {
      case PeriodType::kDaily: spec->period_len_ms = kDayMs; break;
      case PeriodType::kWeekly: spec->period_len_ms = kWeekMs; break;
      case PeriodType::kDuration: spec->period_len_ms = d.period.duration_ms; break;
      case PeriodType::kNone:
      case PeriodType::kMonthly: break;
    }
    if (!d.renewable && d.period.type != PeriodType::kNone) {
      spec->expires_at_ms = d.period.type == PeriodType::kMonthly
                                ? MonthlyPeriodStart(*d.anchor_ms, 1)
                                : *d.anchor_ms + spec->period_len_ms;
    }
  } else if (d.kind == Kind::kWindow) {
    // 60 sub-windows: usage is held at most W/60 longer than an exact
    // sliding window, never shorter.
    spec->slot_ms = (d.window_ms + 59) / 60;
    spec->slots = (d.window_ms + spec->slot_ms - 1) / spec->slot_ms + 1;
  }
  if (d.valid_until_ms) spec->expires_at_ms = std::min(spec->expires_at_ms, *d.valid_until_ms);
  return spec;
}

}  // namespace limiterd::internal
