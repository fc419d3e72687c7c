// Copyright limiterd authors.
// CheckAof (--check-aof [--fix]) and CheckSnapshot on every kind of file:
// what they report, what --fix cuts, and what it refuses to touch.
#include <thread>

#include "aof_files.h"
#include "file_format.h"
#include "persistence_test_util.h"

using namespace pt;  // NOLINT

namespace {

// An AOF with a base (after a rewrite) and an incr file with a few records.
void MakeAof(const TempDir& dir, Engine& e) {
  Durability d(e, Options(dir.path(), true));
  REQUIRE(d.Load().ok());
  Populate(e, 30);
  REQUIRE(d.BgRewriteAof().ok());
  for (int i = 0; i < 20'000 && d.Info().aof_rewrite_in_progress; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  REQUIRE(d.Info().aof_last_bgrewrite_status == "ok");
  for (int u = 0; u < 5; ++u) REQUIRE(e.Consume("org:a/u:" + std::to_string(u), 1)->allowed);
}

}  // namespace

TEST_CASE("check: a valid AOF, by its manifest, incr file or base", "[check]") {
  TempDir dir;
  AdjustableClock clock(kT0);
  Engine e(EngineOptions{"/", &clock});
  MakeAof(dir, e);
  std::string out;
  CHECK(CheckAof(dir.manifest(), false, out) == 0);
  CHECK(Contains(out, "AOF " + dir.manifest() + " is valid (" + std::to_string(e.Size()) +
                          " keys after replay)"));
  CHECK(Contains(out, dir.incr(2) + ": 5 change records"));
  out.clear();
  CHECK(CheckAof(dir.incr(2), false, out) == 0);
  out.clear();
  CHECK(CheckAof(dir.base(1), false, out) == 0);
  CHECK(Contains(out, "snapshot format version " + std::to_string(kFormatVersion)));
  out.clear();
  CHECK(CheckAof(dir.path() + "/nothing.aof", false, out) == 1);
  CHECK(Contains(out, "No such file"));
}

TEST_CASE("check: a torn tail is reported, --fix cuts it", "[check]") {
  TempDir dir;
  AdjustableClock clock(kT0);
  Engine e(EngineOptions{"/", &clock});
  MakeAof(dir, e);
  const std::string incr = ReadFile(dir.incr(2));
  WriteFile(dir.incr(2), std::string_view(incr).substr(0, incr.size() - 3));
  std::string out;
  CHECK(CheckAof(dir.incr(2), false, out) == 1);
  CHECK(Contains(out, "torn tail at offset"));
  CHECK(Contains(out, "Use --fix"));
  CHECK(fs::file_size(dir.incr(2)) == incr.size() - 3);  // without --fix: untouched
  out.clear();
  CHECK(CheckAof(dir.manifest(), true, out) == 0);
  CHECK(Contains(out, "Successfully truncated AOF " + dir.incr(2)));
  CHECK(Contains(out, "the torn record"));
  out.clear();
  CHECK(CheckAof(dir.incr(2), false, out) == 0);
  // Start-up now needs no aof-load-truncated.
  Engine loaded(EngineOptions{"/", &clock});
  DurabilityOptions o = Options(dir.path(), true);
  o.aof_load_truncated = false;
  Durability d(loaded, o);
  auto report = d.Load();
  REQUIRE(report.ok());
  CHECK_FALSE(report->truncated_tail);
  CHECK(loaded.Usage("org:a/u:4")->value().consumed == e.Usage("org:a/u:4")->value().consumed - 1);
}

TEST_CASE("check: damage in the last incr file: --fix cuts there and says what is lost",
          "[check]") {
  TempDir dir;
  AdjustableClock clock(kT0);
  Engine e(EngineOptions{"/", &clock});
  MakeAof(dir, e);
  std::string incr = ReadFile(dir.incr(2));
  const size_t at = incr.size() / 2;
  incr[at] ^= 0x01;
  WriteFile(dir.incr(2), incr);
  std::string out;
  CHECK(CheckAof(dir.manifest(), false, out) == 1);
  CHECK(Contains(out, "corruption at offset"));
  out.clear();
  CHECK(CheckAof(dir.manifest(), true, out) == 0);
  CHECK(Contains(out, "and everything after it"));
  CHECK(fs::file_size(dir.incr(2)) <= at);
  out.clear();
  CHECK(CheckAof(dir.manifest(), false, out) == 0);
}

TEST_CASE("check: damage that --fix must not cut", "[check]") {
  TempDir dir;
  AdjustableClock clock(kT0);
  Engine e(EngineOptions{"/", &clock});
  MakeAof(dir, e);
  std::string out;
  SECTION("a damaged base") {
    std::string base = ReadFile(dir.base(1));
    base[base.size() / 2] ^= 0x01;
    WriteFile(dir.base(1), base);
    CHECK(CheckAof(dir.manifest(), true, out) == 1);
    CHECK(Contains(out, dir.base(1)));
    CHECK(fs::file_size(dir.base(1)) == base.size());
  }
  SECTION("a torn incr file that is not the last") {
    WriteFile(dir.incr(3), ReadFile(dir.incr(2)));  // a valid copy, as a later incr
    const std::string incr = ReadFile(dir.incr(2));
    WriteFile(dir.incr(2), std::string_view(incr).substr(0, incr.size() - 1));
    WriteFile(dir.manifest(), ReadFile(dir.manifest()) + "file appendonly.aof.3.incr.aof seq 3 type i\n");
    CHECK(CheckAof(dir.manifest(), true, out) == 1);
    CHECK(Contains(out, "not the last file"));
    CHECK(fs::file_size(dir.incr(2)) == incr.size() - 1);
  }
  SECTION("a bad manifest") {
    WriteFile(dir.manifest(), "file appendonly.aof.1.base.snap seq 1 type x\n");
    CHECK(CheckAof(dir.manifest(), true, out) == 1);
    CHECK(Contains(out, "line 1"));
  }
}

TEST_CASE("check: snapshots", "[check][snapshot]") {
  TempDir dir;
  AdjustableClock clock(kT0);
  Engine e(EngineOptions{"/", &clock});
  Durability d(e, Options(dir.path(), false));
  REQUIRE(d.Load().ok());
  Populate(e, 40);
  REQUIRE(d.Save().ok());
  std::string out;
  CHECK(CheckSnapshot(dir.snapshot(), out) == 0);
  CHECK(Contains(out, "Snapshot " + dir.snapshot() + " is valid (" + std::to_string(e.Size()) +
                          " keys)"));
  const std::string good = ReadFile(dir.snapshot());
  WriteFile(dir.snapshot(), std::string_view(good).substr(0, good.size() - 1));
  out.clear();
  CHECK(CheckSnapshot(dir.snapshot(), out) == 1);
  CHECK(Contains(out, "incomplete snapshot"));
  out.clear();
  CHECK(CheckSnapshot(dir.path() + "/none.snap", out) == 1);
}
