// Copyright limiterd authors.
// KeyTable (core/src/key_table.h): keys inline up to 16 bytes and on the
// heap beyond, entries that never move and are reused after an erase, one
// table reference per Spec its entries point to, and counters that exist
// only once a key is charged. Then the same through the Engine: keys around
// the inline size behave as any other key, through a snapshot too.
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "key_table.h"
#include "test_util.h"

using namespace lt;  // NOLINT
using limiterd::internal::Counter;
using limiterd::internal::LevelState;
using limiterd::internal::PackedQuota;
using limiterd::internal::QuotaState;
using limiterd::internal::WindowState;
using limiterd::internal::Entry;
using limiterd::internal::KeyTable;
using limiterd::internal::SpecPtr;
using limiterd::internal::StoredKey;

namespace {

SpecPtr MakeQuotaSpec(int64_t hard, uint64_t epoch) {
  LimitDefinition d = Quota(hard);
  d.anchor_ms = 0;
  return limiterd::internal::MakeSpec(d, false, epoch);
}

// Keys of every length around the inline size, ASCII and binary.
std::vector<std::string> EdgeKeys() {
  std::vector<std::string> keys;
  for (size_t n : {0, 1, 14, 15, 16, 17, 31, 300}) keys.push_back(std::string(n, 'k'));
  keys.push_back(std::string("0123456789abcde") + '\xEE');  // 16, last byte inline-able
  keys.push_back(std::string("0123456789abcde") + '\xEF');  // 16, last byte is the heap tag
  keys.push_back(std::string("0123456789abcde") + '\xFF');  // 16, last byte an inline tag
  keys.push_back(std::string("a\0b", 3));
  keys.push_back(std::string(15, '\0'));
  keys.push_back(std::string(16, '\0'));
  return keys;
}

}  // namespace

TEST_CASE("key table: a stored key reads back as it was given", "[keytable]") {
  for (const std::string& key : EdgeKeys()) {
    CAPTURE(key.size());
    StoredKey stored;
    stored.Assign(key);
    REQUIRE(stored.view() == key);
    bool last_is_tag = key.size() == 16 && static_cast<uint8_t>(key.back()) >= 0xEF;
    REQUIRE(stored.inline_key() == (key.size() <= 16 && !last_is_tag));
    stored.Assign("short");  // frees a heap key (ASan checks)
    REQUIRE(stored.view() == "short");
    REQUIRE(stored.inline_key());
  }
}

TEST_CASE("key table: keys of every length are found, and only themselves", "[keytable]") {
  KeyTable table;
  std::vector<std::string> keys = EdgeKeys();
  for (const std::string& key : keys) table.FindOrInsert(key);
  REQUIRE(table.size() == keys.size());
  for (const std::string& key : keys) {
    CAPTURE(key.size());
    Entry* e = table.Find(key);
    REQUIRE(e != nullptr);
    REQUIRE(e->name() == key);
    REQUIRE(&table.FindOrInsert(key) == e);  // no duplicate
  }
  REQUIRE(table.size() == keys.size());
  REQUIRE(table.Find(std::string(18, 'k')) == nullptr);
  REQUIRE(table.Find(std::string(14, '\0')) == nullptr);
  REQUIRE(table.Find("a") == nullptr);
  for (const std::string& key : keys) REQUIRE(table.Erase(key));
  REQUIRE(table.size() == 0);
  for (const std::string& key : keys) REQUIRE(table.Find(key) == nullptr);
  REQUIRE(!table.Erase(keys.front()));
}

TEST_CASE("key table: entries never move, and an erased one is reused", "[keytable]") {
  KeyTable table;
  Entry* first = &table.FindOrInsert("first");
  for (int i = 0; i < 10000; ++i) table.FindOrInsert("key:" + std::to_string(i));
  REQUIRE(table.Find("first") == first);  // the index grew; the entry stayed
  REQUIRE(first->name() == "first");

  Entry* victim = table.Find("key:500");
  REQUIRE(table.Erase("key:500"));
  Entry* reused = &table.FindOrInsert("a much longer key than sixteen bytes");
  REQUIRE(reused == victim);
  REQUIRE(reused->own == nullptr);
  REQUIRE(reused->counter.empty());
  REQUIRE(reused->name() == "a much longer key than sixteen bytes");
  REQUIRE(table.size() == 10001);
  REQUIRE(table.Find("key:500") == nullptr);
  REQUIRE(table.Find("key:501") != nullptr);
}

TEST_CASE("key table: the table holds one reference per Spec in use", "[keytable]") {
  SpecPtr plan = MakeQuotaSpec(10, 1);
  SpecPtr other = MakeQuotaSpec(20, 1);
  {
    KeyTable table;
    Entry& a = table.FindOrInsert("a");
    Entry& b = table.FindOrInsert("b");
    table.SetOwn(a, plan);
    table.SetOwn(b, plan);
    REQUIRE(plan.use_count() == 2);  // ours and the table's one
    REQUIRE(a.own == plan.get());
    table.SetOwn(a, other);
    REQUIRE(plan.use_count() == 2);
    REQUIRE(other.use_count() == 2);
    REQUIRE(table.Erase("b"));
    REQUIRE(plan.use_count() == 1);  // no entry points to it any more
    table.SetOwn(a, nullptr);
    REQUIRE(a.own == nullptr);
    REQUIRE(other.use_count() == 1);
    table.SetOwn(a, plan);
    REQUIRE(plan.use_count() == 2);
  }
  REQUIRE(plan.use_count() == 1);  // released with the table
}

TEST_CASE("key table: a counter exists once charged and goes with its key", "[keytable]") {
  KeyTable table;
  Entry& e = table.FindOrInsert("user:1");
  LevelState scratch;
  REQUIRE(e.counter.empty());
  REQUIRE(e.StateAt(1, scratch) == nullptr);
  Counter& c = table.CounterOf(e);
  REQUIRE(e.counter.full() == &c);
  REQUIRE(&table.CounterOf(e) == &c);  // made once
  c.epoch = 3;
  REQUIRE(e.StateAt(3, scratch) == &c.state);
  REQUIRE(e.StateAt(2, scratch) == nullptr);  // another epoch reads as fresh
  REQUIRE(table.Erase("user:1"));
  REQUIRE(table.FindOrInsert("user:1").counter.empty());
}

TEST_CASE("key table: a heap key's counter lives in the key's block", "[keytable]") {
  // Keys of every length around the inline size and the 8-byte tail
  // alignment: the key reads the same after its counter is made, the
  // counter sits right after the key (one block to fetch), and erasing,
  // reusing and clearing free both (ASan checks the frees).
  KeyTable table;
  std::vector<std::string> keys;
  for (size_t len = 14; len <= 90; ++len) keys.push_back(std::string(len, 'k') + std::to_string(len));
  for (const std::string& key : keys) {
    Entry& e = table.FindOrInsert(key);
    Counter& c = table.CounterOf(e);
    c.epoch = key.size();
    REQUIRE(e.name() == key);
    if (e.key.inline_key()) {
      CHECK(key.size() <= StoredKey::kInline);
    } else {
      CHECK(static_cast<void*>(&c) == e.key.HeapTail());
      CHECK(reinterpret_cast<uintptr_t>(&c) % alignof(Counter) == 0);
    }
  }
  for (const std::string& key : keys) {
    Entry* e = table.Find(key);  // the index still finds every key by its bytes
    REQUIRE(e != nullptr);
    REQUIRE(e->counter.full() != nullptr);
    CHECK(e->counter.full()->epoch == key.size());
  }
  for (size_t i = 0; i < keys.size(); i += 2) REQUIRE(table.Erase(keys[i]));
  for (size_t i = 0; i < keys.size(); i += 2) {
    Entry& reused = table.FindOrInsert(keys[i] + "x");
    CHECK(reused.counter.empty());
    table.CounterOf(reused).epoch = 7;
    LevelState scratch;
    CHECK(table.Find(keys[i] + "x")->StateAt(7, scratch) != nullptr);
  }
  for (size_t i = 1; i < keys.size(); i += 2) {
    CHECK(table.Find(keys[i])->counter.full()->epoch == keys[i].size());
  }
  table.Clear();
  CHECK(table.size() == 0u);
}

// The quota `e` keeps under `epoch`, or nullopt (fresh).
std::optional<QuotaState> QuotaAt(const Entry& e, uint64_t epoch) {
  LevelState scratch;
  const LevelState* state = e.StateAt(epoch, scratch);
  if (state == nullptr) return std::nullopt;
  return std::get<QuotaState>(*state);
}

TEST_CASE("key table: a quota's state is packed in 16 bytes when it fits, exact when not", "[keytable]") {
  KeyTable table;
  Entry& e = table.FindOrInsert("user:1");
  REQUIRE(e.packs_quota());
  table.SetQuota(e, 3, QuotaState{7, 1'000'000'000'000});
  REQUIRE(e.counter.packed() != nullptr);
  LevelState scratch;
  REQUIRE(e.StateAt(3, scratch) == &scratch);  // unpacked into the caller's scratch
  CHECK(QuotaAt(e, 3)->index == 7);
  CHECK(QuotaAt(e, 3)->consumed == 1'000'000'000'000);
  CHECK(!QuotaAt(e, 2));                       // another epoch reads as fresh
  CHECK(!QuotaAt(e, 3 + (uint64_t{1} << 32)));  // not the same epoch modulo 2^32

  // Beyond 32 bits, a Counter, with every bit kept.
  const int64_t big_index = int64_t{1} << 40;  // 1 ms periods from an anchor 35 years back
  table.SetQuota(e, 3, QuotaState{big_index, 5});
  REQUIRE(e.counter.full() != nullptr);
  CHECK(QuotaAt(e, 3)->index == big_index);
  CHECK(QuotaAt(e, 3)->consumed == 5);
  table.SetQuota(e, 3, QuotaState{INT32_MIN - int64_t{1}, 6});
  REQUIRE(e.counter.full() != nullptr);
  CHECK(QuotaAt(e, 3)->index == INT32_MIN - int64_t{1});
  const uint64_t big_epoch = uint64_t{1} << 32;
  table.SetQuota(e, big_epoch, QuotaState{8, 9});
  REQUIRE(e.counter.full() != nullptr);
  CHECK(QuotaAt(e, big_epoch)->consumed == 9);
  CHECK(!QuotaAt(e, 0));

  // Back within 32 bits: packed again. The edges of int32 fit.
  table.SetQuota(e, UINT32_MAX, QuotaState{INT32_MAX, -1});
  REQUIRE(e.counter.packed() != nullptr);
  CHECK(QuotaAt(e, UINT32_MAX)->index == INT32_MAX);
  CHECK(QuotaAt(e, UINT32_MAX)->consumed == -1);
  table.SetQuota(e, 1, QuotaState{INT32_MIN, 2});
  CHECK(QuotaAt(e, 1)->index == INT32_MIN);

  // A window's state takes a Counter (the packed quota was of another
  // epoch: a new kind starts afresh), and SetState of a quota packs.
  Counter& c = table.CounterOf(e);
  REQUIRE(e.counter.full() == &c);
  CHECK(c.epoch == 0u);
  table.SetState(e, 2, WindowState{4, nullptr});
  REQUIRE(e.counter.full() == &c);
  CHECK(std::holds_alternative<WindowState>(c.state));
  CHECK(!QuotaAt(e, 1));
  table.SetState(e, 5, QuotaState{1, 2});
  REQUIRE(e.counter.packed() != nullptr);
  CHECK(QuotaAt(e, 5)->consumed == 2);

  // A heap key's quota stays a Counter, in the key's block.
  Entry& h = table.FindOrInsert(std::string(80, 'k'));
  REQUIRE(!h.packs_quota());
  table.SetQuota(h, 3, QuotaState{7, 8});
  REQUIRE(h.counter.full() != nullptr);
  CHECK(static_cast<void*>(h.counter.full()) == h.key.HeapTail());
  CHECK(QuotaAt(h, 3)->consumed == 8);
  REQUIRE(table.Erase("user:1"));  // ASan checks the frees of both kinds
  table.Clear();
}

TEST_CASE("key table: quotas whose index needs 64 bits, through the engine", "[keytable]") {
  // PERIOD 1ms anchored at 0: the period index is the time in ms, 1.7e12,
  // past 32 bits; the counters keep it exactly, through a snapshot too.
  AdjustableClock clock(k2024_02_29_12);
  Engine e(EngineOptions{"/", &clock, 4});
  SetOk(e, "ms", AnchoredQuota(10, Every(1), 0));
  SetOk(e, "ms/u", Quota(100));
  SetOk(e, "s", AnchoredQuota(10, Every(kSecond), 0));
  Take(e, "ms/u", 4);
  Take(e, "s", 3);
  CHECK(Used(e, "ms") == 4);
  CHECK(Used(e, "ms/u") == 4);
  CHECK(Used(e, "s") == 3);
  std::string image = ImageOf(e);
  Engine restored(EngineOptions{"/", &clock, 4});
  REQUIRE(restored.ApplyChanges(image).ok());
  for (Engine* engine : {&e, &restored}) {
    CHECK(Used(*engine, "ms") == 4);
    CHECK(Used(*engine, "s") == 3);
  }
  clock.Advance(1);  // the next 1 ms period; the 1 s one goes on
  for (Engine* engine : {&e, &restored}) {
    CHECK(Used(*engine, "ms") == 0);
    CHECK(Used(*engine, "ms/u") == 4);
    CHECK(Used(*engine, "s") == 3);
  }
}

TEST_CASE("key table: a sweep erases what it is told and stops when told", "[keytable]") {
  KeyTable table;
  for (int i = 0; i < 100; ++i) table.FindOrInsert("k" + std::to_string(i));
  REQUIRE(table.SweepEntries([](const Entry& e) {
    return e.name().size() == 2 ? KeyTable::Sweep::kErase : KeyTable::Sweep::kKeep;
  }));
  REQUIRE(table.size() == 90);  // k0..k9 went
  REQUIRE(table.Find("k5") == nullptr);
  REQUIRE(table.Find("k55") != nullptr);
  int seen = 0;
  REQUIRE(!table.SweepEntries([&](const Entry&) {
    return ++seen > 5 ? KeyTable::Sweep::kStop : KeyTable::Sweep::kErase;
  }));
  REQUIRE(table.size() == 85);

  // Resuming: each call visits from where the last one stopped, so three
  // calls of 40 visit all 85 once, and the third reaches the end.
  uint32_t next = 0;
  std::set<std::string> visited;
  for (int call = 0; call < 3; ++call) {
    int budget = 40;
    bool done = table.SweepEntries(next, [&](const Entry& e) {
      if (budget-- == 0) return KeyTable::Sweep::kStop;
      CHECK(visited.insert(std::string(e.name())).second);
      return KeyTable::Sweep::kKeep;
    });
    CHECK(done == (call == 2));
  }
  CHECK(visited.size() == 85u);
  CHECK(next == 0u);
  table.Clear();
  REQUIRE(table.size() == 0);
  REQUIRE(table.Find("k55") == nullptr);
}

TEST_CASE("key table: keys around the inline size through the engine", "[keytable]") {
  AdjustableClock clock(k2024_02_29_12);
  Engine e(EngineOptions{"/", &clock, 4});
  std::vector<std::string> keys;
  for (const std::string& key : EdgeKeys()) {
    if (key.empty() || key.find('/') != std::string::npos) continue;
    keys.push_back(key);
    keys.push_back(key + "/child:1");  // charged under its parent too
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    SetOk(e, keys[i], Quota(100 + static_cast<int64_t>(i)));
    Take(e, keys[i], static_cast<int64_t>(i) + 1);
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    CAPTURE(i, keys[i].size());
    bool parent = i % 2 == 0;
    // A parent was charged by itself and by its child.
    int64_t expected = static_cast<int64_t>(i) + 1 + (parent ? static_cast<int64_t>(i) + 2 : 0);
    REQUIRE(Used(e, keys[i]) == expected);
    REQUIRE(InfoOf(e, keys[i]).definition.hard == 100 + static_cast<int64_t>(i));
  }
  std::vector<std::string> scanned = ScanAll(e);
  std::sort(scanned.begin(), scanned.end());
  std::vector<std::string> sorted = keys;
  std::sort(sorted.begin(), sorted.end());
  REQUIRE(scanned == sorted);

  // A snapshot of them rebuilds them.
  std::string image = ImageOf(e);
  Engine restored(EngineOptions{"/", &clock, 16});
  REQUIRE(restored.ApplyChanges(image).ok());
  for (const std::string& key : keys) REQUIRE(Used(restored, key) == Used(e, key));

  for (const std::string& key : keys) REQUIRE(Del(e, {key}) == 1);
  REQUIRE(e.Size() == 0);
}

TEST_CASE("key table: ForEach visits the live entries only, once each", "[keytable]") {
  KeyTable table;
  std::set<std::string> live;
  for (int i = 0; i < 500; ++i) {
    std::string key = (i % 2 ? "long key number " : "k") + std::to_string(i);
    table.FindOrInsert(key);
    live.insert(key);
  }
  for (int i = 0; i < 500; i += 3) {
    std::string key = (i % 2 ? "long key number " : "k") + std::to_string(i);
    REQUIRE(table.Erase(key));
    live.erase(key);
  }
  table.FindOrInsert("");  // an empty key is a key, not an unused entry
  live.insert("");
  table.FindOrInsert("reuses an erased entry");
  live.insert("reuses an erased entry");
  std::multiset<std::string> seen;
  table.ForEach([&](const Entry& e) { seen.insert(std::string(e.name())); });
  REQUIRE(seen.size() == table.size());
  REQUIRE(std::set<std::string>(seen.begin(), seen.end()) == live);
  REQUIRE(seen.size() == live.size());
}
