// Copyright limiterd authors.
// The Engine's durability side (limiterd/changes.h): replaying change
// records, and point-in-time snapshots without stopping the world.
//
// A snapshot's cut takes every shard's lock once, marks every shard
// "capture pending" and releases them. From then on, whoever locks a
// pending shard first (an operation about to change it, or the snapshot's
// reader) encodes the shard as it still is, at the cut, before doing
// anything else (Impl::LockShard). So the image is the state at the cut,
// operations never wait for the reader, and only shards changed while the
// snapshot is read are copied; no fork(), no global pause beyond the cut.
#include <algorithm>
#include <array>
#include <variant>

#include "absl/container/flat_hash_map.h"
#include "change_codec.h"
#include "engine_impl.h"
#include "limiterd/engine.h"
#include "str_concat.h"

namespace limiterd {

using internal::Change;
using internal::ChangeTag;
using internal::Entry;
using internal::Shard;
using internal::ShardLocks;

namespace {

thread_local std::string t_default_key;

// The defaults a shard's counters follow, by parent key, for one pass
// over the shard: its counters sit under a few parents (compare.sh's: 10
// projects an org), and a lookup of "<parent>/*" in the key table costs
// a copy, a hash and a probe (a third of the encoding's time, perf).
class DefaultsSeen {
 public:
  // `lookup()` gives the default if `parent` is not among the last few.
  template <class Lookup>
  const internal::Spec* Find(std::string_view parent, Lookup&& lookup) {
    for (size_t i = 0; i < used_; ++i) {
      if (SameKey(slots_[i].parent, parent)) return slots_[i].spec;
    }
    Slot& slot = slots_[used_ < kSlots ? used_++ : next_++ % kSlots];
    slot.parent.assign(parent);
    slot.spec = lookup();
    return slot.spec;
  }

 private:
  // Siblings differ at the end ("project:3" / "project:4"): compared
  // from there.
  static bool SameKey(std::string_view a, std::string_view b) {
    return a.size() == b.size() && (a.empty() || a.back() == b.back()) && a == b;
  }
  static constexpr size_t kSlots = 16;
  struct Slot {
    std::string parent;
    const internal::Spec* spec = nullptr;
  };
  std::array<Slot, kSlots> slots_;
  size_t used_ = 0;
  size_t next_ = 0;
};

// A quota's state record of a 60-byte key takes 80-90 bytes: room made for
// this many a key fits most shards' states without growing. At most
// kStateRoomMax up front: past it the doublings cost little against the
// encoding, and a shard of limits set but never charged (no states) must
// not hold megabytes while the snapshot is open.
constexpr size_t kStateBytesGuess = 96;
constexpr size_t kStateRoomMax = 1u << 20;

Error NotInSectionError() {
  return Error{ErrorCode::kNotInSection, "key outside the current atomic section"};
}

const internal::Spec* EffectiveSpecOf(Engine::Impl& impl, Shard& shard, std::string_view key,
                                      const Entry& entry) {
  if (entry.own != nullptr) return entry.own;
  return impl.DefaultFor(shard, key, t_default_key);
}

bool KindMatches(ChangeTag tag, Kind kind) {
  switch (tag) {
    case ChangeTag::kQuota: return kind == Kind::kQuota;
    case ChangeTag::kWindowSlot:
    case ChangeTag::kWindowRing: return kind == Kind::kWindow;
    case ChangeTag::kBucket: return kind == Kind::kBucket;
    default: return false;
  }
}

// Sets a counter's state from a state record. Caller holds the lock.
Result<bool> ApplyState(Engine::Impl& impl, Shard& shard, const Change& c) {
  Entry& entry = shard.keys.FindOrInsert(c.key);
  // Under the spec it was charged under, a state must be of its kind and
  // shape; a state of another epoch is kept but never read.
  if (const internal::Spec* spec = EffectiveSpecOf(impl, shard, c.key, entry);
      spec != nullptr && spec->epoch == c.epoch) {
    if (!KindMatches(c.tag, spec->def.kind) ||
        (spec->def.kind == Kind::kWindow && spec->slots != c.slots)) {
      return InvalidArgument(
          internal::Concat({"state of '", c.key, "' does not match its definition"}));
    }
  }
  switch (c.tag) {
    case ChangeTag::kQuota: shard.keys.SetQuota(entry, c.epoch, c.quota); break;
    case ChangeTag::kBucket: shard.keys.SetState(entry, c.epoch, internal::BucketState{c.tat}); break;
    case ChangeTag::kWindowRing: {
      internal::WindowState w{c.newest_slot, nullptr};
      if (!c.values.empty()) {
        w.ring = std::make_unique<int64_t[]>(static_cast<size_t>(c.slots));
        std::copy(c.values.begin(), c.values.end(), w.ring.get());
      }
      shard.keys.SetState(entry, c.epoch, std::move(w));
      break;
    }
    case ChangeTag::kWindowSlot: {  // one sub-window, changed in place
      internal::Counter& counter = shard.keys.CounterOf(entry);
      auto* w = std::get_if<internal::WindowState>(&counter.state);
      if (counter.epoch != c.epoch || w == nullptr) {
        counter.state = internal::WindowState{c.newest_slot, nullptr};
        w = &std::get<internal::WindowState>(counter.state);
      }
      internal::AdvanceWindow(*w, c.slots, c.newest_slot);
      internal::WindowSlotValue(*w, c.slots, c.newest_slot) = c.values.front();
      counter.epoch = c.epoch;
      break;
    }
    default: break;
  }
  return true;
}

class EngineSnapshotReader final : public SnapshotReader {
 public:
  explicit EngineSnapshotReader(Engine::Impl& impl) : impl_(impl) {
    capture_.images.resize(impl.shard_count);
  }

  ~EngineSnapshotReader() override {
    // Abandoned early: no shard may capture into us after we are gone.
    for (size_t i = next_; i < impl_.shard_count; ++i) {
      Shard& shard = impl_.shards[i];
      shard.mu.lock();
      shard.capture_pending = false;
      shard.mu.unlock();
    }
    impl_.capture = nullptr;  // no shard is pending: nobody reads it now
    impl_.snapshot_open.store(false, std::memory_order_release);
  }

  bool Next(std::string& out) override {
    if (next_ >= impl_.shard_count) return false;
    auto index = static_cast<uint32_t>(next_++);
    impl_.LockShard(index);  // captures the shard if nobody has yet
    internal::ShardImage image = std::move(capture_.images[index]);
    impl_.shards[index].mu.unlock();
    entries_ += image.entries;
    out.append(image.definitions);
    out.append(image.states);
    return true;
  }

  uint64_t entries() const override { return entries_; }

  internal::SnapshotCapture* capture() { return &capture_; }

 private:
  Engine::Impl& impl_;
  internal::SnapshotCapture capture_;
  size_t next_ = 0;
  uint64_t entries_ = 0;
};

}  // namespace

internal::ShardImage Engine::Impl::EncodeShard(const Shard& shard_in) const {
  auto& shard = const_cast<Shard&>(shard_in);  // DefaultUnder's lookup only reads
  // One pass over the entries (a rewrite's cut makes the io threads encode
  // most shards themselves, all clients waiting, and a second pass took
  // each entry's cache misses again), with room for every state made
  // first: growing the string by doubling copied it over and over.
  internal::ShardImage image;
  image.entries = shard.keys.size();
  image.states.reserve(std::min<size_t>(image.entries * kStateBytesGuess, kStateRoomMax));
  internal::LevelState scratch;  // a packed quota's state, unpacked
  DefaultsSeen defaults;
  shard.keys.ForEach([&](const Entry& entry) {
    if (entry.own != nullptr) internal::EncodeDefine(image.definitions, entry.name(), *entry.own);
    const internal::Spec* spec = entry.own;
    if (spec == nullptr) {
      const std::string_view parent = Parent(entry.name());
      spec = defaults.Find(parent, [&] { return DefaultUnder(shard, parent, t_default_key); });
    }
    // A state of another epoch (or none: never charged) reads as fresh: it
    // is left out, and a materialized counter with nothing else is dropped
    // (SPEC: allowed).
    const internal::LevelState* state =
        spec == nullptr ? nullptr : entry.StateAt(spec->epoch, scratch);
    if (state != nullptr) internal::EncodeState(image.states, entry.name(), *spec, *state);
  });
  // Most of the shard never charged: the room goes back (copying little).
  if (image.states.capacity() > 2 * image.states.size() + 4096) image.states.shrink_to_fit();
  return image;
}

void Engine::Impl::CaptureShard(uint32_t index) {
  Shard& shard = shards[index];
  capture->images[index] = EncodeShard(shard);
  shard.capture_pending = false;
}

void Engine::SetChangeSink(ChangeSink* sink) {
  impl_->sink = sink;
  impl_->sink_wants_records = sink != nullptr && sink->WantsRecords();
}

namespace {

// The Specs of one ApplyChanges call: a snapshot's shard image defines many
// keys with a few distinct definitions, which then skip the intern lock.
class InternCache {
 public:
  explicit InternCache(Engine::Impl& impl) : impl_(impl) {}
  internal::SpecPtr Get(const Change& c) {
    for (const internal::SpecPtr& spec : specs_) {
      if (spec->epoch == c.epoch && spec->cancelled == c.cancelled && spec->def == c.definition) {
        return spec;
      }
    }
    internal::SpecPtr spec = impl_.Intern(c.definition, c.cancelled, c.epoch);
    if (specs_.size() < kSize) {
      specs_.push_back(spec);
    } else {
      specs_[next_++ % kSize] = spec;
    }
    return spec;
  }

 private:
  static constexpr size_t kSize = 8;
  Engine::Impl& impl_;
  std::vector<internal::SpecPtr> specs_;
  size_t next_ = 0;
};

// Room in each shard for the keys a large batch defines, so the tables do
// not grow (and rehash) step by step while it is applied. A shard outside
// the caller's atomic section is left alone: applying reports it, at the
// record it reaches it.
void ReserveForDefinitions(Engine::Impl& impl, const std::vector<Change>& changes) {
  constexpr size_t kLargeBatch = 256;  // an AOF record is a handful
  if (changes.size() < kLargeBatch) return;
  absl::flat_hash_map<uint32_t, size_t> defined;  // shard -> definitions
  for (const Change& c : changes) {
    if (c.tag == ChangeTag::kDefine && !impl.IsTopDefault(c.key)) ++defined[impl.ShardOf(c.key)];
  }
  for (const auto& [index, count] : defined) {
    ShardLocks locks(impl, index);
    if (!locks.ok()) continue;
    internal::KeyTable& keys = impl.shards[index].keys;
    keys.Reserve(keys.size() + count);
  }
}

}  // namespace

Result<bool> Engine::ApplyChanges(std::string_view bytes) {
  std::string error;
  auto decoded = internal::DecodeChanges(bytes, &error);
  if (!decoded) return InvalidArgument(error);
  ReserveForDefinitions(*impl_, decoded->changes);
  InternCache intern(*impl_);
  for (const Change& c : decoded->changes) {
    if (c.tag == ChangeTag::kClear) {
      ShardLocks locks(*impl_, ShardLocks::All{});
      if (!locks.ok()) return NotInSectionError();
      for (size_t i = 0; i < impl_->shard_count; ++i) impl_->shards[i].keys.Clear();
      impl_->PublishTopDefault(nullptr);
      continue;
    }
    if (c.tag != ChangeTag::kErase && c.tag != ChangeTag::kDefine &&
        impl_->HasStarSegment(c.key)) {
      return InvalidArgument(internal::Concat({"a state for the default key '", c.key, "'"}));
    }
    if (c.tag == ChangeTag::kDefine && impl_->HasStarSegment(c.key) &&
        !impl_->IsDefaultDeclaration(c.key)) {
      return InvalidArgument(internal::Concat({"a definition for the key '", c.key, "'"}));
    }
    ShardLocks locks(*impl_, c.key);
    if (!locks.ok()) return NotInSectionError();
    Shard& shard = impl_->shards[impl_->ShardOf(c.key)];
    switch (c.tag) {
      case ChangeTag::kDefine: {
        internal::SpecPtr spec = intern.Get(c);
        shard.keys.SetOwn(shard.keys.FindOrInsert(c.key), spec);
        if (impl_->IsTopDefault(c.key)) impl_->PublishTopDefault(spec);
        break;
      }
      case ChangeTag::kErase: impl_->EraseKey(c.key); break;
      default: {
        if (auto applied = ApplyState(*impl_, shard, c); !applied) return applied;
        break;
      }
    }
  }
  return true;
}

Result<std::unique_ptr<SnapshotReader>> Engine::StartSnapshot(const std::function<void()>& at_cut) {
  if (impl_->snapshot_open.exchange(true, std::memory_order_acq_rel)) {
    return InvalidArgument("a snapshot is already in progress");
  }
  auto reader = std::make_unique<EngineSnapshotReader>(*impl_);
  // The cut: no operation runs while every shard is locked. Plain locks:
  // nothing is pending yet.
  for (size_t i = 0; i < impl_->shard_count; ++i) impl_->shards[i].mu.lock();
  impl_->capture = reader->capture();
  for (size_t i = 0; i < impl_->shard_count; ++i) impl_->shards[i].capture_pending = true;
  if (at_cut) at_cut();
  for (size_t i = impl_->shard_count; i-- > 0;) impl_->shards[i].mu.unlock();
  return std::unique_ptr<SnapshotReader>(std::move(reader));
}

}  // namespace limiterd
