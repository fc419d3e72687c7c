// Copyright limiterd authors.
#include "connection.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>

#include "aof_round.h"
#include "command_table.h"
#include "errors.h"
#include "log.h"
#include "read_buffer.h"

namespace limiterd::server {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

std::string Endpoint(const tcp::endpoint& e) {
  auto a = e.address();
  return a.is_v6() ? fmt::format("[{}]:{}", a.to_string(), e.port())
                   : fmt::format("{}:{}", a.to_string(), e.port());
}

std::shared_ptr<ClientInfo> MakeInfo(ServerState& server, tcp::socket& socket) {
  auto info = std::make_shared<ClientInfo>();
  info->id = server.NextClientId();
  boost::system::error_code ec;
  auto remote = socket.remote_endpoint(ec);
  if (!ec) info->addr = Endpoint(remote);
  auto local = socket.local_endpoint(ec);
  if (!ec) info->laddr = Endpoint(local);
  info->fd = socket.native_handle();
  info->created_ms = ServerState::SteadyMs();
  info->last_interaction_ms.store(info->created_ms, std::memory_order_relaxed);
  return info;
}

resp::ParserLimits LimitsFrom(const Config& config) {
  resp::ParserLimits limits;
  limits.max_bulk_len = config.proto_max_bulk_len();
  return limits;
}

}  // namespace

Connection::Connection(tcp::socket socket, ServerState& server, ThreadStats& stats,
                       ShortReadWatch& watch)
    : socket_(std::move(socket)),
      server_(server),
      stats_(stats),
      watch_(watch),
      info_(MakeInfo(server, socket_)),
      session_(server, info_, stats),
      parser_(LimitsFrom(server.config)),
      writer_(&out_, 2) {
  config_generation_ = server.config.generation();
  parser_.set_authenticated(session_.authenticated);
}

Connection::~Connection() { server_.clients.Remove(info_->id); }

void Connection::Start() {
  // FlushNow writes without waiting; the async operations are unaffected.
  boost::system::error_code ec;
  socket_.non_blocking(true, ec);
  write_now_ = !ec;  // else a write_some could block the io thread
  std::weak_ptr<Connection> weak = weak_from_this();
  auto executor = socket_.get_executor();
  info_->close = [weak, executor](bool drain) {
    asio::post(executor, [weak, drain] {
      if (auto self = weak.lock()) self->CloseOnOwner(drain);
    });
  };
  server_.clients.Add(info_);
  ThreadStats::Add(stats_.connections, 1);
  LogVerbose("Accepted {}", info_->addr);
  // A plain lambda that owns `self`: co_spawn keeps it (and so the
  // connection) alive until the coroutine ends.
  auto self = shared_from_this();
  asio::co_spawn(
      executor, [self]() { return self->Run(self); },
      [id = info_->id](std::exception_ptr e) {
        if (!e) return;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          LogWarning("client id={} closed on an unexpected error: {}", id, ex.what());
        }
      });
}

void Connection::CloseOnOwner(bool drain) {
  closing_ = true;
  boost::system::error_code ec;
  if (!drain) {
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
  } else if (reading_) {
    socket_.cancel(ec);  // idle between batches: stop now
  }
  // Writing: the loop sees closing_ once the write completes.
}

void Connection::CheckInput() {
  char byte;
  const ssize_t r = ::recv(socket_.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  ThreadStats::Add(stats_.reads, 1);
  if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    return;  // drained: whatever comes next brings an edge
  }
  input_found_ = true;
  boost::system::error_code ec;
  socket_.cancel(ec);
}

size_t Connection::ReadNow(size_t space, boost::system::error_code& ec) {
  const ssize_t r = ::recv(socket_.native_handle(), in_.get() + in_end_, space, MSG_DONTWAIT);
  ThreadStats::Add(stats_.reads, 1);
  ec.clear();
  if (r > 0) return static_cast<size_t>(r);
  if (r == 0) {
    ec = asio::error::eof;
  } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
    ec.assign(errno, boost::system::system_category());
  }
  return 0;
}

void Connection::RefreshLimits() {
  uint64_t generation = server_.config.generation();
  if (generation == config_generation_) return;
  config_generation_ = generation;
  parser_.set_limits(LimitsFrom(server_.config));
}

void Connection::Reallocate(size_t capacity) {
  // Default-initialized (not zeroed): pages a client never fills are never
  // touched, so an idle connection costs little resident memory.
  std::unique_ptr<char[]> fresh(new char[capacity]);
  size_t live = in_end_ - in_begin_;
  if (live > 0) std::memcpy(fresh.get(), in_.get() + in_begin_, live);
  in_ = std::move(fresh);
  in_capacity_ = capacity;
  in_begin_ = 0;
  in_end_ = live;
}

void Connection::EnsureReadSpace() {
  if (in_begin_ == in_end_) {
    in_begin_ = in_end_ = 0;
    // A client that once sent a large bulk does not keep its buffer.
    if (in_capacity_ > 4 * kReadChunk) Reallocate(read_size_);
  }
  if (in_capacity_ - in_end_ >= read_size_) return;
  if (in_begin_ > 0) {
    std::memmove(in_.get(), in_.get() + in_begin_, in_end_ - in_begin_);
    in_end_ -= in_begin_;
    in_begin_ = 0;
  }
  if (in_capacity_ - in_end_ < read_size_) {
    Reallocate(std::max(in_capacity_ * 2, in_end_ + read_size_));
  }
}

uint64_t Connection::ThreadLsn() const {
  return server_.durability ? persistence::Durability::ThreadLastLsn() : 0;
}

void Connection::NoteChanges(uint64_t mark) {
  // ThreadLastLsn is per thread, and several connections share this thread;
  // but between `mark` and now nothing else ran here (no co_await), so a
  // move is this connection's own change.
  uint64_t now = ThreadLsn();
  if (now != mark) unsynced_lsn_ = std::max(unsynced_lsn_, now);
}

asio::awaitable<bool> Connection::WaitDurable(uint64_t lsn, uint64_t commands) {
  persistence::Durability& durability = *server_.durability;
  auto executor = socket_.get_executor();
  if (!durability.WouldWriteToReply(lsn)) {
    bool failed = false;
    if (durability.ReadyToReply(lsn, &failed)) co_return true;
    if (failed) co_return false;
  }
  // One AOF write (no, everysec) or one group commit wait (always) per
  // round of this thread's ready connections (aof_round.h), not one per
  // connection.
  co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(bool)>(
      [&durability, executor, lsn, commands](auto handler) {
        AofRound::Join(durability, executor, lsn, commands, std::move(handler));
      },
      asio::use_awaitable);
}

asio::awaitable<bool> Connection::Flush() {
  if (unsynced_lsn_ != 0) {
    uint64_t lsn = std::exchange(unsynced_lsn_, 0);
    if (!co_await WaitDurable(lsn, std::exchange(batch_commands_, 0))) {
      // These replies would acknowledge changes that are not on disk.
      LogWarning("Closing client id={} addr={}: the AOF write of its changes failed; their "
                 "replies are not sent",
                 info_->id, info_->addr);
      out_.clear();
      written_ = 0;
      closing_ = true;
      co_return false;
    }
    // Durable now: a non-blocking write_some sends the replies at once in
    // the usual case, without async_write's operation (with an AOF at -P 1
    // that machinery was about 1,200 instructions a batch). A full socket
    // buffer leaves the rest to async_write below. (Without a wait, the
    // caller's FlushNow has just tried that already.)
    if (FlushNow()) co_return true;
  }
  if (out_.empty()) co_return true;
  info_->output_buffer.store(out_.size() - written_, std::memory_order_relaxed);
  boost::system::error_code ec;
  ThreadStats::Add(stats_.writes, 1);
  co_await asio::async_write(socket_, asio::buffer(out_.data() + written_, out_.size() - written_),
                             asio::redirect_error(asio::use_awaitable, ec));
  FlushDone();
  co_return !ec;
}

bool Connection::FlushNow() {
  if (unsynced_lsn_ != 0 || !write_now_) return false;  // Flush() waits for durability first
  if (out_.empty()) return true;
  boost::system::error_code ec;
  ThreadStats::Add(stats_.writes, 1);
  written_ += socket_.write_some(asio::buffer(out_.data() + written_, out_.size() - written_), ec);
  // would_block (the socket buffer is full): Flush() waits for room. Any
  // other error: Flush() meets it again and the connection closes.
  if (ec || written_ < out_.size()) return false;
  FlushDone();
  return true;
}

void Connection::FlushDone() {
  ThreadStats::Add(stats_.net_output, out_.size());
  info_->output_buffer.store(0, std::memory_order_relaxed);
  out_.clear();
  written_ = 0;
  batch_commands_ = 0;
  if (out_.capacity() > 4 * kFlushBytes) out_.shrink_to_fit();
}

bool Connection::ProcessInput() {
  const uint64_t lsn_mark = ThreadLsn();
  while (!session_.close_after_reply && !closing_ && in_begin_ < in_end_) {
    std::string_view buf(in_.get() + in_begin_, in_end_ - in_begin_);
    resp::ParseStatus status = parser_.Parse(buf);
    if (status == resp::ParseStatus::kNeedMore) break;
    if (status == resp::ParseStatus::kError) {
      LogVerbose("Protocol error ({}) from client: id={} addr={}", parser_.error(), info_->id,
                 info_->addr);
      writer_.Error(fmt::format("{}{}", err::kProtocolPrefix, parser_.error()));
      session_.close_after_reply = true;
      break;
    }
    if (session_.authenticated) {
      prefetch_.AfterParse(parser_.consumed(), buf.substr(parser_.consumed()), server_.engine);
    }
    if (!parser_.args().empty()) {
      size_t mark = out_.size();
      ++batch_commands_;
      try {
        Dispatch(server_, session_, parser_.args(), writer_);
      } catch (const std::exception& e) {
        // Drop a half-written reply so the client stays in sync.
        out_.resize(mark);
        writer_.Error(fmt::format("{}{}", err::kInternal, e.what()));
      }
      parser_.set_authenticated(session_.authenticated);
    }
    in_begin_ += parser_.consumed();
    if (out_.size() >= kFlushBytes) {
      NoteChanges(lsn_mark);
      return true;
    }
  }
  NoteChanges(lsn_mark);
  return false;
}

asio::awaitable<void> Connection::Run(std::shared_ptr<Connection> self) {
  boost::system::error_code ec;
  while (!closing_ && !session_.close_after_reply) {
    EnsureReadSpace();
    const size_t space = in_capacity_ - in_end_;
    reading_ = true;
    // After a short read asio waits for the next edge without trying the
    // socket (read_buffer.h); the watch looks if that wait lasts a tick.
    if (kShortReadEndsEdge && last_read_short_) watch_.Enter(*this);
    size_t n = co_await socket_.async_read_some(
        ReadBuffer(in_.get() + in_end_, space, &stats_.reads),
        asio::redirect_error(asio::use_awaitable, ec));
    watch_.Leave(*this);
    reading_ = false;
    if (!kShortReadEndsEdge) ThreadStats::Add(stats_.reads, 1);
    if (std::exchange(input_found_, false) && ec == asio::error::operation_aborted &&
        !closing_) {
      n = ReadNow(space, ec);
    }
    if (ec || closing_) break;
    last_read_short_ = n < space;
    // Reads start small (idle connections stay cheap) and grow to
    // kReadChunk for clients that fill them (pipelines, large bulks).
    if (n == space) read_size_ = std::min(read_size_ * 2, kReadChunk);
    in_end_ += n;
    ThreadStats::Add(stats_.net_input, n);
    info_->last_interaction_ms.store(ServerState::SteadyMs(), std::memory_order_relaxed);
    RefreshLimits();
    bool flush_failed = false;
    while (ProcessInput()) {  // replies passed kFlushBytes: write them, go on
      if (!FlushNow() && !co_await Flush()) {
        flush_failed = true;
        break;
      }
    }
    if (flush_failed) break;
    uint64_t pending = in_end_ - in_begin_;
    info_->query_buffer.store(pending, std::memory_order_relaxed);
    if (pending > server_.config.client_query_buffer_limit()) {
      LogWarning("Closing client that reached max query buffer length: id={} addr={} qbuf={}",
                 info_->id, info_->addr, pending);
      break;
    }
    if (!FlushNow() && !co_await Flush()) break;
  }
  if (socket_.is_open()) {
    if (!out_.empty() || unsynced_lsn_ != 0) (void)co_await Flush();
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }
  LogVerbose("Client closed connection id={} addr={}", info_->id, info_->addr);
  (void)self;  // held to here: the connection outlives its coroutine
}

}  // namespace limiterd::server
