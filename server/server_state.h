// Copyright limiterd authors.
// ServerState: what every command and connection shares: the configuration,
// the engine and its clock, durability, the client registry and the
// statistics. One per daemon (and one per in-process test fixture).
//
// Thread safety: every member is safe to use from any thread; see each.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config.h"
#include "durability.h"
#include "limiterd/clock.h"
#include "limiterd/engine.h"

namespace limiterd::server {

struct CommandSpec;

// What CLIENT LIST / INFO / KILL see of a connection. Written by the
// connection's own thread, read by any thread: plain fields are immutable
// after registration, the rest are atomics or guarded by `mu`.
struct ClientInfo {
  uint64_t id = 0;
  std::string addr;   // "ip:port" of the peer; immutable
  std::string laddr;  // local "ip:port"; immutable
  int fd = -1;        // immutable
  int64_t created_ms = 0;  // steady-clock ms; immutable

  std::atomic<int64_t> last_interaction_ms{0};  // steady-clock ms
  std::atomic<const CommandSpec*> last_command{nullptr};
  std::atomic<int> protocol{2};
  std::atomic<int> multi{-1};  // queued commands in MULTI, -1: not in MULTI
  std::atomic<uint64_t> multi_bytes{0};  // their argument bytes
  std::atomic<uint64_t> query_buffer{0};
  std::atomic<uint64_t> output_buffer{0};
  std::atomic<bool> authenticated{false};

  mutable std::mutex mu;
  std::string name;      // GUARDED_BY(mu)
  std::string lib_name;  // GUARDED_BY(mu)
  std::string lib_ver;   // GUARDED_BY(mu)

  // Closes the connection from any thread (posts to its owner): at once
  // (CLIENT KILL, timeout), or after the reply being written (drain=true, at
  // shutdown). Null for in-process sessions. Set before registration, then
  // immutable.
  std::function<void(bool drain)> close;

  std::string Name() const {
    std::lock_guard lock(mu);
    return name;
  }
};

// Every connected client by id. The lock is taken on connect, disconnect and
// CLIENT LIST / KILL / INFO only, never on the command path.
class ClientRegistry {
 public:
  void Add(std::shared_ptr<ClientInfo> client);
  void Remove(uint64_t id);
  size_t size() const { return size_.load(std::memory_order_relaxed); }
  std::shared_ptr<ClientInfo> Find(uint64_t id) const;
  std::vector<std::shared_ptr<ClientInfo>> All() const;  // by id

 private:
  mutable std::mutex mu_;
  std::map<uint64_t, std::shared_ptr<ClientInfo>> clients_;  // GUARDED_BY(mu_)
  std::atomic<size_t> size_{0};
};

// Counters of one io thread, on a cache line of their own so threads never
// share one. Summed when INFO asks.
struct alignas(64) ThreadStats {
  std::atomic<uint64_t> commands{0};
  std::atomic<uint64_t> net_input{0};
  std::atomic<uint64_t> net_output{0};
  std::atomic<uint64_t> connections{0};
  std::atomic<uint64_t> rejected{0};
  std::atomic<uint64_t> errors{0};
  std::atomic<uint64_t> keyspace_hits{0};
  std::atomic<uint64_t> keyspace_misses{0};
  std::atomic<uint64_t> reads{0};   // recv(2) calls on client sockets
  std::atomic<uint64_t> writes{0};  // reply writes started (one may take several send(2)s)

  static void Add(std::atomic<uint64_t>& c, uint64_t n) { c.fetch_add(n, std::memory_order_relaxed); }
};

struct StatsTotals {
  uint64_t commands = 0, net_input = 0, net_output = 0, connections = 0, rejected = 0,
           errors = 0, keyspace_hits = 0, keyspace_misses = 0, reads = 0, writes = 0;
};

class Stats {
 public:
  explicit Stats(size_t threads);
  ThreadStats& ForThread(size_t index) { return *blocks_[index % blocks_.size()]; }
  StatsTotals Sum() const;
  void Reset();
  // Called once a second: updates instantaneous_ops_per_sec.
  void Sample();
  uint64_t ops_per_sec() const { return ops_per_sec_.load(std::memory_order_relaxed); }

 private:
  std::vector<std::unique_ptr<ThreadStats>> blocks_;
  std::atomic<uint64_t> ops_per_sec_{0};
  std::atomic<uint64_t> last_commands_{0};
};

class ServerState {
 public:
  // `io_threads` sizes the statistics; in-process tests use 1.
  ServerState(const Config& config, size_t io_threads);
  ServerState(const ServerState&) = delete;
  ServerState& operator=(const ServerState&) = delete;

  Config config;
  AdjustableClock clock;  // DEBUG CLOCK; the engine reads it
  Engine engine;
  // The AOF and snapshots (SPEC section 5): set once at start-up, before
  // serving (OpenDurability), then immutable; null when persistence is off
  // (in-process tests that do not want it: SAVE and friends answer an
  // error). Declared after `engine`, so destroyed before it: it is the
  // engine's change sink.
  std::unique_ptr<persistence::Durability> durability;
  persistence::LoadReport load_report;  // what start-up loaded; immutable after
  // BGSAVE SCHEDULE while an AOF rewrite runs: the cron starts it later.
  std::atomic<bool> bgsave_scheduled{false};
  ClientRegistry clients;
  Stats stats;

  const int64_t start_unix_ms;  // wall clock at start (LASTSAVE)
  const std::chrono::steady_clock::time_point start_steady;
  const std::string run_id;     // 40 hex chars, as Redis
  const size_t io_threads;
  std::atomic<int> tcp_port{0};
  std::string executable;       // set once by main

  uint64_t NextClientId() { return next_client_id_.fetch_add(1, std::memory_order_relaxed); }

  // SHUTDOWN: asks the daemon to stop (set by the Server; tests record it).
  // Thread-safe; may be called from a command handler.
  void RequestShutdown();
  bool shutdown_requested() const { return shutdown_requested_.load(std::memory_order_acquire); }
  void set_shutdown_handler(std::function<void()> handler) { shutdown_handler_ = std::move(handler); }

  static int64_t SteadyMs();

 private:
  std::atomic<uint64_t> next_client_id_{1};
  std::atomic<bool> shutdown_requested_{false};
  std::function<void()> shutdown_handler_;  // set before serving, then immutable
};

}  // namespace limiterd::server
