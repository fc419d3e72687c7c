// Copyright limiterd authors.
// SPEC 2 "Keys and the hierarchy" and "Consuming": every ancestor with an
// effective limit is checked and charged, all or nothing; which level a reply
// names (decision 9); retry_after over several levels (decision 5).
#include "test_util.h"

using namespace lt;  // NOLINT

namespace {
constexpr int64_t T = k2024_02_29_12;  // 2024-02-29 12:00:00.000 UTC
}  // namespace

TEST_CASE("org cap 100 shared by projects of 70 and 60", "[hierarchy]") {
  Fixture f(T);
  SetOk(f.engine, "org:a", Quota(100));
  SetOk(f.engine, "org:a/project:1", Quota(70));
  SetOk(f.engine, "org:a/project:2", Quota(60));

  CHECK_REPLY(Take(f.engine, "org:a/project:1", 60), true, 10, 70, 0, -1, "org:a/project:1");
  // The org denies (40 left); the project alone would allow it.
  CHECK_REPLY(Take(f.engine, "org:a/project:2", 50), false, 40, 100, -1, -1, "org:a");
  CHECK(Used(f.engine, "org:a/project:2") == 0);
  CHECK(Used(f.engine, "org:a") == 60);
  CHECK_REPLY(Take(f.engine, "org:a/project:2", 40), true, 0, 100, 0, -1, "org:a");
  CHECK_REPLY(Take(f.engine, "org:a/project:1", 10), false, 0, 100, -1, -1, "org:a");
  // Both deny (org 0 left, project 10 left): the smallest remaining.
  CHECK_REPLY(Take(f.engine, "org:a/project:1", 11), false, 0, 100, -1, -1, "org:a");
  CHECK(Used(f.engine, "org:a") == 100);
  CHECK(Used(f.engine, "org:a/project:1") == 60);
  CHECK(Used(f.engine, "org:a/project:2") == 40);
  CHECK(UsageOf(f.engine, "org:a").status == LimitStatus::kEmpty);

  CHECK(RefundOk(f.engine, "org:a/project:1", 20) == 40);
  CHECK(Used(f.engine, "org:a") == 80);
  // Project 2 reaches 60 of 60, the org 100 of 100: tie -> the deepest.
  CHECK_REPLY(Take(f.engine, "org:a/project:2", 20), true, 0, 60, 0, -1, "org:a/project:2");
  CHECK(Used(f.engine, "org:a") == 100);
}

TEST_CASE("reply level: smallest remaining, tie -> deepest, no hard -> deepest",
          "[hierarchy][level]") {
  Fixture f(T);
  SECTION("tie") {
    SetOk(f.engine, "t", Quota(100));
    SetOk(f.engine, "t/u", Quota(100));
    CHECK_REPLY(Take(f.engine, "t/u", 10), true, 90, 100, 0, -1, "t/u");
  }
  SECTION("the ancestor has less left") {
    SetOk(f.engine, "s", Quota(50));
    SetOk(f.engine, "s/u", Quota(100));
    CHECK_REPLY(Take(f.engine, "s/u", 10), true, 40, 50, 0, -1, "s");
  }
  SECTION("no hard limit anywhere") {
    SetOk(f.engine, "n", Quota(std::nullopt));
    SetOk(f.engine, "n/u", Quota(std::nullopt));
    CHECK_REPLY(Take(f.engine, "n/u", 10), true, kNil, kNil, 0, -1, "n/u");
    CHECK_REPLY(Take(f.engine, "n/v", 10), true, kNil, kNil, 0, -1, "n");
    CHECK(Used(f.engine, "n") == 20);
  }
  SECTION("only the ancestor has a hard limit") {
    SetOk(f.engine, "m", Quota(100));
    SetOk(f.engine, "m/u", Quota(std::nullopt));
    CHECK_REPLY(Take(f.engine, "m/u", 10), true, 90, 100, 0, -1, "m");
  }
  SECTION("the key itself is smallest, three levels") {
    SetOk(f.engine, "o", Quota(1000));
    SetOk(f.engine, "o/p", Quota(500));
    SetOk(f.engine, "o/p/u", Quota(20));
    CHECK_REPLY(Take(f.engine, "o/p/u", 5), true, 15, 20, 0, -1, "o/p/u");
    CHECK_REPLY(Take(f.engine, "o/p/u", 16), false, 15, 20, -1, -1, "o/p/u");
  }
}

TEST_CASE("reply level points into the key passed to Consume", "[hierarchy][level]") {
  Fixture f(T);
  SetOk(f.engine, "org:x", Quota(10));
  SetOk(f.engine, "org:x/user:1", Quota(100));
  const std::string key = "org:x/user:1";
  auto r = f.engine.Consume(key, 1);
  REQUIRE(r.ok());
  CHECK(r->level == "org:x");
  CHECK(r->level.data() == key.data());
  SetOk(f.engine, "org:x", Quota(1000));
  auto r2 = f.engine.Consume(key, 1);
  REQUIRE(r2.ok());
  CHECK(r2->level == key);
  CHECK(r2->level.data() == key.data());
}

TEST_CASE("ancestors without a limit are skipped; a key without one charges its ancestors",
          "[hierarchy]") {
  Fixture f(T);
  SetOk(f.engine, "org:b", Quota(10));
  SetOk(f.engine, "org:b/team:x/user:1", Quota(5));
  CHECK_REPLY(Take(f.engine, "org:b/team:x/user:1", 5), true, 0, 5, 0, -1,
              "org:b/team:x/user:1");
  CHECK_FALSE(HasUsage(f.engine, "org:b/team:x"));
  CHECK(Used(f.engine, "org:b") == 5);

  CHECK_REPLY(Take(f.engine, "org:b/other", 3), true, 2, 10, 0, -1, "org:b");
  CHECK_FALSE(HasUsage(f.engine, "org:b/other"));
  CHECK_FALSE(HasDefinition(f.engine, "org:b/other"));
  CHECK(Used(f.engine, "org:b") == 8);
  (void)RefundOk(f.engine, "org:b/other", 3);
  CHECK(Used(f.engine, "org:b") == 5);
  CHECK_REPLY(Take(f.engine, "org:b/team:x/user:2", 6), false, 5, 10, -1, -1, "org:b");
}

TEST_CASE("all or nothing across kinds", "[hierarchy]") {
  Fixture f(T);
  SetOk(f.engine, "x", Quota(100));
  SetOk(f.engine, "x/bucket", Bucket(1, kSecond));
  SetOk(f.engine, "x/window", Window(1, kMinute));
  CHECK(Take(f.engine, "x/bucket", 1).allowed);
  CHECK(Take(f.engine, "x/window", 1).allowed);
  CHECK(Used(f.engine, "x") == 2);
  CHECK_FALSE(Take(f.engine, "x/bucket", 1).allowed);
  CHECK_FALSE(Take(f.engine, "x/window", 1).allowed);
  CHECK(Used(f.engine, "x") == 2);

  SetOk(f.engine, "x", Quota(2));
  f.clock.Set(T + kHour);  // bucket and window are free again; x is full
  CHECK_FALSE(Take(f.engine, "x/bucket", 1).allowed);
  CHECK_FALSE(Take(f.engine, "x/window", 1).allowed);
  CHECK(Used(f.engine, "x/bucket") == 0);
  CHECK(Used(f.engine, "x/window") == 0);
}

TEST_CASE("retry_after is the max over the denying levels", "[hierarchy][retry]") {
  Fixture f(T);
  SECTION("two windows") {
    SetOk(f.engine, "a", Window(1, kMinute));   // freed at T + 61000
    SetOk(f.engine, "a/b", Window(1, 10'000));  // g = 167, T % 167 == 19: freed at T + 10148
    CHECK_REPLY(Take(f.engine, "a/b", 1), true, 0, 1, 0, 10'148, "a/b");
    f.clock.Set(T + 1);
    // Both deny with 0 left: tie -> the deepest; retry from the org window.
    CHECK_REPLY(Take(f.engine, "a/b", 1), false, 0, 1, 60'999, 10'147, "a/b");
    f.clock.Set(T + 10'148);
    CHECK_REPLY(Take(f.engine, "a/b", 1), false, 0, 1, 50'852, 50'852, "a");
    f.clock.Set(T + 61'000);
    CHECK(Take(f.engine, "a/b", 1).allowed);
  }
  SECTION("a daily quota above a window") {
    SetOk(f.engine, "p", Quota(1, Daily()));
    SetOk(f.engine, "p/c", Window(1, kMinute));
    CHECK(Take(f.engine, "p/c", 1).allowed);
    CHECK_REPLY(Take(f.engine, "p/c", 1), false, 0, 1, 12 * kHour, 61'000, "p/c");
    CheckRetryAfterIsExact(f.engine, f.clock, "p/c", 1);
    CHECK(f.clock.NowMs() == k2024_03_01);
  }
  SECTION("a lifetime quota that denies: never") {
    SetOk(f.engine, "q", Quota(1));
    SetOk(f.engine, "q/c", Window(1, kMinute));
    CHECK(Take(f.engine, "q/c", 1).allowed);
    CHECK_REPLY(Take(f.engine, "q/c", 1), false, 0, 1, -1, 61'000, "q/c");
  }
  SECTION("the wait would reach an ancestor's valid_until") {
    SetOk(f.engine, "e", ValidUntil(Quota(100), T + 30'000));
    SetOk(f.engine, "e/c", Window(1, kMinute));
    CHECK(Take(f.engine, "e/c", 1).allowed);
    CHECK_REPLY(Take(f.engine, "e/c", 1), false, 0, 1, -1, 61'000, "e/c");
  }
  SECTION("valid_until exactly at the end of the wait: never") {
    SetOk(f.engine, "e", ValidUntil(Quota(100), T + 61'000));
    SetOk(f.engine, "e/c", Window(1, kMinute));
    CHECK(Take(f.engine, "e/c", 1).allowed);
    CHECK_REPLY(Take(f.engine, "e/c", 1), false, 0, 1, -1, 61'000, "e/c");
  }
  SECTION("valid_until one ms after the end of the wait") {
    SetOk(f.engine, "e", ValidUntil(Quota(100), T + 61'001));
    SetOk(f.engine, "e/c", Window(1, kMinute));
    CHECK(Take(f.engine, "e/c", 1).allowed);
    CHECK_REPLY(Take(f.engine, "e/c", 1), false, 0, 1, 61'000, 61'000, "e/c");
  }
  SECTION("the wait would reach the end of a NORENEW ancestor's period") {
    SetOk(f.engine, "n", NoRenew(Quota(100, Every(30'000))));
    SetOk(f.engine, "n/c", Window(1, kMinute));
    CHECK(Take(f.engine, "n/c", 1).allowed);
    CHECK_REPLY(Take(f.engine, "n/c", 1), false, 0, 1, -1, 61'000, "n/c");
  }
  SECTION("an expired ancestor") {
    SetOk(f.engine, "x", ValidUntil(Quota(100), T + 10));
    SetOk(f.engine, "x/c", Quota(100));
    f.clock.Set(T + 10);
    ConsumeReply r = Take(f.engine, "x/c", 1);
    INFO(Describe(r));
    CHECK_FALSE(r.allowed);
    CHECK(r.retry_after_ms == -1);
    CHECK(r.level == "x");
    CHECK(Used(f.engine, "x/c") == 0);
  }
}

TEST_CASE("LIMIT.DEL of an ancestor: children keep their own limits", "[hierarchy][delete]") {
  Fixture f(T);
  SetOk(f.engine, "org:a", Quota(100));
  SetOk(f.engine, "org:a/project:1", Quota(70));
  SetOk(f.engine, "org:a/project:2", Quota(60));
  CHECK(Take(f.engine, "org:a/project:1", 70).allowed);
  CHECK_FALSE(Take(f.engine, "org:a/project:2", 31).allowed);
  CHECK(Del(f.engine, {"org:a"}) == 1);
  CHECK_FALSE(HasDefinition(f.engine, "org:a"));
  CHECK_FALSE(HasUsage(f.engine, "org:a"));
  CHECK_REPLY(Take(f.engine, "org:a/project:2", 60), true, 0, 60, 0, -1, "org:a/project:2");
  CHECK(Used(f.engine, "org:a/project:1") == 70);
  // Re-created: fresh usage.
  SetOk(f.engine, "org:a", Quota(100));
  CHECK(Used(f.engine, "org:a") == 0);
  CHECK(Del(f.engine, {"org:a/project:1", "nope", "org:a/project:2", "org:a/project:1"}) == 2);
  CHECK(f.engine.Size() == 1u);
}

TEST_CASE("custom separator", "[hierarchy][separator]") {
  Fixture f(T, ":");
  CHECK(f.engine.separator() == ":");
  SetOk(f.engine, "org", Quota(10));
  CHECK_REPLY(Take(f.engine, "org:acme:user", 3), true, 7, 10, 0, -1, "org");
  SetOk(f.engine, "org:*", Quota(5));  // default for org's children
  CHECK_REPLY(Take(f.engine, "org:acme", 5), true, 0, 5, 0, -1, "org:acme");
  CHECK(InfoOf(f.engine, "org:acme").source == "org:*");
  CHECK(Used(f.engine, "org") == 8);
  auto r = f.engine.Consume("a/b", 1);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::kNoLimit);
}

TEST_CASE("empty separator: hierarchy off, only '*' applies", "[hierarchy][separator]") {
  Fixture f(T, "");
  SetOk(f.engine, "a", Quota(10));
  auto r = f.engine.Consume("a/b", 1);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::kNoLimit);
  SetOk(f.engine, "*", Quota(5));
  CHECK_REPLY(Take(f.engine, "a/b", 1), true, 4, 5, 0, -1, "a/b");
  CHECK(InfoOf(f.engine, "a/b").source == "*");
  CHECK(Used(f.engine, "a") == 0);
  CHECK_REPLY(Take(f.engine, "a", 1), true, 9, 10, 0, -1, "a");
}

TEST_CASE("a path of eight limited levels: every one checked, charged and named right",
          "[hierarchy][level]") {
  // More levels than a call keeps inline (four), each a quota kept packed
  // and read through its view's copy: the list grows, its levels move.
  Fixture f(T);
  std::string path = "l0";
  std::vector<std::string> levels{path};
  for (int i = 1; i < 8; ++i) levels.push_back(path += "/l" + std::to_string(i));
  for (int i = 0; i < 8; ++i) SetOk(f.engine, levels[i], Quota(100 - 5 * i));  // deepest: 65
  Take(f.engine, path, 1);  // every level charged: packed states to read back
  CHECK_REPLY(Take(f.engine, path, 60), true, 4, 65, 0, -1, path);
  CHECK_REPLY(Dry(f.engine, path, 4), true, 0, 65, 0, -1, path);
  CHECK_REPLY(Take(f.engine, path, 5), false, 4, 65, -1, -1, path);
  for (const std::string& level : levels) CHECK(Used(f.engine, level) == 61);
  SetOk(f.engine, levels[0], Quota(62));  // now the root has 1 left
  CHECK_REPLY(Take(f.engine, path, 2), false, 1, 62, -1, -1, "l0");
  CHECK_REPLY(Take(f.engine, path, 1), true, 0, 62, 0, -1, "l0");
  CHECK(RefundOk(f.engine, path, 11) == 51);
  for (const std::string& level : levels) CHECK(Used(f.engine, level) == 51);
}
