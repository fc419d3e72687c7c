// Copyright limiterd authors.
// COMMAND INFO and COMMAND DOCS replies in Redis 7's exact shapes (so
// redis-cli hints and cluster-aware clients read them), the syntax line of a
// command, and docs/commands.md, all from the command table.
#include <fmt/format.h>

#include "args.h"
#include "command_table.h"

namespace limiterd::server {
namespace {

constexpr std::pair<CommandFlag, std::string_view> kFlagNames[] = {
    {kWrite, "write"},          {kReadOnly, "readonly"},       {kDenyOom, "denyoom"},
    {kAdmin, "admin"},          {kNoScript, "noscript"},       {kLoading, "loading"},
    {kStale, "stale"},          {kSkipMonitor, "skip_monitor"}, {kSkipSlowlog, "skip_slowlog"},
    {kFast, "fast"},            {kNoAuth, "no_auth"},          {kMayReplicate, "may_replicate"},
    {kNoMulti, "no_multi"},     {kAllowBusy, "allow_busy"},
};

std::vector<std::string_view> FlagNames(uint32_t flags) {
  std::vector<std::string_view> out;
  for (const auto& [f, name] : kFlagNames) {
    if (flags & f) out.push_back(name);
  }
  return out;
}

std::string_view TypeName(ArgType t) {
  switch (t) {
    case ArgType::kString: return "string";
    case ArgType::kInteger: return "integer";
    case ArgType::kDouble: return "double";
    case ArgType::kKey: return "key";
    case ArgType::kPattern: return "pattern";
    case ArgType::kUnixTime: return "unix-time";
    case ArgType::kPureToken: return "pure-token";
    case ArgType::kOneOf: return "oneof";
    case ArgType::kBlock: return "block";
  }
  return "string";
}

void ReplyStatusSet(resp::ReplyWriter& out, const std::vector<std::string_view>& items) {
  out.Set(items.size());
  for (std::string_view s : items) out.Simple(s);
}

void ReplyKeySpec(resp::ReplyWriter& out, const CommandSpec& c) {
  out.Map(3);
  out.Bulk("flags");
  ReplyStatusSet(out, c.key_flags);
  out.Bulk("begin_search");
  out.Map(2);
  out.Bulk("type");
  out.Bulk("index");
  out.Bulk("spec");
  out.Map(1);
  out.Bulk("index");
  out.Integer(c.first_key);
  out.Bulk("find_keys");
  out.Map(2);
  out.Bulk("type");
  out.Bulk("range");
  out.Bulk("spec");
  out.Map(3);
  out.Bulk("lastkey");
  out.Integer(c.last_key < 0 ? c.last_key : c.last_key - c.first_key);
  out.Bulk("keystep");
  out.Integer(c.key_step);
  out.Bulk("limit");
  out.Integer(0);
}

std::vector<std::string_view> ArgFlagNames(uint8_t flags) {
  std::vector<std::string_view> out;
  if (flags & kOptional) out.push_back("optional");
  if (flags & kMultiple) out.push_back("multiple");
  if (flags & kMultipleToken) out.push_back("multiple_token");
  return out;
}

void ReplyArgs(resp::ReplyWriter& out, const std::vector<Arg>& args) {
  out.Array(args.size());
  for (const Arg& a : args) {
    bool nested = a.type == ArgType::kOneOf || a.type == ArgType::kBlock;
    size_t pairs = 2 + (a.type == ArgType::kKey) + !a.token.empty() + !a.summary.empty() +
                   !a.since.empty() + (a.flags != 0) + nested;
    out.Map(pairs);
    out.Bulk("name");
    out.Bulk(a.name);
    out.Bulk("type");
    out.Bulk(TypeName(a.type));
    if (a.type == ArgType::kKey) {
      out.Bulk("key_spec_index");
      out.Integer(0);
    }
    if (!a.token.empty()) {
      out.Bulk("token");
      out.Bulk(a.token);
    }
    if (!a.summary.empty()) {
      out.Bulk("summary");
      out.Bulk(a.summary);
    }
    if (!a.since.empty()) {
      out.Bulk("since");
      out.Bulk(a.since);
    }
    if (a.flags != 0) {
      out.Bulk("flags");
      ReplyStatusSet(out, ArgFlagNames(a.flags));
    }
    if (nested) {
      out.Bulk("arguments");
      ReplyArgs(out, a.args);
    }
  }
}

std::string ArgSyntax(const Arg& a) {
  std::string core;
  switch (a.type) {
    case ArgType::kPureToken:
      core = std::string(a.token);
      break;
    case ArgType::kOneOf:
    case ArgType::kBlock: {
      std::string_view sep = a.type == ArgType::kOneOf ? " | " : " ";
      for (size_t i = 0; i < a.args.size(); ++i) {
        if (i > 0) core += sep;
        core += ArgSyntax(a.args[i]);
      }
      if (a.type == ArgType::kOneOf && !(a.flags & kOptional)) core = "<" + core + ">";
      if (!a.token.empty()) core = std::string(a.token) + " " + core;
      break;
    }
    default:
      core = a.token.empty() ? std::string(a.name) : fmt::format("{} {}", a.token, a.name);
  }
  if (a.flags & kMultiple) {
    // "ID id [id ...]", but "PREFIX p [PREFIX p ...]" for multiple_token.
    bool simple = a.type != ArgType::kOneOf && a.type != ArgType::kBlock &&
                  a.type != ArgType::kPureToken;
    bool repeat_token = (a.flags & kMultipleToken) || a.token.empty() || !simple;
    core = fmt::format("{} [{} ...]", core, repeat_token ? core : std::string(a.name));
  }
  if (a.flags & kOptional) core = "[" + core + "]";
  return core;
}

std::string Join(const std::vector<std::string_view>& items, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += sep;
    out += items[i];
  }
  return out;
}

// "- `HARD hard`: summary" for every argument that has a summary.
void MarkdownArgs(const std::vector<Arg>& args, std::string& md) {
  for (const Arg& a : args) {
    if (!a.summary.empty()) {
      std::string form = a.type == ArgType::kPureToken ? std::string(a.token)
                         : a.token.empty()            ? std::string(a.name)
                                                      : fmt::format("{} {}", a.token, a.name);
      md += fmt::format("- `{}`: {}\n", form, a.summary);
    }
    MarkdownArgs(a.args, md);
  }
}

std::string EscapeCell(std::string_view s) {
  std::string out;
  for (char ch : s) {
    if (ch == '|') out += '\\';
    out += ch;
  }
  return out;
}

void MarkdownCommand(const CommandSpec& c, std::string& md, std::string_view heading) {
  // fmt rather than string + string: GCC 12 -O3 misreads those (-Wrestrict).
  if (c.parent) {
    md += fmt::format("{} {} {}\n\n", heading, ToUpper(c.parent->name), ToUpper(c.name));
  } else {
    md += fmt::format("{} {}\n\n", heading, ToUpper(c.name));
  }
  if (!c.container()) md += fmt::format("```\n{}\n```\n\n", CommandSyntax(c));
  md += fmt::format("{}.\n\n", c.summary);
  std::string args;
  MarkdownArgs(c.args, args);
  if (!args.empty()) md += "Arguments:\n\n" + args + "\n";
  md += fmt::format("- Since: {}; group: {}; complexity: {}\n", c.since, c.group, c.complexity);
  std::string keys = c.has_keys()
                         ? fmt::format("first {}, last {}, step {}", c.first_key, c.last_key,
                                       c.key_step)
                         : std::string("none");
  md += fmt::format("- Arity: {}; keys: {}; flags: {}\n", c.arity, keys,
                    c.flags ? Join(FlagNames(c.flags), ", ") : std::string("none"));
  md += fmt::format("- ACL categories: {}\n", Join(c.acl, " "));
  if (!c.reply.empty()) md += fmt::format("- Reply: {}\n", c.reply);
  md += "\n";
}

}  // namespace

void ReplyCommandInfo(resp::ReplyWriter& out, const CommandSpec& c) {
  out.Array(10);
  out.Bulk(c.full_name);
  out.Integer(c.arity);
  ReplyStatusSet(out, FlagNames(c.flags));
  out.Integer(c.first_key);
  out.Integer(c.last_key);
  out.Integer(c.key_step);
  ReplyStatusSet(out, c.acl);
  ReplyStatusSet(out, c.tips);
  out.Set(c.has_keys() ? 1 : 0);
  if (c.has_keys()) ReplyKeySpec(out, c);
  if (c.subcommands.empty()) {
    out.Set(0);
  } else {
    out.Array(c.subcommands.size());
    for (const CommandSpec& sub : c.subcommands) ReplyCommandInfo(out, sub);
  }
}

void ReplyCommandDocs(resp::ReplyWriter& out, const CommandSpec& c) {
  out.Map(4 + !c.args.empty() + c.container());
  out.Bulk("summary");
  out.Bulk(c.summary);
  out.Bulk("since");
  out.Bulk(c.since);
  out.Bulk("group");
  out.Bulk(c.group);
  out.Bulk("complexity");
  out.Bulk(c.complexity);
  if (!c.args.empty()) {
    out.Bulk("arguments");
    ReplyArgs(out, c.args);
  }
  if (c.container()) {
    out.Bulk("subcommands");
    out.Map(c.subcommands.size());
    for (const CommandSpec& sub : c.subcommands) {
      out.Bulk(sub.full_name);
      ReplyCommandDocs(out, sub);
    }
  }
}

std::string CommandSyntax(const CommandSpec& c) {
  std::string s = ToUpper(c.parent ? c.parent->name : c.name);
  // Appends, not " " + x: GCC 12 -O3 misreads those (-Wrestrict).
  if (c.parent) {
    s += ' ';
    s += ToUpper(c.name);
  }
  for (const Arg& a : c.args) {
    s += ' ';
    s += ArgSyntax(a);
  }
  return s;
}

std::string CommandsMarkdown() {
  std::string md =
      "# limiterd commands\n\n"
      "<!-- Generated by `limiterd --commands-markdown` from the command table "
      "(server/commands_*.cc). Do not edit: a server test checks that this file matches. -->\n\n"
      "Every command limiterd answers, with the syntax, arity (Redis's convention: the count "
      "includes the command name; -N means at least N), key positions, flags and ACL "
      "categories that `COMMAND INFO` and `COMMAND DOCS` report. Keywords are "
      "case-insensitive; durations take a unit (`ms`, `s`, `m`, `h`, `d`, `w`); times and "
      "durations in replies are integer milliseconds. Maps are RESP3 maps, and flat "
      "field/value arrays in RESP2.\n\n";
  std::string_view group;
  const auto& commands = CommandTable::Get().commands();
  md += "| command | summary |\n|---|---|\n";
  for (const CommandSpec& c : commands) {
    md += fmt::format("| `{}` | {} |\n", ToUpper(c.name), EscapeCell(c.summary));
  }
  md += "\n";
  for (const CommandSpec& c : commands) {
    if (c.group != group) {
      group = c.group;
      md += fmt::format("## {}\n\n", ToUpper(group.substr(0, 1)) + std::string(group.substr(1)));
    }
    MarkdownCommand(c, md, "###");
    for (const CommandSpec& sub : c.subcommands) MarkdownCommand(sub, md, "####");
  }
  return md;
}

}  // namespace limiterd::server
