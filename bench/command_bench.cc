// Copyright limiterd authors.
// The server's command path without the network: a connection's input
// bytes parsed (resp::RequestParser), their keys prefetched as a pipeline's
// are (PipelinePrefetch), each command dispatched through the command
// table (Dispatch) to the engine, its reply written (resp::ReplyWriter).
// What Connection::ProcessInput does per batch, minus the socket; the same
// keyspace as bench/compare.sh (100 orgs x 10 projects x 100 users, every
// level limited, each user charged once before timing; bench/
// compare_keyspace.h) in a fixed random order, persistence off.
//
// Args: {pipeline depth, command}: command 0 is CREDITS.CONSUME key 1,
// 1 is PING. Reported per command (items) and per input byte.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "command_table.h"
#include "compare_keyspace.h"
#include "config.h"
#include "pipeline_prefetch.h"
#include "resp/reply_writer.h"
#include "resp/request_parser.h"
#include "server_state.h"
#include "session.h"

namespace limiterd::server {
namespace {

std::string Resp(const std::vector<std::string_view>& args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (std::string_view a : args) {
    out += "$" + std::to_string(a.size()) + "\r\n";
    out.append(a);
    out += "\r\n";
  }
  return out;
}

// An error reply anywhere in `out`: one starts it or follows a CRLF (no
// other reply element begins with '-'; a negative integer is ":-1").
bool HasError(std::string_view out) {
  return out.starts_with('-') || out.find("\r\n-") != std::string_view::npos;
}

// One client of one io thread, as a connection holds them.
struct CommandPath {
  CommandPath() : state(Config{}, 1), writer(&out) {
    auto info = std::make_shared<ClientInfo>();
    info->id = state.NextClientId();
    session = std::make_unique<Session>(state, std::move(info), state.stats.ForThread(0));
    parser.set_authenticated(session->authenticated);
  }

  // Runs every command of `input`; returns how many ran.
  int64_t Process(std::string_view input) {
    int64_t commands = 0;
    while (!input.empty() && parser.Parse(input) == resp::ParseStatus::kCommand) {
      prefetch.AfterParse(parser.consumed(), input.substr(parser.consumed()), state.engine);
      Dispatch(state, *session, parser.args(), writer);
      input.remove_prefix(parser.consumed());
      ++commands;
    }
    return commands;
  }

  ServerState state;
  std::unique_ptr<Session> session;
  resp::RequestParser parser;
  PipelinePrefetch prefetch;
  std::string out;
  resp::ReplyWriter writer;
};

void BM_CommandPath(benchmark::State& state) {
  const auto depth = static_cast<size_t>(state.range(0));
  const bool ping = state.range(1) == 1;
  CommandPath path;
  const bench::CompareKeyspace keys = bench::MakeCompareKeyspace();
  const std::vector<std::string>& users = keys.users;
  auto set = [&](const std::string& key) {
    path.Process(Resp({"LIMIT.SET", key, "HARD", "1000000000000000", "PERIOD", "monthly"}));
  };
  for (const std::string& org : keys.orgs) set(org);
  for (const std::string& project : keys.projects) {
    set(project);
    set(project + "/*");
  }
  for (const std::string& user : users) path.Process(Resp({"CREDITS.CONSUME", user, "1"}));
  if (HasError(path.out)) {
    state.SkipWithError("the setup answered an error");
    return;
  }
  // 64k commands in batches of `depth`, users in a fixed random order.
  constexpr size_t kCommands = 1 << 16;
  std::vector<std::string> batches(kCommands / depth);
  bench::FixedRandom random;
  for (std::string& batch : batches) {
    for (size_t i = 0; i < depth; ++i) {
      batch += ping ? Resp({"PING"})
                    : Resp({"CREDITS.CONSUME", users[random.Next() % users.size()], "1"});
    }
  }
  int64_t commands = 0;
  int64_t bytes = 0;
  size_t next = 0;
  for (auto _ : state) {
    const std::string& batch = batches[next];
    next = next + 1 == batches.size() ? 0 : next + 1;
    path.out.clear();
    commands += path.Process(batch);
    bytes += static_cast<int64_t>(batch.size());
    benchmark::DoNotOptimize(path.out.data());
  }
  // Every command ran, and the last batch's replies hold no error.
  if (commands != state.iterations() * static_cast<int64_t>(depth) || HasError(path.out)) {
    state.SkipWithError("a command did not run");
  }
  state.SetItemsProcessed(commands);
  state.SetBytesProcessed(bytes);
}
BENCHMARK(BM_CommandPath)
    ->ArgNames({"depth", "ping"})
    ->Args({1, 0})
    ->Args({16, 0})
    ->Args({64, 0})
    ->Args({1, 1})
    ->Args({16, 1});

}  // namespace
}  // namespace limiterd::server

BENCHMARK_MAIN();
