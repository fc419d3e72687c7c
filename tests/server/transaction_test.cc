// Copyright limiterd authors.
// MULTI / EXEC / DISCARD / WATCH, and EXEC's atomicity across threads.
#include <atomic>
#include <thread>

#include "errors.h"
#include "server_test_util.h"

using namespace st;  // NOLINT

TEST_CASE("MULTI queues, EXEC replies every result", "[multi]") {
  Fixture f;
  auto c = f.NewClient();
  CHECK((*c)({"MULTI"}) == kOk);
  CHECK((*c)({"LIMIT.SET", "k", "HARD", "5"}) == "+QUEUED\r\n");
  CHECK((*c)({"CREDITS.CONSUME", "k", "3"}) == "+QUEUED\r\n");
  CHECK((*c)({"CREDITS.CONSUME", "k", "3"}) == "+QUEUED\r\n");
  CHECK((*c)({"LIMIT.SET", "k", "HARD", "1", "SOFT", "2"}) == "+QUEUED\r\n");  // runtime error
  CHECK((*c)({"DBSIZE"}) == "+QUEUED\r\n");
  CHECK((*c)({"PING"}) == "+QUEUED\r\n");
  std::string r = (*c)({"EXEC"});
  std::string expect_prefix = Arr(6) + kOk + Arr(6) + Int(1) + Int(2) + Int(5) + Int(0) +
                              Int(-1) + Bulk("k") + Arr(6) + Int(0) + Int(2) + Int(5) + Int(-1) +
                              Int(-1) + Bulk("k") + "-ERR ";
  CHECK(r.rfind(expect_prefix, 0) == 0);
  CHECK(r.size() > 6);
  CHECK(r.substr(r.size() - 11) == Int(1) + "+PONG\r\n");
  CHECK(!c->session().in_multi);
}

TEST_CASE("queue-time errors abort EXEC; control commands", "[multi]") {
  Fixture f;
  auto c = f.NewClient();
  CHECK((*c)({"EXEC"}) == Err("ERR EXEC without MULTI"));
  CHECK((*c)({"DISCARD"}) == Err("ERR DISCARD without MULTI"));
  CHECK((*c)({"WATCH", "k"}).rfind("-ERR WATCH is not supported", 0) == 0);
  CHECK((*c)({"UNWATCH"}) == kOk);
  CHECK((*c)({"MULTI"}) == kOk);
  CHECK((*c)({"MULTI"}) == Err("ERR MULTI calls can not be nested"));
  CHECK((*c)({"WATCH", "k"}) == Err("ERR WATCH inside MULTI is not allowed"));
  CHECK((*c)({"LIMIT.SET", "k", "HARD", "1"}) == "+QUEUED\r\n");
  CHECK((*c)({"LIMIT.GET"}) == Err("ERR wrong number of arguments for 'limit.get' command"));
  CHECK((*c)({"NOSUCH", "x"}) ==
        Err("ERR unknown command 'NOSUCH', with args beginning with: 'x' "));
  CHECK((*c)({"EXEC"}) == Err("EXECABORT Transaction discarded because of previous errors."));
  CHECK((*c)({"DBSIZE"}) == Int(0));
  // DISCARD drops the queue; SHUTDOWN and SAVE are refused inside MULTI.
  CHECK((*c)({"MULTI"}) == kOk);
  CHECK((*c)({"LIMIT.SET", "k", "HARD", "1"}) == "+QUEUED\r\n");
  CHECK((*c)({"DISCARD"}) == kOk);
  CHECK((*c)({"DBSIZE"}) == Int(0));
  CHECK((*c)({"MULTI"}) == kOk);
  CHECK((*c)({"SHUTDOWN"}) == Err("ERR Command not allowed inside a transaction"));
  CHECK((*c)({"EXEC"}) == Err("EXECABORT Transaction discarded because of previous errors."));
  // An empty transaction.
  CHECK((*c)({"MULTI"}) == kOk);
  CHECK((*c)({"EXEC"}) == Arr(0));
  // RESP3 replies inside EXEC.
  (void)(*c)({"HELLO", "3"});
  CHECK((*c)({"MULTI"}) == kOk);
  CHECK((*c)({"LIMIT.GET", "none"}) == "+QUEUED\r\n");
  CHECK((*c)({"EXEC"}) == Arr(1) + kNil3);
}

TEST_CASE("EXEC with the top-level default and keyless data commands", "[multi]") {
  Fixture f;
  auto c = f.NewClient();
  CHECK((*c)({"MULTI"}) == kOk);
  CHECK((*c)({"LIMIT.SET", "*", "HARD", "5"}) == "+QUEUED\r\n");
  CHECK((*c)({"CREDITS.CONSUME", "top", "2"}) == "+QUEUED\r\n");
  CHECK((*c)({"EXEC"}) == Arr(2) + kOk + Arr(6) + Int(1) + Int(3) + Int(5) + Int(0) + Int(-1) +
                            Bulk("top"));
  CHECK((*c)({"MULTI"}) == kOk);
  CHECK((*c)({"DBSIZE"}) == "+QUEUED\r\n");
  CHECK((*c)({"LIMIT.SCAN", "0", "COUNT", "100"}) == "+QUEUED\r\n");
  CHECK((*c)({"INFO", "keyspace"}) == "+QUEUED\r\n");
  CHECK((*c)({"FLUSHALL"}) == "+QUEUED\r\n");
  CHECK((*c)({"DBSIZE"}) == "+QUEUED\r\n");
  std::string r = (*c)({"EXEC"});
  CHECK(r.rfind(Arr(5) + Int(2) + Arr(2) + Bulk("0") + Arr(2), 0) == 0);
  CHECK(r.find(Bulk("# Keyspace\r\ndb0:keys=2,expires=0,avg_ttl=0\r\n") + kOk + Int(0)) !=
        std::string::npos);
}

TEST_CASE("EXEC is atomic: a transaction's two consumes are never split", "[multi]") {
  // Two clients run MULTI { CONSUME a 1; CONSUME b 1 } while a third checks
  // with a transaction that usage of a and b is always equal.
  Fixture f;
  auto setup = f.NewClient();
  REQUIRE((*setup)({"LIMIT.SET", "a", "UNLIMITED"}) == kOk);
  REQUIRE((*setup)({"LIMIT.SET", "b", "UNLIMITED"}) == kOk);
  std::atomic<bool> done{false};
  // The writers start once the reader has checked once: on a loaded
  // machine they could otherwise finish before the reader ever ran.
  std::atomic<int> checks{0};
  auto writer = [&] {
    auto c = f.NewClient();
    while (checks.load() == 0) std::this_thread::yield();
    for (int i = 0; i < 2000; ++i) {
      (void)(*c)({"MULTI"});
      (void)(*c)({"CREDITS.CONSUME", "a", "1"});
      (void)(*c)({"CREDITS.CONSUME", "b", "1"});
      (void)(*c)({"EXEC"});
    }
  };
  int mismatches = 0;
  std::thread w1(writer), w2(writer);
  std::thread reader([&] {
    auto c = f.NewClient();
    do {
      (void)(*c)({"MULTI"});
      (void)(*c)({"CREDITS.CONSUME", "a", "0"});
      (void)(*c)({"CREDITS.CONSUME", "b", "0"});
      std::string r = (*c)({"EXEC"});
      // Both replies are identical but for the level name.
      size_t second = r.find("*6", 5);
      std::string first_part = r.substr(4, second - 4);
      std::string second_part = r.substr(second);
      first_part = first_part.substr(0, first_part.rfind("$1"));
      second_part = second_part.substr(0, second_part.rfind("$1"));
      if (first_part != second_part) ++mismatches;
      ++checks;
    } while (!done.load());
  });
  w1.join();
  w2.join();
  done = true;
  reader.join();
  CHECK(checks > 0);
  CHECK(mismatches == 0);
  CHECK((*setup)({"USAGE.GET", "a"}).find(Bulk("consumed") + Int(4000)) != std::string::npos);
}

TEST_CASE("a MULTI queue is bounded by client-query-buffer-limit", "[multi]") {
  Fixture f(Overrides{{"client-query-buffer-limit", "1mb"}});
  auto c = f.NewClient();
  CHECK((*c)({"MULTI"}) == kOk);
  std::string chunk(300 * 1024, 'x');
  for (int i = 0; i < 3; ++i) CHECK((*c)({"ECHO", chunk}) == "+QUEUED\r\n");
  CHECK((*c)({"ECHO", chunk}) == Err(limiterd::server::err::kMultiTooLarge));
  CHECK((*c)({"EXEC"}) == Err("EXECABORT Transaction discarded because of previous errors."));
  CHECK(c->session().queued_bytes == 0);
}
