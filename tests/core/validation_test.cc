// Copyright limiterd authors.
// SPEC 3 LIMIT.SET errors; decision 14: bad definitions are rejected with
// kInvalidArgument and change nothing.
#include "test_util.h"

using namespace lt;  // NOLINT

namespace {
constexpr int64_t T = k2024_02_29_12;  // 2024-02-29 12:00 UTC

struct Bad {
  const char* what;
  LimitDefinition def;
  SetCondition cond;
};

LimitDefinition With(LimitDefinition d, void (*edit)(LimitDefinition&)) {
  edit(d);
  return d;
}

std::vector<Bad> BadDefinitions() {
  std::vector<Bad> v;
  auto add = [&](const char* what, LimitDefinition d, SetCondition c = {}) {
    v.push_back(Bad{what, std::move(d), c});
  };
  add("soft > hard", WithSoft(Quota(10), 11));
  add("negative hard", Quota(-1));
  add("negative soft", WithSoft(Quota(10), -1));
  add("negative soft, unlimited hard", WithSoft(Quota(std::nullopt), -1));
  add("window_ms 0", Window(5, 0));
  add("window_ms negative", Window(5, -1000));
  add("duration 0", Quota(10, Every(0)));
  add("duration negative", Quota(10, Every(-kMinute)));
  add("rate 0", Bucket(0, kSecond));
  add("rate negative", Bucket(-10, kSecond));
  add("rate_per_ms 0", Bucket(10, 0));
  add("rate_per_ms negative", Bucket(10, -kSecond));
  add("burst 0", Bucket(10, kSecond, 0));
  add("burst negative", Bucket(10, kSecond, -5));
  add("bucket hard != rate", With(Bucket(10, kSecond), [](LimitDefinition& d) { d.hard = 5; }));
  add("bucket hard != burst",
      With(Bucket(10, kSecond, 20), [](LimitDefinition& d) { d.hard = 10; }));
  add("bucket soft > capacity", WithSoft(Bucket(10, kSecond), 11));
  add("NORENEW on a window", NoRenew(Window(5, kMinute)));
  add("NORENEW on a bucket", NoRenew(Bucket(10, kSecond)));
  add("empty unit", With(Quota(10), [](LimitDefinition& d) { d.unit = ""; }));
  add("blank unit", With(Quota(10), [](LimitDefinition& d) { d.unit = "   "; }));
  add("tab unit", With(Quota(10), [](LimitDefinition& d) { d.unit = "\t"; }));
  add("unit of 65 bytes", With(Quota(10), [](LimitDefinition& d) { d.unit = std::string(65, 'x'); }));
  add("NX with XX", Quota(10), SetCondition{.nx = true, .xx = true, .gt = false});
  add("NX with GT", Quota(10), SetCondition{.nx = true, .xx = false, .gt = true});
  add("NX with XX and GT", Quota(10), SetCondition{.nx = true, .xx = true, .gt = true});
  return v;
}
}  // namespace

TEST_CASE("bad definitions: kInvalidArgument and no change", "[validation]") {
  Fixture f(T);
  SetOk(f.engine, "k", WithSoft(Quota(10, Daily()), 8));
  CHECK(Take(f.engine, "k", 3).allowed);
  SetOk(f.engine, "org/*", Quota(10, Daily()));
  CHECK(Take(f.engine, "org/u", 4).allowed);
  const LimitInfo k_before = InfoOf(f.engine, "k");
  const UsageReport k_usage = UsageOf(f.engine, "k");
  const LimitInfo d_before = InfoOf(f.engine, "org/*");
  const UsageReport u_usage = UsageOf(f.engine, "org/u");
  const size_t size = f.engine.Size();

  for (const Bad& bad : BadDefinitions()) {
    for (std::string_view key : {"k", "fresh", "org/*", "org/u", "org/v", "*"}) {
      INFO(bad.what << " on '" << key << "'");
      auto r = f.engine.Set(key, bad.def, bad.cond);
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().code == ErrorCode::kInvalidArgument);
      CHECK_FALSE(r.error().message.empty());
    }
    INFO(bad.what);
    CHECK(f.engine.Size() == size);
    LimitInfo k_after = InfoOf(f.engine, "k");
    CHECK(k_after.definition == k_before.definition);
    CHECK(k_after.source == k_before.source);
    CHECK_SAME_USAGE(UsageOf(f.engine, "k"), k_usage);
    CHECK(InfoOf(f.engine, "org/*").definition == d_before.definition);
    CHECK_SAME_USAGE(UsageOf(f.engine, "org/u"), u_usage);
    CHECK(InfoOf(f.engine, "org/u").source == "org/*");
    CHECK_FALSE(HasDefinition(f.engine, "fresh"));
    CHECK_FALSE(HasDefinition(f.engine, "*"));
  }
}

TEST_CASE("edge definitions that are accepted", "[validation]") {
  Fixture f(T);
  SetOk(f.engine, "unit64",
        With(Quota(10), [](LimitDefinition& d) { d.unit = std::string(64, 'u'); }));
  CHECK(UsageOf(f.engine, "unit64").unit == std::string(64, 'u'));
  SetOk(f.engine, "norenew-none", NoRenew(Quota(10)));
  CHECK_FALSE(UsageOf(f.engine, "norenew-none").renewable);
  SetOk(f.engine, "zero", Quota(0));
  SetOk(f.engine, "soft=hard", WithSoft(Quota(10), 10));
  SetOk(f.engine, "soft0", WithSoft(Quota(10), 0));
  SetOk(f.engine, "unlimited", Quota(std::nullopt));
  SetOk(f.engine, "unlimited-soft", WithSoft(Quota(std::nullopt), 1000));
  SetOk(f.engine, "bucket-hard",
        With(Bucket(10, kSecond, 20), [](LimitDefinition& d) { d.hard = 20; }));
  SetOk(f.engine, "usd", With(Quota(100), [](LimitDefinition& d) { d.unit = "usd"; }));
  SetOk(f.engine, "1ms", Quota(1, Every(1)));
  CHECK(f.engine.Size() == 10u);
}

TEST_CASE("bad amounts change nothing", "[validation][consume]") {
  Fixture f(T);
  SetOk(f.engine, "k", Quota(10));
  CHECK(Take(f.engine, "k", 2).allowed);
  const UsageReport before = UsageOf(f.engine, "k");
  auto c = f.engine.Consume("k", -1);
  REQUIRE_FALSE(c.ok());
  CHECK(c.error().code == ErrorCode::kInvalidArgument);
  auto d = f.engine.Consume("k", -1, ConsumeOptions{.force = false, .dry_run = true});
  REQUIRE_FALSE(d.ok());
  CHECK(d.error().code == ErrorCode::kInvalidArgument);
  auto r = f.engine.Refund("k", -5);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::kInvalidArgument);
  CHECK_SAME_USAGE(UsageOf(f.engine, "k"), before);
}
