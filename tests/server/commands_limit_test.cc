// Copyright limiterd authors.
// LIMIT.*, CREDITS.*, USAGE.* in-process, with exact reply bytes in RESP2
// and RESP3 (SPEC section 3).
#include "server_test_util.h"

using namespace st;  // NOLINT

TEST_CASE("LIMIT.SET replies OK, nil when NX/XX/GT prevent it", "[limit]") {
  Fixture f;
  auto c = f.NewClient();
  CHECK((*c)({"LIMIT.SET", "org:a", "HARD", "100"}) == kOk);
  CHECK((*c)({"limit.set", "org:a", "hard", "50", "nx"}) == kNil2);
  CHECK((*c)({"LIMIT.SET", "org:b", "HARD", "50", "XX"}) == kNil2);
  CHECK((*c)({"LIMIT.SET", "org:a", "HARD", "90", "GT"}) == kNil2);
  CHECK((*c)({"LIMIT.SET", "org:a", "HARD", "200", "GT"}) == kOk);
  CHECK((*c)({"LIMIT.SET", "org:a", "HARD", "300", "XX"}) == kOk);
  CHECK((*c)({"HELLO", "3"}).substr(0, 3) == "%7\r");
  CHECK((*c)({"LIMIT.SET", "org:a", "HARD", "1", "NX"}) == kNil3);
}

TEST_CASE("LIMIT.SET option errors", "[limit]") {
  Fixture f;
  auto c = f.NewClient();
  const std::string syntax = Err("ERR syntax error");
  const std::string integer = Err("ERR value is not an integer or out of range");
  CHECK((*c)({"LIMIT.SET", "k", "HARD", "10", "BOGUS"}) == syntax);
  CHECK((*c)({"LIMIT.SET", "k", "HARD"}) == syntax);
  CHECK((*c)({"LIMIT.SET", "k", "HARD", "10", "UNLIMITED"}) == syntax);
  CHECK((*c)({"LIMIT.SET", "k", "HARD", "10", "PERIOD", "daily", "WINDOW", "1m"}) == syntax);
  CHECK((*c)({"LIMIT.SET", "k", "HARD", "10", "NX", "XX"}) == syntax);
  CHECK((*c)({"LIMIT.SET", "k", "HARD", "10", "HARD", "20"}) == syntax);
  CHECK((*c)({"LIMIT.SET", "k", "RATE", "10", "1s"}) == syntax);
  CHECK((*c)({"LIMIT.SET", "k", "RATE", "10", "PER"}) == syntax);
  CHECK((*c)({"LIMIT.SET", "k", "HARD", "10", "BURST", "5"}) == syntax);
  CHECK((*c)({"LIMIT.SET", "k", "UNLIMITED", "RATE", "10", "PER", "1s"}) == syntax);
  CHECK((*c)({"LIMIT.SET", "k", "HARD", "ten"}) == integer);
  CHECK((*c)({"LIMIT.SET", "k", "HARD", "10", "SOFT", "1.5"}) == integer);
  CHECK((*c)({"LIMIT.SET", "k", "HARD", "99999999999999999999"}) == integer);
  CHECK((*c)({"LIMIT.SET", "k", "SOFT", "5"}) ==
        Err("ERR HARD or UNLIMITED is required (except with RATE)"));
  // Semantic errors come from the engine, as ERR <message>.
  CHECK((*c)({"LIMIT.SET", "k", "HARD", "10", "SOFT", "20"}).rfind("-ERR ", 0) == 0);
  CHECK((*c)({"LIMIT.SET", "k", "HARD", "-1"}).rfind("-ERR ", 0) == 0);
  CHECK((*c)({"LIMIT.SET", "k", "HARD", "10", "PERIOD", "fortnightly"}).rfind("-ERR ", 0) == 0);
  CHECK((*c)({"LIMIT.SET", "k", "HARD", "10", "WINDOW", "0s"}).rfind("-ERR ", 0) == 0);
  CHECK((*c)({"DBSIZE"}) == Int(0));  // nothing was set by a failed LIMIT.SET
}

TEST_CASE("LIMIT.GET map in RESP2 and RESP3, field order of the SPEC", "[limit]") {
  Fixture f;
  auto c = f.NewClient();
  REQUIRE((*c)({"LIMIT.SET", "org:a", "HARD", "100", "SOFT", "80", "UNIT", "tokens", "PERIOD",
                "monthly"}) == kOk);
  const int64_t march_1 = 1709251200000;  // 2024-03-01 00:00 UTC
  const int64_t feb_1 = march_1 - 29LL * 86400000;
  std::string body = Bulk("kind") + Bulk("quota") + Bulk("hard") + Int(100) + Bulk("soft") +
                     Int(80) + Bulk("unit") + Bulk("tokens") + Bulk("period") + Bulk("monthly") +
                     Bulk("anchor") + Int(feb_1) + Bulk("renewable") + Int(1) +
                     Bulk("valid_until") + kNil2 + Bulk("source") + Bulk("own") +
                     Bulk("cancelled") + Int(0);
  CHECK((*c)({"LIMIT.GET", "org:a"}) == Arr(20) + body);
  (void)(*c)({"HELLO", "3"});
  std::string body3 = body;
  body3.replace(body3.find(kNil2), kNil2.size(), kNil3);
  CHECK((*c)({"LIMIT.GET", "org:a"}) == Map3(10) + body3);
  CHECK((*c)({"LIMIT.GET", "nothing"}) == kNil3);
  // A default: source names it; window and bucket fields.
  REQUIRE((*c)({"LIMIT.SET", "org:a/*", "HARD", "10", "WINDOW", "1m"}) == kOk);
  std::string got = (*c)({"LIMIT.GET", "org:a/user:1"});
  CHECK(got.find(Bulk("window") + Int(60000)) != std::string::npos);
  CHECK(got.find(Bulk("source") + Bulk("org:a/*")) != std::string::npos);
  REQUIRE((*c)({"LIMIT.SET", "rl", "RATE", "10", "PER", "1s", "BURST", "20"}) == kOk);
  got = (*c)({"LIMIT.GET", "rl"});
  CHECK(got.find(Bulk("kind") + Bulk("bucket") + Bulk("hard") + Int(20)) != std::string::npos);
  CHECK(got.find(Bulk("rate") + Int(10) + Bulk("per") + Int(1000) + Bulk("burst") + Int(20)) !=
        std::string::npos);
}

TEST_CASE("CREDITS.CONSUME reply array; denial is not an error", "[credits]") {
  Fixture f;
  auto c = f.NewClient();
  REQUIRE((*c)({"LIMIT.SET", "org:a", "HARD", "100"}) == kOk);
  REQUIRE((*c)({"LIMIT.SET", "org:a/p:1", "HARD", "70"}) == kOk);
  CHECK((*c)({"CREDITS.CONSUME", "org:a/p:1", "60"}) ==
        Arr(6) + Int(1) + Int(10) + Int(70) + Int(0) + Int(-1) + Bulk("org:a/p:1"));
  CHECK((*c)({"credits.consume", "org:a/p:1", "20"}) ==
        Arr(6) + Int(0) + Int(10) + Int(70) + Int(-1) + Int(-1) + Bulk("org:a/p:1"));
  CHECK((*c)({"CREDITS.CONSUME", "org:a/p:1", "5", "dryrun"}) ==
        Arr(6) + Int(1) + Int(5) + Int(70) + Int(0) + Int(-1) + Bulk("org:a/p:1"));
  CHECK((*c)({"CREDITS.CONSUME", "org:a/p:1", "20", "FORCE"}).substr(0, 8) == Arr(6) + Int(0));
  CHECK((*c)({"USAGE.GET", "org:a/p:1"}).find(Bulk("consumed") + Int(80)) != std::string::npos);
  // No hard limit anywhere: remaining and limit are nil.
  REQUIRE((*c)({"LIMIT.SET", "free", "UNLIMITED"}) == kOk);
  CHECK((*c)({"CREDITS.CONSUME", "free", "7"}) ==
        Arr(6) + Int(1) + kNil2 + kNil2 + Int(0) + Int(-1) + Bulk("free"));
  (void)(*c)({"HELLO", "3"});
  CHECK((*c)({"CREDITS.CONSUME", "free", "7"}) ==
        Arr(6) + Int(1) + kNil3 + kNil3 + Int(0) + Int(-1) + Bulk("free"));
}

TEST_CASE("CREDITS.CONSUME errors", "[credits]") {
  Fixture f;
  auto c = f.NewClient();
  CHECK((*c)({"CREDITS.CONSUME", "nokey", "1"}) == Err("NOLIMIT no limit applies to 'nokey'"));
  REQUIRE((*c)({"LIMIT.SET", "k", "HARD", "10"}) == kOk);
  CHECK((*c)({"CREDITS.CONSUME", "k", "-1"}) == Err("ERR value is out of range, must be positive"));
  CHECK((*c)({"CREDITS.CONSUME", "k", "x"}) == Err("ERR value is not an integer or out of range"));
  CHECK((*c)({"CREDITS.CONSUME", "k", "1", "NOW"}) == Err("ERR syntax error"));
  CHECK((*c)({"CREDITS.CONSUME", "k", "1", "FORCE", "FORCE"}) == Err("ERR syntax error"));
  CHECK((*c)({"CREDITS.CONSUME", "k"}) ==
        Err("ERR wrong number of arguments for 'credits.consume' command"));
  CHECK((*c)({"CREDITS.REFUND", "k", "-5"}) == Err("ERR value is out of range, must be positive"));
}

TEST_CASE("CREDITS.REFUND, USAGE.RESET, LIMIT.CANCEL, LIMIT.DEL", "[limit]") {
  Fixture f;
  auto c = f.NewClient();
  REQUIRE((*c)({"LIMIT.SET", "org", "HARD", "100"}) == kOk);
  REQUIRE((*c)({"LIMIT.SET", "org/p", "HARD", "50"}) == kOk);
  REQUIRE((*c)({"CREDITS.CONSUME", "org/p", "30"}).substr(0, 8) == Arr(6) + Int(1));
  CHECK((*c)({"CREDITS.REFUND", "org/p", "10"}) == Int(20));
  CHECK((*c)({"CREDITS.REFUND", "org/p", "100"}) == Int(0));
  REQUIRE((*c)({"CREDITS.CONSUME", "org/p", "30"}).substr(0, 8) == Arr(6) + Int(1));
  CHECK((*c)({"USAGE.RESET", "org/p"}) == Int(1));
  CHECK((*c)({"USAGE.RESET", "zzz"}) == Int(0));
  CHECK((*c)({"USAGE.GET", "org"}).find(Bulk("consumed") + Int(30)) != std::string::npos);
  CHECK((*c)({"LIMIT.CANCEL", "org"}) == Int(1));
  CHECK((*c)({"LIMIT.CANCEL", "nothing"}) == Int(0));
  CHECK((*c)({"USAGE.GET", "org"}).find(Bulk("status") + Bulk("cancelled")) != std::string::npos);
  CHECK((*c)({"LIMIT.DEL", "org", "org/p", "nothing"}) == Int(2));
  CHECK((*c)({"USAGE.GET", "org"}) == kNil2);
  CHECK((*c)({"LIMIT.DEL"}) == Err("ERR wrong number of arguments for 'limit.del' command"));
}

TEST_CASE("USAGE.GET map: every SPEC field in order", "[usage]") {
  Fixture f;
  auto c = f.NewClient();
  REQUIRE((*c)({"LIMIT.SET", "u", "HARD", "10", "SOFT", "5", "PERIOD", "1h"}) == kOk);
  REQUIRE((*c)({"CREDITS.CONSUME", "u", "6"}).substr(0, 8) == Arr(6) + Int(1));
  std::string expected = Arr(30) + Bulk("key") + Bulk("u") + Bulk("kind") + Bulk("quota") +
                         Bulk("unit") + Bulk("requests") + Bulk("status") + Bulk("active") +
                         Bulk("limit") + Int(10) + Bulk("soft_limit") + Int(5) +
                         Bulk("consumed") + Int(6) + Bulk("remaining") + Int(4) +
                         Bulk("soft_reached") + Int(1) + Bulk("period") + Bulk("1h") +
                         Bulk("period_start") + Int(kNow) + Bulk("resets_at") +
                         Int(kNow + 3600000) + Bulk("renewable") + Int(1) +
                         Bulk("valid_until") + kNil2 + Bulk("source") + Bulk("own");
  CHECK((*c)({"USAGE.GET", "u"}) == expected);
}

TEST_CASE("LIMIT.SCAN walks every key; MATCH filters after the page", "[limit]") {
  Fixture f;
  auto c = f.NewClient();
  for (int i = 0; i < 50; ++i) {
    std::string key = (i % 2 ? "org:" : "team:") + std::to_string(i);
    REQUIRE((*c)({"LIMIT.SET", key, "HARD", "1"}) == kOk);
  }
  std::string cursor = "0";
  size_t seen = 0;
  int rounds = 0;
  do {
    std::string reply = (*c)({"LIMIT.SCAN", cursor, "MATCH", "org:*", "COUNT", "7"});
    REQUIRE(reply.rfind("*2\r\n$", 0) == 0);
    size_t nl = reply.find("\r\n", 4);
    size_t start = nl + 2;
    size_t end = reply.find("\r\n", start);
    cursor = reply.substr(start, end - start);
    for (size_t p = reply.find("org:"); p != std::string::npos; p = reply.find("org:", p + 1)) {
      ++seen;
    }
    CHECK(reply.find("team:") == std::string::npos);
    ++rounds;
  } while (cursor != "0" && rounds < 1000);
  CHECK(seen == 25);
  CHECK((*c)({"LIMIT.SCAN", "abc"}) == Err("ERR invalid cursor"));
  CHECK((*c)({"LIMIT.SCAN", "0", "COUNT", "0"}) == Err("ERR syntax error"));
  CHECK((*c)({"LIMIT.SCAN", "0", "MATCH"}) == Err("ERR syntax error"));
}
