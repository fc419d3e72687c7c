// Copyright limiterd authors.
// Session: one client's protocol state (RESP version, authentication, the
// MULTI queue). Owned by its connection (or by an in-process test) and used
// only by the thread that runs that connection: no locking.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "server_state.h"

namespace limiterd::server {

struct QueuedCommand {
  const CommandSpec* command;
  std::vector<std::string> args;  // copies: the input buffer moves on
};

struct Session {
  Session(ServerState& server, std::shared_ptr<ClientInfo> client, ThreadStats& thread_stats)
      : info(std::move(client)), stats(&thread_stats) {
    authenticated = !server.config.password_required();
    info->authenticated.store(authenticated, std::memory_order_relaxed);
  }

  std::shared_ptr<ClientInfo> info;
  ThreadStats* stats;
  int protocol = 2;
  bool authenticated = false;
  bool close_after_reply = false;  // QUIT, protocol errors, CLIENT KILL of self

  // MULTI / EXEC
  bool in_multi = false;
  bool multi_failed = false;  // a queue-time error: EXEC answers EXECABORT
  std::vector<QueuedCommand> queue;
  size_t queued_bytes = 0;  // bounded by client-query-buffer-limit

  void SetProtocol(int p) {
    protocol = p;
    info->protocol.store(p, std::memory_order_relaxed);
  }
  void SetAuthenticated(bool a) {
    authenticated = a;
    info->authenticated.store(a, std::memory_order_relaxed);
  }
  void ResetMulti() {
    in_multi = false;
    multi_failed = false;
    queue.clear();
    queued_bytes = 0;
    info->multi.store(-1, std::memory_order_relaxed);
    info->multi_bytes.store(0, std::memory_order_relaxed);
  }
};

}  // namespace limiterd::server
