// Copyright limiterd authors.
// SPEC 3 CREDITS.CONSUME (FORCE, DRYRUN, peek), CREDITS.REFUND, USAGE.GET,
// USAGE.RESET; SPEC 2 soft limits, NOLIMIT, overflow. Decisions 3, 4, 12, 13,
// 16, 17.
#include "test_util.h"

using namespace lt;  // NOLINT

namespace {
constexpr int64_t T = k2024_02_29_1345;             // 2024-02-29 13:45 UTC
constexpr int64_t kToMidnight = k2024_03_01 - T;  // 10h15m
}  // namespace

TEST_CASE("FORCE charges past the hard limit and reports allowed = 0", "[consume][force]") {
  Fixture f(T);
  SetOk(f.engine, "k", Quota(10, Daily()));
  CHECK(Take(f.engine, "k", 8).allowed);
  CHECK_REPLY(Force(f.engine, "k", 1), true, 1, 10, 0, kToMidnight, "k");
  ConsumeReply over = Force(f.engine, "k", 5);
  INFO(Describe(over));
  CHECK_FALSE(over.allowed);
  CHECK(over.remaining == 0);  // clamped
  CHECK(over.limit == 10);
  CHECK(over.reset_after_ms == kToMidnight);
  CHECK(over.level == "k");
  UsageReport u = UsageOf(f.engine, "k");
  CHECK(u.consumed == 14);
  CHECK(u.remaining == 0);
  CHECK(u.status == LimitStatus::kEmpty);

  CHECK_REPLY(Take(f.engine, "k", 1), false, 0, 10, kToMidnight, kToMidnight, "k");
  CHECK(RefundOk(f.engine, "k", 3) == 11);
  CHECK(UsageOf(f.engine, "k").remaining == 0);
  CHECK(RefundOk(f.engine, "k", 2) == 9);
  CHECK_REPLY(Take(f.engine, "k", 1), true, 0, 10, 0, kToMidnight, "k");
  f.clock.Set(k2024_03_01);
  CHECK(Used(f.engine, "k") == 0);
}

TEST_CASE("FORCE in a hierarchy: every level charged, the one that went over is named",
          "[consume][force][hierarchy]") {
  Fixture f(T);
  SetOk(f.engine, "o", Quota(100));
  SetOk(f.engine, "o/p", Quota(70));
  SetOk(f.engine, "o/q", Quota(70));
  CHECK(Take(f.engine, "o/q", 60).allowed);
  CHECK(Take(f.engine, "o/p", 35).allowed);
  ConsumeReply r = Force(f.engine, "o/p", 10);
  INFO(Describe(r));
  CHECK_FALSE(r.allowed);
  CHECK(r.remaining == 0);
  CHECK(r.limit == 100);
  CHECK(r.level == "o");
  CHECK(Used(f.engine, "o") == 105);
  CHECK(Used(f.engine, "o/p") == 45);
  CHECK(UsageOf(f.engine, "o").remaining == 0);
  CHECK(UsageOf(f.engine, "o").status == LimitStatus::kEmpty);
}

TEST_CASE("FORCE does not charge an expired level and reports allowed = 0",
          "[consume][force][expired]") {
  Fixture f(T);
  SetOk(f.engine, "e", ValidUntil(Quota(100), T + 10));
  SetOk(f.engine, "e/c", Quota(50));
  f.clock.Set(T + 10);
  ConsumeReply r = Force(f.engine, "e/c", 5);
  INFO(Describe(r));
  CHECK_FALSE(r.allowed);
  CHECK(r.level == "e");
  CHECK(r.retry_after_ms == -1);
  CHECK(Used(f.engine, "e") == 0);
  CHECK(UsageOf(f.engine, "e").status == LimitStatus::kExpired);
  CHECK(Used(f.engine, "e/c") == 5);
}

TEST_CASE("DRYRUN replies as the same call would, and changes nothing", "[consume][dryrun]") {
  Fixture f(T);
  SetOk(f.engine, "o", Quota(100, Daily()));
  SetOk(f.engine, "o/k", Quota(10, Daily()));
  CHECK(Take(f.engine, "o/k", 4).allowed);
  const UsageReport before_o = UsageOf(f.engine, "o");
  const UsageReport before_k = UsageOf(f.engine, "o/k");

  struct Call {
    int64_t amount;
    bool force;
  };
  for (Call c : {Call{5, false}, Call{6, false}, Call{7, false}, Call{0, false}, Call{3, true},
                 Call{20, true}}) {
    INFO("amount " << c.amount << " force " << c.force);
    ConsumeReply dry = Dry(f.engine, "o/k", c.amount, c.force);
    CHECK_SAME_USAGE(UsageOf(f.engine, "o"), before_o);
    CHECK_SAME_USAGE(UsageOf(f.engine, "o/k"), before_k);
    ConsumeReply real =
        Take(f.engine, "o/k", c.amount, ConsumeOptions{.force = c.force, .dry_run = false});
    CHECK_SAME_REPLY(dry, real);
    // Undo what the real call charged.
    if (real.allowed || c.force) (void)RefundOk(f.engine, "o/k", c.amount);
    REQUIRE(Used(f.engine, "o/k") == 4);
    REQUIRE(Used(f.engine, "o") == 4);
  }
  CHECK_REPLY(Dry(f.engine, "o/k", 6), true, 0, 10, 0, kToMidnight, "o/k");
  CHECK_REPLY(Dry(f.engine, "o/k", 7), false, 6, 10, kToMidnight, kToMidnight, "o/k");
  ConsumeReply forced = Dry(f.engine, "o/k", 20, /*force=*/true);
  CHECK_FALSE(forced.allowed);
  CHECK(forced.remaining == 0);
  CHECK(forced.level == "o/k");
  CHECK(Used(f.engine, "o/k") == 4);
}

TEST_CASE("peek (amount 0) is allowed even when nothing is left, and changes nothing",
          "[consume][peek]") {
  Fixture f(T);
  SetOk(f.engine, "k", Quota(10, Daily()));
  CHECK_REPLY(Take(f.engine, "k", 0), true, 10, 10, 0, kToMidnight, "k");
  CHECK(Take(f.engine, "k", 10).allowed);
  CHECK_REPLY(Take(f.engine, "k", 0), true, 0, 10, 0, kToMidnight, "k");
  CHECK(Used(f.engine, "k") == 10);
  SetOk(f.engine, "zero", Quota(0));
  CHECK_REPLY(Take(f.engine, "zero", 0), true, 0, 0, 0, -1, "zero");
  CHECK_REPLY(Take(f.engine, "zero", 1), false, 0, 0, -1, -1, "zero");
  CHECK(UsageOf(f.engine, "zero").status == LimitStatus::kEmpty);
}

TEST_CASE("REFUND: each level clamped at 0 on its own; returns the key's consumed",
          "[refund]") {
  Fixture f(T);
  SetOk(f.engine, "o", Quota(100));
  SetOk(f.engine, "o/p", Quota(50));
  SetOk(f.engine, "o/q", Quota(50));
  CHECK(Take(f.engine, "o/p", 3).allowed);
  CHECK(Take(f.engine, "o/q", 7).allowed);
  CHECK(RefundOk(f.engine, "o/p", 5) == 0);
  CHECK(Used(f.engine, "o/p") == 0);
  CHECK(Used(f.engine, "o") == 5);
  CHECK(Used(f.engine, "o/q") == 7);
  CHECK(RefundOk(f.engine, "o/q", 0) == 7);
  CHECK(RefundOk(f.engine, "o/q", 2) == 5);
  CHECK(Used(f.engine, "o") == 3);
  CHECK(RefundOk(f.engine, "o/q", 100) == 0);
  CHECK(Used(f.engine, "o") == 0);

  SECTION("negative amount: kInvalidArgument, nothing changed") {
    CHECK(Take(f.engine, "o/q", 7).allowed);
    auto r = f.engine.Refund("o/q", -1);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::kInvalidArgument);
    CHECK(Used(f.engine, "o/q") == 7);
    CHECK(Used(f.engine, "o") == 7);
  }
  SECTION("no limit anywhere: kNoLimit") {
    auto r = f.engine.Refund("ghost/x", 1);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::kNoLimit);
    CHECK(r.error().message == "no limit applies to 'ghost/x'");
  }
  SECTION("an unlimited level is counted and refunded") {
    SetOk(f.engine, "u", Quota(std::nullopt));
    CHECK(Take(f.engine, "u", 40).allowed);
    CHECK(RefundOk(f.engine, "u", 15) == 25);
  }
}

TEST_CASE("REFUND gives back usage of the current period only", "[refund][period]") {
  Fixture f(T);
  SetOk(f.engine, "d", Quota(10, Daily()));
  CHECK(Take(f.engine, "d", 5).allowed);
  f.clock.Set(k2024_03_01);
  CHECK(RefundOk(f.engine, "d", 3) == 0);
  CHECK(Used(f.engine, "d") == 0);
  CHECK_REPLY(Take(f.engine, "d", 10), true, 0, 10, 0, kDay, "d");
}

TEST_CASE("USAGE.RESET: the key's usage becomes 0, ancestors untouched", "[reset]") {
  Fixture f(T);
  SetOk(f.engine, "o", Quota(100));
  SetOk(f.engine, "o/p", Quota(50));
  SetOk(f.engine, "o/*", Quota(20));
  SetOk(f.engine, "w", Window(2, kMinute));
  CHECK(Take(f.engine, "o/p", 30).allowed);
  CHECK(Take(f.engine, "o/u", 20).allowed);
  CHECK(Take(f.engine, "w", 2).allowed);

  auto check_reset = [&](std::string_view key, bool expected) {
    auto r = f.engine.ResetUsage(key);
    INFO("ResetUsage('" << key << "'): " << ErrorOf(r));
    REQUIRE(r.ok());
    CHECK(*r == expected);
  };
  check_reset("o/p", true);
  CHECK(Used(f.engine, "o/p") == 0);
  CHECK(Used(f.engine, "o") == 50);
  check_reset("o/u", true);  // materialized from o/*
  CHECK(Used(f.engine, "o/u") == 0);
  CHECK(Used(f.engine, "o") == 50);
  check_reset("o/never-charged", true);  // the default applies
  check_reset("w", true);
  CHECK_REPLY(Take(f.engine, "w", 2), true, 0, 2, 0, kMinute + 1000, "w");
  check_reset("nope", false);
  check_reset("nope/x/y", false);
  SetOk(f.engine, "solo", Quota(5));
  check_reset("solo/child", false);  // only an ancestor has a limit
  check_reset("o", true);
  CHECK(Used(f.engine, "o") == 0);
  CHECK(Used(f.engine, "o/p") == 0);
  // The ancestor's reset does not touch children.
  CHECK(Take(f.engine, "o/p", 10).allowed);
  check_reset("o", true);
  CHECK(Used(f.engine, "o/p") == 10);
}

TEST_CASE("soft limits alert but never deny", "[consume][soft]") {
  Fixture f(T);
  SetOk(f.engine, "k", WithSoft(Quota(100, Daily()), 80));
  CHECK(Take(f.engine, "k", 79).allowed);
  UsageReport u = UsageOf(f.engine, "k");
  CHECK(u.soft_limit == 80);
  CHECK_FALSE(u.soft_reached);
  CHECK(Take(f.engine, "k", 1).allowed);
  u = UsageOf(f.engine, "k");
  CHECK(u.soft_reached);
  CHECK(u.status == LimitStatus::kActive);
  CHECK_REPLY(Take(f.engine, "k", 20), true, 0, 100, 0, kToMidnight, "k");
  u = UsageOf(f.engine, "k");
  CHECK(u.soft_reached);
  CHECK(u.status == LimitStatus::kEmpty);
  CHECK(RefundOk(f.engine, "k", 21) == 79);
  CHECK_FALSE(UsageOf(f.engine, "k").soft_reached);

  SECTION("soft with an unlimited hard") {
    SetOk(f.engine, "u", WithSoft(Quota(std::nullopt), 50));
    CHECK(Take(f.engine, "u", 49).allowed);
    CHECK_FALSE(UsageOf(f.engine, "u").soft_reached);
    CHECK_REPLY(Take(f.engine, "u", 1), true, kNil, kNil, 0, -1, "u");
    u = UsageOf(f.engine, "u");
    CHECK(u.soft_reached);
    CHECK(u.limit == kNil);
    CHECK(u.remaining == kNil);
    CHECK(u.soft_limit == 50);
  }
  SECTION("soft equal to hard") {
    SetOk(f.engine, "eq", WithSoft(Quota(5), 5));
    CHECK(Take(f.engine, "eq", 5).allowed);
    CHECK(UsageOf(f.engine, "eq").soft_reached);
  }
}

TEST_CASE("USAGE.GET: every field of a quota with a unit and a default source",
          "[usage]") {
  Fixture f(T);
  LimitDefinition d = WithSoft(AnchoredQuota(1'000'000, Every(30 * kDay), k2024_01_01), 900'000);
  d.unit = "usd";
  d.valid_until_ms = k2024_04_30;
  SetOk(f.engine, "org:m/*", d);
  CHECK(Take(f.engine, "org:m/user:1", 950'000).allowed);
  UsageReport u = UsageOf(f.engine, "org:m/user:1");
  INFO(Describe(u));
  CHECK(u.kind == Kind::kQuota);
  CHECK(u.unit == "usd");
  CHECK(u.status == LimitStatus::kActive);
  CHECK(u.limit == 1'000'000);
  CHECK(u.soft_limit == 900'000);
  CHECK(u.consumed == 950'000);
  CHECK(u.remaining == 50'000);
  CHECK(u.soft_reached);
  CHECK(u.period == "30d");
  CHECK(u.period_start_ms == k2024_01_31);
  CHECK(u.resets_at_ms == k2024_03_01);
  CHECK(u.renewable);
  CHECK(u.valid_until_ms == k2024_04_30);
  CHECK(u.source == "org:m/*");
  auto none = f.engine.Usage("org:n/user:1");
  REQUIRE(none.ok());
  CHECK_FALSE(none->has_value());
}

TEST_CASE("NOLIMIT: no effective limit at any level", "[consume][nolimit]") {
  Fixture f(T);
  SetOk(f.engine, "other", Quota(5));
  for (std::string_view key : {"ghost", "a/b/c", "other2"}) {
    for (int64_t amount : {0, 1}) {
      auto r = f.engine.Consume(key, amount);
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().code == ErrorCode::kNoLimit);
      CHECK(r.error().message == "no limit applies to '" + std::string(key) + "'");
    }
  }
  CHECK(f.engine.Size() == 1u);
  auto g = f.engine.Get("ghost");
  REQUIRE(g.ok());
  CHECK_FALSE(g->has_value());
}

TEST_CASE("a negative amount is rejected and changes nothing", "[consume][validation]") {
  Fixture f(T);
  SetOk(f.engine, "o", Quota(100));
  SetOk(f.engine, "o/k", Quota(10));
  CHECK(Take(f.engine, "o/k", 4).allowed);
  for (int64_t amount : {int64_t{-1}, int64_t{-100}, std::numeric_limits<int64_t>::min()}) {
    for (bool force : {false, true}) {
      auto r = f.engine.Consume("o/k", amount, ConsumeOptions{.force = force, .dry_run = false});
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().code == ErrorCode::kInvalidArgument);
    }
  }
  CHECK(Used(f.engine, "o/k") == 4);
  CHECK(Used(f.engine, "o") == 4);
}

TEST_CASE("overflow: kOverflow and nothing changed", "[consume][overflow]") {
  Fixture f(T);
  SECTION("an unlimited quota") {
    SetOk(f.engine, "u", Quota(std::nullopt));
    CHECK(Take(f.engine, "u", kMax).allowed);
    CHECK(Used(f.engine, "u") == kMax);
    auto r = f.engine.Consume("u", 1);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::kOverflow);
    CHECK(Used(f.engine, "u") == kMax);
  }
  SECTION("an ancestor overflows: the key is not charged either") {
    SetOk(f.engine, "o", Quota(std::nullopt));
    SetOk(f.engine, "o/p", Quota(100));
    CHECK(Take(f.engine, "o", kMax - 5).allowed);
    auto r = f.engine.Consume("o/p", 10);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::kOverflow);
    CHECK(Used(f.engine, "o/p") == 0);
    CHECK(Used(f.engine, "o") == kMax - 5);
    CHECK_REPLY(Take(f.engine, "o/p", 5), true, 95, 100, 0, -1, "o/p");
    CHECK(Used(f.engine, "o") == kMax);
  }
  SECTION("FORCE past int64") {
    SetOk(f.engine, "k", Quota(10));
    CHECK(Take(f.engine, "k", 5).allowed);
    auto r = f.engine.Consume("k", kMax, ConsumeOptions{.force = true, .dry_run = false});
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::kOverflow);
    CHECK(Used(f.engine, "k") == 5);
  }
  SECTION("an unlimited window") {
    SetOk(f.engine, "w", Window(std::nullopt, kMinute));
    CHECK(Take(f.engine, "w", kMax).allowed);
    auto r = f.engine.Consume("w", 1);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::kOverflow);
    CHECK(Used(f.engine, "w") == kMax);
    f.clock.Set(T + 1000);  // another sub-window: the sum would overflow
    auto r2 = f.engine.Consume("w", 1);
    REQUIRE_FALSE(r2.ok());
    CHECK(r2.error().code == ErrorCode::kOverflow);
    f.clock.Set(T + 61'000);  // the first charge is freed
    CHECK(Take(f.engine, "w", 1).allowed);
    CHECK(Used(f.engine, "w") == 1);
  }
  SECTION("a bucket: FORCE of an amount whose debt does not fit in int64 ms") {
    SetOk(f.engine, "b", Bucket(10, kSecond));  // kMax tokens = kMax * 100 ms
    auto r = f.engine.Consume("b", kMax, ConsumeOptions{.force = true, .dry_run = false});
    if (r.ok()) {
      INFO(Describe(*r));
      CHECK_FALSE(r->allowed);
      CHECK(r->reset_after_ms > 0);
      UsageReport u = UsageOf(f.engine, "b");
      INFO(Describe(u));
      CHECK(u.resets_at_ms > T);
      CHECK(u.consumed == kMax);
    } else {
      CHECK(r.error().code == ErrorCode::kOverflow);
      CHECK(Used(f.engine, "b") == 0);
    }
  }
}
