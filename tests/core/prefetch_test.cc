// Copyright limiterd authors.
// Engine::Prefetch is a cache hint: whatever the keys (present, missing,
// defaults, inline or heap, erased since), it changes nothing any call
// sees, never waits for a lock (inside an AtomicSection it skips the held
// shards), and is safe against every change other threads make meanwhile
// (the TSan and ASan builds run the last case).
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "test_util.h"

using namespace lt;  // NOLINT

namespace {

std::string UserKey(int org, int user) {
  // 12-digit ids, as bench/compare.sh's keys: every level's key is a heap
  // key, and users' counters live in their key's block.
  auto id = [](int n) {
    std::string d = std::to_string(n);
    return std::string(12 - d.size(), '0') + d;
  };
  return "org:" + id(org) + "/project:" + id(0) + "/user:" + id(user);
}

}  // namespace

TEST_CASE("Prefetch: changes nothing any call answers", "[prefetch]") {
  Engine engine;
  SetOk(engine, "org:000000000001", Quota(1000));
  SetOk(engine, "org:000000000001/project:000000000000/*", Quota(10));
  SetOk(engine, "u", Quota(5));  // an inline key
  for (int u = 0; u < 20; u += 2) Take(engine, UserKey(1, u), 3);
  Take(engine, "u", 2);

  std::vector<std::string> owned = {"u", "missing", "*", "org:000000000001/project:000000000000/*",
                                    "org:000000000001", ""};
  for (int u = 0; u < 30; ++u) owned.push_back(UserKey(1, u));  // charged, not, erased later
  std::vector<std::string_view> keys(owned.begin(), owned.end());
  engine.Prefetch(keys);
  engine.Prefetch({});  // nothing to do
  REQUIRE(engine.Delete(std::vector<std::string_view>{keys[6], keys[8]}).value() == 2);
  engine.Prefetch(keys);  // ids of erased entries

  CHECK(engine.Size() == 2 + 1 + 8);  // org, default, u, 8 users still charged
  CHECK(Used(engine, "u") == 2);
  CHECK(Used(engine, UserKey(1, 4)) == 3);
  CHECK(Used(engine, UserKey(1, 1)) == 0);   // prefetched, never charged: still fresh
  CHECK(Used(engine, UserKey(1, 0)) == 0);   // deleted: back to fresh
  CHECK(Used(engine, "org:000000000001") == 30);
  CHECK(Take(engine, UserKey(1, 4), 7).allowed);
  CHECK(!Take(engine, UserKey(1, 4), 1).allowed);  // the user default's hard 10
}

TEST_CASE("Prefetch inside an AtomicSection skips the held shards", "[prefetch]") {
  Engine engine;
  SetOk(engine, "org:a", Quota(10));
  SetOk(engine, "org:b", Quota(10));
  std::vector<std::string_view> section_keys = {"org:a"};
  auto section = engine.Atomic(section_keys);
  // It would deadlock if it waited for org:a's shard, which this thread holds.
  engine.Prefetch(std::vector<std::string_view>{"org:a", "org:b", "org:a/x"});
  CHECK(Take(engine, "org:a", 4).allowed);
  CHECK(Used(engine, "org:a") == 4);
}

TEST_CASE("Prefetch against concurrent changes", "[prefetch][concurrency]") {
  // Readers prefetch batches while writers define, charge, delete, flush and
  // drop idle counters: entries are erased and reused, tables cleared and
  // grown between Prefetch's steps.
  Engine engine;
  constexpr int kOrgs = 4, kUsers = 200;
#if defined(__SANITIZE_THREAD__)
  constexpr int kRounds = 300;
#else
  constexpr int kRounds = 2000;
#endif
  std::atomic<bool> stop{false};
  auto writer = [&](int seed) {
    for (int round = 0; round < kRounds; ++round) {
      int org = (round + seed) % kOrgs;
      if (round % 97 == 0) engine.Clear();
      (void)engine.Set(UserKey(org, 0).substr(0, 16), Quota(1'000'000));
      (void)engine.Set("org:" + std::string(12 - 1, '0') + std::to_string(org) +
                           "/project:000000000000/*",
                       Quota(1'000));
      for (int u = round % 7; u < kUsers; u += 7) (void)engine.Consume(UserKey(org, u), 1);
      for (int u = round % 11; u < kUsers; u += 11) {
        std::string key = UserKey(org, u);
        std::string_view k = key;
        (void)engine.Delete(std::span<const std::string_view>(&k, 1));
      }
      (void)engine.DropIdleCounters(64);
    }
    stop = true;
  };
  std::vector<std::string> owned;
  for (int o = 0; o < kOrgs; ++o) {
    for (int u = 0; u < kUsers; ++u) owned.push_back(UserKey(o, u));
  }
  std::atomic<uint64_t> prefetches{0};
  auto reader = [&](int seed) {
    std::vector<std::string_view> batch(16);
    size_t i = static_cast<size_t>(seed);
    while (!stop) {
      for (auto& key : batch) key = owned[(i += 7919) % owned.size()];
      engine.Prefetch(batch);
      prefetches.fetch_add(1, std::memory_order_relaxed);
    }
  };
  std::thread w1(writer, 0), w2(writer, 1), r1(reader, 1), r2(reader, 2);
  w1.join();
  w2.join();
  r1.join();
  r2.join();
  CHECK(prefetches.load() > 0);
  // The engine still answers exactly: a fresh charge on a known state.
  engine.Clear();
  SetOk(engine, "org:000000000000", Quota(5));
  CHECK(Take(engine, UserKey(0, 1), 5).allowed);
  CHECK(!Take(engine, UserKey(0, 2), 1).allowed);
}

// Prefetch leaves each key's hash for the calls that follow, found by the
// key's address (core/src/hash_hints.h). A caller may reuse its buffer in
// between: the bytes at a prefetched address, same size, are then another
// key, and the call must answer for those bytes.
TEST_CASE("Prefetch: a key's buffer reused after it still answers for its bytes",
          "[prefetch]") {
  Engine engine;
  std::string a = UserKey(1, 1), b = UserKey(1, 2), c = UserKey(2, 1);
  SetOk(engine, a, Quota(10));
  SetOk(engine, b, Quota(20));  // an own limit: found only by its own entry
  SetOk(engine, c, Quota(30));
  Take(engine, a, 1);
  Take(engine, b, 1);

  std::string buffer = a;
  std::string other = c;
  engine.Prefetch(std::vector<std::string_view>{buffer, other});
  const char* at = buffer.data();
  buffer = b;  // same size, other bytes
  REQUIRE(buffer.data() == at);
  ConsumeReply r = Take(engine, buffer, 2);
  CHECK(r.allowed);
  CHECK(r.level == b);
  CHECK(r.remaining == 17);
  CHECK(Used(engine, a) == 1);
  CHECK(Used(engine, b) == 3);
  // And a prefetched key that was missing and then made: found.
  std::string d = UserKey(3, 1);
  std::string buffer_d = d;
  engine.Prefetch(std::vector<std::string_view>{buffer_d, other});
  SetOk(engine, d, Quota(4));
  r = Take(engine, buffer_d, 4);
  CHECK(r.allowed);
  CHECK(r.remaining == 0);
  CHECK(engine.Size() == 4);
}
