// Copyright limiterd authors.
// The cron's save rules (save <seconds> <changes>), the retry delay after a
// failed BGSAVE, and abandoning a snapshot being written.
#include <thread>

#include "persistence_test_util.h"
#include "snapshot_file.h"

using namespace pt;  // NOLINT

namespace {

bool WaitIdle(Durability& d) {
  for (int i = 0; i < 20'000; ++i) {
    if (!d.Info().rdb_bgsave_in_progress) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return false;
}

}  // namespace

TEST_CASE("save rules: a BGSAVE once enough changes are old enough", "[snapshot][cron]") {
  TempDir dir;
  std::atomic<int64_t> now{kT0};
  Engine e;
  DurabilityOptions o = Options(dir.path(), false);
  o.wall_ms = [&] { return now.load(); };
  o.save_rules = {SaveRule{10, 3}, SaveRule{100, 1}};
  Durability d(e, o);
  REQUIRE(d.Load().ok());
  REQUIRE(*e.Set("a", Quota(10)));
  REQUIRE(*e.Set("b", Quota(10)));
  now += 20'000;
  d.Cron();  // 2 changes in 20 s: neither rule
  CHECK_FALSE(d.Info().rdb_bgsave_in_progress);
  CHECK_FALSE(fs::exists(dir.snapshot()));
  REQUIRE(*e.Set("c", Quota(10)));
  d.Cron();  // 3 changes, 20 s: the first rule
  REQUIRE(WaitIdle(d));
  CHECK(fs::exists(dir.snapshot()));
  CHECK(d.Info().rdb_changes_since_last_save == 0);
  CHECK(d.LastSaveUnix() == now / 1000);
  CHECK(d.Info().rdb_last_bgsave_status == "ok");

  for (int i = 0; i < 3; ++i) REQUIRE(e.Consume("a", 1)->allowed);
  now += 5'000;
  d.Cron();  // 5 s since the save
  CHECK_FALSE(d.Info().rdb_bgsave_in_progress);
  CHECK(d.Info().rdb_changes_since_last_save == 3);
  now += 6'000;
  d.Cron();
  REQUIRE(WaitIdle(d));
  CHECK(d.Info().rdb_changes_since_last_save == 0);
}

TEST_CASE("save rules: after a failed BGSAVE, the next try waits 5 s", "[snapshot][cron]") {
  TempDir dir;
  std::atomic<int64_t> now{kT0};
  Engine e;
  DurabilityOptions o = Options(dir.path() + "/missing", false);
  o.wall_ms = [&] { return now.load(); };
  o.save_rules = {SaveRule{1, 1}};
  Durability d(e, o);
  REQUIRE(d.Load().ok());
  REQUIRE(*e.Set("a", Quota(10)));
  now += 2'000;
  d.Cron();
  REQUIRE(WaitIdle(d));
  CHECK(d.Info().rdb_last_bgsave_status == "err");
  CHECK(d.WriteError());
  fs::create_directories(o.dir);
  d.Cron();  // too soon after the failure
  CHECK_FALSE(d.Info().rdb_bgsave_in_progress);
  CHECK_FALSE(fs::exists(dir.path() + "/missing/dump.snap"));
  now += 5'000;
  d.Cron();
  REQUIRE(WaitIdle(d));
  CHECK(d.Info().rdb_last_bgsave_status == "ok");
  CHECK_FALSE(d.WriteError());
  CHECK(fs::exists(dir.path() + "/missing/dump.snap"));
}

TEST_CASE("snapshot file: a cancelled write leaves the old file and no temp file",
          "[snapshot]") {
  TempDir dir;
  Engine e;
  REQUIRE(*e.Set("a", Quota(10)));
  const std::string path = dir.path() + "/s.snap";
  WriteFile(path, "old");
  std::atomic<bool> cancel{true};
  auto reader = e.StartSnapshot();
  REQUIRE(reader.ok());
  auto r = WriteSnapshotFile(path, **reader, "/", kT0, &cancel);
  REQUIRE_FALSE(r.ok());
  CHECK(ReadFile(path) == "old");
  CHECK(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()) == 1);
}

TEST_CASE("shutdown: flushes the AOF, snapshots per the rules and SAVE / NOSAVE",
          "[snapshot][shutdown]") {
  TempDir dir;
  AdjustableClock clock(kT0);
  Engine e(EngineOptions{"/", &clock});
  DurabilityOptions o = Options(dir.path(), true, FsyncPolicy::kNo);
  o.save_rules = {SaveRule{3600, 1}};
  Durability d(e, o);
  REQUIRE(d.Load().ok());
  REQUIRE(*e.Set("a", Quota(10)));
  REQUIRE(d.Shutdown(false, true).ok());  // NOSAVE
  CHECK_FALSE(fs::exists(dir.snapshot()));
  CHECK(fs::file_size(dir.incr(1)) > 40);  // the AOF is written (appendfsync no)
  REQUIRE(d.Shutdown(false, false).ok());  // the rules ask for one
  CHECK(fs::exists(dir.snapshot()));
  // Called twice (SHUTDOWN, then the daemon's exit): harmless.
  REQUIRE(d.Shutdown(false, true).ok());
}
