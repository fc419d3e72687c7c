// Copyright limiterd authors.
// The server over persistence::Durability, in-process: INFO persistence,
// SAVE / BGSAVE / BGREWRITEAOF / LASTSAVE / SHUTDOWN, MISCONF while writes
// to disk fail, MULTI/EXEC as one AOF record, a restart from the files, and
// appendfsync always over real sockets.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "errors.h"
#include "info.h"
#include "net_test_util.h"

using namespace st;  // NOLINT

namespace {

namespace fs = std::filesystem;

// INFO <section>'s "field:value" lines.
std::map<std::string, std::string> InfoFields(Client& c, std::string_view section) {
  std::string reply = c({"INFO", section});
  std::map<std::string, std::string> fields;
  size_t pos = reply.find("\r\n") + 2;  // after the bulk header
  while (pos < reply.size()) {
    size_t end = reply.find("\r\n", pos);
    if (end == std::string::npos) break;
    std::string line = reply.substr(pos, end - pos);
    size_t colon = line.find(':');
    if (colon != std::string::npos) fields[line.substr(0, colon)] = line.substr(colon + 1);
    pos = end + 2;
  }
  return fields;
}

// Polls INFO persistence until `field` is `value` (a background job ended).
bool WaitForField(Client& c, const std::string& field, const std::string& value) {
  for (int i = 0; i < 1000; ++i) {
    if (InfoFields(c, "persistence")[field] == value) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

int64_t ToInt(const std::string& s) { return std::stoll(s); }

// Takes the data directory away and runs a BGSAVE, which fails to create
// its file; returns where the directory went (rename it back to recover).
fs::path FailBgsave(DurableFixture& f, Client& c) {
  fs::path away = f.dir() + "-away";
  fs::rename(f.dir(), away);
  CHECK(c({"BGSAVE"}) == "+Background saving started\r\n");
  CHECK(WaitForField(c, "rdb_bgsave_in_progress", "0"));
  CHECK(InfoFields(c, "persistence")["rdb_last_bgsave_status"] == "err");
  return away;
}

// Reads one CREDITS.CONSUME reply from a level named org:a (*6, allowed,
// four more integers, then $5 org:a): false unless it is there and allowed.
bool ReadAllowedConsume(Socket& s) {
  if (s.ReadLine() != "*6\r\n" || s.ReadLine() != ":1\r\n") return false;
  for (int line = 0; line < 6; ++line) s.ReadLine();
  return true;
}

// One field of INFO persistence of a server running in this process.
std::string PersistenceField(ServerState& state, std::string_view name) {
  const std::string text = InfoText(state, std::vector<std::string_view>{"persistence"});
  const std::string key = "\r\n" + std::string(name) + ":";
  size_t at = text.find(key);
  REQUIRE(at != std::string::npos);
  at += key.size();
  return text.substr(at, text.find("\r\n", at) - at);
}

// A reply's lines, sorted: equal for the same keys in another order (SCAN).
std::vector<std::string> SortedLines(const std::string& reply) {
  std::vector<std::string> lines;
  for (size_t pos = 0, end; (end = reply.find("\r\n", pos)) != std::string::npos; pos = end + 2) {
    lines.push_back(reply.substr(pos, end - pos));
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

}  // namespace

TEST_CASE("INFO persistence: Redis's fields, from Durability", "[persistence]") {
  SECTION("appendonly no") {
    DurableFixture f(Overrides{{"save", ""}});
    auto c = f.NewClient();
    auto info = InfoFields(*c, "persistence");
    for (const char* field :
         {"loading", "async_loading", "rdb_changes_since_last_save", "rdb_bgsave_in_progress",
          "rdb_last_save_time", "rdb_last_bgsave_status", "rdb_last_bgsave_time_sec",
          "rdb_current_bgsave_time_sec", "rdb_saves", "rdb_last_load_keys_loaded", "aof_enabled",
          "aof_rewrite_in_progress", "aof_rewrite_scheduled", "aof_last_rewrite_time_sec",
          "aof_current_rewrite_time_sec", "aof_last_bgrewrite_status", "aof_rewrites",
          "aof_rewrites_consecutive_failures", "aof_last_write_status"}) {
      INFO(field);
      CHECK(info.count(field) == 1);
    }
    CHECK(info["loading"] == "0");
    CHECK(info["aof_enabled"] == "0");
    CHECK(info.count("aof_current_size") == 0);  // only with the AOF on, as Redis
    CHECK(info["rdb_last_bgsave_status"] == "ok");
    CHECK(info["aof_last_write_status"] == "ok");
    CHECK(info["rdb_changes_since_last_save"] == "0");
    CHECK(info["rdb_saves"] == "0");
    CHECK(info["aof_rewrites"] == "0");
    CHECK(info["aof_rewrites_consecutive_failures"] == "0");
    CHECK((*c)({"LIMIT.SET", "k", "HARD", "10"}) == kOk);
    CHECK((*c)({"CREDITS.CONSUME", "k", "1"}).rfind(Arr(6) + Int(1), 0) == 0);
    CHECK(ToInt(InfoFields(*c, "persistence")["rdb_changes_since_last_save"]) >= 2);
    // The default INFO includes the section.
    CHECK((*c)({"INFO"}).find("# Persistence\r\n") != std::string::npos);
  }
  SECTION("appendonly yes") {
    DurableFixture f(Overrides{{"appendonly", "yes"}, {"appendfsync", "always"}, {"save", ""}});
    auto c = f.NewClient();
    CHECK((*c)({"LIMIT.SET", "k", "HARD", "10"}) == kOk);
    auto info = InfoFields(*c, "persistence");
    CHECK(info["aof_enabled"] == "1");
    for (const char* field : {"aof_current_size", "aof_base_size", "aof_buffer_length",
                              "aof_delayed_fsync", "aof_fsyncs", "aof_fsyncs_inline",
                              "aof_records", "aof_zero_filled_ahead"}) {
      INFO(field);
      CHECK(info.count(field) == 1);
    }
    CHECK(ToInt(info["aof_records"]) >= 1);
    CHECK(ToInt(info["aof_current_size"]) > 0);
    // The space zero-filled ahead is not counted in aof_current_size.
    CHECK(ToInt(info["aof_current_size"]) < (1 << 20));
    CHECK(ToInt(info["aof_zero_filled_ahead"]) >= 0);
  }
}

TEST_CASE("SAVE, LASTSAVE, BGSAVE, BGREWRITEAOF", "[persistence]") {
  DurableFixture f(Overrides{{"appendonly", "yes"}, {"save", ""}});
  auto c = f.NewClient();
  int64_t before = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  CHECK((*c)({"LIMIT.SET", "org:a", "HARD", "100"}) == kOk);
  CHECK((*c)({"CREDITS.CONSUME", "org:a/user:1", "5"}).rfind(Arr(6) + Int(1), 0) == 0);
  const int64_t saves = ToInt(InfoFields(*c, "persistence")["rdb_saves"]);
  const int64_t rewrites = ToInt(InfoFields(*c, "persistence")["aof_rewrites"]);
  CHECK((*c)({"SAVE"}) == kOk);
  CHECK(fs::exists(fs::path(f.dir()) / "dump.snap"));
  CHECK(ToInt(InfoFields(*c, "persistence")["rdb_saves"]) == saves + 1);
  std::string lastsave = (*c)({"LASTSAVE"});
  REQUIRE(lastsave.size() > 3);
  // LASTSAVE is the real wall clock, not DEBUG CLOCK (the fixture's is 2024).
  CHECK(ToInt(lastsave.substr(1)) >= before);
  auto info = InfoFields(*c, "persistence");
  CHECK(info["rdb_changes_since_last_save"] == "0");
  CHECK(ToInt(info["rdb_last_save_time"]) == ToInt(lastsave.substr(1)));

  CHECK((*c)({"BGSAVE"}) == "+Background saving started\r\n");
  CHECK(WaitForField(*c, "rdb_bgsave_in_progress", "0"));
  CHECK(InfoFields(*c, "persistence")["rdb_last_bgsave_status"] == "ok");
  CHECK(ToInt(InfoFields(*c, "persistence")["rdb_saves"]) == saves + 2);
  CHECK((*c)({"BGSAVE", "NOW"}) == Err("ERR syntax error"));

  CHECK((*c)({"BGREWRITEAOF"}) == "+Background append only file rewriting started\r\n");
  CHECK(WaitForField(*c, "aof_rewrite_in_progress", "0"));
  CHECK(WaitForField(*c, "aof_rewrite_scheduled", "0"));
  CHECK(InfoFields(*c, "persistence")["aof_last_bgrewrite_status"] == "ok");
  CHECK(ToInt(InfoFields(*c, "persistence")["aof_rewrites"]) == rewrites + 1);
  CHECK(InfoFields(*c, "persistence")["aof_rewrites_consecutive_failures"] == "0");
  CHECK((*c)({"BGSAVE", "SCHEDULE"}).rfind("+Background saving", 0) == 0);
  CHECK(WaitForField(*c, "rdb_bgsave_in_progress", "0"));
  // SAVE is refused inside MULTI (Redis: no-multi).
  CHECK((*c)({"MULTI"}) == kOk);
  CHECK((*c)({"SAVE"}) == Err("ERR Command not allowed inside a transaction"));
  CHECK((*c)({"DISCARD"}) == kOk);
}

TEST_CASE("INFO persistence counts failed rewrites until one succeeds", "[persistence]") {
  DurableFixture f(Overrides{{"appendonly", "yes"}, {"save", ""}});
  auto c = f.NewClient();
  CHECK((*c)({"LIMIT.SET", "k", "HARD", "10"}) == kOk);
  const int64_t rewrites = ToInt(InfoFields(*c, "persistence")["aof_rewrites"]);
  // The directory disappears: the rewrite cannot create its new base. (The
  // open incr file is still written: a renamed directory keeps its files.)
  fs::path away = f.dir() + "-away";
  fs::rename(f.dir(), away);
  for (int failures = 1; failures <= 2; ++failures) {
    CHECK((*c)({"BGREWRITEAOF"}) == "+Background append only file rewriting started\r\n");
    CHECK(WaitForField(*c, "aof_rewrite_in_progress", "0"));
    auto info = InfoFields(*c, "persistence");
    CHECK(info["aof_last_bgrewrite_status"] == "err");
    CHECK(ToInt(info["aof_rewrites_consecutive_failures"]) == failures);
    CHECK(ToInt(info["aof_rewrites"]) == rewrites + failures);
  }
  fs::rename(away, f.dir());
  CHECK((*c)({"BGREWRITEAOF"}) == "+Background append only file rewriting started\r\n");
  CHECK(WaitForField(*c, "aof_rewrite_in_progress", "0"));
  auto info = InfoFields(*c, "persistence");
  CHECK(info["aof_last_bgrewrite_status"] == "ok");
  CHECK(info["aof_rewrites_consecutive_failures"] == "0");
  CHECK(ToInt(info["aof_rewrites"]) == rewrites + 3);
  // The data survived it all.
  CHECK((*c)({"CREDITS.CONSUME", "k", "1"}).rfind(Arr(6) + Int(1), 0) == 0);
}

TEST_CASE("without durability the persistence commands say so", "[persistence]") {
  Fixture f;
  auto c = f.NewClient();
  std::string no = Err(limiterd::server::err::kNoPersistence);
  CHECK((*c)({"SAVE"}) == no);
  CHECK((*c)({"BGSAVE"}) == no);
  CHECK((*c)({"BGREWRITEAOF"}) == no);
  CHECK((*c)({"SHUTDOWN", "SAVE"}) == no);
  CHECK((*c)({"LASTSAVE"}) == Int(f.state.start_unix_ms / 1000));
}

TEST_CASE("MISCONF: writers refused while snapshots fail, readers served", "[persistence]") {
  // As Redis: stop-writes-on-bgsave-error applies when save rules are set.
  DurableFixture f(Overrides{{"save", "3600 1"}});
  auto c = f.NewClient();
  auto other = f.NewClient();
  CHECK((*c)({"LIMIT.SET", "k", "HARD", "10"}) == kOk);
  // A transaction queued before the failure is refused at EXEC.
  CHECK((*other)({"MULTI"}) == kOk);
  CHECK((*other)({"CREDITS.CONSUME", "k", "1"}) == "+QUEUED\r\n");

  // The directory disappears: BGSAVE cannot create its file.
  fs::path away = FailBgsave(f, *c);

  std::string misconf = (*c)({"CREDITS.CONSUME", "k", "1"});
  CHECK(misconf.rfind("-MISCONF ", 0) == 0);
  CHECK((*c)({"LIMIT.SET", "j", "HARD", "1"}) == misconf);
  CHECK((*c)({"FLUSHALL"}) == misconf);
  std::string execabort = (*other)({"EXEC"});
  CHECK(execabort.rfind("-EXECABORT Transaction discarded because of: MISCONF ", 0) == 0);
  // Readers and non-writing commands go on.
  CHECK((*c)({"USAGE.GET", "k"}).find(Bulk("consumed") + Int(0)) != std::string::npos);
  CHECK((*c)({"PING"}) == "+PONG\r\n");
  CHECK((*c)({"DBSIZE"}) == Int(1));
  // Queued while refused: the transaction is doomed.
  CHECK((*c)({"MULTI"}) == kOk);
  CHECK((*c)({"CREDITS.CONSUME", "k", "1"}) == misconf);
  CHECK((*c)({"EXEC"}) == Err("EXECABORT Transaction discarded because of previous errors."));

  // The directory is back: a successful SAVE clears the error.
  fs::rename(away, f.dir());
  CHECK((*c)({"SAVE"}) == kOk);
  CHECK(InfoFields(*c, "persistence")["rdb_last_bgsave_status"] == "ok");
  CHECK((*c)({"CREDITS.CONSUME", "k", "1"}).rfind(Arr(6) + Int(1), 0) == 0);
}

TEST_CASE("MISCONF off with stop-writes-on-bgsave-error no", "[persistence]") {
  DurableFixture f(Overrides{{"save", "3600 1"}, {"stop-writes-on-bgsave-error", "no"}});
  auto c = f.NewClient();
  fs::path away = FailBgsave(f, *c);
  CHECK((*c)({"LIMIT.SET", "k", "HARD", "10"}) == kOk);
  fs::rename(away, f.dir());
}

TEST_CASE("MULTI/EXEC reaches the AOF as one record", "[persistence]") {
  DurableFixture f(Overrides{{"appendonly", "yes"}, {"save", ""}});
  auto c = f.NewClient();
  CHECK((*c)({"LIMIT.SET", "org:a", "HARD", "100"}) == kOk);
  CHECK((*c)({"LIMIT.SET", "org:b", "HARD", "100"}) == kOk);
  auto records = [&] { return ToInt(InfoFields(*c, "persistence")["aof_records"]); };
  int64_t before = records();
  CHECK((*c)({"CREDITS.CONSUME", "org:a/user:1", "1"}).rfind(Arr(6) + Int(1), 0) == 0);
  CHECK(records() == before + 1);
  CHECK((*c)({"MULTI"}) == kOk);
  CHECK((*c)({"CREDITS.CONSUME", "org:a/user:1", "2"}) == "+QUEUED\r\n");
  CHECK((*c)({"CREDITS.CONSUME", "org:b/user:2", "3"}) == "+QUEUED\r\n");
  CHECK((*c)({"LIMIT.SET", "org:c", "HARD", "5"}) == "+QUEUED\r\n");
  CHECK((*c)({"EXEC"}).rfind(Arr(3), 0) == 0);
  CHECK(records() == before + 2);
  // A transaction that changes nothing logs nothing.
  CHECK((*c)({"MULTI"}) == kOk);
  CHECK((*c)({"USAGE.GET", "org:a"}) == "+QUEUED\r\n");
  CHECK((*c)({"EXEC"}).rfind(Arr(1), 0) == 0);
  CHECK(records() == before + 2);
}

TEST_CASE("a restart restores what was logged and saved", "[persistence]") {
  TempDir dir;
  auto usage = [](Client& c, std::string_view key) { return c({"USAGE.GET", key}); };
  std::string a, b, scan;
  for (const char* appendonly : {"yes", "no"}) {
    INFO(appendonly);
    {
      DurableFixture f(Overrides{{"appendonly", appendonly}, {"save", ""}}, dir.path());
      auto c = f.NewClient();
      CHECK((*c)({"FLUSHALL"}) == kOk);
      CHECK((*c)({"LIMIT.SET", "org:a", "HARD", "100", "PERIOD", "monthly"}) == kOk);
      CHECK((*c)({"LIMIT.SET", "org:a/*", "HARD", "10"}) == kOk);
      CHECK((*c)({"CREDITS.CONSUME", "org:a/user:1", "7"}).rfind(Arr(6) + Int(1), 0) == 0);
      CHECK((*c)({"MULTI"}) == kOk);
      CHECK((*c)({"CREDITS.CONSUME", "org:a/user:2", "2"}) == "+QUEUED\r\n");
      CHECK((*c)({"LIMIT.CANCEL", "org:a"}) == "+QUEUED\r\n");
      CHECK((*c)({"EXEC"}).rfind(Arr(2), 0) == 0);
      a = usage(*c, "org:a");
      b = usage(*c, "org:a/user:1");
      scan = (*c)({"LIMIT.SCAN", "0", "COUNT", "1000"});
      // appendonly no: only a snapshot keeps it.
      if (std::string_view(appendonly) == "no") CHECK((*c)({"SHUTDOWN", "SAVE"}) == "");
    }
    DurableFixture f(Overrides{{"appendonly", appendonly}, {"save", ""}}, dir.path());
    auto c = f.NewClient();
    CHECK(usage(*c, "org:a") == a);
    CHECK(usage(*c, "org:a/user:1") == b);
    CHECK(SortedLines((*c)({"LIMIT.SCAN", "0", "COUNT", "1000"})) == SortedLines(scan));
    CHECK(usage(*c, "org:a").find(Bulk("cancelled")) != std::string::npos);
  }
}

TEST_CASE("SHUTDOWN snapshots per the save rules and NOSAVE / SAVE", "[persistence]") {
  SECTION("save rules set: SHUTDOWN writes a snapshot") {
    DurableFixture f(Overrides{{"save", "3600 1"}});
    auto c = f.NewClient();
    CHECK((*c)({"LIMIT.SET", "k", "HARD", "1"}) == kOk);
    CHECK((*c)({"SHUTDOWN"}) == "");
    CHECK(f.state.shutdown_requested());
    CHECK(fs::exists(fs::path(f.dir()) / "dump.snap"));
  }
  SECTION("NOSAVE: no snapshot") {
    DurableFixture f(Overrides{{"save", "3600 1"}});
    auto c = f.NewClient();
    CHECK((*c)({"LIMIT.SET", "k", "HARD", "1"}) == kOk);
    CHECK((*c)({"SHUTDOWN", "NOSAVE"}) == "");
    CHECK(!fs::exists(fs::path(f.dir()) / "dump.snap"));
  }
  SECTION("SAVE without save rules; a failed snapshot keeps the daemon running") {
    DurableFixture f(Overrides{{"save", ""}});
    auto c = f.NewClient();
    CHECK((*c)({"SHUTDOWN", "SAVE", "NOSAVE"}) == Err("ERR syntax error"));
    fs::path dir = f.dir();
    fs::path away = dir.string() + "-away";
    fs::rename(dir, away);
    CHECK((*c)({"SHUTDOWN", "SAVE"}) == Err("ERR Errors trying to SHUTDOWN. Check logs."));
    CHECK(!f.state.shutdown_requested());
    CHECK(!c->session().close_after_reply);
    fs::rename(away, dir);
    CHECK((*c)({"SHUTDOWN", "SAVE"}) == "");
    CHECK(f.state.shutdown_requested());
    CHECK(fs::exists(dir / "dump.snap"));
  }
}

TEST_CASE("appendfsync always over sockets: every reply after its fsync, group commit",
          "[persistence][net]") {
  TempDir dir;
  Overrides o{{"dir", dir.path()}, {"appendonly", "yes"}, {"appendfsync", "always"},
              {"save", ""}};
  constexpr int kClients = 8, kPerClient = 200;
  {
    TestServer server(o, /*durable=*/true);
    {
      Socket s(server.port());
      s.Send(Cmd({"LIMIT.SET", "org:a", "HARD", "1000000"}));
      CHECK(s.Read(kOk.size()) == kOk);
    }
    // Connected here: Catch's assertions (Socket's REQUIRE) are not
    // thread-safe.
    std::vector<std::unique_ptr<Socket>> sockets;
    for (int t = 0; t < kClients; ++t) sockets.push_back(std::make_unique<Socket>(server.port()));
    std::vector<std::thread> threads;
    std::atomic<int> acked{0};
    for (int t = 0; t < kClients; ++t) {
      threads.emplace_back([&, t] {
        Socket& s = *sockets[static_cast<size_t>(t)];
        std::string key = "org:a/user:" + std::to_string(t);
        for (int i = 0; i < kPerClient; ++i) {
          // Pipelines of 1 and of 4: every reply comes back.
          int n = i % 2 == 0 ? 1 : 4;
          std::string batch;
          for (int j = 0; j < n; ++j) batch += Cmd({"CREDITS.CONSUME", key, "1"});
          s.Send(batch);
          for (int j = 0; j < n; ++j) {
            if (!ReadAllowedConsume(s)) return;
            acked.fetch_add(1);
          }
        }
      });
    }
    for (auto& t : threads) t.join();
    int total = kClients * (kPerClient / 2 * 1 + kPerClient / 2 * 4);
    CHECK(acked.load() == total);
    auto field = [&](std::string_view name) {
      return std::stoll(PersistenceField(server.state(), name));
    };
    CHECK(field("aof_records") >= total);
    // Group commit: an fsync covers every change that arrived meanwhile.
    CHECK(field("aof_fsyncs") <= field("aof_records"));
    server.Stop();
  }
  // Reopened: every acknowledged consume is there.
  DurableFixture f(Overrides{{"appendonly", "yes"}, {"save", ""}}, dir.path());
  auto c = f.NewClient();
  CHECK((*c)({"USAGE.GET", "org:a"}).find(Bulk("consumed") +
                                          Int(kClients * (kPerClient / 2 * 5))) !=
        std::string::npos);
}

// A daemon in this process with appendfsync always, and a client that has
// given org:a a limit.
struct AlwaysServer {
  AlwaysServer()
      : server(Overrides{{"dir", dir.path()}, {"appendonly", "yes"},
                         {"appendfsync", "always"}, {"save", ""}},
               /*durable=*/true),
        client(server.port()) {
    client.Send(Cmd({"LIMIT.SET", "org:a", "HARD", "1000000"}));
    REQUIRE(client.Read(kOk.size()) == kOk);
  }
  TempDir dir;
  TestServer server;
  Socket client;
};

// While a reply waits for its fsync, the io thread serves others, and the
// readiness of a command that arrives meanwhile comes while no read is
// pending. That command must still be read and answered.
TEST_CASE("a command sent while the one before waits for its fsync is answered",
          "[persistence][net]") {
  AlwaysServer f;
  Socket& s = f.client;
  const std::string consume = Cmd({"CREDITS.CONSUME", "org:a", "1"});
  int answered = 0;
  for (int i = 0; i < 200; ++i) {
    s.Send(consume);
    // Most often the PING arrives during the fsync: after the CONSUME was
    // read, before its reply.
    std::this_thread::sleep_for(std::chrono::microseconds(50));
    s.Send(Cmd({"PING"}));
    if (!ReadAllowedConsume(s)) break;
    if (s.ReadLine() != "+PONG\r\n") break;
    ++answered;
  }
  CHECK(answered == 200);
}

// CONFIG SET of the persistence policies reaches the running Durability.
TEST_CASE("CONFIG SET save and stop-writes-on-bgsave-error apply at once", "[persistence]") {
  DurableFixture f(Overrides{{"save", ""}});
  auto c = f.NewClient();
  CHECK((*c)({"LIMIT.SET", "k", "HARD", "10"}) == kOk);
  f.durability().Cron();
  CHECK(InfoFields(*c, "persistence")["rdb_saves"] == "0");
  // A rule that any change meets: the next cron saves.
  CHECK((*c)({"CONFIG", "SET", "save", "0 1"}) == kOk);
  f.durability().Cron();
  CHECK(InfoFields(*c, "persistence")["rdb_saves"] == "1");
  CHECK(WaitForField(*c, "rdb_bgsave_in_progress", "0"));
  CHECK(InfoFields(*c, "persistence")["rdb_last_bgsave_status"] == "ok");
  // No rules: changes are not saved any more.
  CHECK((*c)({"CONFIG", "SET", "save", ""}) == kOk);
  CHECK((*c)({"CREDITS.CONSUME", "k", "1"}).rfind(Arr(6) + Int(1), 0) == 0);
  f.durability().Cron();
  CHECK(InfoFields(*c, "persistence")["rdb_saves"] == "1");

  // MISCONF follows the settings as Redis decides it: stop-writes-on-
  // bgsave-error, save rules set, the last snapshot failed.
  CHECK((*c)({"CONFIG", "SET", "save", "3600 1"}) == kOk);
  fs::path away = FailBgsave(f, *c);
  CHECK((*c)({"CREDITS.CONSUME", "k", "1"}).rfind("-MISCONF ", 0) == 0);
  CHECK((*c)({"CONFIG", "SET", "stop-writes-on-bgsave-error", "no"}) == kOk);
  CHECK((*c)({"CREDITS.CONSUME", "k", "1"}).rfind(Arr(6) + Int(1), 0) == 0);
  CHECK((*c)({"CONFIG", "SET", "stop-writes-on-bgsave-error", "yes"}) == kOk);
  CHECK((*c)({"CREDITS.CONSUME", "k", "1"}).rfind("-MISCONF ", 0) == 0);
  CHECK((*c)({"CONFIG", "SET", "save", ""}) == kOk);
  CHECK((*c)({"CREDITS.CONSUME", "k", "1"}).rfind(Arr(6) + Int(1), 0) == 0);
  fs::rename(away, f.dir());
}

// appendfsync at run time: `always` makes every reply wait for its own
// fsync (group commit with one client: one fsync per request); `no` makes
// none. The server started with everysec.
TEST_CASE("CONFIG SET appendfsync changes when replies leave", "[persistence][net]") {
  TempDir dir;
  TestServer server(Overrides{{"dir", dir.path()}, {"appendonly", "yes"},
                              {"appendfsync", "everysec"}, {"save", ""}},
                    /*durable=*/true);
  Socket s(server.port());
  s.Send(Cmd({"LIMIT.SET", "org:a", "HARD", "1000000"}));
  REQUIRE(s.Read(kOk.size()) == kOk);
  auto fsyncs = [&] { return std::stoll(PersistenceField(server.state(), "aof_fsyncs")); };
  auto consume = [&](int n) {
    for (int i = 0; i < n; ++i) {
      s.Send(Cmd({"CREDITS.CONSUME", "org:a", "1"}));
      REQUIRE(ReadAllowedConsume(s));
    }
  };
  s.Send(Cmd({"CONFIG", "SET", "appendfsync", "always"}));
  REQUIRE(s.Read(kOk.size()) == kOk);
  const int64_t before_always = fsyncs();
  consume(20);
  CHECK(fsyncs() >= before_always + 20);

  s.Send(Cmd({"CONFIG", "SET", "appendfsync", "no"}));
  REQUIRE(s.Read(kOk.size()) == kOk);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the switch's own fsync
  const int64_t before_no = fsyncs();
  consume(20);
  CHECK(fsyncs() <= before_no + 1);
  s.Send(Cmd({"CONFIG", "GET", "appendfsync"}));
  CHECK(s.Read(Arr(2).size() + Bulk("appendfsync").size() + Bulk("no").size()) ==
        Arr(2) + Bulk("appendfsync") + Bulk("no"));
  server.Stop();

  // Every acknowledged consume is in the AOF.
  DurableFixture f(Overrides{{"appendonly", "yes"}, {"save", ""}}, dir.path());
  auto c = f.NewClient();
  CHECK((*c)({"USAGE.GET", "org:a"}).find(Bulk("consumed") + Int(40)) != std::string::npos);
}

// appendfsync always: a round of request/response batches is fsynced by the
// io thread itself (aof_fsyncs_inline); pipelined batches wait for the
// aof-sync thread; aof-inline-fsync-max-us 0 leaves every fsync to it.
TEST_CASE("appendfsync always: request/response rounds fsync on the io thread",
          "[persistence][net]") {
  AlwaysServer f;
  Socket& s = f.client;
  auto field = [&](std::string_view name) {
    return std::stoll(PersistenceField(f.server.state(), name));
  };
  // `batches` batches of `per_batch` CONSUMEs, each sent in one write (32
  // of them fit the first read) and answered before the next.
  auto consume = [&](int batches, int per_batch) {
    std::string batch;
    for (int j = 0; j < per_batch; ++j) batch += Cmd({"CREDITS.CONSUME", "org:a", "1"});
    for (int i = 0; i < batches; ++i) {
      s.Send(batch);
      for (int j = 0; j < per_batch; ++j) REQUIRE(ReadAllowedConsume(s));
    }
  };
  int64_t fsyncs = field("aof_fsyncs"), inline_fsyncs = field("aof_fsyncs_inline");
  consume(20, 1);
  // One fsync per request, as before (one client); made here, but for one
  // that met the sync thread's idle tick (once a second) in mid-flight.
  CHECK(field("aof_fsyncs") >= fsyncs + 20);
  CHECK(field("aof_fsyncs_inline") >= inline_fsyncs + 19);

  fsyncs = field("aof_fsyncs");
  inline_fsyncs = field("aof_fsyncs_inline");
  consume(5, 32);
  CHECK(field("aof_fsyncs") >= fsyncs + 5);
  CHECK(field("aof_fsyncs_inline") == inline_fsyncs);

  s.Send(Cmd({"CONFIG", "SET", "aof-inline-fsync-max-us", "0"}));
  REQUIRE(s.Read(kOk.size()) == kOk);
  fsyncs = field("aof_fsyncs");
  inline_fsyncs = field("aof_fsyncs_inline");
  consume(20, 1);
  CHECK(field("aof_fsyncs") >= fsyncs + 20);
  CHECK(field("aof_fsyncs_inline") == inline_fsyncs);
  f.server.Stop();

  // Every acknowledged consume is in the AOF, whoever fsynced it.
  DurableFixture reopened(Overrides{{"appendonly", "yes"}, {"save", ""}}, f.dir.path());
  auto c = reopened.NewClient();
  CHECK((*c)({"USAGE.GET", "org:a"}).find(Bulk("consumed") + Int(20 + 5 * 32 + 20)) !=
        std::string::npos);
}

// BGSAVE during an AOF rewrite: refused, or with SCHEDULE started by the
// cron once the rewrite ends (Redis's rdb_bgsave_scheduled). The rewrite is
// held after writing its base until the test lets it go.
TEST_CASE("BGSAVE SCHEDULE during a rewrite: saved once the rewrite ends", "[persistence][net]") {
  TempDir dir;
  std::mutex mu;
  std::condition_variable cv;
  bool held = false, release = false;
  auto hold_rewrite = [&](std::string_view step) {
    if (step != "rewrite: base") return;
    std::unique_lock lock(mu);
    held = true;
    cv.notify_all();
    cv.wait_for(lock, std::chrono::seconds(20), [&] { return release; });
  };
  TestServer server(Overrides{{"dir", dir.path()}, {"appendonly", "yes"}, {"save", ""}},
                    /*durable=*/true, hold_rewrite);
  auto info = [&](std::string_view name) { return PersistenceField(server.state(), name); };
  auto wait_info = [&](std::string_view name, std::string_view value) {
    for (int i = 0; i < 2000 && info(name) != value; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return info(name) == value;
  };
  Socket s(server.port());
  s.Send(Cmd({"LIMIT.SET", "org:a", "HARD", "100"}));
  REQUIRE(s.Read(kOk.size()) == kOk);
  const std::string started = "+Background append only file rewriting started\r\n";
  s.Send(Cmd({"BGREWRITEAOF"}));
  REQUIRE(s.Read(started.size()) == started);
  {
    std::unique_lock lock(mu);
    REQUIRE(cv.wait_for(lock, std::chrono::seconds(20), [&] { return held; }));
  }
  CHECK(info("aof_rewrite_in_progress") == "1");
  const std::string refused = Err(err::kBgSaveDuringRewrite);
  s.Send(Cmd({"BGSAVE"}));
  CHECK(s.Read(refused.size()) == refused);
  const std::string scheduled = "+Background saving scheduled\r\n";
  s.Send(Cmd({"BGSAVE", "SCHEDULE"}));
  CHECK(s.Read(scheduled.size()) == scheduled);
  // Held: the cron (once a second) leaves the BGSAVE waiting.
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  CHECK(info("rdb_saves") == "0");
  CHECK(info("rdb_bgsave_in_progress") == "0");
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  CHECK(wait_info("aof_rewrite_in_progress", "0"));
  CHECK(wait_info("rdb_saves", "1"));
  CHECK(wait_info("rdb_bgsave_in_progress", "0"));
  CHECK(info("rdb_last_bgsave_status") == "ok");
  CHECK(info("aof_last_bgrewrite_status") == "ok");
  CHECK(fs::exists(fs::path(dir.path()) / "dump.snap"));
}
