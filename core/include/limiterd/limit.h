// Copyright limiterd authors.
// The limit model of SPEC section 2: what a limit is, and what the Engine
// answers. Plain values, no behaviour.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "limiterd/result.h"

namespace limiterd {

enum class Kind : uint8_t {
  kQuota,   // a budget per period
  kWindow,  // a sliding window
  kBucket,  // a token bucket (GCRA)
};

enum class PeriodType : uint8_t { kNone, kDaily, kWeekly, kMonthly, kDuration };

struct Period {
  PeriodType type = PeriodType::kNone;
  int64_t duration_ms = 0;  // kDuration only; > 0
  bool operator==(const Period&) const = default;
};

// A limit's definition, as LIMIT.SET gives it and LIMIT.GET returns it.
// On Engine::Set, unset optionals take the SPEC's defaults; on the way out
// (LimitInfo), a quota's anchor_ms and a bucket's hard and burst are set.
struct LimitDefinition {
  Kind kind = Kind::kQuota;
  // Maximum usage per period / window. nullopt: unlimited (counted, never
  // denied). For a bucket: the capacity; leave it unset (it is then BURST)
  // or make it equal to BURST.
  std::optional<int64_t> hard;
  std::optional<int64_t> soft;  // alert threshold, <= hard
  std::string unit = "requests";

  // kQuota
  Period period;
  std::optional<int64_t> anchor_ms;  // start of the first period
  bool renewable = true;              // false: expired after the first period

  std::optional<int64_t> valid_until_ms;  // expired once now >= this

  // kWindow: the sliding window's length
  int64_t window_ms = 0;

  // kBucket: RATE rate PER rate_per_ms, BURST burst (default: rate)
  int64_t rate = 0;
  int64_t rate_per_ms = 0;
  std::optional<int64_t> burst;

  bool operator==(const LimitDefinition&) const = default;
};

// LIMIT.SET's NX / XX / GT.
struct SetCondition {
  bool nx = false;  // only if the key has no definition of its own
  bool xx = false;  // only if it has one
  bool gt = false;  // only if the new hard limit is greater (unlimited is
                    // greater than any number); no current definition: set
};

// LIMIT.GET's reply.
struct LimitInfo {
  LimitDefinition definition;  // resolved: anchor_ms set; bucket hard = burst
  bool cancelled = false;
  std::string source;  // "own", or the default key it comes from ("P/*", "*")
};

enum class LimitStatus : uint8_t { kActive, kEmpty, kExpired, kCancelled };

struct ConsumeOptions {
  bool force = false;    // record the amount even past the hard limit
  bool dry_run = false;  // answer as the call would, change nothing
};

// CREDITS.CONSUME's reply (SPEC section 3).
struct ConsumeReply {
  bool allowed = false;
  std::optional<int64_t> remaining;  // nullopt: no level has a hard limit
  std::optional<int64_t> limit;      // likewise
  int64_t retry_after_ms = 0;        // 0 when allowed, -1: never
  int64_t reset_after_ms = -1;       // -1: the level never frees its usage
  // The level the reply is about: always a prefix of the key passed to
  // Consume (the key or an ancestor), so it points into that key's bytes
  // and is valid as long as they are.
  std::string_view level;
};

// USAGE.GET's reply (SPEC section 3).
struct UsageReport {
  Kind kind = Kind::kQuota;
  std::string unit;
  LimitStatus status = LimitStatus::kActive;
  std::optional<int64_t> limit;       // nullopt: unlimited
  std::optional<int64_t> soft_limit;
  int64_t consumed = 0;
  std::optional<int64_t> remaining;   // nullopt: unlimited
  bool soft_reached = false;
  std::string period;                 // "none", "daily", "weekly", "monthly",
                                      // a duration ("30d"); window: its length ("1m");
                                      // bucket: "<rate>/<per>" ("10/1s")
  int64_t period_start_ms = 0;
  std::optional<int64_t> resets_at_ms;  // nullopt: never (period none)
  bool renewable = true;
  std::optional<int64_t> valid_until_ms;
  std::string source;  // "own" or the default key
};

// The page LIMIT.SCAN returns.
struct ScanPage {
  uint64_t next_cursor = 0;  // 0: the scan is complete
  std::vector<std::string> keys;
};

// "500ms", "60s", "5m", "1h", "30d", "2w" -> milliseconds. Units ms s m h d w;
// the number is a positive integer. Error on anything else or on overflow.
Result<int64_t> ParseDuration(std::string_view text);
// Milliseconds -> the shortest exact form ParseDuration reads ("90s", "30d").
std::string FormatDuration(int64_t ms);
std::string_view KindName(Kind kind);           // "quota" "window" "bucket"
std::string_view StatusName(LimitStatus status); // "active" "empty" ...
std::string PeriodName(const Period& period);   // "none" "daily" ... "30d"

}  // namespace limiterd
