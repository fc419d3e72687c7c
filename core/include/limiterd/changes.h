// Copyright limiterd authors.
// What an Engine changes, as bytes: the way its state is made durable.
//
// Change records are effects, not commands: "org:acme's quota is at 70 in
// the period [start, end) under epoch 3", "this key's definition is now D",
// "this key is gone". Applying them gives the same state whatever the clock
// says at the time, and applying one twice changes nothing more (each
// record sets a value; none adds one).
//
//   ChangeSink     gets every operation's changes, in key order, as they
//                  happen: an append-only log writes them.
//   ApplyChanges   replays them (start-up: a snapshot's, then the log's).
//   SnapshotReader a point-in-time image of the whole engine, read shard
//                  by shard while every other call goes on.
//
// The encoding (core/src/change_codec.h) is versioned by the files that
// hold it (persistence/), and ApplyChanges checks every byte: malformed
// input is an error that changes nothing of the record it was found in.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "limiterd/result.h"

namespace limiterd {

class ChangeSink {
 public:
  virtual ~ChangeSink() = default;
  // The encoded changes of one operation (a CONSUME's every level; a
  // LIMIT.DEL's every key). Called while the engine holds the locks of the
  // shards the operation changed, so two operations that touch a common
  // key reach the sink in the order they took effect. Keep it short (an
  // append to a buffer) and never call back into the Engine.
  virtual void Record(std::string_view changes) = 0;
  // False: the sink only counts operations (a snapshot's "changes since
  // the last save" without an AOF); Record then gets an empty string per
  // changing operation, and the engine skips encoding. Read once, by
  // Engine::SetChangeSink.
  virtual bool WantsRecords() const { return true; }
};

// A consistent image of an Engine as it was at one instant (the cut), read
// a shard at a time. Operations go on meanwhile: the first one to touch a
// shard not yet read captures it first (copy on write, per shard), so the
// reader pays for the copy only of shards that change under it.
// Engine::StartSnapshot makes one; destroying it early is allowed.
class SnapshotReader {
 public:
  virtual ~SnapshotReader() = default;
  // Appends the next shard's entries, as change records, to `out`. False
  // when every shard has been read. Entries of an empty shard add nothing.
  virtual bool Next(std::string& out) = 0;
  // How many keys (entries) the shards read so far held.
  virtual uint64_t entries() const = 0;
};

}  // namespace limiterd
