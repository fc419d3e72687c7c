// Copyright limiterd authors.
// From the configuration to a running persistence::Durability: the options
// (SPEC section 6's persistence directives) and start-up's load, logged the
// way redis-server logs it. Used by main and by the in-process tests.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "config.h"
#include "durability.h"
#include "server_state.h"

namespace limiterd::server {

// dir, appendonly, appendfsync, appendfilename, appenddirname, dbfilename,
// save, auto-aof-rewrite-*, aof-load-truncated and
// stop-writes-on-bgsave-error; LASTSAVE and the save rules read the real
// wall clock, never DEBUG CLOCK (which only moves the limits' time).
persistence::DurabilityOptions DurabilityOptionsFrom(const Config& config);

// Creates server.durability, loads the snapshot or the AOF into the engine
// (it becomes the engine's change sink) and logs what was loaded. Call once,
// before serving. Returns "" or the error to print before exiting: the file
// and the offset of a corruption. `job_step_hook`: tests only (see
// DurabilityOptions).
[[nodiscard]] std::string OpenDurability(
    ServerState& server, std::function<void(std::string_view step)> job_step_hook = {});

// After CONFIG SET: hands the persistence directives that may change while
// running (appendfsync, save, stop-writes-on-bgsave-error,
// auto-aof-rewrite-*) to server.durability, if there is one.
void ApplyDurabilityConfig(ServerState& server);

}  // namespace limiterd::server
