// Copyright limiterd authors.
#include "command_table.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

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

// AsciiLower on the 8 bytes of a word at once: a byte whose low 7 bits are
// in 'A'..'Z' (both sums below set its high bit differently) and whose own
// high bit is clear gets 0x20 added; every other byte is unchanged.
uint64_t AsciiLowerWord(uint64_t w) {
  constexpr uint64_t kOnes = 0x0101010101010101ull;
  constexpr uint64_t kHigh = 0x8080808080808080ull;
  const uint64_t low7 = w & ~kHigh;
  const uint64_t at_least_a = low7 + kOnes * (0x80 - 'A');
  const uint64_t above_z = low7 + kOnes * (0x80 - 'Z' - 1);
  const uint64_t upper = (at_least_a ^ above_z) & ~w & kHigh;
  return w | (upper >> 2);
}

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
  static_assert((kIndexSlots & (kIndexSlots - 1)) == 0, "a power of two");
  if (commands_.size() * 4 > kIndexSlots) throw std::logic_error("command index too small");
  for (const CommandSpec& c : commands_) {
    for (char ch : c.name) {
      if (AsciiLower(ch) != ch) throw std::logic_error("command names are lower case");
    }
    if (c.name.empty() || c.name.size() > kMaxNameLen) throw std::logic_error("bad command name");
    longest_name_ = std::max(longest_name_, c.name.size());
    size_t slot = Slot(c.name);
    while (index_[slot] != nullptr) {
      if (index_[slot]->name == c.name) throw std::logic_error("a command declared twice");
      slot = (slot + 1) & (kIndexSlots - 1);
    }
    index_[slot] = &c;
  }
}

size_t CommandTable::Slot(std::string_view lower) {
  const size_t n = lower.size();
  uint64_t h = 0x9E3779B97F4A7C15ull ^ n;
  if (n < 8) {
    for (char c : lower) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001B3ull;
  } else {
    // Whole words, the last one overlapping the one before when n is not a
    // multiple of 8.
    for (size_t i = 0;; i += 8) {
      if (i + 8 > n) i = n - 8;
      uint64_t w;
      std::memcpy(&w, lower.data() + i, 8);
      h = (h ^ w) * 0xFF51AFD7ED558CCDull;
      if (i + 8 == n) break;
    }
  }
  return static_cast<size_t>(h ^ (h >> 32)) & (kIndexSlots - 1);
}

const CommandSpec* CommandTable::Find(std::string_view name) const {
  const size_t n = name.size();
  if (n > longest_name_ || n == 0) return nullptr;
  // A client sends the same command again and again (a pipeline of one
  // command, a rate limiter's CONSUME per request): the last name this
  // thread found, byte for byte as sent, skips the folding and hashing.
  struct LastFound {
    const CommandTable* table = nullptr;
    const CommandSpec* command = nullptr;
    size_t size = 0;
    char bytes[kMaxNameLen];
  };
  thread_local LastFound last;
  if (n == last.size && last.table == this && std::memcmp(name.data(), last.bytes, n) == 0) {
    return last.command;
  }
  char lower[kMaxNameLen];
  if (n < 8) {
    for (size_t i = 0; i < n; ++i) lower[i] = AsciiLower(name[i]);
  } else {
    for (size_t i = 0;; i += 8) {
      if (i + 8 > n) i = n - 8;
      uint64_t w;
      std::memcpy(&w, name.data() + i, 8);
      w = AsciiLowerWord(w);
      std::memcpy(lower + i, &w, 8);
      if (i + 8 == n) break;
    }
  }
  const std::string_view key(lower, n);
  for (size_t slot = Slot(key);; slot = (slot + 1) & (kIndexSlots - 1)) {
    const CommandSpec* c = index_[slot];
    if (c == nullptr) return nullptr;
    if (c->name == key) {
      last.table = this;
      last.command = c;
      last.size = n;
      std::memcpy(last.bytes, name.data(), n);
      return c;
    }
  }
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
