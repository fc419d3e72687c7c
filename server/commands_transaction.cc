// Copyright limiterd authors.
// MULTI / EXEC / DISCARD. EXEC runs the queued commands inside one
// Engine::AtomicSection over every key they name (every shard when one of
// them touches any key), so the transaction is atomic with respect to every
// other client, on every thread; and inside one durability transaction, so
// its changes reach the AOF as one record: all of them after a crash, or
// none.
#include <algorithm>
#include <optional>

#include "command_table.h"
#include "errors.h"

namespace limiterd::server {
namespace {

// Durability::BeginTransaction / CommitTransaction around EXEC's commands.
class DurableTransaction {
 public:
  explicit DurableTransaction(persistence::Durability* durability) : durability_(durability) {
    if (durability_ != nullptr) durability_->BeginTransaction();
  }
  ~DurableTransaction() {
    if (durability_ != nullptr) durability_->CommitTransaction();
  }
  DurableTransaction(const DurableTransaction&) = delete;
  DurableTransaction& operator=(const DurableTransaction&) = delete;

 private:
  persistence::Durability* durability_;
};

void Multi(CommandContext& ctx) {
  if (ctx.session.in_multi) return ctx.ReplyError(err::kMultiNested);
  ctx.session.in_multi = true;
  ctx.session.info->multi.store(0, std::memory_order_relaxed);
  ctx.out.Simple("OK");
}

void Discard(CommandContext& ctx) {
  if (!ctx.session.in_multi) return ctx.ReplyError(err::kDiscardWithoutMulti);
  ctx.session.ResetMulti();
  ctx.out.Simple("OK");
}

void Exec(CommandContext& ctx) {
  Session& s = ctx.session;
  if (!s.in_multi) return ctx.ReplyError(err::kExecWithoutMulti);
  if (s.multi_failed) {
    s.ResetMulti();
    return ctx.ReplyError(err::kExecAbort);
  }
  std::vector<QueuedCommand> queue = std::move(s.queue);
  s.ResetMulti();
  persistence::Durability* durability = ctx.server.durability.get();
  if (durability != nullptr) {
    // Writes became refused since they were queued (Redis 7 checks EXEC as
    // a write when its queue holds one).
    bool writes = std::any_of(queue.begin(), queue.end(), [](const QueuedCommand& q) {
      return (q.command->flags & kWrite) != 0;
    });
    if (auto error = writes ? durability->WriteError() : std::nullopt) {
      return ctx.ReplyError(err::ExecAbortBecause(*error));
    }
  }

  std::vector<std::vector<std::string_view>> argv(queue.size());
  std::vector<std::string_view> keys;
  bool all = false;
  for (size_t i = 0; i < queue.size(); ++i) {
    argv[i].assign(queue[i].args.begin(), queue[i].args.end());
    switch (queue[i].command->access) {
      case DataAccess::kNone: break;
      case DataAccess::kKeys: CollectKeys(*queue[i].command, argv[i], &keys); break;
      case DataAccess::kAll: all = true; break;
    }
  }
  // The section holds the shard locks until every reply is written below.
  std::optional<AtomicSection> section;
  if (all) {
    section.emplace(ctx.server.engine.AtomicAll());
  } else if (!keys.empty()) {
    section.emplace(ctx.server.engine.Atomic(keys));
  }
  // Declared after the section, so destroyed before it: the transaction's
  // record is framed while no other operation can touch its keys, and so
  // reaches the log in the order it took effect (also when a command throws).
  DurableTransaction transaction(durability);
  ctx.out.Array(queue.size());
  for (size_t i = 0; i < queue.size(); ++i) {
    Execute(ctx.server, s, *queue[i].command, argv[i], ctx.out);
  }
}

void Watch(CommandContext& ctx) {
  ctx.ReplyError(ctx.session.in_multi ? err::kWatchInsideMulti : err::kWatchUnsupported);
}

void Unwatch(CommandContext& ctx) { ctx.out.Simple("OK"); }

constexpr uint32_t kTxFlags = kNoScript | kLoading | kStale | kFast | kAllowBusy;

}  // namespace

std::vector<CommandSpec> TransactionCommands() {
  std::vector<CommandSpec> v;
  v.push_back({.name = "multi", .arity = 1, .flags = kTxFlags, .acl = {"@fast", "@transaction"},
               .summary = "Starts a transaction", .since = "1.2.0", .group = "transactions",
               .complexity = "O(1)", .handler = Multi, .reply = "`OK`."});
  v.push_back({.name = "exec", .arity = 1, .flags = kNoScript | kLoading | kStale | kSkipSlowlog,
               .acl = {"@slow", "@transaction"},
               .summary = "Executes all commands in a transaction, atomically", .since = "1.2.0",
               .group = "transactions", .complexity = "Depends on commands in the transaction",
               .handler = Exec,
               .reply = "An array of the queued commands' replies; EXECABORT if a command was "
                        "refused while queued."});
  v.push_back({.name = "discard", .arity = 1, .flags = kTxFlags,
               .acl = {"@fast", "@transaction"}, .summary = "Discards a transaction",
               .since = "2.0.0", .group = "transactions",
               .complexity = "O(N), when N is the number of queued commands", .handler = Discard,
               .reply = "`OK`."});
  v.push_back({.name = "watch", .arity = -2, .flags = kTxFlags,
               .first_key = 1, .last_key = -1, .key_step = 1,
               .acl = {"@fast", "@transaction"},
               .summary = "Not supported: every MULTI/EXEC is atomic over the keys it names",
               .since = "2.2.0", .group = "transactions", .complexity = "O(1)",
               .args = {{.name = "key", .type = ArgType::kKey, .flags = kMultiple}},
               .handler = Watch, .key_flags = {"RO"}, .reply = "An error."});
  v.push_back({.name = "unwatch", .arity = 1, .flags = kTxFlags,
               .acl = {"@fast", "@transaction"},
               .summary = "Forgets watched keys (there are none)", .since = "2.2.0",
               .group = "transactions", .complexity = "O(1)", .handler = Unwatch,
               .reply = "`OK`."});
  return v;
}

}  // namespace limiterd::server
