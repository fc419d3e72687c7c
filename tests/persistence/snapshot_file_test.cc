// Copyright limiterd authors.
// Snapshot files: round trips through SAVE / BGSAVE and Load, the format's
// own checks (header, end record, groups over 1 MiB, separator), and
// CheckSnapshot.
#include <thread>

#include "file_format.h"
#include "persistence_test_util.h"
#include "snapshot_file.h"

using namespace pt;  // NOLINT

namespace {

// The whole engine as a snapshot file at `path`, written directly.
SnapshotSummary WriteEngine(Engine& e, const std::string& path) {
  auto reader = e.StartSnapshot();
  REQUIRE(reader.ok());
  auto summary = WriteSnapshotFile(path, **reader, e.separator(), kT0);
  REQUIRE(summary.ok());
  return *summary;
}

}  // namespace

TEST_CASE("snapshot: SAVE then Load restores every key exactly", "[snapshot]") {
  TempDir dir;
  AdjustableClock clock(kT0);
  Engine original(EngineOptions{"/", &clock});
  {
    Durability d(original, Options(dir.path(), false));
    REQUIRE(d.Load()->source == "none");
    Populate(original, 500);
    CHECK(d.Info().rdb_changes_since_last_save > 500);
    REQUIRE(d.Save().ok());
    CHECK(d.Info().rdb_changes_since_last_save == 0);
    CHECK(d.LastSaveUnix() == kT0 / 1000);
  }
  const std::string saved = Dump(original);
  Engine e(EngineOptions{"/", &clock});
  Durability d(e, Options(dir.path(), false));
  auto report = d.Load();
  REQUIRE(report.ok());
  CHECK(report->source == "snapshot");
  CHECK(report->keys == e.Size());
  CHECK(Dump(e) == saved);
  // Periods roll over the same way in both (the state is absolute times).
  clock.Advance(40LL * 24 * 3600 * 1000);
  CHECK(Dump(e) == Dump(original));
  CHECK(Dump(e) != saved);
  REQUIRE(e.Consume("org:a/u:1", 1)->allowed);  // after the save: counted, not saved
  CHECK(d.Info().rdb_changes_since_last_save == 1);
  std::string out;
  REQUIRE(CheckSnapshot(dir.snapshot(), out) == 0);
  CHECK(Contains(out, "is valid (" + std::to_string(e.Size()) + " keys)"));
}

TEST_CASE("snapshot: BGSAVE is the state at its cut while the engine changes", "[snapshot]") {
  TempDir dir;
  AdjustableClock clock(kT0);
  std::string at_cut;
  {
    Engine e(EngineOptions{"/", &clock});
    DurabilityOptions o = Options(dir.path(), false);
    // Hold the job at its cut until the engine has changed under it.
    std::atomic<bool> changed{false};
    o.job_step_hook = [&](std::string_view step) {
      if (step != "bgsave: cut") return;
      for (int i = 0; i < 10'000 && !changed; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    };
    Durability d(e, o);
    REQUIRE(d.Load().ok());
    Populate(e, 3000);
    at_cut = Dump(e);
    REQUIRE(*d.BgSave() == "Background saving started");
    CHECK(d.Info().rdb_bgsave_in_progress);
    CHECK(d.BgSave().error().message == "Background save already in progress");
    for (int u = 0; u < 3000; ++u) (void)e.Consume("org:a/u:" + std::to_string(u), 1);
    REQUIRE(*e.Set("new:key", Quota(3)));
    changed = true;
    REQUIRE(Dump(e) != at_cut);
    // Shutdown without a snapshot of its own lets the BGSAVE finish.
    REQUIRE(d.Shutdown(false, true).ok());
    CHECK(d.Info().rdb_last_bgsave_status == "ok");
    CHECK_FALSE(d.Info().rdb_bgsave_in_progress);
    CHECK(d.Info().rdb_changes_since_last_save == 3001);  // only what followed the cut
  }
  Engine e(EngineOptions{"/", &clock});
  Durability d(e, Options(dir.path(), false));
  REQUIRE(d.Load().ok());
  CHECK(Dump(e) == at_cut);
}

TEST_CASE("snapshot: a shard over 1 MiB is split into a group and joined back", "[snapshot]") {
  TempDir dir;
  AdjustableClock clock(kT0);
  // One shard: the whole engine is one chunk of several MiB.
  Engine e(EngineOptions{"/", &clock, 1});
  REQUIRE(*e.Set("p/*", Quota(1'000'000)));
  const std::string pad(200, 'x');
  for (int i = 0; i < 20'000; ++i) REQUIRE(e.Consume("p/" + pad + std::to_string(i), 1)->allowed);
  const std::string path = dir.path() + "/big.snap";
  SnapshotSummary written = WriteEngine(e, path);
  CHECK(written.bytes > 3 * kSplitPayload);
  CHECK(written.records > 4);  // header, parts, the final chunk, end

  Engine loaded(EngineOptions{"/", &clock, 1});
  auto summary = LoadSnapshotFile(path, loaded);
  REQUIRE(summary.ok());
  CHECK(summary->entries == e.Size());
  CHECK(summary->records == written.records);
  CHECK(Dump(loaded) == Dump(e));
  // Any shard count: the records do not depend on it.
  Engine other(EngineOptions{"/", &clock, 64});
  REQUIRE(LoadSnapshotFile(path, other).ok());
  CHECK(Dump(other) == Dump(e));
}

TEST_CASE("snapshot: an incomplete or damaged file is refused with its offset", "[snapshot]") {
  TempDir dir;
  AdjustableClock clock(kT0);
  Engine e(EngineOptions{"/", &clock});
  Populate(e, 200);
  const std::string path = dir.path() + "/s.snap";
  WriteEngine(e, path);
  const std::string good = ReadFile(path);
  auto load = [&](std::string_view bytes) {
    WriteFile(path, bytes);
    Engine fresh(EngineOptions{"/", &clock});
    return LoadSnapshotFile(path, fresh);
  };

  SECTION("every truncation is incomplete, never loaded") {
    for (size_t cut = 0; cut < good.size(); cut += 1 + cut / 7) {
      INFO("cut " << cut);
      auto r = load(std::string_view(good).substr(0, cut));
      REQUIRE_FALSE(r.ok());
      CHECK(Contains(r.error().message, path));
    }
  }
  SECTION("the end record missing") {
    RecordReader reader(good);
    Record record;
    uint64_t end_offset = 0;
    while (reader.Next(&record)) end_offset = record.offset;
    auto r = load(std::string_view(good).substr(0, end_offset));
    REQUIRE_FALSE(r.ok());
    CHECK(Contains(r.error().message, "no end record"));
  }
  SECTION("a flipped byte names the damaged record's offset") {
    std::string bad = good;
    bad[bad.size() / 2] ^= 0x01;
    auto r = load(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(Contains(r.error().message, "offset"));
    std::string out;
    CHECK(CheckSnapshot(path, out) == 1);
    CHECK(Contains(out, "is not valid"));
  }
  SECTION("a record after the end") {
    std::string bad = good;
    (void)AppendRecord(bad, kSnapshotChunk, "");
    auto r = load(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(Contains(r.error().message, "after the end record"));
  }
  SECTION("a newer format version, or one older than the oldest read") {
    for (uint32_t version : {kFormatVersion + 1, kOldestFormatVersion - 1}) {
      std::string bad;
      FileHeader header{std::string(kSnapshotMagic), version, kT0, "/"};
      (void)AppendRecord(bad, kFileHeader, EncodeFileHeader(header));
      auto r = load(bad);
      REQUIRE_FALSE(r.ok());
      CHECK(Contains(r.error().message, "version " + std::to_string(version) +
                                            " is not supported (this build reads versions 1 to 2)"));
    }
  }
  SECTION("an AOF incr file is not a snapshot") {
    auto r = load(FramedFileHeader(kAofMagic, kT0, "/"));
    REQUIRE_FALSE(r.ok());
    CHECK(Contains(r.error().message, "not a limiterd snapshot"));
  }
}

TEST_CASE("snapshot: a file of another hierarchy separator is refused", "[snapshot]") {
  TempDir dir;
  AdjustableClock clock(kT0);
  Engine colon(EngineOptions{":", &clock});
  REQUIRE(*colon.Set("a", Quota(10)));
  REQUIRE(*colon.Set("a:*", Quota(5)));
  REQUIRE(colon.Consume("a:b", 1)->allowed);  // materializes a:b
  const std::string path = dir.path() + "/s.snap";
  WriteEngine(colon, path);
  Engine slash(EngineOptions{"/", &clock});
  auto r = LoadSnapshotFile(path, slash);
  REQUIRE_FALSE(r.ok());
  CHECK(Contains(r.error().message, "hierarchy-separator ':'"));
  CHECK(slash.Size() == 0);  // nothing applied
  // The checker reads it with its own separator.
  std::string out;
  CHECK(CheckSnapshot(path, out) == 0);
  CHECK(Contains(out, "(" + std::to_string(colon.Size()) + " keys)"));
  CHECK(colon.Size() == 3);
}

TEST_CASE("snapshot: a failed BGSAVE refuses writers (MISCONF) until a save succeeds",
          "[snapshot][error]") {
  TempDir dir;
  AdjustableClock clock(kT0);
  Engine e(EngineOptions{"/", &clock});
  DurabilityOptions o = Options(dir.path(), false);
  o.dir = dir.path() + "/missing";  // BGSAVE cannot create its file
  o.save_rules = {SaveRule{3600, 1}};  // MISCONF needs save rules (Redis)
  std::vector<std::string> warnings;
  std::mutex warnings_mu;
  o.log_warning = [&](const std::string& m) {
    std::lock_guard lock(warnings_mu);
    warnings.push_back(m);
  };
  Durability d(e, o);
  REQUIRE(d.Load().ok());
  REQUIRE(*e.Set("k", Quota(10)));
  REQUIRE(*d.BgSave() == "Background saving started");
  for (int i = 0; i < 5000 && d.Info().rdb_bgsave_in_progress; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  CHECK(d.Info().rdb_last_bgsave_status == "err");
  auto error = d.WriteError();
  REQUIRE(error);
  CHECK(error->rfind("MISCONF Redis is configured to save RDB snapshots, but it's currently "
                     "unable to persist to disk.",
                     0) == 0);
  {
    std::lock_guard lock(warnings_mu);
    REQUIRE(warnings.size() == 1);
    CHECK(Contains(warnings[0], "missing/dump.snap"));
  }
  auto failed_save = d.Save();
  REQUIRE_FALSE(failed_save.ok());
  CHECK(d.WriteError());
  fs::create_directories(o.dir);
  REQUIRE(d.Save().ok());
  CHECK_FALSE(d.WriteError());
  CHECK(d.Info().rdb_last_bgsave_status == "ok");
}

TEST_CASE("snapshot: stop-writes-on-bgsave-error no keeps writers going", "[snapshot][error]") {
  TempDir dir;
  Engine e;
  DurabilityOptions o = Options(dir.path() + "/missing", false);
  o.stop_writes_on_bgsave_error = false;
  Durability d(e, o);
  REQUIRE(d.Load().ok());
  REQUIRE_FALSE(d.Save().ok());
  CHECK(d.Info().rdb_last_bgsave_status == "err");
  CHECK_FALSE(d.WriteError());
}

// Redis refuses writers for a failed snapshot only while save rules are
// set (writeCommandsDeniedByDiskError: saveparamslen > 0); Reconfigure
// (CONFIG SET) re-decides at once.
TEST_CASE("snapshot: MISCONF needs save rules, and follows them when they change",
          "[snapshot][error]") {
  TempDir dir;
  Engine e;
  DurabilityOptions o = Options(dir.path() + "/missing", false);
  REQUIRE(o.save_rules.empty());
  Durability d(e, o);
  REQUIRE(d.Load().ok());
  REQUIRE_FALSE(d.Save().ok());
  CHECK(d.Info().rdb_last_bgsave_status == "err");
  CHECK_FALSE(d.WriteError());  // no save rules: writers go on
  o.save_rules = {SaveRule{3600, 1}};
  d.Reconfigure(o);
  CHECK(d.WriteError());
  o.stop_writes_on_bgsave_error = false;
  d.Reconfigure(o);
  CHECK_FALSE(d.WriteError());
  o.stop_writes_on_bgsave_error = true;
  d.Reconfigure(o);
  CHECK(d.WriteError());
  o.save_rules.clear();
  d.Reconfigure(o);
  CHECK_FALSE(d.WriteError());
}
