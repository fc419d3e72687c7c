// Copyright limiterd authors.
#include "durability_setup.h"

#include <mutex>
#include <sstream>
#include <vector>

#include "log.h"

namespace limiterd::server {
namespace {

persistence::FsyncPolicy PolicyFrom(const std::string& name) {
  if (name == "always") return persistence::FsyncPolicy::kAlways;
  if (name == "no") return persistence::FsyncPolicy::kNo;
  return persistence::FsyncPolicy::kEverySec;
}

// "3600 1 300 100" (validated by Config: an even count of integers >= 0).
std::vector<persistence::SaveRule> SaveRulesFrom(const std::string& value) {
  std::istringstream in(value);
  std::vector<persistence::SaveRule> rules;
  persistence::SaveRule rule;
  while (in >> rule.seconds >> rule.changes) rules.push_back(rule);
  return rules;
}

}  // namespace

persistence::DurabilityOptions DurabilityOptionsFrom(const Config& config) {
  persistence::DurabilityOptions o;
  o.dir = config.GetValue("dir");
  o.appendonly = config.appendonly();
  o.appendfsync = PolicyFrom(config.GetValue("appendfsync"));
  o.appendfilename = config.GetValue("appendfilename");
  o.appenddirname = config.GetValue("appenddirname");
  o.dbfilename = config.GetValue("dbfilename");
  o.aof_load_truncated = config.GetValue("aof-load-truncated") == "yes";
  o.aof_zero_fill = config.GetValue("aof-zero-fill") == "yes";
  o.aof_inline_fsync_max_us = std::stoll(config.GetValue("aof-inline-fsync-max-us"));
  o.auto_aof_rewrite_percentage = std::stoll(config.GetValue("auto-aof-rewrite-percentage"));
  o.auto_aof_rewrite_min_size = std::stoll(config.GetValue("auto-aof-rewrite-min-size"));
  o.save_rules = SaveRulesFrom(config.GetValue("save"));
  o.stop_writes_on_bgsave_error = config.GetValue("stop-writes-on-bgsave-error") == "yes";
  o.wall_ms = [] { return SystemClock().NowMs(); };
  o.log_warning = [](const std::string& text) { LogWarning("{}", text); };
  o.log_notice = [](const std::string& text) { LogNotice("{}", text); };
  return o;
}

void ApplyDurabilityConfig(ServerState& server) {
  if (!server.durability) return;
  // Read and hand over as one step: of two CONFIG SETs at once, the one
  // applied last reads the configuration after both.
  static std::mutex mu;
  std::lock_guard lock(mu);
  server.durability->Reconfigure(DurabilityOptionsFrom(server.config));
}

std::string OpenDurability(ServerState& server,
                           std::function<void(std::string_view step)> job_step_hook) {
  persistence::DurabilityOptions options = DurabilityOptionsFrom(server.config);
  options.job_step_hook = std::move(job_step_hook);
  server.durability =
      std::make_unique<persistence::Durability>(server.engine, std::move(options));
  auto report = server.durability->Load();
  if (!report) {
    server.durability.reset();
    return report.error().message;
  }
  const persistence::LoadReport& r = *report;
  if (r.truncated_tail) {
    LogWarning("!!! Warning: short read while loading the AOF: {} !!!", r.warning);
    LogWarning("AOF loaded anyway because aof-load-truncated is enabled");
  }
  if (r.source == "aof") {
    LogNotice("DB loaded from append only file: {:.3f} seconds", r.seconds);
    LogNotice("Done loading AOF, keys loaded: {}, change records replayed: {}.", r.keys,
              r.records);
  } else if (r.source == "snapshot") {
    LogNotice("DB loaded from disk: {:.3f} seconds", r.seconds);
    LogNotice("Done loading snapshot, keys loaded: {}.", r.keys);
  } else {
    LogVerbose("No snapshot or append only file to load: starting empty");
  }
  server.load_report = r;
  return {};
}

}  // namespace limiterd::server
