// Copyright limiterd authors.
// Connection commands: PING, ECHO, HELLO, AUTH, SELECT, QUIT, RESET, CLIENT.
// Texts and reply shapes follow Redis 7.2.
#include <algorithm>
#include <optional>

#include "args.h"
#include "client_list.h"
#include "command_table.h"
#include "errors.h"

namespace limiterd::server {
namespace {

void Ping(CommandContext& ctx) {
  if (ctx.args.size() > 2) return ctx.ReplyError(err::WrongArity(ctx.command.full_name));
  if (ctx.args.size() == 1) {
    ctx.out.Simple("PONG");
  } else {
    ctx.out.Bulk(ctx.args[1]);
  }
}

void Echo(CommandContext& ctx) { ctx.out.Bulk(ctx.args[1]); }

// Redis's rule for client names and library info: printable, no spaces.
bool ValidClientText(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '!' && c <= '~'; });
}

// The default user: any password when requirepass is empty (nopass).
bool Authenticate(CommandContext& ctx, std::string_view user, std::string_view password) {
  if (user != "default") return false;
  if (!ctx.server.config.password_required()) return true;
  return ctx.server.config.CheckPassword(password);
}

void Auth(CommandContext& ctx) {
  if (ctx.args.size() > 3) return ctx.ReplyError(err::kSyntax);
  std::string_view user = "default", password = ctx.args.back();
  if (ctx.args.size() == 3) {
    user = ctx.args[1];
  } else if (!ctx.server.config.password_required()) {
    return ctx.ReplyError(err::kAuthNoPassword);
  }
  if (!Authenticate(ctx, user, password)) return ctx.ReplyError(err::kWrongPass);
  ctx.session.SetAuthenticated(true);
  ctx.out.Simple("OK");
}

void Hello(CommandContext& ctx) {
  int64_t version = 0;
  if (ctx.args.size() >= 2) {
    if (!ParseInt64(ctx.args[1], &version)) return ctx.ReplyError(err::kProtoNotInteger);
    if (version < 2 || version > 3) return ctx.ReplyError(err::kNoProto);
  }
  std::optional<std::pair<std::string_view, std::string_view>> auth;
  std::optional<std::string_view> name;
  for (size_t j = 2; j < ctx.args.size(); ++j) {
    size_t more = ctx.args.size() - 1 - j;
    if (Is(ctx.args[j], "AUTH") && more >= 2) {
      auth.emplace(ctx.args[j + 1], ctx.args[j + 2]);
      j += 2;
    } else if (Is(ctx.args[j], "SETNAME") && more >= 1) {
      name = ctx.args[j + 1];
      ++j;
    } else {
      return ctx.ReplyError(err::HelloOption(ctx.args[j]));
    }
  }
  if (auth) {
    if (!Authenticate(ctx, auth->first, auth->second)) return ctx.ReplyError(err::kWrongPass);
    ctx.session.SetAuthenticated(true);
  }
  if (!ctx.session.authenticated) return ctx.ReplyError(err::kHelloNoAuth);
  if (name) {
    if (!ValidClientText(*name)) return ctx.ReplyError(err::kClientNameSpaces);
    std::lock_guard lock(ctx.session.info->mu);
    ctx.session.info->name = std::string(*name);
  }
  if (version != 0) {
    ctx.session.SetProtocol(static_cast<int>(version));
    ctx.out.set_protocol(static_cast<int>(version));
  }
  resp::ReplyWriter& out = ctx.out;
  out.Map(7);
  out.Bulk("server");
  out.Bulk("limiterd");
  out.Bulk("version");
  out.Bulk(kVersion);
  out.Bulk("proto");
  out.Integer(ctx.session.protocol);
  out.Bulk("id");
  out.Integer(static_cast<int64_t>(ctx.session.info->id));
  out.Bulk("mode");
  out.Bulk("standalone");
  out.Bulk("role");
  out.Bulk("master");
  out.Bulk("modules");
  out.Array(0);
}

void Select(CommandContext& ctx) {
  int64_t db;
  if (!ParseInt64(ctx.args[1], &db)) return ctx.ReplyError(err::kNotInteger);
  if (db != 0) return ctx.ReplyError(err::kDbIndexOutOfRange);
  ctx.out.Simple("OK");
}

void Quit(CommandContext& ctx) {
  ctx.session.close_after_reply = true;
  ctx.out.Simple("OK");
}

void Reset(CommandContext& ctx) {
  Session& s = ctx.session;
  s.ResetMulti();
  s.SetProtocol(2);
  ctx.out.set_protocol(2);
  s.SetAuthenticated(!ctx.server.config.password_required());
  {
    std::lock_guard lock(s.info->mu);
    s.info->name.clear();
  }
  ctx.out.Simple("RESET");
}

// ---- CLIENT ----------------------------------------------------------------

void ReplyText(CommandContext& ctx, std::string_view text) {
  if (ctx.session.protocol >= 3) {
    ctx.out.Verbatim(text);
  } else {
    ctx.out.Bulk(text);
  }
}

void ClientId(CommandContext& ctx) { ctx.out.Integer(static_cast<int64_t>(ctx.session.info->id)); }

void ClientSetName(CommandContext& ctx) {
  if (!ValidClientText(ctx.args[2])) return ctx.ReplyError(err::kClientNameSpaces);
  {
    std::lock_guard lock(ctx.session.info->mu);
    ctx.session.info->name = std::string(ctx.args[2]);
  }
  ctx.out.Simple("OK");
}

void ClientGetName(CommandContext& ctx) {
  std::string name = ctx.session.info->Name();
  if (name.empty()) {
    ctx.out.Null();
  } else {
    ctx.out.Bulk(name);
  }
}

void ClientSetInfo(CommandContext& ctx) {
  std::string_view attr = ctx.args[2], value = ctx.args[3];
  bool lib_name = Is(attr, "LIB-NAME");
  if (!lib_name && !Is(attr, "LIB-VER")) return ctx.ReplyError(err::ClientSetInfoOption(attr));
  if (!ValidClientText(value)) return ctx.ReplyError(err::kClientInfoSpaces);
  {
    std::lock_guard lock(ctx.session.info->mu);
    (lib_name ? ctx.session.info->lib_name : ctx.session.info->lib_ver) = std::string(value);
  }
  ctx.out.Simple("OK");
}

void ClientInfoCmd(CommandContext& ctx) {
  ReplyText(ctx, ClientLine(*ctx.session.info, ServerState::SteadyMs()));
}

void ClientList(CommandContext& ctx) {
  std::vector<uint64_t> ids;
  bool only_other_types = false;  // TYPE master / replica / pubsub: none here
  for (size_t i = 2; i < ctx.args.size();) {
    if (Is(ctx.args[i], "TYPE") && i + 1 < ctx.args.size()) {
      std::string_view t = ctx.args[i + 1];
      if (Is(t, "NORMAL")) {
        only_other_types = false;
      } else if (Is(t, "MASTER") || Is(t, "REPLICA") || Is(t, "SLAVE") || Is(t, "PUBSUB")) {
        only_other_types = true;
      } else {
        return ctx.ReplyError(err::UnknownClientType(t));
      }
      i += 2;
    } else if (Is(ctx.args[i], "ID") && i + 1 < ctx.args.size()) {
      for (++i; i < ctx.args.size(); ++i) {
        int64_t id;
        if (!ParseInt64(ctx.args[i], &id) || id <= 0) {
          return ctx.ReplyError(err::kInvalidClientId);
        }
        ids.push_back(static_cast<uint64_t>(id));
      }
    } else {
      return ctx.ReplyError(err::kSyntax);
    }
  }
  std::string text;
  if (!only_other_types) {
    int64_t now = ServerState::SteadyMs();
    for (const auto& c : ctx.server.clients.All()) {
      if (!ids.empty() && std::find(ids.begin(), ids.end(), c->id) == ids.end()) continue;
      text += ClientLine(*c, now);
    }
  }
  ReplyText(ctx, text);
}

// Closes `c`: our own connection after this reply, any other at once.
void KillClient(CommandContext& ctx, const ClientInfo& c) {
  if (c.id == ctx.session.info->id) {
    ctx.session.close_after_reply = true;
  } else if (c.close) {
    c.close(/*drain=*/false);
  }
}

void ClientKill(CommandContext& ctx) {
  auto clients = ctx.server.clients.All();
  if (ctx.args.size() == 3) {  // CLIENT KILL ip:port
    for (const auto& c : clients) {
      if (c->addr == ctx.args[2]) {
        KillClient(ctx, *c);
        return ctx.out.Simple("OK");
      }
    }
    return ctx.ReplyError(err::kNoSuchClient);
  }
  std::optional<uint64_t> id;
  std::optional<std::string_view> addr, laddr, user;
  bool skipme = true, other_type = false;
  for (size_t i = 2; i < ctx.args.size(); i += 2) {
    if (i + 1 >= ctx.args.size()) return ctx.ReplyError(err::kSyntax);
    std::string_view opt = ctx.args[i], value = ctx.args[i + 1];
    if (Is(opt, "ID")) {
      int64_t v;
      if (!ParseInt64(value, &v) || v <= 0) return ctx.ReplyError(err::kClientIdNotPositive);
      id = static_cast<uint64_t>(v);
    } else if (Is(opt, "ADDR")) {
      addr = value;
    } else if (Is(opt, "LADDR")) {
      laddr = value;
    } else if (Is(opt, "USER")) {
      user = value;
    } else if (Is(opt, "TYPE")) {
      if (Is(value, "NORMAL")) {
        other_type = false;
      } else if (Is(value, "MASTER") || Is(value, "REPLICA") || Is(value, "SLAVE") ||
                 Is(value, "PUBSUB")) {
        other_type = true;
      } else {
        return ctx.ReplyError(err::UnknownClientType(value));
      }
    } else if (Is(opt, "SKIPME")) {
      if (Is(value, "YES")) {
        skipme = true;
      } else if (Is(value, "NO")) {
        skipme = false;
      } else {
        return ctx.ReplyError(err::kSyntax);
      }
    } else {
      return ctx.ReplyError(err::kSyntax);
    }
  }
  int64_t killed = 0;
  for (const auto& c : clients) {
    if (other_type || (id && c->id != *id) || (addr && c->addr != *addr) ||
        (laddr && c->laddr != *laddr) || (user && *user != "default") ||
        (skipme && c->id == ctx.session.info->id)) {
      continue;
    }
    KillClient(ctx, *c);
    ++killed;
  }
  ctx.out.Integer(killed);
}

void ClientHelp(CommandContext& ctx) {
  static constexpr std::string_view kLines[] = {
      "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "GETNAME", "    Return the name of the current connection.",
      "ID", "    Return the ID of the current connection.",
      "INFO", "    Return information about the current client connection.",
      "KILL <ip:port>", "    Kill connection made from <ip:port>.",
      "KILL <option> <value> [<option> <value> [...]]",
      "    Kill connections. Options are: ID <client-id>, ADDR <ip:port>, LADDR <ip:port>,",
      "    TYPE normal, USER <username>, SKIPME (YES|NO).",
      "LIST [TYPE normal] [ID <id> [<id> ...]]", "    Return information about client connections.",
      "SETINFO <LIB-NAME|LIB-VER> <value>", "    Set client library name or version.",
      "SETNAME <name>", "    Assign the name <name> to the current connection.",
      "HELP", "    Print this help.",
  };
  ctx.ReplyHelp(kLines);
}

constexpr uint32_t kConnFlags = kNoScript | kLoading | kStale;

}  // namespace

std::vector<CommandSpec> ConnectionCommands() {
  std::vector<CommandSpec> v;
  v.push_back({.name = "ping", .arity = -1, .flags = kFast | kSkipSlowlog | kAllowBusy,
               .acl = {"@fast", "@connection"},
               .summary = "Returns the server's liveliness response", .since = "1.0.0",
               .group = "connection", .complexity = "O(1)",
               .args = {{.name = "message", .type = ArgType::kString, .flags = kOptional}},
               .handler = Ping,
               .reply = "`PONG`, or the message as a bulk string."});
  v.push_back({.name = "echo", .arity = 2, .flags = kLoading | kStale | kFast,
               .acl = {"@fast", "@connection"}, .summary = "Returns the given string",
               .since = "1.0.0", .group = "connection", .complexity = "O(1)",
               .args = {{.name = "message", .type = ArgType::kString}}, .handler = Echo,
               .reply = "The message."});
  v.push_back({.name = "hello", .arity = -1,
               .flags = kNoScript | kLoading | kStale | kFast | kNoAuth | kAllowBusy,
               .acl = {"@fast", "@connection"}, .summary = "Handshakes with the server",
               .since = "6.0.0", .group = "connection", .complexity = "O(1)",
               .args = {{.name = "arguments", .type = ArgType::kBlock, .flags = kOptional,
                         .args = {{.name = "protover", .type = ArgType::kInteger},
                                  {.name = "auth", .type = ArgType::kBlock, .token = "AUTH",
                                   .flags = kOptional,
                                   .args = {{.name = "username", .type = ArgType::kString},
                                            {.name = "password", .type = ArgType::kString}}},
                                  {.name = "clientname", .type = ArgType::kString,
                                   .token = "SETNAME", .flags = kOptional}}}},
               .handler = Hello,
               .reply = "A map: `server`, `version`, `proto`, `id`, `mode`, `role`, `modules`."});
  v.push_back({.name = "auth", .arity = -2,
               .flags = kNoScript | kLoading | kStale | kFast | kNoAuth | kAllowBusy,
               .acl = {"@fast", "@connection"}, .summary = "Authenticates the connection",
               .since = "1.0.0", .group = "connection",
               .complexity = "O(N) where N is the number of passwords defined for the user",
               .args = {{.name = "username", .type = ArgType::kString, .flags = kOptional,
                         .since = "6.0.0"},
                        {.name = "password", .type = ArgType::kString}},
               .handler = Auth, .reply = "`OK`, or a WRONGPASS error."});
  v.push_back({.name = "select", .arity = 2, .flags = kLoading | kStale | kFast,
               .acl = {"@fast", "@connection"},
               .summary = "Changes the selected database (limiterd has only database 0)",
               .since = "1.0.0", .group = "connection", .complexity = "O(1)",
               .args = {{.name = "index", .type = ArgType::kInteger}}, .handler = Select,
               .reply = "`OK` for 0; an error for any other index."});
  v.push_back({.name = "quit", .arity = -1,
               .flags = kAllowBusy | kNoScript | kLoading | kStale | kFast | kNoAuth,
               .acl = {"@fast", "@connection"}, .summary = "Closes the connection",
               .since = "1.0.0", .group = "connection", .complexity = "O(1)", .handler = Quit,
               .reply = "`OK`, then the connection is closed."});
  v.push_back({.name = "reset", .arity = 1,
               .flags = kNoScript | kLoading | kStale | kFast | kNoAuth | kAllowBusy,
               .acl = {"@fast", "@connection"}, .summary = "Resets the connection",
               .since = "6.2.0", .group = "connection", .complexity = "O(1)", .handler = Reset,
               .reply = "`RESET`."});

  auto sub = [](std::string_view name, int arity, uint32_t flags, std::string_view summary,
                std::string_view since, Handler h, std::vector<Arg> args = {}) {
    CommandSpec c{.name = name, .arity = arity, .flags = flags | kNoScript | kLoading | kStale,
                  .acl = {"@slow", "@connection"}, .summary = summary, .since = since,
                  .group = "connection", .complexity = "O(1)", .args = std::move(args),
                  .handler = h};
    if (flags & kAdmin) c.acl = {"@admin", "@slow", "@dangerous", "@connection"};
    return c;
  };
  CommandSpec client{.name = "client", .arity = -2, .flags = 0, .acl = {"@slow"},
                     .summary = "A container for client connection commands", .since = "2.4.0",
                     .group = "connection", .complexity = "Depends on subcommand."};
  client.subcommands.push_back(sub("id", 2, 0, "Returns the unique client ID of the connection",
                                   "5.0.0", ClientId));
  client.subcommands.push_back(sub("setname", 3, 0, "Sets the connection name", "2.6.9",
                                   ClientSetName,
                                   {{.name = "connection-name", .type = ArgType::kString}}));
  client.subcommands.push_back(
      sub("getname", 2, 0, "Returns the name of the connection", "2.6.9", ClientGetName));
  client.subcommands.push_back(sub(
      "setinfo", 4, 0, "Sets information specific to the client or connection", "7.2.0",
      ClientSetInfo,
      {{.name = "attr", .type = ArgType::kOneOf,
        .args = {{.name = "libname", .type = ArgType::kString, .token = "LIB-NAME"},
                 {.name = "libver", .type = ArgType::kString, .token = "LIB-VER"}}}}));
  client.subcommands.push_back(sub(
      "list", -2, kAdmin, "Lists open connections", "2.4.0", ClientList,
      {{.name = "client-type", .type = ArgType::kOneOf, .token = "TYPE", .flags = kOptional,
        .args = {{.name = "normal", .type = ArgType::kPureToken, .token = "NORMAL"},
                 {.name = "master", .type = ArgType::kPureToken, .token = "MASTER"},
                 {.name = "replica", .type = ArgType::kPureToken, .token = "REPLICA"},
                 {.name = "pubsub", .type = ArgType::kPureToken, .token = "PUBSUB"}}},
       {.name = "client-id", .type = ArgType::kInteger, .token = "ID",
        .flags = kOptional | kMultiple}}));
  client.subcommands.back().tips = {"nondeterministic_output"};
  client.subcommands.push_back(sub(
      "kill", -3, kAdmin, "Terminates open connections", "2.4.0", ClientKill,
      {{.name = "filter", .type = ArgType::kOneOf,
        .args = {{.name = "old-format", .type = ArgType::kString},
                 {.name = "new-format", .type = ArgType::kOneOf, .flags = kMultiple,
                  .args = {{.name = "client-id", .type = ArgType::kInteger, .token = "ID",
                            .flags = kOptional},
                           {.name = "client-type", .type = ArgType::kOneOf, .token = "TYPE",
                            .flags = kOptional,
                            .args = {{.name = "normal", .type = ArgType::kPureToken,
                                      .token = "NORMAL"},
                                     {.name = "master", .type = ArgType::kPureToken,
                                      .token = "MASTER"},
                                     {.name = "replica", .type = ArgType::kPureToken,
                                      .token = "REPLICA"},
                                     {.name = "pubsub", .type = ArgType::kPureToken,
                                      .token = "PUBSUB"}}},
                           {.name = "username", .type = ArgType::kString, .token = "USER",
                            .flags = kOptional},
                           {.name = "addr", .type = ArgType::kString, .token = "ADDR",
                            .flags = kOptional},
                           {.name = "laddr", .type = ArgType::kString, .token = "LADDR",
                            .flags = kOptional},
                           {.name = "skipme", .type = ArgType::kOneOf, .token = "SKIPME",
                            .flags = kOptional,
                            .args = {{.name = "yes", .type = ArgType::kPureToken, .token = "YES"},
                                     {.name = "no", .type = ArgType::kPureToken,
                                      .token = "NO"}}}}}}}}));
  client.subcommands.push_back(sub("info", 2, 0,
                                   "Returns information about the connection", "6.2.0",
                                   ClientInfoCmd));
  client.subcommands.back().tips = {"nondeterministic_output"};
  client.subcommands.push_back(sub("help", 2, 0, "Returns helpful text about the different subcommands",
                                   "5.0.0", ClientHelp));
  client.subcommands.back().flags = kLoading | kStale;
  v.push_back(std::move(client));
  return v;
}

}  // namespace limiterd::server
