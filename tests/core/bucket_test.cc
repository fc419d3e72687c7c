// Copyright limiterd authors.
// SPEC 2 `bucket` (GCRA, continuous refill, capacity BURST default RATE);
// decision 7: a unit costs d/n ms exactly; consumed = ceil(debt / (d/n));
// retry_after = ceil ms until debt + amount*d/n <= b*d/n; reset_after = ceil
// ms until the bucket is full.
#include "test_util.h"

using namespace lt;  // NOLINT

namespace {
constexpr int64_t T = k2024_02_29_12;  // 2024-02-29 12:00:00.000 UTC
}  // namespace

TEST_CASE("bucket RATE 10 PER 1s: allow/deny sequence", "[bucket]") {
  Fixture f(T);
  SetOk(f.engine, "b", Bucket(10, kSecond));  // 100 ms per token, capacity 10

  UsageReport u = UsageOf(f.engine, "b");
  INFO(Describe(u));
  CHECK(u.kind == Kind::kBucket);
  CHECK(u.consumed == 0);
  CHECK(u.remaining == 10);
  CHECK(u.limit == 10);
  CHECK(u.period == "10/1s");
  CHECK(u.period_start_ms == T);
  CHECK(u.resets_at_ms == T);
  CHECK(u.status == LimitStatus::kActive);

  CHECK_REPLY(Take(f.engine, "b", 10), true, 0, 10, 0, 1000, "b");
  CHECK(UsageOf(f.engine, "b").status == LimitStatus::kEmpty);
  CHECK_REPLY(Take(f.engine, "b", 1), false, 0, 10, 100, 1000, "b");
  f.clock.Set(T + 99);
  CHECK_REPLY(Take(f.engine, "b", 1), false, 0, 10, 1, 901, "b");
  f.clock.Set(T + 100);
  CHECK_REPLY(Take(f.engine, "b", 1), true, 0, 10, 0, 1000, "b");

  // Continuous refill: at T+350 the debt is 750 ms = 7.5 tokens -> 8 in use.
  f.clock.Set(T + 350);
  CHECK_REPLY(Take(f.engine, "b", 0), true, 2, 10, 0, 750, "b");
  u = UsageOf(f.engine, "b");
  CHECK(u.consumed == 8);
  CHECK(u.remaining == 2);
  CHECK(u.period_start_ms == T + 350);
  CHECK(u.resets_at_ms == T + 1100);
  // 750 + 300 > 1000: 50 ms short.
  CHECK_REPLY(Take(f.engine, "b", 3), false, 2, 10, 50, 750, "b");
  CHECK_REPLY(Take(f.engine, "b", 2), true, 0, 10, 0, 950, "b");
  CHECK_REPLY(Take(f.engine, "b", 11), false, 0, 10, -1, 950, "b");  // above capacity

  f.clock.Set(T + 1300);  // full again
  CHECK(Used(f.engine, "b") == 0);
  CHECK_REPLY(Take(f.engine, "b", 0), true, 10, 10, 0, 0, "b");
  f.clock.Set(T + kHour);
  CHECK_REPLY(Take(f.engine, "b", 10), true, 0, 10, 0, 1000, "b");  // never above capacity
  CHECK_FALSE(Take(f.engine, "b", 1).allowed);
}

TEST_CASE("bucket RATE 3 PER 1s: a token costs 333.33 ms, rounded up in replies", "[bucket]") {
  Fixture f(T);
  SetOk(f.engine, "b", Bucket(3, kSecond));
  CHECK_REPLY(Take(f.engine, "b", 3), true, 0, 3, 0, 1000, "b");
  // debt 1000 must fall to 666.67: ceil(333.33) = 334.
  CHECK_REPLY(Take(f.engine, "b", 1), false, 0, 3, 334, 1000, "b");
  f.clock.Set(T + 333);  // debt 667 > 666.67
  CHECK_REPLY(Take(f.engine, "b", 1), false, 0, 3, 1, 667, "b");
  f.clock.Set(T + 334);  // debt 666 <= 666.67
  // debt 666 + 333.33 = 999.33: 3 tokens in use (ceil 2.998), full in 1000 ms.
  CHECK_REPLY(Take(f.engine, "b", 1), true, 0, 3, 0, 1000, "b");
  f.clock.Set(T + 667);  // debt 666.33: 2 tokens in use
  CHECK_REPLY(Take(f.engine, "b", 0), true, 1, 3, 0, 667, "b");
  CHECK(Used(f.engine, "b") == 2);
}

TEST_CASE("bucket: waiting exactly retry_after succeeds, one ms less fails", "[bucket][retry]") {
  Fixture f(T);
  SetOk(f.engine, "b", Bucket(3, kSecond));
  CHECK(Take(f.engine, "b", 3).allowed);
  CheckRetryAfterIsExact(f.engine, f.clock, "b", 2);
  CHECK(f.clock.NowMs() == T + 667);  // debt must fall to 333.33: ceil(666.67)
}

TEST_CASE("bucket: BURST larger than RATE", "[bucket]") {
  Fixture f(T);
  SetOk(f.engine, "b", Bucket(1, kSecond, 5));  // 1000 ms per token, capacity 5
  LimitInfo info = InfoOf(f.engine, "b");
  CHECK(info.definition.kind == Kind::kBucket);
  CHECK(info.definition.hard == 5);
  CHECK(info.definition.burst == 5);
  CHECK(info.definition.rate == 1);
  CHECK(info.definition.rate_per_ms == kSecond);
  CHECK(UsageOf(f.engine, "b").period == "1/1s");

  CHECK_REPLY(Take(f.engine, "b", 5), true, 0, 5, 0, 5000, "b");
  CHECK_REPLY(Take(f.engine, "b", 1), false, 0, 5, 1000, 5000, "b");
  CHECK_REPLY(Take(f.engine, "b", 5), false, 0, 5, 5000, 5000, "b");
  CHECK_REPLY(Take(f.engine, "b", 6), false, 0, 5, -1, 5000, "b");
  f.clock.Set(T + 2500);  // debt 2500 = 2.5 tokens -> 3 in use
  CHECK_REPLY(Take(f.engine, "b", 0), true, 2, 5, 0, 2500, "b");
  CHECK_REPLY(Take(f.engine, "b", 2), true, 0, 5, 0, 4500, "b");
}

TEST_CASE("bucket: definition defaults and HARD equal to the capacity", "[bucket]") {
  Fixture f(T);
  SetOk(f.engine, "a", Bucket(10, kSecond));
  LimitInfo a = InfoOf(f.engine, "a");
  CHECK(a.definition.hard == 10);
  CHECK(a.definition.burst == 10);

  LimitDefinition with_hard = Bucket(10, kSecond);
  with_hard.hard = 10;
  SetOk(f.engine, "b", with_hard);
  CHECK(InfoOf(f.engine, "b").definition.hard == 10);

  LimitDefinition with_burst = Bucket(10, kSecond, 20);
  with_burst.hard = 20;
  SetOk(f.engine, "c", with_burst);
  CHECK(UsageOf(f.engine, "c").limit == 20);

  SetOk(f.engine, "m", Bucket(10, kMinute));
  CHECK(UsageOf(f.engine, "m").period == "10/1m");
}

TEST_CASE("bucket: refund gives tokens back, never above capacity", "[bucket][refund]") {
  Fixture f(T);
  SetOk(f.engine, "b", Bucket(10, kSecond));
  CHECK_REPLY(Take(f.engine, "b", 4), true, 6, 10, 0, 400, "b");
  CHECK(RefundOk(f.engine, "b", 2) == 2);
  CHECK_REPLY(Take(f.engine, "b", 0), true, 8, 10, 0, 200, "b");
  CHECK(RefundOk(f.engine, "b", 10) == 0);
  CHECK(Used(f.engine, "b") == 0);
  CHECK_REPLY(Take(f.engine, "b", 10), true, 0, 10, 0, 1000, "b");
  // Had the refund gone above capacity, this would be allowed.
  CHECK_REPLY(Take(f.engine, "b", 1), false, 0, 10, 100, 1000, "b");
}

TEST_CASE("bucket: FORCE goes into debt; remaining clamped at 0", "[bucket][force]") {
  Fixture f(T);
  SetOk(f.engine, "b", Bucket(10, kSecond));
  CHECK(Take(f.engine, "b", 10).allowed);
  ConsumeReply r = Force(f.engine, "b", 5);
  INFO(Describe(r));
  CHECK_FALSE(r.allowed);
  CHECK(r.remaining == 0);
  CHECK(r.limit == 10);
  CHECK(r.reset_after_ms == 1500);
  CHECK(r.level == "b");
  CHECK(Used(f.engine, "b") == 15);
  f.clock.Set(T + 500);  // debt 1000: 10 tokens in use, nothing left
  CHECK_REPLY(Take(f.engine, "b", 1), false, 0, 10, 100, 1000, "b");
}

TEST_CASE("bucket: a denied or DRYRUN call does not move the bucket", "[bucket][dryrun]") {
  Fixture f(T);
  SetOk(f.engine, "b", Bucket(10, kSecond));
  ConsumeReply dry1 = Dry(f.engine, "b", 10);
  ConsumeReply dry2 = Dry(f.engine, "b", 10);
  CHECK_REPLY(dry1, true, 0, 10, 0, 1000, "b");
  CHECK_SAME_REPLY(dry1, dry2);
  CHECK(Used(f.engine, "b") == 0);
  ConsumeReply real = Take(f.engine, "b", 10);
  CHECK_SAME_REPLY(dry1, real);
  CHECK_FALSE(Take(f.engine, "b", 5).allowed);
  f.clock.Set(T + 500);
  CHECK(Used(f.engine, "b") == 5);
}

TEST_CASE("bucket: USAGE.RESET fills the bucket", "[bucket][reset]") {
  Fixture f(T);
  SetOk(f.engine, "b", Bucket(10, kSecond));
  CHECK(Take(f.engine, "b", 10).allowed);
  auto r = f.engine.ResetUsage("b");
  REQUIRE(r.ok());
  CHECK(*r);
  CHECK_REPLY(Take(f.engine, "b", 10), true, 0, 10, 0, 1000, "b");
}
