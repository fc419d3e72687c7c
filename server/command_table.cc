// Copyright limiterd authors.
#include "command_table.h"

#include <algorithm>

#include "args.h"
#include "errors.h"

namespace limiterd::server {
namespace {

bool ArityOk(const CommandSpec& c, size_t argc) {
  int n = static_cast<int>(argc);
  return c.arity >= 0 ? n == c.arity : n >= -c.arity;
}

// Commands that run at once inside MULTI instead of being queued (Redis:
// EXEC, DISCARD, MULTI, WATCH, QUIT, RESET).
bool RunsInsideMulti(const CommandSpec& c) {
  static constexpr std::string_view kNames[] = {"exec", "discard", "multi", "watch", "quit",
                                                "reset"};
  return c.parent == nullptr &&
         std::find(std::begin(kNames), std::end(kNames), c.name) != std::end(kNames);
}

// A command refused before it runs. Inside MULTI it also dooms the
// transaction (Redis's flagTransaction).
void Reject(Session& s, resp::ReplyWriter& out, std::string_view text) {
  if (s.in_multi) s.multi_failed = true;
  ThreadStats::Add(s.stats->errors, 1);
  out.Error(text);
}

void Link(CommandSpec& c, const CommandSpec* parent) {
  c.parent = parent;
  c.full_name = parent ? std::string(parent->name) + "|" + std::string(c.name)
                       : std::string(c.name);
  for (CommandSpec& sub : c.subcommands) Link(sub, &c);
}

// ASCII only, inline: std::tolower is a call into the locale's tables per
// byte, and this runs over the command table for every command (callgrind:
// 4% of a CREDITS.CONSUME). Command names are ASCII, and the daemon runs in
// the "C" locale, where tolower changes nothing else either.
char AsciiLower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c; }

bool EqualsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

}  // namespace

const CommandTable& CommandTable::Get() {
  static const CommandTable table;
  return table;
}

CommandTable::CommandTable() {
  for (auto family : {LimitCommands, ConnectionCommands, ServerCommands, TransactionCommands}) {
    for (CommandSpec& c : family()) commands_.push_back(std::move(c));
  }
  // Links after the vector is final: parents are addresses into it.
  for (CommandSpec& c : commands_) Link(c, nullptr);
}

const CommandSpec* CommandTable::Find(std::string_view name) const {
  // ~40 commands: a linear scan over short names costs less than hashing a
  // lower-cased copy, and needs no allocation.
  for (const CommandSpec& c : commands_) {
    if (EqualsNoCase(c.name, name)) return &c;
  }
  return nullptr;
}

const CommandSpec* CommandTable::FindSub(const CommandSpec& container, std::string_view name) {
  for (const CommandSpec& c : container.subcommands) {
    if (EqualsNoCase(c.name, name)) return &c;
  }
  return nullptr;
}

const CommandSpec* CommandTable::FindFullName(std::string_view full_name) const {
  size_t bar = full_name.find('|');
  const CommandSpec* c = Find(full_name.substr(0, bar));
  if (c == nullptr || bar == std::string_view::npos) return c;
  return FindSub(*c, full_name.substr(bar + 1));
}

void CommandContext::ReplyHelp(std::span<const std::string_view> lines) {
  out.Array(lines.size());
  for (std::string_view l : lines) out.Simple(l);
}

void CommandContext::ReplyError(const limiterd::Error& error) {
  ThreadStats::Add(session.stats->errors, 1);
  std::string text;
  switch (error.code) {
    case ErrorCode::kNoLimit:
      text = std::string(err::kNoLimitPrefix) + error.message;
      break;
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kOverflow:
      text = std::string(err::kEnginePrefix) + error.message;
      break;
    case ErrorCode::kNotInSection:
      text = std::string(err::kInternal) + error.message;
      break;
  }
  out.Error(text);
}

void CommandContext::ReplyError(std::string_view text) {
  ThreadStats::Add(session.stats->errors, 1);
  out.Error(text);
}

void CollectKeys(const CommandSpec& command, std::span<const std::string_view> args,
                 std::vector<std::string_view>* keys) {
  if (!command.has_keys()) return;
  int argc = static_cast<int>(args.size());
  int last = command.last_key < 0 ? argc + command.last_key : command.last_key;
  for (int i = command.first_key; i <= last && i < argc; i += std::max(command.key_step, 1)) {
    keys->push_back(args[static_cast<size_t>(i)]);
  }
}

void Execute(ServerState& server, Session& session, const CommandSpec& command,
             std::span<const std::string_view> args, resp::ReplyWriter& out) {
  session.info->last_command.store(&command, std::memory_order_relaxed);
  ThreadStats::Add(session.stats->commands, 1);
  CommandContext ctx{server, session, out, args, command};
  command.handler(ctx);
}

void Dispatch(ServerState& server, Session& session, std::span<const std::string_view> args,
              resp::ReplyWriter& out) {
  if (args.empty()) return;
  const CommandSpec* cmd = CommandTable::Get().Find(args[0]);
  if (cmd == nullptr) return Reject(session, out, err::UnknownCommand(args));
  if (cmd->container() && (args.size() >= 2 || cmd->handler == nullptr)) {
    if (args.size() < 2) return Reject(session, out, err::WrongArity(cmd->full_name));
    const CommandSpec* sub = CommandTable::FindSub(*cmd, args[1]);
    if (sub == nullptr) {
      return Reject(session, out, err::UnknownSubcommand(args[1], ToUpper(cmd->name)));
    }
    cmd = sub;
  }
  if (!ArityOk(*cmd, args.size())) return Reject(session, out, err::WrongArity(cmd->full_name));
  if (!session.authenticated && !(cmd->flags & kNoAuth) && server.config.password_required()) {
    return Reject(session, out, err::kNoAuth);
  }
  // As Redis's processCommand: while the last write to disk failed (the AOF,
  // or a snapshot with stop-writes-on-bgsave-error), writers get MISCONF and
  // run nothing; readers go on. Inside MULTI this dooms the transaction.
  if ((cmd->flags & kWrite) && server.durability) {
    if (auto error = server.durability->WriteError()) return Reject(session, out, *error);
  }
  if (session.in_multi && !RunsInsideMulti(*cmd)) {
    if (cmd->flags & kNoMulti) return Reject(session, out, err::kNotAllowedInMulti);
    size_t bytes = 0;
    for (std::string_view a : args) bytes += a.size();
    if (session.queued_bytes + bytes > server.config.client_query_buffer_limit()) {
      return Reject(session, out, err::kMultiTooLarge);
    }
    session.queued_bytes += bytes;
    QueuedCommand q{cmd, {}};
    q.args.reserve(args.size());
    for (std::string_view a : args) q.args.emplace_back(a);
    session.queue.push_back(std::move(q));
    session.info->multi.store(static_cast<int>(session.queue.size()), std::memory_order_relaxed);
    session.info->multi_bytes.store(session.queued_bytes, std::memory_order_relaxed);
    out.Simple("QUEUED");
    return;
  }
  Execute(server, session, *cmd, args, out);
}

}  // namespace limiterd::server
