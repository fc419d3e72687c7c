// Copyright limiterd authors.
// Every error string the daemon replies, in one place (SPEC section 4). The
// texts are Redis's own wherever Redis has one, byte for byte, so clients
// and tools that match on them keep working; the rest are limiterd's.
// Constants hold the full reply text without "-" and CRLF; the functions
// build the texts that carry an argument.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace limiterd::server::err {

// Generic (Redis).
inline constexpr std::string_view kSyntax = "ERR syntax error";
inline constexpr std::string_view kNotInteger = "ERR value is not an integer or out of range";
inline constexpr std::string_view kNotPositive = "ERR value is out of range, must be positive";
inline constexpr std::string_view kInvalidCursor = "ERR invalid cursor";

// Connection (Redis).
inline constexpr std::string_view kNoAuth = "NOAUTH Authentication required.";
inline constexpr std::string_view kWrongPass =
    "WRONGPASS invalid username-password pair or user is disabled.";
inline constexpr std::string_view kAuthNoPassword =
    "ERR AUTH <password> called without any password configured for the default user. "
    "Are you sure your configuration is correct?";
inline constexpr std::string_view kHelloNoAuth =
    "NOAUTH HELLO must be called with the client already authenticated, otherwise the "
    "HELLO AUTH <user> <pass> option can be used to authenticate the client and select the "
    "RESP protocol version at the same time";
inline constexpr std::string_view kNoProto = "NOPROTO unsupported protocol version";
inline constexpr std::string_view kProtoNotInteger =
    "ERR Protocol version is not an integer or out of range";
inline constexpr std::string_view kDbIndexOutOfRange = "ERR DB index is out of range";
inline constexpr std::string_view kClientNameSpaces =
    "ERR Client names cannot contain spaces, newlines or special characters.";
inline constexpr std::string_view kClientInfoSpaces =
    "ERR lib-name and lib-ver cannot contain spaces, newlines or special characters.";
inline constexpr std::string_view kNoSuchClient = "ERR No such client";
inline constexpr std::string_view kClientIdNotPositive = "ERR client-id should be greater than 0";
inline constexpr std::string_view kMaxClients = "ERR max number of clients reached";
inline constexpr std::string_view kInvalidClientId = "ERR Invalid client ID";
inline std::string UnknownClientType(std::string_view type) {
  return fmt::format("ERR Unknown client type '{}'", type);
}

// Protocol errors: "ERR " + the parser's text ("Protocol error: ...").
inline constexpr std::string_view kProtocolPrefix = "ERR ";

// Transactions (Redis).
inline constexpr std::string_view kMultiNested = "ERR MULTI calls can not be nested";
inline constexpr std::string_view kExecWithoutMulti = "ERR EXEC without MULTI";
inline constexpr std::string_view kDiscardWithoutMulti = "ERR DISCARD without MULTI";
inline constexpr std::string_view kExecAbort =
    "EXECABORT Transaction discarded because of previous errors.";
inline constexpr std::string_view kWatchInsideMulti = "ERR WATCH inside MULTI is not allowed";
// limiterd: a transaction's queue is bounded like the input it came from.
inline constexpr std::string_view kMultiTooLarge =
    "ERR MULTI queue exceeds client-query-buffer-limit; transaction discarded at EXEC";
inline constexpr std::string_view kNotAllowedInMulti =
    "ERR Command not allowed inside a transaction";
// limiterd: every transaction is atomic over the keys it names, so there is
// nothing to watch.
inline constexpr std::string_view kWatchUnsupported =
    "ERR WATCH is not supported: MULTI/EXEC in limiterd is always atomic over the keys it names";

// Server (Redis).
inline constexpr std::string_view kDebugDisabled =
    "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", "
    "you can run it from a local connection, otherwise you need to set this option in the "
    "configuration file, and then restart the server.";
inline constexpr std::string_view kGetKeysInvalidCommand = "ERR Invalid command specified";
inline constexpr std::string_view kGetKeysInvalidArity =
    "ERR Invalid number of arguments specified for command";
inline constexpr std::string_view kGetKeysNoKeys = "ERR The command has no key arguments";
inline constexpr std::string_view kNoConfigFile = "ERR The server is running without a config file";
inline constexpr std::string_view kNoShutdownInProgress = "ERR No shutdown in progress.";
inline constexpr std::string_view kRewriteFailed =
    "ERR Rewriting config file: ";  // followed by the reason

// Persistence (Redis). MISCONF texts come from persistence::Durability.
inline constexpr std::string_view kShutdownFailed = "ERR Errors trying to SHUTDOWN. Check logs.";
inline constexpr std::string_view kBgSaveDuringRewrite =
    "ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE "
    "in order to schedule a BGSAVE whenever possible.";
// Redis's execCommandAbort: a transaction refused at EXEC (a write while
// writes are refused).
inline std::string ExecAbortBecause(std::string_view error) {
  return fmt::format("EXECABORT Transaction discarded because of: {}", error);
}
// limiterd: a ServerState without durability (in-process tests only; the
// daemon always has one, even with appendonly no and no save rules).
inline constexpr std::string_view kNoPersistence =
    "ERR persistence is off in this server (no durability configured)";

// limiterd: LIMIT.SET / CREDITS.* argument errors that Redis has no text for.
inline constexpr std::string_view kHardRequired =
    "ERR HARD or UNLIMITED is required (except with RATE)";
inline constexpr std::string_view kDebugClockUsage =
    "ERR DEBUG CLOCK SET <unix-ms> | ADVANCE <ms> | REAL";

// "ERR unknown command 'foo', with args beginning with: 'a' 'b' "
inline std::string UnknownCommand(std::span<const std::string_view> args) {
  // As Redis: each argument quoted, until the list passes 128 bytes.
  std::string list;
  for (size_t i = 1; i < args.size() && list.size() < 128; ++i) {
    list += fmt::format("'{}' ", args[i].substr(0, 128 - list.size()));
  }
  return fmt::format("ERR unknown command '{}', with args beginning with: {}",
                     args.empty() ? std::string_view{} : args[0].substr(0, 128), list);
}

// name: "limit.set", or "client|setname" for a subcommand.
inline std::string WrongArity(std::string_view name) {
  return fmt::format("ERR wrong number of arguments for '{}' command", name);
}

// "ERR unknown subcommand 'FOO'. Try CLIENT HELP."
inline std::string UnknownSubcommand(std::string_view sub, std::string_view container_upper) {
  return fmt::format("ERR unknown subcommand '{}'. Try {} HELP.", sub.substr(0, 128),
                     container_upper);
}

inline std::string HelloOption(std::string_view option) {
  return fmt::format("ERR Syntax error in HELLO option '{}'", option);
}

inline std::string ClientSetInfoOption(std::string_view option) {
  return fmt::format("ERR Unrecognized option '{}'", option);
}

// The Engine's errors (limiterd::Error): kNoLimit -> "NOLIMIT <message>",
// kInvalidArgument and kOverflow -> "ERR <message>".
inline constexpr std::string_view kNoLimitPrefix = "NOLIMIT ";
inline constexpr std::string_view kEnginePrefix = "ERR ";
inline constexpr std::string_view kInternal = "ERR internal error: ";

// CONFIG SET (Redis 7).
inline std::string ConfigSetUnknown(std::string_view name) {
  return fmt::format("ERR Unknown option or number of arguments for CONFIG SET - '{}'", name);
}
inline std::string ConfigSetFailed(std::string_view name, std::string_view reason) {
  return fmt::format("ERR CONFIG SET failed (possibly related to argument '{}') - {}", name,
                     reason);
}
// The reasons CONFIG SET and the config file give (Redis's words).
inline constexpr std::string_view kConfigImmutable = "can't set immutable config";
inline constexpr std::string_view kConfigDuplicate = "duplicate parameter";
inline constexpr std::string_view kConfigBool = "argument must be 'yes' or 'no'";
inline constexpr std::string_view kConfigInteger = "argument couldn't be parsed into an integer";
inline constexpr std::string_view kConfigMemory = "argument must be a memory value";
inline constexpr std::string_view kConfigSave = "Invalid save parameters";
inline constexpr std::string_view kConfigNewline = "argument must not contain newlines";
inline constexpr std::string_view kConfigBadDirective = "Bad directive or wrong number of arguments";
inline constexpr std::string_view kConfigQuotes = "Unbalanced quotes in configuration line";
inline std::string ConfigRange(int64_t min, int64_t max) {
  return fmt::format("argument must be between {} and {} inclusive", min, max);
}
inline std::string ConfigNotAFileName(std::string_view directive) {
  return fmt::format("{} can't be a path, just a {}", directive,
                     directive == "appenddirname" ? "dirname" : "filename");
}
inline std::string ConfigChoices(std::string_view choices) {
  return fmt::format("argument(s) must be one of the following: {}", choices);
}

}  // namespace limiterd::server::err
