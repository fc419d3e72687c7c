// Copyright limiterd authors.
// Loading large batches of change records (a snapshot's shard images):
// every key comes back with its own definition, cancellation and usage,
// with more distinct definitions in one batch than the loader's cache of
// recent Specs holds, and into an engine that already has keys.
#include "test_util.h"

using namespace lt;  // NOLINT

namespace {

constexpr int64_t T = k2024_02_29_1345;

// 20 plans (more than the loader keeps at hand), some cancelled, some
// with usage, one raised so its epoch moved on.
void Fill(Engine& e, int keys) {
  for (int i = 0; i < keys; ++i) {
    std::string key = "user:" + std::to_string(i);
    SetOk(e, key, Quota(100 + i % 20, i % 3 == 0 ? Monthly() : Daily()));
    if (i % 5 == 0) REQUIRE(e.Cancel(key).ok());
    if (i % 2 == 0) Take(e, key, i % 7 + 1);
    if (i % 11 == 0) SetOk(e, key, Quota(100 + i % 20, Weekly()));  // usage starts afresh
  }
}

// Every key "user:<i>" of `a` reads the same in `b`.
void RequireSame(const Engine& a, const Engine& b, int keys) {
  for (int i = 0; i < keys; ++i) {
    std::string key = "user:" + std::to_string(i);
    CAPTURE(key);
    LimitInfo x = InfoOf(a, key), y = InfoOf(b, key);
    REQUIRE(x.definition == y.definition);
    REQUIRE(x.cancelled == y.cancelled);
    REQUIRE(Describe(UsageOf(a, key)) == Describe(UsageOf(b, key)));
  }
}

}  // namespace

TEST_CASE("load: a large image rebuilds every key", "[load][changes]") {
  constexpr int kKeys = 3000;
  Fixture source(T);
  Fill(source.engine, kKeys);
  std::string image = ImageOf(source.engine);

  // One shard: the whole image is one large batch.
  Engine one(EngineOptions{"/", &source.clock, 1});
  REQUIRE(one.ApplyChanges(image).ok());
  REQUIRE(one.Size() == source.engine.Size());
  RequireSame(source.engine, one, kKeys);
  // Applied again on top of itself: nothing changes.
  REQUIRE(one.ApplyChanges(image).ok());
  REQUIRE(one.Size() == source.engine.Size());
  RequireSame(source.engine, one, kKeys);

  Engine many(EngineOptions{"/", &source.clock, 8});
  REQUIRE(many.ApplyChanges(image).ok());
  REQUIRE(many.Size() == source.engine.Size());
  RequireSame(source.engine, many, kKeys);

  // Usage goes on from the loaded state.
  CHECK(Take(many, "user:2", 1).allowed);
  CHECK(Used(many, "user:2") == Used(source.engine, "user:2") + 1);
}

TEST_CASE("load: a large batch into an engine with keys of its own", "[load][changes]") {
  constexpr int kKeys = 1000;
  Fixture source(T);
  Fill(source.engine, kKeys);
  std::string image = ImageOf(source.engine);

  Fixture target(T);
  SetOk(target.engine, "other:1", Quota(5));
  Take(target.engine, "other:1", 2);
  SetOk(target.engine, "user:1", Quota(1));  // replaced by the image's
  REQUIRE(target.engine.ApplyChanges(image).ok());
  RequireSame(source.engine, target.engine, kKeys);
  CHECK(Used(target.engine, "other:1") == 2);
  CHECK(target.engine.Size() == source.engine.Size() + 1);
}
