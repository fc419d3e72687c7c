// Copyright limiterd authors.
// AofRound (server/aof_round.h): the connections of one io thread that wait
// for the AOF write in the same round share one write(2), are resumed in
// the order they joined once it covers them all, and a waiter that joins
// again starts the next round. With appendfsync always the round waits for
// one group commit that covers them all: made by the round itself for
// request/response batches, by the sync thread for pipelined ones or when
// aof-inline-fsync-max-us is 0. A round torn down unrun destroys its
// waiters.
#include <utility>  // before asio: its awaitable.hpp uses std::exchange unincluded

#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "../persistence/persistence_test_util.h"  // TempDir, Options, Quota
#include "aof_round.h"

namespace {

namespace asio = boost::asio;
using limiterd::Engine;
using limiterd::persistence::Durability;
using limiterd::persistence::FsyncPolicy;
using limiterd::server::AofRound;

// An engine whose changes go to an AOF in a temporary directory.
struct AofEngine {
  explicit AofEngine(FsyncPolicy policy, int64_t inline_fsync_max_us = 1000)
      : d(e, WithInlineMax(pt::Options(dir.path(), true, policy), inline_fsync_max_us)) {
    REQUIRE(d.Load().ok());
    REQUIRE(e.Set("*", pt::Quota(1'000'000)).ok());
  }
  static limiterd::persistence::DurabilityOptions WithInlineMax(
      limiterd::persistence::DurabilityOptions o, int64_t us) {
    o.aof_inline_fsync_max_us = us;
    return o;
  }
  pt::TempDir dir;
  Engine e;
  Durability d;
};
struct EverySecEngine : AofEngine {
  EverySecEngine() : AofEngine(FsyncPolicy::kEverySec) {}
};

// What WaitDurable does: join the thread's round, suspend. `commands`: the
// waiter's batch.
asio::awaitable<bool> JoinRound(Durability& d, uint64_t lsn, uint64_t commands = 1) {
  auto executor = co_await asio::this_coro::executor;
  co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(bool)>(
      [&d, executor, lsn, commands](auto handler) {
        AofRound::Join(d, executor, lsn, commands, std::move(handler));
      },
      asio::use_awaitable);
}

// Charges `key` 1 and returns that change's LSN.
uint64_t Charge(Engine& e, const std::string& key) {
  REQUIRE(e.Consume(key, 1).ok());
  return Durability::ThreadLastLsn();
}

struct Seen {
  int id;
  bool ok;
  bool written;            // its own change was written when it resumed
  uint64_t pending_bytes;  // what was still unwritten when it resumed
  uint64_t records;        // records appended by then
};

}  // namespace

TEST_CASE("AofRound: one write for the round, waiters resumed in order", "[aof][round]") {
  EverySecEngine f;
  Engine& e = f.e;
  Durability& d = f.d;
  const uint64_t records_before = d.Info().aof_records;

  const uint64_t rounds_before = AofRound::RoundsRun();
  asio::io_context io(1);
  constexpr int kConnections = 6;
  std::vector<Seen> seen;
  for (int i = 0; i < kConnections; ++i) {
    asio::co_spawn(
        io,
        [&, i]() -> asio::awaitable<void> {
          const uint64_t lsn = Charge(e, "k" + std::to_string(i));
          REQUIRE(d.WouldWriteToReply(lsn));
          const bool ok = co_await JoinRound(d, lsn);
          const auto info = d.Info();
          seen.push_back(Seen{i, ok, !d.WouldWriteToReply(lsn),
                              static_cast<uint64_t>(info.aof_buffer_length),
                              info.aof_records - records_before});
          if (i == 0) {
            // Resumed by the round's Run: joining again opens the next one.
            const uint64_t again = Charge(e, "again");
            REQUIRE(d.WouldWriteToReply(again));
            const bool ok_again = co_await JoinRound(d, again);
            seen.push_back(Seen{100, ok_again, !d.WouldWriteToReply(again),
                                static_cast<uint64_t>(d.Info().aof_buffer_length),
                                d.Info().aof_records - records_before});
          }
        },
        asio::detached);
  }
  io.run();

  REQUIRE(seen.size() == kConnections + 1);
  for (int i = 0; i < kConnections; ++i) {
    INFO("waiter " << i);
    CHECK(seen[i].id == i);  // in the order they joined
    CHECK(seen[i].ok);
    CHECK(seen[i].written);
  }
  // When the first waiter resumed, every connection's record was already
  // appended and nothing was left unwritten: one write covered the round.
  // (Waiter 0 then appends again, before the others resume.)
  CHECK(seen[0].records == static_cast<uint64_t>(kConnections));
  CHECK(seen[0].pending_bytes == 0);
  // The second round: after the first was done, and written in its turn.
  CHECK(seen.back().id == 100);
  CHECK(seen.back().ok);
  CHECK(seen.back().written);
  CHECK(seen.back().pending_bytes == 0);
  CHECK(seen.back().records == static_cast<uint64_t>(kConnections + 1));
  CHECK_FALSE(d.WouldWriteToReply(Durability::ThreadLastLsn()));
  CHECK(AofRound::RoundsRun() - rounds_before == 2);  // not one per waiter
}

TEST_CASE("AofRound: with appendfsync always, one group commit for the round", "[aof][round]") {
  // Batches of one command (request/response clients) are fsynced by the
  // round itself; pipelined ones (16 commands a batch), or any with
  // inline fsyncs off, wait for the sync thread.
  uint64_t commands = 1;
  int64_t inline_max_us = 1000;
  bool expect_inline = true;
  SECTION("request/response batches: the round fsyncs") {}
  SECTION("pipelined batches: the sync thread fsyncs") {
    commands = 16;
    expect_inline = false;
  }
  SECTION("aof-inline-fsync-max-us 0: the sync thread fsyncs") {
    inline_max_us = 0;
    expect_inline = false;
  }
  // The io_context outlives the log: its sync thread posts here (as in
  // main.cc, which stops the persistence threads before the io contexts go).
  asio::io_context io(1);
  AofEngine f(FsyncPolicy::kAlways, inline_max_us);
  Engine& e = f.e;
  Durability& d = f.d;
  const uint64_t inline_before = d.Info().aof_fsyncs_inline;
  const uint64_t rounds_before = AofRound::RoundsRun();
  constexpr int kConnections = 6;
  struct Resumed {
    int id;
    bool ok;
    bool durable;     // its own change was fsynced when it resumed
    uint64_t fsyncs;  // the log's fdatasyncs by then
  };
  std::vector<Resumed> resumed;
  for (int i = 0; i < kConnections; ++i) {
    asio::co_spawn(
        io,
        [&, i]() -> asio::awaitable<void> {
          const uint64_t lsn = Charge(e, "k" + std::to_string(i));
          REQUIRE_FALSE(d.WouldWriteToReply(lsn));  // always: the sync thread writes
          const bool ok = co_await JoinRound(d, lsn, commands);
          bool failed = false;
          resumed.push_back(Resumed{i, ok, d.ReadyToReply(lsn, &failed), d.Info().aof_fsyncs});
        },
        asio::detached);
  }
  // The sync thread's callback posts the resumption from its own thread:
  // keep the io_context waiting for it (10 s at most).
  auto work = asio::make_work_guard(io);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (resumed.size() < kConnections && std::chrono::steady_clock::now() < deadline) {
    io.run_one_for(std::chrono::milliseconds(100));
  }
  work.reset();
  io.run();

  REQUIRE(resumed.size() == kConnections);
  for (int i = 0; i < kConnections; ++i) {
    INFO("waiter " << i);
    CHECK(resumed[i].id == i);  // in the order they joined
    CHECK(resumed[i].ok);
    CHECK(resumed[i].durable);
    // All resumed together, after the same fdatasync: not one wait each.
    CHECK(resumed[i].fsyncs == resumed[0].fsyncs);
  }
  CHECK(AofRound::RoundsRun() - rounds_before == 1);
  CHECK(d.Info().aof_fsyncs_inline - inline_before == (expect_inline ? 1u : 0u));
}

TEST_CASE("AofRound: a round torn down unrun destroys its waiters", "[aof][round]") {
  EverySecEngine f;
  Engine& e = f.e;
  Durability& d = f.d;
  bool resumed = false;
  bool frame_destroyed = false;
  struct OnExit {
    bool* flag;
    ~OnExit() { *flag = true; }
  };
  {
    asio::io_context io(1);
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          OnExit on_exit{&frame_destroyed};
          (void)co_await JoinRound(d, Charge(e, "k"));
          resumed = true;
        },
        asio::detached);
    io.run_one();  // the coroutine joins a round and suspends; Run stays queued
    CHECK_FALSE(frame_destroyed);
  }  // the io_context goes, and the queued round with it
  CHECK_FALSE(resumed);
  CHECK(frame_destroyed);

  // The thread has no round left open: the next join opens and runs one.
  asio::io_context io(1);
  bool ok = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        ok = co_await JoinRound(d, Charge(e, "k"));
      },
      asio::detached);
  io.run();
  CHECK(ok);
}
