// Copyright limiterd authors.
// The command table: one declaration per command (Redis 7's command model:
// arity, flags, key positions, ACL categories, documentation and argument
// syntax) that drives dispatch, arity errors, COMMAND COUNT / INFO / DOCS /
// LIST and docs/commands.md. Each command family declares its part
// (commands_*.cc); CommandTable() assembles them once.
//
// Thread safety: the table is built on first use (a function-local static)
// and immutable afterwards; Dispatch() may run on any number of threads, each
// with its own Session.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "resp/reply_writer.h"
#include "session.h"

namespace limiterd::server {

// Redis's command flags (COMMAND INFO reports their names).
enum CommandFlag : uint32_t {
  kWrite = 1 << 0,
  kReadOnly = 1 << 1,
  kDenyOom = 1 << 2,
  kAdmin = 1 << 3,
  kNoScript = 1 << 4,
  kLoading = 1 << 5,
  kStale = 1 << 6,
  kSkipMonitor = 1 << 7,
  kSkipSlowlog = 1 << 8,
  kFast = 1 << 9,
  kNoAuth = 1 << 10,
  kMayReplicate = 1 << 11,
  kNoMulti = 1 << 12,
  kAllowBusy = 1 << 13,
};

// How MULTI/EXEC must lock a queued command (not reported to clients).
enum class DataAccess : uint8_t {
  kNone,  // touches no limit state (PING, CLIENT ...)
  kKeys,  // touches only the keys at its key positions
  kAll,   // touches any key (FLUSHALL, DBSIZE, LIMIT.SCAN, INFO)
};

enum class ArgType : uint8_t {
  kString, kInteger, kDouble, kKey, kPattern, kUnixTime, kPureToken, kOneOf, kBlock
};
enum ArgFlag : uint8_t { kOptional = 1, kMultiple = 2, kMultipleToken = 4 };

// One argument of a command's syntax, as Redis's commands/*.json declare.
struct Arg {
  std::string_view name;
  ArgType type = ArgType::kString;
  std::string_view token = {};
  uint8_t flags = 0;
  std::vector<Arg> args = {};  // kOneOf / kBlock
  std::string_view since = {};
  std::string_view summary = {};
};

struct CommandContext;
using Handler = void (*)(CommandContext& ctx);

struct CommandSpec {
  std::string_view name;  // lower case; a subcommand's own name ("list")
  int arity;              // Redis: counts the name (and subcommand); -N: at least N
  uint32_t flags;
  int first_key = 0, last_key = 0, key_step = 0;  // last -1: to the end
  std::vector<std::string_view> acl;              // "@write", "@slow", ...
  std::string_view summary, since, group, complexity;
  std::vector<Arg> args = {};
  Handler handler = nullptr;
  std::vector<CommandSpec> subcommands = {};
  std::vector<std::string_view> key_flags = {};  // key spec flags: "RW", "update", ...
  std::vector<std::string_view> tips = {};       // "nondeterministic_output", ...
  DataAccess access = DataAccess::kNone;
  std::string_view reply = {};  // what it answers (docs/commands.md only)

  // Filled by the table: "limit.set", "client|list".
  std::string full_name = {};
  const CommandSpec* parent = nullptr;

  bool has_keys() const { return first_key > 0; }
  bool container() const { return !subcommands.empty(); }
};

// What a handler sees.
struct CommandContext {
  ServerState& server;
  Session& session;
  resp::ReplyWriter& out;
  std::span<const std::string_view> args;
  const CommandSpec& command;

  // Replies an Engine error with its RESP prefix (ERR / NOLIMIT).
  void ReplyError(const limiterd::Error& error);
  void ReplyError(std::string_view text);
  // A HELP subcommand's reply: the lines as an array of simple strings.
  void ReplyHelp(std::span<const std::string_view> lines);
};

class CommandTable {
 public:
  static const CommandTable& Get();

  // Top-level commands in declaration order.
  const std::vector<CommandSpec>& commands() const { return commands_; }
  // Case-insensitive; nullptr if unknown.
  const CommandSpec* Find(std::string_view name) const;
  // A container's subcommand, case-insensitive; nullptr if unknown.
  static const CommandSpec* FindSub(const CommandSpec& container, std::string_view name);
  // "client|list" or "limit.set"; nullptr if unknown.
  const CommandSpec* FindFullName(std::string_view full_name) const;

 private:
  CommandTable();
  // Hash of a lower-cased name, the slot Find() starts probing at.
  static size_t Slot(std::string_view lower);
  std::vector<CommandSpec> commands_;
  // Find()'s index: open addressing with linear probing over the top-level
  // names, a tenth full. Dispatch looks up every command's name here: case
  // folded and hashed 8 bytes at a time, one comparison confirms (a scan of
  // the table with case folding was ~340 instructions per CREDITS.CONSUME).
  static constexpr size_t kIndexSlots = 512;
  static constexpr size_t kMaxNameLen = 64;
  std::array<const CommandSpec*, kIndexSlots> index_{};
  size_t longest_name_ = 0;
};

// Families (commands_*.cc). Each returns its commands in the order the
// documentation lists them.
std::vector<CommandSpec> LimitCommands();
std::vector<CommandSpec> ConnectionCommands();
std::vector<CommandSpec> ServerCommands();
std::vector<CommandSpec> TransactionCommands();

// Executes one command (args[0] is its name) for `session` and appends the
// reply to `out`: lookup, arity, authentication, MULTI queueing, then the
// handler. The path every connection and the in-process tests take.
void Dispatch(ServerState& server, Session& session, std::span<const std::string_view> args,
              resp::ReplyWriter& out);

// Runs one resolved command's handler directly (EXEC).
void Execute(ServerState& server, Session& session, const CommandSpec& command,
             std::span<const std::string_view> args, resp::ReplyWriter& out);

// The keys at `command`'s key positions in `args`.
void CollectKeys(const CommandSpec& command, std::span<const std::string_view> args,
                 std::vector<std::string_view>* keys);

// COMMAND INFO / DOCS replies for one command (command_docs.cc).
void ReplyCommandInfo(resp::ReplyWriter& out, const CommandSpec& command);
void ReplyCommandDocs(resp::ReplyWriter& out, const CommandSpec& command);
// docs/commands.md, generated from the table.
std::string CommandsMarkdown();
// "LIMIT.SET key [HARD hard | UNLIMITED] ..." from the argument list.
std::string CommandSyntax(const CommandSpec& command);

}  // namespace limiterd::server
