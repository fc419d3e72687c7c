// Copyright limiterd authors.
#include "server_state.h"

#include <random>

#include <fmt/format.h>

namespace limiterd::server {
namespace {

std::string RandomRunId() {
  std::random_device rd;
  std::string id;
  for (int i = 0; i < 40; ++i) id += "0123456789abcdef"[rd() % 16];
  return id;
}

EngineOptions MakeEngineOptions(const Config& config, const Clock* clock) {
  EngineOptions o;
  o.separator = config.separator();
  o.clock = clock;
  return o;
}

}  // namespace

void ClientRegistry::Add(std::shared_ptr<ClientInfo> client) {
  std::lock_guard lock(mu_);
  uint64_t id = client->id;
  clients_.emplace(id, std::move(client));
  size_.store(clients_.size(), std::memory_order_relaxed);
}

void ClientRegistry::Remove(uint64_t id) {
  std::lock_guard lock(mu_);
  clients_.erase(id);
  size_.store(clients_.size(), std::memory_order_relaxed);
}

std::shared_ptr<ClientInfo> ClientRegistry::Find(uint64_t id) const {
  std::lock_guard lock(mu_);
  auto it = clients_.find(id);
  return it == clients_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<ClientInfo>> ClientRegistry::All() const {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<ClientInfo>> out;
  out.reserve(clients_.size());
  for (const auto& [id, c] : clients_) out.push_back(c);
  return out;
}

Stats::Stats(size_t threads) {
  for (size_t i = 0; i < std::max<size_t>(threads, 1); ++i) {
    blocks_.push_back(std::make_unique<ThreadStats>());
  }
}

StatsTotals Stats::Sum() const {
  StatsTotals t;
  auto get = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  for (const auto& b : blocks_) {
    t.commands += get(b->commands);
    t.net_input += get(b->net_input);
    t.net_output += get(b->net_output);
    t.connections += get(b->connections);
    t.rejected += get(b->rejected);
    t.errors += get(b->errors);
    t.keyspace_hits += get(b->keyspace_hits);
    t.keyspace_misses += get(b->keyspace_misses);
    t.reads += get(b->reads);
    t.writes += get(b->writes);
  }
  return t;
}

void Stats::Reset() {
  for (auto& b : blocks_) {
    for (auto* a : {&b->commands, &b->net_input, &b->net_output, &b->connections, &b->rejected,
                    &b->errors, &b->keyspace_hits, &b->keyspace_misses, &b->reads, &b->writes}) {
      a->store(0, std::memory_order_relaxed);
    }
  }
  last_commands_.store(0, std::memory_order_relaxed);
  ops_per_sec_.store(0, std::memory_order_relaxed);
}

void Stats::Sample() {
  uint64_t now = Sum().commands;
  uint64_t before = last_commands_.exchange(now, std::memory_order_relaxed);
  ops_per_sec_.store(now >= before ? now - before : 0, std::memory_order_relaxed);
}

ServerState::ServerState(const Config& cfg, size_t threads)
    : config(cfg),
      engine(MakeEngineOptions(config, &clock)),
      stats(threads + 1),
      start_unix_ms(SystemClock().NowMs()),
      start_steady(std::chrono::steady_clock::now()),
      run_id(RandomRunId()),
      io_threads(threads) {
  if (config.debug_command_enabled() && config.debug_clock_ms() > 0) {
    clock.Set(config.debug_clock_ms());
  }
}

void ServerState::RequestShutdown() {
  shutdown_requested_.store(true, std::memory_order_release);
  if (shutdown_handler_) shutdown_handler_();
}

int64_t ServerState::SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace limiterd::server
