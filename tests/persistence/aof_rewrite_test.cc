// Copyright limiterd authors.
// BGREWRITEAOF: nothing lost while threads keep consuming, a loadable set
// of files after a crash at every step, one job at a time, automatic
// rewrites on growth, named threads.
#include <pthread.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "persistence_test_util.h"

using namespace pt;  // NOLINT

namespace {

// Polls `done` every millisecond for up to 20 s.
template <class F>
bool WaitFor(F done) {
  for (int i = 0; i < 20'000; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return done();
}

// A job step hook that parks the job at `step` until Release().
class Gate {
 public:
  explicit Gate(std::string step) : step_(std::move(step)) {}
  std::function<void(std::string_view)> Hook() {
    return [this](std::string_view step) {
      if (step != step_) return;
      std::unique_lock lock(mu_);
      reached_ = true;
      cv_.notify_all();
      cv_.wait_for(lock, std::chrono::seconds(20), [&] { return open_; });
    };
  }
  bool WaitReached() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(20), [&] { return reached_; });
  }
  void Release() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::string step_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool reached_ = false, open_ = false;
};

// The calling thread's name, as top -H, perf and gdb show it.
std::string ThisThreadName() {
  char name[16] = {};
  pthread_getname_np(pthread_self(), name, sizeof name);
  return name;
}

// The names of this process's threads.
std::multiset<std::string> ThreadNames() {
  std::multiset<std::string> names;
  for (const auto& task : fs::directory_iterator("/proc/self/task")) {
    std::string comm = ReadFile((task.path() / "comm").string());
    if (!comm.empty() && comm.back() == '\n') comm.pop_back();
    names.insert(comm);
  }
  return names;
}

}  // namespace

TEST_CASE("rewrite: two threads consume throughout, nothing is lost", "[aof][rewrite]") {
  TempDir dir;
  AdjustableClock clock(kT0);
  constexpr int kUsers = 300;
  Engine e(EngineOptions{"/", &clock});
  std::vector<std::vector<std::pair<std::string, int64_t>>> ops(2);
  {
    Durability d(e, Options(dir.path(), true));
    REQUIRE(d.Load().ok());
    Populate(e, kUsers);
    std::atomic<bool> go{true};
    std::atomic<int> write_failures{0};
    std::atomic<int> granted[2] = {0, 0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t) {
      threads.emplace_back([&, t] {
        // Each thread its own users: the reference can replay thread by thread.
        for (int i = 0; i < 200'000 && go; ++i) {
          std::string key = "org:a/u:" + std::to_string(t + 2 * ((i * 7) % (kUsers / 2)));
          const int64_t amount = 1 + i % 2;
          if (!e.Consume(key, amount)->allowed) continue;
          ops[t].emplace_back(std::move(key), amount);
          granted[t].fetch_add(1);
          bool failed = false;
          if (!d.ReadyToReply(Durability::ThreadLastLsn(), &failed)) ++write_failures;
        }
      });
    }
    // Both threads consume before, between and after the rewrites (a slow
    // sanitizer build starts its threads late).
    auto both_past = [&](int n) { return granted[0] > n && granted[1] > n; };
    for (int rewrite = 0; rewrite < 3; ++rewrite) {
      REQUIRE(WaitFor([&] { return both_past(50 * (rewrite + 1)); }));
      REQUIRE(*d.BgRewriteAof() == "Background append only file rewriting started");
      REQUIRE(WaitFor([&] { return !d.Info().aof_rewrite_in_progress; }));
      REQUIRE(d.Info().aof_last_bgrewrite_status == "ok");
    }
    REQUIRE(WaitFor([&] { return both_past(200); }));
    go = false;
    for (auto& th : threads) th.join();
    CHECK(write_failures == 0);
    CHECK(ops[0].size() > 100);
    CHECK(ops[1].size() > 100);
    // Only the last rewrite's files are left.
    CHECK(ReadFile(dir.manifest()) ==
          "file appendonly.aof.3.base.snap seq 3 type b\n"
          "file appendonly.aof.4.incr.aof seq 4 type i\n");
    CHECK(fs::exists(dir.base(3)));
    CHECK_FALSE(fs::exists(dir.base(2)));
    CHECK_FALSE(fs::exists(dir.incr(3)));
    CHECK(std::distance(fs::directory_iterator(dir.aof_dir()), fs::directory_iterator()) == 3);
  }
  Engine reference(EngineOptions{"/", &clock});
  Populate(reference, kUsers);
  for (const auto& thread_ops : ops) {
    for (const auto& [key, amount] : thread_ops) REQUIRE(reference.Consume(key, amount)->allowed);
  }
  REQUIRE(Dump(e) == Dump(reference));
  Engine loaded(EngineOptions{"/", &clock});
  Durability d(loaded, Options(dir.path(), true));
  auto report = d.Load();
  REQUIRE(report.ok());
  CHECK(report->source == "aof");
  CHECK(Dump(loaded) == Dump(reference));
}

TEST_CASE("rewrite: a crash after any step leaves a set that loads", "[aof][rewrite]") {
  TempDir dir;
  AdjustableClock clock(kT0);
  Engine e(EngineOptions{"/", &clock});
  // At each step: more changes (the traffic a rewrite runs beside), written
  // out, then the files copied as a crash there would leave them.
  std::map<std::string, std::unique_ptr<TempDir>> copies;
  std::map<std::string, std::string> expected;
  std::vector<std::string> hook_errors;  // Catch2 asserts on the test's thread only
  Durability* durability = nullptr;
  int n = 0;
  DurabilityOptions o = Options(dir.path(), true);
  o.job_step_hook = [&](std::string_view step) {
    if (!e.Consume("org:a/u:" + std::to_string(n++), 1)->allowed) {
      hook_errors.push_back("consume denied at " + std::string(step));
    }
    bool failed = false;
    if (!durability->ReadyToReply(Durability::ThreadLastLsn(), &failed)) {
      hook_errors.push_back("write failed at " + std::string(step));
    }
    auto copy = std::make_unique<TempDir>();
    CopyDir(dir.path(), copy->path());
    expected[std::string(step)] = Dump(e);
    copies[std::string(step)] = std::move(copy);
  };
  std::string before_manifest;
  {
    Durability d(e, o);
    durability = &d;
    REQUIRE(d.Load().ok());
    Populate(e, 100);
    before_manifest = ReadFile(dir.manifest());
    REQUIRE(*d.BgRewriteAof() == "Background append only file rewriting started");
    REQUIRE(WaitFor([&] { return !d.Info().aof_rewrite_in_progress; }));
    REQUIRE(d.Info().aof_last_bgrewrite_status == "ok");
  }
  CHECK(hook_errors.empty());
  const std::vector<std::string> steps = {"rewrite: new-incr", "rewrite: cut", "rewrite: base",
                                          "rewrite: manifest", "rewrite: cleanup"};
  REQUIRE(copies.size() == steps.size());
  // Crashes between steps: the new incr created but not listed yet, and a
  // base's temporary file half written.
  {
    auto unlisted = std::make_unique<TempDir>();
    CopyDir(copies["rewrite: new-incr"]->path(), unlisted->path());
    WriteFile(unlisted->manifest(), before_manifest);
    expected["unlisted incr"] = expected["rewrite: new-incr"];
    copies["unlisted incr"] = std::move(unlisted);
    WriteFile(copies["rewrite: cut"]->base(1) + ".tmp.1234", "half a snapshot");
  }
  for (const auto& [step, copy] : copies) {
    INFO(step);
    Engine loaded(EngineOptions{"/", &clock});
    Durability d(loaded, Options(copy->path(), true));
    auto report = d.Load();
    REQUIRE(report.ok());
    CHECK_FALSE(report->truncated_tail);
    CHECK(Dump(loaded) == expected[step]);
  }
  CHECK(Contains(ReadFile(copies["rewrite: cut"]->manifest()), "appendonly.aof.2.incr.aof"));
  CHECK(ReadFile(copies["rewrite: manifest"]->manifest()) ==
        "file appendonly.aof.1.base.snap seq 1 type b\n"
        "file appendonly.aof.2.incr.aof seq 2 type i\n");
}

TEST_CASE("rewrite: one job at a time, BGREWRITEAOF during BGSAVE is scheduled",
          "[aof][rewrite]") {
  TempDir dir;
  AdjustableClock clock(kT0);
  Engine e(EngineOptions{"/", &clock});
  DurabilityOptions o = Options(dir.path(), true);
  Gate bgsave("bgsave: cut");
  Gate rewrite("rewrite: cut");
  o.job_step_hook = [b = bgsave.Hook(), r = rewrite.Hook()](std::string_view step) {
    b(step);
    r(step);
  };
  Durability d(e, o);
  REQUIRE(d.Load().ok());
  Populate(e, 50);

  REQUIRE(*d.BgSave() == "Background saving started");
  REQUIRE(bgsave.WaitReached());
  CHECK(*d.BgRewriteAof() == "Background append only file rewriting scheduled");
  CHECK(d.Info().aof_rewrite_scheduled);
  CHECK(d.BgSave().error().message == "Background save already in progress");
  CHECK(d.Save().error().message == "Background save already in progress");
  d.Cron();  // the BGSAVE still runs: nothing starts
  CHECK_FALSE(d.Info().aof_rewrite_in_progress);
  bgsave.Release();
  REQUIRE(WaitFor([&] { return !d.Info().rdb_bgsave_in_progress; }));
  CHECK(d.Info().rdb_last_bgsave_status == "ok");

  d.Cron();  // starts the scheduled rewrite
  CHECK_FALSE(d.Info().aof_rewrite_scheduled);
  REQUIRE(rewrite.WaitReached());
  CHECK(d.Info().aof_rewrite_in_progress);
  CHECK(d.BgRewriteAof().error().message ==
        "Background append only file rewriting already in progress");
  CHECK(d.BgSave().error().message ==
        "Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in "
        "order to schedule a BGSAVE whenever possible.");
  rewrite.Release();
  REQUIRE(WaitFor([&] { return !d.Info().aof_rewrite_in_progress; }));
  CHECK(d.Info().aof_last_bgrewrite_status == "ok");
  CHECK(d.Info().aof_last_rewrite_time_sec >= 0);
  // SAVE after it: fine.
  CHECK(d.Save().ok());
}

TEST_CASE("rewrite: the log's threads and the jobs' threads have names", "[aof][rewrite]") {
  TempDir dir;
  AdjustableClock clock(kT0);
  Engine e(EngineOptions{"/", &clock});
  DurabilityOptions o = Options(dir.path(), true);
  std::mutex mu;
  std::map<std::string, std::string> ran_on;  // a job's step -> its thread's name
  o.job_step_hook = [&](std::string_view step) {
    std::lock_guard lock(mu);
    ran_on[std::string(step)] = ThisThreadName();
  };
  Durability d(e, o);
  REQUIRE(d.Load().ok());
  std::multiset<std::string> names = ThreadNames();
  CHECK(names.count("aof-sync") == 1);
  CHECK(names.count("aof-zero-fill") == 1);
  Populate(e, 10);
  REQUIRE(*d.BgSave() == "Background saving started");
  REQUIRE(WaitFor([&] { return !d.Info().rdb_bgsave_in_progress; }));
  REQUIRE(*d.BgRewriteAof() == "Background append only file rewriting started");
  REQUIRE(WaitFor([&] { return !d.Info().aof_rewrite_in_progress; }));
  std::lock_guard lock(mu);
  CHECK(ran_on["bgsave: cut"] == "bgsave");
  CHECK(ran_on["rewrite: cut"] == "aof-rewrite");
  CHECK(ran_on["rewrite: cleanup"] == "aof-rewrite");
}

TEST_CASE("rewrite: automatic on growth, and not again until it grows again", "[aof][rewrite]") {
  TempDir dir;
  AdjustableClock clock(kT0);
  Engine e(EngineOptions{"/", &clock});
  DurabilityOptions o = Options(dir.path(), true);
  o.auto_aof_rewrite_percentage = 100;
  o.auto_aof_rewrite_min_size = 4096;
  Durability d(e, o);
  REQUIRE(d.Load().ok());
  d.Cron();
  CHECK_FALSE(d.Info().aof_rewrite_in_progress);  // below the minimum size
  CHECK(d.Info().aof_rewrites == 0);
  Populate(e, 500);
  bool failed = false;
  REQUIRE(d.ReadyToReply(Durability::ThreadLastLsn(), &failed));
  REQUIRE(d.Info().aof_current_size > 4096);
  d.Cron();
  REQUIRE(WaitFor([&] { return !d.Info().aof_rewrite_in_progress; }));
  CHECK(d.Info().aof_last_bgrewrite_status == "ok");
  CHECK(d.Info().aof_rewrites == 1);
  REQUIRE(fs::exists(dir.base(1)));
  const PersistenceInfo after = d.Info();
  CHECK(after.aof_base_size == after.aof_current_size);
  d.Cron();
  CHECK_FALSE(d.Info().aof_rewrite_in_progress);
  // Twice the size after the rewrite: rewritten again.
  for (int i = 0; i < 20'000 && d.Info().aof_current_size < 2 * after.aof_base_size + 100; ++i) {
    REQUIRE(e.Consume("org:a/u:" + std::to_string(i % 500), 1).ok());
    REQUIRE(d.ReadyToReply(Durability::ThreadLastLsn(), &failed));
  }
  d.Cron();
  REQUIRE(WaitFor([&] { return !d.Info().aof_rewrite_in_progress; }));
  CHECK(fs::exists(dir.base(2)));
  CHECK_FALSE(fs::exists(dir.base(1)));
  CHECK(d.Info().aof_rewrites == 2);
  CHECK(d.Info().aof_rewrites_consecutive_failures == 0);
}

TEST_CASE("rewrite: SHUTDOWN during a rewrite leaves a loadable AOF", "[aof][rewrite]") {
  TempDir dir;
  AdjustableClock clock(kT0);
  Engine e(EngineOptions{"/", &clock});
  DurabilityOptions o = Options(dir.path(), true);
  Gate gate("rewrite: cut");
  o.job_step_hook = gate.Hook();
  std::string final_state;
  {
    Durability d(e, o);
    REQUIRE(d.Load().ok());
    Populate(e, 200);
    REQUIRE(d.BgRewriteAof().ok());
    REQUIRE(gate.WaitReached());
    REQUIRE(e.Consume("org:a/u:7", 1)->allowed);  // after the cut
    final_state = Dump(e);
    std::thread release([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      gate.Release();
    });
    REQUIRE(d.Shutdown(false, true).ok());
    release.join();
    CHECK_FALSE(d.Info().aof_rewrite_in_progress);
  }
  Engine loaded(EngineOptions{"/", &clock});
  Durability d(loaded, Options(dir.path(), true));
  REQUIRE(d.Load().ok());
  CHECK(Dump(loaded) == final_state);
}
