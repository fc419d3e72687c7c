// Copyright limiterd authors.
// In-process command tests: a ServerState with a stopped clock and clients
// that run commands through Dispatch() (the path every connection takes) and
// return the exact reply bytes.
#pragma once

#include <catch2/catch.hpp>

#include <stdlib.h>

#include <filesystem>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "command_table.h"
#include "config.h"
#include "durability_setup.h"
#include "resp/reply_writer.h"
#include "server_state.h"
#include "session.h"

namespace st {

using namespace limiterd::server;  // NOLINT

using Overrides = std::vector<std::pair<std::string, std::string>>;

// 2024-02-29 12:00:00.000 UTC
inline constexpr int64_t kNow = 1709208000000;

inline Config MakeConfig(std::vector<std::pair<std::string, std::string>> overrides) {
  Config config;
  for (auto& [name, value] : overrides) {
    std::vector<std::string> values{value};
    std::string e = config.Apply(name, values);
    REQUIRE(e.empty());
  }
  return config;
}

class Client {
 public:
  Client(ServerState& server, std::shared_ptr<ClientInfo> info)
      : server_(server), session_(server, std::move(info), server.stats.ForThread(0)),
        writer_(&out_) {}

  // Runs one command; returns the reply bytes.
  std::string Run(std::vector<std::string_view> args) {
    out_.clear();
    writer_.set_protocol(session_.protocol);
    Dispatch(server_, session_, args, writer_);
    return out_;
  }
  std::string operator()(std::initializer_list<std::string_view> args) {
    return Run(std::vector<std::string_view>(args));
  }
  Session& session() { return session_; }

 private:
  ServerState& server_;
  Session session_;
  std::string out_;
  limiterd::resp::ReplyWriter writer_;
};

class Fixture {
 public:
  explicit Fixture(std::vector<std::pair<std::string, std::string>> overrides = {})
      : state(MakeConfig(std::move(overrides)), 1) {
    state.clock.Set(kNow);
  }

  // A client registered like a connection (CLIENT LIST sees it).
  std::unique_ptr<Client> NewClient(std::string addr = "127.0.0.1:50000") {
    auto info = std::make_shared<ClientInfo>();
    info->id = state.NextClientId();
    info->addr = std::move(addr);
    info->laddr = "127.0.0.1:6390";
    info->created_ms = ServerState::SteadyMs();
    info->last_interaction_ms = info->created_ms;
    state.clients.Add(info);
    return std::make_unique<Client>(state, info);
  }

  ServerState state;
};

// A fresh directory under the system's temp dir, removed with its contents.
class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "limiterd-test-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct TempDirHolder {
  TempDir temp;
};

// A Fixture with persistence opened as the daemon opens it, in its own
// directory (or in `dir`, to reopen what an earlier fixture left there).
// The directory is a base declared first: made before the Fixture, removed
// after it.
class DurableFixture : private TempDirHolder, public Fixture {
 public:
  explicit DurableFixture(Overrides overrides = {}, const std::string& dir = {})
      : Fixture(WithDir(std::move(overrides), dir.empty() ? temp.path() : dir)),
        dir_(dir.empty() ? temp.path() : dir) {
    std::string error = OpenDurability(state);
    INFO(error);
    REQUIRE(error.empty());
  }
  const std::string& dir() const { return dir_; }
  limiterd::persistence::Durability& durability() { return *state.durability; }

 private:
  static Overrides WithDir(Overrides o, const std::string& dir) {
    o.emplace_back("dir", dir);
    o.emplace_back("loglevel", "warning");
    return o;
  }
  std::string dir_;
};

// "*2\r\n$1\r\na\r\n..." helpers for expected replies.
inline std::string Bulk(std::string_view s) {
  return "$" + std::to_string(s.size()) + "\r\n" + std::string(s) + "\r\n";
}
inline std::string Int(int64_t n) { return ":" + std::to_string(n) + "\r\n"; }
inline std::string Arr(size_t n) { return "*" + std::to_string(n) + "\r\n"; }
inline std::string Map3(size_t n) { return "%" + std::to_string(n) + "\r\n"; }
inline std::string Err(std::string_view s) { return "-" + std::string(s) + "\r\n"; }
inline const std::string kOk = "+OK\r\n";
inline const std::string kNil2 = "$-1\r\n";
inline const std::string kNil3 = "_\r\n";

}  // namespace st
