// Copyright limiterd authors.
// How CONSUME finds a path's levels and their defaults: one copy of the key
// serves every "parent/*" lookup, levels with empty segments included, with
// one- and multi-byte separators; and monthly periods stay right when keys
// with different anchors alternate (the calendar work is cached per thread).
#include "test_util.h"

using namespace lt;  // NOLINT

namespace {
constexpr int64_t T = k2024_02_29_1345;
}  // namespace

TEST_CASE("resolve: empty segments find their own defaults", "[resolve]") {
  Fixture f(T);
  SetOk(f.engine, "a//*", Quota(10));  // children of "a/"
  SetOk(f.engine, "a/*", Quota(4));    // children of "a", "a/" among them
  SetOk(f.engine, "*", Quota(100));    // top-level keys: "a", "/x"

  // "a//b" has the levels "a//b" (a//*), "a/" (a/*) and "a" (*).
  ConsumeReply r = Take(f.engine, "a//b", 2);
  CHECK(r.allowed);
  CHECK(Used(f.engine, "a//b") == 2);
  CHECK(Used(f.engine, "a/") == 2);
  CHECK(Used(f.engine, "a") == 2);
  CHECK(InfoOf(f.engine, "a//b").source == "a//*");
  CHECK(InfoOf(f.engine, "a/").source == "a/*");

  r = Take(f.engine, "a//b", 3);  // "a/" has 2 left
  CHECK_FALSE(r.allowed);
  CHECK(r.level == "a/");
  CHECK(r.remaining == 2);

  // A key ending in the separator: its last segment is empty, its default
  // is "a/*" written one byte past the key.
  r = Take(f.engine, "a/", 2);
  CHECK(r.allowed);
  CHECK(Used(f.engine, "a/") == 4);

  // A key starting with the separator is a top-level key.
  r = Take(f.engine, "/x", 7);
  CHECK(r.allowed);
  CHECK(r.level == "/x");
  CHECK(InfoOf(f.engine, "/x").source == "*");
}

// The root level is looked up with the hash that picked the shard; a key
// that starts with the separator has an empty root, which is not its level.
TEST_CASE("resolve: roots and keys that start with the separator find their own limits",
          "[resolve]") {
  Fixture f(T);
  SetOk(f.engine, "/x", Quota(5));
  SetOk(f.engine, "/x/y", Quota(3));
  SetOk(f.engine, "r", Quota(4));
  for (int i = 1; i <= 2; ++i) {  // the second call finds the counters made by the first
    ConsumeReply r = Take(f.engine, "/x/y", 1);
    CHECK(r.allowed);
    CHECK(r.level == "/x/y");
    CHECK(r.remaining == 3 - i);
    CHECK(Used(f.engine, "/x") == i);
    r = Take(f.engine, "r", 1);
    CHECK(r.allowed);
    CHECK(r.remaining == 4 - i);
  }
  CHECK(RefundOk(f.engine, "/x/y", 2) == 0);
  CHECK(Used(f.engine, "/x") == 0);
  CHECK(RefundOk(f.engine, "r", 1) == 1);
  Fixture flat(T, "");  // no hierarchy: every key is its own root
  SetOk(flat.engine, "a/b", Quota(2));
  CHECK(Take(flat.engine, "a/b", 2).allowed);
  CHECK_FALSE(Take(flat.engine, "a/b", 1).allowed);
}

TEST_CASE("resolve: a three-level path of defaults, each level its own", "[resolve]") {
  Fixture f(T);
  SetOk(f.engine, "org:1", Quota(1000));
  SetOk(f.engine, "org:1/*", Quota(50));          // every project
  SetOk(f.engine, "org:1/project:2/*", Quota(5));  // every user of project:2
  ConsumeReply r = Take(f.engine, "org:1/project:2/user:3", 5);
  CHECK(r.allowed);
  CHECK(r.remaining == 0);
  CHECK(r.level == "org:1/project:2/user:3");
  CHECK(Used(f.engine, "org:1/project:2") == 5);
  CHECK(Used(f.engine, "org:1") == 5);
  r = Take(f.engine, "org:1/project:2/user:4", 5);  // another user: its own counter
  CHECK(r.allowed);
  CHECK(Used(f.engine, "org:1/project:2") == 10);
  CHECK_FALSE(Take(f.engine, "org:1/project:2/user:3", 1).allowed);
  // A user of another project has no user default: two levels.
  r = Take(f.engine, "org:1/project:9/user:3", 50);
  CHECK(r.allowed);
  CHECK(r.level == "org:1/project:9");
  CHECK_FALSE(HasDefinition(f.engine, "org:1/project:9/user:3"));
}

TEST_CASE("resolve: a multi-byte separator", "[resolve]") {
  Fixture f(T, "::");
  SetOk(f.engine, "a", Quota(100));
  SetOk(f.engine, "a::b::*", Quota(3));
  ConsumeReply r = Take(f.engine, "a::b::c", 3);
  CHECK(r.allowed);
  CHECK(r.level == "a::b::c");
  CHECK(Used(f.engine, "a") == 3);
  CHECK_FALSE(HasDefinition(f.engine, "a::b"));
  CHECK_FALSE(Take(f.engine, "a::b::c", 1).allowed);
  CHECK(Take(f.engine, "a::b::d", 3).allowed);
  CHECK(Used(f.engine, "a") == 6);
  CHECK(InfoOf(f.engine, "a::b::d").source == "a::b::*");
}

TEST_CASE("resolve: monthly keys with different anchors alternate", "[resolve]") {
  Fixture f(k2024_02_15_1030);
  // Anchored the 31st (renews the last day of short months) and the 1st.
  SetOk(f.engine, "late", AnchoredQuota(10, Monthly(), k2023_01_31));
  SetOk(f.engine, "early", AnchoredQuota(10, Monthly(), k2024_01_01));
  SetOk(f.engine, "mid", AnchoredQuota(10, Monthly(), k2024_01_15_1030));
  for (int round = 0; round < 3; ++round) {
    CHECK(Take(f.engine, "late", 1).allowed);
    CHECK(Take(f.engine, "early", 1).allowed);
    CHECK(Take(f.engine, "mid", 1).allowed);
  }
  CHECK(UsageOf(f.engine, "late").period_start_ms == k2024_01_31);
  CHECK(UsageOf(f.engine, "late").resets_at_ms == k2024_02_29);
  CHECK(UsageOf(f.engine, "early").period_start_ms == k2024_02_01);
  CHECK(UsageOf(f.engine, "early").resets_at_ms == k2024_03_01);
  CHECK(UsageOf(f.engine, "mid").period_start_ms == k2024_02_15_1030);

  f.clock.Set(k2024_03_01);  // "late" and "early" renewed; "mid" not yet
  CHECK(Used(f.engine, "late") == 0);
  CHECK(Used(f.engine, "early") == 0);
  CHECK(Used(f.engine, "mid") == 3);
  CHECK(Take(f.engine, "mid", 1).allowed);
  CHECK(UsageOf(f.engine, "late").period_start_ms == k2024_02_29);
  CHECK(UsageOf(f.engine, "early").period_start_ms == k2024_03_01);
  CHECK(UsageOf(f.engine, "mid").period_start_ms == k2024_02_15_1030);
  CHECK(UsageOf(f.engine, "late").resets_at_ms == k2024_03_31);
}
