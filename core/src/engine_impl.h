// Copyright limiterd authors.
// The Engine's internals: shards of keys, each behind its own lock.
//
// Where a key lives: every key of one path shares the shard of its root
// segment ("org:acme/project:web/user:42" lives with "org:acme"), together
// with the defaults of that subtree ("org:acme/*"). So a CONSUME over any
// number of levels takes exactly one lock, and all-or-nothing needs no
// cross-shard protocol. The top-level default "*" applies to keys in every
// shard: each shard keeps a copy of its pointer, and a change of "*" takes
// every shard's lock to update them all at once.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "definition.h"
#include "key_table.h"
#include "level_state.h"
#include "limiterd/engine.h"
#include "spin_mutex.h"
#include "xxhash.h"

namespace limiterd {

namespace internal {

struct alignas(64) Shard {  // a cache line of its own: no false sharing
  SpinMutex mu;
  KeyTable keys;  // guarded by mu
  SpecPtr top_default;                           // "*"'s spec; guarded by mu
  // An open snapshot has not read this shard yet: the first lock holder
  // captures it (Engine::Impl::LockShard) before anything changes it.
  bool capture_pending = false;                  // guarded by mu
  // The entry id DropIdleCounters resumes this shard at.
  uint32_t idle_sweep_next = 0;                  // guarded by mu
};

// One shard's image: its definitions, then its states (so that every state
// follows the spec it was charged under when the image is applied). Two
// strings, because they are encoded in one pass over the entries and the
// reader, not the thread that captured them, puts them together.
struct ShardImage {
  std::string definitions;
  std::string states;
  uint64_t entries = 0;
};

// An open snapshot's shard images, each written once under its shard's
// lock (by whoever locked it first after the cut) and taken by the reader.
struct SnapshotCapture {
  std::vector<ShardImage> images;  // [shard]; guarded by that shard's mu
};

}  // namespace internal

struct Engine::Impl {
  Impl(std::string separator, const Clock* clock, size_t shard_count);

  // A key's root segment (the whole key when the hierarchy is off) and its
  // hash. The hash is the key table's own (internal::HashKey), so the one
  // hash that picks the shard also finds the root's entry in it.
  struct Root {
    std::string_view name;
    size_t hash;
  };
  Root RootOf(std::string_view key) const;
  uint32_t ShardOf(const Root& root) const {
    return static_cast<uint32_t>(root.hash & (shard_count - 1));
  }
  uint32_t ShardOf(std::string_view key) const { return ShardOf(RootOf(key)); }
  bool IsTopDefault(std::string_view key) const { return key == "*"; }
  // A key with a "*" segment: a default, not a counter.
  bool HasStarSegment(std::string_view key) const;
  // A key whose last segment (only) is "*": it declares a default.
  bool IsDefaultDeclaration(std::string_view key) const;
  // The key one level up; empty for a top-level key.
  std::string_view Parent(std::string_view key) const;
  // The default that applies to `key` when it has no definition of its own:
  // parent/* or, for a top-level key, "*". Null if none. `scratch` holds
  // the looked-up key's bytes.
  const internal::Spec* DefaultFor(internal::Shard& shard, std::string_view key,
                                   std::string& scratch) const {
    return DefaultUnder(shard, Parent(key), scratch);
  }
  // The same, by the key's parent (empty: a top-level key's).
  const internal::Spec* DefaultUnder(internal::Shard& shard, std::string_view parent,
                                     std::string& scratch) const;

  // Every lock of a shard goes through here (ShardLocks, AtomicSection),
  // so an open snapshot captures a shard before anyone can change it.
  void LockShard(uint32_t index) {
    internal::Shard& shard = shards[index];
    shard.mu.lock();
    if (shard.capture_pending) [[unlikely]] CaptureShard(index);
  }
  void CaptureShard(uint32_t index);  // caller holds the shard's lock
  // Every entry of `shard` as change records.
  internal::ShardImage EncodeShard(const internal::Shard& shard) const;

  // LIMIT.DEL of one key: its entry, and for a default the counters that
  // followed it. True if the key had an entry. Caller holds its shard's
  // lock (every shard's for "*").
  bool EraseKey(std::string_view key);

  // Caller holds every shard's lock.
  void PublishTopDefault(const internal::SpecPtr& spec) {
    for (size_t i = 0; i < shard_count; ++i) shards[i].top_default = spec;
  }

  const std::string separator;
  const Clock* const clock;
  const size_t shard_count;
  std::unique_ptr<internal::Shard[]> shards;
  // Identical specs (definition, cancelled, epoch) are one shared object:
  // a million users under the same plan cost one Spec, not a million.
  internal::SpecPtr Intern(LimitDefinition resolved, bool cancelled, uint64_t epoch);
  std::mutex intern_mu;
  // Encoded spec -> the live Spec; expired ones are swept as it grows.
  absl::flat_hash_map<std::string, std::weak_ptr<const internal::Spec>> interned;  // GUARDED_BY(intern_mu)
  size_t intern_sweep_at = 1024;  // GUARDED_BY(intern_mu)
  std::atomic<size_t> idle_sweep_cursor{0};
  ChangeSink* sink = nullptr;  // set at start-up, before concurrent use
  bool sink_wants_records = false;  // sink->WantsRecords(), read once
  // The open snapshot, if any; set and cleared with every shard locked.
  internal::SnapshotCapture* capture = nullptr;
  std::atomic<bool> snapshot_open{false};
};

namespace internal {

// Locks the shards an operation needs, in ascending order (so operations on
// several shards cannot deadlock), unless this thread's AtomicSection
// already holds them; then it locks nothing, and ok() is false if the
// section does not cover them.
class ShardLocks {
 public:
  struct All {};
  // The shard of `key`, or every shard for the top-level default "*".
  ShardLocks(Engine::Impl& impl, std::string_view key);
  ShardLocks(Engine::Impl& impl, uint32_t shard);
  ShardLocks(Engine::Impl& impl, All);
  ShardLocks(Engine::Impl& impl, std::vector<uint32_t> sorted_shards);
  ~ShardLocks();
  ShardLocks(const ShardLocks&) = delete;
  ShardLocks& operator=(const ShardLocks&) = delete;

  bool ok() const { return ok_; }

 private:
  void LockOne(uint32_t shard);
  void LockAll();

  Engine::Impl& impl_;
  bool ok_ = true;
  bool held_ = false;
  bool all_ = false;
  uint32_t one_ = 0;
  std::vector<uint32_t> list_;
};

}  // namespace internal
}  // namespace limiterd
