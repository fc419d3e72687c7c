// Copyright limiterd authors.
// SPEC 3 LIMIT.SET (NX, XX, GT, defaults of a definition), LIMIT.GET,
// LIMIT.DEL, FLUSHALL. Decision 15: GT compares with the key's own
// definition's hard; unlimited is greater than any number; none: set.
#include "test_util.h"

using namespace lt;  // NOLINT

namespace {
constexpr int64_t T = k2024_02_29_12;  // 2024-02-29 12:00 UTC

bool SetIf(Engine& e, std::string_view key, const LimitDefinition& d, SetCondition c) {
  auto r = e.Set(key, d, c);
  INFO("Set('" << key << "'): " << ErrorOf(r));
  REQUIRE(r.ok());
  return *r;
}
constexpr SetCondition kNX{.nx = true, .xx = false, .gt = false};
constexpr SetCondition kXX{.nx = false, .xx = true, .gt = false};
constexpr SetCondition kGT{.nx = false, .xx = false, .gt = true};
constexpr SetCondition kXXGT{.nx = false, .xx = true, .gt = true};
}  // namespace

TEST_CASE("LIMIT.SET NX: only if the key has no definition of its own", "[set][nx]") {
  Fixture f(T);
  CHECK(SetIf(f.engine, "k", Quota(10), kNX));
  CHECK(Take(f.engine, "k", 3).allowed);
  CHECK_FALSE(SetIf(f.engine, "k", Quota(99), kNX));
  CHECK(InfoOf(f.engine, "k").definition.hard == 10);
  CHECK(Used(f.engine, "k") == 3);
  SetOk(f.engine, "o/*", Quota(5));
  CHECK(SetIf(f.engine, "o/u", Quota(7), kNX));  // only a default applied
  CHECK(InfoOf(f.engine, "o/u").source == "own");
}

TEST_CASE("LIMIT.SET XX: only if the key has a definition", "[set][xx]") {
  Fixture f(T);
  CHECK_FALSE(SetIf(f.engine, "k", Quota(10), kXX));
  CHECK_FALSE(HasDefinition(f.engine, "k"));
  CHECK(f.engine.Size() == 0u);
  SetOk(f.engine, "k", Quota(10));
  CHECK(Take(f.engine, "k", 3).allowed);
  CHECK(SetIf(f.engine, "k", Quota(20), kXX));
  CHECK(InfoOf(f.engine, "k").definition.hard == 20);
  CHECK(Used(f.engine, "k") == 3);
  SetOk(f.engine, "o/*", Quota(5));
  CHECK(Take(f.engine, "o/u", 1).allowed);  // materialized, no own definition
  CHECK_FALSE(SetIf(f.engine, "o/u", Quota(7), kXX));
  CHECK(InfoOf(f.engine, "o/u").source == "o/*");
}

TEST_CASE("LIMIT.SET GT: only if the new hard limit is greater", "[set][gt]") {
  Fixture f(T);
  CHECK(SetIf(f.engine, "k", Quota(10), kGT));  // no definition: set
  CHECK(Take(f.engine, "k", 4).allowed);
  CHECK_FALSE(SetIf(f.engine, "k", Quota(5), kGT));
  CHECK_FALSE(SetIf(f.engine, "k", Quota(10), kGT));
  CHECK(InfoOf(f.engine, "k").definition.hard == 10);
  CHECK(SetIf(f.engine, "k", Quota(11), kGT));
  CHECK(InfoOf(f.engine, "k").definition.hard == 11);
  CHECK(Used(f.engine, "k") == 4);
  CHECK(SetIf(f.engine, "k", Quota(std::nullopt), kGT));  // unlimited > any number
  CHECK(InfoOf(f.engine, "k").definition.hard == kNil);
  CHECK_FALSE(SetIf(f.engine, "k", Quota(kMax), kGT));
  CHECK(InfoOf(f.engine, "k").definition.hard == kNil);
  CHECK(Used(f.engine, "k") == 4);

  SetOk(f.engine, "o/*", Quota(100));
  CHECK(SetIf(f.engine, "o/u", Quota(5), kGT));  // compares with its own definition only
  CHECK(InfoOf(f.engine, "o/u").definition.hard == 5);

  CHECK_FALSE(SetIf(f.engine, "new", Quota(5), kXXGT));
  CHECK_FALSE(HasDefinition(f.engine, "new"));
  CHECK_FALSE(SetIf(f.engine, "o/u", Quota(4), kXXGT));
  CHECK(SetIf(f.engine, "o/u", Quota(6), kXXGT));
  CHECK(InfoOf(f.engine, "o/u").definition.hard == 6);
}

TEST_CASE("LIMIT.GET: the resolved definition", "[set][get]") {
  Fixture f(T);
  SetOk(f.engine, "q", Quota(10));
  LimitInfo q = InfoOf(f.engine, "q");
  CHECK(q.definition.kind == Kind::kQuota);
  CHECK(q.definition.hard == 10);
  CHECK(q.definition.soft == kNil);
  CHECK(q.definition.unit == "requests");
  CHECK(q.definition.period == None());
  CHECK(q.definition.anchor_ms == T);
  CHECK(q.definition.renewable);
  CHECK(q.definition.valid_until_ms == kNil);
  CHECK_FALSE(q.cancelled);
  CHECK(q.source == "own");

  LimitDefinition full = WithSoft(AnchoredQuota(500, Monthly(), k2024_01_31), 400);
  full.unit = "tokens";
  full.valid_until_ms = k2024_04_30;
  full.renewable = false;
  SetOk(f.engine, "full", full);
  CHECK(InfoOf(f.engine, "full").definition == full);

  SetOk(f.engine, "w", Window(5, kMinute));
  LimitInfo w = InfoOf(f.engine, "w");
  CHECK(w.definition.kind == Kind::kWindow);
  CHECK(w.definition.window_ms == kMinute);
  CHECK(w.definition.hard == 5);

  auto none = f.engine.Get("missing");
  REQUIRE(none.ok());
  CHECK_FALSE(none->has_value());
}

TEST_CASE("Set replaces the whole definition: options left out take their defaults",
          "[set]") {
  Fixture f(T);
  LimitDefinition d = WithSoft(Quota(10, Daily()), 5);
  d.unit = "tokens";
  d.valid_until_ms = k2024_04_30;
  SetOk(f.engine, "k", d);
  CHECK(Take(f.engine, "k", 3).allowed);
  SetOk(f.engine, "k", Quota(10, Daily()));
  LimitInfo info = InfoOf(f.engine, "k");
  CHECK(info.definition.soft == kNil);
  CHECK(info.definition.unit == "requests");
  CHECK(info.definition.valid_until_ms == kNil);
  CHECK(Used(f.engine, "k") == 3);
}

TEST_CASE("LIMIT.DEL and FLUSHALL", "[set][delete]") {
  Fixture f(T);
  SetOk(f.engine, "a", Quota(10));
  SetOk(f.engine, "b", Quota(10));
  CHECK(Take(f.engine, "a", 5).allowed);
  CHECK(Del(f.engine, {"a"}) == 1);
  CHECK_FALSE(HasDefinition(f.engine, "a"));
  auto r = f.engine.Consume("a", 1);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::kNoLimit);
  CHECK(Del(f.engine, {"a"}) == 0);
  SetOk(f.engine, "a", Quota(10));
  CHECK(Used(f.engine, "a") == 0);  // usage went with the definition
  CHECK(f.engine.Size() == 2u);
  f.engine.Clear();
  CHECK(f.engine.Size() == 0u);
  CHECK(ScanAll(f.engine).empty());
  CHECK_FALSE(HasDefinition(f.engine, "b"));
}

TEST_CASE("LIMIT.SET GT on a bucket compares capacities", "[set][gt][bucket]") {
  Fixture f(T);
  SetOk(f.engine, "b", Bucket(10, kSecond));
  CHECK(SetIf(f.engine, "b", Bucket(20, kSecond), kGT));
  CHECK_FALSE(SetIf(f.engine, "b", Bucket(5, kSecond, 15), kGT));
  CHECK(InfoOf(f.engine, "b").definition.hard == 20);
  CHECK(SetIf(f.engine, "b", Bucket(5, kSecond, 25), kGT));
  CHECK(InfoOf(f.engine, "b").definition.hard == 25);
}

TEST_CASE("re-SET of windows and buckets: what keeps the usage", "[set][window][bucket]") {
  Fixture f(T);
  SECTION("window: hard and soft keep it, another length starts afresh") {
    SetOk(f.engine, "w", Window(5, kMinute));
    CHECK(Take(f.engine, "w", 3).allowed);
    SetOk(f.engine, "w", Window(10, kMinute));
    CHECK_REPLY(Take(f.engine, "w", 0), true, 7, 10, 0, 61'000, "w");
    SetOk(f.engine, "w", WithSoft(Window(10, kMinute), 2));
    CHECK(UsageOf(f.engine, "w").soft_reached);
    CHECK(Used(f.engine, "w") == 3);
    SetOk(f.engine, "w", Window(10, 2 * kMinute));
    CHECK(Used(f.engine, "w") == 0);
  }
  SECTION("bucket: burst keeps it, another rate starts afresh") {
    SetOk(f.engine, "b", Bucket(10, kSecond));
    CHECK(Take(f.engine, "b", 10).allowed);
    SetOk(f.engine, "b", Bucket(10, kSecond, 20));
    UsageReport u = UsageOf(f.engine, "b");
    CHECK(u.consumed == 10);
    CHECK(u.remaining == 10);
    CHECK_REPLY(Take(f.engine, "b", 10), true, 0, 20, 0, 2000, "b");
    SetOk(f.engine, "b", Bucket(20, kSecond, 20));
    CHECK(Used(f.engine, "b") == 0);
    CHECK(Take(f.engine, "b", 20).allowed);
    SetOk(f.engine, "b", Bucket(20, 2 * kSecond, 20));
    CHECK(Used(f.engine, "b") == 0);
  }
}
