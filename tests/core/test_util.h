// Copyright limiterd authors.
// Shared helpers of the core engine tests: fixed UTC time points, definition
// builders, and wrappers that REQUIRE a call to succeed. Only the public API
// (limiterd/*.h) is used.
#pragma once

#define CATCH_CONFIG_ENABLE_OPTIONAL_STRINGMAKER
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "limiterd/clock.h"
#include "limiterd/engine.h"
#include "limiterd/limit.h"
#include "limiterd/result.h"

namespace lt {

using namespace limiterd;  // NOLINT: test helpers

// ---- durations ------------------------------------------------------------
inline constexpr int64_t kSecond = 1000;
inline constexpr int64_t kMinute = 60 * kSecond;
inline constexpr int64_t kHour = 60 * kMinute;
inline constexpr int64_t kDay = 24 * kHour;
inline constexpr int64_t kWeek = 7 * kDay;
inline constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

// ---- time points (unix ms, UTC) --------------------------------------------
inline constexpr int64_t k2023_01_31 = 1675123200000;       // 2023-01-31 00:00:00.000 Tue
inline constexpr int64_t k2023_02_10 = 1675987200000;       // 2023-02-10 00:00:00.000 Fri
inline constexpr int64_t k2023_02_28 = 1677542400000;       // 2023-02-28 00:00:00.000 Tue
inline constexpr int64_t k2023_03_31 = 1680220800000;       // 2023-03-31 00:00:00.000 Fri
inline constexpr int64_t k2023_04_30 = 1682812800000;       // 2023-04-30 00:00:00.000 Sun
inline constexpr int64_t k2024_01_01 = 1704067200000;       // 2024-01-01 00:00:00.000 Mon
inline constexpr int64_t k2024_01_15_1030 = 1705314600000;  // 2024-01-15 10:30:00.000 Mon
inline constexpr int64_t k2024_01_31 = 1706659200000;       // 2024-01-31 00:00:00.000 Wed
inline constexpr int64_t k2024_02_01 = 1706745600000;       // 2024-02-01 00:00:00.000 Thu
inline constexpr int64_t k2024_02_15_1030 = 1707993000000;  // 2024-02-15 10:30:00.000 Thu
inline constexpr int64_t k2024_02_26 = 1708905600000;       // 2024-02-26 00:00:00.000 Mon
inline constexpr int64_t k2024_02_28 = 1709078400000;       // 2024-02-28 00:00:00.000 Wed
inline constexpr int64_t k2024_02_29 = 1709164800000;       // 2024-02-29 00:00:00.000 Thu (leap day)
inline constexpr int64_t k2024_02_29_12 = 1709208000000;    // 2024-02-29 12:00:00.000 Thu
inline constexpr int64_t k2024_02_29_1345 = 1709214300000;  // 2024-02-29 13:45:00.000 Thu
inline constexpr int64_t k2024_02_29_134512_345 = 1709214312345;  // 2024-02-29 13:45:12.345 Thu
inline constexpr int64_t k2024_03_01 = 1709251200000;       // 2024-03-01 00:00:00.000 Fri
inline constexpr int64_t k2024_03_02 = 1709337600000;       // 2024-03-02 00:00:00.000 Sat
inline constexpr int64_t k2024_03_03_12 = 1709467200000;    // 2024-03-03 12:00:00.000 Sun
inline constexpr int64_t k2024_03_04 = 1709510400000;       // 2024-03-04 00:00:00.000 Mon
inline constexpr int64_t k2024_03_05 = 1709596800000;       // 2024-03-05 00:00:00.000 Tue
inline constexpr int64_t k2024_03_31 = 1711843200000;       // 2024-03-31 00:00:00.000 Sun
inline constexpr int64_t k2024_04_30 = 1714435200000;       // 2024-04-30 00:00:00.000 Tue

static_assert(k2024_03_01 - k2024_02_29 == kDay);
static_assert(k2024_03_04 - k2024_02_26 == kWeek);
static_assert(k2024_02_29_12 - k2024_02_29 == 12 * kHour);
static_assert(k2024_02_29_1345 - k2024_02_29 == 13 * kHour + 45 * kMinute);
static_assert(k2024_02_29_134512_345 - k2024_02_29_1345 == 12345);
static_assert(k2024_01_31 + 30 * kDay == k2024_03_01);  // 30d periods from 2024-01-01
static_assert(k2024_03_01 + 30 * kDay == k2024_03_31);
static_assert(k2024_03_02 - k2024_03_01 == kDay);
static_assert(k2024_03_05 - k2024_03_04 == kDay);

inline constexpr std::optional<int64_t> kNil = std::nullopt;

// ---- definition builders ---------------------------------------------------
inline Period None() { return Period{}; }
inline Period Daily() { return Period{PeriodType::kDaily, 0}; }
inline Period Weekly() { return Period{PeriodType::kWeekly, 0}; }
inline Period Monthly() { return Period{PeriodType::kMonthly, 0}; }
inline Period Every(int64_t ms) { return Period{PeriodType::kDuration, ms}; }

inline LimitDefinition Quota(std::optional<int64_t> hard, Period period = {}) {
  LimitDefinition d;
  d.kind = Kind::kQuota;
  d.hard = hard;
  d.period = period;
  return d;
}
inline LimitDefinition AnchoredQuota(std::optional<int64_t> hard, Period period,
                                     int64_t anchor_ms) {
  LimitDefinition d = Quota(hard, period);
  d.anchor_ms = anchor_ms;
  return d;
}
inline LimitDefinition Window(std::optional<int64_t> hard, int64_t window_ms) {
  LimitDefinition d;
  d.kind = Kind::kWindow;
  d.hard = hard;
  d.window_ms = window_ms;
  return d;
}
inline LimitDefinition Bucket(int64_t rate, int64_t per_ms,
                              std::optional<int64_t> burst = std::nullopt) {
  LimitDefinition d;
  d.kind = Kind::kBucket;
  d.rate = rate;
  d.rate_per_ms = per_ms;
  d.burst = burst;
  return d;
}
inline LimitDefinition WithSoft(LimitDefinition d, std::optional<int64_t> soft) {
  d.soft = soft;
  return d;
}
inline LimitDefinition NoRenew(LimitDefinition d) {
  d.renewable = false;
  return d;
}
inline LimitDefinition ValidUntil(LimitDefinition d, int64_t ms) {
  d.valid_until_ms = ms;
  return d;
}

// ---- printing --------------------------------------------------------------
inline std::string Opt(const std::optional<int64_t>& v) {
  return v ? std::to_string(*v) : std::string("nil");
}
inline std::string Describe(const ConsumeReply& r) {
  std::ostringstream os;
  os << "{allowed=" << r.allowed << " remaining=" << Opt(r.remaining) << " limit=" << Opt(r.limit)
     << " retry_after=" << r.retry_after_ms << " reset_after=" << r.reset_after_ms << " level='"
     << r.level << "'}";
  return os.str();
}
inline std::string Describe(const UsageReport& u) {
  std::ostringstream os;
  os << "{kind=" << KindName(u.kind) << " unit=" << u.unit << " status=" << StatusName(u.status)
     << " limit=" << Opt(u.limit) << " soft=" << Opt(u.soft_limit) << " consumed=" << u.consumed
     << " remaining=" << Opt(u.remaining) << " soft_reached=" << u.soft_reached
     << " period=" << u.period << " period_start=" << u.period_start_ms
     << " resets_at=" << Opt(u.resets_at_ms) << " renewable=" << u.renewable
     << " valid_until=" << Opt(u.valid_until_ms) << " source=" << u.source << "}";
  return os.str();
}
inline std::string CodeName(ErrorCode c) {
  switch (c) {
    case ErrorCode::kInvalidArgument: return "kInvalidArgument";
    case ErrorCode::kNoLimit: return "kNoLimit";
    case ErrorCode::kOverflow: return "kOverflow";
    case ErrorCode::kNotInSection: return "kNotInSection";
  }
  return "?";
}
template <class T>
std::string ErrorOf(const Result<T>& r) {
  return r.ok() ? std::string("<ok>") : CodeName(r.error().code) + ": " + r.error().message;
}

// ---- wrappers that require success -----------------------------------------
inline void SetOk(Engine& e, std::string_view key, const LimitDefinition& d,
                  SetCondition c = {}) {
  auto r = e.Set(key, d, c);
  INFO("Set('" << key << "'): " << ErrorOf(r));
  REQUIRE(r.ok());
  REQUIRE(*r);
}
inline ConsumeReply Take(Engine& e, std::string_view key, int64_t amount,
                         ConsumeOptions o = {}) {
  auto r = e.Consume(key, amount, o);
  INFO("Consume('" << key << "', " << amount << "): " << ErrorOf(r));
  REQUIRE(r.ok());
  return *r;
}
inline ConsumeReply Force(Engine& e, std::string_view key, int64_t amount) {
  return Take(e, key, amount, ConsumeOptions{.force = true, .dry_run = false});
}
inline ConsumeReply Dry(Engine& e, std::string_view key, int64_t amount, bool force = false) {
  return Take(e, key, amount, ConsumeOptions{.force = force, .dry_run = true});
}
inline int64_t RefundOk(Engine& e, std::string_view key, int64_t amount) {
  auto r = e.Refund(key, amount);
  INFO("Refund('" << key << "', " << amount << "): " << ErrorOf(r));
  REQUIRE(r.ok());
  return *r;
}
inline UsageReport UsageOf(const Engine& e, std::string_view key) {
  auto r = e.Usage(key);
  INFO("Usage('" << key << "'): " << ErrorOf(r));
  REQUIRE(r.ok());
  REQUIRE(r->has_value());
  return **r;
}
inline bool HasUsage(const Engine& e, std::string_view key) {
  auto r = e.Usage(key);
  INFO("Usage('" << key << "'): " << ErrorOf(r));
  REQUIRE(r.ok());
  return r->has_value();
}
inline int64_t Used(const Engine& e, std::string_view key) { return UsageOf(e, key).consumed; }

// The whole image of a snapshot of `e` (the snapshot closed after).
inline std::string ImageOf(Engine& e) {
  auto snapshot = e.StartSnapshot();
  REQUIRE(snapshot.ok());
  std::string image;
  while ((*snapshot)->Next(image)) {
  }
  return image;
}
inline LimitInfo InfoOf(const Engine& e, std::string_view key) {
  auto r = e.Get(key);
  INFO("Get('" << key << "'): " << ErrorOf(r));
  REQUIRE(r.ok());
  REQUIRE(r->has_value());
  return **r;
}
inline bool HasDefinition(const Engine& e, std::string_view key) {
  auto r = e.Get(key);
  INFO("Get('" << key << "'): " << ErrorOf(r));
  REQUIRE(r.ok());
  return r->has_value();
}
inline size_t Del(Engine& e, std::vector<std::string_view> keys) {
  auto r = e.Delete(std::span<const std::string_view>(keys.data(), keys.size()));
  INFO("Delete: " << ErrorOf(r));
  REQUIRE(r.ok());
  return *r;
}

// Every key of a complete scan with page hint `count` (sorted, unique).
inline std::vector<std::string> ScanAll(const Engine& e, size_t count = 10) {
  std::set<std::string> keys;
  uint64_t cursor = 0;
  size_t pages = 0;
  do {
    ScanPage page = e.Scan(cursor, count);
    keys.insert(page.keys.begin(), page.keys.end());
    cursor = page.next_cursor;
    REQUIRE(++pages < 1000000);
  } while (cursor != 0);
  return {keys.begin(), keys.end()};
}

// Drops every idle materialized counter; returns how many were dropped.
inline size_t DropAllIdle(Engine& e) {
  size_t total = 0;
  for (int i = 0; i < 4; ++i) total += e.DropIdleCounters(size_t{1} << 30);
  return total;
}

// Checks one reply field by field; on failure prints the whole reply.
#define CHECK_REPLY(reply, allowed_, remaining_, limit_, retry_, reset_, level_) \
  do {                                                                           \
    const ::limiterd::ConsumeReply& rr_ = (reply);                               \
    INFO("reply " << ::lt::Describe(rr_));                                       \
    CHECK(rr_.allowed == (allowed_));                                            \
    CHECK(rr_.remaining == (remaining_));                                        \
    CHECK(rr_.limit == (limit_));                                                \
    CHECK(rr_.retry_after_ms == (retry_));                                       \
    CHECK(rr_.reset_after_ms == (reset_));                                       \
    CHECK(rr_.level == std::string_view(level_));                                \
  } while (0)

#define CHECK_SAME_REPLY(a, b)                                               \
  do {                                                                       \
    const ::limiterd::ConsumeReply& ra_ = (a);                               \
    const ::limiterd::ConsumeReply& rb_ = (b);                               \
    INFO("first " << ::lt::Describe(ra_) << " second " << ::lt::Describe(rb_)); \
    CHECK(ra_.allowed == rb_.allowed);                                       \
    CHECK(ra_.remaining == rb_.remaining);                                   \
    CHECK(ra_.limit == rb_.limit);                                           \
    CHECK(ra_.retry_after_ms == rb_.retry_after_ms);                         \
    CHECK(ra_.reset_after_ms == rb_.reset_after_ms);                         \
    CHECK(ra_.level == rb_.level);                                           \
  } while (0)

// Requires that a usage report equals another in every field.
#define CHECK_SAME_USAGE(a, b)                                                    \
  do {                                                                            \
    const ::limiterd::UsageReport& ua_ = (a);                                     \
    const ::limiterd::UsageReport& ub_ = (b);                                     \
    INFO("first " << ::lt::Describe(ua_) << "\nsecond " << ::lt::Describe(ub_)); \
    CHECK(::lt::Describe(ua_) == ::lt::Describe(ub_));                            \
  } while (0)

// The retry_after contract: a denied request at clock time `now` with
// retry_after = R > 0 is still denied at now + R - 1 and allowed at now + R
// (nothing else consuming). Leaves the clock at now + R with `amount`
// charged.
inline void CheckRetryAfterIsExact(Engine& e, AdjustableClock& clock, std::string_view key,
                                   int64_t amount) {
  const int64_t now = clock.NowMs();
  ConsumeReply denied = Take(e, key, amount);
  INFO("at " << now << " " << Describe(denied));
  REQUIRE_FALSE(denied.allowed);
  const int64_t retry = denied.retry_after_ms;
  REQUIRE(retry > 0);
  clock.Set(now + retry - 1);
  ConsumeReply early = Take(e, key, amount);
  INFO("retry_after - 1 ms later: " << Describe(early));
  CHECK_FALSE(early.allowed);
  CHECK(early.retry_after_ms == 1);
  clock.Set(now + retry);
  ConsumeReply on_time = Take(e, key, amount);
  INFO("retry_after ms later: " << Describe(on_time));
  CHECK(on_time.allowed);
}

// A clock stopped at `start` and an engine reading it.
struct Fixture {
  explicit Fixture(int64_t start = k2024_02_29_12, std::string separator = "/")
      : clock(start), engine(EngineOptions{.separator = std::move(separator), .clock = &clock}) {}
  AdjustableClock clock;
  Engine engine;
};

}  // namespace lt
