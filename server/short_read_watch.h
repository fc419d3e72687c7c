// Copyright limiterd authors.
// ShortReadWatch: one per io thread. It finds what a short read hid.
//
// After a short read, asio waits for the socket's next epoll edge before
// it reads again (read_buffer.h). Bytes that come later bring that edge;
// but an end of file (or a reset) that arrived with the last bytes a
// client sent does not: that client's connection would wait forever. So a
// connection that waits for input after a short read is entered here, and
// leaves when its read completes. One that has waited at least one tick
// (kTick) is looked at once (Entry::CheckInput: a recv with MSG_PEEK) and
// leaves.
//
// Under load a connection's next request comes long before a tick ends,
// so the watch makes no syscall per request; an idle connection costs one
// look, the recv that asio would have made at once, and, on a thread where
// nothing else keeps the timer running (one request now and then), a
// timer wake-up shared by whoever entered in that tick. A client that sends a
// command and shuts down its side sees its connection closed within one
// to two ticks (Redis: at once).
//
// The timer runs only while some connection is entered: an idle daemon
// has no tick.
//
// Thread safety: none; everything runs on the io thread that owns it.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace limiterd::server {

class ShortReadWatch {
 public:
  static constexpr std::chrono::milliseconds kTick{10};

  // A connection's place in the watch (a base class of Connection).
  class Entry {
   public:
    Entry() = default;
    Entry(const Entry&) = delete;
    Entry& operator=(const Entry&) = delete;
    virtual ~Entry();
    [[nodiscard]] bool entered() const { return watch_ != nullptr; }

   protected:
    // Once the entry has waited at least one tick: it has left the watch,
    // and looks at its socket. Must not destroy the entry.
    virtual void CheckInput() = 0;

   private:
    friend class ShortReadWatch;
    ShortReadWatch* watch_ = nullptr;
    Entry* prev_ = nullptr;
    Entry* next_ = nullptr;
    uint64_t since_ = 0;  // the watch's tick when it entered
  };

  explicit ShortReadWatch(boost::asio::io_context& io);
  ShortReadWatch(const ShortReadWatch&) = delete;
  ShortReadWatch& operator=(const ShortReadWatch&) = delete;
  // Lets go of every entry (they outlive it at shutdown: connections go
  // with their io_context).
  ~ShortReadWatch();

  void Enter(Entry& entry);
  void Leave(Entry& entry);  // no-op if not entered

  [[nodiscard]] size_t size() const { return size_; }
  [[nodiscard]] uint64_t checks() const { return checks_; }  // CheckInput calls so far
  [[nodiscard]] bool ticking() const { return armed_; }

 private:
  void Arm();
  void Tick();
  void Unlink(Entry& entry);

  boost::asio::steady_timer timer_;
  // Entered connections, oldest first (Enter appends): a tick stops at the
  // first one that has not waited long enough.
  Entry* head_ = nullptr;
  Entry* tail_ = nullptr;
  size_t size_ = 0;
  uint64_t tick_ = 0;
  uint64_t checks_ = 0;
  bool armed_ = false;
};

}  // namespace limiterd::server
