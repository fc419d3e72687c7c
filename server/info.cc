// Copyright limiterd authors.
#include "info.h"

#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>

#include <fmt/format.h>

#include "args.h"

// jemalloc's control interface, when the executable links jemalloc (weak:
// the tests and sanitizer builds run without it).
extern "C" int mallctl(const char* name, void* oldp, size_t* oldlenp, void* newp,
                       size_t newlen) __attribute__((weak));

namespace limiterd::server {
namespace {

std::string Human(uint64_t bytes) {
  double b = static_cast<double>(bytes);
  if (b < 1024) return fmt::format("{}B", bytes);
  if (b < 1024.0 * 1024) return fmt::format("{:.2f}K", b / 1024);
  if (b < 1024.0 * 1024 * 1024) return fmt::format("{:.2f}M", b / 1024 / 1024);
  return fmt::format("{:.2f}G", b / 1024 / 1024 / 1024);
}

uint64_t RssBytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

// Bytes allocated by the program: jemalloc's stats.allocated, else the RSS.
uint64_t AllocatedBytes(bool* from_jemalloc) {
  *from_jemalloc = false;
  if (mallctl != nullptr) {
    uint64_t epoch = 1;
    size_t len = sizeof epoch;
    mallctl("epoch", &epoch, &len, &epoch, len);
    size_t allocated = 0;
    len = sizeof allocated;
    if (mallctl("stats.allocated", &allocated, &len, nullptr, 0) == 0) {
      *from_jemalloc = true;
      return allocated;
    }
  }
  return RssBytes();
}

void Server(ServerState& s, std::string& o) {
  utsname u{};
  uname(&u);
  auto uptime = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::steady_clock::now() - s.start_steady)
                    .count();
  int64_t now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  o += fmt::format(
      "# Server\r\nredis_version:{}\r\nlimiterd_version:{}\r\nredis_mode:standalone\r\n"
      "os:{} {} {}\r\narch_bits:64\r\nmultiplexing_api:epoll\r\ngcc_version:{}.{}.{}\r\n"
      "process_id:{}\r\nrun_id:{}\r\ntcp_port:{}\r\nserver_time_usec:{}\r\n"
      "uptime_in_seconds:{}\r\nuptime_in_days:{}\r\nhz:10\r\nexecutable:{}\r\nconfig_file:{}\r\n"
      "io_threads_active:{}\r\nthreads:{}\r\nhierarchy_separator:{}\r\n",
      kRedisCompatVersion, kVersion, u.sysname, u.release, u.machine, __GNUC__, __GNUC_MINOR__,
      __GNUC_PATCHLEVEL__, getpid(), s.run_id, s.tcp_port.load(), now_us, uptime,
      uptime / 86400, s.executable, s.config.config_file(), s.io_threads > 1 ? 1 : 0,
      s.io_threads, s.config.separator());
}

void Clients(ServerState& s, std::string& o) {
  o += fmt::format(
      "# Clients\r\nconnected_clients:{}\r\ncluster_connections:0\r\nmaxclients:{}\r\n"
      "blocked_clients:0\r\ntracking_clients:0\r\nclients_in_timeout_table:0\r\n",
      s.clients.size(), s.config.maxclients());
}

void Memory(ServerState&, std::string& o) {
  bool jemalloc;
  uint64_t used = AllocatedBytes(&jemalloc);
  uint64_t rss = RssBytes();
  o += fmt::format(
      "# Memory\r\nused_memory:{}\r\nused_memory_human:{}\r\nused_memory_rss:{}\r\n"
      "used_memory_rss_human:{}\r\nmaxmemory:0\r\nmaxmemory_human:0B\r\n"
      "maxmemory_policy:noeviction\r\nmem_fragmentation_ratio:{:.2f}\r\nmem_allocator:{}\r\n",
      used, Human(used), rss, Human(rss),
      used > 0 ? static_cast<double>(rss) / static_cast<double>(used) : 0.0,
      jemalloc ? "jemalloc" : "libc");
}

// Redis 7's fields and order (the fork-related ones it has no use for left
// out), from persistence::Durability; aof_fsyncs and aof_records are
// limiterd's (group commit: far fewer fsyncs than records), and so are
// aof_fsyncs_inline (of the fsyncs, those io threads made themselves:
// aof-inline-fsync-max-us) and aof_zero_filled_ahead (appendfsync always:
// disk space past aof_current_size, zero-filled ahead of the writes).
void Persistence(ServerState& s, std::string& o) {
  persistence::PersistenceInfo p;
  if (s.durability) {
    p = s.durability->Info();
  } else {
    p.rdb_last_save_time = s.start_unix_ms / 1000;
  }
  o += fmt::format(
      "# Persistence\r\nloading:{}\r\nasync_loading:0\r\nrdb_changes_since_last_save:{}\r\n"
      "rdb_bgsave_in_progress:{}\r\nrdb_last_save_time:{}\r\nrdb_last_bgsave_status:{}\r\n"
      "rdb_last_bgsave_time_sec:{}\r\nrdb_current_bgsave_time_sec:{}\r\nrdb_saves:{}\r\n"
      "rdb_last_load_keys_loaded:{}\r\naof_enabled:{}\r\naof_rewrite_in_progress:{}\r\n"
      "aof_rewrite_scheduled:{}\r\naof_last_rewrite_time_sec:{}\r\n"
      "aof_current_rewrite_time_sec:{}\r\naof_last_bgrewrite_status:{}\r\naof_rewrites:{}\r\n"
      "aof_rewrites_consecutive_failures:{}\r\naof_last_write_status:{}\r\n",
      p.loading ? 1 : 0, p.rdb_changes_since_last_save, p.rdb_bgsave_in_progress ? 1 : 0,
      p.rdb_last_save_time, p.rdb_last_bgsave_status, p.rdb_last_bgsave_time_sec,
      p.rdb_current_bgsave_time_sec, p.rdb_saves, s.load_report.keys, p.aof_enabled ? 1 : 0,
      p.aof_rewrite_in_progress ? 1 : 0, p.aof_rewrite_scheduled ? 1 : 0,
      p.aof_last_rewrite_time_sec, p.aof_current_rewrite_time_sec, p.aof_last_bgrewrite_status,
      p.aof_rewrites, p.aof_rewrites_consecutive_failures, p.aof_last_write_status);
  if (!p.aof_enabled) return;
  o += fmt::format(
      "aof_current_size:{}\r\naof_base_size:{}\r\naof_buffer_length:{}\r\n"
      "aof_delayed_fsync:{}\r\naof_fsyncs:{}\r\naof_fsyncs_inline:{}\r\naof_records:{}\r\n"
      "aof_zero_filled_ahead:{}\r\n",
      p.aof_current_size, p.aof_base_size, p.aof_buffer_length, p.aof_delayed_fsync,
      p.aof_fsyncs, p.aof_fsyncs_inline, p.aof_records, p.aof_zero_filled_ahead);
}

void StatsSection(ServerState& s, std::string& o) {
  StatsTotals t = s.stats.Sum();
  o += fmt::format(
      "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\n"
      "instantaneous_ops_per_sec:{}\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\n"
      "rejected_connections:{}\r\nexpired_keys:0\r\nevicted_keys:0\r\nevicted_clients:0\r\n"
      "keyspace_hits:{}\r\nkeyspace_misses:{}\r\npubsub_channels:0\r\npubsub_patterns:0\r\n"
      "total_error_replies:{}\r\ntotal_reads_processed:{}\r\ntotal_writes_processed:{}\r\n",
      t.connections, t.commands, s.stats.ops_per_sec(), t.net_input, t.net_output, t.rejected,
      t.keyspace_hits, t.keyspace_misses, t.errors, t.reads, t.writes);
}

void Replication(ServerState& s, std::string& o) {
  o += fmt::format(
      "# Replication\r\nrole:master\r\nconnected_slaves:0\r\nmaster_failover_state:no-failover\r\n"
      "master_replid:{}\r\nmaster_replid2:0000000000000000000000000000000000000000\r\n"
      "master_repl_offset:0\r\nsecond_repl_offset:-1\r\nrepl_backlog_active:0\r\n",
      s.run_id);
}

void Cpu(ServerState&, std::string& o) {
  rusage self{}, children{};
  getrusage(RUSAGE_SELF, &self);
  getrusage(RUSAGE_CHILDREN, &children);
  auto sec = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + tv.tv_usec / 1e6; };
  o += fmt::format(
      "# CPU\r\nused_cpu_sys:{:.6f}\r\nused_cpu_user:{:.6f}\r\nused_cpu_sys_children:{:.6f}\r\n"
      "used_cpu_user_children:{:.6f}\r\n",
      sec(self.ru_stime), sec(self.ru_utime), sec(children.ru_stime), sec(children.ru_utime));
}

void Keyspace(ServerState& s, std::string& o) {
  o += "# Keyspace\r\n";
  size_t keys = s.engine.Size();
  if (keys > 0) o += fmt::format("db0:keys={},expires=0,avg_ttl=0\r\n", keys);
}

struct Section {
  std::string_view name;
  void (*write)(ServerState&, std::string&);
};

constexpr Section kSections[] = {
    {"server", Server},           {"clients", Clients},         {"memory", Memory},
    {"persistence", Persistence}, {"stats", StatsSection},      {"replication", Replication},
    {"cpu", Cpu},                 {"keyspace", Keyspace},
};

}  // namespace

std::string InfoText(ServerState& server, std::span<const std::string_view> sections) {
  bool all = sections.empty();
  for (std::string_view s : sections) {
    if (Is(s, "DEFAULT") || Is(s, "ALL") || Is(s, "EVERYTHING")) all = true;
  }
  std::string out;
  for (const Section& section : kSections) {
    bool wanted = all;
    for (std::string_view s : sections) wanted = wanted || ToLower(s) == section.name;
    if (!wanted) continue;
    if (!out.empty()) out += "\r\n";
    section.write(server, out);
  }
  return out;
}

}  // namespace limiterd::server
