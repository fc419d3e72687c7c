// Copyright limiterd authors.
// limiterd/changes.h: what the engine records is enough to rebuild it.
//  - replay: an engine fed every change record of another, in order, ends
//    in the same state (USAGE.GET and LIMIT.GET of every key, now and
//    later), whatever the clock says at replay; twice in a row changes
//    nothing more;
//  - snapshot: the image is the state at the cut, however the engine
//    changes while it is read, and image + the records after the cut
//    rebuild the final state, with threads consuming meanwhile;
//  - malformed records are refused, never crash, and change nothing.
#include <atomic>
#include <mutex>
#include <random>
#include <thread>

#include "test_util.h"

using namespace lt;  // NOLINT

namespace {

constexpr int64_t T0 = k2024_02_29_12;

class Recorder final : public ChangeSink {
 public:
  void Record(std::string_view changes) override {
    std::lock_guard lock(mu_);
    records_.emplace_back(changes);
  }
  std::vector<std::string> Take() {
    std::lock_guard lock(mu_);
    return std::move(records_);
  }
  size_t size() {
    std::lock_guard lock(mu_);
    return records_.size();
  }

 private:
  std::mutex mu_;
  std::vector<std::string> records_;
};

std::vector<std::string> AllKeys(const Engine& e) {
  std::vector<std::string> keys;
  uint64_t cursor = 0;
  do {
    ScanPage page = e.Scan(cursor, 100);
    keys.insert(keys.end(), page.keys.begin(), page.keys.end());
    cursor = page.next_cursor;
  } while (cursor != 0);
  return keys;
}

// What a client can see of `key`: its definition and its usage report.
std::string Describe(const Engine& e, const std::string& key) {
  std::ostringstream s;
  auto info = e.Get(key);
  REQUIRE(info.ok());
  if (*info) {
    const LimitDefinition& d = (*info)->definition;
    s << "def kind=" << static_cast<int>(d.kind) << " hard=" << d.hard.value_or(-1)
      << " soft=" << d.soft.value_or(-1) << " unit=" << d.unit
      << " period=" << PeriodName(d.period) << " anchor=" << d.anchor_ms.value_or(-1)
      << " renew=" << d.renewable << " until=" << d.valid_until_ms.value_or(-1)
      << " window=" << d.window_ms << " rate=" << d.rate << "/" << d.rate_per_ms
      << " burst=" << d.burst.value_or(-1) << " cancelled=" << (*info)->cancelled
      << " source=" << (*info)->source;
  }
  if (key.find('*') == std::string::npos) {
    auto usage = e.Usage(key);
    REQUIRE(usage.ok());
    if (*usage) {
      const UsageReport& u = **usage;
      s << " | status=" << StatusName(u.status) << " consumed=" << u.consumed
        << " remaining=" << u.remaining.value_or(-1) << " start=" << u.period_start_ms
        << " resets=" << u.resets_at_ms.value_or(-1) << " source=" << u.source;
    }
  }
  return s.str();
}

// Both engines read `clock`; compares every key of either, at now and at
// later times (window rings and bucket debts show there).
void RequireSameState(const Engine& a, const Engine& b, AdjustableClock& clock) {
  std::set<std::string> keys;
  for (auto& k : AllKeys(a)) keys.insert(k);
  for (auto& k : AllKeys(b)) keys.insert(k);
  int64_t now = clock.NowMs();
  for (int64_t later : {int64_t{0}, 700 * int64_t{1}, 20 * kSecond, 2 * kMinute, 40 * kDay}) {
    clock.Set(now + later);
    for (const std::string& key : keys) {
      INFO("key " << key << " at now+" << later);
      REQUIRE(Describe(a, key) == Describe(b, key));
    }
  }
  clock.Set(now);
}

LimitDefinition RandomDefinition(std::mt19937_64& rng) {
  LimitDefinition d;
  switch (rng() % 6) {
    case 0: d = Quota(50 + static_cast<int64_t>(rng() % 100)); break;
    case 1: d = Quota(100, Monthly()); break;
    case 2: d = WithSoft(Quota(30, Every(10 * kSecond)), 20); break;
    case 3: d = Window(40, kMinute); break;
    case 4: d = Bucket(10, kSecond, 20); break;
    default: d = Quota(std::nullopt); d.unit = "tokens"; break;
  }
  if (rng() % 10 == 0) d.valid_until_ms = T0 + 5 * kMinute;
  return d;
}

// A random operation over a small hierarchy with defaults.
void RandomOp(Engine& e, std::mt19937_64& rng, AdjustableClock* clock) {
  static const char* kKeys[] = {"org:a", "org:a/p:1", "org:a/p:2", "org:a/p:1/u:1",
                                "org:a/p:1/u:2", "org:b", "org:b/u:9", "org:c/x"};
  static const char* kDefaults[] = {"org:a/*", "org:a/p:1/*", "*", "org:b/*"};
  std::string key = kKeys[rng() % std::size(kKeys)];
  int op = static_cast<int>(rng() % 100);
  if (op < 50) {
    ConsumeOptions o;
    o.force = rng() % 8 == 0;
    (void)e.Consume(key, static_cast<int64_t>(rng() % 7), o);
  } else if (op < 60) {
    (void)e.Refund(key, static_cast<int64_t>(rng() % 5));
  } else if (op < 72) {
    (void)e.Set(key, RandomDefinition(rng));
  } else if (op < 80) {
    (void)e.Set(kDefaults[rng() % std::size(kDefaults)], RandomDefinition(rng));
  } else if (op < 84) {
    (void)e.Cancel(rng() % 2 ? key : std::string(kDefaults[rng() % std::size(kDefaults)]));
  } else if (op < 88) {
    std::string_view k = rng() % 3 ? std::string_view(key) : kDefaults[rng() % std::size(kDefaults)];
    (void)e.Delete(std::span<const std::string_view>(&k, 1));
  } else if (op < 92) {
    (void)e.ResetUsage(key);
  } else if (op < 93) {
    if (rng() % 4 == 0) e.Clear();
  } else if (op < 95) {
    (void)e.DropIdleCounters(3);
  } else if (clock != nullptr) {
    clock->Advance(static_cast<int64_t>(rng() % 20'000));  // windows, buckets, 10s periods
  }
}

}  // namespace

TEST_CASE("changes: replaying every record rebuilds the same state", "[changes]") {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    INFO("seed " << seed);
    AdjustableClock clock(T0);
    Recorder recorder;
    Engine live(EngineOptions{"/", &clock});
    live.SetChangeSink(&recorder);
    std::mt19937_64 rng(seed);
    for (int i = 0; i < 400; ++i) RandomOp(live, rng, &clock);

    // Replayed a day later: the clock plays no part in a replay.
    AdjustableClock replay_clock(T0 + kDay);
    Engine replica(EngineOptions{"/", &replay_clock});
    std::vector<std::string> records = recorder.Take();
    REQUIRE(!records.empty());
    for (const std::string& r : records) REQUIRE(replica.ApplyChanges(r).ok());
    Engine twice(EngineOptions{"/", &replay_clock});
    for (const std::string& r : records) {
      REQUIRE(twice.ApplyChanges(r).ok());
      REQUIRE(twice.ApplyChanges(r).ok());
    }

    Engine replica_on_clock(EngineOptions{"/", &clock});
    for (const std::string& r : records) REQUIRE(replica_on_clock.ApplyChanges(r).ok());
    Engine twice_on_clock(EngineOptions{"/", &clock});
    for (const std::string& r : records) {
      REQUIRE(twice_on_clock.ApplyChanges(r).ok());
      REQUIRE(twice_on_clock.ApplyChanges(r).ok());
    }
    RequireSameState(live, replica_on_clock, clock);
    RequireSameState(live, twice_on_clock, clock);

    // The replica goes on as the original would.
    std::mt19937_64 rng_a(seed * 7), rng_b(seed * 7);
    for (int i = 0; i < 100; ++i) {
      RandomOp(live, rng_a, nullptr);
      RandomOp(replica_on_clock, rng_b, nullptr);
    }
    RequireSameState(live, replica_on_clock, clock);
  }
}

TEST_CASE("changes: long keys and large window rings survive records and snapshots",
          "[changes][snapshot]") {
  // The encoder stages bytes on the stack (256 at a time): keys longer than
  // half of that go straight to the output, and a ring of 61 large values
  // fills the stage several times over within one record.
  AdjustableClock clock(T0);
  Recorder recorder;
  Engine live(EngineOptions{"/", &clock, 4});
  live.SetChangeSink(&recorder);
  const std::string mid(100, 'm'), long_key(300, 'k'), huge(5000, 'h');
  const std::vector<std::string> roots = {"org:" + mid, "org:" + long_key, "org:" + huge};
  constexpr int64_t kBig = int64_t{1} << 50;
  for (const std::string& root : roots) {
    REQUIRE(live.Set(root, Window(4 * kBig * 70, kMinute)).ok());
    REQUIRE(live.Set(root + "/q:" + long_key, Quota(kBig * 100, Monthly())).ok());
  }
  for (int second = 0; second < 70; ++second) {
    for (const std::string& root : roots) {
      REQUIRE(live.Consume(root + "/q:" + long_key, kBig + second).ok());
    }
    clock.Advance(kSecond);
  }
  Engine replica(EngineOptions{"/", &clock, 8});
  for (const auto& r : recorder.Take()) REQUIRE(replica.ApplyChanges(r).ok());
  RequireSameState(live, replica, clock);

  Engine restored(EngineOptions{"/", &clock, 2});
  REQUIRE(restored.ApplyChanges(ImageOf(live)).ok());
  RequireSameState(live, restored, clock);
}

TEST_CASE("changes: a denied, DRYRUN or read-only call records nothing", "[changes]") {
  AdjustableClock clock(T0);
  Recorder recorder;
  Engine e(EngineOptions{"/", &clock});
  e.SetChangeSink(&recorder);
  REQUIRE(*e.Set("org", Quota(5)));
  REQUIRE(recorder.size() == 1);
  REQUIRE(e.Consume("org", 6)->allowed == false);
  ConsumeOptions dry;
  dry.dry_run = true;
  REQUIRE(e.Consume("org", 1, dry)->allowed);
  REQUIRE(e.Consume("org", 0)->allowed);  // a peek
  (void)e.Usage("org");
  (void)e.Get("org");
  REQUIRE(recorder.size() == 1);
  REQUIRE(e.Consume("org", 2)->allowed);
  REQUIRE(recorder.size() == 2);
  e.SetChangeSink(nullptr);
  REQUIRE(e.Consume("org", 1)->allowed);
  REQUIRE(recorder.size() == 2);
}

TEST_CASE("changes: a snapshot is the state at its cut", "[changes][snapshot]") {
  AdjustableClock clock(T0);
  Recorder recorder;
  Engine live(EngineOptions{"/", &clock, 16});
  live.SetChangeSink(&recorder);
  std::mt19937_64 rng(99);
  for (int i = 0; i < 600; ++i) RandomOp(live, rng, &clock);

  // The state at the cut, kept in a replica fed the same records.
  Engine at_cut(EngineOptions{"/", &clock, 16});
  size_t records_at_cut = 0;
  auto snapshot = live.StartSnapshot([&] { records_at_cut = recorder.size(); });
  REQUIRE(snapshot.ok());
  REQUIRE(!live.StartSnapshot().ok());  // one at a time
  std::vector<std::string> records = recorder.Take();
  REQUIRE(records.size() == records_at_cut);
  for (const auto& r : records) REQUIRE(at_cut.ApplyChanges(r).ok());

  // Read half, change everything, read the rest.
  std::string image;
  for (int i = 0; i < 8; ++i) REQUIRE((*snapshot)->Next(image));
  for (int i = 0; i < 600; ++i) RandomOp(live, rng, nullptr);
  while ((*snapshot)->Next(image)) {
  }
  REQUIRE((*snapshot)->entries() > 0);
  Engine restored(EngineOptions{"/", &clock, 64});  // any shard count
  REQUIRE(restored.ApplyChanges(image).ok());
  RequireSameState(at_cut, restored, clock);

  // Image + the records after the cut = now.
  for (const auto& r : recorder.Take()) REQUIRE(restored.ApplyChanges(r).ok());
  RequireSameState(live, restored, clock);
  snapshot->reset();
  REQUIRE(live.StartSnapshot().ok());  // closed: another may start
}

TEST_CASE("changes: a snapshot of counters under many defaults in one shard",
          "[changes][snapshot]") {
  // One org, so one shard; more projects than the encoder remembers
  // parents (16), each with a default of its own, their users charged in
  // an interleaved order: every counter must be written under its own
  // project's default, whatever came before it.
  AdjustableClock clock(T0);
  Engine live(EngineOptions{"/", &clock, 4});
  std::mt19937_64 rng(7);
  constexpr int kProjects = 40;
  for (int p = 0; p < kProjects; ++p) {
    const std::string project = "org:a/project:" + std::to_string(p);
    LimitDefinition d = p % 3 == 0 ? Window(1000 + p, kMinute) : Quota(1000 + p);
    if (p % 5 == 0) d = Bucket(100 + p, kSecond, 200 + p);
    REQUIRE(*live.Set(project + "/*", d));
    if (p % 4 == 0) REQUIRE(*live.Set(project, Quota(5000)));
  }
  for (int i = 0; i < 3000; ++i) {
    const int p = static_cast<int>(rng() % kProjects);
    const std::string user = "org:a/project:" + std::to_string(p) + "/user:" +
                             std::to_string(rng() % 25);
    REQUIRE(live.Consume(user, 1 + static_cast<int64_t>(rng() % 3)).ok());
  }
  auto snapshot = live.StartSnapshot();
  REQUIRE(snapshot.ok());
  std::string image;
  while ((*snapshot)->Next(image)) {
  }
  Engine restored(EngineOptions{"/", &clock, 16});
  REQUIRE(restored.ApplyChanges(image).ok());
  REQUIRE(AllKeys(restored).size() == AllKeys(live).size());
  RequireSameState(live, restored, clock);
}

TEST_CASE("changes: snapshot + later records while threads consume", "[changes][snapshot]") {
  AdjustableClock clock(T0);
  Recorder recorder;
  Engine live(EngineOptions{"/", &clock, 64});
  live.SetChangeSink(&recorder);
  REQUIRE(*live.Set("*", Quota(1'000'000)));
  REQUIRE(*live.Set("org:0/*", Window(1'000'000, kMinute)));
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(static_cast<uint64_t>(t));
      for (int i = 0; i < 20'000 && !stop.load(); ++i) {
        std::string key = "org:" + std::to_string(rng() % 40) + "/u:" + std::to_string(rng() % 5);
        (void)live.Consume(key, 1 + static_cast<int64_t>(rng() % 3));
        if (i % 50 == 0) (void)live.Refund(key, 1);
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  size_t cut = 0;
  auto snapshot = live.StartSnapshot([&] { cut = recorder.size(); });
  REQUIRE(snapshot.ok());
  std::string image;
  while ((*snapshot)->Next(image)) {
  }
  for (auto& th : threads) th.join();
  std::vector<std::string> records = recorder.Take();
  REQUIRE(cut <= records.size());
  Engine restored(EngineOptions{"/", &clock, 64});
  REQUIRE(restored.ApplyChanges(image).ok());
  for (size_t i = cut; i < records.size(); ++i) REQUIRE(restored.ApplyChanges(records[i]).ok());
  RequireSameState(live, restored, clock);
}

TEST_CASE("changes: malformed records are refused and change nothing", "[changes]") {
  AdjustableClock clock(T0);
  Recorder recorder;
  Engine e(EngineOptions{"/", &clock});
  e.SetChangeSink(&recorder);
  REQUIRE(*e.Set("org", Quota(100, Monthly())));
  REQUIRE(*e.Set("org/*", Window(10, kMinute)));
  REQUIRE(*e.Set("b", Bucket(5, kSecond)));
  REQUIRE(e.Consume("org/u", 3)->allowed);
  REQUIRE(e.Consume("b", 2)->allowed);
  std::string all;
  for (const auto& r : recorder.Take()) all += r;

  // Every prefix: applies or is refused, never crashes; a refused one
  // leaves an empty engine.
  for (size_t n = 0; n < all.size(); ++n) {
    Engine target(EngineOptions{"/", &clock});
    auto r = target.ApplyChanges(std::string_view(all).substr(0, n));
    if (!r.ok()) REQUIRE(target.Size() == 0);
  }
  // Every byte flipped: never crashes (ASan/UBSan watch), and an error
  // names a byte offset.
  size_t refused = 0;
  for (size_t i = 0; i < all.size(); ++i) {
    for (uint8_t mask : {0x01, 0x80, 0xff}) {
      std::string bad = all;
      bad[i] = static_cast<char>(bad[i] ^ mask);
      Engine target(EngineOptions{"/", &clock});
      auto r = target.ApplyChanges(bad);
      if (!r.ok()) {
        ++refused;
        REQUIRE(!r.error().message.empty());
      } else {
        (void)target.Consume("org/u", 1);  // whatever it holds stays usable
        (void)target.Usage("b");
      }
    }
  }
  REQUIRE(refused > 0);
  Engine target(EngineOptions{"/", &clock});
  auto r = target.ApplyChanges(std::string("\x09", 1));
  REQUIRE(!r.ok());
  REQUIRE(r.error().message.find("unknown change tag at byte 1") != std::string::npos);
}

TEST_CASE("changes: a path's levels write each key as what it shares with the one before",
          "[changes]") {
  AdjustableClock clock(T0);
  Recorder recorder;
  Engine live(EngineOptions{"/", &clock});
  const std::string org = "org:acme", project = org + "/project:web",
                    user = project + "/user:42";
  live.SetChangeSink(&recorder);
  REQUIRE(*live.Set(org, Quota(1000, Monthly())));
  REQUIRE(*live.Set(project, Quota(500, Monthly())));
  REQUIRE(*live.Set(user, Quota(100, Monthly())));
  const std::vector<std::string> definitions = recorder.Take();
  REQUIRE(live.Consume(user, 7)->allowed);
  REQUIRE(*live.Refund(user, 2) == 5);
  std::vector<std::string> records = recorder.Take();
  REQUIRE(records.size() == 2);
  for (const std::string& r : records) {
    INFO("record of " << r.size() << " bytes");
    // The leaf comes first, whole; its ancestors are its prefixes, a
    // shared length and an empty rest each. Three whole keys and their
    // states took 107 bytes here.
    CHECK(r.find(user) != std::string::npos);
    CHECK(r.find(org, r.find(org) + 1) == std::string::npos);
    CHECK(r.size() < user.size() + 3 * 20);
  }
  // Both records in one group (as a MULTI/EXEC writes them): the second
  // one's first key is written whole, not against the first's last.
  Engine replica(EngineOptions{"/", &clock});
  for (const std::string& r : definitions) REQUIRE(replica.ApplyChanges(r).ok());
  REQUIRE(replica.ApplyChanges(records[0] + records[1]).ok());
  RequireSameState(live, replica, clock);

  SECTION("a shared key with no key before it, or sharing more than it has, is refused") {
    // The second record starts with its tag and kSharedKey, the length
    // the project's key shares with the user's, and an empty rest.
    const std::string second{static_cast<char>(0x80 | 3), static_cast<char>(project.size()), 0};
    const size_t at = records[0].find(second);
    REQUIRE(at != std::string::npos);
    Engine target(EngineOptions{"/", &clock});
    auto alone = target.ApplyChanges(std::string_view(records[0]).substr(at));
    REQUIRE_FALSE(alone.ok());
    CHECK(alone.error().message.find("a key shares more than the key before it has at byte") !=
          std::string::npos);
    std::string longer = records[0];
    longer[at + 1] = static_cast<char>(user.size() + 1);
    auto too_long = target.ApplyChanges(longer);
    REQUIRE_FALSE(too_long.ok());
    CHECK(too_long.error().message.find("a key shares more than the key before it has") !=
          std::string::npos);
    CHECK(target.Size() == 0);
  }
  SECTION("a shared key on an erase or a clear is refused") {
    for (char tag : {'\x82', '\x87'}) {
      Engine target(EngineOptions{"/", &clock});
      auto r = target.ApplyChanges(records[0] + std::string{tag, 1, 0});
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().message.find("a shared key on a record without an epoch") != std::string::npos);
      CHECK(target.Size() == 0);
    }
  }
}

TEST_CASE("changes: a counting sink gets one empty record per changing call", "[changes]") {
  class Counter final : public ChangeSink {
   public:
    void Record(std::string_view changes) override {
      ++calls;
      bytes += changes.size();
    }
    bool WantsRecords() const override { return false; }
    int calls = 0;
    size_t bytes = 0;
  };
  AdjustableClock clock(T0);
  Counter counter;
  Engine e(EngineOptions{"/", &clock});
  e.SetChangeSink(&counter);
  REQUIRE(*e.Set("org", Quota(5)));
  REQUIRE(*e.Set("org/*", Window(3, kMinute)));
  REQUIRE(e.Consume("org/u", 2)->allowed);
  REQUIRE_FALSE(e.Consume("org/u", 9)->allowed);  // denied: nothing
  REQUIRE(*e.Refund("org/u", 1) == 1);
  std::string_view none = "nothing-here";
  REQUIRE(*e.Delete(std::span<const std::string_view>(&none, 1)) == 0);  // nothing
  REQUIRE(counter.calls == 4);
  REQUIRE(counter.bytes == 0);
}
