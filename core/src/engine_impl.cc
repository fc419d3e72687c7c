// Copyright limiterd authors.
#include "engine_impl.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "change_codec.h"

namespace limiterd {
namespace {

// The shards this thread's AtomicSection holds (sorted), if any.
struct ThreadSection {
  const Engine::Impl* impl = nullptr;
  const uint32_t* shards = nullptr;
  size_t count = 0;
  bool Covers(uint32_t shard) const { return std::binary_search(shards, shards + count, shard); }
};
thread_local ThreadSection t_section;

size_t RoundUpPowerOfTwo(size_t n) {
  size_t p = 1;
  while (p < n) p <<= 1;
  return p;
}

}  // namespace

Engine::Impl::Impl(std::string sep, const Clock* clk, size_t count)
    : separator(std::move(sep)),
      clock(clk),
      shard_count(RoundUpPowerOfTwo(std::max<size_t>(count, 1))),
      shards(new internal::Shard[shard_count]) {}

Engine::Impl::Root Engine::Impl::RootOf(std::string_view key) const {
  std::string_view root = key;
  if (separator.size() == 1) {
    // find of a string compares at every candidate; memchr is one call.
    const void* at = key.empty() ? nullptr : std::memchr(key.data(), separator[0], key.size());
    if (at != nullptr) {
      root = key.substr(0, static_cast<size_t>(static_cast<const char*>(at) - key.data()));
    }
  } else if (!separator.empty()) {
    root = key.substr(0, key.find(separator));
  }
  return Root{root, internal::HashKey(root)};
}

bool Engine::Impl::HasStarSegment(std::string_view key) const {
  if (separator.empty()) return key == "*";
  if (key.find('*') == std::string_view::npos) return false;  // the usual case
  while (true) {
    size_t pos = key.find(separator);
    if (key.substr(0, pos) == "*") return true;
    if (pos == std::string_view::npos) return false;
    key.remove_prefix(pos + separator.size());
  }
}

bool Engine::Impl::IsDefaultDeclaration(std::string_view key) const {
  if (key == "*") return true;
  if (separator.empty()) return false;
  return key.size() > separator.size() + 1 && key.ends_with("*") &&
         key.substr(key.size() - 1 - separator.size(), separator.size()) == separator;
}

std::string_view Engine::Impl::Parent(std::string_view key) const {
  if (separator.empty()) return {};
  size_t pos;
  if (separator.size() == 1) {
    // rfind of a string calls memcmp at every position; memrchr scans by
    // words.
#if defined(__GLIBC__)
    const void* at = key.empty() ? nullptr : memrchr(key.data(), separator[0], key.size());
    pos = at == nullptr ? std::string_view::npos
                        : static_cast<size_t>(static_cast<const char*>(at) - key.data());
#else
    pos = key.rfind(separator[0]);
#endif
  } else {
    pos = key.rfind(separator);
  }
  return pos == std::string_view::npos ? std::string_view() : key.substr(0, pos);
}

const internal::Spec* Engine::Impl::DefaultUnder(internal::Shard& shard, std::string_view parent,
                                                 std::string& scratch) const {
  if (parent.empty()) return shard.top_default.get();
  scratch.assign(parent);
  scratch.append(separator);
  scratch.push_back('*');
  const internal::Entry* entry = shard.keys.Find(scratch);
  return entry == nullptr ? nullptr : entry->own;
}

internal::SpecPtr Engine::Impl::Intern(LimitDefinition resolved, bool cancelled,
                                       uint64_t epoch) {
  thread_local std::string key;
  key.clear();
  key.push_back(cancelled ? 1 : 0);
  key.append(reinterpret_cast<const char*>(&epoch), sizeof epoch);
  internal::EncodeDefinition(key, resolved);
  std::lock_guard lock(intern_mu);
  std::weak_ptr<const internal::Spec>& slot = interned[key];
  if (internal::SpecPtr live = slot.lock()) return live;
  internal::SpecPtr spec = internal::MakeSpec(std::move(resolved), cancelled, epoch);
  slot = spec;
  if (interned.size() >= intern_sweep_at) {
    absl::erase_if(interned, [](const auto& kv) { return kv.second.expired(); });
    intern_sweep_at = std::max<size_t>(1024, interned.size() * 2);
  }
  return spec;
}

bool Engine::Impl::EraseKey(std::string_view key) {
  internal::Shard& shard = shards[ShardOf(key)];
  bool erased = shard.keys.Erase(key);
  if (!IsDefaultDeclaration(key)) return erased;
  // A default takes the counters that followed it: its parent's direct
  // children with no definition of their own.
  std::string_view parent = Parent(key);
  auto sweep = [&](internal::Shard& s) {
    s.keys.SweepEntries([&](const internal::Entry& e) {
      return e.own == nullptr && Parent(e.name()) == parent ? internal::KeyTable::Sweep::kErase
                                                            : internal::KeyTable::Sweep::kKeep;
    });
  };
  if (IsTopDefault(key)) {
    for (size_t i = 0; i < shard_count; ++i) sweep(shards[i]);
    PublishTopDefault(nullptr);
  } else {
    sweep(shard);
  }
  return erased;
}

namespace internal {

ShardLocks::ShardLocks(Engine::Impl& impl, std::string_view key) : impl_(impl) {
  if (impl.IsTopDefault(key)) {
    LockAll();
  } else {
    LockOne(impl.ShardOf(key));
  }
}

ShardLocks::ShardLocks(Engine::Impl& impl, uint32_t shard) : impl_(impl) { LockOne(shard); }

ShardLocks::ShardLocks(Engine::Impl& impl, All) : impl_(impl) { LockAll(); }

ShardLocks::ShardLocks(Engine::Impl& impl, std::vector<uint32_t> sorted_shards)
    : impl_(impl), list_(std::move(sorted_shards)) {
  if (t_section.impl == &impl) {
    ok_ = std::all_of(list_.begin(), list_.end(),
                      [](uint32_t s) { return t_section.Covers(s); });
    return;
  }
  for (uint32_t s : list_) impl_.LockShard(s);
  held_ = true;
}

void ShardLocks::LockOne(uint32_t shard) {
  one_ = shard;
  if (t_section.impl == &impl_) {
    ok_ = t_section.Covers(shard);
    return;
  }
  impl_.LockShard(one_);
  held_ = true;
}

void ShardLocks::LockAll() {
  all_ = true;
  if (t_section.impl == &impl_) {
    ok_ = t_section.count == impl_.shard_count;
    return;
  }
  for (size_t i = 0; i < impl_.shard_count; ++i) impl_.LockShard(static_cast<uint32_t>(i));
  held_ = true;
}

ShardLocks::~ShardLocks() {
  if (!held_) return;
  if (all_) {
    for (size_t i = impl_.shard_count; i-- > 0;) impl_.shards[i].mu.unlock();
  } else if (!list_.empty()) {
    for (auto it = list_.rbegin(); it != list_.rend(); ++it) impl_.shards[*it].mu.unlock();
  } else {
    impl_.shards[one_].mu.unlock();
  }
}

}  // namespace internal

AtomicSection::AtomicSection(Engine::Impl* impl, std::vector<uint32_t> shards)
    : impl_(impl), shards_(std::move(shards)) {
  if (t_section.impl != nullptr) {
    std::fputs("limiterd: Engine::Atomic called inside an AtomicSection\n", stderr);
    std::abort();
  }
  for (uint32_t s : shards_) impl_->LockShard(s);
  t_section = ThreadSection{impl_, shards_.data(), shards_.size()};
}

AtomicSection::AtomicSection(AtomicSection&& other) noexcept
    : impl_(other.impl_), shards_(std::move(other.shards_)) {
  other.impl_ = nullptr;
  // The vector's buffer moved with it, so t_section stays valid.
}

AtomicSection::~AtomicSection() {
  if (impl_ == nullptr) return;  // moved from
  t_section = ThreadSection{};
  for (auto it = shards_.rbegin(); it != shards_.rend(); ++it) impl_->shards[*it].mu.unlock();
}

}  // namespace limiterd
