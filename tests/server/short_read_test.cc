// Copyright limiterd authors.
// ReadBuffer (server/read_buffer.h) and ShortReadWatch
// (server/short_read_watch.h), below the Connection: over a real loopback
// socket and one io_context, a read into a ReadBuffer after a short read
// waits for the socket's next edge without a recv(2); an end of file that
// came with the last bytes brings no edge (why the watch exists); and the
// watch looks once at whoever waited a whole tick, in the order they came,
// and stops ticking when nobody waits.
#include <utility>  // before asio: its awaitable.hpp uses std::exchange unincluded

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include "read_buffer.h"
#include "short_read_watch.h"

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using limiterd::server::kShortReadEndsEdge;
using limiterd::server::ReadBuffer;
using limiterd::server::ShortReadWatch;

// A connected pair on 127.0.0.1: `server` is asio's (on `io`), `client` a
// plain blocking socket.
struct SocketPair {
  explicit SocketPair(asio::io_context& io) : server(io) {
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    client = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(acceptor.local_endpoint().port());
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(client, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    acceptor.accept(server);
  }
  ~SocketPair() { ::close(client); }
  void Send(const std::string& bytes) const {
    REQUIRE(::send(client, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(bytes.size()));
  }
  tcp::socket server;
  int client = -1;
};

// One async_read_some into a ReadBuffer; its result once it completes.
struct Read {
  std::optional<boost::system::error_code> ec;
  size_t n = 0;
};

std::shared_ptr<Read> StartRead(tcp::socket& socket, char* buf, size_t size,
                                std::atomic<uint64_t>& reads) {
  auto read = std::make_shared<Read>();
  socket.async_read_some(ReadBuffer(buf, size, &reads),
                         [read](const boost::system::error_code& ec, size_t n) {
                           read->ec = ec;
                           read->n = n;
                         });
  return read;
}

// Runs `io` until `read` completes or `limit` passes.
void RunUntil(asio::io_context& io, const Read& read, std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!read.ec && std::chrono::steady_clock::now() < until) {
    io.restart();
    io.run_one_for(std::chrono::milliseconds(10));
  }
}

// Lets what was sent arrive, and lets the reactor take the edge it made
// (with no read waiting), so that a read started next finds the bytes
// itself and no edge is left over.
void Settle(asio::io_context& io) {
  std::this_thread::sleep_for(std::chrono::milliseconds(10));
  auto work = asio::make_work_guard(io);  // else poll() returns before the reactor runs
  io.restart();
  io.poll();
}

// The first read of what was sent: lets it arrive (Settle), reads it.
std::shared_ptr<Read> FirstRead(asio::io_context& io, SocketPair& pair, char* buf, size_t size,
                                std::atomic<uint64_t>& reads) {
  Settle(io);
  auto read = StartRead(pair.server, buf, size, reads);
  RunUntil(io, *read, std::chrono::seconds(5));
  return read;
}

// Starts the next read and runs only what is ready now: a read that
// completes here did not wait for an edge.
std::shared_ptr<Read> StartReadAndPoll(asio::io_context& io, SocketPair& pair, char* buf,
                                       size_t size, std::atomic<uint64_t>& reads) {
  auto read = StartRead(pair.server, buf, size, reads);
  io.restart();
  io.poll();
  return read;
}

struct CountingEntry : ShortReadWatch::Entry {
  int checks = 0;
  void CheckInput() override { ++checks; }
};

}  // namespace

TEST_CASE("a read after a short read waits for the next bytes without a recv", "[net]") {
  // This build's asio (1.18 to 1.38) takes the backport; another would
  // make two recvs a request again: port read_buffer.h.
  REQUIRE(kShortReadEndsEdge);
  asio::io_context io;
  SocketPair pair(io);
  std::atomic<uint64_t> reads{0};
  char buf[100];

  pair.Send("abc");
  auto first = FirstRead(io, pair, buf, sizeof buf, reads);
  REQUIRE(first->ec == boost::system::error_code());
  CHECK(first->n == 3);
  CHECK(reads == 1);

  // asio's own buffer would try recv(2) here, find nothing, then wait.
  auto second = StartReadAndPoll(io, pair, buf, sizeof buf, reads);
  CHECK(!second->ec);
  CHECK(reads == 1);

  pair.Send("de");
  RunUntil(io, *second, std::chrono::seconds(5));
  REQUIRE(second->ec == boost::system::error_code());
  CHECK(std::string(buf, second->n) == "de");
  CHECK(reads == 2);
}

TEST_CASE("a read that fills the buffer leaves the socket to be read again at once", "[net]") {
  asio::io_context io;
  SocketPair pair(io);
  std::atomic<uint64_t> reads{0};
  char buf[4];
  pair.Send("abcdef");
  auto first = FirstRead(io, pair, buf, sizeof buf, reads);
  REQUIRE(first->n == 4);
  // Full: there may be more, and there is; no edge is needed for it.
  auto second = StartReadAndPoll(io, pair, buf, sizeof buf, reads);
  REQUIRE(second->ec == boost::system::error_code());
  CHECK(std::string(buf, second->n) == "ef");
}

TEST_CASE("an end of file that came with the last bytes brings no edge of its own", "[net]") {
  REQUIRE(kShortReadEndsEdge);
  asio::io_context io;
  SocketPair pair(io);
  std::atomic<uint64_t> reads{0};
  char buf[100];
  // Both arrive before the server reads: one edge for the two.
  pair.Send("PING\r\n");
  REQUIRE(::shutdown(pair.client, SHUT_WR) == 0);
  auto first = FirstRead(io, pair, buf, sizeof buf, reads);
  REQUIRE(first->n == 6);
  // The reactor waits for an edge that will not come: the watch's case.
  auto second = StartRead(pair.server, buf, sizeof buf, reads);
  RunUntil(io, *second, std::chrono::milliseconds(100));
  CHECK(!second->ec);
  // What the watch's look finds, and what the connection then does.
  char byte;
  CHECK(::recv(pair.server.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 0);
  boost::system::error_code ec;
  pair.server.cancel(ec);
  RunUntil(io, *second, std::chrono::seconds(5));
  CHECK(second->ec == asio::error::operation_aborted);
}

TEST_CASE("ShortReadWatch: a whole tick of waiting, one look, oldest first, then no tick",
          "[net]") {
  asio::io_context io;
  ShortReadWatch watch(io);
  CountingEntry a, b, gone;
  CHECK(!watch.ticking());

  watch.Enter(a);
  watch.Enter(gone);
  watch.Leave(gone);  // its read completed: never looked at
  CHECK(watch.ticking());
  CHECK(watch.size() == 1);

  io.run_one();  // tick 1: `a` has not waited a whole tick yet
  CHECK(a.checks == 0);
  watch.Enter(b);
  io.run_one();  // tick 2: `a` has
  CHECK(a.checks == 1);
  CHECK(!a.entered());
  CHECK(b.checks == 0);
  CHECK(watch.size() == 1);
  io.run_one();  // tick 3: `b`
  CHECK(b.checks == 1);
  CHECK(gone.checks == 0);
  CHECK(watch.size() == 0);
  CHECK(!watch.ticking());
  CHECK(watch.checks() == 2);
  io.restart();
  CHECK(io.run() == 0);  // nothing left armed

  {
    CountingEntry scoped;
    watch.Enter(scoped);
  }  // an entry that goes leaves
  CHECK(watch.size() == 0);

  CountingEntry outlives;
  {
    ShortReadWatch short_lived(io);
    short_lived.Enter(outlives);
  }  // a watch that goes lets go of its entries
  CHECK(!outlives.entered());
}
