// Copyright limiterd authors.
// LIMIT.*, CREDITS.*, USAGE.* (SPEC section 3): parse the arguments, call the
// engine, reply. No limit logic here: the engine decides, this file only
// translates between RESP and limiterd::Engine.
#include <optional>

#include "args.h"
#include "command_table.h"
#include "errors.h"
#include "glob.h"
#include "limiterd/limit.h"

namespace limiterd::server {
namespace {

// Out: resp::ReplyWriter or resp::ReplyWriter::Parts.
template <typename Out>
void ReplyOptional(Out& out, const std::optional<int64_t>& v) {
  if (v) {
    out.Integer(*v);
  } else {
    out.Null();
  }
}

// ---- LIMIT.SET -------------------------------------------------------------

struct SetRequest {
  LimitDefinition def;
  SetCondition condition;
};

// Reads LIMIT.SET's options into `req`. Returns "" or the error reply.
std::string ParseSetOptions(std::span<const std::string_view> args, SetRequest* req) {
  LimitDefinition& d = req->def;
  bool hard = false, unlimited = false, soft = false, unit = false, period = false,
       window = false, rate = false, burst = false, anchor = false, norenew = false,
       valid_until = false;
  // Reads the integer after a keyword; a repeated or valueless keyword is a
  // syntax error, a malformed number Redis's integer error.
  std::string error;
  size_t i = 2;
  auto next = [&](bool* seen) -> std::optional<std::string_view> {
    if (*seen || i + 1 >= args.size()) {
      error = err::kSyntax;
      return std::nullopt;
    }
    *seen = true;
    return args[++i];
  };
  auto next_int = [&](bool* seen, int64_t* v) {
    auto s = next(seen);
    if (!s) return false;
    if (!ParseInt64(*s, v)) {
      error = err::kNotInteger;
      return false;
    }
    return true;
  };
  auto next_duration = [&](bool* seen, int64_t* ms) {
    auto s = next(seen);
    if (!s) return false;
    Result<int64_t> r = ParseDuration(*s);
    if (!r) {
      error = std::string(err::kEnginePrefix) + r.error().message;
      return false;
    }
    *ms = *r;
    return true;
  };
  bool flag_dummy = false;
  for (; i < args.size(); ++i) {
    std::string_view a = args[i];
    int64_t v = 0;
    if (Is(a, "HARD")) {
      if (!next_int(&hard, &v)) return error;
      d.hard = v;
    } else if (Is(a, "UNLIMITED")) {
      if (unlimited) return std::string(err::kSyntax);
      unlimited = true;
    } else if (Is(a, "SOFT")) {
      if (!next_int(&soft, &v)) return error;
      d.soft = v;
    } else if (Is(a, "UNIT")) {
      auto s = next(&unit);
      if (!s) return error;
      d.unit = std::string(*s);
    } else if (Is(a, "PERIOD")) {
      auto s = next(&period);
      if (!s) return error;
      if (Is(*s, "NONE")) {
        d.period = {PeriodType::kNone, 0};
      } else if (Is(*s, "DAILY")) {
        d.period = {PeriodType::kDaily, 0};
      } else if (Is(*s, "WEEKLY")) {
        d.period = {PeriodType::kWeekly, 0};
      } else if (Is(*s, "MONTHLY")) {
        d.period = {PeriodType::kMonthly, 0};
      } else {
        Result<int64_t> r = ParseDuration(*s);
        if (!r) return std::string(err::kEnginePrefix) + r.error().message;
        d.period = {PeriodType::kDuration, *r};
      }
    } else if (Is(a, "WINDOW")) {
      if (!next_duration(&window, &d.window_ms)) return error;
    } else if (Is(a, "RATE")) {
      if (!next_int(&rate, &d.rate)) return error;
      if (i + 2 >= args.size() || !Is(args[i + 1], "PER")) return std::string(err::kSyntax);
      ++i;
      if (!next_duration(&flag_dummy, &d.rate_per_ms)) return error;
      flag_dummy = false;
    } else if (Is(a, "BURST")) {
      if (!next_int(&burst, &v)) return error;
      d.burst = v;
    } else if (Is(a, "ANCHOR")) {
      if (!next_int(&anchor, &v)) return error;
      d.anchor_ms = v;
    } else if (Is(a, "VALIDUNTIL")) {
      if (!next_int(&valid_until, &v)) return error;
      d.valid_until_ms = v;
    } else if (Is(a, "NORENEW")) {
      if (norenew) return std::string(err::kSyntax);
      norenew = true;
      d.renewable = false;
    } else if (Is(a, "NX")) {
      req->condition.nx = true;
    } else if (Is(a, "XX")) {
      req->condition.xx = true;
    } else if (Is(a, "GT")) {
      req->condition.gt = true;
    } else {
      return std::string(err::kSyntax);
    }
  }
  // Conflicting options.
  if ((hard && unlimited) || (period + window + rate > 1) || (burst && !rate) ||
      (unlimited && rate) || (req->condition.nx && req->condition.xx)) {
    return std::string(err::kSyntax);
  }
  if (!hard && !unlimited && !rate) return std::string(err::kHardRequired);
  d.kind = rate ? Kind::kBucket : window ? Kind::kWindow : Kind::kQuota;
  return {};
}

void LimitSet(CommandContext& ctx) {
  SetRequest req;
  if (std::string e = ParseSetOptions(ctx.args, &req); !e.empty()) return ctx.ReplyError(e);
  Result<bool> r = ctx.server.engine.Set(ctx.args[1], req.def, req.condition);
  if (!r) return ctx.ReplyError(r.error());
  if (*r) {
    ctx.out.Simple("OK");
  } else {
    ctx.out.Null();
  }
}

// ---- LIMIT.GET -------------------------------------------------------------

void LimitGet(CommandContext& ctx) {
  Result<std::optional<LimitInfo>> r = ctx.server.engine.Get(ctx.args[1]);
  if (!r) return ctx.ReplyError(r.error());
  if (!r->has_value()) {
    ThreadStats::Add(ctx.session.stats->keyspace_misses, 1);
    return ctx.out.Null();
  }
  ThreadStats::Add(ctx.session.stats->keyspace_hits, 1);
  const LimitInfo& info = **r;
  const LimitDefinition& d = info.definition;
  resp::ReplyWriter& out = ctx.out;
  size_t kind_fields = d.kind == Kind::kBucket ? 3 : 1;
  out.Map(4 + kind_fields + 5);
  out.Bulk("kind");
  out.Bulk(KindName(d.kind));
  out.Bulk("hard");
  ReplyOptional(out, d.hard);
  out.Bulk("soft");
  ReplyOptional(out, d.soft);
  out.Bulk("unit");
  out.Bulk(d.unit);
  switch (d.kind) {
    case Kind::kQuota:
      out.Bulk("period");
      out.Bulk(PeriodName(d.period));
      break;
    case Kind::kWindow:
      out.Bulk("window");
      out.Integer(d.window_ms);
      break;
    case Kind::kBucket:
      out.Bulk("rate");
      out.Integer(d.rate);
      out.Bulk("per");
      out.Integer(d.rate_per_ms);
      out.Bulk("burst");
      ReplyOptional(out, d.burst);
      break;
  }
  out.Bulk("anchor");
  ReplyOptional(out, d.anchor_ms);
  out.Bulk("renewable");
  out.Integer(d.renewable ? 1 : 0);
  out.Bulk("valid_until");
  ReplyOptional(out, d.valid_until_ms);
  out.Bulk("source");
  out.Bulk(info.source);
  out.Bulk("cancelled");
  out.Integer(info.cancelled ? 1 : 0);
}

// ---- LIMIT.DEL / CANCEL / SCAN ---------------------------------------------

void LimitDel(CommandContext& ctx) {
  Result<size_t> r = ctx.server.engine.Delete(ctx.args.subspan(1));
  if (!r) return ctx.ReplyError(r.error());
  ctx.out.Integer(static_cast<int64_t>(*r));
}

void LimitCancel(CommandContext& ctx) {
  Result<bool> r = ctx.server.engine.Cancel(ctx.args[1]);
  if (!r) return ctx.ReplyError(r.error());
  ctx.out.Integer(*r ? 1 : 0);
}

void LimitScan(CommandContext& ctx) {
  uint64_t cursor;
  if (!ParseUint64(ctx.args[1], &cursor)) return ctx.ReplyError(err::kInvalidCursor);
  std::optional<std::string_view> pattern;
  int64_t count = 10;
  for (size_t i = 2; i < ctx.args.size(); i += 2) {
    if (i + 1 >= ctx.args.size()) return ctx.ReplyError(err::kSyntax);
    if (Is(ctx.args[i], "MATCH")) {
      pattern = ctx.args[i + 1];
    } else if (Is(ctx.args[i], "COUNT")) {
      if (!ParseInt64(ctx.args[i + 1], &count)) return ctx.ReplyError(err::kNotInteger);
      if (count < 1) return ctx.ReplyError(err::kSyntax);
    } else {
      return ctx.ReplyError(err::kSyntax);
    }
  }
  ScanPage page = ctx.server.engine.Scan(cursor, static_cast<size_t>(count));
  // MATCH filters the page after the engine returns it, as Redis's SCAN does.
  if (pattern && *pattern != "*") {
    std::erase_if(page.keys, [&](const std::string& k) { return !GlobMatch(*pattern, k); });
  }
  ctx.out.Array(2);
  ctx.out.Bulk(std::to_string(page.next_cursor));
  ctx.out.Array(page.keys.size());
  for (const std::string& k : page.keys) ctx.out.Bulk(k);
}

// ---- CREDITS.* ---------------------------------------------------------------

// An amount: an integer >= 0.
bool ParseAmount(CommandContext& ctx, std::string_view s, int64_t* amount) {
  if (!ParseInt64(s, amount)) {
    ctx.ReplyError(err::kNotInteger);
    return false;
  }
  if (*amount < 0) {
    ctx.ReplyError(err::kNotPositive);
    return false;
  }
  return true;
}

void CreditsConsume(CommandContext& ctx) {
  int64_t amount;
  if (!ParseAmount(ctx, ctx.args[2], &amount)) return;
  ConsumeOptions options;
  for (size_t i = 3; i < ctx.args.size(); ++i) {
    if (Is(ctx.args[i], "FORCE") && !options.force) {
      options.force = true;
    } else if (Is(ctx.args[i], "DRYRUN") && !options.dry_run) {
      options.dry_run = true;
    } else {
      return ctx.ReplyError(err::kSyntax);
    }
  }
  // r->level points into args[1], which outlives this reply.
  Result<ConsumeReply> r = ctx.server.engine.Consume(ctx.args[1], amount, options);
  if (!r) return ctx.ReplyError(r.error());
  // The hottest reply: its eight parts are appended to the output at once.
  resp::ReplyWriter::Parts out(ctx.out);
  out.Array(6);
  out.Integer(r->allowed ? 1 : 0);
  ReplyOptional(out, r->remaining);
  ReplyOptional(out, r->limit);
  out.Integer(r->retry_after_ms);
  out.Integer(r->reset_after_ms);
  out.Bulk(r->level);
}

void CreditsRefund(CommandContext& ctx) {
  int64_t amount;
  if (!ParseAmount(ctx, ctx.args[2], &amount)) return;
  Result<int64_t> r = ctx.server.engine.Refund(ctx.args[1], amount);
  if (!r) return ctx.ReplyError(r.error());
  ctx.out.Integer(*r);
}

// ---- USAGE.* -----------------------------------------------------------------

void UsageGet(CommandContext& ctx) {
  Result<std::optional<UsageReport>> r = ctx.server.engine.Usage(ctx.args[1]);
  if (!r) return ctx.ReplyError(r.error());
  if (!r->has_value()) {
    ThreadStats::Add(ctx.session.stats->keyspace_misses, 1);
    return ctx.out.Null();
  }
  ThreadStats::Add(ctx.session.stats->keyspace_hits, 1);
  const UsageReport& u = **r;
  resp::ReplyWriter& out = ctx.out;
  out.Map(15);
  out.Bulk("key");
  out.Bulk(ctx.args[1]);
  out.Bulk("kind");
  out.Bulk(KindName(u.kind));
  out.Bulk("unit");
  out.Bulk(u.unit);
  out.Bulk("status");
  out.Bulk(StatusName(u.status));
  out.Bulk("limit");
  ReplyOptional(out, u.limit);
  out.Bulk("soft_limit");
  ReplyOptional(out, u.soft_limit);
  out.Bulk("consumed");
  out.Integer(u.consumed);
  out.Bulk("remaining");
  ReplyOptional(out, u.remaining);
  out.Bulk("soft_reached");
  out.Integer(u.soft_reached ? 1 : 0);
  out.Bulk("period");
  out.Bulk(u.period);
  out.Bulk("period_start");
  out.Integer(u.period_start_ms);
  out.Bulk("resets_at");
  ReplyOptional(out, u.resets_at_ms);
  out.Bulk("renewable");
  out.Integer(u.renewable ? 1 : 0);
  out.Bulk("valid_until");
  ReplyOptional(out, u.valid_until_ms);
  out.Bulk("source");
  out.Bulk(u.source);
}

void UsageReset(CommandContext& ctx) {
  Result<bool> r = ctx.server.engine.ResetUsage(ctx.args[1]);
  if (!r) return ctx.ReplyError(r.error());
  ctx.out.Integer(*r ? 1 : 0);
}

Arg Key() { return {.name = "key", .type = ArgType::kKey}; }
Arg Int(std::string_view name, std::string_view token = {}, uint8_t flags = 0,
        std::string_view summary = {}) {
  return {.name = name, .type = ArgType::kInteger, .token = token, .flags = flags,
          .summary = summary};
}
Arg Str(std::string_view name, std::string_view token, uint8_t flags, std::string_view summary) {
  return {.name = name, .type = ArgType::kString, .token = token, .flags = flags,
          .summary = summary};
}
// A pure token: Redis names it in lower case ("nx" for NX).
Arg Token(std::string_view name, std::string_view token, uint8_t flags = 0,
          std::string_view summary = {}) {
  return {.name = name, .type = ArgType::kPureToken, .token = token, .flags = flags,
          .summary = summary};
}

}  // namespace

std::vector<CommandSpec> LimitCommands() {
  std::vector<CommandSpec> v;
  v.push_back({
      .name = "limit.set", .arity = -3, .flags = kWrite | kDenyOom,
      .first_key = 1, .last_key = 1, .key_step = 1,
      .acl = {"@write", "@slow"},
      .summary = "Creates or replaces the limit definition of a key",
      .since = "0.1.0", .group = "limit", .complexity = "O(1); O(S) for the top-level default '*' (S: lock shards)",
      .args = {
          Key(),
          {.name = "limit", .type = ArgType::kOneOf, .flags = kOptional,
           .args = {Int("hard", "HARD", 0, "Maximum usage per period or window (bucket: the capacity)"),
                    Token("unlimited", "UNLIMITED", 0, "Usage is counted, nothing is denied")}},
          Int("soft", "SOFT", kOptional, "Alert threshold, at most the hard limit"),
          Str("unit", "UNIT", kOptional, "A label: requests (default), tokens, credits, usd..."),
          {.name = "kind", .type = ArgType::kOneOf, .flags = kOptional,
           .args = {Str("period", "PERIOD", 0,
                        "Quota period: none (default), daily, weekly, monthly or a duration"),
                    Str("window", "WINDOW", 0, "Sliding window length (a duration)"),
                    {.name = "rate", .type = ArgType::kBlock,
                     .args = {Int("count", "RATE", 0, "Token bucket: units refilled per duration"),
                              Str("duration", "PER", 0, "The refill duration"),
                              Int("burst", "BURST", kOptional,
                                  "Capacity (default: the RATE count)")}}}},
          {.name = "anchor", .type = ArgType::kUnixTime, .token = "ANCHOR", .flags = kOptional,
           .summary = "Start of the first period, unix ms"},
          Token("norenew", "NORENEW", kOptional, "Expire after the first period"),
          {.name = "valid-until", .type = ArgType::kUnixTime, .token = "VALIDUNTIL",
           .flags = kOptional, .summary = "Unix ms after which the limit is expired"},
          {.name = "condition", .type = ArgType::kOneOf, .flags = kOptional,
           .args = {Token("nx", "NX", 0, "Only if the key has no limit of its own"),
                    Token("xx", "XX", 0, "Only if it has one")}},
          Token("gt", "GT", kOptional, "Only if the new hard limit is greater"),
      },
      .handler = LimitSet,
      .key_flags = {"RW", "update"},
      .access = DataAccess::kKeys,
      .reply = "`OK`, or nil when NX, XX or GT prevented the change.",
  });
  v.push_back({
      .name = "limit.get", .arity = 2, .flags = kReadOnly | kFast,
      .first_key = 1, .last_key = 1, .key_step = 1,
      .acl = {"@read", "@fast"},
      .summary = "Returns the effective limit definition of a key",
      .since = "0.1.0", .group = "limit", .complexity = "O(depth of the key's path)",
      .args = {Key()},
      .handler = LimitGet,
      .key_flags = {"RO", "access"},
      .access = DataAccess::kKeys,
      .reply = "A map (RESP2: a flat array): `kind`, `hard` (nil: unlimited), `soft`, `unit`, "
               "then `period` (quota), `window` (ms) or `rate`, `per` (ms), `burst` (bucket), "
               "then `anchor` (unix ms), `renewable` (0/1), `valid_until` (unix ms or nil), "
               "`source` (`own` or the default key), `cancelled` (0/1). Nil if no limit applies.",
  });
  v.push_back({
      .name = "limit.del", .arity = -2, .flags = kWrite,
      .first_key = 1, .last_key = -1, .key_step = 1,
      .acl = {"@write", "@slow"},
      .summary = "Deletes limit definitions and their usage",
      .since = "0.1.0", .group = "limit", .complexity = "O(N) where N is the number of keys",
      .args = {{.name = "key", .type = ArgType::kKey, .flags = kMultiple}},
      .handler = LimitDel,
      .key_flags = {"RM", "delete"},
      .access = DataAccess::kKeys,
      .reply = "Integer: the number of keys that had a definition or a counter.",
  });
  v.push_back({
      .name = "limit.cancel", .arity = 2, .flags = kWrite | kFast,
      .first_key = 1, .last_key = 1, .key_step = 1,
      .acl = {"@write", "@fast"},
      .summary = "Marks a limit cancelled: kept for reporting, no longer enforced",
      .since = "0.1.0", .group = "limit", .complexity = "O(1)",
      .args = {Key()},
      .handler = LimitCancel,
      .key_flags = {"RW", "update"},
      .access = DataAccess::kKeys,
      .reply = "Integer: 1, or 0 when the key has no limit of its own.",
  });
  v.push_back({
      .name = "limit.scan", .arity = -2, .flags = kReadOnly,
      .acl = {"@read", "@slow"},
      .summary = "Iterates over the keys that have a limit or a counter",
      .since = "0.1.0", .group = "limit",
      .complexity = "O(1) for every call. O(N) for a complete iteration",
      .args = {{.name = "cursor", .type = ArgType::kInteger},
               {.name = "pattern", .type = ArgType::kPattern, .token = "MATCH", .flags = kOptional},
               Int("count", "COUNT", kOptional)},
      .handler = LimitScan,
      .tips = {"nondeterministic_output"},
      .access = DataAccess::kAll,
      .reply = "An array: the next cursor (a bulk string, `0` when the scan is complete) and "
               "an array of keys.",
  });
  v.push_back({
      .name = "credits.consume", .arity = -3, .flags = kWrite | kDenyOom | kFast,
      .first_key = 1, .last_key = 1, .key_step = 1,
      .acl = {"@write", "@fast"},
      .summary = "Checks and charges an amount against a key and all its limited ancestors",
      .since = "0.1.0", .group = "credits", .complexity = "O(depth of the key's path)",
      .args = {Key(), Int("amount", {}, 0, "The cost of the request, >= 0 (0 peeks)"),
               Token("force", "FORCE", kOptional, "Record the amount even past the hard limit"),
               Token("dryrun", "DRYRUN", kOptional, "Answer as the call would, change nothing")},
      .handler = CreditsConsume,
      .key_flags = {"RW", "update"},
      .access = DataAccess::kKeys,
      .reply = "An array: allowed (1/0), remaining (nil if no level has a hard limit), limit "
               "(nil likewise), retry_after (ms; 0 when allowed, -1 never), reset_after (ms, -1 "
               "none), level (the key of the level the reply is about).",
  });
  v.push_back({
      .name = "credits.refund", .arity = 3, .flags = kWrite | kFast,
      .first_key = 1, .last_key = 1, .key_step = 1,
      .acl = {"@write", "@fast"},
      .summary = "Gives back usage to a key and its limited ancestors",
      .since = "0.1.0", .group = "credits", .complexity = "O(depth of the key's path)",
      .args = {Key(), Int("amount")},
      .handler = CreditsRefund,
      .key_flags = {"RW", "update"},
      .access = DataAccess::kKeys,
      .reply = "Integer: the key's consumed after the refund.",
  });
  v.push_back({
      .name = "usage.get", .arity = 2, .flags = kReadOnly | kFast,
      .first_key = 1, .last_key = 1, .key_step = 1,
      .acl = {"@read", "@fast"},
      .summary = "Reports a key's usage in its current period",
      .since = "0.1.0", .group = "usage", .complexity = "O(depth of the key's path)",
      .args = {Key()},
      .handler = UsageGet,
      .key_flags = {"RO", "access"},
      .access = DataAccess::kKeys,
      .reply = "A map (RESP2: a flat array): `key`, `kind`, `unit`, `status`, `limit` (nil: "
               "unlimited), `soft_limit`, `consumed`, `remaining`, `soft_reached` (0/1), "
               "`period`, `period_start` (unix ms), `resets_at` (unix ms or nil), `renewable` "
               "(0/1), `valid_until` (unix ms or nil), `source`. Nil if no limit applies.",
  });
  v.push_back({
      .name = "usage.reset", .arity = 2, .flags = kWrite | kFast,
      .first_key = 1, .last_key = 1, .key_step = 1,
      .acl = {"@write", "@fast"},
      .summary = "Sets a key's usage in the current period to 0",
      .since = "0.1.0", .group = "usage", .complexity = "O(1)",
      .args = {Key()},
      .handler = UsageReset,
      .key_flags = {"RW", "update"},
      .access = DataAccess::kKeys,
      .reply = "Integer: 1, or 0 if no limit applies to the key.",
  });
  return v;
}

}  // namespace limiterd::server
