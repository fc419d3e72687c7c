// Copyright limiterd authors.
// HashHints: the key hashes Engine::Prefetch computed, kept per thread for
// the calls that follow it. The server prefetches the keys of a pipeline's
// next commands, then runs those commands, whose keys are views of the
// same input bytes: the call finds its key's hash here by the key's address
// instead of hashing the key again.
//
// A hint is a guess, never trusted: it only decides where KeyTable::Find
// looks, and Find still compares the key's bytes. If the bytes at that
// address changed since (the input buffer was reused), the lookup misses
// and the caller looks again with the key's own hash. So a hint never picks
// a shard, never inserts, and a stale one costs one probe, not an answer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace limiterd::internal {

class HashHints {
 public:
  void Note(std::string_view key, size_t hash) { slots_[SlotOf(key.data())] = {key, hash}; }
  std::optional<size_t> Of(std::string_view key) const {
    const Slot& s = slots_[SlotOf(key.data())];
    if (s.key.data() != key.data() || s.key.size() != key.size()) return std::nullopt;
    return s.hash;
  }

 private:
  // By address, 32 bytes a slot: a command with a key takes more than 32
  // bytes of input, so the keys of any 4 KB of a pipeline (well over the
  // server's look-ahead) all have slots of their own.
  static constexpr size_t kSlots = 128;
  static size_t SlotOf(const char* p) {
    return (reinterpret_cast<uintptr_t>(p) >> 5) & (kSlots - 1);
  }
  struct Slot {
    std::string_view key;  // only its address and size: never read
    size_t hash = 0;
  };
  Slot slots_[kSlots];
};

}  // namespace limiterd::internal
