// Copyright limiterd authors.
// The engine without the network: CREDITS.CONSUME on one key, on a 3-level
// path, and from N threads on distinct keys and on one hot key.
//   build/bench/core_bench --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <algorithm>
#include <memory>
#include <random>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "compare_keyspace.h"
#include "limiterd/changes.h"
#include "limiterd/engine.h"

namespace {

limiterd::LimitDefinition Quota(int64_t hard) {
  limiterd::LimitDefinition d;
  d.hard = hard;
  d.period = {limiterd::PeriodType::kMonthly};
  return d;
}

// Limits high enough that no consume is ever denied: we time the grant path.
constexpr int64_t kHuge = int64_t{1} << 60;

void BM_ConsumeOneKey(benchmark::State& state) {
  limiterd::Engine engine;
  (void)engine.Set("user:1", Quota(kHuge));
  for (auto _ : state) benchmark::DoNotOptimize(engine.Consume("user:1", 1));
}
BENCHMARK(BM_ConsumeOneKey);

void BM_ConsumeThreeLevels(benchmark::State& state) {
  limiterd::Engine engine;
  (void)engine.Set("org:acme", Quota(kHuge));
  (void)engine.Set("org:acme/project:web", Quota(kHuge));
  (void)engine.Set("org:acme/project:web/user:42", Quota(kHuge));
  for (auto _ : state) {
    benchmark::DoNotOptimize(engine.Consume("org:acme/project:web/user:42", 1));
  }
}
BENCHMARK(BM_ConsumeThreeLevels);

// The same with an AOF's sink: every CONSUME also encodes its three levels'
// change records (the sink only keeps their size).
class SizeSink final : public limiterd::ChangeSink {
 public:
  void Record(std::string_view changes) override { bytes += changes.size(); }
  uint64_t bytes = 0;
};

void BM_ConsumeThreeLevelsRecorded(benchmark::State& state) {
  limiterd::Engine engine;
  SizeSink sink;
  engine.SetChangeSink(&sink);
  (void)engine.Set("org:acme", Quota(kHuge));
  (void)engine.Set("org:acme/project:web", Quota(kHuge));
  (void)engine.Set("org:acme/project:web/user:42", Quota(kHuge));
  sink.bytes = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(engine.Consume("org:acme/project:web/user:42", 1));
  }
  state.counters["record_bytes"] =
      benchmark::Counter(static_cast<double>(sink.bytes), benchmark::Counter::kAvgIterations);
  engine.SetChangeSink(nullptr);
}
BENCHMARK(BM_ConsumeThreeLevelsRecorded);

// 100 orgs x 10 projects x 100 users, users limited by a per-project default:
// the shape of a real deployment, and of bench/compare.sh's load.
void BM_ConsumeThreeLevelsManyKeys(benchmark::State& state) {
  limiterd::Engine engine;
  std::vector<std::string> keys;
  for (int o = 0; o < 100; ++o) {
    std::string org = "org:" + std::to_string(o);
    (void)engine.Set(org, Quota(kHuge));
    for (int p = 0; p < 10; ++p) {
      std::string project = org + "/project:" + std::to_string(p);
      (void)engine.Set(project, Quota(kHuge));
      (void)engine.Set(project + "/*", Quota(kHuge));
      for (int u = 0; u < 100; ++u) keys.push_back(project + "/user:" + std::to_string(u));
    }
  }
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(engine.Consume(keys[i], 1));
    i = (i + 7919) % keys.size();
  }
}
BENCHMARK(BM_ConsumeThreeLevelsManyKeys);

// Limits compare.sh's keyspace in `engine` (bench/compare_keyspace.h);
// returns its users, none charged yet.
std::vector<std::string> SetUpCompareKeyspace(limiterd::Engine& engine) {
  limiterd::bench::CompareKeyspace keys = limiterd::bench::MakeCompareKeyspace();
  for (const std::string& org : keys.orgs) (void)engine.Set(org, Quota(kHuge));
  for (const std::string& project : keys.projects) {
    (void)engine.Set(project, Quota(kHuge));
    (void)engine.Set(project + "/*", Quota(kHuge));
  }
  return std::move(keys.users);
}

// A client's pipeline of 16 CONSUMEs at a time over compare.sh's keys
// (12-digit ids, 80-byte user keys, 100k users in random order), each
// user charged before timing starts: the server's -P 16 path without the
// network. Arg 1 calls Engine::Prefetch for each batch first, as the
// server does; arg 0 does not.
void BM_ConsumePipeline(benchmark::State& state) {
  const bool prefetch = state.range(0) != 0;
  limiterd::Engine engine;
  const std::vector<std::string> keys = SetUpCompareKeyspace(engine);
  for (const std::string& key : keys) (void)engine.Consume(key, 1);
  constexpr size_t kBatch = 16;
  std::vector<std::string_view> batch(kBatch);
  limiterd::bench::FixedRandom random;
  for (auto _ : state) {
    for (auto& key : batch) key = keys[random.Next() % keys.size()];
    if (prefetch) engine.Prefetch(batch);
    for (std::string_view key : batch) benchmark::DoNotOptimize(engine.Consume(key, 1));
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
}
BENCHMARK(BM_ConsumePipeline)->Arg(0)->Arg(1);

limiterd::Engine* g_engine = nullptr;

// N threads, each on its own top-level key: scaling with no shared state.
void BM_ThreadsDistinctKeys(benchmark::State& state) {
  if (state.thread_index() == 0) {
    g_engine = new limiterd::Engine();
    for (int t = 0; t < state.threads(); ++t) {
      (void)g_engine->Set("user:" + std::to_string(t), Quota(kHuge));
    }
  }
  std::string key = "user:" + std::to_string(state.thread_index());
  for (auto _ : state) benchmark::DoNotOptimize(g_engine->Consume(key, 1));
  if (state.thread_index() == 0) {
    delete g_engine;
    g_engine = nullptr;
  }
}
BENCHMARK(BM_ThreadsDistinctKeys)->ThreadRange(1, 8)->UseRealTime();

// N threads on one key: every consume serializes on that key's lock, as it
// must for the hard limit to hold.
void BM_ThreadsHotKey(benchmark::State& state) {
  if (state.thread_index() == 0) {
    g_engine = new limiterd::Engine();
    (void)g_engine->Set("org:hot", Quota(kHuge));
  }
  for (auto _ : state) benchmark::DoNotOptimize(g_engine->Consume("org:hot", 1));
  if (state.thread_index() == 0) {
    delete g_engine;
    g_engine = nullptr;
  }
}
BENCHMARK(BM_ThreadsHotKey)->ThreadRange(1, 8)->UseRealTime();

// Loading a snapshot: N monthly limits, each charged once (bench/snapshot.sh's
// shape), saved shard by shard and applied into a fresh engine as
// persistence/snapshot_file.cc does, one ApplyChanges per shard image.
void BM_ApplySnapshot(benchmark::State& state) {
  const auto n = static_cast<int>(state.range(0));
  std::vector<std::string> images;
  {
    limiterd::Engine source;
    limiterd::LimitDefinition d = Quota(1000);
    for (int i = 0; i < n; ++i) {
      std::string key = "mem:user:" + std::to_string(i);
      (void)source.Set(key, d);
      (void)source.Consume(key, 1);
    }
    auto reader = source.StartSnapshot();
    if (!reader.ok()) {
      state.SkipWithError("StartSnapshot failed");
      return;
    }
    for (std::string image; (*reader)->Next(image); image.clear()) {
      if (!image.empty()) images.push_back(image);
    }
  }
  for (auto _ : state) {
    auto engine = std::make_unique<limiterd::Engine>();
    for (const std::string& image : images) {
      if (!engine->ApplyChanges(image).ok()) state.SkipWithError("ApplyChanges failed");
    }
    state.PauseTiming();  // not the teardown
    benchmark::DoNotOptimize(engine->Size());
    engine.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_ApplySnapshot)->Arg(1000000)->Unit(benchmark::kMillisecond)->Iterations(3);

// A snapshot's images of compare.sh's keyspace (100 orgs x 10 projects x
// 100 users under a project default, every user charged, in a shuffled
// order as compare.sh's random keys charge them): what an AOF rewrite's
// cut asks of the threads that touch the shards first, encoded shard by
// shard as they do (SnapshotReader::Next locks and captures).
void BM_CaptureSnapshot(benchmark::State& state) {
  limiterd::Engine engine;
  std::vector<std::string> users = SetUpCompareKeyspace(engine);
  std::shuffle(users.begin(), users.end(), std::mt19937_64(42));
  for (const std::string& user : users) (void)engine.Consume(user, 1);
  size_t bytes = 0;
  for (auto _ : state) {
    auto reader = engine.StartSnapshot();
    if (!reader.ok()) {
      state.SkipWithError("StartSnapshot failed");
      return;
    }
    bytes = 0;
    for (std::string image; (*reader)->Next(image); image.clear()) bytes += image.size();
  }
  state.counters["entries"] = static_cast<double>(engine.Size());
  state.counters["bytes"] = static_cast<double>(bytes);
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(engine.Size()));
}
BENCHMARK(BM_CaptureSnapshot)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
