// Copyright limiterd authors.
// The bytes of change records (limiterd/changes.h): what the engine hands
// its ChangeSink, what a snapshot holds, what ApplyChanges reads.
//
//   change  := tag:u8 fields
//   kDefine     key epoch cancelled:u8 definition  the key's own definition
//   kErase      key                                LIMIT.DEL of one key
//   kQuota      key epoch index start end consumed
//   kWindowSlot key epoch slots newest value       one sub-window's value
//   kWindowRing key epoch slots newest n value*n   the whole ring (n: 0 or slots)
//   kBucket     key epoch tat_high tat_low
//   kClear                                         FLUSHALL
//   key := varint length, bytes; numbers are varints, signed ones zigzag.
//
// A record with a key and an epoch (all but kErase and kClear) may have
// kSharedKey set in its tag (format version 2): its key is then
//   varint shared, varint length, bytes
// the first `shared` bytes of the key of the record right before it in
// the same bytes, then these. A CONSUME's records are its path's levels,
// each key a prefix of the next ("org:1", "org:1/project:2", ...): at
// bench/compare.sh's keys 146 bytes a CONSUME where whole keys took 221.
//
// Every state record sets a value (never adds one), so a record applied
// twice in a row changes nothing more. Little-endian, no padding; the
// files that hold these records carry the format version.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "definition.h"
#include "level_state.h"

namespace limiterd::internal {

enum class ChangeTag : uint8_t {
  kDefine = 1,
  kErase = 2,
  kQuota = 3,
  kWindowSlot = 4,
  kWindowRing = 5,
  kBucket = 6,
  kClear = 7,
};
// Set in a tag byte: the key shares a prefix with the record's before it.
inline constexpr uint8_t kSharedKey = 0x80;

// A definition alone (the interning key of specs).
void EncodeDefinition(std::string& out, const LimitDefinition& definition);
void EncodeDefine(std::string& out, std::string_view key, const Spec& spec);
void EncodeErase(std::string& out, std::string_view key);
void EncodeClear(std::string& out);
// The whole state of a counter charged under `spec`. `previous`: the key
// of the record that `out` ends with, if the caller knows it (the levels
// of a path): the key is written as what it shares with that one and the
// rest. Empty: written whole.
void EncodeState(std::string& out, std::string_view key, const Spec& spec,
                 const LevelState& state, std::string_view previous = {});
// What a Charge changed: like EncodeState, but a window sends only its
// newest sub-window.
void EncodeCharge(std::string& out, std::string_view key, const Spec& spec,
                  const LevelState& state, std::string_view previous = {});

// One decoded change. `key` points into the decoded bytes, or into its
// DecodedChanges' keys (a key that shares a prefix).
struct Change {
  ChangeTag tag = ChangeTag::kClear;
  std::string_view key;
  uint64_t epoch = 0;
  // kDefine
  bool cancelled = false;
  LimitDefinition definition;
  // states
  int64_t slots = 0;
  QuotaState quota;
  // The quota period's bounds as recorded: checked, not kept (a state's
  // bounds follow from its spec and index).
  int64_t quota_period_start_ms = 0;
  int64_t quota_period_end_ms = 0;
  int64_t newest_slot = 0;
  std::vector<int64_t> values;  // kWindowSlot: one; kWindowRing: 0 or slots
  __int128 tat = 0;
};

struct DecodedChanges {
  std::vector<Change> changes;
  // The keys written as a shared prefix and the rest, put together: each
  // its own block, so that the views stay put as more are added.
  std::vector<std::unique_ptr<char[]>> keys;
};

// Decodes every change in `bytes`; nullopt with `error` (what and at which
// byte) on malformed input. Definitions are checked (ValidateDefinition,
// and resolved as the engine keeps them).
std::optional<DecodedChanges> DecodeChanges(std::string_view bytes, std::string* error);

// The largest ring a record may declare: far above any window's (61).
inline constexpr int64_t kMaxWindowSlots = 4096;

}  // namespace limiterd::internal
