// Copyright limiterd authors.
// SPEC 2 "Status" and SPEC 3 LIMIT.CANCEL. Decisions 1 and 2: cancelled >
// expired > empty > active; a cancelled level is counted, never denies and
// is not a candidate for remaining/limit.
#include "test_util.h"

using namespace lt;  // NOLINT

namespace {
constexpr int64_t T = k2024_02_29_12;  // 2024-02-29 12:00 UTC

LimitStatus StatusOf(const Engine& e, std::string_view key) { return UsageOf(e, key).status; }

bool CancelOk(Engine& e, std::string_view key) {
  auto r = e.Cancel(key);
  INFO("Cancel('" << key << "'): " << ErrorOf(r));
  REQUIRE(r.ok());
  return *r;
}
}  // namespace

TEST_CASE("status names", "[status]") {
  CHECK(StatusName(LimitStatus::kActive) == "active");
  CHECK(StatusName(LimitStatus::kEmpty) == "empty");
  CHECK(StatusName(LimitStatus::kExpired) == "expired");
  CHECK(StatusName(LimitStatus::kCancelled) == "cancelled");
  CHECK(KindName(Kind::kQuota) == "quota");
  CHECK(KindName(Kind::kWindow) == "window");
  CHECK(KindName(Kind::kBucket) == "bucket");
}

TEST_CASE("status: active, empty, expired, cancelled and their precedence", "[status]") {
  Fixture f(T);
  SECTION("active, then empty when the hard limit is reached") {
    SetOk(f.engine, "k", Quota(10, Daily()));
    CHECK(StatusOf(f.engine, "k") == LimitStatus::kActive);
    CHECK(Take(f.engine, "k", 9).allowed);
    CHECK(StatusOf(f.engine, "k") == LimitStatus::kActive);
    CHECK(Take(f.engine, "k", 1).allowed);
    CHECK(StatusOf(f.engine, "k") == LimitStatus::kEmpty);
    f.clock.Set(k2024_03_01);  // a new period
    CHECK(StatusOf(f.engine, "k") == LimitStatus::kActive);
  }
  SECTION("unlimited is never empty") {
    SetOk(f.engine, "u", Quota(std::nullopt));
    CHECK(Take(f.engine, "u", 1'000'000).allowed);
    CHECK(StatusOf(f.engine, "u") == LimitStatus::kActive);
  }
  SECTION("a hard limit of 0 is empty") {
    SetOk(f.engine, "z", Quota(0));
    CHECK(StatusOf(f.engine, "z") == LimitStatus::kEmpty);
  }
  SECTION("expired beats empty") {
    SetOk(f.engine, "k", ValidUntil(Quota(10), T + 100));
    CHECK(Take(f.engine, "k", 10).allowed);
    CHECK(StatusOf(f.engine, "k") == LimitStatus::kEmpty);
    f.clock.Set(T + 100);
    CHECK(StatusOf(f.engine, "k") == LimitStatus::kExpired);
  }
  SECTION("cancelled beats expired") {
    SetOk(f.engine, "k", ValidUntil(Quota(10), T + 100));
    CHECK(CancelOk(f.engine, "k"));
    CHECK(StatusOf(f.engine, "k") == LimitStatus::kCancelled);
    f.clock.Set(T + 100);
    CHECK(StatusOf(f.engine, "k") == LimitStatus::kCancelled);
  }
  SECTION("cancelled beats empty") {
    SetOk(f.engine, "k", Quota(10));
    CHECK(Take(f.engine, "k", 10).allowed);
    CHECK(CancelOk(f.engine, "k"));
    CHECK(StatusOf(f.engine, "k") == LimitStatus::kCancelled);
  }
  SECTION("a NORENEW bucket-like sequence: empty then expired") {
    SetOk(f.engine, "n", NoRenew(Quota(1, Every(kMinute))));
    CHECK(Take(f.engine, "n", 1).allowed);
    CHECK(StatusOf(f.engine, "n") == LimitStatus::kEmpty);
    f.clock.Set(T + kMinute);
    CHECK(StatusOf(f.engine, "n") == LimitStatus::kExpired);
  }
}

TEST_CASE("LIMIT.CANCEL: kept for reporting, counted, never enforced", "[status][cancel]") {
  Fixture f(T);
  CHECK_FALSE(CancelOk(f.engine, "nope"));
  SetOk(f.engine, "org:a/*", Quota(5));
  CHECK_FALSE(CancelOk(f.engine, "org:a/user:1"));  // no definition of its own

  SetOk(f.engine, "k", Quota(10));
  CHECK(Take(f.engine, "k", 10).allowed);
  CHECK(CancelOk(f.engine, "k"));
  LimitInfo info = InfoOf(f.engine, "k");
  CHECK(info.cancelled);
  CHECK(info.definition.hard == 10);
  // The only level is cancelled: nothing to report remaining against.
  CHECK_REPLY(Take(f.engine, "k", 5), true, kNil, kNil, 0, -1, "k");
  UsageReport u = UsageOf(f.engine, "k");
  CHECK(u.status == LimitStatus::kCancelled);
  CHECK(u.consumed == 15);
  CHECK(f.engine.Size() == 2u);
  auto keys = ScanAll(f.engine);
  CHECK(std::find(keys.begin(), keys.end(), "k") != keys.end());
}

TEST_CASE("a cancelled organization no longer caps its projects", "[status][cancel][hierarchy]") {
  Fixture f(T);
  SetOk(f.engine, "o", Quota(100));
  SetOk(f.engine, "o/p", Quota(70));
  CHECK(Take(f.engine, "o/p", 40).allowed);
  CHECK(CancelOk(f.engine, "o"));
  CHECK_REPLY(Take(f.engine, "o/p", 20), true, 10, 70, 0, -1, "o/p");
  CHECK_REPLY(Take(f.engine, "o/p", 11), false, 10, 70, -1, -1, "o/p");
  SetOk(f.engine, "o/p", Quota(1000));  // keeps its 60
  CHECK_REPLY(Take(f.engine, "o/p", 200), true, 740, 1000, 0, -1, "o/p");
  CHECK(Used(f.engine, "o") == 260);  // counted past its hard limit
  CHECK(StatusOf(f.engine, "o") == LimitStatus::kCancelled);
  // A child without a limit of its own: only the cancelled level is checked.
  CHECK_REPLY(Take(f.engine, "o/x", 1), true, kNil, kNil, 0, -1, "o");
  CHECK(Used(f.engine, "o") == 261);
}

TEST_CASE("a cancelled level never denies, even past its valid_until", "[status][cancel]") {
  Fixture f(T);
  SetOk(f.engine, "o", ValidUntil(Quota(100), T + 100));
  SetOk(f.engine, "o/p", Quota(70));
  CHECK(CancelOk(f.engine, "o"));
  f.clock.Set(T + 100);
  CHECK(StatusOf(f.engine, "o") == LimitStatus::kCancelled);
  CHECK_REPLY(Take(f.engine, "o/p", 10), true, 60, 70, 0, -1, "o/p");
  CHECK(Used(f.engine, "o/p") == 10);
}

TEST_CASE("a cancelled default: its children are counted, never denied", "[status][cancel]") {
  Fixture f(T);
  SetOk(f.engine, "org/*", Quota(1));
  CHECK(CancelOk(f.engine, "org/*"));
  CHECK(InfoOf(f.engine, "org/u").cancelled);
  CHECK_REPLY(Take(f.engine, "org/u", 5), true, kNil, kNil, 0, -1, "org/u");
  UsageReport u = UsageOf(f.engine, "org/u");
  CHECK(u.status == LimitStatus::kCancelled);
  CHECK(u.consumed == 5);
  CHECK(u.source == "org/*");
  // A new definition is enforced again.
  SetOk(f.engine, "org/*", Quota(10));
  CHECK_FALSE(InfoOf(f.engine, "org/u").cancelled);
  CHECK_REPLY(Take(f.engine, "org/u", 5), true, 0, 10, 0, -1, "org/u");
  CHECK_FALSE(Take(f.engine, "org/u", 1).allowed);
}
