// Copyright limiterd authors.
// The daemon's configuration (SPEC section 6): directives read from a config
// file and the command line the way redis-server reads them, then CONFIG
// GET / SET / REWRITE at run time. One table in config.cc declares every
// directive: its type, default, range and whether CONFIG SET may change it;
// conf/limiterd.conf documents the same list.
//
// Thread safety: all members may be called from any thread. Values live under
// a reader/writer lock (CONFIG is rare); the values read on the command and
// connection paths are mirrored in atomics so those paths take no lock.
#pragma once

#include <atomic>
#include <cstdint>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "log.h"

namespace limiterd::server {

inline constexpr std::string_view kVersion = "0.1.0";
// The Redis version whose behaviour and reply formats limiterd follows
// (INFO's redis_version; clients gate features on it).
inline constexpr std::string_view kRedisCompatVersion = "7.2.0";
inline constexpr int kDefaultPort = 6390;

struct DirectiveInfo;

// The CPUs this process may run on (its affinity: taskset, a container's
// cpuset), else every online CPU.
unsigned UsableCores();
// `threads 0`: one io thread per usable core but one, at least one. The
// core left over is for the kernel's network processing and whatever shares
// the machine (a co-located application, the load generator): on 2 cores
// with the client alongside, 2 io threads measured 1.5-3x Redis's p99 where
// 1 thread matched it, at no loss of throughput (docs/performance-history.md).
// Redis's io-threads advice is the same: leave a core spare.
int DefaultThreads(unsigned cores);

class Config {
 public:
  Config();
  Config(const Config& other);
  Config& operator=(const Config&) = delete;

  // ---- Start-up -----------------------------------------------------------
  // `limiterd [config-file] [--directive value ...]` (argv without options
  // handled by main). Returns "" or the message to print before exiting 1.
  [[nodiscard]] std::string LoadFromArgs(std::span<const std::string> args);
  // Reads a config file ("-": stdin). Returns "" or the error message.
  [[nodiscard]] std::string LoadFile(const std::string& path);
  // Applies one directive at start-up (every directive may be set then).
  [[nodiscard]] std::string Apply(std::string_view name, std::span<const std::string> values);

  // ---- CONFIG -------------------------------------------------------------
  // CONFIG GET: (name, value) of every directive matching one of `patterns`.
  std::vector<std::pair<std::string, std::string>> Get(
      std::span<const std::string_view> patterns) const;
  // CONFIG SET name value [name value ...]: all or nothing. Returns "" or
  // the error reply text (Redis's).
  [[nodiscard]] std::string Set(std::span<const std::string_view> pairs);
  // CONFIG REWRITE: updates the config file in place (keeps comments).
  // Returns "" or the error reply text.
  [[nodiscard]] std::string Rewrite() const;

  // ---- Values -------------------------------------------------------------
  std::string GetValue(std::string_view name) const;  // "" if unknown
  const std::string& config_file() const { return config_file_; }  // absolute; "" none

  // Hot values: lock-free reads.
  uint64_t maxclients() const { return maxclients_.load(std::memory_order_relaxed); }
  int64_t timeout_seconds() const { return timeout_.load(std::memory_order_relaxed); }
  uint64_t proto_max_bulk_len() const { return proto_max_bulk_len_.load(std::memory_order_relaxed); }
  uint64_t client_query_buffer_limit() const {
    return query_buffer_limit_.load(std::memory_order_relaxed);
  }
  bool password_required() const { return password_required_.load(std::memory_order_relaxed); }
  int64_t io_spin_us() const { return io_spin_us_.load(std::memory_order_relaxed); }
  // Bumped by every CONFIG SET; connections refresh cached limits on change.
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  // Compares in constant time with the current requirepass.
  bool CheckPassword(std::string_view password) const;

  // Start-up values (CONFIG SET cannot change them).
  std::vector<std::string> bind() const;
  int port() const;
  int threads() const;  // resolved: 0 -> DefaultThreads(UsableCores())
  std::string separator() const { return GetValue("hierarchy-separator"); }
  bool debug_command_enabled() const { return GetValue("enable-debug-command") == "yes"; }
  // The unix ms the clock starts stopped at (DEBUG CLOCK SET from the start);
  // 0: the wall clock.
  int64_t debug_clock_ms() const { return std::stoll(GetValue("debug-clock")); }
  bool appendonly() const { return GetValue("appendonly") == "yes"; }
  std::string logfile() const { return GetValue("logfile"); }
  LogLevel loglevel() const;

  // Every directive, in conf/limiterd.conf order.
  static std::span<const DirectiveInfo> Directives();

 private:
  std::string SetLocked(size_t index, std::string_view value, bool startup);
  void RefreshHotLocked();

  mutable std::shared_mutex mu_;
  std::vector<std::string> values_;  // GUARDED_BY(mu_); index = Directives() index
  std::string config_file_;          // set once at start-up
  bool save_seen_ = false;           // GUARDED_BY(mu_); later `save` lines append

  std::atomic<uint64_t> maxclients_{0};
  std::atomic<int64_t> timeout_{0};
  std::atomic<uint64_t> proto_max_bulk_len_{0};
  std::atomic<uint64_t> query_buffer_limit_{0};
  std::atomic<bool> password_required_{false};
  std::atomic<int64_t> io_spin_us_{0};
  std::atomic<uint64_t> generation_{0};
};

enum class DirectiveType { kBool, kInt, kMemory, kString, kEnum, kSave, kList };

struct DirectiveInfo {
  std::string_view name;
  DirectiveType type;
  std::string_view default_value;
  bool runtime;  // CONFIG SET may change it
  int64_t min = 0;
  int64_t max = INT64_MAX;
  std::string_view choices = {};  // kEnum: "a, b, c"
};

// Splits a config line the way redis-server does (sdssplitargs: quotes,
// escapes). False on unbalanced quotes.
[[nodiscard]] bool SplitConfigLine(std::string_view line, std::vector<std::string>* out);

// "1mb" -> 1048576, "1m" -> 1000000, "100" -> 100 (Redis's memtoull).
[[nodiscard]] bool ParseMemory(std::string_view text, uint64_t* bytes);

}  // namespace limiterd::server
