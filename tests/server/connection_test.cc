// Copyright limiterd authors.
// The daemon over real sockets, in-process: pipelining, split input,
// replies the client reads late, protocol errors, QUIT, maxclients, the
// query buffer limit, idle timeout, SHUTDOWN draining.
#include <sys/resource.h>

#include <chrono>
#include <thread>

#include "connection.h"
#include "net_test_util.h"

using namespace st;  // NOLINT

namespace {

// This process's CPU time so far, every thread (user + system).
double ProcessCpuSeconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

}  // namespace

TEST_CASE("pipelining: many commands in one write, all replies", "[net]") {
  TestServer server;
  Socket s(server.port());
  std::string batch;
  for (int i = 0; i < 1000; ++i) batch += Cmd({"PING"});
  batch += "PING\r\n";  // inline form too
  s.Send(batch);
  std::string expected;
  for (int i = 0; i < 1001; ++i) expected += "+PONG\r\n";
  CHECK(s.Read(expected.size()) == expected);
}

TEST_CASE("a pipeline of engine commands answers as the same commands one at a time", "[net]") {
  // A pipeline's engine commands are looked ahead at and their keys
  // prefetched (PipelinePrefetch) before earlier commands of the same
  // pipeline define, charge, delete or flush them. Mixed in: keyless,
  // inline, MULTI and unknown commands, and a last command split across two
  // writes. The replies must be byte for byte those of the commands sent one
  // at a time to another server.
  std::vector<std::string> cmds;  // steps of one command (or one transaction)
  auto user = [](int u) { return "org:000000000007/project:000000000001/user:" + std::to_string(1000000 + u); };
  cmds.push_back(Cmd({"LIMIT.SET", "org:000000000007", "HARD", "100"}));
  cmds.push_back(Cmd({"LIMIT.SET", "org:000000000007/project:000000000001/*", "HARD", "5"}));
  for (int round = 0; round < 3; ++round) {
    for (int u = 0; u < 40; ++u) cmds.push_back(Cmd({"CREDITS.CONSUME", user(u % 7), "1"}));
    cmds.push_back(Cmd({"LIMIT.DEL", user(3)}));
    cmds.push_back(Cmd({"CREDITS.CONSUME", user(3), "2"}));
    cmds.push_back("PING\r\n");  // inline
    cmds.push_back(Cmd({"USAGE.GET", user(1)}));
    // One step: the stepwise marker must not be queued.
    cmds.push_back(Cmd({"MULTI"}) + Cmd({"CREDITS.CONSUME", user(2), "1"}) +
                   Cmd({"LIMIT.SET", user(2), "HARD", "50"}) +
                   Cmd({"CREDITS.CONSUME", user(2), "1"}) + Cmd({"EXEC"}));
    cmds.push_back(Cmd({"NOSUCHCOMMAND", user(4)}));
    cmds.push_back(Cmd({"CREDITS.CONSUME", "short", "1"}));  // NOLIMIT, an inline key
    cmds.push_back(Cmd({"USAGE.GET", "org:000000000007"}));
    cmds.push_back(Cmd({"DBSIZE"}));  // a prefetch that made an entry would show here
    if (round == 1) cmds.push_back(Cmd({"FLUSHALL"}));
    if (round == 1) cmds.push_back(Cmd({"LIMIT.SET", "org:000000000007/project:000000000001/*", "HARD", "9"}));
  }

  // The clock stopped, so that both servers report the same instants.
  const std::vector<std::pair<std::string, std::string>> frozen = {
      {"enable-debug-command", "yes"}, {"debug-clock", "1700000000000"}};
  TestServer stepwise_server(frozen), pipelined_server(frozen);
  Socket stepwise(stepwise_server.port());
  std::string expected;
  for (size_t i = 0; i < cmds.size(); ++i) {
    // A marker after each step says where its replies end.
    std::string marker = Bulk("end-" + std::to_string(i));
    stepwise.Send(cmds[i] + Cmd({"ECHO", "end-" + std::to_string(i)}));
    std::string got;
    while (got.size() < marker.size() || got.compare(got.size() - marker.size(), marker.size(), marker) != 0) {
      std::string byte = stepwise.Read(1);
      REQUIRE(!byte.empty());
      got += byte;
    }
    expected += got.substr(0, got.size() - marker.size());
  }

  Socket pipelined(pipelined_server.port());
  std::string all;
  for (const std::string& c : cmds) all += c;
  const size_t split = all.size() - 5;  // the last command arrives in two writes
  pipelined.Send(std::string_view(all).substr(0, split));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  pipelined.Send(std::string_view(all).substr(split));
  CHECK(pipelined.Read(expected.size()) == expected);
}

TEST_CASE("a command split at every byte", "[net]") {
  TestServer server;
  Socket s(server.port());
  std::string cmd = Cmd({"LIMIT.SET", "org:a", "HARD", "10"}) + Cmd({"ECHO", "hello"});
  for (char c : cmd) {
    s.Send(std::string_view(&c, 1));
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  std::string expected = kOk + Bulk("hello");
  CHECK(s.Read(expected.size()) == expected);
}

TEST_CASE("large bulk in and out", "[net]") {
  TestServer server;
  Socket s(server.port());
  std::string big(700 * 1024, 'x');
  s.Send(Cmd({"ECHO", big}) + Cmd({"PING"}));
  std::string expected = Bulk(big) + "+PONG\r\n";
  CHECK(s.Read(expected.size()) == expected);
}

// Replies are written at once when the socket takes them (FlushNow); a
// client that does not read fills the socket, and the rest is written as it
// reads: partly now, partly later, nothing lost, nothing reordered.
TEST_CASE("replies larger than the socket takes at once arrive whole and in order", "[net]") {
  TestServer server;
  Socket s(server.port());
  std::string input, expected;
  for (int i = 0; i < 160; ++i) {
    std::string payload(100 * 1024, static_cast<char>('a' + i % 26));
    payload += std::to_string(i);
    input += Cmd({"ECHO", payload});
    expected += Bulk(payload);
    if (i % 16 == 0) {
      input += Cmd({"PING"});
      expected += "+PONG\r\n";
    }
  }
  // The server stops reading while its replies wait: send from a thread.
  std::thread sender([&] { s.Send(input); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let the socket fill
  std::string got = s.Read(expected.size());
  sender.join();
  CHECK(got.size() == expected.size());
  CHECK(got == expected);
}

// A command that arrives while the connection waits to write (the client
// reads its replies late) is read once the write is done: its readiness
// came while no read was pending, and must not be lost.
TEST_CASE("a command that arrives while replies wait for the client is answered", "[net]") {
  TestServer server;
  const std::string docs = Cmd({"COMMAND", "DOCS"});
  size_t docs_reply = 0;
  {
    Socket probe(server.port());
    probe.Send(docs + Cmd({"PING"}));
    std::string line;
    while ((line = probe.ReadLine()) != "+PONG\r\n") {
      REQUIRE(!line.empty());
      docs_reply += line.size();
    }
  }
  REQUIRE(docs_reply > 10000);
  Socket s(server.port(), 4096);
  // Pipelines that fill the reads grow them to kReadChunk.
  std::string pings;
  for (int i = 0; i < 8000; ++i) pings += Cmd({"PING"});
  s.Send(pings);
  REQUIRE(s.Read(8000 * 7).size() == 8000 * 7);
  constexpr int kDocs = 500;
  std::string batch;
  for (int i = 0; i < kDocs; ++i) batch += docs;
  REQUIRE(batch.size() < limiterd::server::Connection::kReadChunk);  // one read
  // Over 9 MB of replies: more than both sockets hold (net.ipv4.tcp_wmem's
  // largest send buffer is 4 MB by default), so the server waits to write.
  s.Send(batch);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  s.Send(Cmd({"ECHO", "last"}));
  const size_t expected = kDocs * docs_reply + Bulk("last").size();
  std::string got = s.Read(expected);
  REQUIRE(got.size() == expected);
  CHECK(got.substr(got.size() - Bulk("last").size()) == Bulk("last"));
}

// The io threads poll for up to io-spin-us after a short sleep
// (RunIoThread). Whatever the setting, every reply arrives, the setting
// changes while serving, the server stops when asked, and an idle server
// does not keep polling: its threads then use next to no CPU.
TEST_CASE("io-spin-us: served alike at any setting, and idle when idle", "[net]") {
  TestServer server(Overrides{{"io-spin-us", "1000"}});
  Socket s(server.port());
  auto round_trips = [&](int n) {
    for (int i = 0; i < n; ++i) {
      s.Send(Cmd({"ECHO", std::to_string(i)}));
      REQUIRE(s.Read(Bulk(std::to_string(i)).size()) == Bulk(std::to_string(i)));
    }
  };
  round_trips(2000);  // back to back: the threads poll between them
  std::string batch, expected;
  for (int i = 0; i < 500; ++i) {
    batch += Cmd({"PING"});
    expected += "+PONG\r\n";
  }
  s.Send(batch);
  CHECK(s.Read(expected.size()) == expected);
  // Idle: after at most one spin (1 ms) the io threads sleep. A loop that
  // kept polling would use a whole core (1000 ms of CPU a second).
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const double before = ProcessCpuSeconds();
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  CHECK(ProcessCpuSeconds() - before < 0.25);
  s.Send(Cmd({"CONFIG", "SET", "io-spin-us", "0"}));
  CHECK(s.Read(kOk.size()) == kOk);
  round_trips(500);
  server.Stop();
  CHECK(server.stopped());
}

TEST_CASE("protocol error: reply, close that connection only", "[net]") {
  TestServer server;
  Socket good(server.port());
  Socket bad(server.port());
  bad.Send(Cmd({"PING"}) + "*1\r\n$abc\r\n");
  std::string r = bad.Read(7);
  CHECK(r == "+PONG\r\n");
  std::string err = bad.Read(64);
  CHECK(err.rfind("-ERR Protocol error: ", 0) == 0);
  CHECK(bad.Closed());
  good.Send(Cmd({"PING"}));
  CHECK(good.Read(7) == "+PONG\r\n");
}

// After a short read the io thread waits for the socket's next edge
// without trying it (read_buffer.h). An end of file sent right after the
// last command brings no edge of its own; the io thread's ShortReadWatch
// finds it. Twenty times: most of them, the command and the end of file
// arrive together.
TEST_CASE("a client that sends a command and shuts down its side gets the reply, then the close",
          "[net]") {
  TestServer server;
  for (int i = 0; i < 20; ++i) {
    Socket s(server.port());
    s.Send(Cmd({"ECHO", std::to_string(i)}));
    s.ShutdownWrite();
    CHECK(s.Read(Bulk(std::to_string(i)).size()) == Bulk(std::to_string(i)));
    CHECK(s.Closed());  // within Socket's 5 s
  }
}

TEST_CASE("a client that sends half a command and closes: its connection goes", "[net]") {
  TestServer server;
  for (int i = 0; i < 5; ++i) {
    {
      Socket s(server.port());
      s.Send(Cmd({"PING"}));
      REQUIRE(s.Read(7) == "+PONG\r\n");
      s.Send("*2\r\n$4\r\nECHO\r\n$3\r\nab");
    }  // closed: nothing more will come, and nothing is written to it
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (server.state().clients.size() > 0 && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    CHECK(server.state().clients.size() == 0);
  }
}

// A client that waits for each reply: one recv(2) per request (asio alone
// makes two: the second finds nothing), one write per reply. INFO shows
// them as Redis does (total_reads_processed, total_writes_processed).
TEST_CASE("one recv and one write per request at -P 1", "[net]") {
  TestServer server;
  Socket s(server.port());
  s.Send(Cmd({"PING"}));
  REQUIRE(s.Read(7) == "+PONG\r\n");
  const StatsTotals before = server.state().stats.Sum();
  constexpr uint64_t kRequests = 200;
  for (uint64_t i = 0; i < kRequests; ++i) {
    s.Send(Cmd({"PING"}));
    REQUIRE(s.Read(7) == "+PONG\r\n");
  }
  const StatsTotals after = server.state().stats.Sum();
  CHECK(after.writes - before.writes == kRequests);
  // A request that takes the client more than a tick (ShortReadWatch::
  // kTick, 10 ms: a slow sanitizer build) gets one look more; asio alone
  // would make 2 * kRequests.
  CHECK(after.reads - before.reads >= kRequests);
  CHECK(after.reads - before.reads <= kRequests + kRequests / 10);
}

TEST_CASE("QUIT answers then closes", "[net]") {
  TestServer server;
  Socket s(server.port());
  s.Send(Cmd({"QUIT"}) + Cmd({"PING"}));
  CHECK(s.Read(5) == kOk);
  CHECK(s.Closed());
}

TEST_CASE("maxclients: Redis's error to the client over the limit", "[net]") {
  TestServer server(Overrides{{"maxclients", "1"}});
  Socket first(server.port());
  first.Send(Cmd({"PING"}));
  REQUIRE(first.Read(7) == "+PONG\r\n");
  Socket second(server.port());
  CHECK(second.Read(36) == "-ERR max number of clients reached\r\n");
  CHECK(second.Closed());
}

TEST_CASE("client-query-buffer-limit closes the client", "[net]") {
  TestServer server(Overrides{{"client-query-buffer-limit", "1mb"}, {"proto-max-bulk-len", "8mb"}});
  Socket s(server.port());
  s.Send("*2\r\n$4\r\nECHO\r\n$4000000\r\n");
  s.Send(std::string(2 * 1024 * 1024, 'y'));
  CHECK(s.Closed());
  Socket other(server.port());
  other.Send(Cmd({"PING"}));
  CHECK(other.Read(7) == "+PONG\r\n");
}

TEST_CASE("idle timeout closes the client", "[net]") {
  TestServer server(Overrides{{"timeout", "1"}});
  Socket s(server.port());
  s.Send(Cmd({"PING"}));
  REQUIRE(s.Read(7) == "+PONG\r\n");
  auto start = std::chrono::steady_clock::now();
  CHECK(s.Closed());
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(4));
}

TEST_CASE("CLIENT KILL closes another connection", "[net]") {
  TestServer server;
  Socket victim(server.port());
  victim.Send(Cmd({"CLIENT", "ID"}));
  std::string id = victim.Read(3);  // ":N\r\n" with N < 10
  REQUIRE(id.size() == 3);
  Socket killer(server.port());
  killer.Send(Cmd({"CLIENT", "KILL", "ID", id.substr(1, 1)}));
  (void)victim.Read(1);  // the rest of ":N\r\n"
  CHECK(killer.Read(4) == Int(1));
  CHECK(victim.Closed());
}

TEST_CASE("SHUTDOWN: replies before it are sent, then the server exits", "[net]") {
  TestServer server;
  Socket s(server.port());
  Socket idle(server.port());
  // A round trip first: until the server has accepted it, `idle` sits in the
  // kernel's backlog, and closing the listener resets it instead.
  idle.Send(Cmd({"PING"}));
  REQUIRE(idle.Read(7) == "+PONG\r\n");
  s.Send(Cmd({"PING"}) + Cmd({"SHUTDOWN", "NOSAVE"}));
  CHECK(s.Read(7) == "+PONG\r\n");
  CHECK(s.Closed());
  CHECK(idle.Closed());
  server.thread().join();
  CHECK(server.state().clients.size() == 0);
}

TEST_CASE("before AUTH: Redis's CVE-2021-32675 limits; after: the normal ones", "[net]") {
  TestServer server(Overrides{{"requirepass", "pw"}});
  Socket early(server.port());
  early.Send("*2\r\n$4\r\nECHO\r\n$20000\r\n");
  CHECK(early.Read(64) == "-ERR Protocol error: unauthenticated bulk length\r\n");
  CHECK(early.Closed());
  Socket s(server.port());
  std::string big(20000, 'z');
  s.Send(Cmd({"AUTH", "pw"}) + Cmd({"ECHO", big}));
  std::string expected = kOk + Bulk(big);
  CHECK(s.Read(expected.size()) == expected);
}

TEST_CASE("CONFIG SET proto-max-bulk-len applies to open connections", "[net]") {
  TestServer server;
  Socket s(server.port());
  s.Send(Cmd({"CONFIG", "SET", "proto-max-bulk-len", "2048"}));
  REQUIRE(s.Read(5) == kOk);
  s.Send(Cmd({"ECHO", std::string(4096, 'q')}));
  CHECK(s.Read(64) == "-ERR Protocol error: invalid bulk length\r\n");
  CHECK(s.Closed());
}
