// Copyright limiterd authors.
// limiterd::Engine: the limit engine of SPEC section 2, embeddable in any
// C++ program without the server.
//
//   limiterd::Engine engine;                       // wall clock, '/' paths
//   limiterd::LimitDefinition org;  org.hard = 100;
//   (void)engine.Set("org:acme", org);
//   auto r = engine.Consume("org:acme/user:42", 5);  // r->allowed, r->remaining
//
// Thread safety: every member function may be called from any number of
// threads at once. Each call is atomic and linearizable with every other
// call: CONSUME checks and charges all levels of a path, or none.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "limiterd/changes.h"
#include "limiterd/clock.h"
#include "limiterd/limit.h"
#include "limiterd/result.h"

namespace limiterd {

struct EngineOptions {
  // Separates a key's path segments; empty turns the hierarchy off (every
  // key is top-level, and only the "*" default applies). Fixed for the
  // Engine's life: it decides where keys live.
  std::string separator = "/";
  // Not owned; must outlive the Engine. nullptr: a SystemClock of its own.
  const Clock* clock = nullptr;
  // Number of lock shards, rounded up to a power of two.
  size_t shards = 1024;
};

class AtomicSection;

class Engine {
 public:
  explicit Engine(EngineOptions options = {});
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // LIMIT.SET. Creates or replaces the whole definition of `key` ("P/*" and
  // "*" set defaults). Changing only hard, soft, unit, valid_until or burst
  // keeps the current usage; changing kind, period, anchor, window or rate
  // starts afresh. Without an anchor, a replaced definition with the same
  // period keeps its anchor. Returns false when `condition` prevented it.
  Result<bool> Set(std::string_view key, const LimitDefinition& definition,
                   SetCondition condition = {});

  // LIMIT.GET: the effective definition; nullopt if none applies.
  Result<std::optional<LimitInfo>> Get(std::string_view key) const;

  // LIMIT.DEL: deletes the definitions and usage of `keys` (a default also
  // takes the counters materialized from it). Returns how many keys had a
  // definition or a counter.
  Result<size_t> Delete(std::span<const std::string_view> keys);

  // LIMIT.CANCEL: the key's own definition becomes cancelled (reported,
  // counted, never denies). Returns false if the key has no definition.
  Result<bool> Cancel(std::string_view key);

  // CREDITS.CONSUME. amount >= 0; 0 peeks. Charges `key` and every ancestor
  // with an effective limit, all or nothing. Errors: NOLIMIT, bad amount,
  // overflow; a denial is a reply with allowed = false.
  Result<ConsumeReply> Consume(std::string_view key, int64_t amount,
                               ConsumeOptions options = {});

  // A hint for a batch of calls about to come (a client's pipeline): brings
  // the entries of `keys` toward the CPU cache, in steps spaced over the
  // whole batch so that their memory latencies overlap instead of adding up
  // one call at a time. Changes nothing, never blocks (a shard another
  // thread holds is skipped), and is not worth calling for one key.
  void Prefetch(std::span<const std::string_view> keys) const;

  // CREDITS.REFUND: lowers the current usage of `key` and its limited
  // ancestors by `amount` (>= 0), each clamped at 0. Returns the key's
  // consumed after the refund.
  Result<int64_t> Refund(std::string_view key, int64_t amount);

  // USAGE.GET; nullopt if no limit applies to the key itself.
  Result<std::optional<UsageReport>> Usage(std::string_view key) const;

  // USAGE.RESET: the key's usage in the current period becomes 0 (ancestors
  // untouched). Returns false if no limit applies to the key.
  Result<bool> ResetUsage(std::string_view key);

  // LIMIT.SCAN over keys with a definition or a materialized counter. A
  // cursor of 0 starts; a next_cursor of 0 ends. Every key present for the
  // whole scan is returned at least once. `count` is a hint.
  ScanPage Scan(uint64_t cursor, size_t count) const;

  // DBSIZE: keys with a definition or a materialized counter.
  size_t Size() const;

  // FLUSHALL.
  void Clear();

  // Examines up to `budget` keys, resuming where the last call stopped, and
  // drops those that are materialized counters holding nothing but a fresh
  // state (the SPEC's "may be dropped at any time"). Returns how many were
  // dropped. The server calls it on a timer; an embedder may too.
  size_t DropIdleCounters(size_t budget);

  // MULTI/EXEC: holds the locks of every shard that `keys` live in (Atomic)
  // or of every shard (AtomicAll) for the section's life. Meanwhile Engine
  // calls from this thread on those keys run inside the section; a key
  // outside it is refused with kNotInSection. Not reentrant.
  [[nodiscard]] AtomicSection Atomic(std::span<const std::string_view> keys);
  [[nodiscard]] AtomicSection AtomicAll();

  // Durability (limiterd/changes.h). The sink gets every later change;
  // nullptr stops that. Set it while no other call runs (start-up).
  void SetChangeSink(ChangeSink* sink);

  // Replays change records (a snapshot's or a log's), in order, without
  // passing them to the sink. Error on malformed input: the records before
  // the bad one are applied, nothing of it or after it.
  Result<bool> ApplyChanges(std::string_view changes);

  // Starts a point-in-time image of the whole engine. `at_cut` runs at the
  // cut, with every shard locked and so no operation in progress (the log
  // switches files there); keep it short. Error if another snapshot is
  // still open: one at a time.
  Result<std::unique_ptr<SnapshotReader>> StartSnapshot(
      const std::function<void()>& at_cut = {});

  const Clock& clock() const { return *clock_; }
  const std::string& separator() const;

 struct Impl;  // internal (core/src/engine_impl.h)

 private:
  friend class AtomicSection;
  std::unique_ptr<SystemClock> own_clock_;
  const Clock* clock_;
  std::unique_ptr<Impl> impl_;
};

// Holds shard locks for one thread; see Engine::Atomic. Move-only.
class AtomicSection {
 public:
  AtomicSection(AtomicSection&& other) noexcept;
  AtomicSection& operator=(AtomicSection&&) = delete;
  ~AtomicSection();

 private:
  friend class Engine;
  AtomicSection(Engine::Impl* impl, std::vector<uint32_t> shards);
  Engine::Impl* impl_;
  std::vector<uint32_t> shards_;  // sorted, unique; empty after a move
};

}  // namespace limiterd
