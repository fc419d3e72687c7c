// Copyright limiterd authors.
// The Engine's operations. Each takes its shard locks (engine_impl.h), reads
// the clock once under them, and so is atomic and linearizable.
#include "limiterd/engine.h"

#include <algorithm>
#include <array>
#include <limits>
#include <optional>
#include <span>

#include "absl/container/inlined_vector.h"
#include "change_codec.h"
#include "engine_impl.h"
#include "hash_hints.h"
#include "str_concat.h"
#include "xxhash.h"

namespace limiterd {

using internal::Entry;
using internal::LevelState;
using internal::LevelView;
using internal::Shard;
using internal::ShardLocks;
using internal::Spec;
using internal::SpecPtr;

namespace {

Error NotInSection() {
  return Error{ErrorCode::kNotInSection, "key outside the current atomic section"};
}

Error NoLimit(std::string_view key) {
  return Error{ErrorCode::kNoLimit, internal::Concat({"no limit applies to '", key, "'"})};
}

Error DefaultNotCounter(std::string_view key) {
  return InvalidArgument(
      internal::Concat({"'", key, "' is a default (a '*' segment), not a counter"}));
}

// One level of a path, resolved under the shard lock.
struct Level {
  std::string_view key;  // a prefix of the path
  Entry* entry;          // null: no counter yet
  const Spec* spec;      // the effective definition
  // The level as it reads now: the entry's state if it was charged under
  // this spec's epoch, else fresh.
  LevelView View(int64_t now) const {
    return entry != nullptr ? entry->ViewAt(*spec, now) : LevelView(*spec, nullptr, now);
  }
};
using Levels = absl::InlinedVector<Level, 4>;

thread_local std::string t_scratch;  // DefaultFor's key buffer
thread_local internal::HashHints t_hash_hints;  // Prefetch's, for the calls after it

// Collects one operation's change records and hands them to the sink when
// it goes out of scope. Declare it after the operation's ShardLocks, so it
// reaches the sink while the locks are still held: the sink then sees the
// changes of any one key in the order they took effect. Every place that
// changes state asks on(): that marks the operation as changing, and says
// whether to encode (a counting sink gets an empty record, unencoded).
class ChangeBatch {
 public:
  explicit ChangeBatch(Engine::Impl& impl)
      : sink_(impl.sink), encode_(impl.sink_wants_records) {
    if (encode_) t_changes.clear();
  }
  ~ChangeBatch() {
    if (!changed_) return;
    sink_->Record(encode_ ? std::string_view(t_changes) : std::string_view());
  }
  ChangeBatch(const ChangeBatch&) = delete;
  ChangeBatch& operator=(const ChangeBatch&) = delete;
  bool on() {
    changed_ = sink_ != nullptr;
    return encode_;
  }
  // For any record; the next level's key is then written whole.
  std::string& out() {
    previous_ = {};
    return t_changes;
  }
  // A level's record: its key as what it shares with the level's before
  // it in this batch (the levels of a path are prefixes of one another).
  // Out of line: inlined, they made CONSUME 22 instructions longer even
  // without an AOF (bench/instructions.sh), in the code around the call.
  [[gnu::noinline]] void EncodeCharge(std::string_view key, const Spec& spec,
                                      const LevelState& state) {
    internal::EncodeCharge(t_changes, key, spec, state, previous_);
    previous_ = key;
  }
  [[gnu::noinline]] void EncodeState(std::string_view key, const Spec& spec,
                                     const LevelState& state) {
    internal::EncodeState(t_changes, key, spec, state, previous_);
    previous_ = key;
  }

 private:
  static thread_local std::string t_changes;
  ChangeSink* sink_;
  const bool encode_;
  bool changed_ = false;
  std::string_view previous_;  // the key of the record t_changes ends with
};
thread_local std::string ChangeBatch::t_changes;

const Spec* EffectiveSpec(Engine::Impl& impl, Shard& shard, std::string_view key, Entry* entry) {
  if (entry != nullptr && entry->own != nullptr) return entry->own;
  return impl.DefaultFor(shard, key, t_scratch);
}

Entry* Find(Shard& shard, std::string_view key) {
  return shard.keys.Find(key);
}

// Calls add(Level) for each level of the path with an effective limit,
// deepest first (a callback, so CONSUME keeps all it needs of a level in
// one vector). The root level is found with the hash that picked the shard
// and has no parent to search for; a key that starts with the separator
// has an empty root, which is no level. The key's own level is looked up
// with `key_hint` first (hash_hints.h), and with its own hash on a miss.
// The default of each level ("parent/*") is looked up in one copy of the
// key, with '*' written after the parent: the levels go from the deepest
// up, so each write lands before the previous one and never in a prefix
// still needed.
template <class Add>
void ResolveLevels(Engine::Impl& impl, Shard& shard, std::string_view key,
                   const Engine::Impl::Root& root, std::optional<size_t> key_hint, Add&& add) {
  std::string& defaults = t_scratch;
  bool copied = false;
  std::string_view level = key;
  while (true) {
    // Both are prefixes of key: the same size is the same bytes.
    const bool is_root = level.size() == root.name.size();
    std::string_view parent = is_root ? std::string_view() : impl.Parent(level);
    Entry* entry = nullptr;
    if (is_root) {
      entry = shard.keys.Find(level, root.hash);
    } else {
      if (key_hint && level.size() == key.size()) entry = shard.keys.Find(level, *key_hint);
      if (entry == nullptr) entry = Find(shard, level);
    }
    const Spec* spec = entry != nullptr ? entry->own : nullptr;
    if (spec == nullptr && parent.empty()) {
      spec = shard.top_default.get();
    } else if (spec == nullptr) {
      if (!copied) defaults.assign(key);
      copied = true;
      size_t star = parent.size() + impl.separator.size();
      if (star >= defaults.size()) defaults.resize(star + 1);  // the last segment is empty
      defaults[star] = '*';
      const Entry* declared = Find(shard, std::string_view(defaults.data(), star + 1));
      spec = declared != nullptr ? declared->own : nullptr;
    }
    if (spec != nullptr) add(Level{level, entry, spec});
    if (parent.empty()) break;
    level = parent;
  }
}

// One level of a CONSUME: the level, a view of it at the call's instant
// (pointed at the level's state after the call once it is charged: the
// quota period it computed depends on the clock only), and its verdict.
struct CheckedLevel {
  CheckedLevel(const Level& l, int64_t now) : level(l), view(l.View(now)) {
    // A cancelled level is no longer enforced, expired or not.
    expired = !l.spec->cancelled && view.expired();
  }
  Level level;
  LevelView view;
  bool expired;
  bool denies = false;
};

// The state to charge `level` into, in its counter: its entry materialized
// and its counter allocated if needed, reset if it belongs to another
// epoch. Not for a quota the entry keeps packed (the caller charges a copy
// and hands it to KeyTable::SetQuota). Entries never move, so every other
// level's entry stays valid.
LevelState& CounterFor(Shard& shard, Level& level, const LevelView& view) {
  internal::Counter& counter = shard.keys.CounterOf(*level.entry);
  if (counter.epoch != level.spec->epoch) {
    counter.state = view.NewState();
    counter.epoch = level.spec->epoch;
  }
  return counter.state;
}

std::optional<int64_t> HardOf(const Spec& spec) { return spec.def.hard; }

bool IsGreater(const std::optional<int64_t>& a, const std::optional<int64_t>& b) {
  if (!a) return b.has_value();  // unlimited beats any number
  return b && *a > *b;
}

std::string SourceOf(Engine::Impl& impl, std::string_view key, const Entry* entry) {
  if (entry != nullptr && entry->own != nullptr) return "own";
  std::string_view parent = impl.Parent(key);
  std::string source(parent);  // built by appends: GCC 12 -O3 misreads a + b + c
  if (!parent.empty()) source.append(impl.separator);
  source.push_back('*');
  return source;
}

}  // namespace

Engine::Engine(EngineOptions options)
    : own_clock_(options.clock ? nullptr : std::make_unique<SystemClock>()),
      clock_(options.clock ? options.clock : own_clock_.get()),
      impl_(std::make_unique<Impl>(std::move(options.separator), clock_, options.shards)) {}

Engine::~Engine() = default;

const std::string& Engine::separator() const { return impl_->separator; }

Result<bool> Engine::Set(std::string_view key, const LimitDefinition& definition,
                         SetCondition condition) {
  if (condition.nx && (condition.xx || condition.gt)) {
    return InvalidArgument("NX and XX / GT options at the same time are not compatible");
  }
  if (impl_->HasStarSegment(key) && !impl_->IsDefaultDeclaration(key)) {
    return InvalidArgument("a '*' segment is only allowed last, to declare a default");
  }
  if (auto valid = internal::ValidateDefinition(definition); !valid) return valid.error();
  ShardLocks locks(*impl_, key);
  if (!locks.ok()) return NotInSection();
  ChangeBatch changes(*impl_);
  Shard& shard = impl_->shards[impl_->ShardOf(key)];
  int64_t now = clock_->NowMs();

  Entry* entry = Find(shard, key);
  const Spec* own = entry != nullptr ? entry->own : nullptr;
  if ((condition.nx && own) || (condition.xx && !own)) return false;
  if (condition.gt && own) {
    std::optional<int64_t> new_hard = definition.kind == Kind::kBucket
                                          ? definition.burst.value_or(definition.rate)
                                          : definition.hard;
    if (!IsGreater(new_hard, HardOf(*own))) return false;
  }
  // The spec the key's usage was charged under: its own, or the default
  // a materialized counter followed.
  const Spec* previous = entry != nullptr ? EffectiveSpec(*impl_, shard, key, entry) : nullptr;
  LimitDefinition resolved = internal::ResolveDefinition(definition, previous, now);
  // Epochs number the usage bases of one key's (or one default's) chain of
  // definitions: a new basis gets the next number, so it never matches a
  // state charged under an earlier one. They are not unique across keys,
  // which is what lets identical definitions share one interned Spec.
  uint64_t epoch = previous == nullptr ? 1
                   : internal::SameUsageBasis(previous->def, resolved) ? previous->epoch
                                                                        : previous->epoch + 1;
  SpecPtr spec = impl_->Intern(std::move(resolved), false, epoch);
  if (entry == nullptr) entry = &shard.keys.FindOrInsert(key);
  shard.keys.SetOwn(*entry, spec);
  if (impl_->IsTopDefault(key)) impl_->PublishTopDefault(spec);
  if (changes.on()) internal::EncodeDefine(changes.out(), key, *spec);
  return true;
}

Result<std::optional<LimitInfo>> Engine::Get(std::string_view key) const {
  ShardLocks locks(*impl_, key);
  if (!locks.ok()) return NotInSection();
  Shard& shard = impl_->shards[impl_->ShardOf(key)];
  Entry* entry = Find(shard, key);
  const Spec* spec = EffectiveSpec(*impl_, shard, key, entry);
  if (spec == nullptr) return std::optional<LimitInfo>();
  return std::optional<LimitInfo>(
      LimitInfo{spec->def, spec->cancelled, SourceOf(*impl_, key, entry)});
}

Result<size_t> Engine::Delete(std::span<const std::string_view> keys) {
  bool all = std::any_of(keys.begin(), keys.end(),
                         [&](std::string_view k) { return impl_->IsTopDefault(k); });
  std::vector<uint32_t> shard_list;
  if (!all) {
    for (std::string_view k : keys) shard_list.push_back(impl_->ShardOf(k));
    std::sort(shard_list.begin(), shard_list.end());
    shard_list.erase(std::unique(shard_list.begin(), shard_list.end()), shard_list.end());
  }
  ShardLocks locks = all ? ShardLocks(*impl_, ShardLocks::All{})
                         : ShardLocks(*impl_, std::move(shard_list));
  if (!locks.ok()) return NotInSection();

  ChangeBatch changes(*impl_);
  size_t deleted = 0;
  for (std::string_view key : keys) {
    bool erased = impl_->EraseKey(key);
    deleted += erased ? 1 : 0;
    // A default's followers may go even when it had no entry itself.
    if ((erased || impl_->IsDefaultDeclaration(key)) && changes.on()) {
      internal::EncodeErase(changes.out(), key);
    }
  }
  return deleted;
}

Result<bool> Engine::Cancel(std::string_view key) {
  ShardLocks locks(*impl_, key);
  if (!locks.ok()) return NotInSection();
  Shard& shard = impl_->shards[impl_->ShardOf(key)];
  Entry* entry = Find(shard, key);
  if (entry == nullptr || entry->own == nullptr) return false;
  SpecPtr cancelled = impl_->Intern(entry->own->def, true, entry->own->epoch);
  shard.keys.SetOwn(*entry, cancelled);
  if (impl_->IsTopDefault(key)) impl_->PublishTopDefault(cancelled);
  ChangeBatch changes(*impl_);
  if (changes.on()) internal::EncodeDefine(changes.out(), key, *entry->own);
  return true;
}

Result<ConsumeReply> Engine::Consume(std::string_view key, int64_t amount, ConsumeOptions options) {
  if (amount < 0) return InvalidArgument("amount must not be negative");
  if (impl_->HasStarSegment(key)) return DefaultNotCounter(key);
  const Impl::Root root = impl_->RootOf(key);
  uint32_t shard_index = impl_->ShardOf(root);
  ShardLocks locks(*impl_, shard_index);
  if (!locks.ok()) return NotInSection();
  Shard& shard = impl_->shards[shard_index];
  const int64_t now = clock_->NowMs();

  absl::InlinedVector<CheckedLevel, 4> resolved;
  ResolveLevels(*impl_, shard, key, root, t_hash_hints.Of(key),
                [&](const Level& l) { resolved.emplace_back(l, now); });
  if (resolved.empty()) return NoLimit(key);
  // The loops below walk a span: an InlinedVector works out where its
  // elements are (inline or not) at every begin() and end().
  const std::span<CheckedLevel> levels(resolved.data(), resolved.size());

  // Check every level before touching any.
  bool any_denied = false;
  for (CheckedLevel& l : levels) {
    l.denies = l.expired || (l.level.spec->enforced() && !l.view.Fits(amount));
    any_denied |= l.denies;
  }
  const bool charge = amount > 0 && (!any_denied || options.force);
  if (charge) {
    for (const CheckedLevel& l : levels) {
      if (!l.expired && !internal::CanCharge(l.view, amount)) {
        return Error{ErrorCode::kOverflow, "increment or decrement would overflow"};
      }
    }
  }

  // Each view is pointed at the state its level has after this call:
  // charged for real, charged in a copy (DRYRUN answers as the call
  // would), or unchanged (where the view already points).
  absl::InlinedVector<LevelState, 4> dry_states;
  if (charge && !options.dry_run) {
    ChangeBatch changes(*impl_);
    for (CheckedLevel& l : levels) {
      if (l.expired) continue;
      Level& level = l.level;
      if (level.entry == nullptr) level.entry = &shard.keys.FindOrInsert(level.key);
      auto charge_state = [&](LevelState& state) {
        internal::Charge(l.view, state, amount);
        l.view.set_state(&state);
        if (changes.on()) changes.EncodeCharge(level.key, *level.spec, state);
      };
      if (level.spec->def.kind == Kind::kQuota && level.entry->packs_quota()) {
        LevelState copy = l.view.quota();
        charge_state(copy);
        shard.keys.SetQuota(*level.entry, level.spec->epoch, std::get<internal::QuotaState>(copy));
      } else {
        charge_state(CounterFor(shard, level, l.view));
      }
    }
  } else if (charge) {
    dry_states.resize(levels.size());
    for (size_t i = 0; i < levels.size(); ++i) {
      CheckedLevel& l = levels[i];
      if (l.expired) continue;
      const Spec& spec = *l.level.spec;
      dry_states[i] = l.view.CopyState();
      internal::Charge(spec, dry_states[i], now, amount);
      l.view.set_state(&dry_states[i]);
    }
  }

  // The level the reply names: among the denying levels (all levels when
  // allowed), the smallest remaining; the deepest on a tie. An expired
  // level has nothing remaining; one without a hard limit, infinitely much.
  constexpr int64_t kUnbounded = std::numeric_limits<int64_t>::max();
  const CheckedLevel* named = nullptr;
  int64_t named_remaining = kUnbounded;
  int64_t retry_after = 0;
  for (const CheckedLevel& l : levels) {
    if (any_denied && !l.denies) continue;
    int64_t remaining = l.expired                     ? 0
                        : l.level.spec->enforced() ? l.view.Remaining()
                                                     : kUnbounded;
    if (named == nullptr || remaining < named_remaining) {
      named = &l;
      named_remaining = remaining;
    }
    if (any_denied && retry_after >= 0) {
      int64_t wait = l.expired ? -1 : l.view.RetryAfter(amount);
      retry_after = wait < 0 ? -1 : std::max(retry_after, wait);
    }
  }
  if (retry_after > 0) {
    // A wait that reaches the expiry of any level never succeeds.
    for (const CheckedLevel& l : levels) {
      if (l.level.spec->cancelled) continue;
      int64_t expires_at = l.view.ExpiresAt();
      if (expires_at != internal::kNever && now + retry_after >= expires_at) {
        retry_after = -1;
        break;
      }
    }
  }

  const Spec& spec = *named->level.spec;
  ConsumeReply reply;
  reply.allowed = !any_denied;
  if (spec.enforced() || (named->expired && spec.def.hard)) {
    reply.remaining = named_remaining;
    reply.limit = spec.def.hard;
  }
  reply.retry_after_ms = retry_after;
  reply.reset_after_ms = named->view.ResetAfter(0);
  reply.level = named->level.key;
  return reply;
}

void Engine::Prefetch(std::span<const std::string_view> keys) const {
  // Three passes over the batch: index groups, then entries, then heap
  // keys. Each pass reads only what the pass before prefetched, so a batch
  // waits about three memory latencies in all instead of three per key.
  // Each step holds its shard's lock only to read (never waiting for it).
  constexpr size_t kMaxKeys = 64;
  struct Pending {
    Shard* shard;
    size_t hash;
    uint32_t id;
  };
  std::array<Pending, kMaxKeys> pending;
  size_t n = 0;
  for (std::string_view key : keys) {
    if (n == kMaxKeys) break;
    Shard& shard = impl_->shards[impl_->ShardOf(key)];
    size_t hash = internal::HashKey(key);
    t_hash_hints.Note(key, hash);
    if (!shard.mu.try_lock()) continue;
    shard.keys.PrefetchSlots(hash);
    shard.mu.unlock();
    pending[n++] = Pending{&shard, hash, internal::KeyTable::kNoId};
  }
  for (size_t i = 0; i < n; ++i) {
    Pending& p = pending[i];
    if (!p.shard->mu.try_lock()) continue;
    p.id = p.shard->keys.PrefetchEntry(p.hash);
    p.shard->mu.unlock();
  }
  for (size_t i = 0; i < n; ++i) {
    Pending& p = pending[i];
    if (p.id == internal::KeyTable::kNoId || !p.shard->mu.try_lock()) continue;
    p.shard->keys.PrefetchKey(p.id);
    p.shard->mu.unlock();
  }
}

Result<int64_t> Engine::Refund(std::string_view key, int64_t amount) {
  if (amount < 0) return InvalidArgument("amount must not be negative");
  if (impl_->HasStarSegment(key)) return DefaultNotCounter(key);
  const Impl::Root root = impl_->RootOf(key);
  uint32_t shard_index = impl_->ShardOf(root);
  ShardLocks locks(*impl_, shard_index);
  if (!locks.ok()) return NotInSection();
  Shard& shard = impl_->shards[shard_index];
  const int64_t now = clock_->NowMs();

  Levels levels;
  ResolveLevels(*impl_, shard, key, root, std::nullopt,
                [&](const Level& l) { levels.push_back(l); });
  if (levels.empty()) return NoLimit(key);
  ChangeBatch changes(*impl_);
  LevelState scratch;
  for (const Level& level : levels) {
    LevelState* state =
        level.entry != nullptr ? level.entry->StateAt(level.spec->epoch, scratch) : nullptr;
    if (state == nullptr) continue;
    internal::Refund(*level.spec, *state, now, amount);
    if (state == &scratch) {
      shard.keys.SetQuota(*level.entry, level.spec->epoch, std::get<internal::QuotaState>(scratch));
    }
    if (changes.on()) changes.EncodeState(level.key, *level.spec, *state);
  }
  const Level& first = levels.front();
  if (first.key != key) return int64_t{0};
  return first.View(now).Consumed();
}

Result<std::optional<UsageReport>> Engine::Usage(std::string_view key) const {
  if (impl_->HasStarSegment(key)) return DefaultNotCounter(key);
  uint32_t shard_index = impl_->ShardOf(key);
  ShardLocks locks(*impl_, shard_index);
  if (!locks.ok()) return NotInSection();
  Shard& shard = impl_->shards[shard_index];
  const int64_t now = clock_->NowMs();
  Entry* entry = Find(shard, key);
  const Spec* spec = EffectiveSpec(*impl_, shard, key, entry);
  if (spec == nullptr) return std::optional<UsageReport>();

  const LimitDefinition& d = spec->def;
  Level level{key, entry, spec};
  const LevelView view = level.View(now);
  UsageReport r;
  r.kind = d.kind;
  r.unit = d.unit;
  r.limit = d.hard;
  r.soft_limit = d.soft;
  r.consumed = view.Consumed();
  if (d.hard) r.remaining = view.Remaining();
  r.soft_reached = d.soft && r.consumed >= *d.soft;
  if (spec->cancelled) {
    r.status = LimitStatus::kCancelled;
  } else if (view.expired()) {
    r.status = LimitStatus::kExpired;
  } else if (d.hard && r.consumed >= *d.hard) {
    r.status = LimitStatus::kEmpty;
  } else {
    r.status = LimitStatus::kActive;
  }
  switch (d.kind) {
    case Kind::kQuota: r.period = PeriodName(d.period); break;
    case Kind::kWindow: r.period = FormatDuration(d.window_ms); break;
    case Kind::kBucket:
      r.period = std::to_string(d.rate) + "/" + FormatDuration(d.rate_per_ms);
      break;
  }
  r.period_start_ms = view.PeriodStart();
  int64_t reset_after = view.ResetAfter(0);
  if (reset_after >= 0) r.resets_at_ms = now + reset_after;
  r.renewable = d.renewable;
  r.valid_until_ms = d.valid_until_ms;
  r.source = SourceOf(*impl_, key, entry);
  return std::optional<UsageReport>(std::move(r));
}

Result<bool> Engine::ResetUsage(std::string_view key) {
  if (impl_->HasStarSegment(key)) return DefaultNotCounter(key);
  uint32_t shard_index = impl_->ShardOf(key);
  ShardLocks locks(*impl_, shard_index);
  if (!locks.ok()) return NotInSection();
  Shard& shard = impl_->shards[shard_index];
  Entry* entry = Find(shard, key);
  const Spec* spec = EffectiveSpec(*impl_, shard, key, entry);
  if (spec == nullptr) return false;
  if (entry != nullptr) {
    ChangeBatch changes(*impl_);
    if (entry->own != nullptr) {
      LevelState fresh = internal::FreshState(*spec, clock_->NowMs());
      if (changes.on()) internal::EncodeState(changes.out(), key, *spec, fresh);
      shard.keys.SetState(*entry, spec->epoch, std::move(fresh));
    } else {
      shard.keys.Erase(key);  // a fresh materialized counter is not kept
      if (changes.on()) internal::EncodeErase(changes.out(), key);
    }
  }
  return true;
}

ScanPage Engine::Scan(uint64_t cursor, size_t count) const {
  // cursor = shard << 48 | h: resume in `shard` at keys whose 48-bit hash is
  // >= h. Keys are visited in hash order within a shard, so a key present
  // for the whole scan is met once whatever else is inserted or erased.
  constexpr int kHashBits = 48;
  constexpr uint64_t kHashMask = (uint64_t{1} << kHashBits) - 1;
  ScanPage page;
  count = std::max<size_t>(count, 1);
  uint64_t shard_index = cursor >> kHashBits;
  uint64_t from = cursor & kHashMask;
  std::vector<std::pair<uint64_t, std::string>> found;
  while (shard_index < impl_->shard_count && page.keys.size() < count) {
    found.clear();
    size_t shard_size;
    {
      ShardLocks locks(*impl_, static_cast<uint32_t>(shard_index));
      if (!locks.ok()) return ScanPage{};
      const Shard& shard = impl_->shards[shard_index];
      shard_size = shard.keys.size();
      shard.keys.ForEach([&](const Entry& entry) {
        std::string_view key = entry.name();
        uint64_t h = XXH3_64bits(key.data(), key.size()) >> (64 - kHashBits);
        if (h >= from) found.emplace_back(h, key);
      });
    }
    // Take what is asked, but at least 1/16 of a shard, so one huge shard
    // costs a bounded number of passes over it.
    size_t want = std::max(count - page.keys.size(), shard_size / 16 + 1);
    if (found.size() > want) {
      std::nth_element(found.begin(), found.begin() + static_cast<ptrdiff_t>(want - 1),
                       found.end());
      uint64_t last = found[want - 1].first;
      for (auto& [h, key] : found) {
        if (h <= last) page.keys.push_back(std::move(key));  // ties go together
      }
      if (last < kHashMask) {
        page.next_cursor = shard_index << kHashBits | (last + 1);
        return page;
      }
    } else {
      for (auto& [h, key] : found) page.keys.push_back(std::move(key));
    }
    ++shard_index;
    from = 0;
  }
  page.next_cursor = shard_index < impl_->shard_count ? shard_index << kHashBits : 0;
  return page;
}

size_t Engine::Size() const {
  size_t n = 0;
  for (size_t i = 0; i < impl_->shard_count; ++i) {
    ShardLocks locks(*impl_, static_cast<uint32_t>(i));
    if (!locks.ok()) return 0;
    n += impl_->shards[i].keys.size();
  }
  return n;
}

void Engine::Clear() {
  ShardLocks locks(*impl_, ShardLocks::All{});
  if (!locks.ok()) return;
  for (size_t i = 0; i < impl_->shard_count; ++i) impl_->shards[i].keys.Clear();
  impl_->PublishTopDefault(nullptr);
  ChangeBatch changes(*impl_);
  if (changes.on()) internal::EncodeClear(changes.out());
}

size_t Engine::DropIdleCounters(size_t budget) {
  // `budget` bounds the entries examined, not the ones dropped: a keyspace
  // with nothing idle must cost a timer tick no more than one with much.
  // A shard's lock is held for at most kPerHold entries at a time: each
  // costs a lookup of its default, often a cache miss, and the io thread
  // waiting on the lock stalls every client it serves (a whole shard of
  // compare.sh's workload, 1,000 entries, held it about 0.25 ms).
  constexpr size_t kPerHold = 128;
  size_t dropped = 0;
  size_t examined = 0;
  size_t shards_done = 0;
  while (examined < budget && shards_done < impl_->shard_count) {
    size_t index = impl_->idle_sweep_cursor.load(std::memory_order_relaxed) % impl_->shard_count;
    ShardLocks locks(*impl_, static_cast<uint32_t>(index));
    if (!locks.ok()) return dropped;
    Shard& shard = impl_->shards[index];
    const int64_t now = clock_->NowMs();
    size_t held = 0;
    bool shard_done = shard.keys.SweepEntries(shard.idle_sweep_next, [&](const Entry& entry) {
      // Come back after the lock was let go, or next call.
      if (examined == budget || held == kPerHold) return internal::KeyTable::Sweep::kStop;
      ++examined;
      ++held;
      bool idle = false;
      if (entry.own == nullptr) {
        const Spec* spec = impl_->DefaultFor(shard, entry.name(), t_scratch);
        idle = spec == nullptr || entry.ViewAt(*spec, now).Fresh();
      }
      if (!idle) return internal::KeyTable::Sweep::kKeep;
      ++dropped;
      return internal::KeyTable::Sweep::kErase;
    });
    if (shard_done) {
      impl_->idle_sweep_cursor.fetch_add(1, std::memory_order_relaxed);
      ++shards_done;
    }
  }
  return dropped;
}

AtomicSection Engine::Atomic(std::span<const std::string_view> keys) {
  std::vector<uint32_t> shard_list;
  for (std::string_view k : keys) {
    if (impl_->IsTopDefault(k)) return AtomicAll();
    shard_list.push_back(impl_->ShardOf(k));
  }
  std::sort(shard_list.begin(), shard_list.end());
  shard_list.erase(std::unique(shard_list.begin(), shard_list.end()), shard_list.end());
  return AtomicSection(impl_.get(), std::move(shard_list));
}

AtomicSection Engine::AtomicAll() {
  std::vector<uint32_t> all(impl_->shard_count);
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<uint32_t>(i);
  return AtomicSection(impl_.get(), std::move(all));
}

}  // namespace limiterd
