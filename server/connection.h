// Copyright limiterd authors.
// Connection: one client socket, served by one io thread. The read loop
// parses every complete command in what arrived, runs each (Dispatch), and
// writes all their replies with one write (pipelining); a batch whose
// replies pass kFlushBytes is written in parts, so pending output stays
// bounded, and the next read waits for the write: a client that does not
// read stops being read (TCP backpressure), it never grows our memory.
//
// Durability (SPEC section 5): a batch's replies leave only once the changes
// its commands made meet appendfsync (Durability::ReadyToReply; with
// `always`, the read loop waits for the group commit that covers them,
// without blocking the io thread). A change that could not be written gets
// no reply at all: the connection closes, so nothing unwritten is ever
// acknowledged.
//
// Bounds (STYLE 9): proto-max-bulk-len and the inline/multibulk limits in
// the parser; client-query-buffer-limit on unparsed input (over it: close,
// as Redis); the idle `timeout` (the server's cron closes idle clients).
//
// Thread safety: everything runs on the socket's executor (one thread),
// except Close(), which any thread may call. The read loop is a coroutine
// spawned from a plain lambda that holds shared_from_this(), so the
// connection lives as long as the coroutine.
#pragma once

// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <memory>
#include <string>
#include <vector>

#include "pipeline_prefetch.h"
#include "resp/reply_writer.h"
#include "resp/request_parser.h"
#include "server_state.h"
#include "session.h"
#include "short_read_watch.h"

namespace limiterd::server {

class Connection : public std::enable_shared_from_this<Connection>,
                   private ShortReadWatch::Entry {
 public:
  static constexpr size_t kReadChunk = 16 * 1024;
  static constexpr size_t kFirstRead = 2 * 1024;
  static constexpr size_t kFlushBytes = 64 * 1024;

  // `watch` is that of the io thread of the socket's executor.
  Connection(boost::asio::ip::tcp::socket socket, ServerState& server, ThreadStats& stats,
             ShortReadWatch& watch);
  ~Connection() override;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Registers the client (CLIENT LIST) and starts the read loop.
  void Start();

 private:
  boost::asio::awaitable<void> Run(std::shared_ptr<Connection> self);
  // Parses and runs the complete commands in the input, until it needs
  // more, the connection is closing, or the replies pass kFlushBytes: then
  // it returns true, and the caller writes them and calls it again. Not a
  // coroutine: a frame and an await per batch cost more than the parsing.
  bool ProcessInput();
  // Waits until the changes of the replies in out_ meet appendfsync, then
  // writes out_. False when the connection must close (a failed write to
  // the socket, or to the AOF: then out_ is dropped unsent).
  boost::asio::awaitable<bool> Flush();
  // Flush's fast path, without a coroutine: writes out_ at once when no
  // durability wait is due and the socket takes it all (the usual case;
  // Redis writes replies the same way). False when Flush() must finish
  // the job (it goes on from written_).
  bool FlushNow();
  // out_ is all written: counts it and empties it.
  void FlushDone();
  // True once `lsn` meets appendfsync; false if its write failed.
  // `commands`: how many the batch ran (AofRound: pipelined or not).
  boost::asio::awaitable<bool> WaitDurable(uint64_t lsn, uint64_t commands);
  // Durability::ThreadLastLsn() (0 without durability).
  uint64_t ThreadLsn() const;
  // After commands ran since ThreadLsn() was `mark`: what they changed must
  // be durable before their replies leave.
  void NoteChanges(uint64_t mark);
  void EnsureReadSpace();
  void Reallocate(size_t capacity);
  void RefreshLimits();
  // On the owner's thread: drain = finish the current batch, then close.
  void CloseOnOwner(bool drain);
  // The watch's look at a connection that has waited for input since a
  // short read: anything there (bytes, an end of file, an error) that
  // brought no edge wakes the read, which then reads it with ReadNow.
  void CheckInput() override;
  // A non-blocking recv(2) into the read buffer's free `space`; 0 with no
  // error when there is nothing after all.
  size_t ReadNow(size_t space, boost::system::error_code& ec);

  boost::asio::ip::tcp::socket socket_;
  ServerState& server_;
  ThreadStats& stats_;
  ShortReadWatch& watch_;
  std::shared_ptr<ClientInfo> info_;
  Session session_;
  resp::RequestParser parser_;
  PipelinePrefetch prefetch_;
  std::string out_;
  size_t written_ = 0;  // bytes at the front of out_ already sent (FlushNow)
  resp::ReplyWriter writer_;
  std::unique_ptr<char[]> in_;  // [in_begin_, in_end_) is unparsed input
  size_t in_capacity_ = 0;
  size_t read_size_ = kFirstRead;  // free space wanted before a read
  size_t in_begin_ = 0;
  size_t in_end_ = 0;
  uint64_t config_generation_ = 0;
  uint64_t unsynced_lsn_ = 0;  // the replies in out_ wait for this LSN (0: none)
  uint64_t batch_commands_ = 0;  // run since replies were last sent (AofRound)
  bool reading_ = false;   // a read is pending (Close may cancel it)
  bool closing_ = false;   // stop after the current batch
  bool write_now_ = false; // the socket is non-blocking: FlushNow may write
  bool last_read_short_ = false;  // asio waits for an edge before the next read
  bool input_found_ = false;      // CheckInput cancelled the read: ReadNow
};

}  // namespace limiterd::server
