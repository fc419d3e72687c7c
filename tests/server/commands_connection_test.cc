// Copyright limiterd authors.
// PING, ECHO, HELLO, AUTH, SELECT, QUIT, RESET, CLIENT: Redis's texts and
// reply shapes.
#include "server_test_util.h"

using namespace st;  // NOLINT

namespace {
std::string HelloMap(int proto, uint64_t id) {
  std::string body = Bulk("server") + Bulk("limiterd") + Bulk("version") + Bulk("0.1.0") +
                     Bulk("proto") + Int(proto) + Bulk("id") + Int(static_cast<int64_t>(id)) +
                     Bulk("mode") + Bulk("standalone") + Bulk("role") + Bulk("master") +
                     Bulk("modules") + Arr(0);
  return (proto == 3 ? Map3(7) : Arr(14)) + body;
}
}  // namespace

TEST_CASE("PING and ECHO", "[connection]") {
  Fixture f;
  auto c = f.NewClient();
  CHECK((*c)({"PING"}) == "+PONG\r\n");
  CHECK((*c)({"ping", "hi"}) == Bulk("hi"));
  CHECK((*c)({"PING", "a", "b"}) == Err("ERR wrong number of arguments for 'ping' command"));
  CHECK((*c)({"ECHO", "x y"}) == Bulk("x y"));
  CHECK((*c)({"ECHO"}) == Err("ERR wrong number of arguments for 'echo' command"));
}

TEST_CASE("HELLO switches the protocol; errors as Redis", "[connection]") {
  Fixture f;
  auto c = f.NewClient();
  uint64_t id = c->session().info->id;
  CHECK((*c)({"HELLO"}) == HelloMap(2, id));
  CHECK((*c)({"HELLO", "3"}) == HelloMap(3, id));
  CHECK(c->session().protocol == 3);
  CHECK((*c)({"GETX"}).rfind("-ERR unknown command", 0) == 0);
  CHECK((*c)({"HELLO", "2"}) == HelloMap(2, id));
  CHECK((*c)({"HELLO", "4"}) == Err("NOPROTO unsupported protocol version"));
  CHECK((*c)({"HELLO", "1"}) == Err("NOPROTO unsupported protocol version"));
  CHECK((*c)({"HELLO", "x"}) == Err("ERR Protocol version is not an integer or out of range"));
  CHECK((*c)({"HELLO", "3", "SETNAME"}) == Err("ERR Syntax error in HELLO option 'SETNAME'"));
  CHECK((*c)({"HELLO", "3", "FOO"}) == Err("ERR Syntax error in HELLO option 'FOO'"));
  CHECK(c->session().protocol == 2);
  CHECK((*c)({"HELLO", "3", "SETNAME", "worker-1"}) == HelloMap(3, id));
  CHECK((*c)({"CLIENT", "GETNAME"}) == Bulk("worker-1"));
  // Without requirepass the default user takes any password (nopass).
  CHECK((*c)({"HELLO", "2", "AUTH", "default", "whatever"}) == HelloMap(2, id));
  CHECK((*c)({"HELLO", "2", "AUTH", "bob", "x"}) ==
        Err("WRONGPASS invalid username-password pair or user is disabled."));
}

TEST_CASE("requirepass: NOAUTH, WRONGPASS, AUTH, HELLO AUTH", "[connection]") {
  Fixture f(Overrides{{"requirepass", "s3cret"}});
  auto c = f.NewClient();
  const std::string noauth = Err("NOAUTH Authentication required.");
  const std::string wrongpass = Err("WRONGPASS invalid username-password pair or user is disabled.");
  CHECK((*c)({"PING"}) == noauth);
  CHECK((*c)({"LIMIT.GET", "k"}) == noauth);
  // Unknown commands and arity errors come first, as in Redis.
  CHECK((*c)({"NOSUCH"}).rfind("-ERR unknown command 'NOSUCH'", 0) == 0);
  CHECK((*c)({"AUTH", "nope"}) == wrongpass);
  CHECK((*c)({"AUTH", "default", "nope"}) == wrongpass);
  CHECK((*c)({"AUTH", "a", "b", "c"}) == Err("ERR syntax error"));
  CHECK((*c)({"HELLO", "3"}).rfind("-NOAUTH HELLO must be called with the client already", 0) == 0);
  CHECK((*c)({"HELLO", "3", "AUTH", "default", "nope"}) == wrongpass);
  CHECK(c->session().protocol == 2);
  CHECK((*c)({"HELLO", "3", "AUTH", "default", "s3cret"}) == HelloMap(3, c->session().info->id));
  CHECK((*c)({"PING"}) == "+PONG\r\n");
  CHECK((*c)({"RESET"}) == "+RESET\r\n");
  CHECK((*c)({"PING"}) == noauth);
  CHECK((*c)({"AUTH", "s3cret"}) == kOk);
  CHECK((*c)({"PING"}) == "+PONG\r\n");

  Fixture open;
  auto d = open.NewClient();
  CHECK((*d)({"AUTH", "x"}) ==
        Err("ERR AUTH <password> called without any password configured for the default user. "
            "Are you sure your configuration is correct?"));
}

TEST_CASE("SELECT, QUIT, RESET", "[connection]") {
  Fixture f;
  auto c = f.NewClient();
  CHECK((*c)({"SELECT", "0"}) == kOk);
  CHECK((*c)({"SELECT", "1"}) == Err("ERR DB index is out of range"));
  CHECK((*c)({"SELECT", "x"}) == Err("ERR value is not an integer or out of range"));
  (void)(*c)({"HELLO", "3", "SETNAME", "n"});
  (void)(*c)({"MULTI"});
  CHECK((*c)({"RESET"}) == "+RESET\r\n");
  CHECK(c->session().protocol == 2);
  CHECK(!c->session().in_multi);
  CHECK((*c)({"CLIENT", "GETNAME"}) == kNil2);
  CHECK(!c->session().close_after_reply);
  CHECK((*c)({"QUIT"}) == kOk);
  CHECK(c->session().close_after_reply);
}

TEST_CASE("CLIENT subcommands", "[connection]") {
  Fixture f;
  auto c = f.NewClient("10.0.0.1:1111");
  auto other = f.NewClient("10.0.0.2:2222");
  uint64_t id = c->session().info->id;
  CHECK((*c)({"CLIENT", "ID"}) == Int(static_cast<int64_t>(id)));
  CHECK((*c)({"CLIENT", "GETNAME"}) == kNil2);
  CHECK((*c)({"CLIENT", "SETNAME", "api-1"}) == kOk);
  CHECK((*c)({"client", "getname"}) == Bulk("api-1"));
  CHECK((*c)({"CLIENT", "SETNAME", "a b"}) ==
        Err("ERR Client names cannot contain spaces, newlines or special characters."));
  CHECK((*c)({"CLIENT", "SETINFO", "lib-name", "redis-py"}) == kOk);
  CHECK((*c)({"CLIENT", "SETINFO", "LIB-VER", "5.0.1"}) == kOk);
  CHECK((*c)({"CLIENT", "SETINFO", "foo", "1"}) == Err("ERR Unrecognized option 'foo'"));
  CHECK((*c)({"CLIENT", "SETNAME"}) ==
        Err("ERR wrong number of arguments for 'client|setname' command"));
  CHECK((*c)({"CLIENT"}) == Err("ERR wrong number of arguments for 'client' command"));
  CHECK((*c)({"CLIENT", "NOPE"}) == Err("ERR unknown subcommand 'NOPE'. Try CLIENT HELP."));

  std::string info = (*c)({"CLIENT", "INFO"});
  CHECK(info.rfind("$", 0) == 0);
  CHECK(info.find(fmt::format("id={} addr=10.0.0.1:1111 laddr=127.0.0.1:6390 ", id)) !=
        std::string::npos);
  CHECK(info.find(" name=api-1 ") != std::string::npos);
  CHECK(info.find(" cmd=client|info ") != std::string::npos);
  CHECK(info.find(" resp=2 lib-name=redis-py lib-ver=5.0.1\n") != std::string::npos);
  std::string list = (*c)({"CLIENT", "LIST"});
  CHECK(list.find("addr=10.0.0.1:1111") != std::string::npos);
  CHECK(list.find("addr=10.0.0.2:2222") != std::string::npos);
  list = (*c)({"CLIENT", "LIST", "ID", std::to_string(id)});
  CHECK(list.find("addr=10.0.0.2:2222") == std::string::npos);
  (void)(*c)({"HELLO", "3"});
  CHECK((*c)({"CLIENT", "INFO"}).rfind("=", 0) == 0);  // verbatim in RESP3

  CHECK((*c)({"CLIENT", "KILL", "1.2.3.4:5"}) == Err("ERR No such client"));
  CHECK((*c)({"CLIENT", "KILL", "ID", "x"}) == Err("ERR client-id should be greater than 0"));
  CHECK((*c)({"CLIENT", "KILL", "ID", "999999"}) == Int(0));
  CHECK((*c)({"CLIENT", "KILL", "FOO", "bar"}) == Err("ERR syntax error"));
  CHECK((*c)({"CLIENT", "KILL", "ADDR", "10.0.0.1:1111"}) == Int(0));  // SKIPME yes
  CHECK(!c->session().close_after_reply);
  CHECK((*c)({"CLIENT", "KILL", "ADDR", "10.0.0.1:1111", "SKIPME", "no"}) == Int(1));
  CHECK(c->session().close_after_reply);
  CHECK((*other)({"CLIENT", "KILL", "10.0.0.1:1111"}) == kOk);
}
