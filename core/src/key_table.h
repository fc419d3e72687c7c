// Copyright limiterd authors.
// KeyTable: one shard's keys and their entries, laid out for memory.
//
// A million limits that differ only by key must cost little more than their
// keys. So an entry is 32 bytes: the key (inline up to 16 bytes), a raw
// pointer to its interned Spec, and a pointer to its counter, made only
// when the key is first charged: 16 bytes for a quota (PackedQuota), 32
// otherwise (Counter). A longer key's counter lives in the key's own heap
// block, right after its bytes: a CONSUME compares the key and then
// charges the counter, and with both in one 128-byte block (an 80-byte
// key) that is one trip to memory, not two. Entries live in fixed
// chunks (they never move: an Entry& stays valid until that entry is
// erased, whatever else is inserted) and are reused through a free list.
// The hash index holds 4-byte entry ids, so a table at a low load factor
// (a Swiss table grows by doubling) wastes 4-byte slots, not 100-byte ones.
//
// Not thread-safe: the shard's lock guards it (engine_impl.h).
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "definition.h"
#include "level_state.h"
#include "xxhash.h"

namespace limiterd::internal {

// A key's bytes in 16 bytes: inline when it fits, else on the heap.
//   byte 15 <  0xEF  a 16-byte key, inline (byte 15 is its last byte)
//   byte 15 == 0xEF  on the heap: bytes 0-7 point to [size_t length][bytes]
//   byte 15 >= 0xF0  an inline key of (byte 15 - 0xF0) bytes, 0 to 15,
//                    zero-padded
// The heap tag with a null pointer marks an unused entry (MarkVacant).
// So every ASCII key of up to 16 bytes is inline; a 16-byte key whose last
// byte is 0xEF or above goes to the heap.
class StoredKey {
 public:
  static constexpr size_t kInline = 16;

  StoredKey() { Clear(); }
  StoredKey(const StoredKey&) = delete;
  StoredKey& operator=(const StoredKey&) = delete;
  ~StoredKey() { Release(); }

  void Assign(std::string_view key);
  void Release();  // frees a heap key; the key becomes ""
  void MarkVacant() {
    Release();
    bytes_[kInline - 1] = static_cast<char>(kHeapTag);  // and a null pointer
  }
  bool vacant() const { return tag() == kHeapTag && HeapBlock() == nullptr; }

  bool inline_key() const { return tag() != kHeapTag; }
  // A heap key's block grown by `tail` bytes after the key, 8-byte aligned;
  // returns them (uninitialised). The key's bytes stay as they were.
  void* GrowHeapBlock(size_t tail);
  // A heap key's block: [size_t length][bytes][tail]; null when vacant.
  char* HeapBlock() const {
    char* p;
    std::memcpy(&p, bytes_, sizeof p);
    return p;
  }
  // Where GrowHeapBlock put a heap key's tail.
  void* HeapTail() const { return HeapBlock() + TailOffset(view().size()); }
  std::string_view view() const {
    uint8_t t = tag();
    if (t < kHeapTag) return {bytes_, kInline};
    if (t > kHeapTag) return {bytes_, static_cast<size_t>(t - kInlineBase)};
    const char* block = HeapBlock();
    size_t size;
    std::memcpy(&size, block, sizeof size);
    return {block + sizeof size, size};
  }

 private:
  static constexpr uint8_t kHeapTag = 0xEF;
  static constexpr uint8_t kInlineBase = 0xF0;
  uint8_t tag() const { return static_cast<uint8_t>(bytes_[kInline - 1]); }
  static size_t TailOffset(size_t key_size) { return (sizeof(size_t) + key_size + 7) & ~size_t{7}; }
  void Clear() {
    std::memset(bytes_, 0, kInline);
    bytes_[kInline - 1] = static_cast<char>(kInlineBase);
  }

  alignas(8) char bytes_[kInline];
};
static_assert(sizeof(StoredKey) == 16);

// A key's usage state, allocated when it is first charged: 32 bytes.
struct Counter {
  uint64_t epoch = 0;  // the spec epoch `state` was charged under
  LevelState state;
};
static_assert(sizeof(Counter) == 32);
static_assert(alignof(Counter) <= 8);  // GrowHeapBlock aligns a tail to 8

// A quota's state in 16 bytes, as most counters are kept. A Counter would
// make a limit charged once cost 77 bytes, 0.57x the Redis hash of the
// same limit; this makes it 61, 0.46x. Exact, never wrapped: kept only
// when the epoch and the period index fit in 32 bits (a period of a
// second or more does for 68 years from its anchor; a key redefined 4
// billion times, or milliseconds counted from an old anchor, get a
// Counter).
struct PackedQuota {
  uint32_t epoch;
  int32_t index;
  int64_t consumed;

  static bool Fits(uint64_t epoch, const QuotaState& q) {
    return epoch <= UINT32_MAX && q.index >= INT32_MIN && q.index <= INT32_MAX;
  }
  // Packed and unpacked: `Of` only for a state that Fits.
  static PackedQuota Of(uint64_t epoch, const QuotaState& q) {
    return PackedQuota{static_cast<uint32_t>(epoch), static_cast<int32_t>(q.index), q.consumed};
  }
  QuotaState state() const { return QuotaState{index, consumed}; }
};
static_assert(sizeof(PackedQuota) == 16);

// An entry's counter: none, a Counter, or a PackedQuota (bit 0 set: every
// counter is at least 8-byte aligned).
class CounterSlot {
 public:
  bool empty() const { return bits_ == 0; }
  Counter* full() const { return bits_ & 1 ? nullptr : reinterpret_cast<Counter*>(bits_); }
  PackedQuota* packed() const {
    return bits_ & 1 ? reinterpret_cast<PackedQuota*>(bits_ & ~uintptr_t{1}) : nullptr;
  }
  // Where the counter is, whichever it is (null: none): to prefetch.
  const void* address() const { return reinterpret_cast<const void*>(bits_ & ~uintptr_t{1}); }
  void set(Counter* c) { bits_ = reinterpret_cast<uintptr_t>(c); }
  void set(PackedQuota* q) { bits_ = reinterpret_cast<uintptr_t>(q) | 1; }
  void reset() { bits_ = 0; }

 private:
  uintptr_t bits_ = 0;
};

// A key's entry: its own definition and/or its counter.
struct Entry {
  Entry() = default;
  Entry(const Entry&) = delete;
  Entry& operator=(const Entry&) = delete;
  ~Entry() { DropCounter(); }

  StoredKey key;
  const Spec* own = nullptr;  // null: a counter materialized from a default
  // Empty: never charged (reads as fresh). Owned: in the key's heap block
  // (key.HeapTail()) for a heap key, else a block of its own.
  CounterSlot counter;

  void DropCounter();  // KeyTable::CounterOf, SetQuota and SetState make it

  std::string_view name() const { return key.view(); }
  // Whether a quota's state is kept packed (KeyTable::SetQuota): for an
  // inline key, in a 16-byte block of its own instead of 32. A heap key's
  // Counter stays in the key's block: an 80-byte key's block is then 120
  // bytes, jemalloc's 128-byte class, two whole cache lines; packed, 104
  // bytes of the 112-byte class, which straddles a third line, and a
  // pipeline of CONSUMEs over such keys ran 8% slower (bench/core_bench
  // BM_ConsumePipeline/1) for 16 bytes a key saved.
  bool packs_quota() const { return key.inline_key(); }
  // A view of the state charged under `spec`'s epoch (fresh if none). A
  // packed quota goes to the view as it is: the view keeps a quota's state
  // by copy, so no scratch LevelState is made and dropped (that cost
  // CONSUME 1% of its instructions).
  LevelView ViewAt(const Spec& spec, int64_t now_ms) const {
    if (const Counter* c = counter.full(); c != nullptr && c->epoch == spec.epoch) {
      return LevelView(spec, &c->state, now_ms);
    }
    if (const PackedQuota* q = counter.packed(); q != nullptr && q->epoch == spec.epoch) {
      return LevelView(spec, q->state(), now_ms);
    }
    return LevelView(spec, nullptr, now_ms);
  }
  // The counter's state if it was charged under `epoch`, else null
  // (fresh), to change or to encode. A packed quota is unpacked into
  // `scratch`, and the result points there: a change to it is kept by
  // KeyTable::SetQuota.
  const LevelState* StateAt(uint64_t epoch, LevelState& scratch) const {
    if (const Counter* c = counter.full()) return c->epoch == epoch ? &c->state : nullptr;
    const PackedQuota* q = counter.packed();
    if (q == nullptr || q->epoch != epoch) return nullptr;
    scratch = q->state();
    return &scratch;
  }
  LevelState* StateAt(uint64_t epoch, LevelState& scratch) {
    return const_cast<LevelState*>(std::as_const(*this).StateAt(epoch, scratch));
  }
};
static_assert(sizeof(Entry) == 32);

// XXH3 mixes every bit, as the Swiss table needs (it splits the hash in two).
inline size_t HashKey(std::string_view key) { return XXH3_64bits(key.data(), key.size()); }

class KeyTable {
 public:
  KeyTable() : index_(0, IdHash{this}, IdEq{this}) {}
  ~KeyTable() { Clear(); }
  KeyTable(const KeyTable&) = delete;  // the index's functors point here
  KeyTable& operator=(const KeyTable&) = delete;

  size_t size() const { return index_.size(); }

  Entry* Find(std::string_view key) {
    auto it = index_.find(key);
    return it == index_.end() ? nullptr : &At(*it);
  }
  const Entry* Find(std::string_view key) const {
    auto it = index_.find(key);
    return it == index_.end() ? nullptr : &At(*it);
  }
  // The same, with `hash` = HashKey(key) already computed by the caller.
  Entry* Find(std::string_view key, size_t hash) {
    auto it = index_.find(key, hash);
    return it == index_.end() ? nullptr : &At(*it);
  }
  // The entry of `key`, made (no definition, no counter) if there is none.
  Entry& FindOrInsert(std::string_view key);
  bool Erase(std::string_view key);
  void Clear();
  // Room for `n` entries without growing the index.
  void Reserve(size_t n) { index_.reserve(n); }

  // Sets (or, with null, clears) `entry`'s own definition. The table keeps
  // one reference to every Spec its entries point to.
  void SetOwn(Entry& entry, const SpecPtr& spec);

  // The entry's counter as a Counter, to change in place (a window's or a
  // bucket's state): made, of epoch 0, if the entry has none or a packed
  // quota (a state of another epoch than any window or bucket).
  Counter& CounterOf(Entry& entry) {
    if (Counter* c = entry.counter.full()) return *c;
    return MakeCounter(entry);
  }
  // Keeps `state`, charged under `epoch`, as the entry's counter: packed
  // when it is a quota's that fits and the entry packs_quota(), else in a
  // Counter.
  void SetState(Entry& entry, uint64_t epoch, LevelState&& state);
  void SetQuota(Entry& entry, uint64_t epoch, QuotaState state) {
    if (PackedQuota* q = entry.counter.packed(); q != nullptr && PackedQuota::Fits(epoch, state)) {
      *q = PackedQuota::Of(epoch, state);
      return;
    }
    KeepQuota(entry, epoch, state);
  }

  // Prefetching a key in three steps, each reading only what the one before
  // brought toward the cache (Engine::Prefetch spaces them over a batch of
  // keys). `hash` is HashKey(key). None changes anything.
  // 1. The index group the key's probe starts at.
  void PrefetchSlots(size_t hash) const { index_.prefetch(Prehashed{hash}); }
  // 2. The entry of the first id there with the key's tag, returned (kNoId
  //    if none). Keys are not compared: that is the step that would wait.
  static constexpr uint32_t kNoId = UINT32_MAX;
  uint32_t PrefetchEntry(size_t hash) const;
  // 3. That entry's heap key, and so the counter that follows it.
  void PrefetchKey(uint32_t id) const;
  // For a walk in id order: entry `id`'s heap key (PrefetchKey's step 3),
  // or its counter if the key is inline (nothing past the last entry).
  // Always inlined, as is PrefetchHeapKey: GCC 12 takes a function that
  // only prefetches for one without side effects (ipa-pure-const) and
  // drops the call.
  [[gnu::always_inline]] void PrefetchForWalk(uint32_t id) const {
    if (id >= next_unused_) return;
    const Entry& e = At(id);
    if (e.key.inline_key()) {
      __builtin_prefetch(e.counter.address());  // null if none: harmless
    } else {
      PrefetchHeapKey(e.key);
    }
  }
  static constexpr uint32_t kWalkAhead = 8;

  // Calls f on every entry, in the order of memory (not of the index):
  // a snapshot of a shard reads its chunks front to back. The entries are
  // in order, but their heap keys and counters were allocated whenever
  // each key came, among every other shard's: each is a miss, so they are
  // prefetched kWalkAhead entries ahead. (A rewrite's cut encodes nearly
  // every shard on the io threads, clients waiting: compare.sh's keyspace
  // charged in a random order took 23.4-23.9 ms without, core_bench
  // BM_CaptureSnapshot.)
  template <class F>  // f(Entry&)
  void ForEach(F&& f) {
    for (uint32_t id = 0; id < next_unused_; ++id) {
      PrefetchForWalk(id + kWalkAhead);
      Entry& e = At(id);
      if (!e.key.vacant()) f(e);
    }
  }
  template <class F>  // f(const Entry&)
  void ForEach(F&& f) const {
    for (uint32_t id = 0; id < next_unused_; ++id) {
      PrefetchForWalk(id + kWalkAhead);
      const Entry& e = At(id);
      if (!e.key.vacant()) f(e);
    }
  }

  enum class Sweep { kKeep, kErase, kStop };
  // Calls f(Entry&) on the entries from id `next` on, in the order of
  // memory, until it answers kStop, erasing those it answers kErase for.
  // Returns false if it stopped early, with `next` where the next call
  // resumes; true, with `next` back at 0, once it reached the end. By id,
  // not by the index, so resuming costs nothing however big the shard.
  template <class F>
  bool SweepEntries(uint32_t& next, F&& f) {
    for (uint32_t id = next; id < next_unused_; ++id) {
      Entry& e = At(id);
      if (e.key.vacant()) continue;
      switch (f(e)) {
        case Sweep::kKeep: break;
        case Sweep::kErase: Erase(e.name()); break;
        case Sweep::kStop: next = id; return false;
      }
    }
    next = 0;
    return true;
  }
  template <class F>
  bool SweepEntries(F&& f) {  // from the first entry
    uint32_t next = 0;
    return SweepEntries(next, std::forward<F>(f));
  }

 private:
  static constexpr uint32_t kChunkBits = 6;  // 64 entries, 2 KB
  static constexpr uint32_t kChunkSize = uint32_t{1} << kChunkBits;
  // A chunk is allocated as exactly this many bytes, a size class of any
  // allocator. (new Entry[64] asked for 8 bytes more, the array's element
  // count, and jemalloc rounded 2,056 up to 2,560: 8 bytes per limit.)
  static constexpr size_t kChunkBytes = sizeof(Entry) * kChunkSize;
  static_assert((kChunkBytes & (kChunkBytes - 1)) == 0);
  struct ChunkDeleter {
    void operator()(Entry* chunk) const;
  };
  using Chunk = std::unique_ptr<Entry[], ChunkDeleter>;
  static Chunk NewChunk();
  Counter& MakeCounter(Entry& entry);  // CounterOf's allocation
  void KeepQuota(Entry& entry, uint64_t epoch, QuotaState state);  // SetQuota's other cases

  // Lookup keys for prefetching: a hash already computed, and a probe that
  // matches nothing but notes the first id whose tag matched.
  struct Prehashed {
    size_t hash;
  };
  struct FirstCandidate {
    size_t hash;
    mutable uint32_t id = kNoId;
  };
  struct IdHash {
    using is_transparent = void;
    const KeyTable* table;
    size_t operator()(uint32_t id) const { return HashKey(table->At(id).name()); }
    size_t operator()(std::string_view key) const { return HashKey(key); }
    size_t operator()(Prehashed p) const { return p.hash; }
    size_t operator()(const FirstCandidate& c) const { return c.hash; }
  };
  struct IdEq {
    using is_transparent = void;
    const KeyTable* table;
    bool operator()(uint32_t a, uint32_t b) const { return a == b; }
    bool operator()(uint32_t id, std::string_view key) const { return table->At(id).name() == key; }
    bool operator()(std::string_view key, uint32_t id) const { return table->At(id).name() == key; }
    bool operator()(uint32_t, Prehashed) const { return false; }
    bool operator()(uint32_t id, const FirstCandidate& c) const {
      if (c.id == kNoId) c.id = id;
      return false;
    }
  };

  Entry& At(uint32_t id) const { return chunks_[id >> kChunkBits][id & (kChunkSize - 1)]; }
  // A heap key's block, both lines of an 80-byte key's 128 (null if
  // vacant: harmless).
  [[gnu::always_inline]] static void PrefetchHeapKey(const StoredKey& key) {
    const char* block = key.HeapBlock();
    __builtin_prefetch(block);
    __builtin_prefetch(block + 64);
  }
  uint32_t Allocate(std::string_view key);
  void Free(uint32_t id);  // the entry must be out of the index
  void Unref(const Spec* spec);

  std::vector<Chunk> chunks_;
  std::vector<uint32_t> free_;  // ids of unused entries in chunks_
  uint32_t next_unused_ = 0;    // ids from here on were never used
  absl::flat_hash_set<uint32_t, IdHash, IdEq> index_;
  // The Specs entries point to: one reference each, and how many entries.
  absl::flat_hash_map<const Spec*, std::pair<SpecPtr, size_t>> specs_;
};

}  // namespace limiterd::internal
