// Copyright limiterd authors.
// COMMAND, INFO, CONFIG, DBSIZE, FLUSHALL, TIME, DEBUG, SHUTDOWN and the
// persistence commands.
#include "server_test_util.h"

#include "errors.h"

using namespace st;  // NOLINT

TEST_CASE("COMMAND COUNT / LIST / GETKEYS", "[command]") {
  Fixture f;
  auto c = f.NewClient();
  size_t count = CommandTable::Get().commands().size();
  CHECK((*c)({"COMMAND", "COUNT"}) == Int(static_cast<int64_t>(count)));
  std::string list = (*c)({"COMMAND", "LIST"});
  for (std::string_view name : {"limit.set", "credits.consume", "client|list", "config|get",
                                "command|docs", "multi"}) {
    CHECK(list.find(Bulk(name)) != std::string::npos);
  }
  CHECK((*c)({"COMMAND", "LIST", "FILTERBY", "PATTERN", "limit.*"}) ==
        Arr(5) + Bulk("limit.set") + Bulk("limit.get") + Bulk("limit.del") +
            Bulk("limit.cancel") + Bulk("limit.scan"));
  CHECK((*c)({"COMMAND", "LIST", "FILTERBY", "ACLCAT", "transaction"}) ==
        Arr(5) + Bulk("multi") + Bulk("exec") + Bulk("discard") + Bulk("watch") +
            Bulk("unwatch"));
  CHECK((*c)({"COMMAND", "LIST", "FILTERBY", "foo", "x"}) == Err("ERR syntax error"));
  CHECK((*c)({"COMMAND", "GETKEYS", "LIMIT.DEL", "a", "b"}) == Arr(2) + Bulk("a") + Bulk("b"));
  CHECK((*c)({"COMMAND", "GETKEYS", "credits.consume", "k", "1"}) == Arr(1) + Bulk("k"));
  CHECK((*c)({"COMMAND", "GETKEYS", "PING", "x"}) == Err("ERR The command has no key arguments"));
  CHECK((*c)({"COMMAND", "GETKEYS", "nosuch", "x"}) == Err("ERR Invalid command specified"));
  CHECK((*c)({"COMMAND", "GETKEYS", "limit.get", "a", "b"}) ==
        Err("ERR Invalid number of arguments specified for command"));
  CHECK((*c)({"COMMAND", "FOO"}) == Err("ERR unknown subcommand 'FOO'. Try COMMAND HELP."));
  CHECK((*c)({"COMMAND"}).rfind(Arr(count), 0) == 0);
}

TEST_CASE("COMMAND INFO: Redis 7 shape, RESP2 and RESP3", "[command]") {
  Fixture f;
  auto c = f.NewClient();
  std::string keyspec2 = Arr(6) + Bulk("flags") + Arr(2) + "+RW\r\n+update\r\n" +
                         Bulk("begin_search") + Arr(4) + Bulk("type") + Bulk("index") +
                         Bulk("spec") + Arr(2) + Bulk("index") + Int(1) + Bulk("find_keys") +
                         Arr(4) + Bulk("type") + Bulk("range") + Bulk("spec") + Arr(6) +
                         Bulk("lastkey") + Int(0) + Bulk("keystep") + Int(1) + Bulk("limit") +
                         Int(0);
  std::string consume2 = Arr(10) + Bulk("credits.consume") + Int(-3) + Arr(3) +
                         "+write\r\n+denyoom\r\n+fast\r\n" + Int(1) + Int(1) + Int(1) + Arr(2) +
                         "+@write\r\n+@fast\r\n" + Arr(0) + Arr(1) + keyspec2 + Arr(0);
  CHECK((*c)({"COMMAND", "INFO", "credits.consume", "nosuch"}) == Arr(2) + consume2 + kNil2);

  (void)(*c)({"HELLO", "3"});
  std::string keyspec3 = Map3(3) + Bulk("flags") + "~2\r\n+RW\r\n+update\r\n" +
                         Bulk("begin_search") + Map3(2) + Bulk("type") + Bulk("index") +
                         Bulk("spec") + Map3(1) + Bulk("index") + Int(1) + Bulk("find_keys") +
                         Map3(2) + Bulk("type") + Bulk("range") + Bulk("spec") + Map3(3) +
                         Bulk("lastkey") + Int(0) + Bulk("keystep") + Int(1) + Bulk("limit") +
                         Int(0);
  std::string consume3 = Arr(10) + Bulk("credits.consume") + Int(-3) +
                         "~3\r\n+write\r\n+denyoom\r\n+fast\r\n" + Int(1) + Int(1) + Int(1) +
                         "~2\r\n+@write\r\n+@fast\r\n" + "~0\r\n" + "~1\r\n" + keyspec3 + "~0\r\n";
  CHECK((*c)({"COMMAND", "INFO", "CREDITS.CONSUME"}) == Arr(1) + consume3);

  // LIMIT.DEL: keys to the end.
  std::string del = (*c)({"COMMAND", "INFO", "limit.del"});
  CHECK(del.find(Int(1) + Int(-1) + Int(1)) != std::string::npos);
  CHECK(del.find(Bulk("lastkey") + Int(-1)) != std::string::npos);
  // A container lists its subcommands, each named parent|sub.
  std::string client = (*c)({"COMMAND", "INFO", "client"});
  CHECK(client.find(Bulk("client|setname") + Int(3)) != std::string::npos);
  CHECK((*c)({"COMMAND", "INFO", "client|setname"}).rfind(Arr(1) + Arr(10) + Bulk("client|setname"), 0) == 0);
}

TEST_CASE("COMMAND DOCS: Redis 7 shape", "[command]") {
  Fixture f;
  auto c = f.NewClient();
  std::string refund = Map3(1) + Bulk("credits.refund") + Map3(5) + Bulk("summary") +
                       Bulk("Gives back usage to a key and its limited ancestors") +
                       Bulk("since") + Bulk("0.1.0") + Bulk("group") + Bulk("credits") +
                       Bulk("complexity") + Bulk("O(depth of the key's path)") +
                       Bulk("arguments") + Arr(2) + Map3(3) + Bulk("name") + Bulk("key") +
                       Bulk("type") + Bulk("key") + Bulk("key_spec_index") + Int(0) + Map3(2) +
                       Bulk("name") + Bulk("amount") + Bulk("type") + Bulk("integer");
  (void)(*c)({"HELLO", "3"});
  CHECK((*c)({"COMMAND", "DOCS", "credits.refund", "nosuch"}) == refund);
  std::string set = (*c)({"COMMAND", "DOCS", "limit.set"});
  // The HARD | UNLIMITED choice.
  CHECK(set.find(Bulk("name") + Bulk("limit") + Bulk("type") + Bulk("oneof") + Bulk("flags") +
                 "~1\r\n+optional\r\n" + Bulk("arguments") + Arr(2) + Map3(4) + Bulk("name") +
                 Bulk("hard") + Bulk("type") + Bulk("integer") + Bulk("token") + Bulk("HARD") +
                 Bulk("summary")) !=
        std::string::npos);
  // Containers: subcommands map, no arguments.
  std::string client = (*c)({"COMMAND", "DOCS", "client"});
  CHECK(client.rfind(Map3(1) + Bulk("client") + Map3(5), 0) == 0);
  CHECK(client.find(Bulk("subcommands") + Map3(8) + Bulk("client|id")) != std::string::npos);
  (void)(*c)({"HELLO", "2"});
  CHECK((*c)({"COMMAND", "DOCS", "credits.refund"}).rfind(Arr(2) + Bulk("credits.refund") + Arr(10), 0) == 0);
}

TEST_CASE("every command is documented and consistent", "[command]") {
  for (const CommandSpec& c : CommandTable::Get().commands()) {
    INFO(c.full_name);
    CHECK(!c.summary.empty());
    CHECK(!c.since.empty());
    CHECK(!c.group.empty());
    CHECK(!c.acl.empty());
    CHECK((c.handler != nullptr || c.container()));
    CHECK((c.has_keys() == (c.access == DataAccess::kKeys) || c.name == "watch"));
    for (const CommandSpec& s : c.subcommands) {
      INFO(s.full_name);
      CHECK(s.handler != nullptr);
      CHECK((s.arity >= 2 || s.arity <= -2));
    }
    // Every key position is a `key` argument, and the reverse.
    bool key_arg = false;
    for (const Arg& a : c.args) key_arg = key_arg || a.type == ArgType::kKey;
    CHECK(key_arg == c.has_keys());
  }
}

TEST_CASE("INFO sections and field names", "[info]") {
  Fixture f;
  auto c = f.NewClient();
  (void)(*c)({"LIMIT.SET", "a", "HARD", "1"});
  std::string all = (*c)({"INFO"});
  for (std::string_view s : {"# Server\r\n", "# Clients\r\n", "# Memory\r\n", "# Persistence\r\n",
                             "# Stats\r\n", "# Replication\r\n", "# Keyspace\r\n",
                             "redis_version:7.2.0\r\n", "connected_clients:1\r\n",
                             "used_memory:", "loading:0\r\n", "total_commands_processed:",
                             "role:master\r\n", "db0:keys=1,expires=0,avg_ttl=0\r\n"}) {
    CHECK(all.find(s) != std::string::npos);
  }
  std::string ks = (*c)({"INFO", "keyspace"});
  CHECK(ks == Bulk("# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n"));
  std::string two = (*c)({"info", "CLIENTS", "replication"});
  CHECK(two.find("# Clients") != std::string::npos);
  CHECK(two.find("# Replication") != std::string::npos);
  CHECK(two.find("# Server") == std::string::npos);
  CHECK((*c)({"INFO", "nosuch"}) == Bulk(""));
  (void)(*c)({"HELLO", "3"});
  CHECK((*c)({"INFO", "keyspace"}).rfind("=", 0) == 0);
}

TEST_CASE("CONFIG GET / SET / REWRITE", "[config]") {
  Fixture f;
  auto c = f.NewClient();
  CHECK((*c)({"CONFIG", "GET", "port"}) == Arr(2) + Bulk("port") + Bulk("6390"));
  CHECK((*c)({"CONFIG", "GET", "max*", "timeout"}) ==
        Arr(4) + Bulk("maxclients") + Bulk("10000") + Bulk("timeout") + Bulk("0"));
  CHECK((*c)({"CONFIG", "SET", "timeout", "30", "maxclients", "50"}) == kOk);
  CHECK(f.state.config.timeout_seconds() == 30);
  CHECK(f.state.config.maxclients() == 50);
  CHECK((*c)({"CONFIG", "SET", "timeout", "x"}) ==
        Err("ERR CONFIG SET failed (possibly related to argument 'timeout') - argument couldn't "
            "be parsed into an integer"));
  CHECK((*c)({"CONFIG", "SET", "hierarchy-separator", ":"}) ==
        Err("ERR CONFIG SET failed (possibly related to argument 'hierarchy-separator') - can't "
            "set immutable config"));
  CHECK((*c)({"CONFIG", "SET", "nosuch", "1"}) ==
        Err("ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'"));
  // Redis 7: an odd number of arguments after SET is a syntax error.
  CHECK((*c)({"CONFIG", "SET", "timeout", "1", "maxclients"}) == Err("ERR syntax error"));
  CHECK((*c)({"CONFIG", "SET", "timeout", "1", "timeout", "2"}) ==
        Err("ERR CONFIG SET failed (possibly related to argument 'timeout') - duplicate "
            "parameter"));
  CHECK((*c)({"CONFIG", "SET", "loglevel", "loud"}) ==
        Err("ERR CONFIG SET failed (possibly related to argument 'loglevel') - argument(s) must "
            "be one of the following: debug, verbose, notice, warning"));
  // All or nothing.
  CHECK((*c)({"CONFIG", "SET", "timeout", "7", "maxclients", "0"}).rfind("-ERR CONFIG SET failed", 0) == 0);
  CHECK(f.state.config.timeout_seconds() == 30);
  CHECK((*c)({"CONFIG", "SET", "proto-max-bulk-len", "2mb"}) == kOk);
  CHECK((*c)({"CONFIG", "GET", "proto-max-bulk-len"}) ==
        Arr(2) + Bulk("proto-max-bulk-len") + Bulk("2097152"));
  CHECK((*c)({"CONFIG", "REWRITE"}) == Err("ERR The server is running without a config file"));
  CHECK((*c)({"CONFIG", "GET"}) == Err("ERR wrong number of arguments for 'config|get' command"));
  (void)(*c)({"HELLO", "3"});
  CHECK((*c)({"CONFIG", "GET", "port"}) == Map3(1) + Bulk("port") + Bulk("6390"));
}

TEST_CASE("DBSIZE, FLUSHALL, TIME, LASTSAVE, persistence commands", "[server]") {
  Fixture f;
  auto c = f.NewClient();
  (void)(*c)({"LIMIT.SET", "a", "HARD", "1"});
  (void)(*c)({"LIMIT.SET", "b", "HARD", "1"});
  CHECK((*c)({"DBSIZE"}) == Int(2));
  CHECK((*c)({"FLUSHALL", "x"}) == Err("ERR syntax error"));
  CHECK((*c)({"FLUSHALL", "ASYNC"}) == kOk);
  CHECK((*c)({"DBSIZE"}) == Int(0));
  CHECK((*c)({"TIME"}) == Arr(2) + Bulk("1709208000") + Bulk("0"));
  CHECK((*c)({"LASTSAVE"}) == Int(f.state.start_unix_ms / 1000));
  std::string no = Err(limiterd::server::err::kNoPersistence);
  CHECK((*c)({"SAVE"}) == no);
  CHECK((*c)({"BGSAVE"}) == no);
  CHECK((*c)({"BGSAVE", "SCHEDULE"}) == no);
  CHECK((*c)({"BGREWRITEAOF"}) == no);
  CHECK((*c)({"SHUTDOWN", "SAVE"}) == no);
  CHECK((*c)({"SHUTDOWN", "ABORT"}) == Err("ERR No shutdown in progress."));
  CHECK((*c)({"SHUTDOWN", "foo"}) == Err("ERR syntax error"));
  CHECK(!f.state.shutdown_requested());
  CHECK((*c)({"SHUTDOWN", "NOSAVE"}) == "");
  CHECK(f.state.shutdown_requested());
  CHECK(c->session().close_after_reply);
}

TEST_CASE("DEBUG CLOCK only with enable-debug-command", "[debug]") {
  Fixture off;
  auto c = off.NewClient();
  CHECK((*c)({"DEBUG", "CLOCK", "REAL"}).rfind("-ERR DEBUG command not allowed.", 0) == 0);

  Fixture f(Overrides{{"enable-debug-command", "yes"}});
  auto d = f.NewClient();
  CHECK((*d)({"DEBUG", "CLOCK", "SET", "1000000"}) == kOk);
  CHECK((*d)({"TIME"}) == Arr(2) + Bulk("1000") + Bulk("0"));
  CHECK((*d)({"DEBUG", "CLOCK", "ADVANCE", "1500"}) == kOk);
  CHECK((*d)({"TIME"}) == Arr(2) + Bulk("1001") + Bulk("500000"));
  CHECK((*d)({"DEBUG", "CLOCK", "ADVANCE", "x"}) == Err("ERR value is not an integer or out of range"));
  CHECK((*d)({"DEBUG", "CLOCK", "FOO"}) == Err("ERR DEBUG CLOCK SET <unix-ms> | ADVANCE <ms> | REAL"));
  CHECK((*d)({"DEBUG", "FOO"}) == Err("ERR unknown subcommand 'FOO'. Try DEBUG HELP."));
  CHECK((*d)({"DEBUG", "CLOCK", "REAL"}) == kOk);
  CHECK(!f.state.clock.stopped());

  // debug-clock: stopped from the start, but only with DEBUG enabled (the
  // daemon refuses it without; tests/blackbox/test_durability.py).
  ServerState at(MakeConfig({{"enable-debug-command", "yes"}, {"debug-clock", "2000500"}}), 1);
  CHECK(at.clock.stopped());
  CHECK(at.clock.NowMs() == 2000500);
  ServerState ignored(MakeConfig({{"debug-clock", "2000500"}}), 1);
  CHECK(!ignored.clock.stopped());

  // A quota period rolls over when the clock passes its end.
  (void)(*d)({"DEBUG", "CLOCK", "SET", std::to_string(kNow)});
  REQUIRE((*d)({"LIMIT.SET", "q", "HARD", "1", "PERIOD", "1h"}) == kOk);
  CHECK((*d)({"CREDITS.CONSUME", "q", "1"}).substr(0, 8) == Arr(6) + Int(1));
  CHECK((*d)({"CREDITS.CONSUME", "q", "1"}) ==
        Arr(6) + Int(0) + Int(0) + Int(1) + Int(3600000) + Int(3600000) + Bulk("q"));
  CHECK((*d)({"DEBUG", "CLOCK", "ADVANCE", "3600000"}) == kOk);
  CHECK((*d)({"CREDITS.CONSUME", "q", "1"}).substr(0, 8) == Arr(6) + Int(1));
}
