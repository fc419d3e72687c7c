// Copyright limiterd authors.
#include "key_table.h"

#include <cstdlib>
#include <memory>
#include <new>
#include <variant>

namespace limiterd::internal {

void StoredKey::Assign(std::string_view key) {
  Release();
  if (key.size() < kInline ||
      (key.size() == kInline && static_cast<uint8_t>(key.back()) < kHeapTag)) {
    std::memset(bytes_, 0, kInline);
    if (!key.empty()) std::memcpy(bytes_, key.data(), key.size());
    if (key.size() < kInline) bytes_[kInline - 1] = static_cast<char>(kInlineBase + key.size());
    return;
  }
  size_t size = key.size();
  char* block = static_cast<char*>(::operator new(sizeof size + size));
  std::memcpy(block, &size, sizeof size);
  std::memcpy(block + sizeof size, key.data(), size);
  std::memset(bytes_, 0, kInline);
  std::memcpy(bytes_, &block, sizeof block);
  bytes_[kInline - 1] = static_cast<char>(kHeapTag);
}

void* StoredKey::GrowHeapBlock(size_t tail) {
  std::string_view key = view();
  size_t offset = TailOffset(key.size());
  char* block = static_cast<char*>(::operator new(offset + tail));
  std::memcpy(block, HeapBlock(), sizeof(size_t) + key.size());
  ::operator delete(HeapBlock());
  std::memcpy(bytes_, &block, sizeof block);
  return block + offset;
}

void StoredKey::Release() {
  if (tag() == kHeapTag) ::operator delete(HeapBlock());
  Clear();
}

Entry& KeyTable::FindOrInsert(std::string_view key) {
  auto it = index_.lazy_emplace(key, [&](const auto& construct) { construct(Allocate(key)); });
  return At(*it);
}

bool KeyTable::Erase(std::string_view key) {
  auto it = index_.find(key);
  if (it == index_.end()) return false;
  uint32_t id = *it;
  index_.erase(it);
  Free(id);
  return true;
}

void KeyTable::Clear() {
  index_.clear();  // before the entries its functors read
  specs_.clear();
  chunks_.clear();
  free_.clear();
  next_unused_ = 0;
}

KeyTable::Chunk KeyTable::NewChunk() {
  // std::allocator asks ::operator new for exactly n * sizeof(Entry).
  Entry* chunk = std::allocator<Entry>().allocate(kChunkSize);
  std::uninitialized_default_construct_n(chunk, kChunkSize);  // Entry() cannot throw
  return Chunk(chunk);
}

void KeyTable::ChunkDeleter::operator()(Entry* chunk) const {
  std::destroy_n(chunk, kChunkSize);
  std::allocator<Entry>().deallocate(chunk, kChunkSize);
}

uint32_t KeyTable::Allocate(std::string_view key) {
  uint32_t id;
  if (!free_.empty()) {
    id = free_.back();
    free_.pop_back();
  } else {
    if (next_unused_ == UINT32_MAX) std::abort();  // 4 billion keys in one shard
    id = next_unused_++;
    if ((id >> kChunkBits) == chunks_.size()) {
      chunks_.push_back(NewChunk());
    }
  }
  At(id).key.Assign(key);
  return id;
}

void KeyTable::Free(uint32_t id) {
  Entry& e = At(id);
  e.DropCounter();  // before the key: it may live in the key's block
  e.key.MarkVacant();
  if (e.own != nullptr) Unref(e.own);
  e.own = nullptr;
  free_.push_back(id);
}

void KeyTable::SetOwn(Entry& entry, const SpecPtr& spec) {
  if (entry.own == spec.get()) return;
  if (spec != nullptr) {
    auto [it, inserted] = specs_.try_emplace(spec.get(), spec, 0);
    ++it->second.second;
  }
  if (entry.own != nullptr) Unref(entry.own);
  entry.own = spec.get();
}

void KeyTable::Unref(const Spec* spec) {
  auto it = specs_.find(spec);
  if (--it->second.second == 0) specs_.erase(it);
}

uint32_t KeyTable::PrefetchEntry(size_t hash) const {
  FirstCandidate probe{hash};
  (void)index_.find(probe, hash);  // finds nothing: IdEq notes the candidate
  if (probe.id != kNoId) __builtin_prefetch(&At(probe.id));
  return probe.id;
}

void KeyTable::PrefetchKey(uint32_t id) const {
  // The id came from an earlier step under an earlier lock: the entry may
  // have gone since, but an id below next_unused_ is always an entry.
  if (id >= next_unused_) return;
  const StoredKey& key = At(id).key;
  if (key.inline_key() || key.vacant()) return;
  PrefetchHeapKey(key);
}

void Entry::DropCounter() {
  if (Counter* c = counter.full()) {
    if (key.inline_key()) {
      delete c;
    } else {
      c->~Counter();  // its bytes go with the key's block
    }
  } else {
    delete counter.packed();  // an inline key's (packs_quota), or null
  }
  counter.reset();
}

Counter& KeyTable::MakeCounter(Entry& entry) {
  entry.DropCounter();  // a packed quota, or none
  Counter* c = entry.key.inline_key() ? new Counter()
                                      : new (entry.key.GrowHeapBlock(sizeof(Counter))) Counter();
  entry.counter.set(c);
  return *c;
}

// `state` by value: it may be the Counter this drops.
void KeyTable::KeepQuota(Entry& entry, uint64_t epoch, QuotaState state) {
  if (!entry.packs_quota() || !PackedQuota::Fits(epoch, state)) {
    Counter& c = CounterOf(entry);
    c.state = state;
    c.epoch = epoch;
    return;
  }
  PackedQuota* q = entry.counter.packed();
  if (q == nullptr) {
    entry.DropCounter();  // a Counter, or none
    q = new PackedQuota();  // an inline key's: a block of its own
    entry.counter.set(q);
  }
  *q = PackedQuota::Of(epoch, state);
}

void KeyTable::SetState(Entry& entry, uint64_t epoch, LevelState&& state) {
  if (const auto* quota = std::get_if<QuotaState>(&state)) return SetQuota(entry, epoch, *quota);
  Counter& c = CounterOf(entry);
  c.state = std::move(state);
  c.epoch = epoch;
}

}  // namespace limiterd::internal
