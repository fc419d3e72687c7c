// Copyright limiterd authors.
// ReadBuffer: the buffer a Connection reads into. To asio it is a
// mutable_buffer, with one difference in how asio's epoll reactor treats a
// read into it: a short read (fewer bytes than the buffer holds) ends the
// socket's readiness, as a read that finds nothing does.
//
// Why. asio registers sockets with epoll edge-triggered, and tries a read
// at once (speculatively) whenever a read starts, until a read fails with
// EAGAIN. So after each request, the next async_read_some tries recv(2)
// on an empty socket before waiting: two recvs per request where Redis
// makes one (docs/performance-history.md, "-P 1 on the EPYC machine"). A TCP
// read returns less than asked only when the receive queue is empty, so
// after a short read the failed recv can be skipped: any byte that comes
// later brings a new edge. asio 1.38 made this an option of its own
// ("reactor" / "reset_edge_on_partial_read", off by default); Debian's
// Boost 1.74 has asio 1.18, so this header backports it for this one
// buffer type, by the one customization C++ allows: an explicit
// specialization of the operation asio builds for a read into it.
//
// What that costs: an end of file (or a reset) that arrives together with
// the last bytes a client sent makes no edge of its own, and the read that
// returned those bytes does not report it. Left alone, the connection of a
// client that sends a command and then shuts down its side would wait
// forever. ShortReadWatch (short_read_watch.h) looks once at every
// connection that has been waiting that way for a while.
//
// Every recv(2) made into a ReadBuffer, found data or not, is counted in
// `reads` (INFO's total_reads_processed).
//
// Other asio versions than those whose reactive_socket_recv_op.hpp was
// checked (1.18 to 1.38) get asio's own behaviour (kShortReadEndsEdge is
// false): two recvs a request, and reads counted as they complete.
#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/asio/detail/reactive_socket_recv_op.hpp>
#include <boost/asio/version.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>

// The asio versions whose reactive_socket_recv_op.hpp was checked.
#if defined(__linux__) && BOOST_ASIO_VERSION >= 101800 && BOOST_ASIO_VERSION < 103900
#define LIMITERD_SHORT_READ_ENDS_EDGE 1
#else
#define LIMITERD_SHORT_READ_ENDS_EDGE 0
#endif

namespace limiterd::server {

inline constexpr bool kShortReadEndsEdge = LIMITERD_SHORT_READ_ENDS_EDGE == 1;

struct ReadBuffer : boost::asio::mutable_buffer {
  ReadBuffer(void* data, size_t size, std::atomic<uint64_t>* reads_counter)
      : boost::asio::mutable_buffer(data, size), reads(reads_counter) {}
  std::atomic<uint64_t>* reads;
};

}  // namespace limiterd::server

#if LIMITERD_SHORT_READ_ENDS_EDGE
namespace boost::asio::detail {

// As asio's reactive_socket_recv_op_base<MutableBufferSequence>
// (reactive_socket_recv_op.hpp), for one buffer, with the short read
// reported as done_and_exhausted: the reactor then sets the socket's
// try_speculative_ flag to false, and sets it back at the next epoll edge.
template <>
class reactive_socket_recv_op_base<limiterd::server::ReadBuffer> : public reactor_op {
 public:
  reactive_socket_recv_op_base(const boost::system::error_code& success_ec, socket_type socket,
                               socket_ops::state_type state,
                               const limiterd::server::ReadBuffer& buffer,
                               socket_base::message_flags flags, func_type complete_func)
      : reactor_op(success_ec, &reactive_socket_recv_op_base::do_perform, complete_func),
        socket_(socket),
        state_(state),
        buffer_(buffer),
        flags_(flags) {}

  static status do_perform(reactor_op* base) {
    auto* o = static_cast<reactive_socket_recv_op_base*>(base);
    const bool stream = (o->state_ & socket_ops::stream_oriented) != 0;
    if (o->buffer_.reads != nullptr) o->buffer_.reads->fetch_add(1, std::memory_order_relaxed);
    if (!socket_ops::non_blocking_recv1(o->socket_, o->buffer_.data(), o->buffer_.size(),
                                        o->flags_, stream, o->ec_, o->bytes_transferred_)) {
      return not_done;  // EAGAIN: wait for the next edge
    }
    // A short read, an end of file or an error (0 bytes): nothing more to
    // read until the next edge. A full buffer: there may be more.
    return stream && o->bytes_transferred_ < o->buffer_.size() ? done_and_exhausted : done;
  }

 private:
  socket_type socket_;
  socket_ops::state_type state_;
  limiterd::server::ReadBuffer buffer_;
  socket_base::message_flags flags_;
};

}  // namespace boost::asio::detail
#endif
