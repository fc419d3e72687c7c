// Copyright limiterd authors.
#include "key_table.h"

#include <cstdlib>
#include <new>

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

uint32_t KeyTable::Allocate(std::string_view key) {
  uint32_t id;
  if (!free_.empty()) {
    id = free_.back();
    free_.pop_back();
  } else {
    if (next_unused_ == UINT32_MAX) std::abort();  // 4 billion keys in one shard
    id = next_unused_++;
    if ((id >> kChunkBits) == chunks_.size()) {
      chunks_.push_back(std::make_unique<Entry[]>(kChunkSize));
    }
  }
  At(id).key.Assign(key);
  return id;
}

void KeyTable::Free(uint32_t id) {
  Entry& e = At(id);
  e.key.MarkVacant();
  if (e.own != nullptr) Unref(e.own);
  e.own = nullptr;
  e.counter.reset();
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

Counter& KeyTable::CounterOf(Entry& entry) {
  if (entry.counter == nullptr) entry.counter = std::make_unique<Counter>();
  return *entry.counter;
}

}  // namespace limiterd::internal
