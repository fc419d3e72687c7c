// Copyright limiterd authors.
#include "server.h"

#include <pthread.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <chrono>
#include <csignal>

#include "connection.h"
#include "errors.h"
#include "log.h"

namespace limiterd::server {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {
// The cron ticks often, so that each tick's share of the idle sweep is
// short: the sweep runs on the main thread, and where the io threads and
// the clients use every core (bench/compare.sh on 2 cores) a tick's work
// is time taken from one of them, which every request it holds waits out.
// At 100 ms a tick, the sweep's 4,096 keys took about 1 ms: an fdatasync
// with appendfsync always seen to take 1.1-1.3 ms instead of 0.2 once every
// 100 ms (perf trace), with all 50 clients waiting on it: about 1% of the
// requests, where the p99 lies (alone, this did not move the p99 of eight
// alternating rounds beyond the noise; the zero-fill's pieces weighed more,
// aof_zero_fill.cc). At 10 ms a tick the same rate costs 0.1 ms at a time.
constexpr auto kCronPeriod = std::chrono::milliseconds(10);
constexpr int kTicksPerSecond = std::chrono::seconds(1) / kCronPeriod;
static_assert(kTicksPerSecond * kCronPeriod == std::chrono::seconds(1));
// Idle counters are dropped a few at a time on every tick: DropIdleCounters
// examines at most this many keys per call (before 5a45b7b it walked every
// key whenever fewer than its budget were idle, 22% of a core with the 100k
// counters of bench/compare.sh). 41k keys a second is about 1% of a core,
// and a shard's lock is held for at most 128 keys at a time. The rate is
// what was chosen; the budget per tick follows from the period.
constexpr size_t kIdleDropPerSecond = 41'000;  // keys examined
constexpr size_t kIdleDropBudget = kIdleDropPerSecond / kTicksPerSecond;  // 410 a tick
constexpr int kDrainAttempts = 500;       // x 10 ms

// An io thread's event loop. Like io_context::run(), but when the thread
// runs out of work right after a short sleep (under load), it polls for up
// to io-spin-us before sleeping again: a request that arrives meanwhile
// is served without a wake-up. Sleeping is what costs on a VM: the
// client's send must interrupt the halted vCPU (an IPI and a VM exit), and
// the reply waits for it. Measured (docs/performance-history.md, io-spin-us 50):
// at -P 1, 9-14% more CONSUMEs per second (medians; per core, not pinned,
// appendfsync always and everysec), 0.6-1.4 us less of the client's CPU
// per request; no change at -P 16. After a long sleep (requests sparser
// than the spin) it does not poll, so an idle or lightly loaded daemon
// costs what run() costs.
void RunIoThread(asio::io_context& io, const Config& config) {
  using Clock = std::chrono::steady_clock;
  bool last_sleep_short = false;
  while (!io.stopped()) {
    if (io.poll() > 0) continue;
    const auto spin = std::chrono::microseconds(config.io_spin_us());
    if (last_sleep_short && spin.count() > 0) {
      const auto until = Clock::now() + spin;
      size_t ran = 0;
      while (ran == 0 && !io.stopped() && Clock::now() < until) ran = io.poll();
      if (ran > 0) continue;
    }
    const auto slept = Clock::now();
    if (io.run_one() == 0) break;  // stopped: no work left, or stop()
    last_sleep_short = Clock::now() - slept < spin;
  }
}
}  // namespace

Server::Server(ServerState& state)
    : state_(state), signals_(main_, SIGINT, SIGTERM), cron_(main_), drain_timer_(main_) {
  for (size_t i = 0; i < state_.io_threads; ++i) {
    io_.push_back(std::make_unique<asio::io_context>(1));
    guards_.push_back(asio::make_work_guard(*io_.back()));
    watches_.push_back(std::make_unique<ShortReadWatch>(*io_.back()));
  }
  state_.set_shutdown_handler([this] { Stop(); });
}

Server::~Server() {
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

bool Server::Listen() {
  int port = state_.config.port();
  for (std::string address : state_.config.bind()) {
    bool optional = !address.empty() && address[0] == '-';
    if (optional) address.erase(0, 1);
    if (address == "*") address = "0.0.0.0";
    if (address == "::*") address = "::";
    boost::system::error_code ec;
    auto ip = asio::ip::make_address(address, ec);
    auto acceptor = std::make_unique<tcp::acceptor>(main_);
    if (!ec) {
      tcp::endpoint endpoint(ip, static_cast<uint16_t>(port));
      acceptor->open(endpoint.protocol(), ec);
      if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
      if (!ec && ip.is_v6()) acceptor->set_option(asio::ip::v6_only(true), ec);
      if (!ec) acceptor->bind(endpoint, ec);
      if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
    }
    if (ec) {
      if (optional) {
        LogNotice("Skipping optional bind address {}: {}", address, ec.message());
        continue;
      }
      LogWarning("Warning: Could not create server TCP listening socket {}:{}: {}", address,
                 port, ec.message());
      return false;
    }
    acceptors_.push_back(std::move(acceptor));
  }
  if (acceptors_.empty()) {
    LogWarning("No bind address could be used");
    return false;
  }
  state_.tcp_port.store(port);
  return true;
}

void Server::Run() {
  for (auto& acceptor : acceptors_) {
    asio::co_spawn(main_, AcceptLoop(*acceptor), asio::detached);
  }
  ArmSignals();
  ArmCron();
  for (size_t i = 0; i < io_.size(); ++i) {
    threads_.emplace_back([this, ctx = io_[i].get()] { RunIoThread(*ctx, state_.config); });
    // Named as Redis names its threads (io_thd_N, bio_aof), so that top -H,
    // perf and gdb tell them apart; by the creator, so that the name is
    // there before the first client is accepted.
    pthread_setname_np(threads_.back().native_handle(), fmt::format("io-{}", i).c_str());
  }
  main_.run();
  for (auto& t : threads_) t.join();
  threads_.clear();
  if (state_.durability) {
    // The changes of the batches the drain let finish: written and fsynced
    // (no snapshot: SHUTDOWN or the signal already made the one asked for).
    auto r = state_.durability->Shutdown(/*save=*/false, /*nosave=*/true);
    if (!r) LogWarning("Error flushing the append only file at exit: {}", r.error().message);
  }
}

void Server::ArmSignals() {
  signals_.async_wait([this](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    LogWarning("Received {} scheduling shutdown...", signo == SIGINT ? "SIGINT" : "SIGTERM");
    // As SHUTDOWN without arguments: flush and fsync the AOF, snapshot if
    // save rules are set. If that snapshot fails, keep running (Redis 7).
    if (state_.durability) {
      auto r = state_.durability->Shutdown(/*save=*/false, /*nosave=*/false);
      if (!r) {
        LogWarning("Errors trying to shut down the server ({}); still running. Check the logs "
                   "for more information.",
                   r.error().message);
        ArmSignals();
        return;
      }
    }
    BeginShutdown();
  });
}

void Server::Stop() {
  asio::post(main_, [this] { BeginShutdown(); });
}

asio::awaitable<void> Server::AcceptLoop(tcp::acceptor& acceptor) {
  for (;;) {
    size_t thread = next_thread_++ % io_.size();
    boost::system::error_code ec;
    tcp::socket socket = co_await acceptor.async_accept(
        *io_[thread], asio::redirect_error(asio::use_awaitable, ec));
    if (stopping_ || ec == asio::error::operation_aborted) co_return;
    if (ec) {
      // EMFILE and friends: log, wait a little, go on.
      LogWarning("Accepting client connection: {}", ec.message());
      asio::steady_timer pause(main_, std::chrono::milliseconds(100));
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    OnAccepted(std::move(socket), thread);
  }
}

void Server::OnAccepted(tcp::socket socket, size_t thread) {
  ThreadStats& stats = state_.stats.ForThread(thread);
  boost::system::error_code ec;
  if (state_.clients.size() >= state_.config.maxclients()) {
    // As Redis: tell the client why, then close. A new socket's send buffer
    // is empty, so this write does not block.
    std::string reply = fmt::format("-{}\r\n", err::kMaxClients);
    asio::write(socket, asio::buffer(reply), ec);
    socket.close(ec);
    ThreadStats::Add(stats.rejected, 1);
    return;
  }
  socket.set_option(tcp::no_delay(true), ec);
  socket.set_option(asio::socket_base::keep_alive(true), ec);
  // Start on the connection's own thread.
  auto connection =
      std::make_shared<Connection>(std::move(socket), state_, stats, *watches_[thread]);
  connection->Start();
}

void Server::ArmCron() {
  cron_.expires_after(kCronPeriod);
  cron_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopping_) return;
    Cron();
    ArmCron();
  });
}

void Server::Cron() {
  state_.engine.DropIdleCounters(kIdleDropBudget);
  if (++cron_ticks_ < kTicksPerSecond) return;
  cron_ticks_ = 0;
  // Once a second.
  state_.stats.Sample();
  if (state_.durability) {
    // Save rules, automatic AOF rewrite, retrying a failed write, a
    // scheduled rewrite; and a BGSAVE SCHEDULE once no rewrite runs.
    state_.durability->Cron();
    if (state_.bgsave_scheduled.load(std::memory_order_relaxed) &&
        !state_.durability->Info().aof_rewrite_in_progress) {
      state_.bgsave_scheduled.store(false, std::memory_order_relaxed);
      auto r = state_.durability->BgSave();
      if (!r) LogWarning("Scheduled BGSAVE: {}", r.error().message);
    }
  }
  int64_t timeout_ms = state_.config.timeout_seconds() * 1000;
  if (timeout_ms <= 0) return;
  int64_t now = ServerState::SteadyMs();
  for (const auto& client : state_.clients.All()) {
    if (now - client->last_interaction_ms.load(std::memory_order_relaxed) > timeout_ms &&
        client->close) {
      LogVerbose("Closing idle client id={}", client->id);
      client->close(/*drain=*/false);
    }
  }
}

void Server::BeginShutdown() {
  if (stopping_) return;
  stopping_ = true;
  boost::system::error_code ec;
  for (auto& acceptor : acceptors_) acceptor->close(ec);
  signals_.cancel(ec);
  cron_.cancel();
  size_t n = state_.clients.size();
  if (n > 0) LogNotice("Closing {} client connection(s)...", n);
  for (const auto& client : state_.clients.All()) {
    if (client->close) client->close(/*drain=*/true);
  }
  WaitForClients(kDrainAttempts);
}

void Server::WaitForClients(int attempts_left) {
  if (state_.clients.size() == 0 || attempts_left == 0) {
    if (state_.clients.size() > 0) {
      LogWarning("{} client(s) did not drain in time; closing them", state_.clients.size());
    }
    for (auto& guard : guards_) guard.reset();
    for (auto& io : io_) io->stop();
    main_.stop();
    return;
  }
  drain_timer_.expires_after(std::chrono::milliseconds(10));
  drain_timer_.async_wait([this, attempts_left](const boost::system::error_code&) {
    WaitForClients(attempts_left - 1);
  });
}

}  // namespace limiterd::server
