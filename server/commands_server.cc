// Copyright limiterd authors.
// Server commands: COMMAND, INFO, CONFIG, DBSIZE, FLUSHALL, TIME, DEBUG, and
// the persistence commands (SAVE, BGSAVE, BGREWRITEAOF, LASTSAVE, SHUTDOWN)
// over persistence::Durability.
#include <algorithm>

#include "args.h"
#include "command_table.h"
#include "durability_setup.h"
#include "errors.h"
#include "glob.h"
#include "info.h"
#include "log.h"

namespace limiterd::server {
namespace {

// ---- COMMAND ---------------------------------------------------------------

void CommandAll(CommandContext& ctx) {
  const auto& commands = CommandTable::Get().commands();
  ctx.out.Array(commands.size());
  for (const CommandSpec& c : commands) ReplyCommandInfo(ctx.out, c);
}

void CommandCount(CommandContext& ctx) {
  ctx.out.Integer(static_cast<int64_t>(CommandTable::Get().commands().size()));
}

void CommandInfo(CommandContext& ctx) {
  if (ctx.args.size() == 2) return CommandAll(ctx);
  ctx.out.Array(ctx.args.size() - 2);
  for (size_t i = 2; i < ctx.args.size(); ++i) {
    const CommandSpec* c = CommandTable::Get().FindFullName(ctx.args[i]);
    if (c == nullptr) {
      ctx.out.Null();
    } else {
      ReplyCommandInfo(ctx.out, *c);
    }
  }
}

void CommandDocs(CommandContext& ctx) {
  std::vector<const CommandSpec*> found;
  if (ctx.args.size() == 2) {
    for (const CommandSpec& c : CommandTable::Get().commands()) found.push_back(&c);
  } else {
    for (size_t i = 2; i < ctx.args.size(); ++i) {
      if (const CommandSpec* c = CommandTable::Get().FindFullName(ctx.args[i])) found.push_back(c);
    }
  }
  ctx.out.Map(found.size());
  for (const CommandSpec* c : found) {
    ctx.out.Bulk(c->full_name);
    ReplyCommandDocs(ctx.out, *c);
  }
}

void CommandList(CommandContext& ctx) {
  enum { kAllNames, kAclCat, kPattern, kModule } filter = kAllNames;
  std::string_view value;
  if (ctx.args.size() == 5 && Is(ctx.args[2], "FILTERBY")) {
    value = ctx.args[4];
    if (Is(ctx.args[3], "ACLCAT")) {
      filter = kAclCat;
    } else if (Is(ctx.args[3], "PATTERN")) {
      filter = kPattern;
    } else if (Is(ctx.args[3], "MODULE")) {
      filter = kModule;
    } else {
      return ctx.ReplyError(err::kSyntax);
    }
  } else if (ctx.args.size() != 2) {
    return ctx.ReplyError(err::kSyntax);
  }
  std::vector<std::string_view> names;
  auto consider = [&](const CommandSpec& c) {
    bool ok = true;
    if (filter == kAclCat) {
      ok = std::any_of(c.acl.begin(), c.acl.end(),
                       [&](std::string_view cat) { return ToLower(cat.substr(1)) == ToLower(value); });
    } else if (filter == kPattern) {
      ok = GlobMatch(value, c.full_name, /*nocase=*/true);
    } else if (filter == kModule) {
      ok = false;
    }
    if (ok) names.push_back(c.full_name);
  };
  for (const CommandSpec& c : CommandTable::Get().commands()) {
    consider(c);
    for (const CommandSpec& sub : c.subcommands) consider(sub);
  }
  ctx.out.Array(names.size());
  for (std::string_view n : names) ctx.out.Bulk(n);
}

void CommandGetKeys(CommandContext& ctx) {
  std::span<const std::string_view> cmd_args = ctx.args.subspan(2);
  const CommandSpec* c = CommandTable::Get().Find(cmd_args[0]);
  if (c != nullptr && c->container() && cmd_args.size() >= 2) {
    c = CommandTable::FindSub(*c, cmd_args[1]);
  }
  if (c == nullptr) return ctx.ReplyError(err::kGetKeysInvalidCommand);
  int n = static_cast<int>(cmd_args.size());
  if ((c->arity > 0 && n != c->arity) || n < -c->arity) {
    return ctx.ReplyError(err::kGetKeysInvalidArity);
  }
  std::vector<std::string_view> keys;
  CollectKeys(*c, cmd_args, &keys);
  if (keys.empty()) return ctx.ReplyError(err::kGetKeysNoKeys);
  ctx.out.Array(keys.size());
  for (std::string_view k : keys) ctx.out.Bulk(k);
}

void CommandHelp(CommandContext& ctx) {
  static constexpr std::string_view kLines[] = {
      "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "(no subcommand)", "    Return details about all limiterd commands.",
      "COUNT", "    Return the total number of commands in this server.",
      "LIST [FILTERBY (MODULE <module-name>|ACLCAT <category>|PATTERN <pattern>)]",
      "    Return a list of all commands in this server.",
      "INFO [<command-name> ...]", "    Return details about multiple commands.",
      "    If no command names are given, details for all commands are returned.",
      "DOCS [<command-name> ...]", "    Return documentation details about multiple commands.",
      "    If no command names are given, documentation details for all",
      "    commands are returned.",
      "GETKEYS <full-command>", "    Return the keys from a full command.",
      "HELP", "    Prints this help.",
  };
  ctx.ReplyHelp(kLines);
}

// ---- INFO / CONFIG ---------------------------------------------------------

void ReplyText(CommandContext& ctx, std::string_view text) {
  if (ctx.session.protocol >= 3) {
    ctx.out.Verbatim(text);
  } else {
    ctx.out.Bulk(text);
  }
}

void Info(CommandContext& ctx) { ReplyText(ctx, InfoText(ctx.server, ctx.args.subspan(1))); }

void ConfigGet(CommandContext& ctx) {
  auto pairs = ctx.server.config.Get(ctx.args.subspan(2));
  ctx.out.Map(pairs.size());
  for (const auto& [name, value] : pairs) {
    ctx.out.Bulk(name);
    ctx.out.Bulk(value);
  }
}

void ConfigSet(CommandContext& ctx) {
  // hierarchy-separator, port, bind... are start-up only (config.cc's table).
  if (std::string e = ctx.server.config.Set(ctx.args.subspan(2)); !e.empty()) {
    return ctx.ReplyError(e);
  }
  ApplyDurabilityConfig(ctx.server);
  ctx.out.Simple("OK");
}

void ConfigRewrite(CommandContext& ctx) {
  if (std::string e = ctx.server.config.Rewrite(); !e.empty()) return ctx.ReplyError(e);
  LogNotice("CONFIG REWRITE executed with success.");
  ctx.out.Simple("OK");
}

void ConfigResetStat(CommandContext& ctx) {
  ctx.server.stats.Reset();
  ctx.out.Simple("OK");
}

void ConfigHelp(CommandContext& ctx) {
  static constexpr std::string_view kLines[] = {
      "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "GET <pattern>", "    Return parameters matching the glob-like <pattern> and their values.",
      "SET <directive> <value>", "    Set the configuration <directive> to <value>.",
      "RESETSTAT", "    Reset statistics reported by the INFO command.",
      "REWRITE", "    Rewrite the configuration file.",
      "HELP", "    Prints this help.",
  };
  ctx.ReplyHelp(kLines);
}

// ---- Data and time ---------------------------------------------------------

void DbSize(CommandContext& ctx) {
  ctx.out.Integer(static_cast<int64_t>(ctx.server.engine.Size()));
}

void FlushAll(CommandContext& ctx) {
  if (ctx.args.size() > 2 || (ctx.args.size() == 2 && !Is(ctx.args[1], "ASYNC") &&
                              !Is(ctx.args[1], "SYNC"))) {
    return ctx.ReplyError(err::kSyntax);
  }
  ctx.server.engine.Clear();
  ctx.out.Simple("OK");
}

// TIME reports the daemon's clock: the one limits see (DEBUG CLOCK moves it).
void Time(CommandContext& ctx) {
  int64_t ms = ctx.server.clock.NowMs();
  ctx.out.Array(2);
  ctx.out.Bulk(std::to_string(ms / 1000));
  ctx.out.Bulk(std::to_string(ms % 1000 * 1000));
}

// ---- Persistence -----------------------------------------------------------

// Durability's errors are Redis's texts without a prefix ("Background save
// already in progress"), or with their own (MISCONF ...).
void ReplyPersistenceError(CommandContext& ctx, const limiterd::Error& error) {
  std::string_view m = error.message;
  size_t space = m.find(' ');
  std::string_view word = m.substr(0, space);
  bool prefixed = space != std::string_view::npos && !word.empty() &&
                  std::all_of(word.begin(), word.end(),
                              [](char c) { return c >= 'A' && c <= 'Z'; });
  if (prefixed) return ctx.ReplyError(m);
  ctx.ReplyError(limiterd::Error{ErrorCode::kInvalidArgument, error.message});
}

persistence::Durability* DurabilityOrError(CommandContext& ctx) {
  if (ctx.server.durability == nullptr) ctx.ReplyError(err::kNoPersistence);
  return ctx.server.durability.get();
}

void LastSave(CommandContext& ctx) {
  ctx.out.Integer(ctx.server.durability ? ctx.server.durability->LastSaveUnix()
                                        : ctx.server.start_unix_ms / 1000);
}

void Save(CommandContext& ctx) {
  persistence::Durability* d = DurabilityOrError(ctx);
  if (d == nullptr) return;
  auto r = d->Save();
  if (!r) return ReplyPersistenceError(ctx, r.error());
  ctx.out.Simple("OK");
}

void BgSave(CommandContext& ctx) {
  bool schedule = false;
  if (ctx.args.size() == 2 && Is(ctx.args[1], "SCHEDULE")) {
    schedule = true;
  } else if (ctx.args.size() > 1) {
    return ctx.ReplyError(err::kSyntax);
  }
  persistence::Durability* d = DurabilityOrError(ctx);
  if (d == nullptr) return;
  // As Redis: a BGSAVE cannot run beside an AOF rewrite (both take the
  // engine's one point-in-time snapshot); SCHEDULE lets the cron start it
  // once the rewrite ends.
  persistence::PersistenceInfo info = d->Info();
  if (info.aof_rewrite_in_progress && !info.rdb_bgsave_in_progress) {
    if (!schedule) return ctx.ReplyError(err::kBgSaveDuringRewrite);
    ctx.server.bgsave_scheduled.store(true, std::memory_order_relaxed);
    return ctx.out.Simple("Background saving scheduled");
  }
  auto r = d->BgSave();
  if (!r) return ReplyPersistenceError(ctx, r.error());
  ctx.out.Simple(*r);
}

void BgRewriteAof(CommandContext& ctx) {
  persistence::Durability* d = DurabilityOrError(ctx);
  if (d == nullptr) return;
  auto r = d->BgRewriteAof();
  if (!r) return ReplyPersistenceError(ctx, r.error());
  ctx.out.Simple(*r);
}

void Shutdown(CommandContext& ctx) {
  bool save = false, nosave = false, abort = false;
  for (size_t i = 1; i < ctx.args.size(); ++i) {
    std::string_view a = ctx.args[i];
    if (Is(a, "SAVE")) {
      save = true;
    } else if (Is(a, "NOSAVE")) {
      nosave = true;
    } else if (Is(a, "NOW") || Is(a, "FORCE")) {
    } else if (Is(a, "ABORT")) {
      abort = true;
    } else {
      return ctx.ReplyError(err::kSyntax);
    }
  }
  if (abort) {
    return ctx.ReplyError(ctx.args.size() == 2 ? err::kNoShutdownInProgress : err::kSyntax);
  }
  if (save && nosave) return ctx.ReplyError(err::kSyntax);
  LogWarning("User requested shutdown...");
  if (ctx.server.durability != nullptr) {
    // Flushes and fsyncs the AOF; snapshots with SAVE, or when save rules
    // are set (unless NOSAVE). A failed snapshot keeps the daemon running,
    // as Redis does.
    auto r = ctx.server.durability->Shutdown(save, nosave);
    if (!r) {
      LogWarning("Errors trying to shut down the server: {}", r.error().message);
      return ctx.ReplyError(err::kShutdownFailed);
    }
  } else if (save) {
    return ctx.ReplyError(err::kNoPersistence);
  }
  ctx.session.close_after_reply = true;
  ctx.server.RequestShutdown();
}

// ---- DEBUG -----------------------------------------------------------------

void Debug(CommandContext& ctx) {
  if (!ctx.server.config.debug_command_enabled()) return ctx.ReplyError(err::kDebugDisabled);
  std::span<const std::string_view> a = ctx.args;
  if (a.size() >= 3 && Is(a[1], "CLOCK")) {
    int64_t ms;
    if (Is(a[2], "SET") && a.size() == 4) {
      if (!ParseInt64(a[3], &ms)) return ctx.ReplyError(err::kNotInteger);
      if (ms < 0) return ctx.ReplyError(err::kNotPositive);
      ctx.server.clock.Set(ms);
    } else if (Is(a[2], "ADVANCE") && a.size() == 4) {
      if (!ParseInt64(a[3], &ms)) return ctx.ReplyError(err::kNotInteger);
      if (ms < 0) return ctx.ReplyError(err::kNotPositive);
      ctx.server.clock.Advance(ms);
    } else if (Is(a[2], "REAL") && a.size() == 3) {
      ctx.server.clock.Real();
    } else {
      return ctx.ReplyError(err::kDebugClockUsage);
    }
    return ctx.out.Simple("OK");
  }
  if (a.size() == 2 && Is(a[1], "HELP")) {
    static constexpr std::string_view kLines[] = {
        "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CLOCK SET <unix-ms>", "    Stop the daemon's clock at <unix-ms>.",
        "CLOCK ADVANCE <ms>", "    Move the daemon's clock forward by <ms>.",
        "CLOCK REAL", "    Return to the wall clock.",
        "HELP", "    Prints this help.",
    };
    return ctx.ReplyHelp(kLines);
  }
  ctx.ReplyError(err::UnknownSubcommand(a[1], "DEBUG"));
}

constexpr uint32_t kAdminFlags = kAdmin | kNoScript | kLoading | kStale;

CommandSpec Sub(std::string_view name, int arity, uint32_t flags, std::vector<std::string_view> acl,
                std::string_view summary, std::string_view since, Handler h,
                std::vector<Arg> args = {}, std::string_view complexity = "O(1)") {
  return CommandSpec{.name = name, .arity = arity, .flags = flags, .acl = std::move(acl),
                     .summary = summary, .since = since, .group = "server",
                     .complexity = complexity, .args = std::move(args), .handler = h};
}

std::vector<std::string_view> AdminAcl() { return {"@admin", "@slow", "@dangerous"}; }

}  // namespace

std::vector<CommandSpec> ServerCommands() {
  std::vector<CommandSpec> v;
  Arg name_multi{.name = "command-name", .type = ArgType::kString, .flags = kOptional | kMultiple};
  CommandSpec command{.name = "command", .arity = -1, .flags = kLoading | kStale,
                      .acl = {"@slow", "@connection"},
                      .summary = "Returns detailed information about all commands",
                      .since = "2.8.13", .group = "server",
                      .complexity = "O(N) where N is the total number of commands",
                      .handler = CommandAll, .tips = {"nondeterministic_output_order"}};
  auto csub = [](std::string_view name, int arity, std::string_view summary,
                 std::string_view since, Handler h, std::vector<Arg> args = {}) {
    return Sub(name, arity, kLoading | kStale, {"@slow", "@connection"}, summary, since, h,
               std::move(args));
  };
  command.subcommands.push_back(
      csub("count", 2, "Returns a count of commands", "2.8.13", CommandCount));
  command.subcommands.push_back(csub("info", -2, "Returns information about one, multiple or all commands",
                                     "2.8.13", CommandInfo, {name_multi}));
  command.subcommands.back().tips = {"nondeterministic_output_order"};
  command.subcommands.push_back(csub("docs", -2, "Returns documentary information about one, multiple or all commands",
                                     "7.0.0", CommandDocs, {name_multi}));
  command.subcommands.back().tips = {"nondeterministic_output_order"};
  command.subcommands.push_back(csub(
      "list", -2, "Returns a list of command names", "7.0.0", CommandList,
      {{.name = "filterby", .type = ArgType::kOneOf, .token = "FILTERBY", .flags = kOptional,
        .args = {{.name = "module-name", .type = ArgType::kString, .token = "MODULE"},
                 {.name = "category", .type = ArgType::kString, .token = "ACLCAT"},
                 {.name = "pattern", .type = ArgType::kPattern, .token = "PATTERN"}}}}));
  command.subcommands.back().tips = {"nondeterministic_output_order"};
  command.subcommands.push_back(csub(
      "getkeys", -3, "Extracts the key names from an arbitrary command", "2.8.13", CommandGetKeys,
      {{.name = "command", .type = ArgType::kString},
       {.name = "arg", .type = ArgType::kString, .flags = kOptional | kMultiple}}));
  command.subcommands.push_back(
      csub("help", 2, "Returns helpful text about the different subcommands", "5.0.0",
           CommandHelp));
  v.push_back(std::move(command));

  v.push_back({.name = "info", .arity = -1, .flags = kLoading | kStale,
               .acl = {"@slow", "@dangerous"},
               .summary = "Returns information and statistics about the server", .since = "1.0.0",
               .group = "server", .complexity = "O(1)",
               .args = {{.name = "section", .type = ArgType::kString,
                         .flags = kOptional | kMultiple}},
               .handler = Info, .tips = {"nondeterministic_output"},
               .access = DataAccess::kAll,
               .reply = "Text (RESP3: a verbatim string) of `field:value` lines in `# Section` "
                        "groups, with Redis's field names."});

  CommandSpec config{.name = "config", .arity = -2, .flags = 0, .acl = {"@slow"},
                     .summary = "A container for server configuration commands", .since = "2.0.0",
                     .group = "server", .complexity = "Depends on subcommand."};
  config.subcommands.push_back(
      Sub("get", -3, kAdminFlags, AdminAcl(), "Returns the effective values of configuration parameters",
          "2.0.0", ConfigGet,
          {{.name = "parameter", .type = ArgType::kString, .flags = kMultiple}},
          "O(N) when N is the number of configuration parameters provided"));
  config.subcommands.push_back(
      Sub("set", -4, kAdminFlags, AdminAcl(), "Sets configuration parameters in-flight", "2.0.0",
          ConfigSet,
          {{.name = "data", .type = ArgType::kBlock, .flags = kMultiple,
            .args = {{.name = "parameter", .type = ArgType::kString},
                     {.name = "value", .type = ArgType::kString}}}},
          "O(N) when N is the number of configuration parameters provided"));
  config.subcommands.push_back(Sub("rewrite", 2, kAdminFlags, AdminAcl(),
                                   "Persists the effective configuration to file", "2.8.0",
                                   ConfigRewrite));
  config.subcommands.push_back(Sub("resetstat", 2, kAdminFlags, AdminAcl(),
                                   "Resets the server's statistics", "2.0.0", ConfigResetStat));
  config.subcommands.push_back(Sub("help", 2, kLoading | kStale, {"@slow"},
                                   "Returns helpful text about the different subcommands",
                                   "5.0.0", ConfigHelp));
  v.push_back(std::move(config));

  v.push_back({.name = "dbsize", .arity = 1, .flags = kReadOnly | kFast,
               .acl = {"@keyspace", "@read", "@fast"},
               .summary = "Returns the number of keys with a limit or a counter", .since = "1.0.0",
               .group = "server", .complexity = "O(S) where S is the number of lock shards",
               .handler = DbSize, .access = DataAccess::kAll,
               .reply = "Integer: keys with a definition or a materialized counter."});
  v.push_back({.name = "flushall", .arity = -1, .flags = kWrite,
               .acl = {"@keyspace", "@write", "@slow", "@dangerous"},
               .summary = "Removes every limit and counter", .since = "1.0.0", .group = "server",
               .complexity = "O(N) where N is the total number of keys",
               .args = {{.name = "flush-type", .type = ArgType::kOneOf, .flags = kOptional,
                         .args = {{.name = "async", .type = ArgType::kPureToken, .token = "ASYNC"},
                                  {.name = "sync", .type = ArgType::kPureToken, .token = "SYNC"}}}},
               .handler = FlushAll, .access = DataAccess::kAll, .reply = "`OK`."});
  v.push_back({.name = "time", .arity = 1, .flags = kLoading | kStale | kFast,
               .acl = {"@fast"}, .summary = "Returns the server time (the clock limits use)",
               .since = "2.6.0", .group = "server", .complexity = "O(1)", .handler = Time,
               .tips = {"nondeterministic_output"},
               .reply = "An array: unix seconds and microseconds, as bulk strings."});
  v.push_back({.name = "lastsave", .arity = 1, .flags = kLoading | kStale | kFast,
               .acl = {"@admin", "@fast", "@dangerous"},
               .summary = "Returns the unix time of the last successful snapshot (SAVE, BGSAVE, "
                          "save rules)",
               .since = "1.0.0", .group = "server", .complexity = "O(1)", .handler = LastSave,
               .tips = {"nondeterministic_output"},
               .reply = "Integer: unix seconds (the start time until the first snapshot)."});
  v.push_back({.name = "save", .arity = 1, .flags = kAdmin | kNoScript | kNoMulti,
               .acl = AdminAcl(),
               .summary = "Writes a snapshot of every limit and counter to disk, synchronously "
                          "(other clients keep being served)",
               .since = "1.0.0", .group = "server", .complexity = "O(N)",
               .handler = Save,
               .reply = "`OK`, or an error if the snapshot could not be written (or a BGSAVE "
                        "runs)."});
  v.push_back({.name = "bgsave", .arity = -1, .flags = kAdmin | kNoScript, .acl = AdminAcl(),
               .summary = "Writes a point-in-time snapshot to disk in the background",
               .since = "1.0.0", .group = "server", .complexity = "O(1)",
               .args = {{.name = "schedule", .type = ArgType::kPureToken, .token = "SCHEDULE",
                         .flags = kOptional, .since = "3.2.2"}},
               .handler = BgSave,
               .reply = "`Background saving started`; with SCHEDULE during an AOF rewrite, "
                        "`Background saving scheduled`; an error if a BGSAVE (or, without "
                        "SCHEDULE, an AOF rewrite) runs. INFO persistence reports the outcome."});
  v.push_back({.name = "bgrewriteaof", .arity = 1, .flags = kAdmin | kNoScript,
               .acl = AdminAcl(),
               .summary = "Compacts the append-only file in the background (a new base "
                          "snapshot, then a new incremental file)",
               .since = "1.0.0", .group = "server", .complexity = "O(1)",
               .handler = BgRewriteAof,
               .reply = "`Background append only file rewriting started` (or `... scheduled` "
                        "while a BGSAVE runs); an error if a rewrite runs, or with appendonly "
                        "no."});
  v.push_back({.name = "shutdown", .arity = -1,
               .flags = kAdmin | kNoScript | kLoading | kStale | kNoMulti | kAllowBusy,
               .acl = AdminAcl(),
               .summary = "Makes the state durable, stops accepting, drains the connections and "
                          "exits",
               .since = "1.0.0", .group = "server",
               .complexity = "O(N) where N is the number of connections",
               .args = {{.name = "save-selector", .type = ArgType::kOneOf, .flags = kOptional,
                         .args = {{.name = "nosave", .type = ArgType::kPureToken,
                                   .token = "NOSAVE"},
                                  {.name = "save", .type = ArgType::kPureToken, .token = "SAVE"}}},
                        {.name = "now", .type = ArgType::kPureToken, .token = "NOW",
                         .flags = kOptional, .since = "7.0.0"},
                        {.name = "force", .type = ArgType::kPureToken, .token = "FORCE",
                         .flags = kOptional, .since = "7.0.0"},
                        {.name = "abort", .type = ArgType::kPureToken, .token = "ABORT",
                         .flags = kOptional, .since = "7.0.0"}},
               .handler = Shutdown,
               .reply = "Nothing on success (the AOF is flushed and fsynced, a snapshot is "
                        "written with SAVE or when save rules are set unless NOSAVE, then the "
                        "connection closes); an error if that snapshot failed (the daemon keeps "
                        "running)."});
  v.push_back({.name = "debug", .arity = -2,
               .flags = kAdmin | kNoScript | kLoading | kStale, .acl = AdminAcl(),
               .summary = "Moves the daemon's clock for tests: DEBUG CLOCK SET unix-ms, "
                          "ADVANCE ms or REAL (needs enable-debug-command yes)",
               .since = "1.0.0", .group = "server", .complexity = "O(1)",
               .args = {{.name = "subcommand", .type = ArgType::kString},
                        {.name = "arg", .type = ArgType::kString, .flags = kOptional | kMultiple}},
               .handler = Debug, .reply = "`OK`."});
  return v;
}

}  // namespace limiterd::server
