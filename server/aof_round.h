// Copyright limiterd authors.
// AofRound: one AOF write(2) (appendfsync everysec / no) or one group
// commit wait (always) for a round of an io thread's connections, the way
// Redis writes and fsyncs its AOF buffer once per event-loop iteration in
// beforeSleep.
//
// A connection whose replies wait on changes not yet written (or, with
// always, not yet fsynced) joins the thread's open round and suspends. The
// first to join posts the round's Run to the io thread's queue, behind the
// connections whose input is already ready: they run their batches and
// join too. Run then makes one write covering every waiter's changes, and
// resumes the waiters directly, in the order they joined. With always it
// asks the sync thread once, for the round's last change, and the waiters
// resume together once that group commit is done. (A wait per connection
// woke the sync thread at the first batch of a round: at -P 64, 6 batches
// per fdatasync against 12-14 now, and 12% more CPU per request.)
//
// With always, a round of request/response batches (at most
// kInlineFsyncCommandsPerBatch commands a batch on average) is fsynced by
// Run itself when the log allows (Durability::SyncInline: no fsync under
// way, fsyncs short), as Redis's event loop fsyncs before it replies. Such
// clients bring no work for the io thread while the disk works, and the
// handoff's wake-ups cost more than the fsync here: at -P 1 on the EPYC
// VM, 13-26% less CPU a CONSUME and 8-31% more of them
// (docs/performance-history.md). Pipelined batches bring work to overlap with the
// fsync: at -P 64 fsyncing inline cost 8-13% of the throughput, so their
// rounds go to the sync thread.
//
// Before this, each connection posted its own resumption and the first to
// resume wrote: the same single write, but one post and one scheduler pass
// per connection (about 1,400 instructions a batch at -P 1).
//
// One round per io thread at a time (a thread_local): a waiter resumed by
// Run that joins again starts the next round. If the io_context is torn
// down with Run still queued, the round and its suspended coroutines are
// destroyed with it, as asio destroys any pending handler. With always, a
// round that waits is held by the sync thread's callback, which posts to
// the io_context: the persistence threads must stop before the io
// contexts go (main.cc does so).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "durability.h"

namespace limiterd::server {

class AofRound {
 public:
  // Above this many commands a batch on average, a round with always waits
  // for the sync thread: its clients pipeline.
  static constexpr uint64_t kInlineFsyncCommandsPerBatch = 4;

  // Joins the io thread's open round (opening and posting one if there is
  // none) with `done`, which is called with true once `lsn` is written
  // (always: fsynced), or false if that failed. `commands`: how many the
  // waiter's batch ran.
  template <class Executor, class Handler>
  static void Join(persistence::Durability& durability, const Executor& executor, uint64_t lsn,
                   uint64_t commands, Handler&& done) {
    if (t_open == nullptr) {
      auto round = std::make_shared<AofRound>(durability, executor);
      t_open = round.get();
      boost::asio::post(executor, [round] { round->Run(); });
    }
    t_open->max_lsn_ = std::max(t_open->max_lsn_, lsn);
    t_open->commands_ += commands;
    t_open->waiters_.push_back(
        std::make_unique<WaiterOf<std::decay_t<Handler>>>(std::forward<Handler>(done)));
  }

  // Rounds run on this thread so far (tests: one round, not one per waiter).
  static uint64_t RoundsRun() { return t_rounds_run; }

  AofRound(persistence::Durability& durability, boost::asio::any_io_executor executor)
      : durability_(durability), executor_(std::move(executor)) {}
  AofRound(const AofRound&) = delete;
  AofRound& operator=(const AofRound&) = delete;
  ~AofRound() {
    if (t_open == this) t_open = nullptr;  // torn down unrun, on its own thread
  }

 private:
  struct Waiter {
    virtual ~Waiter() = default;
    virtual void Complete(bool ok) = 0;
  };
  template <class Handler>
  struct WaiterOf final : Waiter {
    explicit WaiterOf(Handler&& h) : handler(std::move(h)) {}
    void Complete(bool ok) override { std::move(handler)(ok); }
    Handler handler;
  };

  void Run() {
    t_open = nullptr;  // whoever joins from here on starts the next round
    ++t_rounds_run;
    bool failed = false;
    const bool ok = durability_.ReadyToReply(max_lsn_, &failed);
    Waiters waiters = std::move(waiters_);
    if (ok || failed) return CompleteAll(waiters, ok);
    // appendfsync always: the round's group commit right here, or
    if (commands_ <= kInlineFsyncCommandsPerBatch * waiters.size()) {
      if (std::optional<bool> durable = durability_.SyncInline(max_lsn_)) {
        return CompleteAll(waiters, *durable);
      }
    }
    // one wait for the sync thread's, for the whole round. It calls back on
    // its own thread; the waiters resume here.
    auto shared = std::make_shared<Waiters>(std::move(waiters));
    durability_.WhenDurable(max_lsn_, [shared, executor = executor_](bool durable) {
      boost::asio::post(executor, [shared, durable] { CompleteAll(*shared, durable); });
    });
  }

  using Waiters = std::vector<std::unique_ptr<Waiter>>;
  static void CompleteAll(Waiters& waiters, bool ok) {
    for (auto& waiter : waiters) waiter->Complete(ok);
  }

  static inline thread_local AofRound* t_open = nullptr;
  static inline thread_local uint64_t t_rounds_run = 0;

  persistence::Durability& durability_;
  boost::asio::any_io_executor executor_;
  uint64_t max_lsn_ = 0;
  uint64_t commands_ = 0;  // run by the waiters' batches
  Waiters waiters_;
};

}  // namespace limiterd::server
