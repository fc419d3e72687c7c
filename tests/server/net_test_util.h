// Copyright limiterd authors.
// In-process tests over real sockets: the daemon on a free 127.0.0.1 port in
// a thread of the test, and a blocking client socket.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "durability_setup.h"
#include "server.h"
#include "server_test_util.h"

namespace st {

inline int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// The daemon in this process on a free port, 2 io threads; with `durable`,
// persistence as main opens it (the overrides set dir and the rest), with
// `job_step_hook` in its options (to hold a background job).
class TestServer {
 public:
  explicit TestServer(std::vector<std::pair<std::string, std::string>> overrides = {},
                      bool durable = false,
                      std::function<void(std::string_view)> job_step_hook = {})
      : port_(FreePort()), state_(Configure(std::move(overrides), port_), 2), server_(state_) {
    REQUIRE(server_.Listen());
    if (durable) REQUIRE(OpenDurability(state_, std::move(job_step_hook)).empty());
    thread_ = std::thread([this] { server_.Run(); });
  }
  ~TestServer() { Stop(); }
  // Stops the server and closes its files (as main does).
  void Stop() {
    if (!thread_.joinable()) return;
    state_.RequestShutdown();
    thread_.join();
    state_.durability.reset();
  }
  int port() const { return port_; }
  ServerState& state() { return state_; }
  bool stopped() const { return !thread_.joinable(); }
  std::thread& thread() { return thread_; }

 private:
  static Config Configure(std::vector<std::pair<std::string, std::string>> o, int port) {
    o.emplace_back("port", std::to_string(port));
    o.emplace_back("loglevel", "warning");
    return MakeConfig(std::move(o));
  }
  int port_;
  ServerState state_;
  Server server_;
  std::thread thread_;
};

class Socket {
 public:
  // receive_buffer > 0: SO_RCVBUF, set before connect so that it bounds
  // the window (a client that holds little of what it has not read yet).
  explicit Socket(int port, int receive_buffer = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (receive_buffer > 0) {
      ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    }
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  }
  ~Socket() { ::close(fd_); }
  void Send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
  }
  // Reads exactly n bytes (less on EOF / timeout).
  std::string Read(size_t n) {
    std::string out;
    char buf[65536];
    while (out.size() < n) {
      ssize_t r = ::recv(fd_, buf, std::min(sizeof buf, n - out.size()), 0);
      if (r <= 0) break;
      out.append(buf, static_cast<size_t>(r));
    }
    return out;
  }
  // One line with its CRLF ("" on EOF / timeout).
  std::string ReadLine() {
    std::string line;
    while (line.size() < 2 || line.compare(line.size() - 2, 2, "\r\n") != 0) {
      std::string byte = Read(1);
      if (byte.empty()) return {};
      line += byte;
    }
    return line;
  }
  // shutdown(SHUT_WR): the server reads an end of file after what was sent.
  void ShutdownWrite() { ::shutdown(fd_, SHUT_WR); }
  // True when the server closed the connection (EOF within the timeout).
  bool Closed() {
    char c;
    return ::recv(fd_, &c, 1, 0) == 0;
  }

 private:
  int fd_;
};

inline std::string Cmd(std::initializer_list<std::string_view> args) {
  std::string s = "*" + std::to_string(args.size()) + "\r\n";
  for (std::string_view a : args) s += Bulk(a);
  return s;
}

}  // namespace st
