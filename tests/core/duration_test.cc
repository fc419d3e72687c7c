// Copyright limiterd authors.
// SPEC 3 "Durations are written with a unit (ms, s, m, h, d, w)";
// ParseDuration / FormatDuration / PeriodName of limit.h.
#include "test_util.h"

using namespace lt;  // NOLINT

TEST_CASE("ParseDuration reads a positive integer with a unit", "[duration]") {
  struct Case {
    const char* text;
    int64_t ms;
  };
  for (Case c : {Case{"1ms", 1}, Case{"500ms", 500}, Case{"1s", 1000}, Case{"60s", 60'000},
                 Case{"90s", 90'000}, Case{"5m", 300'000}, Case{"1h", 3'600'000},
                 Case{"24h", 86'400'000}, Case{"1d", 86'400'000}, Case{"30d", 2'592'000'000},
                 Case{"1w", 604'800'000}, Case{"2w", 1'209'600'000},
                 Case{"1500ms", 1500}}) {
    INFO(c.text);
    auto r = ParseDuration(c.text);
    REQUIRE(r.ok());
    CHECK(*r == c.ms);
  }
}

TEST_CASE("ParseDuration rejects anything else", "[duration]") {
  for (const char* text : {"", "0s", "0ms", "-1s", "-5m", "10", "s", "ms", "1.5h", "1x", " 1s",
                           "1s ", "1 s", "1ss", "1sm", "h1", "1h30m", "0x10s",
                           "9223372036854775807w", "9223372036854775808ms",
                           "99999999999999999999s"}) {
    INFO("'" << text << "'");
    auto r = ParseDuration(text);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::kInvalidArgument);
  }
}

TEST_CASE("FormatDuration: the shortest exact form", "[duration]") {
  CHECK(FormatDuration(1) == "1ms");
  CHECK(FormatDuration(500) == "500ms");
  CHECK(FormatDuration(1500) == "1500ms");
  CHECK(FormatDuration(1000) == "1s");
  CHECK(FormatDuration(90'000) == "90s");
  CHECK(FormatDuration(60'000) == "1m");
  CHECK(FormatDuration(3'600'000) == "1h");
  CHECK(FormatDuration(5'400'000) == "90m");
  CHECK(FormatDuration(86'400'000) == "1d");
  CHECK(FormatDuration(2'592'000'000) == "30d");
  CHECK(FormatDuration(604'800'000) == "1w");
  CHECK(FormatDuration(1'209'600'000) == "2w");
  CHECK(FormatDuration(8 * kDay) == "8d");
}

TEST_CASE("FormatDuration and ParseDuration round-trip", "[duration]") {
  for (int64_t ms : {int64_t{1}, int64_t{7}, int64_t{999}, int64_t{1000}, int64_t{1001},
                     int64_t{59'000}, int64_t{60'000}, int64_t{61'000}, kHour, kDay - 1, kDay,
                     30 * kDay, kWeek, 52 * kWeek, 100 * kWeek + 1}) {
    INFO(ms);
    auto r = ParseDuration(FormatDuration(ms));
    REQUIRE(r.ok());
    CHECK(*r == ms);
  }
}

TEST_CASE("PeriodName", "[duration]") {
  CHECK(PeriodName(None()) == "none");
  CHECK(PeriodName(Daily()) == "daily");
  CHECK(PeriodName(Weekly()) == "weekly");
  CHECK(PeriodName(Monthly()) == "monthly");
  CHECK(PeriodName(Every(30 * kDay)) == "30d");
  CHECK(PeriodName(Every(500)) == "500ms");
}
