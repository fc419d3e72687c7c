// Copyright limiterd authors.
// What a read costs the io thread, through asio, at -P 1: one request
// arrives, the read completes, the next read starts and waits. With asio's
// own buffer the next read first tries recv(2) on the empty socket (asio
// marks a socket drained only when a read fails with EAGAIN); with
// limiterd's ReadBuffer (server/read_buffer.h) a short read ends the
// socket's readiness and that recv is skipped. One thread, one io_context,
// a loopback pair: the client's send(2) is in both loops, the same.
//
//   build/release/bench/read_bench
#include <utility>  // before asio: its awaitable.hpp uses std::exchange unincluded

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <benchmark/benchmark.h>
#include <boost/asio/buffer.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <cstdint>
#include <string_view>

#include "read_buffer.h"

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

constexpr std::string_view kRequest = "*3\r\n$15\r\nCREDITS.CONSUME\r\n$5\r\nuser1\r\n$1\r\n1\r\n";

template <bool kReadBuffer>
void BM_ReadOneRequest(benchmark::State& state) {
  asio::io_context io(1);
  auto work = asio::make_work_guard(io);
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  const int client = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(acceptor.local_endpoint().port());
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(client, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    state.SkipWithError("connect");
    return;
  }
  tcp::socket server(io);
  acceptor.accept(server);
  char buf[16 * 1024];
  std::atomic<uint64_t> reads{0};
  uint64_t completed = 0;
  auto start_read = [&] {
    auto done = [&completed](const boost::system::error_code&, size_t) { ++completed; };
    if constexpr (kReadBuffer) {
      server.async_read_some(limiterd::server::ReadBuffer(buf, sizeof buf, &reads), done);
    } else {
      server.async_read_some(asio::buffer(buf, sizeof buf), done);
    }
  };
  start_read();
  for (auto _ : state) {
    (void)::send(client, kRequest.data(), kRequest.size(), MSG_NOSIGNAL);
    const uint64_t want = completed + 1;
    while (completed < want) io.run_one();
    start_read();  // the next request's read: waits (asio's buffer: after a failed recv)
  }
  if constexpr (kReadBuffer) {  // asio's own operation counts nothing
    state.counters["recv_per_request"] =
        benchmark::Counter(static_cast<double>(reads.load()), benchmark::Counter::kAvgIterations);
  }
  ::close(client);
}

void BM_ReadOneRequestAsioBuffer(benchmark::State& state) { BM_ReadOneRequest<false>(state); }
void BM_ReadOneRequestReadBuffer(benchmark::State& state) { BM_ReadOneRequest<true>(state); }
BENCHMARK(BM_ReadOneRequestAsioBuffer);
BENCHMARK(BM_ReadOneRequestReadBuffer);

}  // namespace

BENCHMARK_MAIN();
