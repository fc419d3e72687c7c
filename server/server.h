// Copyright limiterd authors.
// Server: the daemon's network side. One io_context per io thread
// (`threads`), each run by one thread, so a connection's work never needs a
// lock or a strand; accepted connections go round-robin to the io threads.
// The main thread runs the acceptors, the signals (SIGTERM / SIGINT) and the
// cron timer (dropping idle counters, a little every 10 ms; statistics, idle
// `timeout` and Durability::Cron once a second).
//
// Shutdown (signal or SHUTDOWN): make the state durable (Durability::
// Shutdown: flush and fsync the AOF, snapshot if asked or if save rules are
// set; if that fails, keep running, as Redis), stop accepting, let every
// connection finish the batch it is writing, close them, stop the io
// threads, flush the AOF once more (the drained batches), return from Run.
#pragma once

// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "server_state.h"
#include "short_read_watch.h"

namespace limiterd::server {

class Server {
 public:
  explicit Server(ServerState& state);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds every `bind` address on `port`. False (logged) if one cannot be
  // bound (a "-" prefixed address is optional, as in redis.conf).
  [[nodiscard]] bool Listen();
  // Serves until shutdown, then drains and returns.
  void Run();
  // Starts the shutdown; thread-safe.
  void Stop();

 private:
  using Guard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;

  boost::asio::awaitable<void> AcceptLoop(boost::asio::ip::tcp::acceptor& acceptor);
  void OnAccepted(boost::asio::ip::tcp::socket socket, size_t thread);
  void ArmSignals();
  void ArmCron();
  void Cron();
  void BeginShutdown();
  void WaitForClients(int attempts_left);

  ServerState& state_;
  // Declared before main_, so destroyed after it: main_'s pending accept
  // holds a socket of an io_context, which must outlive it.
  std::vector<std::unique_ptr<boost::asio::io_context>> io_;
  std::vector<Guard> guards_;
  std::vector<std::thread> threads_;
  // One per io_context, the same index. Declared after io_, so destroyed
  // before it: the timers go before their io_context, and the connections
  // (destroyed with their io_context) find the watches already let go.
  std::vector<std::unique_ptr<ShortReadWatch>> watches_;
  boost::asio::io_context main_{1};
  std::vector<std::unique_ptr<boost::asio::ip::tcp::acceptor>> acceptors_;
  boost::asio::signal_set signals_;
  boost::asio::steady_timer cron_;
  boost::asio::steady_timer drain_timer_;
  size_t next_thread_ = 0;  // main thread only
  int cron_ticks_ = 0;      // main thread only: ticks into the second
  bool stopping_ = false;   // main thread only
};

}  // namespace limiterd::server
