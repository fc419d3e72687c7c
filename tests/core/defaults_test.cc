// Copyright limiterd authors.
// SPEC 2: defaults "P/*" and "*" with individual overrides; materialized
// counters; "may be dropped at any time". Decisions 10 and 11.
#include "test_util.h"

using namespace lt;  // NOLINT

namespace {
constexpr int64_t T = k2024_02_29_1345;  // 2024-02-29 13:45 UTC

std::vector<std::string> Keys(std::initializer_list<const char*> keys) {
  std::vector<std::string> out(keys.begin(), keys.end());
  std::sort(out.begin(), out.end());
  return out;
}

void SetUpOrg(Engine& e) {
  SetOk(e, "org:a", Quota(100, Daily()));
  SetOk(e, "org:a/*", Quota(10, Daily()));  // every user: 10 a day
  SetOk(e, "org:a/user:vip", Quota(50, Daily()));
}
}  // namespace

TEST_CASE("P/*: a default for every direct child without its own limit", "[defaults]") {
  Fixture f(T);
  SetUpOrg(f.engine);
  CHECK(f.engine.Size() == 3u);

  LimitInfo u1 = InfoOf(f.engine, "org:a/user:1");
  CHECK(u1.source == "org:a/*");
  CHECK(u1.definition.hard == 10);
  CHECK(u1.definition.period == Daily());
  CHECK(u1.definition.anchor_ms == k2024_02_29);
  CHECK_FALSE(u1.cancelled);
  CHECK(InfoOf(f.engine, "org:a/*").source == "own");
  CHECK(InfoOf(f.engine, "org:a/*").definition.hard == 10);
  LimitInfo vip = InfoOf(f.engine, "org:a/user:vip");
  CHECK(vip.source == "own");
  CHECK(vip.definition.hard == 50);
  CHECK_FALSE(HasDefinition(f.engine, "org:b/user:1"));
  CHECK_FALSE(HasDefinition(f.engine, "org:a/user:1/device:1"));  // not a direct child

  UsageReport u = UsageOf(f.engine, "org:a/user:1");
  CHECK(u.source == "org:a/*");
  CHECK(u.consumed == 0);
  CHECK(u.limit == 10);
  CHECK(f.engine.Size() == 3u);  // reading materializes nothing

  constexpr int64_t kToMidnight = k2024_03_01 - T;
  CHECK_REPLY(Take(f.engine, "org:a/user:1", 10), true, 0, 10, 0, kToMidnight, "org:a/user:1");
  CHECK_REPLY(Take(f.engine, "org:a/user:1", 1), false, 0, 10, kToMidnight, kToMidnight,
              "org:a/user:1");
  CHECK_REPLY(Take(f.engine, "org:a/user:2", 10), true, 0, 10, 0, kToMidnight, "org:a/user:2");
  CHECK_REPLY(Take(f.engine, "org:a/user:vip", 40), true, 10, 50, 0, kToMidnight,
              "org:a/user:vip");
  CHECK_REPLY(Take(f.engine, "org:a/user:vip", 5), true, 5, 50, 0, kToMidnight, "org:a/user:vip");
  CHECK_REPLY(Take(f.engine, "org:a/user:3", 10), true, 0, 10, 0, kToMidnight, "org:a/user:3");
  // org: 75 of 100; user:4 would have 10 left, the org 25 -> the user.
  CHECK_REPLY(Take(f.engine, "org:a/user:4", 0), true, 10, 10, 0, kToMidnight, "org:a/user:4");
  SetOk(f.engine, "org:a", Quota(80, Daily()));  // keeps usage: 5 left
  CHECK_REPLY(Take(f.engine, "org:a/user:4", 1), true, 4, 80, 0, kToMidnight, "org:a");
  CHECK(Used(f.engine, "org:a") == 76);
  CHECK(Used(f.engine, "org:a/user:1") == 10);
  CHECK(Used(f.engine, "org:a/user:2") == 10);
  CHECK(UsageOf(f.engine, "org:a/user:2").source == "org:a/*");
  CHECK(UsageOf(f.engine, "org:a/user:vip").source == "own");
}

TEST_CASE("'*': a default for every top-level key", "[defaults]") {
  Fixture f(T);
  SetOk(f.engine, "*", Quota(5));
  SetOk(f.engine, "mine", Quota(100));
  CHECK_REPLY(Take(f.engine, "anything", 3), true, 2, 5, 0, -1, "anything");
  CHECK(UsageOf(f.engine, "anything").source == "*");
  CHECK(InfoOf(f.engine, "anything").source == "*");
  CHECK(InfoOf(f.engine, "*").source == "own");
  CHECK_REPLY(Take(f.engine, "mine", 50), true, 50, 100, 0, -1, "mine");
  // org:z takes '*'; org:z/user:1 has no limit of its own (no org:z/*).
  CHECK_REPLY(Take(f.engine, "org:z/user:1", 2), true, 3, 5, 0, -1, "org:z");
  CHECK_FALSE(HasUsage(f.engine, "org:z/user:1"));
  CHECK(Used(f.engine, "org:z") == 2);
  CHECK(UsageOf(f.engine, "org:z").source == "*");
}

TEST_CASE("materialized counters: only a real charge creates one", "[defaults][materialize]") {
  Fixture f(T);
  SetUpOrg(f.engine);
  const auto defs = Keys({"org:a", "org:a/*", "org:a/user:vip"});
  REQUIRE(ScanAll(f.engine) == defs);

  SECTION("peek, DRYRUN and denied calls leave nothing") {
    CHECK(Take(f.engine, "org:a/user:1", 0).allowed);
    CHECK(Dry(f.engine, "org:a/user:1", 5).allowed);
    CHECK(Dry(f.engine, "org:a/user:1", 5, /*force=*/true).allowed);
    CHECK_FALSE(Take(f.engine, "org:a/user:1", 11).allowed);
    CHECK(f.engine.Size() == 3u);
    CHECK(ScanAll(f.engine) == defs);
    CHECK(Used(f.engine, "org:a/user:1") == 0);
    CHECK(Used(f.engine, "org:a") == 0);
  }
  SECTION("denied by an ancestor leaves nothing") {
    CHECK(Take(f.engine, "org:a/user:vip", 50).allowed);
    for (const char* k : {"org:a/user:2", "org:a/user:3", "org:a/user:4", "org:a/user:5"}) {
      CHECK(Take(f.engine, k, 10).allowed);
    }
    CHECK(Take(f.engine, "org:a/user:6", 8).allowed);  // the org has 2 left
    const size_t size = f.engine.Size();
    CHECK(size == 8u);
    CHECK_REPLY(Take(f.engine, "org:a/user:7", 5), false, 2, 100, k2024_03_01 - T,
                k2024_03_01 - T, "org:a");
    CHECK_REPLY(Take(f.engine, "org:a/user:7", 0), true, 2, 100, 0, k2024_03_01 - T, "org:a");
    CHECK(f.engine.Size() == size);
    auto keys = ScanAll(f.engine);
    CHECK(std::find(keys.begin(), keys.end(), "org:a/user:7") == keys.end());
    CHECK(Used(f.engine, "org:a") == 98);
  }
  SECTION("a charge creates the counter; Size and Scan include it") {
    CHECK(Take(f.engine, "org:a/user:1", 4).allowed);
    CHECK(f.engine.Size() == 4u);
    CHECK(ScanAll(f.engine) == Keys({"org:a", "org:a/*", "org:a/user:1", "org:a/user:vip"}));
    CHECK(UsageOf(f.engine, "org:a/user:1").source == "org:a/*");
  }
  SECTION("FORCE creates the counter, even past the limit") {
    ConsumeReply r = Force(f.engine, "org:a/user:3", 12);
    CHECK_FALSE(r.allowed);
    CHECK(r.level == "org:a/user:3");
    CHECK(f.engine.Size() == 4u);
    CHECK(Used(f.engine, "org:a/user:3") == 12);
  }
}

TEST_CASE("changing a default applies to its materialized counters", "[defaults][materialize]") {
  Fixture f(T);
  SetUpOrg(f.engine);
  CHECK(Take(f.engine, "org:a/user:1", 4).allowed);

  SECTION("a new hard keeps the usage") {
    SetOk(f.engine, "org:a/*", Quota(20, Daily()));
    UsageReport u = UsageOf(f.engine, "org:a/user:1");
    CHECK(u.consumed == 4);
    CHECK(u.limit == 20);
    CHECK(u.remaining == 16);
    CHECK_REPLY(Take(f.engine, "org:a/user:1", 16), true, 0, 20, 0, k2024_03_01 - T,
                "org:a/user:1");
  }
  SECTION("a new period starts afresh") {
    SetOk(f.engine, "org:a/*", Quota(20, Weekly()));
    UsageReport u = UsageOf(f.engine, "org:a/user:1");
    CHECK(u.consumed == 0);
    CHECK(u.period == "weekly");
    CHECK(u.resets_at_ms == k2024_03_04);
  }
  SECTION("a new kind starts afresh") {
    SetOk(f.engine, "org:a/*", Window(10, kMinute));
    CHECK(Used(f.engine, "org:a/user:1") == 0);
  }
  SECTION("afresh means afresh: going back to the old basis finds no old usage") {
    SetOk(f.engine, "org:a/*", Window(10, kMinute));
    SetOk(f.engine, "org:a/*", Quota(10, Daily()));  // the basis user:1 was charged under
    CHECK(Used(f.engine, "org:a/user:1") == 0);
    CHECK(Take(f.engine, "org:a/user:1", 2).allowed);
    SetOk(f.engine, "org:a/user:1", Quota(30, Weekly()));  // own, another basis
    SetOk(f.engine, "org:a/user:1", Quota(30, Daily()));   // and back
    CHECK(Used(f.engine, "org:a/user:1") == 0);
  }
  SECTION("deleting the default deletes its counters") {
    CHECK(Del(f.engine, {"org:a/*"}) == 1);
    CHECK(f.engine.Size() == 2u);
    CHECK(ScanAll(f.engine) == Keys({"org:a", "org:a/user:vip"}));
    CHECK_FALSE(HasUsage(f.engine, "org:a/user:1"));
    CHECK_FALSE(HasDefinition(f.engine, "org:a/user:1"));
    CHECK_REPLY(Take(f.engine, "org:a/user:1", 1), true, 95, 100, 0, k2024_03_01 - T, "org:a");
    // Re-created: the old counter is gone.
    SetOk(f.engine, "org:a/*", Quota(10, Daily()));
    CHECK(Used(f.engine, "org:a/user:1") == 0);
  }
  SECTION("Set on a materialized key makes it its own, keeping compatible usage") {
    SetOk(f.engine, "org:a/user:1", Quota(30, Daily()));
    LimitInfo info = InfoOf(f.engine, "org:a/user:1");
    CHECK(info.source == "own");
    CHECK(info.definition.hard == 30);
    UsageReport u = UsageOf(f.engine, "org:a/user:1");
    CHECK(u.source == "own");
    CHECK(u.consumed == 4);
    CHECK(f.engine.Size() == 4u);
    // The default no longer applies to it.
    SetOk(f.engine, "org:a/*", Quota(1, Daily()));
    CHECK(UsageOf(f.engine, "org:a/user:1").limit == 30);
    // Deleting the default keeps it.
    CHECK(Del(f.engine, {"org:a/*"}) == 1);
    CHECK(Used(f.engine, "org:a/user:1") == 4);
  }
  SECTION("Set on a materialized key with another period starts afresh") {
    SetOk(f.engine, "org:a/user:1", Quota(30, Weekly()));
    CHECK(Used(f.engine, "org:a/user:1") == 0);
  }
}

TEST_CASE("DropIdleCounters drops fresh materialized counters only", "[defaults][drop]") {
  Fixture f(T);
  SetUpOrg(f.engine);
  CHECK(Take(f.engine, "org:a/user:1", 4).allowed);
  CHECK(Take(f.engine, "org:a/user:2", 6).allowed);
  CHECK(f.engine.Size() == 5u);
  CHECK(DropAllIdle(f.engine) == 0);
  CHECK(f.engine.Size() == 5u);

  CHECK(RefundOk(f.engine, "org:a/user:1", 4) == 0);
  CHECK(DropAllIdle(f.engine) == 1);
  CHECK(f.engine.Size() == 4u);
  CHECK(ScanAll(f.engine) == Keys({"org:a", "org:a/*", "org:a/user:2", "org:a/user:vip"}));
  UsageReport u = UsageOf(f.engine, "org:a/user:1");  // still reported from the default
  CHECK(u.consumed == 0);
  CHECK(u.source == "org:a/*");
  CHECK(Used(f.engine, "org:a") == 6);

  // After the daily rollover every counter is fresh; own definitions stay.
  f.clock.Set(k2024_03_01);
  CHECK(DropAllIdle(f.engine) == 1);
  CHECK(ScanAll(f.engine) == Keys({"org:a", "org:a/*", "org:a/user:vip"}));
  CHECK(f.engine.Size() == 3u);
}

TEST_CASE("DropIdleCounters: ResetUsage, windows and buckets, budget", "[defaults][drop]") {
  Fixture f(k2024_02_29_12);
  SetOk(f.engine, "api/*", Window(5, kMinute));
  SetOk(f.engine, "rate/*", Bucket(10, kSecond));
  SetOk(f.engine, "credits/*", Quota(100));
  CHECK(Take(f.engine, "api/u1", 1).allowed);
  CHECK(Take(f.engine, "rate/u1", 1).allowed);
  CHECK(Take(f.engine, "credits/u1", 1).allowed);
  for (int i = 0; i < 5; ++i) {
    std::string k = "credits/x" + std::to_string(i);
    CHECK(Take(f.engine, k, 1).allowed);
  }
  CHECK(f.engine.Size() == 11u);
  CHECK(DropAllIdle(f.engine) == 0);

  auto reset = f.engine.ResetUsage("credits/u1");
  REQUIRE(reset.ok());
  CHECK(*reset);
  (void)DropAllIdle(f.engine);  // ResetUsage may already have dropped it
  CHECK(f.engine.Size() == 10u);
  f.clock.Set(k2024_02_29_12 + 100);  // the bucket is full again
  CHECK(DropAllIdle(f.engine) == 1);
  f.clock.Set(k2024_02_29_12 + 61'000);  // the window has freed its usage
  CHECK(DropAllIdle(f.engine) == 1);
  CHECK(f.engine.Size() == 8u);

  for (int i = 0; i < 5; ++i) {
    std::string k = "credits/x" + std::to_string(i);
    CHECK(RefundOk(f.engine, k, 1) == 0);
  }
  size_t dropped = 0;
  for (int calls = 0; calls < 100000 && dropped < 5; ++calls) {
    size_t n = f.engine.DropIdleCounters(2);
    CHECK(n <= 2u);
    dropped += n;
  }
  CHECK(dropped == 5u);
  CHECK(f.engine.Size() == 3u);
  CHECK(ScanAll(f.engine) == Keys({"api/*", "credits/*", "rate/*"}));
}

TEST_CASE("DropIdleCounters: the budget bounds the keys examined, not the drops",
          "[defaults][drop]") {
  Fixture f(T);
  SetOk(f.engine, "org:a/*", Quota(100));
  constexpr int kBusy = 300;
  for (int i = 0; i < kBusy; ++i) CHECK(Take(f.engine, "org:a/u" + std::to_string(i), 1).allowed);
  CHECK(Take(f.engine, "org:a/idle", 1).allowed);
  CHECK(RefundOk(f.engine, "org:a/idle", 1) == 0);
  const size_t keys = f.engine.Size();
  REQUIRE(keys == kBusy + 2u);

  // One key per call: the idle counter is met only when the sweep reaches
  // it, after at most every key of its shard and the empty shards between.
  size_t calls = 0;
  size_t dropped = 0;
  size_t first_call_drops = 0;
  while (dropped == 0 && calls < 100000) {
    size_t n = f.engine.DropIdleCounters(1);
    if (calls == 0) first_call_drops = n;
    dropped += n;
    ++calls;
  }
  CHECK(dropped == 1u);
  CHECK(calls > 1u);  // a call scanning until it dropped one would take 1
  CHECK(first_call_drops == 0u);
  CHECK(calls <= keys + 4096u);  // at most one pass over the shards
  CHECK(f.engine.Size() == keys - 1);
  // The busy counters were all examined and kept, and stay.
  CHECK(DropAllIdle(f.engine) == 0);
  CHECK(Used(f.engine, "org:a/u7") == 1);
}

// A shard's lock is let go every 128 entries; one call with budget to
// spare must still go on in the same shard where it stopped, and reach
// every idle counter of a shard far larger than that.
TEST_CASE("DropIdleCounters: one call sweeps a large shard in several holds", "[defaults][drop]") {
  Fixture f(T);
  SetOk(f.engine, "org:a/*", Quota(100));
  constexpr int kIdle = 1000;  // one shard: every key lives with org:a
  for (int i = 0; i < kIdle; ++i) {
    const std::string k = "org:a/u" + std::to_string(i);
    CHECK(Take(f.engine, k, 1).allowed);
    CHECK(RefundOk(f.engine, k, 1) == 0);
  }
  CHECK(Take(f.engine, "org:a/busy", 1).allowed);
  REQUIRE(f.engine.Size() == kIdle + 2u);
  // One call with budget for every key: it visits every shard once.
  CHECK(f.engine.DropIdleCounters(size_t{1} << 20) == size_t{kIdle});
  CHECK(ScanAll(f.engine) == Keys({"org:a/*", "org:a/busy"}));
  CHECK(Used(f.engine, "org:a/busy") == 1);
}

TEST_CASE("keys with a '*' segment are defaults, not counters", "[defaults][validation]") {
  Fixture f(T);
  SetUpOrg(f.engine);
  SetOk(f.engine, "*", Quota(5));
  CHECK(Take(f.engine, "org:a/user:1", 1).allowed);
  const size_t size = f.engine.Size();
  const int64_t org_used = Used(f.engine, "org:a");
  for (std::string_view key : {"org:a/*", "*"}) {
    INFO(key);
    auto c = f.engine.Consume(key, 1);
    REQUIRE_FALSE(c.ok());
    CHECK(c.error().code == ErrorCode::kInvalidArgument);
    auto c0 = f.engine.Consume(key, 0);
    REQUIRE_FALSE(c0.ok());
    CHECK(c0.error().code == ErrorCode::kInvalidArgument);
    auto r = f.engine.Refund(key, 1);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::kInvalidArgument);
    auto u = f.engine.Usage(key);
    REQUIRE_FALSE(u.ok());
    CHECK(u.error().code == ErrorCode::kInvalidArgument);
    auto z = f.engine.ResetUsage(key);
    REQUIRE_FALSE(z.ok());
    CHECK(z.error().code == ErrorCode::kInvalidArgument);
  }
  CHECK(f.engine.Size() == size);
  CHECK(Used(f.engine, "org:a") == org_used);
  CHECK(Used(f.engine, "org:a/user:1") == 1);
  CHECK(InfoOf(f.engine, "org:a/*").definition.hard == 10);
}

TEST_CASE("deleting '*' deletes the top-level counters that followed it", "[defaults][delete]") {
  Fixture f(T);
  SetOk(f.engine, "*", Quota(5));
  SetOk(f.engine, "own", Quota(5));
  CHECK(Take(f.engine, "a", 1).allowed);
  CHECK(Take(f.engine, "b", 2).allowed);
  CHECK(Take(f.engine, "own", 1).allowed);
  CHECK(f.engine.Size() == 4u);
  CHECK(Del(f.engine, {"*"}) == 1);
  CHECK(f.engine.Size() == 1u);
  CHECK(ScanAll(f.engine) == Keys({"own"}));
  auto r = f.engine.Consume("a", 1);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::kNoLimit);
  CHECK(Used(f.engine, "own") == 1);
  SetOk(f.engine, "*", Quota(5));
  CHECK(Used(f.engine, "a") == 0);
}

TEST_CASE("defaults at two levels: projects from org/*, users from org/p1/*",
          "[defaults][hierarchy]") {
  Fixture f(T);
  SetOk(f.engine, "org", Quota(100));
  SetOk(f.engine, "org/*", Quota(30));
  SetOk(f.engine, "org/p1/*", Quota(10));
  CHECK_REPLY(Take(f.engine, "org/p1/u1", 10), true, 0, 10, 0, -1, "org/p1/u1");
  CHECK_REPLY(Take(f.engine, "org/p1/u2", 10), true, 0, 10, 0, -1, "org/p1/u2");
  CHECK_REPLY(Take(f.engine, "org/p1/u3", 10), true, 0, 10, 0, -1, "org/p1/u3");
  CHECK_REPLY(Take(f.engine, "org/p1/u4", 1), false, 0, 30, -1, -1, "org/p1");
  UsageReport p1 = UsageOf(f.engine, "org/p1");
  CHECK(p1.consumed == 30);
  CHECK(p1.source == "org/*");
  CHECK(Used(f.engine, "org") == 30);
  CHECK(f.engine.Size() == 7u);  // org, org/*, org/p1/*, org/p1, u1, u2, u3
  CHECK_REPLY(Take(f.engine, "org/p2/u1", 25), true, 5, 30, 0, -1, "org/p2");
  CHECK(Used(f.engine, "org") == 55);
}
