// Copyright limiterd authors.
// persistence::Durability on real files: snapshots, the AOF and its
// rewrite, torn and corrupt files, group commit, a full disk, the checks.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <random>
#include <thread>

#include <catch2/catch.hpp>

#include "durability.h"
#include "durable_file.h"
#include "limiterd/engine.h"
#include "manifest.h"

using namespace limiterd;               // NOLINT
using namespace limiterd::persistence;  // NOLINT
namespace fs = std::filesystem;

namespace {

constexpr int64_t T0 = 1709208000000;  // 2024-02-29 12:00 UTC

struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/limiterd-durability-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string path;
};

DurabilityOptions Options(const std::string& dir, bool aof,
                          FsyncPolicy policy = FsyncPolicy::kEverySec) {
  DurabilityOptions o;
  o.dir = dir;
  o.appendonly = aof;
  o.appendfsync = policy;
  o.auto_aof_rewrite_percentage = 0;
  o.wall_ms = [] { return T0; };
  return o;
}

LimitDefinition Quota(int64_t hard) {
  LimitDefinition d;
  d.hard = hard;
  d.period.type = PeriodType::kMonthly;
  return d;
}
LimitDefinition Window(int64_t hard, int64_t ms) {
  LimitDefinition d;
  d.kind = Kind::kWindow;
  d.hard = hard;
  d.window_ms = ms;
  return d;
}
LimitDefinition Bucket(int64_t rate, int64_t per) {
  LimitDefinition d;
  d.kind = Kind::kBucket;
  d.rate = rate;
  d.rate_per_ms = per;
  return d;
}

// Limits of every kind, a default with materialized counters, usage.
void Populate(Engine& e, int users) {
  REQUIRE(*e.Set("org:a", Quota(1'000'000)));
  REQUIRE(*e.Set("org:a/*", Window(1'000, 60'000)));
  REQUIRE(*e.Set("rate:x", Bucket(100, 1000)));
  REQUIRE(*e.Set("gone", Quota(5)));
  for (int u = 0; u < users; ++u) {
    REQUIRE(e.Consume("org:a/u:" + std::to_string(u), 1 + u % 3)->allowed);
  }
  REQUIRE(e.Consume("rate:x", 7)->allowed);
  REQUIRE(*e.Cancel("org:a"));
  std::string_view gone = "gone";
  REQUIRE(*e.Delete(std::span<const std::string_view>(&gone, 1)) == 1);
}

std::string Dump(const Engine& e) {
  std::vector<std::string> keys;
  uint64_t cursor = 0;
  do {
    ScanPage page = e.Scan(cursor, 1000);
    keys.insert(keys.end(), page.keys.begin(), page.keys.end());
    cursor = page.next_cursor;
  } while (cursor != 0);
  std::sort(keys.begin(), keys.end());
  std::string out;
  for (const auto& k : keys) {
    out += k;
    auto info = e.Get(k);
    if (info.ok() && *info) out += " src=" + (*info)->source + " c=" + std::to_string((*info)->cancelled);
    if (k.find('*') == std::string::npos) {
      auto u = e.Usage(k);
      if (u.ok() && *u) {
        out += " used=" + std::to_string((*u)->consumed) + " start=" +
               std::to_string((*u)->period_start_ms);
      }
    }
    out += "\n";
  }
  return out;
}

std::string IncrPath(const std::string& dir, uint64_t seq = 1) {
  return dir + "/appendonlydir/" + IncrName("appendonly.aof", seq);
}

}  // namespace

TEST_CASE("durability: a snapshot restores the state exactly", "[durability][snapshot]") {
  TempDir dir;
  AdjustableClock clock(T0);
  std::string before;
  {
    Engine e(EngineOptions{"/", &clock});
    Durability d(e, Options(dir.path, false));
    REQUIRE(d.Load()->source == "none");
    Populate(e, 500);
    before = Dump(e);
    REQUIRE(d.Info().rdb_changes_since_last_save > 500);
    REQUIRE(d.Save().ok());
    REQUIRE(d.Info().rdb_changes_since_last_save == 0);
    REQUIRE(e.Consume("org:a/u:1", 1)->allowed);  // after the save: not in it
  }
  Engine e(EngineOptions{"/", &clock});
  Durability d(e, Options(dir.path, false));
  auto report = d.Load();
  REQUIRE(report.ok());
  REQUIRE(report->source == "snapshot");
  REQUIRE(report->keys == e.Size());
  REQUIRE(Dump(e) == before);
  std::string out;
  REQUIRE(CheckSnapshot(dir.path + "/dump.snap", out) == 0);
  REQUIRE(out.find("is valid") != std::string::npos);
}

TEST_CASE("durability: BGSAVE while the engine changes is the state at its start",
          "[durability][snapshot]") {
  TempDir dir;
  AdjustableClock clock(T0);
  std::string at_start;
  {
    Engine e(EngineOptions{"/", &clock});
    Durability d(e, Options(dir.path, false));
    REQUIRE(d.Load().ok());
    Populate(e, 3000);
    at_start = Dump(e);
    REQUIRE(*d.BgSave() == "Background saving started");
    for (int u = 0; u < 3000; ++u) (void)e.Consume("org:a/u:" + std::to_string(u), 1);
    REQUIRE(Dump(e) != at_start);
    REQUIRE(d.Shutdown(false, true).ok());  // waits for the BGSAVE
    REQUIRE(d.Info().rdb_last_bgsave_status == "ok");
  }
  Engine e(EngineOptions{"/", &clock});
  Durability d(e, Options(dir.path, false));
  REQUIRE(d.Load().ok());
  REQUIRE(Dump(e) == at_start);
}

TEST_CASE("durability: the AOF replays every change, a rewrite loses none",
          "[durability][aof]") {
  TempDir dir;
  AdjustableClock clock(T0);
  std::string final_state;
  {
    Engine e(EngineOptions{"/", &clock});
    Durability d(e, Options(dir.path, true));
    REQUIRE(d.Load().ok());
    Populate(e, 200);
    // Two threads consume while the AOF is rewritten.
    std::atomic<bool> go{true};
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 20'000 && go; ++i) {
          (void)e.Consume("org:a/u:" + std::to_string((i * 7 + t) % 300), 1);
          bool failed;
          (void)d.ReadyToReply(Durability::ThreadLastLsn(), &failed);
        }
      });
    }
    REQUIRE(*d.BgRewriteAof() == "Background append only file rewriting started");
    while (d.Info().aof_rewrite_in_progress) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    go = false;
    for (auto& th : threads) th.join();
    REQUIRE(d.Info().aof_last_bgrewrite_status == "ok");
    // The manifest names base 2 + incr 2 only; the old files are gone.
    REQUIRE(fs::exists(dir.path + "/appendonlydir/appendonly.aof.2.base.snap"));
    REQUIRE_FALSE(fs::exists(dir.path + "/appendonlydir/appendonly.aof.1.base.snap"));
    REQUIRE_FALSE(fs::exists(IncrPath(dir.path, 1)));
    REQUIRE(e.Consume("org:a/u:1", 1)->allowed);  // after the rewrite
    final_state = Dump(e);
  }
  Engine e(EngineOptions{"/", &clock});
  Durability d(e, Options(dir.path, true));
  auto report = d.Load();
  REQUIRE(report.ok());
  REQUIRE(report->source == "aof");
  REQUIRE(Dump(e) == final_state);
  std::string out;
  REQUIRE(CheckAof(dir.path + "/appendonlydir/appendonly.aof.manifest", false, out) == 0);
}

TEST_CASE("durability: MULTI/EXEC changes are one record", "[durability][aof]") {
  TempDir dir;
  AdjustableClock clock(T0);
  Engine e(EngineOptions{"/", &clock});
  Durability d(e, Options(dir.path, true));
  REQUIRE(d.Load().ok());
  REQUIRE(*e.Set("k", Quota(10)));
  uint64_t before = d.Info().aof_records;
  {
    std::string_view keys[] = {"k"};
    AtomicSection section = e.Atomic(keys);
    d.BeginTransaction();
    REQUIRE(e.Consume("k", 1)->allowed);
    REQUIRE(e.Consume("k", 2)->allowed);
    d.CommitTransaction();
  }
  REQUIRE(d.Info().aof_records == before + 1);
}

TEST_CASE("durability: a torn last record is dropped, or refused", "[durability][aof]") {
  TempDir dir;
  AdjustableClock clock(T0);
  std::string without_last;
  {
    Engine e(EngineOptions{"/", &clock});
    Durability d(e, Options(dir.path, true));
    REQUIRE(d.Load().ok());
    Populate(e, 20);
    without_last = Dump(e);
    REQUIRE(e.Consume("org:a/u:0", 1)->allowed);
  }
  std::string incr;
  REQUIRE(ReadWholeFile(IncrPath(dir.path), &incr).ok());
  // The last record is a consume of two levels: find its start by
  // re-reading the file.
  std::string backup = incr;
  size_t last_start = 0;
  {
    // Every record but the last parses when cut at its start.
    for (size_t cut = incr.size() - 1; cut > 0; --cut) {
      TempDir probe;
      fs::create_directories(probe.path + "/appendonlydir");
      fs::copy(dir.path + "/appendonlydir", probe.path + "/appendonlydir",
               fs::copy_options::recursive | fs::copy_options::overwrite_existing);
      REQUIRE(WriteFileAtomically(IncrPath(probe.path), std::string_view(incr).substr(0, cut)).ok());
      Engine e(EngineOptions{"/", &clock});
      Durability d(e, Options(probe.path, true));
      auto report = d.Load();
      REQUIRE(report.ok());
      REQUIRE(Dump(e) == without_last);
      if (!report->truncated_tail) {
        last_start = cut;
        break;
      }
      REQUIRE(report->warning.find("offset") != std::string::npos);
    }
  }
  REQUIRE(last_start > 0);
  // aof-load-truncated no: refused, naming the file.
  REQUIRE(WriteFileAtomically(IncrPath(dir.path), std::string_view(incr).substr(0, incr.size() - 3)).ok());
  {
    Engine e(EngineOptions{"/", &clock});
    DurabilityOptions o = Options(dir.path, true);
    o.aof_load_truncated = false;
    Durability d(e, o);
    auto report = d.Load();
    REQUIRE_FALSE(report.ok());
    REQUIRE(report.error().message.find(IncrPath(dir.path)) != std::string::npos);
  }
  // --check-aof --fix truncates it; then it loads cleanly.
  std::string out;
  REQUIRE(CheckAof(IncrPath(dir.path), false, out) == 1);
  REQUIRE(CheckAof(IncrPath(dir.path), true, out) == 0);
  REQUIRE(out.find("Successfully truncated") != std::string::npos);
  Engine e(EngineOptions{"/", &clock});
  DurabilityOptions o = Options(dir.path, true);
  o.aof_load_truncated = false;
  Durability d(e, o);
  REQUIRE(d.Load().ok());
  REQUIRE(Dump(e) == without_last);
}

TEST_CASE("durability: a flipped byte stops start-up with file and offset", "[durability][aof]") {
  TempDir dir;
  AdjustableClock clock(T0);
  {
    Engine e(EngineOptions{"/", &clock});
    Durability d(e, Options(dir.path, true));
    REQUIRE(d.Load().ok());
    Populate(e, 50);
  }
  std::string incr;
  REQUIRE(ReadWholeFile(IncrPath(dir.path), &incr).ok());
  incr[incr.size() / 2] = static_cast<char>(incr[incr.size() / 2] ^ 0x20);
  REQUIRE(WriteFileAtomically(IncrPath(dir.path), incr).ok());
  Engine e(EngineOptions{"/", &clock});
  Durability d(e, Options(dir.path, true));
  auto report = d.Load();
  REQUIRE_FALSE(report.ok());
  INFO(report.error().message);
  REQUIRE(report.error().message.find(IncrPath(dir.path) + " at offset ") != std::string::npos);
  std::string out;
  REQUIRE(CheckAof(dir.path + "/appendonlydir/appendonly.aof.manifest", false, out) == 1);
  REQUIRE(out.find("at offset") != std::string::npos);
}

TEST_CASE("durability: appendfsync always, one fsync serves many", "[durability][group]") {
  TempDir dir;
  AdjustableClock clock(T0);
  Engine e(EngineOptions{"/", &clock});
  Durability d(e, Options(dir.path, true, FsyncPolicy::kAlways));
  REQUIRE(d.Load().ok());
  REQUIRE(*e.Set("*", Quota(1'000'000'000)));
  constexpr int kThreads = 8, kOps = 200;
  std::atomic<int> acknowledged{0}, failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kOps; ++i) {
        (void)e.Consume("k" + std::to_string(t), 1);
        uint64_t lsn = Durability::ThreadLastLsn();
        bool bad = false;
        if (!d.ReadyToReply(lsn, &bad)) {
          std::promise<bool> done;
          d.WhenDurable(lsn, [&](bool ok) { done.set_value(ok); });
          bad = !done.get_future().get();
        }
        (bad ? failed : acknowledged).fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  REQUIRE(failed == 0);
  REQUIRE(acknowledged == kThreads * kOps);
  PersistenceInfo info = d.Info();
  INFO("fsyncs " << info.aof_fsyncs << " records " << info.aof_records);
  REQUIRE(info.aof_fsyncs > 0);
  REQUIRE(info.aof_fsyncs < info.aof_records / 2);  // grouped
}

TEST_CASE("durability: a full disk refuses writers and recovers", "[durability][error]") {
  TempDir dir;
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // The child: no Catch2 here, an exit code per failed expectation.
    std::signal(SIGXFSZ, SIG_IGN);
    AdjustableClock clock(T0);
    Engine e(EngineOptions{"/", &clock});
    Durability d(e, Options(dir.path, true, FsyncPolicy::kNo));
    if (!d.Load().ok()) std::_Exit(10);
    if (!*e.Set("*", Quota(1'000'000'000))) std::_Exit(11);
    rlimit small{64 * 1024, RLIM_INFINITY};
    ::setrlimit(RLIMIT_FSIZE, &small);
    int acked = 0;
    for (int i = 0; i < 100'000 && !d.WriteError(); ++i) {
      (void)e.Consume("k", 1);
      bool failed;
      if (d.ReadyToReply(Durability::ThreadLastLsn(), &failed)) ++acked;
    }
    auto error = d.WriteError();
    if (!error || error->find("MISCONF Errors writing to the AOF file: File too large") != 0) std::_Exit(12);
    if (d.Info().aof_last_write_status != "err") std::_Exit(13);
    rlimit big{RLIM_INFINITY, RLIM_INFINITY};
    ::setrlimit(RLIMIT_FSIZE, &big);
    d.Cron();
    if (d.WriteError()) std::_Exit(14);
    if (e.Usage("k")->value().consumed < acked) std::_Exit(15);
    std::_Exit(0);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  // Everything the child did is in the AOF (written after the recovery).
  AdjustableClock clock(T0);
  Engine e(EngineOptions{"/", &clock});
  Durability d(e, Options(dir.path, true));
  REQUIRE(d.Load().ok());
  REQUIRE(e.Usage("k")->value().consumed > 1000);
}

TEST_CASE("durability: the manifest", "[durability][manifest]") {
  Manifest m;
  m.base = Manifest::File{"a.1.base.snap", 1, true};
  m.incrs.push_back(Manifest::File{"a.1.incr.aof", 1, false});
  m.incrs.push_back(Manifest::File{"a.2.incr.aof", 2, false});
  std::string error;
  auto parsed = Manifest::Parse(m.Format(), &error);
  REQUIRE(parsed);
  REQUIRE(parsed->Format() == m.Format());
  REQUIRE(parsed->LastSeq() == 2);
  REQUIRE_FALSE(Manifest::Parse("file x seq 1 type q\n", &error));
  REQUIRE_FALSE(Manifest::Parse("file ../x seq 1 type i\n", &error));
  REQUIRE_FALSE(Manifest::Parse("file a seq 1 type i\nfile b seq 1 type b\n", &error));
}
