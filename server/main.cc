// Copyright limiterd authors.
// limiterd [config-file] [--directive value ...]: the daemon's entry point.
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "command_table.h"
#include "config.h"
#include "durability.h"
#include "durability_setup.h"
#include "log.h"
#include "server.h"
#include "server_state.h"

namespace {

using namespace limiterd::server;  // NOLINT

void PrintUsage() {
  std::fputs(
      "Usage: ./limiterd [/path/to/limiterd.conf] [options] [-]\n"
      "       ./limiterd - (read config from stdin)\n"
      "       ./limiterd -v or --version\n"
      "       ./limiterd -h or --help\n"
      "       ./limiterd --commands-markdown (print docs/commands.md)\n"
      "       ./limiterd --check-aof <file> [--fix] (an AOF manifest, base or incr file)\n"
      "       ./limiterd --check-snapshot <file>\n"
      "\n"
      "Options are config directives, as in limiterd.conf, with a leading --:\n"
      "  --bind <addr ...>  --port <n>  --threads <n>  --requirepass <pw>\n"
      "  --maxclients <n>  --timeout <s>  --hierarchy-separator <sep>\n"
      "  --enable-debug-command yes|no  --loglevel debug|verbose|notice|warning\n"
      "  --logfile <path>  --proto-max-bulk-len <bytes>  --client-query-buffer-limit <bytes>\n"
      "  ... (every directive of conf/limiterd.conf)\n"
      "\n"
      "Examples:\n"
      "       ./limiterd (run the server with default config)\n"
      "       ./limiterd /etc/limiterd/6390.conf\n"
      "       ./limiterd --port 7777\n"
      "       ./limiterd /etc/limiterd.conf --loglevel verbose --threads 4\n",
      stdout);
}

// `--check-aof FILE [--fix]`, `--check-snapshot FILE`: the report on
// stdout, the exit code of the check. -1: not such a command line.
int RunFileCheck(const std::vector<std::string>& args) {
  std::string report;
  int code;
  if (args.size() >= 2 && args.size() <= 3 && args[0] == "--check-aof") {
    bool fix = args.size() == 3;
    if (fix && args[2] != "--fix") return -1;
    code = limiterd::persistence::CheckAof(args[1], fix, report);
  } else if (args.size() == 2 && args[0] == "--check-snapshot") {
    code = limiterd::persistence::CheckSnapshot(args[1], report);
  } else {
    return -1;
  }
  std::fputs(report.c_str(), stdout);
  if (!report.empty() && report.back() != '\n') std::fputc('\n', stdout);
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 1 && (args[0] == "-v" || args[0] == "--version")) {
    fmt::print("limiterd v={} bits=64 redis-compat={}\n", kVersion, kRedisCompatVersion);
    return 0;
  }
  if (args.size() == 1 && (args[0] == "-h" || args[0] == "--help")) {
    PrintUsage();
    return 0;
  }
  if (args.size() == 1 && args[0] == "--commands-markdown") {
    std::fputs(CommandsMarkdown().c_str(), stdout);
    return 0;
  }

  if (!args.empty() && (args[0] == "--check-aof" || args[0] == "--check-snapshot")) {
    int code = RunFileCheck(args);
    if (code >= 0) return code;
    std::fputs("Usage: limiterd --check-aof <file> [--fix] | --check-snapshot <file>\n", stderr);
    return 1;
  }

  Config config;
  if (std::string error = config.LoadFromArgs(args); !error.empty()) {
    std::fprintf(stderr, "%s\n", error.c_str());
    return 1;
  }
  if (config.debug_clock_ms() > 0 && !config.debug_command_enabled()) {
    std::fputs("debug-clock needs enable-debug-command yes\n", stderr);
    return 1;
  }
  if (!Log::SetFile(config.logfile())) {
    std::fprintf(stderr, "Can't open the log file '%s': %s\n", config.logfile().c_str(),
                 std::strerror(errno));
    return 1;
  }
  std::signal(SIGPIPE, SIG_IGN);
  // Past RLIMIT_FSIZE a write fails with EFBIG, which the AOF reports like a
  // full disk (MISCONF to writers), instead of the signal killing us.
  std::signal(SIGXFSZ, SIG_IGN);

  LogNotice("oO0OoO0OoO0Oo limiterd is starting oO0OoO0OoO0Oo");
  LogNotice("limiterd version={}, bits=64, pid={}, just started", kVersion, getpid());
  bool has_file = !args.empty() && (args[0] == "-" || args[0].rfind("--", 0) != 0);
  if (!has_file) {
    LogWarning("Warning: no config file specified, using the default config. In order to "
               "specify a config file use {} /path/to/limiterd.conf", argv[0]);
  } else {
    LogNotice("Configuration loaded from {}",
              config.config_file().empty() ? "standard input" : config.config_file());
  }

  size_t threads = static_cast<size_t>(config.threads());
  ServerState state(config, threads);
  std::error_code ec;
  state.executable = std::filesystem::canonical("/proc/self/exe", ec).string();
  Server server(state);
  // Bound first (a port in use fails at once), loaded next; connections
  // wait in the backlog until Run accepts them.
  if (!server.Listen()) return 1;
  LogNotice("Server initialized: {} io thread(s), port {}, hierarchy separator '{}'", threads,
            config.port(), config.separator());
  if (std::string error = OpenDurability(state); !error.empty()) {
    LogWarning("Fatal error loading the DB: {}. Exiting.", error);
    if (!config.logfile().empty()) {
      std::fprintf(stderr, "Fatal error loading the DB: %s\n", error.c_str());
    }
    return 1;
  }
  LogNotice("Ready to accept connections tcp");
  server.Run();
  // Stops the persistence threads while the io contexts they post to exist.
  state.durability.reset();
  LogWarning("limiterd is now ready to exit, bye bye...");
  return 0;
}
